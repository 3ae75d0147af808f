//! The state database's behaviour, on SQLite and (when configured) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, Utc};
use halsohub_state::accounts::NewUser;
use halsohub_state::attachments::NewAttachment;
use halsohub_state::cases::{CaseFilter, CaseWrite, IdempotencyRecord, NewEvent, request_hash};
use halsohub_state::outbox::NewNotification;
use halsohub_state::permits::PermitRow;
use halsohub_state::{Backend, Db, StateError};
use serde_json::json;

async fn user(db: &Db, name: &str) -> String {
    db.create_user(NewUser {
        username: name.into(),
        password: Some("a long password".into()),
        ..NewUser::default()
    })
    .await
    .unwrap()
    .id
}

fn write(case: &str, org: &str, expected: i64, kind: &str) -> CaseWrite {
    CaseWrite {
        case_id: case.into(),
        expected_version: expected,
        organisation_id: org.into(),
        created_by: "u1".into(),
        events: vec![NewEvent {
            event_type: kind.into(),
            payload: json!({ "kind": kind }),
            actor: "u1".into(),
            at: Utc::now(),
        }],
        status: kind.into(),
        projection: json!({ "status": kind, "version": expected + 1 }),
        attachments: vec![],
        permits: vec![],
        notifications: vec![],
        idempotency: None,
        audit: vec![],
    }
}

#[tokio::test]
async fn sqlite_uses_wal() {
    for t in common::backends().await {
        match t.db.backend() {
            Backend::Sqlite => {
                assert_eq!(
                    t.db.sqlite_journal_mode().await.unwrap().as_deref(),
                    Some("wal")
                )
            }
            Backend::Postgres => assert_eq!(t.db.sqlite_journal_mode().await.unwrap(), None),
        }
    }
}

#[tokio::test]
async fn reconnect_keeps_data_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let db = Db::connect(&url).await.unwrap();
    db.create_organisation("Region Uppsala").await.unwrap();
    db.close().await;
    let db = Db::connect(&url).await.unwrap();
    assert_eq!(db.list_organisations().await.unwrap().len(), 1);
    assert!(matches!(
        Db::connect("mysql://x").await,
        Err(StateError::UnsupportedUrl)
    ));
}

#[tokio::test]
async fn users_passwords_and_roles() {
    for t in common::backends().await {
        let db = &t.db;
        let org = db.create_organisation("Uppsala universitet").await.unwrap();
        assert!(matches!(
            db.create_organisation("Uppsala universitet").await,
            Err(StateError::AlreadyExists { .. })
        ));
        assert_eq!(
            db.ensure_organisation("Uppsala universitet")
                .await
                .unwrap()
                .id,
            org.id
        );
        let id = user(db, "anna").await;
        assert!(matches!(
            db.create_user(NewUser {
                username: "anna".into(),
                ..NewUser::default()
            })
            .await,
            Err(StateError::AlreadyExists { .. })
        ));
        assert!(
            db.verify_password("anna", "a long password")
                .await
                .unwrap()
                .is_some(),
            "{}",
            t.label
        );
        assert!(
            db.verify_password("anna", "wrong password")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            db.verify_password("nobody", "a long password")
                .await
                .unwrap()
                .is_none()
        );

        db.grant_role(&id, &org.id, "applicant").await.unwrap();
        db.grant_role(&id, &org.id, "applicant").await.unwrap(); // idempotent
        db.grant_role(&id, &org.id, "auditor").await.unwrap();
        let roles: Vec<String> = db
            .memberships(&id)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.role)
            .collect();
        assert_eq!(roles, ["applicant", "auditor"]);
        assert_eq!(db.users_with_role("auditor").await.unwrap().len(), 1);
        assert!(db.revoke_role(&id, &org.id, "auditor").await.unwrap());
        assert!(!db.revoke_role(&id, &org.id, "auditor").await.unwrap());
        assert_eq!(db.memberships(&id).await.unwrap().len(), 1);

        db.disable_user(&id).await.unwrap();
        assert!(
            db.verify_password("anna", "a long password")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(db.list_users().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn api_tokens_are_hashed_expire_and_revoke() {
    for t in common::backends().await {
        let db = &t.db;
        let id = user(db, "bo").await;
        let (tok, secret) = db.create_api_token(&id, "laptop", None).await.unwrap();
        let (who, _) = db
            .authenticate_api_token(secret.expose())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(who.id, id);
        assert!(db.api_token(&tok.id).await.unwrap().last_used_at.is_some());
        assert!(
            db.authenticate_api_token("hh_wrong")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            db.authenticate_api_token("garbage")
                .await
                .unwrap()
                .is_none()
        );

        db.revoke_api_token(&tok.id).await.unwrap();
        assert!(
            db.authenticate_api_token(secret.expose())
                .await
                .unwrap()
                .is_none()
        );

        // Expired: create valid, then it lapses.
        let soon = Utc::now() + Duration::milliseconds(50);
        let (_, s2) = db.create_api_token(&id, "short", Some(soon)).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(80)).await;
        assert!(
            db.authenticate_api_token(s2.expose())
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            db.create_api_token(&id, "past", Some(Utc::now() - Duration::days(1)))
                .await
                .is_err()
        );

        // The secret is not stored anywhere in clear.
        assert_eq!(db.list_api_tokens(&id).await.unwrap().len(), 2);

        // Disabled users' tokens stop working.
        let (_, s3) = db.create_api_token(&id, "third", None).await.unwrap();
        db.disable_user(&id).await.unwrap();
        assert!(
            db.authenticate_api_token(s3.expose())
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn web_sessions_start_and_end() {
    for t in common::backends().await {
        let db = &t.db;
        let id = user(db, "cecilia").await;
        let (_, s) = db.create_session(&id, Duration::hours(1)).await.unwrap();
        assert_eq!(
            db.authenticate_session(s.expose())
                .await
                .unwrap()
                .unwrap()
                .id,
            id
        );
        db.end_session(s.expose()).await.unwrap();
        assert!(db.authenticate_session(s.expose()).await.unwrap().is_none());
        assert!(db.create_session(&id, Duration::zero()).await.is_err());
    }
}

#[tokio::test]
async fn case_writes_are_optimistic_and_atomic() {
    for t in common::backends().await {
        let db = &t.db;
        let org = db.create_organisation("KI").await.unwrap();
        assert_eq!(
            db.write_case(write("c1", &org.id, 0, "created"))
                .await
                .unwrap(),
            1
        );
        // A second creation of the same case conflicts.
        assert!(matches!(
            db.write_case(write("c1", &org.id, 0, "created")).await,
            Err(StateError::Conflict {
                expected: 0,
                actual: 1,
                ..
            })
        ));
        assert_eq!(
            db.write_case(write("c1", &org.id, 1, "submitted"))
                .await
                .unwrap(),
            2
        );
        // A stale writer loses with a clear conflict and stores nothing.
        let mut stale = write("c1", &org.id, 1, "withdrawn");
        stale.notifications.push(NewNotification {
            dedupe_key: "x".into(),
            recipient: "role:case_officer".into(),
            case_id: Some("c1".into()),
            kind: "state_changed".into(),
            subject: "s".into(),
            body: "b".into(),
        });
        let err = db.write_case(stale).await.unwrap_err();
        assert!(
            matches!(
                err,
                StateError::Conflict {
                    expected: 1,
                    actual: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("reload the case"));
        assert!(
            db.case_notifications("c1").await.unwrap().is_empty(),
            "nothing half-saved"
        );

        let events = db.case_events("c1").await.unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(events[1].event_type, "submitted");
        let case = db.case("c1").await.unwrap();
        assert_eq!((case.version, case.status.as_str()), (2, "submitted"));
        assert_eq!(case.projection["status"], "submitted");

        // A failing part (bad permit) rolls back the events too.
        let mut bad = write("c1", &org.id, 2, "permit_issued");
        let now = Utc::now();
        bad.permits.push(PermitRow {
            permit_id: "p1".into(),
            case_id: "c1".into(),
            valid_from: now,
            expires_at: now - Duration::days(1),
            revoked_at: None,
            document: json!({}),
        });
        assert!(db.write_case(bad).await.is_err());
        assert_eq!(db.case("c1").await.unwrap().version, 2);
        assert_eq!(db.case_events("c1").await.unwrap().len(), 2);

        let filter = CaseFilter {
            organisation_id: Some(org.id.clone()),
            statuses: vec!["submitted".into()],
        };
        assert_eq!(db.list_cases(&filter).await.unwrap().len(), 1);
        let filter = CaseFilter {
            organisation_id: None,
            statuses: vec!["draft".into()],
        };
        assert!(db.list_cases(&filter).await.unwrap().is_empty());
        assert!(matches!(
            db.case("nope").await,
            Err(StateError::NotFound { .. })
        ));
    }
}

#[tokio::test]
async fn concurrent_writers_one_wins() {
    for t in common::backends().await {
        let db = &t.db;
        let org = db.create_organisation("SU").await.unwrap();
        db.write_case(write("c", &org.id, 0, "created"))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..6 {
            let db = db.clone();
            let org = org.id.clone();
            tasks.push(tokio::spawn(async move {
                db.write_case(write("c", &org, 1, &format!("e{i}"))).await
            }));
        }
        let mut ok = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(v) => {
                    assert_eq!(v, 2);
                    ok += 1;
                }
                Err(StateError::Conflict { .. }) => {}
                Err(e) => panic!("{}: unexpected {e}", t.label),
            }
        }
        assert_eq!(ok, 1, "{}", t.label);
        assert_eq!(db.case_events("c").await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_result() {
    for t in common::backends().await {
        let db = &t.db;
        let org = db.create_organisation("LU").await.unwrap();
        let h = request_hash("POST", "/api/v1/applications", b"{}");
        assert!(
            db.idempotent_response("u1", "k1", &h)
                .await
                .unwrap()
                .is_none()
        );
        let mut w = write("c", &org.id, 0, "created");
        w.idempotency = Some(IdempotencyRecord {
            user_id: "u1".into(),
            key: "k1".into(),
            request_hash: h.clone(),
            status: 201,
            response: json!({"id": "c"}),
        });
        db.write_case(w).await.unwrap();
        let stored = db
            .idempotent_response("u1", "k1", &h)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((stored.status, stored.response), (201, json!({"id": "c"})));
        let other = request_hash("POST", "/api/v1/applications", b"{\"a\":1}");
        assert!(matches!(
            db.idempotent_response("u1", "k1", &other).await,
            Err(StateError::IdempotencyMismatch { .. })
        ));
        // Keys are per user.
        assert!(
            db.idempotent_response("u2", "k1", &other)
                .await
                .unwrap()
                .is_none()
        );
        assert!(db.idempotent_response("u1", "", &h).await.is_err());
    }
}

#[tokio::test]
async fn attachments_permits_and_outbox() {
    for t in common::backends().await {
        let db = &t.db;
        let org = db.create_organisation("GU").await.unwrap();
        db.write_case(write("c", &org.id, 0, "created"))
            .await
            .unwrap();
        let content = b"%PDF-1.7 protocol".to_vec();
        let att = NewAttachment::new(
            "c",
            "protocol.pdf",
            "application/pdf",
            content.clone(),
            "u1",
            1024,
            None,
        )
        .unwrap();
        let att_id = att.meta().id.clone();
        let mut w = write("c", &org.id, 1, "attachment_added");
        w.attachments.push(att);
        let now = Utc::now();
        w.permits.push(PermitRow {
            permit_id: "HH-P-1".into(),
            case_id: "c".into(),
            valid_from: now - Duration::days(1),
            expires_at: now + Duration::days(30),
            revoked_at: None,
            document: json!({"categories": ["diagnoses"]}),
        });
        let note = NewNotification {
            dedupe_key: "c:2:state".into(),
            recipient: "role:case_officer".into(),
            case_id: Some("c".into()),
            kind: "state_changed".into(),
            subject: "Case c changed".into(),
            body: "…".into(),
        };
        w.notifications.push(note.clone());
        db.write_case(w).await.unwrap();

        let list = db.list_attachments("c").await.unwrap();
        assert_eq!(list.len(), 1);
        let (meta, bytes) = db.attachment("c", &att_id).await.unwrap();
        assert_eq!(bytes, content, "{}", t.label);
        assert_eq!(meta.size_bytes, content.len() as u64);
        assert!(matches!(
            db.attachment("other", &att_id).await,
            Err(StateError::NotFound { .. })
        ));

        assert_eq!(db.active_permits(now).await.unwrap().len(), 1);
        assert_eq!(
            db.active_permits(now + Duration::days(31))
                .await
                .unwrap()
                .len(),
            0
        );
        let p = db.permit("HH-P-1").await.unwrap();
        assert!(p.active_at(now));
        assert_eq!(p.document["categories"][0], "diagnoses");
        // Revocation through a later write replaces the row.
        let mut w = write("c", &org.id, 2, "permit_revoked");
        w.permits.push(PermitRow {
            revoked_at: Some(now),
            ..p.clone()
        });
        db.write_case(w).await.unwrap();
        assert!(
            db.active_permits(now + Duration::seconds(1))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(db.list_permits(Some("c")).await.unwrap().len(), 1);

        // Outbox: duplicates ignored (and reported as not new), sent marked.
        assert!(!db.notify(&note).await.unwrap());
        let pending = db.pending_notifications(10).await.unwrap();
        assert_eq!(pending.len(), 1);
        db.mark_notification_sent(pending[0].id).await.unwrap();
        assert!(db.pending_notifications(10).await.unwrap().is_empty());
        assert!(db.mark_notification_sent(pending[0].id).await.is_err());
    }
}
