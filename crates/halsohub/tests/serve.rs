//! End to end through the real binary: `halsohub demo` loads a synthetic
//! population and serves the API, printing a `curl` example that works;
//! `halsohub serve --store` serves the same store. Requests are plain
//! HTTP/1.1 over a TcpStream, as curl sends them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Hub, Server, free_addr, http};
use serde_json::Value;

fn stderr_file(hub: &Hub, name: &str) -> (Stdio, std::path::PathBuf) {
    let path = hub.path(name);
    let f = std::fs::File::create(&path).unwrap();
    (Stdio::from(f), path)
}

fn wait_for(addr: SocketAddr, server: &mut Server) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return;
        }
        if let Some(status) = server.0.try_wait().unwrap() {
            let err = std::fs::read_to_string(&server.1).unwrap_or_default();
            panic!("the server exited with {status}:\n{err}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not listen on {addr} in time");
}

/// The parts of the printed curl example: token and `-d` body.
fn parse_curl(lines: &[String]) -> (String, String) {
    let token = lines
        .iter()
        .filter(|l| l.trim().starts_with("-H 'Authorization: Bearer "))
        .find_map(|l| l.split("Authorization: Bearer ").nth(1))
        .map(|t| t.trim_end_matches(['\'', ' ', '\\']).to_string())
        .expect("the curl example's token");
    let body = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("-d '"))
        .map(|b| b.trim_end_matches('\'').to_string())
        .expect("the curl example's body");
    (token, body)
}

fn check_count(v: &Value) {
    assert_eq!(v["output"]["type"], "count", "{v}");
    let n = &v["output"]["count"];
    match n["precision"].as_str().unwrap() {
        // The default profile adds noise keyed by the persons, then rounds.
        "noisy" | "rounded" => {
            let value = n["value"].as_u64().unwrap();
            assert!(value >= 5 && value.is_multiple_of(5), "{n}");
        }
        "suppressed" => assert_eq!(n["display"], "<5"),
        other => panic!("precision {other} must not leave the API"),
    }
    assert!(v["snapshot"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(v["query_hash"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(v["profile"]["name"], "feasibility");
}

#[test]
fn demo_serves_the_api_and_its_curl_example_works_then_serve_store_does_too() {
    let hub = Hub::new();
    let addr = free_addr();
    let (err, log) = stderr_file(&hub, "demo.err");
    let child = hub
        .cmd()
        .args(["demo", "--patients", "1500", "--listen", &addr.to_string()])
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .unwrap();
    let mut demo = Server(child, log);
    // Read the demo's stdout on a thread until the curl example is out.
    let stdout = demo.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    while !lines.iter().any(|l: &String| l.trim().starts_with("-d '")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(_) => panic!(
                "no curl example printed:\n{}\n{}",
                lines.join("\n"),
                std::fs::read_to_string(&demo.1).unwrap_or_default()
            ),
        }
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("curl -s -X POST http://{addr}/api/v1/feasibility"))),
        "{}",
        lines.join("\n")
    );
    let (token, body) = parse_curl(&lines);
    wait_for(addr, &mut demo);

    let (s, first) = http(
        addr,
        "POST",
        "/api/v1/feasibility",
        Some(&token),
        Some(&body),
    );
    assert_eq!(s, 200, "{first}");
    check_count(&first);
    let (_, again) = http(
        addr,
        "POST",
        "/api/v1/feasibility",
        Some(&token),
        Some(&body),
    );
    assert_eq!(first["output"], again["output"], "identical on repetition");
    let (s, v) = http(addr, "POST", "/api/v1/feasibility", None, Some(&body));
    assert_eq!(s, 401, "{v}");
    let (s, v) = http(
        addr,
        "POST",
        "/api/v1/feasibility",
        Some(&token),
        Some(r#"{"version": 1, "output": {"type": "count"}, "colour": 1}"#),
    );
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["errors"][0]["field"], "$.colour");
    let (s, v) = http(addr, "GET", "/api/v1/snapshots", Some(&token), None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["serving"], first["snapshot"]);
    let (s, v) = http(
        addr,
        "GET",
        "/api/v1/codes/icd10se?q=E11",
        Some(&token),
        None,
    );
    assert_eq!(s, 200, "{v}");
    assert!(!v["results"].as_array().unwrap().is_empty());
    let (s, doc) = http(addr, "GET", "/api/v1/openapi.json", None, None);
    assert_eq!(s, 200);
    assert!(doc["paths"]["/api/v1/feasibility"]["post"].is_object());
    drop(demo);

    // The same store and state database through `halsohub serve --store`.
    let store = hub.home().join("demo").join("store");
    let addr = free_addr();
    let (err, log) = stderr_file(&hub, "serve.err");
    let child = hub
        .cmd()
        .args([
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--listen",
            &addr.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    let mut server = Server(child, log);
    wait_for(addr, &mut server);
    let (s, v) = http(
        addr,
        "POST",
        "/api/v1/feasibility",
        Some(&token),
        Some(&body),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["output"], first["output"], "same store, same numbers");
    assert_eq!(v["query_hash"], first["query_hash"]);

    // `halsohub count` (protected) and the API release the same numbers
    // for the same persons
    for (name, q) in [
        ("count.json", body.clone()),
        (
            "strata.json",
            r#"{"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis",
                "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]}}}],
                "output": {"type": "strata", "by": ["region"], "at": "2024-01-01"}}"#
                .to_string(),
        ),
    ] {
        let file = hub.path(name);
        std::fs::write(&file, &q).unwrap();
        let cli = hub.json(&[
            "count",
            "--store",
            store.to_str().unwrap(),
            "--json",
            file.to_str().unwrap(),
        ]);
        let (s, api) = http(addr, "POST", "/api/v1/feasibility", Some(&token), Some(&q));
        assert_eq!(s, 200, "{api}");
        assert_eq!(cli["query_hash"], api["query_hash"], "{name}");
        let shown = |v: &Value| -> Vec<(String, String)> {
            match v["type"].as_str().unwrap() {
                "count" => vec![(
                    String::new(),
                    v["count"]["display"].as_str().unwrap().to_string(),
                )],
                _ => v["cells"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| {
                        (
                            c["key"].to_string(),
                            c["count"]["display"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect(),
            }
        };
        let (cli_shown, api_shown) = (shown(&cli["result"]), shown(&api["output"]));
        if name == "count.json" {
            // The same persons behind the same number: the same noise.
            assert_eq!(cli_shown, api_shown, "{name}");
        } else {
            // Over the API the differencing guard may answer a cell with an
            // earlier number of a nearby set (the local operator's `count`
            // is not guarded), so only the cells must be the same.
            let keys = |v: &[(String, String)]| v.iter().map(|c| c.0.clone()).collect::<Vec<_>>();
            assert_eq!(keys(&cli_shown), keys(&api_shown), "{name}");
        }
    }
    drop(server);

    // Without a store the feasibility endpoints say so.
    let addr = free_addr();
    let (err, log) = stderr_file(&hub, "bare.err");
    let child = hub
        .cmd()
        .args(["serve", "--listen", &addr.to_string()])
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    let mut bare = Server(child, log);
    wait_for(addr, &mut bare);
    let (s, v) = http(
        addr,
        "POST",
        "/api/v1/feasibility",
        Some(&token),
        Some(&body),
    );
    assert_eq!(s, 503, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("--store"), "{v}");
}

#[test]
fn demo_no_serve_stops_after_loading_and_serve_refuses_a_wrong_key() {
    let hub = Hub::new();
    let out = hub.ok(&["demo", "--patients", "300", "--no-serve"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("demo-applicant"), "{text}");
    assert!(text.contains("halsohub serve --store"), "{text}");
    // a key that is not the store's is refused before anything is served
    let other = hub.path("other.key");
    hub.ok(&["keys", "init", "--key", other.to_str().unwrap()]);
    let store = hub.home().join("demo").join("store");
    let err = hub.fails(&[
        "serve",
        "--store",
        store.to_str().unwrap(),
        "--key",
        other.to_str().unwrap(),
        "--listen",
        &free_addr().to_string(),
    ]);
    assert!(err.contains("is not the key of the store"), "{err}");
    let err = hub.fails(&[
        "serve",
        "--store",
        store.to_str().unwrap(),
        "--profile",
        "exact",
        "--listen",
        &free_addr().to_string(),
    ]);
    assert!(err.contains("profile"), "{err}");
}

#[test]
fn serve_refuses_a_bad_datasets_file_naming_the_file_and_line() {
    let hub = Hub::new();
    let path = hub.path("datasets.txt");
    std::fs::write(&path, "# our registers\ncancer_register\nbad\u{7}name\n").unwrap();
    let err = hub.fails(&[
        "serve",
        "--listen",
        &free_addr().to_string(),
        "--sweep-interval",
        "off",
        "--datasets-file",
        path.to_str().unwrap(),
    ]);
    assert!(
        err.contains(path.to_str().unwrap()) && err.contains("line 3"),
        "{err}"
    );
    let missing = hub.path("no-such-datasets.txt");
    let err = hub.fails(&[
        "serve",
        "--listen",
        &free_addr().to_string(),
        "--datasets-file",
        missing.to_str().unwrap(),
    ]);
    assert!(err.contains("no-such-datasets.txt"), "{err}");
    // The same list given inline: the bad entry is named.
    let err = hub.fails(&[
        "serve",
        "--listen",
        &free_addr().to_string(),
        "--datasets",
        "cancer_register, cancer_register",
    ]);
    assert!(
        err.contains("--datasets, entry 2") && err.contains("twice"),
        "{err}"
    );
    // One list, not two.
    let err = hub.fails(&[
        "serve",
        "--listen",
        &free_addr().to_string(),
        "--datasets",
        "cancer_register",
        "--datasets-file",
        path.to_str().unwrap(),
    ]);
    assert!(err.contains("--datasets-file"), "{err}");
}
