//! End to end: the built page (trunk release build in dist/, served on 127.0.0.1) in headless
//! Chromium, driven through chromedriver. Once with the in-page simulated ESP32, once over a
//! WebSocket to `otaflash sim --ws` (checking its flash file byte for byte). Screenshots of the
//! main states land in target/screenshots/.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Serves dist/ over HTTP on 127.0.0.1 (a thread per connection, bounded by the test), and
/// tests/data/ under /t/ (same-origin files for the page to fetch: images, manifests).
fn serve_dist() -> u16 {
    let dist = root().join("dist");
    let fixtures = root().join("tests/data");
    assert!(
        dist.join("otaflash-web_bg.wasm").exists(),
        "dist/ has no release build of the page: run `trunk build --release` (scripts/test.sh does)"
    );
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let (dist, fixtures) = (dist.clone(), fixtures.clone());
            std::thread::spawn(move || {
                let mut s = s;
                let mut req = vec![0u8; 8192];
                let n = s.read(&mut req).unwrap_or(0);
                let line = String::from_utf8_lossy(&req[..n])
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                let path = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .split('?')
                    .next()
                    .unwrap()
                    .to_string();
                let rel = if path == "/" {
                    "index.html".to_string()
                } else {
                    path.trim_start_matches('/').to_string()
                };
                let file = match rel.strip_prefix("t/") {
                    Some(f) => fixtures.join(f),
                    None => dist.join(&rel),
                };
                let (status, body) = match (rel.contains(".."), std::fs::read(&file)) {
                    (false, Ok(b)) => ("200 OK", b),
                    _ => ("404 Not Found", b"not found".to_vec()),
                };
                let mime = match file.extension().and_then(|e| e.to_str()) {
                    Some("html") => "text/html; charset=utf-8",
                    Some("js") => "text/javascript",
                    Some("wasm") => "application/wasm",
                    Some("css") => "text/css",
                    Some("json") => "application/json",
                    Some("webmanifest") => "application/manifest+json",
                    Some("png") => "image/png",
                    _ => "application/octet-stream",
                };
                let head = format!("HTTP/1.1 {status}\r\nContent-Type: {mime}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
            });
        }
    });
    port
}

/// A process killed when dropped.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `otaflash sim` over `flash`; returns it (stopped when dropped) and its WebSocket
/// address.
fn ws_sim(flash: &Path, timing: &str) -> (SimProcess, String) {
    let sim = SimProcess::start(flash, timing);
    let ws = sim.ws.clone();
    (sim, ws)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where the browser saves downloads (inside its fresh profile).
fn downloads(profile: &tempfile::TempDir) -> PathBuf {
    profile.path().join("downloads")
}

/// Waits for the browser to finish saving the download `name`.
async fn downloaded(profile: &tempfile::TempDir, name: &str) -> Vec<u8> {
    let path = downloads(profile).join(name);
    let path = &path;
    // Chromium writes to a .crdownload file and renames it when done.
    until(&format!("the download {name}"), 30, || async move {
        std::fs::read(path).ok()
    })
    .await
}

async fn browser() -> (Client, Proc, tempfile::TempDir) {
    let port = free_port();
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{driver}: {e} (scripts/setup.sh installs chromium-driver)"));
    let proc = Proc(child);
    let profile = tempfile::tempdir().unwrap();
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.path().display()), "--window-size=1280,1800"],
            "prefs": {
                "download.default_directory": downloads(&profile),
                "download.prompt_for_download": false
            }
        }
    });
    let caps: fantoccini::wd::Capabilities =
        caps.as_object().unwrap().clone().into_iter().collect();
    let mut last = None;
    for _ in 0..50 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => return (c, proc, profile),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("chromedriver did not start: {last:?}");
}

fn css(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// Waits (bounded) until `f` finds what it needs.
async fn until<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let t = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the button `id` is there and enabled.
async fn enabled(c: &Client, id: &str, secs: u64) {
    until(&format!("{id} to be enabled"), secs, || async {
        let b = c.find(Locator::Css(&css(id))).await.ok()?;
        b.attr("disabled").await.ok()?.is_none().then_some(())
    })
    .await
}

async fn find(c: &Client, id: &str) -> Element {
    let sel = css(id);
    until(id, 30, || async { c.find(Locator::Css(&sel)).await.ok() }).await
}

async fn text(c: &Client, id: &str) -> String {
    match c.find(Locator::Css(&css(id))).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn wait_text(c: &Client, id: &str, needle: &str, secs: u64) -> String {
    let t0 = Instant::now();
    loop {
        let t = text(c, id).await;
        if t.contains(needle) {
            return t;
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            panic!("timed out after {secs} s waiting for {id} to contain {needle:?}; it shows: {t:?}\nstatus: {:?}", text(c, "status").await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status_contains(c: &Client, needle: &str, secs: u64) -> String {
    let t0 = Instant::now();
    loop {
        let t = text(c, "status").await;
        if t.contains(needle) {
            return t;
        }
        if t.contains("failed") || t0.elapsed() > Duration::from_secs(secs) {
            panic!(
                "waiting for status containing {needle:?}, the page shows: {t}\nlog: {}",
                text(c, "log").await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn shot(c: &Client, name: &str) {
    let dir = root().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn all_attr(c: &Client, id: &str, attr: &str) -> Vec<String> {
    let mut v = vec![];
    for e in c.find_all(Locator::Css(&css(id))).await.unwrap() {
        v.push(e.attr(attr).await.unwrap().unwrap_or_default());
    }
    v
}

async fn pick(c: &Client, path: &Path) {
    let input = find(c, "image-file").await;
    input.send_keys(path.to_str().unwrap()).await.unwrap();
}

/// Connect, read the layout, flash hello_world into app1, verify, boot it next.
async fn flash_second_slot(c: &Client, tag: &str) {
    find(c, "connect").await.click().await.unwrap();
    let chip = wait_text(c, "chip", "ESP32", 30).await;
    assert!(chip.contains("ESP32-D0WD-V3 (revision v3.1)"), "{chip}");
    assert_eq!(text(c, "flash-size").await, "4 MB");
    let rows = until("6 partition rows", 30, || async {
        let v = all_attr(c, "partition-row", "data-label").await;
        (v.len() == 6).then_some(v)
    })
    .await;
    assert_eq!(rows[2..4], ["app0".to_string(), "app1".to_string()]);
    assert_eq!(all_attr(c, "otadata-sector", "data-seq").await, ["1", "0"]);
    assert_eq!(text(c, "boot-slot").await, "app0");
    shot(c, &format!("{tag}-1-connected")).await;

    // Cancel a write: nothing is verified, otadata is untouched.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big-app.bin");
    std::fs::write(
        &big,
        otaflash::sim::demo::esp32_image(Some(("big_app", "1.0")), 600_000),
    )
    .unwrap();
    pick(c, &big).await;
    enabled(c, "flash", 10).await;
    find(c, "flash").await.click().await.unwrap();
    // As soon as the job runs (the loader looks at the flag between write blocks; the
    // loader tests cancel part-way through a write).
    let cancel = until("the cancel button", 30, || async {
        c.find(Locator::Css(&css("cancel"))).await.ok()
    })
    .await;
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
    // Record every value the progress bar shows (the UI must keep rendering while it writes).
    c.execute(
        "window.__progress = []; new MutationObserver(() => { \
           const p = document.querySelector('[data-testid=progress]'); \
           if (p) window.__progress.push([p.getAttribute('value'), p.getAttribute('max')]); \
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
    find(c, "flash").await.click().await.unwrap();
    // Catch the progress bar while it runs (the simulated link keeps real time).
    if let Ok(p) = c.find(Locator::Css(&css("progress"))).await {
        let _ = p.attr("max").await;
        shot(c, &format!("{tag}-3-flashing")).await;
    }
    let st = status_contains(c, "verified", 90).await;
    assert!(st.contains("app1"), "{st}");
    let seen = c.execute("return window.__progress", vec![]).await.unwrap();
    let len = std::fs::metadata(data("firmware/idf-v5.2.2_hello_world.bin"))
        .unwrap()
        .len()
        .to_string();
    let writing: Vec<u64> = seen
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v[1].as_str() == Some(len.as_str()))
        .filter_map(|v| v[0].as_str()?.parse().ok())
        .collect();
    let total: u64 = len.parse().unwrap();
    assert!(
        writing.iter().filter(|v| **v > 0 && **v < total).count() >= 2
            && writing.last() == Some(&total),
        "the progress bar moves while writing: {seen}"
    );
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
    shot(c, &format!("{tag}-5-boots-app1")).await;
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
        "not an app image",
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
    check(corrupt_path, "corrupt image").await;
    shot(c, "refused-image").await;
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn page_with_the_in_page_simulator() {
    let web = serve_dist();
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port=sim"))
            .await
            .unwrap();
        let kind = find(&c, "port-kind").await;
        assert_eq!(kind.prop("value").await.unwrap().as_deref(), Some("sim"));
        // Everything below runs under the page's strict CSP: record any violation.
        c.execute(
            "window.__csp = []; document.addEventListener('securitypolicyviolation', \
               e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
            vec![],
        )
        .await
        .unwrap();
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
        let dir = tempfile::tempdir().unwrap();
        bad_images(&c, dir.path()).await;
        // The simulated chip's bootloader, reset, now loads app1.
        find(&c, "watch").await.click().await.unwrap();
        let log = wait_text(
            &c,
            "log",
            "Loaded app from partition at offset 0x150000",
            30,
        )
        .await;
        assert!(log.contains("hello_world"), "{log}");
        shot(&c, "sim-6-console").await;
        let csp = c.execute("return window.__csp", vec![]).await.unwrap();
        assert_eq!(csp, serde_json::json!([]), "CSP violations");
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
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    std::fs::write(&flash, arduino_flash()).unwrap();
    let (_sim, ws) = ws_sim(&flash, "real");
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!("http://127.0.0.1:{web}/?port=ws://{ws}"))
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
            Some(format!("ws://{ws}"))
        );
        flash_second_slot(&c, "ws").await;
        // The sim's flash file, byte for byte: the image in app1, matched otadata sectors.
        let f = std::fs::read(&flash).unwrap();
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
        bad_images(&c, dir.path()).await;
        assert!(
            std::fs::read(&flash).unwrap() == f,
            "refused images wrote nothing"
        );
        c.close().await.unwrap();
    });
}

#[test]
fn page_shows_a_corrupt_table_and_bad_crc_otadata() {
    let web = serve_dist();
    let dir = tempfile::tempdir().unwrap();
    // A device whose otadata sector 0 has a bad CRC (garbage, not erased).
    let mut bad_od = arduino_flash();
    bad_od[0xE000 + 28] ^= 0xFF;
    // And one whose partition table (with an MD5 row) no longer matches its MD5.
    let mut bad_table = arduino_flash();
    let t = read("partition_tables/arduino_default.bin");
    bad_table[0x8000..0x8000 + t.len()].copy_from_slice(&t);
    bad_table[0x8000 + 0x4C] ^= 0x01; // app0's size
    for (tag, image) in [("bad-crc", bad_od), ("bad-table", bad_table)] {
        let flash = dir.path().join(format!("{tag}.bin"));
        std::fs::write(&flash, &image).unwrap();
        let (_sim, ws) = ws_sim(&flash, "none");
        run(async {
            let (c, _driver, _profile) = browser().await;
            c.goto(&format!("http://127.0.0.1:{web}/?port=ws://{ws}"))
                .await
                .unwrap();
            find(&c, "connect").await.click().await.unwrap();
            wait_text(&c, "chip", "ESP32", 30).await;
            if tag == "bad-crc" {
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
                // The bootloader skips it: sector 1 (seq 0) is active, (0-1) % 2 = 1 → app1.
                assert_eq!(wait_text(&c, "boot-slot", "app", 10).await, "app1");
            } else {
                until("the partition rows", 30, || async {
                    (!all_attr(&c, "partition-row", "data-label").await.is_empty()).then_some(())
                })
                .await;
                let layout = c
                    .find(Locator::Css(".layout"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                let warn = until(&format!("the MD5 warning in {layout:?}"), 10, || async {
                    let t = c
                        .find(Locator::Css("[data-testid=warnings]"))
                        .await
                        .ok()?
                        .text()
                        .await
                        .ok()?;
                    t.contains("MD5").then_some(t)
                })
                .await;
                assert!(warn.contains("rejects this table"), "{warn}");
                // Nothing can be flashed against a table the bootloader rejects.
                pick(&c, &data("firmware/idf-v5.2.2_hello_world.bin")).await;
                let why = wait_text(&c, "image-problems", "partition table", 10).await;
                assert!(why.contains("MD5"), "{why}");
                assert_eq!(
                    find(&c, "flash")
                        .await
                        .attr("disabled")
                        .await
                        .unwrap()
                        .as_deref(),
                    Some("true")
                );
            }
            shot(&c, &format!("device-{tag}")).await;
            c.close().await.unwrap();
        });
        assert!(
            std::fs::read(&flash).unwrap() == image,
            "{tag}: nothing written"
        );
    }
}

/// Picks `value` in the select `id` (as a user would: the page sees a change event).
async fn choose(c: &Client, id: &str, value: &str) {
    find(c, id).await.select_by_value(value).await.unwrap();
}

/// The otadata partition of the sim's flash file.
fn otadata_of(flash: &Path) -> Vec<u8> {
    std::fs::read(flash).unwrap()[0xE000..0x10000].to_vec()
}

/// Edit otadata by hand on the device (set boot slot and state, erase, undo), each change
/// previewed then written and checked in the sim's flash file; back up otadata and the whole
/// flash; an ESP Web Tools manifest from the URL resolves to the build for the connected chip.
#[test]
fn page_edits_otadata_backs_up_and_takes_a_manifest() {
    use otaflash::formats::otadata::{self, OtaState, Otadata};
    use otaflash::formats::partition::PartitionTable;
    let web = serve_dist();
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    let original = arduino_flash();
    std::fs::write(&flash, &original).unwrap();
    let table = PartitionTable::from_flash(&original, 0x8000).unwrap();
    let read_at_connect = Otadata::parse(&original[0xE000..0x10000]).unwrap();
    let (_sim, ws) = ws_sim(&flash, "none");
    run(async {
        let (c, _driver, profile) = browser().await;
        c.goto(&format!(
            "http://127.0.0.1:{web}/?port=ws://{ws}&manifest=/t/manifest.json"
        ))
        .await
        .unwrap();
        // Before the chip is known the manifest's first build (ESP32-S2) is shown...
        wait_text(&c, "image-chip", "ESP32-S2", 20).await;
        find(&c, "connect").await.click().await.unwrap();
        wait_text(&c, "chip", "ESP32", 30).await;
        // ...and once it is, the ESP32 build's app part (StartCounter), flashable.
        until("the ESP32 build", 20, || async {
            (text(&c, "image-chip").await == "ESP32").then_some(())
        })
        .await;
        enabled(&c, "flash", 20).await;
        wait_text(&c, "boot-slot", "app0", 30).await;

        // Set app1 to boot next, state valid.
        find(&c, "otadata-edit").await.click().await.unwrap();
        choose(&c, "editor-slot", "app1").await;
        choose(&c, "editor-state", "valid").await;
        find(&c, "editor-set-boot").await.click().await.unwrap();
        wait_text(&c, "preview-boot-slot", "app1", 10).await;
        assert_eq!(
            std::fs::read(&flash).unwrap(),
            original,
            "a preview writes nothing"
        );
        shot(&c, "edit-1-preview").await;
        find(&c, "editor-apply").await.click().await.unwrap();
        wait_text(&c, "boot-slot", "app1", 30).await;
        let want = otadata::set_boot(&table, &read_at_connect, "app1", OtaState::Valid).unwrap();
        assert_eq!(otadata_of(&flash), want.as_bytes());
        assert_eq!(
            all_attr(&c, "otadata-sector", "data-state").await,
            ["valid", "valid"]
        );
        shot(&c, "edit-2-app1-valid").await;

        // Erase: the bootloader falls back to ota_0 (no factory app here).
        find(&c, "editor-erase").await.click().await.unwrap();
        wait_text(&c, "preview-boot-slot", "app0", 10).await;
        find(&c, "editor-apply").await.click().await.unwrap();
        until("erased otadata in the flash file", 30, || async {
            otadata_of(&flash).iter().all(|b| *b == 0xFF).then_some(())
        })
        .await;
        wait_text(&c, "boot-slot", "app0", 30).await;

        // Undo: back to what was read at connect, byte for byte.
        find(&c, "editor-undo").await.click().await.unwrap();
        wait_text(&c, "preview-boot-slot", "app0", 10).await;
        find(&c, "editor-apply").await.click().await.unwrap();
        until("the original otadata in the flash file", 30, || async {
            (otadata_of(&flash) == original[0xE000..0x10000]).then_some(())
        })
        .await;
        assert!(
            std::fs::read(&flash).unwrap() == original,
            "after undo the flash is as it was"
        );

        // Back up otadata, then the whole flash: the files are the device's bytes.
        enabled(&c, "backup", 30).await; // the device is idle
        choose(&c, "backup-what", "otadata").await;
        find(&c, "backup").await.click().await.unwrap();
        assert!(downloaded(&profile, "otadata.bin").await == original[0xE000..0x10000]);
        choose(&c, "backup-what", "*flash").await;
        find(&c, "backup").await.click().await.unwrap();
        assert!(downloaded(&profile, "flash.bin").await == original);
        shot(&c, "edit-3-backed-up").await;
        c.close().await.unwrap();
    });
}

/// A failed connect explains what to try (BOOT button, cable, driver, busy port) and can be
/// retried: first to a WebSocket address nothing listens on, then, corrected, to the simulator.
/// The image comes from `?image=` (a URL on the page's own site).
#[test]
fn page_explains_a_failed_connect_and_retries() {
    let web = serve_dist();
    let dir = tempfile::tempdir().unwrap();
    let flash = dir.path().join("flash.bin");
    std::fs::write(&flash, arduino_flash()).unwrap();
    let (_sim, ws) = ws_sim(&flash, "none");
    let dead = free_port();
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!(
            "http://127.0.0.1:{web}/?port=ws://127.0.0.1:{dead}&image=/t/firmware/idf-v5.2.2_hello_world.bin"
        ))
        .await
        .unwrap();
        wait_text(&c, "image-project", "hello_world", 20).await;
        find(&c, "connect").await.click().await.unwrap();
        let help = wait_text(&c, "connect-help", "BOOT", 30).await;
        for hint in ["USB cable", "driver", "browser tabs"] {
            assert!(help.contains(hint), "{hint} in {help}");
        }
        assert!(
            help.contains(&format!("ws://127.0.0.1:{dead}: the WebSocket closed")),
            "{help}"
        );
        shot(&c, "connect-failed").await;
        // Retry with the right address.
        let url = find(&c, "ws-url").await;
        url.clear().await.unwrap();
        url.send_keys(&format!("ws://{ws}\t")).await.unwrap();
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
