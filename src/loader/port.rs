//! The one small trait the loader needs from a byte link: Web Serial, a WebSocket byte bridge,
//! the in-page simulator and TCP (native) all implement it.

use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortError {
    /// The other end went away (cable pulled, socket closed, device lost).
    Disconnected(String),
    Io(String),
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortError::Disconnected(m) => write!(f, "disconnected: {m}"),
            PortError::Io(m) => write!(f, "port error: {m}"),
        }
    }
}

/// A serial-like byte link with time. All methods are async; none may block a thread.
#[allow(async_fn_in_trait)]
pub trait Port {
    /// Reads what is available into `buf`, waiting at most `timeout` for the first byte.
    /// `Ok(0)` means the timeout passed with nothing to read.
    async fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError>;

    async fn write(&mut self, data: &[u8]) -> Result<(), PortError>;

    /// DTR and RTS (true = asserted, as pyserial and Web Serial mean it).
    async fn set_signals(&mut self, dtr: bool, rts: bool) -> Result<(), PortError>;

    /// Changes the host side's baud rate (Web Serial closes and reopens the port).
    async fn set_baud(&mut self, baud: u32) -> Result<(), PortError>;

    async fn sleep(&mut self, d: Duration);

    /// Monotonic time since the port was opened (virtual time for the simulator).
    fn elapsed(&self) -> Duration;

    /// Whether DTR/RTS reach a reset circuit (false over TCP: reset the chip by hand).
    fn can_reset(&self) -> bool {
        true
    }

    /// Whether the link's speed follows set_baud (false for a TCP byte pipe).
    fn has_baud(&self) -> bool {
        true
    }

    /// The USB vendor and product ids of the serial port, when it is a USB one whose ids the
    /// host tells.
    fn usb_ids(&self) -> Option<(u16, u16)> {
        None
    }
}
