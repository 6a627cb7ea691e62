//! `otaflash nvs`: show, edit, convert and make NVS partitions — in a file (an NVS image or a
//! flash dump), from a generator CSV, or on a device (backed up first, verified after).

use super::link::{open, runtime, Link};
use super::{print_json, read_input, write_output, CliResult, Failure};
use crate::device::nvs::{check_rewrite, nvs_partition};
use crate::formats::numbers::{human_size, parse_u32_arg};
use crate::formats::nvs::{self, text, Entry, Nvs, Value, Version};
use crate::formats::partition::PartitionTable;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct NvsArgs {
    /// An NVS partition image, a flash dump, or with --from-csv a generator CSV.
    #[arg(required_unless_present = "port", conflicts_with = "port")]
    file: Option<PathBuf>,
    /// Work on a device instead: tcp://HOST:PORT.
    #[arg(long)]
    port: Option<String>,
    #[command(flatten)]
    link: Link,
    /// The NVS partition by label (a device or a flash dump; default: the first NVS partition).
    #[arg(long)]
    partition: Option<String>,
    /// Where the NVS partition starts in FILE (instead of finding it in the dump's table).
    #[arg(long, value_parser = parse_u32_arg, conflicts_with = "partition")]
    offset: Option<u32>,
    /// The partition size: with --from-csv, the image size; with --offset, how much to read.
    #[arg(long, value_parser = parse_u32_arg)]
    size: Option<u32>,
    /// Read FILE as a generator CSV (key,type,encoding,value) and write the image to -o.
    #[arg(long, requires_all = ["size", "output"])]
    from_csv: bool,
    /// NVS format version of a new image: 2 (multi-page blobs; the default, or what the
    /// partition uses) or 1.
    #[arg(long = "nvs-version", value_parser = ["1", "2"])]
    nvs_version: Option<String>,
    /// Print the entries as a generator CSV.
    #[arg(long, conflicts_with_all = ["json", "from_csv"])]
    to_csv: bool,
    /// Set NS/KEY=TYPE:VALUE (types u8 i8 u16 i16 u32 i32 u64 i64 string blob; integers in
    /// decimal or 0x hex, blobs in hex). Repeatable.
    #[arg(long = "set", value_name = "NS/KEY=TYPE:VALUE")]
    sets: Vec<String>,
    /// Delete NS/KEY. Repeatable.
    #[arg(long = "delete", value_name = "NS/KEY")]
    deletes: Vec<String>,
    /// Where the new image goes (a file; for a flash dump, the whole dump with the partition
    /// replaced).
    #[arg(short, long, conflicts_with = "port")]
    output: Option<PathBuf>,
    /// On a device: where the backup of the partition goes before it is written (default: a
    /// name with chip, MAC, label and time in the current directory).
    #[arg(long, requires = "port")]
    backup: Option<PathBuf>,
    /// Rewrite even though what cannot be read (damaged pages or values) would be dropped.
    #[arg(long)]
    yes: bool,
    #[arg(long)]
    json: bool,
}

/// One `--set`: namespace, key, value.
fn parse_set(s: &str) -> Result<(String, String, Value), Failure> {
    let bad = |why: &str| Failure(format!("--set {s}: {why} (NS/KEY=TYPE:VALUE)"));
    let (path, tv) = s.split_once('=').ok_or_else(|| bad("no '='"))?;
    let (ns, key) = parse_path(path).map_err(|w| bad(&w))?;
    let (ty, v) = tv
        .split_once(':')
        .ok_or_else(|| bad("no ':' after the type"))?;
    let value = Value::parse(ty, v).map_err(|w| bad(&w))?;
    Ok((ns, key, value))
}

fn parse_path(p: &str) -> Result<(String, String), String> {
    let (ns, key) = p
        .split_once('/')
        .ok_or("no '/' between namespace and key")?;
    for (what, s) in [("namespace", ns), ("key", key)] {
        if s.is_empty() || s.len() > nvs::MAX_KEY_LEN {
            return Err(format!("a {what} is 1 to {} bytes", nvs::MAX_KEY_LEN));
        }
    }
    Ok((ns.into(), key.into()))
}

/// The edits asked for, applied to `entries`.
fn edit(entries: &mut Vec<Entry>, a: &NvsArgs) -> Result<Vec<String>, Failure> {
    let mut done = vec![];
    for s in &a.sets {
        let (ns, key, value) = parse_set(s)?;
        done.push(format!(
            "set {ns}/{key} = {} ({})",
            shown(&value),
            value.type_name()
        ));
        text::set(entries, &ns, &key, value);
    }
    for d in &a.deletes {
        let (ns, key) = parse_path(d).map_err(|w| Failure(format!("--delete {d}: {w}")))?;
        if !text::delete(entries, &ns, &key) {
            return Err(Failure(format!(
                "--delete {d}: there is no key '{key}' in namespace '{ns}'"
            )));
        }
        done.push(format!("deleted {ns}/{key}"));
    }
    Ok(done)
}

fn shown(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("{s:?}"),
        Value::Blob(b) => format!("{} bytes: {}", b.len(), crate::formats::hex(b)),
        v => match v.int() {
            Some((false, n)) => format!("{n} (0x{n:x})"),
            _ => v.text(),
        },
    }
}

fn version_of(a: &NvsArgs, nvs: Option<&Nvs>) -> Version {
    match a.nvs_version.as_deref() {
        Some("1") => Version::V1,
        Some(_) => Version::V2,
        None => match nvs.and_then(|n| n.pages.iter().find_map(|p| p.version)) {
            Some(1) => Version::V1,
            _ => Version::V2,
        },
    }
}

fn json_of(nvs: &Nvs, where_: serde_json::Value) -> serde_json::Value {
    let entries: Vec<serde_json::Value> = nvs
        .entries
        .iter()
        .map(|e| {
            let value = match &e.value {
                Value::Str(s) => serde_json::json!(s),
                Value::Blob(b) => serde_json::json!(crate::formats::hex(b)),
                Value::U64(n) => serde_json::json!(n),
                v => match v.int() {
                    Some((true, m)) => serde_json::json!((m as i64).wrapping_neg()),
                    Some((false, m)) => serde_json::json!(m),
                    None => serde_json::Value::Null,
                },
            };
            serde_json::json!({"namespace": e.namespace, "key": e.key, "type": e.value.type_name(), "value": value})
        })
        .collect();
    serde_json::json!({
        "partition": where_,
        "namespaces": nvs.namespaces.iter().map(|(_, n)| n).collect::<Vec<_>>(),
        "entries": entries,
        "problems": nvs.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "encrypted": nvs.looks_encrypted(),
        "pages": nvs.pages.iter().map(|p| serde_json::json!({
            "index": p.index, "state": p.state, "seq": p.seq, "version": p.version,
            "written": p.written, "erased": p.erased, "empty": p.empty,
        })).collect::<Vec<_>>(),
    })
}

fn print_text(nvs: &Nvs, title: &str) {
    let used = nvs.pages.iter().filter(|p| p.seq.is_some()).count();
    println!(
        "{title}: {} pages ({used} in use), {} namespaces, {} keys",
        nvs.pages.len(),
        nvs.namespaces.len(),
        nvs.entries.len()
    );
    let mut ns = None;
    for e in &nvs.entries {
        if ns != Some(&e.namespace) {
            println!("{}", e.namespace);
            ns = Some(&e.namespace);
        }
        println!(
            "  {:<15} {:<6} {}",
            e.key,
            e.value.type_name(),
            shown(&e.value)
        );
    }
    if !nvs.problems.is_empty() {
        println!("problems:");
        for p in &nvs.problems {
            println!("  {p}");
        }
    }
}

fn show(a: &NvsArgs, nvs: &Nvs, title: &str, where_: serde_json::Value) {
    if a.json {
        print_json(&json_of(nvs, where_));
    } else if a.to_csv {
        print!("{}", text::to_csv(&nvs.entries));
    } else {
        print_text(nvs, title);
    }
}

pub fn nvs(a: NvsArgs) -> CliResult {
    if let Some(port) = a.port.clone() {
        return on_device(&port, &a);
    }
    let file = a.file.clone().expect("clap: FILE unless --port");
    if a.from_csv {
        return from_csv(&file, &a);
    }
    let bytes = read_input(&file)?;
    // Where the partition is: --offset, a dump's table, or the whole file.
    let (at, len, label, table) = match a.offset {
        Some(o) => {
            let len = a.size.unwrap_or((bytes.len() as u32).saturating_sub(o));
            (o as usize, len as usize, None, None)
        }
        None => match PartitionTable::from_flash(&bytes, a.link.table_offset) {
            Ok(t) if bytes.len() > a.link.table_offset as usize => {
                let p = nvs_partition(&t, a.partition.as_deref())
                    .map_err(|r| Failure(r.to_string()))?;
                (p.offset as usize, p.size as usize, Some(p.name()), Some(t))
            }
            _ if a.partition.is_some() => {
                return Err(Failure(format!(
                    "{}: no partition table at 0x{:x} to find '{}' in",
                    file.display(),
                    a.link.table_offset,
                    a.partition.as_deref().unwrap_or("")
                )))
            }
            _ => (0, bytes.len(), None, None),
        },
    };
    let part = bytes.get(at..at + len).ok_or_else(|| {
        Failure(format!(
            "{}: 0x{at:x}+0x{len:x} is past its end ({} bytes)",
            file.display(),
            bytes.len()
        ))
    })?;
    if len % nvs::PAGE_SIZE != 0 || len == 0 {
        return Err(Failure(format!(
            "{} bytes is not a whole number of 4 KiB NVS pages",
            len
        )));
    }
    let decoded = nvs::decode(part);
    if decoded.is_blank() && decoded.problems.is_empty() && a.sets.is_empty() {
        eprintln!("note: no NVS page is initialised here (blank, or not an NVS partition)");
    }
    let title = match &label {
        Some(l) => format!("NVS '{l}' at 0x{at:x} ({})", human_size(len as u64)),
        None => format!("NVS at 0x{at:x} ({})", human_size(len as u64)),
    };
    let where_ = serde_json::json!({"label": label, "offset": at, "size": len});
    if a.sets.is_empty() && a.deletes.is_empty() {
        show(&a, &decoded, &title, where_);
        return Ok(());
    }
    let out = a
        .output
        .as_ref()
        .ok_or_else(|| Failure("--set/--delete need -o OUT for the new image".into()))?;
    check_rewrite(table.as_ref(), &decoded, a.yes).map_err(|r| Failure(r.message()))?;
    let mut entries = decoded.entries.clone();
    let done = edit(&mut entries, &a)?;
    let image = nvs::generate(
        &text::rows_for(&entries),
        len as u32,
        version_of(&a, Some(&decoded)),
    )
    .map_err(|e| Failure(format!("nothing written: {e}")))?;
    let mut whole = bytes.clone();
    whole[at..at + len].copy_from_slice(&image);
    write_output(out, &whole)?;
    let after = nvs::decode(&image);
    if a.json {
        print_json(
            &serde_json::json!({"done": done, "output": out, "nvs": json_of(&after, where_)}),
        );
    } else {
        for d in &done {
            println!("{d}");
        }
        println!("wrote '{}'", out.display());
    }
    Ok(())
}

fn from_csv(file: &Path, a: &NvsArgs) -> CliResult {
    let csv = std::fs::read_to_string(file)
        .map_err(|e| Failure(format!("cannot read {}: {e}", file.display())))?;
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let rows = text::rows_from_csv(&csv, &|p| {
        let path = dir.join(p);
        std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    })
    .map_err(Failure)?;
    let size = a.size.expect("clap: --size");
    let image = nvs::generate(&rows, size, version_of(a, None))
        .map_err(|e| Failure(format!("nothing written: {e}")))?;
    let out = a.output.as_ref().expect("clap: -o");
    write_output(out, &image)?;
    let nvs = nvs::decode(&image);
    if a.json {
        print_json(&json_of(&nvs, serde_json::json!({"size": size})));
    } else {
        println!(
            "wrote '{}': {} keys in {} namespaces, {} bytes",
            out.display(),
            nvs.entries.len(),
            nvs.namespaces.len(),
            image.len()
        );
    }
    Ok(())
}

fn on_device(port: &str, a: &NvsArgs) -> CliResult {
    runtime().block_on(async {
        let mut d = open(port, &a.link, a.json).await?;
        let table = d
            .read_table(a.link.table_offset)
            .await?
            .map_err(|e| Failure(e.message()))?;
        let read = d.read_nvs(&table, a.partition.as_deref()).await?;
        let p = &read.partition;
        let title = format!(
            "NVS '{}' at 0x{:x} ({})",
            p.name(),
            p.offset,
            human_size(p.size as u64)
        );
        let where_ = serde_json::json!({"label": p.name(), "offset": p.offset, "size": p.size});
        if a.sets.is_empty() && a.deletes.is_empty() {
            show(a, &read.nvs, &title, where_);
            return Ok(());
        }
        check_rewrite(Some(&table), &read.nvs, a.yes).map_err(|r| Failure(r.message()))?;
        let mut entries = read.nvs.entries.clone();
        let done = edit(&mut entries, a)?;
        // Checked before anything is written: the new image can be made.
        nvs::generate(
            &text::rows_for(&entries),
            p.size,
            version_of(a, Some(&read.nvs)),
        )
        .map_err(|e| Failure(format!("nothing written: {e}")))?;
        let backup = a.backup.clone().unwrap_or_else(|| {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            PathBuf::from(format!(
                "{}-{}-{}-{secs}.bin",
                d.chip.chip.name,
                d.chip.mac_string().replace(':', ""),
                p.name()
            ))
        });
        write_output(&backup, &read.bytes)?;
        eprintln!("backup of '{}' saved to '{}'", p.name(), backup.display());
        let w = d
            .write_nvs(p, &entries, version_of(a, Some(&read.nvs)))
            .await?;
        if a.json {
            print_json(&serde_json::json!({
                "done": done,
                "backup": backup,
                "written": w.report.written,
                "nvs": json_of(&w.readback, where_),
            }));
        } else {
            for line in &done {
                println!("{line}");
            }
            println!(
                "'{}' written and verified (MD5, then read back and decoded: {} keys as asked)",
                p.name(),
                w.readback.entries.len()
            );
        }
        Ok(())
    })
}
