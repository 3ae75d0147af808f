//! `halsohub store info|export`: a store's summary, and a pseudonymised
//! copy of a snapshot's tables. Neither needs the hub key: the tables
//! carry the store's own pseudonyms.

use std::path::{Path, PathBuf};

use halsohub_store::{SnapshotId, Store, StoreError};

pub use halsohub_store::{ExportFormat as TableFormat, ExportSummary as TablesSummary, StoreInfo};

/// Why a store could not be read or its tables exported.
#[derive(Debug, thiserror::Error)]
pub enum StoresError {
    /// The store cannot be opened or read.
    #[error("store {}: {error}", path.display())]
    Store {
        /// The store directory.
        path: PathBuf,
        /// Why.
        error: StoreError,
    },
    /// The export failed (nothing is left behind).
    #[error("exporting to {}: {error}", out.display())]
    Export {
        /// The target directory.
        out: PathBuf,
        /// Why.
        error: StoreError,
    },
}

fn open(dir: &Path) -> Result<Store, StoresError> {
    Store::open(dir).map_err(|error| StoresError::Store {
        path: dir.to_path_buf(),
        error,
    })
}

/// What the store at `dir` holds: snapshots, rows per domain and code
/// system, patients, date range, load reports.
///
/// # Errors
/// [`StoresError::Store`].
pub fn info(dir: &Path) -> Result<StoreInfo, StoresError> {
    open(dir)?.info().map_err(|error| StoresError::Store {
        path: dir.to_path_buf(),
        error,
    })
}

/// Writes the tables (events, persons, residences) of `snapshot` (the
/// current one by default) of the store at `dir` into `out`.
///
/// # Errors
/// [`StoresError`] naming the store or the target.
pub fn export_tables(
    dir: &Path,
    snapshot: Option<&str>,
    format: TableFormat,
    out: &Path,
) -> Result<TablesSummary, StoresError> {
    let store = open(dir)?;
    let id = snapshot.map(|s| SnapshotId(s.to_string()));
    let snap = store
        .snapshot(id.as_ref())
        .map_err(|error| StoresError::Store {
            path: dir.to_path_buf(),
            error,
        })?;
    halsohub_store::export(&snap, format, out).map_err(|error| StoresError::Export {
        out: out.to_path_buf(),
        error,
    })
}
