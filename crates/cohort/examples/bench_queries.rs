//! Benchmark runner for `bench/run`: builds the engine from a store's
//! current snapshot once, then runs every `*.json` query of a directory
//! `REPEAT` times, and writes exact results and latencies as JSON.
//!
//! ```text
//! cargo run --release -p halsohub-cohort --example bench_queries -- STORE QUERIES_DIR REPEAT OUT.json
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark tool, not library code

use std::path::Path;
use std::time::Instant;

use halsohub_cohort::{CodeLists, Engine, Exclusion, parse_json};
use serde_json::json;

fn status_kib(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: bench_queries STORE QUERIES_DIR REPEAT OUT.json");
        std::process::exit(2);
    }
    let store = halsohub_store::Store::open(Path::new(&args[1])).expect("open store");
    let snapshot = store.snapshot(None).expect("open snapshot");
    let repeat: usize = args[3].parse().expect("REPEAT is a number");

    let rss_before = status_kib("VmRSS:").unwrap_or(0);
    let t = Instant::now();
    let engine = Engine::from_snapshot(&snapshot).expect("build engine");
    let build_ms = t.elapsed().as_secs_f64() * 1000.0;
    let rss_after = status_kib("VmRSS:").unwrap_or(0);
    let peak = status_kib("VmHWM:").unwrap_or(0);
    eprintln!(
        "engine: {} events, {} patients, built in {:.0} ms, {} resident bytes ({:.1} per event), process RSS {} MiB (peak {} MiB)",
        engine.event_count(),
        engine.patient_count(),
        build_ms,
        engine.resident_bytes(),
        engine.resident_bytes() as f64 / engine.event_count().max(1) as f64,
        rss_after / 1024,
        peak / 1024
    );

    // The lists a served query may name: built-in, plus the snapshot's systems.
    let mut lists = CodeLists::builtin();
    lists.add_systems(engine.systems());
    let none = Exclusion::default();
    let mut names: Vec<_> = std::fs::read_dir(&args[2])
        .expect("read queries dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    let mut queries = serde_json::Map::new();
    for path in names {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let q = parse_json(&text, &lists).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut ms = Vec::with_capacity(repeat);
        let mut result = None;
        for _ in 0..repeat.max(1) {
            let t = Instant::now();
            let r = engine.run(&q, &lists, &none).expect("evaluate");
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            result = Some(r);
        }
        let mut sorted = ms.clone();
        sorted.sort_by(f64::total_cmp);
        eprintln!("halsohub {name}: {:.2} ms", sorted[sorted.len() / 2]);
        queries.insert(name, json!({ "result": result, "ms": ms }));
    }
    let out = json!({
        "snapshot": snapshot.id().0,
        "events": engine.event_count(),
        "patients": engine.patient_count(),
        "resident_bytes": engine.resident_bytes(),
        "build_ms": build_ms,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "peak_rss_kib": peak,
        "queries": queries,
    });
    std::fs::write(&args[4], serde_json::to_string_pretty(&out).unwrap()).unwrap();
}
