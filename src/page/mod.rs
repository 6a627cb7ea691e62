//! The page's state with one board, as a pure reducer: every change is an [`Action`], the state
//! says what the page shows and what the technician may do next. No I/O and no clock: times
//! come in with the actions. The page wraps it in a Yew reducer and runs the engine beside it;
//! tests drive it directly.

use crate::chips::security::{SecureBoot, Security};
use crate::chips::Chip;
use crate::device::update::Verdict;
use crate::device::{judge_boot, slot_write_refusals, Snapshot, TableProblem};
use crate::formats::bootable::{Loads, SlotImage, Slots, Target};
use crate::formats::image::{Header, Image};
use crate::formats::otadata::{Boot, Otadata};
use crate::formats::partition::{Partition, PartitionTable, DEFAULT_TABLE_OFFSET};
use crate::formats::update::{Build, UpdatePlan};
use crate::loader::{FailKind, Hint, Phase, Progress, Refusal, Via, WriteReport};
use std::collections::BTreeMap;
use std::rc::Rc;

pub mod button;
pub mod fleet;
pub mod improv;
pub mod install;
pub mod nvs;
mod reduce;
mod timeline;
mod update;
pub use timeline::{LogLine, Source, Timeline};
pub use update::{Finished, Firmware, FirmwareStage, Offer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// A USB serial port through Web Serial.
    Serial,
    /// The simulated chip running in the page, of this kind.
    Sim(&'static Chip),
    /// A WebSocket bridge (`otaflash sim --ws`, websockify in front of a serial server).
    Ws,
}

/// What a WebSocket bridge's binary frames carry, from the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsSpeaks {
    /// `ws://` / `wss://`: serial bytes as they are; no control lines, so no reset: the chip
    /// must already be in download mode.
    Raw,
    /// `rfc2217+ws://` / `rfc2217+wss://`: RFC 2217 (baud and DTR/RTS, so the usual reset).
    Rfc2217,
}

impl WsSpeaks {
    /// Reads a bridge URL: what it speaks and the WebSocket URL to open.
    pub fn of(url: &str) -> Result<(WsSpeaks, &str), String> {
        let url = url.trim();
        let (speaks, ws) = match url.strip_prefix("rfc2217+") {
            Some(rest) => (WsSpeaks::Rfc2217, rest),
            None => (WsSpeaks::Raw, url),
        };
        let host = ws
            .strip_prefix("ws://")
            .or_else(|| ws.strip_prefix("wss://"))
            .filter(|h| !h.is_empty());
        match host {
            Some(_) => Ok((speaks, ws)),
            None => Err(format!(
                "'{url}' is not a bridge URL: rfc2217+ws://HOST:PORT (RFC 2217, resets the chip) or ws://HOST:PORT (raw bytes; wss:// likewise)"
            )),
        }
    }

    /// What the technician should know before connecting through it.
    pub fn note(self) -> &'static str {
        match self {
            WsSpeaks::Raw => "Raw bytes: this bridge cannot reset the chip, and the link stays at 115200 unless you choose a baud (or add &baud=921600 to the address) — which only a bridge without a serial port of its own (an emulator) can follow. Put the chip into download mode by hand first (hold BOOT, press and release EN/RESET, release BOOT).",
            WsSpeaks::Rfc2217 => "RFC 2217: the page resets the chip and sets the baud through the bridge.",
        }
    }
}

impl PortKind {
    pub fn value(self) -> &'static str {
        match self {
            PortKind::Serial => "serial",
            PortKind::Sim(_) => "sim",
            PortKind::Ws => "ws",
        }
    }

    pub fn from_value(v: &str) -> Option<PortKind> {
        [
            PortKind::Serial,
            PortKind::Sim(crate::chips::ESP32),
            PortKind::Ws,
        ]
        .into_iter()
        .find(|k| k.value() == v)
    }

    /// A network bridge, not a cable: different things to try when it fails.
    pub fn is_bridge(self) -> bool {
        self == PortKind::Ws
    }
}

/// Why connecting failed, and what to try (apart from the message).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub kind: FailKind,
    pub message: String,
    pub hints: Vec<Hint>,
}

impl Failure {
    /// A loader or device error, with the hints for the link it happened on.
    pub fn of(e: &crate::loader::Error, via: Via) -> Failure {
        Failure {
            kind: e.kind(),
            message: e.to_string(),
            hints: e.hints(via),
        }
    }

    /// Refused before anything was done, in words.
    pub fn refused(message: impl Into<String>) -> Failure {
        Failure {
            kind: FailKind::Refused,
            message: message.into(),
            hints: vec![],
        }
    }
}

/// A job that ended in a failure: shown in the panel that ran it, with what to try.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFailed {
    pub job: JobKind,
    pub failure: Failure,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    Idle,
    Connecting,
    /// In download mode: the loader (ROM or stub) answers.
    Connected,
    /// The port is open on the running app's serial console (no download mode).
    Console,
    Failed(Failure),
}

/// What the board told about itself, for display.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardInfo {
    pub chip: &'static Chip,
    pub description: String,
    pub mac: String,
    /// major × 100 + minor, as images state their limits.
    pub revision: u16,
    pub flash_size: u32,
    pub stub: bool,
    pub baud: u32,
    /// Flash encryption, secure boot, secure download mode, JTAG.
    pub security: Security,
    /// Revision and MAC were read (not in secure download mode).
    pub identity_read: bool,
    /// The flash size was read from the flash chip (not in secure download mode).
    pub flash_detected: bool,
}

impl BoardInfo {
    /// What the security state means for the technician, one line each (none when nothing is
    /// enabled).
    pub fn security_notes(&self) -> Vec<&'static str> {
        let s = &self.security;
        let mut v = vec![];
        if s.flash_encrypted() {
            v.push("Flash encryption is on: reads return ciphertext, so the layout, otadata, what the slots hold and NVS cannot be shown. Plain images are refused (they would not decrypt at boot): install files encrypted for this chip's key, or in development mode have the chip encrypt them as it writes (Install or recover). otadata is not switched from here.");
        }
        if s.secure_download {
            v.push("Secure download mode: no flasher stub, no reads and no MD5 checks — nothing written could be verified.");
        }
        if s.secure_boot != SecureBoot::Off {
            v.push("Secure boot is on: the bootloader only starts images signed with this device's key.");
        }
        v
    }

    pub fn target(&self) -> Target {
        Target::chip(self.chip, Some(self.revision)).with_secure_boot(self.security.secure_boot)
    }
}

/// A .bin the technician picked to flash.
#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    pub name: String,
    pub bytes: Rc<Vec<u8>>,
    pub md5: [u8; 16],
    /// The decoded image, or why it is none (plain words first).
    pub image: Result<Image, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Connect,
    ReadLayout,
    /// The one safe update: write, switch (or install), then confirm what runs.
    Update,
    /// Writing an image into a slot.
    Flash,
    /// Reading a slot's image whole to check it.
    Verify,
    /// Writing otadata.
    Otadata,
    Backup,
    /// Watching the serial console.
    Console,
    /// Loading an image or manifest.
    Load,
    /// Installing parts at offsets (a manifest's build, a merged image, files).
    Install,
    /// Erasing flash.
    Erase,
    /// Reading an NVS partition.
    NvsRead,
    /// Writing an NVS partition.
    NvsWrite,
}

impl JobKind {
    /// Something that leaves the flash half-changed if the page goes away now.
    pub fn writes(self) -> bool {
        matches!(
            self,
            JobKind::Update
                | JobKind::Flash
                | JobKind::Otadata
                | JobKind::Install
                | JobKind::Erase
                | JobKind::NvsWrite
        )
    }

    /// What the job is, in a word or two ("Install", "Erase"), to head what it says.
    pub fn title(self) -> &'static str {
        match self {
            JobKind::Connect => "Connect",
            JobKind::ReadLayout => "Reading the board",
            JobKind::Update => "Update",
            JobKind::Flash => "Flash",
            JobKind::Verify => "Verify",
            JobKind::Otadata => "otadata",
            JobKind::Backup => "Backup",
            JobKind::Console => "Console",
            JobKind::Load => "Loading",
            JobKind::Install => "Install",
            JobKind::Erase => "Erase",
            JobKind::NvsRead | JobKind::NvsWrite => "NVS",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    Idle,
    /// Something runs; the page must not start anything else on the device.
    Busy {
        kind: JobKind,
        what: String,
        progress: Option<Progress>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Working,
    Done,
    Warning,
    Error,
}

/// The one line that says where things stand now.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub tone: Tone,
    pub text: String,
}

impl Status {
    fn new(tone: Tone, text: impl Into<String>) -> Status {
        Status {
            tone,
            text: text.into(),
        }
    }
}

/// What a slot was written with in this session and verified by MD5.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub file: String,
    pub md5: [u8; 16],
}

#[derive(Debug, Clone, PartialEq)]
pub struct PageState {
    pub port_kind: PortKind,
    pub ws_url: String,
    /// The baud the technician asked for (the baud choice, `&baud=`), or None for the default
    /// (921600 where the link carries it; see `OpenOptions::baud`).
    pub baud: Option<u32>,
    pub link: Link,
    pub board: Option<BoardInfo>,
    pub table_offset: u32,
    /// The partition table read from the board, or why there is none.
    pub table: Option<Result<PartitionTable, TableProblem>>,
    pub otadata: Option<Otadata>,
    /// otadata as read when the layout was first read: what "undo" goes back to.
    pub otadata_at_connect: Option<Otadata>,
    /// What each app slot holds, as far as it was read.
    pub slots: Slots,
    /// The header of the bootloader on the board (its flash mode, frequency and size).
    pub bootloader: Option<Header>,
    /// Slots written and MD5-verified in this session, by partition offset.
    pub written: BTreeMap<u32, Written>,
    pub image: Option<Picked>,
    pub target: Option<String>,
    pub job: Job,
    pub status: Option<Status>,
    /// One timeline of what otaflash did and what the chip printed.
    pub log: Timeline,
    pub rollback: bool,
    /// The firmware to put on the board (one for every panel).
    pub firmware: Option<Firmware>,
    /// The picked image is the firmware's app (offered), not a file picked by hand.
    pub image_offered: bool,
    /// Nothing but reading has happened since the board was connected (so "already up to
    /// date" is the news, not a later job's result).
    pub fresh: bool,
    /// The update for this board and that firmware, as decided from what the board holds.
    pub plan: Option<UpdatePlan>,
    /// How the last update ended.
    pub finished: Option<Finished>,
    /// The last job's failure, until the next job starts.
    pub failed: Option<JobFailed>,
}

#[derive(Debug, Clone)]
pub enum Action {
    SetPortKind(PortKind),
    SetWsUrl(String),
    SetBaud(u32),
    SetTableOffset(u32),
    SetRollback(bool),
    Connecting,
    Connected(BoardInfo),
    ConnectFailed(Failure),
    /// The port is open on the app's console (no download mode).
    ConsoleOpened,
    Disconnected,
    /// What the board holds (read at connect, or again).
    Layout(Snapshot),
    /// otadata as read back after a change; `checked`: slots read whole on the way.
    Otadata(Otadata, Vec<(Partition, SlotImage)>),
    /// A slot's content, read (headers, or whole).
    SlotKnown(Partition, SlotImage),
    /// An image is on its way (a manifest or URL): the old choice no longer holds.
    ImageLoading(String),
    ImagePicked(String, Vec<u8>),
    /// Loading the image failed: nothing is picked.
    ImageFailed(String),
    ClearImage,
    SetTarget(String),
    JobStarted(JobKind, String),
    /// What the running job does now ("part 2 of 4: partitions.bin").
    JobStep(String),
    JobProgress(Progress),
    /// A job ended: the status line (Ok) or what went wrong.
    JobDone(Result<String, Failure>),
    /// Something asked for was refused before any job began (another job has the board, an
    /// entry that is no number): said, and the running job, if any, goes on.
    Refused(Failure),
    /// A write into this slot began: what was known of it no longer holds.
    SlotWriting(Partition),
    /// The picked image is in the slot, verified by MD5. `boot_next`: the same job goes on to
    /// make it boot next (else it was "write only", and what booted still boots).
    SlotWritten {
        partition: Partition,
        slot: SlotImage,
        report: WriteReport,
        file: String,
        boot_next: bool,
    },
    /// otaflash's own log line, at a wall-clock time.
    Log {
        clock: String,
        text: String,
    },
    /// Text the device printed on its console.
    Console {
        clock: String,
        text: String,
    },
    ClearLog,
    /// Firmware is on its way (from an address, or picked files).
    FirmwareLoading(String),
    /// A manifest was read: its product's name and version.
    FirmwareLoaded {
        from: String,
        name: Option<String>,
        version: Option<String>,
    },
    /// The build for the connected chip, its parts read.
    FirmwareResolved(Build),
    /// The firmware could not be used: at which stage, and why in words.
    FirmwareFailed(FirmwareStage, String),
    /// What the update will do on this board.
    UpdatePlanned(UpdatePlan),
    /// The board could not be read to plan the update.
    UpdatePlanFailed(Failure),
    /// How the update ended (confirmed running, not confirmed, not running).
    UpdateFinished(Verdict, String),
    /// The update stopped on a failure before the app could run (words: what was done, what
    /// holds now).
    UpdateStopped(Failure),
    /// The loaded firmware's app, offered to the flash panel (said nowhere).
    ImageOffered(String, Vec<u8>),
    /// The link to the board went away with no click (a bridge closed, a port unplugged).
    LinkLost(String),
}

impl Default for PageState {
    fn default() -> Self {
        PageState {
            port_kind: PortKind::Sim(crate::chips::ESP32),
            ws_url: "rfc2217+ws://127.0.0.1:5556".into(),
            baud: None,
            link: Link::Idle,
            board: None,
            table_offset: DEFAULT_TABLE_OFFSET,
            table: None,
            otadata: None,
            otadata_at_connect: None,
            slots: Slots::default(),
            bootloader: None,
            written: BTreeMap::new(),
            image: None,
            target: None,
            job: Job::Idle,
            status: None,
            log: Timeline::default(),
            rollback: false,
            firmware: None,
            image_offered: false,
            fresh: false,
            plan: None,
            finished: None,
            failed: None,
        }
    }
}

fn md5(b: &[u8]) -> [u8; 16] {
    crate::formats::md5(b)
}

impl PageState {
    fn say(&mut self, tone: Tone, text: impl Into<String>) {
        self.status = Some(Status::new(tone, text));
    }

    pub fn apply(&mut self, action: Action) {
        match action {
            Action::SetPortKind(k) => self.port_kind = k,
            Action::SetWsUrl(u) => self.ws_url = u,
            Action::SetBaud(b) => self.baud = Some(b),
            Action::SetTableOffset(o) => self.table_offset = o,
            Action::SetRollback(r) => self.rollback = r,
            Action::Connecting => {
                self.link = Link::Connecting;
                self.say(Tone::Working, "connecting…");
            }
            Action::Connected(d) => {
                self.fresh = true;
                self.say(Tone::Info, format!("connected to {}", d.description));
                self.board = Some(d);
                self.link = Link::Connected;
            }
            Action::ConnectFailed(f) => {
                self.say(Tone::Error, format!("could not connect: {}", f.message));
                self.link = Link::Failed(f);
                self.board = None;
                self.job = Job::Idle;
            }
            Action::ConsoleOpened => {
                self.link = Link::Console;
                self.say(
                    Tone::Info,
                    "serial console open (the app runs; no download mode)",
                );
            }
            Action::LinkLost(why) => self.link_lost(why),
            Action::Disconnected => self.disconnected(),
            Action::Layout(snap) => self.layout(snap),
            Action::Otadata(od, checked) => self.otadata_read(od, checked),
            Action::SlotKnown(p, s) => {
                self.slots.set(&p, s);
            }
            Action::ImageLoading(from) => {
                self.image = None;
                self.say(Tone::Working, format!("loading {from}…"));
            }
            Action::ImageOffered(name, bytes) => {
                // The firmware's app, offered to the flash panel: no news for the status line.
                let keep = self.status.clone();
                self.apply(Action::ImagePicked(name, bytes));
                self.status = keep;
                self.image_offered = !self.writing();
            }
            Action::ImagePicked(name, bytes) => self.image_picked(name, bytes),
            Action::ImageFailed(why) => {
                if !self.writing() {
                    self.image = None;
                }
                self.say(Tone::Error, why);
            }
            Action::ClearImage => {
                if !self.writing() {
                    self.image = None;
                }
            }
            Action::SetTarget(t) => {
                if !self.busy() {
                    self.target = Some(t);
                }
            }
            Action::JobStarted(kind, what) => self.job_started(kind, what),
            Action::JobStep(step) => {
                if let Job::Busy { what, progress, .. } = &mut self.job {
                    *what = step.clone();
                    *progress = None;
                    self.status = Some(Status::new(Tone::Working, format!("{step}…")));
                }
            }
            Action::JobProgress(p) => {
                if let Job::Busy { progress, .. } = &mut self.job {
                    *progress = Some(p);
                }
            }
            Action::JobDone(r) => self.job_done(r),
            Action::Refused(f) => self.say(Tone::Error, f.message),
            Action::SlotWriting(p) => {
                self.slots.forget(&p);
                self.written.remove(&p.offset);
            }
            Action::SlotWritten {
                partition,
                slot,
                report,
                file,
                boot_next,
            } => self.slot_written(partition, slot, report, file, boot_next),
            Action::Log { clock, text } => self.log.otaflash(&clock, &text),
            Action::Console { clock, text } => self.log.device(&clock, &text),
            Action::ClearLog => self.log.clear(),
            Action::FirmwareLoading(from) => self.firmware_loading(from),
            Action::FirmwareLoaded {
                from,
                name,
                version,
            } => self.firmware_loaded(from, name, version),
            Action::FirmwareResolved(b) => self.firmware_resolved(b),
            Action::FirmwareFailed(_, why) => self.firmware_failed(why),
            Action::UpdatePlanned(p) => self.update_planned(p),
            Action::UpdatePlanFailed(f) => {
                self.say(Tone::Error, f.message.clone());
                self.failed = Some(JobFailed {
                    job: JobKind::Update,
                    failure: f,
                });
            }
            Action::UpdateFinished(v, words) => self.update_finished(v, words, vec![]),
            Action::UpdateStopped(f) => {
                self.update_finished(Verdict::NotRunning, f.message.clone(), f.hints.clone());
                self.failed = Some(JobFailed {
                    job: JobKind::Update,
                    failure: f,
                });
            }
        }
    }

    /// Everything known of the board goes (it may change before the next connect); the link's
    /// settings, the firmware and the log stay. A write cut short is said as such.
    fn link_lost(&mut self, why: String) {
        let cut = match &self.job {
            Job::Busy { kind, what, .. } if kind.writes() => Some(what.clone()),
            _ => None,
        };
        let board = self.boot_slot_words();
        self.apply(Action::Disconnected);
        let mut words = format!("The link to the board was lost ({why}). Connect again to go on.");
        if let Some(what) = cut {
            words.push_str(&format!(
                " It was cut while {what}: what the board boots now is not known until it is read back{}.",
                board.map(|b| format!(" (before the write it booted {b})")).unwrap_or_default()
            ));
        }
        self.say(Tone::Error, words);
        self.finished = None;
    }

    fn boot_slot_words(&self) -> Option<String> {
        self.booted()
    }

    /// The result of reading the layout (which ends that job).
    fn layout(&mut self, snap: Snapshot) {
        self.job = Job::Idle;
        // What the board holds may have changed: the plan is made again.
        self.plan = None;
        let changed = self.table.as_ref().and_then(|t| t.as_ref().ok()) != snap.table.as_ref().ok();
        if changed {
            // Another table: what was known of its slots belongs to the old one.
            self.written.clear();
            self.otadata_at_connect = None;
        }
        match &snap.table {
            Ok(_) => self.say(Tone::Info, "layout read"),
            Err(e) => self.say(Tone::Warning, e.message()),
        }
        self.table = Some(snap.table);
        if self.otadata_at_connect.is_none() {
            self.otadata_at_connect = snap.otadata.clone();
        }
        self.otadata = snap.otadata;
        let mut slots = snap.slots;
        // What this session wrote and verified stays known whole, unless the board now says
        // otherwise (it changed under us).
        if let Some(t) = self.table() {
            for p in t.entries.iter().filter(|p| p.is_app()) {
                if let (Some(old), Some(new)) = (self.slots.get(p), slots.get(p)) {
                    if self.written.contains_key(&p.offset)
                        && old.header == new.header
                        && old.len == new.len
                    {
                        slots.set(p, old.clone());
                    }
                }
            }
        }
        self.slots = slots;
        self.bootloader = snap.bootloader;
        self.target = self.default_target();
    }

    pub fn connected(&self) -> bool {
        self.link == Link::Connected
    }

    pub fn busy(&self) -> bool {
        matches!(self.job, Job::Busy { .. })
    }

    pub fn job_kind(&self) -> Option<JobKind> {
        match &self.job {
            Job::Busy { kind, .. } => Some(*kind),
            Job::Idle => None,
        }
    }

    /// A write runs: leaving the page now would leave the flash half-changed.
    pub fn writing(&self) -> bool {
        self.job_kind().is_some_and(JobKind::writes)
    }

    pub fn table(&self) -> Option<&PartitionTable> {
        self.table.as_ref().and_then(|t| t.as_ref().ok())
    }

    pub fn table_problem(&self) -> Option<&TableProblem> {
        self.table.as_ref().and_then(|t| t.as_ref().err())
    }

    /// What the bootloader will do, as far as the slots are known.
    pub fn boot(&self) -> Option<Boot> {
        let t = self.table()?;
        let od = self.otadata.clone().unwrap_or_else(Otadata::blank);
        Some(judge_boot(t, &od, self.rollback, &self.slots))
    }

    /// The app that will boot.
    pub fn booted(&self) -> Option<String> {
        let t = self.table()?;
        self.boot()?.booted_partition(t).map(|p| p.name())
    }

    pub fn app_slots(&self) -> Vec<Partition> {
        self.table()
            .map(|t| t.entries.iter().filter(|p| p.is_app()).cloned().collect())
            .unwrap_or_default()
    }

    /// The OTA slot that will not boot (where an update goes).
    pub fn default_target(&self) -> Option<String> {
        let booted = self.booted();
        let slots = self.app_slots();
        slots
            .iter()
            .filter(|p| p.ota_index().is_some())
            .map(|p| p.name())
            .find(|n| Some(n) != booted.as_ref())
            .or_else(|| slots.first().map(|p| p.name()))
    }

    pub fn target_partition(&self) -> Option<Partition> {
        let t = self.target.as_ref()?;
        self.table()?.find(t).cloned()
    }

    /// Why the picked image must not go into the target slot (empty: it may). Checked as the
    /// bootloader would on this board (chip, revision, slot), or, before a board is connected,
    /// for the image's own consistency.
    pub fn image_problems(&self) -> Vec<Refusal> {
        let Some(p) = &self.image else { return vec![] };
        let slot = self.target_partition();
        let target = self.board.as_ref().map_or(Target::ANY, BoardInfo::target);
        let boots_now = slot
            .as_ref()
            .is_some_and(|s| Some(s.name()) == self.booted());
        // The same check the device layer makes before writing.
        slot_write_refusals(self.table(), slot.as_ref(), &p.bytes, target, boots_now).1
    }

    /// What the technician should know before writing the target, though nothing stops it:
    /// otadata already selects it, and the bootloader only skips it because of what it holds
    /// now; once a good image is in it, it boots at the next reset.
    pub fn flash_notice(&self) -> Option<String> {
        let t = self.table()?;
        let target = self.target_partition()?;
        let boot = self.boot()?;
        let selected = boot.selected_partition(t)?;
        if *selected != target || boot.booted_partition(t) == Some(&target) {
            return None;
        }
        let now = boot
            .booted_partition(t)
            .map_or("nothing boots".to_string(), |p| {
                format!("{} boots", p.name())
            });
        Some(format!(
            "otadata already selects {0}; now the bootloader skips it ({1}). Once this image is in {0}, {0} boots at the next reset, with no otadata change.",
            target.name(),
            boot.fallback_reason(t).unwrap_or(now)
        ))
    }

    /// Whether the Flash button does something now.
    pub fn can_flash(&self) -> bool {
        self.connected()
            && !self.busy()
            && self.image.is_some()
            && self.target_partition().is_some()
            && self.image_problems().is_empty()
    }

    /// The slot "boot next" is offered for: the target, when the bootloader is known to load
    /// its whole image (written and verified here, or read back) and it does not boot already.
    pub fn boot_next_offer(&self) -> Option<Partition> {
        let p = self.target_partition()?;
        let t = self.table()?;
        (self.connected()
            && !self.busy()
            && t.otadata().is_some()
            && p.ota_index().is_some()
            && self.slots.loads(&p) == Loads::Yes
            && self.booted().as_ref() != Some(&p.name()))
        .then_some(p)
    }

    /// What the slot was written with in this session, if it was.
    pub fn written_to(&self, p: &Partition) -> Option<&Written> {
        self.written.get(&p.offset)
    }

    /// Progress of the running job: (done, total, phase).
    pub fn progress(&self) -> Option<&Progress> {
        match &self.job {
            Job::Busy {
                progress: Some(p), ..
            } if matches!(
                p.phase,
                Phase::Writing | Phase::Reading | Phase::UploadingStub
            ) =>
            {
                Some(p)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_update;
