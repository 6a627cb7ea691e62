//! The ROM loader and flasher-stub command set, in one place: opcodes, request encoding (host)
//! and decoding (simulated device), responses and status bytes, error codes, timeouts.
//!
//! Packet = `00 op len:u16 checksum:u32 payload` (requests), `01 op len:u16 value:u32 data`
//! (responses). `checksum` is the ESP checksum of the data part of MEM_DATA/FLASH_DATA/
//! FLASH_DEFL_DATA (after their 16-byte header). ESP32-and-later ROMs end a response with 4
//! status bytes, the stub with 2; esptool reads only the first two.

use crate::formats::esp_checksum;
use std::time::Duration;

/// Defines the opcode constants in `op` and their names in [`op_name`], from one list.
macro_rules! opcodes {
    ($($name:ident = $v:literal,)*) => {
        pub mod op {
            $(pub const $name: u8 = $v;)*
        }

        pub fn op_name(o: u8) -> &'static str {
            match o {
                $($v => stringify!($name),)*
                _ => "UNKNOWN",
            }
        }
    };
}

opcodes! {
    FLASH_BEGIN = 0x02,
    FLASH_DATA = 0x03,
    FLASH_END = 0x04,
    MEM_BEGIN = 0x05,
    MEM_END = 0x06,
    MEM_DATA = 0x07,
    SYNC = 0x08,
    WRITE_REG = 0x09,
    READ_REG = 0x0A,
    SPI_SET_PARAMS = 0x0B,
    SPI_ATTACH = 0x0D,
    READ_FLASH_SLOW = 0x0E,
    CHANGE_BAUDRATE = 0x0F,
    FLASH_DEFL_BEGIN = 0x10,
    FLASH_DEFL_DATA = 0x11,
    FLASH_DEFL_END = 0x12,
    SPI_FLASH_MD5 = 0x13,
    GET_SECURITY_INFO = 0x14,
    ERASE_FLASH = 0xD0,
    ERASE_REGION = 0xD1,
    READ_FLASH = 0xD2,
    RUN_USER_CODE = 0xD3,
}

/// esptool's timeouts (loader.py): fixed ones, and per-megabyte ones with a 3 s floor.
pub mod timeouts {
    use std::time::Duration;
    pub const DEFAULT: Duration = Duration::from_secs(3);
    pub const SYNC: Duration = Duration::from_millis(100);
    pub const MEM_END_ROM: Duration = Duration::from_millis(200);
    pub const CHIP_ERASE: Duration = Duration::from_secs(120);
    pub const MAX: Duration = Duration::from_secs(240);
    pub const MD5_PER_MB: f64 = 8.0;
    pub const ERASE_REGION_PER_MB: f64 = 40.0;
    pub const ERASE_WRITE_PER_MB: f64 = 40.0;

    /// `timeout_per_mb`: seconds per 10^6 bytes, at least DEFAULT, at most MAX.
    pub fn per_mb(seconds_per_mb: f64, bytes: u64) -> Duration {
        let t = Duration::from_secs_f64(seconds_per_mb * bytes as f64 / 1e6);
        t.clamp(DEFAULT, MAX)
    }
}

/// SYNC payload: 07 07 12 20 then 32 × 0x55.
pub const SYNC_PAYLOAD: [u8; 36] = {
    let mut p = [0x55u8; 36];
    p[0] = 0x07;
    p[1] = 0x07;
    p[2] = 0x12;
    p[3] = 0x20;
    p
};

/// One WRITE_REG group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegWrite {
    pub addr: u32,
    pub value: u32,
    pub mask: u32,
    pub delay_us: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// ROM: `size` = bytes to erase; stub: exact size. `encrypted` is absent for the ESP32 ROM.
    FlashBegin {
        size: u32,
        blocks: u32,
        block_size: u32,
        offset: u32,
        encrypted: Option<u32>,
    },
    FlashData {
        seq: u32,
        data: Vec<u8>,
    },
    /// `run`: false = reboot, true = stay / run user code.
    FlashEnd {
        run: bool,
    },
    MemBegin {
        size: u32,
        blocks: u32,
        block_size: u32,
        addr: u32,
    },
    MemEnd {
        entry: Option<u32>,
    },
    MemData {
        seq: u32,
        data: Vec<u8>,
    },
    Sync,
    WriteReg(Vec<RegWrite>),
    ReadReg {
        addr: u32,
    },
    SpiSetParams {
        id: u32,
        total_size: u32,
        block_size: u32,
        sector_size: u32,
        page_size: u32,
        status_mask: u32,
    },
    /// ROM: config + is_legacy byte (8 bytes); stub: config only (4 bytes).
    SpiAttach {
        config: u32,
        rom_form: bool,
    },
    ReadFlashSlow {
        offset: u32,
        len: u32,
    },
    /// `old`: 0 for the ROM, the current baud for the stub.
    ChangeBaud {
        new: u32,
        old: u32,
    },
    /// ROM: `size` rounded up to the 0x400 block; stub: exact uncompressed size.
    FlashDeflBegin {
        size: u32,
        blocks: u32,
        block_size: u32,
        offset: u32,
        encrypted: Option<u32>,
    },
    FlashDeflData {
        seq: u32,
        data: Vec<u8>,
    },
    FlashDeflEnd {
        run: bool,
    },
    SpiFlashMd5 {
        offset: u32,
        size: u32,
    },
    GetSecurityInfo,
    EraseFlash,
    EraseRegion {
        offset: u32,
        size: u32,
    },
    ReadFlash {
        offset: u32,
        size: u32,
        packet_size: u32,
        max_in_flight: u32,
    },
    RunUserCode,
}

fn words(p: &[u8]) -> Vec<u32> {
    p.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn put(out: &mut Vec<u8>, ws: &[u32]) {
    for w in ws {
        out.extend_from_slice(&w.to_le_bytes());
    }
}

impl Command {
    pub fn op(&self) -> u8 {
        use Command::*;
        match self {
            FlashBegin { .. } => op::FLASH_BEGIN,
            FlashData { .. } => op::FLASH_DATA,
            FlashEnd { .. } => op::FLASH_END,
            MemBegin { .. } => op::MEM_BEGIN,
            MemEnd { .. } => op::MEM_END,
            MemData { .. } => op::MEM_DATA,
            Sync => op::SYNC,
            WriteReg(_) => op::WRITE_REG,
            ReadReg { .. } => op::READ_REG,
            SpiSetParams { .. } => op::SPI_SET_PARAMS,
            SpiAttach { .. } => op::SPI_ATTACH,
            ReadFlashSlow { .. } => op::READ_FLASH_SLOW,
            ChangeBaud { .. } => op::CHANGE_BAUDRATE,
            FlashDeflBegin { .. } => op::FLASH_DEFL_BEGIN,
            FlashDeflData { .. } => op::FLASH_DEFL_DATA,
            FlashDeflEnd { .. } => op::FLASH_DEFL_END,
            SpiFlashMd5 { .. } => op::SPI_FLASH_MD5,
            GetSecurityInfo => op::GET_SECURITY_INFO,
            EraseFlash => op::ERASE_FLASH,
            EraseRegion { .. } => op::ERASE_REGION,
            ReadFlash { .. } => op::READ_FLASH,
            RunUserCode => op::RUN_USER_CODE,
        }
    }

    pub fn name(&self) -> &'static str {
        op_name(self.op())
    }

    /// The payload after the 8-byte header.
    pub fn payload(&self) -> Vec<u8> {
        use Command::*;
        let mut p = vec![];
        match self {
            FlashBegin {
                size,
                blocks,
                block_size,
                offset,
                encrypted,
            }
            | FlashDeflBegin {
                size,
                blocks,
                block_size,
                offset,
                encrypted,
            } => {
                put(&mut p, &[*size, *blocks, *block_size, *offset]);
                if let Some(e) = encrypted {
                    put(&mut p, &[*e]);
                }
            }
            FlashData { seq, data } | MemData { seq, data } | FlashDeflData { seq, data } => {
                put(&mut p, &[data.len() as u32, *seq, 0, 0]);
                p.extend_from_slice(data);
            }
            FlashEnd { run } | FlashDeflEnd { run } => put(&mut p, &[*run as u32]),
            MemBegin {
                size,
                blocks,
                block_size,
                addr,
            } => put(&mut p, &[*size, *blocks, *block_size, *addr]),
            MemEnd { entry } => put(&mut p, &[entry.is_none() as u32, entry.unwrap_or(0)]),
            Sync => p.extend_from_slice(&SYNC_PAYLOAD),
            WriteReg(ws) => {
                for w in ws {
                    put(&mut p, &[w.addr, w.value, w.mask, w.delay_us]);
                }
            }
            ReadReg { addr } => put(&mut p, &[*addr]),
            SpiSetParams {
                id,
                total_size,
                block_size,
                sector_size,
                page_size,
                status_mask,
            } => put(
                &mut p,
                &[
                    *id,
                    *total_size,
                    *block_size,
                    *sector_size,
                    *page_size,
                    *status_mask,
                ],
            ),
            SpiAttach { config, rom_form } => {
                put(&mut p, &[*config]);
                if *rom_form {
                    put(&mut p, &[0]);
                }
            }
            ReadFlashSlow { offset, len } => put(&mut p, &[*offset, *len]),
            ChangeBaud { new, old } => put(&mut p, &[*new, *old]),
            SpiFlashMd5 { offset, size } => put(&mut p, &[*offset, *size, 0, 0]),
            GetSecurityInfo | EraseFlash | RunUserCode => {}
            EraseRegion { offset, size } => put(&mut p, &[*offset, *size]),
            ReadFlash {
                offset,
                size,
                packet_size,
                max_in_flight,
            } => put(&mut p, &[*offset, *size, *packet_size, *max_in_flight]),
        }
        p
    }

    /// The checksum field: the ESP checksum of the data for data commands, else 0.
    pub fn checksum(&self) -> u32 {
        match self {
            Command::FlashData { data, .. }
            | Command::MemData { data, .. }
            | Command::FlashDeflData { data, .. } => esp_checksum(data) as u32,
            _ => 0,
        }
    }

    /// The whole request packet (before SLIP framing).
    pub fn encode(&self) -> Vec<u8> {
        let payload = self.payload();
        let mut pkt = Vec::with_capacity(8 + payload.len());
        pkt.push(0x00);
        pkt.push(self.op());
        pkt.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        pkt.extend_from_slice(&self.checksum().to_le_bytes());
        pkt.extend_from_slice(&payload);
        pkt
    }

    /// Device side: decodes a request packet. Err gives the reason for an "invalid message" reply.
    pub fn decode(pkt: &[u8]) -> Result<(Command, u32), DecodeError> {
        if pkt.len() < 8 || pkt[0] != 0x00 {
            return Err(DecodeError::NotARequest);
        }
        let opcode = pkt[1];
        let len = u16::from_le_bytes([pkt[2], pkt[3]]) as usize;
        let chk = u32::from_le_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
        let p = &pkt[8..];
        if p.len() != len {
            return Err(DecodeError::BadLength(opcode));
        }
        Ok((Self::body(opcode, p)?, chk))
    }

    /// The command `opcode` with its payload `p`: the data-transfer commands, then the rest.
    fn body(opcode: u8, p: &[u8]) -> Result<Command, DecodeError> {
        if let Some(c) = Self::transfer(opcode, p)? {
            return Ok(c);
        }
        let w = words(p);
        use Command::*;
        Ok(match opcode {
            op::SYNC => {
                if p != SYNC_PAYLOAD {
                    return Err(DecodeError::BadLength(opcode));
                }
                Sync
            }
            op::WRITE_REG => {
                if p.is_empty() || !p.len().is_multiple_of(16) {
                    return Err(DecodeError::BadLength(opcode));
                }
                WriteReg(
                    w.chunks_exact(4)
                        .map(|g| RegWrite {
                            addr: g[0],
                            value: g[1],
                            mask: g[2],
                            delay_us: g[3],
                        })
                        .collect(),
                )
            }
            op::READ_REG => {
                need(p, 1, opcode)?;
                ReadReg { addr: w[0] }
            }
            op::SPI_SET_PARAMS => {
                need(p, 6, opcode)?;
                SpiSetParams {
                    id: w[0],
                    total_size: w[1],
                    block_size: w[2],
                    sector_size: w[3],
                    page_size: w[4],
                    status_mask: w[5],
                }
            }
            op::SPI_ATTACH => {
                need(p, 1, opcode)?;
                SpiAttach {
                    config: w[0],
                    rom_form: p.len() >= 8,
                }
            }
            op::READ_FLASH_SLOW => {
                need(p, 2, opcode)?;
                ReadFlashSlow {
                    offset: w[0],
                    len: w[1],
                }
            }
            op::CHANGE_BAUDRATE => {
                need(p, 2, opcode)?;
                ChangeBaud {
                    new: w[0],
                    old: w[1],
                }
            }
            op::SPI_FLASH_MD5 => {
                need(p, 2, opcode)?;
                SpiFlashMd5 {
                    offset: w[0],
                    size: w[1],
                }
            }
            op::GET_SECURITY_INFO => GetSecurityInfo,
            op::ERASE_FLASH => EraseFlash,
            op::ERASE_REGION => {
                need(p, 2, opcode)?;
                EraseRegion {
                    offset: w[0],
                    size: w[1],
                }
            }
            op::READ_FLASH => {
                need(p, 4, opcode)?;
                ReadFlash {
                    offset: w[0],
                    size: w[1],
                    packet_size: w[2],
                    max_in_flight: w[3],
                }
            }
            op::RUN_USER_CODE => RunUserCode,
            other => return Err(DecodeError::Unknown(other)),
        })
    }

    /// The commands that carry data to flash or RAM (BEGIN, DATA, END), or None for another
    /// opcode.
    fn transfer(opcode: u8, p: &[u8]) -> Result<Option<Command>, DecodeError> {
        let w = words(p);
        let data_cmd = |w: &[u32]| -> Result<(u32, Vec<u8>), DecodeError> {
            if p.len() < 16 || w[0] as usize != p.len() - 16 {
                return Err(DecodeError::BadLength(opcode));
            }
            Ok((w[1], p[16..].to_vec()))
        };
        use Command::*;
        Ok(Some(match opcode {
            op::FLASH_BEGIN | op::FLASH_DEFL_BEGIN => {
                if p.len() != 16 && p.len() != 20 {
                    return Err(DecodeError::BadLength(opcode));
                }
                let (size, blocks, block_size, offset, encrypted) =
                    (w[0], w[1], w[2], w[3], w.get(4).copied());
                if opcode == op::FLASH_BEGIN {
                    FlashBegin {
                        size,
                        blocks,
                        block_size,
                        offset,
                        encrypted,
                    }
                } else {
                    FlashDeflBegin {
                        size,
                        blocks,
                        block_size,
                        offset,
                        encrypted,
                    }
                }
            }
            op::FLASH_DATA => {
                let (seq, data) = data_cmd(&w)?;
                FlashData { seq, data }
            }
            op::FLASH_DEFL_DATA => {
                let (seq, data) = data_cmd(&w)?;
                FlashDeflData { seq, data }
            }
            op::MEM_DATA => {
                let (seq, data) = data_cmd(&w)?;
                MemData { seq, data }
            }
            op::FLASH_END | op::FLASH_DEFL_END => {
                let run = w.first().is_some_and(|&x| x != 0);
                if opcode == op::FLASH_END {
                    FlashEnd { run }
                } else {
                    FlashDeflEnd { run }
                }
            }
            op::MEM_BEGIN => {
                need(p, 4, opcode)?;
                MemBegin {
                    size: w[0],
                    blocks: w[1],
                    block_size: w[2],
                    addr: w[3],
                }
            }
            op::MEM_END => {
                need(p, 2, opcode)?;
                MemEnd {
                    entry: (w[0] == 0).then_some(w[1]),
                }
            }
            _ => return Ok(None),
        }))
    }

    /// The response timeout esptool uses for this command (scaled by size where it scales).
    /// FLASH_(DEFL_)DATA depend on the uncompressed size: see [`data_block_timeout`].
    pub fn timeout(&self, stub: bool) -> Duration {
        use timeouts::*;
        match self {
            Command::Sync => SYNC,
            Command::MemEnd { .. } if !stub => MEM_END_ROM,
            Command::FlashBegin { size, .. } | Command::FlashDeflBegin { size, .. } if !stub => {
                per_mb(ERASE_REGION_PER_MB, *size as u64)
            }
            Command::FlashData { data, .. } if !stub => {
                per_mb(ERASE_WRITE_PER_MB, data.len() as u64)
            }
            Command::SpiFlashMd5 { size, .. } => per_mb(MD5_PER_MB, *size as u64),
            Command::EraseRegion { size, .. } => per_mb(ERASE_REGION_PER_MB, *size as u64),
            Command::EraseFlash => CHIP_ERASE,
            _ => DEFAULT,
        }
    }
}

/// Timeout for a compressed block that inflates to `uncompressed` bytes. The stub erases one
/// 64 KiB block before inflating and one more per 32 KiB inflate-buffer cycle (esptool cmds.py).
pub fn data_block_timeout(uncompressed: usize, stub: bool) -> Duration {
    let mut size = uncompressed as u64;
    if stub {
        size += (uncompressed as u64).div_ceil(32 * 1024).saturating_add(1) * 64 * 1024;
    }
    timeouts::per_mb(timeouts::ERASE_WRITE_PER_MB, size)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    NotARequest,
    BadLength(u8),
    Unknown(u8),
}

/// A response packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub op: u8,
    pub value: u32,
    /// Everything after the 8-byte header: command data, then the status bytes.
    pub data: Vec<u8>,
}

/// A failure the device reported in its status bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceError {
    pub status: u8,
    pub code: u8,
}

impl DeviceError {
    /// The number esptool prints (`0x0105`, `0xC100`).
    pub fn number(&self) -> u16 {
        u16::from_be_bytes([self.status, self.code])
    }

    pub fn message(&self) -> String {
        // ROM: status 1, reason in the second byte. Stub: its code in the first byte.
        let (code, name) = if self.status == 1 {
            (self.code, rom_error_name(self.code))
        } else {
            (self.status, stub_error_name(self.status))
        };
        format!("{name} (error 0x{code:02X})")
    }
}

impl std::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

pub fn rom_error_name(code: u8) -> &'static str {
    match code {
        0x00 => "undefined error",
        0x01 => "invalid parameter",
        0x02 => "malloc failed",
        0x03 => "send message failed",
        0x04 => "receive message failed",
        0x05 => "invalid message (command not supported?)",
        0x06 => "result wrong",
        0x07 => "checksum error",
        0x08 => "flash write error",
        0x09 => "flash read error",
        0x0A => "flash read length error",
        0x0B => "deflate failed",
        0x0C => "deflate adler32 error",
        0x0D => "deflate parameter error",
        0x0E => "invalid RAM binary size",
        0x0F => "invalid RAM binary address",
        0x64 => "invalid parameter",
        0x65 => "invalid format",
        0x66 => "description too long",
        0x67 => "bad encoding description",
        0x69 => "insufficient storage",
        _ => "unknown ROM error",
    }
}

pub fn stub_error_name(code: u8) -> &'static str {
    match code {
        0xC0 => "bad data length",
        0xC1 => "bad data checksum",
        0xC2 => "bad block size",
        0xC3 => "invalid command",
        0xC4 => "SPI operation failed",
        0xC5 => "SPI unlock failed",
        0xC6 => "not in flash mode",
        0xC7 => "inflate error",
        0xC8 => "not enough data",
        0xC9 => "too much data",
        0xFF => "command not implemented",
        _ => "unknown stub error",
    }
}

/// ROM error codes the simulated device sends.
pub mod rom_err {
    pub const INVALID_PARAM: u8 = 0x01;
    pub const INVALID_MESSAGE: u8 = 0x05;
    pub const CHECKSUM: u8 = 0x07;
    pub const FLASH_WRITE: u8 = 0x08;
    pub const FLASH_READ: u8 = 0x09;
    pub const FLASH_READ_LEN: u8 = 0x0A;
    pub const DEFLATE: u8 = 0x0B;
}

/// Stub error codes the simulated device sends.
pub mod stub_err {
    pub const BAD_DATA_LEN: u8 = 0xC0;
    pub const BAD_DATA_CHECKSUM: u8 = 0xC1;
    pub const BAD_BLOCKSIZE: u8 = 0xC2;
    pub const INVALID_COMMAND: u8 = 0xC3;
    pub const NOT_IN_FLASH_MODE: u8 = 0xC6;
    pub const INFLATE: u8 = 0xC7;
    pub const TOO_MUCH_DATA: u8 = 0xC9;
    pub const NOT_IMPLEMENTED: u8 = 0xFF;
}

impl Response {
    /// Parses a frame as a response; None if it is not one (esptool skips those).
    pub fn parse(frame: &[u8]) -> Option<Response> {
        if frame.len() < 8 || frame[0] != 0x01 {
            return None;
        }
        Some(Response {
            op: frame[1],
            value: u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]),
            data: frame[8..].to_vec(),
        })
    }

    /// Checks the status bytes that follow `data_len` bytes of command data (as esptool's
    /// `check_command` does) and returns the command data.
    pub fn check(&self, data_len: usize) -> Result<&[u8], StatusError> {
        if self.data.len() < data_len + 2 {
            return match self.data.first() {
                Some(&s) if s != 0 => Err(StatusError::Device(DeviceError {
                    status: s,
                    code: self.data.get(1).copied().unwrap_or(0),
                })),
                _ => Err(StatusError::Short(self.data.len())),
            };
        }
        let s = &self.data[data_len..data_len + 2];
        if s[0] != 0 {
            return Err(StatusError::Device(DeviceError {
                status: s[0],
                code: s[1],
            }));
        }
        Ok(&self.data[..data_len])
    }

    /// Device side: a response packet with `data` then `status` bytes.
    pub fn encode(op: u8, value: u32, data: &[u8], status: &[u8]) -> Vec<u8> {
        let len = (data.len() + status.len()) as u16;
        let mut pkt = Vec::with_capacity(8 + len as usize);
        pkt.push(0x01);
        pkt.push(op);
        pkt.extend_from_slice(&len.to_le_bytes());
        pkt.extend_from_slice(&value.to_le_bytes());
        pkt.extend_from_slice(data);
        pkt.extend_from_slice(status);
        pkt
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusError {
    Device(DeviceError),
    /// The response ended before its status bytes.
    Short(usize),
}

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusError::Device(e) => e.fmt(f),
            StatusError::Short(n) => write!(f, "only a {n}-byte status in the response"),
        }
    }
}

/// The payload `p` of `opcode` holds at least `n` words.
fn need(p: &[u8], n: usize, opcode: u8) -> Result<(), DecodeError> {
    if p.len() >= n * 4 {
        Ok(())
    } else {
        Err(DecodeError::BadLength(opcode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::hex;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Packets esptool 5.6 sent, verbatim (shared reference KEY_PACKETS.md).
    #[test]
    fn encodes_like_esptool() {
        let cases: Vec<(Command, &str)> = vec![
            (Command::Sync, "c00008240000000000070712205555555555555555555555555555555555555555555555555555555555555555c0"),
            (Command::GetSecurityInfo, "c00014000000000000c0"),
            (Command::ReadReg { addr: crate::chips::CHIP_DETECT_MAGIC_REG }, "c0000a04000000000000100040c0"),
            (Command::ChangeBaud { new: 460800, old: 0 }, "c0000f0800000000000008070000000000c0"),
            (Command::ChangeBaud { new: 921600, old: 115200 }, "c0000f08000000000000100e0000c20100c0"),
            (Command::SpiAttach { config: 0, rom_form: true }, "c0000d0800000000000000000000000000c0"),
            (
                Command::SpiSetParams { id: 0, total_size: 0x400000, block_size: 0x10000, sector_size: 0x1000, page_size: 0x100, status_mask: 0xFFFF },
                "c0000b1800000000000000000000004000000001000010000000010000ffff0000c0",
            ),
            (
                Command::FlashDeflBegin { size: 0x2000, blocks: 5, block_size: 0x400, offset: 0x1000, encrypted: None },
                "c0001010000000000000200000050000000004000000100000c0",
            ),
            (
                Command::FlashDeflBegin { size: 0x1ed0, blocks: 1, block_size: 0x4000, offset: 0x10000, encrypted: Some(0) },
                "c00010140000000000d01e000001000000004000000000010000000000c0",
            ),
            (Command::SpiFlashMd5 { offset: 0x1000, size: 0x1ed0 }, "c0001310000000000000100000d01e00000000000000000000c0"),
            (Command::MemEnd { entry: Some(0x400a902c) }, "c00006080000000000000000002c900a40c0"),
            (Command::FlashDeflEnd { run: true }, "c0001204000000000001000000c0"),
            (
                Command::ReadFlash { offset: 0xe000, size: 0x2000, packet_size: 0x1000, max_in_flight: 64 },
                "c000d210000000000000e00000002000000010000040000000c0",
            ),
            (Command::EraseRegion { offset: 0xe000, size: 0x2000 }, "c000d108000000000000e0000000200000c0"),
            (Command::FlashEnd { run: false }, "c0000404000000000000000000c0"),
        ];
        for (cmd, wire) in cases {
            let pkt = cmd.encode();
            assert_eq!(
                hex(&crate::wire::slip::encode(&pkt)),
                wire,
                "{}",
                cmd.name()
            );
            let (back, _) = Command::decode(&pkt).unwrap();
            assert_eq!(back, cmd);
        }
    }

    #[test]
    fn data_checksum_field() {
        let data = unhex("149a0040e0950040");
        let cmd = Command::FlashData {
            seq: 7,
            data: data.clone(),
        };
        let pkt = cmd.encode();
        assert_eq!(pkt[4] as u32, esp_checksum(&data) as u32);
        assert_eq!(&pkt[8..12], &(data.len() as u32).to_le_bytes());
    }

    #[test]
    fn responses_and_status() {
        // ROM READ_REG: value in the header, 4 status bytes.
        let r = Response::parse(&unhex("010a0400831df00000000000")).unwrap();
        assert_eq!(
            (r.op, r.value),
            (op::READ_REG, crate::chips::ESP32.magic[0])
        );
        assert!(r.check(0).is_ok());
        // ROM refusing GET_SECURITY_INFO: status 1, error 5.
        let r = Response::parse(&unhex("011404000000000001050000")).unwrap();
        let e = r.check(0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid message (command not supported?) (error 0x05)"
        );
        // Stub MD5: 16 raw bytes then 2 status bytes.
        let r = Response::parse(&unhex(
            "0113120000000000ddee158395799e215dff5c93d8f780970000",
        ))
        .unwrap();
        assert_eq!(
            hex(r.check(16).unwrap()),
            "ddee158395799e215dff5c93d8f78097"
        );
        // Stub error: code first.
        let r =
            Response::parse(&Response::encode(op::FLASH_DEFL_DATA, 0, &[], &[0xC1, 0])).unwrap();
        let StatusError::Device(e) = r.check(0).unwrap_err() else {
            panic!()
        };
        assert_eq!(
            (e.number(), e.message()),
            (0xC100, "bad data checksum (error 0xC1)".to_string())
        );
        assert!(Response::parse(&[0x00, 1, 2]).is_none());
    }

    #[test]
    fn timeouts_scale_like_esptool() {
        assert_eq!(Command::Sync.timeout(false), timeouts::SYNC);
        assert_eq!(
            Command::SpiFlashMd5 {
                offset: 0,
                size: 1_000_000
            }
            .timeout(true),
            Duration::from_secs(8)
        );
        assert_eq!(
            Command::SpiFlashMd5 {
                offset: 0,
                size: 1000
            }
            .timeout(true),
            timeouts::DEFAULT
        );
        let begin = Command::FlashBegin {
            size: 0x200000,
            blocks: 1,
            block_size: 0x400,
            offset: 0,
            encrypted: None,
        };
        assert!(
            begin.timeout(false) > Duration::from_secs(80)
                && begin.timeout(true) == timeouts::DEFAULT
        );
        assert_eq!(data_block_timeout(0x4000, false), timeouts::DEFAULT);
        assert!(data_block_timeout(0x20000, true) > Duration::from_secs(13));
    }

    #[test]
    fn decode_rejects_garbage() {
        assert_eq!(Command::decode(&[1, 2]), Err(DecodeError::NotARequest));
        assert_eq!(
            Command::decode(&[0, 0x0A, 4, 0, 0, 0, 0, 0, 1]),
            Err(DecodeError::BadLength(0x0A))
        );
        assert_eq!(
            Command::decode(&[0, 0x77, 0, 0, 0, 0, 0, 0]),
            Err(DecodeError::Unknown(0x77))
        );
    }
}
