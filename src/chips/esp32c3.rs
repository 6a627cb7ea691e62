//! ESP32-C3 (esptool 5.6.0 `targets/esp32c3.py`): RISC-V, single core, 40 MHz crystal. Its ROM
//! answers GET_SECURITY_INFO with the chip id, takes FLASH_BEGIN's fifth word, switches baud
//! exactly, and keeps MAC, package and revision in eFuse block 1. The bootloader sits at 0x0.

use super::security::{Field, SecurityFacts};
use super::{Chip, Described, Detect, Registers, Rom, SimFacts, SpiRegs};

/// Register addresses (esptool `ESP32C3ROM`).
pub mod reg {
    pub const EFUSE_BASE: u32 = 0x6000_8800;
    /// eFuse block 1 (MAC in words 0-1, package and revision in words 3 and 5).
    pub const EFUSE_BLOCK1: u32 = EFUSE_BASE + 0x44;
    pub const UART_CLKDIV: u32 = 0x6000_0014;
    pub const SPI_BASE: u32 = 0x6000_2000;
}

const fn block1(word: u32) -> u32 {
    reg::EFUSE_BLOCK1 + 4 * word
}

const IDENTITY_REGS: &[u32] = &[
    block1(0),
    block1(1),
    block1(2),
    block1(3),
    block1(4),
    block1(5),
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
    usb_otg: false,
    baud_assumes_40mhz: false,
    stub_uart_from_rom_record: false,
    sim: SimFacts {
        // v0.4, the usual revision of current modules (the IDF v5.2 bootloader needs v0.3+).
        revision_full: 4,
        xtal_hz: 40_000_000,
        ram: (0x3FCD_5820, 0x403C_C710),
        register: sim_register,
        banner: "ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\n",
        power_on: "0x1 (POWERON)",
        software_reset: "0x3 (RTC_SW_SYS_RST)",
        panic_cause: "Load access fault",
        boot_download: "0x5 (DOWNLOAD(USB/UART0/1))",
        boot_flash: "0xc (SPI_FAST_FLASH_BOOT)",
    },
};

pub const CHIP: Chip = Chip {
    name: "esp32c3",
    pretty: "ESP32-C3",
    image_chip_id: 0x0005,
    bootloader_offset: 0x0,
    flash_freqs: super::FREQ_40M_XTAL,
    magic: &[0x6921_506F, 0x1B31_506F, 0x4881_606F, 0x4361_606F],
    detect: Detect::SecurityInfo,
    flash_map: [(0x4200_0000, 0x4280_0000), (0x3C00_0000, 0x3C80_0000)],
    rom: Some(&ROM),
};

/// The chip as esptool describes it: package (word 3 bits 21-23), revision (major: word 5 bits
/// 24-25; minor: word 5 bit 23 over word 3 bits 18-20), MAC (word 1's low half, then word 0).
fn describe(r: &Registers) -> Described {
    let w = |n: u32| r.get(block1(n));
    let major = (w(5) >> 24) & 3;
    let minor = ((w(5) >> 23) & 1) << 3 | ((w(3) >> 18) & 7);
    let name = match (w(3) >> 21) & 7 {
        0 => "ESP32-C3 (QFN32)",
        1 => "ESP8685 (QFN28)",
        2 => "ESP32-C3 AZ (QFN32)",
        3 => "ESP8686 (QFN24)",
        _ => "Unknown ESP32-C3",
    };
    Described {
        description: format!("{name} (revision v{major}.{minor})"),
        revision: (major, minor),
        mac: super::mac_from_words(w(0), w(1)),
        crystal_mhz: 40,
    }
}

/// esptool's feature list: embedded flash (word 3 bits 27-29) and its vendor (word 4).
pub(super) fn features(r: &Registers) -> Vec<String> {
    let w = |n: u32| r.get(block1(n));
    let flash = match (w(3) >> 27) & 7 {
        0 => None,
        1 => Some("4MB"),
        2 => Some("2MB"),
        3 => Some("1MB"),
        4 => Some("8MB"),
        _ => Some(""),
    };
    let vendor = ["", "XMC", "GD", "FM", "TT", "ZBIT", "", ""][(w(4) & 7) as usize];
    super::feature_list(
        &["Wi-Fi", "BT 5 (LE)", "Single Core", "160MHz"],
        flash.map(|f| format!("{} ({vendor})", super::embedded("Flash", f))),
    )
}

/// The simulated ESP32-C3: QFN32, revision v0.4, no embedded flash, booted into download mode
/// over UART.
fn sim_register(addr: u32, mac: [u8; 6]) -> Option<u32> {
    let (mac_low, mac_high) = super::mac_words(mac);
    Some(match addr {
        a if a == block1(0) => mac_low,
        a if a == block1(1) => mac_high,
        // Minor revision 4 in word 3 bits 18-20; package 0, no embedded flash.
        a if a == block1(3) => 4 << 18,
        a if (reg::EFUSE_BASE..reg::EFUSE_BASE + 0x200).contains(&a) => 0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulated_chip_is_described_as_esptool_does() {
        let mac = [0x58, 0xCF, 0x79, 0x12, 0x34, 0x56];
        let regs = Registers(crate::chips::sim_identity(&ROM, mac));
        let d = describe(&regs);
        assert_eq!(d.description, "ESP32-C3 (QFN32) (revision v0.4)");
        assert_eq!(
            d.revision.0 * 100 + d.revision.1,
            ROM.sim.revision_full as u32
        );
        assert_eq!(d.mac, mac);
        assert_eq!(
            features(&regs),
            ["Wi-Fi", "BT 5 (LE)", "Single Core", "160MHz"]
        );
        // Embedded flash and its vendor, and the high minor bit, as esptool reads them.
        let mut v = regs.0.clone();
        v[3].1 = (1 << 27) | (1 << 21) | (3 << 18);
        v[4].1 = 2;
        v[5].1 = (1 << 24) | (1 << 23);
        let d = describe(&Registers(v.clone()));
        assert_eq!(d.description, "ESP8685 (QFN28) (revision v1.11)");
        assert_eq!(features(&Registers(v))[4], "Embedded Flash 4MB (GD)");
    }
}
