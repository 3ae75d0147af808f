//! Helpers for end-to-end tests that drive the real `halsohub` binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch hub: its own home (key, demo data) in a temp dir.
pub struct Hub {
    pub dir: tempfile::TempDir,
}

impl Hub {
    pub fn new() -> Hub {
        Hub {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    /// A `halsohub` command with this hub's home and nothing from the caller's
    /// environment that could point elsewhere.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_halsohub"));
        c.env("HALSOHUB_HOME", self.home())
            .env_remove("HALSOHUB_KEY")
            .env_remove("RUST_LOG");
        c
    }

    /// Run with args; panic with both streams when it fails.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.cmd().args(args).output().expect("run halsohub");
        assert!(
            out.status.success(),
            "halsohub {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Run with args; panic when it succeeds; return stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().expect("run halsohub");
        assert!(
            !out.status.success(),
            "halsohub {args:?} should have failed:\nstdout:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.ok(args);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "halsohub {args:?} did not print JSON ({e}):\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

/// Every file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let p = entry.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A Python interpreter with DuckDB, when `scripts/test` could set one up.
pub fn duckdb_python() -> Option<String> {
    match std::env::var("HALSOHUB_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            eprintln!(
                "NOTICE: HALSOHUB_TEST_PYTHON not set; DuckDB check skipped (run scripts/test)"
            );
            None
        }
    }
}

/// Run a Python snippet with DuckDB; return its stdout.
pub fn duckdb(python: &str, script: &str) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "duckdb script failed:\n{script}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
