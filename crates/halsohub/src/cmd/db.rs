//! `--database URL`: where the state database is, for every command that
//! reads or writes it (`user`, `token`, `cases`, `count`, `serve`, `demo`).

use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;
use halsohub_state::Db;

/// Where the state database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// State database URL: `sqlite://PATH?mode=rwc` or `postgres://…`.
    /// Default: SQLite file `state.db` under the hub home.
    #[arg(long, env = "HALSOHUB_DATABASE", value_name = "URL")]
    pub database: Option<String>,
}

/// The database URL: the explicit one, else `state.db` under the hub home.
pub fn database_url(args: &DatabaseArgs, home: &Path) -> Result<String> {
    if let Some(u) = &args.database {
        return Ok(u.clone());
    }
    std::fs::create_dir_all(home)
        .with_context(|| format!("cannot create the hub home {}", home.display()))?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        home.join("state.db").display()
    ))
}

/// Opens (and migrates) the state database.
pub(crate) async fn open(args: &DatabaseArgs, home: &Path) -> Result<Db> {
    let url = database_url(args, home)?;
    Db::connect(&url)
        .await
        .context("cannot open the state database")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_defaults_to_sqlite_under_the_home() {
        let dir = tempfile::tempdir().unwrap();
        let url = database_url(&DatabaseArgs { database: None }, dir.path()).unwrap();
        assert_eq!(
            url,
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("state.db").display()
            )
        );
        let explicit = DatabaseArgs {
            database: Some("postgres://x@127.0.0.1/db".into()),
        };
        assert_eq!(
            database_url(&explicit, dir.path()).unwrap(),
            "postgres://x@127.0.0.1/db"
        );
    }
}
