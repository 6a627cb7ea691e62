//! The fleet view's state: boards added one by one (each on its own port), one app for all,
//! every board's progress and record. Pure: the fleet module's tasks open ports and run the
//! updates, its components render this; the tests drive it directly.

use crate::device::fleet::{records_csv, records_json, Outcome, Record};
use std::rc::Rc;

#[derive(Debug, Clone, PartialEq)]
pub enum BoardState {
    Connecting,
    /// Connected, waiting for a job.
    Ready,
    /// Part of the running job, waiting for its turn.
    Queued,
    /// Working: what it does now, and progress (done, total) when known.
    Working(String, Option<(u64, u64)>),
    /// Its record for the last job.
    Done(Record),
    /// It could not be connected (or went away before a job).
    Lost(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Board {
    pub id: u32,
    /// How the technician knows the port ("ws://127.0.0.1:5556", "USB 10c4:ea60").
    pub port: String,
    pub chip: String,
    pub mac: String,
    /// What boots now, in words ("app0: hello 1.0").
    pub boots: String,
    pub state: BoardState,
}

/// The one job for all boards.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum JobChoice {
    /// The app into each board's idle OTA slot, booted next.
    #[default]
    App,
    /// otadata: this slot boots next.
    Boot(String),
    /// A whole build from an ESP Web Tools manifest picked with its .bin files; `yes`: go
    /// ahead where data would be lost.
    Install { yes: bool },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fleet {
    pub boards: Vec<Board>,
    pub job: JobChoice,
    /// For an install: the manifest and the files picked with it, by name.
    pub files: Rc<Vec<(String, Vec<u8>)>>,
    /// The app for all boards: name, bytes.
    pub image: Option<(String, Rc<Vec<u8>>)>,
    /// How many boards work at once (0: all).
    pub at_once: usize,
    /// The running job's start (page clock, ms), and its length when done.
    pub started: Option<f64>,
    pub seconds: Option<f64>,
    pub next_id: u32,
    /// Why the last thing asked could not be done.
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum FleetAction {
    /// A port is being opened (its id is `next_id` at the time).
    Adding(String),
    Connected {
        id: u32,
        chip: String,
        mac: String,
        boots: String,
    },
    Lost(u32, String),
    Remove(u32),
    Image(String, Vec<u8>),
    Job(JobChoice),
    /// Files for an install (a manifest.json and its parts).
    Files(Vec<(String, Vec<u8>)>),
    AtOnce(usize),
    /// The job starts (page clock, ms) on the boards that are ready (or done before).
    Start(f64),
    Working(u32, String, Option<(u64, u64)>),
    Finished(u32, Record),
    /// The last board finished (page clock, ms).
    AllDone(f64),
    Error(String),
}

impl Fleet {
    pub fn apply(&mut self, a: FleetAction) {
        match a {
            FleetAction::Adding(port) => {
                self.boards.push(Board {
                    id: self.next_id,
                    port,
                    chip: String::new(),
                    mac: String::new(),
                    boots: String::new(),
                    state: BoardState::Connecting,
                });
                self.next_id += 1;
            }
            FleetAction::Connected {
                id,
                chip,
                mac,
                boots,
            } => {
                if let Some(b) = self.board(id) {
                    b.chip = chip;
                    b.mac = mac;
                    b.boots = boots;
                    b.state = BoardState::Ready;
                }
            }
            FleetAction::Lost(id, why) => {
                if let Some(b) = self.board(id) {
                    b.state = BoardState::Lost(why);
                }
            }
            FleetAction::Remove(id) => {
                if !self.running() {
                    self.boards.retain(|b| b.id != id)
                }
            }
            FleetAction::Image(name, bytes) => {
                if !self.running() {
                    self.image = Some((name, Rc::new(bytes)));
                    self.error = None;
                }
            }
            FleetAction::Job(j) => {
                if !self.running() {
                    self.job = j;
                }
            }
            FleetAction::Files(f) => {
                if !self.running() {
                    self.files = Rc::new(f);
                    self.error = None;
                }
            }
            FleetAction::AtOnce(n) => self.at_once = n,
            FleetAction::Start(t) => {
                self.started = Some(t);
                self.seconds = None;
                for b in self.boards.iter_mut() {
                    if matches!(b.state, BoardState::Ready | BoardState::Done(_)) {
                        b.state = BoardState::Queued;
                    }
                }
            }
            FleetAction::Working(id, what, progress) => {
                if let Some(b) = self.board(id) {
                    b.state = BoardState::Working(what, progress);
                }
            }
            FleetAction::Finished(id, r) => {
                if let Some(b) = self.board(id) {
                    // The job makes the slot it wrote boot next: what boots changed.
                    if r.outcome != Outcome::Failed {
                        b.boots = format!("{}: {}", r.slot, r.after);
                    }
                    b.state = BoardState::Done(r);
                }
            }
            FleetAction::AllDone(t) => {
                self.seconds = self.started.map(|s| (t - s) / 1000.0);
                self.started = None;
            }
            FleetAction::Error(e) => self.error = Some(e),
        }
    }

    fn board(&mut self, id: u32) -> Option<&mut Board> {
        self.boards.iter_mut().find(|b| b.id == id)
    }

    pub fn running(&self) -> bool {
        self.started.is_some()
    }

    /// Boards the job would run on (connected ones).
    pub fn ready(&self) -> Vec<u32> {
        self.boards
            .iter()
            .filter(|b| matches!(b.state, BoardState::Ready | BoardState::Done(_)))
            .map(|b| b.id)
            .collect()
    }

    pub fn can_start(&self) -> bool {
        let job_ready = match &self.job {
            JobChoice::App => self.image.is_some(),
            JobChoice::Boot(label) => !label.trim().is_empty(),
            JobChoice::Install { .. } => self.manifest().is_some(),
        };
        !self.running() && job_ready && !self.ready().is_empty()
    }

    /// The manifest among the files picked for an install.
    pub fn manifest(&self) -> Option<&(String, Vec<u8>)> {
        self.files
            .iter()
            .find(|(n, _)| crate::formats::manifest::is_manifest_name(n))
    }

    /// The last job's records, board by board.
    pub fn records(&self) -> Vec<Record> {
        self.boards
            .iter()
            .filter_map(|b| match &b.state {
                BoardState::Done(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn csv(&self) -> String {
        records_csv(&self.records())
    }

    pub fn json(&self) -> String {
        records_json(&self.records(), self.seconds.unwrap_or(0.0))
    }

    /// "4 boards in 12.3 s: 3 flashed, 0 already done, 1 failed".
    pub fn summary(&self) -> Option<String> {
        let s = self.seconds?;
        let r = self.records();
        let n = |f: fn(Outcome) -> bool| r.iter().filter(|x| f(x.outcome)).count();
        Some(format!(
            "{} boards in {} s: {} flashed, {} already done, {} failed",
            r.len(),
            crate::formats::numbers::decimals(s, 1),
            n(Outcome::wrote),
            n(|o| o == Outcome::Already),
            n(|o| o == Outcome::Failed)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(port: &str, outcome: Outcome) -> Record {
        let mut r = Record::failed(port, &[0; 16], String::new());
        r.outcome = outcome;
        r.slot = "app1".into();
        r.after = "fleet 2.0".into();
        r
    }

    #[test]
    fn a_job_over_boards() {
        let mut f = Fleet::default();
        f.apply(FleetAction::Adding("ws://a".into()));
        f.apply(FleetAction::Adding("ws://b".into()));
        f.apply(FleetAction::Adding("ws://c".into()));
        assert!(!f.can_start());
        f.apply(FleetAction::Connected {
            id: 0,
            chip: "ESP32".into(),
            mac: "m0".into(),
            boots: "app0".into(),
        });
        f.apply(FleetAction::Connected {
            id: 1,
            chip: "ESP32".into(),
            mac: "m1".into(),
            boots: "app0".into(),
        });
        f.apply(FleetAction::Lost(2, "no answer".into()));
        f.apply(FleetAction::Image("app.bin".into(), vec![1, 2, 3]));
        assert!(f.can_start());
        f.apply(FleetAction::Job(JobChoice::Install { yes: false }));
        assert!(!f.can_start(), "no manifest picked");
        f.apply(FleetAction::Files(vec![(
            "manifest.json".into(),
            b"{}".to_vec(),
        )]));
        assert!(f.can_start());
        f.apply(FleetAction::Job(JobChoice::Boot(" ".into())));
        assert!(!f.can_start(), "no slot named");
        f.apply(FleetAction::Job(JobChoice::App));
        assert_eq!(f.ready(), [0, 1]);
        f.apply(FleetAction::Start(1000.0));
        assert!(f.running() && !f.can_start());
        f.apply(FleetAction::Remove(0));
        assert_eq!(f.boards.len(), 3, "no removing while it runs");
        f.apply(FleetAction::Image("other.bin".into(), vec![]));
        assert_eq!(
            f.image.as_ref().unwrap().0,
            "app.bin",
            "the image is fixed while it runs"
        );
        f.apply(FleetAction::Working(0, "writing".into(), Some((1, 3))));
        f.apply(FleetAction::Finished(0, rec("ws://a", Outcome::Flashed)));
        f.apply(FleetAction::Finished(1, rec("ws://b", Outcome::Failed)));
        f.apply(FleetAction::AllDone(3500.0));
        assert_eq!(f.boards[0].boots, "app1: fleet 2.0");
        assert_eq!(
            f.summary().unwrap(),
            "2 boards in 2.5 s: 1 flashed, 0 already done, 1 failed"
        );
        assert_eq!(f.csv().lines().count(), 3);
        assert_eq!(
            f.boards[1].boots, "app0",
            "a failed board keeps what it booted"
        );
        assert!(f.json().contains("\"failed\": 1"));
        // Again: the boards done before are in the next job.
        f.apply(FleetAction::Start(5000.0));
        assert_eq!(f.boards[0].state, BoardState::Queued);
        assert!(matches!(f.boards[2].state, BoardState::Lost(_)));
    }
}
