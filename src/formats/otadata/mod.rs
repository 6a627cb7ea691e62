//! The otadata partition (8 KiB, two 4 KiB sectors, one 32-byte `esp_ota_select_entry_t` at
//! the start of each): entries, their CRC and validity, which sector is active. What the
//! bootloader does with it is in [`boot`]; the changes the ESP-IDF app side and the tools make
//! are in [`edit`].

mod boot;
mod edit;

pub use boot::{contents_unknown, predict_boot, Boot, Selected};
pub use edit::{
    confirmed_active, erase, mark_running_invalid, mark_running_valid, set_boot, write_order,
};

use super::partition::PartitionTable;
use super::{le32, Error, Result};

pub use super::partition::NO_OTADATA;
pub use super::sizes::{OTADATA_LEN, SECTOR_LEN};
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

    /// What the state means to the bootloader, in words (esp_ota_ops.h; bootloader_utility.c).
    pub fn meaning(self) -> &'static str {
        match self {
            OtaState::New => "not booted yet; rolls back unless the app confirms itself",
            OtaState::PendingVerify => "booted once and not confirmed: the next boot rolls back",
            OtaState::Valid => "confirmed by the app",
            OtaState::Invalid => "rejected: rolled back",
            OtaState::Aborted => "rejected: rolled back",
            OtaState::Undefined => "no rollback state (boots as without rollback)",
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
    super::crc32_le(0xFFFF_FFFF, &seq.to_le_bytes())
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
    pub(crate) fn erased_or_bad(&self) -> bool {
        self.seq == SEQ_ERASED || !self.crc_ok()
    }

    pub(crate) fn with_state(mut self, state: OtaState) -> Self {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::formats::bootable::{ImageProblem, Loads};
    use crate::formats::partition::Partition;

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

    pub fn table(csv: &str) -> PartitionTable {
        PartitionTable::from_csv(csv, 0x8000).unwrap()
    }

    /// Only these partitions hold a loadable image; the others are erased.
    pub fn only(names: &'static [&'static str]) -> impl Fn(&Partition) -> Loads {
        move |p: &Partition| {
            if names.contains(&p.name().as_str()) {
                Loads::Yes
            } else {
                Loads::No(ImageProblem::Erased)
            }
        }
    }

    pub const NO_FACTORY: &str =
        "otadata,data,ota,0xd000,0x2000\na,app,ota_0,,1M\nb,app,ota_1,,1M\n";

    pub const WITH_FACTORY: &str =
        "otadata,data,ota,0xd000,0x2000\nf,app,factory,,1M\na,app,ota_0,,1M\nb,app,ota_1,,1M\n";
}
