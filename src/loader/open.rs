//! Opening a link to the chip the way a field technician needs it: connect, start the stub (or carry on
//! with the ROM loader if it does not start), switch to the fast baud (or fall back to 115200).

use super::stub::{StubImage, Stubs};
use super::{ChipInfo, Error, Loader, NoAnswer, Port, Reset, Result, ROM_BAUD};

/// How to open the link: reset, attempts, stub, baud.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub reset: Reset,
    pub attempts: u32,
    /// Where the flasher stub for the detected chip comes from.
    pub stubs: Stubs,
    pub baud: u32,
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
        if let Some(stub) = &stub {
            if let Err(e) = self.run_stub(stub).await {
                self.log(format!(
                    "the flasher stub did not start ({e}); carrying on with the ROM loader"
                ));
                self.resync(opts, None).await?;
            }
        }
        if opts.baud != self.baud() {
            match self.change_baud(opts.baud).await {
                Ok(_) => {}
                Err(e @ (Error::NoAnswer(_) | Error::Timeout(_))) => {
                    self.log(format!("{e}; reconnecting at {ROM_BAUD} baud"));
                    self.resync(opts, stub.as_ref()).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(info)
    }

    /// Gets back to a working link at the ROM baud: a SYNC if the chip still listens there,
    /// otherwise a reset and a fresh connection (with `stub` again, if given).
    async fn resync(&mut self, opts: &OpenOptions, stub: Option<&StubImage>) -> Result<()> {
        self.port.set_baud(ROM_BAUD).await?;
        self.baud = ROM_BAUD;
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
