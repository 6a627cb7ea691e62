//! The page's state with one board, as a pure reducer: every change is an [`Action`], the state
//! says what the page shows and what the technician may do next. No I/O and no clock: times
//! come in with the actions. The page wraps it in a Yew reducer and runs the engine beside it;
//! tests drive it directly.

use crate::chips::Chip;
use crate::device::{judge_boot, Snapshot, TableProblem};
use crate::formats::bootable::{judge, ImageProblem, Loads, SlotImage, Slots, Target};
use crate::formats::image::Image;
use crate::formats::otadata::{Boot, Otadata};
use crate::formats::partition::{Md5Status, Partition, PartitionTable, DEFAULT_TABLE_OFFSET};
use crate::loader::{Hint, Phase, Progress, WriteReport};
use std::collections::BTreeMap;
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// A USB serial port through Web Serial.
    Serial,
    /// The simulated ESP32 running in the page.
    Sim,
    /// A WebSocket byte bridge (`otaflash sim --ws`, a serial server).
    Ws,
}

impl PortKind {
    pub fn value(self) -> &'static str {
        match self {
            PortKind::Serial => "serial",
            PortKind::Sim => "sim",
            PortKind::Ws => "ws",
        }
    }

    pub fn from_value(v: &str) -> Option<PortKind> {
        [PortKind::Serial, PortKind::Sim, PortKind::Ws]
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
    pub message: String,
    pub hints: Vec<Hint>,
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
}

impl BoardInfo {
    pub fn target(&self) -> Target {
        Target::chip(self.chip, Some(self.revision))
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
}

impl JobKind {
    /// Something that leaves the flash half-changed if the page goes away now.
    pub fn writes(self) -> bool {
        matches!(self, JobKind::Flash | JobKind::Otadata)
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// What otaflash did.
    Otaflash,
    /// What the chip printed on its serial console.
    Device,
}

/// One line of the timeline: otaflash's own lines and the device's console, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Wall-clock time, formatted by whoever supplied it ("14:03:07.125").
    pub clock: String,
    pub source: Source,
    pub text: String,
    /// The device has not ended this line yet (more console text joins it).
    pub open: bool,
}

/// What a slot was written with in this session and verified by MD5.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub file: String,
    pub md5: [u8; 16],
}

/// Why the picked file cannot be flashed into the target slot now.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// Not an image at all (plain words).
    NotAnImage(String),
    /// What the bootloader would refuse.
    Image(ImageProblem),
    FileTooBig {
        len: u64,
        label: String,
        slot: u32,
    },
    /// The table's MD5 does not match: the bootloader rejects it.
    TableRejected,
    /// The target holds the app that boots now.
    BootsNow(String),
}

impl Problem {
    pub fn message(&self) -> String {
        match self {
            Problem::NotAnImage(m) => m.clone(),
            Problem::Image(p) => p.message(),
            Problem::FileTooBig { len, label, slot } => crate::loader::Refusal::FileTooBig {
                len: *len,
                label: label.clone(),
                slot: *slot,
            }
            .message(),
            Problem::TableRejected => crate::loader::Refusal::TableRejected.message(),
            Problem::BootsNow(l) => crate::loader::Refusal::BootsNow(l.clone()).message(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PageState {
    pub port_kind: PortKind,
    pub ws_url: String,
    pub baud: u32,
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
    /// Slots written and MD5-verified in this session, by partition offset.
    pub written: BTreeMap<u32, Written>,
    pub image: Option<Picked>,
    pub target: Option<String>,
    pub job: Job,
    pub status: Option<Status>,
    pub log: Vec<LogLine>,
    pub rollback: bool,
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
    JobProgress(Progress),
    /// A job ended: the status line (Ok) or what went wrong.
    JobDone(Result<String, String>),
    /// A write into this slot began: what was known of it no longer holds.
    SlotWriting(Partition),
    /// The picked image is in the slot, verified by MD5.
    SlotWritten {
        partition: Partition,
        slot: SlotImage,
        report: WriteReport,
        file: String,
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
}

const MAX_LOG: usize = 2000;

impl Default for PageState {
    fn default() -> Self {
        PageState {
            port_kind: PortKind::Sim,
            ws_url: "ws://127.0.0.1:5556".into(),
            baud: crate::loader::DEFAULT_BAUD,
            link: Link::Idle,
            board: None,
            table_offset: DEFAULT_TABLE_OFFSET,
            table: None,
            otadata: None,
            otadata_at_connect: None,
            slots: Slots::default(),
            written: BTreeMap::new(),
            image: None,
            target: None,
            job: Job::Idle,
            status: None,
            log: vec![],
            rollback: false,
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
            Action::SetBaud(b) => self.baud = b,
            Action::SetTableOffset(o) => self.table_offset = o,
            Action::SetRollback(r) => self.rollback = r,
            Action::Connecting => {
                self.link = Link::Connecting;
                self.say(Tone::Working, "connecting…");
            }
            Action::Connected(d) => {
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
            Action::Disconnected => {
                *self = PageState {
                    port_kind: self.port_kind,
                    ws_url: std::mem::take(&mut self.ws_url),
                    baud: self.baud,
                    table_offset: self.table_offset,
                    image: self.image.take(),
                    log: std::mem::take(&mut self.log),
                    rollback: self.rollback,
                    status: Some(Status::new(Tone::Info, "disconnected")),
                    ..PageState::default()
                };
            }
            Action::Layout(snap) => self.layout(snap),
            Action::Otadata(od, checked) => {
                for (p, s) in checked {
                    self.slots.set(&p, s);
                }
                self.otadata = Some(od);
                // The slot that boots now is no target for an update.
                if self.target.is_some() && self.target == self.booted() {
                    self.target = self.default_target();
                }
            }
            Action::SlotKnown(p, s) => {
                self.slots.set(&p, s);
            }
            Action::ImageLoading(from) => {
                self.image = None;
                self.say(Tone::Working, format!("loading {from}…"));
            }
            Action::ImagePicked(name, bytes) => {
                if self.writing() {
                    // The choice is locked while a write runs (the page disables it too).
                    self.say(
                        Tone::Warning,
                        "a write is running: finish or cancel it before picking another file",
                    );
                    return;
                }
                let image = Image::parse(&bytes).map_err(|e| e.to_string());
                self.say(Tone::Info, format!("{name}: {} bytes picked", bytes.len()));
                self.image = Some(Picked {
                    md5: md5(&bytes),
                    name,
                    bytes: Rc::new(bytes),
                    image,
                });
                if self.target.is_none() {
                    self.target = self.default_target();
                }
            }
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
            Action::JobStarted(kind, what) => {
                self.say(Tone::Working, format!("{what}…"));
                self.job = Job::Busy {
                    kind,
                    what,
                    progress: None,
                };
            }
            Action::JobProgress(p) => {
                if let Job::Busy { progress, .. } = &mut self.job {
                    *progress = Some(p);
                }
            }
            Action::JobDone(r) => {
                self.job = Job::Idle;
                match r {
                    Ok(s) => self.say(Tone::Done, s),
                    Err(e) => self.say(Tone::Error, e),
                }
            }
            Action::SlotWriting(p) => {
                self.slots.forget(&p);
                self.written.remove(&p.offset);
            }
            Action::SlotWritten {
                partition,
                slot,
                report,
                file,
            } => {
                self.job = Job::Idle;
                self.written.insert(
                    partition.offset,
                    Written {
                        file,
                        md5: report.md5,
                    },
                );
                self.slots.set(&partition, slot);
                self.say(Tone::Done, report.describe(&partition.name()));
            }
            Action::Log { clock, text } => {
                self.close_console_line();
                for line in text.lines() {
                    self.push_log(LogLine {
                        clock: clock.clone(),
                        source: Source::Otaflash,
                        text: line.to_string(),
                        open: false,
                    });
                }
            }
            Action::Console { clock, text } => self.console(clock, &text),
            Action::ClearLog => self.log.clear(),
        }
    }

    /// The result of reading the layout (which ends that job).
    fn layout(&mut self, snap: Snapshot) {
        self.job = Job::Idle;
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
        self.target = self.default_target();
    }

    fn push_log(&mut self, line: LogLine) {
        self.log.push(line);
        if self.log.len() > MAX_LOG {
            self.log.drain(..self.log.len() - MAX_LOG);
        }
    }

    fn close_console_line(&mut self) {
        if let Some(l) = self.log.last_mut() {
            l.open = false;
        }
    }

    /// Console text joins the device's open line; each new line gets the time it began.
    fn console(&mut self, clock: String, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        for (i, piece) in text.split('\n').enumerate() {
            let ends_line = i < text.matches('\n').count();
            let open_line = self
                .log
                .last_mut()
                .filter(|l| l.open && l.source == Source::Device);
            match open_line {
                Some(l) => {
                    l.text.push_str(piece);
                    l.open = !ends_line;
                }
                None if piece.is_empty() && !ends_line => {}
                None => self.push_log(LogLine {
                    clock: clock.clone(),
                    source: Source::Device,
                    text: piece.to_string(),
                    open: !ends_line,
                }),
            }
        }
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
    pub fn image_problems(&self) -> Vec<Problem> {
        let Some(p) = &self.image else { return vec![] };
        if let Err(e) = &p.image {
            if p.bytes.first() != Some(&crate::formats::image::IMAGE_MAGIC) {
                return vec![Problem::NotAnImage(e.clone())];
            }
        }
        let mut out = vec![];
        if let Some(t) = self.table() {
            if let Md5Status::Mismatch { .. } = t.md5 {
                out.push(Problem::TableRejected);
            }
        }
        let slot = self.target_partition();
        if let Some(s) = &slot {
            if p.bytes.len() as u64 > s.size as u64 {
                out.push(Problem::FileTooBig {
                    len: p.bytes.len() as u64,
                    label: s.name(),
                    slot: s.size,
                });
            }
        }
        let target = self.board.as_ref().map_or(Target::ANY, BoardInfo::target);
        let (place, size) = slot
            .as_ref()
            .map_or((0x10000, None), |s| (s.offset, Some(s.size)));
        let mut problems = judge(&p.bytes, target, place, size).problems;
        // A file bigger than its slot is said once (as the file).
        problems.retain(|x| !matches!(x, ImageProblem::TooBigForSlot { .. }) || out.is_empty());
        out.extend(problems.into_iter().map(Problem::Image));
        if let Some(s) = &slot {
            if Some(s.name()) == self.booted() {
                out.push(Problem::BootsNow(s.name()));
            }
        }
        out
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

    /// The timeline as text, one line each: "14:03:07.125 [device] text".
    pub fn log_text(&self) -> String {
        self.log
            .iter()
            .map(|l| {
                format!(
                    "{} {} {}\n",
                    l.clock,
                    match l.source {
                        Source::Otaflash => "[otaflash]",
                        Source::Device => "[device]  ",
                    },
                    l.text
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::bootable::Holds;
    use crate::sim::demo;

    fn board() -> BoardInfo {
        BoardInfo {
            chip: crate::chips::ESP32,
            description: "ESP32-D0WD-V3 (revision v3.1)".into(),
            mac: "24:0a:c4:0e:51:4d".into(),
            revision: 301,
            flash_size: 4 << 20,
            stub: true,
            baud: 921_600,
        }
    }

    /// A snapshot of the demo flash as the device layer would read it (headers only).
    fn snapshot(flash: &[u8]) -> Snapshot {
        let t = PartitionTable::from_flash(flash, 0x8000).unwrap();
        let od = Otadata::from_flash(flash, &t).unwrap();
        let mut slots = Slots::default();
        for p in t.entries.iter().filter(|p| p.is_app()) {
            let mut s = judge(
                &flash[p.offset as usize..(p.offset + p.size) as usize],
                board().target(),
                p.offset,
                Some(p.size),
            );
            // Headers only: the body was not read.
            if s.problems.is_empty() {
                s.coverage = crate::formats::bootable::Coverage::Headers;
            }
            slots.set(p, s);
        }
        Snapshot {
            table: Ok(t),
            otadata: Some(od),
            slots,
        }
    }

    fn connected() -> PageState {
        let mut s = PageState::default();
        s.apply(Action::Connecting);
        s.apply(Action::Connected(board()));
        s.apply(Action::Layout(snapshot(&demo::arduino_like_flash())));
        s
    }

    fn app() -> Vec<u8> {
        demo::esp32_image(Some(("x", "1")), 100)
    }

    fn write(s: &mut PageState, label: &str, bytes: &[u8], name: &str) {
        let p = s.table().unwrap().find(label).unwrap().clone();
        s.apply(Action::JobStarted(
            JobKind::Flash,
            format!("flashing {label}"),
        ));
        s.apply(Action::SlotWriting(p.clone()));
        let slot = judge(bytes, board().target(), p.offset, Some(p.size));
        s.apply(Action::SlotWritten {
            partition: p,
            slot,
            report: WriteReport {
                bytes: bytes.len() as u64,
                written: bytes.len() as u64,
                md5: md5(bytes),
                ..Default::default()
            },
            file: name.into(),
        });
    }

    #[test]
    fn connect_layout_and_default_target() {
        let s = connected();
        assert_eq!(s.booted().as_deref(), Some("app0"));
        assert_eq!(
            s.target.as_deref(),
            Some("app1"),
            "the OTA slot not booting"
        );
        assert!(!s.can_flash(), "no image yet");
        let t = s.table().unwrap();
        assert_eq!(
            s.slots.get(t.find("app1").unwrap()).unwrap().holds(),
            Holds::Empty
        );
        // app0's body was not read: it boots "if its image is intact".
        assert!(!s.boot().unwrap().certain());
    }

    #[test]
    fn image_checks_gate_the_flash_button() {
        let mut s = connected();
        s.apply(Action::ImagePicked("app.bin".into(), app()));
        assert!(s.image_problems().is_empty(), "{:?}", s.image_problems());
        assert!(s.can_flash());
        s.apply(Action::ImagePicked("notes.txt".into(), b"hello".to_vec()));
        let p = s.image_problems();
        assert!(
            matches!(&p[0], Problem::NotAnImage(m) if m.starts_with("This is a text file, not a firmware image")),
            "{p:?}"
        );
        assert!(!s.can_flash());
        s.apply(Action::ImagePicked(
            "bootloader.bin".into(),
            demo::esp32_bootloader_like(100),
        ));
        assert!(s
            .image_problems()
            .contains(&Problem::Image(ImageProblem::NotAnApp)));
        // An app without an app description (older Arduino cores) is still an app.
        s.apply(Action::ImagePicked(
            "old-arduino.bin".into(),
            demo::esp32_image(None, 100),
        ));
        assert!(s.image_problems().is_empty(), "{:?}", s.image_problems());
        s.apply(Action::ImagePicked("big.bin".into(), {
            let mut b = app();
            b.resize(0x150000, 0);
            b
        }));
        assert!(matches!(s.image_problems()[0], Problem::FileTooBig { .. }));
        // An image for a newer chip revision than this v3.1 chip.
        let mut newer = app();
        newer[15..17].copy_from_slice(&302u16.to_le_bytes());
        s.apply(Action::ImagePicked("newer.bin".into(), newer));
        assert!(matches!(
            s.image_problems()[0],
            Problem::Image(ImageProblem::ChipTooOld {
                min: 302,
                chip_rev: 301
            })
        ));
        s.apply(Action::ImagePicked("app.bin".into(), app()));
        s.apply(Action::SetTarget("app0".into()));
        assert_eq!(s.image_problems(), vec![Problem::BootsNow("app0".into())]);
    }

    #[test]
    fn a_file_picked_while_writing_is_refused_and_boot_next_follows_what_was_verified() {
        let mut s = connected();
        s.apply(Action::ImagePicked("first.bin".into(), app()));
        s.apply(Action::JobStarted(JobKind::Flash, "flashing app1".into()));
        assert!(s.writing());
        s.apply(Action::ImagePicked(
            "second.bin".into(),
            demo::esp32_image(Some(("y", "2")), 99),
        ));
        assert_eq!(
            s.image.as_ref().unwrap().name,
            "first.bin",
            "locked while writing"
        );
        assert_eq!(s.status.as_ref().unwrap().tone, Tone::Warning);
        s.apply(Action::SetTarget("app0".into()));
        assert_eq!(
            s.target.as_deref(),
            Some("app1"),
            "the target is locked too"
        );
        let p = s.table().unwrap().find("app1").unwrap().clone();
        s.apply(Action::SlotWritten {
            partition: p.clone(),
            slot: judge(&app(), board().target(), p.offset, Some(p.size)),
            report: WriteReport {
                bytes: 300,
                written: 300,
                md5: md5(&app()),
                ..Default::default()
            },
            file: "first.bin".into(),
        });
        assert_eq!(s.boot_next_offer(), Some(p.clone()));
        assert_eq!(s.written_to(&p).unwrap().file, "first.bin");
        // Another file picked afterwards: "boot next" still names what is in the slot.
        s.apply(Action::ImagePicked(
            "second.bin".into(),
            demo::esp32_image(Some(("y", "2")), 99),
        ));
        assert_eq!(s.boot_next_offer(), Some(p.clone()));
        assert_eq!(s.written_to(&p).unwrap().file, "first.bin");
        // A re-flash that is cancelled: the slot is unknown again, no boot-next.
        s.apply(Action::JobStarted(JobKind::Flash, "flashing app1".into()));
        s.apply(Action::SlotWriting(p.clone()));
        s.apply(Action::JobDone(Ok("cancelled".into())));
        assert_eq!(s.boot_next_offer(), None);
        assert_eq!(s.slots.loads(&p), Loads::Unknown);
    }

    #[test]
    fn after_boot_next_the_target_moves_to_the_other_slot() {
        let mut s = connected();
        write(&mut s, "app1", &app(), "app.bin");
        let t = s.table().unwrap().clone();
        let od = crate::formats::otadata::set_boot(
            &t,
            s.otadata.as_ref().unwrap(),
            "app1",
            crate::formats::otadata::OtaState::Undefined,
        )
        .unwrap();
        s.apply(Action::Otadata(od, vec![]));
        assert_eq!(s.booted().as_deref(), Some("app1"));
        assert_eq!(
            s.target.as_deref(),
            Some("app0"),
            "the update target is the other slot"
        );
        assert!(
            s.boot().unwrap().certain(),
            "app1 was written and verified here"
        );
    }

    #[test]
    fn an_erased_selected_slot_is_not_what_boots() {
        let mut s = connected();
        let t = s.table().unwrap().clone();
        // otadata selects app1, which is empty: app0 boots.
        let od = crate::formats::otadata::set_boot(
            &t,
            s.otadata.as_ref().unwrap(),
            "app1",
            crate::formats::otadata::OtaState::Undefined,
        )
        .unwrap();
        s.apply(Action::Otadata(od, vec![]));
        let b = s.boot().unwrap();
        assert_eq!(b.selected_partition(&t).unwrap().name(), "app1");
        assert_eq!(s.booted().as_deref(), Some("app0"));
        assert_eq!(b.fallback_reason(&t).unwrap(), "app1 is empty → app0 boots");
    }

    #[test]
    fn status_always_describes_the_current_state() {
        let mut s = connected();
        s.apply(Action::ImagePicked("app.bin".into(), app()));
        s.apply(Action::ImageLoading("firmware/manifest.json".into()));
        assert!(s.image.is_none(), "the previous image is no longer picked");
        s.apply(Action::ImageFailed("manifest: HTTP 404".into()));
        assert!(s.image.is_none() && !s.can_flash());
        assert_eq!(s.status.as_ref().unwrap().tone, Tone::Error);
        s.apply(Action::ImagePicked("good.bin".into(), app()));
        assert_eq!(
            s.status.as_ref().unwrap().tone,
            Tone::Info,
            "the red error is gone"
        );
        // A table that is not there: no "layout read" beside it.
        s.apply(Action::SetTableOffset(0x9000));
        s.apply(Action::Layout(Snapshot {
            table: Err(TableProblem::Invalid {
                offset: 0x9000,
                why: "x".into(),
            }),
            otadata: None,
            slots: Slots::default(),
        }));
        let st = s.status.clone().unwrap();
        assert_eq!(st.tone, Tone::Warning);
        assert!(st.text.contains("no partition table at 0x9000"), "{st:?}");
        assert!(s.table_problem().is_some() && s.table().is_none());
    }

    #[test]
    fn one_timeline_of_log_and_console() {
        let mut s = PageState::default();
        s.apply(Action::Log {
            clock: "10:00:00.000".into(),
            text: "connecting".into(),
        });
        s.apply(Action::Console {
            clock: "10:00:00.100".into(),
            text: "ets Jun  8 2016\r\nrst:0x1".into(),
        });
        s.apply(Action::Console {
            clock: "10:00:00.150".into(),
            text: " (POWERON)\r\n".into(),
        });
        s.apply(Action::Log {
            clock: "10:00:00.200".into(),
            text: "stub running".into(),
        });
        s.apply(Action::Console {
            clock: "10:00:00.300".into(),
            text: "I (29) boot\n".into(),
        });
        assert_eq!(
            s.log_text(),
            "10:00:00.000 [otaflash] connecting\n\
             10:00:00.100 [device]   ets Jun  8 2016\n\
             10:00:00.100 [device]   rst:0x1 (POWERON)\n\
             10:00:00.200 [otaflash] stub running\n\
             10:00:00.300 [device]   I (29) boot\n"
        );
        s.apply(Action::ClearLog);
        assert!(s.log.is_empty());
    }

    #[test]
    fn verified_then_disconnect() {
        let mut s = connected();
        write(&mut s, "app1", &app(), "app.bin");
        s.apply(Action::Disconnected);
        assert!(!s.connected() && s.table.is_none() && s.written.is_empty());
        assert!(
            s.slots.is_empty(),
            "nothing is known of a board not connected"
        );
    }

    #[test]
    fn undo_point_is_the_first_read() {
        let mut s = connected();
        let first = s.otadata_at_connect.clone();
        let mut snap = snapshot(&demo::arduino_like_flash());
        snap.otadata = Some(Otadata::blank());
        s.apply(Action::Layout(snap));
        assert_eq!(s.otadata_at_connect, first);
        assert_eq!(s.otadata, Some(Otadata::blank()));
    }
}
