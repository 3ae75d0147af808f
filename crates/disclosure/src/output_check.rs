//! Output-check rules for released analysis outputs (secure workspace):
//! ACRO-style cell threshold, (n, k) dominance and p-percent, as pure
//! functions over one cell's contributions.

use serde::{Deserialize, Serialize};

/// Rules for checking one cell of an output table. Defaults are ACRO's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputRules {
    /// Minimum number of contributing units (persons) in a cell.
    pub threshold: u64,
    /// Dominance: the largest `dominance_n` units ...
    pub dominance_n: usize,
    /// ... may contribute at most this percentage of the cell total.
    pub dominance_k: f64,
    /// p-percent: the cell total minus the two largest contributions must be
    /// at least this percentage of the largest (else the second largest
    /// contributor can estimate the largest within p %).
    pub p_percent: f64,
}

impl Default for OutputRules {
    fn default() -> Self {
        OutputRules {
            threshold: 10,
            dominance_n: 2,
            dominance_k: 90.0,
            p_percent: 10.0,
        }
    }
}

/// A reason a cell may not be released as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum OutputFinding {
    /// No unit contributes (zeros are flagged for the checker to judge:
    /// a zero can reveal that everyone else has the attribute).
    Zero,
    /// Fewer contributing units than the threshold.
    BelowThreshold {
        /// Contributing units.
        units: u64,
        /// The rule's threshold.
        threshold: u64,
    },
    /// The largest `n` units dominate the cell total.
    Dominance {
        /// `n` of the rule.
        n: usize,
        /// Their share of the total, in percent.
        share: f64,
    },
    /// The remainder after the two largest is too small relative to the largest.
    PPercent {
        /// Remainder as a percentage of the largest contribution.
        remainder_percent: f64,
    },
}

/// The contributions contain a value that is not a finite number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("contribution {index} is not a finite number")]
pub struct NonFiniteContribution {
    /// Position of the bad contribution.
    pub index: usize,
}

/// Checks one cell given each unit's contribution (for a frequency cell all
/// contributions are 1; for a magnitude cell, e.g. a sum of costs, the
/// unit's amount — absolute values are used). Returns every finding.
///
/// # Errors
/// [`NonFiniteContribution`] when a contribution is NaN or infinite.
pub fn check_cell(
    rules: &OutputRules,
    contributions: &[f64],
) -> Result<Vec<OutputFinding>, NonFiniteContribution> {
    if let Some(index) = contributions.iter().position(|c| !c.is_finite()) {
        return Err(NonFiniteContribution { index });
    }
    let units = contributions.len() as u64;
    let mut findings = Vec::new();
    if units == 0 {
        findings.push(OutputFinding::Zero);
        return Ok(findings);
    }
    if units < rules.threshold {
        findings.push(OutputFinding::BelowThreshold {
            units,
            threshold: rules.threshold,
        });
    }
    let mut sorted: Vec<f64> = contributions.iter().map(|c| c.abs()).collect();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let total: f64 = sorted.iter().sum();
    if total > 0.0 {
        let top: f64 = sorted.iter().take(rules.dominance_n).sum();
        let share = top * 100.0 / total;
        if rules.dominance_n > 0 && share > rules.dominance_k {
            findings.push(OutputFinding::Dominance {
                n: rules.dominance_n,
                share,
            });
        }
        let largest = sorted.first().copied().unwrap_or(0.0);
        let second = sorted.get(1).copied().unwrap_or(0.0);
        let remainder = total - largest - second;
        if largest > 0.0 {
            let remainder_percent = (remainder * 100.0 / largest).max(0.0);
            if remainder_percent < rules.p_percent {
                findings.push(OutputFinding::PPercent { remainder_percent });
            }
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequency_cells_are_checked_against_the_threshold() {
        let r = OutputRules::default();
        assert_eq!(check_cell(&r, &[]).unwrap(), vec![OutputFinding::Zero]);
        let nine = vec![1.0; 9];
        assert!(
            check_cell(&r, &nine)
                .unwrap()
                .contains(&OutputFinding::BelowThreshold {
                    units: 9,
                    threshold: 10
                })
        );
        assert!(check_cell(&r, &vec![1.0; 50]).unwrap().is_empty());
    }

    #[test]
    fn dominance_and_p_percent() {
        let r = OutputRules::default();
        // two firms hold 95 % of a 20-unit total
        let mut c = vec![50.0, 45.0];
        c.extend(vec![0.25; 20]);
        let f = check_cell(&r, &c).unwrap();
        assert!(
            f.iter()
                .any(|x| matches!(x, OutputFinding::Dominance { n: 2, share } if *share > 90.0))
        );
        // remainder 5 is 10 % of the largest 50: not below p → no p finding
        assert!(
            !f.iter()
                .any(|x| matches!(x, OutputFinding::PPercent { .. }))
        );
        let mut c = vec![50.0, 45.0];
        c.extend(vec![0.2; 20]); // remainder 4 = 8 % of 50
        let f = check_cell(&r, &c).unwrap();
        assert!(
            f.iter()
                .any(|x| matches!(x, OutputFinding::PPercent { .. }))
        );
        // evenly spread: nothing
        assert!(check_cell(&r, &vec![3.0; 30]).unwrap().is_empty());
    }

    #[test]
    fn non_finite_contributions_are_errors() {
        let r = OutputRules::default();
        assert_eq!(
            check_cell(&r, &[1.0, f64::NAN]).unwrap_err(),
            NonFiniteContribution { index: 1 }
        );
    }
}
