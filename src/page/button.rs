//! What the install button tells the page that embeds it: ESP Web Tools' `state-changed`
//! events (docs/esp-web-tools-notes.md), made from the page's own actions as the dialog runs
//! the update. Pure and tested natively; the dialog turns each [`Event`] into a DOM event.
//!
//! A good run says initializing → manifest → preparing → (erasing) → writing… → finished; a
//! failure says error with ESP Web Tools' code. "finished" means what the update confirmed:
//! running, already up to date, or written and verified with what runs unknown (said so).

use super::{Action, JobKind};
use crate::device::update::Verdict;
use crate::formats::update::{Decision, UpdatePlan};
use crate::loader::Phase;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Initializing,
    Manifest,
    Preparing,
    Erasing,
    Writing,
    Finished,
    Error,
}

impl State {
    /// The name ESP Web Tools gives it.
    pub fn name(self) -> &'static str {
        match self {
            State::Initializing => "initializing",
            State::Manifest => "manifest",
            State::Preparing => "preparing",
            State::Erasing => "erasing",
            State::Writing => "writing",
            State::Finished => "finished",
            State::Error => "error",
        }
    }
}

/// ESP Web Tools' error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    FailedInitialize,
    FetchManifestFailed,
    NotSupported,
    FailedFirmwareDownload,
    WriteFailed,
}

impl ErrorCode {
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::FailedInitialize => "failed_initialize",
            ErrorCode::FetchManifestFailed => "fetch_manifest_failed",
            ErrorCode::NotSupported => "not_supported",
            ErrorCode::FailedFirmwareDownload => "failed_firmware_download",
            ErrorCode::WriteFailed => "write_failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Details {
    /// The step began (false) or ended (true).
    Done(bool),
    Writing {
        bytes_total: u64,
        bytes_written: u64,
        percentage: u32,
    },
    Error {
        error: ErrorCode,
        details: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub state: State,
    pub message: String,
    /// The connected chip as manifests name it ("ESP32-C3"), once known.
    pub chip_family: Option<String>,
    pub details: Details,
}

/// The events of one run of the dialog.
#[derive(Debug, Clone, Default)]
pub struct Events {
    last: Option<State>,
    chip_family: Option<String>,
    /// The plan to run: erase first, and how many bytes it writes.
    erase: bool,
    total: u64,
    /// Bytes of parts written whole, and the part being written.
    parts_done: u64,
    part: (u64, u64),
    writing: bool,
}

impl Events {
    fn event(&mut self, state: State, message: impl Into<String>, details: Details) -> Event {
        self.last = Some(state);
        Event {
            state,
            message: message.into(),
            chip_family: self.chip_family.clone(),
            details,
        }
    }

    fn error(&mut self, error: ErrorCode, message: &str) -> Vec<Event> {
        if self.ended() {
            return vec![];
        }
        let e = self.event(
            State::Error,
            message,
            Details::Error {
                error,
                details: message.to_string(),
            },
        );
        vec![e]
    }

    /// The run ended (finished or error): nothing more is said.
    pub fn ended(&self) -> bool {
        matches!(self.last, Some(State::Finished | State::Error))
    }

    /// What `action` tells the embedding page.
    pub fn on(&mut self, action: &Action) -> Vec<Event> {
        // "Try again" after a failure is a new run.
        if matches!(action, Action::Connecting) && self.last == Some(State::Error) {
            *self = Events::default();
        }
        if self.ended() {
            return vec![];
        }
        match action {
            Action::Connecting if self.last.is_none() => {
                vec![self.event(
                    State::Initializing,
                    "Connecting to the board",
                    Details::Done(false),
                )]
            }
            Action::Connected(b) if self.last == Some(State::Initializing) => {
                self.chip_family = Some(b.chip.pretty.to_string());
                vec![self.event(
                    State::Initializing,
                    format!("Connected to an {}", b.chip.pretty),
                    Details::Done(true),
                )]
            }
            Action::ConnectFailed(f) => self.error(ErrorCode::FailedInitialize, &f.message),
            Action::FirmwareLoading(_) if self.last == Some(State::Initializing) => {
                vec![self.event(
                    State::Manifest,
                    "Fetching the manifest",
                    Details::Done(false),
                )]
            }
            Action::FirmwareLoaded { name, .. } if self.last == Some(State::Manifest) => {
                let named = name.clone().unwrap_or_else(|| "the firmware".into());
                vec![
                    self.event(State::Manifest, named, Details::Done(true)),
                    self.event(
                        State::Preparing,
                        "Preparing the update",
                        Details::Done(false),
                    ),
                ]
            }
            Action::FirmwareFailed(stage, why) => {
                use super::FirmwareStage::*;
                let code = match stage {
                    Manifest => ErrorCode::FetchManifestFailed,
                    NoBuild => ErrorCode::NotSupported,
                    Parts => ErrorCode::FailedFirmwareDownload,
                };
                self.error(code, why)
            }
            Action::UpdatePlanned(plan) => self.planned(plan),
            Action::UpdatePlanFailed(f) => self.error(ErrorCode::FailedInitialize, &f.message),
            Action::JobStarted(JobKind::Update, _) if self.erase => {
                vec![self.event(State::Erasing, "Erasing the flash", Details::Done(false))]
            }
            Action::JobProgress(p) if p.phase == Phase::Writing && p.total > 0 => {
                let mut out = vec![];
                if self.last == Some(State::Erasing) {
                    out.push(self.event(State::Erasing, "Erased", Details::Done(true)));
                }
                // A new part begins where the last one's count falls back.
                if self.writing && p.done < self.part.0 {
                    self.parts_done += self.part.1;
                }
                self.writing = true;
                self.part = (p.done, p.total);
                let total = self.total.max(self.parts_done + p.total);
                let written = (self.parts_done + p.done).min(total);
                let percentage = (written * 100 / total) as u32;
                out.push(self.event(
                    State::Writing,
                    format!("Writing progress: {percentage}%"),
                    Details::Writing {
                        bytes_total: total,
                        bytes_written: written,
                        percentage,
                    },
                ));
                out
            }
            Action::UpdateFinished(Verdict::NotRunning, words)
            | Action::UpdateStopped(super::Failure { message: words, .. }) => {
                self.error(ErrorCode::WriteFailed, words)
            }
            Action::UpdateFinished(_, words) => {
                vec![self.event(State::Finished, words.clone(), Details::Done(true))]
            }
            Action::LinkLost(why) => {
                let code = if self
                    .last
                    .is_some_and(|s| matches!(s, State::Erasing | State::Writing))
                {
                    ErrorCode::WriteFailed
                } else {
                    ErrorCode::FailedInitialize
                };
                self.error(code, why)
            }
            _ => vec![],
        }
    }

    fn planned(&mut self, plan: &UpdatePlan) -> Vec<Event> {
        match &plan.decision {
            Decision::Already { .. } => {
                let mut out = vec![];
                if self.last == Some(State::Preparing) {
                    out.push(self.event(State::Preparing, "Prepared", Details::Done(true)));
                }
                out.push(self.event(State::Finished, plan.sentence.clone(), Details::Done(true)));
                out
            }
            Decision::Refused(_) => self.error(ErrorCode::NotSupported, &plan.sentence),
            Decision::Slot { app, .. } => {
                self.erase = false;
                self.total = app.bytes.len() as u64;
                self.prepared()
            }
            Decision::Install { plan: p, erase } => {
                self.erase = *erase;
                self.total = p.parts.iter().map(|x| x.bytes.len() as u64).sum();
                self.prepared()
            }
        }
    }

    fn prepared(&mut self) -> Vec<Event> {
        if self.last != Some(State::Preparing) {
            return vec![];
        }
        vec![self.event(State::Preparing, "Prepared", Details::Done(true))]
    }
}

#[cfg(test)]
mod tests;
