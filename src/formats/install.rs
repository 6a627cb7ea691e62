//! Installing files at flash offsets — the parts of an ESP Web Tools build, a merged image written
//! at 0, or files at addresses as `esptool write-flash` takes them — checked before anything is
//! written. Blockers stop the install (nothing is written); cautions need the technician's yes
//! (data that would be lost, a bootloader whose header does not match the flash, parts where the
//! bootloader will not look). Pure: the page and the CLI plan the same way.

use super::bootable::{judge, ImageProblem, Target};
use super::image::{Image, HEADER_LEN, IMAGE_MAGIC};
use super::numbers::human_size;
use super::otadata::OTADATA_LEN;
use super::partition::{Md5Status, Partition, PartitionTable, TYPE_DATA};
use super::sha256;
use super::sniff::{self, Kind};
use crate::chips::{self, Chip};
use std::rc::Rc;

/// Flash is erased and written in 4 KiB sectors.
pub const SECTOR: u32 = 0x1000;

/// What a file is, for where it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    Bootloader,
    PartitionTable,
    Otadata,
    App,
    /// A whole flash image written at 0 (`esptool merge-bin` output, a dump, a backup).
    FlashImage,
    /// Anything else (NVS, SPIFFS, …): written where it is told.
    Data,
}

impl PartKind {
    pub fn of(bytes: &[u8]) -> PartKind {
        match sniff::detect(bytes) {
            Kind::PartitionTable => PartKind::PartitionTable,
            Kind::Otadata => PartKind::Otadata,
            Kind::FlashDump => PartKind::FlashImage,
            Kind::AppImage => match Image::parse(bytes) {
                Ok(i) if !i.is_app() => PartKind::Bootloader,
                _ => PartKind::App,
            },
            _ => PartKind::Data,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PartKind::Bootloader => "bootloader",
            PartKind::PartitionTable => "partition table",
            PartKind::Otadata => "otadata",
            PartKind::App => "app",
            PartKind::FlashImage => "whole-flash image",
            PartKind::Data => "data",
        }
    }
}

/// One file to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub name: String,
    pub offset: u32,
    pub bytes: Rc<Vec<u8>>,
    pub kind: PartKind,
}

impl Part {
    pub fn new(name: impl Into<String>, offset: u32, bytes: Vec<u8>) -> Part {
        let kind = PartKind::of(&bytes);
        Part {
            name: name.into(),
            offset,
            bytes: Rc::new(bytes),
            kind,
        }
    }

    pub fn end(&self) -> u64 {
        self.offset as u64 + self.bytes.len() as u64
    }
}

/// Where a file of this kind goes by default: the bootloader at the chip's bootloader offset, a
/// table at the table offset, otadata at the table's otadata, an app into the first app slot,
/// a whole-flash image at 0; data has no default.
pub fn default_offset(
    kind: PartKind,
    bytes: &[u8],
    chip: Option<&'static Chip>,
    table: Option<&PartitionTable>,
    table_offset: u32,
) -> Option<u32> {
    match kind {
        PartKind::Bootloader => chip
            .or_else(|| Image::parse(bytes).ok().and_then(|i| i.chip()))
            .map(|c| c.bootloader_offset),
        PartKind::PartitionTable => Some(table_offset),
        PartKind::Otadata => table.and_then(|t| t.otadata()).map(|p| p.offset),
        PartKind::App => table
            .and_then(|t| t.entries.iter().find(|p| p.is_app()))
            .map(|p| p.offset),
        PartKind::FlashImage => Some(0),
        PartKind::Data => None,
    }
}

/// The board an install is planned for.
#[derive(Debug, Clone, Copy)]
pub struct Board<'a> {
    pub chip: &'static Chip,
    /// major × 100 + minor, when known.
    pub revision: Option<u16>,
    pub flash_size: u32,
    /// The partition table on the board now (None: blank, or none readable).
    pub current: Option<&'a PartitionTable>,
    /// Where the bootloader reads the table (CONFIG_PARTITION_TABLE_OFFSET; 0x8000 by default).
    pub table_offset: u32,
}

/// What stops an install: nothing is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocker {
    NoParts,
    EmptyFile(String),
    /// Not at a 4 KiB sector start: writing would erase the bytes before it in its sector.
    Unaligned {
        part: String,
        offset: u32,
    },
    Overlap {
        a: String,
        b: String,
    },
    PastEnd {
        part: String,
        end: u64,
        flash: u32,
    },
    /// An image the bootloader would refuse on this chip (wrong chip, revision, corrupt).
    BadImage {
        part: String,
        problems: Vec<ImageProblem>,
    },
    /// A table that does not decode, or that the bootloader rejects.
    BadTable {
        part: String,
        why: String,
    },
    /// The app does not fit the partition it is written to.
    AppTooBig {
        part: String,
        slot: String,
        len: u64,
        size: u32,
    },
}

impl Blocker {
    pub fn message(&self) -> String {
        match self {
            Blocker::NoParts => "nothing to install".into(),
            Blocker::EmptyFile(p) => format!("{p} is empty"),
            Blocker::Unaligned { part, offset } => format!(
                "{part} at 0x{offset:x} does not start a 4 KiB flash sector: writing it would erase the bytes before it in that sector"
            ),
            Blocker::Overlap { a, b } => format!("{a} and {b} overlap"),
            Blocker::PastEnd { part, end, flash } => format!(
                "{part} ends at 0x{end:x}, past the end of the {} flash",
                human_size(*flash as u64)
            ),
            Blocker::BadImage { part, problems } => format!(
                "{part}: {}",
                problems
                    .iter()
                    .map(|p| p.message())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Blocker::BadTable { part, why } => format!("{part}: {why}"),
            Blocker::AppTooBig {
                part,
                slot,
                len,
                size,
            } => format!(
                "{part} is {} ({len} bytes), larger than the {} partition '{slot}' it is written to",
                human_size(*len),
                human_size(*size as u64)
            ),
        }
    }
}

/// How a data partition's contents are lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loss {
    /// The new table puts it at another offset.
    Moved(u32),
    /// The new table makes it smaller.
    Shrunk(u32),
    /// The new table has no such partition.
    Removed,
    /// A part is written over it.
    Overwritten(String),
    /// The whole flash is erased first.
    Erased,
}

/// What needs the technician's yes before writing.
#[derive(Debug, Clone, PartialEq)]
pub enum Caution {
    /// The contents of a data partition (NVS, SPIFFS, …) are lost.
    DataLost {
        label: String,
        offset: u32,
        size: u32,
        how: Loss,
    },
    /// The bootloader's header says another flash size than the chip has: it will check the
    /// partition table against that size (`exceeds flash chip size` when smaller).
    BootloaderFlashSize {
        part: String,
        header: u32,
        flash: u32,
        beyond: Vec<String>,
    },
    /// A bootloader image somewhere else than where the ROM looks for it.
    BootloaderElsewhere {
        part: String,
        offset: u32,
        expected: u32,
    },
    /// A partition table somewhere else than where the bootloader reads it.
    TableElsewhere {
        part: String,
        offset: u32,
        expected: u32,
    },
    /// An app where no app partition starts: the bootloader will not run it from there.
    AppNotInSlot { part: String, offset: u32 },
    /// otadata written somewhere else than the table's otadata partition.
    OtadataElsewhere { part: String, offset: u32 },
    /// The board has no bootloader or table and the install does not bring one: nothing boots.
    NothingBoots(String),
}

impl Caution {
    pub fn message(&self) -> String {
        match self {
            Caution::DataLost {
                label,
                offset,
                size,
                how,
            } => {
                let what = format!(
                    "the data in '{label}' (0x{offset:x}, {}) is lost",
                    human_size(*size as u64)
                );
                match how {
                    Loss::Moved(to) => format!("{what}: the new partition table moves it to 0x{to:x}"),
                    Loss::Shrunk(to) => format!(
                        "{what}: the new partition table shrinks it to {}",
                        human_size(*to as u64)
                    ),
                    Loss::Removed => format!("{what}: the new partition table has no such partition"),
                    Loss::Overwritten(p) => format!("{what}: {p} is written over it"),
                    Loss::Erased => format!("{what}: the whole flash is erased first"),
                }
            }
            Caution::BootloaderFlashSize {
                part,
                header,
                flash,
                beyond,
            } => {
                let mut m = format!(
                    "{part}: its header says a {} flash, the chip has {}",
                    human_size(*header as u64),
                    human_size(*flash as u64)
                );
                if !beyond.is_empty() {
                    m.push_str(&format!(
                        "; the bootloader would reject the partition table ({} past {})",
                        beyond.join(", "),
                        human_size(*header as u64)
                    ));
                }
                m
            }
            Caution::BootloaderElsewhere {
                part,
                offset,
                expected,
            } => format!(
                "{part} is a bootloader at 0x{offset:x}; the ROM starts the one at 0x{expected:x}"
            ),
            Caution::TableElsewhere {
                part,
                offset,
                expected,
            } => format!(
                "{part} is a partition table at 0x{offset:x}; the bootloader reads the one at 0x{expected:x}"
            ),
            Caution::AppNotInSlot { part, offset } => format!(
                "{part} is an app at 0x{offset:x}, where no app partition starts: the bootloader will not run it from there"
            ),
            Caution::OtadataElsewhere { part, offset } => format!(
                "{part} is otadata at 0x{offset:x}, not at the table's otadata partition"
            ),
            Caution::NothingBoots(why) => format!("after this, nothing will boot: {why}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanOptions {
    /// Erase the whole flash before writing.
    pub erase_all: bool,
    /// Set the bootloader header's flash size to the chip's (esptool's `--flash-size`).
    pub fit_bootloader: bool,
}

/// An install, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// What will be written, in offset order (a bootloader patched when asked).
    pub parts: Vec<Part>,
    /// The partition table in effect afterwards (the one installed, or the board's).
    pub table: Option<PartitionTable>,
    pub blockers: Vec<Blocker>,
    pub cautions: Vec<Caution>,
    /// The new table differs from the board's (erasing first is then the sensible default).
    pub layout_changes: bool,
    /// What was adjusted, for the record ("bootloader flash size set to 4 MB").
    pub notes: Vec<String>,
}

impl Plan {
    pub fn ready(&self) -> bool {
        self.blockers.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.parts.iter().map(|p| p.bytes.len() as u64).sum()
    }
}

/// The flash size code for a size in bytes (1 MB → 0, 4 MB → 2), if it is one.
pub fn flash_size_code(bytes: u32) -> Option<u8> {
    (0..=7u8).find(|&c| chips::flash_size_bytes(c) == Some(bytes))
}

/// esptool's `--flash-size` for a bootloader: the size nibble of header byte 3 set to `code`,
/// and the appended SHA-256 redone when there is one.
pub fn with_flash_size(image: &[u8], code: u8) -> Vec<u8> {
    let mut b = image.to_vec();
    if b.len() < HEADER_LEN || b[0] != IMAGE_MAGIC {
        return b;
    }
    b[3] = (b[3] & 0x0F) | (code << 4);
    if let Ok(i) = Image::parse(&b) {
        if i.hash_appended() {
            let end = i.checksum_offset + 1;
            let digest = sha256(&b[..end]);
            b[end..end + 32].copy_from_slice(&digest);
        }
    }
    b
}

/// A view of one region of the flash after the install: which part (or slice of a whole-flash
/// image) lands there.
struct Piece<'p> {
    name: String,
    offset: u32,
    bytes: &'p [u8],
    kind: PartKind,
}

/// The pieces to check: each part, and inside a whole-flash image, its bootloader, table,
/// otadata and app slots.
fn pieces<'p>(parts: &'p [Part], board: &Board) -> Vec<Piece<'p>> {
    let mut out = vec![];
    for p in parts {
        if p.kind != PartKind::FlashImage {
            out.push(Piece {
                name: p.name.clone(),
                offset: p.offset,
                bytes: &p.bytes,
                kind: p.kind,
            });
            continue;
        }
        let at = |off: u32, len: usize| -> Option<&'p [u8]> {
            let s = off.checked_sub(p.offset)? as usize;
            p.bytes.get(s..(s + len).min(p.bytes.len()))
        };
        let boot = board.chip.bootloader_offset;
        if let Some(b) = at(boot, 0x8000).filter(|b| b.first() == Some(&IMAGE_MAGIC)) {
            out.push(Piece {
                name: format!("the bootloader in {}", p.name),
                offset: boot,
                bytes: b,
                kind: PartKind::Bootloader,
            });
        }
        if let Some(t) = at(board.table_offset, 0x1000).filter(|t| t.starts_with(&[0xAA, 0x50])) {
            out.push(Piece {
                name: format!("the partition table in {}", p.name),
                offset: board.table_offset,
                bytes: t,
                kind: PartKind::PartitionTable,
            });
            if let Ok(table) = PartitionTable::parse(t) {
                for e in table.entries.iter().filter(|e| e.is_app()) {
                    if let Some(app) = at(e.offset, e.size as usize) {
                        if app.first() == Some(&IMAGE_MAGIC) {
                            out.push(Piece {
                                name: format!("{} in {}", e.name(), p.name),
                                offset: e.offset,
                                bytes: app,
                                kind: PartKind::App,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// Checks `parts` for `board` and returns what will be written and what stands in the way.
pub fn plan(mut parts: Vec<Part>, board: &Board, opts: PlanOptions) -> Plan {
    let mut blockers = vec![];
    let mut cautions = vec![];
    let mut notes = vec![];
    parts.sort_by_key(|p| p.offset);
    if parts.is_empty() {
        blockers.push(Blocker::NoParts);
    }
    for p in &parts {
        if p.bytes.is_empty() {
            blockers.push(Blocker::EmptyFile(p.name.clone()));
        }
        if !p.offset.is_multiple_of(SECTOR) {
            blockers.push(Blocker::Unaligned {
                part: p.name.clone(),
                offset: p.offset,
            });
        }
        if p.end() > board.flash_size as u64 {
            blockers.push(Blocker::PastEnd {
                part: p.name.clone(),
                end: p.end(),
                flash: board.flash_size,
            });
        }
    }
    for w in parts.windows(2) {
        if (w[1].offset as u64) < w[0].end() {
            blockers.push(Blocker::Overlap {
                a: w[0].name.clone(),
                b: w[1].name.clone(),
            });
        }
    }

    // The bootloader's flash size: fitted to the chip when asked.
    let fit = flash_size_code(board.flash_size);
    if opts.fit_bootloader {
        if let Some(code) = fit {
            for p in parts.iter_mut() {
                let at = match p.kind {
                    PartKind::Bootloader if p.offset == board.chip.bootloader_offset => 0,
                    PartKind::FlashImage => board.chip.bootloader_offset as usize,
                    _ => continue,
                };
                let Some(b) = p.bytes.get(at..) else { continue };
                if b.first() != Some(&IMAGE_MAGIC) || b.get(3).map(|x| x >> 4) == Some(code) {
                    continue;
                }
                let patched = with_flash_size(b, code);
                let mut whole = p.bytes.as_ref().clone();
                whole[at..at + patched.len()].copy_from_slice(&patched);
                p.bytes = Rc::new(whole);
                notes.push(format!(
                    "{}: the bootloader's flash size set to {} (header and SHA-256, as esptool --flash-size)",
                    p.name,
                    human_size(board.flash_size as u64)
                ));
            }
        }
    }

    let target = Target::chip(board.chip, board.revision);
    let view = pieces(&parts, board);
    // The table in effect afterwards.
    let mut new_table = None;
    for t in view.iter().filter(|p| p.kind == PartKind::PartitionTable) {
        if t.offset != board.table_offset {
            cautions.push(Caution::TableElsewhere {
                part: t.name.clone(),
                offset: t.offset,
                expected: board.table_offset,
            });
            continue;
        }
        match PartitionTable::parse(t.bytes) {
            Ok(table) if matches!(table.md5, Md5Status::Mismatch { .. }) => {
                blockers.push(Blocker::BadTable {
                    part: t.name.clone(),
                    why: "its MD5 does not match its entries: the bootloader rejects it".into(),
                });
            }
            Ok(table) => {
                if let Some(e) = table
                    .entries
                    .iter()
                    .find(|e| e.end() > board.flash_size as u64)
                {
                    blockers.push(Blocker::BadTable {
                        part: t.name.clone(),
                        why: format!(
                            "partition '{}' ends at 0x{:x}, past the end of the {} flash",
                            e.name(),
                            e.end(),
                            human_size(board.flash_size as u64)
                        ),
                    });
                }
                new_table = Some(table);
            }
            Err(e) => blockers.push(Blocker::BadTable {
                part: t.name.clone(),
                why: e.to_string(),
            }),
        }
    }
    let table = new_table.clone().or_else(|| board.current.cloned());

    for p in &view {
        match p.kind {
            PartKind::Bootloader => {
                let problems: Vec<ImageProblem> = judge(p.bytes, target, p.offset, None)
                    .problems
                    .into_iter()
                    .filter(|x| !matches!(x, ImageProblem::NotAnApp))
                    .collect();
                if !problems.is_empty() {
                    blockers.push(Blocker::BadImage {
                        part: p.name.clone(),
                        problems,
                    });
                }
                if p.offset != board.chip.bootloader_offset {
                    cautions.push(Caution::BootloaderElsewhere {
                        part: p.name.clone(),
                        offset: p.offset,
                        expected: board.chip.bootloader_offset,
                    });
                } else if let Some(h) = super::image::Header::parse(p.bytes) {
                    let header = chips::flash_size_bytes(h.flash_size_code).unwrap_or(0);
                    if Some(h.flash_size_code) != fit && header != 0 {
                        let beyond = table
                            .iter()
                            .flat_map(|t| t.entries.iter())
                            .filter(|e| e.end() > header as u64)
                            .map(Partition::name)
                            .collect();
                        cautions.push(Caution::BootloaderFlashSize {
                            part: p.name.clone(),
                            header,
                            flash: board.flash_size,
                            beyond,
                        });
                    }
                }
            }
            PartKind::App => {
                let slot = table
                    .iter()
                    .flat_map(|t| t.entries.iter())
                    .find(|e| e.is_app() && e.offset == p.offset);
                let mut problems = judge(p.bytes, target, p.offset, None).problems;
                problems.retain(|x| !matches!(x, ImageProblem::TooBigForSlot { .. }));
                if !problems.is_empty() {
                    blockers.push(Blocker::BadImage {
                        part: p.name.clone(),
                        problems,
                    });
                }
                match slot {
                    Some(s) if p.bytes.len() as u64 > s.size as u64 => {
                        blockers.push(Blocker::AppTooBig {
                            part: p.name.clone(),
                            slot: s.name(),
                            len: p.bytes.len() as u64,
                            size: s.size,
                        })
                    }
                    Some(_) => {}
                    None if table.is_some() => cautions.push(Caution::AppNotInSlot {
                        part: p.name.clone(),
                        offset: p.offset,
                    }),
                    None => {}
                }
            }
            PartKind::Otadata => {
                let at = table.as_ref().and_then(|t| t.otadata()).map(|o| o.offset);
                if at != Some(p.offset) || p.bytes.len() != OTADATA_LEN {
                    cautions.push(Caution::OtadataElsewhere {
                        part: p.name.clone(),
                        offset: p.offset,
                    });
                }
            }
            _ => {}
        }
    }

    // A board left without a bootloader or a table boots nothing.
    if board.current.is_none() && !view.iter().any(|p| p.kind == PartKind::PartitionTable) {
        cautions.push(Caution::NothingBoots(
            "the board has no partition table and none is installed".into(),
        ));
    }
    if (board.current.is_none() || opts.erase_all)
        && !view.iter().any(|p| p.kind == PartKind::Bootloader)
    {
        cautions.push(Caution::NothingBoots(format!(
            "no bootloader is installed at 0x{:x}{}",
            board.chip.bootloader_offset,
            if opts.erase_all {
                " and the flash is erased first"
            } else {
                " (a blank board has none)"
            }
        )));
    }

    // What data is lost.
    let mut layout_changes = false;
    if let Some(cur) = board.current {
        if let Some(new) = &new_table {
            layout_changes = new.entries != cur.entries;
        }
        for d in cur
            .entries
            .iter()
            .filter(|e| e.ty == TYPE_DATA && !e.is_otadata())
        {
            let how = if opts.erase_all {
                Some(Loss::Erased)
            } else if let Some(new) = &new_table {
                match new
                    .entries
                    .iter()
                    .find(|n| n.ty == d.ty && n.subtype == d.subtype && n.name() == d.name())
                {
                    None => Some(Loss::Removed),
                    Some(n) if n.offset != d.offset => Some(Loss::Moved(n.offset)),
                    Some(n) if n.size < d.size => Some(Loss::Shrunk(n.size)),
                    Some(_) => None,
                }
            } else {
                None
            };
            let how = how.or_else(|| {
                parts
                    .iter()
                    .find(|p| {
                        (p.offset as u64) < d.end() && p.end() > d.offset as u64 && {
                            // Inside a whole-flash image, only bytes that are not blank count.
                            let s = (d.offset.max(p.offset) - p.offset) as usize;
                            let e = ((d.end().min(p.end())) - p.offset as u64) as usize;
                            p.bytes[s..e].iter().any(|&b| b != 0xFF)
                                || p.kind != PartKind::FlashImage
                        }
                    })
                    .map(|p| Loss::Overwritten(p.name.clone()))
            });
            if let Some(how) = how {
                cautions.push(Caution::DataLost {
                    label: d.name(),
                    offset: d.offset,
                    size: d.size,
                    how,
                });
            }
        }
    }

    Plan {
        parts,
        table,
        blockers,
        cautions,
        layout_changes,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::demo;

    fn fw(name: &str) -> Vec<u8> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/firmware");
        std::fs::read(dir.join(name)).unwrap()
    }

    fn board(current: Option<&PartitionTable>) -> Board<'_> {
        Board {
            chip: crate::chips::ESP32,
            revision: Some(301),
            flash_size: 4 << 20,
            current,
            table_offset: 0x8000,
        }
    }

    /// The manifest's ESP32 build: Arduino bootloader, table, boot_app0, StartCounter.
    fn arduino_build() -> Vec<Part> {
        vec![
            Part::new(
                "bootloader.bin",
                0x1000,
                fw("arduino_bootloader_dio_40m.bin"),
            ),
            Part::new(
                "partitions.bin",
                0x8000,
                fw("arduino_partitions_default.bin"),
            ),
            Part::new("boot_app0.bin", 0xE000, fw("arduino_boot_app0.bin")),
            Part::new("app.bin", 0x10000, fw("arduino_StartCounter.ino.bin")),
        ]
    }

    #[test]
    fn kinds_and_default_offsets() {
        let kinds: Vec<PartKind> = arduino_build().iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [
                PartKind::Bootloader,
                PartKind::PartitionTable,
                PartKind::Otadata,
                PartKind::App
            ]
        );
        let t = PartitionTable::parse(&fw("arduino_partitions_default.bin")).unwrap();
        for p in arduino_build() {
            assert_eq!(
                default_offset(
                    p.kind,
                    &p.bytes,
                    Some(crate::chips::ESP32),
                    Some(&t),
                    0x8000
                ),
                Some(p.offset),
                "{}",
                p.name
            );
        }
        assert_eq!(
            PartKind::of(&demo::arduino_like_flash()),
            PartKind::FlashImage
        );
        assert_eq!(PartKind::of(b"nvs data"), PartKind::Data);
    }

    #[test]
    fn a_blank_board_takes_a_whole_build() {
        let p = plan(arduino_build(), &board(None), PlanOptions::default());
        assert!(p.ready(), "{:?}", p.blockers);
        assert!(p.cautions.is_empty(), "{:?}", p.cautions);
        assert_eq!(p.table.unwrap().find("app0").unwrap().offset, 0x10000);
        // Without a bootloader, a blank board boots nothing: said.
        let mut parts = arduino_build();
        parts.remove(0);
        let p = plan(parts, &board(None), PlanOptions::default());
        assert!(
            matches!(p.cautions[0], Caution::NothingBoots(ref w) if w.contains("no bootloader"))
        );
    }

    #[test]
    fn refusals() {
        let b = board(None);
        // Overlap: the app written over the table's sector.
        let mut parts = arduino_build();
        parts[3].offset = 0x8000;
        let p = plan(parts, &b, PlanOptions::default());
        assert!(
            p.blockers
                .iter()
                .any(|x| matches!(x, Blocker::Overlap { .. })),
            "{:?}",
            p.blockers
        );
        // Past the end of the flash, and not at a sector start.
        let p = plan(
            vec![Part::new("x.bin", 0x3FF000, vec![1; 0x2000])],
            &b,
            PlanOptions::default(),
        );
        assert!(matches!(
            p.blockers[0],
            Blocker::PastEnd { end: 0x401000, .. }
        ));
        let p = plan(
            vec![Part::new("x.bin", 0x9010, vec![1; 16])],
            &b,
            PlanOptions::default(),
        );
        assert!(matches!(
            p.blockers[0],
            Blocker::Unaligned { offset: 0x9010, .. }
        ));
        // An app for another chip, and one too big for its slot under the table written.
        let mut parts = arduino_build();
        parts[3] = Part::new(
            "s3.bin",
            0x10000,
            std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/data/app_images/esptool_test_images/helloworld-esp32s3.bin"),
            )
            .unwrap(),
        );
        let p = plan(parts, &b, PlanOptions::default());
        assert!(
            p.blockers
                .iter()
                .any(|x| x.message().contains("built for ESP32-S3")),
            "{:?}",
            p.blockers
        );
        let small = PartitionTable::from_csv(
            "nvs,data,nvs,0x9000,0x5000\notadata,data,ota,0xe000,0x2000\napp0,app,ota_0,0x10000,0x10000\napp1,app,ota_1,0x20000,0x10000\n",
            0x8000,
        )
        .unwrap();
        let mut parts = arduino_build();
        parts[1] = Part::new("small.bin", 0x8000, small.to_bytes().unwrap());
        let p = plan(parts, &b, PlanOptions::default());
        assert!(
            p.blockers
                .iter()
                .any(|x| matches!(x, Blocker::AppTooBig { slot, .. } if slot == "app0")),
            "{:?}",
            p.blockers
        );
        // A table whose partition runs past the flash.
        let big = PartitionTable::from_csv("app0,app,ota_0,0x10000,0x400000\n", 0x8000).unwrap();
        let p = plan(
            vec![Part::new("big.bin", 0x8000, big.to_bytes().unwrap())],
            &b,
            PlanOptions::default(),
        );
        assert!(p
            .blockers
            .iter()
            .any(|x| x.message().contains("past the end of the 4 MB flash")));
    }

    #[test]
    fn bootloader_flash_size_is_checked_and_fitted_as_esptool_does() {
        // The IDF v5.2.2 bootloader says 2 MB: with the 4 MB Arduino table it would reject app1.
        let mut parts = arduino_build();
        parts[0] = Part::new("bootloader.bin", 0x1000, fw("idf-v5.2.2_bootloader.bin"));
        let p = plan(parts.clone(), &board(None), PlanOptions::default());
        let c = p
            .cautions
            .iter()
            .find(|c| matches!(c, Caution::BootloaderFlashSize { .. }))
            .unwrap();
        assert!(
            c.message()
                .contains("its header says a 2 MB flash, the chip has 4 MB"),
            "{}",
            c.message()
        );
        assert!(
            c.message().contains("(app1, eeprom, spiffs past 2 MB)"),
            "{}",
            c.message()
        );
        // Fitted: byte for byte what `esptool merge-bin --flash-size 4MB` made.
        let p = plan(
            parts,
            &board(None),
            PlanOptions {
                fit_bootloader: true,
                ..Default::default()
            },
        );
        assert!(p.cautions.is_empty(), "{:?}", p.cautions);
        assert_eq!(*p.parts[0].bytes, fw("idf-v5.2.2_bootloader_4MB.bin"));
        assert_eq!(p.notes.len(), 1);
    }

    #[test]
    fn a_new_layout_says_which_data_is_lost() {
        let cur = PartitionTable::parse(&fw("arduino_partitions_default.bin")).unwrap();
        // Same layout: nothing lost (NVS is kept), no erase suggested.
        let p = plan(arduino_build(), &board(Some(&cur)), PlanOptions::default());
        assert!(
            p.cautions.is_empty() && !p.layout_changes,
            "{:?}",
            p.cautions
        );
        // A table that moves NVS and drops spiffs.
        let moved = PartitionTable::from_csv(
            "otadata,data,ota,0xe000,0x2000\napp0,app,ota_0,0x10000,0x140000\napp1,app,ota_1,0x150000,0x140000\nnvs,data,nvs,0x3f0000,0x5000\n",
            0x8000,
        )
        .unwrap();
        let mut parts = arduino_build();
        parts[1] = Part::new("moved.bin", 0x8000, moved.to_bytes().unwrap());
        let p = plan(parts, &board(Some(&cur)), PlanOptions::default());
        assert!(p.layout_changes);
        let msgs: Vec<String> = p.cautions.iter().map(Caution::message).collect();
        assert!(
            msgs.iter().any(|m| m.contains(
                "'nvs' (0x9000, 20 KB) is lost: the new partition table moves it to 0x3f0000"
            )),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.contains("'spiffs'") && m.contains("has no such partition")),
            "{msgs:?}"
        );
        // A part written over NVS, and an erase first.
        let p = plan(
            vec![Part::new("nvs.bin", 0x9000, vec![0; 0x1000])],
            &board(Some(&cur)),
            PlanOptions::default(),
        );
        assert!(p
            .cautions
            .iter()
            .any(|c| c.message().contains("nvs.bin is written over it")));
        let p = plan(
            arduino_build(),
            &board(Some(&cur)),
            PlanOptions {
                erase_all: true,
                ..Default::default()
            },
        );
        assert!(p
            .cautions
            .iter()
            .any(|c| c.message().contains("the whole flash is erased first")));
    }

    #[test]
    fn a_merged_image_is_checked_inside() {
        let merged = demo::arduino_like_flash();
        let p = plan(
            vec![Part::new("flash.bin", 0, merged.clone())],
            &board(None),
            PlanOptions::default(),
        );
        assert!(
            p.ready() && p.cautions.is_empty(),
            "{:?} {:?}",
            p.blockers,
            p.cautions
        );
        assert_eq!(p.table.unwrap().entries.len(), 6);
        // Its app slot holding an image for another chip is refused.
        let mut bad = merged;
        bad[0x10000 + 12] = 9;
        let p = plan(
            vec![Part::new("flash.bin", 0, bad)],
            &board(None),
            PlanOptions::default(),
        );
        assert!(
            p.blockers
                .iter()
                .any(|b| b.message().starts_with("app0 in flash.bin")),
            "{:?}",
            p.blockers
        );
        // A merged image bigger than the flash.
        let p = plan(
            vec![Part::new("big.bin", 0, vec![0xFF; 8 << 20])],
            &board(None),
            PlanOptions::default(),
        );
        assert!(matches!(p.blockers[0], Blocker::PastEnd { .. }));
    }
}
