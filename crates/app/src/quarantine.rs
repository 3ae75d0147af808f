//! The quarantine service: re-evaluating rows that were quarantined under
//! an older rule, for `halsohub quarantine retry` (the binary only parses
//! and renders).
//!
//! Today it retries the unit rule: register lab rows quarantined as
//! `incompatible_unit` before ingest accepted every unit that converts to
//! the analyte's canonical unit ([`halsohub_ingest::retry_unit_quarantine`]).
//! The retry is a load: one new snapshot or, on any file-level error,
//! nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use halsohub_identity::ParseOptions;
use halsohub_ingest::{IngestOptions, LoadReport, Progress};

use crate::hub::{Hub, HubError};

/// The source files with rows waiting for a unit retry, and how many lines
/// of each (for the data steward running the hub; not a released count).
///
/// # Errors
/// [`HubError::Ingest`] when the store cannot be read.
pub fn waiting(hub: &Hub) -> Result<BTreeMap<String, usize>, HubError> {
    halsohub_ingest::open_unit_quarantine(hub.store())
        .map(|open| open.into_iter().map(|(f, l)| (f, l.len())).collect())
        .map_err(|error| HubError::Ingest {
            path: hub.store().root().to_path_buf(),
            error,
        })
}

/// Re-reads the rows of `paths` (the delivery, given again) that wait in
/// the quarantine for a unit retry and commits those accepted now as a new
/// snapshot; rows that still fail are quarantined again. `reference` is
/// the extract date given to the delivery's load. The report's `retry` and
/// totals show the change.
///
/// # Errors
/// [`HubError::Ingest`]: the first file-level error; the store is
/// unchanged.
pub fn retry_units(
    hub: &Hub,
    paths: &[PathBuf],
    reference: NaiveDate,
    progress: &dyn Progress,
) -> Result<LoadReport, HubError> {
    let options = IngestOptions {
        identity: ParseOptions::new(reference),
        ..IngestOptions::default()
    };
    halsohub_ingest::retry_unit_quarantine(
        hub.store(),
        &hub.pseudonymiser(),
        paths,
        &options,
        progress,
    )
    .map_err(|error| HubError::Ingest {
        path: hub.store().root().to_path_buf(),
        error,
    })
}
