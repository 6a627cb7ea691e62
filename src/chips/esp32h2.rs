//! ESP32-H2: what otaflash knows of it so far (esptool 5.6.0 `targets/esp32h2.py`): names,
//! image chip id, bootloader offset, flash frequencies, detection values and the flash-mapped
//! ranges. Its ROM loader is not driven yet.

use super::{Chip, Detect};

pub const CHIP: Chip = Chip {
    name: "esp32h2",
    pretty: "ESP32-H2",
    image_chip_id: 0x0010,
    bootloader_offset: 0x0,
    flash_freqs: &[("48m", 0xF), ("24m", 0x0), ("16m", 0x1), ("12m", 0x2)],
    magic: &[0xD7B7_3E80],
    detect: Detect::SecurityInfo,
    flash_map: [(0x4200_0000, 0x4280_0000), (0x4280_0000, 0x4300_0000)],
    rom: None,
};
