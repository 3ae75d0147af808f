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
