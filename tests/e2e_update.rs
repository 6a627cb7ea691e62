//! End to end, the technician's path in headless Chromium: a link with `?manifest=` → connect →
//! one click on Update → "Running NAME VERSION from SLOT", confirmed by what the simulated
//! bootloader and app print and by reading the board back. Against the in-page simulated chip
//! (which keeps its flash across reloads) and `otaflash sim --ws` over RFC 2217 (its flash file
//! checked byte for byte): a slot update that keeps NVS and the previous app, "already up to
//! date", a full install after a yes when the table differs, the 37-byte case refused, and a
//! dropped bridge noticed without a click, and a board that hangs part-way said with what to
//! try. Apps are made by `esptool elf2image` with app
//! descriptions naming their versions. Screenshots land in target/screenshots/.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::*;
use common::*;
use fantoccini::Client;
use std::path::Path;

/// An ESP Web Tools manifest for the ESP32 in `dir/sub/` ("Garden Sensor" `version`).
fn manifest(dir: &Path, sub: &str, version: &str, app: &[u8], table: &[u8]) {
    let bootloader = read("firmware/arduino_bootloader_dio_40m.bin");
    garden_manifest(&dir.join(sub), version, &bootloader, table, app);
}

fn v1() -> Vec<u8> {
    images::app("esp32", "garden", "1.0.0", 120)
}

fn v2() -> Vec<u8> {
    images::app("esp32", "garden", "1.1.0", 1000)
}

/// The table of the boards here (the in-page simulated chip's: Arduino's layout with a
/// coredump partition).
fn board_table() -> Vec<u8> {
    otaflash::formats::partition::PartitionTable::from_csv(
        otaflash::sim::demo::ARDUINO_DEFAULT_CSV,
        0x8000,
    )
    .unwrap()
    .to_bytes()
    .unwrap()
}

/// An ESP32 flash with the board's table and v1 in app0 (which boots).
fn board_running_v1() -> Vec<u8> {
    let mut f = images::chip_flash("esp32");
    f[0x8000..0x9000].fill(0xFF);
    f[0x8000..0x8000 + board_table().len()].copy_from_slice(&board_table());
    f[0x10000..0x150000].fill(0xFF);
    f[0x10000..0x10000 + v1().len()].copy_from_slice(&v1());
    f
}

/// A table unlike the board's: Arduino's default as its tools build it (eeprom and spiffs where
/// the board has spiffs and coredump).
fn other_table() -> Vec<u8> {
    read("firmware/arduino_partitions_default.bin")
}

/// The folder the page fetches under /fw/: v1, v2, a build with another table, and one whose
/// "app" is 37 bytes of text.
fn firmware_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    manifest(dir.path(), "v1", "1.0.0", &v1(), &board_table());
    manifest(dir.path(), "v2", "1.1.0", &v2(), &board_table());
    manifest(dir.path(), "other", "2.0.0", &v2(), &other_table());
    manifest(
        dir.path(),
        "text",
        "1.2.0",
        b"this is not firmware, just some text\n",
        &board_table(),
    );
    dir
}

async fn connect(c: &Client) {
    find(c, "connect").await.click().await.unwrap();
    wait_text(c, "chip", "ESP32", 30).await;
}

/// Loads the manifest at `url` in the Update panel's address box.
async fn load(c: &Client, url: &str) {
    let field = find(c, "manifest-url").await;
    field.clear().await.unwrap();
    // The page took the emptied field (Load has nothing to load): a render meanwhile cannot
    // put the old address back under what is typed next.
    until("the emptied address to be taken", 30, || async {
        (attr(c, "manifest-load", "disabled").await.is_some()).then_some(())
    })
    .await;
    field.send_keys(url).await.unwrap();
    // The change event fires on leaving the field.
    field.send_keys("\t").await.unwrap();
    find(c, "manifest-load").await.click().await.unwrap();
}

/// Clicks Update once and waits for how it ended (the status line).
async fn update(c: &Client, needle: &str) -> String {
    enabled(c, "update", 30).await;
    find(c, "update").await.click().await.unwrap();
    status_contains(c, needle, 180).await
}

/// The in-page simulated chip: blink-demo in app0 → v1 into app1 → v2 into app0 with one click
/// each, v1 kept; after a reload the board still runs v2 and the page says "up to date".
#[test]
fn update_with_the_in_page_simulator() {
    let fw = firmware_dir();
    let web = serve_dist_with(Some(fw.path().to_path_buf()));
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!(
            "http://127.0.0.1:{web}/?port=sim&manifest=/fw/v1/manifest.json"
        ))
        .await
        .unwrap();
        watch_errors(&c).await;
        wait_text(&c, "firmware-label", "Garden Sensor 1.0.0", 20).await;
        // Before a board is there, the plan waits for one.
        assert!(text(&c, "update-plan").await.contains("Connect the board"));
        connect(&c).await;
        let plan = wait_text(
            &c,
            "update-plan",
            "Writes Garden Sensor 1.0.0 into app1",
            30,
        )
        .await;
        assert!(
            plan.contains("Keeps your settings (nvs)") && plan.contains("blink-demo"),
            "{plan}"
        );
        assert_eq!(
            text(&c, "update").await,
            "Update to Garden Sensor 1.0.0",
            "one primary button named for the build"
        );
        shot_at(&c, "update-1-plan", "update-panel").await;
        let st = update(&c, "Running Garden Sensor 1.0.0 from app1").await;
        assert!(st.contains("seen on its console"), "{st}");
        assert_eq!(
            attr(&c, "status", "data-tone").await.as_deref(),
            Some("done")
        );
        let log = text(&c, "log").await;
        assert!(
            log.contains("Loaded app from partition at offset 0x150000")
                && log.contains("App version:      1.0.0"),
            "the bootloader's and the app's own lines: {log}"
        );

        // The next version, from the address box: into app0, v1 kept in app1.
        load(&c, "/fw/v2/manifest.json").await;
        let plan = wait_text(
            &c,
            "update-plan",
            "Writes Garden Sensor 1.1.0 into app0",
            30,
        )
        .await;
        assert!(plan.contains("1.0.0 in app1 as a fallback"), "{plan}");
        let t0 = std::time::Instant::now();
        let st = update(&c, "Running Garden Sensor 1.1.0 from app0").await;
        eprintln!(
            "in-page update to a {} KB app, real link timing: {:.1} s from the click to \"running\"",
            v2().len() / 1024,
            t0.elapsed().as_secs_f64()
        );
        assert!(st.contains("1.0.0 kept in app1"), "{st}");
        // Read back, the board now plans nothing, and the result stays in view.
        wait_text(&c, "update-plan", "Already up to date", 30).await;
        assert_eq!(text(&c, "update").await, "Up to date");
        assert!(text(&c, "status")
            .await
            .contains("Running Garden Sensor 1.1.0 from app0"));
        shot(&c, "update-2-running").await;
        assert_eq!(text(&c, "boot-slot").await, "app0");

        // Again, after a reload: the simulated board kept its flash; nothing to write.
        c.goto(&format!(
            "http://127.0.0.1:{web}/?port=sim&manifest=/fw/v2/manifest.json"
        ))
        .await
        .unwrap();
        watch_errors(&c).await;
        connect(&c).await;
        wait_text(&c, "update-plan", "Already up to date", 30).await;
        let st = status_contains(&c, "up to date", 30).await;
        assert!(
            st.contains("Already up to date: Garden Sensor 1.1.0 runs from app0"),
            "{st}"
        );
        assert_eq!(
            find(&c, "update")
                .await
                .prop("disabled")
                .await
                .unwrap()
                .as_deref(),
            Some("true")
        );
        let (_, errors) = caught(&c).await;
        assert_eq!(errors, serde_json::json!([]));
        c.close().await.unwrap();
    });
}

/// Over RFC 2217 to `otaflash sim --ws` (real link timing), a board running v1 from app0 with
/// settings in NVS: v2 from the link with one click goes into app1, NVS bytes unchanged, v1
/// kept; again → up to date and nothing written; the 37-byte build refused with the flash
/// unchanged; a build with another table → a full install that names what is lost and writes
/// only after a yes; then the bridge drops and the page says so within a second, no click.
#[test]
fn update_over_rfc2217() {
    let fw = firmware_dir();
    let web = serve_dist_with(Some(fw.path().to_path_buf()));
    let mut start = board_running_v1();
    start[0x9000..0x9010].copy_from_slice(b"settings: keep!!");
    let mut board = WsBoard::start(&start, "real");
    run(async {
        let (c, _driver, _profile) = browser().await;
        let opened = std::time::Instant::now();
        c.goto(&format!(
            "http://127.0.0.1:{web}/?port={}&baud=921600&manifest=/fw/v2/manifest.json",
            board.ws
        ))
        .await
        .unwrap();
        watch_errors(&c).await;
        connect(&c).await;
        let plan = wait_text(
            &c,
            "update-plan",
            "Writes Garden Sensor 1.1.0 into app1",
            30,
        )
        .await;
        assert!(plan.contains("1.0.0 in app0 as a fallback"), "{plan}");
        let clicked = std::time::Instant::now();
        let st = update(&c, "Running Garden Sensor 1.1.0 from app1").await;
        eprintln!(
            "RFC 2217, real link timing, a {} KB app at 921600: 2 clicks (Connect, Update); {:.1} s from opening the link to \"running\", {:.1} s from the click on Update",
            v2().len() / 1024,
            opened.elapsed().as_secs_f64(),
            clicked.elapsed().as_secs_f64()
        );
        assert!(st.contains("1.0.0 kept in app0"), "{st}");
        let log = text(&c, "log").await;
        assert!(
            log.contains("Loaded app from partition at offset 0x150000"),
            "{log}"
        );
        let f = std::fs::read(&board.flash).unwrap();
        assert_eq!(f[0x9000..0xE000], start[0x9000..0xE000], "NVS unchanged");
        assert_eq!(f[0x10000..0x150000], start[0x10000..0x150000], "v1 kept");
        assert_eq!(f[0x150000..0x150000 + v2().len()], v2()[..], "v2 in app1");

        // Again: nothing to write.
        c.refresh().await.unwrap();
        watch_errors(&c).await;
        connect(&c).await;
        wait_text(&c, "update-plan", "Already up to date", 30).await;
        status_contains(
            &c,
            "Already up to date: Garden Sensor 1.1.0 runs from app1",
            30,
        )
        .await;
        assert_eq!(std::fs::read(&board.flash).unwrap(), f, "nothing written");

        // 37 bytes of text where the app goes: refused, the flash unchanged.
        load(&c, "/fw/text/manifest.json").await;
        let plan = wait_text(&c, "update-plan", "cannot go onto this board", 30).await;
        assert!(plan.contains("garden.bin"), "{plan}");
        assert_eq!(
            find(&c, "update")
                .await
                .prop("disabled")
                .await
                .unwrap()
                .as_deref(),
            Some("true")
        );
        assert_eq!(std::fs::read(&board.flash).unwrap(), f, "nothing written");

        // Another table: a full install, what is lost named, only after a yes.
        load(&c, "/fw/other/manifest.json").await;
        let plan = wait_text(
            &c,
            "update-plan",
            "A full install of Garden Sensor 2.0.0",
            30,
        )
        .await;
        assert!(plan.contains("Loses"), "{plan}");
        let losses = text(&c, "update-losses").await;
        assert!(losses.contains("coredump"), "{losses}");
        assert_eq!(
            find(&c, "update")
                .await
                .prop("disabled")
                .await
                .unwrap()
                .as_deref(),
            Some("true")
        );
        shot_at(&c, "update-3-full-install", "update-panel").await;
        find(&c, "update-confirm").await.click().await.unwrap();
        let st = update(&c, "Running Garden Sensor 2.0.0").await;
        assert!(st.contains("seen on its console"), "{st}");
        let f = std::fs::read(&board.flash).unwrap();
        assert_eq!(f[0x8000..0x8000 + other_table().len()], other_table()[..]);

        // The bridge drops: the page notices without a click.
        let t0 = std::time::Instant::now();
        board.drop_bridge();
        let st = status_contains(&c, "link", 10).await;
        let noticed = t0.elapsed();
        assert!(
            noticed.as_secs_f64() < 1.0,
            "noticed after {noticed:?}: {st}"
        );
        assert!(st.contains("lost"), "{st}");
        assert_eq!(
            find(&c, "update")
                .await
                .prop("disabled")
                .await
                .unwrap()
                .as_deref(),
            Some("true"),
            "board actions are off"
        );
        find(&c, "connect").await;
        shot(&c, "update-4-link-lost").await;
        c.close().await.unwrap();
    });
}

/// A phone-width window: the plan, the button and the progress stay on screen.
/// The board hangs while the new app is on its way (`otaflash sim --fault-hang-after`: the
/// bridge stays up, the chip answers nothing): the update says it stopped, in red, that the
/// board still boots what it booted (otadata untouched, checked in the flash file), with the
/// hints for a board that went quiet on a network bridge; the read-back that follows fails too,
/// and the plan line says the board could not be read.
#[test]
fn an_update_that_stops_part_way_says_what_holds_and_what_to_try() {
    let fw = firmware_dir();
    let web = serve_dist_with(Some(fw.path().to_path_buf()));
    let start = board_running_v1();
    // Connecting and reading the board take some 25 KB from the host; the app's compressed
    // stream several hundred: the chip hangs inside it.
    let board = WsBoard::start_with(&start, "none", "esp32", &["--fault-hang-after", "200000"]);
    let otadata = otadata_of(&board.flash);
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!(
            "http://127.0.0.1:{web}/?port={}&manifest=/fw/v2/manifest.json",
            board.ws
        ))
        .await
        .unwrap();
        watch_errors(&c).await;
        connect(&c).await;
        wait_text(
            &c,
            "update-plan",
            "Writes Garden Sensor 1.1.0 into app1",
            30,
        )
        .await;
        enabled(&c, "update", 30).await;
        find(&c, "update").await.click().await.unwrap();
        let said = wait_text(&c, "update-result", "the update stopped", 120).await;
        assert!(
            said.contains("stopped answering") && said.contains("still boots app0"),
            "{said}"
        );
        assert_eq!(
            attr(&c, "update-result", "data-verdict").await.as_deref(),
            Some("error")
        );
        let hints = text(&c, "hints").await;
        assert!(
            hints.contains("power supply and cable") && hints.contains("bridge runs"),
            "{hints}"
        );
        // The page then reads the board back; it does not answer either.
        wait_text(&c, "update-plan", "could not be read", 120).await;
        assert_eq!(
            attr(&c, "status", "data-tone").await.as_deref(),
            Some("error")
        );
        shot_at(&c, "update-5-stopped", "update-panel").await;
        assert_eq!(otadata_of(&board.flash), otadata, "otadata untouched");
        let (_, errors) = caught(&c).await;
        assert_eq!(errors, serde_json::json!([]));
        c.close().await.unwrap();
    });
}

#[test]
fn update_at_400_px() {
    let fw = firmware_dir();
    let web = serve_dist_with(Some(fw.path().to_path_buf()));
    run(async {
        let (c, _driver, _profile) = browser_sized(400, 900).await;
        c.goto(&format!(
            "http://127.0.0.1:{web}/?port=sim&manifest=/fw/v2/manifest.json"
        ))
        .await
        .unwrap();
        watch_errors(&c).await;
        connect(&c).await;
        wait_text(
            &c,
            "update-plan",
            "Writes Garden Sensor 1.1.0 into app1",
            30,
        )
        .await;
        assert_eq!(sideways(&c).await, 0, "nothing wider than the window");
        shot(&c, "update-narrow-1-plan").await;
        find(&c, "update").await.click().await.unwrap();
        let bar = until("the update's progress bar", 60, || async {
            c.find(fantoccini::Locator::Css(&css("update-panel")))
                .await
                .ok()?
                .find(fantoccini::Locator::Css("progress"))
                .await
                .ok()
        })
        .await;
        let _ = bar.attr("value").await;
        shot(&c, "update-narrow-2-progress").await;
        status_contains(&c, "Running Garden Sensor 1.1.0 from app1", 180).await;
        assert_eq!(sideways(&c).await, 0);
        shot(&c, "update-narrow-3-running").await;
        c.close().await.unwrap();
    });
}
