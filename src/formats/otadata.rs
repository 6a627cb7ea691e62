//! The otadata partition (8 KiB, two 4 KiB sectors, one 32-byte `esp_ota_select_entry_t` at
//! the start of each) and the ESP-IDF bootloader's decision of which app to boot.
//!
//! Modelled on ESP-IDF master `bootloader_utility_get_selected_boot_partition` and
//! `bootloader_utility_load_boot_image` (identical to v3.3 in everything modelled here).

use super::bootable::{ImageProblem, Loads};
use super::partition::{OtaSlots, Partition, PartitionTable};
use super::{le32, Error, Result};

pub const OTADATA_LEN: usize = 0x2000;
/// What a table without an otadata partition means, said once for every face.
pub const NO_OTADATA: &str =
    "the partition table has no otadata partition (type data, subtype ota), so the bootloader always starts the factory app";
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
        let part = table
            .otadata()
            .ok_or_else(|| Error::Invalid(NO_OTADATA.into()))?;
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
fn short(p: &ImageProblem) -> String {
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

    /// Only these partitions hold a loadable image; the others are erased.
    fn only(names: &'static [&'static str]) -> impl Fn(&Partition) -> Loads {
        move |p: &Partition| {
            if names.contains(&p.name().as_str()) {
                Loads::Yes
            } else {
                Loads::No(ImageProblem::Erased)
            }
        }
    }

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
