//! The differencing guard: a number whose set of persons lies within a few
//! persons of a set already released is answered with the earlier number.
//!
//! Differencing two released numbers whose sets differ by one person tells
//! whether that person is in the difference. Result-keyed noise makes two
//! *equal* sets answer alike, but two sets that differ by one person get
//! independent noise — an equality oracle. The guard closes it: before a
//! number is released, the released sets near it (*anchors*) are looked
//! up; when one is within `radius` persons (symmetric difference), the
//! earlier number is returned instead of a new one.
//!
//! The decision must not leak the distance, so it is noisy (the
//! sparse-vector technique): with `d` the distance to the chosen anchor,
//! the number *snaps* to it when `d + ν ≤ radius + ρ`, where `ν` and `ρ`
//! are Laplace noise (scale [`GuardPolicy::scale`]) drawn afresh for every
//! distinct set. The anchor is chosen by a noisy minimum
//! (`argmin d_i + Laplace`) among the anchors whose distance is known
//! exactly (size prefilter, then the sketch's decoding —
//! [`SetPrint::distance`]). An anchor at distance 0 (the same persons) is
//! always taken, preferring one released as suppressed: a suppressed number
//! stays suppressed in every later form.
//!
//! The decision noise is a keyed function of the set (and, for the noisy
//! minimum, of the candidate anchor): `HMAC-SHA256(secret, set ‖ purpose)`.
//! Every distinct set gets its own independent draw, but asking the same
//! set again — a repeat, or any rewrite standing on the same persons —
//! draws the same noise, so repeating a question re-rolls nothing: with
//! per-request randomness, an attacker could repeat a query that snapped
//! until one decision happens not to snap, and the differing answer would
//! tell the distance. Only new anchors near a set can change its answer.
//!
//! Only numbers released fresh (not snapped) become anchors, and numbers
//! released as suppressed (they must stay suppressed). Within one answer
//! the numbers are decided in a fixed order (cells, row margins, column
//! margins, total; funnel steps in order), each fresh one becoming an
//! anchor for the next.
//!
//! The randomness is derived from the secret alone, so the crate stays
//! free of I/O and a decision can be replayed in a test.

use std::collections::{BTreeMap, HashMap};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::DisclosureError;
use crate::noise::{laplace_from_uniform, uniform_of};
use crate::setprint::{MAX_DISTANCE, SetPrint};

type HmacSha256 = Hmac<Sha256>;

const DOMAIN: &[u8] = b"halsohub/disclosure/guard/v2";

/// Most anchors whose distance is decoded per decision (the nearest in
/// size first); bounds the cost of a number among many small ones.
pub const MAX_CANDIDATES: usize = 256;

/// How the guard decides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardPolicy {
    /// Sets within this many persons of an anchor snap to it (before
    /// noise). At most [`MAX_DISTANCE`] − 2.
    pub radius: u64,
    /// Laplace scale of the decision noise `ν` and `ρ`.
    pub scale: f64,
    /// Guard against every user's anchors (collusion), not only the
    /// asking user's.
    pub shared: bool,
}

impl Default for GuardPolicy {
    /// Radius 6, decision scale 0.5, shared across users. With these a set
    /// one person away from an anchor fails to snap with probability
    /// `P(ν − ρ > 5)` ≈ 1.4·10⁻⁴, two persons away ≈ 8·10⁻⁴.
    fn default() -> Self {
        GuardPolicy {
            radius: 6,
            scale: 0.5,
            shared: true,
        }
    }
}

impl GuardPolicy {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`DisclosureError::InvalidProfile`] naming the field.
    pub fn validate(&self) -> Result<(), DisclosureError> {
        if self.radius + 2 > MAX_DISTANCE {
            return Err(DisclosureError::InvalidProfile {
                field: "guard.radius",
                reason: format!("{} is above the maximum {}", self.radius, MAX_DISTANCE - 2),
            });
        }
        if !(self.scale.is_finite() && self.scale > 0.0 && self.scale <= 10.0) {
            return Err(DisclosureError::InvalidProfile {
                field: "guard.scale",
                reason: format!("{} is not a number in (0, 10]", self.scale),
            });
        }
        Ok(())
    }

    /// Anchors worth loading for a set of `count` persons: those whose
    /// size lies within this many of it.
    #[must_use]
    pub fn size_window(&self) -> u64 {
        MAX_DISTANCE
    }
}

/// A released number the guard remembers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The persons behind it.
    pub print: SetPrint,
    /// Its noisy value before threshold and rounding.
    pub value: u64,
    /// Whether it was released suppressed.
    pub suppressed: bool,
}

/// How one number was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    /// The noisy value to release (before threshold and rounding).
    pub value: u64,
    /// Must be released suppressed (the anchor was).
    pub force_suppressed: bool,
    /// Index into the session's anchors: the anchor snapped to, or the new
    /// anchor this fresh number became.
    pub anchor: usize,
    /// True when the number snapped.
    pub snapped: bool,
}

/// The guard for one answer: the anchors near it, and what it adds.
#[derive(Clone)]
pub struct GuardSession {
    policy: GuardPolicy,
    mac: HmacSha256,
    anchors: Vec<Anchor>,
    /// Anchor indices by set size (the size prefilter).
    by_size: BTreeMap<u64, Vec<usize>>,
    /// Anchor index by (size, tag sum): the same persons (a suppressed one
    /// preferred).
    same: HashMap<(u64, u64), usize>,
    loaded: usize,
    /// Indices of anchors to store (new ones, or old ones now suppressed).
    dirty: Vec<usize>,
    snapped: usize,
    fresh: usize,
    sizes: Vec<u64>,
}

impl std::fmt::Debug for GuardSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardSession")
            .field("policy", &self.policy)
            .field("anchors", &self.anchors.len())
            .field("snapped", &self.snapped)
            .field("fresh", &self.fresh)
            .finish_non_exhaustive()
    }
}

impl GuardSession {
    /// A session over the `anchors` loaded for this answer, with decision
    /// noise keyed by `secret`.
    ///
    /// # Errors
    /// [`DisclosureError::EmptySecret`]; an invalid policy.
    pub fn new(
        policy: GuardPolicy,
        secret: &[u8],
        anchors: Vec<Anchor>,
    ) -> Result<Self, DisclosureError> {
        policy.validate()?;
        if secret.is_empty() {
            return Err(DisclosureError::EmptySecret);
        }
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret)
            .map_err(|_| DisclosureError::EmptySecret)?;
        mac.update(&(DOMAIN.len() as u64).to_be_bytes());
        mac.update(DOMAIN);
        let loaded = anchors.len();
        let mut session = GuardSession {
            policy,
            mac,
            anchors: Vec::with_capacity(loaded),
            by_size: BTreeMap::new(),
            same: HashMap::new(),
            loaded,
            dirty: Vec::new(),
            snapped: 0,
            fresh: 0,
            sizes: Vec::new(),
        };
        for a in anchors {
            session.push(a);
        }
        Ok(session)
    }

    fn push(&mut self, a: Anchor) -> usize {
        let i = self.anchors.len();
        let key = (a.print.count(), a.print.sum());
        let prefer = match self.same.get(&key).and_then(|j| self.anchors.get(*j)) {
            None => true,
            Some(b) => a.suppressed && !b.suppressed,
        };
        if prefer {
            self.same.insert(key, i);
        }
        self.by_size.entry(a.print.count()).or_default().push(i);
        self.anchors.push(a);
        i
    }

    /// Decision noise for `set`: `purpose` 0 is `ν`, 1 is `ρ`, 2 the noisy
    /// minimum's draw for the candidate `anchor`. A keyed function of the
    /// sets, so the same set always draws the same.
    fn laplace(&self, set: &SetPrint, purpose: u8, anchor: Option<&SetPrint>) -> f64 {
        let mut mac = self.mac.clone();
        mac.update(&set.count().to_be_bytes());
        mac.update(&set.sum().to_be_bytes());
        mac.update(&[purpose]);
        if let Some(a) = anchor {
            mac.update(&a.count().to_be_bytes());
            mac.update(&a.sum().to_be_bytes());
        }
        laplace_from_uniform(uniform_of(&mac.finalize().into_bytes()), self.policy.scale)
    }

    /// Decides one number whose fresh noisy value is `fresh`.
    pub(crate) fn decide(&mut self, print: &SetPrint, fresh: u64) -> Decision {
        let window = self.policy.size_window();
        self.sizes.push(print.count());
        let mut best: Option<(f64, u64, usize)> = None;
        let exact = self
            .same
            .get(&(print.count(), print.sum()))
            .copied()
            .filter(|i| {
                self.anchors
                    .get(*i)
                    .is_some_and(|a| a.print.distance(print) == Some(0))
            });
        let mut near: Vec<(u64, usize)> = Vec::new();
        if exact.is_none() {
            let lo = print.count().saturating_sub(window);
            let hi = print.count().saturating_add(window);
            // nearest sizes first, at most MAX_CANDIDATES sketches decoded
            let mut cands: Vec<(u64, usize)> = self
                .by_size
                .range(lo..=hi)
                .flat_map(|(size, ix)| ix.iter().map(move |i| (size.abs_diff(print.count()), *i)))
                .collect();
            cands.sort_unstable();
            for (_, i) in cands.into_iter().take(MAX_CANDIDATES) {
                if let Some(d) = self.anchors.get(i).and_then(|a| a.print.distance(print)) {
                    near.push((d, i));
                }
            }
        }
        if let Some(i) = exact {
            return self.snap(i);
        }
        for (d, i) in near {
            let jitter = self
                .anchors
                .get(i)
                .map_or(0.0, |a| self.laplace(print, 2, Some(&a.print)));
            let score = d as f64 + jitter;
            if best.is_none_or(|(s, _, _)| score < s) {
                best = Some((score, d, i));
            }
        }
        if let Some((_, d, i)) = best {
            let nu = self.laplace(print, 0, None);
            let rho = self.laplace(print, 1, None);
            if d as f64 + nu <= self.policy.radius as f64 + rho {
                return self.snap(i);
            }
        }
        self.fresh += 1;
        let i = self.push(Anchor {
            print: print.clone(),
            value: fresh,
            suppressed: false,
        });
        self.dirty.push(i);
        Decision {
            value: fresh,
            force_suppressed: false,
            anchor: i,
            snapped: false,
        }
    }

    fn snap(&mut self, i: usize) -> Decision {
        self.snapped += 1;
        let (value, suppressed) = self
            .anchors
            .get(i)
            .map_or((0, true), |a| (a.value, a.suppressed));
        Decision {
            value,
            force_suppressed: suppressed,
            anchor: i,
            snapped: true,
        }
    }

    /// Records that the number decided as `d` for `print` was released
    /// suppressed: a fresh anchor is marked; a number that snapped to an
    /// anchor shown becomes an anchor of its own, suppressed.
    pub(crate) fn released_suppressed(&mut self, d: &Decision, print: &SetPrint) {
        if !d.snapped {
            if let Some(a) = self.anchors.get_mut(d.anchor) {
                a.suppressed = true;
                let key = (a.print.count(), a.print.sum());
                self.same.insert(key, d.anchor);
            }
            return;
        }
        // Even when the anchor was suppressed too: this set's own anchor
        // keeps it suppressed whatever a later decision would choose.
        if self.same.contains_key(&(print.count(), print.sum()))
            && self
                .same
                .get(&(print.count(), print.sum()))
                .and_then(|j| self.anchors.get(*j))
                .is_some_and(|a| a.suppressed && a.print == *print)
        {
            return;
        }
        let i = self.push(Anchor {
            print: print.clone(),
            value: d.value,
            suppressed: true,
        });
        self.dirty.push(i);
    }

    /// Numbers that snapped to an anchor, and numbers released fresh.
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        (self.snapped, self.fresh)
    }

    /// The set sizes whose anchors matter for the numbers decided so far:
    /// merged inclusive ranges `size ± MAX_DISTANCE`. Run an answer once
    /// with an empty session to learn them, load the anchors in these
    /// ranges, then decide for real.
    #[must_use]
    pub fn size_ranges(&self) -> Vec<(u64, u64)> {
        let w = self.policy.size_window();
        let mut sizes = self.sizes.clone();
        sizes.sort_unstable();
        let mut out: Vec<(u64, u64)> = Vec::new();
        for s in sizes {
            let (lo, hi) = (s.saturating_sub(w), s.saturating_add(w));
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        out
    }

    /// The anchors this answer adds, to be stored.
    #[must_use]
    pub fn new_anchors(&self) -> Vec<Anchor> {
        self.dirty
            .iter()
            .filter(|i| **i >= self.loaded)
            .filter_map(|i| self.anchors.get(*i).cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::setprint::{PersonTag, PersonTagger};

    fn tags(n: u32) -> Vec<PersonTag> {
        let t = PersonTagger::new(b"k").unwrap();
        (0..n).map(|i| t.tag(&i.to_be_bytes())).collect()
    }

    /// A session whose decision noise is keyed by `seed` (independent
    /// draws for different seeds).
    fn session(anchors: Vec<Anchor>, seed: u32) -> GuardSession {
        GuardSession::new(
            GuardPolicy::default(),
            format!("guard {seed}").as_bytes(),
            anchors,
        )
        .unwrap()
    }

    #[test]
    fn near_sets_snap_far_sets_do_not() {
        let t = tags(400);
        let base = SetPrint::of(t[..100].iter().copied());
        let anchor = Anchor {
            print: base.clone(),
            value: 97,
            suppressed: false,
        };
        let mut snapped_at_1 = 0;
        let mut snapped_far = 0;
        for seed in 0..500 {
            let mut s = session(vec![anchor.clone()], seed);
            let one_more = SetPrint::of(t[..101].iter().copied());
            let d = s.decide(&one_more, 102);
            if d.snapped {
                assert_eq!(d.value, 97);
                snapped_at_1 += 1;
            }
            let far = SetPrint::of(t[200..300].iter().copied());
            if s.decide(&far, 99).snapped {
                snapped_far += 1;
            }
        }
        assert!(
            snapped_at_1 >= 495,
            "{snapped_at_1} of 500 snapped at distance 1"
        );
        assert_eq!(snapped_far, 0);
    }

    #[test]
    fn the_same_set_always_snaps_and_stays_suppressed() {
        let t = tags(50);
        let p = SetPrint::of(t[..20].iter().copied());
        let mut s = session(
            vec![
                Anchor {
                    print: p.clone(),
                    value: 20,
                    suppressed: false,
                },
                Anchor {
                    print: p.clone(),
                    value: 20,
                    suppressed: true,
                },
            ],
            1,
        );
        let d = s.decide(&p, 20);
        assert!(d.snapped && d.force_suppressed);
        assert!(s.new_anchors().is_empty());
    }

    #[test]
    fn fresh_numbers_become_anchors_for_the_next() {
        let t = tags(50);
        let mut s = session(Vec::new(), 2);
        let a = SetPrint::of(t[..30].iter().copied());
        let d = s.decide(&a, 31);
        assert!(!d.snapped);
        let b = SetPrint::of(t[..29].iter().copied());
        let e = s.decide(&b, 25);
        assert!(e.snapped && e.value == 31);
        s.released_suppressed(&e, &b);
        let new = s.new_anchors();
        assert_eq!(new.len(), 2);
        assert!(new[1].suppressed && new[1].print == b);
        assert_eq!(s.counts(), (1, 1));
        assert_eq!(s.size_ranges(), vec![(19, 40)]);
    }

    /// A repeat draws the same decision noise: asking a set again (in a
    /// new answer, against the same anchors) gives the same decision, so
    /// repeating cannot re-roll a snap. Different sets draw independently.
    #[test]
    fn repeats_decide_alike_and_distinct_sets_independently() {
        let t = tags(600);
        let base = SetPrint::of(t[..100].iter().copied());
        // A radius of 2 puts distance 2 at the edge (snaps half the time).
        let policy = GuardPolicy {
            radius: 2,
            ..GuardPolicy::default()
        };
        let anchors = vec![Anchor {
            print: base.clone(),
            value: 100,
            suppressed: false,
        }];
        let mut snapped = 0;
        for k in 0..200 {
            // base minus persons k, plus person 100 + k: distance 2
            let mut near: Vec<PersonTag> = t[..100].to_vec();
            near.remove(k % 100);
            near.push(t[100 + k]);
            let p = SetPrint::of(near);
            let first = GuardSession::new(policy, b"g", anchors.clone())
                .unwrap()
                .decide(&p, 99);
            for _ in 0..5 {
                let again = GuardSession::new(policy, b"g", anchors.clone())
                    .unwrap()
                    .decide(&p, 99);
                assert_eq!(again.snapped, first.snapped);
                assert_eq!(again.value, first.value);
            }
            snapped += usize::from(first.snapped);
        }
        assert!(
            (60..=140).contains(&snapped),
            "{snapped} of 200 distinct sets at the edge snapped"
        );
    }

    #[test]
    fn policy_is_validated() {
        let mut p = GuardPolicy {
            radius: 50,
            ..GuardPolicy::default()
        };
        assert!(p.validate().is_err());
        p.radius = 2;
        p.scale = f64::NAN;
        assert!(p.validate().is_err());
    }
}
