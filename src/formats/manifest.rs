//! ESP Web Tools manifests: `name`, `version`, `new_install_prompt_erase`,
//! `new_install_improv_wait_time`, and `builds`, each a `chipFamily` ("ESP32", "ESP32-S3", …)
//! with `parts` (`path`, `offset`) and `improv` (the app speaks Improv Wi-Fi). Other members
//! are accepted and ignored. One reader for the page and the CLI.

use super::json::{self, Value};
use super::numbers::parse_u32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub path: String,
    pub offset: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub chip_family: String,
    pub parts: Vec<Part>,
    /// The app speaks Improv Wi-Fi over serial.
    pub improv: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: Option<String>,
    pub version: Option<String>,
    /// ESP Web Tools asks whether to erase the flash first on a new install.
    pub prompt_erase: bool,
    /// How long to wait for the app's Improv answer after an install, in seconds (ESP Web
    /// Tools' default 10; 0: do not ask).
    pub improv_wait: u32,
    pub builds: Vec<Build>,
}

fn offset(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) if *n >= 0.0 && *n <= u32::MAX as f64 && n.fract() == 0.0 => {
            Some(*n as u32)
        }
        Value::String(s) => parse_u32(s),
        _ => None,
    }
}

impl Manifest {
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            "the manifest is not text (an ESP Web Tools manifest.json?)".to_string()
        })?;
        let v = json::parse(text).map_err(|e| format!("the manifest is not valid JSON: {e}"))?;
        let builds = v
            .get("builds")
            .and_then(Value::as_array)
            .ok_or("the manifest has no \"builds\" list")?;
        let mut out = vec![];
        for (i, b) in builds.iter().enumerate() {
            let chip_family = b
                .get("chipFamily")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("build {} has no \"chipFamily\"", i + 1))?
                .to_string();
            let mut parts = vec![];
            for (j, p) in b
                .get("parts")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("the {chip_family} build has no \"parts\" list"))?
                .iter()
                .enumerate()
            {
                let path = p.get("path").and_then(Value::as_str).ok_or_else(|| {
                    format!("part {} of the {chip_family} build has no \"path\"", j + 1)
                })?;
                let offset = p.get("offset").and_then(offset).ok_or_else(|| {
                    format!("part {path} of the {chip_family} build has no usable \"offset\"")
                })?;
                parts.push(Part {
                    path: path.to_string(),
                    offset,
                });
            }
            let improv = b.get("improv").and_then(Value::as_bool).unwrap_or(false);
            out.push(Build {
                chip_family,
                parts,
                improv,
            });
        }
        if out.is_empty() {
            return Err("the manifest's \"builds\" list is empty".into());
        }
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Ok(Manifest {
            name: text("name"),
            version: text("version"),
            prompt_erase: v
                .get("new_install_prompt_erase")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            improv_wait: v
                .get("new_install_improv_wait_time")
                .and_then(offset)
                .unwrap_or(10),
            builds: out,
        })
    }

    /// The build for `chip` ("ESP32", as esptool and ESP Web Tools name it), or the first one
    /// while no chip is known.
    pub fn build_for(&self, chip: Option<&str>) -> Result<&Build, String> {
        self.builds
            .iter()
            .find(|b| chip.is_none_or(|c| b.chip_family.eq_ignore_ascii_case(c)))
            .ok_or_else(|| {
                let have: Vec<&str> = self.builds.iter().map(|b| b.chip_family.as_str()).collect();
                format!(
                    "the manifest has no build for {} (it has: {})",
                    chip.unwrap_or("this chip"),
                    have.join(", ")
                )
            })
    }
}

/// Where a part's `path` points, read as a URL relative to the manifest's address `base` (as a
/// browser resolves `new URL(path, base)`, which ESP Web Tools does): an absolute URL stays,
/// `/x` goes to the base's host, anything else next to the manifest, `..` going up a folder.
/// Also works for plain file paths (`fw/manifest.json` + `app.bin` → `fw/app.bin`).
pub fn resolve(base: &str, path: &str) -> String {
    if path.contains("://") {
        return path.to_string();
    }
    let (origin, base_path) = match base.split_once("://") {
        Some((scheme, rest)) => {
            let cut = rest.find('/').unwrap_or(rest.len());
            (format!("{scheme}://{}", &rest[..cut]), &rest[cut..])
        }
        None => (String::new(), base),
    };
    if let Some(abs) = path.strip_prefix('/') {
        return format!("{origin}/{abs}");
    }
    let base_path = base_path.split(['?', '#']).next().unwrap_or("");
    let mut parts: Vec<&str> = base_path.split('/').collect();
    parts.pop(); // the manifest's own name
    for seg in path.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                if parts.len() > 1 || parts.first().is_some_and(|p| !p.is_empty()) {
                    parts.pop();
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    if origin.is_empty() {
        joined
    } else if joined.starts_with('/') {
        format!("{origin}{joined}")
    } else {
        format!("{origin}/{joined}")
    }
}

/// Whether a picked file is the manifest (by its name: `.json`, in any case).
pub fn is_manifest_name(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".json")
}

/// Where a manifest's parts are.
#[derive(Debug, Clone, Copy)]
pub enum PartsAt<'a> {
    /// Beside the manifest at this address (a URL or a file path).
    Beside(&'a str),
    /// Among the files picked with it (by name).
    Picked(&'a [String]),
}

/// Where one part's bytes are: an address to fetch or read, or the index of a picked file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    Address(String),
    Picked(usize),
}

/// A part of the build for a chip, located: named by its file name, at its offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub name: String,
    pub offset: u32,
    pub at: Where,
}

impl Located {
    /// The part to install, with its bytes (however the face read them).
    pub fn part(&self, bytes: Vec<u8>) -> super::install::Part {
        super::install::Part::new(&self.name, self.offset, bytes)
    }
}

impl Manifest {
    /// The one manifest → parts resolver (the page, the CLI, the fleet): the build for `chip`,
    /// each part located — its path resolved against the manifest's address as a browser
    /// resolves it ([`resolve`]), or the picked file of the same file name. Picked files that
    /// are missing are all named at once.
    pub fn locate(&self, chip: &str, at: PartsAt<'_>) -> Result<Vec<Located>, String> {
        let build = self.build_for(Some(chip))?;
        let mut out = vec![];
        let mut missing = vec![];
        for p in &build.parts {
            let name = file_name(&p.path).to_string();
            let at = match at {
                PartsAt::Beside(base) => Where::Address(resolve(base, &p.path)),
                PartsAt::Picked(names) => match names.iter().position(|n| file_name(n) == name) {
                    Some(i) => Where::Picked(i),
                    None => {
                        missing.push(name);
                        continue;
                    }
                },
            };
            out.push(Located {
                name,
                offset: p.offset,
                at,
            });
        }
        if !missing.is_empty() {
            return Err(format!(
                "the manifest names {}, which {} not picked with it: choose the manifest together with its .bin files (select them all, or drop them together)",
                missing.join(", "),
                if missing.len() == 1 { "was" } else { "were" }
            ));
        }
        Ok(out)
    }
}

/// The last component of a part's path (how parts picked as files are matched).
pub fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_resolver_locates_parts_beside_the_manifest_or_among_picked_files() {
        let m = Manifest::parse(
            br#"{"builds":[{"chipFamily":"ESP32","parts":[{"path":"boot/bootloader.bin","offset":4096},{"path":"app.bin","offset":65536}]}]}"#,
        )
        .unwrap();
        let beside = m
            .locate("ESP32", PartsAt::Beside("http://h/fw/manifest.json"))
            .unwrap();
        assert_eq!(
            beside[0].at,
            Where::Address("http://h/fw/boot/bootloader.bin".into())
        );
        assert_eq!(beside[0].name, "bootloader.bin");
        let names = ["app.bin".to_string(), "bootloader.bin".to_string()];
        let picked = m.locate("esp32", PartsAt::Picked(&names)).unwrap();
        assert_eq!(
            (&picked[0].at, &picked[1].at),
            (&Where::Picked(1), &Where::Picked(0))
        );
        let e = m.locate("ESP32", PartsAt::Picked(&names[..1])).unwrap_err();
        assert!(
            e.contains("names bootloader.bin, which was not picked"),
            "{e}"
        );
        assert!(m.locate("ESP32-C3", PartsAt::Beside("m.json")).is_err());
        assert!(is_manifest_name("Manifest.JSON") && !is_manifest_name("app.bin"));
    }

    #[test]
    fn parts_resolve_against_the_manifest_as_a_browser_does() {
        let m = "http://host:8080/fw/v2/manifest.json";
        assert_eq!(resolve(m, "app.bin"), "http://host:8080/fw/v2/app.bin");
        assert_eq!(resolve(m, "./app.bin"), "http://host:8080/fw/v2/app.bin");
        assert_eq!(resolve(m, "../boot.bin"), "http://host:8080/fw/boot.bin");
        assert_eq!(resolve(m, "/other/x.bin"), "http://host:8080/other/x.bin");
        assert_eq!(resolve(m, "https://cdn/y.bin"), "https://cdn/y.bin");
        assert_eq!(resolve("fw/manifest.json", "app.bin"), "fw/app.bin");
        assert_eq!(resolve("manifest.json", "app.bin"), "app.bin");
        assert_eq!(
            resolve("/abs/fw/manifest.json", "app.bin"),
            "/abs/fw/app.bin"
        );
        assert_eq!(
            resolve("/abs/fw/manifest.json", "../b/c.bin"),
            "/abs/b/c.bin"
        );
    }

    #[test]
    fn the_test_manifest() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let m = Manifest::parse(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(m.builds.len(), 2);
        assert!(!m.prompt_erase);
        let b = m.build_for(Some("ESP32")).unwrap();
        assert_eq!(b.parts.len(), 4);
        assert_eq!(b.parts[0].offset, 0x1000);
        assert_eq!(file_name(&b.parts[3].path), "arduino_StartCounter.ino.bin");
        assert_eq!(m.build_for(None).unwrap().chip_family, "ESP32-S2");
        let e = m.build_for(Some("ESP32-C3")).unwrap_err();
        assert!(
            e.contains("no build for ESP32-C3 (it has: ESP32-S2, ESP32)"),
            "{e}"
        );
    }

    #[test]
    fn offsets_as_numbers_or_text_and_clear_errors() {
        let m = Manifest::parse(
            br#"{"name":"x","new_install_prompt_erase":true,"new_install_improv_wait_time":0,
                 "builds":[{"chipFamily":"ESP32","parts":[{"path":"a.bin","offset":"0x1000"},{"path":"b.bin","offset":32768}]}]}"#,
        )
        .unwrap();
        assert!(m.prompt_erase);
        assert_eq!((m.improv_wait, m.builds[0].improv), (0, false));
        // Improv per build; the wait as ESP Web Tools' default when not given.
        let i = Manifest::parse(
            br#"{"builds":[{"chipFamily":"ESP32","improv":true,"parts":[{"path":"a.bin","offset":0}]}]}"#,
        )
        .unwrap();
        assert_eq!((i.improv_wait, i.builds[0].improv), (10, true));
        assert_eq!(m.builds[0].parts[0].offset, 0x1000);
        assert_eq!(m.builds[0].parts[1].offset, 0x8000);
        assert!(Manifest::parse(b"{}")
            .unwrap_err()
            .contains("no \"builds\""));
        assert!(
            Manifest::parse(br#"{"builds":[{"chipFamily":"ESP32","parts":[{"path":"a"}]}]}"#)
                .unwrap_err()
                .contains("no usable \"offset\"")
        );
        assert!(Manifest::parse(b"not json")
            .unwrap_err()
            .contains("not valid JSON"));
    }
}
