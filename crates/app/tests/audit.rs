//! The audit log wired into the hub, on a real (SQLite) state database and
//! log directory: every feasibility answer and refusal gets the next index
//! in the same transaction as its query-log row; the sequencer puts the
//! entries into the tree and the files alone verify, with every entry
//! proven; the earlier logs are brought in once, oldest first; a changed,
//! deleted, reordered or inserted entry in the database is caught naming
//! its index; entries not yet in the tree when the process stopped are
//! appended on the next start; a witness cosigns and its cosignature
//! verifies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use halsohub_app::audit::{self, AuditError, AuditLog, VerifyFailure, VerifyRequest};
use halsohub_app::feasibility::{QueryInput, Requester, ask};
use halsohub_app::hub::Hub;
use halsohub_identity::{HubKey, ParseOptions};
use halsohub_ingest::{IngestOptions, NoProgress};
use halsohub_state::Db;
use halsohub_state::cases::{CaseWrite, NewEvent};
use halsohub_state::query_log::{NewQueryLogEntry, QueryOutcome};

struct Fixture {
    dir: tempfile::TempDir,
    db: Db,
    url: String,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    );
    let db = halsohub_app::db::open(Some(&url), dir.path())
        .await
        .unwrap();
    audit::create_key(&dir.path().join("audit.key"), "test.example/audit", false).unwrap();
    Fixture { dir, db, url }
}

impl Fixture {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn log(&self) -> AuditLog {
        AuditLog::open(
            self.db.clone(),
            &self.path("audit"),
            &self.path("audit.key"),
        )
        .unwrap()
    }

    fn request(&self, entries: Option<&Path>, all: bool) -> VerifyRequest {
        VerifyRequest {
            log: self.path("audit"),
            log_keys: vec![audit::public_path(&self.path("audit.key"))],
            entries: entries.map(Path::to_path_buf),
            all,
            ..VerifyRequest::default()
        }
    }

    async fn export(&self, name: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(
            &p,
            audit::export_entries(&self.db, 0, 100_000).await.unwrap(),
        )
        .unwrap();
        p
    }

    /// A raw connection that can change what the state crate never does.
    async fn raw(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&self.url).await.unwrap();
        for t in ["audit_entries_no_update", "audit_entries_no_delete"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP TRIGGER IF EXISTS {t}")))
                .execute(&raw)
                .await
                .unwrap();
        }
        raw
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

fn log_row(secs: i64) -> NewQueryLogEntry {
    NewQueryLogEntry {
        at: at(secs),
        user_id: "anna".into(),
        token_id: None,
        channel: "api".into(),
        query_hash: Some("abc".into()),
        snapshot: Some("s000001".into()),
        output_kind: Some("count".into()),
        profile: Some("feasibility".into()),
        protections: serde_json::Value::Null,
        exact: false,
        outcome: QueryOutcome::Ok,
    }
}

#[tokio::test]
async fn answers_are_logged_sequenced_and_verified_from_the_files_alone() {
    let f = fixture().await;
    // A small store to ask.
    let data = f.path("data");
    let summary = halsohub_synth::generate(
        &halsohub_synth::Config {
            patients: 100,
            seed: 2,
            ..halsohub_synth::Config::default()
        },
        &data,
        &|_| {},
    )
    .unwrap();
    HubKey::init(&f.path("hub.key")).unwrap();
    let hub = Hub::open_for_load(&f.path("store"), &f.path("hub.key")).unwrap();
    hub.ingest(
        &[data],
        &IngestOptions {
            identity: ParseOptions::new(summary.extract_date),
            ..IngestOptions::default()
        },
        &NoProgress,
    )
    .unwrap();
    let service = hub.feasibility(None, &[]).unwrap();
    let who = Requester::Cli {
        user_id: "os:steward".into(),
        exact: false,
    };
    let q: serde_json::Value =
        serde_json::json!({"version": 1, "criteria": [], "output": {"type": "count"}});
    let mut indexes = Vec::new();
    for _ in 0..3 {
        let a = ask(&service, &f.db, &who, QueryInput::Value(&q), Utc::now())
            .await
            .unwrap();
        indexes.push(a.answer.audit_index);
    }
    assert_eq!(indexes, vec![0, 1, 2]);
    // A refusal is logged and audited too.
    let bad = serde_json::json!({"version": 9});
    assert!(
        ask(&service, &f.db, &who, QueryInput::Value(&bad), Utc::now())
            .await
            .is_err()
    );
    assert_eq!(f.db.audit_size().await.unwrap(), 4);
    let first = f.db.audit_entry(0).await.unwrap().unwrap();
    assert_eq!(first.kind, "feasibility_answer");
    assert!(first.subject.starts_with("query_log/"));

    let log = f.log();
    assert_eq!(log.size(), 0);
    let proof = log.proof(1).await.unwrap();
    assert_eq!(proof.tree_size, None, "not yet in the tree");
    let s = log.sequence().await.unwrap();
    assert_eq!((s.appended, s.size), (4, 4));
    let proof = log.proof(1).await.unwrap();
    assert_eq!(proof.tree_size, Some(4));
    assert!(!proof.inclusion_proof.is_empty());
    assert!(log.checkpoint().starts_with("test.example/audit\n4\n"));
    assert_eq!(log.consistency(2, 4).unwrap().len(), 1);
    assert_eq!(log.consistency(1, 4).unwrap().len(), 2);
    assert!(log.consistency(3, 9).is_err());

    let entries = f.export("entries.jsonl").await;
    let report = audit::verify_files(&f.request(Some(&entries), true)).unwrap();
    assert_eq!((report.size, report.entries), (4, 4));
    // Auditors only.
    let anna = halsohub_access::Principal::user(halsohub_access::UserId::new("anna").unwrap());
    assert!(matches!(
        log.proof_for(&anna, 0).await,
        Err(AuditError::Forbidden)
    ));
    let auditor = anna.with_role(
        halsohub_access::OrgId::new("hub").unwrap(),
        halsohub_access::Role::Auditor,
    );
    assert_eq!(log.proof_for(&auditor, 3).await.unwrap().index, 3);
}

#[tokio::test]
async fn the_earlier_logs_are_brought_in_once_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    );
    // An "older release": rows written without audit entries.
    let db = Db::connect(&url).await.unwrap();
    db.append_query_log(&log_row(30)).await.unwrap();
    db.append_query_log(&log_row(10)).await.unwrap();
    let org = db.create_organisation("Org").await.unwrap();
    db.write_case(CaseWrite {
        case_id: "HH-A-2026-000001".into(),
        expected_version: 0,
        organisation_id: org.id.clone(),
        created_by: "anna".into(),
        events: vec![NewEvent {
            event_type: "created".into(),
            payload: serde_json::json!({}),
            actor: "anna".into(),
            at: at(20),
        }],
        status: "draft".into(),
        projection: serde_json::json!({}),
        attachments: vec![],
        permits: vec![],
        notifications: vec![],
        idempotency: None,
        audit: vec![],
    })
    .await
    .unwrap();
    db.close().await;
    // The upgrade: opening through the application layer backfills.
    let db = halsohub_app::db::open(Some(&url), dir.path())
        .await
        .unwrap();
    let rows = db.audit_entries(0, 10).await.unwrap();
    let subjects: Vec<&str> = rows.iter().map(|r| r.subject.as_str()).collect();
    assert_eq!(
        subjects,
        vec!["query_log/2", "HH-A-2026-000001/1", "query_log/1"],
        "by time: 10, 20, 30"
    );
    assert!(rows[0].payload.contains("\"backfilled\":true"));
    // Once only.
    assert_eq!(audit::backfill(&db).await.unwrap(), 0);
    let again = halsohub_app::db::open(Some(&url), dir.path())
        .await
        .unwrap();
    assert_eq!(again.audit_size().await.unwrap(), 3);
}

#[tokio::test]
async fn tampering_in_the_database_is_caught_naming_the_index() {
    let f = fixture().await;
    for i in 0..6 {
        let salt_row = log_row(i);
        f.db.append_query_log_audited(&salt_row, |id| {
            audit::entry(
                halsohub_app::audit::EntryKind::FeasibilityAnswer,
                salt_row.at,
                "anna",
                &format!("query_log/{id}"),
                serde_json::json!({"n": i}),
            )
        })
        .await
        .unwrap();
    }
    let log = f.log();
    log.sequence().await.unwrap();
    let honest = f.export("honest.jsonl").await;
    audit::verify_files(&f.request(Some(&honest), true)).unwrap();
    let raw = f.raw().await;

    // Changed: the entry no longer gives its commitment.
    sqlx::query("UPDATE audit_entries SET actor = 'mallory' WHERE idx = 3")
        .execute(&raw)
        .await
        .unwrap();
    let changed = f.export("changed.jsonl").await;
    let e = audit::verify_files(&f.request(Some(&changed), true)).unwrap_err();
    assert_eq!(first_bad(&e), Some(3), "{e}");

    // Deleted: index 3 has no entry.
    sqlx::query("DELETE FROM audit_entries WHERE idx = 3")
        .execute(&raw)
        .await
        .unwrap();
    let deleted = f.export("deleted.jsonl").await;
    let e = audit::verify_files(&f.request(Some(&deleted), true)).unwrap_err();
    assert_eq!(first_bad(&e), Some(3), "{e}");

    // Reordered: entries 1 and 2 swap places.
    sqlx::query("UPDATE audit_entries SET idx = 100 WHERE idx = 1")
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_entries SET idx = 1 WHERE idx = 2")
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_entries SET idx = 2 WHERE idx = 100")
        .execute(&raw)
        .await
        .unwrap();
    let swapped = f.export("swapped.jsonl").await;
    let e = audit::verify_files(&f.request(Some(&swapped), true)).unwrap_err();
    assert_eq!(first_bad(&e), Some(1), "{e}");

    // Inserted: an entry beyond the tree, and the sequencer refuses a row
    // that does not give its commitment.
    sqlx::query(
        "INSERT INTO audit_entries (idx, kind, at_us, actor, subject, payload, salt, commitment) \
         SELECT 6, kind, at_us, actor, subject, payload, salt, salt FROM audit_entries WHERE idx = 0",
    )
    .execute(&raw)
    .await
    .unwrap();
    sqlx::query("UPDATE audit_head SET next = 7")
        .execute(&raw)
        .await
        .unwrap();
    match log.sequence().await {
        Err(AuditError::Tampered { index, .. }) => assert_eq!(index, 6),
        other => panic!("{other:?}"),
    }
    assert_eq!(log.size(), 6, "nothing of the bad batch was appended");
}

fn first_bad(e: &VerifyFailure) -> Option<u64> {
    match e {
        VerifyFailure::Failed(v) => v.first_bad_index(),
        VerifyFailure::Input { .. } => None,
    }
}

#[tokio::test]
async fn entries_left_out_of_the_tree_by_a_stop_are_appended_on_the_next_start() {
    let f = fixture().await;
    let log = f.log();
    f.db.append_audit(&[audit::entry(
        halsohub_app::audit::EntryKind::OptOutChange,
        at(0),
        "citizen",
        "00112233445566778899aabbccddeeff",
        serde_json::json!({"action": "opt_out"}),
    )])
    .await
    .unwrap();
    log.sequence().await.unwrap();
    // Acknowledged (committed in the database), then the process stops
    // before the sequencer runs.
    for i in 0..3 {
        f.db.append_audit(&[audit::entry(
            halsohub_app::audit::EntryKind::CaseEvent,
            at(i),
            "olle",
            &format!("HH-A-2026-000001/{i}"),
            serde_json::json!({}),
        )])
        .await
        .unwrap();
    }
    drop(log);
    let reopened = f.log();
    assert_eq!(reopened.size(), 1);
    // Two passes at once (the interval task and an exit, say) append each
    // entry once.
    let other = reopened.clone();
    let (a, b) = tokio::join!(reopened.sequence(), other.sequence());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.appended + b.appended, 3);
    assert_eq!(reopened.size(), 4);
    let entries = f.export("all.jsonl").await;
    audit::verify_files(&f.request(Some(&entries), true)).unwrap();
}

#[tokio::test]
async fn a_witness_cosigns_consistent_checkpoints_and_its_cosignature_verifies() {
    let f = fixture().await;
    let log = f.log();
    let add = |n: i64| {
        let db = f.db.clone();
        async move {
            db.append_audit(&[audit::entry(
                halsohub_app::audit::EntryKind::Extraction,
                at(n),
                "os:steward",
                "HH-P-2026-000001",
                serde_json::json!({"persons": n}),
            )])
            .await
            .unwrap();
        }
    };
    add(1).await;
    log.sequence().await.unwrap();
    let wkey = f.path("witness.key");
    audit::create_key(&wkey, "region.example/witness", true).unwrap();
    let state = f.path("witness.state");
    let log_pub = audit::public_path(&f.path("audit.key"));
    let first =
        audit::witness_cosign(&f.path("audit"), &log_pub, &wkey, &state, Utc::now()).unwrap();
    assert!(first.contains("region.example/witness"));
    let cosigned_1 = f.path("cp1.txt");
    std::fs::write(&cosigned_1, &first).unwrap();
    add(2).await;
    add(3).await;
    log.sequence().await.unwrap();
    let second =
        audit::witness_cosign(&f.path("audit"), &log_pub, &wkey, &state, Utc::now()).unwrap();
    assert!(second.contains("\n3\n"));
    // Both cosigned checkpoints verify, with one trusted witness required;
    // the log's own current checkpoint carries no cosignature.
    let cosigned_2 = f.path("cp2.txt");
    std::fs::write(&cosigned_2, &second).unwrap();
    let mut req = f.request(None, false);
    req.checkpoints = vec![cosigned_1.clone(), cosigned_2];
    req.witness_keys = vec![audit::public_path(&wkey)];
    req.min_witnesses = 1;
    let report = audit::verify_files(&req).unwrap();
    assert_eq!((report.size, report.checkpoints), (3, 2));
    req.checkpoints = vec![cosigned_1.clone(), f.path("audit/checkpoint")];
    let e = audit::verify_files(&req).unwrap_err().to_string();
    assert!(e.contains("cosignature"), "{e}");
    // A witness given another log's key refuses.
    let other = f.path("other.key");
    audit::create_key(&other, "test.example/audit", false).unwrap();
    let e = audit::witness_cosign(
        &f.path("audit"),
        &audit::public_path(&other),
        &wkey,
        &state,
        Utc::now(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("not cosigned"), "{e}");
}
