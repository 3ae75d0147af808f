//! The caller's own account: `GET /api/v1/me`, API-token management, and
//! password log-in for the web portal (`POST /api/v1/sessions`,
//! `DELETE /api/v1/sessions/current`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
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

/// How long a web session lasts.
pub(crate) const SESSION_HOURS: i64 = 8;

/// The 429 for a throttled username, with `Retry-After` in seconds.
fn throttled_response(t: halsohub_state::login_throttle::Throttled) -> Response {
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
    let username = req.username.trim().to_lowercase();
    if username.is_empty() || req.password.is_empty() {
        return Err(Problem::bad_request("username and password are required"));
    }
    // Usernames longer than any account's cannot match one: not counted
    // (bounds what the throttle table can be made to hold).
    let counted = username.len() <= 64;
    if counted
        && let Err(t) = state
            .db
            .begin_login_attempt(&username, state.now(), state.config.login_throttle)
            .await?
    {
        tracing::warn!(username, "log-in refused: too many failures");
        return Ok(throttled_response(t));
    }
    let Some(user) = state.db.verify_password(&username, &req.password).await? else {
        // The attempt stays recorded as a failure.
        tracing::info!(username, "log-in failed");
        return Err(Problem::unauthorized("unknown username or wrong password"));
    };
    if counted {
        state.db.login_succeeded(&username).await?;
    }
    let (session, secret) = state
        .db
        .create_session(&user.id, Duration::hours(SESSION_HOURS))
        .await?;
    tracing::info!(
        user_id = user.id,
        session_id = session.id,
        "session started"
    );
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
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| {
            t.strip_prefix("Bearer ")
                .or_else(|| t.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or("");
    if !token.starts_with(halsohub_state::tokens::SESSION_PREFIX) {
        return Err(Problem::bad_request(
            "log out ends a session; this request used another kind of credential (revoke API tokens with DELETE /api/v1/tokens/{id})",
        ));
    }
    state.db.end_session(token).await?;
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
    if caller.user.id.starts_with("oidc:") {
        return Err(Problem::forbidden(
            "callers from the identity provider without a local account cannot create API tokens",
        ));
    }
    let now = Utc::now();
    let requested = match req.expires_in_days {
        Some(0) => return Err(Problem::invalid("expires_in_days must be at least 1")),
        Some(d) => Some(now + Duration::days(i64::from(d))),
        None => None,
    };
    // Never beyond the credential this request came with, nor the maximum.
    let expires = halsohub_state::tokens::clamp_token_expiry(
        requested,
        caller.credential_expires,
        state.config.max_token_lifetime,
        now,
    );
    let (token, secret) = state
        .db
        .create_api_token(&caller.user.id, &req.name, expires)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": token, "secret": secret.expose() })),
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
        json!({ "tokens": state.db.list_api_tokens(&caller.user.id).await? }),
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
    let token = state.db.api_token(&id).await?;
    let admin = halsohub_access::authorize(
        &caller.principal,
        halsohub_access::Action::ManageUsers,
        halsohub_access::Target::Hub,
    )
    .is_ok();
    if token.user_id != caller.user.id && !admin {
        // Do not reveal that someone else's token exists.
        return Err(Problem::not_found(format!("API token not found: {id}")));
    }
    Ok(Json(
        json!({ "token": state.db.revoke_api_token(&id).await? }),
    ))
}
