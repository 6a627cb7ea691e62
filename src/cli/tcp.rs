//! A [`Port`] over TCP: a raw byte pipe to `otaflash sim --listen` or a serial server (ser2net,
//! esptool's `socket://`; no DTR/RTS and no baud: reset the chip by hand), or RFC 2217
//! (`rfc2217://`, e.g. `esp_rfc2217_server`, `otaflash sim --rfc2217`) with baud and control
//! lines, so the chip is reset as over a cable.

use crate::loader::port::{Port, PortError};
use crate::wire::rfc2217::Client;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

pub struct TcpPort {
    stream: TcpStream,
    opened: Instant,
    addr: String,
    /// Set for `rfc2217://`.
    rfc2217: Option<Client>,
}

impl TcpPort {
    /// `tcp://HOST:PORT`, `socket://HOST:PORT` or `rfc2217://HOST:PORT`.
    pub async fn open(url: &str) -> Result<TcpPort, String> {
        let (addr, rfc) = match url.split_once("://") {
            Some(("tcp" | "socket", a)) => (a, false),
            Some(("rfc2217", a)) => (a, true),
            _ => return Err(format!(
                "unsupported port '{url}': use tcp://HOST:PORT or rfc2217://HOST:PORT (USB serial ports are for the web page, or bridge them with ser2net or esp_rfc2217_server)"
            )),
        };
        let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .map_err(|_| format!("{url}: connection timed out"))?
            .map_err(|e| format!("{url}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut p = TcpPort {
            stream,
            opened: Instant::now(),
            addr: addr.to_string(),
            rfc2217: rfc.then(Client::default),
        };
        if rfc {
            p.raw_write(&Client::hello())
                .await
                .map_err(|e| e.to_string())?;
            p.raw_write(&Client::baud(crate::loader::ROM_BAUD))
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(p)
    }

    async fn raw_write(&mut self, data: &[u8]) -> Result<(), PortError> {
        self.stream
            .write_all(data)
            .await
            .map_err(|e| lost(&self.addr, e))
    }
}

fn lost(addr: &str, e: impl std::fmt::Display) -> PortError {
    PortError::Disconnected(format!("{addr}: {e}"))
}

impl Port for TcpPort {
    async fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = match tokio::time::timeout(left, self.stream.read(buf)).await {
                Err(_) => return Ok(0),
                Ok(Ok(0)) => return Err(lost(&self.addr, "the other end closed the connection")),
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(lost(&self.addr, e)),
            };
            let Some(c) = self.rfc2217.as_mut() else {
                return Ok(n);
            };
            let (data, reply) = c.receive(&buf[..n]);
            if !reply.is_empty() {
                self.raw_write(&reply).await?;
            }
            if !data.is_empty() {
                buf[..data.len()].copy_from_slice(&data);
                return Ok(data.len());
            }
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), PortError> {
        if self.rfc2217.is_some() {
            return self.raw_write(&Client::send(data)).await;
        }
        self.raw_write(data).await
    }

    async fn set_signals(&mut self, dtr: bool, rts: bool) -> Result<(), PortError> {
        match self.rfc2217.as_mut() {
            Some(c) => {
                let m = c.signals(dtr, rts);
                self.raw_write(&m).await
            }
            None => Ok(()),
        }
    }

    async fn set_baud(&mut self, baud: u32) -> Result<(), PortError> {
        if self.rfc2217.is_some() {
            return self.raw_write(&Client::baud(baud)).await;
        }
        Ok(())
    }

    async fn sleep(&mut self, d: Duration) {
        tokio::time::sleep(d).await
    }

    fn elapsed(&self) -> Duration {
        self.opened.elapsed()
    }

    fn can_reset(&self) -> bool {
        self.rfc2217.is_some()
    }

    fn has_baud(&self) -> bool {
        self.rfc2217.is_some()
    }
}
