//! The otadata editor's place in the page's layout. The editor ([`super::editor`]) is a wasm
//! module of its own (`otaflash-otadata`, built into `otadata/`), loaded when the technician
//! opens it, so that it does not weigh on the page's start. Its bridge: `props()` and
//! `subscribe(f)` (the table, otadata as read and at connect, the rollback choice, whether
//! each slot loads, busy — again after every change), `check(offset)` (read that slot whole)
//! and `apply(bytes, confirmed)` (write the new otadata to the board).

use super::engine::Engine;
use crate::formats::bootable::{SlotLoads, Slots};
use crate::formats::otadata::Otadata;
use crate::formats::partition::PartitionTable;
use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct EditorShellProps {
    pub table: PartitionTable,
    pub current: Otadata,
    pub original: Option<Otadata>,
    pub rollback: bool,
    pub slots: Slots,
    pub disabled: bool,
    pub engine: Engine,
}

/// The editor's props as the module reads them (see `editor::mount`).
fn props_js(p: &EditorShellProps) -> JsValue {
    let o = Object::new();
    let set = |k: &str, v: &JsValue| {
        let _ = Reflect::set(&o, &k.into(), v);
    };
    set(
        "table",
        &Uint8Array::from(&p.table.to_bytes().unwrap_or_default()[..]).into(),
    );
    set("current", &Uint8Array::from(p.current.as_bytes()).into());
    set(
        "original",
        &p.original
            .as_ref()
            .map_or(JsValue::NULL, |o| Uint8Array::from(o.as_bytes()).into()),
    );
    set("rollback", &p.rollback.into());
    set("disabled", &p.disabled.into());
    let rows: Array = SlotLoads::from(&p.slots)
        .to_words()
        .into_iter()
        .map(|r| JsValue::from(r.into_iter().map(JsValue::from).collect::<Array>()))
        .collect();
    set("slots", &rows.into());
    o.into()
}

/// What the bridge keeps between renders.
#[derive(Default)]
struct Shared {
    props: RefCell<JsValue>,
    subscribers: RefCell<Vec<Function>>,
    /// The table, to say which slot `check` means and where `apply` writes.
    table: RefCell<Option<PartitionTable>>,
    slots: RefCell<Slots>,
}

fn bridge(engine: &Engine, shared: &Rc<Shared>) -> JsValue {
    let o = Object::new();
    let sh = shared.clone();
    let props = Closure::<dyn Fn() -> JsValue>::new(move || sh.props.borrow().clone());
    let sh = shared.clone();
    let subscribe =
        Closure::<dyn Fn(Function)>::new(move |f: Function| sh.subscribers.borrow_mut().push(f));
    let (sh, e) = (shared.clone(), engine.clone());
    let check = Closure::<dyn Fn(u32)>::new(move |offset: u32| {
        let part = sh
            .table
            .borrow()
            .as_ref()
            .and_then(|t| t.entries.iter().find(|p| p.offset == offset).cloned());
        if let Some(p) = part {
            e.verify_slot(p);
        }
    });
    let (sh, e) = (shared.clone(), engine.clone());
    let apply = Closure::<dyn Fn(Uint8Array, bool)>::new(move |bytes: Uint8Array, force: bool| {
        let (Some(t), Ok(o)) = (sh.table.borrow().clone(), Otadata::parse(&bytes.to_vec())) else {
            return;
        };
        e.write_otadata(t, o, sh.slots.borrow().clone(), force);
    });
    for (k, f) in [
        ("props", props.as_ref()),
        ("subscribe", subscribe.as_ref()),
        ("check", check.as_ref()),
        ("apply", apply.as_ref()),
    ] {
        let _ = Reflect::set(&o, &k.into(), f);
    }
    // They live as long as the module that holds them (one per opening).
    props.forget();
    subscribe.forget();
    check.forget();
    apply.forget();
    o.into()
}

#[component]
pub fn EditorShell(p: &EditorShellProps) -> Html {
    let root = use_node_ref();
    let failed = use_state(|| None::<String>);
    let shared = use_memo((), |_| Rc::new(Shared::default()));
    // The module sees every change of what it shows.
    *shared.table.borrow_mut() = Some(p.table.clone());
    *shared.slots.borrow_mut() = p.slots.clone();
    let js = props_js(p);
    *shared.props.borrow_mut() = js.clone();
    for f in shared.subscribers.borrow().iter() {
        let _ = f.call1(&JsValue::NULL, &js);
    }
    {
        let (root, failed, e, sh) = (
            root.clone(),
            failed.clone(),
            p.engine.clone(),
            (*shared).clone(),
        );
        use_effect_with((), move |_| {
            if let Some(el) = root.cast::<web_sys::Element>() {
                let b = bridge(&e, &sh);
                wasm_bindgen_futures::spawn_local(async move {
                    if let Err(why) = super::lazy::open("otadata", &el, &b).await {
                        failed.set(Some(format!("The otadata editor: {why}")));
                    }
                });
            }
        });
    }
    html! {
        <>
            if let Some(e) = &*failed {
                <p class="error" data-testid="editor-load-error">{ e.clone() }</p>
            }
            <div ref={root} data-testid="editor-shell"></div>
        </>
    }
}
