//! A simulated ESP32 in download mode, faithful enough that esptool itself accepts it.
//!
//! Sans-IO: the host side hands it bytes with the time they were written
//! ([`Esp32::receive`]) and takes out bytes with the time they become readable
//! ([`Esp32::take_output`]). In between it models the link (UART byte time at the current baud,
//! USB latency each way) and the chip: the ESP32 ROM loader (4 status bytes, 4-word BEGIN,
//! 0x400 blocks, hex MD5, erase up front, a 128-byte RX FIFO, no GET_SECURITY_INFO, SPI_ATTACH
//! needed before flash access, CHANGE_BAUDRATE through its CK8M crystal estimate) and, after any
//! RAM upload started with MEM_END, the flasher stub (OHAI, 2 status bytes, 0x4000 blocks, raw
//! MD5, erase-ahead overlapped with receiving, READ_FLASH with acknowledgements, 0xD0-0xD3).
//! It does not execute code: an upload is "the stub" whatever its bytes are.

use super::flash::{Flash, FlashError, FlashTiming, BLOCK, SECTOR};
use super::flash_crypt;
use super::stub_rx::{Received, StubRx};
use crate::chips::{self, esp32, Chip, Detect, SpiRegs};
use crate::formats::bootable::{judge, Target};
use crate::formats::otadata::{predict_boot, Otadata};
use crate::formats::partition::{PartitionTable, DEFAULT_TABLE_OFFSET};
use crate::formats::{hex, image::Image, md5};
use crate::wire::command::{op, rom_err, stub_err, Command, DecodeError, Response};
use crate::wire::slip;
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZFlush, MZStatus};
use std::collections::VecDeque;
use std::time::Duration;

mod boot;
mod flash_ops;
pub mod improv;
mod protocol;
mod regs;
mod uart;

pub use boot::marked_to_crash;

pub const ROM_BAUD: u32 = 115_200;
const RX_FIFO: u64 = 128;
/// The chip revision the simulated ESP32's eFuses describe, as the bootloader compares it.
pub const REVISION_FULL: u16 = esp32::ROM.sim.revision_full;

/// Link and chip timing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Bytes take 10 bit times at the current baud each way.
    pub uart: bool,
    /// USB-to-UART bridge latency, host to device and device to host.
    pub usb_h2d: Duration,
    pub usb_d2h: Duration,
    pub flash: FlashTiming,
    /// CPU time per command, and per KiB inflated.
    pub cpu_per_command: Duration,
    pub cpu_per_kib: Duration,
}

impl Timing {
    /// A CP210x/CH34x-class bridge and a W25Q-class flash.
    pub const REALISTIC: Timing = Timing {
        uart: true,
        usb_h2d: Duration::from_micros(500),
        usb_d2h: Duration::from_millis(2),
        flash: FlashTiming::W25Q,
        cpu_per_command: Duration::from_micros(50),
        cpu_per_kib: Duration::from_micros(40),
    };
    /// Everything instantaneous (protocol tests that do not care about time).
    pub const NONE: Timing = Timing {
        uart: false,
        usb_h2d: Duration::ZERO,
        usb_d2h: Duration::ZERO,
        flash: FlashTiming::INSTANT,
        cpu_per_command: Duration::ZERO,
        cpu_per_kib: Duration::ZERO,
    };
}

/// Faults to inject, by byte or operation count (reproducible).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Indices (0-based, since power-on) of host-to-device bytes to corrupt / drop.
    pub corrupt_h2d: Vec<u64>,
    pub drop_h2d: Vec<u64>,
    /// Indices of device-to-host bytes to corrupt / drop.
    pub corrupt_d2h: Vec<u64>,
    pub drop_d2h: Vec<u64>,
    /// The connection drops once this many host-to-device bytes have arrived.
    pub disconnect_after_h2d: Option<u64>,
    /// The chip hangs once this many host-to-device bytes have arrived (as after a brown-out
    /// that leaves the USB bridge powered): the link stays up, nothing answers until a reset
    /// starts the chip again. Fires once.
    pub hang_after_h2d: Option<u64>,
    /// Power is cut after this many flash operations (sector/block erase, page program).
    pub power_cut_after_flash_ops: Option<u64>,
    /// Flash addresses whose bits stay 1 when programmed (a worn or damaged flash): writes
    /// complete, and only a read-back or MD5 shows the difference.
    pub stuck_bytes: Vec<u32>,
    /// The USB-serial adapter's highest baud: above it the link garbles both ways.
    pub adapter_max_baud: Option<u32>,
    /// The stub upload does not start (no OHAI): the ROM keeps answering.
    pub stub_fails: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub mac: [u8; 6],
    /// JEDEC ID as the SPI W0 register reads it (manufacturer | type << 8 | capacity << 16).
    pub flash_id: u32,
    /// The crystal frequency the ROM believes in (from its CK8M calibration). esptool corrects
    /// the ROM's CHANGE_BAUDRATE value for it; a host that does not lands off-baud.
    pub rom_xtal_estimate_hz: f64,
    pub timing: Timing,
    pub faults: Faults,
    /// The chip it is. A chip without ROM facts in `chips` answers detection only (its magic
    /// value or GET_SECURITY_INFO), for the loader's "not supported yet".
    pub chip: &'static Chip,
    /// What the port is: its USB vendor and product ids (None: not USB). Espressif's
    /// USB-Serial-JTAG ids mean DTR/RTS go to that peripheral, not to a reset circuit.
    pub usb: Option<(u16, u16)>,
    /// Whether the host tells the port's USB ids (not through a hypervisor or a network).
    pub usb_ids_told: bool,
    /// What its eFuses enable: flash encryption, secure boot, secure download mode, JTAG off.
    pub security: chips::security::SimSecurity,
    /// The flash-encryption key in its eFuses (XTS-AES-128, 256 bits; used when flash
    /// encryption is on, on the chips after the ESP32, in native builds).
    pub flash_key: [u8; 32],
    /// How long after the host releases EN the chip leaves reset (zero: at once). Espressif's
    /// hardware design guidelines put an RC delay on CHIP_PU (EN), and the strapping pins,
    /// IO0 among them, are latched as the chip leaves reset (ESP32 datasheet, "Strapping
    /// Pins"): a boot pin released sooner is read high and the chip boots from flash. That is
    /// the board esptool's `reset.py` and espflash's `connection/reset.rs` retry with the
    /// longer hold for.
    pub en_rise: Duration,
}

/// The simulated chip's flash-encryption key unless one is given (`otaflash sim --flash-key`).
pub const SIM_FLASH_KEY: [u8; 32] = *b"otaflash-simulated-flash-key-256";

impl Config {
    pub fn new(flash_size: u32, timing: Timing) -> Self {
        let capacity = flash_size.max(1).trailing_zeros();
        Config {
            mac: [0x24, 0x0A, 0xC4, 0x0E, 0x51, 0x4D],
            flash_id: 0xEF | 0x40 << 8 | capacity << 16,
            rom_xtal_estimate_hz: 41.5e6,
            timing,
            faults: Faults::default(),
            chip: chips::ESP32,
            usb: None,
            usb_ids_told: true,
            security: Default::default(),
            flash_key: SIM_FLASH_KEY,
            en_rise: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Held in reset, or power lost.
    Off,
    /// Booted from flash (running an app, or stuck in the bootloader).
    App,
    Rom,
    Stub,
}

struct WriteOp {
    compressed: bool,
    /// Where the next byte is programmed.
    at: u32,
    /// ROM: bytes erased up front. Stub: exact bytes expected.
    size: u32,
    blocks: u32,
    block_size: u32,
    next_seq: u32,
    /// Bytes programmed so far.
    written: u32,
    /// Stub: the region still to erase, erased unit by unit ahead of the writes.
    erase_next: u32,
    erase_end: u32,
    /// Stub: inflated bytes not yet written (it writes in 32 KiB units).
    pending: Vec<u8>,
    /// The zlib stream (or the plain data) is complete.
    input_done: bool,
    inflate: Option<Box<InflateState>>,
    /// Written through the flash-encryption block (the encrypted flag of FLASH_BEGIN).
    encrypt: bool,
    /// Encrypted writes: plain bytes not yet a whole 16-byte piece (they go out with the next).
    crypt_tail: Vec<u8>,
}

/// The stub's inflate output buffer (TINFL_LZ_DICT_SIZE): it writes in units of this.
const STUB_WRITE_CHUNK: usize = 0x8000;

struct ReadOp {
    next: u32,
    end: u32,
    packet: u32,
    window: u32,
    sent: u32,
    acked: u32,
    md5: md5::Md5,
    total: u32,
}

use ::md5::Digest as _;

/// The simulated chip plus its link.
pub struct Esp32 {
    pub config: Config,
    pub flash: Flash,
    mode: Mode,
    baud: u32,
    /// The ROM's own record of its baud: 115200, or the last CHANGE_BAUDRATE value as sent
    /// (esptool's crystal-corrected number). The stub reprograms its UART for this value.
    rom_baud_value: u32,
    host_baud: Option<u32>,
    /// The ROM loader's SLIP receiver (it reads whole frames from its UART buffer).
    decoder: slip::Decoder,
    /// The flasher stub's receive path (two frame buffers, armed by its main loop).
    stub_rx: StubRx,
    /// Output on its way to the host: (readable at, bytes, the chip's baud when sent).
    out: VecDeque<(Duration, Vec<u8>, u32)>,
    h2d_free: Duration,
    d2h_free: Duration,
    cpu_free: Duration,
    chip_free: Duration,
    frame_first_byte: Option<Duration>,
    h2d_count: u64,
    d2h_count: u64,
    disconnected: bool,
    spi_attached: bool,
    flash_size_param: Option<u32>,
    write: Option<WriteOp>,
    read: Option<ReadOp>,
    mem_loaded: bool,
    /// Stub: an error from the work done after the last answer; it becomes the answer to the
    /// next command, which is then skipped (esp-flasher-stub's `accumulated_result`).
    pending_error: Option<u8>,
    spi_regs: [u32; 64],
    signals: (bool, bool),
    /// EN was released and rises at this time (see [`Config::en_rise`]).
    en_rises_at: Option<Duration>,
    /// USB-Serial-JTAG: a download-boot request seen (DTR without RTS) and not yet taken.
    download_request: bool,
    /// USB-Serial-JTAG: whether the reset in progress ends in download mode.
    reset_to_download: bool,
    /// What the last boot from flash decided (label, offset), for tests and the console.
    pub last_boot: Option<(String, u32)>,
    /// The app just started is one marked to crash ([`marked_to_crash`]): it panics when
    /// `crash_at` comes, and the chip restarts.
    crash_pending: bool,
    crash_at: Option<Duration>,
    /// The simulated app's console: the line being received.
    app_line: Vec<u8>,
    /// The running app as its Improv Wi-Fi service tells it, and the service.
    app_info: Option<improv::AppInfo>,
    improv: improv::ImprovService,
    /// Every frame handled: (op name, ok) — a cheap trace for tests.
    pub trace: Vec<(&'static str, bool)>,
}

impl Esp32 {
    /// A chip in download mode, as if just reset with IO0 held low.
    pub fn new(flash: Vec<u8>, config: Config) -> Self {
        let mut flash = Flash::new(flash, config.timing.flash);
        flash.stuck = config.faults.stuck_bytes.clone();
        if let Some(n) = config.faults.power_cut_after_flash_ops {
            flash.cut_power_after(n);
        }
        let mut d = Esp32 {
            config,
            flash,
            mode: Mode::Off,
            baud: ROM_BAUD,
            rom_baud_value: ROM_BAUD,
            host_baud: None,
            decoder: slip::Decoder::new(0x4000 + 64),
            stub_rx: StubRx::new(Duration::ZERO),
            out: VecDeque::new(),
            h2d_free: Duration::ZERO,
            d2h_free: Duration::ZERO,
            cpu_free: Duration::ZERO,
            chip_free: Duration::ZERO,
            frame_first_byte: None,
            h2d_count: 0,
            d2h_count: 0,
            disconnected: false,
            spi_attached: false,
            flash_size_param: None,
            write: None,
            read: None,
            mem_loaded: false,
            pending_error: None,
            spi_regs: [0; 64],
            signals: (false, false),
            en_rises_at: None,
            download_request: false,
            reset_to_download: false,
            last_boot: None,
            crash_pending: false,
            crash_at: None,
            app_line: vec![],
            app_info: None,
            improv: Default::default(),
            trace: vec![],
        };
        d.reset(Duration::ZERO, true);
        d
    }

    /// The ROM facts of the simulated chip (a detection-only chip, one without ROM facts,
    /// borrows the ESP32's for what it prints).
    fn rom(&self) -> &'static chips::Rom {
        self.config.chip.rom.unwrap_or(&esp32::ROM)
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn baud(&self) -> u32 {
        self.baud
    }

    pub fn disconnected(&self) -> bool {
        self.disconnected
    }

    /// A new connection after a dropped one (the disconnect fault fires once).
    pub fn clear_disconnect(&mut self) {
        if self.disconnected {
            self.disconnected = false;
            self.config.faults.disconnect_after_h2d = None;
        }
    }

    /// The host's port baud, when the link knows it (in-process); None over TCP.
    pub fn set_host_baud(&mut self, baud: Option<u32>) {
        self.host_baud = baud;
    }
}

/// How long an app marked to crash runs before it panics.
const APP_CRASHES_AFTER: Duration = Duration::from_millis(300);
