//! Secure boot v2 signature blocks, as `espsecure sign-data --version 2` appends them and the
//! ESP-IDF bootloader looks for them: the image padded with 0xFF to a 4 KiB boundary, then a
//! 4 KiB signature sector whose first 1216-byte block starts with magic 0xE7 and a scheme byte
//! (0x02 RSA-PSS, 0x03 ECDSA) and carries a CRC-32 of its first 1196 bytes at 1196.
//!
//! Only the block's presence and integrity are checked here: whether its key is the one this
//! chip trusts (a digest in eFuse) is not, and is never claimed.
//!
//! Source: esptool 5.6.0 `espsecure/__init__.py` (`SIG_BLOCK_MAGIC`, `SIG_BLOCK_VERSION_*`,
//! `SECTOR_SIZE`, `validate_signature_block`).

use super::crc32_le;

pub const SECTOR: usize = 4096;
pub const BLOCK_LEN: usize = 1216;
const MAGIC: u8 = 0xE7;
const CRC_AT: usize = 1196;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    RsaPss,
    Ecdsa,
}

/// Where the signature sector of an image `image_len` bytes long starts.
pub fn sector_at(image_len: u64) -> u64 {
    image_len.div_ceil(SECTOR as u64) * SECTOR as u64
}

/// The scheme of the first valid signature block after an image of `image_len` bytes in
/// `bytes`, or None when there is none (unsigned, cut off, or damaged).
pub fn v2_signature(bytes: &[u8], image_len: u64) -> Option<Scheme> {
    let at = usize::try_from(sector_at(image_len)).ok()?;
    let block = bytes.get(at..at.checked_add(BLOCK_LEN)?)?;
    let crc = u32::from_le_bytes(block[CRC_AT..CRC_AT + 4].try_into().ok()?);
    if block[0] != MAGIC || crc32_le(0, &block[..CRC_AT]) != crc {
        return None;
    }
    match block[1] {
        0x02 => Some(Scheme::RsaPss),
        0x03 => Some(Scheme::Ecdsa),
        _ => None,
    }
}

/// A block as espsecure lays it out (signature bytes arbitrary: only the frame is read).
#[cfg(test)]
pub(crate) fn test_block(scheme: u8) -> Vec<u8> {
    let mut b = vec![0u8; BLOCK_LEN];
    b[0] = MAGIC;
    b[1] = scheme;
    let crc = crc32_le(0, &b[..CRC_AT]);
    b[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_block_after_the_padded_image() {
        let mut img = vec![0xE9; 5000];
        assert_eq!(v2_signature(&img, 5000), None, "unsigned");
        img.resize(8192, 0xFF);
        img.extend(test_block(3));
        img.resize(8192 + SECTOR, 0xFF);
        assert_eq!(v2_signature(&img, 5000), Some(Scheme::Ecdsa));
        img[8192 + 10] ^= 1;
        assert_eq!(v2_signature(&img, 5000), None, "a damaged block");
        assert_eq!(sector_at(8192), 8192);
    }
}
