//! Bad input gets an error naming the JSON path and why; the documented
//! examples all parse; the canonical hash identifies meaning.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may unwrap

use halsohub_cohort::*;

fn lists() -> CodeLists {
    let mut l = CodeLists::new();
    l.insert(
        "heart_failure",
        vec![CodeSet::codes("icd10se", &["I50"], true)],
    );
    l
}

fn err(json: &str) -> QueryError {
    match parse_json(json, &lists()) {
        Ok(q) => panic!("expected an error, got {q:?}"),
        Err(e) => e,
    }
}

fn ok(json: &str) -> Query {
    parse_json(json, &lists()).unwrap_or_else(|e| panic!("{e}"))
}

const E11: &str = r#"{"event": {"domain": "diagnosis", "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]}}"#;

fn with_step(step: &str) -> String {
    format!(
        r#"{{"version": 1, "criteria": [{{"include": {E11}}}, {{"include": {E11}}}, {step}], "output": {{"type": "count"}}}}"#
    )
}

fn with_index(step: &str) -> String {
    format!(
        r#"{{"version": 1, "index": {{"event": {{"domain": "diagnosis"}}}}, "criteria": [{step}], "output": {{"type": "count"}}}}"#
    )
}

#[test]
fn malformed_json_names_line_and_column() {
    let e = err(r#"{"version": 1, "criteria": [}"#);
    assert_eq!(e.kind, QueryErrorKind::Syntax);
    assert!(e.message.contains("line 1"), "{e}");
    let e = err("");
    assert_eq!(e.kind, QueryErrorKind::Syntax);
    let e = err(r#"{"version": 1, "output": {"type": "count"}} trailing"#);
    assert_eq!(e.kind, QueryErrorKind::Syntax);
}

#[test]
fn unknown_fields_are_rejected_where_they_are() {
    let e = err(r#"{"version": 1, "output": {"type": "count"}, "colour": 1}"#);
    assert_eq!(e.path, "$.colour");
    assert!(e.message.contains("colour"), "{e}");
    let e = err(r#"{"version": 1, "output": {"type": "count", "colour": 1}}"#);
    assert!(e.message.contains("colour"), "{e}");
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "diagnosis", "wthin": {"days": [0, 1]}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.wthin");
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "diagnoses"}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.domain");
    let e = err(r#"{"version": 1, "output": {"type": "histogram"}}"#);
    assert_eq!(e.kind, QueryErrorKind::Syntax);
}

#[test]
fn inverted_window_points_at_days() {
    let e = err(&with_index(
        r#"{"include": {"event": {"domain": "diagnosis", "within": {"days": [0, -365]}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[0].include.event.within.days");
    assert!(e.message.contains("inverted"), "{e}");
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "diagnosis", "within": {"days": [-365, 0]}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.within.days");
    assert!(e.message.contains("index"), "{e}");
    let e = err(&with_index(
        r#"{"include": {"event": {"domain": "diagnosis", "within": {"days": [-99999, 0]}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[0].include.event.within.days[0]");
}

#[test]
fn code_problems_point_at_the_code() {
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "diagnosis", "codes": [{"system": "icd9", "codes": ["250"]}]}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.codes[0].system");
    assert!(e.message.contains("unknown code system"), "{e}");
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "diagnosis", "codes": []}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.codes");
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "diagnosis", "codes": [{"system": "icd10se", "codes": []}]}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.codes[0].codes");
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "diagnosis", "codes": [{"system": "icd10se", "codes": ["E11", "E14-E10"], "descendants": true}]}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.codes[0].codes[1]");
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "diagnosis", "codes": [{"list": "nope"}]}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.codes[0].list");
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "lab_result", "codes": [{"system": "npu", "codes": ["NPU27300"], "descendants": true}]}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.codes[0].codes[0]");
}

#[test]
fn ages_and_ranges_are_checked() {
    let e = err(&with_step(
        r#"{"include": {"person": {"age": {"min": 40, "max": 300, "at": "2024-01-01"}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.person.age.max");
    let e = err(&with_step(
        r#"{"include": {"person": {"age": {"min": 75, "max": 40, "at": "2024-01-01"}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.person.age");
    let e = err(&with_step(
        r#"{"include": {"person": {"age": {"min": 40, "at": "index"}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.person.age.at");
    let e = err(&with_step(
        r#"{"include": {"person": {"age": {"min": 40, "at": "yesterday"}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.person.age.at");
    assert_eq!(e.kind, QueryErrorKind::Syntax);
    let e = err(&with_step(
        r#"{"include": {"person": {"age": {"min": -1, "at": "2024-01-01"}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.person.age.min");
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "diagnosis", "date": {"from": "2024-01-01", "to": "2023-01-01"}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.date");
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "diagnosis", "date": {"from": "2024-02-30"}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.date.from");
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "lab_result", "value": {"gt": 10, "lt": 5, "unit": "mmol/L"}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.value");
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "diagnosis", "value": {"gt": 10, "unit": "mmol/L"}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.value");
    let e = err(&with_step(
        r#"{"include": {"event": {"domain": "diagnosis", "at_least": 0}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.event.at_least");
    let e = err(&with_step(r#"{"include": {"and": []}}"#));
    assert_eq!(e.path, "$.criteria[2].include.and");
    let e = err(&with_step(r#"{"label": "x"}"#));
    assert_eq!(e.path, "$.criteria[2]");
    let e = err(&with_step(
        r#"{"include": {"person": {"region": {"regions": ["1"], "at": "2024-01-01"}}}}"#,
    ));
    assert_eq!(e.path, "$.criteria[2].include.person.region.regions[0]");
    let e = err(r#"{"version": 2, "output": {"type": "count"}}"#);
    assert_eq!(e.path, "$.version");
}

#[test]
fn strata_that_would_explode_are_refused() {
    let e = err(
        r#"{"version": 1, "output": {"type": "strata", "by": ["sex", "age_band", "region"], "at": "2024-01-01"}}"#,
    );
    assert_eq!(e.path, "$.output.by");
    let e = err(r#"{"version": 1, "output": {"type": "strata", "by": ["sex", "sex"]}}"#);
    assert_eq!(e.path, "$.output.by[1]");
    let e = err(r#"{"version": 1, "output": {"type": "strata", "by": ["provider"]}}"#);
    assert_eq!(e.path, "$.output.by[0]");
    let e = err(r#"{"version": 1, "output": {"type": "strata", "by": ["region"]}}"#);
    assert_eq!(e.path, "$.output.by[0]");
    let e = err(
        r#"{"version": 1, "output": {"type": "strata", "by": ["sex"], "age_bands": [0, 50, 40]}}"#,
    );
    assert_eq!(e.path, "$.output.age_bands[2]");
    let e = err(
        r#"{"version": 1, "output": {"type": "time_series", "event": {"domain": "diagnosis"}, "interval": "month", "from": "1900-01-01", "to": "2024-01-01"}}"#,
    );
    assert_eq!(e.path, "$.output.to");
    ok(r#"{"version": 1, "output": {"type": "strata", "by": ["sex"]}}"#);
}

#[test]
fn yaml_is_accepted_with_paths() {
    let q = parse_yaml(
        "version: 1\ncriteria:\n  - include:\n      event:\n        domain: diagnosis\n        codes:\n          - {system: icd10se, codes: [E11], descendants: true}\noutput: {type: count}\n",
        &lists(),
    )
    .unwrap();
    let j = ok(&format!(
        r#"{{"version": 1, "criteria": [{{"include": {E11}}}], "output": {{"type": "count"}}}}"#
    ));
    assert_eq!(q, j);
    let e = parse_yaml("version: 1\noutput: {type: count, extra: 1}\n", &lists()).unwrap_err();
    assert!(e.path.starts_with("$.output"), "{e}");
    assert!(parse_yaml(": : :\n- [", &lists()).is_err());
}

/// Every complete query in docs/query-language.md parses and validates.
#[test]
fn documented_examples_are_valid() {
    let doc = include_str!("../../../docs/query-language.md");
    let mut n = 0;
    for block in doc.split("```json").skip(1) {
        let Some(body) = block.split("```").next() else {
            continue;
        };
        if !body.contains("\"version\": 1") || body.contains("<criterion>") {
            continue;
        }
        if body.contains("\"lists\":") {
            // A code list file: it loads.
            CodeLists::new()
                .load_json(body)
                .unwrap_or_else(|e| panic!("{e}\n{body}"));
            continue;
        }
        parse_json(body, &lists()).unwrap_or_else(|e| panic!("{e}\n{body}"));
        n += 1;
    }
    assert!(n >= 12, "only {n} complete examples");
    let yaml = doc
        .split("```yaml")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    parse_yaml(yaml, &lists()).unwrap();
}

#[test]
fn same_meaning_same_hash() {
    let a = ok(r#"{"version": 1,
        "criteria": [
          {"label": "x", "include": {"and": [
             {"person": {"sex": "F"}},
             {"and": [{"event": {"domain": "diagnosis", "codes": [{"system": "icd10se", "codes": ["E11.9", "e110"]}]}}]}]}},
          {"include": {"not": {"not": {"person": {"region": {"regions": ["03", "01"], "at": "2024-01-01"}}}}}}],
        "output": {"type": "count"}}"#);
    let b = ok(r#"{"version": 1,
        "criteria": [
          {"include": {"person": {"region": {"regions": ["01", "03", "01"], "at": "2024-01-01"}}}},
          {"include": {"and": [
             {"event": {"domain": "diagnosis", "occurrence": "any", "at_least": 1,
                        "codes": [{"system": "icd10se", "codes": ["E110", "E119", "E119"]}]}},
             {"person": {"sex": "F"}}]}}],
        "output": {"type": "count"}}"#);
    assert_eq!(canonical_json(&a), canonical_json(&b));
    assert_eq!(query_hash(&a), query_hash(&b));
    assert_eq!(query_hash(&a).len(), 64);

    let v1 = ok(
        r#"{"version": 1, "criteria": [{"include": {"event": {"domain": "lab_result", "value": {"gt": 7, "unit": "mmol/L"}}}}], "output": {"type": "count"}}"#,
    );
    let v2 = ok(
        r#"{"version": 1, "criteria": [{"include": {"event": {"domain": "lab_result", "value": {"gt": 7.0, "unit": "mmol/L"}}}}], "output": {"type": "count"}}"#,
    );
    let v3 = ok(
        r#"{"version": 1, "criteria": [{"include": {"event": {"domain": "lab_result", "value": {"gt": 0.7e1, "unit": " mmol/L"}}}}], "output": {"type": "count"}}"#,
    );
    assert_eq!(query_hash(&v1), query_hash(&v2));
    assert_eq!(query_hash(&v1), query_hash(&v3));

    // Different meaning, different hash.
    let c = ok(
        r#"{"version": 1, "criteria": [{"include": {"event": {"domain": "lab_result", "value": {"gte": 7, "unit": "mmol/L"}}}}], "output": {"type": "count"}}"#,
    );
    assert_ne!(query_hash(&v1), query_hash(&c));
    // The order of funnel steps is the answer; for a count it is not.
    let s1 = format!(
        r#"{{"version": 1, "criteria": [{{"include": {E11}}}, {{"include": {{"person": {{"sex": "M"}}}}}}], "output": {{"type": "OUT"}}}}"#
    );
    let s2 = format!(
        r#"{{"version": 1, "criteria": [{{"include": {{"person": {{"sex": "M"}}}}}}, {{"include": {E11}}}], "output": {{"type": "OUT"}}}}"#
    );
    let h = |s: &str, out: &str| query_hash(&ok(&s.replace("OUT", out)));
    assert_eq!(h(&s1, "count"), h(&s2, "count"));
    assert_ne!(h(&s1, "funnel"), h(&s2, "funnel"));
}

fn codes_query(sets: &str) -> String {
    format!(
        r#"{{"version": 1, "criteria": [{{"include": {{"event": {{"domain": "lab_result", "codes": {sets}}}}}}}], "output": {{"type": "count"}}}}"#
    )
}

#[test]
fn codes_are_checked_by_their_system_rules() {
    // LOINC codes carry a dash and a check digit.
    ok(&codes_query(
        r#"[{"system": "loinc", "codes": ["4548-4", "2160-0"]}]"#,
    ));
    let e = err(&codes_query(
        r#"[{"system": "loinc", "codes": ["4548-5"]}]"#,
    ));
    assert_eq!(e.path, "$.criteria[0].include.event.codes[0].codes[0]");
    assert!(e.message.contains("check digit"), "{e}");
    // Every ICD-10 edition has blocks and categories.
    for system in ["icd10cm", "icd10gm", "icd10"] {
        ok(&codes_query(&format!(
            r#"[{{"system": "{system}", "codes": ["E10-E14", "K92.2"], "descendants": true}}]"#
        )));
    }
    // Other systems only when the hub holds codes of them, and then as
    // written.
    let rxnorm = r#"[{"system": "rxnorm", "codes": ["1118"]}]"#;
    let e = err(&codes_query(rxnorm));
    assert_eq!(e.path, "$.criteria[0].include.event.codes[0].system");
    assert!(e.message.contains("icd10cm"), "{e}");
    let mut l = lists();
    l.add_systems(["rxnorm", "http://example.org/local"]);
    parse_json(&codes_query(rxnorm), &l).unwrap();
    let local = r#"[{"system": "http://example.org/local", "codes": ["ab.c"]}]"#;
    let q = parse_json(&codes_query(local), &l).unwrap();
    assert!(format!("{q:?}").contains("ab.c"));
    let e = parse_json(
        &codes_query(r#"[{"system": "rxnorm", "codes": ["1118"], "descendants": true}]"#),
        &l,
    )
    .unwrap_err();
    assert!(e.message.contains("no hierarchy"), "{e}");
}

#[test]
fn builtin_lists_answer_queries() {
    let q = r#"{"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis", "codes": [{"list": "type2_diabetes"}]}}}], "output": {"type": "count"}}"#;
    parse_json(q, &CodeLists::builtin()).unwrap();
}

fn lab(codes: &str, value: &str) -> String {
    with_step(&format!(
        r#"{{"include": {{"event": {{"domain": "lab_result", "codes": [{codes}], "value": {value}}}}}}}"#
    ))
}

#[test]
fn lab_units_are_read_as_ingest_reads_them_and_unknown_ones_are_errors() {
    let egfr = r#"{"system": "npu", "codes": ["SWE05406"]}"#;
    // Every spelling ingest accepts is accepted.
    for unit in ["ml/min/1.73m2", "mL/min/1,73m2", "mL/min/1.73 m²"] {
        ok(&lab(egfr, &format!(r#"{{"lt": 60, "unit": "{unit}"}}"#)));
    }
    let hba1c = r#"{"system": "npu", "codes": ["NPU27300"]}"#;
    for unit in ["mmol/mol", "mol/mol", "umol/mol", "%", "% (DCCT)"] {
        ok(&lab(hba1c, &format!(r#"{{"gte": 48, "unit": "{unit}"}}"#)));
    }
    // A unit the hub cannot read: an error at its path, not a zero count.
    let e = err(&lab(egfr, r#"{"lt": 60, "unit": "furlongs"}"#));
    assert_eq!(e.path, "$.criteria[2].include.event.value.unit", "{e}");
    assert!(e.message.contains("unknown unit"), "{e}");
    // A readable unit the analyte cannot be converted from.
    let ldl = r#"{"system": "npu", "codes": ["NPU01568"]}"#;
    let e = err(&lab(ldl, r#"{"lt": 3, "unit": "%"}"#));
    assert_eq!(e.path, "$.criteria[2].include.event.value.unit");
    assert!(e.message.contains("mmol/L"), "{e}");
    ok(&lab(ldl, r#"{"lt": 116, "unit": "mg/dL"}"#));
    // Codes of several analytes: only powers of ten of their units.
    let two = r#"{"system": "npu", "codes": ["NPU01568", "NPU01566"]}"#;
    ok(&lab(two, r#"{"lt": 3, "unit": "mmol/l"}"#));
    let e = err(&lab(two, r#"{"lt": 116, "unit": "mg/dL"}"#));
    assert!(e.message.contains("several analytes"), "{e}");
}

#[test]
fn a_time_series_window_is_refused_for_what_it_is() {
    // With $.index set, the old message claimed $.index was missing.
    let e = err(
        r#"{"version": 1, "index": {"event": {"domain": "diagnosis"}}, "output": {"type": "time_series", "event": {"domain": "diagnosis", "within": {"days": [0, 30]}}, "interval": "month", "from": "2020-01-01", "to": "2021-01-01"}}"#,
    );
    assert_eq!(e.path, "$.output.event.within", "{e}");
    assert!(!e.message.contains("needs $.index"), "{e}");
    assert!(e.message.contains("first matching event"), "{e}");
}
