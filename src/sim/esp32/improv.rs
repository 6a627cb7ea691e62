//! The simulated app's Improv Wi-Fi service: what an ESPHome- or WLED-style app answers on its
//! console ([`crate::wire::improv`]), in a small simulated radio world, so that provisioning is
//! tested end to end. The app does not run; this stands for its Improv component.
//!
//! The world: networks "GardenNet" (-52 dBm, password "tomato-soup"), "Workshop" (-67 dBm,
//! "solder-fumes") and "Guest" (-80 dBm, open). A right password connects after
//! [`CONNECT_TIME`] and gives the device's address; a wrong one, or a network not in range,
//! ends in "unable to connect". Provisioning lasts until the chip is reset (not kept in NVS).

use crate::wire::improv::{command, ErrorState, Packet, Read, Reader, State};
use std::time::Duration;

/// The networks in range: SSID, RSSI (dBm), password (empty: open).
pub const NETWORKS: [(&str, i32, &str); 3] = [
    ("GardenNet", -52, "tomato-soup"),
    ("Workshop", -67, "solder-fumes"),
    ("Guest", -80, ""),
];

/// How long joining a network takes.
pub const CONNECT_TIME: Duration = Duration::from_millis(1500);

/// How long a scan takes.
pub const SCAN_TIME: Duration = Duration::from_millis(400);

/// The running app as Improv tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInfo {
    pub firmware: String,
    pub version: String,
    /// The chip family, as ESP Web Tools names it ("ESP32").
    pub chip: String,
    pub device: String,
}

/// The service: packets found in what the host sends, and the state it keeps.
#[derive(Debug, Default)]
pub struct ImprovService {
    reader: Reader,
    /// The address given once connected.
    url: Option<String>,
}

/// What the service does with what it received: packets to send (after a delay), and the
/// console text the app got.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub send: Vec<(Duration, Packet)>,
    pub text: Vec<u8>,
}

impl ImprovService {
    /// Bytes the host sent to the app's console.
    pub fn receive(&mut self, bytes: &[u8], app: &AppInfo) -> Answer {
        let mut a = Answer::default();
        for r in self.reader.push(bytes) {
            match r {
                Read::Text(t) => a.text.extend(t),
                Read::Packet(Packet::Rpc { command, data }) => {
                    a.send.extend(self.rpc(command, &data, app))
                }
                // Packets a device sends are no requests.
                Read::Packet(_) => a
                    .send
                    .push((Duration::ZERO, Packet::Error(ErrorState::InvalidRpc))),
            }
        }
        a
    }

    fn state(&self) -> State {
        if self.url.is_some() {
            State::Provisioned
        } else {
            State::Ready
        }
    }

    fn connected(&self) -> Packet {
        Packet::Result {
            command: command::SEND_WIFI_SETTINGS,
            strings: self.url.iter().cloned().collect(),
        }
    }

    fn rpc(&mut self, cmd: u8, data: &[u8], app: &AppInfo) -> Vec<(Duration, Packet)> {
        let now = Duration::ZERO;
        match cmd {
            command::CURRENT_STATE => {
                let mut v = vec![(now, Packet::State(self.state()))];
                if self.url.is_some() {
                    v.push((now, self.connected()));
                }
                v
            }
            command::DEVICE_INFO => vec![(
                now,
                Packet::Result {
                    command: command::DEVICE_INFO,
                    strings: vec![
                        app.firmware.clone(),
                        app.version.clone(),
                        app.chip.clone(),
                        app.device.clone(),
                    ],
                },
            )],
            command::WIFI_NETWORKS => {
                let mut v: Vec<(Duration, Packet)> = NETWORKS
                    .iter()
                    .map(|(ssid, rssi, pw)| {
                        (
                            SCAN_TIME,
                            Packet::Result {
                                command: command::WIFI_NETWORKS,
                                strings: vec![
                                    ssid.to_string(),
                                    rssi.to_string(),
                                    if pw.is_empty() { "NO" } else { "YES" }.to_string(),
                                ],
                            },
                        )
                    })
                    .collect();
                v.push((
                    SCAN_TIME,
                    Packet::Result {
                        command: command::WIFI_NETWORKS,
                        strings: vec![],
                    },
                ));
                v
            }
            command::SEND_WIFI_SETTINGS => {
                let Some((ssid, password)) = Packet::settings_of(data) else {
                    return vec![(now, Packet::Error(ErrorState::InvalidRpc))];
                };
                let joins = NETWORKS
                    .iter()
                    .any(|(s, _, pw)| *s == ssid && *pw == password);
                let mut v = vec![
                    (now, Packet::Error(ErrorState::None)),
                    (now, Packet::State(State::Provisioning)),
                ];
                if joins {
                    self.url = Some(format!("http://{}.local/", app.device));
                    v.push((CONNECT_TIME, Packet::State(State::Provisioned)));
                    v.push((CONNECT_TIME, self.connected()));
                } else {
                    self.url = None;
                    v.push((CONNECT_TIME, Packet::Error(ErrorState::UnableToConnect)));
                    v.push((CONNECT_TIME, Packet::State(State::Ready)));
                }
                v
            }
            _ => vec![(now, Packet::Error(ErrorState::UnknownCommand))],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppInfo {
        AppInfo {
            firmware: "garden".into(),
            version: "1.1.0".into(),
            chip: "ESP32".into(),
            device: "garden-0e514d".into(),
        }
    }

    fn packets(a: &Answer) -> Vec<&Packet> {
        a.send.iter().map(|(_, p)| p).collect()
    }

    #[test]
    fn provisioning_with_the_right_and_a_wrong_password() {
        let mut s = ImprovService::default();
        let a = s.receive(&Packet::request(command::CURRENT_STATE).encode(), &app());
        assert_eq!(packets(&a), [&Packet::State(State::Ready)]);
        let a = s.receive(
            &Packet::wifi_settings("GardenNet", "wrong").encode(),
            &app(),
        );
        assert_eq!(
            packets(&a)[2..],
            [
                &Packet::Error(ErrorState::UnableToConnect),
                &Packet::State(State::Ready)
            ]
        );
        let a = s.receive(
            &Packet::wifi_settings("GardenNet", "tomato-soup").encode(),
            &app(),
        );
        assert_eq!(a.send[3].0, CONNECT_TIME);
        assert_eq!(
            a.send[3].1,
            Packet::Result {
                command: command::SEND_WIFI_SETTINGS,
                strings: vec!["http://garden-0e514d.local/".into()]
            }
        );
        // Asked again, a provisioned device says so and gives the address again.
        let a = s.receive(&Packet::request(command::CURRENT_STATE).encode(), &app());
        assert_eq!(a.send.len(), 2);
    }

    #[test]
    fn a_scan_lists_the_networks_and_ends_with_an_empty_result() {
        let mut s = ImprovService::default();
        let mut bytes = b"version\n".to_vec();
        bytes.extend(Packet::request(command::WIFI_NETWORKS).encode());
        let a = s.receive(&bytes, &app());
        assert_eq!(a.text, b"version\n");
        assert_eq!(a.send.len(), 4);
        assert_eq!(
            a.send[2].1,
            Packet::Result {
                command: command::WIFI_NETWORKS,
                strings: vec!["Guest".into(), "-80".into(), "NO".into()]
            }
        );
        assert_eq!(
            a.send[3].1,
            Packet::Result {
                command: command::WIFI_NETWORKS,
                strings: vec![]
            }
        );
    }

    #[test]
    fn an_unknown_command_and_a_malformed_request_are_said_as_the_specification_lists() {
        let mut s = ImprovService::default();
        let a = s.receive(&Packet::request(0x7F).encode(), &app());
        assert_eq!(packets(&a), [&Packet::Error(ErrorState::UnknownCommand)]);
        let bad = Packet::Rpc {
            command: command::SEND_WIFI_SETTINGS,
            data: vec![9, b'x'],
        };
        let a = s.receive(&bad.encode(), &app());
        assert_eq!(packets(&a), [&Packet::Error(ErrorState::InvalidRpc)]);
    }
}
