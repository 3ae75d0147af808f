//! The workspace's one error type.

use std::path::PathBuf;
use std::time::Duration;

/// Everything a workspace operation can refuse or fail with. A refused
/// statement changes nothing: the checks run before anything executes, and a
/// result table appears only once it is complete.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a workspace directory (no `tables/` folder)")]
    NotAWorkspace { path: PathBuf },
    #[error("table file {path}: {reason}")]
    BadTableFile { path: PathBuf, reason: String },
    #[error("result name {name:?}: {reason}")]
    InvalidResultName { name: String, reason: String },
    #[error("a table or result named {name:?} already exists in this workspace")]
    NameTaken { name: String },
    #[error("the statement is empty")]
    Empty,
    #[error("one statement at a time: found {count}")]
    MultipleStatements { count: usize },
    #[error("SQL syntax error: {message}")]
    Syntax { message: String },
    #[error(
        "refused: {what} — a workspace is read-only, only SELECT, WITH and EXPLAIN are allowed"
    )]
    NotReadOnly { what: String },
    #[error("refused: {what} — only the workspace's own tables can be read")]
    NotAllowed { what: String },
    #[error("unknown table {name:?}; this workspace has: {known}")]
    UnknownTable { name: String, known: String },
    #[error("the statement cannot be planned: {message}")]
    Plan { message: String },
    #[error("the statement needed more than its memory limit of {limit_bytes} bytes: {message}")]
    MemoryLimit { limit_bytes: usize, message: String },
    #[error("the statement ran past its time limit of {}s and was stopped", limit.as_secs_f64())]
    TimeLimit { limit: Duration },
    #[error("the statement was cancelled")]
    Cancelled,
    #[error("the statement failed: {message}")]
    Execution { message: String },
    #[error("{path}: result manifest: {message}")]
    Manifest { path: PathBuf, message: String },
}

impl WorkspaceError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        WorkspaceError::Io {
            path: path.into(),
            source,
        }
    }

    /// True for the refusals of the read-only rule (statement kind, several
    /// statements, tables or files outside the workspace): nothing ran.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            WorkspaceError::NotReadOnly { .. }
                | WorkspaceError::NotAllowed { .. }
                | WorkspaceError::MultipleStatements { .. }
                | WorkspaceError::UnknownTable { .. }
        )
    }
}
