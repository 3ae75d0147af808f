//! Shared by the server's integration tests.

#![allow(clippy::unwrap_used, dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use halsohub_state::{ConnectOptions, Db};
use serde_json::Value;
use tower::ServiceExt;

/// One request to `app`: `method path`, with a bearer token and a JSON body
/// when given; the status and the JSON answer (`Null` when not JSON).
pub async fn call(
    app: &Router,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = bearer {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The state databases every test runs against: a fresh SQLite file, and
/// (when `HALSOHUB_TEST_DATABASE_URL` is set) PostgreSQL in a fresh schema;
/// otherwise a notice says the PostgreSQL variant is skipped.
pub async fn databases() -> Vec<(Db, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    );
    let mut out = vec![(Db::connect(&url).await.unwrap(), Some(dir))];
    match std::env::var("HALSOHUB_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let mut o = ConnectOptions::new(url);
            o.pg_schema = Some(format!("t_{}", uuid::Uuid::new_v4().simple()));
            o.max_connections = 4;
            out.push((Db::connect_with(o).await.unwrap(), None));
        }
        _ => eprintln!("NOTICE: HALSOHUB_TEST_DATABASE_URL is not set; PostgreSQL variant skipped"),
    }
    out
}
