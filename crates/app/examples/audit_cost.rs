//! What the audit log costs a feasibility answer: the answer's query-log
//! row written alone (as before the audit log) against the row and its
//! audit entry written in one transaction (as now), each a durable commit
//! of the real state database (SQLite, WAL, synchronous FULL: an fsync per
//! commit) in a directory on disk; then what the sequencer costs per entry
//! when it appends a second's worth of entries to the tree at once (group
//! commit) and signs a checkpoint.
//!
//! ```sh
//! cargo run --release --example audit_cost -- DIR [N] [OUT.json]
//! ```
//!
//! DIR must be on the disk the hub would use (not tmpfs: there fsync is
//! free). N (default 1000) commits of each kind, interleaved.

use std::path::PathBuf;
use std::time::Instant;

use chrono::Utc;
use halsohub_app::audit::{self, AuditLog, EntryKind};
use halsohub_state::query_log::{NewQueryLogEntry, QueryOutcome};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn row() -> NewQueryLogEntry {
    NewQueryLogEntry {
        at: Utc::now(),
        user_id: "bench".into(),
        token_id: None,
        channel: "api".into(),
        query_hash: Some("0".repeat(64)),
        snapshot: Some("s000001".into()),
        output_kind: Some("count".into()),
        profile: Some("feasibility".into()),
        protections: serde_json::json!({"count": "rounded"}),
        exact: false,
        outcome: QueryOutcome::Ok,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1).map(PathBuf::from) else {
        eprintln!("usage: audit_cost DIR [N] [OUT.json]");
        std::process::exit(2);
    };
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let out = args.get(3).map(PathBuf::from);
    let work = dir.join(format!("audit-cost-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let url = format!("sqlite://{}?mode=rwc", work.join("state.db").display());
    let db = halsohub_app::db::open(Some(&url), &work).await?;
    let journal = db.sqlite_journal_mode().await?.unwrap_or_default();
    // What a connection of this build commits with (sqlx leaves SQLite's
    // compiled default: 2 = FULL, an fsync of the WAL per commit).
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&url).await?;
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&raw)
        .await?;
    raw.close().await;

    let (mut alone, mut audited) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let r = row();
        let t = Instant::now();
        db.append_query_log(&r).await?;
        alone.push(t.elapsed().as_secs_f64() * 1e3);
        let r = row();
        let t = Instant::now();
        let salt_row = r.clone();
        db.append_query_log_audited(&r, |id| {
            audit::entry(
                EntryKind::FeasibilityAnswer,
                salt_row.at,
                &salt_row.user_id,
                &format!("query_log/{id}"),
                serde_json::json!({"outcome": "ok"}),
            )
        })
        .await?;
        audited.push(t.elapsed().as_secs_f64() * 1e3);
    }
    alone.sort_by(f64::total_cmp);
    audited.sort_by(f64::total_cmp);

    audit::create_key(&work.join("audit.key"), "bench/audit", false)?;
    let log = AuditLog::open(db.clone(), &work.join("audit"), &work.join("audit.key"))?;
    let t = Instant::now();
    let s = log.sequence().await?;
    let batch_ms = t.elapsed().as_secs_f64() * 1e3;
    // And one entry alone, as an unbatched append would cost.
    db.append_audit(&[audit::entry(
        EntryKind::FeasibilityAnswer,
        Utc::now(),
        "bench",
        "query_log/0",
        serde_json::json!({}),
    )])
    .await?;
    let t = Instant::now();
    log.sequence().await?;
    let single_ms = t.elapsed().as_secs_f64() * 1e3;

    let report = serde_json::json!({
        "commits_each": n,
        "journal_mode": journal,
        "synchronous": synchronous,
        "query_log_alone_ms": {"p50": percentile(&alone, 0.5), "p95": percentile(&alone, 0.95)},
        "query_log_and_audit_entry_ms": {"p50": percentile(&audited, 0.5), "p95": percentile(&audited, 0.95)},
        "added_p50_ms": percentile(&audited, 0.5) - percentile(&alone, 0.5),
        "sequence_batch": {"entries": s.appended, "ms": batch_ms, "ms_per_entry": batch_ms / s.appended.max(1) as f64},
        "sequence_single_entry_ms": single_ms,
    });
    println!(
        "audit_cost: {n} durable commits each ({journal}, synchronous {synchronous}): query-log row alone p50 {:.2} ms (p95 {:.2}); \
         with its audit entry p50 {:.2} ms (p95 {:.2}); added p50 {:.2} ms",
        percentile(&alone, 0.5),
        percentile(&alone, 0.95),
        percentile(&audited, 0.5),
        percentile(&audited, 0.95),
        percentile(&audited, 0.5) - percentile(&alone, 0.5)
    );
    println!(
        "audit_cost: sequencing {} entries at once {:.1} ms ({:.3} ms per entry); one entry alone {:.1} ms",
        s.appended,
        batch_ms,
        batch_ms / s.appended.max(1) as f64,
        single_ms
    );
    if let Some(out) = out {
        std::fs::write(out, serde_json::to_string_pretty(&report)?)?;
    }
    drop(log);
    db.close().await;
    std::fs::remove_dir_all(&work)?;
    Ok(())
}
