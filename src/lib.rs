//! otaflash: flash and inspect ESP32 OTA slots. The same engine drives the web page (wasm32)
//! and the native `otaflash` command-line tool.
//!
//! Layers, each fact in one place (imports go down this list only):
//! - `web` (wasm32): the Yew page; `cli` (native): the command line;
//! - [`page`]: the page's state as a pure reducer; [`workbench`]: files opened without a
//!   device, decoded for display;
//! - [`device`]: the one device layer both faces use (open, read what the board holds, judge
//!   what boots, write, verify, switch);
//! - [`loader`]: the ROM loader / stub client over a `Port`; [`sim`] beside it;
//! - [`wire`]: SLIP and commands, sans-IO;
//! - [`formats`]: partition table, otadata, images, the bootability policy (pure);
//! - [`chips`]: per-chip constants.

pub mod chips;
pub mod device;
pub mod formats;
pub mod loader;
pub mod page;
pub mod sim;
pub mod wire;

#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
pub mod workbench;

#[cfg(target_arch = "wasm32")]
pub mod web;
