//! The offline commands: partitions, otadata, image (files in, files out).

use super::{
    print_json, read_input, report, write_output, CliResult, Failure, ImageArgs, OtadataArgs,
    PartitionsArgs,
};
use crate::chips::Chip;
use crate::formats::bootable::{judge, ImageProblem};
use crate::formats::image::Image;
use crate::formats::otadata::{self, Otadata};
use crate::formats::partition::{Layout, PartitionTable, TABLE_SECTOR_SIZE};
use crate::formats::sniff::{self, Kind};
use crate::workbench;

/// A table from a file that is either a bare table (≤ 4 KiB) or a full flash dump.
fn load_table(bytes: &[u8], offset: u32) -> Result<(PartitionTable, Option<u32>), Failure> {
    if bytes.len() <= TABLE_SECTOR_SIZE {
        return Ok((PartitionTable::parse(bytes)?, None));
    }
    match sniff::detect(bytes) {
        Kind::Otadata | Kind::AppImage => Err(Failure(format!(
            "not a partition table: {} bytes, and this looks like {} (give a binary table or a full flash dump)",
            bytes.len(),
            sniff::describe(bytes).unwrap_or("something else")
        ))),
        _ => Ok((PartitionTable::from_flash(bytes, offset)?, Some(bytes.len() as u32))),
    }
}

pub fn partitions(a: PartitionsArgs) -> CliResult {
    let bytes = read_input(&a.file)?;
    if a.from_csv {
        let text = String::from_utf8(bytes).map_err(|_| {
            Failure(format!(
                "{} is not CSV text (not UTF-8); drop --from-csv to read a binary table",
                a.file.display()
            ))
        })?;
        let table = PartitionTable::from_csv(&text, a.offset)?;
        let bin = table.to_bytes_with(!a.no_md5)?;
        let layout = Layout {
            table_offset: a.offset,
            flash_size: a.flash_size,
        };
        let warnings = table.warnings(&layout);
        write_output(a.output.as_deref().expect("clap: requires output"), &bin)?;
        if a.json {
            print_json(&report::partitions_json(&table, &warnings));
        } else {
            print!("{}", report::partitions_text(&table, &warnings));
        }
        return Ok(());
    }
    let (table, dump_size) = load_table(&bytes, a.offset)?;
    if a.to_csv {
        let csv = table.to_csv();
        match &a.output {
            Some(out) => write_output(out, csv.as_bytes())?,
            None => print!("{csv}"),
        }
        return Ok(());
    }
    let layout = Layout {
        table_offset: a.offset,
        flash_size: a.flash_size.or(dump_size),
    };
    let warnings = table.warnings(&layout);
    if a.json {
        print_json(&report::partitions_json(&table, &warnings));
    } else {
        print!("{}", report::partitions_text(&table, &warnings));
    }
    Ok(())
}

pub fn otadata(a: OtadataArgs) -> CliResult {
    if let Some(port) = &a.port {
        use super::device::OtadataOp;
        let op = if let Some(label) = &a.set_boot {
            OtadataOp::SetBoot(label.clone(), a.state)
        } else if a.erase {
            OtadataOp::Erase
        } else if a.mark_valid || a.mark_invalid {
            OtadataOp::Mark(a.mark_valid)
        } else {
            OtadataOp::Show
        };
        return super::device::otadata_on_device(port, &a.link, op, a.force, a.json);
    }
    let changes = a.set_boot.is_some() || a.erase || a.mark_valid || a.mark_invalid;
    if changes && a.output.is_none() {
        return Err(Failure("give -o FILE for the new otadata image".into()));
    }
    let file = a.file.as_deref().expect("clap: FILE without --port");
    let bytes = read_input(file)?;
    let is_dump = bytes.len() > otadata::OTADATA_LEN;
    let (table, flash_size) = match (&a.table, is_dump) {
        (Some(path), _) => load_table(&read_input(path)?, a.link.table_offset)?,
        (None, true) => load_table(&bytes, a.link.table_offset)?,
        (None, false) => {
            return Err(Failure(
                "give the partition table with --table (a binary table or a flash dump); otadata alone cannot say which partition boots".into(),
            ))
        }
    };
    let current = if is_dump {
        Otadata::from_flash(&bytes, &table)?
    } else {
        if sniff::detect(&bytes) != Kind::Otadata {
            let what = sniff::describe(&bytes).unwrap_or("not otadata");
            return Err(Failure(format!(
                "{} is {what}, not an 8 KiB otadata image",
                file.display()
            )));
        }
        Otadata::parse(&bytes)?
    };
    // In a flash dump the slots' content is known and judged as the bootloader does; with
    // otadata alone it is not, and the prediction says so.
    let slots = is_dump.then(|| workbench::dump_slots(&bytes, &table));
    let loads = |p: &crate::formats::partition::Partition| {
        slots
            .as_ref()
            .map_or(crate::formats::bootable::Loads::Unknown, |s| s.loads(p))
    };
    let layout = Layout {
        table_offset: a.link.table_offset,
        flash_size,
    };
    let warnings = table.warnings(&layout);

    let next = if let Some(label) = &a.set_boot {
        Some(otadata::set_boot(&table, &current, label, a.state)?)
    } else if a.erase {
        Some(otadata::erase())
    } else if a.mark_valid {
        Some(otadata::mark_running_valid(&current)?)
    } else if a.mark_invalid {
        Some(otadata::mark_running_invalid(&table, &current, &loads)?)
    } else {
        None
    };
    let shown = next.as_ref().unwrap_or(&current);
    let boot = workbench::prediction(&table, shown, a.rollback, slots.as_ref()).map_err(Failure)?;
    // As on a device: booting is not switched to a slot the dump shows would not load.
    if let (Some(label), Some(p)) = (&a.set_boot, boot.selected_partition(&table)) {
        if let (crate::formats::bootable::Loads::No(problem), false) = (loads(p), a.force) {
            let r = crate::loader::Refusal::WontLoad {
                label: label.clone(),
                problem,
            };
            return Err(Failure(format!(
                "{}; nothing written (--force writes it anyway)",
                r.message()
            )));
        }
    }
    if let Some(next) = &next {
        let out = a.output.as_deref().expect("clap: requires output");
        write_output(out, next.as_bytes())?;
        if !a.json {
            println!("wrote {} (8192 bytes). After flashing it:", out.display());
        }
    }
    if a.json {
        let mut v = report::otadata_json(&table, &boot, &warnings);
        if let Some(s) = &slots {
            v["slots"] = report::slots_json(&table, s);
        }
        print_json(&v);
    } else {
        if let Some(s) = &slots {
            print!("{}", report::slots_text(&table, s));
        }
        print!("{}", report::otadata_text(&table, &boot, &warnings));
    }
    Ok(())
}

pub fn image(a: ImageArgs) -> CliResult {
    let bytes = read_input(&a.file)?;
    let img = Image::parse(&bytes)?;
    if a.json {
        print_json(&report::image_json(&img));
    } else {
        print!("{}", report::image_text(&img));
    }
    if let Some(name) = &a.chip {
        let chip = Chip::by_name(name).ok_or_else(|| Failure(format!("unknown chip '{name}'")))?;
        // As the bootloader would judge it in an app slot of that size (at a 64 KiB aligned
        // offset, as app slots are), for any revision of the chip unless one is given.
        let target = crate::formats::bootable::Target::chip(chip, a.chip_revision);
        let mut problems = judge(&bytes, target, 0x10000, a.slot_size).problems;
        if a.slot_size.is_none() {
            problems.retain(|p| !matches!(p, ImageProblem::NotAnApp));
        }
        if !problems.is_empty() {
            return Err(Failure(format!(
                "this image must not be flashed: {}",
                problems
                    .iter()
                    .map(|p| p.message())
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
    }
    Ok(())
}
