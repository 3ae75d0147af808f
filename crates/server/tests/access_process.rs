//! Issue 12 through the API: each defect found when the access process was
//! walked end to end, replayed, with the documented behaviour. On SQLite
//! and (when HALSOHUB_TEST_DATABASE_URL is set) PostgreSQL.

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
    ids: BTreeMap<&'static str, String>,
    org: String,
    clock: Arc<Mutex<DateTime<Utc>>>,
    _dir: Option<tempfile::TempDir>,
}

/// Users: applicant and bertil (a member holding no case role) in Uppsala
/// universitet; staff in the hub; a stranger applicant in Lunds universitet.
async fn hub(db: Db, dir: Option<tempfile::TempDir>) -> Hub {
    let uni = db.create_organisation("Uppsala universitet").await.unwrap();
    let staff = db.create_organisation("Hälsohubben").await.unwrap();
    let lund = db.create_organisation("Lunds universitet").await.unwrap();
    let mut tokens = BTreeMap::new();
    let mut ids = BTreeMap::new();
    for (name, org, role) in [
        ("applicant", &uni.id, "applicant"),
        ("bertil", &uni.id, "administrator"),
        ("stranger", &lund.id, "applicant"),
        ("case_officer", &staff.id, "case_officer"),
        ("officer2", &staff.id, "case_officer"),
        ("legal_reviewer", &staff.id, "legal_reviewer"),
        ("data_steward", &staff.id, "data_steward"),
        ("decision_maker", &staff.id, "decision_maker"),
        ("auditor", &staff.id, "auditor"),
    ] {
        let u = db
            .create_user(NewUser {
                username: name.replace('_', "-"),
                display_name: format!("{name} person"),
                ..NewUser::default()
            })
            .await
            .unwrap();
        db.grant_role(&u.id, org, role).await.unwrap();
        let (_, secret) = db.create_api_token(&u.id, "test", None).await.unwrap();
        tokens.insert(name, secret.expose().to_string());
        ids.insert(name, u.id);
    }
    // Monday 2 March 2026, 09:00 UTC.
    let clock = Arc::new(Mutex::new(
        DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
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
        ids,
        org: uni.id,
        clock,
        _dir: dir,
    }
}

fn cohort() -> Value {
    json!({"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis",
        "codes": [{"system": "icd10se", "codes": ["I21"]}]}}}], "output": {"type": "count"}})
}

impl Hub {
    fn advance(&self, d: Duration) {
        *self.clock.lock().unwrap() += d;
    }

    fn today(&self) -> chrono::NaiveDate {
        self.clock.lock().unwrap().date_naive()
    }

    fn content(&self, members: &[&str]) -> Value {
        let members: Vec<&str> = members.iter().map(|m| self.ids[m].as_str()).collect();
        json!({
            "title": "Heart failure after myocardial infarction in Uppsala",
            "summary": "A register study of heart failure incidence.",
            "purpose": "scientific_research",
            "legal_basis": "public_task",
            "ethics_reference": "Dnr 2025-01234-01",
            "organisation": self.org,
            "members": members,
            "datasets": [{"dataset": "patient_register_inpatient", "variables": ["admission_date"]}],
            "cohort": cohort(),
            "period": {"from": "2015-01-01", "until": "2024-12-31"},
            "form": "pseudonymised_workspace",
            "attachments": []
        })
    }

    /// A public CSV, fetched without a token: its text (the status must be 200).
    async fn public_csv(&self, path: &str) -> String {
        let (s, _, csv) = self.raw("GET", path, None, None, vec![], &[]).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        csv.as_str().unwrap().to_string()
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        who: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(w) = who {
            req = req.header("authorization", format!("Bearer {}", self.tokens[w]));
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, headers, v)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        who: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (s, _, v) = match body {
            Some(b) => {
                self.raw(
                    method,
                    path,
                    Some(who),
                    Some("application/json"),
                    b.to_string().into_bytes(),
                    &[],
                )
                .await
            }
            None => {
                self.raw(method, path, Some(who), None, Vec::new(), &[])
                    .await
            }
        };
        (s, v)
    }

    async fn cmd(&self, case: &str, who: &str, cmd: Value) -> (StatusCode, Value) {
        self.call(
            "POST",
            &format!("/api/v1/applications/{case}/commands"),
            who,
            Some(cmd),
        )
        .await
    }

    async fn ok(&self, case: &str, who: &str, cmd: Value) -> Value {
        let (s, v) = self.cmd(case, who, cmd.clone()).await;
        assert_eq!(s, StatusCode::OK, "{who} {cmd}: {v}");
        v
    }

    async fn draft(&self, content: Value) -> String {
        let (s, v) = self
            .call("POST", "/api/v1/applications", "applicant", Some(content))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["case"]["id"].as_str().unwrap().to_string()
    }

    async fn upload(&self, case: &str, name: &str, ct: &str, bytes: &[u8]) -> (StatusCode, Value) {
        let (s, _, v) = self
            .raw(
                "POST",
                &format!("/api/v1/applications/{case}/attachments?name={name}"),
                Some("applicant"),
                Some(ct),
                bytes.to_vec(),
                &[],
            )
            .await;
        (s, v)
    }

    /// A draft submitted and accepted as complete.
    async fn under_review(&self) -> String {
        let case = self.draft(self.content(&["applicant", "bertil"])).await;
        self.ok(&case, "applicant", json!({"type": "submit"})).await;
        self.ok(
            &case,
            "case_officer",
            json!({"type": "start_completeness_check"}),
        )
        .await;
        self.ok(&case, "case_officer", json!({"type": "accept_complete"}))
            .await;
        case
    }
}

fn fields(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn deadlines_are_enforced() {
    for (db, dir) in databases().await {
        let h = hub(db, dir).await;
        // A new submission is in the queue with its completeness clock.
        let case = h.draft(h.content(&["applicant"])).await;
        h.ok(&case, "applicant", json!({"type": "submit"})).await;
        let (s, q) = h.call("GET", "/api/v1/queue", "case_officer", None).await;
        assert_eq!(s, StatusCode::OK, "{q}");
        assert_eq!(q["queue"][0]["case_id"], case.as_str(), "{q}");
        assert_eq!(q["queue"][0]["clock"]["kind"], "completeness_check");
        assert_eq!(q["queue"][0]["waiting_for"], json!(["case_officer"]));

        // Returned as incomplete on 2 March: the last day is 30 March.
        h.ok(
            &case,
            "case_officer",
            json!({"type": "start_completeness_check"}),
        )
        .await;
        h.ok(
            &case,
            "case_officer",
            json!({"type": "return_incomplete",
            "missing": [{"field": "ethics_reference", "problem": "for another study"}]}),
        )
        .await;
        h.advance(Duration::days(29));
        // A late completion is closed as incomplete, with the reason.
        let v = h.ok(&case, "applicant", json!({"type": "submit"})).await;
        assert_eq!(v["case"]["status"], "closed", "{v}");
        assert_eq!(v["events"][0]["change"]["type"], "closed_incomplete");
        assert!(
            v["events"][0]["change"]["reason"]
                .as_str()
                .unwrap()
                .contains("2026-03-30"),
            "{v}"
        );

        // Unless a case officer grants more time, with reasons.
        let case = h.draft(h.content(&["applicant"])).await;
        h.ok(&case, "applicant", json!({"type": "submit"})).await;
        h.ok(
            &case,
            "case_officer",
            json!({"type": "start_completeness_check"}),
        )
        .await;
        h.ok(
            &case,
            "case_officer",
            json!({"type": "return_incomplete",
            "missing": [{"field": "summary", "problem": "too short"}]}),
        )
        .await;
        h.advance(Duration::days(20));
        let until = (h.today() + Duration::days(30)).to_string();
        let (s, v) = h
            .cmd(
                &case,
                "case_officer",
                json!({"type": "extend_completion", "until": until}),
            )
            .await;
        assert_eq!(
            s,
            StatusCode::UNPROCESSABLE_ENTITY,
            "reasons are mandatory: {v}"
        );
        let v = h
            .ok(
                &case,
                "case_officer",
                json!({"type": "extend_completion", "until": until,
                "reasons": "The ethics board meets next month."}),
            )
            .await;
        assert_eq!(v["clocks"][0]["deadline"], until.as_str(), "{v}");
        h.advance(Duration::days(15));
        let v = h.ok(&case, "applicant", json!({"type": "submit"})).await;
        assert_eq!(v["case"]["status"], "submitted");

        // The decision period: extended with reasons, at most 3 months.
        let case = h.under_review().await;
        let (s, v) = h
            .cmd(
                &case,
                "decision_maker",
                json!({"type": "extend_decision_period", "months": 4,
                "reasons": "Complex linkage."}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(fields(&v), vec!["months"]);
        let before = h
            .call(
                "GET",
                &format!("/api/v1/applications/{case}"),
                "case_officer",
                None,
            )
            .await
            .1;
        let v = h
            .ok(
                &case,
                "decision_maker",
                json!({"type": "extend_decision_period", "months": 3,
                "reasons": "Linkage of four registers needs the holders' review."}),
            )
            .await;
        assert_eq!(v["clocks"][0]["extended_months"], 3);
        assert_ne!(v["clocks"][0]["deadline"], before["clocks"][0]["deadline"]);
    }
}

#[tokio::test]
async fn permits_are_validated_and_members_read_them() {
    for (db, dir) in databases().await {
        let h = hub(db, dir).await;
        // A stranger (another organisation) and a made-up id: refused at submit.
        let mut c = h.content(&["applicant", "stranger"]);
        c["members"]
            .as_array_mut()
            .unwrap()
            .push(json!("00000000-0000-4000-8000-000000000000"));
        let case = h.draft(c).await;
        let (s, v) = h.cmd(&case, "applicant", json!({"type": "submit"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(fields(&v), vec!["members[1]", "members[2]"], "{v}");

        let case = h.under_review().await;
        h.ok(
            &case,
            "legal_reviewer",
            json!({"type": "record_legal_review", "findings": ["ok"], "recommendation": "approve"}),
        )
        .await;
        h.ok(&case, "data_steward", json!({"type": "record_technical_review", "findings": ["ok"], "recommendation": "approve"})).await;
        h.ok(
            &case,
            "decision_maker",
            json!({"type": "approve", "reasons": "In order."}),
        )
        .await;
        let terms = |from: String, until: String| {
            json!({"type": "issue_permit", "terms": {
                "data_categories": ["diagnoses"], "sources": ["patient_register"],
                "pseudonymisation": "project_pseudonyms",
                "authorised_users": [h.ids["applicant"], h.ids["bertil"]],
                "valid_from": from, "valid_until": until,
                "environment": "secure-workspace", "tools": ["R"], "conditions": []}})
        };
        let today = h.today();
        let (s, v) = h
            .cmd(
                &case,
                "case_officer",
                terms((today + Duration::days(1)).to_string(), "2099-12-31".into()),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(fields(&v), vec!["valid_until"]);
        let (s, v) = h
            .cmd(
                &case,
                "case_officer",
                terms(
                    (today - Duration::days(30)).to_string(),
                    (today + Duration::days(30)).to_string(),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(fields(&v), vec!["valid_from"]);
        let v = h
            .ok(
                &case,
                "case_officer",
                terms(today.to_string(), (today + Duration::days(365)).to_string()),
            )
            .await;
        let permit = v["case"]["permit"]["id"].as_str().unwrap().to_string();
        // Bertil holds no role that reads permits, but is named in it.
        let (s, p) = h
            .call("GET", &format!("/api/v1/permits/{permit}"), "bertil", None)
            .await;
        assert_eq!(s, StatusCode::OK, "{p}");
        let (s, _) = h
            .call(
                "GET",
                &format!("/api/v1/permits/{permit}"),
                "stranger",
                None,
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn submit_validates_the_application() {
    for (db, dir) in databases().await {
        let h = hub(db, dir).await;
        let mut c = h.content(&["applicant"]);
        c["cohort"] = json!({"hello": "world"});
        c["datasets"] = json!([{"dataset": "no_such_register", "variables": ["x"]}]);
        let case = h.draft(c).await;
        let (s, v) = h.cmd(&case, "applicant", json!({"type": "submit"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        // Both at once: the unknown dataset (the domain's rule) and the
        // cohort (checked by the feasibility parser).
        let f = fields(&v);
        assert_eq!(f[0], "datasets[0].dataset", "{v}");
        assert!(
            f.len() > 1 && f[1..].iter().all(|f| f.starts_with("cohort")),
            "{v}"
        );
        // With the dataset right, the cohort alone is refused.
        let mut c = h.content(&["applicant"]);
        c["cohort"] = json!({"hello": "world"});
        h.ok(
            &case,
            "applicant",
            json!({"type": "update_draft", "content": c}),
        )
        .await;
        let (s, v) = h.cmd(&case, "applicant", json!({"type": "submit"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(fields(&v).iter().all(|f| f.starts_with("cohort")), "{v}");

        // Unknown fields at command level: 422, one entry naming the field.
        let (s, v) = h
            .cmd(
                &case,
                "applicant",
                json!({"type": "withdraw", "reason": "x", "urgent": true}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["errors"].as_array().unwrap().len(), 1, "{v}");
        let (s, v) = h
            .cmd(&case, "applicant", json!({"type": "submit", "force": true}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(fields(&v), vec!["force"]);
        // And in the content.
        let mut c = h.content(&["applicant"]);
        c["colour"] = json!("blue");
        let (s, v) = h
            .call("POST", "/api/v1/applications", "applicant", Some(c))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["errors"].as_array().unwrap().len(), 1, "{v}");

        // Control and bidi characters in text.
        let mut c = h.content(&["applicant"]);
        c["title"] = json!("Study \u{202E}txt.exe");
        let (s, v) = h
            .call("POST", "/api/v1/applications", "applicant", Some(c))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(fields(&v), vec!["title"]);
    }
}

#[tokio::test]
async fn one_submit_reports_every_problem_at_once() {
    for (db, dir) in databases().await {
        let h = hub(db, dir).await;
        // Four kinds of problem in one draft: a required field missing and
        // a dataset the hub does not have (the domain's rules), a member of
        // another organisation and a cohort that is no query (checks that
        // need the database and the query parser).
        let mut c = h.content(&["applicant", "stranger"]);
        c["ethics_reference"] = Value::Null;
        c["datasets"] = json!([
            {"dataset": "patient_register_inpatient", "variables": ["admission_date"]},
            {"dataset": "no_such_register", "variables": ["x"]}
        ]);
        c["cohort"] = json!({"version": 1, "criteria": "everyone"});
        let case = h.draft(c).await;
        let (s, v) = h.cmd(&case, "applicant", json!({"type": "submit"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let f = fields(&v);
        for expected in ["ethics_reference", "datasets[1].dataset", "members[1]"] {
            assert!(f.iter().any(|x| x == expected), "{expected} missing: {v}");
        }
        assert!(f.iter().any(|x| x.starts_with("cohort")), "{v}");
        // One entry per field and problem, no repeats.
        let mut unique: Vec<(String, String)> = v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].to_string(), e["problem"].to_string()))
            .collect();
        let n = unique.len();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), n, "{v}");
        // Nothing was submitted.
        let (_, view) = h
            .call(
                "GET",
                &format!("/api/v1/applications/{case}"),
                "applicant",
                None,
            )
            .await;
        assert_eq!(view["case"]["status"], "draft", "{view}");

        // A refusal of another kind comes alone: a case officer may not
        // submit (403), whatever the content holds.
        let (s, v) = h
            .cmd(&case, "case_officer", json!({"type": "submit"}))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        assert!(v["errors"].is_null(), "{v}");
    }
}

#[tokio::test]
async fn attachments_work_in_every_state_that_asks_for_documents() {
    for (db, dir) in databases().await {
        let h = hub(db, dir).await;
        let case = h.draft(h.content(&["applicant"])).await;
        // Bytes not of the declared type are refused.
        let (s, v) = h
            .upload(
                &case,
                "protocol.pdf",
                "application/pdf",
                b"MZ\x90\x00\x03 executable",
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        // Media-type parameters are accepted.
        let (s, v) = h
            .upload(
                &case,
                "notes.txt",
                "text/plain; charset=utf-8",
                "Anteckningar\n".as_bytes(),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let notes = v["attachment"].clone();
        // A file never uploaded cannot be named.
        let mut c = h.content(&["applicant"]);
        c["attachments"] = json!([{"name": "ghost.pdf", "media_type": "application/pdf", "size": 10,
            "sha256": "ab".repeat(32)}]);
        let (s, v) = h
            .cmd(
                &case,
                "applicant",
                json!({"type": "update_draft", "content": c}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(fields(&v), vec!["content.attachments[0]"]);
        // Deletable in a draft: gone from the content and the list.
        let path = format!(
            "/api/v1/applications/{case}/attachments/{}",
            notes["id"].as_str().unwrap()
        );
        let (s, v) = h.call("DELETE", &path, "applicant", None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["attachments"], json!([]));
        let (_, list) = h
            .call(
                "GET",
                &format!("/api/v1/applications/{case}/attachments"),
                "applicant",
                None,
            )
            .await;
        assert_eq!(list["attachments"], json!([]));
        let (_, view) = h
            .call(
                "GET",
                &format!("/api/v1/applications/{case}"),
                "applicant",
                None,
            )
            .await;
        assert_eq!(view["case"]["content"]["attachments"], json!([]));

        // While the hub waits for the applicant, a requested document can be sent.
        let case = h.under_review().await;
        h.ok(
            &case,
            "legal_reviewer",
            json!({"type": "request_information", "questions": "Send the ethics decision."}),
        )
        .await;
        let (s, v) = h
            .upload(&case, "ethics.pdf", "application/pdf", b"%PDF-1.7 decision")
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let a = &v["attachment"];
        let v = h
            .ok(
                &case,
                "applicant",
                json!({"type": "provide_information", "answer": "Attached.",
                "attachments": [{"name": "ethics.pdf", "media_type": "application/pdf",
                    "size": a["size_bytes"], "sha256": a["sha256"]}]}),
            )
            .await;
        assert_eq!(v["case"]["status"], "under_review");
        // The answer went to the reviewer who asked, not to every officer.
        let outbox = h.db.case_notifications(&case).await.unwrap();
        let answer_to: Vec<String> = outbox
            .iter()
            .filter(|n| n.subject.contains("under_review") || n.kind == "status_changed")
            .map(|n| n.recipient.clone())
            .collect();
        assert!(
            answer_to.contains(&format!("user:{}", h.ids["legal_reviewer"])),
            "{answer_to:?}"
        );
    }
}

#[tokio::test]
async fn work_is_visible() {
    for (db, dir) in databases().await {
        let h = hub(db, dir).await;
        // An unsubmitted draft is the applicants' own.
        let draft = h.draft(h.content(&["applicant"])).await;
        let (_, list) = h
            .call("GET", "/api/v1/applications", "case_officer", None)
            .await;
        assert_eq!(list["total"], 0, "{list}");
        let (s, _) = h
            .call(
                "GET",
                &format!("/api/v1/applications/{draft}"),
                "auditor",
                None,
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (_, list) = h
            .call("GET", "/api/v1/applications", "applicant", None)
            .await;
        assert_eq!(list["total"], 1);
        // Summaries, not whole cases; organisations by name.
        let item = &list["applications"][0];
        assert!(item.get("content").is_none(), "{item}");
        assert_eq!(list["names"][&h.org], "Uppsala universitet", "{list}");

        let a = h.under_review().await;
        let b = h.under_review().await;
        // Filter by state and paging.
        let (_, l) = h
            .call(
                "GET",
                "/api/v1/applications?status=under_review&per_page=1&page=2",
                "case_officer",
                None,
            )
            .await;
        assert_eq!(
            (
                l["total"].as_u64(),
                l["applications"].as_array().unwrap().len()
            ),
            (Some(2), 1),
            "{l}"
        );
        assert_eq!(l["applications"][0]["case_id"], b.as_str());
        let (s, v) = h
            .call(
                "GET",
                "/api/v1/applications?status=bogus",
                "case_officer",
                None,
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        // Assignment: mine and unassigned.
        h.ok(
            &a,
            "legal_reviewer",
            json!({"type": "assign", "assignee": h.ids["legal_reviewer"]}),
        )
        .await;
        let (_, mine) = h
            .call("GET", "/api/v1/queue?assigned=mine", "legal_reviewer", None)
            .await;
        assert_eq!(mine["total"], 1, "{mine}");
        assert_eq!(mine["queue"][0]["case_id"], a.as_str());
        assert_eq!(
            mine["names"][&h.ids["legal_reviewer"]],
            "legal_reviewer person"
        );
        let (_, free) = h
            .call(
                "GET",
                "/api/v1/queue?assigned=unassigned&role=legal_reviewer",
                "legal_reviewer",
                None,
            )
            .await;
        assert_eq!(free["total"], 1, "{free}");
        assert_eq!(free["queue"][0]["case_id"], b.as_str());

        // Names in the case view and history; ids stay in the data.
        let (s, hd, view) = h
            .raw(
                "GET",
                &format!("/api/v1/applications/{a}"),
                Some("case_officer"),
                None,
                vec![],
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(view["names"][&h.ids["applicant"]], "applicant person");
        assert_eq!(view["case"]["created_by"], h.ids["applicant"].as_str());
        let (_, hist) = h
            .call(
                "GET",
                &format!("/api/v1/applications/{a}/history"),
                "auditor",
                None,
            )
            .await;
        assert_eq!(hist["names"][&h.ids["case_officer"]], "case_officer person");

        // ETag on reads, If-Match takes it (and *); a stale one is refused.
        let etag = hd["etag"].to_str().unwrap().to_string();
        assert_eq!(etag, format!("\"{}\"", view["case"]["version"]));
        let body =
            json!({"type": "record_legal_review", "findings": ["ok"], "recommendation": "approve"})
                .to_string();
        let path = format!("/api/v1/applications/{a}/commands");
        let (s, hd2, v) = h
            .raw(
                "POST",
                &path,
                Some("legal_reviewer"),
                Some("application/json"),
                body.clone().into_bytes(),
                &[("if-match", &etag)],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_ne!(hd2["etag"].to_str().unwrap(), etag);
        let (s, _, v) = h
            .raw(
                "POST",
                &path,
                Some("legal_reviewer"),
                Some("application/json"),
                body.clone().into_bytes(),
                &[("if-match", &etag)],
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        let (s, _, v) = h
            .raw(
                "POST",
                &path,
                Some("legal_reviewer"),
                Some("application/json"),
                body.into_bytes(),
                &[("if-match", "*")],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
}

#[tokio::test]
async fn public_figures_come_from_published_decisions_only() {
    for (db, dir) in databases().await {
        let h = hub(db, dir).await;
        let case = h.under_review().await;
        h.ok(
            &case,
            "legal_reviewer",
            json!({"type": "record_legal_review", "findings": ["ok"], "recommendation": "approve"}),
        )
        .await;
        h.ok(&case, "data_steward", json!({"type": "record_technical_review", "findings": ["ok"], "recommendation": "approve"})).await;
        h.advance(Duration::days(10));
        h.ok(&case, "decision_maker", json!({"type": "reject", "reasons": "Purpose \"outside\", Art. 53; data not minimised."})).await;
        let (_, lt) = h
            .call("GET", "/api/v1/public/lead-times", "auditor", None)
            .await;
        assert_eq!(lt["figures"], json!([]), "not published yet: {lt}");
        h.ok(&case, "case_officer", json!({"type": "publish"}))
            .await;
        let (_, lt) = h
            .call("GET", "/api/v1/public/lead-times", "auditor", None)
            .await;
        assert!(!lt["figures"].as_array().unwrap().is_empty());

        let csv = h.public_csv("/api/v1/public/register.csv").await;
        let mut lines = csv.lines();
        let header = lines.next().unwrap();
        // The columns in the order docs/access.md lists them.
        assert_eq!(
            header.split(',').collect::<Vec<_>>(),
            documented_columns(
                "`register.csv` has one plain value per column",
                "many were decided)"
            ),
            "{header}"
        );
        let row = lines.next().unwrap();
        assert!(row.contains("Uppsala universitet"), "{row}");
        assert!(!row.contains(&h.org), "organisation by name, not id: {row}");
        assert!(
            !row.contains('{') && !row.contains('['),
            "no JSON in a column: {row}"
        );
        let csv = h.public_csv("/api/v1/public/lead-times.csv").await;
        assert_eq!(
            csv.lines().next().unwrap().split(',').collect::<Vec<_>>(),
            documented_columns("Each figure gives", "overall stages)"),
            "{csv}"
        );
    }
}

#[tokio::test]
async fn an_empty_register_csv_still_has_its_header() {
    let (db, dir) = databases().await.swap_remove(0);
    let h = hub(db, dir).await;
    let csv = h.public_csv("/api/v1/public/register.csv").await;
    assert_eq!(csv.lines().count(), 1, "{csv}");
    assert!(
        csv.starts_with("case_id,organisation,project_title,"),
        "{csv}"
    );
}

/// The column names (`snake_case` in backticks) docs/access.md lists in
/// the passage from `start` to `end`, in order.
fn documented_columns(start: &str, end: &str) -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/access.md"))
        .unwrap();
    let from = doc
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in docs/access.md"));
    let passage = &doc[from..];
    let passage = &passage[..passage
        .find(end)
        .unwrap_or_else(|| panic!("{end:?} not in docs/access.md"))];
    passage
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn every_body_over_the_limit_gets_a_413_stating_the_limit() {
    let (db, dir) = databases().await.swap_remove(0);
    let h = hub(db, dir).await;
    let case = h.draft(h.content(&["applicant"])).await;
    let limit = halsohub_server::ServerConfig::default().max_json_bytes;
    // Valid JSON, one byte over the limit.
    let mut big = br#"{"type": "withdraw", "reason": ""#.to_vec();
    big.resize(limit - 1, b'x');
    big.extend_from_slice(br#""}"#);
    assert_eq!(big.len(), limit + 1);
    for (path, who) in [
        (format!("/api/v1/applications/{case}/commands"), "applicant"),
        ("/api/v1/applications".to_string(), "applicant"),
        ("/api/v1/feasibility".to_string(), "applicant"),
    ] {
        let (s, headers, v) = h
            .raw(
                "POST",
                &path,
                Some(who),
                Some("application/json"),
                big.clone(),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {v}");
        assert_eq!(
            headers["content-type"], "application/problem+json",
            "{path}"
        );
        assert_eq!(v["status"], 413, "{path}: {v}");
        assert!(v["type"].as_str().unwrap().ends_with("/too-large"), "{v}");
        assert!(
            v["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("{limit} bytes")),
            "{path}: the limit is stated: {v}"
        );
    }
    // At the limit the body is read (and judged on its content).
    let mut fits = br#"{"type": "withdraw", "reason": ""#.to_vec();
    fits.resize(limit - 2, b'x');
    fits.extend_from_slice(br#""}"#);
    let (s, _, v) = h
        .raw(
            "POST",
            &format!("/api/v1/applications/{case}/commands"),
            Some("applicant"),
            Some("application/json"),
            fits,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}

#[tokio::test]
async fn a_member_from_another_organisation_is_invited_and_accepts_before_being_named() {
    for (db, dir) in databases().await {
        let h = hub(db, dir).await;
        let stranger = h.ids["stranger"].clone();
        let case = h.draft(h.content(&["applicant", "stranger"])).await;
        let path = format!("/api/v1/applications/{case}");
        // Named without an invitation: refused at submit, saying how to
        // invite them.
        let (s, v) = h.cmd(&case, "applicant", json!({"type": "submit"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(fields(&v), vec!["members[1]"], "{v}");
        assert!(v.to_string().contains("invite_member"), "{v}");
        // The stranger cannot read the draft before being invited.
        let (s, _) = h.call("GET", &path, "stranger", None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        // Only hub users from outside the organisation are invited.
        let (s, v) = h
            .cmd(
                &case,
                "applicant",
                json!({"type": "invite_member", "user": "00000000-0000-4000-8000-000000000000"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(fields(&v), vec!["user"]);
        let (s, v) = h
            .cmd(
                &case,
                "applicant",
                json!({"type": "invite_member", "user": h.ids["bertil"]}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(v.to_string().contains("directly"), "{v}");
        let (s, v) = h
            .cmd(
                &case,
                "applicant",
                json!({"type": "invite_member", "user": stranger, "role": "x"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "unknown field: {v}");

        let v = h
            .ok(
                &case,
                "applicant",
                json!({"type": "invite_member", "user": stranger}),
            )
            .await;
        assert_eq!(v["events"][0]["change"]["type"], "member_invited", "{v}");
        assert_eq!(v["case"]["invitations"][0]["status"], "pending", "{v}");
        let (s, v) = h
            .cmd(
                &case,
                "applicant",
                json!({"type": "invite_member", "user": stranger}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "already pending: {v}");
        // The invitee hears of it and reads the application.
        let notes = h.db.case_notifications(&case).await.unwrap();
        assert!(
            notes
                .iter()
                .any(|n| n.kind == "invited" && n.recipient == format!("user:{stranger}")),
            "{notes:?}"
        );
        let (s, v) = h.call("GET", &path, "stranger", None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["names"][stranger.as_str()], "stranger person", "{v}");
        // Pending: still not a member who may be named.
        let (s, v) = h.cmd(&case, "applicant", json!({"type": "submit"})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        // Nobody answers for the invitee.
        let (s, v) = h
            .cmd(
                &case,
                "applicant",
                json!({"type": "answer_invitation", "accept": true}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");

        // The invitee accepts, with their own token.
        let v = h
            .ok(
                &case,
                "stranger",
                json!({"type": "answer_invitation", "accept": true}),
            )
            .await;
        assert_eq!(v["events"][0]["change"]["type"], "invitation_answered");
        assert_eq!(v["events"][0]["actor"], stranger.as_str());
        assert_eq!(v["case"]["invitations"][0]["status"], "accepted", "{v}");
        let notes = h.db.case_notifications(&case).await.unwrap();
        assert!(
            notes.iter().any(|n| n.kind == "invitation_answered"
                && n.recipient == format!("user:{}", h.ids["applicant"])),
            "{notes:?}"
        );
        // Answered once only.
        let (s, v) = h
            .cmd(
                &case,
                "stranger",
                json!({"type": "answer_invitation", "accept": false}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        // Now the application may name them.
        let v = h.ok(&case, "applicant", json!({"type": "submit"})).await;
        assert_eq!(v["case"]["status"], "submitted", "{v}");
        // The history records both steps.
        let (_, history) = h
            .call("GET", &format!("{path}/history"), "applicant", None)
            .await;
        let types: Vec<&str> = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"]["change"]["type"].as_str().unwrap())
            .collect();
        assert!(
            types
                .windows(2)
                .any(|w| w == ["member_invited", "invitation_answered"]),
            "{types:?}"
        );
    }
}
