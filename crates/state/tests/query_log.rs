//! The feasibility query log and persistent quotas, on SQLite and (when
//! HALSOHUB_TEST_DATABASE_URL is set) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Duration, TimeDelta, Utc};
use halsohub_state::query_log::{NewQueryLogEntry, QueryLogFilter, QueryOutcome};
use serde_json::json;

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

fn entry(user: &str, t: DateTime<Utc>, outcome: QueryOutcome) -> NewQueryLogEntry {
    NewQueryLogEntry {
        at: t,
        user_id: user.into(),
        token_id: Some(format!("tok-{user}")),
        channel: "api".into(),
        query_hash: Some(format!("sha256:{user}{}", t.timestamp())),
        snapshot: Some("000001".into()),
        output_kind: Some("strata".into()),
        profile: Some("feasibility".into()),
        protections: json!({"profile": {"name": "feasibility", "threshold": 5, "rounding": 5},
                            "precision": {"cell": ["rounded", "suppressed"], "total": ["rounded"]}}),
        exact: false,
        outcome,
    }
}

#[tokio::test]
async fn log_rows_are_appended_and_read_back_with_filters() {
    for t in common::backends().await {
        let db = &t.db;
        let a = db
            .append_query_log(&entry("anna", at(0), QueryOutcome::Ok))
            .await
            .unwrap();
        let refused = QueryOutcome::Refused {
            reason: "$.output.by: too many".into(),
        };
        let b = db
            .append_query_log(&entry("bo", at(10), refused.clone()))
            .await
            .unwrap();
        let c = db
            .append_query_log(&entry("anna", at(20), QueryOutcome::Ok))
            .await
            .unwrap();
        assert!(a < b && b < c, "{}: ids increase", t.label);

        let all = db.query_log(&QueryLogFilter::default()).await.unwrap();
        assert_eq!(all.len(), 3, "{}", t.label);
        let first = &all[0];
        let expected = entry("anna", at(0), QueryOutcome::Ok);
        assert_eq!(first.id, a);
        assert_eq!(first.at, expected.at);
        assert_eq!(first.user_id, expected.user_id);
        assert_eq!(first.token_id, expected.token_id);
        assert_eq!(first.query_hash, expected.query_hash);
        assert_eq!(first.snapshot, expected.snapshot);
        assert_eq!(first.output_kind, expected.output_kind);
        assert_eq!(first.profile, expected.profile);
        assert_eq!(first.protections, expected.protections);
        assert!(!first.exact);
        assert_eq!(all[1].outcome, refused);

        let anna = db
            .query_log(&QueryLogFilter {
                user_id: Some("anna".into()),
                ..QueryLogFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(anna.iter().map(|e| e.id).collect::<Vec<_>>(), [a, c]);
        let window = db
            .query_log(&QueryLogFilter {
                since: Some(at(10)),
                until: Some(at(20)),
                ..QueryLogFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(window.iter().map(|e| e.id).collect::<Vec<_>>(), [b]);
        let refusals = db
            .query_log(&QueryLogFilter {
                outcome: Some("refused".into()),
                ..QueryLogFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(refusals.iter().map(|e| e.id).collect::<Vec<_>>(), [b]);
        let page = db
            .query_log(&QueryLogFilter {
                after_id: Some(a),
                limit: Some(1),
                ..QueryLogFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [b]);

        // bad filters and entries are refused clearly
        let bad = db
            .query_log(&QueryLogFilter {
                limit: Some(0),
                ..QueryLogFilter::default()
            })
            .await
            .unwrap_err();
        assert!(bad.to_string().contains("limit"), "{bad}");
        let mut e = entry("", at(0), QueryOutcome::Ok);
        assert!(db.append_query_log(&e).await.is_err());
        e.user_id = "x".into();
        e.channel = "telnet".into();
        assert!(
            db.append_query_log(&e)
                .await
                .unwrap_err()
                .to_string()
                .contains("channel")
        );
    }
}

#[derive(Debug, PartialEq)]
struct Full(usize);

/// A simple limit: at most `n` admissions within the minute before `now`.
fn at_most(n: usize, now: DateTime<Utc>) -> impl FnOnce(&[DateTime<Utc>]) -> Result<(), Full> {
    move |history| {
        let inside = history
            .iter()
            .filter(|t| **t > now - TimeDelta::seconds(60))
            .count();
        if inside >= n {
            Err(Full(inside))
        } else {
            Ok(())
        }
    }
}

#[tokio::test]
async fn quotas_are_persistent_and_per_user() {
    for t in common::backends().await {
        let db = &t.db;
        let week = TimeDelta::days(7);
        for i in 0..3 {
            let now = at(i);
            assert_eq!(
                db.admit_query("anna", now, week, at_most(3, now))
                    .await
                    .unwrap(),
                Ok(()),
                "{}",
                t.label
            );
        }
        let now = at(3);
        assert_eq!(
            db.admit_query("anna", now, week, at_most(3, now))
                .await
                .unwrap(),
            Err(Full(3))
        );
        // a refusal is not recorded; other users are independent
        assert_eq!(db.quota_uses_since("anna", at(-1)).await.unwrap(), 3);
        let now = at(3);
        assert_eq!(
            db.admit_query("bo", now, week, at_most(3, now))
                .await
                .unwrap(),
            Ok(())
        );
        // the decision sees the history, oldest first
        let seen = std::sync::Mutex::new(Vec::new());
        db.admit_query("anna", at(61), week, |h| {
            seen.lock().unwrap().extend_from_slice(h);
            Ok::<(), Full>(())
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![at(0), at(1), at(2)]);
        // admissions older than the horizon are pruned
        let later = at(0) + Duration::days(8);
        db.admit_query("anna", later, week, |h| {
            assert!(h.is_empty(), "{h:?}");
            Ok::<(), Full>(())
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(db.quota_uses_since("anna", at(-1)).await.unwrap(), 1);
    }
}

/// Two handles on one database (as two server processes would have) admit
/// exactly the limit between them, however the requests interleave.
#[tokio::test]
async fn concurrent_admissions_never_overrun_the_limit() {
    for t in common::backends().await {
        let second = t.reopen().await;
        let mut tasks = Vec::new();
        for i in 0..16 {
            let db = if i % 2 == 0 {
                t.db.clone()
            } else {
                second.clone()
            };
            tasks.push(tokio::spawn(async move {
                let now = at(100);
                db.admit_query("carl", now, TimeDelta::days(7), at_most(5, now))
                    .await
                    .unwrap()
                    .is_ok()
            }));
        }
        let mut admitted = 0;
        for task in tasks {
            if task.await.unwrap() {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 5, "{}: exactly the limit", t.label);
        assert_eq!(t.db.quota_uses_since("carl", at(0)).await.unwrap(), 5);
    }
}
