//! The original ESP32 (esptool 5.6.0 `targets/esp32.py`): the chip otaflash drives end to end.
//! Its ROM has no GET_SECURITY_INFO (the magic register tells it), reads its identity from eFuse
//! block 0 and the APB date register, and derives its baud divider from a crystal estimate that
//! esptool corrects for.

use super::security::{Field, SecurityFacts};
use super::{Chip, Described, Detect, Registers, Rom, RomCrystal, SimFacts, SpiRegs};

/// Register addresses (esptool `ESP32ROM`).
pub mod reg {
    /// eFuse block 0, read words (`EFUSE_RD_REG_BASE`).
    pub const EFUSE_BASE: u32 = 0x3FF5_A000;
    /// Words of eFuse block 0 read to describe the chip (MAC in 1-2, package and revision bits
    /// in 3 and 5, the CK8M calibration in 4).
    pub const EFUSE_WORDS: u32 = 7;
    pub const APB_CTL_DATE: u32 = 0x3FF6_607C;
    pub const UART_CLKDIV: u32 = 0x3FF4_0014;
    pub const RTCCALICFG1: u32 = 0x3FF5_F06C;
    pub const GPIO_STRAP: u32 = 0x3FF4_4038;
    pub const SPI_BASE: u32 = 0x3FF4_2000;
}

const fn efuse(word: u32) -> u32 {
    reg::EFUSE_BASE + 4 * word
}

const IDENTITY_REGS: &[u32] = &[
    efuse(0),
    efuse(1),
    efuse(2),
    efuse(3),
    efuse(4),
    efuse(5),
    efuse(6),
    reg::APB_CTL_DATE,
    reg::UART_CLKDIV,
];

pub static ROM: Rom = Rom {
    encrypted_write_align: 32,
    // eFuse block 0 (esptool `EFUSE_SPI_BOOT_CRYPT_CNT_*`, `EFUSE_RD_ABS_DONE_*`,
    // `EFUSE_DIS_DOWNLOAD_MANUAL_ENCRYPT`; JTAG_DISABLE is bit 6 of the same word).
    security: SecurityFacts::Efuse {
        crypt_cnt: Field::new(efuse(0), 0x7F << 20),
        secure_boot_v1: Field::new(efuse(6), 1 << 4),
        secure_boot_v2: Field::new(efuse(6), 1 << 5),
        manual_encrypt_disabled: Field::new(efuse(6), 1 << 7),
        jtag_disabled: Field::new(efuse(6), 1 << 6),
    },
    begin_takes_encrypt_flag: false,
    uart_clkdiv: reg::UART_CLKDIV,
    spi: SpiRegs {
        base: reg::SPI_BASE,
        usr: 0x1C,
        usr1: 0x20,
        usr2: 0x24,
        mosi_dlen: 0x28,
        miso_dlen: 0x2C,
        w0: 0x80,
    },
    identity_regs: IDENTITY_REGS,
    describe,
    crystal: Some(RomCrystal {
        calibration_reg: reg::RTCCALICFG1,
        ck8m_reg: efuse(4),
    }),
    usb_otg: false,
    baud_assumes_40mhz: false,
    stub_uart_from_rom_record: true,
    sim: SimFacts {
        revision_full: 301,
        xtal_hz: 40_000_000,
        ram: (0x3FFF_0030, 0x4007_8000),
        register: sim_register,
        banner: "ets Jun  8 2016 00:22:57\r\n\r\n",
        power_on: "0x1 (POWERON_RESET)",
        software_reset: "0xc (SW_CPU_RESET)",
        panic_cause: "LoadProhibited",
        boot_download: "0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))",
        boot_flash: "0x13 (SPI_FAST_FLASH_BOOT)",
    },
};

pub const CHIP: Chip = Chip {
    name: "esp32",
    pretty: "ESP32",
    image_chip_id: 0x0000,
    bootloader_offset: 0x1000,
    flash_freqs: super::FREQ_40M_XTAL,
    magic: &[0x00F0_1D83],
    detect: Detect::Magic,
    flash_map: [(0x400D_0000, 0x4040_0000), (0x3F40_0000, 0x3F80_0000)],
    rom: Some(&ROM),
};

/// The chip as esptool describes it: package and revision from eFuse words 3 and 5 and the APB
/// date register, MAC from words 1-2, the crystal from the UART divider the ROM set for 115200.
fn describe(r: &Registers) -> Described {
    let w = |n: u32| r.get(efuse(n));
    let apb_date = r.get(reg::APB_CTL_DATE);
    let clkdiv = r.get(reg::UART_CLKDIV);
    let pkg = ((w(3) >> 9) & 7) | (((w(3) >> 2) & 1) << 3);
    let rev_bits = ((apb_date >> 31) & 1) << 2 | ((w(5) >> 20) & 1) << 1 | ((w(3) >> 15) & 1);
    let major = match rev_bits {
        1 => 1,
        3 => 2,
        7 => 3,
        _ => 0,
    };
    let minor = (w(5) >> 24) & 3;
    let single_core = w(3) & 1 != 0;
    let rev3 = major == 3;
    let name = match pkg {
        0 if single_core => "ESP32-S0WDQ6",
        0 if rev3 => "ESP32-D0WDQ6-V3",
        0 => "ESP32-D0WDQ6",
        1 if single_core => "ESP32-S0WD",
        1 if rev3 => "ESP32-D0WD-V3",
        1 => "ESP32-D0WD",
        2 => "ESP32-D2WD",
        4 => "ESP32-U4WDH",
        5 if rev3 => "ESP32-PICO-V3",
        5 => "ESP32-PICO-D4",
        6 => "ESP32-PICO-V3-02",
        7 => "ESP32-D0WDR2-V3",
        _ => "Unknown ESP32",
    };
    let w2 = w(2).to_be_bytes();
    let w1 = w(1).to_be_bytes();
    Described {
        description: format!("{name} (revision v{major}.{minor})"),
        revision: (major, minor),
        mac: [w2[2], w2[3], w1[0], w1[1], w1[2], w1[3]],
        crystal_mhz: super::crystal_from_clkdiv(clkdiv),
    }
}

/// esptool's feature list (`get_chip_features`): Bluetooth unless disabled (word 3 bit 1), cores.
pub(super) fn features(r: &Registers) -> Vec<String> {
    let w3 = r.get(efuse(3));
    let mut f = vec!["Wi-Fi"];
    if w3 & 2 == 0 {
        f.push("BT");
    }
    f.push(if w3 & 1 != 0 {
        "Single Core"
    } else {
        "Dual Core"
    });
    f.into_iter().map(String::from).collect()
}

/// The simulated ESP32: an ESP32-D0WD-V3, revision v3.1 (eFuse words 3 and 5 with the APB
/// date bit), booted into download mode over UART.
fn sim_register(addr: u32, mac: [u8; 6]) -> Option<u32> {
    let m = mac;
    Some(match addr {
        // MAC: word 2 = CRC(8) | 0(8) | mac0 | mac1 ; word 1 = mac2..mac5 (esptool read_mac).
        a if a == efuse(1) => u32::from_be_bytes([m[2], m[3], m[4], m[5]]),
        a if a == efuse(2) => u32::from_be_bytes([0x00, 0x5A, m[0], m[1]]),
        // CHIP_VER_REV1 (bit 15) and package D0WD (1 << 9).
        a if a == efuse(3) => (1 << 15) | (1 << 9),
        // The CK8M frequency calibration.
        a if a == efuse(4) => 0x80,
        a if a == efuse(5) => (1 << 20) | (1 << 24),
        a if (reg::EFUSE_BASE..reg::EFUSE_BASE + 0x100).contains(&a) => 0,
        reg::APB_CTL_DATE => 1 << 31,
        reg::GPIO_STRAP => 0x13,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs(mac: [u8; 6]) -> Registers {
        Registers(crate::chips::sim_identity(&ROM, mac))
    }

    #[test]
    fn the_simulated_chip_is_described_as_esptool_does() {
        let mac = [0x24, 0x0A, 0xC4, 0x0E, 0x51, 0x4D];
        let d = describe(&regs(mac));
        assert_eq!(d.description, "ESP32-D0WD-V3 (revision v3.1)");
        assert_eq!(d.revision, (3, 1));
        assert_eq!(
            d.revision.0 * 100 + d.revision.1,
            ROM.sim.revision_full as u32
        );
        assert_eq!(d.mac, mac);
        assert_eq!(d.crystal_mhz, 40);
        assert_eq!(features(&regs(mac)), ["Wi-Fi", "BT", "Dual Core"]);
    }

    #[test]
    fn crystal_estimate_round_trips() {
        let c = ROM.crystal.unwrap();
        let ck8m = sim_register(c.ck8m_reg, [0; 6]).unwrap();
        let cal = c.calibration_for(41.5e6, ck8m);
        let est = c.estimate_hz(cal, ck8m);
        assert!((est - 41.5e6).abs() < 20e3, "{est}");
        // esptool sends 921600 × est / 40 MHz so that the ROM lands on 921600.
        assert_eq!(c.baud_value(921_600, 40e6), 921_600);
        assert_eq!(c.baud_value(921_600, 41.5e6), 956_160);
    }
}
