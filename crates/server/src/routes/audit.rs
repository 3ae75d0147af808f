//! The audit log over HTTP: the current signed checkpoint, the tiles as
//! static files and consistency proofs for anyone (they reveal nothing:
//! the leaves are salted commitments), and an entry with its salt and
//! inclusion proof for auditors. The work is [`halsohub_app::audit`]'s.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use halsohub_app::audit::{AuditError, AuditLog, EntryProof};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::Problem;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_checkpoint))
        // Several path segments: a plain route (described in docs/audit.md).
        .route("/api/v1/audit/tile/{*path}", axum::routing::get(get_tile))
        .routes(routes!(get_consistency))
        .routes(routes!(get_entry))
}

impl From<AuditError> for Problem {
    fn from(e: AuditError) -> Problem {
        match e {
            AuditError::Forbidden => Problem::forbidden(e.to_string()),
            AuditError::NoEntry(_) => Problem::not_found(e.to_string()),
            AuditError::Invalid(_) => Problem::bad_request(e.to_string()),
            AuditError::State(s) => s.into(),
            other => {
                tracing::error!(error = %other, "audit log failure");
                Problem::internal()
            }
        }
    }
}

fn log(state: &AppState) -> Result<&AuditLog, Problem> {
    state.audit.as_deref().ok_or_else(|| {
        Problem::unavailable("no-audit-log", "No audit log", "this server was started without an audit signing key; create one with `halsohub keys audit`")
    })
}

/// The log's current signed checkpoint (C2SP signed note: origin, size,
/// root hash, signatures).
#[utoipa::path(get, path = "/api/v1/audit/checkpoint", tag = "audit",
    responses(
        (status = 200, description = "the signed checkpoint", content_type = "text/plain", body = String),
        (status = 503, description = "no audit log", content_type = "application/problem+json")))]
async fn get_checkpoint(State(state): State<AppState>) -> Result<Response, Problem> {
    let text = log(&state)?.checkpoint();
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// A tile or entry bundle of the log (C2SP tlog-tiles paths, e.g.
/// `tile/0/000`, `tile/entries/001.p/88`), as static bytes.
async fn get_tile(
    State(state): State<AppState>,
    Path(path): Path<String>,
) -> Result<Response, Problem> {
    let bytes = log(&state)?
        .file(&format!("tile/{path}"))
        .ok_or_else(|| Problem::not_found(format!("no tile at tile/{path}")))?;
    // Full tiles never change; partial ones are replaced by new paths.
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
struct Sizes {
    /// The smaller tree size.
    first: u64,
    /// The larger tree size (at most the current one).
    second: u64,
}

/// A consistency proof between two tree sizes.
#[derive(Debug, Serialize, ToSchema)]
struct Consistency {
    first: u64,
    second: u64,
    /// The proof's hashes (base64, RFC 9162).
    proof: Vec<String>,
}

/// A consistency proof that the tree of size `second` extends the tree of
/// size `first` (RFC 9162).
#[utoipa::path(get, path = "/api/v1/audit/consistency", tag = "audit", params(Sizes),
    responses(
        (status = 200, description = "the proof", body = Consistency),
        (status = 400, description = "sizes the log does not have", content_type = "application/problem+json"),
        (status = 503, description = "no audit log", content_type = "application/problem+json")))]
async fn get_consistency(
    State(state): State<AppState>,
    Query(q): Query<Sizes>,
) -> Result<Json<Consistency>, Problem> {
    let proof = log(&state)?.consistency(q.first, q.second)?;
    Ok(Json(Consistency {
        first: q.first,
        second: q.second,
        proof,
    }))
}

/// One entry with its salt and its inclusion proof against the current
/// checkpoint: for auditors.
#[utoipa::path(get, path = "/api/v1/audit/entries/{index}", tag = "audit", security(("bearer" = [])),
    params(("index" = u64, Path, description = "the entry's leaf index")),
    responses(
        (status = 200, description = "the entry and its proof", body = EntryProof),
        (status = 401, description = "no credentials", content_type = "application/problem+json"),
        (status = 403, description = "not an auditor", content_type = "application/problem+json"),
        (status = 404, description = "no such entry", content_type = "application/problem+json"),
        (status = 503, description = "no audit log", content_type = "application/problem+json")))]
async fn get_entry(
    State(state): State<AppState>,
    caller: Caller,
    Path(index): Path<u64>,
) -> Result<Json<EntryProof>, Problem> {
    Ok(Json(
        log(&state)?.proof_for(&caller.principal, index).await?,
    ))
}
