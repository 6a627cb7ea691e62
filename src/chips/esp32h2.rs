//! ESP32-H2 (esptool 5.6.0 `targets/esp32h2.py`): RISC-V, single core, 32 MHz crystal, 802.15.4
//! and Bluetooth LE (no Wi-Fi), native USB-Serial-JTAG. Its ROM answers GET_SECURITY_INFO with
//! the chip id, takes FLASH_BEGIN's fifth word, switches baud exactly, and keeps MAC, package,
//! revision and embedded flash in eFuse block 1. The bootloader sits at 0x0.

use super::security::{Field, SecurityFacts};
use super::{Chip, Described, Detect, Registers, Rom, SimFacts, SpiRegs};

/// Register addresses (esptool `ESP32H2ROM`, inherited from `ESP32C6ROM`).
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
    stub_uart_from_rom_record: false,
    sim: SimFacts {
        // v0.1, the revision of the first modules.
        revision_full: 1,
        xtal_hz: 32_000_000,
        ram: (0x4084_60F0, 0x4083_C2D0),
        register: sim_register,
        banner: "ESP-ROM:esp32h2-20221101\r\nBuild:Nov  1 2022\r\n",
        power_on: "0x1 (POWERON)",
        software_reset: "0xc (SW_CPU)",
        panic_cause: "Load access fault",
        boot_download: "0x4 (DOWNLOAD(USB/UART0))",
        boot_flash: "0xc (SPI_FAST_FLASH_BOOT)",
    },
};

pub const CHIP: Chip = Chip {
    name: "esp32h2",
    pretty: "ESP32-H2",
    image_chip_id: 0x0010,
    bootloader_offset: 0x0,
    flash_freqs: &[("48m", 0xF), ("24m", 0x0), ("16m", 0x1), ("12m", 0x2)],
    magic: &[0xD7B7_3E80],
    detect: Detect::SecurityInfo,
    flash_map: [(0x4200_0000, 0x4280_0000), (0x4280_0000, 0x4300_0000)],
    rom: Some(&ROM),
};

/// Embedded flash capacity: word 3 bits 24-26.
fn flash_cap(r: &Registers) -> u32 {
    (r.get(block1(3)) >> 24) & 7
}

/// The chip as esptool describes it: "ESP32-H2" + F, temperature grade (word 3 bits 27-28) and
/// flash size when flash is embedded, S from v1.2 on those; revision (major: word 3 bits
/// 21-22; minor: bits 18-20), MAC (word 1's low half, then word 0).
fn describe(r: &Registers) -> Described {
    let w = |n: u32| r.get(block1(n));
    let cap = flash_cap(r);
    let (major, minor) = ((w(3) >> 21) & 3, (w(3) >> 18) & 7);
    let mut name = String::from("ESP32-H2");
    if cap != 0 {
        name.push('F');
        name.push(match (w(3) >> 27) & 3 {
            1 => 'H',
            2 => 'N',
            _ => '?',
        });
        name.push(match cap {
            1 => '4',
            2 => '2',
            3 => '1',
            _ => '?',
        });
    }
    if w(4) & 7 != 0 {
        name.push('?');
    }
    if name.contains('?') {
        name = format!("Unknown {name}");
    }
    if cap != 0 && (major, minor) >= (1, 2) {
        name.push('S');
    }
    Described {
        description: format!("{name} (revision v{major}.{minor})"),
        revision: (major, minor),
        mac: super::mac_from_words(w(0), w(1)),
        crystal_mhz: 32,
    }
}

/// esptool's feature list: embedded flash (named also when absent) and its vendor (word 3 bits
/// 29-31) when present.
pub(super) fn features(r: &Registers) -> Vec<String> {
    let flash = match flash_cap(r) {
        0 => "No Embedded Flash".to_string(),
        c @ 1..=3 => {
            let vendor =
                ["", "XMC", "GD", "FM", "TT", "", "", ""][(r.get(block1(3)) >> 29) as usize];
            let size = ["", "4MB", "2MB", "1MB"][c as usize];
            format!("{} ({vendor})", super::embedded("Flash", size))
        }
        _ => super::embedded("Flash", ""),
    };
    super::feature_list(
        &["BT 5 (LE)", "IEEE802.15.4", "Single Core", "96MHz"],
        Some(flash),
    )
}

/// The simulated ESP32-H2: no embedded flash, revision v0.1, booted into download mode over
/// UART.
fn sim_register(addr: u32, mac: [u8; 6]) -> Option<u32> {
    let (mac_low, mac_high) = super::mac_words(mac);
    Some(match addr {
        a if a == block1(0) => mac_low,
        // The EUI-64 filler FF:FE (MAC_EXT) above the MAC's first two bytes, as on real chips.
        a if a == block1(1) => mac_high | 0xFFFE << 16,
        // Minor revision 1 in word 3 bits 18-20.
        a if a == block1(3) => 1 << 18,
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
        let mac = [0x74, 0x4D, 0xBD, 0x61, 0xE8, 0xC1];
        let d = describe(&Registers(regs(mac)));
        assert_eq!(d.description, "ESP32-H2 (revision v0.1)");
        assert_eq!(
            d.revision.0 * 100 + d.revision.1,
            ROM.sim.revision_full as u32
        );
        assert_eq!(d.mac, mac);
        assert_eq!(d.crystal_mhz, 32);
        assert_eq!(
            features(&Registers(regs(mac))),
            [
                "BT 5 (LE)",
                "IEEE802.15.4",
                "Single Core",
                "96MHz",
                "No Embedded Flash"
            ]
        );
        // An ESP32-H2FH4S: 4 MB flash from GD, high temperature, v1.2.
        let mut v = regs(mac);
        v[2].1 = (2 << 29) | (1 << 27) | (1 << 24) | (1 << 21) | (2 << 18);
        let d = describe(&Registers(v.clone()));
        assert_eq!(d.description, "ESP32-H2FH4S (revision v1.2)");
        assert_eq!(features(&Registers(v))[4], "Embedded Flash 4MB (GD)");
    }
}
