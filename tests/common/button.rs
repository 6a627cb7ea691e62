//! The install button's end-to-end tests' common parts: the otaflash site and a vendor's page
//! served together (tests/data/button/ under /vendor/, the site under /tools/otaflash/, the
//! example page under /tools/start-counter/), and reading the dialog inside the button's
//! shadow root.
#![allow(dead_code)]

use super::browser::*;
use fantoccini::Client;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// What the app is called in the manifest and in its own description.
pub const NAME: &str = "Garden Sensor";
pub const VERSION: &str = "1.2.0";

/// The otaflash site under /tools/otaflash/ and the vendor's page (the fixture, its manifest
/// and firmware: the Arduino build's bootloader, table and boot_app0 with a 1 MB app) under
/// /vendor/. Returns the server's port and the folders (kept while the test runs).
pub fn sites(improv: bool) -> (u16, tempfile::TempDir, tempfile::TempDir) {
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
pub async fn in_button(c: &Client, body: &str, args: Vec<Value>) -> Value {
    let script = format!(
        "const host = document.querySelector('esp-web-install-button');
         const q = (id) => host && host.shadowRoot && host.shadowRoot.querySelector('[data-testid=\"' + id + '\"]');
         {body}"
    );
    c.execute(&script, args).await.unwrap()
}

pub async fn dialog_text(c: &Client, id: &str) -> Option<String> {
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
pub async fn dialog_says(c: &Client, id: &str, needle: &str, secs: u64) -> String {
    until(
        &format!("the dialog's {id} to say {needle:?}"),
        secs,
        || async { dialog_text(c, id).await.filter(|t| t.contains(needle)) },
    )
    .await
}

pub async fn dialog_click(c: &Client, id: &str) {
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
pub async fn dialog_set(c: &Client, id: &str, value: &str) {
    in_button(
        c,
        "const e = q(arguments[0]); e.value = arguments[1];
         e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true}));",
        vec![id.into(), value.into()],
    )
    .await;
}

/// The state-changed events so far: `[state, message, details]`, with their times.
pub async fn events(c: &Client) -> Vec<Value> {
    c.execute("return window.seen || [];", vec![])
        .await
        .unwrap()
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The states in order, each run of one state said once.
pub fn states(ev: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for e in ev {
        let s = e["state"].as_str().unwrap().to_string();
        if out.last() != Some(&s) {
            out.push(s);
        }
    }
    out
}

/// The vendor's button, once it is defined and says it can install.
pub async fn supported_button(c: &Client) -> fantoccini::elements::Element {
    until("the button to be defined", 30, || async {
        c.find(fantoccini::Locator::Css(
            "esp-web-install-button[install-supported]",
        ))
        .await
        .ok()
    })
    .await
}
