//! The device layer against the simulated ESP32 (real ESP-IDF bootloader, table and apps in its
//! flash), in virtual time: what each slot holds, what will boot (and the simulated bootloader
//! agreeing), writing a slot, switching otadata only to a slot that loads, rollback, power
//! cuts.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use otaflash::device::{judge_boot, Device};
use otaflash::formats::bootable::{Coverage, Holds, ImageProblem, Loads, Slots};
use otaflash::formats::md5;
use otaflash::formats::otadata::{predict_boot, OtaState, Otadata};
use otaflash::formats::partition::PartitionTable;
use otaflash::loader::stub::{StubImage, Stubs};
use otaflash::loader::{Error, Loader, OpenOptions, Refusal, Reset};
use otaflash::sim::{Esp32, SimPort, Timing};

fn opts() -> OpenOptions {
    OpenOptions {
        reset: Reset::Classic,
        attempts: 3,
        stubs: {
            StubImage::embedded(otaflash::chips::ESP32).expect("run scripts/setup.sh");
            Stubs::Embedded
        },
        baud: None,
    }
}

fn open(port: SimPort) -> Device<SimPort> {
    block_on(Device::open(Loader::new(port), &opts()))
        .unwrap_or_else(|f| panic!("open: {}", f.error))
}

fn table(d: &mut Device<SimPort>) -> PartitionTable {
    block_on(d.read_table(0x8000)).unwrap().unwrap()
}

fn hello() -> Vec<u8> {
    read("firmware/idf-v5.2.2_hello_world.bin")
}

/// What the simulated bootloader boots after a reset.
fn boots(d: Device<SimPort>) -> Option<String> {
    let mut port = d.into_loader().into_port();
    port.dev.reset(std::time::Duration::ZERO, false);
    port.dev.last_boot.clone().map(|b| b.0)
}

fn nothing_known() -> Slots {
    Slots::default()
}

#[test]
fn snapshot_says_what_each_slot_holds() {
    let mut d = open(port(Timing::REALISTIC));
    let snap = block_on(d.snapshot(0x8000)).unwrap();
    let t = snap.table.clone().unwrap();
    let app0 = snap.slots.get(t.find("app0").unwrap()).unwrap();
    assert_eq!(app0.holds(), Holds::App);
    assert_eq!(app0.coverage, Coverage::Headers);
    assert_eq!(app0.app.as_ref().unwrap().project_name, "hello_world");
    assert_eq!(app0.loads(), Loads::Unknown, "only the headers were read");
    let app1 = snap.slots.get(t.find("app1").unwrap()).unwrap();
    assert_eq!(app1.holds(), Holds::Empty);
    let boot = judge_boot(&t, snap.otadata.as_ref().unwrap(), false, &snap.slots);
    assert_eq!(boot.booted_partition(&t).unwrap().name(), "app0");
    assert!(!boot.certain(), "app0 boots if its image is intact");
    // Read whole, app0 is known to load.
    let whole = block_on(d.verify_slot(t.find("app0").unwrap())).unwrap();
    assert_eq!(whole.loads(), Loads::Yes);
    // A blank chip: said so, not "invalid".
    let mut blank = Esp32::new(
        vec![0xFF; FLASH_SIZE],
        otaflash::sim::Config::new(FLASH_SIZE as u32, Timing::NONE),
    );
    blank.reset(std::time::Duration::ZERO, true);
    let mut d = open(SimPort::new(blank));
    let snap = block_on(d.snapshot(0x8000)).unwrap();
    assert!(matches!(
        snap.table,
        Err(otaflash::device::TableProblem::Blank { offset: 0x8000 })
    ));
}

#[test]
fn flash_slot_then_boot_it() {
    let mut d = open(port(Timing::REALISTIC));
    let table = table(&mut d);
    let known = block_on(d.snapshot(0x8000)).unwrap().slots;
    block_on(async {
        // app0 boots now: refused unless forced.
        let e = d
            .write_slot(&table, "app0", &hello(), &known, false)
            .await
            .unwrap_err();
        assert_eq!(e, Error::Refused(Refusal::BootsNow("app0".into())));
        let w = d
            .write_slot(&table, "app1", &hello(), &known, false)
            .await
            .unwrap();
        assert_eq!(
            w.slot.loads(),
            Loads::Yes,
            "written and verified: known whole"
        );
        assert!(w.report.describe("app1").contains("verified"));
        let mut known = known.clone();
        known.set(&w.partition, w.slot);
        let s = d
            .set_boot(&table, "app1", OtaState::Undefined, &known, false)
            .await
            .unwrap();
        assert!(s.checked.is_empty(), "known: nothing had to be read again");
        assert_eq!(s.otadata.entry(0), s.otadata.entry(1), "matched sectors");
        let boot = judge_boot(&table, &s.otadata, false, &known);
        assert_eq!(boot.booted_partition(&table).unwrap().name(), "app1");
    });
    assert_eq!(boots(d).as_deref(), Some("app1"), "the bootloader agrees");
}

/// The same on an ESP32-C3 (its ROM, its stub, its real bootloader at 0x0): flash app1 with the
/// C3 hello_world, switch, and the simulated bootloader starts app1 after a reset; an ESP32
/// image is refused for it before anything is written.
#[test]
fn flash_slot_then_boot_it_on_an_esp32c3() {
    let c3 = otaflash::chips::Chip::by_name("esp32c3").unwrap();
    let mut cfg = otaflash::sim::Config::new(FLASH_SIZE as u32, Timing::REALISTIC);
    cfg.chip = c3;
    let mut dev = Esp32::new(c3_flash(), cfg);
    // It boots app0 before anything is done.
    dev.reset(std::time::Duration::ZERO, false);
    assert_eq!(dev.last_boot.as_ref().unwrap().0, "app0");
    let mut d = open(SimPort::new(dev));
    assert_eq!(d.chip.chip, c3);
    assert!(d.is_stub());
    let table = table(&mut d);
    let known = block_on(d.snapshot(0x8000)).unwrap().slots;
    let e = block_on(d.write_slot(&table, "app1", &hello(), &known, false)).unwrap_err();
    assert!(wrong_chip(&e), "{e:?}");
    assert!(e.to_string().contains("built for ESP32"), "{e}");
    let c3_hello = read("firmware/idf-v5.2.2_c3_hello_world.bin");
    let w = block_on(d.write_slot(&table, "app1", &c3_hello, &known, false)).unwrap();
    let mut known = known.clone();
    known.set(&w.partition, w.slot);
    block_on(d.set_boot(&table, "app1", OtaState::Undefined, &known, false)).unwrap();
    assert_eq!(boots(d).as_deref(), Some("app1"), "the bootloader agrees");
}

/// Every chip, with images esptool made for it (tests/common/images.rs): the simulated
/// bootloader starts app0 (`hello` 1.0) at first; an image built for another chip is refused for
/// app1 with nothing written; `hello` 2.0 for this chip is written to app1 and verified,
/// otadata switched, and after a reset the bootloader starts app1.
#[test]
fn flash_slot_then_boot_it_on_every_chip() {
    for name in images::CHIPS {
        let chip = otaflash::chips::Chip::by_name(name).unwrap();
        let mut cfg = otaflash::sim::Config::new(FLASH_SIZE as u32, Timing::REALISTIC);
        cfg.chip = chip;
        let mut dev = Esp32::new(images::chip_flash(name), cfg);
        dev.reset(std::time::Duration::ZERO, false);
        assert_eq!(dev.last_boot.as_ref().unwrap().0, "app0", "{name}");
        let mut d = open(SimPort::new(dev));
        assert_eq!(d.chip.chip, chip);
        assert!(d.is_stub(), "{name} runs its stub");
        let table = table(&mut d);
        let known = block_on(d.snapshot(0x8000)).unwrap().slots;
        let other = if name == "esp32c3" {
            "esp32s3"
        } else {
            "esp32c3"
        };
        let foreign = images::app(other, "hello", "2.0", 64);
        let before = block_on(d.loader().read_flash(0x150000, 0x1000)).unwrap();
        let e = block_on(d.write_slot(&table, "app1", &foreign, &known, false)).unwrap_err();
        assert!(wrong_chip(&e), "{name}: {e:?}");
        assert!(e.to_string().contains("built for ESP32-"), "{name}: {e}");
        let after = block_on(d.loader().read_flash(0x150000, 0x1000)).unwrap();
        assert_eq!(before, after, "{name}: nothing written");
        // An app for a later revision of this chip than the simulated one: refused too.
        let rev = chip.rom.unwrap().sim.revision_full as u32;
        let later = images::app_for_revisions(name, "hello", "2.1", 64, Some(rev + 1));
        let e = block_on(d.write_slot(&table, "app1", &later, &known, false)).unwrap_err();
        assert!(
            matches!(&e, Error::Refused(Refusal::Image(p)) if matches!(p[..], [ImageProblem::ChipTooOld { .. }])),
            "{name}: {e:?}"
        );
        assert!(e.to_string().contains("revision"), "{name}: {e}");
        let after = block_on(d.loader().read_flash(0x150000, 0x1000)).unwrap();
        assert_eq!(before, after, "{name}: nothing written");
        let app = images::app(name, "hello", "2.0", 64);
        let w = block_on(d.write_slot(&table, "app1", &app, &known, false)).unwrap();
        assert_eq!(w.slot.loads(), Loads::Yes, "{name}");
        let desc = w.slot.app.as_ref().expect("an app with its description");
        assert_eq!((&*desc.project_name, &*desc.version), ("hello", "2.0"));
        assert!(w.slot.segments.len() >= 3, "{name}: {:?}", w.slot.segments);
        let mut known = known.clone();
        known.set(&w.partition, w.slot);
        block_on(d.set_boot(&table, "app1", OtaState::Undefined, &known, false)).unwrap();
        assert_eq!(
            boots(d).as_deref(),
            Some("app1"),
            "{name}: the bootloader agrees"
        );
    }
}

/// Booting is never switched to an empty, half-written or corrupt slot: its whole image is
/// read and judged first, and the refusal names why. Forced, the output says what will really
/// boot, and the simulated bootloader does exactly that.
#[test]
fn boot_is_not_switched_to_a_slot_that_would_not_load() {
    // app1 holds hello_world with one bit flipped near its end.
    let mut bad = hello();
    let n = bad.len();
    bad[n - 100] ^= 0x01;
    let mut flash = arduino_flash();
    let good_flash = flash.clone();
    let mut d = open(port(Timing::NONE));
    let t = table(&mut d);
    let app1 = t.find("app1").unwrap().clone();
    // Empty.
    let e =
        block_on(d.set_boot(&t, "app1", OtaState::Undefined, &nothing_known(), false)).unwrap_err();
    assert!(
        matches!(e, Error::Refused(Refusal::WontLoad { ref label, problem: ImageProblem::Erased }) if label == "app1"),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("'app1' would not boot: it is empty"),
        "{e}"
    );
    // Corrupt in its last bytes: the headers look fine, only the whole read finds it.
    flash[0x150000..0x150000 + n].copy_from_slice(&bad);
    let mut d = open(SimPort::new(Esp32::new(
        flash,
        otaflash::sim::Config::new(FLASH_SIZE as u32, Timing::NONE),
    )));
    let head = block_on(d.scan_slot(&app1)).unwrap();
    assert_eq!(head.loads(), Loads::Unknown);
    let e =
        block_on(d.set_boot(&t, "app1", OtaState::Undefined, &nothing_known(), false)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Refused(Refusal::WontLoad {
                problem: ImageProblem::Checksum { .. } | ImageProblem::Digest,
                ..
            })
        ),
        "{e:?}"
    );
    let before = Otadata::parse(&d.loader().port().dev.flash.contents()[0xE000..0x10000]).unwrap();
    assert_eq!(before, read_otadata_of(&good_flash), "nothing written");
    // Forced: otadata selects app1, app0 boots, and the prediction says so.
    let s = block_on(d.set_boot(&t, "app1", OtaState::Undefined, &nothing_known(), true)).unwrap();
    let mut known = nothing_known();
    for (p, img) in &s.checked {
        known.set(p, img.clone());
    }
    let boot = judge_boot(&t, &s.otadata, false, &known);
    assert_eq!(boot.selected_partition(&t).unwrap().name(), "app1");
    assert_eq!(boot.booted_partition(&t).unwrap().name(), "app0");
    assert_eq!(
        boot.fallback_reason(&t).unwrap(),
        "app1 is corrupt → app0 boots"
    );
    let mut port = d.into_loader().into_port();
    port.dev.set_host_baud(Some(115_200));
    port.dev.reset(std::time::Duration::ZERO, false);
    assert_eq!(port.dev.last_boot.as_ref().unwrap().0, "app0");
    let console = String::from_utf8_lossy(&port.dev.take_output(std::time::Duration::from_secs(1)))
        .to_string();
    assert!(
        console.contains("Image hash failed - image is corrupt")
            || console.contains("Checksum failed"),
        "{console}"
    );
    assert!(
        console.contains("OTA app partition slot 1 is not bootable"),
        "{console}"
    );
}

fn read_otadata_of(flash: &[u8]) -> Otadata {
    Otadata::parse(&flash[0xE000..0x10000]).unwrap()
}

/// Cancel between two write blocks: the write stops with `Cancelled`, otadata is untouched,
/// the half-written slot reads as damaged, and the same session flashes and switches after.
#[test]
fn cancel_mid_write_leaves_otadata_alone_and_the_slot_damaged() {
    use otaflash::loader::{Event, Phase};
    use std::cell::Cell;
    use std::rc::Rc;
    let mut d = open(port(Timing::REALISTIC));
    let table = table(&mut d);
    let big = otaflash::sim::demo::app_image(otaflash::chips::ESP32, Some(("big", "1")), 300_000);
    let cancel = Rc::new(Cell::new(false));
    d.loader().set_cancel(cancel.clone());
    let (flag, seen) = (cancel.clone(), Rc::new(Cell::new(0u64)));
    let at = seen.clone();
    d.loader().on_event(move |e| {
        if let Event::Progress(p) = e {
            if p.phase == Phase::Writing && p.done * 3 > p.total && at.get() == 0 {
                at.set(p.done);
                flag.set(true);
            }
        }
    });
    let known = nothing_known();
    block_on(async {
        let before = d.read_otadata(&table).await.unwrap();
        let e = d
            .write_slot(&table, "app1", &big, &known, false)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{e}");
        assert!(seen.get() > 0 && seen.get() < big.len() as u64);
        assert_eq!(d.read_otadata(&table).await.unwrap(), before);
        let app1 = table.find("app1").unwrap();
        let slot = d.scan_slot(app1).await.unwrap();
        assert_eq!(slot.holds(), Holds::Damaged, "{:?}", slot.problems);
        // The session goes on: flash again, verified, switched.
        cancel.set(false);
        let w = d
            .write_slot(&table, "app1", &big, &known, false)
            .await
            .unwrap();
        let mut known = known.clone();
        known.set(&w.partition, w.slot);
        d.set_boot(&table, "app1", OtaState::Undefined, &known, false)
            .await
            .unwrap();
    });
    assert_eq!(boots(d).as_deref(), Some("app1"));
}

#[test]
fn bad_images_are_refused_before_writing() {
    let mut d = open(port(Timing::NONE));
    let table = table(&mut d);
    let before = d.loader().port().dev.flash.contents().to_vec();
    let mut big = hello();
    big.resize(0x150000, 0);
    let mut corrupt = hello();
    corrupt[5000] ^= 1;
    let mut newer = hello();
    newer[15..17].copy_from_slice(&302u16.to_le_bytes());
    let cases = [
        (
            "app1",
            read("app_images/esptool_test_images/helloworld-esp32s3.bin"),
            "built for ESP32-S3",
        ),
        (
            "app1",
            read("firmware/arduino_partitions_default.bin"),
            "This is a partition table, not a firmware image",
        ),
        // A bootloader (it runs from RAM only) is an image, but not for an app slot.
        (
            "app1",
            read("firmware/idf-v5.2.2_bootloader.bin"),
            "runs from RAM only",
        ),
        ("spiffs", hello(), "not an app slot"),
        ("app1", big, "larger than"),
        ("app1", corrupt, "corrupt"),
        (
            "app1",
            newer,
            "needs chip revision v3.2 or newer; this chip is v3.1",
        ),
    ];
    let known = nothing_known();
    block_on(async {
        for (slot, image, why) in &cases {
            let e = d
                .write_slot(&table, slot, image, &known, false)
                .await
                .unwrap_err();
            assert!(e.is_refusal(), "{e:?}");
            assert!(e.to_string().contains(why), "{slot}: {e}");
        }
    });
    assert!(
        d.loader().port().dev.flash.contents() == &before[..],
        "nothing written"
    );
}

/// After a matched-sector switch, "mark running invalid" does what
/// esp_ota_mark_app_invalid_rollback_and_reboot means: the previous app boots again.
#[test]
fn mark_invalid_after_a_matched_switch_rolls_back() {
    let mut d = open(port(Timing::NONE));
    let t = table(&mut d);
    let mut known = block_on(d.snapshot(0x8000)).unwrap().slots;
    let w = block_on(d.write_slot(&t, "app1", &hello(), &known, false)).unwrap();
    known.set(&w.partition, w.slot);
    block_on(d.set_boot(&t, "app1", OtaState::Undefined, &known, false)).unwrap();
    let s = block_on(d.mark_running(&t, false, &known)).unwrap();
    assert_eq!(
        s.checked.len(),
        1,
        "app0's image was read whole before going back to it"
    );
    assert_eq!(
        judge_boot(&t, &s.otadata, false, &known)
            .booted_partition(&t)
            .unwrap()
            .name(),
        "app0"
    );
    assert_eq!(boots(d).as_deref(), Some("app0"));
}

/// A power cut while the image is being written: the write fails, otadata is never switched,
/// and the device still boots the old app.
#[test]
fn power_cut_during_the_image_write_never_switches_otadata() {
    for cut in [1u64, 40, 300] {
        let mut d = open(port_with(|c| c.timing = Timing::NONE));
        let table = table(&mut d);
        let od_before = block_on(d.read_otadata(&table)).unwrap();
        d.loader().port().dev.flash.cut_power_after(cut);
        let r = block_on(d.write_slot(&table, "app1", &hello(), &nothing_known(), false));
        assert!(r.is_err(), "cut {cut}: {r:?}");
        let mut port = d.into_loader().into_port();
        let od = &port.dev.flash.contents()[0xE000..0x10000];
        assert_eq!(od, od_before.as_bytes(), "cut {cut}: otadata untouched");
        port.dev.reset(std::time::Duration::ZERO, false);
        assert_eq!(port.dev.last_boot.as_ref().unwrap().0, "app0");
    }
}

/// A power cut after every flash operation of an otadata switch: afterwards the bootloader
/// boots either the old app or the new (verified) one, and the prediction agrees.
#[test]
fn power_cut_at_every_step_of_the_otadata_switch() {
    let setup = || {
        let mut d = open(port_with(|c| c.timing = Timing::NONE));
        let table = table(&mut d);
        let w = block_on(d.write_slot(&table, "app1", &hello(), &nothing_known(), false)).unwrap();
        let mut known = nothing_known();
        known.set(&w.partition, w.slot);
        (d, table, known)
    };
    // How many flash operations a full switch takes.
    let (mut d, table, known) = setup();
    let ops0 = d.loader().port().dev.flash.ops();
    block_on(d.set_boot(&table, "app1", OtaState::Undefined, &known, false)).unwrap();
    let total = d.loader().port().dev.flash.ops() - ops0;
    assert!(
        total >= 4,
        "two sector erases and programs at least: {total}"
    );
    for cut in 0..=total {
        let (mut d, table, known) = setup();
        d.loader().port().dev.flash.cut_power_after(cut);
        let r = block_on(d.set_boot(&table, "app1", OtaState::Undefined, &known, false));
        let mut port = d.into_loader().into_port();
        port.dev.reset(std::time::Duration::ZERO, false);
        let booted = port.dev.last_boot.clone().map(|b| b.0);
        assert!(
            booted.as_deref() == Some("app0") || booted.as_deref() == Some("app1"),
            "cut after {cut} of {total}: boots {booted:?} ({r:?})"
        );
        if cut == total {
            assert!(r.is_ok());
            assert_eq!(booted.as_deref(), Some("app1"));
        }
        // What the simulated bootloader did matches the formats' prediction.
        let flash = port.dev.flash.contents();
        let t = PartitionTable::from_flash(flash, 0x8000).unwrap();
        let od = read_otadata_of(flash);
        let p = predict_boot(&t, &od, false, &|_| Loads::Yes);
        assert_eq!(
            p.booted_partition(&t).map(|p| p.name()),
            booted,
            "cut {cut}"
        );
    }
}

#[test]
fn backup_a_partition() {
    let mut d = open(port(Timing::NONE));
    let table = table(&mut d);
    let p = table.find("app0").unwrap();
    let app0 = block_on(d.read(p.offset, p.size)).unwrap();
    assert_eq!(app0.len(), 0x140000);
    assert_eq!(&app0[..hello().len()], &hello()[..]);
}

#[test]
fn a_slot_whose_md5_does_not_match_never_boots() {
    // One byte of app1 does not take programming: the write completes, the MD5 check catches
    // it, and otadata is left alone.
    let mut d = open(port_with(|c| c.faults.stuck_bytes = vec![0x150000 + 5000]));
    let table = table(&mut d);
    let od_before = block_on(d.read_otadata(&table)).unwrap();
    let e = block_on(d.write_slot(&table, "app1", &hello(), &nothing_known(), false)).unwrap_err();
    assert!(
        matches!(e, Error::Verify(ref m) if m.contains("verification failed")),
        "{e}"
    );
    assert_eq!(block_on(d.read_otadata(&table)).unwrap(), od_before);
    // And the slot, read whole, is what the bootloader would refuse.
    let slot = block_on(d.verify_slot(table.find("app1").unwrap())).unwrap();
    assert!(matches!(slot.loads(), Loads::No(_)));
    assert_ne!(md5(&hello()), [0; 16]);
}

#[test]
fn a_table_the_bootloader_rejects_is_not_written_by() {
    let mut d = open(port(Timing::NONE));
    let mut table = table(&mut d);
    table.md5 = otaflash::formats::partition::Md5Status::Mismatch {
        stored: [0; 16],
        computed: [1; 16],
    };
    let e = block_on(d.write_slot(&table, "app1", &hello(), &nothing_known(), false)).unwrap_err();
    assert_eq!(e, Error::Refused(Refusal::TableRejected));
    let e = block_on(d.set_boot(&table, "app0", OtaState::Undefined, &nothing_known(), false))
        .unwrap_err();
    assert_eq!(e, Error::Refused(Refusal::TableRejected));
}

/// Refused before writing: the image is for another chip.
fn wrong_chip(e: &Error) -> bool {
    matches!(e, Error::Refused(Refusal::Image(p)) if matches!(p[..], [ImageProblem::WrongChip { .. }]))
}
