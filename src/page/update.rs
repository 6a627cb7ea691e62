//! The page's one safe update: the firmware the technician was sent (one for every panel), the
//! plan for the connected board (decided by [`crate::formats::update`]), and how it ended.

use super::{PageState, Status, Tone};
use crate::device::update::Verdict;
use crate::formats::update::{Build, Decision, UpdatePlan};

/// Where loading the firmware failed (ESP Web Tools tells these apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirmwareStage {
    /// The manifest (or the picked files) could not be read.
    Manifest,
    /// The manifest has no build for the connected chip.
    NoBuild,
    /// A part of the build could not be fetched (or was not picked).
    Parts,
}

/// The firmware to put on the board: a manifest (from `?manifest=`, the address box or picked
/// files) or one app image.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Firmware {
    /// Where it came from, in words ("firmware/manifest.json", "garden.bin").
    pub from: String,
    /// The product's name and version, from the manifest.
    pub name: Option<String>,
    pub version: Option<String>,
    /// The build for the connected chip, its parts read (None until then).
    pub build: Option<Build>,
    /// Why it cannot be used (not found, no build for this chip, …).
    pub problem: Option<String>,
}

impl Firmware {
    /// "Garden Sensor 1.2.4" (from the build when it is known).
    pub fn label(&self) -> String {
        match (&self.build, &self.name, &self.version) {
            (Some(b), _, _) => b.label(),
            (None, Some(n), Some(v)) => format!("{n} {v}"),
            (None, Some(n), None) => n.clone(),
            (None, None, _) => self.from.clone(),
        }
    }
}

/// How an update ended, as the technician leaves it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub verdict: Verdict,
    pub words: String,
    /// What to try, when the update stopped on a failure.
    pub hints: Vec<crate::loader::Hint>,
}

/// What the update button offers now.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// "Update to Garden Sensor 1.2.4", "Install Garden Sensor 1.2.4", "Up to date".
    pub button: String,
    /// The plan in one sentence (or what is missing for one).
    pub sentence: String,
    pub detail: Vec<String>,
    /// What must be confirmed first (data that will be lost).
    pub needs_yes: Vec<String>,
    pub enabled: bool,
}

impl PageState {
    /// Other firmware: the app the last one offered to the flash panel goes with it.
    fn forget_offered_image(&mut self) {
        if self.image_offered && !self.writing() {
            self.image = None;
            self.image_offered = false;
        }
    }

    pub(super) fn firmware_loading(&mut self, from: String) {
        self.forget_offered_image();
        self.firmware = Some(Firmware {
            from: from.clone(),
            ..Default::default()
        });
        self.plan = None;
        self.finished = None;
        self.say(Tone::Working, format!("loading {from}…"));
    }

    pub(super) fn firmware_loaded(
        &mut self,
        from: String,
        name: Option<String>,
        version: Option<String>,
    ) {
        self.forget_offered_image();
        self.firmware = Some(Firmware {
            from,
            name,
            version,
            ..Default::default()
        });
        self.plan = None;
        let label = self
            .firmware
            .as_ref()
            .map(Firmware::label)
            .unwrap_or_default();
        self.say(Tone::Info, format!("{label}: loaded"));
    }

    pub(super) fn firmware_resolved(&mut self, build: Build) {
        let f = self.firmware.get_or_insert_with(Firmware::default);
        f.problem = None;
        f.build = Some(build);
        self.plan = None;
    }

    pub(super) fn firmware_failed(&mut self, why: String) {
        self.forget_offered_image();
        let f = self.firmware.get_or_insert_with(Firmware::default);
        f.problem = Some(why.clone());
        f.build = None;
        self.plan = None;
        self.say(Tone::Error, why);
    }

    pub(super) fn update_planned(&mut self, plan: UpdatePlan) {
        // Nothing to do is the result the technician came for (unless an update just said more).
        if plan.is_already() && self.fresh && self.finished.is_none() && !self.busy() {
            self.say(Tone::Done, plan.sentence.clone());
        }
        self.plan = Some(plan);
    }

    pub(super) fn update_finished(
        &mut self,
        verdict: Verdict,
        words: String,
        hints: Vec<crate::loader::Hint>,
    ) {
        self.job = super::Job::Idle;
        let tone = match verdict {
            Verdict::Running => Tone::Done,
            Verdict::Unconfirmed => Tone::Warning,
            Verdict::NotRunning => Tone::Error,
        };
        self.status = Some(Status::new(tone, words.clone()));
        self.finished = Some(Finished {
            verdict,
            words,
            hints,
        });
        self.plan = None;
    }

    /// The update on offer for the connected board and the loaded firmware, if any.
    pub fn update_offer(&self) -> Option<Offer> {
        let f = self.firmware.as_ref()?;
        let label = f.label();
        let waiting = |sentence: &str| Offer {
            button: format!("Update to {label}"),
            sentence: sentence.into(),
            detail: vec![],
            needs_yes: vec![],
            enabled: false,
        };
        if let Some(p) = &f.problem {
            return Some(waiting(p));
        }
        if !self.connected() {
            return Some(waiting(
                "Connect the board: the page then says what the update will do before anything is written.",
            ));
        }
        let Some(plan) = &self.plan else {
            if self.failed.is_some() && !self.busy() {
                return Some(waiting(
                    "The board could not be read, so there is no plan: see what went wrong, then connect again.",
                ));
            }
            return Some(waiting("Checking what the board holds…"));
        };
        let busy = self.busy();
        Some(match &plan.decision {
            Decision::Already { .. } => Offer {
                button: "Up to date".into(),
                sentence: plan.sentence.clone(),
                detail: plan.detail.clone(),
                needs_yes: vec![],
                enabled: false,
            },
            Decision::Slot { .. } => Offer {
                button: format!("Update to {}", plan.label),
                sentence: plan.sentence.clone(),
                detail: plan.detail.clone(),
                needs_yes: vec![],
                enabled: !busy,
            },
            Decision::Install { .. } => Offer {
                button: format!("Install {}", plan.label),
                sentence: plan.sentence.clone(),
                detail: plan.detail.clone(),
                needs_yes: plan.needs_yes(),
                enabled: !busy && plan.ready(),
            },
            Decision::Refused(_) => Offer {
                button: format!("Update to {}", plan.label),
                sentence: plan.sentence.clone(),
                detail: plan.detail.clone(),
                needs_yes: vec![],
                enabled: false,
            },
        })
    }

    /// The plan to run now (the build it was made for and the plan), when the button is live.
    pub fn update_to_run(&self) -> Option<(Build, UpdatePlan)> {
        let build = self.firmware.as_ref()?.build.clone()?;
        let plan = self.plan.clone()?;
        self.update_offer()
            .filter(|o| o.enabled)
            .map(|_| (build, plan))
    }
}
