//! Fingerprints of person sets: what makes noise a function of the persons
//! behind a number rather than of the question asked, and what lets the
//! differencing guard measure how far apart two released sets are.
//!
//! * A [`PersonTag`] is `HMAC-SHA256(secret, domain ‖ pseudonym)`, cut to
//!   64 bits (summed, and stored in the sketch with a 32-bit check that
//!   tells a cell holding one member from a mixed one). Without the secret
//!   nobody can compute or predict a tag.
//! * A [`SetPrint`] of a set `S` is `(|S|, Σ keys mod 2^64, IBLT(S))`, where
//!   the IBLT (invertible Bloom lookup table) has [`SKETCH_CELLS`] cells in
//!   three partitions; each member is added to one cell per partition. All
//!   three parts are *additive*: the print of a disjoint union is the sum
//!   of the prints ([`SetPrint::add`]), and the print of `B ∖ A` for
//!   `A ⊆ B` is their difference ([`SetPrint::minus`]) — so margins, totals
//!   and remainders get exact prints from their cells.
//! * [`SetPrint::distance`] decodes `IBLT(A) − IBLT(B)` by peeling and
//!   returns the exact size of the symmetric difference when it is at most
//!   [`MAX_DISTANCE`] (and `None` otherwise, or when decoding fails, which
//!   the guard treats as "far").

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::DisclosureError;

type HmacSha256 = Hmac<Sha256>;

const TAG_DOMAIN: &[u8] = b"halsohub/disclosure/person-tag/v1";

/// Cells per partition of the sketch.
pub const PARTITION_CELLS: usize = 10;
/// Partitions (hash functions) of the sketch.
pub const PARTITIONS: usize = 3;
/// Cells of the sketch: [`PARTITIONS`] × [`PARTITION_CELLS`].
pub const SKETCH_CELLS: usize = PARTITIONS * PARTITION_CELLS;
/// Largest symmetric difference [`SetPrint::distance`] reports.
pub const MAX_DISTANCE: u64 = 10;
/// Bytes of [`SetPrint::to_bytes`]: count, sum, then 16 bytes per cell.
pub const SETPRINT_BYTES: usize = 16 + 16 * SKETCH_CELLS;

/// A person's secret tag (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PersonTag {
    /// Summed into the print and stored in the sketch.
    pub key: u64,
}

/// Computes [`PersonTag`]s under one secret.
#[derive(Clone)]
pub struct PersonTagger {
    mac: HmacSha256,
}

impl std::fmt::Debug for PersonTagger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonTagger(<secret>)")
    }
}

impl PersonTagger {
    /// A tagger under `secret` (derive it from the hub key, never publish).
    ///
    /// # Errors
    /// [`DisclosureError::EmptySecret`] for an empty secret.
    pub fn new(secret: &[u8]) -> Result<Self, DisclosureError> {
        if secret.is_empty() {
            return Err(DisclosureError::EmptySecret);
        }
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret)
            .map_err(|_| DisclosureError::EmptySecret)?;
        mac.update(&(TAG_DOMAIN.len() as u64).to_be_bytes());
        mac.update(TAG_DOMAIN);
        Ok(PersonTagger { mac })
    }

    /// The tag of the person with pseudonym bytes `person`.
    #[must_use]
    pub fn tag(&self, person: &[u8]) -> PersonTag {
        let mut mac = self.mac.clone();
        mac.update(&(person.len() as u64).to_be_bytes());
        mac.update(person);
        let d = mac.finalize().into_bytes();
        let mut k = [0u8; 8];
        for (dst, src) in k.iter_mut().zip(d.iter()) {
            *dst = *src;
        }
        PersonTag {
            key: u64::from_be_bytes(k),
        }
    }
}

/// One cell of the sketch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
struct SketchCell {
    count: i32,
    key: u64,
    check: u32,
}

/// The fingerprint of a set of persons (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SetPrint {
    count: u64,
    sum: u64,
    cells: Vec<SketchCell>,
}

impl Default for SetPrint {
    fn default() -> Self {
        SetPrint::empty()
    }
}

/// A fixed mix of the key (SplitMix64's finaliser): a cell holding one
/// member has `check == check_of(key)`; a mixed cell almost never does.
fn check_of(key: u64) -> u32 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as u32
}

fn cell_of(key: u64, partition: usize) -> usize {
    // Independent 20-bit slices of the (uniformly random) key.
    let slice = (key >> (partition * 20)) & 0xF_FFFF;
    partition * PARTITION_CELLS + (slice % PARTITION_CELLS as u64) as usize
}

impl SetPrint {
    /// The print of the empty set.
    #[must_use]
    pub fn empty() -> Self {
        SetPrint {
            count: 0,
            sum: 0,
            cells: vec![SketchCell::default(); SKETCH_CELLS],
        }
    }

    /// A print that knows only a count, no persons: its noise is keyed by
    /// the count alone (as MII keys noise by the true count). For numbers
    /// whose persons are unknown, and for tests of the table rules; a guard
    /// cannot measure distances between such prints.
    #[must_use]
    pub fn unkeyed(count: u64) -> Self {
        SetPrint {
            count,
            ..SetPrint::empty()
        }
    }

    /// The print of a set given by its members' tags (each once).
    #[must_use]
    pub fn of(tags: impl IntoIterator<Item = PersonTag>) -> Self {
        let mut p = SetPrint::empty();
        for t in tags {
            p.insert(t);
        }
        p
    }

    /// Adds one person (not already a member).
    pub fn insert(&mut self, t: PersonTag) {
        self.count = self.count.saturating_add(1);
        self.sum = self.sum.wrapping_add(t.key);
        for part in 0..PARTITIONS {
            if let Some(c) = self.cells.get_mut(cell_of(t.key, part)) {
                c.count = c.count.wrapping_add(1);
                c.key ^= t.key;
                c.check ^= check_of(t.key);
            }
        }
    }

    /// Number of persons.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of the members' tag keys, mod 2^64.
    #[must_use]
    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// The print of the union with a *disjoint* set.
    #[must_use]
    pub fn add(&self, other: &SetPrint) -> SetPrint {
        SetPrint {
            count: self.count.saturating_add(other.count),
            sum: self.sum.wrapping_add(other.sum),
            cells: self.combine_cells(other, i32::wrapping_add),
        }
    }

    /// The print of `self ∖ subset` for a `subset` of this set (a
    /// proportion's remainder). `None` when `subset` is larger.
    #[must_use]
    pub fn minus(&self, subset: &SetPrint) -> Option<SetPrint> {
        Some(SetPrint {
            count: self.count.checked_sub(subset.count)?,
            sum: self.sum.wrapping_sub(subset.sum),
            cells: self.combine_cells(subset, i32::wrapping_sub),
        })
    }

    /// The cells of a union (`count_op` adding) or a difference
    /// (subtracting): counts combined by `count_op`, keys and checks by
    /// XOR, which is its own inverse.
    fn combine_cells(&self, other: &SetPrint, count_op: fn(i32, i32) -> i32) -> Vec<SketchCell> {
        self.cells
            .iter()
            .zip(&other.cells)
            .map(|(a, b)| SketchCell {
                count: count_op(a.count, b.count),
                key: a.key ^ b.key,
                check: a.check ^ b.check,
            })
            .collect()
    }

    /// The exact size of the symmetric difference of the two sets when it
    /// is at most [`MAX_DISTANCE`]; `None` when it is larger (or the
    /// sketch cannot be decoded, which happens only for larger differences
    /// or with negligible probability).
    #[must_use]
    pub fn distance(&self, other: &SetPrint) -> Option<u64> {
        if self.count.abs_diff(other.count) > MAX_DISTANCE {
            return None;
        }
        if self.count == other.count && self.sum == other.sum && self.cells == other.cells {
            return Some(0);
        }
        let mut cells: Vec<SketchCell> = self
            .cells
            .iter()
            .zip(&other.cells)
            .map(|(a, b)| SketchCell {
                count: a.count.wrapping_sub(b.count),
                key: a.key ^ b.key,
                check: a.check ^ b.check,
            })
            .collect();
        let mut found = 0u64;
        let mut sum_a = 0u64; // keys only in self
        let mut sum_b = 0u64; // keys only in other
        let mut n_a = 0u64;
        let mut n_b = 0u64;
        loop {
            let pure = cells.iter().enumerate().find_map(|(i, c)| {
                ((c.count == 1 || c.count == -1)
                    && c.check == check_of(c.key)
                    && cell_of(c.key, i / PARTITION_CELLS) == i)
                    .then_some(*c)
            });
            let Some(c) = pure else { break };
            found += 1;
            if found > MAX_DISTANCE {
                return None;
            }
            if c.count == 1 {
                sum_a = sum_a.wrapping_add(c.key);
                n_a += 1;
            } else {
                sum_b = sum_b.wrapping_add(c.key);
                n_b += 1;
            }
            for p in 0..PARTITIONS {
                if let Some(x) = cells.get_mut(cell_of(c.key, p)) {
                    x.count = x.count.wrapping_sub(c.count);
                    x.key ^= c.key;
                    x.check ^= c.check;
                }
            }
        }
        let clear = cells
            .iter()
            .all(|c| c.count == 0 && c.key == 0 && c.check == 0);
        // The decoded difference must explain counts and sums exactly.
        let consistent = self.count.wrapping_sub(other.count) == n_a.wrapping_sub(n_b)
            && self.sum.wrapping_sub(other.sum) == sum_a.wrapping_sub(sum_b);
        (clear && consistent).then_some(found)
    }

    /// Fixed-size encoding ([`SETPRINT_BYTES`]) for storage.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SETPRINT_BYTES);
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.sum.to_be_bytes());
        for c in &self.cells {
            out.extend_from_slice(&c.count.to_be_bytes());
            out.extend_from_slice(&c.key.to_be_bytes());
            out.extend_from_slice(&c.check.to_be_bytes());
        }
        out
    }

    /// Decodes [`SetPrint::to_bytes`].
    ///
    /// # Errors
    /// [`DisclosureError::BadSetPrint`] when the length is wrong.
    pub fn from_bytes(b: &[u8]) -> Result<Self, DisclosureError> {
        if b.len() != SETPRINT_BYTES {
            return Err(DisclosureError::BadSetPrint {
                len: b.len(),
                expected: SETPRINT_BYTES,
            });
        }
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            if let Some(s) = b.get(i..i + 8) {
                a.copy_from_slice(s);
            }
            u64::from_be_bytes(a)
        };
        let u32_at = |i: usize| {
            let mut a = [0u8; 4];
            if let Some(s) = b.get(i..i + 4) {
                a.copy_from_slice(s);
            }
            u32::from_be_bytes(a)
        };
        let cells = (0..SKETCH_CELLS)
            .map(|i| {
                let o = 16 + 16 * i;
                SketchCell {
                    count: u32_at(o) as i32,
                    key: u64_at(o + 4),
                    check: u32_at(o + 12),
                }
            })
            .collect();
        Ok(SetPrint {
            count: u64_at(0),
            sum: u64_at(8),
            cells,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tags(range: std::ops::Range<u32>) -> Vec<PersonTag> {
        let t = PersonTagger::new(b"k").unwrap();
        range.map(|i| t.tag(&i.to_be_bytes())).collect()
    }

    #[test]
    fn prints_are_additive_and_encode() {
        let all = tags(0..50);
        let a = SetPrint::of(all[..20].iter().copied());
        let b = SetPrint::of(all[20..].iter().copied());
        let u = SetPrint::of(all.iter().copied());
        assert_eq!(a.add(&b), u);
        assert_eq!(u.minus(&a).unwrap(), b);
        assert!(a.minus(&u).is_none());
        assert_eq!(u.count(), 50);
        assert_eq!(SetPrint::from_bytes(&u.to_bytes()).unwrap(), u);
        assert!(SetPrint::from_bytes(&[0; 3]).is_err());
    }

    #[test]
    fn distance_is_exact_up_to_the_cap() {
        let all = tags(0..400);
        let base: Vec<PersonTag> = all[..200].to_vec();
        let p = SetPrint::of(base.iter().copied());
        assert_eq!(p.distance(&p), Some(0));
        let mut failures = 0;
        for d in 1..=MAX_DISTANCE as usize {
            for shift in 0..20 {
                // remove r members, add d - r others
                let r = (shift % (d + 1)).min(d);
                let mut s: Vec<PersonTag> = base[r..].to_vec();
                s.extend_from_slice(&all[200 + shift * 10..200 + shift * 10 + (d - r)]);
                let q = SetPrint::of(s.iter().copied());
                match p.distance(&q) {
                    Some(x) => assert_eq!(x, d as u64),
                    None => failures += 1,
                }
                assert_eq!(p.distance(&q), q.distance(&p));
            }
        }
        // small differences always decode
        for d in 1..=3usize {
            let q = SetPrint::of(base[d..].iter().copied());
            assert_eq!(p.distance(&q), Some(d as u64));
        }
        assert!(failures < 20, "{failures} of 200 sketches failed to decode");
        let far = SetPrint::of(all[..150].iter().copied());
        assert_eq!(p.distance(&far), None);
        let same_size = SetPrint::of(all[100..300].iter().copied());
        assert_eq!(p.distance(&same_size), None);
    }

    #[test]
    fn tags_are_keyed() {
        let a = PersonTagger::new(b"k1").unwrap().tag(b"p");
        let b = PersonTagger::new(b"k2").unwrap().tag(b"p");
        assert_ne!(a, b);
        assert!(PersonTagger::new(b"").is_err());
    }
}
