//! Benchmark: the same 1 MB app flashed into app1 and switched to (`otaflash flash --slot auto
//! --set-boot`) on one board, then on four boards in one call, each an `otaflash sim --timing
//! real` (UART byte times at 921600 baud, USB latency, flash erase/program times). Prints the
//! wall-clock seconds and the ratio (goal: four boards in at most 1.3 times one board's time,
//! on a host that is not the bottleneck).
//!
//! `cargo bench --bench fleet` (needs esptool 5.6 on python3 for the test app: scripts/setup.sh).

#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/common/mod.rs"]
mod common;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use std::time::Instant;
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = common::images::app("esp32", "fleet", "2.0", 1024);
    let path = dir.path().join("app.bin");
    std::fs::write(&path, &app).unwrap();
    let run = |n: usize| {
        let boards: Vec<common::Sim> = (0..n)
            .map(|_| common::Sim::start("real", Some(&common::arduino_flash())))
            .collect();
        let urls: Vec<String> = boards
            .iter()
            // RFC 2217: the baud goes over the bridge (a raw byte pipe keeps 115200).
            .map(|b| format!("rfc2217://127.0.0.1:{}", b.rfc2217))
            .collect();
        let mut args = vec!["flash", "--slot", "auto", "--set-boot"];
        for u in &urls {
            args.extend(["--port", u.as_str()]);
        }
        args.push(path.to_str().unwrap());
        let t = Instant::now();
        let (ok, out) = common::otaflash(&args);
        let secs = t.elapsed().as_secs_f64();
        assert!(ok, "{out}");
        assert_eq!(out.matches("flashed ").count(), n, "{out}");
        secs
    };
    let one = run(1);
    let four = run(4);
    println!("app: {} bytes", app.len());
    println!("one board:   {one:6.2} s");
    println!(
        "four boards: {four:6.2} s  ({:.2}x one board; goal <= 1.3x)",
        four / one
    );
}
