//! The serial console with the app running: from download mode (and back) or without it,
//! lines typed sent with CR LF, and what it reads also handed to a tap (Wi-Fi set-up over
//! Improv, [`crate::web::wifi`], which writes its requests through [`Engine::send_bytes`]).

use super::{Engine, Slot};
use crate::loader::{self, Port};
use crate::page::{Action, Failure, JobKind, PortKind};
use crate::web::ports::AnyPort;
use std::time::Duration;
use wasm_bindgen_futures::spawn_local;

impl Engine {
    /// A line typed into the console, sent with CR LF.
    pub fn send_line(&self, line: &str) {
        let mut b = line.as_bytes().to_vec();
        b.extend_from_slice(b"\r\n");
        self.send_bytes(b);
    }

    /// The way to the running app for Wi-Fi set-up ([`crate::web::wifi::Link`]).
    pub fn wifi_link(&self) -> crate::web::wifi::Link {
        let (a, b) = (self.clone(), self.clone());
        crate::web::wifi::Link {
            write: std::rc::Rc::new(move |v| a.send_bytes(v)),
            listen: std::rc::Rc::new(move |t| b.set_tap(t)),
        }
    }

    /// Bytes for the app as they are (Improv's requests).
    pub fn send_bytes(&self, b: Vec<u8>) {
        self.outbox.borrow_mut().push_back(b);
    }

    /// `tap` is told what the console reads from now on (None: no one); it ends with the
    /// console.
    pub fn set_tap(&self, tap: Option<super::Tap>) {
        *self.tap.borrow_mut() = tap;
    }

    /// A new console: nothing left to send from the last one, and a packet cut off at its end
    /// is no reason to hide this one's text.
    fn console_starts(&self) {
        self.stop_console.set(false);
        self.outbox.borrow_mut().clear();
        *self.improv_packets.borrow_mut() = Default::default();
    }

    /// What the console read: to the tap, and to the log without Improv's packets.
    fn console_read(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let tap = self.tap.borrow().clone();
        if let Some(t) = tap {
            t(bytes);
        }
        let mut text = vec![];
        for r in self.improv_packets.borrow_mut().push(bytes) {
            if let crate::wire::improv::Read::Text(t) = r {
                text.extend(t);
            }
        }
        self.console(&text);
    }

    /// Reads the console until stopped, sending what was typed meanwhile.
    async fn pump_console(&self, port: &mut AnyPort) -> Result<(), loader::Error> {
        let mut buf = vec![0u8; 4096];
        while !self.stop_console.get() {
            let out: Vec<Vec<u8>> = self.outbox.borrow_mut().drain(..).collect();
            for b in out {
                port.write(&b).await?;
            }
            let n = port.read(&mut buf, Duration::from_millis(50)).await?;
            self.console_read(&buf[..n]);
        }
        Ok(())
    }

    /// The serial console without download mode: opens the port, resets the chip into its
    /// app (where the port can), and shows what it prints until stopped.
    pub fn open_console(&self, kind: PortKind, ws_url: String, baud: u32, filtered: bool) {
        self.disconnect();
        self.console_starts();
        *self.slot.borrow_mut() = Slot::Busy;
        let me = self.clone();
        spawn_local(async move {
            let mut port = match me.open_port(kind, &ws_url, filtered).await {
                Ok(p) => p,
                Err(f) => {
                    *me.slot.borrow_mut() = Slot::Empty;
                    return me.send(Action::ConnectFailed(f));
                }
            };
            me.send(Action::ConsoleOpened);
            me.send(Action::JobStarted(
                JobKind::Console,
                "watching the serial console".into(),
            ));
            let via = port.via();
            let r = async {
                port.set_baud(baud).await?;
                if port.can_reset() {
                    loader::reset_into_app(&mut port).await?;
                    me.log("reset the chip into its app");
                }
                me.pump_console(&mut port).await
            }
            .await;
            port.close().await;
            *me.slot.borrow_mut() = Slot::Empty;
            me.send(Action::Disconnected);
            me.send(Action::JobDone(match r {
                Ok(()) => Ok("console closed".into()),
                Err(e) => Err(Failure::of(&e, via)),
            }));
        });
    }

    /// From download mode: resets the chip into its app and shows what it prints; Stop goes
    /// back into download mode on the same port (no new connect needed to flash again).
    pub fn watch_console(&self, baud: u32, link_baud: Option<u32>, table_offset: u32) {
        let taken = std::mem::replace(&mut *self.slot.borrow_mut(), Slot::Busy);
        let Slot::Device(d) = taken else {
            let busy = matches!(taken, Slot::Busy);
            *self.slot.borrow_mut() = taken;
            if busy {
                // After the job that has the device (e.g. the update's plan).
                let me = self.clone();
                self.when_free(
                    false,
                    Box::new(move || me.watch_console(baud, link_baud, table_offset)),
                );
            }
            return;
        };
        self.console_starts();
        self.send(Action::JobStarted(
            JobKind::Console,
            "watching the serial console".into(),
        ));
        let me = self.clone();
        spawn_local(async move {
            let mut loader = d.into_loader();
            let r = async {
                if loader.port().can_reset() {
                    loader.hard_reset().await?;
                    me.log("reset the chip into its app");
                } else {
                    me.log("this link cannot reset the chip (raw bytes, no DTR/RTS): press EN/RESET on the board to start its app");
                }
                loader.port().set_baud(baud).await?;
                me.pump_console(loader.port()).await
            }
            .await;
            *me.tap.borrow_mut() = None;
            if me.closing.get() {
                // The view is gone: the app keeps running.
                *me.slot.borrow_mut() = Slot::Empty;
                return loader.into_port().close().await;
            }
            if let Err(e) = r {
                me.log(format!("console: {e}"));
            }
            me.send(Action::JobDone(Ok(
                "console stopped; back to download mode…".into(),
            )));
            me.log("back into download mode");
            me.cancel.set(false);
            me.send(Action::Connecting);
            me.open_device(loader, link_baud, table_offset).await;
        });
    }
}
