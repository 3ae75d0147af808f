//! The query model (version 1): what a feasibility question says.
//!
//! JSON is the canonical form; YAML is accepted from files. See
//! `docs/query-language.md` for the language with a worked example of every
//! feature. Parse with [`crate::parse_json`] / [`crate::parse_yaml`], which
//! also validate; a `Query` built in code should be checked with
//! [`crate::validate`].

use std::fmt;

use chrono::NaiveDate;
use halsohub_store::{Domain, Setting};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The only query language version this crate understands.
pub const QUERY_VERSION: u32 = 1;

/// A whole feasibility question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// Language version; must be 1.
    pub version: u32,
    /// The index event that time-relative criteria refer to. Patients without
    /// an index event are not in the cohort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexDef>,
    /// Inclusion and exclusion steps, combined with AND, in order (the order
    /// matters only for the attrition funnel).
    #[serde(default)]
    pub criteria: Vec<Step>,
    /// What to compute over the cohort.
    pub output: Output,
}

/// Definition of the index event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexDef {
    /// The events that can be the index event. `occurrence`, `at_least` and
    /// `within` are not allowed here.
    pub event: EventCriterion,
    /// Which matching event is the index: the patient's first ever (default),
    /// last, or any (a patient is in the cohort when at least one of their
    /// matching dates satisfies every criterion).
    #[serde(default = "Occurrence::first")]
    pub occurrence: Occurrence,
}

/// One inclusion or exclusion step. Exactly one of `include` / `exclude`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Display name of the step in the funnel (not part of the query's
    /// meaning, so not part of its hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Keep the patients who meet this criterion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Criterion>,
    /// Remove the patients who meet this criterion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<Criterion>,
}

impl Step {
    /// The step as a criterion (`exclude: X` is `not: X`), if well formed.
    pub fn as_criterion(&self) -> Option<Criterion> {
        match (&self.include, &self.exclude) {
            (Some(c), None) => Some(c.clone()),
            (None, Some(c)) => Some(Criterion::Not(Box::new(c.clone()))),
            _ => None,
        }
    }
}

/// A criterion on a patient, nestable to any depth.
// Variants hold their data inline so queries are plain data to build and match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Criterion {
    /// The patient has matching events.
    Event(EventCriterion),
    /// A fact about the person (sex, age, residence, ...).
    Person(PersonCriterion),
    /// All children hold.
    And(Vec<Criterion>),
    /// At least one child holds.
    Or(Vec<Criterion>),
    /// The child does not hold.
    Not(Box<Criterion>),
}

/// "The patient has at least `at_least` matching events (on distinct days)".
///
/// Evaluation order for one patient: (1) events of `domain` whose code is in
/// `codes` and which pass `value`, `setting`, `provider`, `provider_region`
/// and `source`; (2) `occurrence` keeps only the first or last of those by
/// date; (3) `date` and (4) `within` keep those in range; (5) at least
/// `at_least` distinct days must remain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventCriterion {
    pub domain: Domain,
    /// Code sets (union). Absent means any code of the domain; an empty
    /// list is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<Vec<CodeSet>>,
    /// Lab value comparison (domain `lab_result` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ValueFilter>,
    /// Absolute date range on the event's start date (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<DateRange>,
    /// Care settings (any of).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<Vec<Setting>>,
    /// Provider codes (any of).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Vec<String>>,
    /// Region (län code) of the provider (any of).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_region: Option<Vec<String>>,
    /// Source kinds (`par_inpatient`, `lab`, ...) (any of).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Vec<String>>,
    /// Use the patient's first ever / last / any matching event.
    #[serde(default)]
    pub occurrence: Occurrence,
    /// Minimum number of distinct days with a matching event.
    #[serde(default = "one")]
    pub at_least: u32,
    /// Window relative to the index date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Window>,
}

fn one() -> u32 {
    1
}

impl EventCriterion {
    /// A criterion on `domain` with every option at its default.
    pub fn new(domain: Domain) -> EventCriterion {
        EventCriterion {
            domain,
            codes: None,
            value: None,
            date: None,
            setting: None,
            provider: None,
            provider_region: None,
            source: None,
            occurrence: Occurrence::Any,
            at_least: 1,
            within: None,
        }
    }
}

/// One code set: either explicit codes of one system (with their hierarchy
/// descendants when `descendants` is true), or a named code list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSet {
    /// Code system id (`icd10se`, `atc`, `kva`, `npu`, `loinc`, `snomedct`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Codes as written (`E11.9`, `e119`, `A10BA02`); an ICD-10 block is
    /// written `E10-E14`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<Vec<String>>,
    /// Include every descendant of each code in the hierarchy.
    #[serde(default)]
    pub descendants: bool,
    /// Name of a code list instead of `system` + `codes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
}

impl CodeSet {
    /// Explicit codes of one system.
    pub fn codes(system: &str, codes: &[&str], descendants: bool) -> CodeSet {
        CodeSet {
            system: Some(system.to_string()),
            codes: Some(codes.iter().map(|c| c.to_string()).collect()),
            descendants,
            list: None,
        }
    }
}

/// Which of a patient's matching events counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Occurrence {
    First,
    Last,
    #[default]
    Any,
}

impl Occurrence {
    fn first() -> Occurrence {
        Occurrence::First
    }
}

/// Comparison of a lab value, in `unit`. Results written with a comparator
/// (`<5`) match only when every value they allow satisfies the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lte: Option<f64>,
    /// Unit of the thresholds (`mmol/L`); results in another unit of the
    /// same dimension are converted, others never match.
    pub unit: String,
}

/// Inclusive date range; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
}

/// Days relative to the index date, inclusive: `[-365, 0]` is the year
/// before up to the index day; `null` leaves an end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub days: [Option<i32>; 2],
}

/// A fact about the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PersonCriterion {
    /// Sex from the population register.
    Sex(Sex),
    /// Age in whole years at a date or at the index event (inclusive).
    Age(AgeRange),
    /// Birth year range (inclusive).
    BirthYear(YearRange),
    /// Region (län) of residence on a date or at the index event.
    Region(RegionFilter),
    /// Alive (born and not dead) on a date or at the index event.
    Alive(AliveFilter),
}

/// Sex as in the population register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Sex {
    F,
    M,
}

/// Inclusive age range; at least one end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    pub at: At,
}

/// Inclusive year range; at least one end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i32>,
}

/// Residence in any of `regions` (two-digit län codes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionFilter {
    pub regions: Vec<String>,
    pub at: At,
}

/// Alive at a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliveFilter {
    pub at: At,
}

/// A point in time: a fixed date, or the index date. Written `"index"` or
/// `"YYYY-MM-DD"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum At {
    Index,
    Date(NaiveDate),
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Index => f.write_str("index"),
            At::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        }
    }
}

impl Serialize for At {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "index" {
            return Ok(At::Index);
        }
        NaiveDate::parse_from_str(&s, "%Y-%m-%d")
            .map(At::Date)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "expected \"index\" or a date YYYY-MM-DD, found {s:?}"
                ))
            })
    }
}

/// What to compute.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Output {
    /// Number of unique patients in the cohort.
    Count {},
    /// Number of patients remaining after the index step (if any) and after
    /// each step, in order.
    Funnel {},
    /// Cohort counts per stratum of one dimension or the cross of two.
    Strata {
        by: Vec<Dimension>,
        /// Lower bounds of the age bands, ascending, starting at 0
        /// (default 0, 10, ..., 90).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        age_bands: Option<Vec<u32>>,
        /// When age and region are taken (default: the index date).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<At>,
    },
    /// Numerator cohort (the cohort AND the numerator steps) within the
    /// denominator cohort.
    Proportion { numerator: Vec<Step> },
    /// Cohort patients newly meeting `event` (their first ever matching
    /// event) per period between `from` and `to`.
    TimeSeries {
        event: EventCriterion,
        interval: Interval,
        from: NaiveDate,
        to: NaiveDate,
        /// Optional split by one dimension, taken at the first event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Dimension>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        age_bands: Option<Vec<u32>>,
    },
}

/// A stratification dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Sex,
    AgeBand,
    Region,
    Provider,
    CalendarYear,
}

impl Dimension {
    /// Name as written in queries and results.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Sex => "sex",
            Dimension::AgeBand => "age_band",
            Dimension::Region => "region",
            Dimension::Provider => "provider",
            Dimension::CalendarYear => "calendar_year",
        }
    }
}

/// Period length of a time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Month,
    Year,
}

/// Default age bands: 0-9, 10-19, ..., 90+.
pub const DEFAULT_AGE_BANDS: [u32; 10] = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90];
