//! `otaflash sim`: the simulated chip served over TCP (raw bytes, esptool's `socket://`), RFC
//! 2217 (esptool's `rfc2217://`, DTR/RTS and baud included) and WebSocket (binary frames only,
//! carrying raw bytes or RFC 2217 — the page's `ws://` and `rfc2217+ws://`), in real time or
//! with no timing at all.
//!
//! One chip, one connection at a time. A raw byte stream cannot reset the chip, so each new
//! one finds it freshly reset in download mode; over RFC 2217 the client resets it. The flash
//! lives in a file that follows every completed write, so another process can read it at any
//! time.

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

/// What the WebSocket endpoint's binary frames carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WsSpeaks {
    /// Serial bytes as they are (no control lines, no baud).
    Raw,
    /// RFC 2217 (Telnet COM-PORT-OPTION), as websockify passes it from an RFC 2217 server.
    #[default]
    Rfc2217,
}

pub struct Server {
    dev: Esp32,
    /// What the WebSocket endpoint speaks.
    pub ws_speaks: WsSpeaks,
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
            ws_speaks: WsSpeaks::default(),
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
            // Over RFC 2217 the client resets the chip itself (DTR/RTS); a raw byte stream
            // cannot, so it finds the chip freshly reset into download mode.
            let rfc2217 = kind == 2 || (kind == 1 && self.ws_speaks == WsSpeaks::Rfc2217);
            if rfc2217 {
                self.dev.set_host_baud(None);
                self.dev.clear_disconnect();
                // What the chip printed before the client came went to no one.
                let _ = self.dev.take_output(Duration::MAX);
            } else {
                self.fresh_connection();
            }
            let r = async {
                let link = match kind {
                    1 => Link::ws(stream).await?,
                    _ => Link::Tcp(stream, vec![0u8; 0x10000]),
                };
                self.serve(link, rfc2217).await
            }
            .await;
            if let Err(e) = r {
                eprintln!("connection ended: {e}");
            }
            self.sync_file()?;
        }
    }

    /// Serves one client until it leaves (or the simulated cable is pulled): serial bytes both
    /// ways, through RFC 2217 when `rfc2217` is set.
    async fn serve(&mut self, mut link: Link, rfc2217: bool) -> std::io::Result<()> {
        use crate::wire::rfc2217::{Event, Server as Rfc};
        let mut rfc = rfc2217.then(Rfc::default);
        loop {
            let next = self.dev.next_output_at().map(|t| self.epoch + t);
            tokio::select! {
                got = link.recv() => {
                    let Some(bytes) = got? else { return Ok(()) };
                    let Some(rfc) = rfc.as_mut() else {
                        let now = self.now();
                        self.dev.receive(now, &bytes);
                        self.sync_file()?;
                        continue;
                    };
                    let (events, reply) = rfc.receive(&bytes);
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
                        link.send(reply).await?;
                    }
                    self.sync_file()?;
                }
                _ = sleep_until(next) => {
                    // (The chip may only have taken in what it received: nothing to send yet.)
                    let out = self.dev.take_output(self.now());
                    // What it did may have changed the flash: the file follows before the
                    // answer goes out.
                    self.sync_file()?;
                    if !out.is_empty() {
                        link.send(if rfc.is_some() { Rfc::send(&out) } else { out }).await?;
                    }
                }
            }
            if self.dev.disconnected() {
                self.sync_file()?;
                return Ok(());
            }
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

type WsStream = tokio_tungstenite::WebSocketStream<TcpStream>;

/// A client's byte stream: TCP, or WebSocket binary frames.
enum Link {
    Tcp(TcpStream, Vec<u8>),
    Ws(Box<WsStream>),
}

fn ws_error(e: tokio_tungstenite::tungstenite::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl Link {
    async fn ws(s: TcpStream) -> std::io::Result<Link> {
        let ws = tokio_tungstenite::accept_async(s).await.map_err(ws_error)?;
        Ok(Link::Ws(Box::new(ws)))
    }

    /// The next bytes from the client; None when it left.
    async fn recv(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        match self {
            Link::Tcp(s, buf) => {
                let n = s.read(buf).await?;
                Ok((n > 0).then(|| buf[..n].to_vec()))
            }
            Link::Ws(ws) => loop {
                match ws.next().await.transpose().map_err(ws_error)? {
                    None | Some(Message::Close(_)) => return Ok(None),
                    Some(Message::Binary(b)) => return Ok(Some(b.to_vec())),
                    Some(Message::Text(_)) => {
                        // Serial bytes come in binary frames only (as websockify has it).
                        let _ = ws.close(None).await;
                        return Err(std::io::Error::other(
                            "a text frame came: serial bytes go in binary frames",
                        ));
                    }
                    Some(_) => {}
                }
            },
        }
    }

    async fn send(&mut self, bytes: Vec<u8>) -> std::io::Result<()> {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        match self {
            Link::Tcp(s, _) => s.write_all(&bytes).await,
            Link::Ws(ws) => ws
                .send(Message::Binary(bytes.into()))
                .await
                .map_err(ws_error),
        }
    }
}
