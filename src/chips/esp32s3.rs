//! ESP32-S3: what otaflash knows of it so far (esptool 5.6.0 `targets/esp32s3.py`): names,
//! image chip id, bootloader offset, flash frequencies, detection values and the flash-mapped
//! ranges. Its ROM loader is not driven yet.

use super::{Chip, Detect};

pub const CHIP: Chip = Chip {
    name: "esp32s3",
    pretty: "ESP32-S3",
    image_chip_id: 0x0009,
    bootloader_offset: 0x0,
    flash_freqs: super::FREQ_40M_XTAL,
    magic: &[0x0000_0009],
    detect: Detect::SecurityInfo,
    flash_map: [(0x4200_0000, 0x4400_0000), (0x3C00_0000, 0x3E00_0000)],
    rom: None,
};
