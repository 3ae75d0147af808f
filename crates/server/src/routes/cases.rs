//! Applications (cases), their commands, history and attachments; the
//! staff queue; permits.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Utc};
use halsohub_access::{
    Action, Attachment as DomainAttachment, CaseEvent, CaseId, CaseState, Command, PermitId,
    Recipient, Target, authorize, case_clocks, deadline_notifications, decide_with, may_see_case,
    notifications_for_events, queue,
};
use halsohub_state::attachments::NewAttachment;
use halsohub_state::cases::{CaseFilter, CaseWrite, IdempotencyRecord, NewEvent, request_hash};
use halsohub_state::outbox::NewNotification;
use halsohub_state::permits::PermitRow;
use halsohub_state::{Db, StateError};
use serde_json::{Value, json};
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

/// Loads a case's events and folds them.
pub(crate) async fn load_case(
    db: &Db,
    case_id: &str,
) -> Result<(CaseState, Vec<CaseEvent>), Problem> {
    let stored = db.case_events(case_id).await?;
    let mut events = Vec::with_capacity(stored.len());
    for s in stored {
        let e: CaseEvent = serde_json::from_value(s.payload).map_err(|err| {
            tracing::error!(case_id, seq = s.seq, error = %err, "stored event does not parse");
            Problem::internal()
        })?;
        events.push(e);
    }
    Ok((CaseState::from_events(&events), events))
}

/// Every case's state (for the queue, the register and lead times).
pub(crate) async fn load_all(db: &Db) -> Result<Vec<CaseState>, Problem> {
    let mut out = Vec::new();
    for c in db.list_cases(&CaseFilter::default()).await? {
        out.push(load_case(db, &c.case_id).await?.0);
    }
    Ok(out)
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| Problem::bad_request("the Idempotency-Key header is not valid text"))
        })
        .transpose()
}

fn to_rows(notes: &[halsohub_access::Notification]) -> Vec<NewNotification> {
    let mut out = Vec::new();
    for n in notes {
        let body = serde_json::to_string(&n.kind).unwrap_or_default();
        for to in &n.to {
            let recipients: Vec<String> = match to {
                Recipient::Users(us) => us.iter().map(|u| format!("user:{u}")).collect(),
                Recipient::Role(r) => vec![format!("role:{r}")],
            };
            for r in recipients {
                out.push(NewNotification {
                    dedupe_key: format!("{}|{r}", n.key),
                    recipient: r,
                    case_id: Some(n.case_id.to_string()),
                    kind: kind_name(&n.kind).to_string(),
                    subject: n.subject.clone(),
                    body: body.clone(),
                });
            }
        }
    }
    out
}

fn kind_name(k: &halsohub_access::NotificationKind) -> &'static str {
    use halsohub_access::NotificationKind as K;
    match k {
        K::StatusChanged { .. } => "status_changed",
        K::ReadyForDecision => "ready_for_decision",
        K::DeadlineNear { .. } => "deadline_near",
        K::Overdue { .. } => "overdue",
    }
}

fn permit_row(state: &CaseState) -> Option<PermitRow> {
    let p = state.permit.as_ref()?;
    Some(PermitRow {
        permit_id: p.id.to_string(),
        case_id: p.case_id.to_string(),
        valid_from: p.starts_at(),
        expires_at: p.expires_at(),
        revoked_at: p.revoked.as_ref().map(|r| r.at),
        document: serde_json::to_value(p).unwrap_or(Value::Null),
    })
}

fn case_view(state: &AppState, s: &CaseState) -> Value {
    json!({
        "case": s,
        "clocks": case_clocks(s, &state.config.access.clocks, state.now()),
    })
}

/// Decides a command and stores its events, projection, permit row,
/// attachment and notifications in one transaction.
async fn execute(
    state: &AppState,
    caller: &Caller,
    case_id: &str,
    command: Command,
    attachment: Option<NewAttachment>,
    idem: Option<(String, String)>,
    status_on_success: StatusCode,
) -> Result<(StatusCode, Value), Problem> {
    let (before, _) = load_case(&state.db, case_id).await?;
    let now = state.now();
    let events = decide_with(
        &state.config.access,
        &before,
        &command,
        &caller.principal,
        now,
    )?;
    let mut after = before.clone();
    for e in &events {
        after.apply(e);
    }
    let notes = to_rows(&notifications_for_events(&before, &events));
    let permits: Vec<PermitRow> = match (permit_row(&before), permit_row(&after)) {
        (b, Some(a)) if b.as_ref() != Some(&a) => vec![a],
        _ => vec![],
    };
    let body = json!({
        "case": &after,
        "events": &events,
        "clocks": case_clocks(&after, &state.config.access.clocks, now),
    });
    let organisation = after
        .organisation()
        .map(ToString::to_string)
        .unwrap_or_default();
    let write = CaseWrite {
        case_id: case_id.to_string(),
        expected_version: i64::try_from(before.version).map_err(|_| Problem::internal())?,
        organisation_id: organisation,
        created_by: caller.user.id.clone(),
        events: events
            .iter()
            .map(|e| NewEvent {
                event_type: e.change.name().to_string(),
                payload: serde_json::to_value(e).unwrap_or(Value::Null),
                actor: e.actor.to_string(),
                at: e.at,
            })
            .collect(),
        status: after.status.as_str().to_string(),
        projection: serde_json::to_value(&after).unwrap_or(Value::Null),
        attachments: attachment.into_iter().collect(),
        permits,
        notifications: notes,
        idempotency: idem.map(|(key, hash)| IdempotencyRecord {
            user_id: caller.user.id.clone(),
            key,
            request_hash: hash,
            status: status_on_success.as_u16(),
            response: body.clone(),
        }),
    };
    state.db.write_case(write).await?;
    tracing::info!(case_id, user = %caller.user.id, "case command applied");
    Ok((status_on_success, body))
}

async fn stored_response(
    state: &AppState,
    caller: &Caller,
    key: Option<&str>,
    hash: &str,
) -> Result<Option<halsohub_state::cases::StoredResponse>, Problem> {
    match key {
        Some(k) => Ok(state
            .db
            .idempotent_response(&caller.user.id, k, hash)
            .await?),
        None => Ok(None),
    }
}

fn replay(stored: halsohub_state::cases::StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    (
        status,
        [("idempotent-replay", "true")],
        Json(stored.response),
    )
        .into_response()
}

/// Create a draft application (applicant of the named organisation).
#[utoipa::path(post, path = "/api/v1/applications", tag = "applications",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "replay-safe key")),
    responses((status = 201, description = "draft created"), (status = 400, description = "malformed"),
        (status = 401, description = "no credentials"), (status = 403, description = "not an applicant of the organisation"),
        (status = 422, description = "invalid content")))]
async fn create_application(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let content: halsohub_access::ApplicationContent = super::parse_json(&headers, &body)?;
    let key = idempotency_key(&headers)?;
    let hash = request_hash("POST", "/api/v1/applications", &body);
    if let Some(stored) = stored_response(&state, &caller, key.as_deref(), &hash).await? {
        return Ok(replay(stored));
    }
    let year = u16::try_from(state.now().year()).map_err(|_| Problem::internal())?;
    let mut serial = u32::try_from(state.db.list_cases(&CaseFilter::default()).await?.len())
        .map_err(|_| Problem::internal())?;
    for _ in 0..5 {
        serial += 1;
        let case_id = CaseId::new(year, serial).map_err(|e| Problem::invalid(e.to_string()))?;
        let cmd = Command::Create {
            case_id,
            content: content.clone(),
        };
        let idem = key.clone().map(|k| (k, hash.clone()));
        match execute(
            &state,
            &caller,
            &case_id.to_string(),
            cmd,
            None,
            idem,
            StatusCode::CREATED,
        )
        .await
        {
            Ok((status, body)) => {
                let loc = format!("/api/v1/applications/{case_id}");
                return Ok((status, [(header::LOCATION, loc)], Json(body)).into_response());
            }
            // Someone took this serial: try the next.
            Err(p) if p.status == 409 && p.type_uri.ends_with("concurrent-change") => continue,
            Err(p) => return Err(p),
        }
    }
    Err(Problem::conflict(
        "concurrent-change",
        "could not allocate a case number under concurrent load; retry",
    ))
}

/// The applications the caller may see (own organisation's for
/// applicants, all for case staff and auditors).
#[utoipa::path(get, path = "/api/v1/applications", tag = "applications",
    security(("bearer" = [])),
    responses((status = 200, description = "cases"), (status = 401, description = "no credentials")))]
async fn list_applications(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>, Problem> {
    let all = load_all(&state.db).await?;
    let visible: Vec<Value> = all
        .iter()
        .filter(|s| may_see_case(&caller.principal, s))
        .map(|s| case_view(&state, s))
        .collect();
    Ok(Json(json!({ "applications": visible })))
}

/// One application with its clocks.
#[utoipa::path(get, path = "/api/v1/applications/{id}", tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "case id, e.g. HH-A-2026-000001")),
    responses((status = 200, description = "the case"), (status = 403, description = "not allowed"), (status = 404, description = "no such case")))]
async fn get_application(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let (s, events) = load_case(&state.db, &id).await?;
    if events.is_empty() {
        return Err(Problem::not_found(format!("no application {id}")));
    }
    authorize(&caller.principal, Action::ViewCase, Target::Case(&s))?;
    Ok(Json(case_view(&state, &s)))
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
    responses((status = 200, description = "applied; new state and events"), (status = 400, description = "malformed"),
        (status = 403, description = "role not allowed"), (status = 404, description = "no such case"),
        (status = 409, description = "illegal transition or concurrent change"), (status = 422, description = "invalid content")))]
async fn run_command(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let mut raw: Value = super::parse_json(&headers, &body)?;
    let key = idempotency_key(&headers)?;
    let path = format!("/api/v1/applications/{id}/commands");
    let hash = request_hash("POST", &path, &body);
    if let Some(stored) = stored_response(&state, &caller, key.as_deref(), &hash).await? {
        return Ok(replay(stored));
    }
    let (current, events) = load_case(&state.db, &id).await?;
    if events.is_empty() {
        return Err(Problem::not_found(format!("no application {id}")));
    }
    if let Some(v) = headers.get(header::IF_MATCH) {
        let text = v.to_str().unwrap_or("").trim_matches('"');
        let expected: u64 = text
            .parse()
            .map_err(|_| Problem::bad_request("If-Match must be the case version, a number"))?;
        if expected != current.version {
            return Err(Problem::conflict(
                "concurrent-change",
                format!(
                    "the case is at version {}, not {expected}: someone changed it; reload and retry",
                    current.version
                ),
            ));
        }
    }
    if raw.get("type").and_then(Value::as_str) == Some("issue_permit")
        && raw.get("permit_id").is_none()
    {
        let year = u16::try_from(state.now().year()).map_err(|_| Problem::internal())?;
        let serial = u32::try_from(state.db.list_permits(None).await?.len() + 1)
            .map_err(|_| Problem::internal())?;
        let pid = PermitId::new(year, serial).map_err(|e| Problem::invalid(e.to_string()))?;
        if let Some(obj) = raw.as_object_mut() {
            obj.insert("permit_id".into(), Value::String(pid.to_string()));
        }
    }
    if raw.get("type").and_then(Value::as_str) == Some("create") {
        return Err(Problem::bad_request(
            "create an application with POST /api/v1/applications",
        ));
    }
    let command: Command = serde_path_to_error::deserialize(raw).map_err(|e| {
        Problem::bad_request(format!("invalid command at {}: {}", e.path(), e.inner()))
    })?;
    let idem = key.map(|k| (k, hash));
    let (status, body) = execute(&state, &caller, &id, command, None, idem, StatusCode::OK).await?;
    Ok((status, Json(body)).into_response())
}

/// A case's full history: every event with who, when, what and why.
#[utoipa::path(get, path = "/api/v1/applications/{id}/history", tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "case id")),
    responses((status = 200, description = "events in order"), (status = 403, description = "not allowed"), (status = 404, description = "no such case")))]
async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let (s, events) = load_case(&state.db, &id).await?;
    if events.is_empty() {
        return Err(Problem::not_found(format!("no application {id}")));
    }
    authorize(&caller.principal, Action::ViewHistory, Target::Case(&s))?;
    let items: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| json!({ "seq": i + 1, "event": e, "why": e.why() }))
        .collect();
    Ok(Json(json!({ "case_id": id, "events": items })))
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
    responses((status = 201, description = "stored"), (status = 403, description = "not allowed"),
        (status = 409, description = "not a draft"), (status = 413, description = "too large"), (status = 422, description = "invalid")))]
async fn upload_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let (current, events) = load_case(&state.db, &id).await?;
    if events.is_empty() {
        return Err(Problem::not_found(format!("no application {id}")));
    }
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let expected = headers
        .get("x-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let limit = u64::try_from(state.config.max_attachment_bytes).unwrap_or(u64::MAX);
    let new = NewAttachment::new(
        &id,
        &q.name,
        &media_type,
        body.to_vec(),
        &caller.user.id,
        limit,
        expected.as_deref(),
    )?;
    let meta = new.meta().clone();
    let Some(mut content) = current.content.clone() else {
        return Err(Problem::not_found(format!("no application {id}")));
    };
    content.attachments.push(DomainAttachment {
        name: meta.filename.clone(),
        media_type: meta.media_type.clone(),
        size: meta.size_bytes,
        sha256: meta.sha256.clone(),
    });
    execute(
        &state,
        &caller,
        &id,
        Command::UpdateDraft { content },
        Some(new),
        None,
        StatusCode::CREATED,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "attachment": meta }))).into_response())
}

/// A case's attachments (metadata).
#[utoipa::path(get, path = "/api/v1/applications/{id}/attachments", tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "case id")),
    responses((status = 200, description = "attachments"), (status = 403, description = "not allowed"), (status = 404, description = "no such case")))]
async fn list_attachments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let (s, events) = load_case(&state.db, &id).await?;
    if events.is_empty() {
        return Err(Problem::not_found(format!("no application {id}")));
    }
    authorize(&caller.principal, Action::ViewCase, Target::Case(&s))?;
    Ok(Json(
        json!({ "attachments": state.db.list_attachments(&id).await? }),
    ))
}

/// Download an attachment; its checksum is verified before it is sent and
/// returned in `X-Content-SHA256`.
#[utoipa::path(get, path = "/api/v1/applications/{id}/attachments/{attachment_id}", tag = "applications",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "case id"), ("attachment_id" = String, Path, description = "attachment id")),
    responses((status = 200, description = "the bytes"), (status = 403, description = "not allowed"), (status = 404, description = "no such attachment")))]
async fn download_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, attachment_id)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let (s, events) = load_case(&state.db, &id).await?;
    if events.is_empty() {
        return Err(Problem::not_found(format!("no application {id}")));
    }
    authorize(&caller.principal, Action::ViewCase, Target::Case(&s))?;
    let (meta, bytes) = state.db.attachment(&id, &attachment_id).await?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        meta.filename.replace(['"', '\\'], "_")
    );
    let mut resp = bytes.into_response();
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
    responses((status = 200, description = "queue"), (status = 403, description = "not staff")))]
async fn work_queue(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, Problem> {
    authorize(&caller.principal, Action::ViewWorkQueue, Target::Hub)?;
    let all = load_all(&state.db).await?;
    let q = queue(all.iter(), &state.config.access.clocks, state.now());
    Ok(Json(json!({ "queue": q })))
}

/// A permit and whether it is active now.
#[utoipa::path(get, path = "/api/v1/permits/{id}", tag = "permits",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "permit id, e.g. HH-P-2026-000001")),
    responses((status = 200, description = "the permit"), (status = 403, description = "not allowed"), (status = 404, description = "no such permit")))]
async fn get_permit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let row = state.db.permit(&id).await?;
    let (s, _) = load_case(&state.db, &row.case_id).await?;
    authorize(&caller.principal, Action::ViewPermit, Target::Case(&s))?;
    let now = state.now();
    let permit = s
        .permit
        .as_ref()
        .ok_or_else(|| Problem::not_found(format!("no permit {id}")))?;
    Ok(Json(json!({
        "permit": permit,
        "status": permit.status(now),
        "active": permit.is_active(now),
    })))
}

/// Queues deadline reminders ("deadline near", "overdue") for every case
/// at `now`. Safe to run as often as wanted: each reminder's dedupe key
/// names the case, clock and deadline, and the outbox ignores a key it has
/// seen, so each warning is queued once. Returns how many were newly queued.
pub async fn sweep_deadlines(
    db: &Db,
    config: &halsohub_access::AccessConfig,
    now: chrono::DateTime<Utc>,
) -> Result<usize, StateError> {
    let mut n = 0;
    for c in db.list_cases(&CaseFilter::default()).await? {
        let stored = db.case_events(&c.case_id).await?;
        let mut events: Vec<CaseEvent> = Vec::with_capacity(stored.len());
        for s in stored {
            match serde_json::from_value(s.payload) {
                Ok(e) => events.push(e),
                Err(err) => {
                    tracing::error!(case_id = c.case_id, seq = s.seq, error = %err,
                        "stored event does not parse; case skipped by the deadline sweep");
                    events.clear();
                    break;
                }
            }
        }
        if events.is_empty() {
            continue;
        }
        let st = CaseState::from_events(&events);
        for row in to_rows(&deadline_notifications(&st, &config.clocks, now)) {
            if db.notify(&row).await? {
                n += 1;
            }
        }
    }
    Ok(n)
}
