//! The native `otaflash` command line: the scripting face of the same engine the page uses.
//! Human-readable output by default, `--json` for scripts. Bad input exits non-zero with a
//! clear message and writes nothing.

mod device;
mod files;
mod fleet;
mod http;
mod install;
mod link;
mod nvs;
mod report;
mod sim;
mod tcp;
mod update;
mod wifi;

use crate::formats::numbers::parse_u32_arg;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Flash and inspect ESP32 OTA slots.
#[derive(Parser, Debug)]
#[command(name = "otaflash", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Update a board to a vendor's build (an ESP Web Tools manifest, or an app image): the plan
    /// from what it holds, one safe write, then what runs, confirmed.
    Update(update::UpdateArgs),
    /// Decode a partition table (bare, or inside a full flash dump), or convert it to/from CSV.
    Partitions(PartitionsArgs),
    /// Decode otadata and predict the boot slot, or write a new otadata image.
    Otadata(OtadataArgs),
    /// Decode an app or bootloader image.
    Image(ImageArgs),
    /// Chip, flash, partition table, otadata and boot prediction of a device.
    Info(device::InfoArgs),
    /// Write an image to a slot (verified by MD5), or bytes at an offset; several boards at once.
    Flash(device::FlashArgs),
    /// Read a partition or a region of flash into a file.
    Read(device::ReadArgs),
    /// Write files at addresses (like esptool write-flash), checked first, verified by MD5.
    Write(install::WriteArgs),
    /// Install an ESP Web Tools manifest's build for the connected chip (every part).
    Install(install::InstallArgs),
    /// Erase the whole flash, a partition, or a range (says what is lost; needs --yes).
    Erase(install::EraseArgs),
    /// Show, edit, convert or make an NVS partition (a file, a CSV, or on a device).
    Nvs(nvs::NvsArgs),
    /// Set up the board app's Wi-Fi over Improv: what it is, the networks it sees, credentials.
    Wifi(wifi::WifiArgs),
    /// Serve a simulated chip (an ESP32 unless --chip says) over TCP and/or WebSocket.
    Sim(sim::SimArgs),
}

#[derive(Args, Debug)]
pub struct PartitionsArgs {
    /// A binary table (≤ 4 KiB), a full flash dump, or CSV with --from-csv.
    file: PathBuf,
    /// Where the table sits in a flash dump (and, with --from-csv, where it will be flashed).
    #[arg(long, default_value = "0x8000", value_parser = parse_u32_arg)]
    offset: u32,
    /// Flash size for the "past the end of flash" check (a dump's own size by default).
    #[arg(long, value_parser = parse_u32_arg)]
    flash_size: Option<u32>,
    #[arg(long)]
    json: bool,
    /// Print the table as gen_esp32part.py CSV.
    #[arg(long, conflicts_with_all = ["from_csv", "json"])]
    to_csv: bool,
    /// Read FILE as CSV and write the binary table to -o.
    #[arg(long, requires = "output")]
    from_csv: bool,
    /// With --from-csv: leave out the MD5 row (gen_esp32part.py --disable-md5sum).
    #[arg(long, requires = "from_csv")]
    no_md5: bool,
    /// Output file (binary for --from-csv, CSV for --to-csv).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct OtadataArgs {
    /// An 8 KiB otadata image, or a full flash dump (not with --port).
    #[arg(required_unless_present = "port", conflicts_with = "port")]
    file: Option<PathBuf>,
    /// Work on a device instead: tcp://HOST:PORT.
    #[arg(long)]
    port: Option<String>,
    #[command(flatten)]
    link: link::Link,
    /// The partition table: a binary table or a flash dump (default: FILE, when it is a dump).
    #[arg(long, conflicts_with = "port")]
    table: Option<PathBuf>,
    /// Predict as a bootloader built with rollback enabled (PENDING_VERIFY becomes ABORTED).
    #[arg(long)]
    rollback: bool,
    #[arg(long)]
    json: bool,
    /// Make LABEL boot next: both sectors get the same new entry. `factory` means erase.
    #[arg(long, value_name = "LABEL", group = "op")]
    set_boot: Option<String>,
    /// State of the new entry: undefined (default), new, pending_verify, valid, invalid, aborted.
    #[arg(long, requires = "set_boot", value_parser = parse_state, default_value = "undefined")]
    state: crate::formats::otadata::OtaState,
    /// Erase otadata (all 0xFF): boots factory, or ota_0 without a factory app.
    #[arg(long, group = "op")]
    erase: bool,
    /// Mark the running entry valid (esp_ota_mark_app_valid_cancel_rollback).
    #[arg(long, group = "op")]
    mark_valid: bool,
    /// Mark the running entry invalid; the app that ran before boots (rollback).
    #[arg(long, group = "op")]
    mark_invalid: bool,
    /// With --set-boot: switch even if the slot's image would not load (the bootloader then
    /// falls back to another app, as the output says). Known on a device (it is read) and in a
    /// flash dump; with otadata and a bare table the slots' content is unknown.
    #[arg(long, requires = "set_boot")]
    force: bool,
    /// Where to write the new 8 KiB otadata image (file mode).
    #[arg(short, long, conflicts_with = "port")]
    output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ImageArgs {
    file: PathBuf,
    #[arg(long)]
    json: bool,
    /// Also check the image for this chip (e.g. esp32); exit 1 if it must not be flashed.
    #[arg(long)]
    chip: Option<String>,
    /// With --chip: the size of the slot it is meant for.
    #[arg(long, value_parser = parse_u32_arg, requires = "chip")]
    slot_size: Option<u32>,
    /// With --chip: the chip's revision as major*100+minor (301 = v3.1), to check the image's
    /// revision range.
    #[arg(long, requires = "chip")]
    chip_revision: Option<u16>,
}

pub(crate) fn parse_state(s: &str) -> Result<crate::formats::otadata::OtaState, String> {
    crate::formats::otadata::OtaState::parse(s).ok_or_else(|| {
        format!(
            "unknown state '{s}': use undefined, new, pending_verify, valid, invalid or aborted"
        )
    })
}

pub use crate::loader::FailKind;

/// An error for the user: printed as `error: …` with its hints (or, with `--json`, as
/// `{"error": {"kind", "message", "hints"}}` on stdout); the exit status is its kind's.
#[derive(Debug)]
pub struct Failure {
    pub kind: FailKind,
    pub message: String,
    pub hints: Vec<String>,
    /// The command's own `--json` output already says it (no second JSON document).
    pub reported: bool,
}

/// A refusal or bad input, in words (exit 1).
#[allow(non_snake_case)]
pub fn Failure(message: String) -> Failure {
    Failure {
        kind: FailKind::Refused,
        message,
        hints: vec![],
        reported: false,
    }
}

impl Failure {
    /// A loader or device error with its kind and the hints for a link over the network.
    pub fn of(e: &crate::loader::Error) -> Failure {
        Failure {
            kind: e.kind(),
            message: e.to_string(),
            hints: e
                .hints(crate::loader::Via::Network)
                .iter()
                .map(|h| h.text().to_string())
                .collect(),
            reported: false,
        }
    }

    /// The board or the link failed, in words (exit 2).
    pub fn board(message: String) -> Failure {
        Failure {
            kind: FailKind::Board,
            ..Failure(message)
        }
    }

    /// The same, of another kind, already said in the command's own output.
    pub fn reported(mut self, kind: FailKind) -> Failure {
        self.kind = kind;
        self.reported = true;
        self
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({"error": {
            "kind": self.kind.word(),
            "message": self.message,
            "hints": self.hints,
        }})
    }
}

impl From<crate::loader::Error> for Failure {
    fn from(e: crate::loader::Error) -> Self {
        Failure::of(&e)
    }
}

impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure(e)
    }
}

impl From<&str> for Failure {
    fn from(e: &str) -> Self {
        Failure(e.to_string())
    }
}

impl From<crate::formats::Error> for Failure {
    fn from(e: crate::formats::Error) -> Self {
        Failure(e.to_string())
    }
}

pub type CliResult = Result<(), Failure>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Partitions(a) => files::partitions(a),
        Command::Otadata(a) => files::otadata(a),
        Command::Image(a) => files::image(a),
        Command::Info(a) => device::info(a),
        Command::Flash(a) => device::flash(a),
        Command::Read(a) => device::read(a),
        Command::Write(a) => install::write(a),
        Command::Install(a) => install::install(a),
        Command::Update(a) => update::update(a),
        Command::Erase(a) => install::erase(a),
        Command::Nvs(a) => nvs::nvs(a),
        Command::Wifi(a) => wifi::wifi(a),
        Command::Sim(a) => sim::sim(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.reported && std::env::args().any(|a| a == "--json") {
                print_json(&f.json());
            }
            eprintln!("error: {}", f.message);
            for h in &f.hints {
                eprintln!("  {h}");
            }
            ExitCode::from(f.kind.exit_code())
        }
    }
}

/// Prints a JSON value, pretty.
fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).expect("JSON"));
}

/// Writes a file all at once via a temporary name, so a failure never leaves a partial file.
fn write_output(path: &std::path::Path, bytes: &[u8]) -> CliResult {
    let tmp = path.with_extension("otaflash-tmp");
    std::fs::write(&tmp, bytes)
        .map_err(|e| Failure(format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| Failure(format!("cannot write {}: {e}", path.display())))
}

fn read_input(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))
}

/// How data reaches the flash, from `--pre-encrypted` / `--encrypt`.
fn written(pre_encrypted: bool, encrypt: bool) -> crate::chips::security::Written {
    use crate::chips::security::Written;
    match (pre_encrypted, encrypt) {
        (true, _) => Written::PreEncrypted,
        (_, true) => Written::EncryptedByChip,
        _ => Written::Plain,
    }
}
