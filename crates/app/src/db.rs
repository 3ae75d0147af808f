//! The state database for the edges: where it is (`--database`, else
//! `state.db` under the hub home) and opening it, which runs the
//! migrations of its backend (`halsohub_state::Db::connect`). The types
//! an edge names are re-exported here, so the binary and the server need
//! no dependency on `halsohub-state`.

use std::path::{Path, PathBuf};

pub use halsohub_state::{Db, StateError};

/// Why the state database could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The hub home, where the default database lives, cannot be created.
    #[error("cannot create the hub home {}: {error}", path.display())]
    Home {
        /// The hub home.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The database cannot be opened or migrated.
    #[error("cannot open the state database: {0}")]
    Open(#[from] StateError),
    /// The earlier logs could not be brought into the audit log.
    #[error("cannot bring the earlier logs into the audit log: {0}")]
    Audit(String),
}

/// The database URL: `explicit` when given, else the SQLite file
/// `state.db` under `home` (created if missing).
///
/// # Errors
/// [`DbError::Home`] when the home cannot be created.
pub fn database_url(explicit: Option<&str>, home: &Path) -> Result<String, DbError> {
    if let Some(u) = explicit {
        return Ok(u.to_string());
    }
    std::fs::create_dir_all(home).map_err(|error| DbError::Home {
        path: home.to_path_buf(),
        error,
    })?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        home.join("state.db").display()
    ))
}

/// Opens the state database at `explicit` (else the default under
/// `home`), brings its schema up to date, and brings the rows of the
/// query log and case events written before the audit log existed into
/// it (once; [`crate::audit::backfill`]).
///
/// # Errors
/// [`DbError`] saying which step failed.
pub async fn open(explicit: Option<&str>, home: &Path) -> Result<Db, DbError> {
    let url = database_url(explicit, home)?;
    let db = Db::connect(&url).await?;
    crate::audit::backfill(&db).await.map_err(|e| match e {
        crate::audit::AuditError::State(s) => DbError::Open(s),
        other => DbError::Audit(other.to_string()),
    })?;
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_defaults_to_sqlite_under_the_home() {
        let dir = tempfile::tempdir().unwrap();
        let url = database_url(None, dir.path()).unwrap();
        assert_eq!(
            url,
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("state.db").display()
            )
        );
        assert_eq!(
            database_url(Some("postgres://x@127.0.0.1/db"), dir.path()).unwrap(),
            "postgres://x@127.0.0.1/db"
        );
    }
}
