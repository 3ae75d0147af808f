//! The crate's modules form layers: no module imports another that
//! (directly or through others) imports it back. Read from the sources, so
//! a new `use crate::…` that closes a loop fails here.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name → the sibling modules its non-test code names as
/// `crate::<module>`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.extension().is_some_and(|e| e == "rs") && name != "lib" {
            let text = std::fs::read_to_string(&path).unwrap();
            // Unit tests may reach anywhere; only the module's own code counts.
            let code = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
            sources.insert(name, code);
        }
    }
    let names: BTreeSet<String> = sources.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (name, code) in &sources {
        let mut deps = BTreeSet::new();
        for line in code.lines() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for part in line.split("crate::").skip(1) {
                let module: String = part
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if names.contains(&module) && &module != name {
                    deps.insert(module);
                }
            }
        }
        graph.insert(name.clone(), deps);
    }
    graph
}

fn reaches(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
    seen: &mut BTreeSet<String>,
) -> bool {
    for next in graph.get(from).into_iter().flatten() {
        if next == to {
            return true;
        }
        if seen.insert(next.clone()) && reaches(graph, next, to, seen) {
            return true;
        }
    }
    false
}

#[test]
fn no_module_imports_another_in_a_loop() {
    let graph = imports();
    assert!(graph.len() > 10, "the scan found the modules: {graph:?}");
    assert!(graph["case"].contains("clock"), "the scan sees imports");
    let mut loops = Vec::new();
    for (module, deps) in &graph {
        for dep in deps {
            if reaches(&graph, dep, module, &mut BTreeSet::new()) {
                loops.push(format!("{module} → {dep} → … → {module}"));
            }
        }
    }
    assert!(loops.is_empty(), "import loops: {loops:#?}");
}
