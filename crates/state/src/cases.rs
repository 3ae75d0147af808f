//! Case events: the append-only history of every application, a projection
//! of its current state, and idempotency keys.
//!
//! A [`CaseWrite`] is applied in one transaction: the events, the case's new
//! projection, any attachment, permit rows and notifications it carries, and
//! the idempotency record. Either all of it is stored or none.
//! Optimistic concurrency: each write names the version it was decided on;
//! if someone else appended first, the write fails with
//! [`StateError::Conflict`] and nothing is stored.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::attachments::NewAttachment;
use crate::db::{from_ms, to_ms};
use crate::error::is_unique_violation;
use crate::outbox::NewNotification;
use crate::permits::PermitRow;
use crate::{Db, StateError};
use sqlx::AssertSqlSafe;

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Event type name (from the access crate).
    pub event_type: String,
    /// The event as JSON.
    pub payload: serde_json::Value,
    /// Who caused it (user id).
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredEvent {
    /// The case.
    pub case_id: String,
    /// Position in the case's history, from 1.
    pub seq: i64,
    /// Event type name.
    pub event_type: String,
    /// The event as JSON.
    pub payload: serde_json::Value,
    /// Who caused it.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A case's row: who owns it, its version and its current projection.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaseRecord {
    /// Identifier.
    pub case_id: String,
    /// Applicant organisation.
    pub organisation_id: String,
    /// User who created it.
    pub created_by: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Number of events so far.
    pub version: i64,
    /// Current status name (for filtering).
    pub status: String,
    /// Current state as JSON (derived from the events by the access crate).
    pub projection: serde_json::Value,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Marks a write as the result of an idempotent command: replaying the same
/// key returns `response` instead of running the command again.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    /// The caller.
    pub user_id: String,
    /// The caller's key (1–200 printable characters).
    pub key: String,
    /// Hash of the request (method, path, body), see [`request_hash`].
    pub request_hash: String,
    /// HTTP status of the first response.
    pub status: u16,
    /// Body of the first response.
    pub response: serde_json::Value,
}

/// A stored response for an idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    /// HTTP status of the first response.
    pub status: u16,
    /// Body of the first response.
    pub response: serde_json::Value,
}

/// One atomic change to a case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseWrite {
    /// The case.
    pub case_id: String,
    /// The version the command was decided on (0 creates the case).
    pub expected_version: i64,
    /// Applicant organisation (used when creating the case).
    pub organisation_id: String,
    /// Creator (used when creating the case).
    pub created_by: String,
    /// Events to append, in order (at least one).
    pub events: Vec<NewEvent>,
    /// The status after these events.
    pub status: String,
    /// The projection after these events.
    pub projection: serde_json::Value,
    /// Attachments stored with these events.
    pub attachments: Vec<NewAttachment>,
    /// Permit rows to insert or replace.
    pub permits: Vec<PermitRow>,
    /// Notifications to queue (duplicates by dedupe key are ignored).
    pub notifications: Vec<NewNotification>,
    /// Idempotency record, when the command carried a key.
    pub idempotency: Option<IdempotencyRecord>,
    /// The audit entries recording these events (stored in the same
    /// transaction).
    pub audit: Vec<crate::audit::NewAuditEntry>,
}

/// The hash that identifies a request for idempotency: SHA-256 over the
/// method, path and body.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update([0]);
    h.update(path.as_bytes());
    h.update([0]);
    h.update(body);
    hex::encode(h.finalize())
}

fn check_key(key: &str) -> Result<(), StateError> {
    if key.is_empty() || key.len() > 200 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(StateError::invalid(
            "idempotency key",
            "must be 1–200 printable ASCII characters",
        ));
    }
    Ok(())
}

fn case_from_row(row: &AnyRow) -> Result<CaseRecord, StateError> {
    let e = || StateError::db("reading a case");
    let projection: String = row.try_get("projection").map_err(e())?;
    Ok(CaseRecord {
        case_id: row.try_get("case_id").map_err(e())?,
        organisation_id: row.try_get("organisation_id").map_err(e())?,
        created_by: row.try_get("created_by").map_err(e())?,
        created_at: from_ms(row.try_get("created_at").map_err(e())?)?,
        version: row.try_get("version").map_err(e())?,
        status: row.try_get("status").map_err(e())?,
        projection: serde_json::from_str(&projection).map_err(|err| StateError::Corrupt {
            what: "case projection",
            reason: err.to_string(),
        })?,
        updated_at: from_ms(row.try_get("updated_at").map_err(e())?)?,
    })
}

const CASE_COLUMNS: &str =
    "case_id, organisation_id, created_by, created_at, version, status, projection, updated_at";

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only cases of this organisation.
    pub organisation_id: Option<String>,
    /// Only cases in one of these statuses (empty: all).
    pub statuses: Vec<String>,
}

impl Db {
    /// The stored response for an idempotency key, if the key was used.
    /// Fails with [`StateError::IdempotencyMismatch`] when the key was used
    /// for a different request.
    pub async fn idempotent_response(
        &self,
        user_id: &str,
        key: &str,
        request_hash: &str,
    ) -> Result<Option<StoredResponse>, StateError> {
        check_key(key)?;
        let row = sqlx::query(
            "SELECT request_hash, status, response FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2",
        )
        .bind(user_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("looking up an idempotency key"))?;
        let Some(row) = row else { return Ok(None) };
        let e = || StateError::db("reading an idempotency key");
        let stored_hash: String = row.try_get(0).map_err(e())?;
        if stored_hash != request_hash {
            return Err(StateError::IdempotencyMismatch {
                key: key.to_string(),
            });
        }
        let status: i64 = row.try_get(1).map_err(e())?;
        let response: String = row.try_get(2).map_err(e())?;
        Ok(Some(StoredResponse {
            status: u16::try_from(status).map_err(|_| StateError::Corrupt {
                what: "idempotency record",
                reason: format!("status {status}"),
            })?,
            response: serde_json::from_str(&response).map_err(|err| StateError::Corrupt {
                what: "idempotency record",
                reason: err.to_string(),
            })?,
        }))
    }

    /// Applies a write atomically; returns the case's new version.
    pub async fn write_case(&self, w: CaseWrite) -> Result<i64, StateError> {
        if w.events.is_empty() {
            return Err(StateError::invalid(
                "events",
                "a write needs at least one event",
            ));
        }
        if w.expected_version < 0 {
            return Err(StateError::invalid(
                "expected version",
                "must not be negative",
            ));
        }
        if let Some(idem) = &w.idempotency {
            check_key(&idem.key)?;
        }
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StateError::db("starting a transaction"))?;
        let result = write_in_tx(&mut tx, &w).await;
        match result {
            Ok(v) => {
                tx.commit()
                    .await
                    .map_err(StateError::db("committing a case write"))?;
                tracing::debug!(case_id = %w.case_id, version = v, "case written");
                Ok(v)
            }
            Err(e) => {
                // Dropping the transaction rolls back; do it explicitly to
                // release the lock before reading the current version.
                let _ = tx.rollback().await;
                if let StateError::Conflict {
                    case_id, expected, ..
                } = e
                {
                    let actual = self.case(&case_id).await.map(|c| c.version).unwrap_or(0);
                    return Err(StateError::Conflict {
                        case_id,
                        expected,
                        actual,
                    });
                }
                Err(e)
            }
        }
    }

    /// One case's row.
    pub async fn case(&self, case_id: &str) -> Result<CaseRecord, StateError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CASE_COLUMNS} FROM cases WHERE case_id = $1"
        )))
        .bind(case_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("reading a case"))?
        .ok_or_else(|| StateError::NotFound {
            what: "case",
            id: case_id.to_string(),
        })?;
        case_from_row(&row)
    }

    /// Cases matching a filter, oldest first.
    pub async fn list_cases(&self, filter: &CaseFilter) -> Result<Vec<CaseRecord>, StateError> {
        let mut sql = format!("SELECT {CASE_COLUMNS} FROM cases WHERE 1 = 1");
        let mut n = 0;
        if filter.organisation_id.is_some() {
            n += 1;
            sql.push_str(&format!(" AND organisation_id = ${n}"));
        }
        if !filter.statuses.is_empty() {
            let marks: Vec<String> = filter
                .statuses
                .iter()
                .map(|_| {
                    n += 1;
                    format!("${n}")
                })
                .collect();
            sql.push_str(&format!(" AND status IN ({})", marks.join(", ")));
        }
        sql.push_str(" ORDER BY created_at, case_id");
        let mut q = sqlx::query(AssertSqlSafe(sql));
        if let Some(org) = &filter.organisation_id {
            q = q.bind(org);
        }
        for s in &filter.statuses {
            q = q.bind(s);
        }
        let rows = q
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("listing cases"))?;
        rows.iter().map(case_from_row).collect()
    }

    /// Replaces a case's projection if the case is still at `version`
    /// (a projection rebuilt from the events by a newer fold). Returns
    /// whether it was replaced; a case changed meanwhile keeps the
    /// projection its own write stored.
    pub async fn refresh_projection(
        &self,
        case_id: &str,
        version: i64,
        projection: &serde_json::Value,
    ) -> Result<bool, StateError> {
        let done =
            sqlx::query("UPDATE cases SET projection = $1 WHERE case_id = $2 AND version = $3")
                .bind(projection.to_string())
                .bind(case_id)
                .bind(version)
                .execute(&self.pool)
                .await
                .map_err(StateError::db("refreshing a case projection"))?;
        Ok(done.rows_affected() > 0)
    }

    /// A case's full history, in order.
    pub async fn case_events(&self, case_id: &str) -> Result<Vec<StoredEvent>, StateError> {
        let rows = sqlx::query(
            "SELECT case_id, seq, event_type, payload, actor, at FROM case_events \
             WHERE case_id = $1 ORDER BY seq",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("reading case events"))?;
        rows.iter()
            .map(|row| {
                let e = || StateError::db("reading a case event");
                let payload: String = row.try_get("payload").map_err(e())?;
                Ok(StoredEvent {
                    case_id: row.try_get("case_id").map_err(e())?,
                    seq: row.try_get("seq").map_err(e())?,
                    event_type: row.try_get("event_type").map_err(e())?,
                    payload: serde_json::from_str(&payload).map_err(|err| StateError::Corrupt {
                        what: "case event",
                        reason: err.to_string(),
                    })?,
                    actor: row.try_get("actor").map_err(e())?,
                    at: from_ms(row.try_get("at").map_err(e())?)?,
                })
            })
            .collect()
    }
}

async fn write_in_tx(tx: &mut Transaction<'static, Any>, w: &CaseWrite) -> Result<i64, StateError> {
    let now = to_ms(Utc::now());
    let new_version = w.expected_version + w.events.len() as i64;
    let projection = w.projection.to_string();
    let conflict = || StateError::Conflict {
        case_id: w.case_id.clone(),
        expected: w.expected_version,
        actual: -1,
    };
    if w.expected_version == 0 {
        let res = sqlx::query(
            "INSERT INTO cases (case_id, organisation_id, created_by, created_at, version, status, projection, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&w.case_id)
        .bind(&w.organisation_id)
        .bind(&w.created_by)
        .bind(now)
        .bind(new_version)
        .bind(&w.status)
        .bind(&projection)
        .bind(now)
        .execute(&mut **tx)
        .await;
        match res {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(conflict()),
            Err(e) => {
                return Err(StateError::Db {
                    doing: "creating a case",
                    source: e,
                });
            }
        }
    } else {
        let done = sqlx::query(
            "UPDATE cases SET version = $1, status = $2, projection = $3, updated_at = $4 \
             WHERE case_id = $5 AND version = $6",
        )
        .bind(new_version)
        .bind(&w.status)
        .bind(&projection)
        .bind(now)
        .bind(&w.case_id)
        .bind(w.expected_version)
        .execute(&mut **tx)
        .await
        .map_err(StateError::db("updating a case"))?;
        if done.rows_affected() == 0 {
            return Err(conflict());
        }
    }
    for (i, ev) in w.events.iter().enumerate() {
        let seq = w.expected_version + 1 + i as i64;
        let res = sqlx::query(
            "INSERT INTO case_events (case_id, seq, event_type, payload, actor, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&w.case_id)
        .bind(seq)
        .bind(&ev.event_type)
        .bind(ev.payload.to_string())
        .bind(&ev.actor)
        .bind(to_ms(ev.at))
        .execute(&mut **tx)
        .await;
        match res {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(conflict()),
            Err(e) => {
                return Err(StateError::Db {
                    doing: "appending a case event",
                    source: e,
                });
            }
        }
    }
    for a in &w.attachments {
        crate::attachments::insert(tx, &w.case_id, a).await?;
    }
    for p in &w.permits {
        crate::permits::upsert(tx, p).await?;
    }
    for n in &w.notifications {
        crate::outbox::insert(tx, n).await?;
    }
    crate::audit::insert(tx, &w.audit).await?;
    if let Some(idem) = &w.idempotency {
        let res = sqlx::query(
            "INSERT INTO idempotency_keys (user_id, idem_key, request_hash, status, response, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&idem.user_id)
        .bind(&idem.key)
        .bind(&idem.request_hash)
        .bind(i64::from(idem.status))
        .bind(idem.response.to_string())
        .bind(now)
        .execute(&mut **tx)
        .await;
        match res {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StateError::invalid(
                    "idempotency key",
                    "was used by a concurrent request; replay the request to get its result",
                ));
            }
            Err(e) => {
                return Err(StateError::Db {
                    doing: "recording an idempotency key",
                    source: e,
                });
            }
        }
    }
    Ok(new_version)
}
