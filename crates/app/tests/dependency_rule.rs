//! The dependency rule, checked against what Cargo itself reads: the
//! edges — the `halsohub` binary and `halsohub-server` — depend on the
//! application layer (`halsohub-app`; the binary also on the server) and
//! on no domain or persistence crate of the workspace. Dev-dependencies
//! (tests reading a database or a store directly) are allowed.
//!
//! And inside every crate, modules form layers: no top-level module
//! imports another that (directly or through others) imports it back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
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

/// Every crate's top-level modules (a file `src/x.rs` or a folder
/// `src/x/`) and the sibling modules each one's non-test code names as
/// `crate::x` (also inside `use crate::{x, y::z}`).
fn module_imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut code: BTreeMap<String, String> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("source folder reads") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let top = rel
                .components()
                .next()
                .map(|c| {
                    c.as_os_str()
                        .to_string_lossy()
                        .trim_end_matches(".rs")
                        .to_string()
                })
                .unwrap_or_default();
            if top == "lib" || top == "main" || top == "bin" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source reads");
            // Unit tests may reach anywhere; only the module's own code counts.
            let own = text.split("#[cfg(test)]").next().unwrap_or("");
            let own: String = own
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            code.entry(top).or_default().push_str(&own);
        }
    }
    let names: BTreeSet<String> = code.keys().cloned().collect();
    code.iter()
        .map(|(module, text)| {
            let mut deps = BTreeSet::new();
            for part in text.split("crate::").skip(1) {
                let named: Vec<String> = if let Some(group) = part.strip_prefix('{') {
                    // `crate::{a, b::{c, d}, e}`: the first name of each
                    // top-level item of the group.
                    let mut depth = 0usize;
                    let mut items = vec![String::new()];
                    for c in group.chars() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => break,
                            '}' => depth -= 1,
                            ',' if depth == 0 => items.push(String::new()),
                            _ if depth == 0 => items.last_mut().expect("one").push(c),
                            _ => {}
                        }
                    }
                    items.iter().map(|i| ident(i.trim_start())).collect()
                } else {
                    vec![ident(part)]
                };
                for name in named {
                    if names.contains(&name) && &name != module {
                        deps.insert(name);
                    }
                }
            }
            (module.clone(), deps)
        })
        .collect()
}

fn ident(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn reaches(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
    seen: &mut BTreeSet<String>,
) -> bool {
    graph
        .get(from)
        .into_iter()
        .flatten()
        .any(|next| next == to || (seen.insert(next.clone()) && reaches(graph, next, to, seen)))
}

#[test]
fn no_module_imports_another_in_a_loop() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates folder");
    let mut loops = Vec::new();
    let mut modules = 0;
    let mut edges = 0;
    for entry in std::fs::read_dir(crates).expect("crates folder reads") {
        let src = entry.expect("entry").path().join("src");
        if !src.is_dir() {
            continue;
        }
        let krate = src
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let graph = module_imports(&src);
        modules += graph.len();
        for (module, deps) in &graph {
            edges += deps.len();
            for dep in deps {
                if reaches(&graph, dep, module, &mut BTreeSet::new()) {
                    loops.push(format!("{krate}: {module} → {dep} → … → {module}"));
                }
            }
        }
    }
    assert!(
        modules > 100 && edges > 100,
        "the scan sees the modules ({modules}) and their imports ({edges})"
    );
    assert!(loops.is_empty(), "import loops: {loops:#?}");
}

#[test]
fn the_module_scan_reads_grouped_imports() {
    let dir = std::env::temp_dir().join(format!("halsohub-layers-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("b")).unwrap();
    std::fs::write(src.join("a.rs"), "use crate::{b::{x, y}, c};\n").unwrap();
    std::fs::write(src.join("b/mod.rs"), "// crate::a in a comment\n").unwrap();
    std::fs::write(
        src.join("c.rs"),
        "fn f() { crate::b::g() }\n#[cfg(test)]\nuse crate::a;\n",
    )
    .unwrap();
    let graph = module_imports(&src);
    std::fs::remove_dir_all(&dir).unwrap();
    let names = |m: &str| graph[m].iter().cloned().collect::<Vec<_>>();
    assert_eq!(names("a"), ["b", "c"]);
    assert!(names("b").is_empty());
    assert_eq!(names("c"), ["b"]);
}
