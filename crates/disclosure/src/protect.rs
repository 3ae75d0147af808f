//! Protected values and the [`Protector`] that produces them.

use serde::{Deserialize, Serialize};

use std::cell::RefCell;

use crate::error::DisclosureError;
use crate::guard::{Decision, GuardSession};
use crate::noise::{NoiseSource, Release};
use crate::profile::Profile;
use crate::setprint::SetPrint;
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
/// through one of these methods. Each number is given as the [`SetPrint`]
/// of the persons behind it; its noise is keyed by that set (see
/// [`Release`]), and with a [`GuardSession`] attached
/// ([`Protector::with_guard`]) the differencing guard decides each number
/// in a fixed order (cells row by row, row margins, column margins, total;
/// funnel steps in order; numerator, remainder, denominator).
pub struct Protector<'p> {
    profile: &'p Profile,
    noise: Option<NoiseSource>,
    guard: RefCell<Option<GuardSession>>,
}

impl std::fmt::Debug for Protector<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Protector")
            .field("profile", &self.profile)
            .field("noise", &self.noise.is_some())
            .field("guard", &self.guard.borrow().is_some())
            .finish()
    }
}

/// A number given to a [`Protector`]: the [`SetPrint`] of its persons, or
/// a bare count (`u64`, as [`SetPrint::unkeyed`]: noise keyed by the count
/// alone — for numbers whose persons are unknown, and for tests).
pub trait AsPrint {
    /// The set's print.
    fn to_print(&self) -> SetPrint;
}

impl AsPrint for u64 {
    fn to_print(&self) -> SetPrint {
        SetPrint::unkeyed(*self)
    }
}

impl AsPrint for SetPrint {
    fn to_print(&self) -> SetPrint {
        self.clone()
    }
}

impl AsPrint for &SetPrint {
    fn to_print(&self) -> SetPrint {
        (*self).clone()
    }
}

/// One number after noise and the guard, before threshold and rounding.
#[derive(Debug, Clone)]
struct Noised {
    value: u64,
    forced: bool,
    decision: Option<Decision>,
}

impl Noised {
    /// The value the threshold and table rules see: 0 when it must stay
    /// suppressed.
    fn effective(&self) -> u64 {
        if self.forced { 0 } else { self.value }
    }
}

impl<'p> Protector<'p> {
    /// Prepares a protector. The release's secret is needed only when the
    /// profile adds noise.
    ///
    /// # Errors
    /// [`DisclosureError::EmptySecret`] when the profile adds noise and the
    /// release has no secret.
    pub fn new(profile: &'p Profile, release: &Release<'_>) -> Result<Self, DisclosureError> {
        let noise = match profile.noise() {
            Some(n) => Some(NoiseSource::new(release, n.scale())?),
            None => None,
        };
        Ok(Protector {
            profile,
            noise,
            guard: RefCell::new(None),
        })
    }

    /// Attaches the differencing guard for this answer.
    #[must_use]
    pub fn with_guard(self, guard: GuardSession) -> Self {
        *self.guard.borrow_mut() = Some(guard);
        self
    }

    /// Detaches the guard (to store the anchors it added).
    #[must_use]
    pub fn into_guard(self) -> Option<GuardSession> {
        self.guard.into_inner()
    }

    /// The profile applied.
    #[must_use]
    pub fn profile(&self) -> &Profile {
        self.profile
    }

    /// Noise (keyed by the set), then the guard.
    fn noised(&self, print: &SetPrint) -> Noised {
        let fresh = match &self.noise {
            Some(source) => source.apply(print),
            None => print.count(),
        };
        match self.guard.borrow_mut().as_mut() {
            Some(g) => {
                let d = g.decide(print, fresh);
                Noised {
                    value: d.value,
                    forced: d.force_suppressed,
                    decision: Some(d),
                }
            }
            None => Noised {
                value: fresh,
                forced: false,
                decision: None,
            },
        }
    }

    /// Tells the guard that `n` (of `print`) is released suppressed.
    fn suppressed(&self, n: &Noised, print: &SetPrint) {
        if let (Some(d), Some(g)) = (&n.decision, self.guard.borrow_mut().as_mut()) {
            g.released_suppressed(d, print);
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

    /// Protects a standalone number: threshold, then rounding.
    fn single(&self, n: &Noised, print: &SetPrint) -> ProtectedValue {
        if n.forced || n.value < self.profile.threshold() {
            self.suppressed(n, print);
            self.small()
        } else {
            self.shown(n.value)
        }
    }

    /// Protects one patient count.
    #[must_use]
    pub fn count(&self, set: impl AsPrint) -> ProtectedValue {
        let set = set.to_print();
        let n = self.noised(&set);
        self.single(&n, &set)
    }

    /// Protects each step of an attrition funnel (each the set remaining
    /// after the step). Steps standing on the same persons get the same
    /// number, and with the guard a step within a few persons of an earlier
    /// one repeats it.
    #[must_use]
    pub fn funnel<T: AsPrint>(&self, steps: &[T]) -> Vec<ProtectedValue> {
        steps
            .iter()
            .map(|s| {
                let s = s.to_print();
                let n = self.noised(&s);
                self.single(&n, &s)
            })
            .collect()
    }

    /// Protects a stratification whose strata partition the cohort (every
    /// patient in exactly one stratum — add an "unknown" stratum if needed);
    /// the total is the union of the cells.
    ///
    /// # Errors
    /// [`DisclosureError::EmptyTable`], [`DisclosureError::TableTooLarge`].
    pub fn strata<T: AsPrint>(&self, cells: &[T]) -> Result<ProtectedStrata, DisclosureError> {
        self.one_way(&cells.iter().map(AsPrint::to_print).collect::<Vec<_>>())
    }

    /// Protects a time series of patients newly meeting a criterion per
    /// period (each patient counted in one period), with its total.
    ///
    /// # Errors
    /// As [`Protector::strata`].
    pub fn time_series<T: AsPrint>(
        &self,
        periods: &[T],
    ) -> Result<ProtectedStrata, DisclosureError> {
        self.one_way(&periods.iter().map(AsPrint::to_print).collect::<Vec<_>>())
    }

    fn one_way(&self, cells: &[SetPrint]) -> Result<ProtectedStrata, DisclosureError> {
        if cells.is_empty() {
            return Err(DisclosureError::EmptyTable);
        }
        if cells.len() > MAX_TABLE_CELLS {
            return Err(DisclosureError::TableTooLarge {
                cells: cells.len(),
                max: MAX_TABLE_CELLS,
            });
        }
        let total = cells.iter().fold(SetPrint::empty(), |a, b| a.add(b));
        let noisy: Vec<Noised> = cells.iter().map(|c| self.noised(c)).collect();
        let noisy_total = self.noised(&total);
        let values_of: Vec<u64> = noisy.iter().map(Noised::effective).collect();
        // A one-row table: row 0 = cells + total, row 1 = column totals
        // (equal to the cells) + grand total.
        let cols = cells.len() + 1;
        let mut values = Vec::with_capacity(2 * cols);
        values.extend_from_slice(&values_of);
        values.push(noisy_total.effective());
        values.extend_from_slice(&values_of);
        values.push(noisy_total.effective());
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
        let out = noisy
            .iter()
            .zip(cells)
            .zip(&supp)
            .map(|((n, c), &s)| {
                if s {
                    self.suppressed(n, c);
                    Self::withheld()
                } else {
                    self.shown(n.value)
                }
            })
            .collect();
        Ok(ProtectedStrata {
            cells: out,
            total: self.single(&noisy_total, &total),
        })
    }

    /// Protects a two-way table (`cells[row][column]`, strata partitioning the
    /// cohort in both directions) with its row, column and grand totals.
    ///
    /// # Errors
    /// [`DisclosureError::EmptyTable`], [`DisclosureError::RaggedTable`],
    /// [`DisclosureError::TableTooLarge`].
    pub fn table<T: AsPrint>(&self, cells: &[Vec<T>]) -> Result<ProtectedTable, DisclosureError> {
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
        let cells: Vec<Vec<SetPrint>> = cells
            .iter()
            .map(|row| row.iter().map(AsPrint::to_print).collect())
            .collect();
        let union =
            |it: &mut dyn Iterator<Item = &SetPrint>| it.fold(SetPrint::empty(), |a, b| a.add(b));
        let rows = r_n + 1;
        let cols = c_n + 1;
        // Prints and decisions of every entry of the extended grid.
        let mut prints: Vec<SetPrint> = vec![SetPrint::empty(); rows * cols];
        for (r, row) in cells.iter().enumerate() {
            for (c, p) in row.iter().enumerate() {
                if let Some(v) = prints.get_mut(r * cols + c) {
                    *v = p.clone();
                }
            }
            if let Some(v) = prints.get_mut(r * cols + c_n) {
                *v = union(&mut row.iter());
            }
        }
        for c in 0..c_n {
            if let Some(v) = prints.get_mut(r_n * cols + c) {
                *v = union(&mut cells.iter().filter_map(|row| row.get(c)));
            }
        }
        let grand = union(&mut cells.iter().flatten());
        if let Some(v) = prints.last_mut() {
            *v = grand.clone();
        }
        // Fixed decision order: cells row by row, row margins, column
        // margins, total. One row (or column): its margin is the total.
        let mut order: Vec<usize> = Vec::with_capacity(rows * cols);
        for r in 0..r_n {
            for c in 0..c_n {
                order.push(r * cols + c);
            }
        }
        if r_n > 1 || c_n == 1 {
            order.extend((0..r_n).map(|r| r * cols + c_n));
        }
        if c_n > 1 || r_n == 1 {
            order.extend((0..c_n).map(|c| r_n * cols + c));
        }
        let mut noised: Vec<Option<Noised>> = vec![None; rows * cols];
        for &e in &order {
            if let (Some(slot), Some(p)) = (noised.get_mut(e), prints.get(e))
                && slot.is_none()
            {
                *slot = Some(self.noised(p));
            }
        }
        let total_n = self.noised(&grand);
        let mut eligible = vec![true; rows * cols];
        // One row: its total is the grand total; one column likewise.
        if r_n == 1 {
            if let Some(v) = noised.get_mut(c_n) {
                *v = Some(total_n.clone());
            }
            if let Some(e) = eligible.get_mut(c_n) {
                *e = false;
            }
        }
        if c_n == 1 {
            if let Some(v) = noised.get_mut(r_n * cols) {
                *v = Some(total_n.clone());
            }
            if let Some(e) = eligible.get_mut(r_n * cols) {
                *e = false;
            }
        }
        if let Some(v) = noised.last_mut() {
            *v = Some(total_n.clone());
        }
        if let Some(e) = eligible.last_mut() {
            *e = false;
        }
        let values: Vec<u64> = noised
            .iter()
            .map(|n| n.as_ref().map_or(0, Noised::effective))
            .collect();
        let supp = suppress(
            &Grid {
                rows,
                cols,
                values: &values,
                eligible: &eligible,
            },
            self.profile.threshold(),
        );
        let grand_index = rows * cols - 1;
        let entry = |e: usize| -> ProtectedValue {
            let n = noised.get(e).cloned().flatten();
            if supp.get(e).copied().unwrap_or(true) {
                if let (Some(n), Some(p)) = (&n, prints.get(e))
                    && e != grand_index
                {
                    self.suppressed(n, p);
                }
                Self::withheld()
            } else {
                self.shown(n.map_or(0, |n| n.value))
            }
        };
        Ok(ProtectedTable {
            cells: (0..r_n)
                .map(|r| (0..c_n).map(|c| entry(r * cols + c)).collect())
                .collect(),
            row_totals: (0..r_n).map(|r| entry(r * cols + c_n)).collect(),
            column_totals: (0..c_n).map(|c| entry(r_n * cols + c)).collect(),
            total: self.single(&total_n, &grand),
        })
    }

    /// Protects a proportion. It is published as a two-stratum table —
    /// numerator and the rest of the denominator — so a small remainder
    /// (nearly everyone) is protected like a small numerator. The
    /// percentage is computed from the shown numbers, or withheld.
    /// `numerator` must be a subset of `denominator`.
    ///
    /// # Errors
    /// [`DisclosureError::NumeratorAboveDenominator`].
    pub fn proportion(
        &self,
        numerator: impl AsPrint,
        denominator: impl AsPrint,
    ) -> Result<ProtectedProportion, DisclosureError> {
        let (numerator, denominator) = (&numerator.to_print(), &denominator.to_print());
        let complement = denominator
            .minus(numerator)
            .ok_or(DisclosureError::NumeratorAboveDenominator)?;
        let noisy_num = self.noised(numerator);
        let noisy_comp = self.noised(&complement);
        let noisy_den = self.noised(denominator);
        let (a, b, c) = (
            noisy_num.effective(),
            noisy_comp.effective(),
            noisy_den.effective(),
        );
        // one-row table [numerator, complement | denominator]
        let values = [a, b, c, a, b, c];
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
        let num_out = if supp.first().copied().unwrap_or(true) {
            self.suppressed(&noisy_num, numerator);
            Self::withheld()
        } else {
            self.shown(noisy_num.value)
        };
        if supp.get(1).copied().unwrap_or(true) {
            self.suppressed(&noisy_comp, &complement);
        }
        let den_out = self.single(&noisy_den, denominator);
        let percent = match (num_out.value, den_out.value) {
            (Some(n), Some(d)) if d > 0 => Some((n as f64 * 100.0 / d as f64).min(100.0)),
            _ => None,
        };
        let percent_display = match percent {
            Some(p) => format!("{p:.1}%"),
            None => "withheld".to_string(),
        };
        Ok(ProtectedProportion {
            numerator: num_out,
            denominator: den_out,
            percent,
            percent_display,
        })
    }
}
