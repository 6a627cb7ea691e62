//! Making an NVS partition image byte for byte as ESP-IDF's `nvs_partition_gen.py` (PyPI
//! `esp-idf-nvs-partition-gen` 0.3.0, `generate`) makes it from the same rows and size: the same
//! page filling, entry layout, CRCs, multi-page blob chunking and padding, quirks included (an
//! entry after a repeated namespace row goes to the newest namespace, as the tool does).

use super::decode::{entry_crc, header_crc};
use super::{
    item, page_state, Value, ENTRIES_PER_PAGE, ENTRY_SIZE, FIRST_ENTRY, MAX_KEY_LEN, PAGE_SIZE,
};
use crate::formats::crc32_le;
use std::fmt;

/// The NVS format version: 2 has multi-page blobs (the default), 1 single-page blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

impl Version {
    fn byte(self) -> u8 {
        match self {
            Version::V1 => 0xFF,
            Version::V2 => 0xFE,
        }
    }
    fn max_blob(self) -> usize {
        match self {
            Version::V1 => 1984,
            Version::V2 => 4000,
        }
    }
}

/// What a CSV row is (its `type` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Namespace,
    /// The value is in the row.
    Data,
    /// The value is a file's content (the caller reads it).
    File,
}

/// One row of the generator's input: `key,type,encoding,value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: String,
    pub kind: RowKind,
    /// u8 … i64, string, hex2bin, base64, binary, blob_fill(N;0xPP), blob_sz_fill(N;0xPP).
    pub encoding: String,
    /// The value's text (Data) or the file's bytes (File).
    pub value: Vec<u8>,
}

impl Row {
    pub fn namespace(name: &str) -> Row {
        Row {
            key: name.into(),
            kind: RowKind::Namespace,
            encoding: String::new(),
            value: vec![],
        }
    }

    pub fn data(key: &str, encoding: &str, value: &str) -> Row {
        Row {
            key: key.into(),
            kind: RowKind::Data,
            encoding: encoding.into(),
            value: value.as_bytes().to_vec(),
        }
    }
}

/// Why no image was made (nothing is written then).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenError {
    /// The partition size is not a multiple of 4 KiB, or too small.
    Size(String),
    /// The entries do not fit the size.
    TooBig { size: u32 },
    /// A row the tool would refuse (with the key and why).
    Row { key: String, why: String },
}

impl fmt::Display for GenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenError::Size(m) => f.write_str(m),
            GenError::TooBig { size } => write!(
                f,
                "the entries do not fit a {size}-byte (0x{size:x}) NVS partition (one page stays free for the NVS library)"
            ),
            GenError::Row { key, why } => write!(f, "'{key}': {why}"),
        }
    }
}

impl std::error::Error for GenError {}

struct Page {
    buf: Vec<u8>,
    entry_num: usize,
}

impl Page {
    fn new(seq: u32, version: Version) -> Page {
        let mut buf = vec![0xFF; PAGE_SIZE];
        buf[0..4].copy_from_slice(&page_state::ACTIVE.to_le_bytes());
        buf[4..8].copy_from_slice(&seq.to_le_bytes());
        buf[8] = version.byte();
        let crc = header_crc(&buf);
        buf[28..32].copy_from_slice(&crc.to_le_bytes());
        Page { buf, entry_num: 0 }
    }

    /// Writes `data` over `count` entries from the next free one (the rest stays 0xFF) and marks
    /// them written.
    fn put(&mut self, data: &[u8], count: usize) {
        let at = FIRST_ENTRY + ENTRY_SIZE * self.entry_num;
        self.buf[at..at + data.len()].copy_from_slice(data);
        for _ in 0..count {
            let bit = self.entry_num * 2;
            self.buf[32 + bit / 8] &= !(1 << (bit % 8));
            self.entry_num += 1;
        }
    }
}

fn with_crc(mut e: [u8; 32]) -> [u8; 32] {
    let c = entry_crc(&e);
    e[4..8].copy_from_slice(&c.to_le_bytes());
    e
}

fn header(ns: u8, typ: u8, key: &str) -> [u8; 32] {
    let mut e = [0xFF; 32];
    e[0] = ns;
    e[1] = typ;
    e[3] = item::CHUNK_ANY;
    e[8..24].fill(0);
    e[8..8 + key.len()].copy_from_slice(key.as_bytes());
    e
}

struct Gen {
    version: Version,
    pages: Vec<Page>,
    /// Pages that may still be started (the generator's `size` countdown).
    left: u32,
    page_num: u32,
    size: u32,
    namespace_count: u8,
    namespaces: Vec<(String, u8)>,
    sta_extras: bool,
}

/// The page is full: the entry goes to a new one.
struct Full;

impl Gen {
    fn cur(&mut self) -> &mut Page {
        self.pages.last_mut().expect("a page")
    }

    fn new_page(&mut self) -> Result<(), GenError> {
        if let Some(p) = self.pages.last_mut() {
            if p.buf[0..4] == page_state::ACTIVE.to_le_bytes() {
                p.buf[0..4].copy_from_slice(&page_state::FULL.to_le_bytes());
            }
        }
        if self.left == 0 {
            return Err(GenError::TooBig { size: self.size });
        }
        self.left -= PAGE_SIZE as u32;
        self.page_num += 1;
        let p = Page::new(self.page_num - 1, self.version);
        self.pages.push(p);
        Ok(())
    }

    fn primitive(&mut self, ns: u8, key: &str, typ: u8, le: &[u8]) -> Result<(), Full> {
        if self.cur().entry_num >= ENTRIES_PER_PAGE {
            return Err(Full);
        }
        let mut e = header(ns, typ, key);
        e[2] = 1;
        e[24..24 + le.len()].copy_from_slice(le);
        self.cur().put(&with_crc(e), 1);
        Ok(())
    }

    /// A string or blob: one page for strings (and blobs in version 1), chunks across pages for
    /// version-2 blobs.
    fn varlen(&mut self, ns: u8, key: &str, data: &[u8], string: bool) -> Result<bool, GenError> {
        let len = data.len();
        let entries = len.div_ceil(32);
        let chunked = self.version == Version::V2 && !string;
        let n = self.cur().entry_num;
        if n >= ENTRIES_PER_PAGE || (n + entries + 1 >= ENTRIES_PER_PAGE && !chunked) {
            return Ok(false);
        }
        let mut e = header(ns, if string { item::STR } else { item::BLOB }, key);
        if !chunked {
            e[2] = (entries + 1) as u8;
            e[24..26].copy_from_slice(&(len as u16).to_le_bytes());
            e[28..32].copy_from_slice(&crc32_le(0xFFFF_FFFF, data).to_le_bytes());
            let e = with_crc(e);
            self.cur().put(&e, 1);
            self.cur().put(data, entries);
            return Ok(true);
        }
        // Version-2 blob: data chunks as far as each page has room, then the index.
        let mut offset = 0;
        let mut remaining = len;
        let mut chunk_count = 0u8;
        loop {
            let tailroom = (ENTRIES_PER_PAGE - self.cur().entry_num - 1) * ENTRY_SIZE;
            let chunk = tailroom.min(remaining);
            remaining -= chunk;
            let chunk_entries = chunk.div_ceil(32);
            e[1] = item::BLOB_DATA;
            e[2] = (chunk_entries + 1) as u8;
            e[3] = chunk_count;
            e[24..26].copy_from_slice(&(chunk as u16).to_le_bytes());
            let part = &data[offset..offset + chunk];
            e[28..32].copy_from_slice(&crc32_le(0xFFFF_FFFF, part).to_le_bytes());
            e = with_crc(e);
            self.cur().put(&e, 1);
            self.cur().put(part, chunk_entries);
            chunk_count += 1;
            if remaining > 0 || tailroom - chunk < ENTRY_SIZE {
                self.new_page()?;
            }
            offset += chunk;
            if remaining == 0 {
                e[24..32].fill(0xFF);
                e[1] = item::BLOB_IDX;
                e[2] = 1;
                e[3] = item::CHUNK_ANY;
                e[24..28].copy_from_slice(&(len as u32).to_le_bytes());
                e[28] = chunk_count;
                e[29] = 0;
                e = with_crc(e);
                self.cur().put(&e, 1);
                return Ok(true);
            }
        }
    }

    fn namespace(&mut self, name: &str) -> Result<(), GenError> {
        if self.namespaces.iter().any(|(n, _)| n == name) {
            return Ok(());
        }
        self.namespace_count = self.namespace_count.checked_add(1).ok_or(GenError::Row {
            key: name.into(),
            why: "more than 254 namespaces".into(),
        })?;
        let idx = self.namespace_count;
        if self.primitive(0, name, item::U8, &[idx]).is_err() {
            self.new_page()?;
            let _ = self.primitive(0, name, item::U8, &[idx]);
        }
        self.namespaces.push((name.into(), idx));
        Ok(())
    }

    /// One value (`nvs_partition_gen.py` `NVS.write_entry`).
    fn entry(&mut self, key: &str, value: &[u8], encoding: &str) -> Result<(), GenError> {
        let bad = |why: String| GenError::Row {
            key: key.into(),
            why,
        };
        let ns = self.namespace_count;
        let text = || String::from_utf8(value.to_vec()).map_err(|_| bad("not UTF-8 text".into()));
        let (bytes, string): (Vec<u8>, bool) = match encoding {
            "string" => {
                let mut b = text()?.into_bytes();
                b.push(0);
                if b.len() > self.version.max_blob() {
                    return Err(bad(format!(
                        "a string of {} bytes (with its NUL) is longer than the {} NVS allows",
                        b.len(),
                        self.version.max_blob()
                    )));
                }
                (b, true)
            }
            "hex2bin" => {
                let t = text()?;
                let t = t.trim();
                if !t.len().is_multiple_of(2) {
                    return Err(bad("hex2bin: an odd number of hex digits".into()));
                }
                let b = crate::formats::numbers::parse_hex(t)
                    .filter(|_| !t.contains([' ', ':']))
                    .ok_or_else(|| bad(format!("hex2bin: '{t}' is not hex")))?;
                (b, false)
            }
            "base64" => (
                base64_lenient(&text()?).ok_or_else(|| bad("base64: not valid base64".into()))?,
                false,
            ),
            "binary" => (value.to_vec(), false),
            e if e.starts_with("blob_fill(") || e.starts_with("blob_sz_fill(") => {
                (blob_fill(e, value).map_err(bad)?, false)
            }
            "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "u64" | "i64" => {
                let t = text()?;
                let (neg, mag) =
                    python_int(&t).ok_or_else(|| bad(format!("'{t}' is not a whole number")))?;
                let v = Value::from_int(encoding, neg, mag)
                    .ok_or_else(|| bad(format!("{} does not fit {encoding}", t.trim())))?;
                let (typ, le) = pack(&v);
                if self.primitive(ns, key, typ, &le).is_err() {
                    self.new_page()?;
                    let _ = self.primitive(ns, key, typ, &le);
                }
                return Ok(());
            }
            e => {
                return Err(bad(format!(
                    "unknown encoding '{e}' (u8 … i64, string, hex2bin, base64, binary)"
                )))
            }
        };
        if self.version == Version::V1 && bytes.len() > self.version.max_blob() {
            return Err(bad(format!(
                "{} bytes is more than a version-1 blob can hold ({})",
                bytes.len(),
                self.version.max_blob()
            )));
        }
        if !self.varlen(ns, key, &bytes, string)? {
            self.new_page()?;
            if !self.varlen(ns, key, &bytes, string)? {
                // An item and its data must fit the 126 entries of a page with one to spare.
                let max = (ENTRIES_PER_PAGE - 2) * ENTRY_SIZE;
                return Err(bad(format!(
                    "{} bytes do not fit in one NVS page (at most {max}{})",
                    bytes.len(),
                    if string { " with the string's NUL" } else { "" }
                )));
            }
        }
        Ok(())
    }
}

/// Python's `int()` of a string as sign and magnitude: optional sign, decimal digits, single
/// underscores between digits, surrounding whitespace.
fn python_int(t: &str) -> Option<(bool, u64)> {
    let t = t.trim();
    let (neg, d) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if d.is_empty() || d.starts_with('_') || d.ends_with('_') || d.contains("__") {
        return None;
    }
    Some((neg, d.replace('_', "").parse().ok()?))
}

/// The item type and little-endian bytes of an integer value.
fn pack(v: &Value) -> (u8, Vec<u8>) {
    match *v {
        Value::U8(x) => (item::U8, vec![x]),
        Value::I8(x) => (item::I8, x.to_le_bytes().to_vec()),
        Value::U16(x) => (item::U16, x.to_le_bytes().to_vec()),
        Value::I16(x) => (item::I16, x.to_le_bytes().to_vec()),
        Value::U32(x) => (item::U32, x.to_le_bytes().to_vec()),
        Value::I32(x) => (item::I32, x.to_le_bytes().to_vec()),
        Value::U64(x) => (item::U64, x.to_le_bytes().to_vec()),
        Value::I64(x) => (item::I64, x.to_le_bytes().to_vec()),
        _ => unreachable!("pack: integers only"),
    }
}

/// `blob_fill(N;0xPP)`: the value's bytes padded with PP to N; `blob_sz_fill(N;0xPP)`: the same
/// after a u32 length.
fn blob_fill(encoding: &str, value: &[u8]) -> Result<Vec<u8>, String> {
    let sz = encoding.starts_with("blob_sz_fill(");
    let inner = encoding
        .split_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .and_then(|r| r.split_once(';'))
        .filter(|(n, p)| {
            !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && p.len() == 4
                && p.starts_with("0x")
        });
    let (n, p) = inner.ok_or_else(|| format!("{encoding}: invalid encoding format"))?;
    let len: usize = n
        .parse()
        .map_err(|_| format!("{encoding}: invalid length"))?;
    let pad = u8::from_str_radix(&p[2..], 16).map_err(|_| format!("{encoding}: invalid byte"))?;
    if value.len() > len {
        return Err("value length exceeds specified length".into());
    }
    let mut out = vec![];
    if sz {
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(value);
    out.resize(out.len() + len - value.len(), pad);
    Ok(out)
}

/// Python's `binascii.a2b_base64` (not strict): characters outside the alphabet are skipped,
/// decoding stops at padding that completes a group.
fn base64_lenient(t: &str) -> Option<Vec<u8>> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let (mut out, mut acc, mut n) = (vec![], 0u32, 0u32);
    for c in t.bytes() {
        if c == b'=' {
            if n >= 2 {
                break;
            }
            continue;
        }
        let Some(v) = val(c) else { continue };
        acc = (acc << 6) | v as u32;
        n += 1;
        if n == 4 {
            out.extend_from_slice(&acc.to_be_bytes()[1..]);
            acc = 0;
            n = 0;
        }
    }
    match n {
        0 => {}
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&((acc >> 2) as u16).to_be_bytes()),
        _ => return None,
    }
    Some(out)
}

/// The NVS partition image `nvs_partition_gen.py generate ROWS SIZE --version V` makes: exactly
/// `size` bytes (fewer for a read-only partition under 12 KiB, as the tool writes only its
/// pages then).
pub fn generate(rows: &[Row], size: u32, version: Version) -> Result<Vec<u8>, GenError> {
    let page = PAGE_SIZE as u32;
    if !size.is_multiple_of(page) {
        return Err(GenError::Size(format!(
            "an NVS partition is a whole number of 4 KiB pages; 0x{size:x} is not"
        )));
    }
    if size < page {
        return Err(GenError::Size(
            "an NVS partition needs at least 0x1000 bytes (0x3000 to be writable)".into(),
        ));
    }
    // One page stays free for the NVS library; below 0x3000 the partition is read-only and
    // the tool keeps none.
    let read_only = size - page < 2 * page;
    let mut g = Gen {
        version,
        pages: vec![],
        left: if read_only { size } else { size - page },
        page_num: 0,
        size,
        namespace_count: 0,
        namespaces: vec![],
        sta_extras: false,
    };
    g.new_page()?;
    let (mut ap_ssid, mut ap_pass, mut ap_auth) = (false, false, false);
    for r in rows {
        if r.key.len() > MAX_KEY_LEN {
            return Err(GenError::Row {
                key: r.key.clone(),
                why: format!("a key is at most {MAX_KEY_LEN} bytes long"),
            });
        }
        match r.key.as_str() {
            "ap.ssid" => ap_ssid = true,
            "ap.passwd" => ap_pass = true,
            "ap.authmode" => ap_auth = r.value != b"0",
            _ => {}
        }
        if ap_ssid && ap_pass && ap_auth {
            return Err(GenError::Row {
                key: r.key.clone(),
                why: "with ap.ssid, ap.passwd and ap.authmode, nvs_partition_gen.py adds a derived ap.pmk_info (PBKDF2), which otaflash does not make".into(),
            });
        }
        // The tool's Wi-Fi station defaults: after the first of sta.ssid / sta.pswd, three
        // more keys.
        if matches!(r.key.as_str(), "sta.ssid" | "sta.pswd") {
            g.entry(&r.key, &r.value, &r.encoding)?;
            if !g.sta_extras {
                g.entry("sta.apinfo", &[b'f'; 280], "hex2bin")?;
                g.entry("sta.pmk", &[b'0'; 64], "hex2bin")?;
                g.entry("sta.apsw", b"0000", "hex2bin")?;
                g.sta_extras = true;
            }
            continue;
        }
        match r.kind {
            RowKind::Namespace => g.namespace(&r.key)?,
            RowKind::Data | RowKind::File => g.entry(&r.key, &r.value, &r.encoding)?,
        }
    }
    let mut out: Vec<u8> = g.pages.iter().flat_map(|p| p.buf.clone()).collect();
    if !read_only {
        out.resize(size as usize, 0xFF);
    }
    Ok(out)
}
