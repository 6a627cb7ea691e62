use super::*;
use crate::formats::bootable::Slots;
use crate::sim::demo;

fn fw(name: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/firmware");
    std::fs::read(dir.join(name)).unwrap()
}

/// The table the example build brings (nvs, otadata, app0, app1, eeprom, spiffs).
fn arduino_table() -> PartitionTable {
    PartitionTable::parse(&fw("arduino_partitions_default.bin")).unwrap()
}

/// What a plan decided, without the parts' bytes.
fn said(p: &UpdatePlan) -> String {
    format!("{} / {:?}", p.sentence, p.detail)
}

fn install_board(current: Option<&PartitionTable>) -> install::Board<'_> {
    install::Board {
        chip: crate::chips::ESP32,
        revision: Some(301),
        flash_size: 4 << 20,
        current,
        table_offset: 0x8000,
        bootloader: None,
        secure_boot: Default::default(),
        unreadable: false,
    }
}

/// The example manifest's ESP32 build, named.
fn manifest_build() -> Build {
    Build {
        name: Some("Start Counter".into()),
        version: Some("1.2.4".into()),
        parts: vec![
            Part::new(
                "bootloader.bin",
                0x1000,
                fw("arduino_bootloader_dio_40m.bin"),
            ),
            Part::new(
                "partitions.bin",
                0x8000,
                fw("arduino_partitions_default.bin"),
            ),
            Part::new("boot_app0.bin", 0xE000, fw("arduino_boot_app0.bin")),
            Part::new("app.bin", 0x10000, fw("arduino_StartCounter.ino.bin")),
        ],
        improv: None,
    }
}

fn nothing_matches(_: u32, _: u32) -> Option<[u8; 16]> {
    None
}

#[test]
fn same_table_with_ota_slots_is_a_slot_update_into_the_idle_slot() {
    let t = arduino_table();
    let slots = Slots::default();
    let app0 = t.find("app0").unwrap().clone();
    let board = Board {
        install: install_board(Some(&t)),
        running: Some(&app0),
        slots: &slots,
    };
    let p = decide(&manifest_build(), &board, &nothing_matches);
    let Decision::Slot { slot, previous, .. } = &p.decision else {
        panic!("{}", said(&p))
    };
    assert_eq!(
        (slot.name(), previous.as_ref().unwrap().name()),
        ("app1".into(), "app0".into())
    );
    assert!(
        p.sentence.starts_with("Writes Start Counter 1.2.4 into app1 and boots it next. Keeps your settings (nvs), your data (eeprom, spiffs) and the app in app0 as a fallback."),
        "{}",
        p.sentence
    );
    assert!(p.ready() && p.needs_yes().is_empty());
    // Running app1, the next one is app0.
    let app1 = t.find("app1").unwrap().clone();
    let board = Board {
        running: Some(&app1),
        ..board
    };
    let p = decide(&manifest_build(), &board, &nothing_matches);
    assert!(matches!(&p.decision, Decision::Slot { slot, .. } if slot.name() == "app0"));
}

#[test]
fn the_running_app_and_the_other_parts_on_the_board_mean_already() {
    let t = arduino_table();
    let slots = Slots::default();
    let app1 = t.find("app1").unwrap().clone();
    let board = Board {
        install: install_board(Some(&t)),
        running: Some(&app1),
        slots: &slots,
    };
    let build = manifest_build();
    let regions = md5_regions(&build, &board);
    assert_eq!(regions[0], (app1.offset, build.parts[3].bytes.len() as u32));
    assert!(
        regions.iter().all(|(o, _)| *o != 0xE000),
        "otadata is not compared"
    );
    let all: Vec<(u32, [u8; 16])> = build
        .parts
        .iter()
        .map(|p| (p.offset, md5(&p.bytes)))
        .collect();
    // The app runs from app1 (a slot update made it so); the bootloader and table match.
    let md5_at = |o: u32, _| {
        let o = if o == app1.offset { 0x10000 } else { o };
        all.iter().find(|(a, _)| *a == o).map(|(_, m)| *m)
    };
    let p = decide(&build, &board, &md5_at);
    assert!(p.is_already(), "{}", said(&p));
    assert_eq!(
        p.sentence,
        "Already up to date: Start Counter 1.2.4 runs from app1. Nothing to write."
    );
    // Another bootloader on the board: still "already" (an update would not write it), and said.
    let md5_at = |o: u32, l| (o != 0x1000).then(|| md5_at(o, l)).flatten();
    let p = decide(&build, &board, &md5_at);
    assert!(p.is_already(), "{}", said(&p));
    assert!(
        p.detail
            .iter()
            .any(|d| d.contains("bootloader") && d.contains("never writes it")),
        "{}",
        said(&p)
    );
}

#[test]
fn another_table_is_a_full_install_that_names_what_is_lost() {
    // The demo board: spiffs and coredump where the build has eeprom and spiffs.
    let board_table = PartitionTable::from_csv(demo::ARDUINO_DEFAULT_CSV, 0x8000).unwrap();
    let slots = Slots::default();
    let board = Board {
        install: install_board(Some(&board_table)),
        running: board_table.find("app0"),
        slots: &slots,
    };
    let p = decide(&manifest_build(), &board, &nothing_matches);
    let Decision::Install { plan, erase } = &p.decision else {
        panic!("{}", said(&p))
    };
    assert!(*erase && plan.layout_changes);
    assert!(
        p.sentence.starts_with("A full install of Start Counter 1.2.4: the build's partition table differs from the board's, so its 4 parts are written after erasing the whole flash. Loses "),
        "{}",
        p.sentence
    );
    assert!(p.sentence.contains("nvs"), "{}", p.sentence);
    assert!(!p.needs_yes().is_empty(), "losses need a yes");
}

#[test]
fn a_lone_app_goes_into_a_slot_or_the_first_app_partition() {
    let app = demo::app_image(crate::chips::ESP32, Some(("garden", "2.0")), 50_000);
    let build = Build::app_image("garden.bin", app.clone());
    assert_eq!(build.label(), "garden 2.0");
    let t = arduino_table();
    let slots = Slots::default();
    let board = Board {
        install: install_board(Some(&t)),
        running: t.find("app0"),
        slots: &slots,
    };
    assert!(matches!(
        decide(&build, &board, &nothing_matches).decision,
        Decision::Slot { .. }
    ));
    // A factory-only board: the app is installed into the factory partition.
    let factory = PartitionTable::from_csv(
        "nvs,data,nvs,0x9000,0x6000\nphy_init,data,phy,0xf000,0x1000\nfactory,app,factory,0x10000,0x100000\n",
        0x8000,
    )
    .unwrap();
    let board = Board {
        install: install_board(Some(&factory)),
        running: factory.find("factory"),
        slots: &slots,
    };
    let p = decide(&build, &board, &nothing_matches);
    let Decision::Install { plan, erase } = &p.decision else {
        panic!("{}", said(&p))
    };
    assert!(!erase);
    assert_eq!(plan.parts[0].offset, 0x10000);
    assert!(
        p.sentence.contains("the board has no OTA slots"),
        "{}",
        p.sentence
    );
}

#[test]
fn an_app_for_another_chip_is_refused_before_anything_is_written() {
    let s3 = demo::app_image(
        crate::chips::Chip::by_name("esp32s3").unwrap(),
        Some(("garden", "2.0")),
        50_000,
    );
    let t = arduino_table();
    let slots = Slots::default();
    let board = Board {
        install: install_board(Some(&t)),
        running: t.find("app0"),
        slots: &slots,
    };
    let p = decide(
        &Build::app_image("garden.bin", s3),
        &board,
        &nothing_matches,
    );
    assert!(!p.ready(), "{}", said(&p));
    assert!(
        p.sentence.contains("cannot go onto this board"),
        "{}",
        p.sentence
    );
    assert!(p.sentence.contains("ESP32-S3"), "{}", p.sentence);
}

/// `erase-first` (ESP Web Tools' attribute): a full install after erasing the whole flash even
/// where a slot update would do, and what that loses is said (NVS with its settings).
#[test]
fn erase_first_is_a_full_install_with_erase_that_names_what_is_lost() {
    let t = arduino_table();
    let slots = Slots::default();
    let app0 = t.find("app0").unwrap().clone();
    let board = Board {
        install: install_board(Some(&t)),
        running: Some(&app0),
        slots: &slots,
    };
    let p = decide_erase_first(&manifest_build(), &board);
    let Decision::Install { erase, .. } = &p.decision else {
        panic!("{}", said(&p));
    };
    assert!(*erase, "{}", said(&p));
    assert!(
        p.sentence
            .contains("erases the whole flash before installing")
            && p.sentence.contains("after erasing the whole flash"),
        "{}",
        said(&p)
    );
    assert!(!p.needs_yes().is_empty(), "{}", said(&p));
    assert!(p.sentence.contains("nvs"), "{}", said(&p));
}
