//! Helpers for end-to-end tests that drive the real `halsohub` binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

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

/// A server process, killed when the test ends however it ends; the path
/// is the file its stderr goes to (an unread pipe could fill and block it).
pub struct Server(pub Child, pub PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// One HTTP/1.1 request (JSON body if any); the status and the body as
/// JSON (or as a JSON string when it is not JSON).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
    (status, json)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A third-party data set of `shared/data` (see its SOURCE.md):
/// `$HALSOHUB_SHARED_DATA/SET`, else the `shared/data` beside the
/// repository (as CI lays it out). `None`, with a printed notice, when it
/// is not there: the test is then skipped.
pub fn shared_data(set: &str) -> Option<PathBuf> {
    let root = std::env::var("HALSOHUB_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let p = root.join(set);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "NOTICE: {} not found; test skipped (set HALSOHUB_SHARED_DATA)",
            p.display()
        );
        None
    }
}

/// Every identity number written in the source files under `dir`, as its
/// last ten digits (YYMMDDNNNC), which every written form contains.
pub fn raw_ids(dir: &Path) -> std::collections::HashSet<String> {
    let mut ids = std::collections::HashSet::new();
    for f in files_below(dir) {
        if f.file_name().is_some_and(|n| n == "manifest.json") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        for field in text.split([';', ',', '\t', '|', '\n', '\r', '"']) {
            let digits: String = field.chars().filter(char::is_ascii_digit).collect();
            let only_id_chars = field
                .trim()
                .chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == '+');
            // Dates like 2020-01-01 have 8 digits; 10/12 digits with at most
            // a separator are identity numbers.
            if only_id_chars && (digits.len() == 10 || digits.len() == 12) {
                ids.insert(digits[digits.len() - 10..].to_string());
            }
        }
    }
    ids
}

/// All text under `dir`: the raw bytes of every file, plus every Parquet
/// column rendered as text (compression would hide strings from a byte
/// search).
pub fn all_text(dir: &Path) -> String {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut out = String::new();
    for f in files_below(dir) {
        out.push_str(&String::from_utf8_lossy(&std::fs::read(&f).unwrap()));
        out.push('\n');
        if f.extension().is_some_and(|e| e == "parquet") {
            let file = std::fs::File::open(&f).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .unwrap()
                .build()
                .unwrap();
            let batches: Vec<_> = reader.map(Result::unwrap).collect();
            let table = arrow::util::pretty::pretty_format_batches(&batches).unwrap();
            out.push_str(&table.to_string());
        }
    }
    out
}

/// The identity numbers of `ids` found in `text`: every 10-digit window of
/// every digit run.
pub fn leaked_ids(text: &str, ids: &std::collections::HashSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    for run in text.split(|c: char| !c.is_ascii_digit()) {
        if run.len() < 10 {
            continue;
        }
        for i in 0..=run.len() - 10 {
            if ids.contains(&run[i..i + 10]) {
                found.push(run[i..i + 10].to_string());
            }
        }
    }
    found
}
