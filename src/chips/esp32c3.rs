//! ESP32-C3: what otaflash knows of it so far (esptool 5.6.0 `targets/esp32c3.py`): names,
//! image chip id, bootloader offset, flash frequencies, detection values and the flash-mapped
//! ranges. Its ROM loader is not driven yet.

use super::{Chip, Detect};

pub const CHIP: Chip = Chip {
    name: "esp32c3",
    pretty: "ESP32-C3",
    image_chip_id: 0x0005,
    bootloader_offset: 0x0,
    flash_freqs: super::FREQ_40M_XTAL,
    magic: &[0x6921_506F, 0x1B31_506F, 0x4881_606F, 0x4361_606F],
    detect: Detect::SecurityInfo,
    flash_map: [(0x4200_0000, 0x4280_0000), (0x3C00_0000, 0x3C80_0000)],
    rom: None,
};
