//! End to end through the real binary: `halsohub catalogue show | approve |
//! export` over a synthetic store, and `halsohub serve --catalogue-dir`
//! answering `GET /api/v1/catalogue` in JSON, Turtle and JSON-LD, one
//! dataset at its stable URI, and the detailed quality only with a login.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Hub, Server, free_addr};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../catalogue/tests/data")
        .join(name)
}

/// A hub with a store of 1000 synthetic persons and a catalogue directory
/// holding a description of the inpatient register.
fn hub_with_catalogue() -> Hub {
    let hub = Hub::new();
    hub.ok(&["keys", "init"]);
    let (data, store) = (hub.path("data"), hub.path("store"));
    hub.ok(&[
        "synth",
        "--patients",
        "1000",
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
    std::fs::create_dir(hub.path("catalogue")).unwrap();
    std::fs::copy(
        example("par-inpatient.yaml"),
        hub.path("catalogue/par-inpatient.yaml"),
    )
    .unwrap();
    hub
}

/// `halsohub catalogue export` of `store` with the descriptions in `dir`
/// and the hub's `config`, then `extra`.
fn export_args<'a>(
    store: &'a str,
    dir: &'a str,
    config: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "catalogue",
        "export",
        "--store",
        store,
        "--dir",
        dir,
        "--config",
        config,
    ];
    args.extend_from_slice(extra);
    args
}

/// GET `path` with an `Accept` header; status, content type and body.
fn get(addr: SocketAddr, path: &str, accept: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let ct = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    (status, ct, body.to_string())
}

#[test]
fn a_steward_approves_and_exports_and_the_server_publishes() {
    let hub = hub_with_catalogue();
    let dir = hub.path("catalogue");
    let dir = dir.to_str().unwrap();
    let store = hub.path("store");
    let store = store.to_str().unwrap();
    let config = example("catalogue.yaml");
    let config = config.to_str().unwrap();
    let file = hub.path("catalogue/par-inpatient.yaml");

    let shown = String::from_utf8(hub.ok(&["catalogue", "show", "--dir", dir]).stdout).unwrap();
    assert!(
        shown.contains("unapproved") && shown.contains("par-inpatient"),
        "{shown}"
    );
    // Unapproved: exported catalogue is empty of datasets.
    let json = hub.json(&export_args(store, dir, config, &["--format", "json"]));
    assert_eq!(json["entries"].as_array().unwrap().len(), 0, "{json}");

    hub.ok(&[
        "catalogue",
        "approve",
        "--by",
        "steward",
        file.to_str().unwrap(),
    ]);
    assert!(hub.path("catalogue/par-inpatient.approval.json").is_file());
    let shown = String::from_utf8(hub.ok(&["catalogue", "show", "--dir", dir]).stdout).unwrap();
    assert!(
        shown.contains("published") && shown.contains("approved by steward"),
        "{shown}"
    );

    let json = hub.json(&export_args(store, dir, config, &["--format", "json"]));
    let entry = &json["entries"][0];
    assert_eq!(entry["approved"]["description"]["id"], "par-inpatient");
    let persons = &entry["facts"]["persons"];
    assert_ne!(persons["precision"], "exact", "{persons}");
    assert!(
        persons["value"].as_u64().unwrap().is_multiple_of(5),
        "{persons}"
    );
    let ttl = String::from_utf8(hub.ok(&export_args(store, dir, config, &[])).stdout).unwrap();
    assert!(
        ttl.contains("dcat:Dataset") && ttl.contains("healthdcatap:hdab"),
        "{ttl}"
    );

    // The server publishes the same catalogue.
    let addr = free_addr();
    let log = hub.path("serve.err");
    let child = hub
        .cmd()
        .args([
            "serve",
            "--store",
            store,
            "--listen",
            &addr.to_string(),
            "--catalogue-dir",
            dir,
            "--catalogue-config",
            config,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let mut server = Server(child, log);
    let deadline = Instant::now() + Duration::from_secs(300);
    while TcpStream::connect(addr).is_err() {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!(
                "serve exited with {status}: {}",
                std::fs::read_to_string(&server.1).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the server did not listen in time"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (s, ct, body) = get(addr, "/api/v1/catalogue", "application/json");
    assert_eq!(s, 200, "{body}");
    assert!(ct.starts_with("application/json"), "{ct}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["datasets"][0]["uri"],
        "https://halsohub.example.se/api/v1/catalogue/datasets/par-inpatient"
    );
    assert_eq!(
        v["datasets"][0]["facts"]["persons"], *persons,
        "CLI and API release the same number"
    );
    let (s, ct, body) = get(addr, "/api/v1/catalogue?page=1", "text/turtle");
    assert_eq!((s, ct.as_str()), (200, "text/turtle"), "{body}");
    assert!(body.contains("hydra:PagedCollection"), "{body}");
    let (s, ct, body) = get(
        addr,
        "/api/v1/catalogue/datasets/par-inpatient",
        "application/ld+json",
    );
    assert_eq!((s, ct.as_str()), (200, "application/ld+json"), "{body}");
    serde_json::from_str::<serde_json::Value>(&body).unwrap();
    let (s, _, _) = get(
        addr,
        "/api/v1/catalogue/datasets/nothing-here",
        "text/turtle",
    );
    assert_eq!(s, 404);
    let (s, _, _) = get(addr, "/api/v1/catalogue?page=9", "application/json");
    assert_eq!(s, 404);
    let (s, _, _) = get(
        addr,
        "/api/v1/catalogue/datasets/par-inpatient/quality",
        "application/json",
    );
    assert_eq!(s, 401, "detailed quality needs a login");
}

/// The demo publishes a dataset for every source of its store, each with
/// released facts, and its HealthDCAT-AP passes the SHACL shapes (when
/// pySHACL and the shapes are there).
#[test]
fn every_source_of_the_demo_store_is_a_published_dataset() {
    let hub = Hub::new();
    hub.ok(&["demo", "--patients", "1000", "--no-serve"]);
    let demo = hub.home().join("demo");
    let (store, dir, config) = (
        demo.join("store"),
        demo.join("catalogue"),
        demo.join("catalogue.yaml"),
    );
    let (store, dir, config) = (
        store.to_str().unwrap(),
        dir.to_str().unwrap(),
        config.to_str().unwrap(),
    );

    // The sources the store's loads read (the id change file is no dataset).
    let mut sources = std::collections::BTreeSet::new();
    for file in common::files_below(&demo.join("store")) {
        if file.file_name().is_some_and(|n| n == "load_report.json") {
            let report: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            for f in report["files"].as_array().unwrap() {
                sources.insert(f["format"].as_str().unwrap().to_string());
            }
        }
    }
    sources.remove("id_changes");
    assert!(sources.len() >= 6, "{sources:?}");

    let json = hub.json(&export_args(store, dir, config, &["--format", "json"]));
    let entries = json["entries"].as_array().unwrap();
    let mut covered = std::collections::BTreeSet::new();
    for e in entries {
        let d = &e["approved"]["description"];
        for s in d["sources"].as_array().unwrap() {
            covered.insert(s.as_str().unwrap().to_string());
        }
        let facts = &e["facts"];
        // No number below the threshold or exact where it is published.
        for key in ["persons", "records"] {
            let n = &facts[key];
            if n.is_null() {
                continue;
            }
            assert_ne!(n["precision"], "exact", "{}: {n}", d["id"]);
            if let Some(v) = n["value"].as_u64() {
                assert!(v >= 5, "{}: {key} {n}", d["id"]);
            }
        }
        for r in facts["regions"].as_array().unwrap() {
            assert!(r["persons"]["value"].as_u64().unwrap() >= 5, "{r}");
        }
        assert!(
            !e["quality"].as_array().unwrap().is_empty(),
            "{}: quality",
            d["id"]
        );
    }
    for s in &sources {
        assert!(
            covered.contains(s),
            "source {s} has no dataset: {covered:?}"
        );
    }
    // Sources with events have their persons counted.
    for e in entries {
        let id = e["approved"]["description"]["id"].as_str().unwrap();
        if id != "population" {
            assert!(
                e["facts"]["persons"]["value"].as_u64().is_some(),
                "{id}: {}",
                e["facts"]
            );
        }
    }

    // SHACL on the demo's real catalogue.
    let Ok(python) = std::env::var("HALSOHUB_TEST_PYTHON") else {
        eprintln!("NOTICE: HALSOHUB_TEST_PYTHON not set; SHACL check skipped (run scripts/test)");
        return;
    };
    let Some(shapes) = common::shared_data("dcat-shapes") else {
        return;
    };
    let ttl = hub.ok(&export_args(store, dir, config, &[])).stdout;
    let file = hub.path("catalogue.ttl");
    std::fs::write(&file, ttl).unwrap();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../catalogue/tests/shacl/validate.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(&file)
        .args(
            [
                "dcat-ap-3.0.0-shapes.ttl",
                "dcat-ap-3.0.0-range.ttl",
                "healthdcat-ap-r5-shapes.ttl",
            ]
            .map(|f| shapes.join(f)),
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("No module named") {
        eprintln!("NOTICE: no pyshacl; SHACL check skipped (run scripts/test)");
        return;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["conforms"], true, "{v:#}");
}
