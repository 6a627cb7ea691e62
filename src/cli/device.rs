//! Commands that talk to a device over a port: info, flash, read, otadata --port, and sim.

use super::tcp::TcpPort;
use super::{print_json, read_input, report, write_output, CliResult, Failure};
use crate::formats::image::Image;
use crate::formats::numbers::parse_u32_arg;
use crate::formats::otadata::{self, OtaState};
use crate::formats::partition::{Layout, PartitionTable};
use crate::loader::stub::StubImage;
use crate::loader::{Event, Loader, Phase, Port, Reset, SessionOptions, WriteOptions, WriteReport};
use clap::{Args, ValueEnum};
use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Before {
    /// DTR/RTS reset into download mode (when the port has control lines).
    DefaultReset,
    /// The chip is already in download mode.
    NoReset,
}

/// How to reach the device (every --port command takes these).
#[derive(Args, Debug, Clone)]
pub struct Link {
    /// Baud rate after connecting (starts at 115200).
    #[arg(long, default_value_t = 921_600)]
    baud: u32,
    #[arg(long, value_enum, default_value = "default-reset")]
    before: Before,
    /// Talk to the ROM loader only (no flasher stub).
    #[arg(long)]
    no_stub: bool,
    /// Where the partition table is.
    #[arg(long, default_value = "0x8000", value_parser = parse_u32_arg)]
    pub table_offset: u32,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// tcp://HOST:PORT
    #[arg(long)]
    port: String,
    #[command(flatten)]
    link: Link,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct FlashArgs {
    #[arg(long)]
    port: String,
    #[command(flatten)]
    link: Link,
    /// The app slot to write (its label); the image is checked first.
    #[arg(long, conflicts_with = "offset", required_unless_present = "offset")]
    slot: Option<String>,
    /// Write any bytes here, like esptool write-flash.
    #[arg(long, value_parser = parse_u32_arg)]
    offset: Option<u32>,
    /// After a verified write, make the slot boot next.
    #[arg(long, requires = "slot")]
    set_boot: bool,
    #[arg(long, requires = "set_boot", value_parser = super::parse_state, default_value = "undefined")]
    state: OtaState,
    /// Also write the slot that is running now.
    #[arg(long)]
    force: bool,
    /// Write every region even if its MD5 already matches.
    #[arg(long)]
    no_skip: bool,
    file: PathBuf,
}

#[derive(Args, Debug)]
pub struct ReadArgs {
    #[arg(long)]
    port: String,
    #[command(flatten)]
    link: Link,
    #[arg(long, conflicts_with_all = ["offset", "size"], required_unless_present = "offset")]
    partition: Option<String>,
    #[arg(long, value_parser = parse_u32_arg, requires = "size")]
    offset: Option<u32>,
    #[arg(long, value_parser = parse_u32_arg)]
    size: Option<u32>,
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimingArg {
    /// UART bytes at the current baud, USB latency, flash erase/program times.
    Real,
    /// Everything instantaneous.
    None,
}

#[derive(Args, Debug)]
pub struct SimArgs {
    #[arg(long, default_value = "esp32")]
    chip: String,
    /// Backing file for the flash (created all 0xFF if missing); follows every write.
    #[arg(long)]
    flash: PathBuf,
    #[arg(long, value_parser = parse_u32_arg)]
    flash_size: Option<u32>,
    /// TCP address for raw serial bytes (esptool: --port socket://ADDR).
    #[arg(long)]
    listen: Option<String>,
    /// WebSocket address (binary frames are serial bytes).
    #[arg(long)]
    ws: Option<String>,
    #[arg(long, value_enum, default_value = "real")]
    timing: TimingArg,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Progress and log lines on stderr (at most a few per second).
fn printer(quiet: bool) -> impl FnMut(Event) {
    let last = Rc::new(Cell::new(0u64));
    move |e| {
        if quiet {
            return;
        }
        match e {
            Event::Log(m) => eprintln!("{m}"),
            Event::Progress(p) => {
                let step = (p.done * 10 / p.total.max(1)).min(10);
                let key = step | ((p.phase as u64) << 8);
                if key != last.get() && matches!(p.phase, Phase::Writing | Phase::Reading) {
                    last.set(key);
                    let eta = p
                        .eta()
                        .map(|d| format!(", {:.0} s left", d.as_secs_f64()))
                        .unwrap_or_default();
                    eprintln!(
                        "{:?} {:>3}% ({} / {} bytes, {:.1} kbit/s{eta})",
                        p.phase,
                        step * 10,
                        p.done,
                        p.total,
                        p.rate() * 8.0 / 1000.0
                    );
                }
            }
        }
    }
}

/// Connects, starts the stub (unless told not to) and switches the baud, with fall-backs.
async fn session(port: &str, link: &Link, quiet: bool) -> Result<Loader<TcpPort>, Failure> {
    let p = TcpPort::open(port).await.map_err(Failure)?;
    let mut l = Loader::new(p);
    l.on_event(printer(quiet));
    let stub = if link.no_stub {
        None
    } else {
        let s = StubImage::embedded_esp32();
        if s.is_none() && !quiet {
            eprintln!("no flasher stub in this build (run scripts/setup.sh): using the ROM loader");
        }
        s
    };
    let opts = SessionOptions {
        reset: match link.before {
            Before::DefaultReset => Reset::Auto,
            Before::NoReset => Reset::None,
        },
        attempts: 7,
        stub,
        baud: link.baud,
    };
    let info = l.open(&opts).await?;
    if !quiet {
        eprintln!(
            "Connected to {} (MAC {})",
            info.description,
            info.mac_string()
        );
    }
    Ok(l)
}

fn kbit(bytes: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        bytes as f64 * 8.0 / secs / 1000.0
    } else {
        0.0
    }
}

fn print_write(r: &WriteReport) {
    let secs = r.write_time.as_secs_f64();
    if r.written == 0 {
        println!(
            "Skipped {} bytes at 0x{:08x}: already there (MD5 matches).",
            r.bytes, r.offset
        );
    } else {
        println!(
            "Wrote {} bytes ({} compressed, {} unchanged skipped) at 0x{:08x} in {:.1} seconds (effective {:.1} kbit/s).",
            r.written,
            r.wire_bytes,
            r.bytes - r.written,
            r.offset,
            secs,
            kbit(r.written, secs)
        );
    }
    println!(
        "Hash of data verified ({:.1} seconds in all, checks included).",
        r.elapsed.as_secs_f64()
    );
}

/// Slots whose first byte is an image magic count as bootable in device predictions (reading
/// whole images to verify them would take too long for a status view).
async fn slots_with_images(
    l: &mut Loader<TcpPort>,
    table: &PartitionTable,
) -> Result<Vec<String>, Failure> {
    let mut v = vec![];
    for p in table.entries.iter().filter(|p| p.is_app()) {
        if l.read_flash(p.offset, 0x20).await?.first() == Some(&crate::formats::image::IMAGE_MAGIC)
        {
            v.push(p.name());
        }
    }
    Ok(v)
}

pub fn info(a: InfoArgs) -> CliResult {
    runtime().block_on(async {
        let mut l = session(&a.port, &a.link, a.json).await?;
        let chip = l.info().cloned().expect("connected");
        let flash = l.flash_info().await?;
        let table = l.read_partition_table(a.link.table_offset).await;
        let layout = Layout {
            table_offset: a.link.table_offset,
            flash_size: Some(flash.size),
        };
        let (pt_json, od_json, text) = match &table {
            Ok(t) => {
                let warnings = t.warnings(&layout);
                let mut text = report::partitions_text(t, &warnings);
                let od = if t.otadata().is_some() {
                    let od = l.read_otadata(t).await?;
                    let with_images = slots_with_images(&mut l, t).await?;
                    let boot =
                        otadata::predict_boot(t, &od, false, &|p| with_images.contains(&p.name()));
                    text.push_str(&report::otadata_text(t, &boot, &[]));
                    Some(report::otadata_json(t, &boot, &[]))
                } else {
                    text.push_str("no otadata partition: the bootloader boots the factory app\n");
                    None
                };
                (report::partitions_json(t, &warnings), od, text)
            }
            Err(e) => (
                serde_json::json!({"error": e.to_string()}),
                None,
                format!("partition table: {e}\n"),
            ),
        };
        if a.json {
            print_json(&serde_json::json!({
                "chip": chip.chip.name,
                "description": chip.description,
                "revision": {"major": chip.revision.0, "minor": chip.revision.1},
                "mac": chip.mac_string(),
                "crystal_mhz": chip.crystal_mhz,
                "flash_id": flash.jedec_id,
                "flash_size": flash.size,
                "stub": l.is_stub(),
                "baud": l.baud(),
                "partitions": pt_json,
                "otadata": od_json,
            }));
        } else {
            println!(
                "Chip: {} ({}), MAC {}, crystal {} MHz",
                chip.description,
                chip.chip.pretty,
                chip.mac_string(),
                chip.crystal_mhz
            );
            println!(
                "Flash: {} MB (JEDEC ID 0x{:06x})",
                flash.size >> 20,
                flash.jedec_id
            );
            println!(
                "Loader: {} at {} baud",
                if l.is_stub() { "stub" } else { "ROM" },
                l.baud()
            );
            print!("{text}");
        }
        Ok(())
    })
}

pub fn flash(a: FlashArgs) -> CliResult {
    let data = read_input(&a.file)?;
    if data.is_empty() {
        return Err(Failure(format!(
            "{} is empty: nothing to write",
            a.file.display()
        )));
    }
    // Check what can be checked before touching the device.
    if a.slot.is_some() {
        Image::parse(&data)
            .map_err(|e| Failure(format!("{}: {e}; not written", a.file.display())))?;
    }
    runtime().block_on(async {
        let mut l = session(&a.port, &a.link, false).await?;
        let opts = WriteOptions {
            skip_unchanged: !a.no_skip,
            compress: true,
        };
        match (&a.slot, a.offset) {
            (Some(label), _) => {
                let table = l.read_partition_table(a.link.table_offset).await?;
                let w = if a.set_boot {
                    l.flash_and_boot(&table, label, &data, a.state, a.force)
                        .await?
                } else {
                    l.write_slot(&table, label, &data, a.force).await?
                };
                print_write(&w.report);
                if let Some(boot) = &w.boot {
                    let od = l.read_otadata(&table).await?;
                    let e = od.entry(0);
                    println!(
                        "otadata: both sectors seq {} ({}); the bootloader boots {} next.",
                        e.seq,
                        otadata::state_name(e.state),
                        boot.booted_partition(&table)
                            .map(|p| p.name())
                            .unwrap_or_else(|| "nothing".into())
                    );
                }
            }
            (None, Some(offset)) => {
                let r = l.write_flash(offset, &data, opts).await?;
                print_write(&r);
            }
            (None, None) => unreachable!("clap requires --slot or --offset"),
        }
        Ok(())
    })
}

pub fn read(a: ReadArgs) -> CliResult {
    runtime().block_on(async {
        let mut l = session(&a.port, &a.link, false).await?;
        let t0 = l.port().elapsed();
        let (offset, bytes) = match (&a.partition, a.offset, a.size) {
            (Some(label), _, _) => {
                let table = l.read_partition_table(a.link.table_offset).await?;
                let p = table
                    .find(label)
                    .cloned()
                    .ok_or_else(|| Failure(format!("no partition named '{label}'")))?;
                (p.offset, l.backup_partition(&table, label).await?)
            }
            (None, Some(o), Some(s)) => (o, l.read_flash(o, s).await?),
            _ => unreachable!("clap requires --partition or --offset with --size"),
        };
        let secs = (l.port().elapsed() - t0).as_secs_f64();
        write_output(&a.output, &bytes)?;
        println!(
            "Read {} bytes from 0x{offset:08x} in {secs:.1} seconds ({:.1} kbit/s) to '{}'.",
            bytes.len(),
            kbit(bytes.len() as u64, secs),
            a.output.display()
        );
        Ok(())
    })
}

/// `otaflash otadata --port …`: show, or change, the device's otadata.
pub fn otadata_on_device(port: &str, link: &Link, op: OtadataOp, json: bool) -> CliResult {
    runtime().block_on(async {
        let mut l = session(port, link, json).await?;
        let table = l.read_partition_table(link.table_offset).await?;
        let boot = match op {
            OtadataOp::Show => {
                let od = l.read_otadata(&table).await?;
                let with_images = slots_with_images(&mut l, &table).await?;
                otadata::predict_boot(&table, &od, false, &|p| with_images.contains(&p.name()))
            }
            OtadataOp::SetBoot(label, state) => l.set_boot(&table, &label, state).await?,
            OtadataOp::Erase => l.erase_otadata(&table).await?,
            OtadataOp::Mark(valid) => {
                let od = l.read_otadata(&table).await?;
                let new = otadata::mark_running(&od, valid)?;
                l.switch_otadata(&table, &new).await?
            }
        };
        if json {
            print_json(&report::otadata_json(&table, &boot, &[]));
        } else {
            print!("{}", report::otadata_text(&table, &boot, &[]));
        }
        Ok(())
    })
}

pub enum OtadataOp {
    Show,
    SetBoot(String, OtaState),
    Erase,
    Mark(bool),
}

pub fn sim(a: SimArgs) -> CliResult {
    use crate::sim::{server::Server, Config, Timing};
    if crate::chips::Chip::by_name(&a.chip).map(|c| c.name) != Some("esp32") {
        return Err(Failure(format!(
            "--chip {}: the simulator models the ESP32 only",
            a.chip
        )));
    }
    if a.listen.is_none() && a.ws.is_none() {
        return Err(Failure("give --listen ADDR and/or --ws ADDR".into()));
    }
    let timing = match a.timing {
        TimingArg::Real => Timing::REALISTIC,
        TimingArg::None => Timing::NONE,
    };
    let server =
        Server::new(&a.flash, a.flash_size, |size| Config::new(size, timing)).map_err(Failure)?;
    runtime().block_on(async {
        let bind = |addr: Option<String>| async move {
            match addr {
                Some(a) => tokio::net::TcpListener::bind(&a)
                    .await
                    .map(Some)
                    .map_err(|e| Failure(format!("{a}: {e}"))),
                None => Ok(None),
            }
        };
        let tcp = bind(a.listen).await?;
        let ws = bind(a.ws).await?;
        let flash_mb = std::fs::metadata(server.path())
            .map(|m| m.len() >> 20)
            .unwrap_or(0);
        println!(
            "otaflash sim: ESP32 with {flash_mb} MB flash in {}",
            server.path().display()
        );
        if let Some(l) = &tcp {
            println!(
                "tcp {}",
                l.local_addr().map_err(|e| Failure(e.to_string()))?
            );
        }
        if let Some(l) = &ws {
            println!("ws {}", l.local_addr().map_err(|e| Failure(e.to_string()))?);
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        server
            .run(tcp, ws)
            .await
            .map_err(|e| Failure(e.to_string()))
    })
}
