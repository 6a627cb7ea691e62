//! End to end, setting up and recovering a board in the page (headless Chromium, `otaflash sim
//! --ws`, its flash file checked byte for byte): a full install of an ESP Web Tools manifest
//! onto a blank chip that then runs the app, a layout change that loses NVS, a merged image,
//! files at offsets, refusals, and erasing. Screenshots land in target/screenshots/.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::*;
use common::*;
use fantoccini::{Client, Locator};
use std::path::{Path, PathBuf};

async fn connect(c: &Client) {
    find(c, "connect").await.click().await.unwrap();
    wait_text(c, "chip", "ESP32", 30).await;
}

/// Picks files into the install panel (several at once).
async fn pick_install(c: &Client, files: &[PathBuf]) {
    open_tools(c).await;
    let all: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    find(c, "install-files")
        .await
        .send_keys(&all.join("\n"))
        .await
        .unwrap();
}

fn fw(name: &str) -> Vec<u8> {
    read(&format!("firmware/{name}"))
}

fn write(dir: &Path, name: &str, b: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, b).unwrap();
    p
}

/// What the simulated bootloader starts from this flash.
fn boots(flash: &[u8]) -> Option<String> {
    let mut dev = otaflash::sim::Esp32::new(
        flash.to_vec(),
        otaflash::sim::Config::new(flash.len() as u32, otaflash::sim::Timing::NONE),
    );
    dev.reset(std::time::Duration::ZERO, false);
    dev.last_boot.map(|b| b.0)
}

/// From a blank chip: ?manifest= preloads the manifest, Install writes every part of the
/// ESP32 build, each verified; the chip is reset and the simulated bootloader runs the app.
#[test]
fn install_a_manifest_onto_a_blank_board() {
    let web = serve_dist();
    let board = WsBoard::start(&vec![0xFF; FLASH_SIZE], "real");
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!(
            "http://127.0.0.1:{web}/?port={}&manifest=/t/manifest.json",
            board.ws
        ))
        .await
        .unwrap();
        watch_errors(&c).await;
        connect(&c).await;
        wait_text(&c, "table-error", "blank", 30).await;
        open_tools(&c).await;
        let kinds = until("the ESP32 build's parts", 20, || async {
            let v = all_attr(&c, "install-part", "data-kind").await;
            (v.len() == 4).then_some(v)
        })
        .await;
        assert_eq!(kinds, ["bootloader", "partition table", "otadata", "app"]);
        assert_eq!(
            all_attr(&c, "install-part", "data-offset").await,
            ["0x1000", "0x8000", "0xe000", "0x10000"]
        );
        assert!(text(&c, "install-source").await.contains("the ESP32 build"));
        assert!(
            c.find(Locator::Css(&css("install-cautions")))
                .await
                .is_err(),
            "a blank chip loses nothing"
        );
        shot_at(&c, "install-1-blank-board", "install").await;
        enabled(&c, "install", 10).await;
        let t0 = std::time::Instant::now();
        find(&c, "install").await.click().await.unwrap();
        let st = status_contains(&c, "installed", 120).await;
        let took = t0.elapsed();
        eprintln!(
            "page install of the example manifest at 921600, real timing: {:.1} s",
            took.as_secs_f64()
        );
        assert!(st.contains("installed: 4 parts verified by MD5"), "{st}");
        // The parts, byte for byte.
        let f = std::fs::read(&board.flash).unwrap();
        for (name, at) in [
            ("arduino_bootloader_dio_40m.bin", 0x1000usize),
            ("arduino_partitions_default.bin", 0x8000),
            ("arduino_boot_app0.bin", 0xE000),
            ("arduino_StartCounter.ino.bin", 0x10000),
        ] {
            let b = fw(name);
            assert!(f[at..at + b.len()] == b[..], "{name}");
        }
        // Reset into the app: the bootloader loads it; the layout and what boots are shown.
        let log = wait_text(&c, "log", "Loaded app from partition at offset 0x10000", 30).await;
        assert!(log.contains("app0 holds an app"), "{log}");
        assert!(
            text(&c, "status").await.contains("installed"),
            "the result stays in view"
        );
        assert_eq!(text(&c, "boot-slot").await, "app0");
        shot(&c, "install-2-installed").await;
        let (_, errors) = caught(&c).await;
        assert_eq!(errors, serde_json::json!([]));
        c.close().await.unwrap();
    });
}

/// A manifest picked with its files whose table moves NVS: the page names the lost data, offers
/// to erase first, and installs only after a yes.
#[test]
fn a_layout_change_is_said_before_writing() {
    let web = serve_dist();
    let mut start = arduino_flash();
    start[0x9000..0xE000].fill(0x42); // NVS holds data
    let board = WsBoard::start(&start, "none");
    let dir = tempfile::tempdir().unwrap();
    let moved = otaflash::formats::partition::PartitionTable::from_csv(
        "otadata,data,ota,0xe000,0x2000\napp0,app,ota_0,0x10000,0x140000\napp1,app,ota_1,0x150000,0x140000\nnvs,data,nvs,0x3f0000,0x10000\n",
        0x8000,
    )
    .unwrap();
    let files = [
        write(
            dir.path(),
            "manifest.json",
            br#"{"name": "moved-nvs", "version": "2", "builds": [{"chipFamily": "ESP32", "parts": [
                {"path": "firmware/bootloader.bin", "offset": 4096},
                {"path": "firmware/partitions.bin", "offset": 32768},
                {"path": "firmware/app.bin", "offset": 65536}]}]}"#,
        ),
        write(
            dir.path(),
            "bootloader.bin",
            &fw("arduino_bootloader_dio_40m.bin"),
        ),
        write(dir.path(), "partitions.bin", &moved.to_bytes().unwrap()),
        write(dir.path(), "app.bin", &fw("idf-v5.2.2_hello_world.bin")),
    ];
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port={}", board.ws))
            .await
            .unwrap();
        connect(&c).await;
        pick_install(&c, &files).await;
        let cautions = wait_text(&c, "install-cautions", "'nvs'", 20).await;
        assert!(
            cautions.contains("the data in 'nvs' (0x9000, 20 KB) is lost"),
            "{cautions}"
        );
        assert!(
            cautions.contains("the whole flash is erased first"),
            "erasing first is the default now: {cautions}"
        );
        assert_eq!(
            find(&c, "install-erase")
                .await
                .prop("checked")
                .await
                .unwrap()
                .as_deref(),
            Some("true")
        );
        assert_eq!(
            attr(&c, "install", "disabled").await.as_deref(),
            Some("true"),
            "needs a yes"
        );
        assert!(
            std::fs::read(&board.flash).unwrap() == start,
            "nothing written yet"
        );
        shot_at(&c, "install-3-layout-change", "install-cautions").await;
        find(&c, "install-confirm").await.click().await.unwrap();
        enabled(&c, "install", 10).await;
        find(&c, "install-reset").await.click().await.unwrap(); // stay in download mode
        find(&c, "install").await.click().await.unwrap();
        status_contains(&c, "installed: 3 parts verified by MD5", 60).await;
        let f = std::fs::read(&board.flash).unwrap();
        assert!(
            f[0x9000..0xE000].iter().all(|&b| b == 0xFF),
            "old NVS erased"
        );
        let boot = fw("arduino_bootloader_dio_40m.bin");
        assert!(
            f[0x1000..0x1000 + boot.len()] == boot[..]
                && f[0x1000 + boot.len()..0x8000].iter().all(|&b| b == 0xFF),
            "erased first"
        );
        c.close().await.unwrap();
    });
}

/// A merged image: what it holds is shown before writing; it installs at 0 and boots. Then
/// files at offsets, pre-filled from what each file is; an app for another chip is refused.
#[test]
fn a_merged_image_and_files_at_offsets() {
    let web = serve_dist();
    let board = WsBoard::start(&vec![0xFF; FLASH_SIZE], "none");
    let dir = tempfile::tempdir().unwrap();
    let merged = write(dir.path(), "merged.bin", &arduino_flash());
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port={}", board.ws))
            .await
            .unwrap();
        connect(&c).await;
        pick_install(&c, std::slice::from_ref(&merged)).await;
        let holds = wait_text(&c, "install-merged", "hello_world", 20).await;
        assert!(
            holds.contains("a bootloader (ESP32)") && holds.contains("6 partitions, with otadata"),
            "{holds}"
        );
        assert!(holds.contains("app1: empty"), "{holds}");
        assert_eq!(all_attr(&c, "install-part", "data-offset").await, ["0x0"]);
        enabled(&c, "install", 10).await;
        find(&c, "install-reset").await.click().await.unwrap();
        find(&c, "install").await.click().await.unwrap();
        status_contains(&c, "installed: 1 part verified", 60).await;
        let f = std::fs::read(&board.flash).unwrap();
        assert!(f == arduino_flash());
        assert_eq!(boots(&f).as_deref(), Some("app0"));
        shot_at(&c, "install-4-merged", "install-source").await;

        // Files at offsets: each where its kind goes (the app into the first free app slot).
        let files = [
            write(
                dir.path(),
                "bootloader.bin",
                &fw("idf-v5.2.2_bootloader_4MB.bin"),
            ),
            write(
                dir.path(),
                "partitions.bin",
                &fw("arduino_partitions_default.bin"),
            ),
            write(dir.path(), "hello.bin", &fw("idf-v5.2.2_hello_world.bin")),
        ];
        pick_install(&c, &files).await;
        let offs = until("three rows", 20, || async {
            let v = all_attr(&c, "install-part", "data-offset").await;
            (v.len() == 3).then_some(v)
        })
        .await;
        assert_eq!(offs, ["0x1000", "0x8000", "0x10000"]);
        // An app for another chip: refused, the button stays off.
        pick_install(
            &c,
            &[write(
                dir.path(),
                "s3.bin",
                &read("app_images/esptool_test_images/helloworld-esp32s3.bin"),
            )],
        )
        .await;
        let why = wait_text(&c, "install-blockers", "built for ESP32-S3", 20).await;
        assert!(why.contains("Not installable"), "{why}");
        assert_eq!(
            attr(&c, "install", "disabled").await.as_deref(),
            Some("true")
        );
        assert!(
            std::fs::read(&board.flash).unwrap() == arduino_flash(),
            "nothing written"
        );
        shot_at(&c, "install-5-refused", "install-blockers").await;
        c.close().await.unwrap();
    });
}

/// Erase a partition, a range and the whole flash from the page: each says what is lost and
/// needs a yes; the flash file shows exactly that erased.
#[test]
fn erase_from_the_page() {
    let web = serve_dist();
    let mut start = arduino_flash();
    start[0x9000..0xE000].fill(0x42);
    let board = WsBoard::start(&start, "none");
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port={}", board.ws))
            .await
            .unwrap();
        connect(&c).await;
        wait_text(&c, "boot-slot", "app0", 30).await;
        open_tools(&c).await;
        choose(&c, "erase-what", "nvs").await;
        let loses = wait_text(&c, "erase-loses", "nvs", 10).await;
        assert!(loses.contains("Erasing loses: nvs (data nvs)."), "{loses}");
        assert_eq!(
            attr(&c, "erase", "disabled").await.as_deref(),
            Some("true"),
            "needs a yes"
        );
        find(&c, "erase-confirm").await.click().await.unwrap();
        enabled(&c, "erase", 10).await;
        find(&c, "erase").await.click().await.unwrap();
        status_contains(&c, "erased partition 'nvs'", 30).await;
        let f = std::fs::read(&board.flash).unwrap();
        assert!(f[0x9000..0xE000].iter().all(|&b| b == 0xFF));
        let mut want = start.clone();
        want[0x9000..0xE000].fill(0xFF);
        assert!(f == want, "only NVS");
        // A range that is not whole sectors: the device layer refuses it, nothing is erased,
        // and the tools panel says so as a refusal with what to give instead.
        let before = std::fs::read(&board.flash).unwrap();
        choose(&c, "erase-what", "*range").await;
        find(&c, "erase-offset")
            .await
            .send_keys("0xe001\t")
            .await
            .unwrap();
        find(&c, "erase-size")
            .await
            .send_keys("0x2000\t")
            .await
            .unwrap();
        find(&c, "erase-confirm").await.click().await.unwrap();
        enabled(&c, "erase", 10).await;
        find(&c, "erase").await.click().await.unwrap();
        let said = wait_text(&c, "job-failed", "multiples of 4 KiB", 30).await;
        assert_eq!(
            attr(&c, "job-failed", "data-kind").await.as_deref(),
            Some("refused")
        );
        assert!(said.contains("0x1000 (4096 bytes"), "the hint: {said}");
        assert_eq!(
            attr(&c, "status", "data-tone").await.as_deref(),
            Some("error")
        );
        shot_at(&c, "erase-2-refused", "install-shell").await;
        assert!(
            std::fs::read(&board.flash).unwrap() == before,
            "nothing erased"
        );
        // A range.
        let offset = find(&c, "erase-offset").await;
        offset.clear().await.unwrap();
        offset.send_keys("0xe000\t").await.unwrap();
        wait_text(&c, "erase-loses", "otadata (data ota)", 10).await;
        find(&c, "erase-confirm").await.click().await.unwrap();
        find(&c, "erase").await.click().await.unwrap();
        status_contains(&c, "erased 0xe000..0x10000", 30).await;
        assert!(std::fs::read(&board.flash).unwrap()[0xE000..0x10000]
            .iter()
            .all(|&b| b == 0xFF));
        // Everything: afterwards the page says the chip is blank.
        choose(&c, "erase-what", "*flash").await;
        let loses = wait_text(&c, "erase-loses", "the bootloader", 10).await;
        assert!(
            loses.contains("the partition table") && loses.contains("app0"),
            "{loses}"
        );
        shot_at(&c, "erase-1-everything", "erase-loses").await;
        find(&c, "erase-confirm").await.click().await.unwrap();
        find(&c, "erase").await.click().await.unwrap();
        status_contains(&c, "erased the whole flash", 60).await;
        assert!(std::fs::read(&board.flash)
            .unwrap()
            .iter()
            .all(|&b| b == 0xFF));
        wait_text(&c, "table-error", "blank", 30).await;
        c.close().await.unwrap();
    });
}
