//! The access process end to end through the real binary: accounts with
//! `halsohub user add` (password on stdin, roles) and `halsohub token
//! create`, `halsohub serve` on a free port, a scripted case from draft to
//! permit over HTTP with the right role at each step and a refusal for a
//! wrong one, the public register (the decision, no personal data), and
//! `halsohub cases queue|show|sweep`.
//!
//! Runs against SQLite in the hub home, and also against PostgreSQL when
//! HALSOHUB_TEST_DATABASE_URL is set (in a fresh schema when `psql` can
//! create one, else the default schema with unique names).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::{Hub, Server, free_addr};
use serde_json::{Value, json};

/// Drops a PostgreSQL schema made for the test (best effort).
struct Schema {
    base: String,
    name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args([
                &self.base,
                "-q",
                "-c",
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
            ])
            .output();
    }
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}{nanos}", std::process::id())
}

/// One database to run against: its URL (None = the hub's SQLite default).
struct Target {
    url: Option<String>,
    _schema: Option<Schema>,
}

fn targets() -> Vec<Target> {
    let mut out = vec![Target {
        url: None,
        _schema: None,
    }];
    match std::env::var("HALSOHUB_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => {
            let name = format!("e2e_{}", unique());
            let made = std::process::Command::new("psql")
                .args([&base, "-q", "-c", &format!("CREATE SCHEMA {name}")])
                .output()
                .is_ok_and(|o| o.status.success());
            if made {
                let sep = if base.contains('?') { '&' } else { '?' };
                out.push(Target {
                    url: Some(format!("{base}{sep}options[search_path]={name}")),
                    _schema: Some(Schema { base, name }),
                });
            } else {
                eprintln!("NOTICE: psql could not create a schema; using unique names");
                out.push(Target {
                    url: Some(base),
                    _schema: None,
                });
            }
        }
        _ => eprintln!("NOTICE: HALSOHUB_TEST_DATABASE_URL is not set; PostgreSQL variant skipped"),
    }
    out
}

fn run(hub: &Hub, t: &Target, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = hub.cmd();
    if let Some(u) = &t.url {
        c.env("HALSOHUB_DATABASE", u);
    } else {
        c.env_remove("HALSOHUB_DATABASE");
    }
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        let mut w = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            w.write_all(s.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "halsohub {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// One HTTP/1.1 request with a JSON body; the status and the body as JSON.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let body = body.map(Value::to_string);
    common::http(addr, method, path, token, body.as_deref())
}

fn start(hub: &Hub, t: &Target, addr: SocketAddr) -> Server {
    let err_path = hub.path(&format!("serve-{}.err", addr.port()));
    let err = std::fs::File::create(&err_path).unwrap();
    let mut c = hub.cmd();
    if let Some(u) = &t.url {
        c.env("HALSOHUB_DATABASE", u);
    } else {
        c.env_remove("HALSOHUB_DATABASE");
    }
    let child = c
        .args([
            "serve",
            "--listen",
            &addr.to_string(),
            "--sweep-interval",
            "1m",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap();
    let mut server = Server(child, err_path);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if TcpStream::connect(addr).is_ok() {
            return server;
        }
        if let Some(status) = server.0.try_wait().unwrap() {
            let err = std::fs::read_to_string(&server.1).unwrap_or_default();
            panic!("the server exited with {status}:\n{err}");
        }
        assert!(
            Instant::now() < deadline,
            "the server did not listen in time"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs a command on the case as `token`, expecting 200.
fn step(addr: SocketAddr, case: &str, token: &str, cmd: Value) -> Value {
    let (s, v) = http(
        addr,
        "POST",
        &format!("/api/v1/applications/{case}/commands"),
        Some(token),
        Some(&cmd),
    );
    assert_eq!(s, 200, "{cmd}: {v}");
    v
}

/// The same command as a wrong role: 403 problem+json.
fn refused(addr: SocketAddr, case: &str, token: &str, cmd: Value) {
    let (s, v) = http(
        addr,
        "POST",
        &format!("/api/v1/applications/{case}/commands"),
        Some(token),
        Some(&cmd),
    );
    assert_eq!(s, 403, "{cmd} must be refused: {v}");
    assert_eq!(v["status"], 403);
}

#[test]
fn a_case_from_draft_to_permit_through_the_binary() {
    for t in targets() {
        let hub = Hub::new();
        let sfx = unique();
        let uni = format!("Karolinska Institutet {sfx}");
        let staff_org = format!("Hälsohubben {sfx}");
        let name = |r: &str| format!("{r}-{sfx}");

        // Accounts: the applicant with a password, staff with API tokens.
        let out = run(
            &hub,
            &t,
            &[
                "user",
                "add",
                &name("anna"),
                "--display-name",
                "Anna Andersson",
                "--email",
                "anna@example.org",
                "--org",
                &uni,
                "--role",
                "applicant",
                "--password-stdin",
            ],
            Some("anna's long password\n"),
        );
        assert!(stdout(&out).contains("created user"));
        let mut tokens = std::collections::BTreeMap::new();
        for (user, role) in [
            ("olle", "case_officer"),
            ("lena", "legal_reviewer"),
            ("sara", "data_steward"),
            ("dag", "decision_maker"),
        ] {
            run(
                &hub,
                &t,
                &[
                    "user",
                    "add",
                    &name(user),
                    "--org",
                    &staff_org,
                    "--role",
                    role,
                ],
                None,
            );
            let out = run(&hub, &t, &["token", "create", &name(user)], None);
            let token = stdout(&out).trim().to_string();
            assert!(token.starts_with("hh_"), "{token}");
            tokens.insert(role, token);
        }
        let listed = stdout(&run(&hub, &t, &["user", "list"], None));
        assert!(
            listed.contains(&format!("case_officer@{staff_org}")),
            "{listed}"
        );

        let addr = free_addr();
        let mut server = start(&hub, &t, addr);

        // The applicant logs in with the password: a session token.
        let (s, v) = http(
            addr,
            "POST",
            "/api/v1/sessions",
            None,
            Some(&json!({"username": name("anna"), "password": "wrong"})),
        );
        assert_eq!(s, 401, "{v}");
        let (s, login) = http(
            addr,
            "POST",
            "/api/v1/sessions",
            None,
            Some(&json!({"username": name("anna"), "password": "anna's long password"})),
        );
        assert_eq!(s, 201, "{login}");
        let anna = login["token"].as_str().unwrap().to_string();
        let anna_id = login["user"]["id"].as_str().unwrap().to_string();
        let (s, me) = http(addr, "GET", "/api/v1/me", Some(&anna), None);
        assert_eq!(s, 200, "{me}");
        let org_id = me["memberships"][0]["organisation_id"]
            .as_str()
            .unwrap()
            .to_string();

        // Draft: the applicant may, a case officer may not.
        let draft = json!({
            "title": format!("Anticoagulants after stroke {sfx}"),
            "summary": "Register study of anticoagulant treatment after ischaemic stroke.",
            "purpose": "scientific_research",
            "legal_basis": "public_task",
            "ethics_reference": "Dnr 2026-00042-01",
            "organisation": org_id,
            "members": [anna_id],
            "datasets": [{"dataset": "patient_register_inpatient", "variables": ["main_diagnosis"]}],
            "cohort": {"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis", "codes": [{"system": "icd10se", "codes": ["I63"]}]}}}], "output": {"type": "count"}},
            "period": {"from": "2016-01-01", "until": "2025-12-31"},
            "form": "pseudonymised_workspace",
            "attachments": []
        });
        let (s, _) = http(
            addr,
            "POST",
            "/api/v1/applications",
            Some(&tokens["case_officer"]),
            Some(&draft),
        );
        assert_eq!(s, 403);
        let (s, created) = http(
            addr,
            "POST",
            "/api/v1/applications",
            Some(&anna),
            Some(&draft),
        );
        assert_eq!(s, 201, "{created}");
        let case = created["case"]["id"].as_str().unwrap().to_string();

        refused(
            addr,
            &case,
            &tokens["case_officer"],
            json!({"type": "submit"}),
        );
        step(addr, &case, &anna, json!({"type": "submit"}));
        refused(
            addr,
            &case,
            &anna,
            json!({"type": "start_completeness_check"}),
        );
        step(
            addr,
            &case,
            &tokens["case_officer"],
            json!({"type": "start_completeness_check"}),
        );
        step(
            addr,
            &case,
            &tokens["case_officer"],
            json!({"type": "accept_complete"}),
        );

        // The CLI's queue shows the case with its decision clock.
        let q = stdout(&run(&hub, &t, &["cases", "queue", "--json"], None));
        let q: Value = serde_json::from_str(&q).unwrap();
        let entry = q["queue"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["case_id"] == case.as_str())
            .unwrap_or_else(|| panic!("case {case} not in the queue: {q}"))
            .clone();
        assert_eq!(entry["clock"], "decision");
        assert_eq!(entry["overdue"], false);
        assert!(entry["days_left"].as_i64().unwrap() > 50, "{entry}");
        let table = stdout(&run(&hub, &t, &["cases", "queue"], None));
        assert!(
            table.contains(&case) && table.contains("DEADLINE"),
            "{table}"
        );
        // Nothing is near its deadline yet: the sweep queues nothing new.
        let swept = stdout(&run(&hub, &t, &["cases", "sweep"], None));
        assert!(swept.starts_with("queued 0 "), "{swept}");

        let legal = json!({"type": "record_legal_review", "findings": ["Legal basis in order."], "recommendation": "approve"});
        refused(addr, &case, &tokens["data_steward"], legal.clone());
        step(addr, &case, &tokens["legal_reviewer"], legal);
        let tech = json!({"type": "record_technical_review", "findings": ["Variables available."], "recommendation": "approve"});
        refused(addr, &case, &tokens["legal_reviewer"], tech.clone());
        step(addr, &case, &tokens["data_steward"], tech);
        let approve = json!({"type": "approve", "reasons": format!("Purpose within EHDS Art. 53; data minimised ({sfx}).")});
        refused(addr, &case, &tokens["case_officer"], approve.clone());
        refused(addr, &case, &anna, approve.clone());
        step(addr, &case, &tokens["decision_maker"], approve);

        // The decision's date is the Swedish date (after 23:00 UTC in
        // winter it is already tomorrow there).
        let today = halsohub_access::calendar::swedish_date(chrono::Utc::now());
        let permit_cmd = json!({"type": "issue_permit", "terms": {
            "data_categories": ["diagnoses"], "sources": ["patient_register"],
            "pseudonymisation": "project_pseudonyms", "authorised_users": [anna_id],
            "valid_from": today.to_string(),
            "valid_until": (today + chrono::Duration::days(365)).to_string(),
            "environment": "secure-workspace", "tools": ["R"], "conditions": ["Output checking before release."]
        }});
        refused(addr, &case, &tokens["decision_maker"], permit_cmd.clone());
        let v = step(addr, &case, &tokens["case_officer"], permit_cmd);
        let permit = v["case"]["permit"]["id"].as_str().unwrap().to_string();
        let (s, p) = http(
            addr,
            "GET",
            &format!("/api/v1/permits/{permit}"),
            Some(&anna),
            None,
        );
        assert_eq!(s, 200, "{p}");
        assert_eq!(p["active"], true);
        step(
            addr,
            &case,
            &tokens["case_officer"],
            json!({"type": "publish"}),
        );

        // The public register, without logging in: the decision and its
        // reasons, and no personal data of the applicant.
        let (s, reg) = http(addr, "GET", "/api/v1/public/register", None, None);
        assert_eq!(s, 200);
        let entry = reg["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["case_id"] == case.as_str())
            .unwrap_or_else(|| panic!("case {case} not in the register: {reg}"))
            .clone();
        assert_eq!(entry["outcome"], "approved", "{entry}");
        assert!(entry["reasons"].as_str().unwrap().contains(&sfx));
        assert_eq!(entry["permit"]["id"], permit.as_str(), "{entry}");
        let text = entry.to_string();
        for personal in [
            anna_id.as_str(),
            &name("anna"),
            "Anna Andersson",
            "anna@example.org",
        ] {
            assert!(
                !text.contains(personal),
                "register shows {personal}: {text}"
            );
        }
        let (s, lt) = http(addr, "GET", "/api/v1/public/lead-times", None, None);
        assert_eq!(s, 200, "{lt}");

        // `cases show`: state, permit and the whole history.
        let shown = stdout(&run(&hub, &t, &["cases", "show", &case, "--json"], None));
        let shown: Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(shown["status"], "permit_issued", "{shown}");
        assert_eq!(shown["permit"]["id"], permit.as_str());
        assert_eq!(shown["permit"]["active"], true);
        let changes: Vec<&str> = shown["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["change"].as_str().unwrap())
            .collect();
        assert_eq!(
            changes,
            [
                "created",
                "submitted",
                "completeness_check_started",
                "accepted_complete",
                "legal_review_recorded",
                "technical_review_recorded",
                "decided",
                "permit_issued",
                "published"
            ]
        );
        let table = stdout(&run(&hub, &t, &["cases", "show", &case], None));
        assert!(
            table.contains(&permit) && table.contains("history:"),
            "{table}"
        );

        // Log out: the session no longer works.
        let (s, _) = http(
            addr,
            "DELETE",
            "/api/v1/sessions/current",
            Some(&anna),
            None,
        );
        assert_eq!(s, 204);
        assert_eq!(http(addr, "GET", "/api/v1/me", Some(&anna), None).0, 401);

        // SIGTERM stops the server (and its deadline sweeper) gracefully.
        #[cfg(unix)]
        {
            let pid = server.0.id().to_string();
            let killed = std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap();
            assert!(killed.success());
            let deadline = Instant::now() + Duration::from_secs(30);
            let status = loop {
                if let Some(st) = server.0.try_wait().unwrap() {
                    break st;
                }
                assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
                std::thread::sleep(Duration::from_millis(50));
            };
            let err = std::fs::read_to_string(&server.1).unwrap_or_default();
            assert!(status.success(), "serve exited with {status}: {err}");
            assert!(err.contains("shutting down"), "{err}");
        }
        drop(server);
    }
}
