//! SLIP framing as the ESP ROM loader and esptool use it: a frame is `C0`, the payload with
//! `DB` → `DB DD` and `C0` → `DB DC`, then `C0`. Bytes outside frames are not protocol: they are
//! whatever else the chip prints (the ROM banner, an app's console), kept as "noise".

pub const END: u8 = 0xC0;
pub const ESC: u8 = 0xDB;
pub const ESC_END: u8 = 0xDC;
pub const ESC_ESC: u8 = 0xDD;

/// Appends one SLIP frame holding `payload` to `out`.
pub fn encode_into(payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(payload.len() + payload.len() / 32 + 2);
    out.push(END);
    for &b in payload {
        match b {
            END => out.extend_from_slice(&[ESC, ESC_END]),
            ESC => out.extend_from_slice(&[ESC, ESC_ESC]),
            _ => out.push(b),
        }
    }
    out.push(END);
}

pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(payload, &mut out);
    out
}

/// Something the decoder found in the byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Frame(Vec<u8>),
    /// A frame that had to be dropped (bad escape, too long).
    Dropped(&'static str),
}

/// Streaming SLIP decoder: feed it any chunks; it never panics and never grows past `max_frame`.
#[derive(Debug)]
pub struct Decoder {
    frame: Vec<u8>,
    in_frame: bool,
    escaped: bool,
    overflow: bool,
    max_frame: usize,
    noise: Vec<u8>,
}

/// Bytes of "noise" kept between calls to [`Decoder::take_noise`].
const MAX_NOISE: usize = 64 * 1024;

impl Decoder {
    pub fn new(max_frame: usize) -> Self {
        Decoder {
            frame: Vec::new(),
            in_frame: false,
            escaped: false,
            overflow: false,
            max_frame,
            noise: Vec::new(),
        }
    }

    /// Decodes `bytes`, appending what it finds to `events`.
    pub fn push(&mut self, bytes: &[u8], events: &mut Vec<Event>) {
        for &b in bytes {
            if !self.in_frame {
                if b == END {
                    self.in_frame = true;
                    self.frame.clear();
                    self.escaped = false;
                    self.overflow = false;
                } else if self.noise.len() < MAX_NOISE {
                    self.noise.push(b);
                }
                continue;
            }
            match (self.escaped, b) {
                (false, END) => {
                    if self.frame.is_empty() && !self.overflow {
                        // C0 C0: the first ended nothing; stay in a frame that starts here.
                        continue;
                    }
                    self.in_frame = false;
                    if self.overflow {
                        events.push(Event::Dropped("frame too long"));
                    } else {
                        events.push(Event::Frame(std::mem::take(&mut self.frame)));
                    }
                }
                (false, ESC) => self.escaped = true,
                (false, x) => self.put(x),
                (true, ESC_END) => {
                    self.escaped = false;
                    self.put(END)
                }
                (true, ESC_ESC) => {
                    self.escaped = false;
                    self.put(ESC)
                }
                (true, _) => {
                    // Invalid escape: drop this frame and resynchronise on the next C0.
                    events.push(Event::Dropped("invalid SLIP escape"));
                    self.in_frame = false;
                    self.escaped = false;
                    self.frame.clear();
                }
            }
        }
    }

    fn put(&mut self, b: u8) {
        if self.frame.len() < self.max_frame {
            self.frame.push(b);
        } else {
            self.overflow = true;
        }
    }

    /// Bytes seen outside frames since the last call.
    pub fn take_noise(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.noise)
    }

    /// Forget any partial frame (after a reset or a baud change).
    pub fn reset(&mut self) {
        self.in_frame = false;
        self.escaped = false;
        self.overflow = false;
        self.frame.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(d: &mut Decoder, bytes: &[u8]) -> Vec<Event> {
        let mut ev = vec![];
        d.push(bytes, &mut ev);
        ev
    }

    #[test]
    fn round_trip_with_escapes() {
        let payload = [0x01, 0xC0, 0x02, 0xDB, 0xC0, 0xDB];
        let wire = encode(&payload);
        assert_eq!(
            wire,
            [0xC0, 0x01, 0xDB, 0xDC, 0x02, 0xDB, 0xDD, 0xDB, 0xDC, 0xDB, 0xDD, 0xC0]
        );
        let mut d = Decoder::new(100);
        // Byte by byte.
        let mut ev = vec![];
        for b in &wire {
            d.push(std::slice::from_ref(b), &mut ev);
        }
        assert_eq!(ev, vec![Event::Frame(payload.to_vec())]);
    }

    #[test]
    fn noise_and_resync() {
        let mut d = Decoder::new(8);
        let mut bytes = b"ets Jun  8 2016\r\n".to_vec();
        bytes.extend(encode(b"abc"));
        bytes.extend([0xC0, 0x01, 0xDB, 0x00, 0x02]); // bad escape; 0x02 is outside any frame
        bytes.extend(encode(&[7; 20])); // too long
        bytes.extend(encode(b"ok"));
        let ev = frames(&mut d, &bytes);
        assert_eq!(
            ev,
            vec![
                Event::Frame(b"abc".to_vec()),
                Event::Dropped("invalid SLIP escape"),
                Event::Dropped("frame too long"),
                Event::Frame(b"ok".to_vec()),
            ]
        );
        assert_eq!(d.take_noise(), b"ets Jun  8 2016\r\n\x02");
    }
}
