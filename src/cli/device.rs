//! Commands that talk to a device over a port: info, flash, read, otadata --port.

use super::link::{open, runtime, Link};
use super::tcp::TcpPort;
use super::{print_json, read_input, report, write_output, CliResult, Failure};
use crate::device::{judge_boot, Device, Switched, TableProblem};
use crate::formats::bootable::Slots;
use crate::formats::image::Image;
use crate::formats::numbers::parse_u32_arg;
use crate::formats::otadata::{self, OtaState, Otadata};
use crate::formats::partition::{Layout, PartitionTable};
use crate::loader::{kbit_per_s, Port, Refusal, WriteOptions};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// tcp://HOST:PORT
    #[arg(long)]
    port: String,
    #[command(flatten)]
    link: Link,
    #[arg(long)]
    json: bool,
    /// Read every app slot's whole image and check it as the bootloader does (slower); by
    /// default only the headers are read and what boots is said "if its image is intact".
    #[arg(long)]
    verify_slots: bool,
}

#[derive(Args, Debug)]
pub struct FlashArgs {
    /// tcp://HOST:PORT; repeat for several boards at once (with --slot).
    #[arg(long, required = true)]
    port: Vec<String>,
    #[command(flatten)]
    link: Link,
    /// The app slot to write (its label; `auto`: on each board the OTA slot that does not run
    /// now); the image is checked first.
    #[arg(long, conflicts_with = "offset", required_unless_present = "offset")]
    slot: Option<String>,
    /// Write any bytes here, like esptool write-flash.
    #[arg(long, value_parser = parse_u32_arg)]
    offset: Option<u32>,
    /// After a verified write, make the slot boot next.
    #[arg(long, requires = "slot")]
    set_boot: bool,
    #[arg(long, requires = "set_boot", value_parser = super::parse_state, default_value = "undefined")]
    state: OtaState,
    /// Also write the slot that is running now.
    #[arg(long)]
    force: bool,
    /// Write every region even if its MD5 already matches.
    #[arg(long)]
    no_skip: bool,
    /// The file is already encrypted for this chip's flash-encryption key (espsecure
    /// encrypt-flash-data): written as it is. Plain data is refused while flash encryption is on.
    #[arg(long, requires = "offset")]
    pre_encrypted: bool,
    /// Have the chip encrypt the data as it writes it (flash encryption in development mode;
    /// esptool's --encrypt). Such a write cannot be MD5-verified.
    #[arg(long, requires = "offset", conflicts_with = "pre_encrypted")]
    encrypt: bool,
    /// With several boards: how many at once (default: all).
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// The result as JSON on stdout: for one board what was written (bytes written, already
    /// there, MD5, verified); with several boards (or --slot auto) the per-board record.
    #[arg(long)]
    json: bool,
    file: PathBuf,
}

#[derive(Args, Debug)]
pub struct ReadArgs {
    #[arg(long)]
    port: String,
    #[command(flatten)]
    link: Link,
    #[arg(long, conflicts_with_all = ["offset", "size"], required_unless_present = "offset")]
    partition: Option<String>,
    #[arg(long, value_parser = parse_u32_arg, requires = "size")]
    offset: Option<u32>,
    #[arg(long, value_parser = parse_u32_arg)]
    size: Option<u32>,
    #[arg(short, long)]
    output: PathBuf,
}

/// The table (or a clear failure), otadata and what each slot holds, read whole when `whole`.
pub(super) async fn layout(
    d: &mut Device<TcpPort>,
    offset: u32,
    whole: bool,
) -> Result<(PartitionTable, Option<Otadata>, Slots), Failure> {
    let snap = d.snapshot(offset).await?;
    let table = snap.table.map_err(|e| {
        Failure(format!(
            "{}\n  {}",
            e.message(),
            e.hint(d.chip.chip.bootloader_offset)
        ))
    })?;
    let mut slots = snap.slots;
    if whole {
        for p in table.entries.iter().filter(|p| p.is_app()) {
            let s = d.verify_slot(p).await?;
            slots.set(p, s);
        }
    }
    Ok((table, snap.otadata, slots))
}

/// The security state for `info --json`.
fn security_json(s: &crate::chips::security::Security) -> serde_json::Value {
    use crate::chips::security::{FlashEncryption, SecureBoot};
    serde_json::json!({
        "flash_encryption": match s.flash_encryption {
            FlashEncryption::Off => "off",
            FlashEncryption::Development => "development",
            FlashEncryption::Release => "release",
            FlashEncryption::On => "on",
        },
        "secure_boot": match s.secure_boot {
            SecureBoot::Off => "off",
            SecureBoot::V1 => "v1",
            SecureBoot::V2 => "v2",
        },
        "secure_download": s.secure_download,
        "jtag_disabled": s.jtag_disabled,
        "summary": s.summary(),
    })
}

pub fn info(a: InfoArgs) -> CliResult {
    runtime().block_on(async {
        let mut d = open(&a.port, &a.link, a.json).await?;
        let chip = d.chip.clone();
        let flash = d.flash;
        let snap = d.snapshot(a.link.table_offset).await?;
        let flash_layout = Layout {
            table_offset: a.link.table_offset,
            flash_size: Some(flash.size),
        };
        let features = crate::chips::features(chip.chip, &chip.regs);
        let mut json = serde_json::json!({
            "chip": chip.chip.name,
            "description": chip.description,
            "features": features,
            "revision": {"major": chip.revision.0, "minor": chip.revision.1},
            "mac": chip.mac_string(),
            "crystal_mhz": chip.crystal_mhz,
            "flash_id": flash.jedec_id,
            "flash_size": if flash.detected { serde_json::json!(flash.size) } else { serde_json::Value::Null },
            "security": security_json(&chip.security),
            "stub": d.loader().is_stub(),
            "baud": d.loader().baud(),
        });
        let mut text = if chip.identity_read {
            format!(
                "Chip: {} ({}), MAC {}, crystal {} MHz\nFeatures: {}\n",
                chip.description,
                chip.chip.pretty,
                chip.mac_string(),
                chip.crystal_mhz,
                features.join(", "),
            )
        } else {
            format!("Chip: {}\n", chip.description)
        };
        if flash.detected {
            text.push_str(&format!(
                "Flash: {} MB (JEDEC ID 0x{:06x})\n",
                flash.size >> 20,
                flash.jedec_id
            ));
        } else {
            text.push_str("Flash: size unknown (secure download mode refuses the flash ID read)\n");
        }
        text.push_str(&format!(
            "Loader: {} at {} baud\nSecurity: {}\n",
            if d.loader().is_stub() { "stub" } else { "ROM" },
            d.loader().baud(),
            chip.security.summary()
        ));
        match &snap.table {
            Ok(t) => {
                let mut slots = snap.slots.clone();
                if a.verify_slots {
                    for p in t.entries.iter().filter(|p| p.is_app()) {
                        let s = d.verify_slot(p).await?;
                        slots.set(p, s);
                    }
                }
                let warnings = t.warnings(&flash_layout);
                text.push_str(&report::partitions_text(t, &warnings));
                text.push_str(&report::slots_text(t, &slots));
                let od = snap.otadata.clone().unwrap_or_else(Otadata::blank);
                let boot = judge_boot(t, &od, false, &slots);
                if t.otadata().is_some() {
                    text.push_str(&report::otadata_text(t, &boot, &[]));
                    json["otadata"] = report::otadata_json(t, &boot, &[]);
                } else {
                    text.push_str(&report::otadata_text(t, &boot, &[]).lines().filter(|l| !l.starts_with("sector")).map(|l| format!("{l}\n")).collect::<String>());
                    text.push_str(&format!("({})\n", otadata::NO_OTADATA));
                    json["otadata"] = serde_json::Value::Null;
                }
                let od_json = report::otadata_json(t, &boot, &[]);
                for k in ["boot", "selected", "boot_certain", "fallback"] {
                    json[k] = od_json[k].clone();
                }
                json["partitions"] = report::partitions_json(t, &warnings);
                json["slots"] = report::slots_json(t, &slots);
            }
            Err(e) => {
                let hint = e.hint(chip.chip.bootloader_offset);
                text.push_str(&format!("partition table: {}\n  {hint}\n", e.message()));
                json["partitions"] = serde_json::json!({"error": e.message(), "blank": matches!(e, TableProblem::Blank { .. }), "hint": hint});
                for k in ["otadata", "boot", "selected", "fallback"] {
                    json[k] = serde_json::Value::Null;
                }
                json["slots"] = serde_json::json!([]);
            }
        }
        if a.json {
            print_json(&json);
        } else {
            print!("{text}");
        }
        Ok(())
    })
}

pub fn flash(a: FlashArgs) -> CliResult {
    let data = read_input(&a.file)?;
    if data.is_empty() {
        return Err(Failure(format!(
            "{} is empty: nothing to write",
            a.file.display()
        )));
    }
    // Check what can be checked before touching the device.
    if a.slot.is_some() {
        Image::parse(&data)
            .map_err(|e| Failure(format!("{}: {e} Nothing was written.", a.file.display())))?;
    }
    if a.port.len() > 1 || a.slot.as_deref() == Some("auto") {
        let Some(slot) = a.slot.as_deref() else {
            return Err(Failure(
                "several boards need --slot (a label, or auto)".into(),
            ));
        };
        let job = crate::device::fleet::Update {
            data: &data,
            slot,
            set_boot: a.set_boot,
            state: a.state,
            force: a.force,
        };
        return runtime().block_on(super::fleet::flash_boards(
            &a.port, &a.link, job, a.jobs, a.json,
        ));
    }
    let port = &a.port[0];
    runtime().block_on(async {
        let mut d = open(port, &a.link, false).await?;
        let opts = WriteOptions {
            skip_unchanged: !a.no_skip,
            written: super::written(a.pre_encrypted, a.encrypt),
            ..WriteOptions::default()
        };
        let mut json = serde_json::json!({"port": port, "baud": d.baud()});
        let say = |line: String| {
            if !a.json {
                println!("{line}");
            }
        };
        match (&a.slot, a.offset) {
            (Some(label), _) => {
                let (table, _, mut known) = layout(&mut d, a.link.table_offset, false).await?;
                if a.set_boot && d.boots_image(&table, label, &data, &known).await? {
                    // Done before (a retry after a cut link, a re-run): said, not refused.
                    say(format!(
                        "'{label}' already holds this image (MD5 matches) and boots it: nothing written."
                    ));
                    json["slot"] = label.as_str().into();
                    json["outcome"] = "already".into();
                    json["boots_next"] = label.as_str().into();
                    if a.json {
                        print_json(&json);
                    }
                    return Ok(());
                }
                let w = d.write_slot(&table, label, &data, &known, a.force).await?;
                say(format!("{}.", w.report.describe(label)));
                json["slot"] = label.as_str().into();
                json["write"] = report::write_json(&w.report);
                known.set(&w.partition, w.slot.clone());
                if a.set_boot {
                    let s = d.set_boot(&table, label, a.state, &known, false).await?;
                    let boot = judge_boot(&table, &s.otadata, false, &known);
                    let e = s.otadata.entry(0);
                    let next = boot
                        .booted_partition(&table)
                        .map(|p| p.name())
                        .unwrap_or_else(|| "nothing".into());
                    say(format!(
                        "otadata: both sectors seq {} ({}); the bootloader boots {next} next.",
                        e.seq,
                        otadata::state_name(e.state),
                    ));
                    json["boots_next"] = next.into();
                    json["otadata_seq"] = e.seq.into();
                }
            }
            (None, Some(offset)) => {
                let r = d.loader().write_flash(offset, &data, opts).await?;
                say(format!("{}.", r.describe(&format!("0x{offset:08x}"))));
                json["write"] = report::write_json(&r);
            }
            (None, None) => unreachable!("clap requires --slot or --offset"),
        }
        if a.json {
            print_json(&json);
        }
        Ok(())
    })
}

pub fn read(a: ReadArgs) -> CliResult {
    runtime().block_on(async {
        let mut d = open(&a.port, &a.link, false).await?;
        let t0 = d.loader().port().elapsed();
        let (offset, size) = match (&a.partition, a.offset, a.size) {
            (Some(label), _, _) => {
                let table = d
                    .read_table(a.link.table_offset)
                    .await?
                    .map_err(|e| Failure(e.message()))?;
                let p = table
                    .find(label)
                    .cloned()
                    .ok_or_else(|| Failure(format!("no partition named '{label}'")))?;
                (p.offset, p.size)
            }
            (None, Some(o), Some(s)) => (o, s),
            _ => unreachable!("clap requires --partition or --offset with --size"),
        };
        let bytes = d.read(offset, size).await?;
        let took = d.loader().port().elapsed() - t0;
        write_output(&a.output, &bytes)?;
        println!(
            "Read {} bytes from 0x{offset:08x} in {:.1} seconds ({:.1} kbit/s) to '{}'.",
            bytes.len(),
            took.as_secs_f64(),
            kbit_per_s(bytes.len() as u64, took),
            a.output.display()
        );
        if d.chip.security.flash_encrypted() {
            println!("Flash encryption is on: these are the bytes as stored, ciphertext where the chip encrypts (bootloader, partition table, apps, partitions marked encrypted); they restore to this chip only.");
        }
        Ok(())
    })
}

/// `otaflash otadata --port …`: show, or change, the device's otadata. Before booting is
/// switched to a slot, its whole image is read and judged (refused if it would not load,
/// unless `force`).
pub fn otadata_on_device(
    port: &str,
    link: &Link,
    op: OtadataOp,
    force: bool,
    json: bool,
) -> CliResult {
    runtime().block_on(async {
        let mut d = open(port, link, json).await?;
        let (table, od, mut known) = layout(&mut d, link.table_offset, false).await?;
        if table.otadata().is_none() {
            return Err(Failure(Refusal::NoOtadata.message()));
        }
        let switched = match op {
            OtadataOp::Show => None,
            OtadataOp::SetBoot(label, state) => {
                Some(d.set_boot(&table, &label, state, &known, force).await?)
            }
            OtadataOp::Erase => Some(Switched {
                otadata: d.erase_otadata(&table).await?,
                checked: vec![],
            }),
            OtadataOp::Mark(valid) => Some(d.mark_running(&table, valid, &known).await?),
        };
        let od = match switched {
            Some(s) => {
                for (p, img) in s.checked {
                    known.set(&p, img);
                }
                s.otadata
            }
            None => od.unwrap_or_else(Otadata::blank),
        };
        let boot = judge_boot(&table, &od, false, &known);
        if json {
            let mut v = report::otadata_json(&table, &boot, &[]);
            v["slots"] = report::slots_json(&table, &known);
            print_json(&v);
        } else {
            print!("{}", report::slots_text(&table, &known));
            print!("{}", report::otadata_text(&table, &boot, &[]));
        }
        Ok(())
    })
}

pub enum OtadataOp {
    Show,
    SetBoot(String, OtaState),
    Erase,
    Mark(bool),
}
