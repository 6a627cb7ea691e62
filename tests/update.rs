//! `otaflash update` against `otaflash sim` (over RFC 2217, so the chip is reset into its app
//! and back): the three plans (slot update, already up to date, full install after a yes), the
//! re-run, a manifest by http:// address, an app that crashes, a raw link that cannot reset,
//! and several boards on the same decision. Apps are made by `esptool elf2image` with
//! descriptions naming their versions; the flash file is checked byte for byte.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// Runs `otaflash update --json ARGS`: (success, the JSON, what it logged).
fn update(args: &[&str]) -> (bool, serde_json::Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otaflash"))
        .args(["update", "--json"])
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    (out.status.success(), v, stderr)
}

/// A folder holding an ESP Web Tools manifest for the ESP32 — bootloader, `table`, boot_app0
/// and `app` — named "Garden Sensor" `version`.
fn manifest_dir(version: &str, app: &[u8], table: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = garden_manifest(
        dir.path(),
        version,
        &images::bootloader("esp32"),
        table,
        app,
    );
    (dir, path)
}

fn arduino_table() -> Vec<u8> {
    read("firmware/arduino_partitions_default.bin")
}

/// The ESP32 board as Arduino leaves it, running garden 1.0.0 from app0.
fn board_running_v1() -> Vec<u8> {
    let mut f = images::chip_flash("esp32");
    let v1 = images::app("esp32", "garden", "1.0.0", 120);
    f[0x10000..0x10000 + 0x140000].fill(0xFF);
    f[0x10000..0x10000 + v1.len()].copy_from_slice(&v1);
    // Settings in NVS, to see that they are kept.
    f[0x9000..0x9010].copy_from_slice(b"settings: keep!!");
    f
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn slot_update_then_already_then_a_full_install_after_a_yes() {
    let sim = Sim::start("none", Some(&board_running_v1()));
    let port = format!("rfc2217://127.0.0.1:{}", sim.rfc2217);
    let v2 = images::app("esp32", "garden", "1.1.0", 120);
    let (_dir, manifest) = manifest_dir("1.1.0", &v2, &arduino_table());
    let before = sim.flash();

    let (ok, v, log) = update(&["--port", &port, p(&manifest)]);
    assert!(ok, "{v}\n{log}");
    assert_eq!(v["plan"]["decision"], "slot_update", "{v}");
    assert_eq!(
        v["plan"]["sentence"],
        "Writes Garden Sensor 1.1.0 into app1 and boots it next. Keeps your settings (nvs), your data (eeprom, spiffs) and 1.0.0 in app0 as a fallback."
    );
    assert_eq!(v["outcome"], "updated");
    assert_eq!(v["running"]["slot"], "app1");
    assert_eq!(v["running"]["version"], "1.1.0");
    assert_eq!(v["running"]["verdict"], "running");
    assert_eq!(
        v["running"]["confirmed_by"],
        serde_json::json!(["console", "md5", "otadata"])
    );
    assert_eq!(
        v["words"],
        "Running Garden Sensor 1.1.0 from app1 (seen on its console; image verified by MD5). 1.0.0 kept in app0."
    );
    let after = sim.flash();
    assert_eq!(after[0x150000..0x150000 + v2.len()], v2[..], "v2 in app1");
    assert_eq!(
        after[0x9000..0xE000],
        before[0x9000..0xE000],
        "NVS unchanged"
    );
    assert_eq!(
        after[0x10000..0x150000],
        before[0x10000..0x150000],
        "v1 kept"
    );
    assert_eq!(
        after[..0x9000],
        before[..0x9000],
        "bootloader and table unchanged"
    );
    assert_eq!(
        v["running"]["console"][2], "I (217) cpu_start: App version:      1.1.0",
        "the console lines that show it"
    );

    // Again: already up to date, nothing written, exit 0.
    let (ok, v, _) = update(&["--port", &port, p(&manifest)]);
    assert!(ok, "{v}");
    assert_eq!(v["outcome"], "already");
    assert_eq!(v["bytes_written"], 0);
    assert_eq!(
        v["words"],
        "Already up to date: Garden Sensor 1.1.0 runs from app1. Nothing to write."
    );
    assert!(sim.flash() == after, "nothing written");

    // A build with another table: a full install that says what is lost, only after a yes.
    // (spiffs and coredump where the board has eeprom and spiffs)
    let other = otaflash::formats::partition::PartitionTable::from_csv(
        otaflash::sim::demo::ARDUINO_DEFAULT_CSV,
        0x8000,
    )
    .unwrap()
    .to_bytes()
    .unwrap();
    let v3 = images::app("esp32", "garden", "2.0.0", 120);
    let (_dir3, manifest3) = manifest_dir("2.0.0", &v3, &other);
    let (ok, v, _) = update(&["--port", &port, p(&manifest3)]);
    assert!(!ok, "{v}");
    assert_eq!(v["plan"]["decision"], "full_install");
    let sentence = v["plan"]["sentence"].as_str().unwrap();
    assert!(
        sentence.starts_with("A full install of Garden Sensor 2.0.0: the build's partition table differs from the board's")
            && sentence.contains("Loses nvs"),
        "{sentence}"
    );
    assert!(v["words"].as_str().unwrap().contains("need --yes"), "{v}");
    assert!(sim.flash() == after, "nothing written without a yes");
    let (ok, v, log) = update(&["--port", &port, "--yes", p(&manifest3)]);
    assert!(ok, "{v}\n{log}");
    assert_eq!(v["outcome"], "installed");
    assert_eq!(v["running"]["slot"], "app0");
    assert_eq!(v["running"]["version"], "2.0.0");
    assert_eq!(v["running"]["verdict"], "running");
    assert_eq!(sim.flash()[0x10000..0x10000 + v3.len()], v3[..]);
}

/// The manifest by http:// address, its parts resolved against it (as ESP Web Tools does).
#[test]
fn a_manifest_by_http_address() {
    let sim = Sim::start("none", Some(&board_running_v1()));
    let port = format!("rfc2217://127.0.0.1:{}", sim.rfc2217);
    let v2 = images::app("esp32", "garden", "1.1.0", 120);
    let (dir, _) = manifest_dir("1.1.0", &v2, &arduino_table());
    let web = serve_folder(dir.path().to_path_buf());
    let url = format!("http://127.0.0.1:{web}/fw/manifest.json");
    let (ok, v, log) = update(&["--port", &port, &url]);
    assert!(ok, "{v}\n{log}");
    assert_eq!(v["outcome"], "updated");
    assert_eq!(v["running"]["version"], "1.1.0");
    // A part that is not there: nothing written, said in words.
    let missing = format!("http://127.0.0.1:{web}/fw/nothing.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otaflash"))
        .args(["update", "--port", &port, &missing])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the server answered 404"), "{err}");
}

/// An app that panics at start: the update is not called done; the console lines say why.
#[test]
fn an_app_that_crashes_is_not_called_running() {
    let sim = Sim::start("none", Some(&board_running_v1()));
    let port = format!("rfc2217://127.0.0.1:{}", sim.rfc2217);
    let dir = tempfile::tempdir().unwrap();
    let bad = images::app("esp32", "garden-crash", "1.1.0", 120);
    let path = dir.path().join("garden-crash.bin");
    std::fs::write(&path, &bad).unwrap();
    let (ok, v, _) = update(&["--port", &port, p(&path)]);
    assert!(!ok, "{v}");
    assert_eq!(v["outcome"], "failed");
    assert_eq!(v["running"]["verdict"], "not_running");
    let words = v["words"].as_str().unwrap();
    assert!(
        words.starts_with(
            "garden-crash 1.1.0 in app1 crashes and restarts (a reboot loop) — it does not run."
        ) && words.contains("Guru Meditation Error"),
        "{words}"
    );
}

/// Over a raw link (no reset): written and verified, and said not to be confirmed yet.
#[test]
fn a_raw_link_says_to_press_reset() {
    let sim = Sim::start("none", Some(&board_running_v1()));
    let port = format!("tcp://127.0.0.1:{}", sim.port);
    let dir = tempfile::tempdir().unwrap();
    let v2 = images::app("esp32", "garden", "1.1.0", 120);
    let path = dir.path().join("garden.bin");
    std::fs::write(&path, &v2).unwrap();
    let (ok, v, _) = update(&["--port", &port, p(&path)]);
    assert!(ok, "{v}");
    assert_eq!(v["outcome"], "updated");
    assert_eq!(v["running"]["confirmed_by"], serde_json::json!([]));
    assert!(
        v["words"]
            .as_str()
            .unwrap()
            .contains("not yet seen running: press EN/RESET"),
        "{v}"
    );
}

/// Several boards at once, each on the same decision: one already runs the build, the other
/// gets a slot update.
#[test]
fn several_boards_on_the_same_decision() {
    let v2 = images::app("esp32", "garden", "1.1.0", 120);
    let a = Sim::start("none", Some(&board_running_v1()));
    let mut done = board_running_v1();
    done[0x10000..0x10000 + v2.len()].copy_from_slice(&v2);
    let b = Sim::start("none", Some(&done));
    let (_dir, manifest) = manifest_dir("1.1.0", &v2, &arduino_table());
    let pa = format!("rfc2217://127.0.0.1:{}", a.rfc2217);
    let pb = format!("rfc2217://127.0.0.1:{}", b.rfc2217);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otaflash"))
        .args([
            "update",
            "--json",
            "--port",
            &pa,
            "--port",
            &pb,
            p(&manifest),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let outcome = |i: usize| v["boards"][i]["outcome"].as_str().unwrap().to_string();
    assert_eq!(
        (outcome(0), outcome(1)),
        ("updated".into(), "already".into()),
        "{v}"
    );
    assert_eq!(v["boards"][0]["slot"], "app1");
    assert_eq!(a.flash()[0x150000..0x150000 + v2.len()], v2[..]);
}

/// Serves `root` over HTTP on 127.0.0.1 under /fw/ (a thread per connection).
fn serve_folder(root: PathBuf) -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut s = s;
                let mut req = vec![0u8; 4096];
                let n = s.read(&mut req).unwrap_or(0);
                let line = String::from_utf8_lossy(&req[..n])
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let file = path.strip_prefix("/fw/").map(|f| root.join(f));
                let (status, body) = match file.and_then(|f| std::fs::read(f).ok()) {
                    Some(b) if !path.contains("..") => ("200 OK", b),
                    _ => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
            });
        }
    });
    port
}

/// A power cut right after `flash --slot app1 --set-boot` finished, and the technician runs it
/// again: it says the job is done instead of refusing the slot that boots.
#[test]
fn flash_set_boot_run_again_says_already() {
    let sim = Sim::start("none", Some(&board_running_v1()));
    let port = format!("tcp://127.0.0.1:{}", sim.port);
    let dir = tempfile::tempdir().unwrap();
    let v2 = images::app("esp32", "garden", "1.1.0", 120);
    let path = dir.path().join("garden.bin");
    std::fs::write(&path, &v2).unwrap();
    let (ok, out) = flash_and_boot(&port, "app1", &path);
    assert!(ok && out.contains("boots app1 next"), "{out}");
    let before = sim.flash();
    let (ok, out) = flash_and_boot(&port, "app1", &path);
    assert!(
        ok && out.contains(
            "'app1' already holds this image (MD5 matches) and boots it: nothing written."
        ),
        "{out}"
    );
    assert!(sim.flash() == before);
}
