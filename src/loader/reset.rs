//! DTR/RTS into download mode and out of it. The sequences and their order are esptool's
//! (`esptool/reset.py`) as espflash carries them (`connection/reset.rs`,
//! `construct_reset_strategy_sequence`): on a USB-UART bridge, the tight sequence with the boot
//! pin held 50 ms after EN is released, then held 500 ms for boards whose EN rises slowly (a
//! large capacitor on EN: the chip leaves reset late and samples IO0 after a short hold has
//! already ended); on the USB-Serial-JTAG peripheral its own sequence. espflash's "classic"
//! sequence differs from the tight one only by setting the two lines one after the other; a
//! [`Port`] sets both at once (as Web Serial's `setSignals` does), so the tight one is what is
//! sent.

use super::{Port, Result};
use crate::chips::UsbLink;
use std::time::Duration;

/// How to get the chip into download mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// Alternate the bridge sequence and the USB-JTAG-serial one (esptool's default when the
    /// port's USB ids are not known).
    Auto,
    /// Two-transistor auto-reset circuit on a USB-UART bridge.
    Classic,
    /// The USB-Serial-JTAG peripheral of C3/S3/C6 chips.
    UsbJtag,
    /// The chip is already in download mode (or was put there by hand).
    None,
}

/// How long IO0 is held low after EN is released: esptool's and espflash's default, and the
/// longer one they try next.
pub const HOLD: Duration = Duration::from_millis(50);
pub const LONG_HOLD: Duration = Duration::from_millis(500);

/// One pulse of the lines into download mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pulse {
    /// The auto-reset circuit of a USB-UART bridge, IO0 held `hold` after EN is released.
    Bridge { hold: Duration },
    /// The USB-Serial-JTAG peripheral's own sequence.
    UsbJtag,
}

impl Reset {
    /// What the port's USB ids say about `Auto` (esptool does the same); unknown ids keep it.
    pub fn for_link(self, usb: Option<UsbLink>) -> Reset {
        match (self, usb) {
            (Reset::Auto, Some(UsbLink::SerialJtag)) => Reset::UsbJtag,
            (Reset::Auto, Some(UsbLink::Bridge(_))) => Reset::Classic,
            (r, _) => r,
        }
    }

    /// The pulses tried in turn, one per connect attempt (from the first again when they run
    /// out).
    pub fn pulses(self) -> Vec<Pulse> {
        let short = Pulse::Bridge { hold: HOLD };
        let long = Pulse::Bridge { hold: LONG_HOLD };
        match self {
            Reset::Classic => vec![short, long],
            Reset::UsbJtag => vec![Pulse::UsbJtag],
            Reset::Auto => vec![short, Pulse::UsbJtag, long, Pulse::UsbJtag],
            Reset::None => vec![],
        }
    }
}

/// Sends `pulse` (DTR true = IO0 low, RTS true = EN low through the auto-reset circuit).
pub async fn pulse<P: Port>(port: &mut P, pulse: Pulse) -> Result<()> {
    let ms = Duration::from_millis;
    match pulse {
        Pulse::Bridge { hold } => {
            // EN low with IO0 high, then EN released with IO0 low, held, then IO0 released.
            // (espflash's tight sequence first passes through both lines asserted to know their
            // state; through an RFC 2217 serial server that asserted DTR already starts a reset
            // of its own — esp_rfc2217_server resets on DTR — and the chip would be reset twice,
            // so it is left out: a Port always sets both lines.)
            port.set_signals(false, true).await?;
            port.sleep(ms(100)).await;
            port.set_signals(true, false).await?;
            port.sleep(hold).await;
            port.set_signals(false, false).await?;
        }
        Pulse::UsbJtag => {
            port.set_signals(false, false).await?;
            port.sleep(ms(100)).await;
            port.set_signals(true, false).await?;
            port.sleep(ms(100)).await;
            // Through both asserted, not both released, into reset.
            port.set_signals(true, true).await?;
            port.set_signals(false, true).await?;
            port.sleep(ms(100)).await;
            port.set_signals(false, false).await?;
        }
    }
    Ok(())
}

/// Resets the chip into its app: an EN pulse with IO0 high (esptool's `--after hard-reset`).
pub async fn reset_into_app<P: Port>(port: &mut P) -> Result<()> {
    port.set_signals(false, true).await?;
    port.sleep(Duration::from_millis(100)).await;
    port.set_signals(false, false).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longer_hold_comes_next_on_a_bridge_and_between_usb_tries_when_unknown() {
        assert_eq!(
            Reset::Classic.pulses(),
            [
                Pulse::Bridge { hold: HOLD },
                Pulse::Bridge { hold: LONG_HOLD }
            ]
        );
        assert_eq!(Reset::Auto.pulses()[2], Pulse::Bridge { hold: LONG_HOLD });
        assert_eq!(
            Reset::Auto.for_link(Some(UsbLink::SerialJtag)),
            Reset::UsbJtag
        );
        assert!(Reset::None.pulses().is_empty());
    }
}
