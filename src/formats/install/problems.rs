//! What stands in the way of an install (blockers) and what needs the technician's yes
//! (cautions), each said in plain words.

use crate::formats::bootable::ImageProblem;
use crate::formats::numbers::human_size;
/// What stops an install: nothing is written.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocker {
    NoParts,
    EmptyFile(String),
    /// Not at a 4 KiB sector start: writing would erase the bytes before it in its sector.
    Unaligned {
        part: String,
        offset: u32,
    },
    Overlap {
        a: String,
        b: String,
    },
    PastEnd {
        part: String,
        end: u64,
        flash: u32,
    },
    /// An image the bootloader would refuse on this chip (wrong chip, revision, corrupt).
    BadImage {
        part: String,
        problems: Vec<ImageProblem>,
    },
    /// A table that does not decode, or that the bootloader rejects.
    BadTable {
        part: String,
        why: String,
    },
    /// Encrypting on write was asked for a whole flash image, whose regions the chip keeps
    /// partly encrypted (bootloader, table, apps) and partly not (otadata, NVS).
    MixedImage(String),
    /// A file that is no firmware image where one must be: at the bootloader's offset, or in
    /// an app partition (a text file over the only app, say).
    NotAnImage {
        part: String,
        /// "the bootloader's place (0x1000)", "app partition 'app0'".
        place: String,
        size: u64,
    },
    /// After this install nothing would boot (said why); only a deliberate override turns it
    /// into a caution that names the consequence.
    NothingBoots(String),
}

impl Blocker {
    pub fn message(&self) -> String {
        match self {
            Blocker::NoParts => "nothing to install".into(),
            Blocker::EmptyFile(p) => format!("{p} is empty"),
            Blocker::Unaligned { part, offset } => format!(
                "{part} at 0x{offset:x} does not start a 4 KiB flash sector: writing it would erase the bytes before it in that sector"
            ),
            Blocker::Overlap { a, b } => format!("{a} and {b} overlap"),
            Blocker::PastEnd { part, end, flash } => format!(
                "{part} ends at 0x{end:x}, past the end of the {} flash",
                human_size(*flash as u64)
            ),
            Blocker::BadImage { part, problems } => format!(
                "{part}: {}",
                problems
                    .iter()
                    .map(|p| p.message())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Blocker::BadTable { part, why } => format!("{part}: {why}"),
            Blocker::NotAnImage { part, place, size } => format!(
                "{part} ({size} bytes) is no firmware image, but it would go into {place}: the chip would not start from it"
            ),
            Blocker::NothingBoots(why) => format!(
                "after this, nothing would boot: {why} (install a bootloader, a table and an app — or override on purpose)"
            ),
            Blocker::MixedImage(part) => format!(
                "{part} is a whole flash image: to have the chip encrypt it, install its parts (bootloader, partition table, apps, data) so each is encrypted or not as the chip keeps it"
            ),
        }
    }
}

/// How a data partition's contents are lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loss {
    /// The new table puts it at another offset.
    Moved(u32),
    /// The new table makes it smaller.
    Shrunk(u32),
    /// The new table has no such partition.
    Removed,
    /// A part is written over it.
    Overwritten(String),
    /// The whole flash is erased first.
    Erased,
}

/// What needs the technician's yes before writing.
#[derive(Debug, Clone, PartialEq)]
pub enum Caution {
    /// The contents of a data partition (NVS, SPIFFS, …) are lost.
    DataLost {
        label: String,
        offset: u32,
        size: u32,
        how: Loss,
    },
    /// The bootloader's header says another flash size than the chip has: it will check the
    /// partition table against that size (`exceeds flash chip size` when smaller).
    BootloaderFlashSize {
        part: String,
        header: u32,
        flash: u32,
        beyond: Vec<String>,
    },
    /// The bootloader's header names a flash mode or frequency this chip does not know.
    BootloaderUnknownFlash { part: String, what: String },
    /// The bootloader's header runs the flash another way (mode, frequency) than the bootloader
    /// on the board now: a flash that cannot do it does not boot.
    BootloaderFlashMode {
        part: String,
        new: (String, String),
        now: (String, String),
    },
    /// A bootloader image somewhere else than where the ROM looks for it.
    BootloaderElsewhere {
        part: String,
        offset: u32,
        expected: u32,
    },
    /// A partition table somewhere else than where the bootloader reads it.
    TableElsewhere {
        part: String,
        offset: u32,
        expected: u32,
    },
    /// An app where no app partition starts: the bootloader will not run it from there.
    AppNotInSlot { part: String, offset: u32 },
    /// otadata written somewhere else than the table's otadata partition.
    OtadataElsewhere { part: String, offset: u32 },
    /// The board has no bootloader or table and the install does not bring one: nothing boots.
    NothingBoots(String),
    /// The board's flash cannot be read (flash encryption, secure download mode): what the
    /// install overwrites cannot be listed.
    BoardUnreadable,
}

impl Caution {
    pub fn message(&self) -> String {
        match self {
            Caution::DataLost {
                label,
                offset,
                size,
                how,
            } => {
                let what = format!(
                    "the data in '{label}' (0x{offset:x}, {}) is lost",
                    human_size(*size as u64)
                );
                match how {
                    Loss::Moved(to) => format!("{what}: the new partition table moves it to 0x{to:x}"),
                    Loss::Shrunk(to) => format!(
                        "{what}: the new partition table shrinks it to {}",
                        human_size(*to as u64)
                    ),
                    Loss::Removed => format!("{what}: the new partition table has no such partition"),
                    Loss::Overwritten(p) => format!("{what}: {p} is written over it"),
                    Loss::Erased => format!("{what}: the whole flash is erased first"),
                }
            }
            Caution::BootloaderFlashSize {
                part,
                header,
                flash,
                beyond,
            } => {
                let mut m = format!(
                    "{part}: its header says a {} flash, the chip has {}",
                    human_size(*header as u64),
                    human_size(*flash as u64)
                );
                if !beyond.is_empty() {
                    m.push_str(&format!(
                        "; the bootloader would reject the partition table ({} past {})",
                        beyond.join(", "),
                        human_size(*header as u64)
                    ));
                }
                m
            }
            Caution::BootloaderUnknownFlash { part, what } => format!(
                "{part}: its header asks for {what}, which this chip does not know: it may not boot"
            ),
            Caution::BootloaderFlashMode { part, new, now } => format!(
                "{part}: its header runs the flash in {} at {}; the bootloader on the board now uses {} at {}. \
                 A flash that cannot do {} at {} does not boot it (the header is written as it is)",
                new.0.to_ascii_uppercase(),
                new.1,
                now.0.to_ascii_uppercase(),
                now.1,
                new.0.to_ascii_uppercase(),
                new.1
            ),
            Caution::BootloaderElsewhere {
                part,
                offset,
                expected,
            } => format!(
                "{part} is a bootloader at 0x{offset:x}; the ROM starts the one at 0x{expected:x}"
            ),
            Caution::TableElsewhere {
                part,
                offset,
                expected,
            } => format!(
                "{part} is a partition table at 0x{offset:x}; the bootloader reads the one at 0x{expected:x}"
            ),
            Caution::AppNotInSlot { part, offset } => format!(
                "{part} is an app at 0x{offset:x}, where no app partition starts: the bootloader will not run it from there"
            ),
            Caution::OtadataElsewhere { part, offset } => format!(
                "{part} is otadata at 0x{offset:x}, not at the table's otadata partition"
            ),
            Caution::NothingBoots(why) => format!("after this, nothing will boot: {why}"),
            Caution::BoardUnreadable => "what the board holds cannot be read (flash encryption or secure download mode), so what this install overwrites cannot be listed".into(),
        }
    }
}
