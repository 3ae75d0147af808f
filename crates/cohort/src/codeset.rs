//! Code sets resolved to matchers, lab unit conversion, and the small
//! calendar helpers that both evaluators share (so that they agree on what
//! "age", "matches" and "converted value" mean).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use halsohub_codes::System;
use halsohub_codes::units::{self, Analyte};
use halsohub_store::Comparator;

use crate::query::{CodeSet, ValueFilter};

/// Code systems a query may always name. Others may be named when the
/// hub holds codes of them ([`CodeLists::add_systems`]).
pub const KNOWN_SYSTEMS: [&str; 9] = [
    "icd10se", "icd10cm", "icd10gm", "icd10", "atc", "kva", "npu", "loinc", "snomedct",
];

/// The editions of ICD-10 (Swedish, US clinical modification, German
/// modification, WHO): one code shape, one hierarchy (blocks, categories).
pub const ICD10_SYSTEMS: [&str; 4] = ["icd10se", "icd10cm", "icd10gm", "icd10"];

/// Systems with a hierarchy that `descendants: true` can use.
pub const HIERARCHICAL_SYSTEMS: [&str; 6] =
    ["icd10se", "icd10cm", "icd10gm", "icd10", "atc", "kva"];

/// Normalise a written code the way ingest stores it: trimmed, upper case,
/// without dots and spaces (`e11.9` → `E119`).
pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '.')
        .flat_map(char::to_uppercase)
        .collect()
}

/// One resolved code pattern within a system.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pattern {
    /// Exactly this code.
    Exact(String),
    /// This code and every descendant (every code starting with it).
    Prefix(String),
    /// An ICD-10 block `lo-hi`: codes whose three-character category is in
    /// `lo..=hi`.
    Block(String, String),
}

impl Pattern {
    /// Does `code` (normalised) match?
    pub fn matches(&self, code: &str) -> bool {
        match self {
            Pattern::Exact(c) => code == c,
            Pattern::Prefix(p) => code.starts_with(p.as_str()),
            Pattern::Block(lo, hi) => {
                let cat = code.get(..3).unwrap_or(code);
                cat.len() == 3 && cat >= lo.as_str() && cat <= hi.as_str()
            }
        }
    }
}

/// A resolved code set: per system, the patterns that match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matcher {
    pub by_system: BTreeMap<String, Vec<Pattern>>,
}

impl Matcher {
    /// Does (`system`, `code`) match any pattern?
    pub fn matches(&self, system: &str, code: &str) -> bool {
        self.by_system
            .get(system)
            .is_some_and(|ps| ps.iter().any(|p| p.matches(code)))
    }
}

/// Named code lists a query may refer to with `{"list": "name"}`, and the
/// code systems beyond [`KNOWN_SYSTEMS`] that a query may name (those the
/// hub holds codes of). Each list is a union of explicit code sets (no
/// nested lists), with a title. [`CodeLists::builtin`] has the hub's own
/// lists; [`CodeLists::load`] adds a list file's (`crate::lists`).
#[derive(Debug, Clone, Default)]
pub struct CodeLists {
    lists: BTreeMap<String, NamedList>,
    systems: BTreeSet<String>,
}

/// One named list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamedList {
    pub title: String,
    pub sets: Vec<CodeSet>,
}

impl CodeLists {
    /// No lists.
    pub fn new() -> CodeLists {
        CodeLists::default()
    }

    /// Add or replace list `name`. Sets that themselves name a list are
    /// ignored when resolving.
    pub fn insert(&mut self, name: &str, sets: Vec<CodeSet>) {
        self.insert_titled(name, "", sets);
    }

    /// Add or replace list `name` with its title; true when it replaced one.
    pub fn insert_titled(&mut self, name: &str, title: &str, sets: Vec<CodeSet>) -> bool {
        self.lists
            .insert(
                name.to_string(),
                NamedList {
                    title: title.to_string(),
                    sets,
                },
            )
            .is_some()
    }

    /// The sets of list `name`.
    pub fn get(&self, name: &str) -> Option<&[CodeSet]> {
        self.lists.get(name).map(|l| l.sets.as_slice())
    }

    /// Every list, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &NamedList)> {
        self.lists.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Allow queries to name these code systems too (the systems of the
    /// codes a snapshot holds: `icd10cm` from an OMOP source, a FHIR
    /// system URI, ...).
    pub fn add_systems<S: AsRef<str>>(&mut self, systems: impl IntoIterator<Item = S>) {
        for s in systems {
            let s = s.as_ref();
            if !s.is_empty() && !KNOWN_SYSTEMS.contains(&s) {
                self.systems.insert(s.to_string());
            }
        }
    }

    /// May a query name `system`?
    pub fn knows_system(&self, system: &str) -> bool {
        KNOWN_SYSTEMS.contains(&system) || self.systems.contains(system)
    }

    /// The systems a query may name: the built-in ones, then the others.
    pub fn systems(&self) -> Vec<&str> {
        KNOWN_SYSTEMS
            .iter()
            .copied()
            .chain(self.systems.iter().map(String::as_str))
            .collect()
    }
}

/// Why a code in a query cannot be used.
pub(crate) fn check_code(system: &str, code: &str, descendants: bool) -> Result<Pattern, String> {
    if !KNOWN_SYSTEMS.contains(&system) {
        // Another system's codes are stored as written (trimmed): match so.
        let t = code.trim();
        if t.is_empty() {
            return Err("empty code".into());
        }
        if t.chars().any(char::is_control) {
            return Err(format!("code {code:?} holds a control character"));
        }
        if descendants {
            return Err(format!(
                "{system} has no hierarchy here; list its codes explicitly (descendants: false)"
            ));
        }
        return Ok(Pattern::Exact(t.to_string()));
    }
    let c = normalise_code(code);
    if c.is_empty() {
        return Err("empty code".into());
    }
    if !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-') {
        return Err(format!("code {code:?} has characters no {system} code has"));
    }
    // A dash is a range of categories in ICD-10, and part of the code
    // elsewhere (LOINC `4548-4`).
    let range = if ICD10_SYSTEMS.contains(&system) {
        c.split_once('-')
    } else {
        None
    };
    if let Some((lo, hi)) = range {
        if !descendants {
            return Err(format!(
                "the block {code:?} is a range of categories; set \"descendants\": true"
            ));
        }
        if !is_icd_category(lo) || !is_icd_category(hi) {
            return Err(format!(
                "{code:?} is not an ICD-10 block: write two three-character categories, like E10-E14"
            ));
        }
        if lo > hi {
            return Err(format!("block {code:?} is inverted: {lo} comes after {hi}"));
        }
        return Ok(Pattern::Block(lo.to_string(), hi.to_string()));
    }
    if descendants && !HIERARCHICAL_SYSTEMS.contains(&system) {
        return Err(format!(
            "{system} has no hierarchy here; list its codes explicitly (descendants: false)"
        ));
    }
    let icd_ok = c.len() >= 3 && is_icd_category(c.get(..3).unwrap_or(""));
    let atc_ok = matches!(c.len(), 1 | 3 | 4 | 5 | 7)
        && c.chars().next().is_some_and(|ch| ch.is_ascii_alphabetic());
    match system {
        s if ICD10_SYSTEMS.contains(&s) && !icd_ok => {
            return Err(format!(
                "{code:?} is not an ICD-10 code (a letter, two digits, then optional detail)"
            ));
        }
        "atc" if !atc_ok => {
            return Err(format!(
                "{code:?} is not an ATC code of any level (A, A10, A10B, A10BA, A10BA02)"
            ));
        }
        _ => {}
    }
    if descendants {
        return Ok(Pattern::Prefix(c));
    }
    // One code: normalised and checked exactly as ingest does (check
    // digits, shapes), so a code that no event can carry is an error.
    let rules = match system {
        "icd10gm" | "icd10" => System::Icd10Cm,
        s => System::parse(s).unwrap_or(System::Other(s.to_string())),
    };
    halsohub_codes::normalise(&rules, code)
        .map(Pattern::Exact)
        .map_err(|e| format!("{system} code {:?}: {}", e.code, e.problem))
}

fn is_icd_category(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_digit()
}

/// Resolve validated code sets (lists expanded through `lists`) to a
/// matcher. Invalid entries are skipped: validation reports them first.
pub fn resolve(sets: &[CodeSet], lists: &CodeLists) -> Matcher {
    let mut m = Matcher::default();
    let mut add = |set: &CodeSet| {
        if let (Some(system), Some(codes)) = (&set.system, &set.codes) {
            for code in codes {
                if let Ok(p) = check_code(system, code, set.descendants) {
                    m.by_system.entry(system.clone()).or_default().push(p);
                }
            }
        }
    };
    for set in sets {
        match &set.list {
            Some(name) => {
                for inner in lists.get(name).unwrap_or(&[]) {
                    if inner.list.is_none() {
                        add(inner);
                    }
                }
            }
            None => add(set),
        }
    }
    for ps in m.by_system.values_mut() {
        ps.sort();
        ps.dedup();
    }
    m
}

// ---------------------------------------------------------------------------
// Units
//
// Unit spellings and conversions are halsohub-codes' (`units::convert`),
// the rule ingest stores canonical values by: a threshold is converted into
// the stored unit once, by that rule, and the stored values are compared
// with it as they are (no per-value floating-point factor).

/// The one analyte every code of `sets` measures (lists expanded), if
/// there is exactly one; its conversions then apply to thresholds written
/// in units that are not a power of ten of the stored one (mg/dL for
/// creatinine).
pub fn analyte_of(sets: &[CodeSet], lists: &CodeLists) -> Option<&'static Analyte> {
    let found = analytes_of(sets, lists);
    match found.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// The analytes the exact lab codes of `sets` measure (lists expanded),
/// each once, in the order met.
pub fn analytes_of(sets: &[CodeSet], lists: &CodeLists) -> Vec<&'static Analyte> {
    let mut out: Vec<&'static Analyte> = Vec::new();
    let mut add = |set: &CodeSet| {
        let (Some(system), Some(codes)) = (&set.system, &set.codes) else {
            return;
        };
        let Some(sys) = System::parse(system) else {
            return;
        };
        for code in codes {
            if let Some(a) = units::analyte_for(&sys, code)
                && !out.iter().any(|x| x.id == a.id)
            {
                out.push(a);
            }
        }
    };
    for set in sets {
        match &set.list {
            Some(name) => lists
                .get(name)
                .unwrap_or(&[])
                .iter()
                .filter(|inner| inner.list.is_none())
                .for_each(&mut add),
            None => add(set),
        }
    }
    out
}

/// A lab filter's thresholds converted into one stored unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredFilter {
    pub gt: Option<f64>,
    pub gte: Option<f64>,
    pub lt: Option<f64>,
    pub lte: Option<f64>,
}

/// `filter`'s thresholds in `stored_unit`, by halsohub-codes' conversion
/// rule (`analyte`: the criterion's one analyte, if any); `None` when the
/// units cannot be converted (such results never match).
pub fn filter_in_unit(
    filter: &ValueFilter,
    stored_unit: &str,
    analyte: Option<&Analyte>,
) -> Option<StoredFilter> {
    let conv = |t: Option<f64>| -> Result<Option<f64>, ()> {
        t.map(|t| units::convert(t, &filter.unit, stored_unit, analyte).map_err(|_| ()))
            .transpose()
    };
    Some(StoredFilter {
        gt: conv(filter.gt).ok()?,
        gte: conv(filter.gte).ok()?,
        lt: conv(filter.lt).ok()?,
        lte: conv(filter.lte).ok()?,
    })
}

/// Does a lab result (`value` with optional `comparator`, in `unit`) satisfy
/// the filter for every true value it allows? The reference evaluator's
/// form of [`lab_matches_stored`].
pub fn lab_matches(
    value: Option<f64>,
    comparator: Option<Comparator>,
    unit: Option<&str>,
    filter: &ValueFilter,
    analyte: Option<&Analyte>,
) -> bool {
    let Some(unit) = unit else {
        return false;
    };
    filter_in_unit(filter, unit, analyte).is_some_and(|f| lab_matches_stored(value, comparator, &f))
}

/// Does a lab result satisfy thresholds already converted into its unit,
/// for every true value it allows? Shared by both evaluators.
pub fn lab_matches_stored(
    value: Option<f64>,
    comparator: Option<Comparator>,
    filter: &StoredFilter,
) -> bool {
    let Some(v) = value else {
        return false;
    };
    if !v.is_finite() {
        return false;
    }
    // The set of true values the result allows: lower and upper ends, each
    // with whether it is included.
    let (lo, lo_incl, hi, hi_incl) = match comparator {
        None => (v, true, v, true),
        Some(Comparator::Lt) => (f64::NEG_INFINITY, false, v, false),
        Some(Comparator::Le) => (f64::NEG_INFINITY, false, v, true),
        Some(Comparator::Gt) => (v, false, f64::INFINITY, false),
        Some(Comparator::Ge) => (v, true, f64::INFINITY, false),
    };
    if let Some(t) = filter.gt
        && !(lo > t || (!lo_incl && lo >= t))
    {
        return false;
    }
    if let Some(t) = filter.gte
        && lo < t
    {
        return false;
    }
    if let Some(t) = filter.lt
        && !(hi < t || (!hi_incl && hi <= t))
    {
        return false;
    }
    if let Some(t) = filter.lte
        && hi > t
    {
        return false;
    }
    true
}

// ---------------------------------------------------------------------------
// Calendar

/// Age in whole years on `on` of someone born on `birth`; `None` before
/// birth.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> Option<u32> {
    if on < birth {
        return None;
    }
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// Label of the age band of `age` given ascending lower bounds starting at
/// 0: `0-9`, ..., `90+`.
pub fn age_band_label(age: u32, bands: &[u32]) -> String {
    let i = bands.partition_point(|b| *b <= age);
    let lo = if i == 0 { 0 } else { bands[i - 1] };
    match bands.get(i) {
        Some(next) => format!("{lo}-{}", next.saturating_sub(1)),
        None => format!("{lo}+"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn code_patterns() {
        assert_eq!(normalise_code(" e11.9 "), "E119");
        let p = check_code("icd10se", "E10-E14", true).unwrap();
        assert!(p.matches("E119") && p.matches("E14") && !p.matches("E15") && !p.matches("E0"));
        assert!(check_code("icd10se", "E14-E10", true).is_err());
        assert!(check_code("icd10se", "E10-E14", false).is_err());
        assert!(check_code("npu", "NPU27300", true).is_err());
        assert!(check_code("atc", "A10B", true).unwrap().matches("A10BA02"));
        assert!(
            !check_code("atc", "A10BA02", false)
                .unwrap()
                .matches("A10BA03")
        );
        assert!(check_code("atc", "A1", false).is_err());
        assert!(check_code("icd10se", "11", false).is_err());
    }

    #[test]
    fn thresholds_convert_into_the_stored_unit_exactly() {
        let f = |lte: f64, unit: &str| ValueFilter {
            gt: None,
            gte: None,
            lt: None,
            lte: Some(lte),
            unit: unit.into(),
        };
        // The defect: 72 µmol/L against "lte 0.072 mmol/L" was missed.
        let u = Some("umol/L");
        assert!(lab_matches(Some(72.0), None, u, &f(0.072, "mmol/L"), None));
        assert!(lab_matches(Some(72.0), None, u, &f(72.0, "µmol/l"), None));
        assert!(!lab_matches(Some(73.0), None, u, &f(0.072, "mmol/L"), None));
        // Spellings ingest accepts are accepted here.
        let egfr = Some("mL/min/{1.73_m2}");
        assert!(lab_matches(
            Some(50.0),
            None,
            egfr,
            &f(60.0, "ml/min/1.73m2"),
            None
        ));
        assert!(lab_matches(
            Some(50.0),
            None,
            egfr,
            &f(60.0, "mL/min/1,73m2"),
            None
        ));
        // Ratio units of one dimension convert by their prefixes.
        let mm = Some("mmol/mol");
        assert!(lab_matches(
            Some(48.0),
            None,
            mm,
            &f(0.048, "mol/mol"),
            None
        ));
        assert!(lab_matches(
            Some(48.0),
            None,
            mm,
            &f(48000.0, "umol/mol"),
            None
        ));
        // Other dimensions: only through the analyte's conversion.
        assert!(!lab_matches(Some(48.0), None, mm, &f(6.5, "%"), None));
        let hba1c = units::analyte("hba1c");
        assert!(lab_matches(Some(48.0), None, mm, &f(6.5, "%"), hba1c));
        assert!(!lab_matches(Some(49.0), None, mm, &f(6.5, "%"), hba1c));
        assert_eq!(filter_in_unit(&f(1.0, "mmol/L"), "g/L", None), None);
    }

    #[test]
    fn comparators_match_only_when_certain() {
        let f = |gt, gte, lt, lte| ValueFilter {
            gt,
            gte,
            lt,
            lte,
            unit: "mmol/L".into(),
        };
        let u = Some("mmol/L");
        let lab_matches = |v, c, u, f: &ValueFilter| lab_matches(v, c, u, f, None);
        assert!(lab_matches(
            Some(8.0),
            None,
            u,
            &f(Some(7.0), None, None, None)
        ));
        assert!(!lab_matches(
            Some(7.0),
            None,
            u,
            &f(Some(7.0), None, None, None)
        ));
        assert!(lab_matches(
            Some(7.0),
            None,
            u,
            &f(None, Some(7.0), None, None)
        ));
        // "<5" is certainly < 5 and < 6, but not certainly < 4 or > 1.
        let lt = Some(Comparator::Lt);
        assert!(lab_matches(
            Some(5.0),
            lt,
            u,
            &f(None, None, Some(5.0), None)
        ));
        assert!(lab_matches(
            Some(5.0),
            lt,
            u,
            &f(None, None, None, Some(5.0))
        ));
        assert!(!lab_matches(
            Some(5.0),
            lt,
            u,
            &f(None, None, Some(4.0), None)
        ));
        assert!(!lab_matches(
            Some(5.0),
            lt,
            u,
            &f(Some(1.0), None, None, None)
        ));
        // ">=7" is certainly >= 7, not certainly > 7.
        let ge = Some(Comparator::Ge);
        assert!(lab_matches(
            Some(7.0),
            ge,
            u,
            &f(None, Some(7.0), None, None)
        ));
        assert!(!lab_matches(
            Some(7.0),
            ge,
            u,
            &f(Some(7.0), None, None, None)
        ));
        assert!(!lab_matches(None, None, u, &f(Some(1.0), None, None, None)));
        assert!(!lab_matches(
            Some(8.0),
            None,
            Some("g/L"),
            &f(Some(7.0), None, None, None)
        ));
        assert!(lab_matches(
            Some(8000.0),
            None,
            Some("umol/L"),
            &f(Some(7.0), None, None, None)
        ));
    }

    #[test]
    fn ages_and_bands() {
        assert_eq!(age_on(d("2000-02-29"), d("2001-02-28")), Some(0));
        assert_eq!(age_on(d("2000-02-29"), d("2001-03-01")), Some(1));
        assert_eq!(age_on(d("2000-05-10"), d("2040-05-10")), Some(40));
        assert_eq!(age_on(d("2000-05-10"), d("1999-05-10")), None);
        let b = [0, 18, 65];
        assert_eq!(age_band_label(0, &b), "0-17");
        assert_eq!(age_band_label(17, &b), "0-17");
        assert_eq!(age_band_label(18, &b), "18-64");
        assert_eq!(age_band_label(99, &b), "65+");
    }
}
