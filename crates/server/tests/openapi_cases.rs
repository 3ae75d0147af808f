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
    // The command body: one object per command, each requiring `type`
    // (the_command_body_is_one_schema_per_command looks closer).
    let command = &schemas["CommandRequest"];
    for variant in command["oneOf"].as_array().unwrap() {
        assert!(variant["properties"]["type"].is_object(), "{variant}");
        assert!(
            variant["required"]
                .as_array()
                .unwrap()
                .contains(&"type".into())
        );
    }
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

/// Whether `schema` is an object that says nothing of its content: `type:
/// object` (or no type) with no properties, no additional-properties
/// schema and no composition or reference.
fn is_bare_object(schema: &Value) -> bool {
    let Some(o) = schema.as_object() else {
        return false;
    };
    let says_object = match o.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
        _ => false,
    };
    says_object
        && ![
            "properties",
            "additionalProperties",
            "allOf",
            "oneOf",
            "anyOf",
            "$ref",
        ]
        .iter()
        .any(|k| o.contains_key(*k))
}

/// Walks `v`, following `$ref`s into the components once each, and calls
/// `f` with the path and every schema met.
fn walk<'a>(
    v: &'a Value,
    path: String,
    schemas: &'a serde_json::Map<String, Value>,
    seen: &mut std::collections::BTreeSet<String>,
    f: &mut dyn FnMut(&str, &'a Value),
) {
    match v {
        Value::Object(o) => {
            f(&path, v);
            if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                let name = r.trim_start_matches("#/components/schemas/").to_string();
                if seen.insert(name.clone()) {
                    let target = schemas
                        .get(&name)
                        .unwrap_or_else(|| panic!("{path}: {r} is not defined"));
                    walk(target, name, schemas, seen, f);
                }
            }
            for (k, child) in o {
                walk(child, format!("{path}/{k}"), schemas, seen, f);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                walk(child, format!("{path}/{i}"), schemas, seen, f);
            }
        }
        _ => {}
    }
}

#[test]
fn the_case_bodies_have_real_schemas_down_to_the_domain_objects() {
    let doc = document();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut bare = Vec::new();
    let mut visited = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !is_case_area(path) {
            continue;
        }
        for (method, op) in ops.as_object().unwrap() {
            let mut check = |p: &str, s: &Value| {
                visited += 1;
                if is_bare_object(s) {
                    bare.push(format!("{p}: {s}"));
                }
            };
            walk(
                &op["requestBody"],
                format!("{method} {path} request"),
                schemas,
                &mut seen,
                &mut check,
            );
            walk(
                &op["responses"],
                format!("{method} {path} responses"),
                schemas,
                &mut seen,
                &mut check,
            );
        }
    }
    assert!(visited > 100, "only {visited} schemas walked");
    assert!(bare.is_empty(), "bare objects:\n{}", bare.join("\n"));
    // The domain objects inside the bodies are named schemas with their
    // fields, reached from the case operations.
    for name in [
        "CaseState",
        "CaseEvent",
        "Change",
        "CaseStatus",
        "ApplicationContent",
        "ClockStatus",
        "ClockKind",
        "Review",
        "Decision",
        "Permit",
        "PermitTerms",
        "PermitStatus",
        "Attachment",
        "AttachmentMeta",
        "CaseSummary",
        "RegisterEntry",
        "LeadTimeFigure",
        "QueueFigure",
        "CaseId",
        "UserId",
    ] {
        assert!(
            seen.contains(name),
            "{name} is not reached from a case body"
        );
        assert!(schemas.contains_key(name), "{name} is not a component");
    }
    for name in [
        "CaseState",
        "ClockStatus",
        "Permit",
        "Review",
        "AttachmentMeta",
    ] {
        assert!(
            schemas[name]["properties"]
                .as_object()
                .is_some_and(|p| !p.is_empty()),
            "{name}: {}",
            schemas[name]
        );
    }
    // The events name every change by its `type`.
    let change = schemas["Change"].to_string();
    for t in [
        "closed_incomplete",
        "permit_issued",
        "decided",
        "assigned",
        "member_invited",
        "invitation_answered",
    ] {
        assert!(
            change.contains(&format!("\"{t}\"")),
            "{t} missing in Change: {change}"
        );
    }
    assert_eq!(schemas["CaseId"]["type"], "string", "{}", schemas["CaseId"]);
}

#[test]
fn the_command_body_is_one_schema_per_command() {
    let doc = document();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let body = &doc["paths"]["/api/v1/applications/{id}/commands"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"];
    let name = body["$ref"]
        .as_str()
        .unwrap()
        .trim_start_matches("#/components/schemas/");
    let variants = schemas[name]["oneOf"]
        .as_array()
        .unwrap_or_else(|| panic!("{name} is not one schema per command: {}", schemas[name]));
    let variant = |ty: &str| {
        variants
            .iter()
            .find(|v| v["properties"]["type"]["enum"][0] == ty)
            .unwrap_or_else(|| panic!("no `{ty}` command in {name}"))
    };
    let required = |ty: &str| -> Vec<String> {
        variant(ty)["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    // The hub allocates the permit id: a request may leave it out.
    assert!(variant("issue_permit")["properties"]["permit_id"].is_object());
    assert!(!required("issue_permit").contains(&"permit_id".to_string()));
    assert!(required("issue_permit").contains(&"terms".to_string()));
    assert!(required("reject").contains(&"reasons".to_string()));
    for ty in ["submit", "approve", "close", "withdraw", "update_draft"] {
        variant(ty);
    }
    // Invitations: typed bodies like every other command.
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(required("invite_member")), ["type", "user"]);
    assert_eq!(sorted(required("answer_invitation")), ["accept", "type"]);
    assert_eq!(
        variant("answer_invitation")["properties"]["accept"]["type"],
        "boolean"
    );
}
