//! NVS on the device: read a settings partition and decode it; write new settings by generating
//! the whole partition image (as `nvs_partition_gen.py` would), writing it (MD5-verified), then
//! reading it back and decoding it again to check that it holds exactly what was asked.

use super::Device;
use crate::formats::nvs::{self, text, Entry, Nvs, Version};
use crate::formats::partition::{Partition, PartitionTable};
use crate::loader::{Error, Port, Refusal, Result, WriteOptions, WriteReport};

/// An NVS partition as read from the device.
#[derive(Debug, Clone)]
pub struct NvsRead {
    pub partition: Partition,
    /// Its raw bytes (what a backup holds).
    pub bytes: Vec<u8>,
    pub nvs: Nvs,
}

/// What writing new settings did.
#[derive(Debug, Clone)]
pub struct NvsWritten {
    pub report: WriteReport,
    /// The partition's bytes read back.
    pub bytes: Vec<u8>,
    /// The partition read back and decoded.
    pub readback: Nvs,
}

/// The NVS partition `label`, or the first one when None.
pub fn nvs_partition(table: &PartitionTable, label: Option<&str>) -> Result<Partition> {
    let p = match label {
        Some(l) => table
            .find(l)
            .cloned()
            .ok_or_else(|| Refusal::NoPartition(l.into()))?,
        None => table
            .entries
            .iter()
            .find(|p| p.is_nvs())
            .cloned()
            .ok_or_else(|| Refusal::Nvs("the partition table has no NVS partition".into()))?,
    };
    if !p.is_nvs() {
        return Err(Refusal::Nvs(format!(
            "'{}' is a {} {} partition, not NVS",
            p.name(),
            p.type_name(),
            p.subtype_name()
        ))
        .into());
    }
    Ok(p)
}

/// Whether `nvs` as read may be rewritten from its entries: not when it is encrypted (the
/// entries cannot be read), and not when the pages hold what would be lost (damage the
/// library would repair is lost anyway; anything else needs `accept_losses`).
/// `table` is the device's or the dump's partition table, when there is one.
pub fn check_rewrite(
    table: Option<&PartitionTable>,
    nvs: &Nvs,
    accept_losses: bool,
) -> std::result::Result<(), Refusal> {
    let has_keys = table.is_some_and(|t| t.entries.iter().any(|p| p.is_nvs_keys()));
    if nvs.looks_encrypted() || (has_keys && !nvs.is_blank() && nvs.entries.is_empty()) {
        return Err(Refusal::Nvs(
            "this NVS partition is encrypted (an nvs_keys partition holds its keys); otaflash cannot read or rewrite it".into(),
        ));
    }
    let unreadable: Vec<String> = nvs
        .problems
        .iter()
        .filter(|p| {
            matches!(
                p,
                nvs::Problem::DataCrc { .. }
                    | nvs::Problem::BlobIncomplete { .. }
                    | nvs::Problem::UnknownNamespace { .. }
                    | nvs::Problem::PageHeaderCrc { .. }
                    | nvs::Problem::BadPageState { .. }
                    | nvs::Problem::DirtyEmptyPage { .. }
            )
        })
        .map(|p| p.to_string())
        .collect();
    if !unreadable.is_empty() && !accept_losses {
        return Err(Refusal::Unconfirmed(
            unreadable
                .into_iter()
                .map(|p| format!("rewriting drops what cannot be read: {p}"))
                .collect(),
        ));
    }
    Ok(())
}

impl<P: Port> Device<P> {
    /// Reads and decodes the NVS partition `label` (the first NVS partition when None).
    pub async fn read_nvs(
        &mut self,
        table: &PartitionTable,
        label: Option<&str>,
    ) -> Result<NvsRead> {
        let partition = nvs_partition(table, label)?;
        let bytes = self.read(partition.offset, partition.size).await?;
        let nvs = nvs::decode(&bytes);
        Ok(NvsRead {
            partition,
            bytes,
            nvs,
        })
    }

    /// Writes `entries` as the whole of `partition`: the image is generated first (nothing is
    /// written if it cannot be), written and verified by MD5, then read back and decoded; the
    /// result must hold exactly `entries`.
    pub async fn write_nvs(
        &mut self,
        partition: &Partition,
        entries: &[Entry],
        version: Version,
    ) -> Result<NvsWritten> {
        let image = nvs::generate(&text::rows_for(entries), partition.size, version)
            .map_err(|e| Refusal::Nvs(e.to_string()))?;
        let report = self
            .loader()
            .write_flash(partition.offset, &image, WriteOptions::default())
            .await?;
        let back = self.read(partition.offset, partition.size).await?;
        let readback = nvs::decode(&back);
        if back[..image.len()] != image[..] || readback.entries != text::grouped(entries) {
            return Err(Error::Verify(format!(
                "'{}' read back does not hold what was written",
                partition.name()
            )));
        }
        Ok(NvsWritten {
            report,
            bytes: back,
            readback,
        })
    }
}
