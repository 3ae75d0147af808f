//! A log with real entries for the integration tests: the tiles in a
//! temporary directory, the "database" (entries with salts and indices) in
//! memory, and every checkpoint published along the way.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::fs;
use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use halsohub_audit::{
    Appender, AuditEntry, Coverage, EntryKind, KeyRole, NamedEntry, NoteSigner, Report, Salt,
    Trust, VerifyError, verify,
};
use serde_json::json;

pub const ORIGIN: &str = "hub.example.se/audit";

pub fn log_key() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, KeyRole::Log, &[11; 32]).expect("key")
}

pub fn witness_key() -> NoteSigner {
    NoteSigner::from_seed("region.example.se/witness", KeyRole::Witness, &[12; 32]).expect("key")
}

pub fn entry(i: u64) -> AuditEntry {
    let kind = EntryKind::ALL[(i % EntryKind::ALL.len() as u64) as usize];
    AuditEntry::new(
        kind,
        Utc.with_ymd_and_hms(2026, 12, 7, 8, 0, 0)
            .single()
            .expect("time")
            + Duration::seconds(i as i64),
        format!("user:{}", i % 7),
        format!("subject:{i}"),
        json!({"n": i, "note": "synthetic"}),
    )
}

pub struct TestLog {
    pub dir: tempfile::TempDir,
    /// The database: every entry with its salt, by index.
    pub entries: Vec<NamedEntry>,
    /// Every checkpoint published, oldest first.
    pub checkpoints: Vec<String>,
}

/// A log of `batches` appended in turn (a checkpoint after each).
pub fn build(batches: &[u64]) -> TestLog {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = Appender::create(dir.path(), ORIGIN, log_key()).expect("create");
    let mut entries = Vec::new();
    let mut checkpoints = vec![log.checkpoint().to_text()];
    for &n in batches {
        let start = entries.len() as u64;
        let batch: Vec<NamedEntry> = (start..start + n)
            .map(|i| NamedEntry {
                index: i,
                entry: entry(i),
                salt: Salt::generate().expect("salt"),
            })
            .collect();
        let commitments: Vec<_> = batch.iter().map(|e| e.entry.commitment(&e.salt)).collect();
        let appended = log.append(&commitments).expect("append");
        assert_eq!(appended.first_index, start);
        checkpoints.push(appended.checkpoint.to_text());
        entries.extend(batch);
    }
    TestLog {
        dir,
        entries,
        checkpoints,
    }
}

pub fn trust() -> Trust {
    Trust {
        keys: vec![
            log_key().verifier().clone(),
            witness_key().verifier().clone(),
        ],
        origin: Some(ORIGIN.to_owned()),
        min_witnesses: 0,
    }
}

impl TestLog {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Verifies the tiles against every checkpoint and every entry.
    pub fn verify_all(&self) -> Result<Report, VerifyError> {
        verify(
            self.path(),
            &self.checkpoints,
            &trust(),
            &self.entries,
            Coverage::All,
        )
    }

    pub fn verify_entries(&self, entries: &[NamedEntry]) -> Result<Report, VerifyError> {
        verify(
            self.path(),
            &self.checkpoints,
            &trust(),
            entries,
            Coverage::All,
        )
    }

    /// The entries of a bundle file (each a 32-byte commitment).
    pub fn read_bundle(&self, rel: &str) -> Vec<Vec<u8>> {
        let bytes = fs::read(self.path().join(rel)).expect("bundle");
        bytes.chunks(34).map(|c| c[2..].to_vec()).collect()
    }

    pub fn write_bundle(&self, rel: &str, entries: &[Vec<u8>]) {
        let mut bytes = Vec::new();
        for e in entries {
            bytes.extend_from_slice(&(e.len() as u16).to_be_bytes());
            bytes.extend_from_slice(e);
        }
        fs::write(self.path().join(rel), bytes).expect("write bundle");
    }

    pub fn read_tile(&self, rel: &str) -> Vec<Vec<u8>> {
        let bytes = fs::read(self.path().join(rel)).expect("tile");
        bytes.chunks(32).map(<[u8]>::to_vec).collect()
    }

    pub fn write_tile(&self, rel: &str, hashes: &[Vec<u8>]) {
        fs::write(self.path().join(rel), hashes.concat()).expect("write tile");
    }
}
