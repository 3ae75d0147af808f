//! `halsohub ingest` (and the demo's load): open or create the store for
//! the key (the key file outside it, its fingerprint the store's) and load
//! the given files as one snapshot.

use std::path::PathBuf;

use chrono::NaiveDate;
use halsohub_identity::ParseOptions;
use halsohub_ingest::{Format, IngestOptions};

pub use halsohub_ingest::{LoadReport, Progress as LoadProgress};

use crate::hub::{Hub, HubError};

/// One load.
#[derive(Debug, Clone)]
pub struct LoadJob {
    /// The store directory (created on the first load).
    pub store: PathBuf,
    /// The hub key file.
    pub key: PathBuf,
    /// Source files or directories.
    pub paths: Vec<PathBuf>,
    /// The extracts' date: decides the century of 10-digit numbers.
    pub reference: NaiveDate,
    /// Read every file as this format (its name) instead of detecting it.
    pub format: Option<String>,
}

/// Why a load did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The format name is unknown.
    #[error("--format: {0}")]
    Format(String),
    /// The hub cannot be opened, or the load failed (the store is
    /// unchanged).
    #[error(transparent)]
    Hub(#[from] HubError),
}

/// Loads `job.paths` into `job.store`, reporting bytes read to `progress`.
///
/// # Errors
/// [`LoadError`]: an unknown format, a key that is not the store's or lies
/// inside it, or a file-level problem of the load.
pub fn load(job: &LoadJob, progress: &dyn LoadProgress) -> Result<LoadReport, LoadError> {
    let format = job
        .format
        .as_deref()
        .map(Format::parse)
        .transpose()
        .map_err(|e| LoadError::Format(e.to_string()))?;
    let hub = Hub::open_for_load(&job.store, &job.key)?;
    let options = IngestOptions {
        format,
        identity: ParseOptions::new(job.reference),
        ..IngestOptions::default()
    };
    Ok(hub.ingest(&job.paths, &options, progress)?)
}

/// The opt-out deliveries among a load's paths (recorded in the state
/// database, not the store) and whether there is anything else to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPlan {
    /// The national e-service's opt-out delivery files.
    pub deliveries: Vec<PathBuf>,
    /// Whether the paths hold source files for the store.
    pub has_sources: bool,
}

/// Splits `job.paths` into opt-out deliveries and source files.
///
/// # Errors
/// [`LoadError::Hub`] when a path cannot be listed.
pub fn plan(job: &LoadJob) -> Result<LoadPlan, LoadError> {
    let (deliveries, others) =
        halsohub_ingest::optout::optout_deliveries(&job.paths).map_err(|error| {
            LoadError::Hub(HubError::Ingest {
                path: job.store.clone(),
                error,
            })
        })?;
    Ok(LoadPlan {
        deliveries,
        has_sources: others > 0,
    })
}

/// Records the opt-out deliveries of `plan` in `db` under the store's key
/// (the store must exist: the pseudonyms must be its own), each file in
/// one transaction, by `actor` at `now`.
///
/// # Errors
/// [`crate::optout::OptOutError`] naming the file; the files before it
/// stay recorded (each is complete on its own), those after it are not
/// read.
pub async fn record_deliveries(
    job: &LoadJob,
    plan: &LoadPlan,
    db: &halsohub_state::Db,
    actor: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<crate::optout::DeliveryReport>, crate::optout::OptOutError> {
    if plan.deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let hub = Hub::open(&job.store, &job.key).map_err(|e| crate::optout::OptOutError::Invalid {
        field: "--store",
        message: format!("opt-out deliveries are pseudonymised with the store's key: {e}"),
    })?;
    let pseudonymiser = hub.pseudonymiser();
    let options = ParseOptions::new(job.reference);
    let mut out = Vec::with_capacity(plan.deliveries.len());
    for path in &plan.deliveries {
        out.push(
            crate::optout::record_delivery(db, path, &pseudonymiser, &options, actor, now).await?,
        );
    }
    Ok(out)
}
