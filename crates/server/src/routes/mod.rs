//! The API's areas.

pub mod accounts;
pub mod audit;
pub mod cases;
pub mod catalogue;
pub mod feasibility;
pub mod optout;
pub mod public;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;

pub(crate) async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::not_found(format!("no API endpoint at {}", uri.path()))
}

pub(crate) async fn method_not_allowed(
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{method} is not supported on {}", uri.path()),
    )
}

/// Parses a JSON body, turning every failure into a 400/415/413 problem
/// that names the JSON path.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Problem> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as application/json",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        Problem::bad_request(format!("invalid JSON at {path}: {}", e.inner()))
    })
}

/// Rows as CSV under a header of `columns`, in that order (the order the
/// docs list them, not the JSON's): each row's value of each column, a
/// string as it is, any other value as its JSON text, a missing one empty.
/// The header is written also when there are no rows.
pub(crate) fn csv_response<T: serde::Serialize>(
    columns: &[&str],
    rows: &[T],
) -> Result<Response, Problem> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns).map_err(|_| Problem::internal())?;
    for row in rows {
        let r = serde_json::to_value(row).map_err(|_| Problem::internal())?;
        let rec: Vec<String> = columns
            .iter()
            .map(|c| match r.get(*c) {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            })
            .collect();
        w.write_record(&rec).map_err(|_| Problem::internal())?;
    }
    let bytes = w.into_inner().map_err(|_| Problem::internal())?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], bytes).into_response())
}
