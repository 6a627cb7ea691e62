//! ESP32-C6 (esptool 5.6.0 `targets/esp32c6.py`): RISC-V, single core plus an LP core, 40 MHz
//! crystal, native USB-Serial-JTAG. Its ROM answers GET_SECURITY_INFO with the chip id, takes
//! FLASH_BEGIN's fifth word, switches baud exactly, and keeps MAC, package, revision and embedded
//! flash in eFuse block 1. The bootloader sits at 0x0.

use super::security::{Field, SecurityFacts};
use super::{Chip, Described, Detect, Registers, Rom, SimFacts, SpiRegs};

/// Register addresses (esptool `ESP32C6ROM`, the UART divider inherited from `ESP32C3ROM`).
pub mod reg {
    pub const EFUSE_BASE: u32 = 0x600B_0800;
    pub const EFUSE_BLOCK1: u32 = EFUSE_BASE + 0x44;
    pub const UART_CLKDIV: u32 = 0x6000_0014;
    pub const SPI_BASE: u32 = 0x6000_3000;
}

const fn block1(word: u32) -> u32 {
    reg::EFUSE_BLOCK1 + 4 * word
}

const IDENTITY_REGS: &[u32] = &[block1(0), block1(1), block1(3), block1(4)];

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
    stub_uart_from_rom_record: true,
    sim: SimFacts {
        // v0.2, the revision of current modules.
        revision_full: 2,
        xtal_hz: 40_000_000,
        ram: (0x4087_5730, 0x4086_B910),
        register: sim_register,
        banner: "ESP-ROM:esp32c6-20220919\r\nBuild:Sep 19 2022\r\n",
        power_on: "0x1 (POWERON)",
        software_reset: "0xc (SW_CPU)",
        panic_cause: "Load access fault",
        boot_download: "0x4 (DOWNLOAD(USB/UART0/SDIO_FEI_FEO))",
        boot_flash: "0xc (SPI_FAST_FLASH_BOOT)",
    },
};

pub const CHIP: Chip = Chip {
    name: "esp32c6",
    pretty: "ESP32-C6",
    image_chip_id: 0x000D,
    bootloader_offset: 0x0,
    flash_freqs: &[("80m", 0x0), ("40m", 0x0), ("20m", 0x2)],
    magic: &[0x2CE0_806F],
    detect: Detect::SecurityInfo,
    flash_map: [(0x4200_0000, 0x4280_0000), (0x4280_0000, 0x4300_0000)],
    rom: Some(&ROM),
};

/// The chip as esptool describes it: package (word 3 bits 24-26; package 1 named by its flash),
/// revision (major: word 3 bits 22-23; minor: bits 18-21), MAC (word 1's low half, word 0).
fn describe(r: &Registers) -> Described {
    let w = |n: u32| r.get(block1(n));
    let name = match ((w(3) >> 24) & 7, w(4) & 7) {
        (0, _) => "ESP32-C6 (QFN40)",
        (1, 1) => "ESP32-C6FH4 (QFN32)",
        (1, 2) => "ESP32-C6FH8 (QFN32)",
        _ => "Unknown ESP32-C6",
    };
    let (major, minor) = ((w(3) >> 22) & 3, (w(3) >> 18) & 0xF);
    Described {
        description: format!("{name} (revision v{major}.{minor})"),
        revision: (major, minor),
        mac: super::mac_from_words(w(0), w(1)),
        crystal_mhz: 40,
    }
}

/// esptool's feature list, which names the embedded flash (word 4 bits 0-2) even when there is
/// none ("Unknown Embedded Flash").
pub(super) fn features(r: &Registers) -> Vec<String> {
    let flash = match r.get(block1(4)) & 7 {
        1 => "4MB",
        2 => "8MB",
        _ => "",
    };
    super::feature_list(
        &[
            "Wi-Fi 6",
            "BT 5 (LE)",
            "IEEE802.15.4",
            "Single Core + LP Core",
            "160MHz",
        ],
        Some(super::embedded("Flash", flash)),
    )
}

/// The simulated ESP32-C6: QFN40, revision v0.2, booted into download mode over UART.
fn sim_register(addr: u32, mac: [u8; 6]) -> Option<u32> {
    let (mac_low, mac_high) = super::mac_words(mac);
    Some(match addr {
        a if a == block1(0) => mac_low,
        // The EUI-64 filler FF:FE (MAC_EXT) above the MAC's first two bytes, as on real chips.
        a if a == block1(1) => mac_high | 0xFFFE << 16,
        // Minor revision 2 in word 3 bits 18-21.
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
        let mac = [0x40, 0x4C, 0xCA, 0x55, 0x66, 0x77];
        let d = describe(&Registers(regs(mac)));
        assert_eq!(d.description, "ESP32-C6 (QFN40) (revision v0.2)");
        assert_eq!(
            d.revision.0 * 100 + d.revision.1,
            ROM.sim.revision_full as u32
        );
        assert_eq!(d.mac, mac);
        assert_eq!(
            features(&Registers(regs(mac))),
            [
                "Wi-Fi 6",
                "BT 5 (LE)",
                "IEEE802.15.4",
                "Single Core + LP Core",
                "160MHz",
                "Unknown Embedded Flash"
            ]
        );
        // An ESP32-C6FH4, revision v1.9.
        let mut v = regs(mac);
        v[2].1 = (1 << 24) | (1 << 22) | (9 << 18);
        v[3].1 = 1;
        let d = describe(&Registers(v.clone()));
        assert_eq!(d.description, "ESP32-C6FH4 (QFN32) (revision v1.9)");
        assert_eq!(features(&Registers(v))[5], "Embedded Flash 4MB");
    }
}
