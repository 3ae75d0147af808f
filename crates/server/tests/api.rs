//! A case from draft to permit to expiry through the HTTP API, with the
//! right role at each step and refusals for the wrong ones; on SQLite and
//! (when HALSOHUB_TEST_DATABASE_URL is set) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::databases;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use halsohub_server::{AppState, router};
use halsohub_state::Db;
use halsohub_state::accounts::NewUser;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Hub {
    app: Router,
    db: Db,
    tokens: BTreeMap<&'static str, String>,
    applicant_org: String,
    clock: Arc<Mutex<DateTime<Utc>>>,
    _dir: Option<tempfile::TempDir>,
}

const ROLES: [&str; 8] = [
    "applicant",
    "case_officer",
    "legal_reviewer",
    "data_steward",
    "decision_maker",
    "output_checker",
    "auditor",
    "administrator",
];

async fn hub(db: Db, dir: Option<tempfile::TempDir>) -> Hub {
    let uni = db.create_organisation("Uppsala universitet").await.unwrap();
    let staff = db.create_organisation("Hälsohubben").await.unwrap();
    let mut tokens = BTreeMap::new();
    for role in ROLES {
        let u = db
            .create_user(NewUser {
                username: role.replace('_', "-"),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let org = if role == "applicant" {
            &uni.id
        } else {
            &staff.id
        };
        db.grant_role(&u.id, org, role).await.unwrap();
        let (_, secret) = db.create_api_token(&u.id, "test", None).await.unwrap();
        tokens.insert(role, secret.expose().to_string());
    }
    let clock = Arc::new(Mutex::new(
        DateTime::parse_from_rfc3339("2026-01-12T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
    ));
    let mut state = AppState::new(db.clone());
    let c = clock.clone();
    state.clock = Arc::new(move || *c.lock().unwrap());
    Hub {
        app: router(state),
        db,
        tokens,
        applicant_org: uni.id,
        clock,
        _dir: dir,
    }
}

impl Hub {
    fn now(&self) -> DateTime<Utc> {
        *self.clock.lock().unwrap()
    }

    fn advance(&self, d: Duration) {
        *self.clock.lock().unwrap() += d;
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        role: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (s, _, v) = self.call_h(method, path, role, body, &[]).await;
        (s, v)
    }

    async fn call_h(
        &self,
        method: &str,
        path: &str,
        role: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, String, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(r) = role {
            req = req.header("authorization", format!("Bearer {}", self.tokens[r]));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string()))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        if !status.is_success() {
            assert_eq!(ct, "application/problem+json", "{method} {path}: {v}");
            assert_eq!(v["status"], status.as_u16());
            assert!(v["type"].as_str().unwrap().starts_with("https://"));
            assert!(!v["detail"].as_str().unwrap().is_empty());
        }
        (status, ct, v)
    }

    /// Runs a command as `role` after checking every other case-staff and
    /// applicant role is refused it.
    async fn step(&self, case: &str, role: &str, cmd: Value, refused: &[&str]) -> Value {
        let path = format!("/api/v1/applications/{case}/commands");
        for wrong in refused {
            let (s, v) = self
                .call("POST", &path, Some(wrong), Some(cmd.clone()))
                .await;
            assert_eq!(
                s,
                StatusCode::FORBIDDEN,
                "{wrong} must be refused {cmd}: {v}"
            );
        }
        let (s, v) = self
            .call("POST", &path, Some(role), Some(cmd.clone()))
            .await;
        assert_eq!(s, StatusCode::OK, "{role} {cmd}: {v}");
        v
    }
}

fn content(org: &str, members: &[&str]) -> Value {
    json!({
        "title": "Heart failure after myocardial infarction in Uppsala",
        "summary": "A register study of heart failure incidence.",
        "purpose": "scientific_research",
        "legal_basis": "public_task",
        "ethics_reference": "Dnr 2025-01234-01",
        "organisation": org,
        "members": members,
        "datasets": [{"dataset": "patient_register_inpatient", "variables": ["admission_date", "main_diagnosis"]}],
        "cohort": {"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis", "codes": [{"system": "icd10se", "codes": ["I21"]}]}}}], "output": {"type": "count"}},
        "period": {"from": "2015-01-01", "until": "2024-12-31"},
        "form": "pseudonymised_workspace",
        "attachments": []
    })
}

#[tokio::test]
async fn case_from_draft_to_permit_to_expiry() {
    for (db, dir) in databases().await {
        let h = hub(db, dir).await;
        let me = h.call("GET", "/api/v1/me", Some("applicant"), None).await.1;
        let applicant_id = me["user"]["id"].as_str().unwrap().to_string();

        // Unauthenticated and unknown tokens.
        assert_eq!(
            h.call("GET", "/api/v1/me", None, None).await.0,
            StatusCode::UNAUTHORIZED
        );
        let (s, _, _) = h
            .call_h(
                "GET",
                "/api/v1/me",
                None,
                None,
                &[("authorization", "Bearer hh_nope")],
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);

        // Only an applicant of the organisation may create.
        let body = content(&h.applicant_org, &[&applicant_id]);
        for wrong in ["case_officer", "decision_maker", "auditor"] {
            let (s, _) = h
                .call(
                    "POST",
                    "/api/v1/applications",
                    Some(wrong),
                    Some(body.clone()),
                )
                .await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{wrong}");
        }
        let (s, _, created) = h
            .call_h(
                "POST",
                "/api/v1/applications",
                Some("applicant"),
                Some(body.clone()),
                &[("idempotency-key", "create-1")],
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{created}");
        let case = created["case"]["id"].as_str().unwrap().to_string();
        // Replaying the same key returns the first result, creates nothing new.
        let (s, _, again) = h
            .call_h(
                "POST",
                "/api/v1/applications",
                Some("applicant"),
                Some(body.clone()),
                &[("idempotency-key", "create-1")],
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(again["case"]["id"], case.as_str());
        assert_eq!(h.db.list_cases(&Default::default()).await.unwrap().len(), 1);

        // Attachment: too large refused, good one stored with checksum.
        let att_path = format!("/api/v1/applications/{case}/attachments?name=protocol.pdf");
        let req = Request::builder()
            .method("POST")
            .uri(&att_path)
            .header("authorization", format!("Bearer {}", h.tokens["applicant"]))
            .header("content-type", "application/pdf")
            .body(Body::from(b"%PDF-1.7 study protocol".to_vec()))
            .unwrap();
        let resp = h.app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let att: Value = serde_json::from_slice(&bytes).unwrap();
        let att_id = att["attachment"]["id"].as_str().unwrap();
        let req = Request::builder()
            .uri(format!("/api/v1/applications/{case}/attachments/{att_id}"))
            // A draft is its applicants' own (staff see it once submitted).
            .header("authorization", format!("Bearer {}", h.tokens["applicant"]))
            .body(Body::empty())
            .unwrap();
        let resp = h.app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()["x-content-sha256"],
            att["attachment"]["sha256"].as_str().unwrap()
        );
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"%PDF-1.7 study protocol");
        let req = Request::builder()
            .method("POST")
            .uri(&att_path)
            .header("authorization", format!("Bearer {}", h.tokens["applicant"]))
            .header("content-type", "application/pdf")
            .body(Body::from(vec![0u8; 21 * 1024 * 1024]))
            .unwrap();
        let resp = h.app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

        // Workflow.
        let staff = [
            "case_officer",
            "legal_reviewer",
            "data_steward",
            "decision_maker",
            "auditor",
            "output_checker",
        ];
        h.advance(Duration::days(1));
        h.step(&case, "applicant", json!({"type": "submit"}), &staff)
            .await;
        // Illegal transition: submitting again is a 409 with a reason.
        let (s, v) = h
            .call(
                "POST",
                &format!("/api/v1/applications/{case}/commands"),
                Some("applicant"),
                Some(json!({"type": "submit"})),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        h.advance(Duration::days(1));
        h.step(
            &case,
            "case_officer",
            json!({"type": "start_completeness_check"}),
            &["applicant", "decision_maker", "auditor"],
        )
        .await;
        h.advance(Duration::days(1));
        h.step(
            &case,
            "case_officer",
            json!({"type": "accept_complete"}),
            &["applicant", "legal_reviewer"],
        )
        .await;

        // The queue shows the case with its clock, to staff only.
        let (s, q) = h
            .call("GET", "/api/v1/queue", Some("case_officer"), None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(q["queue"][0]["case_id"], case.as_str());
        assert_eq!(
            h.call("GET", "/api/v1/queue", Some("applicant"), None)
                .await
                .0,
            StatusCode::FORBIDDEN
        );

        h.advance(Duration::days(14));
        h.step(&case, "legal_reviewer", json!({"type": "record_legal_review", "findings": ["Legal basis in order."], "recommendation": "approve"}), &["applicant", "case_officer", "data_steward"]).await;
        h.advance(Duration::days(1));
        h.step(&case, "data_steward", json!({"type": "record_technical_review", "findings": ["Variables available."], "recommendation": "approve"}), &["applicant", "legal_reviewer"]).await;
        h.advance(Duration::days(7));
        // A decision without reasons is refused as invalid.
        let (s, v) = h
            .call(
                "POST",
                &format!("/api/v1/applications/{case}/commands"),
                Some("decision_maker"),
                Some(json!({"type": "approve", "reasons": ""})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        h.step(
            &case,
            "decision_maker",
            json!({"type": "approve", "reasons": "Purpose within EHDS Art. 53; data minimised."}),
            &["applicant", "case_officer", "legal_reviewer"],
        )
        .await;

        // Issue a permit valid for 30 days from tomorrow.
        let today = h.now().date_naive();
        let terms = json!({
            "data_categories": ["diagnoses"], "sources": ["patient_register"],
            "pseudonymisation": "project_pseudonyms", "authorised_users": [applicant_id],
            "valid_from": (today + Duration::days(1)).to_string(),
            "valid_until": (today + Duration::days(30)).to_string(),
            "environment": "secure-workspace", "tools": ["R", "SQL"], "conditions": ["Output checking before release."]
        });
        h.advance(Duration::days(1));
        let v = h
            .step(
                &case,
                "case_officer",
                json!({"type": "issue_permit", "terms": terms}),
                &["applicant", "decision_maker"],
            )
            .await;
        let permit_id = v["case"]["permit"]["id"].as_str().unwrap().to_string();
        assert!(permit_id.starts_with("HH-P-"));
        h.advance(Duration::days(2));
        let (s, p) = h
            .call(
                "GET",
                &format!("/api/v1/permits/{permit_id}"),
                Some("applicant"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(p["active"], true);
        assert_eq!(h.db.active_permits(h.now()).await.unwrap().len(), 1);

        h.step(
            &case,
            "case_officer",
            json!({"type": "publish"}),
            &["applicant", "decision_maker"],
        )
        .await;

        // Public register: no login, the decision and its reasons, no personal data.
        let (s, reg) = h.call("GET", "/api/v1/public/register", None, None).await;
        assert_eq!(s, StatusCode::OK);
        let text = reg.to_string();
        assert!(text.contains("Purpose within EHDS Art. 53"), "{text}");
        assert!(
            !text.contains(&applicant_id),
            "register must not name applicants: {text}"
        );
        let (s, ct, _) = h
            .call_h("GET", "/api/v1/public/register.csv", None, None, &[])
            .await;
        assert_eq!(
            (s, ct.as_str()),
            (StatusCode::OK, "text/csv; charset=utf-8")
        );
        assert_eq!(
            h.call("GET", "/api/v1/public/lead-times", None, None)
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            h.call("GET", "/api/v1/public/lead-times.csv", None, None)
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            h.call("GET", "/api/v1/public/queue", None, None).await.0,
            StatusCode::OK
        );

        // History: every event, with who and why.
        let (s, hist) = h
            .call(
                "GET",
                &format!("/api/v1/applications/{case}/history"),
                Some("auditor"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{hist}");
        assert!(hist["events"].as_array().unwrap().len() >= 9);

        // After expiry the permit no longer grants access.
        h.advance(Duration::days(40));
        let (_, p) = h
            .call(
                "GET",
                &format!("/api/v1/permits/{permit_id}"),
                Some("applicant"),
                None,
            )
            .await;
        assert_eq!(p["active"], false, "{p}");
        assert!(h.db.active_permits(h.now()).await.unwrap().is_empty());

        // Notifications were queued along the way.
        assert!(!h.db.case_notifications(&case).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn conflicts_bad_input_and_tokens() {
    for (db, dir) in databases().await {
        let h = hub(db, dir).await;
        let applicant_id =
            h.call("GET", "/api/v1/me", Some("applicant"), None).await.1["user"]["id"]
                .as_str()
                .unwrap()
                .to_string();
        let (_, created) = h
            .call(
                "POST",
                "/api/v1/applications",
                Some("applicant"),
                Some(content(&h.applicant_org, &[&applicant_id])),
            )
            .await;
        let case = created["case"]["id"].as_str().unwrap().to_string();
        let path = format!("/api/v1/applications/{case}/commands");

        // Stale version → 409 with a clear message.
        let (s, _, v) = h
            .call_h(
                "POST",
                &path,
                Some("applicant"),
                Some(json!({"type": "submit"})),
                &[("if-match", "7")],
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert!(v["detail"].as_str().unwrap().contains("version"));

        // Malformed JSON, unknown command, unknown purpose → 400 naming the path.
        let req = Request::builder()
            .method("POST")
            .uri(&path)
            .header("authorization", format!("Bearer {}", h.tokens["applicant"]))
            .header("content-type", "application/json")
            .body(Body::from("{not json"))
            .unwrap();
        assert_eq!(
            h.app.clone().oneshot(req).await.unwrap().status(),
            StatusCode::BAD_REQUEST
        );
        let (s, v) = h
            .call(
                "POST",
                &path,
                Some("applicant"),
                Some(json!({"type": "teleport"})),
            )
            .await;
        // Well-formed JSON of the wrong shape: 422 with errors[].
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["errors"][0]["field"], "type", "{v}");
        let mut bad = content(&h.applicant_org, &[&applicant_id]);
        bad["purpose"] = json!("world_domination");
        let (s, v) = h
            .call("POST", "/api/v1/applications", Some("applicant"), Some(bad))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["errors"][0]["field"], "purpose", "{v}");
        assert!(v["detail"].as_str().unwrap().contains("purpose"), "{v}");

        // Idempotency key reused for another request → 422.
        h.call_h(
            "POST",
            &path,
            Some("applicant"),
            Some(json!({"type": "submit"})),
            &[("idempotency-key", "k")],
        )
        .await;
        let (s, _, _) = h
            .call_h(
                "POST",
                &path,
                Some("applicant"),
                Some(json!({"type": "withdraw", "reason": "x"})),
                &[("idempotency-key", "k")],
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

        // Unknown routes and cases.
        assert_eq!(
            h.call("GET", "/api/v1/nothing", None, None).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            h.call(
                "GET",
                "/api/v1/applications/HH-A-2026-999999",
                Some("case_officer"),
                None
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        // Another organisation's applicant cannot see the case.
        assert_eq!(
            h.call(
                "GET",
                &format!("/api/v1/applications/{case}"),
                Some("output_checker"),
                None
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );

        // Tokens: create (secret once), use, list, revoke.
        let (s, t) = h
            .call(
                "POST",
                "/api/v1/tokens",
                Some("auditor"),
                Some(json!({"name": "cli", "expires_in_days": 30})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let secret = t["secret"].as_str().unwrap();
        let (s, _, _) = h
            .call_h(
                "GET",
                "/api/v1/me",
                None,
                None,
                &[("authorization", &format!("Bearer {secret}"))],
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, list) = h.call("GET", "/api/v1/tokens", Some("auditor"), None).await;
        assert!(!list.to_string().contains(secret));
        let id = t["token"]["id"].as_str().unwrap();
        // Someone else cannot revoke it; its owner can.
        assert_eq!(
            h.call(
                "DELETE",
                &format!("/api/v1/tokens/{id}"),
                Some("applicant"),
                None
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            h.call(
                "DELETE",
                &format!("/api/v1/tokens/{id}"),
                Some("auditor"),
                None
            )
            .await
            .0,
            StatusCode::OK
        );
        let (s, _, _) = h
            .call_h(
                "GET",
                "/api/v1/me",
                None,
                None,
                &[("authorization", &format!("Bearer {secret}"))],
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn openapi_document_matches_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("s.db").display()
    ))
    .await
    .unwrap();
    let h = hub(db, None).await;
    let (s, doc) = h.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 14);
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            // Substitute path parameters and call: the route must exist
            // (anything but the router's 404/405 fallbacks).
            let concrete = path
                .replace("{id}", "HH-A-2026-000001")
                .replace("{attachment_id}", "x");
            let (s, v) = h.call(&method.to_uppercase(), &concrete, None, None).await;
            let fallback = v["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("method-not-allowed"))
                || v["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("no API endpoint"));
            assert!(
                !fallback,
                "{method} {path} is documented but not routed ({s})"
            );
        }
    }
}
