//! The page's reducer, the longer answers: a disconnect, otadata read back, a picked image,
//! a job's start and end, a slot written.

use super::*;

impl PageState {
    /// Everything of the board goes; the link's settings, the picked image and firmware, the
    /// log and the last update's end stay.
    pub(super) fn disconnected(&mut self) {
        *self = PageState {
            port_kind: self.port_kind,
            ws_url: std::mem::take(&mut self.ws_url),
            baud: self.baud,
            table_offset: self.table_offset,
            image: self.image.take(),
            image_offered: self.image_offered,
            log: std::mem::take(&mut self.log),
            rollback: self.rollback,
            firmware: self.firmware.take(),
            finished: self.finished.take(),
            status: Some(Status::new(Tone::Info, "disconnected")),
            ..PageState::default()
        };
    }

    pub(super) fn otadata_read(&mut self, od: Otadata, checked: Vec<(Partition, SlotImage)>) {
        for (p, s) in checked {
            self.slots.set(&p, s);
        }
        self.otadata = Some(od);
        // The slot that boots now is no target for an update.
        if self.target.is_some() && self.target == self.booted() {
            self.target = self.default_target();
        }
    }

    pub(super) fn image_picked(&mut self, name: String, bytes: Vec<u8>) {
        if self.writing() {
            // The choice is locked while a write runs (the page disables it too).
            self.say(
                Tone::Warning,
                "a write is running: finish or cancel it before picking another file",
            );
            return;
        }
        let image = Image::parse(&bytes).map_err(|e| e.to_string());
        self.image_offered = false;
        self.say(Tone::Info, format!("{name}: {} bytes picked", bytes.len()));
        self.image = Some(Picked {
            md5: md5(&bytes),
            name,
            bytes: Rc::new(bytes),
            image,
        });
        if self.target.is_none() {
            self.target = self.default_target();
        }
    }

    pub(super) fn job_started(&mut self, kind: JobKind, what: String) {
        self.failed = None;
        if !matches!(kind, JobKind::Connect | JobKind::ReadLayout) {
            self.fresh = false;
        }
        // Watching the console keeps the last result in view (e.g. "installed").
        let keep =
            kind == JobKind::Console && self.status.as_ref().is_some_and(|s| s.tone == Tone::Done);
        if !keep {
            self.say(Tone::Working, format!("{what}…"));
        }
        self.job = Job::Busy {
            kind,
            what,
            progress: None,
        };
    }

    pub(super) fn job_done(&mut self, r: Result<String, Failure>) {
        let job = std::mem::replace(&mut self.job, Job::Idle);
        match r {
            Ok(s) => self.say(Tone::Done, s),
            Err(failure) => {
                self.say(Tone::Error, failure.message.clone());
                if let Job::Busy { kind, .. } = job {
                    self.failed = Some(JobFailed { job: kind, failure });
                }
            }
        }
    }

    pub(super) fn slot_written(
        &mut self,
        partition: Partition,
        slot: SlotImage,
        report: WriteReport,
        file: String,
        boot_next: bool,
    ) {
        self.written.insert(
            partition.offset,
            Written {
                file,
                md5: report.md5,
            },
        );
        self.slots.set(&partition, slot);
        let done = report.describe(&partition.name());
        if boot_next {
            // Half the job: amber words until otadata is switched and read back.
            if let Job::Busy { what, progress, .. } = &mut self.job {
                *what = format!("{done}; switching otadata to {}", partition.name());
                *progress = None;
            }
            self.say(
                Tone::Working,
                format!("{done}; switching otadata to {}…", partition.name()),
            );
        } else {
            self.job = Job::Idle;
            let still = match self.booted() {
                Some(b) if b != partition.name() => format!("; {b} still boots"),
                _ => String::new(),
            };
            self.say(Tone::Warning, format!("{done} (written only{still})"));
        }
    }
}
