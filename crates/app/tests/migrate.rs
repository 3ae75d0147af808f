//! A state database written by the release before the case service opens,
//! migrates forward and reads: every case (its events in the old stored
//! format, its projection from before projections were versioned), the
//! permit, the attachment and the notifications; and new case and permit
//! numbers continue after the highest old ones.
//!
//! The fixtures were written by `fixtures/write_fixture.sh` with the
//! main-branch binary of that release (through its CLI and HTTP API):
//! `state-v0.db` on SQLite, `state-v0.postgres.sql` a dump of the same
//! script's run on PostgreSQL (used when HALSOHUB_TEST_DATABASE_URL is set).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use halsohub_access::stored::decode_projection;
use halsohub_access::{AccessConfig, CaseStatus, OrgId, Principal, Role, UserId};
use halsohub_app::cases::api::CommandRequest;
use halsohub_app::cases::{Actor, CaseService, IfMatch, Reply};
use halsohub_state::sequences::Sequence;
use halsohub_state::{ConnectOptions, Db};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn auditor() -> Principal {
    Principal::user(UserId::new("fixture-auditor").unwrap())
        .with_role(OrgId::new("hub-staff").unwrap(), Role::Auditor)
}

/// Everything the old database holds, read through today's code.
async fn reads_the_old_database(db: &Db) {
    let config = AccessConfig::default();
    let svc = CaseService::new(db, &config);
    // Later than every fixture event, so commands are dated after them.
    let now = at("2027-01-11T09:00:00Z");

    let records = db.list_cases(&Default::default()).await.unwrap();
    assert_eq!(records.len(), 7);
    // Projections from before they were versioned are not trusted …
    assert!(
        records
            .iter()
            .all(|r| decode_projection(&r.projection).is_none())
    );
    // … so the first read folds every case's (format 0) events again.
    let states = svc.all_states().await.unwrap();
    let statuses: BTreeMap<String, CaseStatus> = states
        .iter()
        .map(|s| (s.id.unwrap().to_string(), s.status))
        .collect();
    assert_eq!(
        statuses.values().copied().collect::<Vec<_>>(),
        vec![
            CaseStatus::Draft,
            CaseStatus::Submitted,
            CaseStatus::Incomplete,
            CaseStatus::WaitingForApplicant,
            CaseStatus::DataDelivered,
            CaseStatus::Rejected,
            CaseStatus::Withdrawn,
        ]
    );
    for (record, state) in records.iter().zip(&states) {
        let (folded, events) = svc.load(&record.case_id).await.unwrap();
        assert_eq!(events.len() as i64, record.version, "{}", record.case_id);
        assert_eq!(&folded, state);
        // The rebuilt projection was stored and is what reads use now.
        let again = db.case(&record.case_id).await.unwrap();
        assert_eq!(decode_projection(&again.projection).as_ref(), Some(state));
        assert_eq!(&svc.state(&record.case_id).await.unwrap(), state);
    }

    // The permit, through the permits table and the case.
    let permits = db.list_permits(None).await.unwrap();
    assert_eq!(permits.len(), 1);
    let view = svc
        .permit(&auditor(), &permits[0].permit_id, now)
        .await
        .unwrap();
    assert_eq!(view.permit.id.to_string(), permits[0].permit_id);
    let delivered = &states[4];
    assert_eq!(delivered.permit.as_ref().unwrap().id, view.permit.id);
    assert!(delivered.published_at.is_some());

    // The attachment, its checksum verified on reading. The case is a
    // draft never submitted: staff and auditors do not see it, its
    // applicants do.
    let draft = &records[0].case_id;
    assert!(svc.attachments(&auditor(), draft).await.is_err());
    let owner = Principal::user(states[0].created_by.clone().unwrap())
        .with_role(states[0].organisation().unwrap().clone(), Role::Applicant);
    let list = svc.attachments(&owner, draft).await.unwrap();
    assert_eq!(list.attachments.len(), 1);
    let file = svc
        .attachment(&owner, draft, &list.attachments[0].id)
        .await
        .unwrap();
    assert_eq!(file.bytes, b"%PDF-1.7 study protocol");
    assert_eq!(states[0].content.as_ref().unwrap().attachments.len(), 1);

    // Notifications, and the history with its reasons.
    assert!(
        !db.case_notifications(&records[1].case_id)
            .await
            .unwrap()
            .is_empty()
    );
    let history = svc.history(&auditor(), &records[5].case_id).await.unwrap();
    assert_eq!(
        history.events.last().unwrap().why.as_deref(),
        Some("Purpose outside the permitted purposes.")
    );

    // New numbers continue after the highest old ones.
    let applicant = records[0].created_by.clone();
    let principal = Principal::user(UserId::new(&applicant).unwrap()).with_role(
        OrgId::new(&records[0].organisation_id).unwrap(),
        Role::Applicant,
    );
    let actor = Actor {
        user_id: &applicant,
        principal: &principal,
    };
    // (Without the old case's attachment: a new draft names only files
    // uploaded to it.)
    let mut content = states[0].content.clone().unwrap();
    content.attachments.clear();
    let Reply::Done(created) = svc.create(actor, content, None, now).await.unwrap() else {
        panic!("not a replay")
    };
    assert_eq!(created.case.id.unwrap().to_string(), "HH-A-2027-000008");
    assert_eq!(db.next_id(Sequence::Permit).await.unwrap(), 2);

    // An old case takes new commands: its history mixes both formats.
    let withdraw = CommandRequest {
        command: "withdraw".into(),
        fields: [("reason".to_string(), serde_json::json!("Plans changed."))]
            .into_iter()
            .collect(),
    };
    svc.run_command(actor, draft, withdraw, Some(IfMatch::Version(2)), None, now)
        .await
        .unwrap();
    let (state, events) = svc.load(draft).await.unwrap();
    assert_eq!(state.status, CaseStatus::Withdrawn);
    assert_eq!(events.len(), 3);
    let stored = db.case_events(draft).await.unwrap();
    assert!(stored[0].payload.get("v").is_none(), "format 0 kept as is");
    assert_eq!(stored[2].payload["v"], 1);
}

#[tokio::test]
async fn a_sqlite_database_of_the_previous_release_opens_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    std::fs::copy(fixture("state-v0.db"), &path).unwrap();
    let db = Db::connect(&format!("sqlite://{}?mode=rw", path.display()))
        .await
        .unwrap();
    reads_the_old_database(&db).await;
}

#[tokio::test]
async fn a_postgres_database_of_the_previous_release_opens_and_reads() {
    let url = match std::env::var("HALSOHUB_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!("NOTICE: HALSOHUB_TEST_DATABASE_URL is not set; PostgreSQL variant skipped");
            return;
        }
    };
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let dump = std::fs::read_to_string(fixture("state-v0.postgres.sql"))
        .unwrap()
        .replace("__SCHEMA__", &schema);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA {schema}; SET search_path TO {schema}; {dump}"
    )))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let mut opts = ConnectOptions::new(url);
    opts.pg_schema = Some(schema);
    opts.max_connections = 4;
    let db = Db::connect_with(opts).await.unwrap();
    reads_the_old_database(&db).await;
}
