//! End to end: the site `scripts/build-site.sh` makes, served by a plain static server under a
//! sub-path (/tools/otaflash/, GitHub Pages style), works there and keeps working offline after
//! the first visit — the page, the in-page simulated chip, the stubs and the modules loaded on
//! demand all come from the service worker's cache once the server is gone.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/browser.rs"]
mod browser;
mod common;

use browser::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

async fn js(c: &fantoccini::Client, script: &str) -> serde_json::Value {
    c.execute_async(script, vec![]).await.unwrap()
}

/// The page's stylesheet came and applies (an address outside the sub-path would not).
async fn styled(c: &fantoccini::Client) -> bool {
    js(
        c,
        "arguments[0]([...document.styleSheets].some((s) => s.href && s.href.endsWith('style.css') && s.cssRules.length > 0));",
    )
    .await
        == serde_json::json!(true)
}

#[test]
fn the_built_site_works_under_a_sub_path_and_offline_after_the_first_visit() {
    let out = build_site("/tools/otaflash/");
    let listed: Vec<String> =
        serde_json::from_slice(&std::fs::read(out.path().join("precache.json")).unwrap()).unwrap();
    assert!(
        listed
            .iter()
            .any(|f| f == "install/otaflash-install_bg.wasm")
            && listed.iter().any(|f| f == "stub/esp32c3.json")
            // The install button and its dialog are part of the site.
            && listed.iter().any(|f| f == "install-button.js")
            && listed.iter().any(|f| f == "dialog/otaflash-dialog_bg.wasm")
            && listed.iter().any(|f| f == "dialog/dialog.css"),
        "{listed:?}"
    );
    let online = Arc::new(AtomicBool::new(true));
    let dir = out.path().to_path_buf();
    // Under /tools/otaflash/ only, as a static host serves a sub-folder.
    let port = serve(Some(online.clone()), move |path| {
        let rel = path.strip_prefix("/tools/otaflash/")?;
        Some(dir.join(if rel.is_empty() { "index.html" } else { rel }))
    });
    run(async {
        let (c, _driver, _profile) = browser().await;
        let url = format!("http://127.0.0.1:{port}/tools/otaflash/?port=sim");
        c.goto(&url).await.unwrap();
        find(&c, "connect").await;
        assert!(styled(&c).await, "styled under the sub-path");
        // The service worker keeps every listed file, then controls the page.
        let cached = until("the service worker to keep the site", 60, || async {
            let n = js(
                &c,
                "const done = arguments[0];
                 navigator.serviceWorker.ready
                   .then(() => caches.keys())
                   .then((ks) => Promise.all(ks.map((k) => caches.open(k).then((c) => c.keys()))))
                   .then((all) => done(navigator.serviceWorker.controller ? all.flat().length : 0))
                   .catch(() => done(0));",
            )
            .await
            .as_u64()
            .unwrap_or(0);
            (n as usize >= listed.len()).then_some(n)
        })
        .await;
        eprintln!("{cached} files kept by the service worker");
        // The server goes away: the page, the simulated chip and a module still load.
        online.store(false, Ordering::SeqCst);
        c.goto(&url).await.unwrap();
        find(&c, "connect").await.click().await.unwrap();
        wait_text(&c, "chip", "ESP32", 30).await;
        assert!(styled(&c).await, "styled offline");
        open_tools(&c).await;
        find(&c, "backup").await;
        shot(&c, "site-offline").await;
        c.close().await.unwrap();
    });
}
