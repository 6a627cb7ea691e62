//! `otaflash update`: one safe update from a vendor's build — an ESP Web Tools manifest (a file
//! or an http:// address; parts resolve against it as ESP Web Tools resolves them) or a single
//! app image. The board is read, the plan said (already / slot update / full install), written,
//! reset into the app and confirmed from its console and from the flash read back. Several
//! `--port`s: every board on the same decision, one record each.

use super::link::{open, open_options, open_quiet, with_hints, Link};
use super::{print_json, read_input, CliResult, FailKind, Failure};
use crate::chips::Chip;
use crate::device::fleet::{Outcome, Record};
use crate::device::update::{confirm, expected, Confirmation, Done, Verdict};
use crate::device::Device;
use crate::formats::install::Part;
use crate::formats::manifest::{self, Manifest};
use crate::formats::update::{Build, Decision, UpdatePlan};
use crate::formats::{hex, md5};
use clap::Args;
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// tcp://HOST:PORT or rfc2217://HOST:PORT; repeat for several boards (one record each).
    #[arg(long, required = true)]
    port: Vec<String>,
    #[command(flatten)]
    link: Link,
    /// Go ahead with a full install that loses data (the plan says what); without it nothing
    /// is written then.
    #[arg(long)]
    yes: bool,
    /// Do not reset into the app to confirm what runs (it is then said not to be confirmed).
    #[arg(long)]
    no_confirm: bool,
    #[arg(long)]
    json: bool,
    /// An ESP Web Tools manifest (a file, or an http:// address), or an app image (.bin).
    build: String,
}

/// Where the build comes from.
enum Source {
    Manifest { manifest: Manifest, at: String },
    App { name: String, bytes: Vec<u8> },
}

/// The parts of `manifest`'s build for `chip`, located by the one resolver
/// ([`Manifest::locate`]) beside the manifest's address `at` and read (http or a file).
pub(super) async fn fetch_parts(
    manifest: &Manifest,
    at: &str,
    chip: &str,
) -> Result<Vec<Part>, Failure> {
    let located = manifest
        .locate(chip, manifest::PartsAt::Beside(at))
        .map_err(|e| Failure(format!("{at}: {e}")))?;
    let mut parts = vec![];
    for l in &located {
        if let manifest::Where::Address(a) = &l.at {
            parts.push(l.part(fetch(a).await?));
        }
    }
    Ok(parts)
}

pub(super) async fn fetch(at: &str) -> Result<Vec<u8>, Failure> {
    if at.contains("://") {
        super::http::get(at).await.map_err(Failure)
    } else {
        read_input(std::path::Path::new(at))
    }
}

async fn source(at: &str) -> Result<Source, Failure> {
    let bytes = fetch(at).await?;
    let looks_json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if looks_json {
        let manifest = Manifest::parse(&bytes).map_err(|e| Failure(format!("{at}: {e}")))?;
        return Ok(Source::Manifest {
            manifest,
            at: at.to_string(),
        });
    }
    Ok(Source::App {
        name: manifest::file_name(at).to_string(),
        bytes,
    })
}

/// The build for `chip`: the manifest's build for it, its parts fetched (relative to it).
async fn build_for(source: &Source, chip: &Chip) -> Result<Build, Failure> {
    match source {
        Source::App { name, bytes } => Ok(Build::app_image(name, bytes.clone())),
        Source::Manifest { manifest, at } => {
            let parts = fetch_parts(manifest, at, chip.pretty).await?;
            Ok(Build {
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                parts,
                improv: manifest
                    .build_for(Some(chip.pretty))
                    .is_ok_and(|b| b.improv)
                    .then_some(manifest.improv_wait)
                    .filter(|w| *w > 0),
            })
        }
    }
}

fn decision_word(p: &UpdatePlan) -> &'static str {
    match p.decision {
        Decision::Already { .. } => "already",
        Decision::Slot { .. } => "slot_update",
        Decision::Install { .. } => "full_install",
        Decision::Refused(_) => "refused",
    }
}

fn plan_json(p: &UpdatePlan) -> Value {
    json!({
        "decision": decision_word(p),
        "build": p.label,
        "sentence": p.sentence,
        "detail": p.detail,
        "needs_yes": p.needs_yes(),
    })
}

fn running_json(c: Option<&Confirmation>, build: &Build, plan: &UpdatePlan) -> Value {
    let (app_md5, slot) = plan.app_and_slot(build);
    let Some(c) = c else {
        return json!({"label": plan.label, "slot": slot, "md5": app_md5.map(|m| hex(&m)), "confirmed_by": []});
    };
    let mut by = vec![];
    if c.console.as_ref().is_some_and(|l| {
        matches!(l.seen(), crate::formats::boot_log::Seen::Running { offset } if offset == c.expected.offset)
    }) {
        by.push("console");
    }
    if c.read_back.as_ref().is_some_and(|r| r.slot_md5_matches) {
        by.push("md5");
    }
    if c.read_back
        .as_ref()
        .is_some_and(|r| r.boots.as_deref() == Some(&c.expected.slot))
    {
        by.push("otadata");
    }
    let log = c.console.as_ref();
    json!({
        "label": c.expected.label,
        "slot": c.expected.slot,
        "project": log.and_then(|l| l.project.clone()).or(c.expected.project.clone()),
        "version": log.and_then(|l| l.version.clone()).or(c.expected.version.clone()),
        "md5": hex(&c.expected.md5),
        "confirmed_by": by,
        "verdict": match c.verdict() {
            Verdict::Running => "running",
            Verdict::Unconfirmed => "unconfirmed",
            Verdict::NotRunning => "not_running",
        },
        "console": log.map(|l| l.evidence.clone()).unwrap_or_default(),
    })
}

/// What one board's update came to.
struct BoardUpdate {
    plan: Option<UpdatePlan>,
    done: Option<Done>,
    confirmation: Option<Confirmation>,
    build: Option<Build>,
    /// The last words (the confirmation's, "already up to date", or why it stopped).
    words: String,
    ok: bool,
}

async fn update_board(
    port: &str,
    a: &UpdateArgs,
    src: &Source,
    quiet: bool,
    chip_out: &mut (String, String),
) -> Result<BoardUpdate, Failure> {
    let mut d: Device<_> = if quiet {
        open_quiet(port, &a.link).await?
    } else {
        open(port, &a.link, false).await?
    };
    *chip_out = (d.chip.description.clone(), d.chip.mac_string());
    let build = build_for(src, d.chip.chip).await?;
    let (plan, snap) = d.plan_update(&build, a.link.table_offset).await?;
    if !quiet {
        println!("{}", plan.sentence);
        for line in &plan.detail {
            println!("  {line}");
        }
    }
    let mut out = BoardUpdate {
        plan: Some(plan.clone()),
        done: None,
        confirmation: None,
        build: Some(build.clone()),
        words: String::new(),
        ok: false,
    };
    if !plan.ready() {
        out.words = format!("nothing written: {}", plan.detail.join("; "));
        return Ok(out);
    }
    let yes = plan.needs_yes();
    if !yes.is_empty() && !a.yes {
        out.words = format!("nothing written; these need --yes: {}", yes.join("; "));
        return Ok(out);
    }
    let done = d
        .run_update(&plan, &snap, a.yes, &mut |step| {
            if !quiet {
                eprintln!("{step}");
            }
        })
        .await
        .map_err(|e| with_hints(&e))?;
    out.done = Some(done.clone());
    if done == Done::Already {
        out.words = plan.sentence.clone();
        out.ok = true;
        return Ok(out);
    }
    let Some(exp) = expected(&plan, &build, &snap) else {
        out.words = format!(
            "{} written and verified; what should run is not known",
            plan.label
        );
        out.ok = true;
        return Ok(out);
    };
    if a.no_confirm {
        out.words = format!(
            "{} written to {} and verified by MD5; not confirmed running (--no-confirm)",
            exp.label, exp.slot
        );
        out.ok = true;
        return Ok(out);
    }
    let (c, _board) = confirm(d, exp, &open_options(&a.link), a.link.table_offset).await;
    out.words = c.words();
    out.ok = c.verdict() != Verdict::NotRunning;
    out.confirmation = Some(c);
    Ok(out)
}

pub fn update(a: UpdateArgs) -> CliResult {
    super::link::runtime().block_on(async {
        let src = source(&a.build).await?;
        if a.port.len() > 1 {
            return fleet(&a, &src).await;
        }
        let mut chip = (String::new(), String::new());
        let out = update_board(&a.port[0], &a, &src, a.json, &mut chip).await?;
        if a.json {
            let outcome = match (&out.done, out.ok) {
                (Some(d), true) => d.word(),
                _ => "failed",
            };
            let mut v = json!({
                "port": a.port[0],
                "chip": chip.0,
                "plan": out.plan.as_ref().map(plan_json),
                "outcome": outcome,
                "bytes_written": out.done.as_ref().map_or(0, Done::bytes_written),
                "words": out.words,
            });
            if let (Some(p), Some(b)) = (&out.plan, &out.build) {
                v["running"] = running_json(out.confirmation.as_ref(), b, p);
            }
            print_json(&v);
        } else {
            println!("{}", out.words);
        }
        if out.ok {
            Ok(())
        } else {
            let refused = out
                .plan
                .as_ref()
                .is_some_and(|p| matches!(p.decision, Decision::Refused(_)));
            let kind = if refused {
                FailKind::Refused
            } else {
                FailKind::Board
            };
            Err(Failure(out.words).reported(kind))
        }
    })
}

/// Every board on the same decision, at once; a record each.
async fn fleet(a: &UpdateArgs, src: &Source) -> CliResult {
    let t0 = std::time::Instant::now();
    let runs = a.port.iter().map(|port| async move {
        let t = std::time::Instant::now();
        let mut chip = (String::new(), String::new());
        let r = update_board(port, a, src, true, &mut chip).await;
        let mut rec = Record::failed(port, &[0; 16], String::new());
        rec.chip = chip.0;
        rec.mac = chip.1;
        match r {
            Err(Failure { message: e, .. }) => rec.message = e,
            Ok(out) => {
                if let (Some(p), Some(b)) = (&out.plan, &out.build) {
                    let (m, slot) = p.app_and_slot(b);
                    rec.slot = slot.unwrap_or_default();
                    rec.md5 = m.map(|m| hex(&m)).unwrap_or_default();
                    rec.after = p.label.clone();
                }
                rec.written = out.done.as_ref().map_or(0, Done::bytes_written);
                rec.outcome = match (&out.done, out.ok) {
                    (Some(d), true) => d.outcome(),
                    _ => Outcome::Failed,
                };
                rec.message = out.words;
            }
        }
        if rec.md5.is_empty() {
            rec.md5 = hex(&md5(&[]));
        }
        rec.seconds = t.elapsed().as_secs_f64();
        rec
    });
    let records = futures_util::future::join_all(runs).await;
    super::fleet::report(&records, t0.elapsed().as_secs_f64(), a.json)
}
