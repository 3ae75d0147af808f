//! The opt-out register at every exit, on a real synthetic store and a
//! real (SQLite) state database: a delivery file read at ingest removes
//! its persons from counts at once (exactly those, checked against the
//! cohort's members), an opt-out that takes effect later removes them
//! then, a withdrawal brings them back; a permit's extract leaves out
//! those opted out of its purpose or of all as the register stood at its
//! decision (a later opt-out at the next refresh, an opt-out of another
//! purpose never); a citizen sees the permits whose extracts held them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use halsohub_access::{AccessConfig, ApplicationContent, OrgId, Principal, Role, UserId};
use halsohub_app::cases::api::CommandRequest;
use halsohub_app::cases::{Actor, CaseService, Reply};
use halsohub_app::export::{ExportFormat, ExportJob, ExtractFor, run_for_permit};
use halsohub_app::feasibility::{QueryInput, Requester, ask};
use halsohub_app::hub::Hub;
use halsohub_app::load::{LoadJob, plan, record_deliveries};
use halsohub_app::optout::{Citizen, OptOutAction, OptOutRequest, OptOutScope, status, used_by};
use halsohub_identity::{HubKey, IdentityNumber, ParseOptions, Pseudonym, Pseudonymiser};
use halsohub_ingest::{IngestOptions, NoProgress};
use halsohub_state::Db;
use serde_json::json;

struct Fixture {
    dir: tempfile::TempDir,
    extract_date: chrono::NaiveDate,
    db: Db,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = halsohub_synth::Config {
        patients: 300,
        seed: 5,
        ..halsohub_synth::Config::default()
    };
    let summary = halsohub_synth::generate(&config, &data, &|_| {}).unwrap();
    HubKey::init(&dir.path().join("hub.key")).unwrap();
    let hub = Hub::open_for_load(&dir.path().join("store"), &dir.path().join("hub.key")).unwrap();
    let options = IngestOptions {
        identity: ParseOptions::new(summary.extract_date),
        ..IngestOptions::default()
    };
    assert!(
        hub.ingest(&[data], &options, &NoProgress)
            .unwrap()
            .committed()
    );
    let db = Db::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    ))
    .await
    .unwrap();
    Fixture {
        dir,
        extract_date: summary.extract_date,
        db,
    }
}

impl Fixture {
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn pseudonymiser(&self) -> Pseudonymiser {
        Hub::open(&self.path("store"), &self.path("hub.key"))
            .unwrap()
            .pseudonymiser()
    }

    /// Identity numbers of the population register that parse, with
    /// their pseudonyms, in file order.
    fn people(&self) -> Vec<(String, Pseudonym)> {
        let bytes = std::fs::read(self.path("data/population/folkbokforing.txt")).unwrap();
        let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
        let options = ParseOptions::new(self.extract_date);
        let p = self.pseudonymiser();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for line in text.lines().skip(1) {
            let number = line.split(';').next().unwrap_or("").to_string();
            if let Ok(id) = IdentityNumber::parse(&number, &options) {
                let ps = p.pseudonym(&id);
                if seen.insert(ps) {
                    out.push((number, ps));
                }
            }
        }
        out
    }

    /// Records a delivery file with `lines` (number, purpose, date, action).
    async fn deliver(&self, name: &str, lines: &[(&str, &str, &str, &str)], now: DateTime<Utc>) {
        let mut text = String::from("personnummer;syfte;galler_fran;atgard\n");
        for (n, p, d, a) in lines {
            text.push_str(&format!("{n};{p};{d};{a}\n"));
        }
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        let job = self.load_job(vec![path]);
        let plan = plan(&job).unwrap();
        assert_eq!(plan.deliveries.len(), 1);
        assert!(!plan.has_sources);
        let reports = record_deliveries(&job, &plan, &self.db, "os:test", now)
            .await
            .unwrap();
        assert_eq!(reports[0].recorded as usize, lines.len(), "{reports:?}");
        assert!(reports[0].rejected.is_empty(), "{reports:?}");
    }

    fn load_job(&self, paths: Vec<PathBuf>) -> LoadJob {
        LoadJob {
            store: self.path("store"),
            key: self.path("hub.key"),
            paths,
            reference: self.extract_date,
            format: None,
        }
    }

    fn export_job(&self, out: &str) -> ExportJob {
        ExportJob {
            store: self.path("store"),
            key: self.path("hub.key"),
            format: ExportFormat::OmopCsv,
            project: "heart".into(),
            cohort: None,
            from: None,
            to: None,
            domains: None,
            exclude: None,
            snapshot: None,
            out: self.path(out),
            events_per_pass: 100_000,
            code_lists: vec![],
            register_exclusions: Default::default(),
        }
    }
}

const ANY_DIAGNOSIS: &str = r#"{"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis"}}}],
    "output": {"type": "count"}}"#;

async fn exact_count(
    f: &Fixture,
    service: &halsohub_app::feasibility::Feasibility,
    now: DateTime<Utc>,
) -> u64 {
    let value: serde_json::Value = serde_json::from_str(ANY_DIAGNOSIS).unwrap();
    let who = Requester::Cli {
        user_id: "os:test".into(),
        exact: true,
    };
    let answered = ask(service, &f.db, &who, QueryInput::Value(&value), now)
        .await
        .unwrap();
    let exact = serde_json::to_value(answered.exact.unwrap()).unwrap();
    exact["count"].as_u64().unwrap_or_else(|| panic!("{exact}"))
}

#[tokio::test]
async fn counts_leave_out_everyone_opted_out_from_the_moment_it_applies() {
    let f = fixture().await;
    let hub = Hub::open(&f.path("store"), &f.path("hub.key")).unwrap();
    let service = hub.feasibility(None, &[]).unwrap();
    let now = Utc::now();
    let before = exact_count(&f, &service, now).await;
    // The persons with a diagnosis, from the engine itself.
    let value: serde_json::Value = serde_json::from_str(ANY_DIAGNOSIS).unwrap();
    let q = halsohub_cohort::parse_value(&value, service.code_lists()).unwrap();
    let with_diagnosis = halsohub_export::cohort_members(
        service.engine(),
        &q,
        service.code_lists(),
        &HashSet::new(),
    )
    .unwrap();
    assert_eq!(with_diagnosis.len() as u64, before);
    let people: Vec<_> = f
        .people()
        .into_iter()
        .filter(|(_, p)| with_diagnosis.contains(p))
        .take(5)
        .collect();
    assert_eq!(people.len(), 5);
    let today = halsohub_access::calendar::swedish_date(now);
    let later = today + Duration::days(10);
    // Three opt out now (one of them only of research: any opt-out counts),
    // two from a date ten days on.
    let lines: Vec<(&str, &str, String, &str)> = vec![
        (&people[0].0, "all", "2020-01-01".into(), "avanmalan"),
        (&people[1].0, "", "2020-01-01".into(), "avanmalan"),
        (
            &people[2].0,
            "scientific_research",
            "2020-01-01".into(),
            "avanmalan",
        ),
        (&people[3].0, "all", later.to_string(), "avanmalan"),
        (&people[4].0, "all", later.to_string(), "avanmalan"),
    ];
    let lines: Vec<(&str, &str, &str, &str)> = lines
        .iter()
        .map(|(a, b, c, d)| (*a, *b, c.as_str(), *d))
        .collect();
    f.deliver("optout_1.csv", &lines, now).await;
    // No new load, no restart: the same service leaves them out at once.
    assert_eq!(exact_count(&f, &service, now).await, before - 3);
    assert_eq!(service.opt_outs().persons(), Some(3));
    // The same file again records nothing twice.
    let job = f.load_job(vec![f.path("optout_1.csv")]);
    let again = record_deliveries(&job, &plan(&job).unwrap(), &f.db, "os:test", now)
        .await
        .unwrap();
    assert!(again[0].already_recorded_at.is_some() && again[0].recorded == 0);
    // Eleven days on, the later two apply too.
    let then = now + Duration::days(11);
    assert_eq!(exact_count(&f, &service, then).await, before - 5);
    // A citizen withdraws through the API: counted again from that moment.
    let citizen = Citizen::from_number(&people[0].0, &f.pseudonymiser(), then).unwrap();
    let after = halsohub_app::optout::record(
        &f.db,
        citizen,
        &OptOutRequest {
            action: OptOutAction::Withdrawal,
            scope: OptOutScope::All,
        },
        then + Duration::seconds(1),
    )
    .await
    .unwrap();
    assert!(!after.excluded_from_counts);
    assert_eq!(after.history.len(), 2);
    assert_eq!(after.history[0].channel, "file");
    assert_eq!(after.history[1].channel, "api");
    assert_eq!(
        exact_count(&f, &service, then + Duration::seconds(2)).await,
        before - 4
    );
    // The one opted out of research only still is.
    let research = Citizen::from_number(&people[2].0, &f.pseudonymiser(), then).unwrap();
    let s = status(&f.db, research, then).await.unwrap();
    assert!(!s.all && s.purposes == vec!["scientific_research".to_string()]);
    assert!(s.excluded_from_counts);
}

fn principal(user: &str, org: &str, role: Role) -> Principal {
    Principal::user(UserId::new(user).unwrap()).with_role(OrgId::new(org).unwrap(), role)
}

async fn run(
    svc: &CaseService<'_>,
    user: &str,
    p: &Principal,
    case: &str,
    cmd: serde_json::Value,
    now: DateTime<Utc>,
) {
    let request: CommandRequest = serde_json::from_value(cmd.clone()).unwrap();
    let actor = Actor {
        user_id: user,
        principal: p,
    };
    match svc.run_command(actor, case, request, None, None, now).await {
        Ok(Reply::Done(_)) => {}
        other => panic!("{cmd}: {other:?}"),
    }
}

/// A permit for scientific research, issued at `now`: its id.
async fn permit(db: &Db, now: DateTime<Utc>) -> String {
    let org = db.create_organisation("Uppsala universitet").await.unwrap();
    let staff = db.create_organisation("Hälsohubben").await.unwrap();
    let mut ids = std::collections::HashMap::new();
    for (name, o, role) in [
        ("anna", &org.name, "applicant"),
        ("olle", &staff.name, "case_officer"),
        ("lena", &staff.name, "legal_reviewer"),
        ("dan", &staff.name, "data_steward"),
        ("disa", &staff.name, "decision_maker"),
    ] {
        let account = halsohub_app::accounts::NewAccount {
            username: name.into(),
            organisation: Some(o.clone()),
            roles: vec![role.into()],
            ..Default::default()
        };
        let user = halsohub_app::accounts::add_user(db, account, "test")
            .await
            .unwrap();
        ids.insert(name, user.id);
    }
    let config = AccessConfig::default();
    let svc = CaseService::new(db, &config);
    let anna = principal(&ids["anna"], &org.id, Role::Applicant);
    let staff_as = |name: &str, role| principal(&ids[name], &staff.id, role);
    let content: ApplicationContent = serde_json::from_value(json!({
        "title": "Heart failure after myocardial infarction",
        "summary": "A register study of heart failure incidence.",
        "purpose": "scientific_research",
        "legal_basis": "public_task",
        "ethics_reference": "Dnr 2025-01234-01",
        "organisation": org.id,
        "members": [ids["anna"]],
        "datasets": [{"dataset": "patient_register_inpatient", "variables": ["admission_date"]}],
        "cohort": {"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis",
            "codes": [{"system": "icd10se", "codes": ["I21"]}]}}}], "output": {"type": "count"}},
        "period": {"from": "2015-01-01", "until": "2024-12-31"},
        "form": "pseudonymised_workspace",
        "attachments": []
    }))
    .unwrap();
    let created = svc
        .create(
            Actor {
                user_id: &ids["anna"],
                principal: &anna,
            },
            content,
            None,
            now,
        )
        .await
        .unwrap();
    let Reply::Done(created) = created else {
        panic!("replayed")
    };
    let case = created.case.id.unwrap().to_string();
    run(
        &svc,
        &ids["anna"],
        &anna,
        &case,
        json!({"type": "submit"}),
        now,
    )
    .await;
    let olle = staff_as("olle", Role::CaseOfficer);
    run(
        &svc,
        &ids["olle"],
        &olle,
        &case,
        json!({"type": "start_completeness_check"}),
        now,
    )
    .await;
    run(
        &svc,
        &ids["olle"],
        &olle,
        &case,
        json!({"type": "accept_complete"}),
        now,
    )
    .await;
    run(
        &svc,
        &ids["lena"],
        &staff_as("lena", Role::LegalReviewer),
        &case,
        json!({"type": "record_legal_review", "findings": ["ok"], "recommendation": "approve"}),
        now,
    )
    .await;
    run(
        &svc,
        &ids["dan"],
        &staff_as("dan", Role::DataSteward),
        &case,
        json!({"type": "record_technical_review", "findings": ["ok"], "recommendation": "approve"}),
        now,
    )
    .await;
    run(
        &svc,
        &ids["disa"],
        &staff_as("disa", Role::DecisionMaker),
        &case,
        json!({"type": "approve", "reasons": "In order."}),
        now,
    )
    .await;
    let today = halsohub_access::calendar::swedish_date(now);
    run(
        &svc,
        &ids["olle"],
        &olle,
        &case,
        json!({"type": "issue_permit", "terms": {
        "data_categories": ["diagnoses"], "sources": ["patient_register"],
        "pseudonymisation": "project_pseudonyms", "authorised_users": [ids["anna"]],
        "valid_from": today.to_string(), "valid_until": (today + Duration::days(300)).to_string(),
        "environment": "secure-workspace", "tools": ["R"], "conditions": []}}),
        now,
    )
    .await;
    let state = svc.state(&case).await.unwrap();
    state.permit.unwrap().id.to_string()
}

#[tokio::test]
async fn a_permits_extract_keeps_the_register_as_it_stood_at_the_decision() {
    let f = fixture().await;
    let now = Utc::now();
    let whole =
        halsohub_app::export::run(&f.export_job("whole"), &halsohub_export::NoProgress).unwrap();
    let everyone: HashSet<Pseudonym> = whole.members.iter().copied().collect();
    let people: Vec<_> = f
        .people()
        .into_iter()
        .filter(|(_, p)| everyone.contains(p))
        .take(4)
        .collect();
    // Before the decision: A and B out of everything, C out of education.
    f.deliver(
        "before.csv",
        &[
            (&people[0].0, "all", "2020-01-01", "avanmalan"),
            (&people[1].0, "all", "2020-01-01", "opt_out"),
            (&people[2].0, "education", "2020-01-01", "avanmalan"),
        ],
        now - Duration::minutes(5),
    )
    .await;
    let permit_id = permit(&f.db, now).await;
    // After it: D out of research, backdated; the permit's register
    // instant is its decision, when the hub did not know of it.
    f.deliver(
        "after.csv",
        &[(
            &people[3].0,
            "scientific_research",
            "2020-01-01",
            "avanmalan",
        )],
        now + Duration::minutes(1),
    )
    .await;
    let whose = ExtractFor {
        permit: Some(permit_id.clone()),
        refresh_opt_outs: false,
        actor: "os:steward".into(),
    };
    let first = run_for_permit(
        f.export_job("first"),
        &whose,
        &f.db,
        now + Duration::minutes(2),
        &halsohub_export::NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(first.opted_out, 2);
    assert_eq!(first.summary.persons, whole.persons - 2);
    let held: HashSet<Pseudonym> = first.summary.members.iter().copied().collect();
    assert!(!held.contains(&people[0].1) && !held.contains(&people[1].1));
    assert!(held.contains(&people[2].1), "an opt-out of another purpose");
    assert!(held.contains(&people[3].1), "recorded after the decision");
    // The refresh reads the register now: D is left out too.
    let refreshed = run_for_permit(
        f.export_job("second"),
        &ExtractFor {
            refresh_opt_outs: true,
            ..whose.clone()
        },
        &f.db,
        now + Duration::minutes(3),
        &halsohub_export::NoProgress,
    )
    .await
    .unwrap();
    assert_eq!(refreshed.summary.persons, whole.persons - 3);
    // Citizens see the extracts that held them, and nothing else.
    let p = f.pseudonymiser();
    let d = Citizen::from_number(&people[3].0, &p, now).unwrap();
    let used = used_by(&f.db, d).await.unwrap();
    assert_eq!(used.len(), 1, "{used:?}");
    assert_eq!(used[0].permit_id.as_deref(), Some(permit_id.as_str()));
    assert_eq!(used[0].project, "Heart failure after myocardial infarction");
    assert!(used[0].decided_at.is_some() && used[0].holder.is_some());
    let c = Citizen::from_number(&people[2].0, &p, now).unwrap();
    assert_eq!(used_by(&f.db, c).await.unwrap().len(), 2);
    let a = Citizen::from_number(&people[0].0, &p, now).unwrap();
    assert!(used_by(&f.db, a).await.unwrap().is_empty());
    // An unknown permit is refused, naming the flag.
    let e = run_for_permit(
        f.export_job("third"),
        &ExtractFor {
            permit: Some("HH-P-2026-999999".into()),
            ..whose
        },
        &f.db,
        now,
        &halsohub_export::NoProgress,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("--permit") && e.contains("HH-P-2026-999999"),
        "{e}"
    );
    assert!(!f.path("third").exists());
}

#[test]
fn citizens_numbers_are_checked_without_being_echoed() {
    let p = Pseudonymiser::new(&HubKey::from_bytes([3; 32]));
    let e = Citizen::from_number("19121212-1213", &p, Utc::now())
        .unwrap_err()
        .to_string();
    assert!(!e.contains("1212"), "{e}");
    let _ = Path::new("");
}
