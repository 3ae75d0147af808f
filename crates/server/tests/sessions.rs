//! Password log-in (web sessions), the deadline sweep's once-only reminders
//! and permit expiry without any job, through the HTTP API; on SQLite and
//! (when HALSOHUB_TEST_DATABASE_URL is set) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{call, databases};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use halsohub_access::AccessConfig;
use halsohub_server::{AppState, router, sweep_deadlines};
use halsohub_state::accounts::NewUser;
use halsohub_state::{ConnectOptions, Db};
use serde_json::{Value, json};
use tower::ServiceExt;

#[tokio::test]
async fn password_login_gives_a_session_that_works_until_logout_or_expiry() {
    for (i, (db, _dir)) in databases().await.into_iter().enumerate() {
        let app = router(AppState::new(db.clone()));
        let name = format!("officer-{i}-{}", uuid::Uuid::new_v4().simple());
        let org = db.create_organisation("Hälsohubben").await.unwrap();
        let user = db
            .create_user(NewUser {
                username: name.clone(),
                password: Some("correct horse battery staple".into()),
                ..NewUser::default()
            })
            .await
            .unwrap();
        db.grant_role(&user.id, &org.id, "case_officer")
            .await
            .unwrap();

        // Unknown user and wrong password: the same 401, word for word.
        let (s1, unknown) = call(
            &app,
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"username": format!("nobody-{i}"), "password": "whatever"})),
        )
        .await;
        let (s2, wrong) = call(
            &app,
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"username": name, "password": "wrong"})),
        )
        .await;
        assert_eq!(
            (s1, s2),
            (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
        );
        assert_eq!(unknown["detail"], wrong["detail"]);
        assert_eq!(unknown["type"], wrong["type"]);
        // Malformed bodies are 400 with the JSON path.
        let (s, v) = call(
            &app,
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"username": name})),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

        // The right password: a session token, shown once, lasting 8 hours.
        let (s, login) = call(
            &app,
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"username": name, "password": "correct horse battery staple"})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{login}");
        let token = login["token"].as_str().unwrap().to_string();
        assert!(token.starts_with("hs_"));
        let created: DateTime<Utc> = login["session"]["created_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let expires: DateTime<Utc> = login["session"]["expires_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(expires - created, Duration::hours(8));

        // The auth layer accepts it, with the user's roles.
        let (s, me) = call(&app, "GET", "/api/v1/me", Some(&token), None).await;
        assert_eq!(s, StatusCode::OK, "{me}");
        assert_eq!(me["user"]["username"], name.as_str());
        assert_eq!(me["memberships"][0]["roles"][0], "case_officer");
        assert_eq!(
            call(&app, "GET", "/api/v1/queue", Some(&token), None)
                .await
                .0,
            StatusCode::OK
        );

        // Logging out with an API token is refused (it is not a session).
        let (_, api) = db.create_api_token(&user.id, "t", None).await.unwrap();
        let (s, _) = call(
            &app,
            "DELETE",
            "/api/v1/sessions/current",
            Some(api.expose()),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        // Log out: 204, then the token is dead.
        let (s, _) = call(
            &app,
            "DELETE",
            "/api/v1/sessions/current",
            Some(&token),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert_eq!(
            call(&app, "GET", "/api/v1/me", Some(&token), None).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            call(
                &app,
                "DELETE",
                "/api/v1/sessions/current",
                Some(&token),
                None
            )
            .await
            .0,
            StatusCode::UNAUTHORIZED
        );

        // Expiry is honoured.
        let (_, short) = db
            .create_session(&user.id, Duration::milliseconds(300))
            .await
            .unwrap();
        assert_eq!(
            call(&app, "GET", "/api/v1/me", Some(short.expose()), None)
                .await
                .0,
            StatusCode::OK
        );
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert_eq!(
            call(&app, "GET", "/api/v1/me", Some(short.expose()), None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );

        // A disabled account cannot log in, even with the right password.
        db.disable_user(&user.id).await.unwrap();
        let (s, _) = call(
            &app,
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"username": name, "password": "correct horse battery staple"})),
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
}

/// Two independent handles on one database (as two server processes
/// have), per backend available.
async fn two_handles() -> Vec<(Db, Db, &'static str, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let mut out = vec![(
        Db::connect(&url).await.unwrap(),
        Db::connect(&url).await.unwrap(),
        "sqlite",
        Some(dir),
    )];
    if let Ok(url) = std::env::var("HALSOHUB_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        let mut o = ConnectOptions::new(url);
        o.pg_schema = Some(format!("t_{}", uuid::Uuid::new_v4().simple()));
        o.max_connections = 4;
        out.push((
            Db::connect_with(o.clone()).await.unwrap(),
            Db::connect_with(o).await.unwrap(),
            "postgres",
            None,
        ));
    }
    out
}

/// A log-in through `app`: status, `Retry-After` (seconds) and body.
async fn login(app: &Router, username: &str, password: &str) -> (StatusCode, Option<i64>, Value) {
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/sessions")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"username": username, "password": password}).to_string(),
        ))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<i64>().unwrap());
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        retry,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_username_across_servers() {
    for (db_a, db_b, label, _dir) in two_handles().await {
        // Two servers on one database, sharing a clock the test moves.
        let clock = Arc::new(Mutex::new(Utc::now()));
        let server = |db: Db| {
            let mut state = AppState::new(db);
            let c = clock.clone();
            state.clock = Arc::new(move || *c.lock().unwrap());
            router(state)
        };
        let (a, b) = (server(db_a.clone()), server(db_b.clone()));
        let name = format!("applicant-{}", uuid::Uuid::new_v4().simple());
        let other = format!("other-{}", uuid::Uuid::new_v4().simple());
        for n in [&name, &other] {
            db_a.create_user(NewUser {
                username: n.clone(),
                password: Some("right-password".into()),
                ..NewUser::default()
            })
            .await
            .unwrap();
        }
        // Five failures, spread over both servers and two minutes.
        for i in 0..5 {
            let app = if i % 2 == 0 { &a } else { &b };
            let (s, retry, _) = login(app, &name, "guess").await;
            assert_eq!((s, retry), (StatusCode::UNAUTHORIZED, None), "{label}");
            *clock.lock().unwrap() += Duration::seconds(30);
        }
        // Now even the right password is refused on either server, with
        // Retry-After: until the first failure (2.5 minutes ago) leaves
        // the 15-minute window.
        for app in [&a, &b] {
            let (s, retry, v) = login(app, &name, "right-password").await;
            assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{label}: {v}");
            assert_eq!(retry, Some(15 * 60 - 150), "{label}");
            assert!(v["detail"].as_str().unwrap().contains("750 seconds"), "{v}");
        }
        // … but not for another username.
        let (s, _, _) = login(&b, &other, "right-password").await;
        assert_eq!(s, StatusCode::CREATED, "{label}");
        // Once the first failure has left the window, one attempt is let
        // through again (four failures remain in the window).
        *clock.lock().unwrap() += Duration::seconds(750);
        let (s, _, _) = login(&b, &name, "right-password").await;
        assert_eq!(s, StatusCode::CREATED, "{label}");
        // Success cleared the count: five more failures are allowed.
        for _ in 0..5 {
            let (s, _, _) = login(&a, &name, "guess").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{label}");
        }
        let (s, retry, _) = login(&b, &name, "guess").await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{label}");
        assert_eq!(retry, Some(15 * 60), "{label}");

        // Concurrent attempts from both servers cannot overrun the limit:
        // of 12 simultaneous wrong guesses for a fresh username, exactly 5
        // are checked and the rest refused.
        let fresh = format!("fresh-{}", uuid::Uuid::new_v4().simple());
        let mut tasks = Vec::new();
        for i in 0..12 {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            let fresh = fresh.clone();
            tasks.push(tokio::spawn(
                async move { login(&app, &fresh, "guess").await.0 },
            ));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        let checked = statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert_eq!((checked, refused), (5, 7), "{label}: {statuses:?}");
    }
}

#[tokio::test]
async fn session_endpoints_are_in_the_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("s.db").display()
    ))
    .await
    .unwrap();
    let app = router(AppState::new(db));
    let (s, doc) = call(&app, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let login = &doc["paths"]["/api/v1/sessions"]["post"];
    assert!(login["responses"]["201"].is_object(), "{login}");
    assert!(login["responses"]["429"].is_object(), "{login}");
    let logout = &doc["paths"]["/api/v1/sessions/current"]["delete"];
    assert!(logout["responses"]["204"].is_object(), "{logout}");
    assert!(logout["security"].is_array(), "{logout}");
}

struct Case {
    app: Router,
    db: Db,
    tokens: BTreeMap<&'static str, String>,
    clock: Arc<Mutex<DateTime<Utc>>>,
    id: String,
}

impl Case {
    fn now(&self) -> DateTime<Utc> {
        *self.clock.lock().unwrap()
    }

    fn advance(&self, d: Duration) {
        *self.clock.lock().unwrap() += d;
    }

    async fn cmd(&self, role: &str, cmd: Value) -> Value {
        let (s, v) = call(
            &self.app,
            "POST",
            &format!("/api/v1/applications/{}/commands", self.id),
            Some(&self.tokens[role]),
            Some(cmd.clone()),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{role} {cmd}: {v}");
        v
    }

    async fn sweep(&self) -> usize {
        sweep_deadlines(&self.db, &AccessConfig::default(), self.now())
            .await
            .unwrap()
            .reminders
    }

    async fn outbox_kinds(&self) -> Vec<String> {
        self.db
            .case_notifications(&self.id)
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.kind)
            .collect()
    }
}

async fn complete_case(db: Db) -> Case {
    let case = case_in_completeness_check(db).await;
    case.cmd("case_officer", json!({"type": "accept_complete"}))
        .await;
    case
}

async fn case_in_completeness_check(db: Db) -> Case {
    let uni = db.create_organisation("Lunds universitet").await.unwrap();
    let hub = db.create_organisation("Hälsohubben").await.unwrap();
    let mut tokens = BTreeMap::new();
    for role in [
        "applicant",
        "case_officer",
        "legal_reviewer",
        "data_steward",
        "decision_maker",
    ] {
        let u = db
            .create_user(NewUser {
                username: role.replace('_', "-"),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let org = if role == "applicant" { &uni } else { &hub };
        db.grant_role(&u.id, &org.id, role).await.unwrap();
        let (_, secret) = db.create_api_token(&u.id, "t", None).await.unwrap();
        tokens.insert(role, secret.expose().to_string());
    }
    let clock = Arc::new(Mutex::new(
        DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
    ));
    let mut state = AppState::new(db.clone());
    let c = clock.clone();
    state.clock = Arc::new(move || *c.lock().unwrap());
    let app = router(state);
    let (_, me) = call(&app, "GET", "/api/v1/me", Some(&tokens["applicant"]), None).await;
    let applicant = me["user"]["id"].as_str().unwrap().to_string();
    let (s, created) = call(
        &app,
        "POST",
        "/api/v1/applications",
        Some(&tokens["applicant"]),
        Some(json!({
            "title": "Statin use and dementia in Skåne",
            "summary": "A register study.",
            "purpose": "scientific_research",
            "legal_basis": "public_task",
            "ethics_reference": "Dnr 2025-04321-01",
            "organisation": uni.id,
            "members": [applicant],
            "datasets": [{"dataset": "prescribed_drug_register", "variables": ["atc", "dispensing_date"]}],
            "cohort": {"version": 1, "criteria": [{"include": {"event": {"domain": "dispensed_drug", "codes": [{"system": "atc", "codes": ["C10AA"], "descendants": true}]}}}], "output": {"type": "count"}},
            "period": {"from": "2010-01-01", "until": "2024-12-31"},
            "form": "pseudonymised_workspace",
            "attachments": []
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let case = Case {
        id: created["case"]["id"].as_str().unwrap().to_string(),
        app,
        db,
        tokens,
        clock,
    };
    case.cmd("applicant", json!({"type": "submit"})).await;
    case.cmd("case_officer", json!({"type": "start_completeness_check"}))
        .await;
    case
}

/// A case a case officer returned as incomplete (ethics reference
/// missing) after the completeness check began.
async fn returned_incomplete(db: Db) -> Case {
    let case = case_in_completeness_check(db).await;
    case.cmd(
        "case_officer",
        json!({"type": "return_incomplete", "missing": [{"field": "ethics_reference", "problem": "for another study"}]}),
    )
    .await;
    case
}

#[tokio::test]
async fn the_sweep_closes_an_application_left_incomplete_past_its_deadline_once() {
    for (db, _dir) in databases().await {
        let case = returned_incomplete(db).await;
        let sweep = || async {
            sweep_deadlines(&case.db, &AccessConfig::default(), case.now())
                .await
                .unwrap()
        };
        // Returned on Monday 2 March 2026: the last day is 30 March. On
        // that day nothing is closed.
        *case.clock.lock().unwrap() = DateTime::parse_from_rfc3339("2026-03-30T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(sweep().await.closed.is_empty());
        // The day after, the sweep closes it as incomplete, once.
        *case.clock.lock().unwrap() = DateTime::parse_from_rfc3339("2026-03-31T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let first = sweep().await;
        assert_eq!(first.closed, vec![case.id.clone()]);
        assert!(sweep().await.closed.is_empty());
        case.advance(Duration::days(30));
        assert!(sweep().await.closed.is_empty());

        let path = format!("/api/v1/applications/{}", case.id);
        let (_, view) = call(
            &case.app,
            "GET",
            &path,
            Some(&case.tokens["applicant"]),
            None,
        )
        .await;
        assert_eq!(view["case"]["status"], "closed", "{view}");
        assert_eq!(view["clocks"], json!([]), "{view}");
        let (_, history) = call(
            &case.app,
            "GET",
            &format!("{path}/history"),
            Some(&case.tokens["applicant"]),
            None,
        )
        .await;
        let events = history["events"].as_array().unwrap();
        let closed: Vec<&Value> = events
            .iter()
            .filter(|e| e["event"]["change"]["type"] == "closed_incomplete")
            .collect();
        assert_eq!(closed.len(), 1, "{history}");
        let closed = closed[0];
        assert_eq!(closed["event"]["actor"], "halsohub:deadline-sweep");
        assert_eq!(closed["event"]["change"]["deadline"], "2026-03-30");
        assert!(
            closed["why"].as_str().unwrap().contains("2026-03-30"),
            "{closed}"
        );
        // The applicants hear of it; a submission now is refused (final).
        let notes = case.db.case_notifications(&case.id).await.unwrap();
        assert!(
            notes.iter().any(|n| n.kind == "status_changed"
                && n.recipient.starts_with("user:")
                && n.body.contains("closed")),
            "{notes:?}"
        );
        let (s, v) = call(
            &case.app,
            "POST",
            &format!("{path}/commands"),
            Some(&case.tokens["applicant"]),
            Some(json!({"type": "submit"})),
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
    }
}

#[tokio::test]
async fn the_sweep_leaves_a_case_given_more_time_until_the_new_deadline() {
    for (db, _dir) in databases().await {
        let case = returned_incomplete(db).await;
        // Returned on Monday 2 March 2026 (last day 30 March); a case
        // officer grants until 15 April.
        case.cmd(
            "case_officer",
            json!({"type": "extend_completion", "until": "2026-04-15", "reasons": "The ethics board meets on 14 April."}),
        )
        .await;
        let sweep = || async {
            sweep_deadlines(&case.db, &AccessConfig::default(), case.now())
                .await
                .unwrap()
        };
        let set = |t: &str| {
            *case.clock.lock().unwrap() =
                DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        };
        // Past the statutory deadline, within the granted time: left open.
        set("2026-03-31T06:00:00Z");
        assert!(sweep().await.closed.is_empty());
        set("2026-04-15T20:00:00Z");
        assert!(sweep().await.closed.is_empty());
        // The day after the granted one: closed, that day in the reason; once.
        set("2026-04-16T06:00:00Z");
        assert_eq!(sweep().await.closed, vec![case.id.clone()]);
        assert!(sweep().await.closed.is_empty());
        let (_, history) = call(
            &case.app,
            "GET",
            &format!("/api/v1/applications/{}/history", case.id),
            Some(&case.tokens["applicant"]),
            None,
        )
        .await;
        let closed: Vec<&Value> = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"]["change"]["type"] == "closed_incomplete")
            .collect();
        assert_eq!(closed.len(), 1, "{history}");
        assert_eq!(closed[0]["event"]["change"]["deadline"], "2026-04-15");
        assert!(
            closed[0]["why"].as_str().unwrap().contains("2026-04-15"),
            "{history}"
        );
    }
}

#[tokio::test]
async fn the_deadline_sweep_queues_each_reminder_once() {
    for (db, _dir) in databases().await {
        let case = complete_case(db).await;
        // Completed 2026-03-02: the decision deadline is 2026-06-02.
        let (_, view) = call(
            &case.app,
            "GET",
            &format!("/api/v1/applications/{}", case.id),
            Some(&case.tokens["case_officer"]),
            None,
        )
        .await;
        let deadline = view["clocks"][0]["deadline"].as_str().unwrap().to_string();
        assert_eq!(view["clocks"][0]["kind"], "decision", "{view}");

        // Far from the deadline: nothing to say, however often asked.
        assert_eq!(case.sweep().await, 0);
        assert_eq!(case.sweep().await, 0);
        let before = case.outbox_kinds().await;
        assert!(!before.iter().any(|k| k == "deadline_near"));

        // Three working days before the deadline: "deadline near", to the
        // case officers and the decision makers, once.
        *case.clock.lock().unwrap() =
            DateTime::parse_from_rfc3339(&format!("{}T08:00:00Z", "2026-05-28"))
                .unwrap()
                .with_timezone(&Utc);
        let first = case.sweep().await;
        assert_eq!(first, 2, "one per recipient role");
        assert_eq!(case.sweep().await, 0);
        case.advance(Duration::hours(3));
        assert_eq!(case.sweep().await, 0);
        let near: Vec<_> = case
            .db
            .case_notifications(&case.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|n| n.kind == "deadline_near")
            .collect();
        assert_eq!(near.len(), 2);
        let mut recipients: Vec<&str> = near.iter().map(|n| n.recipient.as_str()).collect();
        recipients.sort_unstable();
        assert_eq!(recipients, ["role:case_officer", "role:decision_maker"]);
        assert!(near[0].subject.contains(&deadline), "{}", near[0].subject);

        // Past the deadline: "overdue", once.
        *case.clock.lock().unwrap() = DateTime::parse_from_rfc3339("2026-06-05T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(case.sweep().await, 2);
        assert_eq!(case.sweep().await, 0);
        let kinds = case.outbox_kinds().await;
        assert_eq!(kinds.iter().filter(|k| *k == "overdue").count(), 2);
        assert_eq!(kinds.iter().filter(|k| *k == "deadline_near").count(), 2);
    }
}

#[tokio::test]
async fn permit_expiry_ends_access_at_request_time_with_no_job() {
    for (db, _dir) in databases().await {
        let case = complete_case(db).await;
        case.cmd(
            "legal_reviewer",
            json!({"type": "record_legal_review", "findings": ["In order."], "recommendation": "approve"}),
        )
        .await;
        case.cmd(
            "data_steward",
            json!({"type": "record_technical_review", "findings": ["Feasible."], "recommendation": "approve"}),
        )
        .await;
        case.cmd(
            "decision_maker",
            json!({"type": "approve", "reasons": "Within the permitted purposes."}),
        )
        .await;
        let (_, me) = call(
            &case.app,
            "GET",
            "/api/v1/me",
            Some(&case.tokens["applicant"]),
            None,
        )
        .await;
        let today = case.now().date_naive();
        let v = case
            .cmd(
                "case_officer",
                json!({"type": "issue_permit", "terms": {
                    "data_categories": ["prescriptions"], "sources": ["prescribed_drug_register"],
                    "pseudonymisation": "project_pseudonyms", "authorised_users": [me["user"]["id"]],
                    "valid_from": today.to_string(),
                    "valid_until": (today + Duration::days(2)).to_string(),
                    "environment": "secure-workspace", "tools": ["R"], "conditions": []
                }}),
            )
            .await;
        let permit = v["case"]["permit"]["id"].as_str().unwrap().to_string();
        let path = format!("/api/v1/permits/{permit}");
        let get = |role: &'static str| {
            let (app, token, path) = (case.app.clone(), case.tokens[role].clone(), path.clone());
            async move { call(&app, "GET", &path, Some(&token), None).await }
        };
        let (s, p) = get("applicant").await;
        assert_eq!(s, StatusCode::OK, "{p}");
        assert_eq!(
            (p["active"].clone(), p["status"].clone()),
            (json!(true), json!("active"))
        );

        // Two days later it is still the last valid day; the day after, it
        // has expired — nothing ran in between, the answer is computed now.
        case.advance(Duration::days(2));
        assert_eq!(get("applicant").await.1["active"], true);
        case.advance(Duration::days(1));
        let (s, p) = get("applicant").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            (p["active"].clone(), p["status"].clone()),
            (json!(false), json!("expired"))
        );
        // Staff see the same.
        assert_eq!(get("case_officer").await.1["status"], "expired");
        // The stored row agrees at the same instant.
        assert!(case.db.active_permits(case.now()).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_periodic_sweep_runs_at_start_up_and_stops_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("s.db").display()
    ))
    .await
    .unwrap();
    let case = complete_case(db.clone()).await;
    // Two working days before the decision deadline (2026-06-02).
    *case.clock.lock().unwrap() = DateTime::parse_from_rfc3339("2026-05-29T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut state = AppState::new(db);
    let c = case.clock.clone();
    state.clock = Arc::new(move || *c.lock().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(halsohub_server::sweep_periodically(
        state,
        std::time::Duration::from_secs(3600),
        async move {
            let _ = rx.await;
        },
    ));
    // The first sweep runs at once, not after the first interval.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !case
        .outbox_kinds()
        .await
        .iter()
        .any(|k| k == "deadline_near")
    {
        assert!(std::time::Instant::now() < deadline, "no sweep at start-up");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tx.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("the sweeper stops when told")
        .unwrap();
    assert_eq!(
        case.outbox_kinds()
            .await
            .iter()
            .filter(|k| *k == "deadline_near")
            .count(),
        2
    );
}

#[tokio::test]
async fn a_token_never_outlives_its_creator_nor_the_maximum_lifetime() {
    for (db, _dir) in databases().await {
        let mut state = AppState::new(db.clone());
        state.config = Arc::new(halsohub_server::ServerConfig {
            max_token_lifetime: Some(Duration::days(30)),
            ..Default::default()
        });
        let app = router(state);
        let name = format!("user-{}", uuid::Uuid::new_v4().simple());
        let user = db
            .create_user(NewUser {
                username: name.clone(),
                password: Some("correct horse battery staple".into()),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let expiry = |v: &Value| -> DateTime<Utc> {
            v["token"]["expires_at"].as_str().unwrap().parse().unwrap()
        };
        let create = |bearer: String, body: Value| {
            let app = app.clone();
            async move { call(&app, "POST", "/api/v1/tokens", Some(&bearer), Some(body)).await }
        };

        // A token that expires in one day cannot create one that never
        // expires, nor one for a year: both end with their creator.
        let parent_end = Utc::now() + Duration::days(1);
        let (_, parent) = db
            .create_api_token(&user.id, "short", Some(parent_end))
            .await
            .unwrap();
        let (s, child) = create(parent.expose().into(), json!({"name": "forever"})).await;
        assert_eq!(s, StatusCode::CREATED, "{child}");
        assert!(expiry(&child) <= parent_end, "{child}");
        let (s, child) = create(
            parent.expose().into(),
            json!({"name": "year", "expires_in_days": 365}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        assert!(expiry(&child) <= parent_end);
        // … and the child's child is bounded as well.
        let (s, grandchild) = create(
            child["secret"].as_str().unwrap().into(),
            json!({"name": "grandchild"}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
        assert!(expiry(&grandchild) <= parent_end);
        // A shorter request stands.
        let (_, long) = db.create_api_token(&user.id, "long", None).await.unwrap();
        let (_, short) = create(
            long.expose().into(),
            json!({"name": "short", "expires_in_days": 2}),
        )
        .await;
        let end = expiry(&short);
        assert!(end > Utc::now() + Duration::days(2) - Duration::minutes(1));
        assert!(end <= Utc::now() + Duration::days(2));

        // From a token without expiry: the administrator's maximum applies.
        let (_, unbounded) = create(long.expose().into(), json!({"name": "max"})).await;
        assert!(expiry(&unbounded) <= Utc::now() + Duration::days(30));
        assert!(expiry(&unbounded) > Utc::now() + Duration::days(30) - Duration::minutes(1));

        // From a web session (8 hours): no later than the session.
        let (_, login) = call(
            &app,
            "POST",
            "/api/v1/sessions",
            None,
            Some(json!({"username": name, "password": "correct horse battery staple"})),
        )
        .await;
        let session_end: DateTime<Utc> = login["session"]["expires_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let (s, from_session) = create(
            login["token"].as_str().unwrap().into(),
            json!({"name": "portal", "expires_in_days": 90}),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{from_session}");
        assert!(expiry(&from_session) <= session_end);

        // The maximum applies to every token, also one stored without
        // expiry, counted from its creation: a server whose maximum is
        // already over refuses it.
        let mut state = AppState::new(db.clone());
        state.config = Arc::new(halsohub_server::ServerConfig {
            max_token_lifetime: Some(Duration::milliseconds(1)),
            ..Default::default()
        });
        let strict_app = router(state);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert_eq!(
            call(&strict_app, "GET", "/api/v1/me", Some(long.expose()), None)
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            call(&app, "GET", "/api/v1/me", Some(long.expose()), None)
                .await
                .0,
            StatusCode::OK
        );
    }
}
