//! The feasibility query log: one row per query, answered or refused —
//! who, when, the canonical query hash, the snapshot, the output kind, the
//! protections applied and the outcome.
//!
//! Append-only by construction: this module has no update or delete, and
//! the schema refuses them (triggers on SQLite; row and TRUNCATE triggers on
//! PostgreSQL), so not even a direct SQL session can rewrite history without
//! first dropping the triggers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::db::{from_ms, to_ms};
use crate::{Db, StateError};

/// How a query ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum QueryOutcome {
    /// Answered (numbers were returned).
    Ok,
    /// Refused, with the reason (bad query, quota, evaluation limit…).
    Refused {
        /// Why, as told to the caller.
        reason: String,
    },
}

impl QueryOutcome {
    /// The stored outcome (`ok`, `refused`) and reason.
    pub fn parts(&self) -> (&'static str, Option<&str>) {
        match self {
            QueryOutcome::Ok => ("ok", None),
            QueryOutcome::Refused { reason } => ("refused", Some(reason)),
        }
    }
}

/// A query to log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewQueryLogEntry {
    /// When the query was received.
    pub at: DateTime<Utc>,
    /// Who asked (user id; `oidc:<subject>` for identity-provider callers).
    pub user_id: String,
    /// The API token used, if any.
    pub token_id: Option<String>,
    /// Where it came from: `api` or `cli`.
    pub channel: String,
    /// Canonical query hash, when the query parsed.
    pub query_hash: Option<String>,
    /// Snapshot answered from (or that would have been).
    pub snapshot: Option<String>,
    /// `count`, `funnel`, `strata`, `proportion` or `time_series`.
    pub output_kind: Option<String>,
    /// Disclosure profile name.
    pub profile: Option<String>,
    /// The protections applied: profile parameters and the precision of each
    /// kind of number released (JSON object).
    pub protections: serde_json::Value,
    /// True when exact (unprotected) numbers were released.
    pub exact: bool,
    /// Answered or refused.
    pub outcome: QueryOutcome,
}

/// A logged query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryLogEntry {
    /// Position in the log (increasing).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub user_id: String,
    /// Token used.
    pub token_id: Option<String>,
    /// `api` or `cli`.
    pub channel: String,
    /// Canonical query hash.
    pub query_hash: Option<String>,
    /// Snapshot.
    pub snapshot: Option<String>,
    /// Output kind.
    pub output_kind: Option<String>,
    /// Profile name.
    pub profile: Option<String>,
    /// Protections applied.
    pub protections: serde_json::Value,
    /// Exact numbers released.
    pub exact: bool,
    /// Outcome.
    #[serde(flatten)]
    pub outcome: QueryOutcome,
}

/// Which log rows to read. Empty filter: everything, oldest first, up to
/// `limit` (default 1000).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryLogFilter {
    /// Only this user's queries.
    pub user_id: Option<String>,
    /// Only at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only `ok` or only `refused`.
    pub outcome: Option<String>,
    /// Only this query hash.
    pub query_hash: Option<String>,
    /// Only rows with an id above this (for paging).
    pub after_id: Option<i64>,
    /// At most this many rows (1..=10 000; default 1000).
    pub limit: Option<i64>,
}

const COLUMNS: &str = "id, at, user_id, token_id, channel, query_hash, snapshot, output_kind, \
                       profile, protections, exact, outcome, reason";

fn from_row(row: &AnyRow) -> Result<QueryLogEntry, StateError> {
    let e = || StateError::db("reading the query log");
    let protections: String = row.try_get("protections").map_err(e())?;
    let outcome: String = row.try_get("outcome").map_err(e())?;
    let reason: Option<String> = row.try_get("reason").map_err(e())?;
    let exact: i64 = row.try_get("exact").map_err(e())?;
    Ok(QueryLogEntry {
        id: row.try_get("id").map_err(e())?,
        at: from_ms(row.try_get("at").map_err(e())?)?,
        user_id: row.try_get("user_id").map_err(e())?,
        token_id: row.try_get("token_id").map_err(e())?,
        channel: row.try_get("channel").map_err(e())?,
        query_hash: row.try_get("query_hash").map_err(e())?,
        snapshot: row.try_get("snapshot").map_err(e())?,
        output_kind: row.try_get("output_kind").map_err(e())?,
        profile: row.try_get("profile").map_err(e())?,
        protections: serde_json::from_str(&protections).map_err(|err| StateError::Corrupt {
            what: "query log protections",
            reason: err.to_string(),
        })?,
        exact: exact != 0,
        outcome: match outcome.as_str() {
            "ok" => QueryOutcome::Ok,
            "refused" => QueryOutcome::Refused {
                reason: reason.unwrap_or_default(),
            },
            other => {
                return Err(StateError::Corrupt {
                    what: "query log outcome",
                    reason: format!("unknown outcome {other:?}"),
                });
            }
        },
    })
}

impl Db {
    /// Appends one query to the log and returns its id. The log is never
    /// changed afterwards.
    pub async fn append_query_log(&self, entry: &NewQueryLogEntry) -> Result<i64, StateError> {
        const DOING: &str = "writing a query-log row";
        let mut tx = self.begin(DOING).await?;
        let id = insert(&mut tx, entry).await?;
        crate::db::commit(tx, DOING).await?;
        Ok(id)
    }

    /// Reads the log, oldest first, filtered.
    pub async fn query_log(
        &self,
        filter: &QueryLogFilter,
    ) -> Result<Vec<QueryLogEntry>, StateError> {
        let limit = filter.limit.unwrap_or(1000);
        if !(1..=10_000).contains(&limit) {
            return Err(StateError::invalid("limit", "must be within 1..=10000"));
        }
        if let Some(o) = &filter.outcome
            && !matches!(o.as_str(), "ok" | "refused")
        {
            return Err(StateError::invalid(
                "outcome",
                "must be \"ok\" or \"refused\"",
            ));
        }
        // Conditions are constant text with numbered placeholders; values
        // are bound below in the same order.
        let mut n = 0usize;
        let mut next = || {
            n += 1;
            n
        };
        let mut sql_conds = Vec::new();
        if filter.user_id.is_some() {
            sql_conds.push(format!("user_id = ${}", next()));
        }
        if filter.since.is_some() {
            sql_conds.push(format!("at >= ${}", next()));
        }
        if filter.until.is_some() {
            sql_conds.push(format!("at < ${}", next()));
        }
        if filter.outcome.is_some() {
            sql_conds.push(format!("outcome = ${}", next()));
        }
        if filter.query_hash.is_some() {
            sql_conds.push(format!("query_hash = ${}", next()));
        }
        if filter.after_id.is_some() {
            sql_conds.push(format!("id > ${}", next()));
        }
        let limit_param = next();
        let where_clause = if sql_conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", sql_conds.join(" AND "))
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM query_log {where_clause} ORDER BY id LIMIT ${limit_param}"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        if let Some(u) = &filter.user_id {
            q = q.bind(u.clone());
        }
        if let Some(t) = filter.since {
            q = q.bind(to_ms(t));
        }
        if let Some(t) = filter.until {
            q = q.bind(to_ms(t));
        }
        if let Some(o) = &filter.outcome {
            q = q.bind(o.clone());
        }
        if let Some(h) = &filter.query_hash {
            q = q.bind(h.clone());
        }
        if let Some(id) = filter.after_id {
            q = q.bind(id);
        }
        q = q.bind(limit);
        let rows = q
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("reading the query log"))?;
        rows.iter().map(from_row).collect()
    }
}

/// Inserts a query-log row in `tx`; returns its id.
pub(crate) async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    entry: &NewQueryLogEntry,
) -> Result<i64, StateError> {
    if entry.user_id.is_empty() {
        return Err(StateError::invalid("user_id", "must not be empty"));
    }
    if !matches!(entry.channel.as_str(), "api" | "cli") {
        return Err(StateError::invalid("channel", "must be \"api\" or \"cli\""));
    }
    let (outcome, reason) = entry.outcome.parts();
    let protections = serde_json::to_string(&entry.protections)
        .map_err(|err| StateError::invalid("protections", format!("cannot be stored: {err}")))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO query_log (at, user_id, token_id, channel, query_hash, snapshot, \
             output_kind, profile, protections, exact, outcome, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(to_ms(entry.at))
    .bind(&entry.user_id)
    .bind(&entry.token_id)
    .bind(&entry.channel)
    .bind(&entry.query_hash)
    .bind(&entry.snapshot)
    .bind(&entry.output_kind)
    .bind(&entry.profile)
    .bind(protections)
    .bind(i64::from(entry.exact))
    .bind(outcome)
    .bind(reason)
    .fetch_one(&mut **tx)
    .await
    .map_err(StateError::db("appending to the query log"))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::ConnectOptions;

    async fn backends() -> Vec<(Db, Option<tempfile::TempDir>)> {
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
                o.max_connections = 2;
                out.push((Db::connect_with(o).await.unwrap(), None));
            }
            _ => eprintln!(
                "NOTICE: HALSOHUB_TEST_DATABASE_URL is not set; PostgreSQL variant skipped"
            ),
        }
        out
    }

    /// The schema itself refuses UPDATE, DELETE (and on PostgreSQL
    /// TRUNCATE) of the log, whoever issues them.
    #[tokio::test]
    async fn the_schema_refuses_to_rewrite_the_log() {
        for (db, _dir) in backends().await {
            let id = db
                .append_query_log(&NewQueryLogEntry {
                    at: Utc::now(),
                    user_id: "u1".into(),
                    token_id: None,
                    channel: "api".into(),
                    query_hash: Some("sha256:00".into()),
                    snapshot: Some("s1".into()),
                    output_kind: Some("count".into()),
                    profile: Some("feasibility".into()),
                    protections: serde_json::json!({"count": ["rounded"]}),
                    exact: false,
                    outcome: QueryOutcome::Ok,
                })
                .await
                .unwrap();
            let upd = sqlx::query("UPDATE query_log SET user_id = 'someone else' WHERE id = $1")
                .bind(id)
                .execute(&db.pool)
                .await;
            let msg = upd.unwrap_err().to_string();
            assert!(msg.contains("append-only"), "{:?}: {msg}", db.backend());
            let del = sqlx::query("DELETE FROM query_log").execute(&db.pool).await;
            assert!(del.unwrap_err().to_string().contains("append-only"));
            if db.backend() == crate::Backend::Postgres {
                let tr = sqlx::query("TRUNCATE query_log").execute(&db.pool).await;
                assert!(tr.unwrap_err().to_string().contains("append-only"));
            }
            let rows = db.query_log(&QueryLogFilter::default()).await.unwrap();
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].user_id, "u1");
        }
    }
}
