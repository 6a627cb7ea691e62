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
            download_request: false,
            reset_to_download: false,
            last_boot: None,
            crash_pending: false,
            crash_at: None,
            app_line: vec![],
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

    fn byte_time(&self) -> Duration {
        if self.config.timing.uart {
            Duration::from_secs_f64(10.0 / self.baud as f64)
        } else {
            Duration::ZERO
        }
    }

    /// Host and chip disagree on the baud by more than a UART tolerates.
    fn baud_mismatch(&self) -> bool {
        self.mismatch_at(self.baud)
    }

    /// Whether bytes sent at `baud` are garbled for the host as its port is set now (a
    /// difference over 3 %, or a rate above what the adapter can do).
    fn mismatch_at(&self, baud: u32) -> bool {
        let over_adapter = self
            .config
            .faults
            .adapter_max_baud
            .is_some_and(|m| baud > m);
        let off = self
            .host_baud
            .is_some_and(|h| (h as f64 - baud as f64).abs() / baud as f64 > 0.03);
        over_adapter || off
    }

    /// Reset the chip (EN released) at time `t`, into the ROM loader or booting from flash.
    /// Whatever was still on its way out is lost.
    pub fn reset(&mut self, t: Duration, download: bool) {
        if !self.flash.powered() {
            self.flash.power_on();
        }
        self.out.clear();
        self.d2h_free = t;
        self.restart(t, Some(self.rom().sim.power_on), download);
    }

    /// Software reset: the strapping pins stay latched, so a chip in download mode comes back
    /// to the ROM loader. Bytes already sent keep going.
    fn software_reset(&mut self, t: Duration) {
        self.restart(t, Some(self.rom().sim.software_reset), true);
    }

    /// Back to the ROM's start (`cause` printed in its banner), or, without a cause, a jump
    /// from the loader straight into the app (no banner).
    fn restart(&mut self, t: Duration, cause: Option<&str>, download: bool) {
        self.baud = ROM_BAUD;
        self.rom_baud_value = ROM_BAUD;
        self.app_line.clear();
        self.decoder.reset();
        self.stub_rx = StubRx::new(t);
        self.write = None;
        self.read = None;
        self.mem_loaded = false;
        self.pending_error = None;
        self.spi_attached = false;
        self.flash_size_param = None;
        self.frame_first_byte = None;
        self.cpu_free = t;
        self.chip_free = t;
        self.h2d_free = t;
        let facts = &self.rom().sim;
        let banner = |boot: &str| {
            cause.map_or(String::new(), |c| {
                format!("{}rst:{c},boot:{boot}\r\n", facts.banner)
            })
        };
        self.crash_pending = false;
        self.crash_at = None;
        let text = if download {
            self.mode = Mode::Rom;
            banner(facts.boot_download) + "waiting for download\r\n"
        } else {
            self.mode = Mode::App;
            banner(facts.boot_flash) + &self.boot_from_flash()
        };
        self.emit_raw(t, text.into_bytes());
        if std::mem::take(&mut self.crash_pending) {
            self.crash_at = Some(t + APP_CRASHES_AFTER);
        }
    }

    /// An app marked to crash panics when its time comes and the chip restarts (a software
    /// reset: the ROM, the bootloader, the same app again) — a reboot loop, one turn at a time.
    fn run_crashes(&mut self, now: Duration) {
        while let Some(at) = self.crash_at.filter(|at| *at <= now) {
            self.crash_at = None;
            if self.mode != Mode::App {
                return;
            }
            self.emit_raw(at, panic_lines(self.config.chip).into_bytes());
            let cause = self.rom().sim.software_reset;
            self.restart(at + Duration::from_millis(20), Some(cause), false);
        }
    }

    /// The ROM leaves the loader and runs the app in flash (no reset: no ROM banner).
    fn run_app(&mut self, t: Duration) {
        self.restart(t, None, false);
    }

    /// The second-stage bootloader's decision, applied to the flash (it writes otadata itself
    /// in some cases), and what it prints. The simulator does not run the app.
    fn boot_from_flash(&mut self) -> String {
        self.last_boot = None;
        // Under flash encryption it reads through the decryption: the bootloader, the table,
        // the apps and partitions flagged encrypted (otadata and NVS stay as stored).
        let decrypted = self.flash_crypt().map(|k| {
            flash_crypt::decrypted_view(
                &k,
                self.flash.contents(),
                self.config.chip.bootloader_offset,
            )
        });
        let flash = decrypted.as_deref().unwrap_or(self.flash.contents());
        // The ROM loads the second-stage bootloader at the chip's bootloader offset.
        let boot_at = self.config.chip.bootloader_offset as usize;
        let bootloader = match Image::parse(&flash[boot_at..]) {
            Err(_) => return format!("flash read err, {boot_at:x}\r\nets_main.c 371\r\n"),
            Ok(i) if !i.checksum_ok() => {
                return format!(
                    "csum err:0x{:x}!=0x{:x}\r\nets_main.c 371\r\n",
                    i.checksum_computed, i.checksum_stored
                )
            }
            Ok(i) => i,
        };
        let Ok(table) = PartitionTable::from_flash(flash, DEFAULT_TABLE_OFFSET) else {
            return "E (50) flash_parts: partition table invalid\r\nE (55) boot: Failed to verify partition table\r\n".into();
        };
        // It checks the table against the flash size in its own header, not the chip's.
        let chip_size =
            crate::chips::flash_size_bytes(bootloader.header.flash_size_code).unwrap_or(0);
        if let Some((n, p)) = table
            .entries
            .iter()
            .enumerate()
            .find(|(_, p)| p.end() > chip_size as u64)
        {
            return format!(
                "E (50) flash_parts: partition {n} invalid - offset 0x{:x} size 0x{:x} exceeds flash chip size 0x{chip_size:x}\r\nE (55) boot: Failed to verify partition table\r\nE (60) boot: load partition table error!\r\n",
                p.offset, p.size
            );
        }
        let otadata = table.otadata().and_then(|p| {
            let s = p.offset as usize;
            flash
                .get(s..s + 0x2000)
                .and_then(|b| Otadata::parse(b).ok())
        });
        // The bootloader's own checks, for this chip and revision.
        // Its bootloader checks signatures under secure boot (v2 in the simulator).
        // (v1's ECDSA signature is not modelled: its images are not checked.)
        let secure_boot = match (
            self.config.security.secure_boot,
            self.config.security.secure_boot_v1,
        ) {
            (true, _) => crate::chips::security::SecureBoot::V2,
            (_, true) => crate::chips::security::SecureBoot::V1,
            _ => crate::chips::security::SecureBoot::Off,
        };
        let target = Target::chip(self.config.chip, Some(self.rom().sim.revision_full))
            .with_secure_boot(secure_boot);
        let bootable = |p: &crate::formats::partition::Partition| {
            let s = (p.offset as usize).min(flash.len());
            let e = (s + p.size as usize).min(flash.len());
            judge(&flash[s..e], target, p.offset, Some(p.size)).loads()
        };
        let boot = predict_boot(
            &table,
            otadata.as_ref().unwrap_or(&Otadata::blank()),
            false,
            &bootable,
        );
        let mut log =
            String::from("I (29) boot: ESP-IDF 2nd stage bootloader (otaflash simulator)\r\n");
        // What the real bootloader logs for each slot it skips (esp_image_format.c and
        // bootloader_utility.c wording).
        for (i, problem) in &boot.skipped {
            let p = &table.entries[*i];
            log.push_str(&format!(
                "E (100) esp_image: {}\r\n",
                bootloader_words(problem, p.offset)
            ));
            log.push_str(&match p.ota_index() {
                Some(n) => format!("E (110) boot: OTA app partition slot {n} is not bootable\r\n"),
                None if p.is_factory() => {
                    "E (110) boot: Factory app partition is not bootable\r\n".into()
                }
                None => "E (110) boot: Test app partition is not bootable\r\n".into(),
            });
        }
        let writes = boot.writes.clone();
        let booted = boot
            .booted_partition(&table)
            .map(|p| (p.name(), p.offset, p.size));
        if let Some(part) = table.otadata() {
            for (sector, entry) in writes {
                let at = part.offset + sector as u32 * SECTOR;
                if self.flash.erase(at, SECTOR).is_ok() {
                    let _ = self.flash.program(at, &entry.to_bytes());
                }
            }
        }
        match booted {
            Some((label, offset, size)) => {
                log.push_str(&format!(
                    "I (120) boot: Loaded app from partition at offset 0x{offset:x}\r\n"
                ));
                let s = offset as usize;
                let e = (s + size as usize).min(self.flash.contents().len());
                let app = Image::parse(&self.flash.contents()[s..e])
                    .ok()
                    .and_then(|i| i.app);
                log.push_str(&app_start_lines(app.as_ref(), self.rom().sim.revision_full));
                if app.as_ref().is_some_and(marked_to_crash) {
                    // It panics soon after starting, and the bootloader starts it again.
                    self.crash_pending = true;
                } else {
                    let what = app.map_or("an app".to_string(), |a| {
                        format!("\"{}\" {}", a.project_name, a.version)
                    });
                    log.push_str(&format!(
                        "[otaflash sim] {label} holds {what}; the simulator does not execute it\r\n"
                    ));
                }
                self.last_boot = Some((label, offset));
            }
            None => {
                log.push_str("E (120) boot: No bootable app partitions in the partition table\r\n")
            }
        }
        log
    }

    /// DTR/RTS as the host sets them (true = asserted), through the classic two-transistor
    /// auto-reset circuit: EN is low while RTS && !DTR, IO0 is low while DTR && !RTS. The chip
    /// leaves reset when EN rises and samples IO0 then.
    ///
    /// On a USB-Serial-JTAG port the peripheral reads the lines itself: RTS without DTR holds
    /// the chip in reset, DTR without RTS asks for download mode, which a reset *begun after*
    /// the request honours (esptool's `USBJTAGSerialReset` order). The classic sequence, which
    /// asks only as the chip leaves reset, boots it from flash.
    pub fn set_signals(&mut self, t: Duration, dtr: bool, rts: bool) {
        let en_low = |(d, r): (bool, bool)| r && !d;
        let before = self.signals;
        self.signals = (dtr, rts);
        if self.config.usb == Some((chips::ESPRESSIF_VID, chips::USB_SERIAL_JTAG_PID)) {
            if en_low(self.signals) && !en_low(before) {
                self.mode = Mode::Off;
                self.out.clear();
                self.reset_to_download = std::mem::take(&mut self.download_request);
            } else if en_low(before) && !en_low(self.signals) {
                let download = std::mem::take(&mut self.reset_to_download);
                self.reset(t, download);
            }
            if dtr && !rts {
                self.download_request = true;
            }
            return;
        }
        if en_low(self.signals) && !en_low(before) {
            self.mode = Mode::Off;
            self.out.clear();
        } else if en_low(before) && !en_low(self.signals) {
            let io0_low = dtr && !rts;
            self.reset(t, io0_low);
        }
    }

    fn emit_raw(&mut self, at: Duration, bytes: Vec<u8>) {
        let start = at.max(self.d2h_free);
        let end = start + self.byte_time() * bytes.len() as u32;
        self.d2h_free = end;
        let mut bytes = bytes;
        self.apply_d2h_faults(&mut bytes);
        self.out
            .push_back((end + self.config.timing.usb_d2h, bytes, self.baud));
    }

    fn apply_d2h_faults(&mut self, bytes: &mut Vec<u8>) {
        let first = self.d2h_count;
        self.d2h_count += bytes.len() as u64;
        let f = &self.config.faults;
        if f.corrupt_d2h.is_empty() && f.drop_d2h.is_empty() {
            return;
        }
        let mut kept = Vec::with_capacity(bytes.len());
        for (i, &b) in bytes.iter().enumerate() {
            let n = first + i as u64;
            if f.drop_d2h.contains(&n) {
                continue;
            }
            kept.push(if f.corrupt_d2h.contains(&n) {
                b ^ 0x24
            } else {
                b
            });
        }
        *bytes = kept;
    }

    fn emit_frame(&mut self, at: Duration, payload: &[u8]) {
        self.emit_raw(at, slip::encode(payload));
    }

    fn status_len(&self) -> usize {
        if self.mode == Mode::Stub {
            2
        } else {
            4
        }
    }

    /// A response: ok, or an error code (ROM: status 1 + code; stub: code + 0).
    fn respond(&mut self, at: Duration, opcode: u8, value: u32, data: &[u8], err: Option<u8>) {
        let status: Vec<u8> = match (err, self.mode == Mode::Stub) {
            (None, stub) => vec![0; if stub { 2 } else { 4 }],
            (Some(code), false) => vec![1, code, 0, 0],
            (Some(code), true) => vec![code, 0],
        };
        debug_assert_eq!(status.len(), self.status_len());
        self.trace
            .push((crate::wire::command::op_name(opcode), err.is_none()));
        self.emit_frame(at, &Response::encode(opcode, value, data, &status));
    }

    /// Bytes the host wrote at `t`. They reach the chip one UART byte time apart, after the
    /// link's latency, and right after whatever is still on its way (back to back).
    pub fn receive(&mut self, t: Duration, bytes: &[u8]) {
        if self.disconnected {
            return;
        }
        let bt = self.byte_time();
        let start = (t + self.config.timing.usb_h2d).max(self.h2d_free);
        if start > self.h2d_free {
            // The line went idle since the last byte: the stub's receive interrupt has
            // delivered that run whole, and its main loop can take what completed in it.
            self.settle_stub_rx(self.h2d_free);
        }
        let mut arrival = start;
        let mismatch = self.baud_mismatch();
        let mut events = vec![];
        for &b in bytes {
            let n = self.h2d_count;
            self.h2d_count += 1;
            arrival += bt;
            if self
                .config
                .faults
                .disconnect_after_h2d
                .is_some_and(|d| n >= d)
            {
                self.disconnected = true;
                self.mode = Mode::Off;
                break;
            }
            if self.config.faults.drop_h2d.contains(&n) {
                continue;
            }
            let mut b = b;
            if self.config.faults.corrupt_h2d.contains(&n) {
                b ^= 0x24;
            }
            if mismatch {
                b = b.rotate_left(3) ^ 0x5A;
            }
            match self.mode {
                Mode::App => self.app_console(arrival, b),
                Mode::Off => {}
                Mode::Stub => self.stub_rx.push(arrival, b),
                Mode::Rom => {
                    self.frame_first_byte.get_or_insert(arrival);
                    self.decoder.push(&[b], &mut events);
                    for e in events.drain(..) {
                        let first = self.frame_first_byte.take().unwrap_or(arrival);
                        if let slip::Event::Frame(f) = e {
                            self.on_rom_frame(first, arrival, f);
                        }
                    }
                }
            }
        }
        self.h2d_free = arrival;
        let _ = self.decoder.take_noise();
    }

    /// The stub: once the run of back-to-back bytes that ended at `end` is over, its bytes go
    /// through the stub's receiver, and its main loop takes what completed as soon as its CPU
    /// is free (see [`StubRx`]).
    fn settle_stub_rx(&mut self, end: Duration) {
        if self.stub_rx.run_end().is_none_or(|e| e > end) {
            return;
        }
        let got = self.stub_rx.end_run();
        if self.mode != Mode::Stub {
            return;
        }
        let Some(got) = got else {
            return;
        };
        let take = end.max(self.cpu_free);
        self.stub_rx.armed_again(take);
        match got {
            Received::Frame(frame) => self.on_stub_frame(take, frame),
            Received::Error => self.trace.push(("RX error (dropped)", false)),
        }
    }

    /// The simulated app's console: it does not run the app's code, but answers each line the
    /// host sends so that a serial console can be tried end to end.
    fn app_console(&mut self, at: Duration, b: u8) {
        if self.last_boot.is_none() {
            return;
        }
        if b == b'\n' || b == b'\r' {
            if !self.app_line.is_empty() {
                let line =
                    String::from_utf8_lossy(&std::mem::take(&mut self.app_line)).into_owned();
                self.emit_raw(
                    at,
                    format!("[otaflash sim] the app got: {line}\r\n").into_bytes(),
                );
            }
        } else if self.app_line.len() < 256 {
            self.app_line.push(b);
        }
    }

    /// Bytes readable by the host at time `now` (the chip's work up to then is done first).
    pub fn take_output(&mut self, now: Duration) -> Vec<u8> {
        self.settle_stub_rx(now);
        self.run_crashes(now);
        let mut v = vec![];
        while self.out.front().is_some_and(|(at, _, _)| *at <= now) {
            let (_, mut bytes, baud) = self.out.pop_front().unwrap();
            // Decoded at the host's rate of now: a mismatch turns it to noise.
            if self.mismatch_at(baud) {
                garble(&mut bytes);
            }
            v.extend(bytes);
        }
        v
    }

    /// When something next happens that the host may see: output becoming readable, or the
    /// end of the run of bytes the stub has yet to take in ([`Esp32::take_output`] at that
    /// time does the work; it may find nothing to read yet).
    pub fn next_output_at(&self) -> Option<Duration> {
        [
            self.out.front().map(|(at, _, _)| *at),
            self.stub_rx.run_end(),
            self.crash_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The ROM loader reads each frame out of its UART buffer as it arrives.
    fn on_rom_frame(&mut self, first_byte: Duration, arrival: Duration, frame: Vec<u8>) {
        // The ROM polls a 128-byte FIFO; what arrives while it is busy overflows.
        if self.cpu_free > first_byte {
            let busy_bytes = (self.cpu_free - first_byte).as_secs_f64()
                / self.byte_time().as_secs_f64().max(1e-12);
            if busy_bytes > RX_FIFO as f64 && self.config.timing.uart {
                self.trace.push(("RX overflow", false));
                return;
            }
        }
        let start = arrival.max(self.cpu_free);
        self.handle_frame(start, frame);
    }

    /// The stub's main loop took `frame` at `take`.
    fn on_stub_frame(&mut self, take: Duration, frame: Vec<u8>) {
        if self.read.is_some() && frame.len() == 4 {
            self.on_read_ack(
                take,
                u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]),
            );
            return;
        }
        self.handle_frame(take, frame);
    }

    /// One command frame, handled from `start`.
    fn handle_frame(&mut self, start: Duration, frame: Vec<u8>) {
        let t = start + self.config.timing.cpu_per_command;
        if self.mode == Mode::Stub {
            if let Some(code) = self.pending_error.take() {
                if frame.len() >= 2 {
                    self.respond(t, frame[1], 0, &[], Some(code));
                }
                self.cpu_free = t;
                return;
            }
        }
        let done = match Command::decode(&frame) {
            Ok((cmd, chk)) => self.on_command(t, cmd, chk),
            Err(DecodeError::NotARequest) => t,
            Err(DecodeError::BadLength(o)) => {
                let code = if self.mode == Mode::Stub {
                    stub_err::BAD_DATA_LEN
                } else {
                    rom_err::INVALID_MESSAGE
                };
                self.respond(t, o, 0, &[], Some(code));
                t
            }
            Err(DecodeError::Unknown(o)) => {
                let code = if self.mode == Mode::Stub {
                    stub_err::INVALID_COMMAND
                } else {
                    rom_err::INVALID_MESSAGE
                };
                self.respond(t, o, 0, &[], Some(code));
                t
            }
        };
        self.cpu_free = done;
        if !self.flash.powered() {
            // Power cut: the chip is dead; nothing it had queued after this goes out.
            self.mode = Mode::Off;
            self.out.retain(|(at, _, _)| *at <= start);
        }
    }

    fn flash_err(&self, e: FlashError) -> u8 {
        match (e, self.mode == Mode::Stub) {
            (FlashError::OutOfRange, false) => rom_err::INVALID_PARAM,
            (FlashError::OutOfRange, true) => stub_err::BAD_DATA_LEN,
            (_, false) => rom_err::FLASH_WRITE,
            (_, true) => 0xC4,
        }
    }

    /// Handles one command at time `t`; returns when the CPU is free again.
    fn on_command(&mut self, t: Duration, cmd: Command, chk: u32) -> Duration {
        let stub = self.mode == Mode::Stub;
        let opc = cmd.op();
        let bad_param = if stub {
            stub_err::BAD_DATA_LEN
        } else {
            rom_err::INVALID_PARAM
        };
        if !stub && self.config.security.secure_download && !secure_download_allows(&cmd) {
            // Secure download mode: the ROM takes only the flash-writing commands and answers
            // everything else as an invalid message (esptool: UnsupportedCommandError).
            self.respond(t, opc, 0, &[], Some(rom_err::INVALID_MESSAGE));
            return t;
        }
        match cmd {
            Command::Sync => {
                // Eight answers: value 0x20120707 from the ROM, 0 from the stub.
                let value = if stub { 0 } else { 0x2012_0707 };
                for _ in 0..8 {
                    self.respond(t, opc, value, &[], None);
                }
                t
            }
            Command::ReadReg { addr } => {
                let v = self.read_reg(addr);
                self.respond(t, opc, v, &[], None);
                t
            }
            Command::WriteReg(ws) => {
                for w in ws {
                    self.write_reg(w.addr, w.value, w.mask);
                }
                self.respond(t, opc, 0, &[], None);
                t
            }
            Command::GetSecurityInfo => {
                match self.config.chip.detect {
                    // The ESP32 ROM has no GET_SECURITY_INFO; its stub does not either.
                    Detect::Magic => {
                        let code = if stub {
                            stub_err::NOT_IMPLEMENTED
                        } else {
                            rom_err::INVALID_MESSAGE
                        };
                        self.respond(t, opc, 0, &[], Some(code));
                    }
                    // flags, flash_crypt_cnt, 7 key purposes, chip id, API version.
                    Detect::SecurityInfo => {
                        let id = self.config.chip.image_chip_id as u32;
                        let d = self.config.security.security_info(Some(id)).encode();
                        self.respond(t, opc, 0, &d, None);
                    }
                    Detect::MagicAfterShortSecurityInfo => {
                        let d = self.config.security.security_info(None).encode();
                        self.respond(t, opc, 0, &d, None)
                    }
                }
                t
            }
            Command::SpiAttach { rom_form, .. } => {
                if !stub && !rom_form {
                    self.respond(t, opc, 0, &[], Some(rom_err::INVALID_MESSAGE));
                } else {
                    self.spi_attached = true;
                    self.respond(t, opc, 0, &[], None);
                }
                t
            }
            Command::SpiSetParams { total_size, .. } => {
                self.flash_size_param = Some(total_size);
                self.respond(t, opc, 0, &[], None);
                t
            }
            Command::ChangeBaud { new, old } => {
                let ok = (300..=5_000_000).contains(&new) && (stub || old == 0);
                self.respond(t, opc, 0, &[], (!ok).then_some(bad_param));
                if ok {
                    // The reply goes out at the old rate; then the UART switches.
                    // A ROM that derives its divider from its crystal estimate lands off `new`
                    // by as much as the estimate is off.
                    let rom = self.rom();
                    if !stub {
                        self.rom_baud_value = new;
                    }
                    self.baud = match rom.crystal {
                        Some(_) if !stub => (new as f64 * rom.sim.xtal_hz as f64
                            / self.config.rom_xtal_estimate_hz)
                            .round() as u32,
                        _ if !stub && rom.baud_assumes_40mhz => {
                            (new as u64 * rom.sim.xtal_hz as u64 / 40_000_000) as u32
                        }
                        _ => new,
                    };
                    self.decoder.reset();
                }
                t
            }
            Command::MemBegin { .. } => {
                self.mem_loaded = false;
                self.respond(t, opc, 0, &[], None);
                t
            }
            Command::MemData { data, .. } => {
                // The ROM's USB-OTG CDC cannot take blocks over 2 KiB (esptool
                // `USB_OTG_BLOCK_SIZE`): the transfer fails.
                let otg = matches!(
                    self.config.usb.map(|(v, p)| chips::UsbLink::of(v, p)),
                    Some(chips::UsbLink::Otg(_))
                );
                let ok = chk as u8 == crate::formats::esp_checksum(&data)
                    && !(otg && !stub && data.len() > 0x800);
                let code = if stub {
                    stub_err::BAD_DATA_CHECKSUM
                } else {
                    rom_err::CHECKSUM
                };
                self.mem_loaded |= ok;
                self.respond(t, opc, 0, &[], (!ok).then_some(code));
                t
            }
            Command::MemEnd { entry } => {
                self.respond(t, opc, 0, &[], None);
                if entry.is_some() && self.mem_loaded && !stub && !self.config.faults.stub_fails {
                    // Jump to the uploaded code: the stub starts and says hello. On the
                    // clock-boost chips it reprograms the UART for the ROM's recorded baud,
                    // exactly: after a ROM baud change that value was crystal-corrected (the
                    // ESP32), so the link ends up off by the ROM's crystal error; the others
                    // keep the ROM's divider (`Rom::stub_uart_from_rom_record`).
                    self.mode = Mode::Stub;
                    self.spi_attached = true;
                    if self.rom().stub_uart_from_rom_record {
                        self.baud = self.rom_baud_value;
                    }
                    // Over a UART its transport set-up first waits 10 ms for the ROM's last
                    // answer to go out (esp-flasher-stub src/transport.c).
                    let hello = t + Duration::from_millis(10);
                    // Its transport set-up arms the first receive buffer, then it says hello
                    // (what came before went to the ROM's receiver, not to the stub).
                    self.stub_rx = StubRx::new(hello);
                    self.emit_frame(hello, b"OHAI");
                    return hello;
                }
                t
            }
            Command::FlashBegin {
                size,
                blocks,
                block_size,
                offset,
                encrypted,
            }
            | Command::FlashDeflBegin {
                size,
                blocks,
                block_size,
                offset,
                encrypted,
            } => {
                let compressed = opc == op::FLASH_DEFL_BEGIN;
                self.flash_begin(
                    t, opc, compressed, size, blocks, block_size, offset, encrypted,
                )
            }
            Command::FlashData { seq, data } => self.flash_data(t, opc, false, seq, data, chk),
            Command::FlashDeflData { seq, data } => self.flash_data(t, opc, true, seq, data, chk),
            Command::FlashEnd { run } | Command::FlashDeflEnd { run } => {
                if stub {
                    // esp-flasher-stub: the write must be complete; it never reboots.
                    let err = match &self.write {
                        None => Some(stub_err::NOT_IN_FLASH_MODE),
                        Some(w) if w.written < w.size => Some(stub_err::BAD_DATA_LEN),
                        Some(_) => None,
                    };
                    if err.is_none() {
                        self.write = None;
                    }
                    self.respond(t, opc, 0, &[], err);
                    return t;
                }
                self.write = None;
                self.respond(t, opc, 0, &[], None);
                let done = t.max(self.d2h_free);
                if run {
                    // The ROM leaves the loader and runs the app.
                    self.run_app(done);
                } else {
                    // "Reboot": a software reset, which comes back to the ROM loader.
                    self.software_reset(done);
                }
                done
            }
            Command::SpiFlashMd5 { offset, size } => {
                if !self.spi_attached {
                    self.respond(t, opc, 0, &[], Some(rom_err::FLASH_READ));
                    return t;
                }
                let t = t.max(self.chip_free);
                match self.flash.read(offset, size) {
                    Ok(bytes) => {
                        let digest = md5(bytes);
                        let done = t + self.config.timing.flash.read(size as usize);
                        if stub {
                            self.respond(done, opc, 0, &digest, None);
                        } else {
                            self.respond(done, opc, 0, hex(&digest).as_bytes(), None);
                        }
                        done
                    }
                    Err(e) => {
                        let code = self.flash_err(e);
                        self.respond(t, opc, 0, &[], Some(code));
                        t
                    }
                }
            }
            Command::ReadFlashSlow { offset, len } => {
                if stub || !self.spi_attached || len > 64 {
                    let code = if stub {
                        stub_err::INVALID_COMMAND
                    } else if len > 64 {
                        rom_err::FLASH_READ_LEN
                    } else {
                        rom_err::FLASH_READ
                    };
                    self.respond(t, opc, 0, &[], Some(code));
                    return t;
                }
                match self.flash.read(offset, len) {
                    Ok(b) => {
                        let mut buf = b.to_vec();
                        buf.resize(64, 0);
                        self.respond(t, opc, 0, &buf, None);
                    }
                    Err(e) => {
                        let code = self.flash_err(e);
                        self.respond(t, opc, 0, &[], Some(code));
                    }
                }
                t
            }
            Command::EraseFlash
            | Command::EraseRegion { .. }
            | Command::ReadFlash { .. }
            | Command::RunUserCode
                if !stub =>
            {
                self.respond(t, opc, 0, &[], Some(rom_err::INVALID_MESSAGE));
                t
            }
            Command::EraseFlash => {
                let size = self.flash.size();
                self.erase_cmd(t, opc, 0, size)
            }
            Command::EraseRegion { offset, size } => self.erase_cmd(t, opc, offset, size),
            Command::ReadFlash {
                offset,
                size,
                packet_size,
                max_in_flight: _,
            } => {
                if self.flash.read(offset, size).is_err()
                    || packet_size == 0
                    || packet_size > 0x1000
                {
                    self.respond(t, opc, 0, &[], Some(stub_err::BAD_DATA_LEN));
                    return t;
                }
                self.respond(t, opc, 0, &[], None);
                self.read = Some(ReadOp {
                    next: offset,
                    end: offset + size,
                    packet: packet_size,
                    // esp-flasher-stub sends one packet at a time whatever the host asks.
                    window: 1,
                    sent: 0,
                    acked: 0,
                    md5: md5::Md5::new(),
                    total: size,
                });
                self.pump_read(t.max(self.chip_free))
            }
            Command::RunUserCode => {
                // esp-flasher-stub sends no answer and (so far) does nothing.
                t
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn flash_begin(
        &mut self,
        t: Duration,
        opc: u8,
        compressed: bool,
        size: u32,
        blocks: u32,
        block_size: u32,
        offset: u32,
        encrypted: Option<u32>,
    ) -> Duration {
        let stub = self.mode == Mode::Stub;
        let bad = |s: &mut Self, rom: u8, stub_code: u8| {
            s.respond(t, opc, 0, &[], Some(if stub { stub_code } else { rom }));
            t
        };
        // The ESP32 ROM takes exactly 4 words; later ROMs and the stub 4 or 5.
        if !stub && encrypted.is_some() && !self.rom().begin_takes_encrypt_flag {
            return bad(self, rom_err::INVALID_MESSAGE, 0);
        }
        if !self.spi_attached {
            return bad(self, rom_err::FLASH_WRITE, stub_err::NOT_IN_FLASH_MODE);
        }
        // The encrypted flag: the flash-encryption block encrypts what is written, when flash
        // encryption is on and manual encryption is still allowed (development mode), in
        // 16-byte pieces.
        let encrypt = encrypted.unwrap_or(0) != 0;
        if encrypt
            && (self.flash_crypt().is_none()
                || self.config.security.release
                || !size.is_multiple_of(16))
        {
            return bad(self, rom_err::INVALID_MESSAGE, stub_err::NOT_IMPLEMENTED);
        }
        if block_size == 0 || block_size > 0x4000 {
            return bad(self, rom_err::INVALID_PARAM, stub_err::BAD_BLOCKSIZE);
        }
        if (offset as u64 + size as u64) > self.flash.size() as u64 {
            return bad(self, rom_err::INVALID_PARAM, stub_err::BAD_DATA_LEN);
        }
        let (erase_start, erase_end) = (
            offset / SECTOR * SECTOR,
            (offset + size).div_ceil(SECTOR) * SECTOR,
        );
        let mut done = t;
        if !stub && size > 0 {
            // The ROM erases everything up front.
            match self.flash.erase(erase_start, erase_end - erase_start) {
                Ok(busy) => done = t + busy,
                Err(e) => {
                    let code = self.flash_err(e);
                    return bad(self, code, code);
                }
            }
        }
        self.write = Some(WriteOp {
            compressed,
            at: offset,
            size,
            blocks,
            block_size,
            next_seq: 0,
            written: 0,
            erase_next: if stub { erase_start } else { erase_end },
            erase_end,
            pending: vec![],
            input_done: false,
            inflate: compressed.then(|| InflateState::new_boxed(DataFormat::Zlib)),
            encrypt,
            crypt_tail: vec![],
        });
        self.respond(done, opc, 0, &[], None);
        if stub {
            // The stub starts the first erase and answers without waiting for it.
            self.start_next_erase(done);
        }
        done
    }

    /// Stub: if the chip is idle, start erasing the next unit of the region (64 KiB blocks
    /// where aligned, else 4 KiB sectors) without waiting for it.
    fn start_next_erase(&mut self, now: Duration) {
        if self.chip_free > now {
            return;
        }
        let Some(w) = self.write.as_mut() else { return };
        if w.erase_next >= w.erase_end {
            return;
        }
        let unit = if w.erase_next % BLOCK == 0 && w.erase_end - w.erase_next >= BLOCK {
            BLOCK
        } else {
            SECTOR
        };
        let at = w.erase_next;
        w.erase_next += unit;
        match self.flash.erase(at, unit) {
            Ok(busy) => self.chip_free = now + busy,
            Err(_) => self.pending_error = Some(0xC4),
        }
    }

    /// Stub: waits until the region up to `end` is erased (starting erases as the chip frees
    /// up), then programs `bytes`. Returns when the CPU is done.
    fn stub_write(&mut self, mut now: Duration, bytes: &[u8]) -> Result<Duration, FlashError> {
        let (at, end) = {
            let w = self.write.as_ref().unwrap();
            (w.at, w.at + bytes.len() as u32)
        };
        while self.write.as_ref().unwrap().erase_next < end {
            now = now.max(self.chip_free);
            self.start_next_erase(now);
            if self.pending_error.is_some() {
                return Err(FlashError::PowerLost);
            }
        }
        now = now.max(self.chip_free);
        now += self.program(at, bytes)?;
        self.chip_free = now;
        let w = self.write.as_mut().unwrap();
        w.at = end;
        w.written += bytes.len() as u32;
        Ok(now)
    }

    fn flash_data(
        &mut self,
        t: Duration,
        opc: u8,
        compressed: bool,
        seq: u32,
        data: Vec<u8>,
        chk: u32,
    ) -> Duration {
        let stub = self.mode == Mode::Stub;
        let fail = |s: &mut Self, rom_code: u8, stub_code: u8| {
            s.respond(
                t,
                opc,
                0,
                &[],
                Some(if stub { stub_code } else { rom_code }),
            );
            t
        };
        let Some(w) = self.write.as_mut() else {
            return fail(self, rom_err::INVALID_MESSAGE, stub_err::NOT_IN_FLASH_MODE);
        };
        if w.compressed != compressed {
            return fail(self, rom_err::INVALID_MESSAGE, stub_err::NOT_IN_FLASH_MODE);
        }
        if stub && compressed && w.written == w.size && data.len() > 4 {
            return fail(self, 0, stub_err::TOO_MUCH_DATA);
        }
        if chk as u8 != crate::formats::esp_checksum(&data) {
            return fail(self, rom_err::CHECKSUM, stub_err::BAD_DATA_CHECKSUM);
        }
        if !stub && (seq != w.next_seq || seq >= w.blocks || data.len() as u32 > w.block_size) {
            return fail(self, rom_err::INVALID_PARAM, 0);
        }
        if !stub && !compressed && data.len() as u32 != w.block_size {
            return fail(self, rom_err::INVALID_PARAM, 0);
        }
        w.next_seq += 1;
        if stub {
            // Answer first; inflate and write afterwards while the next block comes in
            // (esp-flasher-stub's double buffering). Errors surface on the next command.
            self.respond(t, opc, 0, &[], None);
            return self.stub_post_process(t, compressed, data);
        }
        // The ROM does it all before answering.
        let plain = match self.inflate_block(&data) {
            Ok(p) => p,
            Err(()) => return fail(self, rom_err::DEFLATE, 0),
        };
        let w = self.write.as_mut().unwrap();
        let limit = if compressed {
            w.size
        } else {
            w.blocks * w.block_size
        };
        if w.written as u64 + plain.len() as u64 > limit as u64 {
            self.write = None;
            return fail(self, rom_err::INVALID_PARAM, 0);
        }
        let at = w.at;
        w.at += plain.len() as u32;
        w.written += plain.len() as u32;
        let now = t + self.config.timing.cpu_per_kib * (plain.len() as u32 / 1024);
        match self.program(at, &plain) {
            Ok(busy) => {
                self.respond(now + busy, opc, 0, &[], None);
                now + busy
            }
            Err(e) => {
                let code = self.flash_err(e);
                fail(self, code, 0)
            }
        }
    }

    /// Programs what a FLASH_DATA brought at `at`, through the flash-encryption block when
    /// the write asked for it.
    fn program(&mut self, at: u32, bytes: &[u8]) -> Result<Duration, FlashError> {
        let key = self.flash_crypt();
        let Some(w) = self.write.as_mut().filter(|w| w.encrypt) else {
            return self.flash.program(at, bytes);
        };
        let Some(key) = key else {
            return self.flash.program(at, bytes);
        };
        let start = at - w.crypt_tail.len() as u32;
        let mut data = std::mem::take(&mut w.crypt_tail);
        data.extend_from_slice(bytes);
        let whole = data.len() / 16 * 16;
        w.crypt_tail = data.split_off(whole);
        if data.is_empty() {
            return Ok(Duration::ZERO);
        }
        key.apply(start, &mut data, true);
        self.flash.program(start, &data)
    }

    /// The chip's flash-encryption block, when flash encryption is on and modelled (the XTS
    /// chips, native builds).
    fn flash_crypt(&self) -> Option<flash_crypt::FlashKey> {
        let xts = matches!(
            self.rom().security,
            chips::security::SecurityFacts::SecurityInfo { .. }
        );
        (self.config.security.flash_encryption && xts && self.config.chip.rom.is_some())
            .then(|| flash_crypt::block(&self.config.flash_key))
            .flatten()
    }

    /// Inflates (or passes through) one block; the bytes to program.
    fn inflate_block(&mut self, data: &[u8]) -> Result<Vec<u8>, ()> {
        let w = self.write.as_mut().unwrap();
        let Some(st) = w.inflate.as_mut() else {
            return Ok(data.to_vec());
        };
        let mut out = vec![0u8; 0x20000];
        let mut produced = vec![];
        let mut input = data;
        loop {
            let r = miniz_oxide::inflate::stream::inflate(st, input, &mut out, MZFlush::None);
            produced.extend_from_slice(&out[..r.bytes_written]);
            input = &input[r.bytes_consumed..];
            match r.status {
                Ok(MZStatus::StreamEnd) => {
                    w.input_done = true;
                    return Ok(produced);
                }
                Ok(_) if input.is_empty() && r.bytes_written < out.len() => return Ok(produced),
                Ok(_) => continue,
                Err(_) => return Err(()),
            }
        }
    }

    /// Stub: the work after answering a data block. Returns when the CPU is free.
    fn stub_post_process(&mut self, t: Duration, compressed: bool, data: Vec<u8>) -> Duration {
        self.start_next_erase(t);
        let plain = match self.inflate_block(&data) {
            Ok(p) => p,
            Err(()) => {
                self.pending_error = Some(stub_err::INFLATE);
                return t;
            }
        };
        let mut now = t + self.config.timing.cpu_per_kib * (plain.len() as u32 / 1024);
        let w = self.write.as_mut().unwrap();
        let room = (w.size - w.written) as usize - w.pending.len();
        if plain.len() > room && compressed {
            self.pending_error = Some(stub_err::TOO_MUCH_DATA);
            return now;
        }
        w.pending.extend_from_slice(&plain[..plain.len().min(room)]);
        if !compressed && w.written as usize + w.pending.len() == w.size as usize {
            w.input_done = true;
        }
        loop {
            let w = self.write.as_mut().unwrap();
            let n = if w.pending.len() >= STUB_WRITE_CHUNK {
                STUB_WRITE_CHUNK
            } else if w.input_done && !w.pending.is_empty() {
                w.pending.len()
            } else {
                break;
            };
            let chunk: Vec<u8> = w.pending.drain(..n).collect();
            match self.stub_write(now, &chunk) {
                Ok(after) => now = after,
                Err(_) => {
                    self.pending_error.get_or_insert(0xC4); // failed SPI operation
                    return now;
                }
            }
            self.start_next_erase(now);
        }
        now
    }

    fn erase_cmd(&mut self, t: Duration, opc: u8, offset: u32, size: u32) -> Duration {
        let t = t.max(self.chip_free);
        match self.flash.erase(offset, size) {
            Ok(busy) => {
                let done = t + busy;
                self.chip_free = done;
                self.respond(done, opc, 0, &[], None);
                done
            }
            Err(FlashError::Unaligned) => {
                self.respond(t, opc, 0, &[], Some(stub_err::BAD_DATA_LEN));
                t
            }
            Err(e) => {
                let code = self.flash_err(e);
                self.respond(t, opc, 0, &[], Some(code));
                t
            }
        }
    }

    /// READ_FLASH: send packets while the window allows, then the MD5 once all are acked.
    fn pump_read(&mut self, mut t: Duration) -> Duration {
        let timing = self.config.timing.flash;
        loop {
            let Some(r) = self.read.as_mut() else {
                return t;
            };
            if r.next < r.end && r.sent - r.acked < r.window * r.packet {
                let len = r.packet.min(r.end - r.next);
                let off = r.next;
                r.next += len;
                r.sent += len;
                let bytes = self
                    .flash
                    .read(off, len)
                    .map(|b| b.to_vec())
                    .unwrap_or_default();
                self.read.as_mut().unwrap().md5.update(&bytes);
                t += timing.read(bytes.len());
                self.emit_frame(t, &bytes);
                continue;
            }
            if r.acked >= r.total {
                let digest: [u8; 16] = std::mem::replace(&mut r.md5, md5::Md5::new())
                    .finalize()
                    .into();
                self.read = None;
                self.emit_frame(t, &digest);
            }
            return t;
        }
    }

    fn on_read_ack(&mut self, at: Duration, total: u32) {
        if let Some(r) = self.read.as_mut() {
            r.acked = total.min(r.sent);
            let t = at.max(self.cpu_free);
            self.cpu_free = self.pump_read(t);
        }
    }

    fn read_reg(&self, addr: u32) -> u32 {
        let chip = self.config.chip;
        if addr == chips::CHIP_DETECT_MAGIC_REG {
            return chip.magic.first().copied().unwrap_or(0);
        }
        let Some(rom) = chip.rom else { return 0 };
        let spi = rom.spi;
        if let Some(v) = (rom.sim.register)(addr, self.config.mac) {
            return v | self.config.security.efuse_bits(&rom.security, addr);
        }
        // The calibration that makes the ROM's crystal estimate rom_xtal_estimate_hz.
        if let Some(c) = rom.crystal.filter(|c| c.calibration_reg == addr) {
            let ck8m = (rom.sim.register)(c.ck8m_reg, self.config.mac).unwrap_or(0);
            return c.calibration_for(self.config.rom_xtal_estimate_hz, ck8m);
        }
        match addr {
            a if a == rom.uart_clkdiv => (rom.sim.xtal_hz as f64 / self.baud as f64).round() as u32,
            a if (spi.base..spi.base + 0x100).contains(&a) => {
                self.spi_regs[((a - spi.base) / 4) as usize]
            }
            _ => 0,
        }
    }

    fn write_reg(&mut self, addr: u32, value: u32, mask: u32) {
        let Some(rom) = self.config.chip.rom else {
            return;
        };
        let spi = rom.spi;
        if !(spi.base..spi.base + 0x100).contains(&addr) {
            return;
        }
        let word = |a: u32| ((a - spi.base) / 4) as usize;
        let i = word(addr);
        self.spi_regs[i] = (self.spi_regs[i] & !mask) | (value & mask);
        if addr == spi.cmd() && self.spi_regs[i] & SpiRegs::CMD_USR != 0 {
            // Run the user command in USER2's low bits; the answer lands in W0.
            let command = self.spi_regs[word(spi.usr2())] & 0xFFFF;
            self.spi_regs[word(spi.w0())] = match command {
                0x9F => self.config.flash_id, // RDID
                _ => 0,                       // status 0, no SFDP, resets
            };
            self.spi_regs[i] = 0;
        }
    }
}

/// The ESP-IDF bootloader's log line for an image it refuses.
fn bootloader_words(p: &crate::formats::bootable::ImageProblem, offset: u32) -> String {
    use crate::formats::bootable::ImageProblem as P;
    match p {
        P::Erased | P::NoImage { .. } => {
            format!("image at 0x{offset:x} has invalid magic byte (nothing flashed here?)")
        }
        P::WrongChip {
            image_chip_id,
            chip,
        } => format!(
            "mismatch chip ID, expected {}, found {image_chip_id}",
            chip.image_chip_id
        ),
        P::ChipTooOld { min, chip_rev } => format!(
            "Image requires chip rev >= v{}.{}, but chip is v{}.{}",
            min / 100,
            min % 100,
            chip_rev / 100,
            chip_rev % 100
        ),
        P::ChipTooNew { max, chip_rev } => format!(
            "Image requires chip rev <= v{}.{}, but chip is v{}.{}",
            max / 100,
            max % 100,
            chip_rev / 100,
            chip_rev % 100
        ),
        P::BadSegmentLength { len, .. } => format!("invalid segment length 0x{len:x}"),
        P::Checksum { stored, computed } => {
            format!("Checksum failed. Calculated 0x{computed:x} read 0x{stored:x}")
        }
        P::Digest => "Image hash failed - image is corrupt".into(),
        other => other.message(),
    }
}

/// What a UART at the wrong baud reads.
fn garble(bytes: &mut [u8]) {
    for b in bytes {
        *b = b.rotate_left(3) ^ 0x5A;
    }
}

/// What a ROM in secure download mode still takes: writing flash (plain or compressed), baud,
/// SPI set-up and GET_SECURITY_INFO (ESP-IDF "Secure Download Mode").
fn secure_download_allows(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Sync
            | Command::FlashBegin { .. }
            | Command::FlashData { .. }
            | Command::FlashEnd { .. }
            | Command::FlashDeflBegin { .. }
            | Command::FlashDeflData { .. }
            | Command::FlashDeflEnd { .. }
            | Command::ChangeBaud { .. }
            | Command::SpiAttach { .. }
            | Command::SpiSetParams { .. }
            | Command::GetSecurityInfo
    )
}

/// How long an app marked to crash runs before it panics.
const APP_CRASHES_AFTER: Duration = Duration::from_millis(300);

/// The simulated chip does not run apps; an app whose project name contains "crash" stands for
/// one that panics at start (for testing what a reboot loop looks like).
pub fn marked_to_crash(app: &crate::formats::image::AppDesc) -> bool {
    app.project_name.contains("crash")
}

/// What an ESP-IDF v5 app prints as it starts (`cpu_start`, as v5.2 logs it; later versions
/// log the same lines under `app_init`), for an app with an app description.
fn app_start_lines(app: Option<&crate::formats::image::AppDesc>, chip_rev: u16) -> String {
    let Some(a) = app else {
        return "I (200) cpu_start: Pro cpu start user code\r\n".into();
    };
    let sha: String = a.app_elf_sha256[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "I (200) cpu_start: Pro cpu start user code\r\n\
         I (209) cpu_start: Application information:\r\n\
         I (212) cpu_start: Project name:     {}\r\n\
         I (217) cpu_start: App version:      {}\r\n\
         I (221) cpu_start: Compile time:     {} {}\r\n\
         I (227) cpu_start: ELF file SHA256:  {sha}...\r\n\
         I (233) cpu_start: ESP-IDF:          {}\r\n\
         I (248) cpu_start: Chip rev:         v{}.{}\r\n\
         I (309) main_task: Started on CPU0\r\n\
         I (319) main_task: Calling app_main()\r\n",
        a.project_name,
        a.version,
        a.date,
        a.time,
        a.idf_ver,
        chip_rev / 100,
        chip_rev % 100
    )
}

/// What an ESP-IDF app prints when it panics (in the chip's own words), then restarts.
fn panic_lines(chip: &Chip) -> String {
    let cause = chip.rom.map_or("LoadProhibited", |r| r.sim.panic_cause);
    let pc = chip.flash_map[0].0 + 0x2b5c;
    format!(
        "Guru Meditation Error: Core  0 panic'ed ({cause}). Exception was unhandled.\r\n\r\n\
         Core  0 register dump:\r\nPC      : 0x{pc:08x}\r\n\r\n\
         Backtrace: 0x{pc:08x}:0x3ffb4560\r\n\r\nRebooting...\r\n"
    )
}
