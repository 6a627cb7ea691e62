//! NVS against ESP-IDF's own generator (`nvs_partition_gen.py`, PyPI esp-idf-nvs-partition-gen
//! 0.3.0, which scripts/setup.sh installs): for varied CSVs — every type and its limits, many
//! namespaces, long strings, blobs over several pages, full pages, files, version 1, read-only
//! sizes, a repeated namespace row — otaflash's image is byte-identical to the tool's, and the
//! tool's image decodes to exactly the CSV's content.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use otaflash::formats::nvs::{self, text, Entry, Value, Version};
use std::path::Path;

/// Runs the pinned generator on `csv` (in `dir`, so file rows resolve there).
fn reference(dir: &Path, name: &str, csv: &str, size: u32, version: u8) -> Vec<u8> {
    let input = dir.join(format!("{name}.csv"));
    let output = dir.join(format!("{name}.bin"));
    std::fs::write(&input, csv).unwrap();
    let out = std::process::Command::new("python3")
        .current_dir(dir)
        .args(["-m", "esp_idf_nvs_partition_gen", "generate"])
        .args(["--version", &version.to_string()])
        .arg(&input)
        .arg(&output)
        .arg(format!("0x{size:x}"))
        .output()
        .expect("python3");
    assert!(
        out.status.success() && output.exists(),
        "nvs_partition_gen failed on {name} (scripts/setup.sh installs it): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(output).unwrap()
}

/// What the CSV means, worked out from the CSV alone (not by the generator under test).
fn meaning(dir: &Path, csv: &str) -> Vec<Entry> {
    let rows = text::rows_from_csv(csv, &|p| {
        std::fs::read(dir.join(p)).map_err(|e| e.to_string())
    })
    .unwrap();
    let (mut ns, mut names) = (String::new(), vec![]);
    let mut out: Vec<Entry> = vec![];
    for r in rows {
        let v = String::from_utf8_lossy(&r.value).into_owned();
        if r.kind == nvs::RowKind::Namespace {
            // A repeated namespace row does not change where the tool puts what follows.
            if !names.contains(&r.key) {
                names.push(r.key.clone());
                ns = r.key;
            }
            continue;
        }
        let value = match r.encoding.as_str() {
            "string" => Value::Str(v),
            "hex2bin" => Value::Blob(hex(v.trim())),
            "base64" => Value::Blob(unbase64(&v)),
            "binary" => Value::Blob(r.value.clone()),
            e if e.starts_with("blob_fill(") => {
                let mut b = r.value.clone();
                b.resize(120, 0x5A);
                Value::Blob(b)
            }
            t => Value::parse(t, &v).unwrap(),
        };
        out.push(Entry {
            namespace: ns.clone(),
            key: r.key,
            value,
        });
    }
    // Namespace by namespace, in the order they were made.
    let mut sorted = vec![];
    for n in &names {
        sorted.extend(out.iter().filter(|e| &e.namespace == n).cloned());
    }
    sorted
}

fn hex(t: &str) -> Vec<u8> {
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).unwrap())
        .collect()
}

fn unbase64(t: &str) -> Vec<u8> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys,base64;sys.stdout.write(base64.b64decode(sys.argv[1]).hex())",
            t,
        ])
        .output()
        .unwrap();
    hex(&String::from_utf8(out.stdout).unwrap())
}

/// Deterministic pseudo-random bytes.
fn bytes(seed: u32, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn csvs(dir: &Path) -> Vec<(&'static str, String, u32, u8)> {
    let head = "key,type,encoding,value\n";
    let mut all_types = format!("{head}# every type at its limits\nlimits,namespace,,\n");
    for (t, lo, hi) in [
        ("u8", "0", "255"),
        ("i8", "-128", "127"),
        ("u16", "0", "65535"),
        ("i16", "-32768", "32767"),
        ("u32", "0", "4294967295"),
        ("i32", "-2147483648", "2147483647"),
        ("u64", "0", "18446744073709551615"),
        ("i64", "-9223372036854775808", "9223372036854775807"),
    ] {
        all_types.push_str(&format!("{t}_lo,data,{t},{lo}\n{t}_hi,data,{t},{hi}\n"));
    }
    all_types.push_str(
        "text,namespace,,\n\
         plain,data,string,hello\n\
         empty,data,string,\n\
         comma,data,string,\"a, \"\"quoted\"\" value\"\n\
         utf8,data,string,grüße ✓\n\
         blobs,namespace,,\n\
         hex,data,hex2bin,00ff10ab\n\
         b64,data,base64,SGVsbG8sIE5WUyE=\n\
         filled,data,blob_fill(120;0x5A),abc\n",
    );
    // Long strings (the longest that fits a page: 3968 bytes with the NUL) and blobs over
    // several pages.
    let mut long = format!("{head}big,namespace,,\nsmall,data,u8,1\n");
    long.push_str(&format!("s3967,data,string,{}\n", "x".repeat(3967)));
    long.push_str(&format!("s1000,data,string,{}\n", "y".repeat(1000)));
    for (i, n) in [4000usize, 4001, 4032, 10_000, 20_000, 1]
        .iter()
        .enumerate()
    {
        long.push_str(&format!(
            "blob{i},data,hex2bin,{}\n",
            hexs(&bytes(i as u32 + 7, *n))
        ));
    }
    // Many namespaces, and pages filled to the last entry.
    let mut many = head.to_string();
    for n in 0..40 {
        many.push_str(&format!("ns{n},namespace,,\n"));
        for k in 0..9 {
            many.push_str(&format!("k{k},data,u32,{}\n", n * 100 + k));
        }
    }
    // A mix that puts strings and blobs at every position in a page.
    let mut mix = format!("{head}mix,namespace,,\n");
    let sizes = bytes(99, 400);
    for (i, &size) in sizes.iter().enumerate().take(150) {
        let n = size as usize * 9 % 1500;
        if i % 3 == 0 {
            mix.push_str(&format!("s{i},data,string,{}\n", "z".repeat(n % 300)));
        } else if i % 3 == 1 {
            mix.push_str(&format!(
                "b{i},data,hex2bin,{}\n",
                hexs(&bytes(i as u32, n))
            ));
        } else {
            mix.push_str(&format!("u{i},data,u16,{i}\n"));
        }
    }
    // Files next to the CSV, a repeated namespace row, and the Wi-Fi station defaults.
    std::fs::write(dir.join("cert.der"), bytes(5, 700)).unwrap();
    std::fs::write(dir.join("name.txt"), "device-42").unwrap();
    std::fs::write(dir.join("key.hex"), "0a0b0c0d\n").unwrap();
    let files = format!(
        "{head}first,namespace,,\ncert,file,binary,cert.der\nname,file,string,name.txt\n\
         keyhex,file,hex2bin,key.hex\nsecond,namespace,,\nx,data,u8,2\nfirst,namespace,,\n\
         y,data,u8,3\n"
    );
    let wifi = format!(
        "{head}nvs.net80211,namespace,,\nsta.ssid,data,string,field-ap\nsta.pswd,data,string,secret123\n"
    );
    let v1 = format!(
        "{head}v1,namespace,,\nn,data,i32,-7\nstr,data,string,{}\nblob,data,hex2bin,{}\n",
        "q".repeat(1500),
        hexs(&bytes(3, 1984))
    );
    let tiny = format!("{head}ro,namespace,,\nid,data,string,unit-0001\nrev,data,u8,3\n");
    vec![
        ("all_types", all_types, 0x6000, 2),
        ("long", long, 0x10000, 2),
        ("many", many, 0x8000, 2),
        ("mix", mix, 0x40000, 2),
        ("files", files, 0x3000, 2),
        ("wifi", wifi, 0x3000, 2),
        ("v1", v1, 0x5000, 1),
        ("read_only_4k", tiny.clone(), 0x1000, 2),
        ("read_only_8k", tiny, 0x2000, 2),
    ]
}

#[test]
fn images_are_byte_identical_to_nvs_partition_gen_and_decode_to_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    for (name, csv, size, version) in csvs(dir.path()) {
        let theirs = reference(dir.path(), name, &csv, size, version);
        let rows = text::rows_from_csv(&csv, &|p| {
            std::fs::read(dir.path().join(p)).map_err(|e| e.to_string())
        })
        .unwrap();
        let v = if version == 1 {
            Version::V1
        } else {
            Version::V2
        };
        let ours = nvs::generate(&rows, size, v).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ours.len(), theirs.len(), "{name}: length");
        if let Some(at) = ours.iter().zip(&theirs).position(|(a, b)| a != b) {
            panic!(
                "{name}: first difference at 0x{at:x} (page {}, entry {})",
                at / 4096,
                (at % 4096).saturating_sub(64) / 32
            );
        }
        let decoded = nvs::decode(&theirs);
        assert_eq!(decoded.problems, [], "{name}");
        if name == "wifi" {
            let keys: Vec<&str> = decoded.entries.iter().map(|e| e.key.as_str()).collect();
            assert_eq!(
                keys,
                ["sta.ssid", "sta.apinfo", "sta.pmk", "sta.apsw", "sta.pswd"]
            );
            continue;
        }
        assert_eq!(decoded.entries, meaning(dir.path(), &csv), "{name}");
    }
}

/// What the tool refuses, otaflash refuses too, with words instead of a traceback.
#[test]
fn refusals_match_the_tool() {
    let head = "key,type,encoding,value\nn,namespace,,\n";
    let none = |p: &str| -> Result<Vec<u8>, String> { Err(p.to_string()) };
    for (csv, size, why) in [
        (format!("{head}k,data,u8,256\n"), 0x3000, "does not fit"),
        (
            format!("{head}too_long_key_16b,data,u8,1\n"),
            0x3000,
            "at most 15",
        ),
        (
            format!("{head}s,data,string,{}\n", "x".repeat(4000)),
            0x3000,
            "longer than",
        ),
        // The tool stops with PageFullError on these (an item never spans pages).
        (
            format!("{head}s,data,string,{}\n", "x".repeat(3968)),
            0x3000,
            "do not fit in one NVS page",
        ),
        (
            format!("{head}b,data,hex2bin,{}\n", "00".repeat(12_000)),
            0x3000,
            "do not fit",
        ),
    ] {
        let rows = text::rows_from_csv(&csv, &none).unwrap();
        let e = nvs::generate(&rows, size, Version::V2)
            .unwrap_err()
            .to_string();
        assert!(e.contains(why), "{e}");
    }
    assert!(nvs::generate(&[], 0x3100, Version::V2)
        .unwrap_err()
        .to_string()
        .contains("whole number of 4 KiB pages"));
}

fn settings_csv() -> &'static str {
    "key,type,encoding,value\n\
     storage,namespace,,\n\
     name,data,string,unit-0001\n\
     count,data,u32,7\n\
     old,data,u8,1\n\
     cal,data,hex2bin,0011223344556677\n\
     wifi,namespace,,\n\
     ssid,data,string,shop-floor\n"
}

/// The CLI on a device (`otaflash sim` with an NVS partition the reference tool made): it shows
/// the settings (text and JSON as documented), edits a string and an integer, deletes a key
/// and adds one — after saving a backup of the partition — and the device's flash then decodes
/// to exactly the edited settings. A bad edit writes nothing.
#[test]
fn cli_reads_and_edits_nvs_on_a_device() {
    use common::*;
    let dir = tempfile::tempdir().unwrap();
    let image = reference(dir.path(), "settings", settings_csv(), 0x5000, 2);
    let mut flash = arduino_flash();
    flash[0x9000..0xE000].copy_from_slice(&image);
    let sim = Sim::start("none", Some(&flash));
    let url = format!("tcp://127.0.0.1:{}", sim.port);
    let (ok, out) = otaflash(&["nvs", "--port", &url, "--json"]);
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["namespaces"], serde_json::json!(["storage", "wifi"]));
    assert_eq!(
        v["entries"][1],
        serde_json::json!({"namespace": "storage", "key": "count", "type": "u32", "value": 7})
    );
    assert_eq!(v["entries"][3]["value"], "0011223344556677");
    assert_eq!(v["problems"], serde_json::json!([]));
    let (ok, out) = otaflash(&["nvs", "--port", &url]);
    assert!(
        ok && out.contains("count") && out.contains("7 (0x7)"),
        "{out}"
    );

    // A bad edit: nothing written.
    let before = sim.flash();
    let (ok, out) = otaflash(&["nvs", "--port", &url, "--set", "storage/count=u8:300"]);
    assert!(!ok && out.contains("does not fit a u8"), "{out}");
    assert!(sim.flash() == before);

    let backup = dir.path().join("backup.bin");
    let (ok, out) = otaflash(&[
        "nvs",
        "--port",
        &url,
        "--backup",
        backup.to_str().unwrap(),
        "--set",
        "storage/name=string:unit-0002",
        "--set",
        "storage/count=u32:0x2a",
        "--set",
        "wifi/channel=u8:11",
        "--delete",
        "storage/old",
    ]);
    assert!(ok && out.contains("written and verified"), "{out}");
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        image,
        "the backup is the partition before"
    );
    let after = nvs::decode(&sim.flash()[0x9000..0xE000]);
    assert_eq!(after.problems, []);
    assert_eq!(
        after.get("storage", "name"),
        Some(&Value::Str("unit-0002".into()))
    );
    assert_eq!(after.get("storage", "count"), Some(&Value::U32(42)));
    assert_eq!(after.get("storage", "old"), None);
    assert_eq!(after.get("wifi", "channel"), Some(&Value::U8(11)));
    assert_eq!(
        after.get("storage", "cal"),
        Some(&Value::Blob(vec![
            0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77
        ]))
    );
    // The rest of the flash is as it was.
    let f = sim.flash();
    assert!(f[..0x9000] == before[..0x9000] && f[0xE000..] == before[0xE000..]);
}

/// The CLI on files: a flash dump's NVS found through its table, shown as CSV, edited into a
/// new dump; a CSV made into an image byte-identical to the tool's; encrypted NVS refused.
#[test]
fn cli_on_files() {
    use common::*;
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let image = reference(dir.path(), "settings", settings_csv(), 0x5000, 2);
    let mut dump = arduino_flash();
    dump[0x9000..0xE000].copy_from_slice(&image);
    std::fs::write(p("dump.bin"), &dump).unwrap();
    let (ok, out) = otaflash(&["nvs", &p("dump.bin"), "--to-csv"]);
    assert!(ok, "{out}");
    assert!(
        out.starts_with(
            "key,type,encoding,value\nstorage,namespace,,\nname,data,string,unit-0001\n"
        ),
        "{out}"
    );
    // The CSV it prints makes the same image again, with otaflash and with the tool.
    std::fs::write(p("back.csv"), &out).unwrap();
    let (ok, msg) = otaflash(&[
        "nvs",
        "--from-csv",
        &p("back.csv"),
        "--size",
        "0x5000",
        "-o",
        &p("ours.bin"),
    ]);
    assert!(ok, "{msg}");
    assert_eq!(std::fs::read(p("ours.bin")).unwrap(), image);
    assert_eq!(reference(dir.path(), "back", &out, 0x5000, 2), image);
    // Edit the dump.
    let (ok, msg) = otaflash(&[
        "nvs",
        &p("dump.bin"),
        "--set",
        "wifi/ssid=string:lab",
        "-o",
        &p("dump2.bin"),
    ]);
    assert!(ok, "{msg}");
    let d2 = std::fs::read(p("dump2.bin")).unwrap();
    assert_eq!(
        nvs::decode(&d2[0x9000..0xE000]).get("wifi", "ssid"),
        Some(&Value::Str("lab".into()))
    );
    assert!(d2[..0x9000] == dump[..0x9000] && d2[0xE000..] == dump[0xE000..]);
    // Entries that do not decode while the page headers do: encrypted NVS, refused.
    let mut enc = image.clone();
    for i in 0..20 {
        enc[64 + i * 32 + 9] ^= 0x5A;
    }
    std::fs::write(p("enc.bin"), &enc).unwrap();
    let (ok, msg) = otaflash(&["nvs", &p("enc.bin"), "--json"]);
    assert!(ok, "{msg}");
    assert!(msg.contains("\"encrypted\": true"), "{msg}");
    let (ok, msg) = otaflash(&["nvs", &p("enc.bin"), "--set", "a/b=u8:1", "-o", &p("x.bin")]);
    assert!(!ok && msg.contains("encrypted"), "{msg}");
    assert!(!dir.path().join("x.bin").exists());
}
