//! The Install or recover panel's state as a pure reducer: where the parts come from, their
//! offsets, and the technician's choices — with the panel's policy in one place: erasing first
//! is the default when the partition table changes (not in secure download mode, where the
//! whole-flash erase needs the stub), how files reach an encrypting chip, and that any change
//! takes back an "I understand". The panel (a module of its own, `web::install`) renders it;
//! tests drive it directly.

use super::PageState;
use crate::chips::security::{Security, Written};
use crate::chips::Chip;
use crate::formats::image::Header;
use crate::formats::install::{
    default_offset, plan, Board, Caution, Part, PartKind, Plan, PlanOptions,
};
use crate::formats::numbers::parse_u32;
use crate::formats::partition::PartitionTable;
use std::rc::Rc;

/// The connected board, as far as an install plan needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstallBoard {
    pub chip: &'static Chip,
    /// "24:0a:c4:0e:51:4d" (backups are named by it).
    pub mac: String,
    pub revision: u16,
    pub flash_size: u32,
    pub security: Security,
}

/// The page as the install panel sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InstallView {
    pub connected: bool,
    pub busy: bool,
    /// The running job is an install.
    pub installing: bool,
    pub board: Option<InstallBoard>,
    pub table: Option<PartitionTable>,
    pub table_offset: u32,
    pub bootloader: Option<Header>,
    /// The firmware loaded for every panel: its label and its build's parts (not a lone app).
    pub firmware: Option<(String, Vec<Part>)>,
}

impl InstallView {
    pub fn of(s: &PageState) -> InstallView {
        InstallView {
            connected: s.connected(),
            busy: s.busy(),
            installing: s.job_kind() == Some(super::JobKind::Install),
            board: s.board.as_ref().map(|b| InstallBoard {
                chip: b.chip,
                mac: b.mac.clone(),
                revision: b.revision,
                flash_size: b.flash_size,
                security: b.security,
            }),
            table: s.table().cloned(),
            table_offset: s.table_offset,
            bootloader: s.bootloader,
            firmware: s.firmware.as_ref().and_then(|f| {
                let b = f.build.as_ref().filter(|b| !b.is_single_app())?;
                Some((f.label(), b.parts.clone()))
            }),
        }
    }

    /// The board as an install plan sees it.
    fn plan_board(&self) -> Option<Board<'_>> {
        let b = self.board.as_ref()?;
        Some(Board {
            chip: b.chip,
            revision: Some(b.revision),
            flash_size: b.flash_size,
            current: self.table.as_ref(),
            table_offset: self.table_offset,
            bootloader: self.bootloader,
            secure_boot: b.security.secure_boot,
            unreadable: b.security.reads_hidden(),
        })
    }
}

/// A file to write and the offset typed for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub bytes: Rc<Vec<u8>>,
    pub kind: PartKind,
    pub offset: String,
}

/// Where the parts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartsFrom {
    /// The firmware loaded for every panel: its build's parts for the chip (offsets fixed).
    Firmware,
    /// Files with offsets the technician may change (a merged image is one file at 0).
    Files,
}

/// The panel's state.
#[derive(Debug, Clone, PartialEq)]
pub struct InstallForm {
    pub from: Option<PartsFrom>,
    pub rows: Vec<Row>,
    /// Erase the whole flash first; None: the default ([`InstallForm::planned`]).
    pub erase: Option<bool>,
    /// Set the bootloader's flash size to the chip's.
    pub fit: bool,
    /// The files are encrypted for this chip's key already.
    pub pre_encrypted: bool,
    /// The chip encrypts them as it writes (development mode).
    pub encrypt_on_write: bool,
    /// "I understand" to the cautions.
    pub confirmed: bool,
    pub nothing_boots_ok: bool,
    pub reset_after: bool,
    /// Files that could not be read.
    pub problem: Option<String>,
}

impl Default for InstallForm {
    fn default() -> Self {
        InstallForm {
            from: None,
            rows: vec![],
            erase: None,
            fit: false,
            pre_encrypted: false,
            encrypt_on_write: false,
            confirmed: false,
            nothing_boots_ok: false,
            reset_after: true,
            problem: None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum InstallAction {
    /// The firmware's build for the chip, every part at its offset.
    Firmware(Vec<Part>),
    /// Files picked (no manifest among them), each placed where a file of its kind goes on a
    /// board with `table` (a table among the files wins).
    Files(Vec<(String, Vec<u8>)>, Option<PartitionTable>),
    /// A manifest was picked: it goes to the page as the firmware; its parts come back.
    ManifestPicked,
    ReadFailed(String),
    SetOffset(usize, String),
    Remove(usize),
    SetErase(bool),
    SetFit(bool),
    SetPreEncrypted(bool),
    SetEncryptOnWrite(bool),
    SetNothingBootsOk(bool),
    Confirm(bool),
    SetResetAfter(bool),
}

fn hex(n: u32) -> String {
    format!("0x{n:x}")
}

/// Picked files placed where a file of their kind goes: a table among them first (so that
/// otadata and apps follow it), a second app into the next app slot.
pub fn place_files(files: Vec<(String, Vec<u8>)>, table: Option<PartitionTable>) -> Vec<Row> {
    let table = files
        .iter()
        .find(|(_, b)| PartKind::of(b) == PartKind::PartitionTable)
        .and_then(|(_, b)| PartitionTable::parse(b).ok())
        .or(table);
    let mut taken: Vec<u32> = vec![];
    let mut out = vec![];
    for (name, b) in files {
        let kind = PartKind::of(&b);
        let mut off = default_offset(kind, &b, None, table.as_ref(), 0x8000);
        if kind == PartKind::App {
            if let Some(t) = &table {
                off = t
                    .entries
                    .iter()
                    .filter(|e| e.is_app())
                    .map(|e| e.offset)
                    .find(|o| !taken.contains(o))
                    .or(off);
            }
        }
        if let Some(o) = off {
            taken.push(o);
        }
        out.push(Row {
            name,
            offset: off.map(hex).unwrap_or_default(),
            kind,
            bytes: Rc::new(b),
        });
    }
    out
}

impl InstallForm {
    pub fn apply(&mut self, a: InstallAction) {
        use InstallAction::*;
        // Whatever changes what would be written takes back the yes.
        if !matches!(a, Confirm(_) | SetResetAfter(_)) {
            self.confirmed = false;
        }
        match a {
            Firmware(parts) => {
                self.erase = None;
                self.problem = None;
                self.rows = parts
                    .into_iter()
                    .map(|x| Row {
                        offset: hex(x.offset),
                        name: x.name,
                        kind: x.kind,
                        bytes: x.bytes,
                    })
                    .collect();
                self.from = Some(PartsFrom::Firmware);
            }
            Files(files, table) => {
                self.erase = None;
                self.problem = None;
                self.rows = place_files(files, table);
                self.from = Some(PartsFrom::Files);
            }
            ManifestPicked => {
                self.erase = None;
                self.problem = None;
                self.rows.clear();
            }
            ReadFailed(e) => self.problem = Some(e),
            SetOffset(i, o) => {
                if let Some(r) = self.rows.get_mut(i) {
                    r.offset = o;
                }
            }
            Remove(i) => {
                if i < self.rows.len() {
                    self.rows.remove(i);
                }
            }
            SetErase(e) => self.erase = Some(e),
            SetFit(v) => self.fit = v,
            SetPreEncrypted(v) => self.pre_encrypted = v,
            SetEncryptOnWrite(v) => self.encrypt_on_write = v,
            SetNothingBootsOk(v) => self.nothing_boots_ok = v,
            Confirm(v) => self.confirmed = v,
            SetResetAfter(v) => self.reset_after = v,
        }
    }

    /// The parts with their offsets; None where an offset is no number.
    fn parts(&self) -> Vec<Option<Part>> {
        self.rows
            .iter()
            .map(|r| {
                parse_u32(&r.offset).map(|o| Part {
                    name: r.name.clone(),
                    offset: o,
                    bytes: r.bytes.clone(),
                    kind: r.kind,
                })
            })
            .collect()
    }

    /// A row's offset is no number.
    pub fn missing_offset(&self) -> bool {
        self.parts().iter().any(Option::is_none)
    }

    /// The plan for the connected board as the form stands, and the options it was made
    /// with. The policy: erase first by default when the table changes (old data would not
    /// fit it), never by default in secure download mode; on a chip with flash encryption on,
    /// files are written plain unless marked pre-encrypted or to be encrypted by the chip.
    pub fn planned(&self, view: &InstallView) -> Option<(Plan, PlanOptions)> {
        let board = view.plan_board().filter(|_| !self.rows.is_empty())?;
        let security = view.board.as_ref()?.security;
        let parts: Vec<Part> = self.parts().into_iter().flatten().collect();
        let default_erase = plan(parts.clone(), &board, PlanOptions::default()).layout_changes
            && !security.secure_download;
        let opts = PlanOptions {
            erase_all: self.erase.unwrap_or(default_erase),
            fit_bootloader: self.fit,
            written: match (self.pre_encrypted, self.encrypt_on_write) {
                _ if !security.flash_encrypted() => Written::Plain,
                (true, _) => Written::PreEncrypted,
                (_, true) => Written::EncryptedByChip,
                _ => Written::Plain,
            },
            nothing_boots_ok: self.nothing_boots_ok,
        };
        Some((plan(parts, &board, opts), opts))
    }

    /// Whether to offer setting the bootloader's flash size.
    pub fn offers_fit(&self, planned: Option<&(Plan, PlanOptions)>) -> bool {
        self.fit
            || planned.is_some_and(|(pl, _)| {
                pl.cautions
                    .iter()
                    .any(|c| matches!(c, Caution::BootloaderFlashSize { .. }))
            })
    }

    /// Whether Install may be pressed now.
    pub fn can_install(&self, view: &InstallView, planned: Option<&(Plan, PlanOptions)>) -> bool {
        view.connected
            && !view.busy
            && !self.missing_offset()
            && planned
                .is_some_and(|(pl, _)| pl.ready() && (pl.cautions.is_empty() || self.confirmed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chips::security::FlashEncryption;
    use crate::sim::demo;

    fn view(security: Security) -> InstallView {
        let flash = demo::arduino_like_flash(crate::chips::ESP32);
        InstallView {
            connected: true,
            board: Some(InstallBoard {
                chip: crate::chips::ESP32,
                mac: "24:0a:c4:0e:51:4d".into(),
                revision: 301,
                flash_size: 4 << 20,
                security,
            }),
            table: PartitionTable::parse(&flash[0x8000..0x9000]).ok(),
            table_offset: 0x8000,
            ..Default::default()
        }
    }

    fn app() -> Vec<u8> {
        demo::app_image(crate::chips::ESP32, Some(("garden", "1.0.0")), 100)
    }

    #[test]
    fn files_are_placed_by_kind_and_a_second_app_goes_to_the_next_slot() {
        let v = view(Security::default());
        let mut f = InstallForm::default();
        f.apply(InstallAction::Files(
            vec![("a.bin".into(), app()), ("b.bin".into(), app())],
            v.table.clone(),
        ));
        let offsets: Vec<&str> = f.rows.iter().map(|r| r.offset.as_str()).collect();
        assert_eq!(offsets, ["0x10000", "0x150000"]);
        assert_eq!(f.from, Some(PartsFrom::Files));
        let (pl, opts) = f.planned(&v).unwrap();
        assert!(pl.ready(), "{:?}", pl.blockers);
        assert!(!opts.erase_all, "same table: nothing erased by default");
        assert!(f.can_install(&v, Some(&(pl, opts))));
    }

    #[test]
    fn erase_first_is_the_default_when_the_table_changes_but_not_in_secure_download_mode() {
        let other = PartitionTable::from_csv(
            "nvs,data,nvs,0x9000,0x6000\nfactory,app,factory,0x10000,0x100000\n",
            0x8000,
        )
        .unwrap();
        let files = vec![
            ("partitions.bin".to_string(), other.to_bytes().unwrap()),
            ("app.bin".to_string(), app()),
        ];
        let mut f = InstallForm::default();
        f.apply(InstallAction::Files(files.clone(), None));
        let v = view(Security::default());
        let (pl, opts) = f.planned(&v).unwrap();
        assert!(pl.layout_changes && opts.erase_all);
        // The technician's choice wins, and takes back a yes.
        f.apply(InstallAction::Confirm(true));
        f.apply(InstallAction::SetErase(false));
        assert!(!f.confirmed);
        assert!(!f.planned(&v).unwrap().1.erase_all);
        let mut f = InstallForm::default();
        f.apply(InstallAction::Files(files, None));
        let sdm = view(Security {
            secure_download: true,
            ..Default::default()
        });
        assert!(!f.planned(&sdm).unwrap().1.erase_all);
    }

    #[test]
    fn how_files_reach_an_encrypting_chip() {
        let mut f = InstallForm::default();
        f.apply(InstallAction::Files(vec![("a.bin".into(), app())], None));
        f.apply(InstallAction::SetEncryptOnWrite(true));
        // Without flash encryption the choices do not apply.
        assert_eq!(
            f.planned(&view(Security::default())).unwrap().1.written,
            Written::Plain
        );
        let dev = view(Security {
            flash_encryption: FlashEncryption::Development,
            ..Default::default()
        });
        assert_eq!(f.planned(&dev).unwrap().1.written, Written::EncryptedByChip);
        f.apply(InstallAction::SetPreEncrypted(true));
        assert_eq!(f.planned(&dev).unwrap().1.written, Written::PreEncrypted);
    }

    #[test]
    fn an_offset_that_is_no_number_stops_the_install() {
        let v = view(Security::default());
        let mut f = InstallForm::default();
        f.apply(InstallAction::Files(
            vec![("a.bin".into(), app())],
            v.table.clone(),
        ));
        f.apply(InstallAction::SetOffset(0, "ten".into()));
        assert!(f.missing_offset());
        let planned = f.planned(&v);
        assert!(!f.can_install(&v, planned.as_ref()));
        f.apply(InstallAction::Remove(0));
        assert!(f.rows.is_empty() && f.planned(&v).is_none());
    }
}
