//! The flash commands as the ROM loader and the stub carry them out: begin (erase up front, or
//! ahead while receiving in the stub), data blocks (plain or deflated), erase, read with
//! acknowledgements.

use super::*;

impl Esp32 {
    pub(super) fn flash_err(&self, e: FlashError) -> u8 {
        match (e, self.mode == Mode::Stub) {
            (FlashError::OutOfRange, false) => rom_err::INVALID_PARAM,
            (FlashError::OutOfRange, true) => stub_err::BAD_DATA_LEN,
            (_, false) => rom_err::FLASH_WRITE,
            (_, true) => 0xC4,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn flash_begin(
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
    pub(super) fn start_next_erase(&mut self, now: Duration) {
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
    pub(super) fn stub_write(
        &mut self,
        mut now: Duration,
        bytes: &[u8],
    ) -> Result<Duration, FlashError> {
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

    pub(super) fn flash_data(
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
    pub(super) fn program(&mut self, at: u32, bytes: &[u8]) -> Result<Duration, FlashError> {
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
    pub(super) fn flash_crypt(&self) -> Option<flash_crypt::FlashKey> {
        let xts = matches!(
            self.rom().security,
            chips::security::SecurityFacts::SecurityInfo { .. }
        );
        (self.config.security.flash_encryption && xts && self.config.chip.rom.is_some())
            .then(|| flash_crypt::block(&self.config.flash_key))
            .flatten()
    }

    /// Inflates (or passes through) one block; the bytes to program.
    pub(super) fn inflate_block(&mut self, data: &[u8]) -> Result<Vec<u8>, ()> {
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
    pub(super) fn stub_post_process(
        &mut self,
        t: Duration,
        compressed: bool,
        data: Vec<u8>,
    ) -> Duration {
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

    pub(super) fn erase_cmd(&mut self, t: Duration, opc: u8, offset: u32, size: u32) -> Duration {
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
    pub(super) fn pump_read(&mut self, mut t: Duration) -> Duration {
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

    pub(super) fn on_read_ack(&mut self, at: Duration, total: u32) {
        if let Some(r) = self.read.as_mut() {
            r.acked = total.min(r.sent);
            let t = at.max(self.cpu_free);
            self.cpu_free = self.pump_read(t);
        }
    }
}
