//! ESP32-class app and bootloader images: `esp_image_header_t` (24 bytes incl. the extended
//! header), segments, the XOR checksum, the optional appended SHA-256, and `esp_app_desc_t`.

use super::{esp_checksum, esp_checksum_update, le16, le32, sha256, Error, Result};
use crate::chips::{self, Chip};

pub const IMAGE_MAGIC: u8 = 0xE9;
pub const HEADER_LEN: usize = 24;
const SEGMENT_HEADER_LEN: usize = 8;
pub const MAX_SEGMENTS: u8 = 16;
pub const APP_DESC_MAGIC: u32 = 0xABCD_5432;
const APP_DESC_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub load_addr: u32,
    pub len: u32,
    /// File offset of the segment's data (after its 8-byte header).
    pub data_offset: usize,
}

/// `esp_app_desc_t`, found at the start of the first segment of an ESP-IDF app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDesc {
    pub secure_version: u32,
    pub version: String,
    pub project_name: String,
    pub time: String,
    pub date: String,
    pub idf_ver: String,
    pub app_elf_sha256: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub segment_count: u8,
    pub flash_mode: u8,
    pub flash_freq_code: u8,
    pub flash_size_code: u8,
    pub entry: u32,
    pub wp_pin: u8,
    pub chip_id: u16,
    pub min_rev: u8,
    pub min_rev_full: u16,
    pub max_rev_full: u16,
    pub hash_appended: bool,
    pub segments: Vec<Segment>,
    pub checksum_stored: u8,
    pub checksum_computed: u8,
    /// File offset of the checksum byte.
    pub checksum_offset: usize,
    /// (stored, computed) when a digest is appended.
    pub sha256: Option<([u8; 32], [u8; 32])>,
    /// Bytes the image occupies: up to the checksum, plus the digest when appended.
    pub len: usize,
    /// Bytes in the input after the image (a signature block, or padding).
    pub trailing: usize,
    pub app: Option<AppDesc>,
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl AppDesc {
    fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < APP_DESC_LEN || le32(b, 0) != APP_DESC_MAGIC {
            return None;
        }
        let mut sha = [0u8; 32];
        sha.copy_from_slice(&b[144..176]);
        Some(AppDesc {
            secure_version: le32(b, 4),
            version: c_string(&b[16..48]),
            project_name: c_string(&b[48..80]),
            time: c_string(&b[80..96]),
            date: c_string(&b[96..112]),
            idf_ver: c_string(&b[112..144]),
            app_elf_sha256: sha,
        })
    }
}

impl Image {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::Truncated("the file is empty".into()));
        }
        if bytes[0] != IMAGE_MAGIC {
            let hint = super::sniff::describe(bytes)
                .map(|k| format!(" (this looks like {k})"))
                .unwrap_or_default();
            return Err(Error::WrongKind(format!(
                "not an app image: expected magic 0xE9 at the start, found 0x{:02X}{hint}",
                bytes[0]
            )));
        }
        if bytes.len() < HEADER_LEN {
            return Err(Error::Truncated(format!(
                "image is truncated: {} bytes, the header alone is {HEADER_LEN}",
                bytes.len()
            )));
        }
        let h = &bytes[..HEADER_LEN];
        let segment_count = h[1];
        if segment_count > MAX_SEGMENTS {
            return Err(Error::Invalid(format!(
                "image header says {segment_count} segments; at most {MAX_SEGMENTS} are allowed"
            )));
        }
        if h[23] > 1 {
            return Err(Error::Invalid(format!(
                "image header byte 23 (hash appended) is {}, must be 0 or 1 (an ESP8266 image?)",
                h[23]
            )));
        }
        let mut segments = vec![];
        let mut pos = HEADER_LEN;
        let mut checksum = esp_checksum(&[]);
        for i in 0..segment_count {
            if pos + SEGMENT_HEADER_LEN > bytes.len() {
                return Err(Error::Truncated(format!(
                    "image is truncated: segment {i} header at 0x{pos:x} is past the end ({} bytes)",
                    bytes.len()
                )));
            }
            let load_addr = le32(bytes, pos);
            let len = le32(bytes, pos + 4);
            let data_offset = pos + SEGMENT_HEADER_LEN;
            let end = data_offset as u64 + len as u64;
            if end > bytes.len() as u64 {
                return Err(Error::Truncated(format!(
                    "image is truncated: segment {i} (0x{len:x} bytes at 0x{data_offset:x}) runs past the end of the file ({} bytes)",
                    bytes.len()
                )));
            }
            checksum = esp_checksum_update(checksum, &bytes[data_offset..end as usize]);
            segments.push(Segment {
                load_addr,
                len,
                data_offset,
            });
            pos = end as usize;
        }
        // Zero padding so that the checksum byte ends a 16-byte block.
        let checksum_offset = (pos + 1).div_ceil(16) * 16 - 1;
        if checksum_offset >= bytes.len() {
            return Err(Error::Truncated(format!(
                "image is truncated: the checksum byte belongs at 0x{checksum_offset:x}, the file has {} bytes",
                bytes.len()
            )));
        }
        let hash_appended = h[23] == 1;
        let mut len = checksum_offset + 1;
        let sha = if hash_appended {
            if len + 32 > bytes.len() {
                return Err(Error::Truncated(format!(
                    "image is truncated: the header says a SHA-256 digest is appended at 0x{len:x}, the file has {} bytes",
                    bytes.len()
                )));
            }
            let mut stored = [0u8; 32];
            stored.copy_from_slice(&bytes[len..len + 32]);
            let computed = sha256(&bytes[..len]);
            len += 32;
            Some((stored, computed))
        } else {
            None
        };
        let app = segments
            .first()
            .and_then(|s| AppDesc::parse(&bytes[s.data_offset..s.data_offset + s.len as usize]));
        Ok(Image {
            segment_count,
            flash_mode: h[2],
            flash_freq_code: h[3] & 0x0F,
            flash_size_code: h[3] >> 4,
            entry: le32(h, 4),
            wp_pin: h[8],
            chip_id: le16(h, 12),
            min_rev: h[14],
            min_rev_full: le16(h, 15),
            max_rev_full: le16(h, 17),
            hash_appended,
            segments,
            checksum_stored: bytes[checksum_offset],
            checksum_computed: checksum,
            checksum_offset,
            sha256: sha,
            len,
            trailing: bytes.len() - len,
            app,
        })
    }

    pub fn chip(&self) -> Option<&'static Chip> {
        Chip::by_image_id(self.chip_id)
    }

    /// Whether this is an app rather than a second-stage bootloader: it has an app description
    /// (ESP-IDF 3.3 and later), or a segment the cache maps from flash (every app, including
    /// older Arduino builds without a description; a bootloader runs from RAM only).
    pub fn is_app(&self) -> bool {
        self.app.is_some()
            || self.chip().is_some_and(|c| {
                self.segments
                    .iter()
                    .any(|s| s.len > 0 && c.is_flash_mapped(s.load_addr))
            })
    }

    /// Why this image cannot go into an app slot at all, if it cannot.
    pub fn not_an_app(&self) -> Option<String> {
        (!self.is_app()).then(|| {
            "this image runs from RAM only (a bootloader, or a RAM-loaded test app), not an app for a flash slot".into()
        })
    }

    pub fn checksum_ok(&self) -> bool {
        self.checksum_stored == self.checksum_computed
    }

    /// None when no digest is appended.
    pub fn sha256_ok(&self) -> Option<bool> {
        self.sha256.map(|(s, c)| s == c)
    }

    pub fn flash_mode_name(&self) -> &'static str {
        match self.flash_mode {
            0 => "qio",
            1 => "qout",
            2 => "dio",
            3 => "dout",
            _ => "unknown",
        }
    }

    /// As `esptool image-info` prints it for the image's chip.
    pub fn flash_freq_name(&self) -> Option<&'static str> {
        self.chip()?.flash_freq_name(self.flash_freq_code)
    }

    pub fn flash_size_name(&self) -> Option<&'static str> {
        chips::flash_size_name(self.flash_size_code)
    }

    /// Why this image must not be written to `chip` into a slot of `slot_size` bytes (empty if
    /// it can be). Checks what the bootloader would refuse.
    pub fn problems_for(&self, chip: &Chip, slot_size: Option<u32>) -> Vec<String> {
        let mut out = vec![];
        if slot_size.is_some() {
            out.extend(self.not_an_app());
        }
        if self.chip_id != chip.image_chip_id {
            let what = self
                .chip()
                .map(|c| c.pretty.to_string())
                .unwrap_or_else(|| format!("an unknown chip (id {})", self.chip_id));
            out.push(format!(
                "this image is built for {what}, the device is an {}",
                chip.pretty
            ));
        }
        if let Some(size) = slot_size {
            if self.len as u64 > size as u64 {
                out.push(format!(
                    "the image is {} bytes, larger than the {}-byte slot",
                    self.len, size
                ));
            }
        }
        if !self.checksum_ok() {
            out.push(format!(
                "checksum mismatch: stored 0x{:02x}, computed 0x{:02x} (corrupt image)",
                self.checksum_stored, self.checksum_computed
            ));
        }
        if self.sha256_ok() == Some(false) {
            out.push("appended SHA-256 does not match the image (corrupt image)".into());
        }
        if let Some(s) = self.segments.iter().find(|s| s.len % 4 != 0) {
            out.push(format!(
                "segment at 0x{:08x} has length 0x{:x}, not a multiple of 4; the bootloader rejects it",
                s.load_addr, s.len
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal image: header, one segment of `data`, checksum, optional digest.
    pub(crate) fn tiny(chip_id: u16, data: &[u8], digest: bool) -> Vec<u8> {
        let mut b = vec![IMAGE_MAGIC, 1, 2, 0x20, 0, 0, 0x08, 0x40, 0xEE, 0, 0, 0];
        b.extend_from_slice(&chip_id.to_le_bytes());
        b.extend_from_slice(&[0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, digest as u8]);
        b.extend_from_slice(&0x3FFB_0000u32.to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(data);
        while (b.len() + 1) % 16 != 0 {
            b.push(0);
        }
        b.push(esp_checksum(data));
        if digest {
            let d = sha256(&b);
            b.extend_from_slice(&d);
        }
        b
    }

    #[test]
    fn tiny_image_checks() {
        let img = tiny(0, &[1, 2, 3, 4], true);
        let i = Image::parse(&img).unwrap();
        assert!(i.checksum_ok());
        assert_eq!(i.sha256_ok(), Some(true));
        assert_eq!(i.len, img.len());
        assert!(i.problems_for(crate::chips::ESP32, None).is_empty());
        // Its one segment is in DRAM: a bootloader's shape, refused for an app slot.
        assert!(!i.is_app());
        let p = i.problems_for(crate::chips::ESP32, Some(0x1000));
        assert!(p.len() == 1 && p[0].contains("bootloader"), "{p:?}");
        let p = i.problems_for(Chip::by_name("esp32s3").unwrap(), Some(16));
        assert_eq!(p.len(), 3, "{p:?}");
        let mut bad = img.clone();
        bad[HEADER_LEN + 8] ^= 0xFF;
        let i = Image::parse(&bad).unwrap();
        assert!(!i.checksum_ok());
        assert_eq!(i.sha256_ok(), Some(false));
        assert!(matches!(
            Image::parse(&img[..img.len() - 1]),
            Err(Error::Truncated(_))
        ));
        assert!(matches!(
            Image::parse(&[0xAA, 0x50, 1, 2]),
            Err(Error::WrongKind(_))
        ));
    }
}
