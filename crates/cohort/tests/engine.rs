//! Hand-computed answers on a tiny population, checked on both evaluators.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may unwrap

use std::collections::BTreeSet;

use chrono::NaiveDate;
use halsohub_cohort::reference::{self, Data};
use halsohub_cohort::*;
use halsohub_identity::Pseudonym;
use halsohub_store::{Comparator, Domain, Event, Person, Residence, Setting};

fn pid(i: u8) -> Pseudonym {
    Pseudonym::from_bytes([i; 16])
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn ev(p: u8, domain: Domain, system: &str, code: &str, day: &str) -> Event {
    Event {
        patient: pid(p),
        domain,
        system: system.into(),
        code: code.into(),
        code_known: true,
        start: d(day),
        end: None,
        value: None,
        comparator: None,
        unit: None,
        value_system: None,
        value_code: None,
        value_text: None,
        quantity: None,
        setting: Some(Setting::Outpatient),
        primary: None,
        provider: Some(format!("P{}", p % 2)),
        provider_region: Some("01".into()),
        source: "par".into(),
    }
}

fn lab(p: u8, day: &str, value: f64, cmp: Option<Comparator>, unit: &str) -> Event {
    let mut e = ev(p, Domain::LabResult, "npu", "NPU27300", day);
    e.value = Some(value);
    e.comparator = cmp;
    e.unit = Some(unit.into());
    e
}

struct World {
    events: Vec<Event>,
    persons: Vec<Person>,
    residences: Vec<Residence>,
}

/// Patients:
/// 1: F 1960, E11.9 2020-03-01, metformin 2020-04-01, HbA1c 60 mmol/mol 2020-02-01, region 01
/// 2: M 1990, E11.0 2021-05-01, insulin 2021-01-01, metformin 2021-06-01, HbA1c <40, region 03
/// 3: F 1950, I50 2019-01-01 and 2019-02-01, died 2022-01-01, region 01 then 14 from 2020
/// 4: no person record; E14 2022-07-01
/// 5: M 2010, nothing else
fn world() -> World {
    let events = vec![
        ev(1, Domain::Diagnosis, "icd10se", "E119", "2020-03-01"),
        ev(1, Domain::DispensedDrug, "atc", "A10BA02", "2020-04-01"),
        lab(1, "2020-02-01", 60.0, None, "mmol/mol"),
        ev(2, Domain::Diagnosis, "icd10se", "E110", "2021-05-01"),
        ev(2, Domain::DispensedDrug, "atc", "A10AB01", "2021-01-01"),
        ev(2, Domain::DispensedDrug, "atc", "A10BA02", "2021-06-01"),
        lab(2, "2021-04-01", 40.0, Some(Comparator::Lt), "mmol/mol"),
        ev(3, Domain::Diagnosis, "icd10se", "I50", "2019-01-01"),
        ev(3, Domain::Diagnosis, "icd10se", "I509", "2019-02-01"),
        ev(3, Domain::Diagnosis, "icd10se", "I509", "2019-02-01"),
        ev(4, Domain::Diagnosis, "icd10se", "E14", "2022-07-01"),
    ];
    let person = |p: u8, sex: char, birth: &str, death: Option<&str>| Person {
        patient: pid(p),
        sex: Some(sex),
        birth_date: Some(d(birth)),
        death_date: death.map(d),
    };
    let persons = vec![
        person(1, 'F', "1960-06-15", None),
        person(2, 'M', "1990-01-01", None),
        person(3, 'F', "1950-03-01", Some("2022-01-01")),
        person(5, 'M', "2010-01-01", None),
    ];
    let res = |p: u8, region: &str, from: &str, to: Option<&str>| Residence {
        patient: pid(p),
        region: region.into(),
        municipality: None,
        from: d(from),
        to: to.map(d),
    };
    let residences = vec![
        res(1, "01", "1960-06-15", None),
        res(2, "03", "1990-01-01", None),
        res(3, "01", "1950-03-01", Some("2020-01-01")),
        res(3, "14", "2020-01-01", None),
        res(5, "01", "2010-01-01", None),
    ];
    World {
        events,
        persons,
        residences,
    }
}

fn lists() -> CodeLists {
    let mut l = CodeLists::new();
    l.insert("hf", vec![CodeSet::codes("icd10se", &["I50"], true)]);
    l
}

/// Evaluate on both evaluators, require agreement, return the result.
fn both(json: &str, exclude: &[u8]) -> OutputResult {
    let w = world();
    let q = parse_json(json, &lists()).unwrap_or_else(|e| panic!("{e}"));
    let ex: BTreeSet<Pseudonym> = exclude.iter().map(|i| pid(*i)).collect();
    let data = Data {
        events: &w.events,
        persons: &w.persons,
        residences: &w.residences,
    };
    let r = reference::evaluate(&q, &lists(), data, &ex).unwrap();
    let engine = Engine::build("s000001", &w.events, &w.persons, &w.residences);
    let e = engine
        .evaluate(&q, &lists(), &engine.exclusion(ex.iter()))
        .unwrap();
    assert_eq!(r, e, "engine and reference disagree on {json}");
    r
}

fn count(criteria: &str) -> u64 {
    count_ex(criteria, &[])
}

fn count_ex(criteria: &str, exclude: &[u8]) -> u64 {
    let json =
        format!(r#"{{"version": 1, "criteria": {criteria}, "output": {{"type": "count"}}}}"#);
    match both(&json, exclude) {
        OutputResult::Count { count } => count,
        other => panic!("{other:?}"),
    }
}

const T2D: &str = r#"{"event": {"domain": "diagnosis", "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]}}"#;

#[test]
fn codes_hierarchies_and_lists() {
    assert_eq!(count("[]"), 5);
    assert_eq!(count(&format!(r#"[{{"include": {T2D}}}]"#)), 2);
    assert_eq!(
        count(
            r#"[{"include": {"event": {"domain": "diagnosis", "codes": [{"system": "icd10se", "codes": ["e11.9"]}]}}}]"#
        ),
        1
    );
    assert_eq!(
        count(
            r#"[{"include": {"event": {"domain": "diagnosis", "codes": [{"system": "icd10se", "codes": ["E10-E14"], "descendants": true}]}}}]"#
        ),
        3
    );
    assert_eq!(
        count(r#"[{"include": {"event": {"domain": "diagnosis", "codes": [{"list": "hf"}]}}}]"#),
        1
    );
    assert_eq!(
        count(
            r#"[{"include": {"event": {"domain": "dispensed_drug", "codes": [{"system": "atc", "codes": ["A10"], "descendants": true}]}}}]"#
        ),
        2
    );
    // Opt-outs are never counted.
    assert_eq!(count_ex(&format!(r#"[{{"include": {T2D}}}]"#), &[1]), 1);
    assert_eq!(count_ex("[]", &[1, 4]), 3);
}

#[test]
fn values_counts_dates_and_filters() {
    let hba1c = |filter: &str| {
        count(&format!(
            r#"[{{"include": {{"event": {{"domain": "lab_result", "codes": [{{"system": "npu", "codes": ["NPU27300"]}}], "value": {filter}}}}}}}]"#
        ))
    };
    assert_eq!(hba1c(r#"{"gt": 48, "unit": "mmol/mol"}"#), 1);
    assert_eq!(hba1c(r#"{"lt": 45, "unit": "mmol/mol"}"#), 1); // "<40" is certainly < 45
    assert_eq!(hba1c(r#"{"lt": 30, "unit": "mmol/mol"}"#), 0); // but not certainly < 30
    // HbA1c in % (DCCT) converts by the analyte's master equation, then
    // rounds to whole mmol/mol: 6.5 % is 48 mmol/mol, so the same patients.
    assert_eq!(hba1c(r#"{"gt": 6.5, "unit": "%"}"#), 1);
    assert_eq!(hba1c(r#"{"gt": 6.5, "unit": "% (DCCT)"}"#), 1);
    // Ratio units of the stored unit's dimension scale exactly.
    assert_eq!(hba1c(r#"{"gt": 0.048, "unit": "mol/mol"}"#), 1);
    assert_eq!(hba1c(r#"{"lt": 45000, "unit": "umol/mol"}"#), 1);
    // Two I50 rows on one day count once: 2 distinct days for patient 3.
    let hf = |n: u32| {
        count(&format!(
            r#"[{{"include": {{"event": {{"domain": "diagnosis", "codes": [{{"list": "hf"}}], "at_least": {n}}}}}}}]"#
        ))
    };
    assert_eq!(hf(2), 1);
    assert_eq!(hf(3), 0);
    assert_eq!(
        count(
            r#"[{"include": {"event": {"domain": "diagnosis", "date": {"from": "2021-01-01"}}}}]"#
        ),
        2
    );
    assert_eq!(
        count(r#"[{"include": {"event": {"domain": "diagnosis", "setting": ["inpatient"]}}}]"#),
        0
    );
    assert_eq!(
        count(r#"[{"include": {"event": {"domain": "diagnosis", "provider": ["P1"]}}}]"#),
        2
    );
    assert_eq!(
        count(r#"[{"include": {"event": {"domain": "diagnosis", "source": ["lab"]}}}]"#),
        0
    );
    // First ever metformin in 2021: only patient 2.
    assert_eq!(
        count(
            r#"[{"include": {"event": {"domain": "dispensed_drug", "occurrence": "first", "date": {"from": "2021-01-01"}}}}]"#
        ),
        1
    );
}

#[test]
fn person_criteria_and_booleans() {
    assert_eq!(count(r#"[{"include": {"person": {"sex": "F"}}}]"#), 2);
    assert_eq!(
        count(r#"[{"include": {"person": {"age": {"min": 40, "max": 75, "at": "2024-01-01"}}}}]"#),
        2
    ); // 1 and 3 (age does not ask for alive)
    assert_eq!(
        count(r#"[{"include": {"person": {"birth_year": {"from": 1950, "to": 1969}}}}]"#),
        2
    );
    assert_eq!(
        count(r#"[{"include": {"person": {"region": {"regions": ["01"], "at": "2019-06-01"}}}}]"#),
        3
    );
    assert_eq!(
        count(r#"[{"include": {"person": {"region": {"regions": ["01"], "at": "2021-06-01"}}}}]"#),
        2
    );
    assert_eq!(
        count(r#"[{"include": {"person": {"alive": {"at": "2023-01-01"}}}}]"#),
        3
    );
    // Patient 4 has no person record: not female, and "not female".
    assert_eq!(count(r#"[{"exclude": {"person": {"sex": "F"}}}]"#), 3);
    assert_eq!(
        count(&format!(
            r#"[{{"include": {{"and": [{T2D}, {{"not": {{"person": {{"sex": "M"}}}}}}]}}}}]"#
        )),
        1
    );
    assert_eq!(
        count(&format!(
            r#"[{{"include": {{"or": [{T2D}, {{"event": {{"domain": "diagnosis", "codes": [{{"list": "hf"}}]}}}}]}}}}]"#
        )),
        3
    );
}

const INDEX_T2D: &str = r#""index": {"event": {"domain": "diagnosis", "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]}}"#;

#[test]
fn temporal_windows_and_funnel() {
    // Metformin started within 90 days after T2D, and no insulin before.
    let json = format!(
        r#"{{"version": 1, {INDEX_T2D}, "criteria": [
          {{"label": "metformin", "include": {{"event": {{"domain": "dispensed_drug", "codes": [{{"system": "atc", "codes": ["A10BA02"]}}], "occurrence": "first", "within": {{"days": [0, 90]}}}}}}}},
          {{"label": "no insulin", "exclude": {{"event": {{"domain": "dispensed_drug", "codes": [{{"system": "atc", "codes": ["A10A"], "descendants": true}}], "within": {{"days": [null, -1]}}}}}}}}],
          "output": {{"type": "funnel"}}}}"#
    );
    let OutputResult::Funnel { steps } = both(&json, &[]) else {
        panic!()
    };
    let counts: Vec<u64> = steps.iter().map(|s| s.count).collect();
    assert_eq!(counts, vec![2, 2, 1]);
    assert_eq!(steps[1].label, "metformin");
    assert_eq!(steps[2].kind, "exclude");
    // HbA1c in the 60 days before diagnosis.
    let json = format!(
        r#"{{"version": 1, {INDEX_T2D}, "criteria": [{{"include": {{"event": {{"domain": "lab_result", "within": {{"days": [-60, 0]}}}}}}}}], "output": {{"type": "count"}}}}"#
    );
    assert_eq!(both(&json, &[]), OutputResult::Count { count: 2 });
    let json = json.replace("-60", "-20");
    assert_eq!(both(&json, &[]), OutputResult::Count { count: 0 });
    // Age at the index event.
    let json = format!(
        r#"{{"version": 1, {INDEX_T2D}, "criteria": [{{"include": {{"person": {{"age": {{"min": 40, "at": "index"}}}}}}}}], "output": {{"type": "count"}}}}"#
    );
    assert_eq!(both(&json, &[]), OutputResult::Count { count: 1 });
}

#[test]
fn strata_proportion_and_series() {
    let json = format!(
        r#"{{"version": 1, {INDEX_T2D}, "output": {{"type": "strata", "by": ["sex", "age_band"], "age_bands": [0, 18, 40, 65]}}}}"#
    );
    let OutputResult::Strata { cells, total, .. } = both(&json, &[]) else {
        panic!()
    };
    assert_eq!(total, 2);
    assert_eq!(
        cells,
        vec![
            Cell {
                key: vec!["F".into(), "40-64".into()],
                count: 1
            },
            Cell {
                key: vec!["M".into(), "18-39".into()],
                count: 1
            },
        ]
    );
    let json = format!(
        r#"{{"version": 1, {INDEX_T2D}, "output": {{"type": "strata", "by": ["calendar_year", "provider"]}}}}"#
    );
    let OutputResult::Strata { cells, .. } = both(&json, &[]) else {
        panic!()
    };
    let keys: Vec<Vec<String>> = cells.into_iter().map(|c| c.key).collect();
    assert_eq!(
        keys,
        vec![
            vec!["2020".to_string(), "P1".into()],
            vec!["2021".into(), "P0".into()]
        ]
    );

    let json = format!(
        r#"{{"version": 1, "criteria": [{{"include": {T2D}}}], "output": {{"type": "proportion", "numerator": [
          {{"include": {{"event": {{"domain": "lab_result", "value": {{"gte": 48, "unit": "mmol/mol"}}}}}}}}]}}}}"#
    );
    assert_eq!(
        both(&json, &[]),
        OutputResult::Proportion {
            numerator: 1,
            denominator: 2
        }
    );

    let json = r#"{"version": 1, "output": {"type": "time_series",
        "event": {"domain": "dispensed_drug", "codes": [{"system": "atc", "codes": ["A10BA02"]}]},
        "interval": "year", "from": "2019-01-01", "to": "2021-12-31"}}"#;
    let OutputResult::TimeSeries { points, total, .. } = both(json, &[]) else {
        panic!()
    };
    assert_eq!(total, 2);
    let got: Vec<(String, u64)> = points.into_iter().map(|p| (p.period, p.count)).collect();
    assert_eq!(
        got,
        vec![("2019".into(), 0), ("2020".into(), 1), ("2021".into(), 1)]
    );
    let json = json.replace(
        r#""to": "2021-12-31""#,
        r#""to": "2021-12-31", "by": "region""#,
    );
    let OutputResult::TimeSeries { points, .. } = both(&json, &[]) else {
        panic!()
    };
    let keys: Vec<Option<String>> = points.into_iter().map(|p| p.key).collect();
    assert_eq!(keys, vec![Some("01".into()), Some("03".into())]);
}

#[test]
fn results_name_snapshot_and_hash() {
    let w = world();
    let engine = Engine::build("s000007", &w.events, &w.persons, &w.residences);
    let q = parse_json(r#"{"version": 1, "output": {"type": "count"}}"#, &lists()).unwrap();
    let r = engine.run(&q, &lists(), &Exclusion::default()).unwrap();
    assert_eq!(r.snapshot, "s000007");
    assert_eq!(r.query_hash, query_hash(&q));
    assert_eq!(engine.event_count(), 11);
    assert_eq!(engine.patient_count(), 5);
}

/// A creatinine threshold written in mmol/L selects exactly what the same
/// threshold in the stored µmol/L selects, a result lying on it included
/// (the defect: 72 × 0.001 = 0.07200000000000001 > 0.072 lost it).
#[test]
fn a_threshold_in_another_unit_keeps_results_that_sit_on_it() {
    let krea = |p: u8, value: f64| {
        let mut e = ev(p, Domain::LabResult, "npu", "NPU18016", "2021-01-01");
        e.value = Some(value);
        e.unit = Some("umol/L".into());
        e
    };
    let events = vec![krea(1, 72.0), krea(2, 71.0), krea(3, 73.0), krea(4, 0.5)];
    let persons: Vec<Person> = (1..=4)
        .map(|p| Person {
            patient: pid(p),
            sex: Some('F'),
            birth_date: Some(d("1960-01-01")),
            death_date: None,
        })
        .collect();
    let engine = Engine::build("s000001", &events, &persons, &[]);
    let data = Data {
        events: &events,
        persons: &persons,
        residences: &[],
    };
    let none = BTreeSet::new();
    let count = |value: &str| -> u64 {
        let q = parse_json(
            &format!(
                r#"{{"version": 1, "criteria": [{{"include": {{"event": {{"domain": "lab_result", "codes": [{{"system": "npu", "codes": ["NPU18016"]}}], "value": {value}}}}}}}], "output": {{"type": "count"}}}}"#
            ),
            &lists(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let r = reference::evaluate(&q, &lists(), data, &none).unwrap();
        let e = engine
            .evaluate(&q, &lists(), &engine.exclusion(none.iter()))
            .unwrap();
        assert_eq!(r, e, "{value}");
        match e {
            OutputResult::Count { count } => count,
            other => panic!("{other:?}"),
        }
    };
    for (stored, other) in [
        (
            r#"{"lte": 72, "unit": "umol/L"}"#,
            r#"{"lte": 0.072, "unit": "mmol/L"}"#,
        ),
        (
            r#"{"gte": 72, "unit": "µmol/l"}"#,
            r#"{"gte": 0.072, "unit": "mmol/l"}"#,
        ),
        (
            r#"{"lt": 72, "unit": "umol/L"}"#,
            r#"{"lt": 72000, "unit": "nmol/L"}"#,
        ),
        (
            r#"{"gt": 72, "unit": "umol/L"}"#,
            r#"{"gt": 0.000072, "unit": "mol/L"}"#,
        ),
    ] {
        assert_eq!(count(stored), count(other), "{stored} vs {other}");
    }
    assert_eq!(count(r#"{"lte": 0.072, "unit": "mmol/L"}"#), 3);
    assert_eq!(count(r#"{"gte": 0.072, "unit": "mmol/L"}"#), 2);
    // mg/dL is another dimension: converted by creatinine's factor and
    // rounded, as ingest does (0.8144 mg/dL × 88.42 = 72.01… → 72).
    assert_eq!(count(r#"{"lte": 0.8144, "unit": "mg/dL"}"#), 3);
}
