//! ESP32-S2: what otaflash knows of it so far (esptool 5.6.0 `targets/esp32s2.py`): names,
//! image chip id, bootloader offset, flash frequencies, detection values and the flash-mapped
//! ranges. Its ROM loader is not driven yet.

use super::{Chip, Detect};

pub const CHIP: Chip = Chip {
    name: "esp32s2",
    pretty: "ESP32-S2",
    image_chip_id: 0x0002,
    bootloader_offset: 0x1000,
    flash_freqs: super::FREQ_40M_XTAL,
    magic: &[0x0000_07C6],
    detect: Detect::MagicAfterShortSecurityInfo,
    flash_map: [(0x4008_0000, 0x40B8_0000), (0x3F00_0000, 0x3F3F_0000)],
    rom: None,
};
