//! The NVS editor's place in the page. The editor itself is a second wasm module
//! (`otaflash-nvs`, built beside the page into `nvs/`; see `lazy`), fetched only when the technician opens it,
//! so that it does not weigh on the page's start. It reaches the board through a small bridge
//! object this side makes: `board()` (connected, chip, MAC, NVS partitions), `read(offset,
//! size)` and `write(offset, bytes)` (promises; a write is MD5-verified and resolves with the
//! region read back), and `save(name, bytes)` (a download). Every read and write runs as one of
//! the page's jobs, so it shows in the status line and the log and never overlaps another.

use super::engine::{download, Engine, NOT_FREE};
use super::panels::PanelProps;
use crate::loader::WriteOptions;
use crate::page::{Action, JobKind, PageState};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &k.into(), v);
}

/// What the editor may know of the board: connected, chip, MAC, NVS partitions.
fn board_object(s: &PageState) -> JsValue {
    let o = Object::new();
    set(&o, "connected", &s.connected().into());
    if let Some(b) = &s.board {
        set(&o, "chip", &b.chip.name.into());
        set(&o, "mac", &b.mac.replace(':', "").into());
    }
    let parts = Array::new();
    for p in s.table().map(|t| t.entries.clone()).unwrap_or_default() {
        if p.is_nvs() {
            let e = Object::new();
            set(&e, "label", &p.name().into());
            set(&e, "offset", &p.offset.into());
            set(&e, "size", &p.size.into());
            parts.push(&e);
        }
    }
    set(&o, "parts", &parts);
    // Why there is no table to find NVS in (blank, unreadable, encrypted, …).
    if let Some(problem) = s.table_problem() {
        set(&o, "noTable", &problem.message().into());
    }
    o.into()
}

impl Engine {
    /// A promise of `offset..offset+size` read from the board, as a page job.
    fn read_promise(&self, offset: u32, size: u32) -> Promise {
        let me = self.clone();
        Promise::new(&mut |resolve: Function, reject: Function| {
            let rej = reject.clone();
            let started = me.run(
                JobKind::NvsRead,
                &format!("reading NVS at 0x{offset:x}"),
                move |mut d, me| async move {
                    match d.read(offset, size).await {
                        Ok(b) => {
                            let _ = resolve.call1(&JsValue::NULL, &Uint8Array::from(&b[..]));
                            me.send(Action::JobDone(Ok(format!(
                                "NVS at 0x{offset:x} read ({} bytes)",
                                b.len()
                            ))));
                            (d, Ok(()))
                        }
                        Err(e) => {
                            let _ = rej.call1(&JsValue::NULL, &e.to_string().into());
                            (d, Err(e))
                        }
                    }
                },
            );
            if !started {
                let _ = reject.call1(&JsValue::NULL, &NOT_FREE.into());
            }
        })
    }

    /// A promise of writing `bytes` at `offset` (compressed, MD5-verified), resolved with the
    /// region read back.
    fn write_promise(&self, offset: u32, bytes: Vec<u8>) -> Promise {
        let me = self.clone();
        let bytes = Rc::new(bytes);
        Promise::new(&mut |resolve: Function, reject: Function| {
            let (rej, bytes) = (reject.clone(), bytes.clone());
            let started = me.run(
                JobKind::NvsWrite,
                &format!("writing NVS at 0x{offset:x}"),
                move |mut d, me| async move {
                    let r = async {
                        let w = d
                            .loader()
                            .write_flash(offset, &bytes, WriteOptions::default())
                            .await?;
                        me.log(w.describe(&format!("NVS at 0x{offset:x}")));
                        d.read(offset, bytes.len() as u32).await
                    }
                    .await;
                    match r {
                        Ok(back) => {
                            let _ = resolve.call1(&JsValue::NULL, &Uint8Array::from(&back[..]));
                            me.send(Action::JobDone(Ok(format!(
                                "NVS at 0x{offset:x} written, verified by MD5 and read back"
                            ))));
                            (d, Ok(()))
                        }
                        Err(e) => {
                            let _ = rej.call1(&JsValue::NULL, &e.to_string().into());
                            (d, Err(e))
                        }
                    }
                },
            );
            if !started {
                let _ = reject.call1(&JsValue::NULL, &NOT_FREE.into());
            }
        })
    }
}

/// The bridge object the editor module is given. The page state it reports is the latest one
/// (the panel keeps it current).
fn bridge(engine: Engine, state: Rc<RefCell<JsValue>>) -> JsValue {
    let o = Object::new();
    let board = Closure::<dyn Fn() -> JsValue>::new(move || state.borrow().clone());
    let e = engine.clone();
    let read = Closure::<dyn Fn(u32, u32) -> Promise>::new(move |o, s| e.read_promise(o, s));
    let e = engine;
    let write = Closure::<dyn Fn(u32, Uint8Array) -> Promise>::new(move |o, b: Uint8Array| {
        e.write_promise(o, b.to_vec())
    });
    let save = Closure::<dyn Fn(String, Uint8Array)>::new(|name: String, b: Uint8Array| {
        download(&name, &b.to_vec())
    });
    set(&o, "board", board.as_ref());
    set(&o, "read", read.as_ref());
    set(&o, "write", write.as_ref());
    set(&o, "save", save.as_ref());
    // One bridge per page, for the page's life.
    board.forget();
    read.forget();
    write.forget();
    save.forget();
    o.into()
}

#[component]
pub fn NvsShell(p: &PanelProps) -> Html {
    let s = &p.state.0;
    let root = use_node_ref();
    let opened = use_state(|| None::<Result<(), String>>);
    let board = use_memo((), |_| Rc::new(RefCell::new(JsValue::NULL)));
    *board.borrow_mut() = board_object(s);
    let on_open = {
        let (root, opened, engine, board) = (
            root.clone(),
            opened.clone(),
            p.engine.clone(),
            (*board).clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let Some(el) = root.cast::<web_sys::Element>() else {
                return;
            };
            opened.set(Some(Ok(())));
            let b = bridge(engine.clone(), board.clone());
            let opened = opened.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = super::lazy::open("nvs", &el, &b).await {
                    opened.set(Some(Err(format!("the NVS editor: {e}"))));
                }
            });
        })
    };
    html! {
        <div class="nvs" data-testid="nvs-shell">
            if opened.is_none() {
                <h2>{"NVS settings"}</h2>
                <p>{"See and edit the settings an app keeps in NVS (Wi-Fi, IDs, calibration): on the board, or in an NVS image or flash dump. "}
                    <button onclick={on_open} data-testid="nvs-open">{"Open the NVS editor"}</button></p>
            }
            if let Some(Err(e)) = &*opened {
                <p class="error" data-testid="nvs-load-error">{ e.clone() }</p>
            }
            <div ref={root}></div>
        </div>
    }
}
