//! Wi-Fi set-up over Improv, a module the page loads when the technician asks for it from the
//! console (wasm32 only): `mount(root, bridge)`.

#[cfg(target_arch = "wasm32")]
mod panel {
    use wasm_bindgen::prelude::*;

    /// Mounts the panel on `root`; `bridge` is the page's console (see the page's
    /// `wifi_shell`).
    #[wasm_bindgen]
    pub fn mount(root: web_sys::Element, bridge: JsValue) {
        otaflash::web::wifi::mount(root, bridge);
    }
}

fn main() {}
