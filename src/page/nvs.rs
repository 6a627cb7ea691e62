//! The NVS editor's state: one NVS partition at a time (from the device, or from a file opened
//! offline), its entries as read, the entries as edited, and what changed. Pure: the engine reads
//! and writes, the components render; the tests drive it directly.

use crate::formats::nvs::{self, text, Entry, GenError, Nvs, Value, Version};
use std::rc::Rc;

/// Where the NVS being edited came from.
#[derive(Debug, Clone, PartialEq)]
pub enum NvsSource {
    /// The connected board's partition.
    Device {
        label: String,
        offset: u32,
        size: u32,
    },
    /// A file: an NVS image (`at` 0, the whole file) or a flash dump (the partition at `at`).
    File {
        name: String,
        at: u32,
        size: u32,
        whole: Rc<Vec<u8>>,
    },
}

impl NvsSource {
    pub fn size(&self) -> u32 {
        match self {
            NvsSource::Device { size, .. } | NvsSource::File { size, .. } => *size,
        }
    }

    pub fn is_device(&self) -> bool {
        matches!(self, NvsSource::Device { .. })
    }

    /// "'nvs' at 0x9000" or the file's name.
    pub fn title(&self) -> String {
        match self {
            NvsSource::Device { label, offset, .. } => format!("'{label}' at 0x{offset:x}"),
            NvsSource::File { name, at: 0, .. } => name.clone(),
            NvsSource::File { name, at, .. } => format!("{name} at 0x{at:x}"),
        }
    }
}

/// One difference between what was read and what is edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(Entry),
    Changed { from: Entry, to: Entry },
    Deleted(Entry),
}

impl Change {
    pub fn describe(&self) -> String {
        let v = |e: &Entry| format!("{} {}", e.value.type_name(), shown(&e.value));
        match self {
            Change::Added(e) => format!("add {}/{} = {}", e.namespace, e.key, v(e)),
            Change::Changed { from, to } => format!(
                "change {}/{}: {} → {}",
                to.namespace,
                to.key,
                v(from),
                v(to)
            ),
            Change::Deleted(e) => format!("delete {}/{} (was {})", e.namespace, e.key, v(e)),
        }
    }
}

/// A value for display: strings quoted, blobs as length + hex (cut after 64 bytes), integers
/// in decimal and hex.
pub fn shown(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("\"{s}\""),
        Value::Blob(b) => {
            let hex = crate::formats::hex(&b[..b.len().min(64)]);
            let more = if b.len() > 64 { "…" } else { "" };
            format!("{} bytes: {hex}{more}", b.len())
        }
        v => match v.int() {
            Some((false, n)) => format!("{n} (0x{n:x})"),
            _ => v.text(),
        },
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NvsState {
    pub source: NvsSource,
    /// The partition's bytes as read (what the backup holds).
    pub bytes: Rc<Vec<u8>>,
    pub original: Nvs,
    pub entries: Vec<Entry>,
    pub version: Version,
    pub search: String,
    /// Why the last edit was not taken (plain words), shown by the form.
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum NvsAction {
    /// A partition was read (from the device or a file) and decoded.
    Loaded {
        source: NvsSource,
        bytes: Vec<u8>,
    },
    /// Set namespace/key to a value given as a type name and text.
    Set {
        namespace: String,
        key: String,
        type_name: String,
        value: String,
    },
    Delete {
        namespace: String,
        key: String,
    },
    /// Replace every entry with a generator CSV's content (import).
    ImportCsv(String),
    Search(String),
    /// Back to what was read.
    Revert,
    /// Written to the device and read back: that is what the device holds now.
    Written(Vec<u8>),
    Close,
}

impl NvsState {
    pub fn new(source: NvsSource, bytes: &[u8]) -> NvsState {
        let original = nvs::decode(bytes);
        let version = match original.pages.iter().find_map(|p| p.version) {
            Some(1) => Version::V1,
            _ => Version::V2,
        };
        NvsState {
            source,
            bytes: Rc::new(bytes.to_vec()),
            entries: original.entries.clone(),
            original,
            version,
            search: String::new(),
            error: None,
        }
    }

    /// Whether the content can be edited and written (not encrypted).
    pub fn editable(&self) -> bool {
        !self.original.looks_encrypted()
    }

    pub fn apply(&mut self, a: NvsAction) {
        match a {
            NvsAction::Loaded { source, bytes } => *self = NvsState::new(source, &bytes),
            NvsAction::Set {
                namespace,
                key,
                type_name,
                value,
            } => {
                self.error = None;
                let check = |what: &str, s: &str| {
                    if s.is_empty() || s.len() > nvs::MAX_KEY_LEN {
                        Err(format!("a {what} is 1 to {} bytes long", nvs::MAX_KEY_LEN))
                    } else {
                        Ok(())
                    }
                };
                let parsed = check("namespace", &namespace)
                    .and_then(|_| check("key", &key))
                    .and_then(|_| Value::parse(&type_name, &value));
                match parsed {
                    Ok(v) if self.editable() => text::set(&mut self.entries, &namespace, &key, v),
                    Ok(_) => self.error = Some("encrypted NVS cannot be edited".into()),
                    Err(e) => self.error = Some(e),
                }
            }
            NvsAction::Delete { namespace, key } => {
                text::delete(&mut self.entries, &namespace, &key);
            }
            NvsAction::ImportCsv(csv) => {
                let rows = text::rows_from_csv(&csv, &|p| {
                    Err(format!(
                        "{p}: a CSV with file rows cannot be imported in the page (use otaflash nvs --from-csv)"
                    ))
                });
                match rows.map_err(|e| e.to_string()).and_then(|rows| {
                    nvs::generate(&rows, self.source.size(), self.version)
                        .map_err(|e| e.to_string())
                }) {
                    Ok(img) => {
                        self.entries = nvs::decode(&img).entries;
                        self.error = None;
                    }
                    Err(e) => self.error = Some(format!("CSV not imported: {e}")),
                }
            }
            NvsAction::Search(s) => self.search = s,
            NvsAction::Revert => {
                self.entries = self.original.entries.clone();
                self.error = None;
            }
            NvsAction::Written(bytes) => {
                let source = self.source.clone();
                *self = NvsState::new(source, &bytes);
            }
            NvsAction::Close => {}
        }
    }

    /// What differs from what was read, in the order of the edited list, deletions last.
    pub fn changes(&self) -> Vec<Change> {
        let same = |a: &Entry, b: &Entry| a.namespace == b.namespace && a.key == b.key;
        let mut out = vec![];
        for e in &self.entries {
            match self.original.entries.iter().find(|o| same(o, e)) {
                None => out.push(Change::Added(e.clone())),
                Some(o) if o.value != e.value => out.push(Change::Changed {
                    from: o.clone(),
                    to: e.clone(),
                }),
                Some(_) => {}
            }
        }
        for o in &self.original.entries {
            if !self.entries.iter().any(|e| same(o, e)) {
                out.push(Change::Deleted(o.clone()));
            }
        }
        out
    }

    /// The entries the search keeps (namespace, key, type or value containing it, any case).
    pub fn visible(&self) -> Vec<&Entry> {
        let q = self.search.trim().to_ascii_lowercase();
        self.entries
            .iter()
            .filter(|e| {
                q.is_empty()
                    || e.namespace.to_ascii_lowercase().contains(&q)
                    || e.key.to_ascii_lowercase().contains(&q)
                    || e.value.type_name().contains(&q)
                    || e.value.text().to_ascii_lowercase().contains(&q)
            })
            .collect()
    }

    /// The whole new partition image (as nvs_partition_gen.py would make it from the entries).
    pub fn image(&self) -> Result<Vec<u8>, GenError> {
        nvs::generate(
            &text::rows_for(&self.entries),
            self.source.size(),
            self.version,
        )
    }

    /// For a file: the file with the new partition image in place (a dump stays a dump).
    pub fn file_bytes(&self) -> Result<Vec<u8>, GenError> {
        let img = self.image()?;
        Ok(match &self.source {
            NvsSource::File { at, whole, .. } if whole.len() > img.len() => {
                let mut w = whole.to_vec();
                w[*at as usize..*at as usize + img.len()].copy_from_slice(&img);
                w
            }
            _ => img,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::nvs::Row;

    fn board_nvs() -> Vec<u8> {
        let rows = vec![
            Row::namespace("storage"),
            Row::data("name", "string", "unit-0001"),
            Row::data("count", "u32", "7"),
            Row::namespace("wifi"),
            Row::data("ssid", "string", "shop"),
        ];
        nvs::generate(&rows, 0x5000, Version::V2).unwrap()
    }

    fn state() -> NvsState {
        NvsState::new(
            NvsSource::Device {
                label: "nvs".into(),
                offset: 0x9000,
                size: 0x5000,
            },
            &board_nvs(),
        )
    }

    fn set(s: &mut NvsState, ns: &str, k: &str, t: &str, v: &str) {
        s.apply(NvsAction::Set {
            namespace: ns.into(),
            key: k.into(),
            type_name: t.into(),
            value: v.into(),
        });
    }

    #[test]
    fn edits_show_as_changes_and_make_the_image() {
        let mut s = state();
        assert!(s.changes().is_empty() && s.editable());
        set(&mut s, "storage", "name", "string", "unit-0002");
        set(&mut s, "storage", "count", "u32", "0x2a");
        set(&mut s, "wifi", "chan", "u8", "11");
        s.apply(NvsAction::Delete {
            namespace: "wifi".into(),
            key: "ssid".into(),
        });
        let c: Vec<String> = s.changes().iter().map(Change::describe).collect();
        assert_eq!(
            c,
            [
                "change storage/name: string \"unit-0001\" → string \"unit-0002\"",
                "change storage/count: u32 7 (0x7) → u32 42 (0x2a)",
                "add wifi/chan = u8 11 (0xb)",
                "delete wifi/ssid (was string \"shop\")",
            ]
        );
        let img = s.image().unwrap();
        let back = nvs::decode(&img);
        assert_eq!(back.get("storage", "count"), Some(&Value::U32(42)));
        assert_eq!(back.get("wifi", "ssid"), None);
        // Written and read back: nothing pending any more.
        s.apply(NvsAction::Written(img));
        assert!(s.changes().is_empty());
        s.apply(NvsAction::Revert);
        assert_eq!(s.entries.len(), 3);
    }

    #[test]
    fn bad_edits_are_refused_in_words_and_change_nothing() {
        let mut s = state();
        set(&mut s, "storage", "count", "u8", "300");
        assert!(s.error.as_deref().unwrap().contains("does not fit"));
        set(&mut s, "", "k", "u8", "1");
        assert!(s.error.as_deref().unwrap().contains("namespace"));
        set(&mut s, "storage", "a_key_longer_than_15", "u8", "1");
        assert!(s.error.as_deref().unwrap().contains("key"));
        assert!(s.changes().is_empty());
        s.apply(NvsAction::ImportCsv("key,type\n".into()));
        assert!(s.error.as_deref().unwrap().contains("CSV not imported"));
        s.apply(NvsAction::ImportCsv(
            "key,type,encoding,value\nx,namespace,,\ny,data,i8,-1\n".into(),
        ));
        assert_eq!(s.error, None);
        assert_eq!(s.entries.len(), 1);
        assert_eq!(s.changes().len(), 4, "one added, three deleted");
    }

    #[test]
    fn search_filters_and_dumps_stay_dumps() {
        let mut s = state();
        s.apply(NvsAction::Search("SHOP".into()));
        assert_eq!(s.visible().len(), 1);
        s.apply(NvsAction::Search("storage".into()));
        assert_eq!(s.visible().len(), 2);
        let mut dump = vec![0xFFu8; 0x20000];
        dump[0x9000..0xE000].copy_from_slice(&board_nvs());
        let mut f = NvsState::new(
            NvsSource::File {
                name: "dump.bin".into(),
                at: 0x9000,
                size: 0x5000,
                whole: Rc::new(dump.clone()),
            },
            &dump[0x9000..0xE000],
        );
        set(&mut f, "storage", "count", "u32", "8");
        let out = f.file_bytes().unwrap();
        assert_eq!(out.len(), dump.len());
        assert_eq!(
            nvs::decode(&out[0x9000..0xE000]).get("storage", "count"),
            Some(&Value::U32(8))
        );
        assert!(!f.source.is_device());
    }
}
