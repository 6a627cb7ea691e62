//! Shared helpers for the native tests: a simulated device with real firmware, and block_on.
#![allow(dead_code)]

use otaflash::sim::{Config, Esp32, SimPort, Timing};
use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

pub fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(data(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Runs a future that never really waits (the simulator's virtual time).
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

pub const FLASH_SIZE: usize = 4 << 20;

/// A 4 MB ESP32 as Arduino-ESP32 leaves it: IDF bootloader, the default table (app0/app1),
/// boot_app0 otadata and hello_world in app0.
pub fn arduino_flash() -> Vec<u8> {
    let mut f = vec![0xFF; FLASH_SIZE];
    let mut put = |at: usize, b: &[u8]| f[at..at + b.len()].copy_from_slice(b);
    put(0x1000, &read("firmware/idf-v5.2.2_bootloader_4MB.bin"));
    put(0x8000, &read("firmware/arduino_partitions_default.bin"));
    put(0xE000, &read("firmware/arduino_boot_app0.bin"));
    put(0x10000, &read("firmware/idf-v5.2.2_hello_world.bin"));
    f
}

pub fn device(timing: Timing) -> Esp32 {
    Esp32::new(arduino_flash(), Config::new(FLASH_SIZE as u32, timing))
}

pub fn port(timing: Timing) -> SimPort {
    SimPort::new(device(timing))
}

pub fn port_with(config: impl FnOnce(&mut Config)) -> SimPort {
    let mut c = Config::new(FLASH_SIZE as u32, Timing::REALISTIC);
    config(&mut c);
    SimPort::new(Esp32::new(arduino_flash(), c))
}

/// A firmware-like image of about `size` bytes: real app code repeated with varying bytes,
/// which compresses like an app does.
pub fn firmware_like(size: usize) -> Vec<u8> {
    let parts = [
        read("firmware/idf-v5.2.2_hello_world.bin"),
        read("firmware/arduino_StartCounter.ino.bin"),
    ];
    let mut out = Vec::with_capacity(size);
    let mut k = 0u32;
    while out.len() < size {
        for p in &parts {
            for chunk in p.chunks(4096) {
                k = k.wrapping_mul(1_103_515_245).wrapping_add(12345);
                out.extend(chunk.iter().enumerate().map(|(i, b)| {
                    if i % 97 == 0 {
                        b ^ (k >> 16) as u8
                    } else {
                        *b
                    }
                }));
            }
        }
    }
    out.truncate(size);
    out
}
