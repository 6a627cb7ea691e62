//! The offline workbench: .bin files opened without a device (a partition table, an otadata
//! partition, an app image, or a whole flash dump), decoded for display. Pure: the page renders
//! it, tests check it natively and in the browser.

use crate::formats::image::Image;
use crate::formats::otadata::{predict_boot, Boot, Otadata};
use crate::formats::partition::{
    Layout, Md5Status, Partition, PartitionTable, DEFAULT_TABLE_OFFSET,
};
use crate::formats::sniff::{self, Kind};
use crate::formats::Error;

/// What an app partition of a flash dump holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotContent {
    pub label: String,
    pub image: Result<Image, String>,
}

impl SlotContent {
    /// What the bootloader would accept: magic, checksum and (when appended) SHA-256.
    pub fn bootable(&self) -> bool {
        self.image
            .as_ref()
            .is_ok_and(|i| i.checksum_ok() && i.sha256_ok() != Some(false))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Table {
        table: PartitionTable,
        warnings: Vec<String>,
    },
    Otadata(Otadata),
    Image(Image),
    Dump {
        table: PartitionTable,
        warnings: Vec<String>,
        otadata: Option<Result<Otadata, String>>,
        slots: Vec<SlotContent>,
        flash_size: u32,
    },
    /// Could not be decoded; the message says why.
    Unreadable(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpenedFile {
    pub name: String,
    pub bytes: Vec<u8>,
    pub content: Content,
}

fn flash_dump(bytes: &[u8]) -> Result<Content, Error> {
    let table = PartitionTable::from_flash(bytes, DEFAULT_TABLE_OFFSET)?;
    let flash_size = bytes.len() as u32;
    let warnings = table.warnings(&Layout {
        table_offset: DEFAULT_TABLE_OFFSET,
        flash_size: Some(flash_size),
    });
    let otadata = table
        .otadata()
        .map(|_| Otadata::from_flash(bytes, &table).map_err(|e| e.to_string()));
    let slots = dump_slots(bytes, &table);
    Ok(Content::Dump {
        table,
        warnings,
        otadata,
        slots,
        flash_size,
    })
}

/// The images in a dump's app partitions.
pub fn dump_slots(dump: &[u8], table: &PartitionTable) -> Vec<SlotContent> {
    table
        .entries
        .iter()
        .filter(|p| p.is_app())
        .map(|p| SlotContent {
            label: p.name(),
            image: slot_bytes(dump, p)
                .ok_or_else(|| "outside the dump".to_string())
                .and_then(|b| Image::parse(b).map_err(|e| e.to_string())),
        })
        .collect()
}

fn slot_bytes<'b>(dump: &'b [u8], p: &Partition) -> Option<&'b [u8]> {
    let start = p.offset as usize;
    let end = (start + p.size as usize).min(dump.len());
    (start < end).then(|| &dump[start..end])
}

/// Decodes a file whatever it is.
pub fn open(name: &str, bytes: Vec<u8>) -> OpenedFile {
    let decoded = match sniff::detect(&bytes) {
        Kind::PartitionTable => PartitionTable::parse(&bytes).map(|table| {
            let warnings = table.warnings(&Layout::default());
            Content::Table { table, warnings }
        }),
        Kind::Otadata => Otadata::parse(&bytes).map(Content::Otadata),
        Kind::AppImage => Image::parse(&bytes).map(Content::Image),
        Kind::FlashDump => flash_dump(&bytes),
        Kind::Unknown => Err(Error::WrongKind(format!(
            "{} bytes, not a partition table (AA 50…), an app image (E9…), an 8 KiB otadata partition or a flash dump with a table at 0x8000",
            bytes.len()
        ))),
    };
    OpenedFile {
        name: name.to_string(),
        content: decoded.unwrap_or_else(|e| Content::Unreadable(e.to_string())),
        bytes,
    }
}

impl OpenedFile {
    /// The partition table this file provides (a table or a dump).
    pub fn table(&self) -> Option<&PartitionTable> {
        match &self.content {
            Content::Table { table, .. } | Content::Dump { table, .. } => Some(table),
            _ => None,
        }
    }

    pub fn kind_label(&self) -> &'static str {
        match self.content {
            Content::Table { .. } => "partition table",
            Content::Otadata(_) => "otadata",
            Content::Image(_) => "app image",
            Content::Dump { .. } => "flash dump",
            Content::Unreadable(_) => "unreadable",
        }
    }
}

/// The boot prediction for an otadata partition against a table, if the table is usable.
pub fn prediction(
    table: &PartitionTable,
    otadata: &Otadata,
    rollback: bool,
    slots: Option<&[SlotContent]>,
) -> Result<Boot, String> {
    if let Md5Status::Mismatch { .. } = table.md5 {
        return Err(
            "the partition table's MD5 does not match: the bootloader rejects the table".into(),
        );
    }
    let bootable = |p: &Partition| match slots {
        Some(s) => s.iter().any(|c| c.label == p.name() && c.bootable()),
        None => true,
    };
    Ok(predict_boot(table, otadata, rollback, &bootable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_every_kind() {
        let t =
            PartitionTable::from_csv("otadata,data,ota,0xd000,0x2000\na,app,ota_0,,1M\n", 0x8000)
                .unwrap();
        let tb = t.to_bytes().unwrap();
        assert_eq!(open("t.bin", tb.clone()).kind_label(), "partition table");
        assert_eq!(open("o.bin", vec![0xFF; 8192]).kind_label(), "otadata");
        let mut dump = vec![0xFF; 0x20000];
        dump[0x8000..0x8000 + tb.len()].copy_from_slice(&tb);
        let f = open("d.bin", dump);
        assert_eq!(f.kind_label(), "flash dump");
        if let Content::Dump { otadata, slots, .. } = &f.content {
            assert!(otadata.as_ref().unwrap().is_ok());
            assert_eq!(slots.len(), 1);
            assert!(!slots[0].bootable());
        } else {
            panic!()
        }
        let u = open("x.bin", vec![1, 2, 3]);
        assert!(matches!(u.content, Content::Unreadable(ref m) if m.contains("3 bytes")));
        let bad = open("i.bin", vec![0xE9, 1, 2]);
        assert!(matches!(bad.content, Content::Unreadable(ref m) if m.contains("truncated")));
    }
}
