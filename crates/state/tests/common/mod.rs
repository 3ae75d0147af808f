//! Test databases: always a SQLite temp file; PostgreSQL (in a fresh
//! schema) when HALSOHUB_TEST_DATABASE_URL is set.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use halsohub_state::{ConnectOptions, Db};

/// A database under test plus what keeps it alive.
pub struct TestDb {
    pub db: Db,
    pub label: &'static str,
    /// How to open the same database again (a second "process").
    pub opts: ConnectOptions,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A second, independent handle on the same database.
    pub async fn reopen(&self) -> Db {
        Db::connect_with(self.opts.clone()).await.unwrap()
    }
}

/// Every backend available to this run.
pub async fn backends() -> Vec<TestDb> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    );
    out.push(TestDb {
        db: Db::connect(&url).await.unwrap(),
        label: "sqlite",
        opts: ConnectOptions::new(url),
        _dir: Some(dir),
    });
    match std::env::var("HALSOHUB_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let mut opts = ConnectOptions::new(url);
            opts.pg_schema = Some(schema);
            opts.max_connections = 4;
            out.push(TestDb {
                db: Db::connect_with(opts.clone()).await.unwrap(),
                label: "postgres",
                opts,
                _dir: None,
            });
        }
        _ => eprintln!("NOTICE: HALSOHUB_TEST_DATABASE_URL is not set; PostgreSQL variant skipped"),
    }
    out
}
