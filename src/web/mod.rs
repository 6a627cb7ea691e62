//! The web page (wasm32): Yew function components over the same engine as the CLI.

mod app;
pub mod assets;
mod backup;
mod console;
pub mod dialog;
pub mod editor;
mod editor_shell;
pub mod engine;
pub mod files_app;
mod flash;
pub mod fleet_app;
mod fleet_shell;
pub mod install;
mod install_shell;
mod install_view;
mod job;
mod lazy;
mod manifest;
pub mod nvs_app;
mod nvs_shell;
mod panels;
pub mod ports;
pub mod sim_port;
mod update;
mod views;
pub mod wifi;
mod wifi_shell;

pub use app::App;

/// Mounts the page on `<body>`.
pub fn start() {
    yew::Renderer::<App>::new().render();
}

/// Mounts the page on a given element (tests mount it on a fresh `<div>`).
pub fn start_in(root: web_sys::Element) -> yew::AppHandle<App> {
    yew::Renderer::<App>::with_root(root).render()
}

/// Reads a browser `File` into bytes.
/// A file input's change: the one file picked, read, handed to `then` with its name (the input
/// is emptied, so picking the same file again reads it again).
pub fn one_file_picked(
    then: impl Fn(String, Result<Vec<u8>, String>) + Clone + 'static,
) -> yew::Callback<web_sys::Event> {
    use yew::TargetCast;
    yew::Callback::from(move |e: web_sys::Event| {
        let input: web_sys::HtmlInputElement = e.target_unchecked_into();
        let Some(file) = input.files().and_then(|l| l.get(0)) else {
            return;
        };
        input.set_value("");
        let then = then.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let read = read_file(&file).await;
            then(file.name(), read);
        });
    })
}

pub async fn read_file(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buf = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| format!("cannot read {}: {e:?}", file.name()))?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}
