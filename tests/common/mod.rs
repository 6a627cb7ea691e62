//! Shared helpers for the native tests: a simulated device with real firmware, and block_on.
#![allow(dead_code)]

pub mod images;

use otaflash::sim::{Config, Esp32, SimPort, Timing};
use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

pub fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(data(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Runs a future that never really waits (the simulator's virtual time).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

pub const FLASH_SIZE: usize = 4 << 20;

/// A 4 MB ESP32 as Arduino-ESP32 leaves it: IDF bootloader, the default table (app0/app1),
/// boot_app0 otadata and hello_world in app0.
pub fn arduino_flash() -> Vec<u8> {
    let mut f = vec![0xFF; FLASH_SIZE];
    let mut put = |at: usize, b: &[u8]| f[at..at + b.len()].copy_from_slice(b);
    put(0x1000, &read("firmware/idf-v5.2.2_bootloader_4MB.bin"));
    put(0x8000, &read("firmware/arduino_partitions_default.bin"));
    put(0xE000, &read("firmware/arduino_boot_app0.bin"));
    put(0x10000, &read("firmware/idf-v5.2.2_hello_world.bin"));
    f
}

/// The same layout on an ESP32-C3: its IDF v5.2.2 bootloader at 0x0 (header set to 4 MB, as
/// `esptool --flash-size 4MB` would), the Arduino OTA table, boot_app0, its hello_world in app0.
pub fn c3_flash() -> Vec<u8> {
    let mut f = vec![0xFF; FLASH_SIZE];
    let mut put = |at: usize, b: &[u8]| f[at..at + b.len()].copy_from_slice(b);
    let boot = read("firmware/idf-v5.2.2_c3_bootloader.bin");
    put(0x0, &otaflash::formats::install::with_flash_size(&boot, 2));
    put(0x8000, &read("firmware/arduino_partitions_default.bin"));
    put(0xE000, &read("firmware/arduino_boot_app0.bin"));
    put(0x10000, &read("firmware/idf-v5.2.2_c3_hello_world.bin"));
    f
}

pub fn device(timing: Timing) -> Esp32 {
    Esp32::new(arduino_flash(), Config::new(FLASH_SIZE as u32, timing))
}

pub fn port(timing: Timing) -> SimPort {
    SimPort::new(device(timing))
}

pub fn port_with(config: impl FnOnce(&mut Config)) -> SimPort {
    let mut c = Config::new(FLASH_SIZE as u32, Timing::REALISTIC);
    config(&mut c);
    SimPort::new(Esp32::new(arduino_flash(), c))
}

/// A firmware-like image of about `size` bytes: real app code repeated with varying bytes,
/// which compresses like an app does.
pub fn firmware_like(size: usize) -> Vec<u8> {
    let parts = [
        read("firmware/idf-v5.2.2_hello_world.bin"),
        read("firmware/arduino_StartCounter.ino.bin"),
    ];
    let mut out = Vec::with_capacity(size);
    let mut k = 0u32;
    while out.len() < size {
        for p in &parts {
            for chunk in p.chunks(4096) {
                k = k.wrapping_mul(1_103_515_245).wrapping_add(12345);
                out.extend(chunk.iter().enumerate().map(|(i, b)| {
                    if i % 97 == 0 {
                        b ^ (k >> 16) as u8
                    } else {
                        *b
                    }
                }));
            }
        }
    }
    out.truncate(size);
    out
}

/// A running `otaflash sim` over `flash` (TCP and WebSocket on free 127.0.0.1 ports), killed
/// when dropped. `timing` is `real` or `none`.
pub struct SimProcess {
    child: std::process::Child,
    /// The raw-serial TCP port (esptool: `socket://127.0.0.1:PORT`).
    pub tcp_port: u16,
    /// The WebSocket URL the page takes, `rfc2217+ws://127.0.0.1:PORT` (or `ws://…` with
    /// `--ws-speaks raw`).
    pub ws: String,
    /// The RFC 2217 port (esptool: `rfc2217://127.0.0.1:PORT`).
    pub rfc2217: u16,
}

impl SimProcess {
    pub fn start(flash: &std::path::Path, timing: &str) -> SimProcess {
        Self::start_chip(flash, timing, "esp32")
    }

    /// The same for another chip (`esp32c3`, …).
    pub fn start_chip(flash: &std::path::Path, timing: &str, chip: &str) -> SimProcess {
        Self::start_with(flash, timing, chip, &[])
    }

    /// With more `otaflash sim` options (`--mac`, fault injection).
    pub fn start_with(
        flash: &std::path::Path,
        timing: &str,
        chip: &str,
        extra: &[&str],
    ) -> SimProcess {
        use std::io::{BufRead, BufReader};
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_otaflash"))
            .args(["sim", "--chip", chip, "--flash", flash.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--ws", "127.0.0.1:0"])
            .args(["--rfc2217", "127.0.0.1:0"])
            .args(["--timing", timing])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("otaflash sim");
        // Owned from here on, so that a failed start is still stopped.
        let mut sim = SimProcess {
            child,
            tcp_port: 0,
            ws: String::new(),
            rfc2217: 0,
        };
        let mut lines = BufReader::new(sim.child.stdout.take().unwrap()).lines();
        // It prints a banner, then "tcp ADDR", "rfc2217 ADDR", then "ws URL".
        for _ in 0..6 {
            let line = lines.next().expect("sim output").unwrap();
            if let Some(a) = line.strip_prefix("tcp ") {
                sim.tcp_port = a.rsplit(':').next().unwrap().parse().unwrap();
            } else if let Some(a) = line.strip_prefix("rfc2217 ") {
                sim.rfc2217 = a.rsplit(':').next().unwrap().parse().unwrap();
            } else if let Some(a) = line.strip_prefix("ws ") {
                sim.ws = a.to_string();
                break;
            }
        }
        assert!(
            sim.tcp_port != 0 && !sim.ws.is_empty(),
            "sim did not report its ports"
        );
        sim
    }
}

impl SimProcess {
    /// Stops it now (a bridge that drops).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `python3 -m esptool ARGS` (esptool 5.6.0, which scripts/setup.sh installs), failing
/// the test when it fails.
pub fn esptool(args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("python3")
        .args(["-m", "esptool"])
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "esptool {args:?} failed (scripts/setup.sh installs esptool 5.6.0): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A running `otaflash sim` over its own flash file.
pub struct Sim {
    _process: SimProcess,
    pub port: u16,
    /// The RFC 2217 port.
    pub rfc2217: u16,
    pub ws_port: u16,
    pub flash: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sim {
    pub fn start(timing: &str, initial: Option<&[u8]>) -> Sim {
        Self::start_chip(timing, initial, "esp32")
    }

    /// A simulated `chip` (`esp32c3`, …).
    pub fn start_chip(timing: &str, initial: Option<&[u8]>, chip: &str) -> Sim {
        Self::start_with(timing, initial, chip, &[])
    }

    /// With more `otaflash sim` options (`--mac`, fault injection).
    pub fn start_with(timing: &str, initial: Option<&[u8]>, chip: &str, extra: &[&str]) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let flash = dir.path().join("flash.bin");
        if let Some(b) = initial {
            std::fs::write(&flash, b).unwrap();
        }
        let process = SimProcess::start_with(&flash, timing, chip, extra);
        let ws_port = process.ws.rsplit(':').next().unwrap().parse().unwrap();
        Sim {
            port: process.tcp_port,
            rfc2217: process.rfc2217,
            ws_port,
            _process: process,
            flash,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("socket://127.0.0.1:{}", self.port)
    }

    pub fn flash(&self) -> Vec<u8> {
        std::fs::read(&self.flash).unwrap()
    }
}

/// Runs the `otaflash` binary: (success, stdout and stderr).
/// `otaflash flash --port URL --slot LABEL --set-boot FILE`: (succeeded, what it printed).
pub fn flash_and_boot(url: &str, slot: &str, file: &std::path::Path) -> (bool, String) {
    otaflash(&[
        "flash",
        "--port",
        url,
        "--slot",
        slot,
        "--set-boot",
        file.to_str().unwrap(),
    ])
}

pub fn otaflash(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otaflash"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `python3 -m espsecure ARGS` (esptool 5.6.0, which scripts/setup.sh installs).
pub fn espsecure(args: &[&str]) {
    let out = std::process::Command::new("python3")
        .args(["-m", "espsecure"])
        .args(args)
        .output()
        .expect("espsecure (esptool 5.6.0, scripts/setup.sh)");
    assert!(
        out.status.success(),
        "espsecure {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `bytes` as espsecure encrypts them for flash address `at` with the key in `key_file`.
pub fn espsecure_encrypt(dir: &std::path::Path, key_file: &str, at: u32, bytes: &[u8]) -> Vec<u8> {
    let (i, o) = (
        dir.join(format!("in-{at:x}.bin")),
        dir.join(format!("out-{at:x}.bin")),
    );
    std::fs::write(&i, bytes).unwrap();
    espsecure(&[
        "encrypt-flash-data",
        "--aes-xts",
        "--keyfile",
        key_file,
        "--address",
        &format!("0x{at:x}"),
        "-o",
        o.to_str().unwrap(),
        i.to_str().unwrap(),
    ]);
    std::fs::read(&o).unwrap()
}

/// Writes an ESP Web Tools manifest for the ESP32 into `dir` — `bootloader`, `table`, boot_app0
/// and `app` (garden.bin) — naming the product "Garden Sensor" `version`; returns its path.
pub fn garden_manifest(
    dir: &std::path::Path,
    version: &str,
    bootloader: &[u8],
    table: &[u8],
    app: &[u8],
) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let put = |name: &str, b: &[u8]| std::fs::write(dir.join(name), b).unwrap();
    put("bootloader.bin", bootloader);
    put("partitions.bin", table);
    put("boot_app0.bin", &read("firmware/arduino_boot_app0.bin"));
    put("garden.bin", app);
    let manifest = format!(
        r#"{{"name": "Garden Sensor", "version": "{version}", "new_install_prompt_erase": false,
        "builds": [{{"chipFamily": "ESP32", "parts": [
            {{"path": "bootloader.bin", "offset": 4096}},
            {{"path": "partitions.bin", "offset": 32768}},
            {{"path": "boot_app0.bin", "offset": 57344}},
            {{"path": "garden.bin", "offset": 65536}}]}}]}}"#
    );
    put("manifest.json", manifest.as_bytes());
    dir.join("manifest.json")
}
