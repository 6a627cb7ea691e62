//! Install or recover, a module the page loads only when the technician opens it (wasm32
//! only): `mount(root, bridge)`.

#[cfg(target_arch = "wasm32")]
mod panel {
    use wasm_bindgen::prelude::*;

    /// Mounts the panel on `root`; `bridge` is the page's way to the board (see the page's
    /// `install_shell`).
    #[wasm_bindgen]
    pub fn mount(root: web_sys::Element, bridge: JsValue) {
        otaflash::web::install::mount(root, bridge);
    }
}

fn main() {}
