//! Persistent query quotas: the admitted queries of each user, so that
//! sliding-window limits survive restarts and hold across several server
//! processes sharing one database.
//!
//! This module persists and serialises; it does not decide. The caller
//! passes the decision (e.g. `halsohub_disclosure::QuotaPolicy::check`) as a
//! closure over the user's recent admission times; [`Db::admit_query`] runs
//! it inside a transaction that first locks the user's row in
//! `quota_locks`, so two concurrent admissions for one user are decided one
//! after the other and the limit cannot be overrun.

use chrono::{DateTime, TimeDelta, Utc};

use crate::db::{from_ms, to_ms};
use crate::{Db, StateError};

impl Db {
    /// Decides and, if admitted, records one query of `user_id` at `now`.
    ///
    /// `decide` receives the times of the user's admitted queries within
    /// `horizon` before `now` (oldest first) and returns `Ok(())` to admit
    /// or its own refusal. Returns `Ok(Err(refusal))` when refused (nothing
    /// recorded) and `Err` only when the database fails. Admissions older
    /// than `horizon` are pruned in the same transaction.
    pub async fn admit_query<E>(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
        horizon: TimeDelta,
        decide: impl FnOnce(&[DateTime<Utc>]) -> Result<(), E>,
    ) -> Result<Result<(), E>, StateError> {
        if user_id.is_empty() {
            return Err(StateError::invalid("user_id", "must not be empty"));
        }
        let err = StateError::db;
        let start = to_ms(now - horizon);
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(err("starting a quota transaction"))?;
        // Take the user's lock row first: a write, so SQLite holds its write
        // lock from here on and PostgreSQL holds the row lock until commit.
        lock_user(&mut tx, user_id, "locking the user's quota").await?;
        sqlx::query("DELETE FROM quota_uses WHERE user_id = $1 AND at <= $2")
            .bind(user_id)
            .bind(start)
            .execute(&mut *tx)
            .await
            .map_err(err("pruning old quota uses"))?;
        let times: Vec<i64> =
            sqlx::query_scalar("SELECT at FROM quota_uses WHERE user_id = $1 ORDER BY at")
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await
                .map_err(err("reading quota uses"))?;
        let history = times
            .into_iter()
            .map(from_ms)
            .collect::<Result<Vec<_>, _>>()?;
        if let Err(refusal) = decide(&history) {
            tx.rollback()
                .await
                .map_err(err("ending a quota transaction"))?;
            return Ok(Err(refusal));
        }
        sqlx::query("INSERT INTO quota_uses (user_id, at) VALUES ($1, $2)")
            .bind(user_id)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await
            .map_err(err("recording a quota use"))?;
        sqlx::query("UPDATE quota_locks SET admitted = admitted + 1 WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(err("recording a quota use"))?;
        tx.commit().await.map_err(err("committing a quota use"))?;
        Ok(Ok(()))
    }

    /// How many queries of `user_id` were admitted after `since`.
    pub async fn quota_uses_since(
        &self,
        user_id: &str,
        since: DateTime<Utc>,
    ) -> Result<i64, StateError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM quota_uses WHERE user_id = $1 AND at > $2")
            .bind(user_id)
            .bind(to_ms(since))
            .fetch_one(&self.pool)
            .await
            .map_err(StateError::db("counting quota uses"))
    }
}

/// Takes `user_id`'s row in `quota_locks` inside `tx` (creating it if
/// needed): a write, so SQLite holds its write lock from here on and
/// PostgreSQL holds the row lock until commit. Quotas and privacy budgets
/// decide under it, so concurrent requests of one user are decided one
/// after the other, across server processes.
pub(crate) async fn lock_user(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    what: &'static str,
) -> Result<(), StateError> {
    let err = StateError::db;
    sqlx::query(
        "INSERT INTO quota_locks (user_id, admitted) VALUES ($1, 0) \
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .execute(&mut **tx)
    .await
    .map_err(err(what))?;
    sqlx::query("UPDATE quota_locks SET admitted = admitted WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await
        .map_err(err(what))?;
    Ok(())
}
