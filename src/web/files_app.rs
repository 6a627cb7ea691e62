//! Files, offline — a module of its own (`otaflash-files`), loaded when the first file is
//! opened: a partition table (binary or partitions.csv), an otadata partition, an app or
//! bootloader image, a full flash dump (its slots judged like a device's), or blank flash, and
//! what they hold; otadata edited and downloaded. Nothing leaves the computer.

use super::editor::OtadataEditor;
use super::views::{image_view, otadata_view, partition_table, slots_view};
use crate::formats::partition::PartitionTable;
use crate::workbench::{self, Content, OpenedFile};
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{DragEvent, HtmlInputElement};
use yew::prelude::*;

/// State of the offline workbench.
#[derive(Default, PartialEq)]
pub struct Workbench {
    /// Opened files with a stable id each (the key of their card).
    pub files: Vec<(u64, Rc<OpenedFile>)>,
    pub next_id: u64,
    pub rollback: bool,
}

pub enum WorkbenchAction {
    Opened(Box<OpenedFile>),
    /// Close the file with this id.
    Remove(u64),
    SetRollback(bool),
}

impl Reducible for Workbench {
    type Action = WorkbenchAction;

    fn reduce(self: Rc<Self>, action: Self::Action) -> Rc<Self> {
        let mut next = Workbench {
            files: self.files.clone(),
            next_id: self.next_id,
            rollback: self.rollback,
        };
        match action {
            WorkbenchAction::Opened(f) => {
                next.files.push((next.next_id, Rc::from(f)));
                next.next_id += 1;
            }
            WorkbenchAction::Remove(id) => next.files.retain(|(i, _)| *i != id),
            WorkbenchAction::SetRollback(r) => next.rollback = r,
        }
        Rc::new(next)
    }
}

impl Workbench {
    /// The table an otadata file is read against: the most recently opened table or dump, with
    /// the name of its file.
    fn table(&self) -> Option<(&str, &PartitionTable)> {
        self.files
            .iter()
            .rev()
            .find_map(|(_, f)| f.table().map(|t| (f.name.as_str(), t)))
    }
}

fn open_files(list: web_sys::FileList, dispatch: UseReducerDispatcher<Workbench>) {
    for i in 0..list.length() {
        let Some(file) = list.get(i) else { continue };
        let dispatch = dispatch.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let opened = match super::read_file(&file).await {
                Ok(bytes) => workbench::open(&file.name(), bytes),
                Err(e) => OpenedFile {
                    name: file.name(),
                    bytes: vec![],
                    content: Content::Unreadable(e),
                },
            };
            dispatch.dispatch(WorkbenchAction::Opened(Box::new(opened)));
        });
    }
}

#[derive(Properties, PartialEq)]
struct FilesProps {
    /// Files to open at once (the ones picked before the module was loaded).
    first: JsValue,
}

/// The drop zone, the rollback choice and a card per opened file.
#[component]
fn Files(p: &FilesProps) -> Html {
    let state = use_reducer(Workbench::default);
    let dragging = use_state(|| false);
    {
        let (dispatch, first) = (state.dispatcher(), p.first.clone());
        use_effect_with((), move |_| {
            if let Ok(list) = first.dyn_into::<web_sys::FileList>() {
                open_files(list, dispatch);
            }
        });
    }
    let on_pick = {
        let dispatch = state.dispatcher();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Some(list) = input.files() {
                open_files(list, dispatch.clone());
            }
            input.set_value("");
        })
    };
    let (on_drop, on_drag_over, on_drag_leave) = {
        let dispatch = state.dispatcher();
        drop_zone(&dragging, move |list| open_files(list, dispatch.clone()))
    };
    let on_rollback = {
        let dispatch = state.dispatcher();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            dispatch.dispatch(WorkbenchAction::SetRollback(input.checked()));
        })
    };
    html! {
        <>
            <section class={classes!("open", (*dragging).then_some("dragging"))}
                     ondrop={on_drop} ondragover={on_drag_over} ondragleave={on_drag_leave}>
                <h2>{"Open .bin files"}</h2>
                <p>{ BLURB }
                    <label class="button">{"choose files"}
                        <input type="file" accept=".bin,.csv,application/octet-stream,text/csv" multiple=true
                               data-testid="open-file" onchange={on_pick} />
                    </label>
                </p>
                <label class="option">
                    <input type="checkbox" data-testid="rollback" checked={state.rollback} onchange={on_rollback} />
                    {" Bootloader built with rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE)"}
                </label>
                <p class="privacy">{"Files are decoded in this page; they never leave your computer."}</p>
            </section>
            <div class="files">
                { for state.files.iter().rev().map(|(id, f)| file_card(&state, *id, f)) }
            </div>
        </>
    }
}

/// A drop zone's handlers (drop, drag over, drag leave): `dragging` lights it while a file is
/// over it, `open` takes what is dropped.
pub fn drop_zone(
    dragging: &UseStateHandle<bool>,
    open: impl Fn(web_sys::FileList) + 'static,
) -> (
    Callback<DragEvent>,
    Callback<DragEvent>,
    Callback<DragEvent>,
) {
    let on_drop = {
        let dragging = dragging.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            dragging.set(false);
            if let Some(list) = e.data_transfer().and_then(|d| d.files()) {
                open(list);
            }
        })
    };
    let on_drag_over = {
        let dragging = dragging.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            // dragover fires continuously: render again only when it starts.
            if !*dragging {
                dragging.set(true);
            }
        })
    };
    let on_drag_leave = {
        let dragging = dragging.clone();
        Callback::from(move |_: DragEvent| dragging.set(false))
    };
    (on_drop, on_drag_over, on_drag_leave)
}

/// What the drop zone takes, in words (the page's shell says it too).
pub const BLURB: &str = "A partition table (binary or partitions.csv), an otadata partition (8 KiB), an app or bootloader image, or a full flash dump. Drop them here or ";

/// Mounts the workbench on `root`, opening `first` (a `FileList`, or nothing).
pub fn mount(root: web_sys::Element, first: JsValue) {
    super::nvs_app::beside_the_page();
    yew::Renderer::<Files>::with_root_and_props(root, FilesProps { first }).render();
}

fn file_card(state: &UseReducerHandle<Workbench>, id: u64, f: &OpenedFile) -> Html {
    let remove = {
        let dispatch = state.dispatcher();
        Callback::from(move |_| dispatch.dispatch(WorkbenchAction::Remove(id)))
    };
    let body = match &f.content {
        Content::Table { table, warnings } => html! {
            { partition_table(table, warnings, None, None) }
        },
        Content::Otadata(o) => {
            let named = state.table().map(|(n, t)| (n.to_string(), t.clone()));
            let table = named.as_ref().map(|(_, t)| t.clone());
            let boot = table
                .as_ref()
                .map(|t| workbench::prediction(t, o, state.rollback, None));
            let editor = table.clone().map(|t| {
                let name = f.name.clone();
                html! {
                    <details>
                        <summary>{"Edit and download"}</summary>
                        <OtadataEditor table={t} current={o.clone()} original={Some(o.clone())} rollback={state.rollback}
                            apply_label="Download the new otadata"
                            on_apply={Callback::from(move |(n, _): (crate::formats::otadata::Otadata, bool)| super::engine::download(&format!("edited-{name}"), n.as_bytes()))} />
                    </details>
                }
            });
            html! { <>
                if let Some((n, _)) = &named {
                    <p class="hint" data-testid="file-read-against">{ format!("Read against the partition table from {n} (the most recently opened table or dump). What the slots hold is not in these files: the boot prediction assumes their images are intact.") }</p>
                }
                { otadata_view(o, boot.as_ref().map(|b| b.as_ref().map_err(String::as_str)), table.as_ref(), "file-") }{ for editor }
            </> }
        }
        Content::Image(i) => image_view(i),
        Content::Dump {
            table,
            warnings,
            otadata,
            slots,
            flash_size,
        } => {
            let boot_of_dump = otadata
                .as_ref()
                .and_then(|o| o.as_ref().ok())
                .and_then(|o| workbench::prediction(table, o, state.rollback, Some(slots)).ok());
            let od = match otadata {
                Some(Ok(o)) => {
                    let boot = workbench::prediction(table, o, state.rollback, Some(slots));
                    let booted = boot
                        .as_ref()
                        .ok()
                        .and_then(|b| b.booted_partition(table))
                        .map(|p| p.name());
                    let name = f.name.clone();
                    (
                        html! { <>
                            { otadata_view(o, Some(boot.as_ref().map_err(String::as_str)), Some(table), "file-") }
                            <details>
                                <summary>{"Edit and download"}</summary>
                                <OtadataEditor table={table.clone()} current={o.clone()} original={Some(o.clone())} rollback={state.rollback}
                                    slots={crate::formats::bootable::SlotLoads::from(slots)}
                                    apply_label="Download the new otadata (8 KiB, for its partition)"
                                    on_apply={Callback::from(move |(n, _): (crate::formats::otadata::Otadata, bool)| super::engine::download(&format!("otadata-of-{name}"), n.as_bytes()))} />
                            </details>
                        </> },
                        booted,
                    )
                }
                Some(Err(e)) => (
                    html! { <p class="error">{ format!("otadata: {e}") }</p> },
                    None,
                ),
                None => (
                    html! { <p class="hint">{ crate::formats::otadata::NO_OTADATA }</p> },
                    None,
                ),
            };
            html! { <>
                <h3>{"Partition table at 0x8000"}</h3>
                { partition_table(table, warnings, od.1.as_deref(), Some(*flash_size)) }
                <h3>{"otadata"}</h3>
                { od.0 }
                <h3>{"App slots"}</h3>
                { slots_view(table, slots, boot_of_dump.as_ref(), None) }
            </> }
        }
        Content::Blank => html! {
            <p class="hint" data-testid="file-blank">{"Blank: every byte is 0xFF (erased flash, nothing written)."}</p>
        },
        Content::Unreadable(msg) => html! {
            <p class="error" data-testid="file-error">{ msg.clone() }</p>
        },
    };
    html! {
        <section key={id} class="card" data-testid="file-card" data-kind={f.kind_label()}>
            <header>
                <h2>{ &f.name }</h2>
                <span class="kind">{ f.kind_label() }</span>
                <span class="size">{ format!("{} bytes", f.bytes.len()) }</span>
                <button class="close" title="Close" aria-label="Close" onclick={remove}>{"×"}</button>
            </header>
            { body }
        </section>
    }
}
