//! The page through a standard bridge: websockify (PyPI, pinned by scripts/setup.sh) in front
//! of `otaflash sim`'s RFC 2217 server (the page resets the chip and sets the baud over RFC
//! 2217 in binary frames, `rfc2217+ws://`) and in front of its raw TCP server (`ws://`: no
//! control lines, the chip waits in download mode). Each flashes app1 and boots it; the sim's
//! flash file is checked byte for byte.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::*;
use common::*;
use fantoccini::Client;
use std::os::unix::process::CommandExt;

/// `websockify` from scripts/setup.sh's venv, from a free 127.0.0.1 port to `target`; stopped
/// when dropped.
struct Websockify {
    _proc: Proc,
    port: u16,
}

impl Websockify {
    fn start(target: u16) -> Websockify {
        let port = free_port();
        let child = std::process::Command::new("python3")
            .args(["-m", "websockify", "--heartbeat", "0"])
            .arg(format!("127.0.0.1:{port}"))
            .arg(format!("127.0.0.1:{target}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("websockify (scripts/setup.sh installs websockify 0.13.0 into .tools/venv)");
        let w = Websockify {
            _proc: Proc(child),
            port,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return w;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("websockify did not listen on 127.0.0.1:{port} within 10 s (is it installed? scripts/setup.sh)");
    }
}

/// Flashes hello_world into app1, which boots it next (one action).
async fn flash_app1(c: &Client) {
    wait_text(c, "boot-slot", "app0", 30).await;
    pick(c, &data("firmware/idf-v5.2.2_hello_world.bin")).await;
    enabled(c, "flash", 10).await;
    find(c, "flash").await.click().await.unwrap();
    let st = status_contains(c, "app1 boots next", 120).await;
    assert!(st.contains("app1: 124416 bytes verified"), "{st}");
    wait_text(c, "boot-slot", "app1", 30).await;
}

fn assert_app1_boots(flash: &std::path::Path) {
    let f = std::fs::read(flash).unwrap();
    let img = read("firmware/idf-v5.2.2_hello_world.bin");
    assert_eq!(
        f[0x150000..0x150000 + img.len()],
        img[..],
        "app1 holds the image"
    );
    let e =
        otaflash::formats::otadata::Entry::new(2, otaflash::formats::otadata::OtaState::Undefined)
            .to_bytes();
    assert_eq!(f[0xE000..0xE020], e);
    assert_eq!(f[0xF000..0xF020], e, "matched otadata sectors");
}

/// websockify → the sim's RFC 2217 server: the reset into download mode, the baud switch and
/// the reset into the app all cross the bridge as RFC 2217.
#[test]
fn page_through_websockify_to_rfc2217() {
    let web = serve_dist();
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    std::fs::write(&flash, arduino_flash()).unwrap();
    let sim = SimProcess::start(&flash, "real");
    let bridge = Websockify::start(sim.rfc2217);
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!(
            "http://127.0.0.1:{web}/?port=rfc2217+ws://127.0.0.1:{}",
            bridge.port
        ))
        .await
        .unwrap();
        watch_errors(&c).await;
        wait_text(&c, "ws-note", "RFC 2217", 10).await;
        find(&c, "connect").await.click().await.unwrap();
        let chip = wait_text(&c, "chip", "ESP32", 30).await;
        assert!(chip.contains("ESP32-D0WD-V3"), "{chip}");
        assert_eq!(text(&c, "loader").await, "flasher stub");
        assert_eq!(text(&c, "link-baud").await, "921600", "baud over RFC 2217");
        flash_app1(&c).await;
        assert_app1_boots(&flash);
        // The reset into the app crosses the bridge too: the bootloader starts app1.
        find(&c, "watch").await.click().await.unwrap();
        wait_text(
            &c,
            "log",
            "Loaded app from partition at offset 0x150000",
            30,
        )
        .await;
        shot(&c, "bridge-rfc2217").await;
        let log = text(&c, "log").await;
        assert_eq!(
            log.matches("waiting for download").count(),
            1,
            "one reset: {log}"
        );
        find(&c, "stop-console").await.click().await.unwrap();
        wait_text(&c, "chip", "ESP32", 30).await;
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}

/// websockify → the sim's raw TCP server: no control lines, so the page says the chip must be
/// in download mode, skips the reset and stays at the ROM's baud; flashing still works.
#[test]
fn page_through_websockify_to_raw_tcp() {
    let web = serve_dist();
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    std::fs::write(&flash, arduino_flash()).unwrap();
    let sim = SimProcess::start(&flash, "real");
    let bridge = Websockify::start(sim.tcp_port);
    run(async {
        // A phone-sized window: the bridge note wraps, nothing scrolls sideways.
        let (c, _driver, _profile) = browser_sized(400, 900).await;
        c.goto(&format!(
            "http://127.0.0.1:{web}/?port=ws://127.0.0.1:{}",
            bridge.port
        ))
        .await
        .unwrap();
        watch_errors(&c).await;
        let note = wait_text(&c, "ws-note", "cannot reset", 10).await;
        assert!(note.contains("download mode by hand"), "{note}");
        assert_eq!(sideways(&c).await, 0, "no sideways scroll");
        shot(&c, "bridge-raw-0-note-narrow").await;
        find(&c, "connect").await.click().await.unwrap();
        let chip = wait_text(&c, "chip", "ESP32", 30).await;
        assert!(chip.contains("ESP32-D0WD-V3"), "{chip}");
        assert_eq!(
            text(&c, "link-baud").await,
            "115200",
            "a byte pipe has no baud to set"
        );
        let log = text(&c, "log").await;
        assert!(log.contains("cannot reset the chip"), "{log}");
        flash_app1(&c).await;
        assert_app1_boots(&flash);
        find(&c, "watch").await.click().await.unwrap();
        wait_text(&c, "log", "press EN/RESET on the board", 10).await;
        shot(&c, "bridge-raw").await;
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}

/// The same raw bridge with `&baud=921600` in the address: the rate is asked of the chip even
/// though the link has no baud control (the sim's raw TCP has no UART of its own and carries
/// it, as an emulator does), and flashing works at it.
#[test]
fn page_through_a_raw_bridge_at_the_baud_asked_for() {
    let web = serve_dist();
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    std::fs::write(&flash, arduino_flash()).unwrap();
    let sim = SimProcess::start(&flash, "real");
    let bridge = Websockify::start(sim.tcp_port);
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!(
            "http://127.0.0.1:{web}/?port=ws://127.0.0.1:{}&baud=921600",
            bridge.port
        ))
        .await
        .unwrap();
        watch_errors(&c).await;
        find(&c, "connect").await.click().await.unwrap();
        wait_text(&c, "chip", "ESP32", 30).await;
        assert_eq!(text(&c, "link-baud").await, "921600");
        let log = text(&c, "log").await;
        assert!(log.contains("asking the chip for 921600 baud"), "{log}");
        flash_app1(&c).await;
        assert_app1_boots(&flash);
        shot(&c, "bridge-raw-921600").await;
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}
