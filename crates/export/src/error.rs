//! Errors of an export. Every variant names where and why.

use std::path::PathBuf;

/// Why an export failed. Nothing is left behind at the target when one is
/// returned (the staging directory is removed).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the snapshot failed.
    #[error(transparent)]
    Store(#[from] halsohub_store::StoreError),
    /// The cohort engine could not be built from the snapshot.
    #[error(transparent)]
    Engine(#[from] halsohub_cohort::EngineLoadError),
    /// The cohort query could not be evaluated.
    #[error("cohort query: {0}")]
    Cohort(#[from] halsohub_cohort::EvalError),
    /// Writing a file of the export failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing a table (CSV or Parquet encoding) failed.
    #[error("{path}: {message}")]
    Write { path: PathBuf, message: String },
    /// The snapshot holds something the export cannot write.
    #[error("{path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    /// The export target must not be written.
    #[error("{path}: {message}")]
    Target { path: PathBuf, message: String },
    /// The request itself is wrong (empty project name, period ending
    /// before it starts, ...).
    #[error("{what}: {message}")]
    Invalid { what: &'static str, message: String },
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn write_err(path: &std::path::Path, e: impl std::fmt::Display) -> ExportError {
    ExportError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

pub(crate) fn corrupt(path: &std::path::Path, message: impl Into<String>) -> ExportError {
    ExportError::Corrupt {
        path: path.to_path_buf(),
        message: message.into(),
    }
}
