//! The `otaflash` binary: JSON contract, CSV conversion, otadata edits, bad input (clear
//! message, non-zero exit, no output file), and cross-checks against esptool 5.6 itself.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::data;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn otaflash(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_otaflash"))
        .args(args)
        .output()
        .unwrap()
}

fn ok_json(args: &[&str]) -> Value {
    let out = otaflash(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn fails(args: &[&str], needle: &str) {
    let out = otaflash(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} should fail; stderr: {err}"
    );
    assert!(
        err.contains(needle),
        "{args:?}: expected '{needle}' in: {err}"
    );
    // The refusal goes to stderr (stdout may describe the input first, as `image` does).
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(needle),
        "{args:?}: the refusal is on stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn partitions_json_contract() {
    let v = ok_json(&[
        "partitions",
        p(&data("partition_tables/idf_two_ota.bin")),
        "--json",
    ]);
    assert_eq!(v["md5"], "ok");
    assert_eq!(v["warnings"].as_array().unwrap().len(), 0);
    let e = &v["entries"][4];
    for key in [
        "label",
        "type",
        "subtype",
        "type_name",
        "subtype_name",
        "offset",
        "size",
        "encrypted",
        "readonly",
    ] {
        assert!(e.get(key).is_some(), "missing {key}");
    }
    assert_eq!(e["label"], "ota_0");
    assert_eq!(e["type"], 0);
    assert_eq!(e["subtype"], 0x10);
    assert_eq!(e["type_name"], "app");
    assert_eq!(e["subtype_name"], "ota_0");
    assert_eq!(e["offset"], 0x110000);
    assert_eq!(e["size"], 0x100000);
    assert_eq!(e["encrypted"], false);

    // A table without MD5 row, with a custom subtype.
    let v = ok_json(&[
        "partitions",
        p(&data("firmware/arduino_partitions_default.bin")),
        "--json",
    ]);
    assert_eq!(v["md5"], "absent");
    assert_eq!(v["entries"][4]["subtype_name"], "153");

    // MD5 mismatch is reported, with a warning.
    let dir = tempfile::tempdir().unwrap();
    let mut t = std::fs::read(data("partition_tables/idf_two_ota.bin")).unwrap();
    t[40] ^= 0x10;
    let bad = dir.path().join("bad.bin");
    std::fs::write(&bad, &t).unwrap();
    let v = ok_json(&["partitions", p(&bad), "--json"]);
    assert_eq!(v["md5"], "mismatch");
    assert!(v["warnings"][0].as_str().unwrap().contains("MD5"));
}

#[test]
fn csv_both_ways_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    for stem in ["idf_two_ota", "arduino_default", "idf_singleapp"] {
        let bin = data(&format!("partition_tables/{stem}.bin"));
        let out = otaflash(&["partitions", p(&bin), "--to-csv"]);
        assert!(out.status.success());
        let want = std::fs::read(data(&format!("partition_tables/{stem}.roundtrip.csv"))).unwrap();
        assert_eq!(out.stdout, want, "{stem} to CSV");
        let made = dir.path().join(format!("{stem}.bin"));
        let out = otaflash(&[
            "partitions",
            p(&data(&format!("partition_tables/{stem}.input.csv"))),
            "--from-csv",
            "-o",
            p(&made),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read(&made).unwrap(),
            std::fs::read(&bin).unwrap(),
            "{stem} from CSV"
        );
    }
    // Refused like gen_esp32part.py refuses: nothing written.
    let csv = dir.path().join("overlap.csv");
    std::fs::write(&csv, "a,data,nvs,0x9000,0x4000\nb,data,phy,0xa000,0x1000\n").unwrap();
    let out_bin = dir.path().join("overlap.bin");
    fails(
        &["partitions", p(&csv), "--from-csv", "-o", p(&out_bin)],
        "overlap",
    );
    assert!(!out_bin.exists());
}

#[test]
fn otadata_json_contract_and_prediction() {
    let v = ok_json(&[
        "otadata",
        p(&data("otadata/idf_master_set_ota0_ota1.bin")),
        "--table",
        p(&data("partition_tables/idf_two_ota.bin")),
        "--json",
    ]);
    let s = &v["sectors"][1];
    for key in ["seq", "state", "state_raw", "crc", "crc_ok", "valid"] {
        assert!(s.get(key).is_some(), "missing {key}");
    }
    assert_eq!(s["seq"], 2);
    assert_eq!(s["state"], "undefined");
    assert_eq!(s["state_raw"], 0xFFFF_FFFFu32);
    assert_eq!(s["crc"], 0x55F6_3774);
    assert_eq!(v["active_sector"], 1);
    assert_eq!(v["boot"]["label"], "ota_1");
    assert_eq!(v["boot"]["offset"], 0x210000);
    assert_eq!(v["selected"]["label"], "ota_1");
    // otadata and a table say nothing of what the slots hold: said so.
    assert_eq!(v["boot_certain"], false);
    assert_eq!(v["fallback"], Value::Null);

    let v = ok_json(&[
        "otadata",
        p(&data("otadata/blank.bin")),
        "--table",
        p(&data("partition_tables/idf_two_ota.bin")),
        "--json",
    ]);
    assert_eq!(v["active_sector"], Value::Null);
    assert_eq!(v["boot"]["label"], "factory");
    assert_eq!(v["sectors"][0]["valid"], false);
}

#[test]
fn rollback_shows_what_the_bootloader_sees() {
    let dir = tempfile::tempdir().unwrap();
    let table = data("partition_tables/idf_two_ota.bin");
    let pending = dir.path().join("pending.bin");
    let out = otaflash(&[
        "otadata",
        p(&data("otadata/idf_master_set_ota0.bin")),
        "--table",
        p(&table),
        "--set-boot",
        "ota_1",
        "--state",
        "pending_verify",
        "-o",
        p(&pending),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let off = ok_json(&["otadata", p(&pending), "--table", p(&table), "--json"]);
    assert_eq!(off["sectors"][0]["state"], "pending_verify");
    assert_eq!(off["boot"]["label"], "ota_1");
    let on = ok_json(&[
        "otadata",
        p(&pending),
        "--table",
        p(&table),
        "--json",
        "--rollback",
    ]);
    assert_eq!(on["sectors"][0]["state"], "aborted");
    assert_eq!(on["sectors"][1]["state"], "aborted");
    assert_eq!(on["sectors"][0]["valid"], false);
    assert_eq!(on["boot"]["label"], "factory");
}

#[test]
fn otadata_edits() {
    let dir = tempfile::tempdir().unwrap();
    let table = data("partition_tables/idf_two_ota.bin");
    let out1 = dir.path().join("o1.bin");
    let res = otaflash(&[
        "otadata",
        p(&data("otadata/idf_master_set_ota0.bin")),
        "--table",
        p(&table),
        "--set-boot",
        "ota_1",
        "-o",
        p(&out1),
    ]);
    assert!(res.status.success());
    let o = std::fs::read(&out1).unwrap();
    assert_eq!(o.len(), 8192);
    assert_eq!(&o[..32], &o[0x1000..0x1020], "matched sectors");
    let v = ok_json(&["otadata", p(&out1), "--table", p(&table), "--json"]);
    assert_eq!(v["sectors"][0]["seq"], 2);
    assert_eq!(v["sectors"][0]["state"], "undefined");
    assert_eq!(&o[4..24], &[0xFF; 20], "label bytes 0xFF");
    assert_eq!(v["boot"]["label"], "ota_1");

    // Mark the running entry valid, then erase; factory means erase too.
    let out2 = dir.path().join("o2.bin");
    assert!(otaflash(&[
        "otadata",
        p(&out1),
        "--table",
        p(&table),
        "--mark-valid",
        "-o",
        p(&out2)
    ])
    .status
    .success());
    let v = ok_json(&["otadata", p(&out2), "--table", p(&table), "--json"]);
    assert_eq!(v["sectors"][0]["state"], "valid");
    let out3 = dir.path().join("o3.bin");
    assert!(otaflash(&[
        "otadata",
        p(&out2),
        "--table",
        p(&table),
        "--erase",
        "-o",
        p(&out3)
    ])
    .status
    .success());
    assert_eq!(std::fs::read(&out3).unwrap(), vec![0xFF; 8192]);
    let out4 = dir.path().join("o4.bin");
    assert!(otaflash(&[
        "otadata",
        p(&out2),
        "--table",
        p(&table),
        "--set-boot",
        "factory",
        "-o",
        p(&out4)
    ])
    .status
    .success());
    assert_eq!(std::fs::read(&out4).unwrap(), vec![0xFF; 8192]);
}

#[test]
fn otadata_refusals_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.bin");
    let table = data("partition_tables/idf_two_ota.bin");
    let gap_csv = dir.path().join("gap.csv");
    std::fs::write(
        &gap_csv,
        "otadata,data,ota,0xd000,0x2000\na,app,ota_0,,1M\nc,app,ota_2,,1M\n",
    )
    .unwrap();
    let gap = dir.path().join("gap.bin");
    assert!(
        otaflash(&["partitions", p(&gap_csv), "--from-csv", "-o", p(&gap)])
            .status
            .success()
    );
    let blank = data("otadata/blank.bin");
    fails(
        &[
            "otadata",
            p(&blank),
            "--table",
            p(&gap),
            "--set-boot",
            "c",
            "-o",
            p(&out),
        ],
        "never reaches ota_2",
    );
    fails(
        &[
            "otadata",
            p(&blank),
            "--table",
            p(&table),
            "--set-boot",
            "nvs",
            "-o",
            p(&out),
        ],
        "not an OTA app slot",
    );
    fails(
        &[
            "otadata",
            p(&blank),
            "--table",
            p(&table),
            "--set-boot",
            "nope",
            "-o",
            p(&out),
        ],
        "no partition named",
    );
    let mut high = vec![0xFF; 8192];
    high[..4].copy_from_slice(&0xFFFF_FFFEu32.to_le_bytes());
    high[28..32].copy_from_slice(&0x99F8_B879u32.to_le_bytes());
    let high_path = dir.path().join("high.bin");
    std::fs::write(&high_path, &high).unwrap();
    fails(
        &[
            "otadata",
            p(&high_path),
            "--table",
            p(&table),
            "--set-boot",
            "ota_0",
            "-o",
            p(&out),
        ],
        "--erase",
    );
    fails(
        &[
            "otadata",
            p(&blank),
            "--table",
            p(&table),
            "--mark-valid",
            "-o",
            p(&out),
        ],
        "no valid entry",
    );
    // Wrong kinds of file.
    fails(
        &["otadata", p(&table), "--table", p(&table)],
        "not an 8 KiB otadata image",
    );
    fails(
        &["otadata", p(&blank), "--table", p(&blank)],
        "not a partition table",
    );
    let truncated = dir.path().join("short.bin");
    std::fs::write(&truncated, &high[..100]).unwrap();
    fails(
        &["otadata", p(&truncated), "--table", p(&table)],
        "not an 8 KiB otadata image",
    );
    fails(&["otadata", p(&blank)], "--table");
    assert!(!out.exists(), "nothing written");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 4, "no stray temporary files: {names:?}");
}

#[test]
fn image_json_contract() {
    let v = ok_json(&[
        "image",
        p(&data(
            "app_images/esptool_test_images/esp_idf_blink_esp32s2.bin",
        )),
        "--json",
    ]);
    for key in [
        "chip",
        "chip_id",
        "entry",
        "segments",
        "flash_mode",
        "flash_freq",
        "flash_size",
        "checksum_ok",
        "hash_appended",
        "sha256_ok",
        "min_rev_full",
        "max_rev_full",
        "app",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["chip"], "esp32s2");
    assert_eq!(v["chip_id"], 2);
    assert_eq!(v["app"]["project_name"], "blink");
    assert_eq!(v["app"]["secure_version"], 0);
    assert_eq!(v["sha256_ok"], true);
    assert!(v["segments"][0]["load_addr"].is_u64() && v["segments"][0]["len"].is_u64());

    let v = ok_json(&[
        "image",
        p(&data("app_images/esptool_test_images/bootloader_esp32.bin")),
        "--json",
    ]);
    assert_eq!(v["sha256_ok"], Value::Null);
    assert_eq!(v["app"], Value::Null);
    assert_eq!(v["flash_mode"], "dio");

    let v = ok_json(&[
        "image",
        p(&data(
            "app_images/esptool_test_images/helloworld-esp32c6.bin",
        )),
        "--json",
    ]);
    assert_eq!(
        (v["chip"].as_str(), v["flash_freq"].as_str()),
        (Some("esp32c6"), Some("80m"))
    );

    // Checks for a target.
    let hello = data("firmware/idf-v5.2.2_hello_world.bin");
    assert!(otaflash(&[
        "image",
        p(&hello),
        "--chip",
        "esp32",
        "--slot-size",
        "0x100000"
    ])
    .status
    .success());
    fails(
        &["image", p(&hello), "--chip", "esp32s3"],
        "built for ESP32",
    );
    fails(
        &["image", p(&hello), "--chip", "esp32", "--slot-size", "64K"],
        "larger than",
    );
}

#[test]
fn image_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    // What the file is comes first, in plain words; the technical detail after.
    fails(
        &["image", p(&data("partition_tables/idf_two_ota.bin"))],
        "error: This is a partition table, not a firmware image. (an image starts with the magic byte 0xE9; this starts with 0xAA.)",
    );
    fails(
        &["image", p(&data("otadata/blank.bin"))],
        "This is an otadata partition, not a firmware image",
    );
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "flash app0 tomorrow\n").unwrap();
    fails(
        &["image", p(&text)],
        "error: This is a text file, not a firmware image.",
    );
    let hello = std::fs::read(data("firmware/idf-v5.2.2_hello_world.bin")).unwrap();
    let cut = dir.path().join("cut.bin");
    std::fs::write(&cut, &hello[..50_000]).unwrap();
    fails(&["image", p(&cut)], "truncated");
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"").unwrap();
    fails(&["image", p(&empty)], "empty");
    fails(
        &["image", p(&dir.path().join("missing.bin"))],
        "cannot read",
    );
    fails(
        &[
            "partitions",
            p(&data("firmware/idf-v5.2.2_hello_world.bin")),
        ],
        "partition table",
    );
}

fn esptool(args: &[&str]) -> String {
    String::from_utf8(common::esptool(args).stdout).unwrap()
}

/// `esptool image-info`, run now, agrees with `otaflash image` on every real firmware file.
#[test]
fn esptool_image_info_agrees() {
    for f in std::fs::read_dir(data("firmware")).unwrap() {
        let path = f.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.contains("partition") || name.contains("boot_app0") {
            continue;
        }
        let info = esptool(&["image-info", p(&path)]);
        let line = |k: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|s| s.trim().to_string())
        };
        let v = ok_json(&["image", p(&path), "--json"]);
        assert_eq!(
            line("Flash size:").as_deref(),
            v["flash_size"].as_str(),
            "{name}"
        );
        assert_eq!(
            line("Flash freq:").as_deref(),
            v["flash_freq"].as_str(),
            "{name}"
        );
        assert_eq!(
            line("Flash mode:"),
            v["flash_mode"].as_str().map(str::to_uppercase),
            "{name}"
        );
        assert_eq!(
            line("Segments:"),
            Some(v["segments"].as_array().unwrap().len().to_string()),
            "{name}"
        );
        assert_eq!(
            info.contains("Checksum: ") && info.contains("(valid)"),
            v["checksum_ok"] == true,
            "{name}"
        );
        if let Some(p) = v["app"]["project_name"].as_str() {
            assert!(
                info.contains(&format!("Project name: {p}")),
                "{name}: {info}"
            );
        }
    }
}

/// A full flash dump made by `esptool merge-bin` (bootloader, table, otadata, apps): the table
/// and otadata are found inside it, and the slots' images decide what boots.
#[test]
fn flash_dump_from_esptool_merge_bin() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("flash.bin");
    let fw = |n: &str| data(&format!("firmware/{n}")).to_str().unwrap().to_string();
    let args = [
        "--chip",
        "esp32",
        "merge-bin",
        "-o",
        p(&dump),
        "--pad-to-size",
        "4MB",
        "0x1000",
        &fw("idf-v5.2.2_bootloader_4MB.bin"),
        "0x8000",
        &fw("arduino_partitions_default.bin"),
        "0xe000",
        &fw("arduino_boot_app0.bin"),
        "0x10000",
        &fw("idf-v5.2.2_hello_world.bin"),
        "0x150000",
        &fw("arduino_StartCounter.ino.bin"),
    ];
    esptool(&args);
    let v = ok_json(&["partitions", p(&dump), "--json"]);
    assert_eq!(v["entries"][2]["label"], "app0");
    assert!(v["warnings"].as_array().unwrap().is_empty(), "{v}");
    let v = ok_json(&["otadata", p(&dump), "--json"]);
    assert_eq!(v["active_sector"], 0);
    assert_eq!(v["boot"]["label"], "app0");
    // Make app1 boot next, write the new otadata into the dump, and check again.
    let od = dir.path().join("od.bin");
    assert!(
        otaflash(&["otadata", p(&dump), "--set-boot", "app1", "-o", p(&od)])
            .status
            .success()
    );
    let mut bytes = std::fs::read(&dump).unwrap();
    bytes[0xE000..0x10000].copy_from_slice(&std::fs::read(&od).unwrap());
    std::fs::write(&dump, &bytes).unwrap();
    let v = ok_json(&["otadata", p(&dump), "--json"]);
    assert_eq!(v["boot"]["label"], "app1");
    assert_eq!(
        v["boot_certain"], true,
        "the dump holds the slots' images: judged whole"
    );
    assert_eq!(
        v["slots"][1]["app"]["project_name"],
        Value::Null,
        "an Arduino app without a description"
    );
    assert_eq!(v["slots"][1]["holds"], "app");
    assert_eq!(v["slots"][1]["loads"], "yes");
    // Corrupt app1's image: the bootloader skips it and boots app0, and says why.
    bytes[0x150000 + 0x100] ^= 0xFF;
    std::fs::write(&dump, &bytes).unwrap();
    let v = ok_json(&["otadata", p(&dump), "--json"]);
    assert_eq!(v["boot"]["label"], "app0");
    assert_eq!(v["selected"]["label"], "app1");
    assert_eq!(v["fallback"], "app1 is corrupt → app0 boots");
    assert_eq!(v["slots"][1]["loads"], "no");
    // Erase app1: "empty", in the text output too; booting it is refused (unless forced).
    bytes[0x150000..0x290000].fill(0xFF);
    std::fs::write(&dump, &bytes).unwrap();
    let od3 = dir.path().join("od3.bin");
    fails(
        &["otadata", p(&dump), "--set-boot", "app1", "-o", p(&od3)],
        "'app1' would not boot: it is empty",
    );
    assert!(!od3.exists(), "nothing written");
    assert!(otaflash(&[
        "otadata",
        p(&dump),
        "--set-boot",
        "app1",
        "--force",
        "-o",
        p(&od3)
    ])
    .status
    .success());
    let out = otaflash(&["otadata", p(&dump)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("otadata selects: app1"), "{text}");
    assert!(
        text.contains("boots: app0 at 0x10000 (app1 is empty → app0 boots)"),
        "{text}"
    );
    // Mark the running app invalid in a dump whose sectors are matched: back to app0.
    let matched = dir.path().join("matched.bin");
    bytes[0x150000
        ..0x150000
            + std::fs::read(fw("arduino_StartCounter.ino.bin"))
                .unwrap()
                .len()]
        .copy_from_slice(&std::fs::read(fw("arduino_StartCounter.ino.bin")).unwrap());
    std::fs::write(&matched, &bytes).unwrap();
    let od2 = dir.path().join("od2.bin");
    assert!(
        otaflash(&["otadata", p(&matched), "--mark-invalid", "-o", p(&od2)])
            .status
            .success()
    );
    bytes[0xE000..0x10000].copy_from_slice(&std::fs::read(&od2).unwrap());
    std::fs::write(&matched, &bytes).unwrap();
    let v = ok_json(&["otadata", p(&matched), "--json"]);
    assert_eq!(v["boot"]["label"], "app0", "{v}");
}

/// Every subcommand's help prints (clap checks each command's arguments when it is built, so
/// this catches a clash such as a second `--version`).
#[test]
fn every_subcommand_has_help() {
    for sub in [
        "partitions",
        "otadata",
        "image",
        "info",
        "flash",
        "read",
        "write",
        "install",
        "erase",
        "nvs",
        "sim",
    ] {
        let out = otaflash(&[sub, "--help"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("Usage:"),
            "{sub}: {text}"
        );
    }
}

/// The image rules checked from outside: images built by esptool (IDF's and `elf2image`'s),
/// damaged as a flash or a download damages them — a data byte, the checksum byte, the
/// appended SHA-256 — get the same verdicts from `esptool image-info` (checksum and hash
/// valid or invalid) and from otaflash, and otaflash refuses to write exactly those esptool
/// calls invalid.
#[test]
fn image_rules_agree_with_esptool_on_damaged_images() {
    use otaflash::formats::bootable::{check_slot_image, Target};
    let dir = tempfile::tempdir().unwrap();
    let images = [
        (
            "idf-esp32",
            std::fs::read(data("firmware/idf-v5.2.2_hello_world.bin")).unwrap(),
            otaflash::chips::ESP32,
        ),
        (
            "idf-esp32c3",
            std::fs::read(data("firmware/idf-v5.2.2_c3_hello_world.bin")).unwrap(),
            otaflash::chips::Chip::by_name("esp32c3").unwrap(),
        ),
        (
            "elf2image-esp32",
            common::images::app("esp32", "garden", "1.0.0", 40),
            otaflash::chips::ESP32,
        ),
        (
            "elf2image-esp32c3",
            common::images::app("esp32c3", "garden", "1.0.0", 40),
            otaflash::chips::Chip::by_name("esp32c3").unwrap(),
        ),
    ];
    let mut checked = 0;
    for (name, good, chip) in images {
        // The extended header's hash_appended flag (byte 23); the checksum byte ends the
        // padded segments, before the hash when there is one.
        let hashed = good[23] == 1;
        let checksum_at = good.len() - if hashed { 33 } else { 1 };
        let mut variants = vec![("as built", good.clone())];
        let mut data_byte = good.clone();
        data_byte[0x100] ^= 0x01;
        variants.push(("a data byte", data_byte));
        let mut sum = good.clone();
        sum[checksum_at] ^= 0x40;
        variants.push(("the checksum byte", sum));
        if hashed {
            let mut hash = good.clone();
            *hash.last_mut().unwrap() ^= 0x01;
            variants.push(("the appended hash", hash));
        }
        for (what, bytes) in variants {
            let path = dir.path().join(format!("{name}.bin"));
            std::fs::write(&path, &bytes).unwrap();
            let info = String::from_utf8_lossy(&common::esptool(&["image-info", p(&path)]).stdout)
                .to_string();
            let verdict = |k: &str| {
                let l = info.lines().find(|l| l.starts_with(k)).unwrap_or_else(|| {
                    panic!("{name}, {what}: no '{k}' in esptool's answer: {info}")
                });
                l.contains("(valid)")
            };
            let esptool_sum = verdict("Checksum:");
            let esptool_hash = if hashed {
                verdict("Validation hash:")
            } else {
                true
            };
            let v = ok_json(&["image", p(&path), "--json"]);
            assert_eq!(v["checksum_ok"], esptool_sum, "{name}, {what}: checksum");
            if hashed {
                assert_eq!(v["sha256_ok"], esptool_hash, "{name}, {what}: hash");
            }
            let (_, refusals) = check_slot_image(&bytes, None, Target::chip(chip, None));
            assert_eq!(
                refusals.is_empty(),
                esptool_sum && esptool_hash,
                "{name}, {what}: refused {refusals:?}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * 4, "every image, every damage");
}
