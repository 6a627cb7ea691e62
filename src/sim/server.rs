//! `otaflash sim`: the simulated ESP32 served over TCP (raw bytes, esptool's `socket://`), RFC
//! 2217 (esptool's `rfc2217://`, DTR/RTS and baud included) and WebSocket (binary frames are
//! serial bytes), in real time or with no timing at all.
//!
//! One chip, one connection at a time; every new connection finds it freshly reset in
//! download mode. The flash lives in a file that follows every completed write, so another
//! process can read it at any time. WebSocket clients may send text frames to drive the
//! control lines or tell their baud: `{"dtr":true,"rts":false}`, `{"baud":921600}`. The server
//! sends nothing but serial bytes.

use super::{Config, Esp32};
use std::fs::File;
use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

pub struct Server {
    dev: Esp32,
    file: File,
    path: PathBuf,
    /// Real time: device time = this instant's elapsed.
    epoch: Instant,
}

/// Opens (or creates, all 0xFF) the flash file. `size`: the flash size; None = the file's.
pub fn open_flash(path: &Path, size: Option<u32>) -> Result<(File, Vec<u8>), String> {
    let exists = path.exists();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut data = vec![];
    file.read_to_end(&mut data).map_err(|e| e.to_string())?;
    let size = match (size, exists && !data.is_empty()) {
        (Some(s), _) => s as usize,
        (None, true) => data.len(),
        (None, false) => 4 << 20,
    };
    if !size.is_power_of_two() || !(1 << 20..=128 << 20).contains(&size) {
        return Err(format!(
            "flash size {size} is not 1, 2, 4, 8, 16, 32, 64 or 128 MB"
        ));
    }
    if data.len() > size {
        return Err(format!(
            "{} is {} bytes, larger than the {} MB flash; give --flash-size to match",
            path.display(),
            data.len(),
            size >> 20
        ));
    }
    if data.len() < size {
        // A new or short file is filled with erased flash.
        data.resize(size, 0xFF);
        file.write_all_at(&data, 0).map_err(|e| e.to_string())?;
    }
    Ok((file, data))
}

impl Server {
    pub fn new(
        path: &Path,
        size: Option<u32>,
        config: impl FnOnce(u32) -> Config,
    ) -> Result<Server, String> {
        let (file, data) = open_flash(path, size)?;
        let cfg = config(data.len() as u32);
        Ok(Server {
            dev: Esp32::new(data, cfg),
            file,
            path: path.to_path_buf(),
            epoch: Instant::now(),
        })
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Writes what changed in flash to the file.
    fn sync_file(&mut self) -> std::io::Result<()> {
        let mut ranges = self.dev.flash.take_dirty();
        if ranges.is_empty() {
            return Ok(());
        }
        ranges.sort_by_key(|r| r.start);
        let mut merged: Vec<std::ops::Range<usize>> = vec![];
        for r in ranges {
            match merged.last_mut() {
                Some(m) if r.start <= m.end => m.end = m.end.max(r.end),
                _ => merged.push(r),
            }
        }
        for r in merged {
            self.file
                .write_all_at(&self.dev.flash.contents()[r.clone()], r.start as u64)?;
        }
        Ok(())
    }

    fn fresh_connection(&mut self) {
        let now = self.now();
        self.dev.set_host_baud(None);
        // Reset into download mode before the client came: nobody can reset a chip over
        // TCP, so its banner was printed to no one.
        self.dev.reset(now, true);
        let _ = self.dev.take_output(Duration::MAX);
        // A reconnect after a power cut powers the chip back on (reset does).
        self.dev.clear_disconnect();
    }

    /// Serves raw TCP, RFC 2217 and WebSocket clients (each listener optional), one at a time,
    /// until an error.
    pub async fn run(
        mut self,
        tcp: Option<TcpListener>,
        ws: Option<TcpListener>,
        rfc2217: Option<TcpListener>,
    ) -> std::io::Result<()> {
        loop {
            let (stream, kind) = tokio::select! {
                r = accept(&tcp) => (r?.0, 0),
                r = accept(&ws) => (r?.0, 1),
                r = accept(&rfc2217) => (r?.0, 2),
            };
            stream.set_nodelay(true)?;
            let r = match kind {
                1 => {
                    self.fresh_connection();
                    self.serve_ws(stream).await
                }
                2 => {
                    // The client resets the chip itself (DTR/RTS over RFC 2217).
                    self.dev.set_host_baud(None);
                    self.dev.clear_disconnect();
                    self.serve_rfc2217(stream).await
                }
                _ => {
                    self.fresh_connection();
                    self.serve_tcp(stream).await
                }
            };
            if let Err(e) = r {
                eprintln!("connection ended: {e}");
            }
            self.sync_file()?;
        }
    }

    async fn serve_tcp(&mut self, mut s: TcpStream) -> std::io::Result<()> {
        let mut buf = vec![0u8; 0x10000];
        loop {
            let next = self.dev.next_output_at().map(|t| self.epoch + t);
            tokio::select! {
                n = s.read(&mut buf) => {
                    let n = n?;
                    if n == 0 {
                        return Ok(());
                    }
                    let now = self.now();
                    self.dev.receive(now, &buf[..n]);
                    self.sync_file()?;
                }
                _ = sleep_until(next) => {
                    let out = self.dev.take_output(self.now());
                    s.write_all(&out).await?;
                }
            }
            if self.dev.disconnected() {
                self.sync_file()?;
                return Ok(());
            }
        }
    }

    async fn serve_rfc2217(&mut self, mut s: TcpStream) -> std::io::Result<()> {
        use crate::wire::rfc2217::{Event, Server as Rfc};
        let mut rfc = Rfc::default();
        let mut buf = vec![0u8; 0x10000];
        loop {
            let next = self.dev.next_output_at().map(|t| self.epoch + t);
            tokio::select! {
                n = s.read(&mut buf) => {
                    let n = n?;
                    if n == 0 {
                        return Ok(());
                    }
                    let (events, reply) = rfc.receive(&buf[..n]);
                    for e in events {
                        let now = self.now();
                        match e {
                            Event::Data(d) => self.dev.receive(now, &d),
                            Event::Baud(b) => self.dev.set_host_baud(Some(b)),
                            Event::ResetToDownload => {
                                self.dev.set_signals(now, false, true);
                                self.dev.set_signals(now, true, false);
                                self.dev.set_signals(now, false, false);
                            }
                            Event::ResetToApp => {
                                self.dev.set_signals(now, false, true);
                                self.dev.set_signals(now, false, false);
                            }
                            Event::Purge => {}
                        }
                    }
                    if !reply.is_empty() {
                        s.write_all(&reply).await?;
                    }
                    self.sync_file()?;
                }
                _ = sleep_until(next) => {
                    let out = self.dev.take_output(self.now());
                    s.write_all(&Rfc::send(&out)).await?;
                }
            }
            if self.dev.disconnected() {
                self.sync_file()?;
                return Ok(());
            }
        }
    }

    async fn serve_ws(&mut self, s: TcpStream) -> std::io::Result<()> {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let io = |e: tokio_tungstenite::tungstenite::Error| std::io::Error::other(e.to_string());
        let mut ws = tokio_tungstenite::accept_async(s).await.map_err(io)?;
        loop {
            let next = self.dev.next_output_at().map(|t| self.epoch + t);
            tokio::select! {
                m = ws.next() => {
                    let Some(m) = m else { return Ok(()) };
                    match m.map_err(io)? {
                        Message::Binary(b) => {
                            let now = self.now();
                            self.dev.receive(now, &b);
                            self.sync_file()?;
                        }
                        Message::Text(t) => self.control(t.as_str()),
                        Message::Close(_) => return Ok(()),
                        _ => {}
                    }
                }
                _ = sleep_until(next) => {
                    let out = self.dev.take_output(self.now());
                    ws.send(Message::Binary(out.into())).await.map_err(io)?;
                }
            }
            if self.dev.disconnected() {
                self.sync_file()?;
                return Ok(());
            }
        }
    }

    /// A WebSocket control message: control lines or the client's baud.
    fn control(&mut self, text: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return;
        };
        let now = self.now();
        if let (Some(d), Some(r)) = (v["dtr"].as_bool(), v["rts"].as_bool()) {
            self.dev.set_signals(now, d, r);
            let _ = self.sync_file();
        }
        if let Some(b) = v["baud"].as_u64() {
            self.dev.set_host_baud(Some(b as u32));
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

async fn accept(l: &Option<TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match l {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
