//! The flasher stub as esptool ships it: JSON with base64 `text`/`data` segments, their load
//! addresses and the entry point. esp-flasher-stub v1.4.1 (MIT OR Apache-2.0) comes from the
//! pinned esptool 5.6.0 sdist on PyPI (scripts/setup.sh); it is never committed. One per chip:
//! the loader picks it once it knows the chip ([`Stubs`]).

use crate::chips::Chip;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/stubs.rs"));
}

/// Fetches the stub for a chip (the page: from its own origin).
pub type FetchStub =
    Rc<dyn Fn(&'static Chip) -> Pin<Box<dyn Future<Output = Result<StubImage, String>>>>>;

/// Where the flasher stub for the detected chip comes from.
#[derive(Clone, Default)]
pub enum Stubs {
    /// The ROM loader only.
    #[default]
    None,
    /// The stubs built into this binary.
    Embedded,
    /// Fetched once the chip is known.
    Fetch(FetchStub),
}

impl std::fmt::Debug for Stubs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stubs::None => "Stubs::None",
            Stubs::Embedded => "Stubs::Embedded",
            Stubs::Fetch(_) => "Stubs::Fetch",
        })
    }
}

impl Stubs {
    /// The stub for `chip`, or why there is none (None: the ROM loader was asked for).
    pub async fn get(&self, chip: &'static Chip) -> Option<Result<StubImage, String>> {
        match self {
            Stubs::None => None,
            Stubs::Embedded => Some(StubImage::embedded(chip).ok_or_else(|| {
                format!(
                    "no {} flasher stub in this build (run scripts/setup.sh)",
                    chip.pretty
                )
            })),
            Stubs::Fetch(f) => Some(f(chip).await),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StubImage {
    pub entry: u32,
    pub segments: Vec<(u32, Vec<u8>)>,
}

impl StubImage {
    pub fn from_json(text: &str) -> Result<StubImage, String> {
        use crate::formats::json::{self, Value};
        let v = json::parse(text).map_err(|e| format!("stub JSON: {e}"))?;
        let num = |k: &str| -> Result<u32, String> {
            v.get(k)
                .and_then(Value::as_f64)
                .filter(|n| *n >= 0.0 && *n <= u32::MAX as f64)
                .map(|n| n as u32)
                .ok_or_else(|| format!("stub JSON: no number \"{k}\""))
        };
        let b64 = |k: &str| v.get(k).and_then(Value::as_str).map(base64);
        let text_seg = b64("text").ok_or("stub JSON: no \"text\"")??;
        let mut segments = vec![(num("text_start")?, text_seg)];
        if let (Some(d), Ok(at)) = (b64("data"), num("data_start")) {
            segments.push((at, d?));
        }
        Ok(StubImage {
            entry: num("entry")?,
            segments,
        })
    }

    /// The stub for `chip` built into this binary (native builds made after scripts/setup.sh).
    pub fn embedded(chip: &Chip) -> Option<StubImage> {
        embedded::EMBEDDED
            .iter()
            .find(|(name, _)| *name == chip.name)
            .and_then(|(_, json)| Self::from_json(json).ok())
    }

    pub fn len(&self) -> usize {
        self.segments.iter().map(|(_, d)| d.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Standard base64 (with padding), as the stub JSON uses.
pub fn base64(s: &str) -> Result<Vec<u8>, String> {
    let val = |c: u8| -> Result<u32, String> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("bad base64 character {:?}", c as char)),
        } as u32)
    };
    let clean: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if !clean.len().is_multiple_of(4) {
        return Err("base64 length is not a multiple of 4".into());
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    for q in clean.chunks(4) {
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = n << 6 | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes() {
        assert_eq!(base64("T0hBSQ==").unwrap(), b"OHAI");
        assert_eq!(base64("YWJj").unwrap(), b"abc");
        assert_eq!(base64("YQ==").unwrap(), b"a");
        assert!(base64("YQ=").is_err());
        let s = StubImage::from_json(r#"{"entry": 16, "text": "AAEC", "text_start": 1073741824, "data": "AwQ=", "data_start": 1073479680, "bss_start": 0}"#).unwrap();
        assert_eq!(
            s.segments,
            vec![(0x4000_0000, vec![0, 1, 2]), (0x3FFC_0000, vec![3, 4])]
        );
        assert_eq!(s.len(), 5);
    }

    #[test]
    fn embedded_stub_when_set_up() {
        // scripts/setup.sh (which scripts/test.sh runs first) fetches esp-flasher-stub.
        let s = StubImage::embedded(crate::chips::ESP32)
            .expect("no embedded stub: run scripts/setup.sh");
        assert_eq!(s.segments.len(), 2);
        assert!(s.len() > 4000 && s.len() < 64 * 1024, "{}", s.len());
        assert!((0x4000_0000..0x4010_0000).contains(&s.entry));
    }
}
