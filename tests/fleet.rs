//! Many boards at once from the command line: four `otaflash sim` boards flashed in one call
//! (`--slot auto --set-boot`), one unplugged part-way through its write (fault injection): the
//! other three finish, verified and switched, and the record says which failed; a re-run skips
//! the boards that already run the image.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;

#[test]
fn four_boards_in_one_call_one_unplugged() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("hello.bin");
    // An app none of the boards holds yet (esptool-made).
    let image = images::app("esp32", "fleet", "2.0", 128);
    std::fs::write(&app, &image).unwrap();
    let boards: Vec<Sim> = (1..=4)
        .map(|i| {
            let mac = format!("24:0a:c4:00:00:{i:02x}");
            let mut extra = vec!["--mac", &mac];
            // Board 3 is unplugged once about 60 KB have come from the host (mid-write).
            if i == 3 {
                extra.extend(["--fault-disconnect-after", "60000"]);
            }
            Sim::start_with("none", Some(&arduino_flash()), "esp32", &extra)
        })
        .collect();
    let urls: Vec<String> = boards
        .iter()
        .map(|b| format!("tcp://127.0.0.1:{}", b.port))
        .collect();
    let mut args = vec!["flash", "--slot", "auto", "--set-boot", "--json"];
    for u in &urls {
        args.extend(["--port", u]);
    }
    args.push(app.to_str().unwrap());
    let (ok, out) = otaflash(&args);
    assert!(!ok, "one board failed, so the exit status says so: {out}");
    let json_start = out.find('{').unwrap();
    let json_end = out.rfind('}').unwrap();
    let v: serde_json::Value = serde_json::from_str(&out[json_start..=json_end]).unwrap();
    let b = v["boards"].as_array().unwrap();
    assert_eq!(b.len(), 4);
    for (i, r) in b.iter().enumerate() {
        assert_eq!(r["port"], urls[i].as_str());
        if i == 2 {
            assert_eq!(r["outcome"], "failed", "{r}");
            assert!(!r["message"].as_str().unwrap().is_empty());
        } else {
            assert_eq!(r["outcome"], "flashed", "{r}");
            assert_eq!(r["mac"], format!("24:0a:c4:00:00:{:02x}", i + 1));
            assert_eq!(r["slot"], "app1");
            assert_eq!(r["before"], "empty");
            assert_eq!(r["after"], "fleet 2.0");
            assert_eq!(
                r["md5"],
                otaflash::formats::hex(&otaflash::formats::md5(&image))
            );
        }
    }
    assert_eq!(v["failed"], 1);
    assert!(
        out.contains(&format!("1 of 4 boards failed: {}", urls[2])),
        "{out}"
    );
    // The three that finished hold the image in app1 and boot it.
    for (i, board) in boards.iter().enumerate() {
        let f = board.flash();
        let holds = f[0x150000..0x150000 + image.len()] == image[..];
        assert_eq!(holds, i != 2, "board {}", i + 1);
    }
    // Again, without the unplugged board: the three are skipped (they run this image).
    let mut again = vec!["flash", "--slot", "auto", "--set-boot", "--json"];
    for (i, u) in urls.iter().enumerate() {
        if i != 2 {
            again.extend(["--port", u]);
        }
    }
    again.push(app.to_str().unwrap());
    let (ok, out) = otaflash(&again);
    assert!(ok, "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&out[out.find('{').unwrap()..=out.rfind('}').unwrap()]).unwrap();
    for r in v["boards"].as_array().unwrap() {
        assert_eq!(r["outcome"], "already", "{r}");
        assert_eq!(r["slot"], "app1");
        assert!(r["message"].as_str().unwrap().contains("MD5 match"));
    }
}

/// A full install (an ESP Web Tools manifest) on three blank boards in one call: every board
/// gets every part, verified, and boots the app; one record each.
#[test]
fn install_on_three_blank_boards() {
    let boards: Vec<Sim> = (0..3)
        .map(|_| Sim::start("none", Some(&vec![0xFF; FLASH_SIZE])))
        .collect();
    let urls: Vec<String> = boards
        .iter()
        .map(|b| format!("tcp://127.0.0.1:{}", b.port))
        .collect();
    let manifest = data("manifest.json");
    let mut args = vec!["install", "--json"];
    for u in &urls {
        args.extend(["--port", u.as_str()]);
    }
    args.push(manifest.to_str().unwrap());
    let (ok, out) = otaflash(&args);
    assert!(ok, "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&out[out.find('{').unwrap()..=out.rfind('}').unwrap()]).unwrap();
    let b = v["boards"].as_array().unwrap();
    assert_eq!(b.len(), 3);
    for (i, r) in b.iter().enumerate() {
        assert_eq!(r["port"], urls[i].as_str());
        assert_eq!(r["outcome"], "flashed", "{r}");
        assert_eq!(r["slot"], "app0", "{r}");
        assert_eq!(r["before"], "no partition table", "{r}");
        assert!(r["message"].as_str().unwrap().contains("installed"), "{r}");
    }
    for board in &boards {
        let f = board.flash();
        assert_eq!(f[0x8000..0x8002], [0xAA, 0x50], "the table is in place");
    }
}
