//! The fleet view's place in the page: a module of its own, loaded when opened (see `lazy`).

use wasm_bindgen::JsValue;
use yew::prelude::*;

#[component]
pub fn FleetShell() -> Html {
    let root = use_node_ref();
    let opened = use_state(|| None::<Result<(), String>>);
    let on_open = {
        let (root, opened) = (root.clone(), opened.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(el) = root.cast::<web_sys::Element>() else {
                return;
            };
            opened.set(Some(Ok(())));
            let opened = opened.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = super::lazy::open("fleet", &el, &JsValue::NULL).await {
                    opened.set(Some(Err(format!("the fleet view: {e}"))));
                }
            });
        })
    };
    html! {
        <div class="fleet" data-testid="fleet-shell">
            if opened.is_none() {
                <h2>{"Fleet: many boards at once"}</h2>
                <p>{"Flash a rack of boards in one go, each on its own port, with a record of every board. "}
                    <button onclick={on_open} data-testid="fleet-open">{"Open the fleet view"}</button></p>
            }
            if let Some(Err(e)) = &*opened {
                <p class="error" data-testid="fleet-load-error">{ e.clone() }</p>
            }
            <div ref={root}></div>
        </div>
    }
}
