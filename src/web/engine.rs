//! The engine side of the page: runs the loader in `spawn_local` (the UI never blocks), and
//! reports everything back as session [`Action`]s. The loader lives in a slot; a job takes it
//! out and puts it back, so two jobs can never run on the device at once.

use super::ports::{AnyPort, PageSim, WebSerialPort, WsPort};
use crate::formats::otadata::{OtaState, Otadata};
use crate::formats::partition::PartitionTable;
use crate::loader::stub::StubImage;
use crate::loader::{Event, Loader, Phase, Port, Reset, SessionOptions, ROM_BAUD};
use crate::session::{Action, Device, PortKind};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};

pub type Dispatch = Rc<dyn Fn(Action)>;

/// Everything the page keeps beside the session state.
#[derive(Clone)]
pub struct Engine {
    loader: Rc<RefCell<Option<Loader<AnyPort>>>>,
    sim: Rc<RefCell<Option<PageSim>>>,
    cancel: Rc<Cell<bool>>,
    stop_console: Rc<Cell<bool>>,
    dispatch: Dispatch,
}

impl PartialEq for Engine {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.loader, &other.loader)
    }
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

impl Engine {
    pub fn new(dispatch: Dispatch) -> Engine {
        Engine {
            loader: Rc::new(RefCell::new(None)),
            sim: Rc::new(RefCell::new(None)),
            cancel: Rc::new(Cell::new(false)),
            stop_console: Rc::new(Cell::new(false)),
            dispatch,
        }
    }

    /// The page's simulated ESP32 (made on first use, kept for the page's life).
    pub fn page_sim(&self) -> PageSim {
        self.sim
            .borrow_mut()
            .get_or_insert_with(PageSim::new)
            .clone()
    }

    fn send(&self, a: Action) {
        (self.dispatch)(a)
    }

    /// Runs `job` with the loader, reporting failure; the loader goes back afterwards.
    fn run<F, Fut>(&self, what: &str, job: F)
    where
        F: FnOnce(Loader<AnyPort>, Engine) -> Fut + 'static,
        Fut: std::future::Future<Output = (Loader<AnyPort>, Result<(), String>)> + 'static,
    {
        let Some(loader) = self.loader.borrow_mut().take() else {
            self.send(Action::JobDone(Err(
                "not connected, or another job is running".into(),
            )));
            return;
        };
        self.cancel.set(false);
        self.send(Action::JobStarted(what.to_string()));
        let me = self.clone();
        spawn_local(async move {
            let (loader, r) = job(loader, me.clone()).await;
            *me.loader.borrow_mut() = Some(loader);
            if let Err(e) = r {
                me.send(Action::Log(format!("error: {e}")));
                me.send(Action::JobDone(Err(e)));
            }
        });
    }

    pub fn cancel(&self) {
        self.cancel.set(true);
        self.stop_console.set(true);
    }

    /// `filtered`: offer only the usual ESP32 USB bridges in the browser's port chooser.
    pub fn connect(
        &self,
        kind: PortKind,
        ws_url: String,
        baud: u32,
        table_offset: u32,
        filtered: bool,
    ) {
        self.disconnect();
        self.send(Action::Connecting);
        let me = self.clone();
        spawn_local(async move {
            let port = match kind {
                PortKind::Sim => Ok(AnyPort::Sim(me.page_sim().port())),
                PortKind::Ws => WsPort::connect(&ws_url).await.map(AnyPort::Ws),
                PortKind::Serial => match WebSerialPort::request(filtered).await {
                    Ok(p) => WebSerialPort::open(p, ROM_BAUD).await.map(AnyPort::Serial),
                    Err(e) => Err(e),
                },
            };
            let port = match port {
                Ok(p) => p,
                Err(e) => return me.send(Action::ConnectFailed(e)),
            };
            let mut loader = Loader::new(port);
            let d = me.dispatch.clone();
            loader.on_event(move |e| match e {
                Event::Log(m) => d(Action::Log(m)),
                Event::Progress(p) => d(Action::JobProgress(p)),
            });
            loader.set_cancel(me.cancel.clone());
            let stub = match fetch_bytes("stub/esp32.json")
                .await
                .and_then(|b| StubImage::from_json(&String::from_utf8_lossy(&b)))
            {
                Ok(s) => Some(s),
                Err(e) => {
                    me.send(Action::Log(format!(
                        "flasher stub not available ({e}): using the ROM loader"
                    )));
                    None
                }
            };
            let opts = SessionOptions {
                reset: Reset::Auto,
                attempts: 4,
                stub,
                baud,
            };
            match loader.open(&opts).await {
                Ok(info) => {
                    let console = String::from_utf8_lossy(&loader.take_console()).to_string();
                    me.send(Action::Console(console));
                    let flash_size = match loader.flash_info().await {
                        Ok(f) => f.size,
                        Err(e) => {
                            me.send(Action::Log(e.to_string()));
                            0
                        }
                    };
                    me.send(Action::Connected(Device {
                        chip: info.chip,
                        description: info.description.clone(),
                        mac: info.mac_string(),
                        flash_size,
                        stub: loader.is_stub(),
                        baud: loader.baud(),
                    }));
                    *me.loader.borrow_mut() = Some(loader);
                    me.read_layout(table_offset);
                }
                Err(e) => {
                    let console = String::from_utf8_lossy(&loader.take_console()).to_string();
                    me.send(Action::Console(console));
                    loader.into_port().close().await;
                    me.send(Action::ConnectFailed(e.to_string()));
                }
            }
        });
    }

    pub fn disconnect(&self) {
        self.stop_console.set(true);
        if let Some(l) = self.loader.borrow_mut().take() {
            spawn_local(async move { l.into_port().close().await });
            self.send(Action::Disconnected);
        }
    }

    pub fn read_layout(&self, offset: u32) {
        self.run(
            "reading the partition table and otadata",
            move |mut l, me| async move {
                let r = async {
                    let table = l
                        .read_partition_table(offset)
                        .await
                        .map_err(|e| e.to_string());
                    let od = match &table {
                        Ok(t) if t.otadata().is_some() => {
                            Some(l.read_otadata(t).await.map_err(|e| e.to_string())?)
                        }
                        _ => None,
                    };
                    Ok::<_, String>((table, od))
                }
                .await;
                match r {
                    Ok((table, od)) => {
                        me.send(Action::Layout(table, od));
                        me.send(Action::JobDone(Ok("layout read".into())));
                        (l, Ok(()))
                    }
                    Err(e) => (l, Err(e)),
                }
            },
        );
    }

    /// Writes the image into the slot and verifies it; never touches otadata.
    pub fn flash(&self, table: PartitionTable, label: String, bytes: Rc<Vec<u8>>) {
        self.run(&format!("flashing {label}"), move |mut l, me| async move {
            me.send(Action::SlotWriting);
            match l.write_slot(&table, &label, &bytes, false).await {
                Ok(w) => {
                    let r = w.report;
                    let secs = r.write_time.as_secs_f64().max(1e-6);
                    let line = format!(
                        "{label}: {} bytes written and verified (MD5 {}) in {:.1} s, {:.0} kbit/s",
                        r.bytes,
                        crate::formats::hex(&r.md5),
                        r.elapsed.as_secs_f64(),
                        r.written as f64 * 8.0 / secs / 1000.0
                    );
                    me.send(Action::Log(line.clone()));
                                        me.send(Action::Verified(label, line));
                    (l, Ok(()))
                }
                Err(crate::loader::Error::Cancelled) => {
                    let line = format!("cancelled: {label} is only partly written; otadata was not touched, so the device boots what it booted before");
                    me.send(Action::Log(line.clone()));
                    me.send(Action::JobDone(Ok(line)));
                    (l, Ok(()))
                }
                Err(e) => (l, Err(e.to_string())),
            }
        });
    }

    /// Makes `label` boot next (matched sectors, power-cut-safe order, read back).
    pub fn set_boot(&self, table: PartitionTable, label: String, state: OtaState) {
        self.run(
            &format!("switching otadata to {label}"),
            move |mut l, me| async move {
                match l.set_boot(&table, &label, state).await {
                    Ok(boot) => {
                        let od = boot.after.clone();
                        me.send(Action::Otadata(od));
                        let next = boot
                            .booted_partition(&table)
                            .map(|p| p.name())
                            .unwrap_or_default();
                        me.send(Action::JobDone(Ok(format!(
                            "otadata written and read back: {next} boots next"
                        ))));
                        (l, Ok(()))
                    }
                    Err(e) => (l, Err(e.to_string())),
                }
            },
        );
    }

    /// Writes an otadata image made in the editor (verified sector by sector, read back).
    pub fn write_otadata(&self, table: PartitionTable, new: Otadata) {
        self.run("writing otadata", move |mut l, me| async move {
            match l.switch_otadata(&table, &new).await {
                Ok(boot) => {
                    me.send(Action::Otadata(boot.after.clone()));
                    let next = boot
                        .booted_partition(&table)
                        .map(|p| p.name())
                        .unwrap_or_else(|| "nothing".into());
                    me.send(Action::JobDone(Ok(format!(
                        "otadata written and read back: {next} boots next"
                    ))));
                    (l, Ok(()))
                }
                Err(e) => (l, Err(e.to_string())),
            }
        });
    }

    /// Reads a region and offers it as a download.
    pub fn backup(&self, name: String, offset: u32, size: u32) {
        self.run(&format!("reading {name}"), move |mut l, me| async move {
            match l.read_flash(offset, size).await {
                Ok(bytes) => {
                    download(&name, &bytes);
                    me.send(Action::JobDone(Ok(format!(
                        "{name}: {} bytes read",
                        bytes.len()
                    ))));
                    (l, Ok(()))
                }
                Err(e) => (l, Err(e.to_string())),
            }
        });
    }

    /// Resets the chip into its app and shows what it prints until stopped; then the link
    /// closes (the chip now runs its app: connect again to flash).
    pub fn watch_console(&self, baud: u32) {
        let Some(mut l) = self.loader.borrow_mut().take() else {
            return;
        };
        self.stop_console.set(false);
        self.send(Action::JobStarted("watching the console".into()));
        let me = self.clone();
        spawn_local(async move {
            let r = async {
                l.hard_reset().await?;
                l.port().set_baud(baud).await?;
                let mut buf = vec![0u8; 4096];
                while !me.stop_console.get() {
                    let n = l
                        .port()
                        .read(&mut buf, std::time::Duration::from_millis(100))
                        .await?;
                    if n > 0 {
                        me.send(Action::Console(
                            String::from_utf8_lossy(&buf[..n]).to_string(),
                        ));
                    }
                }
                Ok::<(), crate::loader::Error>(())
            }
            .await;
            l.into_port().close().await;
            me.send(Action::Disconnected);
            me.send(Action::JobDone(match r {
                Ok(()) => Ok("console stopped; connect again to flash".into()),
                Err(e) => Err(e.to_string()),
            }));
        });
    }
}

// Used by progress formatting elsewhere.
pub fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::UploadingStub => "uploading the stub",
        Phase::Checking => "checking",
        Phase::Writing => "writing",
        Phase::Verifying => "verifying",
        Phase::Reading => "reading",
        Phase::Erasing => "erasing",
    }
}
