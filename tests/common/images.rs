//! Images for every chip, made by the upstream tool: a minimal ELF written here (a RAM-only
//! "bootloader", or an app whose first flash-mapped segment carries an `esp_app_desc_t`) goes
//! through `esptool elf2image --chip X`, so each chip's headers (chip id, revision fields,
//! segment layout and padding, checksum and SHA-256) are esptool's own.
//!
//! The RAM load addresses (those real ESP-IDF bootloaders use) and the flash-mapped windows
//! come from `chips/`.

use otaflash::chips::Chip;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// The chips esptool and otaflash both drive, by esptool name.
pub const CHIPS: [&str; 7] = [
    "esp32", "esp32s2", "esp32s3", "esp32c2", "esp32c3", "esp32c6", "esp32h2",
];

/// Where a real second-stage bootloader loads its data and code on `chip` (DRAM, IRAM).
fn ram_addresses(chip: &str) -> (u32, u32) {
    Chip::by_name(chip).unwrap().rom.unwrap().sim.ram
}

fn xtensa(chip: &str) -> bool {
    matches!(chip, "esp32" | "esp32s2" | "esp32s3")
}

/// A little-endian ELF32 executable with one PROGBITS section per `(name, address, bytes)`.
fn elf(machine: u16, entry: u32, sections: &[(&str, u32, Vec<u8>)]) -> Vec<u8> {
    let mut strtab = vec![0u8];
    let mut names = vec![];
    for (n, _, _) in sections.iter() {
        names.push(strtab.len() as u32);
        strtab.extend_from_slice(n.as_bytes());
        strtab.push(0);
    }
    let shstr_name = strtab.len() as u32;
    strtab.extend_from_slice(b".shstrtab\0");
    let mut body = vec![0u8; 0x34];
    let mut offsets = vec![];
    for (_, _, data) in sections {
        offsets.push(body.len() as u32);
        body.extend_from_slice(data);
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
    }
    let str_off = body.len() as u32;
    body.extend_from_slice(&strtab);
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    let shoff = body.len() as u32;
    let sh = |v: &mut Vec<u8>, words: [u32; 10]| {
        for w in words {
            v.extend_from_slice(&w.to_le_bytes());
        }
    };
    sh(&mut body, [0; 10]);
    for (i, (_, addr, data)) in sections.iter().enumerate() {
        // PROGBITS, ALLOC | EXECINSTR | WRITE
        sh(
            &mut body,
            [
                names[i],
                1,
                7,
                *addr,
                offsets[i],
                data.len() as u32,
                0,
                0,
                4,
                0,
            ],
        );
    }
    sh(
        &mut body,
        [
            shstr_name,
            3,
            0,
            0,
            str_off,
            strtab.len() as u32,
            0,
            0,
            1,
            0,
        ],
    );
    let shnum = sections.len() as u16 + 2;
    let mut h = vec![0x7F, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    h.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    h.extend_from_slice(&machine.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&entry.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes()); // no program headers
    h.extend_from_slice(&shoff.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    for v in [0x34u16, 0x20, 0, 0x28, shnum, shnum - 1] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    body[..0x34].copy_from_slice(&h);
    body
}

/// Deterministic filler that looks like code (not all one byte, so compression is realistic).
fn code(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 7 < 3 {
                (x & 0xFF) as u8
            } else {
                (i as u8).wrapping_mul(3)
            }
        })
        .collect()
}

/// An `esp_app_desc_t` (256 bytes) for `project` at `version`.
fn app_desc(project: &str, version: &str) -> Vec<u8> {
    let mut d = vec![0u8; 256];
    d[0..4].copy_from_slice(&0xABCD_5432u32.to_le_bytes());
    let mut put = |at: usize, s: &str| d[at..at + s.len()].copy_from_slice(s.as_bytes());
    put(16, version);
    put(48, project);
    put(80, "00:00:00");
    put(96, "Nov 29 2026");
    put(112, "v5.2.2");
    d
}

fn elf2image(chip: &str, elf: &[u8], extra: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.elf");
    let output = dir.path().join("out.bin");
    std::fs::write(&input, elf).unwrap();
    super::esptool(
        &[
            "--chip",
            chip,
            "elf2image",
            "--flash-mode",
            "dio",
            "--flash-size",
            "4MB",
        ]
        .iter()
        .chain(extra)
        .chain(&["-o", output.to_str().unwrap(), input.to_str().unwrap()])
        .copied()
        .collect::<Vec<_>>(),
    );
    std::fs::read(output).unwrap()
}

fn cached(key: String, make: impl FnOnce() -> Vec<u8>) -> Vec<u8> {
    static CACHE: OnceLock<Mutex<HashMap<String, Vec<u8>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(&key) {
        return v.clone();
    }
    let v = make();
    cache.lock().unwrap().insert(key, v.clone());
    v
}

/// A second-stage bootloader for `chip` as far as a ROM checks one: RAM segments only (esptool
/// image, 4 MB header).
pub fn bootloader(chip: &str) -> Vec<u8> {
    cached(format!("boot-{chip}"), || {
        let (dram, iram) = ram_addresses(chip);
        let machine = if xtensa(chip) { 0x5E } else { 0xF3 };
        let e = elf(
            machine,
            iram,
            &[
                (".dram0.data", dram, code(1, 0x600)),
                (".iram_loader.text", iram, code(2, 0x1800)),
            ],
        );
        elf2image(chip, &e, &[])
    })
}

/// An app for `chip`: its description (`project`, `version`) first in DROM, then code in IROM
/// and a little in IRAM, about `kib` KiB in all.
pub fn app(chip: &str, project: &str, version: &str, kib: usize) -> Vec<u8> {
    app_for_revisions(chip, project, version, kib, None)
}

/// The same, for chip revisions from `min_rev_full` (major × 100 + minor) on.
pub fn app_for_revisions(
    chip: &str,
    project: &str,
    version: &str,
    kib: usize,
    min_rev_full: Option<u32>,
) -> Vec<u8> {
    let key = format!("app-{chip}-{project}-{version}-{kib}-{min_rev_full:?}");
    cached(key, || {
        let c = Chip::by_name(chip).unwrap();
        let [(irom, _), (drom, _)] = c.flash_map;
        let (_, iram) = ram_addresses(chip);
        let machine = if xtensa(chip) { 0x5E } else { 0xF3 };
        let mut rodata = app_desc(project, version);
        rodata.extend(code(3, 0x2000));
        let e = elf(
            machine,
            irom + 0x20,
            &[
                (".flash.appdesc", drom + 0x20, rodata),
                (
                    ".flash.text",
                    irom + 0x20,
                    code(version.len() as u32, kib << 10),
                ),
                (".iram0.text", iram, code(5, 0x400)),
            ],
        );
        let min = min_rev_full.map(|m| m.to_string());
        let extra: Vec<&str> = match &min {
            Some(m) => vec!["--min-rev-full", m],
            None => vec![],
        };
        elf2image(chip, &e, &extra)
    })
}

/// A 4 MB flash for `chip` laid out as Arduino leaves one: bootloader at the chip's offset, the
/// default table (app0/app1), boot_app0 otadata and `hello` 1.0 in app0.
pub fn chip_flash(chip: &str) -> Vec<u8> {
    let c = Chip::by_name(chip).unwrap();
    let mut f = vec![0xFF; super::FLASH_SIZE];
    let mut put = |at: usize, b: &[u8]| f[at..at + b.len()].copy_from_slice(b);
    put(c.bootloader_offset as usize, &bootloader(chip));
    put(
        0x8000,
        &super::read("firmware/arduino_partitions_default.bin"),
    );
    put(0xE000, &super::read("firmware/arduino_boot_app0.bin"));
    put(0x10000, &app(chip, "hello", "1.0", 64));
    f
}
