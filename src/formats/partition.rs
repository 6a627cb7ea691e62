//! The ESP-IDF partition table: binary (as the bootloader and gen_esp32part.py read it) and CSV
//! (as gen_esp32part.py reads and writes it).
//!
//! Binary: up to 0xC00 bytes of 32-byte rows at 0x8000 (by default). Rows are entries
//! (`AA 50` magic), one optional MD5 row (`EB EB`, FF×14, MD5 of the entry rows before it) and an
//! end marker (FF). The last 0x400 bytes of the 4 KiB sector are reserved for a signature.

use super::numbers::{parse_int, parse_u32};
use super::{le32, md5, Error, Result};

pub use super::sizes::{DEFAULT_TABLE_OFFSET, TABLE_SECTOR_SIZE};
/// What a table without an otadata partition means, said once for every face.
pub const NO_OTADATA: &str =
    "the partition table has no otadata partition (type data, subtype ota), so the bootloader always starts the factory app";
/// Of the table's sector, only this much holds rows.
pub const TABLE_MAX_LEN: usize = 0xC00;
const ROW: usize = 32;
use super::sizes::TABLE_ENTRY_MAGIC as ENTRY_MAGIC;
const MD5_MAGIC: [u8; 2] = [0xEB, 0xEB];

pub const TYPE_APP: u8 = 0x00;
pub const TYPE_DATA: u8 = 0x01;
pub const TYPE_BOOTLOADER: u8 = 0x02;
pub const TYPE_PARTITION_TABLE: u8 = 0x03;
pub const SUBTYPE_FACTORY: u8 = 0x00;
pub const SUBTYPE_OTA_0: u8 = 0x10;
pub const SUBTYPE_TEST: u8 = 0x20;
pub const SUBTYPE_OTADATA: u8 = 0x00;
pub const SUBTYPE_COREDUMP: u8 = 0x03;
pub const SUBTYPE_NVS: u8 = 0x02;
pub const SUBTYPE_NVS_KEYS: u8 = 0x04;
pub const FLAG_ENCRYPTED: u32 = 1 << 0;
pub const FLAG_READONLY: u32 = 1 << 1;
/// Offset alignment gen_esp32part.py (ESP-IDF master) demands: app 64 KiB, everything else 4 KiB.
pub const APP_ALIGN: u32 = 0x10000;
pub const DATA_ALIGN: u32 = 0x1000;
/// Size of the otadata partition.
pub const OTADATA_SIZE: u32 = 0x2000;
/// Read/write NVS partitions smaller than this must be flagged readonly (gen_esp32part.py).
const NVS_RW_MIN_SIZE: u32 = 0x3000;

const TYPES: &[(&str, u8)] = &[
    ("app", TYPE_APP),
    ("data", TYPE_DATA),
    ("bootloader", TYPE_BOOTLOADER),
    ("partition_table", TYPE_PARTITION_TABLE),
];

const APP_SUBTYPES: &[(&str, u8)] = &[
    ("factory", 0x00),
    ("ota_0", 0x10),
    ("ota_1", 0x11),
    ("ota_2", 0x12),
    ("ota_3", 0x13),
    ("ota_4", 0x14),
    ("ota_5", 0x15),
    ("ota_6", 0x16),
    ("ota_7", 0x17),
    ("ota_8", 0x18),
    ("ota_9", 0x19),
    ("ota_10", 0x1A),
    ("ota_11", 0x1B),
    ("ota_12", 0x1C),
    ("ota_13", 0x1D),
    ("ota_14", 0x1E),
    ("ota_15", 0x1F),
    ("test", 0x20),
    ("tee_0", 0x30),
    ("tee_1", 0x31),
];

const DATA_SUBTYPES: &[(&str, u8)] = &[
    ("ota", 0x00),
    ("phy", 0x01),
    ("nvs", 0x02),
    ("coredump", 0x03),
    ("nvs_keys", 0x04),
    ("efuse", 0x05),
    ("undefined", 0x06),
    ("esphttpd", 0x80),
    ("fat", 0x81),
    ("spiffs", 0x82),
    ("littlefs", 0x83),
    ("tee_ota", 0x90),
];

const BOOTLOADER_SUBTYPES: &[(&str, u8)] = &[("primary", 0x00), ("ota", 0x01), ("recovery", 0x02)];
const TABLE_SUBTYPES: &[(&str, u8)] = &[("primary", 0x00), ("ota", 0x01)];

fn subtype_keywords(ty: u8) -> &'static [(&'static str, u8)] {
    match ty {
        TYPE_APP => APP_SUBTYPES,
        TYPE_DATA => DATA_SUBTYPES,
        TYPE_BOOTLOADER => BOOTLOADER_SUBTYPES,
        TYPE_PARTITION_TABLE => TABLE_SUBTYPES,
        _ => &[],
    }
}

/// The keyword gen_esp32part.py writes for a value, or the value in decimal as it does for
/// custom types and subtypes.
fn keyword_or_number(value: u8, keywords: &[(&str, u8)]) -> String {
    keywords
        .iter()
        .find(|(_, v)| *v == value)
        .map(|(k, _)| k.to_string())
        .unwrap_or_else(|| value.to_string())
}

/// One partition table entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// The label as stored: NUL-padded, truncated to 16 bytes, no NUL when 16 long.
    pub label: [u8; 16],
    pub ty: u8,
    pub subtype: u8,
    pub offset: u32,
    pub size: u32,
    /// All flag bits as stored, unknown ones included.
    pub flags: u32,
}

impl Partition {
    /// What is wrong with this entry alone (alignment, size, place, flags) — `refused`: what
    /// gen_esp32part.py refuses; the table ends at `table_end`.
    fn findings(&self, layout: &Layout, table_end: u64, warn: &mut impl FnMut(bool, String)) {
        let p = self;
        let name = p.name();
        if !p.offset.is_multiple_of(p.required_alignment()) {
            warn(
                true,
                format!(
                    "{name}: offset 0x{:x} is not aligned to 0x{:x} ({} partitions need {} KiB alignment)",
                    p.offset,
                    p.required_alignment(),
                    if p.is_app() { "app" } else { "data" },
                    p.required_alignment() / 1024
                ),
            );
        }
        if p.is_app() && !p.size.is_multiple_of(DATA_ALIGN) {
            warn(
                true,
                format!(
                    "{name}: app size 0x{:x} is not a multiple of 0x1000",
                    p.size
                ),
            );
        }
        if p.size == 0 {
            warn(false, format!("{name}: size is 0"));
        }
        if (p.offset as u64) < table_end && !matches!(p.ty, TYPE_BOOTLOADER | TYPE_PARTITION_TABLE)
        {
            warn(
                true,
                format!(
                    "{name}: offset 0x{:x} is below 0x{table_end:x}, the end of the partition table sector",
                    p.offset
                ),
            );
        }
        if let Some(flash) = layout.flash_size {
            if p.end() > flash as u64 {
                warn(
                    false,
                    format!(
                        "{name}: ends at 0x{:x}, past the end of the {} flash (0x{flash:x}); the bootloader rejects this table",
                        p.end(),
                        super::numbers::human_size(flash as u64)
                    ),
                );
            }
        }
        let unknown = p.flags & !(FLAG_ENCRYPTED | FLAG_READONLY);
        if unknown != 0 {
            warn(false, format!("{name}: unknown flag bits 0x{unknown:08x}"));
        }
        if p.ty == TYPE_DATA
            && matches!(p.subtype, SUBTYPE_OTADATA | SUBTYPE_COREDUMP)
            && p.readonly()
        {
            warn(
                true,
                format!(
                    "{name}: {} partitions are always read-write and cannot be readonly",
                    p.subtype_name()
                ),
            );
        }
        if p.ty == TYPE_DATA
            && p.subtype == SUBTYPE_NVS
            && p.size < NVS_RW_MIN_SIZE
            && !p.readonly()
        {
            warn(
                true,
                format!("{name}: a read/write nvs partition must be at least 0x3000 bytes (or flagged readonly)"),
            );
        }
    }

    pub fn new(name: &str, ty: u8, subtype: u8, offset: u32, size: u32, flags: u32) -> Self {
        let mut label = [0u8; 16];
        let n = name.len().min(16);
        label[..n].copy_from_slice(&name.as_bytes()[..n]);
        Partition {
            label,
            ty,
            subtype,
            offset,
            size,
            flags,
        }
    }

    /// The label as text: the bytes before the first NUL.
    pub fn name(&self) -> String {
        let end = self.label.iter().position(|&b| b == 0).unwrap_or(16);
        String::from_utf8_lossy(&self.label[..end]).into_owned()
    }

    pub fn end(&self) -> u64 {
        self.offset as u64 + self.size as u64
    }

    pub fn encrypted(&self) -> bool {
        self.flags & FLAG_ENCRYPTED != 0
    }

    pub fn readonly(&self) -> bool {
        self.flags & FLAG_READONLY != 0
    }

    pub fn type_name(&self) -> String {
        keyword_or_number(self.ty, TYPES)
    }

    /// The subtype as gen_esp32part.py writes it in CSV (a keyword, or the number in decimal).
    pub fn subtype_name(&self) -> String {
        keyword_or_number(self.subtype, subtype_keywords(self.ty))
    }

    /// The subtype for people: a keyword, or "custom 0x99" for one the tools have no name for.
    pub fn subtype_words(&self) -> String {
        subtype_keywords(self.ty)
            .iter()
            .find(|(_, v)| *v == self.subtype)
            .map(|(k, _)| k.to_string())
            .unwrap_or_else(|| format!("custom 0x{:02x}", self.subtype))
    }

    pub fn is_app(&self) -> bool {
        self.ty == TYPE_APP
    }

    /// N for an `ota_N` app partition.
    pub fn ota_index(&self) -> Option<u8> {
        (self.ty == TYPE_APP && self.subtype & 0xF0 == SUBTYPE_OTA_0).then_some(self.subtype & 0x0F)
    }

    pub fn is_factory(&self) -> bool {
        self.ty == TYPE_APP && self.subtype == SUBTYPE_FACTORY
    }

    pub fn is_test(&self) -> bool {
        self.ty == TYPE_APP && self.subtype == SUBTYPE_TEST
    }

    pub fn is_otadata(&self) -> bool {
        self.ty == TYPE_DATA && self.subtype == SUBTYPE_OTADATA
    }

    /// An NVS partition (data, nvs).
    pub fn is_nvs(&self) -> bool {
        self.ty == TYPE_DATA && self.subtype == SUBTYPE_NVS
    }

    /// The keys of encrypted NVS (data, nvs_keys).
    pub fn is_nvs_keys(&self) -> bool {
        self.ty == TYPE_DATA && self.subtype == SUBTYPE_NVS_KEYS
    }

    /// Offset alignment gen_esp32part.py requires for this partition's type.
    pub fn required_alignment(&self) -> u32 {
        if self.ty == TYPE_APP {
            APP_ALIGN
        } else {
            DATA_ALIGN
        }
    }

    pub fn to_row(&self) -> [u8; ROW] {
        let mut r = [0u8; ROW];
        r[0..2].copy_from_slice(&ENTRY_MAGIC);
        r[2] = self.ty;
        r[3] = self.subtype;
        r[4..8].copy_from_slice(&self.offset.to_le_bytes());
        r[8..12].copy_from_slice(&self.size.to_le_bytes());
        r[12..28].copy_from_slice(&self.label);
        r[28..32].copy_from_slice(&self.flags.to_le_bytes());
        r
    }

    fn from_row(r: &[u8]) -> Self {
        let mut label = [0u8; 16];
        label.copy_from_slice(&r[12..28]);
        Partition {
            label,
            ty: r[2],
            subtype: r[3],
            offset: le32(r, 4),
            size: le32(r, 8),
            flags: le32(r, 28),
        }
    }

    /// One CSV line as gen_esp32part.py writes it (without newline).
    pub fn to_csv(&self) -> String {
        let mut flags = vec![];
        if self.encrypted() {
            flags.push("encrypted");
        }
        if self.readonly() {
            flags.push("readonly");
        }
        format!(
            "{},{},{},0x{:x},{},{}",
            self.name(),
            self.type_name(),
            self.subtype_name(),
            self.offset,
            csv_size(self.size),
            flags.join(":")
        )
    }
}

/// gen_esp32part.py prints sizes as `NM` or `NK` when they divide evenly, else hex.
fn csv_size(size: u32) -> String {
    if size.is_multiple_of(0x100000) {
        format!("{}M", size / 0x100000)
    } else if size.is_multiple_of(0x400) {
        format!("{}K", size / 0x400)
    } else {
        format!("0x{size:x}")
    }
}

/// What the MD5 row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Md5Status {
    Ok,
    Mismatch {
        stored: [u8; 16],
        computed: [u8; 16],
    },
    Absent,
}

impl Md5Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Md5Status::Ok => "ok",
            Md5Status::Mismatch { .. } => "mismatch",
            Md5Status::Absent => "absent",
        }
    }
}

/// A decoded partition table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionTable {
    pub entries: Vec<Partition>,
    pub md5: Md5Status,
    /// The rows ended at the 0xC00 limit without an end marker.
    pub missing_end_marker: bool,
}

/// Something worth telling about a table. `refused` marks what gen_esp32part.py refuses to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub message: String,
    pub refused: bool,
}

/// Facts about the flash the table lives in, for the checks.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub table_offset: u32,
    pub flash_size: Option<u32>,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            table_offset: DEFAULT_TABLE_OFFSET,
            flash_size: None,
        }
    }
}

/// One row of a partitions.csv, as written (offset not yet placed, size maybe negative).
struct CsvRow {
    line: usize,
    name: String,
    ty: u8,
    subtype: u8,
    offset: Option<u32>,
    size: i64,
    flags: u32,
}

impl CsvRow {
    /// Line `line_no` of the CSV (None: blank or a comment), refused as gen_esp32part.py
    /// refuses it.
    fn parse(line_no: usize, raw: &str) -> Result<Option<CsvRow>> {
        let bad = |line: usize, msg: String| Error::Invalid(format!("CSV line {line}: {msg}"));
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(None);
        }
        let padded = format!("{line},,,,");
        let f: Vec<&str> = padded.split(',').map(str::trim).collect();
        let name = f[0].to_string();
        if f[1].is_empty() {
            return Err(bad(line_no, "the Type field can't be empty".into()));
        }
        let ty = parse_keyword(f[1], TYPES)
            .ok_or_else(|| bad(line_no, unknown_keyword("type", f[1], TYPES)))?;
        let subtype = if f[2].is_empty() {
            if ty == TYPE_APP {
                return Err(bad(
                    line_no,
                    "an app partition cannot have an empty SubType".into(),
                ));
            }
            0x06 // 'undefined'
        } else {
            let kw = subtype_keywords(ty);
            parse_keyword(f[2], kw)
                .ok_or_else(|| bad(line_no, unknown_keyword("subtype", f[2], kw)))?
        };
        let offset = if f[3].is_empty() {
            None
        } else {
            Some(
                parse_u32(f[3])
                    .ok_or_else(|| bad(line_no, format!("invalid offset '{}'", f[3])))?,
            )
        };
        if f[4].is_empty() {
            return Err(bad(line_no, "the Size field can't be empty".into()));
        }
        let size = parse_int(f[4])
            .filter(|v| v.unsigned_abs() <= u32::MAX as u64)
            .ok_or_else(|| bad(line_no, format!("invalid size '{}'", f[4])))?;
        let mut flags = 0;
        for flag in f[5].split(':').filter(|s| !s.is_empty()) {
            flags |= match flag {
                "encrypted" => FLAG_ENCRYPTED,
                "readonly" => FLAG_READONLY,
                other => {
                    return Err(bad(
                        line_no,
                        format!("unknown flag '{other}' (known: encrypted, readonly)"),
                    ))
                }
            };
        }
        if offset.is_none() && matches!(ty, TYPE_BOOTLOADER | TYPE_PARTITION_TABLE) {
            return Err(bad(
                line_no,
                "bootloader and partition_table entries need an explicit offset".into(),
            ));
        }
        Ok(Some(CsvRow {
            line: line_no,
            name,
            ty,
            subtype,
            offset,
            size,
            flags,
        }))
    }
}

impl PartitionTable {
    /// Decodes a bare table (0xC00 or 0x1000 bytes; a shorter input is fine when it holds the
    /// end marker). Rows are read the way the bootloader's verifier reads them.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let data = &bytes[..bytes.len().min(TABLE_MAX_LEN)];
        if data.len() < 2 || data[0..2] != ENTRY_MAGIC {
            if data.len() >= 4 && data[..4] == [0xFF; 4] {
                return Err(Error::Invalid(
                    "no partition table: the sector is blank (all 0xFF)".into(),
                ));
            }
            let start = super::hex(&data[..data.len().min(4)]);
            let hint = super::sniff::describe(bytes)
                .map(|k| format!(" (this looks like {k})"))
                .unwrap_or_default();
            return Err(Error::WrongKind(format!(
                "not a partition table: expected magic AA 50 at the start, found {start}{hint}"
            )));
        }
        let mut entries = vec![];
        let mut md5_status = Md5Status::Absent;
        let mut row_start = 0;
        loop {
            if row_start == TABLE_MAX_LEN {
                return Ok(PartitionTable {
                    entries,
                    md5: md5_status,
                    missing_end_marker: true,
                });
            }
            if row_start + ROW > data.len() {
                return Err(Error::Truncated(format!(
                    "partition table is truncated: {} bytes, and no end marker (a row of 0xFF) before the end",
                    bytes.len()
                )));
            }
            let row = &data[row_start..row_start + ROW];
            if row[0..2] == ENTRY_MAGIC {
                entries.push(Partition::from_row(row));
            } else if row[0..2] == MD5_MAGIC {
                if md5_status != Md5Status::Absent {
                    return Err(Error::Invalid(format!(
                        "partition table has a second MD5 row (row {}); the bootloader rejects it",
                        row_start / ROW
                    )));
                }
                let mut stored = [0u8; 16];
                stored.copy_from_slice(&row[16..32]);
                let computed = md5(&data[..row_start]);
                md5_status = if stored == computed {
                    Md5Status::Ok
                } else {
                    Md5Status::Mismatch { stored, computed }
                };
            } else if row[0..4] == [0xFF; 4] {
                // The C verifier ends at magic FFFF + type FF + subtype FF.
                return Ok(PartitionTable {
                    entries,
                    md5: md5_status,
                    missing_end_marker: false,
                });
            } else {
                return Err(Error::Invalid(format!(
                    "partition table row {} (byte 0x{:x}) has unknown magic {:02X} {:02X}; the bootloader rejects this table",
                    row_start / ROW,
                    row_start,
                    row[0],
                    row[1]
                )));
            }
            row_start += ROW;
        }
    }

    /// Decodes the table inside a full flash dump.
    pub fn from_flash(dump: &[u8], offset: u32) -> Result<Self> {
        let start = offset as usize;
        if dump.len() < start + ROW {
            return Err(Error::Truncated(format!(
                "flash dump is {} bytes, too short to hold a partition table at 0x{offset:x}",
                dump.len()
            )));
        }
        let end = (start + TABLE_MAX_LEN).min(dump.len());
        Self::parse(&dump[start..end]).map_err(|e| match e {
            Error::WrongKind(m) | Error::Invalid(m) => {
                Error::Invalid(format!("at 0x{offset:x} in the flash dump: {m}"))
            }
            other => other,
        })
    }

    /// The 0xC00-byte binary, with an MD5 row when `md5` is true, as gen_esp32part.py emits it.
    pub fn to_bytes_with(&self, md5_row: bool) -> Result<Vec<u8>> {
        let mut out: Vec<u8> = self.entries.iter().flat_map(|p| p.to_row()).collect();
        if md5_row {
            let digest = md5(&out);
            out.extend_from_slice(&MD5_MAGIC);
            out.extend_from_slice(&[0xFF; 14]);
            out.extend_from_slice(&digest);
        }
        if out.len() >= TABLE_MAX_LEN {
            return Err(Error::Invalid(format!(
                "{} partitions do not fit: the binary table would be {} bytes, the limit is {} including the end marker",
                self.entries.len(),
                out.len(),
                TABLE_MAX_LEN
            )));
        }
        out.resize(TABLE_MAX_LEN, 0xFF);
        Ok(out)
    }

    /// The binary with an MD5 row if the decoded table had one (correct or not).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.to_bytes_with(self.md5 != Md5Status::Absent)
    }

    pub fn find(&self, label: &str) -> Option<&Partition> {
        self.entries.iter().find(|p| p.name() == label)
    }

    /// The otadata partition (the last one, as the bootloader takes the last).
    pub fn otadata(&self) -> Option<&Partition> {
        self.entries.iter().rev().find(|p| p.is_otadata())
    }

    /// The CSV text gen_esp32part.py writes for this table.
    pub fn to_csv(&self) -> String {
        let mut s =
            String::from("# ESP-IDF Partition Table\n# Name, Type, SubType, Offset, Size, Flags\n");
        for p in &self.entries {
            s.push_str(&p.to_csv());
            s.push('\n');
        }
        s
    }

    /// Reads CSV the way gen_esp32part.py (ESP-IDF master) does: `#` comments, blank offsets
    /// filled in after the previous partition (aligned for the type), `-X` sizes meaning "up to
    /// X", keywords or numbers for type and subtype, `encrypted`/`readonly` flags. Then refuses
    /// what gen_esp32part.py refuses (overlaps, misalignment, duplicate names, ...).
    pub fn from_csv(text: &str, table_offset: u32) -> Result<Self> {
        let mut rows = vec![];
        for (i, raw) in text.lines().enumerate() {
            rows.extend(CsvRow::parse(i + 1, raw)?);
        }
        let bad = |line: usize, msg: String| Error::Invalid(format!("CSV line {line}: {msg}"));
        if rows.is_empty() {
            return Err(Error::Invalid("CSV holds no partitions".into()));
        }
        // Fill in offsets and negative sizes, refusing an explicit offset that goes backwards.
        let mut last_end: u64 = table_offset as u64 + TABLE_SECTOR_SIZE as u64;
        let mut entries = vec![];
        for (i, r) in rows.iter().enumerate() {
            let offset = match r.offset {
                Some(o)
                    if (o as u64) < last_end
                        && !matches!(r.ty, TYPE_BOOTLOADER | TYPE_PARTITION_TABLE) =>
                {
                    return Err(bad(
                        r.line,
                        if i == 0 {
                            format!("partitions overlap: offset 0x{o:x} is inside the partition table sector; use 0x{last_end:x} or higher")
                        } else {
                            format!("partitions overlap: offset 0x{o:x}, but the previous partition ends at 0x{last_end:x}")
                        },
                    ));
                }
                Some(o) => o as u64,
                None => {
                    let align = if r.ty == TYPE_APP {
                        APP_ALIGN
                    } else {
                        DATA_ALIGN
                    } as u64;
                    last_end.div_ceil(align) * align
                }
            };
            let size = if r.size < 0 {
                (-r.size) - offset as i64
            } else {
                r.size
            };
            if size < 0 || offset + size as u64 > u32::MAX as u64 + 1 {
                return Err(bad(
                    r.line,
                    format!("size {} does not fit at offset 0x{offset:x}", r.size),
                ));
            }
            if !matches!(r.ty, TYPE_BOOTLOADER | TYPE_PARTITION_TABLE) {
                last_end = offset + size as u64;
            }
            entries.push(Partition::new(
                &r.name,
                r.ty,
                r.subtype,
                offset as u32,
                size as u32,
                r.flags,
            ));
        }
        let table = PartitionTable {
            entries,
            md5: Md5Status::Ok,
            missing_end_marker: false,
        };
        let layout = Layout {
            table_offset,
            flash_size: None,
        };
        if let Some(f) = table.findings(&layout).into_iter().find(|f| f.refused) {
            return Err(Error::Invalid(f.message));
        }
        table.to_bytes_with(true)?; // refuses too many rows
        Ok(table)
    }

    /// Everything questionable about the table: the checks gen_esp32part.py enforces
    /// (`refused`), and what the bootloader or the app would trip over (warnings).
    pub fn findings(&self, layout: &Layout) -> Vec<Finding> {
        let mut out = vec![];
        let mut warn = |refused: bool, message: String| out.push(Finding { message, refused });
        if let Md5Status::Mismatch { stored, computed } = self.md5 {
            warn(
                false,
                format!(
                    "MD5 row does not match the entries (stored {}, computed {}): the bootloader rejects this table",
                    super::hex(&stored),
                    super::hex(&computed)
                ),
            );
        }
        if self.missing_end_marker {
            warn(false, "no end marker before the 0xC00 limit".into());
        }
        let table_end = layout.table_offset as u64 + TABLE_SECTOR_SIZE as u64;
        for p in &self.entries {
            p.findings(layout, table_end, &mut warn);
        }
        self.name_and_overlap_findings(&mut warn);
        self.ota_findings(&mut warn);
        out
    }

    /// Labels used twice, partitions that overlap.
    fn name_and_overlap_findings(&self, warn: &mut impl FnMut(bool, String)) {
        for (i, a) in self.entries.iter().enumerate() {
            if self.entries[..i].iter().any(|b| b.label == a.label) {
                warn(
                    true,
                    format!("partition name '{}' is used more than once", a.name()),
                );
            }
        }
        let mut by_offset: Vec<&Partition> = self
            .entries
            .iter()
            .filter(|p| !matches!(p.ty, TYPE_BOOTLOADER | TYPE_PARTITION_TABLE))
            .collect();
        by_offset.sort_by_key(|p| p.offset);
        for w in by_offset.windows(2) {
            if (w[1].offset as u64) < w[0].end() {
                warn(
                    true,
                    format!(
                        "{} at 0x{:x} overlaps {} (0x{:x}-0x{:x})",
                        w[1].name(),
                        w[1].offset,
                        w[0].name(),
                        w[0].offset,
                        w[0].end() - 1
                    ),
                );
            }
        }
    }

    /// otadata and the OTA slots: one otadata of 0x2000 bytes, ota_N without gaps or twins.
    fn ota_findings(&self, warn: &mut impl FnMut(bool, String)) {
        let otadata: Vec<&Partition> = self.entries.iter().filter(|p| p.is_otadata()).collect();
        if otadata.len() > 1 {
            warn(
                true,
                format!(
                    "{} otadata partitions; there must be at most one",
                    otadata.len()
                ),
            );
        }
        if let [o] = otadata[..] {
            if o.size != OTADATA_SIZE {
                warn(
                    true,
                    format!(
                        "{}: otadata must be 0x2000 bytes, not 0x{:x}",
                        o.name(),
                        o.size
                    ),
                );
            }
        }
        let slots = OtaSlots::of(self);
        let distinct = slots.by_index.iter().flatten().count() as u32;
        if distinct > slots.app_count {
            let unreachable = slots.unreachable_names(self);
            warn(
                false,
                format!(
                    "the ota_N numbers have a gap: the bootloader counts {} OTA slots, the app side (esp_ota_*, otatool.py) only {} (consecutive from ota_0){}",
                    slots.bootloader_count,
                    slots.app_count,
                    if unreachable.is_empty() {
                        String::new()
                    } else {
                        format!("; {} can never be selected by otadata", unreachable.join(", "))
                    }
                ),
            );
        }
        let mut seen = [false; 16];
        for p in &self.entries {
            if let Some(n) = p.ota_index() {
                if std::mem::replace(&mut seen[n as usize], true) {
                    warn(
                        false,
                        format!("ota_{n} appears more than once; the bootloader uses the last one"),
                    );
                }
            }
        }
        if otadata.is_empty() && slots.bootloader_count > 0 {
            warn(
                false,
                format!("there are OTA app partitions, but {}", NO_OTADATA),
            );
        }
    }

    /// Only the warning texts (for display), gen_esp32part refusals included.
    pub fn warnings(&self, layout: &Layout) -> Vec<String> {
        self.findings(layout)
            .into_iter()
            .map(|f| f.message)
            .collect()
    }
}

/// How the bootloader and the app side each see the OTA slots of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtaSlots {
    /// `bs->ota[n]`: the index into `entries` of the last ota_n partition.
    pub by_index: [Option<usize>; 16],
    /// What the bootloader divides by: every ota_N entry counts (`++app_count`).
    pub bootloader_count: u32,
    /// What esp_ota_* and otatool.py use: consecutive ota_0, ota_1, ... until the first gap.
    pub app_count: u32,
    pub factory: Option<usize>,
    pub test: Option<usize>,
}

impl OtaSlots {
    pub fn of(table: &PartitionTable) -> Self {
        let mut s = OtaSlots {
            by_index: [None; 16],
            bootloader_count: 0,
            app_count: 0,
            factory: None,
            test: None,
        };
        for (i, p) in table.entries.iter().enumerate() {
            if let Some(n) = p.ota_index() {
                s.by_index[n as usize] = Some(i);
                s.bootloader_count += 1;
            } else if p.is_factory() {
                s.factory = Some(i);
            } else if p.is_test() {
                s.test = Some(i);
            }
        }
        s.app_count = s.by_index.iter().take_while(|x| x.is_some()).count() as u32;
        s
    }

    /// Names of ota_N partitions no otadata sequence number can select.
    pub fn unreachable_names(&self, table: &PartitionTable) -> Vec<String> {
        self.by_index
            .iter()
            .enumerate()
            .filter(|(n, e)| e.is_some() && *n as u32 >= self.bootloader_count)
            .map(|(_, e)| table.entries[e.unwrap()].name())
            .collect()
    }
}

fn parse_keyword(text: &str, keywords: &[(&str, u8)]) -> Option<u8> {
    match parse_int(text) {
        Some(v) => u8::try_from(v).ok(),
        None => {
            let l = text.to_ascii_lowercase();
            keywords.iter().find(|(k, _)| *k == l).map(|(_, v)| *v)
        }
    }
}

fn unknown_keyword(what: &str, text: &str, keywords: &[(&str, u8)]) -> String {
    let known: Vec<&str> = keywords.iter().map(|(k, _)| *k).collect();
    if known.is_empty() {
        format!("{what} '{text}' is not valid: use a number 0-255")
    } else {
        format!(
            "{what} '{text}' is not valid. Known keywords: {}",
            known.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_ota() -> PartitionTable {
        PartitionTable::from_csv(
            "nvs,data,nvs,,0x4000,\notadata,data,ota,,0x2000\nphy_init,data,phy,,0x1000\nfactory,app,factory,,1M\nota_0,app,ota_0,,1M\nota_1,app,ota_1,,1M\n",
            DEFAULT_TABLE_OFFSET,
        )
        .unwrap()
    }

    #[test]
    fn csv_auto_offsets_match_gen_esp32part() {
        let t = two_ota();
        let offs: Vec<u32> = t.entries.iter().map(|p| p.offset).collect();
        assert_eq!(offs, [0x9000, 0xD000, 0xF000, 0x10000, 0x110000, 0x210000]);
        assert!(t.findings(&Layout::default()).is_empty());
    }

    #[test]
    fn binary_round_trip_and_md5() {
        let t = two_ota();
        let bin = t.to_bytes().unwrap();
        assert_eq!(bin.len(), 0xC00);
        let back = PartitionTable::parse(&bin).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.md5, Md5Status::Ok);
        let mut broken = bin.clone();
        broken[5] ^= 1;
        assert!(matches!(
            PartitionTable::parse(&broken).unwrap().md5,
            Md5Status::Mismatch { .. }
        ));
        let plain = t.to_bytes_with(false).unwrap();
        assert_eq!(
            PartitionTable::parse(&plain).unwrap().md5,
            Md5Status::Absent
        );
    }

    #[test]
    fn labels_are_16_bytes_without_nul() {
        let p = Partition::new("abcdefghijklmnopqrst", 1, 0x82, 0x9000, 0x1000, 0);
        assert_eq!(&p.label, b"abcdefghijklmnop");
        assert_eq!(p.name(), "abcdefghijklmnop");
    }

    #[test]
    fn custom_types_print_as_numbers() {
        let p = Partition::new(
            "x",
            0x40,
            0x99,
            0x9000,
            0x1000,
            FLAG_ENCRYPTED | FLAG_READONLY,
        );
        assert_eq!(p.to_csv(), "x,64,153,0x9000,4K,encrypted:readonly");
        let d = Partition::new("e", 1, 0x99, 0x9000, 0x1000, 0);
        assert_eq!(
            (d.type_name().as_str(), d.subtype_name().as_str()),
            ("data", "153")
        );
    }

    #[test]
    fn refusals_and_warnings() {
        let overlap = "a,data,nvs,0x9000,0x4000\nb,data,phy,0xA000,0x1000\n";
        let e = PartitionTable::from_csv(overlap, DEFAULT_TABLE_OFFSET).unwrap_err();
        assert!(e.to_string().contains("overlap"), "{e}");
        let unaligned = "a,app,factory,0x11000,1M\n";
        let e = PartitionTable::from_csv(unaligned, DEFAULT_TABLE_OFFSET).unwrap_err();
        assert!(e.to_string().contains("not aligned"), "{e}");
        let gap =
            "otadata,data,ota,0xd000,0x2000\na,app,ota_0,0x10000,1M\nb,app,ota_2,0x110000,1M\n";
        let t = PartitionTable::from_csv(gap, DEFAULT_TABLE_OFFSET).unwrap();
        let w = t.warnings(&Layout {
            table_offset: 0x8000,
            flash_size: Some(0x200000),
        });
        assert!(
            w.iter().any(|m| m.contains("gap") && m.contains("b")),
            "{w:?}"
        );
        assert!(w.iter().any(|m| m.contains("past the end")), "{w:?}");
    }

    #[test]
    fn not_a_table() {
        assert!(matches!(
            PartitionTable::parse(&[0xE9; 64]),
            Err(Error::WrongKind(_))
        ));
        assert!(matches!(
            PartitionTable::parse(&[0xFF; 0xC00]),
            Err(Error::Invalid(_))
        ));
        let t = two_ota().to_bytes().unwrap();
        assert!(matches!(
            PartitionTable::parse(&t[..100]),
            Err(Error::Truncated(_))
        ));
    }
}
