//! The NVS editor, a wasm module of its own (`otaflash-nvs`) that the page loads only when the
//! technician opens it (see `nvs_shell`): read a settings partition from the board (or open an
//! NVS image or flash dump offline), see namespaces, keys, types and values, search, edit, add
//! and delete keys with the changes listed before anything is written; write back (the
//! partition as read is downloaded first as a backup, the whole partition image is generated
//! as nvs_partition_gen.py would, written and MD5-verified, read back and decoded), or download
//! the new image; import and export the generator's CSV. State: [`crate::page::nvs`].

use super::engine::{download, stamp};
use crate::device::nvs::check_rewrite;
use crate::formats::nvs::{self, text, Entry, Version, TYPE_NAMES};
use crate::page::nvs::{shown, NvsAction, NvsSource, NvsState};
use js_sys::{Function, Promise, Reflect, Uint8Array};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// The board as the page's bridge reports it.
#[derive(Clone, PartialEq, Default)]
struct Board {
    connected: bool,
    chip: String,
    mac: String,
    /// NVS partitions: label, offset, size.
    parts: Vec<(String, u32, u32)>,
    /// Why the board's partition table could not be used, when it could not.
    no_table: Option<String>,
}

fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap_or(JsValue::UNDEFINED)
}

fn board_of(bridge: &JsValue) -> Board {
    let b = get(bridge, "board")
        .dyn_into::<Function>()
        .ok()
        .and_then(|f| f.call0(bridge).ok())
        .unwrap_or(JsValue::NULL);
    let parts = js_sys::Array::from(&get(&b, "parts"))
        .iter()
        .map(|p| {
            let n = |k| get(&p, k).as_f64().unwrap_or(0.0) as u32;
            (
                get(&p, "label").as_string().unwrap_or_default(),
                n("offset"),
                n("size"),
            )
        })
        .collect();
    Board {
        connected: get(&b, "connected").as_bool().unwrap_or(false),
        chip: get(&b, "chip").as_string().unwrap_or_default(),
        mac: get(&b, "mac").as_string().unwrap_or_default(),
        parts,
        no_table: get(&b, "noTable").as_string(),
    }
}

/// Calls `bridge.name(args…)`, which returns a promise of bytes.
async fn call(bridge: &JsValue, name: &str, args: &[JsValue]) -> Result<Vec<u8>, String> {
    let f: Function = get(bridge, name)
        .dyn_into()
        .map_err(|_| format!("the page has no {name}()"))?;
    let arr: js_sys::Array = args.iter().collect();
    let p: Promise = f
        .apply(bridge, &arr)
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "not a promise".to_string())?;
    let v = JsFuture::from(p)
        .await
        .map_err(|e| e.as_string().unwrap_or_else(|| format!("{e:?}")))?;
    Ok(Uint8Array::new(&v).to_vec())
}

#[derive(Clone, PartialEq, Default)]
pub struct Editor {
    nvs: Option<NvsState>,
    /// The last outcome: (is it an error, words).
    note: Option<(bool, String)>,
    busy: bool,
}

pub enum Msg {
    Nvs(NvsAction),
    Note(bool, String),
    Busy(bool),
}

impl Reducible for Editor {
    type Action = Msg;
    fn reduce(self: Rc<Self>, m: Msg) -> Rc<Self> {
        let mut e = (*self).clone();
        match m {
            Msg::Nvs(NvsAction::Loaded { source, bytes }) => {
                e.note = None;
                e.nvs = Some(NvsState::new(source, &bytes));
            }
            Msg::Nvs(NvsAction::Close) => e.nvs = None,
            Msg::Nvs(a) => {
                if let Some(n) = e.nvs.as_mut() {
                    n.apply(a);
                }
            }
            Msg::Note(err, t) => e.note = Some((err, t)),
            Msg::Busy(b) => e.busy = b,
        }
        Rc::new(e)
    }
}

#[derive(Properties, Clone)]
pub struct EditorProps {
    pub bridge: JsValue,
}

impl PartialEq for EditorProps {
    fn eq(&self, o: &Self) -> bool {
        self.bridge == o.bridge
    }
}

#[component]
fn Blank() -> Html {
    html! {}
}

/// Mounts the editor on `root`, talking to the board through `bridge`.
///
/// The page is a Yew app too. Two Yew apps in one document tell their events apart by the
/// subtree id branded on each app's host element, and each app counts its ids from 1, so this
/// one's would equal the page's and the page would take this one's events for its own. Ids the
/// page has used are skipped first (throwaway apps on detached elements).
pub fn mount(root: web_sys::Element, bridge: JsValue) {
    beside_the_page();
    yew::Renderer::<NvsEditor>::with_root_and_props(root, EditorProps { bridge }).render();
}

/// A module's Yew app beside the page's own: its subtree ids start past the page's, so that
/// the two apps' events never mix (each module counts from zero otherwise).
pub(crate) fn beside_the_page() {
    let doc = web_sys::window().and_then(|w| w.document());
    let page_id = doc
        .as_ref()
        .and_then(|d| d.body())
        .map(|b| get(&b, "__yew_subtree_id").as_f64().unwrap_or(0.0) as u32)
        .unwrap_or(0);
    if let Some(d) = &doc {
        for _ in 0..page_id.max(1) {
            if let Ok(el) = d.create_element("div") {
                yew::Renderer::<Blank>::with_root(el).render().destroy();
            }
        }
    }
}

fn input_value(e: &Event) -> String {
    e.target_unchecked_into::<HtmlInputElement>().value()
}

/// The form's fields: namespace, key, type, value.
#[derive(Clone, PartialEq, Default)]
struct Form {
    ns: String,
    key: String,
    ty: String,
    value: String,
}

#[component]
pub fn NvsEditor(p: &EditorProps) -> Html {
    let state = use_reducer(Editor::default);
    let s = &*state;
    let form = use_state(|| Form {
        ty: "string".into(),
        ..Form::default()
    });
    let pick = use_state(String::new);
    // What the page says of the board, fresh at each render (the editor re-renders on use).
    let board = board_of(&p.bridge);
    let parts = board.parts.clone();
    let connected = board.connected;
    let busy = s.busy;
    let d = state.dispatcher();
    let chosen = parts
        .iter()
        .find(|p| p.0 == *pick)
        .or(parts.first())
        .cloned();
    let on_read = read_from_board(d.clone(), chosen.clone(), p.bridge.clone());
    let on_open = open_file(d.clone());
    let on_csv = import_csv(d.clone());
    let head = html! {
        <div class="row">
            if connected && !parts.is_empty() {
                <select data-testid="nvs-partition" disabled={busy}
                    onchange={ let pk = pick.clone(); Callback::from(move |e: Event| pk.set(e.target_unchecked_into::<HtmlSelectElement>().value())) }>
                    { for parts.iter().map(|p| html!{ <option value={p.0.clone()}>{ format!("{} (0x{:x}, {} KB)", p.0, p.1, p.2 / 1024) }</option> }) }
                </select>
                <button data-testid="nvs-read" onclick={on_read} disabled={busy}>{"Read"}</button>
            }
            <label class="button">{"Open an NVS file"}
                <input type="file" accept=".bin,application/octet-stream" data-testid="nvs-file" onchange={on_open} />
            </label>
        </div>
    };
    let note = s.note.as_ref().map(|(err, t)| {
        html! {
            <p class={if *err { "error" } else { "hint" }} data-testid="nvs-note">{ t.clone() }</p>
        }
    });
    let Some(n) = s.nvs.as_ref() else {
        return html! {
            <div class="nvs" data-testid="nvs-panel">
                <h2>{"NVS settings"}</h2>
                { head }
                { for note }
                <p class="hint" data-testid="nvs-board-hint">{ if let (true, Some(why)) = (connected, board.no_table.as_deref()) { format!("The board's NVS cannot be read: {why}.") } else if connected && parts.is_empty() { "The partition table has no NVS partition.".into() } else if connected { "Read the board's NVS partition, or open an NVS image or a flash dump (.bin), to see and edit its keys.".into() } else { "Connect a board above to read its NVS partition, or open an NVS image or a flash dump (.bin).".to_string() } }</p>
            </div>
        };
    };
    let o = &n.original;
    let editable = n.editable() && !busy;
    let changes = n.changes();
    let rewrite = check_rewrite(None, o, true);
    let image = n.image();
    let on_write = write_to_board(d.clone(), n.clone(), p.bridge.clone(), board.clone());
    let on_download = {
        let n = n.clone();
        Callback::from(move |_: MouseEvent| {
            if let Ok(bytes) = n.file_bytes() {
                let name = match &n.source {
                    NvsSource::File { name, .. } => format!("edited-{name}"),
                    NvsSource::Device { label, .. } => format!("{label}-edited.bin"),
                };
                download(&name, &bytes);
            }
        })
    };
    let on_export = {
        let entries = n.entries.clone();
        Callback::from(move |_: MouseEvent| {
            download(
                "nvs.csv",
                crate::formats::nvs::text::to_csv(&entries).as_bytes(),
            )
        })
    };
    let act = |a: NvsAction| {
        let d = d.clone();
        Callback::from(move |_: MouseEvent| d.dispatch(Msg::Nvs(a.clone())))
    };
    html! {
        <div class="nvs" data-testid="nvs-panel">
            <h2>{"NVS settings"}</h2>
            { head }
            <p data-testid="nvs-summary">{ format!("NVS {} ({} KB): {} namespaces, {} keys, format version {}",
                n.source.title(), n.source.size() / 1024, o.namespaces.len(), o.entries.len(),
                if n.version == Version::V1 { 1 } else { 2 }) }</p>
            { for note }
            if let Err(r) = &rewrite {
                <p class="error" data-testid="nvs-encrypted">{ r.message() }</p>
            }
            if !o.problems.is_empty() {
                <ul class="warnings" data-testid="nvs-problems">
                    { for o.problems.iter().map(|p| html!{ <li>{ p.to_string() }</li> }) }
                </ul>
            }
            <input type="search" placeholder="search keys and values" value={n.search.clone()}
                oninput={ let d = d.clone(); Callback::from(move |e: InputEvent| d.dispatch(Msg::Nvs(NvsAction::Search(e.target_unchecked_into::<HtmlInputElement>().value())))) }
                onchange={ let d = d.clone(); Callback::from(move |e: Event| d.dispatch(Msg::Nvs(NvsAction::Search(input_value(&e))))) }
                data-testid="nvs-search" aria-label="search" />
            { entries_view(n, editable, &form, &d) }
            if let Some(err) = &n.error {
                <p class="error" data-testid="nvs-error">{ err.clone() }</p>
            }
            if !changes.is_empty() {
                <div class="warnings">
                    <p>{ format!("{} change(s), not written yet:", changes.len()) }</p>
                    <ul data-testid="nvs-changes">{ for changes.iter().map(|c| html!{ <li>{ c.describe() }</li> }) }</ul>
                    if let Err(e) = &image {
                        <p class="error">{ format!("cannot be written: {e}") }</p>
                    }
                </div>
            }
            <div class="row">
                if n.source.is_device() && connected {
                    <button class="primary" onclick={on_write} data-testid="nvs-write"
                        disabled={busy || changes.is_empty() || image.is_err() || rewrite.is_err()}>{"Write to the board (backup first)"}</button>
                }
                <button onclick={act(NvsAction::Revert)} disabled={busy || changes.is_empty()} data-testid="nvs-revert">{"Undo changes"}</button>
                <button onclick={on_download} disabled={image.is_err() || rewrite.is_err()} data-testid="nvs-download">{"Download .bin"}</button>
                <button onclick={on_export} disabled={rewrite.is_err()} data-testid="nvs-export">{"Export CSV"}</button>
                <label class={classes!("button", (!editable).then_some("disabled"))}>{"Import CSV"}
                    <input type="file" accept=".csv,text/csv" data-testid="nvs-csv" onchange={on_csv} disabled={!editable} />
                </label>
                <button onclick={act(NvsAction::Close)} disabled={busy} data-testid="nvs-close">{"Close"}</button>
            </div>
        </div>
    }
}

/// A file opened in the NVS panel: an NVS image, or a flash dump whose table names an NVS
/// partition (the first one).
fn opened(name: String, bytes: Vec<u8>) -> Msg {
    use crate::formats::partition::{PartitionTable, DEFAULT_TABLE_OFFSET};
    let in_dump = PartitionTable::from_flash(&bytes, DEFAULT_TABLE_OFFSET)
        .ok()
        .filter(|_| bytes.len() > DEFAULT_TABLE_OFFSET as usize)
        .and_then(|t| t.entries.iter().find(|p| p.is_nvs()).cloned())
        .filter(|p| (p.offset + p.size) as usize <= bytes.len());
    let (at, size) = match in_dump {
        Some(p) => (p.offset, p.size),
        None => (0, bytes.len() as u32),
    };
    if size == 0 || !(size as usize).is_multiple_of(crate::formats::nvs::PAGE_SIZE) {
        return Msg::Note(true, format!(
            "{name}: {} bytes is not a whole number of 4 KiB NVS pages, and no flash dump with an NVS partition",
            bytes.len()
        ));
    }
    let part = bytes[at as usize..(at + size) as usize].to_vec();
    Msg::Nvs(NvsAction::Loaded {
        source: NvsSource::File {
            name,
            at,
            size,
            whole: std::rc::Rc::new(bytes),
        },
        bytes: part,
    })
}

type Dispatch = UseReducerDispatcher<Editor>;

/// Read: the chosen NVS partition from the board, as a page job.
fn read_from_board(
    d: Dispatch,
    c: Option<(String, u32, u32)>,
    bridge: JsValue,
) -> Callback<MouseEvent> {
    Callback::from(move |_: MouseEvent| {
        let Some((label, offset, size)) = c.clone() else {
            return;
        };
        let (d, bridge) = (d.clone(), bridge.clone());
        wasm_bindgen_futures::spawn_local(async move {
            d.dispatch(Msg::Busy(true));
            match call(&bridge, "read", &[offset.into(), size.into()]).await {
                Ok(bytes) => d.dispatch(Msg::Nvs(NvsAction::Loaded {
                    source: NvsSource::Device {
                        label,
                        offset,
                        size,
                    },
                    bytes,
                })),
                Err(e) => d.dispatch(Msg::Note(true, format!("not read: {e}"))),
            }
            d.dispatch(Msg::Busy(false));
        });
    })
}

/// Open an NVS image or a flash dump.
fn open_file(d: Dispatch) -> Callback<Event> {
    super::one_file_picked(move |name, read| match read {
        Ok(bytes) => d.dispatch(opened(name, bytes)),
        Err(m) => d.dispatch(Msg::Note(true, m)),
    })
}

/// Import the generator's CSV as the keys to hold.
fn import_csv(d: Dispatch) -> Callback<Event> {
    super::one_file_picked(move |_, read| {
        if let Ok(bytes) = read {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            d.dispatch(Msg::Nvs(NvsAction::ImportCsv(text)));
        }
    })
}

/// Write to the board: the partition as read saved first, the new image written and
/// MD5-verified, read back and decoded, and compared with what was edited.
fn write_to_board(d: Dispatch, n: NvsState, bridge: JsValue, board: Board) -> Callback<MouseEvent> {
    Callback::from(move |_: MouseEvent| {
        let (d, n, bridge, board) = (d.clone(), n.clone(), bridge.clone(), board.clone());
        let NvsSource::Device { label, offset, .. } = n.source.clone() else {
            return;
        };
        wasm_bindgen_futures::spawn_local(async move {
            d.dispatch(Msg::Busy(true));
            let r = async {
                let image = n.image().map_err(|e| e.to_string())?;
                // The partition as read, saved first.
                let name = format!(
                    "{}-{}-{label}-before-{}.bin",
                    board.chip,
                    board.mac,
                    stamp()
                );
                download(&name, &n.bytes);
                let back = call(
                    &bridge,
                    "write",
                    &[offset.into(), Uint8Array::from(&image[..]).into()],
                )
                .await?;
                let decoded = nvs::decode(&back);
                if back != image || decoded.entries != text::grouped(&n.entries) {
                    return Err("read back, the partition does not hold what was written".into());
                }
                Ok::<_, String>((back, name, decoded.entries.len()))
            }
            .await;
            match r {
                Ok((back, name, keys)) => {
                    d.dispatch(Msg::Nvs(NvsAction::Written(back)));
                    d.dispatch(Msg::Note(false, format!(
                        "'{label}' written and verified: MD5, then read back and decoded ({keys} keys as edited); the partition as it was is saved as {name}"
                    )));
                }
                Err(e) => d.dispatch(Msg::Note(true, format!("not written: {e}"))),
            }
            d.dispatch(Msg::Busy(false));
        });
    })
}

/// The keys (those the search finds), each with Edit and Delete, and the form that sets one.
fn entries_view(n: &NvsState, editable: bool, form: &UseStateHandle<Form>, d: &Dispatch) -> Html {
    let edit_row = |e: &Entry| {
        let (f, e) = (form.clone(), e.clone());
        Callback::from(move |_: MouseEvent| {
            f.set(Form {
                ns: e.namespace.clone(),
                key: e.key.clone(),
                ty: e.value.type_name().into(),
                value: e.value.text(),
            })
        })
    };
    let delete_row = |e: &Entry| {
        let (d, e) = (d.clone(), e.clone());
        Callback::from(move |_: MouseEvent| {
            d.dispatch(Msg::Nvs(NvsAction::Delete {
                namespace: e.namespace.clone(),
                key: e.key.clone(),
            }))
        })
    };
    let field = |pick: fn(&mut Form, String)| {
        let f = form.clone();
        Callback::from(move |e: Event| {
            let mut v = (*f).clone();
            pick(&mut v, input_value(&e));
            f.set(v);
        })
    };
    let on_set = {
        let (d, f) = (d.clone(), form.clone());
        Callback::from(move |_: MouseEvent| {
            d.dispatch(Msg::Nvs(NvsAction::Set {
                namespace: f.ns.clone(),
                key: f.key.clone(),
                type_name: f.ty.clone(),
                value: f.value.clone(),
            }))
        })
    };
    let f = &**form;
    html! { <>
    <div class="scroll-x">
        <table data-testid="nvs-table">
            <tr><th>{"namespace"}</th><th>{"key"}</th><th>{"type"}</th><th>{"value"}</th><th></th></tr>
            { for n.visible().into_iter().map(|e| html!{
                <tr data-testid="nvs-row" data-key={format!("{}/{}", e.namespace, e.key)}>
                    <td>{ &e.namespace }</td><td>{ &e.key }</td><td>{ e.value.type_name() }</td>
                    <td class="value" data-testid="nvs-value">{ shown(&e.value) }</td>
                    <td>
                        <button onclick={edit_row(e)} disabled={!editable} data-testid="nvs-edit">{"Edit"}</button>
                        <button onclick={delete_row(e)} disabled={!editable} data-testid="nvs-delete">{"Delete"}</button>
                    </td>
                </tr>
            }) }
        </table>
    </div>
    <div class="row nvs-form">
        <input type="text" size="10" placeholder="namespace" value={f.ns.clone()} onchange={field(|f, v| f.ns = v)} data-testid="nvs-ns" aria-label="namespace" disabled={!editable} />
        <input type="text" size="12" placeholder="key" value={f.key.clone()} onchange={field(|f, v| f.key = v)} data-testid="nvs-key" aria-label="key" disabled={!editable} />
        <select onchange={field(|f, v| f.ty = v)} data-testid="nvs-type" aria-label="type" disabled={!editable}>
            { for TYPE_NAMES.iter().map(|t| html!{ <option value={*t} selected={f.ty == *t}>{ *t }</option> }) }
        </select>
        <input type="text" size="24" placeholder="value (blobs in hex)" value={f.value.clone()} onchange={field(|f, v| f.value = v)} data-testid="nvs-input" aria-label="value" disabled={!editable} />
        <button onclick={on_set} disabled={!editable} data-testid="nvs-set">{"Set"}</button>
    </div>
    </> }
}
