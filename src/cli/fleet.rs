//! Many boards at once: `otaflash flash --port A --port B … IMAGE` writes the same app to every
//! board in parallel (each on its own port, a failing or unplugged board never stopping the
//! others) and prints one record per board (or `--json`); the per-board work is the device
//! layer's ([`crate::device::fleet`]). Exit status 1 names the boards that failed.

use super::link::{open_quiet, Link};
use super::{CliResult, FailKind, Failure};
use crate::device::fleet::{records_json, Outcome, Record, Update};
use std::time::Instant;

async fn one_board(port: String, link: &Link, job: &Update<'_>, md5: [u8; 16]) -> Record {
    let t0 = Instant::now();
    match open_quiet(&port, link).await {
        Ok(mut d) => {
            d.update(&port, link.table_offset, job, &|| {
                t0.elapsed().as_secs_f64()
            })
            .await
        }
        Err(f) => {
            let mut r = Record::failed(&port, &md5, f.message);
            r.seconds = t0.elapsed().as_secs_f64();
            r
        }
    }
}

/// Runs `job` on every port, at most `jobs` at once (0: all), and reports.
pub async fn flash_boards(
    ports: &[String],
    link: &Link,
    job: Update<'_>,
    jobs: usize,
    json: bool,
) -> CliResult {
    let md5 = crate::formats::md5(job.data);
    let t0 = Instant::now();
    let limit = tokio::sync::Semaphore::new(if jobs == 0 { ports.len() } else { jobs });
    let (job, limit) = (&job, &limit);
    let runs = ports.iter().map(|p| async move {
        let _permit = limit.acquire().await.expect("semaphore");
        one_board(p.clone(), link, job, md5).await
    });
    let records: Vec<Record> = futures_util::future::join_all(runs).await;
    report(&records, t0.elapsed().as_secs_f64(), json)
}

/// Prints the records (or their JSON) and fails, naming them, if any board failed.
pub fn report(records: &[Record], total: f64, json: bool) -> CliResult {
    let failed: Vec<&Record> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .collect();
    if json {
        println!("{}", records_json(records, total));
    } else {
        for r in records {
            let or = |s: &str| {
                if s.is_empty() {
                    "?".to_string()
                } else {
                    s.to_string()
                }
            };
            println!(
                "{:<9} {} {} ({}) slot {}: {} → {} in {:.1} s — {}",
                r.outcome.word(),
                r.port,
                or(&r.chip),
                or(&r.mac),
                or(&r.slot),
                or(&r.before),
                or(&r.after),
                r.seconds,
                r.message
            );
        }
        println!(
            "{} boards in {total:.1} s: {} flashed, {} already done, {} failed",
            records.len(),
            records.iter().filter(|r| r.outcome.wrote()).count(),
            records
                .iter()
                .filter(|r| r.outcome == Outcome::Already)
                .count(),
            failed.len()
        );
    }
    if failed.is_empty() {
        Ok(())
    } else {
        // The records (or their JSON) said each board's outcome already.
        Err(Failure(format!(
            "{} of {} boards failed: {}",
            failed.len(),
            records.len(),
            failed
                .iter()
                .map(|r| format!("{} ({})", r.port, r.message))
                .collect::<Vec<_>>()
                .join("; ")
        ))
        .reported(FailKind::Board))
    }
}
