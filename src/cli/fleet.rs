//! Many boards at once: `otaflash flash --port A --port B … IMAGE` writes the same app to every
//! board in parallel (each on its own port, a failing or unplugged board never stopping the
//! others), `--slot auto` picking each board's OTA slot that does not run now, and prints one
//! record per board (or `--json`). A board that already runs the image (MD5 match) is skipped
//! and said so, so a roll-out can be re-run. Exit status 1 names the boards that failed.

use super::device::{layout, open_quiet, Link};
use super::{print_json, CliResult, Failure};
use crate::device::judge_boot;
use crate::formats::bootable::Slots;
use crate::formats::otadata::OtaState;
use crate::formats::partition::{Partition, PartitionTable};
use std::time::Instant;

/// What happened on one board.
#[derive(Debug, Clone)]
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
    /// `flashed`, `already` (nothing to do) or `failed`.
    pub outcome: &'static str,
    pub message: String,
}

impl Record {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "port": self.port, "chip": self.chip, "mac": self.mac, "slot": self.slot,
            "before": self.before, "after": self.after, "md5": self.md5,
            "bytes_written": self.written, "seconds": (self.seconds * 100.0).round() / 100.0,
            "outcome": self.outcome, "message": self.message,
        })
    }
}

/// What to do on each board.
pub struct Job<'a> {
    pub link: &'a Link,
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
            Some(crate::formats::bootable::Holds::Empty) => "empty".into(),
            Some(_) => "not an app with a description".into(),
            None => "unknown".into(),
        },
    }
}

/// The OTA slot to update on a board: the one after the running one, in ota_N order (what
/// `esp_ota_get_next_update_partition` picks).
fn auto_slot(table: &PartitionTable, running: Option<&Partition>) -> Result<Partition, String> {
    let mut ota: Vec<&Partition> = table
        .entries
        .iter()
        .filter(|p| p.ota_index().is_some())
        .collect();
    ota.sort_by_key(|p| p.ota_index());
    let at = running.and_then(|r| ota.iter().position(|p| p.offset == r.offset));
    let pick = match at {
        Some(i) => ota.get((i + 1) % ota.len()).copied(),
        None => ota.first().copied(),
    };
    match pick {
        Some(p) if Some(p.offset) != running.map(|r| r.offset) => Ok(p.clone()),
        _ => Err("no OTA slot besides the one that runs now".into()),
    }
}

async fn one_board(port: String, job: &Job<'_>, md5: [u8; 16]) -> Record {
    let t0 = Instant::now();
    let mut r = Record {
        port: port.clone(),
        chip: String::new(),
        mac: String::new(),
        slot: String::new(),
        before: String::new(),
        after: String::new(),
        md5: crate::formats::hex(&md5),
        written: 0,
        seconds: 0.0,
        outcome: "failed",
        message: String::new(),
    };
    let result: Result<(), String> = async {
        let mut d = open_quiet(&port, job.link).await.map_err(|f| f.0)?;
        r.chip = d.chip.description.clone();
        r.mac = d.chip.mac_string();
        let (table, od, mut known) = layout(&mut d, job.link.table_offset, false)
            .await
            .map_err(|f| f.0)?;
        let boot = od.as_ref().map(|o| judge_boot(&table, o, false, &known));
        let running = boot
            .as_ref()
            .and_then(|b| b.booted_partition(&table))
            .cloned();
        let target = if job.slot == "auto" {
            auto_slot(&table, running.as_ref())?
        } else {
            table
                .find(job.slot)
                .cloned()
                .ok_or_else(|| format!("no partition named '{}'", job.slot))?
        };
        r.slot = target.name();
        r.before = app_words(&known, &target);
        let len = job.data.len() as u32;
        // Already done: the board runs this very image (or, without --set-boot, the slot holds it).
        let done_in = if job.set_boot {
            running.clone()
        } else {
            Some(target.clone())
        };
        if let Some(p) = done_in.filter(|p| len <= p.size) {
            if d.loader()
                .flash_md5(p.offset, len)
                .await
                .map_err(|e| e.to_string())?
                == md5
            {
                r.slot = p.name();
                r.before = app_words(&known, &p);
                r.after = r.before.clone();
                r.outcome = "already";
                r.message = format!(
                    "'{}' already holds this image (MD5 match){}: nothing written",
                    p.name(),
                    if job.set_boot { " and runs it" } else { "" }
                );
                return Ok(());
            }
        }
        let w = d
            .write_slot(&table, &target.name(), job.data, &known, job.force)
            .await
            .map_err(|e| e.to_string())?;
        r.written = w.report.written;
        known.set(&w.partition, w.slot.clone());
        r.after = app_words(&known, &target);
        r.message = w.report.describe(&target.name());
        if job.set_boot {
            d.set_boot(&table, &target.name(), job.state, &known, false)
                .await
                .map_err(|e| e.to_string())?;
            r.message
                .push_str(&format!("; boots '{}' next", target.name()));
        }
        r.outcome = "flashed";
        Ok(())
    }
    .await;
    if let Err(e) = result {
        r.message = e;
    }
    r.seconds = t0.elapsed().as_secs_f64();
    r
}

/// Runs `job` on every port, at most `jobs` at once (0: all), and reports.
pub async fn flash_boards(ports: &[String], job: Job<'_>, jobs: usize, json: bool) -> CliResult {
    let md5 = crate::formats::md5(job.data);
    let t0 = Instant::now();
    let limit = tokio::sync::Semaphore::new(if jobs == 0 { ports.len() } else { jobs });
    let job = &job;
    let limit = &limit;
    let runs = ports.iter().map(|p| async move {
        let _permit = limit.acquire().await.expect("semaphore");
        one_board(p.clone(), job, md5).await
    });
    let records: Vec<Record> = futures_util::future::join_all(runs).await;
    let total = t0.elapsed().as_secs_f64();
    let failed: Vec<&Record> = records.iter().filter(|r| r.outcome == "failed").collect();
    if json {
        print_json(&serde_json::json!({
            "boards": records.iter().map(Record::json).collect::<Vec<_>>(),
            "seconds": (total * 100.0).round() / 100.0,
            "failed": failed.len(),
        }));
    } else {
        for r in &records {
            println!(
                "{:<8} {} {} ({}) slot {}: {} → {} in {:.1} s — {}",
                r.outcome,
                r.port,
                r.chip,
                r.mac,
                if r.slot.is_empty() { "?" } else { &r.slot },
                if r.before.is_empty() { "?" } else { &r.before },
                if r.after.is_empty() { "?" } else { &r.after },
                r.seconds,
                r.message
            );
        }
        println!(
            "{} boards in {total:.1} s: {} flashed, {} already done, {} failed",
            records.len(),
            records.iter().filter(|r| r.outcome == "flashed").count(),
            records.iter().filter(|r| r.outcome == "already").count(),
            failed.len()
        );
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure(format!(
            "{} of {} boards failed: {}",
            failed.len(),
            records.len(),
            failed
                .iter()
                .map(|r| format!("{} ({})", r.port, r.message))
                .collect::<Vec<_>>()
                .join("; ")
        )))
    }
}
