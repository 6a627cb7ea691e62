//! The page's session with one device, as a state machine: every change is an [`Action`], the
//! state says what the page shows and what the technician may do next. Pure (no I/O): the page
//! wraps it in a Yew reducer and runs the engine beside it; tests drive it directly.

use crate::chips::Chip;
use crate::formats::image::Image;
use crate::formats::numbers::human_size;
use crate::formats::otadata::{all_bootable, predict_boot, Boot, Otadata};
use crate::formats::partition::{Partition, PartitionTable, DEFAULT_TABLE_OFFSET};
use crate::loader::{Phase, Progress};
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
}

#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    Idle,
    Connecting,
    Connected,
    /// Could not connect; the text says what to try.
    Failed(String),
}

/// What the device told us, for display.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub chip: &'static Chip,
    pub description: String,
    pub mac: String,
    pub flash_size: u32,
    pub stub: bool,
    pub baud: u32,
}

/// A .bin the technician picked to flash.
#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    pub name: String,
    pub bytes: Rc<Vec<u8>>,
    pub image: Result<Image, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    Idle,
    /// Something runs on the device; the page must not start anything else.
    Busy {
        what: String,
        progress: Option<Progress>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub port_kind: PortKind,
    pub ws_url: String,
    pub baud: u32,
    pub link: Link,
    pub device: Option<Device>,
    pub table_offset: u32,
    pub table: Option<Result<PartitionTable, String>>,
    pub otadata: Option<Otadata>,
    /// otadata as read when the layout was first read: what "undo" goes back to.
    pub otadata_at_connect: Option<Otadata>,
    pub image: Option<Picked>,
    pub target: Option<String>,
    /// The slot whose image was written and verified in this session (may be booted next).
    pub verified_slot: Option<String>,
    pub job: Job,
    pub status: String,
    pub log: Vec<String>,
    pub console: String,
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
    Connected(Device),
    ConnectFailed(String),
    Disconnected,
    /// The partition table (or why it could not be read) and otadata.
    Layout(Result<PartitionTable, String>, Option<Otadata>),
    Otadata(Otadata),
    ImagePicked(String, Vec<u8>),
    ClearImage,
    SetTarget(String),
    JobStarted(String),
    JobProgress(Progress),
    /// A job ended; `Ok` carries the status line to show.
    JobDone(Result<String, String>),
    /// A write into a slot began: what was verified before counts no more (a cancelled or
    /// failed re-flash must not leave "boot this slot" offered).
    SlotWriting,
    /// The image in the target slot was written and verified by MD5.
    Verified(String, String),
    Log(String),
    Console(String),
}

const MAX_LOG: usize = 400;
const MAX_CONSOLE: usize = 256 * 1024;

impl Default for Session {
    fn default() -> Self {
        Session {
            port_kind: PortKind::Sim,
            ws_url: "ws://127.0.0.1:5556".into(),
            baud: crate::loader::DEFAULT_BAUD,
            link: Link::Idle,
            device: None,
            table_offset: DEFAULT_TABLE_OFFSET,
            table: None,
            otadata: None,
            otadata_at_connect: None,
            image: None,
            target: None,
            verified_slot: None,
            job: Job::Idle,
            status: String::new(),
            log: vec![],
            console: String::new(),
            rollback: false,
        }
    }
}

impl Session {
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::SetPortKind(k) => self.port_kind = k,
            Action::SetWsUrl(u) => self.ws_url = u,
            Action::SetBaud(b) => self.baud = b,
            Action::SetTableOffset(o) => self.table_offset = o,
            Action::SetRollback(r) => self.rollback = r,
            Action::Connecting => {
                self.link = Link::Connecting;
                self.status = "connecting…".into();
            }
            Action::Connected(d) => {
                self.status = format!("connected to {}", d.description);
                self.device = Some(d);
                self.link = Link::Connected;
            }
            Action::ConnectFailed(why) => {
                self.status = why.clone();
                self.link = Link::Failed(why);
                self.device = None;
                self.job = Job::Idle;
            }
            Action::Disconnected => {
                *self = Session {
                    port_kind: self.port_kind,
                    ws_url: std::mem::take(&mut self.ws_url),
                    baud: self.baud,
                    table_offset: self.table_offset,
                    image: self.image.take(),
                    log: std::mem::take(&mut self.log),
                    console: std::mem::take(&mut self.console),
                    rollback: self.rollback,
                    status: "disconnected".into(),
                    ..Session::default()
                };
            }
            Action::Layout(table, od) => {
                self.table = Some(table);
                if self.otadata_at_connect.is_none() {
                    self.otadata_at_connect = od.clone();
                }
                self.otadata = od;
                self.target = self.default_target();
            }
            Action::Otadata(od) => self.otadata = Some(od),
            Action::ImagePicked(name, bytes) => {
                let image = Image::parse(&bytes).map_err(|e| e.to_string());
                self.image = Some(Picked {
                    name,
                    bytes: Rc::new(bytes),
                    image,
                });
                self.verified_slot = None;
                if self.target.is_none() {
                    self.target = self.default_target();
                }
            }
            Action::ClearImage => self.image = None,
            Action::SetTarget(t) => {
                self.target = Some(t);
                self.verified_slot = None;
            }
            Action::JobStarted(what) => {
                self.status = format!("{what}…");
                self.job = Job::Busy {
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
                self.status = match r {
                    Ok(s) => s,
                    Err(e) => format!("failed: {e}"),
                };
            }
            Action::SlotWriting => self.verified_slot = None,
            Action::Verified(slot, line) => {
                self.verified_slot = Some(slot);
                self.job = Job::Idle;
                self.status = line;
            }
            Action::Log(line) => {
                self.log.push(line);
                if self.log.len() > MAX_LOG {
                    self.log.drain(..self.log.len() - MAX_LOG);
                }
            }
            Action::Console(text) => {
                self.console.push_str(&text);
                if self.console.len() > MAX_CONSOLE {
                    let cut = self.console.len() - MAX_CONSOLE;
                    let cut = (cut..self.console.len())
                        .find(|&i| self.console.is_char_boundary(i))
                        .unwrap_or(0);
                    self.console.drain(..cut);
                }
            }
        }
    }

    pub fn connected(&self) -> bool {
        self.link == Link::Connected
    }

    pub fn busy(&self) -> bool {
        matches!(self.job, Job::Busy { .. })
    }

    pub fn table(&self) -> Option<&PartitionTable> {
        self.table.as_ref().and_then(|t| t.as_ref().ok())
    }

    /// The bootloader's decision from the otadata on the device.
    pub fn boot(&self) -> Option<Boot> {
        let t = self.table()?;
        let od = self
            .otadata
            .as_ref()
            .cloned()
            .unwrap_or_else(Otadata::blank);
        Some(predict_boot(t, &od, self.rollback, &all_bootable))
    }

    pub fn booted(&self) -> Option<String> {
        let t = self.table()?;
        self.boot()?.booted_partition(t).map(|p| p.name())
    }

    pub fn app_slots(&self) -> Vec<Partition> {
        self.table()
            .map(|t| t.entries.iter().filter(|p| p.is_app()).cloned().collect())
            .unwrap_or_default()
    }

    /// The OTA slot that is not booting now (where an update goes).
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

    /// Why the picked image must not go into the target slot (empty: it may).
    pub fn image_problems(&self) -> Vec<String> {
        let Some(p) = &self.image else { return vec![] };
        let img = match &p.image {
            Ok(i) => i,
            Err(e) => return vec![e.clone()],
        };
        let mut out = vec![];
        if let Some(t) = self.table() {
            if let crate::formats::partition::Md5Status::Mismatch { .. } = t.md5 {
                out.push("the partition table's MD5 does not match its entries, so the bootloader rejects it: fix the table before flashing".into());
            }
        }
        let slot = self.target_partition();
        if let Some(s) = &slot {
            if p.bytes.len() as u64 > s.size as u64 {
                out.push(format!(
                    "the file is {} ({} bytes), larger than the {} slot '{}'",
                    human_size(p.bytes.len() as u64),
                    p.bytes.len(),
                    human_size(s.size as u64),
                    s.name()
                ));
            }
        }
        if let Some(d) = &self.device {
            out.extend(img.problems_for(d.chip, None));
        } else {
            out.extend(
                img.problems_for(crate::chips::ESP32, None)
                    .into_iter()
                    .filter(|m| !m.contains("built for")),
            );
        }
        out.extend(img.not_an_app());
        if let Some(s) = &slot {
            if Some(s.name()) == self.booted() {
                out.push(format!(
                    "'{}' is the slot that boots now; pick the other OTA slot",
                    s.name()
                ));
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

    /// Whether "boot this slot next" is offered: a verified image in an OTA slot.
    pub fn can_set_boot(&self) -> bool {
        self.connected()
            && !self.busy()
            && self.table().is_some_and(|t| t.otadata().is_some())
            && self.verified_slot.is_some()
            && self.verified_slot == self.target
            && self.booted() != self.target
    }

    /// Progress as (done, total, kbit/s, seconds left).
    pub fn progress(&self) -> Option<(u64, u64, f64, Option<f64>)> {
        match &self.job {
            Job::Busy {
                progress: Some(p), ..
            } if matches!(
                p.phase,
                Phase::Writing | Phase::Reading | Phase::UploadingStub
            ) =>
            {
                Some((
                    p.done,
                    p.total,
                    p.rate() * 8.0 / 1000.0,
                    p.eta().map(|d| d.as_secs_f64()),
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::demo;

    fn connected() -> Session {
        let mut s = Session::default();
        s.apply(Action::Connecting);
        s.apply(Action::Connected(Device {
            chip: crate::chips::ESP32,
            description: "ESP32-D0WD-V3 (revision v3.1)".into(),
            mac: "24:0a:c4:0e:51:4d".into(),
            flash_size: 4 << 20,
            stub: true,
            baud: 921_600,
        }));
        let f = demo::arduino_like_flash();
        let t = PartitionTable::from_flash(&f, 0x8000).unwrap();
        s.apply(Action::Layout(Ok(t), Some(demo::boot_app0())));
        s
    }

    #[test]
    fn connect_layout_and_default_target() {
        let s = connected();
        assert_eq!(s.booted().as_deref(), Some("app0"));
        assert_eq!(
            s.target.as_deref(),
            Some("app1"),
            "the OTA slot that is not booting"
        );
        assert!(!s.can_flash(), "no image yet");
    }

    #[test]
    fn image_checks_gate_the_flash_button() {
        let mut s = connected();
        s.apply(Action::ImagePicked(
            "app.bin".into(),
            demo::esp32_image(Some(("x", "1")), 100),
        ));
        assert!(s.image_problems().is_empty(), "{:?}", s.image_problems());
        assert!(s.can_flash());
        s.apply(Action::ImagePicked("notes.txt".into(), b"hello".to_vec()));
        assert!(s.image_problems()[0].contains("not an app image"));
        assert!(!s.can_flash());
        s.apply(Action::ImagePicked(
            "bootloader.bin".into(),
            demo::esp32_bootloader_like(100),
        ));
        assert!(s.image_problems().iter().any(|p| p.contains("bootloader")));
        // An app without an app description (older Arduino cores) is still an app.
        s.apply(Action::ImagePicked(
            "old-arduino.bin".into(),
            demo::esp32_image(None, 100),
        ));
        assert!(s.image_problems().is_empty(), "{:?}", s.image_problems());
        s.apply(Action::ImagePicked("big.bin".into(), {
            let mut b = demo::esp32_image(Some(("x", "1")), 100);
            b.resize(0x150000, 0);
            b
        }));
        assert!(s.image_problems().iter().any(|p| p.contains("larger than")));
        s.apply(Action::ImagePicked(
            "app.bin".into(),
            demo::esp32_image(Some(("x", "1")), 100),
        ));
        s.apply(Action::SetTarget("app0".into()));
        assert!(s.image_problems().iter().any(|p| p.contains("boots now")));
    }

    #[test]
    fn verified_then_set_boot_then_disconnect() {
        let mut s = connected();
        s.apply(Action::ImagePicked(
            "app.bin".into(),
            demo::esp32_image(Some(("x", "1")), 100),
        ));
        s.apply(Action::JobStarted("flashing app1".into()));
        assert!(s.busy() && !s.can_flash());
        s.apply(Action::Verified(
            "app1".into(),
            "app1: written and verified (MD5)".into(),
        ));
        assert!(s.can_set_boot());
        assert!(s.status.contains("verified"));
        s.apply(Action::SetTarget("app0".into()));
        assert!(!s.can_set_boot(), "only the verified slot may be booted");
        // Verified, then written again and cancelled: no longer verified.
        s.apply(Action::SetTarget("app1".into()));
        s.apply(Action::Verified("app1".into(), "verified".into()));
        s.apply(Action::JobStarted("flashing app1".into()));
        s.apply(Action::SlotWriting);
        s.apply(Action::JobDone(Ok("cancelled".into())));
        assert!(!s.can_set_boot(), "a cancelled re-flash is not verified");
        s.apply(Action::Log("x".into()));
        s.apply(Action::Disconnected);
        assert!(!s.connected() && s.table.is_none() && s.image.is_some() && s.log.len() == 1);
    }

    #[test]
    fn undo_point_is_the_first_read() {
        let mut s = connected();
        let first = s.otadata_at_connect.clone();
        s.apply(Action::Layout(
            s.table.clone().unwrap(),
            Some(Otadata::blank()),
        ));
        assert_eq!(s.otadata_at_connect, first);
        assert_eq!(s.otadata, Some(Otadata::blank()));
    }
}
