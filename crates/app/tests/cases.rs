//! The case service against a real (SQLite) state database: numbers from
//! the database under concurrent creation, refused commands use no number,
//! events stored in the versioned format, listing from the projection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, Utc};
use halsohub_access::stored::{decode_projection, encode_projection};
use halsohub_access::{
    AccessConfig, ApplicationContent, CaseStatus, OrgId, Principal, Role, UserId,
};
use std::path::Path;

use halsohub_app::cases::api::{CommandRequest, LEAD_TIME_COLUMNS, ListQuery, RegisterRow};
use halsohub_app::cases::datasets::{
    DatasetsError, access_config, operator_datasets, parse_datasets, read_datasets,
};
use halsohub_app::cases::{Actor, CaseError, CaseService, IfMatch, Reply};
use halsohub_state::Db;

/// A user holding `role` in organisation `org` (through the accounts
/// service, as `halsohub user add` does); the user's id.
async fn add_user(db: &Db, name: &str, org: &str, role: &str) -> String {
    let account = halsohub_app::accounts::NewAccount {
        username: name.into(),
        organisation: Some(org.into()),
        roles: vec![role.into()],
        ..Default::default()
    };
    halsohub_app::accounts::add_user(db, account, "test")
        .await
        .unwrap()
        .id
}

struct Fixture {
    db: Db,
    org: String,
    applicant: String,
    officer: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    ))
    .await
    .unwrap();
    let org = db.create_organisation("Uppsala universitet").await.unwrap();
    let staff = db.create_organisation("Hälsohubben").await.unwrap();
    let mut ids = Vec::new();
    for (name, o, role) in [
        ("anna", &org.name, "applicant"),
        ("olle", &staff.name, "case_officer"),
    ] {
        ids.push(add_user(&db, name, o, role).await);
    }
    Fixture {
        db,
        org: org.id,
        applicant: ids[0].clone(),
        officer: ids[1].clone(),
        _dir: dir,
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn applicant(f: &Fixture) -> Principal {
    Principal::user(UserId::new(&f.applicant).unwrap())
        .with_role(OrgId::new(&f.org).unwrap(), Role::Applicant)
}

fn officer(f: &Fixture) -> Principal {
    Principal::user(UserId::new(&f.officer).unwrap())
        .with_role(OrgId::new("hub").unwrap(), Role::CaseOfficer)
}

fn content(f: &Fixture) -> ApplicationContent {
    ApplicationContent::draft(OrgId::new(&f.org).unwrap(), "Heart failure study")
}

fn done<T>(r: Reply<T>) -> T {
    match r {
        Reply::Done(t) => t,
        Reply::Replayed { .. } => panic!("unexpected replay"),
    }
}

#[tokio::test]
async fn concurrent_drafts_get_distinct_numbers_from_the_database() {
    let f = fixture().await;
    let config = AccessConfig::default();
    let p = applicant(&f);
    // Before, numbers were `count + 1` with five retries: eight writers at
    // once could exhaust the retries. The sequence hands out each once.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (db, config, p, c, user) = (
            f.db.clone(),
            config.clone(),
            p.clone(),
            content(&f),
            f.applicant.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let svc = CaseService::new(&db, &config);
            let actor = Actor {
                user_id: &user,
                principal: &p,
            };
            done(svc.create(actor, c, None, now()).await.unwrap())
                .case
                .id
                .unwrap()
                .to_string()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    let expected: Vec<String> = (1..=8).map(|n| format!("HH-A-2026-{n:06}")).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn a_refused_command_uses_no_number() {
    let f = fixture().await;
    let config = AccessConfig::default();
    let svc = CaseService::new(&f.db, &config);
    // A case officer may not create applications: refused before a number
    // is taken, so the next draft still gets number 1.
    let p = officer(&f);
    let err = svc
        .create(
            Actor {
                user_id: &f.officer,
                principal: &p,
            },
            content(&f),
            None,
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CaseError::Access(_)), "{err}");
    let p = applicant(&f);
    let actor = Actor {
        user_id: &f.applicant,
        principal: &p,
    };
    let created = done(svc.create(actor, content(&f), None, now()).await.unwrap());
    let id = created.case.id.unwrap().to_string();
    assert_eq!(id, "HH-A-2026-000001");

    // Issuing a permit on a draft is refused: no permit number is taken.
    let issue: CommandRequest = serde_json::from_value(serde_json::json!({
        "type": "issue_permit",
        "terms": {
            "data_categories": ["diagnoses"], "sources": ["patient_register"],
            "pseudonymisation": "project_pseudonyms", "authorised_users": [f.applicant],
            "valid_from": "2026-04-01", "valid_until": "2026-12-31",
            "environment": "secure-workspace", "tools": ["R"], "conditions": []
        }
    }))
    .unwrap();
    let p = officer(&f);
    let err = svc
        .run_command(
            Actor {
                user_id: &f.officer,
                principal: &p,
            },
            &id,
            issue,
            None,
            None,
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CaseError::Access(_)), "{err}");
    assert_eq!(
        f.db.next_id(halsohub_state::sequences::Sequence::Permit)
            .await
            .unwrap(),
        1
    );

    // Unknown commands (422 naming `type`) and a stale version are
    // refused with their reason.
    let teleport: CommandRequest =
        serde_json::from_value(serde_json::json!({"type": "teleport"})).unwrap();
    let err = svc
        .run_command(actor, &id, teleport, None, None, now())
        .await
        .unwrap_err();
    assert!(
        matches!(err, CaseError::Access(halsohub_access::AccessError::Invalid { ref issues })
            if issues[0].field == "type" && issues[0].problem.contains("teleport")),
        "{err}"
    );
    let withdraw: CommandRequest =
        serde_json::from_value(serde_json::json!({"type": "withdraw", "reason": "x"})).unwrap();
    let err = svc
        .run_command(actor, &id, withdraw, Some(IfMatch::Version(7)), None, now())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CaseError::VersionMismatch {
                expected: 7,
                current: 1
            }
        ),
        "{err}"
    );
    let err = svc.view(&p, "HH-A-2026-000099", now()).await.unwrap_err();
    assert!(matches!(err, CaseError::NotFound(_)), "{err}");
}

#[tokio::test]
async fn events_are_stored_versioned_and_lists_read_the_projection() {
    let f = fixture().await;
    let config = AccessConfig::default();
    let svc = CaseService::new(&f.db, &config);
    let p = applicant(&f);
    let actor = Actor {
        user_id: &f.applicant,
        principal: &p,
    };
    let created = done(svc.create(actor, content(&f), None, now()).await.unwrap());
    let id = created.case.id.unwrap().to_string();

    let stored = f.db.case_events(&id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].payload["v"], 1);
    assert_eq!(stored[0].payload["event"]["change"]["type"], "created");
    let record = f.db.case(&id).await.unwrap();
    assert_eq!(
        decode_projection(&record.projection),
        Some(created.case.clone())
    );

    // Listing reads the stored projection, not the events: a projection
    // this fold wrote is taken as it is (here one with another title,
    // stored for the same version, shows that).
    let mut changed = created.case.clone();
    changed.content.as_mut().unwrap().title = "Read from the projection".into();
    assert!(
        f.db.refresh_projection(&id, 1, &encode_projection(&changed).unwrap())
            .await
            .unwrap()
    );
    let list = svc.list(&p, &ListQuery::default(), now()).await.unwrap();
    assert_eq!(list.applications.len(), 1);
    assert_eq!(list.applications[0].title, "Read from the projection");
    // A projection of another fold is rebuilt from the events and stored.
    f.db.refresh_projection(&id, 1, &serde_json::json!({"v": 0, "state": {}}))
        .await
        .unwrap();
    let list = svc.list(&p, &ListQuery::default(), now()).await.unwrap();
    assert_eq!(
        list.applications[0].title,
        created.case.content.as_ref().unwrap().title
    );
    let record = f.db.case(&id).await.unwrap();
    assert_eq!(
        decode_projection(&record.projection),
        Some(created.case.clone())
    );
    assert_eq!(list.applications[0].status, CaseStatus::Draft);

    // The operator's view and the sweep read the same states.
    let detail = svc.detail(&id).await.unwrap();
    assert_eq!(detail.state, created.case);
    assert_eq!(
        svc.sweep_deadlines(now()).await.unwrap(),
        halsohub_app::cases::SweepReport::default()
    );
}

fn parse(text: &str) -> Result<Vec<String>, DatasetsError> {
    parse_datasets(Path::new("/etc/halsohub/datasets.txt"), text)
}

#[test]
fn a_datasets_file_holds_one_name_per_line_with_comments_and_blank_lines() {
    let names = parse(
        "# the registers we hold\npatient_register_inpatient\n\n  cancer_register  \r\n#x\nregional_lab\n",
    )
    .unwrap();
    assert_eq!(
        names,
        [
            "patient_register_inpatient",
            "cancer_register",
            "regional_lab"
        ]
    );
    let names = parse("[\n  \"cancer_register\",\n  \"regional_lab\"\n]\n").unwrap();
    assert_eq!(names, ["cancer_register", "regional_lab"]);
}

#[test]
fn a_bad_datasets_file_is_refused_naming_the_file_and_the_line() {
    let err = parse("cancer_register\n\nbad\u{202E}name\n").unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, DatasetsError::Invalid { line: 3, .. }),
        "{text}"
    );
    assert!(
        text.contains("/etc/halsohub/datasets.txt") && text.contains("line 3"),
        "{text}"
    );
    assert!(text.contains("U+202E"), "{text}");

    let err = parse("a\nb\na\n").unwrap_err().to_string();
    assert!(
        err.contains("line 3") && err.contains("twice") && err.contains("line 1"),
        "{err}"
    );
    let err = parse("[\n  \"a\",\n  \" b\"\n]").unwrap_err().to_string();
    assert!(err.contains("line 3") && err.contains("spaces"), "{err}");
    let err = parse("[\n  \"a\",\n  7\n]").unwrap_err().to_string();
    assert!(err.contains("line 3") && err.contains("JSON"), "{err}");

    let err = parse("# nothing\n\n").unwrap_err();
    assert!(matches!(err, DatasetsError::Empty { .. }), "{err}");
    assert!(err.to_string().contains("datasets.txt"), "{err}");
    assert!(matches!(
        parse("[]").unwrap_err(),
        DatasetsError::Empty { .. }
    ));

    let err = read_datasets(Path::new("/no/such/datasets.txt")).unwrap_err();
    assert!(err.to_string().contains("/no/such/datasets.txt"), "{err}");
}

#[test]
fn an_inline_datasets_list_is_comma_separated_and_checked_like_the_file() {
    assert_eq!(
        operator_datasets(Some("cancer_register, regional_lab"), None).unwrap(),
        Some(vec![
            "cancer_register".to_string(),
            "regional_lab".to_string()
        ])
    );
    assert_eq!(operator_datasets(None, None).unwrap(), None);
    let err = operator_datasets(Some("a,,b"), None).unwrap_err();
    assert!(
        matches!(err, DatasetsError::InvalidListEntry { entry: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("blank"), "{err}");
    let err = operator_datasets(Some("a,b,a"), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("entry 3") && err.contains("twice"), "{err}");
    let err = operator_datasets(Some("a"), Some(Path::new("/etc/d.txt"))).unwrap_err();
    assert!(matches!(err, DatasetsError::TwoLists), "{err}");
}

#[tokio::test]
async fn submit_checks_datasets_against_the_configured_list() {
    assert_eq!(access_config(None).unwrap(), AccessConfig::default());
    let f = fixture().await;
    let path = f._dir.path().join("datasets.txt");
    std::fs::write(&path, "# ours\nregional_lab\n").unwrap();
    let config = access_config(Some(&path)).unwrap();
    assert_eq!(config.datasets, ["regional_lab"]);
    let svc = CaseService::new(&f.db, &config);
    let p = applicant(&f);
    let actor = Actor {
        user_id: &f.applicant,
        principal: &p,
    };
    let submit = |id: String| async move {
        let cmd: CommandRequest =
            serde_json::from_value(serde_json::json!({"type": "submit"})).unwrap();
        svc.run_command(actor, &id, cmd, None, None, now()).await
    };
    let with_dataset = |name: &str| {
        let c: serde_json::Value = serde_json::json!({
            "title": "Heart failure study",
            "summary": "A register study.",
            "purpose": "public_health",
            "legal_basis": "public_task",
            "organisation": f.org,
            "members": [],
            "datasets": [{"dataset": name, "variables": ["x"]}],
            "cohort": {"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis",
                "codes": [{"system": "icd10se", "codes": ["I21"]}]}}}], "output": {"type": "count"}},
            "period": {"from": "2015-01-01", "until": "2024-12-31"},
            "form": "anonymised_statistics",
            "attachments": []
        });
        serde_json::from_value::<ApplicationContent>(c).unwrap()
    };
    // A default dataset is not in this hub's list: refused, naming the list.
    let id = done(
        svc.create(
            actor,
            with_dataset("patient_register_inpatient"),
            None,
            now(),
        )
        .await
        .unwrap(),
    )
    .case
    .id
    .unwrap()
    .to_string();
    let err = submit(id).await.unwrap_err();
    assert!(
        matches!(&err, CaseError::Access(halsohub_access::AccessError::Invalid { issues })
            if issues.iter().any(|i| i.field == "datasets[0].dataset" && i.problem.contains("regional_lab"))),
        "{err}"
    );
    // The listed one is accepted.
    let id = done(
        svc.create(actor, with_dataset("regional_lab"), None, now())
            .await
            .unwrap(),
    )
    .case
    .id
    .unwrap()
    .to_string();
    let submitted = done(submit(id).await.unwrap());
    assert_eq!(submitted.case.status, CaseStatus::Submitted);
}

#[test]
fn the_csv_columns_name_every_field_once_in_the_documented_order() {
    fn keys<T: serde::Serialize>(v: &T) -> Vec<String> {
        let mut k: Vec<String> = serde_json::to_value(v)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    }
    fn sorted(columns: &[&str]) -> Vec<String> {
        let mut c: Vec<String> = columns.iter().map(|c| (*c).to_string()).collect();
        c.sort();
        c
    }
    assert_eq!(keys(&RegisterRow::default()), sorted(&RegisterRow::COLUMNS));
    let figure = halsohub_access::LeadTimeFigure {
        month: "2026-03".into(),
        stage: halsohub_access::Stage::Overall,
        cases: 1,
        median_days: 2.0,
        p90_days: 2,
        extended_cases: 0,
    };
    assert_eq!(keys(&figure), sorted(&LEAD_TIME_COLUMNS));
}
