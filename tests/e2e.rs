//! End to end: the built page (trunk release build in dist/, served on 127.0.0.1) in headless
//! Chromium, driven through chromedriver. With the in-page simulated ESP32 and over a WebSocket
//! to `otaflash sim --ws` (checking its flash file byte for byte): connect, what each slot
//! holds, flash, boot next, the otadata editor against slots that do not load, backups, the
//! console. Screenshots of the main states land in target/screenshots/.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::*;
use common::*;
use fantoccini::{Client, Locator};
use std::path::{Path, PathBuf};

/// Connect, read the layout, cancel a write, flash hello_world into app1, verify, boot it next.
async fn flash_second_slot(c: &Client, tag: &str) {
    find(c, "connect").await.click().await.unwrap();
    let chip = wait_text(c, "chip", "ESP32", 30).await;
    assert!(chip.contains("ESP32-D0WD-V3 (revision v3.1)"), "{chip}");
    assert_eq!(text(c, "flash-size").await, "4 MB");
    assert_ne!(
        focused(c).await,
        "BODY",
        "the focus stays on the connect button"
    );
    let rows = until("6 partition rows", 30, || async {
        let v = all_attr(c, "partition-row", "data-label").await;
        (v.len() == 6).then_some(v)
    })
    .await;
    assert_eq!(rows[2..4], ["app0".to_string(), "app1".to_string()]);
    assert_eq!(all_attr(c, "otadata-sector", "data-seq").await, ["1", "0"]);
    assert_eq!(text(c, "boot-slot").await, "app0");
    // What each slot holds: app0 an app (headers read), app1 empty.
    assert_eq!(
        all_attr(c, "slot-row", "data-holds").await,
        ["app", "empty"]
    );
    assert_eq!(
        all_attr(c, "slot-row", "data-loads").await,
        ["unknown", "no"]
    );
    assert!(
        text(c, "boot-unverified")
            .await
            .contains("if its image is intact"),
        "what boots rests on app0's image, not read whole"
    );
    shot(c, &format!("{tag}-1-connected")).await;

    // Cancel a write: nothing is verified, otadata is untouched.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big-app.bin");
    std::fs::write(
        &big,
        otaflash::sim::demo::app_image(otaflash::chips::ESP32, Some(("big_app", "1.0")), 600_000),
    )
    .unwrap();
    pick(c, &big).await;
    enabled(c, "flash", 10).await;
    find(c, "flash").await.click().await.unwrap();
    // As soon as the job runs (the loader looks at the flag between write blocks; the
    // device tests cancel part-way through a write).
    let cancel = until("the cancel button", 30, || async {
        c.find(Locator::Css(&css("cancel"))).await.ok()
    })
    .await;
    assert_eq!(
        focused(c).await,
        "cancel",
        "the focus moves to Cancel while writing"
    );
    cancel.click().await.unwrap();
    let st = status_contains(c, "cancelled", 30).await;
    assert!(st.contains("otadata was not touched"), "{st}");
    assert!(
        c.find(Locator::Css(&css("set-boot"))).await.is_err(),
        "a cancelled write cannot be booted"
    );
    assert_eq!(all_attr(c, "otadata-sector", "data-seq").await, ["1", "0"]);
    assert_eq!(text(c, "boot-slot").await, "app0");
    shot(c, &format!("{tag}-2-cancelled")).await;

    pick(c, &data("firmware/idf-v5.2.2_hello_world.bin")).await;
    // Record every value the progress bar shows (the UI must keep rendering while it writes),
    // and whether leaving the page is guarded and the file choice locked while it does.
    c.execute(
        "window.__progress = []; window.__guarded = []; \
         new MutationObserver(() => { \
           const p = document.querySelector('[data-testid=progress]'); \
           if (p && p.getAttribute('value') !== null) window.__progress.push([p.getAttribute('value'), p.getAttribute('max')]); \
           if (p && +p.getAttribute('value') > 0 && document.querySelector('[data-testid=cancel]')) { \
             const e = new Event('beforeunload', {cancelable: true}); window.dispatchEvent(e); \
             window.__guarded.push([e.defaultPrevented, document.querySelector('[data-testid=image-file]').disabled, \
               document.querySelectorAll('progress').length]); } \
         }).observe(document.body, {subtree: true, childList: true, attributes: true});",
        vec![],
    )
    .await
    .unwrap();
    let target = find(c, "target-slot").await;
    assert_eq!(
        target.prop("value").await.unwrap().as_deref(),
        Some("app1"),
        "default target: the slot not booting"
    );
    // Write only: booting it is the next step here (the default flashes and boots in one).
    write_only(c).await;
    find(c, "flash").await.click().await.unwrap();
    // Catch the progress bar while it runs (the simulated link keeps real time).
    until("the progress bar while writing", 30, || async {
        c.find(Locator::Css(&css("progress"))).await.ok()
    })
    .await;
    shot(c, &format!("{tag}-3-flashing")).await;
    let st = status_contains(c, "verified", 90).await;
    let len = std::fs::metadata(data("firmware/idf-v5.2.2_hello_world.bin"))
        .unwrap()
        .len();
    assert!(
        st.contains(&format!("app1: {len} bytes verified"))
            && st.contains(&format!("{len} written")),
        "{st}"
    );
    assert!(
        st.contains("kbit/s effective") && st.contains("on the wire"),
        "{st}"
    );
    let seen = c.execute("return window.__progress", vec![]).await.unwrap();
    let writing: Vec<u64> = seen
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v[1].as_str() == Some(len.to_string().as_str()))
        .filter_map(|v| v[0].as_str()?.parse().ok())
        .collect();
    assert!(
        writing.iter().filter(|v| **v > 0 && **v < len).count() >= 2
            && writing.last() == Some(&len),
        "the progress bar moves while writing: {seen}"
    );
    let guarded = c.execute("return window.__guarded", vec![]).await.unwrap();
    assert!(
        !guarded.as_array().unwrap().is_empty()
            && guarded
                .as_array()
                .unwrap()
                .iter()
                .all(|g| g == &serde_json::json!([true, true, 1])),
        "leaving asks first, the file choice is locked and there is one progress bar while writing: {guarded}"
    );
    let idle = c
        .execute(
            "const e = new Event('beforeunload', {cancelable: true}); window.dispatchEvent(e); return e.defaultPrevented",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(idle, serde_json::json!(false), "nothing to lose when idle");
    assert_eq!(
        focused(c).await,
        "set-boot",
        "the focus moves to the next step"
    );
    assert!(text(c, "set-boot-what").await.contains("hello_world"));
    shot(c, &format!("{tag}-4-verified")).await;

    find(c, "set-boot").await.click().await.unwrap();
    status_contains(c, "app1 boots next", 60).await;
    wait_text(c, "boot-slot", "app1", 10).await;
    assert_eq!(
        all_attr(c, "otadata-sector", "data-seq").await,
        ["2", "2"],
        "matched sectors"
    );
    assert_eq!(
        all_attr(c, "otadata-sector", "data-state").await,
        ["undefined", "undefined"]
    );
    // The update target moves to the other slot; nothing warns about app1.
    let target = find(c, "target-slot").await;
    assert_eq!(target.prop("value").await.unwrap().as_deref(), Some("app0"));
    assert!(
        c.find(Locator::Css(&css("image-problems"))).await.is_err(),
        "{}",
        text(c, "image-problems").await
    );
    assert!(
        c.find(Locator::Css(&css("boot-unverified"))).await.is_err(),
        "app1 was written and verified here: what boots is known"
    );
    shot(c, &format!("{tag}-5-boots-app1")).await;
}

/// `image` with one byte past its first 64 KiB changed, checksum and digest made right again (a
/// new build that differs only there).
fn changed_past_64k(image: &[u8]) -> Vec<u8> {
    use otaflash::formats::image::Image;
    let mut b = image.to_vec();
    let i = Image::parse(&b).unwrap();
    let last = i.segments.last().unwrap();
    let at = (0x10000usize).max(last.data_offset) + 16;
    assert!(at < last.data_offset + last.len as usize);
    b[at] ^= 0x5A;
    b[i.checksum_offset] ^= 0x5A;
    let digest = otaflash::formats::sha256(&b[..i.checksum_offset + 1]);
    b[i.checksum_offset + 1..i.checksum_offset + 33].copy_from_slice(&digest);
    assert!(Image::parse(&b).unwrap().checksum_ok());
    b
}

/// Bad images are refused in the page with a clear message; the Flash button stays off.
async fn bad_images(c: &Client, dir: &Path) {
    let check = |file: PathBuf, needle: &'static str| async move {
        pick(c, &file).await;
        let msg = wait_text(c, "image-problems", needle, 10).await;
        assert!(msg.contains("Not flashable"), "{msg}");
        assert_eq!(
            find(c, "flash")
                .await
                .attr("disabled")
                .await
                .unwrap()
                .as_deref(),
            Some("true"),
            "{needle}"
        );
    };
    check(
        data("firmware/arduino_partitions_default.bin"),
        "This is a partition table, not a firmware image",
    )
    .await;
    check(
        data("app_images/esptool_test_images/helloworld-esp32s3.bin"),
        "built for ESP32-S3",
    )
    .await;
    let mut big = read("firmware/idf-v5.2.2_hello_world.bin");
    big.resize(0x150000, 0);
    let big_path = dir.join("oversize.bin");
    std::fs::write(&big_path, &big).unwrap();
    check(big_path, "larger than").await;
    let mut corrupt = read("firmware/idf-v5.2.2_hello_world.bin");
    corrupt[70_000] ^= 0x40;
    let corrupt_path = dir.join("corrupt.bin");
    std::fs::write(&corrupt_path, &corrupt).unwrap();
    check(corrupt_path, "corrupt").await;
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "flash app1 on Monday\n").unwrap();
    check(notes, "This is a text file, not a firmware image").await;
    shot(c, "refused-image").await;
}

#[test]
fn page_with_the_in_page_simulator() {
    let web = serve_dist();
    run(async {
        let (c, _driver, profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port=sim"))
            .await
            .unwrap();
        let kind = find(&c, "port-kind").await;
        assert_eq!(kind.prop("value").await.unwrap().as_deref(), Some("sim"));
        // Everything below runs under the page's strict CSP: record violations and errors.
        watch_errors(&c).await;
        // The landing page: no empty status bar, no empty log strip.
        assert!(c.find(Locator::Css(&css("status"))).await.is_err());
        assert!(c.find(Locator::Css(&css("log"))).await.is_err());
        find(&c, "log-empty").await;
        shot(&c, "sim-0-landing").await;
        // Installable and offline-capable: the service worker registers.
        let sw = until("the service worker", 20, || async {
            let v = c
                .execute_async("navigator.serviceWorker.getRegistration().then(r => arguments[0](!!(r && (r.active || r.installing || r.waiting))))", vec![])
                .await
                .ok()?;
            v.as_bool().filter(|b| *b)
        })
        .await;
        assert!(sw);
        flash_second_slot(&c, "sim").await;

        // Flash the same image into app0 twice: the second time nothing is written, and the
        // report says so instead of "0 kbit/s".
        pick(&c, &data("firmware/idf-v5.2.2_hello_world.bin")).await;
        enabled(&c, "flash", 10).await;
        find(&c, "flash").await.click().await.unwrap();
        status_contains(&c, "app0: 124416 bytes verified", 90).await;
        enabled(&c, "flash", 10).await;
        find(&c, "flash").await.click().await.unwrap();
        let st = status_contains(&c, "already holds", 90).await;
        assert!(
            st.contains("nothing written") && !st.contains("kbit/s"),
            "{st}"
        );
        // A changed image whose first 64 KiB are the same: what was written and what was
        // already there, each counted (the progress says so too).
        let dir = tempfile::tempdir().unwrap();
        let changed = dir.path().join("hello-changed.bin");
        std::fs::write(
            &changed,
            changed_past_64k(&read("firmware/idf-v5.2.2_hello_world.bin")),
        )
        .unwrap();
        pick(&c, &changed).await;
        enabled(&c, "flash", 10).await;
        c.execute(
            "window.__texts = []; new MutationObserver(() => { \
               const t = document.querySelector('[data-testid=progress-text]'); \
               if (t) window.__texts.push(t.innerText); \
             }).observe(document.body, {subtree: true, childList: true, characterData: true});",
            vec![],
        )
        .await
        .unwrap();
        find(&c, "flash").await.click().await.unwrap();
        let st = status_contains(&c, "58880 written, 65536 already there", 90).await;
        assert!(st.contains("app0: 124416 bytes verified"), "{st}");
        let texts = c.execute("return window.__texts", vec![]).await.unwrap();
        assert!(
            texts.as_array().unwrap().iter().any(|t| {
                let t = t.as_str().unwrap_or_default();
                t.contains("the other 64.0 KB are already there")
                    && t.contains("kbit/s effective")
                    && t.contains("kbit/s on the wire")
            }),
            "{texts}"
        );

        bad_images(&c, dir.path()).await;

        // The console: the chip's own lines and otaflash's, one timeline, with timestamps.
        find(&c, "watch").await.click().await.unwrap();
        let log = wait_text(
            &c,
            "log",
            "Loaded app from partition at offset 0x150000",
            30,
        )
        .await;
        assert!(log.contains("hello_world"), "{log}");
        let lines: Vec<String> = log.lines().map(str::to_string).collect();
        let stamped = |l: &String| {
            l.len() >= 12
                && l.as_bytes()[2] == b':'
                && l.as_bytes()[5] == b':'
                && l.as_bytes()[8] == b'.'
        };
        assert!(
            lines.iter().all(stamped),
            "every line has its time: {lines:?}"
        );
        let reset = lines
            .iter()
            .position(|l| l.contains("reset the chip into its app"))
            .unwrap();
        let banner = lines
            .iter()
            .position(|l| l.contains("Loaded app from partition"))
            .unwrap();
        assert!(reset < banner, "in the order it happened: {lines:?}");
        // A line typed into the console reaches the app (the simulated app answers it).
        let input = find(&c, "console-line").await;
        input.send_keys("status\n").await.unwrap();
        wait_text(&c, "log", "the app got: status", 10).await;
        shot(&c, "sim-6-console").await;
        // Stop: back in download mode, ready to flash again without a new connect.
        find(&c, "stop-console").await.click().await.unwrap();
        until("download mode again", 30, || async {
            (text(&c, "connect").await == "Disconnect"
                && !all_attr(&c, "partition-row", "data-label").await.is_empty())
            .then_some(())
        })
        .await;
        pick(&c, &data("firmware/idf-v5.2.2_hello_world.bin")).await;
        enabled(&c, "flash", 30).await;
        // The log follows its newest line.
        let bottom = c
            .execute(
                "const l = document.querySelector('[data-testid=log]'); return l.scrollHeight - l.scrollTop - l.clientHeight",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            bottom.as_f64().unwrap() < 2.0,
            "autoscroll: {bottom} px below"
        );
        // The downloaded log is the same timeline, each line with its time and source.
        find(&c, "log-download").await.click().await.unwrap();
        let saved = String::from_utf8(downloaded(&profile, "otaflash-log.txt").await).unwrap();
        let reset = saved
            .lines()
            .position(|l| l.contains("[otaflash] reset the chip into its app"))
            .unwrap();
        let banner = saved
            .lines()
            .position(|l| {
                l.contains("[device]   I (120) boot: Loaded app from partition at offset 0x150000")
            })
            .unwrap();
        assert!(reset < banner, "{saved}");
        assert!(
            saved
                .lines()
                .all(|l| l.len() > 13 && l.as_bytes()[2] == b':' && l.as_bytes()[12] == b' '),
            "{saved}"
        );
        let (csp, errors) = caught(&c).await;
        assert_eq!(csp, serde_json::json!([]), "CSP violations");
        assert_eq!(errors, serde_json::json!([]), "script errors");
        // No network traffic but the page's own origin (the simulated chip is in the page).
        let others = c
            .execute(
                "return performance.getEntriesByType('resource').map(e => e.name) \
                   .filter(u => !u.startsWith(location.origin + '/'))",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(others, serde_json::json!([]), "requests to other origins");
        c.close().await.unwrap();
    });
}

#[test]
fn page_over_websocket_to_otaflash_sim() {
    let web = serve_dist();
    let board = WsBoard::start(&arduino_flash(), "real");
    let (flash, ws) = (&board.flash, &board.ws);
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port={ws}"))
            .await
            .unwrap();
        assert_eq!(
            find(&c, "port-kind")
                .await
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some("ws")
        );
        assert_eq!(
            find(&c, "ws-url").await.prop("value").await.unwrap(),
            Some(ws.to_string())
        );
        flash_second_slot(&c, "ws").await;
        // The sim's flash file, byte for byte: the image in app1, matched otadata sectors.
        let f = std::fs::read(flash).unwrap();
        let img = read("firmware/idf-v5.2.2_hello_world.bin");
        assert_eq!(f[0x150000..0x150000 + img.len()], img[..]);
        let e = otaflash::formats::otadata::Entry::new(
            2,
            otaflash::formats::otadata::OtaState::Undefined,
        )
        .to_bytes();
        assert_eq!(f[0xE000..0xE020], e);
        assert_eq!(f[0xF000..0xF020], e);
        // Outside app1 (which also holds the rest of the cancelled write) and otadata,
        // nothing changed.
        let mut expect = arduino_flash();
        expect[0x150000..0x290000].copy_from_slice(&f[0x150000..0x290000]);
        expect[0xE000..0x10000].copy_from_slice(&f[0xE000..0x10000]);
        assert!(f == expect, "nothing else changed");
        // Bad images write nothing.
        let dir = tempfile::tempdir().unwrap();
        bad_images(&c, dir.path()).await;
        assert!(
            std::fs::read(flash).unwrap() == f,
            "refused images wrote nothing"
        );
        c.close().await.unwrap();
    });
}

/// An ESP32-C3 over the WebSocket bridge (`otaflash sim --chip esp32c3`): the page names it,
/// fetches the C3's own stub, refuses an ESP32 image for it, flashes the C3 hello_world into
/// app1 and boots it next; the sim's flash file says the same.
#[test]
fn page_flashes_an_esp32c3() {
    let web = serve_dist();
    let board = WsBoard::start_chip(&c3_flash(), "real", "esp32c3");
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port={}", board.ws))
            .await
            .unwrap();
        watch_errors(&c).await;
        find(&c, "connect").await.click().await.unwrap();
        let chip = wait_text(&c, "chip", "ESP32", 30).await;
        assert_eq!(chip, "ESP32-C3 (QFN32) (revision v0.4)");
        assert_eq!(text(&c, "loader").await, "flasher stub");
        assert_eq!(text(&c, "link-baud").await, "921600");
        wait_text(&c, "boot-slot", "app0", 30).await;
        pick(&c, &data("firmware/idf-v5.2.2_hello_world.bin")).await;
        wait_text(&c, "image-problems", "built for ESP32", 10).await;
        pick(&c, &data("firmware/idf-v5.2.2_c3_hello_world.bin")).await;
        enabled(&c, "flash", 10).await;
        find(&c, "flash").await.click().await.unwrap();
        // Flash boots it next in the same action.
        let st = status_contains(&c, "app1 boots next", 60).await;
        assert!(st.contains("app1: 124192 bytes verified"), "{st}");
        wait_text(&c, "boot-slot", "app1", 30).await;
        shot(&c, "c3-1-boots-app1").await;
        let f = std::fs::read(&board.flash).unwrap();
        let img = read("firmware/idf-v5.2.2_c3_hello_world.bin");
        assert_eq!(f[0x150000..0x150000 + img.len()], img[..]);
        assert_eq!(f[0xE000..0xE020], f[0xF000..0xF020], "matched sectors");
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}

/// The in-page simulator as an ESP32-S3, picked in the page as a visitor would: the page names
/// it, fetches the S3's own stub, refuses an app built for the C3, flashes an S3 app (esptool
/// made) into app1 and boots it next; the simulated bootloader then starts app1 (its console).
#[test]
fn page_flashes_an_esp32s3_in_page() {
    let web = serve_dist();
    let dir = tempfile::tempdir().unwrap();
    let s3_app = dir.path().join("hello-s3-2.0.bin");
    std::fs::write(&s3_app, images::app("esp32s3", "hello", "2.0", 96)).unwrap();
    let c3_app = dir.path().join("hello-c3-2.0.bin");
    std::fs::write(&c3_app, images::app("esp32c3", "hello", "2.0", 96)).unwrap();
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port=sim"))
            .await
            .unwrap();
        watch_errors(&c).await;
        let picker = find(&c, "sim-chip").await;
        assert_eq!(
            picker.prop("value").await.unwrap().as_deref(),
            Some("esp32")
        );
        choose(&c, "sim-chip", "esp32s3").await;
        shot(&c, "s3-0-picked").await;
        find(&c, "connect").await.click().await.unwrap();
        let chip = wait_text(&c, "chip", "ESP32", 30).await;
        assert_eq!(chip, "ESP32-S3 (QFN56) (revision v0.2)");
        assert_eq!(text(&c, "loader").await, "flasher stub");
        assert_eq!(
            find(&c, "sim-chip")
                .await
                .attr("disabled")
                .await
                .unwrap()
                .as_deref(),
            Some("true"),
            "the chip is fixed while connected"
        );
        wait_text(&c, "boot-slot", "app0", 30).await;
        pick(&c, &c3_app).await;
        wait_text(&c, "image-problems", "built for ESP32-C3", 10).await;
        pick(&c, &s3_app).await;
        enabled(&c, "flash", 10).await;
        find(&c, "flash").await.click().await.unwrap();
        status_contains(&c, "app1 boots next", 90).await;
        wait_text(&c, "boot-slot", "app1", 30).await;
        shot(&c, "s3-1-boots-app1").await;
        // The simulated bootloader agrees after a reset into the app.
        find(&c, "watch").await.click().await.unwrap();
        let log = wait_text(
            &c,
            "log",
            "Loaded app from partition at offset 0x150000",
            30,
        )
        .await;
        assert!(log.contains("app1 holds \"hello\" 2.0"), "{log}");
        assert!(log.contains("ESP-ROM:esp32s3"), "{log}");
        assert_clean(&c).await;
        c.close().await.unwrap();
    });
}

/// Boards in states that must not mislead: a bad-CRC otadata sector, a table the bootloader
/// rejects, a half-written slot, a blank chip, and a table offset with nothing there.
#[test]
fn page_shows_boards_in_every_state_truthfully() {
    let web = serve_dist();
    // A device whose otadata sector 0 has a bad CRC (garbage, not erased).
    let mut bad_od = arduino_flash();
    bad_od[0xE000 + 28] ^= 0xFF;
    // One whose partition table (with an MD5 row) no longer matches its MD5.
    let mut bad_table = arduino_flash();
    let t = read("partition_tables/arduino_default.bin");
    bad_table[0x8000..0x8000 + t.len()].copy_from_slice(&t);
    bad_table[0x8000 + 0x4C] ^= 0x01; // app0's size
                                      // One whose app1 was cut off half-way through a write, while otadata selects it.
    let mut half = arduino_flash();
    let big = otaflash::sim::demo::app_image(otaflash::chips::ESP32, Some(("big", "2")), 300_000);
    half[0x150000..0x150000 + 0x20000].copy_from_slice(&big[..0x20000]);
    {
        let table =
            otaflash::formats::partition::PartitionTable::from_flash(&half, 0x8000).unwrap();
        let od = otaflash::formats::otadata::Otadata::parse(&half[0xE000..0x10000]).unwrap();
        let sel = otaflash::formats::otadata::set_boot(
            &table,
            &od,
            "app1",
            otaflash::formats::otadata::OtaState::Undefined,
        )
        .unwrap();
        half[0xE000..0x10000].copy_from_slice(sel.as_bytes());
    }
    // A blank chip.
    let blank = vec![0xFF; FLASH_SIZE];
    for (tag, image) in [
        ("bad-crc", bad_od),
        ("bad-table", bad_table),
        ("half-written", half),
        ("blank", blank),
    ] {
        let board = WsBoard::start(&image, "none");
        let (flash, ws) = (&board.flash, &board.ws);
        run(async {
            let (c, _driver, _profile) = browser().await;
            c.goto(&format!("http://127.0.0.1:{web}/?port={ws}"))
                .await
                .unwrap();
            find(&c, "connect").await.click().await.unwrap();
            wait_text(&c, "chip", "ESP32", 30).await;
            match tag {
                "bad-crc" => {
                    let states = until("two sectors", 30, || async {
                        let v = all_attr(&c, "otadata-sector", "data-seq").await;
                        (v.len() == 2).then_some(v)
                    })
                    .await;
                    assert_eq!(states, ["1", "0"]);
                    let sectors = c
                        .find_all(Locator::Css(&css("otadata-sector")))
                        .await
                        .unwrap();
                    assert!(
                        sectors[0].text().await.unwrap().contains("bad"),
                        "sector 0 shows its CRC is bad"
                    );
                    // Sector 1 (seq 0) is active, (0-1) % 2 = 1: otadata selects app1, which is
                    // empty, so the bootloader falls back to app0.
                    assert_eq!(wait_text(&c, "selected-slot", "app", 10).await, "app1");
                    assert_eq!(text(&c, "boot-slot").await, "app0");
                    assert!(text(&c, "boot-why")
                        .await
                        .contains("app1 is empty → app0 boots"));
                }
                "bad-table" => {
                    until("the partition rows", 30, || async {
                        (!all_attr(&c, "partition-row", "data-label").await.is_empty())
                            .then_some(())
                    })
                    .await;
                    let warn = wait_text(&c, "warnings", "MD5", 10).await;
                    assert!(warn.contains("rejects this table"), "{warn}");
                    // Nothing can be flashed against a table the bootloader rejects.
                    pick(&c, &data("firmware/idf-v5.2.2_hello_world.bin")).await;
                    let why = wait_text(&c, "image-problems", "partition table", 10).await;
                    assert!(why.contains("MD5"), "{why}");
                    assert_eq!(attr(&c, "flash", "disabled").await.as_deref(), Some("true"));
                }
                "half-written" => {
                    // The slot shows damaged, and what boots is app0, not app1.
                    let holds = until("the slot rows", 30, || async {
                        let v = all_attr(&c, "slot-row", "data-holds").await;
                        (v.len() == 2).then_some(v)
                    })
                    .await;
                    assert_eq!(holds, ["app", "damaged"]);
                    assert_eq!(text(&c, "selected-slot").await, "app1");
                    assert_eq!(text(&c, "boot-slot").await, "app0");
                    assert!(text(&c, "boot-why")
                        .await
                        .contains("app1 is damaged or half-written → app0 boots"));
                    // Writing app1 makes it boot at the next reset: said before the write.
                    pick(&c, &data("firmware/idf-v5.2.2_hello_world.bin")).await;
                    let n = wait_text(&c, "flash-notice", "otadata already selects app1", 10).await;
                    assert!(n.contains("app1 boots at the next reset"), "{n}");
                }
                _ => {
                    // Blank: said so, with what can be done; the flash panel says why it waits.
                    let e = wait_text(&c, "table-error", "blank", 30).await;
                    assert!(e.contains("no partition table at 0x8000"), "{e}");
                    assert!(text(&c, "table-hint")
                        .await
                        .contains("otaflash write 0x1000 bootloader.bin"));
                    assert!(text(&c, "flash-needs-table")
                        .await
                        .contains("needs the partition table"));
                    assert_eq!(
                        attr(&c, "status", "data-tone").await.as_deref(),
                        Some("warning")
                    );
                    // A wrong offset read on purpose: the status says so, not "layout read".
                    let off = find(&c, "table-offset").await;
                    off.clear().await.unwrap();
                    off.send_keys("0x9000\t").await.unwrap();
                    find(&c, "read-layout").await.click().await.unwrap();
                    let st = until("the status for 0x9000", 30, || async {
                        let t = text(&c, "status").await;
                        t.contains("0x9000").then_some(t)
                    })
                    .await;
                    assert!(!st.contains("layout read"), "{st}");
                }
            }
            shot(&c, &format!("device-{tag}")).await;
            c.close().await.unwrap();
        });
        assert!(
            std::fs::read(flash).unwrap() == image,
            "{tag}: nothing written"
        );
    }
}

/// Edit otadata by hand on the device, each change previewed against what the slots really
/// hold: selecting the empty app1 shows app0 as what will boot and needs a confirmation; once
/// app1 holds a verified app it boots; "mark running invalid" after that matched switch rolls
/// back to app0; erase and undo. Each write is checked in the sim's flash file. Backups carry
/// chip, MAC and date in their names; a manifest URL resolves for the connected chip.
#[test]
fn page_edits_otadata_backs_up_and_takes_a_manifest() {
    use otaflash::formats::bootable::Loads;
    use otaflash::formats::otadata::{self, OtaState, Otadata};
    use otaflash::formats::partition::PartitionTable;
    let web = serve_dist();
    let original = arduino_flash();
    let board = WsBoard::start(&original, "none");
    let (flash, ws) = (&board.flash, &board.ws);
    let table = PartitionTable::from_flash(&original, 0x8000).unwrap();
    let read_at_connect = Otadata::parse(&original[0xE000..0x10000]).unwrap();
    run(async {
        let (c, _driver, profile) = browser().await;
        c.goto(&format!(
            "http://127.0.0.1:{web}/?port={ws}&manifest=/t/manifest.json"
        ))
        .await
        .unwrap();
        // Before the chip is known the manifest is named (its builds wait for the chip)...
        wait_text(&c, "firmware-label", "otaflash test manifest", 20).await;
        find(&c, "connect").await.click().await.unwrap();
        wait_text(&c, "chip", "ESP32", 30).await;
        // ...and once it is, the ESP32 build's app part (StartCounter), flashable.
        until("the ESP32 build", 20, || async {
            (text(&c, "image-chip").await == "ESP32").then_some(())
        })
        .await;
        enabled(&c, "flash", 20).await;
        wait_text(&c, "boot-slot", "app0", 30).await;

        // Boot app1, which is empty: the preview checks it and shows that app0 boots.
        find(&c, "otadata-edit").await.click().await.unwrap();
        choose(&c, "editor-slot", "app1").await;
        choose(&c, "editor-state", "valid").await;
        find(&c, "editor-set-boot").await.click().await.unwrap();
        let why = wait_text(&c, "editor-wont-load", "app1 would not load", 20).await;
        assert!(why.contains("empty") && why.contains("start app0"), "{why}");
        assert_eq!(text(&c, "preview-selected-slot").await, "app1");
        assert_eq!(text(&c, "preview-boot-slot").await, "app0");
        assert_eq!(
            attr(&c, "editor-apply", "disabled").await.as_deref(),
            Some("true"),
            "needs a confirmation"
        );
        assert_eq!(
            std::fs::read(flash).unwrap(),
            original,
            "a preview writes nothing"
        );
        shot(&c, "edit-1-preview-empty-slot").await;
        find(&c, "editor-confirm").await.click().await.unwrap();
        enabled(&c, "editor-apply", 10).await;
        find(&c, "editor-apply").await.click().await.unwrap();
        status_contains(&c, "app1 is empty → app0 boots", 30).await;
        assert_eq!(text(&c, "boot-slot").await, "app0");
        assert_eq!(text(&c, "selected-slot").await, "app1");
        let want = otadata::set_boot(&table, &read_at_connect, "app1", OtaState::Valid).unwrap();
        assert_eq!(otadata_of(flash), want.as_bytes());
        shot(&c, "edit-2-selects-empty-app1").await;

        // Now app1 holds a verified app: booting it needs no confirmation, and it boots.
        pick(&c, &data("firmware/idf-v5.2.2_hello_world.bin")).await;
        choose(&c, "target-slot", "app1").await;
        enabled(&c, "flash", 10).await;
        write_only(&c).await;
        find(&c, "flash").await.click().await.unwrap();
        status_contains(&c, "verified", 60).await;
        assert_eq!(
            text(&c, "boot-slot").await,
            "app1",
            "otadata already selects it"
        );
        // "Mark running invalid" after a matched switch: back to app0, as IDF's rollback means.
        let od_now = Otadata::parse(&otadata_of(flash)).unwrap();
        choose(&c, "editor-slot", "app1").await;
        choose(&c, "editor-state", "undefined").await;
        find(&c, "editor-set-boot").await.click().await.unwrap();
        wait_text(&c, "preview-boot-slot", "app1", 10).await;
        find(&c, "editor-apply").await.click().await.unwrap();
        status_contains(&c, "app1 boots next", 30).await;
        let matched = Otadata::parse(&otadata_of(flash)).unwrap();
        assert_eq!(matched.entry(0), matched.entry(1), "matched sectors");
        assert_ne!(matched, od_now);
        find(&c, "editor-mark-invalid").await.click().await.unwrap();
        wait_text(&c, "preview-boot-slot", "app0", 10).await;
        shot(&c, "edit-3-mark-invalid-preview").await;
        enabled(&c, "editor-apply", 30).await;
        find(&c, "editor-apply").await.click().await.unwrap();
        status_contains(&c, "app0 boots next", 30).await;
        let rolled = Otadata::parse(&otadata_of(flash)).unwrap();
        let loads = |_: &otaflash::formats::partition::Partition| Loads::Yes;
        assert_eq!(
            otadata::predict_boot(&table, &rolled, false, &loads)
                .booted_partition(&table)
                .unwrap()
                .name(),
            "app0"
        );
        assert_eq!(
            rolled.entry(0).state,
            OtaState::Invalid.raw(),
            "app1 marked invalid"
        );

        // Erase: the bootloader falls back to ota_0 (no factory app here).
        find(&c, "editor-erase").await.click().await.unwrap();
        wait_text(&c, "preview-boot-slot", "app0", 10).await;
        find(&c, "editor-apply").await.click().await.unwrap();
        until("erased otadata in the flash file", 30, || async {
            otadata_of(flash).iter().all(|b| *b == 0xFF).then_some(())
        })
        .await;
        wait_text(&c, "boot-slot", "app0", 30).await;

        // Undo: back to what was read at connect, byte for byte.
        find(&c, "editor-undo").await.click().await.unwrap();
        wait_text(&c, "preview-boot-slot", "app0", 10).await;
        find(&c, "editor-apply").await.click().await.unwrap();
        until("the original otadata in the flash file", 30, || async {
            (otadata_of(flash) == original[0xE000..0x10000]).then_some(())
        })
        .await;

        // Back up otadata, then the whole flash: the files are the device's bytes, named by
        // chip, MAC and date.
        open_tools(&c).await;
        enabled(&c, "backup", 30).await; // the device is idle
        choose(&c, "backup-what", "otadata").await;
        find(&c, "backup").await.click().await.unwrap();
        let (name, bytes) = downloaded_like(&c, &profile, "esp32-240ac40e514d-otadata-").await;
        assert!(bytes == original[0xE000..0x10000], "{name}");
        assert!(
            name.ends_with(".bin")
                && name.len() == "esp32-240ac40e514d-otadata-20261129-150301.bin".len(),
            "{name}"
        );
        choose(&c, "backup-what", "*flash").await;
        find(&c, "backup").await.click().await.unwrap();
        let (_, whole) = downloaded_like(&c, &profile, "esp32-240ac40e514d-flash-").await;
        assert!(whole == std::fs::read(flash).unwrap());
        shot(&c, "edit-4-backed-up").await;
        c.close().await.unwrap();
    });
}

/// A failed connect explains what to try, once, with hints for the link in use (a bridge: no
/// USB cable or BOOT-button tips), throws nothing in the page, and can be retried: first to a
/// WebSocket address nothing listens on, then, corrected, to the simulator. The image comes
/// from `?image=` (a URL on the page's own site).
#[test]
fn page_explains_a_failed_connect_and_retries() {
    let web = serve_dist();
    let board = WsBoard::start(&arduino_flash(), "none");
    let ws = &board.ws;
    let dead = free_port();
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!(
            "http://127.0.0.1:{web}/?port=ws://127.0.0.1:{dead}&image=/t/firmware/idf-v5.2.2_hello_world.bin"
        ))
        .await
        .unwrap();
        watch_errors(&c).await;
        wait_text(&c, "image-project", "hello_world", 20).await;
        find(&c, "connect").await.click().await.unwrap();
        let help = wait_text(&c, "connect-help", "bridge runs at that address", 30).await;
        assert!(
            help.contains(&format!(
                "ws://127.0.0.1:{dead}: the WebSocket closed before it connected"
            )),
            "{help}"
        );
        for wrong in ["USB cable", "driver", "BOOT"] {
            assert!(
                !help.contains(wrong),
                "{wrong} does not apply to a bridge: {help}"
            );
        }
        assert_eq!(
            help.matches("bridge runs at that address").count(),
            1,
            "once: {help}"
        );
        // The socket's late events must not reach freed handlers.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let (_, errors) = caught(&c).await;
        assert_eq!(errors, serde_json::json!([]), "no script errors");
        shot(&c, "connect-failed").await;
        // Retry with the right address.
        let url = find(&c, "ws-url").await;
        url.clear().await.unwrap();
        url.send_keys(&format!("{ws}\t")).await.unwrap();
        find(&c, "connect").await.click().await.unwrap();
        wait_text(&c, "chip", "ESP32", 30).await;
        assert!(
            c.find(Locator::Css(&css("connect-help"))).await.is_err(),
            "the hints go away once connected"
        );
        enabled(&c, "flash", 30).await; // the image from ?image= is flashable
        c.close().await.unwrap();
    });
}
