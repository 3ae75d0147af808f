//! What the hub computes from the data itself, per dataset and snapshot,
//! kept apart from the holder's text so it cannot drift from the store.
//!
//! Every count is a released number ([`ProtectedValue`]) that the caller
//! obtained through disclosure control (the feasibility service), never a
//! raw count. [`ComputedFacts::new`] applies the catalogue's own release
//! rules on top: regions, age bands and codes whose count is suppressed are
//! left out; ages are published as the bounds of the banded range that has
//! shown counts (never a minimum or maximum age); the time coverage is
//! widened to whole months; completeness shares are rounded to 0.1 %; and
//! an exact (unprotected) value is never kept.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use halsohub_disclosure::{Precision, ProtectedValue};
use serde::Serialize;
use utoipa::ToSchema;

/// The most frequent codes published per dataset.
pub const MAX_FREQUENT_CODES: usize = 20;

/// An age band `[from, to]` in whole years; `to: None` is the open top band
/// (`90+`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
pub struct AgeBand {
    /// First age in the band.
    pub from: u32,
    /// Last age in the band; `None` for the open top band.
    pub to: Option<u32>,
}

/// The published age range: from the youngest band with a shown count to
/// the oldest (`max: None` when that is the open top band).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct AgeRange {
    /// Lower bound of the youngest band with a shown count.
    pub min: u32,
    /// Upper bound of the oldest band with a shown count, `None` if open.
    pub max: Option<u32>,
}

/// First and last day covered by the dataset's events, in whole months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct TimeCoverage {
    /// First day of the month of the earliest event.
    pub start: NaiveDate,
    /// Last day of the month of the latest event.
    pub end: NaiveDate,
}

/// A region (län code) with its released person count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Region {
    /// The län code (`01`, `14`, …).
    pub code: String,
    /// Distinct persons with events in the region (released).
    #[schema(value_type = Object)]
    pub persons: ProtectedValue,
}

/// A frequent code with its released person count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FrequentCode {
    /// halsohub code system id (`icd10se`).
    pub system: String,
    /// The code.
    pub code: String,
    /// Distinct persons with the code (released).
    #[schema(value_type = Object)]
    pub persons: ProtectedValue,
}

/// The kind of values a variable holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VariableKind {
    /// A code of a code system.
    Code,
    /// A calendar date.
    Date,
    /// A number (with unit where it has one).
    Number,
    /// Free text or a name.
    Text,
    /// A pseudonymous identifier.
    Identifier,
}

impl VariableKind {
    /// The CSV on the Web datatype name.
    #[must_use]
    pub fn csvw_datatype(self) -> &'static str {
        match self {
            VariableKind::Code | VariableKind::Text | VariableKind::Identifier => "string",
            VariableKind::Date => "date",
            VariableKind::Number => "decimal",
        }
    }
}

/// A variable of the dataset and how complete it is.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Variable {
    /// Column name in the store (`code`, `start_date`, `value`, …).
    pub name: String,
    /// Value kind.
    pub kind: VariableKind,
    /// Share of rows with a value, 0–1, rounded to 0.001.
    pub completeness: f64,
}

/// What the caller measured, with counts already released; turned into
/// [`ComputedFacts`] by [`ComputedFacts::new`].
#[derive(Debug, Clone, Default)]
pub struct FactsInput {
    /// The snapshot the facts come from.
    pub snapshot: String,
    /// Event records (released).
    pub records: Option<ProtectedValue>,
    /// Distinct persons (released, through the feasibility service).
    pub persons: Option<ProtectedValue>,
    /// Earliest and latest event date.
    pub dates: Option<(NaiveDate, NaiveDate)>,
    /// Persons per region (released).
    pub regions: Vec<(String, ProtectedValue)>,
    /// Persons per age band at the start of their first event (released).
    pub age_bands: Vec<(AgeBand, ProtectedValue)>,
    /// Code systems the data use (halsohub ids).
    pub code_systems: Vec<String>,
    /// Persons per code (released), any order.
    pub codes: Vec<FrequentCode>,
    /// Variables: name, kind, rows with a value, rows.
    pub variables: Vec<(String, VariableKind, u64, u64)>,
}

/// The facts published for a dataset: see the module documentation for
/// the rules applied.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ComputedFacts {
    snapshot: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    records: Option<ProtectedValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    persons: Option<ProtectedValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_coverage: Option<TimeCoverage>,
    regions: Vec<Region>,
    #[serde(skip_serializing_if = "Option::is_none")]
    age_range: Option<AgeRange>,
    code_systems: Vec<String>,
    frequent_codes: Vec<FrequentCode>,
    variables: Vec<Variable>,
}

/// A value released under a protecting profile: an exact (unprotected)
/// value never enters the public catalogue.
fn protected(v: &ProtectedValue) -> bool {
    v.precision() != Precision::Exact
}

fn shown(v: &ProtectedValue) -> bool {
    protected(v) && !v.is_suppressed() && v.value().is_some()
}

/// The published age range of banded counts: the bands with a shown
/// count, from the youngest band's start to the oldest band's end.
#[must_use]
pub fn age_range(bands: &[(AgeBand, ProtectedValue)]) -> Option<AgeRange> {
    let mut shown_bands: Vec<AgeBand> = bands
        .iter()
        .filter(|(_, v)| shown(v))
        .map(|(b, _)| *b)
        .collect();
    shown_bands.sort();
    let first = shown_bands.first()?;
    let max = shown_bands
        .iter()
        .try_fold(0u32, |acc, b| b.to.map(|to| acc.max(to)));
    Some(AgeRange {
        min: first.from,
        max,
    })
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn month_end(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|n| n.pred_opt())
        .unwrap_or(d)
}

fn share(present: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let s = present.min(total) as f64 / total as f64;
    (s * 1000.0).round() / 1000.0
}

impl ComputedFacts {
    /// Apply the release rules to what the caller measured.
    #[must_use]
    pub fn new(input: FactsInput) -> ComputedFacts {
        let time_coverage = input.dates.map(|(a, b)| {
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            TimeCoverage {
                start: month_start(a),
                end: month_end(b),
            }
        });
        let mut regions: BTreeMap<String, ProtectedValue> = BTreeMap::new();
        for (code, v) in input.regions {
            if shown(&v) {
                regions.insert(code, v);
            }
        }
        let mut codes: Vec<FrequentCode> = input
            .codes
            .into_iter()
            .filter(|c| shown(&c.persons))
            .collect();
        codes.sort_by(|a, b| {
            b.persons
                .value()
                .cmp(&a.persons.value())
                .then_with(|| a.system.cmp(&b.system))
                .then_with(|| a.code.cmp(&b.code))
        });
        codes.truncate(MAX_FREQUENT_CODES);
        let mut code_systems = input.code_systems;
        code_systems.sort();
        code_systems.dedup();
        let variables = input
            .variables
            .into_iter()
            .map(|(name, kind, present, total)| Variable {
                name,
                kind,
                completeness: share(present, total),
            })
            .collect();
        ComputedFacts {
            snapshot: input.snapshot,
            records: input.records.filter(protected),
            persons: input.persons.filter(protected),
            time_coverage,
            regions: regions
                .into_iter()
                .map(|(code, persons)| Region { code, persons })
                .collect(),
            age_range: age_range(&input.age_bands),
            code_systems,
            frequent_codes: codes,
            variables,
        }
    }

    /// The snapshot the facts come from.
    #[must_use]
    pub fn snapshot(&self) -> &str {
        &self.snapshot
    }

    /// Event records (released).
    #[must_use]
    pub fn records(&self) -> Option<&ProtectedValue> {
        self.records.as_ref()
    }

    /// Distinct persons (released).
    #[must_use]
    pub fn persons(&self) -> Option<&ProtectedValue> {
        self.persons.as_ref()
    }

    /// Time covered, in whole months.
    #[must_use]
    pub fn time_coverage(&self) -> Option<TimeCoverage> {
        self.time_coverage
    }

    /// Regions with a shown person count, by code.
    #[must_use]
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// The banded age range.
    #[must_use]
    pub fn age_range(&self) -> Option<AgeRange> {
        self.age_range
    }

    /// Code systems the data use.
    #[must_use]
    pub fn code_systems(&self) -> &[String] {
        &self.code_systems
    }

    /// The most frequent codes with a shown count, most frequent first.
    #[must_use]
    pub fn frequent_codes(&self) -> &[FrequentCode] {
        &self.frequent_codes
    }

    /// Variables with their completeness.
    #[must_use]
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use halsohub_disclosure::{Profile, Protector, Release};
    use proptest::prelude::*;

    /// A count released under the `rounded` profile (threshold 5, rounded
    /// to 5), as the disclosure crate gives it.
    pub(crate) fn released(n: u64) -> ProtectedValue {
        let profile = Profile::rounded();
        let p = Protector::new(
            &profile,
            &Release {
                secret: b"catalogue-test",
            },
        )
        .unwrap();
        p.count(n)
    }

    fn band(from: u32, to: Option<u32>) -> AgeBand {
        AgeBand { from, to }
    }

    #[test]
    fn suppressed_regions_and_codes_are_left_out() {
        let facts = ComputedFacts::new(FactsInput {
            snapshot: "s1".into(),
            regions: vec![("01".into(), released(120)), ("25".into(), released(2))],
            codes: vec![
                FrequentCode {
                    system: "icd10se".into(),
                    code: "I21".into(),
                    persons: released(3),
                },
                FrequentCode {
                    system: "icd10se".into(),
                    code: "E11".into(),
                    persons: released(400),
                },
                FrequentCode {
                    system: "icd10se".into(),
                    code: "I10".into(),
                    persons: released(900),
                },
            ],
            ..FactsInput::default()
        });
        let regions: Vec<&str> = facts.regions().iter().map(|r| r.code.as_str()).collect();
        assert_eq!(regions, vec!["01"]);
        let codes: Vec<&str> = facts
            .frequent_codes()
            .iter()
            .map(|c| c.code.as_str())
            .collect();
        assert_eq!(codes, vec!["I10", "E11"]);
    }

    #[test]
    fn exact_values_are_never_kept() {
        let exact = {
            let profile = Profile::exact();
            Protector::new(&profile, &Release { secret: b"" })
                .unwrap()
                .count(1234)
        };
        assert_eq!(exact.precision(), Precision::Exact);
        let facts = ComputedFacts::new(FactsInput {
            records: Some(exact.clone()),
            persons: Some(exact.clone()),
            regions: vec![("01".into(), exact.clone())],
            codes: vec![FrequentCode {
                system: "icd10se".into(),
                code: "I10".into(),
                persons: exact,
            }],
            ..FactsInput::default()
        });
        assert!(facts.records().is_none());
        assert!(facts.persons().is_none());
        assert!(facts.regions().is_empty());
        assert!(facts.frequent_codes().is_empty());
    }

    #[test]
    fn ages_are_the_bounds_of_shown_bands() {
        let bands = vec![
            (band(0, Some(9)), released(1)),
            (band(10, Some(19)), released(50)),
            (band(20, Some(29)), released(80)),
            (band(80, Some(89)), released(30)),
            (band(90, None), released(2)),
        ];
        assert_eq!(
            age_range(&bands),
            Some(AgeRange {
                min: 10,
                max: Some(89)
            })
        );
        let open = vec![
            (band(40, Some(49)), released(50)),
            (band(90, None), released(40)),
        ];
        assert_eq!(age_range(&open), Some(AgeRange { min: 40, max: None }));
        assert_eq!(age_range(&[(band(0, Some(9)), released(1))]), None);
    }

    #[test]
    fn time_coverage_is_widened_to_months() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let facts = ComputedFacts::new(FactsInput {
            dates: Some((d(2016, 3, 17), d(2024, 12, 5))),
            ..FactsInput::default()
        });
        assert_eq!(
            facts.time_coverage(),
            Some(TimeCoverage {
                start: d(2016, 3, 1),
                end: d(2024, 12, 31)
            })
        );
        assert_eq!(month_end(d(2024, 2, 3)), d(2024, 2, 29));
    }

    #[test]
    fn completeness_is_a_rounded_share() {
        assert_eq!(share(0, 0), 0.0);
        assert_eq!(share(9987, 10000), 0.999);
        assert_eq!(share(5, 3), 1.0);
    }

    proptest! {
        /// The published range covers every shown band and no age outside
        /// the shown bands' bounds, and is always a band bound.
        #[test]
        fn age_range_is_the_hull_of_shown_bands(
            counts in proptest::collection::vec(0u64..40, 10)
        ) {
            let bands: Vec<(AgeBand, ProtectedValue)> = counts
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let from = i as u32 * 10;
                    let to = if i == 9 { None } else { Some(from + 9) };
                    (band(from, to), released(*n))
                })
                .collect();
            let shown_bands: Vec<AgeBand> = bands
                .iter()
                .filter(|(_, v)| !v.is_suppressed())
                .map(|(b, _)| *b)
                .collect();
            match age_range(&bands) {
                None => prop_assert!(shown_bands.is_empty()),
                Some(r) => {
                    prop_assert_eq!(r.min, shown_bands[0].from);
                    let last = shown_bands[shown_bands.len() - 1];
                    prop_assert_eq!(r.max, last.to);
                    prop_assert_eq!(r.min % 10, 0);
                }
            }
        }
    }
}
