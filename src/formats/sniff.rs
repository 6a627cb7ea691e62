//! Guessing what a .bin file is, so that the page and the CLI can open any of them and give a
//! useful hint when a file is not what a command expected.

use super::otadata::{OTADATA_LEN, SECTOR_LEN};
use super::partition::{DEFAULT_TABLE_OFFSET, TABLE_SECTOR_SIZE};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PartitionTable,
    Otadata,
    AppImage,
    /// A whole flash (bootloader, table at 0x8000, partitions).
    FlashDump,
    Unknown,
}

const ENTRY_MAGIC: [u8; 2] = [0xAA, 0x50];

fn tail_blank(b: &[u8], sector: usize) -> bool {
    b[sector * SECTOR_LEN + 32..(sector + 1) * SECTOR_LEN]
        .iter()
        .all(|&x| x == 0xFF)
}

pub fn detect(b: &[u8]) -> Kind {
    let table_at = DEFAULT_TABLE_OFFSET as usize;
    if b.len() == OTADATA_LEN && tail_blank(b, 0) && tail_blank(b, 1) {
        Kind::Otadata
    } else if b.len() <= TABLE_SECTOR_SIZE && b.starts_with(&ENTRY_MAGIC) {
        Kind::PartitionTable
    } else if b.len() > table_at + 32 && b[table_at..].starts_with(&ENTRY_MAGIC) {
        Kind::FlashDump
    } else if b.first() == Some(&0xE9) {
        Kind::AppImage
    } else if b.len() == OTADATA_LEN {
        Kind::Otadata
    } else {
        Kind::Unknown
    }
}

/// "an app image", "a partition table", ... for error hints; None if unknown.
pub fn describe(b: &[u8]) -> Option<&'static str> {
    match detect(b) {
        Kind::PartitionTable => Some("a partition table"),
        Kind::Otadata => Some("an otadata partition"),
        Kind::AppImage => Some("an app image"),
        Kind::FlashDump => Some("a full flash dump"),
        Kind::Unknown => None,
    }
}
