//! Opening a hub and the feasibility service on a real, small synthetic
//! store: the key is checked against the store in one place (another key,
//! a key inside the store and a missing key are refused with messages that
//! say why), and the one service answers both channels, logging each.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use chrono::Utc;
use halsohub_access::{OrgId, Principal, Role, UserId};
use halsohub_app::feasibility::{
    CountError, FeasibilityError, LocalCount, NumberPrecision, ProtectedOutput, QueryInput,
    Requester, ask, count_local,
};
use halsohub_app::hub::{Hub, HubError};
use halsohub_identity::{HubKey, ParseOptions};
use halsohub_ingest::{IngestOptions, NoProgress};
use halsohub_state::Db;
use halsohub_state::query_log::QueryOutcome;
use halsohub_store::StoreError;

/// A temp dir holding `hub.key` and `store/`, loaded with 300 synthetic
/// persons.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let config = halsohub_synth::Config {
            patients: 300,
            seed: 11,
            ..halsohub_synth::Config::default()
        };
        let summary = halsohub_synth::generate(&config, &data, &|_| {}).unwrap();
        HubKey::init(&dir.path().join("hub.key")).unwrap();
        let f = Fixture { dir };
        let hub = Hub::open_for_load(&f.store(), &f.key()).unwrap();
        let options = IngestOptions {
            identity: ParseOptions::new(summary.extract_date),
            ..IngestOptions::default()
        };
        let report = hub.ingest(&[data], &options, &NoProgress).unwrap();
        assert!(report.committed());
        f
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn store(&self) -> PathBuf {
        self.path("store")
    }

    fn key(&self) -> PathBuf {
        self.path("hub.key")
    }

    async fn db(&self) -> Db {
        let url = format!("sqlite://{}?mode=rwc", self.path("state.db").display());
        Db::connect(&url).await.unwrap()
    }

    fn query(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

const T2D: &str = r#"{"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis",
    "codes": [{"system": "icd10se", "codes": ["E11"], "descendants": true}]}}}],
    "output": {"type": "count"}}"#;

fn store_error(e: &HubError) -> &StoreError {
    match e {
        HubError::Store { error, .. } => error,
        other => panic!("not a store error: {other}"),
    }
}

#[test]
fn the_key_is_checked_against_the_store_when_a_hub_opens() {
    let f = Fixture::new();
    let hub = Hub::open(&f.store(), &f.key()).unwrap();
    assert_eq!(hub.snapshot(None).unwrap().id().to_string(), "s000001");
    let err = hub.snapshot(Some("s000009")).unwrap_err();
    assert!(err.to_string().contains("s000009"), "{err}");

    // another key
    HubKey::init(&f.path("other.key")).unwrap();
    let err = Hub::open(&f.store(), &f.path("other.key")).unwrap_err();
    assert!(
        matches!(store_error(&err), StoreError::KeyMismatch { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(text.contains("is not the key of the store"), "{text}");
    assert!(text.contains(&f.store().display().to_string()), "{text}");

    // the right key, kept inside the store
    let inside = f.store().join("hub.key");
    std::fs::copy(f.key(), &inside).unwrap();
    let err = Hub::open(&f.store(), &inside).unwrap_err();
    assert!(
        matches!(store_error(&err), StoreError::KeyInsideStore { .. }),
        "{err}"
    );
    // ...and for a load too, before anything is created
    let fresh = f.path("fresh-store");
    let err = Hub::open_for_load(&fresh, &fresh.join("hub.key")).unwrap_err();
    assert!(err.to_string().contains("inside the store"), "{err}");
    assert!(!fresh.exists(), "nothing was created");

    // no key at all: say how to make one
    let err = Hub::open(&f.store(), &f.path("missing.key")).unwrap_err();
    assert!(matches!(err, HubError::NoKey { .. }));
    assert!(err.to_string().contains("halsohub keys init"), "{err}");
}

#[test]
fn the_feasibility_service_is_built_from_the_snapshot_and_list_files() {
    let f = Fixture::new();
    let hub = Hub::open(&f.store(), &f.key()).unwrap();
    let service = hub.feasibility(None, &[]).unwrap();
    assert_eq!(service.snapshot(), "s000001");
    assert_eq!(service.profile().name(), "feasibility");
    let snaps = service.snapshots();
    assert_eq!(snaps.len(), 1);
    assert!(snaps[0].serving && snaps[0].first_event.is_some());
    assert!(snaps[0].domains.iter().any(|d| d == "diagnosis"));
    assert!(service.engine().patient_count() > 0);
    assert!(service.code_lists().get("type2_diabetes").is_some());

    let lists = f.query(
        "lists.yaml",
        "version: 1\nlists:\n  my_t2d:\n    title: T2D\n    codes:\n      - {system: icd10se, codes: [E11], descendants: true}\n",
    );
    let service = hub.feasibility(Some("s000001"), &[lists]).unwrap();
    assert!(service.code_lists().get("my_t2d").is_some());

    let bad = f.query(
        "bad.json",
        r#"{"version": 1, "lists": {"x": {"codes": 3}}}"#,
    );
    let err = hub.feasibility(None, &[bad]).unwrap_err();
    assert!(err.to_string().contains("bad.json"), "{err}");
    let err = hub.feasibility(None, &[f.path("none.json")]).unwrap_err();
    assert!(err.to_string().contains("none.json"), "{err}");
}

fn principal(role: Option<Role>) -> Principal {
    let p = Principal::user(UserId::new("u1").unwrap());
    match role {
        Some(r) => p.with_role(OrgId::new("org").unwrap(), r),
        None => p,
    }
}

#[tokio::test]
async fn one_service_answers_both_channels_and_logs_each() {
    let f = Fixture::new();
    let db = f.db().await;
    let hub = Hub::open(&f.store(), &f.key()).unwrap();
    let service = hub.feasibility(None, &[]).unwrap();
    let now = Utc::now();
    let api = |role| Requester::Api {
        user_id: "u1".into(),
        token_id: Some("t1".into()),
        principal: principal(role),
    };
    let value: serde_json::Value = serde_json::from_str(T2D).unwrap();

    let released = ask(
        &service,
        &db,
        &api(Some(Role::Applicant)),
        QueryInput::Json(T2D.as_bytes()),
        now,
    )
    .await
    .unwrap();
    assert!(released.exact.is_none());
    let ProtectedOutput::Count { count } = &released.answer.output else {
        panic!("{:?}", released.answer.output)
    };
    assert_ne!(count.precision, NumberPrecision::Exact);

    let exact = ask(
        &service,
        &db,
        &Requester::Cli {
            user_id: "os:steward".into(),
            exact: true,
        },
        QueryInput::Value(&value),
        now,
    )
    .await
    .unwrap();
    assert_eq!(exact.answer.query_hash, released.answer.query_hash);
    assert_eq!(exact.answer.profile.name, "exact");
    let Some(halsohub_cohort::OutputResult::Count { count: n }) = exact.exact else {
        panic!("an exact request returns the engine's result")
    };
    assert!(n > 0, "the synthetic population has type 2 diabetes");

    let err = ask(
        &service,
        &db,
        &api(Some(Role::Auditor)),
        QueryInput::Json(T2D.as_bytes()),
        now,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FeasibilityError::Forbidden), "{err}");

    let log = db.query_log(&Default::default()).await.unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(
        (log[0].channel.as_str(), log[0].exact),
        ("api", false),
        "{log:#?}"
    );
    assert_eq!(log[0].token_id.as_deref(), Some("t1"));
    assert_eq!((log[1].channel.as_str(), log[1].exact), ("cli", true));
    assert_eq!(log[1].user_id, "os:steward");
    assert!(matches!(log[2].outcome, QueryOutcome::Refused { .. }));
}

#[tokio::test]
async fn a_local_count_with_another_key_is_refused_and_logged() {
    let f = Fixture::new();
    let db = f.db().await;
    HubKey::init(&f.path("other.key")).unwrap();
    let q = f.query("q.json", T2D);
    let request = |key: &Path| LocalCount {
        store: f.store(),
        key: key.to_path_buf(),
        snapshot: None,
        code_lists: Vec::new(),
        query: q.clone(),
        who: Requester::Cli {
            user_id: "os:steward".into(),
            exact: true,
        },
    };
    let err = count_local(&db, request(&f.path("other.key")), Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(err, CountError::Hub(_)), "{err}");
    assert!(
        err.to_string().contains("is not the key of the store"),
        "{err}"
    );

    let ok = count_local(&db, request(&f.key()), Utc::now())
        .await
        .unwrap();
    assert_eq!(ok.answer.snapshot, "s000001");

    let bad = f.query("bad.yaml", "version: [1\n");
    let mut r = request(&f.key());
    r.query = bad;
    let err = count_local(&db, r, Utc::now()).await.unwrap_err();
    assert!(err.to_string().contains("bad.yaml"), "{err}");

    let log = db.query_log(&Default::default()).await.unwrap();
    assert_eq!(log.len(), 3, "{log:#?}");
    let reasons: Vec<_> = log
        .iter()
        .map(|e| match &e.outcome {
            QueryOutcome::Refused { reason } => reason.clone(),
            QueryOutcome::Ok => "ok".into(),
        })
        .collect();
    assert!(reasons[0].contains("fingerprint"), "{reasons:?}");
    assert_eq!(reasons[1], "ok");
    assert!(reasons[2].contains("not valid YAML"), "{reasons:?}");
    assert!(log.iter().all(|e| e.channel == "cli" && e.exact));
}
