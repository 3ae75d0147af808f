//! The audit log's entries on SQLite and (when HALSOHUB_TEST_DATABASE_URL
//! is set) PostgreSQL: indexes are gapless under concurrent writers and
//! after a rolled-back write, a query-log row and its entry are written
//! together or not at all, rows cannot be changed, and the earlier logs are
//! brought in once, oldest first.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Utc};
use halsohub_state::audit::{NewAuditEntry, Unaudited};
use halsohub_state::query_log::{NewQueryLogEntry, QueryOutcome};

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

fn entry(subject: &str) -> NewAuditEntry {
    NewAuditEntry {
        kind: "case_event".into(),
        at: at(1),
        actor: "olle".into(),
        subject: subject.into(),
        payload: "{}".into(),
        salt: [1; 32],
        commitment: [2; 32],
    }
}

fn row(user: &str, secs: i64) -> NewQueryLogEntry {
    NewQueryLogEntry {
        at: at(secs),
        user_id: user.into(),
        token_id: None,
        channel: "api".into(),
        query_hash: None,
        snapshot: None,
        output_kind: None,
        profile: None,
        protections: serde_json::Value::Null,
        exact: false,
        outcome: QueryOutcome::Ok,
    }
}

#[tokio::test]
async fn indexes_are_gapless_under_concurrent_writers() {
    for t in common::backends().await {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let db = t.reopen().await;
            tasks.push(tokio::spawn(async move {
                db.append_audit(&[entry(&format!("a{i}")), entry(&format!("b{i}"))])
                    .await
                    .unwrap()
            }));
        }
        let mut firsts = Vec::new();
        for task in tasks {
            firsts.push(task.await.unwrap());
        }
        firsts.sort_unstable();
        assert_eq!(
            firsts,
            (0..8).map(|i| i * 2).collect::<Vec<u64>>(),
            "{}",
            t.label
        );
        let rows = t.db.audit_entries(0, 100).await.unwrap();
        assert_eq!(rows.len(), 16);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.index, i as u64);
        }
        // Each writer's two entries are adjacent.
        for pair in rows.chunks(2) {
            assert_eq!(pair[0].subject[1..], pair[1].subject[1..]);
        }
        assert_eq!(t.db.audit_size().await.unwrap(), 16);
    }
}

#[tokio::test]
async fn a_query_log_row_and_its_entry_are_one_write() {
    for t in common::backends().await {
        let (id, index) =
            t.db.append_query_log_audited(&row("anna", 0), |id| entry(&format!("query_log/{id}")))
                .await
                .unwrap();
        assert_eq!(index, 0);
        let stored = t.db.audit_entry(0).await.unwrap().unwrap();
        assert_eq!(stored.subject, format!("query_log/{id}"));
        assert_eq!(stored.salt, vec![1; 32]);
        assert_eq!(stored.at, at(1));
        // A bad row: neither the row nor the entry, and no index used.
        assert!(
            t.db.append_query_log_audited(&row("", 0), |_| entry("x"))
                .await
                .is_err()
        );
        assert_eq!(t.db.audit_size().await.unwrap(), 1, "{}", t.label);
        let (_, next) =
            t.db.append_query_log_audited(&row("anna", 1), |id| entry(&format!("query_log/{id}")))
                .await
                .unwrap();
        assert_eq!(next, 1, "{}", t.label);
        assert!(t.db.audit_entry(9).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn the_earlier_logs_are_brought_in_once_in_time_order() {
    for t in common::backends().await {
        t.db.append_query_log(&row("late", 50)).await.unwrap();
        t.db.append_query_log(&row("early", 10)).await.unwrap();
        let n =
            t.db.audit_backfill(|u| match u {
                Unaudited::QueryLog { id, user_id, .. } => NewAuditEntry {
                    actor: user_id.clone(),
                    ..entry(&format!("query_log/{id}"))
                },
                Unaudited::CaseEvent { case_id, seq, .. } => entry(&format!("{case_id}/{seq}")),
            })
            .await
            .unwrap();
        assert_eq!(n, 2, "{}", t.label);
        let actors: Vec<String> =
            t.db.audit_entries(0, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.actor)
                .collect();
        assert_eq!(actors, ["early", "late"]);
        let again = t.db.audit_backfill(|_| entry("never")).await.unwrap();
        assert_eq!(again, 0, "{}", t.label);
    }
}
