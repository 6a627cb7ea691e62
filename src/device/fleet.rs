//! One board of a roll-out: the same app written to many boards, each on its own port. For one
//! board: pick the slot (`auto`: the OTA slot after the one that runs, as
//! `esp_ota_get_next_update_partition` does), skip it when it already runs the image (MD5
//! match), write and verify, switch, and say all of it in a [`Record`]. The CLI and the page's
//! fleet view both use it; the records read the same in both (CSV and JSON).

use super::{judge_boot, Device};
use crate::formats::bootable::{Holds, Slots};
use crate::formats::otadata::OtaState;
use crate::formats::partition::{Partition, PartitionTable};
use crate::loader::{Error, Port, Refusal};

/// What happened on one board.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub port: String,
    pub chip: String,
    pub mac: String,
    pub slot: String,
    /// Project and version in the slot before, and after.
    pub before: String,
    pub after: String,
    pub md5: String,
    pub written: u64,
    pub seconds: f64,
    pub outcome: Outcome,
    pub message: String,
}

/// How a board's job ended; its word goes into the records' CSV and JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An app written into a slot (and booted next).
    Flashed,
    /// The one safe update: a slot update.
    Updated,
    /// A full install.
    Installed,
    /// Nothing to do: the board runs it already.
    Already,
    Failed,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Flashed => "flashed",
            Outcome::Updated => "updated",
            Outcome::Installed => "installed",
            Outcome::Already => "already",
            Outcome::Failed => "failed",
        }
    }

    /// Something was written and checked.
    pub fn wrote(self) -> bool {
        matches!(
            self,
            Outcome::Flashed | Outcome::Updated | Outcome::Installed
        )
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

impl Record {
    /// A record for a board that failed before anything was known of it.
    pub fn failed(port: &str, md5: &[u8; 16], message: String) -> Record {
        Record {
            port: port.into(),
            chip: String::new(),
            mac: String::new(),
            slot: String::new(),
            before: String::new(),
            after: String::new(),
            md5: crate::formats::hex(md5),
            written: 0,
            seconds: 0.0,
            outcome: Outcome::Failed,
            message,
        }
    }

    fn fields(&self) -> [(&'static str, String, bool); 11] {
        [
            ("port", self.port.clone(), true),
            ("chip", self.chip.clone(), true),
            ("mac", self.mac.clone(), true),
            ("slot", self.slot.clone(), true),
            ("before", self.before.clone(), true),
            ("after", self.after.clone(), true),
            ("md5", self.md5.clone(), true),
            ("bytes_written", self.written.to_string(), false),
            (
                "seconds",
                crate::formats::numbers::decimals(self.seconds, 2),
                false,
            ),
            ("outcome", self.outcome.word().into(), true),
            ("message", self.message.clone(), true),
        ]
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The records as CSV (a header row, then one row per board).
pub fn records_csv(records: &[Record]) -> String {
    let q = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = Record::failed("", &[0; 16], String::new())
        .fields()
        .iter()
        .map(|f| f.0)
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for r in records {
        let row: Vec<String> = r.fields().iter().map(|f| q(&f.1)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// The records as JSON: `{"boards": [...], "seconds": total, "failed": n}`.
pub fn records_json(records: &[Record], seconds: f64) -> String {
    let boards: Vec<String> = records
        .iter()
        .map(|r| {
            let f: Vec<String> = r
                .fields()
                .iter()
                .map(|(k, v, s)| format!("\"{k}\": {}", if *s { json_str(v) } else { v.clone() }))
                .collect();
            format!("{{{}}}", f.join(", "))
        })
        .collect();
    format!(
        "{{\"boards\": [{}], \"seconds\": {}, \"failed\": {}}}",
        boards.join(", "),
        crate::formats::numbers::decimals(seconds, 2),
        records
            .iter()
            .filter(|r| r.outcome == Outcome::Failed)
            .count()
    )
}

/// What to do on each board.
#[derive(Debug, Clone)]
pub struct Update<'a> {
    pub data: &'a [u8],
    /// A slot label, or `auto`.
    pub slot: &'a str,
    pub set_boot: bool,
    pub state: OtaState,
    pub force: bool,
}

fn app_words(slots: &Slots, p: &Partition) -> String {
    match slots.get(p).and_then(|s| s.app.as_ref()) {
        Some(a) => format!("{} {}", a.project_name, a.version),
        None => match slots.get(p).map(|s| s.holds()) {
            Some(Holds::Empty) => "empty".into(),
            Some(_) => "not an app with a description".into(),
            None => "unknown".into(),
        },
    }
}

impl<P: Port> Device<P> {
    /// Updates this board as `job` says; never fails, the record tells. `elapsed` gives the
    /// seconds since the board's turn began (the caller's clock).
    pub async fn update(
        &mut self,
        port: &str,
        table_offset: u32,
        job: &Update<'_>,
        elapsed: &dyn Fn() -> f64,
    ) -> Record {
        let md5 = crate::formats::md5(job.data);
        let mut r = Record::failed(port, &md5, String::new());
        r.chip = self.chip.description.clone();
        r.mac = self.chip.mac_string();
        if let Err(e) = self.update_inner(table_offset, job, md5, &mut r).await {
            r.outcome = Outcome::Failed;
            r.message = e.to_string();
        }
        r.seconds = elapsed();
        r
    }

    async fn update_inner(
        &mut self,
        table_offset: u32,
        job: &Update<'_>,
        md5: [u8; 16],
        r: &mut Record,
    ) -> Result<(), Error> {
        let snap = self.snapshot(table_offset).await?;
        let table = snap.table.map_err(|e| {
            Refusal::Board(format!(
                "{} {}",
                e.message(),
                e.hint(self.chip.chip.bootloader_offset)
            ))
        })?;
        let mut known = snap.slots;
        let boot = snap
            .otadata
            .as_ref()
            .map(|o| judge_boot(&table, o, false, &known));
        let running = boot
            .as_ref()
            .and_then(|b| b.booted_partition(&table))
            .cloned();
        let target = if job.slot == "auto" {
            crate::formats::update::next_update_slot(&table, running.as_ref())
                .map_err(Refusal::Board)?
        } else {
            table
                .find(job.slot)
                .cloned()
                .ok_or_else(|| Refusal::NoPartition(job.slot.to_string()))?
        };
        r.slot = target.name();
        r.before = app_words(&known, &target);
        let len = job.data.len() as u32;
        // Already done: the board runs this very image (without --set-boot: the slot holds it).
        let done_in = if job.set_boot {
            running.clone()
        } else {
            Some(target.clone())
        };
        if let Some(p) = done_in.filter(|p| len <= p.size) {
            if self.loader().flash_md5(p.offset, len).await? == md5 {
                r.slot = p.name();
                r.before = app_words(&known, &p);
                r.after = r.before.clone();
                r.outcome = Outcome::Already;
                r.message = format!(
                    "'{}' already holds this image (MD5 match){}: nothing written",
                    p.name(),
                    if job.set_boot { " and runs it" } else { "" }
                );
                return Ok(());
            }
        }
        let w = self
            .write_slot(&table, &target.name(), job.data, &known, job.force)
            .await?;
        r.written = w.report.written;
        known.set(&w.partition, w.slot.clone());
        r.after = app_words(&known, &target);
        r.message = w.report.describe(&target.name());
        if job.set_boot {
            self.set_boot(&table, &target.name(), job.state, &known, false)
                .await?;
            r.message
                .push_str(&format!("; boots '{}' next", target.name()));
        }
        r.outcome = Outcome::Flashed;
        Ok(())
    }
}

/// The parts of a build for a chip (its pretty name, e.g. "ESP32-S3"), or why there are none.
pub type PartsFor<'a> = &'a dyn Fn(&str) -> Result<Vec<crate::formats::install::Part>, String>;

/// What boots with this table, otadata and slots: its label and its app in words.
fn booted(
    table: &PartitionTable,
    otadata: Option<&crate::formats::otadata::Otadata>,
    slots: &Slots,
) -> (String, String) {
    let od = otadata
        .cloned()
        .unwrap_or_else(crate::formats::otadata::Otadata::blank);
    match judge_boot(table, &od, false, slots).booted_partition(table) {
        Some(p) => (p.name(), app_words(slots, p)),
        None => (String::new(), "nothing boots".into()),
    }
}

impl<P: Port> Device<P> {
    fn blank_record(&self, port: &str) -> Record {
        let mut r = Record::failed(port, &[0; 16], String::new());
        r.md5.clear();
        r.chip = self.chip.description.clone();
        r.mac = self.chip.mac_string();
        r
    }

    /// Makes `label` boot next (an otadata job for many boards); the record tells.
    pub async fn boot_next(
        &mut self,
        port: &str,
        table_offset: u32,
        label: &str,
        elapsed: &dyn Fn() -> f64,
    ) -> Record {
        let mut r = self.blank_record(port);
        r.slot = label.into();
        let res: Result<(), Error> = async {
            let snap = self.snapshot(table_offset).await?;
            let table = snap.table.map_err(|e| Refusal::Board(e.message()))?;
            let mut known = snap.slots;
            let (was, words) = booted(&table, snap.otadata.as_ref(), &known);
            r.before = words;
            if was == label {
                r.after = r.before.clone();
                r.outcome = Outcome::Already;
                r.message = format!("'{label}' boots already: nothing written");
                return Ok(());
            }
            let s = self
                .set_boot(&table, label, OtaState::Undefined, &known, false)
                .await?;
            for (p, img) in s.checked {
                known.set(&p, img);
            }
            let (now, words) = booted(&table, Some(&s.otadata), &known);
            r.message = format!("otadata written and read back: '{now}' boots next");
            (r.slot, r.after) = (now, words);
            r.outcome = Outcome::Flashed;
            Ok(())
        }
        .await;
        if let Err(e) = res {
            r.outcome = Outcome::Failed;
            r.message = e.to_string();
        }
        r.seconds = elapsed();
        r
    }

    /// Installs a whole build (the parts for this chip), checked as for one board: blockers
    /// stop it, cautions need `yes`; verified by MD5; what boots read back. The record tells.
    pub async fn install_build(
        &mut self,
        port: &str,
        table_offset: u32,
        parts: PartsFor<'_>,
        opts: crate::formats::install::PlanOptions,
        yes: bool,
        elapsed: &dyn Fn() -> f64,
    ) -> Record {
        let mut r = self.blank_record(port);
        let res: Result<(), Error> = async {
            let snap = self.snapshot(table_offset).await?;
            r.before = match &snap.table {
                Ok(t) => booted(t, snap.otadata.as_ref(), &snap.slots).1,
                Err(_) => "no partition table".into(),
            };
            let parts = parts(self.chip.chip.pretty).map_err(Refusal::Board)?;
            let run = self
                .install_parts(
                    &snap,
                    parts,
                    table_offset,
                    opts,
                    yes,
                    &mut |_| {},
                    &mut |_, _, _| {},
                )
                .await?;
            let (done, snap) = (run.done, run.after);
            r.written = done.parts.iter().map(|w| w.report.written).sum();
            match &snap.table {
                Ok(t) => (r.slot, r.after) = booted(t, snap.otadata.as_ref(), &snap.slots),
                Err(e) => r.after = e.message(),
            }
            r.message = done.describe();
            r.outcome = Outcome::Flashed;
            Ok(())
        }
        .await;
        if let Err(e) = res {
            r.outcome = Outcome::Failed;
            r.message = e.to_string();
        }
        r.seconds = elapsed();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_as_csv_and_json() {
        let mut r = Record::failed("ws://a", &[1; 16], "cable, pulled".into());
        let csv = records_csv(std::slice::from_ref(&r));
        assert!(csv.starts_with(
            "port,chip,mac,slot,before,after,md5,bytes_written,seconds,outcome,message\n"
        ));
        assert!(csv.contains(",failed,\"cable, pulled\"\n"), "{csv}");
        r.message = "say \"hi\"".into();
        let j = records_json(&[r], 1.5);
        assert!(j.contains("\"message\": \"say \\\"hi\\\"\""), "{j}");
        assert!(j.ends_with("\"seconds\": 1.50, \"failed\": 1}"), "{j}");
    }
}
