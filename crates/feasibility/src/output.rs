//! The released shape of a feasibility result: every number as a
//! [`Number`] with its precision, strata over the complete key grid with
//! their margins, and the profile that protected them. Serialized as the
//! `output` of `POST /api/v1/feasibility` and the `result` of
//! `halsohub count --json`; the utoipa schemas document the API.

use halsohub_cohort::{Interval, OutputResult};
use halsohub_disclosure::{Precision, Profile, ProtectedValue};
use serde::Serialize;
use utoipa::ToSchema;

/// The profile as released with every answer.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProfileInfo {
    /// Profile name.
    pub name: String,
    /// Counts below this are shown as `"<threshold"` / `"suppressed"`.
    pub threshold: u64,
    /// Shown counts are multiples of this.
    pub rounding: u64,
    /// Laplace noise ε, when noise is added.
    pub noise_epsilon: Option<f64>,
}

impl From<&Profile> for ProfileInfo {
    fn from(p: &Profile) -> ProfileInfo {
        ProfileInfo {
            name: p.name().to_string(),
            threshold: p.threshold(),
            rounding: p.rounding(),
            noise_epsilon: p.noise().map(|n| n.epsilon),
        }
    }
}

/// How precise a released number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NumberPrecision {
    /// The true count (never over the API).
    Exact,
    /// Rounded to a multiple of `rounded_to`.
    Rounded,
    /// Noise added, then rounded.
    Noisy,
    /// Withheld.
    Suppressed,
}

/// One released number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Number {
    /// What to show: `"1235"`, `"<5"` or `"suppressed"`.
    pub display: String,
    /// The shown value; absent when suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    /// How precise `value` is.
    pub precision: NumberPrecision,
    /// Rounding base, when rounded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounded_to: Option<u64>,
    /// For a small count: it is below this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub below: Option<u64>,
}

impl Number {
    /// A true count, unprotected (the data steward's `--exact`).
    #[must_use]
    pub fn exact(n: u64) -> Number {
        Number {
            display: n.to_string(),
            value: Some(n),
            precision: NumberPrecision::Exact,
            rounded_to: None,
            below: None,
        }
    }
}

impl From<&ProtectedValue> for Number {
    fn from(v: &ProtectedValue) -> Number {
        Number {
            display: v.display().to_string(),
            value: v.value(),
            precision: match v.precision() {
                Precision::Exact => NumberPrecision::Exact,
                Precision::Rounded => NumberPrecision::Rounded,
                Precision::Noisy => NumberPrecision::Noisy,
                Precision::Suppressed => NumberPrecision::Suppressed,
            },
            rounded_to: v.rounded_to(),
            below: v.below(),
        }
    }
}

/// One funnel step.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FunnelStepOut {
    /// The step's label.
    pub label: String,
    /// `index`, `include` or `exclude`.
    pub kind: String,
    /// Patients remaining after the step.
    pub count: Number,
}

/// One stratum (one key per dimension).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StratumOut {
    /// One value per dimension (`unknown` when missing).
    pub key: Vec<String>,
    /// Patients.
    pub count: Number,
}

/// A margin of a two-way result: all patients with one value of one
/// dimension.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MarginOut {
    /// The dimension (`period` for a time series' periods).
    pub dimension: String,
    /// Its value.
    pub key: String,
    /// Patients.
    pub count: Number,
}

/// One period of a time series (optionally split).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PointOut {
    /// `2024-03` or `2024`.
    pub period: String,
    /// The split's value, when split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Patients newly meeting the event in the period.
    pub count: Number,
}

/// The protected numbers of one output.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProtectedOutput {
    /// Unique patients in the cohort.
    Count {
        /// Patients.
        count: Number,
    },
    /// Patients remaining after each step.
    Funnel {
        /// Steps in order.
        steps: Vec<FunnelStepOut>,
    },
    /// Patients per stratum over the complete grid of keys.
    Strata {
        /// Dimensions (one or two).
        dimensions: Vec<String>,
        /// Every stratum, zero cells included.
        cells: Vec<StratumOut>,
        /// With two dimensions: the totals per value of each.
        margins: Vec<MarginOut>,
        /// The cohort.
        total: Number,
    },
    /// Numerator within denominator.
    Proportion {
        /// Numerator patients.
        numerator: Number,
        /// Denominator patients.
        denominator: Number,
        /// Percentage from the shown numbers; absent when withheld.
        #[serde(skip_serializing_if = "Option::is_none")]
        percent: Option<f64>,
        /// `"42.5%"` or `"withheld"`.
        percent_display: String,
    },
    /// Patients newly meeting an event per period.
    TimeSeries {
        /// `month` or `year`.
        interval: String,
        /// The split dimension, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        /// Every period (and split value), zero cells included.
        points: Vec<PointOut>,
        /// With a split: totals per period and per split value.
        margins: Vec<MarginOut>,
        /// Patients in any period.
        total: Number,
    },
}

impl ProtectedOutput {
    /// The engine's numbers as they are, every one [`NumberPrecision::Exact`]:
    /// non-empty strata only, no margins, and no key grid. Only for the
    /// local data steward (`halsohub count --exact`); never released.
    #[must_use]
    pub fn exact(result: &OutputResult) -> ProtectedOutput {
        match result {
            OutputResult::Count { count } => ProtectedOutput::Count {
                count: Number::exact(*count),
            },
            OutputResult::Funnel { steps } => ProtectedOutput::Funnel {
                steps: steps
                    .iter()
                    .map(|s| FunnelStepOut {
                        label: s.label.clone(),
                        kind: s.kind.clone(),
                        count: Number::exact(s.count),
                    })
                    .collect(),
            },
            OutputResult::Strata {
                dimensions,
                cells,
                total,
            } => ProtectedOutput::Strata {
                dimensions: dimensions.iter().map(|d| d.as_str().to_string()).collect(),
                cells: cells
                    .iter()
                    .map(|c| StratumOut {
                        key: c.key.clone(),
                        count: Number::exact(c.count),
                    })
                    .collect(),
                margins: Vec::new(),
                total: Number::exact(*total),
            },
            OutputResult::Proportion {
                numerator,
                denominator,
            } => {
                let percent = (*denominator > 0)
                    .then(|| (*numerator as f64 * 100.0 / *denominator as f64).min(100.0));
                ProtectedOutput::Proportion {
                    numerator: Number::exact(*numerator),
                    denominator: Number::exact(*denominator),
                    percent,
                    percent_display: percent
                        .map_or_else(|| "withheld".to_string(), |p| format!("{p:.1}%")),
                }
            }
            OutputResult::TimeSeries {
                interval,
                by,
                points,
                total,
            } => ProtectedOutput::TimeSeries {
                interval: match interval {
                    Interval::Month => "month".into(),
                    Interval::Year => "year".into(),
                },
                by: by.map(|d| d.as_str().to_string()),
                points: points
                    .iter()
                    .map(|p| PointOut {
                        period: p.period.clone(),
                        key: p.key.clone(),
                        count: Number::exact(p.count),
                    })
                    .collect(),
                margins: Vec::new(),
                total: Number::exact(*total),
            },
        }
    }

    /// Every released number with its kind (`count`, `step`, `cell`, ...).
    pub fn numbers(&self) -> Vec<(&'static str, &Number)> {
        let mut out: Vec<(&'static str, &Number)> = Vec::new();
        match self {
            ProtectedOutput::Count { count } => out.push(("count", count)),
            ProtectedOutput::Funnel { steps } => {
                out.extend(steps.iter().map(|s| ("step", &s.count)));
            }
            ProtectedOutput::Strata {
                cells,
                margins,
                total,
                ..
            } => {
                out.extend(cells.iter().map(|c| ("cell", &c.count)));
                out.extend(margins.iter().map(|m| ("margin", &m.count)));
                out.push(("total", total));
            }
            ProtectedOutput::Proportion {
                numerator,
                denominator,
                ..
            } => {
                out.push(("numerator", numerator));
                out.push(("denominator", denominator));
            }
            ProtectedOutput::TimeSeries {
                points,
                margins,
                total,
                ..
            } => {
                out.extend(points.iter().map(|p| ("period", &p.count)));
                out.extend(margins.iter().map(|m| ("margin", &m.count)));
                out.push(("total", total));
            }
        }
        out
    }
}
