//! Device-level operations on top of the loader: read the partition table and otadata, write an
//! image into a slot (checked first), switch otadata in the power-cut-safe order with
//! read-back, back up a partition.

use super::{Error, Loader, Port, Result, WriteOptions, WriteReport};
use crate::formats::image::Image;
use crate::formats::otadata::{
    self, all_bootable, predict_boot, Boot, OtaState, Otadata, OTADATA_LEN, SECTOR_LEN,
};
use crate::formats::partition::{Partition, PartitionTable, TABLE_MAX_LEN};

/// What writing an image to a slot did.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotWrite {
    pub label: String,
    pub report: WriteReport,
    /// Set when the boot slot was switched afterwards.
    pub boot: Option<Boot>,
}

impl<P: Port> Loader<P> {
    pub async fn read_partition_table(&mut self, offset: u32) -> Result<PartitionTable> {
        let bytes = self.read_flash(offset, TABLE_MAX_LEN as u32).await?;
        PartitionTable::parse(&bytes)
            .map_err(|e| Error::Refused(format!("partition table at 0x{offset:x}: {e}")))
    }

    fn otadata_partition(table: &PartitionTable) -> Result<Partition> {
        table
            .otadata()
            .cloned()
            .ok_or_else(|| Error::Refused("the partition table has no otadata partition".into()))
    }

    pub async fn read_otadata(&mut self, table: &PartitionTable) -> Result<Otadata> {
        let part = Self::otadata_partition(table)?;
        let bytes = self.read_flash(part.offset, OTADATA_LEN as u32).await?;
        Otadata::parse(&bytes).map_err(|e| Error::Protocol(e.to_string()))
    }

    /// Which slot boots now (every slot assumed bootable; the bootloader's own view).
    pub fn running_slot(table: &PartitionTable, od: &Otadata) -> Option<String> {
        predict_boot(table, od, false, &all_bootable)
            .booted_partition(table)
            .map(|p| p.name())
    }

    /// A table the bootloader rejects (MD5 mismatch) is no map to write by.
    fn require_sound_table(table: &PartitionTable) -> Result<()> {
        if let crate::formats::partition::Md5Status::Mismatch { .. } = table.md5 {
            return Err(Error::Refused(
                "the partition table's MD5 does not match its entries, so the bootloader rejects it: fix the table first".into(),
            ));
        }
        Ok(())
    }

    /// Checks `image` for slot `label` without writing anything.
    pub fn check_slot_image(
        &self,
        table: &PartitionTable,
        label: &str,
        image: &[u8],
    ) -> Result<Partition> {
        Self::require_sound_table(table)?;
        let part = table
            .find(label)
            .cloned()
            .ok_or_else(|| Error::Refused(format!("no partition named '{label}'")))?;
        if !part.is_app() {
            return Err(Error::Refused(format!(
                "'{label}' is a {} partition, not an app slot",
                part.type_name()
            )));
        }
        if image.len() as u64 > part.size as u64 {
            return Err(Error::Refused(format!(
                "not written: the file is {} bytes, larger than the {}-byte slot '{label}'",
                image.len(),
                part.size
            )));
        }
        let img = Image::parse(image).map_err(|e| Error::Refused(format!("not written: {e}")))?;
        let chip = self.require_supported()?;
        let problems = img.problems_for(chip, Some(part.size));
        if !problems.is_empty() {
            return Err(Error::Refused(format!(
                "not written: {}",
                problems.join("; ")
            )));
        }
        Ok(part)
    }

    /// Writes an app image into slot `label` and verifies it by MD5. Refuses the slot that is
    /// running now unless `force`, and anything that is not an image for this chip that fits.
    pub async fn write_slot(
        &mut self,
        table: &PartitionTable,
        label: &str,
        image: &[u8],
        force: bool,
    ) -> Result<SlotWrite> {
        let part = self.check_slot_image(table, label, image)?;
        if !force && table.otadata().is_some() {
            let od = self.read_otadata(table).await?;
            if Self::running_slot(table, &od).as_deref() == Some(label) {
                return Err(Error::Refused(format!(
                    "'{label}' is the slot the device boots now; write the other OTA slot (or force it)"
                )));
            }
        }
        let report = self
            .write_flash(part.offset, image, WriteOptions::default())
            .await?;
        Ok(SlotWrite {
            label: label.to_string(),
            report,
            boot: None,
        })
    }

    /// Writes `new` otadata over what is on the device, sector by sector in the power-cut-safe
    /// order, each sector verified before the next is touched; then reads otadata back and
    /// predicts the boot from what is really there.
    pub async fn switch_otadata(&mut self, table: &PartitionTable, new: &Otadata) -> Result<Boot> {
        Self::require_sound_table(table)?;
        let part = Self::otadata_partition(table)?;
        let old = self.read_otadata(table).await?;
        for sector in otadata::write_order(&old, new) {
            let at = part.offset + (sector * SECTOR_LEN) as u32;
            let opts = WriteOptions {
                skip_unchanged: false,
                compress: true,
            };
            self.write_flash(at, new.sector(sector), opts).await?;
            self.log(format!("otadata sector {sector} written and verified"));
        }
        let back = self.read_otadata(table).await?;
        if &back != new {
            return Err(Error::Verify(
                "otadata read back differs from what was written".into(),
            ));
        }
        Ok(predict_boot(table, &back, false, &all_bootable))
    }

    /// Makes `label` boot next (matched sectors).
    pub async fn set_boot(
        &mut self,
        table: &PartitionTable,
        label: &str,
        state: OtaState,
    ) -> Result<Boot> {
        let old = self.read_otadata(table).await?;
        let new = otadata::set_boot(table, &old, label, state)
            .map_err(|e| Error::Refused(e.to_string()))?;
        self.switch_otadata(table, &new).await
    }

    pub async fn erase_otadata(&mut self, table: &PartitionTable) -> Result<Boot> {
        self.switch_otadata(table, &otadata::erase()).await
    }

    /// Writes the image into the slot, and only if it verified, makes the slot boot next.
    pub async fn flash_and_boot(
        &mut self,
        table: &PartitionTable,
        label: &str,
        image: &[u8],
        state: OtaState,
        force: bool,
    ) -> Result<SlotWrite> {
        let mut w = self.write_slot(table, label, image, force).await?;
        w.boot = Some(self.set_boot(table, label, state).await?);
        Ok(w)
    }

    /// The whole content of a partition.
    pub async fn backup_partition(
        &mut self,
        table: &PartitionTable,
        label: &str,
    ) -> Result<Vec<u8>> {
        let p = table
            .find(label)
            .cloned()
            .ok_or_else(|| Error::Refused(format!("no partition named '{label}'")))?;
        self.read_flash(p.offset, p.size).await
    }
}
