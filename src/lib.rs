//! otaflash: flash and inspect ESP32 OTA slots. The same engine drives the web page (wasm32)
//! and the native `otaflash` command-line tool.
//!
//! Layers, each fact in one place:
//! - [`formats`]: partition table, otadata, app image (pure functions over bytes);
//! - [`chips`]: per-chip constants;
//! - [`workbench`]: files opened without a device, decoded for display;
//! - `web` (wasm32): the Yew page; `cli` (native): the command line.

pub mod chips;
pub mod formats;
pub mod loader;
pub mod session;
pub mod sim;
pub mod wire;

#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
pub mod workbench;

#[cfg(target_arch = "wasm32")]
pub mod web;
