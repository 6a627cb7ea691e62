//! One safe update, for the page, the CLI and the fleet alike: read the board, decide
//! ([`crate::formats::update`]), write (a slot and otadata, or a full install), then confirm
//! what runs — reset into the app, read what its console shows, come back into download mode
//! and read otadata and the slot again. "Done" is said only when both agree.

use super::{judge_boot, Device, OpenFailed, Snapshot};
use crate::formats::boot_log::{BootLog, Seen};
use crate::formats::bootable::Slots;
use crate::formats::otadata::OtaState;
use crate::formats::partition::PartitionTable;
use crate::formats::update::{self, Build, Decision, UpdatePlan};
use crate::formats::{hex, md5};
use crate::loader::{Error, Loader, OpenOptions, Port, Refusal, Result, WriteReport};
use std::time::Duration;

/// What the update did (before it was confirmed).
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    /// Nothing was needed.
    Already,
    /// The app went into a slot (this write) and otadata was switched to it.
    SlotUpdated(WriteReport),
    /// The build's parts were installed (these writes).
    Installed(Vec<WriteReport>),
}

impl Done {
    /// Bytes that crossed into flash (0 when nothing was needed).
    pub fn bytes_written(&self) -> u64 {
        match self {
            Done::Already => 0,
            Done::SlotUpdated(r) => r.written,
            Done::Installed(v) => v.iter().map(|r| r.written).sum(),
        }
    }

    /// How it ended, as a fleet record says it.
    pub fn outcome(&self) -> super::fleet::Outcome {
        use super::fleet::Outcome;
        match self {
            Done::Already => Outcome::Already,
            Done::SlotUpdated(_) => Outcome::Updated,
            Done::Installed(_) => Outcome::Installed,
        }
    }

    /// "updated", "already", "installed" (the JSON word).
    pub fn word(&self) -> &'static str {
        self.outcome().word()
    }
}

/// What was expected to run after the update, for the confirmation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// "Garden Sensor 1.2.4".
    pub label: String,
    pub slot: String,
    pub offset: u32,
    pub md5: [u8; 16],
    pub len: u32,
    /// The app's own description, if it has one.
    pub project: Option<String>,
    pub version: Option<String>,
    /// What stays as the fallback ("1.2.3 kept in app0").
    pub fallback: Option<String>,
}

/// What is known about what runs, after looking.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    pub expected: Expected,
    /// What the console showed (None: the link cannot reset the chip, nobody looked).
    pub console: Option<BootLog>,
    /// The slot read back holds the app (MD5), and otadata makes it boot (None: not read back).
    pub read_back: Option<ReadBack>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReadBack {
    pub slot_md5_matches: bool,
    /// The app otadata and the slots make the bootloader start.
    pub boots: Option<String>,
}

/// How the end of an update reads to the technician: green only when confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Seen starting on its console, and the flash holds it and boots it.
    Running,
    /// Written and verified, but not seen running (the link cannot reset, or it was silent).
    Unconfirmed,
    /// It does not run: another slot started, it crashes, or nothing boots.
    NotRunning,
}

impl Confirmation {
    pub fn verdict(&self) -> Verdict {
        let back_ok = self
            .read_back
            .as_ref()
            .is_none_or(|r| r.slot_md5_matches && r.boots.as_deref() == Some(&self.expected.slot));
        match self.console.as_ref().map(BootLog::seen) {
            Some(Seen::Running { offset }) if offset == self.expected.offset && back_ok => {
                Verdict::Running
            }
            Some(Seen::Running { .. } | Seen::Crashing { .. } | Seen::NothingBootable) => {
                Verdict::NotRunning
            }
            Some(Seen::Loaded { offset }) if offset != self.expected.offset => Verdict::NotRunning,
            _ if !back_ok => Verdict::NotRunning,
            _ => Verdict::Unconfirmed,
        }
    }

    /// The one sentence the technician leaves with.
    pub fn words(&self) -> String {
        let e = &self.expected;
        let kept = e
            .fallback
            .as_ref()
            .map(|f| format!(" {}.", sentence_start(f)))
            .unwrap_or_default();
        let seen = self.console.as_ref().map(BootLog::seen);
        let evidence = |log: &BootLog| -> String {
            let lines: Vec<&str> = log
                .evidence
                .iter()
                .rev()
                .take(3)
                .rev()
                .map(String::as_str)
                .collect();
            if lines.is_empty() {
                String::new()
            } else {
                format!(" The console: \"{}\".", lines.join(" | "))
            }
        };
        let boots_now = self
            .read_back
            .as_ref()
            .and_then(|r| r.boots.clone())
            .map_or(String::new(), |b| format!(" Boots now: {b}."));
        match (self.verdict(), seen) {
            (Verdict::Running, _) => format!(
                "Running {} from {} (seen on its console; image verified by MD5).{kept}",
                e.label, e.slot
            ),
            (Verdict::NotRunning, Some(Seen::Crashing { panics, .. })) => {
                let log = self.console.as_ref().unwrap();
                let panic = log
                    .evidence
                    .iter()
                    .find(|l| l.contains("Guru Meditation") || l.contains("abort()"))
                    .cloned()
                    .unwrap_or_default();
                format!(
                    "{} in {} crashes and restarts{} — it does not run. The console: \"{panic}\" ({panics} times).{boots_now}",
                    e.label,
                    e.slot,
                    if panics > 1 { " (a reboot loop)" } else { "" },
                )
            }
            (Verdict::NotRunning, Some(Seen::Running { offset } | Seen::Loaded { offset })) => {
                format!(
                    "{} in {} did not start: the bootloader started the app at 0x{offset:x} instead.{}{boots_now}",
                    e.label,
                    e.slot,
                    evidence(self.console.as_ref().unwrap())
                )
            }
            (Verdict::NotRunning, Some(Seen::NothingBootable)) => format!(
                "Nothing boots: the bootloader found no app it would start.{}",
                evidence(self.console.as_ref().unwrap())
            ),
            (Verdict::NotRunning, _) => format!(
                "{} was written to {}, but reading the board back does not show it booting.{boots_now}",
                e.label, e.slot
            ),
            (Verdict::Unconfirmed, None) => format!(
                "{} written to {} and verified by MD5, not yet seen running: press EN/RESET on the board, then check what it prints.{kept}",
                e.label, e.slot
            ),
            (Verdict::Unconfirmed, Some(_)) => format!(
                "{} written to {} and verified by MD5, but its start was not seen on the console: it is not known whether it runs.{kept}",
                e.label, e.slot
            ),
        }
    }
}

/// How long to watch after a reset: the first bootloader line, and after the app started, a
/// little longer for an early panic.
const FIRST_LINE: Duration = Duration::from_secs(5);
const SETTLE: Duration = Duration::from_millis(1500);
const WATCH_AT_MOST: Duration = Duration::from_secs(10);

/// Reads the console until it shows enough (an app started and stayed up for a moment, a
/// reboot loop, nothing bootable) or `FIRST_LINE` passes with nothing; returns what it showed
/// and the text.
pub async fn watch_boot<P: Port>(port: &mut P, first_line: Duration) -> Result<(BootLog, String)> {
    let began = port.elapsed();
    let mut text = String::new();
    let mut buf = vec![0u8; 4096];
    let mut started_at = None;
    loop {
        let now = port.elapsed() - began;
        let log = BootLog::parse(&text);
        if log.conclusive() {
            return Ok((log, text));
        }
        if log.started {
            let s = *started_at.get_or_insert(now);
            if now >= s + SETTLE {
                return Ok((log, text));
            }
        }
        let limit = if text.is_empty() {
            first_line
        } else {
            WATCH_AT_MOST
        };
        if now >= limit {
            return Ok((log, text));
        }
        let n = port
            .read(&mut buf, Duration::from_millis(100).min(limit - now))
            .await?;
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

impl<P: Port> Device<P> {
    /// Reads the board and decides the update (nothing is written). Returns the plan and what
    /// was read.
    pub async fn plan_update(
        &mut self,
        build: &Build,
        table_offset: u32,
    ) -> Result<(UpdatePlan, Snapshot)> {
        self.plan_update_as(build, table_offset, false).await
    }

    /// The same; `erase_first`: the whole flash erased first, always a full install
    /// ([`update::decide_erase_first`], ESP Web Tools' `erase-first`).
    pub async fn plan_update_as(
        &mut self,
        build: &Build,
        table_offset: u32,
        erase_first: bool,
    ) -> Result<(UpdatePlan, Snapshot)> {
        let snap = self.snapshot(table_offset).await?;
        let running = running(&snap);
        if erase_first {
            let board = update::Board {
                install: self.install_board(&snap, table_offset),
                running: running.as_ref(),
                slots: &snap.slots,
            };
            let plan = update::decide_erase_first(build, &board);
            return Ok((plan, snap));
        }
        let regions = {
            let board = update::Board {
                install: self.install_board(&snap, table_offset),
                running: running.as_ref(),
                slots: &snap.slots,
            };
            update::md5_regions(build, &board)
        };
        let mut md5s = vec![];
        if !self.chip.security.reads_hidden() {
            for (offset, len) in regions {
                if (offset as u64 + len as u64) <= self.flash.size as u64 && len > 0 {
                    md5s.push((offset, len, self.loader.flash_md5(offset, len).await?));
                }
            }
        }
        let board = update::Board {
            install: self.install_board(&snap, table_offset),
            running: running.as_ref(),
            slots: &snap.slots,
        };
        let md5_at = |o: u32, l: u32| {
            md5s.iter()
                .find(|(a, b, _)| *a == o && *b == l)
                .map(|(_, _, m)| *m)
        };
        let plan = update::decide(build, &board, &md5_at);
        Ok((plan, snap))
    }

    /// Carries out `plan` (made from `snap` by [`Device::plan_update`]): a slot update writes
    /// the app, verifies it by MD5, then switches otadata (power-cut-safe order, read back);
    /// a full install needs `confirmed` when it loses data. `on_step` is told what starts.
    pub async fn run_update(
        &mut self,
        plan: &UpdatePlan,
        snap: &Snapshot,
        confirmed: bool,
        on_step: &mut dyn FnMut(String),
    ) -> Result<Done> {
        match &plan.decision {
            Decision::Already { .. } => Ok(Done::Already),
            Decision::Refused(why) => Err(Refusal::Install(why.clone()).into()),
            Decision::Slot { slot, app, .. } => {
                let table = snap
                    .table
                    .as_ref()
                    .map_err(|e| Error::Refused(Refusal::Install(vec![e.message()])))?;
                let label = slot.name();
                on_step(format!("writing {} into {label}", plan.label));
                let w = self
                    .write_slot(table, &label, &app.bytes, &snap.slots, false)
                    .await?;
                let mut known = snap.slots.clone();
                known.set(&w.partition, w.slot.clone());
                on_step(format!("switching otadata to {label}"));
                self.set_boot(table, &label, OtaState::Undefined, &known, false)
                    .await?;
                Ok(Done::SlotUpdated(w.report))
            }
            Decision::Install {
                plan: install,
                erase,
            } => {
                let n = install.parts.len();
                let done = self
                    .install(install, *erase, confirmed, &mut |i, _, name| {
                        on_step(format!("installing part {} of {n}: {name}", i + 1))
                    })
                    .await?;
                Ok(Done::Installed(
                    done.parts.into_iter().map(|p| p.report).collect(),
                ))
            }
        }
    }
}

/// The app that boots now on the board `snap` was read from, as far as it is known.
fn running(snap: &Snapshot) -> Option<crate::formats::partition::Partition> {
    let table = snap.table.as_ref().ok()?;
    let od = snap
        .otadata
        .clone()
        .unwrap_or_else(crate::formats::otadata::Otadata::blank);
    judge_boot(table, &od, false, &snap.slots)
        .booted_partition(table)
        .cloned()
}

/// What should run after `plan`, with the build it came from and the board it was made for.
pub fn expected(plan: &UpdatePlan, build: &Build, snap: &Snapshot) -> Option<Expected> {
    let (md5_sum, slot) = plan.app_and_slot(build);
    let table: Option<&PartitionTable> = match &plan.decision {
        Decision::Install { plan, .. } => plan.table.as_ref(),
        _ => snap.table.as_ref().ok(),
    };
    let part = table?.find(slot.as_deref()?)?.clone();
    let app = match &plan.decision {
        Decision::Slot { app, .. } => Some(app),
        _ => build.app(Some(table?)),
    }?;
    let desc = crate::formats::image::Image::parse(&app.bytes)
        .ok()
        .and_then(|i| i.app);
    let fallback = match &plan.decision {
        Decision::Slot {
            previous: Some(p), ..
        } => Some(fallback_words(
            &snap.slots,
            p,
            desc.as_ref().map(|d| d.project_name.as_str()),
        )),
        _ => None,
    };
    Some(Expected {
        label: plan.label.clone(),
        slot: part.name(),
        offset: part.offset,
        md5: md5_sum?,
        len: app.bytes.len() as u32,
        project: desc.as_ref().map(|d| d.project_name.clone()),
        version: desc.map(|d| d.version),
        fallback,
    })
}

/// "1.2.3 kept in app0" (an older build of `project`), "blink-demo 1.0.0 kept in app0" (another
/// project), or "the previous app kept in app0".
fn fallback_words(
    slots: &Slots,
    p: &crate::formats::partition::Partition,
    project: Option<&str>,
) -> String {
    match slots.get(p).and_then(|s| s.app.as_ref()) {
        Some(a) if Some(a.project_name.as_str()) == project => {
            format!("{} kept in {}", a.version, p.name())
        }
        Some(a) => format!("{} {} kept in {}", a.project_name, a.version, p.name()),
        None => format!("the previous app kept in {}", p.name()),
    }
}

fn sentence_start(s: &str) -> String {
    // "The previous app kept in app0"; a project's own name stays as it is ("blink-demo 1.0.0").
    match s.strip_prefix("the ") {
        Some(rest) => format!("The {rest}"),
        None => s.to_string(),
    }
}

/// Confirms what runs: resets `d` into its app, watches the console, then opens the board again
/// in download mode (`opts`) and reads otadata and the slot back. Returns what was seen and the
/// board (or why it could not be opened again, with its loader). A link that cannot reset
/// comes back untouched, with nothing seen.
pub async fn confirm<P: Port>(
    d: Device<P>,
    expected: Expected,
    opts: &OpenOptions,
    table_offset: u32,
) -> (Confirmation, std::result::Result<Device<P>, OpenFailed<P>>) {
    let mut c = Confirmation {
        expected,
        console: None,
        read_back: None,
    };
    let mut d = d;
    if !d.loader.port().can_reset() {
        return (c, Ok(d));
    }
    let mut loader: Loader<P> = d.into_loader();
    let watched = async {
        loader.hard_reset().await?;
        watch_boot(loader.port(), FIRST_LINE).await
    }
    .await;
    match watched {
        Ok((log, text)) => {
            loader.log(format!(
                "the console after the reset: {}",
                describe_seen(&log)
            ));
            loader.echo_console(&text);
            c.console = Some(log);
        }
        Err(e) => {
            return (c, Err(OpenFailed { error: e, loader }));
        }
    }
    let mut d = match Device::open(loader, opts).await {
        Ok(d) => d,
        Err(f) => return (c, Err(f)),
    };
    c.read_back = read_back(&mut d, &c.expected, table_offset).await.ok();
    (c, Ok(d))
}

async fn read_back<P: Port>(
    d: &mut Device<P>,
    e: &Expected,
    table_offset: u32,
) -> Result<ReadBack> {
    let snap = d.snapshot(table_offset).await?;
    let md5_now = d.loader.flash_md5(e.offset, e.len).await?;
    Ok(ReadBack {
        slot_md5_matches: md5_now == e.md5,
        boots: running(&snap).map(|p| p.name()),
    })
}

/// "the app at 0x150000 started (garden 1.1.0)".
pub fn describe_seen(log: &BootLog) -> String {
    let name = match (&log.project, &log.version) {
        (Some(p), Some(v)) => format!(" ({p} {v})"),
        _ => String::new(),
    };
    match log.seen() {
        Seen::Running { offset } => format!("the app at 0x{offset:x} started{name}"),
        Seen::Crashing { offset, panics } => {
            format!("the app at 0x{offset:x} panicked {panics} time(s){name}")
        }
        Seen::NothingBootable => "the bootloader found nothing to start".into(),
        Seen::Loaded { offset } => {
            format!("the bootloader loaded the app at 0x{offset:x}; its start was not seen")
        }
        Seen::Silent => "nothing".into(),
    }
}

/// The MD5 of `bytes` in hex (for records).
pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&md5(bytes))
}
