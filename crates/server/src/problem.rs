//! RFC 9457 problem details: every failure is `application/problem+json`
//! with a machine-readable `type`, a `title`, the `status` and a `detail`
//! that points at what is wrong.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use halsohub_app::accounts::AccountError;
use halsohub_app::auth::AccessError;
use halsohub_app::codes::CodeSearchError;
use halsohub_app::db::StateError;
use halsohub_app::query_log::QueryLogError;
use serde::Serialize;

/// Base of every problem `type` URI.
pub const TYPE_BASE: &str = "https://halsohub.example/problems/";

/// A problem response.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Problem {
    /// Machine-readable type URI.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short human title.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What is wrong, specifically.
    pub detail: String,
    /// Field-level problems, when there are several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One refused field.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldError {
    /// Field path.
    pub field: String,
    /// Why.
    pub problem: String,
}

impl Problem {
    /// A problem of `kind` (the last segment of its type URI).
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            type_uri: format!("{TYPE_BASE}{kind}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    /// 401: no or unknown credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        )
    }

    /// 403: authenticated but not allowed.
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    /// 404: nothing there (or not visible to the caller).
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 409: state conflict.
    pub fn conflict(kind: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::CONFLICT, kind, "Conflict", detail)
    }

    /// 422: well-formed but invalid content.
    pub fn invalid(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "Invalid content",
            detail,
        )
    }

    /// 503: a part of the hub this server was started without (no store,
    /// catalogue, audit key …); the detail says how to start it with one.
    pub fn unavailable(kind: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, kind, title, detail)
    }

    /// 500: our fault; the detail never carries internals.
    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed to handle the request; it has been logged",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        resp
    }
}

impl From<AccessError> for Problem {
    fn from(e: AccessError) -> Problem {
        match &e {
            AccessError::Forbidden { .. } => Problem::forbidden(e.to_string()),
            AccessError::IllegalTransition { .. } => {
                Problem::conflict("illegal-transition", e.to_string())
            }
            AccessError::NoSuchCase => Problem::not_found(e.to_string()),
            AccessError::Invalid { issues } => {
                let mut p = Problem::invalid(e.to_string());
                p.errors = issues
                    .iter()
                    .map(|i| FieldError {
                        field: i.field.clone(),
                        problem: i.problem.clone(),
                    })
                    .collect();
                p
            }
        }
    }
}

impl From<StateError> for Problem {
    fn from(e: StateError) -> Problem {
        match &e {
            StateError::NotFound { .. } => Problem::not_found(e.to_string()),
            StateError::AlreadyExists { .. } => Problem::conflict("already-exists", e.to_string()),
            StateError::Conflict { .. } => Problem::conflict("concurrent-change", e.to_string()),
            StateError::IdempotencyMismatch { .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
                e.to_string(),
            ),
            StateError::TooLarge { .. } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Payload too large",
                e.to_string(),
            ),
            StateError::Invalid { .. } => Problem::invalid(e.to_string()),
            _ => {
                tracing::error!(error = %e, "state database failure");
                Problem::internal()
            }
        }
    }
}

impl From<AccountError> for Problem {
    fn from(e: AccountError) -> Problem {
        match e {
            AccountError::State(s) => s.into(),
            e @ AccountError::Forbidden(_) => Problem::forbidden(e.to_string()),
            e @ AccountError::NoSuchToken(_) => Problem::not_found(e.to_string()),
            e @ (AccountError::NotASession | AccountError::Missing(_)) => {
                Problem::bad_request(e.to_string())
            }
            e @ (AccountError::Invalid(_)
            | AccountError::UnknownRole { .. }
            | AccountError::NotHeld { .. }) => Problem::invalid(e.to_string()),
        }
    }
}

impl From<QueryLogError> for Problem {
    fn from(e: QueryLogError) -> Problem {
        match e {
            QueryLogError::Forbidden(m) => Problem::forbidden(m),
            QueryLogError::State(s) => s.into(),
        }
    }
}

impl From<CodeSearchError> for Problem {
    fn from(e: CodeSearchError) -> Problem {
        match e {
            e @ CodeSearchError::UnknownSystem { .. } => Problem::not_found(e.to_string()),
            e => Problem::bad_request(e.to_string()),
        }
    }
}

/// 413: a request body larger than the server-wide limit (`limit` bytes).
pub fn body_too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too-large",
        "Payload too large",
        format!(
            "the request body is larger than the limit of {limit} bytes; send at most {limit} bytes"
        ),
    )
}

/// [`ensure_problem`] for a server whose request bodies are limited to
/// `body_limit` bytes: the framework's 413 (a body over the limit,
/// whichever route it was sent to) becomes a problem stating the limit.
pub async fn ensure_problem_within(resp: Response, body_limit: usize) -> Response {
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_problem(&resp) {
        return body_too_large(body_limit).into_response();
    }
    ensure_problem(resp).await
}

fn is_problem(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json")
}

/// Turns any error response that is not yet a problem (framework
/// rejections: body too large, bad path or query, wrong method) into
/// `application/problem+json`, keeping its status and text as the detail.
pub async fn ensure_problem(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    if is_problem(&resp) {
        return resp;
    }
    let (_, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_string();
    let kind = match status.as_u16() {
        400 => "bad-request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        413 => "too-large",
        415 => "unsupported-media-type",
        422 => "invalid",
        429 => "too-many-requests",
        _ => "error",
    };
    let detail = if text.is_empty() {
        status.to_string()
    } else {
        text
    };
    Problem::new(
        status,
        kind,
        status.canonical_reason().unwrap_or("Error"),
        detail,
    )
    .into_response()
}
