//! The page's simulated board: the simulated chip runs in a module of its own, loaded when a
//! simulated board is first chosen (`src/sim_main.rs`, built into `sim/`), so the page does
//! not carry it at start. Its flash is kept in the browser between visits (per site and
//! chip, zlib + base64 in localStorage), and can be made blank.

use super::ports::{now_ms, sleep};
use crate::chips::Chip;
use crate::loader::port::{Port, PortError};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = "
export async function load_sim(at, chip, saved, blank) {
  const base = new URL('sim/', at);
  const m = await import(new URL('otaflash-sim.js', base).href);
  await m.default({ module_or_path: new URL('otaflash-sim_bg.wasm', base) });
  return new m.SimChip(chip, saved, blank);
}")]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn load_sim(
        at: &str,
        chip: &str,
        saved: Option<Vec<u8>>,
        blank: bool,
    ) -> Result<JsValue, JsValue>;
}

#[wasm_bindgen]
extern "C" {
    /// The simulated chip, as its module exports it.
    pub type SimChip;
    #[wasm_bindgen(method)]
    fn receive(this: &SimChip, seconds: f64, bytes: &[u8]);
    #[wasm_bindgen(method)]
    fn take_output(this: &SimChip, seconds: f64) -> Vec<u8>;
    #[wasm_bindgen(method)]
    fn next_output_at(this: &SimChip) -> f64;
    #[wasm_bindgen(method)]
    fn set_signals(this: &SimChip, seconds: f64, dtr: bool, rts: bool);
    #[wasm_bindgen(method)]
    fn set_host_baud(this: &SimChip, baud: u32);
    #[wasm_bindgen(method)]
    fn plugged_in(this: &SimChip);
    #[wasm_bindgen(method)]
    fn disconnected(this: &SimChip) -> bool;
    #[wasm_bindgen(method)]
    fn set_mac(this: &SimChip, mac: &[u8]);
    #[wasm_bindgen(method)]
    fn saved(this: &SimChip) -> Vec<u8>;
    #[wasm_bindgen(method)]
    fn flash_ops(this: &SimChip) -> f64;
}

/// A simulated board of this page: reconnecting finds what was written to it.
#[derive(Clone)]
pub struct PageSim {
    chip: &'static Chip,
    handle: Rc<SimChip>,
    epoch: f64,
    /// Where its flash is kept between visits (None: not kept, a fleet's extra board).
    key: Option<String>,
    /// Its flash's operation count when last kept (saving deflates 4 MB: only after a change).
    kept_at: Rc<std::cell::Cell<f64>>,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

impl PageSim {
    /// The page's simulated `chip`, as it was left on the last visit (or the demo layout);
    /// `blank`: an erased flash instead (and what was kept is forgotten).
    pub async fn load(chip: &'static Chip, blank: bool) -> Result<PageSim, String> {
        let key = format!("otaflash-sim-{}", chip.name);
        let saved = (!blank)
            .then(|| storage()?.get_item(&key).ok()?)
            .flatten()
            .and_then(|t| base64_decode(&t));
        let s = Self::start(chip, saved, blank, Some(key)).await?;
        if blank {
            s.save();
        }
        Ok(s)
    }

    /// A fresh simulated `chip` with the demo layout, not kept.
    pub async fn fresh(chip: &'static Chip) -> Result<PageSim, String> {
        Self::start(chip, None, false, None).await
    }

    async fn start(
        chip: &'static Chip,
        saved: Option<Vec<u8>>,
        blank: bool,
        key: Option<String>,
    ) -> Result<PageSim, String> {
        let handle = load_sim(&super::assets::base(), chip.name, saved, blank)
            .await
            .map_err(|e| {
                format!(
                    "the simulated chip did not load: {}",
                    e.as_string().unwrap_or_else(|| format!("{e:?}"))
                )
            })?;
        Ok(PageSim {
            chip,
            handle: Rc::new(handle.unchecked_into()),
            epoch: now_ms(),
            key,
            // A blank board is kept at the first save (what was kept before is gone).
            kept_at: Rc::new(std::cell::Cell::new(if blank { -1.0 } else { 0.0 })),
        })
    }

    fn now(&self) -> f64 {
        (now_ms() - self.epoch).max(0.0) / 1000.0
    }

    pub fn chip(&self) -> &'static Chip {
        self.chip
    }

    pub fn set_mac(&self, mac: [u8; 6]) {
        self.handle.set_mac(&mac);
    }

    /// Keeps its flash for the next visit (if it is kept and changed since it was last kept).
    pub fn save(&self) {
        let ops = self.handle.flash_ops();
        if ops == self.kept_at.get() {
            return;
        }
        if let (Some(key), Some(s)) = (&self.key, storage()) {
            if s.set_item(key, &base64_encode(&self.handle.saved()))
                .is_ok()
            {
                self.kept_at.set(ops);
            }
        }
    }

    /// A port to it, as if a USB cable had just been plugged in.
    pub fn port(&self) -> PageSimPort {
        self.handle.plugged_in();
        PageSimPort {
            sim: self.clone(),
            rx: VecDeque::new(),
            opened: now_ms(),
        }
    }
}

pub struct PageSimPort {
    sim: PageSim,
    rx: VecDeque<u8>,
    opened: f64,
}

impl Port for PageSimPort {
    async fn read(&mut self, out: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        let deadline = self.sim.now() + timeout.as_secs_f64();
        while self.rx.is_empty() {
            if self.sim.handle.disconnected() {
                return Err(PortError::Disconnected(
                    "the simulated board went away".into(),
                ));
            }
            let now = self.sim.now();
            let next = self.sim.handle.next_output_at();
            if next >= 0.0 && next <= now {
                self.rx.extend(self.sim.handle.take_output(now));
                continue;
            }
            if now >= deadline {
                return Ok(0);
            }
            let until = if next >= 0.0 {
                next.min(deadline)
            } else {
                deadline
            };
            sleep(Duration::from_secs_f64((until - now).max(0.001))).await;
        }
        let n = out.len().min(self.rx.len());
        for (d, b) in out.iter_mut().zip(self.rx.drain(..n)) {
            *d = b;
        }
        Ok(n)
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), PortError> {
        self.sim.handle.receive(self.sim.now(), data);
        Ok(())
    }

    async fn set_signals(&mut self, dtr: bool, rts: bool) -> Result<(), PortError> {
        self.sim.handle.set_signals(self.sim.now(), dtr, rts);
        self.rx.clear();
        Ok(())
    }

    async fn set_baud(&mut self, baud: u32) -> Result<(), PortError> {
        self.sim.handle.set_host_baud(baud);
        self.rx.clear();
        Ok(())
    }

    async fn sleep(&mut self, d: Duration) {
        sleep(d).await
    }

    fn elapsed(&self) -> Duration {
        Duration::from_secs_f64((now_ms() - self.opened).max(0.0) / 1000.0)
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (what localStorage keeps: text).
pub fn base64_encode(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                s.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}
