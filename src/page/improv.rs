//! Wi-Fi set-up over Improv with the app running (the console, the install dialog): what the
//! app said it is, the networks it sees, the set-up asked for and how it ended. Pure: the
//! Wi-Fi panel asks the app ([`crate::device::improv::Improv`]) and reports [`WifiNews`].

use super::Failure;
use crate::device::improv::{DeviceInfo, Network};

/// What is asked of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WifiAsk {
    /// Its state and what it is (then the networks, when it is not set up yet).
    Hello,
    /// The networks it sees, again.
    Scan,
    /// Join this network.
    Join { ssid: String, password: String },
}

/// What the app answered.
#[derive(Debug, Clone, PartialEq)]
pub enum WifiNews {
    /// A request is on its way.
    Asking(WifiAsk),
    /// What the app is, and whether it is on a network already (with the address it gives).
    Found {
        info: DeviceInfo,
        provisioned: bool,
        url: Option<String>,
    },
    Networks(Vec<Network>),
    /// It joined `ssid`; the address to visit if it gave one.
    Joined {
        ssid: String,
        url: Option<String>,
    },
    /// The request failed: the app's error (a wrong password), the link.
    Failed(WifiAsk, Failure),
    /// The app gave no Improv answer at all (it may not speak it): the console goes on.
    Silent(Failure),
}

/// The Wi-Fi set-up as the page shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WifiSetup {
    /// What is being asked now (buttons wait meanwhile).
    pub asking: Option<WifiAsk>,
    pub info: Option<DeviceInfo>,
    pub networks: Vec<Network>,
    /// The network it is on (once joined here, or as it said), and its address.
    pub joined: Option<Joined>,
    /// The last request's failure, until the next request.
    pub failed: Option<Failure>,
    /// The app never answered Improv: it may not speak it.
    pub silent: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Joined {
    /// None: the app was set up before (it does not say which network).
    pub ssid: Option<String>,
    pub url: Option<String>,
}

impl WifiSetup {
    pub fn apply(&mut self, news: WifiNews) {
        match news {
            WifiNews::Asking(a) => {
                self.failed = None;
                if matches!(a, WifiAsk::Join { .. }) {
                    self.joined = None;
                }
                self.asking = Some(a);
            }
            WifiNews::Found {
                info,
                provisioned,
                url,
            } => {
                self.silent = false;
                self.info = Some(info);
                // A scan follows when it is not set up: still asking.
                if provisioned {
                    self.joined = Some(Joined { ssid: None, url });
                    self.asking = None;
                }
            }
            WifiNews::Networks(n) => {
                self.networks = n;
                self.asking = None;
            }
            WifiNews::Joined { ssid, url } => {
                self.joined = Some(Joined {
                    ssid: Some(ssid),
                    url,
                });
                self.asking = None;
            }
            WifiNews::Failed(_, f) => {
                self.failed = Some(f);
                self.asking = None;
            }
            WifiNews::Silent(f) => {
                self.silent = true;
                self.failed = Some(f);
                self.asking = None;
            }
        }
    }

    /// Words for the end of a set-up: "Connected to GardenNet. Visit the device: http://…".
    pub fn joined_words(&self) -> Option<String> {
        let j = self.joined.as_ref()?;
        let on = match &j.ssid {
            Some(s) => format!("Connected to {s}."),
            None => "Wi-Fi is set up.".to_string(),
        };
        Some(match &j.url {
            Some(u) => format!("{on} Visit the device: {u}"),
            None => on,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::{Error, Via};
    use crate::wire::improv::ErrorState;

    fn info() -> DeviceInfo {
        DeviceInfo {
            firmware: "hello_world".into(),
            version: "1".into(),
            chip: "ESP32".into(),
            name: "hello-world-0e514d".into(),
        }
    }

    #[test]
    fn a_set_up_from_hello_to_joined() {
        let mut w = WifiSetup::default();
        w.apply(WifiNews::Asking(WifiAsk::Hello));
        w.apply(WifiNews::Found {
            info: info(),
            provisioned: false,
            url: None,
        });
        assert!(w.asking.is_some(), "the scan follows");
        w.apply(WifiNews::Networks(vec![Network {
            ssid: "GardenNet".into(),
            rssi: -52,
            secured: true,
        }]));
        assert_eq!(w.asking, None);
        let join = WifiAsk::Join {
            ssid: "GardenNet".into(),
            password: "wrong".into(),
        };
        w.apply(WifiNews::Asking(join.clone()));
        let e = Error::Improv(ErrorState::UnableToConnect);
        w.apply(WifiNews::Failed(join, Failure::of(&e, Via::Serial(None))));
        let f = w.failed.clone().unwrap();
        assert!(f.message.contains("could not connect"), "{f:?}");
        assert!(!w.silent && w.joined.is_none());
        w.apply(WifiNews::Asking(WifiAsk::Join {
            ssid: "GardenNet".into(),
            password: "tomato-soup".into(),
        }));
        assert_eq!(w.failed, None);
        w.apply(WifiNews::Joined {
            ssid: "GardenNet".into(),
            url: Some("http://hello-world-0e514d.local/".into()),
        });
        assert_eq!(
            w.joined_words().unwrap(),
            "Connected to GardenNet. Visit the device: http://hello-world-0e514d.local/"
        );
    }

    #[test]
    fn an_app_that_never_answers_is_silent_not_broken() {
        let mut w = WifiSetup::default();
        w.apply(WifiNews::Asking(WifiAsk::Hello));
        let e = Error::Timeout("no Improv Wi-Fi answer within 10 s".into());
        w.apply(WifiNews::Silent(Failure::of(&e, Via::Serial(None))));
        assert!(w.silent);
    }
}
