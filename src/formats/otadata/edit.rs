//! Changes to otadata as the ESP-IDF app side and otaflash make them: boot a slot next (matched
//! sectors), mark the running app valid or invalid (rollback), erase; and the power-cut-safe
//! order to write the sectors in.

use super::boot::short;
use super::{active_of, Entry, OtaState, Otadata, NO_OTADATA, SEQ_ERASED};
use crate::formats::bootable::Loads;
use crate::formats::partition::{OtaSlots, Partition, PartitionTable};
use crate::formats::{Error, Result};

/// The 8 KiB image that makes the bootloader boot `label` next, in state `state`, written as
/// matched sectors. The new seq is the smallest value ≥ the largest valid seq that selects the
/// slot. The factory app means erase (as `esp_ota_set_boot_partition` does).
pub fn set_boot(
    table: &PartitionTable,
    current: &Otadata,
    label: &str,
    state: OtaState,
) -> Result<Otadata> {
    let (index, part) = table
        .entries
        .iter()
        .enumerate()
        .rev()
        .find(|(_, p)| p.name() == label)
        .ok_or_else(|| {
            let apps: Vec<String> = table
                .entries
                .iter()
                .filter(|p| p.is_app())
                .map(|p| p.name())
                .collect();
            Error::Invalid(format!(
                "no partition named '{label}'; app partitions: {}",
                apps.join(", ")
            ))
        })?;
    if table.otadata().is_none() {
        return Err(Error::Invalid(NO_OTADATA.into()));
    }
    if part.is_factory() {
        return Ok(erase());
    }
    let n = part.ota_index().ok_or_else(|| {
        Error::Invalid(format!(
            "'{label}' is a {}/{} partition, not an OTA app slot (ota_0..ota_15) or factory",
            part.type_name(),
            part.subtype_name()
        ))
    })?;
    let slots = OtaSlots::of(table);
    if slots.by_index[n as usize] != Some(index) {
        return Err(Error::Invalid(format!(
            "'{label}' is ota_{n}, but the table has a later ota_{n} that the bootloader uses instead"
        )));
    }
    let count = slots.bootloader_count as u64;
    if n as u64 >= count {
        return Err(Error::Invalid(format!(
            "no otadata sequence number can select '{label}': the bootloader computes (seq-1) % {count} (it counts {count} ota_N partitions), which never reaches ota_{n}; renumber the OTA partitions without a gap"
        )));
    }
    let floor = current
        .entries()
        .iter()
        .filter(|e| e.valid())
        .map(|e| e.seq as u64)
        .max()
        .unwrap_or(0);
    let first = n as u64 + 1;
    let seq = if floor <= first {
        first
    } else {
        first + (floor - first).div_ceil(count) * count
    };
    if seq >= SEQ_ERASED as u64 {
        return Err(Error::Invalid(format!(
            "selecting '{label}' would need sequence number 0x{seq:x}, and 0xFFFFFFFF is the erased value: erase otadata first (--erase, which boots factory or ota_0), then set the boot slot"
        )));
    }
    Ok(Otadata::matched(Entry::new(seq as u32, state)))
}

/// `esp_ota_mark_app_valid_cancel_rollback`: rewrites the running (active) entry in place with
/// state VALID (nothing changes when it already is).
pub fn mark_running_valid(current: &Otadata) -> Result<Otadata> {
    let a = current.active().ok_or_else(no_running_entry)?;
    let mut next = current.clone();
    let entry = current.entry(a).with_state(OtaState::Valid);
    if entry != current.entry(a) || !current.sector_tail_blank(a) {
        next.put(a, entry);
    }
    Ok(next)
}

fn no_running_entry() -> Error {
    Error::Invalid(
        "otadata has no valid entry, so the running app is the factory app (or ota_0 booted from blank otadata): there is no OTA entry to mark".into(),
    )
}

/// `esp_ota_mark_app_invalid_rollback_and_reboot`: the running app is marked INVALID and the
/// app that ran before it boots instead. IDF rewrites the active entry in place and lets the
/// other sector (the previous app) or the factory app take over, after checking that its image
/// loads (`esp_ota_check_rollback_is_possible`). When both sectors name the running slot (as
/// after a matched-sector switch), otadata no longer records the previous app, and IDF's own
/// call would just restart the same app: then the previous app is the other OTA slot of a
/// two-slot table (its entry goes into the other sector, written first), or else the factory
/// app; with more slots the previous one cannot be known, and this says so.
/// `loads` judges the candidate images (an unknown one is taken).
pub fn mark_running_invalid(
    table: &PartitionTable,
    current: &Otadata,
    loads: &dyn Fn(&Partition) -> Loads,
) -> Result<Otadata> {
    let a = current.active().ok_or_else(no_running_entry)?;
    let slots = OtaSlots::of(table);
    if slots.bootloader_count == 0 {
        return Err(Error::Invalid(
            "the partition table has no OTA app slots".into(),
        ));
    }
    let entries = current.entries();
    let slot_of = |e: &Entry| e.seq.wrapping_sub(1) % slots.bootloader_count;
    let running = slot_of(&entries[a]);
    let name_of = |n: u32| {
        slots.by_index[n as usize].map_or_else(|| format!("ota_{n}"), |i| table.entries[i].name())
    };
    let refuse = |why: String| {
        Err(Error::Invalid(format!(
            "rollback is not possible: {why} (IDF refuses too: ESP_ERR_OTA_ROLLBACK_FAILED)"
        )))
    };
    let can_load = |i: usize| match loads(&table.entries[i]) {
        Loads::No(p) => Err(p),
        _ => Ok(()),
    };
    let factory_ok = slots.factory.map(can_load);
    let mut next = current.clone();
    next.put(a, entries[a].with_state(OtaState::Invalid));
    let other = &entries[1 - a];
    if other.valid() && slot_of(other) != running {
        // The usual case: the other sector names the previous app.
        let target = slot_of(other);
        return match slots.by_index[target as usize].map(can_load) {
            Some(Ok(())) => Ok(next),
            Some(Err(p)) => refuse(format!(
                "{} (the app the other otadata sector names) is {}",
                name_of(target),
                short(&p)
            )),
            None => refuse(format!(
                "the other otadata sector names a missing ota_{target}"
            )),
        };
    }
    if !other.valid() {
        return match factory_ok {
            Some(Ok(())) => Ok(next),
            Some(Err(p)) => refuse(format!("the factory app is {}", short(&p))),
            None => {
                refuse("the other otadata sector names no app and there is no factory app".into())
            }
        };
    }
    // Both sectors name the running slot.
    let running_name = name_of(running);
    if slots.bootloader_count == 2 {
        let target = 1 - running;
        let verdict = slots.by_index[target as usize].map(can_load);
        if let Some(Ok(())) = verdict {
            let seq = [
                entries[a].seq.wrapping_sub(1),
                entries[a].seq.wrapping_add(1),
            ]
            .into_iter()
            .find(|&q| q != SEQ_ERASED && q.wrapping_sub(1) % 2 == target)
            .expect("one neighbour of any seq selects the other of two slots");
            next.put(1 - a, Entry::new(seq, OtaState::Valid));
            return Ok(next);
        }
        if let Some(Ok(())) = factory_ok {
            next.put(1 - a, entries[1 - a].with_state(OtaState::Invalid));
            return Ok(next);
        }
        let why = match verdict {
            Some(Err(p)) => format!("{} is {}", name_of(target), short(&p)),
            _ => format!("there is no ota_{target}"),
        };
        return refuse(format!(
            "both otadata sectors name {running_name}, and the only other app slot cannot take over: {why}"
        ));
    }
    if let Some(Ok(())) = factory_ok {
        next.put(1 - a, entries[1 - a].with_state(OtaState::Invalid));
        return Ok(next);
    }
    refuse(format!(
        "both otadata sectors name {running_name}, so otadata no longer records which of the {} OTA slots ran before it; choose the slot to go back to with \"boot slot\" instead",
        slots.bootloader_count
    ))
}

/// All 0xFF: the bootloader boots factory, or ota_0 without a factory app.
pub fn erase() -> Otadata {
    Otadata::blank()
}

/// The sector a bootloader with rollback enabled takes as active: there, a PENDING_VERIFY entry
/// is aborted before selection. Without rollback it may be the other sector.
pub fn confirmed_active(o: &Otadata) -> Option<usize> {
    let mut e = o.entries();
    for x in &mut e {
        if x.state == OtaState::PendingVerify.raw() {
            *x = x.with_state(OtaState::Aborted);
        }
    }
    active_of(&e)
}

/// The power-cut-safe order of sector writes from `old` to `new`: only sectors that change, and
/// first the one the bootloader can do without. That is the sector not active in `old`, where
/// "active" counts a PENDING_VERIFY entry as aborted when that makes a difference (with rollback
/// enabled the bootloader aborts it; without, falling back to the last confirmed app is safe).
/// After each write the caller must read the sector back and compare before going on. A cut at
/// any point leaves the old entry, the last confirmed entry, or the new entry in charge.
pub fn write_order(old: &Otadata, new: &Otadata) -> Vec<usize> {
    let keep = confirmed_active(old).or(old.active());
    let first = keep.map_or(1, |a| 1 - a);
    [first, 1 - first]
        .into_iter()
        .filter(|&s| old.sector(s) != new.sector(s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::super::{contents_unknown, predict_boot};
    use super::*;

    #[test]
    fn mark_invalid_hands_over_to_the_other_sector() {
        let t = table(NO_FACTORY);
        let mut o = Otadata::blank();
        o.put(0, Entry::new(1, OtaState::Valid));
        o.put(1, Entry::new(2, OtaState::PendingVerify));
        let bad = mark_running_invalid(&t, &o, &contents_unknown).unwrap();
        assert_eq!(bad.entry(0), o.entry(0), "the other sector is untouched");
        assert_eq!(bad.entry(1).state, OtaState::Invalid.raw());
        assert_eq!(
            predict_boot(&t, &bad, false, &contents_unknown)
                .booted_partition(&t)
                .unwrap()
                .name(),
            "a"
        );
        // IDF refuses when the app to go back to does not load.
        let e = mark_running_invalid(&t, &o, &only(&["b"])).unwrap_err();
        assert!(
            e.to_string()
                .contains("a (the app the other otadata sector names) is empty"),
            "{e}"
        );
        let good = mark_running_valid(&o).unwrap();
        assert_eq!(good.entry(1).state, OtaState::Valid.raw());
        assert_eq!(
            mark_running_valid(&good).unwrap(),
            good,
            "already valid: no change"
        );
    }

    #[test]
    fn mark_invalid_after_a_matched_switch_goes_back_to_the_other_slot() {
        let t = table(NO_FACTORY);
        for (seq, running, back) in [(2u32, "b", "a"), (1, "a", "b"), (4, "b", "a")] {
            let o = Otadata::matched(Entry::new(seq, OtaState::Undefined));
            let before = predict_boot(&t, &o, false, &contents_unknown);
            assert_eq!(before.booted_partition(&t).unwrap().name(), running);
            let n = mark_running_invalid(&t, &o, &only(&["a", "b"])).unwrap();
            assert_eq!(
                n.entry(0).state,
                OtaState::Invalid.raw(),
                "running marked invalid"
            );
            let after = predict_boot(&t, &n, false, &only(&["a", "b"]));
            assert_eq!(
                after.booted_partition(&t).unwrap().name(),
                back,
                "seq {seq}"
            );
            // Power-cut safe: the other sector first; after it alone, the running app still
            // boots (nothing is lost if the power goes then).
            let order = write_order(&o, &n);
            assert_eq!(order, vec![1, 0]);
            let mut half = o.clone();
            half.put(1, n.entry(1));
            assert_eq!(
                predict_boot(&t, &half, false, &contents_unknown)
                    .booted_partition(&t)
                    .unwrap()
                    .name(),
                running
            );
        }
        // The other slot empty, no factory: said plainly, nothing to write.
        let o = Otadata::matched(Entry::new(2, OtaState::Undefined));
        let e = mark_running_invalid(&t, &o, &only(&["b"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("both otadata sectors name b") && e.contains("a is empty"),
            "{e}"
        );
        // ...with a factory app: both entries invalid, the factory app boots.
        let tf = table(WITH_FACTORY);
        let n = mark_running_invalid(&tf, &o, &only(&["f", "b"])).unwrap();
        assert_eq!(
            predict_boot(&tf, &n, false, &only(&["f", "b"]))
                .booted_partition(&tf)
                .unwrap()
                .name(),
            "f"
        );
        // Three slots: which one ran before cannot be known.
        let t3 = table(
            "otadata,data,ota,0xd000,0x2000\na,app,ota_0,,1M\nb,app,ota_1,,1M\nc,app,ota_2,,1M\n",
        );
        let e = mark_running_invalid(&t3, &o, &contents_unknown)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no longer records which of the 3 OTA slots"),
            "{e}"
        );
        // Blank otadata: nothing runs from an OTA entry.
        assert!(mark_running_invalid(&t, &Otadata::blank(), &contents_unknown).is_err());
    }

    #[test]
    fn write_order_inactive_first() {
        let mut old = Otadata::blank();
        old.put(1, Entry::new(2, OtaState::Valid));
        let new = Otadata::matched(Entry::new(3, OtaState::Undefined));
        assert_eq!(write_order(&old, &new), vec![0, 1]);
        assert_eq!(write_order(&new, &new), Vec::<usize>::new());
    }
}
