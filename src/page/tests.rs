//! The page state, action by action: each defect a technician hit, pinned.

use super::*;
use crate::formats::bootable::Holds;
use crate::formats::bootable::{judge, ImageProblem};
use crate::sim::demo;

pub(super) fn board() -> BoardInfo {
    BoardInfo {
        chip: crate::chips::ESP32,
        description: "ESP32-D0WD-V3 (revision v3.1)".into(),
        mac: "24:0a:c4:0e:51:4d".into(),
        revision: 301,
        flash_size: 4 << 20,
        stub: true,
        baud: 921_600,
        security: Default::default(),
        identity_read: true,
        flash_detected: true,
    }
}

/// A snapshot of the demo flash as the device layer would read it (headers only).
pub(super) fn snapshot(flash: &[u8]) -> Snapshot {
    let t = PartitionTable::from_flash(flash, 0x8000).unwrap();
    let od = Otadata::from_flash(flash, &t).unwrap();
    let mut slots = Slots::default();
    for p in t.entries.iter().filter(|p| p.is_app()) {
        let mut s = judge(
            &flash[p.offset as usize..(p.offset + p.size) as usize],
            board().target(),
            p.offset,
            Some(p.size),
        );
        // Headers only: the body was not read.
        if s.problems.is_empty() {
            s.coverage = crate::formats::bootable::Coverage::Headers;
        }
        slots.set(p, s);
    }
    Snapshot {
        table: Ok(t),
        otadata: Some(od),
        slots,
        bootloader: crate::formats::image::Header::parse(&flash[0x1000..]),
    }
}

pub(super) fn connected() -> PageState {
    let mut s = PageState::default();
    s.apply(Action::Connecting);
    s.apply(Action::Connected(board()));
    s.apply(Action::Layout(snapshot(&demo::arduino_like_flash(
        crate::chips::ESP32,
    ))));
    s
}

fn app() -> Vec<u8> {
    demo::app_image(crate::chips::ESP32, Some(("x", "1")), 100)
}

fn write(s: &mut PageState, label: &str, bytes: &[u8], name: &str) {
    let p = s.table().unwrap().find(label).unwrap().clone();
    s.apply(Action::JobStarted(
        JobKind::Flash,
        format!("flashing {label}"),
    ));
    s.apply(Action::SlotWriting(p.clone()));
    let slot = judge(bytes, board().target(), p.offset, Some(p.size));
    s.apply(Action::SlotWritten {
        partition: p,
        slot,
        report: WriteReport {
            bytes: bytes.len() as u64,
            written: bytes.len() as u64,
            md5: md5(bytes),
            verified: true,
            ..Default::default()
        },
        file: name.into(),
        boot_next: false,
    });
}

#[test]
fn connect_layout_and_default_target() {
    let s = connected();
    assert_eq!(s.booted().as_deref(), Some("app0"));
    assert_eq!(
        s.target.as_deref(),
        Some("app1"),
        "the OTA slot not booting"
    );
    assert!(!s.can_flash(), "no image yet");
    let t = s.table().unwrap();
    assert_eq!(
        s.slots.get(t.find("app1").unwrap()).unwrap().holds(),
        Holds::Empty
    );
    // app0's body was not read: it boots "if its image is intact".
    assert!(!s.boot().unwrap().certain());
}

#[test]
fn image_checks_gate_the_flash_button() {
    let mut s = connected();
    s.apply(Action::ImagePicked("app.bin".into(), app()));
    assert!(s.image_problems().is_empty(), "{:?}", s.image_problems());
    assert!(s.can_flash());
    s.apply(Action::ImagePicked("notes.txt".into(), b"hello".to_vec()));
    let p = s.image_problems();
    assert!(
        matches!(&p[0], Refusal::NotAnImage(m) if m.starts_with("This is a text file, not a firmware image")),
        "{p:?}"
    );
    assert!(!s.can_flash());
    s.apply(Action::ImagePicked(
        "bootloader.bin".into(),
        demo::bootloader_like(crate::chips::ESP32, 100),
    ));
    assert!(s
        .image_problems()
        .contains(&Refusal::Image(vec![ImageProblem::NotAnApp])));
    // An app without an app description (older Arduino cores) is still an app.
    s.apply(Action::ImagePicked(
        "old-arduino.bin".into(),
        demo::app_image(crate::chips::ESP32, None, 100),
    ));
    assert!(s.image_problems().is_empty(), "{:?}", s.image_problems());
    s.apply(Action::ImagePicked("big.bin".into(), {
        let mut b = app();
        b.resize(0x150000, 0);
        b
    }));
    assert!(matches!(
        &s.image_problems()[0],
        Refusal::Image(p) if matches!(p[..], [ImageProblem::TooBigForSlot(_)])
    ));
    assert_eq!(s.image_problems()[0].hints(), vec![Hint::BiggerSlot]);
    // An image for a newer chip revision than this v3.1 chip.
    let mut newer = app();
    newer[15..17].copy_from_slice(&302u16.to_le_bytes());
    s.apply(Action::ImagePicked("newer.bin".into(), newer));
    assert_eq!(
        s.image_problems()[0],
        Refusal::Image(vec![ImageProblem::ChipTooOld {
            min: 302,
            chip_rev: 301
        }])
    );
    s.apply(Action::ImagePicked("app.bin".into(), app()));
    s.apply(Action::SetTarget("app0".into()));
    assert_eq!(s.image_problems(), vec![Refusal::BootsNow("app0".into())]);
}

#[test]
fn a_file_picked_while_writing_is_refused_and_boot_next_follows_what_was_verified() {
    let mut s = connected();
    s.apply(Action::ImagePicked("first.bin".into(), app()));
    s.apply(Action::JobStarted(JobKind::Flash, "flashing app1".into()));
    assert!(s.writing());
    s.apply(Action::ImagePicked(
        "second.bin".into(),
        demo::app_image(crate::chips::ESP32, Some(("y", "2")), 99),
    ));
    assert_eq!(
        s.image.as_ref().unwrap().name,
        "first.bin",
        "locked while writing"
    );
    assert_eq!(s.status.as_ref().unwrap().tone, Tone::Warning);
    s.apply(Action::SetTarget("app0".into()));
    assert_eq!(
        s.target.as_deref(),
        Some("app1"),
        "the target is locked too"
    );
    let p = s.table().unwrap().find("app1").unwrap().clone();
    s.apply(Action::SlotWritten {
        partition: p.clone(),
        slot: judge(&app(), board().target(), p.offset, Some(p.size)),
        report: WriteReport {
            bytes: 300,
            written: 300,
            md5: md5(&app()),
            verified: true,
            ..Default::default()
        },
        file: "first.bin".into(),
        boot_next: false,
    });
    assert_eq!(s.boot_next_offer(), Some(p.clone()));
    assert_eq!(s.written_to(&p).unwrap().file, "first.bin");
    // Another file picked afterwards: "boot next" still names what is in the slot.
    s.apply(Action::ImagePicked(
        "second.bin".into(),
        demo::app_image(crate::chips::ESP32, Some(("y", "2")), 99),
    ));
    assert_eq!(s.boot_next_offer(), Some(p.clone()));
    assert_eq!(s.written_to(&p).unwrap().file, "first.bin");
    // A re-flash that is cancelled: the slot is unknown again, no boot-next.
    s.apply(Action::JobStarted(JobKind::Flash, "flashing app1".into()));
    s.apply(Action::SlotWriting(p.clone()));
    s.apply(Action::JobDone(Ok("cancelled".into())));
    assert_eq!(s.boot_next_offer(), None);
    assert_eq!(s.slots.loads(&p), Loads::Unknown);
}

#[test]
fn after_boot_next_the_target_moves_to_the_other_slot() {
    let mut s = connected();
    write(&mut s, "app1", &app(), "app.bin");
    let t = s.table().unwrap().clone();
    let od = crate::formats::otadata::set_boot(
        &t,
        s.otadata.as_ref().unwrap(),
        "app1",
        crate::formats::otadata::OtaState::Undefined,
    )
    .unwrap();
    s.apply(Action::Otadata(od, vec![]));
    assert_eq!(s.booted().as_deref(), Some("app1"));
    assert_eq!(
        s.target.as_deref(),
        Some("app0"),
        "the update target is the other slot"
    );
    assert!(
        s.boot().unwrap().certain(),
        "app1 was written and verified here"
    );
}

#[test]
fn an_erased_selected_slot_is_not_what_boots() {
    let mut s = connected();
    let t = s.table().unwrap().clone();
    // otadata selects app1, which is empty: app0 boots.
    let od = crate::formats::otadata::set_boot(
        &t,
        s.otadata.as_ref().unwrap(),
        "app1",
        crate::formats::otadata::OtaState::Undefined,
    )
    .unwrap();
    s.apply(Action::Otadata(od, vec![]));
    let b = s.boot().unwrap();
    assert_eq!(b.selected_partition(&t).unwrap().name(), "app1");
    assert_eq!(s.booted().as_deref(), Some("app0"));
    assert_eq!(b.fallback_reason(&t).unwrap(), "app1 is empty → app0 boots");
    // Writing app1 now makes it boot at the next reset: said before the write.
    assert_eq!(s.target.as_deref(), Some("app1"));
    let n = s.flash_notice().unwrap();
    assert!(
        n.contains("otadata already selects app1") && n.contains("app1 is empty → app0 boots"),
        "{n}"
    );
    s.apply(Action::SetTarget("app0".into()));
    assert_eq!(s.flash_notice(), None);
}

#[test]
fn status_always_describes_the_current_state() {
    let mut s = connected();
    s.apply(Action::ImagePicked("app.bin".into(), app()));
    s.apply(Action::ImageLoading("firmware/manifest.json".into()));
    assert!(s.image.is_none(), "the previous image is no longer picked");
    s.apply(Action::ImageFailed("manifest: HTTP 404".into()));
    assert!(s.image.is_none() && !s.can_flash());
    assert_eq!(s.status.as_ref().unwrap().tone, Tone::Error);
    s.apply(Action::ImagePicked("good.bin".into(), app()));
    assert_eq!(
        s.status.as_ref().unwrap().tone,
        Tone::Info,
        "the red error is gone"
    );
    // A table that is not there: no "layout read" beside it.
    s.apply(Action::SetTableOffset(0x9000));
    s.apply(Action::Layout(Snapshot {
        table: Err(TableProblem::Invalid {
            offset: 0x9000,
            why: "x".into(),
        }),
        otadata: None,
        slots: Slots::default(),
        bootloader: None,
    }));
    let st = s.status.clone().unwrap();
    assert_eq!(st.tone, Tone::Warning);
    assert!(st.text.contains("no partition table at 0x9000"), "{st:?}");
    assert!(s.table_problem().is_some() && s.table().is_none());
}

#[test]
fn one_timeline_of_log_and_console() {
    let mut s = PageState::default();
    s.apply(Action::Log {
        clock: "10:00:00.000".into(),
        text: "connecting".into(),
    });
    s.apply(Action::Console {
        clock: "10:00:00.100".into(),
        text: "ets Jun  8 2016\r\nrst:0x1".into(),
    });
    s.apply(Action::Console {
        clock: "10:00:00.150".into(),
        text: " (POWERON)\r\n".into(),
    });
    s.apply(Action::Log {
        clock: "10:00:00.200".into(),
        text: "stub running".into(),
    });
    s.apply(Action::Console {
        clock: "10:00:00.300".into(),
        text: "I (29) boot\n".into(),
    });
    assert_eq!(
        s.log.text(),
        "10:00:00.000 [otaflash] connecting\n\
         10:00:00.100 [device]   ets Jun  8 2016\n\
         10:00:00.100 [device]   rst:0x1 (POWERON)\n\
         10:00:00.200 [otaflash] stub running\n\
         10:00:00.300 [device]   I (29) boot\n"
    );
    s.apply(Action::ClearLog);
    assert!(s.log.is_empty());
}

#[test]
fn verified_then_disconnect() {
    let mut s = connected();
    write(&mut s, "app1", &app(), "app.bin");
    s.apply(Action::Disconnected);
    assert!(!s.connected() && s.table.is_none() && s.written.is_empty());
    assert!(
        s.slots.is_empty(),
        "nothing is known of a board not connected"
    );
}

#[test]
fn undo_point_is_the_first_read() {
    let mut s = connected();
    let first = s.otadata_at_connect.clone();
    let mut snap = snapshot(&demo::arduino_like_flash(crate::chips::ESP32));
    snap.otadata = Some(Otadata::blank());
    s.apply(Action::Layout(snap));
    assert_eq!(s.otadata_at_connect, first);
    assert_eq!(s.otadata, Some(Otadata::blank()));
}

/// The bridge URL says what the frames carry; anything else is refused in words.
#[test]
fn bridge_urls() {
    use WsSpeaks::*;
    assert_eq!(
        WsSpeaks::of("ws://10.0.0.2:5556"),
        Ok((Raw, "ws://10.0.0.2:5556"))
    );
    assert_eq!(
        WsSpeaks::of(" rfc2217+wss://bridge.lan/ttyUSB0 "),
        Ok((Rfc2217, "wss://bridge.lan/ttyUSB0"))
    );
    for bad in ["http://x", "rfc2217://x:1", "ws://", "rfc2217+tcp://x", ""] {
        let e = WsSpeaks::of(bad).unwrap_err();
        assert!(e.contains("rfc2217+ws://HOST:PORT"), "{e}");
    }
}
