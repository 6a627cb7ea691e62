//! End to end in headless Chromium: a failure reaches the technician with its kind and what to
//! try, in the panel where the job was asked for. A board that stops answering part-way through
//! an update (`otaflash sim --fault-hang-after`, over RFC 2217: the link stays up, the chip is
//! hung) and an erase the device layer refuses (not whole sectors, in-page simulated chip).
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::*;
use common::*;

/// The board hangs while the new app is on its way: the update says it stopped, in red, that
/// the board still boots what it booted (otadata untouched, checked in the flash file), with
/// the hints for a board that went quiet on a network bridge.
#[test]
fn a_board_that_stops_answering_mid_update_says_so_with_what_to_try() {
    let fw = tempfile::tempdir().unwrap();
    let table = otaflash::formats::partition::PartitionTable::from_csv(
        otaflash::sim::demo::ARDUINO_DEFAULT_CSV,
        0x8000,
    )
    .unwrap()
    .to_bytes()
    .unwrap();
    let mut start = images::chip_flash("esp32");
    start[0x8000..0x9000].fill(0xFF);
    start[0x8000..0x8000 + table.len()].copy_from_slice(&table);
    let v1 = images::app("esp32", "garden", "1.0.0", 120);
    start[0x10000..0x150000].fill(0xFF);
    start[0x10000..0x10000 + v1.len()].copy_from_slice(&v1);
    let v2 = images::app("esp32", "garden", "1.1.0", 1000);
    garden_manifest(
        &fw.path().join("v2"),
        "1.1.0",
        &read("firmware/arduino_bootloader_dio_40m.bin"),
        &table,
        &v2,
    );
    let web = serve_dist_with(Some(fw.path().to_path_buf()));
    // Connecting and reading the board take some 25 KB from the host; the app's compressed
    // stream is several hundred: the chip hangs inside it.
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
        find(&c, "connect").await.click().await.unwrap();
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
            said.contains("answer") && said.contains("still boots app0"),
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
        // The page then tries to read the board back; it does not answer either.
        let tone = until("the read-back to end", 120, || async {
            attr(&c, "status", "data-tone")
                .await
                .filter(|t| t != "working")
        })
        .await;
        assert_eq!(tone, "error");
        shot_at(&c, "error-1-update-stopped", "update-panel").await;
        assert_eq!(otadata_of(&board.flash), otadata, "otadata untouched");
        let (_, errors) = caught(&c).await;
        assert_eq!(errors, serde_json::json!([]));
        c.close().await.unwrap();
    });
}

/// An erase range that is not whole 4 KiB sectors: the device layer refuses it before anything
/// is erased, and the tools panel says so as a refusal, with the hint.
#[test]
fn an_erase_of_part_of_a_sector_is_refused_with_a_hint() {
    let web = serve_dist();
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port=sim"))
            .await
            .unwrap();
        watch_errors(&c).await;
        find(&c, "connect").await.click().await.unwrap();
        wait_text(&c, "chip", "ESP32", 30).await;
        status_contains(&c, "layout read", 30).await;
        open_tools(&c).await;
        choose(&c, "erase-what", "*range").await;
        let offset = find(&c, "erase-offset").await;
        offset.send_keys("0x9001\t").await.unwrap();
        find(&c, "erase-size")
            .await
            .send_keys("0x1000\t")
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
        assert!(
            !text(&c, "log").await.contains("erased 0x"),
            "nothing erased"
        );
        shot_at(&c, "error-2-erase-refused", "install-shell").await;
        let (_, errors) = caught(&c).await;
        assert_eq!(errors, serde_json::json!([]));
        c.close().await.unwrap();
    });
}
