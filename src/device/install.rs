//! Setting up and recovering a board: an install (parts at offsets, checked by
//! [`crate::formats::install`]), each part compressed and verified by MD5, optionally after
//! erasing the whole flash; and erasing the whole flash, a partition or a range.

use super::{Device, Snapshot};
use crate::formats::install::{plan, Board, Caution, Part, Plan, PlanOptions};
use crate::formats::numbers::decimals;
use crate::formats::partition::{Partition, PartitionTable};
use crate::loader::{Port, Refusal, Result, WriteOptions, WriteReport};
use std::time::Duration;

/// One part written.
#[derive(Debug, Clone, PartialEq)]
pub struct PartWrite {
    pub name: String,
    pub offset: u32,
    pub report: WriteReport,
}

/// What an install did.
#[derive(Debug, Clone, PartialEq)]
pub struct Installed {
    pub erased: bool,
    pub parts: Vec<PartWrite>,
    pub elapsed: Duration,
}

impl Installed {
    /// "installed: 4 parts verified (381 KB, 380 KB written) in 5.2 s".
    pub fn describe(&self) -> String {
        let bytes: u64 = self.parts.iter().map(|p| p.report.bytes).sum();
        let written: u64 = self.parts.iter().map(|p| p.report.written).sum();
        let unverified = self.parts.iter().find(|p| !p.report.verified);
        format!(
            "installed: {} part{} {} ({} bytes, {} written){} in {} s",
            self.parts.len(),
            if self.parts.len() == 1 { "" } else { "s" },
            match unverified {
                Some(p) => {
                    let n = self.parts.iter().filter(|p| !p.report.verified).count();
                    let which = if n == self.parts.len() {
                        String::new()
                    } else {
                        format!(" {n} of them")
                    };
                    format!(
                        "written,{which} NOT verified ({})",
                        p.report.unverified_why()
                    )
                }
                None => "verified by MD5".into(),
            },
            bytes,
            written,
            if self.erased {
                ", after erasing the whole flash"
            } else {
                ""
            },
            decimals(self.elapsed.as_secs_f64(), 1)
        )
    }
}

/// An install from start to end: the plan it followed, what was written, the board read back.
#[derive(Debug, Clone)]
pub struct InstallRun {
    pub plan: Plan,
    pub done: Installed,
    /// What the board holds afterwards (read again).
    pub after: Snapshot,
}

/// The cautions as lines, to refuse with when they were not confirmed.
pub fn caution_lines(cautions: &[Caution]) -> Vec<String> {
    cautions.iter().map(Caution::message).collect()
}

impl<P: Port> Device<P> {
    /// This board as an install plan sees it, from a snapshot of it taken at `table_offset`.
    pub fn install_board<'a>(&self, snap: &'a Snapshot, table_offset: u32) -> Board<'a> {
        Board {
            chip: self.chip.chip,
            revision: self.target().revision,
            flash_size: self.flash.size,
            current: snap.table.as_ref().ok(),
            table_offset,
            bootloader: snap.bootloader,
            secure_boot: self.chip.security.secure_boot,
            unreadable: self.chip.security.reads_hidden(),
        }
    }

    /// The one install sequence (the CLI, the page, the fleet): plans `parts` for the board as
    /// `snap` read it at `table_offset`, tells `on_plan` the plan before anything is written,
    /// installs it (refused when it has blockers, or cautions not `confirmed`), then reads the
    /// board back.
    #[allow(clippy::too_many_arguments)]
    pub async fn install_parts(
        &mut self,
        snap: &Snapshot,
        parts: Vec<Part>,
        table_offset: u32,
        opts: PlanOptions,
        confirmed: bool,
        on_plan: &mut dyn FnMut(&Plan),
        on_part: &mut dyn FnMut(usize, usize, &str),
    ) -> Result<InstallRun> {
        let plan = plan(parts, &self.install_board(snap, table_offset), opts);
        on_plan(&plan);
        let done = self
            .install(&plan, opts.erase_all, confirmed, on_part)
            .await?;
        let after = self.snapshot(table_offset).await?;
        Ok(InstallRun { plan, done, after })
    }

    /// Writes the plan's parts, in offset order, each verified by MD5; with `erase_all`, erases
    /// the whole flash first. Refuses a plan with blockers, and one with cautions unless
    /// `confirmed` (nothing is written then). `on_part(i, n, name)` is told before each part.
    pub async fn install(
        &mut self,
        plan: &Plan,
        erase_all: bool,
        confirmed: bool,
        on_part: &mut dyn FnMut(usize, usize, &str),
    ) -> Result<Installed> {
        if !plan.ready() {
            return Err(
                Refusal::Install(plan.blockers.iter().map(|b| b.message()).collect()).into(),
            );
        }
        if !plan.cautions.is_empty() && !confirmed {
            return Err(Refusal::Unconfirmed(caution_lines(&plan.cautions)).into());
        }
        // Before anything is erased: parts the chip's security state forbids (plain images
        // under flash encryption, the bootloader region under secure boot v1).
        let security = self.chip.security;
        if let Some(b) = plan
            .parts
            .iter()
            .find_map(|p| security.write_block(p.offset, plan.written_for(p)))
        {
            return Err(Refusal::Security(b).into());
        }
        if erase_all && security.secure_download {
            return Err(Refusal::Install(vec![
                "secure download mode: erasing the whole flash needs the flasher stub, which cannot run; install without erasing first (each part's sectors are erased as it is written)".into(),
            ])
            .into());
        }
        let started = self.loader.port().elapsed();
        if erase_all {
            self.loader.log("erasing the whole flash");
            self.loader.erase_flash().await?;
        }
        let mut parts = vec![];
        let n = plan.parts.len();
        for (i, p) in plan.parts.iter().enumerate() {
            on_part(i, n, &p.name);
            self.loader.log(format!(
                "part {} of {n}: {} ({}) at 0x{:x}",
                i + 1,
                p.name,
                p.kind.name(),
                p.offset
            ));
            let report = self
                .loader
                .write_flash(
                    p.offset,
                    &p.bytes,
                    WriteOptions {
                        written: plan.written_for(p),
                        ..WriteOptions::default()
                    },
                )
                .await?;
            self.loader.log(report.describe(&p.name));
            parts.push(PartWrite {
                name: p.name.clone(),
                offset: p.offset,
                report,
            });
        }
        Ok(Installed {
            erased: erase_all,
            parts,
            elapsed: self.loader.port().elapsed() - started,
        })
    }

    /// Erases the whole flash.
    pub async fn erase_all(&mut self) -> Result<()> {
        self.loader.erase_flash().await
    }

    /// Erases a region (whole 4 KiB sectors).
    pub async fn erase_range(&mut self, offset: u32, size: u32) -> Result<()> {
        self.loader.erase_region(offset, size).await
    }

    /// Erases one partition of `table`.
    pub async fn erase_partition(
        &mut self,
        table: &PartitionTable,
        label: &str,
    ) -> Result<Partition> {
        let p = table
            .find(label)
            .cloned()
            .ok_or_else(|| Refusal::NoPartition(label.to_string()))?;
        self.loader.erase_region(p.offset, p.size).await?;
        Ok(p)
    }

    /// Resets the chip into its app (EN pulse with IO0 high); the link is in the app's hands
    /// then. Returns false when the port cannot reset (no control lines).
    pub async fn reset_into_app(&mut self) -> Result<bool> {
        if !self.loader.port().can_reset() {
            return Ok(false);
        }
        self.loader.hard_reset().await?;
        Ok(true)
    }
}

/// What an erase of `size` bytes at `offset` loses, in words: the bootloader (at `boot_at`),
/// the partition table (at `table_at`) and the partitions of `table` it touches.
pub fn erase_losses(
    table: Option<&PartitionTable>,
    boot_at: u32,
    table_at: u32,
    offset: u32,
    size: u64,
) -> Vec<String> {
    let end = offset as u64 + size;
    let hits = |a: u64, b: u64| a < end && b > offset as u64;
    let mut v = vec![];
    if hits(boot_at as u64, table_at as u64) {
        v.push("the bootloader".to_string());
    }
    if hits(table_at as u64, table_at as u64 + 0x1000) {
        v.push("the partition table".to_string());
    }
    for e in table.iter().flat_map(|t| t.entries.iter()) {
        if hits(e.offset as u64, e.end()) {
            v.push(format!(
                "{} ({} {})",
                e.name(),
                e.type_name(),
                e.subtype_name()
            ));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_erase_loses() {
        let t = PartitionTable::from_csv(crate::sim::demo::ARDUINO_DEFAULT_CSV, 0x8000).unwrap();
        assert_eq!(
            erase_losses(Some(&t), 0x1000, 0x8000, 0x9000, 0x5000),
            ["nvs (data nvs)"]
        );
        let all = erase_losses(Some(&t), 0x1000, 0x8000, 0, 4 << 20);
        assert_eq!(
            all[..3],
            ["the bootloader", "the partition table", "nvs (data nvs)"]
        );
        assert_eq!(all.len(), 8);
    }
}
