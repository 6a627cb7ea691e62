//! Parts of the page loaded only when the technician opens them: each a wasm module of its own
//! (built beside the page into `NAME/` by scripts/build-lazy.sh), exporting `mount(root, arg)`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = "
export async function open_lazy(at, name, root, arg) {
  const base = new URL(name + '/', at);
  const m = await import(new URL('otaflash-' + name + '.js', base).href);
  await m.default({ module_or_path: new URL('otaflash-' + name + '_bg.wasm', base) });
  m.mount(root, arg);
}")]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn open_lazy(
        at: &str,
        name: &str,
        root: &web_sys::Element,
        arg: &JsValue,
    ) -> Result<JsValue, JsValue>;
}

/// The function `name` of a module's bridge, if it has one.
pub fn bridge_fn(bridge: &JsValue, name: &str) -> Option<js_sys::Function> {
    use wasm_bindgen::JsCast;
    js_sys::Reflect::get(bridge, &name.into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
}

/// A part of the page that did not load (offline before it was cached, a server error): what
/// the browser said.
#[derive(Debug, Clone, PartialEq)]
pub struct NotLoaded(pub String);

impl std::fmt::Display for NotLoaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "it did not load: {}", self.0)
    }
}

/// Loads the module `name` and mounts it on `root` with `arg`.
pub async fn open(name: &str, root: &web_sys::Element, arg: &JsValue) -> Result<(), NotLoaded> {
    open_lazy(&super::assets::base(), name, root, arg)
        .await
        .map(|_| ())
        .map_err(|e| NotLoaded(e.as_string().unwrap_or_else(|| format!("{e:?}"))))
}
