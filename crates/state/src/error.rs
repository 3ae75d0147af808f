//! The state crate's error type.

/// What went wrong in the state database. Messages say what and why, and
/// never contain secrets (passwords, tokens) or connection strings.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database URL names no supported backend.
    #[error("unsupported database URL: it must start with sqlite: or postgres:// (postgresql://)")]
    UnsupportedUrl,
    /// The database could not be opened.
    #[error("cannot open the {backend} state database: {source}")]
    Connect {
        /// Which backend.
        backend: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Migrations could not be applied.
    #[error("cannot migrate the state database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("state database error while {doing}: {source}")]
    Db {
        /// What the crate was doing.
        doing: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A row that was asked for does not exist.
    #[error("{what} not found: {id}")]
    NotFound {
        /// Kind of thing (user, organisation, case…).
        what: &'static str,
        /// Its identifier or name.
        id: String,
    },
    /// A row with this unique key exists already.
    #[error("{what} already exists: {id}")]
    AlreadyExists {
        /// Kind of thing.
        what: &'static str,
        /// Its identifier or name.
        id: String,
    },
    /// Someone else appended to the case first (optimistic concurrency).
    #[error(
        "case {case_id} was changed by someone else: expected version {expected}, it is now at version {actual}; reload the case and retry"
    )]
    Conflict {
        /// The case.
        case_id: String,
        /// The version the writer based its command on.
        expected: i64,
        /// The version in the database.
        actual: i64,
    },
    /// An idempotency key was reused for a different request.
    #[error(
        "idempotency key {key:?} was already used for a different request; use a new key for a new command"
    )]
    IdempotencyMismatch {
        /// The key.
        key: String,
    },
    /// An attachment is larger than allowed.
    #[error("attachment is {size} bytes, larger than the limit of {limit} bytes")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An input value is not acceptable.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// Password hashing or verification failed internally.
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    /// Stored data does not have the expected shape.
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt {
        /// Which data.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

impl StateError {
    pub(crate) fn db(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StateError {
        move |source| StateError::Db { doing, source }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> StateError {
        StateError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// Whether a driver error is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.is_unique_violation()
                || d.code()
                    .is_some_and(|c| c == "23505" || c == "2067" || c == "1555")
        }
        _ => false,
    }
}
