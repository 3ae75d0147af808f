//! The OpenAPI document describes every request and successful response of
//! the case area (applications, the queue, permits, the public register),
//! with named schemas.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;

fn document() -> Value {
    serde_json::to_value(halsohub_server::openapi(OpenApiRouter::new())).unwrap()
}

fn is_case_area(path: &str) -> bool {
    path.starts_with("/api/v1/applications")
        || path == "/api/v1/queue"
        || path.starts_with("/api/v1/permits")
        || (path.starts_with("/api/v1/public/") && !path.ends_with(".csv"))
}

#[test]
fn every_case_operation_names_its_request_and_response_schemas() {
    let doc = document();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !is_case_area(path) {
            continue;
        }
        for (method, op) in ops.as_object().unwrap() {
            let ok = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(status, _)| status.starts_with('2'))
                .unwrap_or_else(|| panic!("{method} {path}: no success response"))
                .1;
            let content = ok["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path}: success response has no body"));
            let schema = &content.values().next().unwrap()["schema"];
            if let Some(r) = schema["$ref"].as_str() {
                let name = r.trim_start_matches("#/components/schemas/");
                assert!(schemas.contains_key(name), "{method} {path}: {r} undefined");
                assert!(
                    schemas[name]["properties"].is_object(),
                    "{method} {path}: {name} has no properties"
                );
            } else {
                // Raw bytes (attachment download).
                assert!(
                    content.contains_key("application/octet-stream"),
                    "{method} {path}: {schema}"
                );
            }
            if method == "post" {
                assert!(
                    op["requestBody"]["content"].is_object(),
                    "{method} {path}: no request body"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 13, "only {checked} case operations found");
    let command = &schemas["CommandRequest"];
    assert!(command["properties"]["type"].is_object(), "{command}");
    assert!(
        command["required"]
            .as_array()
            .unwrap()
            .contains(&"type".into())
    );
    for name in [
        "CommandResult",
        "CaseView",
        "CaseList",
        "History",
        "PermitView",
        "WorkQueue",
    ] {
        assert!(schemas.contains_key(name), "{name} missing");
    }
}
