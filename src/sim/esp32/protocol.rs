//! The loader protocol as the ROM loader and the flasher stub answer it: frames taken, commands
//! decoded and carried out (sync, registers, SPI set-up, RAM upload, flash, MD5, baud), status
//! bytes as each of them sends them.

use super::*;

impl Esp32 {
    /// The ROM loader reads each frame out of its UART buffer as it arrives.
    pub(super) fn on_rom_frame(&mut self, first_byte: Duration, arrival: Duration, frame: Vec<u8>) {
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
    pub(super) fn on_stub_frame(&mut self, take: Duration, frame: Vec<u8>) {
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
    pub(super) fn handle_frame(&mut self, start: Duration, frame: Vec<u8>) {
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

    /// Handles one command at time `t`; returns when the CPU is free again.
    pub(super) fn on_command(&mut self, t: Duration, cmd: Command, chk: u32) -> Duration {
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
            Command::GetSecurityInfo => self.security_info(t, opc, stub),
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
            Command::ChangeBaud { new, old } => self.change_baud(t, opc, stub, new, old, bad_param),
            Command::MemBegin { .. } => {
                self.mem_loaded = false;
                self.respond(t, opc, 0, &[], None);
                t
            }
            Command::MemData { data, .. } => self.mem_data(t, opc, stub, data, chk),
            Command::MemEnd { entry } => self.mem_end(t, opc, stub, entry),
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
                self.flash_end(t, opc, stub, run)
            }
            Command::SpiFlashMd5 { offset, size } => self.flash_md5(t, opc, stub, offset, size),
            Command::ReadFlashSlow { offset, len } => {
                self.read_flash_slow(t, opc, stub, offset, len)
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
}

impl Esp32 {
    pub(super) fn security_info(&mut self, t: Duration, opc: u8, stub: bool) -> Duration {
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

    pub(super) fn change_baud(
        &mut self,
        t: Duration,
        opc: u8,
        stub: bool,
        new: u32,
        old: u32,
        bad_param: u8,
    ) -> Duration {
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

    pub(super) fn mem_data(
        &mut self,
        t: Duration,
        opc: u8,
        stub: bool,
        data: Vec<u8>,
        chk: u32,
    ) -> Duration {
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

    pub(super) fn mem_end(
        &mut self,
        t: Duration,
        opc: u8,
        stub: bool,
        entry: Option<u32>,
    ) -> Duration {
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

    pub(super) fn flash_end(&mut self, t: Duration, opc: u8, stub: bool, run: bool) -> Duration {
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

    pub(super) fn flash_md5(
        &mut self,
        t: Duration,
        opc: u8,
        stub: bool,
        offset: u32,
        size: u32,
    ) -> Duration {
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

    pub(super) fn read_flash_slow(
        &mut self,
        t: Duration,
        opc: u8,
        stub: bool,
        offset: u32,
        len: u32,
    ) -> Duration {
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
}

/// What a ROM in secure download mode still takes: writing flash (plain or compressed), baud,
/// SPI set-up and GET_SECURITY_INFO (ESP-IDF "Secure Download Mode").
pub(super) fn secure_download_allows(cmd: &Command) -> bool {
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
