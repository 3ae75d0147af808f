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
pub use protect::{ProtectError, protect, protect_guarded};

/// The secret that keys person tags ([`halsohub_disclosure::PersonTagger`]):
/// its own domain, so tags cannot be derived from the noise secret.
#[must_use]
pub fn tag_secret(key: &HubKey) -> Vec<u8> {
    Pseudonymiser::new(key)
        .source_scoped("halsohub/disclosure-person-tags", "v1")
        .to_hex_bytes()
        .to_vec()
}

/// The secret that keys the differencing guard's decision noise.
#[must_use]
pub fn guard_secret(key: &HubKey) -> Vec<u8> {
    Pseudonymiser::new(key)
        .source_scoped("halsohub/disclosure-guard", "v1")
        .to_hex_bytes()
        .to_vec()
}

/// How many numbers answering `query` releases, from its shape alone
/// (never from the data, so charging it reveals nothing): 1 for a count;
/// one per funnel step (the index included); 3 for a proportion
/// (numerator, remainder, denominator); every cell of the complete key
/// grid, every margin and the total for strata and time series.
#[must_use]
pub fn release_cost(query: &halsohub_cohort::Query, grid: &KeyGrid<'_>) -> u64 {
    use halsohub_cohort::reference::periods;
    let bands = halsohub_cohort::validate::age_bands_of(&query.output);
    let none = BTreeSet::new();
    let keys = |d: halsohub_cohort::Dimension| grid.keys(d, &bands, &none).len() as u64;
    match &query.output {
        Output::Count {} => 1,
        Output::Funnel {} => query.criteria.len() as u64 + u64::from(query.index.is_some()),
        Output::Proportion { .. } => 3,
        Output::Strata { by, .. } => match by.as_slice() {
            [d] => keys(*d) + 1,
            [a, b] => {
                let (r, c) = (keys(*a), keys(*b));
                r * c + r + c + 1
            }
            other => other.iter().map(|d| keys(*d)).product::<u64>() + 1,
        },
        Output::TimeSeries {
            from,
            to,
            interval,
            by,
            ..
        } => {
            let n = periods(*from, *to, *interval).len() as u64;
            match by {
                None => n + 1,
                Some(d) => {
                    let c = keys(*d);
                    n * c + n + c + 1
                }
            }
        }
    }
}

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
