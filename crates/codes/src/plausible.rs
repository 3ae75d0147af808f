//! Physiologically plausible ranges of the analytes' values, in each
//! analyte's canonical unit ([`crate::units::Analyte::canonical_unit`]).
//!
//! A range is wide on purpose: it bounds what a living person's sample can
//! hold and a laboratory can report (reference intervals are far narrower),
//! so a value outside it is almost surely a unit or entry error, not
//! disease. The catalogue's plausibility metric counts such values per
//! source and load (the Kahn framework's "plausibility: atemporal"
//! dimension, as the OHDSI Data Quality Dashboard's
//! `plausibleValueLow`/`plausibleValueHigh` checks do); nothing is dropped
//! or changed because of it. The bounds are fixed here (the project's own
//! choice, not a published table), chosen from the extremes reported in clinical chemistry (e.g. HbA1c 20 % ≈ 195
//! mmol/mol, creatinine in anuric renal failure > 2 000 µmol/L, CRP in
//! septic shock > 500 mg/L); each is listed in `docs/formats.md`.

/// The plausible range of one analyte's values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlausibleRange {
    /// The analyte's id (`hba1c`, …).
    pub analyte: &'static str,
    /// The lowest plausible value (inclusive), canonical unit.
    pub low: f64,
    /// The highest plausible value (inclusive), canonical unit.
    pub high: f64,
}

impl PlausibleRange {
    /// Whether `value` lies in the range (bounds included; NaN never does).
    #[must_use]
    pub fn contains(&self, value: f64) -> bool {
        value >= self.low && value <= self.high
    }
}

const fn range(analyte: &'static str, low: f64, high: f64) -> PlausibleRange {
    PlausibleRange { analyte, low, high }
}

/// One range per analyte of [`crate::units::ANALYTES`].
pub static PLAUSIBLE_RANGES: &[PlausibleRange] = &[
    range("hba1c", 10.0, 200.0),
    range("creatinine", 5.0, 3000.0),
    range("egfr", 1.0, 250.0),
    range("ldl", 0.1, 25.0),
    range("cholesterol", 0.5, 30.0),
    range("hdl", 0.05, 6.0),
    range("glucose", 0.5, 100.0),
    range("ntprobnp", 0.0, 100_000.0),
    range("potassium", 1.0, 12.0),
    range("sodium", 90.0, 200.0),
    range("haemoglobin", 20.0, 260.0),
    range("psa", 0.0, 20_000.0),
    range("crp", 0.0, 700.0),
];

/// The plausible range of the analyte `id`.
#[must_use]
pub fn plausible_range(id: &str) -> Option<&'static PlausibleRange> {
    PLAUSIBLE_RANGES.iter().find(|r| r.analyte == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::ANALYTES;

    #[test]
    fn every_analyte_has_one_sensible_range() {
        for a in ANALYTES {
            let r = plausible_range(a.id).unwrap_or_else(|| panic!("{} has no range", a.id));
            assert!(r.low >= 0.0 && r.low < r.high, "{r:?}");
        }
        for r in PLAUSIBLE_RANGES {
            assert!(
                ANALYTES.iter().any(|a| a.id == r.analyte),
                "{} is not an analyte",
                r.analyte
            );
        }
    }

    #[test]
    fn bounds_are_inclusive_and_nan_is_out() {
        let r = plausible_range("potassium").unwrap();
        assert!(r.contains(1.0) && r.contains(12.0) && r.contains(4.2));
        assert!(!r.contains(0.99) && !r.contains(12.01) && !r.contains(f64::NAN));
        // A value stored in the wrong unit (µmol/L for mmol/L) is out.
        assert!(!r.contains(4200.0));
    }
}
