//! Power cut at every step of an otadata switch: the bootloader must still boot a verified
//! image (the one that booted before, or the newly written and verified target), and once the
//! switch completes, the target.
//!
//! Flash model: NOR. An erase sets bytes to 0xFF (a cut mid-erase leaves a prefix erased);
//! programming can only clear bits (a cut mid-program leaves a prefix programmed).
#![cfg(not(target_arch = "wasm32"))]

use otaflash::formats::bootable::{ImageProblem, Loads};
use otaflash::formats::otadata::{
    self, predict_boot, Entry, OtaState, Otadata, ENTRY_LEN, SECTOR_LEN,
};
use otaflash::formats::partition::PartitionTable;

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{rel}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// One elementary flash operation on the otadata partition.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// Erase the first `n` bytes of a sector (n = SECTOR_LEN is a complete erase).
    Erase { sector: usize, n: usize },
    /// Program one byte.
    Program { sector: usize, at: usize, value: u8 },
    /// Read the sector back and compare with the target; stop the switch on a mismatch.
    Verify { sector: usize },
}

/// The switch as elementary steps, in the order `write_order` gives.
fn steps(old: &Otadata, new: &Otadata) -> Vec<Op> {
    let mut ops = vec![];
    for s in otadata::write_order(old, new) {
        for n in [4, 8, 24, 28, SECTOR_LEN] {
            ops.push(Op::Erase { sector: s, n });
        }
        for at in 0..ENTRY_LEN {
            ops.push(Op::Program {
                sector: s,
                at,
                value: new.sector(s)[at],
            });
        }
        ops.push(Op::Verify { sector: s });
    }
    ops
}

/// Applies `op`; returns false when a verify fails (the switch stops there).
fn apply(flash: &mut [u8], target: &Otadata, op: Op, stuck_byte: Option<(usize, usize)>) -> bool {
    match op {
        Op::Erase { sector, n } => flash[sector * SECTOR_LEN..sector * SECTOR_LEN + n].fill(0xFF),
        Op::Program { sector, at, value } => {
            if stuck_byte != Some((sector, at)) {
                flash[sector * SECTOR_LEN + at] &= value;
            }
        }
        Op::Verify { sector } => {
            return flash[sector * SECTOR_LEN..(sector + 1) * SECTOR_LEN] == *target.sector(sector)
        }
    }
    true
}

fn booted_name(table: &PartitionTable, o: &[u8], rollback: bool, ok: &[String]) -> Option<String> {
    let o = Otadata::parse(o).unwrap();
    let boot = predict_boot(table, &o, rollback, &|p| {
        if ok.contains(&p.name()) {
            Loads::Yes
        } else {
            Loads::No(ImageProblem::Erased)
        }
    });
    boot.booted_partition(table).map(|p| p.name())
}

fn starting_points() -> Vec<(&'static str, Otadata)> {
    let mut out = vec![
        ("blank", Otadata::blank()),
        (
            "idf set ota_0",
            Otadata::parse(&read("otadata/idf_master_set_ota0.bin")).unwrap(),
        ),
        (
            "idf set ota_0, ota_1",
            Otadata::parse(&read("otadata/idf_master_set_ota0_ota1.bin")).unwrap(),
        ),
        (
            "arduino boot_app0",
            Otadata::parse(&read("otadata/arduino_boot_app0.bin")).unwrap(),
        ),
        (
            "otatool slot 1",
            Otadata::parse(&read("otadata/otatool_blank_to_slot1.bin")).unwrap(),
        ),
    ];
    let mut two = Otadata::blank();
    two.put(0, Entry::new(0x10, OtaState::Valid));
    two.put(1, Entry::new(0x11, OtaState::Valid));
    out.push(("seq 0x10/0x11", two));
    let mut pending = Otadata::blank();
    pending.put(0, Entry::new(4, OtaState::Valid));
    pending.put(1, Entry::new(5, OtaState::PendingVerify));
    out.push(("pending verify", pending));
    let mut garbage = Otadata::blank();
    let mut bad = Entry::new(9, OtaState::Valid);
    bad.crc ^= 1;
    garbage.put(0, bad);
    garbage.put(1, Entry::new(2, OtaState::Valid));
    out.push(("bad crc in sector 0", garbage));
    let mut new_state = Otadata::blank();
    new_state.put(0, Entry::new(3, OtaState::New));
    out.push(("state new", new_state));
    out
}

#[test]
fn power_cut_at_every_step_still_boots_a_verified_image() {
    let tables = [
        ("two_ota", PartitionTable::parse(&read("partition_tables/idf_two_ota.bin")).unwrap()),
        ("arduino", PartitionTable::parse(&read("partition_tables/arduino_default.bin")).unwrap()),
        (
            "three_ota",
            PartitionTable::from_csv(
                "otadata,data,ota,0xd000,0x2000\na,app,ota_0,,1M\nb,app,ota_1,,1M\nc,app,ota_2,,1M\n",
                0x8000,
            )
            .unwrap(),
        ),
    ];
    let mut cuts = 0;
    for (tname, table) in &tables {
        let slots: Vec<String> = table
            .entries
            .iter()
            .filter(|p| p.ota_index().is_some())
            .map(|p| p.name())
            .collect();
        for (sname, start) in starting_points() {
            for rollback in [false, true] {
                for target in &slots {
                    for state in [OtaState::Undefined, OtaState::New, OtaState::Valid] {
                        let all: Vec<String> = table.entries.iter().map(|p| p.name()).collect();
                        let old = booted_name(table, start.as_bytes(), rollback, &all)
                            .expect("something boots");
                        // What may boot after a cut: the app that booted before, the target
                        // (written and MD5-verified), or the last confirmed app (when a
                        // PENDING_VERIFY entry is in charge, which a rollback bootloader aborts).
                        let confirmed = booted_name(table, start.as_bytes(), true, &all).unwrap();
                        let verified = vec![old.clone(), target.clone(), confirmed];
                        let new = otadata::set_boot(table, &start, target, state).unwrap();
                        let ctx = format!(
                            "{tname} / {sname} / rollback {rollback} / -> {target} {state:?}"
                        );
                        let mut flash = start.as_bytes().to_vec();
                        for op in steps(&start, &new) {
                            assert!(apply(&mut flash, &new, op, None), "{ctx}: verify failed");
                            // Strict: every slot holds some bootable image (as in the field),
                            // so the fall-back walk cannot hide a wrong selection...
                            let b = booted_name(table, &flash, rollback, &all);
                            assert!(
                                b.as_ref().is_some_and(|n| verified.contains(n)),
                                "{ctx}: cut after {op:?} boots {b:?}, not one of {verified:?}"
                            );
                            // ...and with only the two verified images present, one of them boots.
                            let b = booted_name(table, &flash, rollback, &verified);
                            assert!(
                                b.as_ref().is_some_and(|n| verified.contains(n)),
                                "{ctx}: {op:?}"
                            );
                            cuts += 1;
                        }
                        assert_eq!(flash, new.as_bytes(), "{ctx}");
                        assert_eq!(
                            booted_name(table, &flash, rollback, &verified).as_ref(),
                            Some(target),
                            "{ctx}"
                        );
                    }
                }
            }
        }
    }
    assert!(cuts > 10_000, "{cuts} cut points");
}

/// A byte that will not program is caught by the read-back of the first (inactive) sector; the
/// switch stops there and the old image still boots.
#[test]
fn failed_verify_stops_before_the_active_sector_is_touched() {
    let table = PartitionTable::parse(&read("partition_tables/idf_two_ota.bin")).unwrap();
    let start = Otadata::parse(&read("otadata/idf_master_set_ota0.bin")).unwrap();
    let new = otadata::set_boot(&table, &start, "ota_1", OtaState::Undefined).unwrap();
    let order = otadata::write_order(&start, &new);
    assert_eq!(
        order,
        vec![1, 0],
        "sector 0 is active, so sector 1 goes first"
    );
    let mut flash = start.as_bytes().to_vec();
    let mut stopped_at = None;
    for op in steps(&start, &new) {
        if !apply(&mut flash, &new, op, Some((1, 29))) {
            stopped_at = Some(op);
            break;
        }
    }
    assert!(matches!(stopped_at, Some(Op::Verify { sector: 1 })));
    assert_eq!(
        &flash[..SECTOR_LEN],
        start.sector(0),
        "active sector untouched"
    );
    let all = vec!["factory".into(), "ota_0".into(), "ota_1".into()];
    assert_eq!(
        booted_name(&table, &flash, false, &all).as_deref(),
        Some("ota_0")
    );
}

#[test]
fn seq_overflow_is_refused_and_gap_slots_too() {
    let table = PartitionTable::parse(&read("partition_tables/idf_two_ota.bin")).unwrap();
    let mut high = Otadata::blank();
    high.put(0, Entry::new(0xFFFF_FFFE, OtaState::Valid));
    // (0xFFFFFFFE - 1) % 2 = 1: ota_1 is selected and keeps its seq; ota_0 would need 0xFFFFFFFF.
    let e = otadata::set_boot(&table, &high, "ota_0", OtaState::Undefined).unwrap_err();
    assert!(e.to_string().contains("erase"), "{e}");
    let same = otadata::set_boot(&table, &high, "ota_1", OtaState::Valid).unwrap();
    assert_eq!(same.entry(0).seq, 0xFFFF_FFFE);

    let gap = PartitionTable::from_csv(
        "otadata,data,ota,0xd000,0x2000\na,app,ota_0,,1M\nc,app,ota_2,,1M\n",
        0x8000,
    )
    .unwrap();
    let e = otadata::set_boot(&gap, &Otadata::blank(), "c", OtaState::Undefined).unwrap_err();
    assert!(e.to_string().contains("never reaches ota_2"), "{e}");
    assert!(otadata::set_boot(&gap, &Otadata::blank(), "nvs", OtaState::Undefined).is_err());
    assert_eq!(
        otadata::set_boot(&table, &high, "factory", OtaState::Undefined).unwrap(),
        Otadata::blank()
    );
}
