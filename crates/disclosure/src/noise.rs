//! Deterministic Laplace noise keyed by (hub secret, query, snapshot, cell).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::DisclosureError;

type HmacSha256 = Hmac<Sha256>;

/// Domain separation: noise keys cannot collide with pseudonyms or any other
/// HMAC the hub computes under a related secret.
const DOMAIN: &[u8] = b"halsohub/disclosure/noise/v1";

/// Where a release comes from: what makes its noise deterministic.
///
/// The noise for a number is derived from
/// `HMAC-SHA256(secret, DOMAIN ‖ query_hash ‖ snapshot_id ‖ cell)` (each
/// part length-prefixed), so repeating the same query on the same snapshot
/// returns the very same noisy numbers — averaging repeats gains nothing —
/// while a different query, snapshot or cell gets independent noise.
#[derive(Clone, Copy)]
pub struct Release<'a> {
    /// Hub secret bytes (derive a dedicated key from the hub key; never
    /// publish it). Only read when the profile adds noise.
    pub secret: &'a [u8],
    /// Canonical hash of the query (equal for queries that mean the same).
    pub query_hash: &'a str,
    /// Identifier of the snapshot the counts come from.
    pub snapshot_id: &'a str,
}

impl std::fmt::Debug for Release<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Release")
            .field("secret", &"<redacted>")
            .field("query_hash", &self.query_hash)
            .field("snapshot_id", &self.snapshot_id)
            .finish()
    }
}

/// A keyed noise source, prepared once per release.
#[derive(Clone)]
pub(crate) struct NoiseSource {
    prefixed: HmacSha256,
    scale: f64,
}

fn update_framed(mac: &mut HmacSha256, bytes: &[u8]) {
    mac.update(&(bytes.len() as u64).to_be_bytes());
    mac.update(bytes);
}

impl NoiseSource {
    pub(crate) fn new(release: &Release<'_>, scale: f64) -> Result<Self, DisclosureError> {
        if release.secret.is_empty() {
            return Err(DisclosureError::EmptySecret);
        }
        if release.query_hash.is_empty() {
            return Err(DisclosureError::EmptyContext("query hash"));
        }
        if release.snapshot_id.is_empty() {
            return Err(DisclosureError::EmptyContext("snapshot id"));
        }
        // HMAC accepts keys of any length; the error branch is unreachable
        // but handled without panicking.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(release.secret)
            .map_err(|_| DisclosureError::EmptySecret)?;
        update_framed(&mut mac, DOMAIN);
        update_framed(&mut mac, release.query_hash.as_bytes());
        update_framed(&mut mac, release.snapshot_id.as_bytes());
        Ok(NoiseSource {
            prefixed: mac,
            scale,
        })
    }

    /// Uniform number in the open interval (0, 1) for a cell.
    fn uniform(&self, cell: &str) -> f64 {
        let mut mac = self.prefixed.clone();
        update_framed(&mut mac, cell.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        for (dst, src) in first.iter_mut().zip(digest.iter()) {
            *dst = *src;
        }
        // 52 bits, so that `bits + 0.5` is exact in an f64 and u < 1.
        let bits = u64::from_be_bytes(first) >> 12;
        (bits as f64 + 0.5) / (1u64 << 52) as f64
    }

    /// Laplace(0, scale) noise for a cell, by inverse CDF.
    pub(crate) fn laplace(&self, cell: &str) -> f64 {
        laplace_from_uniform(self.uniform(cell), self.scale)
    }

    /// Applies the noise to a count: `max(0, round_half_up(n + noise))`.
    pub(crate) fn apply(&self, n: u64, cell: &str) -> u64 {
        let noisy = n as f64 + self.laplace(cell);
        if noisy.is_nan() || noisy <= 0.0 {
            0
        } else {
            // Saturating float→int conversion; `floor(x + 0.5)` = ties up.
            (noisy + 0.5).floor() as u64
        }
    }
}

/// Inverse CDF of Laplace(0, b) at u ∈ (0, 1).
fn laplace_from_uniform(u: f64, b: f64) -> f64 {
    let d = u - 0.5;
    // 1 - 2|d| lies in (0, 1] for u in (0, 1): ln is finite.
    let x = -b * d.signum() * (1.0 - 2.0 * d.abs()).ln();
    // Unreachable for u in (0, 1); keep the noise finite regardless.
    if x.is_finite() { x } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(q: &str, s: &str) -> NoiseSource {
        NoiseSource::new(
            &Release {
                secret: b"secret",
                query_hash: q,
                snapshot_id: s,
            },
            2.0,
        )
        .unwrap()
    }

    #[test]
    fn noise_is_deterministic_and_keyed() {
        let a = source("q1", "s1");
        assert_eq!(
            a.laplace("count").to_bits(),
            source("q1", "s1").laplace("count").to_bits()
        );
        assert_ne!(a.laplace("count"), source("q2", "s1").laplace("count"));
        assert_ne!(a.laplace("count"), source("q1", "s2").laplace("count"));
        assert_ne!(a.laplace("count"), a.laplace("cell/0"));
        let other_secret = NoiseSource::new(
            &Release {
                secret: b"other",
                query_hash: "q1",
                snapshot_id: "s1",
            },
            2.0,
        )
        .unwrap();
        assert_ne!(a.laplace("count"), other_secret.laplace("count"));
        // framing: ("q1","s1") and ("q1s","1") must not collide
        assert_ne!(a.laplace("count"), source("q1s", "1").laplace("count"));
    }

    #[test]
    fn laplace_inverse_cdf_is_finite_and_symmetric() {
        let lo = 0.5 / (1u64 << 52) as f64;
        for u in [lo, 0.25, 0.5, 0.75, 1.0 - lo] {
            assert!(laplace_from_uniform(u, 2.0).is_finite());
        }
        assert_eq!(laplace_from_uniform(0.5, 2.0), 0.0);
        let a = laplace_from_uniform(0.2, 2.0);
        let b = laplace_from_uniform(0.8, 2.0);
        assert!((a + b).abs() < 1e-12);
        // median of |X| for Laplace(0, b) is b ln 2
        assert!((laplace_from_uniform(0.75, 2.0) - 2.0 * 2f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn noise_has_the_laplace_scale() {
        let s = source("q", "s");
        let n = 20_000;
        let mean_abs: f64 = (0..n)
            .map(|i| s.laplace(&format!("c{i}")).abs())
            .sum::<f64>()
            / n as f64;
        // E|X| = b = 2 for Laplace(0, 2); 20k samples: s.e. ≈ 0.014
        assert!((mean_abs - 2.0).abs() < 0.1, "mean |noise| {mean_abs}");
        let positive = (0..n).filter(|i| s.laplace(&format!("c{i}")) > 0.0).count();
        assert!((positive as f64 / n as f64 - 0.5).abs() < 0.02);
    }

    #[test]
    fn applied_noise_is_monotone_and_clamped_at_zero() {
        let s = source("q", "s");
        let mut clamped = 0;
        for i in 0..2000 {
            let cell = format!("c{i}");
            let raw = s.laplace(&cell);
            if raw < -0.5 {
                assert_eq!(s.apply(0, &cell), 0);
                clamped += 1;
            }
            // same cell, larger count: never a smaller noisy count
            assert!(s.apply(0, &cell) <= s.apply(3, &cell));
            assert!(s.apply(3, &cell) <= s.apply(100, &cell));
        }
        assert!(clamped > 0, "negative noise occurs and is clamped");
    }

    #[test]
    fn empty_context_is_refused() {
        let r = Release {
            secret: b"",
            query_hash: "q",
            snapshot_id: "s",
        };
        assert_eq!(
            NoiseSource::new(&r, 1.0).err(),
            Some(DisclosureError::EmptySecret)
        );
        let r = Release {
            secret: b"k",
            query_hash: "",
            snapshot_id: "s",
        };
        assert!(NoiseSource::new(&r, 1.0).is_err());
        assert!(format!("{r:?}").contains("<redacted>"));
    }
}
