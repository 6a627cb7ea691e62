//! How the flasher stub receives frames — modelled on esp-flasher-stub's own source, no kinder:
//!
//! - `src/slip.c` `slip_recv_byte`: a SLIP state machine run by the receive interrupt. An opening
//!   0xC0 starts a frame only while a receive buffer is *armed*; bytes that come while none is
//!   are ignored one by one (so a frame whose opening 0xC0 is ignored is lost whole, and is
//!   never answered). When a frame ends the interrupt marks it complete and disarms the
//!   pointer; an empty frame (0xC0 0xC0) leaves it armed. A bad escape or a frame longer than
//!   the buffer marks an error and disarms too.
//! - `src/frame_buffer.c` + `src/transport.c` `slip_recv_poll`: two buffers, but the spare one
//!   is armed only when the main loop *takes* the completed frame — which it does only between
//!   commands (`src/main.c`: take, handle, release, poll again). So one frame can arrive while
//!   the previous one is processed, and no second one until that one has been taken.
//! - `src/transport.c` `uart_rx_interrupt_handler` reads the whole FIFO per interrupt (and the
//!   USB-Serial-JTAG handler a whole packet): bytes that arrive back to back reach the state
//!   machine in one go, so the main loop cannot take a frame before the run of bytes that
//!   carried its end is over. That is why the second of two commands written back to back is
//!   lost even by an idle stub.
//!
//! The simulator feeds each byte through the state machine at its arrival time, and lets the
//! main loop take a completed frame once the run that carried it has ended and the CPU is free
//! ([`StubRx::end_run`], [`StubRx::armed_from`]).

use std::time::Duration;

/// esp-flasher-stub `FRAME_BUFFER_SIZE`: the 8-byte header + 0x4000 + 0xFF.
pub const FRAME_BUFFER_SIZE: usize = 8 + 0x4000 + 0xFF;

const END: u8 = 0xC0;
const ESC: u8 = 0xDB;
const ESC_END: u8 = 0xDC;
const ESC_ESC: u8 = 0xDD;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NoFrame,
    InFrame,
    Escaping,
}

/// What a run of bytes delivered to the main loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A complete frame (the stub answers it).
    Frame(Vec<u8>),
    /// A frame the receiver marked as an error (bad escape, too long): dropped, not answered.
    Error,
}

/// The stub's receive path: the SLIP state machine, the armed buffer, and the current run of
/// back-to-back bytes not yet delivered.
#[derive(Debug, Clone)]
pub struct StubRx {
    state: State,
    frame: Vec<u8>,
    /// From when a receive buffer is armed (the main loop took the previous frame then); None
    /// while a completed frame waits to be taken.
    armed_from: Option<Duration>,
    /// What completed in this run and waits for the main loop (at most one: nothing re-arms
    /// the pointer before it is taken).
    waiting: Option<Received>,
    /// Bytes of the run in progress: (arrival, byte).
    run: Vec<(Duration, u8)>,
    /// Frames whose bytes were ignored because no buffer was armed (for tests and traces).
    pub ignored_bytes: u64,
}

impl StubRx {
    /// A receiver armed from `t` (the stub's transport set-up arms the first buffer).
    pub fn new(t: Duration) -> StubRx {
        StubRx {
            state: State::NoFrame,
            frame: Vec::with_capacity(FRAME_BUFFER_SIZE),
            armed_from: Some(t),
            waiting: None,
            run: vec![],
            ignored_bytes: 0,
        }
    }

    /// A byte arrived at `at` (after the previous ones of the run).
    pub fn push(&mut self, at: Duration, b: u8) {
        self.run.push((at, b));
    }

    /// When the run in progress ends so far (its last byte's arrival), if there is one.
    pub fn run_end(&self) -> Option<Duration> {
        self.run.last().map(|(t, _)| *t)
    }

    /// The run is over (the line went idle): its bytes go through the receiver in order, each
    /// against the buffer armed at its arrival. Returns what completed, for the main loop to
    /// take once its CPU is free (then call [`StubRx::armed_from`] with that time).
    pub fn end_run(&mut self) -> Option<Received> {
        for (at, b) in std::mem::take(&mut self.run) {
            let armed = self.armed_from.is_some_and(|t| t <= at);
            self.byte(armed, b);
        }
        self.waiting.take()
    }

    /// The main loop took the waiting frame (or error) at `t`: the spare buffer is armed.
    pub fn armed_again(&mut self, t: Duration) {
        self.armed_from = Some(t);
    }

    fn complete(&mut self, got: Received) {
        self.waiting = Some(got);
        self.armed_from = None;
        self.state = State::NoFrame;
    }

    fn put(&mut self, b: u8) {
        if self.frame.len() < FRAME_BUFFER_SIZE {
            self.frame.push(b);
        } else {
            self.complete(Received::Error);
        }
    }

    fn byte(&mut self, armed: bool, b: u8) {
        match self.state {
            State::NoFrame => {
                if b == END && armed {
                    self.frame.clear();
                    self.state = State::InFrame;
                } else {
                    self.ignored_bytes += 1;
                }
            }
            State::InFrame => match b {
                END if self.frame.is_empty() => self.state = State::NoFrame,
                END => {
                    let f = std::mem::take(&mut self.frame);
                    self.complete(Received::Frame(f));
                }
                ESC => self.state = State::Escaping,
                _ => self.put(b),
            },
            State::Escaping => {
                self.state = State::InFrame;
                match b {
                    ESC_END => self.put(END),
                    ESC_ESC => self.put(ESC),
                    _ => self.complete(Received::Error),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::slip::encode;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn feed(rx: &mut StubRx, from: Duration, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            rx.push(from + Duration::from_micros(i as u64), b);
        }
    }

    #[test]
    fn the_second_of_two_frames_in_one_run_is_lost() {
        let mut rx = StubRx::new(Duration::ZERO);
        let mut two = encode(b"first");
        two.extend(encode(b"second"));
        feed(&mut rx, ms(1), &two);
        assert_eq!(rx.end_run(), Some(Received::Frame(b"first".to_vec())));
        rx.armed_again(ms(2));
        // Nothing else came out of that run, and the receiver is in step for the next one.
        feed(&mut rx, ms(3), &encode(b"third"));
        assert_eq!(rx.end_run(), Some(Received::Frame(b"third".to_vec())));
        assert_eq!(rx.ignored_bytes, encode(b"second").len() as u64);
    }

    #[test]
    fn a_frame_that_starts_before_the_previous_one_is_taken_is_lost() {
        let mut rx = StubRx::new(Duration::ZERO);
        feed(&mut rx, ms(1), &encode(b"one"));
        assert!(rx.end_run().is_some());
        // The CPU is busy until 10 ms: it takes "one" then.
        rx.armed_again(ms(10));
        feed(&mut rx, ms(5), &encode(b"two"));
        assert_eq!(rx.end_run(), None);
        feed(&mut rx, ms(11), &encode(b"three"));
        assert_eq!(rx.end_run(), Some(Received::Frame(b"three".to_vec())));
    }

    #[test]
    fn empty_frames_keep_the_buffer_armed_and_bad_escapes_are_errors() {
        let mut rx = StubRx::new(Duration::ZERO);
        let mut bytes = vec![END, END];
        bytes.extend(encode(b"ok"));
        feed(&mut rx, ms(1), &bytes);
        assert_eq!(rx.end_run(), Some(Received::Frame(b"ok".to_vec())));
        rx.armed_again(ms(2));
        feed(&mut rx, ms(3), &[END, b'a', ESC, b'x', b'b', END]);
        assert_eq!(rx.end_run(), Some(Received::Error));
        rx.armed_again(ms(4));
        // After an error the trailing bytes of that frame are ignored (state NO_FRAME); the
        // next frame arrives whole.
        feed(&mut rx, ms(5), &encode(b"next"));
        assert_eq!(rx.end_run(), Some(Received::Frame(b"next".to_vec())));
    }

    #[test]
    fn a_frame_longer_than_the_buffer_is_an_error() {
        let mut rx = StubRx::new(Duration::ZERO);
        feed(&mut rx, ms(1), &encode(&vec![0x11; FRAME_BUFFER_SIZE + 1]));
        assert_eq!(rx.end_run(), Some(Received::Error));
    }

    #[test]
    fn when_rearmed_in_the_middle_of_a_lost_frame_its_closing_byte_opens_one() {
        // slip.c as written: the lost frame's closing 0xC0, seen armed, opens a frame; the next
        // frame's opening 0xC0 closes it empty (kept armed), and that frame's payload is lost.
        let mut rx = StubRx::new(Duration::ZERO);
        feed(&mut rx, ms(1), &encode(b"one"));
        assert!(rx.end_run().is_some());
        rx.armed_again(ms(5) + Duration::from_micros(3));
        let lost = encode(b"two-two");
        feed(&mut rx, ms(5), &lost);
        let mut next = encode(b"three");
        next.extend(encode(b"four"));
        feed(
            &mut rx,
            ms(5) + Duration::from_micros(lost.len() as u64),
            &next,
        );
        assert_eq!(rx.end_run(), None);
    }
}
