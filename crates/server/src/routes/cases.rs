//! Applications (cases), their commands, history and attachments; the
//! staff queue; permits. Each handler translates: it reads the request,
//! calls one function of the case service
//! ([`halsohub_app::cases::CaseService`]) and renders its answer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use halsohub_app::cases::api::{
    AttachmentList, AttachmentUploaded, CaseList, CaseView, CommandRequest, CommandResult, History,
    ListQuery, NewApplication, PermitView, WorkQueue,
};
use halsohub_app::cases::{
    Actor, CaseError, CaseService, Idempotency, IfMatch, Reply, Upload, etag,
};
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
        .routes(routes!(download_attachment, delete_attachment))
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

/// A case request body: `415` unless JSON, `400` when it is not JSON at
/// all, `422` with one `errors[]` entry when it is JSON of the wrong shape
/// (an unknown field, a missing one, a value of the wrong type).
fn parse_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Problem> {
    let value: serde_json::Value = super::parse_json(headers, body)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "$".to_string() } else { path };
        Problem::from(halsohub_app::cases::invalid(&field, &e.inner().to_string()))
    })
}

/// The list query, or `422` naming the parameter.
fn list_query(q: Result<Query<ListQuery>, QueryRejection>) -> Result<ListQuery, Problem> {
    q.map(|Query(q)| q)
        .map_err(|e| Problem::from(halsohub_app::cases::invalid("query", &e.body_text())))
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
        Reply::Done(result) => {
            let version = CaseVersion(result.case.version);
            let mut resp = match location {
                Some(loc) => (status, [(header::LOCATION, loc)], Json(result)).into_response(),
                None => (status, Json(result)).into_response(),
            };
            resp.extensions_mut().insert(version);
            resp
        }
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
    let NewApplication(content) = parse_body(&headers, &body)?;
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
/// applicants; submitted ones for case staff and auditors), as summaries,
/// filtered and paged.
#[utoipa::path(get, path = "/api/v1/applications", tag = "applications",
    security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, description = "case summaries", body = CaseList), (status = 401, description = "no credentials"),
        (status = 422, description = "a filter names nothing")))]
async fn list_applications(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<CaseList>, Problem> {
    let q = list_query(q)?;
    Ok(Json(
        service(&state)
            .list(&caller.principal, &q, state.now())
            .await?,
    ))
}

/// One application with its clocks and the names of the people and
/// organisation it names; `ETag` is its version, for `If-Match`.
#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "case id, e.g. HH-A-2026-000001")),
    responses((status = 200, description = "the case", body = CaseView, headers(("ETag" = String, description = "the case version, e.g. \"7\""))),
        (status = 403, description = "not allowed"), (status = 404, description = "no such case")))]
async fn get_application(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let view = service(&state)
        .view(&caller.principal, &id, state.now())
        .await?;
    let tag = etag(view.case.version);
    Ok(([(header::ETAG, tag)], Json(view)).into_response())
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
        ("If-Match" = Option<String>, Header, description = "the case's ETag (e.g. \"7\") the command was based on, or *")),
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
    let request: CommandRequest = parse_body(&headers, &body)?;
    let path = format!("/api/v1/applications/{id}/commands");
    let idem = idempotency(&headers, &path, &body, StatusCode::OK)?;
    let if_match = headers
        .get(header::IF_MATCH)
        .map(|v| {
            v.to_str().ok().and_then(IfMatch::parse).ok_or_else(|| {
                Problem::bad_request(
                    "If-Match must be the case's ETag (e.g. \"7\", from GET /applications/{id}) or *",
                )
            })
        })
        .transpose()?;
    let reply = service(&state)
        .run_command(actor(&caller), &id, request, if_match, idem, state.now())
        .await?;
    let mut resp = render(reply, StatusCode::OK, None);
    if resp.status().is_success()
        && let Some(tag) = resp_version(&resp)
    {
        resp.headers_mut().insert(header::ETAG, tag);
    }
    Ok(resp)
}

/// The `ETag` of a command's answer: the case version it left, taken from
/// the `x-case-version` extension the render step sets.
fn resp_version(resp: &Response) -> Option<axum::http::HeaderValue> {
    resp.extensions()
        .get::<CaseVersion>()
        .and_then(|v| axum::http::HeaderValue::from_str(&etag(v.0)).ok())
}

/// The case version a command left, carried from render to the `ETag`.
#[derive(Debug, Clone, Copy)]
struct CaseVersion(u64);

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

/// Upload an attachment (the raw bytes are the body; send the media type
/// as Content-Type, parameters such as `charset` allowed, and optionally
/// `X-Content-SHA256`). In a draft or an application returned as
/// incomplete it is added to the content; while the hub waits for the
/// applicant it is stored for the answer (`provide_information`) to name.
/// The bytes must be what the media type says (PDF, PNG, JPEG, office
/// formats, UTF-8 text or CSV).
#[utoipa::path(post, path = "/api/v1/applications/{id}/attachments", tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "case id"), UploadQuery,
        ("X-Content-SHA256" = Option<String>, Header, description = "expected SHA-256, hex")),
    request_body(content = Vec<u8>, description = "the file's bytes", content_type = "application/octet-stream"),
    responses((status = 201, description = "stored", body = AttachmentUploaded), (status = 403, description = "not allowed"),
        (status = 409, description = "not a draft, incomplete or waiting for the applicant"), (status = 413, description = "too large (the limit is in the detail)"), (status = 422, description = "invalid, or content not of the declared type")))]
async fn upload_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, Problem> {
    // Read here rather than by the global body limit, so the 413 states
    // this limit.
    let limit = state.config.max_attachment_bytes;
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Payload too large",
            format!("the attachment is larger than the limit of {limit} bytes"),
        )
    })?;
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

/// Delete an attachment from a draft (or an application returned as
/// incomplete): it leaves the content and the stored files.
#[utoipa::path(delete, path = "/api/v1/applications/{id}/attachments/{attachment_id}", tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "case id"), ("attachment_id" = String, Path, description = "attachment id")),
    responses((status = 200, description = "deleted; the attachments left", body = AttachmentList), (status = 403, description = "not allowed"), (status = 404, description = "no such attachment"),
        (status = 409, description = "not a draft")))]
async fn delete_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, attachment_id)): Path<(String, String)>,
) -> Result<Json<AttachmentList>, Problem> {
    let svc = service(&state);
    svc.delete_attachment(actor(&caller), &id, &attachment_id, state.now())
        .await?;
    Ok(Json(svc.attachments(&caller.principal, &id).await?))
}

/// The work queue: every submitted case waiting for someone (applicant,
/// case officer, reviewers, decision maker, data steward), as summaries,
/// earliest deadline first; filter by role, assignment, state and clock.
#[utoipa::path(get, path = "/api/v1/queue", tag = "staff",
    security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, description = "queue", body = WorkQueue), (status = 403, description = "not staff"),
        (status = 422, description = "a filter names nothing")))]
async fn work_queue(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<WorkQueue>, Problem> {
    let q = list_query(q)?;
    Ok(Json(
        service(&state)
            .work_queue(&caller.principal, &q, state.now())
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
