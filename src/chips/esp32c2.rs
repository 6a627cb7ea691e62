//! ESP32-C2: what otaflash knows of it so far (esptool 5.6.0 `targets/esp32c2.py`): names,
//! image chip id, bootloader offset, flash frequencies, detection values and the flash-mapped
//! ranges. Its ROM loader is not driven yet.

use super::{Chip, Detect};

pub const CHIP: Chip = Chip {
    name: "esp32c2",
    pretty: "ESP32-C2",
    image_chip_id: 0x000C,
    bootloader_offset: 0x0,
    flash_freqs: &[("60m", 0xF), ("30m", 0x0), ("20m", 0x1), ("15m", 0x2)],
    magic: &[0x6F51_306F, 0x7C41_A06F, 0x0C21_E06F],
    detect: Detect::SecurityInfo,
    flash_map: [(0x4200_0000, 0x4240_0000), (0x3C00_0000, 0x3C40_0000)],
    rom: None,
};
