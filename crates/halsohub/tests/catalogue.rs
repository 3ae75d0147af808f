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
    let json = hub.json(&[
        "catalogue",
        "export",
        "--store",
        store,
        "--dir",
        dir,
        "--config",
        config,
        "--format",
        "json",
    ]);
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

    let json = hub.json(&[
        "catalogue",
        "export",
        "--store",
        store,
        "--dir",
        dir,
        "--config",
        config,
        "--format",
        "json",
    ]);
    let entry = &json["entries"][0];
    assert_eq!(entry["approved"]["description"]["id"], "par-inpatient");
    let persons = &entry["facts"]["persons"];
    assert_ne!(persons["precision"], "exact", "{persons}");
    assert!(
        persons["value"].as_u64().unwrap().is_multiple_of(5),
        "{persons}"
    );
    let ttl = String::from_utf8(
        hub.ok(&[
            "catalogue",
            "export",
            "--store",
            store,
            "--dir",
            dir,
            "--config",
            config,
        ])
        .stdout,
    )
    .unwrap();
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
