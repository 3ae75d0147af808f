//! Reading the feasibility query log (`GET /api/v1/query-log`): auditors
//! read every user's entries, applicants and case staff their own; the
//! log itself is append-only in `state`.

use chrono::{DateTime, Utc};
use halsohub_access::{Role, may_query};
use halsohub_state::query_log::{QueryLogFilter, QueryOutcome};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::Principal;
use crate::db::{Db, StateError};

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// Only this user's queries (auditors only; others may name themselves).
    pub user_id: Option<String>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
    /// `ok` or `refused`.
    pub outcome: Option<String>,
    /// Rows after this id (paging).
    pub after_id: Option<i64>,
    /// At most this many rows.
    pub limit: Option<i64>,
}

/// One logged feasibility query.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueryLogRow {
    /// Position in the log (increasing).
    pub id: i64,
    /// When the query was received.
    pub at: DateTime<Utc>,
    /// Who asked.
    pub user_id: String,
    /// The API token used.
    pub token_id: Option<String>,
    /// `api` or `cli`.
    pub channel: String,
    /// Canonical query hash (absent when the query did not parse).
    pub query_hash: Option<String>,
    /// Snapshot.
    pub snapshot: Option<String>,
    /// `count`, `funnel`, `strata`, `proportion` or `time_series`.
    pub output_kind: Option<String>,
    /// Disclosure profile.
    pub profile: Option<String>,
    /// The profile's parameters and the precisions released per kind of number.
    #[schema(value_type = Object)]
    pub protections: serde_json::Value,
    /// Whether exact numbers were released (never over HTTP).
    pub exact: bool,
    /// `ok` or `refused`.
    pub outcome: String,
    /// Why it was refused.
    pub reason: Option<String>,
}

/// Log rows, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueryLogPage {
    /// The rows.
    pub entries: Vec<QueryLogRow>,
}

/// Why the log was not read.
#[derive(Debug, thiserror::Error)]
pub enum QueryLogError {
    /// The caller may not read these entries.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The state database failed or refused a parameter.
    #[error(transparent)]
    State(#[from] StateError),
}

/// The entries `principal` (user `user_id`) may read that match `query`.
///
/// # Errors
/// [`QueryLogError::Forbidden`] for another user's entries (non-auditors)
/// or callers without a query role; [`QueryLogError::State`].
pub async fn read(
    db: &Db,
    principal: &Principal,
    user_id: &str,
    query: LogQuery,
) -> Result<QueryLogPage, QueryLogError> {
    let who = if principal.has_role(Role::Auditor) {
        query.user_id
    } else if may_query(principal) {
        if query.user_id.as_ref().is_some_and(|u| u != user_id) {
            return Err(QueryLogError::Forbidden(
                "only auditors read other users' queries; leave out user_id to read your own",
            ));
        }
        Some(user_id.to_string())
    } else {
        return Err(QueryLogError::Forbidden(
            "the query log is for auditors, and for applicants and case staff reading their own queries",
        ));
    };
    let filter = QueryLogFilter {
        user_id: who,
        since: query.since,
        until: query.until,
        outcome: query.outcome,
        query_hash: None,
        after_id: query.after_id,
        limit: query.limit,
    };
    let entries = db
        .query_log(&filter)
        .await?
        .into_iter()
        .map(|e| {
            let (outcome, reason) = match e.outcome {
                QueryOutcome::Ok => ("ok".to_string(), None),
                QueryOutcome::Refused { reason } => ("refused".to_string(), Some(reason)),
            };
            QueryLogRow {
                id: e.id,
                at: e.at,
                user_id: e.user_id,
                token_id: e.token_id,
                channel: e.channel,
                query_hash: e.query_hash,
                snapshot: e.snapshot,
                output_kind: e.output_kind,
                profile: e.profile,
                protections: e.protections,
                exact: e.exact,
                outcome,
                reason,
            }
        })
        .collect();
    Ok(QueryLogPage { entries })
}
