use super::*;
use crate::sim::demo;

fn fw(name: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/firmware");
    std::fs::read(dir.join(name)).unwrap()
}

fn board(current: Option<&PartitionTable>) -> Board<'_> {
    Board {
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

/// The manifest's ESP32 build: Arduino bootloader, table, boot_app0, StartCounter.
fn arduino_build() -> Vec<Part> {
    vec![
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
    ]
}

#[test]
fn kinds_and_default_offsets() {
    let kinds: Vec<PartKind> = arduino_build().iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [
            PartKind::Bootloader,
            PartKind::PartitionTable,
            PartKind::Otadata,
            PartKind::App
        ]
    );
    let t = PartitionTable::parse(&fw("arduino_partitions_default.bin")).unwrap();
    for p in arduino_build() {
        assert_eq!(
            default_offset(
                p.kind,
                &p.bytes,
                Some(crate::chips::ESP32),
                Some(&t),
                0x8000
            ),
            Some(p.offset),
            "{}",
            p.name
        );
    }
    assert_eq!(
        PartKind::of(&demo::arduino_like_flash(crate::chips::ESP32)),
        PartKind::FlashImage
    );
    assert_eq!(PartKind::of(b"nvs data"), PartKind::Data);
}

#[test]
fn a_blank_board_takes_a_whole_build() {
    let p = plan(arduino_build(), &board(None), PlanOptions::default());
    assert!(p.ready(), "{:?}", p.blockers);
    assert!(p.cautions.is_empty(), "{:?}", p.cautions);
    assert_eq!(p.table.unwrap().find("app0").unwrap().offset, 0x10000);
    // Without a bootloader, a blank board boots nothing: that stops it, unless overridden on
    // purpose — then it is said, and needs a yes.
    let mut parts = arduino_build();
    parts.remove(0);
    let p = plan(parts.clone(), &board(None), PlanOptions::default());
    assert!(matches!(p.blockers[0], Blocker::NothingBoots(ref w) if w.contains("no bootloader")));
    assert!(p.blockers[0]
        .message()
        .starts_with("after this, nothing would boot: no bootloader is installed at 0x1000"));
    let p = plan(
        parts,
        &board(None),
        PlanOptions {
            nothing_boots_ok: true,
            ..Default::default()
        },
    );
    assert!(p.ready());
    assert!(matches!(p.cautions[0], Caution::NothingBoots(ref w) if w.contains("no bootloader")));
    // A table and bootloader but no app, over an erased flash: nothing boots either.
    let mut parts = arduino_build();
    parts.remove(3);
    let t = PartitionTable::from_csv(crate::sim::demo::ARDUINO_DEFAULT_CSV, 0x8000).unwrap();
    let erase = PlanOptions {
        erase_all: true,
        ..Default::default()
    };
    let p = plan(parts, &board(Some(&t)), erase);
    assert!(
        p.blockers.iter().any(
            |b| matches!(b, Blocker::NothingBoots(w) if w == "no app is installed into the app partitions")
        ),
        "{:?}",
        p.blockers
    );
}

/// A file that is no firmware image where the chip runs code from is refused before anything
/// is written: a 37-byte text file at 0x10000, over the only app, and one at the bootloader's
/// place.
#[test]
fn no_image_where_code_must_be() {
    let t = PartitionTable::from_csv(crate::sim::demo::ARDUINO_DEFAULT_CSV, 0x8000).unwrap();
    let text = b"hello, this is not a firmware image!\n".to_vec();
    assert_eq!(text.len(), 37);
    let p = plan(
        vec![Part::new("notes.txt", 0x10000, text.clone())],
        &board(Some(&t)),
        PlanOptions::default(),
    );
    assert!(!p.ready());
    assert_eq!(
        p.blockers[0].message(),
        "notes.txt (37 bytes) is no firmware image, but it would go into app partition 'app0': the chip would not start from it"
    );
    let p = plan(
        vec![Part::new("notes.txt", 0x1000, text.clone())],
        &board(Some(&t)),
        PlanOptions::default(),
    );
    assert!(
        matches!(&p.blockers[0], Blocker::NotAnImage { place, .. } if place == "the bootloader's place (0x1000)")
    );
    // Data where data goes (NVS) is fine.
    let p = plan(
        vec![Part::new("nvs.bin", 0x9000, text)],
        &board(Some(&t)),
        PlanOptions::default(),
    );
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
}

#[test]
fn refusals() {
    let b = board(None);
    // Overlap: the app written over the table's sector.
    let mut parts = arduino_build();
    parts[3].offset = 0x8000;
    let p = plan(parts, &b, PlanOptions::default());
    assert!(
        p.blockers
            .iter()
            .any(|x| matches!(x, Blocker::Overlap { .. })),
        "{:?}",
        p.blockers
    );
    // Past the end of the flash, and not at a sector start.
    let p = plan(
        vec![Part::new("x.bin", 0x3FF000, vec![1; 0x2000])],
        &b,
        PlanOptions::default(),
    );
    assert!(matches!(
        p.blockers[0],
        Blocker::PastEnd { end: 0x401000, .. }
    ));
    let p = plan(
        vec![Part::new("x.bin", 0x9010, vec![1; 16])],
        &b,
        PlanOptions::default(),
    );
    assert!(matches!(
        p.blockers[0],
        Blocker::Unaligned { offset: 0x9010, .. }
    ));
    // An app for another chip, and one too big for its slot under the table written.
    let mut parts = arduino_build();
    parts[3] = Part::new(
        "s3.bin",
        0x10000,
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/app_images/esptool_test_images/helloworld-esp32s3.bin"),
        )
        .unwrap(),
    );
    let p = plan(parts, &b, PlanOptions::default());
    assert!(
        p.blockers
            .iter()
            .any(|x| x.message().contains("built for ESP32-S3")),
        "{:?}",
        p.blockers
    );
    let small = PartitionTable::from_csv(
        "nvs,data,nvs,0x9000,0x5000\notadata,data,ota,0xe000,0x2000\napp0,app,ota_0,0x10000,0x10000\napp1,app,ota_1,0x20000,0x10000\n",
        0x8000,
    )
    .unwrap();
    let mut parts = arduino_build();
    parts[1] = Part::new("small.bin", 0x8000, small.to_bytes().unwrap());
    let p = plan(parts, &b, PlanOptions::default());
    assert!(
        p.blockers
            .iter()
            .any(|x| matches!(x, Blocker::BadImage { problems, .. }
                if matches!(&problems[..], [ImageProblem::TooBigForSlot(t)] if t.label.as_deref() == Some("app0")))),
        "{:?}",
        p.blockers
    );
    // A table whose partition runs past the flash.
    let big = PartitionTable::from_csv("app0,app,ota_0,0x10000,0x400000\n", 0x8000).unwrap();
    let p = plan(
        vec![Part::new("big.bin", 0x8000, big.to_bytes().unwrap())],
        &b,
        PlanOptions::default(),
    );
    assert!(p
        .blockers
        .iter()
        .any(|x| x.message().contains("past the end of the 4 MB flash")));
}

#[test]
fn bootloader_flash_size_is_checked_and_fitted_as_esptool_does() {
    // The IDF v5.2.2 bootloader says 2 MB: with the 4 MB Arduino table it would reject app1.
    let mut parts = arduino_build();
    parts[0] = Part::new("bootloader.bin", 0x1000, fw("idf-v5.2.2_bootloader.bin"));
    let p = plan(parts.clone(), &board(None), PlanOptions::default());
    let c = p
        .cautions
        .iter()
        .find(|c| matches!(c, Caution::BootloaderFlashSize { .. }))
        .unwrap();
    assert!(
        c.message()
            .contains("its header says a 2 MB flash, the chip has 4 MB"),
        "{}",
        c.message()
    );
    assert!(
        c.message().contains("(app1, eeprom, spiffs past 2 MB)"),
        "{}",
        c.message()
    );
    // Fitted: byte for byte what `esptool merge-bin --flash-size 4MB` made.
    let p = plan(
        parts,
        &board(None),
        PlanOptions {
            fit_bootloader: true,
            ..Default::default()
        },
    );
    assert!(p.cautions.is_empty(), "{:?}", p.cautions);
    assert_eq!(*p.parts[0].bytes, fw("idf-v5.2.2_bootloader_4MB.bin"));
    assert_eq!(p.notes.len(), 1);
}

#[test]
fn bootloader_flash_mode_and_frequency_are_checked() {
    // The board boots the Arduino bootloader: DIO at 40 MHz.
    let now = Header::parse(&fw("arduino_bootloader_dio_40m.bin")).unwrap();
    let b = Board {
        bootloader: Some(now),
        secure_boot: Default::default(),
        unreadable: false,
        ..board(None)
    };
    let cautions = |boot: Vec<u8>| {
        let mut parts = arduino_build();
        parts[0] = Part::new("bootloader.bin", 0x1000, boot);
        plan(parts, &b, PlanOptions::default()).cautions
    };
    // The same mode and frequency: nothing to say.
    assert!(cautions(fw("arduino_bootloader_dio_40m.bin")).is_empty());
    // As `esptool write-flash --flash-mode qio --flash-freq 80m` patches it.
    let mut qio = fw("arduino_bootloader_dio_40m.bin");
    qio[2] = 0;
    qio[3] = (qio[3] & 0xF0) | 0xF;
    let qio = with_flash_size(&qio, qio[3] >> 4);
    let c = cautions(qio.clone());
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(
        c[0].message(),
        "bootloader.bin: its header runs the flash in QIO at 80m; the bootloader on the board \
         now uses DIO at 40m. A flash that cannot do QIO at 80m does not boot it (the header \
         is written as it is)"
    );
    // Not patched: the header is written as it is.
    let mut parts = arduino_build();
    parts[0] = Part::new("bootloader.bin", 0x1000, qio.clone());
    assert_eq!(*plan(parts, &b, PlanOptions::default()).parts[0].bytes, qio);
    // A blank board: nothing to compare with.
    let blank = board(None);
    let mut parts = arduino_build();
    parts[0] = Part::new("bootloader.bin", 0x1000, qio);
    assert!(plan(parts, &blank, PlanOptions::default())
        .cautions
        .is_empty());
    // Codes no chip knows.
    let mut odd = fw("arduino_bootloader_dio_40m.bin");
    odd[2] = 7;
    let odd = with_flash_size(&odd, odd[3] >> 4);
    let c = cautions(odd);
    assert!(
        matches!(&c[..], [Caution::BootloaderUnknownFlash { what, .. }] if what == "flash mode code 7"),
        "{c:?}"
    );
    let mut odd = fw("arduino_bootloader_dio_40m.bin");
    odd[3] = (odd[3] & 0xF0) | 0x5;
    let odd = with_flash_size(&odd, odd[3] >> 4);
    assert_eq!(
        cautions(odd)[0].message(),
        "bootloader.bin: its header asks for flash frequency code 0x5, which this chip does \
         not know: it may not boot"
    );
}

#[test]
fn a_new_layout_says_which_data_is_lost() {
    let cur = PartitionTable::parse(&fw("arduino_partitions_default.bin")).unwrap();
    // Same layout: nothing lost (NVS is kept), no erase suggested.
    let p = plan(arduino_build(), &board(Some(&cur)), PlanOptions::default());
    assert!(
        p.cautions.is_empty() && !p.layout_changes,
        "{:?}",
        p.cautions
    );
    // A table that moves NVS and drops spiffs.
    let moved = PartitionTable::from_csv(
        "otadata,data,ota,0xe000,0x2000\napp0,app,ota_0,0x10000,0x140000\napp1,app,ota_1,0x150000,0x140000\nnvs,data,nvs,0x3f0000,0x5000\n",
        0x8000,
    )
    .unwrap();
    let mut parts = arduino_build();
    parts[1] = Part::new("moved.bin", 0x8000, moved.to_bytes().unwrap());
    let p = plan(parts, &board(Some(&cur)), PlanOptions::default());
    assert!(p.layout_changes);
    let msgs: Vec<String> = p.cautions.iter().map(Caution::message).collect();
    assert!(
        msgs.iter().any(|m| m.contains(
            "'nvs' (0x9000, 20 KB) is lost: the new partition table moves it to 0x3f0000"
        )),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("'spiffs'") && m.contains("has no such partition")),
        "{msgs:?}"
    );
    // A part written over NVS, and an erase first.
    let p = plan(
        vec![Part::new("nvs.bin", 0x9000, vec![0; 0x1000])],
        &board(Some(&cur)),
        PlanOptions::default(),
    );
    assert!(p
        .cautions
        .iter()
        .any(|c| c.message().contains("nvs.bin is written over it")));
    let p = plan(
        arduino_build(),
        &board(Some(&cur)),
        PlanOptions {
            erase_all: true,
            ..Default::default()
        },
    );
    assert!(p
        .cautions
        .iter()
        .any(|c| c.message().contains("the whole flash is erased first")));
}

#[test]
fn a_merged_image_is_checked_inside() {
    let merged = demo::arduino_like_flash(crate::chips::ESP32);
    let p = plan(
        vec![Part::new("flash.bin", 0, merged.clone())],
        &board(None),
        PlanOptions::default(),
    );
    assert!(
        p.ready() && p.cautions.is_empty(),
        "{:?} {:?}",
        p.blockers,
        p.cautions
    );
    assert_eq!(p.table.unwrap().entries.len(), 6);
    // Its app slot holding an image for another chip is refused.
    let mut bad = merged;
    bad[0x10000 + 12] = 9;
    let p = plan(
        vec![Part::new("flash.bin", 0, bad)],
        &board(None),
        PlanOptions::default(),
    );
    assert!(
        p.blockers
            .iter()
            .any(|b| b.message().starts_with("app0 in flash.bin")),
        "{:?}",
        p.blockers
    );
    // A merged image bigger than the flash.
    let p = plan(
        vec![Part::new("big.bin", 0, vec![0xFF; 8 << 20])],
        &board(None),
        PlanOptions::default(),
    );
    assert!(matches!(p.blockers[0], Blocker::PastEnd { .. }));
}

/// A board whose flash cannot be read: no "nothing will boot" guesses, one caution saying what
/// cannot be listed; encrypting on write goes by what each part is (as `idf.py
/// encrypted-flash`), and a whole flash image cannot be split that way.
#[test]
fn unreadable_boards_and_encryption_by_part() {
    let b = Board {
        unreadable: true,
        ..board(None)
    };
    let p = plan(
        vec![Part::new(
            "app.bin",
            0x10000,
            fw("arduino_StartCounter.ino.bin"),
        )],
        &b,
        PlanOptions::default(),
    );
    assert_eq!(p.cautions, [Caution::BoardUnreadable]);
    let opts = PlanOptions {
        written: Written::EncryptedByChip,
        ..PlanOptions::default()
    };
    let p = plan(arduino_build(), &board(None), opts);
    let how: Vec<Written> = p.parts.iter().map(|x| p.written_for(x)).collect();
    use Written::*;
    assert_eq!(
        how,
        [EncryptedByChip, EncryptedByChip, Plain, EncryptedByChip]
    );
    let merged = demo::arduino_like_flash(crate::chips::ESP32);
    let p = plan(vec![Part::new("merged.bin", 0, merged)], &board(None), opts);
    assert!(
        matches!(p.blockers[..], [Blocker::MixedImage(_)]),
        "{:?}",
        p.blockers
    );
}
