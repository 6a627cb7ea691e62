//! Install or recover a board: every part of an ESP Web Tools build for the connected chip (the
//! manifest from this site or picked with its files), a merged image written at 0, or files at
//! offsets pre-filled from what each file is. Checked before writing (what stops it, what needs
//! a yes, which data is lost), erase first when asked, each part verified by MD5, then the chip
//! is reset into its app with its console shown.

use super::install_view::{get, parts_to_js, InstallView};
use crate::chips::security::{FlashEncryption, Written};
use crate::formats::install::{
    default_offset, plan, Blocker, Board, Caution, Part, PartKind, PlanOptions,
};
use crate::formats::numbers::{human_size, parse_u32};
use crate::workbench::{self, Content};
use js_sys::{Array, Function, Uint8Array};
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// A file to write and the offset typed for it.
#[derive(Clone, PartialEq)]
struct Row {
    name: String,
    bytes: Rc<Vec<u8>>,
    kind: PartKind,
    offset: String,
}

/// Where the parts come from.
#[derive(Clone, PartialEq)]
enum Loaded {
    /// The firmware loaded for every panel (Update above): its build's parts for the chip.
    Firmware,
    /// Files with offsets (a merged image is one file at 0).
    Files,
}

fn hex(n: u32) -> String {
    format!("0x{n:x}")
}

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

#[component]
pub fn InstallPanel(p: &InstallProps) -> Html {
    let s = &*p.view;
    let loaded = use_state(|| None::<Loaded>);
    let rows = use_state(Vec::<Row>::new);
    let erase = use_state(|| None::<bool>);
    let fit = use_state(|| false);
    let pre_encrypted = use_state(|| false);
    let encrypt_on_write = use_state(|| false);
    let confirmed = use_state(|| false);
    let nothing_boots_ok = use_state(|| false);
    let reset_after = use_state(|| true);
    let problem = use_state(|| None::<String>);
    let chip = s.board.as_ref().map(|b| b.chip);
    let table = s.table.clone();

    // The firmware loaded for every panel (Update above): every part of its build for the chip.
    {
        let (rows, loaded, confirmed, erase) = (
            rows.clone(),
            loaded.clone(),
            confirmed.clone(),
            erase.clone(),
        );
        let parts = s.firmware.as_ref().map(|(_, parts)| parts.clone());
        use_effect_with(parts, move |parts| {
            if let Some(parts) = parts {
                erase.set(None);
                confirmed.set(false);
                rows.set(
                    parts
                        .iter()
                        .map(|x| Row {
                            offset: hex(x.offset),
                            name: x.name.clone(),
                            kind: x.kind,
                            bytes: x.bytes.clone(),
                        })
                        .collect(),
                );
                loaded.set(Some(Loaded::Firmware));
            }
        });
    }

    let on_files = {
        let bridge = p.bridge.clone();
        let (loaded, rows, problem, table, erase, confirmed) = (
            loaded.clone(),
            rows.clone(),
            problem.clone(),
            table.clone(),
            erase.clone(),
            confirmed.clone(),
        );
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(list) = input.files() else { return };
            let files: Vec<web_sys::File> =
                (0..list.length()).filter_map(|i| list.get(i)).collect();
            input.set_value("");
            let bridge = bridge.clone();
            let (loaded, rows, problem, table, erase, confirmed) = (
                loaded.clone(),
                rows.clone(),
                problem.clone(),
                table.clone(),
                erase.clone(),
                confirmed.clone(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                let mut read = vec![];
                for f in &files {
                    match super::read_file(f).await {
                        Ok(b) => read.push((f.name(), b)),
                        Err(e) => return problem.set(Some(e)),
                    }
                }
                erase.set(None);
                confirmed.set(false);
                problem.set(None);
                if read
                    .iter()
                    .any(|(n, _)| crate::formats::manifest::is_manifest_name(n))
                {
                    // A manifest is the firmware for every panel (its parts come back here).
                    rows.set(vec![]);
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
                // Files at offsets: each where a file of its kind goes (a table first, so that
                // otadata and apps can follow it).
                let new_table = read
                    .iter()
                    .find(|(_, b)| PartKind::of(b) == PartKind::PartitionTable)
                    .and_then(|(_, b)| crate::formats::partition::PartitionTable::parse(b).ok())
                    .or(table);
                let chip = None;
                let mut taken: Vec<u32> = vec![];
                let mut out = vec![];
                for (name, b) in read {
                    let kind = PartKind::of(&b);
                    let mut off = default_offset(kind, &b, chip, new_table.as_ref(), 0x8000);
                    // A second app goes into the next app slot.
                    if kind == PartKind::App {
                        if let Some(t) = &new_table {
                            off = t
                                .entries
                                .iter()
                                .filter(|e| e.is_app())
                                .map(|e| e.offset)
                                .find(|o| !taken.contains(o))
                                .or(off);
                        }
                    }
                    if let Some(o) = off {
                        taken.push(o);
                    }
                    out.push(Row {
                        name,
                        offset: off.map(hex).unwrap_or_default(),
                        kind,
                        bytes: Rc::new(b),
                    });
                }
                rows.set(out);
                loaded.set(Some(Loaded::Files));
            });
        })
    };
    // The plan, as it stands.
    let parsed: Vec<Option<Part>> = rows
        .iter()
        .map(|r| {
            parse_u32(&r.offset).map(|o| Part {
                name: r.name.clone(),
                offset: o,
                bytes: r.bytes.clone(),
                kind: r.kind,
            })
        })
        .collect();
    let planned = s.board.as_ref().filter(|_| !rows.is_empty()).map(|b| {
        let board = Board {
            chip: b.chip,
            revision: Some(b.revision),
            flash_size: b.flash_size,
            current: s.table.as_ref(),
            table_offset: s.table_offset,
            bootloader: s.bootloader,
            secure_boot: b.security.secure_boot,
            unreadable: b.security.reads_hidden(),
        };
        let parts: Vec<Part> = parsed.iter().flatten().cloned().collect();
        // Erasing first is the default when the layout changes (old data would not fit it).
        // (Not in secure download mode: the whole-flash erase needs the stub.)
        let default_erase = plan(parts.clone(), &board, PlanOptions::default()).layout_changes
            && !b.security.secure_download;
        let opts = PlanOptions {
            erase_all: erase.unwrap_or(default_erase),
            fit_bootloader: *fit,
            written: match (*pre_encrypted, *encrypt_on_write) {
                _ if !b.security.flash_encrypted() => Written::Plain,
                (true, _) => Written::PreEncrypted,
                (_, true) => Written::EncryptedByChip,
                _ => Written::Plain,
            },
            nothing_boots_ok: *nothing_boots_ok,
        };
        (plan(parts, &board, opts), opts)
    });
    let missing_offset = parsed.iter().any(Option::is_none);
    let size_caution = planned.as_ref().is_some_and(|(pl, _)| {
        pl.cautions
            .iter()
            .any(|c| matches!(c, Caution::BootloaderFlashSize { .. }))
    }) || *fit;
    let busy = s.busy;
    let can_install = s.connected
        && !busy
        && !missing_offset
        && planned
            .as_ref()
            .is_some_and(|(pl, _)| pl.ready() && (pl.cautions.is_empty() || *confirmed));
    let on_install = {
        let (bridge, planned, confirmed, reset_after) =
            (p.bridge.clone(), planned.clone(), *confirmed, *reset_after);
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
    let toggle = |h: &UseStateHandle<bool>| {
        let (h, c) = (h.clone(), confirmed.clone());
        Callback::from(move |e: Event| {
            h.set(e.target_unchecked_into::<HtmlInputElement>().checked());
            c.set(false);
        })
    };
    let on_erase = {
        let (erase, c) = (erase.clone(), confirmed.clone());
        Callback::from(move |e: Event| {
            erase.set(Some(
                e.target_unchecked_into::<HtmlInputElement>().checked(),
            ));
            c.set(false);
        })
    };
    let on_confirm = {
        let c = confirmed.clone();
        Callback::from(move |e: Event| {
            c.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let on_reset_after = {
        let r = reset_after.clone();
        Callback::from(move |e: Event| {
            r.set(e.target_unchecked_into::<HtmlInputElement>().checked())
        })
    };
    let set_offset = |i: usize| {
        let (rows, c) = (rows.clone(), confirmed.clone());
        Callback::from(move |e: Event| {
            let mut v = (*rows).clone();
            v[i].offset = e.target_unchecked_into::<HtmlInputElement>().value();
            rows.set(v);
            c.set(false);
        })
    };
    let remove = |i: usize| {
        let (rows, c) = (rows.clone(), confirmed.clone());
        Callback::from(move |_: MouseEvent| {
            let mut v = (*rows).clone();
            v.remove(i);
            rows.set(v);
            c.set(false);
        })
    };
    let source_line = match &*loaded {
        Some(Loaded::Firmware) => {
            let label = s
                .firmware
                .as_ref()
                .map(|(l, _)| l.clone())
                .unwrap_or_default();
            match chip {
                Some(c) => format!("{label}: the {} build, every part at its offset", c.pretty),
                None => format!("{label}: connect a board to pick the build for its chip"),
            }
        }
        Some(Loaded::Files) => "files at offsets (check each offset)".into(),
        None => String::new(),
    };
    let editable = matches!(*loaded, Some(Loaded::Files));
    html! {
        <div class="install" data-testid="install-panel">
            <h2>{"Install or recover"}</h2>
            <p>{"A whole build for a new, blank or broken board: an ESP Web Tools manifest.json with its .bin files, a merged image (esptool merge-bin, a flash dump or a backup, written at 0), or files at offsets (bootloader, partition table, otadata, apps). "}
                <label class={classes!("button", busy.then_some("disabled"))}>{"Choose files"}
                    <input type="file" multiple=true accept=".bin,.json,application/octet-stream,application/json" data-testid="install-files" onchange={on_files} disabled={busy} />
                </label>
            </p>
            if let Some(e) = &*problem {
                <p class="error" data-testid="install-problem">{ e.clone() }</p>
            }
            if !source_line.is_empty() {
                <p class="hint" data-testid="install-source">{ source_line }</p>
            }
            if !rows.is_empty() {
                <div class="scroll-x">
                <table class="parts">
                    <thead><tr><th>{"offset"}</th><th>{"what"}</th><th>{"file"}</th><th class="num">{"size"}</th><th></th></tr></thead>
                    <tbody>
                    { for rows.iter().enumerate().map(|(i, r)| html! {
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
            if missing_offset {
                <p class="error" data-testid="install-offset-missing">{"Give each file an offset (e.g. 0x10000)."}</p>
            }
            if let Some((pl, opts)) = &planned {
                if !pl.blockers.is_empty() {
                    <ul class="warnings error-list" data-testid="install-blockers">
                        { for pl.blockers.iter().map(|b| html!{ <li>{ format!("Not installable: {}", b.message()) }</li> }) }
                    </ul>
                }
                if *nothing_boots_ok || pl.blockers.iter().any(|b| matches!(b, Blocker::NothingBoots(_))) {
                    <label class="option"><input type="checkbox" checked={*nothing_boots_ok} onchange={toggle(&nothing_boots_ok)} data-testid="install-nothing-boots-ok" disabled={busy} />
                        {" Install anyway, knowing the board will not start until a bootable build is installed"}
                    </label>
                }
                for n in pl.notes.iter() { <p class="hint">{ n.clone() }</p> }
                <label class="option"><input type="checkbox" checked={opts.erase_all} onchange={on_erase} data-testid="install-erase" disabled={busy} />
                    { if pl.layout_changes { " Erase the whole flash first (recommended: the partition table changes)" } else { " Erase the whole flash first (NVS and other data are kept otherwise)" } }
                </label>
                if size_caution {
                    <label class="option"><input type="checkbox" checked={*fit} onchange={toggle(&fit)} data-testid="install-fit" disabled={busy} />
                        { format!(" Set the bootloader's flash size to the chip's {} (as esptool --flash-size does)", s.board.as_ref().map_or(String::new(), |b| human_size(b.flash_size as u64))) }
                    </label>
                }
                if s.board.as_ref().is_some_and(|b| b.security.flash_encrypted()) {
                    <label class="option"><input type="checkbox" checked={*pre_encrypted} onchange={toggle(&pre_encrypted)} data-testid="install-pre-encrypted" disabled={busy || *encrypt_on_write} />
                        {" These files are already encrypted for this chip's key (espsecure encrypt-flash-data): write them as they are"}
                    </label>
                }
                if s.board.as_ref().is_some_and(|b| b.security.flash_encryption == FlashEncryption::Development) {
                    <label class="option"><input type="checkbox" checked={*encrypt_on_write} onchange={toggle(&encrypt_on_write)} data-testid="install-encrypt" disabled={busy || *pre_encrypted} />
                        {" Have the chip encrypt them as it writes (development mode): bootloader, table and apps encrypted, other data plain; such writes cannot be verified"}
                    </label>
                }
                <label class="option"><input type="checkbox" checked={*reset_after} onchange={on_reset_after} data-testid="install-reset" disabled={busy} />{" Reset into the app afterwards and show its console"}</label>
                if !pl.cautions.is_empty() {
                    <div class="warnings" data-testid="install-cautions">
                        <ul>{ for pl.cautions.iter().map(|c| html!{ <li>{ c.message() }</li> }) }</ul>
                        <label><input type="checkbox" checked={*confirmed} onchange={on_confirm} data-testid="install-confirm" disabled={busy} />{" I understand: install anyway"}</label>
                    </div>
                }
            }
            if !s.connected && !rows.is_empty() {
                <p class="hint">{"Connect a board: the parts are checked against its chip, flash and partition table."}</p>
            }
            if !rows.is_empty() || loaded.is_some() {
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
