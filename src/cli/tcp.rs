//! A [`Port`] over TCP: a raw byte pipe to `otaflash sim --listen`, or to a serial server
//! (ser2net, esptool's `socket://`). No DTR/RTS and no baud: reset the chip by hand.

use crate::loader::port::{Port, PortError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

pub struct TcpPort {
    stream: TcpStream,
    opened: Instant,
    addr: String,
}

impl TcpPort {
    /// `tcp://HOST:PORT` or `socket://HOST:PORT`.
    pub async fn open(url: &str) -> Result<TcpPort, String> {
        let addr = url
            .strip_prefix("tcp://")
            .or_else(|| url.strip_prefix("socket://"))
            .ok_or_else(|| {
                format!("unsupported port '{url}': use tcp://HOST:PORT (USB serial ports are for the web page, or bridge them with ser2net)")
            })?;
        let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .map_err(|_| format!("{url}: connection timed out"))?
            .map_err(|e| format!("{url}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(TcpPort {
            stream,
            opened: Instant::now(),
            addr: addr.to_string(),
        })
    }
}

fn lost(addr: &str, e: impl std::fmt::Display) -> PortError {
    PortError::Disconnected(format!("{addr}: {e}"))
}

impl Port for TcpPort {
    async fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        match tokio::time::timeout(timeout, self.stream.read(buf)).await {
            Err(_) => Ok(0),
            Ok(Ok(0)) => Err(lost(&self.addr, "the other end closed the connection")),
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(lost(&self.addr, e)),
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), PortError> {
        self.stream
            .write_all(data)
            .await
            .map_err(|e| lost(&self.addr, e))
    }

    async fn set_signals(&mut self, _dtr: bool, _rts: bool) -> Result<(), PortError> {
        Ok(())
    }

    async fn set_baud(&mut self, _baud: u32) -> Result<(), PortError> {
        Ok(())
    }

    async fn sleep(&mut self, d: Duration) {
        tokio::time::sleep(d).await
    }

    fn elapsed(&self) -> Duration {
        self.opened.elapsed()
    }

    fn can_reset(&self) -> bool {
        false
    }

    fn has_baud(&self) -> bool {
        false
    }
}
