//! The ESP-IDF bootloader's decision: which app it tries first (what otadata selects) and which
//! it starts (the first that loads, in its order). Modelled on ESP-IDF master
//! `bootloader_utility_get_selected_boot_partition` and `bootloader_utility_load_boot_image`
//! (identical to v3.3 in everything modelled here).

use super::{active_of, Entry, OtaState, Otadata};
use crate::formats::bootable::{ImageProblem, Loads};
use crate::formats::partition::{OtaSlots, Partition, PartitionTable};

/// The bootloader's start index: factory (−1 in IDF), or an OTA slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selected {
    Factory,
    Ota(u32),
}

/// What the bootloader does with a table and an otadata partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boot {
    /// The two entries as selection sees them (after the rollback step, when enabled).
    pub seen: [Entry; 2],
    /// The active sector among `seen`.
    pub active: Option<usize>,
    pub selected: Selected,
    /// Index into the table's entries of the partition the bootloader tries first (what
    /// otadata selects); None when that index has no partition.
    pub selected_partition: Option<usize>,
    /// Index into the table's entries of the app that boots; None if nothing is bootable.
    pub booted: Option<usize>,
    /// Partitions tried before it and refused, in the bootloader's order, with the reason.
    pub skipped: Vec<(usize, ImageProblem)>,
    /// The booted partition's image was not read whole: it boots if its image is intact.
    pub unverified: bool,
    /// Sectors the bootloader itself rewrites while booting, in order.
    pub writes: Vec<(usize, Entry)>,
    /// The otadata partition after those writes.
    pub after: Otadata,
}

impl Boot {
    pub fn booted_partition<'t>(&self, table: &'t PartitionTable) -> Option<&'t Partition> {
        self.booted.map(|i| &table.entries[i])
    }

    pub fn selected_partition<'t>(&self, table: &'t PartitionTable) -> Option<&'t Partition> {
        self.selected_partition.map(|i| &table.entries[i])
    }

    /// Whether the prediction rests on slots whose content is known (nothing left unverified).
    pub fn certain(&self) -> bool {
        !self.unverified
    }

    /// Why the booted app is not the selected one: "app1 is empty → app0 boots". None when
    /// they are the same.
    pub fn fallback_reason(&self, table: &PartitionTable) -> Option<String> {
        if self.booted == self.selected_partition && self.booted.is_some() {
            return None;
        }
        let mut parts: Vec<String> = self
            .skipped
            .iter()
            .map(|(i, p)| format!("{} is {}", table.entries[*i].name(), short(p)))
            .collect();
        if self.selected_partition.is_none() {
            parts.insert(
                0,
                match self.selected {
                    Selected::Factory => "there is no factory app".to_string(),
                    Selected::Ota(n) => format!("there is no ota_{n} partition"),
                },
            );
        }
        let tail = match self.booted_partition(table) {
            Some(p) => format!("{} boots", p.name()),
            None => "nothing boots".into(),
        };
        Some(format!("{} → {tail}", parts.join(", ")))
    }
}

/// A problem as a few words after "app1 is …".
pub(crate) fn short(p: &ImageProblem) -> String {
    match p {
        ImageProblem::Erased => "empty".into(),
        ImageProblem::NoImage { .. } => "not an image".into(),
        ImageProblem::BadSegmentLength { .. }
        | ImageProblem::TooManySegments(_)
        | ImageProblem::MisalignedSegment { .. }
        | ImageProblem::Truncated { .. } => "damaged or half-written".into(),
        ImageProblem::Checksum { .. } | ImageProblem::Digest => "corrupt".into(),
        ImageProblem::NotAnApp => "not an app".into(),
        other => format!("not loadable ({})", other.message()),
    }
}

/// Predicts the ESP-IDF bootloader: rollback step, selection, slot `(seq − 1) % count` with the
/// bootloader's count of ota_N partitions, then the load walk (selected slot, down to factory,
/// up through the remaining slots, then test), and the otadata it writes on the way.
/// `loads` says whether the bootloader loads a partition's image; an unknown one counts as
/// loading, and the prediction says it rests on it ([`Boot::unverified`]).
pub fn predict_boot(
    table: &PartitionTable,
    otadata: &Otadata,
    rollback: bool,
    loads: &dyn Fn(&Partition) -> Loads,
) -> Boot {
    let slots = OtaSlots::of(table);
    let mut after = otadata.clone();
    let mut writes = vec![];
    let mut e = otadata.entries();
    let mut initial_contents = false;
    let selected = if table.otadata().is_none() {
        Selected::Factory
    } else {
        if rollback {
            for (i, entry) in e.iter_mut().enumerate() {
                if entry.state == OtaState::PendingVerify.raw() {
                    *entry = entry.with_state(OtaState::Aborted);
                    writes.push((i, *entry));
                }
            }
        }
        if (e[0].invalid() && e[1].invalid()) || slots.bootloader_count == 0 {
            if slots.factory.is_some() {
                Selected::Factory
            } else {
                initial_contents = e[0].erased_or_bad() && e[1].erased_or_bad();
                Selected::Ota(0)
            }
        } else if let Some(a) = active_of(&e) {
            if rollback && e[a].state == OtaState::New.raw() {
                writes.push((a, e[a].with_state(OtaState::PendingVerify)));
            }
            Selected::Ota(e[a].seq.wrapping_sub(1) % slots.bootloader_count)
        } else {
            Selected::Factory
        }
    };
    let active = active_of(&e);

    // bootloader_utility_load_boot_image
    let part_at = |index: i64| -> Option<usize> {
        match index {
            -1 => slots.factory,
            0..=15 => slots.by_index[index as usize],
            _ => None,
        }
    };
    let start: i64 = match selected {
        Selected::Factory => -1,
        Selected::Ota(n) => n as i64,
    };
    let mut booted = None;
    let mut skipped = vec![];
    let mut unverified = false;
    let mut try_load = |i: usize| -> bool {
        let p = &table.entries[i];
        if p.size == 0 {
            return false;
        }
        match loads(p) {
            Loads::Yes => true,
            Loads::Unknown => {
                unverified = true;
                true
            }
            Loads::No(why) => {
                skipped.push((i, why));
                false
            }
        }
    };
    let walk = (-1..=start)
        .rev()
        .chain(start + 1..slots.bootloader_count as i64);
    for index in walk {
        if let Some(i) = part_at(index).filter(|&i| try_load(i)) {
            booted = Some(i);
            if index >= 0 && initial_contents {
                writes.push((0, Entry::new(index as u32 + 1, OtaState::Valid)));
            }
            break;
        }
    }
    if booted.is_none() {
        booted = slots.test.filter(|&i| try_load(i));
    }
    for (i, entry) in &writes {
        after.put(*i, *entry);
    }
    Boot {
        seen: e,
        active,
        selected,
        selected_partition: part_at(start),
        booted,
        skipped,
        unverified,
        writes,
        after,
    }
}

/// Nothing is known about what the slots hold: the view from otadata and the table alone
/// (every slot counts as loading, and the prediction says so).
pub fn contents_unknown(_: &Partition) -> Loads {
    Loads::Unknown
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;

    #[test]
    fn otadata_selects_one_slot_and_another_boots() {
        let t = table(NO_FACTORY);
        let o = Otadata::matched(Entry::new(2, OtaState::Undefined));
        let b = predict_boot(&t, &o, false, &only(&["a"]));
        assert_eq!(b.selected_partition(&t).unwrap().name(), "b");
        assert_eq!(b.booted_partition(&t).unwrap().name(), "a");
        assert_eq!(b.fallback_reason(&t).unwrap(), "b is empty → a boots");
        let b = predict_boot(&t, &o, false, &only(&[]));
        assert_eq!(b.booted, None);
        assert_eq!(
            b.fallback_reason(&t).unwrap(),
            "b is empty, a is empty → nothing boots"
        );
        // Unknown contents: the selected slot, and the prediction says it rests on it.
        let b = predict_boot(&t, &o, false, &contents_unknown);
        assert_eq!(b.booted, b.selected_partition);
        assert!(!b.certain() && b.fallback_reason(&t).is_none());
        // No factory partition where otadata asks for factory (garbage otadata) with ota
        // slots: the walk goes up from ota_0 and says why.
        let mut bad = Entry::new(6, OtaState::Valid);
        bad.crc ^= 1;
        let mut g = Otadata::blank();
        g.put(0, bad);
        let b = predict_boot(&t, &g, false, &only(&["b"]));
        assert_eq!(b.selected_partition, None);
        assert_eq!(
            b.fallback_reason(&t).unwrap(),
            "there is no factory app, a is empty → b boots"
        );
    }

    #[test]
    fn garbage_otadata_tries_all_partitions_and_writes_nothing() {
        let mut bad = Entry::new(6, OtaState::Valid);
        bad.crc ^= 0x100;
        let mut o = Otadata::blank();
        o.put(0, bad);
        // Not "both invalid" (seq is not erased), but nothing valid either: FACTORY_INDEX, then
        // the walk goes up from ota_0.
        let t = table(NO_FACTORY);
        let b = predict_boot(&t, &o, false, &contents_unknown);
        assert_eq!(b.selected, Selected::Factory);
        assert_eq!(b.booted_partition(&t).unwrap().name(), "a");
        assert!(b.writes.is_empty());
        let t = table(WITH_FACTORY);
        let b = predict_boot(&t, &o, false, &contents_unknown);
        assert_eq!(b.booted_partition(&t).unwrap().name(), "f");
        // Blank otadata without factory: ota_0, and the bootloader writes seq 1 VALID.
        let t = table(NO_FACTORY);
        let b = predict_boot(&t, &Otadata::blank(), false, &contents_unknown);
        assert_eq!(b.writes, vec![(0, Entry::new(1, OtaState::Valid))]);
        // ...unless ota_0 holds nothing bootable: then ota_1 (seq 2).
        let b = predict_boot(&t, &Otadata::blank(), false, &only(&["b"]));
        assert_eq!(b.booted_partition(&t).unwrap().name(), "b");
        assert_eq!(b.writes, vec![(0, Entry::new(2, OtaState::Valid))]);
        assert!(b.certain());
        assert_eq!(b.fallback_reason(&t).unwrap(), "a is empty → b boots");
    }

    #[test]
    fn rollback_states() {
        let t = table(NO_FACTORY);
        let mut o = Otadata::blank();
        o.put(0, Entry::new(1, OtaState::Valid));
        o.put(1, Entry::new(2, OtaState::New));
        let b = predict_boot(&t, &o, true, &contents_unknown);
        assert_eq!(b.booted_partition(&t).unwrap().name(), "b");
        assert_eq!(
            b.after.entry(1).state,
            OtaState::PendingVerify.raw(),
            "NEW becomes PENDING_VERIFY"
        );
        let b2 = predict_boot(&t, &b.after, true, &contents_unknown);
        assert_eq!(
            b2.seen[1].state,
            OtaState::Aborted.raw(),
            "unconfirmed: aborted"
        );
        assert_eq!(b2.booted_partition(&t).unwrap().name(), "a", "rolled back");
        let b3 = predict_boot(&t, &b.after, false, &contents_unknown);
        assert_eq!(
            b3.booted_partition(&t).unwrap().name(),
            "b",
            "no rollback compiled in"
        );
    }
}
