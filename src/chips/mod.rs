//! Every per-chip fact, one module per chip: names, image chip id, bootloader offset, flash
//! map and frequencies, detection values, and for the chips otaflash talks to, what their ROM
//! loader needs (registers, eFuse decoding, crystal). The loader and the simulator both read
//! these; no chip constant lives anywhere else.
//!
//! Sources: esptool 5.6.0 `esptool/targets/*.py` (`CHIP_NAME`, `IMAGE_CHIP_ID`,
//! `FLASH_FREQUENCY`, `BOOTLOADER_FLASH_OFFSET`, `IROM_MAP_*`, `DROM_MAP_*`, register and eFuse
//! addresses) and ESP-IDF `esp_app_format.h` (`esp_chip_id_t`).

pub mod esp32;
pub mod esp32c2;
pub mod esp32c3;
pub mod esp32c6;
pub mod esp32h2;
pub mod esp32s2;
pub mod esp32s3;
mod newer;
pub mod security;

/// Static description of one chip family.
#[derive(Debug, Clone, Copy)]
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
    /// How its ROM loader tells which chip it is.
    pub detect: Detect,
    /// Address ranges mapped from flash by the cache (IROM, DROM; end exclusive). An app has
    /// segments here; a second-stage bootloader, which runs before the cache maps flash, has none.
    pub flash_map: [(u32, u32); 2],
    /// What talking to its ROM loader needs; None for chips otaflash only names in images.
    pub rom: Option<&'static Rom>,
}

/// How a chip's ROM loader identifies it (esptool `USES_MAGIC_VALUE`,
/// `SECURITY_INFO_SUPPORTED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detect {
    /// No GET_SECURITY_INFO (the ESP32): the magic register tells.
    Magic,
    /// GET_SECURITY_INFO without a chip id (a 12-byte answer; the ESP32-S2): the magic
    /// register tells.
    MagicAfterShortSecurityInfo,
    /// GET_SECURITY_INFO carries the image chip id (ESP32-S3, C3 and later).
    SecurityInfo,
}

/// One chip per name.
impl PartialEq for Chip {
    fn eq(&self, other: &Chip) -> bool {
        self.name == other.name
    }
}
impl Eq for Chip {}

/// What the loader (and the simulator, which answers the same way) needs of a chip's ROM.
#[derive(Debug)]
pub struct Rom {
    /// FLASH_BEGIN (and its compressed form) takes a fifth word, "encrypted", on this ROM
    /// (all but the ESP32's; esptool `flash_begin`).
    pub begin_takes_encrypt_flag: bool,
    pub uart_clkdiv: u32,
    pub spi: SpiRegs,
    /// Registers read to describe the chip, decoded by `describe`.
    pub identity_regs: &'static [u32],
    pub describe: fn(&Registers) -> Described,
    /// Set when the ROM derives its baud divider from its own crystal estimate.
    pub crystal: Option<RomCrystal>,
    /// The chip has a USB-OTG peripheral its ROM can be reached through (esptool
    /// `USB_OTG_SUPPORTED`): RAM blocks to the ROM are then capped at 2 KiB.
    pub usb_otg: bool,
    /// The ROM computes CHANGE_BAUDRATE's divider as if its crystal were 40 MHz, so with a
    /// 26 MHz crystal it lands at 26/40 of the rate asked (ESP32-C2; esptool `change_baud`).
    pub baud_assumes_40mhz: bool,
    /// Over a UART, the flasher stub raises the CPU clock and then sets the UART divider for
    /// the baud the ROM *recorded* — the number the last CHANGE_BAUDRATE sent it, which is
    /// not the rate the ROM ran at when that number was corrected for its crystal (the
    /// ESP32). esp-flasher-stub `src/main.c` (the clock-boost chips: ESP32, ESP32-S2, and in
    /// later versions ESP32-S3 and ESP32-C6); the others keep the ROM's divider as it is.
    pub stub_uart_from_rom_record: bool,
    /// What the simulated chip is and prints.
    pub sim: SimFacts,
    /// Where its security state (flash encryption, secure boot, …) is read.
    pub security: security::SecurityFacts,
    /// Data the chip encrypts as it writes (FLASH_BEGIN's encrypted flag) is padded to this
    /// (esptool `FLASH_ENCRYPTED_WRITE_ALIGN`).
    pub encrypted_write_align: u32,
}

/// The simulated chip of this kind: its eFuse contents (the inverse of `describe`), revision,
/// crystal and what its ROM prints.
#[derive(Debug)]
pub struct SimFacts {
    /// The chip revision (major × 100 + minor) its eFuses describe.
    pub revision_full: u16,
    pub xtal_hz: u32,
    /// Where a real ESP-IDF second-stage bootloader loads its data and code on this chip
    /// (DRAM, IRAM; the `load:` lines its ROM prints), for images the simulator and the tests
    /// make.
    pub ram: (u32, u32),
    /// The value of an identity register (eFuse, date, strapping) for a chip with this MAC;
    /// None for an address the chip module does not model.
    pub register: fn(addr: u32, mac: [u8; 6]) -> Option<u32>,
    /// The ROM's first lines after a reset (before the reset cause).
    pub banner: &'static str,
    /// Reset causes as the ROM prints them: power-on, software (CPU) reset.
    pub power_on: &'static str,
    pub software_reset: &'static str,
    /// How an ESP-IDF app's panic names a load from a bad address on this core (Xtensa:
    /// "LoadProhibited", RISC-V: "Load access fault").
    pub panic_cause: &'static str,
    /// The boot mode as the ROM prints it: download, and flash boot.
    pub boot_download: &'static str,
    pub boot_flash: &'static str,
}

/// The SPI flash controller's user-command registers (esptool `SPI_*_OFFS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpiRegs {
    pub base: u32,
    pub usr: u32,
    pub usr1: u32,
    pub usr2: u32,
    pub mosi_dlen: u32,
    pub miso_dlen: u32,
    pub w0: u32,
}

impl SpiRegs {
    /// The layout every chip after the ESP32 shares (esptool's `SPI_*_OFFS` of the S2, S3,
    /// C2, C3, C6 and H2), at `base`.
    pub const fn after_esp32(base: u32) -> SpiRegs {
        SpiRegs {
            base,
            usr: 0x18,
            usr1: 0x1C,
            usr2: 0x20,
            mosi_dlen: 0x24,
            miso_dlen: 0x28,
            w0: 0x58,
        }
    }

    pub const CMD_USR: u32 = 1 << 18;
    pub const USR_COMMAND: u32 = 1 << 31;
    pub const USR_MISO: u32 = 1 << 28;
    /// The SPI_CMD register (at the base).
    pub fn cmd(&self) -> u32 {
        self.base
    }
    pub fn usr(&self) -> u32 {
        self.base + self.usr
    }
    pub fn usr2(&self) -> u32 {
        self.base + self.usr2
    }
    pub fn miso_dlen(&self) -> u32 {
        self.base + self.miso_dlen
    }
    pub fn w0(&self) -> u32 {
        self.base + self.w0
    }
}

/// Where a ROM keeps the crystal estimate it derives its baud divider from (ESP32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RomCrystal {
    pub calibration_reg: u32,
    pub ck8m_reg: u32,
}

impl RomCrystal {
    /// The ROM's crystal estimate in Hz from the two raw register values (esptool
    /// `get_rom_cal_crystal_freq`).
    pub fn estimate_hz(&self, calibration: u32, ck8m: u32) -> f64 {
        let cali = (calibration >> 7) & 0x01FF_FFFF;
        (cali as f64) * 15625.0 * (ck8m & 0xFF) as f64 / 40.0
    }

    /// The calibration register value that makes the estimate `hz` with `ck8m` (for the
    /// simulator).
    pub fn calibration_for(&self, hz: f64, ck8m: u32) -> u32 {
        ((hz * 40.0 / (15625.0 * (ck8m & 0xFF) as f64)).round() as u32) << 7
    }

    /// The CHANGE_BAUDRATE value that lands the ROM on `baud` despite its estimate
    /// (esptool's ESP32 correction).
    pub fn baud_value(&self, baud: u32, estimate_hz: f64) -> u32 {
        let valid = if estimate_hz > 33e6 { 40e6 } else { 26e6 };
        (baud as f64 * estimate_hz / valid) as u32
    }
}

/// Register values read from a chip, by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registers(pub Vec<(u32, u32)>);

impl Registers {
    /// The value read at `addr` (0 if it was not read).
    pub fn get(&self, addr: u32) -> u32 {
        self.0
            .iter()
            .find(|(a, _)| *a == addr)
            .map(|(_, v)| *v)
            .unwrap_or(0)
    }
}

/// The base MAC as the chips after the ESP32 keep it in eFuse: the last four bytes in one word,
/// the first two in the low half of the next (esptool `read_mac`).
pub(crate) fn mac_from_words(low: u32, high: u32) -> [u8; 6] {
    let (l, h) = (low.to_be_bytes(), high.to_be_bytes());
    [h[2], h[3], l[0], l[1], l[2], l[3]]
}

/// The inverse of [`mac_from_words`], for the simulator.
pub(crate) fn mac_words(m: [u8; 6]) -> (u32, u32) {
    (
        u32::from_be_bytes([m[2], m[3], m[4], m[5]]),
        u32::from_be_bytes([0, 0, m[0], m[1]]),
    )
}

/// What a chip says about itself, decoded from its eFuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described {
    /// e.g. "ESP32-D0WD-V3 (revision v3.1)", as esptool prints it.
    pub description: String,
    pub revision: (u32, u32),
    pub mac: [u8; 6],
    pub crystal_mhz: u32,
}

/// The identity registers of the simulated chip with this ROM, as its ROM would answer them
/// (the UART divider as set for 115200 baud): what the chip modules' tests describe.
#[cfg(test)]
pub(crate) fn sim_identity(rom: &Rom, mac: [u8; 6]) -> Vec<(u32, u32)> {
    rom.identity_regs
        .iter()
        .map(|&a| {
            let v = if a == rom.uart_clkdiv {
                rom.sim.xtal_hz / 115_200
            } else {
                (rom.sim.register)(a, mac).expect("a register the simulated chip models")
            };
            (a, v)
        })
        .collect()
}

/// esptool's feature list for a chip (`get_chip_features`), from the registers its ROM facts
/// name. Kept apart from `Rom::describe` so that only what prints it (the CLI) carries it.
pub fn features(chip: &Chip, regs: &Registers) -> Vec<String> {
    match chip.name {
        "esp32" => esp32::features(regs),
        "esp32s2" => esp32s2::features(regs),
        "esp32s3" => esp32s3::features(regs),
        "esp32c2" => esp32c2::features(regs),
        "esp32c3" => esp32c3::features(regs),
        "esp32c6" => esp32c6::features(regs),
        "esp32h2" => esp32h2::features(regs),
        _ => vec![],
    }
}

/// A fixed feature list followed by an optional extra.
fn feature_list(fixed: &[&str], extra: Option<String>) -> Vec<String> {
    fixed.iter().map(|s| s.to_string()).chain(extra).collect()
}

/// "Embedded Flash 4MB" as esptool words it; an empty size is esptool's unknown one.
fn embedded(what: &str, size: &str) -> String {
    if size.is_empty() {
        format!("Unknown Embedded {what}")
    } else {
        format!("Embedded {what} {size}")
    }
}

/// The crystal in MHz as esptool estimates it from the UART divider the ROM set for 115200
/// baud (`get_crystal_freq`: 40 above 33 MHz, else 26).
fn crystal_from_clkdiv(clkdiv: u32) -> u32 {
    let est_mhz_x10 = 1_152u64 * (clkdiv & 0xFFFFF) as u64 / 1_000;
    if est_mhz_x10 > 330 {
        40
    } else {
        26
    }
}

/// Espressif's USB vendor id (the chips' own USB peripherals).
pub const ESPRESSIF_VID: u16 = 0x303A;
/// The product id of the USB-Serial-JTAG peripheral (ESP32-S3, C3, C6, H2 and later).
pub const USB_SERIAL_JTAG_PID: u16 = 0x1001;

/// What a USB serial port is, told by its vendor and product ids (esptool `get_usb_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsbLink {
    /// The chip's USB-Serial-JTAG peripheral: reset and boot mode through its own DTR/RTS
    /// meaning, not a reset circuit.
    SerialJtag,
    /// The ROM's USB-OTG CDC port (ESP32-S2, S3; product id = the chip's image id): it takes
    /// small RAM blocks and disappears when the chip resets, coming back as a new port.
    Otg(&'static Chip),
    /// A USB-UART bridge chip (CP210x, CH34x, FTDI) wired to the classic reset circuit.
    Bridge(&'static str),
    /// Something else (another bridge, another vendor).
    Other,
}

impl UsbLink {
    pub fn of(vid: u16, pid: u16) -> UsbLink {
        if vid == ESPRESSIF_VID {
            if pid == USB_SERIAL_JTAG_PID {
                return UsbLink::SerialJtag;
            }
            if let Some(c) = CHIPS
                .iter()
                .find(|c| c.rom.is_some_and(|r| r.usb_otg) && c.image_chip_id == pid)
            {
                return UsbLink::Otg(c);
            }
            return UsbLink::Other;
        }
        USB_VENDORS[1..]
            .iter()
            .find(|(v, _)| *v == vid)
            .map_or(UsbLink::Other, |(_, name)| UsbLink::Bridge(name))
    }

    /// The chip's own USB (USB-Serial-JTAG or USB-OTG), not a bridge chip.
    pub fn is_native(self) -> bool {
        matches!(self, UsbLink::SerialJtag | UsbLink::Otg(_))
    }
}

/// USB vendor ids of the usual ESP32-family serial links: Espressif's own USB (USB-Serial-JTAG
/// and USB-OTG CDC), Silicon Labs CP210x, WCH CH34x, FTDI.
pub const USB_VENDORS: [(u16, &str); 4] = [
    (0x303A, "Espressif"),
    (0x10C4, "CP210x"),
    (0x1A86, "CH34x"),
    (0x0403, "FTDI"),
];

/// CHIP_DETECT_MAGIC_REG_ADDR, read when GET_SECURITY_INFO is not available.
pub const CHIP_DETECT_MAGIC_REG: u32 = 0x4000_1000;
/// The ESP8266's magic value: a chip otaflash names but does not handle.
pub const ESP8266_MAGIC: u32 = 0xFFF0_C101;

/// Every chip whose images otaflash can name.
pub const CHIPS: &[Chip] = &[
    esp32::CHIP,
    esp32s2::CHIP,
    esp32c3::CHIP,
    esp32s3::CHIP,
    esp32c2::CHIP,
    esp32c6::CHIP,
    esp32h2::CHIP,
    newer::ESP32P4,
    newer::ESP32C61,
    newer::ESP32C5,
    newer::ESP32H21,
    newer::ESP32H4,
    newer::ESP32S31,
];

/// esptool's frequency codes shared by the ESP32, S2, S3 and C3.
pub(crate) const FREQ_40M_XTAL: &[(&str, u8)] =
    &[("80m", 0xF), ("40m", 0x0), ("26m", 0x1), ("20m", 0x2)];

/// The original ESP32.
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
    /// Whether otaflash talks to this chip's ROM loader (register map, stub, flash set-up).
    pub fn supported(&self) -> bool {
        self.rom.is_some()
    }

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
        assert!(ESP32.supported() && Chip::by_name("esp32c6").unwrap().supported());
        assert!(!Chip::by_name("esp32p4").unwrap().supported());
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

    #[test]
    fn usb_links() {
        assert_eq!(UsbLink::of(0x303A, 0x1001), UsbLink::SerialJtag);
        assert_eq!(
            UsbLink::of(0x303A, 0x0002),
            UsbLink::Otg(Chip::by_name("esp32s2").unwrap())
        );
        assert_eq!(
            UsbLink::of(0x303A, 0x0009),
            UsbLink::Otg(Chip::by_name("esp32s3").unwrap())
        );
        // The C3 has no USB-OTG: its image id is no OTG product id.
        assert_eq!(UsbLink::of(0x303A, 0x0005), UsbLink::Other);
        assert_eq!(UsbLink::of(0x10C4, 0xEA60), UsbLink::Bridge("CP210x"));
        assert_eq!(UsbLink::of(0x1A86, 0x55D4), UsbLink::Bridge("CH34x"));
        assert_eq!(UsbLink::of(0x2341, 0x0043), UsbLink::Other);
        assert!(UsbLink::SerialJtag.is_native() && !UsbLink::Bridge("FTDI").is_native());
    }
}
