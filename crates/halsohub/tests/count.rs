//! End to end: `halsohub count` on a synthetic population, checked against
//! independent SQL (DuckDB) over the exported Parquet, and protected output
//! checked for small counts and determinism.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Hub;
use serde_json::Value;

fn bench_queries() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/queries")
}

/// A synthetic store of 2000 patients and its Parquet export.
fn hub_with_store() -> Hub {
    let hub = Hub::new();
    hub.ok(&["keys", "init"]);
    let data = hub.path("data");
    let store = hub.path("store");
    hub.ok(&[
        "synth",
        "--patients",
        "2000",
        "--out",
        data.to_str().unwrap(),
    ]);
    hub.ok(&[
        "ingest",
        "--store",
        store.to_str().unwrap(),
        "--reference-date",
        "2025-12-31",
        data.to_str().unwrap(),
    ]);
    hub
}

fn count_json(hub: &Hub, query: &Path, extra: &[&str]) -> Value {
    let store = hub.path("store");
    let mut args = vec![
        "count",
        "--store",
        store.to_str().unwrap(),
        query.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    hub.json(&args)
}

/// An exact result as sorted rows of strings, the shape the SQL returns
/// (time series: non-empty periods only).
fn rows_of(result: &Value) -> Vec<Vec<String>> {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut rows: Vec<Vec<String>> = match result["type"].as_str().unwrap() {
        "count" => vec![vec![s(&result["count"])]],
        "funnel" => result["steps"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, st)| vec![i.to_string(), s(&st["count"])])
            .collect(),
        "proportion" => vec![vec![s(&result["numerator"]), s(&result["denominator"])]],
        "strata" => result["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut r: Vec<String> = c["key"].as_array().unwrap().iter().map(s).collect();
                r.push(s(&c["count"]));
                r
            })
            .collect(),
        "time_series" => result["points"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["count"].as_u64().unwrap() > 0)
            .map(|p| {
                let mut r = vec![s(&p["period"])];
                if let Some(k) = p.get("key") {
                    r.push(s(k));
                }
                r.push(s(&p["count"]));
                r
            })
            .collect(),
        other => panic!("unknown output type {other}"),
    };
    rows.sort();
    rows
}

#[test]
fn exact_counts_equal_independent_sql_over_parquet() {
    let hub = hub_with_store();
    let mut names: Vec<PathBuf> = std::fs::read_dir(bench_queries())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    assert!(names.len() >= 12, "bench/queries holds the suite");

    let mut exact = serde_json::Map::new();
    let mut nonzero = 0;
    for q in &names {
        let out = count_json(&hub, q, &["--exact"]);
        assert_eq!(out["snapshot"], "s000001");
        assert_eq!(out["query_hash"].as_str().unwrap().len(), 64);
        assert_eq!(out["protection"]["profile"], "exact");
        assert!(
            out["protection"]["notice"]
                .as_str()
                .unwrap()
                .contains("data steward only")
        );
        let rows = rows_of(&out["result"]);
        if rows.iter().any(|r| r.last().is_some_and(|c| c != "0")) {
            nonzero += 1;
        }
        let name = q.file_stem().unwrap().to_string_lossy().into_owned();
        exact.insert(name, serde_json::to_value(rows).unwrap());
    }
    assert!(nonzero >= 12, "the suite finds patients on this data");

    let Some(python) = common::duckdb_python() else {
        return;
    };
    let parquet = hub.path("parquet");
    hub.ok(&[
        "store",
        "export",
        "--store",
        hub.path("store").to_str().unwrap(),
        "--out",
        parquet.to_str().unwrap(),
    ]);
    let sql_out = hub.path("duckdb.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/duckdb_run.py");
    let status = Command::new(&python)
        .arg(&script)
        .args(["--parquet", parquet.to_str().unwrap()])
        .args(["--queries", bench_queries().to_str().unwrap()])
        .args(["--out", sql_out.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "DuckDB script failed");
    let sql: Value = serde_json::from_slice(&std::fs::read(&sql_out).unwrap()).unwrap();
    for (name, mine) in &exact {
        let mut theirs: Vec<Vec<String>> =
            serde_json::from_value(sql[name]["rows"].clone()).unwrap();
        theirs.sort();
        let mine: Vec<Vec<String>> = serde_json::from_value(mine.clone()).unwrap();
        assert_eq!(mine, theirs, "{name}: halsohub --exact vs DuckDB SQL");
    }

    // A hand-written SQL check that does not share the bench's helpers.
    let direct = common::duckdb(
        &python,
        &format!(
            "import duckdb\nprint(duckdb.sql(\"SELECT count(DISTINCT pseudonym) FROM read_parquet('{}/events.parquet') WHERE domain = 'dispensed_drug' AND code LIKE 'R03%'\").fetchall()[0][0])",
            parquet.display()
        ),
    );
    let q = hub.path("r03.json");
    std::fs::write(
        &q,
        r#"{"version": 1, "criteria": [{"include": {"event": {"domain": "dispensed_drug",
            "codes": [{"system": "atc", "codes": ["R03"], "descendants": true}]}}}],
            "output": {"type": "count"}}"#,
    )
    .unwrap();
    let out = count_json(&hub, &q, &["--exact"]);
    assert_eq!(out["result"]["count"].to_string(), direct.trim());
}

/// Every protected number in a JSON output.
fn protected_values(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(o) if o.contains_key("precision") && o.contains_key("display") => {
            out.push(v.clone());
        }
        Value::Object(o) => o.values().for_each(|x| protected_values(x, out)),
        Value::Array(a) => a.iter().for_each(|x| protected_values(x, out)),
        _ => {}
    }
}

#[test]
fn protected_output_hides_small_counts_and_repeats_identically() {
    let hub = hub_with_store();
    let mut names: Vec<PathBuf> = std::fs::read_dir(bench_queries())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    let mut small_seen = 0;
    for q in &names {
        let a = count_json(&hub, q, &[]);
        let b = count_json(&hub, q, &[]);
        assert_eq!(a, b, "{}: repeated query, different output", q.display());
        assert_eq!(a["protection"]["profile"], "feasibility");
        assert_eq!(a["snapshot"], "s000001");
        let mut values = Vec::new();
        protected_values(&a["result"], &mut values);
        assert!(!values.is_empty(), "{}: no protected numbers", q.display());
        for v in &values {
            let precision = v["precision"].as_str().unwrap();
            assert_ne!(precision, "exact", "{}: {v}", q.display());
            if let Some(n) = v["value"].as_u64() {
                assert!(n == 0 || n >= 5, "{}: shows {n}", q.display());
                assert!(n % 5 == 0, "{}: {n} is not rounded to 5", q.display());
                assert!(n != 0, "{}: a 0 must not be shown", q.display());
            } else {
                assert_eq!(precision, "suppressed");
                small_seen += 1;
            }
        }
        // The exact and protected runs name the same query.
        let e = count_json(&hub, q, &["--exact"]);
        assert_eq!(e["query_hash"], a["query_hash"]);
    }
    assert!(small_seen > 0, "the suite has small cells to suppress");

    // Text output names snapshot and hash and never a 1..4 count.
    let store = hub.path("store");
    let q = bench_queries().join("q11_strata_sex_age.json");
    let out = hub.ok(&[
        "count",
        "--store",
        store.to_str().unwrap(),
        q.to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("snapshot    s000001"), "{text}");
    assert!(text.contains("query hash  "), "{text}");
    for line in text.lines().skip(4) {
        let n = line.split_whitespace().find_map(|w| w.parse::<u64>().ok());
        if let Some(n) = n
            && !line.contains('-')
            && !line.contains('+')
        {
            assert!(n >= 5, "{line}");
        }
    }
}

#[test]
fn yaml_queries_snapshots_and_errors() {
    let hub = hub_with_store();
    let store = hub.path("store");
    let store = store.to_str().unwrap();
    let yaml = hub.path("q.yaml");
    std::fs::write(
        &yaml,
        "version: 1\ncriteria:\n  - include:\n      event:\n        domain: diagnosis\n        codes:\n          - system: icd10se\n            codes: [E11]\n            descendants: true\noutput:\n  type: count\n",
    )
    .unwrap();
    let json = hub.path("q.json");
    std::fs::write(
        &json,
        r#"{"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis",
            "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]}}}],
            "output": {"type": "count"}}"#,
    )
    .unwrap();
    let a = count_json(&hub, &yaml, &["--exact"]);
    let b = count_json(&hub, &json, &["--exact", "--snapshot", "s000001"]);
    assert_eq!(a, b, "YAML and JSON of one query give one answer and hash");

    let err = hub.fails(&[
        "count",
        "--store",
        store,
        json.to_str().unwrap(),
        "--snapshot",
        "s000009",
    ]);
    assert!(err.contains("s000009"), "{err}");

    let bad = hub.path("bad.json");
    std::fs::write(
        &bad,
        r#"{"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis",
            "codes": [{"system": "icd10se", "codes": []}]}}}], "output": {"type": "count"}}"#,
    )
    .unwrap();
    let err = hub.fails(&["count", "--store", store, bad.to_str().unwrap()]);
    assert!(
        err.contains("$.criteria[0].include.event.codes[0]"),
        "{err}"
    );

    let unknown = hub.path("unknown.json");
    std::fs::write(
        &unknown,
        r#"{"version": 1, "output": {"type": "count"}, "limit": 3}"#,
    )
    .unwrap();
    let err = hub.fails(&["count", "--store", store, unknown.to_str().unwrap()]);
    assert!(err.contains("limit"), "{err}");

    // Protected output needs the hub key (noise is keyed by it).
    let err = hub.fails(&[
        "count",
        "--store",
        store,
        json.to_str().unwrap(),
        "--key",
        hub.path("missing.key").to_str().unwrap(),
    ]);
    assert!(err.contains("no hub key"), "{err}");
}

fn query_log(url: &str) -> Vec<halsohub_state::query_log::QueryLogEntry> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = halsohub_state::Db::connect(url).await.unwrap();
        db.query_log(&Default::default()).await.unwrap()
    })
}

#[test]
fn every_count_is_in_the_query_log() {
    let hub = hub_with_store();
    let store = hub.path("store");
    let store = store.to_str().unwrap();
    let q = bench_queries().join("q11_strata_sex_age.json");
    let q = q.to_str().unwrap();
    let run = |extra: &[&str]| {
        let out = hub
            .cmd()
            .env("USER", "steward1")
            .env_remove("HALSOHUB_DATABASE")
            .args(["count", "--store", store, q, "--json"])
            .args(extra)
            .output()
            .unwrap();
        (out.status.success(), out.stdout)
    };
    let (ok, protected) = run(&[]);
    assert!(ok);
    let protected: Value = serde_json::from_slice(&protected).unwrap();
    let (ok, _) = run(&["--exact"]);
    assert!(ok);
    let bad = hub.path("bad.json");
    std::fs::write(&bad, r#"{"version": 1, "output": {"type": "cnt"}}"#).unwrap();
    let (ok, _) = run(&[bad.to_str().unwrap()]);
    assert!(!ok, "two query files are refused by clap");
    let err = hub.fails(&["count", "--store", store, bad.to_str().unwrap()]);
    assert!(err.contains("$.output"), "{err}");

    // the default state database under the hub home
    let url = format!(
        "sqlite://{}?mode=rwc",
        hub.home().join("state.db").display()
    );
    let log = query_log(&url);
    assert_eq!(log.len(), 3, "{log:#?}");
    let (p, e, r) = (&log[0], &log[1], &log[2]);
    for entry in &log {
        assert_eq!(entry.channel, "cli");
        assert_eq!(entry.token_id, None);
    }
    assert_eq!(p.user_id, "os:steward1");
    assert_eq!(p.query_hash.as_deref(), protected["query_hash"].as_str());
    assert_eq!(p.snapshot.as_deref(), Some("s000001"));
    assert_eq!(p.output_kind.as_deref(), Some("strata"));
    assert_eq!(p.profile.as_deref(), Some("feasibility"));
    assert!(!p.exact);
    assert_eq!(p.outcome, halsohub_state::query_log::QueryOutcome::Ok);
    assert_eq!(p.protections["profile"]["rounding"], 5);
    assert!(
        p.protections["precision"]["cell"].is_array(),
        "{}",
        p.protections
    );
    assert!(e.exact, "--exact is logged as exact");
    assert_eq!(e.profile.as_deref(), Some("exact"));
    assert_eq!(e.query_hash, p.query_hash);
    assert_eq!(e.protections["precision"]["cell"][0], "exact");
    match &r.outcome {
        halsohub_state::query_log::QueryOutcome::Refused { reason } => {
            assert!(reason.contains("$.output"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.query_hash, None);

    // --database (or HALSOHUB_DATABASE) chooses another state database
    let other = format!("sqlite://{}?mode=rwc", hub.path("other.db").display());
    hub.ok(&["count", "--store", store, q, "--database", &other]);
    assert_eq!(query_log(&other).len(), 1);
    assert_eq!(query_log(&url).len(), 3);

    // and PostgreSQL, when a test database is given
    let Ok(pg) = std::env::var("HALSOHUB_TEST_DATABASE_URL") else {
        eprintln!("NOTICE: HALSOHUB_TEST_DATABASE_URL not set; PostgreSQL query log skipped");
        return;
    };
    let who = format!("cli-test-{}", std::process::id());
    let out = hub
        .cmd()
        .env("USER", &who)
        .env("HALSOHUB_DATABASE", &pg)
        .args(["count", "--store", store, q, "--exact"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mine = rt.block_on(async {
        let db = halsohub_state::Db::connect(&pg).await.unwrap();
        let filter = halsohub_state::query_log::QueryLogFilter {
            user_id: Some(format!("os:{who}")),
            ..Default::default()
        };
        db.query_log(&filter).await.unwrap()
    });
    let last = mine.last().expect("the PostgreSQL log has the run");
    assert!(last.exact);
    assert_eq!(last.channel, "cli");
    assert_eq!(last.query_hash, p.query_hash);
}

#[test]
fn named_code_lists_builtin_and_from_files() {
    let hub = hub_with_store();
    let store = hub.path("store");
    let store = store.to_str().unwrap();
    let query = |name: &str, codes: &str| {
        let p = hub.path(&format!("{name}.json"));
        std::fs::write(
            &p,
            format!(
                r#"{{"version": 1, "criteria": [{{"include": {{"event": {{"domain": "diagnosis", "codes": {codes}}}}}}}], "output": {{"type": "count"}}}}"#
            ),
        )
        .unwrap();
        p
    };
    let explicit = query(
        "explicit",
        r#"[{"system": "icd10se", "codes": ["E11"], "descendants": true}]"#,
    );
    let builtin = query("builtin", r#"[{"list": "type2_diabetes"}]"#);
    let mine = query("mine", r#"[{"list": "my_t2d"}]"#);
    let n = |v: Value| v["result"]["count"].clone();
    let expected = n(count_json(&hub, &explicit, &["--exact"]));
    assert!(expected.as_u64().unwrap() > 0);
    assert_eq!(n(count_json(&hub, &builtin, &["--exact"])), expected);

    // Without the file the list is unknown, with it the count is the same.
    let err = hub.fails(&["count", "--store", store, mine.to_str().unwrap()]);
    assert!(err.contains("unknown code list \"my_t2d\""), "{err}");
    let lists = hub.path("lists.yaml");
    std::fs::write(
        &lists,
        "version: 1\nlists:\n  my_t2d:\n    title: T2D\n    codes:\n      - {system: icd10se, codes: [E11], descendants: true}\n",
    )
    .unwrap();
    let with = ["--exact", "--code-lists", lists.to_str().unwrap()];
    assert_eq!(n(count_json(&hub, &mine, &with)), expected);

    // A bad list file names itself and the JSON path.
    let bad = hub.path("bad-lists.json");
    std::fs::write(
        &bad,
        r#"{"version": 1, "lists": {"x": {"codes": [{"system": "atc", "codes": ["11"]}]}}}"#,
    )
    .unwrap();
    let err = hub.fails(&[
        "count",
        "--store",
        store,
        explicit.to_str().unwrap(),
        "--code-lists",
        bad.to_str().unwrap(),
    ]);
    assert!(err.contains("bad-lists.json"), "{err}");
    assert!(err.contains("$.lists.x.codes[0].codes[0]"), "{err}");
}

/// `halsohub count` opens the hub like every other command: a key that is
/// not the store's, or one kept inside the store, is refused (with and
/// without `--exact`) before anything is counted, and the refusal is in
/// the query log.
#[test]
fn count_refuses_another_key_and_a_key_inside_the_store() {
    let hub = Hub::new();
    hub.ok(&["keys", "init"]);
    let (data, store) = (hub.path("data"), hub.path("store"));
    let (data, store) = (data.to_str().unwrap(), store.to_str().unwrap());
    hub.ok(&["synth", "--patients", "200", "--out", data]);
    hub.ok(&[
        "ingest",
        "--store",
        store,
        "--reference-date",
        "2025-12-31",
        data,
    ]);
    let q = bench_queries().join("q01_single_code.json");
    let q = q.to_str().unwrap();
    // the right key counts
    let ok = hub.json(&["count", "--store", store, q, "--json"]);
    assert_eq!(ok["snapshot"], "s000001");

    let other = hub.path("other.key");
    let other = other.to_str().unwrap();
    hub.ok(&["keys", "init", "--key", other]);
    for extra in [&[][..], &["--exact"][..]] {
        let mut args = vec!["count", "--store", store, q, "--key", other];
        args.extend_from_slice(extra);
        let err = hub.fails(&args);
        assert!(
            err.contains("is not the key of the store"),
            "{extra:?}: {err}"
        );
        assert!(err.contains("fingerprint"), "{err}");
        assert!(!err.contains("patients"), "nothing counted: {err}");
    }

    // the store's own key, copied into the store, is refused for its place
    let inside = hub.path("store").join("hub.key");
    std::fs::copy(hub.home().join("hub.key"), &inside).unwrap();
    let err = hub.fails(&[
        "count",
        "--store",
        store,
        q,
        "--key",
        inside.to_str().unwrap(),
    ]);
    assert!(err.contains("inside the store"), "{err}");

    let url = format!(
        "sqlite://{}?mode=rwc",
        hub.home().join("state.db").display()
    );
    let log = query_log(&url);
    assert_eq!(log.len(), 4, "{log:#?}");
    assert_eq!(log[0].outcome, halsohub_state::query_log::QueryOutcome::Ok);
    for (entry, why) in log[1..]
        .iter()
        .zip(["fingerprint", "fingerprint", "inside the store"])
    {
        match &entry.outcome {
            halsohub_state::query_log::QueryOutcome::Refused { reason } => {
                assert!(reason.contains(why), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            entry.query_hash, None,
            "refused before the query was read for meaning"
        );
    }
    assert!(log[2].exact, "--exact is logged as exact");
}
