//! Wi-Fi set-up over Improv with the app running: the console sends each request between its
//! reads ([`crate::device::improv::Improv`], one request at a time, answered or timed out) and
//! the answers reach the page as [`WifiNews`]; what the app printed meanwhile goes to the log.

use super::Engine;
use crate::device::improv::Improv;
use crate::loader::{self, Port};
use crate::page::improv::{WifiAsk, WifiNews};
use crate::page::{Action, Failure};
use crate::web::ports::AnyPort;
use crate::wire::improv::State;

impl Engine {
    /// Asks the running app (sent once the console runs; the page says it is asking).
    pub fn ask_wifi(&self, ask: WifiAsk) {
        self.send(Action::Wifi(WifiNews::Asking(ask.clone())));
        self.wifi_asks.borrow_mut().push_back(ask);
    }

    /// Sends the requests waiting, one at a time, and reports the answers.
    pub(super) async fn answer_wifi(&self, port: &mut AnyPort) {
        loop {
            let Some(ask) = self.wifi_asks.borrow_mut().pop_front() else {
                return;
            };
            let via = port.via();
            let mut improv = Improv::new(port);
            let r = ask_app(&mut improv, &ask, &|n| self.send(Action::Wifi(n))).await;
            let printed = std::mem::take(&mut improv.console);
            self.console(&printed);
            match r {
                Ok(()) => {}
                // No Improv answer to the first request: the app may not speak it.
                Err(e @ loader::Error::Timeout(_)) if ask == WifiAsk::Hello => {
                    self.log(format!("Wi-Fi set-up: {e}"));
                    self.send(Action::Wifi(WifiNews::Silent(Failure::of(&e, via))));
                }
                Err(e) => {
                    self.log(format!("Wi-Fi set-up: {e}"));
                    self.send(Action::Wifi(WifiNews::Failed(ask, Failure::of(&e, via))));
                }
            }
        }
    }
}

/// One request of the page, as Improv requests: hello is the state and what the app is (and
/// the networks when it is not set up yet).
async fn ask_app<P: Port>(
    improv: &mut Improv<'_, P>,
    ask: &WifiAsk,
    tell: &dyn Fn(WifiNews),
) -> loader::Result<()> {
    match ask {
        WifiAsk::Hello => {
            let (state, url) = improv.current_state().await?;
            let info = improv.info().await?;
            let provisioned = state == State::Provisioned;
            tell(WifiNews::Found {
                info,
                provisioned,
                url,
            });
            if !provisioned {
                tell(WifiNews::Networks(improv.scan().await?));
            }
        }
        WifiAsk::Scan => tell(WifiNews::Networks(improv.scan().await?)),
        WifiAsk::Join { ssid, password } => {
            let url = improv.provision(ssid, password).await?;
            tell(WifiNews::Joined {
                ssid: ssid.clone(),
                url,
            });
        }
    }
    Ok(())
}
