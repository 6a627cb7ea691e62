//! Writing, verifying, reading and erasing flash.
//!
//! Writes are zlib level 9 (FLASH_DEFL_*), in 0x4000-byte blocks to the stub and 0x400-byte
//! blocks to the ROM.
//!
//! **One command in flight, always** (ROM and stub alike; docs/protocol-notes.md says why,
//! with the sources): the flasher stub takes a frame only into a receive buffer its main loop
//! has armed, and it arms the spare one only when it takes the previous frame — a command
//! written before the previous one was answered is lost without a reply. Speed comes from
//! the stub itself (esptool's early-acknowledge lock-step): it answers a data block *before*
//! it inflates and writes it, so the next block, sent on that answer, arrives into the spare
//! buffer while the flash is busy. A failure in that work comes back as the answer to the next
//! command. Unchanged 64 KiB regions are skipped after comparing MD5s, and the written range
//! is always verified by MD5 at the end.

use super::{kbit_per_s, Error, Loader, NoAnswer, Phase, Port, Progress, Refusal, Result};
use crate::chips::security::Written;
use crate::formats::md5;
use crate::formats::numbers::decimals;
use crate::wire::command::{data_block_timeout, Command};
use std::time::Duration;

const STUB_BLOCK: usize = 0x4000;
const ROM_BLOCK: usize = 0x400;
/// Granularity of the "already there?" check.
pub const REGION: usize = 0x10000;
const ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Compare region MD5s first and leave unchanged 64 KiB regions alone.
    pub skip_unchanged: bool,
    /// Compressed blocks (always with the stub; the ROM takes both).
    pub compress: bool,
    /// How the data reaches the flash: plain, pre-encrypted for the chip's key (as it is), or
    /// encrypted by the chip as it writes. Plain data is refused while flash encryption is on.
    pub written: Written,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            skip_unchanged: true,
            compress: true,
            written: Written::Plain,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteReport {
    pub offset: u32,
    pub bytes: u64,
    /// Bytes actually written (the rest was already there).
    pub written: u64,
    /// Bytes sent as block payload (compressed when compressing).
    pub wire_bytes: u64,
    /// Whole operation: checks, writing, verification.
    pub elapsed: Duration,
    /// Writing only (first BEGIN to the last block's answer), as esptool reports it.
    pub write_time: Duration,
    pub retries: u32,
    pub md5: [u8; 16],
    /// The flash's MD5 was checked against the data's (not possible in secure download mode,
    /// nor for data the chip encrypted as it wrote).
    pub verified: bool,
    /// The chip encrypted the data as it wrote it.
    pub encrypted_by_chip: bool,
}

impl WriteReport {
    /// Why a write could not be verified.
    pub fn unverified_why(&self) -> &'static str {
        if self.encrypted_by_chip {
            "the chip encrypted it as it wrote: the flash holds ciphertext under its key, which cannot be compared"
        } else {
            "secure download mode refuses the MD5 check"
        }
    }

    /// Bytes that were already there (their MD5 matched), so not written.
    pub fn already_there(&self) -> u64 {
        self.bytes - self.written
    }

    /// Data written per second of writing, in kbit/s: what the flash received.
    pub fn effective_kbit(&self) -> f64 {
        kbit_per_s(self.written, self.write_time)
    }

    /// What crossed the link per second of writing (compressed), in kbit/s.
    pub fn wire_kbit(&self) -> f64 {
        kbit_per_s(self.wire_bytes, self.write_time)
    }

    /// One honest line: what was written, what was already there, how fast, verified.
    pub fn describe(&self, what: &str) -> String {
        let md5 = crate::formats::hex(&self.md5);
        if self.written == 0 {
            return format!(
                "{what}: already holds these {} bytes (MD5 {md5} matches); nothing written",
                self.bytes
            );
        }
        let skipped = match self.already_there() {
            0 => String::new(),
            n => format!(", {n} already there"),
        };
        if !self.verified {
            return format!(
                "{what}: {} bytes written in {} s, NOT verified ({}; data MD5 {md5})",
                self.written,
                decimals(self.write_time.as_secs_f64(), 1),
                self.unverified_why()
            );
        }
        format!(
            "{what}: {} bytes verified (MD5 {md5}); {} written{skipped} in {} s at {} kbit/s effective ({} kbit/s on the wire)",
            self.bytes,
            self.written,
            decimals(self.write_time.as_secs_f64(), 1),
            decimals(self.effective_kbit(), 0),
            decimals(self.wire_kbit(), 0)
        )
    }
}

impl<P: Port> Loader<P> {
    /// Writes `data` at `offset` and verifies it by MD5. Regions whose MD5 already matches are
    /// skipped when `opts.skip_unchanged`.
    pub async fn write_flash(
        &mut self,
        offset: u32,
        data: &[u8],
        opts: WriteOptions,
    ) -> Result<WriteReport> {
        let security = self.security();
        if let Some(b) = security.write_block(offset, opts.written) {
            return Err(Refusal::Security(b).into());
        }
        let flash = self.flash_info().await?;
        // Secure download mode, or the chip encrypting as it writes: no MD5 before (write
        // everything) or after (say so).
        let encrypt = opts.written == Written::EncryptedByChip;
        let unverifiable = !flash.detected || encrypt;
        let opts = WriteOptions {
            skip_unchanged: opts.skip_unchanged && !unverifiable,
            ..opts
        };
        let padded;
        let data = if encrypt {
            let rom = self.require_supported()?;
            if !self.is_stub && !rom.begin_takes_encrypt_flag {
                return Err(Error::Unsupported(
                    "this chip's ROM loader cannot encrypt as it writes; the flasher stub can (connect without --no-stub)".into(),
                ));
            }
            // The chip encrypts whole pieces: pad with erased bytes, as esptool does.
            let align = rom.encrypted_write_align as usize;
            let mut v = data.to_vec();
            v.resize(data.len().div_ceil(align) * align, 0xFF);
            padded = v;
            &padded[..]
        } else {
            data
        };
        let end = offset as u64 + data.len() as u64;
        if end > flash.size as u64 {
            return Err(Refusal::PastFlashEnd {
                offset,
                len: data.len() as u64,
                flash: flash.size,
            }
            .into());
        }
        let started = self.now();
        let want = md5(data);
        let mut report = WriteReport {
            offset,
            bytes: data.len() as u64,
            md5: want,
            ..Default::default()
        };
        if data.is_empty() {
            report.verified = true;
            return Ok(report);
        }
        let Some(runs) = self.changed_runs(offset, data, &want, opts).await? else {
            report.elapsed = self.now() - started;
            report.verified = true;
            return Ok(report);
        };
        // Cancel is honoured between steps: after the check, between write blocks, before the
        // verification (a cancelled write is never reported verified).
        self.check_cancel()?;
        let write_started = self.now();
        self.write_runs(offset, data, &runs, opts, &mut report)
            .await?;
        self.check_cancel()?;
        if unverifiable {
            report.elapsed = self.now() - started;
            report.encrypted_by_chip = encrypt;
            self.log(format!(
                "0x{offset:08x}: {} bytes written, not verified: {}",
                data.len(),
                report.unverified_why()
            ));
            return Ok(report);
        }
        // Always verify what is now in flash.
        self.verify_md5(offset, data.len() as u32, &want, write_started)
            .await?;
        report.elapsed = self.now() - started;
        report.verified = true;
        Ok(report)
    }

    /// The runs of `data` (at `offset`) to write: with `skip_unchanged`, only the 4 KiB regions
    /// whose MD5 differs (or, on blank flash, that hold anything but 0xFF), consecutive ones
    /// joined into one stream; None when all of it is there already.
    async fn changed_runs(
        &mut self,
        offset: u32,
        data: &[u8],
        want: &[u8; 16],
        opts: WriteOptions,
    ) -> Result<Option<Vec<(usize, usize)>>> {
        // Which regions need writing?
        let regions: Vec<(usize, usize)> = (0..data.len())
            .step_by(REGION)
            .map(|s| (s, (s + REGION).min(data.len())))
            .collect();
        let mut todo = vec![true; regions.len()];
        if opts.skip_unchanged {
            self.progress(Progress::new(
                Phase::Checking,
                0,
                data.len() as u64,
                Duration::ZERO,
            ));
            let whole = self.flash_md5(offset, data.len() as u32).await?;
            if whole == *want {
                self.log(format!(
                    "0x{offset:08x}: all {} bytes already there (MD5 matches)",
                    data.len()
                ));
                return Ok(None);
            }
            if whole == md5(&vec![0xFF; data.len()]) {
                // Blank: exactly the regions that are not all 0xFF need writing.
                for (i, (s, e)) in regions.iter().enumerate() {
                    todo[i] = data[*s..*e].iter().any(|&b| b != 0xFF);
                }
            } else if regions.len() > 1 {
                let sums = self.region_md5s(offset, &regions).await?;
                for (i, (s, e)) in regions.iter().enumerate() {
                    todo[i] = sums[i] != md5(&data[*s..*e]);
                }
            }
        }
        // Consecutive changed regions become one stream.
        let mut runs: Vec<(usize, usize)> = vec![];
        for (i, (s, e)) in regions.iter().enumerate() {
            if !todo[i] {
                continue;
            }
            match runs.last_mut() {
                Some(r) if r.1 == *s => r.1 = *e,
                _ => runs.push((*s, *e)),
            }
        }
        Ok(Some(runs))
    }

    /// Writes each run (one BEGIN / DATA… / END stream each), sending a run again where
    /// resending can cure the failure.
    async fn write_runs(
        &mut self,
        offset: u32,
        data: &[u8],
        runs: &[(usize, usize)],
        opts: WriteOptions,
        report: &mut WriteReport,
    ) -> Result<()> {
        let total: u64 = runs.iter().map(|(s, e)| (e - s) as u64).sum();
        let write_started = self.now();
        let mut done = 0u64;
        for &(s, e) in runs {
            let mut attempt = 0;
            loop {
                match self
                    .write_run(
                        offset + s as u32,
                        &data[s..e],
                        opts,
                        (done, report.wire_bytes),
                        total,
                        write_started,
                    )
                    .await
                {
                    Ok(wire) => {
                        report.wire_bytes += wire;
                        break;
                    }
                    // Worth sending again: no answer, a garbled one, or a frame the chip
                    // received damaged — not a flash that failed to write.
                    Err(err) if err.worth_resending() && attempt + 1 < ATTEMPTS => {
                        attempt += 1;
                        report.retries += 1;
                        self.log(format!(
                            "write at 0x{:08x} failed ({err}); retrying ({attempt}/{})",
                            offset + s as u32,
                            ATTEMPTS - 1
                        ));
                        self.recover().await?;
                    }
                    Err(err) => return Err(err),
                }
            }
            done += (e - s) as u64;
            report.written += (e - s) as u64;
        }
        report.write_time = self.now() - write_started;
        Ok(())
    }

    /// Reads back the MD5 of `len` bytes at `offset` and compares it with `want`.
    async fn verify_md5(
        &mut self,
        offset: u32,
        len: u32,
        want: &[u8; 16],
        write_started: Duration,
    ) -> Result<()> {
        self.progress(Progress::new(
            Phase::Verifying,
            0,
            len as u64,
            Duration::ZERO,
        ));
        let got = self.flash_md5(offset, len).await?;
        if got != *want {
            return Err(Error::Verify(format!(
                "verification failed at 0x{offset:08x}: flash MD5 {} but the data's MD5 is {}",
                crate::formats::hex(&got),
                crate::formats::hex(want)
            )));
        }
        self.progress(Progress::new(
            Phase::Verifying,
            len as u64,
            len as u64,
            self.now() - write_started,
        ));
        Ok(())
    }

    /// MD5s of many regions, one request at a time: the stub drops a command that starts
    /// before it has taken the previous one (see the module notes), so each waits for the
    /// answer to the one before.
    async fn region_md5s(
        &mut self,
        offset: u32,
        regions: &[(usize, usize)],
    ) -> Result<Vec<[u8; 16]>> {
        let mut v = vec![];
        for (s, e) in regions {
            v.push(self.flash_md5(offset + *s as u32, (e - s) as u32).await?);
        }
        Ok(v)
    }

    /// After a failed block: let the device finish talking, drop what it said, resync.
    async fn recover(&mut self) -> Result<()> {
        self.port.sleep(Duration::from_millis(100)).await;
        self.flush_input().await?;
        for _ in 0..5 {
            if self.sync().await? {
                self.flush_input().await?;
                return Ok(());
            }
        }
        Err(Error::NoAnswer(NoAnswer::MidWrite))
    }

    /// One BEGIN / DATA... / END stream. Returns the payload bytes sent. `before`: data and
    /// wire bytes of the runs before this one (for progress).
    async fn write_run(
        &mut self,
        at: u32,
        data: &[u8],
        opts: WriteOptions,
        before: (u64, u64),
        total: u64,
        started: Duration,
    ) -> Result<u64> {
        let (done_before, wire_before) = before;
        let stub = self.is_stub;
        let compress = opts.compress || stub;
        let encrypt = opts.written == Written::EncryptedByChip;
        let block = if stub { STUB_BLOCK } else { ROM_BLOCK };
        let payload: Vec<u8> = if compress {
            miniz_oxide::deflate::compress_to_vec_zlib(data, 9)
        } else {
            let mut p = data.to_vec();
            p.resize(data.len().div_ceil(block) * block, 0xFF);
            p
        };
        let blocks = payload.len().div_ceil(block) as u32;
        // ROM: erase size, rounded up to the block; stub: exact size (it erases as it goes).
        let size = if stub {
            data.len() as u32
        } else {
            (data.len().div_ceil(block) * block) as u32
        };
        // The fifth word ("encrypted") for the stub and for every ROM but the ESP32's.
        let encrypted =
            (stub || self.require_supported()?.begin_takes_encrypt_flag).then_some(encrypt as u32);
        let begin = if compress {
            Command::FlashDeflBegin {
                size,
                blocks,
                block_size: block as u32,
                offset: at,
                encrypted,
            }
        } else {
            Command::FlashBegin {
                size,
                blocks,
                block_size: block as u32,
                offset: at,
                encrypted,
            }
        };
        self.command(&begin, 0).await?;
        // Each block inflates to about this much; the timeout allows for erasing it.
        let per_block = (data.len() as u64 * block as u64 / payload.len().max(1) as u64) as usize;
        let timeout = data_block_timeout(per_block.max(block) * 2, stub);
        let chunks: Vec<&[u8]> = payload.chunks(block).collect();
        let mut wire = 0u64;
        for (seq, chunk) in chunks.iter().enumerate() {
            self.check_cancel()?;
            let (seq, data_block) = (seq as u32, chunk.to_vec());
            let cmd = if compress {
                Command::FlashDeflData {
                    seq,
                    data: data_block,
                }
            } else {
                Command::FlashData {
                    seq,
                    data: data_block,
                }
            };
            // Lock-step: the next block goes out on this one's answer.
            self.command_timeout(&cmd, 0, timeout).await?;
            wire += chunk.len() as u64;
            let acked = seq as u64 + 1;
            let done = done_before + data.len() as u64 * acked / chunks.len() as u64;
            let elapsed = self.now() - started;
            self.progress(Progress {
                wire: wire_before + wire,
                ..Progress::new(Phase::Writing, done, total, elapsed)
            });
        }
        if stub {
            // "Stay in the loader" (the ROM would leave download mode on FLASH_END).
            let end = if compress {
                Command::FlashDeflEnd { run: true }
            } else {
                Command::FlashEnd { run: true }
            };
            self.command(&end, 0).await?;
        }
        Ok(payload.len() as u64)
    }

    /// Reads `size` bytes at `offset` (stub READ_FLASH with acknowledgements and an MD5 check;
    /// ROM READ_FLASH_SLOW, 64 bytes at a time).
    pub async fn read_flash(&mut self, offset: u32, size: u32) -> Result<Vec<u8>> {
        let flash = self.flash_info().await?;
        if offset as u64 + size as u64 > flash.size as u64 {
            return Err(Refusal::PastFlashEnd {
                offset,
                len: size as u64,
                flash: flash.size,
            }
            .into());
        }
        let started = self.now();
        let mut data = Vec::with_capacity(size as usize);
        if self.is_stub {
            const PACKET: u32 = 0x1000;
            self.command(
                &Command::ReadFlash {
                    offset,
                    size,
                    packet_size: PACKET,
                    max_in_flight: 64,
                },
                0,
            )
            .await?;
            while data.len() < size as usize {
                let frame = self
                    .next_frame(Duration::from_secs(3))
                    .await?
                    .ok_or_else(|| {
                        Error::Timeout(format!(
                            "reading flash stopped at 0x{:x}",
                            offset as usize + data.len()
                        ))
                    })?;
                if frame.len() != PACKET as usize && data.len() + frame.len() != size as usize {
                    return Err(Error::Protocol(format!(
                        "read flash: a {}-byte packet where 0x1000 was expected",
                        frame.len()
                    )));
                }
                data.extend_from_slice(&frame);
                self.port
                    .write(&crate::wire::slip::encode(
                        &(data.len() as u32).to_le_bytes(),
                    ))
                    .await?;
                let elapsed = self.now() - started;
                self.progress(Progress::new(
                    Phase::Reading,
                    data.len() as u64,
                    size as u64,
                    elapsed,
                ));
            }
            let digest = self
                .next_frame(Duration::from_secs(3))
                .await?
                .ok_or_else(|| Error::Timeout("no MD5 after reading flash".into()))?;
            if digest[..] != md5(&data)[..] {
                return Err(Error::Verify(format!(
                    "read flash: data MD5 {} differs from the device's {}",
                    crate::formats::hex(&md5(&data)),
                    crate::formats::hex(&digest)
                )));
            }
        } else {
            while data.len() < size as usize {
                let n = (size as usize - data.len()).min(64) as u32;
                let at = offset + data.len() as u32;
                let (_, d) = self
                    .command(&Command::ReadFlashSlow { offset: at, len: n }, 64)
                    .await?;
                data.extend_from_slice(&d[..n as usize]);
                if data.len() % 1024 == 0 || data.len() == size as usize {
                    let elapsed = self.now() - started;
                    self.progress(Progress::new(
                        Phase::Reading,
                        data.len() as u64,
                        size as u64,
                        elapsed,
                    ));
                }
            }
        }
        Ok(data)
    }

    /// Reads `size` bytes at `offset` where only the first `head` usually hold anything (a
    /// partition table, an otadata sector): the rest crosses the link only if its MD5 says it
    /// is not erased. The same bytes as [`Loader::read_flash`], in a fraction of the time.
    pub async fn read_flash_head(&mut self, offset: u32, size: u32, head: u32) -> Result<Vec<u8>> {
        if head >= size {
            return self.read_flash(offset, size).await;
        }
        let mut bytes = self.read_flash(offset, head).await?;
        let rest = size - head;
        let erased = vec![0xFF; rest as usize];
        if self.flash_md5(offset + head, rest).await? == md5(&erased) {
            bytes.extend_from_slice(&erased);
        } else {
            bytes.extend(self.read_flash(offset + head, rest).await?);
        }
        Ok(bytes)
    }

    /// Erases the whole flash (stub ERASE_FLASH; the ROM erases it through FLASH_BEGIN).
    pub async fn erase_flash(&mut self) -> Result<()> {
        let flash = self.flash_info().await?;
        if !self.is_stub {
            return self.erase_region(0, flash.size).await;
        }
        let started = self.now();
        self.progress(Progress::new(
            Phase::Erasing,
            0,
            flash.size as u64,
            Duration::ZERO,
        ));
        self.command(&Command::EraseFlash, 0).await?;
        let elapsed = self.now() - started;
        self.progress(Progress::new(
            Phase::Erasing,
            flash.size as u64,
            flash.size as u64,
            elapsed,
        ));
        Ok(())
    }

    /// Erases whole sectors (stub ERASE_REGION; the ROM erases through FLASH_BEGIN).
    pub async fn erase_region(&mut self, offset: u32, size: u32) -> Result<()> {
        if !offset.is_multiple_of(0x1000) || !size.is_multiple_of(0x1000) {
            return Err(Refusal::Unaligned { offset, size }.into());
        }
        let flash = self.flash_info().await?;
        if offset as u64 + size as u64 > flash.size as u64 {
            return Err(Refusal::PastFlashEnd {
                offset,
                len: size as u64,
                flash: flash.size,
            }
            .into());
        }
        self.progress(Progress::new(
            Phase::Erasing,
            0,
            size as u64,
            Duration::ZERO,
        ));
        let started = self.now();
        if self.is_stub {
            self.command(&Command::EraseRegion { offset, size }, 0)
                .await?;
        } else {
            let begin = Command::FlashBegin {
                size,
                blocks: 0,
                block_size: ROM_BLOCK as u32,
                offset,
                encrypted: self
                    .require_supported()?
                    .begin_takes_encrypt_flag
                    .then_some(0),
            };
            self.command(&begin, 0).await?;
        }
        let elapsed = self.now() - started;
        self.progress(Progress::new(
            Phase::Erasing,
            size as u64,
            size as u64,
            elapsed,
        ));
        Ok(())
    }
}
