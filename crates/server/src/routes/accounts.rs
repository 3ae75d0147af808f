//! The caller's own account: `GET /api/v1/me`, API-token management, and
//! password log-in for the web portal (`POST /api/v1/sessions`,
//! `DELETE /api/v1/sessions/current`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use halsohub_app::accounts::{self, LoginOutcome, Throttled};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::problem::Problem;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
        .routes(routes!(login))
        .routes(routes!(logout))
}

/// The 429 for a throttled username, with `Retry-After` in seconds.
fn throttled_response(t: Throttled) -> Response {
    // Whole seconds, rounded up: waiting that long is always enough.
    let secs = ((t.retry_after.num_milliseconds() + 999) / 1000).max(1);
    let mut resp = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too-many-log-ins",
        "Too many failed log-ins",
        format!("too many failed log-ins for this username; try again in {secs} seconds"),
    )
    .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, v);
    }
    resp
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Log in with username and password; the response holds a session token
/// (`hs_…`, shown once) to send as `Authorization: Bearer`. It lasts 8
/// hours. Unknown users and wrong passwords get the same answer; after 5
/// failures in 15 minutes a username is refused (429, with `Retry-After`)
/// until the oldest failure leaves the window. The count is kept in the
/// state database, so it holds across server processes and restarts.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "accounts",
    responses((status = 201, description = "session started; `token` shown once"),
        (status = 400, description = "malformed"),
        (status = 401, description = "unknown user or wrong password (not said which)"),
        (status = 429, description = "too many failed log-ins for this username; see Retry-After")))]
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let req: Login = super::parse_json(&headers, &body)?;
    let outcome = accounts::log_in(
        &state.db,
        &req.username,
        &req.password,
        state.config.login_throttle,
        state.now(),
    )
    .await?;
    let (session, user, secret) = match outcome {
        LoginOutcome::Started(s) => (s.session, s.user, s.secret),
        LoginOutcome::Throttled(t) => return Ok(throttled_response(t)),
        LoginOutcome::Refused => {
            return Err(Problem::unauthorized("unknown username or wrong password"));
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "session": { "id": session.id, "created_at": session.created_at, "expires_at": session.expires_at },
            "user": { "id": user.id, "username": user.username, "display_name": user.display_name },
            "token": secret.expose(),
        })),
    )
        .into_response())
}

/// Log out: end the session whose token authenticates this request.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "accounts", security(("bearer" = [])),
    responses((status = 204, description = "session ended"),
        (status = 400, description = "the request was not authenticated with a session token"),
        (status = 401, description = "no credentials")))]
async fn logout(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
) -> Result<StatusCode, Problem> {
    let token = crate::auth::bearer(&headers)?.unwrap_or("");
    accounts::log_out(&state.db, token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the caller is and which roles they hold per organisation.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "the caller"), (status = 401, description = "no credentials")))]
async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, Problem> {
    let roles: Vec<Value> = caller
        .principal
        .roles
        .iter()
        .map(|(org, rs)| json!({ "organisation_id": org, "roles": rs }))
        .collect();
    // The privacy budget for feasibility counts, when the service runs.
    let budget = match &state.feasibility {
        Some(f) => {
            halsohub_app::feasibility::budget_of(f, &state.db, &caller.user.id, state.now()).await?
        }
        None => None,
    };
    Ok(Json(json!({
        "user": {
            "id": caller.user.id,
            "username": caller.user.username,
            "display_name": caller.user.display_name,
        },
        "memberships": roles,
        "budget": budget,
    })))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    #[serde(default)]
    expires_in_days: Option<u32>,
}

/// Create an API token for yourself; the secret is in the response once.
/// It expires no later than the token or session this request is
/// authenticated with, nor than the hub's maximum token lifetime (default
/// 365 days); `expires_at` in the response says when.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts", security(("bearer" = [])),
    responses((status = 201, description = "token created; `secret` shown once"), (status = 400, description = "malformed"),
        (status = 422, description = "invalid")))]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let req: NewToken = super::parse_json(&headers, &body)?;
    // Never beyond the credential this request came with, nor the maximum.
    let issued = accounts::issue_token(
        &state.db,
        &caller.user.id,
        &req.name,
        req.expires_in_days,
        caller.credential_expires,
        state.config.max_token_lifetime,
        Utc::now(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": issued.token, "secret": issued.secret.expose() })),
    )
        .into_response())
}

/// Your API tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "tokens")))]
async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, Problem> {
    Ok(Json(
        json!({ "tokens": accounts::tokens_of(&state.db, &caller.user.id).await? }),
    ))
}

/// Revoke one of your API tokens (administrators may revoke anyone's).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "token id")),
    responses((status = 200, description = "revoked"), (status = 404, description = "no such token")))]
async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let token =
        accounts::revoke_token_as(&state.db, &caller.principal, &caller.user.id, &id).await?;
    Ok(Json(json!({ "token": token })))
}
