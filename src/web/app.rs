//! The page: the device part, then files offline (a module loaded when the first file is
//! opened; see `files_app`).

use super::panels::{DevicePanel, StatusBar, Store};
use wasm_bindgen::JsValue;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Loads the offline workbench into `root` and hands it `files`.
fn load_files(root: &NodeRef, files: JsValue, opened: &UseStateHandle<Option<Result<(), String>>>) {
    let Some(el) = root.cast::<web_sys::Element>() else {
        return;
    };
    opened.set(Some(Ok(())));
    let opened = opened.clone();
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = super::lazy::open("files", &el, &files).await {
            opened.set(Some(Err(format!("opening files: {e}"))));
        }
    });
}

#[component]
pub fn App() -> Html {
    let device = use_reducer(Store::default);
    let dragging = use_state(|| false);
    let root = use_node_ref();
    let opened = use_state(|| None::<Result<(), String>>);

    let on_pick = {
        let (root, opened) = (root.clone(), opened.clone());
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            if let Some(list) = input.files() {
                load_files(&root, list.into(), &opened);
            }
        })
    };
    let (on_drop, on_drag_over, on_drag_leave) = {
        let (root, opened) = (root.clone(), opened.clone());
        super::files_app::drop_zone(&dragging, move |list| {
            load_files(&root, list.into(), &opened)
        })
    };
    html! {
        <>
        <div class="scroller" data-testid="scroller">
        <header>
            <h1>{"otaflash"}</h1>
            <p class="tagline">{"ESP32 partitions, otadata and firmware images — in the browser, nothing installed, nothing uploaded."}</p>
        </header>
                <main>
            <DevicePanel state={device.clone()} />
            <h2 class="part">{"Files, offline"}</h2>
            if opened.is_none() {
                <section class={classes!("open", (*dragging).then_some("dragging"))}
                         ondrop={on_drop} ondragover={on_drag_over} ondragleave={on_drag_leave}>
                    <h2>{"Open .bin files"}</h2>
                    <p>{ super::files_app::BLURB }
                        <label class="button">{"choose files"}
                            <input type="file" accept=".bin,.csv,application/octet-stream,text/csv" multiple=true
                                   data-testid="open-file" onchange={on_pick} />
                        </label>
                    </p>
                    <p class="privacy">{"Files are decoded in this page; they never leave your computer."}</p>
                </section>
            }
            if let Some(Err(e)) = &*opened {
                <p class="error" data-testid="files-load-error">{ e.clone() }</p>
            }
            <div ref={root}></div>
        </main>
        </div>
        <StatusBar state={device} />
        </>
    }
}
