//! ESP32-S2 (esptool 5.6.0 `targets/esp32s2.py`): Xtensa, single core, 40 MHz crystal, native
//! USB-OTG (no USB-Serial-JTAG). Its ROM answers GET_SECURITY_INFO without a chip id (12 bytes),
//! so the magic register tells it; it takes FLASH_BEGIN's fifth word, switches baud exactly, and
//! keeps MAC, revision, embedded flash and PSRAM in eFuse block 1. The bootloader sits at 0x1000.
//! Its USB-OTG CDC port disappears when the chip resets and comes back as a new port.

use super::security::{Field, SecurityFacts};
use super::{Chip, Described, Detect, Registers, Rom, SimFacts, SpiRegs};

/// Register addresses (esptool `ESP32S2ROM`).
pub mod reg {
    pub const EFUSE_BASE: u32 = 0x3F41_A000;
    pub const EFUSE_BLOCK1: u32 = EFUSE_BASE + 0x44;
    pub const EFUSE_BLOCK2: u32 = EFUSE_BASE + 0x5C;
    pub const UART_CLKDIV: u32 = 0x3F40_0014;
    pub const SPI_BASE: u32 = 0x3F40_2000;
}

const fn block1(word: u32) -> u32 {
    reg::EFUSE_BLOCK1 + 4 * word
}

const fn block2(word: u32) -> u32 {
    reg::EFUSE_BLOCK2 + 4 * word
}

const IDENTITY_REGS: &[u32] = &[block1(0), block1(1), block1(3), block1(4), block2(4)];

pub static ROM: Rom = Rom {
    encrypted_write_align: 16,
    // DIS_DOWNLOAD_MANUAL_ENCRYPT (esptool `EFUSE_DIS_DOWNLOAD_MANUAL_ENCRYPT_REG`/`_MASK`).
    security: SecurityFacts::SecurityInfo {
        manual_encrypt_disabled: Field::new(reg::EFUSE_BASE + 0x030, 1 << 19),
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
        // v1.0, the revision of current modules.
        revision_full: 100,
        xtal_hz: 40_000_000,
        ram: (0x3FFE_6100, 0x4004_C000),
        register: sim_register,
        banner: "ESP-ROM:esp32s2-rc4-20191025\r\nBuild:Oct 25 2019\r\n",
        power_on: "0x1 (POWERON)",
        software_reset: "0x3 (RTC_SW_SYS_RST)",
        panic_cause: "LoadProhibited",
        boot_download: "0x0 (DOWNLOAD(USB/UART0/1))",
        boot_flash: "0x8 (SPI_FAST_FLASH_BOOT)",
    },
};

pub const CHIP: Chip = Chip {
    name: "esp32s2",
    pretty: "ESP32-S2",
    image_chip_id: 0x0002,
    bootloader_offset: 0x1000,
    flash_freqs: super::FREQ_40M_XTAL,
    magic: &[0x0000_07C6],
    detect: Detect::MagicAfterShortSecurityInfo,
    flash_map: [(0x4008_0000, 0x40B8_0000), (0x3F00_0000, 0x3F3F_0000)],
    rom: Some(&ROM),
};

/// Embedded flash (word 3 bits 21-24) and PSRAM (word 3 bits 28-31) capacities.
fn caps(r: &Registers) -> (u32, u32) {
    let w3 = r.get(block1(3));
    ((w3 >> 21) & 0xF, (w3 >> 28) & 0xF)
}

/// The chip as esptool describes it: the name from the embedded flash and PSRAM, revision
/// (major: word 3 bits 18-19; minor: word 3 bit 20 over word 4 bits 4-6), MAC (word 1's low
/// half, then word 0).
fn describe(r: &Registers) -> Described {
    let w = |n: u32| r.get(block1(n));
    let (flash, psram) = caps(r);
    let name = match flash + psram * 100 {
        0 => "ESP32-S2",
        1 => "ESP32-S2FH2",
        2 => "ESP32-S2FH4",
        102 => "ESP32-S2FNR2",
        100 => "ESP32-S2R2",
        _ => "Unknown ESP32-S2",
    };
    let major = (w(3) >> 18) & 3;
    let minor = ((w(3) >> 20) & 1) << 3 | ((w(4) >> 4) & 7);
    Described {
        description: format!("{name} (revision v{major}.{minor})"),
        revision: (major, minor),
        mac: super::mac_from_words(w(0), w(1)),
        crystal_mhz: 40,
    }
}

/// esptool's feature list: embedded flash and PSRAM (named also when absent) and the
/// calibration version in eFuse block 2 (word 4 bits 4-6).
pub(super) fn features(r: &Registers) -> Vec<String> {
    let (flash, psram) = caps(r);
    let size = |c: u32, what: &str| match c {
        0 => format!("No Embedded {what}"),
        1 => super::embedded(what, "2MB"),
        2 => super::embedded(what, "4MB"),
        _ => super::embedded(what, ""),
    };
    let block2 = match (r.get(block2(4)) >> 4) & 7 {
        0 => "No calibration in BLK2 of efuse",
        1 => "ADC and temperature sensor calibration in BLK2 of eFuse V1",
        2 => "ADC and temperature sensor calibration in BLK2 of eFuse V2",
        _ => "Unknown calibration in BLK2",
    };
    let mut f = super::feature_list(&["Wi-Fi", "Single Core", "240MHz"], None);
    f.extend([size(flash, "Flash"), size(psram, "PSRAM"), block2.into()]);
    f
}

/// The simulated ESP32-S2: no embedded flash or PSRAM, revision v1.0, calibration V1 in block
/// 2, booted into download mode over UART.
fn sim_register(addr: u32, mac: [u8; 6]) -> Option<u32> {
    let (mac_low, mac_high) = super::mac_words(mac);
    Some(match addr {
        a if a == block1(0) => mac_low,
        a if a == block1(1) => mac_high,
        // Major revision 1 in word 3 bits 18-19.
        a if a == block1(3) => 1 << 18,
        a if a == block2(4) => 1 << 4,
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
        let mac = [0x7C, 0xDF, 0xA1, 0x0A, 0x0B, 0x0C];
        let d = describe(&Registers(regs(mac)));
        assert_eq!(d.description, "ESP32-S2 (revision v1.0)");
        assert_eq!(
            d.revision.0 * 100 + d.revision.1,
            ROM.sim.revision_full as u32
        );
        assert_eq!(d.mac, mac);
        assert_eq!(
            features(&Registers(regs(mac))),
            [
                "Wi-Fi",
                "Single Core",
                "240MHz",
                "No Embedded Flash",
                "No Embedded PSRAM",
                "ADC and temperature sensor calibration in BLK2 of eFuse V1"
            ]
        );
        // An ESP32-S2FNR2: 4 MB flash, 2 MB PSRAM; minor revision from both words.
        let mut v = regs(mac);
        v[2].1 = (2 << 21) | (1 << 28) | (1 << 20);
        v[3].1 = 3 << 4;
        let d = describe(&Registers(v.clone()));
        assert_eq!(d.description, "ESP32-S2FNR2 (revision v0.11)");
        assert_eq!(
            features(&Registers(v))[3..5],
            ["Embedded Flash 4MB", "Embedded PSRAM 2MB"]
        );
    }
}
