//! The `otaflash` command-line tool (native only).

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    otaflash::cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
