//! Browser tests (wasm-bindgen-test, headless Chromium): the formats code gives the same
//! answers in the browser as natively, and the page opens real .bin files through its file
//! input and shows what they hold.
#![cfg(target_arch = "wasm32")]

use otaflash::formats::image::Image;
use otaflash::formats::otadata::{self, contents_unknown, predict_boot, OtaState, Otadata};
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
        &contents_unknown,
    );
    assert_eq!(boot.booted_partition(&two_ota).unwrap().name(), "ota_1");
    let boot = predict_boot(
        &arduino,
        &Otadata::parse(BLANK).unwrap(),
        false,
        &contents_unknown,
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

/// The offline workbench alone (in the page it is a module loaded with the first file).
fn mount_files() -> web_sys::Element {
    let doc = web_sys::window().unwrap().document().unwrap();
    let root = doc.create_element("div").unwrap();
    doc.body().unwrap().append_child(&root).unwrap();
    otaflash::web::files_app::mount(root.clone(), wasm_bindgen::JsValue::NULL);
    root
}

#[wasm_bindgen_test]
async fn page_opens_table_otadata_and_image() {
    let root = mount_files();
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
    let sectors = wait_for(&root, "[data-testid=file-otadata-sector]", 2).await;
    let seqs: Vec<_> = sectors
        .iter()
        .map(|s| s.get_attribute("data-seq").unwrap())
        .collect();
    assert_eq!(seqs, ["1", "2"]);
    assert_eq!(sectors[1].get_attribute("data-state").unwrap(), "undefined");
    assert!(sectors[1].class_name().contains("active"));
    let boot = wait_for(&root, "[data-testid=file-boot-slot]", 1).await;
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
    let text = err[0].text_content().unwrap();
    assert!(
        text.starts_with("This is a text file") && text.contains("11 bytes"),
        "plain words first, detail after: {text}"
    );
    // partitions.csv opens as a table; blank flash is called blank.
    pick_files(
        &input,
        &[
            ("partitions.csv", TWO_OTA_CSV.as_bytes()),
            ("erased.bin", &[0xFF; 4096]),
        ],
    );
    wait_for(
        &root,
        "[data-testid=file-card][data-kind='partition table']",
        2,
    )
    .await;
    wait_for(
        &root,
        "[data-testid=file-card][data-kind=blank] [data-testid=file-blank]",
        1,
    )
    .await;
}

#[wasm_bindgen_test]
async fn page_opens_a_flash_dump() {
    let root = mount_files();
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
    let boot = wait_for(&card[0], "[data-testid=file-boot-slot]", 1).await;
    assert_eq!(boot[0].text_content().unwrap(), "app0");
    let slots = all(&card[0], "[data-testid=slot-row]");
    assert_eq!(slots.len(), 2);
    assert!(slots[0].text_content().unwrap().contains("hello_world"));
    assert_eq!(
        slots[0].get_attribute("data-loads").as_deref(),
        Some("yes"),
        "read whole from the dump"
    );
    assert_eq!(
        slots[1].get_attribute("data-holds").as_deref(),
        Some("empty")
    );
    assert_eq!(slots[1].get_attribute("data-loads").as_deref(), Some("no"));
    assert!(card[0]
        .query_selector("[data-testid=partition-row][data-label=app0].boots")
        .unwrap()
        .is_some());
}

// ---- the ports and the session, in the browser ----

use otaflash::loader::{Loader, Reset, WriteOptions};
use otaflash::sim::{demo, Config, Esp32, Timing};
use otaflash::web::ports::{now_ms, AnyPort, WebSerialPort, WsPort};
use std::cell::RefCell;
use std::rc::Rc;

fn now() -> std::time::Duration {
    std::time::Duration::from_secs_f64(now_ms() / 1000.0)
}

/// A duck-typed SerialPort (what `navigator.serial.requestPort()` resolves to) with real
/// Readable/WritableStreams, wired to a simulated ESP32: writes go to the chip, the chip's
/// output is enqueued on the readable side, setSignals drives its reset circuit.
type Handler = Closure<dyn FnMut(JsValue, JsValue)>;

fn fake_serial(dev: Rc<RefCell<Esp32>>) -> (JsValue, Vec<Handler>) {
    fake_serial_with_ids(dev, (0x10C4, 0xEA60))
}

/// The same, showing `ids` as its USB vendor and product ids.
fn fake_serial_with_ids(dev: Rc<RefCell<Esp32>>, ids: (u16, u16)) -> (JsValue, Vec<Handler>) {
    let make = js_sys::Function::new_with_args(
        "onWrite, onSignals, onOpen, vid, pid",
        "const port = { opens: [], closes: 0, readable: null, writable: null };
         let controller = null;
         port.open = (opts) => {
           if (port.readable) return Promise.reject(new DOMException('The port is already open.', 'InvalidStateError'));
           port.opens.push(opts.baudRate);
           port.readable = new ReadableStream({ start(c) { controller = c; } });
           port.writable = new WritableStream({ write(chunk) { onWrite(chunk, null); } });
           onOpen(opts.baudRate, null);
           return Promise.resolve();
         };
         port.close = () => { port.closes++; port.readable = null; port.writable = null; controller = null; return Promise.resolve(); };
         port.setSignals = (s) => { onSignals(!!s.dataTerminalReady, !!s.requestToSend); return Promise.resolve(); };
         port.getInfo = () => ({ usbVendorId: vid, usbProductId: pid });
         port.push = (bytes) => { if (controller && bytes.length) controller.enqueue(bytes); };
         return port;",
    );
    let port: Rc<RefCell<JsValue>> = Rc::new(RefCell::new(JsValue::NULL));
    let push = {
        let (port, dev) = (port.clone(), dev.clone());
        move || {
            let out = dev
                .borrow_mut()
                .take_output(now() + std::time::Duration::from_secs(1));
            let p = port.borrow();
            let f: js_sys::Function = js_sys::Reflect::get(&p, &"push".into())
                .unwrap()
                .unchecked_into();
            f.call1(&p, &js_sys::Uint8Array::from(&out[..])).unwrap();
        }
    };
    let on_write = {
        let (dev, push) = (dev.clone(), push.clone());
        Closure::<dyn FnMut(JsValue, JsValue)>::new(move |chunk: JsValue, _| {
            dev.borrow_mut()
                .receive(now(), &js_sys::Uint8Array::new(&chunk).to_vec());
            push();
        })
    };
    let on_signals = {
        let (dev, push) = (dev.clone(), push.clone());
        Closure::<dyn FnMut(JsValue, JsValue)>::new(move |dtr: JsValue, rts: JsValue| {
            dev.borrow_mut()
                .set_signals(now(), dtr.as_bool().unwrap(), rts.as_bool().unwrap());
            push();
        })
    };
    let on_open = {
        let dev = dev.clone();
        Closure::<dyn FnMut(JsValue, JsValue)>::new(move |baud: JsValue, _| {
            dev.borrow_mut()
                .set_host_baud(baud.as_f64().map(|b| b as u32));
        })
    };
    let args = js_sys::Array::of5(
        on_write.as_ref(),
        on_signals.as_ref(),
        on_open.as_ref(),
        &JsValue::from(ids.0),
        &JsValue::from(ids.1),
    );
    let p = make.apply(&JsValue::NULL, &args).unwrap();
    *port.borrow_mut() = p.clone();
    (p, vec![on_write, on_signals, on_open])
}

/// Web Serial tells the port's USB ids: on an ESP32-C3's own USB-Serial-JTAG port (303A:1001)
/// the loader resets with that peripheral's sequence at the first attempt, and the hints are
/// those for the chip's own USB.
#[wasm_bindgen_test]
async fn web_serial_usb_ids_choose_the_reset() {
    let c3 = otaflash::chips::Chip::by_name("esp32c3").unwrap();
    let mut config = Config::new(4 << 20, Timing::NONE);
    config.chip = c3;
    config.usb = Some((0x303A, 0x1001));
    let dev = Rc::new(RefCell::new(Esp32::new(
        demo::arduino_like_flash(c3),
        config,
    )));
    let (fake, _keep) = fake_serial_with_ids(dev.clone(), (0x303A, 0x1001));
    let sp = WebSerialPort::open(fake.unchecked_into(), 115_200)
        .await
        .unwrap();
    let port = AnyPort::Serial(sp);
    assert_eq!(
        port.via(),
        otaflash::loader::Via::Serial(Some(otaflash::chips::UsbLink::SerialJtag))
    );
    let mut l = Loader::new(port);
    let info = l.connect(Reset::Auto, 1).await.unwrap();
    assert_eq!(info.chip, c3);
}

#[wasm_bindgen_test]
async fn web_serial_port_drives_the_simulated_chip() {
    let dev = Rc::new(RefCell::new(Esp32::new(
        demo::arduino_like_flash(otaflash::chips::ESP32),
        Config::new(4 << 20, Timing::NONE),
    )));
    let (fake, _keep) = fake_serial(dev.clone());
    let sp = WebSerialPort::open(fake.clone().unchecked_into(), 115_200)
        .await
        .unwrap();
    let mut l = Loader::new(AnyPort::Serial(sp));
    let info = l.connect(Reset::Classic, 3).await.unwrap();
    assert_eq!(info.description, "ESP32-D0WD-V3 (revision v3.1)");
    assert!(String::from_utf8_lossy(&l.take_console()).contains("waiting for download"));
    // A baud change closes and reopens the port (Web Serial cannot change an open port).
    assert_eq!(l.change_baud(921_600).await.unwrap(), 921_600);
    let opens: Vec<f64> =
        js_sys::Array::from(&js_sys::Reflect::get(&fake, &"opens".into()).unwrap())
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
    assert_eq!(opens, [115_200.0, 921_600.0]);
    assert_eq!(l.flash_info().await.unwrap().size, 4 << 20);
    let image = demo::app_image(otaflash::chips::ESP32, Some(("web-serial", "1")), 20_000);
    let r = l
        .write_flash(0x150000, &image, WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(r.written, image.len() as u64);
    assert_eq!(
        dev.borrow().flash.contents()[0x150000..0x150000 + image.len()],
        image[..]
    );
    assert_eq!(l.read_flash(0x150000, 128).await.unwrap(), image[..128]);
}

#[wasm_bindgen_test]
async fn websocket_port_to_otaflash_sim() {
    // Set at build time by scripts/test.sh, which starts the simulator for this test.
    let Some(url) = option_env!("OTAFLASH_TEST_WS") else {
        panic!(
            "scripts/test.sh starts `otaflash sim --ws` for this test and sets OTAFLASH_TEST_WS"
        );
    };
    let p = WsPort::connect(url).await.unwrap();
    let mut l = Loader::new(AnyPort::Ws(p));
    // Control lines travel as RFC 2217 in binary frames: a classic reset puts the chip in
    // download mode.
    let info = l.connect(Reset::Classic, 3).await.unwrap();
    assert_eq!(info.chip.name, "esp32");
    assert_eq!(l.change_baud(921_600).await.unwrap(), 921_600);
    let image = demo::app_image(otaflash::chips::ESP32, Some(("websocket", "1")), 30_000);
    l.write_flash(0x150000, &image, WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(
        l.flash_md5(0x150000, image.len() as u32).await.unwrap(),
        otaflash::formats::md5(&image)
    );
    assert!(
        WsPort::connect("ws://127.0.0.1:1").await.is_err(),
        "a dead bridge is a clear error"
    );
    let Err(e) = WsPort::connect("http://127.0.0.1:1").await else {
        panic!("http:// accepted")
    };
    assert!(e.contains("not a bridge URL"), "{e}");
}

#[wasm_bindgen_test]
fn page_state_in_the_browser() {
    use otaflash::device::Snapshot;
    use otaflash::formats::bootable::{judge, Slots, Target};
    use otaflash::page::{Action, BoardInfo, Link, PageState};
    let mut s = PageState::default();
    s.apply(Action::Connecting);
    assert_eq!(s.link, Link::Connecting);
    let board = BoardInfo {
        chip: otaflash::chips::ESP32,
        description: "ESP32".into(),
        mac: String::new(),
        revision: 301,
        flash_size: 4 << 20,
        stub: true,
        baud: 921_600,
        security: Default::default(),
        identity_read: true,
        flash_detected: true,
    };
    s.apply(Action::Connected(board));
    let f = demo::arduino_like_flash(otaflash::chips::ESP32);
    let t = PartitionTable::from_flash(&f, 0x8000).unwrap();
    let mut slots = Slots::default();
    for p in t.entries.iter().filter(|p| p.is_app()) {
        let bytes = &f[p.offset as usize..(p.offset + p.size) as usize];
        slots.set(
            p,
            judge(
                bytes,
                Target::chip(otaflash::chips::ESP32, Some(301)),
                p.offset,
                Some(p.size),
            ),
        );
    }
    s.apply(Action::Layout(Snapshot {
        table: Ok(t.clone()),
        otadata: Some(demo::boot_app0()),
        slots,
        bootloader: None,
    }));
    assert_eq!(s.target.as_deref(), Some("app1"));
    s.apply(Action::ImagePicked("x.bin".into(), HELLO.to_vec()));
    assert!(s.can_flash());
    s.apply(Action::ImagePicked("s2.bin".into(), BLINK_S2.to_vec()));
    assert!(s
        .image_problems()
        .iter()
        .any(|m| matches!(m, otaflash::loader::Refusal::Image(_))
            && m.message().contains("built for ESP32-S2")));
    assert!(!s.can_flash());
}
