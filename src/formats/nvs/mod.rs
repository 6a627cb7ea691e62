//! ESP-IDF NVS (non-volatile storage) partitions: decoding them as the NVS library reads them,
//! and generating them byte for byte as ESP-IDF's `nvs_partition_gen.py` does.
//!
//! Layout (ESP-IDF `nvs_flash`: `nvs_page.hpp`, `nvs_types.hpp`): 4 KiB pages. A page starts
//! with a 32-byte header (state u32, sequence number u32, version u8 — 0xFE for version 2 with
//! multi-page blobs, 0xFF for version 1 —, CRC-32 of bytes 4..28 at 28), then a 32-byte bitmap of
//! 2 bits per entry (3 empty, 2 written, 0 erased), then 126 entries of 32 bytes. An entry: namespace
//! index, type, span (entries the item takes), chunk index, CRC-32 of bytes 0..4 and 8..32, a
//! 16-byte key, 8 bytes of data. Strings and blobs continue in the span's following entries.
//! Namespaces are entries in namespace 0 (type u8, key = name, value = the index).

mod decode;
mod generate;
#[cfg(test)]
mod tests;
pub mod text;

pub use decode::decode;
pub use generate::{generate, GenError, Row, RowKind, Version};

use std::fmt;

pub const PAGE_SIZE: usize = 4096;
pub const ENTRY_SIZE: usize = 32;
pub const ENTRIES_PER_PAGE: usize = 126;
/// Where the first entry starts in a page (after the header and the entry-state bitmap).
pub const FIRST_ENTRY: usize = 64;
pub const MAX_KEY_LEN: usize = 15;

/// Item types as stored (`ItemType` in `nvs_types.hpp`).
pub mod item {
    pub const U8: u8 = 0x01;
    pub const I8: u8 = 0x11;
    pub const U16: u8 = 0x02;
    pub const I16: u8 = 0x12;
    pub const U32: u8 = 0x04;
    pub const I32: u8 = 0x14;
    pub const U64: u8 = 0x08;
    pub const I64: u8 = 0x18;
    pub const STR: u8 = 0x21;
    /// A blob in one page (version 1).
    pub const BLOB: u8 = 0x41;
    pub const BLOB_DATA: u8 = 0x42;
    pub const BLOB_IDX: u8 = 0x48;
    /// "Any chunk": the chunk index of everything but blob data.
    pub const CHUNK_ANY: u8 = 0xFF;
}

/// Page states (the header's first word; bits are cleared as a page moves on).
pub mod page_state {
    pub const UNINITIALIZED: u32 = 0xFFFF_FFFF;
    pub const ACTIVE: u32 = 0xFFFF_FFFE;
    pub const FULL: u32 = 0xFFFF_FFFC;
    pub const FREEING: u32 = 0xFFFF_FFF8;
    pub const CORRUPT: u32 = 0xFFFF_FFF0;
}

/// A value as the application stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    Str(String),
    Blob(Vec<u8>),
}

/// The type names the CLI, the JSON and the page use.
pub const TYPE_NAMES: [&str; 10] = [
    "u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64", "string", "blob",
];

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::U8(_) => "u8",
            Value::I8(_) => "i8",
            Value::U16(_) => "u16",
            Value::I16(_) => "i16",
            Value::U32(_) => "u32",
            Value::I32(_) => "i32",
            Value::U64(_) => "u64",
            Value::I64(_) => "i64",
            Value::Str(_) => "string",
            Value::Blob(_) => "blob",
        }
    }

    /// An integer value as sign and magnitude (None for strings and blobs). (No 128-bit
    /// arithmetic: it would weigh in the page.)
    pub fn int(&self) -> Option<(bool, u64)> {
        let signed = |v: i64| (v < 0, v.unsigned_abs());
        Some(match *self {
            Value::U8(v) => (false, v as u64),
            Value::U16(v) => (false, v as u64),
            Value::U32(v) => (false, v as u64),
            Value::U64(v) => (false, v),
            Value::I8(v) => signed(v as i64),
            Value::I16(v) => signed(v as i64),
            Value::I32(v) => signed(v as i64),
            Value::I64(v) => signed(v),
            _ => return None,
        })
    }

    /// The value as text: integers in decimal, strings as they are, blobs as lowercase hex.
    pub fn text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Blob(b) => super::hex(b),
            v => match v.int() {
                Some((true, m)) => format!("-{m}"),
                Some((false, m)) => m.to_string(),
                None => String::new(),
            },
        }
    }

    /// Makes an integer value of type `type_name` from sign and magnitude, if it fits.
    pub fn from_int(type_name: &str, neg: bool, mag: u64) -> Option<Value> {
        let neg = neg && mag != 0;
        let unsigned = |max: u64| (!neg && mag <= max).then_some(mag);
        let signed = |bits: u32| {
            let lim = 1u64 << (bits - 1);
            let ok = if neg { mag <= lim } else { mag < lim };
            ok.then(|| {
                if neg {
                    (mag as i64).wrapping_neg()
                } else {
                    mag as i64
                }
            })
        };
        Some(match type_name {
            "u8" => Value::U8(unsigned(u8::MAX as u64)? as u8),
            "u16" => Value::U16(unsigned(u16::MAX as u64)? as u16),
            "u32" => Value::U32(unsigned(u32::MAX as u64)? as u32),
            "u64" => Value::U64(unsigned(u64::MAX)?),
            "i8" => Value::I8(signed(8)? as i8),
            "i16" => Value::I16(signed(16)? as i16),
            "i32" => Value::I32(signed(32)? as i32),
            "i64" => Value::I64(signed(64)?),
            _ => return None,
        })
    }

    /// Parses `text` as a value of type `type_name` (integers in decimal or 0x hex, strings as
    /// they are, blobs as hex), with a plain-words error.
    pub fn parse(type_name: &str, text: &str) -> Result<Value, String> {
        match type_name {
            "string" => return Ok(Value::Str(text.to_string())),
            "blob" => {
                return super::numbers::parse_hex(text)
                    .map(Value::Blob)
                    .ok_or_else(|| format!("'{text}' is not hex bytes (e.g. 01ab)"))
            }
            t if !TYPE_NAMES.contains(&t) => {
                return Err(format!(
                    "unknown type '{t}' (one of {})",
                    TYPE_NAMES.join(", ")
                ))
            }
            _ => {}
        }
        let t = text.trim();
        let (neg, digits) = match t.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let mag = match digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
            Some(h) => u64::from_str_radix(h, 16),
            None => digits.parse::<u64>(),
        }
        .map_err(|_| format!("'{text}' is not a whole number (or too big)"))?;
        Value::from_int(type_name, neg, mag)
            .ok_or_else(|| format!("{text} does not fit a {type_name}"))
    }
}

/// One key as the application sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub namespace: String,
    pub key: String,
    pub value: Value,
}

/// The state of one page, as its header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageInfo {
    /// Its place in the partition (0 = first 4 KiB).
    pub index: usize,
    pub state: &'static str,
    pub seq: Option<u32>,
    /// 2 (multi-page blobs) or 1; None when the header is not valid.
    pub version: Option<u8>,
    pub written: usize,
    pub erased: usize,
    pub empty: usize,
}

/// What the NVS library would not read back, or would repair, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A page header whose CRC does not match: the library treats the page as corrupt.
    PageHeaderCrc { page: usize },
    /// A page in an unknown state, or marked corrupt.
    BadPageState { page: usize, state: u32 },
    /// A page marked unused that holds data: the library treats it as corrupt.
    DirtyEmptyPage { page: usize },
    /// An entry whose CRC does not match: the library erases it.
    EntryCrc { page: usize, entry: usize },
    /// A string or blob whose entries were not all written (an interrupted write): erased.
    HalfWritten {
        page: usize,
        entry: usize,
        key: String,
    },
    /// Data after the last written entry of the active page (an interrupted write): erased.
    Unfinished { page: usize, entry: usize },
    /// Data whose CRC does not match: the library cannot read the value.
    DataCrc { namespace: String, key: String },
    /// An older copy of a key, left by an interrupted update: the newer one counts.
    Duplicate {
        namespace: String,
        key: String,
        page: usize,
        entry: usize,
    },
    /// An item in a namespace index no namespace entry names.
    UnknownNamespace { index: u8, key: String },
    /// A multi-page blob with chunks missing or of the wrong total size: unreadable.
    BlobIncomplete { namespace: String, key: String },
    /// Blob chunks no blob index refers to (left by an interrupted write): the library erases them.
    OrphanChunk { namespace: String, key: String },
    /// An entry of a type or span that cannot be.
    BadEntry { page: usize, entry: usize },
    /// Page headers are fine but the entries do not decode: encrypted NVS (its keys are in an
    /// nvs_keys partition), which otaflash cannot read.
    LooksEncrypted,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::PageHeaderCrc { page } => {
                write!(f, "page {page}: its header CRC does not match; the page is ignored as corrupt")
            }
            Problem::BadPageState { page, state } => {
                write!(f, "page {page}: state 0x{state:08x} is corrupt or unknown; the page is ignored")
            }
            Problem::DirtyEmptyPage { page } => {
                write!(f, "page {page}: marked unused but holds data; the page is ignored as corrupt")
            }
            Problem::EntryCrc { page, entry } => {
                write!(f, "page {page} entry {entry}: its CRC does not match; the NVS library erases it")
            }
            Problem::HalfWritten { page, entry, key } => write!(
                f,
                "page {page} entry {entry}: '{key}' was not completely written (power lost?); the NVS library erases it"
            ),
            Problem::Unfinished { page, entry } => write!(
                f,
                "page {page} entry {entry}: data after the last complete entry (an interrupted write); the NVS library erases it"
            ),
            Problem::DataCrc { namespace, key } => write!(
                f,
                "{namespace}/{key}: its data does not match its CRC; the application cannot read it"
            ),
            Problem::Duplicate {
                namespace,
                key,
                page,
                entry,
            } => write!(
                f,
                "{namespace}/{key}: an older copy at page {page} entry {entry} (an interrupted update); the newer one counts"
            ),
            Problem::UnknownNamespace { index, key } => write!(
                f,
                "'{key}' is in namespace #{index}, which no namespace entry names"
            ),
            Problem::BlobIncomplete { namespace, key } => write!(
                f,
                "{namespace}/{key}: blob chunks are missing or do not add up; the application cannot read it"
            ),
            Problem::OrphanChunk { namespace, key } => write!(
                f,
                "{namespace}/{key}: blob chunks without a blob index (an interrupted write); the NVS library erases them"
            ),
            Problem::BadEntry { page, entry } => {
                write!(f, "page {page} entry {entry}: not a valid NVS entry; skipped")
            }
            Problem::LooksEncrypted => f.write_str(
                "the pages are NVS pages but their entries do not decode: this looks like encrypted NVS (nvs_keys), which otaflash cannot read; nothing will be written",
            ),
        }
    }
}

/// A decoded NVS partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nvs {
    pub pages: Vec<PageInfo>,
    /// Namespace names by index, in index order.
    pub namespaces: Vec<(u8, String)>,
    /// Every readable key, namespace by namespace in index order, keys in the order written.
    pub entries: Vec<Entry>,
    pub problems: Vec<Problem>,
}

impl Nvs {
    /// Whether nothing looks NVS-like (no page with a valid header).
    pub fn is_blank(&self) -> bool {
        self.pages.iter().all(|p| p.seq.is_none())
    }

    pub fn looks_encrypted(&self) -> bool {
        self.problems.contains(&Problem::LooksEncrypted)
    }

    pub fn get(&self, namespace: &str, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|e| e.namespace == namespace && e.key == key)
            .map(|e| &e.value)
    }
}
