//! Protected values and the [`Protector`] that produces them.

use serde::{Deserialize, Serialize};

use crate::error::DisclosureError;
use crate::noise::{NoiseSource, Release};
use crate::profile::Profile;
use crate::table::{Grid, suppress};

/// Largest table (cells, margins excluded) that disclosure control accepts.
pub const MAX_TABLE_CELLS: usize = 10_000;

/// Display of every suppressed entry of a table, stratification, time series
/// or proportion (primary and secondary alike).
pub const SUPPRESSED: &str = "suppressed";

/// How precise a released number is (after Beacon v2's precision labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// The true count.
    Exact,
    /// The true count rounded to a multiple of [`ProtectedValue::rounded_to`].
    Rounded,
    /// The count plus random noise, then rounded.
    Noisy,
    /// Not shown.
    Suppressed,
}

/// A number as released: what to display, its value if shown, and how
/// precise it is. Only this crate creates them (or deserializing one that
/// it produced).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProtectedValue {
    display: String,
    value: Option<u64>,
    precision: Precision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rounded_to: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    below: Option<u64>,
}

impl ProtectedValue {
    /// Text to show: `"<5"`, `"1235"`, or [`SUPPRESSED`].
    #[must_use]
    pub fn display(&self) -> &str {
        &self.display
    }

    /// The shown number, `None` when suppressed.
    #[must_use]
    pub fn value(&self) -> Option<u64> {
        self.value
    }

    /// How precise [`Self::value`] is.
    #[must_use]
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The rounding base when the value is rounded (base above 1).
    #[must_use]
    pub fn rounded_to(&self) -> Option<u64> {
        self.rounded_to
    }

    /// For a count suppressed as small: it is below this threshold.
    #[must_use]
    pub fn below(&self) -> Option<u64> {
        self.below
    }

    /// True when the number is withheld.
    #[must_use]
    pub fn is_suppressed(&self) -> bool {
        self.precision == Precision::Suppressed
    }
}

/// A stratification (or time series): one value per stratum and the total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedStrata {
    /// One per stratum, in the order given.
    pub cells: Vec<ProtectedValue>,
    /// The total over all strata (the plain count).
    pub total: ProtectedValue,
}

/// A two-way table with its margins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedTable {
    /// `cells[row][column]`.
    pub cells: Vec<Vec<ProtectedValue>>,
    /// One per row.
    pub row_totals: Vec<ProtectedValue>,
    /// One per column.
    pub column_totals: Vec<ProtectedValue>,
    /// The grand total (the plain count).
    pub total: ProtectedValue,
}

/// A proportion: numerator within denominator, both protected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectedProportion {
    /// Patients meeting the numerator criterion (within the denominator).
    pub numerator: ProtectedValue,
    /// Patients in the denominator cohort.
    pub denominator: ProtectedValue,
    /// `100 × numerator / denominator` from the *shown* numbers, capped at
    /// 100; `None` when either is suppressed or the denominator shows 0.
    pub percent: Option<f64>,
    /// The percentage with one decimal (`"42.5%"`), or `"withheld"`.
    pub percent_display: String,
}

/// Applies one [`Profile`] to the numbers of one release.
///
/// Every number that leaves the hub for someone without a permit goes
/// through one of these methods. The noise of each number is keyed by the
/// [`Release`] and a label naming the number within the result ("total",
/// "funnel/2", "cell/0/3", ...).
#[derive(Clone)]
pub struct Protector<'p> {
    profile: &'p Profile,
    noise: Option<NoiseSource>,
}

impl std::fmt::Debug for Protector<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Protector")
            .field("profile", &self.profile)
            .field("noise", &self.noise.is_some())
            .finish()
    }
}

impl<'p> Protector<'p> {
    /// Prepares a protector. The release's secret, query hash and snapshot id
    /// are needed only when the profile adds noise.
    ///
    /// # Errors
    /// [`DisclosureError::EmptySecret`] / [`DisclosureError::EmptyContext`]
    /// when the profile adds noise and the release lacks what keys it.
    pub fn new(profile: &'p Profile, release: &Release<'_>) -> Result<Self, DisclosureError> {
        let noise = match profile.noise() {
            Some(n) => Some(NoiseSource::new(release, n.scale())?),
            None => None,
        };
        Ok(Protector { profile, noise })
    }

    /// The profile applied.
    #[must_use]
    pub fn profile(&self) -> &Profile {
        self.profile
    }

    /// Noised count (no noise: the count itself).
    fn noised(&self, n: u64, label: &str) -> u64 {
        match &self.noise {
            Some(source) => source.apply(n, label),
            None => n,
        }
    }

    fn shown(&self, v: u64) -> ProtectedValue {
        let value = self.profile.round(v);
        let rounding = self.profile.rounding();
        let precision = if self.noise.is_some() {
            Precision::Noisy
        } else if rounding > 1 {
            Precision::Rounded
        } else {
            Precision::Exact
        };
        ProtectedValue {
            display: value.to_string(),
            value: Some(value),
            precision,
            rounded_to: (rounding > 1).then_some(rounding),
            below: None,
        }
    }

    fn small(&self) -> ProtectedValue {
        ProtectedValue {
            display: format!("<{}", self.profile.threshold()),
            value: None,
            precision: Precision::Suppressed,
            rounded_to: None,
            below: Some(self.profile.threshold()),
        }
    }

    fn withheld() -> ProtectedValue {
        ProtectedValue {
            display: SUPPRESSED.to_string(),
            value: None,
            precision: Precision::Suppressed,
            rounded_to: None,
            below: None,
        }
    }

    /// Protects a standalone (already noised) value: threshold, then rounding.
    fn single(&self, v: u64) -> ProtectedValue {
        if v < self.profile.threshold() {
            self.small()
        } else {
            self.shown(v)
        }
    }

    /// Protects one patient count (noise label `"total"`).
    #[must_use]
    pub fn count(&self, n: u64) -> ProtectedValue {
        self.single(self.noised(n, "total"))
    }

    /// Protects each step of an attrition funnel (labels `"funnel/{i}"`).
    ///
    /// Steps are protected one by one; the difference between two shown
    /// steps is only as precise as the rounding makes it (see the crate
    /// docs on differencing).
    #[must_use]
    pub fn funnel(&self, steps: &[u64]) -> Vec<ProtectedValue> {
        steps
            .iter()
            .enumerate()
            .map(|(i, &n)| self.single(self.noised(n, &format!("funnel/{i}"))))
            .collect()
    }

    /// Protects a stratification whose strata partition the cohort (every
    /// patient in exactly one stratum — add an "unknown" stratum if needed);
    /// the total is the sum of the cells. Labels `"cell/{i}"`, `"total"`.
    ///
    /// # Errors
    /// [`DisclosureError::EmptyTable`], [`DisclosureError::TableTooLarge`].
    pub fn strata(&self, cells: &[u64]) -> Result<ProtectedStrata, DisclosureError> {
        self.one_way(cells, "cell")
    }

    /// Protects a time series of patients newly meeting a criterion per
    /// period (each patient counted in one period), with its total. Labels
    /// `"period/{i}"`, `"total"`.
    ///
    /// # Errors
    /// As [`Protector::strata`].
    pub fn time_series(&self, periods: &[u64]) -> Result<ProtectedStrata, DisclosureError> {
        self.one_way(periods, "period")
    }

    fn one_way(&self, cells: &[u64], prefix: &str) -> Result<ProtectedStrata, DisclosureError> {
        if cells.is_empty() {
            return Err(DisclosureError::EmptyTable);
        }
        if cells.len() > MAX_TABLE_CELLS {
            return Err(DisclosureError::TableTooLarge {
                cells: cells.len(),
                max: MAX_TABLE_CELLS,
            });
        }
        let total = cells.iter().fold(0u64, |a, &b| a.saturating_add(b));
        let noisy: Vec<u64> = cells
            .iter()
            .enumerate()
            .map(|(i, &n)| self.noised(n, &format!("{prefix}/{i}")))
            .collect();
        let noisy_total = self.noised(total, "total");
        // A one-row table: row 0 = cells + total, row 1 = column totals
        // (equal to the cells) + grand total.
        let cols = cells.len() + 1;
        let mut values = Vec::with_capacity(2 * cols);
        values.extend_from_slice(&noisy);
        values.push(noisy_total);
        values.extend_from_slice(&noisy);
        values.push(noisy_total);
        let mut eligible = vec![true; 2 * cols];
        if let Some(e) = eligible.get_mut(cols - 1) {
            *e = false; // the row total is the grand total
        }
        if let Some(e) = eligible.last_mut() {
            *e = false;
        }
        let supp = suppress(
            &Grid {
                rows: 2,
                cols,
                values: &values,
                eligible: &eligible,
            },
            self.profile.threshold(),
        );
        let cells = noisy
            .iter()
            .zip(&supp)
            .map(|(&v, &s)| if s { Self::withheld() } else { self.shown(v) })
            .collect();
        Ok(ProtectedStrata {
            cells,
            total: self.single(noisy_total),
        })
    }

    /// Protects a two-way table (`cells[row][column]`, strata partitioning the
    /// cohort in both directions) with its row, column and grand totals.
    /// Labels `"cell/{r}/{c}"`, `"row/{r}"`, `"col/{c}"`, `"total"`.
    ///
    /// # Errors
    /// [`DisclosureError::EmptyTable`], [`DisclosureError::RaggedTable`],
    /// [`DisclosureError::TableTooLarge`].
    pub fn table(&self, cells: &[Vec<u64>]) -> Result<ProtectedTable, DisclosureError> {
        let r_n = cells.len();
        let c_n = cells.first().map_or(0, Vec::len);
        if r_n == 0 || c_n == 0 {
            return Err(DisclosureError::EmptyTable);
        }
        for (row, cells_in_row) in cells.iter().enumerate() {
            if cells_in_row.len() != c_n {
                return Err(DisclosureError::RaggedTable {
                    row,
                    expected: c_n,
                    found: cells_in_row.len(),
                });
            }
        }
        let size = r_n.saturating_mul(c_n);
        if size > MAX_TABLE_CELLS {
            return Err(DisclosureError::TableTooLarge {
                cells: size,
                max: MAX_TABLE_CELLS,
            });
        }
        let sum = |it: &mut dyn Iterator<Item = u64>| it.fold(0u64, u64::saturating_add);
        let rows = r_n + 1;
        let cols = c_n + 1;
        let mut values = vec![0u64; rows * cols];
        let mut eligible = vec![true; rows * cols];
        for (r, row) in cells.iter().enumerate() {
            for (c, &n) in row.iter().enumerate() {
                if let Some(v) = values.get_mut(r * cols + c) {
                    *v = self.noised(n, &format!("cell/{r}/{c}"));
                }
            }
            let total = sum(&mut row.iter().copied());
            if let Some(v) = values.get_mut(r * cols + c_n) {
                *v = self.noised(total, &format!("row/{r}"));
            }
        }
        for c in 0..c_n {
            let total = sum(&mut cells.iter().filter_map(|row| row.get(c).copied()));
            if let Some(v) = values.get_mut(r_n * cols + c) {
                *v = self.noised(total, &format!("col/{c}"));
            }
        }
        let grand = sum(&mut cells.iter().flatten().copied());
        let noisy_grand = self.noised(grand, "total");
        if let Some(v) = values.last_mut() {
            *v = noisy_grand;
        }
        // One row: its total is the grand total; one column likewise.
        if r_n == 1 {
            if let Some(v) = values.get_mut(c_n) {
                *v = noisy_grand;
            }
            if let Some(e) = eligible.get_mut(c_n) {
                *e = false;
            }
        }
        if c_n == 1 {
            if let Some(v) = values.get_mut(r_n * cols) {
                *v = noisy_grand;
            }
            if let Some(e) = eligible.get_mut(r_n * cols) {
                *e = false;
            }
        }
        if let Some(e) = eligible.last_mut() {
            *e = false;
        }
        let supp = suppress(
            &Grid {
                rows,
                cols,
                values: &values,
                eligible: &eligible,
            },
            self.profile.threshold(),
        );
        let entry = |e: usize| -> ProtectedValue {
            if supp.get(e).copied().unwrap_or(true) {
                Self::withheld()
            } else {
                self.shown(values.get(e).copied().unwrap_or(0))
            }
        };
        Ok(ProtectedTable {
            cells: (0..r_n)
                .map(|r| (0..c_n).map(|c| entry(r * cols + c)).collect())
                .collect(),
            row_totals: (0..r_n).map(|r| entry(r * cols + c_n)).collect(),
            column_totals: (0..c_n).map(|c| entry(r_n * cols + c)).collect(),
            total: self.single(noisy_grand),
        })
    }

    /// Protects a proportion. It is published as a two-stratum table —
    /// numerator and the rest of the denominator — so a small remainder
    /// (nearly everyone) is protected like a small numerator. The
    /// percentage is computed from the shown numbers, or withheld.
    /// Labels `"numerator"`, `"complement"`, `"total"` (the denominator).
    ///
    /// # Errors
    /// [`DisclosureError::NumeratorAboveDenominator`].
    pub fn proportion(
        &self,
        numerator: u64,
        denominator: u64,
    ) -> Result<ProtectedProportion, DisclosureError> {
        let complement = denominator
            .checked_sub(numerator)
            .ok_or(DisclosureError::NumeratorAboveDenominator)?;
        let noisy_num = self.noised(numerator, "numerator");
        let noisy_comp = self.noised(complement, "complement");
        let noisy_den = self.noised(denominator, "total");
        // one-row table [numerator, complement | denominator]
        let values = [
            noisy_num, noisy_comp, noisy_den, noisy_num, noisy_comp, noisy_den,
        ];
        let eligible = [true, true, false, true, true, false];
        let supp = suppress(
            &Grid {
                rows: 2,
                cols: 3,
                values: &values,
                eligible: &eligible,
            },
            self.profile.threshold(),
        );
        let numerator = if supp.first().copied().unwrap_or(true) {
            Self::withheld()
        } else {
            self.shown(noisy_num)
        };
        let denominator = self.single(noisy_den);
        let percent = match (numerator.value, denominator.value) {
            (Some(n), Some(d)) if d > 0 => Some((n as f64 * 100.0 / d as f64).min(100.0)),
            _ => None,
        };
        let percent_display = match percent {
            Some(p) => format!("{p:.1}%"),
            None => "withheld".to_string(),
        };
        Ok(ProtectedProportion {
            numerator,
            denominator,
            percent,
            percent_display,
        })
    }
}
