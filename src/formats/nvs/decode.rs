//! Reading an NVS partition the way the NVS library loads it (`Page::load`,
//! `Page::mLoadEntryTable`, `PageManager::load`, `Storage::init`): what it would repair or ignore
//! is reported as a problem, never a panic.

use super::{
    item, page_state, Entry, Nvs, PageInfo, Problem, Value, ENTRIES_PER_PAGE, ENTRY_SIZE,
    FIRST_ENTRY, PAGE_SIZE,
};
use crate::formats::crc32_le;

const EMPTY: u8 = 3;
const WRITTEN: u8 = 2;

/// One item as found on a page.
#[derive(Debug, Clone)]
struct Raw {
    page: usize,
    entry: usize,
    ns: u8,
    typ: u8,
    chunk: u8,
    key: String,
    /// The 8 data bytes of the entry.
    data: [u8; 8],
    /// A string's or blob's bytes, and whether they match their CRC.
    payload: Option<(Vec<u8>, bool)>,
}

impl Raw {
    /// The NVS library tells items apart by namespace, key and chunk index.
    fn same_slot(&self, o: &Raw) -> bool {
        self.ns == o.ns && self.key == o.key && self.chunk == o.chunk
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn is_varlen(typ: u8) -> bool {
    matches!(typ, item::STR | item::BLOB | item::BLOB_DATA)
}

/// The CRC of an entry: its first 4 bytes and its last 24 (`Item::calculateCrc32`).
pub(super) fn entry_crc(e: &[u8]) -> u32 {
    let c = crc32_le(0xFFFF_FFFF, &e[0..4]);
    crc32_le(c, &e[8..32])
}

/// The CRC of a page header: sequence number to the CRC field.
pub(super) fn header_crc(h: &[u8]) -> u32 {
    crc32_le(0xFFFF_FFFF, &h[4..28])
}

fn key_of(e: &[u8]) -> String {
    let k = &e[8..24];
    let end = k.iter().position(|&b| b == 0).unwrap_or(k.len());
    String::from_utf8_lossy(&k[..end]).into_owned()
}

struct Loaded {
    seq: u32,
    state: u32,
    items: Vec<Raw>,
}

/// Decodes an NVS partition (whole pages; a trailing part page is ignored).
pub fn decode(bytes: &[u8]) -> Nvs {
    let mut nvs = Nvs::default();
    // Written entries, and those with a bad CRC.
    let mut counts = (0usize, 0usize);
    let mut loaded: Vec<Loaded> = bytes
        .chunks_exact(PAGE_SIZE)
        .enumerate()
        .filter_map(|(index, page)| decode_page(index, page, &mut nvs, &mut counts))
        .collect();
    let (written_total, bad_crc_total) = counts;
    if written_total >= 2 && bad_crc_total == written_total {
        nvs.problems
            .retain(|p| !matches!(p, Problem::EntryCrc { .. }));
        nvs.problems.push(Problem::LooksEncrypted);
        return nvs;
    }
    loaded.sort_by_key(|l| l.seq);
    drop_older_duplicate(&mut loaded, &mut nvs);
    let all: Vec<Raw> = loaded.into_iter().flat_map(|l| l.items).collect();
    assemble(&mut nvs, all);
    nvs
}

/// One page: its header and entry states (said in `nvs.pages` and `nvs.problems`), and the
/// items it holds, or None for a page that holds none (empty, corrupt).
fn decode_page(
    index: usize,
    page: &[u8],
    nvs: &mut Nvs,
    counts: &mut (usize, usize),
) -> Option<Loaded> {
    let state = u32_at(page, 0);
    let mut info = PageInfo {
        index,
        state: "empty",
        seq: None,
        version: None,
        written: 0,
        erased: 0,
        empty: ENTRIES_PER_PAGE,
    };
    if state == page_state::UNINITIALIZED {
        if page.iter().any(|&b| b != 0xFF) {
            info.state = "corrupt";
            nvs.problems.push(Problem::DirtyEmptyPage { page: index });
        }
        nvs.pages.push(info);
        return None;
    }
    if header_crc(page) != u32_at(page, 28) {
        info.state = "corrupt";
        nvs.problems.push(Problem::PageHeaderCrc { page: index });
        nvs.pages.push(info);
        return None;
    }
    info.state = match state {
        page_state::ACTIVE => "active",
        page_state::FULL => "full",
        page_state::FREEING => "freeing",
        _ => {
            info.state = "corrupt";
            nvs.problems
                .push(Problem::BadPageState { page: index, state });
            nvs.pages.push(info);
            return None;
        }
    };
    info.seq = Some(u32_at(page, 4));
    info.version = Some(if page[8] == 0xFE { 2 } else { 1 });
    let mut states: Vec<u8> = (0..ENTRIES_PER_PAGE)
        .map(|i| (page[32 + i / 4] >> ((i % 4) * 2)) & 3)
        .collect();
    let entry = |i: usize| &page[FIRST_ENTRY + i * ENTRY_SIZE..][..ENTRY_SIZE];
    // The active page: entries past the first empty one that hold data were being written
    // when power went; the library erases them.
    let mut end = ENTRIES_PER_PAGE;
    if state == page_state::ACTIVE {
        end = states
            .iter()
            .position(|&s| s == EMPTY)
            .unwrap_or(ENTRIES_PER_PAGE);
        while end < ENTRIES_PER_PAGE && u32_at(entry(end), 0) != 0xFFFF_FFFF {
            nvs.problems.push(Problem::Unfinished {
                page: index,
                entry: end,
            });
            states[end] = 0;
            end += 1;
        }
    }
    let items = read_items(index, page, &states, end, nvs, counts);
    info.written = states.iter().filter(|&&s| s == WRITTEN).count();
    info.erased = states.iter().filter(|&&s| s == 0).count();
    info.empty = states.iter().filter(|&&s| s == EMPTY).count();
    nvs.pages.push(info);
    Some(Loaded {
        seq: u32_at(page, 4),
        state,
        items,
    })
}

/// The written entries of a page up to `end` as raw items: CRCs checked, multi-entry items
/// whole, an item written again on the same page counted once (the later one).
fn read_items(
    index: usize,
    page: &[u8],
    states: &[u8],
    end: usize,
    nvs: &mut Nvs,
    counts: &mut (usize, usize),
) -> Vec<Raw> {
    let entry = |i: usize| &page[FIRST_ENTRY + i * ENTRY_SIZE..][..ENTRY_SIZE];
    let mut items: Vec<Raw> = vec![];
    let mut i = 0;
    while i < end {
        if states[i] != WRITTEN {
            i += 1;
            continue;
        }
        let e = entry(i);
        counts.0 += 1;
        if entry_crc(e) != u32_at(e, 4) {
            counts.1 += 1;
            nvs.problems.push(Problem::EntryCrc {
                page: index,
                entry: i,
            });
            i += 1;
            continue;
        }
        let (ns, typ, span, chunk) = (e[0], e[1], e[2] as usize, e[3]);
        let key = key_of(e);
        let mut raw = Raw {
            page: index,
            entry: i,
            ns,
            typ,
            chunk,
            key,
            data: e[24..32].try_into().unwrap(),
            payload: None,
        };
        if is_varlen(typ) {
            if span == 0 || i + span > ENTRIES_PER_PAGE {
                nvs.problems.push(Problem::BadEntry {
                    page: index,
                    entry: i,
                });
                i += 1;
                continue;
            }
            if states[i..i + span].iter().any(|&s| s != WRITTEN) {
                nvs.problems.push(Problem::HalfWritten {
                    page: index,
                    entry: i,
                    key: raw.key.clone(),
                });
                i += span;
                continue;
            }
            let size = u16::from_le_bytes([e[24], e[25]]) as usize;
            if size > (span - 1) * ENTRY_SIZE {
                nvs.problems.push(Problem::BadEntry {
                    page: index,
                    entry: i,
                });
                i += span;
                continue;
            }
            let start = FIRST_ENTRY + (i + 1) * ENTRY_SIZE;
            let data = page[start..start + size].to_vec();
            let ok = crc32_le(0xFFFF_FFFF, &data) == u32_at(e, 28);
            raw.payload = Some((data, ok));
        }
        // The same namespace, key and chunk earlier on this page: an update interrupted
        // before the old item was erased. The later one counts.
        if let Some(d) = items.iter().position(|o| o.same_slot(&raw)) {
            let old = items.remove(d);
            nvs.problems.push(Problem::Duplicate {
                namespace: format!("#{}", old.ns),
                key: old.key,
                page: old.page,
                entry: old.entry,
            });
        }
        i += if is_varlen(typ) { span } else { 1 };
        items.push(raw);
    }
    items
}

/// The last item of the newest page, also in an older page (an update cut before the older
/// was erased): the library erases the older, so it does not count.
fn drop_older_duplicate(loaded: &mut [Loaded], nvs: &mut Nvs) {
    if let Some(last) = loaded.last().and_then(|l| l.items.last()).cloned() {
        let n = loaded.len();
        'pages: for l in loaded[..n - 1].iter_mut() {
            if l.state == page_state::FREEING {
                continue;
            }
            if let Some(d) = l
                .items
                .iter()
                .position(|o| o.same_slot(&last) && o.typ == last.typ)
            {
                let old = l.items.remove(d);
                nvs.problems.push(Problem::Duplicate {
                    namespace: format!("#{}", old.ns),
                    key: old.key,
                    page: old.page,
                    entry: old.entry,
                });
                break 'pages;
            }
        }
    }
}

/// Names namespaces, turns items into values (blobs from their chunks) and reports what the
/// application could not read.
fn assemble(nvs: &mut Nvs, all: Vec<Raw>) {
    let mut namespaces: Vec<(u8, String)> = all
        .iter()
        .filter(|r| r.ns == 0 && r.typ == item::U8)
        .map(|r| (r.data[0], r.key.clone()))
        .collect();
    namespaces.sort();
    namespaces.dedup_by_key(|n| n.0);
    let name = |ns: u8| {
        namespaces
            .iter()
            .find(|(i, _)| *i == ns)
            .map(|(_, n)| n.clone())
    };
    // Fix the namespace names in the duplicate reports now that they are known.
    for p in nvs.problems.iter_mut() {
        if let Problem::Duplicate { namespace, .. } = p {
            if let Some(ns) = namespace.strip_prefix('#').and_then(|n| n.parse().ok()) {
                *namespace = if ns == 0 {
                    "(namespaces)".into()
                } else {
                    name(ns).unwrap_or_else(|| format!("#{ns}"))
                };
            }
        }
    }
    let mut out: Vec<(u8, Entry)> = vec![];
    let mut used_chunks: Vec<usize> = vec![];
    for (pos, r) in all.iter().enumerate() {
        if r.ns == 0 || r.typ == item::BLOB_DATA {
            continue;
        }
        let Some(ns_name) = name(r.ns) else {
            nvs.problems.push(Problem::UnknownNamespace {
                index: r.ns,
                key: r.key.clone(),
            });
            continue;
        };
        let d = &r.data;
        let value = match r.typ {
            item::U8 => Value::U8(d[0]),
            item::I8 => Value::I8(d[0] as i8),
            item::U16 => Value::U16(u16::from_le_bytes([d[0], d[1]])),
            item::I16 => Value::I16(i16::from_le_bytes([d[0], d[1]])),
            item::U32 => Value::U32(u32::from_le_bytes(d[..4].try_into().unwrap())),
            item::I32 => Value::I32(i32::from_le_bytes(d[..4].try_into().unwrap())),
            item::U64 => Value::U64(u64::from_le_bytes(*d)),
            item::I64 => Value::I64(i64::from_le_bytes(*d)),
            item::STR | item::BLOB => {
                let (bytes, ok) = r.payload.clone().unwrap_or_default();
                if !ok {
                    nvs.problems.push(Problem::DataCrc {
                        namespace: ns_name,
                        key: r.key.clone(),
                    });
                    continue;
                }
                if r.typ == item::STR {
                    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                    Value::Str(String::from_utf8_lossy(&bytes[..end]).into_owned())
                } else {
                    Value::Blob(bytes)
                }
            }
            item::BLOB_IDX => {
                let size = u32::from_le_bytes(d[..4].try_into().unwrap()) as usize;
                let (count, start) = (d[4], d[5]);
                let mut blob = Vec::with_capacity(size);
                let mut complete = true;
                for c in 0..count {
                    let idx = start.wrapping_add(c);
                    let chunk = all.iter().enumerate().find(|(_, o)| {
                        o.typ == item::BLOB_DATA && o.ns == r.ns && o.key == r.key && o.chunk == idx
                    });
                    match chunk {
                        Some((ci, o)) => {
                            used_chunks.push(ci);
                            match &o.payload {
                                Some((b, true)) => blob.extend_from_slice(b),
                                _ => complete = false,
                            }
                        }
                        None => complete = false,
                    }
                }
                if !complete || blob.len() != size {
                    nvs.problems.push(Problem::BlobIncomplete {
                        namespace: ns_name,
                        key: r.key.clone(),
                    });
                    continue;
                }
                Value::Blob(blob)
            }
            _ => {
                nvs.problems.push(Problem::BadEntry {
                    page: r.page,
                    entry: r.entry,
                });
                continue;
            }
        };
        let _ = pos;
        // A key found again in a later page (not the case the library repairs): the library's
        // lookup finds the first, oldest, one.
        if let Some((_, e)) = out.iter().find(|(ns, e)| *ns == r.ns && e.key == r.key) {
            nvs.problems.push(Problem::Duplicate {
                namespace: e.namespace.clone(),
                key: r.key.clone(),
                page: r.page,
                entry: r.entry,
            });
            continue;
        }
        out.push((
            r.ns,
            Entry {
                namespace: ns_name,
                key: r.key.clone(),
                value,
            },
        ));
    }
    let mut orphans: Vec<(String, String)> = vec![];
    for (ci, r) in all.iter().enumerate() {
        if r.typ == item::BLOB_DATA && !used_chunks.contains(&ci) {
            let ns = name(r.ns).unwrap_or_else(|| format!("#{}", r.ns));
            if !orphans.contains(&(ns.clone(), r.key.clone())) {
                orphans.push((ns, r.key.clone()));
            }
        }
    }
    for (namespace, key) in orphans {
        nvs.problems.push(Problem::OrphanChunk { namespace, key });
    }
    // Namespace by namespace (index order), keys in the order found.
    out.sort_by_key(|(ns, _)| *ns);
    nvs.entries = out.into_iter().map(|(_, e)| e).collect();
    nvs.namespaces = namespaces;
}
