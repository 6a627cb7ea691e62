//! Wi-Fi set-up over Improv ([`crate::wire::improv`]) with the app running on the board: its
//! state and the address it gives once connected, what it is (firmware, version, chip, name),
//! the networks it sees, and credentials sent with the answer in words. One request at a time,
//! each answered or timed out, as the client ESP Web Tools uses does; the state request is sent
//! again every second while the app is still starting.

use crate::loader::{Error, Port, Result};
use crate::wire::improv::{command, ErrorState, Packet, Read, Reader, State};
use std::time::Duration;

/// What the app says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub firmware: String,
    pub version: String,
    pub chip: String,
    pub name: String,
}

/// A network the app sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub ssid: String,
    pub rssi: i32,
    /// A password is needed.
    pub secured: bool,
}

/// How long the app has to answer a request (joining a network takes longer).
pub const ANSWER: Duration = Duration::from_secs(5);
pub const JOIN: Duration = Duration::from_secs(30);
/// How long the app may take to start answering at all (right after a reset).
pub const DETECT: Duration = Duration::from_secs(10);

/// An Improv client on the app's console. Console text read meanwhile is kept.
pub struct Improv<'a, P: Port> {
    port: &'a mut P,
    reader: Reader,
    /// The console text read between the packets.
    pub console: Vec<u8>,
    pub state: Option<State>,
    /// How long the app may take to answer the first request ([`DETECT`] unless set).
    detect: Duration,
}

impl<'a, P: Port> Improv<'a, P> {
    pub fn new(port: &'a mut P) -> Self {
        Improv {
            port,
            reader: Reader::default(),
            console: vec![],
            state: None,
            detect: DETECT,
        }
    }

    /// The app gets `d` to answer the first request (a manifest's
    /// `new_install_improv_wait_time`).
    pub fn detect_within(mut self, d: Duration) -> Self {
        self.detect = d;
        self
    }

    async fn send(&mut self, p: &Packet) -> Result<()> {
        self.port.write(&p.encode()).await?;
        Ok(())
    }

    /// Sends `req` and collects packets until `done` says so ([`Improv::collect`]); `again`:
    /// the request is sent again each second without an answer (the app starting).
    async fn ask(
        &mut self,
        req: Packet,
        done: &dyn Fn(&Packet) -> bool,
        within: Duration,
        again: bool,
    ) -> Result<Vec<Packet>> {
        self.send(&req).await?;
        self.collect(done, within, again.then_some(&req)).await
    }

    /// Reads packets until `done` says so; a device error state ends it. `resend`: sent again
    /// each second while nothing came.
    async fn collect(
        &mut self,
        done: &dyn Fn(&Packet) -> bool,
        within: Duration,
        resend: Option<&Packet>,
    ) -> Result<Vec<Packet>> {
        let began = self.port.elapsed();
        let mut last_sent = began;
        let mut got = vec![];
        let mut buf = vec![0u8; 1024];
        while self.port.elapsed() - began < within {
            if let Some(req) = resend.filter(|_| got.is_empty()) {
                if self.port.elapsed() - last_sent >= Duration::from_secs(1) {
                    self.send(req).await?;
                    last_sent = self.port.elapsed();
                }
            }
            let n = self.port.read(&mut buf, Duration::from_millis(100)).await?;
            for r in self.reader.push(&buf[..n]) {
                match r {
                    Read::Text(t) => self.console.extend(t),
                    Read::Packet(Packet::Error(ErrorState::None)) => {}
                    Read::Packet(Packet::Error(e)) => return Err(Error::Improv(e)),
                    Read::Packet(p) => {
                        if let Packet::State(s) = p {
                            self.state = Some(s);
                        }
                        let end = done(&p);
                        got.push(p);
                        if end {
                            return Ok(got);
                        }
                    }
                }
            }
        }
        Err(Error::Timeout(format!(
            "no Improv Wi-Fi answer within {} s (the app may not speak Improv)",
            within.as_secs()
        )))
    }

    /// The provisioning state, and the address a provisioned app gives.
    pub async fn current_state(&mut self) -> Result<(State, Option<String>)> {
        let got = self
            .ask(
                Packet::request(command::CURRENT_STATE),
                &|p| matches!(p, Packet::State(_)),
                self.detect,
                true,
            )
            .await?;
        let state = self.state.unwrap_or(State::Other(0));
        if state != State::Provisioned {
            return Ok((state, None));
        }
        // A provisioned app also sends the address.
        let url = match got.iter().find_map(url_of) {
            Some(u) => Some(u),
            None => self
                .collect(&|p| url_of(p).is_some(), ANSWER, None)
                .await
                .ok()
                .and_then(|v| v.iter().find_map(url_of)),
        };
        Ok((state, url))
    }

    pub async fn info(&mut self) -> Result<DeviceInfo> {
        let got = self
            .ask(
                Packet::request(command::DEVICE_INFO),
                &|p| is_result(p, command::DEVICE_INFO),
                ANSWER,
                false,
            )
            .await?;
        let s = match got.last() {
            Some(Packet::Result { strings, .. }) => strings.clone(),
            _ => vec![],
        };
        let at = |i: usize| s.get(i).cloned().unwrap_or_default();
        Ok(DeviceInfo {
            firmware: at(0),
            version: at(1),
            chip: at(2),
            name: at(3),
        })
    }

    /// The networks the app sees, strongest first.
    pub async fn scan(&mut self) -> Result<Vec<Network>> {
        let got = self
            .ask(
                Packet::request(command::WIFI_NETWORKS),
                &|p| matches!(p, Packet::Result { command: c, strings } if *c == command::WIFI_NETWORKS && strings.is_empty()),
                ANSWER * 4,
                false,
            )
            .await?;
        let mut v: Vec<Network> = got
            .iter()
            .filter_map(|p| match p {
                Packet::Result {
                    command: c,
                    strings,
                } if *c == command::WIFI_NETWORKS => match strings.as_slice() {
                    [ssid, rssi, secured] => Some(Network {
                        ssid: ssid.clone(),
                        rssi: rssi.parse().unwrap_or(-100),
                        secured: secured != "NO",
                    }),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        v.sort_by_key(|n| -n.rssi);
        Ok(v)
    }

    /// Sends the credentials: the address to visit once connected (if the app gives one), or
    /// the app's error ([`Error::Improv`]: a wrong password is "unable to connect").
    pub async fn provision(&mut self, ssid: &str, password: &str) -> Result<Option<String>> {
        let got = self
            .ask(
                Packet::wifi_settings(ssid, password),
                &|p| is_result(p, command::SEND_WIFI_SETTINGS),
                JOIN,
                false,
            )
            .await?;
        Ok(got.iter().find_map(url_of))
    }
}

fn is_result(p: &Packet, cmd: u8) -> bool {
    matches!(p, Packet::Result { command: c, .. } if *c == cmd)
}

fn url_of(p: &Packet) -> Option<String> {
    match p {
        Packet::Result {
            command: c,
            strings,
        } if *c == command::SEND_WIFI_SETTINGS => strings.first().cloned(),
        _ => None,
    }
}
