//! Embeds the flasher stub for the native CLI when scripts/setup.sh has fetched it (from the
//! pinned esptool sdist on PyPI into .tools/stub/). Without it the CLI still works, ROM-only.
//! The page does not embed it: it loads the stub from its own origin when needed.

fn main() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let dir = std::env::var("OTAFLASH_STUB_DIR").unwrap_or_else(|_| ".tools/stub".into());
    let src = std::path::Path::new(&dir).join("esp32.json");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-env-changed=OTAFLASH_STUB_DIR");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32");
    let json = if wasm {
        String::new()
    } else {
        std::fs::read_to_string(&src).unwrap_or_default()
    };
    std::fs::write(out.join("stub_esp32.json"), json).unwrap();
}
