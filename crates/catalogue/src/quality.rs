//! Data-quality metrics per source and load, in the Kahn framework the
//! OHDSI Data Quality Dashboard uses: conformance, completeness,
//! plausibility and timeliness.
//!
//! The caller measures a [`LoadObservation`] (from the load report, the
//! quarantine and the snapshot's Parquet); [`assess`] turns it into
//! [`Metric`]s, each with its value, threshold, pass / fail and an
//! explanation. The explanation states shares only; the defect counts
//! behind them ([`Metric::findings`]) are detail for the source's data
//! holder and the data stewards, and [`QualityReport::public`] drops them.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::description::{DescriptionError, FileFormat, Issue, parse_text};

/// A Kahn data-quality dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Values conform to their code system, unit and format rules.
    Conformance,
    /// Values are present.
    Completeness,
    /// Values are believable (ranges, order of life events).
    Plausibility,
    /// Data arrive soon after the events they record.
    Timeliness,
}

impl Dimension {
    /// All four, in order.
    pub const ALL: [Dimension; 4] = [
        Dimension::Conformance,
        Dimension::Completeness,
        Dimension::Plausibility,
        Dimension::Timeliness,
    ];

    /// Lower-case name (`conformance`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Conformance => "conformance",
            Dimension::Completeness => "completeness",
            Dimension::Plausibility => "plausibility",
            Dimension::Timeliness => "timeliness",
        }
    }
}

/// Configurable thresholds (YAML / JSON; unknown keys refused). Shares
/// are 0–1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Least share of rows read that must be accepted.
    pub conformance: f64,
    /// Least share of rows with a value, per variable.
    pub completeness: f64,
    /// Least share of checked rows that must pass each plausibility check.
    pub plausibility: f64,
    /// Most days from event to load (median) that count as timely.
    pub timeliness_days: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            conformance: 0.99,
            completeness: 0.95,
            plausibility: 0.995,
            timeliness_days: 400.0,
        }
    }
}

/// Why thresholds are unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("quality threshold {name} = {value}: {reason}")]
pub struct ThresholdError {
    /// Which threshold.
    pub name: &'static str,
    /// Its value.
    pub value: f64,
    /// Why it is refused.
    pub reason: &'static str,
}

impl Thresholds {
    /// Read thresholds from a YAML or JSON file (`*.json`); keys left out
    /// keep their defaults.
    ///
    /// # Errors
    /// [`DescriptionError`] naming the file, the field and why.
    pub fn read(path: &std::path::Path) -> Result<Thresholds, DescriptionError> {
        let text = std::fs::read_to_string(path).map_err(|source| DescriptionError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        let t: Thresholds = parse_text(&text, FileFormat::from_path(path), path)?;
        t.validate().map_err(|e| DescriptionError::Invalid {
            file: path.to_path_buf(),
            issues: vec![Issue {
                path: format!("$.{}", e.name),
                reason: e.reason.to_string(),
            }],
        })?;
        Ok(t)
    }

    /// Check every value is in range.
    ///
    /// # Errors
    /// [`ThresholdError`] for the first value out of range.
    pub fn validate(&self) -> Result<(), ThresholdError> {
        for (name, value) in [
            ("conformance", self.conformance),
            ("completeness", self.completeness),
            ("plausibility", self.plausibility),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ThresholdError {
                    name,
                    value,
                    reason: "must be a share between 0 and 1",
                });
            }
        }
        if !(self.timeliness_days.is_finite() && self.timeliness_days >= 0.0) {
            return Err(ThresholdError {
                name: "timeliness_days",
                value: self.timeliness_days,
                reason: "must be a number of days, 0 or more",
            });
        }
        Ok(())
    }
}

/// A variable's filled and total rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct VariableObservation {
    /// Column name.
    pub name: String,
    /// Rows with a value.
    pub present: u64,
    /// Rows.
    pub total: u64,
}

/// One plausibility check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PlausibilityObservation {
    /// Check id (`event_after_death`, `event_before_birth`, …).
    pub check: String,
    /// What it checks, in words.
    pub description: String,
    /// Rows checked.
    pub checked: u64,
    /// Rows that failed.
    pub failed: u64,
}

/// What the caller measured for one source in one load.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct LoadObservation {
    /// The source (`par_inpatient`).
    pub source: String,
    /// The load: the snapshot it committed.
    pub load: String,
    /// When the load was committed.
    pub loaded_at: DateTime<Utc>,
    /// Rows read from the source's files in this load.
    pub rows_read: u64,
    /// Rows accepted.
    pub rows_accepted: u64,
    /// Quarantined rows per reason.
    pub quarantined: BTreeMap<String, u64>,
    /// Accepted rows holding a code not in the loaded code lists (kept and
    /// flagged).
    pub rows_with_unknown_codes: u64,
    /// Per-variable presence.
    pub variables: Vec<VariableObservation>,
    /// Plausibility checks.
    pub plausibility: Vec<PlausibilityObservation>,
    /// Median days between an event and this load, if events have dates.
    pub median_lag_days: Option<f64>,
}

/// Which way a threshold bounds a value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Threshold {
    /// The value must be at least this.
    AtLeast(f64),
    /// The value must be at most this.
    AtMost(f64),
}

impl Threshold {
    fn passes(self, v: f64) -> bool {
        match self {
            Threshold::AtLeast(t) => v >= t,
            Threshold::AtMost(t) => v <= t,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::AtLeast(t) => write!(f, "at least {}", pct(*t)),
            Threshold::AtMost(t) => write!(f, "at most {t} days"),
        }
    }
}

/// A defect count behind a metric (for data holders and stewards only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Finding {
    /// The reason (`quarantine` reason code or check id).
    pub reason: String,
    /// Rows affected.
    pub rows: u64,
}

/// One measured metric.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Metric {
    /// Stable id, e.g. `conformance.rows_accepted`,
    /// `completeness.code`, `plausibility.event_after_death`.
    pub id: String,
    /// Kahn dimension.
    pub dimension: Dimension,
    /// The measured value (a share 0–1, or days for timeliness).
    pub value: f64,
    /// The threshold it is held to.
    pub threshold: Threshold,
    /// Whether it meets the threshold.
    pub passed: bool,
    /// What was measured and how it compares, in shares (no counts).
    pub explanation: String,
    /// The defect counts behind it (empty in the public view).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
}

/// The metrics of one source in one load.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct QualityReport {
    /// The source.
    pub source: String,
    /// The load (snapshot id).
    pub load: String,
    /// When the load was committed.
    pub loaded_at: DateTime<Utc>,
    /// Every metric, conformance first.
    pub metrics: Vec<Metric>,
}

impl QualityReport {
    /// The report without defect counts: what the public catalogue shows.
    #[must_use]
    pub fn public(&self) -> QualityReport {
        QualityReport {
            metrics: self
                .metrics
                .iter()
                .map(|m| Metric {
                    findings: Vec::new(),
                    ..m.clone()
                })
                .collect(),
            ..self.clone()
        }
    }

    /// Share of metrics passed per dimension (dimensions measured only).
    #[must_use]
    pub fn summary(&self) -> BTreeMap<Dimension, (usize, usize)> {
        let mut out = BTreeMap::new();
        for m in &self.metrics {
            let e = out.entry(m.dimension).or_insert((0, 0));
            e.1 += 1;
            if m.passed {
                e.0 += 1;
            }
        }
        out
    }
}

fn pct(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part.min(whole) as f64 / whole as f64
    }
}

/// Measure one source's load against the thresholds.
#[must_use]
pub fn assess(obs: &LoadObservation, t: &Thresholds) -> QualityReport {
    let mut metrics = Vec::new();

    // Conformance: rows accepted of rows read; the quarantine's reasons.
    let v = ratio(obs.rows_accepted, obs.rows_read);
    let threshold = Threshold::AtLeast(t.conformance);
    let mut reasons: Vec<(&String, &u64)> = obs.quarantined.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let reason_names: Vec<&str> = reasons.iter().map(|(r, _)| r.as_str()).collect();
    let explanation = if obs.rows_read == 0 {
        "No rows were read from this source in this load.".to_string()
    } else if reasons.is_empty() {
        format!(
            "{} of the rows read were accepted; none was quarantined (threshold: {threshold}).",
            pct(v)
        )
    } else {
        format!(
            "{} of the rows read were accepted; the others were quarantined for: {} (threshold: {threshold}).",
            pct(v),
            reason_names.join(", ")
        )
    };
    metrics.push(Metric {
        id: "conformance.rows_accepted".into(),
        dimension: Dimension::Conformance,
        value: v,
        threshold,
        passed: threshold.passes(v),
        explanation,
        findings: reasons
            .iter()
            .map(|(r, n)| Finding {
                reason: (*r).clone(),
                rows: **n,
            })
            .collect(),
    });

    // Conformance: accepted rows whose codes are all known to their code
    // system's lists.
    if obs.rows_accepted > 0 {
        let unknown = obs.rows_with_unknown_codes.min(obs.rows_accepted);
        let v = ratio(obs.rows_accepted - unknown, obs.rows_accepted);
        let threshold = Threshold::AtLeast(t.conformance);
        metrics.push(Metric {
            id: "conformance.codes_known".into(),
            dimension: Dimension::Conformance,
            value: v,
            threshold,
            passed: threshold.passes(v),
            explanation: format!(
                "{} of the accepted rows hold only codes known to their code system's lists; the others were kept and flagged (threshold: {threshold}).",
                pct(v)
            ),
            findings: if unknown > 0 {
                vec![Finding {
                    reason: "unknown_code".into(),
                    rows: unknown,
                }]
            } else {
                Vec::new()
            },
        });
    }

    // Completeness: share of rows with a value, per variable.
    let threshold = Threshold::AtLeast(t.completeness);
    for var in &obs.variables {
        let v = ratio(var.present, var.total);
        let missing = var.total.saturating_sub(var.present.min(var.total));
        metrics.push(Metric {
            id: format!("completeness.{}", var.name),
            dimension: Dimension::Completeness,
            value: v,
            threshold,
            passed: threshold.passes(v),
            explanation: format!(
                "{} of the rows have a value for {} (threshold: {threshold}).",
                pct(v),
                var.name
            ),
            findings: if missing > 0 {
                vec![Finding {
                    reason: format!("missing {}", var.name),
                    rows: missing,
                }]
            } else {
                Vec::new()
            },
        });
    }

    // Plausibility: share of checked rows passing each check.
    let threshold = Threshold::AtLeast(t.plausibility);
    for check in &obs.plausibility {
        let failed = check.failed.min(check.checked);
        let v = ratio(check.checked - failed, check.checked);
        metrics.push(Metric {
            id: format!("plausibility.{}", check.check),
            dimension: Dimension::Plausibility,
            value: v,
            threshold,
            passed: threshold.passes(v),
            explanation: format!(
                "{} of the rows checked pass: {} (threshold: {threshold}).",
                pct(v),
                check.description
            ),
            findings: if failed > 0 {
                vec![Finding {
                    reason: check.check.clone(),
                    rows: failed,
                }]
            } else {
                Vec::new()
            },
        });
    }

    // Timeliness: median days from event to load.
    if let Some(days) = obs.median_lag_days {
        let threshold = Threshold::AtMost(t.timeliness_days);
        metrics.push(Metric {
            id: "timeliness.median_lag_days".into(),
            dimension: Dimension::Timeliness,
            value: days,
            threshold,
            passed: threshold.passes(days),
            explanation: format!(
                "Half of the events were loaded within {days:.0} days of their date (threshold: {threshold})."
            ),
            findings: Vec::new(),
        });
    }

    QualityReport {
        source: obs.source.clone(),
        load: obs.load.clone(),
        loaded_at: obs.loaded_at,
        metrics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn obs(read: u64, accepted: u64, quarantined: &[(&str, u64)]) -> LoadObservation {
        LoadObservation {
            source: "lab_region_1".into(),
            load: "snap-2".into(),
            loaded_at: Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap(),
            rows_read: read,
            rows_accepted: accepted,
            quarantined: quarantined
                .iter()
                .map(|(r, n)| ((*r).to_string(), *n))
                .collect(),
            rows_with_unknown_codes: accepted / 100,
            variables: vec![
                VariableObservation {
                    name: "code".into(),
                    present: accepted,
                    total: accepted,
                },
                VariableObservation {
                    name: "unit".into(),
                    present: accepted * 9 / 10,
                    total: accepted,
                },
            ],
            plausibility: vec![PlausibilityObservation {
                check: "event_after_death".into(),
                description: "events dated after the person's death".into(),
                checked: accepted,
                failed: 2,
            }],
            median_lag_days: Some(35.0),
        }
    }

    #[test]
    fn a_defective_load_scores_lower_and_says_why() {
        let t = Thresholds::default();
        let clean = assess(&obs(10_000, 10_000, &[]), &t);
        let bad = assess(
            &obs(
                10_000,
                9_000,
                &[("unit_unknown", 700), ("code_invalid", 300)],
            ),
            &t,
        );
        let conf = |r: &QualityReport| r.metrics[0].clone();
        assert!(conf(&clean).passed);
        assert_eq!(conf(&clean).value, 1.0);
        assert!(!conf(&bad).passed);
        assert_eq!(conf(&bad).value, 0.9);
        assert!(
            conf(&bad)
                .explanation
                .contains("quarantined for: unit_unknown, code_invalid"),
            "{}",
            conf(&bad).explanation
        );
        assert_eq!(
            conf(&bad).findings,
            vec![
                Finding {
                    reason: "unit_unknown".into(),
                    rows: 700
                },
                Finding {
                    reason: "code_invalid".into(),
                    rows: 300
                }
            ]
        );
        let unit = bad
            .metrics
            .iter()
            .find(|m| m.id == "completeness.unit")
            .unwrap();
        assert!(!unit.passed);
        assert_eq!(unit.value, 0.9);
        let timely = bad.metrics.last().unwrap();
        assert_eq!(timely.dimension, Dimension::Timeliness);
        assert!(timely.passed);
    }

    #[test]
    fn unknown_codes_lower_conformance() {
        let r = assess(&obs(10_000, 10_000, &[]), &Thresholds::default());
        let m = r
            .metrics
            .iter()
            .find(|m| m.id == "conformance.codes_known")
            .unwrap();
        assert_eq!(m.value, 0.99);
        assert!(m.passed);
        assert_eq!(m.findings[0].rows, 100);
        let strict = Thresholds {
            conformance: 0.995,
            ..Thresholds::default()
        };
        assert!(!assess(&obs(10_000, 10_000, &[]), &strict).metrics[1].passed);
    }

    #[test]
    fn the_public_view_has_no_counts() {
        let r = assess(
            &obs(100, 90, &[("code_invalid", 10)]),
            &Thresholds::default(),
        );
        assert!(r.metrics.iter().any(|m| !m.findings.is_empty()));
        let p = r.public();
        assert!(p.metrics.iter().all(|m| m.findings.is_empty()));
        let json = serde_json::to_string(&p).unwrap();
        assert!(!json.contains("findings"), "{json}");
        for m in &p.metrics {
            assert!(!m.explanation.contains(" 10 "), "{}", m.explanation);
        }
    }

    #[test]
    fn thresholds_are_configurable_and_checked() {
        let t: Thresholds =
            serde_json::from_str(r#"{"conformance": 0.8, "timeliness_days": 30}"#).unwrap();
        assert_eq!(t.completeness, Thresholds::default().completeness);
        t.validate().unwrap();
        let r = assess(&obs(100, 90, &[("code_invalid", 10)]), &t);
        assert!(r.metrics[0].passed);
        assert!(!r.metrics.last().unwrap().passed);
        let bad = Thresholds {
            completeness: 1.5,
            ..Thresholds::default()
        };
        assert_eq!(bad.validate().unwrap_err().name, "completeness");
        assert!(serde_json::from_str::<Thresholds>(r#"{"conformity": 0.8}"#).is_err());
    }

    #[test]
    fn thresholds_read_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("thresholds.yaml");
        std::fs::write(&path, "conformance: 0.9\ntimeliness_days: 30\n").unwrap();
        let t = Thresholds::read(&path).unwrap();
        assert_eq!(t.conformance, 0.9);
        assert_eq!(t.completeness, Thresholds::default().completeness);
        std::fs::write(&path, "plausibility: 2\n").unwrap();
        let e = Thresholds::read(&path).unwrap_err().to_string();
        assert!(
            e.contains("thresholds.yaml") && e.contains("$.plausibility"),
            "{e}"
        );
    }

    #[test]
    fn summary_counts_passes_per_dimension() {
        let r = assess(&obs(100, 100, &[]), &Thresholds::default());
        let s = r.summary();
        assert_eq!(s[&Dimension::Conformance], (2, 2));
        assert_eq!(s[&Dimension::Completeness], (1, 2));
        assert_eq!(s[&Dimension::Plausibility], (0, 1));
        assert_eq!(s[&Dimension::Timeliness], (1, 1));
    }
}
