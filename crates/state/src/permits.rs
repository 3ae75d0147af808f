//! The permits projection: one row per permit, written with the case events
//! that issue, amend, revoke or end it, so later consumers (the secure
//! workspace) ask one table whether access is allowed now.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::db::{from_ms, from_ms_opt, to_ms};
use crate::{Db, StateError};
use sqlx::AssertSqlSafe;

/// A permit as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PermitRow {
    /// The permit's own identifier.
    pub permit_id: String,
    /// The case that issued it.
    pub case_id: String,
    /// First moment it is valid.
    pub valid_from: DateTime<Utc>,
    /// Moment it expires.
    pub expires_at: DateTime<Utc>,
    /// Moment it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The permit document (from the access crate) as JSON.
    pub document: serde_json::Value,
}

impl PermitRow {
    /// Whether the permit allows access at `now`: started, not expired, not
    /// revoked.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.valid_from <= now && now < self.expires_at && self.revoked_at.is_none_or(|r| now < r)
    }
}

pub(crate) async fn upsert(
    tx: &mut Transaction<'static, Any>,
    p: &PermitRow,
) -> Result<(), StateError> {
    if p.expires_at <= p.valid_from {
        return Err(StateError::invalid(
            "permit",
            "its expiry must be after its start",
        ));
    }
    let now = to_ms(Utc::now());
    let doc = p.document.to_string();
    sqlx::query(
        "INSERT INTO permits (permit_id, case_id, valid_from, expires_at, revoked_at, document, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (permit_id) DO UPDATE SET valid_from = excluded.valid_from, \
         expires_at = excluded.expires_at, revoked_at = excluded.revoked_at, \
         document = excluded.document, updated_at = excluded.updated_at",
    )
    .bind(&p.permit_id)
    .bind(&p.case_id)
    .bind(to_ms(p.valid_from))
    .bind(to_ms(p.expires_at))
    .bind(p.revoked_at.map(to_ms))
    .bind(doc)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(StateError::db("storing a permit"))?;
    Ok(())
}

fn permit_from_row(row: &AnyRow) -> Result<PermitRow, StateError> {
    let e = || StateError::db("reading a permit");
    let doc: String = row.try_get("document").map_err(e())?;
    Ok(PermitRow {
        permit_id: row.try_get("permit_id").map_err(e())?,
        case_id: row.try_get("case_id").map_err(e())?,
        valid_from: from_ms(row.try_get("valid_from").map_err(e())?)?,
        expires_at: from_ms(row.try_get("expires_at").map_err(e())?)?,
        revoked_at: from_ms_opt(row.try_get("revoked_at").map_err(e())?)?,
        document: serde_json::from_str(&doc).map_err(|err| StateError::Corrupt {
            what: "permit",
            reason: err.to_string(),
        })?,
    })
}

const PERMIT_COLUMNS: &str = "permit_id, case_id, valid_from, expires_at, revoked_at, document";

impl Db {
    /// One permit.
    pub async fn permit(&self, permit_id: &str) -> Result<PermitRow, StateError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PERMIT_COLUMNS} FROM permits WHERE permit_id = $1"
        )))
        .bind(permit_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("reading a permit"))?
        .ok_or_else(|| StateError::NotFound {
            what: "permit",
            id: permit_id.to_string(),
        })?;
        permit_from_row(&row)
    }

    /// All permits, or those of one case, oldest first.
    pub async fn list_permits(&self, case_id: Option<&str>) -> Result<Vec<PermitRow>, StateError> {
        let rows = match case_id {
            Some(c) => sqlx::query(AssertSqlSafe(format!(
                "SELECT {PERMIT_COLUMNS} FROM permits WHERE case_id = $1 ORDER BY valid_from, permit_id"
            )))
            .bind(c)
            .fetch_all(&self.pool)
            .await,
            None => sqlx::query(AssertSqlSafe(format!(
                "SELECT {PERMIT_COLUMNS} FROM permits ORDER BY valid_from, permit_id"
            )))
            .fetch_all(&self.pool)
            .await,
        }
        .map_err(StateError::db("listing permits"))?;
        rows.iter().map(permit_from_row).collect()
    }

    /// Permits that allow access at `now`.
    pub async fn active_permits(&self, now: DateTime<Utc>) -> Result<Vec<PermitRow>, StateError> {
        let t = to_ms(now);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PERMIT_COLUMNS} FROM permits WHERE valid_from <= $1 AND expires_at > $2 \
             AND (revoked_at IS NULL OR revoked_at > $3) ORDER BY valid_from, permit_id"
        )))
        .bind(t)
        .bind(t)
        .bind(t)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("listing active permits"))?;
        rows.iter().map(permit_from_row).collect()
    }
}
