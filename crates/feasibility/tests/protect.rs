//! `protect` on engines built from generated populations: no released
//! number between 1 and 4, a key grid that does not depend on the cohort,
//! repeatable numbers, and (with the exact profile) the engine's own
//! counts in every cell of the grid.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::NaiveDate;
use halsohub_cohort::{CodeLists, Engine, Exclusion, OutputResult, Query, QueryResult};
use halsohub_disclosure::Profile;
use halsohub_feasibility::{
    KeyGrid, Number, NumberPrecision, ProtectError, ProtectedOutput, protect, protections,
};
use halsohub_identity::Pseudonym;
use halsohub_store::{Domain, Event, Person, Residence, Setting};
use proptest::prelude::*;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// `n` patients from `seed`: sex, birth date, one of five regions, and for
/// about a third a diabetes diagnosis (E11.9) in 2018..2023 at one of
/// three providers.
fn engine(n: u32, seed: u64) -> Engine {
    let mut state = seed | 1;
    let mut next = move |m: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % m
    };
    let regions = ["01", "03", "12", "14", "25"];
    let (mut events, mut persons, mut residences) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&i.to_be_bytes());
        bytes[15] = 9;
        let patient = Pseudonym::from_bytes(bytes);
        let birth = day(
            1930 + next(80) as i32,
            1 + next(12) as u32,
            1 + next(28) as u32,
        );
        persons.push(Person {
            patient,
            sex: Some(if next(2) == 0 { 'F' } else { 'M' }),
            birth_date: Some(birth),
            death_date: None,
        });
        residences.push(Residence {
            patient,
            region: regions[next(5) as usize].into(),
            municipality: None,
            from: birth,
            to: None,
        });
        if next(3) == 0 {
            events.push(Event {
                patient,
                domain: Domain::Diagnosis,
                system: "icd10se".into(),
                code: "E119".into(),
                code_known: true,
                start: day(
                    2018 + next(6) as i32,
                    1 + next(12) as u32,
                    1 + next(28) as u32,
                ),
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
                provider: Some(format!("P{}", next(3))),
                provider_region: Some("01".into()),
                source: "par".into(),
            });
        }
    }
    Engine::build("s000007", &events, &persons, &residences)
}

const DM2: &str = r#"{"event": {"domain": "diagnosis",
    "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]}}"#;

/// The suite; `extra` (a criterion step, or empty) narrows every cohort.
fn queries_with(extra: &str) -> Vec<Query> {
    let lists = CodeLists::new();
    let more = if extra.is_empty() {
        String::new()
    } else {
        format!(", {extra}")
    };
    let only = if extra.is_empty() {
        String::new()
    } else {
        format!(r#""criteria": [{extra}], "#)
    };
    let series = &DM2[9..DM2.len() - 1];
    [
        format!(r#"{{"version": 1, "criteria": [{{"include": {DM2}}}{more}], "output": {{"type": "count"}}}}"#),
        format!(r#"{{"version": 1, "criteria": [{{"include": {DM2}}}, {{"exclude": {{"person": {{"sex": "M"}}}}}}{more}], "output": {{"type": "funnel"}}}}"#),
        format!(r#"{{"version": 1, "criteria": [{{"include": {DM2}}}{more}], "output": {{"type": "strata", "by": ["region"], "at": "2024-01-01"}}}}"#),
        format!(r#"{{"version": 1, "criteria": [{{"include": {DM2}}}{more}], "output": {{"type": "strata", "by": ["sex", "age_band"], "at": "2024-01-01"}}}}"#),
        format!(r#"{{"version": 1, "criteria": [{{"include": {DM2}}}{more}], "output": {{"type": "proportion", "numerator": [{{"include": {{"person": {{"sex": "F"}}}}}}]}}}}"#),
        format!(r#"{{"version": 1, {only}"output": {{"type": "time_series", "event": {series}, "interval": "year", "from": "2018-01-01", "to": "2023-12-31"}}}}"#),
        format!(r#"{{"version": 1, {only}"output": {{"type": "time_series", "event": {series}, "interval": "year", "from": "2018-01-01", "to": "2023-12-31", "by": "provider"}}}}"#),
    ]
    .iter()
    .map(|q| halsohub_cohort::parse_json(q, &lists).unwrap_or_else(|e| panic!("{q}: {e}")))
    .collect()
}

fn queries() -> Vec<Query> {
    queries_with("")
}

fn run(e: &Engine, q: &Query) -> QueryResult {
    e.run(q, &CodeLists::new(), &Exclusion::default()).unwrap()
}

fn grid(e: &Engine) -> KeyGrid<'_> {
    KeyGrid::new(e, Some((day(2018, 1, 1), day(2023, 12, 31))))
}

/// Every number of an output with the key it is released under.
fn keyed(o: &ProtectedOutput) -> Vec<(String, Number)> {
    let mut out: Vec<(String, Number)> = Vec::new();
    match o {
        ProtectedOutput::Count { count } => out.push(("count".into(), count.clone())),
        ProtectedOutput::Funnel { steps } => {
            for (i, s) in steps.iter().enumerate() {
                out.push((format!("step {i}"), s.count.clone()));
            }
        }
        ProtectedOutput::Strata {
            cells,
            margins,
            total,
            ..
        } => {
            out.extend(cells.iter().map(|c| (c.key.join("|"), c.count.clone())));
            out.extend(
                margins
                    .iter()
                    .map(|m| (format!("{}={}", m.dimension, m.key), m.count.clone())),
            );
            out.push(("total".into(), total.clone()));
        }
        ProtectedOutput::Proportion {
            numerator,
            denominator,
            ..
        } => {
            out.push(("numerator".into(), numerator.clone()));
            out.push(("denominator".into(), denominator.clone()));
        }
        ProtectedOutput::TimeSeries {
            points,
            margins,
            total,
            ..
        } => {
            out.extend(points.iter().map(|p| {
                (
                    format!("{}|{}", p.period, p.key.clone().unwrap_or_default()),
                    p.count.clone(),
                )
            }));
            out.extend(
                margins
                    .iter()
                    .map(|m| (format!("{}={}", m.dimension, m.key), m.count.clone())),
            );
            out.push(("total".into(), total.clone()));
        }
    }
    out
}

/// The engine's own numbers under the keys `keyed` uses, for the cells a
/// reference check can name (cells, periods, count, steps, total).
fn reference(r: &OutputResult) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    match r {
        OutputResult::Count { count } => {
            m.insert("count".into(), *count);
        }
        OutputResult::Funnel { steps } => {
            for (i, s) in steps.iter().enumerate() {
                m.insert(format!("step {i}"), s.count);
            }
        }
        OutputResult::Strata { cells, total, .. } => {
            for c in cells {
                m.insert(c.key.join("|"), c.count);
            }
            m.insert("total".into(), *total);
        }
        OutputResult::Proportion {
            numerator,
            denominator,
        } => {
            m.insert("numerator".into(), *numerator);
            m.insert("denominator".into(), *denominator);
        }
        OutputResult::TimeSeries { points, total, .. } => {
            for p in points {
                m.insert(
                    format!("{}|{}", p.period, p.key.clone().unwrap_or_default()),
                    p.count,
                );
            }
            m.insert("total".into(), *total);
        }
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Feasibility profile: nothing between 1 and 4, everything shown a
    /// multiple of 5, never an exact number, the same numbers on a repeat,
    /// and the keys of every table the same whoever is in the cohort.
    #[test]
    fn no_small_number_and_a_fixed_grid(seed in 1u64..u64::MAX, n in 1u32..150) {
        let e = engine(n, seed);
        let profile = Profile::feasibility();
        // the same outputs over a smaller cohort (born before 1960)
        let narrowed = queries_with(r#"{"include": {"person": {"birth_year": {"from": 1900, "to": 1959}}}}"#);
        for (q, small) in queries().iter().zip(&narrowed) {
            let out = protect(q, &run(&e, q), &grid(&e), &profile, b"secret").unwrap();
            let again = protect(q, &run(&e, q), &grid(&e), &profile, b"secret").unwrap();
            prop_assert_eq!(&out, &again);
            let numbers = keyed(&out);
            prop_assert!(!numbers.is_empty());
            for (key, x) in &numbers {
                prop_assert_ne!(x.precision, NumberPrecision::Exact);
                match x.value {
                    Some(v) => {
                        prop_assert!(v >= 5 && v.is_multiple_of(5), "{key}: {x:?}");
                        prop_assert_eq!(&x.display, &v.to_string());
                    }
                    None => prop_assert!(x.display == "<5" || x.display == "suppressed", "{:?}", x),
                }
            }
            // the keys depend on the grid, not on who is in the cohort
            let keys_other: Vec<String> = keyed(
                &protect(small, &run(&e, small), &grid(&e), &profile, b"secret").unwrap(),
            )
            .into_iter()
            .map(|(k, _)| k)
            .collect();
            let keys: Vec<String> = numbers.into_iter().map(|(k, _)| k).collect();
            if !matches!(out, ProtectedOutput::Funnel { .. }) {
                prop_assert_eq!(keys, keys_other);
            }
        }
    }

    /// Exact profile (the data steward's): every number in the grid is the
    /// engine's count, absent cells are 0, and a two-way table's margins
    /// add up to the total.
    #[test]
    fn exact_profile_releases_the_engine_numbers_over_the_grid(seed in 1u64..u64::MAX, n in 1u32..150) {
        let e = engine(n, seed);
        for q in &queries() {
            let r = run(&e, q);
            let out = protect(q, &r, &grid(&e), &Profile::exact(), b"").unwrap();
            let want = reference(&r.output);
            for (key, x) in keyed(&out) {
                prop_assert_eq!(x.precision, NumberPrecision::Exact);
                if key.contains('=') {
                    continue; // margins: checked below
                }
                prop_assert_eq!(x.value, Some(want.get(&key).copied().unwrap_or(0)), "{}", key);
            }
            for (k, v) in &want {
                prop_assert!(keyed(&out).iter().any(|(key, _)| key == k), "{k}={v} not released");
            }
            if let ProtectedOutput::Strata { margins, total, .. } = &out
                && !margins.is_empty()
            {
                let first = &margins[0].dimension;
                let sum: u64 = margins
                    .iter()
                    .filter(|m| &m.dimension == first)
                    .filter_map(|m| m.count.value)
                    .sum();
                prop_assert_eq!(Some(sum), total.value);
            }
        }
    }
}

#[test]
fn noise_is_keyed_by_the_secret() {
    let e = engine(400, 42);
    let q = &queries()[2];
    let r = run(&e, q);
    let noisy = Profile::noisy();
    let a = protect(q, &r, &grid(&e), &noisy, b"one").unwrap();
    let b = protect(q, &r, &grid(&e), &noisy, b"two").unwrap();
    assert_eq!(a, protect(q, &r, &grid(&e), &noisy, b"one").unwrap());
    assert_ne!(a, b, "different hubs, different noise");
    assert!(
        keyed(&a)
            .iter()
            .all(|(_, x)| x.precision != NumberPrecision::Exact)
    );
    assert!(matches!(
        protect(q, &r, &grid(&e), &noisy, b""),
        Err(ProtectError::Disclosure(_))
    ));
}

#[test]
fn a_table_too_large_is_refused_at_the_query_path() {
    let e = engine(50, 7);
    let regions: Vec<String> = (0..20_000).map(|i| format!("R{i}")).collect();
    let g = KeyGrid::from_parts(&regions, e.provider_names(), None);
    let q = halsohub_cohort::parse_json(
        r#"{"version": 1, "output": {"type": "strata", "by": ["region", "sex"], "at": "2024-01-01"}}"#,
        &CodeLists::new(),
    )
    .unwrap();
    let err = protect(&q, &run(&e, &q), &g, &Profile::feasibility(), b"s").unwrap_err();
    match &err {
        ProtectError::Query { path, message } => {
            assert_eq!(path, "$.output.by");
            assert!(message.contains("cells"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().starts_with("$.output.by: "), "{err}");
}

#[test]
fn a_result_of_another_query_is_refused() {
    let e = engine(30, 3);
    let qs = queries();
    let count = run(&e, &qs[0]);
    let mut series = run(&e, &qs[5]);
    series.query_hash = count.query_hash.clone();
    let err = protect(&qs[0], &series, &grid(&e), &Profile::feasibility(), b"s").unwrap_err();
    assert!(matches!(err, ProtectError::Mismatch(_)), "{err:?}");
}

#[test]
fn protections_name_the_profile_and_each_precision() {
    let e = engine(300, 11);
    let q = &queries()[3];
    let out = protect(q, &run(&e, q), &grid(&e), &Profile::feasibility(), b"s").unwrap();
    let p = protections(&Profile::feasibility(), &out);
    assert_eq!(p["profile"]["name"], "feasibility");
    assert_eq!(p["profile"]["threshold"], 5);
    assert_eq!(p["profile"]["rounding"], 5);
    let kinds: Vec<&str> = p["precision"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(kinds, ["cell", "margin", "total"]);
    for v in p["precision"].as_object().unwrap().values() {
        for x in v.as_array().unwrap() {
            assert!(
                ["noisy", "suppressed"].contains(&x.as_str().unwrap()),
                "{x}"
            );
        }
    }
}

#[test]
fn the_exact_view_is_the_engine_result() {
    let e = engine(200, 5);
    for q in &queries() {
        let r = run(&e, q);
        let out = ProtectedOutput::exact(&r.output);
        let want = reference(&r.output);
        let got: BTreeMap<String, u64> = keyed(&out)
            .into_iter()
            .map(|(k, x)| {
                assert_eq!(x.precision, NumberPrecision::Exact);
                assert_eq!(x.display, x.value.unwrap().to_string());
                (k, x.value.unwrap())
            })
            .collect();
        assert_eq!(got, want);
    }
}

/// Strata and series over an empty cohort have no numbers of their own
/// (every cell of the grid is the empty set): the guard protects them like
/// any other result, and every cell is suppressed. (An empty two-way table
/// once answered 500 in the attack suite.)
#[test]
fn an_empty_cohort_is_guarded_like_any_other() {
    let mut e = engine(200, 5);
    e.set_person_tags(&halsohub_disclosure::PersonTagger::new(b"tags").unwrap());
    let nobody = r#"{"include": {"person": {"birth_year": {"from": 1801, "to": 1801}}}}"#;
    for q in queries_with(nobody).iter().skip(2) {
        let r = run(&e, q);
        let guard = halsohub_disclosure::GuardSession::new(
            halsohub_disclosure::GuardPolicy::default(),
            b"guard",
            Vec::new(),
        )
        .unwrap();
        let (out, session) = halsohub_feasibility::protect_guarded(
            q,
            &r,
            &grid(&e),
            &Profile::feasibility(),
            b"s",
            Some(guard),
        )
        .unwrap_or_else(|err| panic!("{err}"));
        assert!(session.is_some());
        for (key, n) in keyed(&out) {
            if key.starts_with("total") || key.starts_with("denominator") {
                continue;
            }
            assert_eq!(n.precision, NumberPrecision::Suppressed, "{key}: {n:?}");
        }
    }
}
