//! The page on boards with security features (`otaflash sim --security …` over the WebSocket
//! bridge): it shows the state as the ROM reports it, says what cannot be read, refuses a plain
//! install under flash encryption before anything is erased or written, and in secure download
//! mode works through the ROM without pretending to know the flash.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::*;
use common::*;
use fantoccini::{Client, Locator};
use std::path::Path;

/// Opens the page on `board`, connects, and waits until the chip is named `chip`.
async fn connect_to(c: &Client, web: u16, board: &WsBoard, chip: &str) -> String {
    c.goto(&format!("http://127.0.0.1:{web}/?port={}", board.ws))
        .await
        .unwrap();
    watch_errors(c).await;
    find(c, "connect").await.click().await.unwrap();
    wait_text(c, "chip", chip, 30).await
}

/// Picks `file` in Install or recover, at `offset` when given.
async fn pick_install(c: &Client, file: &Path, offset: Option<&str>) {
    open_tools(c).await;
    find(c, "install-files")
        .await
        .send_keys(&file.display().to_string())
        .await
        .unwrap();
    if let Some(o) = offset {
        let field = find(c, "install-offset").await;
        field.clear().await.unwrap();
        field.send_keys(&format!("{o}\t")).await.unwrap();
    }
}

/// Says yes to the cautions (if any are listed) and starts the install.
async fn confirm_and_install(c: &Client) {
    if let Ok(yes) = c.find(Locator::Css(&css("install-confirm"))).await {
        if yes.prop("checked").await.unwrap().as_deref() != Some("true") {
            yes.click().await.unwrap();
        }
    }
    enabled(c, "install", 10).await;
    find(c, "install").await.click().await.unwrap();
}

#[test]
fn page_on_an_encrypted_board() {
    let web = serve_dist();
    let flash = images::chip_flash("esp32c3");
    let board = WsBoard::start_with(
        &flash,
        "none",
        "esp32c3",
        &["--security", "flash-encryption-release,jtag-disabled"],
    );
    let dir = tempfile::tempdir().unwrap();
    let merged = dir.path().join("merged.bin");
    std::fs::write(&merged, images::chip_flash("esp32c3")).unwrap();
    run(async {
        let (c, _driver, _profile) = browser().await;
        connect_to(&c, web, &board, "ESP32-C3").await;
        assert_eq!(
            text(&c, "security").await,
            "flash encryption on (release mode), JTAG disabled"
        );
        let notes = text(&c, "security-notes").await;
        assert!(notes.contains("reads return ciphertext"), "{notes}");
        let table = wait_text(&c, "table-error", "flash encryption is on", 20).await;
        assert!(table.contains("ciphertext"), "{table}");
        assert!(
            text(&c, "flash-needs-table")
                .await
                .contains("flash encryption is on"),
            "no slot to flash"
        );
        shot(&c, "security-1-encrypted").await;
        // The NVS editor says why it cannot read the board (not "no NVS partition").
        find(&c, "nvs-open").await.click().await.unwrap();
        let hint = wait_text(&c, "nvs-board-hint", "cannot be read", 30).await;
        assert!(hint.contains("flash encryption is on"), "{hint}");
        // A plain merged image: refused before anything is erased or written.
        pick_install(&c, &merged, None).await;
        wait_text(&c, "install-merged", "bootloader", 20).await;
        confirm_and_install(&c).await;
        status_contains(&c, "flash encryption is on", 30).await;
        assert!(
            std::fs::read(&board.flash).unwrap() == flash,
            "nothing erased or written"
        );
        shot_at(&c, "security-2-install-refused", "install-source").await;
        assert!(
            text(&c, "backup-ciphertext").await.contains("ciphertext"),
            "a backup says what it holds"
        );
        // Data encrypted for this chip elsewhere, marked so: written as it is, MD5-verified.
        let enc: Vec<u8> = (0..20_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        let enc_path = dir.path().join("app.enc.bin");
        std::fs::write(&enc_path, &enc).unwrap();
        pick_install(&c, &enc_path, Some("0x150000")).await;
        find(&c, "install-pre-encrypted")
            .await
            .click()
            .await
            .unwrap();
        confirm_and_install(&c).await;
        status_contains(&c, "installed: 1 part verified by MD5", 30).await;
        let f = std::fs::read(&board.flash).unwrap();
        assert_eq!(f[0x150000..0x150000 + enc.len()], enc[..]);
        assert!(f[..0x150000] == flash[..0x150000], "nothing else written");
        shot_at(&c, "security-3-pre-encrypted", "install-source").await;
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}

#[test]
fn page_in_secure_download_mode() {
    let web = serve_dist();
    let flash = images::chip_flash("esp32s3");
    let board = WsBoard::start_with(
        &flash,
        "none",
        "esp32s3",
        &["--security", "secure-download"],
    );
    run(async {
        // A phone-sized window: the notes wrap, nothing scrolls sideways.
        let (c, _driver, _profile) = browser_sized(400, 900).await;
        let chip = connect_to(&c, web, &board, "ESP32-S3").await;
        assert!(chip.contains("secure download mode"), "{chip}");
        assert_eq!(text(&c, "security").await, "secure download mode");
        assert_eq!(text(&c, "loader").await, "ROM loader");
        assert_eq!(text(&c, "flash-size").await, "size unknown");
        assert_eq!(text(&c, "mac").await, "not readable");
        assert_eq!(
            text(&c, "link-baud").await,
            "921600",
            "CHANGE_BAUDRATE still works"
        );
        open_tools(&c).await;
        assert!(text(&c, "backup-unavailable")
            .await
            .contains("refuses to read"));
        assert!(
            text(&c, "security-notes")
                .await
                .contains("nothing written could be verified"),
            "the notes say what cannot be checked"
        );
        wait_text(&c, "table-error", "secure download mode", 20).await;
        let log = text(&c, "log").await;
        assert!(log.contains("the flasher stub cannot run"), "{log}");
        assert_eq!(sideways(&c).await, 0, "no sideways scroll");
        shot(&c, "security-4-secure-download-narrow").await;
        assert!(
            std::fs::read(&board.flash).unwrap() == flash,
            "nothing written"
        );
        // What still works: writing through the ROM, said to be unverified.
        let app = images::app("esp32s3", "hello", "2.0", 32);
        let dir = tempfile::tempdir().unwrap();
        let app_path = dir.path().join("hello.bin");
        std::fs::write(&app_path, &app).unwrap();
        pick_install(&c, &app_path, Some("0x150000")).await;
        assert_eq!(
            find(&c, "install-erase")
                .await
                .prop("checked")
                .await
                .unwrap()
                .as_deref(),
            Some("false"),
            "no whole-flash erase without the stub"
        );
        confirm_and_install(&c).await;
        status_contains(&c, "NOT verified", 30).await;
        let f = std::fs::read(&board.flash).unwrap();
        assert_eq!(f[0x150000..0x150000 + app.len()], app[..]);
        shot_at(&c, "security-5-unverified", "install-source").await;
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}

/// Secure boot v2 without encryption: the layout reads; an unsigned app is refused for a slot
/// before anything is written; the same app signed by espsecure 5.6 is flashed and boots next.
#[test]
fn page_on_a_secure_boot_board() {
    let web = serve_dist();
    let flash = images::chip_flash("esp32c3");
    let board = WsBoard::start_with(&flash, "none", "esp32c3", &["--security", "secure-boot"]);
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(
        p("hello-2.0.bin"),
        images::app("esp32c3", "hello", "2.0", 32),
    )
    .unwrap();
    let key = p("key.pem");
    let key = key.to_str().unwrap();
    espsecure(&[
        "generate-signing-key",
        "--version",
        "2",
        "--scheme",
        "ecdsa256",
        key,
    ]);
    espsecure(&[
        "sign-data",
        "--version",
        "2",
        "--keyfile",
        key,
        "-o",
        p("hello-2.0-signed.bin").to_str().unwrap(),
        p("hello-2.0.bin").to_str().unwrap(),
    ]);
    run(async {
        let (c, _driver, _profile) = browser().await;
        connect_to(&c, web, &board, "ESP32-C3").await;
        assert_eq!(text(&c, "security").await, "secure boot on (v2)");
        wait_text(&c, "boot-slot", "app0", 30).await;
        pick(&c, &p("hello-2.0.bin")).await;
        wait_text(&c, "image-problems", "not signed", 10).await;
        assert_eq!(attr(&c, "flash", "disabled").await.as_deref(), Some("true"));
        shot(&c, "security-6-unsigned").await;
        pick(&c, &p("hello-2.0-signed.bin")).await;
        enabled(&c, "flash", 10).await;
        find(&c, "flash").await.click().await.unwrap();
        status_contains(&c, "app1 boots next", 60).await;
        wait_text(&c, "boot-slot", "app1", 30).await;
        let signed = std::fs::read(p("hello-2.0-signed.bin")).unwrap();
        let f = std::fs::read(&board.flash).unwrap();
        assert_eq!(f[0x150000..0x150000 + signed.len()], signed[..]);
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}

/// Flash encryption in development mode: the page offers to have the chip encrypt as it
/// writes; the app lands in flash exactly as espsecure 5.6 encrypts it for that address, and
/// the page says such a write cannot be verified.
#[test]
fn page_has_the_chip_encrypt_in_development_mode() {
    let web = serve_dist();
    let dir = tempfile::tempdir().unwrap();
    let key: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(29).wrapping_add(5));
    let key_file = dir.path().join("key.bin");
    std::fs::write(&key_file, key).unwrap();
    let key_file = key_file.to_str().unwrap().to_string();
    let flash = images::chip_flash("esp32c3");
    let board = WsBoard::start_with(
        &flash,
        "none",
        "esp32c3",
        &["--security", "flash-encryption", "--flash-key", &key_file],
    );
    let app = images::app("esp32c3", "hello", "3.0", 24);
    let app_path = dir.path().join("hello-3.0.bin");
    std::fs::write(&app_path, &app).unwrap();
    let mut padded = app.clone();
    padded.resize(app.len().div_ceil(16) * 16, 0xFF);
    let want = espsecure_encrypt(dir.path(), &key_file, 0x150000, &padded);
    run(async {
        let (c, _driver, _profile) = browser().await;
        connect_to(&c, web, &board, "ESP32-C3").await;
        assert_eq!(
            text(&c, "security").await,
            "flash encryption on (development mode)"
        );
        pick_install(&c, &app_path, Some("0x150000")).await;
        // Plain, without asking the chip to encrypt: refused, nothing written.
        confirm_and_install(&c).await;
        status_contains(&c, "nothing written: flash encryption is on", 30).await;
        assert!(
            std::fs::read(&board.flash).unwrap() == flash,
            "nothing written"
        );
        find(&c, "install-encrypt").await.click().await.unwrap();
        confirm_and_install(&c).await;
        let done = status_contains(&c, "NOT verified", 30).await;
        assert!(done.contains("encrypted it as it wrote"), "{done}");
        let f = std::fs::read(&board.flash).unwrap();
        assert!(
            f[0x150000..0x150000 + want.len()] == want[..],
            "the chip's ciphertext is espsecure's"
        );
        assert!(f[..0x150000] == flash[..0x150000], "nothing else written");
        shot_at(&c, "security-7-encrypt-on-write", "install-source").await;
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}

/// Secure boot v1 on an ESP32: shown; a bootloader below 0x8000 is refused before anything is
/// written (its digest lives there), as esptool refuses it.
#[test]
fn page_on_a_secure_boot_v1_esp32() {
    let web = serve_dist();
    let flash = arduino_flash();
    let board = WsBoard::start_with(&flash, "none", "esp32", &["--security", "secure-boot-v1"]);
    let dir = tempfile::tempdir().unwrap();
    let boot = dir.path().join("bootloader.bin");
    std::fs::write(&boot, read("firmware/idf-v5.2.2_bootloader_4MB.bin")).unwrap();
    run(async {
        let (c, _driver, _profile) = browser().await;
        connect_to(&c, web, &board, "ESP32").await;
        assert_eq!(text(&c, "security").await, "secure boot on (v1)");
        wait_text(&c, "boot-slot", "app0", 30).await;
        pick_install(&c, &boot, None).await;
        let offs = until("the bootloader's row", 20, || async {
            let v = all_attr(&c, "install-part", "data-offset").await;
            (v.len() == 1).then_some(v)
        })
        .await;
        assert_eq!(offs, ["0x1000"]);
        confirm_and_install(&c).await;
        status_contains(&c, "secure boot v1 is on", 30).await;
        assert!(
            std::fs::read(&board.flash).unwrap() == flash,
            "nothing written"
        );
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}
