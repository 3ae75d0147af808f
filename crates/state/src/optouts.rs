//! The citizens' opt-out register and the record of extracts.
//!
//! This module persists; it does not decide. Who is excluded for what at
//! which instant is `halsohub_access::optout`'s fold over the records read
//! here. Persons are hub pseudonyms (never identity numbers). Records are
//! append-only (triggers refuse update and delete); a withdrawal is its own
//! record. A delivery file is recorded once per content hash, all its
//! records with it in one transaction, or none. Extracts keep the sorted
//! 16-byte pseudonyms of the persons they held, so that a citizen can be
//! told which permits used their data without anything about anyone else.
//! Each write takes the audit entries that record it and stores them in
//! the same transaction.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::NewAuditEntry;
use crate::db::{from_ms, to_ms};
use crate::{Db, StateError};

/// A record to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOptOut {
    /// The person's hub pseudonym (32 hexadecimal digits).
    pub pseudonym: String,
    /// `all` or a purpose's wire name.
    pub scope: String,
    /// `opt_out` or `withdrawal`.
    pub action: String,
    /// From when it applies.
    pub effective_at: DateTime<Utc>,
    /// Where it came from: a delivery file's name and line, or `api`.
    pub reference: String,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredOptOut {
    /// The register's order of recording.
    pub id: i64,
    /// The person's hub pseudonym.
    #[serde(skip)]
    pub pseudonym: String,
    /// `all` or a purpose.
    pub scope: String,
    /// `opt_out` or `withdrawal`.
    pub action: String,
    /// From when it applies.
    pub effective_at: DateTime<Utc>,
    /// When the hub recorded it.
    pub recorded_at: DateTime<Utc>,
    /// `file` or `api`.
    pub channel: String,
    /// The delivery file and line, or `api`.
    pub reference: String,
    /// Who recorded it (the citizen's own session is `citizen`).
    pub actor: String,
}

/// A delivery file about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// SHA-256 of the file's bytes (hex).
    pub sha256: String,
    /// The file's name (no directory).
    pub file_name: String,
    /// Who loaded it.
    pub actor: String,
    /// The lines not recorded: (line number, reason code).
    pub rejections: Vec<(u64, String)>,
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Recorded now, with this many records.
    Recorded {
        /// The delivery's id.
        id: i64,
        /// Records stored.
        records: u64,
    },
    /// The same file (by content) was recorded before; nothing was stored.
    AlreadyRecorded {
        /// The earlier delivery's id.
        id: i64,
        /// When it was recorded.
        at: DateTime<Utc>,
    },
}

/// A recorded delivery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredDelivery {
    /// Its id.
    pub id: i64,
    /// SHA-256 of the file.
    pub sha256: String,
    /// The file's name.
    pub file_name: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Who loaded it.
    pub actor: String,
    /// Records stored.
    pub records: u64,
    /// Lines rejected.
    pub rejected: u64,
}

/// An extract to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExtract {
    /// The permit it was made under, if any.
    pub permit_id: Option<String>,
    /// The project name its pseudonyms are for.
    pub project: String,
    /// The permit's purpose (wire name), if known.
    pub purpose: Option<String>,
    /// The snapshot it was read from.
    pub snapshot: String,
    /// The register instant its opt-outs were read at.
    pub frozen_at: DateTime<Utc>,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// Who made it.
    pub actor: String,
    /// The persons it held (hub pseudonyms as bytes), any order.
    pub members: Vec<[u8; 16]>,
}

/// A recorded extract (without its members).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredExtract {
    /// Its id.
    pub id: i64,
    /// The permit it was made under, if any.
    pub permit_id: Option<String>,
    /// The project.
    pub project: String,
    /// The purpose, if known.
    pub purpose: Option<String>,
    /// The snapshot read.
    pub snapshot: String,
    /// The register instant its opt-outs were read at.
    pub frozen_at: DateTime<Utc>,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// Persons in it.
    pub persons: u64,
}

/// Whether `sorted` (16-byte records in ascending order) holds `person`.
fn holds(sorted: &[u8], person: &[u8; 16]) -> bool {
    sorted.as_chunks::<16>().0.binary_search(person).is_ok()
}

fn check(r: &NewOptOut) -> Result<(), StateError> {
    if r.pseudonym.len() != 32 || !r.pseudonym.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(StateError::invalid(
            "pseudonym",
            "must be 32 hexadecimal digits",
        ));
    }
    if !matches!(r.action.as_str(), "opt_out" | "withdrawal") {
        return Err(StateError::invalid(
            "action",
            "must be \"opt_out\" or \"withdrawal\"",
        ));
    }
    if r.scope.is_empty() || r.scope.len() > 64 {
        return Err(StateError::invalid("scope", "must be 1 to 64 characters"));
    }
    Ok(())
}

const RECORD_COLUMNS: &str =
    "id, pseudonym, scope, action, effective_at, recorded_at, channel, reference, actor";

fn record_row(row: &AnyRow) -> Result<StoredOptOut, StateError> {
    let err = || StateError::db("reading the opt-out register");
    Ok(StoredOptOut {
        id: row.try_get("id").map_err(err())?,
        pseudonym: row.try_get("pseudonym").map_err(err())?,
        scope: row.try_get("scope").map_err(err())?,
        action: row.try_get("action").map_err(err())?,
        effective_at: from_ms(row.try_get("effective_at").map_err(err())?)?,
        recorded_at: from_ms(row.try_get("recorded_at").map_err(err())?)?,
        channel: row.try_get("channel").map_err(err())?,
        reference: row.try_get("reference").map_err(err())?,
        actor: row.try_get("actor").map_err(err())?,
    })
}

async fn insert_records(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    records: &[NewOptOut],
    channel: &str,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<Vec<i64>, StateError> {
    let mut ids = Vec::with_capacity(records.len());
    for r in records {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO optout_records (pseudonym, scope, action, effective_at, recorded_at, \
             channel, reference, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(r.pseudonym.to_ascii_lowercase())
        .bind(&r.scope)
        .bind(&r.action)
        .bind(to_ms(r.effective_at))
        .bind(to_ms(at))
        .bind(channel)
        .bind(&r.reference)
        .bind(actor)
        .fetch_one(&mut **tx)
        .await
        .map_err(StateError::db("recording an opt-out"))?;
        ids.push(id);
    }
    Ok(ids)
}

impl Db {
    /// Records `records` (from `channel`, e.g. `api`, by `actor`) at `at`,
    /// all in one transaction; returns their ids in order.
    ///
    /// # Errors
    /// [`StateError::Invalid`] for a malformed record (nothing is stored);
    /// [`StateError::Db`].
    pub async fn record_optouts(
        &self,
        records: &[NewOptOut],
        channel: &str,
        actor: &str,
        at: DateTime<Utc>,
        audit: &[NewAuditEntry],
    ) -> Result<Vec<i64>, StateError> {
        for r in records {
            check(r)?;
        }
        let err = StateError::db;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(err("starting an opt-out transaction"))?;
        let ids = insert_records(&mut tx, records, channel, actor, at).await?;
        crate::audit::insert(&mut tx, audit).await?;
        tx.commit()
            .await
            .map_err(err("committing an opt-out transaction"))?;
        Ok(ids)
    }

    /// Records a delivery file and its records at `at` in one transaction,
    /// unless a file with the same content was recorded before.
    ///
    /// # Errors
    /// [`StateError::Invalid`] for a malformed record (nothing is stored);
    /// [`StateError::Db`].
    pub async fn record_optout_delivery(
        &self,
        delivery: &NewDelivery,
        records: &[NewOptOut],
        at: DateTime<Utc>,
        audit: &[NewAuditEntry],
    ) -> Result<DeliveryOutcome, StateError> {
        for r in records {
            check(r)?;
        }
        let err = StateError::db;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(err("starting an opt-out delivery transaction"))?;
        let earlier: Option<(i64, i64)> =
            sqlx::query_as("SELECT id, recorded_at FROM optout_deliveries WHERE sha256 = $1")
                .bind(&delivery.sha256)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err("looking up an opt-out delivery"))?;
        if let Some((id, at)) = earlier {
            tx.rollback()
                .await
                .map_err(err("ending an opt-out delivery transaction"))?;
            return Ok(DeliveryOutcome::AlreadyRecorded {
                id,
                at: from_ms(at)?,
            });
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO optout_deliveries (sha256, file_name, recorded_at, actor, records, rejected) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&delivery.sha256)
        .bind(&delivery.file_name)
        .bind(to_ms(at))
        .bind(&delivery.actor)
        .bind(i64::try_from(records.len()).unwrap_or(i64::MAX))
        .bind(i64::try_from(delivery.rejections.len()).unwrap_or(i64::MAX))
        .fetch_one(&mut *tx)
        .await
        .map_err(err("recording an opt-out delivery"))?;
        for (line, reason) in &delivery.rejections {
            sqlx::query(
                "INSERT INTO optout_rejections (delivery_id, line, reason) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(i64::try_from(*line).unwrap_or(i64::MAX))
            .bind(reason)
            .execute(&mut *tx)
            .await
            .map_err(err("recording a rejected opt-out line"))?;
        }
        insert_records(&mut tx, records, "file", &delivery.actor, at).await?;
        crate::audit::insert(&mut tx, audit).await?;
        tx.commit()
            .await
            .map_err(err("committing an opt-out delivery"))?;
        Ok(DeliveryOutcome::Recorded {
            id,
            records: records.len() as u64,
        })
    }

    /// One person's records, oldest first.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn optout_history(&self, pseudonym: &str) -> Result<Vec<StoredOptOut>, StateError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM optout_records WHERE pseudonym = $1 ORDER BY id"
        )))
        .bind(pseudonym.to_ascii_lowercase())
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("reading the opt-out register"))?;
        rows.iter().map(record_row).collect()
    }

    /// Every record, in the order recorded.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn optout_records(&self) -> Result<Vec<StoredOptOut>, StateError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM optout_records ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("reading the opt-out register"))?;
        rows.iter().map(record_row).collect()
    }

    /// The id of the last record (0 when the register is empty): the
    /// register's version, which changes with every record.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn optout_version(&self) -> Result<i64, StateError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM optout_records")
            .fetch_one(&self.pool)
            .await
            .map_err(StateError::db("reading the opt-out register's version"))?;
        Ok(v.unwrap_or(0))
    }

    /// The delivery files recorded, newest first.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn optout_deliveries(&self) -> Result<Vec<StoredDelivery>, StateError> {
        let rows = sqlx::query(
            "SELECT id, sha256, file_name, recorded_at, actor, records, rejected \
             FROM optout_deliveries ORDER BY id DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("reading opt-out deliveries"))?;
        let err = || StateError::db("reading opt-out deliveries");
        rows.iter()
            .map(|row| {
                Ok(StoredDelivery {
                    id: row.try_get("id").map_err(err())?,
                    sha256: row.try_get("sha256").map_err(err())?,
                    file_name: row.try_get("file_name").map_err(err())?,
                    recorded_at: from_ms(row.try_get("recorded_at").map_err(err())?)?,
                    actor: row.try_get("actor").map_err(err())?,
                    records: u64::try_from(row.try_get::<i64, _>("records").map_err(err())?)
                        .unwrap_or(0),
                    rejected: u64::try_from(row.try_get::<i64, _>("rejected").map_err(err())?)
                        .unwrap_or(0),
                })
            })
            .collect()
    }

    /// The rejected lines of delivery `id`: (line, reason code).
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn optout_rejections(&self, id: i64) -> Result<Vec<(u64, String)>, StateError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT line, reason FROM optout_rejections WHERE delivery_id = $1 ORDER BY line",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("reading rejected opt-out lines"))?;
        Ok(rows
            .into_iter()
            .map(|(l, r)| (u64::try_from(l).unwrap_or(0), r))
            .collect())
    }

    /// Records an extract and the persons it held.
    ///
    /// # Errors
    /// [`StateError::Invalid`] for an empty project; [`StateError::Db`].
    pub async fn record_extract(
        &self,
        e: &NewExtract,
        audit: &[NewAuditEntry],
    ) -> Result<i64, StateError> {
        if e.project.trim().is_empty() {
            return Err(StateError::invalid("project", "must not be empty"));
        }
        let mut members = e.members.clone();
        members.sort_unstable();
        members.dedup();
        let blob: Vec<u8> = members.iter().flatten().copied().collect();
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StateError::db("starting an extract transaction"))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO extracts (permit_id, project, purpose, snapshot, frozen_at, at, actor, \
             persons, members) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(&e.permit_id)
        .bind(&e.project)
        .bind(&e.purpose)
        .bind(&e.snapshot)
        .bind(to_ms(e.frozen_at))
        .bind(to_ms(e.at))
        .bind(&e.actor)
        .bind(i64::try_from(members.len()).unwrap_or(i64::MAX))
        .bind(blob)
        .fetch_one(&mut *tx)
        .await
        .map_err(StateError::db("recording an extract"))?;
        crate::audit::insert(&mut tx, audit).await?;
        tx.commit()
            .await
            .map_err(StateError::db("committing an extract"))?;
        Ok(id)
    }

    /// The extracts that held `person` (a hub pseudonym as bytes), oldest
    /// first. Reads each extract's sorted members and searches them; only
    /// whether this one person is in an extract leaves this function.
    ///
    /// # Errors
    /// [`StateError::Db`].
    pub async fn extracts_with(&self, person: [u8; 16]) -> Result<Vec<StoredExtract>, StateError> {
        let rows = sqlx::query(
            "SELECT id, permit_id, project, purpose, snapshot, frozen_at, at, persons, members \
             FROM extracts ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("reading extracts"))?;
        let err = || StateError::db("reading extracts");
        let mut out = Vec::new();
        for row in &rows {
            let members: Vec<u8> = row.try_get("members").map_err(err())?;
            if !holds(&members, &person) {
                continue;
            }
            out.push(StoredExtract {
                id: row.try_get("id").map_err(err())?,
                permit_id: row.try_get("permit_id").map_err(err())?,
                project: row.try_get("project").map_err(err())?,
                purpose: row.try_get("purpose").map_err(err())?,
                snapshot: row.try_get("snapshot").map_err(err())?,
                frozen_at: from_ms(row.try_get("frozen_at").map_err(err())?)?,
                at: from_ms(row.try_get("at").map_err(err())?)?,
                persons: u64::try_from(row.try_get::<i64, _>("persons").map_err(err())?)
                    .unwrap_or(0),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::holds;

    #[test]
    fn sorted_members_are_searched_exactly() {
        let members: Vec<[u8; 16]> = (0u8..50).map(|i| [i * 3; 16]).collect();
        let blob: Vec<u8> = members.iter().flatten().copied().collect();
        for i in 0u8..150 {
            assert_eq!(holds(&blob, &[i; 16]), i % 3 == 0, "{i}");
        }
        assert!(!holds(&[], &[0; 16]));
    }
}
