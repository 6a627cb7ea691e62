//! ESP32-C2 / ESP8684 (esptool 5.6.0 `targets/esp32c2.py`): RISC-V, single core, a 26 or 40 MHz
//! crystal. Its ROM answers GET_SECURITY_INFO with the chip id and takes FLASH_BEGIN's fifth
//! word, but computes CHANGE_BAUDRATE's divider as if the crystal were 40 MHz. MAC, package,
//! revision and embedded flash are in eFuse block 2. The bootloader sits at 0x0. esptool does not
//! run its stub on revision v0.x.

use super::security::{Field, SecurityFacts};
use super::{Chip, Described, Detect, Registers, Rom, SimFacts, SpiRegs};

/// Register addresses (esptool `ESP32C2ROM`, some inherited from `ESP32C3ROM`).
pub mod reg {
    pub const EFUSE_BASE: u32 = 0x6000_8800;
    pub const EFUSE_BLOCK2: u32 = EFUSE_BASE + 0x40;
    pub const UART_CLKDIV: u32 = 0x6000_0014;
    pub const SPI_BASE: u32 = 0x6000_2000;
}

const fn block2(word: u32) -> u32 {
    reg::EFUSE_BLOCK2 + 4 * word
}

const IDENTITY_REGS: &[u32] = &[block2(0), block2(1), block2(7), reg::UART_CLKDIV];

pub static ROM: Rom = Rom {
    encrypted_write_align: 16,
    // DIS_DOWNLOAD_MANUAL_ENCRYPT (esptool `EFUSE_DIS_DOWNLOAD_MANUAL_ENCRYPT_REG`/`_MASK`).
    security: SecurityFacts::SecurityInfo {
        manual_encrypt_disabled: Field::new(reg::EFUSE_BASE + 0x030, 1 << 6),
    },
    begin_takes_encrypt_flag: true,
    uart_clkdiv: reg::UART_CLKDIV,
    spi: SpiRegs::after_esp32(reg::SPI_BASE),
    identity_regs: IDENTITY_REGS,
    describe,
    crystal: None,
    usb_otg: false,
    baud_assumes_40mhz: true,
    stub_uart_from_rom_record: false,
    sim: SimFacts {
        // v1.0 (esptool runs no stub on v0.x), with the 26 MHz crystal of most ESP8684 modules.
        revision_full: 100,
        xtal_hz: 26_000_000,
        ram: (0x3FCD_6108, 0x403A_E000),
        register: sim_register,
        banner: "ESP-ROM:esp8684-api2-20220127\r\nBuild:Jan 27 2022\r\n",
        power_on: "0x1 (POWERON)",
        software_reset: "0x3 (RTC_SW_SYS_RST)",
        panic_cause: "Load access fault",
        boot_download: "0x4 (DOWNLOAD(UART0))",
        boot_flash: "0xc (SPI_FAST_FLASH_BOOT)",
    },
};

pub const CHIP: Chip = Chip {
    name: "esp32c2",
    pretty: "ESP32-C2",
    image_chip_id: 0x000C,
    bootloader_offset: 0x0,
    flash_freqs: &[("60m", 0xF), ("30m", 0x0), ("20m", 0x1), ("15m", 0x2)],
    magic: &[0x6F51_306F, 0x7C41_A06F, 0x0C21_E06F],
    detect: Detect::SecurityInfo,
    flash_map: [(0x4200_0000, 0x4240_0000), (0x3C00_0000, 0x3C40_0000)],
    rom: Some(&ROM),
};

/// The chip as esptool describes it: package (block 2 word 1 bits 22-24), revision (major: word
/// 1 bits 20-21; minor: bits 16-19), MAC (word 1's low half, then word 0), the crystal from the
/// UART divider.
fn describe(r: &Registers) -> Described {
    let w1 = r.get(block2(1));
    let name = match (w1 >> 22) & 7 {
        0 => "ESP32-C2",
        1 => "ESP8684H",
        _ => "Unknown ESP32-C2",
    };
    let (major, minor) = ((w1 >> 20) & 3, (w1 >> 16) & 0xF);
    Described {
        description: format!("{name} (revision v{major}.{minor})"),
        revision: (major, minor),
        mac: super::mac_from_words(r.get(block2(0)), w1),
        crystal_mhz: super::crystal_from_clkdiv(r.get(reg::UART_CLKDIV)),
    }
}

/// esptool's feature list: embedded flash (word 7 bits 29-31) and its vendor (bits 24-26).
pub(super) fn features(r: &Registers) -> Vec<String> {
    let w7 = r.get(block2(7));
    let flash = match (w7 >> 29) & 7 {
        0 => None,
        1 => Some("4MB"),
        2 => Some("2MB"),
        3 => Some("1MB"),
        _ => Some(""),
    };
    let vendor = ["", "XMC", "GD", "FM", "TT", "ZBIT", "", ""][((w7 >> 24) & 7) as usize];
    super::feature_list(
        &["Wi-Fi", "BT 5 (LE)", "Single Core", "120MHz"],
        flash.map(|f| format!("{} ({vendor})", super::embedded("Flash", f))),
    )
}

/// The simulated ESP32-C2: package 0, revision v1.0, no embedded flash, booted into download
/// mode over UART.
fn sim_register(addr: u32, mac: [u8; 6]) -> Option<u32> {
    let (mac_low, mac_high) = super::mac_words(mac);
    Some(match addr {
        a if a == block2(0) => mac_low,
        // Major revision 1 in bits 20-21, beside the MAC's first two bytes.
        a if a == block2(1) => mac_high | (1 << 20),
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
        let mac = [0x08, 0x3A, 0x8D, 0x01, 0x02, 0x03];
        let d = describe(&Registers(regs(mac)));
        assert_eq!(d.description, "ESP32-C2 (revision v1.0)");
        assert_eq!(
            d.revision.0 * 100 + d.revision.1,
            ROM.sim.revision_full as u32
        );
        assert_eq!(d.mac, mac);
        assert_eq!(d.crystal_mhz, 26);
        assert_eq!(
            features(&Registers(regs(mac))),
            ["Wi-Fi", "BT 5 (LE)", "Single Core", "120MHz"]
        );
        // An ESP8684H with 2 MB of embedded flash from GD, on a 40 MHz crystal.
        let mut v = regs(mac);
        v[1].1 |= (1 << 22) | (2 << 16);
        v[2].1 = (2 << 29) | (2 << 24);
        v[3].1 = 40_000_000 / 115_200;
        let d = describe(&Registers(v.clone()));
        assert_eq!(d.description, "ESP8684H (revision v1.2)");
        assert_eq!(d.crystal_mhz, 40);
        assert_eq!(features(&Registers(v))[4], "Embedded Flash 2MB (GD)");
    }
}
