//! `store.json` and the per-snapshot `manifest.json`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Domain;
use crate::{SnapshotId, SourceFile, StoreError};

/// Version of the on-disk layout written by this crate.
pub const FORMAT_VERSION: u32 = 1;

/// Content of `STORE/store.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreMeta {
    /// Always `"halsohub-store"`.
    pub format: String,
    pub format_version: u32,
    /// Fingerprint of the hub key the store is built with.
    pub key_fingerprint: String,
    pub created: DateTime<Utc>,
}

/// A source file recorded in a manifest, with the snapshot that loaded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestSource {
    #[serde(flatten)]
    pub file: SourceFile,
    /// Snapshot whose load read this file.
    pub snapshot: SnapshotId,
}

/// One immutable Parquet file of events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Path relative to the store root, `/`-separated.
    pub path: String,
    pub rows: u64,
    /// Snapshot whose load wrote this segment.
    pub snapshot: SnapshotId,
}

/// First and last event date (start dates, or end dates when later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// Content of `STORE/snapshots/<id>/manifest.json`: everything a reader needs
/// to know about a snapshot. Counts are cumulative over the whole snapshot
/// unless named otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub id: SnapshotId,
    pub parent: Option<SnapshotId>,
    pub created: DateTime<Utc>,
    pub key_fingerprint: String,
    /// Every source file loaded into this snapshot or its ancestors.
    pub sources: Vec<ManifestSource>,
    /// Every event segment of this snapshot (older ones are shared with the
    /// ancestors that wrote them).
    pub segments: Vec<Segment>,
    /// Event rows per domain and source kind.
    pub rows: BTreeMap<Domain, BTreeMap<String, u64>>,
    /// Total event rows.
    pub events: u64,
    /// Canonical persons (rows of `persons.parquet`).
    pub persons: u64,
    /// Canonical persons with at least one event.
    pub patients: u64,
    /// Pseudonyms known (rows of `identities.parquet`).
    pub identities: u64,
    /// Pseudonyms whose person id is not their canonical id (merged by an
    /// alias); when zero, event person ids need no remapping.
    pub merged_identities: u64,
    pub residences: u64,
    pub aliases: u64,
    /// Quarantined rows of this snapshot's own load.
    pub quarantined: u64,
    pub date_range: Option<DateRange>,
}

impl Manifest {
    /// Event rows per domain (summed over sources).
    pub fn rows_per_domain(&self) -> BTreeMap<Domain, u64> {
        self.rows
            .iter()
            .map(|(d, m)| (*d, m.values().sum()))
            .collect()
    }

    /// True when a file with this SHA-256 is part of the snapshot.
    pub fn has_source(&self, sha256: &str) -> bool {
        self.sources
            .iter()
            .any(|s| s.file.sha256.eq_ignore_ascii_case(sha256))
    }
}

pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, StoreError> {
    let bytes = crate::fsutil::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
        path: path.to_path_buf(),
        message: format!("not a valid file of this kind: {e}"),
    })
}

pub(crate) fn to_json<T: Serialize>(path: &Path, v: &T) -> Result<Vec<u8>, StoreError> {
    let mut out = serde_json::to_vec_pretty(v).map_err(|e| StoreError::Corrupt {
        path: path.to_path_buf(),
        message: format!("cannot serialise: {e}"),
    })?;
    out.push(b'\n');
    Ok(out)
}
