//! The catalogue service on real synthetic stores: approved descriptions
//! only are published, person counts go through the feasibility service
//! (logged under the catalogue's user, released, close to the store's
//! truth), quality reflects the load's defects with their reasons.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use halsohub_app::catalogue::{
    self, ApprovalState, CATALOGUE_USER, CatalogueConfig, RdfSyntax, Thresholds,
};
use halsohub_app::hub::Hub;
use halsohub_identity::{HubKey, ParseOptions};
use halsohub_ingest::{IngestOptions, NoProgress};
use halsohub_state::Db;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(defect_rate: f64) -> Fixture {
        Fixture::edited(defect_rate, |_| {})
    }

    /// As [`Fixture::new`], with `edit` applied to the synthetic delivery
    /// before it is loaded.
    fn edited(defect_rate: f64, edit: impl Fn(&Path)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let config = halsohub_synth::Config {
            patients: 1000,
            seed: 5,
            defect_rate,
            ..halsohub_synth::Config::default()
        };
        let summary = halsohub_synth::generate(&config, &data, &|_| {}).unwrap();
        edit(&data);
        HubKey::init(&dir.path().join("hub.key")).unwrap();
        let f = Fixture { dir };
        let hub = Hub::open_for_load(&f.path("store"), &f.path("hub.key")).unwrap();
        let options = IngestOptions {
            identity: ParseOptions::new(summary.extract_date),
            ..IngestOptions::default()
        };
        assert!(
            hub.ingest(&[data], &options, &NoProgress)
                .unwrap()
                .committed()
        );
        std::fs::create_dir(f.path("catalogue")).unwrap();
        f
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    async fn db(&self) -> Db {
        let url = format!("sqlite://{}?mode=rwc", self.path("state.db").display());
        Db::connect(&url).await.unwrap()
    }

    /// A description of `sources` as dataset `id`.
    fn describe(&self, id: &str, sources: &[&str]) -> PathBuf {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../catalogue/tests/data/par-inpatient.yaml"),
        )
        .unwrap()
        .replace("id: par-inpatient", &format!("id: {id}"))
        .replace(
            "sources:\n  - par_inpatient",
            &format!("sources: [{}]", sources.join(", ")),
        );
        let path = self.path(&format!("catalogue/{id}.yaml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    async fn build(&self) -> catalogue::Built {
        let hub = Hub::open(&self.path("store"), &self.path("hub.key")).unwrap();
        let service = hub.feasibility(None, &[]).unwrap();
        let snapshot = hub.snapshot(None).unwrap();
        let config = CatalogueConfig::read(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../catalogue/tests/data/catalogue.yaml"),
        )
        .unwrap();
        catalogue::build(
            &service,
            &self.db().await,
            &hub.noise_secret(),
            &snapshot,
            config,
            &self.path("catalogue"),
            &Thresholds::default(),
            Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap(),
        )
        .await
        .unwrap()
    }
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
}

#[tokio::test]
async fn only_approved_descriptions_are_published_with_released_facts() {
    let f = Fixture::new(0.0);
    let par = f.describe("par-inpatient", &["par_inpatient"]);
    let lab = f.describe("lab", &["lab"]);
    f.describe("primary-care", &["primary_care"]);
    std::fs::write(f.path("catalogue/broken.yaml"), "id: [").unwrap();
    catalogue::approve(&par, "steward", at()).unwrap();
    catalogue::approve(&lab, "steward", at()).unwrap();
    // The lab description changes after approval: not published.
    let text = std::fs::read_to_string(&lab)
        .unwrap()
        .replace("Laboratory", "Lab");
    let text = text.replace("inpatient care, diagnoses", "inpatient care, lab");
    std::fs::write(&lab, text).unwrap();
    let files = catalogue::read_dir(&f.path("catalogue")).unwrap();
    let states: Vec<(String, bool)> = files
        .iter()
        .map(|(p, r)| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let ok = matches!(r, Ok(d) if matches!(d.state, ApprovalState::Approved(_)));
            (name, ok)
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("broken.yaml".to_string(), false),
            ("lab.yaml".to_string(), false),
            ("par-inpatient.yaml".to_string(), true),
            ("primary-care.yaml".to_string(), false),
        ]
    );

    let built = f.build().await;
    let ids: Vec<&str> = built.catalogue.entries().iter().map(|e| e.id()).collect();
    assert_eq!(ids, vec!["par-inpatient"]);
    assert_eq!(built.unpublished.len(), 3);
    let reasons: String = built
        .unpublished
        .iter()
        .map(|(_, r)| r.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(reasons.contains("not approved"), "{reasons}");
    assert!(reasons.contains("approve it again"), "{reasons}");
    assert!(reasons.contains("broken.yaml"), "{reasons}");

    // The facts: released numbers close to the store's own truth.
    let hub = Hub::open(&f.path("store"), &f.path("hub.key")).unwrap();
    let events = hub.snapshot(None).unwrap().events().unwrap();
    let truth_records = events
        .iter()
        .filter(|(_, e)| e.source == "par_inpatient")
        .count() as u64;
    let truth_persons: BTreeSet<u32> = events
        .iter()
        .filter(|(_, e)| e.source == "par_inpatient")
        .map(|(p, _)| *p)
        .collect();
    let facts = built.catalogue.entries()[0].facts.as_ref().unwrap();
    let persons = facts.persons().unwrap();
    assert!(!persons.is_suppressed());
    let shown = persons.value().unwrap();
    let truth = truth_persons.len() as u64;
    assert!(shown.abs_diff(truth) <= 25, "persons {shown} vs {truth}");
    assert!(shown.is_multiple_of(5));
    let records = facts.records().unwrap().value().unwrap();
    assert!(
        records.abs_diff(truth_records) <= 25,
        "records {records} vs {truth_records}"
    );
    assert!(
        facts.code_systems().iter().any(|s| s == "icd10se"),
        "{:?}",
        facts.code_systems()
    );
    assert!(!facts.frequent_codes().is_empty());
    for c in facts.frequent_codes() {
        assert!(c.persons.value().unwrap() >= 5, "{c:?}");
    }
    assert!(!facts.regions().is_empty());
    assert!(facts.age_range().is_some());
    let (first, last) = events
        .iter()
        .filter(|(_, e)| e.source == "par_inpatient")
        .fold(
            (None, None),
            |(a, b): (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>), (_, e)| {
                (
                    Some(a.map_or(e.start, |a| a.min(e.start))),
                    Some(b.map_or(e.start, |b| b.max(e.start))),
                )
            },
        );
    let cover = facts.time_coverage().unwrap();
    assert!(cover.start <= first.unwrap() && cover.end >= last.unwrap());

    // Every person count was a logged feasibility query of the catalogue.
    let log = f.db().await.query_log(&Default::default()).await.unwrap();
    assert!(log.len() >= 2, "{log:#?}");
    assert!(
        log.iter()
            .all(|e| e.user_id == CATALOGUE_USER && e.channel == "api" && !e.exact)
    );

    // And it serialises as RDF.
    let ttl = catalogue::serialise(
        &catalogue::page_triples(&built.catalogue, 1).unwrap(),
        RdfSyntax::Turtle,
    )
    .unwrap();
    assert!(
        String::from_utf8(ttl)
            .unwrap()
            .contains("healthdcatap:numberOfUniqueIndividuals")
    );
}

#[tokio::test]
async fn a_defective_load_shows_lower_conformance_with_its_reasons() {
    let clean = Fixture::new(0.0);
    let dirty = Fixture::new(0.2);
    let mut conformance = Vec::new();
    for f in [&clean, &dirty] {
        let p = f.describe("lab", &["lab"]);
        catalogue::approve(&p, "steward", at()).unwrap();
        let built = f.build().await;
        let detailed = &built.detailed["lab"];
        assert_eq!(detailed.len(), 1, "one load");
        let m = detailed[0]
            .metrics
            .iter()
            .find(|m| m.id == "conformance.rows_accepted")
            .unwrap()
            .clone();
        // The public view keeps the share and the reasons' names, not the counts.
        let public = &built.catalogue.entries()[0].quality[0];
        assert!(public.metrics.iter().all(|m| m.findings.is_empty()));
        assert!(
            detailed[0]
                .metrics
                .iter()
                .any(|m| m.id.starts_with("timeliness."))
        );
        conformance.push(m);
    }
    assert_eq!(conformance[0].value, 1.0);
    assert!(conformance[0].passed);
    assert!(
        conformance[1].value < conformance[0].value,
        "{conformance:#?}"
    );
    assert!(!conformance[1].passed);
    assert!(!conformance[1].findings.is_empty());
    for finding in &conformance[1].findings {
        assert!(
            conformance[1].explanation.contains(&finding.reason),
            "{conformance:#?}"
        );
    }
}

/// Sets every tenth lab result to 999 999 (in the row's own unit: above
/// every analyte's plausible range); the number of such rows of a known
/// analyte.
fn implausible_lab_values(data: &Path) -> u64 {
    let mut changed = 0;
    for region in std::fs::read_dir(data).unwrap() {
        let file = region.unwrap().path().join("lab.tsv");
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let mut out = String::new();
        for (i, line) in text.lines().enumerate() {
            let mut cols: Vec<&str> = line.split('\t').collect();
            if i > 0 && i % 10 == 0 && cols.len() > 5 {
                let known = halsohub_codes::System::parse(cols[3])
                    .and_then(|s| halsohub_codes::units::analyte_for(&s, cols[2]))
                    .is_some();
                cols[4] = "999999";
                changed += u64::from(known);
            }
            out.push_str(&cols.join("\t"));
            out.push('\n');
        }
        std::fs::write(&file, out).unwrap();
    }
    changed
}

#[tokio::test]
async fn implausible_lab_values_and_ages_are_counted_per_load() {
    let clean = Fixture::new(0.0);
    let changed = std::sync::atomic::AtomicU64::new(0);
    let dirty = Fixture::edited(0.0, |data| {
        changed.store(
            implausible_lab_values(data),
            std::sync::atomic::Ordering::SeqCst,
        );
    });
    let changed = changed.into_inner();
    assert!(
        changed > 10,
        "the edit reached lab rows of known analytes: {changed}"
    );
    let mut values = Vec::new();
    for f in [&clean, &dirty] {
        let p = f.describe("lab", &["lab"]);
        catalogue::approve(&p, "steward", at()).unwrap();
        let built = f.build().await;
        let metrics = &built.detailed["lab"][0].metrics;
        let metric = |id: &str| {
            metrics
                .iter()
                .find(|m| m.id == id)
                .unwrap_or_else(|| panic!("no {id} in {metrics:#?}"))
                .clone()
        };
        let age = metric("plausibility.age_over_max");
        assert_eq!(age.value, 1.0, "synthetic persons are younger: {age:?}");
        values.push(metric("plausibility.value_out_of_range"));
    }
    assert_eq!(values[0].value, 1.0, "{:?}", values[0]);
    assert!(values[0].passed && values[0].findings.is_empty());
    assert!(
        values[1].value < 1.0 && !values[1].passed,
        "{:?}",
        values[1]
    );
    assert_eq!(values[1].findings[0].reason, "value_out_of_range");
    assert_eq!(values[1].findings[0].rows, changed, "{:?}", values[1]);
    assert!(
        values[1].explanation.contains("plausible range"),
        "{:?}",
        values[1]
    );
}

/// With a catalogue, applications may name its published datasets and
/// nothing else; an operator list beside it is refused.
#[tokio::test]
async fn with_a_catalogue_submit_accepts_its_published_datasets_only() {
    use halsohub_access::{ApplicationContent, CaseStatus, OrgId, Principal, Role, UserId};
    use halsohub_app::cases::api::CommandRequest;
    use halsohub_app::cases::datasets::{DatasetsError, DatasetsSource, access_config_for};
    use halsohub_app::cases::{Actor, CaseError, CaseService, Reply};
    use halsohub_state::accounts::NewUser;

    let f = Fixture::new(0.0);
    let par = f.describe("par-inpatient", &["par_inpatient"]);
    f.describe("lab", &["lab"]);
    catalogue::approve(&par, "steward", at()).unwrap();
    let built = f.build().await;
    let (config, source) = access_config_for(Some(&built.catalogue), None).unwrap();
    assert_eq!(source, DatasetsSource::Catalogue);
    assert_eq!(config.datasets, ["par-inpatient"], "approved ones only");
    let err = access_config_for(Some(&built.catalogue), Some(vec!["cancer_register".into()]))
        .unwrap_err();
    assert!(
        matches!(&err, DatasetsError::ListBesideCatalogue { ids } if ids == &["par-inpatient"]),
        "{err}"
    );
    let (fallback, source) = access_config_for(None, None).unwrap();
    assert_eq!(source, DatasetsSource::Default);
    assert_eq!(fallback, halsohub_access::AccessConfig::default());

    let db = f.db().await;
    let org = db.create_organisation("Uppsala universitet").await.unwrap();
    let user = db
        .create_user(NewUser {
            username: "anna".into(),
            ..NewUser::default()
        })
        .await
        .unwrap();
    db.grant_role(&user.id, &org.id, "applicant").await.unwrap();
    let principal = Principal::user(UserId::new(&user.id).unwrap())
        .with_role(OrgId::new(&org.id).unwrap(), Role::Applicant);
    let actor = Actor {
        user_id: &user.id,
        principal: &principal,
    };
    let svc = CaseService::new(&db, &config);
    let now = Utc.with_ymd_and_hms(2026, 12, 8, 9, 0, 0).unwrap();
    let submit_naming = |dataset: &'static str| {
        let svc = &svc;
        let org = org.id.clone();
        async move {
            let content: ApplicationContent = serde_json::from_value(serde_json::json!({
                "title": "Heart failure study",
                "summary": "A register study.",
                "purpose": "public_health",
                "legal_basis": "public_task",
                "organisation": org,
                "members": [],
                "datasets": [{"dataset": dataset, "variables": ["main_diagnosis"]}],
                "cohort": {"version": 1, "criteria": [{"include": {"event": {"domain": "diagnosis",
                    "codes": [{"system": "icd10se", "codes": ["I21"]}]}}}], "output": {"type": "count"}},
                "period": {"from": "2015-01-01", "until": "2024-12-31"},
                "form": "anonymised_statistics",
                "attachments": []
            }))
            .unwrap();
            let Reply::Done(created) = svc.create(actor, content, None, now).await.unwrap() else {
                panic!("replayed")
            };
            let id = created.case.id.unwrap().to_string();
            let cmd: CommandRequest =
                serde_json::from_value(serde_json::json!({"type": "submit"})).unwrap();
            svc.run_command(actor, &id, cmd, None, None, now).await
        }
    };
    // A built-in register name is not a dataset of this hub: refused,
    // naming the catalogue's list.
    let err = submit_naming("patient_register_inpatient")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CaseError::Access(halsohub_access::AccessError::Invalid { issues })
            if issues.iter().any(|i| i.field == "datasets[0].dataset" && i.problem.contains("par-inpatient"))),
        "{err}"
    );
    // The unapproved description is not either.
    assert!(submit_naming("lab").await.is_err());
    // The published dataset is accepted.
    let Reply::Done(submitted) = submit_naming("par-inpatient").await.unwrap() else {
        panic!("replayed")
    };
    assert_eq!(submitted.case.status, CaseStatus::Submitted);
}
