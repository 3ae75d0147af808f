//! The public register, lead-time figures and the current queue: no login.
//! Nothing here carries personal data beyond organisation and project title
//! (the access crate decides what a register entry holds).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use halsohub_app::cases::api::{LEAD_TIME_COLUMNS, LeadTimes, PublicQueue, Register, RegisterRow};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cases::service;
use crate::AppState;
use crate::problem::Problem;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(public_register))
        .routes(routes!(public_register_csv))
        .routes(routes!(public_lead_times))
        .routes(routes!(public_lead_times_csv))
        .routes(routes!(public_queue))
}

/// Published applications, decisions with reasons, and permits.
#[utoipa::path(get, path = "/api/v1/public/register", tag = "public",
    responses((status = 200, description = "register entries", body = Register)))]
async fn public_register(State(state): State<AppState>) -> Result<Json<Register>, Problem> {
    Ok(Json(service(&state).register().await?))
}

/// The public register as CSV, its columns in the documented order.
#[utoipa::path(get, path = "/api/v1/public/register.csv", tag = "public",
    responses((status = 200, description = "CSV", content_type = "text/csv")))]
async fn public_register_csv(State(state): State<AppState>) -> Result<Response, Problem> {
    super::csv_response(
        &RegisterRow::COLUMNS,
        &service(&state).register_rows().await?,
    )
}

/// Lead times per stage and month: median and 90th percentile.
#[utoipa::path(get, path = "/api/v1/public/lead-times", tag = "public",
    responses((status = 200, description = "lead-time figures", body = LeadTimes)))]
async fn public_lead_times(State(state): State<AppState>) -> Result<Json<LeadTimes>, Problem> {
    Ok(Json(service(&state).lead_times().await?))
}

/// Lead times as CSV.
#[utoipa::path(get, path = "/api/v1/public/lead-times.csv", tag = "public",
    responses((status = 200, description = "CSV", content_type = "text/csv")))]
async fn public_lead_times_csv(State(state): State<AppState>) -> Result<Response, Problem> {
    super::csv_response(
        &LEAD_TIME_COLUMNS,
        &service(&state).lead_times().await?.figures,
    )
}

/// The current queue: "now handling applications completed on date D".
#[utoipa::path(get, path = "/api/v1/public/queue", tag = "public",
    responses((status = 200, description = "queue figure", body = PublicQueue)))]
async fn public_queue(State(state): State<AppState>) -> Result<Json<PublicQueue>, Problem> {
    Ok(Json(service(&state).public_queue().await?))
}
