//! Browser tests (wasm-bindgen-test, headless Chromium): the formats code gives the same
//! answers in the browser as natively, and the page opens real .bin files through its file
//! input and shows what they hold.
#![cfg(target_arch = "wasm32")]

use otaflash::formats::image::Image;
use otaflash::formats::otadata::{self, all_bootable, predict_boot, OtaState, Otadata};
use otaflash::formats::partition::{Md5Status, PartitionTable};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const TWO_OTA: &[u8] = include_bytes!("data/partition_tables/idf_two_ota.bin");
const TWO_OTA_CSV: &str = include_str!("data/partition_tables/idf_two_ota.roundtrip.csv");
const ARDUINO: &[u8] = include_bytes!("data/partition_tables/arduino_default.bin");
const BLANK: &[u8] = include_bytes!("data/otadata/blank.bin");
const SET01: &[u8] = include_bytes!("data/otadata/idf_master_set_ota0_ota1.bin");
const BOOT_APP0: &[u8] = include_bytes!("data/otadata/arduino_boot_app0.bin");
const HELLO: &[u8] = include_bytes!("data/firmware/idf-v5.2.2_hello_world.bin");
const BLINK_S2: &[u8] =
    include_bytes!("data/app_images/esptool_test_images/esp_idf_blink_esp32s2.bin");

#[wasm_bindgen_test]
fn partition_table_in_the_browser() {
    let t = PartitionTable::parse(TWO_OTA).unwrap();
    assert_eq!(t.entries.len(), 6);
    assert_eq!(t.md5, Md5Status::Ok);
    assert_eq!(t.to_bytes().unwrap(), TWO_OTA);
    assert_eq!(t.to_csv(), TWO_OTA_CSV);
    assert_eq!(
        PartitionTable::from_csv(TWO_OTA_CSV, 0x8000)
            .unwrap()
            .to_bytes()
            .unwrap(),
        TWO_OTA
    );
}

#[wasm_bindgen_test]
fn otadata_in_the_browser() {
    assert_eq!(otadata::ota_crc(1), 0x4743_989A);
    let two_ota = PartitionTable::parse(TWO_OTA).unwrap();
    let arduino = PartitionTable::parse(ARDUINO).unwrap();
    let boot = predict_boot(
        &two_ota,
        &Otadata::parse(SET01).unwrap(),
        false,
        &all_bootable,
    );
    assert_eq!(boot.booted_partition(&two_ota).unwrap().name(), "ota_1");
    let boot = predict_boot(
        &arduino,
        &Otadata::parse(BLANK).unwrap(),
        false,
        &all_bootable,
    );
    assert_eq!(boot.booted_partition(&arduino).unwrap().name(), "app0");
    assert_eq!(
        boot.after.entry(0).seq,
        1,
        "the bootloader writes seq 1 VALID"
    );
    let next = otadata::set_boot(
        &arduino,
        &Otadata::parse(BOOT_APP0).unwrap(),
        "app1",
        OtaState::New,
    )
    .unwrap();
    assert_eq!(next.entry(0), next.entry(1));
    assert_eq!(next.entry(0).seq, 2);
}

#[wasm_bindgen_test]
fn image_in_the_browser() {
    let i = Image::parse(HELLO).unwrap();
    assert_eq!(i.chip().unwrap().name, "esp32");
    assert!(i.checksum_ok());
    assert_eq!(i.sha256_ok(), Some(true), "SHA-256 computed in wasm");
    assert_eq!(i.app.unwrap().project_name, "hello_world");
}

// ---- the page ----

async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(p).await.unwrap();
}

/// Gives files to the page's file input the way a user's pick does.
fn pick_files(input: &web_sys::Element, files: &[(&str, &[u8])]) {
    let arr = js_sys::Array::new();
    for (name, bytes) in files {
        let pair = js_sys::Array::of2(&JsValue::from_str(name), &js_sys::Uint8Array::from(*bytes));
        arr.push(&pair);
    }
    let f = js_sys::Function::new_with_args(
        "input, files",
        "const dt = new DataTransfer();
         for (const [name, bytes] of files) dt.items.add(new File([bytes], name));
         input.files = dt.files;
         input.dispatchEvent(new Event('change', { bubbles: true }));",
    );
    f.call2(&JsValue::NULL, input, &arr).unwrap();
}

fn all(root: &web_sys::Element, sel: &str) -> Vec<web_sys::Element> {
    let list = root.query_selector_all(sel).unwrap();
    (0..list.length())
        .map(|i| list.item(i).unwrap().unchecked_into())
        .collect()
}

async fn wait_for(root: &web_sys::Element, sel: &str, count: usize) -> Vec<web_sys::Element> {
    for _ in 0..200 {
        let found = all(root, sel);
        if found.len() >= count {
            return found;
        }
        sleep(25).await;
    }
    panic!(
        "timed out waiting for {count} × {sel}; page: {}",
        root.inner_html()
    );
}

fn mount() -> web_sys::Element {
    let doc = web_sys::window().unwrap().document().unwrap();
    let root = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&root).unwrap();
    otaflash::web::start_in(root.clone());
    root
}

#[wasm_bindgen_test]
async fn page_opens_table_otadata_and_image() {
    let root = mount();
    let input = wait_for(&root, "[data-testid=open-file]", 1)
        .await
        .remove(0);
    pick_files(&input, &[("two_ota.bin", TWO_OTA)]);
    let rows = wait_for(&root, "[data-testid=partition-row]", 6).await;
    let labels: Vec<String> = rows
        .iter()
        .map(|r| r.get_attribute("data-label").unwrap())
        .collect();
    assert_eq!(
        labels,
        ["nvs", "otadata", "phy_init", "factory", "ota_0", "ota_1"]
    );
    assert_eq!(
        root.query_selector("[data-testid=table-md5]")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap(),
        "ok"
    );

    // otadata after the table: decoded against it.
    pick_files(&input, &[("otadata.bin", SET01)]);
    assert!(input.is_connected(), "the file input survives re-renders");
    let sectors = wait_for(&root, "[data-testid=otadata-sector]", 2).await;
    let seqs: Vec<_> = sectors
        .iter()
        .map(|s| s.get_attribute("data-seq").unwrap())
        .collect();
    assert_eq!(seqs, ["1", "2"]);
    assert_eq!(sectors[1].get_attribute("data-state").unwrap(), "undefined");
    assert!(sectors[1].class_name().contains("active"));
    let boot = wait_for(&root, "[data-testid=boot-slot]", 1).await;
    assert_eq!(boot[0].text_content().unwrap(), "ota_1");

    // An app image, and something that is not a .bin we know.
    pick_files(
        &input,
        &[("blink.bin", BLINK_S2), ("notes.txt", b"hello there")],
    );
    let project = wait_for(&root, "[data-testid=image-project]", 1).await;
    assert_eq!(project[0].text_content().unwrap(), "blink");
    assert_eq!(
        root.query_selector("[data-testid=image-chip]")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap(),
        "ESP32-S2"
    );
    let err = wait_for(&root, "[data-testid=file-error]", 1).await;
    assert!(
        err[0].text_content().unwrap().contains("11 bytes"),
        "{}",
        err[0].text_content().unwrap()
    );
}

#[wasm_bindgen_test]
async fn page_opens_a_flash_dump() {
    let root = mount();
    let input = wait_for(&root, "[data-testid=open-file]", 1)
        .await
        .remove(0);
    // A 4 MB dump: arduino table at 0x8000, boot_app0 otadata at 0xe000, hello_world in app0.
    let mut dump = vec![0xFF; 0x40_0000];
    dump[0x8000..0x8000 + ARDUINO.len()].copy_from_slice(ARDUINO);
    dump[0xE000..0x10000].copy_from_slice(BOOT_APP0);
    dump[0x10000..0x10000 + HELLO.len()].copy_from_slice(HELLO);
    pick_files(&input, &[("flash.bin", &dump)]);
    let card = wait_for(&root, "[data-testid=file-card][data-kind='flash dump']", 1).await;
    let boot = wait_for(&card[0], "[data-testid=boot-slot]", 1).await;
    assert_eq!(boot[0].text_content().unwrap(), "app0");
    let slots = all(&card[0], "[data-testid=slot-row]");
    assert_eq!(slots.len(), 2);
    assert!(slots[0].text_content().unwrap().contains("hello_world"));
    assert!(
        slots[1].text_content().unwrap().ends_with("no"),
        "app1 is empty"
    );
    assert!(card[0]
        .query_selector("[data-testid=partition-row][data-label=app0].boots")
        .unwrap()
        .is_some());
}
