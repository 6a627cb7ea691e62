//! ESP32-C6: what otaflash knows of it so far (esptool 5.6.0 `targets/esp32c6.py`): names,
//! image chip id, bootloader offset, flash frequencies, detection values and the flash-mapped
//! ranges. Its ROM loader is not driven yet.

use super::{Chip, Detect};

pub const CHIP: Chip = Chip {
    name: "esp32c6",
    pretty: "ESP32-C6",
    image_chip_id: 0x000D,
    bootloader_offset: 0x0,
    flash_freqs: &[("80m", 0x0), ("40m", 0x0), ("20m", 0x2)],
    magic: &[0x2CE0_806F],
    detect: Detect::SecurityInfo,
    flash_map: [(0x4200_0000, 0x4280_0000), (0x4280_0000, 0x4300_0000)],
    rom: None,
};
