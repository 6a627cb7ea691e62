//! What the Install or recover panel (a module of its own, loaded when opened) knows of the page,
//! and how the page's side and the module's side pass it: a plain JS object (bytes as
//! `Uint8Array`) through the bridge the page's shell makes (see `install_shell`).

use crate::chips::security::{FlashEncryption, SecureBoot, Security};
use crate::chips::Chip;
use crate::formats::image::Header;
use crate::formats::install::Part;
use crate::formats::partition::PartitionTable;
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

pub use crate::page::install::{InstallBoard, InstallView};

impl InstallView {
    pub fn to_js(&self) -> JsValue {
        let o = Object::new();
        set(&o, "connected", &self.connected.into());
        set(&o, "busy", &self.busy.into());
        set(&o, "installing", &self.installing.into());
        if let Some(b) = &self.board {
            set(&o, "chip", &b.chip.name.into());
            set(&o, "mac", &b.mac.as_str().into());
            set(&o, "revision", &b.revision.into());
            set(&o, "flashSize", &b.flash_size.into());
            set(
                &o,
                "encryption",
                &encryption_code(b.security.flash_encryption).into(),
            );
            set(
                &o,
                "secureBoot",
                &secure_boot_code(b.security.secure_boot).into(),
            );
            set(&o, "secureDownload", &b.security.secure_download.into());
            set(&o, "jtagDisabled", &b.security.jtag_disabled.into());
        }
        if let Some(t) = self.table.as_ref().and_then(|t| t.to_bytes().ok()) {
            set(&o, "table", &Uint8Array::from(&t[..]).into());
        }
        set(&o, "tableOffset", &self.table_offset.into());
        if let Some(h) = &self.bootloader {
            set(
                &o,
                "bootloader",
                &Uint8Array::from(&h.to_bytes()[..]).into(),
            );
        }
        if let Some((label, parts)) = &self.firmware {
            set(&o, "firmware", &label.into());
            set(&o, "parts", &parts_to_js(parts));
        }
        o.into()
    }

    pub fn from_js(o: &JsValue) -> InstallView {
        let bytes = |k: &str| get(o, k).dyn_into::<Uint8Array>().ok().map(|a| a.to_vec());
        let num = |k: &str| get(o, k).as_f64().unwrap_or(0.0) as u32;
        let flag = |k: &str| get(o, k).as_bool().unwrap_or(false);
        let board = get(o, "chip")
            .as_string()
            .and_then(|c| Chip::by_name(&c))
            .map(|chip| InstallBoard {
                chip,
                mac: get(o, "mac").as_string().unwrap_or_default(),
                revision: num("revision") as u16,
                flash_size: num("flashSize"),
                security: Security {
                    flash_encryption: encryption_of(num("encryption")),
                    secure_boot: secure_boot_of(num("secureBoot")),
                    secure_download: flag("secureDownload"),
                    jtag_disabled: flag("jtagDisabled"),
                },
            });
        InstallView {
            connected: flag("connected"),
            busy: flag("busy"),
            installing: flag("installing"),
            board,
            table: bytes("table").and_then(|b| PartitionTable::parse(&b).ok()),
            table_offset: num("tableOffset"),
            bootloader: bytes("bootloader").and_then(|b| Header::parse(&b)),
            firmware: get(o, "firmware")
                .as_string()
                .map(|label| (label, parts_of_js(&get(o, "parts")))),
        }
    }
}

/// Parts as `[{name, offset, bytes}]`.
pub fn parts_to_js(parts: &[Part]) -> JsValue {
    let a = Array::new();
    for p in parts {
        let e = Object::new();
        set(&e, "name", &p.name.as_str().into());
        set(&e, "offset", &p.offset.into());
        set(&e, "bytes", &Uint8Array::from(&p.bytes[..]).into());
        a.push(&e);
    }
    a.into()
}

pub fn parts_of_js(a: &JsValue) -> Vec<Part> {
    let Ok(a) = a.clone().dyn_into::<Array>() else {
        return vec![];
    };
    a.iter()
        .map(|e| {
            let bytes = get(&e, "bytes")
                .dyn_into::<Uint8Array>()
                .map(|b| b.to_vec())
                .unwrap_or_default();
            Part::new(
                get(&e, "name").as_string().unwrap_or_default(),
                get(&e, "offset").as_f64().unwrap_or(0.0) as u32,
                bytes,
            )
        })
        .collect()
}

pub fn set(o: &Object, k: &str, v: &JsValue) {
    let _ = Reflect::set(o, &k.into(), v);
}

pub fn get(o: &JsValue, k: &str) -> JsValue {
    Reflect::get(o, &k.into()).unwrap_or(JsValue::UNDEFINED)
}

fn encryption_code(e: FlashEncryption) -> u32 {
    match e {
        FlashEncryption::Off => 0,
        FlashEncryption::Development => 1,
        FlashEncryption::Release => 2,
        FlashEncryption::On => 3,
    }
}

fn encryption_of(n: u32) -> FlashEncryption {
    match n {
        1 => FlashEncryption::Development,
        2 => FlashEncryption::Release,
        3 => FlashEncryption::On,
        _ => FlashEncryption::Off,
    }
}

fn secure_boot_code(s: SecureBoot) -> u32 {
    match s {
        SecureBoot::Off => 0,
        SecureBoot::V1 => 1,
        SecureBoot::V2 => 2,
    }
}

fn secure_boot_of(n: u32) -> SecureBoot {
    match n {
        1 => SecureBoot::V1,
        2 => SecureBoot::V2,
        _ => SecureBoot::Off,
    }
}
