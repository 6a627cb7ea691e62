//! End to end: what the install button says when it cannot install — no board where it looks
//! (the failure with what to try, and "Try again" as a new run of events), a browser without
//! Web Serial (`unsupported`) and an insecure page (`not-allowed`), each with its default words,
//! and the example page's own words in the slot.
#![cfg(not(target_arch = "wasm32"))]

#[path = "common/browser.rs"]
mod browser;
#[path = "common/button.rs"]
mod button;
mod common;

use browser::*;
use button::*;
use fantoccini::Client;
use serde_json::json;

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
        let host = supported_button(&c).await;
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
