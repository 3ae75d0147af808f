//! Applications (cases), their commands, history and attachments; the
//! staff queue; permits. Each handler translates: it reads the request,
//! calls one function of the case service
//! ([`halsohub_app::cases::CaseService`]) and renders its answer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use halsohub_app::cases::api::{
    AttachmentList, AttachmentUploaded, CaseList, CaseView, CommandRequest, CommandResult, History,
    NewApplication, PermitView, WorkQueue,
};
use halsohub_app::cases::{Actor, CaseError, CaseService, Idempotency, Reply, Upload};
use halsohub_app::idempotency::request_hash;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Caller;
use crate::problem::Problem;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_application, list_applications))
        .routes(routes!(get_application))
        .routes(routes!(run_command))
        .routes(routes!(history))
        .routes(routes!(upload_attachment, list_attachments))
        .routes(routes!(download_attachment))
        .routes(routes!(work_queue))
        .routes(routes!(get_permit))
}

/// The case service over the server's database and access configuration.
pub(crate) fn service(state: &AppState) -> CaseService<'_> {
    CaseService::new(&state.db, &state.config.access)
}

fn actor(caller: &Caller) -> Actor<'_> {
    Actor {
        user_id: &caller.user.id,
        principal: &caller.principal,
    }
}

impl From<CaseError> for Problem {
    fn from(e: CaseError) -> Problem {
        match e {
            CaseError::Access(e) => e.into(),
            CaseError::State(e) => e.into(),
            CaseError::NotFound(id) => Problem::not_found(format!("no application {id}")),
            CaseError::BadRequest(detail) => Problem::bad_request(detail),
            e @ CaseError::VersionMismatch { .. } => {
                Problem::conflict("concurrent-change", e.to_string())
            }
            e @ (CaseError::Corrupt { .. } | CaseError::Internal(_)) => {
                tracing::error!(error = %e, "case service failed");
                Problem::internal()
            }
        }
    }
}

fn idempotency(
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
    status: StatusCode,
) -> Result<Option<Idempotency>, Problem> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .map_err(|_| Problem::bad_request("the Idempotency-Key header is not valid text"))?;
    Ok(Some(Idempotency {
        key: key.to_string(),
        request_hash: request_hash("POST", path, body),
        status: status.as_u16(),
    }))
}

fn render(reply: Reply<CommandResult>, status: StatusCode, location: Option<String>) -> Response {
    match reply {
        Reply::Replayed { status, body } => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            [("idempotent-replay", "true")],
            Json(body),
        )
            .into_response(),
        Reply::Done(result) => match location {
            Some(loc) => (status, [(header::LOCATION, loc)], Json(result)).into_response(),
            None => (status, Json(result)).into_response(),
        },
    }
}

/// Create a draft application (applicant of the named organisation).
#[utoipa::path(post, path = "/api/v1/applications", tag = "applications",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "replay-safe key")),
    request_body = NewApplication,
    responses((status = 201, description = "draft created", body = CommandResult), (status = 400, description = "malformed"),
        (status = 401, description = "no credentials"), (status = 403, description = "not an applicant of the organisation"),
        (status = 422, description = "invalid content")))]
async fn create_application(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let NewApplication(content) = super::parse_json(&headers, &body)?;
    let idem = idempotency(&headers, "/api/v1/applications", &body, StatusCode::CREATED)?;
    let reply = service(&state)
        .create(actor(&caller), content, idem, state.now())
        .await?;
    let location = match &reply {
        Reply::Done(r) => r.case.id.map(|id| format!("/api/v1/applications/{id}")),
        Reply::Replayed { .. } => None,
    };
    Ok(render(reply, StatusCode::CREATED, location))
}

/// The applications the caller may see (own organisation's for
/// applicants, all for case staff and auditors).
#[utoipa::path(get, path = "/api/v1/applications", tag = "applications",
    security(("bearer" = [])),
    responses((status = 200, description = "cases", body = CaseList), (status = 401, description = "no credentials")))]
async fn list_applications(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<CaseList>, Problem> {
    Ok(Json(
        service(&state).list(&caller.principal, state.now()).await?,
    ))
}

/// One application with its clocks.
#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "case id, e.g. HH-A-2026-000001")),
    responses((status = 200, description = "the case", body = CaseView), (status = 403, description = "not allowed"), (status = 404, description = "no such case")))]
async fn get_application(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, Problem> {
    Ok(Json(
        service(&state)
            .view(&caller.principal, &id, state.now())
            .await?,
    ))
}

/// Run a workflow command on an application. The body is the command as
/// JSON tagged by `type` (`submit`, `start_completeness_check`,
/// `return_incomplete`, `accept_complete`, `request_information`,
/// `provide_information`, `record_legal_review`, `record_technical_review`,
/// `approve`, `reject`, `issue_permit`, `record_delivery`, `publish`,
/// `close`, `withdraw`, `request_amendment`, `revoke_permit`,
/// `update_draft`). `issue_permit` gets its permit id from the hub.
#[utoipa::path(post, path = "/api/v1/applications/{id}/commands", tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "case id"),
        ("Idempotency-Key" = Option<String>, Header, description = "replay-safe key"),
        ("If-Match" = Option<String>, Header, description = "the case version the command was based on")),
    request_body = CommandRequest,
    responses((status = 200, description = "applied; new state and events", body = CommandResult), (status = 400, description = "malformed"),
        (status = 403, description = "role not allowed"), (status = 404, description = "no such case"),
        (status = 409, description = "illegal transition or concurrent change"), (status = 422, description = "invalid content")))]
async fn run_command(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: CommandRequest = super::parse_json(&headers, &body)?;
    let path = format!("/api/v1/applications/{id}/commands");
    let idem = idempotency(&headers, &path, &body, StatusCode::OK)?;
    let if_match = headers
        .get(header::IF_MATCH)
        .map(|v| {
            v.to_str()
                .unwrap_or("")
                .trim_matches('"')
                .parse::<u64>()
                .map_err(|_| Problem::bad_request("If-Match must be the case version, a number"))
        })
        .transpose()?;
    let reply = service(&state)
        .run_command(actor(&caller), &id, request, if_match, idem, state.now())
        .await?;
    Ok(render(reply, StatusCode::OK, None))
}

/// A case's full history: every event with who, when, what and why.
#[utoipa::path(get, path = "/api/v1/applications/{id}/history", tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "case id")),
    responses((status = 200, description = "events in order", body = History), (status = 403, description = "not allowed"), (status = 404, description = "no such case")))]
async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<History>, Problem> {
    Ok(Json(service(&state).history(&caller.principal, &id).await?))
}

/// Query of an attachment upload.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
struct UploadQuery {
    /// File name.
    name: String,
}

/// Upload an attachment to a draft (the raw bytes are the body; send the
/// media type as Content-Type and optionally `X-Content-SHA256`). Adds the
/// attachment to the draft's content.
#[utoipa::path(post, path = "/api/v1/applications/{id}/attachments", tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "case id"), UploadQuery,
        ("X-Content-SHA256" = Option<String>, Header, description = "expected SHA-256, hex")),
    request_body(content = Vec<u8>, description = "the file's bytes", content_type = "application/octet-stream"),
    responses((status = 201, description = "stored", body = AttachmentUploaded), (status = 403, description = "not allowed"),
        (status = 409, description = "not a draft"), (status = 413, description = "too large"), (status = 422, description = "invalid")))]
async fn upload_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let upload = Upload {
        name: &q.name,
        media_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream"),
        bytes: &body,
        expected_sha256: headers
            .get("x-content-sha256")
            .and_then(|v| v.to_str().ok()),
        max_bytes: u64::try_from(state.config.max_attachment_bytes).unwrap_or(u64::MAX),
    };
    let attachment = service(&state)
        .upload_attachment(actor(&caller), &id, upload, state.now())
        .await?;
    Ok((StatusCode::CREATED, Json(AttachmentUploaded { attachment })).into_response())
}

/// A case's attachments (metadata).
#[utoipa::path(get, path = "/api/v1/applications/{id}/attachments", tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "case id")),
    responses((status = 200, description = "attachments", body = AttachmentList), (status = 403, description = "not allowed"), (status = 404, description = "no such case")))]
async fn list_attachments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AttachmentList>, Problem> {
    Ok(Json(
        service(&state).attachments(&caller.principal, &id).await?,
    ))
}

/// Download an attachment; its checksum is verified before it is sent and
/// returned in `X-Content-SHA256`.
#[utoipa::path(get, path = "/api/v1/applications/{id}/attachments/{attachment_id}", tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "case id"), ("attachment_id" = String, Path, description = "attachment id")),
    responses((status = 200, description = "the bytes", body = Vec<u8>, content_type = "application/octet-stream"), (status = 403, description = "not allowed"), (status = 404, description = "no such attachment")))]
async fn download_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, attachment_id)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let found = service(&state)
        .attachment(&caller.principal, &id, &attachment_id)
        .await?;
    let meta = found.meta;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        meta.filename.replace(['"', '\\'], "_")
    );
    let mut resp = found.bytes.into_response();
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE.as_str(), meta.media_type.as_str()),
        ("x-content-sha256", meta.sha256.as_str()),
        (header::CONTENT_DISPOSITION.as_str(), disposition.as_str()),
    ] {
        if let (Ok(n), Ok(v)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            axum::http::HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    }
    Ok(resp)
}

/// The staff work queue: cases with a running clock, by deadline.
#[utoipa::path(get, path = "/api/v1/queue", tag = "staff",
    security(("bearer" = [])),
    responses((status = 200, description = "queue", body = WorkQueue), (status = 403, description = "not staff")))]
async fn work_queue(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<WorkQueue>, Problem> {
    Ok(Json(
        service(&state)
            .work_queue(&caller.principal, state.now())
            .await?,
    ))
}

/// A permit and whether it is active now.
#[utoipa::path(get, path = "/api/v1/permits/{id}", tag = "permits",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "permit id, e.g. HH-P-2026-000001")),
    responses((status = 200, description = "the permit", body = PermitView), (status = 403, description = "not allowed"), (status = 404, description = "no such permit")))]
async fn get_permit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PermitView>, Problem> {
    Ok(Json(
        service(&state)
            .permit(&caller.principal, &id, state.now())
            .await?,
    ))
}
