//! The parser and validator never panic: arbitrary JSON values, arbitrary
//! text, and mutations of valid queries give `Ok` or an error whose path
//! starts at `$`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may unwrap

use halsohub_cohort::*;
use proptest::prelude::*;
use serde_json::{Value, json};

fn lists() -> CodeLists {
    let mut l = CodeLists::new();
    l.insert("hf", vec![CodeSet::codes("icd10se", &["I50"], true)]);
    l
}

fn arb_json() -> impl Strategy<Value = Value> {
    let words = prop_oneof![
        Just("version"),
        Just("criteria"),
        Just("include"),
        Just("exclude"),
        Just("event"),
        Just("person"),
        Just("and"),
        Just("or"),
        Just("not"),
        Just("domain"),
        Just("codes"),
        Just("system"),
        Just("within"),
        Just("days"),
        Just("output"),
        Just("type"),
        Just("count"),
        Just("strata"),
        Just("by"),
        Just("index"),
        Just("value"),
        Just("age"),
        Just("at"),
        Just("diagnosis"),
        Just("icd10se"),
        Just("E11"),
        Just("index"),
        Just("2024-01-01"),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        words.clone().prop_map(|w| json!(w)),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((words.clone(), inner), 0..5).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

const VALID: &str = r#"{"version": 1,
 "index": {"event": {"domain": "diagnosis",
   "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]}, "occurrence": "first"},
 "criteria": [
   {"label": "a", "include": {"person": {"age": {"min": 40, "max": 75, "at": "index"}}}},
   {"include": {"event": {"domain": "lab_result", "codes": [{"system": "npu", "codes": ["NPU27300"]}],
     "value": {"gte": 53, "unit": "mmol/mol"}, "within": {"days": [-90, 0]}}}},
   {"exclude": {"or": [{"event": {"domain": "diagnosis", "codes": [{"list": "hf"}], "within": {"days": [null, 0]}}},
                       {"not": {"person": {"sex": "F"}}}]}}],
 "output": {"type": "strata", "by": ["sex", "age_band"], "age_bands": [0, 18, 65]}}"#;

/// Every path into `v` (as JSON pointer segments).
fn paths(v: &Value, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let mut p = prefix.clone();
                p.push(k.clone());
                paths(c, p, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let mut p = prefix.clone();
                p.push(i.to_string());
                paths(c, p, out);
            }
        }
        _ => {}
    }
}

fn pointer(p: &[String]) -> String {
    p.iter().map(|s| format!("/{s}")).collect()
}

fn check(r: Result<Query, QueryError>) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        prop_assert!(e.path.starts_with('$'), "path {:?}", e.path);
        prop_assert!(!e.message.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_values_never_panic(v in arb_json()) {
        check(parse_value(&v, &lists()))?;
        check(parse_json(&v.to_string(), &lists()))?;
    }

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,200}") {
        check(parse_json(&s, &lists()))?;
        check(parse_yaml(&s, &lists()))?;
    }

    #[test]
    fn mutated_valid_queries_never_panic(pick in any::<prop::sample::Index>(), action in 0u8..3, repl in arb_json()) {
        let base: Value = serde_json::from_str(VALID).unwrap();
        prop_assert!(parse_value(&base, &lists()).is_ok());
        let mut all = Vec::new();
        paths(&base, Vec::new(), &mut all);
        let target = pick.get(&all).clone();
        let mut v = base.clone();
        match action {
            0 => {
                if let Some(slot) = v.pointer_mut(&pointer(&target)) {
                    *slot = repl;
                }
            }
            1 => {
                if let Some((last, parent)) = target.split_last()
                    && let Some(p) = v.pointer_mut(&pointer(parent))
                {
                    match p {
                        Value::Object(m) => { m.remove(last); }
                        Value::Array(a) => {
                            if let Ok(i) = last.parse::<usize>() && i < a.len() { a.remove(i); }
                        }
                        _ => {}
                    }
                }
            }
            _ => {
                if let Some(Value::Object(m)) = v.pointer_mut(&pointer(&target)) {
                    m.insert("unexpected".into(), repl);
                }
            }
        }
        let r = parse_value(&v, &lists());
        if action == 2 && matches!(base.pointer(&pointer(&target)), Some(Value::Object(_))) {
            prop_assert!(r.is_err(), "an unknown field was accepted at {:?}", target);
        }
        check(r)?;
        // Valid mutants have a stable canonical form.
        if let Ok(q) = parse_value(&v, &lists()) {
            let c = canonicalise(&q);
            prop_assert_eq!(canonicalise(&c), c);
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let mut c = json!({"person": {"sex": "F"}});
    for _ in 0..200 {
        c = json!({"not": c});
    }
    let q = json!({"version": 1, "criteria": [{"include": c}], "output": {"type": "count"}});
    assert!(parse_value(&q, &lists()).is_err());
    // Text nested beyond the JSON parser's limit is refused by the parser.
    let text = q.to_string();
    assert!(parse_json(&text, &lists()).is_err());
}
