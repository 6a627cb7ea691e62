//! Benchmark, per chip: against `otaflash sim --chip X --timing real` (a link that enforces the
//! baud, USB latency and flash erase/program times), write a 1 MB app that esptool made for
//! that chip into app1 and switch otadata to it with otaflash (`flash --slot app1 --set-boot`:
//! connect, stub, 921600 baud, compressed write, MD5 check, otadata written and read back),
//! and write the same app with esptool 5.6 (`write-flash`, 921600 baud). Prints the wall-clock
//! seconds of each and the ratio.
//!
//! `cargo bench --bench chips` (needs esptool 5.6 on python3: scripts/setup.sh).

#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/common/mod.rs"]
mod common;

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use std::process::Command;
    use std::time::Instant;
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    let run = |cmd: &mut Command| {
        let t = Instant::now();
        let out = cmd.output().expect("run");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{cmd:?} failed:\n{text}");
        (t.elapsed().as_secs_f64(), text)
    };
    let dir = tempfile::tempdir().unwrap();
    println!("chip       app bytes   otaflash flash+switch   esptool write-flash   ratio");
    for chip in common::images::CHIPS {
        let app = common::images::app(chip, "big", "2.0", 1024);
        let app_path = dir.path().join(format!("{chip}.bin"));
        std::fs::write(&app_path, &app).unwrap();
        let flash = dir.path().join(format!("{chip}-o.bin"));
        std::fs::write(&flash, common::images::chip_flash(chip)).unwrap();
        let sim = common::SimProcess::start_chip(&flash, "real", chip);
        let (o, out) = run(Command::new(env!("CARGO_BIN_EXE_otaflash")).args([
            "flash",
            "--port",
            // RFC 2217: the baud goes over the bridge (a raw byte pipe keeps 115200).
            &format!("rfc2217://127.0.0.1:{}", sim.rfc2217),
            "--baud",
            "921600",
            "--slot",
            "app1",
            "--set-boot",
            app_path.to_str().unwrap(),
        ]));
        assert!(out.contains("boots app1 next"), "{out}");
        drop(sim);
        let flash = dir.path().join(format!("{chip}-e.bin"));
        std::fs::write(&flash, common::images::chip_flash(chip)).unwrap();
        let sim = common::SimProcess::start_chip(&flash, "real", chip);
        let (e, _) = run(Command::new("python3").args([
            "-m",
            "esptool",
            "--port",
            &format!("socket://127.0.0.1:{}", sim.tcp_port),
            "--baud",
            "921600",
            "--after",
            "no-reset",
            "write-flash",
            "0x150000",
            app_path.to_str().unwrap(),
        ]));
        drop(sim);
        println!(
            "{chip:<10} {:>9}   {o:>17.2} s   {e:>17.2} s   {:>5.2}x",
            app.len(),
            e / o
        );
    }
}
