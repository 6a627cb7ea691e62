//! The flash the page's simulated chip starts with: a 4 MB chip as Arduino-ESP32 leaves it
//! (its default partition table and boot_app0 otadata), with small but valid images made here
//! (a page cannot carry real firmware without weighing as much). They pass every check the
//! bootloader and otaflash make: magic, chip id, checksum, appended SHA-256, app description.

use crate::chips::Chip;
use crate::formats::image::{APP_DESC_MAGIC, IMAGE_MAGIC};
use crate::formats::otadata::{Entry, OtaState, Otadata};
use crate::formats::partition::PartitionTable;
use crate::formats::{esp_checksum, sha256};

pub const ARDUINO_DEFAULT_CSV: &str = "nvs,data,nvs,0x9000,0x5000\n\
otadata,data,ota,0xe000,0x2000\n\
app0,app,ota_0,0x10000,0x140000\n\
app1,app,ota_1,0x150000,0x140000\n\
spiffs,data,spiffs,0x290000,0x160000\n\
coredump,data,coredump,0x3F0000,0x10000\n";

fn put_str(buf: &mut [u8], at: usize, len: usize, s: &str) {
    let b = s.as_bytes();
    let n = b.len().min(len - 1);
    buf[at..at + n].copy_from_slice(&b[..n]);
}

/// A valid image for `chip`: a DROM segment (starting with `esp_app_desc_t` when `app` is
/// given) and an IRAM segment, checksum, SHA-256 appended. The `payload` bytes are
/// pseudo-random (they do not compress), so a big one keeps a simulated link busy for a
/// predictable time.
pub fn app_image(chip: &Chip, app: Option<(&str, &str)>, payload: usize) -> Vec<u8> {
    // The first DROM address past the 32 bytes of image and segment header.
    image_with_first_segment_at(chip, chip.flash_map[1].0 + 0x20, app, payload)
}

/// The shape of a second-stage bootloader: the same, but every segment in RAM.
pub fn bootloader_like(chip: &Chip, payload: usize) -> Vec<u8> {
    image_with_first_segment_at(chip, ram(chip).0, None, payload)
}

/// Where a bootloader loads data and code on `chip` (the ESP32's for a chip without ROM facts).
fn ram(chip: &Chip) -> (u32, u32) {
    chip.rom.unwrap_or(crate::chips::ESP32.rom.unwrap()).sim.ram
}

fn image_with_first_segment_at(
    chip: &Chip,
    first: u32,
    app: Option<(&str, &str)>,
    payload: usize,
) -> Vec<u8> {
    let mut drom = vec![0u8; 256 + payload];
    if let Some((project, version)) = app {
        drom[0..4].copy_from_slice(&APP_DESC_MAGIC.to_le_bytes());
        put_str(&mut drom, 16, 32, version);
        put_str(&mut drom, 48, 32, project);
        put_str(&mut drom, 80, 16, "12:00:00");
        put_str(&mut drom, 96, 16, "Nov 26 2026");
        put_str(&mut drom, 112, 32, "otaflash-sim");
    }
    // xorshift32: deterministic, and incompressible for deflate.
    let mut x = 0x2545_F491u32;
    for b in drom[256..].iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x.to_le_bytes()[3];
    }
    let iram: Vec<u8> = (0..64u8).collect();
    let iram_at = ram(chip).1;
    // Header: 2 segments, DIO, 4MB / 40m, entry, WP pin disabled, the chip's id, revisions
    // v0.0 to v3.99, SHA-256 appended.
    let mut out = vec![];
    out.extend_from_slice(&[IMAGE_MAGIC, 2, 2, 0x20]);
    out.extend_from_slice(&iram_at.to_le_bytes());
    out.push(0xEE);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&chip.image_chip_id.to_le_bytes());
    out.push(0); // min_rev
    out.extend_from_slice(&0u16.to_le_bytes()); // min_rev_full
    out.extend_from_slice(&399u16.to_le_bytes()); // max_rev_full
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.push(1); // hash appended
    let mut checksum = esp_checksum(&[]);
    for (addr, seg) in [(first, &drom), (iram_at, &iram)] {
        out.extend_from_slice(&addr.to_le_bytes());
        out.extend_from_slice(&(seg.len() as u32).to_le_bytes());
        out.extend_from_slice(seg);
        checksum = crate::formats::esp_checksum_update(checksum, seg);
    }
    while (out.len() + 1) % 16 != 0 {
        out.push(0);
    }
    out.push(checksum);
    let digest = sha256(&out);
    out.extend_from_slice(&digest);
    out
}

/// boot_app0 as arduino-esp32 ships it: seq 1 in sector 0, a seq-0 entry in sector 1.
pub fn boot_app0() -> Otadata {
    let mut o = Otadata::blank();
    o.put(0, Entry::new(1, OtaState::Undefined));
    let mut b = [0xFFu8; 32];
    b[..4].fill(0);
    o.put(1, Entry::parse(&b));
    o
}

/// A 4 MB flash for `chip`: bootloader at the chip's offset, the Arduino default table,
/// boot_app0, a demo app in app0.
pub fn arduino_like_flash(chip: &Chip) -> Vec<u8> {
    let mut f = vec![0xFFu8; 4 << 20];
    let mut put = |at: usize, b: &[u8]| f[at..at + b.len()].copy_from_slice(b);
    put(
        chip.bootloader_offset as usize,
        &bootloader_like(chip, 2048),
    );
    let table = PartitionTable::from_csv(ARDUINO_DEFAULT_CSV, 0x8000).expect("valid table");
    put(0x8000, &table.to_bytes().expect("fits"));
    put(0xE000, boot_app0().as_bytes());
    put(
        0x10000,
        &app_image(chip, Some(("blink-demo", "1.0.0")), 24 * 1024),
    );
    f
}

/// The simulated board of a web page: a 4 MB `chip` with real link timing, holding `saved` (what
/// [`saved_flash`] kept of it last time: zlib of the whole flash) or, without it or when it does
/// not inflate to 4 MB, the Arduino-like demo layout; `blank`: an erased flash instead.
pub fn page_board(chip: &'static Chip, saved: Option<&[u8]>, blank: bool) -> super::Esp32 {
    let size = 4usize << 20;
    let restored = saved
        .and_then(|z| miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(z, size).ok())
        .filter(|f| f.len() == size);
    let flash = match (blank, restored) {
        (true, _) => vec![0xFF; size],
        (false, Some(f)) => f,
        (false, None) => arduino_like_flash(chip),
    };
    let mut config = super::Config::new(size as u32, super::Timing::REALISTIC);
    config.chip = chip;
    super::Esp32::new(flash, config)
}

/// What a page keeps of its simulated board between visits: its flash, zlib-compressed.
pub fn saved_flash(dev: &super::Esp32) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(dev.flash.contents(), 6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::image::Image;

    #[test]
    fn a_page_board_comes_back_as_it_was_saved() {
        let mut dev = page_board(crate::chips::ESP32, None, false);
        assert_eq!(
            dev.flash.contents(),
            &arduino_like_flash(crate::chips::ESP32)[..]
        );
        dev.flash.erase(0x9000, 0x1000).unwrap();
        dev.flash.program(0x9000, b"kept").unwrap();
        let saved = saved_flash(&dev);
        assert!(saved.len() < 200_000, "{} bytes", saved.len());
        let back = page_board(crate::chips::ESP32, Some(&saved), false);
        assert_eq!(&back.flash.contents()[0x9000..0x9004], b"kept");
        let blank = page_board(crate::chips::ESP32, Some(&saved), true);
        assert!(blank.flash.contents().iter().all(|&b| b == 0xFF));
        let bad = page_board(crate::chips::ESP32, Some(b"not zlib"), false);
        assert_eq!(
            bad.flash.contents(),
            &arduino_like_flash(crate::chips::ESP32)[..]
        );
    }

    #[test]
    fn demo_images_pass_every_check() {
        let app = app_image(crate::chips::ESP32, Some(("blink-demo", "1.0.0")), 5000);
        let i = Image::parse(&app).unwrap();
        assert!(i.checksum_ok() && i.sha256_ok() == Some(true));
        let target = crate::formats::bootable::Target::chip(crate::chips::ESP32, Some(301));
        assert_eq!(
            crate::formats::bootable::judge(&app, target, 0x10000, Some(0x140000)).loads(),
            crate::formats::bootable::Loads::Yes
        );
        assert_eq!(i.app.unwrap().project_name, "blink-demo");
        let f = arduino_like_flash(crate::chips::ESP32);
        let t = PartitionTable::from_flash(&f, 0x8000).unwrap();
        assert_eq!(t.find("app1").unwrap().offset, 0x150000);
        assert_eq!(
            &f[0xE000..0x10000],
            crate::formats::otadata::Otadata::parse(&f[0xE000..0x10000])
                .unwrap()
                .as_bytes()
        );
    }
}
