//! RFC 2217 (Telnet COM-PORT-OPTION), the server side, sans-IO: what a serial-over-network
//! bridge (ser2net, pyserial's `rfc2217_server.py`, esptool's `esp_rfc2217_server`) speaks. Bytes
//! from the client become serial data, baud changes and control-line changes; serial data to
//! the client is escaped. Options are agreed as pyserial's client asks (BINARY, SGA,
//! COM-PORT-OPTION; ECHO refused) and every COM-PORT setting is acknowledged.
//!
//! DTR and RTS arrive one at a time, each after a network round trip (pyserial waits for every
//! acknowledgement), so the timing of a reset cannot cross the network. Like
//! `esp_rfc2217_server`, the server reads the intent instead: DTR asserted starts a reset into
//! download mode, RTS released (outside one) a reset into the app, DTR released ends it.

/// Telnet bytes (RFC 854) and the COM-PORT-OPTION commands (RFC 2217).
pub mod telnet {
    pub const IAC: u8 = 255;
    pub const DONT: u8 = 254;
    pub const DO: u8 = 253;
    pub const WONT: u8 = 252;
    pub const WILL: u8 = 251;
    pub const SB: u8 = 250;
    pub const SE: u8 = 240;
    pub const BINARY: u8 = 0;
    pub const ECHO: u8 = 1;
    pub const SGA: u8 = 3;
    pub const COM_PORT_OPTION: u8 = 44;
    pub const SET_BAUDRATE: u8 = 1;
    pub const SET_CONTROL: u8 = 5;
    pub const PURGE_DATA: u8 = 12;
    /// The server's answer to command N is N + 100.
    pub const SERVER_OFFSET: u8 = 100;
    pub const CONTROL_DTR_ON: u8 = 8;
    pub const CONTROL_DTR_OFF: u8 = 9;
    pub const CONTROL_RTS_ON: u8 = 11;
    pub const CONTROL_RTS_OFF: u8 = 12;
}

use telnet::*;

/// What the client's bytes mean for the serial port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Data(Vec<u8>),
    Baud(u32),
    /// Reset the chip into download mode (done where the chip is, with the right timing).
    ResetToDownload,
    /// Reset the chip into its app.
    ResetToApp,
    /// Drop what is waiting in the port's buffers.
    Purge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Iac,
    /// After WILL/WONT/DO/DONT: the option byte comes next.
    Verb(u8),
    Sub,
    SubIac,
}

/// One connection's protocol state.
#[derive(Debug)]
pub struct Server {
    state: State,
    sub: Vec<u8>,
    /// Inside a reset into download mode (DTR asserted, not yet released).
    download: bool,
    baud: u32,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            state: State::Data,
            sub: vec![],
            download: false,
            baud: 115_200,
        }
    }
}

impl Server {
    /// Takes bytes from the client; returns what they mean and the bytes to answer with.
    pub fn receive(&mut self, bytes: &[u8]) -> (Vec<Event>, Vec<u8>) {
        let (mut events, mut reply, mut data) = (vec![], vec![], vec![]);
        let flush = |data: &mut Vec<u8>, events: &mut Vec<Event>| {
            if !data.is_empty() {
                events.push(Event::Data(std::mem::take(data)));
            }
        };
        for &b in bytes {
            self.state = match (self.state, b) {
                (State::Data, IAC) => State::Iac,
                (State::Data, b) => {
                    data.push(b);
                    State::Data
                }
                (State::Iac, IAC) => {
                    data.push(IAC);
                    State::Data
                }
                (State::Iac, v @ (WILL | WONT | DO | DONT)) => State::Verb(v),
                (State::Iac, SB) => {
                    self.sub.clear();
                    State::Sub
                }
                (State::Iac, _) => State::Data,
                (State::Verb(v), opt) => {
                    reply.extend(self.agree(v, opt));
                    State::Data
                }
                (State::Sub, IAC) => State::SubIac,
                (State::Sub, b) => {
                    self.sub.push(b);
                    State::Sub
                }
                (State::SubIac, IAC) => {
                    self.sub.push(IAC);
                    State::Sub
                }
                (State::SubIac, SE) => {
                    flush(&mut data, &mut events);
                    let (e, r) = self.subnegotiation();
                    events.extend(e);
                    reply.extend(r);
                    State::Data
                }
                (State::SubIac, _) => State::Data,
            };
        }
        flush(&mut data, &mut events);
        (events, reply)
    }

    /// Serial data for the client, escaped.
    pub fn send(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 8);
        for &b in data {
            out.push(b);
            if b == IAC {
                out.push(IAC);
            }
        }
        out
    }

    /// The answer to WILL/WONT/DO/DONT `opt`.
    fn agree(&self, verb: u8, opt: u8) -> Vec<u8> {
        let ours = matches!(opt, BINARY | SGA | COM_PORT_OPTION);
        let answer = match verb {
            WILL if ours => DO,
            WILL => DONT,
            DO if ours => WILL,
            DO => WONT,
            WONT => DONT,
            _ => WONT,
        };
        vec![IAC, answer, opt]
    }

    fn subnegotiation(&mut self) -> (Vec<Event>, Vec<u8>) {
        let sub = std::mem::take(&mut self.sub);
        let [COM_PORT_OPTION, cmd, value @ ..] = sub.as_slice() else {
            return (vec![], vec![]);
        };
        let mut events = vec![];
        let mut answer = value.to_vec();
        match *cmd {
            SET_BAUDRATE if value.len() == 4 => {
                let b = u32::from_be_bytes([value[0], value[1], value[2], value[3]]);
                if b != 0 {
                    self.baud = b;
                    events.push(Event::Baud(b));
                }
                answer = self.baud.to_be_bytes().to_vec();
            }
            SET_CONTROL if value.len() == 1 => match value[0] {
                CONTROL_DTR_ON if !self.download => {
                    self.download = true;
                    events.push(Event::ResetToDownload);
                }
                CONTROL_DTR_OFF => self.download = false,
                CONTROL_RTS_OFF if !self.download => events.push(Event::ResetToApp),
                _ => {}
            },
            PURGE_DATA => events.push(Event::Purge),
            _ => {}
        }
        let mut reply = vec![IAC, SB, COM_PORT_OPTION, cmd + SERVER_OFFSET];
        reply.extend(Server::send(&answer));
        reply.extend([IAC, SE]);
        (events, reply)
    }
}

/// The client side (otaflash's `rfc2217://` port): what to send to ask for baud and control
/// lines, and the serial data in what the server sends.
#[derive(Debug, Default)]
pub struct Client {
    state: Option<State>,
    dtr: bool,
    rts: bool,
}

impl Client {
    /// The opening negotiation: COM-PORT-OPTION both ways, binary, no go-ahead.
    pub fn hello() -> Vec<u8> {
        let mut v = vec![];
        for (verb, opt) in [
            (WILL, COM_PORT_OPTION),
            (DO, COM_PORT_OPTION),
            (WILL, BINARY),
            (DO, BINARY),
            (WILL, SGA),
            (DO, SGA),
        ] {
            v.extend([IAC, verb, opt]);
        }
        v
    }

    fn sub(cmd: u8, value: &[u8]) -> Vec<u8> {
        let mut v = vec![IAC, SB, COM_PORT_OPTION, cmd];
        v.extend(Server::send(value));
        v.extend([IAC, SE]);
        v
    }

    pub fn baud(baud: u32) -> Vec<u8> {
        Client::sub(SET_BAUDRATE, &baud.to_be_bytes())
    }

    /// The lines that change, in the order a bridge that reads the reset intent expects (DTR
    /// first when it rises, last otherwise — as esptool's classic reset sends them).
    pub fn signals(&mut self, dtr: bool, rts: bool) -> Vec<u8> {
        let d = (dtr != self.dtr).then(|| {
            Client::sub(
                SET_CONTROL,
                &[if dtr { CONTROL_DTR_ON } else { CONTROL_DTR_OFF }],
            )
        });
        let r = (rts != self.rts).then(|| {
            Client::sub(
                SET_CONTROL,
                &[if rts { CONTROL_RTS_ON } else { CONTROL_RTS_OFF }],
            )
        });
        (self.dtr, self.rts) = (dtr, rts);
        let (first, second) = if dtr { (d, r) } else { (r, d) };
        first.into_iter().chain(second).flatten().collect()
    }

    /// The serial data in `bytes` (negotiation and acknowledgements taken out), and what to
    /// answer.
    pub fn receive(&mut self, bytes: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (mut data, mut reply) = (vec![], vec![]);
        let mut st = self.state.unwrap_or(State::Data);
        for &b in bytes {
            st = match (st, b) {
                (State::Data, IAC) => State::Iac,
                (State::Data, b) => {
                    data.push(b);
                    State::Data
                }
                (State::Iac, IAC) => {
                    data.push(IAC);
                    State::Data
                }
                (State::Iac, v @ (WILL | WONT | DO | DONT)) => State::Verb(v),
                (State::Iac, SB) => State::Sub,
                (State::Iac, _) => State::Data,
                (State::Verb(v), opt) => {
                    // Answer what the server asks for; its answers to ours need none.
                    let ours = matches!(opt, BINARY | SGA | COM_PORT_OPTION);
                    match v {
                        DO if !ours => reply.extend([IAC, WONT, opt]),
                        WILL if !ours => reply.extend([IAC, DONT, opt]),
                        _ => {}
                    }
                    State::Data
                }
                (State::Sub, IAC) => State::SubIac,
                (State::Sub, _) => State::Sub,
                (State::SubIac, SE) => State::Data,
                (State::SubIac, _) => State::Sub,
            };
        }
        self.state = Some(st);
        (data, reply)
    }

    /// Serial data for the server, escaped.
    pub fn send(data: &[u8]) -> Vec<u8> {
        Server::send(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_settings_and_data() {
        let mut s = Server::default();
        let (e, r) = s.receive(&[IAC, WILL, COM_PORT_OPTION, IAC, DO, ECHO, IAC, DO, SGA]);
        assert!(e.is_empty());
        assert_eq!(
            r,
            [IAC, DO, COM_PORT_OPTION, IAC, WONT, ECHO, IAC, WILL, SGA]
        );
        // 921600 baud, acknowledged with the value in force.
        let mut m = vec![IAC, SB, COM_PORT_OPTION, SET_BAUDRATE];
        m.extend(921_600u32.to_be_bytes());
        m.extend([IAC, SE]);
        let (e, r) = s.receive(&m);
        assert_eq!(e, [Event::Baud(921_600)]);
        assert_eq!(r[3], SET_BAUDRATE + SERVER_OFFSET);
        // esptool's classic reset, one line at a time: DTR off, RTS on, DTR on (the reset
        // into download mode starts), RTS off and DTR off (ignored inside it); then a hard
        // reset (RTS on, RTS off). Data with an escaped 0xFF, split anywhere.
        let ctl = |v: u8| vec![IAC, SB, COM_PORT_OPTION, SET_CONTROL, v, IAC, SE];
        let mut seq = vec![];
        for v in [
            CONTROL_DTR_OFF,
            CONTROL_RTS_ON,
            CONTROL_DTR_ON,
            CONTROL_RTS_OFF,
            CONTROL_DTR_OFF,
        ] {
            seq.extend(s.receive(&ctl(v)).0);
        }
        assert_eq!(seq, [Event::ResetToDownload]);
        let (e, _) = s.receive(&[&ctl(CONTROL_RTS_ON)[..], &ctl(CONTROL_RTS_OFF)[..1]].concat());
        assert!(e.is_empty());
        let (e, _) = s.receive(&[&ctl(CONTROL_RTS_OFF)[1..], &[0xC0, IAC][..]].concat());
        assert_eq!(e, [Event::ResetToApp, Event::Data(vec![0xC0])]);
        let (e, _) = s.receive(&[IAC, 0x01]);
        assert_eq!(e, [Event::Data(vec![IAC, 0x01])]);
        assert_eq!(Server::send(&[1, IAC, 2]), [1, IAC, IAC, 2]);
    }

    /// The client's reset sequences read as the intended resets by the server.
    #[test]
    fn client_and_server_agree_on_resets() {
        let (mut c, mut s) = (Client::default(), Server::default());
        let mut run = |c: &mut Client, d: bool, r: bool| s.receive(&c.signals(d, r)).0;
        // The loader's classic reset into download mode, then releasing IO0.
        assert!(run(&mut c, false, true).is_empty());
        assert_eq!(run(&mut c, true, false), [Event::ResetToDownload]);
        assert!(run(&mut c, false, false).is_empty());
        // Reset into the app: EN pulsed with IO0 high.
        assert!(run(&mut c, false, true).is_empty());
        assert_eq!(run(&mut c, false, false), [Event::ResetToApp]);
        // Data and escapes from the server.
        let mut frame = vec![IAC, SB, COM_PORT_OPTION, 101, 0, 1, IAC, SE, 0xC0];
        frame.extend(Server::send(&[IAC, 7]));
        frame.extend([IAC, DO, 99]);
        let (data, reply) = c.receive(&frame);
        assert_eq!(data, [0xC0, IAC, 7]);
        assert_eq!(reply, [IAC, WONT, 99]);
    }
}
