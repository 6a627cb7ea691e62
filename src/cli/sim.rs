//! `otaflash sim`: the simulated chip served over TCP, RFC 2217 and WebSocket.

use super::link::runtime;
use super::{CliResult, Failure};
use crate::formats::numbers::parse_u32_arg;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimingArg {
    /// UART bytes at the current baud, USB latency, flash erase/program times.
    Real,
    /// Everything instantaneous.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WsSpeaksArg {
    Rfc2217,
    Raw,
}

#[derive(Args, Debug)]
pub struct SimArgs {
    /// The chip to simulate (its ROM loader, eFuses and bootloader offset): any chip otaflash
    /// drives; another name lists them.
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
    /// WebSocket address (binary frames only; what they carry: --ws-speaks).
    #[arg(long)]
    ws: Option<String>,
    /// What the WebSocket frames carry: RFC 2217 (the page's rfc2217+ws://, resets and baud
    /// included) or raw serial bytes (the page's ws://; the chip waits in download mode).
    #[arg(long, value_enum, default_value = "rfc2217")]
    ws_speaks: WsSpeaksArg,
    /// RFC 2217 address (esptool: --port rfc2217://ADDR; DTR/RTS reset and baud included).
    #[arg(long)]
    rfc2217: Option<String>,
    #[arg(long, value_enum, default_value = "real")]
    timing: TimingArg,
    /// The base MAC address the chip reports (default 24:0a:c4:0e:51:4d).
    #[arg(long, value_parser = parse_mac)]
    mac: Option<[u8; 6]>,
    /// What the chip's eFuses enable, comma-separated: flash-encryption (development mode),
    /// flash-encryption-release, secure-boot, secure-download, jtag-disabled.
    #[arg(long, value_parser = crate::chips::security::SimSecurity::parse)]
    security: Option<crate::chips::security::SimSecurity>,
    /// The chip's flash-encryption key: a 32-byte file, as espsecure takes it (XTS-AES-128;
    /// the chips after the ESP32). Default: the simulator's own key.
    #[arg(long)]
    flash_key: Option<PathBuf>,
    /// Fault injection (tests): the link drops, as if unplugged, once this many bytes have come
    /// from the host.
    #[arg(long)]
    fault_disconnect_after: Option<u64>,
    /// The board's EN pin rises this many milliseconds after it is released (a slow RC on EN;
    /// IO0 is sampled then): a short boot-pin hold boots the app instead of download mode.
    #[arg(long, default_value_t = 0)]
    en_rise_ms: u64,
    /// Fault injection (tests): the chip hangs, as after a brown-out, once this many bytes have
    /// come from the host; the link stays up and nothing answers until a reset.
    #[arg(long)]
    fault_hang_after: Option<u64>,
    /// Fault injection (tests): a flash byte whose bits stay 1 when programmed (a worn flash);
    /// writes complete, only a read-back or MD5 shows it. Repeatable.
    #[arg(long, value_parser = parse_u32_arg)]
    fault_stuck: Vec<u32>,
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let b: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("'{s}' is not a MAC address (aa:bb:cc:dd:ee:ff)"))?;
    b.try_into()
        .map_err(|_| format!("'{s}' is not a MAC address (six bytes)"))
}

pub fn sim(a: SimArgs) -> CliResult {
    use crate::sim::{
        server::{Server, WsSpeaks},
        Config, Timing,
    };
    let modelled: Vec<&str> = crate::chips::CHIPS
        .iter()
        .filter(|c| c.supported())
        .map(|c| c.name)
        .collect();
    let chip = crate::chips::Chip::by_name(&a.chip)
        .filter(|c| c.supported())
        .ok_or_else(|| {
            Failure(format!(
                "--chip {}: the simulator models {}",
                a.chip,
                modelled.join(", ")
            ))
        })?;
    let flash_key = match &a.flash_key {
        None => crate::sim::esp32::SIM_FLASH_KEY,
        Some(p) => std::fs::read(p)
            .map_err(|e| Failure(format!("--flash-key {}: {e}", p.display())))?
            .try_into()
            .map_err(|_| {
                Failure(format!(
                    "--flash-key {}: a 256-bit key file is 32 bytes",
                    p.display()
                ))
            })?,
    };
    if let (Some(s), Some(rom)) = (&a.security, chip.rom) {
        s.check(&rom.security)
            .map_err(|e| Failure(format!("--security: {e}")))?;
    }
    if a.listen.is_none() && a.ws.is_none() && a.rfc2217.is_none() {
        return Err(Failure(
            "give --listen ADDR, --rfc2217 ADDR and/or --ws ADDR".into(),
        ));
    }
    let timing = match a.timing {
        TimingArg::Real => Timing::REALISTIC,
        TimingArg::None => Timing::NONE,
    };
    let mut server = Server::new(&a.flash, a.flash_size, |size| {
        let mut c = Config {
            chip,
            ..Config::new(size, timing)
        };
        if let Some(m) = a.mac {
            c.mac = m;
        }
        c.faults.disconnect_after_h2d = a.fault_disconnect_after;
        c.faults.hang_after_h2d = a.fault_hang_after;
        c.en_rise = std::time::Duration::from_millis(a.en_rise_ms);
        c.faults.stuck_bytes = a.fault_stuck.clone();
        c.security = a.security.unwrap_or_default();
        c.flash_key = flash_key;
        c
    })
    .map_err(Failure)?;
    server.ws_speaks = match a.ws_speaks {
        WsSpeaksArg::Rfc2217 => WsSpeaks::Rfc2217,
        WsSpeaksArg::Raw => WsSpeaks::Raw,
    };
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
        let rfc = bind(a.rfc2217).await?;
        let flash_mb = std::fs::metadata(server.path())
            .map(|m| m.len() >> 20)
            .unwrap_or(0);
        println!(
            "otaflash sim: {} with {flash_mb} MB flash in {}",
            chip.pretty,
            server.path().display()
        );
        if let Some(l) = &tcp {
            println!(
                "tcp {}",
                l.local_addr().map_err(|e| Failure(e.to_string()))?
            );
        }
        if let Some(l) = &rfc {
            println!(
                "rfc2217 {}",
                l.local_addr().map_err(|e| Failure(e.to_string()))?
            );
        }
        if let Some(l) = &ws {
            // The URL the page takes.
            let scheme = match a.ws_speaks {
                WsSpeaksArg::Rfc2217 => "rfc2217+ws",
                WsSpeaksArg::Raw => "ws",
            };
            println!(
                "ws {scheme}://{}",
                l.local_addr().map_err(|e| Failure(e.to_string()))?
            );
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        server
            .run(tcp, ws, rfc)
            .await
            .map_err(|e| Failure(e.to_string()))
    })
}
