//! Feasibility over HTTP: roles, protected numbers, errors with JSON paths,
//! quotas and the query log — against a real cohort engine built from a
//! generated population, on SQLite and (when HALSOHUB_TEST_DATABASE_URL is
//! set) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::databases;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use halsohub_app::feasibility::{Feasibility, SnapshotInfo};
use halsohub_cohort::{CodeLists, Engine, OutputResult};
use halsohub_disclosure::QuotaPolicy;
use halsohub_identity::Pseudonym;
use halsohub_server::{AppState, router};
use halsohub_state::Db;
use halsohub_state::accounts::NewUser;
use halsohub_state::query_log::{QueryLogFilter, QueryOutcome};
use halsohub_store::{Domain, Event, Person, Residence, Setting};
use serde_json::{Value, json};
use tower::ServiceExt;

const ROLES: [&str; 8] = [
    "applicant",
    "case_officer",
    "legal_reviewer",
    "data_steward",
    "decision_maker",
    "output_checker",
    "auditor",
    "administrator",
];
const MAY_QUERY: [&str; 5] = [
    "applicant",
    "case_officer",
    "legal_reviewer",
    "data_steward",
    "decision_maker",
];

/// A deterministic generated population: sexes, birth dates, regions,
/// diabetes (E11.x) in about a third with metformin for some, heart
/// failure (I50.9) in about a tenth, asthma (J45.9) in exactly three
/// patients, and an HbA1c lab for the diabetics.
struct Population {
    events: Vec<Event>,
    persons: Vec<Person>,
    residences: Vec<Residence>,
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn generate(n: u32) -> Population {
    generate_seeded(n, 0x9e37_79b9_7f4a_7c15)
}

fn generate_seeded(n: u32, seed: u64) -> Population {
    let mut state: u64 = seed | 1;
    let mut next = move |m: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % m
    };
    let regions = ["01", "03", "12", "14", "25"];
    let mut pop = Population {
        events: Vec::new(),
        persons: Vec::new(),
        residences: Vec::new(),
    };
    for i in 0..n {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&i.to_be_bytes());
        bytes[15] = 7;
        let patient = Pseudonym::from_bytes(bytes);
        let birth = day(
            1930 + next(80) as i32,
            1 + next(12) as u32,
            1 + next(28) as u32,
        );
        pop.persons.push(Person {
            patient,
            sex: Some(if next(2) == 0 { 'F' } else { 'M' }),
            birth_date: Some(birth),
            death_date: None,
        });
        pop.residences.push(Residence {
            patient,
            region: regions[next(regions.len() as u64) as usize].into(),
            municipality: None,
            from: birth,
            to: None,
        });
        let ev =
            |domain: Domain, system: &str, code: &str, start: NaiveDate, provider: u64| Event {
                patient,
                domain,
                system: system.into(),
                code: code.into(),
                code_known: true,
                start,
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
                provider: Some(format!("P{provider}")),
                provider_region: Some("01".into()),
                source: "par".into(),
            };
        let when = day(
            2018 + next(6) as i32,
            1 + next(12) as u32,
            1 + next(28) as u32,
        );
        if next(3) == 0 {
            pop.events
                .push(ev(Domain::Diagnosis, "icd10se", "E119", when, next(3)));
            let mut lab = ev(Domain::LabResult, "npu", "NPU27300", when, 0);
            lab.value = Some(30.0 + next(60) as f64);
            lab.unit = Some("mmol/mol".into());
            pop.events.push(lab);
            if next(2) == 0 {
                pop.events.push(ev(
                    Domain::DispensedDrug,
                    "atc",
                    "A10BA02",
                    when + Duration::days(next(120) as i64),
                    next(3),
                ));
            }
        }
        if next(10) == 0 {
            pop.events
                .push(ev(Domain::Diagnosis, "icd10se", "I509", when, next(3)));
        }
        if i < 3 {
            pop.events
                .push(ev(Domain::Diagnosis, "icd10se", "J459", when, 1));
        }
    }
    pop
}

fn engine() -> Engine {
    let p = generate(700);
    Engine::build("000001", &p.events, &p.persons, &p.residences)
}

/// Exact numbers of a query straight from the engine (for checking what
/// the API shows; never sent anywhere).
fn exact(q: &Value) -> OutputResult {
    let lists = CodeLists::new();
    let query = halsohub_cohort::parse_value(q, &lists).unwrap();
    engine()
        .run(&query, &lists, &halsohub_cohort::Exclusion::default())
        .unwrap()
        .output
}

struct Hub {
    app: Router,
    db: Db,
    tokens: BTreeMap<&'static str, String>,
    clock: Arc<Mutex<DateTime<Utc>>>,
    _dir: Option<tempfile::TempDir>,
}

async fn hub(db: Db, dir: Option<tempfile::TempDir>, service: Option<Feasibility>) -> Hub {
    let uni = db.create_organisation("Lunds universitet").await.unwrap();
    let staff = db.create_organisation("Hälsohubben").await.unwrap();
    let mut tokens = BTreeMap::new();
    for role in ROLES {
        let u = db
            .create_user(NewUser {
                username: role.replace('_', "-"),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let org = if role == "applicant" {
            &uni.id
        } else {
            &staff.id
        };
        db.grant_role(&u.id, org, role).await.unwrap();
        let (_, secret) = db.create_api_token(&u.id, "test", None).await.unwrap();
        tokens.insert(role, secret.expose().to_string());
    }
    let nobody = db
        .create_user(NewUser {
            username: "no-roles".into(),
            ..NewUser::default()
        })
        .await
        .unwrap();
    let (_, secret) = db.create_api_token(&nobody.id, "test", None).await.unwrap();
    tokens.insert("none", secret.expose().to_string());

    let clock = Arc::new(Mutex::new(
        DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
    ));
    let mut state = AppState::new(db.clone());
    let c = clock.clone();
    state.clock = Arc::new(move || *c.lock().unwrap());
    if let Some(f) = service {
        state = state.with_feasibility(f);
    }
    Hub {
        app: router(state),
        db,
        tokens,
        clock,
        _dir: dir,
    }
}

/// The service with the rounding-only profile and no budget or guard, so
/// that shown numbers can be checked against exact counts (the default
/// profile's noise, budget and guard are tested in `tests/attacks.rs`).
fn service() -> Feasibility {
    rounded(
        Feasibility::new(engine(), b"test noise secret".to_vec()).with_quota(QuotaPolicy {
            per_minute: 1000,
            per_week: 10_000,
        }),
    )
}

fn rounded(f: Feasibility) -> Feasibility {
    f.with_profile(halsohub_disclosure::Profile::rounded())
        .unwrap()
        .with_budget(None)
        .unwrap()
        .with_guard(None)
        .unwrap()
}

impl Hub {
    async fn raw(
        &self,
        method: &str,
        path: &str,
        role: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(r) = role {
            req = req.header("authorization", format!("Bearer {}", self.tokens[r]));
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        if !status.is_success() {
            assert_eq!(
                headers.get("content-type").unwrap(),
                "application/problem+json",
                "{method} {path}: errors are problem+json"
            );
        }
        (status, headers, v)
    }

    async fn query(&self, role: &str, q: &Value) -> (StatusCode, Value) {
        let (s, _, v) = self
            .raw(
                "POST",
                "/api/v1/feasibility",
                Some(role),
                Some("application/json"),
                q.to_string().into_bytes(),
            )
            .await;
        (s, v)
    }

    async fn get(&self, role: Option<&str>, path: &str) -> (StatusCode, Value) {
        let (s, _, v) = self.raw("GET", path, role, None, Vec::new()).await;
        (s, v)
    }
}

fn count_query(codes: &[&str]) -> Value {
    json!({
        "version": 1,
        "criteria": [{"include": {"event": {"domain": "diagnosis",
            "codes": [{"system": "icd10se", "codes": codes, "descendants": true}]}}}],
        "output": {"type": "count"}
    })
}

/// Every released number (objects with `precision`) in a response.
fn numbers(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("precision") && m.contains_key("display") {
                out.push(v.clone());
            }
            for x in m.values() {
                numbers(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| numbers(x, out)),
        _ => {}
    }
}

/// What the default profile must show for an exact count.
fn shown(n: u64) -> Value {
    if n < 5 {
        json!({"display": "<5", "precision": "suppressed", "below": 5})
    } else {
        let r = (n + 2) / 5 * 5;
        json!({"display": r.to_string(), "value": r, "precision": "rounded", "rounded_to": 5})
    }
}

#[tokio::test]
async fn roles_are_checked_on_every_feasibility_endpoint() {
    for (db, dir) in databases().await {
        let h = hub(db, dir, Some(service())).await;
        let q = count_query(&["E11"]);
        for role in ROLES.iter().copied().chain(["none"]) {
            let allowed = MAY_QUERY.contains(&role);
            let (s, v) = h.query(role, &q).await;
            let (s2, _) = h.get(Some(role), "/api/v1/snapshots").await;
            let (s3, _) = h.get(Some(role), "/api/v1/codes/icd10se?q=E11").await;
            let (s4, lists) = h.get(Some(role), "/api/v1/code-lists").await;
            if allowed {
                let names: Vec<&str> = lists["lists"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["name"].as_str().unwrap())
                    .collect();
                assert!(names.contains(&"type2_diabetes"), "{lists}");
                assert!(
                    lists["systems"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("icd10se"))
                );
            }
            for (what, status) in [
                ("feasibility", s),
                ("snapshots", s2),
                ("codes", s3),
                ("code lists", s4),
            ] {
                if allowed {
                    assert_eq!(status, StatusCode::OK, "{role} may use {what}: {v}");
                } else {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{role} may not use {what}");
                }
            }
        }
        for path in [
            "/api/v1/snapshots",
            "/api/v1/codes/atc?q=A10",
            "/api/v1/code-lists",
        ] {
            assert_eq!(h.get(None, path).await.0, StatusCode::UNAUTHORIZED);
        }
        let (s, _, _) = h
            .raw(
                "POST",
                "/api/v1/feasibility",
                None,
                Some("application/json"),
                q.to_string().into_bytes(),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        // refusals by role are logged too
        let refused =
            h.db.query_log(&QueryLogFilter {
                outcome: Some("refused".into()),
                ..QueryLogFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(refused.len(), ROLES.len() + 1 - MAY_QUERY.len());
    }
}

#[tokio::test]
async fn counts_are_protected_and_identical_on_repetition() {
    for (db, dir) in databases().await {
        let h = hub(db, dir, Some(service())).await;
        for codes in [
            vec!["E11"],
            vec!["I50"],
            vec!["J45"],
            vec!["C50"],
            vec!["E11", "I50"],
        ] {
            let q = count_query(&codes);
            let OutputResult::Count { count } = exact(&q) else {
                panic!("count expected")
            };
            let (s, first) = h.query("applicant", &q).await;
            assert_eq!(s, StatusCode::OK, "{first}");
            assert_eq!(first["output"]["type"], "count");
            assert_eq!(
                first["output"]["count"],
                shown(count),
                "{codes:?}: exact {count}"
            );
            assert_eq!(first["snapshot"], "000001");
            assert!(first["query_hash"].as_str().unwrap().len() >= 64);
            assert_eq!(first["profile"]["name"], "rounded");
            let (_, again) = h.query("data_steward", &q).await;
            assert_eq!(first["output"], again["output"], "identical on repetition");
            assert_eq!(first["query_hash"], again["query_hash"]);
        }
        // the planted 3 and a true 0 look the same
        let (_, three) = h.query("applicant", &count_query(&["J45"])).await;
        let (_, zero) = h.query("applicant", &count_query(&["C50"])).await;
        assert_eq!(three["output"], zero["output"]);
    }
}

#[tokio::test]
async fn every_output_releases_only_protected_numbers() {
    let dm2 = json!({"event": {"domain": "diagnosis",
        "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]}});
    let queries = [
        json!({"version": 1, "criteria": [
            {"label": "diabetes", "include": dm2},
            {"label": "women", "include": {"person": {"sex": "F"}}},
            {"label": "no heart failure", "exclude": {"event": {"domain": "diagnosis",
                "codes": [{"system": "icd10se", "codes": ["I50"], "descendants": true}]}}}],
            "output": {"type": "funnel"}}),
        json!({"version": 1, "criteria": [{"include": dm2}],
            "output": {"type": "strata", "by": ["sex"]}}),
        json!({"version": 1, "criteria": [{"include": dm2}],
            "output": {"type": "strata", "by": ["sex", "age_band"], "at": "2024-01-01"}}),
        json!({"version": 1, "criteria": [{"include": dm2}],
            "output": {"type": "strata", "by": ["region"], "at": "2024-01-01"}}),
        json!({"version": 1, "criteria": [{"include": dm2}],
            "output": {"type": "proportion", "numerator": [{"include": {"event": {"domain": "dispensed_drug",
                "codes": [{"system": "atc", "codes": ["A10BA"], "descendants": true}]}}}]}}),
        json!({"version": 1, "output": {"type": "time_series",
            "event": {"domain": "dispensed_drug", "codes": [{"system": "atc", "codes": ["A10BA02"]}]},
            "interval": "year", "from": "2017-01-01", "to": "2024-12-31"}}),
        json!({"version": 1, "output": {"type": "time_series",
            "event": {"domain": "diagnosis", "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]},
            "interval": "year", "from": "2018-01-01", "to": "2023-12-31", "by": "sex"}}),
    ];
    for (db, dir) in databases().await {
        let h = hub(db, dir, Some(service())).await;
        for q in &queries {
            let (s, v) = h.query("applicant", q).await;
            assert_eq!(s, StatusCode::OK, "{q}: {v}");
            assert_eq!(v["output"]["type"], q["output"]["type"]);
            let mut nums = Vec::new();
            numbers(&v["output"], &mut nums);
            assert!(!nums.is_empty());
            for n in &nums {
                match n["precision"].as_str().unwrap() {
                    "rounded" => {
                        let value = n["value"].as_u64().unwrap();
                        assert!(value >= 5 && value.is_multiple_of(5), "{q}: {n}");
                    }
                    "suppressed" => assert!(n.get("value").is_none(), "{n}"),
                    other => panic!("{q}: precision {other} must not leave the API"),
                }
            }
            let (_, again) = h.query("applicant", q).await;
            assert_eq!(v["output"], again["output"], "{q}: identical on repetition");
        }
        // the funnel's steps follow the exact counts under the profile
        let OutputResult::Funnel { steps } = exact(&queries[0]) else {
            panic!("funnel")
        };
        let (_, v) = h.query("applicant", &queries[0]).await;
        let shown_steps: Vec<Value> = v["output"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["count"].clone())
            .collect();
        let expected: Vec<Value> = steps.iter().map(|s| shown(s.count)).collect();
        assert_eq!(shown_steps, expected);
        assert_eq!(v["output"]["steps"][2]["label"], "no heart failure");
        // one-way strata cover every sex, zero cells included
        let (_, v) = h.query("applicant", &queries[1]).await;
        let keys: Vec<&str> = v["output"]["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"][0].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["F", "M", "unknown"]);
        // regions: every region the snapshot knows is listed (plus
        // unknown), whether or not anyone in the cohort lives there
        let (_, v) = h.query("applicant", &queries[3]).await;
        let regions: Vec<&str> = v["output"]["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"][0].as_str().unwrap())
            .collect();
        let e = engine();
        let mut expected: Vec<&str> = e.region_names().iter().map(String::as_str).collect();
        expected.push("unknown");
        assert_eq!(regions, expected);
    }
}

#[tokio::test]
async fn bad_queries_get_400_with_the_json_path_and_are_logged() {
    let cases: Vec<(&str, String)> = vec![
        ("$.output", "{\"version\": 1, \"output\": ".to_string()),
        ("$", String::new()),
        (
            "$.colour",
            json!({"version": 1, "output": {"type": "count"}, "colour": "red"}).to_string(),
        ),
        (
            "$.criteria[0].include.event.codes",
            json!({"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis", "codes": []}}}],
                "output": {"type": "count"}})
            .to_string(),
        ),
        (
            "$.criteria[0].include.event.within.days",
            json!({"version": 1,
                "index": {"event": {"domain": "diagnosis", "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]}},
                "criteria": [{"include": {"event": {"domain": "dispensed_drug", "within": {"days": [90, 0]}}}}],
                "output": {"type": "count"}})
            .to_string(),
        ),
        (
            "$.output.by",
            json!({"version": 1, "output": {"type": "strata", "by": ["sex", "age_band", "region"], "at": "2024-01-01"}})
                .to_string(),
        ),
        (
            "$.criteria[0].include.event.codes[0].system",
            json!({"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis",
                "codes": [{"system": "icd9", "codes": ["250"]}]}}}], "output": {"type": "count"}})
            .to_string(),
        ),
    ];
    for (db, dir) in databases().await {
        let h = hub(db, dir, Some(service())).await;
        for (path, body) in &cases {
            let (s, _, v) = h
                .raw(
                    "POST",
                    "/api/v1/feasibility",
                    Some("applicant"),
                    Some("application/json"),
                    body.clone().into_bytes(),
                )
                .await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
            assert!(
                v["type"].as_str().unwrap().ends_with("/invalid-query"),
                "{v}"
            );
            assert_eq!(v["errors"][0]["field"], *path, "{body}: {v}");
            assert!(v["detail"].as_str().unwrap().starts_with(path), "{v}");
        }
        let (s, _, _) = h
            .raw(
                "POST",
                "/api/v1/feasibility",
                Some("applicant"),
                Some("text/plain"),
                b"{}".to_vec(),
            )
            .await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let log = h.db.query_log(&QueryLogFilter::default()).await.unwrap();
        assert_eq!(log.len(), cases.len());
        for e in &log {
            let QueryOutcome::Refused { reason } = &e.outcome else {
                panic!("refused expected: {e:?}")
            };
            assert!(reason.starts_with('$'), "{reason}");
        }
        // invalid queries do not use up the quota
        let used =
            h.db.quota_uses_since(&log[0].user_id, Utc::now() - Duration::days(3650))
                .await
                .unwrap();
        assert_eq!(used, 0);
    }
}

#[tokio::test]
async fn quotas_give_429_with_retry_after_and_survive_a_restart() {
    for (db, dir) in databases().await {
        let quota = QuotaPolicy {
            per_minute: 2,
            per_week: 3,
        };
        let make = || rounded(Feasibility::new(engine(), b"secret".to_vec()).with_quota(quota));
        let h = hub(db.clone(), dir, Some(make())).await;
        let q = count_query(&["E11"]);
        assert_eq!(h.query("applicant", &q).await.0, StatusCode::OK);
        assert_eq!(h.query("applicant", &q).await.0, StatusCode::OK);
        let (s, headers, v) = h
            .raw(
                "POST",
                "/api/v1/feasibility",
                Some("applicant"),
                Some("application/json"),
                q.to_string().into_bytes(),
            )
            .await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
        assert!(v["type"].as_str().unwrap().ends_with("/quota-exceeded"));
        assert!(
            v["detail"]
                .as_str()
                .unwrap()
                .contains("2 queries per minute"),
            "{v}"
        );
        let retry: u64 = headers
            .get("retry-after")
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        // another user is not affected
        assert_eq!(h.query("case_officer", &q).await.0, StatusCode::OK);
        // after the wait, one more fits the week's 3 ...
        *h.clock.lock().unwrap() += Duration::seconds(retry as i64);
        assert_eq!(h.query("applicant", &q).await.0, StatusCode::OK);
        // ... and a "restarted" server on the same database remembers them
        let clock = *h.clock.lock().unwrap() + Duration::seconds(120);
        let mut state = AppState::new(db.clone()).with_feasibility(make());
        state.clock = Arc::new(move || clock);
        let restarted = Hub {
            app: router(state),
            db: db.clone(),
            tokens: h.tokens.clone(),
            clock: Arc::new(Mutex::new(clock)),
            _dir: None,
        };
        let (s, headers, v) = restarted
            .raw(
                "POST",
                "/api/v1/feasibility",
                Some("applicant"),
                Some("application/json"),
                q.to_string().into_bytes(),
            )
            .await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
        assert!(v["detail"].as_str().unwrap().contains("per week"), "{v}");
        let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry > 6 * 86_400, "{retry}");
        let refused = db
            .query_log(&QueryLogFilter {
                outcome: Some("refused".into()),
                ..QueryLogFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(refused.len(), 2);
        assert!(refused.iter().all(|e| match &e.outcome {
            QueryOutcome::Refused { reason } => reason.contains("quota"),
            QueryOutcome::Ok => false,
        }));
    }
}

#[tokio::test]
async fn every_answer_is_logged_with_its_protections() {
    for (db, dir) in databases().await {
        let h = hub(db, dir, Some(service())).await;
        let q = json!({"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis",
            "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]}}}],
            "output": {"type": "strata", "by": ["sex"]}});
        let (s, v) = h.query("applicant", &q).await;
        assert_eq!(s, StatusCode::OK);
        let me = h.get(Some("applicant"), "/api/v1/me").await.1;
        let user_id = me["user"]["id"].as_str().unwrap().to_string();
        let log =
            h.db.query_log(&QueryLogFilter {
                user_id: Some(user_id.clone()),
                ..QueryLogFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(log.len(), 1);
        let e = &log[0];
        assert_eq!(e.id, v["log_id"].as_i64().unwrap());
        assert_eq!(e.at, *h.clock.lock().unwrap());
        assert_eq!(e.user_id, user_id);
        assert!(e.token_id.is_some());
        assert_eq!(e.channel, "api");
        assert_eq!(e.query_hash.as_deref(), v["query_hash"].as_str());
        assert_eq!(e.snapshot.as_deref(), Some("000001"));
        assert_eq!(e.output_kind.as_deref(), Some("strata"));
        assert_eq!(e.profile.as_deref(), Some("rounded"));
        assert!(!e.exact);
        assert_eq!(e.outcome, QueryOutcome::Ok);
        assert_eq!(e.protections["profile"]["threshold"], 5);
        assert_eq!(e.protections["profile"]["rounding"], 5);
        // the precision of each kind of number, as released
        let mut released: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in v["output"]["cells"].as_array().unwrap() {
            released
                .entry("cell".into())
                .or_default()
                .push(c["count"]["precision"].as_str().unwrap().into());
        }
        released
            .entry("total".into())
            .or_default()
            .push(v["output"]["total"]["precision"].as_str().unwrap().into());
        for (kind, mut ps) in released {
            ps.sort();
            ps.dedup();
            assert_eq!(e.protections["precision"][&kind], json!(ps), "{kind}");
        }
    }
}

#[tokio::test]
async fn snapshots_codes_and_a_server_without_a_store() {
    let (db, dir) = databases().await.into_iter().next().unwrap();
    let info = SnapshotInfo {
        id: "000001".into(),
        created: Utc::now(),
        parent: None,
        first_event: Some(day(2018, 1, 1)),
        last_event: Some(day(2024, 4, 30)),
        domains: vec!["diagnosis".into()],
        serving: true,
    };
    let h = hub(db, dir, Some(service().with_snapshots(vec![info]))).await;
    let (s, v) = h.get(Some("applicant"), "/api/v1/snapshots").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["serving"], "000001");
    assert_eq!(v["snapshots"][0]["last_event"], "2024-04-30");
    assert_eq!(v["snapshots"][0]["serving"], true);

    let (s, v) = h
        .get(Some("applicant"), "/api/v1/codes/icd10se?q=e11.9")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["results"][0]["code"], "E119");
    assert_eq!(v["results"][0]["display"], "E11.9");
    let (_, v) = h
        .get(Some("applicant"), "/api/v1/codes/atc?q=metformin&limit=1")
        .await;
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    assert_eq!(v["results"][0]["code"], "A10BA02");
    let (s, v) = h.get(Some("applicant"), "/api/v1/codes/icd10se").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("q"));
    let (s, _) = h
        .get(Some("applicant"), "/api/v1/codes/icd10se?q=E&limit=0")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, v) = h.get(Some("applicant"), "/api/v1/codes/klingon?q=x").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    // the same hub without a store: 503 with a clear message
    let (db, dir) = databases().await.into_iter().next().unwrap();
    let bare = hub(db, dir, None).await;
    let (s, v) = bare.query("applicant", &count_query(&["E11"])).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert!(v["detail"].as_str().unwrap().contains("--store"), "{v}");
    assert_eq!(
        bare.get(Some("applicant"), "/api/v1/snapshots").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // code search needs no store
    assert_eq!(
        bare.get(Some("applicant"), "/api/v1/codes/kva?q=A").await.0,
        StatusCode::OK
    );
}

#[test]
fn an_exact_profile_is_refused_for_the_api() {
    let f = Feasibility::new(engine(), b"s".to_vec());
    let e = f
        .with_profile(halsohub_disclosure::Profile::exact())
        .unwrap_err();
    assert!(e.to_string().contains("exact"), "{e}");
    let f = Feasibility::new(engine(), Vec::new());
    assert!(
        f.with_profile(halsohub_disclosure::Profile::noisy())
            .is_err(),
        "noise needs a secret"
    );
}

#[tokio::test]
async fn noisy_profile_is_deterministic_per_query_and_snapshot() {
    let (db, dir) = databases().await.into_iter().next().unwrap();
    let f = service()
        .with_profile(halsohub_disclosure::Profile::noisy())
        .unwrap();
    let h = hub(db, dir, Some(f)).await;
    let q = count_query(&["E11"]);
    let (s, a) = h.query("applicant", &q).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a["output"]["count"]["precision"], "noisy");
    for _ in 0..3 {
        let (_, b) = h.query("applicant", &q).await;
        assert_eq!(a["output"], b["output"]);
    }
}

/// The feasibility routes are in the OpenAPI document with their schemas,
/// and every documented operation is routed.
#[tokio::test]
async fn openapi_lists_exactly_the_routed_operations() {
    let (db, dir) = databases().await.into_iter().next().unwrap();
    let h = hub(db, dir, Some(service())).await;
    let (s, doc) = h.get(None, "/api/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    let post = &paths["/api/v1/feasibility"]["post"];
    assert_eq!(
        post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/QueryBody"
    );
    assert_eq!(
        post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/FeasibilityAnswer"
    );
    for s in [
        "FeasibilityAnswer",
        "ProtectedOutput",
        "Number",
        "SnapshotList",
        "CodeSearch",
        "CodeListIndex",
    ] {
        assert!(doc["components"]["schemas"].get(s).is_some(), "schema {s}");
    }
    assert!(paths.contains_key("/api/v1/snapshots"));
    assert!(paths.contains_key("/api/v1/codes/{system}"));
    // every documented operation is routed (not the 404/405 fallbacks)...
    let mut documented = Vec::new();
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
            let concrete = path
                .replace("{id}", "HH-A-2026-000001")
                .replace("{attachment_id}", "x")
                .replace("{system}", "icd10se");
            let (s, _, v) = h
                .raw(&method.to_uppercase(), &concrete, None, None, Vec::new())
                .await;
            let fallback = v["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("method-not-allowed"))
                || v["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("no API endpoint"));
            assert!(
                !fallback,
                "{method} {path} is documented but not routed ({s})"
            );
        }
    }
    // ...and the feasibility area's routes are all documented
    for (m, p) in [
        ("POST", "/api/v1/feasibility"),
        ("GET", "/api/v1/snapshots"),
        ("GET", "/api/v1/codes/{system}"),
        ("GET", "/api/v1/code-lists"),
        ("GET", "/api/v1/query-log"),
    ] {
        assert!(
            documented.contains(&(m.to_string(), p.to_string())),
            "{m} {p}"
        );
    }
    // an undocumented path falls through to the 404 fallback
    let (s, _) = h.get(Some("applicant"), "/api/v1/feasibility/extra").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_query_log_is_readable_by_auditors_and_by_each_user_for_themselves() {
    for (db, dir) in databases().await {
        let h = hub(db, dir, Some(service())).await;
        let q = count_query(&["E11"]);
        assert_eq!(h.query("applicant", &q).await.0, StatusCode::OK);
        assert_eq!(h.query("data_steward", &q).await.0, StatusCode::OK);
        let bad = json!({"version": 1, "output": {"type": "count"}, "x": 1});
        assert_eq!(h.query("applicant", &bad).await.0, StatusCode::BAD_REQUEST);

        let (s, all) = h.get(Some("auditor"), "/api/v1/query-log").await;
        assert_eq!(s, StatusCode::OK, "{all}");
        let entries = all["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2]["outcome"], "refused");
        assert!(entries[2]["reason"].as_str().unwrap().starts_with("$.x"));
        assert_eq!(entries[0]["exact"], false);

        let (s, own) = h.get(Some("applicant"), "/api/v1/query-log").await;
        assert_eq!(s, StatusCode::OK);
        let own = own["entries"].as_array().unwrap();
        assert_eq!(own.len(), 2, "only the applicant's own");
        let applicant_id = own[0]["user_id"].as_str().unwrap().to_string();
        assert!(own.iter().all(|e| e["user_id"] == applicant_id.as_str()));

        let (s, v) = h
            .get(
                Some("auditor"),
                &format!("/api/v1/query-log?user_id={applicant_id}&outcome=refused"),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["entries"].as_array().unwrap().len(), 1);
        let (s, _) = h
            .get(
                Some("data_steward"),
                &format!("/api/v1/query-log?user_id={applicant_id}"),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        for role in ["administrator", "output_checker", "none"] {
            assert_eq!(
                h.get(Some(role), "/api/v1/query-log").await.0,
                StatusCode::FORBIDDEN,
                "{role}"
            );
        }
        assert_eq!(
            h.get(None, "/api/v1/query-log").await.0,
            StatusCode::UNAUTHORIZED
        );
        let (s, _) = h.get(Some("auditor"), "/api/v1/query-log?limit=0").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 12, ..Default::default() })]

    /// On random small populations, no released number of any output is
    /// between 1 and 4, every shown number is a multiple of 5, and the keys
    /// of a stratification do not depend on who is in the cohort.
    #[test]
    fn no_small_number_leaves_on_random_populations(seed in 1u64..u64::MAX, n in 5u32..120) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let p = generate_seeded(n, seed);
            let engine = Engine::build("000009", &p.events, &p.persons, &p.residences);
            let f = rounded(Feasibility::new(engine, b"s".to_vec()).with_quota(QuotaPolicy {
                per_minute: 1000,
                per_week: 10_000,
            }));
            let (db, dir) = databases().await.into_iter().next().unwrap();
            let h = hub(db, dir, Some(f)).await;
            let dm2 = json!({"event": {"domain": "diagnosis",
                "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]}});
            let queries = [
                count_query(&["E11"]),
                json!({"version": 1, "criteria": [{"include": dm2}],
                    "output": {"type": "strata", "by": ["sex", "age_band"], "at": "2024-01-01"}}),
                json!({"version": 1, "criteria": [{"include": dm2}],
                    "output": {"type": "proportion", "numerator": [{"include": {"person": {"sex": "F"}}}]}}),
                json!({"version": 1, "output": {"type": "time_series",
                    "event": {"domain": "diagnosis", "codes": [{"system": "icd10se", "codes": ["I50"], "descendants": true}]},
                    "interval": "year", "from": "2018-01-01", "to": "2023-12-31", "by": "sex"}}),
            ];
            for q in &queries {
                let (s, v) = h.query("applicant", q).await;
                assert_eq!(s, StatusCode::OK, "{v}");
                let mut nums = Vec::new();
                numbers(&v["output"], &mut nums);
                for x in nums {
                    if let Some(value) = x["value"].as_u64() {
                        assert!(value >= 5, "{q}: {x}");
                        assert!(value.is_multiple_of(5), "{x}");
                    }
                }
            }
            let (_, v) = h.query("applicant", &queries[1]).await;
            let cells = v["output"]["cells"].as_array().unwrap();
            // 3 sexes x (10 bands + unknown), whatever the data
            assert_eq!(cells.len(), 3 * 11);
        });
    }
}

/// The concept-harmonisation warnings reach the API's answer: a query that
/// names a diagnosis in ICD-10-SE only (or in ICD-10-CM only), or a lab
/// analyte in NPU only, on a snapshot that also holds ICD-10-CM (or
/// ICD-10-SE) and LOINC codes from other sources,
/// is told which codes it leaves out and which list covers both; the list
/// itself gets no warning, and no warning holds a number.
#[tokio::test]
async fn harmonisation_warnings_reach_the_answer() {
    let mut p = generate(300);
    // A second source delivering ICD-10-CM diagnoses and LOINC labs.
    let mut other: Vec<Event> = Vec::new();
    for (i, e) in p.events.iter().enumerate() {
        if i % 4 == 0 {
            let mut e2 = e.clone();
            e2.source = "fhir".into();
            match e.system.as_str() {
                "icd10se" => {
                    e2.system = "icd10cm".into();
                    e2.code = if e.code == "E119" {
                        "I4891".into()
                    } else {
                        e.code.clone()
                    };
                }
                "npu" => {
                    e2.system = "loinc".into();
                    e2.code = "4548-4".into();
                    e2.unit = Some("%".into());
                }
                _ => continue,
            }
            other.push(e2);
        }
        if i % 5 == 0 && e.system == "icd10se" {
            let mut af = e.clone();
            af.code = "I480".into();
            other.push(af);
        }
    }
    p.events.extend(other);
    let service = || {
        let engine = Engine::build("000001", &p.events, &p.persons, &p.residences);
        assert!(engine.systems().contains("icd10cm") && engine.systems().contains("loinc"));
        rounded(
            Feasibility::new(engine, b"test noise secret".to_vec()).with_quota(QuotaPolicy {
                per_minute: 1000,
                per_week: 10_000,
            }),
        )
    };
    let q = |codes: Value| {
        json!({"version": 1,
            "criteria": [{"include": {"event": {"domain": "diagnosis", "codes": codes}}}],
            "output": {"type": "count"}})
    };
    for (db, dir) in databases().await {
        let h = hub(db, dir, Some(service())).await;
        let (s, v) = h
            .query(
                "applicant",
                &q(json!([{"system": "icd10se", "codes": ["I48"], "descendants": true}])),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let w: Vec<&str> = v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(w.len(), 1, "{v}");
        assert!(
            w[0].starts_with("ICD-10-SE I48 (with descendants)"),
            "{}",
            w[0]
        );
        assert!(w[0].contains("ICD-10-CM I48 (equivalent)"), "{}", w[0]);
        assert!(
            w[0].contains("Use the list `atrial_fibrillation`"),
            "{}",
            w[0]
        );
        // The snapshot holds no ICD-10-GM: not named.
        assert!(!w[0].contains("ICD-10-GM"), "{}", w[0]);
        for w in &w {
            assert!(
                !w.split_whitespace()
                    .any(|t| t.chars().all(|c| c.is_ascii_digit())),
                "{w}"
            );
        }
        // The named list covers both editions: no warning.
        let (_, v) = h
            .query("applicant", &q(json!([{"list": "atrial_fibrillation"}])))
            .await;
        assert_eq!(v["warnings"], json!([]), "{v}");
        // The other way round: ICD-10-CM only, where the snapshot holds
        // ICD-10-SE too, is told the ICD-10-SE counterpart and the list.
        let (s, v) = h
            .query(
                "applicant",
                &q(json!([{"system": "icd10cm", "codes": ["I48"], "descendants": true}])),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["warnings"].as_array().map(Vec::len), Some(1), "{v}");
        let w = v["warnings"][0].as_str().unwrap();
        assert!(w.starts_with("ICD-10-CM I48 (with descendants)"), "{w}");
        assert!(w.contains("ICD-10-SE I48 (equivalent)"), "{w}");
        assert!(w.contains("Use the list `atrial_fibrillation`"), "{w}");
        assert!(!w.contains("ICD-10-GM"), "{w}");
        assert!(
            !w.split_whitespace()
                .any(|t| t.chars().all(|c| c.is_ascii_digit())),
            "{w}"
        );
        // The lab analyte in NPU only, where the snapshot holds LOINC too.
        let lab = json!({"version": 1,
            "criteria": [{"include": {"event": {"domain": "lab_result",
                "codes": [{"system": "npu", "codes": ["NPU27300"]}]}}}],
            "output": {"type": "count"}});
        let (s, v) = h.query("applicant", &lab).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let w = v["warnings"][0].as_str().unwrap();
        assert!(w.contains("LOINC 4548-4") && w.contains("`hba1c`"), "{w}");
    }
}
