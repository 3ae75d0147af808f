//! Exports of a store snapshot for a cohort or a permit's scope, under
//! project-specific pseudonyms: OMOP CDM 5.4 (CSV or Parquet) and FHIR R4
//! bulk NDJSON. Used by the data steward's `halsohub export` and, later, by
//! the secure workspace to prepare a permit's project data.
//!
//! * [`Scope`]: what leaves — all persons or a set ([`cohort_members`]
//!   evaluates a cohort query with the cohort engine), a period, data
//!   categories (domains), and persons who must be left out (opt-outs).
//! * [`export`]: writes one [`Format`] into a directory and returns a
//!   [`Summary`] (also written as `manifest.json`).
//!
//! **Pseudonyms.** Every person is written under
//! `Pseudonymiser::project_pseudonym(project, hub pseudonym)`; hub
//! pseudonyms and internal person ids never appear in an export, so two
//! projects' exports cannot be joined without the hub key. OMOP needs an
//! integer `person_id`: persons get dense ids 1, 2, ... in project-pseudonym
//! order, with the pseudonym in `person_source_value`.
//!
//! **Bounded memory.** Persons (small) are held whole; events are read
//! segment by segment in passes over ranges of persons, each pass holding
//! about [`Request::events_per_pass`] events, and written person by person.
//!
//! **Atomic output.** Files are written into a hidden staging directory
//! beside the target and renamed into place at the end; a failed export
//! leaves nothing. A non-empty target, or one inside the store, is refused.
//!
//! See `docs/export.md` for the mapping of every table, column and resource.

mod data;
mod error;
pub mod fhir;
pub mod omop;
mod scope;
mod target;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use halsohub_identity::{Pseudonym, Pseudonymiser};
use halsohub_store::{Domain, Snapshot, SnapshotId, Store};
use serde::{Deserialize, Serialize};

pub use error::ExportError;
pub use scope::{Patients, Period, Scope, cohort_members};

/// Output format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// OMOP CDM 5.4 tables as CSV (header row, comma, RFC 4180 quoting).
    OmopCsv,
    /// OMOP CDM 5.4 tables as Parquet.
    OmopParquet,
    /// FHIR R4 bulk NDJSON, one file per resource type.
    FhirNdjson,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::OmopCsv => "omop-csv",
            Format::OmopParquet => "omop-parquet",
            Format::FhirNdjson => "fhir-ndjson",
        }
    }
}

/// Default number of events held per pass (about 100 bytes each).
pub const DEFAULT_EVENTS_PER_PASS: usize = 4_000_000;

/// One export to run.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub snapshot: &'a Snapshot,
    pub scope: Scope,
    /// The project the pseudonyms are for (a permit's or project's id).
    pub project: String,
    pub format: Format,
    /// Target directory: must not exist or be empty, not inside the store.
    pub out: PathBuf,
    /// Events held in memory per pass over the segments.
    pub events_per_pass: usize,
}

/// Progress of an export, in persons written.
pub trait Progress {
    fn start(&self, _persons: u64) {}
    fn advance(&self, _persons: u64) {}
}

/// Reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// One file of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSummary {
    /// File name inside the export directory.
    pub file: String,
    /// OMOP table or FHIR resource type.
    pub table: String,
    /// Rows (OMOP) or resources (FHIR).
    pub rows: u64,
}

/// What an export wrote; saved as `manifest.json` in the export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub format: Format,
    pub project: String,
    pub snapshot: SnapshotId,
    pub created: DateTime<Utc>,
    /// The export directory.
    pub dir: PathBuf,
    /// Persons exported.
    pub persons: u64,
    /// Persons asked for that the snapshot does not know.
    pub unknown_persons: u64,
    /// Persons left out as excluded (opt-outs).
    pub excluded_persons: u64,
    /// Events exported.
    pub events: u64,
    /// Events of exported persons left out by the period or the domains.
    pub events_out_of_scope: u64,
    /// Events per domain exported.
    pub events_per_domain: std::collections::BTreeMap<Domain, u64>,
    /// Scope: period and domains as asked, and what the scope came from.
    pub period_from: Option<chrono::NaiveDate>,
    pub period_to: Option<chrono::NaiveDate>,
    pub domains: Option<Vec<Domain>>,
    pub basis: Option<String>,
    pub files: Vec<FileSummary>,
    /// The hub pseudonyms of the persons exported, for the hub's record of
    /// who an extract held. Never written into the export.
    #[serde(skip)]
    pub members: Vec<Pseudonym>,
}

/// Name of the summary file in an export.
pub const MANIFEST: &str = "manifest.json";

fn check_project(project: &str) -> Result<(), ExportError> {
    let bad = |message: &str| {
        Err(ExportError::Invalid {
            what: "project",
            message: message.to_owned(),
        })
    };
    if project.trim().is_empty() {
        return bad("the project name is empty");
    }
    if project.trim() != project {
        return bad("the project name starts or ends with white space");
    }
    if project.chars().count() > 200 {
        return bad("the project name is longer than 200 characters");
    }
    if project.chars().any(char::is_control) {
        return bad("the project name holds a control character");
    }
    Ok(())
}

/// A writer of one format.
trait Writer {
    fn person(
        &mut self,
        index: u32,
        p: &data::PersonOut,
        events: &[data::Ev],
        strings: &data::Strings,
    ) -> Result<(), ExportError>;
    fn finish(
        self: Box<Self>,
        strings: &data::Strings,
        summary: &Summary,
    ) -> Result<Vec<FileSummary>, ExportError>;
}

impl Writer for fhir::FhirWriter {
    fn person(
        &mut self,
        _index: u32,
        p: &data::PersonOut,
        events: &[data::Ev],
        strings: &data::Strings,
    ) -> Result<(), ExportError> {
        fhir::FhirWriter::person(self, p, events, strings)
    }
    fn finish(
        self: Box<Self>,
        _strings: &data::Strings,
        _summary: &Summary,
    ) -> Result<Vec<FileSummary>, ExportError> {
        Ok(fhir::FhirWriter::finish(*self)?
            .into_iter()
            .map(|(table, file, rows)| FileSummary { file, table, rows })
            .collect())
    }
}

/// Runs one export. Needs the hub key's pseudonymiser (for the project
/// pseudonyms); refuses one whose key is not the store's, or whose key
/// file lies inside the store ([`Store::check_key`], the one definition
/// of the rule).
pub fn export(
    req: &Request<'_>,
    pseudonymiser: &Pseudonymiser,
    progress: &dyn Progress,
) -> Result<Summary, ExportError> {
    check_project(&req.project)?;
    let snapshot = req.snapshot;
    // The one key rule (`Store::check_key`): the pseudonymiser's key is
    // the store's, and its file, when known, lies outside the store.
    Store::open(snapshot.store_root())?
        .check_key(pseudonymiser.key_fingerprint(), pseudonymiser.key_file())?;
    let manifest = snapshot.manifest();
    let store_root = snapshot.store_root().to_path_buf();
    let staging = target::Staging::new(&req.out, &store_root)?;
    let people = data::People::read(snapshot, &req.scope, &req.project, pseudonymiser)?;
    let n = people.persons.len();
    progress.start(n as u64);
    tracing::info!(
        snapshot = %snapshot.id(),
        format = req.format.as_str(),
        persons = n,
        "export started"
    );
    let mut writer: Box<dyn Writer> = match req.format {
        Format::FhirNdjson => Box::new(fhir::FhirWriter::new(staging.dir(), &req.project)),
        Format::OmopCsv | Format::OmopParquet => Box::new(omop::OmopWriter::new(
            staging.dir(),
            req.format == Format::OmopParquet,
            snapshot.manifest().created.date_naive(),
        )?),
    };
    let mut strings = data::Strings::default();
    strings.id("");
    let mut skipped = data::Skipped::default();
    let mut events_total = 0u64;
    let mut per_domain = std::collections::BTreeMap::new();
    for (lo, hi) in data::passes(n, manifest.events, manifest.persons, req.events_per_pass) {
        let events = data::read_events(
            snapshot,
            &people,
            &req.scope,
            lo,
            hi,
            &mut strings,
            &mut skipped,
        )?;
        events_total += events.len() as u64;
        for e in &events {
            *per_domain.entry(e.domain).or_insert(0u64) += 1;
        }
        let mut rest: &[data::Ev] = &events;
        for i in lo..hi {
            let k = rest.partition_point(|e| e.person == i);
            let (mine, tail) = rest.split_at(k);
            rest = tail;
            if let Some(p) = people.persons.get(i as usize) {
                writer.person(i, p, mine, &strings)?;
            }
        }
        progress.advance(u64::from(hi - lo));
    }
    let mut summary = Summary {
        format: req.format,
        project: req.project.clone(),
        snapshot: snapshot.id().clone(),
        created: Utc::now(),
        dir: staging.target().to_path_buf(),
        persons: n as u64,
        unknown_persons: people.unknown,
        excluded_persons: people.excluded,
        events: events_total,
        events_out_of_scope: skipped.out_of_scope,
        events_per_domain: per_domain,
        period_from: req.scope.period.from,
        period_to: req.scope.period.to,
        domains: req
            .scope
            .domains
            .as_ref()
            .map(|d| d.iter().copied().collect()),
        basis: req.scope.basis.clone(),
        files: Vec::new(),
        members: people.persons.iter().map(|p| p.hub).collect(),
    };
    summary.files = writer.finish(&strings, &summary)?;
    write_manifest(staging.dir(), &summary, snapshot)?;
    let dir = staging.commit()?;
    tracing::info!(dir = %dir.display(), persons = n, events = events_total, "export written");
    Ok(summary)
}

fn write_manifest(dir: &Path, summary: &Summary, snapshot: &Snapshot) -> Result<(), ExportError> {
    let path = dir.join(MANIFEST);
    let mut value = serde_json::to_value(summary).map_err(|e| error::write_err(&path, e))?;
    if summary.format == Format::FhirNdjson
        && let Some(o) = value.as_object_mut()
    {
        // The FHIR Bulk Data completion response's fields, beside ours.
        o.insert(
            "transactionTime".into(),
            serde_json::json!(snapshot.manifest().created),
        );
        o.insert(
            "request".into(),
            serde_json::json!(format!("urn:halsohub:export:{}", snapshot.id())),
        );
        o.insert("requiresAccessToken".into(), serde_json::json!(false));
        o.insert(
            "output".into(),
            serde_json::Value::Array(
                summary
                    .files
                    .iter()
                    .map(|f| serde_json::json!({ "type": f.table, "url": f.file, "count": f.rows }))
                    .collect(),
            ),
        );
        o.insert("error".into(), serde_json::json!([]));
    }
    let mut bytes = serde_json::to_vec_pretty(&value).map_err(|e| error::write_err(&path, e))?;
    bytes.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(error::io(&path))?;
    std::io::Write::write_all(&mut f, &bytes).map_err(error::io(&path))?;
    f.sync_all().map_err(error::io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with one (empty) snapshot, built under `key`.
    fn store_with_snapshot(dir: &Path, key: &halsohub_identity::HubKey) -> Snapshot {
        let store = Store::open_for_load(&dir.join("store"), &key.fingerprint()).unwrap();
        store
            .begin_load()
            .unwrap()
            .commit(serde_json::json!({}))
            .unwrap();
        store.snapshot(None).unwrap()
    }

    fn request<'a>(snapshot: &'a Snapshot, out: PathBuf) -> Request<'a> {
        Request {
            snapshot,
            scope: Scope {
                patients: Patients::All,
                period: Period::default(),
                domains: None,
                exclude: Default::default(),
                basis: None,
            },
            project: "p1".into(),
            format: Format::FhirNdjson,
            out,
            events_per_pass: DEFAULT_EVENTS_PER_PASS,
        }
    }

    #[test]
    fn the_store_key_rule_is_the_stores_own() {
        let dir = tempfile::tempdir().unwrap();
        let key = halsohub_identity::HubKey::init(&dir.path().join("hub.key")).unwrap();
        let snapshot = store_with_snapshot(dir.path(), &key);

        // Another key: refused by `Store::check_key`, nothing written.
        let other = halsohub_identity::HubKey::generate().unwrap();
        let out = dir.path().join("out-other");
        let err = export(
            &request(&snapshot, out.clone()),
            &Pseudonymiser::new(&other),
            &NoProgress,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                ExportError::Store(halsohub_store::StoreError::KeyMismatch { .. })
            ),
            "{err}"
        );
        assert!(!out.exists());

        // The store's key, but its file inside the store: refused as well.
        let inside = dir.path().join("store").join("hub.key");
        std::fs::copy(dir.path().join("hub.key"), &inside).unwrap();
        let loaded = halsohub_identity::HubKey::load(&inside).unwrap();
        let err = export(
            &request(&snapshot, dir.path().join("out-inside")),
            &Pseudonymiser::new(&loaded),
            &NoProgress,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                ExportError::Store(halsohub_store::StoreError::KeyInsideStore { .. })
            ),
            "{err}"
        );

        // The store's key from outside: exported.
        let done = export(
            &request(&snapshot, dir.path().join("out")),
            &Pseudonymiser::new(&key),
            &NoProgress,
        )
        .unwrap();
        assert_eq!(done.persons, 0);
    }

    #[test]
    fn project_names_are_checked() {
        assert!(check_project("proj-2025-17").is_ok());
        assert!(check_project("Dnr 2025-01234 (LUCIA)").is_ok());
        assert!(check_project("").is_err());
        assert!(check_project(" x").is_err());
        assert!(check_project("a\nb").is_err());
        assert!(check_project(&"x".repeat(201)).is_err());
    }
}
