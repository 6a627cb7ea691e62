//! The page's simulated chip, a module the page loads only when a simulated board is chosen
//! (wasm32 only): `new SimChip(chip, saved, blank)` and the calls of [`otaflash::sim::Esp32`]
//! the page's port makes, with times in seconds since the page's epoch.

#[cfg(target_arch = "wasm32")]
mod chip {
    use otaflash::sim::{demo, Esp32};
    use std::time::Duration;
    use wasm_bindgen::prelude::*;

    fn at(seconds: f64) -> Duration {
        Duration::from_secs_f64(seconds.max(0.0))
    }

    #[wasm_bindgen]
    pub struct SimChip {
        dev: Esp32,
    }

    #[wasm_bindgen]
    impl SimChip {
        /// A simulated `chip` (esptool's name), holding `saved` (from [`SimChip::saved`]) or
        /// the demo layout; `blank`: an erased flash.
        #[wasm_bindgen(constructor)]
        pub fn new(chip: &str, saved: Option<Vec<u8>>, blank: bool) -> Result<SimChip, JsValue> {
            let c = otaflash::chips::Chip::by_name(chip)
                .filter(|c| c.supported())
                .ok_or_else(|| JsValue::from_str(&format!("no simulated {chip}")))?;
            Ok(SimChip {
                dev: demo::page_board(c, saved.as_deref(), blank),
            })
        }

        pub fn receive(&mut self, seconds: f64, bytes: &[u8]) {
            self.dev.receive(at(seconds), bytes);
        }

        pub fn take_output(&mut self, seconds: f64) -> Vec<u8> {
            self.dev.take_output(at(seconds))
        }

        /// When something next happens, in seconds; negative: nothing is due.
        pub fn next_output_at(&self) -> f64 {
            self.dev.next_output_at().map_or(-1.0, |d| d.as_secs_f64())
        }

        pub fn set_signals(&mut self, seconds: f64, dtr: bool, rts: bool) {
            self.dev.set_signals(at(seconds), dtr, rts);
        }

        pub fn set_host_baud(&mut self, baud: u32) {
            self.dev.set_host_baud(Some(baud));
        }

        pub fn plugged_in(&mut self) {
            self.dev.clear_disconnect();
        }

        pub fn disconnected(&self) -> bool {
            self.dev.disconnected()
        }

        pub fn set_mac(&mut self, mac: &[u8]) {
            if let Ok(m) = mac.try_into() {
                self.dev.config.mac = m;
            }
        }

        /// How many erase and program operations its flash has seen (changes mean a save is due).
        pub fn flash_ops(&self) -> f64 {
            self.dev.flash.ops() as f64
        }

        /// The flash as the page keeps it between visits (zlib).
        pub fn saved(&self) -> Vec<u8> {
            demo::saved_flash(&self.dev)
        }
    }
}

fn main() {}
