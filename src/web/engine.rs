//! The engine side of the page: runs the device layer in `spawn_local` (the UI never blocks)
//! and reports everything back as page [`Action`]s. The device lives in a slot; a job takes it
//! out and puts it back, so two jobs can never run on the board at once.

use super::ports::{AnyPort, PageSim, WebSerialPort, WsPort};
use crate::chips::Chip;
use crate::device::{Device, OpenFailed, CONNECT_ATTEMPTS};
use crate::formats::bootable::{judge, Slots};
use crate::formats::install::{self, PlanOptions};
use crate::formats::otadata::{OtaState, Otadata};
use crate::formats::partition::{Partition, PartitionTable};
use crate::loader::stub::{FetchStub, StubImage, Stubs};
use crate::loader::{self, Event, Loader, OpenOptions, Port, Reset, ROM_BAUD};
use crate::page::{Action, BoardInfo, Failure, JobKind, PortKind};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

mod console;
mod update;

pub type Dispatch = Rc<dyn Fn(Action)>;
/// Told every piece the console reads.
pub type Tap = Rc<dyn Fn(&[u8])>;

/// Where the port is now.
enum Slot {
    Empty,
    /// In download mode.
    Device(Box<Device<AnyPort>>),
    /// Taken by a running job.
    Busy,
}

/// Work waiting for the device; `plan` marks an update plan (a newer one replaces it).
pub(super) struct Queued {
    plan: bool,
    run: Box<dyn FnOnce()>,
}

type JobFuture = std::pin::Pin<
    Box<dyn std::future::Future<Output = (Device<AnyPort>, Result<(), loader::Error>)>>,
>;
type BoxedJob = Box<dyn FnOnce(Device<AnyPort>, Engine) -> JobFuture>;

/// What to erase.
#[derive(Debug, Clone, PartialEq)]
pub enum EraseWhat {
    All,
    Partition(PartitionTable, String),
    Range(u32, u32),
}

impl EraseWhat {
    pub fn describe(&self) -> String {
        match self {
            EraseWhat::All => "the whole flash".into(),
            EraseWhat::Partition(_, l) => format!("partition '{l}'"),
            EraseWhat::Range(o, n) => format!("0x{o:x}..0x{:x}", *o as u64 + *n as u64),
        }
    }
}

/// Everything the page keeps beside its state.
#[derive(Clone)]
pub struct Engine {
    slot: Rc<RefCell<Slot>>,
    /// The page's simulated chips, one per kind, made on first use.
    sims: Rc<RefCell<Vec<PageSim>>>,
    cancel: Rc<Cell<bool>>,
    /// Set to end the console.
    stop_console: Rc<Cell<bool>>,
    /// Lines typed into the console, on their way to the port.
    outbox: Rc<RefCell<VecDeque<Vec<u8>>>>,
    /// The baud asked for at the last connect (to open the board again after a reset).
    baud: Rc<Cell<Option<u32>>>,
    /// The manifest the technician was sent (one for every panel), to resolve for the chip.
    firmware: Rc<RefCell<Option<super::manifest::Source>>>,
    /// The link to the board was lost (a bridge closed, a port unplugged) since the connect.
    lost: Rc<Cell<bool>>,
    /// Work asked for while a job had the device (the update's plan, the console after an
    /// install): run in turn as the device comes back.
    queued: Rc<RefCell<VecDeque<Queued>>>,
    /// Who else reads the console (Wi-Fi set-up over Improv: [`super::wifi`]).
    tap: Rc<RefCell<Option<Tap>>>,
    /// The console's text, Improv's packets taken out of it.
    improv_packets: Rc<RefCell<crate::wire::improv::Reader>>,
    /// The update erases the whole flash first (the install button's `erase-first`).
    erase_first: Rc<Cell<bool>>,
    /// A port the technician chose already (the install button asks before its dialog
    /// loads): the next Web Serial connect opens it instead of asking again.
    given: Rc<RefCell<Option<web_sys::SerialPort>>>,
    /// The view closed ([`Engine::close`]): the device is released as it comes back.
    closing: Rc<Cell<bool>>,
    dispatch: Dispatch,
}

impl PartialEq for Engine {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.slot, &other.slot)
    }
}

/// Local wall-clock time as "14:03:07.125" (for the log).
pub fn clock() -> String {
    let d = js_sys::Date::new_0();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds(),
        d.get_milliseconds()
    )
}

/// Local date and time as "20261129-150301" (for file names).
pub fn stamp() -> String {
    let d = js_sys::Date::new_0();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds()
    )
}

/// Fetches a file from the page's own origin.
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let w = web_sys::window().ok_or("no window")?;
    let resp = JsFuture::from(w.fetch_with_str(url))
        .await
        .map_err(|e| format!("{url}: {e:?}"))?;
    let resp: web_sys::Response = resp.unchecked_into();
    if !resp.ok() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    let buf = JsFuture::from(resp.array_buffer().map_err(|e| format!("{e:?}"))?)
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}

/// Why a job did not start.
pub const NOT_FREE: &str = "not connected, or another job is running";

/// Offers bytes as a download.
pub fn download(name: &str, bytes: &[u8]) {
    let arr = js_sys::Array::new();
    arr.push(&js_sys::Uint8Array::from(bytes));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("application/octet-stream");
    let Ok(blob) = web_sys::Blob::new_with_u8_array_sequence_and_options(&arr, &opts) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
        if let Ok(a) = doc.create_element("a") {
            let a: web_sys::HtmlAnchorElement = a.unchecked_into();
            a.set_href(&url);
            a.set_download(name);
            a.click();
        }
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// A backup's file name: chip, MAC, what, local date and time, so that boards never overwrite
/// each other's files ("esp32-240ac40e514d-otadata-20261129-150301.bin").
pub fn backup_name(board: &BoardInfo, what: &str) -> String {
    format!(
        "{}-{}-{what}-{}.bin",
        board.chip.name,
        board.mac.replace(':', ""),
        stamp()
    )
}

fn board_info(d: &Device<AnyPort>) -> BoardInfo {
    let (major, minor) = d.chip.revision;
    BoardInfo {
        chip: d.chip.chip,
        description: d.chip.description.clone(),
        mac: d.chip.mac_string(),
        revision: (major * 100 + minor) as u16,
        flash_size: d.flash.size,
        stub: d.is_stub(),
        baud: d.baud(),
        security: d.chip.security,
        identity_read: d.chip.identity_read,
        flash_detected: d.flash.detected,
    }
}

/// Resets the board into its app (where the link can) and closes its port.
async fn release(d: Box<Device<AnyPort>>) {
    let mut loader = d.into_loader();
    if loader.port().can_reset() {
        let _ = loader.hard_reset().await;
    }
    loader.into_port().close().await;
}

impl Engine {
    pub fn new(dispatch: Dispatch) -> Engine {
        Engine {
            slot: Rc::new(RefCell::new(Slot::Empty)),
            sims: Rc::new(RefCell::new(Vec::new())),
            cancel: Rc::new(Cell::new(false)),
            stop_console: Rc::new(Cell::new(false)),
            outbox: Rc::new(RefCell::new(VecDeque::new())),
            baud: Rc::new(Cell::new(None)),
            firmware: Rc::new(RefCell::new(None)),
            lost: Rc::new(Cell::new(false)),
            queued: Rc::new(RefCell::new(VecDeque::new())),
            tap: Rc::new(RefCell::new(None)),
            improv_packets: Rc::new(RefCell::new(Default::default())),
            erase_first: Rc::new(Cell::new(false)),
            given: Rc::new(RefCell::new(None)),
            closing: Rc::new(Cell::new(false)),
            dispatch,
        }
    }

    /// The page's simulated `chip` (loaded on first use, as the last visit left it, and kept for
    /// the page's life, so that reconnecting finds what was written to it).
    pub async fn page_sim(&self, chip: &'static Chip) -> Result<PageSim, String> {
        if let Some(s) = self.sims.borrow().iter().find(|s| s.chip() == chip) {
            return Ok(s.clone());
        }
        let s = PageSim::load(chip, false).await?;
        self.sims.borrow_mut().push(s.clone());
        Ok(s)
    }

    /// Makes the simulated `chip` a blank board (erased flash; what was kept is forgotten).
    pub fn blank_sim(&self, chip: &'static Chip) {
        let me = self.clone();
        spawn_local(async move {
            match PageSim::load(chip, true).await {
                Ok(s) => {
                    let mut sims = me.sims.borrow_mut();
                    sims.retain(|x| x.chip() != chip);
                    sims.push(s);
                    drop(sims);
                    me.log(format!(
                        "the simulated {} is a blank board now",
                        chip.pretty
                    ));
                }
                Err(e) => me.log(e),
            }
        });
    }

    fn save_sims(&self) {
        for s in self.sims.borrow().iter() {
            s.save();
        }
    }

    pub(super) fn send(&self, a: Action) {
        (self.dispatch)(a)
    }

    pub(super) fn log(&self, text: impl Into<String>) {
        self.send(Action::Log {
            clock: clock(),
            text: text.into(),
        });
    }

    fn console(&self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.send(Action::Console {
                clock: clock(),
                text: String::from_utf8_lossy(bytes).into_owned(),
            });
        }
    }

    /// Runs `job` with the device, reporting failure; the device goes back afterwards. False
    /// (and `job` never runs) when there is no device or another job has it.
    pub(super) fn run<F, Fut>(&self, kind: JobKind, what: &str, job: F) -> bool
    where
        F: FnOnce(Device<AnyPort>, Engine) -> Fut + 'static,
        Fut: std::future::Future<Output = (Device<AnyPort>, Result<(), loader::Error>)> + 'static,
    {
        self.run_boxed(kind, what, Box::new(move |d, me| Box::pin(job(d, me))))
    }

    /// [`Engine::run`] without generics (one copy of this code in the page, whatever the job).
    fn run_boxed(&self, kind: JobKind, what: &str, job: BoxedJob) -> bool {
        let taken = std::mem::replace(&mut *self.slot.borrow_mut(), Slot::Busy);
        let Slot::Device(boxed) = taken else {
            *self.slot.borrow_mut() = taken;
            self.send(Action::Refused(Failure::refused(NOT_FREE)));
            return false;
        };
        self.cancel.set(false);
        self.send(Action::JobStarted(kind, what.to_string()));
        let me = self.clone();
        spawn_local(async move {
            let (mut device, r) = job(*boxed, me.clone()).await;
            let via = device.loader().port().via();
            me.put_back(Box::new(device));
            if let Err(e) = r {
                me.fail(Failure::of(&e, via));
            }
        });
        true
    }

    /// A job ended in `f`: logged, and said unless the link was lost (that was said already,
    /// in words that say what it means).
    pub(super) fn fail(&self, f: Failure) {
        self.log(format!("error: {}", f.message));
        if !self.lost.get() {
            self.send(Action::JobDone(Err(f)));
        }
    }

    /// The port the next Web Serial connect opens (chosen already, in a user gesture).
    pub fn give_port(&self, port: web_sys::SerialPort) {
        *self.given.borrow_mut() = Some(port);
    }

    /// Updates erase the whole flash first and install everything (ESP Web Tools'
    /// `erase-first`).
    pub fn set_erase_first(&self, yes: bool) {
        self.erase_first.set(yes);
    }

    pub fn cancel(&self) {
        self.cancel.set(true);
        self.stop_console.set(true);
    }

    /// The port given already, else the one the technician picks now.
    async fn chosen_port(&self, filtered: bool) -> Result<web_sys::SerialPort, String> {
        let given = self.given.borrow_mut().take();
        match given {
            Some(p) => Ok(p),
            None => WebSerialPort::request(filtered).await,
        }
    }

    /// Opens the port the technician chose (`filtered`: offer only the usual ESP32 USB
    /// bridges in the browser's port chooser).
    async fn open_port(
        &self,
        kind: PortKind,
        ws_url: &str,
        filtered: bool,
    ) -> Result<AnyPort, Failure> {
        let failure = |message: String, hints: Vec<loader::Hint>| Failure {
            kind: loader::FailKind::Board,
            message,
            hints,
        };
        match kind {
            PortKind::Sim(chip) => self
                .page_sim(chip)
                .await
                .map(|s| AnyPort::Sim(s.port()))
                .map_err(|m| failure(m, vec![])),
            PortKind::Ws => WsPort::connect(ws_url)
                .await
                .map(AnyPort::Ws)
                .map_err(|m| failure(m, vec![loader::Hint::BridgeRunning])),
            PortKind::Serial => match self.chosen_port(filtered).await {
                Ok(p) => WebSerialPort::open(p, ROM_BAUD)
                    .await
                    .map(AnyPort::Serial)
                    .map_err(|e| Failure::of(&e.into(), loader::Via::Serial(None))),
                Err(m) => Err(failure(m, vec![])),
            },
        }
    }

    fn loader_for(&self, port: AnyPort) -> Loader<AnyPort> {
        let mut loader = Loader::new(port);
        let me = self.clone();
        loader.on_event(move |e| match e {
            Event::Log(m) => me.log(m),
            Event::Progress(p) => (me.dispatch)(Action::JobProgress(p)),
            Event::Console(text) => me.console(text.as_bytes()),
        });
        loader.set_cancel(self.cancel.clone());
        loader
    }

    /// The stub is fetched from this site once the chip is known (`stub/<chip>.json`).
    fn open_options(&self, baud: Option<u32>) -> OpenOptions {
        let fetch: FetchStub = Rc::new(|chip| {
            Box::pin(async move {
                let b =
                    fetch_bytes(&super::assets::url(&format!("stub/{}.json", chip.name))).await?;
                StubImage::from_json(&String::from_utf8_lossy(&b))
            })
        });
        OpenOptions {
            reset: Reset::Auto,
            attempts: CONNECT_ATTEMPTS,
            stubs: Stubs::Fetch(fetch),
            baud,
        }
    }

    /// Download mode on `loader`'s port: the device, or the failure reported (port closed).
    async fn open_device(&self, mut loader: Loader<AnyPort>, baud: Option<u32>, table_offset: u32) {
        let opts = self.open_options(baud);
        let via = loader.port().via();
        match Device::open(loader, &opts).await {
            Ok(mut d) => {
                let console = d.loader().take_console();
                self.console(&console);
                self.send(Action::Connected(board_info(&d)));
                self.put_back(Box::new(d));
                self.read_layout(table_offset);
            }
            Err(OpenFailed { error, mut loader }) => {
                let console = loader.take_console();
                self.console(&console);
                loader.into_port().close().await;
                *self.slot.borrow_mut() = Slot::Empty;
                self.send(Action::ConnectFailed(Failure::of(&error, via)));
            }
        }
    }

    pub fn connect(
        &self,
        kind: PortKind,
        ws_url: String,
        baud: Option<u32>,
        table_offset: u32,
        filtered: bool,
    ) {
        self.disconnect();
        self.baud.set(baud);
        self.send(Action::Connecting);
        *self.slot.borrow_mut() = Slot::Busy;
        let me = self.clone();
        spawn_local(async move {
            match me.open_port(kind, &ws_url, filtered).await {
                Ok(mut port) => {
                    me.lost.set(false);
                    me.queued.borrow_mut().clear();
                    let watcher = me.clone();
                    port.watch_loss(Rc::new(move |why| watcher.link_lost(why)));
                    let loader = me.loader_for(port);
                    me.open_device(loader, baud, table_offset).await;
                }
                Err(f) => {
                    *me.slot.borrow_mut() = Slot::Empty;
                    me.send(Action::ConnectFailed(f));
                }
            }
        });
    }

    /// The device back in its slot after a job — unless the link was lost meanwhile: then the
    /// port is closed and the page was told.
    pub(super) fn put_back(&self, d: Box<Device<AnyPort>>) {
        if self.closing.get() {
            *self.slot.borrow_mut() = Slot::Empty;
            spawn_local(release(d));
        } else if self.lost.get() {
            *self.slot.borrow_mut() = Slot::Empty;
            spawn_local(async move { d.into_loader().into_port().close().await });
        } else {
            *self.slot.borrow_mut() = Slot::Device(d);
            // A simulated board keeps what was written to it for the next visit.
            self.save_sims();
            let next = self.queued.borrow_mut().pop_front();
            if let Some(q) = next {
                (q.run)();
            }
        }
    }

    /// The link went away with no click: board actions end at once (a job that runs fails on
    /// its next read and hands the device back to be closed).
    fn link_lost(&self, why: String) {
        if self.lost.replace(true) {
            return;
        }
        self.stop_console.set(true);
        self.queued.borrow_mut().clear();
        let taken = std::mem::replace(&mut *self.slot.borrow_mut(), Slot::Empty);
        match taken {
            Slot::Device(d) => {
                spawn_local(async move { d.into_loader().into_port().close().await });
            }
            Slot::Busy => *self.slot.borrow_mut() = Slot::Busy,
            Slot::Empty => return,
        }
        self.log(format!("the link to the board was lost: {why}"));
        self.send(Action::LinkLost(why));
    }

    /// Runs `run` when the device is free (now, if no job has it).
    pub(super) fn when_free(&self, plan: bool, run: Box<dyn FnOnce()>) {
        let mut q = self.queued.borrow_mut();
        if plan {
            q.retain(|x| !x.plan);
        }
        q.push_back(Queued { plan, run });
    }

    /// The view is gone (the install dialog closed): the console ends, and the board is reset
    /// into its app and its port closed — now, or when the job that has it hands it back. A
    /// board left in download mode would not run what was installed.
    pub fn close(&self) {
        self.closing.set(true);
        self.stop_console.set(true);
        self.queued.borrow_mut().clear();
        let taken = std::mem::replace(&mut *self.slot.borrow_mut(), Slot::Empty);
        match taken {
            Slot::Device(d) => spawn_local(release(d)),
            Slot::Busy => *self.slot.borrow_mut() = Slot::Busy,
            Slot::Empty => {}
        }
    }

    pub fn disconnect(&self) {
        self.stop_console.set(true);
        self.queued.borrow_mut().clear();
        let taken = std::mem::replace(&mut *self.slot.borrow_mut(), Slot::Empty);
        if let Slot::Device(d) = taken {
            spawn_local(async move { d.into_loader().into_port().close().await });
            self.send(Action::Disconnected);
        } else if let Slot::Busy = taken {
            // A job or the console holds the port; it closes when it sees the stop.
            *self.slot.borrow_mut() = Slot::Busy;
        }
    }

    pub fn read_layout(&self, offset: u32) {
        self.run(
            JobKind::ReadLayout,
            "reading the partition table, otadata and the app slots",
            move |mut d, me| async move {
                match d.snapshot(offset).await {
                    Ok(snap) => {
                        if let Err(p) = &snap.table {
                            me.log(p.message());
                        }
                        me.send(Action::Layout(snap));
                        (d, Ok(()))
                    }
                    Err(e) => (d, Err(e)),
                }
            },
        );
    }

    /// Writes the image into the slot and verifies it, then (`boot_next`) makes it boot next
    /// (otadata switched and read back); "write only" never touches otadata. A write that
    /// stops half-way is followed by a look at the slot's headers (it is most likely damaged).
    pub fn flash(
        &self,
        table: PartitionTable,
        label: String,
        bytes: Rc<Vec<u8>>,
        file: String,
        known: Slots,
        boot_next: Option<OtaState>,
    ) {
        self.run(JobKind::Flash, &format!("flashing {label}"), move |mut d, me| async move {
            let Some(part) = table.find(&label).cloned() else {
                return (d, Err(loader::Refusal::NoPartition(label).into()));
            };
            me.send(Action::SlotWriting(part.clone()));
            match d.write_slot(&table, &label, &bytes, &known, false).await {
                Ok(w) => {
                    let done = w.report.describe(&label);
                    me.log(&done);
                    let mut known = known.clone();
                    known.set(&w.partition, w.slot.clone());
                    me.send(Action::SlotWritten {
                        partition: w.partition,
                        slot: w.slot,
                        report: w.report,
                        file,
                        boot_next: boot_next.is_some(),
                    });
                    let Some(state) = boot_next else {
                        return (d, Ok(()));
                    };
                    match d.set_boot(&table, &label, state, &known, false).await {
                        Ok(s) => {
                            Self::switched(&me, &table, s, &known, Some(&done));
                            (d, Ok(()))
                        }
                        Err(e) => {
                            let via = d.loader().port().via();
                            let mut f = Failure::of(&e, via);
                            f.message = format!(
                                "{done}, but switching otadata failed: {} — the board still boots what it booted before",
                                f.message
                            );
                            me.fail(f);
                            (d, Ok(()))
                        }
                    }
                }
                Err(e) => {
                    if e.is_refusal() {
                        // Nothing was written: what was known of the slot still holds.
                        if let Some(s) = known.get(&part) {
                            me.send(Action::SlotKnown(part.clone(), s.clone()));
                        }
                    } else {
                        me.cancel.set(false);
                        if let Ok(s) = d.scan_slot(&part).await {
                            me.send(Action::SlotKnown(part.clone(), s));
                        }
                    }
                    if e == loader::Error::Cancelled {
                        let line = format!("cancelled: the write into {label} stopped part-way (see what {label} holds now under App slots); otadata was not touched, so the board boots what it booted before");
                        me.log(line.clone());
                        me.send(Action::JobDone(Ok(line)));
                        return (d, Ok(()));
                    }
                    (d, Err(e))
                }
            }
        });
    }

    /// Reads a slot's whole image and judges it as the bootloader would.
    pub fn verify_slot(&self, part: Partition) {
        self.run(
            JobKind::Verify,
            &format!("reading {} to check it", part.name()),
            move |mut d, me| async move {
                match d.verify_slot(&part).await {
                    Ok(s) => {
                        let line = format!(
                            "{}: {}",
                            part.name(),
                            match s.loads() {
                                crate::formats::bootable::Loads::Yes =>
                                    "the whole image checks out: it loads".to_string(),
                                crate::formats::bootable::Loads::No(p) =>
                                    format!("it will not load: {}", p.message()),
                                crate::formats::bootable::Loads::Unknown => "not known".to_string(),
                            }
                        );
                        me.log(line.clone());
                        me.send(Action::SlotKnown(part, s));
                        me.send(Action::JobDone(Ok(line)));
                        (d, Ok(()))
                    }
                    Err(e) => (d, Err(e)),
                }
            },
        );
    }

    /// Reports a switched otadata (after `written`, the write that came first in the same job).
    fn switched(
        me: &Engine,
        table: &PartitionTable,
        s: crate::device::Switched,
        known: &Slots,
        written: Option<&str>,
    ) {
        let mut known = known.clone();
        for (p, img) in &s.checked {
            known.set(p, img.clone());
        }
        let boot = crate::device::judge_boot(table, &s.otadata, false, &known);
        let line = match (boot.booted_partition(table), boot.fallback_reason(table)) {
            (Some(p), None) => format!("otadata written and read back: {} boots next", p.name()),
            (Some(_), Some(why)) | (None, Some(why)) => {
                format!("otadata written and read back: {why}")
            }
            (None, None) => "otadata written and read back: nothing boots".into(),
        };
        me.log(line.clone());
        let line = match written {
            Some(w) => format!("{w}; {line}"),
            None => line,
        };
        me.send(Action::Otadata(s.otadata, s.checked));
        me.send(Action::JobDone(Ok(line)));
    }

    /// Makes `label` boot next (matched sectors, power-cut-safe order, read back), after
    /// checking its whole image unless already known.
    pub fn set_boot(&self, table: PartitionTable, label: String, state: OtaState, known: Slots) {
        self.run(
            JobKind::Otadata,
            &format!("switching otadata to {label}"),
            move |mut d, me| async move {
                match d.set_boot(&table, &label, state, &known, false).await {
                    Ok(s) => {
                        Self::switched(&me, &table, s, &known, None);
                        (d, Ok(()))
                    }
                    Err(e) => (d, Err(e)),
                }
            },
        );
    }

    /// Writes an otadata image made in the editor. `force`: the technician saw in the preview
    /// that the selected app does not load, and confirmed.
    pub fn write_otadata(&self, table: PartitionTable, new: Otadata, known: Slots, force: bool) {
        self.run(
            JobKind::Otadata,
            "writing otadata",
            move |mut d, me| async move {
                match d.write_otadata(&table, &new, &known, force).await {
                    Ok(s) => {
                        Self::switched(&me, &table, s, &known, None);
                        (d, Ok(()))
                    }
                    Err(e) => {
                        // What was read to decide is worth keeping.
                        (d, Err(e))
                    }
                }
            },
        );
    }

    /// Reads a region and offers it as a download named `name`.
    pub fn backup(&self, name: String, offset: u32, size: u32) {
        self.run(
            JobKind::Backup,
            &format!("reading {name}"),
            move |mut d, me| async move {
                match d.read(offset, size).await {
                    Ok(bytes) => {
                        download(&name, &bytes);
                        me.send(Action::JobDone(Ok(format!(
                            "{name}: {} bytes read and saved",
                            bytes.len()
                        ))));
                        (d, Ok(()))
                    }
                    Err(e) => (d, Err(e)),
                }
            },
        );
    }

    /// Installs `parts`, checked again against the board as it is now: the whole flash erased
    /// first when asked, each part verified by MD5; then the layout is read again, and with
    /// `console` the chip is reset into its app and its console shown (Stop goes back to
    /// download mode).
    pub fn install(
        &self,
        parts: Vec<install::Part>,
        opts: PlanOptions,
        confirmed: bool,
        table_offset: u32,
        console: Option<(u32, Option<u32>)>,
    ) {
        self.run(
            JobKind::Install,
            "installing",
            move |mut d, me| async move {
                let r = async {
                    let snap = d.snapshot(table_offset).await?;
                    let step = me.clone();
                    let run = d
                        .install_parts(
                            &snap,
                            parts,
                            table_offset,
                            opts,
                            confirmed,
                            &mut |_| {},
                            &mut move |i, n, name| {
                                step.send(Action::JobStep(format!(
                                    "installing part {} of {n}: {name}",
                                    i + 1
                                )))
                            },
                        )
                        .await?;
                    Ok::<_, loader::Error>((run.plan, run.done, run.after))
                }
                .await;
                match r {
                    Ok((p, done, after)) => {
                        let line = done.describe();
                        me.log(line.clone());
                        let table = after.table.clone().ok();
                        me.send(Action::Layout(after));
                        // The apps just written and verified are known whole.
                        if let Some(t) = &table {
                            for part in p.parts.iter().filter(|x| x.kind == install::PartKind::App)
                            {
                                if let Some(slot) = t
                                    .entries
                                    .iter()
                                    .find(|e| e.is_app() && e.offset == part.offset)
                                {
                                    let img = judge(
                                        &part.bytes,
                                        d.target(),
                                        slot.offset,
                                        Some(slot.size),
                                    );
                                    me.send(Action::SlotKnown(slot.clone(), img));
                                }
                            }
                        }
                        let then = console.map(|(baud, link_baud)| {
                            let me = me.clone();
                            move || me.watch_console(baud, link_baud, table_offset)
                        });
                        me.send(Action::JobDone(Ok(match then {
                            Some(_) => format!(
                                "{line}; the chip was reset into its app (its console is below)"
                            ),
                            None => line,
                        })));
                        if let Some(f) = then {
                            // After this job hands the device back.
                            spawn_local(async move { f() });
                        }
                        (d, Ok(()))
                    }
                    Err(e) => (d, Err(e)),
                }
            },
        );
    }

    /// Erases the whole flash, a partition or a range, then reads the layout again.
    pub fn erase(&self, what: EraseWhat, table_offset: u32) {
        self.run(
            JobKind::Erase,
            &format!("erasing {}", what.describe()),
            move |mut d, me| async move {
                let r = async {
                    match &what {
                        EraseWhat::All => d.erase_all().await?,
                        EraseWhat::Partition(table, label) => {
                            d.erase_partition(table, label).await?;
                        }
                        EraseWhat::Range(o, n) => d.erase_range(*o, *n).await?,
                    }
                    d.snapshot(table_offset).await
                }
                .await;
                match r {
                    Ok(snap) => {
                        let line = format!("erased {}", what.describe());
                        me.log(line.clone());
                        me.send(Action::Layout(snap));
                        me.send(Action::JobDone(Ok(line)));
                        (d, Ok(()))
                    }
                    Err(e) => (d, Err(e)),
                }
            },
        );
    }
}
