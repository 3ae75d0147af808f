//! The notification outbox: messages ready for an email relay. Rows are
//! written in the same transaction as the change they announce; a relay
//! reads [`Db::pending_notifications`] and marks each sent.

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::db::{from_ms, from_ms_opt, to_ms};
use crate::{Db, StateError};
use sqlx::AssertSqlSafe;

/// A notification to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// Unique key: a second notification with the same key is ignored (so a
    /// deadline warning is sent once, however often the sweep runs).
    pub dedupe_key: String,
    /// Who: `user:<id>`, `role:<role>` or an email address.
    pub recipient: String,
    /// The case it is about.
    pub case_id: Option<String>,
    /// Machine-readable kind (`state_changed`, `deadline_near`…).
    pub kind: String,
    /// Subject line.
    pub subject: String,
    /// Body text.
    pub body: String,
}

/// A queued notification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notification {
    /// Position in the outbox.
    pub id: i64,
    /// Dedupe key.
    pub dedupe_key: String,
    /// Recipient.
    pub recipient: String,
    /// Case.
    pub case_id: Option<String>,
    /// Kind.
    pub kind: String,
    /// Subject line.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Queued.
    pub created_at: DateTime<Utc>,
    /// Sent, if it was.
    pub sent_at: Option<DateTime<Utc>>,
}

pub(crate) async fn insert(
    tx: &mut Transaction<'static, Any>,
    n: &NewNotification,
) -> Result<(), StateError> {
    insert_with(&mut **tx, n).await.map(|_| ())
}

async fn insert_with<'e, E>(exec: E, n: &NewNotification) -> Result<bool, StateError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let done = sqlx::query(
        "INSERT INTO outbox (dedupe_key, recipient, case_id, kind, subject, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(&n.dedupe_key)
    .bind(&n.recipient)
    .bind(&n.case_id)
    .bind(&n.kind)
    .bind(&n.subject)
    .bind(&n.body)
    .bind(to_ms(Utc::now()))
    .execute(exec)
    .await
    .map_err(StateError::db("queueing a notification"))?;
    Ok(done.rows_affected() > 0)
}

fn from_row(row: &AnyRow) -> Result<Notification, StateError> {
    let e = || StateError::db("reading a notification");
    Ok(Notification {
        id: row.try_get("id").map_err(e())?,
        dedupe_key: row.try_get("dedupe_key").map_err(e())?,
        recipient: row.try_get("recipient").map_err(e())?,
        case_id: row.try_get("case_id").map_err(e())?,
        kind: row.try_get("kind").map_err(e())?,
        subject: row.try_get("subject").map_err(e())?,
        body: row.try_get("body").map_err(e())?,
        created_at: from_ms(row.try_get("created_at").map_err(e())?)?,
        sent_at: from_ms_opt(row.try_get("sent_at").map_err(e())?)?,
    })
}

const COLUMNS: &str =
    "id, dedupe_key, recipient, case_id, kind, subject, body, created_at, sent_at";

impl Db {
    /// Queues a notification outside a case write (e.g. a deadline sweep).
    /// Returns whether it was new: a duplicate dedupe key is ignored and
    /// gives `false`, so a reminder is queued once however often asked.
    pub async fn notify(&self, n: &NewNotification) -> Result<bool, StateError> {
        insert_with(&self.pool, n).await
    }

    /// Unsent notifications, oldest first, at most `limit`.
    pub async fn pending_notifications(&self, limit: i64) -> Result<Vec<Notification>, StateError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1"
        )))
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("reading the outbox"))?;
        rows.iter().map(from_row).collect()
    }

    /// Every notification about a case, oldest first.
    pub async fn case_notifications(&self, case_id: &str) -> Result<Vec<Notification>, StateError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM outbox WHERE case_id = $1 ORDER BY id"
        )))
        .bind(case_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("reading the outbox"))?;
        rows.iter().map(from_row).collect()
    }

    /// Marks a notification sent.
    pub async fn mark_notification_sent(&self, id: i64) -> Result<(), StateError> {
        let done = sqlx::query("UPDATE outbox SET sent_at = $1 WHERE id = $2 AND sent_at IS NULL")
            .bind(to_ms(Utc::now()))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("marking a notification sent"))?;
        if done.rows_affected() == 0 {
            return Err(StateError::NotFound {
                what: "unsent notification",
                id: id.to_string(),
            });
        }
        Ok(())
    }
}
