//! Property tests for the wire layer with a seeded generator (reproducible, no extra crates):
//! garbage in never panics, and SLIP + command encoding round-trip under any chunking.
#![cfg(not(target_arch = "wasm32"))]

use otaflash::wire::command::{Command, RegWrite, Response};
use otaflash::wire::slip::{self, Decoder, Event};

/// xorshift64*: small, deterministic.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        // Bias towards the SLIP specials so escapes get exercised.
        (0..n)
            .map(|_| match self.below(8) {
                0 => 0xC0,
                1 => 0xDB,
                2 => 0xDC,
                3 => 0xDD,
                _ => self.next() as u8,
            })
            .collect()
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut dec = Decoder::new(0x5000);
    let mut events = vec![];
    for _ in 0..20_000 {
        let n = rng.below(300);
        let junk = rng.bytes(n);
        dec.push(&junk, &mut events);
        for e in events.drain(..) {
            if let Event::Frame(f) = e {
                assert!(f.len() <= 0x5000);
                let _ = Command::decode(&f);
                if let Some(r) = Response::parse(&f) {
                    let _ = r.check(rng.below(40));
                }
            }
        }
        let _ = dec.take_noise();
        // Also feed raw junk straight to the packet parsers.
        let _ = Command::decode(&junk);
        if let Some(r) = Response::parse(&junk) {
            let _ = r.check(16);
        }
    }
}

#[test]
fn slip_round_trips_under_any_chunking() {
    let mut rng = Rng(42);
    for _ in 0..2_000 {
        let payloads: Vec<Vec<u8>> = (0..1 + rng.below(5))
            .map(|_| {
                let n = 1 + rng.below(600);
                rng.bytes(n)
            })
            .collect();
        let mut wire = vec![];
        for p in &payloads {
            // Noise between frames, as a chip printing its banner would make.
            let noise: Vec<u8> = (0..rng.below(4))
                .map(|_| b'a' + rng.below(26) as u8)
                .collect();
            wire.extend(noise);
            slip::encode_into(p, &mut wire);
        }
        let mut dec = Decoder::new(1 << 16);
        let mut events = vec![];
        let mut i = 0;
        while i < wire.len() {
            let step = 1 + rng.below(64).min(wire.len() - i - 1 + 1);
            let end = (i + step).min(wire.len());
            dec.push(&wire[i..end], &mut events);
            i = end;
        }
        let got: Vec<Vec<u8>> = events
            .into_iter()
            .map(|e| match e {
                Event::Frame(f) => f,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, payloads);
    }
}

#[test]
fn commands_round_trip() {
    let mut rng = Rng(7);
    for _ in 0..5_000 {
        let w = |r: &mut Rng| r.next() as u32;
        let cmd = match rng.below(9) {
            0 => Command::FlashDeflData {
                seq: w(&mut rng),
                data: {
                    let n = rng.below(0x4000);
                    rng.bytes(n)
                },
            },
            1 => Command::MemData {
                seq: w(&mut rng),
                data: {
                    let n = rng.below(0x1800);
                    rng.bytes(n)
                },
            },
            2 => Command::FlashBegin {
                size: w(&mut rng),
                blocks: w(&mut rng),
                block_size: 0x400,
                offset: w(&mut rng),
                encrypted: None,
            },
            3 => Command::FlashDeflBegin {
                size: w(&mut rng),
                blocks: w(&mut rng),
                block_size: 0x4000,
                offset: w(&mut rng),
                encrypted: Some(0),
            },
            4 => Command::WriteReg(
                (0..1 + rng.below(4))
                    .map(|_| RegWrite {
                        addr: w(&mut rng),
                        value: w(&mut rng),
                        mask: w(&mut rng),
                        delay_us: w(&mut rng),
                    })
                    .collect(),
            ),
            5 => Command::ReadFlash {
                offset: w(&mut rng),
                size: w(&mut rng),
                packet_size: 0x1000,
                max_in_flight: 64,
            },
            6 => Command::SpiFlashMd5 {
                offset: w(&mut rng),
                size: w(&mut rng),
            },
            7 => Command::ChangeBaud {
                new: w(&mut rng),
                old: w(&mut rng),
            },
            _ => Command::EraseRegion {
                offset: w(&mut rng),
                size: w(&mut rng),
            },
        };
        let framed = slip::encode(&cmd.encode());
        let mut dec = Decoder::new(0x5000);
        let mut ev = vec![];
        dec.push(&framed, &mut ev);
        let [Event::Frame(pkt)] = &ev[..] else {
            panic!("{ev:?}")
        };
        let (back, chk) = Command::decode(pkt).unwrap();
        assert_eq!(back, cmd);
        assert_eq!(chk, cmd.checksum());
    }
}
