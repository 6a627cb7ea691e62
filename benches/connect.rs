//! Benchmark: connect → the board's layout (partition table, otadata, what each slot holds) in
//! front of the technician, at real link timing (`otaflash sim --timing real`: UART byte times,
//! USB latency, flash times; the in-page simulator uses the same timing):
//!
//! - the page in headless Chromium, from the click on Connect until the layout is on screen,
//!   with the in-page simulated ESP32 and over RFC 2217 (`otaflash sim --ws`);
//! - the CLI's `otaflash info` over RFC 2217 and over raw TCP with `--baud 921600` (the whole
//!   command, process start included);
//! - for scale, esptool 5.6 reading the table and otadata (`read-flash 0x8000 0x7000` at
//!   921600 over its raw `socket://`).
//!
//! `cargo bench --bench connect` (needs the release page in dist/ — `trunk build --release` —,
//! chromium + chromedriver and esptool 5.6: scripts/setup.sh). Prints the median of 5 runs and
//! the slowest.

#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/common/browser.rs"]
mod browser;
#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/common/mod.rs"]
mod common;

#[cfg(not(target_arch = "wasm32"))]
const RUNS: usize = 5;

#[cfg(not(target_arch = "wasm32"))]
fn summary(what: &str, mut secs: Vec<f64>) {
    secs.sort_by(f64::total_cmp);
    println!(
        "{what:58} median {:.3} s, slowest {:.3} s ({} runs)",
        secs[secs.len() / 2],
        secs[secs.len() - 1],
        secs.len()
    );
}

#[cfg(not(target_arch = "wasm32"))]
fn wall(cmd: &mut std::process::Command) -> f64 {
    let t = std::time::Instant::now();
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed().as_secs_f64()
}

/// Loads `url`, clicks Connect and returns the seconds until the layout is on screen (the
/// boot prediction and both otadata sectors rendered), measured in the page.
#[cfg(not(target_arch = "wasm32"))]
async fn page_connect(c: &fantoccini::Client, url: &str) -> f64 {
    use browser::*;
    c.goto(url).await.unwrap();
    find(c, "connect").await;
    c.execute(
        r#"
        window.__layout = null;
        const done = () => document.querySelector('[data-testid=boot-slot]')
            && document.querySelectorAll('[data-testid=otadata-sector]').length == 2;
        new MutationObserver((_, o) => {
            if (window.__layout === null && done()) {
                window.__layout = performance.now() - window.__clicked;
                o.disconnect();
            }
        }).observe(document.body, { subtree: true, childList: true, characterData: true });
        window.__clicked = performance.now();
        document.querySelector('[data-testid=connect]').click();
        "#,
        vec![],
    )
    .await
    .unwrap();
    let ms = until("the layout on screen", 30, || async {
        c.execute("return window.__layout;", vec![])
            .await
            .ok()
            .and_then(|v| v.as_f64())
    })
    .await;
    ms / 1000.0
}

/// Opens a simulated `chip` (Arduino layout) and reads its layout as the page does, in the
/// simulator's virtual time: the seconds that took on the simulated link.
#[cfg(not(target_arch = "wasm32"))]
async fn in_process(chip: &'static otaflash::chips::Chip) -> f64 {
    use otaflash::device::{Device, CONNECT_ATTEMPTS};
    use otaflash::loader::{stub::Stubs, Loader, OpenOptions, Port, Reset};
    let port = common::port_with(|c| {
        c.chip = chip;
        c.timing = otaflash::sim::Timing::REALISTIC;
    });
    let opts = OpenOptions {
        reset: Reset::Classic,
        attempts: CONNECT_ATTEMPTS,
        stubs: Stubs::Embedded,
        baud: None,
    };
    let Ok(mut d) = Device::open(Loader::new(port), &opts).await else {
        panic!("{} did not open", chip.pretty)
    };
    d.snapshot(0x8000).await.unwrap();
    d.loader().port().elapsed().as_secs_f64()
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use browser::*;
    use common::*;
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    println!(
        "connect → layout on screen, real link timing, simulated ESP32 (4 MB, Arduino layout)"
    );
    // In process, in virtual time (exact link timing, no machine noise): every chip.
    for chip in otaflash::chips::CHIPS.iter().filter(|c| c.supported()) {
        let secs = block_on(in_process(chip));
        println!(
            "{:58} {secs:.3} s (virtual time)",
            format!("device layer in process, {}", chip.pretty)
        );
    }
    // The page.
    let web = serve_dist();
    run(async {
        let (c, _driver, _profile) = browser().await;
        let mut v = vec![];
        for _ in 0..RUNS {
            v.push(page_connect(&c, &format!("http://127.0.0.1:{web}/?port=sim")).await);
        }
        summary("page, in-page simulator", v);
        let board = WsBoard::start(&arduino_flash(), "real");
        let mut v = vec![];
        for _ in 0..RUNS {
            let url = format!("http://127.0.0.1:{web}/?port={}", board.ws);
            v.push(page_connect(&c, &url).await);
        }
        summary("page, over RFC 2217 (otaflash sim --ws)", v);
        c.close().await.unwrap();
    });
    // The CLI.
    let sim = Sim::start("real", Some(&arduino_flash()));
    let info = |port: String, extra: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_otaflash"));
        c.args(["info", "--port", &port]).args(extra);
        c
    };
    let rfc = format!("rfc2217://127.0.0.1:{}", sim.rfc2217);
    summary(
        "otaflash info, over RFC 2217",
        (0..RUNS)
            .map(|_| wall(&mut info(rfc.clone(), &[])))
            .collect(),
    );
    let tcp = format!("tcp://127.0.0.1:{}", sim.port);
    summary(
        "otaflash info, raw TCP --baud 921600",
        (0..RUNS)
            .map(|_| wall(&mut info(tcp.clone(), &["--baud", "921600"])))
            .collect(),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.bin");
    // esptool over its raw socket:// (over pyserial's RFC 2217 client it takes ~25 s).
    let socket = format!("socket://127.0.0.1:{}", sim.port);
    let esptool = || {
        let mut c = std::process::Command::new("python3");
        c.args(["-m", "esptool", "--port", &socket, "--baud", "921600"])
            .args(["--after", "no-reset", "read-flash", "0x8000", "0x7000"])
            .arg(&out);
        c
    };
    summary(
        "esptool 5.6 read-flash 0x8000 0x7000, socket://, 921600",
        (0..RUNS).map(|_| wall(&mut esptool())).collect(),
    );
}
