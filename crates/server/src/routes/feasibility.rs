//! Feasibility counts, the store's snapshots and code search. The decisions
//! are in [`halsohub_app::feasibility::answer`] (shared with `halsohub
//! count`), the role rule is [`halsohub_app::auth::may_query`] (the
//! access domain's), code search is [`halsohub_app::codes::search`] and
//! the log's reading rule [`halsohub_app::query_log::read`]; these
//! handlers translate.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use halsohub_app::auth::may_query;
use halsohub_app::codes::CodeSearch;
use halsohub_app::feasibility::{
    self, Feasibility, FeasibilityAnswer, FeasibilityError, Requester, SnapshotInfo,
};
use halsohub_app::query_log::{LogQuery, QueryLogPage};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::{FieldError, Problem};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_feasibility))
        .routes(routes!(list_snapshots))
        .routes(routes!(search_codes))
        .routes(routes!(list_code_lists))
        .routes(routes!(read_query_log))
}

/// The query (query language version 1, `docs/query-language.md`). Only
/// the top level is described here; the nested criteria and outputs are
/// validated by the server and refused with the JSON path of any problem.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // documents the request body; the body is parsed by the cohort crate
pub(crate) struct QueryBody {
    /// Must be 1.
    version: u32,
    /// The index event that time-relative criteria refer to.
    #[schema(value_type = Option<Object>)]
    index: Option<serde_json::Value>,
    /// Inclusion and exclusion steps, in order.
    #[schema(value_type = Option<Vec<Object>>)]
    criteria: Option<Vec<serde_json::Value>>,
    /// What to compute: `{"type": "count"}`, `funnel`, `strata`,
    /// `proportion` or `time_series`.
    #[schema(value_type = Object)]
    output: serde_json::Value,
}

/// The store's snapshots.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SnapshotList {
    /// The snapshot queries are answered from.
    serving: String,
    /// Every committed snapshot, oldest first.
    snapshots: Vec<SnapshotInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogParams {
    user_id: Option<String>,
    since: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
    outcome: Option<String>,
    after_id: Option<i64>,
    limit: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeParams {
    q: Option<String>,
    limit: Option<usize>,
}

fn service(state: &AppState) -> Result<&Arc<Feasibility>, Problem> {
    state.feasibility.as_ref().ok_or_else(|| {
        Problem::unavailable("no-store", "No data store", "this server was started without a store, so it cannot answer feasibility queries; start it with `halsohub serve --store DIR`")
    })
}

fn check_role(caller: &Caller) -> Result<(), Problem> {
    if may_query(&caller.principal) {
        Ok(())
    } else {
        Err(Problem::forbidden(FeasibilityError::Forbidden.to_string()))
    }
}

/// The service, for a caller whose roles may query (403 first, then 503).
fn service_for<'a>(state: &'a AppState, caller: &Caller) -> Result<&'a Arc<Feasibility>, Problem> {
    check_role(caller)?;
    service(state)
}

fn error_response(e: FeasibilityError) -> Response {
    match e {
        FeasibilityError::Forbidden => Problem::forbidden(e.to_string()).into_response(),
        FeasibilityError::BadQuery { path, message } => {
            let mut p = Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-query",
                "Invalid query",
                format!("{path}: {message}"),
            );
            p.errors = vec![FieldError {
                field: path,
                problem: message,
            }];
            p.into_response()
        }
        FeasibilityError::Quota(q) => {
            let secs = q.retry_after_secs();
            let mut resp = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "quota-exceeded",
                "Query quota exceeded",
                q.to_string(),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
        FeasibilityError::Budget(b) => {
            let mut resp = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "budget-exhausted",
                "Privacy budget exhausted",
                b.to_string(),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&b.retry_after_secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            resp
        }
        FeasibilityError::State(s) => Problem::from(s).into_response(),
        FeasibilityError::Internal(msg) => {
            tracing::error!(error = %msg, "feasibility query failed");
            Problem::internal().into_response()
        }
    }
}

/// Count patients: every output of the query language (count, funnel,
/// strata, proportion, time series), each number protected by the hub's
/// disclosure profile and labelled with its precision. Logged; counts
/// against the caller's quota. For applicants and case staff.
#[utoipa::path(post, path = "/api/v1/feasibility", tag = "feasibility", security(("bearer" = [])),
    request_body(content = QueryBody, content_type = "application/json",
        description = "a feasibility query, version 1 (docs/query-language.md)"),
    responses(
        (status = 200, description = "protected numbers", body = FeasibilityAnswer),
        (status = 400, description = "malformed or invalid query; `errors[0].field` is the JSON path", content_type = "application/problem+json"),
        (status = 401, description = "no credentials", content_type = "application/problem+json"),
        (status = 403, description = "the caller's roles may not query", content_type = "application/problem+json"),
        (status = 415, description = "not application/json", content_type = "application/problem+json"),
        (status = 429, description = "quota exceeded; see Retry-After", content_type = "application/problem+json"),
        (status = 503, description = "the server has no store", content_type = "application/problem+json")))]
async fn post_feasibility(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = match service(&state) {
        Ok(f) => f.clone(),
        Err(p) => return p.into_response(),
    };
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the query as application/json",
        )
        .into_response();
    }
    let who = Requester::Api {
        user_id: caller.user.id.clone(),
        token_id: caller.token_id.clone(),
        principal: caller.principal.clone(),
    };
    match feasibility::answer(&f, &state.db, &who, &body, state.now()).await {
        Ok(a) => Json(a).into_response(),
        Err(e) => error_response(e),
    }
}

/// The store's snapshots and the one queries are answered from.
#[utoipa::path(get, path = "/api/v1/snapshots", tag = "feasibility", security(("bearer" = [])),
    responses(
        (status = 200, description = "snapshots", body = SnapshotList),
        (status = 401, description = "no credentials", content_type = "application/problem+json"),
        (status = 403, description = "the caller's roles may not query", content_type = "application/problem+json"),
        (status = 503, description = "the server has no store", content_type = "application/problem+json")))]
async fn list_snapshots(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SnapshotList>, Problem> {
    let f = service_for(&state, &caller)?;
    Ok(Json(SnapshotList {
        serving: f.snapshot().to_string(),
        snapshots: f.snapshots().to_vec(),
    }))
}

/// The named code lists and the code systems a query may use.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CodeListIndex {
    /// Code systems a query may name: the built-in ones, then those the
    /// served snapshot holds codes of.
    systems: Vec<String>,
    /// Every named list, by name.
    lists: Vec<NamedCodeList>,
}

/// One named code list, for `{"list": "name"}` in a query.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NamedCodeList {
    name: String,
    title: String,
    /// The code sets of the list, as written in a query.
    #[schema(value_type = Vec<Object>)]
    codes: Vec<serde_json::Value>,
}

/// The named code lists (`{"list": "name"}`) and code systems queries may
/// use on the served snapshot.
#[utoipa::path(get, path = "/api/v1/code-lists", tag = "feasibility", security(("bearer" = [])),
    responses(
        (status = 200, description = "code lists and systems", body = CodeListIndex),
        (status = 401, description = "no credentials", content_type = "application/problem+json"),
        (status = 403, description = "the caller's roles may not query", content_type = "application/problem+json"),
        (status = 503, description = "the server has no store", content_type = "application/problem+json")))]
async fn list_code_lists(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<CodeListIndex>, Problem> {
    let f = service_for(&state, &caller)?;
    let lists = f.code_lists();
    Ok(Json(CodeListIndex {
        systems: lists.systems().into_iter().map(str::to_string).collect(),
        lists: lists
            .iter()
            .map(|(name, l)| NamedCodeList {
                name: name.to_string(),
                title: l.title.clone(),
                codes: l
                    .sets
                    .iter()
                    .filter_map(|s| serde_json::to_value(s).ok())
                    .collect(),
            })
            .collect(),
    }))
}

/// Search a code system's list by code prefix (`E11`, `e11.9`) or title
/// words (`diabetes`). For applicants and case staff; works without a store.
#[utoipa::path(get, path = "/api/v1/codes/{system}", tag = "feasibility", security(("bearer" = [])),
    params(
        ("system" = String, Path, description = "icd10se, atc, kva, npu, loinc or snomedct (aliases accepted)"),
        ("q" = String, Query, description = "code prefix or words of the title"),
        ("limit" = Option<u32>, Query, description = "most results, 1..=200 (default 20)")),
    responses(
        (status = 200, description = "codes found", body = CodeSearch),
        (status = 400, description = "missing q or bad limit", content_type = "application/problem+json"),
        (status = 401, description = "no credentials", content_type = "application/problem+json"),
        (status = 403, description = "the caller's roles may not query", content_type = "application/problem+json"),
        (status = 404, description = "no code list for the system", content_type = "application/problem+json")))]
async fn search_codes(
    State(state): State<AppState>,
    caller: Caller,
    Path(system): Path<String>,
    Query(params): Query<CodeParams>,
) -> Result<Json<CodeSearch>, Problem> {
    check_role(&caller)?;
    let found =
        halsohub_app::codes::search(&state.codes, &system, params.q.as_deref(), params.limit)?;
    Ok(Json(found))
}

/// Read the feasibility query log, oldest first. Auditors read every
/// user's entries (and may filter by `user_id`); applicants and case staff
/// read their own.
#[utoipa::path(get, path = "/api/v1/query-log", tag = "feasibility", security(("bearer" = [])),
    params(
        ("user_id" = Option<String>, Query, description = "only this user's queries (auditors)"),
        ("since" = Option<String>, Query, description = "RFC 3339 time, inclusive"),
        ("until" = Option<String>, Query, description = "RFC 3339 time, exclusive"),
        ("outcome" = Option<String>, Query, description = "ok or refused"),
        ("after_id" = Option<i64>, Query, description = "rows after this id (paging)"),
        ("limit" = Option<i64>, Query, description = "1..=10000, default 1000")),
    responses(
        (status = 200, description = "log rows", body = QueryLogPage),
        (status = 400, description = "unknown or malformed parameter", content_type = "application/problem+json"),
        (status = 401, description = "no credentials", content_type = "application/problem+json"),
        (status = 403, description = "the caller's roles may not read the log", content_type = "application/problem+json"),
        (status = 422, description = "a parameter value out of range", content_type = "application/problem+json")))]
async fn read_query_log(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<LogParams>,
) -> Result<Json<QueryLogPage>, Problem> {
    let query = LogQuery {
        user_id: params.user_id,
        since: params.since,
        until: params.until,
        outcome: params.outcome,
        after_id: params.after_id,
        limit: params.limit,
    };
    let page =
        halsohub_app::query_log::read(&state.db, &caller.principal, &caller.user.id, query).await?;
    Ok(Json(page))
}
