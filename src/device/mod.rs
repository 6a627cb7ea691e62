//! The one device layer under the CLI and the page: open a link to a board, read what it holds
//! (partition table, otadata, what each app slot holds), judge what it will boot, write a slot
//! and verify it, switch otadata. Decisions about bootability are the bootloader's own checks
//! in [`crate::formats::bootable`]; this layer only reads what they need.

pub mod fleet;
pub mod improv;
mod install;
pub mod nvs;
pub mod update;
mod write;

pub use install::{caution_lines, erase_losses, InstallRun, Installed, PartWrite};
pub use write::{slot_write_refusals, SlotWrite, Switched};

use crate::formats::bootable::{judge, HeaderScan, ImageProblem, Loads, SlotImage, Slots, Target};
use crate::formats::image::{Header, HEADER_LEN, IMAGE_MAGIC};
use crate::formats::otadata::{predict_boot, Boot, Otadata, ENTRY_LEN, OTADATA_LEN, SECTOR_LEN};
use crate::formats::partition::{Partition, PartitionTable, TABLE_MAX_LEN};
use crate::loader::{ChipInfo, Error, FlashInfo, Loader, OpenOptions, Port, Refusal, Result};

/// Connect attempts (each a reset and a few SYNCs), as esptool makes them.
pub const CONNECT_ATTEMPTS: u32 = 7;

/// A board in download mode, with what it told about itself.
pub struct Device<P: Port> {
    loader: Loader<P>,
    pub chip: ChipInfo,
    pub flash: FlashInfo,
}

/// Opening failed: why, and the loader (its port is to be closed, its console text shown).
pub struct OpenFailed<P: Port> {
    pub error: Error,
    pub loader: Loader<P>,
}

/// Why there is no usable partition table at an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableProblem {
    /// Every byte there is 0xFF: a new or erased chip (or the table is elsewhere).
    Blank { offset: u32 },
    /// Something else is there.
    Invalid { offset: u32, why: String },
    /// Secure download mode: the ROM refuses every read.
    SecureDownload,
    /// Flash encryption is on: the table is stored encrypted and reads return ciphertext.
    Encrypted { offset: u32 },
}

impl TableProblem {
    pub fn message(&self) -> String {
        match self {
            TableProblem::Blank { offset } => format!(
                "no partition table at 0x{offset:x}: the flash is blank there (a new or erased chip?)"
            ),
            TableProblem::Invalid { offset, why } => {
                format!("no partition table at 0x{offset:x}: {why}")
            }
            TableProblem::SecureDownload => "secure download mode: the ROM refuses to read flash, so the partition table, otadata, the slots and NVS cannot be shown".into(),
            TableProblem::Encrypted { offset } => format!(
                "flash encryption is on: the partition table at 0x{offset:x}, the bootloader and the apps are stored encrypted, and reading them returns ciphertext — the layout, what the slots hold and what boots cannot be shown"
            ),
        }
    }

    /// What the technician can do.
    pub fn hint(&self, bootloader_offset: u32) -> String {
        match self {
            TableProblem::Blank { .. } => format!(
                "A blank chip needs a full install: bootloader at 0x{bootloader_offset:x}, partition table at 0x8000, app at 0x10000 — an ESP Web Tools manifest, a merged image or those files in Install or recover (otaflash install / otaflash write 0x{bootloader_offset:x} bootloader.bin 0x8000 partition-table.bin 0x10000 app.bin). If this project keeps its table elsewhere (CONFIG_PARTITION_TABLE_OFFSET), enter that offset and read again."
            ),
            TableProblem::Invalid { .. } => "If this project keeps its partition table elsewhere (CONFIG_PARTITION_TABLE_OFFSET), enter that offset and read again.".into(),
            TableProblem::SecureDownload => "Writes still work through the ROM (otaflash flash --offset), but nothing can be read back or MD5-checked.".into(),
            TableProblem::Encrypted { .. } => "Write images encrypted for this chip's key (espsecure encrypt-flash-data) marked pre-encrypted, or in development mode have the chip encrypt them as it writes (Install or recover; otaflash flash --offset A --pre-encrypted or --encrypt). otadata is not switched from here, as otaflash cannot tell whether a slot would decrypt.".into(),
        }
    }
}

/// What a board holds: its partition table (or why there is none), otadata, and what each app
/// slot holds as far as its headers tell.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub table: std::result::Result<PartitionTable, TableProblem>,
    pub otadata: Option<Otadata>,
    pub slots: Slots,
    /// The header of the bootloader at the chip's bootloader offset (None: no image there).
    pub bootloader: Option<Header>,
}

/// What the bootloader will do with `table` and `otadata`, given what is known of the slots.
pub fn judge_boot(
    table: &PartitionTable,
    otadata: &Otadata,
    rollback: bool,
    slots: &Slots,
) -> Boot {
    predict_boot(table, otadata, rollback, &|p| slots.loads(p))
}

impl<P: Port> Device<P> {
    /// Resets into download mode, identifies the chip, starts the stub, switches the baud
    /// (each with its fall-back) and finds the flash size.
    pub async fn open(
        mut loader: Loader<P>,
        opts: &OpenOptions,
    ) -> std::result::Result<Device<P>, OpenFailed<P>> {
        let r = async {
            let chip = loader.open(opts).await?;
            let flash = loader.flash_info().await?;
            Ok::<_, Error>((chip, flash))
        }
        .await;
        match r {
            Ok((chip, flash)) => Ok(Device {
                loader,
                chip,
                flash,
            }),
            Err(error) => Err(OpenFailed { error, loader }),
        }
    }

    pub fn loader(&mut self) -> &mut Loader<P> {
        &mut self.loader
    }

    pub fn into_loader(self) -> Loader<P> {
        self.loader
    }

    /// Whether the flasher stub runs (else the ROM loader answers).
    pub fn is_stub(&self) -> bool {
        self.loader.is_stub()
    }

    pub fn baud(&self) -> u32 {
        self.loader.baud()
    }

    /// What images are judged against on this board.
    pub fn target(&self) -> Target {
        let (major, minor) = self.chip.revision;
        Target::chip(self.chip.chip, Some((major * 100 + minor) as u16))
            .with_secure_boot(self.chip.security.secure_boot)
    }

    pub async fn read_table(
        &mut self,
        offset: u32,
    ) -> Result<std::result::Result<PartitionTable, TableProblem>> {
        if self.chip.security.secure_download {
            return Ok(Err(TableProblem::SecureDownload));
        }
        if self.chip.security.flash_encrypted() {
            return Ok(Err(TableProblem::Encrypted { offset }));
        }
        // A table's rows usually end well within the first KiB; the rest is checked by MD5.
        let bytes = self
            .loader
            .read_flash_head(offset, TABLE_MAX_LEN as u32, 0x400)
            .await?;
        if bytes.iter().all(|&b| b == 0xFF) {
            return Ok(Err(TableProblem::Blank { offset }));
        }
        Ok(
            PartitionTable::parse(&bytes).map_err(|e| TableProblem::Invalid {
                offset,
                why: e.to_string(),
            }),
        )
    }

    pub async fn read_otadata(&mut self, table: &PartitionTable) -> Result<Otadata> {
        let part = table.otadata().cloned().ok_or(Refusal::NoOtadata)?;
        // Each sector's 32-byte entry, and the rest of the sector only if it is not erased.
        let mut bytes = Vec::with_capacity(OTADATA_LEN);
        for at in [part.offset, part.offset + SECTOR_LEN as u32] {
            let sector = self
                .loader
                .read_flash_head(at, SECTOR_LEN as u32, ENTRY_LEN as u32)
                .await?;
            bytes.extend(sector);
        }
        Otadata::parse(&bytes).map_err(|e| Error::Protocol(e.to_string()))
    }

    /// The table at `offset`, otadata, and each app slot's headers.
    pub async fn snapshot(&mut self, offset: u32) -> Result<Snapshot> {
        let table = self.read_table(offset).await?;
        let mut otadata = None;
        let mut slots = Slots::default();
        if let Ok(t) = &table {
            if t.otadata().is_some() {
                otadata = Some(self.read_otadata(t).await?);
            }
            for p in t.entries.iter().filter(|p| p.is_app()) {
                match self.scan_slot(p).await {
                    Ok(s) => slots.set(p, s),
                    // A slot past the end of the flash (the table's warnings say so): its
                    // content stays unknown.
                    Err(Error::Refused(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let at = self.chip.chip.bootloader_offset;
        // Unreadable in secure download mode, ciphertext under flash encryption.
        let bootloader = if self.chip.security.reads_hidden() {
            None
        } else {
            let head = self.loader.read_flash(at, HEADER_LEN as u32).await?;
            Header::parse(&head).filter(|h| h.magic == IMAGE_MAGIC)
        };
        Ok(Snapshot {
            table,
            otadata,
            slots,
            bootloader,
        })
    }

    /// What a slot holds, from its headers (a few small reads; the body is not read).
    pub async fn scan_slot(&mut self, p: &Partition) -> Result<SlotImage> {
        let mut scan = HeaderScan::new(self.target(), p.offset, p.size);
        while let Some((at, n)) = scan.want() {
            let bytes = self.loader.read_flash(p.offset + at, n).await?;
            scan.feed(&bytes);
        }
        Ok(scan.finish())
    }

    /// What a slot holds, checked whole as the bootloader does (reads the whole image back).
    pub async fn verify_slot(&mut self, p: &Partition) -> Result<SlotImage> {
        let head = self.scan_slot(p).await?;
        let readable = head
            .problems
            .iter()
            .all(|x| matches!(x, ImageProblem::NotAnApp));
        match head.len {
            Some(len) if readable => {
                let bytes = self.loader.read_flash(p.offset, len as u32).await?;
                Ok(judge(&bytes, self.target(), p.offset, Some(p.size)))
            }
            // The headers already say the bootloader stops there.
            _ => Ok(head),
        }
    }

    /// Whether `p` loads, reading it whole when that is not known yet. Returns the verdict
    /// it read, if it read one (to remember).
    pub async fn ensure_known(
        &mut self,
        p: &Partition,
        known: &Slots,
    ) -> Result<(Loads, Option<SlotImage>)> {
        match known.loads(p) {
            Loads::Unknown => {
                let s = self.verify_slot(p).await?;
                Ok((s.loads(), Some(s)))
            }
            l => Ok((l, None)),
        }
    }

    /// Reads a region (a backup).
    pub async fn read(&mut self, offset: u32, size: u32) -> Result<Vec<u8>> {
        self.loader.read_flash(offset, size).await
    }
}
