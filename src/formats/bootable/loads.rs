//! Whether each app slot of a table loads, as far as known — all the otadata editor needs of
//! what the slots hold — and a plain form of it (words) to hand it to a module of its own.

use super::{ImageProblem, Loads, Slots, TooBig};
use crate::chips::Chip;
use crate::formats::partition::Partition;
use std::collections::BTreeMap;

/// Whether the slot at each offset loads (a slot not in it: unknown).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotLoads(BTreeMap<u32, Loads>);

impl SlotLoads {
    pub fn loads(&self, p: &Partition) -> Loads {
        self.0.get(&p.offset).cloned().unwrap_or(Loads::Unknown)
    }

    /// Each slot as words: its offset, then "yes", "unknown", or "no" and the problem's words.
    pub fn to_words(&self) -> Vec<Vec<String>> {
        self.0
            .iter()
            .map(|(o, l)| {
                let mut w = vec![o.to_string()];
                match l {
                    Loads::Yes => w.push("yes".into()),
                    Loads::Unknown => w.push("unknown".into()),
                    Loads::No(p) => {
                        w.push("no".into());
                        w.extend(p.to_words());
                    }
                }
                w
            })
            .collect()
    }

    /// Back from [`SlotLoads::to_words`] (what is not understood is unknown).
    pub fn from_words(rows: &[Vec<String>]) -> SlotLoads {
        let mut m = BTreeMap::new();
        for r in rows {
            let Some(offset) = r.first().and_then(|o| o.parse().ok()) else {
                continue;
            };
            let l = match r.get(1).map(String::as_str) {
                Some("yes") => Loads::Yes,
                Some("no") => ImageProblem::from_words(&r[2..]).map_or(Loads::Unknown, Loads::No),
                _ => Loads::Unknown,
            };
            m.insert(offset, l);
        }
        SlotLoads(m)
    }
}

impl From<&Slots> for SlotLoads {
    fn from(s: &Slots) -> SlotLoads {
        SlotLoads(s.0.iter().map(|(o, i)| (*o, i.loads())).collect())
    }
}

impl ImageProblem {
    /// The problem as words: its kind, then its numbers (and names).
    pub fn to_words(&self) -> Vec<String> {
        let n = |x: u64| x.to_string();
        let (kind, args): (&str, Vec<String>) = match self {
            ImageProblem::Erased => ("erased", vec![]),
            ImageProblem::NoImage { first_byte } => ("no-image", vec![n(*first_byte as u64)]),
            ImageProblem::WrongChip {
                image_chip_id,
                chip,
            } => (
                "wrong-chip",
                vec![n(*image_chip_id as u64), chip.name.to_string()],
            ),
            ImageProblem::ChipTooOld { min, chip_rev } => {
                ("too-old", vec![n(*min as u64), n(*chip_rev as u64)])
            }
            ImageProblem::ChipTooNew { max, chip_rev } => {
                ("too-new", vec![n(*max as u64), n(*chip_rev as u64)])
            }
            ImageProblem::TooManySegments(k) => ("segments", vec![n(*k as u64)]),
            ImageProblem::BadSegmentLength { index, len } => {
                ("segment-length", vec![n(*index as u64), n(*len as u64)])
            }
            ImageProblem::MisalignedSegment {
                index,
                load_addr,
                data_at,
            } => (
                "misaligned",
                vec![n(*index as u64), n(*load_addr as u64), n(*data_at as u64)],
            ),
            ImageProblem::TooBigForSlot(t) => {
                let mut v = vec![n(t.len), n(t.slot as u64)];
                v.extend(t.label.clone());
                ("too-big", v)
            }
            ImageProblem::Truncated { needs, have } => ("truncated", vec![n(*needs), n(*have)]),
            ImageProblem::NotAnApp => ("not-an-app", vec![]),
            ImageProblem::Checksum { stored, computed } => {
                ("checksum", vec![n(*stored as u64), n(*computed as u64)])
            }
            ImageProblem::Digest => ("digest", vec![]),
            ImageProblem::Unsigned => ("unsigned", vec![]),
        };
        std::iter::once(kind.to_string()).chain(args).collect()
    }

    /// Back from [`ImageProblem::to_words`].
    pub fn from_words(w: &[String]) -> Option<ImageProblem> {
        let num = |i: usize| -> Option<u64> { w.get(i)?.parse().ok() };
        let small = |i: usize| -> Option<u32> { num(i)?.try_into().ok() };
        Some(match w.first()?.as_str() {
            "erased" => ImageProblem::Erased,
            "no-image" => ImageProblem::NoImage {
                first_byte: num(1)?.try_into().ok()?,
            },
            "wrong-chip" => ImageProblem::WrongChip {
                image_chip_id: num(1)?.try_into().ok()?,
                chip: Chip::by_name(w.get(2)?)?,
            },
            "too-old" => ImageProblem::ChipTooOld {
                min: num(1)?.try_into().ok()?,
                chip_rev: num(2)?.try_into().ok()?,
            },
            "too-new" => ImageProblem::ChipTooNew {
                max: num(1)?.try_into().ok()?,
                chip_rev: num(2)?.try_into().ok()?,
            },
            "segments" => ImageProblem::TooManySegments(num(1)?.try_into().ok()?),
            "segment-length" => ImageProblem::BadSegmentLength {
                index: num(1)? as usize,
                len: small(2)?,
            },
            "misaligned" => ImageProblem::MisalignedSegment {
                index: num(1)? as usize,
                load_addr: small(2)?,
                data_at: small(3)?,
            },
            "too-big" => ImageProblem::TooBigForSlot(TooBig {
                len: num(1)?,
                slot: small(2)?,
                label: w.get(3).cloned(),
            }),
            "truncated" => ImageProblem::Truncated {
                needs: num(1)?,
                have: num(2)?,
            },
            "not-an-app" => ImageProblem::NotAnApp,
            "checksum" => ImageProblem::Checksum {
                stored: num(1)?.try_into().ok()?,
                computed: num(2)?.try_into().ok()?,
            },
            "digest" => ImageProblem::Digest,
            "unsigned" => ImageProblem::Unsigned,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every problem comes back from its words as it was (the page hands them to the otadata
    /// editor's module this way).
    #[test]
    fn every_problem_and_slot_comes_back_from_its_words() {
        let all = [
            ImageProblem::Erased,
            ImageProblem::NoImage { first_byte: 0x12 },
            ImageProblem::WrongChip {
                image_chip_id: 5,
                chip: crate::chips::ESP32,
            },
            ImageProblem::ChipTooOld {
                min: 300,
                chip_rev: 100,
            },
            ImageProblem::ChipTooNew {
                max: 99,
                chip_rev: 301,
            },
            ImageProblem::TooManySegments(17),
            ImageProblem::BadSegmentLength {
                index: 2,
                len: u32::MAX,
            },
            ImageProblem::MisalignedSegment {
                index: 1,
                load_addr: 0x3f40_0020,
                data_at: 0x18,
            },
            ImageProblem::TooBigForSlot(TooBig {
                len: 2 << 20,
                slot: 0x140000,
                label: Some("app0".into()),
            }),
            ImageProblem::TooBigForSlot(TooBig {
                len: 2 << 20,
                slot: 0x140000,
                label: None,
            }),
            ImageProblem::Truncated { needs: 10, have: 3 },
            ImageProblem::NotAnApp,
            ImageProblem::Checksum {
                stored: 1,
                computed: 2,
            },
            ImageProblem::Digest,
            ImageProblem::Unsigned,
        ];
        for p in &all {
            assert_eq!(ImageProblem::from_words(&p.to_words()).as_ref(), Some(p));
        }
        let mut m = BTreeMap::new();
        m.insert(0x10000, Loads::Yes);
        m.insert(0x150000, Loads::No(all[8].clone()));
        m.insert(0x290000, Loads::Unknown);
        let s = SlotLoads(m);
        assert_eq!(SlotLoads::from_words(&s.to_words()), s);
    }
}
