//! Writing: an image into a slot (checked first, verified by MD5 after), and otadata (sector by
//! sector in the power-cut-safe order, each verified, then read back). Booting is switched only
//! to a slot whose whole image the bootloader would load.

use super::{judge_boot, Device};
use crate::formats::bootable::{check_slot_image, Loads, SlotImage, SlotRefusal, Slots, Target};
use crate::formats::otadata::{self, OtaState, Otadata, SECTOR_LEN};
use crate::formats::partition::{Md5Status, Partition, PartitionTable};
use crate::loader::{Error, Port, Refusal, Result, WriteOptions, WriteReport};

/// What writing an image into a slot did.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotWrite {
    pub partition: Partition,
    pub report: WriteReport,
    /// What the slot holds now: the image written, checked whole.
    pub slot: SlotImage,
}

/// What an otadata change did.
#[derive(Debug, Clone, PartialEq)]
pub struct Switched {
    /// otadata as read back from the device.
    pub otadata: Otadata,
    /// Slots read whole to check them before switching (to remember).
    pub checked: Vec<(Partition, SlotImage)>,
}

/// A table the bootloader rejects (MD5 mismatch) is no map to write by.
fn require_sound(table: &PartitionTable) -> Result<()> {
    match table.md5 {
        Md5Status::Mismatch { .. } => Err(Refusal::TableRejected.into()),
        _ => Ok(()),
    }
}

fn find(table: &PartitionTable, label: &str) -> Result<Partition> {
    table
        .find(label)
        .cloned()
        .ok_or_else(|| Refusal::NoPartition(label.to_string()).into())
}

/// Every reason `image` may not be written into `slot` now (empty: it may), in the order they
/// are said: a table the bootloader rejects, no image at all (then nothing else), no app slot,
/// each problem the bootloader would have with it there (too big among them), and the slot
/// that boots now (`boots_now`). The page lists them all; the device refuses with the first.
pub fn slot_write_refusals(
    table: Option<&PartitionTable>,
    slot: Option<&Partition>,
    image: &[u8],
    target: Target,
    boots_now: bool,
) -> (SlotImage, Vec<Refusal>) {
    let (judged, found) = check_slot_image(image, slot, target);
    let mut out = vec![];
    if table.is_some_and(|t| matches!(t.md5, Md5Status::Mismatch { .. })) {
        out.push(Refusal::TableRejected);
    }
    if let [SlotRefusal::NotAnImage(m)] = &found[..] {
        return (judged, vec![Refusal::NotAnImage(m.clone())]);
    }
    out.extend(found.into_iter().map(|r| match r {
        SlotRefusal::NotAnImage(m) => Refusal::NotAnImage(m),
        SlotRefusal::NotAnAppSlot { label, kind } => Refusal::NotAnAppSlot { label, kind },
        SlotRefusal::Image(p) => Refusal::Image(vec![p]),
    }));
    if let Some(s) = slot.filter(|_| boots_now) {
        out.push(Refusal::BootsNow(s.name()));
    }
    (judged, out)
}

impl<P: Port> Device<P> {
    /// Checks `image` for slot `label` without writing anything: the slot exists and is an
    /// app slot, the file fits, and the bootloader would load the image there on this chip.
    pub fn check_slot_image(
        &self,
        table: &PartitionTable,
        label: &str,
        image: &[u8],
    ) -> Result<(Partition, SlotImage)> {
        let part = find(table, label)?;
        let (slot, refusals) =
            slot_write_refusals(Some(table), Some(&part), image, self.target(), false);
        // The first that is not the image's own, else every problem the bootloader would have.
        let mut problems = vec![];
        for r in refusals {
            match r {
                Refusal::Image(p) => problems.extend(p),
                r => return Err(r.into()),
            }
        }
        if !problems.is_empty() {
            return Err(Refusal::Image(problems).into());
        }
        Ok((part, slot))
    }

    /// Whether slot `label` holds `image` already (MD5 over its length) and is the app that
    /// boots: a finished `flash --slot L --set-boot`, run again, has nothing to do.
    pub async fn boots_image(
        &mut self,
        table: &PartitionTable,
        label: &str,
        image: &[u8],
        known: &Slots,
    ) -> Result<bool> {
        let part = find(table, label)?;
        if table.otadata().is_none() || image.len() as u64 > part.size as u64 {
            return Ok(false);
        }
        let od = self.read_otadata(table).await?;
        if judge_boot(table, &od, false, known).booted_partition(table) != Some(&part) {
            return Ok(false);
        }
        let sum = self
            .loader
            .flash_md5(part.offset, image.len() as u32)
            .await?;
        Ok(sum == crate::formats::md5(image))
    }

    /// Writes an app image into slot `label` and verifies it by MD5. Refuses, unless `force`,
    /// the slot that boots now (as `known` and otadata say), and always anything that is not
    /// an image this chip's bootloader would load from that slot.
    pub async fn write_slot(
        &mut self,
        table: &PartitionTable,
        label: &str,
        image: &[u8],
        known: &Slots,
        force: bool,
    ) -> Result<SlotWrite> {
        let (partition, slot) = self.check_slot_image(table, label, image)?;
        if !force && table.otadata().is_some() {
            let od = self.read_otadata(table).await?;
            let boot = judge_boot(table, &od, false, known);
            if boot.booted_partition(table) == Some(&partition) {
                return Err(Refusal::BootsNow(label.into()).into());
            }
        }
        let report = self
            .loader
            .write_flash(partition.offset, image, WriteOptions::default())
            .await?;
        Ok(SlotWrite {
            partition,
            report,
            slot,
        })
    }

    /// Writes `new` otadata over what is on the device, sector by sector in the power-cut-safe
    /// order, each sector verified before the next is touched; then reads it back.
    pub async fn switch_otadata(
        &mut self,
        table: &PartitionTable,
        new: &Otadata,
    ) -> Result<Otadata> {
        require_sound(table)?;
        let part = table.otadata().cloned().ok_or(Refusal::NoOtadata)?;
        let old = self.read_otadata(table).await?;
        for sector in otadata::write_order(&old, new) {
            let at = part.offset + (sector * SECTOR_LEN) as u32;
            let opts = WriteOptions {
                skip_unchanged: false,
                ..WriteOptions::default()
            };
            self.loader
                .write_flash(at, new.sector(sector), opts)
                .await?;
            self.loader
                .log(format!("otadata sector {sector} written and verified"));
        }
        let back = self.read_otadata(table).await?;
        if &back != new {
            return Err(Error::Verify(
                "otadata read back differs from what was written".into(),
            ));
        }
        Ok(back)
    }

    /// Writes an otadata image made elsewhere (the editor), after checking the app it makes
    /// boot: that slot's whole image is read and judged unless already known. Refuses when
    /// otadata would select an app that does not load, unless `force` (the technician saw the
    /// fallback in the preview and confirmed it).
    pub async fn write_otadata(
        &mut self,
        table: &PartitionTable,
        new: &Otadata,
        known: &Slots,
        force: bool,
    ) -> Result<Switched> {
        require_sound(table)?;
        let boot = judge_boot(table, new, false, known);
        let mut checked = vec![];
        if let Some(p) = boot.selected_partition(table).cloned() {
            let (loads, read) = self.ensure_known(&p, known).await?;
            if let Some(s) = read {
                checked.push((p.clone(), s));
            }
            if let Loads::No(problem) = loads {
                if !force {
                    return Err(Refusal::WontLoad {
                        label: p.name(),
                        problem,
                    }
                    .into());
                }
            }
        }
        let otadata = self.switch_otadata(table, new).await?;
        Ok(Switched { otadata, checked })
    }

    /// Makes `label` boot next (both sectors get the same new entry), after checking that the
    /// bootloader loads its image (read whole unless already known). `factory` erases otadata.
    pub async fn set_boot(
        &mut self,
        table: &PartitionTable,
        label: &str,
        state: OtaState,
        known: &Slots,
        force: bool,
    ) -> Result<Switched> {
        let old = self.read_otadata(table).await?;
        let new = otadata::set_boot(table, &old, label, state)
            .map_err(|e| Error::Refused(Refusal::Otadata(e.to_string())))?;
        self.write_otadata(table, &new, known, force).await
    }

    pub async fn erase_otadata(&mut self, table: &PartitionTable) -> Result<Otadata> {
        self.switch_otadata(table, &otadata::erase()).await
    }

    /// `esp_ota_mark_app_valid_cancel_rollback` / `..._invalid_rollback_and_reboot` on the
    /// device's otadata. Marking invalid first reads whole every other app slot whose image
    /// is not known, as IDF validates the app it goes back to.
    pub async fn mark_running(
        &mut self,
        table: &PartitionTable,
        valid: bool,
        known: &Slots,
    ) -> Result<Switched> {
        let old = self.read_otadata(table).await?;
        let mut slots = known.clone();
        let mut checked = vec![];
        let new = if valid {
            otadata::mark_running_valid(&old)
        } else {
            let running = judge_boot(table, &old, false, known).booted;
            for (i, p) in table.entries.iter().enumerate() {
                if p.is_app() && Some(i) != running && slots.loads(p) == Loads::Unknown {
                    let s = self.verify_slot(p).await?;
                    slots.set(p, s.clone());
                    checked.push((p.clone(), s));
                }
            }
            otadata::mark_running_invalid(table, &old, &|p| slots.loads(p))
        }
        .map_err(|e| Error::Refused(Refusal::Otadata(e.to_string())))?;
        let otadata = self.switch_otadata(table, &new).await?;
        Ok(Switched { otadata, checked })
    }
}
