//! The log-in throttle, in the database so that it holds across server
//! processes and restarts: failed (and in-flight) password log-ins per
//! username within a sliding window.
//!
//! An attempt is recorded *before* the password is checked, inside a
//! transaction that first locks one of [`LOCK_BUCKETS`] lock rows (chosen by
//! the username's hash), so concurrent attempts for one username, from any
//! process, are counted one after the other and the limit cannot be
//! overrun. A successful log-in clears the username's attempts. Rows older
//! than the window are pruned; the lock table never holds more than
//! [`LOCK_BUCKETS`] rows.

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use crate::db::{from_ms, to_ms};
use crate::{Db, StateError};

/// How many lock rows usernames are spread over.
pub const LOCK_BUCKETS: u64 = 1024;

/// When password log-ins for one username are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failed attempts allowed within `window`; the next is refused.
    pub max_failures: usize,
    /// The sliding window.
    pub window: TimeDelta,
}

impl Default for ThrottlePolicy {
    /// 5 failures per 15 minutes.
    fn default() -> ThrottlePolicy {
        ThrottlePolicy {
            max_failures: 5,
            window: TimeDelta::minutes(15),
        }
    }
}

/// A refused log-in attempt: how long until the next one is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Time until the oldest counted failure leaves the window (at least
    /// one second).
    pub retry_after: TimeDelta,
}

fn bucket(username: &str) -> i64 {
    let digest = Sha256::digest(username.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // Below LOCK_BUCKETS, so the cast cannot wrap.
    (u64::from_be_bytes(first) % LOCK_BUCKETS) as i64
}

impl Db {
    /// Starts a password log-in for `username` at `now`: refused with
    /// [`Throttled`] when `policy.max_failures` attempts already stand
    /// within the window, otherwise recorded as a failure until
    /// [`Db::login_succeeded`] clears it.
    pub async fn begin_login_attempt(
        &self,
        username: &str,
        now: DateTime<Utc>,
        policy: ThrottlePolicy,
    ) -> Result<Result<(), Throttled>, StateError> {
        if username.is_empty() {
            return Err(StateError::invalid("username", "must not be empty"));
        }
        let err = StateError::db;
        let start = to_ms(now - policy.window);
        let lock = bucket(username);
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(err("starting a log-in throttle transaction"))?;
        // Take the bucket's lock row first (a write: SQLite holds its write
        // lock from here on, PostgreSQL the row lock until commit).
        sqlx::query(
            "INSERT INTO login_locks (bucket, attempts) VALUES ($1, 0) \
             ON CONFLICT (bucket) DO NOTHING",
        )
        .bind(lock)
        .execute(&mut *tx)
        .await
        .map_err(err("locking the log-in throttle"))?;
        sqlx::query("UPDATE login_locks SET attempts = attempts + 1 WHERE bucket = $1")
            .bind(lock)
            .execute(&mut *tx)
            .await
            .map_err(err("locking the log-in throttle"))?;
        sqlx::query("DELETE FROM login_attempts WHERE username = $1 AND at <= $2")
            .bind(username)
            .bind(start)
            .execute(&mut *tx)
            .await
            .map_err(err("pruning old log-in attempts"))?;
        let times: Vec<i64> = sqlx::query_scalar(
            "SELECT at FROM login_attempts WHERE username = $1 AND at > $2 ORDER BY at",
        )
        .bind(username)
        .bind(start)
        .fetch_all(&mut *tx)
        .await
        .map_err(err("reading log-in attempts"))?;
        if policy.max_failures == 0 || times.len() >= policy.max_failures {
            tx.rollback()
                .await
                .map_err(err("ending a log-in throttle transaction"))?;
            // Accepted again once at most max_failures - 1 attempts are
            // left in the window, i.e. when times[len - max] leaves it.
            let index = times.len().saturating_sub(policy.max_failures.max(1));
            let until = match times.get(index) {
                Some(&at) => from_ms(at)? + policy.window,
                None => now + policy.window,
            };
            let retry_after = (until - now).max(TimeDelta::seconds(1));
            return Ok(Err(Throttled { retry_after }));
        }
        sqlx::query("INSERT INTO login_attempts (username, at) VALUES ($1, $2)")
            .bind(username)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await
            .map_err(err("recording a log-in attempt"))?;
        tx.commit()
            .await
            .map_err(err("committing a log-in attempt"))?;
        // Other usernames' expired attempts: best effort, outside the
        // transaction (a failure here only delays the pruning).
        if let Err(e) = sqlx::query("DELETE FROM login_attempts WHERE at <= $1")
            .bind(start)
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "pruning expired log-in attempts failed");
        }
        Ok(Ok(()))
    }

    /// A successful log-in: the username's recorded attempts are cleared.
    pub async fn login_succeeded(&self, username: &str) -> Result<(), StateError> {
        sqlx::query("DELETE FROM login_attempts WHERE username = $1")
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("clearing log-in attempts"))?;
        Ok(())
    }

    /// Attempts recorded for `username` after `since` (for tests and
    /// operators).
    pub async fn login_attempts_since(
        &self,
        username: &str,
        since: DateTime<Utc>,
    ) -> Result<i64, StateError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM login_attempts WHERE username = $1 AND at > $2")
            .bind(username)
            .bind(to_ms(since))
            .fetch_one(&self.pool)
            .await
            .map_err(StateError::db("counting log-in attempts"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_stable_and_in_range() {
        for name in ["anna", "björn", "", "x".repeat(64).as_str()] {
            let b = bucket(name);
            assert!((0..LOCK_BUCKETS as i64).contains(&b));
            assert_eq!(b, bucket(name));
        }
    }
}
