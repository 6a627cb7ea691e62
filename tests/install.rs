//! Setting up and recovering a board from the command line against `otaflash sim` over TCP:
//! a full install from an ESP Web Tools manifest onto a blank chip (the simulated bootloader
//! then starts the app), a merged image, files at addresses, the checks that write nothing,
//! a layout change that loses NVS, and erasing. The flash file is checked after every step.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use otaflash::sim::{Config, Esp32, Timing};
use std::path::Path;

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn url(sim: &Sim) -> String {
    format!("tcp://127.0.0.1:{}", sim.port)
}

/// What the simulated bootloader starts from this flash, and what it prints.
fn boots(flash: &[u8]) -> (Option<String>, String) {
    boots_on(flash, otaflash::chips::ESP32)
}

/// The same on `chip` (its bootloader offset, its image checks).
fn boots_on(flash: &[u8], chip: &'static otaflash::chips::Chip) -> (Option<String>, String) {
    let mut config = Config::new(flash.len() as u32, Timing::NONE);
    config.chip = chip;
    let mut dev = Esp32::new(flash.to_vec(), config);
    dev.set_host_baud(Some(115_200));
    dev.reset(std::time::Duration::ZERO, false);
    let out = dev.take_output(std::time::Duration::from_secs(5));
    (
        dev.last_boot.clone().map(|b| b.0),
        String::from_utf8_lossy(&out).into_owned(),
    )
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn install_a_manifest_onto_a_blank_chip() {
    let sim = Sim::start("none", Some(&vec![0xFF; FLASH_SIZE]));
    let (ok, out) = otaflash(&[
        "install",
        "--port",
        &url(&sim),
        "--json",
        p(&data("manifest.json")),
    ]);
    assert!(ok, "{out}");
    let v = json(&out);
    let parts = v["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 4);
    let kinds: Vec<&str> = parts.iter().map(|x| x["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["bootloader", "partition table", "otadata", "app"]);
    // Each part is where the manifest says, byte for byte, and was verified.
    let f = sim.flash();
    for (name, at) in [
        ("arduino_bootloader_dio_40m.bin", 0x1000usize),
        ("arduino_partitions_default.bin", 0x8000),
        ("arduino_boot_app0.bin", 0xE000),
        ("arduino_StartCounter.ino.bin", 0x10000),
    ] {
        let b = read(&format!("firmware/{name}"));
        assert!(f[at..at + b.len()] == b[..], "{name}");
        let part = parts.iter().find(|x| x["name"] == name).unwrap();
        assert_eq!(
            part["md5"],
            otaflash::formats::hex(&otaflash::formats::md5(&b))
        );
    }
    assert_eq!(v["boot"]["label"], "app0");
    assert_eq!(v["erased"], false);
    // The simulated bootloader starts the installed app.
    let (booted, console) = boots(&f);
    assert_eq!(booted.as_deref(), Some("app0"), "{console}");
    assert!(
        console.contains("Loaded app from partition at offset 0x10000"),
        "{console}"
    );
    // Again: everything is already there; nothing is written.
    let (ok, out) = otaflash(&["install", "--port", &url(&sim), p(&data("manifest.json"))]);
    assert!(
        ok && out.contains("installed: 4 parts verified by MD5 (")
            && out.contains(" bytes, 0 written)"),
        "{out}"
    );
}

/// The IDF v5.2.2 bootloader's header says 2 MB; on this 4 MB chip with the Arduino table the
/// real bootloader rejects the table. The install says so and writes nothing; `--flash-size
/// detect` fits the header as esptool does, and the chip boots.
#[test]
fn files_at_addresses_and_the_bootloader_flash_size() {
    let sim = Sim::start("none", Some(&vec![0xFF; FLASH_SIZE]));
    let fw = |n: &str| data(&format!("firmware/{n}")).to_str().unwrap().to_string();
    let (bl, pt, od, app) = (
        fw("idf-v5.2.2_bootloader.bin"),
        fw("arduino_partitions_default.bin"),
        fw("arduino_boot_app0.bin"),
        fw("idf-v5.2.2_hello_world.bin"),
    );
    let u = url(&sim);
    let args = |extra: &[&str]| {
        let mut a = vec!["write", "--port", &u];
        a.extend_from_slice(extra);
        a.extend_from_slice(&["0x1000", &bl, "0x8000", &pt, "0xe000", &od, "0x10000", &app]);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| otaflash(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let (ok, out) = run(args(&[]));
    assert!(!ok, "{out}");
    assert!(
        out.contains("its header says a 2 MB flash, the chip has 4 MB"),
        "{out}"
    );
    assert!(out.contains("need --yes"), "{out}");
    assert!(sim.flash().iter().all(|&b| b == 0xFF), "nothing written");
    // Forced as it is: written, and the (simulated) bootloader indeed rejects the table.
    let (ok, out) = run(args(&["--yes"]));
    assert!(ok, "{out}");
    let (booted, console) = boots(&sim.flash());
    assert_eq!(booted, None);
    assert!(
        console.contains("exceeds flash chip size 0x200000"),
        "{console}"
    );
    // Fitted: the header says 4 MB (the file esptool makes with --flash-size 4MB), it boots.
    let (ok, out) = run(args(&["--flash-size", "detect"]));
    assert!(ok, "{out}");
    assert!(out.contains("flash size set to 4 MB"), "{out}");
    let want = read("firmware/idf-v5.2.2_bootloader_4MB.bin");
    assert!(sim.flash()[0x1000..0x1000 + want.len()] == want[..]);
    let (booted, console) = boots(&sim.flash());
    assert_eq!(booted.as_deref(), Some("app0"), "{console}");
    assert!(console.contains("hello_world"), "{console}");
}

/// A merged image (esptool merge-bin) written at 0 onto a blank chip, verified; it boots.
#[test]
fn a_merged_image() {
    let dir = tempfile::tempdir().unwrap();
    let merged = dir.path().join("merged.bin");
    let fw = |n: &str| data(&format!("firmware/{n}")).to_str().unwrap().to_string();
    esptool(&[
        "--chip",
        "esp32",
        "merge-bin",
        "-o",
        p(&merged),
        "0x1000",
        &fw("idf-v5.2.2_bootloader_4MB.bin"),
        "0x8000",
        &fw("arduino_partitions_default.bin"),
        "0xe000",
        &fw("arduino_boot_app0.bin"),
        "0x10000",
        &fw("idf-v5.2.2_hello_world.bin"),
    ]);
    let sim = Sim::start("none", Some(&vec![0xFF; FLASH_SIZE]));
    let (ok, out) = otaflash(&["write", "--port", &url(&sim), "--json", "0x0", p(&merged)]);
    assert!(ok, "{out}");
    let v = json(&out);
    assert_eq!(v["parts"][0]["kind"], "whole-flash image");
    let m = std::fs::read(&merged).unwrap();
    assert!(sim.flash()[..m.len()] == m[..]);
    assert_eq!(boots(&sim.flash()).0.as_deref(), Some("app0"));
}

/// A merged image `esptool --chip X merge-bin` made (bootloader at the chip's offset, table,
/// boot_app0, app) onto a blank chip of each kind: written at 0, and its bootloader starts app0.
#[test]
fn a_merged_image_on_every_chip() {
    for name in [
        "esp32s2", "esp32s3", "esp32c2", "esp32c3", "esp32c6", "esp32h2",
    ] {
        let chip = otaflash::chips::Chip::by_name(name).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = |n: &str, b: &[u8]| {
            let path = dir.path().join(n);
            std::fs::write(&path, b).unwrap();
            path.to_str().unwrap().to_string()
        };
        let boot = file("boot.bin", &images::bootloader(name));
        let table = file(
            "table.bin",
            &read("firmware/arduino_partitions_default.bin"),
        );
        let od = file("otadata.bin", &read("firmware/arduino_boot_app0.bin"));
        let app = file("app.bin", &images::app(name, "hello", "3.0", 64));
        let merged = dir.path().join("merged.bin");
        let boot_at = format!("0x{:x}", chip.bootloader_offset);
        esptool(&[
            "--chip",
            name,
            "merge-bin",
            "-o",
            p(&merged),
            &boot_at,
            &boot,
            "0x8000",
            &table,
            "0xe000",
            &od,
            "0x10000",
            &app,
        ]);
        let sim = Sim::start_chip("none", Some(&vec![0xFF; FLASH_SIZE]), name);
        let (ok, out) = otaflash(&["write", "--port", &url(&sim), "--json", "0x0", p(&merged)]);
        assert!(ok, "{name}: {out}");
        let m = std::fs::read(&merged).unwrap();
        assert!(sim.flash()[..m.len()] == m[..], "{name}");
        let (booted, log) = boots_on(&sim.flash(), chip);
        assert_eq!(booted.as_deref(), Some("app0"), "{name}: {log}");
        assert!(log.contains("\"hello\" 3.0"), "{log}");
    }
}

/// What stops an install writes nothing: parts that overlap, run past the flash, do not start
/// a sector, an app for another chip, an app too big for its slot.
#[test]
fn refusals_write_nothing() {
    let sim = Sim::start("none", Some(&arduino_flash()));
    let before = sim.flash();
    let dir = tempfile::tempdir().unwrap();
    let f = |name: &str, b: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, b).unwrap();
        path.to_str().unwrap().to_string()
    };
    let hello = f("hello.bin", &read("firmware/idf-v5.2.2_hello_world.bin"));
    let s3 = f(
        "s3.bin",
        &read("app_images/esptool_test_images/helloworld-esp32s3.bin"),
    );
    let big = f("big.bin", &vec![0u8; 0x3000]);
    let mut huge_app = read("firmware/idf-v5.2.2_hello_world.bin");
    huge_app.resize(0x150000, 0xFF);
    let huge = f("huge.bin", &huge_app);
    let u = url(&sim);
    for (args, why) in [
        (
            vec!["0x10000", &hello, "0x20000", &big, "0x21000", &hello],
            "overlap",
        ),
        (vec!["0x3ff000", &big], "past the end of the 4 MB flash"),
        (
            vec!["0x10010", &hello],
            "does not start a 4 KiB flash sector",
        ),
        (vec!["0x150000", &s3], "built for ESP32-S3"),
        (
            vec!["0x10000", &huge],
            "larger than the 1280 KB slot 'app0'",
        ),
    ] {
        let mut a = vec!["write", "--port", &u, "--yes"];
        a.extend(args.iter().copied());
        let (ok, out) = otaflash(&a);
        assert!(
            !ok && out.contains("nothing written") && out.contains(why),
            "{why}: {out}"
        );
    }
    assert!(sim.flash() == before, "nothing written");
}

/// A manifest whose table moves NVS: the install names the lost data and writes nothing
/// without --yes; with --erase and --yes it erases first and installs.
#[test]
fn a_layout_change_says_what_data_is_lost() {
    let sim = Sim::start("none", Some(&arduino_flash()));
    let before = sim.flash();
    let dir = tempfile::tempdir().unwrap();
    let table = otaflash::formats::partition::PartitionTable::from_csv(
        "otadata,data,ota,0xe000,0x2000\napp0,app,ota_0,0x10000,0x140000\napp1,app,ota_1,0x150000,0x140000\nnvs,data,nvs,0x3f0000,0x10000\n",
        0x8000,
    )
    .unwrap();
    std::fs::write(dir.path().join("moved.bin"), table.to_bytes().unwrap()).unwrap();
    std::fs::copy(
        data("firmware/idf-v5.2.2_hello_world.bin"),
        dir.path().join("app.bin"),
    )
    .unwrap();
    let manifest = dir.path().join("manifest.json");
    std::fs::write(
        &manifest,
        r#"{"name": "moved", "builds": [{"chipFamily": "ESP32", "parts": [
            {"path": "moved.bin", "offset": 32768}, {"path": "app.bin", "offset": "0x10000"}]}]}"#,
    )
    .unwrap();
    let (ok, out) = otaflash(&["install", "--port", &url(&sim), p(&manifest)]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("the data in 'nvs' (0x9000, 20 KB) is lost: the new partition table moves it to 0x3f0000"),
        "{out}"
    );
    assert!(
        out.contains("'spiffs'") && out.contains("no such partition"),
        "{out}"
    );
    assert!(sim.flash() == before, "nothing written");
    let (ok, out) = otaflash(&[
        "install",
        "--port",
        &url(&sim),
        "--erase",
        "--yes",
        "--json",
        p(&manifest),
    ]);
    // Erased first, with no bootloader installed: nothing would boot, which stops it…
    assert!(
        !ok && out.contains("after this, nothing would boot: no bootloader"),
        "{out}"
    );
    assert!(sim.flash() == before, "nothing written");
    // …unless that is meant (then the plan names it, and --yes covers it).
    let (ok, out) = otaflash(&[
        "install",
        "--port",
        &url(&sim),
        "--erase",
        "--yes",
        "--nothing-boots-ok",
        "--json",
        p(&manifest),
    ]);
    assert!(ok, "{out}");
    let v = json(&out);
    assert!(
        v["cautions"]
            .to_string()
            .contains("after this, nothing will boot"),
        "{v}"
    );
    assert_eq!(v["erased"], true);
    assert_eq!(v["layout_changes"], true);
    let f = sim.flash();
    assert!(
        f[0x9000..0xE000].iter().all(|&b| b == 0xFF),
        "old NVS erased"
    );
    assert!(
        f[0x1000..0x8000].iter().all(|&b| b == 0xFF),
        "the whole flash was erased first"
    );
}

#[test]
fn erase_a_partition_a_range_and_everything() {
    let sim = Sim::start("none", Some(&arduino_flash()));
    let mut nvs_full = arduino_flash();
    nvs_full[0x9000..0xE000].fill(0x42);
    drop(sim);
    let sim = Sim::start("none", Some(&nvs_full));
    let u = url(&sim);
    // Without --yes: what would be lost, nothing erased.
    let (ok, out) = otaflash(&["erase", "--port", &u, "--partition", "nvs"]);
    assert!(
        !ok && out.contains("loses: nvs (data nvs)") && out.contains("--yes"),
        "{out}"
    );
    assert!(sim.flash() == nvs_full);
    let (ok, out) = otaflash(&[
        "erase",
        "--port",
        &u,
        "--partition",
        "nvs",
        "--yes",
        "--json",
    ]);
    assert!(ok, "{out}");
    assert_eq!(json(&out)["lost"], serde_json::json!(["nvs (data nvs)"]));
    let f = sim.flash();
    assert!(f[0x9000..0xE000].iter().all(|&b| b == 0xFF));
    assert!(
        f[..0x9000] == nvs_full[..0x9000] && f[0xE000..] == nvs_full[0xE000..],
        "nothing else"
    );
    // A range, then everything.
    let (ok, out) = otaflash(&[
        "erase", "--port", &u, "--offset", "0xe000", "--size", "0x2000", "--yes",
    ]);
    assert!(ok && out.contains("otadata"), "{out}");
    assert!(sim.flash()[0xE000..0x10000].iter().all(|&b| b == 0xFF));
    let (ok, out) = otaflash(&[
        "erase", "--port", &u, "--offset", "0xe100", "--size", "0x1000", "--yes",
    ]);
    assert!(!ok && out.contains("multiples of 4 KiB"), "{out}");
    let (ok, out) = otaflash(&["erase", "--port", &u, "--all", "--yes"]);
    assert!(
        ok && out.contains("the bootloader, the partition table"),
        "{out}"
    );
    assert!(sim.flash().iter().all(|&b| b == 0xFF));
    let (ok, out) = otaflash(&["erase", "--port", &u, "--partition", "nvs", "--yes"]);
    assert!(!ok && out.contains("no partition table at 0x8000"), "{out}");
}
