//! Re-evaluating quarantined rows after a rule changed: the rows of
//! register lab files quarantined for their unit (`incompatible_unit`)
//! before ingest accepted every unit that converts to the analyte's
//! canonical unit. The delivery is given again; only the quarantined lines
//! of files the store already holds (same SHA-256) are read, by today's
//! rules, and the load is committed as a new snapshot like any load (all or
//! nothing). Rows accepted now become events; rows that still fail are
//! quarantined again in the new snapshot, under the same file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use halsohub_identity::Pseudonymiser;
use halsohub_store::Store;

use crate::error::IngestError;
use crate::input::Sniffed;
use crate::readers::FastMap;
use crate::reject;
use crate::report::{LoadReport, RetrySummary};
use crate::{IngestOptions, Progress};

/// The quarantine reasons a unit retry re-reads.
pub const UNIT_REASONS: [&str; 1] = [reject::INCOMPATIBLE_UNIT];

/// Which lines of which files a retry reads: by SHA-256, the path the
/// store recorded for the file and its lines.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    files: FastMap<String, (String, BTreeSet<u64>)>,
    not_given: Vec<String>,
}

impl Plan {
    /// The recorded path and the lines of the file with this SHA-256.
    pub(crate) fn file(&self, sha256: &str) -> Option<(&str, &BTreeSet<u64>)> {
        self.files
            .get(&sha256.to_ascii_lowercase())
            .map(|(p, l)| (p.as_str(), l))
    }

    /// The summary of a retry reading `todo`.
    pub(crate) fn summary(&self, todo: &[Sniffed]) -> RetrySummary {
        let mut lines = BTreeMap::new();
        let mut given = BTreeSet::new();
        for s in todo {
            if let Some((path, l)) = self.file(&s.sha256) {
                given.insert(path.to_owned());
                lines.insert(path.to_owned(), l.iter().copied().collect());
            }
        }
        let mut not_given: Vec<String> = self
            .files
            .values()
            .map(|(p, _)| p.clone())
            .filter(|p| !given.contains(p))
            .collect();
        not_given.extend(self.not_given.iter().cloned());
        not_given.sort();
        not_given.dedup();
        RetrySummary {
            reasons: UNIT_REASONS.iter().map(|r| (*r).to_owned()).collect(),
            lines,
            not_given,
        }
    }
}

/// The lines of each source file that wait in the quarantine for a unit
/// retry: quarantined for a unit reason by some snapshot of the current
/// chain, and not re-read by a later retry (a retry's own quarantine holds
/// those that still fail).
pub fn open_unit_quarantine(store: &Store) -> Result<BTreeMap<String, BTreeSet<u64>>, IngestError> {
    let mut open: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    if store.current()?.is_none() {
        return Ok(open);
    }
    let current = store.snapshot(None)?;
    for (id, report) in current.load_reports()? {
        if let Some(retry) = report
            .get("retry")
            .cloned()
            .and_then(|v| serde_json::from_value::<RetrySummary>(v).ok())
        {
            for (path, lines) in retry.lines {
                if let Some(o) = open.get_mut(&path) {
                    for l in lines {
                        o.remove(&l);
                    }
                }
            }
        }
        for q in store.snapshot(Some(&id))?.quarantine()? {
            if UNIT_REASONS.contains(&q.reason.as_str()) {
                open.entry(q.source_file).or_default().insert(q.line);
            }
        }
    }
    open.retain(|_, l| !l.is_empty());
    Ok(open)
}

/// Re-reads the rows of `paths` (the delivery, given again) that were
/// quarantined for their unit and wait for a retry
/// ([`open_unit_quarantine`]), by today's unit rules, and commits them as a
/// new snapshot: accepted rows become events, rows that still fail are
/// quarantined again. The report's `retry` says which lines were re-read
/// and which files with waiting lines were not given; its totals say how
/// many were accepted and how many still fail. When nothing waits, or none
/// of the given files holds waiting lines, nothing is committed.
///
/// # Errors
/// As [`crate::ingest`]: a file-level error leaves the store unchanged.
pub fn retry_unit_quarantine(
    store: &Store,
    pseudonymiser: &Pseudonymiser,
    paths: &[PathBuf],
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<LoadReport, IngestError> {
    store.check_key(pseudonymiser.key_fingerprint(), pseudonymiser.key_file())?;
    let open = open_unit_quarantine(store)?;
    let mut plan = Plan::default();
    if !open.is_empty() {
        let current = store.snapshot(None)?;
        let mut found = BTreeSet::new();
        for src in &current.manifest().sources {
            if let Some(lines) = open.get(&src.file.path) {
                found.insert(src.file.path.clone());
                plan.files.insert(
                    src.file.sha256.to_ascii_lowercase(),
                    (src.file.path.clone(), lines.clone()),
                );
            }
        }
        plan.not_given = open
            .keys()
            .filter(|p| !found.contains(*p))
            .cloned()
            .collect();
    }
    crate::load_files(store, pseudonymiser, paths, options, progress, Some(&plan))
}
