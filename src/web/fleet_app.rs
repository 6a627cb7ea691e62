//! The fleet view, a wasm module of its own (`otaflash-fleet`) that the page loads only when
//! opened: add boards one by one (USB serial ports, ports granted before, simulated boards,
//! WebSocket bridges), each a card with chip, MAC and what boots; one app for all; run it on
//! every board in parallel (optionally a few at once), each card with its own progress and
//! record; one board failing or unplugged does not stop the others. The records download as CSV
//! and JSON; re-running skips boards that already run the app. The per-board work is the device
//! layer's ([`crate::device::fleet`]); the state is [`crate::page::fleet`].

use super::engine::{download, fetch_bytes, stamp};
use super::ports::{now_ms, AnyPort, PageSim, WebSerialPort, WsPort};
use crate::device::fleet::{Outcome, Record, Update};
use crate::device::{judge_boot, Device, CONNECT_ATTEMPTS};
use crate::formats::otadata::OtaState;
use crate::formats::partition::DEFAULT_TABLE_OFFSET;
use crate::loader::stub::{FetchStub, StubImage, Stubs};
use crate::loader::{Event as LoaderEvent, Loader, OpenOptions, Reset, ROM_BAUD};
use crate::page::fleet::{BoardState, Fleet, FleetAction, JobChoice};
use gloo_timers::future::TimeoutFuture;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(PartialEq, Default)]
pub struct Store(Fleet);

impl Reducible for Store {
    type Action = FleetAction;
    fn reduce(self: std::rc::Rc<Self>, a: FleetAction) -> std::rc::Rc<Self> {
        let mut f = self.0.clone();
        f.apply(a);
        Rc::new(Store(f))
    }
}

type Devices = Rc<RefCell<Vec<(u32, Option<Device<AnyPort>>)>>>;

fn options() -> OpenOptions {
    let fetch: FetchStub = Rc::new(|chip| {
        Box::pin(async move {
            let b = fetch_bytes(&format!("stub/{}.json", chip.name)).await?;
            StubImage::from_json(&String::from_utf8_lossy(&b))
        })
    });
    OpenOptions {
        reset: Reset::Auto,
        attempts: CONNECT_ATTEMPTS,
        stubs: Stubs::Fetch(fetch),
        baud: None,
    }
}

/// Opens `port` as board `id`: connects, reads what boots, keeps the device.
fn add_board(
    id: u32,
    port: impl std::future::Future<Output = Result<AnyPort, String>> + 'static,
    d: UseReducerDispatcher<Store>,
    devices: Devices,
) {
    spawn_local(async move {
        let r = async {
            let port = port.await?;
            let mut dev = Device::open(Loader::new(port), &options())
                .await
                .map_err(|f| f.error.to_string())?;
            let snap = dev
                .snapshot(DEFAULT_TABLE_OFFSET)
                .await
                .map_err(|e| e.to_string())?;
            let boots = match (&snap.table, &snap.otadata) {
                (Ok(t), Some(o)) => {
                    let b = judge_boot(t, o, false, &snap.slots);
                    match b.booted_partition(t) {
                        Some(p) => match snap.slots.get(p).and_then(|s| s.app.as_ref()) {
                            Some(a) => format!("{}: {} {}", p.name(), a.project_name, a.version),
                            None => p.name(),
                        },
                        None => "nothing boots".into(),
                    }
                }
                (Err(e), _) => e.message(),
                _ => "no otadata".into(),
            };
            Ok::<_, String>((dev, boots))
        }
        .await;
        match r {
            Ok((dev, boots)) => {
                d.dispatch(FleetAction::Connected {
                    id,
                    chip: dev.chip.description.clone(),
                    mac: dev.chip.mac_string(),
                    boots,
                });
                devices.borrow_mut().push((id, Some(dev)));
            }
            Err(e) => d.dispatch(FleetAction::Lost(id, e)),
        }
    });
}

async fn serial_port(p: web_sys::SerialPort) -> Result<AnyPort, String> {
    WebSerialPort::open(p, ROM_BAUD)
        .await
        .map(AnyPort::Serial)
        .map_err(|e| e.to_string())
}

fn usb_name(p: &web_sys::SerialPort) -> String {
    let i = p.get_info();
    match (i.get_usb_vendor_id(), i.get_usb_product_id()) {
        (Some(v), Some(p)) => format!("USB {v:04x}:{p:04x}"),
        _ => "serial port".into(),
    }
}

/// The parts of the picked manifest's build for `chip`, from the files picked with it.
fn parts_for(
    files: &[(String, Vec<u8>)],
    chip: &str,
) -> Result<Vec<crate::formats::install::Part>, String> {
    use crate::formats::manifest::{is_manifest_name, Manifest, PartsAt, Where};
    let (name, json) = files
        .iter()
        .find(|(n, _)| is_manifest_name(n))
        .ok_or("no manifest.json picked")?;
    let m = Manifest::parse(json).map_err(|e| format!("{name}: {e}"))?;
    let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    let located = m
        .locate(chip, PartsAt::Picked(&names))
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(located
        .iter()
        .map(|l| {
            let bytes = match l.at {
                Where::Picked(i) => files[i].1.clone(),
                Where::Address(_) => vec![],
            };
            l.part(bytes)
        })
        .collect())
}

/// Runs the job on the ready boards, at most `at_once` together (0: all).
fn run(f: &Fleet, d: UseReducerDispatcher<Store>, devices: Devices) {
    let image = f.image.clone().map(|(_, b)| b).unwrap_or_default();
    let (job, files) = (f.job.clone(), f.files.clone());
    let ids = f.ready();
    let ports: Vec<(u32, String)> = f
        .boards
        .iter()
        .filter(|b| ids.contains(&b.id))
        .map(|b| (b.id, b.port.clone()))
        .collect();
    let limit = if f.at_once == 0 { ids.len() } else { f.at_once };
    d.dispatch(FleetAction::Start(now_ms()));
    let busy = Rc::new(Cell::new(0usize));
    let left = Rc::new(Cell::new(ports.len()));
    for (id, port) in ports {
        let (d, devices, image, busy, left, job, files) = (
            d.clone(),
            devices.clone(),
            image.clone(),
            busy.clone(),
            left.clone(),
            job.clone(),
            files.clone(),
        );
        spawn_local(async move {
            while busy.get() >= limit {
                TimeoutFuture::new(50).await;
            }
            busy.set(busy.get() + 1);
            let taken = devices
                .borrow_mut()
                .iter_mut()
                .find(|(i, _)| *i == id)
                .and_then(|(_, dev)| dev.take());
            let t0 = now_ms();
            let elapsed = move || (now_ms() - t0) / 1000.0;
            let record = match taken {
                Some(mut dev) => {
                    let dd = d.clone();
                    dev.loader().on_event(move |e| {
                        if let LoaderEvent::Progress(p) = e {
                            dd.dispatch(FleetAction::Working(
                                id,
                                p.phase.name().into(),
                                Some((p.done, p.total)),
                            ));
                        }
                    });
                    d.dispatch(FleetAction::Working(id, "checking".into(), None));
                    let t = DEFAULT_TABLE_OFFSET;
                    let r = match &job {
                        JobChoice::App => {
                            let job = Update {
                                data: &image,
                                slot: "auto",
                                set_boot: true,
                                state: OtaState::Undefined,
                                force: false,
                            };
                            dev.update(&port, t, &job, &elapsed).await
                        }
                        JobChoice::Boot(label) => {
                            dev.boot_next(&port, t, label.trim(), &elapsed).await
                        }
                        JobChoice::Install { yes } => {
                            let parts = |chip: &str| parts_for(&files, chip);
                            let opts = crate::formats::install::PlanOptions {
                                erase_all: false,
                                fit_bootloader: false,
                                written: Default::default(),
                                nothing_boots_ok: false,
                            };
                            dev.install_build(&port, t, &parts, opts, *yes, &elapsed)
                                .await
                        }
                    };
                    dev.loader().on_event(|_| {});
                    if let Some(slot) = devices.borrow_mut().iter_mut().find(|(i, _)| *i == id) {
                        slot.1 = Some(dev);
                    }
                    r
                }
                None => Record::failed(
                    &port,
                    &crate::formats::md5(&image),
                    "the board is not connected".into(),
                ),
            };
            d.dispatch(FleetAction::Finished(id, record));
            busy.set(busy.get() - 1);
            left.set(left.get() - 1);
            if left.get() == 0 {
                d.dispatch(FleetAction::AllDone(now_ms()));
            }
        });
    }
}

fn state_view(s: &BoardState) -> Html {
    match s {
        BoardState::Connecting => html! { <p class="hint">{"connecting…"}</p> },
        BoardState::Ready => html! { <p class="hint">{"ready"}</p> },
        BoardState::Queued => html! { <p class="hint">{"waiting for its turn"}</p> },
        BoardState::Working(what, p) => html! { <>
            <p>{ what.clone() }</p>
            if let Some((done, total)) = p {
                <progress max={total.to_string()} value={done.to_string()}></progress>
            }
        </> },
        BoardState::Done(r) => html! {
            <p class={if r.outcome == Outcome::Failed { "error" } else { "ok" }} data-testid="fleet-outcome" data-outcome={r.outcome.word()}>
                { format!("{}: {} → {} in {} s — {}", r.outcome.word(), if r.before.is_empty() { "?" } else { &r.before },
                    if r.after.is_empty() { "?" } else { &r.after }, crate::formats::numbers::decimals(r.seconds, 1), r.message) }
            </p>
        },
        BoardState::Lost(why) => {
            html! { <p class="error" data-testid="fleet-lost">{ why.clone() }</p> }
        }
    }
}

#[component]
pub fn FleetView() -> Html {
    let state = use_reducer(Store::default);
    let f = &state.0;
    let devices: Devices = (*use_memo((), |_| Rc::new(RefCell::new(Vec::new())))).clone();
    let ws_url = use_state(|| "rfc2217+ws://127.0.0.1:5556".to_string());
    let granted = use_granted_ports();
    let d = state.dispatcher();
    let running = f.running();
    let add_ws = {
        let (d, devices, url, next) = (d.clone(), devices.clone(), ws_url.clone(), f.next_id);
        Callback::from(move |_: MouseEvent| {
            let u = (*url).clone();
            d.dispatch(FleetAction::Adding(u.clone()));
            add_board(
                next,
                async move { WsPort::connect(&u).await.map(AnyPort::Ws) },
                d.clone(),
                devices.clone(),
            );
        })
    };
    let add_sim = {
        let (d, devices, next) = (d.clone(), devices.clone(), f.next_id);
        Callback::from(move |_: MouseEvent| {
            d.dispatch(FleetAction::Adding(format!(
                "simulated ESP32 #{}",
                next + 1
            )));
            add_board(
                next,
                async move {
                    let sim = PageSim::fresh(crate::chips::ESP32).await?;
                    // Each simulated board its own MAC, so the records tell them apart.
                    sim.set_mac([0x24, 0x0A, 0xC4, 0x00, 0x00, (next + 1) as u8]);
                    Ok(AnyPort::Sim(sim.port()))
                },
                d.clone(),
                devices.clone(),
            );
        })
    };
    let add_usb = {
        let (d, devices, next) = (d.clone(), devices.clone(), f.next_id);
        Callback::from(move |_: MouseEvent| {
            let (d, devices) = (d.clone(), devices.clone());
            spawn_local(async move {
                match WebSerialPort::request(true).await {
                    Ok(p) => {
                        d.dispatch(FleetAction::Adding(usb_name(&p)));
                        add_board(next, serial_port(p), d, devices);
                    }
                    Err(e) => d.dispatch(FleetAction::Error(e)),
                }
            });
        })
    };
    let on_image = pick_image(d.clone());
    let on_files = pick_files(d.clone());
    let on_run = {
        let (d, devices, f) = (d.clone(), devices.clone(), f.clone());
        Callback::from(move |_: MouseEvent| run(&f, d.clone(), devices.clone()))
    };
    html! {
        <div class="fleet" data-testid="fleet-view">
            <h2>{"Fleet: many boards at once"}</h2>
            <div class="row">
                <button onclick={add_usb} disabled={running || !super::panels::has_web_serial()} data-testid="fleet-add-usb">{"Add a USB board"}</button>
                <button onclick={add_sim} disabled={running} data-testid="fleet-add-sim">{"Add a simulated board"}</button>
                <input type="text" size="24" value={(*ws_url).clone()} aria-label="WebSocket bridge URL" data-testid="fleet-ws-url"
                    onchange={ let u = ws_url.clone(); Callback::from(move |e: Event| u.set(e.target_unchecked_into::<HtmlInputElement>().value())) } />
                <button onclick={add_ws} disabled={running} data-testid="fleet-add-ws">{"Add a WebSocket board"}</button>
            </div>
            if !granted.is_empty() {
                <p class="hint">{"Ports this page may use: "}
                    { for granted.iter().cloned().map(|p| {
                        let (d, devices, next, name) = (d.clone(), devices.clone(), f.next_id, usb_name(&p));
                        let label = name.clone();
                        let on = Callback::from(move |_: MouseEvent| {
                            d.dispatch(FleetAction::Adding(name.clone()));
                            add_board(next, serial_port(p.clone()), d.clone(), devices.clone());
                        });
                        html! { <button onclick={on} disabled={running}>{ format!("Add {label}") }</button> }
                    }) }
                </p>
            }
            <div class="fleet-boards">
                { boards_view(f, &d, running) }
            </div>
            <div class="row">
                <label>{"Job "}
                    <select data-testid="fleet-job" disabled={running} onchange={ let d = d.clone(); Callback::from(move |e: Event| {
                        let v = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
                        d.dispatch(FleetAction::Job(match v.as_str() {
                            "boot" => JobChoice::Boot("app0".into()),
                            "install" => JobChoice::Install { yes: false },
                            _ => JobChoice::App,
                        }))
                    }) }>
                        <option value="app" selected={f.job == JobChoice::App}>{"an app into the idle OTA slot, booted next"}</option>
                        <option value="boot" selected={matches!(f.job, JobChoice::Boot(_))}>{"otadata: boot a slot next"}</option>
                        <option value="install" selected={matches!(f.job, JobChoice::Install { .. })}>{"a full install (manifest)"}</option>
                    </select>
                </label>
            </div>
            <div class="row">
                if f.job == JobChoice::App {
                    <label class="button">{"Choose the app (.bin)"}
                        <input type="file" accept=".bin,application/octet-stream" onchange={on_image} disabled={running} data-testid="fleet-image" />
                    </label>
                    if let Some((name, bytes)) = &f.image {
                        <span data-testid="fleet-image-name">{ format!("{name} · {} bytes", bytes.len()) }</span>
                    }
                }
                if let JobChoice::Boot(label) = &f.job {
                    <label>{"slot "}
                        <input type="text" size="8" value={label.clone()} disabled={running} data-testid="fleet-boot-label" aria-label="slot to boot next"
                            onchange={ let d = d.clone(); Callback::from(move |e: Event| d.dispatch(FleetAction::Job(JobChoice::Boot(e.target_unchecked_into::<HtmlInputElement>().value())))) } />
                    </label>
                }
                if let JobChoice::Install { yes } = f.job {
                    <label class="button">{"Choose manifest.json and its .bin files"}
                        <input type="file" multiple=true accept=".json,.bin" onchange={on_files} disabled={running} data-testid="fleet-files" />
                    </label>
                    if let Some((name, _)) = f.manifest() {
                        <span data-testid="fleet-manifest-name">{ format!("{name} + {} files", f.files.len() - 1) }</span>
                    }
                    <label><input type="checkbox" checked={yes} disabled={running} data-testid="fleet-yes"
                        onchange={ let d = d.clone(); Callback::from(move |e: Event| d.dispatch(FleetAction::Job(JobChoice::Install { yes: e.target_unchecked_into::<HtmlInputElement>().checked() }))) } />
                        {" go ahead where data would be lost (each board says what)"}</label>
                }
                <label>{" at once "}
                    <input type="number" min="0" size="3" value={f.at_once.to_string()} aria-label="boards at once (0: all)" data-testid="fleet-at-once"
                        onchange={ let d = d.clone(); Callback::from(move |e: Event| d.dispatch(FleetAction::AtOnce(e.target_unchecked_into::<HtmlInputElement>().value().parse().unwrap_or(0)))) } />
                </label>
                <button class="primary" onclick={on_run} disabled={!f.can_start()} data-testid="fleet-run">
                    { match &f.job {
                        JobChoice::App => "Flash the idle OTA slot of every board and boot it next".to_string(),
                        JobChoice::Boot(l) => format!("Make '{}' boot next on every board", l.trim()),
                        JobChoice::Install { .. } => "Install the build on every board".to_string(),
                    } }</button>
            </div>
            if let Some(e) = &f.error {
                <p class="error">{ e.clone() }</p>
            }
            { records_view(f) }
        </div>
    }
}

#[component]
fn Blank() -> Html {
    html! {}
}

/// Mounts the fleet view on `root` (see `nvs_app::mount` for why page ids are skipped first).
pub fn mount(root: web_sys::Element) {
    let doc = web_sys::window().and_then(|w| w.document());
    let page_id = doc
        .as_ref()
        .and_then(|d| d.body())
        .and_then(|b| js_sys::Reflect::get(&b, &"__yew_subtree_id".into()).ok())
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0) as u32;
    if let Some(d) = &doc {
        for _ in 0..page_id.max(1) {
            if let Ok(el) = d.create_element("div") {
                yew::Renderer::<Blank>::with_root(el).render().destroy();
            }
        }
    }
    yew::Renderer::<FleetView>::with_root(root).render();
}

/// Ports this page was allowed to use before (offered again).
#[hook]
fn use_granted_ports() -> UseStateHandle<Vec<web_sys::SerialPort>> {
    let granted = use_state(Vec::<web_sys::SerialPort>::new);
    {
        let granted = granted.clone();
        use_effect_with((), move |_| {
            if super::panels::has_web_serial() {
                spawn_local(async move {
                    if let Some(nav) = web_sys::window().map(|w| w.navigator()) {
                        if let Ok(list) =
                            wasm_bindgen_futures::JsFuture::from(nav.serial().get_ports()).await
                        {
                            let ports: Vec<web_sys::SerialPort> = js_sys::Array::from(&list)
                                .iter()
                                .map(wasm_bindgen::JsCast::unchecked_into)
                                .collect();
                            granted.set(ports);
                        }
                    }
                });
            }
        });
    }
    granted
}

/// The app for the "app into the idle slot" job.
fn pick_image(d: UseReducerDispatcher<Store>) -> Callback<Event> {
    super::one_file_picked(move |name, read| match read {
        Ok(b) => d.dispatch(FleetAction::Image(name, b)),
        Err(e) => d.dispatch(FleetAction::Error(e)),
    })
}

/// The manifest and its files for the install job.
fn pick_files(d: UseReducerDispatcher<Store>) -> Callback<Event> {
    Callback::from(move |e: Event| {
        let input: HtmlInputElement = e.target_unchecked_into();
        let Some(list) = input.files() else {
            return;
        };
        let files: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
        let d = d.clone();
        spawn_local(async move {
            let mut out = vec![];
            for f in files {
                match super::read_file(&f).await {
                    Ok(b) => out.push((f.name(), b)),
                    Err(e) => return d.dispatch(FleetAction::Error(e)),
                }
            }
            d.dispatch(FleetAction::Files(out));
        });
    })
}

/// Saves the records as CSV or JSON.
fn save(f: &Fleet, json: bool) -> Callback<MouseEvent> {
    let f = f.clone();
    Callback::from(move |_: MouseEvent| {
        let name = format!(
            "otaflash-fleet-{}.{}",
            stamp(),
            if json { "json" } else { "csv" }
        );
        let text = if json { f.json() } else { f.csv() };
        download(&name, text.as_bytes());
    })
}

/// Each board: its port, chip, what boots, and how its job stands.
fn boards_view(f: &Fleet, d: &UseReducerDispatcher<Store>, running: bool) -> Html {
    html! { <>
    { for f.boards.iter().map(|b| {
        let (d, id) = (d.clone(), b.id);
        html! {
            <div class="card" data-testid="fleet-board" data-port={b.port.clone()}>
                <p><strong>{ &b.port }</strong>
                    <button class="small" disabled={running} onclick={Callback::from(move |_: MouseEvent| d.dispatch(FleetAction::Remove(id)))}>{"Remove"}</button></p>
                if !b.chip.is_empty() {
                    <p class="meta">{ format!("{} · {}", b.chip, b.mac) }</p>
                    <p class="meta">{ format!("boots: {}", b.boots) }</p>
                }
                { state_view(&b.state) }
            </div>
        }
    }) }
    </> }
}

/// The summary and a record per board, to download.
fn records_view(f: &Fleet) -> Html {
    let Some(s) = f.summary() else {
        return html! {};
    };
    html! { <>
        <p data-testid="fleet-summary">{ s }</p>
        <div class="scroll-x">
            <table data-testid="fleet-records">
                <tr>{ for ["port", "chip", "MAC", "slot", "before → after", "MD5", "bytes", "s", "outcome", "message"].iter().map(|h| html!{ <th>{ *h }</th> }) }</tr>
                { for f.records().iter().map(|r| html! {
                    <tr data-testid="fleet-record" data-outcome={r.outcome.word()}>
                        // The chip's name and the MD5's start, in full on hover and in the
                        // downloads: the table fits a 1280 px window.
                        <td>{ &r.port }</td><td title={r.chip.clone()}>{ r.chip.split(" (").next().unwrap_or_default() }</td><td>{ &r.mac }</td><td>{ &r.slot }</td>
                        <td>{ format!("{} → {}", r.before, r.after) }</td><td class="mono" title={r.md5.clone()}>{ r.md5.get(..8).map_or(r.md5.clone(), |m| format!("{m}…")) }</td>
                        <td>{ r.written }</td><td>{ crate::formats::numbers::decimals(r.seconds, 1) }</td>
                        <td>{ r.outcome.word() }</td><td>{ &r.message }</td>
                    </tr>
                }) }
            </table>
        </div>
        <div class="row">
            <button onclick={save(f, false)} data-testid="fleet-csv">{"Download the records (CSV)"}</button>
            <button onclick={save(f, true)} data-testid="fleet-json">{"Download the records (JSON)"}</button>
        </div>
    </> }
}
