//! The NVS editor module the page loads on demand (wasm32 only): `mount(root, bridge)`.

#[cfg(target_arch = "wasm32")]
mod editor {
    use wasm_bindgen::prelude::*;

    /// Mounts the editor on `root`; `bridge` is the page's way to the board (see the page's
    /// `nvs_shell`).
    #[wasm_bindgen]
    pub fn mount(root: web_sys::Element, bridge: JsValue) {
        otaflash::web::nvs_app::mount(root, bridge);
    }
}

fn main() {}
