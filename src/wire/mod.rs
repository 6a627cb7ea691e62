//! The serial protocol, sans-IO: bytes in, bytes out. SLIP framing and the command set.

pub mod command;
pub mod rfc2217;
pub mod slip;

pub use command::{op, Command, DeviceError, Response, StatusError};
