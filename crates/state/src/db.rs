//! Connecting, migrating, and the small helpers every table module shares.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, AssertSqlSafe, Executor};

use crate::StateError;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (the default).
    Sqlite,
    /// PostgreSQL server (production).
    Postgres,
}

impl Backend {
    /// The backend a URL names, from its scheme.
    pub fn from_url(url: &str) -> Result<Backend, StateError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StateError::UnsupportedUrl)
        }
    }

    /// Its name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

// Dynamic SQL in this crate is only ever built from constant column lists,
// numbered placeholders and validated schema names; values are bound.

/// How to open the state database.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `sqlite://path?mode=rwc` or `postgres://user@host:port/db`.
    pub url: String,
    /// PostgreSQL only: a schema to create (if missing) and use as the
    /// search path, so several hubs (or tests) can share one database.
    pub pg_schema: Option<String>,
    /// Largest number of pooled connections.
    pub max_connections: u32,
}

impl ConnectOptions {
    /// Options for `url` with defaults (no schema, 8 connections).
    pub fn new(url: impl Into<String>) -> ConnectOptions {
        ConnectOptions {
            url: url.into(),
            pg_schema: None,
            max_connections: 8,
        }
    }
}

/// A handle on the state database: a connection pool plus its backend.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pub(crate) pool: AnyPool,
    backend: Backend,
}

/// A transaction on the state database.
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Commits `tx`; `doing` names the work in the error.
pub(crate) async fn commit(tx: Tx, doing: &'static str) -> Result<(), StateError> {
    tx.commit().await.map_err(StateError::db(doing))
}

impl Db {
    /// Starts a transaction; `doing` names the work in the error.
    pub(crate) async fn begin(&self, doing: &'static str) -> Result<Tx, StateError> {
        self.pool.begin().await.map_err(StateError::db(doing))
    }

    /// Opens (creating a SQLite file if `mode=rwc`) and migrates the database
    /// at `url`.
    pub async fn connect(url: &str) -> Result<Db, StateError> {
        Db::connect_with(ConnectOptions::new(url)).await
    }

    /// Opens and migrates the database described by `opts`.
    pub async fn connect_with(opts: ConnectOptions) -> Result<Db, StateError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(&opts.url)?;
        let connect_err = |source| StateError::Connect {
            backend: backend.name(),
            source,
        };
        let mut pool_opts = AnyPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(30));
        if let Some(schema) = &opts.pg_schema {
            if backend != Backend::Postgres {
                return Err(StateError::invalid(
                    "schema",
                    "a schema can only be given for PostgreSQL",
                ));
            }
            if schema.is_empty()
                || schema.len() > 60
                || !schema
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(StateError::invalid(
                    "schema",
                    "use 1–60 characters from a–z, 0–9 and _",
                ));
            }
            // Create the schema once, then point every pooled connection at it.
            let conn_opts = AnyConnectOptions::from_str(&opts.url).map_err(connect_err)?;
            let setup = AnyPoolOptions::new()
                .max_connections(1)
                .connect_with(conn_opts)
                .await
                .map_err(connect_err)?;
            sqlx::query(AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}"
            )))
            .execute(&setup)
            .await
            .map_err(StateError::db("creating the schema"))?;
            setup.close().await;
            let set_path = format!("SET search_path TO {schema}");
            pool_opts = pool_opts.after_connect(move |conn, _meta| {
                let set_path = set_path.clone();
                Box::pin(async move {
                    sqlx::query(AssertSqlSafe(set_path))
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let conn_opts = AnyConnectOptions::from_str(&opts.url).map_err(connect_err)?;
        let pool = pool_opts
            .connect_with(conn_opts)
            .await
            .map_err(connect_err)?;
        if backend == Backend::Sqlite {
            // WAL lets readers run beside the one writer; wait on a busy lock
            // instead of failing at once.
            pool.execute("PRAGMA journal_mode = WAL")
                .await
                .map_err(StateError::db("enabling WAL"))?;
        }
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await?;
        tracing::info!(backend = backend.name(), "state database ready");
        Ok(Db { pool, backend })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite journal mode (`wal` expected); `None` on PostgreSQL.
    pub async fn sqlite_journal_mode(&self) -> Result<Option<String>, StateError> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&self.pool)
            .await
            .map_err(StateError::db("reading the journal mode"))?;
        Ok(Some(mode))
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A time as stored: Unix milliseconds.
pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A stored time back as a `DateTime`.
pub(crate) fn from_ms(ms: i64) -> Result<DateTime<Utc>, StateError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StateError::Corrupt {
            what: "timestamp",
            reason: format!("{ms} ms is out of range"),
        })
}

/// An optional stored time.
pub(crate) fn from_ms_opt(ms: Option<i64>) -> Result<Option<DateTime<Utc>>, StateError> {
    ms.map(from_ms).transpose()
}

/// A new random identifier.
pub(crate) fn new_id() -> String {
    // A random UUID can hold a run of ten or more digits across one hyphen
    // (`19121212-1212…`), which the access domain refuses in identifiers as
    // looking like an identity number: such an account would be unusable.
    // Draw again (rare: well under 1 in 1,000).
    loop {
        let id = uuid::Uuid::new_v4().to_string();
        if !has_long_digit_run(&id) {
            return id;
        }
    }
}

/// Whether `s` has ten or more digits in a row, counting across single
/// hyphens.
fn has_long_digit_run(s: &str) -> bool {
    let mut run = 0usize;
    let mut prev_hyphen = false;
    for b in s.bytes() {
        if b.is_ascii_digit() {
            run += 1;
            prev_hyphen = false;
            if run >= 10 {
                return true;
            }
        } else if b == b'-' && !prev_hyphen && run > 0 {
            prev_hyphen = true;
        } else {
            run = 0;
            prev_hyphen = false;
        }
    }
    false
}

#[cfg(test)]
mod id_tests {
    use super::{has_long_digit_run, new_id};

    #[test]
    fn ids_never_hold_a_run_that_looks_like_an_identity_number() {
        assert!(has_long_digit_run("19121212-1212-4abc"));
        assert!(has_long_digit_run("a-1234567890"));
        assert!(!has_long_digit_run("1912121a-1212-4abc-8def-012345678abc"));
        assert!(!has_long_digit_run("12345-6789a"));
        for _ in 0..2000 {
            assert!(!has_long_digit_run(&new_id()));
        }
    }
}
