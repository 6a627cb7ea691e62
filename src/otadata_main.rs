//! The otadata editor, a module the page loads when the editor is opened on a device (wasm32
//! only): `mount(root, bridge)`.

#[cfg(target_arch = "wasm32")]
mod editor {
    use wasm_bindgen::prelude::*;

    /// Mounts the editor on `root`; `bridge` is the page's board (see the page's
    /// `editor_shell`).
    #[wasm_bindgen]
    pub fn mount(root: web_sys::Element, bridge: JsValue) {
        otaflash::web::editor::mount(root, bridge);
    }
}

fn main() {}
