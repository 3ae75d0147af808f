//! The privacy budget's charges and the differencing guard's anchors, so
//! both hold across tokens, sessions, restarts, snapshots and servers
//! sharing one database.
//!
//! This module persists; it does not decide. [`Db::charge_budget`] runs the
//! caller's decision (e.g. `halsohub_disclosure::BudgetPolicy::charge`)
//! inside a transaction holding the user's row lock in `quota_locks` (the
//! same lock as query quotas), so concurrent answers for one user cannot
//! overspend. Anchors are stored as opaque fingerprint bytes with the set's
//! size (for the size prefilter) and tag sum (one row per set and scope).

use chrono::{DateTime, Utc};

use crate::db::to_ms;
use crate::{Db, StateError};

/// Size ranges read by one statement of [`Db::anchors_in`] (two bound
/// parameters each, well under SQLite's and PostgreSQL's limits).
pub const RANGES_PER_STATEMENT: usize = 400;

/// A stored guard anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnchor {
    /// Persons in the set.
    pub persons: u64,
    /// The set's tag sum (mod 2^64).
    pub tag_sum: u64,
    /// The set's encoded fingerprint.
    pub print: Vec<u8>,
    /// The released noisy value (before threshold and rounding).
    pub value: u64,
    /// Whether it was released suppressed.
    pub suppressed: bool,
}

/// What [`Db::charge_budget`]'s decision sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetLedger {
    /// Numbers charged to the user in the period so far.
    pub spent: u64,
    /// The same query key was charged in this period already.
    pub repeat: bool,
}

fn to_i64(v: u64) -> i64 {
    // Stored bit for bit: sums use all 64 bits.
    v as i64
}

fn to_u64(v: i64) -> u64 {
    v as u64
}

impl Db {
    /// Charges a query to `user_id`'s budget for the period starting at
    /// `period_start`. `decide` sees what was spent and whether this
    /// `query_key` was charged in the period already, and returns the cost
    /// to record (0 for a free repeat) or its refusal, which is returned as
    /// `Ok(Err(refusal))` with nothing recorded.
    pub async fn charge_budget<T, E>(
        &self,
        user_id: &str,
        period_start: DateTime<Utc>,
        query_key: &str,
        now: DateTime<Utc>,
        decide: impl FnOnce(BudgetLedger) -> Result<(u64, T), E>,
    ) -> Result<Result<T, E>, StateError> {
        if user_id.is_empty() {
            return Err(StateError::invalid("user_id", "must not be empty"));
        }
        let err = StateError::db;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(err("starting a budget transaction"))?;
        crate::quota::lock_user(&mut tx, user_id, "locking the user's budget").await?;
        let start = to_ms(period_start);
        let repeat: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM budget_charges \
             WHERE user_id = $1 AND period_start = $2 AND query_key = $3",
        )
        .bind(user_id)
        .bind(start)
        .bind(query_key)
        .fetch_one(&mut *tx)
        .await
        .map_err(err("reading budget charges"))?;
        let spent: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(cost), 0) AS BIGINT) FROM budget_charges \
             WHERE user_id = $1 AND period_start = $2",
        )
        .bind(user_id)
        .bind(start)
        .fetch_one(&mut *tx)
        .await
        .map_err(err("reading budget charges"))?;
        let ledger = BudgetLedger {
            spent: u64::try_from(spent.unwrap_or(0)).unwrap_or(0),
            repeat: repeat > 0,
        };
        let (cost, out) = match decide(ledger) {
            Ok(x) => x,
            Err(refusal) => {
                tx.rollback()
                    .await
                    .map_err(err("ending a budget transaction"))?;
                return Ok(Err(refusal));
            }
        };
        if !ledger.repeat {
            sqlx::query(
                "INSERT INTO budget_charges (user_id, period_start, query_key, cost, at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(user_id)
            .bind(start)
            .bind(query_key)
            .bind(i64::try_from(cost).unwrap_or(i64::MAX))
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await
            .map_err(err("recording a budget charge"))?;
        }
        tx.commit()
            .await
            .map_err(err("committing a budget charge"))?;
        Ok(Ok(out))
    }

    /// Numbers charged to `user_id` in the period starting at `period_start`.
    pub async fn budget_spent(
        &self,
        user_id: &str,
        period_start: DateTime<Utc>,
    ) -> Result<u64, StateError> {
        let spent: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(cost), 0) AS BIGINT) FROM budget_charges \
             WHERE user_id = $1 AND period_start = $2",
        )
        .bind(user_id)
        .bind(to_ms(period_start))
        .fetch_one(&self.pool)
        .await
        .map_err(StateError::db("reading budget charges"))?;
        Ok(u64::try_from(spent.unwrap_or(0)).unwrap_or(0))
    }

    /// Anchors whose set size lies within one of the inclusive `ranges`, of
    /// `scope` (a user) or of every scope when `scope` is `None`, oldest
    /// first. One statement per [`RANGES_PER_STATEMENT`] ranges: an answer
    /// with many numbers (strata, series) asks the database once, not once
    /// per number.
    pub async fn anchors_in(
        &self,
        scope: Option<&str>,
        ranges: &[(u64, u64)],
    ) -> Result<Vec<StoredAnchor>, StateError> {
        let mut out = Vec::new();
        for chunk in ranges.chunks(RANGES_PER_STATEMENT) {
            let first = usize::from(scope.is_some()) + 1;
            let between: Vec<String> = (0..chunk.len())
                .map(|k| {
                    let lo = first + 2 * k;
                    format!("persons BETWEEN ${lo} AND ${}", lo + 1)
                })
                .collect();
            let sql = format!(
                "SELECT persons, tag_sum, print, value, suppressed FROM guard_anchors \
                 WHERE {}({}) ORDER BY id",
                if scope.is_some() {
                    "scope = $1 AND "
                } else {
                    ""
                },
                between.join(" OR ")
            );
            // Only placeholders are formatted into the statement.
            let mut q =
                sqlx::query_as::<_, (i64, i64, Vec<u8>, i64, i64)>(sqlx::AssertSqlSafe(sql));
            if let Some(s) = scope {
                q = q.bind(s);
            }
            for &(lo, hi) in chunk {
                q = q
                    .bind(i64::try_from(lo).unwrap_or(i64::MAX))
                    .bind(i64::try_from(hi).unwrap_or(i64::MAX));
            }
            let rows = q
                .fetch_all(&self.pool)
                .await
                .map_err(StateError::db("reading guard anchors"))?;
            out.extend(
                rows.into_iter().map(
                    |(persons, tag_sum, print, value, suppressed)| StoredAnchor {
                        persons: to_u64(persons),
                        tag_sum: to_u64(tag_sum),
                        print,
                        value: to_u64(value),
                        suppressed: suppressed != 0,
                    },
                ),
            );
        }
        Ok(out)
    }

    /// Stores anchors of `scope` (a user). An anchor for a set already
    /// stored in the scope only ever turns it suppressed.
    pub async fn store_anchors(
        &self,
        scope: &str,
        anchors: &[StoredAnchor],
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        if anchors.is_empty() {
            return Ok(());
        }
        let err = StateError::db;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(err("starting an anchor transaction"))?;
        for a in anchors {
            sqlx::query(
                "INSERT INTO guard_anchors (scope, persons, tag_sum, print, value, suppressed, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (scope, persons, tag_sum) DO UPDATE SET suppressed = \
                 CASE WHEN excluded.suppressed > guard_anchors.suppressed \
                 THEN excluded.suppressed ELSE guard_anchors.suppressed END",
            )
            .bind(scope)
            .bind(to_i64(a.persons))
            .bind(to_i64(a.tag_sum))
            .bind(a.print.clone())
            .bind(to_i64(a.value))
            .bind(i64::from(a.suppressed))
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await
            .map_err(err("storing a guard anchor"))?;
        }
        tx.commit().await.map_err(err("committing guard anchors"))?;
        Ok(())
    }

    /// Anchors stored for `scope` (for the stated storage bound).
    pub async fn anchor_count(&self, scope: &str) -> Result<u64, StateError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM guard_anchors WHERE scope = $1")
            .bind(scope)
            .fetch_one(&self.pool)
            .await
            .map_err(StateError::db("counting guard anchors"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
