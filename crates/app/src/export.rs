//! `halsohub export`: a cohort's or a permit's data under project
//! pseudonyms (OMOP CDM 5.4 as CSV or Parquet, FHIR R4 bulk NDJSON). This
//! is the whole job — the scope from the request (period, data
//! categories, opt-out file), the hub opened with the key checked against
//! the store, the cohort's members evaluated by the cohort engine over
//! the code lists a count would use, and the export library's writer —
//! so the binary only parses flags and renders the summary.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use halsohub_export::{ExportError, Patients, Period, Request, Scope};
use halsohub_identity::Pseudonym;
use halsohub_store::Domain;

pub use halsohub_export::{
    DEFAULT_EVENTS_PER_PASS, Format as ExportFormat, Progress as ExportProgress,
    Summary as ExportSummary,
};

use crate::hub::{Hub, HubError, code_lists, engine};
use crate::query::{QueryFileError, read_query_file};

/// One export, as the data steward asks for it.
#[derive(Debug, Clone)]
pub struct ExportJob {
    /// The store directory.
    pub store: PathBuf,
    /// The hub key file (project pseudonyms derive from it).
    pub key: PathBuf,
    /// Output format.
    pub format: ExportFormat,
    /// The project (permit) the pseudonyms are for.
    pub project: String,
    /// Only the members of this cohort (a query file); else every person.
    pub cohort: Option<PathBuf>,
    /// Only events starting on or after this date.
    pub from: Option<NaiveDate>,
    /// Only events starting on or before this date.
    pub to: Option<NaiveDate>,
    /// Only these data categories (domain names); else all.
    pub domains: Option<Vec<String>>,
    /// A file of hub pseudonyms never to export (opt-outs).
    pub exclude: Option<PathBuf>,
    /// Snapshot; else the current one.
    pub snapshot: Option<String>,
    /// Target directory (empty or absent, outside the store).
    pub out: PathBuf,
    /// Events held in memory per pass.
    pub events_per_pass: usize,
    /// Code list files beside the built-in lists (for the cohort query).
    pub code_lists: Vec<PathBuf>,
    /// Persons the opt-out register leaves out (filled by
    /// [`run_for_permit`]; [`run`] alone leaves out only `exclude`).
    pub register_exclusions: HashSet<Pseudonym>,
}

/// Whose extract an export is, for the opt-out register and the record of
/// extracts ([`run_for_permit`]).
#[derive(Debug, Clone)]
pub struct ExtractFor {
    /// The permit it is made under; `None` for a project export without
    /// one (the data steward's), which leaves out everyone opted out of
    /// anything now.
    pub permit: Option<String>,
    /// Read the register now (the extract's refresh) instead of as it
    /// stood at the permit's decision.
    pub refresh_opt_outs: bool,
    /// Who makes it.
    pub actor: String,
}

/// What [`run_for_permit`] did.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// The export's summary.
    pub summary: ExportSummary,
    /// The register instant its opt-outs were read at.
    pub frozen_at: chrono::DateTime<chrono::Utc>,
    /// Persons the register left out (of those known to the snapshot or
    /// not).
    pub opted_out: usize,
    /// The extract's id in the record of extracts.
    pub extract_id: i64,
}

/// Why an export did not happen (nothing is left behind).
#[derive(Debug, thiserror::Error)]
pub enum ExportJobError {
    /// A request field is wrong; `what` names the flag.
    #[error("{what}: {message}")]
    Invalid {
        /// The field (`--domains`, `--from/--to`, ...).
        what: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The opt-out file cannot be read or holds a bad line.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Exclusions {
        /// The file.
        path: PathBuf,
        /// The line, when one is wrong.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The cohort query file cannot be read.
    #[error(transparent)]
    QueryFile(#[from] QueryFileError),
    /// The cohort query is not valid.
    #[error("cohort query {}: {message}", path.display())]
    Cohort {
        /// The query file.
        path: PathBuf,
        /// What is wrong (with its JSON path).
        message: String,
    },
    /// The hub cannot be opened (key, store, snapshot, code lists).
    #[error(transparent)]
    Hub(#[from] HubError),
    /// The state database (opt-out register, permits, record of
    /// extracts) failed.
    #[error("state database: {0}")]
    State(String),
    /// The export itself failed.
    #[error("exporting to {}: {error}", out.display())]
    Export {
        /// The target directory.
        out: PathBuf,
        /// Why.
        error: ExportError,
    },
}

/// Runs `job`, reporting persons written to `progress`.
///
/// # Errors
/// [`ExportJobError`] naming the flag, file or directory at fault.
pub fn run(
    job: &ExportJob,
    progress: &dyn ExportProgress,
) -> Result<ExportSummary, ExportJobError> {
    let domains = job.domains.as_deref().map(parse_domains).transpose()?;
    let period = Period::new(job.from, job.to).map_err(|e| ExportJobError::Invalid {
        what: "--from/--to",
        message: e.to_string(),
    })?;
    let mut exclude = match &job.exclude {
        None => HashSet::new(),
        Some(p) => read_pseudonyms(p)?,
    };
    exclude.extend(job.register_exclusions.iter().copied());
    let query = match &job.cohort {
        None => None,
        Some(p) => Some((p, read_query_file(p)?)),
    };
    // The key first (a missing key fails before the long work), checked
    // against the store.
    let hub = Hub::open(&job.store, &job.key)?;
    let snapshot = hub.snapshot(job.snapshot.as_deref())?;
    let out_err = |error| ExportJobError::Export {
        out: job.out.clone(),
        error,
    };
    let (patients, basis) =
        match &query {
            None => (Patients::All, None),
            Some((path, value)) => {
                let engine = engine(&snapshot)?;
                let lists = code_lists(&engine, &job.code_lists)?;
                let q = halsohub_cohort::parse_value(value, &lists).map_err(|e| {
                    ExportJobError::Cohort {
                        path: path.to_path_buf(),
                        message: e.to_string(),
                    }
                })?;
                let members = halsohub_export::cohort_members(&engine, &q, &lists, &exclude)
                    .map_err(|e| ExportJobError::Cohort {
                        path: path.to_path_buf(),
                        message: e.to_string(),
                    })?;
                (
                    Patients::Only(members),
                    Some(format!("cohort query {}", halsohub_cohort::query_hash(&q))),
                )
            }
        };
    let req = Request {
        snapshot: &snapshot,
        scope: Scope {
            patients,
            period,
            domains,
            exclude,
            basis,
        },
        project: job.project.clone(),
        format: job.format,
        out: job.out.clone(),
        events_per_pass: job.events_per_pass,
    };
    halsohub_export::export(&req, &hub.pseudonymiser(), progress).map_err(out_err)
}

/// An export that keeps the opt-out register and is recorded: under a
/// permit (which must be active at `now`), everyone opted out of the
/// permit's purpose, or of all, as the register stood at the permit's
/// decision (or now, with `refresh_opt_outs`) is left out; without one,
/// everyone opted out of anything now. The persons written are recorded
/// as one extract (with the permit), so a citizen can see which permits
/// used their data. Blocks while it writes: call it from the command line
/// or a blocking task.
///
/// # Errors
/// [`ExportJobError`]: an unknown or inactive permit (`--permit`), the
/// export's own errors; [`ExportJobError::State`] when the register
/// cannot be read or the extract recorded (the export is then written
/// but not recorded, and the error says so).
pub async fn run_for_permit(
    mut job: ExportJob,
    whose: &ExtractFor,
    db: &halsohub_state::Db,
    now: chrono::DateTime<chrono::Utc>,
    progress: &dyn ExportProgress,
) -> Result<Extracted, ExportJobError> {
    let state = |e: halsohub_state::StateError| ExportJobError::State(e.to_string());
    let invalid = |message: String| ExportJobError::Invalid {
        what: "--permit",
        message,
    };
    let (frozen_at, excluded, purpose) = match &whose.permit {
        None => {
            let (set, _) = crate::optout::excluded_for_counts(db, now)
                .await
                .map_err(state)?;
            (now, set, None)
        }
        Some(id) => {
            let row = match db.permit(id).await {
                Ok(r) => r,
                Err(halsohub_state::StateError::NotFound { .. }) => {
                    return Err(invalid(format!("no permit {id}")));
                }
                Err(e) => return Err(state(e)),
            };
            let config = halsohub_access::AccessConfig::default();
            let case = crate::cases::CaseService::new(db, &config)
                .state(&row.case_id)
                .await
                .map_err(|e| ExportJobError::State(e.to_string()))?;
            let permit = case
                .permit
                .as_ref()
                .filter(|p| p.id.to_string() == *id)
                .ok_or_else(|| invalid(format!("permit {id} is not in force in its case")))?;
            if !permit.is_active(now) {
                return Err(invalid(format!(
                    "permit {id} is {:?} now; extracts need an active permit",
                    permit.status(now)
                )));
            }
            let purpose = case
                .content
                .as_ref()
                .and_then(|c| c.purpose)
                .ok_or_else(|| {
                    invalid(format!("the application of permit {id} names no purpose"))
                })?;
            let frozen = halsohub_access::optout::freeze_instant(
                permit.issued_at,
                whose.refresh_opt_outs.then_some(now),
            );
            let set = crate::optout::excluded_for_purpose(db, purpose, frozen)
                .await
                .map_err(state)?;
            (frozen, set, Some(purpose))
        }
    };
    let opted_out = excluded.len();
    job.register_exclusions = excluded;
    let summary = run(&job, progress)?;
    let extract = halsohub_state::optouts::NewExtract {
        permit_id: whose.permit.clone(),
        project: job.project.clone(),
        purpose: purpose.map(|p| p.as_str().to_string()),
        snapshot: summary.snapshot.0.clone(),
        frozen_at,
        at: now,
        actor: whose.actor.clone(),
        members: summary.members.iter().map(|p| *p.as_bytes()).collect(),
    };
    let audit = crate::audit::entry(
        halsohub_audit::EntryKind::Extraction,
        now,
        &whose.actor,
        &whose
            .permit
            .clone()
            .unwrap_or_else(|| format!("project/{}", job.project)),
        serde_json::json!({
            "project": job.project,
            "purpose": extract.purpose,
            "snapshot": extract.snapshot,
            "frozen_at": frozen_at,
            "persons": summary.persons,
            "events": summary.events,
            "format": summary.format.as_str(),
            "opted_out": opted_out,
        }),
    );
    let extract_id = db.record_extract(&extract, &[audit]).await.map_err(|e| {
        ExportJobError::State(format!(
            "the export in {} was written, but recording it failed: {e}",
            summary.dir.display()
        ))
    })?;
    tracing::info!(
        extract_id,
        persons = summary.persons,
        opted_out,
        permit = whose.permit.as_deref().unwrap_or("-"),
        "extract recorded"
    );
    Ok(Extracted {
        summary,
        frozen_at,
        opted_out,
        extract_id,
    })
}

/// Domain names → domains; unknown names are refused with the known ones.
fn parse_domains(list: &[String]) -> Result<BTreeSet<Domain>, ExportJobError> {
    let invalid = |message| ExportJobError::Invalid {
        what: "--domains",
        message,
    };
    let mut out = BTreeSet::new();
    for d in list {
        let d = d.trim();
        if d.is_empty() {
            continue;
        }
        match Domain::parse(d) {
            Some(x) => {
                out.insert(x);
            }
            None => {
                return Err(invalid(format!(
                    "unknown domain {d:?}; known: {}",
                    Domain::ALL.map(Domain::as_str).join(", ")
                )));
            }
        }
    }
    if out.is_empty() {
        return Err(invalid("the list is empty".to_string()));
    }
    Ok(out)
}

/// Hub pseudonyms, one per line (`#` comments and blank lines ignored).
fn read_pseudonyms(path: &Path) -> Result<HashSet<Pseudonym>, ExportJobError> {
    let text = std::fs::read_to_string(path).map_err(|e| ExportJobError::Exclusions {
        path: path.to_path_buf(),
        line: None,
        message: format!("reading the exclusion file: {e}"),
    })?;
    let mut out = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let p: Pseudonym = line.parse().map_err(|_| ExportJobError::Exclusions {
            path: path.to_path_buf(),
            line: Some(i + 1),
            message: "not a hub pseudonym (32 hexadecimal digits)".to_string(),
        })?;
        out.insert(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_parse_and_unknown_ones_are_named() {
        let d = parse_domains(&["diagnosis".into(), " lab_result".into()]).unwrap();
        assert_eq!(d.len(), 2);
        let e = parse_domains(&["diagnoses".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("diagnoses") && e.contains("lab_result"), "{e}");
        assert!(parse_domains(&[String::new()]).is_err());
    }

    #[test]
    fn exclusion_files_name_the_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("optout.txt");
        std::fs::write(
            &p,
            "# opt-outs\n0123456789abcdef0123456789abcdef\n\nnot-hex\n",
        )
        .unwrap();
        let e = read_pseudonyms(&p).unwrap_err().to_string();
        assert!(e.contains(":4:"), "{e}");
        std::fs::write(&p, "0123456789abcdef0123456789abcdef # x\n").unwrap();
        assert_eq!(read_pseudonyms(&p).unwrap().len(), 1);
    }
}
