//! The install button's dialog, a module the button's script loads on click (wasm32 only):
//! `open(root, opts)` → a handle with `close()`. See `static/install-button.js`.

#[cfg(target_arch = "wasm32")]
mod dialog {
    use otaflash::web::dialog::Dialog;
    use wasm_bindgen::prelude::*;

    /// An open dialog: `close()` ends it (the board reset into its app, its port closed).
    #[wasm_bindgen]
    pub struct DialogHandle {
        app: Option<yew::AppHandle<Dialog>>,
    }

    #[wasm_bindgen]
    impl DialogHandle {
        pub fn close(&mut self) {
            if let Some(a) = self.app.take() {
                a.destroy();
            }
        }
    }

    #[wasm_bindgen]
    pub fn open(root: web_sys::Element, opts: JsValue) -> Result<DialogHandle, JsValue> {
        otaflash::web::dialog::open(root, opts)
            .map(|app| DialogHandle { app: Some(app) })
            .map_err(|e| JsValue::from_str(&e))
    }
}

fn main() {}
