//! The public register, lead-time figures and the current queue: no login.
//! Nothing here carries personal data beyond organisation and project title
//! (the access crate decides what a register entry holds).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use halsohub_access::{current_queue, lead_times, register};
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cases::load_all;
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

async fn register_rows(state: &AppState) -> Result<Vec<Value>, Problem> {
    let all = load_all(&state.db).await?;
    Ok(register(all.iter())
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect())
}

async fn lead_time_rows(state: &AppState) -> Result<Vec<Value>, Problem> {
    let all = load_all(&state.db).await?;
    Ok(lead_times(all.iter())
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect())
}

/// Published applications, decisions with reasons, and permits.
#[utoipa::path(get, path = "/api/v1/public/register", tag = "public",
    responses((status = 200, description = "register entries")))]
async fn public_register(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    Ok(Json(json!({ "entries": register_rows(&state).await? })))
}

/// The public register as CSV.
#[utoipa::path(get, path = "/api/v1/public/register.csv", tag = "public",
    responses((status = 200, description = "CSV", content_type = "text/csv")))]
async fn public_register_csv(State(state): State<AppState>) -> Result<Response, Problem> {
    super::csv_response(&register_rows(&state).await?)
}

/// Lead times per stage and month: median and 90th percentile.
#[utoipa::path(get, path = "/api/v1/public/lead-times", tag = "public",
    responses((status = 200, description = "lead-time figures")))]
async fn public_lead_times(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    Ok(Json(json!({ "figures": lead_time_rows(&state).await? })))
}

/// Lead times as CSV.
#[utoipa::path(get, path = "/api/v1/public/lead-times.csv", tag = "public",
    responses((status = 200, description = "CSV", content_type = "text/csv")))]
async fn public_lead_times_csv(State(state): State<AppState>) -> Result<Response, Problem> {
    super::csv_response(&lead_time_rows(&state).await?)
}

/// The current queue: "now handling applications completed on date D".
#[utoipa::path(get, path = "/api/v1/public/queue", tag = "public",
    responses((status = 200, description = "queue figure")))]
async fn public_queue(State(state): State<AppState>) -> Result<Response, Problem> {
    let all = load_all(&state.db).await?;
    Ok(Json(json!({ "queue": current_queue(all.iter()) })).into_response())
}
