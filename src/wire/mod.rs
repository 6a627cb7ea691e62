//! The serial protocols, sans-IO: bytes in, bytes out. SLIP framing and the ROM loader's and
//! stub's command set; Improv Wi-Fi, which an app speaks on its console (`improv`).

pub mod command;
pub mod improv;
pub mod rfc2217;
pub mod slip;

pub use command::{op, Command, DeviceError, Response, StatusError};
