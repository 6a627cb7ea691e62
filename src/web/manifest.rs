//! ESP Web Tools manifests on the page: the build for the connected chip, its parts fetched from
//! this site (relative to the manifest's URL) or found by name among the files the technician
//! picked with the manifest. The manifest itself is read by [`crate::formats::manifest`], as on
//! the command line.

use super::engine::fetch_bytes;
use crate::formats::install;
use crate::formats::manifest::{Manifest, PartsAt, Where};
use crate::page::FirmwareStage;

/// Where a manifest's parts come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Parts {
    /// This site: the parts' paths resolve against the manifest's address `base`.
    Site { base: String },
    /// Files picked with the manifest, by name.
    Files(Vec<(String, Vec<u8>)>),
}

/// This site's own files only (the page's CSP allows nothing else): a relative address, or an
/// absolute one on the page's own origin.
pub fn same_origin(url: &str) -> bool {
    if url.starts_with("//") {
        return false;
    }
    if !url.contains("://") {
        return true;
    }
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    !origin.is_empty() && (url == origin || url.starts_with(&format!("{origin}/")))
}

/// Why an address is refused, in words.
fn other_site(url: &str, what: &str) -> String {
    format!(
        "{url}: {what} only come from this site (the page talks to no other server): put them beside the page, or pick the files"
    )
}

/// A manifest and where its parts are.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub manifest: Manifest,
    pub parts: Parts,
    /// Where it came from, for messages ("firmware/manifest.json").
    pub from: String,
}

impl Source {
    /// The manifest at `url` on this site.
    pub async fn url(url: &str) -> Result<Source, String> {
        if !same_origin(url) {
            return Err(other_site(url, "manifests"));
        }
        Ok(Source {
            manifest: Manifest::parse(&fetch_bytes(url).await?)?,
            parts: Parts::Site {
                base: url.to_string(),
            },
            from: url.to_string(),
        })
    }

    /// A manifest picked as a file, with the other files picked beside it.
    pub fn files(
        name: &str,
        manifest: &[u8],
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<Source, String> {
        Ok(Source {
            manifest: Manifest::parse(manifest)?,
            parts: Parts::Files(files),
            from: name.to_string(),
        })
    }

    /// The bytes of a located part: fetched from this site, or the picked file.
    async fn bytes(&self, at: &Where) -> Result<Vec<u8>, String> {
        match (at, &self.parts) {
            (Where::Address(url), _) => {
                if !same_origin(url) {
                    return Err(other_site(url, "a manifest's parts"));
                }
                fetch_bytes(url).await
            }
            (Where::Picked(i), Parts::Files(files)) => Ok(files[*i].1.clone()),
            (Where::Picked(_), Parts::Site { .. }) => Err("no files were picked".into()),
        }
    }

    /// What the update puts on a `chip`: the build for it, every part read, named as the
    /// manifest names the product.
    pub async fn update_build(
        &self,
        chip: &str,
    ) -> Result<crate::formats::update::Build, (FirmwareStage, String)> {
        let build = self
            .manifest
            .build_for(Some(chip))
            .map_err(|e| (FirmwareStage::NoBuild, e))?;
        // `new_install_improv_wait_time: 0` turns Wi-Fi set-up after an install off.
        let wait = self.manifest.improv_wait;
        let improv = (build.improv && wait > 0).then_some(wait);
        let parts = self
            .install_parts(chip)
            .await
            .map_err(|e| (FirmwareStage::Parts, e))?;
        Ok(crate::formats::update::Build {
            name: self.manifest.name.clone(),
            version: self.manifest.version.clone(),
            parts,
            improv,
        })
    }

    /// Every part of the build for `chip`, to install at its offset (located by the one
    /// resolver, [`Manifest::locate`]).
    pub async fn install_parts(&self, chip: &str) -> Result<Vec<install::Part>, String> {
        let names: Vec<String>;
        let at = match &self.parts {
            Parts::Site { base } => PartsAt::Beside(base),
            Parts::Files(files) => {
                names = files.iter().map(|(n, _)| n.clone()).collect();
                PartsAt::Picked(&names)
            }
        };
        let mut out = vec![];
        for l in self.manifest.locate(chip, at)? {
            out.push(l.part(self.bytes(&l.at).await?));
        }
        Ok(out)
    }
}
