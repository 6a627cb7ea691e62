//! The install button's dialog (`static/install-button.js` opens it on a vendor's page): the
//! page's one safe update for the manifest the button names — connect, the plan decided from
//! what the board holds, one button, progress, "Running NAME VERSION from app1" — then Wi-Fi
//! over Improv when the build says its app speaks it, with the logs and console below. The
//! page's state and engine; ESP Web Tools' `state-changed` events made by
//! [`crate::page::button`] and handed to the button's script.

use super::engine::Engine;
use super::panels::Store;
use super::update::UpdateOffer;
use super::wifi::WifiPanel;
use crate::chips::Chip;
use crate::device::update::Verdict;
use crate::page::button::{Details, Event, Events};
use crate::page::{Action, Link, PortKind, Source};
use std::rc::Rc;
use wasm_bindgen::JsValue;
use yew::prelude::*;

/// What the button asked for.
#[derive(Clone, PartialEq)]
pub struct Ask {
    /// The manifest's absolute address.
    pub manifest: String,
    /// What the manifest calls the firmware, if the button read it ("Garden Sensor 1.2.0").
    pub name: Option<String>,
    pub erase_first: bool,
    pub hide_progress: bool,
    pub show_log: bool,
    /// The board: a port chosen already, or where else to find it (`sim`, `sim:esp32c3`,
    /// `ws://…`, `rfc2217+ws://…`; otaflash's `port` attribute).
    pub device: Device,
    /// Told each ESP Web Tools event: `(state, message, chipFamily, details)`.
    pub emit: js_sys::Function,
    /// Closes the dialog.
    pub close: js_sys::Function,
}

#[derive(Clone, PartialEq)]
pub enum Device {
    Serial(web_sys::SerialPort),
    Sim(&'static Chip),
    Bridge(String),
}

impl Device {
    /// From the `port` attribute's words (None: not understood).
    pub fn named(words: &str) -> Option<Device> {
        let w = words.trim();
        if w.contains("ws://") || w.contains("wss://") {
            return Some(Device::Bridge(w.replacen("rfc2217 ", "rfc2217+", 1)));
        }
        match w.split_once(':') {
            Some(("sim", chip)) => Chip::by_name(chip)
                .filter(|c| c.supported())
                .map(Device::Sim),
            None if w == "sim" => Some(Device::Sim(crate::chips::ESP32)),
            _ => None,
        }
    }
}

#[derive(Properties, PartialEq)]
pub struct DialogProps {
    pub ask: Ask,
}

fn emit(f: &js_sys::Function, e: &Event) {
    let details = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&details, &k.into(), &v);
    };
    match &e.details {
        Details::Done(d) => set("done", (*d).into()),
        Details::Writing {
            bytes_total,
            bytes_written,
            percentage,
        } => {
            set("bytesTotal", (*bytes_total as f64).into());
            set("bytesWritten", (*bytes_written as f64).into());
            set("percentage", (*percentage).into());
        }
        Details::Error { error, details } => {
            set("error", error.name().into());
            set("details", details.as_str().into());
        }
    }
    let chip: JsValue = e
        .chip_family
        .as_deref()
        .map_or(JsValue::UNDEFINED, Into::into);
    let _ = f.call4(
        &JsValue::NULL,
        &e.state.name().into(),
        &e.message.as_str().into(),
        &chip,
        &details,
    );
}

/// Whether the build speaks Improv (how long its app gets to answer), and whether its app runs
/// now (the update confirmed it, or the board ran it already).
fn improv_and_running(s: &crate::page::PageState) -> (Option<u32>, bool) {
    let improv = s
        .firmware
        .as_ref()
        .and_then(|f| f.build.as_ref())
        .and_then(|b| b.improv);
    let running = s
        .finished
        .as_ref()
        .is_some_and(|f| f.verdict == Verdict::Running)
        || (s.fresh && s.plan.as_ref().is_some_and(|p| p.is_already()));
    (improv, running)
}

/// The run: the engine (its actions also made into ESP Web Tools' events), connected once
/// (again on "Try again", the callback returned), the manifest fetched once the chip is known
/// (ESP Web Tools' order: initializing, manifest), and at the end the board let go into its
/// app — or its console kept running for Wi-Fi set-up.
#[hook]
fn use_run(ask: &Ask, state: &UseReducerHandle<Store>) -> (Engine, Callback<MouseEvent>) {
    let engine = {
        let d = state.dispatcher();
        let f = ask.emit.clone();
        use_memo((), move |_| {
            let events = std::cell::RefCell::new(Events::default());
            Engine::new(Rc::new(move |a: Action| {
                let said = events.borrow_mut().on(&a);
                for e in said {
                    emit(&f, &e);
                }
                d.dispatch(a)
            }))
        })
    };
    let s = &state.0;
    let connect = {
        let (e, ask) = (engine.clone(), ask.clone());
        move || {
            e.set_erase_first(ask.erase_first);
            let (kind, url) = match &ask.device {
                Device::Serial(port) => {
                    e.give_port(port.clone());
                    (PortKind::Serial, String::new())
                }
                Device::Sim(c) => (PortKind::Sim(c), String::new()),
                Device::Bridge(u) => (PortKind::Ws, u.clone()),
            };
            e.connect(
                kind,
                url,
                None,
                crate::formats::partition::DEFAULT_TABLE_OFFSET,
                false,
            );
        }
    };
    let retry = {
        let connect = connect.clone();
        Callback::from(move |_: MouseEvent| connect())
    };
    {
        let e = engine.clone();
        use_effect_with((), move |_| {
            connect();
            move || e.close()
        });
    }
    {
        let (e, url) = (engine.clone(), ask.manifest.clone());
        let chip = s.board.as_ref().map(|b| b.chip.pretty);
        let asked = use_mut_ref(|| false);
        use_effect_with(chip, move |chip| {
            if let Some(c) = *chip {
                if !asked.replace(true) {
                    e.load_firmware_url(url, Some(c));
                }
            }
        });
    }
    {
        let e = engine.clone();
        let (baud, offset) = (s.baud, s.table_offset);
        let (improv, running) = improv_and_running(s);
        let ended = s.finished.is_some() || running;
        use_effect_with(
            (ended, improv.is_some() && running),
            move |(ended, wifi)| {
                if *wifi {
                    e.watch_console(115_200, baud, offset);
                } else if *ended {
                    // Done: the board is let go into its app now (the update's check held it in
                    // download mode), not when the dialog closes.
                    e.close();
                }
            },
        );
    }
    ((*engine).clone(), retry)
}

#[component]
pub fn Dialog(p: &DialogProps) -> Html {
    let ask = &p.ask;
    let state = use_reducer(Store::default);
    let (engine, on_retry) = use_run(ask, &state);
    let link = {
        let e = engine.clone();
        use_memo((), move |_| e.wifi_link())
    };
    let s = &state.0;
    let (improv, running) = improv_and_running(s);

    let on_close = {
        let f = ask.close.clone();
        Callback::from(move |_: MouseEvent| {
            let _ = f.call0(&JsValue::NULL);
        })
    };
    let title = s
        .firmware
        .as_ref()
        .map(|f| f.label())
        .or_else(|| ask.name.clone())
        .map_or_else(|| "Install".into(), |n| format!("Install {n}"));
    let board = s.board.as_ref().map(|b| {
        format!(
            "{} · {} flash · MAC {}",
            b.description,
            crate::formats::numbers::human_size(b.flash_size as u64),
            b.mac
        )
    });
    let link_words = match &s.link {
        Link::Connecting => Some("Connecting to the board…"),
        Link::Idle if s.board.is_none() => Some("Choose the board's port…"),
        _ => None,
    };
    html! {
        <div class="otaflash-dialog" data-testid="dialog">
            <header>
                <h2 data-testid="dialog-title">{ title }</h2>
                <button class="close" onclick={on_close} disabled={s.writing()} data-testid="dialog-close" aria-label="Close">{"×"}</button>
            </header>
            if let Some(b) = board {
                <p class="board" data-testid="dialog-board">{ b }</p>
            }
            if let Some(w) = link_words {
                <p class="working">{ w }</p>
            }
            if let Link::Failed(f) = &s.link {
                { super::job::failure_view(f, "dialog-failed", Some("Connect")) }
                <p><button onclick={on_retry} data-testid="dialog-retry">{"Try again"}</button></p>
            }
            if let Some(problem) = s.firmware.as_ref().and_then(|f| f.problem.clone()) {
                <p class="error" data-testid="dialog-firmware-problem">{ problem }</p>
            }
            if s.finished.is_some() {
                // How it ended, alone: the plan made again afterwards is no news here.
                { super::update::finished_view(s) }
            } else {
                <div class={classes!("offer", ask.hide_progress.then_some("hide-progress"))}>
                    <UpdateOffer state={state.clone()} engine={engine.clone()} />
                </div>
            }
            if let Some(f) = s.failed.as_ref().filter(|_| s.finished.is_none()) {
                { super::job::failure_view(&f.failure, "dialog-job-failed", Some(f.job.title())) }
            }
            if let (Some(wait), true) = (improv, running) {
                <WifiPanel link={(*link).clone()} {wait} />
            }
            <details class="logs" open={ask.show_log} data-testid="dialog-logs">
                <summary>{"Logs & console"}</summary>
                <pre data-testid="dialog-log">
                    { for s.log.iter().skip(s.log.len().saturating_sub(400)).map(|l| {
                        let who = if l.source == Source::Device { "device" } else { "otaflash" };
                        html!{ <span class={who}>{ format!("{} {}\n", l.clock, l.text) }</span> }
                    }) }
                </pre>
            </details>
        </div>
    }
}

fn text(o: &JsValue, k: &str) -> Option<String> {
    js_sys::Reflect::get(o, &k.into()).ok()?.as_string()
}

fn flag(o: &JsValue, k: &str) -> bool {
    js_sys::Reflect::get(o, &k.into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

fn function(o: &JsValue, k: &str) -> js_sys::Function {
    use wasm_bindgen::JsCast;
    js_sys::Reflect::get(o, &k.into())
        .ok()
        .and_then(|v| v.dyn_into().ok())
        .unwrap_or_else(|| js_sys::Function::new_no_args(""))
}

/// Opens the dialog on `root` with the button's `opts`: `manifest` (absolute address),
/// `base` (where otaflash's files are), `eraseFirst`, `hideProgress`, `showLog`, `port` (a
/// SerialPort chosen already) or `device` (otaflash's `port` attribute's words), `emit` and
/// `close` (functions). A `device` that is not understood is said in the dialog's place.
pub fn open(root: web_sys::Element, opts: JsValue) -> Result<yew::AppHandle<Dialog>, String> {
    use wasm_bindgen::JsCast;
    if let Some(b) = text(&opts, "base") {
        super::assets::set_base(&b);
    }
    let port = js_sys::Reflect::get(&opts, &"port".into())
        .ok()
        .filter(|p| p.is_object());
    let device = match (port, text(&opts, "device")) {
        (Some(p), _) => Device::Serial(p.unchecked_into()),
        (None, Some(words)) => Device::named(&words).ok_or_else(|| {
            format!(
                "port=\"{words}\": give sim, sim:CHIP, ws://HOST:PORT or rfc2217+ws://HOST:PORT"
            )
        })?,
        (None, None) => return Err("no port was chosen".into()),
    };
    let ask = Ask {
        manifest: text(&opts, "manifest").ok_or("the button names no manifest")?,
        name: text(&opts, "name"),
        erase_first: flag(&opts, "eraseFirst"),
        hide_progress: flag(&opts, "hideProgress"),
        show_log: flag(&opts, "showLog"),
        device,
        emit: function(&opts, "emit"),
        close: function(&opts, "close"),
    };
    Ok(yew::Renderer::<Dialog>::with_root_and_props(root, DialogProps { ask }).render())
}
