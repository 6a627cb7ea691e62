//! ESP Web Tools manifests on the page: the build for the connected chip, its parts fetched from
//! this site (relative to the manifest's URL) or found by name among the files the technician
//! picked with the manifest. The manifest itself is read by [`crate::formats::manifest`], as on
//! the command line.

use super::engine::fetch_bytes;
use crate::formats::install;
use crate::formats::manifest::{file_name, Build, Manifest, Part};

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

    async fn bytes(&self, part: &Part) -> Result<Vec<u8>, String> {
        match &self.parts {
            Parts::Site { base } => {
                // Resolved against the manifest's address, as ESP Web Tools resolves it.
                let at = crate::formats::manifest::resolve(base, &part.path);
                if !same_origin(&at) {
                    return Err(other_site(&at, "a manifest's parts"));
                }
                fetch_bytes(&at).await
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

    /// What the update puts on a `chip`: the build for it, every part read, named as the
    /// manifest names the product.
    pub async fn update_build(&self, chip: &str) -> Result<crate::formats::update::Build, String> {
        let (_, parts) = self.install_parts(chip).await?;
        Ok(crate::formats::update::Build {
            name: self.manifest.name.clone(),
            version: self.manifest.version.clone(),
            parts,
        })
    }

    /// Every part of the build for `chip`, to install at its offset.
    pub async fn install_parts(&self, chip: &str) -> Result<(Build, Vec<install::Part>), String> {
        let build = self.manifest.build_for(Some(chip))?.clone();
        // Picked files: every one that is missing, named at once.
        if let Parts::Files(files) = &self.parts {
            let missing: Vec<&str> = build
                .parts
                .iter()
                .map(|p| file_name(&p.path))
                .filter(|want| !files.iter().any(|(n, _)| file_name(n) == *want))
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "the manifest names {}, which {} not picked with it: choose the manifest together with its .bin files (select them all, or drop them together)",
                    missing.join(", "),
                    if missing.len() == 1 { "was" } else { "were" }
                ));
            }
        }
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
