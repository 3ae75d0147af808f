//! Shared by the server's integration tests.

#![allow(clippy::unwrap_used)]

use halsohub_state::{ConnectOptions, Db};

/// The state databases every test runs against: a fresh SQLite file, and
/// (when `HALSOHUB_TEST_DATABASE_URL` is set) PostgreSQL in a fresh schema;
/// otherwise a notice says the PostgreSQL variant is skipped.
pub async fn databases() -> Vec<(Db, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    );
    let mut out = vec![(Db::connect(&url).await.unwrap(), Some(dir))];
    match std::env::var("HALSOHUB_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let mut o = ConnectOptions::new(url);
            o.pg_schema = Some(format!("t_{}", uuid::Uuid::new_v4().simple()));
            o.max_connections = 4;
            out.push((Db::connect_with(o).await.unwrap(), None));
        }
        _ => eprintln!("NOTICE: HALSOHUB_TEST_DATABASE_URL is not set; PostgreSQL variant skipped"),
    }
    out
}
