//! What an evaluation returns: exact numbers, named by snapshot and
//! canonical query hash. Protection (suppression, rounding, noise) is the
//! caller's job (`halsohub-disclosure`).

use halsohub_disclosure::SetPrint;
use serde::{Deserialize, Serialize};

use crate::query::{Dimension, Interval};

/// Upper bound on the number of non-empty cells a strata or time-series
/// output may have; more is an error rather than a flood of tiny cells.
pub const MAX_CELLS: usize = 10_000;

/// An exact result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryResult {
    /// Snapshot the data came from.
    pub snapshot: String,
    /// SHA-256 of the canonical query ([`crate::query_hash`]).
    pub query_hash: String,
    pub output: OutputResult,
    /// The fingerprint of the persons behind every number, in order: the
    /// cohort (count); each funnel step; numerator, then denominator; each
    /// stratum cell as in `output`; each series point as in `output`.
    /// Margins, totals and remainders are unions or differences of these
    /// (prints add up). Empty when the engine has no person tags
    /// ([`crate::Engine::set_person_tags`]). Never serialised: the prints
    /// are secret-derived and stay inside the hub.
    #[serde(skip)]
    pub prints: Vec<SetPrint>,
}

/// The numbers of one output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputResult {
    /// Unique patients in the cohort.
    Count { count: u64 },
    /// Patients remaining after each step (the index first, when defined).
    Funnel { steps: Vec<FunnelStep> },
    /// Non-empty cells, sorted by key; `total` is the cohort count.
    Strata {
        dimensions: Vec<Dimension>,
        cells: Vec<Cell>,
        total: u64,
    },
    /// `numerator` patients among `denominator` patients.
    Proportion { numerator: u64, denominator: u64 },
    /// Patients newly meeting the series event per period. Without a split
    /// every period appears (zeros included); with a split only non-empty
    /// cells appear. `total` counts the cohort patients in any period.
    TimeSeries {
        interval: Interval,
        by: Option<Dimension>,
        points: Vec<SeriesPoint>,
        total: u64,
    },
}

/// One funnel step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelStep {
    /// The step's label, or `index` / `step N` when it has none.
    pub label: String,
    /// `index`, `include` or `exclude`.
    pub kind: String,
    /// Patients remaining after this step.
    pub count: u64,
}

/// One stratum: one value per dimension (`unknown` when missing).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cell {
    pub key: Vec<String>,
    pub count: u64,
}

/// One period (`2024-03` or `2024`), optionally split.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeriesPoint {
    pub period: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub count: u64,
}

/// Why a valid query could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("$.output: {cells} cells exceed the limit of {limit}; use fewer or coarser dimensions")]
    TooManyCells { cells: usize, limit: usize },
    #[error("{0}")]
    Invalid(#[from] crate::validate::QueryError),
}
