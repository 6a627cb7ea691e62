//! `otaflash wifi`: Wi-Fi set-up over Improv with the board's app running — what the app is,
//! the networks it sees, and credentials sent, with the address to visit or the app's error in
//! words. The board is reset into its app first where the port can (RFC 2217, a serial port).

use super::link::runtime;
use super::tcp::TcpPort;
use super::{print_json, CliResult, Failure};
use crate::device::improv::Improv;
use crate::loader::Port;
use clap::Args;
use serde_json::json;

#[derive(Args, Debug)]
pub struct WifiArgs {
    /// The board (tcp://HOST:PORT, rfc2217://HOST:PORT).
    #[arg(long)]
    port: String,
    /// List the networks the board sees.
    #[arg(long)]
    scan: bool,
    /// Connect the board to this network (with --password, empty for an open one).
    #[arg(long)]
    ssid: Option<String>,
    #[arg(long, default_value = "", requires = "ssid")]
    password: String,
    /// The board runs its app already: no reset.
    #[arg(long)]
    no_reset: bool,
    #[arg(long)]
    json: bool,
}

pub fn wifi(a: WifiArgs) -> CliResult {
    runtime().block_on(async {
        let mut port = TcpPort::open(&a.port).await.map_err(Failure::board)?;
        if !a.no_reset && port.can_reset() {
            crate::loader::reset_into_app(&mut port).await?;
        }
        let mut improv = Improv::new(&mut port);
        let (state, url) = improv.current_state().await?;
        let info = improv.info().await?;
        let networks = if a.scan {
            Some(improv.scan().await?)
        } else {
            None
        };
        let joined = match &a.ssid {
            Some(ssid) => Some(improv.provision(ssid, &a.password).await?),
            None => None,
        };
        let url = joined.clone().flatten().or(url);
        if a.json {
            print_json(&json!({
                "firmware": info.firmware, "version": info.version, "chip": info.chip,
                "name": info.name,
                "provisioned": joined.is_some() || state == crate::wire::improv::State::Provisioned,
                "url": url,
                "networks": networks.as_ref().map(|n| n.iter().map(|n| json!({
                    "ssid": n.ssid, "rssi": n.rssi, "secured": n.secured,
                })).collect::<Vec<_>>()),
            }));
            return Ok(());
        }
        println!(
            "{} ({} {} on {})",
            info.name, info.firmware, info.version, info.chip
        );
        for n in networks.iter().flatten() {
            println!(
                "  {:<32} {:>4} dBm{}",
                n.ssid,
                n.rssi,
                if n.secured { "" } else { "  open" }
            );
        }
        match (&a.ssid, &url) {
            (Some(s), Some(u)) => println!("Connected to {s}. Visit the device: {u}"),
            (Some(s), None) => println!("Connected to {s}."),
            (None, Some(u)) => println!("Wi-Fi is set up. Visit the device: {u}"),
            (None, None) => println!("Wi-Fi is not set up yet (give --ssid and --password)."),
        }
        Ok(())
    })
}
