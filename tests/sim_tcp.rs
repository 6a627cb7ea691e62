//! `otaflash sim` over TCP: esptool 5.6 (from PyPI) cannot tell it from an ESP32 in download
//! mode, and the `otaflash` CLI drives it over the same socket. The flash file is checked byte
//! for byte after every step.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use std::path::Path;

/// Runs esptool 5.6 on the simulator; returns its output, failing the test when it fails.
fn esptool_on(sim: &Sim, args: &[&str]) -> String {
    let out = esptool(&[&["--port", &sim.url()], args].concat());
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write_tmp(dir: &Path, name: &str, b: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, b).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn esptool_accepts_the_simulator() {
    let sim = Sim::start("none", None);
    let dir = tempfile::tempdir().unwrap();

    let out = esptool_on(&sim, &["chip-id"]);
    assert!(out.contains("Detecting chip type... ESP32"), "{out}");
    assert!(
        out.contains("Chip type:          ESP32-D0WD-V3 (revision v3.1)"),
        "{out}"
    );
    assert!(
        out.contains("MAC:                24:0a:c4:0e:51:4d"),
        "{out}"
    );
    assert!(out.contains("Stub flasher running."), "{out}");
    assert!(
        !out.contains("Connecting...."),
        "connects on the first SYNC: {out}"
    );

    let out = esptool_on(&sim, &["flash-id"]);
    assert!(
        out.contains("Manufacturer: ef") && out.contains("Device: 4016"),
        "{out}"
    );
    assert!(out.contains("Detected flash size: 4MB"), "{out}");

    // write-flash with the stub (compressed by default), at 921600.
    let app = firmware_like(300_000);
    let app_path = write_tmp(dir.path(), "app.bin", &app);
    let out = esptool_on(
        &sim,
        &["--baud", "921600", "write-flash", "0x10000", &app_path],
    );
    assert!(
        out.contains("Changing baud rate to 921600") && out.contains("Hash of data verified."),
        "{out}"
    );
    assert_eq!(sim.flash()[0x10000..0x10000 + app.len()], app[..]);

    // write-flash through the ROM only, compressed.
    let other = firmware_like(70_000)
        .iter()
        .map(|b| b.rotate_left(1))
        .collect::<Vec<u8>>();
    let other_path = write_tmp(dir.path(), "other.bin", &other);
    let out = esptool_on(
        &sim,
        &[
            "--no-stub",
            "write-flash",
            "--compress",
            "0x200000",
            &other_path,
        ],
    );
    assert!(
        out.contains("Compressed 70000 bytes") && out.contains("Hash of data verified."),
        "{out}"
    );
    assert_eq!(sim.flash()[0x200000..0x200000 + other.len()], other[..]);

    let out = esptool_on(
        &sim,
        &[
            "verify-flash",
            "0x10000",
            &app_path,
            "0x200000",
            &other_path,
        ],
    );
    assert!(
        out.matches("Verification successful (digest matched)")
            .count()
            == 2,
        "{out}"
    );

    let back = dir.path().join("back.bin");
    esptool_on(
        &sim,
        &[
            "--baud",
            "921600",
            "read-flash",
            "0x10000",
            "300000",
            back.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(&back).unwrap(), app);

    let out = esptool_on(&sim, &["erase-region", "0x10000", "0x2000"]);
    assert!(out.contains("erased successfully"), "{out}");
    let f = sim.flash();
    assert!(f[0x10000..0x12000].iter().all(|&b| b == 0xFF));
    assert_eq!(f[0x12000..0x10000 + app.len()], app[0x2000..]);
}

/// esptool 5.6 with `--chip auto` takes `otaflash sim --chip X` for that chip, for every chip
/// after the ESP32: it identifies it (GET_SECURITY_INFO, or the magic value for the S2), reads
/// its eFuses (name, revision, features, crystal, MAC), runs its stub, reads the flash id through
/// its SPI registers, writes and verifies, through the stub and through the ROM at 921600 baud
/// (on the C2's 26 MHz crystal, with esptool's ROM baud workaround).
#[test]
fn esptool_takes_every_simulated_chip() {
    for (chip, pretty, description, features, crystal) in [
        (
            "esp32s2",
            "ESP32-S2",
            "ESP32-S2 (revision v1.0)",
            "Wi-Fi, Single Core, 240MHz, No Embedded Flash, No Embedded PSRAM, \
             ADC and temperature sensor calibration in BLK2 of eFuse V1",
            40,
        ),
        (
            "esp32s3",
            "ESP32-S3",
            "ESP32-S3 (QFN56) (revision v0.2)",
            "Wi-Fi, BT 5 (LE), Dual Core + LP Core, 240MHz",
            40,
        ),
        (
            "esp32c2",
            "ESP32-C2",
            "ESP32-C2 (revision v1.0)",
            "Wi-Fi, BT 5 (LE), Single Core, 120MHz",
            26,
        ),
        (
            "esp32c3",
            "ESP32-C3",
            "ESP32-C3 (QFN32) (revision v0.4)",
            "Wi-Fi, BT 5 (LE), Single Core, 160MHz",
            40,
        ),
        (
            "esp32c6",
            "ESP32-C6",
            "ESP32-C6 (QFN40) (revision v0.2)",
            "Wi-Fi 6, BT 5 (LE), IEEE802.15.4, Single Core + LP Core, 160MHz, \
             Unknown Embedded Flash",
            40,
        ),
        (
            "esp32h2",
            "ESP32-H2",
            "ESP32-H2 (revision v0.1)",
            "BT 5 (LE), IEEE802.15.4, Single Core, 96MHz, No Embedded Flash",
            32,
        ),
    ] {
        esptool_takes(chip, pretty, description, features, crystal);
    }
}

fn esptool_takes(chip: &str, pretty: &str, description: &str, features: &str, crystal: u32) {
    let sim = Sim::start_chip("none", None, chip);
    let dir = tempfile::tempdir().unwrap();
    let out = esptool_on(&sim, &["chip-id"]);
    assert!(
        out.contains(&format!("Detecting chip type... {pretty}\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Chip type:          {description}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Features:           {features}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("Crystal frequency:  {crystal}MHz")),
        "{out}"
    );
    // The chips with an 802.15.4 radio print the EUI-64 first and the base MAC after.
    assert!(
        out.contains("\nMAC:                24:0a:c4:0e:51:4d")
            || out.contains("\nBASE MAC:           24:0a:c4:0e:51:4d"),
        "{out}"
    );
    assert!(out.contains("Stub flasher running."), "{out}");
    let out = esptool_on(&sim, &["flash-id"]);
    assert!(
        out.contains("Manufacturer: ef") && out.contains("Device: 4016"),
        "{out}"
    );
    assert!(out.contains("Detected flash size: 4MB"), "{out}");
    let app = firmware_like(200_000);
    let app_path = write_tmp(dir.path(), "app.bin", &app);
    for stub in [&[][..], &["--no-stub"][..]] {
        let args = [
            stub,
            &["--baud", "921600", "write-flash", "0x10000", &app_path],
        ]
        .concat();
        let out = esptool_on(&sim, &args);
        assert!(out.contains("Hash of data verified."), "{out}");
        assert_eq!(sim.flash()[0x10000..0x10000 + app.len()], app[..]);
        let args = [stub, &["verify-flash", "0x10000", &app_path]].concat();
        let out = esptool_on(&sim, &args);
        assert!(out.contains("Verification successful"), "{out}");
    }
}

/// The CLI on a simulated ESP32-C3 holding a real C3 bootloader at 0x0: it names the chip,
/// reads the layout, flashes app1 with the C3 hello_world and switches otadata (checked read
/// whole); an ESP32 image is refused for it. (The simulated bootloader starting app1 after a
/// reset: tests/device.rs, where the test can pulse the reset line.)
#[test]
fn otaflash_cli_on_an_esp32c3() {
    let sim = Sim::start_chip("none", Some(&c3_flash()), "esp32c3");
    let url = format!("tcp://127.0.0.1:{}", sim.port);
    let (ok, out) = otaflash(&["info", "--port", &url, "--json"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["chip"], "esp32c3");
    assert_eq!(v["description"], "ESP32-C3 (QFN32) (revision v0.4)");
    assert_eq!(v["mac"], "24:0a:c4:0e:51:4d");
    assert_eq!(v["flash_size"], 4 << 20);
    assert_eq!(v["stub"], true);
    assert_eq!(v["boot"]["label"], "app0");
    assert_eq!(v["slots"][0]["app"]["project_name"], "hello_world");

    let before = sim.flash();
    let esp32_app = data("firmware/idf-v5.2.2_hello_world.bin");
    let (ok, out) = otaflash(&[
        "flash",
        "--port",
        &url,
        "--slot",
        "app1",
        esp32_app.to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("built for ESP32"), "{out}");
    assert!(sim.flash() == before, "nothing written");

    let hello = data("firmware/idf-v5.2.2_c3_hello_world.bin");
    let (ok, out) = flash_and_boot(&url, "app1", &hello);
    assert!(ok && out.contains("boots app1 next"), "{out}");
    let f = sim.flash();
    let img = read("firmware/idf-v5.2.2_c3_hello_world.bin");
    assert_eq!(f[0x150000..0x150000 + img.len()], img[..]);
    let (ok, out) = otaflash(&["info", "--port", &url, "--json", "--verify-slots"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["boot"]["label"], "app1");
    assert_eq!(v["boot_certain"], true);
}

/// The CLI on every chip after the ESP32 (`otaflash sim --chip X` over TCP, images esptool
/// made for that chip): `info` names the chip, revision, MAC, features and flash size; `flash
/// --slot app1 --set-boot` writes, verifies and switches, and the slots read whole agree.
#[test]
fn otaflash_cli_on_every_chip() {
    for (name, description, revision) in [
        ("esp32s2", "ESP32-S2 (revision v1.0)", (1, 0)),
        ("esp32s3", "ESP32-S3 (QFN56) (revision v0.2)", (0, 2)),
        ("esp32c2", "ESP32-C2 (revision v1.0)", (1, 0)),
        ("esp32c3", "ESP32-C3 (QFN32) (revision v0.4)", (0, 4)),
        ("esp32c6", "ESP32-C6 (QFN40) (revision v0.2)", (0, 2)),
        ("esp32h2", "ESP32-H2 (revision v0.1)", (0, 1)),
    ] {
        let sim = Sim::start_chip("none", Some(&images::chip_flash(name)), name);
        let url = format!("tcp://127.0.0.1:{}", sim.port);
        let (ok, out) = otaflash(&["info", "--port", &url, "--json"]);
        assert!(ok, "{name}: {out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["chip"], name);
        assert_eq!(v["description"], description);
        assert_eq!(v["revision"]["major"], revision.0);
        assert_eq!(v["revision"]["minor"], revision.1);
        assert_eq!(v["mac"], "24:0a:c4:0e:51:4d");
        assert_eq!(v["flash_size"], 4 << 20);
        assert_eq!(v["stub"], true);
        assert_eq!(v["boot"]["label"], "app0");
        assert_eq!(v["slots"][0]["app"]["project_name"], "hello");
        assert!(v["features"].as_array().is_some_and(|f| !f.is_empty()));

        let dir = tempfile::tempdir().unwrap();
        let app = images::app(name, "hello", "2.0", 96);
        let path = write_tmp(dir.path(), "hello-2.0.bin", &app);
        let (ok, out) = flash_and_boot(&url, "app1", std::path::Path::new(&path));
        assert!(ok && out.contains("boots app1 next"), "{name}: {out}");
        assert_eq!(sim.flash()[0x150000..0x150000 + app.len()], app[..]);
        let (ok, out) = otaflash(&["info", "--port", &url, "--verify-slots"]);
        assert!(ok, "{name}: {out}");
        assert!(out.contains(&format!("Chip: {description}")), "{out}");
        assert!(out.contains("Features: "), "{out}");
        assert!(out.contains("Flash: 4 MB"), "{out}");
        let (ok, out) = otaflash(&["info", "--port", &url, "--json", "--verify-slots"]);
        assert!(ok, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["boot"]["label"], "app1", "{name}");
        assert_eq!(v["boot_certain"], true);
        assert_eq!(v["slots"][1]["app"]["version"], "2.0");
    }
}

#[test]
fn esptool_with_real_timing() {
    // The link enforces the baud: 4 KiB read at 115200 takes ≥ 0.36 s of wire time.
    let sim = Sim::start("real", Some(&arduino_flash()));
    let dir = tempfile::tempdir().unwrap();
    let back = dir.path().join("od.bin");
    let t = std::time::Instant::now();
    let out = esptool_on(
        &sim,
        &["read-flash", "0xe000", "0x2000", back.to_str().unwrap()],
    );
    assert!(t.elapsed().as_secs_f64() > 0.7, "{out}");
    assert_eq!(
        std::fs::read(&back).unwrap(),
        read("firmware/arduino_boot_app0.bin")
    );
}

#[test]
fn otaflash_cli_over_tcp() {
    let sim = Sim::start("none", Some(&arduino_flash()));
    let url = format!("tcp://127.0.0.1:{}", sim.port);
    let dir = tempfile::tempdir().unwrap();

    let (ok, out) = otaflash(&["info", "--port", &url, "--json"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["chip"], "esp32");
    assert_eq!(v["description"], "ESP32-D0WD-V3 (revision v3.1)");
    assert_eq!(v["mac"], "24:0a:c4:0e:51:4d");
    assert_eq!(v["flash_size"], 4 << 20);
    assert_eq!(v["stub"], true);
    assert_eq!(v["partitions"]["entries"][2]["label"], "app0");
    assert_eq!(v["otadata"]["boot"]["label"], "app0");
    // What will boot and what otadata selects, and what each slot holds (headers read).
    assert_eq!(v["boot"]["label"], "app0");
    assert_eq!(v["boot"]["offset"], 0x10000);
    assert_eq!(v["selected"]["label"], "app0");
    assert_eq!(v["boot_certain"], false, "app0's body was not read");
    assert_eq!(v["slots"][0]["holds"], "app");
    assert_eq!(v["slots"][0]["app"]["project_name"], "hello_world");
    assert_eq!(v["slots"][1]["holds"], "empty");
    assert_eq!(v["slots"][1]["loads"], "no");
    let (ok, out) = otaflash(&["info", "--port", &url, "--json", "--verify-slots"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["boot_certain"], true, "read whole: {out}");
    assert_eq!(v["slots"][0]["checked"], "whole");

    // Booting the empty app1 is refused (nothing written); forced, it says what boots.
    let before = sim.flash();
    let (ok, out) = otaflash(&["otadata", "--port", &url, "--set-boot", "app1", "--json"]);
    assert!(
        !ok && out.contains("'app1' would not boot: it is empty"),
        "{out}"
    );
    assert!(sim.flash() == before, "nothing written");
    let (ok, out) = otaflash(&[
        "otadata",
        "--port",
        &url,
        "--set-boot",
        "app1",
        "--force",
        "--json",
    ]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["selected"]["label"], "app1");
    assert_eq!(v["boot"]["label"], "app0");
    assert_eq!(v["fallback"], "app1 is empty → app0 boots");

    // Flash the second slot, verified, then boot it.
    let hello = data("firmware/idf-v5.2.2_hello_world.bin");
    let (ok, out) = flash_and_boot(&url, "app1", &hello);
    assert!(ok, "{out}");
    assert!(
        out.contains("app1: 124416 bytes verified (MD5 ") && out.contains("boots app1 next"),
        "{out}"
    );
    assert!(
        out.contains("kbit/s effective") && out.contains("on the wire"),
        "{out}"
    );
    let f = sim.flash();
    let img = read("firmware/idf-v5.2.2_hello_world.bin");
    assert_eq!(f[0x150000..0x150000 + img.len()], img[..]);
    assert_eq!(f[0xE000..0xE020], f[0xF000..0xF020], "matched sectors");

    // Flashing the same again skips everything.
    let (ok, out) = otaflash(&[
        "flash",
        "--port",
        &url,
        "--slot",
        "app0",
        "--force",
        hello.to_str().unwrap(),
    ]);
    assert!(
        ok && out.contains("already holds these 124416 bytes"),
        "{out}"
    );
    let line = out.lines().find(|l| l.contains("already holds")).unwrap();
    assert!(
        !line.contains("kbit/s"),
        "nothing was written: no rate: {line}"
    );

    // Refusals write nothing: wrong chip, running slot.
    let s3 = data("app_images/esptool_test_images/helloworld-esp32s3.bin");
    let (ok, out) = otaflash(&[
        "flash",
        "--port",
        &url,
        "--slot",
        "app0",
        s3.to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("built for ESP32-S3"), "{out}");
    let (ok, out) = otaflash(&[
        "flash",
        "--port",
        &url,
        "--slot",
        "app1",
        hello.to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("holds the app that boots now"), "{out}");

    // Read a partition back; switch otadata from the command line.
    let back = dir.path().join("otadata.bin");
    let (ok, out) = otaflash(&[
        "read",
        "--port",
        &url,
        "--partition",
        "otadata",
        "-o",
        back.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    assert_eq!(std::fs::read(&back).unwrap(), sim.flash()[0xE000..0x10000]);
    let (ok, out) = otaflash(&["otadata", "--port", &url, "--set-boot", "app0", "--json"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["boot"]["label"], "app0");
    assert_eq!(v["selected"]["label"], "app0");
    assert_eq!(v["sectors"][0]["seq"], 3);
    let (ok, out) = otaflash(&["otadata", "--port", &url, "--erase"]);
    assert!(ok && out.contains("boots: app0"), "{out}");
    assert!(sim.flash()[0xE000..0x10000].iter().all(|&b| b == 0xFF));

    // Raw bytes at an offset, ROM only, at 115200.
    let raw = write_tmp(dir.path(), "raw.bin", &[1, 2, 3, 4, 5]);
    let (ok, out) = otaflash(&[
        "flash",
        "--port",
        &url,
        "--no-stub",
        "--baud",
        "115200",
        "--offset",
        "0x300000",
        &raw,
    ]);
    assert!(ok, "{out}");
    assert_eq!(sim.flash()[0x300000..0x300005], [1, 2, 3, 4, 5]);
}

#[test]
fn no_device_gives_a_clear_error() {
    // A listener that accepts and never answers.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let c = l.accept();
        std::thread::sleep(std::time::Duration::from_secs(6));
        drop(c);
    });
    let (ok, out) = otaflash(&[
        "info",
        "--port",
        &format!("tcp://127.0.0.1:{port}"),
        "--before",
        "no-reset",
    ]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("did not answer") && out.contains("BOOT"),
        "{out}"
    );
    let (ok, out) = otaflash(&["info", "--port", "tcp://127.0.0.1:1"]);
    assert!(!ok && out.contains("127.0.0.1:1"), "{out}");
    let (ok, out) = otaflash(&["info", "--port", "/dev/ttyUSB0"]);
    assert!(!ok && out.contains("tcp://"), "{out}");
    t.join().unwrap();
}

/// The WebSocket endpoint: binary frames only, carrying RFC 2217 (the default: control lines
/// and baud over the bridge) or raw serial bytes (`--ws-speaks raw`: each connection finds the
/// chip in download mode); a text frame ends the connection.
#[test]
fn websocket_carries_rfc2217_or_raw_bytes_in_binary_frames() {
    use futures_util::{SinkExt, StreamExt};
    use otaflash::wire::command::{Command, Response};
    use otaflash::wire::rfc2217::Client;
    use otaflash::wire::slip;
    use tokio_tungstenite::tungstenite::Message;
    type Ws = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;
    /// Binary frames until `pred` holds on the serial data in them (bounded).
    async fn until(ws: &mut Ws, rfc: &mut Option<Client>, pred: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let mut got = vec![];
        for _ in 0..200 {
            let m = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
                .await
                .expect("ws answer")
                .unwrap()
                .unwrap();
            match m {
                Message::Binary(b) => match rfc {
                    Some(c) => got.extend(c.receive(&b).0),
                    None => got.extend_from_slice(&b),
                },
                other => panic!("only binary frames expected, got {other:?}"),
            }
            if pred(&got) {
                return got;
            }
        }
        panic!("no match in {got:?}");
    }
    async fn sync(ws: &mut Ws, rfc: &mut Option<Client>) {
        let frame = slip::encode(&Command::Sync.encode());
        let bytes = if rfc.is_some() {
            Client::send(&frame)
        } else {
            frame
        };
        ws.send(Message::Binary(bytes.into())).await.unwrap();
        let got = until(ws, rfc, |g| g.ends_with(&[0xC0]) && g.len() >= 14).await;
        let mut d = slip::Decoder::new(1024);
        let mut ev = vec![];
        d.push(&got, &mut ev);
        let slip::Event::Frame(f) = &ev[0] else {
            panic!("{got:?}")
        };
        let r = Response::parse(f).unwrap();
        assert_eq!((r.op, r.value), (0x08, 0x2012_0707));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // RFC 2217 over the WebSocket.
    let sim = Sim::start("none", Some(&arduino_flash()));
    rt.block_on(async {
        let url = format!("ws://127.0.0.1:{}", sim.ws_port);
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let mut rfc = Some(Client::default());
        let hello = [Client::hello(), Client::baud(115_200)].concat();
        ws.send(Message::Binary(hello.into())).await.unwrap();
        // Reset through the control lines: the classic sequence into download mode.
        let c = rfc.as_mut().unwrap();
        let reset = [
            c.signals(false, true),
            c.signals(true, false),
            c.signals(false, false),
        ];
        ws.send(Message::Binary(reset.concat().into()))
            .await
            .unwrap();
        let got = until(&mut ws, &mut rfc, |g| {
            String::from_utf8_lossy(g).contains("waiting for download")
        })
        .await;
        assert!(String::from_utf8_lossy(&got).contains("DOWNLOAD_BOOT"));
        sync(&mut ws, &mut rfc).await;
        // And a plain reset (IO0 high) boots the app from flash.
        let c = rfc.as_mut().unwrap();
        let reset = [c.signals(false, true), c.signals(false, false)];
        ws.send(Message::Binary(reset.concat().into()))
            .await
            .unwrap();
        let got = until(&mut ws, &mut rfc, |g| {
            String::from_utf8_lossy(g).contains("Loaded app")
        })
        .await;
        assert!(
            String::from_utf8_lossy(&got).contains("offset 0x10000"),
            "{}",
            String::from_utf8_lossy(&got)
        );
        // The old JSON control is gone: a text frame ends the connection.
        ws.send(Message::Text(r#"{"dtr":true,"rts":false}"#.into()))
            .await
            .unwrap();
        let end = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            loop {
                match ws.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await;
        assert!(end.is_ok(), "the connection stayed open after a text frame");
    });
    drop(sim);
    // Raw bytes: the chip waits in download mode for each new connection.
    let sim = Sim::start_with(
        "none",
        Some(&arduino_flash()),
        "esp32",
        &["--ws-speaks", "raw"],
    );
    rt.block_on(async {
        for _ in 0..2 {
            let url = format!("ws://127.0.0.1:{}", sim.ws_port);
            let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
            sync(&mut ws, &mut None).await;
        }
    });
}

/// esptool 5.6 reaches `otaflash sim` through RFC 2217 (`rfc2217://`) with its default reset:
/// DTR/RTS and baud changes go over the Telnet COM-PORT-OPTION, one line at a time as pyserial
/// sends them, and the simulated chip enters download mode; chip-id and write-flash at 921600
/// (its MD5 check included) pass. (pyserial's RFC 2217 client waits for every acknowledgement,
/// so this is slow: the app is small.)
#[test]
fn esptool_over_rfc2217_with_its_default_reset() {
    let sim = Sim::start("none", Some(&arduino_flash()));
    let url = format!("rfc2217://127.0.0.1:{}", sim.rfc2217);
    let dir = tempfile::tempdir().unwrap();
    let out = esptool(&["--port", &url, "chip-id"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Chip type:          ESP32-D0WD-V3 (revision v3.1)"),
        "{text}"
    );
    let app = firmware_like(20_000);
    let path = write_tmp(dir.path(), "app.bin", &app);
    let out = esptool(&[
        "--port",
        &url,
        "--baud",
        "921600",
        "write-flash",
        "0x150000",
        &path,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Hash of data verified."), "{text}");
    assert_eq!(sim.flash()[0x150000..0x150000 + app.len()], app[..]);
}

/// The CLI over RFC 2217 (`rfc2217://`): it resets the chip into download mode itself (the
/// simulator, like esp_rfc2217_server, reads the reset from DTR/RTS), switches the baud, flashes
/// app1 and switches to it; after the reset into the app the simulated bootloader starts app1.
#[test]
fn otaflash_cli_over_rfc2217() {
    let sim = Sim::start("none", Some(&arduino_flash()));
    let url = format!("rfc2217://127.0.0.1:{}", sim.rfc2217);
    let (ok, out) = otaflash(&["info", "--port", &url, "--json"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["description"], "ESP32-D0WD-V3 (revision v3.1)");
    assert_eq!(v["baud"], 921_600, "the baud went over RFC 2217");
    let hello = data("firmware/idf-v5.2.2_hello_world.bin");
    let (ok, out) = flash_and_boot(&url, "app1", &hello);
    assert!(ok && out.contains("boots app1 next"), "{out}");
    let img = read("firmware/idf-v5.2.2_hello_world.bin");
    assert_eq!(sim.flash()[0x150000..0x150000 + img.len()], img[..]);
}

/// Runs `otaflash ARGS`, failing the test when it fails: (stdout, stderr).
fn otaflash_ok(args: &[&str]) -> (String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_otaflash"))
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{args:?}: {stdout}{stderr}");
    (stdout, stderr)
}

/// `otaflash flash --json ARGS`: the JSON it printed, and its log.
fn flash_json(args: &[&str]) -> (serde_json::Value, String) {
    let (stdout, stderr) = otaflash_ok(&[&["flash", "--json"], args].concat());
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (v, stderr)
}

/// The usual update writes over data that is partly the same (the idle OTA slot holds an older
/// build). On every chip: 200 KB at 0x200000, then a file whose first 150 KB are the same —
/// only the changed 64 KiB regions are written, and the flash holds the new file byte for
/// byte; then an app into a slot that holds its older version, and booted.
#[test]
fn reflash_of_partly_changed_data_writes_only_the_changed_regions_on_every_chip() {
    let chips = otaflash::chips::CHIPS.iter().filter(|c| c.supported());
    for chip in chips.map(|c| c.name) {
        let sim = Sim::start_chip("none", Some(&images::chip_flash(chip)), chip);
        let url = format!("tcp://127.0.0.1:{}", sim.port);
        let dir = tempfile::tempdir().unwrap();
        let old = firmware_like(200 * 1024);
        let mut new = old.clone();
        for b in &mut new[150 * 1024..] {
            *b = b.rotate_left(3) ^ 0x5A;
        }
        let old_path = write_tmp(dir.path(), "old.bin", &old);
        let new_path = write_tmp(dir.path(), "new.bin", &new);
        let (v, _) = flash_json(&["--port", &url, "--offset", "0x200000", &old_path]);
        assert_eq!(v["write"]["bytes_written"], 200 * 1024, "{chip}: {v}");
        let (v, _) = flash_json(&["--port", &url, "--offset", "0x200000", &new_path]);
        // Regions 0-64 KiB and 64-128 KiB are unchanged; 128-192 KiB and the last 8 KiB not.
        assert_eq!(
            v["write"]["bytes_written"],
            0x10000 + 8 * 1024,
            "{chip}: {v}"
        );
        assert_eq!(v["write"]["already_there"], 0x20000, "{chip}: {v}");
        assert_eq!(v["write"]["verified"], true, "{chip}: {v}");
        assert_eq!(
            sim.flash()[0x200000..0x200000 + new.len()],
            new[..],
            "{chip}: the flash holds the new file"
        );

        // An OTA update: app1 holds garden 1.0.0, then takes 1.1.0 and boots it.
        let v1 = images::app(chip, "garden", "1.0.0", 160);
        let v2 = images::app(chip, "garden", "1.1.0", 160);
        let v1_path = write_tmp(dir.path(), "garden-1.0.0.bin", &v1);
        let v2_path = write_tmp(dir.path(), "garden-1.1.0.bin", &v2);
        flash_json(&["--port", &url, "--slot", "app1", &v1_path]);
        let (v, _) = flash_json(&["--port", &url, "--slot", "app1", "--set-boot", &v2_path]);
        let written = v["write"]["bytes_written"].as_u64().unwrap();
        assert!(
            written > 0 && written < v2.len() as u64,
            "{chip}: only what changed: {v}"
        );
        assert_eq!(v["write"]["verified"], true, "{chip}: {v}");
        assert_eq!(v["boots_next"], "app1", "{chip}: {v}");
        assert_eq!(sim.flash()[0x150000..0x150000 + v2.len()], v2[..], "{chip}");
    }
}

/// A raw tcp:// link has no baud control: by default the chip stays at 115200 and the log says
/// how to go faster; with --baud it is asked for that rate, which `otaflash sim`'s raw TCP, a
/// link without a UART of its own, carries (as esptool's socket:// does).
#[test]
fn raw_tcp_takes_the_baud_asked_for() {
    let sim = Sim::start("real", Some(&arduino_flash()));
    let url = format!("tcp://127.0.0.1:{}", sim.port);
    let (stdout, stderr) = otaflash_ok(&["info", "--port", &url]);
    assert!(
        stderr.contains("staying at 115200 baud") && stderr.contains("--baud 921600"),
        "{stderr}"
    );
    assert!(stdout.contains("at 115200 baud"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let app = firmware_like(300_000);
    let path = write_tmp(dir.path(), "app.bin", &app);
    let (v, log) = flash_json(&[
        "--port", &url, "--baud", "921600", "--offset", "0x200000", &path,
    ]);
    assert!(
        log.contains("baud rate 921600"),
        "the link was checked at 921600: {log}"
    );
    assert_eq!(v["baud"], 921_600, "{v}");
    assert_eq!(v["write"]["verified"], true);
    assert_eq!(sim.flash()[0x200000..0x200000 + app.len()], app[..]);
}

/// What ended a command is in its exit status and, with `--json`, in an error object on stdout:
/// 1 refused (nothing written), 2 the board or link failed, 3 what was written does not read
/// back (a flash byte that stays 1).
#[test]
fn failures_say_their_kind_in_the_exit_status_and_json() {
    let run = |args: &[&str]| {
        let out = otaflash_out(args);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: {e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code(), v)
    };
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.bin");
    std::fs::write(&text, "not firmware at all\n").unwrap();
    let hello = data("firmware/idf-v5.2.2_hello_world.bin");
    let sim = Sim::start_with(
        "none",
        Some(&arduino_flash()),
        "esp32",
        &["--fault-stuck", "0x150100"],
    );
    let url = sim.url();
    let before = sim.flash();

    let (code, v) = run(&[
        "flash",
        "--port",
        &url,
        "--slot",
        "app1",
        "--json",
        text.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["error"]["kind"], "refused", "{v}");
    assert_eq!(sim.flash(), before, "nothing written");

    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = format!("tcp://127.0.0.1:{}", free.local_addr().unwrap().port());
    drop(free);
    let (code, v) = run(&["info", "--port", &nobody, "--json"]);
    assert_eq!(code, Some(2), "{v}");
    assert_eq!(v["error"]["kind"], "board", "{v}");

    let (code, v) = run(&[
        "flash",
        "--port",
        &url,
        "--slot",
        "app1",
        "--json",
        hello.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(3), "{v}");
    assert_eq!(v["error"]["kind"], "verify", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("MD5"),
        "{v}"
    );

    // A chip that hangs part-way through the write (the link stays up): no answer in time.
    let hung = Sim::start_with(
        "none",
        Some(&arduino_flash()),
        "esp32",
        &["--fault-hang-after", "60000"],
    );
    let (code, v) = run(&[
        "flash",
        "--port",
        &hung.url(),
        "--slot",
        "app1",
        "--json",
        hello.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{v}");
    assert_error(&v, "board", "stopped answering", "power supply and cable");
}

/// `otaflash wifi` over RFC 2217: the board is reset into its app, which speaks Improv Wi-Fi
/// (the simulated app's service): what it is, the networks it sees, a wrong password refused
/// by the app in words with what to try (exit 2, kind "board"), the right one giving the
/// address to visit.
#[test]
fn wifi_set_up_over_improv() {
    let run = otaflash_out;
    let sim = Sim::start("real", Some(&arduino_flash()));
    let url = format!("rfc2217://127.0.0.1:{}", sim.rfc2217);
    let out = run(&["wifi", "--port", &url, "--scan", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["firmware"], "hello_world", "{v}");
    assert_eq!(v["chip"], "ESP32", "{v}");
    assert_eq!(v["provisioned"], false, "{v}");
    let ssids: Vec<&str> = v["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["ssid"].as_str().unwrap())
        .collect();
    assert_eq!(ssids, ["GardenNet", "Workshop", "Guest"], "strongest first");

    let out = run(&[
        "wifi",
        "--port",
        &url,
        "--ssid",
        "GardenNet",
        "--password",
        "potato",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_error(&v, "board", "could not connect to the network", "password");

    let out = run(&[
        "wifi",
        "--port",
        &url,
        "--ssid",
        "GardenNet",
        "--password",
        "tomato-soup",
    ]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("Connected to GardenNet. Visit the device: http://hello-world-0e514d.local/"),
        "{said}"
    );
}

/// Runs the `otaflash` binary with `args`.
fn otaflash_out(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_otaflash"))
        .args(args)
        .output()
        .unwrap()
}

/// A `--json` error object of `kind` whose message and first hint say these words.
fn assert_error(v: &serde_json::Value, kind: &str, message: &str, hint: &str) {
    let e = &v["error"];
    assert_eq!(e["kind"], kind, "{v}");
    assert!(
        e["message"].as_str().unwrap_or_default().contains(message),
        "{v}"
    );
    assert!(
        e["hints"][0].as_str().unwrap_or_default().contains(hint),
        "{v}"
    );
}
