//! The citizens' endpoints: their own opt-out standing and history, a
//! change of it, and the permits whose extracts used their data. A
//! citizen logs in through OpenID Connect with a token carrying their
//! identity number (the claim `halsohub serve --oidc-identity-number-claim`
//! names); the number is pseudonymised on arrival by
//! [`halsohub_app::optout::Citizens`] and never stored. The decisions are
//! in [`halsohub_app::optout`]; these handlers translate.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use halsohub_app::optout::{self, Citizen, OptOutError, OptOutRequest, OptOutStatus, UsedBy};

use crate::AppState;
use crate::auth::Caller;
use crate::problem::Problem;
use crate::routes::parse_json;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_opt_out, post_opt_out))
        .routes(routes!(get_used_by))
}

impl From<OptOutError> for Problem {
    fn from(e: OptOutError) -> Problem {
        match e {
            OptOutError::NotACitizen => Problem::forbidden(e.to_string()),
            OptOutError::Invalid { .. } => Problem::invalid(e.to_string()),
            OptOutError::File(_) => Problem::invalid(e.to_string()),
            OptOutError::State(s) => s.into(),
        }
    }
}

/// The logged-in citizen.
fn citizen(state: &AppState, caller: &Caller) -> Result<Citizen, Problem> {
    let citizens = state.citizens.as_ref().ok_or_else(|| {
        Problem::unavailable("no-hub-key", "No hub key", "this server was started without a store and key, so it cannot recognise citizens; start it with `halsohub serve --store DIR`")
    })?;
    Ok(citizens.citizen(caller.identity_number.as_ref(), state.now())?)
}

/// The caller's own opt-out standing and every record of it.
#[utoipa::path(get, path = "/api/v1/me/opt-out", tag = "citizens", security(("bearer" = [])),
    responses(
        (status = 200, description = "the caller's standing and history", body = OptOutStatus),
        (status = 401, description = "no credentials", content_type = "application/problem+json"),
        (status = 403, description = "the token carries no identity number", content_type = "application/problem+json"),
        (status = 503, description = "the server has no hub key", content_type = "application/problem+json")))]
async fn get_opt_out(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<OptOutStatus>, Problem> {
    let c = citizen(&state, &caller)?;
    Ok(Json(optout::status(&state.db, c, state.now()).await?))
}

/// Opts the caller out (of every purpose, or one), or withdraws an
/// earlier opt-out; effective at once. Counts leave the caller out from
/// this moment; extracts for permits decided from now on too.
#[utoipa::path(post, path = "/api/v1/me/opt-out", tag = "citizens", security(("bearer" = [])),
    request_body(content = OptOutRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "the caller's standing after the change", body = OptOutStatus),
        (status = 400, description = "malformed body (the field named)", content_type = "application/problem+json"),
        (status = 401, description = "no credentials", content_type = "application/problem+json"),
        (status = 403, description = "the token carries no identity number", content_type = "application/problem+json"),
        (status = 503, description = "the server has no hub key", content_type = "application/problem+json")))]
async fn post_opt_out(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<OptOutStatus>, Problem> {
    let c = citizen(&state, &caller)?;
    let request: OptOutRequest = parse_json(&headers, &body)?;
    Ok(Json(
        optout::record(&state.db, c, &request, state.now()).await?,
    ))
}

/// The permits (and other recorded extracts) whose extracts held the
/// caller's data: project, holder, purpose, decision and extraction
/// dates. Nothing about anyone else.
#[utoipa::path(get, path = "/api/v1/me/permits", tag = "citizens", security(("bearer" = [])),
    responses(
        (status = 200, description = "the extracts that held the caller's data, oldest first", body = Vec<UsedBy>),
        (status = 401, description = "no credentials", content_type = "application/problem+json"),
        (status = 403, description = "the token carries no identity number", content_type = "application/problem+json"),
        (status = 503, description = "the server has no hub key", content_type = "application/problem+json")))]
async fn get_used_by(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UsedBy>>, Problem> {
    let c = citizen(&state, &caller)?;
    Ok(Json(optout::used_by(&state.db, c).await?))
}
