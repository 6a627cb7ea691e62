//! The async ROM-loader / flasher-stub client, generic over one small [`Port`] trait. The page
//! (Web Serial, WebSocket, in-page simulator) and the CLI (TCP) drive this same engine.
//!
//! - [`Loader::connect`]: reset into download mode, SYNC, detect the chip, read its identity.
//! - [`Loader::run_stub`], [`Loader::change_baud`]: the stub is uploaded at 115200 and the baud
//!   switched afterwards (the stub re-derives its UART divider from the ROM's recorded baud,
//!   which esptool's ROM crystal correction skews; switching through the stub is exact).
//! - `flash`: compressed, verified writes; reads; erases.
//!
//! What a board holds and what it will boot is the device layer's business ([`crate::device`]).

mod detect;
pub mod error;
mod flash;
mod open;
pub mod port;
pub mod reset;
pub mod stub;

pub use error::{Error, FailKind, Hint, NoAnswer, Refusal, Rejected, Result, Via};
pub use flash::{WriteOptions, WriteReport, REGION};
pub use open::OpenOptions;
pub use port::{Port, PortError};
pub use reset::{reset_into_app, Reset};

use crate::chips::security::Security;
use crate::chips::{self, Chip, SpiRegs, UsbLink};
use crate::formats::numbers::decimals;
use crate::wire::command::{timeouts, Command, RegWrite, Response, StatusError};
use crate::wire::slip;
use std::collections::VecDeque;
use std::time::Duration;

pub const ROM_BAUD: u32 = 115_200;
pub const DEFAULT_BAUD: u32 = 921_600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    UploadingStub,
    Checking,
    Writing,
    Verifying,
    Reading,
    Erasing,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::UploadingStub => "uploading the stub",
            Phase::Checking => "checking what is already there",
            Phase::Writing => "writing",
            Phase::Verifying => "verifying (MD5)",
            Phase::Reading => "reading",
            Phase::Erasing => "erasing",
        }
    }
}

/// Progress of a long operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub phase: Phase,
    /// Bytes of data done (uncompressed), of `total`.
    pub done: u64,
    pub total: u64,
    /// Bytes that crossed the link for them so far (compressed when compressing).
    pub wire: u64,
    /// Time since the phase began.
    pub elapsed: Duration,
}

/// kbit/s for `bytes` in `d` (0 for no time).
pub fn kbit_per_s(bytes: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        bytes as f64 * 8.0 / s / 1000.0
    } else {
        0.0
    }
}

impl Progress {
    pub fn new(phase: Phase, done: u64, total: u64, elapsed: Duration) -> Progress {
        Progress {
            phase,
            done,
            total,
            wire: done,
            elapsed,
        }
    }

    /// Data bytes per second so far (uncompressed: what the flash receives).
    pub fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.done as f64 / s
        } else {
            0.0
        }
    }

    /// kbit/s of data (the effective rate) and on the wire.
    pub fn kbit(&self) -> (f64, f64) {
        (
            kbit_per_s(self.done, self.elapsed),
            kbit_per_s(self.wire, self.elapsed),
        )
    }

    /// The rate as the CLI and the page show it: effective and on the wire while writing
    /// (compressed data crosses the link), else just the data rate.
    pub fn rate_text(&self) -> String {
        let (data, wire) = self.kbit();
        if self.phase == Phase::Writing {
            format!(
                "{} kbit/s effective, {} kbit/s on the wire",
                decimals(data, 0),
                decimals(wire, 0)
            )
        } else {
            format!("{} kbit/s", decimals(data, 0))
        }
    }

    pub fn eta(&self) -> Option<Duration> {
        let r = self.rate();
        (r > 0.0 && self.done <= self.total)
            .then(|| Duration::from_secs_f64((self.total - self.done) as f64 / r))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Log(String),
    Progress(Progress),
    /// What the chip printed on its console (read outside the protocol: after a reset into
    /// its app).
    Console(String),
}

/// What the chip told us about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipInfo {
    pub chip: &'static Chip,
    /// e.g. "ESP32-D0WD-V3 (revision v3.1)".
    pub description: String,
    pub revision: (u32, u32),
    pub mac: [u8; 6],
    pub crystal_mhz: u32,
    /// The identity registers as read (eFuses and the like), for `chips::features`.
    pub regs: chips::Registers,
    /// Flash encryption, secure boot, secure download mode, JTAG.
    pub security: Security,
    /// Whether revision, MAC and crystal were read (not in secure download mode).
    pub identity_read: bool,
}

impl ChipInfo {
    pub fn mac_string(&self) -> String {
        self.mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// The flash chip behind the SPI bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlashInfo {
    pub jedec_id: u32,
    pub size: u32,
    /// Whether the size was read from the flash chip (not in secure download mode, where the
    /// ROM refuses the register access: then `size` is the largest the ROM takes, 16 MB).
    pub detected: bool,
}

pub struct Loader<P: Port> {
    port: P,
    decoder: slip::Decoder,
    frames: VecDeque<Vec<u8>>,
    console: Vec<u8>,
    is_stub: bool,
    baud: u32,
    /// The baud the ROM recorded: the number its last CHANGE_BAUDRATE carried (115200 after a
    /// reset). The stub of some chips sets its UART from it (`Rom::stub_uart_from_rom_record`).
    rom_baud_record: u32,
    info: Option<ChipInfo>,
    flash: Option<FlashInfo>,
    events: Box<dyn FnMut(Event)>,
    cancel: Option<std::rc::Rc<std::cell::Cell<bool>>>,
}

impl<P: Port> Loader<P> {
    pub fn new(port: P) -> Self {
        Loader {
            port,
            decoder: slip::Decoder::new(0x10000),
            frames: VecDeque::new(),
            console: vec![],
            is_stub: false,
            baud: ROM_BAUD,
            rom_baud_record: ROM_BAUD,
            info: None,
            flash: None,
            events: Box::new(|_| {}),
            cancel: None,
        }
    }

    /// Receive log lines and progress.
    pub fn on_event(&mut self, f: impl FnMut(Event) + 'static) {
        self.events = Box::new(f);
    }

    /// A flag that, once set, stops long operations at the next block.
    pub fn set_cancel(&mut self, flag: std::rc::Rc<std::cell::Cell<bool>>) {
        self.cancel = Some(flag);
    }

    fn check_cancel(&self) -> Result<()> {
        match &self.cancel {
            Some(c) if c.get() => Err(Error::Cancelled),
            _ => Ok(()),
        }
    }

    pub fn port(&mut self) -> &mut P {
        &mut self.port
    }

    pub fn into_port(self) -> P {
        self.port
    }

    pub fn is_stub(&self) -> bool {
        self.is_stub
    }

    pub fn baud(&self) -> u32 {
        self.baud
    }

    pub fn info(&self) -> Option<&ChipInfo> {
        self.info.as_ref()
    }

    /// Text the chip printed outside protocol frames (boot banner, app console).
    pub fn take_console(&mut self) -> Vec<u8> {
        self.console.extend(self.decoder.take_noise());
        std::mem::take(&mut self.console)
    }

    pub fn log(&mut self, msg: impl Into<String>) {
        (self.events)(Event::Log(msg.into()));
    }

    /// Passes on console text read from the port directly.
    pub fn echo_console(&mut self, text: &str) {
        if !text.is_empty() {
            (self.events)(Event::Console(text.to_string()));
        }
    }

    fn progress(&mut self, p: Progress) {
        (self.events)(Event::Progress(p));
    }

    fn now(&self) -> Duration {
        self.port.elapsed()
    }

    /// The next SLIP frame, or None after `timeout`.
    async fn next_frame(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        let deadline = self.now() + timeout;
        let mut buf = vec![0u8; 0x4000];
        let mut events = vec![];
        loop {
            if let Some(f) = self.frames.pop_front() {
                return Ok(Some(f));
            }
            let now = self.now();
            if now >= deadline {
                return Ok(None);
            }
            let n = self.port.read(&mut buf, deadline - now).await?;
            if n == 0 {
                continue;
            }
            self.decoder.push(&buf[..n], &mut events);
            for e in events.drain(..) {
                if let slip::Event::Frame(f) = e {
                    self.frames.push_back(f);
                }
            }
            let noise = self.decoder.take_noise();
            self.console.extend(noise);
        }
    }

    /// Discards whatever is waiting (after a reset or a baud change).
    /// Text outside frames is kept as console output.
    async fn flush_input(&mut self) -> Result<()> {
        let mut buf = vec![0u8; 0x4000];
        let mut events = vec![];
        for _ in 0..64 {
            let n = self.port.read(&mut buf, Duration::from_millis(5)).await?;
            if n == 0 {
                break;
            }
            self.decoder.push(&buf[..n], &mut events);
            let noise = self.decoder.take_noise();
            self.console.extend(noise);
        }
        self.frames.clear();
        self.decoder.reset();
        Ok(())
    }

    pub async fn send(&mut self, cmd: &Command) -> Result<()> {
        self.port.write(&slip::encode(&cmd.encode())).await?;
        Ok(())
    }

    /// Waits for the response to `opcode` (skipping other frames), checks its status after
    /// `data_len` bytes of data, returns (value, data).
    async fn response(
        &mut self,
        opcode: u8,
        data_len: usize,
        timeout: Duration,
    ) -> Result<(u32, Vec<u8>)> {
        let deadline = self.now() + timeout;
        loop {
            let left = deadline.saturating_sub(self.now());
            let Some(frame) = self.next_frame(left).await? else {
                return Err(Error::Timeout(format!(
                    "no answer to {} within {} s",
                    crate::wire::command::op_name(opcode),
                    decimals(timeout.as_secs_f64(), 1)
                )));
            };
            let Some(r) = Response::parse(&frame) else {
                continue;
            };
            if r.op != opcode {
                continue;
            }
            return match r.check(data_len) {
                Ok(d) => Ok((r.value, d.to_vec())),
                Err(StatusError::Device(error)) => Err(Error::Device(Rejected {
                    op: opcode,
                    error,
                    stub: self.is_stub,
                })),
                Err(e) => Err(Error::Protocol(format!(
                    "{}: {e}",
                    crate::wire::command::op_name(opcode)
                ))),
            };
        }
    }

    /// Sends a command and waits for its response with esptool's timeout for it.
    pub async fn command(&mut self, cmd: &Command, data_len: usize) -> Result<(u32, Vec<u8>)> {
        let t = cmd.timeout(self.is_stub);
        self.command_timeout(cmd, data_len, t).await
    }

    pub async fn command_timeout(
        &mut self,
        cmd: &Command,
        data_len: usize,
        timeout: Duration,
    ) -> Result<(u32, Vec<u8>)> {
        self.send(cmd).await?;
        self.response(cmd.op(), data_len, timeout).await
    }

    pub async fn read_reg(&mut self, addr: u32) -> Result<u32> {
        Ok(self.command(&Command::ReadReg { addr }, 0).await?.0)
    }

    pub async fn write_regs(&mut self, writes: &[(u32, u32)]) -> Result<()> {
        let groups: Vec<RegWrite> = writes
            .iter()
            .map(|&(addr, value)| RegWrite {
                addr,
                value,
                mask: 0xFFFF_FFFF,
                delay_us: 0,
            })
            .collect();
        if self.is_stub {
            // The stub takes many writes in one command.
            self.command(&Command::WriteReg(groups), 0).await?;
        } else {
            for g in groups {
                self.command(&Command::WriteReg(vec![g]), 0).await?;
            }
        }
        Ok(())
    }

    /// What the port is, from its USB ids (None: not USB, or ids unknown).
    pub fn usb_link(&self) -> Option<UsbLink> {
        self.port.usb_ids().map(|(v, p)| UsbLink::of(v, p))
    }

    /// Resets the chip into its app (EN pulse with IO0 high); the loader is gone then.
    pub async fn hard_reset(&mut self) -> Result<()> {
        // The console's rate first: the ROM and the bootloader print from the first moment
        // (a Web Serial port reopens to change its rate, and would miss that).
        self.port.set_baud(ROM_BAUD).await?;
        reset_into_app(&mut self.port).await?;
        if let Some(UsbLink::Otg(c)) = self.usb_link() {
            self.log(format!(
                "the {}'s USB-OTG port goes away with this reset and comes back as a new port: connect again and pick it",
                c.pretty
            ));
        }
        self.is_stub = false;
        self.baud = ROM_BAUD;
        self.rom_baud_record = ROM_BAUD;
        Ok(())
    }

    /// One SYNC: true if answered. Records whether a stub answered (value 0).
    async fn sync(&mut self) -> Result<bool> {
        match self.command(&Command::Sync, 0).await {
            Ok((value, _)) => {
                self.is_stub = value == 0;
                // ROM and stub answer a SYNC 8 times: take the rest now so that they do not
                // linger in front of the next answer.
                {
                    let until = self.now() + Duration::from_millis(10);
                    while self.now() < until {
                        if self.next_frame(Duration::from_millis(2)).await?.is_none() {
                            break;
                        }
                    }
                }
                Ok(true)
            }
            Err(Error::Timeout(_) | Error::Device(_) | Error::Protocol(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Resets into download mode, syncs and identifies the chip.
    pub async fn connect(&mut self, reset: Reset, attempts: u32) -> Result<ChipInfo> {
        let can_reset = self.port.can_reset();
        if reset != Reset::None && !can_reset {
            self.log(
                "this port cannot reset the chip (no DTR/RTS): put it into download mode by hand",
            );
        }
        let usb = self.usb_link();
        let pulses = reset.for_link(usb).pulses();
        if can_reset {
            match usb {
                Some(UsbLink::SerialJtag) => {
                    self.log("the chip's own USB-Serial-JTAG port: resetting with its sequence")
                }
                Some(UsbLink::Otg(c)) => self.log(format!(
                    "the {}'s own USB-OTG port: it disappears when the chip resets and comes back as a new port",
                    c.pretty
                )),
                Some(UsbLink::Bridge(name)) => {
                    self.log(format!("a {name} USB-serial bridge: the classic reset circuit"))
                }
                _ => {}
            }
        }
        for attempt in 0..attempts.max(1) {
            if let Some(&p) = pulses.get(attempt as usize % pulses.len().max(1)) {
                if can_reset {
                    if p == (reset::Pulse::Bridge {
                        hold: reset::LONG_HOLD,
                    }) {
                        self.log(
                            "no answer yet: holding BOOT longer after the reset (500 ms), for boards whose EN rises slowly",
                        );
                    }
                    reset::pulse(&mut self.port, p).await?;
                }
            }
            self.flush_input().await?;
            for _ in 0..5 {
                if self.sync().await? {
                    self.baud = ROM_BAUD;
                    self.rom_baud_record = ROM_BAUD;
                    let info = self.detect().await?;
                    self.info = Some(info.clone());
                    return Ok(info);
                }
            }
        }
        let console = String::from_utf8_lossy(&self.take_console())
            .trim()
            .to_string();
        Err(Error::NoAnswer(NoAnswer::DownloadMode { console }))
    }

    /// The connected chip's security state (nothing enabled before connecting).
    pub fn security(&self) -> Security {
        self.info.as_ref().map(|i| i.security).unwrap_or_default()
    }

    pub(crate) fn require_supported(&self) -> Result<&'static chips::Rom> {
        let info = self
            .info
            .as_ref()
            .ok_or_else(|| Error::Protocol("not connected".into()))?;
        if let Some(rom) = info.chip.rom {
            Ok(rom)
        } else {
            let driven: Vec<&str> = chips::CHIPS
                .iter()
                .filter(|c| c.supported())
                .map(|c| c.pretty)
                .collect();
            Err(Error::Unsupported(format!(
                "{} detected: otaflash drives the {}; this chip is not supported yet (its ROM loader's registers, stub and flash set-up are not in otaflash)",
                info.chip.pretty,
                driven.join(", ")
            )))
        }
    }

    /// Uploads the flasher stub into RAM and starts it (MEM_BEGIN/DATA/END, then "OHAI").
    pub async fn run_stub(&mut self, stub: &stub::StubImage) -> Result<()> {
        self.require_supported()?;
        if self.is_stub {
            return Ok(());
        }
        // A ROM reached through USB-OTG takes smaller blocks; so does one that might be
        // (ids unknown, chip with USB-OTG), as esptool decides.
        let otg_rom = self.require_supported()?.usb_otg;
        let ram_block: usize = match self.usb_link() {
            Some(UsbLink::Otg(_)) => 0x800,
            None if otg_rom => 0x800,
            _ => 0x1800,
        };
        let total = stub.len() as u64;
        let started = self.now();
        let mut done = 0u64;
        for (addr, data) in &stub.segments {
            let blocks = data.len().div_ceil(ram_block) as u32;
            self.command(
                &Command::MemBegin {
                    size: data.len() as u32,
                    blocks,
                    block_size: ram_block as u32,
                    addr: *addr,
                },
                0,
            )
            .await?;
            for (seq, chunk) in data.chunks(ram_block).enumerate() {
                self.command(
                    &Command::MemData {
                        seq: seq as u32,
                        data: chunk.to_vec(),
                    },
                    0,
                )
                .await?;
                done += chunk.len() as u64;
                let elapsed = self.now() - started;
                self.progress(Progress::new(Phase::UploadingStub, done, total, elapsed));
            }
        }
        // The ROM may not answer MEM_END before jumping (esptool ignores that).
        self.send(&Command::MemEnd {
            entry: Some(stub.entry),
        })
        .await?;
        // Where the stub's UART lands: on some chips at the baud the ROM recorded, which after
        // a crystal-corrected ROM baud change is not the rate the link ran at. Follow it (the
        // stub says hello some milliseconds after the jump); the baud is set exactly through
        // the stub afterwards.
        let rom = self.require_supported()?;
        let lands_at = if rom.stub_uart_from_rom_record {
            self.rom_baud_record
        } else {
            self.baud
        };
        if lands_at != self.baud && self.port.has_baud() {
            self.port.set_baud(lands_at).await?;
            self.baud = lands_at;
        }
        let deadline = self.now() + timeouts::DEFAULT;
        while self.now() < deadline {
            let left = deadline - self.now();
            match self.next_frame(left).await? {
                Some(f) if f == b"OHAI" => {
                    self.stub_started();
                    return Ok(());
                }
                Some(_) => continue,
                None => break,
            }
        }
        // The hello can be lost while a port reopens at the new rate: a SYNC that the stub
        // answers (value 0) says it runs all the same.
        for _ in 0..2 {
            if self.sync().await? && self.is_stub {
                self.stub_started();
                return Ok(());
            }
        }
        Err(Error::Timeout(
            "the flasher stub did not start (no OHAI)".into(),
        ))
    }

    fn stub_started(&mut self) {
        self.is_stub = true;
        self.flash = None;
        self.log("stub flasher running");
    }

    /// Switches the link to `baud`, checks it, and falls back to the old rate if the new one
    /// does not work. Returns the baud in use afterwards.
    pub async fn change_baud(&mut self, baud: u32) -> Result<u32> {
        let rom = self.require_supported()?;
        if baud == self.baud {
            return Ok(baud);
        }
        if !self.port.has_baud() {
            // Asked for all the same (the caller decides: `OpenOptions::baud_asked`): a link
            // without a UART of its own carries any rate; a raw bridge to a real UART cannot.
            self.log(format!(
                "this link has no baud control: asking the chip for {baud} baud, which a link without a UART of its own (an emulator, a UART-less serial server) carries; a raw bridge to a real serial port cannot follow"
            ));
        }
        let old = self.baud;
        let (value, second) = match rom.crystal {
            Some(c) if !self.is_stub => {
                // This ROM derives its divider from a drifting crystal estimate; send the
                // number that makes it land on `baud` (esptool's ESP32 workaround).
                let cal = self.read_reg(c.calibration_reg).await?;
                let ck8m = self.read_reg(c.ck8m_reg).await?;
                (c.baud_value(baud, c.estimate_hz(cal, ck8m)), 0)
            }
            _ if self.is_stub => (baud, old),
            // A ROM that takes its crystal for 40 MHz lands at 26/40 of the rate on a 26 MHz
            // one; ask for more so that it lands on `baud` (esptool's ESP32-C2 workaround).
            _ if rom.baud_assumes_40mhz
                && self.info.as_ref().is_some_and(|i| i.crystal_mhz == 26) =>
            {
                (baud * 40 / 26, 0)
            }
            _ => (baud, 0),
        };
        self.command(
            &Command::ChangeBaud {
                new: value,
                old: second,
            },
            0,
        )
        .await?;
        if !self.is_stub {
            self.rom_baud_record = value;
        }
        self.port.set_baud(baud).await?;
        // A moment for what the switch garbled to arrive (esptool waits 50 ms); the probe
        // below checks the link whatever came, and retries.
        self.port.sleep(Duration::from_millis(10)).await;
        self.flush_input().await?;
        self.baud = baud;
        if self.link_ok().await? {
            self.log(format!("baud rate {baud}"));
            return Ok(baud);
        }
        // The new rate does not work (adapter limit, noise): go back.
        self.log(format!("baud rate {baud} did not work; back to {old}"));
        self.port.set_baud(old).await?;
        self.flush_input().await?;
        self.baud = old;
        if self.link_ok().await? {
            return Ok(old);
        }
        Err(Error::NoAnswer(NoAnswer::AfterBaud { baud }))
    }

    async fn link_ok(&mut self) -> Result<bool> {
        // A register read, or in secure download mode (which refuses those)
        // GET_SECURITY_INFO.
        let probe = if self.security().secure_download {
            Command::GetSecurityInfo
        } else {
            Command::ReadReg {
                addr: chips::CHIP_DETECT_MAGIC_REG,
            }
        };
        for _ in 0..3 {
            match self
                .command_timeout(&probe, 0, Duration::from_millis(300))
                .await
            {
                // A well-formed answer, even a refusal, means the link works.
                Ok(_) | Err(Error::Device(_)) => return Ok(true),
                Err(Error::Port(e)) => return Err(Error::Port(e)),
                Err(_) => self.flush_input().await?,
            }
        }
        Ok(false)
    }

    /// Reads the SPI flash JEDEC ID through the SPI controller's user command (RDID, 0x9F).
    async fn read_flash_id(&mut self) -> Result<u32> {
        let spi = self.require_supported()?.spi;
        let old_usr = self.read_reg(spi.usr()).await?;
        let old_usr2 = self.read_reg(spi.usr2()).await?;
        self.write_regs(&[
            (spi.miso_dlen(), 24 - 1),
            (spi.usr(), SpiRegs::USR_COMMAND | SpiRegs::USR_MISO),
            (spi.usr2(), 7 << 28 | 0x9F),
            (spi.w0(), 0),
            (spi.cmd(), SpiRegs::CMD_USR), // run it
        ])
        .await?;
        for _ in 0..10 {
            if self.read_reg(spi.cmd()).await? & SpiRegs::CMD_USR == 0 {
                let id = self.read_reg(spi.w0()).await? & 0xFF_FFFF;
                self.write_regs(&[(spi.usr(), old_usr), (spi.usr2(), old_usr2)])
                    .await?;
                return Ok(id);
            }
        }
        Err(Error::Timeout("the SPI flash did not answer RDID".into()))
    }

    /// Attaches the SPI flash (ROM), reads its ID and size, and tells the loader the geometry.
    pub async fn flash_info(&mut self) -> Result<FlashInfo> {
        if let Some(f) = self.flash {
            return Ok(f);
        }
        self.require_supported()?;
        let sdm = self
            .info
            .as_ref()
            .is_some_and(|i| i.security.secure_download);
        if !self.is_stub {
            self.command(
                &Command::SpiAttach {
                    config: 0,
                    rom_form: true,
                },
                0,
            )
            .await?;
        }
        let id = if sdm { 0 } else { self.read_flash_id().await? };
        let cap = (id >> 16) & 0xFF;
        let size = if sdm {
            // esptool assumes 16 MB there too; writes past the real end fail on the chip.
            16 << 20
        } else if (0x12..=0x1A).contains(&cap) {
            1u32 << cap
        } else {
            return Err(Error::Unsupported(format!(
                "flash JEDEC ID 0x{id:06x}: cannot tell the flash size (no flash, or a chip otaflash does not know)"
            )));
        };
        self.command(
            &Command::SpiSetParams {
                id: 0,
                total_size: size,
                block_size: 0x10000,
                sector_size: 0x1000,
                page_size: 0x100,
                status_mask: 0xFFFF,
            },
            0,
        )
        .await?;
        let info = FlashInfo {
            jedec_id: id,
            size,
            detected: !sdm,
        };
        self.flash = Some(info);
        Ok(info)
    }

    /// MD5 of a flash region, computed by the chip.
    pub async fn flash_md5(&mut self, offset: u32, size: u32) -> Result<[u8; 16]> {
        let cmd = Command::SpiFlashMd5 { offset, size };
        let mut out = [0u8; 16];
        if self.is_stub {
            let (_, d) = self.command(&cmd, 16).await?;
            out.copy_from_slice(&d);
        } else {
            let (_, d) = self.command(&cmd, 32).await?;
            let text = std::str::from_utf8(&d)
                .map_err(|_| Error::Protocol("MD5 reply is not hex text".into()))?;
            for (i, o) in out.iter_mut().enumerate() {
                *o = u8::from_str_radix(text.get(2 * i..2 * i + 2).unwrap_or("zz"), 16)
                    .map_err(|_| Error::Protocol(format!("MD5 reply {text:?} is not hex")))?;
            }
        }
        Ok(out)
    }
}
