//! Disclosure profiles: which threshold, rounding and noise apply to an audience.

use serde::{Deserialize, Serialize};

use crate::error::DisclosureError;

/// Smallest accepted Laplace ε. Below it the noise (scale `1/ε`) would drown
/// every count; a profile asking for it is almost certainly a typo.
pub const MIN_EPSILON: f64 = 0.01;
/// Largest accepted Laplace ε (noise scale 0.01 — effectively none).
pub const MAX_EPSILON: f64 = 100.0;
/// Largest accepted threshold and rounding base.
pub const MAX_PARAMETER: u64 = 1_000_000;

/// Laplace noise added to every count before thresholding and rounding.
///
/// The sensitivity of a patient count is 1, so the noise scale is `1/ε`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaplaceNoise {
    /// Privacy parameter ε (smaller = more noise), within
    /// [`MIN_EPSILON`]..=[`MAX_EPSILON`].
    pub epsilon: f64,
}

impl LaplaceNoise {
    /// Scale `b = 1/ε` of the Laplace distribution.
    #[must_use]
    pub fn scale(&self) -> f64 {
        1.0 / self.epsilon
    }
}

/// A disclosure profile: the rules applied to every number released to one
/// audience. Construct with [`Profile::new`], a built-in
/// ([`Profile::feasibility`], [`Profile::noisy`], [`Profile::strict`],
/// [`Profile::exact`], [`Profile::builtin`]) or deserialize (validated).
///
/// For one count `n` the rules are, in order:
/// 1. with noise: `n' = max(0, round_half_up(n + Laplace(1/ε)))`, the noise
///    drawn deterministically (see [`crate::Release`]); without: `n' = n`;
/// 2. `n' < threshold` → suppressed, shown as `"<threshold"`;
/// 3. otherwise shown as `n'` rounded to the nearest multiple of `rounding`
///    (ties up), and never below the smallest multiple of `rounding` that is
///    at least `threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ProfileSpec", into = "ProfileSpec")]
pub struct Profile {
    name: String,
    threshold: u64,
    rounding: u64,
    noise: Option<LaplaceNoise>,
}

/// Serialized form of a [`Profile`], validated on the way in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileSpec {
    name: String,
    threshold: u64,
    rounding: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    noise: Option<LaplaceNoise>,
}

impl TryFrom<ProfileSpec> for Profile {
    type Error = DisclosureError;
    fn try_from(s: ProfileSpec) -> Result<Self, Self::Error> {
        Profile::new(s.name, s.threshold, s.rounding, s.noise)
    }
}

impl From<Profile> for ProfileSpec {
    fn from(p: Profile) -> Self {
        ProfileSpec {
            name: p.name,
            threshold: p.threshold,
            rounding: p.rounding,
            noise: p.noise,
        }
    }
}

/// Names of the built-in profiles, for [`Profile::builtin`].
pub const BUILTIN_PROFILES: [&str; 5] = ["feasibility", "rounded", "noisy", "strict", "exact"];

impl Profile {
    /// Builds a validated profile.
    ///
    /// # Errors
    /// [`DisclosureError::InvalidProfile`] when the name is empty, `rounding`
    /// is 0, a parameter exceeds [`MAX_PARAMETER`] or ε is not a finite
    /// number within [`MIN_EPSILON`]..=[`MAX_EPSILON`].
    pub fn new(
        name: impl Into<String>,
        threshold: u64,
        rounding: u64,
        noise: Option<LaplaceNoise>,
    ) -> Result<Self, DisclosureError> {
        let name = name.into();
        let invalid =
            |field: &'static str, reason: String| DisclosureError::InvalidProfile { field, reason };
        if name.trim().is_empty() {
            return Err(invalid("name", "must not be empty".into()));
        }
        if rounding == 0 {
            return Err(invalid(
                "rounding",
                "must be at least 1 (1 = no rounding)".into(),
            ));
        }
        if rounding > MAX_PARAMETER {
            return Err(invalid(
                "rounding",
                format!("{rounding} is above the maximum {MAX_PARAMETER}"),
            ));
        }
        if threshold > MAX_PARAMETER {
            return Err(invalid(
                "threshold",
                format!("{threshold} is above the maximum {MAX_PARAMETER}"),
            ));
        }
        if let Some(n) = noise
            && !(n.epsilon.is_finite() && (MIN_EPSILON..=MAX_EPSILON).contains(&n.epsilon))
        {
            return Err(invalid(
                "noise.epsilon",
                format!(
                    "{} is not a number within {MIN_EPSILON}..={MAX_EPSILON}",
                    n.epsilon
                ),
            ));
        }
        Ok(Profile {
            name,
            threshold,
            rounding,
            noise,
        })
    }

    /// Default for feasibility counts: Laplace noise with ε = 0.5 (scale
    /// 2) keyed by the set of persons behind each number, then counts below
    /// 5 shown as `"<5"` and all others rounded to the nearest 5. (Rounding
    /// alone is broken by tracker differencing; see `docs/disclosure.md`.)
    #[must_use]
    pub fn feasibility() -> Self {
        Profile {
            name: "feasibility".into(),
            threshold: 5,
            rounding: 5,
            noise: Some(LaplaceNoise { epsilon: 0.5 }),
        }
    }

    /// Rounding without noise: counts below 5 shown as `"<5"`, all others
    /// rounded to the nearest 5 (the default before tracker attacks were
    /// shown to break it). Only for trusted audiences: differencing
    /// overlapping queries defeats rounding.
    #[must_use]
    pub fn rounded() -> Self {
        Profile {
            name: "rounded".into(),
            threshold: 5,
            rounding: 5,
            noise: None,
        }
    }

    /// Laplace noise with ε = 0.5 (scale 2),
    /// drawn deterministically from the hub secret and the set of persons
    /// behind each number (not from the query).
    #[must_use]
    pub fn noisy() -> Self {
        Profile {
            name: "noisy".into(),
            threshold: 5,
            rounding: 5,
            noise: Some(LaplaceNoise { epsilon: 0.5 }),
        }
    }

    /// Strict: threshold 10 (ACRO), rounding to 10 and Laplace noise ε = 0.5
    /// (German MII feasibility). For open, unauthenticated audiences.
    #[must_use]
    pub fn strict() -> Self {
        Profile {
            name: "strict".into(),
            threshold: 10,
            rounding: 10,
            noise: Some(LaplaceNoise { epsilon: 0.5 }),
        }
    }

    /// Exact counts, no protection. Only for the local data steward
    /// (`halsohub count --exact`); never for anyone without a permit.
    #[must_use]
    pub fn exact() -> Self {
        Profile {
            name: "exact".into(),
            threshold: 0,
            rounding: 1,
            noise: None,
        }
    }

    /// A built-in profile by name (one of [`BUILTIN_PROFILES`]).
    #[must_use]
    pub fn builtin(name: &str) -> Option<Self> {
        match name {
            "feasibility" => Some(Self::feasibility()),
            "rounded" => Some(Self::rounded()),
            "noisy" => Some(Self::noisy()),
            "strict" => Some(Self::strict()),
            "exact" => Some(Self::exact()),
            _ => None,
        }
    }

    /// The profile's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts below this are suppressed (0 = nothing suppressed).
    #[must_use]
    pub fn threshold(&self) -> u64 {
        self.threshold
    }

    /// Shown counts are rounded to a multiple of this (1 = not rounded).
    #[must_use]
    pub fn rounding(&self) -> u64 {
        self.rounding
    }

    /// The noise, if any.
    #[must_use]
    pub fn noise(&self) -> Option<LaplaceNoise> {
        self.noise
    }

    /// True when the profile releases exact numbers (no threshold, rounding
    /// or noise). Such a profile must only serve the local data steward.
    #[must_use]
    pub fn is_exact(&self) -> bool {
        self.threshold == 0 && self.rounding == 1 && self.noise.is_none()
    }

    /// Smallest value that may be shown: the smallest multiple of
    /// `rounding` that is at least `threshold` (0 when threshold is 0).
    pub(crate) fn smallest_shown(&self) -> u64 {
        self.threshold.div_ceil(self.rounding) * self.rounding
    }

    /// Rounds an (already noised) value to the nearest multiple of
    /// `rounding`, ties up, and lifts it to [`Self::smallest_shown`].
    pub(crate) fn round(&self, v: u64) -> u64 {
        let b = self.rounding;
        let q = v / b;
        let r = v % b;
        // r*2 >= b ⇔ the upper multiple is at least as near (ties up).
        let nearest = if r.saturating_mul(2) >= b {
            q.saturating_add(1).saturating_mul(b)
        } else {
            q * b
        };
        nearest.max(self.smallest_shown())
    }
}

impl Default for Profile {
    fn default() -> Self {
        Self::feasibility()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_to_nearest_with_ties_up() {
        let p = Profile::new("t", 0, 10, None).unwrap();
        assert_eq!(p.round(14), 10);
        assert_eq!(p.round(15), 20);
        assert_eq!(p.round(16), 20);
        assert_eq!(p.round(0), 0);
        // saturates instead of overflowing
        assert_eq!(p.round(u64::MAX), u64::MAX);
        let f = Profile::feasibility();
        assert_eq!(
            (5..=13).map(|v| f.round(v)).collect::<Vec<_>>(),
            [5, 5, 5, 10, 10, 10, 10, 10, 15]
        );
    }

    #[test]
    fn shown_values_never_fall_below_the_threshold() {
        let p = Profile::new("opensafely-like", 8, 5, None).unwrap();
        assert_eq!(p.smallest_shown(), 10);
        assert_eq!(p.round(8), 10);
        let q = Profile::new("t6", 6, 5, None).unwrap();
        assert_eq!(q.round(6), 10);
    }

    #[test]
    fn invalid_profiles_are_rejected_with_the_field() {
        let e = Profile::new("x", 5, 0, None).unwrap_err();
        assert!(e.to_string().contains("rounding"), "{e}");
        let e = Profile::new("x", 5, 5, Some(LaplaceNoise { epsilon: f64::NAN })).unwrap_err();
        assert!(e.to_string().contains("epsilon"), "{e}");
        assert!(Profile::new(" ", 5, 5, None).is_err());
        assert!(Profile::new("x", MAX_PARAMETER + 1, 5, None).is_err());
    }

    #[test]
    fn serde_round_trip_and_validation() {
        for name in BUILTIN_PROFILES {
            let p = Profile::builtin(name).unwrap();
            let json = serde_json::to_string(&p).unwrap();
            let back: Profile = serde_json::from_str(&json).unwrap();
            assert_eq!(p, back);
        }
        let bad = r#"{"name":"x","threshold":5,"rounding":0}"#;
        let e = serde_json::from_str::<Profile>(bad).unwrap_err();
        assert!(e.to_string().contains("rounding"), "{e}");
        let unknown = r#"{"name":"x","threshold":5,"rounding":5,"colour":1}"#;
        assert!(serde_json::from_str::<Profile>(unknown).is_err());
        let noisy = r#"{"name":"x","threshold":5,"rounding":5,"noise":{"epsilon":1.0}}"#;
        let p: Profile = serde_json::from_str(noisy).unwrap();
        assert_eq!(p.noise(), Some(LaplaceNoise { epsilon: 1.0 }));
    }

    #[test]
    fn only_the_exact_profile_is_exact() {
        assert!(Profile::exact().is_exact());
        assert!(!Profile::feasibility().is_exact());
        assert!(!Profile::strict().is_exact());
        assert!(!Profile::noisy().is_exact());
        assert!(Profile::builtin("nope").is_none());
    }
}
