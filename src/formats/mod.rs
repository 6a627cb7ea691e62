//! ESP-IDF on-flash formats: pure functions over bytes, no I/O. Used by the CLI, the loader and
//! the page alike. Facts and their upstream sources: `esp-facts.md` in the shared reference.

pub mod boot_log;
pub mod bootable;
pub mod image;
pub mod install;
pub mod json;
pub mod manifest;
pub mod numbers;
pub mod nvs;
pub mod otadata;
pub mod partition;
pub mod signature;
pub mod sizes;
pub mod sniff;
pub mod update;

use std::fmt;

/// Why some bytes could not be decoded. The message is meant for the user as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input ends before the structure does.
    Truncated(String),
    /// The input is some other kind of file (wrong magic, wrong size class).
    WrongKind(String),
    /// The right kind of file, but its content is not acceptable.
    Invalid(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated(m) | Error::WrongKind(m) | Error::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ROM's `crc32_le(crc, buf, len)`: zlib's CRC-32 (reflected, polynomial 0xEDB88320) with
/// `crc` as the running value. Bit by bit: it only ever sees a few bytes, and a table would
/// weigh more in the page than it saves.
pub fn crc32_le(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// The ESP checksum: 0xEF XOR every byte. Used for image segment data and for the payload of
/// the loader's data commands alike.
pub fn esp_checksum(bytes: &[u8]) -> u8 {
    esp_checksum_update(0xEF, bytes)
}

/// Continues an ESP checksum over more bytes.
pub fn esp_checksum_update(state: u8, bytes: &[u8]) -> u8 {
    bytes.iter().fold(state, |c, b| c ^ b)
}

/// MD5 digest of some bytes.
pub fn md5(bytes: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(bytes).into()
}

/// SHA-256 digest of some bytes.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(crate) fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_le_is_zlibs() {
        // zlib: crc32(0, "123456789") = 0xCBF43926, the CRC-32 check value.
        assert_eq!(super::crc32_le(0, b"123456789"), 0xCBF4_3926);
        assert_eq!(super::crc32_le(0, b""), 0);
        // Running value: two halves give the whole.
        let half = super::crc32_le(0, b"12345");
        assert_eq!(super::crc32_le(half, b"6789"), 0xCBF4_3926);
    }
}
