//! Opening a link to the chip the way a field technician needs it, fast: connect, ask the ROM for
//! the fast baud, send the stub at that rate (or carry on with the ROM loader if it does not
//! start), set the baud exactly through the stub — each step with its fall-back to 115200.

use super::stub::{StubImage, Stubs};
use super::{ChipInfo, Error, Loader, NoAnswer, Port, Reset, Result, DEFAULT_BAUD, ROM_BAUD};

/// How to open the link: reset, attempts, stub, baud.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub reset: Reset,
    pub attempts: u32,
    /// Where the flasher stub for the detected chip comes from.
    pub stubs: Stubs,
    /// The baud the user asked for (CLI `--baud`, the page's baud choice or `&baud=`), or None
    /// for the default ([`DEFAULT_BAUD`]). An asked rate is asked of the chip even over a link
    /// without baud control, which a link without a UART of its own carries (esptool's
    /// `socket://` does the same); the default is not: such a link stays at the ROM's 115200,
    /// the only rate a raw bridge to a real UART is sure to run at.
    pub baud: Option<u32>,
}

impl OpenOptions {
    /// The rate to end up at where the link allows it.
    pub fn rate(&self) -> u32 {
        self.baud.unwrap_or(DEFAULT_BAUD)
    }
}

impl<P: Port> Loader<P> {
    /// Connects, then starts the stub and switches the baud, each with a fall-back: the ROM
    /// loader when the stub does not start, 115200 when the fast rate does not work (after a
    /// reset and a fresh connection if the chip cannot be talked back down).
    pub async fn open(&mut self, opts: &OpenOptions) -> Result<ChipInfo> {
        let info = self.connect(opts.reset, opts.attempts).await?;
        if !info.chip.supported() {
            return Ok(info);
        }
        if info.security.secure_download {
            self.log("secure download mode: the flasher stub cannot run; the ROM loader writes, and nothing can be read back or MD5-checked");
        }
        let stub = if info.security.secure_download {
            None
        } else {
            match opts.stubs.get(info.chip).await {
                None => None,
                Some(Ok(s)) => Some(s),
                Some(Err(e)) => {
                    self.log(format!(
                        "flasher stub not available ({e}): using the ROM loader"
                    ));
                    None
                }
            }
        };
        let rate = opts.rate();
        let mut fast = rate != self.baud();
        if fast && !self.port.has_baud() && opts.baud.is_none() {
            self.log(format!(
                "this link carries bytes only (no baud control): staying at {ROM_BAUD} baud. If it has no UART of its own (an emulator, a UART-less serial server), ask for a faster rate: --baud {rate} (the page: &baud={rate})"
            ));
            fast = false;
        }
        // The fast rate first, from the ROM, so that the stub goes up at it (most of the time
        // a connection takes is the stub at 115200 otherwise).
        if fast && stub.is_some() {
            fast = self.try_baud(opts, None).await?;
        }
        if let Some(stub) = &stub {
            if let Err(e) = self.run_stub(stub).await {
                self.log(format!(
                    "the flasher stub did not start ({e}); carrying on with the ROM loader"
                ));
                self.resync(opts, None).await?;
            }
        }
        // Exactly the rate asked: through the stub (where it landed elsewhere), or the ROM.
        if fast && self.baud() != rate {
            self.try_baud(opts, stub.as_ref()).await?;
        }
        Ok(info)
    }

    /// Switches to `opts.rate()`; when the link fails there, gets back to the ROM baud (with
    /// `stub` again). Whether the fast rate was reached.
    async fn try_baud(&mut self, opts: &OpenOptions, stub: Option<&StubImage>) -> Result<bool> {
        match self.change_baud(opts.rate()).await {
            Ok(b) => Ok(b == opts.rate()),
            Err(e @ (Error::NoAnswer(_) | Error::Timeout(_))) => {
                self.log(format!("{e}; reconnecting at {ROM_BAUD} baud"));
                self.resync(opts, stub).await?;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Gets back to a working link at the ROM baud: a SYNC if the chip still listens there,
    /// otherwise a reset and a fresh connection (with `stub` again, if given).
    async fn resync(&mut self, opts: &OpenOptions, stub: Option<&StubImage>) -> Result<()> {
        self.port.set_baud(ROM_BAUD).await?;
        self.baud = ROM_BAUD;
        if !self.is_stub {
            // A chip still in its ROM listens at the rate it recorded only after a reset.
            self.rom_baud_record = ROM_BAUD;
        }
        self.flush_input().await?;
        for _ in 0..3 {
            if self.sync().await? {
                return Ok(());
            }
        }
        if !self.port.can_reset() || opts.reset == Reset::None {
            return Err(Error::NoAnswer(NoAnswer::CannotReset));
        }
        self.connect(opts.reset, opts.attempts).await?;
        if let Some(stub) = stub {
            self.run_stub(stub).await?;
        }
        Ok(())
    }
}
