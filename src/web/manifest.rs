//! ESP Web Tools manifests on the page: the build for the connected chip, its parts fetched from
//! this site (relative to the manifest's URL) or found by name among the files the technician
//! picked with the manifest. The manifest itself is read by [`crate::formats::manifest`], as on
//! the command line.

use super::engine::fetch_bytes;
use crate::formats::image::Image;
use crate::formats::install;
use crate::formats::manifest::{file_name, Build, Manifest, Part};

/// Where a manifest's parts come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Parts {
    /// This site, relative to the manifest's URL (`base` ends with '/').
    Site { base: String },
    /// Files picked with the manifest, by name.
    Files(Vec<(String, Vec<u8>)>),
}

/// Same-origin only (the page's CSP allows nothing else).
pub fn same_origin(url: &str) -> bool {
    !(url.contains("://") || url.starts_with("//"))
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
            return Err(format!(
                "{url}: only manifests from this site can be loaded (the page talks to no other server)"
            ));
        }
        let base = url
            .rsplit_once('/')
            .map(|(b, _)| format!("{b}/"))
            .unwrap_or_default();
        Ok(Source {
            manifest: Manifest::parse(&fetch_bytes(url).await?)?,
            parts: Parts::Site { base },
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

    async fn bytes(&self, part: &Part) -> Result<Vec<u8>, String> {
        match &self.parts {
            Parts::Site { base } => {
                if !same_origin(&part.path) {
                    return Err(format!(
                        "manifest part {}: only files from this site can be loaded",
                        part.path
                    ));
                }
                fetch_bytes(&format!("{base}{}", part.path)).await
            }
            Parts::Files(files) => {
                let want = file_name(&part.path);
                files
                    .iter()
                    .find(|(n, _)| file_name(n) == want)
                    .map(|(_, b)| b.clone())
                    .ok_or_else(|| {
                        format!(
                            "the manifest names {want}, which was not picked with it: choose the manifest together with its .bin files (select them all, or drop them together)"
                        )
                    })
            }
        }
    }

    /// The app part of the build for `chip`: the part at the highest offset that is an app.
    pub async fn app(&self, chip: Option<&str>) -> Result<(String, Vec<u8>), String> {
        let build = self.manifest.build_for(chip)?;
        let mut parts = build.parts.clone();
        parts.sort_by_key(|p| p.offset);
        let mut first_error = None;
        for part in parts.iter().rev() {
            match self.bytes(part).await {
                Ok(bytes) if Image::parse(&bytes).is_ok_and(|i| i.is_app()) => {
                    return Ok((file_name(&part.path).to_string(), bytes))
                }
                Ok(_) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| "none of the manifest's parts is an app image".into()))
    }

    /// Every part of the build for `chip`, to install at its offset.
    pub async fn install_parts(&self, chip: &str) -> Result<(Build, Vec<install::Part>), String> {
        let build = self.manifest.build_for(Some(chip))?.clone();
        let mut out = vec![];
        for part in &build.parts {
            let bytes = self.bytes(part).await?;
            out.push(install::Part::new(
                file_name(&part.path),
                part.offset,
                bytes,
            ));
        }
        Ok((build, out))
    }
}
