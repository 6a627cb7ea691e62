use super::text::{rows_for, rows_from_csv, to_csv};
use super::*;

fn no_files(p: &str) -> Result<Vec<u8>, String> {
    Err(format!("{p}: no files here"))
}

fn sample() -> Vec<Row> {
    let csv = "key,type,encoding,value\n\
               storage,namespace,,\n\
               u8k,data,u8,255\n\
               i8k,data,i8,-128\n\
               u16k,data,u16,65535\n\
               i16k,data,i16,-32768\n\
               u32k,data,u32,4294967295\n\
               i32k,data,i32,-2147483648\n\
               u64k,data,u64,18446744073709551615\n\
               i64k,data,i64,-9223372036854775808\n\
               str,data,string,\"hello, world\"\n\
               wifi,namespace,,\n\
               blob,data,hex2bin,0102030405\n\
               b64,data,base64,aGVsbG8=\n";
    rows_from_csv(csv, &no_files).unwrap()
}

#[test]
fn generated_images_decode_to_their_rows() {
    let img = generate(&sample(), 0x6000, Version::V2).unwrap();
    assert_eq!(img.len(), 0x6000);
    let nvs = decode(&img);
    assert_eq!(nvs.problems, []);
    assert_eq!(
        nvs.namespaces,
        [(1, "storage".to_string()), (2, "wifi".to_string())]
    );
    assert_eq!(nvs.get("storage", "u64k"), Some(&Value::U64(u64::MAX)));
    assert_eq!(nvs.get("storage", "i8k"), Some(&Value::I8(-128)));
    assert_eq!(
        nvs.get("storage", "str"),
        Some(&Value::Str("hello, world".into()))
    );
    assert_eq!(
        nvs.get("wifi", "blob"),
        Some(&Value::Blob(vec![1, 2, 3, 4, 5]))
    );
    assert_eq!(
        nvs.get("wifi", "b64"),
        Some(&Value::Blob(b"hello".to_vec()))
    );
    assert_eq!(nvs.pages[0].state, "active");
    assert_eq!(nvs.pages[1].state, "empty");
    // Back to rows and again: the same image.
    let again = generate(&rows_for(&nvs.entries), 0x6000, Version::V2).unwrap();
    assert_eq!(again, img);
    let csv = to_csv(&nvs.entries);
    assert!(csv.contains("str,data,string,\"hello, world\"\n"), "{csv}");
    assert_eq!(
        generate(
            &rows_from_csv(&csv, &no_files).unwrap(),
            0x6000,
            Version::V2
        )
        .unwrap(),
        img
    );
}

#[test]
fn bad_input_is_refused_in_plain_words() {
    let r = |enc: &str, v: &str| {
        let rows = vec![Row::namespace("n"), Row::data("k", enc, v)];
        generate(&rows, 0x3000, Version::V2)
            .unwrap_err()
            .to_string()
    };
    assert!(r("u8", "256").contains("does not fit u8"));
    assert!(r("u8", "0x10").contains("not a whole number"));
    assert!(r("hex2bin", "abc").contains("odd number"));
    assert!(r("float", "1").contains("unknown encoding"));
    let long = vec![
        Row::namespace("n"),
        Row::data("a_key_too_long_x", "u8", "1"),
    ];
    assert!(generate(&long, 0x3000, Version::V2)
        .unwrap_err()
        .to_string()
        .contains("at most 15"));
    assert!(generate(&[], 0x2800, Version::V2).is_err());
    // More than fits.
    let mut many = vec![Row::namespace("n")];
    for i in 0..300 {
        many.push(Row::data(&format!("k{i}"), "u32", "1"));
    }
    assert!(matches!(
        generate(&many, 0x3000, Version::V2),
        Err(GenError::TooBig { .. })
    ));
}

#[test]
fn damage_is_reported_as_the_library_treats_it() {
    let img = generate(&sample(), 0x6000, Version::V2).unwrap();
    // A flipped bit in an entry (u8k, entry 1): its CRC fails, it is gone, the rest stays.
    let mut bad = img.clone();
    bad[FIRST_ENTRY + ENTRY_SIZE + 24] ^= 1;
    let nvs = decode(&bad);
    assert!(nvs.get("storage", "u8k").is_none());
    assert!(nvs.get("storage", "u16k").is_some());
    assert_eq!(nvs.problems, [Problem::EntryCrc { page: 0, entry: 1 }]);
    // A bad page header: the page is ignored.
    let mut bad = img.clone();
    bad[5] ^= 1;
    let nvs = decode(&bad);
    assert!(nvs.entries.is_empty());
    assert_eq!(nvs.problems, [Problem::PageHeaderCrc { page: 0 }]);
    // An entry marked erased (bitmap bits 00): gone without a problem.
    let mut bad = img.clone();
    bad[32] &= !0b1100; // entry 1
    let nvs = decode(&bad);
    assert!(nvs.get("storage", "u8k").is_none() && nvs.problems.is_empty());
    // An interrupted update: a second u8k written after the rest on the active page.
    let mut dup = img.clone();
    let n = nvs_written(&img);
    let mut e = [0u8; 32];
    e.copy_from_slice(&img[FIRST_ENTRY + ENTRY_SIZE..][..32]);
    e[24] = 7;
    let c = decode::entry_crc(&e);
    e[4..8].copy_from_slice(&c.to_le_bytes());
    dup[FIRST_ENTRY + n * ENTRY_SIZE..][..32].copy_from_slice(&e);
    dup[32 + n / 4] &= !(1 << ((n % 4) * 2));
    let nvs = decode(&dup);
    assert_eq!(
        nvs.get("storage", "u8k"),
        Some(&Value::U8(7)),
        "the newer one"
    );
    assert!(
        matches!(nvs.problems[..], [Problem::Duplicate { ref key, entry: 1, .. }] if key == "u8k")
    );
    // Data written after the last entry the bitmap knows of: an interrupted write.
    let mut half = img.clone();
    half[FIRST_ENTRY + n * ENTRY_SIZE] = 1;
    let nvs = decode(&half);
    assert_eq!(nvs.problems, [Problem::Unfinished { page: 0, entry: n }]);
    // Garbage: no panic, no entries.
    let noise: Vec<u8> = (0..0x3000u32).map(|i| (i * 7 + i / 13) as u8).collect();
    let nvs = decode(&noise);
    assert!(nvs.entries.is_empty());
    // Blank.
    assert!(decode(&[0xFF; 0x3000]).is_blank());
}

fn nvs_written(img: &[u8]) -> usize {
    (0..ENTRIES_PER_PAGE)
        .take_while(|i| (img[32 + i / 4] >> ((i % 4) * 2)) & 3 == 2)
        .count()
}

#[test]
fn a_long_blob_spans_pages_and_comes_back() {
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31) as u8).collect();
    let rows = vec![
        Row::namespace("n"),
        Row::data("small", "u8", "1"),
        Row::data("big", "hex2bin", &crate::formats::hex(&data)),
    ];
    let img = generate(&rows, 0x8000, Version::V2).unwrap();
    let nvs = decode(&img);
    assert_eq!(nvs.problems, []);
    assert_eq!(nvs.get("n", "big"), Some(&Value::Blob(data.clone())));
    assert!(nvs.pages.iter().filter(|p| p.seq.is_some()).count() >= 3);
    // A lost chunk: the blob cannot be read, and that is said.
    let mut bad = img.clone();
    bad[PAGE_SIZE + 32] = 0; // page 1's first entries marked erased
    let nvs = decode(&bad);
    assert!(nvs.get("n", "big").is_none());
    assert!(nvs
        .problems
        .iter()
        .any(|p| matches!(p, Problem::BlobIncomplete { key, .. } if key == "big")));
    // Version 1: too long for a single-page blob.
    assert!(generate(&rows, 0x8000, Version::V1).is_err());
}

#[test]
fn values_parse_from_text() {
    assert_eq!(Value::parse("u16", "0x10"), Ok(Value::U16(16)));
    assert_eq!(Value::parse("i32", "-5"), Ok(Value::I32(-5)));
    assert!(Value::parse("u8", "-1")
        .unwrap_err()
        .contains("does not fit"));
    assert_eq!(Value::parse("blob", "01ab"), Ok(Value::Blob(vec![1, 0xab])));
    assert!(Value::parse("float", "1").is_err());
}
