//! One table of per-chip constants. Every other module asks here; no chip fact lives elsewhere.
//!
//! Sources: esptool 5.6.0 `esptool/targets/*.py` (`CHIP_NAME`, `IMAGE_CHIP_ID`,
//! `FLASH_FREQUENCY`, `BOOTLOADER_FLASH_OFFSET`, `IROM_MAP_*`, `DROM_MAP_*`) and ESP-IDF
//! `esp_app_format.h` (`esp_chip_id_t`).

/// Static description of one chip family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chip {
    /// esptool's `--chip` name, e.g. `esp32s3`.
    pub name: &'static str,
    /// Human name as esptool prints it, e.g. `ESP32-S3`.
    pub pretty: &'static str,
    /// `esp_chip_id_t` in the image header (bytes 12-13).
    pub image_chip_id: u16,
    /// Where the second-stage bootloader sits in flash.
    pub bootloader_offset: u32,
    /// Image header flash-frequency codes, in esptool's dictionary order. Order matters:
    /// esptool prints the *first* name whose code matches (ESP32-C6 maps both 80m and 40m to 0).
    pub flash_freqs: &'static [(&'static str, u8)],
    /// Values of CHIP_DETECT_MAGIC_REG_ADDR (0x40001000) that identify the chip (esptool's
    /// `CHIP_DETECT_MAGIC_VALUE`); newer chips are told by GET_SECURITY_INFO's chip id instead.
    pub magic: &'static [u32],
    /// Address ranges mapped from flash by the cache (IROM, DROM; end exclusive). An app has
    /// segments here; a second-stage bootloader, which runs before the cache maps flash, has none.
    pub flash_map: [(u32, u32); 2],
    /// Whether otaflash drives this chip end to end (register map, stub, flash set-up).
    pub supported: bool,
}

/// CHIP_DETECT_MAGIC_REG_ADDR, read when GET_SECURITY_INFO is not available.
pub const CHIP_DETECT_MAGIC_REG: u32 = 0x4000_1000;
/// The ESP8266's magic value: a chip otaflash names but does not handle.
pub const ESP8266_MAGIC: u32 = 0xFFF0_C101;

const FREQ_ESP32: &[(&str, u8)] = &[("80m", 0xF), ("40m", 0x0), ("26m", 0x1), ("20m", 0x2)];
const FREQ_C2: &[(&str, u8)] = &[("60m", 0xF), ("30m", 0x0), ("20m", 0x1), ("15m", 0x2)];
const FREQ_C6: &[(&str, u8)] = &[("80m", 0x0), ("40m", 0x0), ("20m", 0x2)];
const FREQ_C5: &[(&str, u8)] = &[("80m", 0xF), ("40m", 0x0), ("20m", 0x2)];
const FREQ_H2: &[(&str, u8)] = &[("48m", 0xF), ("24m", 0x0), ("16m", 0x1), ("12m", 0x2)];
const FREQ_H4: &[(&str, u8)] = &[("48m", 0xF), ("24m", 0x0)];

const MAP_ESP32: [(u32, u32); 2] = [(0x400D_0000, 0x4040_0000), (0x3F40_0000, 0x3F80_0000)];
const MAP_S2: [(u32, u32); 2] = [(0x4008_0000, 0x40B8_0000), (0x3F00_0000, 0x3F3F_0000)];
const MAP_S3: [(u32, u32); 2] = [(0x4200_0000, 0x4400_0000), (0x3C00_0000, 0x3E00_0000)];
const MAP_C2: [(u32, u32); 2] = [(0x4200_0000, 0x4240_0000), (0x3C00_0000, 0x3C40_0000)];
const MAP_C3: [(u32, u32); 2] = [(0x4200_0000, 0x4280_0000), (0x3C00_0000, 0x3C80_0000)];
const MAP_C6: [(u32, u32); 2] = [(0x4200_0000, 0x4280_0000), (0x4280_0000, 0x4300_0000)];
const MAP_C5: [(u32, u32); 2] = [(0x4200_0000, 0x4400_0000), (0x4200_0000, 0x4400_0000)];
const MAP_H21: [(u32, u32); 2] = [(0x4200_0000, 0x4300_0000), (0x4200_0000, 0x4300_0000)];
const MAP_P4: [(u32, u32); 2] = [(0x4000_0000, 0x4C00_0000), (0x4000_0000, 0x4C00_0000)];
const MAP_S31: [(u32, u32); 2] = [(0x4000_0000, 0x5400_0000), (0x4000_0000, 0x5400_0000)];

const fn chip(
    name: &'static str,
    pretty: &'static str,
    image_chip_id: u16,
    bootloader_offset: u32,
    flash_freqs: &'static [(&'static str, u8)],
    magic: &'static [u32],
    flash_map: [(u32, u32); 2],
) -> Chip {
    Chip {
        name,
        pretty,
        image_chip_id,
        bootloader_offset,
        flash_freqs,
        magic,
        flash_map,
        supported: false,
    }
}

/// Every chip whose images otaflash can name.
pub const CHIPS: &[Chip] = &[
    Chip {
        supported: true,
        ..chip(
            "esp32",
            "ESP32",
            0x0000,
            0x1000,
            FREQ_ESP32,
            &[0x00F0_1D83],
            MAP_ESP32,
        )
    },
    chip(
        "esp32s2",
        "ESP32-S2",
        0x0002,
        0x1000,
        FREQ_ESP32,
        &[0x0000_07C6],
        MAP_S2,
    ),
    chip(
        "esp32c3",
        "ESP32-C3",
        0x0005,
        0x0,
        FREQ_ESP32,
        &[0x6921_506F, 0x1B31_506F, 0x4881_606F, 0x4361_606F],
        MAP_C3,
    ),
    chip(
        "esp32s3",
        "ESP32-S3",
        0x0009,
        0x0,
        FREQ_ESP32,
        &[0x0000_0009],
        MAP_S3,
    ),
    chip(
        "esp32c2",
        "ESP32-C2",
        0x000C,
        0x0,
        FREQ_C2,
        &[0x6F51_306F, 0x7C41_A06F, 0x0C21_E06F],
        MAP_C2,
    ),
    chip(
        "esp32c6",
        "ESP32-C6",
        0x000D,
        0x0,
        FREQ_C6,
        &[0x2CE0_806F],
        MAP_C6,
    ),
    chip(
        "esp32h2",
        "ESP32-H2",
        0x0010,
        0x0,
        FREQ_H2,
        &[0xD7B7_3E80],
        MAP_C6,
    ),
    chip(
        "esp32p4",
        "ESP32-P4",
        0x0012,
        0x2000,
        FREQ_ESP32,
        &[0x0ADD_BAD0],
        MAP_P4,
    ),
    chip(
        "esp32c61",
        "ESP32-C61",
        0x0014,
        0x0,
        FREQ_C5,
        &[0x33F0_206F, 0x2421_606F],
        MAP_C6,
    ),
    chip(
        "esp32c5",
        "ESP32-C5",
        0x0017,
        0x2000,
        FREQ_C5,
        &[0x1101_406F],
        MAP_C5,
    ),
    chip("esp32h21", "ESP32-H21", 0x0019, 0x0, FREQ_H4, &[], MAP_H21),
    chip("esp32h4", "ESP32-H4", 0x001C, 0x2000, FREQ_H4, &[], MAP_C5),
    chip(
        "esp32s31",
        "ESP32-S31",
        0x0020,
        0x2000,
        FREQ_C5,
        &[],
        MAP_S31,
    ),
];

/// The original ESP32, the chip otaflash supports end to end.
pub const ESP32: &Chip = &CHIPS[0];

/// Flash size codes in the image header's high nibble (same on every ESP32-class chip).
pub const FLASH_SIZES: &[(&str, u8)] = &[
    ("1MB", 0x0),
    ("2MB", 0x1),
    ("4MB", 0x2),
    ("8MB", 0x3),
    ("16MB", 0x4),
    ("32MB", 0x5),
    ("64MB", 0x6),
    ("128MB", 0x7),
];

/// Flash mode codes in the image header's byte 2 (esptool's names; same on every chip).
pub const FLASH_MODES: &[(&str, u8)] = &[("qio", 0), ("qout", 1), ("dio", 2), ("dout", 3)];

/// esptool's name for a flash-mode code, if valid.
pub fn flash_mode_name(code: u8) -> Option<&'static str> {
    FLASH_MODES
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(n, _)| *n)
}

impl Chip {
    /// Whether `addr` is in a range the cache maps from flash (IROM or DROM).
    pub fn is_flash_mapped(&self, addr: u32) -> bool {
        self.flash_map
            .iter()
            .any(|(lo, hi)| (*lo..*hi).contains(&addr))
    }

    pub fn by_magic(value: u32) -> Option<&'static Chip> {
        CHIPS.iter().find(|c| c.magic.contains(&value))
    }

    pub fn by_image_id(id: u16) -> Option<&'static Chip> {
        CHIPS.iter().find(|c| c.image_chip_id == id)
    }

    /// Look up by esptool name (`esp32s3`) or pretty name (`ESP32-S3`), case-insensitively.
    pub fn by_name(name: &str) -> Option<&'static Chip> {
        let n = name.to_ascii_lowercase().replace('-', "");
        CHIPS.iter().find(|c| c.name == n)
    }

    /// esptool's name for a flash-frequency code, if this chip knows it.
    pub fn flash_freq_name(&self, code: u8) -> Option<&'static str> {
        self.flash_freqs
            .iter()
            .find(|(_, c)| *c == code)
            .map(|(n, _)| *n)
    }
}

/// esptool's name for a flash-size code (`2MB`), if valid.
pub fn flash_size_name(code: u8) -> Option<&'static str> {
    FLASH_SIZES
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(n, _)| *n)
}

/// Bytes of flash for a size code.
pub fn flash_size_bytes(code: u8) -> Option<u32> {
    (code <= 7).then(|| 0x10_0000u32 << code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(Chip::by_image_id(9).unwrap().name, "esp32s3");
        assert_eq!(Chip::by_magic(0x00F0_1D83), Some(ESP32));
        assert_eq!(Chip::by_magic(0x1B31_506F).unwrap().name, "esp32c3");
        assert!(ESP32.supported && !Chip::by_name("esp32s3").unwrap().supported);
        assert_eq!(Chip::by_name("ESP32-C3").unwrap().image_chip_id, 5);
        assert!(Chip::by_image_id(0xFFFF).is_none());
        assert_eq!(
            Chip::by_name("esp32c6").unwrap().flash_freq_name(0),
            Some("80m")
        );
        assert_eq!(ESP32.flash_freq_name(0xF), Some("80m"));
        assert_eq!(flash_size_name(0x2), Some("4MB"));
        assert_eq!(flash_mode_name(2), Some("dio"));
        assert_eq!(flash_mode_name(4), None);
        assert_eq!(flash_size_bytes(0x2), Some(4 << 20));
        assert_eq!(flash_size_bytes(8), None);
    }
}
