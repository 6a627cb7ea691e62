//! A simulated ESP32 (flash + ROM loader + flasher stub + link timing), the same model for the
//! in-process tests (virtual time), `otaflash sim` (real time, TCP and WebSocket) and the page.

pub mod demo;
pub mod esp32;
pub mod flash;
pub mod flash_crypt;
#[cfg(not(target_arch = "wasm32"))]
pub mod server;
pub mod stub_rx;

pub use esp32::{Config, Esp32, Faults, Mode, Timing};

use crate::loader::port::{Port, PortError};
use std::collections::VecDeque;
use std::time::Duration;

/// A [`Port`] wired straight to a simulated chip, in virtual time: waiting costs nothing, so
/// tests of a whole 4 MB flash at 115200 baud run in milliseconds yet see exact link timing.
pub struct SimPort {
    pub dev: Esp32,
    now: Duration,
    rx: VecDeque<u8>,
}

impl SimPort {
    pub fn new(dev: Esp32) -> Self {
        let mut p = SimPort {
            dev,
            now: Duration::ZERO,
            rx: VecDeque::new(),
        };
        p.dev.set_host_baud(Some(esp32::ROM_BAUD));
        p
    }

    fn check(&self) -> Result<(), PortError> {
        if self.dev.disconnected() {
            Err(PortError::Disconnected(
                "the simulated device dropped the connection".into(),
            ))
        } else {
            Ok(())
        }
    }
}

impl Port for SimPort {
    async fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        let deadline = self.now + timeout;
        while self.rx.is_empty() {
            self.check()?;
            // While the host waits here it writes nothing: the chip may go on to the next
            // thing that happens (which may be work that answers later, or nothing to read).
            match self.dev.next_output_at() {
                Some(at) if at <= deadline => {
                    self.now = self.now.max(at);
                    self.rx.extend(self.dev.take_output(self.now));
                }
                _ => {
                    self.now = deadline;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.rx.len());
        for (d, s) in buf.iter_mut().zip(self.rx.drain(..n)) {
            *d = s;
        }
        Ok(n)
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), PortError> {
        self.check()?;
        self.dev.receive(self.now, data);
        Ok(())
    }

    async fn set_signals(&mut self, dtr: bool, rts: bool) -> Result<(), PortError> {
        self.dev.set_signals(self.now, dtr, rts);
        self.rx.clear();
        Ok(())
    }

    async fn set_baud(&mut self, baud: u32) -> Result<(), PortError> {
        self.dev.set_host_baud(Some(baud));
        self.rx.clear();
        Ok(())
    }

    async fn sleep(&mut self, d: Duration) {
        self.now += d;
    }

    fn elapsed(&self) -> Duration {
        self.now
    }

    fn usb_ids(&self) -> Option<(u16, u16)> {
        self.dev.config.usb.filter(|_| self.dev.config.usb_ids_told)
    }
}
