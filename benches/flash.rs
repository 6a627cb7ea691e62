//! Benchmark: flash the same 1.5 MB firmware-like image to the simulated ESP32 over a link that
//! enforces the baud (`otaflash sim --timing real`: UART byte times, USB latency, flash erase
//! and program times), once with esptool 5.6 and once with otaflash, both over raw TCP
//! (esptool's socket://, otaflash's tcp:// with --baud), at 921600 and 2000000 baud; then
//! re-flash the unchanged image with both. Prints wall-clock times, the ratio, and
//! the fraction of the wire limit (compressed bytes × 10 / baud) otaflash reached.
//!
//! `cargo bench --bench flash` (needs esptool 5.6 on python3: scripts/setup.sh).

#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/common/mod.rs"]
mod common;

#[cfg(not(target_arch = "wasm32"))]
use std::process::Command;
#[cfg(not(target_arch = "wasm32"))]
use std::time::Instant;

#[cfg(not(target_arch = "wasm32"))]
/// Runs a command; returns (wall seconds, the "in X seconds" figure it printed, output).
fn timed(cmd: &mut Command) -> (f64, Option<f64>, String) {
    let t = Instant::now();
    let out = cmd.output().expect("run");
    let secs = t.elapsed().as_secs_f64();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    // esptool: "Wrote … in 10.7 seconds …"; otaflash: "…; N written in 10.3 s at …".
    let phase = text
        .lines()
        .filter(|l| (l.contains(" in ") && l.contains("seconds")) || l.contains(" written in "))
        .filter_map(|l| {
            l.rsplit(" in ")
                .next()?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .next_back();
    (secs, phase, text)
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    // `cargo test --benches` would run this too; keep that cheap.
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = common::firmware_like(1536 * 1024);
    let image_path = dir.path().join("app.bin");
    std::fs::write(&image_path, &image).unwrap();
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(&image, 9).len();
    println!(
        "image: {} bytes, {} compressed with zlib level 9 ({:.1} %)",
        image.len(),
        compressed,
        compressed as f64 * 100.0 / image.len() as f64
    );
    // What the simulated flash chip alone needs: a 64 KiB block erase per block, a page
    // program per 256 bytes (W25Q typical times). No tool can write faster than this.
    let t = otaflash::sim::flash::FlashTiming::W25Q;
    let chip = t.block_erase.as_secs_f64() * image.len().div_ceil(0x10000) as f64
        + t.page_program.as_secs_f64() * image.len().div_ceil(0x100) as f64;
    println!("flash limit (W25Q typical erase + program times): {chip:.2} s");
    for baud in [921_600u32, 2_000_000] {
        let wire = compressed as f64 * 10.0 / baud as f64;
        println!(
            "\n== {baud} baud: wire limit {wire:.2} s; the flash allows at best {:.0} % of it",
            (wire / chip).min(1.0) * 100.0
        );
        let esptool = |port: u16| {
            let mut c = Command::new("python3");
            c.args([
                "-m",
                "esptool",
                "--port",
                &format!("socket://127.0.0.1:{port}"),
                "--baud",
                &baud.to_string(),
            ]);
            c.args([
                "--after",
                "no-reset",
                "write-flash",
                "0x10000",
                image_path.to_str().unwrap(),
            ]);
            c
        };
        let otaflash = |port: u16| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_otaflash"));
            c.args([
                "flash",
                "--port",
                // The same link as esptool's socket://: raw TCP, the baud asked of the chip.
                &format!("tcp://127.0.0.1:{port}"),
                "--baud",
                &baud.to_string(),
            ]);
            c.args(["--offset", "0x10000", image_path.to_str().unwrap()]);
            c
        };
        // Fresh writes, each to a blank 4 MB flash.
        let f1 = dir.path().join(format!("e{baud}.bin"));
        let sim = common::SimProcess::start(&f1, "real");
        let (e_total, e_phase, _) = timed(&mut esptool(sim.tcp_port));
        let (e_again, _, _) = timed(&mut esptool(sim.tcp_port));
        drop(sim);
        let f2 = dir.path().join(format!("o{baud}.bin"));
        let sim = common::SimProcess::start(&f2, "real");
        let (o_total, o_phase, out) = timed(&mut otaflash(sim.tcp_port));
        let (o_again, _, again_out) = timed(&mut otaflash(sim.tcp_port));
        drop(sim);
        assert!(again_out.contains("already there"), "{again_out}");
        let flashed = std::fs::read(&f2).unwrap();
        assert_eq!(
            flashed[0x10000..0x10000 + image.len()],
            image[..],
            "otaflash wrote the image"
        );
        assert_eq!(
            std::fs::read(&f1).unwrap()[0x10000..0x10000 + image.len()],
            image[..],
            "esptool wrote the image"
        );
        let o_phase = o_phase.unwrap_or(o_total);
        println!(
            "fresh write   esptool {e_total:6.2} s (its write phase {:.2} s)",
            e_phase.unwrap_or(f64::NAN)
        );
        println!("              otaflash {o_total:6.2} s (its write phase {o_phase:.2} s)");
        println!("              ratio {:.2}x", e_total / o_total);
        println!(
            "              otaflash reached {:.0} % of the wire limit in its write phase, {:.0} % end to end",
            wire * 100.0 / o_phase,
            wire * 100.0 / o_total
        );
        println!(
            "unchanged     esptool {e_again:6.2} s, otaflash {o_again:6.2} s: ratio {:.1}x",
            e_again / o_again
        );
        let wrote = out
            .lines()
            .find(|l| l.contains(" written in "))
            .unwrap_or("");
        println!("              otaflash: {wrote}");
    }
}
