//! Wi-Fi set-up's place in the page's console: the panel itself ([`super::wifi`]) is a wasm
//! module of its own (`otaflash-wifi`, built into `wifi/`), loaded when the technician asks for
//! it. Its bridge: `write(bytes)` (sent to the app between the console's reads) and
//! `listen(f | null)` (told what the console reads).

use super::engine::Engine;
use js_sys::{Function, Object, Reflect, Uint8Array};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use yew::prelude::*;

fn bridge(engine: &Engine) -> JsValue {
    let o = Object::new();
    let e = engine.clone();
    let write = Closure::<dyn Fn(Uint8Array)>::new(move |a: Uint8Array| e.send_bytes(a.to_vec()));
    let e = engine.clone();
    let listen =
        Closure::<dyn Fn(JsValue)>::new(move |f: JsValue| match f.dyn_into::<Function>() {
            Ok(f) => e.set_tap(Some(Rc::new(move |b: &[u8]| {
                let _ = f.call1(&JsValue::NULL, &Uint8Array::from(b));
            }))),
            Err(_) => e.set_tap(None),
        });
    let _ = Reflect::set(&o, &"write".into(), write.as_ref());
    let _ = Reflect::set(&o, &"listen".into(), listen.as_ref());
    // They live as long as the module that holds them (one per opening).
    write.forget();
    listen.forget();
    o.into()
}

#[derive(Properties, PartialEq)]
pub struct WifiShellProps {
    pub engine: Engine,
}

#[component]
pub fn WifiShell(p: &WifiShellProps) -> Html {
    let root = use_node_ref();
    let opened = use_state(|| None::<Result<(), String>>);
    let on_open = {
        let (root, opened, e) = (root.clone(), opened.clone(), p.engine.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(el) = root.cast::<web_sys::Element>() else {
                return;
            };
            opened.set(Some(Ok(())));
            let (opened, b) = (opened.clone(), bridge(&e));
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(why) = super::lazy::open("wifi", &el, &b).await {
                    opened.set(Some(Err(format!("Wi-Fi set-up: {why}"))));
                }
            });
        })
    };
    html! {
        <div class="wifi-shell">
            if opened.is_none() {
                <p><button onclick={on_open} data-testid="wifi-start">{"Set up Wi-Fi"}</button>
                   <span class="hint">{" over Improv, when the app speaks it"}</span></p>
            }
            if let Some(Err(e)) = &*opened {
                <p class="error" data-testid="wifi-load-error">{ e.clone() }</p>
            }
            <div ref={root}></div>
        </div>
    }
}
