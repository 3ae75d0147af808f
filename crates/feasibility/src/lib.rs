//! Protected feasibility results — the one implementation shared by
//! `POST /api/v1/feasibility` (crate `halsohub-server`) and
//! `halsohub count` (the binary), so the two always release the same
//! numbers for the same query and snapshot.
//!
//! * [`protect`] passes every number of a [`halsohub_cohort::QueryResult`]
//!   through a disclosure [`Profile`]: the count, each funnel step, every
//!   stratum with its margins and total, numerator and denominator, every
//!   period of a time series.
//! * Strata and split time series are released over a complete
//!   [`KeyGrid`] (every sex, age band, region and provider the engine
//!   knows, every year of the snapshot, and `unknown`), so that an absent
//!   cell cannot reveal a zero.
//! * [`noise_secret`] derives the secret that keys deterministic noise from
//!   the hub key (one derivation for every channel).
//! * [`protections`] summarises, for the query log, the profile and the
//!   precision of each kind of number released; [`output_kind`] names the
//!   output.
//!
//! The released shape is [`ProtectedOutput`] (serde, with utoipa schemas for
//! the OpenAPI document). Pure: no I/O.

mod grid;
mod output;
mod protect;

use std::collections::{BTreeMap, BTreeSet};

use halsohub_cohort::Output;
use halsohub_disclosure::Profile;
use halsohub_identity::{HubKey, Pseudonymiser};

pub use grid::KeyGrid;
pub use output::{
    FunnelStepOut, MarginOut, Number, NumberPrecision, PointOut, ProfileInfo, ProtectedOutput,
    StratumOut,
};
pub use protect::{ProtectError, protect};

/// The secret that keys deterministic noise: a keyed hash of the hub key in
/// its own domain (the key itself is never used directly).
#[must_use]
pub fn noise_secret(key: &HubKey) -> Vec<u8> {
    Pseudonymiser::new(key)
        .source_scoped("halsohub/disclosure-noise", "v1")
        .to_hex_bytes()
        .to_vec()
}

/// The output's name as logged: `count`, `funnel`, `strata`, `proportion`
/// or `time_series`.
#[must_use]
pub fn output_kind(o: &Output) -> &'static str {
    match o {
        Output::Count {} => "count",
        Output::Funnel {} => "funnel",
        Output::Strata { .. } => "strata",
        Output::Proportion { .. } => "proportion",
        Output::TimeSeries { .. } => "time_series",
    }
}

/// What the query log records about the protections: the profile and, per
/// kind of number (`count`, `step`, `cell`, `margin`, `total`, ...), the
/// precisions released.
#[must_use]
pub fn protections(profile: &Profile, output: &ProtectedOutput) -> serde_json::Value {
    let mut precision: BTreeMap<&str, BTreeSet<NumberPrecision>> = BTreeMap::new();
    for (kind, n) in output.numbers() {
        precision.entry(kind).or_default().insert(n.precision);
    }
    serde_json::json!({
        "profile": ProfileInfo::from(profile),
        "precision": precision,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn noise_secret_is_per_key_and_repeatable() {
        let a = HubKey::from_bytes([1; 32]);
        let b = HubKey::from_bytes([2; 32]);
        assert_eq!(noise_secret(&a), noise_secret(&HubKey::from_bytes([1; 32])));
        assert_ne!(noise_secret(&a), noise_secret(&b));
        assert_eq!(noise_secret(&a).len(), 32);
        // not the key itself
        assert_ne!(noise_secret(&a), vec![1u8; 32]);
    }

    #[test]
    fn output_kinds() {
        let q = |o: &str| {
            halsohub_cohort::parse_json(
                &format!(r#"{{"version": 1, "output": {o}}}"#),
                &halsohub_cohort::CodeLists::new(),
            )
            .unwrap()
        };
        assert_eq!(output_kind(&q(r#"{"type": "count"}"#).output), "count");
        assert_eq!(output_kind(&Output::Funnel {}), "funnel");
        assert_eq!(
            output_kind(&q(r#"{"type": "strata", "by": ["sex"], "at": "2024-01-01"}"#).output),
            "strata"
        );
    }
}
