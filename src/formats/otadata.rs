//! The otadata partition (8 KiB, two 4 KiB sectors, one 32-byte `esp_ota_select_entry_t` at
//! the start of each) and the ESP-IDF bootloader's decision of which app to boot.
//!
//! Modelled on ESP-IDF master `bootloader_utility_get_selected_boot_partition` and
//! `bootloader_utility_load_boot_image` (identical to v3.3 in everything modelled here).

use super::partition::{OtaSlots, Partition, PartitionTable};
use super::{le32, Error, Result};

pub const OTADATA_LEN: usize = 0x2000;
pub const SECTOR_LEN: usize = 0x1000;
pub const ENTRY_LEN: usize = 32;
/// The erased value of `ota_seq`: never a valid entry.
pub const SEQ_ERASED: u32 = u32::MAX;

/// `esp_ota_img_states_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtaState {
    New,
    PendingVerify,
    Valid,
    Invalid,
    Aborted,
    Undefined,
}

impl OtaState {
    pub const ALL: [OtaState; 6] = [
        OtaState::Undefined,
        OtaState::New,
        OtaState::PendingVerify,
        OtaState::Valid,
        OtaState::Invalid,
        OtaState::Aborted,
    ];

    pub fn raw(self) -> u32 {
        match self {
            OtaState::New => 0,
            OtaState::PendingVerify => 1,
            OtaState::Valid => 2,
            OtaState::Invalid => 3,
            OtaState::Aborted => 4,
            OtaState::Undefined => u32::MAX,
        }
    }

    pub fn from_raw(raw: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.raw() == raw)
    }

    pub fn name(self) -> &'static str {
        match self {
            OtaState::New => "new",
            OtaState::PendingVerify => "pending_verify",
            OtaState::Valid => "valid",
            OtaState::Invalid => "invalid",
            OtaState::Aborted => "aborted",
            OtaState::Undefined => "undefined",
        }
    }

    /// Accepts the names above, with `-` for `_`, any case.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.to_ascii_lowercase().replace('-', "_");
        Self::ALL.into_iter().find(|s| s.name() == t)
    }
}

/// Name of a raw state word: one of the six, or `unknown`.
pub fn state_name(raw: u32) -> &'static str {
    OtaState::from_raw(raw).map_or("unknown", OtaState::name)
}

/// The otadata CRC: `crc32_le(UINT32_MAX, &seq, 4)` in the ROM's convention, which is zlib's
/// `crc32(seq_le, 0xFFFFFFFF)` (not the standard CRC-32 of the four bytes). seq 1 → 0x4743989A.
pub fn ota_crc(seq: u32) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(0xFFFF_FFFF);
    h.update(&seq.to_le_bytes());
    h.finalize()
}

/// One `esp_ota_select_entry_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub seq: u32,
    /// `seq_label`: unused by all logic, outside the CRC; kept as found.
    pub label: [u8; 20],
    pub state: u32,
    pub crc: u32,
}

impl Entry {
    /// A fresh entry as otaflash writes it: label 0xFF, CRC computed.
    pub fn new(seq: u32, state: OtaState) -> Self {
        Entry {
            seq,
            label: [0xFF; 20],
            state: state.raw(),
            crc: ota_crc(seq),
        }
    }

    pub fn parse(b: &[u8]) -> Self {
        let mut label = [0u8; 20];
        label.copy_from_slice(&b[4..24]);
        Entry {
            seq: le32(b, 0),
            label,
            state: le32(b, 24),
            crc: le32(b, 28),
        }
    }

    pub fn to_bytes(&self) -> [u8; ENTRY_LEN] {
        let mut b = [0u8; ENTRY_LEN];
        b[0..4].copy_from_slice(&self.seq.to_le_bytes());
        b[4..24].copy_from_slice(&self.label);
        b[24..28].copy_from_slice(&self.state.to_le_bytes());
        b[28..32].copy_from_slice(&self.crc.to_le_bytes());
        b
    }

    pub fn crc_ok(&self) -> bool {
        self.crc == ota_crc(self.seq)
    }

    /// `bootloader_common_ota_select_invalid`: erased seq, or state INVALID/ABORTED. The CRC
    /// plays no part here.
    pub fn invalid(&self) -> bool {
        self.seq == SEQ_ERASED
            || self.state == OtaState::Invalid.raw()
            || self.state == OtaState::Aborted.raw()
    }

    /// `bootloader_common_ota_select_valid`: not invalid, and the CRC matches.
    pub fn valid(&self) -> bool {
        !self.invalid() && self.crc_ok()
    }

    /// Erased, or a CRC that does not match: the bootloader's "initial contents" test.
    fn erased_or_bad(&self) -> bool {
        self.seq == SEQ_ERASED || !self.crc_ok()
    }

    fn with_state(mut self, state: OtaState) -> Self {
        self.state = state.raw();
        self
    }
}

/// `bootloader_common_select_otadata` over validity flags: the larger seq wins, a tie goes to
/// sector 0, a lone valid entry wins, none → None.
pub fn active_of(e: &[Entry; 2]) -> Option<usize> {
    match (e[0].valid(), e[1].valid()) {
        (true, true) => Some(if e[1].seq > e[0].seq { 1 } else { 0 }),
        (true, false) => Some(0),
        (false, true) => Some(1),
        (false, false) => None,
    }
}

/// A whole otadata partition image (exactly 8 KiB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Otadata {
    bytes: Vec<u8>,
}

impl Otadata {
    /// An erased partition: the bootloader boots factory (or ota_0 without a factory app).
    pub fn blank() -> Self {
        Otadata {
            bytes: vec![0xFF; OTADATA_LEN],
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<Self> {
        match bytes.len() {
            OTADATA_LEN => Ok(Otadata {
                bytes: bytes.to_vec(),
            }),
            n if n < OTADATA_LEN => Err(Error::Truncated(format!(
                "otadata must be 8192 bytes (two 4 KiB sectors); this is {n} bytes"
            ))),
            n => Err(Error::WrongKind(format!(
                "otadata must be 8192 bytes; this is {n} bytes (a full flash dump? then give the partition table too)"
            ))),
        }
    }

    /// The otadata partition of a full flash dump, located through the table.
    pub fn from_flash(dump: &[u8], table: &PartitionTable) -> Result<Self> {
        let part = table.otadata().ok_or_else(|| {
            Error::Invalid(
                "the partition table has no otadata partition (type data, subtype ota)".into(),
            )
        })?;
        let start = part.offset as usize;
        if dump.len() < start + OTADATA_LEN {
            return Err(Error::Truncated(format!(
                "flash dump is {} bytes; otadata at 0x{:x} needs it to be at least {} bytes",
                dump.len(),
                part.offset,
                start + OTADATA_LEN
            )));
        }
        Self::parse(&dump[start..start + OTADATA_LEN])
    }

    /// Both sectors holding the same entry ("matched sectors").
    pub fn matched(entry: Entry) -> Self {
        let mut o = Self::blank();
        o.put(0, entry);
        o.put(1, entry);
        o
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn sector(&self, i: usize) -> &[u8] {
        &self.bytes[i * SECTOR_LEN..(i + 1) * SECTOR_LEN]
    }

    pub fn entry(&self, i: usize) -> Entry {
        Entry::parse(&self.bytes[i * SECTOR_LEN..])
    }

    pub fn entries(&self) -> [Entry; 2] {
        [self.entry(0), self.entry(1)]
    }

    /// The sector the bootloader and the app take as current.
    pub fn active(&self) -> Option<usize> {
        active_of(&self.entries())
    }

    /// Whether a sector holds anything past its 32-byte entry (writers always erase first).
    pub fn sector_tail_blank(&self, i: usize) -> bool {
        self.sector(i)[ENTRY_LEN..].iter().all(|&b| b == 0xFF)
    }

    /// Erase sector `i` and write `entry` at its start, as every otadata writer does.
    pub fn put(&mut self, i: usize, entry: Entry) {
        let s = &mut self.bytes[i * SECTOR_LEN..(i + 1) * SECTOR_LEN];
        s.fill(0xFF);
        s[..ENTRY_LEN].copy_from_slice(&entry.to_bytes());
    }
}

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
    /// Index into the table's entries of the app that boots; None if nothing is bootable.
    pub booted: Option<usize>,
    /// Sectors the bootloader itself rewrites while booting, in order.
    pub writes: Vec<(usize, Entry)>,
    /// The otadata partition after those writes.
    pub after: Otadata,
}

impl Boot {
    pub fn booted_partition<'t>(&self, table: &'t PartitionTable) -> Option<&'t Partition> {
        self.booted.map(|i| &table.entries[i])
    }
}

/// Predicts the ESP-IDF bootloader: rollback step, selection, slot `(seq − 1) % count` with the
/// bootloader's count of ota_N partitions, then the load walk (selected slot, down to factory,
/// up through the remaining slots, then test), and the otadata it writes on the way.
/// `bootable` says whether a partition holds an image the bootloader accepts.
pub fn predict_boot(
    table: &PartitionTable,
    otadata: &Otadata,
    rollback: bool,
    bootable: &dyn Fn(&Partition) -> bool,
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
    let loads = |i: usize| table.entries[i].size != 0 && bootable(&table.entries[i]);
    let mut booted = None;
    let walk = (-1..=start)
        .rev()
        .chain(start + 1..slots.bootloader_count as i64);
    for index in walk {
        if let Some(i) = part_at(index).filter(|&i| loads(i)) {
            booted = Some(i);
            if index >= 0 && initial_contents {
                writes.push((0, Entry::new(index as u32 + 1, OtaState::Valid)));
            }
            break;
        }
    }
    if booted.is_none() {
        booted = slots.test.filter(|&i| loads(i));
    }
    for (i, entry) in &writes {
        after.put(*i, *entry);
    }
    Boot {
        seen: e,
        active,
        selected,
        booted,
        writes,
        after,
    }
}

/// Every partition counts as bootable: the offline view when the slots' content is unknown.
pub fn all_bootable(_: &Partition) -> bool {
    true
}

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
        return Err(Error::Invalid(
            "the partition table has no otadata partition: the bootloader always boots factory"
                .into(),
        ));
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

/// Rewrites the running (active) entry in place with state valid or invalid, as
/// `esp_ota_mark_app_valid_cancel_rollback` / `esp_ota_mark_app_invalid_rollback_and_reboot` do.
/// Marking invalid lets the other sector (the previous app) take over.
pub fn mark_running(current: &Otadata, valid: bool) -> Result<Otadata> {
    let a = current.active().ok_or_else(|| {
        Error::Invalid(
            "otadata has no valid entry, so there is no running OTA entry to mark".into(),
        )
    })?;
    let state = if valid {
        OtaState::Valid
    } else {
        OtaState::Invalid
    };
    let mut next = current.clone();
    let entry = current.entry(a).with_state(state);
    if entry != current.entry(a) || !current.sector_tail_blank(a) {
        next.put(a, entry);
    }
    Ok(next)
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
    use super::*;

    #[test]
    fn crc_check_values() {
        let want = [
            (0u32, 0xFFFF_FFFFu32),
            (1, 0x4743_989A),
            (2, 0x55F6_3774),
            (3, 0xED4A_5011),
            (4, 0x709D_68A8),
            (5, 0xC821_0FCD),
            (0x10, 0xAFE6_A860),
            (0x11, 0x175A_CF05),
            (0xFFFF_FFFE, 0x99F8_B879),
            (0xFFFF_FFFF, 0x2144_DF1C),
        ];
        for (seq, crc) in want {
            assert_eq!(ota_crc(seq), crc, "seq {seq:#x}");
        }
    }

    #[test]
    fn seq_zero_all_ff_is_a_valid_entry() {
        let mut b = [0xFF; 32];
        b[..4].fill(0);
        let e = Entry::parse(&b);
        assert!(e.valid());
    }

    #[test]
    fn selection_tie_goes_to_sector_0() {
        let o = Otadata::matched(Entry::new(7, OtaState::Valid));
        assert_eq!(o.active(), Some(0));
        let mut o2 = Otadata::blank();
        o2.put(0, Entry::new(3, OtaState::Valid));
        o2.put(1, Entry::new(4, OtaState::Invalid));
        assert_eq!(o2.active(), Some(0));
    }

    #[test]
    fn states_round_trip() {
        for s in OtaState::ALL {
            assert_eq!(OtaState::from_raw(s.raw()), Some(s));
            assert_eq!(OtaState::parse(s.name()), Some(s));
        }
        assert_eq!(
            OtaState::parse("Pending-Verify"),
            Some(OtaState::PendingVerify)
        );
        assert_eq!(state_name(7), "unknown");
    }

    fn table(csv: &str) -> PartitionTable {
        PartitionTable::from_csv(csv, 0x8000).unwrap()
    }

    const NO_FACTORY: &str = "otadata,data,ota,0xd000,0x2000\na,app,ota_0,,1M\nb,app,ota_1,,1M\n";
    const WITH_FACTORY: &str =
        "otadata,data,ota,0xd000,0x2000\nf,app,factory,,1M\na,app,ota_0,,1M\nb,app,ota_1,,1M\n";

    #[test]
    fn garbage_otadata_tries_all_partitions_and_writes_nothing() {
        let mut bad = Entry::new(6, OtaState::Valid);
        bad.crc ^= 0x100;
        let mut o = Otadata::blank();
        o.put(0, bad);
        // Not "both invalid" (seq is not erased), but nothing valid either: FACTORY_INDEX, then
        // the walk goes up from ota_0.
        let t = table(NO_FACTORY);
        let b = predict_boot(&t, &o, false, &all_bootable);
        assert_eq!(b.selected, Selected::Factory);
        assert_eq!(b.booted_partition(&t).unwrap().name(), "a");
        assert!(b.writes.is_empty());
        let t = table(WITH_FACTORY);
        let b = predict_boot(&t, &o, false, &all_bootable);
        assert_eq!(b.booted_partition(&t).unwrap().name(), "f");
        // Blank otadata without factory: ota_0, and the bootloader writes seq 1 VALID.
        let t = table(NO_FACTORY);
        let b = predict_boot(&t, &Otadata::blank(), false, &all_bootable);
        assert_eq!(b.writes, vec![(0, Entry::new(1, OtaState::Valid))]);
        // ...unless ota_0 holds nothing bootable: then ota_1 (seq 2).
        let b = predict_boot(&t, &Otadata::blank(), false, &|p| p.name() == "b");
        assert_eq!(b.booted_partition(&t).unwrap().name(), "b");
        assert_eq!(b.writes, vec![(0, Entry::new(2, OtaState::Valid))]);
    }

    #[test]
    fn rollback_states() {
        let t = table(NO_FACTORY);
        let mut o = Otadata::blank();
        o.put(0, Entry::new(1, OtaState::Valid));
        o.put(1, Entry::new(2, OtaState::New));
        let b = predict_boot(&t, &o, true, &all_bootable);
        assert_eq!(b.booted_partition(&t).unwrap().name(), "b");
        assert_eq!(
            b.after.entry(1).state,
            OtaState::PendingVerify.raw(),
            "NEW becomes PENDING_VERIFY"
        );
        let b2 = predict_boot(&t, &b.after, true, &all_bootable);
        assert_eq!(
            b2.seen[1].state,
            OtaState::Aborted.raw(),
            "unconfirmed: aborted"
        );
        assert_eq!(b2.booted_partition(&t).unwrap().name(), "a", "rolled back");
        let b3 = predict_boot(&t, &b.after, false, &all_bootable);
        assert_eq!(
            b3.booted_partition(&t).unwrap().name(),
            "b",
            "no rollback compiled in"
        );
    }

    #[test]
    fn mark_invalid_hands_over_to_the_other_sector() {
        let t = table(NO_FACTORY);
        let mut o = Otadata::blank();
        o.put(0, Entry::new(1, OtaState::Valid));
        o.put(1, Entry::new(2, OtaState::PendingVerify));
        let bad = mark_running(&o, false).unwrap();
        assert_eq!(bad.entry(0), o.entry(0), "the other sector is untouched");
        assert_eq!(bad.entry(1).state, OtaState::Invalid.raw());
        assert_eq!(
            predict_boot(&t, &bad, false, &all_bootable)
                .booted_partition(&t)
                .unwrap()
                .name(),
            "a"
        );
        let good = mark_running(&o, true).unwrap();
        assert_eq!(good.entry(1).state, OtaState::Valid.raw());
        assert_eq!(
            mark_running(&good, true).unwrap(),
            good,
            "already valid: no change"
        );
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
