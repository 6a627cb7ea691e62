//! NOR flash: erase sets bytes to 0xFF (4 KiB sectors, 64 KiB blocks), programming can only
//! clear bits (256-byte pages). Counts operations so that a power cut can land after any of
//! them, and keeps the dirty ranges so that a backing file can follow every completed write.

use std::ops::Range;
use std::time::Duration;

pub const SECTOR: u32 = 0x1000;
pub const BLOCK: u32 = 0x10000;
pub const PAGE: u32 = 0x100;

/// Typical times of a W25Q32/64-class SPI NOR chip (datasheet "typ" column).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlashTiming {
    pub sector_erase: Duration,
    pub block_erase: Duration,
    pub page_program: Duration,
    /// Reading (for MD5 and READ_FLASH), bytes per second.
    pub read_bytes_per_sec: f64,
}

impl FlashTiming {
    pub const W25Q: FlashTiming = FlashTiming {
        sector_erase: Duration::from_millis(45),
        block_erase: Duration::from_millis(150),
        page_program: Duration::from_micros(400),
        read_bytes_per_sec: 10.0e6,
    };
    pub const INSTANT: FlashTiming = FlashTiming {
        sector_erase: Duration::ZERO,
        block_erase: Duration::ZERO,
        page_program: Duration::ZERO,
        read_bytes_per_sec: f64::INFINITY,
    };

    pub fn read(&self, bytes: usize) -> Duration {
        if self.read_bytes_per_sec.is_finite() {
            Duration::from_secs_f64(bytes as f64 / self.read_bytes_per_sec)
        } else {
            Duration::ZERO
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashError {
    OutOfRange,
    Unaligned,
    /// Power was cut during (or before) this operation.
    PowerLost,
}

#[derive(Debug, Clone)]
pub struct Flash {
    data: Vec<u8>,
    ops: u64,
    /// Cut power when the op counter reaches this value (the op in progress is torn).
    cut_at_op: Option<u64>,
    powered: bool,
    dirty: Vec<Range<usize>>,
    pub timing: FlashTiming,
    /// Addresses that do not take programming (bits stuck at 1).
    pub stuck: Vec<u32>,
}

impl Flash {
    pub fn new(data: Vec<u8>, timing: FlashTiming) -> Self {
        Flash {
            data,
            ops: 0,
            cut_at_op: None,
            powered: true,
            dirty: vec![],
            timing,
            stuck: vec![],
        }
    }

    pub fn size(&self) -> u32 {
        self.data.len() as u32
    }

    pub fn contents(&self) -> &[u8] {
        &self.data
    }

    /// Operations (sector/block erases, page programs) done so far.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    pub fn powered(&self) -> bool {
        self.powered
    }

    /// Cut power after `n` more operations complete (the next one is torn).
    pub fn cut_power_after(&mut self, n: u64) {
        self.cut_at_op = Some(self.ops + n);
    }

    /// Power back on (the flash keeps its contents, torn or not).
    pub fn power_on(&mut self) {
        self.powered = true;
        self.cut_at_op = None;
    }

    pub fn read(&self, offset: u32, len: u32) -> Result<&[u8], FlashError> {
        let (s, e) = self.range(offset, len)?;
        Ok(&self.data[s..e])
    }

    fn range(&self, offset: u32, len: u32) -> Result<(usize, usize), FlashError> {
        let s = offset as usize;
        let e = s.checked_add(len as usize).ok_or(FlashError::OutOfRange)?;
        if e > self.data.len() {
            return Err(FlashError::OutOfRange);
        }
        Ok((s, e))
    }

    /// One operation begins: false (and power off) if the cut lands here.
    fn begin_op(&mut self) -> Result<bool, FlashError> {
        if !self.powered {
            return Err(FlashError::PowerLost);
        }
        if self.cut_at_op == Some(self.ops) {
            self.powered = false;
            return Ok(false);
        }
        self.ops += 1;
        Ok(true)
    }

    /// Erases `[offset, offset+len)`, which must be sector-aligned, with 64 KiB block erases
    /// where aligned and 4 KiB sector erases elsewhere. Returns the time the chip is busy.
    pub fn erase(&mut self, offset: u32, len: u32) -> Result<Duration, FlashError> {
        if !offset.is_multiple_of(SECTOR) || !len.is_multiple_of(SECTOR) {
            return Err(FlashError::Unaligned);
        }
        self.range(offset, len)?;
        let mut at = offset;
        let end = offset + len;
        let mut busy = Duration::ZERO;
        while at < end {
            let unit = if at.is_multiple_of(BLOCK) && end - at >= BLOCK {
                BLOCK
            } else {
                SECTOR
            };
            let (s, e) = (at as usize, (at + unit) as usize);
            if !self.begin_op()? {
                // Torn erase: the first half of the unit got erased.
                self.data[s..s + (e - s) / 2].fill(0xFF);
                self.dirty.push(s..e);
                return Err(FlashError::PowerLost);
            }
            self.data[s..e].fill(0xFF);
            self.dirty.push(s..e);
            busy += if unit == BLOCK {
                self.timing.block_erase
            } else {
                self.timing.sector_erase
            };
            at += unit;
        }
        Ok(busy)
    }

    /// Programs `data` at `offset` (NOR: AND into what is there), page by page.
    pub fn program(&mut self, offset: u32, data: &[u8]) -> Result<Duration, FlashError> {
        let (s, e) = self.range(offset, data.len() as u32)?;
        let mut at = s;
        let mut busy = Duration::ZERO;
        while at < e {
            let page_end = ((at / PAGE as usize) + 1) * PAGE as usize;
            let chunk_end = page_end.min(e);
            let src = &data[at - s..chunk_end - s];
            if !self.begin_op()? {
                // Torn program: the first half of the chunk made it.
                let half = src.len() / 2;
                for (d, b) in self.data[at..at + half].iter_mut().zip(src) {
                    *d &= b;
                }
                self.dirty.push(at..chunk_end);
                return Err(FlashError::PowerLost);
            }
            for (i, (d, b)) in self.data[at..chunk_end].iter_mut().zip(src).enumerate() {
                if !self.stuck.contains(&((at + i) as u32)) {
                    *d &= b;
                }
            }
            self.dirty.push(at..chunk_end);
            busy += self.timing.page_program;
            at = chunk_end;
        }
        Ok(busy)
    }

    /// Ranges changed since the last call (for a backing file).
    pub fn take_dirty(&mut self) -> Vec<Range<usize>> {
        std::mem::take(&mut self.dirty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nor_semantics_and_power_cut() {
        let mut f = Flash::new(vec![0xFF; 0x20000], FlashTiming::W25Q);
        f.program(0x10, &[0x0F, 0xF0]).unwrap();
        f.program(0x10, &[0xF3, 0xFF]).unwrap();
        assert_eq!(
            f.read(0x10, 2).unwrap(),
            &[0x03, 0xF0],
            "programming only clears bits"
        );
        let t = f.erase(0, 0x20000).unwrap();
        assert_eq!(t, Duration::from_millis(300), "two 64 KiB block erases");
        assert_eq!(f.read(0x10, 2).unwrap(), &[0xFF, 0xFF]);
        assert_eq!(f.erase(0x1000, 0x800), Err(FlashError::Unaligned));
        assert_eq!(f.program(0x1FFFF, &[0, 0]), Err(FlashError::OutOfRange));
        let ops = f.ops();
        f.cut_power_after(1);
        f.program(0x100, &[0u8; 0x200]).unwrap_err();
        assert_eq!(f.ops(), ops + 1);
        assert_eq!(
            f.read(0x100, 0x100).unwrap(),
            &[0u8; 0x100][..],
            "first page done"
        );
        assert_eq!(
            f.read(0x200, 0x80).unwrap(),
            &[0u8; 0x80][..],
            "second page torn halfway"
        );
        assert_eq!(f.read(0x280, 0x80).unwrap(), &[0xFFu8; 0x80][..]);
        assert!(!f.powered());
        assert_eq!(f.program(0, &[0]), Err(FlashError::PowerLost));
        f.power_on();
        f.program(0, &[0]).unwrap();
    }
}
