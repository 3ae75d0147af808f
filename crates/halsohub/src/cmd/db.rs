//! `--database URL`: where the state database is, for every command that
//! reads or writes it (`user`, `token`, `cases`, `count`, `serve`, `demo`).
//! The default and the opening (with migrations) are
//! [`halsohub_app::db`].

use std::path::Path;

use anyhow::Result;
use clap::Args;
use halsohub_app::db::Db;

/// Where the state database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// State database URL: `sqlite://PATH?mode=rwc` or `postgres://…`.
    /// Default: SQLite file `state.db` under the hub home.
    #[arg(long, env = "HALSOHUB_DATABASE", value_name = "URL")]
    pub database: Option<String>,
}

/// Opens (and migrates) the state database.
pub(crate) async fn open(args: &DatabaseArgs, home: &Path) -> Result<Db> {
    Ok(halsohub_app::db::open(args.database.as_deref(), home).await?)
}
