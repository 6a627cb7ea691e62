//! End to end: a vendor's install page written the way ESP Web Tools' README shows one
//! (tests/data/button/: script tag, `<esp-web-install-button manifest=…>`, its CSS variables),
//! with only the script tag changed to otaflash's button, served by a plain static server at
//! /vendor/ while the otaflash site (scripts/build-site.sh) is under /tools/otaflash/. In
//! headless Chromium against the simulated chip — in the page, and over RFC 2217 — the button
//! shows with `install-supported`, wears the page's colours, a click opens otaflash's update,
//! the `state-changed` events come in ESP Web Tools' order ending in "finished" (a 1 MB app, at
//! real timing), and Wi-Fi is set up over Improv on the app (a wrong password said as such);
//! also through a Web Serial port asked for in the click, and with `erase-first`. When the
//! button cannot install: tests/e2e_button_support.rs.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/browser.rs"]
mod browser;
#[path = "common/button.rs"]
mod button;
mod common;

use browser::*;
use button::*;
use fantoccini::Client;
use serde_json::{json, Value};
use std::time::Instant;

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
    let host = supported_button(c).await;
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
        let host = supported_button(&c).await;
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
