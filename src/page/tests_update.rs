//! The page's update, action by action: one firmware for every panel, the offer said before
//! anything is written, green only when confirmed, a lost link said in words.

use super::tests::{board, connected};
use super::*;
use crate::device::update::Verdict;
use crate::formats::bootable::judge;
use crate::formats::update::{decide, Board as UpdateBoard, Build};
use crate::sim::demo;

fn flash() -> Vec<u8> {
    demo::arduino_like_flash(crate::chips::ESP32)
}

pub(super) fn v2() -> Build {
    Build {
        name: Some("Garden Sensor".into()),
        version: Some("1.1.0".into()),
        parts: Build::app_image(
            "garden.bin",
            demo::app_image(crate::chips::ESP32, Some(("garden", "1.1.0")), 2000),
        )
        .parts,
        improv: None,
    }
}

/// The plan the device layer would make for the demo board (app0 runs).
pub(super) fn plan_for(s: &PageState, build: &Build) -> crate::formats::update::UpdatePlan {
    let f = flash();
    let t = s.table().unwrap();
    let install = crate::formats::install::Board {
        chip: crate::chips::ESP32,
        revision: Some(301),
        flash_size: 4 << 20,
        current: Some(t),
        table_offset: 0x8000,
        bootloader: None,
        secure_boot: Default::default(),
        unreadable: false,
    };
    let app0 = t.find("app0").unwrap();
    let b = UpdateBoard {
        install,
        running: Some(app0),
        slots: &s.slots,
    };
    decide(build, &b, &|o, l| {
        Some(md5(&f[o as usize..(o + l) as usize]))
    })
}

#[test]
fn the_offer_waits_for_a_board_then_says_the_plan_before_writing() {
    let mut s = PageState::default();
    s.apply(Action::FirmwareLoaded {
        from: "fw/manifest.json".into(),
        name: Some("Garden Sensor".into()),
        version: Some("1.1.0".into()),
    });
    let o = s.update_offer().unwrap();
    assert_eq!(o.button, "Update to Garden Sensor 1.1.0");
    assert!(
        !o.enabled && o.sentence.contains("Connect the board"),
        "{o:?}"
    );

    let mut s = connected();
    s.apply(Action::FirmwareResolved(v2()));
    let o = s.update_offer().unwrap();
    assert!(!o.enabled && o.sentence.contains("Checking"), "{o:?}");
    let plan = plan_for(&s, &v2());
    s.apply(Action::UpdatePlanned(plan));
    let o = s.update_offer().unwrap();
    assert!(o.enabled, "{o:?}");
    assert!(
        o.sentence
            .starts_with("Writes Garden Sensor 1.1.0 into app1 and boots it next."),
        "{}",
        o.sentence
    );
    assert!(s.update_to_run().is_some());
    // Busy: nothing to click.
    s.apply(Action::JobStarted(JobKind::Update, "updating".into()));
    assert!(!s.update_offer().unwrap().enabled);
    assert!(s.writing(), "an update writes: leaving asks first");
}

#[test]
fn green_only_when_confirmed_running() {
    for (verdict, tone) in [
        (Verdict::Running, Tone::Done),
        (Verdict::Unconfirmed, Tone::Warning),
        (Verdict::NotRunning, Tone::Error),
    ] {
        let mut s = connected();
        s.apply(Action::JobStarted(JobKind::Update, "updating".into()));
        s.apply(Action::UpdateFinished(verdict, "words".into()));
        assert_eq!(s.status.as_ref().unwrap().tone, tone, "{verdict:?}");
        assert!(!s.busy());
        // The plan made again afterwards ("already") keeps the result in view.
        let mut already = plan_for(&s, &v2());
        already.decision = crate::formats::update::Decision::Already {
            slot: s.table().unwrap().find("app1").unwrap().clone(),
        };
        already.sentence = "Already up to date".into();
        s.apply(Action::UpdatePlanned(already.clone()));
        assert_eq!(s.status.as_ref().unwrap().text, "words");
        // On a fresh connect, "already" is the news.
        let mut fresh = connected();
        fresh.apply(Action::UpdatePlanned(already));
        assert_eq!(fresh.status.as_ref().unwrap().text, "Already up to date");
        assert_eq!(fresh.status.as_ref().unwrap().tone, Tone::Done);
    }
}

#[test]
fn write_only_is_amber_and_says_what_still_boots() {
    let mut s = connected();
    let p = s.table().unwrap().find("app1").unwrap().clone();
    let bytes = demo::app_image(crate::chips::ESP32, Some(("x", "2")), 100);
    s.apply(Action::JobStarted(JobKind::Flash, "flashing app1".into()));
    let slot = judge(&bytes, board().target(), p.offset, Some(p.size));
    let report = crate::loader::WriteReport {
        bytes: bytes.len() as u64,
        written: bytes.len() as u64,
        md5: md5(&bytes),
        verified: true,
        ..Default::default()
    };
    s.apply(Action::SlotWritten {
        partition: p.clone(),
        slot: slot.clone(),
        report,
        file: "x.bin".into(),
        boot_next: false,
    });
    let st = s.status.clone().unwrap();
    assert_eq!(st.tone, Tone::Warning);
    assert!(st.text.contains("app0 still boots"), "{}", st.text);
    // Flash and boot: half-way is not green, and the job goes on.
    s.apply(Action::JobStarted(JobKind::Flash, "flashing app1".into()));
    s.apply(Action::SlotWritten {
        partition: p,
        slot,
        report,
        file: "x.bin".into(),
        boot_next: true,
    });
    assert_eq!(s.status.as_ref().unwrap().tone, Tone::Working);
    assert!(s.busy());
}

#[test]
fn a_lost_link_ends_board_actions_and_says_a_cut_write() {
    let mut s = connected();
    s.apply(Action::FirmwareResolved(v2()));
    s.apply(Action::JobStarted(JobKind::Update, "writing app1".into()));
    s.apply(Action::LinkLost(
        "the WebSocket bridge closed the link".into(),
    ));
    assert!(!s.connected() && !s.busy());
    let st = s.status.clone().unwrap();
    assert_eq!(st.tone, Tone::Error);
    assert!(
        st.text.contains("The link to the board was lost")
            && st.text.contains("not known until it is read back")
            && st.text.contains("booted app0"),
        "{}",
        st.text
    );
    assert!(s.firmware.is_some(), "the firmware stays loaded");
    assert!(!s.update_offer().unwrap().enabled);
}

#[test]
fn the_firmware_app_offered_to_the_flash_panel_goes_with_other_firmware() {
    let mut s = connected();
    s.apply(Action::ImageOffered(
        "garden.bin".into(),
        v2().parts[0].bytes.to_vec(),
    ));
    assert!(s.image.is_some() && s.image_offered);
    s.apply(Action::FirmwareLoading("other.json".into()));
    assert!(
        s.image.is_none(),
        "the old firmware's app is not left picked"
    );
    // A file picked by hand stays.
    s.apply(Action::ImagePicked(
        "mine.bin".into(),
        v2().parts[0].bytes.to_vec(),
    ));
    s.apply(Action::FirmwareFailed(
        crate::page::FirmwareStage::Manifest,
        "HTTP 404".into(),
    ));
    assert_eq!(s.image.as_ref().unwrap().name, "mine.bin");
}

#[test]
fn a_failure_keeps_its_kind_and_hints_where_its_job_was_asked_for() {
    use crate::loader::{Error, FailKind, Hint, NoAnswer, Refusal, Via};
    let mut s = connected();
    s.apply(Action::FirmwareResolved(v2()));
    let plan = plan_for(&s, &v2());
    s.apply(Action::UpdatePlanned(plan));
    s.apply(Action::JobStarted(JobKind::Update, "updating".into()));
    s.apply(Action::UpdateStopped(Failure::of(
        &Error::NoAnswer(NoAnswer::MidWrite),
        Via::Network,
    )));
    let f = s.failed.clone().unwrap();
    assert_eq!((f.job, f.failure.kind), (JobKind::Update, FailKind::Board));
    assert_eq!(
        f.failure.hints,
        vec![Hint::PowerAndCable, Hint::BridgeRunning]
    );
    let done = s.finished.clone().unwrap();
    assert_eq!(done.verdict, Verdict::NotRunning);
    assert_eq!(done.hints, f.failure.hints);
    // The board could not be read again: no plan, and the offer says why instead of waiting.
    s.apply(Action::JobStarted(JobKind::ReadLayout, "reading".into()));
    assert!(s.failed.is_none(), "a new job clears the last failure");
    s.apply(Action::JobDone(Err(Failure::of(
        &Error::Timeout("no answer to READ_FLASH within 3.0 s".into()),
        Via::Serial(None),
    ))));
    assert_eq!(s.status.as_ref().unwrap().tone, Tone::Error);
    assert!(s
        .update_offer()
        .unwrap()
        .sentence
        .contains("could not be read"));
    // A refusal from the device layer: its own kind and hint.
    s.apply(Action::JobStarted(JobKind::Erase, "erasing".into()));
    s.apply(Action::JobDone(Err(Failure::of(
        &Error::Refused(Refusal::Unaligned {
            offset: 0x9001,
            size: 0x1000,
        }),
        Via::Serial(None),
    ))));
    let f = s.failed.clone().unwrap();
    assert_eq!((f.job, f.failure.kind), (JobKind::Erase, FailKind::Refused));
    assert_eq!(f.failure.hints, vec![Hint::WholeSectors]);
    // Another job busy: a refusal to start is said, the running job goes on.
    s.apply(Action::JobStarted(JobKind::Flash, "flashing app1".into()));
    s.apply(Action::Refused(Failure::refused(
        "another job has the board",
    )));
    assert!(s.busy());
}
