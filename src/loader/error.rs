//! Typed errors of the loader and the device layer. The message says what happened in plain
//! words; what to try is kept apart ([`Error::hints`]), so each face (page, CLI) shows the hints
//! that fit its link, and decisions are made on the kind, never on the text.

use super::port::PortError;
use crate::chips::UsbLink;
use crate::formats::bootable::ImageProblem;
use crate::formats::numbers::human_size;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    Port(PortError),
    /// No answer in time.
    Timeout(String),
    /// The device answered with an error status.
    Device(Rejected),
    /// The chip does not answer (at all, or any more).
    NoAnswer(NoAnswer),
    Unsupported(String),
    /// Written data does not read back as sent.
    Verify(String),
    /// Refused before anything was written.
    Refused(Refusal),
    Protocol(String),
    /// Stopped on request, between blocks (nothing half-done beyond the block in flight).
    Cancelled,
    /// The running app's Improv Wi-Fi service answered with an error state.
    Improv(crate::wire::improv::ErrorState),
}

/// A command the ROM loader or the stub answered with an error status, kept as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    pub op: u8,
    pub error: crate::wire::DeviceError,
    /// The stub answered (else the ROM loader).
    pub stub: bool,
}

impl Rejected {
    /// "FLASH_DEFL_DATA failed: bad data checksum (error 0xC1) (stub)".
    pub fn message(&self) -> String {
        format!(
            "{} failed: {} ({})",
            crate::wire::command::op_name(self.op),
            self.error,
            if self.stub { "stub" } else { "ROM" }
        )
    }

    /// The frame arrived damaged or out of step (checksum, length, the compressed stream), which
    /// sending the run again can cure; not a flash that failed or a parameter it refused.
    pub fn transient(&self) -> bool {
        let e = self.error;
        if e.status == 1 {
            // ROM: receive failed, invalid message, checksum, deflate errors.
            matches!(e.code, 0x04 | 0x05 | 0x07 | 0x0B | 0x0C)
        } else {
            // Stub: bad data length or checksum, inflate error, not enough / too much data.
            matches!(e.status, 0xC0 | 0xC1 | 0xC7 | 0xC8 | 0xC9)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    /// It never answered in download mode. `console`: what the port printed meanwhile.
    DownloadMode { console: String },
    /// The link stopped working after switching to `baud` and could not go back.
    AfterBaud { baud: u32 },
    /// It stopped answering during a write.
    MidWrite,
    /// It stopped answering, and this port has no control lines to reset it.
    CannotReset,
}

/// Why something was not done; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    PastFlashEnd {
        offset: u32,
        len: u64,
        flash: u32,
    },
    /// Erases work on whole 4 KiB sectors.
    Unaligned {
        offset: u32,
        size: u32,
    },
    /// The file is not an image at all (the words say what it is).
    NotAnImage(String),
    /// The bootloader would refuse the image, or it is no app for a slot.
    Image(Vec<ImageProblem>),
    NoPartition(String),
    NotAnAppSlot {
        label: String,
        kind: String,
    },
    /// The slot holds the app that boots now.
    BootsNow(String),
    /// The table's MD5 does not match: the bootloader rejects it.
    TableRejected,
    NoOtadata,
    /// otadata cannot express the change (the words say why).
    Otadata(String),
    /// Booting would be switched to a slot whose image the bootloader does not load.
    WontLoad {
        label: String,
        problem: ImageProblem,
    },
    /// An install whose checks found what stops it (the plan's words).
    Install(Vec<String>),
    /// Something that needs the technician's yes was not confirmed (the plan's words).
    Unconfirmed(Vec<String>),
    /// An NVS change that cannot be made as asked (the words say why).
    Nvs(String),
    /// What the board holds does not allow it: no readable table, no idle OTA slot, no build
    /// for this chip (the words say why).
    Board(String),
    /// The chip's security state forbids the write.
    Security(crate::chips::security::WriteBlock),
}

impl Refusal {
    /// What to try instead (whatever the link).
    pub fn hints(&self) -> Vec<Hint> {
        match self {
            Refusal::Unaligned { .. } => vec![Hint::WholeSectors],
            Refusal::BootsNow(_) => vec![Hint::OtherSlot],
            Refusal::Image(p)
                if p.iter()
                    .any(|p| matches!(p, ImageProblem::TooBigForSlot(_))) =>
            {
                vec![Hint::BiggerSlot]
            }
            _ => vec![],
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::PastFlashEnd { offset, len, flash } => format!(
                "{} at 0x{offset:x} would end at 0x{:x}, past the end of the {} flash",
                human_size(*len),
                *offset as u64 + len,
                human_size(*flash as u64)
            ),
            Refusal::Unaligned { offset, size } => format!(
                "0x{offset:x}+0x{size:x}: offset and size must be multiples of 4 KiB (a flash sector)"
            ),
            Refusal::NotAnImage(words) => words.clone(),
            Refusal::Image(problems) => problems
                .iter()
                .map(|p| p.message())
                .collect::<Vec<_>>()
                .join("; "),
            Refusal::NoPartition(label) => format!("there is no partition named '{label}'"),
            Refusal::NotAnAppSlot { label, kind } => {
                crate::formats::bootable::not_an_app_slot(label, kind)
            }
            Refusal::BootsNow(label) => format!(
                "'{label}' holds the app that boots now; write the other OTA slot"
            ),
            Refusal::TableRejected => "the partition table's MD5 does not match its entries, so the bootloader rejects it: fix the table first".into(),
            Refusal::NoOtadata => crate::formats::otadata::NO_OTADATA.into(),
            Refusal::Otadata(words) => words.clone(),
            Refusal::WontLoad { label, problem } => format!(
                "'{label}' would not boot: it is {} — the bootloader would skip it",
                problem.message()
            ),
            Refusal::Install(why) => format!("nothing written: {}", why.join("; ")),
            Refusal::Unconfirmed(what) => format!(
                "nothing written without a yes to: {}",
                what.join("; ")
            ),
            Refusal::Nvs(words) => format!("nothing written: {words}"),
            Refusal::Board(words) => format!("nothing written: {words}"),
            Refusal::Security(b) => format!("nothing written: {}", b.message()),
        }
    }
}

impl NoAnswer {
    pub fn message(&self) -> String {
        match self {
            NoAnswer::DownloadMode { console } => {
                let mut m = "the chip did not answer in download mode".to_string();
                if !console.trim().is_empty() {
                    m.push_str(&format!(" (the port printed: {:?})", console.trim()));
                }
                m
            }
            NoAnswer::AfterBaud { baud } => {
                format!("the link stopped working after switching to {baud} baud")
            }
            NoAnswer::MidWrite => "the device stopped answering during the write".into(),
            NoAnswer::CannotReset => {
                "the chip stopped answering, and this port cannot reset it".into()
            }
        }
    }
}

/// Something to try, shown apart from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    BootButton,
    DataCable,
    Driver,
    PortBusy,
    LowerBaud,
    ResetByHand,
    BridgeRunning,
    BridgeDownloadMode,
    /// Download mode by hand on the chip's own USB (BOOT held while it resets).
    NativeUsbBoot,
    /// The chip's own USB-OTG port re-enumerates after a reset: pick the new one.
    PickPortAgain,
    /// A raw byte bridge to a real UART keeps its own rate: the chip cannot be moved off it.
    RawBridgeBaud,
    /// The board went quiet part-way: power, cable, reset, and the job again.
    PowerAndCable,
    /// Erases and writes go by whole 4 KiB sectors.
    WholeSectors,
    /// The slot that boots now is not written over.
    OtherSlot,
    /// The app does not fit its slot.
    BiggerSlot,
    /// The board's app could not join the network with what was sent.
    WifiPassword,
}

/// What kind of failure ended a job: the page's colours and the CLI's exit status follow it
/// (README: exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailKind {
    /// Bad input or a refusal: nothing was written. Exit 1.
    Refused,
    /// The board or the link failed (no answer, an error status, a dropped link). Exit 2.
    Board,
    /// What was written does not read back as sent. Exit 3.
    Verify,
}

impl FailKind {
    pub fn exit_code(self) -> u8 {
        match self {
            FailKind::Refused => 1,
            FailKind::Board => 2,
            FailKind::Verify => 3,
        }
    }

    /// The kind in one word (`--json`, the page's `data-kind`).
    pub fn word(self) -> &'static str {
        match self {
            FailKind::Refused => "refused",
            FailKind::Board => "board",
            FailKind::Verify => "verify",
        }
    }
}

/// What the link to the chip goes through, for choosing hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A network bridge (WebSocket, a TCP serial server).
    Network,
    /// A serial port, with what its USB ids say when the host tells them.
    Serial(Option<UsbLink>),
}

impl Hint {
    pub fn text(self) -> &'static str {
        match self {
            Hint::BootButton => "Hold the BOOT button (GPIO0; GPIO9 on the C- and H-series chips), press and release EN/RESET, release BOOT, then connect again.",
            Hint::DataCable => "Use a data USB cable: some cables only charge.",
            Hint::Driver => "Install the USB-serial driver for your board (CP210x, CH34x, FTDI) if the port does not show up.",
            Hint::PortBusy => "Close other programs and browser tabs that have the port open (serial monitors, other flashers).",
            Hint::LowerBaud => "Choose a lower baud rate: some USB-serial adapters cannot go faster.",
            Hint::ResetByHand => "Reset the chip into download mode by hand (hold BOOT, press EN), then connect again.",
            Hint::BridgeRunning => "Check that the bridge runs at that address and port (e.g. otaflash sim --ws, or a serial server).",
            Hint::BridgeDownloadMode => "A byte bridge may not pass DTR/RTS: put the chip into download mode by hand (hold BOOT, press EN).",
            Hint::NativeUsbBoot => "On the chip's own USB port: hold BOOT, press and release RESET (or unplug and plug the cable in), release BOOT, then connect again.",
            Hint::PickPortAgain => "The chip's own USB-OTG port comes back under a new name after each reset: connect again and pick the new port.",
            Hint::PowerAndCable => "Check the board's power supply and cable, press EN/RESET, then connect again and run the job again.",
            Hint::WholeSectors => "Give a start and a size that are multiples of 0x1000 (4096 bytes, one flash sector).",
            Hint::OtherSlot => "Write the other OTA slot (the Update panel picks the idle one), or make another slot boot first.",
            Hint::BiggerSlot => "Use a build made for this board's partition table, or install one with larger app slots (a full install says what it replaces).",
            Hint::WifiPassword => "Check the network's name and password (both are case-sensitive) and that the board is in range of it, then send them again.",
            Hint::RawBridgeBaud => "A raw bridge to a real serial port (ser2net, a serial server) keeps its own rate and cannot follow the chip to another one: reset the board (EN/RESET) and connect again without a baud rate (no --baud, no &baud=), which stays at 115200.",
        }
    }
}

impl Error {
    /// What to try, for the link it happened on.
    pub fn hints(&self, via: Via) -> Vec<Hint> {
        use Hint::*;
        let bridge = via == Via::Network;
        let usb = match via {
            Via::Serial(u) => u,
            Via::Network => None,
        };
        match self {
            Error::NoAnswer(NoAnswer::DownloadMode { .. }) if bridge => {
                vec![BridgeDownloadMode, BridgeRunning]
            }
            Error::NoAnswer(NoAnswer::DownloadMode { .. }) => match usb {
                Some(UsbLink::SerialJtag) => vec![NativeUsbBoot, DataCable, PortBusy],
                Some(UsbLink::Otg(_)) => vec![NativeUsbBoot, PickPortAgain, DataCable],
                _ => vec![BootButton, DataCable, Driver, PortBusy],
            },
            Error::NoAnswer(NoAnswer::AfterBaud { .. }) if bridge => vec![RawBridgeBaud, LowerBaud],
            Error::NoAnswer(NoAnswer::AfterBaud { .. }) => vec![LowerBaud],
            Error::NoAnswer(NoAnswer::CannotReset) => vec![ResetByHand, LowerBaud],
            Error::NoAnswer(NoAnswer::MidWrite) | Error::Timeout(_) if bridge => {
                vec![PowerAndCable, BridgeRunning]
            }
            Error::NoAnswer(NoAnswer::MidWrite) | Error::Timeout(_) => {
                vec![PowerAndCable, DataCable, LowerBaud]
            }
            Error::Port(_) if bridge => vec![BridgeRunning],
            Error::Port(PortError::Disconnected(_)) if matches!(usb, Some(UsbLink::Otg(_))) => {
                vec![PickPortAgain, DataCable]
            }
            Error::Port(_) => vec![DataCable, PortBusy],
            Error::Refused(r) => r.hints(),
            Error::Improv(crate::wire::improv::ErrorState::UnableToConnect) => vec![WifiPassword],
            _ => vec![],
        }
    }

    /// The kind, for the page's colours and the CLI's exit status.
    pub fn kind(&self) -> FailKind {
        match self {
            Error::Refused(_) => FailKind::Refused,
            Error::Verify(_) => FailKind::Verify,
            _ => FailKind::Board,
        }
    }

    /// Nothing was written because of it.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Error::Refused(_))
    }

    /// Sending the same data again may cure it: no answer, a garbled answer, or a frame the
    /// chip received damaged ([`Rejected::transient`]).
    pub fn worth_resending(&self) -> bool {
        match self {
            Error::Timeout(_) | Error::Protocol(_) => true,
            Error::Device(r) => r.transient(),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Port(e) => e.fmt(f),
            Error::Device(r) => f.write_str(&r.message()),
            Error::Timeout(m) | Error::Unsupported(m) | Error::Verify(m) | Error::Protocol(m) => {
                f.write_str(m)
            }
            Error::NoAnswer(n) => f.write_str(&n.message()),
            Error::Refused(r) => f.write_str(&r.message()),
            Error::Cancelled => f.write_str("cancelled"),
            Error::Improv(e) => f.write_str(&e.message()),
        }
    }
}

impl std::error::Error for Error {}

impl From<PortError> for Error {
    fn from(e: PortError) -> Self {
        Error::Port(e)
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        Error::Refused(r)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod rejected_tests {
    use super::*;
    use crate::wire::DeviceError;

    fn rejected(status: u8, code: u8, stub: bool) -> Rejected {
        Rejected {
            op: crate::wire::op::FLASH_DEFL_DATA,
            error: DeviceError { status, code },
            stub,
        }
    }

    #[test]
    fn only_damaged_frames_are_sent_again() {
        // Checksum and stream errors: the data was damaged on the way.
        assert!(rejected(1, 0x07, false).transient());
        assert!(rejected(0xC1, 0, true).transient());
        assert!(rejected(0xC7, 0, true).transient());
        // A flash that failed, a parameter refused, a command not there: sending again is no use.
        assert!(!rejected(1, 0x08, false).transient());
        assert!(!rejected(1, 0x01, false).transient());
        assert!(!rejected(0xC4, 0, true).transient());
        assert!(!rejected(0xFF, 0, true).transient());
        let e = Error::Device(rejected(0xC1, 0, true));
        assert!(e.worth_resending());
        assert_eq!(
            e.to_string(),
            "FLASH_DEFL_DATA failed: bad data checksum (error 0xC1) (stub)"
        );
        assert!(!Error::Device(rejected(1, 0x08, false)).worth_resending());
    }
}
