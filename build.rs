//! Embeds the flasher stubs for the native CLI when scripts/setup.sh has fetched them (from the
//! pinned esptool sdist on PyPI into .tools/stub/): every `<chip>.json` there, found by the
//! chip's name at run time. Without them the CLI still works, ROM-only. The page does not embed
//! them: it loads the one the connected chip needs from its own origin.

fn main() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let dir = std::env::var("OTAFLASH_STUB_DIR").unwrap_or_else(|_| ".tools/stub".into());
    let dir = std::path::Path::new(&dir);
    println!("cargo:rerun-if-changed={}", dir.display());
    println!("cargo:rerun-if-env-changed=OTAFLASH_STUB_DIR");
    let wasm = std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32");
    let mut entries = vec![];
    if !wasm {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let path = e.path();
                let (Some(stem), Some("json")) = (
                    path.file_stem().and_then(|s| s.to_str()),
                    path.extension().and_then(|s| s.to_str()),
                ) else {
                    continue;
                };
                println!("cargo:rerun-if-changed={}", path.display());
                let abs = std::fs::canonicalize(&path).unwrap();
                entries.push(format!(
                    "    ({stem:?}, include_str!({:?})),",
                    abs.display()
                ));
            }
        }
    }
    entries.sort();
    let code = format!(
        "/// (chip name, stub JSON) for every stub found at build time.\npub const EMBEDDED: &[(&str, &str)] = &[\n{}\n];\n",
        entries.join("\n")
    );
    std::fs::write(out.join("stubs.rs"), code).unwrap();
}
