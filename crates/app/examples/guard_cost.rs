//! The cost of the privacy budget and the differencing guard, for
//! `bench/run` (issue 11, item 7): every query of a directory answered
//! through the full feasibility service ([`app::feasibility::ask`]: parse,
//! quota, budget, evaluation, protection, guard, query log) with budget and
//! guard **on** (the defaults of `halsohub serve`) and **off**, interleaved
//! in one run over one engine and one state database (SQLite); then one
//! user's week: distinct queries until the weekly quota or the budget
//! refuses, and the size of the history that leaves behind.
//!
//! ```text
//! cargo run --release -p halsohub-app --example guard_cost -- STORE KEY_FILE QUERIES_DIR REPEAT OUT.json
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark tool, not library code

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use halsohub_access::OrgId;
use halsohub_app::accounts::{Principal, Role};
use halsohub_app::feasibility::{FeasibilityError, QueryInput, QuotaPolicy, Requester, ask};
use halsohub_app::hub::Hub;
use serde_json::{Value, json};
use sqlx::Row;

fn p(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn applicant(user: &str) -> Requester {
    Requester::Api {
        user_id: user.to_string(),
        token_id: None,
        principal: Principal::anonymous()
            .with_role(OrgId::new("bench").expect("valid org"), Role::Applicant),
    }
}

/// The distinct queries of one user's week: counts and sex strata over a
/// grid of diagnoses, minimum ages and years (1 number per count, a few per
/// strata), more than the weekly quota allows.
fn week_queries() -> Vec<Value> {
    let codes = [
        "I10", "E11", "F32", "J45", "I48", "N18", "C50", "M05", "K50", "G35",
    ];
    let mut out = Vec::new();
    for year in 2012..=2024 {
        for min_age in (20..=90).step_by(10) {
            for (i, code) in codes.iter().enumerate() {
                let output = if (i + year as usize).is_multiple_of(5) {
                    json!({"type": "strata", "by": ["sex"]})
                } else {
                    json!({"type": "count"})
                };
                out.push(json!({
                    "version": 1,
                    "criteria": [
                        {"include": {"person": {"age": {"min": min_age, "at": format!("{year}-01-01")}}}},
                        {"include": {"event": {"domain": "diagnosis",
                            "codes": [{"system": "icd10se", "codes": [code], "descendants": true}],
                            "date": {"from": format!("{year}-01-01"), "to": format!("{year}-12-31")}}}}
                    ],
                    "output": output
                }));
            }
        }
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: guard_cost STORE KEY_FILE QUERIES_DIR REPEAT OUT.json");
        std::process::exit(2);
    }
    let repeat: usize = args[4].parse().expect("REPEAT is a number");
    let hub = Hub::open(Path::new(&args[1]), Path::new(&args[2])).expect("open hub");
    let t = Instant::now();
    let base = hub
        .feasibility(None, &[])
        .expect("build the feasibility service");
    eprintln!(
        "guard_cost: service built in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // The same quota on both sides, wide enough not to refuse the timing
    // runs: only budget and guard differ.
    let wide = QuotaPolicy {
        per_minute: u32::MAX,
        per_week: u32::MAX,
    };
    let on = base.clone().with_quota(wide);
    let off = base
        .clone()
        .with_quota(wide)
        .with_budget(None)
        .expect("budget off")
        .with_guard(None)
        .expect("guard off");

    let dir = tempfile::tempdir().expect("temporary directory");
    let db_file = dir.path().join("state.db");
    let url = format!("sqlite://{}?mode=rwc", db_file.display());
    let db = halsohub_app::db::open(Some(&url), dir.path())
        .await
        .expect("open the state database");

    let mut names: Vec<_> = std::fs::read_dir(&args[3])
        .expect("read queries dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    let now = Utc::now();
    let mut per_query = serde_json::Map::new();
    let (mut all_on, mut all_off, mut all_added) = (Vec::new(), Vec::new(), Vec::new());
    for path in &names {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let body = std::fs::read(path).expect("read query");
        // One user per query, so that no query finds the budget spent by
        // another; the first ask is charged, repeats are free (as in use).
        let who_on = applicant(&format!("bench-on-{name}"));
        let who_off = applicant(&format!("bench-off-{name}"));
        let (mut t_on, mut t_off) = (Vec::new(), Vec::new());
        for _ in 0..repeat {
            for (svc, who, times) in [(&off, &who_off, &mut t_off), (&on, &who_on, &mut t_on)] {
                let t = Instant::now();
                let answered = ask(svc, &db, who, QueryInput::Json(&body), now).await;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                if let Err(e) = answered {
                    panic!("{name}: {e}");
                }
            }
        }
        t_on.sort_by(f64::total_cmp);
        t_off.sort_by(f64::total_cmp);
        let added = p(&t_on, 0.5) - p(&t_off, 0.5);
        eprintln!(
            "{name}: p50 off {:.2} ms, on {:.2} ms, added {:.2} ms",
            p(&t_off, 0.5),
            p(&t_on, 0.5),
            added
        );
        all_added.push(added);
        all_on.extend_from_slice(&t_on);
        all_off.extend_from_slice(&t_off);
        per_query.insert(
            name,
            json!({"off_p50_ms": p(&t_off, 0.5), "off_p95_ms": p(&t_off, 0.95),
                   "on_p50_ms": p(&t_on, 0.5), "on_p95_ms": p(&t_on, 0.95),
                   "added_p50_ms": added}),
        );
    }
    all_added.sort_by(f64::total_cmp);
    all_on.sort_by(f64::total_cmp);
    all_off.sort_by(f64::total_cmp);

    // One user's week at the defaults (quota 30/minute and 1000/week,
    // budget 2000 numbers/week, shared guard): distinct queries, two
    // and a half seconds apart in the clock the service is given, until refused.
    let week = base.clone();
    let who = applicant("bench-week");
    let start: DateTime<Utc> = now + Duration::days(14);
    let (mut answered, mut numbers, mut first_refusal) = (0u64, 0u64, None);
    let mut week_times = Vec::new();
    for (i, q) in week_queries().iter().enumerate() {
        let at = start + Duration::milliseconds(2500 * i as i64);
        let t = Instant::now();
        match ask(&week, &db, &who, QueryInput::Value(q), at).await {
            Ok(a) => {
                week_times.push(t.elapsed().as_secs_f64() * 1000.0);
                answered += 1;
                numbers = a
                    .answer
                    .budget
                    .map(|b| b.limit - b.remaining)
                    .unwrap_or(numbers);
            }
            Err(e @ (FeasibilityError::Quota(_) | FeasibilityError::Budget(_))) => {
                first_refusal = Some(e.to_string());
                break;
            }
            Err(e) => panic!("week query {i}: {e}"),
        }
    }
    week_times.sort_by(f64::total_cmp);
    let pool = db_pool(&url).await;
    let row = sqlx::query(
        "SELECT count(*) AS n, coalesce(sum(length(print) + length(scope) + 5 * 8), 0) AS bytes, \
         coalesce(max(length(print)), 0) AS max_print FROM guard_anchors WHERE scope = ?",
    )
    .bind("bench-week")
    .fetch_one(&pool)
    .await
    .expect("anchor size");
    let (anchors, anchor_bytes, max_print): (i64, i64, i64) =
        (row.get("n"), row.get("bytes"), row.get("max_print"));
    let charges: i64 =
        sqlx::query_scalar("SELECT count(*) FROM budget_charges WHERE user_id = 'bench-week'")
            .fetch_one(&pool)
            .await
            .expect("charges");
    eprintln!(
        "week: {answered} queries answered, {numbers} numbers charged, refused by: {}; \
         {anchors} anchors, {anchor_bytes} bytes of anchor rows (largest print {max_print} bytes), \
         {charges} budget rows; p50 per query {:.2} ms",
        first_refusal.as_deref().unwrap_or("nothing"),
        p(&week_times, 0.5)
    );

    let out = json!({
        "engine_events": week.engine().event_count(),
        "engine_patients": week.engine().patient_count(),
        "repeat": repeat,
        "queries": per_query,
        "all_off_p50_ms": p(&all_off, 0.5),
        "all_on_p50_ms": p(&all_on, 0.5),
        "added_p50_ms_median_over_queries": p(&all_added, 0.5),
        "added_p50_ms_max_over_queries": all_added.last().copied().unwrap_or(f64::NAN),
        "week": {
            "answered": answered,
            "numbers_charged": numbers,
            "refused_by": first_refusal,
            "anchors": anchors,
            "anchor_row_bytes": anchor_bytes,
            "largest_print_bytes": max_print,
            "budget_rows": charges,
            "p50_ms": p(&week_times, 0.5),
            "p95_ms": p(&week_times, 0.95),
        }
    });
    std::fs::write(&args[5], serde_json::to_string_pretty(&out).unwrap()).expect("write OUT");
}

async fn db_pool(url: &str) -> sqlx::SqlitePool {
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("open the state database for sizes")
}
