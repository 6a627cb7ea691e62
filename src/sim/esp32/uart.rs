//! The link between host and chip: bytes in and out with the times they arrive (UART byte
//! time at the current baud, USB latency each way), DTR/RTS into the reset circuit, injected
//! faults, and the receive rules of the ROM loader's FIFO and the stub's frame buffers
//! ([`super::super::stub_rx`]).

use super::*;

impl Esp32 {
    pub(super) fn byte_time(&self) -> Duration {
        if self.config.timing.uart {
            Duration::from_secs_f64(10.0 / self.baud as f64)
        } else {
            Duration::ZERO
        }
    }

    /// Host and chip disagree on the baud by more than a UART tolerates.
    pub(super) fn baud_mismatch(&self) -> bool {
        self.mismatch_at(self.baud)
    }

    /// Whether bytes sent at `baud` are garbled for the host as its port is set now (a
    /// difference over 3 %, or a rate above what the adapter can do).
    pub(super) fn mismatch_at(&self, baud: u32) -> bool {
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
        // A slow EN that rose before now did so with the lines as they were.
        self.settle_en(t);
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
            self.en_rises_at = None;
        } else if en_low(before) && !en_low(self.signals) {
            self.en_rises_at = Some(t + self.config.en_rise);
            self.settle_en(t);
        }
    }

    /// EN has risen by `now`: the chip leaves reset, IO0 as the lines hold it then.
    pub(super) fn settle_en(&mut self, now: Duration) {
        if let Some(at) = self.en_rises_at.filter(|at| *at <= now) {
            self.en_rises_at = None;
            let (dtr, rts) = self.signals;
            self.reset(at, dtr && !rts);
        }
    }

    pub(super) fn emit_raw(&mut self, at: Duration, bytes: Vec<u8>) {
        let start = at.max(self.d2h_free);
        let end = start + self.byte_time() * bytes.len() as u32;
        self.d2h_free = end;
        let mut bytes = bytes;
        self.apply_d2h_faults(&mut bytes);
        self.out
            .push_back((end + self.config.timing.usb_d2h, bytes, self.baud));
    }

    pub(super) fn apply_d2h_faults(&mut self, bytes: &mut Vec<u8>) {
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

    pub(super) fn emit_frame(&mut self, at: Duration, payload: &[u8]) {
        self.emit_raw(at, slip::encode(payload));
    }

    pub(super) fn status_len(&self) -> usize {
        if self.mode == Mode::Stub {
            2
        } else {
            4
        }
    }

    /// A response: ok, or an error code (ROM: status 1 + code; stub: code + 0).
    pub(super) fn respond(
        &mut self,
        at: Duration,
        opcode: u8,
        value: u32,
        data: &[u8],
        err: Option<u8>,
    ) {
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
        self.settle_en(t);
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
            if self.config.faults.hang_after_h2d.is_some_and(|h| n >= h) {
                self.config.faults.hang_after_h2d = None;
                self.mode = Mode::Off;
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
    pub(super) fn settle_stub_rx(&mut self, end: Duration) {
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

    /// Bytes readable by the host at time `now` (the chip's work up to then is done first).
    pub fn take_output(&mut self, now: Duration) -> Vec<u8> {
        self.settle_en(now);
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
            self.en_rises_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// What a UART at the wrong baud reads.
pub(super) fn garble(bytes: &mut [u8]) {
    for b in bytes {
        *b = b.rotate_left(3) ^ 0x5A;
    }
}
