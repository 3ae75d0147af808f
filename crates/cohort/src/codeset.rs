//! Code sets resolved to matchers, lab unit conversion, and the small
//! calendar helpers that both evaluators share (so that they agree on what
//! "age", "matches" and "converted value" mean).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use halsohub_codes::System;
use halsohub_codes::crosswalk;
use halsohub_codes::units::{self, Analyte};
use halsohub_store::Comparator;

use crate::query::{CodeSet, Criterion, EventCriterion, Output, Query, ValueFilter};

/// One resolved code pattern within a system: halsohub-codes' rule
/// ([`halsohub_codes::Pattern::parse`]), the one ingest's normalisation
/// shares.
pub use halsohub_codes::Pattern;

/// The stable id of the code system a query names (an id, alias or URI
/// read as ingest reads it: `ICD-10` → `icd10se`, `http://loinc.org` →
/// `loinc`); `None` for empty text.
pub fn system_id(name: &str) -> Option<String> {
    System::canonical_id(name)
}

/// The canonical text of one code of a code set: normalised by its
/// system's rules (`e11.9` → `E119`, `e10–e14` → `E10-E14`), or trimmed
/// when it cannot be read (validation reports it).
pub fn canonical_code(system: &str, code: &str, descendants: bool) -> String {
    System::parse(system)
        .and_then(|s| Pattern::parse(&s, code, descendants).ok())
        .map_or_else(|| code.trim().to_owned(), |p| p.to_string())
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
/// code systems beyond halsohub-codes' [`System::KNOWN`] that a query may name (those the
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

    /// The name of a list that covers every code of lab analyte `analyte`
    /// in the NPU ↔ LOINC crosswalk (the list named as the analyte first).
    pub fn covering(&self, analyte: &str) -> Option<String> {
        let covers = |l: &NamedList| {
            let mut codes = Vec::new();
            exact_codes(&l.sets, self, &mut codes);
            crosswalk::npu_loinc()
                .iter()
                .filter(|m| m.analyte == analyte)
                .all(|m| {
                    codes.iter().any(|(s, c)| *s == System::Npu && c == m.npu)
                        && codes
                            .iter()
                            .any(|(s, c)| *s == System::Loinc && c == m.loinc)
                })
        };
        if self.lists.get(analyte).is_some_and(covers) {
            return Some(analyte.to_owned());
        }
        self.lists
            .iter()
            .find(|&(_, l)| covers(l))
            .map(|(name, _)| name.clone())
    }

    /// The name of a list that covers every code of `codes` (system and
    /// normalised code, each with its descendants: a list's pattern covers
    /// it by [`Pattern::covers`]), trying the `preferred` names first, then
    /// every list by name.
    pub fn covering_codes(&self, codes: &[(System, String)], preferred: &[&str]) -> Option<String> {
        let covers = |l: &NamedList| {
            let mut patterns: Vec<(System, Pattern)> = Vec::new();
            each_written_code(&l.sets, self, |sys, code, descendants| {
                if let Ok(p) = Pattern::parse(sys, code, descendants) {
                    patterns.push((sys.clone(), p));
                }
            });
            codes
                .iter()
                .all(|(s, c)| patterns.iter().any(|(ps, p)| ps == s && p.covers(c)))
        };
        if codes.is_empty() {
            return None;
        }
        preferred
            .iter()
            .copied()
            .find(|name| self.lists.get(*name).is_some_and(covers))
            .map(str::to_owned)
            .or_else(|| {
                self.lists
                    .iter()
                    .find(|&(_, l)| covers(l))
                    .map(|(name, _)| name.clone())
            })
    }

    /// Adds, for every lab analyte of the NPU ↔ LOINC crosswalk that no
    /// list covers yet, a list named as the analyte (`crp`, `egfr`, ...)
    /// with its codes in both systems, titled like the built-in lists.
    pub fn add_analyte_lists(&mut self) {
        for a in units::ANALYTES {
            if self.covering(a.id).is_some() || self.lists.contains_key(a.id) {
                continue;
            }
            let rows: Vec<_> = crosswalk::npu_loinc()
                .iter()
                .filter(|m| m.analyte == a.id)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let mut npu: Vec<String> = rows.iter().map(|m| m.npu.to_owned()).collect();
            npu.dedup();
            let loinc: Vec<String> = rows.iter().map(|m| m.loinc.to_owned()).collect();
            let title = format!(
                "{} ({}; LOINC {})",
                a.name,
                npu.join(", "),
                loinc.join(", ")
            );
            let set = |system: &str, codes: Vec<String>| CodeSet {
                list: None,
                system: Some(system.to_owned()),
                codes: Some(codes),
                descendants: false,
            };
            self.insert_titled(a.id, &title, vec![set("npu", npu), set("loinc", loinc)]);
        }
    }

    /// Allow queries to name these code systems too (the systems of the
    /// codes a snapshot holds: a FHIR system URI, an OMOP vocabulary, ...).
    pub fn add_systems<S: AsRef<str>>(&mut self, systems: impl IntoIterator<Item = S>) {
        for s in systems {
            if let Some(sys) = System::parse(s.as_ref())
                && !sys.is_known()
            {
                self.systems.insert(sys.id().to_owned());
            }
        }
    }

    /// May a query name `system` (an id, alias or URI of a known system,
    /// or a system the hub holds codes of)?
    pub fn knows_system(&self, system: &str) -> bool {
        System::parse(system).is_some_and(|s| s.is_known() || self.systems.contains(s.id()))
    }

    /// The systems a query may name: the built-in ones, then the others.
    pub fn systems(&self) -> Vec<&str> {
        System::known()
            .iter()
            .map(System::id)
            .chain(self.systems.iter().map(String::as_str))
            .collect()
    }
}

/// Why a code in a query cannot be used: halsohub-codes' rules
/// ([`Pattern::parse`]) for the system the query names.
pub(crate) fn check_code(system: &str, code: &str, descendants: bool) -> Result<Pattern, String> {
    let sys = System::parse(system).ok_or_else(|| "missing code system".to_owned())?;
    Pattern::parse(&sys, code, descendants).map_err(|e| e.to_string())
}

/// Resolve validated code sets (lists expanded through `lists`) to a
/// matcher. Invalid entries are skipped: validation reports them first.
pub fn resolve(sets: &[CodeSet], lists: &CodeLists) -> Matcher {
    let mut m = Matcher::default();
    let mut add = |set: &CodeSet| {
        if let (Some(system), Some(codes)) = (&set.system, &set.codes) {
            let Some(id) = system_id(system) else {
                return;
            };
            for code in codes {
                if let Ok(p) = check_code(system, code, set.descendants) {
                    m.by_system.entry(id.clone()).or_default().push(p);
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
// Concept harmonisation

/// Calls `f` with every code `sets` write (named lists expanded, one
/// level), its system parsed and the set's `descendants` flag; sets of an
/// unknown system are passed over.
fn each_written_code<'a>(
    sets: &'a [CodeSet],
    lists: &'a CodeLists,
    mut f: impl FnMut(&System, &'a str, bool),
) {
    let mut visit = |set: &'a CodeSet| {
        let (Some(system), Some(codes)) = (&set.system, &set.codes) else {
            return;
        };
        let Some(sys) = System::parse(system) else {
            return;
        };
        for code in codes {
            f(&sys, code, set.descendants);
        }
    };
    for set in sets {
        match &set.list {
            Some(name) => lists
                .get(name)
                .unwrap_or(&[])
                .iter()
                .filter(|inner| inner.list.is_none())
                .for_each(&mut visit),
            None => visit(set),
        }
    }
}

/// The exact codes `sets` name (lists expanded), as system and normalised
/// code, each once.
fn exact_codes(sets: &[CodeSet], lists: &CodeLists, out: &mut Vec<(System, String)>) {
    each_written_code(sets, lists, |sys, code, descendants| {
        if let Ok(Pattern::Exact(c)) = Pattern::parse(sys, code, descendants)
            && !out.iter().any(|(s, x)| s == sys && *x == c)
        {
            out.push((sys.clone(), c));
        }
    });
}

/// The ICD-10 patterns (any edition) `sets` name, lists expanded, each
/// once.
fn icd10_patterns(sets: &[CodeSet], lists: &CodeLists, out: &mut Vec<(System, Pattern)>) {
    each_written_code(sets, lists, |sys, code, descendants| {
        if sys.is_icd10()
            && let Ok(p) = Pattern::parse(sys, code, descendants)
            && !out.iter().any(|(s, x)| s == sys && *x == p)
        {
            out.push((sys.clone(), p));
        }
    });
}

fn criterion_events<'q>(c: &'q Criterion, out: &mut Vec<&'q EventCriterion>) {
    match c {
        Criterion::Event(e) => out.push(e),
        Criterion::Person(_) => {}
        Criterion::And(cs) | Criterion::Or(cs) => {
            for c in cs {
                criterion_events(c, out);
            }
        }
        Criterion::Not(c) => criterion_events(c, out),
    }
}

/// Every event criterion of `query`: the index event, each step's include
/// and exclude, a proportion's numerator and a time series' event.
fn event_criteria(query: &Query) -> Vec<&EventCriterion> {
    let mut out = Vec::new();
    if let Some(index) = &query.index {
        out.push(&index.event);
    }
    let steps = query.criteria.iter().chain(match &query.output {
        Output::Proportion { numerator } => numerator.as_slice(),
        _ => &[],
    });
    for step in steps {
        for c in [&step.include, &step.exclude].into_iter().flatten() {
            criterion_events(c, &mut out);
        }
    }
    if let Output::TimeSeries { event, .. } = &query.output {
        out.push(event);
    }
    out
}

/// Concept-harmonisation warnings for `query` over a snapshot whose
/// events carry codes of `held_systems` (the snapshot's static code-system
/// metadata, e.g. `Engine::systems`), per criterion (index, step,
/// proportion numerator or time-series event):
///
/// * naming a lab analyte in one system (or only part of its codes) where
///   the snapshot also holds the other, halsohub-codes' NPU ↔ LOINC warning
///   ([`halsohub_codes::crosswalk::harmonisation_warnings`]), recommending
///   a named list that covers the analyte in both systems;
/// * naming a diagnosis of the ICD-10 crosswalk in one edition
///   (ICD-10-SE, ICD-10-CM or ICD-10-GM) where the snapshot also holds
///   another edition and the criterion leaves out the counterparts there,
///   its ICD-10 warning
///   ([`halsohub_codes::crosswalk::icd10::diagnosis_warnings`]),
///   recommending a named list that covers the editions.
///
/// No count is involved, so nothing here passes disclosure control.
pub fn harmonisation_warnings<'a>(
    query: &Query,
    lists: &CodeLists,
    held_systems: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let held: BTreeSet<System> = held_systems.into_iter().filter_map(System::parse).collect();
    let mut lab: Vec<Vec<(System, String)>> = Vec::new();
    let mut diagnoses: Vec<Vec<(System, Pattern)>> = Vec::new();
    for e in event_criteria(query) {
        let Some(sets) = &e.codes else {
            continue;
        };
        let mut codes = Vec::new();
        exact_codes(sets, lists, &mut codes);
        if !codes.is_empty() {
            lab.push(codes);
        }
        let mut patterns = Vec::new();
        icd10_patterns(sets, lists, &mut patterns);
        if !patterns.is_empty() {
            diagnoses.push(patterns);
        }
    }
    let mut out =
        crosswalk::harmonisation_warnings(&lab, &held, &|analyte: &str| lists.covering(analyte));
    out.extend(crosswalk::icd10::diagnosis_warnings(
        &diagnoses,
        &held,
        &|codes, preferred| lists.covering_codes(codes, preferred),
    ));
    out
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
    each_written_code(sets, lists, |sys, code, _| {
        if let Some(a) = units::analyte_for(sys, code)
            && !out.iter().any(|x| x.id == a.id)
        {
            out.push(a);
        }
    });
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
    fn diagnosis_warnings_follow_the_query_and_the_held_systems() {
        let lists = CodeLists::builtin();
        let q = |codes: &str| {
            let v: serde_json::Value = serde_json::from_str(&format!(
                r#"{{"version": 1, "criteria": [{{"include": {{"event": {{"domain": "diagnosis", "codes": {codes}}}}}}}], "output": {{"type": "count"}}}}"#
            ))
            .unwrap();
            crate::parse_value(&v, &lists).unwrap()
        };
        let se_only = q(r#"[{"system": "icd10se", "codes": ["E11"], "descendants": true}]"#);
        let w = harmonisation_warnings(&se_only, &lists, ["icd10se", "icd10gm", "atc"]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("ICD-10-GM E11 (equivalent)"), "{}", w[0]);
        assert!(w[0].contains("`type2_diabetes`"), "{}", w[0]);
        assert!(harmonisation_warnings(&se_only, &lists, ["icd10se", "atc"]).is_empty());
        // A list covering every edition, or the counterparts named: none.
        let list = q(r#"[{"list": "type2_diabetes"}]"#);
        assert!(
            harmonisation_warnings(&list, &lists, ["icd10se", "icd10cm", "icd10gm"]).is_empty()
        );
        let both = q(
            r#"[{"system": "icd10se", "codes": ["E11"], "descendants": true}, {"system": "icd10cm", "codes": ["E11"], "descendants": true}]"#,
        );
        assert!(harmonisation_warnings(&both, &lists, ["icd10se", "icd10cm"]).is_empty());
        // A user's list of ICD-10-SE codes only is warned like the codes.
        let mut mine = CodeLists::builtin();
        mine.insert_titled(
            "my_af",
            "",
            vec![CodeSet {
                list: None,
                system: Some("icd10se".into()),
                codes: Some(vec!["I48.0".into(), "I48.1".into()]),
                descendants: false,
            }],
        );
        let v: serde_json::Value = serde_json::from_str(
            r#"{"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis", "codes": [{"list": "my_af"}]}}}], "output": {"type": "count"}}"#,
        )
        .unwrap();
        let query = crate::parse_value(&v, &mine).unwrap();
        let w = harmonisation_warnings(&query, &mine, ["icd10se", "icd10cm"]);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("ICD-10-SE I48.0:") && w[0].contains("ICD-10-CM I48.0 (equivalent)"),
            "{w:?}"
        );
        assert!(w[1].contains("`atrial_fibrillation`"), "{w:?}");
    }

    #[test]
    fn code_patterns() {
        assert_eq!(canonical_code("ICD-10", " e11.9 ", false), "E119");
        assert_eq!(canonical_code("icd10se", "e10–e14", true), "E10-E14");
        assert_eq!(system_id("http://loinc.org"), Some("loinc".into()));
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
