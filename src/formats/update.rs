//! One safe update, decided from what a board holds: "put this build on this board, keep its
//! settings, and make sure it runs". Pure: the device layer reads the board (table, otadata,
//! what each slot holds, the MD5s asked for by [`md5_regions`]) and the page, the CLI and the
//! fleet all take the same decision from [`decide`]:
//!
//! - the board already runs exactly this app (and, for a full build, holds its other parts) →
//!   **already**: nothing is written;
//! - the board's partition table equals the build's (or the build brings none) and it has OTA
//!   slots → **slot update**: the app into the OTA slot that does not run (as
//!   `esp_ota_get_next_update_partition` picks it), then otadata switched to it; bootloader,
//!   table, NVS and the previous app stay;
//! - otherwise (another table, no OTA slots, a blank or unreadable board) → **full install** of
//!   the build's parts, checked by [`crate::formats::install::plan`], data losses named.

use super::bootable::{check_slot_image, Slots, Target};
use super::image::Image;
use super::install::{self, Part, PartKind};
use super::partition::{Partition, PartitionTable};
use super::{hex, md5};

/// What to put on the board.
#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    /// The product's name and version, from the manifest (ESP Web Tools `name`, `version`).
    pub name: Option<String>,
    pub version: Option<String>,
    /// The parts at their offsets (a manifest's build for the chip), or one app image.
    pub parts: Vec<Part>,
    /// The app speaks Improv Wi-Fi (the manifest's build says `"improv": true`): how many
    /// seconds it gets to answer once it runs (the manifest's `new_install_improv_wait_time`,
    /// 10 by default). None: it does not (or the manifest turns it off with 0).
    pub improv: Option<u32>,
}

impl Build {
    /// A single app image (no manifest): it can only go into a slot, or the first app slot.
    pub fn app_image(file: &str, bytes: Vec<u8>) -> Build {
        Build {
            name: None,
            version: None,
            parts: vec![Part::new(file, 0x10000, bytes)],
            improv: None,
        }
    }

    /// The build's own partition table, if it brings one.
    pub fn table(&self) -> Option<PartitionTable> {
        self.parts
            .iter()
            .find(|p| p.kind == PartKind::PartitionTable)
            .and_then(|p| PartitionTable::parse(&p.bytes).ok())
    }

    /// Only an app image, no bootloader, table or data.
    pub fn is_single_app(&self) -> bool {
        self.parts.len() == 1 && self.parts[0].kind == PartKind::App
    }

    /// The build's app: the app image at an app partition of `table` (the build's, else the
    /// board's), else its first app image.
    pub fn app(&self, table: Option<&PartitionTable>) -> Option<&Part> {
        let apps = || self.parts.iter().filter(|p| p.kind == PartKind::App);
        let in_slot = table.and_then(|t| {
            apps().find(|p| t.entries.iter().any(|e| e.is_app() && e.offset == p.offset))
        });
        in_slot.or_else(|| apps().next())
    }

    /// How the build is named to the technician: "Garden Sensor 1.2.4" from the manifest,
    /// else the app's own description ("hello_world 1"), else its file and MD5.
    pub fn label(&self) -> String {
        let desc = self
            .app(None)
            .and_then(|p| Image::parse(&p.bytes).ok())
            .and_then(|i| i.app);
        match (&self.name, &self.version, desc) {
            (Some(n), Some(v), _) => format!("{n} {v}"),
            (Some(n), None, Some(d)) => format!("{n} {}", d.version),
            (Some(n), None, None) => n.clone(),
            (None, _, Some(d)) => format!("{} {}", d.project_name, d.version),
            (None, _, None) => match self.app(None) {
                Some(p) => format!("{} (MD5 {})", p.name, &hex(&md5(&p.bytes))[..8]),
                None => "this build".into(),
            },
        }
    }
}

/// The board as the decision sees it.
#[derive(Debug, Clone, Copy)]
pub struct Board<'a> {
    /// What an install plan needs (chip, flash size, the table on the board, …).
    pub install: install::Board<'a>,
    /// The partition that boots now, as far as it is known.
    pub running: Option<&'a Partition>,
    /// What each app slot holds (headers read, or whole).
    pub slots: &'a Slots,
}

/// What the update does.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// The board runs this app from `slot` already (and holds the build's other parts).
    Already { slot: Partition },
    /// The app into `slot`, then otadata switched to it; `previous` (what runs now) stays as
    /// the fallback.
    Slot {
        slot: Partition,
        previous: Option<Partition>,
        app: Part,
    },
    /// The build's parts, as this install plan checked them. `erase`: the whole flash first
    /// (the layout changes).
    Install { plan: install::Plan, erase: bool },
    /// Nothing can be written: why, in words (the slot update's image checks).
    Refused(Vec<String>),
}

/// The plan, said before anything is written: one sentence, then detail.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePlan {
    pub decision: Decision,
    /// "Garden Sensor 1.2.4".
    pub label: String,
    pub sentence: String,
    pub detail: Vec<String>,
}

impl UpdatePlan {
    /// What must be confirmed before it runs (data that will be lost, …); empty: go.
    pub fn needs_yes(&self) -> Vec<String> {
        match &self.decision {
            Decision::Install { plan, .. } => plan.cautions.iter().map(|c| c.message()).collect(),
            _ => vec![],
        }
    }

    /// Whether it can run at all (a refusal, or an install with blockers, cannot).
    pub fn ready(&self) -> bool {
        match &self.decision {
            Decision::Refused(_) => false,
            Decision::Install { plan, .. } => plan.ready(),
            _ => true,
        }
    }

    /// Nothing to do.
    pub fn is_already(&self) -> bool {
        matches!(self.decision, Decision::Already { .. })
    }

    /// The MD5 of the app this update makes run, and where it will run from.
    pub fn app_and_slot(&self, build: &Build) -> (Option<[u8; 16]>, Option<String>) {
        match &self.decision {
            Decision::Already { slot } => (
                build.app(self.table()).map(|p| md5(&p.bytes)),
                Some(slot.name()),
            ),
            Decision::Slot { slot, app, .. } => (Some(md5(&app.bytes)), Some(slot.name())),
            Decision::Install { plan, .. } => {
                let t = plan.table.as_ref();
                let app = build.app(t);
                let slot = app.and_then(|a| {
                    t.and_then(|t| t.entries.iter().find(|e| e.offset == a.offset))
                        .map(Partition::name)
                });
                (app.map(|p| md5(&p.bytes)), slot)
            }
            Decision::Refused(_) => (None, None),
        }
    }

    fn table(&self) -> Option<&PartitionTable> {
        match &self.decision {
            Decision::Install { plan, .. } => plan.table.as_ref(),
            _ => None,
        }
    }
}

/// The OTA slot to update, as `esp_ota_get_next_update_partition` picks it: the one after the
/// running one in ota_N order (ota_0 when a factory or test app runs, or nothing does).
pub fn next_update_slot(
    table: &PartitionTable,
    running: Option<&Partition>,
) -> Result<Partition, String> {
    let mut ota: Vec<&Partition> = table
        .entries
        .iter()
        .filter(|p| p.ota_index().is_some())
        .collect();
    ota.sort_by_key(|p| p.ota_index());
    let at = running.and_then(|r| ota.iter().position(|p| p.offset == r.offset));
    let pick = match at {
        Some(i) => ota.get((i + 1) % ota.len()).copied(),
        None => ota.first().copied(),
    };
    match pick {
        Some(p) if Some(p.offset) != running.map(|r| r.offset) => Ok(p.clone()),
        _ => Err("no OTA slot besides the one that runs now".into()),
    }
}

/// The flash regions whose MD5 the decision needs from the board: the running slot over the
/// app's length, and each other part of a full build where it would go (not otadata, which an
/// update changes anyway).
pub fn md5_regions(build: &Build, board: &Board) -> Vec<(u32, u32)> {
    let mut v = vec![];
    let table = board.install.current;
    if let (Some(r), Some(app)) = (board.running, build.app(table)) {
        if app.bytes.len() as u64 <= r.size as u64 {
            v.push((r.offset, app.bytes.len() as u32));
        }
    }
    for p in others(build, table) {
        v.push((p.offset, p.bytes.len() as u32));
    }
    v
}

/// The build's parts besides its app and otadata.
fn others<'b>(build: &'b Build, table: Option<&PartitionTable>) -> Vec<&'b Part> {
    let app = build.app(table).map(|p| p.offset);
    build
        .parts
        .iter()
        .filter(|p| Some(p.offset) != app && p.kind != PartKind::Otadata)
        .collect()
}

/// Decides the update. `md5_at(offset, len)` gives the board's flash MD5 over a region that
/// [`md5_regions`] asked for (None: unknown).
pub fn decide(
    build: &Build,
    board: &Board,
    md5_at: &dyn Fn(u32, u32) -> Option<[u8; 16]>,
) -> UpdatePlan {
    let label = build.label();
    let current = board.install.current;
    let build_table = build.table();
    let same_table = match (&build_table, current) {
        (None, Some(_)) => true,
        (Some(b), Some(c)) => b.entries == c.entries,
        _ => false,
    };
    let app = build.app(build_table.as_ref().or(current));
    let holds = |p: &Part| md5_at(p.offset, p.bytes.len() as u32) == Some(md5(&p.bytes));

    // Already: the running slot holds this app under the build's table. A slot update would
    // write nothing else, so other parts that differ (another bootloader) are only said.
    if let (Some(r), Some(a), true) = (board.running, app, same_table) {
        let runs = md5_at(r.offset, a.bytes.len() as u32) == Some(md5(&a.bytes));
        if runs {
            let otadata = current.and_then(|t| t.otadata()).map(|o| o.offset);
            let mut detail = vec![format!(
                "the app's MD5 {} matches {}",
                hex(&md5(&a.bytes)),
                r.name()
            )];
            detail.extend(
                others(build, current)
                    .into_iter()
                    .filter(|p| Some(p.offset) != otadata && !holds(p))
                    .map(|p| {
                        format!(
                            "the board's {} differs from the build's {} (an update never writes it)",
                            p.kind.name(),
                            p.name
                        )
                    }),
            );
            return UpdatePlan {
                sentence: format!(
                    "Already up to date: {label} runs from {}. Nothing to write.",
                    r.name()
                ),
                detail,
                label,
                decision: Decision::Already { slot: r.clone() },
            };
        }
    }

    let ota_slots = current.map_or(0, |t| {
        t.entries.iter().filter(|p| p.ota_index().is_some()).count()
    });
    let has_otadata = current.is_some_and(|t| t.otadata().is_some());
    if let (true, true, true, Some(table), Some(a)) =
        (same_table, ota_slots >= 2, has_otadata, current, app)
    {
        return slot_update(build, board, table, a, label);
    }
    full_install(build, board, label, current, &build_table, false)
}

/// The update when the page asks for the whole flash to be erased first (ESP Web Tools'
/// `erase-first`): always a full install after erasing everything, whatever the board holds.
pub fn decide_erase_first(build: &Build, board: &Board) -> UpdatePlan {
    full_install(
        build,
        board,
        build.label(),
        board.install.current,
        &build.table(),
        true,
    )
}

fn slot_update(
    build: &Build,
    board: &Board,
    table: &PartitionTable,
    app: &Part,
    label: String,
) -> UpdatePlan {
    let slot = match next_update_slot(table, board.running) {
        Ok(s) => s,
        Err(e) => return refused(label, vec![e]),
    };
    let target = Target::chip(board.install.chip, board.install.revision)
        .with_secure_boot(board.install.secure_boot);
    // The same check the page and the device layer make before writing a slot.
    let (_, refusals) = check_slot_image(&app.bytes, Some(&slot), target);
    let why: Vec<String> = refusals
        .iter()
        .map(|r| format!("{}: {}", app.name, r.message()))
        .collect();
    if !why.is_empty() {
        return refused(label, why);
    }
    let previous = board.running.cloned();
    let new_project = Image::parse(&app.bytes)
        .ok()
        .and_then(|i| i.app)
        .map(|d| d.project_name);
    let kept_app = previous.as_ref().map(|p| {
        // "1.2.3" for an older build of the same project, "blink-demo 1.0.0" for another.
        let what = board.slots.get(p).and_then(|s| s.app.as_ref()).map_or_else(
            || "the app".to_string(),
            |a| match &new_project {
                Some(n) if *n == a.project_name => a.version.clone(),
                _ => format!("{} {}", a.project_name, a.version),
            },
        );
        format!("{what} in {}", p.name())
    });
    let settings: Vec<String> = table
        .entries
        .iter()
        .filter(|e| e.is_nvs())
        .map(Partition::name)
        .collect();
    let data: Vec<String> = table
        .entries
        .iter()
        .filter(|e| !e.is_app() && !e.is_nvs() && !e.is_otadata())
        .map(Partition::name)
        .collect();
    let mut keeps = vec![];
    if !settings.is_empty() {
        keeps.push(format!("your settings ({})", settings.join(", ")));
    }
    if !data.is_empty() {
        keeps.push(format!("your data ({})", data.join(", ")));
    }
    if let Some(k) = &kept_app {
        keeps.push(format!("{k} as a fallback"));
    }
    let mut sentence = format!("Writes {label} into {} and boots it next.", slot.name());
    if !keeps.is_empty() {
        sentence.push_str(&format!(" Keeps {}.", join_words(&keeps)));
    }
    let mut detail = vec![
        if build.table().is_some() {
            "slot update: the board's partition table matches this build's, and it has OTA slots"
                .to_string()
        } else {
            "slot update: an app alone, into the board's OTA slots (its partition table stays)"
                .to_string()
        },
        format!(
            "{} ({} bytes, MD5 {}) into {} at 0x{:x}, checked by MD5; then both otadata sectors switched to {}",
            app.name,
            app.bytes.len(),
            hex(&md5(&app.bytes)),
            slot.name(),
            slot.offset,
            slot.name()
        ),
    ];
    if build.parts.len() > 1 {
        detail.push("the bootloader and partition table on the board stay as they are".into());
    }
    UpdatePlan {
        decision: Decision::Slot {
            slot,
            previous,
            app: app.clone(),
        },
        label,
        sentence,
        detail,
    }
}

fn full_install(
    build: &Build,
    board: &Board,
    label: String,
    current: Option<&PartitionTable>,
    build_table: &Option<PartitionTable>,
    erase_first: bool,
) -> UpdatePlan {
    let why = if erase_first {
        "this page erases the whole flash before installing".to_string()
    } else if board.install.unreadable {
        "what the board holds cannot be read".to_string()
    } else if current.is_none() {
        "the board has no partition table (blank, or another layout)".to_string()
    } else if build_table
        .as_ref()
        .is_some_and(|b| b.entries != current.map(|c| c.entries.clone()).unwrap_or_default())
    {
        "the build's partition table differs from the board's".to_string()
    } else if build.app(current).is_none() {
        "the build holds no app image for an app slot".to_string()
    } else {
        "the board has no OTA slots to update".to_string()
    };
    // A lone app goes into the board's first app partition.
    let mut parts = build.parts.clone();
    if build.is_single_app() {
        if let Some(first) = current.and_then(|t| t.entries.iter().find(|e| e.is_app())) {
            parts[0].offset = first.offset;
        }
    }
    let probe = install::plan(
        parts.clone(),
        &board.install,
        install::PlanOptions::default(),
    );
    let erase = erase_first || probe.layout_changes;
    let plan = install::plan(
        parts,
        &board.install,
        install::PlanOptions {
            erase_all: erase,
            ..Default::default()
        },
    );
    // What stops the install stops the update: said first, as a refusal.
    if !plan.blockers.is_empty() {
        return refused(label, plan.blockers.iter().map(|b| b.message()).collect());
    }
    let lost: Vec<String> = plan
        .cautions
        .iter()
        .filter_map(|c| match c {
            install::Caution::DataLost { label, .. } => Some(label.clone()),
            _ => None,
        })
        .collect();
    let names: Vec<String> = plan
        .parts
        .iter()
        .map(|p| format!("{} ({})", p.name, p.kind.name()))
        .collect();
    let mut sentence = format!(
        "A full install of {label}: {why}, so {} written{}.",
        if plan.parts.len() == 1 {
            "its one part is".to_string()
        } else {
            format!("its {} parts are", plan.parts.len())
        },
        if erase {
            " after erasing the whole flash"
        } else {
            ""
        }
    );
    if !lost.is_empty() {
        sentence.push_str(&format!(" Loses {}.", join_words(&lost)));
    }
    let mut detail = vec![format!("writes {}", names.join(", "))];
    detail.extend(
        plan.blockers
            .iter()
            .map(|b| format!("stops it: {}", b.message())),
    );
    detail.extend(plan.cautions.iter().map(|c| c.message()));
    UpdatePlan {
        decision: Decision::Install { plan, erase },
        label,
        sentence,
        detail,
    }
}

fn refused(label: String, why: Vec<String>) -> UpdatePlan {
    UpdatePlan {
        sentence: format!("{label} cannot go onto this board: {}.", why.join("; ")),
        detail: why.clone(),
        label,
        decision: Decision::Refused(why),
    }
}

/// "a, b and c".
fn join_words(w: &[String]) -> String {
    match w {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests;
