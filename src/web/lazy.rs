//! Parts of the page loaded only when the technician opens them: each a wasm module of its own
//! (built beside the page into `NAME/` by scripts/build-lazy.sh), exporting `mount(root, arg)`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = "
export async function open_lazy(name, root, arg) {
  const base = new URL(name + '/', document.baseURI);
  const m = await import(new URL('otaflash-' + name + '.js', base).href);
  await m.default({ module_or_path: new URL('otaflash-' + name + '_bg.wasm', base) });
  m.mount(root, arg);
}")]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn open_lazy(
        name: &str,
        root: &web_sys::Element,
        arg: &JsValue,
    ) -> Result<JsValue, JsValue>;
}

/// Loads the module `name` and mounts it on `root` with `arg`; the error in words.
pub async fn open(name: &str, root: &web_sys::Element, arg: &JsValue) -> Result<(), String> {
    open_lazy(name, root, arg).await.map(|_| ()).map_err(|e| {
        format!(
            "it did not load: {}",
            e.as_string().unwrap_or_else(|| format!("{e:?}"))
        )
    })
}
