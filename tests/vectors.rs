//! Every reference vector (made by gen_esp32part.py, otatool.py, ESP-IDF's own C code and
//! esptool 5.6) decodes to what its JSON says; binary and CSV round trips are byte-exact.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{data, read};

use otaflash::formats::image::Image;
use otaflash::formats::otadata::{self, contents_unknown, predict_boot, Entry, OtaState, Otadata};
use otaflash::formats::partition::{Md5Status, PartitionTable, DEFAULT_TABLE_OFFSET};
use serde_json::Value;

fn json(rel: &str) -> Value {
    serde_json::from_slice(&read(rel)).unwrap()
}

fn hexnum(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().unwrap(),
        Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap(),
        other => panic!("not a number: {other}"),
    }
}

fn table(name: &str) -> PartitionTable {
    PartitionTable::parse(&read(&format!("partition_tables/{name}"))).unwrap()
}

#[test]
fn partition_tables_decode_as_gen_esp32part_says() {
    let expected = json("partition_tables/DECODED.json");
    let files = expected.as_object().unwrap();
    assert_eq!(files.len(), 3);
    for (file, want) in files {
        let bytes = read(&format!("partition_tables/{file}"));
        let t = PartitionTable::parse(&bytes).unwrap();
        let entries = want["entries"].as_array().unwrap();
        assert_eq!(t.entries.len(), entries.len(), "{file}");
        for (p, w) in t.entries.iter().zip(entries) {
            assert_eq!(p.name(), w["name"].as_str().unwrap(), "{file}");
            assert_eq!(p.ty as u64, hexnum(&w["type"]));
            assert_eq!(p.subtype as u64, hexnum(&w["subtype"]));
            assert_eq!(p.offset as u64, hexnum(&w["offset"]));
            assert_eq!(p.size as u64, hexnum(&w["size"]));
            assert_eq!(p.flags as u64, hexnum(&w["flags_u32"]));
            assert_eq!(p.encrypted(), w["encrypted"].as_bool().unwrap());
            assert_eq!(p.readonly(), w["readonly"].as_bool().unwrap());
            assert_eq!(
                otaflash::formats::hex(&p.to_row()),
                w["raw_hex"].as_str().unwrap()
            );
        }
        assert_eq!(t.md5, Md5Status::Ok, "{file}");
        assert!(want["md5_ok"].as_bool().unwrap());
        // binary -> model -> binary
        assert_eq!(t.to_bytes().unwrap(), bytes, "{file}: binary round trip");
        // binary -> CSV is what gen_esp32part.py wrote back
        let stem = file.trim_end_matches(".bin");
        let roundtrip_csv =
            String::from_utf8(read(&format!("partition_tables/{stem}.roundtrip.csv"))).unwrap();
        assert_eq!(t.to_csv(), roundtrip_csv, "{file}: to CSV");
        // CSV (the original input and the written-back one) -> binary
        for csv in [format!("{stem}.input.csv"), format!("{stem}.roundtrip.csv")] {
            let text = String::from_utf8(read(&format!("partition_tables/{csv}"))).unwrap();
            let from_csv = PartitionTable::from_csv(&text, DEFAULT_TABLE_OFFSET).unwrap();
            assert_eq!(from_csv.to_bytes().unwrap(), bytes, "{csv} -> binary");
        }
        assert!(
            t.findings(&Default::default()).is_empty(),
            "{file}: {:?}",
            t.findings(&Default::default())
        );
    }
}

/// The two upstream layouts that come without a binary: the offsets below follow from
/// gen_esp32part.py's rules (blank offset = previous end, padded to 0x10000 for app and 0x1000
/// for data; 1700K = 0x1A9000), and the CSV it would write back.
#[test]
fn upstream_layouts_without_binaries() {
    let text = String::from_utf8(read("partition_tables/idf_two_ota_encr_nvs.input.csv")).unwrap();
    let t = PartitionTable::from_csv(&text, DEFAULT_TABLE_OFFSET).unwrap();
    let got: Vec<(String, u32, u32, u32)> = t
        .entries
        .iter()
        .map(|p| (p.name(), p.offset, p.size, p.flags))
        .collect();
    let want = [
        ("nvs", 0x9000, 0x4000, 0),
        ("otadata", 0xD000, 0x2000, 0),
        ("phy_init", 0xF000, 0x1000, 0),
        ("factory", 0x10000, 0x100000, 0),
        ("ota_0", 0x110000, 0x100000, 0),
        ("ota_1", 0x210000, 0x100000, 0),
        ("nvs_key", 0x310000, 0x1000, 1),
    ];
    assert_eq!(got, want.map(|(n, o, s, f)| (n.to_string(), o, s, f)));
    assert!(t
        .to_csv()
        .ends_with("nvs_key,data,nvs_keys,0x310000,4K,encrypted\n"));
    let bin = t.to_bytes().unwrap();
    assert_eq!(PartitionTable::parse(&bin).unwrap(), t);

    let text = String::from_utf8(read("partition_tables/idf_two_ota_large.input.csv")).unwrap();
    let t = PartitionTable::from_csv(&text, DEFAULT_TABLE_OFFSET).unwrap();
    let got: Vec<(u32, u32)> = t.entries.iter().map(|p| (p.offset, p.size)).collect();
    assert_eq!(
        got,
        [
            (0x9000, 0x6000),
            (0xF000, 0x2000),
            (0x11000, 0x1000),
            (0x20000, 0x1A9000),
            (0x1D0000, 0x1A9000)
        ]
    );
    assert!(t.to_csv().contains("ota_0,app,ota_0,0x20000,1700K,\n"));
}

fn sector_matches(file: &str, got: &Entry, want: &Value) {
    assert_eq!(got.seq as u64, want["ota_seq"].as_u64().unwrap(), "{file}");
    assert_eq!(
        otadata::state_name(got.state),
        want["ota_state_name"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        "{file}"
    );
    assert_eq!(got.crc as u64, hexnum(&want["crc"]), "{file}");
    assert_eq!(
        got.valid(),
        want["bootloader_valid"].as_bool().unwrap(),
        "{file}"
    );
}

#[test]
fn otadata_decodes_and_boots_as_the_idf_bootloader_does() {
    let expected = json("otadata/EXPECTED.json");
    let mut checked = 0;
    for (file, want) in expected.as_object().unwrap() {
        let o = Otadata::parse(&read(&format!("otadata/{file}"))).unwrap();
        for (i, w) in want["decoded"].as_array().unwrap().iter().enumerate() {
            let e = o.entry(i);
            sector_matches(file, &e, w);
            assert_eq!(e.crc_ok(), w["crc_ok"].as_bool().unwrap(), "{file}");
            assert_eq!(
                otaflash::formats::hex(&e.label),
                w["seq_label_hex"].as_str().unwrap()
            );
            assert_eq!(
                o.sector_tail_blank(i),
                w["rest_of_sector_all_ff"].as_bool().unwrap_or(true)
            );
        }
        for (key, b) in want["boot"].as_object().unwrap() {
            let parts: Vec<&str> = key.split('|').collect();
            let t = table(match parts[0] {
                "two_ota" => "idf_two_ota.bin",
                "arduino_default" => "arduino_default.bin",
                other => panic!("unknown table {other}"),
            });
            let rollback = parts[2] == "rollback_on";
            let boot = predict_boot(&t, &o, rollback, &contents_unknown);
            let p = boot.booted_partition(&t).unwrap();
            assert_eq!(p.name(), b["booted"].as_str().unwrap(), "{file} {key}");
            assert_eq!(p.offset as u64, hexnum(&b["booted_offset"]), "{file} {key}");
            let idx = match boot.selected {
                otadata::Selected::Factory => -1,
                otadata::Selected::Ota(n) => n as i64,
            };
            assert_eq!(idx, b["selected_index"].as_i64().unwrap(), "{file} {key}");
            assert_eq!(
                !boot.writes.is_empty(),
                b["otadata_rewritten_by_bootloader"].as_bool().unwrap(),
                "{file} {key}"
            );
            if let Some(after) = b.get("after_boot") {
                for (i, w) in after.as_array().unwrap().iter().enumerate() {
                    sector_matches(file, &boot.after.entry(i), w);
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 24);
}

/// Our set-boot entries are byte-identical to what ESP-IDF's esp_ota_set_boot_partition and
/// otatool.py write (they write one sector, we write the same entry to both).
#[test]
fn set_boot_entries_match_idf_and_otatool() {
    let two_ota = table("idf_two_ota.bin");
    let arduino = table("arduino_default.bin");
    let blank = Otadata::parse(&read("otadata/blank.bin")).unwrap();
    let set0 = Otadata::parse(&read("otadata/idf_master_set_ota0.bin")).unwrap();
    let set01 = Otadata::parse(&read("otadata/idf_master_set_ota0_ota1.bin")).unwrap();
    let tool1 = Otadata::parse(&read("otadata/otatool_blank_to_slot1.bin")).unwrap();

    let ours = otadata::set_boot(&two_ota, &blank, "ota_0", OtaState::Undefined).unwrap();
    assert_eq!(ours.sector(0), set0.sector(0));
    assert_eq!(ours.sector(1), set0.sector(0), "matched sectors");
    let ours = otadata::set_boot(&two_ota, &set0, "ota_1", OtaState::Undefined).unwrap();
    assert_eq!(ours.sector(0), set01.sector(1));
    assert_eq!(ours.sector(1), set01.sector(1));
    let ours = otadata::set_boot(&arduino, &blank, "app1", OtaState::Undefined).unwrap();
    assert_eq!(ours.sector(0), tool1.sector(0));
    for o in [&set0, &set01, &tool1] {
        let boot = predict_boot(&two_ota, o, false, &contents_unknown);
        let again = otadata::set_boot(
            &two_ota,
            o,
            &boot.booted_partition(&two_ota).unwrap().name(),
            OtaState::Undefined,
        )
        .unwrap();
        assert_eq!(
            again.active().map(|a| again.entry(a).seq),
            o.active().map(|a| o.entry(a).seq),
            "re-selecting the booted slot keeps its seq"
        );
    }
}

fn info_line<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no '{key}' in image-info output"))
        .trim()
}

#[test]
fn app_images_decode_as_esptool_says() {
    let expected = json("app_images/IMAGES.json");
    for (file, want) in expected.as_object().unwrap() {
        let bytes = read(&format!("app_images/esptool_test_images/{file}"));
        let img = Image::parse(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        // An app for a flash slot has segments the cache maps from flash: exactly the images
        // whose segments `esptool image-info` labels IROM or DROM.
        let info = std::fs::read_to_string(data(&format!(
            "app_images/image_info/{}.txt",
            file.trim_end_matches(".bin")
        )))
        .unwrap();
        assert_eq!(
            img.is_app(),
            info.contains("IROM") || info.contains("DROM"),
            "{file}"
        );
        assert_eq!(
            img.chip().unwrap().name,
            want["chip_arg"].as_str().unwrap(),
            "{file}"
        );
        assert_eq!(
            img.header.chip_id as u64,
            hexnum(&want["chip_id"]),
            "{file}"
        );
        assert_eq!(
            img.header.entry as u64,
            hexnum(&want["entry_addr"]),
            "{file}"
        );
        assert_eq!(
            img.header.flash_mode as u64,
            hexnum(&want["spi_mode_byte"]),
            "{file}"
        );
        assert_eq!(
            img.header.min_rev_full as u64,
            hexnum(&want["min_rev_full"]),
            "{file}"
        );
        assert_eq!(
            img.header.max_rev_full as u64,
            hexnum(&want["max_rev_full"]),
            "{file}"
        );
        assert_eq!(
            img.hash_appended(),
            want["hash_appended"].as_u64() == Some(1),
            "{file}"
        );
        let segs = want["segments"].as_array().unwrap();
        assert_eq!(img.segments.len(), segs.len(), "{file}");
        for (s, w) in img.segments.iter().zip(segs) {
            assert_eq!(s.load_addr as u64, hexnum(&w["load_addr"]));
            assert_eq!(s.len as u64, hexnum(&w["data_len"]));
            assert_eq!(s.data_offset as u64, hexnum(&w["file_offs_of_data"]));
        }
        assert_eq!(
            img.checksum_stored as u64,
            hexnum(&want["checksum_stored"]),
            "{file}"
        );
        assert!(img.checksum_ok(), "{file}");
        assert_eq!(
            img.checksum_offset as u64,
            hexnum(&want["checksum_byte_file_offset"]),
            "{file}"
        );
        assert_eq!(
            img.sha256_ok(),
            want.get("sha256_valid").and_then(Value::as_bool),
            "{file}"
        );
        assert_eq!(img.len, bytes.len(), "{file}");
        match want.get("app_desc@0x20") {
            Some(d) => {
                let app = img.app.as_ref().expect("app desc");
                assert_eq!(app.project_name, d["project_name"].as_str().unwrap());
                assert_eq!(app.version, d["version"].as_str().unwrap());
                assert_eq!(app.idf_ver, d["idf_ver"].as_str().unwrap());
                assert_eq!(app.date, d["date"].as_str().unwrap());
                assert_eq!(app.time, d["time"].as_str().unwrap());
                assert_eq!(
                    app.secure_version as u64,
                    d["secure_version"].as_u64().unwrap()
                );
                assert_eq!(
                    otaflash::formats::hex(&app.app_elf_sha256),
                    d["app_elf_sha256"].as_str().unwrap()
                );
            }
            None => assert!(img.app.is_none(), "{file}"),
        }
        // What `esptool image-info` 5.6 printed for the same file.
        let info = String::from_utf8(read(&format!(
            "app_images/image_info/{}",
            file.replace(".bin", ".txt")
        )))
        .unwrap();
        assert_eq!(
            img.flash_size_name().unwrap(),
            info_line(&info, "Flash size:"),
            "{file}"
        );
        assert_eq!(
            img.flash_freq_name().unwrap(),
            info_line(&info, "Flash freq:"),
            "{file}"
        );
        assert_eq!(
            img.flash_mode_name().to_uppercase(),
            info_line(&info, "Flash mode:"),
            "{file}"
        );
        assert_eq!(
            img.segments.len().to_string(),
            info_line(&info, "Segments:"),
            "{file}"
        );
        assert_eq!(
            format!(
                "ESP32{}",
                img.chip().unwrap().pretty.trim_start_matches("ESP32")
            ),
            info_line(&info, "Detected image type:"),
            "{file}"
        );
    }
}

#[test]
fn real_esp32_firmware() {
    let hello = Image::parse(&read("firmware/idf-v5.2.2_hello_world.bin")).unwrap();
    assert_eq!(hello.chip().unwrap().name, "esp32");
    assert_eq!(hello.segments.len(), 5);
    assert_eq!(
        (
            hello.flash_mode_name(),
            hello.flash_freq_name(),
            hello.flash_size_name()
        ),
        ("dio", Some("40m"), Some("2MB"))
    );
    assert!(hello.checksum_ok() && hello.sha256_ok() == Some(true));
    assert_eq!(hello.app.as_ref().unwrap().project_name, "hello_world");
    assert_eq!(hello.app.as_ref().unwrap().idf_ver, "v5.2.2-dirty");

    let sketch = Image::parse(&read("firmware/arduino_StartCounter.ino.bin")).unwrap();
    assert_eq!(sketch.segments.len(), 8);
    assert_eq!(sketch.segments[0].load_addr, 0);
    assert!(sketch.checksum_ok());
    // No esp_app_desc (an old Arduino core), yet an app: it runs from flash.
    assert!(sketch.app.is_none() && sketch.is_app());
    assert!(hello.is_app());
    assert_eq!(
        (sketch.flash_freq_name(), sketch.flash_size_name()),
        (Some("80m"), Some("4MB"))
    );

    for bl in [
        "idf-v5.2.2_bootloader.bin",
        "idf-v5.2.2_bootloader_4MB.bin",
        "arduino_bootloader_dio_40m.bin",
    ] {
        let b = Image::parse(&read(&format!("firmware/{bl}"))).unwrap();
        assert!(b.checksum_ok() && b.sha256_ok() != Some(false), "{bl}");
        assert!(
            b.app.is_none() && !b.is_app(),
            "{bl}: a bootloader, not an app"
        );
    }
    assert_eq!(
        Image::parse(&read("firmware/idf-v5.2.2_bootloader_4MB.bin"))
            .unwrap()
            .flash_size_name(),
        Some("4MB")
    );

    let ard = PartitionTable::parse(&read("firmware/arduino_partitions_default.bin")).unwrap();
    let names: Vec<(String, String)> = ard
        .entries
        .iter()
        .map(|p| (p.name(), p.subtype_name()))
        .collect();
    assert_eq!(names[4], ("eeprom".into(), "153".into()));
    // SOURCES.md says this table ends with an MD5 row; the bytes say otherwise (row 6 is the
    // end marker), as old Arduino tables were made before gen_esp32part.py added MD5 rows.
    assert_eq!(ard.md5, Md5Status::Absent);
    assert_eq!(
        ard.to_bytes().unwrap(),
        read("firmware/arduino_partitions_default.bin")
    );
    let boot_app0 = Otadata::parse(&read("firmware/arduino_boot_app0.bin")).unwrap();
    let boot = predict_boot(&ard, &boot_app0, false, &contents_unknown);
    assert_eq!(boot.booted_partition(&ard).unwrap().name(), "app0");
    assert!(boot.writes.is_empty());

    let factory =
        PartitionTable::parse(&read("firmware/idf-v5.2.2_partition-table_factory.bin")).unwrap();
    assert!(factory.otadata().is_none());
    assert_eq!(
        factory.to_bytes().unwrap(),
        read("firmware/idf-v5.2.2_partition-table_factory.bin")
    );
}
