//! The one bootability policy: what an app slot holds and whether the ESP-IDF bootloader loads
//! it, with the bootloader's own checks in its order (`esp_image_format.c` `image_load`:
//! magic; chip id and chip revision range; segment count; each segment header — length a
//! multiple of 4 and below 16 MB, a flash-mapped segment aligned to its 64 KiB page; the image
//! fits its partition; the checksum; the appended SHA-256). The page, the CLI, the offline
//! workbench and the simulator's bootloader all judge slots here.
//!
//! A slot is judged from what was read of it: its headers only ([`HeaderScan`], a few small
//! reads: header, segment headers, `esp_app_desc_t`) or its whole image ([`judge`]). Only the
//! whole image answers "it loads"; headers alone can only say "it does not" or "it may".

use super::image::{
    checksum_offset, looks_like_app, AppDesc, Header, Segment, APP_DESC_LEN, HEADER_LEN,
    IMAGE_MAGIC, MAX_SEGMENTS, SEGMENT_HEADER_LEN,
};
use super::partition::Partition;
use super::{esp_checksum_update, le32, sha256};
use crate::chips::security::SecureBoot;
use crate::chips::Chip;
use std::collections::BTreeMap;
use std::fmt;

mod loads;
pub use loads::SlotLoads;

/// The bootloader refuses segments of 16 MB or more.
const MAX_SEGMENT_LEN: u32 = 16 << 20;
/// The MMU page: a flash-mapped segment's data sits at the same offset within a page as its
/// load address.
const MMU_PAGE: u32 = 0x10000;
/// `max_chip_rev_full` values that mean "no upper limit" (`IS_MAX_REV_SET`).
const NO_MAX_REV: [u16; 2] = [0, 0xFFFF];

/// What images are judged against: the chip family and its revision (major × 100 + minor),
/// where known. Unknown parts are not checked (an offline dump does not say its revision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub chip: Option<&'static Chip>,
    pub revision: Option<u16>,
    /// Secure boot v2 on the chip: the bootloader loads only images with a signature block.
    pub secure_boot: SecureBoot,
}

impl Target {
    pub fn chip(chip: &'static Chip, revision: Option<u16>) -> Target {
        Target {
            chip: Some(chip),
            revision,
            secure_boot: SecureBoot::Off,
        }
    }

    /// The same chip with its secure boot state.
    pub fn with_secure_boot(self, secure_boot: SecureBoot) -> Target {
        Target {
            secure_boot,
            ..self
        }
    }

    /// Nothing known about the chip: only the image's own consistency is checked.
    pub const ANY: Target = Target {
        chip: None,
        revision: None,
        secure_boot: SecureBoot::Off,
    };
}

fn rev(v: u16) -> String {
    format!("v{}.{}", v / 100, v % 100)
}

/// Why the bootloader would not load an image (or why a file is no image for a slot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageProblem {
    /// Every header byte is 0xFF: nothing was written here.
    Erased,
    /// The first byte is not the image magic 0xE9.
    NoImage {
        first_byte: u8,
    },
    /// Built for another chip (the header's chip id).
    WrongChip {
        image_chip_id: u16,
        chip: &'static Chip,
    },
    /// The image needs a newer chip revision.
    ChipTooOld {
        min: u16,
        chip_rev: u16,
    },
    /// The image supports only older chip revisions.
    ChipTooNew {
        max: u16,
        chip_rev: u16,
    },
    TooManySegments(u8),
    /// A segment length the bootloader refuses (not a multiple of 4, or ≥ 16 MB; 0xFFFFFFFF
    /// on a half-written slot).
    BadSegmentLength {
        index: usize,
        len: u32,
    },
    /// A flash-mapped segment whose data is not at its load address's offset within the page.
    MisalignedSegment {
        index: usize,
        load_addr: u32,
        data_at: u32,
    },
    /// The image (with its digest), or the file, does not fit the partition.
    TooBigForSlot(TooBig),
    /// The bytes end before the image does (a cut-off file or read).
    Truncated {
        needs: u64,
        have: u64,
    },
    /// Only RAM segments: a second-stage bootloader (or a RAM-loaded test app), no app.
    NotAnApp,
    Checksum {
        stored: u8,
        computed: u8,
    },
    /// The appended SHA-256 does not match the image.
    Digest,
    /// Secure boot v2 is on and no valid signature block follows the image.
    Unsigned,
}

impl ImageProblem {
    /// The problem in plain words.
    pub fn message(&self) -> String {
        match self {
            ImageProblem::Erased => "empty (erased: nothing was written here)".into(),
            ImageProblem::NoImage { first_byte } => format!(
                "no firmware image here (the first byte is 0x{first_byte:02X}, an image starts with 0xE9)"
            ),
            ImageProblem::WrongChip {
                image_chip_id,
                chip,
            } => {
                let built = Chip::by_image_id(*image_chip_id).map_or_else(
                    || format!("an unknown chip (id {image_chip_id})"),
                    |c| c.pretty.to_string(),
                );
                format!("built for {built}, but the chip is an {}", chip.pretty)
            }
            ImageProblem::ChipTooOld { min, chip_rev } => format!(
                "needs chip revision {} or newer; this chip is {}",
                rev(*min),
                rev(*chip_rev)
            ),
            ImageProblem::ChipTooNew { max, chip_rev } => format!(
                "supports chip revisions up to {}; this chip is {}",
                rev(*max),
                rev(*chip_rev)
            ),
            ImageProblem::TooManySegments(n) => {
                format!("damaged: the header says {n} segments (at most {MAX_SEGMENTS})")
            }
            ImageProblem::BadSegmentLength { index, len } => format!(
                "damaged or half-written: segment {index} has length 0x{len:x}{}",
                if *len == u32::MAX {
                    " (erased flash where the image should go on)"
                } else {
                    ""
                }
            ),
            ImageProblem::MisalignedSegment {
                index,
                load_addr,
                data_at,
            } => format!(
                "damaged: segment {index} (load address 0x{load_addr:08x}) does not line up with its data at 0x{data_at:x}"
            ),
            ImageProblem::TooBigForSlot(t) => t.message(),
            ImageProblem::Truncated { needs, have } => {
                format!("cut off: the image needs at least {needs} bytes, there are only {have}")
            }
            ImageProblem::NotAnApp => {
                "this image runs from RAM only (a bootloader, or a RAM-loaded test app), not an app for a flash slot".into()
            }
            ImageProblem::Checksum { stored, computed } => format!(
                "corrupt: checksum 0x{computed:02x} does not match the stored 0x{stored:02x}"
            ),
            ImageProblem::Digest => "corrupt: the appended SHA-256 does not match the image".into(),
            ImageProblem::Unsigned => "not signed: secure boot is on and no secure boot v2 signature block follows the image (sign it with espsecure sign-data --version 2 and this device's key)".into(),
        }
    }

    /// What to do about it, where there is something to say.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ImageProblem::WrongChip { .. } => Some("build the firmware for this chip (idf.py set-target, or the board setting in Arduino)"),
            ImageProblem::ChipTooOld { .. } | ImageProblem::ChipTooNew { .. } => {
                Some("rebuild with a chip revision range that includes this chip (CONFIG_ESP32_REV_MIN / max revision)")
            }
            ImageProblem::NotAnApp => Some("a bootloader goes at the bootloader offset, not into an app slot"),
            ImageProblem::Checksum { .. } | ImageProblem::Digest | ImageProblem::Truncated { .. } => {
                Some("the file is damaged: build or download it again")
            }
            _ => None,
        }
    }

    /// Nothing is there at all (rather than something broken).
    pub fn is_empty_slot(&self) -> bool {
        matches!(self, ImageProblem::Erased)
    }
}

impl fmt::Display for ImageProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// How much of a slot was read to judge it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Header, segment headers and app description: the body (checksum, digest) is unchecked.
    Headers,
    /// The whole image, as the bootloader reads it.
    Whole,
}

/// Whether the bootloader loads a slot's image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loads {
    Yes,
    No(ImageProblem),
    /// Not known: only the headers were read (or nothing), and they do not rule it out.
    Unknown,
}

/// What an app slot (or an image file meant for one) holds, as far as it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotImage {
    pub coverage: Coverage,
    /// None when there is no image header (erased, or something else).
    pub header: Option<Header>,
    pub segments: Vec<Segment>,
    pub app: Option<AppDesc>,
    /// Bytes the image occupies (up to the checksum, plus the digest), once known.
    pub len: Option<u64>,
    /// What the bootloader would refuse, first the one it stops at. Empty: nothing found.
    pub problems: Vec<ImageProblem>,
}

/// What a slot holds, for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    Empty,
    /// An app (the problems, if any, say whether it loads).
    App,
    /// An image, but RAM-only: no app.
    NotAnApp,
    /// Something that is not a loadable image: garbage or a half-written one.
    Damaged,
}

impl SlotImage {
    pub fn loads(&self) -> Loads {
        match (self.problems.first(), self.coverage) {
            (Some(p), _) => Loads::No(p.clone()),
            (None, Coverage::Whole) => Loads::Yes,
            (None, Coverage::Headers) => Loads::Unknown,
        }
    }

    pub fn holds(&self) -> Holds {
        match self.problems.first() {
            Some(ImageProblem::Erased) => Holds::Empty,
            Some(ImageProblem::NoImage { .. })
            | Some(ImageProblem::TooManySegments(_))
            | Some(ImageProblem::BadSegmentLength { .. })
            | Some(ImageProblem::MisalignedSegment { .. })
            | Some(ImageProblem::Truncated { .. }) => Holds::Damaged,
            _ if self.is_app() => Holds::App,
            _ => Holds::NotAnApp,
        }
    }

    pub fn is_app(&self) -> bool {
        self.header
            .is_some_and(|h| looks_like_app(h.chip_id, &self.segments, self.app.is_some()))
    }

    /// One line: "hello_world v1.0 (ESP-IDF v5.2.2)", "empty", "an app without an ESP-IDF
    /// description", ...
    pub fn summary(&self) -> String {
        match (self.holds(), &self.app) {
            (Holds::Empty, _) => "empty".into(),
            (Holds::Damaged, _) if self.header.is_none() => {
                "not a firmware image (other data, or garbage)".into()
            }
            (Holds::Damaged, Some(a)) => format!(
                "a damaged or half-written image of {} {}",
                a.project_name, a.version
            ),
            (Holds::Damaged, None) => "a damaged or half-written image".into(),
            (Holds::NotAnApp, _) => "a RAM-only image (a bootloader?), not an app".into(),
            (Holds::App, Some(a)) => {
                format!("{} {} (ESP-IDF {})", a.project_name, a.version, a.idf_ver)
            }
            (Holds::App, None) => {
                "an app without an ESP-IDF app description (e.g. an older Arduino build)".into()
            }
        }
    }
}

/// What is known of the app slots of one table, by partition offset. A slot that is not in
/// it is unknown (it may hold anything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Slots(BTreeMap<u32, SlotImage>);

impl Slots {
    pub fn get(&self, p: &Partition) -> Option<&SlotImage> {
        self.0.get(&p.offset)
    }

    pub fn set(&mut self, p: &Partition, s: SlotImage) {
        self.0.insert(p.offset, s);
    }

    pub fn forget(&mut self, p: &Partition) {
        self.0.remove(&p.offset);
    }

    pub fn loads(&self, p: &Partition) -> Loads {
        self.get(p).map_or(Loads::Unknown, SlotImage::loads)
    }

    /// Whether the slot's whole image was checked (read back, or written and verified).
    pub fn verified(&self, p: &Partition) -> bool {
        self.get(p).is_some_and(|s| s.coverage == Coverage::Whole)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads a slot's headers without its body, sans-IO: ask [`HeaderScan::want`] which bytes
/// are needed (offset within the slot, length), read them, [`HeaderScan::feed`] them, until it
/// wants nothing more; then [`HeaderScan::finish`]. The first read takes the image header, the
/// first segment header and the app description together; each further segment header is one
/// 8-byte read.
#[derive(Debug, Clone)]
pub struct HeaderScan {
    target: Target,
    /// Flash address of the slot (mapped segments are aligned on absolute addresses).
    place: u32,
    slot_size: u32,
    header: Option<Header>,
    segments: Vec<Segment>,
    app: Option<AppDesc>,
    problems: Vec<ImageProblem>,
    want: Option<(u32, u32)>,
    /// Offset of the next segment header.
    next: u32,
    len: Option<u64>,
}

/// Header, first segment header and `esp_app_desc_t`: the first read of a scan.
pub const FIRST_READ: u32 = (HEADER_LEN + SEGMENT_HEADER_LEN + APP_DESC_LEN) as u32;

impl HeaderScan {
    pub fn new(target: Target, place: u32, slot_size: u32) -> HeaderScan {
        HeaderScan {
            target,
            place,
            slot_size,
            header: None,
            segments: vec![],
            app: None,
            problems: vec![],
            want: Some((0, FIRST_READ.min(slot_size))),
            next: HEADER_LEN as u32,
            len: None,
        }
    }

    /// The bytes needed next: (offset within the slot, length). None: done.
    pub fn want(&self) -> Option<(u32, u32)> {
        self.want
    }

    fn stop(&mut self, p: ImageProblem) {
        self.problems.push(p);
        self.want = None;
    }

    /// Takes the bytes asked for by [`HeaderScan::want`]. The first read may come up short
    /// (a small image file); any later one may not.
    pub fn feed(&mut self, bytes: &[u8]) {
        let Some((at, asked)) = self.want else { return };
        if at != 0 && bytes.len() < asked as usize {
            return self.stop(ImageProblem::Truncated {
                needs: at as u64 + asked as u64,
                have: at as u64 + bytes.len() as u64,
            });
        }
        if at == 0 {
            self.first(bytes);
        } else {
            self.add_segment(le32(bytes, 0), le32(bytes, 4));
            self.advance();
        }
    }

    fn first(&mut self, b: &[u8]) {
        let Some(h) = Header::parse(b) else {
            return self.stop(ImageProblem::Truncated {
                needs: HEADER_LEN as u64,
                have: b.len() as u64,
            });
        };
        if b[..HEADER_LEN].iter().all(|&x| x == 0xFF) {
            return self.stop(ImageProblem::Erased);
        }
        if h.magic != IMAGE_MAGIC {
            return self.stop(ImageProblem::NoImage {
                first_byte: h.magic,
            });
        }
        self.header = Some(h);
        // bootloader_common_check_chip_validity, then the segment count. The bootloader stops
        // at the first of these; the scan goes on to describe the image.
        if let Some(chip) = self.target.chip {
            if h.chip_id != chip.image_chip_id {
                self.problems.push(ImageProblem::WrongChip {
                    image_chip_id: h.chip_id,
                    chip,
                });
            } else if let Some(r) = self.target.revision {
                if h.min_rev_full != 0xFFFF && h.min_rev_full > r {
                    self.problems.push(ImageProblem::ChipTooOld {
                        min: h.min_rev_full,
                        chip_rev: r,
                    });
                }
                if !NO_MAX_REV.contains(&h.max_rev_full) && r > h.max_rev_full {
                    self.problems.push(ImageProblem::ChipTooNew {
                        max: h.max_rev_full,
                        chip_rev: r,
                    });
                }
            }
        }
        if h.segment_count > MAX_SEGMENTS {
            return self.stop(ImageProblem::TooManySegments(h.segment_count));
        }
        // The segment headers (and the app description) this read already holds.
        while self.want.is_some() && self.segments.len() < h.segment_count as usize {
            let at = self.next as usize;
            if at + SEGMENT_HEADER_LEN > b.len() {
                break;
            }
            let len = le32(b, at + 4);
            self.add_segment(le32(b, at), len);
            let d = at + SEGMENT_HEADER_LEN;
            if self.segments.len() == 1
                && len as usize >= APP_DESC_LEN
                && b.len() >= d + APP_DESC_LEN
            {
                self.app = AppDesc::parse(&b[d..d + APP_DESC_LEN]);
            }
        }
        self.advance();
    }

    fn segment_count(&self) -> usize {
        self.header.map_or(0, |h| h.segment_count as usize)
    }

    /// The segment whose header is at `self.next`; moves `next` past its data.
    fn add_segment(&mut self, load_addr: u32, len: u32) {
        let index = self.segments.len();
        let data_at = self.next + SEGMENT_HEADER_LEN as u32;
        self.segments.push(Segment {
            load_addr,
            len,
            data_offset: data_at as usize,
        });
        if !len.is_multiple_of(4) || len >= MAX_SEGMENT_LEN {
            return self.stop(ImageProblem::BadSegmentLength { index, len });
        }
        let mapped = self
            .header
            .and_then(|h| h.chip())
            .is_some_and(|c| c.is_flash_mapped(load_addr));
        if mapped && self.place.wrapping_add(data_at) % MMU_PAGE != load_addr % MMU_PAGE {
            return self.stop(ImageProblem::MisalignedSegment {
                index,
                load_addr,
                data_at,
            });
        }
        self.next = data_at + len;
    }

    /// Asks for the next segment header, or works out where the image ends.
    fn advance(&mut self) {
        if self.want.is_none() {
            return;
        }
        if self.segments.len() < self.segment_count() {
            let at = self.next as u64;
            if at + SEGMENT_HEADER_LEN as u64 > self.slot_size as u64 {
                return self.stop(ImageProblem::TooBigForSlot(TooBig {
                    len: at + SEGMENT_HEADER_LEN as u64,
                    slot: self.slot_size,
                    label: None,
                }));
            }
            self.want = Some((self.next, SEGMENT_HEADER_LEN as u32));
            return;
        }
        let mut len = checksum_offset(self.next as usize) as u64 + 1;
        if self.header.is_some_and(|h| h.hash_appended != 0) {
            len += 32;
        }
        self.len = Some(len);
        self.want = None;
        if len > self.slot_size as u64 {
            self.problems.push(ImageProblem::TooBigForSlot(TooBig {
                len,
                slot: self.slot_size,
                label: None,
            }));
        }
    }

    /// What the headers say. Not-an-app is added when nothing else is wrong.
    pub fn finish(self) -> SlotImage {
        let mut s = SlotImage {
            coverage: Coverage::Headers,
            header: self.header,
            segments: self.segments,
            app: self.app,
            len: self.len,
            problems: self.problems,
        };
        if s.header.is_some() && s.len.is_some() && !s.is_app() {
            s.problems.push(ImageProblem::NotAnApp);
        }
        s
    }
}

/// Why an image may not go into an app slot; the page lists them all, the device refuses with
/// them.
#[derive(Debug, Clone, PartialEq)]
pub enum SlotRefusal {
    /// Not an image at all (plain words: what it is instead).
    NotAnImage(String),
    /// The partition is no app slot (`kind`: its type's name).
    NotAnAppSlot { label: String, kind: String },
    /// What the bootloader would refuse once it is written there (a file bigger than the slot
    /// among them).
    Image(ImageProblem),
}

impl SlotRefusal {
    pub fn message(&self) -> String {
        match self {
            SlotRefusal::NotAnImage(m) => m.clone(),
            SlotRefusal::NotAnAppSlot { label, kind } => not_an_app_slot(label, kind),
            SlotRefusal::Image(p) => p.message(),
        }
    }
}

/// "'nvs' is a data nvs partition, not an app slot".
pub fn not_an_app_slot(label: &str, kind: &str) -> String {
    format!("'{label}' is a {kind} partition, not an app slot")
}

/// An image or a file bigger than the slot it goes into: the one "too big" fact of the page,
/// the device layer, installs and updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooBig {
    /// The image's (or file's) length.
    pub len: u64,
    /// The slot's size.
    pub slot: u32,
    /// The slot's name, where known.
    pub label: Option<String>,
}

impl TooBig {
    /// `len` bytes into `slot`: too big, or None when they fit.
    pub fn check(len: u64, slot: &Partition) -> Option<TooBig> {
        (len > slot.size as u64).then(|| TooBig {
            len,
            slot: slot.size,
            label: Some(slot.name()),
        })
    }

    /// "the image is 1.1 MB (1089536 bytes), larger than the 1 MB slot 'app0'".
    pub fn message(&self) -> String {
        let size = super::numbers::human_size(self.len);
        let exact = if size.ends_with("bytes") {
            String::new()
        } else {
            format!(" ({} bytes)", self.len)
        };
        format!(
            "the image is {size}{exact}, larger than the {} slot{}",
            super::numbers::human_size(self.slot as u64),
            self.label
                .as_ref()
                .map(|l| format!(" '{l}'"))
                .unwrap_or_default()
        )
    }
}

/// The one check of "may `image` go into `slot` on `target`" (the page's flash panel and the
/// device layer both ask it): an image at all, an app slot, a file that fits, and what the
/// bootloader would refuse at that place. Without a slot, the image alone (as if at 0x10000).
/// Also gives the image as the slot would hold it.
pub fn check_slot_image(
    image: &[u8],
    slot: Option<&Partition>,
    target: Target,
) -> (SlotImage, Vec<SlotRefusal>) {
    let (place, size) = slot.map_or((0x10000, None), |s| (s.offset, Some(s.size)));
    let judged = judge(image, target, place, size);
    if let Err(e) = super::image::Image::parse(image) {
        if image.first() != Some(&super::image::IMAGE_MAGIC) {
            return (judged, vec![SlotRefusal::NotAnImage(e.to_string())]);
        }
    }
    let mut out = vec![];
    if let Some(s) = slot {
        if !s.is_app() {
            out.push(SlotRefusal::NotAnAppSlot {
                label: s.name(),
                kind: s.type_name(),
            });
        }
    }
    // Too big is said once, of the file, with the slot's name.
    let mut too_big = slot.and_then(|s| TooBig::check(image.len() as u64, s));
    for p in &judged.problems {
        match p {
            ImageProblem::TooBigForSlot(t) => {
                let len = too_big.as_ref().map_or(t.len, |f| f.len.max(t.len));
                too_big = slot.and_then(|s| TooBig::check(len, s));
            }
            p => out.push(SlotRefusal::Image(p.clone())),
        }
    }
    if let Some(t) = too_big {
        out.insert(0, SlotRefusal::Image(ImageProblem::TooBigForSlot(t)));
    }
    (judged, out)
}

/// Judges an image from its bytes as the bootloader does: headers, then checksum and digest.
/// `bytes` is the slot's content (or at least the whole image), `place` its flash address, and
/// `slot_size` the partition size (None for a file on its own: no size limit).
pub fn judge(bytes: &[u8], target: Target, place: u32, slot_size: Option<u32>) -> SlotImage {
    let limit = slot_size.unwrap_or(u32::MAX);
    let mut scan = HeaderScan::new(target, place, limit);
    while let Some((at, n)) = scan.want() {
        let from = (at as usize).min(bytes.len());
        let to = (at as usize + n as usize).min(bytes.len());
        scan.feed(&bytes[from..to]);
    }
    let mut s = scan.finish();
    s.coverage = Coverage::Whole;
    // The scan knows only how far it read; the file's real size is known here.
    for p in &mut s.problems {
        if let ImageProblem::Truncated { have, .. } = p {
            *have = bytes.len() as u64;
        }
    }
    let Some(len) = s.len else { return s };
    if s.problems
        .iter()
        .any(|p| !matches!(p, ImageProblem::NotAnApp))
    {
        return s;
    }
    if len > bytes.len() as u64 {
        s.problems.insert(
            0,
            ImageProblem::Truncated {
                needs: len,
                have: bytes.len() as u64,
            },
        );
        return s;
    }
    let mut checksum = super::esp_checksum(&[]);
    for seg in &s.segments {
        checksum = esp_checksum_update(
            checksum,
            &bytes[seg.data_offset..seg.data_offset + seg.len as usize],
        );
    }
    let hashed = s.header.is_some_and(|h| h.hash_appended != 0);
    let at = len as usize - 1 - if hashed { 32 } else { 0 };
    let mut found = vec![];
    if bytes[at] != checksum {
        found.push(ImageProblem::Checksum {
            stored: bytes[at],
            computed: checksum,
        });
    } else if hashed && bytes[at + 1..at + 33] != sha256(&bytes[..at + 1]) {
        found.push(ImageProblem::Digest);
    } else if target.secure_boot == SecureBoot::V2
        && super::signature::v2_signature(bytes, len).is_none()
    {
        found.push(ImageProblem::Unsigned);
    }
    s.problems.splice(0..0, found);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::image::tests::tiny;
    use crate::sim::demo;

    fn esp32() -> Target {
        Target::chip(crate::chips::ESP32, Some(301))
    }

    /// Under secure boot v2 an image loads only with a signature block after it (espsecure's
    /// layout: padded to 4 KiB, then the block); without secure boot the block is not needed.
    #[test]
    fn secure_boot_wants_a_signature_block() {
        let img = demo::app_image(crate::chips::ESP32, Some(("blink", "2.0")), 5000);
        let sb = esp32().with_secure_boot(SecureBoot::V2);
        assert_eq!(
            judge(&img, sb, 0x10000, None).problems,
            [ImageProblem::Unsigned]
        );
        assert!(judge(&img, esp32(), 0x10000, None).problems.is_empty());
        let mut signed = img.clone();
        signed.resize(
            crate::formats::signature::sector_at(img.len() as u64) as usize,
            0xFF,
        );
        signed.extend(crate::formats::signature::test_block(2));
        signed.resize(signed.len().div_ceil(4096) * 4096, 0xFF);
        assert!(judge(&signed, sb, 0x10000, None).problems.is_empty());
    }

    fn scan(bytes: &[u8], slot: u32) -> (SlotImage, usize) {
        let mut s = HeaderScan::new(esp32(), 0x10000, slot);
        let mut reads = 0;
        while let Some((at, n)) = s.want() {
            reads += 1;
            s.feed(&bytes[at as usize..(at + n) as usize]);
        }
        (s.finish(), reads)
    }

    #[test]
    fn a_good_app_loads_only_when_read_whole() {
        let img = demo::app_image(crate::chips::ESP32, Some(("blink", "2.0")), 5000);
        let mut slot = img.clone();
        slot.resize(0x20000, 0xFF);
        let (h, reads) = scan(&slot, 0x20000);
        assert_eq!(reads, 2, "first read, then the second segment's header");
        assert_eq!(h.loads(), Loads::Unknown);
        assert_eq!(h.holds(), Holds::App);
        assert_eq!(h.len, Some(img.len() as u64));
        assert_eq!(h.app.as_ref().unwrap().project_name, "blink");
        assert_eq!(h.summary(), "blink 2.0 (ESP-IDF otaflash-sim)");
        let w = judge(&slot, esp32(), 0x10000, Some(0x20000));
        assert_eq!(w.loads(), Loads::Yes);
        assert_eq!((w.header, w.len), (h.header, h.len));
    }

    #[test]
    fn erased_half_written_and_corrupt_slots() {
        let (e, reads) = scan(&[0xFF; 0x1000], 0x1000);
        assert_eq!((e.holds(), reads), (Holds::Empty, 1));
        assert_eq!(e.loads(), Loads::No(ImageProblem::Erased));
        // Half-written: the first 64 KiB arrived, the rest of the slot is still erased.
        let img = demo::app_image(crate::chips::ESP32, Some(("big", "1")), 100_000);
        let mut half = vec![0xFF; 0x40000];
        half[..0x10000].copy_from_slice(&img[..0x10000]);
        let (h, _) = scan(&half, 0x40000);
        assert!(
            matches!(
                h.problems[0],
                ImageProblem::BadSegmentLength {
                    index: 1,
                    len: u32::MAX
                }
            ),
            "{:?}",
            h.problems
        );
        assert_eq!(h.holds(), Holds::Damaged);
        // Cut in the last segment: headers look fine, only the whole read finds it.
        let mut cut = img.clone();
        let n = cut.len();
        cut[n - 40..].fill(0xFF);
        cut.resize(0x40000, 0xFF);
        assert_eq!(scan(&cut, 0x40000).0.loads(), Loads::Unknown);
        assert!(matches!(
            judge(&cut, esp32(), 0x10000, Some(0x40000)).loads(),
            Loads::No(ImageProblem::Checksum { .. })
        ));
        let mut flipped = img.clone();
        flipped[n - 1] ^= 1;
        assert_eq!(
            judge(&flipped, esp32(), 0x10000, None).loads(),
            Loads::No(ImageProblem::Digest)
        );
        assert!(matches!(
            judge(&[0x12; 64], esp32(), 0, None).problems[0],
            ImageProblem::NoImage { first_byte: 0x12 }
        ));
    }

    #[test]
    fn chip_revision_and_size_limits() {
        let mut img = demo::app_image(crate::chips::ESP32, Some(("x", "1")), 100);
        let s3 = Target::chip(Chip::by_name("esp32s3").unwrap(), Some(0));
        assert!(matches!(
            judge(&img, s3, 0x10000, None).problems[0],
            ImageProblem::WrongChip {
                image_chip_id: 0,
                ..
            }
        ));
        // min_rev_full v3.2 on a v3.1 chip; max_rev_full v3.0.
        img[15..17].copy_from_slice(&302u16.to_le_bytes());
        let p = &judge(&img, esp32(), 0x10000, None).problems;
        assert_eq!(
            p[0],
            ImageProblem::ChipTooOld {
                min: 302,
                chip_rev: 301
            }
        );
        assert!(p[0].message().contains("v3.2 or newer; this chip is v3.1"));
        img[15..17].copy_from_slice(&0u16.to_le_bytes());
        img[17..19].copy_from_slice(&300u16.to_le_bytes());
        let p = &judge(&img, esp32(), 0x10000, None).problems;
        assert_eq!(
            p[0],
            ImageProblem::ChipTooNew {
                max: 300,
                chip_rev: 301
            }
        );
        // The revision is not checked when it is not known (the digest is redone for the
        // changed header).
        let n = img.len();
        let digest = sha256(&img[..n - 32]);
        img[n - 32..].copy_from_slice(&digest);
        assert!(
            judge(&img, Target::chip(crate::chips::ESP32, None), 0x10000, None)
                .problems
                .is_empty()
        );
        // Header says the digest ends past the slot.
        let img = demo::app_image(crate::chips::ESP32, Some(("x", "1")), 100);
        let small = img.len() as u32 - 16;
        assert!(matches!(
            judge(&img, esp32(), 0x10000, Some(small)).problems[0],
            ImageProblem::TooBigForSlot(_)
        ));
    }

    #[test]
    fn bootloader_shapes_are_no_apps_and_alignment_counts() {
        let b = demo::bootloader_like(crate::chips::ESP32, 100);
        let j = judge(&b, esp32(), 0x10000, Some(0x10000));
        assert_eq!(j.problems, vec![ImageProblem::NotAnApp]);
        assert_eq!(j.holds(), Holds::NotAnApp);
        // A plain DRAM segment image (tiny): the same.
        assert_eq!(
            judge(&tiny(0, &[1, 2, 3, 4], true), esp32(), 0, None).problems,
            vec![ImageProblem::NotAnApp]
        );
        // An app placed at an address that is not 64 KiB aligned: its DROM segment no longer
        // lines up with its page.
        let app = demo::app_image(crate::chips::ESP32, Some(("x", "1")), 100);
        assert!(matches!(
            judge(&app, esp32(), 0x11000, None).problems[0],
            ImageProblem::MisalignedSegment { index: 0, .. }
        ));
    }

    #[test]
    fn real_images_from_the_vectors() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let read = |p: &str| std::fs::read(dir.join(p)).unwrap();
        let hello = read("firmware/idf-v5.2.2_hello_world.bin");
        let j = judge(&hello, esp32(), 0x10000, Some(0x100000));
        assert_eq!(j.loads(), Loads::Yes, "{:?}", j.problems);
        assert_eq!(j.len, Some(hello.len() as u64));
        let mut slot = hello.clone();
        slot.resize(0x100000, 0xFF);
        let (h, reads) = scan(&slot, 0x100000);
        assert_eq!(h.len, j.len);
        assert_eq!(reads, hello_segments(&hello));
        let arduino = read("firmware/arduino_StartCounter.ino.bin");
        let j = judge(&arduino, esp32(), 0x10000, Some(0x140000));
        assert_eq!(j.loads(), Loads::Yes, "{:?}", j.problems);
        let boot = read("firmware/idf-v5.2.2_bootloader.bin");
        assert_eq!(
            judge(&boot, esp32(), 0x1000, None).problems,
            vec![ImageProblem::NotAnApp]
        );
    }

    fn hello_segments(img: &[u8]) -> usize {
        // One read for the header with the first segment header, one per further segment.
        img[1] as usize
    }
}
