//! Security-aware flashing against `otaflash sim --security …`: each state as the ROM reports it
//! (esptool 5.6's `get-security-info` reads the simulator's answer the same way), shown by the
//! CLI; what must be refused is refused with the flash file untouched; what can still be done
//! (pre-encrypted data at an offset; writes through the ROM in secure download mode, said to be
//! unverified) is done.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;

fn info(sim: &Sim) -> serde_json::Value {
    let url = format!("tcp://127.0.0.1:{}", sim.port);
    let (ok, out) = otaflash(&["info", "--port", &url, "--json"]);
    assert!(ok, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn flash_args(sim: &Sim, args: &[&str]) -> (bool, String) {
    let url = format!("tcp://127.0.0.1:{}", sim.port);
    let mut v = vec!["flash", "--port", url.as_str()];
    v.extend(args);
    otaflash(&v)
}

/// A simulated ESP32-C3 (no timing) over `flash`, with more `otaflash sim` options.
fn c3_sim(flash: &[u8], extra: &[&str]) -> Sim {
    Sim::start_with("none", Some(flash), "esp32c3", extra)
}

/// `otaflash flash --offset 0x150000 [FLAG] FILE` (app1's place in the test tables).
fn flash_app1_raw(sim: &Sim, flag: Option<&str>, file: &std::path::Path) -> (bool, String) {
    let mut args = vec!["--offset", "0x150000"];
    args.extend(flag);
    args.push(file.to_str().unwrap());
    flash_args(sim, &args)
}

/// esptool reads the simulated ROM's GET_SECURITY_INFO as a real one's.
#[test]
fn esptool_reads_the_simulated_security_info() {
    let sim = Sim::start_with(
        "none",
        Some(&c3_flash()),
        "esp32c3",
        &[
            "--security",
            "flash-encryption-release,secure-boot,secure-download,jtag-disabled",
        ],
    );
    let out = esptool(&[
        "--port",
        &sim.url(),
        "--before",
        "no-reset",
        "get-security-info",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "ESP32-C3 in Secure Download Mode",
        "Secure Boot: Enabled",
        "Flash Encryption: Enabled",
        "SPI_BOOT_CRYPT_CNT): 0x1",
        "JTAG: Software Access Disabled",
        "XTS_AES_128_KEY",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
}

/// Each state, as the CLI shows it (text and JSON).
#[test]
fn the_cli_shows_each_security_state() {
    for (chip, state, fe, sb, sdm, jtag) in [
        ("esp32c3", "none", "off", "off", false, false),
        (
            "esp32c3",
            "flash-encryption",
            "development",
            "off",
            false,
            false,
        ),
        (
            "esp32s3",
            "flash-encryption-release,secure-boot",
            "release",
            "v2",
            false,
            false,
        ),
        (
            "esp32",
            "flash-encryption-release,secure-boot,jtag-disabled",
            "release",
            "v2",
            false,
            true,
        ),
        ("esp32c6", "secure-download", "off", "off", true, false),
        (
            "esp32s2",
            "secure-download,flash-encryption-release",
            "on",
            "off",
            true,
            false,
        ),
    ] {
        let flash = if chip == "esp32" {
            arduino_flash()
        } else {
            images::chip_flash(chip)
        };
        let sim = Sim::start_with("none", Some(&flash), chip, &["--security", state]);
        let v = info(&sim);
        let s = &v["security"];
        let what = format!("{chip} {state}: {v}");
        assert_eq!(v["chip"], chip, "{what}");
        assert_eq!(s["flash_encryption"], fe, "{what}");
        assert_eq!(s["secure_boot"], sb, "{what}");
        assert_eq!(s["secure_download"], sdm, "{what}");
        assert_eq!(s["jtag_disabled"], jtag, "{what}");
        let table = v["partitions"]["error"].as_str().unwrap_or("");
        if sdm {
            assert_eq!(v["stub"], false, "{what}");
            assert_eq!(v["flash_size"], serde_json::Value::Null, "{what}");
            assert!(table.contains("secure download mode"), "{what}");
        } else if fe != "off" {
            assert!(table.contains("ciphertext"), "{what}");
        } else {
            assert!(v["partitions"]["entries"].is_array(), "{what}");
        }
        // The text form says it in words.
        let url = format!("tcp://127.0.0.1:{}", sim.port);
        let (ok, out) = otaflash(&["info", "--port", &url]);
        assert!(ok, "{out}");
        assert!(
            out.contains(&format!("Security: {}", s["summary"].as_str().unwrap())),
            "{out}"
        );
    }
    // The ESP32 has no secure download mode: the simulator says so instead of pretending.
    let (ok, out) = otaflash(&[
        "sim",
        "--flash",
        "/nonexistent/x.bin",
        "--listen",
        "127.0.0.1:0",
        "--security",
        "secure-download",
    ]);
    assert!(!ok && out.contains("no secure download mode"), "{out}");
}

/// Flash encryption on (development mode): a plain app is refused for a slot and at an offset,
/// with nothing written; data marked pre-encrypted is written as it is and MD5-verified.
#[test]
fn flash_encryption_refuses_plain_data_and_writes_pre_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let before = images::chip_flash("esp32c3");
    let sim = c3_sim(&before, &["--security", "flash-encryption"]);
    let app = dir.path().join("app.bin");
    std::fs::write(&app, images::app("esp32c3", "hello", "2.0", 32)).unwrap();
    let app = app.to_str().unwrap();
    let (ok, out) = flash_args(&sim, &["--slot", "app1", "--set-boot", app]);
    assert!(!ok && out.contains("flash encryption is on"), "{out}");
    let (ok, out) = flash_args(&sim, &["--offset", "0x150000", app]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("nothing written: flash encryption is on") && out.contains("pre-encrypted"),
        "{out}"
    );
    assert!(sim.flash() == before, "refused writes changed nothing");
    // Ciphertext made elsewhere (here: any bytes; the flash stores what it is sent).
    let enc: Vec<u8> = (0..40_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let enc_path = dir.path().join("app.enc.bin");
    std::fs::write(&enc_path, &enc).unwrap();
    let (ok, out) = flash_app1_raw(&sim, Some("--pre-encrypted"), &enc_path);
    assert!(ok, "{out}");
    assert!(out.contains("40000 bytes verified"), "{out}");
    let after = sim.flash();
    assert_eq!(after[0x150000..0x150000 + enc.len()], enc[..]);
    assert!(
        after[..0x150000] == before[..0x150000],
        "nothing else changed"
    );
    // Reads are ciphertext: no table, so nothing to switch.
    let url = format!("tcp://127.0.0.1:{}", sim.port);
    let (ok, out) = otaflash(&["otadata", "--port", &url, "--set-boot", "app1"]);
    assert!(!ok && out.contains("ciphertext"), "{out}");
    assert!(sim.flash() == after, "otadata untouched");
}

/// Secure download mode: the ROM refuses the stub, reads and MD5, so the CLI writes through the
/// ROM and says the write is not verified; slot writes and reads (which need the table) are
/// refused with nothing written. With flash encryption too, plain data is refused.
#[test]
fn secure_download_mode_writes_unverified_and_refuses_reads() {
    let dir = tempfile::tempdir().unwrap();
    let before = images::chip_flash("esp32c3");
    let sim = c3_sim(&before, &["--security", "secure-download"]);
    let app_bytes = images::app("esp32c3", "hello", "2.0", 32);
    let app = dir.path().join("app.bin");
    std::fs::write(&app, &app_bytes).unwrap();
    let app = app.to_str().unwrap();
    let (ok, out) = flash_args(&sim, &["--slot", "app1", app]);
    assert!(!ok && out.contains("secure download mode"), "{out}");
    assert!(sim.flash() == before, "nothing written");
    let url = format!("tcp://127.0.0.1:{}", sim.port);
    let (ok, out) = otaflash(&[
        "read",
        "--port",
        &url,
        "--offset",
        "0x8000",
        "--size",
        "0x1000",
        "-o",
        dir.path().join("t.bin").to_str().unwrap(),
    ]);
    assert!(!ok, "a read in secure download mode: {out}");
    let (ok, out) = flash_args(&sim, &["--offset", "0x150000", app]);
    assert!(ok, "{out}");
    assert!(out.contains("NOT verified"), "{out}");
    assert_eq!(
        sim.flash()[0x150000..0x150000 + app_bytes.len()],
        app_bytes[..]
    );
    drop(sim);

    let sim = c3_sim(
        &before,
        &["--security", "secure-download,flash-encryption-release"],
    );
    let (ok, out) = flash_args(&sim, &["--offset", "0x150000", app]);
    assert!(
        !ok && out.contains("nothing written: flash encryption is on"),
        "{out}"
    );
    assert!(sim.flash() == before, "nothing written");
    let enc = vec![0x5Au8; 8192];
    let enc_path = dir.path().join("enc.bin");
    std::fs::write(&enc_path, &enc).unwrap();
    let (ok, out) = flash_app1_raw(&sim, Some("--pre-encrypted"), &enc_path);
    assert!(ok && out.contains("NOT verified"), "{out}");
    assert_eq!(sim.flash()[0x150000..0x150000 + enc.len()], enc[..]);
}

/// What the simulated bootloader of an ESP32-C3 with `security` starts from `flash`.
fn boots_c3(flash: &[u8], security: &str) -> Option<String> {
    boots_c3_with(flash, security, otaflash::sim::esp32::SIM_FLASH_KEY)
}

/// The same, with `key` in its flash-encryption eFuses.
fn boots_c3_with(flash: &[u8], security: &str, key: [u8; 32]) -> Option<String> {
    let chip = otaflash::chips::Chip::by_name("esp32c3").unwrap();
    let mut dev = otaflash::sim::Esp32::new(
        flash.to_vec(),
        otaflash::sim::Config {
            chip,
            security: otaflash::chips::security::SimSecurity::parse(security).unwrap(),
            flash_key: key,
            ..otaflash::sim::Config::new(flash.len() as u32, otaflash::sim::Timing::NONE)
        },
    );
    dev.reset(std::time::Duration::ZERO, false);
    dev.last_boot.map(|b| b.0)
}

/// Flash encryption as the chips after the ESP32 do it, checked against espsecure 5.6: a flash
/// whose bootloader, table and app0 espsecure encrypted for a key (otadata plain, as the chip
/// keeps it) boots app0 on a simulated ESP32-C3 holding that key and not with another; and
/// what the chip encrypts as it writes (`otaflash flash --encrypt`, development mode) is byte
/// for byte what espsecure makes for that address. Release mode refuses to encrypt on write.
#[test]
fn flash_encryption_matches_espsecure() {
    let dir = tempfile::tempdir().unwrap();
    let key: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let key_file = dir.path().join("key.bin");
    std::fs::write(&key_file, key).unwrap();
    let key_file = key_file.to_str().unwrap();
    let plain = images::chip_flash("esp32c3");
    let app0_len = images::app("esp32c3", "hello", "1.0", 64)
        .len()
        .div_ceil(16)
        * 16;
    let mut enc = plain.clone();
    for (at, len) in [(0usize, 0x8000usize), (0x8000, 0x1000), (0x10000, app0_len)] {
        let e = espsecure_encrypt(dir.path(), key_file, at as u32, &plain[at..at + len]);
        enc[at..at + len].copy_from_slice(&e);
    }
    assert_eq!(
        boots_c3_with(&enc, "flash-encryption", key).as_deref(),
        Some("app0")
    );
    assert_eq!(
        boots_c3(&enc, "flash-encryption"),
        None,
        "another key: nothing boots"
    );
    assert_eq!(
        boots_c3_with(&plain, "flash-encryption", key),
        None,
        "plain flash does not decrypt"
    );

    let sim = c3_sim(
        &enc,
        &["--security", "flash-encryption", "--flash-key", key_file],
    );
    let app = images::app("esp32c3", "hello", "2.0", 32);
    let app_path = dir.path().join("app.bin");
    std::fs::write(&app_path, &app).unwrap();
    let (ok, out) = flash_app1_raw(&sim, Some("--encrypt"), &app_path);
    assert!(ok, "{out}");
    assert!(
        out.contains("NOT verified") && out.contains("encrypted it as it wrote"),
        "{out}"
    );
    let mut padded = app.clone();
    padded.resize(app.len().div_ceil(16) * 16, 0xFF);
    let want = espsecure_encrypt(dir.path(), key_file, 0x150000, &padded);
    let got = sim.flash();
    assert!(
        got[0x150000..0x150000 + want.len()] == want[..],
        "the chip's ciphertext is espsecure's"
    );
    assert!(got[..0x150000] == enc[..0x150000], "nothing else changed");
    drop(sim);

    let sim = c3_sim(
        &enc,
        &[
            "--security",
            "flash-encryption-release",
            "--flash-key",
            key_file,
        ],
    );
    let (ok, out) = flash_app1_raw(&sim, Some("--encrypt"), &app_path);
    assert!(!ok && out.contains("release mode"), "{out}");
    assert!(sim.flash() == enc, "nothing written");
}

/// Secure boot v2: an unsigned app is refused for a slot with nothing written; the same app
/// signed by espsecure 5.6 (`sign-data --version 2`, a key it made) is written, switched to,
/// and the simulated bootloader — which, like the real one, wants the signature block — starts
/// it. The same flash with the unsigned app in app1 does not start app1.
#[test]
fn secure_boot_wants_signed_images() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let app = images::app("esp32c3", "hello", "2.0", 32);
    std::fs::write(p("app.bin"), &app).unwrap();
    espsecure(&[
        "generate-signing-key",
        "--version",
        "2",
        "--scheme",
        "ecdsa256",
        &p("key.pem"),
    ]);
    espsecure(&[
        "sign-data",
        "--version",
        "2",
        "--keyfile",
        &p("key.pem"),
        "-o",
        &p("signed.bin"),
        &p("app.bin"),
    ]);
    let signed = std::fs::read(p("signed.bin")).unwrap();
    let before = images::chip_flash("esp32c3");
    let sim = c3_sim(&before, &["--security", "secure-boot"]);
    let (ok, out) = flash_args(&sim, &["--slot", "app1", "--set-boot", &p("app.bin")]);
    assert!(!ok && out.contains("not signed"), "{out}");
    assert!(sim.flash() == before, "nothing written");
    let (ok, out) = flash_args(&sim, &["--slot", "app1", "--set-boot", &p("signed.bin")]);
    assert!(ok, "{out}");
    let after = sim.flash();
    assert_eq!(after[0x150000..0x150000 + signed.len()], signed[..]);
    assert_eq!(boots_c3(&after, "secure-boot").as_deref(), Some("app1"));
    // The check bites: the unsigned app in app1 is skipped by the same bootloader.
    let mut unsigned = after.clone();
    unsigned[0x150000..0x150000 + signed.len()].fill(0xFF);
    unsigned[0x150000..0x150000 + app.len()].copy_from_slice(&app);
    assert_ne!(boots_c3(&unsigned, "secure-boot").as_deref(), Some("app1"));
    assert_eq!(
        boots_c3(&unsigned, "none").as_deref(),
        Some("app1"),
        "without secure boot it would"
    );
}

/// Secure boot v1 (ESP32): the bootloader region holds its digest, so writes below 0x8000 are
/// refused (as esptool refuses them) with nothing written; an app slot is still written.
#[test]
fn secure_boot_v1_guards_the_bootloader() {
    let dir = tempfile::tempdir().unwrap();
    let before = arduino_flash();
    let sim = Sim::start_with(
        "none",
        Some(&before),
        "esp32",
        &["--security", "secure-boot-v1"],
    );
    assert_eq!(info(&sim)["security"]["secure_boot"], "v1");
    let boot = dir.path().join("bootloader.bin");
    std::fs::write(&boot, read("firmware/idf-v5.2.2_bootloader_4MB.bin")).unwrap();
    let url = format!("tcp://127.0.0.1:{}", sim.port);
    let (ok, out) = otaflash(&["write", "--port", &url, "0x1000", boot.to_str().unwrap()]);
    assert!(!ok && out.contains("secure boot v1"), "{out}");
    let (ok, out) = flash_args(&sim, &["--offset", "0x1000", boot.to_str().unwrap()]);
    assert!(!ok && out.contains("secure boot v1"), "{out}");
    assert!(sim.flash() == before, "nothing written");
    let app = dir.path().join("hello.bin");
    std::fs::write(&app, read("firmware/idf-v5.2.2_hello_world.bin")).unwrap();
    let (ok, out) = flash_args(&sim, &["--slot", "app1", app.to_str().unwrap()]);
    assert!(ok, "{out}");
    // Later chips have no v1.
    let (ok, out) = otaflash(&[
        "sim",
        "--chip",
        "esp32c3",
        "--flash",
        "/nonexistent/x.bin",
        "--listen",
        "127.0.0.1:0",
        "--security",
        "secure-boot-v1",
    ]);
    assert!(!ok && out.contains("ESP32 only"), "{out}");
}
