//! Install or recover a board: every part of an ESP Web Tools build for the connected chip (the
//! manifest from this site or picked with its files), a merged image written at 0, or files at
//! offsets pre-filled from what each file is. Checked before writing (what stops it, what needs
//! a yes, which data is lost), erase first when asked, each part verified by MD5, then the chip
//! is reset into its app with its console shown.

use super::install_view::{get, parts_to_js, InstallView};
use crate::chips::security::{FlashEncryption, Written};
use crate::formats::install::{Blocker, PartKind, Plan, PlanOptions};
use crate::formats::manifest::is_manifest_name;
use crate::formats::numbers::human_size;
use crate::formats::partition::PartitionTable;
use crate::page::install::{InstallAction, InstallForm, PartsFrom};
use crate::workbench::{self, Content};
use js_sys::{Array, Function, Uint8Array};
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// What a whole-flash image holds, in one line.
fn merged_contents(name: &str, bytes: &[u8]) -> String {
    match workbench::open(name, bytes.to_vec()).content {
        Content::Dump { table, slots, .. } => {
            let apps: Vec<String> = table
                .entries
                .iter()
                .filter(|e| e.is_app())
                .map(|e| {
                    format!(
                        "{}: {}",
                        e.name(),
                        slots.get(e).map_or("?".into(), |s| s.summary())
                    )
                })
                .collect();
            format!(
                "holds a bootloader{}, a partition table ({} partitions{}), {}",
                workbench::dump_chip(bytes).map_or(String::new(), |c| format!(" ({})", c.pretty)),
                table.entries.len(),
                if table.otadata().is_some() {
                    ", with otadata"
                } else {
                    ""
                },
                apps.join("; ")
            )
        }
        _ => "a whole-flash image".into(),
    }
}

#[derive(Properties, PartialEq)]
pub struct InstallProps {
    /// The page as it stands (kept current by the page's shell).
    pub view: std::rc::Rc<InstallView>,
    /// The page's bridge: `install(parts, eraseAll, fit, written, nothingBootsOk, confirmed,
    /// resetAfter)` and `loadFiles(names, bytes)`.
    pub bridge: JsValue,
}

/// Calls the bridge's function `name` with `args` (nothing when it is not there).
pub(crate) fn call(bridge: &JsValue, name: &str, args: &[JsValue]) {
    if let Ok(f) = get(bridge, name).dyn_into::<Function>() {
        let _ = f.apply(bridge, &args.iter().collect::<Array>());
    }
}

/// The form's state in a Yew reducer (the policy is in [`InstallForm`]).
#[derive(Default, PartialEq)]
struct Form(InstallForm);

impl Reducible for Form {
    type Action = InstallAction;
    fn reduce(self: Rc<Self>, a: InstallAction) -> Rc<Self> {
        let mut f = self.0.clone();
        f.apply(a);
        Rc::new(Form(f))
    }
}

type FormHandle = UseReducerHandle<Form>;

/// Reads the picked files: a manifest among them goes to the page as the firmware for every
/// panel (its parts come back here); other files are placed at offsets by kind.
fn on_files(bridge: JsValue, form: FormHandle, table: Option<PartitionTable>) -> Callback<Event> {
    Callback::from(move |e: Event| {
        let input: HtmlInputElement = e.target_unchecked_into();
        let Some(list) = input.files() else { return };
        let files: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
        input.set_value("");
        let (bridge, form, table) = (bridge.clone(), form.clone(), table.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let mut read = vec![];
            for f in &files {
                match super::read_file(f).await {
                    Ok(b) => read.push((f.name(), b)),
                    Err(e) => return form.dispatch(InstallAction::ReadFailed(e)),
                }
            }
            if read.iter().any(|(n, _)| is_manifest_name(n)) {
                form.dispatch(InstallAction::ManifestPicked);
                let names: Array = read
                    .iter()
                    .map(|(n, _)| JsValue::from(n.as_str()))
                    .collect();
                let bytes: Array = read
                    .iter()
                    .map(|(_, b)| JsValue::from(Uint8Array::from(&b[..])))
                    .collect();
                call(&bridge, "loadFiles", &[names.into(), bytes.into()]);
                return;
            }
            form.dispatch(InstallAction::Files(read, table));
        });
    })
}

/// A checkbox that sends `f(checked)`.
fn check(form: &FormHandle, f: fn(bool) -> InstallAction) -> Callback<Event> {
    let form = form.clone();
    Callback::from(move |e: Event| {
        form.dispatch(f(e.target_unchecked_into::<HtmlInputElement>().checked()))
    })
}

/// The parts to write: offsets editable for files, fixed for a build.
fn parts_table(form: &FormHandle, busy: bool) -> Html {
    let editable = form.0.from == Some(PartsFrom::Files);
    let set_offset = |i: usize| {
        let form = form.clone();
        Callback::from(move |e: Event| {
            form.dispatch(InstallAction::SetOffset(
                i,
                e.target_unchecked_into::<HtmlInputElement>().value(),
            ))
        })
    };
    let remove = |i: usize| {
        let form = form.clone();
        Callback::from(move |_: MouseEvent| form.dispatch(InstallAction::Remove(i)))
    };
    html! {
        <div class="scroll-x">
        <table class="parts">
            <thead><tr><th>{"offset"}</th><th>{"what"}</th><th>{"file"}</th><th class="num">{"size"}</th><th></th></tr></thead>
            <tbody>
            { for form.0.rows.iter().enumerate().map(|(i, r)| html! {
                <tr data-testid="install-part" data-kind={r.kind.name()} data-offset={r.offset.clone()}>
                    <td>{ if editable {
                        html!{ <input type="text" size="9" value={r.offset.clone()} onchange={set_offset(i)} data-testid="install-offset" aria-label={format!("offset of {}", r.name)} disabled={busy} /> }
                    } else { html!{ <span class="mono">{ r.offset.clone() }</span> } } }</td>
                    <td>{ r.kind.name() }
                        if r.kind == PartKind::FlashImage { <div class="hint" data-testid="install-merged">{ merged_contents(&r.name, &r.bytes) }</div> }
                    </td>
                    <td class="mono">{ &r.name }</td>
                    <td class="num">{ human_size(r.bytes.len() as u64) }</td>
                    <td>{ if editable { html!{ <button class="close" title="Leave out" aria-label={format!("leave out {}", r.name)} onclick={remove(i)} disabled={busy}>{"×"}</button> } } else { html!{} } }</td>
                </tr>
            }) }
            </tbody>
        </table>
        </div>
    }
}

/// What stops the plan, and the choices it offers (erase, bootloader size, encryption, reset,
/// the yes to its cautions).
fn plan_view(form: &FormHandle, s: &InstallView, pl: &Plan, opts: &PlanOptions, fit: bool) -> Html {
    let f = &form.0;
    let busy = s.busy;
    let security = s.board.as_ref().map(|b| b.security).unwrap_or_default();
    html! { <>
        if !pl.blockers.is_empty() {
            <ul class="warnings error-list" data-testid="install-blockers">
                { for pl.blockers.iter().map(|b| html!{ <li>{ format!("Not installable: {}", b.message()) }</li> }) }
            </ul>
        }
        if f.nothing_boots_ok || pl.blockers.iter().any(|b| matches!(b, Blocker::NothingBoots(_))) {
            <label class="option"><input type="checkbox" checked={f.nothing_boots_ok} onchange={check(form, InstallAction::SetNothingBootsOk)} data-testid="install-nothing-boots-ok" disabled={busy} />
                {" Install anyway, knowing the board will not start until a bootable build is installed"}
            </label>
        }
        for n in pl.notes.iter() { <p class="hint">{ n.clone() }</p> }
        <label class="option"><input type="checkbox" checked={opts.erase_all} onchange={check(form, InstallAction::SetErase)} data-testid="install-erase" disabled={busy} />
            { if pl.layout_changes { " Erase the whole flash first (recommended: the partition table changes)" } else { " Erase the whole flash first (NVS and other data are kept otherwise)" } }
        </label>
        if fit {
            <label class="option"><input type="checkbox" checked={f.fit} onchange={check(form, InstallAction::SetFit)} data-testid="install-fit" disabled={busy} />
                { format!(" Set the bootloader's flash size to the chip's {} (as esptool --flash-size does)", s.board.as_ref().map_or(String::new(), |b| human_size(b.flash_size as u64))) }
            </label>
        }
        if security.flash_encrypted() {
            <label class="option"><input type="checkbox" checked={f.pre_encrypted} onchange={check(form, InstallAction::SetPreEncrypted)} data-testid="install-pre-encrypted" disabled={busy || f.encrypt_on_write} />
                {" These files are already encrypted for this chip's key (espsecure encrypt-flash-data): write them as they are"}
            </label>
        }
        if security.flash_encryption == FlashEncryption::Development {
            <label class="option"><input type="checkbox" checked={f.encrypt_on_write} onchange={check(form, InstallAction::SetEncryptOnWrite)} data-testid="install-encrypt" disabled={busy || f.pre_encrypted} />
                {" Have the chip encrypt them as it writes (development mode): bootloader, table and apps encrypted, other data plain; such writes cannot be verified"}
            </label>
        }
        <label class="option"><input type="checkbox" checked={f.reset_after} onchange={check(form, InstallAction::SetResetAfter)} data-testid="install-reset" disabled={busy} />{" Reset into the app afterwards and show its console"}</label>
        if !pl.cautions.is_empty() {
            <div class="warnings" data-testid="install-cautions">
                <ul>{ for pl.cautions.iter().map(|c| html!{ <li>{ c.message() }</li> }) }</ul>
                <label><input type="checkbox" checked={f.confirmed} onchange={check(form, InstallAction::Confirm)} data-testid="install-confirm" disabled={busy} />{" I understand: install anyway"}</label>
            </div>
        }
    </> }
}

#[component]
pub fn InstallPanel(p: &InstallProps) -> Html {
    let s = &*p.view;
    let form = use_reducer(Form::default);
    // The firmware loaded for every panel (Update above): every part of its build for the chip.
    {
        let form = form.clone();
        let parts = s.firmware.as_ref().map(|(_, parts)| parts.clone());
        use_effect_with(parts, move |parts| {
            if let Some(parts) = parts {
                form.dispatch(InstallAction::Firmware(parts.clone()));
            }
        });
    }
    let f = &form.0;
    let planned = f.planned(s);
    let busy = s.busy;
    let can_install = f.can_install(s, planned.as_ref());
    let on_install = {
        let (bridge, planned, confirmed, reset_after) = (
            p.bridge.clone(),
            planned.clone(),
            f.confirmed,
            f.reset_after,
        );
        Callback::from(move |_: MouseEvent| {
            if let Some((pl, opts)) = &planned {
                let written = match opts.written {
                    Written::Plain => 0,
                    Written::PreEncrypted => 1,
                    Written::EncryptedByChip => 2,
                };
                call(
                    &bridge,
                    "install",
                    &[
                        parts_to_js(&pl.parts),
                        opts.erase_all.into(),
                        opts.fit_bootloader.into(),
                        JsValue::from(written),
                        opts.nothing_boots_ok.into(),
                        confirmed.into(),
                        reset_after.into(),
                    ],
                );
            }
        })
    };
    let source_line = match f.from {
        Some(PartsFrom::Firmware) => {
            let label = s
                .firmware
                .as_ref()
                .map(|(l, _)| l.clone())
                .unwrap_or_default();
            match s.board.as_ref() {
                Some(b) => format!(
                    "{label}: the {} build, every part at its offset",
                    b.chip.pretty
                ),
                None => format!("{label}: connect a board to pick the build for its chip"),
            }
        }
        Some(PartsFrom::Files) => "files at offsets (check each offset)".into(),
        None => String::new(),
    };
    html! {
        <div class="install" data-testid="install-panel">
            <h2>{"Install or recover"}</h2>
            <p>{"A whole build for a new, blank or broken board: an ESP Web Tools manifest.json with its .bin files, a merged image (esptool merge-bin, a flash dump or a backup, written at 0), or files at offsets (bootloader, partition table, otadata, apps). "}
                <label class={classes!("button", busy.then_some("disabled"))}>{"Choose files"}
                    <input type="file" multiple=true accept=".bin,.json,application/octet-stream,application/json" data-testid="install-files"
                        onchange={on_files(p.bridge.clone(), form.clone(), s.table.clone())} disabled={busy} />
                </label>
            </p>
            if let Some(e) = &f.problem {
                <p class="error" data-testid="install-problem">{ e.clone() }</p>
            }
            if !source_line.is_empty() {
                <p class="hint" data-testid="install-source">{ source_line }</p>
            }
            if !f.rows.is_empty() { { parts_table(&form, busy) } }
            if f.missing_offset() {
                <p class="error" data-testid="install-offset-missing">{"Give each file an offset (e.g. 0x10000)."}</p>
            }
            if let Some((pl, opts)) = &planned {
                { plan_view(&form, s, pl, opts, f.offers_fit(planned.as_ref())) }
            }
            if !s.connected && !f.rows.is_empty() {
                <p class="hint">{"Connect a board: the parts are checked against its chip, flash and partition table."}</p>
            }
            if !f.rows.is_empty() || f.from.is_some() {
                <div class="row">
                    <button class="primary" data-testid="install" onclick={on_install} disabled={!can_install}>
                        { if s.installing { "Installing…" } else { "Install" } }
                    </button>
                    if let Some((pl, _)) = &planned {
                        <span class="hint">{ format!("{} part{}, {}", pl.parts.len(), if pl.parts.len() == 1 { "" } else { "s" }, human_size(pl.bytes())) }</span>
                    }
                </div>
            }
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct AppProps {
    bridge: JsValue,
}

/// The panel in its module: the view comes from the page's bridge (`view()`), and again each
/// time the page changes (`subscribe(f)`).
#[component]
fn InstallApp(p: &AppProps) -> Html {
    let first = || {
        let v = get(&p.bridge, "view")
            .dyn_into::<Function>()
            .ok()
            .and_then(|f| f.call0(&p.bridge).ok())
            .unwrap_or(JsValue::NULL);
        Rc::new(InstallView::from_js(&v))
    };
    let view = use_state(first);
    {
        let (view, bridge) = (view.clone(), p.bridge.clone());
        use_effect_with((), move |_| {
            let f = wasm_bindgen::closure::Closure::<dyn Fn(JsValue)>::new(move |o: JsValue| {
                view.set(Rc::new(InstallView::from_js(&o)))
            });
            call(&bridge, "subscribe", &[f.as_ref().clone()]);
            // The page keeps it for the page's life.
            f.forget();
        });
    }
    html! { <>
        <InstallPanel view={(*view).clone()} bridge={p.bridge.clone()} />
        <super::backup::BackupPanel view={(*view).clone()} bridge={p.bridge.clone()} />
    </> }
}

/// Mounts the panel on `root` (the module's entry point; see `install_shell`).
pub fn mount(root: web_sys::Element, bridge: JsValue) {
    super::nvs_app::beside_the_page();
    yew::Renderer::<InstallApp>::with_root_and_props(root, AppProps { bridge }).render();
}
