//! ESP32-S3 (esptool 5.6.0 `targets/esp32s3.py`): Xtensa, dual core, 40 MHz crystal, native USB
//! (USB-Serial-JTAG and USB-OTG). Its ROM answers GET_SECURITY_INFO with the chip id, takes
//! FLASH_BEGIN's fifth word, switches baud exactly, and keeps MAC, package, revision, embedded
//! flash and PSRAM in eFuse block 1 (block 2 holds the block version the v0.0 workaround needs).
//! The bootloader sits at 0x0.

use super::security::{Field, SecurityFacts};
use super::{Chip, Described, Detect, Registers, Rom, SimFacts, SpiRegs};

/// Register addresses (esptool `ESP32S3ROM`).
pub mod reg {
    pub const EFUSE_BASE: u32 = 0x6000_7000;
    pub const EFUSE_BLOCK1: u32 = EFUSE_BASE + 0x44;
    pub const EFUSE_BLOCK2: u32 = EFUSE_BASE + 0x5C;
    pub const UART_CLKDIV: u32 = 0x6000_0014;
    pub const SPI_BASE: u32 = 0x6000_2000;
}

const fn block1(word: u32) -> u32 {
    reg::EFUSE_BLOCK1 + 4 * word
}

const fn block2(word: u32) -> u32 {
    reg::EFUSE_BLOCK2 + 4 * word
}

const IDENTITY_REGS: &[u32] = &[
    block1(0),
    block1(1),
    block1(2),
    block1(3),
    block1(4),
    block1(5),
    block2(4),
];

pub static ROM: Rom = Rom {
    encrypted_write_align: 16,
    // DIS_DOWNLOAD_MANUAL_ENCRYPT (esptool `EFUSE_DIS_DOWNLOAD_MANUAL_ENCRYPT_REG`/`_MASK`).
    security: SecurityFacts::SecurityInfo {
        manual_encrypt_disabled: Field::new(reg::EFUSE_BASE + 0x030, 1 << 20),
    },
    begin_takes_encrypt_flag: true,
    uart_clkdiv: reg::UART_CLKDIV,
    spi: SpiRegs::after_esp32(reg::SPI_BASE),
    identity_regs: IDENTITY_REGS,
    describe,
    crystal: None,
    usb_otg: true,
    baud_assumes_40mhz: false,
    stub_uart_from_rom_record: true,
    sim: SimFacts {
        // v0.2, the revision of current modules.
        revision_full: 2,
        xtal_hz: 40_000_000,
        ram: (0x3FCE_3810, 0x403C_9700),
        register: sim_register,
        banner: "ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\n",
        power_on: "0x1 (POWERON)",
        software_reset: "0x3 (RTC_SW_SYS_RST)",
        panic_cause: "LoadProhibited",
        boot_download: "0x0 (DOWNLOAD(USB/UART0))",
        boot_flash: "0x8 (SPI_FAST_FLASH_BOOT)",
    },
};

pub const CHIP: Chip = Chip {
    name: "esp32s3",
    pretty: "ESP32-S3",
    image_chip_id: 0x0009,
    bootloader_offset: 0x0,
    flash_freqs: super::FREQ_40M_XTAL,
    magic: &[0x0000_0009],
    detect: Detect::SecurityInfo,
    flash_map: [(0x4200_0000, 0x4400_0000), (0x3C00_0000, 0x3E00_0000)],
    rom: Some(&ROM),
};

/// The chip as esptool describes it: package (block 1 word 3 bits 21-23), revision (major:
/// word 5 bits 24-25; minor: word 5 bit 23 over word 3 bits 18-20; v0.0 when the minor bits
/// are 0 and the block version is 1.1, esptool's `is_eco0`), MAC (word 1's low half, word 0).
fn describe(r: &Registers) -> Described {
    let w = |n: u32| r.get(block1(n));
    let minor_raw = ((w(5) >> 23) & 1) << 3 | ((w(3) >> 18) & 7);
    let blk_major = r.get(block2(4)) & 3;
    let blk_minor = (w(3) >> 24) & 7;
    let eco0 = minor_raw & 7 == 0 && blk_major == 1 && blk_minor == 1;
    let (major, minor) = if eco0 {
        (0, 0)
    } else {
        ((w(5) >> 24) & 3, minor_raw)
    };
    let name = match (w(3) >> 21) & 7 {
        0 => "ESP32-S3 (QFN56)",
        1 => "ESP32-S3-PICO-1 (LGA56)",
        _ => "Unknown ESP32-S3",
    };
    Described {
        description: format!("{name} (revision v{major}.{minor})"),
        revision: (major, minor),
        mac: super::mac_from_words(w(0), w(1)),
        crystal_mhz: 40,
    }
}

/// esptool's feature list: embedded flash (word 3 bits 27-29, vendor in word 4) and PSRAM
/// (word 4 bits 3-4 with word 5 bit 19, vendor word 4 bits 7-8).
pub(super) fn features(r: &Registers) -> Vec<String> {
    let w = |n: u32| r.get(block1(n));
    let flash = match (w(3) >> 27) & 7 {
        0 => None,
        1 => Some("8MB"),
        2 => Some("4MB"),
        _ => Some(""),
    };
    let vendor = ["", "XMC", "GD", "FM", "TT", "BY", "", ""][(w(4) & 7) as usize];
    let psram = match ((w(5) >> 19) & 1) << 2 | ((w(4) >> 3) & 3) {
        0 => None,
        1 => Some("8MB"),
        2 => Some("2MB"),
        3 => Some("16MB"),
        4 => Some("4MB"),
        _ => Some(""),
    };
    let psram_vendor = ["", "AP_3v3", "AP_1v8", ""][((w(4) >> 7) & 3) as usize];
    let mut f = super::feature_list(
        &["Wi-Fi", "BT 5 (LE)", "Dual Core + LP Core", "240MHz"],
        flash.map(|s| format!("{} ({vendor})", super::embedded("Flash", s))),
    );
    f.extend(psram.map(|s| format!("{} ({psram_vendor})", super::embedded("PSRAM", s))));
    f
}

/// The simulated ESP32-S3: QFN56, revision v0.2, no embedded flash or PSRAM, booted into
/// download mode over UART.
fn sim_register(addr: u32, mac: [u8; 6]) -> Option<u32> {
    let (mac_low, mac_high) = super::mac_words(mac);
    Some(match addr {
        a if a == block1(0) => mac_low,
        a if a == block1(1) => mac_high,
        // Minor revision 2 in word 3 bits 18-20; package 0.
        a if a == block1(3) => 2 << 18,
        a if (reg::EFUSE_BASE..reg::EFUSE_BASE + 0x200).contains(&a) => 0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs(mac: [u8; 6]) -> Vec<(u32, u32)> {
        crate::chips::sim_identity(&ROM, mac)
    }

    #[test]
    fn the_simulated_chip_is_described_as_esptool_does() {
        let mac = [0x7C, 0xDF, 0xA1, 0x00, 0x11, 0x22];
        let d = describe(&Registers(regs(mac)));
        assert_eq!(d.description, "ESP32-S3 (QFN56) (revision v0.2)");
        assert_eq!(
            d.revision.0 * 100 + d.revision.1,
            ROM.sim.revision_full as u32
        );
        assert_eq!(d.mac, mac);
        assert_eq!(
            features(&Registers(regs(mac))),
            ["Wi-Fi", "BT 5 (LE)", "Dual Core + LP Core", "240MHz"]
        );
        // An N8R8 module (8 MB flash from GD, 8 MB PSRAM at 3.3 V).
        let mut v = regs(mac);
        v[3].1 = (1 << 27) | (1 << 21) | (1 << 18);
        v[4].1 = 2 | (1 << 3) | (1 << 7);
        let d = describe(&Registers(v.clone()));
        assert_eq!(d.description, "ESP32-S3-PICO-1 (LGA56) (revision v0.1)");
        assert_eq!(
            features(&Registers(v.clone()))[4..],
            ["Embedded Flash 8MB (GD)", "Embedded PSRAM 8MB (AP_3v3)"]
        );
        // v0.0 chips: block version 1.1 with the minor bits 0 (esptool's is_eco0).
        v[3].1 = 1 << 24;
        v[5].1 = 1 << 24;
        v[6].1 = 1;
        assert_eq!(describe(&Registers(v)).revision, (0, 0));
    }
}
