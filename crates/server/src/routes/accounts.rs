//! The caller's own account: `GET /api/v1/me` and API-token management.

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
}

/// Who the caller is and which roles they hold per organisation.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "the caller"), (status = 401, description = "no credentials")))]
async fn me(caller: Caller) -> Json<Value> {
    let roles: Vec<Value> = caller
        .principal
        .roles
        .iter()
        .map(|(org, rs)| json!({ "organisation_id": org, "roles": rs }))
        .collect();
    Json(json!({
        "user": {
            "id": caller.user.id,
            "username": caller.user.username,
            "display_name": caller.user.display_name,
        },
        "memberships": roles,
    }))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    #[serde(default)]
    expires_in_days: Option<u32>,
}

/// Create an API token for yourself; the secret is in the response once.
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
    let expires = match req.expires_in_days {
        Some(0) => return Err(Problem::invalid("expires_in_days must be at least 1")),
        Some(d) => Some(Utc::now() + Duration::days(i64::from(d))),
        None => None,
    };
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
