//! The audit log through the HTTP API: a case created over the API is
//! audited in the same transaction; after sequencing, anyone reads the
//! signed checkpoint, the tiles and consistency proofs; only auditors read
//! an entry with its salt and inclusion proof; tile paths cannot leave the
//! log directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use halsohub_app::audit::{self, AuditLog};
use halsohub_server::{AppState, router};
use halsohub_state::accounts::NewUser;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn get(app: &Router, path: &str, bearer: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut req = Request::builder().method("GET").uri(path);
    if let Some(t) = bearer {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, bytes.to_vec())
}

#[tokio::test]
async fn the_log_is_public_and_its_entries_are_for_auditors() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    );
    let db = halsohub_app::db::open(Some(&url), dir.path())
        .await
        .unwrap();
    let org = db.create_organisation("Uppsala universitet").await.unwrap();
    let staff = db.create_organisation("Hälsohubben").await.unwrap();
    let mut tokens = HashMap::new();
    for (name, o, role) in [
        ("anna", &org.id, "applicant"),
        ("aud", &staff.id, "auditor"),
    ] {
        let u = db
            .create_user(NewUser {
                username: name.into(),
                ..NewUser::default()
            })
            .await
            .unwrap();
        db.grant_role(&u.id, o, role).await.unwrap();
        let (_, secret) = db.create_api_token(&u.id, "t", None).await.unwrap();
        tokens.insert(name, secret.expose().to_string());
    }
    audit::create_key(&dir.path().join("audit.key"), "hub.test/audit", false).unwrap();
    let log = AuditLog::open(
        db.clone(),
        &dir.path().join("audit"),
        &dir.path().join("audit.key"),
    )
    .unwrap();
    let mut state = AppState::new(db.clone());
    state.audit = Some(Arc::new(log.clone()));
    let app = router(state);

    // A draft over the API: its event is audited with it.
    let body = json!({"organisation": org.id, "title": "Heart failure study"});
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/applications")
        .header("authorization", format!("Bearer {}", tokens["anna"]))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(db.audit_size().await.unwrap(), 1);
    let e = db.audit_entry(0).await.unwrap().unwrap();
    assert_eq!(e.kind, "case_event");
    assert!(e.subject.ends_with("/1"), "{}", e.subject);
    log.sequence().await.unwrap();

    let (s, cp) = get(&app, "/api/v1/audit/checkpoint", None).await;
    assert_eq!(s, StatusCode::OK);
    let cp = String::from_utf8(cp).unwrap();
    assert!(cp.starts_with("hub.test/audit\n1\n"), "{cp}");
    let (s, tile) = get(&app, "/api/v1/audit/tile/0/000.p/1", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(tile.len(), 32);
    let (s, bundle) = get(&app, "/api/v1/audit/tile/entries/000.p/1", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(bundle.len(), 34);
    for bad in [
        "/api/v1/audit/tile/../state.db",
        "/api/v1/audit/tile/%2e%2e/audit.key",
        "/api/v1/audit/tile/0/9.p/1",
    ] {
        let (s, _) = get(&app, bad, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{bad}");
    }
    let (s, body) = get(&app, "/api/v1/audit/consistency?first=0&second=1", None).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (s, _) = get(&app, "/api/v1/audit/consistency?first=2&second=1", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, _) = get(&app, "/api/v1/audit/entries/0", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = get(&app, "/api/v1/audit/entries/0", Some(&tokens["anna"])).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, body) = get(&app, "/api/v1/audit/entries/0", Some(&tokens["aud"])).await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["kind"], "case_event");
    assert_eq!(v["tree_size"], 1);
    assert_eq!(v["salt"].as_str().unwrap().len(), 64);
    let (s, _) = get(&app, "/api/v1/audit/entries/7", Some(&tokens["aud"])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let doc = serde_json::to_value(halsohub_server::openapi(Default::default())).unwrap();
    for p in [
        "/api/v1/audit/checkpoint",
        "/api/v1/audit/consistency",
        "/api/v1/audit/entries/{index}",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p}");
    }
}
