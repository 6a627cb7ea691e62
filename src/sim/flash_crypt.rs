//! Flash encryption as the chips after the ESP32 do it (XTS-AES-128 with a 256-bit key: two
//! AES-128 keys), laid out as the hardware and `espsecure encrypt-flash-data --aes-xts` lay it
//! out: 128-byte data units, the tweak the unit's flash address (little-endian, zero-padded to
//! 16 bytes), each unit byte-reversed before and after the standard XTS transform. Every 16-byte
//! piece is transformed on its own (XTS chains nothing between blocks), so writes need only be
//! 16-byte aligned.
//!
//! The simulator's model of the chip's flash-encryption block (native builds only): it lets a
//! simulated chip in development mode encrypt what it is sent with the encrypted flag, and its
//! bootloader read through the encryption, with a key the test gives it. The ESP32's own
//! (AES-256, pre-XTS) scheme is not modelled.
//!
//! Source: esptool 5.6.0 `espsecure/__init__.py` (`_flash_encryption_operation_aes_xts`,
//! `_load_hardware_key`); IEEE 1619 (XTS).

#[cfg(not(target_arch = "wasm32"))]
pub use native::FlashKey;
#[cfg(target_arch = "wasm32")]
pub use page::FlashKey;

use super::flash::SECTOR;
use crate::formats::partition::{PartitionTable, DEFAULT_TABLE_OFFSET};

/// The chip's flash-encryption block with `key`; None where it is not modelled (the page).
pub fn block(key: &[u8; 32]) -> Option<FlashKey> {
    #[cfg(not(target_arch = "wasm32"))]
    return Some(FlashKey::new(key));
    #[cfg(target_arch = "wasm32")]
    {
        let _ = key;
        None
    }
}

/// The flash as the bootloader reads it through the decryption: the bootloader, the table,
/// the apps and the partitions flagged encrypted (otadata and NVS stay as stored).
pub(super) fn decrypted_view(key: &FlashKey, flash: &[u8], bootloader_at: u32) -> Vec<u8> {
    let mut v = flash.to_vec();
    let decrypt = |v: &mut Vec<u8>, at: usize, len: usize| {
        let end = (at + len).min(v.len());
        if at < end {
            key.apply(at as u32, &mut v[at..end], false);
        }
    };
    let table_at = DEFAULT_TABLE_OFFSET as usize;
    decrypt(
        &mut v,
        bootloader_at as usize,
        table_at - bootloader_at as usize,
    );
    decrypt(&mut v, table_at, SECTOR as usize);
    if let Ok(t) = PartitionTable::from_flash(&v, DEFAULT_TABLE_OFFSET) {
        for p in t.entries.iter().filter(|p| p.is_app() || p.encrypted()) {
            decrypt(&mut v, p.offset as usize, p.size as usize);
        }
    }
    v
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
    use aes::Aes128;

    /// A 256-bit flash-encryption key (as espsecure reads a 32-byte key file).
    #[derive(Clone)]
    pub struct FlashKey {
        data: Aes128,
        tweak: Aes128,
    }

    impl std::fmt::Debug for FlashKey {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("FlashKey(..)")
        }
    }

    const UNIT: usize = 128;

    impl FlashKey {
        pub fn new(key: &[u8; 32]) -> FlashKey {
            FlashKey {
                data: Aes128::new_from_slice(&key[..16]).expect("16-byte key"),
                tweak: Aes128::new_from_slice(&key[16..]).expect("16-byte key"),
            }
        }

        /// Encrypts (or decrypts) `buf`, which sits at flash address `addr`; both 16-byte aligned.
        pub fn apply(&self, addr: u32, buf: &mut [u8], encrypt: bool) {
            assert!(
                addr.is_multiple_of(16) && buf.len().is_multiple_of(16),
                "16-byte aligned"
            );
            for (i, piece) in buf.chunks_mut(16).enumerate() {
                let at = addr as usize + i * 16;
                let unit = at & !(UNIT - 1);
                // The piece's place in the reversed unit: block 7 - k, its bytes reversed.
                let k = (at - unit) / 16;
                let j = UNIT / 16 - 1 - k;
                let mut t = [0u8; 16];
                t[..4].copy_from_slice(&(unit as u32).to_le_bytes());
                let mut t = aes::Block::from(t);
                self.tweak.encrypt_block(&mut t);
                for _ in 0..j {
                    times_alpha(&mut t);
                }
                piece.reverse();
                let mut b = aes::Block::clone_from_slice(piece);
                for (x, y) in b.iter_mut().zip(t.iter()) {
                    *x ^= y;
                }
                if encrypt {
                    self.data.encrypt_block(&mut b);
                } else {
                    self.data.decrypt_block(&mut b);
                }
                for (x, y) in b.iter_mut().zip(t.iter()) {
                    *x ^= y;
                }
                piece.copy_from_slice(&b);
                piece.reverse();
            }
        }
    }

    /// Multiplies the tweak by α in GF(2^128) (little-endian, IEEE 1619).
    fn times_alpha(t: &mut aes::Block) {
        let mut carry = 0u8;
        for b in t.iter_mut() {
            let next = *b >> 7;
            *b = (*b << 1) | carry;
            carry = next;
        }
        if carry != 0 {
            t[0] ^= 0x87;
        }
    }
}

/// The page's simulated chip has no flash-encryption block (the cipher would weigh on the
/// page): a key that is never made.
#[cfg(target_arch = "wasm32")]
mod page {
    pub struct FlashKey;

    impl FlashKey {
        pub fn apply(&self, _: u32, _: &mut [u8], _: bool) {}
    }
}
