//! Browser helpers for the end-to-end tests: serve the built page (dist/) on 127.0.0.1, start
//! headless Chromium through chromedriver, find and wait for elements by test id, screenshots
//! (target/screenshots/), downloads, and watchers for CSP violations and script errors.
#![allow(dead_code)]

use super::common::*;
use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Serves dist/ over HTTP on 127.0.0.1 (a thread per connection, bounded by the test), and
/// tests/data/ under /t/ (same-origin files for the page to fetch: images, manifests).
pub fn serve_dist() -> u16 {
    serve_dist_with(None)
}

/// The same, with `fw` (files a test made: manifests, apps) under /fw/.
pub fn serve_dist_with(fw: Option<PathBuf>) -> u16 {
    let dist = root().join("dist");
    let fixtures = root().join("tests/data");
    assert!(
        dist.join("otaflash-web_bg.wasm").exists(),
        "dist/ has no release build of the page: run `trunk build --release` (scripts/test.sh does)"
    );
    serve(None, move |path| {
        let rel = if path == "/" {
            "index.html"
        } else {
            path.trim_start_matches('/')
        };
        Some(
            match (rel.strip_prefix("t/"), rel.strip_prefix("fw/"), &fw) {
                (Some(f), _, _) => fixtures.join(f),
                (_, Some(f), Some(dir)) => dir.join(f),
                _ => dist.join(rel),
            },
        )
    })
}

/// `scripts/build-site.sh OUT --base BASE` into a fresh folder, from the release page built
/// already (scripts/test.sh builds it first).
pub fn build_site(base: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let built = Command::new("bash")
        .arg(root().join("scripts/build-site.sh"))
        .arg(out.path())
        .args(["--base", base])
        .env("OTAFLASH_SITE_NO_BUILD", "1")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    out
}

/// A static server on 127.0.0.1 (a thread per connection): `file` says which file answers a
/// path (None: 404). While `online` is false every connection is closed at once (the network
/// is gone).
pub fn serve(
    online: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    file: impl Fn(&str) -> Option<PathBuf> + Send + Sync + 'static,
) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let file = std::sync::Arc::new(file);
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let (file, online) = (file.clone(), online.clone());
            std::thread::spawn(move || {
                let mut s = s;
                if online.is_some_and(|o| !o.load(std::sync::atomic::Ordering::SeqCst)) {
                    return;
                }
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
                let found = file(&path)
                    .filter(|_| !path.contains(".."))
                    .and_then(|f| std::fs::read(&f).ok().map(|b| (f, b)));
                let (status, mime, body) = match found {
                    Some((f, b)) => ("200 OK", mime_of(&f), b),
                    None => ("404 Not Found", "text/plain", b"not found".to_vec()),
                };
                let head = format!("HTTP/1.1 {status}\r\nContent-Type: {mime}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
            });
        }
    });
    port
}

fn mime_of(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// A process killed when dropped, with every process it started (chromedriver runs in a
/// process group of its own, and Chromium's processes with it): a test that fails half-way
/// leaves no browser behind.
pub struct Proc(pub Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `otaflash sim` over `flash`; returns it (stopped when dropped) and its WebSocket
/// address.
/// `otaflash sim --ws` over a flash file holding `image`, in its own temporary directory
/// (all stopped and removed when dropped). `timing`: `real` or `none`.
pub struct WsBoard {
    pub flash: PathBuf,
    /// The page's URL for it, `rfc2217+ws://127.0.0.1:PORT` (resets over RFC 2217).
    pub ws: String,
    _sim: SimProcess,
    _dir: tempfile::TempDir,
}

impl WsBoard {
    pub fn start(image: &[u8], timing: &str) -> WsBoard {
        Self::start_chip(image, timing, "esp32")
    }

    /// The same with another simulated chip (`esp32c3`, …).
    pub fn start_chip(image: &[u8], timing: &str, chip: &str) -> WsBoard {
        Self::start_with(image, timing, chip, &[])
    }

    /// With more `otaflash sim` options (`--mac`, fault injection).
    pub fn start_with(image: &[u8], timing: &str, chip: &str, extra: &[&str]) -> WsBoard {
        let dir = tempfile::tempdir().unwrap();
        let flash = dir.path().join("flash.bin");
        std::fs::write(&flash, image).unwrap();
        let sim = SimProcess::start_with(&flash, timing, chip, extra);
        WsBoard {
            flash,
            ws: sim.ws.clone(),
            _sim: sim,
            _dir: dir,
        }
    }
}

impl WsBoard {
    /// The bridge drops (the `otaflash sim` process ends).
    pub fn drop_bridge(&mut self) {
        self._sim.kill();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where the browser saves downloads (inside its fresh profile).
pub fn downloads(profile: &tempfile::TempDir) -> PathBuf {
    profile.path().join("downloads")
}

/// How many bytes the downloads folder holds (finished and partial files).
fn download_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Waits for the browser to finish saving the download `name`: as long as the downloads keep
/// growing (or the page keeps working), and up to 30 s after they stop.
pub async fn downloaded(profile: &tempfile::TempDir, name: &str) -> Vec<u8> {
    let dir = downloads(profile);
    let path = dir.join(name);
    // Chromium writes to a .crdownload file and renames it when done.
    let mut last = (u64::MAX, Instant::now());
    let t0 = Instant::now();
    loop {
        if let Ok(b) = std::fs::read(&path) {
            return b;
        }
        let now = download_bytes(&dir);
        if now != last.0 {
            last = (now, Instant::now());
        }
        assert!(
            last.1.elapsed() < STALL && t0.elapsed() < STALL * 10,
            "the download {name} stalled at {now} bytes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long a wait for the page goes on after the page stopped showing any progress.
const STALL: Duration = Duration::from_secs(30);

/// What shows that the page is working: the status line, the progress bar's value and how much
/// the log holds. Waits go on while it changes.
async fn work(c: &Client) -> String {
    c.execute(
        "const q = (s) => document.querySelector(s); \
         const st = q('[data-testid=status]'), p = q('progress'), log = q('[data-testid=log]'); \
         return [st ? st.innerText : '', p ? p.getAttribute('value') : '', log ? log.innerText.length : 0].join('|')",
        vec![],
    )
    .await
    .ok()
    .and_then(|v| v.as_str().map(str::to_string))
    .unwrap_or_default()
}

/// Tracks the page's work: `stalled(secs)` once nothing changed for `secs` (or after ten times
/// that in all).
struct Progressing {
    seen: String,
    since: Instant,
    start: Instant,
}

impl Progressing {
    fn new() -> Progressing {
        let now = Instant::now();
        Progressing {
            seen: String::new(),
            since: now,
            start: now,
        }
    }

    async fn stalled(&mut self, c: &Client, secs: u64) -> bool {
        let now = work(c).await;
        if now != self.seen {
            self.seen = now;
            self.since = Instant::now();
        }
        let limit = Duration::from_secs(secs);
        self.since.elapsed() > limit || self.start.elapsed() > limit * 10
    }
}

pub async fn browser() -> (Client, Proc, tempfile::TempDir) {
    browser_sized(1280, 1800).await
}

/// A fresh headless Chromium with a window of this size.
pub async fn browser_sized(width: u32, height: u32) -> (Client, Proc, tempfile::TempDir) {
    browser_with(width, height, &[]).await
}

/// The same with more Chromium switches (`--disable-blink-features=Serial`, …).
pub async fn browser_with(
    width: u32,
    height: u32,
    switches: &[&str],
) -> (Client, Proc, tempfile::TempDir) {
    let port = free_port();
    let driver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    let child = Command::new(&driver)
        .process_group(0)
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
                     format!("--user-data-dir={}", profile.path().display()), format!("--window-size={width},{height}")],
            "prefs": {
                "download.default_directory": downloads(&profile),
                "download.prompt_for_download": false,
                // A page that saves several files in a row (a backup, then an export).
                "profile.default_content_setting_values.automatic_downloads": 1
            }
        }
    });
    let mut caps = caps;
    for sw in switches {
        caps["goog:chromeOptions"]["args"]
            .as_array_mut()
            .unwrap()
            .push((*sw).into());
    }
    if width < 500 {
        // Chromium's windows are at least 500 px wide: a phone-sized viewport is emulated.
        caps["goog:chromeOptions"]["mobileEmulation"] = serde_json::json!({
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0}
        });
    }
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

pub fn css(id: &str) -> String {
    format!("[data-testid=\"{id}\"]")
}

/// Waits (bounded) until `f` finds what it needs.
pub async fn until<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
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
pub async fn enabled(c: &Client, id: &str, secs: u64) {
    until(&format!("{id} to be enabled"), secs, || async {
        let b = c.find(Locator::Css(&css(id))).await.ok()?;
        b.attr("disabled").await.ok()?.is_none().then_some(())
    })
    .await
}

pub async fn find(c: &Client, id: &str) -> Element {
    let sel = css(id);
    until(id, 30, || async { c.find(Locator::Css(&sel)).await.ok() }).await
}

/// The rendered text of the first element with test id `id` ("" when there is none), read in
/// one script.
pub async fn text(c: &Client, id: &str) -> String {
    c.execute(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : ''",
        vec![serde_json::json!(css(id))],
    )
    .await
    .ok()
    .and_then(|v| v.as_str().map(str::to_string))
    .unwrap_or_default()
}

/// Waits until `id` shows `needle`: while the page works, and up to `secs` after it stopped.
pub async fn wait_text(c: &Client, id: &str, needle: &str, secs: u64) -> String {
    let mut work = Progressing::new();
    loop {
        let t = text(c, id).await;
        if t.contains(needle) {
            return t;
        }
        if work.stalled(c, secs).await {
            panic!("timed out after {secs} s without progress waiting for {id} to contain {needle:?}; it shows: {t:?}\nstatus: {:?}", text(c, "status").await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the status line says `needle` (an error ends the wait): while the page works, and
/// up to `secs` after it stopped.
pub async fn status_contains(c: &Client, needle: &str, secs: u64) -> String {
    let mut work = Progressing::new();
    loop {
        // The words and the tone read together: the status may change between two reads
        // (a busy machine), and an error that is the awaited words must not end the wait.
        let (t, tone) = status_now(c).await;
        if t.contains(needle) {
            return t;
        }
        if tone == "error" || work.stalled(c, secs).await {
            panic!(
                "waiting for status containing {needle:?}, the page shows: {t}\nlog: {}",
                text(c, "log").await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The status line's words and tone, read at once.
async fn status_now(c: &Client) -> (String, String) {
    let v = c
        .execute(
            "const s = document.querySelector('[data-testid=status]'); \
             return s ? [s.innerText, s.getAttribute('data-tone') || ''] : ['', ''];",
            vec![],
        )
        .await
        .unwrap_or_default();
    let at = |i: usize| v[i].as_str().unwrap_or_default().to_string();
    (at(0), at(1))
}

pub async fn shot(c: &Client, name: &str) {
    let dir = root().join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// A screenshot with the element of test id `id` scrolled to the middle of the window; only the
/// page's scrolling area moves (the window itself never scrolls, or the footer would leave the
/// bottom edge).
pub async fn shot_at(c: &Client, name: &str, id: &str) {
    let window_scroll = c
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'}); \
             return document.scrollingElement.scrollTop",
            vec![serde_json::json!(css(id))],
        )
        .await
        .unwrap();
    assert_eq!(
        window_scroll,
        serde_json::json!(0),
        "the window itself scrolled"
    );
    shot(c, name).await;
}

/// The attribute `attr` of every element with test id `id`, read at one moment (in one
/// script: a re-render between reads cannot leave a stale element behind).
pub async fn all_attr(c: &Client, id: &str, attr: &str) -> Vec<String> {
    let v = c
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]) || '')",
            vec![serde_json::json!(css(id)), serde_json::json!(attr)],
        )
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap_or_default().to_string())
        .collect()
}

pub async fn pick(c: &Client, path: &Path) {
    let input = find(c, "image-file").await;
    input.send_keys(path.to_str().unwrap()).await.unwrap();
}

pub fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Picks `value` in the select `id` (as a user would: the page sees a change event).
pub async fn choose(c: &Client, id: &str, value: &str) {
    find(c, id).await.select_by_value(value).await.unwrap();
}

/// The otadata partition of the sim's flash file.
pub fn otadata_of(flash: &Path) -> Vec<u8> {
    std::fs::read(flash).unwrap()[0xE000..0x10000].to_vec()
}

/// Records CSP violations, uncaught errors, unhandled rejections and console errors from now
/// on (in window.__csp and window.__errors).
pub async fn watch_errors(c: &Client) {
    c.execute(
        "window.__csp = []; window.__errors = []; \
         document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI)); \
         window.addEventListener('error', e => window.__errors.push('error: ' + e.message)); \
         window.addEventListener('unhandledrejection', e => window.__errors.push('rejection: ' + e.reason)); \
         const ce = console.error.bind(console); \
         console.error = (...a) => { window.__errors.push('console: ' + a.join(' ')); ce(...a); };",
        vec![],
    )
    .await
    .unwrap();
}

/// What [`watch_errors`] caught: (CSP violations, errors).
pub async fn caught(c: &Client) -> (serde_json::Value, serde_json::Value) {
    (
        c.execute("return window.__csp", vec![]).await.unwrap(),
        c.execute("return window.__errors", vec![]).await.unwrap(),
    )
}

/// The test id (or tag) of the element that has the keyboard focus.
pub async fn focused(c: &Client) -> String {
    c.execute(
        "const a = document.activeElement; return a === document.body || !a ? 'BODY' : (a.dataset.testid || a.tagName)",
        vec![],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Waits for a download whose name starts with `prefix`; returns its name and bytes.
pub async fn downloaded_like(
    c: &Client,
    profile: &tempfile::TempDir,
    prefix: &str,
) -> (String, Vec<u8>) {
    downloaded_where(c, profile, &format!("a download named {prefix}…"), |n| {
        n.starts_with(prefix)
    })
    .await
}

/// The finished download whose name `wanted` accepts. Waits while the page works (a
/// whole-flash read comes before the file) or the downloads grow, up to 30 s after both
/// stopped.
pub async fn downloaded_where(
    c: &Client,
    profile: &tempfile::TempDir,
    what: &str,
    wanted: impl Fn(&str) -> bool,
) -> (String, Vec<u8>) {
    let dir = downloads(profile);
    let mut page = Progressing::new();
    let mut bytes = (u64::MAX, Instant::now());
    loop {
        if let Some(found) = saved_where(&dir, &wanted) {
            return found;
        }
        let now = download_bytes(&dir);
        if now != bytes.0 {
            bytes = (now, Instant::now());
        }
        let page_stalled = page.stalled(c, STALL.as_secs()).await;
        assert!(
            !(page_stalled && bytes.1.elapsed() > STALL),
            "timed out waiting for {what} ({now} bytes in the folder)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The finished download whose name `wanted` accepts (Chromium writes into a .crdownload file
/// and renames it when done: none may be left).
fn saved_where(dir: &Path, wanted: &impl Fn(&str) -> bool) -> Option<(String, Vec<u8>)> {
    let entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().collect();
    if entries
        .iter()
        .any(|e| e.file_name().to_string_lossy().ends_with(".crdownload"))
    {
        return None;
    }
    let e = entries
        .into_iter()
        .find(|e| wanted(&e.file_name().to_string_lossy()))?;
    let n = e.file_name().to_string_lossy().to_string();
    Some((n, std::fs::read(e.path()).ok()?))
}

/// No CSP violation and no script error happened since `watch_errors`.
pub async fn assert_clean(c: &Client) {
    let (csp, errors) = caught(c).await;
    assert_eq!(
        (csp, errors),
        (serde_json::json!([]), serde_json::json!([]))
    );
}

/// How far the page (or its scrolling area) scrolls sideways, in px (0 when it fits).
pub async fn sideways(c: &Client) -> i64 {
    c.execute(
        "const s = document.querySelector('[data-testid=scroller]'); \
         const d = document.documentElement; \
         return Math.max(d.scrollWidth - d.clientWidth, s.scrollWidth - s.clientWidth)",
        vec![],
    )
    .await
    .unwrap()
    .as_i64()
    .unwrap()
}

/// Scrolls the element `id` into view (for a screenshot of it).
pub async fn scroll_to(c: &Client, id: &str) {
    c.execute(
        "document.querySelector(arguments[0]).scrollIntoView()",
        vec![serde_json::json!(css(id))],
    )
    .await
    .unwrap();
}

/// Whether the element `id` holds the attribute value.
pub async fn attr(c: &Client, id: &str, name: &str) -> Option<String> {
    find(c, id).await.attr(name).await.ok().flatten()
}

/// Makes the flash panel's Flash write only (what boots keeps booting) for this page.
pub async fn write_only(c: &Client) {
    let b = find(c, "flash-write-only").await;
    if b.prop("checked").await.unwrap().as_deref() != Some("true") {
        b.click().await.unwrap();
    }
}

/// Opens the tools module (Install or recover, back up, erase) once; waits until it is there.
pub async fn open_tools(c: &Client) {
    if let Ok(b) = c.find(Locator::Css(&css("install-open"))).await {
        b.click().await.unwrap();
    }
    find(c, "install-panel").await;
}
