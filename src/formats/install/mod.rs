//! Installing files at flash offsets — the parts of an ESP Web Tools build, a merged image written
//! at 0, or files at addresses as `esptool write-flash` takes them — checked before anything is
//! written. Blockers stop the install (nothing is written); cautions need the technician's yes
//! (data that would be lost, a bootloader whose header does not match the flash, parts where the
//! bootloader will not look). Pure: the page and the CLI plan the same way.

use super::bootable::{judge, ImageProblem, Target, TooBig};
use super::image::{Header, Image, HEADER_LEN, IMAGE_MAGIC};
use super::numbers::human_size;
use super::otadata::OTADATA_LEN;
use super::partition::{Md5Status, Partition, PartitionTable, TYPE_DATA};
use super::sha256;
use super::sniff::{self, Kind};
use crate::chips::security::{SecureBoot, Written};
use crate::chips::{self, Chip};
use std::rc::Rc;

mod problems;
#[cfg(test)]
mod tests;

pub use problems::{Blocker, Caution, Loss};
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
    /// The header of the bootloader on the board now (None: no image there).
    pub bootloader: Option<Header>,
    /// Secure boot on the board: images must carry a signature block.
    pub secure_boot: SecureBoot,
    /// What the board holds cannot be read (flash encryption, secure download mode): `current`
    /// and `bootloader` are unknown, not absent.
    pub unreadable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanOptions {
    /// Erase the whole flash before writing.
    pub erase_all: bool,
    /// Set the bootloader header's flash size to the chip's (esptool's `--flash-size`).
    pub fit_bootloader: bool,
    /// How the files reach the flash: plain, pre-encrypted for the chip's key (written as
    /// they are, never patched), or encrypted by the chip as it writes (development mode: the
    /// bootloader, the table, apps and partitions flagged encrypted; otadata and other data
    /// plain, as `idf.py encrypted-flash` does).
    pub written: Written,
    /// Install even though nothing would boot afterwards (the plan then names it as a
    /// caution, which needs a yes); otherwise that stops the install.
    pub nothing_boots_ok: bool,
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
    /// How the files reach the flash (see [`PlanOptions::written`]).
    pub written: Written,
}

impl Plan {
    /// How `part` reaches the flash.
    pub fn written_for(&self, part: &Part) -> Written {
        if self.written != Written::EncryptedByChip {
            return self.written;
        }
        let flagged = self
            .table
            .iter()
            .flat_map(|t| t.entries.iter())
            .any(|e| e.encrypted() && e.offset <= part.offset && part.end() <= e.end());
        match part.kind {
            PartKind::Bootloader | PartKind::PartitionTable | PartKind::App => {
                Written::EncryptedByChip
            }
            _ if flagged => Written::EncryptedByChip,
            _ => Written::Plain,
        }
    }

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

/// What a bootloader's header flash mode and frequency say against the chip and the bootloader
/// on the board now.
fn flash_mode_caution(part: &str, h: &Header, board: &Board) -> Option<Caution> {
    let mode = chips::flash_mode_name(h.flash_mode);
    let freq = board.chip.flash_freq_name(h.flash_freq_code);
    let (Some(mode), Some(freq)) = (mode, freq) else {
        let what = match mode {
            None => format!("flash mode code {}", h.flash_mode),
            Some(_) => format!("flash frequency code 0x{:x}", h.flash_freq_code),
        };
        return Some(Caution::BootloaderUnknownFlash {
            part: part.into(),
            what,
        });
    };
    let now = board.bootloader?;
    let now_mode = chips::flash_mode_name(now.flash_mode)?;
    let now_freq = board.chip.flash_freq_name(now.flash_freq_code)?;
    ((mode, freq) != (now_mode, now_freq)).then(|| Caution::BootloaderFlashMode {
        part: part.into(),
        new: (mode.into(), freq.into()),
        now: (now_mode.into(), now_freq.into()),
    })
}

/// What a check found: what stops the install, what needs a yes, what was done to the parts.
#[derive(Default)]
struct Findings {
    blockers: Vec<Blocker>,
    cautions: Vec<Caution>,
    notes: Vec<String>,
}

/// Checks `parts` for `board` and returns what will be written and what stands in the way,
/// phase by phase: where the parts go, the bootloader fitted to the flash when asked, the table
/// in effect afterwards, the images as the ROM and the bootloader will judge them, data where
/// code must be, whether anything will boot, and what data is lost.
pub fn plan(mut parts: Vec<Part>, board: &Board, opts: PlanOptions) -> Plan {
    let mut f = Findings::default();
    parts.sort_by_key(|p| p.offset);
    check_placement(&parts, board, opts, &mut f);
    fit_bootloader(&mut parts, board, opts, &mut f);
    let view = pieces(&parts, board);
    let new_table = table_after(&view, board, &mut f);
    let table = new_table.clone().or_else(|| board.current.cloned());
    check_images(&view, board, table.as_ref(), &mut f);
    check_not_images(&parts, board, opts, table.as_ref(), &mut f);
    check_boots(
        &view,
        board,
        opts,
        new_table.as_ref(),
        table.as_ref(),
        &mut f,
    );
    let layout_changes = losses(&parts, board, opts, new_table.as_ref(), &mut f);
    Plan {
        parts,
        table,
        blockers: f.blockers,
        cautions: f.cautions,
        layout_changes,
        notes: f.notes,
        written: opts.written,
    }
}

/// Where the parts go: something to write, sector-aligned, inside the flash, not overlapping.
fn check_placement(parts: &[Part], board: &Board, opts: PlanOptions, f: &mut Findings) {
    if parts.is_empty() {
        f.blockers.push(Blocker::NoParts);
    }
    for p in parts {
        if p.bytes.is_empty() {
            f.blockers.push(Blocker::EmptyFile(p.name.clone()));
        }
        if !p.offset.is_multiple_of(SECTOR) {
            f.blockers.push(Blocker::Unaligned {
                part: p.name.clone(),
                offset: p.offset,
            });
        }
        if p.end() > board.flash_size as u64 {
            f.blockers.push(Blocker::PastEnd {
                part: p.name.clone(),
                end: p.end(),
                flash: board.flash_size,
            });
        }
    }
    if opts.written == Written::EncryptedByChip {
        for p in parts.iter().filter(|p| p.kind == PartKind::FlashImage) {
            f.blockers.push(Blocker::MixedImage(p.name.clone()));
        }
    }
    for w in parts.windows(2) {
        if (w[1].offset as u64) < w[0].end() {
            f.blockers.push(Blocker::Overlap {
                a: w[0].name.clone(),
                b: w[1].name.clone(),
            });
        }
    }
}

/// The bootloader's flash size: fitted to the chip when asked.
fn fit_bootloader(parts: &mut [Part], board: &Board, opts: PlanOptions, f: &mut Findings) {
    let fit = flash_size_code(board.flash_size);
    // Ciphertext is never patched.
    if opts.fit_bootloader && opts.written != Written::PreEncrypted {
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
                f.notes.push(format!(
                    "{}: the bootloader's flash size set to {} (header and SHA-256, as esptool --flash-size)",
                    p.name,
                    human_size(board.flash_size as u64)
                ));
            }
        }
    }
}

/// The table in effect afterwards (one at the board's table offset, checked).
fn table_after(view: &[Piece], board: &Board, f: &mut Findings) -> Option<PartitionTable> {
    let mut new_table = None;
    for t in view.iter().filter(|p| p.kind == PartKind::PartitionTable) {
        if t.offset != board.table_offset {
            f.cautions.push(Caution::TableElsewhere {
                part: t.name.clone(),
                offset: t.offset,
                expected: board.table_offset,
            });
            continue;
        }
        match PartitionTable::parse(t.bytes) {
            Ok(table) if matches!(table.md5, Md5Status::Mismatch { .. }) => {
                f.blockers.push(Blocker::BadTable {
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
                    f.blockers.push(Blocker::BadTable {
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
            Err(e) => f.blockers.push(Blocker::BadTable {
                part: t.name.clone(),
                why: e.to_string(),
            }),
        }
    }
    new_table
}

/// The bootloader, apps and otadata, as the ROM and the bootloader will judge them where they go.
fn check_images(view: &[Piece], board: &Board, table: Option<&PartitionTable>, f: &mut Findings) {
    let target = Target::chip(board.chip, board.revision).with_secure_boot(board.secure_boot);
    let fit = flash_size_code(board.flash_size);
    for p in view {
        match p.kind {
            PartKind::Bootloader => {
                let problems: Vec<ImageProblem> = judge(p.bytes, target, p.offset, None)
                    .problems
                    .into_iter()
                    .filter(|x| !matches!(x, ImageProblem::NotAnApp))
                    .collect();
                if !problems.is_empty() {
                    f.blockers.push(Blocker::BadImage {
                        part: p.name.clone(),
                        problems,
                    });
                }
                if p.offset != board.chip.bootloader_offset {
                    f.cautions.push(Caution::BootloaderElsewhere {
                        part: p.name.clone(),
                        offset: p.offset,
                        expected: board.chip.bootloader_offset,
                    });
                } else if let Some(h) = Header::parse(p.bytes) {
                    f.cautions.extend(flash_mode_caution(&p.name, &h, board));
                    let header = chips::flash_size_bytes(h.flash_size_code).unwrap_or(0);
                    if Some(h.flash_size_code) != fit && header != 0 {
                        let beyond = table
                            .iter()
                            .flat_map(|t| t.entries.iter())
                            .filter(|e| e.end() > header as u64)
                            .map(Partition::name)
                            .collect();
                        f.cautions.push(Caution::BootloaderFlashSize {
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
                if let Some(t) = slot.and_then(|s| TooBig::check(p.bytes.len() as u64, s)) {
                    problems.insert(0, ImageProblem::TooBigForSlot(t));
                }
                if !problems.is_empty() {
                    f.blockers.push(Blocker::BadImage {
                        part: p.name.clone(),
                        problems,
                    });
                }
                if slot.is_none() && table.is_some() {
                    f.cautions.push(Caution::AppNotInSlot {
                        part: p.name.clone(),
                        offset: p.offset,
                    });
                }
            }
            PartKind::Otadata => {
                let at = table.as_ref().and_then(|t| t.otadata()).map(|o| o.offset);
                if at != Some(p.offset) || p.bytes.len() != OTADATA_LEN {
                    f.cautions.push(Caution::OtadataElsewhere {
                        part: p.name.clone(),
                        offset: p.offset,
                    });
                }
            }
            _ => {}
        }
    }
}

/// A file that is no image where the chip runs code from: refused (it would replace the
/// bootloader or an app with something nothing can start). Ciphertext cannot be told apart.
fn check_not_images(
    parts: &[Part],
    board: &Board,
    opts: PlanOptions,
    table: Option<&PartitionTable>,
    f: &mut Findings,
) {
    if opts.written != Written::PreEncrypted {
        for p in parts.iter().filter(|p| p.kind == PartKind::Data) {
            let app = table.iter().flat_map(|t| t.entries.iter()).find(|e| {
                e.is_app() && e.offset as u64 <= p.offset as u64 && (p.offset as u64) < e.end()
            });
            let place = if p.offset == board.chip.bootloader_offset {
                Some(format!(
                    "the bootloader's place (0x{:x})",
                    board.chip.bootloader_offset
                ))
            } else {
                app.map(|e| format!("app partition '{}'", e.name()))
            };
            if let Some(place) = place {
                f.blockers.push(Blocker::NotAnImage {
                    part: p.name.clone(),
                    place,
                    size: p.bytes.len() as u64,
                });
            }
        }
    }
}

/// Whether anything will boot afterwards; what cannot be checked on the board.
fn check_boots(
    view: &[Piece],
    board: &Board,
    opts: PlanOptions,
    new_table: Option<&PartitionTable>,
    table: Option<&PartitionTable>,
    f: &mut Findings,
) {
    // What is on the board cannot be checked against: say so instead of guessing.
    if board.unreadable {
        f.cautions.push(Caution::BoardUnreadable);
    }
    // A board left without a bootloader, a table or an app boots nothing: that stops the
    // install, unless overridden on purpose (then it is said, and needs a yes).
    let mut nothing_boots = vec![];
    let absent = board.current.is_none() && !board.unreadable;
    if absent && !view.iter().any(|p| p.kind == PartKind::PartitionTable) {
        nothing_boots.push("the board has no partition table and none is installed".to_string());
    }
    if (absent || opts.erase_all) && !view.iter().any(|p| p.kind == PartKind::Bootloader) {
        nothing_boots.push(format!(
            "no bootloader is installed at 0x{:x}{}",
            board.chip.bootloader_offset,
            if opts.erase_all {
                " and the flash is erased first"
            } else {
                " (a blank board has none)"
            }
        ));
    }
    // Apps gone: the flash erased, or a new layout, and no app installed into its partitions.
    let apps_gone = opts.erase_all
        || absent
        || new_table
            .as_ref()
            .is_some_and(|n| board.current.is_some_and(|c| c.entries != n.entries));
    if let Some(t) = table.as_ref().filter(|_| apps_gone && !board.unreadable) {
        let has_app = t.entries.iter().filter(|e| e.is_app()).any(|e| {
            view.iter()
                .any(|p| p.kind == PartKind::App && p.offset == e.offset)
        });
        if !has_app && t.entries.iter().any(|e| e.is_app()) {
            nothing_boots.push("no app is installed into the app partitions".into());
        }
    }
    for why in nothing_boots {
        if opts.nothing_boots_ok {
            f.cautions.push(Caution::NothingBoots(why));
        } else {
            f.blockers.push(Blocker::NothingBoots(why));
        }
    }
}

/// What data is lost (erased, moved, shrunk, removed or overwritten); whether the layout changes.
fn losses(
    parts: &[Part],
    board: &Board,
    opts: PlanOptions,
    new_table: Option<&PartitionTable>,
    f: &mut Findings,
) -> bool {
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
                f.cautions.push(Caution::DataLost {
                    label: d.name(),
                    offset: d.offset,
                    size: d.size,
                    how,
                });
            }
        }
    }
    layout_changes
}
