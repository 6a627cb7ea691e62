//! The offline workbench: files opened without a device (a partition table, binary or CSV, an
//! otadata partition, an app or bootloader image, or a whole flash dump), decoded for display.
//! Pure: the page renders it, tests check it natively and in the browser.

use crate::chips::Chip;
use crate::formats::bootable::{judge, Slots, Target};
use crate::formats::image::Image;
use crate::formats::otadata::{predict_boot, Boot, Otadata};
use crate::formats::partition::{Layout, Md5Status, PartitionTable, DEFAULT_TABLE_OFFSET};
use crate::formats::sniff::{self, Kind};
use crate::formats::Error;

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
        /// What each app slot of the dump holds, judged as the bootloader would.
        slots: Slots,
        flash_size: u32,
    },
    /// Every byte 0xFF: erased flash.
    Blank,
    /// Could not be decoded; the message says why, in plain words first.
    Unreadable(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpenedFile {
    pub name: String,
    pub bytes: Vec<u8>,
    pub content: Content,
}

/// The chip a dump was made on, from its second-stage bootloader's header (at the chip's
/// bootloader offset): what the slot images are judged against. Its revision is unknown.
pub fn dump_chip(dump: &[u8]) -> Option<&'static Chip> {
    crate::chips::CHIPS.iter().find(|c| {
        let at = c.bootloader_offset as usize;
        dump.get(at..at + crate::formats::image::HEADER_LEN)
            .and_then(crate::formats::image::Header::parse)
            .is_some_and(|h| {
                h.magic == crate::formats::image::IMAGE_MAGIC && h.chip_id == c.image_chip_id
            })
    })
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

/// What each app partition of a dump holds, judged whole as the bootloader would (a slot past
/// the end of the dump is judged on what the dump has).
pub fn dump_slots(dump: &[u8], table: &PartitionTable) -> Slots {
    // (A dump does not tell the chip's secure boot state: not checked.)
    let target = Target {
        chip: dump_chip(dump),
        ..Target::ANY
    };
    let mut slots = Slots::default();
    for p in table.entries.iter().filter(|p| p.is_app()) {
        let start = (p.offset as usize).min(dump.len());
        let end = (start + p.size as usize).min(dump.len());
        slots.set(p, judge(&dump[start..end], target, p.offset, Some(p.size)));
    }
    slots
}

/// Decodes a file whatever it is.
pub fn open(name: &str, bytes: Vec<u8>) -> OpenedFile {
    let decoded = match sniff::detect(&bytes) {
        Kind::PartitionTable => PartitionTable::parse(&bytes).map(|table| {
            let warnings = table.warnings(&Layout::default());
            Content::Table { table, warnings }
        }),
        Kind::PartitionCsv => std::str::from_utf8(&bytes)
            .map_err(|_| Error::WrongKind("not UTF-8 text".into()))
            .and_then(|t| PartitionTable::from_csv(t, DEFAULT_TABLE_OFFSET))
            .map(|table| {
                let warnings = table.warnings(&Layout::default());
                Content::Table { table, warnings }
            }),
        Kind::Otadata => Otadata::parse(&bytes).map(Content::Otadata),
        Kind::AppImage => Image::parse(&bytes).map(Content::Image),
        Kind::FlashDump => flash_dump(&bytes),
        Kind::Blank => Ok(Content::Blank),
        Kind::Unknown => Err(sniff::not_what_was_expected(
            &bytes,
            "a file otaflash can open",
            &format!(
                "{} bytes; otaflash opens partition tables (binary, starting AA 50, or CSV), images (starting E9), 8 KiB otadata partitions and flash dumps with a table at 0x8000",
                bytes.len()
            ),
        )),
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
        match &self.content {
            Content::Table { .. } => "partition table",
            Content::Otadata(_) => "otadata",
            Content::Image(i) if i.is_app() => "app image",
            Content::Image(_) => "bootloader image",
            Content::Dump { .. } => "flash dump",
            Content::Blank => "blank",
            Content::Unreadable(_) => "unreadable",
        }
    }
}

/// The boot prediction for an otadata partition against a table, if the table is usable.
/// `slots`: what the slots hold, when known (a dump); otherwise their content is unknown and
/// the prediction says so.
pub fn prediction(
    table: &PartitionTable,
    otadata: &Otadata,
    rollback: bool,
    slots: Option<&Slots>,
) -> Result<Boot, String> {
    if let Md5Status::Mismatch { .. } = table.md5 {
        return Err(
            "the partition table's MD5 does not match: the bootloader rejects the table".into(),
        );
    }
    let unknown = Slots::default();
    let slots = slots.unwrap_or(&unknown);
    Ok(predict_boot(table, otadata, rollback, &|p| slots.loads(p)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::bootable::{Holds, Loads};

    #[test]
    fn opens_every_kind() {
        let t =
            PartitionTable::from_csv("otadata,data,ota,0xd000,0x2000\na,app,ota_0,,1M\n", 0x8000)
                .unwrap();
        let tb = t.to_bytes().unwrap();
        assert_eq!(open("t.bin", tb.clone()).kind_label(), "partition table");
        assert_eq!(open("o.bin", vec![0xFF; 8192]).kind_label(), "otadata");
        let csv = open(
            "partitions.csv",
            b"# Name,Type,SubType,Offset,Size\notadata,data,ota,0xd000,0x2000\na,app,ota_0,,1M\n"
                .to_vec(),
        );
        assert_eq!(csv.table(), Some(&t));
        let mut dump = vec![0xFF; 0x20000];
        dump[0x8000..0x8000 + tb.len()].copy_from_slice(&tb);
        let f = open("d.bin", dump);
        assert_eq!(f.kind_label(), "flash dump");
        if let Content::Dump { otadata, slots, .. } = &f.content {
            assert!(otadata.as_ref().unwrap().is_ok());
            let a = &t.entries[1];
            assert_eq!(slots.get(a).unwrap().holds(), Holds::Empty);
            assert!(matches!(slots.loads(a), Loads::No(_)));
        } else {
            panic!()
        }
        assert_eq!(open("e.bin", vec![0xFF; 4096]).kind_label(), "blank");
        let u = open("x.txt", b"hello there\n".to_vec());
        assert!(
            matches!(u.content, Content::Unreadable(ref m) if m.starts_with("This is a text file")),
            "{:?}",
            u.content
        );
        let bad = open("i.bin", vec![0xE9, 1, 2]);
        assert!(matches!(bad.content, Content::Unreadable(ref m) if m.contains("truncated")));
        let boot = open(
            "bootloader.bin",
            crate::sim::demo::bootloader_like(crate::chips::ESP32, 100),
        );
        assert_eq!(boot.kind_label(), "bootloader image");
    }
}
