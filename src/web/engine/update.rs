//! The page's one safe update: plan it from what the board holds, then write, switch (or
//! install), reset into the app, watch its console and read the board back — the device
//! layer's [`crate::device::update`], reported to the page as it goes.

use super::{board_info, Engine, Slot, NOT_FREE};
use crate::device::update::{confirm, expected, Done, Verdict};
use crate::device::OpenFailed;
use crate::formats::update::{Build, UpdatePlan};
use crate::loader::Port;
use crate::page::{Action, FirmwareStage, JobKind};
use crate::web::manifest;
use wasm_bindgen_futures::spawn_local;

impl Engine {
    /// Loads the manifest at `url` (on this site) as the firmware for every panel, and
    /// resolves it for `chip` when the chip is known.
    pub fn load_firmware_url(&self, url: String, chip: Option<&'static str>) {
        self.send(Action::FirmwareLoading(url.clone()));
        let me = self.clone();
        spawn_local(async move {
            match manifest::Source::url(&url).await {
                Ok(src) => me.take_source(src, chip),
                Err(e) => {
                    *me.firmware.borrow_mut() = None;
                    me.send(Action::FirmwareFailed(FirmwareStage::Manifest, e));
                }
            }
        });
    }

    /// Files picked as the firmware: a manifest.json with its .bin files, or one app image.
    pub fn load_firmware_files(
        &self,
        mut files: Vec<(String, Vec<u8>)>,
        chip: Option<&'static str>,
    ) {
        let json = files
            .iter()
            .position(|(n, _)| crate::formats::manifest::is_manifest_name(n));
        match json {
            Some(i) => {
                let (name, m) = files.remove(i);
                match manifest::Source::files(&name, &m, files) {
                    Ok(src) => self.take_source(src, chip),
                    Err(e) => self.send(Action::FirmwareFailed(
                        FirmwareStage::Manifest,
                        format!("{name}: {e}"),
                    )),
                }
            }
            None if files.len() == 1 => {
                *self.firmware.borrow_mut() = None;
                let (name, bytes) = files.remove(0);
                self.send(Action::FirmwareLoaded {
                    from: name.clone(),
                    name: None,
                    version: None,
                });
                self.send(Action::FirmwareResolved(Build::app_image(&name, bytes)));
            }
            None => self.send(Action::FirmwareFailed(FirmwareStage::Manifest, format!(
                "{} files picked and no manifest.json among them: pick one app image, or a manifest together with its .bin files",
                files.len()
            ))),
        }
    }

    fn take_source(&self, src: manifest::Source, chip: Option<&'static str>) {
        self.send(Action::FirmwareLoaded {
            from: src.from.clone(),
            name: src.manifest.name.clone(),
            version: src.manifest.version.clone(),
        });
        *self.firmware.borrow_mut() = Some(src);
        if let Some(c) = chip {
            self.resolve_firmware(c);
        }
    }

    /// Reads the parts of the manifest's build for `chip` (when a manifest is loaded).
    pub fn resolve_firmware(&self, chip: &'static str) {
        let Some(src) = self.firmware.borrow().clone() else {
            return;
        };
        let me = self.clone();
        spawn_local(async move {
            match src.update_build(chip).await {
                Ok(b) => me.send(Action::FirmwareResolved(b)),
                Err((stage, e)) => {
                    me.send(Action::FirmwareFailed(stage, format!("{}: {e}", src.from)))
                }
            }
        });
    }

    /// Decides the update of the connected board to `build` (reads the board; writes nothing).
    /// Quiet: the status line keeps what it says (the result of the last job).
    pub fn plan_update(&self, build: Build, table_offset: u32) {
        let taken = std::mem::replace(&mut *self.slot.borrow_mut(), Slot::Busy);
        let Slot::Device(mut d) = taken else {
            // A job has the board: the plan is made when it hands it back.
            let busy = matches!(taken, Slot::Busy);
            *self.slot.borrow_mut() = taken;
            if busy {
                let me = self.clone();
                self.when_free(true, Box::new(move || me.plan_update(build, table_offset)));
            }
            return;
        };
        let me = self.clone();
        spawn_local(async move {
            let r = d
                .plan_update_as(&build, table_offset, me.erase_first.get())
                .await;
            let via = d.loader().port().via();
            me.put_back(d);
            match r {
                Ok((plan, _)) => me.send(Action::UpdatePlanned(plan)),
                // A lost link was said already.
                Err(_) if me.lost.get() => {}
                Err(e) => {
                    let mut f = crate::page::Failure::of(&e, via);
                    f.message = format!("could not read the board to plan the update: {e}");
                    me.send(Action::UpdatePlanFailed(f))
                }
            }
        });
    }

    /// Runs `plan` (made for `build` on this board), then confirms what runs. `confirmed`:
    /// the technician said yes to what a full install loses.
    pub fn update(&self, build: Build, plan: UpdatePlan, confirmed: bool, table_offset: u32) {
        let taken = std::mem::replace(&mut *self.slot.borrow_mut(), Slot::Busy);
        let Slot::Device(d) = taken else {
            *self.slot.borrow_mut() = taken;
            self.send(Action::Refused(crate::page::Failure::refused(NOT_FREE)));
            return;
        };
        self.cancel.set(false);
        self.send(Action::JobStarted(
            JobKind::Update,
            format!("updating to {}", plan.label),
        ));
        if let crate::formats::update::Decision::Slot { slot, .. } = &plan.decision {
            // What was known of the slot no longer holds once the write begins.
            self.send(Action::SlotWriting(slot.clone()));
        }
        let me = self.clone();
        spawn_local(async move {
            let mut d = *d;
            let written = async {
                let snap = d.snapshot(table_offset).await?;
                let done = d
                    .run_update(&plan, &snap, confirmed, &mut |step| {
                        me.log(&step);
                        me.send(Action::JobStep(step));
                    })
                    .await?;
                Ok::<_, crate::loader::Error>((done, snap))
            }
            .await;
            let (done, snap) = match written {
                Ok(x) => x,
                Err(e) => {
                    let mut f = crate::page::Failure::of(&e, d.loader().port().via());
                    f.message = format!("the update stopped: {e}; {}", after_a_cut(&plan));
                    me.log(&f.message);
                    me.put_back(Box::new(d));
                    me.send(Action::UpdateStopped(f));
                    if !me.lost.get() {
                        me.read_layout(table_offset);
                    }
                    return;
                }
            };
            if done == Done::Already {
                me.put_back(Box::new(d));
                me.send(Action::JobDone(Ok(plan.sentence.clone())));
                return;
            }
            let Some(exp) = expected(&plan, &build, &snap) else {
                me.put_back(Box::new(d));
                me.send(Action::UpdateFinished(
                    Verdict::Unconfirmed,
                    format!(
                        "{} written and verified by MD5; what runs is not known",
                        plan.label
                    ),
                ));
                return;
            };
            if d.loader().port().can_reset() {
                me.send(Action::JobStep(
                    "resetting into the app to see it run".into(),
                ));
            }
            let opts = me.open_options(me.baud.get());
            let (c, back) = confirm(d, exp, &opts, table_offset).await;
            match back {
                Ok(mut d) => {
                    let console = d.loader().take_console();
                    me.console(&console);
                    me.send(Action::Connected(board_info(&d)));
                    if let Ok(snap) = d.snapshot(table_offset).await {
                        me.send(Action::Layout(snap));
                    }
                    me.put_back(Box::new(d));
                }
                Err(OpenFailed { error, mut loader }) => {
                    let console = loader.take_console();
                    me.console(&console);
                    loader.into_port().close().await;
                    *me.slot.borrow_mut() = Slot::Empty;
                    me.send(Action::Disconnected);
                    me.log(format!(
                        "the board did not come back into download mode: {error}"
                    ));
                }
            }
            me.log(c.words());
            me.send(Action::UpdateFinished(c.verdict(), c.words()));
        });
    }
}

/// What boots after an update stopped half-way: otadata is switched only after the app was
/// written and verified, so before that the board boots what it booted.
fn after_a_cut(plan: &UpdatePlan) -> String {
    use crate::formats::update::Decision;
    match &plan.decision {
        Decision::Slot {
            slot,
            previous: Some(p),
            ..
        } => format!(
            "{} may be incomplete; unless otadata was already switched, the board still boots {} (connect again to read it back)",
            slot.name(),
            p.name()
        ),
        Decision::Install { .. } => {
            "the install is incomplete: the board may not boot until it is installed again".into()
        }
        _ => "connect again to read back what the board holds".into(),
    }
}
