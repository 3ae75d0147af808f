//! The opt-out register and the record of extracts, on SQLite and (when
//! HALSOHUB_TEST_DATABASE_URL is set) PostgreSQL: records in order, a
//! delivery recorded once by content and all or nothing, append-only rows,
//! and extracts that answer only for the person asked about.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Utc};
use halsohub_state::optouts::{DeliveryOutcome, NewDelivery, NewExtract, NewOptOut};

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

fn rec(p: u8, scope: &str, action: &str, eff: i64) -> NewOptOut {
    NewOptOut {
        pseudonym: format!("{p:02x}").repeat(16),
        scope: scope.into(),
        action: action.into(),
        effective_at: at(eff),
        reference: "test".into(),
    }
}

#[tokio::test]
async fn records_keep_their_order_and_bad_ones_store_nothing() {
    for t in common::backends().await {
        let db = &t.db;
        assert_eq!(db.optout_version().await.unwrap(), 0, "{}", t.label);
        let ids = db
            .record_optouts(
                &[
                    rec(1, "all", "opt_out", 0),
                    rec(2, "education", "opt_out", 5),
                ],
                "api",
                "citizen",
                at(1),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(ids.len(), 2);
        assert!(ids[0] < ids[1]);
        assert_eq!(db.optout_version().await.unwrap(), ids[1]);
        // One bad record: nothing of the batch is stored.
        let bad = db
            .record_optouts(
                &[rec(3, "all", "opt_out", 0), rec(4, "all", "maybe", 0)],
                "api",
                "citizen",
                at(2),
                &[],
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(bad.contains("action"), "{bad}");
        let mut short = rec(5, "all", "opt_out", 0);
        short.pseudonym = "19121212-1212".into();
        assert!(
            db.record_optouts(&[short], "api", "c", at(2), &[])
                .await
                .is_err()
        );
        let all = db.optout_records().await.unwrap();
        assert_eq!(all.len(), 2, "{}", t.label);
        let history = db.optout_history(&"01".repeat(16)).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].scope, "all");
        assert_eq!(history[0].channel, "api");
        assert_eq!(history[0].recorded_at, at(1));
        assert_eq!(
            t.reopen().await.optout_records().await.unwrap().len(),
            2,
            "{}",
            t.label
        );
    }
}

#[tokio::test]
async fn a_delivery_is_recorded_once_with_its_rejections() {
    for t in common::backends().await {
        let db = &t.db;
        let delivery = NewDelivery {
            sha256: "ab".repeat(32),
            file_name: "optout_20261201.csv".into(),
            actor: "os:steward".into(),
            rejections: vec![(3, "invalid_identity.bad_check_digit".into())],
        };
        let records = [rec(1, "all", "opt_out", 0), rec(1, "all", "withdrawal", 10)];
        let first = db
            .record_optout_delivery(&delivery, &records, at(20), &[])
            .await
            .unwrap();
        let DeliveryOutcome::Recorded { id, records: n } = first else {
            panic!("{first:?}")
        };
        assert_eq!(n, 2);
        let again = db
            .record_optout_delivery(&delivery, &records, at(30), &[])
            .await
            .unwrap();
        assert_eq!(again, DeliveryOutcome::AlreadyRecorded { id, at: at(20) });
        assert_eq!(db.optout_records().await.unwrap().len(), 2, "{}", t.label);
        let listed = db.optout_deliveries().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].records, listed[0].rejected), (2, 1));
        assert_eq!(
            db.optout_rejections(id).await.unwrap(),
            vec![(3, "invalid_identity.bad_check_digit".to_string())]
        );
        // A delivery with a malformed record stores nothing at all.
        let other = NewDelivery {
            sha256: "cd".repeat(32),
            ..delivery.clone()
        };
        let mut bad = rec(2, "all", "opt_out", 0);
        bad.pseudonym = "xyz".into();
        assert!(
            db.record_optout_delivery(&other, &[rec(2, "all", "opt_out", 0), bad], at(40), &[])
                .await
                .is_err()
        );
        assert_eq!(db.optout_deliveries().await.unwrap().len(), 1);
        assert_eq!(db.optout_records().await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn extracts_answer_only_for_the_person_asked_about() {
    for t in common::backends().await {
        let db = &t.db;
        let members: Vec<[u8; 16]> = (0u8..200).rev().map(|i| [i; 16]).collect();
        let id = db
            .record_extract(
                &NewExtract {
                    permit_id: Some("HH-P-2026-000001".into()),
                    project: "heart".into(),
                    purpose: Some("scientific_research".into()),
                    snapshot: "s000001".into(),
                    frozen_at: at(0),
                    at: at(5),
                    actor: "os:steward".into(),
                    members,
                },
                &[],
            )
            .await
            .unwrap();
        db.record_extract(
            &NewExtract {
                permit_id: None,
                project: "other".into(),
                purpose: None,
                snapshot: "s000001".into(),
                frozen_at: at(6),
                at: at(6),
                actor: "os:steward".into(),
                members: vec![[7; 16]],
            },
            &[],
        )
        .await
        .unwrap();
        let seven = db.extracts_with([7; 16]).await.unwrap();
        assert_eq!(seven.len(), 2, "{}", t.label);
        assert_eq!(seven[0].id, id);
        assert_eq!(seven[0].persons, 200);
        assert_eq!(seven[0].permit_id.as_deref(), Some("HH-P-2026-000001"));
        let last = db.extracts_with([199; 16]).await.unwrap();
        assert_eq!(last.len(), 1);
        assert!(db.extracts_with([200; 16]).await.unwrap().is_empty());
        assert!(
            db.record_extract(
                &NewExtract {
                    project: " ".into(),
                    ..NewExtract {
                        permit_id: None,
                        project: String::new(),
                        purpose: None,
                        snapshot: "s".into(),
                        frozen_at: at(0),
                        at: at(0),
                        actor: "a".into(),
                        members: vec![],
                    }
                },
                &[]
            )
            .await
            .is_err()
        );
    }
}

#[tokio::test]
async fn the_register_refuses_update_and_delete_in_sqlite() {
    let t = common::backends().await.remove(0);
    t.db.record_optouts(&[rec(1, "all", "opt_out", 0)], "api", "c", at(0), &[])
        .await
        .unwrap();
    sqlx::any::install_default_drivers();
    let raw = sqlx::AnyPool::connect(&t.opts.url).await.unwrap();
    for sql in [
        "UPDATE optout_records SET action = 'withdrawal'",
        "DELETE FROM optout_records",
    ] {
        let e = sqlx::query(sql)
            .execute(&raw)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("append-only"), "{sql}: {e}");
    }
    assert_eq!(t.db.optout_records().await.unwrap()[0].action, "opt_out");
}
