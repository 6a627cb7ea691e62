//! The device half of the page: connect, see the board and what it holds, back up; the status
//! bar. One page state (a pure reducer, [`crate::page`]) drives it all; the flash panel and the
//! console have their own files.

use super::console::ConsolePanel;
use super::editor_shell::EditorShell;
use super::engine::{fetch_bytes, Engine};
use super::flash::FlashPanel;
use super::fleet_shell::FleetShell;
use super::install_shell::InstallShell;
use super::manifest::same_origin;
use super::nvs_shell::NvsShell;
use super::update::UpdatePanel;
use super::views::{otadata_view, partition_table, slots_view};
use crate::chips::{Chip, CHIPS};
use crate::formats::numbers::{human_size, parse_u32};
use crate::formats::partition::Layout;
use crate::page::{Action, Link, PageState, PortKind, Tone, WsSpeaks};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// The page state as a Yew reducer.
#[derive(Default, PartialEq)]
pub struct Store(pub PageState);

impl Reducible for Store {
    type Action = Action;
    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = self.0.clone();
        s.apply(action);
        Rc::new(Store(s))
    }
}

pub type StoreHandle = UseReducerHandle<Store>;

#[derive(Properties, PartialEq)]
pub struct PanelProps {
    pub state: StoreHandle,
    pub engine: Engine,
}

const BAUDS: [u32; 4] = [115_200, 460_800, 921_600, 2_000_000];

pub fn has_web_serial() -> bool {
    web_sys::window()
        .map(|w| {
            js_sys::Reflect::get(&w.navigator(), &"serial".into())
                .map(|v| !v.is_undefined())
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

pub fn url_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// A window event listener that lives as long as the returned guard.
struct Listener {
    name: &'static str,
    f: Closure<dyn FnMut(web_sys::Event)>,
}

impl Listener {
    fn on_window(name: &'static str, f: impl FnMut(web_sys::Event) + 'static) -> Option<Listener> {
        let f = Closure::<dyn FnMut(web_sys::Event)>::new(f);
        web_sys::window()?
            .add_event_listener_with_callback(name, f.as_ref().unchecked_ref())
            .ok()?;
        Some(Listener { name, f })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(w) = web_sys::window() {
            let _ =
                w.remove_event_listener_with_callback(self.name, self.f.as_ref().unchecked_ref());
        }
    }
}

#[derive(Properties, PartialEq)]
pub struct DeviceProps {
    pub state: StoreHandle,
}

#[component]
pub fn DevicePanel(p: &DeviceProps) -> Html {
    let state = p.state.clone();
    let engine = {
        let d = state.dispatcher();
        use_memo((), move |_| Engine::new(Rc::new(move |a| d.dispatch(a))))
    };
    let s = &state.0;

    // URL parameters, once: ?port=sim|serial|ws://HOST:PORT|rfc2217+ws://HOST:PORT, &baud=N
    // and ?image=URL (?manifest=URL: the flash panel).
    {
        let d = state.dispatcher();
        use_effect_with((), move |_| {
            match url_param("port") {
                Some(p) if p.contains("ws://") || p.contains("wss://") => {
                    d.dispatch(Action::SetPortKind(PortKind::Ws));
                    // A query string reads an unescaped '+' as a space: rfc2217+ws:// typed
                    // into the address bar arrives as "rfc2217 ws://".
                    d.dispatch(Action::SetWsUrl(p.replacen("rfc2217 ", "rfc2217+", 1)));
                }
                Some(p) => {
                    // ?port=sim&chip=esp32s3: the simulated chip of that kind.
                    let chip = url_param("chip").and_then(|c| Chip::by_name(&c));
                    match (PortKind::from_value(&p), chip) {
                        (Some(PortKind::Sim(_)), Some(c)) if c.supported() => {
                            d.dispatch(Action::SetPortKind(PortKind::Sim(c)))
                        }
                        (Some(k), _) => d.dispatch(Action::SetPortKind(k)),
                        (None, _) => {}
                    }
                }
                None => d.dispatch(Action::SetPortKind(if has_web_serial() {
                    PortKind::Serial
                } else {
                    PortKind::Sim(crate::chips::ESP32)
                })),
            }
            // &baud=921600: asked for, so asked of the chip even over a raw ws:// link.
            if let Some(b) = url_param("baud").and_then(|b| b.trim().parse().ok()) {
                d.dispatch(Action::SetBaud(b));
            }
            if let Some(u) = url_param("image") {
                d.dispatch(Action::ImageLoading(u.clone()));
                wasm_bindgen_futures::spawn_local(async move {
                    let r = if same_origin(&u) {
                        fetch_bytes(&u).await
                    } else {
                        Err(format!("{u}: only images from this site can be loaded"))
                    };
                    match r {
                        Ok(bytes) => d.dispatch(Action::ImagePicked(u, bytes)),
                        Err(e) => d.dispatch(Action::ImageFailed(format!(
                            "could not load the image: {e}"
                        ))),
                    }
                });
            }
        });
    }
    // A file dropped anywhere but a drop zone must not make the browser open it (and leave).
    use_effect_with((), |_| {
        let guards = [
            Listener::on_window("dragover", |e| e.prevent_default()),
            Listener::on_window("drop", |e| e.prevent_default()),
        ];
        move || drop(guards)
    });
    // While a write runs, leaving the page asks first. The flag is set while rendering (not in
    // an effect, which runs later), so the guard holds from the first frame that shows the write.
    let writing = use_mut_ref(|| false);
    *writing.borrow_mut() = s.writing();
    {
        let writing = writing.clone();
        use_effect_with((), move |_| {
            let guard = Listener::on_window("beforeunload", move |e| {
                if *writing.borrow() {
                    e.prevent_default();
                    let _ = js_sys::Reflect::set(&e, &"returnValue".into(), &"".into());
                }
            });
            move || drop(guard)
        });
    }

    let connected = s.connected();
    html! {
        <section class="device-session">
            <ConnectBar state={state.clone()} engine={(*engine).clone()} />
            <UpdatePanel state={state.clone()} engine={(*engine).clone()} />
            if connected {
                <BoardView state={state.clone()} />
                <LayoutPanel state={state.clone()} engine={(*engine).clone()} />
            }
            <FlashPanel state={state.clone()} engine={(*engine).clone()} />
            <InstallShell state={state.clone()} engine={(*engine).clone()} />
            <NvsShell state={state.clone()} engine={(*engine).clone()} />
            <ConsolePanel state={state.clone()} engine={(*engine).clone()} />
            <FleetShell />
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct StateProps {
    pub state: StoreHandle,
}

/// Where things stand, in a footer below the page's scrolling area (so it never covers
/// anything). Hidden while there is nothing to say.
#[component]
pub fn StatusBar(p: &StateProps) -> Html {
    let Some(st) = &p.state.0.status else {
        return html! {};
    };
    let tone = match st.tone {
        Tone::Info => "info",
        Tone::Working => "working",
        Tone::Done => "done",
        Tone::Warning => "warning",
        Tone::Error => "error",
    };
    html! {
        <p class={classes!("status", tone)} data-testid="status" data-tone={tone} role="status" aria-live="polite">{ &st.text }</p>
    }
}

#[component]
fn ConnectBar(p: &PanelProps) -> Html {
    let s = &p.state.0;
    let d = p.state.dispatcher();
    let on_kind = {
        let d = d.clone();
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            if let Some(k) = PortKind::from_value(&v) {
                d.dispatch(Action::SetPortKind(k));
            }
        })
    };
    let on_sim_chip = {
        let d = d.clone();
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            if let Some(c) = Chip::by_name(&v) {
                d.dispatch(Action::SetPortKind(PortKind::Sim(c)));
            }
        })
    };
    let on_url = {
        let d = d.clone();
        Callback::from(move |e: Event| {
            d.dispatch(Action::SetWsUrl(
                e.target_unchecked_into::<HtmlInputElement>().value(),
            ))
        })
    };
    let on_baud = {
        let d = d.clone();
        Callback::from(move |e: Event| {
            let v = e.target_unchecked_into::<HtmlSelectElement>().value();
            d.dispatch(Action::SetBaud(v.parse().unwrap_or(921_600)));
        })
    };
    let connected = s.connected();
    let open = connected || s.link == Link::Console;
    let filtered = use_state(|| true);
    let on_filter = {
        let f = filtered.clone();
        Callback::from(move |e: Event| {
            f.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let connecting = s.link == Link::Connecting;
    let on_connect = {
        let (e, kind, url, baud, off, f, busy) = (
            p.engine.clone(),
            s.port_kind,
            s.ws_url.clone(),
            s.baud,
            s.table_offset,
            *filtered,
            s.busy() || connecting,
        );
        Callback::from(move |_: MouseEvent| {
            // Kept enabled (a disabled button drops the keyboard focus): busy clicks do nothing.
            if busy {
            } else if connected {
                e.disconnect();
            } else {
                e.connect(kind, url.clone(), baud, off, f);
            }
        })
    };
    html! {
        <div class="connect">
            <h2>{"Device"}</h2>
            <div class="row">
                <label>{"Port "}
                    <select data-testid="port-kind" onchange={on_kind} disabled={open || connecting}>
                        <option value="serial" selected={s.port_kind == PortKind::Serial} disabled={!has_web_serial()}>{"USB serial (Web Serial)"}</option>
                        <option value="sim" selected={matches!(s.port_kind, PortKind::Sim(_))}>{"Simulated chip (in this page)"}</option>
                        <option value="ws" selected={s.port_kind == PortKind::Ws}>{"WebSocket bridge"}</option>
                    </select>
                </label>
                if s.port_kind == PortKind::Serial {
                    <label class="option" title="Espressif USB, CP210x, CH34x and FTDI bridges">
                        <input type="checkbox" checked={*filtered} onchange={on_filter} disabled={open} />
                        {" only ESP32 USB bridges"}
                    </label>
                }
                if let PortKind::Sim(chip) = s.port_kind {
                    <select data-testid="sim-chip" onchange={on_sim_chip} disabled={open || connecting} aria-label="Simulated chip">
                        { for CHIPS.iter().filter(|c| c.supported()).map(|c| html!{
                            <option value={c.name} selected={c == chip}>{ c.pretty }</option>
                        }) }
                    </select>
                    <button class="secondary" data-testid="sim-blank" disabled={open || connecting}
                        title="The simulated board keeps its flash in this browser between visits; this erases it"
                        onclick={{ let e = p.engine.clone(); Callback::from(move |_: MouseEvent| e.blank_sim(chip)) }}>{"Blank board"}</button>
                }
                if s.port_kind == PortKind::Ws {
                    <input data-testid="ws-url" type="text" value={s.ws_url.clone()} onchange={on_url} size="28" disabled={open} aria-label="WebSocket bridge URL (rfc2217+ws:// or ws://)" />
                }
                <label>{" Baud "}
                    <select data-testid="baud" onchange={on_baud} disabled={open || connecting}>
                        { for BAUDS.iter().map(|b| html!{ <option value={b.to_string()} selected={*b == s.baud.unwrap_or(crate::loader::DEFAULT_BAUD)}>{ b }</option> }) }
                    </select>
                </label>
                if s.link != Link::Console {
                    <button class="primary" data-testid="connect" onclick={on_connect}
                        aria-disabled={(connecting || s.busy()).to_string()}>
                        { if connected { "Disconnect" } else if connecting { "Connecting…" } else { "Connect" } }
                    </button>
                }
            </div>
            if s.port_kind == PortKind::Ws {
                <p class="note" data-testid="ws-note">{
                    match WsSpeaks::of(&s.ws_url) { Ok((w, _)) => w.note().to_string(), Err(e) => e }
                }</p>
            }
            if let Link::Failed(f) = &s.link {
                { super::job::failure_view(f, "connect-help", None) }
            }
        </div>
    }
}

#[component]
fn BoardView(p: &StateProps) -> Html {
    let Some(d) = &p.state.0.board else {
        return html! {};
    };
    html! {
        <div class="device-info">
        <dl>
            <dt>{"Chip"}</dt><dd data-testid="chip">{ &d.description }</dd>
            <dt>{"MAC"}</dt><dd class="mono" data-testid="mac">{ if d.identity_read { d.mac.clone() } else { "not readable".into() } }</dd>
            <dt>{"Flash"}</dt><dd data-testid="flash-size">{ if d.flash_detected { human_size(d.flash_size as u64) } else { "size unknown".into() } }</dd>
            <dt>{"Loader"}</dt><dd data-testid="loader">{ if d.stub { "flasher stub" } else { "ROM loader" } }</dd>
            <dt>{"Baud"}</dt><dd data-testid="link-baud">{ d.baud }</dd>
            <dt>{"Security"}</dt>
            <dd data-testid="security" class={classes!((!d.security.is_open()).then_some("secured"))}>{ d.security.summary() }</dd>
        </dl>
        if !d.security_notes().is_empty() {
            <ul class="security-notes" data-testid="security-notes">
                { for d.security_notes().into_iter().map(|n| html!{ <li>{ n }</li> }) }
            </ul>
        }
        </div>
    }
}

#[component]
fn LayoutPanel(p: &PanelProps) -> Html {
    let s = &p.state.0;
    let editing = use_state(|| false);
    let offset_text = use_state(|| format!("0x{:x}", s.table_offset));
    let on_offset = {
        let t = offset_text.clone();
        Callback::from(move |e: Event| t.set(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let on_reload = {
        let (e, d, t) = (p.engine.clone(), p.state.dispatcher(), offset_text.clone());
        Callback::from(move |_: MouseEvent| match parse_u32(&t) {
            Some(o) => {
                d.dispatch(Action::SetTableOffset(o));
                e.read_layout(o);
            }
            None => d.dispatch(Action::Refused(crate::page::Failure::refused(format!(
                "'{}' is not an offset (e.g. 0x8000)",
                *t
            )))),
        })
    };
    let on_rollback = {
        let d = p.state.dispatcher();
        Callback::from(move |e: Event| {
            d.dispatch(Action::SetRollback(
                e.target_unchecked_into::<HtmlInputElement>().checked(),
            ))
        })
    };
    let busy = s.busy();
    let on_verify = (!busy).then(|| {
        let e = p.engine.clone();
        Callback::from(move |part| e.verify_slot(part))
    });
    let body = match &s.table {
        None => html! { <p class="hint">{"reading…"}</p> },
        Some(Err(e)) => {
            let boot_at = s
                .board
                .as_ref()
                .map_or(crate::chips::ESP32.bootloader_offset, |b| {
                    b.chip.bootloader_offset
                });
            html! { <>
                <p class="error" data-testid="table-error">{ e.message() }</p>
                <p class="hint" data-testid="table-hint">{ e.hint(boot_at) }</p>
            </> }
        }
        Some(Ok(t)) => {
            let flash_size = s.board.as_ref().map(|d| d.flash_size).filter(|&f| f > 0);
            let warnings = t.warnings(&Layout {
                table_offset: s.table_offset,
                flash_size,
            });
            let boot = s.boot();
            let booted = s.booted();
            let od_view = match (&s.otadata, t.otadata()) {
                (Some(od), Some(_)) => {
                    html! {
                    <>
                        { otadata_view(od, boot.as_ref().map(Ok), Some(t), "") }
                        <label class="option"><input type="checkbox" checked={s.rollback} onchange={on_rollback} />{" bootloader built with rollback"}</label>
                        <button data-testid="otadata-edit" onclick={let e = editing.clone(); Callback::from(move |_| e.set(!*e))} disabled={busy}>
                            { if *editing { "Close the editor" } else { "Edit otadata" } }
                        </button>
                        if *editing {
                            <EditorShell table={t.clone()} current={od.clone()} original={s.otadata_at_connect.clone()} rollback={s.rollback}
                                slots={s.slots.clone()} disabled={busy} engine={p.engine.clone()} />
                        }
                    </>
                    }
                }
                _ => {
                    html! { <p class="hint">{ crate::formats::otadata::NO_OTADATA }</p> }
                }
            };
            html! {
                <>
                    { partition_table(t, &warnings, booted.as_deref(), flash_size) }
                    <h3>{"App slots"}</h3>
                    { slots_view(t, &s.slots, boot.as_ref(), on_verify) }
                    <h3>{"otadata"}</h3>
                    { od_view }
                </>
            }
        }
    };
    html! {
        <div class="layout">
            <h2>{"Layout"}</h2>
            <div class="row">
                <label>{"Partition table at "}<input type="text" size="8" value={(*offset_text).clone()} onchange={on_offset} data-testid="table-offset" /></label>
                <button onclick={on_reload} disabled={busy} data-testid="read-layout">{"Read again"}</button>
            </div>
            { body }
        </div>
    }
}
