//! End to end, the page as a technician uses it beyond the main flows: a phone-sized window,
//! the keyboard, dragging files, the status bar, manifests picked as files, failed loads, the
//! serial console without download mode, and the offline workbench's words. Against the
//! in-page simulated ESP32 (and `otaflash sim --ws` for the console). Screenshots land in
//! target/screenshots/.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::*;
use common::*;
use fantoccini::{Client, Locator};

async fn connect_sim(c: &Client, web: u16) {
    c.goto(&format!("http://127.0.0.1:{web}/?port=sim"))
        .await
        .unwrap();
    find(c, "connect").await.click().await.unwrap();
    wait_text(c, "chip", "ESP32", 30).await;
    until("the slot rows", 30, || async {
        (all_attr(c, "slot-row", "data-label").await.len() == 2).then_some(())
    })
    .await;
}

async fn js(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.unwrap()
}

/// At 400 px the page does not scroll sideways, the slot select stays in its card, the
/// progress bar has room; file buttons show keyboard focus; the flash panel lights up when a
/// file is dragged over it, and a file dropped anywhere else does not navigate away.
#[test]
fn page_on_a_narrow_window_with_keyboard_and_drag() {
    let web = serve_dist();
    run(async {
        let (c, _driver, _profile) = browser_sized(400, 900).await;
        connect_sim(&c, web).await;
        shot(&c, "narrow-1-connected").await;
        let across = sideways(&c).await;
        let wide = js(&c, "const w = document.querySelector('[data-testid=scroller]').clientWidth; \
            return [...document.querySelectorAll('*')].filter(e => !e.closest('.scroll-x') && e.getBoundingClientRect().right > w + 0.5) \
              .map(e => e.tagName + '.' + e.className + '[' + (e.dataset.testid || '') + '] ' + Math.round(e.getBoundingClientRect().right)).slice(0, 12)").await;
        assert!(
            across <= 0,
            "the page scrolls sideways by {across} px: {wide}"
        );
        let inside = js(&c, "const s = document.querySelector('[data-testid=target-slot]').getBoundingClientRect(); \
            const p = document.querySelector('[data-testid=flash-panel]').getBoundingClientRect(); \
            return [s.left >= p.left, s.right <= p.right + 0.5]").await;
        assert_eq!(
            inside,
            serde_json::json!([true, true]),
            "the slot select stays in its card"
        );

        // A big write: the progress bar has room while it runs.
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.bin");
        std::fs::write(
            &big,
            otaflash::sim::demo::app_image(otaflash::chips::ESP32, Some(("big", "1")), 600_000),
        )
        .unwrap();
        pick(&c, &big).await;
        enabled(&c, "flash", 10).await;
        find(&c, "flash").await.click().await.unwrap();
        let width = until("a progress bar with a value", 30, || async {
            let w = js(
                &c,
                "const p = document.querySelector('[data-testid=progress]'); \
                return p && p.getAttribute('value') ? p.getBoundingClientRect().width : null",
            )
            .await;
            w.as_f64()
        })
        .await;
        assert!(width > 100.0, "progress bar {width} px wide");
        shot(&c, "narrow-2-flashing").await;
        find(&c, "cancel").await.click().await.unwrap();
        status_contains(&c, "cancelled", 30).await;
        let across = sideways(&c).await;
        assert!(across <= 0, "still no sideways scroll: {across}");

        // Keyboard focus on the (visually hidden) file input shows on its button.
        let outline = js(
            &c,
            "const i = document.querySelector('[data-testid=image-file]'); i.focus(); \
            return getComputedStyle(i.closest('label')).outlineStyle",
        )
        .await;
        assert_ne!(
            outline.as_str(),
            Some("none"),
            "the file button shows focus"
        );

        // Dragging a file over the flash panel highlights it; a drop elsewhere is ignored.
        let lit = js(&c, "const p = document.querySelector('[data-testid=flash-panel]'); \
            p.dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: new DataTransfer()})); \
            return new Promise(r => setTimeout(() => r(p.className), 100))").await;
        assert!(lit.as_str().unwrap().contains("dragging"), "{lit}");
        shot(&c, "narrow-3-drag-over").await;
        let kept = js(&c, "const e = new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: new DataTransfer()}); \
            document.querySelector('header').dispatchEvent(e); return [e.defaultPrevented, location.href]").await;
        assert_eq!(
            kept[0],
            serde_json::json!(true),
            "a stray drop does not open the file"
        );
        assert!(kept[1].as_str().unwrap().contains("port=sim"));

        // A manifest loaded in the Update panel: the install panel's parts table fits too.
        open_tools(&c).await;
        let url = find(&c, "manifest-url").await;
        url.send_keys("/t/manifest.json\t").await.unwrap();
        find(&c, "manifest-load").await.click().await.unwrap();
        let parts = until("the manifest's parts", 20, || async {
            let v = all_attr(&c, "install-part", "data-offset").await;
            (v.len() == 4).then_some(v)
        })
        .await;
        assert_eq!(parts, ["0x1000", "0x8000", "0xe000", "0x10000"]);
        let across = sideways(&c).await;
        assert!(
            across <= 0,
            "the install panel scrolls sideways by {across} px"
        );
        shot_at(&c, "narrow-4-install", "install-source").await;
        c.close().await.unwrap();
    });
}

/// The status bar at the bottom never hides what is scrolled into view (the table header, the
/// otadata editor button, the Flash button), whichever edge it is aligned to.
#[test]
fn status_bar_never_covers_what_is_scrolled_to() {
    let web = serve_dist();
    run(async {
        let (c, _driver, _profile) = browser_sized(1280, 700).await;
        connect_sim(&c, web).await;
        find(&c, "status").await;
        for sel in [
            ".ptable th",
            "[data-testid=otadata-edit]",
            "[data-testid=flash]",
            "[data-testid=target-slot]",
        ] {
            for block in ["start", "end"] {
                let hit = js(&c, &format!(
                    "const el = document.querySelector('{sel}'); el.scrollIntoView({{block: '{block}'}}); \
                     const r = el.getBoundingClientRect(); const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2); \
                     return !!at && (at === el || el.contains(at))"
                ))
                .await;
                assert_eq!(
                    hit,
                    serde_json::json!(true),
                    "{sel} scrolled to the {block} is covered"
                );
            }
        }
        shot(&c, "status-bar").await;
        c.close().await.unwrap();
    });
}

/// A failed manifest load leaves nothing picked (Flash off) and says so; a good load after it
/// clears the error. A manifest picked as a file finds its parts among the files picked with
/// it; alone, it says which file it needs.
#[test]
fn manifests_picked_as_files_and_failed_loads() {
    let web = serve_dist();
    run(async {
        let (c, _driver, _profile) = browser().await;
        connect_sim(&c, web).await;
        pick(&c, &data("firmware/idf-v5.2.2_hello_world.bin")).await;
        enabled(&c, "flash", 10).await;
        let url = find(&c, "manifest-url").await;
        url.send_keys("/t/missing.json\t").await.unwrap();
        find(&c, "manifest-load").await.click().await.unwrap();
        let st = wait_text(&c, "status", "HTTP 404", 20).await;
        assert_eq!(
            attr(&c, "status", "data-tone").await.as_deref(),
            Some("error"),
            "{st}"
        );
        assert_eq!(
            text(&c, "picked-name").await,
            "idf-v5.2.2_hello_world.bin",
            "an image picked by hand stays picked"
        );
        // A good one: the error goes, and its app is offered to the flash panel.
        let url = find(&c, "manifest-url").await;
        url.clear().await.unwrap();
        url.send_keys("/t/manifest.json\t").await.unwrap();
        find(&c, "manifest-load").await.click().await.unwrap();
        wait_text(&c, "picked-name", "arduino_StartCounter.ino.bin", 20).await;
        assert_ne!(
            attr(&c, "status", "data-tone").await.as_deref(),
            Some("error")
        );
        // An Arduino app without an ESP-IDF description is called what it is.
        assert_eq!(
            text(&c, "image-kind").await,
            "no ESP-IDF app description (e.g. an older Arduino build)"
        );
        enabled(&c, "flash", 10).await;
        // The manifest as a file, alone: it says what it needs.
        let input = find(&c, "image-file").await;
        input
            .send_keys(data("manifest.json").to_str().unwrap())
            .await
            .unwrap();
        let st = wait_text(&c, "status", "not picked with it", 20).await;
        assert!(
            st.contains("arduino_bootloader_dio_40m.bin")
                && st.contains("arduino_StartCounter.ino.bin"),
            "every missing file is named: {st}"
        );
        assert!(c.find(Locator::Css(&css("picked"))).await.is_err());
        // With its files, picked together (every part of the build: the Update panel decides
        // from the build's table too).
        let both = [
            "manifest.json",
            "firmware/arduino_bootloader_dio_40m.bin",
            "firmware/arduino_partitions_default.bin",
            "firmware/arduino_boot_app0.bin",
            "firmware/arduino_StartCounter.ino.bin",
        ]
        .map(|f| data(f).display().to_string())
        .join("\n");
        find(&c, "image-file").await.send_keys(&both).await.unwrap();
        wait_text(&c, "picked-name", "arduino_StartCounter.ino.bin", 20).await;
        assert_eq!(text(&c, "image-chip").await, "ESP32");
        enabled(&c, "flash", 10).await;
        shot(&c, "manifest-files").await;
        c.close().await.unwrap();
    });
}

/// The serial console without a download-mode session: open the port, the chip resets into
/// its app and prints; a typed line reaches it; closing frees the port.
#[test]
fn console_without_download_mode() {
    let web = serve_dist();
    let board = WsBoard::start(&arduino_flash(), "real");
    let ws = &board.ws;
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port={ws}"))
            .await
            .unwrap();
        watch_errors(&c).await;
        find(&c, "open-console").await.click().await.unwrap();
        wait_text(&c, "log", "Loaded app from partition at offset 0x10000", 30).await;
        find(&c, "console-line")
            .await
            .send_keys("version\n")
            .await
            .unwrap();
        wait_text(&c, "log", "the app got: version", 10).await;
        // Wi-Fi set-up over Improv from the console (a module loaded on demand): what the app
        // is, the networks it sees, a network joined with the address to visit; Improv's
        // packets stay out of the log.
        find(&c, "wifi-start").await.click().await.unwrap();
        wait_text(&c, "wifi-device", "hello-world-", 30).await;
        until("the networks the app sees", 30, || async {
            c.find(fantoccini::Locator::Css(
                "[data-testid=wifi-ssid] option[value=Workshop]",
            ))
            .await
            .ok()
        })
        .await;
        choose(&c, "wifi-ssid", "Workshop").await;
        find(&c, "wifi-password")
            .await
            .send_keys("solder-fumes")
            .await
            .unwrap();
        find(&c, "wifi-connect").await.click().await.unwrap();
        let joined = wait_text(&c, "wifi-joined", "Connected to Workshop", 30).await;
        assert!(
            joined.contains("Visit the device: http://hello-world-"),
            "{joined}"
        );
        shot(&c, "console-wifi").await;
        assert!(
            !text(&c, "log").await.contains("IMPROV"),
            "Improv's packets stay out of the log"
        );
        // Timestamps can be hidden, the log cleared.
        find(&c, "log-stamps").await.click().await.unwrap();
        let first = text(&c, "log")
            .await
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            !first.chars().next().unwrap_or(' ').is_ascii_digit(),
            "{first}"
        );
        shot(&c, "console-only").await;
        find(&c, "stop-console").await.click().await.unwrap();
        find(&c, "open-console").await;
        find(&c, "log-clear").await.click().await.unwrap();
        find(&c, "log-empty").await;
        // The port is free again: download mode works.
        find(&c, "connect").await.click().await.unwrap();
        wait_text(&c, "chip", "ESP32", 30).await;
        let (_, errors) = caught(&c).await;
        assert_eq!(errors, serde_json::json!([]));
        c.close().await.unwrap();
    });
}

/// The offline workbench names things plainly: the table an otadata file is read against, a
/// bootloader as a bootloader, blank flash as blank, a partitions.csv as a table, a text file
/// as a text file; a dump whose selected slot is empty shows the app that really boots.
#[test]
fn offline_workbench_says_what_files_are() {
    let web = serve_dist();
    let dir = tempfile::tempdir().unwrap();
    let erased = dir.path().join("erased.bin");
    std::fs::write(&erased, vec![0xFF; 4096]).unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "remember to flash app1\n").unwrap();
    let csv = dir.path().join("partitions.csv");
    std::fs::write(&csv, otaflash::sim::demo::ARDUINO_DEFAULT_CSV).unwrap();
    // A dump whose otadata selects the empty app1.
    let mut dump = arduino_flash();
    {
        use otaflash::formats::otadata::{set_boot, OtaState, Otadata};
        let t = otaflash::formats::partition::PartitionTable::from_flash(&dump, 0x8000).unwrap();
        let od = Otadata::parse(&dump[0xE000..0x10000]).unwrap();
        let sel = set_boot(&t, &od, "app1", OtaState::Undefined).unwrap();
        dump[0xE000..0x10000].copy_from_slice(sel.as_bytes());
    }
    let dump_path = dir.path().join("flash-dump.bin");
    std::fs::write(&dump_path, &dump).unwrap();
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port=sim"))
            .await
            .unwrap();
        let open = |p: std::path::PathBuf| {
            let c = &c;
            async move {
                find(c, "open-file")
                    .await
                    .send_keys(p.to_str().unwrap())
                    .await
                    .unwrap();
            }
        };
        open(csv.clone()).await;
        open(data("otadata/arduino_boot_app0.bin")).await;
        wait_text(&c, "file-read-against", "partitions.csv", 20).await;
        open(data("firmware/idf-v5.2.2_bootloader.bin")).await;
        open(erased.clone()).await;
        open(notes.clone()).await;
        open(dump_path.clone()).await;
        let kinds = until("six cards", 20, || async {
            let v = all_attr(&c, "file-card", "data-kind").await;
            (v.len() == 6).then_some(v)
        })
        .await;
        assert_eq!(
            kinds,
            [
                "flash dump",
                "unreadable",
                "blank",
                "bootloader image",
                "otadata",
                "partition table"
            ]
        );
        assert!(text(&c, "file-error")
            .await
            .starts_with("This is a text file"));
        assert!(text(&c, "image-kind")
            .await
            .contains("second-stage bootloader"));
        assert_eq!(text(&c, "file-selected-slot").await, "app1");
        // What boots is said on the otadata card (read against the table) and the dump's.
        let booted = all_attr(&c, "file-boot-slot", "data-testid").await;
        assert_eq!(booted.len(), 2, "{booted:?}");
        let dump_card = c
            .find(Locator::Css(
                "[data-testid=file-card][data-kind='flash dump']",
            ))
            .await
            .unwrap();
        let boot = dump_card
            .find(Locator::Css("[data-testid=file-boot-slot]"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(boot, "app0", "app1 is empty in the dump: app0 boots");
        let why = dump_card
            .find(Locator::Css("[data-testid=file-boot-why]"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(why.contains("app1 is empty → app0 boots"), "{why}");
        shot(&c, "offline-files").await;
        c.close().await.unwrap();
    });
}
