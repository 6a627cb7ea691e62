//! JSON and text renderings of decoded formats. The JSON field names are a contract (scripts
//! depend on them); numbers are JSON integers.

use crate::formats::bootable::{Coverage, Holds, Loads, Slots};
use crate::formats::image::Image;
use crate::formats::numbers::human_size;
use crate::formats::otadata::{self, Boot, Entry};
use crate::formats::partition::{Partition, PartitionTable};
use serde_json::{json, Value};
use std::fmt::Write;

pub fn partitions_json(t: &PartitionTable, warnings: &[String]) -> Value {
    json!({
        "md5": t.md5.as_str(),
        "entries": t.entries.iter().map(|p| json!({
            "label": p.name(),
            "type": p.ty,
            "subtype": p.subtype,
            "type_name": p.type_name(),
            "subtype_name": p.subtype_name(),
            "offset": p.offset,
            "size": p.size,
            "encrypted": p.encrypted(),
            "readonly": p.readonly(),
        })).collect::<Vec<_>>(),
        "warnings": warnings,
    })
}

pub fn partitions_text(t: &PartitionTable, warnings: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Partition table: {} entries, MD5 {}",
        t.entries.len(),
        t.md5.as_str()
    );
    let _ = writeln!(
        s,
        "  {:<16} {:<6} {:<11} {:>10} {:>10}  {:<10} flags",
        "label", "type", "subtype", "offset", "size", ""
    );
    for p in &t.entries {
        let mut flags = vec![];
        if p.encrypted() {
            flags.push("encrypted");
        }
        if p.readonly() {
            flags.push("readonly");
        }
        let _ = writeln!(
            s,
            "  {:<16} {:<6} {:<11} {:>10} {:>10}  {:<10} {}",
            p.name(),
            p.type_name(),
            p.subtype_words(),
            format!("0x{:x}", p.offset),
            format!("0x{:x}", p.size),
            human_size(p.size as u64),
            flags.join(",")
        );
    }
    push_warnings(&mut s, warnings);
    s
}

fn push_warnings(s: &mut String, warnings: &[String]) {
    for w in warnings {
        let _ = writeln!(s, "warning: {w}");
    }
}

fn sector_json(e: &Entry) -> Value {
    json!({
        "seq": e.seq,
        "state": otadata::state_name(e.state),
        "state_raw": e.state,
        "crc": e.crc,
        "crc_ok": e.crc_ok(),
        "valid": e.valid(),
    })
}

fn place(p: Option<&Partition>) -> Value {
    p.map_or(
        Value::Null,
        |p| json!({"label": p.name(), "offset": p.offset}),
    )
}

/// `boot` is what will boot (the bootloader's walk over the slots as far as they are known),
/// `selected` what otadata selects; `boot_certain` is false when the booted slot's image was
/// not read whole; `fallback` says why they differ.
pub fn otadata_json(t: &PartitionTable, boot: &Boot, warnings: &[String]) -> Value {
    json!({
        "sectors": boot.seen.iter().map(sector_json).collect::<Vec<_>>(),
        "active_sector": boot.active,
        "selected": place(boot.selected_partition(t)),
        "boot": place(boot.booted_partition(t)),
        "boot_certain": boot.certain(),
        "fallback": boot.fallback_reason(t),
        "bootloader_writes": boot.writes.iter().map(|(i, e)| json!({"sector": i, "entry": sector_json(e)})).collect::<Vec<_>>(),
        "warnings": warnings,
    })
}

fn holds_name(h: Holds) -> &'static str {
    match h {
        Holds::Empty => "empty",
        Holds::App => "app",
        Holds::NotAnApp => "not_an_app",
        Holds::Damaged => "damaged",
    }
}

/// What each app slot holds, as far as it was read.
pub fn slots_json(t: &PartitionTable, slots: &Slots) -> Value {
    Value::Array(
        t.entries
            .iter()
            .filter(|p| p.is_app())
            .map(|p| match slots.get(p) {
                None => json!({"label": p.name(), "offset": p.offset, "size": p.size, "loads": "unknown", "checked": null}),
                Some(s) => json!({
                    "label": p.name(),
                    "offset": p.offset,
                    "size": p.size,
                    "holds": holds_name(s.holds()),
                    "loads": match s.loads() { Loads::Yes => "yes", Loads::No(_) => "no", Loads::Unknown => "unknown" },
                    "checked": match s.coverage { Coverage::Headers => "headers", Coverage::Whole => "whole" },
                    "problem": s.problems.first().map(|p| p.message()),
                    "image_size": s.len,
                    "app": s.app.as_ref().map(|a| json!({"project_name": a.project_name, "version": a.version, "idf_ver": a.idf_ver})),
                }),
            })
            .collect(),
    )
}

pub fn slots_text(t: &PartitionTable, slots: &Slots) -> String {
    let mut s = String::new();
    for p in t.entries.iter().filter(|p| p.is_app()) {
        let line = match slots.get(p) {
            None => "not read".to_string(),
            Some(x) => {
                let verdict = match x.loads() {
                    Loads::Yes => "loads (whole image checked)".to_string(),
                    Loads::No(_) if x.holds() == Holds::Empty => "the bootloader skips it".into(),
                    Loads::No(why) => format!("does not load: {}", why.message()),
                    Loads::Unknown => "headers look right; the body was not checked".into(),
                };
                format!("{} — {verdict}", x.summary())
            }
        };
        let _ = writeln!(s, "slot {:<16} 0x{:<8x} {line}", p.name(), p.offset);
    }
    s
}

pub fn otadata_text(t: &PartitionTable, boot: &Boot, warnings: &[String]) -> String {
    let mut s = String::new();
    for (i, e) in boot.seen.iter().enumerate() {
        let _ = writeln!(
            s,
            "sector {i}: seq {:<10} state {:<14} crc 0x{:08x} {:<9} {}{}",
            e.seq,
            otadata::state_name(e.state),
            e.crc,
            if e.crc_ok() { "(ok)" } else { "(bad)" },
            if e.valid() { "valid" } else { "invalid" },
            if boot.active == Some(i) {
                "  <- active"
            } else {
                ""
            }
        );
    }
    if let Some(p) = boot.selected_partition(t) {
        let _ = writeln!(s, "otadata selects: {} at 0x{:x}", p.name(), p.offset);
    }
    let why = boot
        .fallback_reason(t)
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    match boot.booted_partition(t) {
        Some(p) => {
            let _ = writeln!(
                s,
                "boots: {} at 0x{:x}{why}{}",
                p.name(),
                p.offset,
                if boot.certain() {
                    ""
                } else {
                    " — if its image is intact: it was not read whole"
                }
            );
        }
        None => {
            let _ = writeln!(s, "boots: nothing{why}");
        }
    }
    for (i, e) in &boot.writes {
        let _ = writeln!(
            s,
            "note: the bootloader itself rewrites sector {i} while booting (seq {}, state {})",
            e.seq,
            otadata::state_name(e.state)
        );
    }
    push_warnings(&mut s, warnings);
    s
}

pub fn image_json(img: &Image) -> Value {
    json!({
        "chip": img.chip().map(|c| c.name),
        "chip_id": img.header.chip_id,
        "entry": img.header.entry,
        "segments": img.segments.iter().map(|s| json!({"load_addr": s.load_addr, "len": s.len})).collect::<Vec<_>>(),
        "flash_mode": img.flash_mode_name(),
        "flash_freq": img.flash_freq_name(),
        "flash_size": img.flash_size_name(),
        "checksum_ok": img.checksum_ok(),
        "hash_appended": img.hash_appended(),
        "sha256_ok": img.sha256_ok(),
        "min_rev_full": img.header.min_rev_full,
        "max_rev_full": img.header.max_rev_full,
        "size": img.len,
        "app": img.app.as_ref().map(|a| json!({
            "project_name": a.project_name,
            "version": a.version,
            "idf_ver": a.idf_ver,
            "date": a.date,
            "time": a.time,
            "secure_version": a.secure_version,
        })),
    })
}

pub fn image_text(img: &Image) -> String {
    let mut s = String::new();
    let chip = img.chip().map_or_else(
        || format!("unknown chip id {}", img.header.chip_id),
        |c| c.pretty.to_string(),
    );
    let _ = writeln!(
        s,
        "{chip} image, {} bytes, entry 0x{:08x}",
        img.len, img.header.entry
    );
    let _ = writeln!(
        s,
        "flash: {} {} {}",
        img.flash_mode_name(),
        img.flash_freq_name().unwrap_or("?"),
        img.flash_size_name().unwrap_or("?")
    );
    let _ = writeln!(
        s,
        "chip revision: v{}.{} to v{}.{}",
        img.header.min_rev_full / 100,
        img.header.min_rev_full % 100,
        img.header.max_rev_full / 100,
        img.header.max_rev_full % 100
    );
    for (i, seg) in img.segments.iter().enumerate() {
        let _ = writeln!(
            s,
            "  segment {i}: 0x{:08x} {:>8} bytes",
            seg.load_addr, seg.len
        );
    }
    let _ = writeln!(
        s,
        "checksum: 0x{:02x} ({})",
        img.checksum_stored,
        if img.checksum_ok() {
            "valid"
        } else {
            "INVALID"
        }
    );
    match img.sha256_ok() {
        Some(ok) => {
            let _ = writeln!(s, "SHA-256: {}", if ok { "valid" } else { "INVALID" });
        }
        None => {
            let _ = writeln!(s, "SHA-256: not appended");
        }
    }
    match &img.app {
        Some(a) => {
            let _ = writeln!(
                s,
                "app: {} {} (ESP-IDF {}, built {} {}, secure version {})",
                a.project_name, a.version, a.idf_ver, a.date, a.time, a.secure_version
            );
        }
        None if img.is_app() => {
            let _ = writeln!(
                s,
                "app: no ESP-IDF app description (e.g. an older Arduino build)"
            );
        }
        None => {
            let _ = writeln!(s, "RAM-only image: a second-stage bootloader, not an app");
        }
    }
    s
}

/// One verified (or not) write: what was asked, what crossed the link, what was already there.
pub fn write_json(r: &crate::loader::WriteReport) -> Value {
    json!({
        "offset": r.offset,
        "bytes": r.bytes,
        "bytes_written": r.written,
        "already_there": r.already_there(),
        "wire_bytes": r.wire_bytes,
        "write_seconds": r.write_time.as_secs_f64(),
        "seconds": r.elapsed.as_secs_f64(),
        "retries": r.retries,
        "md5": crate::formats::hex(&r.md5),
        "verified": r.verified,
    })
}
