//! Install or recover's place in the page. The panel itself is a wasm module of its own
//! (`otaflash-install`, built beside the page into `install/`), fetched only when the
//! technician opens it — the Update panel does the usual full install — so that it does not
//! weigh on the page's start. The module gets a bridge: `view()` and `subscribe(f)` (the page
//! as [`InstallView`] says it, again after every change), `install(…)` (runs the page's install
//! job: its progress shows here, its result in the status line) and `loadFiles(names, bytes)`
//! (a manifest picked with its files becomes the firmware for every panel).

use super::engine::{backup_name, Engine, EraseWhat};
use super::install_view::{parts_of_js, InstallView};
use super::job::JobBar;
use super::panels::PanelProps;
use crate::chips::security::Written;
use crate::formats::install::PlanOptions;
use crate::page::{BoardInfo, JobKind, PageState};
use js_sys::{Array, Function, Object, Uint8Array};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

/// What the bridge keeps of the page between renders.
#[derive(Default)]
struct Shared {
    view: RefCell<InstallView>,
    js: RefCell<JsValue>,
    subscribers: RefCell<Vec<Function>>,
    link_baud: Cell<Option<u32>>,
    /// The connected board, to name backups by.
    board: RefCell<Option<BoardInfo>>,
}

impl Shared {
    /// Tells the module when the page changed what it shows.
    fn update(&self, v: InstallView, s: &PageState) {
        self.link_baud.set(s.baud);
        if *self.board.borrow() != s.board {
            *self.board.borrow_mut() = s.board.clone();
        }
        if *self.view.borrow() == v {
            return;
        }
        let js = v.to_js();
        *self.view.borrow_mut() = v;
        *self.js.borrow_mut() = js.clone();
        for f in self.subscribers.borrow().iter() {
            let _ = f.call1(&JsValue::NULL, &js);
        }
    }
}

fn bridge(engine: Engine, shared: Rc<Shared>) -> JsValue {
    let o = Object::new();
    let sh = shared.clone();
    let view = Closure::<dyn Fn() -> JsValue>::new(move || sh.js.borrow().clone());
    let sh = shared.clone();
    let subscribe =
        Closure::<dyn Fn(Function)>::new(move |f: Function| sh.subscribers.borrow_mut().push(f));
    let (sh, e) = (shared.clone(), engine.clone());
    let install = Closure::<dyn Fn(JsValue, bool, bool, u32, bool, bool, bool)>::new(
        move |parts: JsValue,
              erase_all: bool,
              fit: bool,
              written: u32,
              nothing_boots_ok: bool,
              confirmed: bool,
              reset_after: bool| {
            let opts = PlanOptions {
                erase_all,
                fit_bootloader: fit,
                written: match written {
                    1 => Written::PreEncrypted,
                    2 => Written::EncryptedByChip,
                    _ => Written::Plain,
                },
                nothing_boots_ok,
            };
            let then = reset_after.then_some((115_200, sh.link_baud.get()));
            let offset = sh.view.borrow().table_offset;
            e.install(parts_of_js(&parts), opts, confirmed, offset, then);
        },
    );
    let (sh, e) = (shared.clone(), engine.clone());
    let backup = Closure::<dyn Fn(String, u32, u32)>::new(move |what: String, o: u32, n: u32| {
        if let Some(b) = sh.board.borrow().as_ref() {
            e.backup(backup_name(b, &what), o, n);
        }
    });
    let (sh, e) = (shared.clone(), engine.clone());
    let erase = Closure::<dyn Fn(u32, String, u32, u32)>::new(
        move |kind: u32, label: String, o: u32, n: u32| {
            let v = sh.view.borrow();
            let what = match kind {
                0 => Some(EraseWhat::All),
                1 => v.table.clone().map(|t| EraseWhat::Partition(t, label)),
                _ => Some(EraseWhat::Range(o, n)),
            };
            if let Some(w) = what {
                e.erase(w, v.table_offset);
            }
        },
    );
    let (sh, e) = (shared, engine);
    let load_files = Closure::<dyn Fn(Array, Array)>::new(move |names: Array, bytes: Array| {
        let files = names
            .iter()
            .zip(bytes.iter())
            .map(|(n, b)| {
                (
                    n.as_string().unwrap_or_default(),
                    Uint8Array::new(&b).to_vec(),
                )
            })
            .collect();
        let chip = sh.view.borrow().board.as_ref().map(|b| b.chip.pretty);
        e.load_firmware_files(files, chip);
    });
    super::install_view::set(&o, "view", view.as_ref());
    super::install_view::set(&o, "subscribe", subscribe.as_ref());
    super::install_view::set(&o, "install", install.as_ref());
    super::install_view::set(&o, "loadFiles", load_files.as_ref());
    super::install_view::set(&o, "backup", backup.as_ref());
    super::install_view::set(&o, "erase", erase.as_ref());
    backup.forget();
    erase.forget();
    // One bridge per page, for the page's life.
    view.forget();
    subscribe.forget();
    install.forget();
    load_files.forget();
    o.into()
}

#[component]
pub fn InstallShell(p: &PanelProps) -> Html {
    let s = &p.state.0;
    let root = use_node_ref();
    let opened = use_state(|| None::<Result<(), String>>);
    let shared = use_memo((), |_| Rc::new(Shared::default()));
    shared.update(InstallView::of(s), s);
    let on_open = {
        let (root, opened, engine, shared) = (
            root.clone(),
            opened.clone(),
            p.engine.clone(),
            (*shared).clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let Some(el) = root.cast::<web_sys::Element>() else {
                return;
            };
            opened.set(Some(Ok(())));
            let b = bridge(engine.clone(), shared.clone());
            let opened = opened.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = super::lazy::open("install", &el, &b).await {
                    opened.set(Some(Err(format!("Install or recover: {e}"))));
                }
            });
        })
    };
    html! {
        <div class={classes!(opened.is_none().then_some("install"))} data-testid="install-shell">
            if opened.is_none() {
                <h2>{"Install, recover, back up or erase"}</h2>
                <p>{"For a blank or broken board, or parts of your own: a whole build, a merged image or files at offsets, with erase and encryption choices; backups of a partition or the whole flash; erasing. (Update above installs the firmware's build when it must.) "}
                    <button onclick={on_open} data-testid="install-open">{"Open these tools"}</button></p>
            }
            if let Some(Err(e)) = &*opened {
                <p class="error" data-testid="install-load-error">{ e.clone() }</p>
            }
            <div ref={root}></div>
            <JobBar state={p.state.clone()} kinds={vec![JobKind::Install, JobKind::Backup, JobKind::Erase]} />
        </div>
    }
}
