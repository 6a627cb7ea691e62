//! ESP32-class app and bootloader images: `esp_image_header_t` (24 bytes incl. the extended
//! header), segments, the XOR checksum, the optional appended SHA-256, and `esp_app_desc_t`.

use super::{esp_checksum, esp_checksum_update, le16, le32, sha256, Error, Result};
use crate::chips::{self, Chip};

pub const IMAGE_MAGIC: u8 = 0xE9;
pub const HEADER_LEN: usize = 24;
pub const SEGMENT_HEADER_LEN: usize = 8;
pub const MAX_SEGMENTS: u8 = 16;
pub const APP_DESC_MAGIC: u32 = 0xABCD_5432;
pub const APP_DESC_LEN: usize = 256;

/// `esp_image_header_t`: the first 24 bytes of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub magic: u8,
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
    /// Byte 23 as stored; the bootloader takes any non-zero value as "a digest is appended".
    pub hash_appended: u8,
}

impl Header {
    /// Decodes the header from the first [`HEADER_LEN`] bytes (None if there are fewer).
    pub fn parse(b: &[u8]) -> Option<Header> {
        let h = b.get(..HEADER_LEN)?;
        Some(Header {
            magic: h[0],
            segment_count: h[1],
            flash_mode: h[2],
            flash_freq_code: h[3] & 0x0F,
            flash_size_code: h[3] >> 4,
            entry: le32(h, 4),
            wp_pin: h[8],
            chip_id: le16(h, 12),
            min_rev: h[14],
            min_rev_full: le16(h, 15),
            max_rev_full: le16(h, 17),
            hash_appended: h[23],
        })
    }

    pub fn chip(&self) -> Option<&'static Chip> {
        Chip::by_image_id(self.chip_id)
    }

    /// The [`HEADER_LEN`] bytes [`Header::parse`] reads these fields from (the SPI pin drive
    /// bytes, which it does not keep, as zeros).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0] = self.magic;
        h[1] = self.segment_count;
        h[2] = self.flash_mode;
        h[3] = (self.flash_freq_code & 0x0F) | (self.flash_size_code << 4);
        h[4..8].copy_from_slice(&self.entry.to_le_bytes());
        h[8] = self.wp_pin;
        h[12..14].copy_from_slice(&self.chip_id.to_le_bytes());
        h[14] = self.min_rev;
        h[15..17].copy_from_slice(&self.min_rev_full.to_le_bytes());
        h[17..19].copy_from_slice(&self.max_rev_full.to_le_bytes());
        h[23] = self.hash_appended;
        h
    }
}

/// Whether segments at these load addresses make an app rather than a second-stage
/// bootloader: an app description (ESP-IDF 3.3 and later), or a segment the cache maps from
/// flash (every app, including older Arduino builds without a description; a bootloader runs
/// from RAM only). `chip_id` picks the address map.
pub fn looks_like_app(chip_id: u16, segments: &[Segment], has_app_desc: bool) -> bool {
    has_app_desc
        || Chip::by_image_id(chip_id).is_some_and(|c| {
            segments
                .iter()
                .any(|s| s.len > 0 && c.is_flash_mapped(s.load_addr))
        })
}

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
    pub header: Header,
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

/// Where the checksum byte sits when the last segment ends at `end`: zero padding so that
/// the checksum ends a 16-byte block.
pub fn checksum_offset(end: usize) -> usize {
    (end + 1).div_ceil(16) * 16 - 1
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl AppDesc {
    /// Decodes `esp_app_desc_t` from the start of `b` (None without its magic word).
    pub fn parse(b: &[u8]) -> Option<Self> {
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
            return Err(super::sniff::not_what_was_expected(
                bytes,
                "a firmware image",
                &format!(
                    "an image starts with the magic byte 0xE9; this starts with 0x{:02X}",
                    bytes[0]
                ),
            ));
        }
        let Some(h) = Header::parse(bytes) else {
            return Err(Error::Truncated(format!(
                "image is truncated: {} bytes, the header alone is {HEADER_LEN}",
                bytes.len()
            )));
        };
        let segment_count = h.segment_count;
        if segment_count > MAX_SEGMENTS {
            return Err(Error::Invalid(format!(
                "image header says {segment_count} segments; at most {MAX_SEGMENTS} are allowed"
            )));
        }
        if h.hash_appended > 1 {
            return Err(Error::Invalid(format!(
                "image header byte 23 (hash appended) is {}, must be 0 or 1 (an ESP8266 image?)",
                h.hash_appended
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
        let checksum_offset = checksum_offset(pos);
        if checksum_offset >= bytes.len() {
            return Err(Error::Truncated(format!(
                "image is truncated: the checksum byte belongs at 0x{checksum_offset:x}, the file has {} bytes",
                bytes.len()
            )));
        }
        let hash_appended = h.hash_appended == 1;
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
            header: h,
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
        self.header.chip()
    }

    /// Whether this is an app rather than a second-stage bootloader ([`looks_like_app`]).
    pub fn is_app(&self) -> bool {
        looks_like_app(self.header.chip_id, &self.segments, self.app.is_some())
    }

    /// Whether a SHA-256 digest follows the checksum.
    pub fn hash_appended(&self) -> bool {
        self.header.hash_appended == 1
    }

    pub fn checksum_ok(&self) -> bool {
        self.checksum_stored == self.checksum_computed
    }

    /// None when no digest is appended.
    pub fn sha256_ok(&self) -> Option<bool> {
        self.sha256.map(|(s, c)| s == c)
    }

    pub fn flash_mode_name(&self) -> &'static str {
        chips::flash_mode_name(self.header.flash_mode).unwrap_or("unknown")
    }

    /// As `esptool image-info` prints it for the image's chip.
    pub fn flash_freq_name(&self) -> Option<&'static str> {
        self.chip()?.flash_freq_name(self.header.flash_freq_code)
    }

    pub fn flash_size_name(&self) -> Option<&'static str> {
        chips::flash_size_name(self.header.flash_size_code)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal image: header, one segment of `data`, checksum, optional digest.
    pub fn tiny(chip_id: u16, data: &[u8], digest: bool) -> Vec<u8> {
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
        // Its one segment is in DRAM: a bootloader's shape, not an app.
        assert!(!i.is_app());
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
        let text = Image::parse(b"# Name, Type, SubType\n")
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with("This is a text file, not a firmware image"),
            "{text}"
        );
        assert!(
            text.contains("0x23"),
            "the technical detail follows: {text}"
        );
    }
}
