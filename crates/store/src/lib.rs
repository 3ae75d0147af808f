//! Immutable, versioned event store on Parquet.
//!
//! The store keeps everything ingest has accepted: care events, persons,
//! residence periods, pseudonym aliases, the quarantine and the load report.
//! Each committed load becomes a new immutable *snapshot*; readers open one
//! snapshot and see exactly it, whatever loads commit meanwhile. Only
//! pseudonyms ever reach the store (DESIGN.md §4.1).
//!
//! # Layout
//!
//! ```text
//! STORE/
//!   store.json                 format version, key fingerprint, created
//!   CURRENT                    id of the current snapshot (`s000003\n`)
//!   lock                       held (flock) by the one running load
//!   tmp/<uuid>/                staging of a running load; removed on next load
//!   snapshots/s000001/
//!     manifest.json            parent, created, sources (sha256), segments,
//!                              rows per domain and source, patients, dates
//!     events/part-00000.parquet  event segments written by this load
//!     identities.parquet       person_id, pseudonym, canonical_person_id
//!     persons.parquet          person_id, pseudonym, sex, birth/death date,
//!                              first/last event date (canonical persons)
//!     residences.parquet       person_id, pseudonym, region, municipality,
//!                              from_date, to_date (exclusive)
//!     aliases.parquet          old_pseudonym, new_pseudonym
//!     quarantine.parquet       rejected rows of this load
//!     load_report.json         the load report of this load
//! ```
//!
//! Event segments are immutable: a later snapshot's manifest lists the
//! segments of its ancestors (by path) plus its own, never copying them. The
//! small tables (identities, persons, residences, aliases) are rewritten
//! whole per snapshot.
//!
//! **Person ids.** Every pseudonym the store sees gets a dense `person_id`
//! (0, 1, 2, ...) that never changes. Events carry the id of the pseudonym
//! they arrived under. An [`Alias`] (old → new pseudonym) merges persons: the
//! identities table then maps both ids to one `canonical_person_id` (the
//! smallest id of the group, so ids stay stable) and the persons table has
//! one row per canonical person under the newest pseudonym (the end of the
//! alias chain). [`Snapshot::events_batches`] returns canonical ids; a
//! reader of the raw Parquet joins `identities` when
//! `manifest.merged_identities > 0`:
//!
//! ```sql
//! SELECT i.canonical_person_id AS person_id, e.* EXCLUDE (person_id)
//! FROM read_parquet(['<segments from manifest.json>']) e
//! JOIN 'snapshots/s000002/identities.parquet' i USING (person_id);
//! ```
//!
//! **Commit.** A load writes everything into `tmp/<uuid>/` (events stream to
//! Parquet in a background thread, row groups of 1 Mi rows, zstd), fsyncs
//! it, renames the directory to `snapshots/<id>/`, fsyncs, and finally
//! replaces `CURRENT` atomically (write temp, fsync, rename, fsync dir). A
//! crash at any point leaves the previous snapshot current and intact; the
//! leftovers (staging, a snapshot directory newer than `CURRENT`) are
//! removed by the next load.
//!
//! **Types.** Dates are Parquet `DATE` (Arrow Date32); codes and other
//! repeated strings are dictionary-encoded UTF-8; values Float64; flags
//! Boolean; ids Int64. DuckDB, Spark and pandas read the files directly.

/// The record types (`halsohub-model`), re-exported so that
/// `halsohub_store::model::Event` and `halsohub_store::Event` keep working.
pub use halsohub_model as model;

pub mod columns;
mod export;
mod fsutil;
mod info;
mod load;
mod manifest;
mod snapshot;
mod tables;

use std::fs::{self, File};
use std::path::{Path, PathBuf};

pub use export::{ExportFormat, ExportSummary, export, resolve_path};
pub use info::{LoadReportEntry, SnapshotSummary, StoreInfo};
pub use load::LoadWriter;
pub use manifest::{DateRange, FORMAT_VERSION, Manifest, ManifestSource, Segment, StoreMeta};
pub use model::{Alias, Comparator, Domain, Event, Person, Residence, Setting};
pub use snapshot::{EventBatches, Snapshot};

use fsutil::io;
use halsohub_identity::Pseudonym;

/// Errors of the store. Every variant names the path it concerns.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path}: the hub key in use (fingerprint {given}) is not the key of the store, which was built with key fingerprint {store}; pseudonyms, linkage and noise all depend on the store's key"
    )]
    KeyMismatch {
        path: PathBuf,
        store: String,
        given: String,
    },
    /// A key file kept inside the store travels with every copy of the
    /// data, which defeats pseudonymisation.
    #[error(
        "the hub key {key} lies inside the store {store}: keep the key apart from the data (see `halsohub keys init --help`)"
    )]
    KeyInsideStore { key: PathBuf, store: PathBuf },
    #[error("{path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Parquet { path: PathBuf, message: String },
    /// A source file with this content is already in the snapshot (or was
    /// added twice to one load).
    #[error(
        "{path}: source file {source_path} (sha256 {sha256}) is already loaded; loading the same content twice would duplicate its rows"
    )]
    DuplicateSource {
        path: PathBuf,
        source_path: String,
        sha256: String,
    },
    /// Aliases that contradict each other or form a cycle.
    #[error("{path}: {message}")]
    Alias { path: PathBuf, message: String },
    /// Another process is loading into this store.
    #[error("{path}: another load into this store is running (its lock is held)")]
    Busy { path: PathBuf },
    /// The store has no committed snapshot yet, or not the one asked for.
    #[error("{path}: {message}")]
    NoSnapshot { path: PathBuf, message: String },
    /// An export target that must not be written.
    #[error("{path}: {message}")]
    Target { path: PathBuf, message: String },
}

/// Identifier of a snapshot: `s000001`, `s000002`, ... increasing by one per
/// committed load.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct SnapshotId(pub String);

impl SnapshotId {
    /// The id with number `n` (`s000001` for 1).
    pub fn from_number(n: u64) -> SnapshotId {
        SnapshotId(format!("s{n:06}"))
    }

    /// The number of a well-formed id (`s` followed by at least six digits).
    pub fn number(&self) -> Option<u64> {
        let digits = self.0.strip_prefix('s')?;
        if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }
}

impl std::fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A source file that a load has read, recorded in the snapshot so the same
/// content is never loaded twice.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceFile {
    /// Path as given on the command line (display only).
    pub path: String,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub sha256: String,
    /// Format name (`par_inpatient`, ...).
    pub format: String,
}

/// One rejected input row. Holds no raw identity number: `identity` is the
/// pseudonym (hex) when the row's identity could be parsed, else `None`, and
/// `detail` must have identity numbers removed by the producer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuarantineRecord {
    pub source_file: String,
    pub line: u64,
    /// Machine-readable reason code (`bad_check_digit`, `unknown_code`, ...).
    pub reason: String,
    /// Human-readable explanation naming the field.
    pub detail: String,
    pub identity: Option<String>,
}

/// A canonical person as stored: dense id, canonical pseudonym, population
/// register fields, and the span of the person's events.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredPerson {
    pub person_id: u32,
    /// `person.patient` is the canonical pseudonym.
    pub person: Person,
    pub first_event: Option<chrono::NaiveDate>,
    pub last_event: Option<chrono::NaiveDate>,
}

/// A residence period with the canonical person id.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredResidence {
    pub person_id: u32,
    /// `residence.patient` is the canonical pseudonym.
    pub residence: Residence,
}

/// Test hook: when the environment variable `HALSOHUB_STORE_FAILPOINT`
/// equals `name`, the process aborts here. Used by the crash tests to kill a
/// real process at a chosen point of a commit.
pub(crate) fn failpoint(name: &str) {
    if std::env::var_os("HALSOHUB_STORE_FAILPOINT").is_some_and(|v| v == name) {
        tracing::warn!(failpoint = name, "aborting at failpoint");
        std::process::abort();
    }
}

const STORE_JSON: &str = "store.json";
const CURRENT: &str = "CURRENT";
const LOCK: &str = "lock";
const TMP: &str = "tmp";
const SNAPSHOTS: &str = "snapshots";

/// Refuses a key file that lies inside the store directory `store_dir`
/// (paths made absolute, symlinks resolved where they exist, so a link
/// cannot hide the key). Usable before the store exists or is opened.
///
/// # Errors
/// [`StoreError::KeyInsideStore`].
pub fn refuse_key_inside(store_dir: &Path, key_file: &Path) -> Result<(), StoreError> {
    fn absolute(p: &Path) -> PathBuf {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        fs::canonicalize(&abs).unwrap_or(abs)
    }
    if absolute(key_file).starts_with(absolute(store_dir)) {
        return Err(StoreError::KeyInsideStore {
            key: key_file.to_path_buf(),
            store: store_dir.to_path_buf(),
        });
    }
    Ok(())
}

/// Handle on a store directory.
pub struct Store {
    root: PathBuf,
    meta: StoreMeta,
}

impl Store {
    /// Create the store at `dir` if it does not exist, or open it. Refuses
    /// (`KeyMismatch`) when the store was built under another key.
    pub fn open_for_load(dir: &Path, key_fingerprint: &str) -> Result<Store, StoreError> {
        let meta_path = dir.join(STORE_JSON);
        if !meta_path.exists() {
            let empty = match fs::read_dir(dir) {
                Ok(mut entries) => entries.next().is_none(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
                Err(e) => return Err(io(dir)(e)),
            };
            if !empty {
                return Err(StoreError::Corrupt {
                    path: dir.to_path_buf(),
                    message: "directory is not empty and has no store.json; refusing to create a store in it".into(),
                });
            }
            fs::create_dir_all(dir.join(SNAPSHOTS)).map_err(io(dir))?;
            fs::create_dir_all(dir.join(TMP)).map_err(io(dir))?;
            let meta = StoreMeta {
                format: "halsohub-store".into(),
                format_version: FORMAT_VERSION,
                key_fingerprint: key_fingerprint.to_string(),
                created: chrono::Utc::now(),
            };
            fsutil::write_atomic(&meta_path, &manifest::to_json(&meta_path, &meta)?)?;
            tracing::info!(store = %dir.display(), "created store");
        }
        let store = Store::open(dir)?;
        store.check_key(key_fingerprint, None)?;
        // Clean leftovers of crashed loads, unless a load is running.
        if let Some(lock) = store.try_lock()? {
            store.clean()?;
            drop(lock);
        }
        Ok(store)
    }

    /// Open an existing store for reading.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let meta_path = dir.join(STORE_JSON);
        if !meta_path.exists() {
            return Err(StoreError::Corrupt {
                path: dir.to_path_buf(),
                message: "not a halsohub store (no store.json)".into(),
            });
        }
        let meta: StoreMeta = manifest::read_json(&meta_path)?;
        if meta.format != "halsohub-store" || meta.format_version != FORMAT_VERSION {
            return Err(StoreError::Corrupt {
                path: meta_path,
                message: format!(
                    "store format {} version {} is not supported (this build reads halsohub-store version {FORMAT_VERSION})",
                    meta.format, meta.format_version
                ),
            });
        }
        Ok(Store {
            root: dir.to_path_buf(),
            meta,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether a hub key belongs with this store: its file (when known)
    /// lies outside the store directory ([`refuse_key_inside`]), and its
    /// fingerprint is the one the store was built with. The one definition
    /// of the rule: every load (`halsohub_ingest::ingest`) and every
    /// opening of a hub (`halsohub_app::hub`) call it.
    ///
    /// # Errors
    /// [`StoreError::KeyInsideStore`] or [`StoreError::KeyMismatch`].
    pub fn check_key(&self, fingerprint: &str, key_file: Option<&Path>) -> Result<(), StoreError> {
        if let Some(file) = key_file {
            refuse_key_inside(&self.root, file)?;
        }
        if self.meta.key_fingerprint != fingerprint {
            return Err(StoreError::KeyMismatch {
                path: self.root.join(STORE_JSON),
                store: self.meta.key_fingerprint.clone(),
                given: fingerprint.to_string(),
            });
        }
        Ok(())
    }

    /// Fingerprint of the key the store was built with.
    pub fn key_fingerprint(&self) -> &str {
        &self.meta.key_fingerprint
    }

    /// The content of `store.json`.
    pub fn meta(&self) -> &StoreMeta {
        &self.meta
    }

    /// True when a file with this SHA-256 is part of the current snapshot.
    pub fn has_source(&self, sha256: &str) -> Result<bool, StoreError> {
        match self.current()? {
            None => Ok(false),
            Some(id) => Ok(self.read_manifest(&id)?.has_source(sha256)),
        }
    }

    /// Id of the current snapshot, `None` before the first commit.
    pub fn current(&self) -> Result<Option<SnapshotId>, StoreError> {
        let path = self.root.join(CURRENT);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let text = String::from_utf8_lossy(&bytes);
        let id = SnapshotId(text.trim().to_string());
        if id.number().is_none() {
            return Err(StoreError::Corrupt {
                path,
                message: "does not hold a snapshot id".into(),
            });
        }
        Ok(Some(id))
    }

    /// Opens a snapshot: the given one, or the current one for `None`.
    pub fn snapshot(&self, id: Option<&SnapshotId>) -> Result<Snapshot, StoreError> {
        let id = match id {
            Some(id) => {
                let current = self.current()?;
                let known = id.number().is_some()
                    && current.as_ref().is_some_and(|c| id.number() <= c.number());
                if !known {
                    return Err(StoreError::NoSnapshot {
                        path: self.root.clone(),
                        message: format!("no committed snapshot `{id}`"),
                    });
                }
                id.clone()
            }
            None => self.current()?.ok_or_else(|| StoreError::NoSnapshot {
                path: self.root.clone(),
                message: "the store has no snapshot yet (nothing loaded)".into(),
            })?,
        };
        let manifest = self.read_manifest(&id)?;
        Ok(Snapshot::new(
            self.root.clone(),
            self.snapshot_dir(&id),
            manifest,
        ))
    }

    /// Manifests of all committed snapshots, oldest first (following the
    /// parent chain from the current one).
    pub fn snapshots(&self) -> Result<Vec<Manifest>, StoreError> {
        let mut out = Vec::new();
        let mut next = self.current()?;
        while let Some(id) = next {
            let m = self.read_manifest(&id)?;
            next = m.parent.clone();
            if next.as_ref().is_some_and(|p| p.number() >= id.number()) {
                return Err(StoreError::Corrupt {
                    path: self.manifest_path(&id),
                    message: "parent snapshot is not older than the snapshot".into(),
                });
            }
            out.push(m);
        }
        out.reverse();
        Ok(out)
    }

    pub(crate) fn snapshot_dir(&self, id: &SnapshotId) -> PathBuf {
        self.root.join(SNAPSHOTS).join(&id.0)
    }

    fn manifest_path(&self, id: &SnapshotId) -> PathBuf {
        self.snapshot_dir(id).join("manifest.json")
    }

    pub(crate) fn read_manifest(&self, id: &SnapshotId) -> Result<Manifest, StoreError> {
        let path = self.manifest_path(id);
        let m: Manifest = manifest::read_json(&path)?;
        if m.id != *id {
            return Err(StoreError::Corrupt {
                path,
                message: format!("manifest says it is snapshot `{}`", m.id),
            });
        }
        if m.format_version != FORMAT_VERSION {
            return Err(StoreError::Corrupt {
                path,
                message: format!(
                    "manifest format version {} is not supported",
                    m.format_version
                ),
            });
        }
        Ok(m)
    }

    /// Takes the load lock if it is free.
    pub(crate) fn try_lock(&self) -> Result<Option<File>, StoreError> {
        let path = self.root.join(LOCK);
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        match f.try_lock() {
            Ok(()) => Ok(Some(f)),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(io(&path)(e)),
        }
    }

    /// Removes leftovers of crashed loads. Caller holds the lock.
    pub(crate) fn clean(&self) -> Result<(), StoreError> {
        let tmp = self.root.join(TMP);
        fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        for entry in fs::read_dir(&tmp).map_err(io(&tmp))? {
            let entry = entry.map_err(io(&tmp))?;
            tracing::info!(path = %entry.path().display(), "removing staging left by an unfinished load");
            fsutil::remove_all(&entry.path())?;
        }
        fsutil::remove_all(&self.root.join("CURRENT.tmp"))?;
        let current = self.current()?.and_then(|c| c.number()).unwrap_or(0);
        let snaps = self.root.join(SNAPSHOTS);
        fs::create_dir_all(&snaps).map_err(io(&snaps))?;
        for entry in fs::read_dir(&snaps).map_err(io(&snaps))? {
            let entry = entry.map_err(io(&snaps))?;
            let name = SnapshotId(entry.file_name().to_string_lossy().into_owned());
            if name.number().is_some_and(|n| n > current) {
                tracing::info!(snapshot = %name, "removing snapshot that was never committed");
                fsutil::remove_all(&entry.path())?;
            }
        }
        Ok(())
    }

    /// Summary of the store for `halsohub store info`.
    pub fn info(&self) -> Result<StoreInfo, StoreError> {
        info::info(self)
    }
}

pub(crate) use columns::{date_from_days, days_from_date};

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<LoadWriter>();
    is_send::<Pseudonym>();
}
