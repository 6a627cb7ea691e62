//! The device half of the page: connect, see the device and its layout, flash a slot, boot it,
//! edit otadata, back up, watch the console. One session state machine drives it all.

use super::editor::OtadataEditor;
use super::engine::{download, fetch_bytes, Engine};
use super::views::{ImageView, OtadataView, PartitionTableView};
use crate::formats::numbers::{human_size, parse_u32};
use crate::formats::otadata::OtaState;
use crate::formats::partition::Layout;
use crate::session::{Action, Job, Link, PortKind, Session};
use std::rc::Rc;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// The session as a Yew reducer.
#[derive(Default, PartialEq)]
pub struct SessionState(pub Session);

impl Reducible for SessionState {
    type Action = Action;
    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = self.0.clone();
        s.apply(action);
        Rc::new(SessionState(s))
    }
}

const BAUDS: [u32; 4] = [115_200, 460_800, 921_600, 2_000_000];

fn has_web_serial() -> bool {
    web_sys::window()
        .map(|w| {
            js_sys::Reflect::get(&w.navigator(), &"serial".into())
                .map(|v| !v.is_undefined())
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

fn url_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// Same-origin only (the page's CSP allows nothing else).
fn same_origin(url: &str) -> bool {
    !(url.contains("://") || url.starts_with("//"))
}

/// Picks the app part of an ESP Web Tools manifest for `chip` (e.g. "ESP32").
async fn image_from_manifest(
    manifest: &[u8],
    chip: Option<&str>,
    base: &str,
) -> Result<(String, Vec<u8>), String> {
    // The browser's own JSON parser: no JSON library in the page.
    let get =
        |v: &wasm_bindgen::JsValue, k: &str| js_sys::Reflect::get(v, &k.into()).unwrap_or_default();
    let text = String::from_utf8_lossy(manifest);
    let v = js_sys::JSON::parse(&text).map_err(|_| "manifest: not JSON".to_string())?;
    let builds: Vec<wasm_bindgen::JsValue> = js_sys::Array::from(&get(&v, "builds")).to_vec();
    if builds.is_empty() {
        return Err("manifest: no \"builds\"".into());
    }
    let build = builds
        .iter()
        .find(|b| {
            chip.is_none_or(|c| {
                get(b, "chipFamily")
                    .as_string()
                    .is_some_and(|f| f.eq_ignore_ascii_case(c))
            })
        })
        .ok_or_else(|| format!("manifest: no build for {}", chip.unwrap_or("this chip")))?;
    let parts: Vec<wasm_bindgen::JsValue> = js_sys::Array::from(&get(build, "parts")).to_vec();
    // The app is the part at the highest offset that is an app image.
    let mut parts: Vec<(u64, String)> = parts
        .iter()
        .filter_map(|p| {
            let off = get(p, "offset");
            let off = off
                .as_f64()
                .map(|f| f as u64)
                .or_else(|| parse_u32(&off.as_string()?).map(u64::from))?;
            Some((off, get(p, "path").as_string()?))
        })
        .collect();
    parts.sort();
    for (_, path) in parts.iter().rev() {
        let url = if same_origin(path) {
            format!("{base}{path}")
        } else {
            return Err(format!(
                "manifest part {path}: only files from this site can be loaded"
            ));
        };
        let bytes = fetch_bytes(&url).await?;
        if crate::formats::image::Image::parse(&bytes).is_ok_and(|i| i.is_app()) {
            return Ok((path.clone(), bytes));
        }
    }
    Err("manifest: none of the parts is an app image".into())
}

/// Fetches an ESP Web Tools manifest from this site and picks the app image for `chip`
/// (the first build when the chip is not known yet).
async fn load_manifest(url: &str, chip: Option<&str>) -> Result<(String, Vec<u8>), String> {
    if !same_origin(url) {
        return Err(format!(
            "{url}: only manifests from this site can be loaded (the page talks to no other server)"
        ));
    }
    let base = url
        .rsplit_once('/')
        .map(|(b, _)| format!("{b}/"))
        .unwrap_or_default();
    image_from_manifest(&fetch_bytes(url).await?, chip, &base).await
}

#[component]
pub fn DevicePanel() -> Html {
    let state = use_reducer(SessionState::default);
    let engine = {
        let d = state.dispatcher();
        use_memo((), move |_| Engine::new(Rc::new(move |a| d.dispatch(a))))
    };
    let s = &state.0;

    // URL parameters, once: ?port=sim|serial|ws://HOST:PORT, ?image=URL (?manifest=URL: the
    // flash panel).
    {
        let d = state.dispatcher();
        use_effect_with((), move |_| {
            match url_param("port") {
                Some(p) if p.starts_with("ws://") || p.starts_with("wss://") => {
                    d.dispatch(Action::SetPortKind(PortKind::Ws));
                    d.dispatch(Action::SetWsUrl(p));
                }
                Some(p) => {
                    if let Some(k) = PortKind::from_value(&p) {
                        d.dispatch(Action::SetPortKind(k));
                    }
                }
                None => d.dispatch(Action::SetPortKind(if has_web_serial() {
                    PortKind::Serial
                } else {
                    PortKind::Sim
                })),
            }
            if let Some(u) = url_param("image") {
                wasm_bindgen_futures::spawn_local(async move {
                    let r = if same_origin(&u) {
                        fetch_bytes(&u).await
                    } else {
                        Err(format!("{u}: only images from this site can be loaded"))
                    };
                    match r {
                        Ok(bytes) => d.dispatch(Action::ImagePicked(u, bytes)),
                        Err(e) => d.dispatch(Action::JobDone(Err(format!(
                            "could not load the image: {e}"
                        )))),
                    }
                });
            }
        });
    }

    html! {
        <section class="device-session">
            <ConnectBar state={state.clone()} engine={(*engine).clone()} />
            <p class={classes!("status", s.status.contains("failed").then_some("error"))} data-testid="status" role="status">{ &s.status }</p>
            if s.connected() {
                <DeviceInfo state={state.clone()} />
                <LayoutPanel state={state.clone()} engine={(*engine).clone()} />
            }
            <FlashPanel state={state.clone()} engine={(*engine).clone()} />
            if s.connected() {
                <BackupPanel state={state.clone()} engine={(*engine).clone()} />
            }
            <ConsolePanel state={state.clone()} engine={(*engine).clone()} />
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct Props {
    state: UseReducerHandle<SessionState>,
}

#[derive(Properties, PartialEq)]
struct EngineProps {
    state: UseReducerHandle<SessionState>,
    engine: Engine,
}

#[component]
fn ConnectBar(p: &EngineProps) -> Html {
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
    let filtered = use_state(|| true);
    let on_filter = {
        let f = filtered.clone();
        Callback::from(move |e: Event| {
            f.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let on_connect = {
        let (e, kind, url, baud, off, f) = (
            p.engine.clone(),
            s.port_kind,
            s.ws_url.clone(),
            s.baud,
            s.table_offset,
            *filtered,
        );
        Callback::from(move |_: MouseEvent| {
            if connected {
                e.disconnect();
            } else {
                e.connect(kind, url.clone(), baud, off, f);
            }
        })
    };
    let connecting = s.link == Link::Connecting;
    html! {
        <div class="connect">
            <h2>{"Device"}</h2>
            <div class="row">
                <label>{"Port "}
                    <select data-testid="port-kind" onchange={on_kind} disabled={connected || connecting}>
                        <option value="serial" selected={s.port_kind == PortKind::Serial} disabled={!has_web_serial()}>{"USB serial (Web Serial)"}</option>
                        <option value="sim" selected={s.port_kind == PortKind::Sim}>{"Simulated ESP32 (in this page)"}</option>
                        <option value="ws" selected={s.port_kind == PortKind::Ws}>{"WebSocket bridge"}</option>
                    </select>
                </label>
                                if s.port_kind == PortKind::Serial {
                    <label class="option" title="Espressif USB, CP210x, CH34x and FTDI bridges">
                        <input type="checkbox" checked={*filtered} onchange={on_filter} disabled={connected} />
                        {" only ESP32 USB bridges"}
                    </label>
                }
                if s.port_kind == PortKind::Ws {
                    <input data-testid="ws-url" type="text" value={s.ws_url.clone()} onchange={on_url} size="28" disabled={connected} aria-label="WebSocket URL" />
                }
                <label>{" Baud "}
                    <select data-testid="baud" onchange={on_baud} disabled={connected || connecting}>
                        { for BAUDS.iter().map(|b| html!{ <option value={b.to_string()} selected={*b == s.baud}>{ b }</option> }) }
                    </select>
                </label>
                <button class="primary" data-testid="connect" onclick={on_connect} disabled={connecting || s.busy()}>
                    { if connected { "Disconnect" } else if connecting { "Connecting…" } else { "Connect" } }
                </button>
            </div>
            if let Link::Failed(why) = &s.link {
                <div class="hint" data-testid="connect-help">
                    <p class="error">{ why.clone() }</p>
                    <ul>
                        <li>{"Hold the BOOT (IO0) button, press and release EN/RESET, release BOOT, then Connect again."}</li>
                        <li>{"Use a data USB cable: some cables only charge."}</li>
                        <li>{"Install the USB-serial driver for your board (CP210x, CH34x, FTDI) if the port does not show up."}</li>
                        <li>{"Close other programs and browser tabs that have the port open (serial monitors, other flashers)."}</li>
                    </ul>
                </div>
            }
        </div>
    }
}

#[component]
fn DeviceInfo(p: &Props) -> Html {
    let Some(d) = &p.state.0.device else {
        return html! {};
    };
    html! {
        <dl class="device-info">
            <dt>{"Chip"}</dt><dd data-testid="chip">{ &d.description }</dd>
            <dt>{"MAC"}</dt><dd class="mono" data-testid="mac">{ &d.mac }</dd>
            <dt>{"Flash"}</dt><dd data-testid="flash-size">{ human_size(d.flash_size as u64) }</dd>
            <dt>{"Loader"}</dt><dd data-testid="loader">{ if d.stub { "flasher stub" } else { "ROM loader" } }</dd>
            <dt>{"Baud"}</dt><dd data-testid="link-baud">{ d.baud }</dd>
            if !d.chip.supported {
                <dt></dt><dd class="error">{ format!("{}: not supported yet (otaflash drives the original ESP32)", d.chip.pretty) }</dd>
            }
        </dl>
    }
}

#[component]
fn LayoutPanel(p: &EngineProps) -> Html {
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
            None => d.dispatch(Action::JobDone(Err(format!("'{}' is not an offset", *t)))),
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
    let body = match &s.table {
        None => html! { <p class="hint">{"reading…"}</p> },
        Some(Err(e)) => html! { <p class="error" data-testid="table-error">{ e.clone() }</p> },
        Some(Ok(t)) => {
            let flash_size = s.device.as_ref().map(|d| d.flash_size).filter(|&f| f > 0);
            let warnings = t.warnings(&Layout {
                table_offset: s.table_offset,
                flash_size,
            });
            let boot = s.boot();
            let booted = s.booted();
            let od_view = match (&s.otadata, t.otadata()) {
                (Some(od), Some(_)) => html! {
                    <>
                        <OtadataView otadata={od.clone()} boot={boot.clone().map(Ok)} table={Some(t.clone())} />
                        <label class="option"><input type="checkbox" checked={s.rollback} onchange={on_rollback} />{" bootloader built with rollback"}</label>
                        <button data-testid="otadata-edit" onclick={let e = editing.clone(); Callback::from(move |_| e.set(!*e))} disabled={busy}>
                            { if *editing { "Close the editor" } else { "Edit otadata" } }
                        </button>
                        if *editing {
                            <OtadataEditor table={t.clone()} current={od.clone()} original={s.otadata_at_connect.clone()} rollback={s.rollback}
                                apply_label="Write to the device" disabled={busy}
                                on_apply={{ let (e, t) = (p.engine.clone(), t.clone()); Callback::from(move |o| e.write_otadata(t.clone(), o)) }} />
                        }
                    </>
                },
                _ => {
                    html! { <p class="hint">{"No otadata partition: the bootloader boots the factory app."}</p> }
                }
            };
            html! {
                <>
                    <PartitionTableView table={t.clone()} warnings={warnings} booted={booted} flash_size={flash_size} />
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
                <button onclick={on_reload} disabled={busy}>{"Read again"}</button>
            </div>
            { body }
        </div>
    }
}

#[component]
fn FlashPanel(p: &EngineProps) -> Html {
    let s = &p.state.0;
    let d = p.state.dispatcher();
    let boot_state = use_state(|| OtaState::Undefined);
    let chip: Option<String> = s.device.as_ref().map(|d| d.chip.pretty.to_string());
    let manifest_url = use_state(|| url_param("manifest").unwrap_or_default());
    // The manifest URL the current image came from (from ?manifest= at first): resolved again
    // for the chip once it is known.
    let from_manifest = use_mut_ref(|| url_param("manifest"));
    let load = {
        let (d, from) = (d.clone(), from_manifest.clone());
        move |url: String, chip: Option<String>| {
            let (d, from) = (d.clone(), from.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match load_manifest(&url, chip.as_deref()).await {
                    Ok((n, bytes)) => {
                        *from.borrow_mut() = Some(url);
                        d.dispatch(Action::ImagePicked(n, bytes))
                    }
                    Err(e) => d.dispatch(Action::JobDone(Err(e))),
                }
            });
        }
    };
    {
        let (load, from) = (load.clone(), from_manifest.clone());
        use_effect_with(chip.clone(), move |chip| {
            let url = from.borrow().clone();
            if let Some(url) = url {
                load(url, chip.clone());
            }
        });
    }
    let pick = {
        let (d, chip, from) = (d.clone(), chip.clone(), from_manifest.clone());
        move |list: web_sys::FileList| {
            if let Some(f) = list.get(0) {
                *from.borrow_mut() = None;
                let (d, chip) = (d.clone(), chip.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    match super::read_file(&f).await {
                        Ok(b) if f.name().ends_with(".json") => {
                            // An ESP Web Tools manifest picked as a file: its parts must come from this site.
                            match image_from_manifest(&b, chip.as_deref(), "").await {
                                Ok((n, bytes)) => d.dispatch(Action::ImagePicked(n, bytes)),
                                Err(e) => d.dispatch(Action::JobDone(Err(e))),
                            }
                        }
                        Ok(b) => d.dispatch(Action::ImagePicked(f.name(), b)),
                        Err(e) => d.dispatch(Action::JobDone(Err(e))),
                    }
                });
            }
        }
    };
    let on_file = {
        let pick = pick.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Some(l) = input.files() {
                pick(l);
            }
            input.set_value("");
        })
    };
    let on_drop = Callback::from(move |e: DragEvent| {
        e.prevent_default();
        if let Some(l) = e.data_transfer().and_then(|t| t.files()) {
            pick(l);
        }
    });
    let on_manifest_url = {
        let m = manifest_url.clone();
        Callback::from(move |e: Event| m.set(e.target_unchecked_into::<HtmlInputElement>().value()))
    };
    let on_manifest = {
        let (m, chip) = (manifest_url.clone(), chip.clone());
        Callback::from(move |_: MouseEvent| load((*m).clone(), chip.clone()))
    };
    let on_target = {
        let d = d.clone();
        Callback::from(move |e: Event| {
            d.dispatch(Action::SetTarget(
                e.target_unchecked_into::<HtmlSelectElement>().value(),
            ))
        })
    };
    let on_flash = {
        let (e, t, target, img) = (
            p.engine.clone(),
            s.table().cloned(),
            s.target.clone(),
            s.image.as_ref().map(|i| i.bytes.clone()),
        );
        Callback::from(move |_: MouseEvent| {
            if let (Some(t), Some(target), Some(img)) = (t.clone(), target.clone(), img.clone()) {
                e.flash(t, target, img);
            }
        })
    };
    let on_cancel = {
        let e = p.engine.clone();
        Callback::from(move |_: MouseEvent| e.cancel())
    };
    let on_state = {
        let b = boot_state.clone();
        Callback::from(move |e: Event| {
            b.set(
                OtaState::parse(&e.target_unchecked_into::<HtmlSelectElement>().value())
                    .unwrap_or(OtaState::Undefined),
            )
        })
    };
    let on_set_boot = {
        let (e, t, target, st) = (
            p.engine.clone(),
            s.table().cloned(),
            s.target.clone(),
            *boot_state,
        );
        Callback::from(move |_: MouseEvent| {
            if let (Some(t), Some(target)) = (t.clone(), target.clone()) {
                e.set_boot(t, target, st);
            }
        })
    };
    let problems = s.image_problems();
    let progress = s.progress();
    html! {
        <div class="flash" ondragover={Callback::from(|e: DragEvent| e.prevent_default())} ondrop={on_drop}>
            <h2>{"Flash a slot"}</h2>
            <p>{"Pick or drop an app image (.bin), or an ESP Web Tools manifest.json. "}
                <label class="button">{"Choose .bin"}
                                        <input type="file" accept=".bin,.json,application/octet-stream" data-testid="image-file" onchange={on_file} />
                </label>
            </p>
            <div class="row">
                <label>{"or a manifest URL on this site "}
                    <input type="text" size="30" placeholder="firmware/manifest.json" value={(*manifest_url).clone()} onchange={on_manifest_url} data-testid="manifest-url" />
                </label>
                <button onclick={on_manifest} disabled={manifest_url.is_empty()}>{"Load"}</button>
            </div>
            if let Some(img) = &s.image {
                <div class="picked">
                    <p><strong>{ &img.name }</strong>{ format!(" · {} bytes", img.bytes.len()) }</p>
                    if let Ok(i) = &img.image { <ImageView image={i.clone()} /> }
                    if !problems.is_empty() {
                        <ul class="warnings" data-testid="image-problems">
                            { for problems.iter().map(|m| html!{ <li>{ format!("Not flashable: {m}") }</li> }) }
                        </ul>
                    }
                </div>
            }
            if s.connected() && s.table().is_some() {
                <div class="row">
                    <label>{"Into slot "}
                        <select data-testid="target-slot" onchange={on_target} disabled={s.busy()}>
                            { for s.app_slots().iter().map(|sl| {
                                let n = sl.name();
                                let note = if Some(&n) == s.booted().as_ref() { " (boots now)" } else { "" };
                                html!{ <option value={n.clone()} selected={Some(&n) == s.target.as_ref()}>{ format!("{n} · 0x{:x} · {}{note}", sl.offset, human_size(sl.size as u64)) }</option> }
                            }) }
                        </select>
                    </label>
                    <button class="primary" data-testid="flash" onclick={on_flash} disabled={!s.can_flash()}>{"Flash"}</button>
                    if s.busy() { <button data-testid="cancel" onclick={on_cancel}>{"Cancel"}</button> }
                </div>
            }
            if let Job::Busy { what, progress: p } = &s.job {
                <div class="job">
                    <progress data-testid="progress" max={progress.map(|x| x.1).unwrap_or(1).to_string()} value={progress.map(|x| x.0).unwrap_or(0).to_string()} />
                    <span>{ match progress {
                        Some((done, total, kbit, eta)) => format!(" {} / {} bytes · {:.0} % · {:.0} kbit/s{}", done, total, done as f64 * 100.0 / total.max(1) as f64, kbit,
                            eta.map(|e| format!(" · {e:.0} s left")).unwrap_or_default()),
                        None => format!(" {what}{}", p.map(|p| format!(" ({})", super::engine::phase_name(p.phase))).unwrap_or_default()),
                    } }</span>
                </div>
            }
            if s.can_set_boot() {
                <div class="row boot-next">
                    <button class="primary" data-testid="set-boot" onclick={on_set_boot}>{ format!("Boot {} next", s.target.clone().unwrap_or_default()) }</button>
                    <label>{" as "}
                        <select onchange={on_state} data-testid="set-boot-state">
                            { for [OtaState::Undefined, OtaState::New, OtaState::Valid].iter().map(|st| html!{ <option value={st.name()} selected={*st == *boot_state}>{ st.name() }</option> }) }
                        </select>
                    </label>
                    <span class="hint">{" writes both otadata sectors (the idle one first), reads them back"}</span>
                </div>
            }
        </div>
    }
}

#[component]
fn BackupPanel(p: &EngineProps) -> Html {
    let s = &p.state.0;
    let choice = use_state(|| "otadata".to_string());
    let Some(t) = s.table() else { return html! {} };
    let flash_size = s.device.as_ref().map(|d| d.flash_size).unwrap_or(0);
    let on_choice = {
        let c = choice.clone();
        Callback::from(move |e: Event| {
            c.set(e.target_unchecked_into::<HtmlSelectElement>().value())
        })
    };
    let region = if *choice == "*flash" {
        Some(("flash.bin".to_string(), 0, flash_size))
    } else {
        t.find(&choice)
            .map(|p| (format!("{}.bin", p.name()), p.offset, p.size))
    };
    let on_save = {
        let e = p.engine.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some((n, o, sz)) = region.clone() {
                e.backup(n, o, sz);
            }
        })
    };
    html! {
        <div class="backup">
            <h2>{"Back up"}</h2>
            <div class="row">
                <select onchange={on_choice} data-testid="backup-what">
                    { for t.entries.iter().map(|e| html!{ <option value={e.name()} selected={e.name() == *choice}>{ format!("{} ({})", e.name(), human_size(e.size as u64)) }</option> }) }
                    <option value="*flash" selected={*choice == "*flash"}>{ format!("the whole flash ({})", human_size(flash_size as u64)) }</option>
                </select>
                <button onclick={on_save} disabled={s.busy()} data-testid="backup">{"Download"}</button>
            </div>
        </div>
    }
}

#[component]
fn ConsolePanel(p: &EngineProps) -> Html {
    let s = &p.state.0;
    let baud = use_state(|| 115_200u32);
    let on_baud = {
        let b = baud.clone();
        Callback::from(move |e: Event| {
            b.set(
                e.target_unchecked_into::<HtmlSelectElement>()
                    .value()
                    .parse()
                    .unwrap_or(115_200),
            )
        })
    };
    let watching = matches!(&s.job, Job::Busy { what, .. } if what.contains("console"));
    let on_watch = {
        let (e, b) = (p.engine.clone(), *baud);
        Callback::from(move |_: MouseEvent| e.watch_console(b))
    };
    let on_stop = {
        let e = p.engine.clone();
        Callback::from(move |_: MouseEvent| e.cancel())
    };
    let text = format!(
        "{}{}{}",
        s.log.join("\n"),
        if s.log.is_empty() || s.console.is_empty() {
            ""
        } else {
            "\n"
        },
        s.console
    );
    let on_download = {
        let t = text.clone();
        Callback::from(move |_: MouseEvent| download("otaflash-log.txt", t.as_bytes()))
    };
    html! {
        <div class="console">
            <h2>{"Log and serial console"}</h2>
            <div class="row">
                if s.connected() && !watching {
                    <button onclick={on_watch} disabled={s.busy()} data-testid="watch">{"Reset and watch the console"}</button>
                }
                if watching { <button onclick={on_stop}>{"Stop"}</button> }
                <label>{" at "}
                    <select onchange={on_baud} data-testid="console-baud">
                        { for [9600u32, 57_600, 74_880, 115_200, 230_400, 460_800, 921_600].iter().map(|b| html!{ <option value={b.to_string()} selected={*b == *baud}>{ b }</option> }) }
                    </select>{" baud "}
                </label>
                <button onclick={on_download} disabled={text.is_empty()}>{"Download the log"}</button>
            </div>
            <pre class="log" data-testid="log" aria-live="polite">{ text }</pre>
        </div>
    }
}
