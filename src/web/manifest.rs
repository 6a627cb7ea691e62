//! ESP Web Tools manifests (`builds[].chipFamily`, `parts[{path, offset}]`): the build for the
//! connected chip, and its app part, from this site (a manifest URL) or from files the
//! technician picked together with the manifest (parts found by file name). Parsed with the
//! browser's own JSON parser: no JSON library in the page.

use super::engine::fetch_bytes;
use crate::formats::image::Image;
use crate::formats::numbers::parse_u32;
use wasm_bindgen::JsValue;

#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub path: String,
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    pub chip_family: String,
    pub parts: Vec<Part>,
}

/// Where a manifest's parts come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Parts {
    /// This site, relative to the manifest's URL (`base` ends with '/').
    Site { base: String },
    /// Files picked with the manifest, by name.
    Files(Vec<(String, Vec<u8>)>),
}

fn get(v: &JsValue, k: &str) -> JsValue {
    js_sys::Reflect::get(v, &k.into()).unwrap_or_default()
}

/// Same-origin only (the page's CSP allows nothing else).
pub fn same_origin(url: &str) -> bool {
    !(url.contains("://") || url.starts_with("//"))
}

/// The builds of a manifest.
pub fn parse(manifest: &[u8]) -> Result<Vec<Build>, String> {
    let text = String::from_utf8_lossy(manifest);
    let v = js_sys::JSON::parse(&text).map_err(|_| {
        "the manifest is not JSON text (an ESP Web Tools manifest.json?)".to_string()
    })?;
    let builds: Vec<Build> = js_sys::Array::from(&get(&v, "builds"))
        .to_vec()
        .iter()
        .map(|b| Build {
            chip_family: get(b, "chipFamily").as_string().unwrap_or_default(),
            parts: js_sys::Array::from(&get(b, "parts"))
                .to_vec()
                .iter()
                .filter_map(|p| {
                    let off = get(p, "offset");
                    let offset = off
                        .as_f64()
                        .map(|f| f as u64)
                        .or_else(|| parse_u32(&off.as_string()?).map(u64::from))?;
                    Some(Part {
                        path: get(p, "path").as_string()?,
                        offset,
                    })
                })
                .collect(),
        })
        .collect();
    if builds.is_empty() {
        return Err("the manifest has no \"builds\"".into());
    }
    Ok(builds)
}

/// The build for `chip` ("ESP32"), or the first one while no chip is known.
pub fn build_for<'b>(builds: &'b [Build], chip: Option<&str>) -> Result<&'b Build, String> {
    builds
        .iter()
        .find(|b| chip.is_none_or(|c| b.chip_family.eq_ignore_ascii_case(c)))
        .ok_or_else(|| {
            let have: Vec<&str> = builds.iter().map(|b| b.chip_family.as_str()).collect();
            format!(
                "the manifest has no build for {} (it has: {})",
                chip.unwrap_or("this chip"),
                have.join(", ")
            )
        })
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

async fn part_bytes(part: &Part, from: &Parts) -> Result<Vec<u8>, String> {
    match from {
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

/// The app part of `build`: the part at the highest offset that is an app image.
pub async fn app_part(build: &Build, from: &Parts) -> Result<(String, Vec<u8>), String> {
    let mut parts = build.parts.clone();
    parts.sort_by_key(|p| p.offset);
    let mut first_error = None;
    for part in parts.iter().rev() {
        match part_bytes(part, from).await {
            Ok(bytes) => {
                if Image::parse(&bytes).is_ok_and(|i| i.is_app()) {
                    return Ok((file_name(&part.path).to_string(), bytes));
                }
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| "none of the manifest's parts is an app image".into()))
}

/// The manifest at `url` on this site, resolved for `chip`.
pub async fn from_url(url: &str, chip: Option<&str>) -> Result<(String, Vec<u8>), String> {
    if !same_origin(url) {
        return Err(format!(
            "{url}: only manifests from this site can be loaded (the page talks to no other server)"
        ));
    }
    let base = url
        .rsplit_once('/')
        .map(|(b, _)| format!("{b}/"))
        .unwrap_or_default();
    let builds = parse(&fetch_bytes(url).await?)?;
    app_part(build_for(&builds, chip)?, &Parts::Site { base }).await
}

/// A manifest picked as a file, with the other files picked beside it.
pub async fn from_files(
    manifest: &[u8],
    files: Vec<(String, Vec<u8>)>,
    chip: Option<&str>,
) -> Result<(String, Vec<u8>), String> {
    let builds = parse(manifest)?;
    app_part(build_for(&builds, chip)?, &Parts::Files(files)).await
}
