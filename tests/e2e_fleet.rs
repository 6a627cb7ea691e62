//! End to end, the fleet view (a module loaded on demand): four boards behind `otaflash sim
//! --ws`, added one by one in the page, flashed in one run; one is unplugged part-way through
//! its write (fault injection) and the other three finish, verified and switched; the CSV
//! lists all four with their outcomes; a second run skips the boards that run the app.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::*;
use common::*;
use fantoccini::Locator;

#[test]
fn page_flashes_four_boards_one_unplugged() {
    let web = serve_dist();
    let dir = tempfile::tempdir().unwrap();
    let image = images::app("esp32", "fleet", "2.0", 128);
    let app = dir.path().join("fleet-2.0.bin");
    std::fs::write(&app, &image).unwrap();
    let boards: Vec<WsBoard> = (1..=4)
        .map(|i| {
            let mac = format!("24:0a:c4:00:00:{i:02x}");
            let mut extra = vec!["--mac", mac.as_str()];
            if i == 3 {
                extra.extend(["--fault-disconnect-after", "60000"]);
            }
            WsBoard::start_with(&arduino_flash(), "none", "esp32", &extra)
        })
        .collect();
    run(async {
        let (c, _driver, profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/")).await.unwrap();
        watch_errors(&c).await;
        find(&c, "fleet-open").await.click().await.unwrap();
        let loaded = until("the fleet view", 30, || async {
            if c.find(Locator::Css(&css("fleet-view"))).await.is_ok() {
                return Some(Ok(()));
            }
            let e = text(&c, "fleet-load-error").await;
            (!e.is_empty()).then_some(Err(e))
        })
        .await;
        loaded.unwrap();
        for b in &boards {
            let url = find(&c, "fleet-ws-url").await;
            url.clear().await.unwrap();
            url.send_keys(&format!("{}\t", b.ws)).await.unwrap();
            find(&c, "fleet-add-ws").await.click().await.unwrap();
        }
        until("four connected boards", 60, || async {
            let t = text(&c, "fleet-view").await;
            (t.matches("ready").count() == 4).then_some(())
        })
        .await;
        assert!(text(&c, "fleet-view")
            .await
            .contains("boots: app0: hello_world"));
        find(&c, "fleet-image")
            .await
            .send_keys(app.to_str().unwrap())
            .await
            .unwrap();
        wait_text(&c, "fleet-image-name", "fleet-2.0.bin", 10).await;
        shot(&c, "fleet-1-ready").await;
        find(&c, "fleet-run").await.click().await.unwrap();
        let summary = wait_text(&c, "fleet-summary", "boards in", 120).await;
        assert!(summary.starts_with("4 boards in"), "{summary}");
        assert!(
            summary.contains("3 flashed, 0 already done, 1 failed"),
            "{summary}"
        );
        let outcomes = all_attr(&c, "fleet-outcome", "data-outcome").await;
        assert_eq!(outcomes, ["flashed", "flashed", "failed", "flashed"]);
        // The record table: every board, with its outcome.
        assert_eq!(
            all_attr(&c, "fleet-record", "data-outcome").await,
            ["flashed", "flashed", "failed", "flashed"]
        );
        scroll_to(&c, "fleet-view").await;
        let wider = c
            .execute(
                "const t = document.querySelector('[data-testid=fleet-records]'); \
                 return t.scrollWidth - t.parentElement.clientWidth",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            wider.as_i64().unwrap() <= 0,
            "the record table fits a 1280 px window ({wider} px too wide)"
        );
        shot(&c, "fleet-2-done").await;
        // What boots now, as the job left it: the new app where it worked.
        let t = text(&c, "fleet-view").await;
        assert_eq!(t.matches("boots: app1: fleet 2.0").count(), 3, "{t}");
        // The three hold the app in app1 and boot it; the unplugged one does not.
        for (i, b) in boards.iter().enumerate() {
            let f = std::fs::read(&b.flash).unwrap();
            assert_eq!(
                f[0x150000..0x150000 + image.len()] == image[..],
                i != 2,
                "board {}",
                i + 1
            );
            if i != 2 {
                assert_eq!(
                    f[0xE000..0xE020],
                    f[0xF000..0xF020],
                    "matched otadata sectors"
                );
            }
        }
        // The record, as CSV.
        find(&c, "fleet-csv").await.click().await.unwrap();
        let (name, csv) = downloaded_like(&c, &profile, "otaflash-fleet-").await;
        assert!(name.ends_with(".csv"), "{name}");
        let csv = String::from_utf8(csv).unwrap();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows.len(), 5, "{csv}");
        assert!(rows[0].starts_with("port,chip,mac,slot,before,after,md5"));
        for (i, r) in rows[1..].iter().enumerate() {
            assert!(r.starts_with(&boards[i].ws), "{r}");
            let want = if i == 2 { ",failed," } else { ",flashed," };
            assert!(r.contains(want), "{r}");
            if i != 2 {
                assert!(
                    r.contains(&format!(
                        "24:0a:c4:00:00:{:02x},app1,empty,fleet 2.0,",
                        i + 1
                    )),
                    "{r}"
                );
            }
        }
        // And as JSON: every board, one failed.
        find(&c, "fleet-json").await.click().await.unwrap();
        let (_, json) =
            downloaded_where(&c, &profile, "the JSON download", |n| n.ends_with(".json")).await;
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["boards"].as_array().unwrap().len(), 4, "{v}");
        assert_eq!(v["failed"], 1, "{v}");
        assert_eq!(v["boards"][2]["outcome"], "failed", "{v}");
        // Run again: the three that run the app are skipped and say so.
        find(&c, "fleet-run").await.click().await.unwrap();
        until("the second run", 60, || async {
            let o = all_attr(&c, "fleet-outcome", "data-outcome").await;
            (o == ["already", "already", "failed", "already"]).then_some(())
        })
        .await;
        assert!(text(&c, "fleet-view")
            .await
            .contains("already holds this image (MD5 match)"));
        // Another job for all: otadata, app0 boots next again.
        choose(&c, "fleet-job", "boot").await;
        find(&c, "fleet-run").await.click().await.unwrap();
        until("the otadata job", 60, || async {
            let o = all_attr(&c, "fleet-outcome", "data-outcome").await;
            (o == ["flashed", "flashed", "failed", "flashed"]).then_some(())
        })
        .await;
        let t = text(&c, "fleet-view").await;
        assert_eq!(t.matches("boots: app0: ").count(), 4, "{t}");
        assert!(t.contains("'app0' boots next"), "{t}");
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}

/// A full install from a manifest picked with its .bin files, on two blank boards at once.
#[test]
fn page_installs_a_manifest_on_two_blank_boards() {
    let web = serve_dist();
    let boards: Vec<WsBoard> = (0..2)
        .map(|_| WsBoard::start(&vec![0xFF; FLASH_SIZE], "none"))
        .collect();
    let files = [
        "manifest.json",
        "firmware/arduino_bootloader_dio_40m.bin",
        "firmware/arduino_partitions_default.bin",
        "firmware/arduino_boot_app0.bin",
        "firmware/arduino_StartCounter.ino.bin",
    ]
    .map(|f| data(f).to_str().unwrap().to_string())
    .join("\n");
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/")).await.unwrap();
        watch_errors(&c).await;
        find(&c, "fleet-open").await.click().await.unwrap();
        find(&c, "fleet-view").await;
        for b in &boards {
            let url = find(&c, "fleet-ws-url").await;
            url.clear().await.unwrap();
            url.send_keys(&format!("{}\t", b.ws)).await.unwrap();
            find(&c, "fleet-add-ws").await.click().await.unwrap();
        }
        until("two connected boards", 60, || async {
            (text(&c, "fleet-view").await.matches("ready").count() == 2).then_some(())
        })
        .await;
        choose(&c, "fleet-job", "install").await;
        find(&c, "fleet-files")
            .await
            .send_keys(&files)
            .await
            .unwrap();
        wait_text(&c, "fleet-manifest-name", "manifest.json + 4 files", 10).await;
        find(&c, "fleet-run").await.click().await.unwrap();
        wait_text(&c, "fleet-summary", "2 boards in", 120).await;
        let outcomes = all_attr(&c, "fleet-outcome", "data-outcome").await;
        assert_eq!(
            outcomes,
            ["flashed", "flashed"],
            "{}",
            text(&c, "fleet-view").await
        );
        let t = text(&c, "fleet-view").await;
        assert_eq!(t.matches("boots: app0: ").count(), 2, "{t}");
        shot(&c, "fleet-3-installed").await;
        for b in &boards {
            let f = std::fs::read(&b.flash).unwrap();
            let table = read("firmware/arduino_partitions_default.bin");
            assert_eq!(f[0x8000..0x8000 + table.len()], table[..]);
        }
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}

/// Simulated boards added in the page (no bridge at all), flashed together; on a phone-sized
/// window the view fits (the record table scrolls in its box).
#[test]
fn fleet_of_simulated_boards_on_a_narrow_window() {
    let web = serve_dist();
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("fleet-3.0.bin");
    std::fs::write(&app, images::app("esp32", "fleet", "3.0", 32)).unwrap();
    run(async {
        let (c, _driver, _profile) = browser_sized(400, 900).await;
        c.goto(&format!("http://127.0.0.1:{web}/?port=sim"))
            .await
            .unwrap();
        watch_errors(&c).await;
        find(&c, "fleet-open").await.click().await.unwrap();
        find(&c, "fleet-view").await;
        for _ in 0..2 {
            find(&c, "fleet-add-sim").await.click().await.unwrap();
        }
        until("two simulated boards ready", 60, || async {
            (text(&c, "fleet-view").await.matches("ready").count() == 2).then_some(())
        })
        .await;
        find(&c, "fleet-image")
            .await
            .send_keys(app.to_str().unwrap())
            .await
            .unwrap();
        wait_text(&c, "fleet-image-name", "fleet-3.0.bin", 10).await;
        find(&c, "fleet-run").await.click().await.unwrap();
        wait_text(&c, "fleet-summary", "2 boards in", 120).await;
        assert_eq!(
            all_attr(&c, "fleet-record", "data-outcome").await,
            ["flashed", "flashed"]
        );
        let t = text(&c, "fleet-records").await;
        assert!(
            t.contains("24:0a:c4:00:00:01") && t.contains("24:0a:c4:00:00:02"),
            "{t}"
        );
        scroll_to(&c, "fleet-view").await;
        shot(&c, "fleet-4-narrow").await;
        assert_eq!(sideways(&c).await, 0, "no sideways scroll");
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}
