//! The dependency rule, checked against what Cargo itself reads: the
//! edges — the `halsohub` binary and `halsohub-server` — depend on the
//! application layer (`halsohub-app`; the binary also on the server) and
//! on no domain or persistence crate of the workspace. Dev-dependencies
//! (tests reading a database or a store directly) are allowed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

/// Each edge and the workspace crates it may depend on.
const EDGES: [(&str, &[&str]); 2] = [
    ("halsohub", &["halsohub-app", "halsohub-server"]),
    ("halsohub-server", &["halsohub-app"]),
];

/// The workspace's packages from `cargo metadata`, by name.
fn packages() -> BTreeMap<String, Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["name"].as_str().unwrap_or("").to_string(), p.clone()))
        .collect()
}

/// The workspace crates `package` declares as normal (not dev, not build)
/// dependencies, for any target.
fn normal_workspace_deps(package: &Value, workspace: &BTreeMap<String, Value>) -> Vec<String> {
    package["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter(|d| d["kind"].is_null())
        .filter_map(|d| d["name"].as_str())
        .filter(|n| workspace.contains_key(*n))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_edges_depend_only_on_the_application_layer() {
    let workspace = packages();
    assert!(
        workspace.contains_key("halsohub-state") && workspace.contains_key("halsohub-access"),
        "the workspace's crates are listed: {:?}",
        workspace.keys().collect::<Vec<_>>()
    );
    let mut broken = Vec::new();
    for (edge, allowed) in EDGES {
        let package = workspace
            .get(edge)
            .unwrap_or_else(|| panic!("{edge} is in the workspace"));
        for dep in normal_workspace_deps(package, &workspace) {
            if !allowed.contains(&dep.as_str()) {
                broken.push(format!("{edge} → {dep}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "the edges must reach domain and persistence crates through halsohub-app (a service, \
         or a type it re-exports); direct dependencies found: {}",
        broken.join(", ")
    );
}

#[test]
fn dev_dependencies_are_not_counted() {
    // The binary's tests read the query log through `halsohub-state`: a
    // dev-dependency, which the rule allows and the check must not count.
    let workspace = packages();
    let bin = &workspace["halsohub"];
    let dev: Vec<&str> = bin["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter(|d| d["kind"] == "dev")
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert!(dev.contains(&"halsohub-state"), "{dev:?}");
    assert!(!normal_workspace_deps(bin, &workspace).contains(&"halsohub-state".to_string()));
}
