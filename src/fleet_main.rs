//! The fleet view module the page loads on demand (wasm32 only): `mount(root, _)`.

#[cfg(target_arch = "wasm32")]
mod view {
    use wasm_bindgen::prelude::*;

    /// Mounts the fleet view on `root`.
    #[wasm_bindgen]
    pub fn mount(root: web_sys::Element, _arg: JsValue) {
        otaflash::web::fleet_app::mount(root);
    }
}

fn main() {}
