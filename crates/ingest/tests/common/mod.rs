//! Helpers shared by the integration tests: a key, a store, a load.
#![allow(clippy::unwrap_used)] // test code
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use halsohub_identity::{HubKey, ParseOptions, Pseudonymiser};
use halsohub_ingest::{IngestError, IngestOptions, LoadReport, NoProgress, ingest};
use halsohub_store::Store;

pub fn key() -> HubKey {
    HubKey::from_bytes([42; 32])
}

pub fn reference() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
}

pub fn options(reference: NaiveDate) -> IngestOptions {
    IngestOptions {
        identity: ParseOptions::new(reference),
        batch_rows: 1000,
        ..IngestOptions::default()
    }
}

/// Loads `paths` into the store at `dir` (created if needed).
pub fn load(
    dir: &Path,
    paths: &[PathBuf],
    opts: &IngestOptions,
) -> Result<LoadReport, IngestError> {
    let key = key();
    let ps = Pseudonymiser::new(&key);
    let store = Store::open_for_load(dir, &key.fingerprint())?;
    ingest(&store, &ps, paths, opts, &NoProgress)
}

/// Writes `content` to `dir/name`.
pub fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, content).unwrap();
    p
}

/// The store's current snapshot id, if any.
pub fn current(dir: &Path) -> Option<String> {
    if !dir.join("store.json").exists() {
        return None;
    }
    Store::open(dir).unwrap().current().unwrap().map(|s| s.0)
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

/// Every file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_below(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every event of the store's current snapshot, with its person id.
pub fn events(store: &Path) -> Vec<(u32, halsohub_store::Event)> {
    Store::open(store)
        .unwrap()
        .snapshot(None)
        .unwrap()
        .events()
        .unwrap()
}
