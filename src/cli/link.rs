//! How the command line reaches a device: the link options every `--port` command takes, and
//! opening the device behind a port with one set of connect rules (shared by the single-board
//! commands and the fleet).

use super::tcp::TcpPort;
use super::Failure;
use crate::device::{Device, CONNECT_ATTEMPTS};
use crate::formats::numbers::parse_u32_arg;
use crate::loader::stub::Stubs;
use crate::loader::{Event, Loader, OpenOptions, Phase, Reset};
use clap::{Args, ValueEnum};
use std::cell::Cell;
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Before {
    /// DTR/RTS reset into download mode (when the port has control lines).
    DefaultReset,
    /// The chip is already in download mode.
    NoReset,
}

/// How to reach the device (every --port command takes these).
#[derive(Args, Debug, Clone)]
pub struct Link {
    /// Baud rate after connecting (starts at 115200; default 921600). Over a raw tcp:// link,
    /// which has no baud control, the chip stays at 115200 unless this is given: then it is
    /// asked for this rate, which a link without a UART of its own carries.
    #[arg(long)]
    pub baud: Option<u32>,
    #[arg(long, value_enum, default_value = "default-reset")]
    pub before: Before,
    /// Talk to the ROM loader only (no flasher stub).
    #[arg(long)]
    pub no_stub: bool,
    /// Where the partition table is.
    #[arg(long, default_value = "0x8000", value_parser = parse_u32_arg)]
    pub table_offset: u32,
}

pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Progress and log lines on stderr (at most a few per second).
fn printer(quiet: bool) -> impl FnMut(Event) {
    let last = Rc::new(Cell::new(0u64));
    move |e| {
        if quiet {
            return;
        }
        match e {
            Event::Log(m) => eprintln!("{m}"),
            // What the chip printed goes to stderr too, marked as the device's.
            Event::Console(text) => {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    eprintln!("[device] {}", line.trim_end());
                }
            }
            Event::Progress(p) => {
                let step = (p.done * 10 / p.total.max(1)).min(10);
                let key = step | ((p.phase as u64) << 8);
                // Small reads (headers, tables) are not worth a progress line.
                let worth = p.total >= 0x10000;
                if worth && key != last.get() && matches!(p.phase, Phase::Writing | Phase::Reading)
                {
                    last.set(key);
                    let eta = p
                        .eta()
                        .map(|d| format!(", {:.0} s left", d.as_secs_f64()))
                        .unwrap_or_default();
                    let rate = p.rate_text();
                    eprintln!(
                        "{} {:>3}% ({} / {} bytes, {rate}{eta})",
                        p.phase.name(),
                        step * 10,
                        p.done,
                        p.total
                    );
                }
            }
        }
    }
}

/// Opens the device behind `port` with the one set of connect rules (reset, attempts, stub,
/// baud, each with its fall-back).
/// Opens a device without printing progress (one of several boards).
pub(super) async fn open_quiet(port: &str, link: &Link) -> Result<Device<TcpPort>, Failure> {
    open(port, link, true).await
}

/// How the command line opens a link (and opens it again after a reset into the app).
pub(super) fn open_options(link: &Link) -> OpenOptions {
    OpenOptions {
        reset: match link.before {
            Before::DefaultReset => Reset::Auto,
            Before::NoReset => Reset::None,
        },
        attempts: CONNECT_ATTEMPTS,
        stubs: if link.no_stub {
            Stubs::None
        } else {
            Stubs::Embedded
        },
        baud: link.baud,
    }
}

/// An error with the hints for a link over the network, as the command line prints it.
pub(super) fn with_hints(error: &crate::loader::Error) -> Failure {
    Failure::of(error)
}

pub(super) async fn open(port: &str, link: &Link, quiet: bool) -> Result<Device<TcpPort>, Failure> {
    let p = TcpPort::open(port).await.map_err(Failure::board)?;
    let mut l = Loader::new(p);
    l.on_event(printer(quiet));
    let d = Device::open(l, &open_options(link))
        .await
        .map_err(|f| with_hints(&f.error))?;
    if !quiet && d.chip.identity_read {
        eprintln!(
            "Connected to {} (MAC {})",
            d.chip.description,
            d.chip.mac_string()
        );
    } else if !quiet {
        eprintln!("Connected to {}", d.chip.description);
    }
    if !quiet && !d.chip.security.is_open() {
        eprintln!("Security: {}", d.chip.security.summary());
    }
    Ok(d)
}
