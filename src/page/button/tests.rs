use super::*;
use crate::loader::{Error, Progress, Via};
use crate::page::tests::{board, connected};
use crate::page::tests_update::{plan_for, v2};
use crate::page::{Failure, FirmwareStage};
use std::time::Duration;

fn names(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match &e.details {
            Details::Done(d) => format!("{}{}", e.state.name(), if *d { "✓" } else { "" }),
            Details::Writing { percentage, .. } => format!("writing {percentage}%"),
            Details::Error { error, .. } => format!("error {}", error.name()),
        })
        .collect()
}

fn writing(done: u64, total: u64) -> Action {
    Action::JobProgress(Progress {
        phase: Phase::Writing,
        done,
        total,
        wire: done,
        elapsed: Duration::ZERO,
    })
}

fn run(actions: &[Action]) -> Vec<Event> {
    let mut e = Events::default();
    actions.iter().flat_map(|a| e.on(a)).collect()
}

fn start() -> Vec<Action> {
    vec![
        Action::Connecting,
        Action::Connected(board()),
        Action::FirmwareLoading("fw/manifest.json".into()),
        Action::FirmwareLoaded {
            from: "fw/manifest.json".into(),
            name: Some("Garden Sensor".into()),
            version: Some("1.1.0".into()),
        },
    ]
}

/// A slot update, in ESP Web Tools' order: initializing, manifest, preparing, writing with
/// bytes and percentage, finished — with the chip family once known, and nothing after the end.
#[test]
fn a_slot_update_says_the_states_in_esp_web_tools_order() {
    let plan = plan_for(&connected(), &v2());
    let total = match &plan.decision {
        Decision::Slot { app, .. } => app.bytes.len() as u64,
        d => panic!("{d:?}"),
    };
    let mut a = start();
    a.extend([
        Action::UpdatePlanned(plan),
        Action::JobStarted(JobKind::Update, "updating".into()),
        writing(0, total),
        writing(total / 2, total),
        writing(total, total),
        Action::UpdateFinished(
            Verdict::Running,
            "Running Garden Sensor 1.1.0 from app1".into(),
        ),
        Action::Connecting,
        Action::LinkLost("gone".into()),
    ]);
    let ev = run(&a);
    assert_eq!(
        names(&ev),
        [
            "initializing",
            "initializing✓",
            "manifest",
            "manifest✓",
            "preparing",
            "preparing✓",
            "writing 0%",
            "writing 50%",
            "writing 100%",
            "finished✓"
        ]
    );
    assert_eq!(ev[0].chip_family, None);
    assert_eq!(ev[1].chip_family.as_deref(), Some("ESP32"));
    assert_eq!(ev[3].message, "Garden Sensor");
    assert_eq!(
        ev[8].details,
        Details::Writing {
            bytes_total: total,
            bytes_written: total,
            percentage: 100
        }
    );
    assert_eq!(ev[9].message, "Running Garden Sensor 1.1.0 from app1");
}

/// erase-first: erasing comes before writing; the parts of an install count as one total.
#[test]
fn an_install_with_erase_says_erasing_then_counts_all_parts() {
    use crate::formats::install::{plan, Board, PlanOptions};
    let parts = vec![
        crate::formats::install::Part::new("boot.bin", 0x1000, vec![0xE9; 1000]),
        crate::formats::install::Part::new("app.bin", 0x10000, vec![0xE9; 3000]),
    ];
    let b = Board {
        chip: crate::chips::ESP32,
        revision: Some(301),
        flash_size: 4 << 20,
        current: None,
        table_offset: 0x8000,
        bootloader: None,
        secure_boot: Default::default(),
        unreadable: false,
    };
    let p = plan(parts, &b, PlanOptions::default());
    let up = UpdatePlan {
        decision: Decision::Install {
            plan: p,
            erase: true,
        },
        label: "x".into(),
        sentence: "A full install".into(),
        detail: vec![],
    };
    let mut a = start();
    a.extend([
        Action::UpdatePlanned(up),
        Action::JobStarted(JobKind::Update, "updating".into()),
        writing(0, 1000),
        writing(1000, 1000),
        writing(0, 3000),
        writing(3000, 3000),
        Action::UpdateFinished(
            Verdict::Unconfirmed,
            "written; what runs is not known".into(),
        ),
    ]);
    assert_eq!(
        names(&run(&a))[5..],
        [
            "preparing✓",
            "erasing",
            "erasing✓",
            "writing 0%",
            "writing 25%",
            "writing 25%",
            "writing 100%",
            "finished✓"
        ]
    );
}

/// Each failure with its ESP Web Tools code, and "already up to date" is finished.
#[test]
fn failures_carry_esp_web_tools_codes() {
    let refused = |m: &str| Failure::refused(m);
    let code = |a: Action| {
        let mut v = start();
        v.push(a);
        names(&run(&v)).last().cloned().unwrap()
    };
    assert_eq!(
        code(Action::FirmwareFailed(
            FirmwareStage::NoBuild,
            "no build".into()
        )),
        "error not_supported"
    );
    assert_eq!(
        code(Action::FirmwareFailed(FirmwareStage::Parts, "404".into())),
        "error failed_firmware_download"
    );
    assert_eq!(
        code(Action::UpdateStopped(refused("stopped"))),
        "error write_failed"
    );
    assert_eq!(
        code(Action::UpdateFinished(
            Verdict::NotRunning,
            "app0 runs".into()
        )),
        "error write_failed"
    );
    let e = Error::Timeout("no answer".into());
    let failed = Action::ConnectFailed(Failure::of(&e, Via::Serial(None)));
    assert_eq!(
        names(&run(&[Action::Connecting, failed.clone()])),
        ["initializing", "error failed_initialize"]
    );
    // Trying again is a new run; after "finished" nothing more is said.
    assert_eq!(
        names(&run(&[
            Action::Connecting,
            failed,
            Action::Connecting,
            Action::Connected(board())
        ])),
        [
            "initializing",
            "error failed_initialize",
            "initializing",
            "initializing✓"
        ]
    );
    let mut s = connected();
    let b = v2();
    // The board runs the build already.
    let mut plan = plan_for(&s, &b);
    plan.decision = Decision::Already {
        slot: s.table().unwrap().find("app0").unwrap().clone(),
    };
    s.apply(Action::UpdatePlanned(plan.clone()));
    assert_eq!(
        names(&run(&[start(), vec![Action::UpdatePlanned(plan)]].concat()))[4..],
        ["preparing", "preparing✓", "finished✓"]
    );
}
