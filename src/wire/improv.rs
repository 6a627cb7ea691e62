//! Improv Wi-Fi over a serial port, sans-IO: the packets an app that speaks it and a client
//! exchange on the app's console. Facts from the specification (improv-wifi.com/serial) and the
//! client ESP Web Tools uses (improv-wifi/sdk-serial-js):
//!
//! - A packet is `IMPROV`, the version (1), its type, the data's length, the data, and a
//!   checksum: the low byte of the sum of every byte before it. The client ends each packet it
//!   writes with a newline; a packet is looked for at the start of a line, and other lines are
//!   the app's console text.
//! - Types: current state (device → client: 0x02 ready, 0x03 provisioning, 0x04 provisioned),
//!   error state (device → client: 0x00 none, 0x01 invalid RPC packet, 0x02 unknown command,
//!   0x03 unable to connect, 0xFF unknown), RPC command (client → device: the command, the
//!   length of its data, the data) and RPC result (device → client: the command, the length of
//!   what follows, then strings, each its length and its UTF-8 bytes).
//! - Commands: 0x01 send Wi-Fi settings (SSID and password, each length-prefixed; the result
//!   carries the URL to visit, if any), 0x02 current state (the state; a provisioned device also
//!   sends the result of 0x01 again), 0x03 device info (firmware name, version, chip family,
//!   device name), 0x04 Wi-Fi networks (one result per network — SSID, RSSI in dBm as text,
//!   "YES"/"NO" for a password needed — ended by a result with no strings).

/// The packet's first bytes.
pub const HEADER: &[u8; 6] = b"IMPROV";
pub const VERSION: u8 = 1;

/// Packet types.
pub mod kind {
    pub const CURRENT_STATE: u8 = 0x01;
    pub const ERROR_STATE: u8 = 0x02;
    pub const RPC: u8 = 0x03;
    pub const RPC_RESULT: u8 = 0x04;
}

/// RPC commands.
pub mod command {
    pub const SEND_WIFI_SETTINGS: u8 = 0x01;
    pub const CURRENT_STATE: u8 = 0x02;
    pub const DEVICE_INFO: u8 = 0x03;
    pub const WIFI_NETWORKS: u8 = 0x04;
}

/// The provisioning service's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Ready to accept credentials.
    Ready,
    /// Credentials received: connecting.
    Provisioning,
    /// Connected.
    Provisioned,
    Other(u8),
}

impl State {
    pub fn byte(self) -> u8 {
        match self {
            State::Ready => 0x02,
            State::Provisioning => 0x03,
            State::Provisioned => 0x04,
            State::Other(b) => b,
        }
    }

    pub fn of(b: u8) -> State {
        match b {
            0x02 => State::Ready,
            0x03 => State::Provisioning,
            0x04 => State::Provisioned,
            b => State::Other(b),
        }
    }
}

/// What went wrong, as the device says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorState {
    None,
    InvalidRpc,
    UnknownCommand,
    /// The credentials were received and connecting with them failed (a wrong password, a
    /// network out of reach).
    UnableToConnect,
    Other(u8),
}

impl ErrorState {
    pub fn byte(self) -> u8 {
        match self {
            ErrorState::None => 0x00,
            ErrorState::InvalidRpc => 0x01,
            ErrorState::UnknownCommand => 0x02,
            ErrorState::UnableToConnect => 0x03,
            ErrorState::Other(b) => b,
        }
    }

    pub fn of(b: u8) -> ErrorState {
        match b {
            0x00 => ErrorState::None,
            0x01 => ErrorState::InvalidRpc,
            0x02 => ErrorState::UnknownCommand,
            0x03 => ErrorState::UnableToConnect,
            b => ErrorState::Other(b),
        }
    }

    /// In words, for the technician.
    pub fn message(self) -> String {
        match self {
            ErrorState::None => "no error".into(),
            ErrorState::InvalidRpc => "the device could not read the request".into(),
            ErrorState::UnknownCommand => "the device does not know this request".into(),
            ErrorState::UnableToConnect => {
                "the device could not connect to the network with these settings (a wrong password, or the network out of reach)".into()
            }
            ErrorState::Other(b) => format!("the device reported error 0x{b:02x}"),
        }
    }
}

/// One packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    State(State),
    Error(ErrorState),
    /// A request: the command and its data.
    Rpc {
        command: u8,
        data: Vec<u8>,
    },
    /// An answer to `command`: its strings (none ends a list of answers).
    Result {
        command: u8,
        strings: Vec<String>,
    },
}

/// `s` as a length-prefixed string (at most 255 bytes: longer is cut at a character boundary).
fn push_string(out: &mut Vec<u8>, s: &str) {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.push(end as u8);
    out.extend_from_slice(&s.as_bytes()[..end]);
}

/// Length-prefixed strings, as long as they run whole.
fn strings(mut b: &[u8]) -> Option<Vec<String>> {
    let mut out = vec![];
    while let Some((&n, rest)) = b.split_first() {
        let s = rest.get(..n as usize)?;
        out.push(String::from_utf8_lossy(s).into_owned());
        b = &rest[n as usize..];
    }
    Some(out)
}

impl Packet {
    /// A request for Wi-Fi `ssid` with `password`.
    pub fn wifi_settings(ssid: &str, password: &str) -> Packet {
        let mut data = vec![];
        push_string(&mut data, ssid);
        push_string(&mut data, password);
        Packet::Rpc {
            command: command::SEND_WIFI_SETTINGS,
            data,
        }
    }

    /// A request with no data.
    pub fn request(command: u8) -> Packet {
        Packet::Rpc {
            command,
            data: vec![],
        }
    }

    /// The SSID and password of a Wi-Fi settings request's data.
    pub fn settings_of(data: &[u8]) -> Option<(String, String)> {
        match strings(data)?.as_slice() {
            [ssid, password] => Some((ssid.clone(), password.clone())),
            _ => None,
        }
    }

    /// The packet on the wire, ended by a newline.
    pub fn encode(&self) -> Vec<u8> {
        let (ty, data) = match self {
            Packet::State(s) => (kind::CURRENT_STATE, vec![s.byte()]),
            Packet::Error(e) => (kind::ERROR_STATE, vec![e.byte()]),
            Packet::Rpc { command, data } => {
                let mut d = vec![*command, data.len() as u8];
                d.extend_from_slice(data);
                (kind::RPC, d)
            }
            Packet::Result { command, strings } => {
                let mut body = vec![];
                for s in strings {
                    push_string(&mut body, s);
                }
                let mut d = vec![*command, body.len() as u8];
                d.extend(body);
                (kind::RPC_RESULT, d)
            }
        };
        let mut out = HEADER.to_vec();
        out.extend([VERSION, ty, data.len() as u8]);
        out.extend(data);
        out.push(checksum(&out));
        out.push(b'\n');
        out
    }

    /// A packet's bytes from `IMPROV` to the checksum; None when it is not one this reads
    /// (another version, a bad checksum, a type or body it does not know).
    pub fn decode(b: &[u8]) -> Option<Packet> {
        let (sum, body) = b.split_last()?;
        if !body.starts_with(HEADER) || body.len() < 9 || checksum(body) != *sum {
            return None;
        }
        let (version, ty, len) = (body[6], body[7], body[8] as usize);
        let data = &body[9..];
        if version != VERSION || data.len() != len {
            return None;
        }
        Some(match ty {
            kind::CURRENT_STATE => Packet::State(State::of(*data.first()?)),
            kind::ERROR_STATE => Packet::Error(ErrorState::of(*data.first()?)),
            kind::RPC => {
                let (&command, rest) = data.split_first()?;
                let (&n, rest) = rest.split_first()?;
                Packet::Rpc {
                    command,
                    data: rest.get(..n as usize)?.to_vec(),
                }
            }
            kind::RPC_RESULT => {
                let (&command, rest) = data.split_first()?;
                let (&n, rest) = rest.split_first()?;
                Packet::Result {
                    command,
                    strings: strings(rest.get(..n as usize)?)?,
                }
            }
            _ => return None,
        })
    }
}

/// The low byte of the sum of `b`.
pub fn checksum(b: &[u8]) -> u8 {
    b.iter().fold(0u8, |s, x| s.wrapping_add(*x))
}

/// What the reader found in the byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    Packet(Packet),
    /// Console text (the app's log lines, a line that only looked like a packet).
    Text(Vec<u8>),
}

/// Finds packets at the start of lines in a byte stream, as the client does: a line that
/// begins with `IMPROV` is read as far as its length says; every other byte is console text.
#[derive(Debug, Default)]
pub struct Reader {
    line: Vec<u8>,
    /// The bytes a packet on this line needs in all (header to checksum), once known.
    want: Option<usize>,
    /// This line is console text, to its end.
    text: bool,
}

impl Reader {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Read> {
        let mut out = vec![];
        let mut text = vec![];
        for &b in bytes {
            if self.text {
                text.push(b);
                if b == b'\n' {
                    self.text = false;
                }
                continue;
            }
            if self.line.is_empty() && b == b'\n' {
                // The newline that ends a packet (or an empty line).
                continue;
            }
            self.line.push(b);
            if let Some(n) = self.want {
                if self.line.len() == n {
                    let line = std::mem::take(&mut self.line);
                    self.want = None;
                    match Packet::decode(&line) {
                        Some(p) => {
                            flush(&mut text, &mut out);
                            out.push(Read::Packet(p));
                        }
                        None => text.extend(line),
                    }
                }
                continue;
            }
            let so_far = self.line.len().min(HEADER.len());
            if self.line[..so_far] != HEADER[..so_far] {
                // Not a packet: this line is text.
                text.append(&mut self.line);
                self.text = b != b'\n';
                continue;
            }
            if self.line.len() == 9 {
                self.want = Some(9 + self.line[8] as usize + 1);
            }
        }
        flush(&mut text, &mut out);
        out
    }
}

fn flush(text: &mut Vec<u8>, out: &mut Vec<Read>) {
    if !text.is_empty() {
        out.push(Read::Text(std::mem::take(text)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wifi_request_on_the_wire() {
        let p = Packet::wifi_settings("Net", "pw");
        let b = p.encode();
        // Header, version, RPC, length 9 (command, data length 7: 1+3, 1+2), checksum, newline.
        assert_eq!(&b[..9], b"IMPROV\x01\x03\x09");
        assert_eq!(&b[9..18], b"\x01\x07\x03Net\x02pw");
        assert_eq!(b[18], checksum(&b[..18]));
        assert_eq!(b[19], b'\n');
        assert_eq!(Packet::decode(&b[..19]), Some(p));
        let Some(Packet::Rpc { data, .. }) = Packet::decode(&b[..19]) else {
            panic!()
        };
        assert_eq!(
            Packet::settings_of(&data),
            Some(("Net".into(), "pw".into()))
        );
    }

    #[test]
    fn packets_are_found_between_console_lines_and_a_bad_one_stays_text() {
        let mut r = Reader::default();
        let result = Packet::Result {
            command: command::DEVICE_INFO,
            strings: vec![
                "Garden".into(),
                "1.1.0".into(),
                "ESP32".into(),
                "garden-1".into(),
            ],
        };
        let mut stream = b"I (312) wifi: started\r\n".to_vec();
        stream.extend(Packet::State(State::Ready).encode());
        stream.extend(result.encode());
        let mut bad = Packet::Error(ErrorState::UnableToConnect).encode();
        bad[10] ^= 1; // checksum
        stream.extend(&bad);
        stream.extend(b"IMPRESSIVE line\n");
        // In pieces, as a port delivers it.
        let mut got = vec![];
        for chunk in stream.chunks(5) {
            got.extend(r.push(chunk));
        }
        let packets: Vec<&Packet> = got
            .iter()
            .filter_map(|g| match g {
                Read::Packet(p) => Some(p),
                _ => None,
            })
            .collect();
        assert_eq!(packets, [&Packet::State(State::Ready), &result]);
        let text: Vec<u8> = got
            .iter()
            .filter_map(|g| match g {
                Read::Text(t) => Some(t.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        let text = String::from_utf8_lossy(&text);
        assert!(text.starts_with("I (312) wifi: started"), "{text}");
        assert!(text.contains("IMPRESSIVE line"), "{text}");
    }

    #[test]
    fn a_scan_answer_ends_with_an_empty_result() {
        let end = Packet::Result {
            command: command::WIFI_NETWORKS,
            strings: vec![],
        };
        let b = end.encode();
        assert_eq!(
            &b[6..11],
            &[1, kind::RPC_RESULT, 2, command::WIFI_NETWORKS, 0]
        );
        assert_eq!(Packet::decode(&b[..b.len() - 1]), Some(end));
    }
}
