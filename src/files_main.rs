//! Files, offline: a module the page loads when the first file is opened (wasm32 only):
//! `mount(root, files)`.

#[cfg(target_arch = "wasm32")]
mod files {
    use wasm_bindgen::prelude::*;

    /// Mounts the offline workbench on `root`, opening `files` (a `FileList`) at once.
    #[wasm_bindgen]
    pub fn mount(root: web_sys::Element, files: JsValue) {
        otaflash::web::files_app::mount(root, files);
    }
}

fn main() {}
