//! End to end through the real binary: keys, synth, ingest, store info and
//! export. These are the foundation's promises: no raw identity number
//! anywhere under the store, re-ingest changes nothing, a killed load leaves
//! the previous snapshot, another key is refused, the Parquet export opens in
//! DuckDB, bad input gets a clear error.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns; a failure is the test failing

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Hub, duckdb, duckdb_python};

const EXTRACT: &str = "2025-12-31";

/// A hub with a key and a small synthetic population under `data`.
fn hub_with_data(patients: u32) -> Hub {
    let hub = Hub::new();
    hub.ok(&["keys", "init"]);
    let n = patients.to_string();
    hub.ok(&[
        "synth",
        "--patients",
        &n,
        "--seed",
        "7",
        "--out",
        hub.path("data").to_str().unwrap(),
    ]);
    hub
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ingest(hub: &Hub, store: &Path, paths: &[PathBuf]) -> serde_json::Value {
    let mut args = vec![
        "ingest".to_string(),
        "--store".into(),
        s(store).into(),
        "--reference-date".into(),
        EXTRACT.into(),
        "--json".into(),
    ];
    args.extend(paths.iter().map(|p| s(p).to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    hub.json(&args)
}

fn info(hub: &Hub, store: &Path) -> serde_json::Value {
    hub.json(&["store", "info", "--store", s(store), "--json"])
}

#[test]
fn keys_init_writes_a_private_key_once() {
    let hub = Hub::new();
    let out = hub.ok(&["keys", "init"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("fingerprint"), "{stdout}");
    let key = hub.home().join("hub.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "key mode {mode:o}");
    }
    let err = hub.fails(&["keys", "init"]);
    assert!(err.contains("exists"), "{err}");
    let fp = hub.ok(&["keys", "fingerprint"]);
    let fp = String::from_utf8_lossy(&fp.stdout);
    assert!(stdout.contains(fp.trim()), "{stdout} vs {fp}");
    // The key's bytes never appear in what the commands print.
    let secret = std::fs::read(&key).unwrap();
    let secret_text = String::from_utf8_lossy(&secret);
    assert!(!stdout.contains(secret_text.trim()));
}

#[test]
fn ingest_pseudonymises_links_and_is_idempotent() {
    let hub = hub_with_data(1500);
    let data = hub.path("data");
    let store = hub.path("store");
    let report = ingest(&hub, &store, std::slice::from_ref(&data));
    assert!(report["snapshot"].is_string(), "{report}");
    let first = info(&hub, &store);
    let events = first["events"].as_u64().unwrap();
    assert!(events > 10_000, "{first}");
    assert_eq!(first["snapshots"].as_array().unwrap().len(), 1);

    // Ground truth: the rows the generator wrote versus what the store holds
    // plus what was quarantined.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("manifest.json")).unwrap())
            .unwrap();
    assert!(manifest["population"]["persons"].as_u64().unwrap() >= 1500);
    let quarantined = first["snapshots"][0]["quarantined"].as_u64().unwrap();
    let rejected_by_design = manifest["defects_total"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "unknown_code")
        .map(|(_, v)| v.as_u64().unwrap())
        .sum::<u64>();
    assert!(
        quarantined >= rejected_by_design * 9 / 10
            && quarantined <= rejected_by_design * 11 / 10 + 5,
        "quarantined {quarantined} rows, generator made {rejected_by_design} rejectable defects"
    );

    // No identity number from the inputs anywhere under the store (files,
    // Parquet columns, quarantine, reports).
    let ids = common::raw_ids(&data);
    assert!(
        ids.len() > 1000,
        "found only {} ids in the sources",
        ids.len()
    );
    let text = common::all_text(&store);
    let leaks = common::leaked_ids(&text, &ids);
    assert!(
        leaks.is_empty(),
        "{} raw ids in the store, e.g. {:?}",
        leaks.len(),
        &leaks[..1]
    );
    // Nor in what ingest printed.
    assert!(common::leaked_ids(&report.to_string(), &ids).is_empty());

    // Same files again: nothing new, counts unchanged, no new snapshot.
    let again = ingest(&hub, &store, &[data]);
    assert!(again["snapshot"].is_null(), "{again}");
    let second = info(&hub, &store);
    assert_eq!(second["events"], first["events"]);
    assert_eq!(second["rows"], first["rows"]);
    assert_eq!(second["snapshots"].as_array().unwrap().len(), 1);
}

#[test]
fn another_key_is_refused_and_the_key_stays_outside_the_store() {
    let hub = hub_with_data(300);
    let store = hub.path("store");
    let pop = hub.path("data").join("population");
    ingest(&hub, &store, &[pop]);
    let before = info(&hub, &store);

    let other = hub.path("other.key");
    hub.ok(&["keys", "init", "--key", s(&other)]);
    let lab = hub.path("data").join("region_01");
    let err = hub.fails(&[
        "ingest",
        "--store",
        s(&store),
        "--key",
        s(&other),
        "--reference-date",
        EXTRACT,
        s(&lab),
    ]);
    assert!(err.contains("key"), "{err}");
    assert!(err.contains("fingerprint"), "{err}");
    assert_eq!(info(&hub, &store)["events"], before["events"]);

    let inside = store.join("hub.key");
    hub.ok(&["keys", "init", "--key", s(&inside)]);
    let err = hub.fails(&["ingest", "--store", s(&store), "--key", s(&inside), s(&lab)]);
    assert!(err.contains("inside the store"), "{err}");
}

#[test]
fn a_killed_load_leaves_the_previous_snapshot() {
    let hub = hub_with_data(4000);
    let store = hub.path("store");
    let data = hub.path("data");
    ingest(&hub, &store, &[data.join("population")]);
    let before = info(&hub, &store);
    let current = before["current"].clone();

    // Kill the load of everything else at several points of its run.
    for delay_ms in [50u64, 200, 400, 700, 1000] {
        let mut child = hub
            .cmd()
            .args([
                "ingest",
                "--store",
                s(&store),
                "--reference-date",
                EXTRACT,
                s(&data),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        if finished {
            break; // the load won the race; the store must then be whole
        }
        let now = info(&hub, &store);
        assert_eq!(now["current"], current, "killed after {delay_ms} ms");
        assert_eq!(
            now["events"], before["events"],
            "killed after {delay_ms} ms"
        );
    }
    // Whatever happened, a complete load afterwards works and reads back.
    ingest(&hub, &store, &[data]);
    let after = info(&hub, &store);
    assert!(after["events"].as_u64().unwrap() > before["events"].as_u64().unwrap());
    assert_ne!(after["current"], current);
}

#[test]
fn parquet_export_opens_in_duckdb_with_the_stores_counts() {
    let hub = hub_with_data(800);
    let store = hub.path("store");
    ingest(&hub, &store, &[hub.path("data")]);
    let events = info(&hub, &store)["events"].as_u64().unwrap();
    let out = hub.path("export");
    hub.ok(&[
        "store",
        "export",
        "--store",
        s(&store),
        "--format",
        "parquet",
        "--out",
        s(&out),
    ]);
    let csv = hub.path("export-csv");
    hub.ok(&[
        "store",
        "export",
        "--store",
        s(&store),
        "--format",
        "csv",
        "--out",
        s(&csv),
    ]);
    assert!(out.join("events.parquet").exists());
    assert!(csv.join("events.csv").exists());
    let ids = common::raw_ids(&hub.path("data"));
    assert!(common::leaked_ids(&common::all_text(&out), &ids).is_empty());
    assert!(common::leaked_ids(&common::all_text(&csv), &ids).is_empty());

    // Exporting into the store or over a non-empty directory is refused.
    let err = hub.fails(&[
        "store",
        "export",
        "--store",
        s(&store),
        "--out",
        s(&store.join("x")),
    ]);
    assert!(err.contains("store"), "{err}");
    let err = hub.fails(&["store", "export", "--store", s(&store), "--out", s(&out)]);
    assert!(!err.is_empty());

    let Some(python) = duckdb_python() else {
        return;
    };
    let script = format!(
        "import duckdb\nprint(duckdb.sql(\"select count(*) from read_parquet('{}')\").fetchall()[0][0])\nprint(duckdb.sql(\"select count(*) from read_parquet('{}')\").fetchall()[0][0])",
        s(&out.join("events.parquet")),
        s(&out.join("persons.parquet")),
    );
    let printed = duckdb(&python, &script);
    let mut lines = printed.lines();
    assert_eq!(lines.next().unwrap().trim().parse::<u64>().unwrap(), events);
    assert!(lines.next().unwrap().trim().parse::<u64>().unwrap() >= 800);
}

#[test]
fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let hub = hub_with_data(200);
    let store = hub.path("store");
    ingest(&hub, &store, &[hub.path("data").join("population")]);
    let before = info(&hub, &store);

    let missing = hub.path("no-such-file.csv");
    let err = hub.fails(&["ingest", "--store", s(&store), s(&missing)]);
    assert!(err.contains("no-such-file.csv"), "{err}");

    let junk = hub.path("junk.csv");
    std::fs::write(&junk, "hello;world\n1;2\n").unwrap();
    let err = hub.fails(&["ingest", "--store", s(&store), s(&junk)]);
    assert!(err.contains("junk.csv"), "{err}");

    let err = hub.fails(&[
        "ingest",
        "--store",
        s(&store),
        "--format",
        "excel",
        s(&junk),
    ]);
    assert!(err.contains("excel"), "{err}");

    let err = hub.fails(&["store", "info", "--store", s(&hub.path("nothing"))]);
    assert!(err.contains("nothing"), "{err}");

    let err = hub.fails(&[
        "synth",
        "--patients",
        "10",
        "--defect-rate",
        "2",
        "--out",
        s(&hub.path("x")),
    ]);
    assert!(err.contains("defect rate"), "{err}");

    assert_eq!(info(&hub, &store), before);
}

/// `ingest` takes third-party FHIR R4 Bundles as it takes register files
/// (the conformance details are tested in the ingest crate).
#[test]
fn ingest_reads_fhir_bundles_through_the_same_command() {
    let Some(mii) = common::shared_data("fhir-mii-kds-testdata") else {
        return;
    };
    let hub = Hub::new();
    hub.ok(&["keys", "init"]);
    let store = hub.path("store");
    let report = ingest(&hub, &store, std::slice::from_ref(&mii));
    assert!(report["snapshot"].is_string(), "{report}");
    let info = info(&hub, &store);
    assert!(info["events"].as_u64().unwrap() > 100, "{info}");
    assert!(info["rows"]["diagnosis"].is_object(), "{info}");
    // Same files again: nothing new.
    let again = ingest(&hub, &store, &[mii]);
    assert!(again["snapshot"].is_null(), "{again}");
}
