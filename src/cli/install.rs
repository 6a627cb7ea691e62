//! Setting up and recovering a board from the command line: `write` (files at addresses, as
//! esptool write-flash takes them), `install` (an ESP Web Tools manifest's build for the chip),
//! `erase` (all, a partition, a range). Every one is checked first (nothing is written on a
//! refusal), needs `--yes` for what loses data, verifies by MD5, and can reset into the app.

use super::link::{open, Link};
use super::{print_json, read_input, report, CliResult, Failure};
use crate::device::fleet::{Outcome, Record};
use crate::device::{caution_lines, erase_losses, judge_boot, Snapshot};
use crate::formats::install::{Part, Plan, PlanOptions};
use crate::formats::manifest::Manifest;
use crate::formats::numbers::parse_u32_arg;
use crate::formats::otadata::Otadata;
use crate::loader::Refusal;
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum After {
    /// Reset the chip into its app (EN pulse, IO0 high), as esptool's --after hard-reset.
    HardReset,
    /// Leave it in download mode.
    NoReset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlashSize {
    /// Write the bootloader as it is.
    Keep,
    /// Set the bootloader header's flash size to the detected flash (esptool --flash-size).
    Detect,
}

/// What `write` and `install` share.
#[derive(Args, Debug)]
pub struct InstallOptions {
    /// tcp://HOST:PORT; repeat for several boards at once (one record each).
    #[arg(long, required = true)]
    port: Vec<String>,
    #[command(flatten)]
    link: Link,
    /// Erase the whole flash first.
    #[arg(long)]
    erase: bool,
    /// Go ahead although data will be lost or a part is where the chip will not look (the
    /// command lists what; without --yes it writes nothing).
    #[arg(long)]
    yes: bool,
    #[arg(long, value_enum, default_value = "keep")]
    flash_size: FlashSize,
    /// The files are already encrypted for the chip's flash-encryption key (espsecure
    /// encrypt-flash-data): written as they are. Plain files are refused while flash
    /// encryption is on.
    #[arg(long)]
    pre_encrypted: bool,
    /// Have the chip encrypt as it writes (flash encryption in development mode): the
    /// bootloader, the partition table, apps and partitions flagged encrypted; otadata and
    /// other data plain (as `idf.py encrypted-flash`). Not MD5-verifiable.
    #[arg(long, conflicts_with = "pre_encrypted")]
    encrypt: bool,
    #[arg(long, value_enum, default_value = "hard-reset")]
    after: After,
    #[arg(long)]
    json: bool,
    /// Write even though nothing will boot afterwards (no bootloader, no table, no app: a
    /// data-only or half setup). Without it such an install writes nothing; with it the plan
    /// says so and it needs --yes.
    #[arg(long)]
    nothing_boots_ok: bool,
}

impl InstallOptions {
    fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            erase_all: self.erase,
            fit_bootloader: self.flash_size == FlashSize::Detect,
            written: super::written(self.pre_encrypted, self.encrypt),
            nothing_boots_ok: self.nothing_boots_ok,
        }
    }
}

#[derive(Args, Debug)]
pub struct WriteArgs {
    #[command(flatten)]
    opts: InstallOptions,
    /// ADDR FILE pairs, e.g. 0x1000 bootloader.bin 0x8000 partition-table.bin 0x10000 app.bin.
    #[arg(required = true, num_args = 2.., value_names = ["ADDR", "FILE"])]
    pairs: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InstallArgs {
    #[command(flatten)]
    opts: InstallOptions,
    /// An ESP Web Tools manifest.json; its parts' paths are relative to it.
    manifest: PathBuf,
}

#[derive(Args, Debug)]
pub struct EraseArgs {
    #[arg(long)]
    port: String,
    #[command(flatten)]
    link: Link,
    /// The whole flash.
    #[arg(long, group = "what")]
    all: bool,
    /// One partition, by label.
    #[arg(long, group = "what")]
    partition: Option<String>,
    /// A range: --offset A --size N (whole 4 KiB sectors).
    #[arg(long, group = "what", value_parser = parse_u32_arg, requires = "size")]
    offset: Option<u32>,
    #[arg(long, value_parser = parse_u32_arg, requires = "offset")]
    size: Option<u32>,
    /// Go ahead: what is lost is listed, and nothing is erased without it.
    #[arg(long)]
    yes: bool,
    #[arg(long, value_enum, default_value = "no-reset")]
    after: After,
    #[arg(long)]
    json: bool,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

pub fn write(a: WriteArgs) -> CliResult {
    let mut parts = vec![];
    for pair in a.pairs.chunks(2) {
        let [addr, file] = pair else {
            return Err(Failure(format!(
                "'{}' has no file after it: give ADDR FILE pairs",
                pair[0]
            )));
        };
        let offset = parse_u32_arg(addr).map_err(Failure)?;
        let path = PathBuf::from(file);
        let bytes = read_input(&path)?;
        parts.push(Part::new(path.display().to_string(), offset, bytes));
    }
    run_install(&a.opts, |_| Ok(parts.clone()))
}

pub fn install(a: InstallArgs) -> CliResult {
    let at = a.manifest.display().to_string();
    let m =
        Manifest::parse(&read_input(&a.manifest)?).map_err(|e| Failure(format!("{at}: {e}")))?;
    // Every build's parts, read before any board is opened (the chip says which one is used;
    // a build whose files are missing stops the install only on its chip).
    let builds: Vec<Result<Vec<Part>, String>> = runtime().block_on(async {
        let mut v = vec![];
        for b in &m.builds {
            let parts = super::update::fetch_parts(&m, &at, &b.chip_family).await;
            v.push(parts.map_err(|f| f.message));
        }
        v
    });
    run_install(&a.opts, |chip| {
        let b = m
            .build_for(Some(chip))
            .map_err(|e| Failure(format!("{at}: {e}")))?;
        let i = m.builds.iter().position(|x| x == b).unwrap_or(0);
        builds[i].clone().map_err(Failure)
    })
}

fn plan_json(p: &Plan) -> Value {
    json!({
        "parts": p.parts.iter().map(|x| json!({"name": x.name, "offset": x.offset, "kind": x.kind.name(), "size": x.bytes.len()})).collect::<Vec<_>>(),
        "blockers": p.blockers.iter().map(|b| b.message()).collect::<Vec<_>>(),
        "cautions": caution_lines(&p.cautions),
        "layout_changes": p.layout_changes,
        "notes": p.notes,
    })
}

/// What will boot now, after the install (as read back from the board).
fn boot_after(snap: &Snapshot) -> Value {
    let Ok(t) = &snap.table else {
        return Value::Null;
    };
    let od = snap.otadata.clone().unwrap_or_else(Otadata::blank);
    let boot = judge_boot(t, &od, false, &snap.slots);
    report::otadata_json(t, &boot, &[])
}

/// One board of a multi-board install (the device layer's `install_build`), reset into its
/// app after when asked.
async fn install_board(
    port: &str,
    o: &InstallOptions,
    parts: &dyn Fn(&str) -> Result<Vec<Part>, Failure>,
) -> Record {
    let t0 = std::time::Instant::now();
    let elapsed = || t0.elapsed().as_secs_f64();
    let mut d = match super::link::open_quiet(port, &o.link).await {
        Ok(d) => d,
        Err(Failure { message: e, .. }) => {
            let mut r = Record::failed(port, &[0; 16], e);
            r.md5.clear();
            r.seconds = elapsed();
            return r;
        }
    };
    let parts = |chip: &str| parts(chip).map_err(|f| f.message);
    let opts = o.plan_options();
    let mut r = d
        .install_build(port, o.link.table_offset, &parts, opts, o.yes, &elapsed)
        .await;
    if r.outcome != Outcome::Failed && o.after == After::HardReset {
        if let Ok(true) = d.reset_into_app().await {
            r.message.push_str("; reset into its app");
        }
    }
    r
}

/// The plan's parts and notes, before anything is written.
fn print_plan(p: &Plan) {
    for x in &p.parts {
        println!(
            "  0x{:08x} {:<18} {} ({} bytes)",
            x.offset,
            x.kind.name(),
            x.name,
            x.bytes.len()
        );
    }
    for n in &p.notes {
        println!("note: {n}");
    }
}

fn run_install(
    o: &InstallOptions,
    parts: impl Fn(&str) -> Result<Vec<Part>, Failure>,
) -> CliResult {
    if o.port.len() > 1 {
        return runtime().block_on(async {
            let t0 = std::time::Instant::now();
            let runs = o.port.iter().map(|p| install_board(p, o, &parts));
            let records = futures_util::future::join_all(runs).await;
            super::fleet::report(&records, t0.elapsed().as_secs_f64(), o.json)
        });
    }
    runtime().block_on(async {
        let mut d = open(&o.port[0], &o.link, o.json).await?;
        let snap = d.snapshot(o.link.table_offset).await?;
        let parts = parts(d.chip.chip.pretty)?;
        let json = o.json;
        let run = d
            .install_parts(
                &snap,
                parts,
                o.link.table_offset,
                o.plan_options(),
                o.yes,
                &mut |p| {
                    if !json {
                        print_plan(p)
                    }
                },
                &mut |i, n, name| {
                    if !json {
                        eprintln!("part {}/{n}: {name}", i + 1);
                    }
                },
            )
            .await
            .map_err(|e| match e {
                crate::loader::Error::Refused(Refusal::Install(why)) => {
                    Failure(format!("nothing written:\n  {}", why.join("\n  ")))
                }
                crate::loader::Error::Refused(Refusal::Unconfirmed(what)) => Failure(format!(
                    "nothing written; these need --yes:\n  {}",
                    what.join("\n  ")
                )),
                e => Failure::of(&e),
            })?;
        let boot = boot_after(&run.after);
        let (p, done) = (run.plan, run.done);
        let reset = match o.after {
            After::HardReset => d.reset_into_app().await?,
            After::NoReset => false,
        };
        if o.json {
            let mut v = plan_json(&p);
            v["parts"] = json!(done
                .parts
                .iter()
                .zip(&p.parts)
                .map(|(w, x)| json!({
                    "name": w.name, "offset": w.offset, "kind": x.kind.name(), "size": w.report.bytes,
                    "written": w.report.written, "md5": crate::formats::hex(&w.report.md5),
                    "seconds": w.report.elapsed.as_secs_f64(),
                }))
                .collect::<Vec<_>>());
            v["erased"] = json!(done.erased);
            v["seconds"] = json!(done.elapsed.as_secs_f64());
            v["reset"] = json!(reset);
            for k in ["boot", "selected", "boot_certain", "fallback"] {
                v[k] = boot.get(k).cloned().unwrap_or(Value::Null);
            }
            print_json(&v);
        } else {
            for w in &done.parts {
                println!("{}.", w.report.describe(&w.name));
            }
            println!("{}.", done.describe());
            match boot.get("boot").and_then(|b| b.get("label")) {
                Some(l) => println!("The bootloader will start {}.", l.as_str().unwrap_or("?")),
                None => println!("Nothing will boot: no app partition holds a loadable app."),
            }
            if o.after == After::HardReset && !reset {
                println!("This port cannot reset the chip (no DTR/RTS): reset it by hand to start the app.");
            } else if reset {
                println!("Reset the chip into its app.");
            }
        }
        Ok(())
    })
}

pub fn erase(a: EraseArgs) -> CliResult {
    runtime().block_on(async {
        let mut d = open(&a.port, &a.link, a.json).await?;
        let snap = d.snapshot(a.link.table_offset).await?;
        let table = snap.table.as_ref().ok();
        let boot_at = d.chip.chip.bootloader_offset;
        let (offset, size, what) = match (&a.partition, a.offset, a.size) {
            (Some(label), _, _) => {
                let t = table.ok_or_else(|| {
                    Failure(format!(
                        "no partition table at 0x{:x}, so no partition '{label}'",
                        a.link.table_offset
                    ))
                })?;
                let p = t
                    .find(label)
                    .ok_or_else(|| Failure(format!("there is no partition named '{label}'")))?;
                (p.offset, p.size, format!("partition '{label}'"))
            }
            (None, Some(o), Some(s)) => (o, s, format!("0x{o:x}..0x{:x}", o as u64 + s as u64)),
            _ if a.all => (0, d.flash.size, "the whole flash".to_string()),
            _ => return Err(Failure("say what to erase: --all, --partition LABEL, or --offset A --size N".into())),
        };
        let lost = erase_losses(table, boot_at, a.link.table_offset, offset, size as u64);
        if !a.yes {
            return Err(Failure(format!(
                "nothing erased; erasing {what} loses: {} — add --yes to go ahead",
                if lost.is_empty() { "nothing known".to_string() } else { lost.join(", ") }
            )));
        }
        if a.all {
            d.erase_all().await?;
        } else if let Some(label) = &a.partition {
            d.erase_partition(table.expect("checked above"), label).await?;
        } else {
            d.erase_range(offset, size).await?;
        }
        let reset = match a.after {
            After::HardReset => d.reset_into_app().await?,
            After::NoReset => false,
        };
        if a.json {
            print_json(&json!({"erased": {"offset": offset, "size": size}, "what": what, "lost": lost, "reset": reset}));
        } else {
            println!("Erased {what} (0x{offset:x}, {size} bytes): {}.", lost.join(", "));
        }
        Ok(())
    })
}
