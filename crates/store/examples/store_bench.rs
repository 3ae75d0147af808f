//! Throughput of a load and a full scan.
//!
//! `cargo run --release -p halsohub-store --example store_bench -- [EVENTS] [PATIENTS]`
//!
//! Writes EVENTS synthetic events (default 10 000 000) over PATIENTS
//! pseudonyms (default 1 000 000) in batches of 8 192 into a fresh store in
//! a temporary directory, commits, then reads every batch back, and prints
//! the times and the size on disk.

use std::time::Instant;

use chrono::NaiveDate;
use halsohub_identity::Pseudonym;
use halsohub_store::{Domain, Event, Setting, SourceFile, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000_000);
    let patients: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let store = Store::open_for_load(&dir.path().join("store"), "bench")?;
    let codes = [
        "E119", "I10", "I509", "I48", "J449", "N184", "F329", "C509", "C61", "C189",
    ];
    let base = NaiveDate::from_ymd_opt(2012, 1, 1).ok_or("date")?;
    let t0 = Instant::now();
    let mut w = store.begin_load()?;
    w.add_source(SourceFile {
        path: "bench".into(),
        sha256: "00".repeat(32),
        format: "bench".into(),
    })?;
    let mut batch = Vec::with_capacity(8192);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let p = x % patients;
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&p.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        b[8..].copy_from_slice(&p.to_be_bytes());
        let start = base + chrono::Days::new(x % 4000);
        let lab = i % 3 == 0;
        batch.push(Event {
            patient: Pseudonym::from_bytes(b),
            domain: if lab {
                Domain::LabResult
            } else {
                Domain::Diagnosis
            },
            system: if lab { "npu".into() } else { "icd10se".into() },
            code: if lab {
                "NPU27300".into()
            } else {
                codes[(x % 10) as usize].into()
            },
            code_known: true,
            start,
            end: (!lab).then(|| start + chrono::Days::new(x % 9)),
            value: lab.then(|| (x % 1000) as f64 / 10.0),
            comparator: None,
            unit: lab.then(|| "mmol/mol".into()),
            value_system: None,
            value_code: None,
            value_text: None,
            quantity: None,
            setting: (!lab).then_some(Setting::Outpatient),
            primary: (!lab).then_some(i % 2 == 0),
            provider: Some(format!("P{}", x % 300)),
            provider_region: Some(format!("{:02}", 1 + x % 25)),
            source: if lab {
                "lab".into()
            } else {
                "par_outpatient".into()
            },
        });
        if batch.len() == 8192 {
            w.write_events(&batch)?;
            batch.clear();
        }
    }
    w.write_events(&batch)?;
    let id = w.commit(serde_json::json!({"bench": true}))?;
    let write = t0.elapsed();
    let bytes: u64 = walk(&dir.path().join("store"));
    let t1 = Instant::now();
    let snap = store.snapshot(Some(&id))?;
    let mut rows = 0;
    for b in snap.events_batches()? {
        rows += b?.num_rows();
    }
    let read = t1.elapsed();
    println!(
        "events {n}  patients {patients}  write+commit {:.2}s ({:.0} events/s)  scan {:.2}s ({rows} rows)  on disk {:.1} MiB",
        write.as_secs_f64(),
        n as f64 / write.as_secs_f64(),
        read.as_secs_f64(),
        bytes as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}

fn walk(p: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => walk(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
