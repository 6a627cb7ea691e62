//! Where the ESP-IDF layout puts things and how big they are (partitions.csv, esp_ota_ops,
//! gen_esp32part.py): the facts the parsers and the file-kind guess share.

/// Where the bootloader looks for the partition table unless built otherwise.
pub const DEFAULT_TABLE_OFFSET: u32 = 0x8000;
/// The table occupies one flash sector...
pub const TABLE_SECTOR_SIZE: usize = 0x1000;
/// The first two bytes of a table row.
pub const TABLE_ENTRY_MAGIC: [u8; 2] = [0xAA, 0x50];
/// The otadata partition: two sectors, one `esp_ota_select_entry_t` at the start of each.
pub const OTADATA_LEN: usize = 0x2000;
pub const SECTOR_LEN: usize = 0x1000;
