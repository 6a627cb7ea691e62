//! Chips whose images otaflash can name (so a file built for one is refused in plain words)
//! but whose ROM it does not talk to (esptool 5.6.0 `targets/`).

use super::{Chip, Detect};

const FREQ_C5: &[(&str, u8)] = &[("80m", 0xF), ("40m", 0x0), ("20m", 0x2)];
const FREQ_H4: &[(&str, u8)] = &[("48m", 0xF), ("24m", 0x0)];

const fn named(
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
        detect: Detect::SecurityInfo,
        flash_map,
        rom: None,
    }
}

pub const ESP32P4: Chip = named(
    "esp32p4",
    "ESP32-P4",
    0x0012,
    0x2000,
    super::FREQ_40M_XTAL,
    &[0x0ADD_BAD0],
    [(0x4000_0000, 0x4C00_0000), (0x4000_0000, 0x4C00_0000)],
);
pub const ESP32C61: Chip = named(
    "esp32c61",
    "ESP32-C61",
    0x0014,
    0x0,
    FREQ_C5,
    &[0x33F0_206F, 0x2421_606F],
    [(0x4200_0000, 0x4280_0000), (0x4280_0000, 0x4300_0000)],
);
pub const ESP32C5: Chip = named(
    "esp32c5",
    "ESP32-C5",
    0x0017,
    0x2000,
    FREQ_C5,
    &[0x1101_406F],
    [(0x4200_0000, 0x4400_0000), (0x4200_0000, 0x4400_0000)],
);
pub const ESP32H21: Chip = named(
    "esp32h21",
    "ESP32-H21",
    0x0019,
    0x0,
    FREQ_H4,
    &[],
    [(0x4200_0000, 0x4300_0000), (0x4200_0000, 0x4300_0000)],
);
pub const ESP32H4: Chip = named(
    "esp32h4",
    "ESP32-H4",
    0x001C,
    0x2000,
    FREQ_H4,
    &[],
    [(0x4200_0000, 0x4400_0000), (0x4200_0000, 0x4400_0000)],
);
pub const ESP32S31: Chip = named(
    "esp32s31",
    "ESP32-S31",
    0x0020,
    0x2000,
    FREQ_C5,
    &[],
    [(0x4000_0000, 0x5400_0000), (0x4000_0000, 0x5400_0000)],
);
