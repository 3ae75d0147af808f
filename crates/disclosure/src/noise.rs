//! Deterministic Laplace noise keyed by (hub secret, the set of persons
//! behind the number).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::DisclosureError;
use crate::setprint::SetPrint;

type HmacSha256 = Hmac<Sha256>;

/// Domain separation: noise keys cannot collide with pseudonyms, person
/// tags or any other HMAC the hub computes under a related secret.
const DOMAIN: &[u8] = b"halsohub/disclosure/noise/v2";

/// What keys a release's noise: the hub's noise secret.
///
/// The noise of a number is derived from `HMAC-SHA256(secret, DOMAIN ‖
/// |S| ‖ Σ tags(S))` — a function of the *set of persons* `S` behind the
/// number (its [`SetPrint`]) and nothing else. Every query, rewrite,
/// funnel step, stratum, series point, margin or later snapshot that
/// stands on the same persons gets the same noisy number, so rewriting a
/// question to average its noise away gains nothing.
#[derive(Clone, Copy)]
pub struct Release<'a> {
    /// Hub secret bytes (derive a dedicated key from the hub key; never
    /// publish it). Only read when the profile adds noise.
    pub secret: &'a [u8],
}

impl std::fmt::Debug for Release<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Release")
            .field("secret", &"<redacted>")
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

/// Uniform number in the open interval (0, 1) from the first 8 bytes.
pub(crate) fn uniform_of(digest: &[u8]) -> f64 {
    let mut first = [0u8; 8];
    for (dst, src) in first.iter_mut().zip(digest.iter()) {
        *dst = *src;
    }
    // 52 bits, so that `bits + 0.5` is exact in an f64 and u < 1.
    let bits = u64::from_be_bytes(first) >> 12;
    (bits as f64 + 0.5) / (1u64 << 52) as f64
}

impl NoiseSource {
    pub(crate) fn new(release: &Release<'_>, scale: f64) -> Result<Self, DisclosureError> {
        if release.secret.is_empty() {
            return Err(DisclosureError::EmptySecret);
        }
        // HMAC accepts keys of any length; the error branch is unreachable
        // but handled without panicking.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(release.secret)
            .map_err(|_| DisclosureError::EmptySecret)?;
        update_framed(&mut mac, DOMAIN);
        Ok(NoiseSource {
            prefixed: mac,
            scale,
        })
    }

    /// Uniform number in (0, 1) for a set.
    fn uniform(&self, set: &SetPrint) -> f64 {
        let mut mac = self.prefixed.clone();
        mac.update(&set.count().to_be_bytes());
        mac.update(&set.sum().to_be_bytes());
        uniform_of(&mac.finalize().into_bytes())
    }

    /// Laplace(0, scale) noise for a set, by inverse CDF.
    pub(crate) fn laplace(&self, set: &SetPrint) -> f64 {
        laplace_from_uniform(self.uniform(set), self.scale)
    }

    /// Applies the noise to a set's count: `max(0, round_half_up(n + noise))`.
    pub(crate) fn apply(&self, set: &SetPrint) -> u64 {
        let noisy = set.count() as f64 + self.laplace(set);
        if noisy.is_nan() || noisy <= 0.0 {
            0
        } else {
            // Saturating float→int conversion; `floor(x + 0.5)` = ties up.
            (noisy + 0.5).floor() as u64
        }
    }
}

/// Inverse CDF of Laplace(0, b) at u ∈ (0, 1).
pub(crate) fn laplace_from_uniform(u: f64, b: f64) -> f64 {
    let d = u - 0.5;
    // 1 - 2|d| lies in (0, 1] for u in (0, 1): ln is finite.
    let x = -b * d.signum() * (1.0 - 2.0 * d.abs()).ln();
    // Unreachable for u in (0, 1); keep the noise finite regardless.
    if x.is_finite() { x } else { 0.0 }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::setprint::{PersonTagger, SetPrint};

    fn source(secret: &[u8]) -> NoiseSource {
        NoiseSource::new(&Release { secret }, 2.0).unwrap()
    }

    fn set(range: std::ops::Range<u32>) -> SetPrint {
        let t = PersonTagger::new(b"tags").unwrap();
        SetPrint::of(range.map(|i| t.tag(&i.to_be_bytes())))
    }

    #[test]
    fn noise_is_a_function_of_the_set() {
        let a = source(b"secret");
        let s = set(0..30);
        assert_eq!(
            a.laplace(&s).to_bits(),
            source(b"secret").laplace(&set(0..30)).to_bits()
        );
        // same size, other persons: other noise
        assert_ne!(a.laplace(&s), a.laplace(&set(1..31)));
        assert_ne!(a.laplace(&s), source(b"other").laplace(&s));
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
        let s = source(b"q");
        let n = 5_000u32;
        let noise: Vec<f64> = (0..n).map(|i| s.laplace(&set(i..i + 3))).collect();
        let mean_abs = noise.iter().map(|x| x.abs()).sum::<f64>() / f64::from(n);
        // E|X| = b = 2 for Laplace(0, 2); 5k samples: s.e. ≈ 0.03
        assert!((mean_abs - 2.0).abs() < 0.15, "mean |noise| {mean_abs}");
        let positive = noise.iter().filter(|x| **x > 0.0).count();
        assert!((positive as f64 / f64::from(n) - 0.5).abs() < 0.03);
    }

    #[test]
    fn applied_noise_is_clamped_at_zero() {
        let s = source(b"q");
        let mut clamped = 0;
        for i in 0..500u32 {
            let p = set(i..i + 1);
            let raw = s.laplace(&p);
            if raw < -1.5 {
                assert_eq!(s.apply(&p), 0);
                clamped += 1;
            }
        }
        assert!(clamped > 0, "negative noise occurs and is clamped");
    }

    #[test]
    fn empty_secret_is_refused() {
        let r = Release { secret: b"" };
        assert_eq!(
            NoiseSource::new(&r, 1.0).err(),
            Some(DisclosureError::EmptySecret)
        );
        assert!(format!("{r:?}").contains("<redacted>"));
    }
}
