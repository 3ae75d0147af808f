//! The verifiable audit log's entries: one row per leaf index, with the
//! entry's fields, its salt and its commitment, never changed (triggers
//! refuse UPDATE and DELETE). The tree itself (tiles and signed
//! checkpoints) is in files, kept by `halsohub_audit`; this module
//! persists, it does not hash or sign — the caller computes the salt and
//! the commitment.
//!
//! Leaf indexes are taken from the `audit_head` row inside the
//! transaction that inserts the entries, so they are gapless and in commit
//! order whatever rolls back, and an entry is written in the same
//! transaction as what it records (a query-log row, case events, opt-out
//! records, an extract): one is never stored without the other.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::query_log::NewQueryLogEntry;
use crate::{Db, StateError};

/// An entry to store, with its salt and commitment.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// The entry kind's stable name (e.g. `feasibility_answer`).
    pub kind: String,
    /// When, at microsecond precision.
    pub at: DateTime<Utc>,
    /// Who acted.
    pub actor: String,
    /// What it was done to.
    pub subject: String,
    /// The details, as JSON text.
    pub payload: String,
    /// The 32-byte salt.
    pub salt: [u8; 32],
    /// `SHA-256(salt ‖ canonical entry)`.
    pub commitment: [u8; 32],
}

impl std::fmt::Debug for NewAuditEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAuditEntry")
            .field("kind", &self.kind)
            .field("subject", &self.subject)
            .field("salt", &"<withheld>")
            .finish_non_exhaustive()
    }
}

/// A stored entry.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredAuditEntry {
    /// Its leaf index.
    pub index: u64,
    /// The kind's name.
    pub kind: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who acted.
    pub actor: String,
    /// What it was done to.
    pub subject: String,
    /// The details, as JSON text.
    pub payload: String,
    /// The salt.
    pub salt: Vec<u8>,
    /// The commitment, as stored.
    pub commitment: Vec<u8>,
}

impl std::fmt::Debug for StoredAuditEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAuditEntry")
            .field("index", &self.index)
            .field("kind", &self.kind)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A row of the logs kept before the audit log existed, not yet in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unaudited {
    /// A query-log row (its id, time, user, channel, hash, outcome, reason).
    QueryLog {
        /// The row's id.
        id: i64,
        /// When.
        at: DateTime<Utc>,
        /// Who asked.
        user_id: String,
        /// `api` or `cli`.
        channel: String,
        /// The query's hash, if it parsed.
        query_hash: Option<String>,
        /// `ok` or `refused`.
        outcome: String,
        /// Why it was refused.
        reason: Option<String>,
    },
    /// A case event.
    CaseEvent {
        /// The case.
        case_id: String,
        /// Its place in the case's history.
        seq: i64,
        /// The event's type.
        event_type: String,
        /// Who acted.
        actor: String,
        /// When.
        at: DateTime<Utc>,
    },
}

fn to_us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn from_us(us: i64) -> Result<DateTime<Utc>, StateError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StateError::invalid("at", "a stored audit time is out of range"))
}

/// Inserts `entries` in `tx`, taking their indexes from `audit_head`;
/// returns the first index (the next index when `entries` is empty).
pub(crate) async fn insert(
    tx: &mut Transaction<'static, Any>,
    entries: &[NewAuditEntry],
) -> Result<u64, StateError> {
    let n = i64::try_from(entries.len()).unwrap_or(i64::MAX);
    let next: i64 =
        sqlx::query_scalar("UPDATE audit_head SET next = next + $1 WHERE id = 1 RETURNING next")
            .bind(n)
            .fetch_one(&mut **tx)
            .await
            .map_err(StateError::db("taking audit log indexes"))?;
    let first = next - n;
    for (i, e) in (first..).zip(entries) {
        sqlx::query(
            "INSERT INTO audit_entries (idx, kind, at_us, actor, subject, payload, salt, commitment) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(i)
        .bind(&e.kind)
        .bind(to_us(e.at))
        .bind(&e.actor)
        .bind(&e.subject)
        .bind(&e.payload)
        .bind(e.salt.to_vec())
        .bind(e.commitment.to_vec())
        .execute(&mut **tx)
        .await
        .map_err(StateError::db("appending to the audit log"))?;
    }
    Ok(u64::try_from(first).unwrap_or(0))
}

fn entry_row(row: &AnyRow) -> Result<StoredAuditEntry, StateError> {
    let err = || StateError::db("reading the audit log");
    Ok(StoredAuditEntry {
        index: u64::try_from(row.try_get::<i64, _>("idx").map_err(err())?).unwrap_or(0),
        kind: row.try_get("kind").map_err(err())?,
        at: from_us(row.try_get("at_us").map_err(err())?)?,
        actor: row.try_get("actor").map_err(err())?,
        subject: row.try_get("subject").map_err(err())?,
        payload: row.try_get("payload").map_err(err())?,
        salt: row.try_get("salt").map_err(err())?,
        commitment: row.try_get("commitment").map_err(err())?,
    })
}

impl Db {
    /// Appends `entries` in one transaction; returns the first index.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn append_audit(&self, entries: &[NewAuditEntry]) -> Result<u64, StateError> {
        const DOING: &str = "appending audit entries";
        let mut tx = self.begin(DOING).await?;
        let first = insert(&mut tx, entries).await?;
        crate::db::commit(tx, DOING).await?;
        Ok(first)
    }

    /// Appends a query-log row and its audit entry in one transaction:
    /// `audit` builds the entry from the row's id. Returns the row's id and
    /// the entry's index.
    ///
    /// # Errors
    /// [`StateError::Invalid`] for a malformed row; [`StateError::Db`].
    pub async fn append_query_log_audited(
        &self,
        entry: &NewQueryLogEntry,
        audit: impl FnOnce(i64) -> NewAuditEntry,
    ) -> Result<(i64, u64), StateError> {
        const DOING: &str = "writing a query-log row and its audit entry";
        let mut tx = self.begin(DOING).await?;
        let id = crate::query_log::insert(&mut tx, entry).await?;
        let index = insert(&mut tx, std::slice::from_ref(&audit(id))).await?;
        crate::db::commit(tx, DOING).await?;
        Ok((id, index))
    }

    /// The number of entries (the next index).
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn audit_size(&self) -> Result<u64, StateError> {
        let next: i64 = sqlx::query_scalar("SELECT next FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(StateError::db("reading the audit log's size"))?;
        Ok(u64::try_from(next).unwrap_or(0))
    }

    /// Entries from index `from`, at most `limit`, in index order.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn audit_entries(
        &self,
        from: u64,
        limit: u32,
    ) -> Result<Vec<StoredAuditEntry>, StateError> {
        let rows = sqlx::query(
            "SELECT idx, kind, at_us, actor, subject, payload, salt, commitment \
             FROM audit_entries WHERE idx >= $1 ORDER BY idx LIMIT $2",
        )
        .bind(i64::try_from(from).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("reading the audit log"))?;
        rows.iter().map(entry_row).collect()
    }

    /// The entry at `index`, if there is one.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn audit_entry(&self, index: u64) -> Result<Option<StoredAuditEntry>, StateError> {
        Ok(self
            .audit_entries(index, 1)
            .await?
            .into_iter()
            .find(|e| e.index == index))
    }

    /// Brings the rows of the query log and the case events that are not
    /// in the audit log yet into it, oldest first (by time; query-log rows
    /// by id, case events by case and sequence within one instant), with
    /// the entries `entry` makes of them, in one transaction holding the
    /// audit head's lock, unless that was done before. Returns how many
    /// entries were appended.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn audit_backfill(
        &self,
        mut entry: impl FnMut(&Unaudited) -> NewAuditEntry,
    ) -> Result<u64, StateError> {
        let err = StateError::db;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(err("starting the audit backfill"))?;
        // Take the head's lock first, then look.
        let done: i64 = sqlx::query_scalar(
            "UPDATE audit_head SET backfilled = backfilled WHERE id = 1 RETURNING backfilled",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(err("locking the audit head"))?;
        if done != 0 {
            tx.rollback()
                .await
                .map_err(err("ending the audit backfill"))?;
            return Ok(0);
        }
        let mut rows: Vec<(i64, u8, Unaudited)> = Vec::new();
        let q = sqlx::query(
            "SELECT q.id, q.at, q.user_id, q.channel, q.query_hash, q.outcome, q.reason \
             FROM query_log q WHERE NOT EXISTS (SELECT 1 FROM audit_entries a \
             WHERE a.kind = 'feasibility_answer' AND a.subject = 'query_log/' || CAST(q.id AS TEXT)) \
             ORDER BY q.id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(err("reading the query log for the audit backfill"))?;
        let get = || StateError::db("reading the query log for the audit backfill");
        for r in &q {
            let at: i64 = r.try_get("at").map_err(get())?;
            rows.push((
                at,
                0,
                Unaudited::QueryLog {
                    id: r.try_get("id").map_err(get())?,
                    at: crate::db::from_ms(at)?,
                    user_id: r.try_get("user_id").map_err(get())?,
                    channel: r.try_get("channel").map_err(get())?,
                    query_hash: r.try_get("query_hash").map_err(get())?,
                    outcome: r.try_get("outcome").map_err(get())?,
                    reason: r.try_get("reason").map_err(get())?,
                },
            ));
        }
        let c = sqlx::query(
            "SELECT e.case_id, e.seq, e.event_type, e.actor, e.at FROM case_events e \
             WHERE NOT EXISTS (SELECT 1 FROM audit_entries a WHERE a.kind = 'case_event' \
             AND a.subject = e.case_id || '/' || CAST(e.seq AS TEXT)) \
             ORDER BY e.at, e.case_id, e.seq",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(err("reading case events for the audit backfill"))?;
        let get = || StateError::db("reading case events for the audit backfill");
        for r in &c {
            let at: i64 = r.try_get("at").map_err(get())?;
            rows.push((
                at,
                1,
                Unaudited::CaseEvent {
                    case_id: r.try_get("case_id").map_err(get())?,
                    seq: r.try_get("seq").map_err(get())?,
                    event_type: r.try_get("event_type").map_err(get())?,
                    actor: r.try_get("actor").map_err(get())?,
                    at: crate::db::from_ms(at)?,
                },
            ));
        }
        // A stable sort: each log keeps its own order within an instant.
        rows.sort_by_key(|(at, source, _)| (*at, *source));
        let entries: Vec<NewAuditEntry> = rows.iter().map(|(_, _, u)| entry(u)).collect();
        insert(&mut tx, &entries).await?;
        sqlx::query("UPDATE audit_head SET backfilled = 1 WHERE id = 1")
            .execute(&mut *tx)
            .await
            .map_err(err("marking the audit backfill done"))?;
        tx.commit()
            .await
            .map_err(err("committing the audit backfill"))?;
        Ok(entries.len() as u64)
    }
}
