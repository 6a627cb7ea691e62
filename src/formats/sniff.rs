//! Guessing what a file is, so that the page and the CLI can open any of them and say in plain
//! words what a file is when it is not what a command expected.

use super::sizes::{
    DEFAULT_TABLE_OFFSET, OTADATA_LEN, SECTOR_LEN, TABLE_ENTRY_MAGIC as ENTRY_MAGIC,
    TABLE_SECTOR_SIZE,
};
use super::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PartitionTable,
    /// A partition table as `gen_esp32part.py` CSV text.
    PartitionCsv,
    Otadata,
    /// An app or bootloader image (starts with 0xE9).
    AppImage,
    /// A whole flash (bootloader, table at 0x8000, partitions).
    FlashDump,
    /// Every byte 0xFF: erased flash, nothing written.
    Blank,
    Unknown,
}

fn tail_blank(b: &[u8], sector: usize) -> bool {
    b[sector * SECTOR_LEN + 32..(sector + 1) * SECTOR_LEN]
        .iter()
        .all(|&x| x == 0xFF)
}

/// Text that is most likely meant to be read by people (UTF-8, few control characters).
fn is_text(b: &[u8]) -> bool {
    let sample = &b[..b.len().min(4096)];
    let Ok(s) = std::str::from_utf8(sample).or_else(|e| {
        // A sample cut in the middle of a character is still text.
        std::str::from_utf8(&sample[..e.valid_up_to()])
    }) else {
        return false;
    };
    !s.is_empty()
        && s.chars()
            .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            .count()
            * 50
            <= s.chars().count()
}

/// gen_esp32part.py's CSV by its shape: rows of `name, type, subtype, offset, size[, flags]`
/// (type `app`, `data` or a number), `#` comments and blank lines, at least one row. Whether its
/// values are right is for the parser to say.
fn looks_like_table_csv(t: &str) -> bool {
    let mut rows = 0;
    for line in t.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let ty = f.get(1).copied().unwrap_or_default();
        let typed = matches!(ty, "app" | "data") || super::numbers::parse_int(ty).is_some();
        if !(5..=6).contains(&f.len()) || f[0].is_empty() || !typed {
            return false;
        }
        rows += 1;
    }
    rows > 0
}

pub fn detect(b: &[u8]) -> Kind {
    let table_at = DEFAULT_TABLE_OFFSET as usize;
    if b.len() == OTADATA_LEN && tail_blank(b, 0) && tail_blank(b, 1) {
        Kind::Otadata
    } else if !b.is_empty() && b.iter().all(|&x| x == 0xFF) {
        Kind::Blank
    } else if b.len() <= TABLE_SECTOR_SIZE && b.starts_with(&ENTRY_MAGIC) {
        Kind::PartitionTable
    } else if b.len() > table_at + 32 && b[table_at..].starts_with(&ENTRY_MAGIC) {
        Kind::FlashDump
    } else if b.first() == Some(&0xE9) {
        Kind::AppImage
    } else if b.len() == OTADATA_LEN {
        Kind::Otadata
    } else if is_text(b) && std::str::from_utf8(b).is_ok_and(looks_like_table_csv) {
        Kind::PartitionCsv
    } else {
        Kind::Unknown
    }
}

/// What a file is, in plain words, when it is not flash content at all (None when it may be).
pub fn foreign(b: &[u8]) -> Option<&'static str> {
    Some(if b.is_empty() {
        "an empty file"
    } else if b.starts_with(b"\x7fELF") {
        "an ELF file (the build's .elf: flash the .bin made from it, e.g. build/<project>.bin)"
    } else if b.starts_with(b"PK\x03\x04") {
        "a ZIP archive (unpack it and pick the .bin inside)"
    } else if b.starts_with(&[0x1F, 0x8B]) {
        "a gzip-compressed file (unpack it first)"
    } else if is_text(b) {
        let t = String::from_utf8_lossy(&b[..b.len().min(4096)]);
        let t = t.trim_start_matches('\u{feff}').trim_start();
        if t.starts_with('{') || t.starts_with('[') {
            "a JSON text file (an ESP Web Tools manifest goes in the flash panel)"
        } else if t.starts_with(':') && t.lines().take(4).all(|l| l.starts_with(':')) {
            "an Intel HEX file (otaflash needs the .bin)"
        } else {
            "a text file"
        }
    } else {
        return None;
    })
}

/// "an app image", "a partition table", ... for hints; None if unknown.
pub fn describe(b: &[u8]) -> Option<&'static str> {
    match detect(b) {
        Kind::PartitionTable => Some("a partition table"),
        Kind::PartitionCsv => Some("a partition table in CSV form"),
        Kind::Otadata => Some("an otadata partition"),
        Kind::AppImage => Some("an app image"),
        Kind::FlashDump => Some("a full flash dump"),
        Kind::Blank => Some("blank flash (every byte 0xFF)"),
        Kind::Unknown => foreign(b),
    }
}

/// The error for a file that is not `expected` ("a firmware image"): what it is in plain words
/// first, the technical detail after.
pub fn not_what_was_expected(b: &[u8], expected: &str, detail: &str) -> Error {
    let what = match detect(b) {
        Kind::Unknown => foreign(b).map(str::to_string),
        _ => describe(b).map(str::to_string),
    };
    let first = match what {
        Some(w) => format!("This is {w}, not {expected}"),
        None => format!("This is not {expected}"),
    };
    Error::WrongKind(format!("{first}. ({detail}.)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_table_is_told_by_its_shape_and_prose_is_not() {
        let csv = b"# Name, Type, SubType, Offset, Size, Flags\nnvs, data, nvs, 0x9000, 0x5000,\napp0, app, ota_0, , 1M\n";
        assert_eq!(detect(csv), Kind::PartitionCsv);
        // A wrong value is still a table (the parser says what is wrong), not "a text file".
        assert_eq!(
            detect(b"app0, app, ota_0, 0x10000, lots\n"),
            Kind::PartitionCsv
        );
        assert_eq!(
            detect(b"Notes, written on site, by hand, today, again\nand more\n"),
            Kind::Unknown
        );
        assert_eq!(detect(b"a, b, c\n"), Kind::Unknown);
    }

    #[test]
    fn everyday_files_are_named() {
        assert_eq!(detect(&[0xFF; 100]), Kind::Blank);
        assert_eq!(
            detect(&[0xFF; OTADATA_LEN]),
            Kind::Otadata,
            "erased otadata"
        );
        assert_eq!(
            detect(b"# Name, Type, SubType, Offset, Size\nnvs,data,nvs,0x9000,0x5000\n"),
            Kind::PartitionCsv
        );
        assert_eq!(detect(b"hello\n"), Kind::Unknown);
        assert_eq!(foreign(b"hello\n"), Some("a text file"));
        assert!(foreign(b"{\"builds\": []}").unwrap().contains("JSON"));
        assert!(foreign(b"\x7fELF\x01\x01").unwrap().contains("ELF"));
        assert!(foreign(b"PK\x03\x04....").unwrap().contains("ZIP"));
        assert!(
            foreign(b":10010000214601360121470136007EFE09D2190140\n:00000001FF\n")
                .unwrap()
                .contains("Intel HEX")
        );
        assert_eq!(foreign(&[0x12, 0x00, 0x99, 0x01]), None);
        assert_eq!(foreign(&[]), Some("an empty file"));
    }
}
