//! File-level errors: they abort the whole load before anything is published.

use std::path::PathBuf;

use halsohub_store::StoreError;

/// Why a load was aborted. Every variant names the file (and the line when
/// there is one) and never contains an identity number: header previews are
/// scrubbed of anything that looks like one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// Nothing to load: no paths, or directories without files.
    #[error("no input files: {reason}")]
    NoInput {
        /// What was given.
        reason: String,
    },
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be read at a particular line.
    #[error("{path}, line {line}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// 1-based line number where reading failed.
        line: u64,
        /// What went wrong.
        message: String,
    },
    /// The file has no bytes, or no header line.
    #[error("{path}: the file is empty ({reason})")]
    Empty {
        /// The file.
        path: PathBuf,
        /// What exactly was missing.
        reason: &'static str,
    },
    /// The gzip stream is damaged or ends early.
    #[error("{path}: gzip data is damaged or truncated: {message}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// The header matches no known format.
    #[error(
        "{path}: unknown format: the header line {header:?} matches none of the known formats ({known}); name one with --format"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// The header line as read (scrubbed of identity numbers, shortened).
        header: String,
        /// The known format names.
        known: String,
    },
    /// `--format fhir` on a file that does not start with a JSON object.
    #[error("{path}: not a FHIR file: FHIR JSON (a Bundle or NDJSON) starts with '{{'")]
    NotFhir {
        /// The file.
        path: PathBuf,
    },
    /// A file that cannot be read as an OMOP CDM table: `--format omop` on
    /// a file whose name is no CDM table, or a CDM table halsohub does not
    /// read given on its own (in a CDM folder such tables are skipped with
    /// a note).
    #[error("{path}: cannot be read as an OMOP CDM table: {reason}")]
    NotOmop {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// `--format` named a format whose columns the header lacks.
    #[error("{path}: not a {format} file: the header lacks the column(s) {missing}")]
    FormatMismatch {
        /// The file.
        path: PathBuf,
        /// The forced format.
        format: &'static str,
        /// The missing column names, comma-separated.
        missing: String,
    },
    /// A format name that does not exist.
    #[error("unknown format name {name:?}; known formats: {known}")]
    UnknownFormatName {
        /// The name given.
        name: String,
        /// The known format names.
        known: String,
    },
    /// The file's content changed between the two passes of a load.
    #[error(
        "{path}: the file changed while it was being loaded; load it again when it is complete"
    )]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// The store refused something.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Another file's failure stopped this one (reported only if nothing
    /// better is known).
    #[error("load cancelled")]
    Cancelled,
}

impl IngestError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        IngestError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
