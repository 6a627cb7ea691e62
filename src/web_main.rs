//! Entry point of the web page that trunk builds (wasm32 only).

#[cfg(target_arch = "wasm32")]
fn main() {
    otaflash::web::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {}
