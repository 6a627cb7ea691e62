//! End to end, the NVS editor in the page (a module loaded on demand): on a board behind
//! `otaflash sim --ws` it reads the NVS partition, a string and an integer are edited, the
//! change list is shown, the write saves a backup first, and the board's flash then decodes to
//! the edited values; offline, an NVS image is opened, edited and downloaded, and its CSV
//! exported. Screenshots land in target/screenshots/.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::*;
use common::*;
use fantoccini::{Client, Locator};
use otaflash::formats::nvs::{self, Row, Value, Version};

fn settings() -> Vec<u8> {
    let rows = vec![
        Row::namespace("storage"),
        Row::data("name", "string", "unit-0001"),
        Row::data("count", "u32", "7"),
        Row::data("cal", "hex2bin", "00112233"),
        Row::namespace("wifi"),
        Row::data("ssid", "string", "shop-floor"),
        Row::data("chan", "u8", "6"),
    ];
    nvs::generate(&rows, 0x5000, Version::V2).unwrap()
}

/// Types `text` into the input `id` (replacing what is there) and leaves it, so it changes.
async fn fill(c: &Client, id: &str, text: &str) {
    let e = find(c, id).await;
    e.clear().await.unwrap();
    e.send_keys(&format!("{text}\t")).await.unwrap();
}

async fn open_editor(c: &Client) {
    find(c, "nvs-open").await.click().await.unwrap();
    let loaded = until("the NVS editor", 30, || async {
        if c.find(Locator::Css(&css("nvs-panel"))).await.is_ok() {
            return Some(Ok(()));
        }
        let e = text(c, "nvs-load-error").await;
        (!e.is_empty()).then_some(Err(e))
    })
    .await;
    if let Err(e) = loaded {
        panic!("{e}; page errors: {:?}", caught(c).await);
    }
}

#[test]
fn page_edits_nvs_on_the_board() {
    let web = serve_dist();
    let image = settings();
    let mut flash = arduino_flash();
    flash[0x9000..0xE000].copy_from_slice(&image);
    let board = WsBoard::start(&flash, "none");
    run(async {
        let (c, _driver, profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port={}", board.ws))
            .await
            .unwrap();
        watch_errors(&c).await;
        // The editor is not part of the page until it is opened.
        let loaded: bool = c
            .execute(
                "return performance.getEntriesByType('resource').some(r => r.name.includes('otaflash-nvs'))",
                vec![],
            )
            .await
            .unwrap()
            .as_bool()
            .unwrap();
        assert!(!loaded, "the NVS module is fetched only on demand");
        find(&c, "connect").await.click().await.unwrap();
        wait_text(&c, "chip", "ESP32", 30).await;
        wait_text(&c, "boot-slot", "app0", 30).await;
        open_editor(&c).await;
        find(&c, "nvs-read").await.click().await.unwrap();
        let summary = wait_text(&c, "nvs-summary", "keys", 30).await;
        assert!(
            summary.contains("'nvs' at 0x9000") && summary.contains("5 keys"),
            "{summary}"
        );
        let keys = all_attr(&c, "nvs-row", "data-key").await;
        assert_eq!(
            keys,
            [
                "storage/name",
                "storage/count",
                "storage/cal",
                "wifi/ssid",
                "wifi/chan"
            ]
        );
        assert!(text(&c, "nvs-table").await.contains("7 (0x7)"));
        // Search.
        fill(&c, "nvs-search", "shop").await;
        until("one row", 10, || async {
            (all_attr(&c, "nvs-row", "data-key").await.len() == 1).then_some(())
        })
        .await;
        fill(&c, "nvs-search", "").await;
        // Edit the string from its row, and the integer through the form.
        c.find(Locator::Css(
            "[data-key=\"storage/name\"] [data-testid=\"nvs-edit\"]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        fill(&c, "nvs-input", "unit-0002").await;
        find(&c, "nvs-set").await.click().await.unwrap();
        fill(&c, "nvs-ns", "storage").await;
        fill(&c, "nvs-key", "count").await;
        choose(&c, "nvs-type", "u32").await;
        fill(&c, "nvs-input", "0x2a").await;
        find(&c, "nvs-set").await.click().await.unwrap();
        // A value that does not fit is refused in words.
        choose(&c, "nvs-type", "u8").await;
        fill(&c, "nvs-input", "300").await;
        find(&c, "nvs-set").await.click().await.unwrap();
        wait_text(&c, "nvs-error", "does not fit a u8", 10).await;
        // The editor's events stay in the editor (two Yew apps in one page): the page's own
        // fields did not change.
        let url = find(&c, "manifest-url").await.prop("value").await.unwrap();
        assert_eq!(
            url.as_deref(),
            Some(""),
            "the Update panel's manifest box is untouched"
        );
        let changes = wait_text(&c, "nvs-changes", "count", 10).await;
        assert!(
            changes.contains("change storage/name: string \"unit-0001\" → string \"unit-0002\"")
                && changes.contains("change storage/count: u32 7 (0x7) → u32 42 (0x2a)"),
            "{changes}"
        );
        assert_eq!(changes.lines().count(), 2, "{changes}");
        shot(&c, "nvs-1-changes").await;
        find(&c, "nvs-write").await.click().await.unwrap();
        let note = wait_text(&c, "nvs-note", "written and verified", 60).await;
        assert!(note.contains("5 keys as edited"), "{note}");
        // The backup: the partition as it was, saved before the write.
        let (name, backup) = downloaded_like(&c, &profile, "esp32-240ac40e514d-nvs-before-").await;
        assert!(name.ends_with(".bin"), "{name}");
        assert_eq!(backup, image);
        // The board holds the edited settings.
        let f = std::fs::read(&board.flash).unwrap();
        let after = nvs::decode(&f[0x9000..0xE000]);
        assert_eq!(after.problems, []);
        assert_eq!(
            after.get("storage", "name"),
            Some(&Value::Str("unit-0002".into()))
        );
        assert_eq!(after.get("storage", "count"), Some(&Value::U32(42)));
        assert_eq!(after.get("wifi", "chan"), Some(&Value::U8(6)));
        assert!(f[..0x9000] == flash[..0x9000] && f[0xE000..] == flash[0xE000..]);
        // Nothing pending any more; the page's status and log tell what happened.
        assert!(c.find(Locator::Css(&css("nvs-changes"))).await.is_err());
        wait_text(&c, "status", "read back", 10).await;
        shot(&c, "nvs-2-written").await;
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}

#[test]
fn page_edits_an_nvs_file_offline() {
    let web = serve_dist();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("settings.bin");
    std::fs::write(&file, settings()).unwrap();
    run(async {
        let (c, _driver, profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port=sim"))
            .await
            .unwrap();
        watch_errors(&c).await;
        open_editor(&c).await;
        find(&c, "nvs-file")
            .await
            .send_keys(file.to_str().unwrap())
            .await
            .unwrap();
        wait_text(&c, "nvs-summary", "settings.bin", 30).await;
        c.find(Locator::Css(
            "[data-key=\"wifi/ssid\"] [data-testid=\"nvs-delete\"]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
        fill(&c, "nvs-ns", "app").await;
        fill(&c, "nvs-key", "blob").await;
        choose(&c, "nvs-type", "blob").await;
        fill(&c, "nvs-input", "deadbeef").await;
        find(&c, "nvs-set").await.click().await.unwrap();
        let changes = wait_text(&c, "nvs-changes", "app/blob", 10).await;
        assert!(changes.contains("delete wifi/ssid"), "{changes}");
        assert!(
            c.find(Locator::Css(&css("nvs-write"))).await.is_err(),
            "no board to write to"
        );
        shot(&c, "nvs-3-offline").await;
        find(&c, "nvs-download").await.click().await.unwrap();
        let out = downloaded(&profile, "edited-settings.bin").await;
        let n = nvs::decode(&out);
        assert_eq!(
            n.get("app", "blob"),
            Some(&Value::Blob(vec![0xde, 0xad, 0xbe, 0xef]))
        );
        assert_eq!(n.get("wifi", "ssid"), None);
        assert_eq!(n.get("storage", "count"), Some(&Value::U32(7)));
        find(&c, "nvs-export").await.click().await.unwrap();
        let csv = String::from_utf8(downloaded(&profile, "nvs.csv").await).unwrap();
        assert!(
            csv.contains("app,namespace,,\nblob,data,hex2bin,deadbeef\n"),
            "{csv}"
        );
        // A CSV imported replaces the keys (as edits, listed before anything is written).
        let csv_in = dir.path().join("new.csv");
        std::fs::write(
            &csv_in,
            "key,type,encoding,value\nfactory,namespace,,\nserial,data,string,SN-42\n",
        )
        .unwrap();
        find(&c, "nvs-csv")
            .await
            .send_keys(csv_in.to_str().unwrap())
            .await
            .unwrap();
        until("the imported key", 10, || async {
            (all_attr(&c, "nvs-row", "data-key").await == ["factory/serial"]).then_some(())
        })
        .await;
        let changes = text(&c, "nvs-changes").await;
        assert!(
            changes.contains("add factory/serial = string \"SN-42\""),
            "{changes}"
        );
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}

/// On a phone-sized window the editor fits: no sideways scroll of the page (the key table
/// scrolls in its box).
#[test]
fn nvs_editor_on_a_narrow_window() {
    let web = serve_dist();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("settings.bin");
    std::fs::write(&file, settings()).unwrap();
    run(async {
        let (c, _driver, _profile) = browser_sized(400, 900).await;
        c.goto(&format!("http://127.0.0.1:{web}/?port=sim"))
            .await
            .unwrap();
        open_editor(&c).await;
        find(&c, "nvs-file")
            .await
            .send_keys(file.to_str().unwrap())
            .await
            .unwrap();
        wait_text(&c, "nvs-summary", "settings.bin", 30).await;
        scroll_to(&c, "nvs-panel").await;
        shot(&c, "nvs-4-narrow").await;
        assert_eq!(sideways(&c).await, 0, "no sideways scroll");
        c.close().await.unwrap();
    });
}
