//! End to end: a vendor's install page written the way ESP Web Tools' README shows one
//! (tests/data/button/: script tag, `<esp-web-install-button manifest=…>`, its CSS variables),
//! with only the script tag changed to otaflash's button, served by a plain static server at
//! /vendor/ while the otaflash site (scripts/build-site.sh) is under /tools/otaflash/. In
//! headless Chromium against the simulated chip — in the page, and over RFC 2217 — the button
//! shows with `install-supported`, wears the page's colours, a click opens otaflash's update,
//! the `state-changed` events come in ESP Web Tools' order ending in "finished" (a 1 MB app, at
//! real timing), and Wi-Fi is set up over Improv on the app (a wrong password said as such).
//! Without Web Serial the `unsupported` slot shows; on an insecure page, `not-allowed`.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::*;
use fantoccini::Client;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What the app is called in the manifest and in its own description.
const NAME: &str = "Garden Sensor";
const VERSION: &str = "1.2.0";

/// The otaflash site under /tools/otaflash/ and the vendor's page (the fixture, its manifest
/// and firmware: the Arduino build's bootloader, table and boot_app0 with a 1 MB app) under
/// /vendor/. Returns the server's port and the folders (kept while the test runs).
fn sites(improv: bool) -> (u16, tempfile::TempDir, tempfile::TempDir) {
    let site = build_site("/tools/otaflash/");
    let vendor = tempfile::tempdir().unwrap();
    for f in ["index.html", "vendor.css"] {
        std::fs::copy(
            root().join("tests/data/button").join(f),
            vendor.path().join(f),
        )
        .unwrap();
    }
    let fw = vendor.path().join("firmware");
    std::fs::create_dir(&fw).unwrap();
    let data = root().join("tests/data/firmware");
    for (from, to) in [
        ("arduino_bootloader_dio_40m.bin", "bootloader.bin"),
        ("arduino_boot_app0.bin", "boot_app0.bin"),
    ] {
        std::fs::copy(data.join(from), fw.join(to)).unwrap();
    }
    // The table the simulated boards hold (the Arduino default with a coredump partition), so
    // that the update is a slot update.
    let board = otaflash::sim::demo::arduino_like_flash(otaflash::chips::ESP32);
    std::fs::write(fw.join("partitions.bin"), &board[0x8000..0x8C00]).unwrap();
    let app = otaflash::sim::demo::app_image(
        otaflash::chips::ESP32,
        Some(("garden-sensor", VERSION)),
        1 << 20,
    );
    std::fs::write(fw.join("garden-sensor.bin"), app).unwrap();
    let manifest = json!({
        "name": NAME, "version": VERSION, "new_install_prompt_erase": true,
        "builds": [{
            "chipFamily": "ESP32", "improv": improv,
            "parts": [
                {"path": "bootloader.bin", "offset": 4096},
                {"path": "partitions.bin", "offset": 32768},
                {"path": "boot_app0.bin", "offset": 57344},
                {"path": "garden-sensor.bin", "offset": 65536}
            ]
        }]
    });
    std::fs::write(fw.join("manifest.json"), manifest.to_string()).unwrap();
    let (s, v) = (site.path().to_path_buf(), vendor.path().to_path_buf());
    let port = serve(None, move |path| file_at(&s, &v, path));
    (port, site, vendor)
}

fn file_at(site: &Path, vendor: &Path, path: &str) -> Option<PathBuf> {
    if let Some(rel) = path.strip_prefix("/tools/otaflash/") {
        return Some(site.join(if rel.is_empty() { "index.html" } else { rel }));
    }
    // The example page of examples/install-button, beside the site as its README puts it.
    if let Some(rel) = path.strip_prefix("/tools/start-counter/") {
        let dir = root().join("examples/install-button");
        return Some(dir.join(if rel.is_empty() { "index.html" } else { rel }));
    }
    let rel = path.strip_prefix("/vendor/")?;
    Some(vendor.join(if rel.is_empty() { "index.html" } else { rel }))
}

/// Runs `body` in the page with `q(id)` finding a test id inside the button's dialog.
async fn in_button(c: &Client, body: &str, args: Vec<Value>) -> Value {
    let script = format!(
        "const host = document.querySelector('esp-web-install-button');
         const q = (id) => host && host.shadowRoot && host.shadowRoot.querySelector('[data-testid=\"' + id + '\"]');
         {body}"
    );
    c.execute(&script, args).await.unwrap()
}

async fn dialog_text(c: &Client, id: &str) -> Option<String> {
    in_button(
        c,
        "const e = q(arguments[0]); return e ? e.textContent : null;",
        vec![id.into()],
    )
    .await
    .as_str()
    .map(str::to_string)
}

/// Waits until the dialog's `id` says `needle`.
async fn dialog_says(c: &Client, id: &str, needle: &str, secs: u64) -> String {
    until(
        &format!("the dialog's {id} to say {needle:?}"),
        secs,
        || async { dialog_text(c, id).await.filter(|t| t.contains(needle)) },
    )
    .await
}

async fn dialog_click(c: &Client, id: &str) {
    until(&format!("the dialog's {id} to be enabled"), 30, || async {
        let done = in_button(
            c,
            "const e = q(arguments[0]); if (!e || e.disabled) return false; e.click(); return true;",
            vec![id.into()],
        )
        .await;
        (done == json!(true)).then_some(())
    })
    .await
}

/// Sets a form field in the dialog as typing would.
async fn dialog_set(c: &Client, id: &str, value: &str) {
    in_button(
        c,
        "const e = q(arguments[0]); e.value = arguments[1];
         e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true}));",
        vec![id.into(), value.into()],
    )
    .await;
}

/// The state-changed events so far: `[state, message, details]`, with their times.
async fn events(c: &Client) -> Vec<Value> {
    c.execute("return window.seen || [];", vec![])
        .await
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The states in order, each run of one state said once.
fn states(ev: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for e in ev {
        let s = e["state"].as_str().unwrap().to_string();
        if out.last() != Some(&s) {
            out.push(s);
        }
    }
    out
}

/// Opens the vendor's page (`query`: how otaflash finds the board), checks the button as the
/// page styled it, clicks it and runs the update to "finished". Returns the seconds from the
/// click to "finished".
async fn update_from_the_button(
    c: &Client,
    port: u16,
    query: &str,
    before_click: Option<&str>,
    shots: &str,
) -> f64 {
    c.goto(&format!("http://127.0.0.1:{port}/vendor/{query}"))
        .await
        .unwrap();
    watch_errors(c).await;
    let host = until("the button to be defined", 30, || async {
        let e = c
            .find(fantoccini::Locator::Css(
                "esp-web-install-button[install-supported]",
            ))
            .await
            .ok()?;
        Some(e)
    })
    .await;
    // The page's CSS variables reach the default button.
    let look = in_button(
        c,
        "const b = host.shadowRoot.querySelector('button');
         const s = getComputedStyle(b);
         return [b.textContent, s.backgroundColor, s.color, s.borderTopLeftRadius];",
        vec![],
    )
    .await;
    assert_eq!(
        look,
        json!(["Connect", "rgb(46, 125, 50)", "rgb(255, 253, 231)", "6px"]),
        "the button wears the page's colours"
    );
    c.execute(
        "window.seen = [];
         document.querySelector('esp-web-install-button').addEventListener('state-changed', (e) => {
           window.seen.push({state: e.detail.state, message: e.detail.message, details: e.detail.details,
                             chipFamily: e.detail.chipFamily, build: !!e.detail.build,
                             manifest: e.detail.manifest && e.detail.manifest.name, at: performance.now()});
         });",
        vec![],
    )
    .await
    .unwrap();
    // Before a click the page has fetched the button's script and nothing else of otaflash
    // (what scripts/page-weight.sh weighs).
    let fetched = c
        .execute(
            "return performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)
               .filter((p) => p.startsWith('/tools/otaflash/'));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fetched, json!(["/tools/otaflash/install-button.js"]));
    if let Some(script) = before_click {
        c.execute_async(script, vec![]).await.unwrap();
    }
    shot(c, &format!("{shots}-page")).await;
    let clicked_at = c
        .execute("return performance.now();", vec![])
        .await
        .unwrap()
        .as_f64()
        .unwrap();
    let began = Instant::now();
    host.click().await.unwrap();
    assert_eq!(
        c.execute(
            "return document.querySelector('esp-web-install-button').hasAttribute('active');",
            vec![]
        )
        .await
        .unwrap(),
        json!(true)
    );
    if std::env::var("BUTTON_DEBUG").is_ok() {
        tokio::time::sleep(std::time::Duration::from_secs(15)).await;
        shot(c, "debug").await;
        let t = in_button(c, "const d = host.shadowRoot.querySelector('dialog'); return d ? d.innerText : 'no dialog';", vec![]).await;
        println!("DIALOG: {t}");
        println!("ERRORS: {:?}", caught(c).await);
        println!("EVENTS: {:?}", events(c).await);
    }
    let plan = dialog_says(c, "update-plan", "app1", 120).await;
    assert!(
        plan.contains(&format!("{NAME} {VERSION} into app1"))
            && plan.contains("Keeps your settings"),
        "a slot update that keeps settings and the previous app: {plan}"
    );
    shot(c, &format!("{shots}-plan")).await;
    dialog_click(c, "update").await;
    // At real timing a 1 MB app takes a while; the wait ends when the dialog says it runs.
    let result = dialog_says(c, "update-result", "Running", 600).await;
    assert!(
        result.starts_with(&format!(
            "Running {NAME} {VERSION} from app1 (seen on its console"
        )),
        "{result}"
    );
    let ev = events(c).await;
    assert_eq!(
        states(&ev),
        [
            "initializing",
            "manifest",
            "preparing",
            "writing",
            "finished"
        ],
        "{ev:#?}"
    );
    let last = ev.last().unwrap();
    assert_eq!(last["message"], json!(result));
    assert_eq!(last["chipFamily"], json!("ESP32"));
    assert_eq!(last["manifest"], json!(NAME));
    assert_eq!(last["build"], json!(true));
    let writing: Vec<&Value> = ev.iter().filter(|e| e["state"] == "writing").collect();
    assert_eq!(writing.last().unwrap()["details"]["percentage"], json!(100));
    assert!(writing.len() > 3, "writing reports its progress");
    // Where the time goes, from the click: each state's first event.
    let mut seen_states = vec![];
    for e in &ev {
        let st = e["state"].as_str().unwrap();
        if !seen_states.iter().any(|(s, _)| s == st) {
            seen_states.push((
                st.to_string(),
                (e["at"].as_f64().unwrap() - clicked_at) / 1000.0,
            ));
        }
    }
    let last_write = writing.last().unwrap()["at"].as_f64().unwrap();
    println!(
        "states at (s from click): {}; last write at {:.2}",
        seen_states
            .iter()
            .map(|(s, t)| format!("{s} {t:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        (last_write - clicked_at) / 1000.0
    );
    println!(
        "click → finished: {:.2} s (events), {:.2} s (test clock)",
        (last["at"].as_f64().unwrap() - clicked_at) / 1000.0,
        began.elapsed().as_secs_f64()
    );
    shot(c, &format!("{shots}-running")).await;
    (last["at"].as_f64().unwrap() - clicked_at) / 1000.0
}

/// Improv once the app runs: the device's name and firmware, its networks, a wrong password
/// said as such, then the right one with the address to visit.
async fn wifi_from_the_dialog(c: &Client, shots: &str) {
    let device = dialog_says(c, "wifi-device", "garden-sensor-", 60).await;
    assert!(
        device.contains(&format!("garden-sensor {VERSION}")),
        "{device}"
    );
    until("the networks the app sees", 60, || async {
        in_button(
            c,
            "const s = q('wifi-ssid'); return s ? s.options.length : 0;",
            vec![],
        )
        .await
        .as_u64()
        .filter(|n| *n == 3)
    })
    .await;
    dialog_set(c, "wifi-ssid", "GardenNet").await;
    dialog_set(c, "wifi-password", "tomato").await;
    dialog_click(c, "wifi-connect").await;
    let failed = dialog_says(c, "wifi-failed", "could not connect", 60).await;
    assert!(failed.contains("password"), "{failed}");
    shot(c, &format!("{shots}-wifi-wrong")).await;
    dialog_set(c, "wifi-password", "tomato-soup").await;
    dialog_click(c, "wifi-connect").await;
    let joined = dialog_says(c, "wifi-joined", "Connected to GardenNet", 60).await;
    assert!(
        joined.contains("Visit the device: http://garden-sensor-"),
        "{joined}"
    );
    let href = in_button(c, "return q('wifi-visit').href;", vec![]).await;
    assert!(href.as_str().unwrap().ends_with(".local/"), "{href}");
    shot(c, &format!("{shots}-wifi-joined")).await;
    // Closing the dialog lets the board go and takes the active mark away.
    dialog_click(c, "dialog-close").await;
    until("the dialog to close", 30, || async {
        (c.execute(
            "const h = document.querySelector('esp-web-install-button');
             return !h.hasAttribute('active') && !h.shadowRoot.querySelector('dialog');",
            vec![],
        )
        .await
        .unwrap()
            == json!(true))
        .then_some(())
    })
    .await;
    assert_clean(c).await;
}

#[test]
fn the_button_updates_the_in_page_board_and_sets_up_wifi() {
    let (port, _site, _vendor) = sites(true);
    run(async {
        let (c, _driver, _profile) = browser().await;
        let secs = update_from_the_button(&c, port, "?otaflash-port=sim", None, "button-sim").await;
        println!("in-page simulated ESP32, 1 MB app: {secs:.2} s from click to finished");
        wifi_from_the_dialog(&c, "button-sim").await;
    });
}

#[test]
fn the_button_updates_a_board_over_rfc2217() {
    let (port, _site, _vendor) = sites(true);
    let flash = otaflash::sim::demo::arduino_like_flash(otaflash::chips::ESP32);
    let board = WsBoard::start(&flash, "real");
    run(async {
        let (c, _driver, _profile) = browser_sized(400, 900).await;
        let query = format!("?otaflash-port={}", board.ws.replace('+', "%2B"));
        let secs = update_from_the_button(&c, port, &query, None, "button-rfc2217").await;
        println!("ESP32 over RFC 2217, 1 MB app: {secs:.2} s from click to finished");
        wifi_from_the_dialog(&c, "button-rfc2217").await;
    });
    // What the board holds: the app in app1, and otadata boots it.
    let f = std::fs::read(&board.flash).unwrap();
    let app = std::fs::read(_vendor.path().join("firmware/garden-sensor.bin")).unwrap();
    assert_eq!(&f[0x150000..0x150000 + app.len()], &app[..]);
}

/// `erase-first` (the page's attribute): a full install after erasing the whole flash, said
/// before anything is written with what it loses, run only after a yes; the events say
/// erasing before writing. `show-log` opens the logs.
#[test]
fn erase_first_is_a_full_install_after_a_yes() {
    let (port, _site, _vendor) = sites(false);
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!(
            "http://127.0.0.1:{port}/vendor/?otaflash-port=sim"
        ))
        .await
        .unwrap();
        watch_errors(&c).await;
        let host = until("the button", 30, || async {
            c.find(fantoccini::Locator::Css(
                "esp-web-install-button[install-supported]",
            ))
            .await
            .ok()
        })
        .await;
        c.execute(
            "const b = document.querySelector('esp-web-install-button');
             b.eraseFirst = true; b.setAttribute('show-log', '');
             window.seen = [];
             b.addEventListener('state-changed', (e) => window.seen.push({state: e.detail.state, details: e.detail.details}));",
            vec![],
        )
        .await
        .unwrap();
        host.click().await.unwrap();
        let plan = dialog_says(
            &c,
            "update-plan",
            "erases the whole flash before installing",
            60,
        )
        .await;
        assert!(
            plan.contains("after erasing the whole flash") && plan.contains("Loses nvs"),
            "{plan}"
        );
        let open = in_button(&c, "return q('dialog-logs').open;", vec![]).await;
        assert_eq!(open, json!(true), "show-log opens the logs");
        let disabled = in_button(&c, "return q('update').disabled;", vec![]).await;
        assert_eq!(disabled, json!(true), "nothing runs before the yes");
        shot(&c, "button-erase-first").await;
        dialog_click(&c, "update-confirm").await;
        dialog_click(&c, "update").await;
        let result = dialog_says(&c, "update-result", "Running", 600).await;
        assert!(
            result.starts_with(&format!("Running {NAME} {VERSION} from app0")),
            "{result}"
        );
        let ev = events(&c).await;
        assert_eq!(
            states(&ev),
            [
                "initializing",
                "manifest",
                "preparing",
                "erasing",
                "writing",
                "finished"
            ],
            "{ev:#?}"
        );
        assert_clean(&c).await;
    });
}

/// A USB serial port as Web Serial gives one (what `navigator.serial.requestPort()` resolves
/// to: real Readable/WritableStreams, setSignals driving the reset circuit), wired to the
/// simulated ESP32 of otaflash's own module (`sim/`, the chip the page simulates): the button
/// asks for the port in the click, as ESP Web Tools does, and the dialog talks through it.
const USB_PORT: &str = "const done = arguments[0];
(async () => {
  const at = new URL('/tools/otaflash/sim/', location.href);
  const m = await import(new URL('otaflash-sim.js', at).href);
  await m.default({ module_or_path: new URL('otaflash-sim_bg.wasm', at) });
  const chip = new m.SimChip('esp32', undefined, false);
  const t0 = performance.now();
  const now = () => (performance.now() - t0) / 1000;
  let ctrl = null, timer = null, dtr = false, rts = false;
  const pump = () => {
    const t = now(), next = chip.next_output_at();
    if (ctrl && next >= 0 && next <= t) {
      const out = chip.take_output(t);
      if (out.length) ctrl.enqueue(out);
    }
  };
  const port = {
    readable: null, writable: null, opened: 0, closed: 0, asked: 0,
    async open({ baudRate }) {
      if (this.readable) throw new DOMException('The port is already open.', 'InvalidStateError');
      chip.set_host_baud(baudRate);
      chip.plugged_in();
      this.opened++;
      this.readable = new ReadableStream({ start(c) { ctrl = c; }, cancel() { ctrl = null; } });
      this.writable = new WritableStream({ write(b) { chip.receive(now(), b); } });
      timer = setInterval(pump, 4);
    },
    async close() {
      clearInterval(timer);
      ctrl = null; this.readable = null; this.writable = null; this.closed++;
    },
    async setSignals(s) {
      if ('dataTerminalReady' in s) dtr = !!s.dataTerminalReady;
      if ('requestToSend' in s) rts = !!s.requestToSend;
      chip.set_signals(now(), dtr, rts);
    },
    getInfo() { return { usbVendorId: 0x10c4, usbProductId: 0xea60 }; },
    addEventListener() {}, removeEventListener() {},
  };
  window.usbPort = port;
  navigator.serial.requestPort = async () => { port.asked++; return port; };
  done(true);
})().catch((e) => done(String(e)));";

#[test]
fn the_button_asks_for_a_usb_port_and_updates_through_web_serial() {
    let (port, _site, _vendor) = sites(false);
    run(async {
        let (c, _driver, _profile) = browser().await;
        let secs = update_from_the_button(&c, port, "", Some(USB_PORT), "button-usb").await;
        println!(
            "USB (Web Serial) to the simulated ESP32, 1 MB app: {secs:.2} s from click to finished"
        );
        let usb = c
            .execute(
                "return [usbPort.asked, usbPort.opened, usbPort.closed];",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(usb[0], json!(1), "the port is asked for once, in the click");
        // No Improv in this build: no Wi-Fi set-up offered.
        assert_eq!(dialog_text(&c, "wifi").await, None);
        // Done: the board is let go at once (reset into its app, the port closed), while the
        // dialog still says how it ended.
        until("the port to be closed", 30, || async {
            let v = c
                .execute("return usbPort.closed >= usbPort.opened;", vec![])
                .await
                .unwrap();
            (v == json!(true)).then_some(())
        })
        .await;
        let said = dialog_text(&c, "update-result").await.unwrap_or_default();
        assert!(said.starts_with("Running Garden Sensor"), "{said}");
        dialog_click(&c, "dialog-close").await;
        assert_clean(&c).await;
    });
}

/// No board where the button looks: the dialog says why with what to try and offers "Try
/// again", which is a new run (initializing, then error again).
#[test]
fn a_failed_connect_says_why_and_can_be_tried_again() {
    let (port, _site, _vendor) = sites(false);
    let nobody = free_port();
    run(async {
        let (c, _driver, _profile) = browser().await;
        c.goto(&format!(
            "http://127.0.0.1:{port}/vendor/?otaflash-port=rfc2217%2Bws://127.0.0.1:{nobody}"
        ))
        .await
        .unwrap();
        let host = until("the button", 30, || async {
            c.find(fantoccini::Locator::Css(
                "esp-web-install-button[install-supported]",
            ))
            .await
            .ok()
        })
        .await;
        c.execute(
            "window.seen = [];
             document.querySelector('esp-web-install-button').addEventListener('state-changed',
               (e) => window.seen.push({state: e.detail.state, details: e.detail.details}));",
            vec![],
        )
        .await
        .unwrap();
        host.click().await.unwrap();
        let why = dialog_says(&c, "dialog-failed", "Connect", 60).await;
        // Named from the manifest though the board was never reached.
        assert_eq!(
            dialog_text(&c, "dialog-title").await.as_deref(),
            Some("Install Garden Sensor 1.2.0")
        );
        assert!(why.contains("bridge"), "what to try: {why}");
        shot(&c, "button-connect-failed").await;
        dialog_click(&c, "dialog-retry").await;
        until("the second try to fail too", 60, || async {
            let ev = events(&c).await;
            (states(&ev) == ["initializing", "error", "initializing", "error"]).then_some(())
        })
        .await;
        let ev = events(&c).await;
        assert_eq!(ev[1]["details"]["error"], json!("failed_initialize"));
        dialog_click(&c, "dialog-close").await;
    });
}

/// The slots for a browser that cannot: no Web Serial (`unsupported`), an insecure page
/// (`not-allowed`, checked first) — each with its default words and `install-unsupported`.
#[test]
fn the_unsupported_and_not_allowed_slots_show() {
    let (port, _site, _vendor) = sites(false);
    let slot = |c: Client| async move {
        let found = until("the button to say why it cannot", 30, || async {
            let v = c
                .execute(
                    "const h = document.querySelector('esp-web-install-button');
                     if (!h || !h.shadowRoot || !h.hasAttribute('install-unsupported')) return null;
                     const s = h.shadowRoot.querySelector('slot');
                     return [s.name, s.textContent, h.hasAttribute('install-supported')];",
                    vec![],
                )
                .await
                .unwrap();
            (!v.is_null()).then_some(v)
        })
        .await;
        (c, found)
    };
    run(async {
        let (c, _driver, _profile) =
            browser_with(1280, 900, &["--disable-blink-features=Serial"]).await;
        c.goto(&format!("http://127.0.0.1:{port}/vendor/"))
            .await
            .unwrap();
        let (c, v) = slot(c).await;
        assert_eq!(v[0], json!("unsupported"));
        assert!(v[1].as_str().unwrap().contains("Chrome or Edge"), "{v}");
        assert_eq!(v[2], json!(false));
        shot(&c, "button-unsupported").await;
        // The example page puts its own words in the slot.
        c.goto(&format!("http://127.0.0.1:{port}/tools/start-counter/"))
            .await
            .unwrap();
        let (c, _) = slot(c).await;
        let own = c
            .execute(
                "const s = document.querySelector('esp-web-install-button').shadowRoot.querySelector('slot');
                 return s.assignedNodes().map((n) => n.textContent).join('');",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            own.as_str()
                .unwrap()
                .contains("This browser cannot reach USB boards"),
            "{own}"
        );
    });
    run(async {
        // A name that is not localhost: an insecure context, though it reaches 127.0.0.1.
        let (c, _driver, _profile) = browser_with(
            1280,
            900,
            &["--host-resolver-rules=MAP vendor.test 127.0.0.1"],
        )
        .await;
        c.goto(&format!("http://vendor.test:{port}/vendor/"))
            .await
            .unwrap();
        let (c, v) = slot(c).await;
        assert_eq!(v[0], json!("not-allowed"));
        assert!(v[1].as_str().unwrap().contains("HTTPS"), "{v}");
        shot(&c, "button-not-allowed").await;
    });
}
