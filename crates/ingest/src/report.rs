//! The load report: what was read, accepted and rejected, per file and in
//! total, and how well the load links patients across sources.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::input::Sniffed;

/// What one source file contributed to a load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    /// The path as given (scrubbed of anything that looks like an id).
    pub path: String,
    /// Format name (`par_inpatient`, ...).
    pub format: String,
    /// `utf-8` or `windows-1252`.
    pub encoding: String,
    /// Whether the file was gzip-compressed.
    pub gzip: bool,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// Data rows read (the header and empty lines not counted).
    pub rows_read: u64,
    /// Rows accepted. `rows_accepted + rows_rejected == rows_read`.
    pub rows_accepted: u64,
    /// Rows sent to the quarantine.
    pub rows_rejected: u64,
    /// Rejected rows by reason code.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Codes kept although not in the loaded code lists (one per event).
    pub unknown_codes: u64,
    /// Accepted rows with at least one unknown code.
    pub rows_with_unknown_codes: u64,
    /// Up to 20 of the unknown codes (`system:code`) with their counts.
    pub unknown_code_examples: BTreeMap<String, u64>,
    /// Events produced, by domain.
    pub events_by_domain: BTreeMap<String, u64>,
    /// Rows that gave person facts (sex, birth or death date).
    pub persons: u64,
    /// Residence periods.
    pub residences: u64,
    /// Identity number changes applied.
    pub id_changes: u64,
    /// Dates with an unknown day or month that were imputed (see
    /// `docs/formats.md`: unknown month → 1 July, unknown day → the 15th).
    pub imputed_dates: u64,
    /// Rows whose 10-digit identity number had its century guessed.
    pub century_guessed: u64,
    /// Distinct persons in this file.
    pub patients: u64,
    /// Wall-clock seconds spent reading this file.
    pub seconds: f64,
}

impl FileReport {
    pub(crate) fn new(path: String, s: &Sniffed) -> Self {
        FileReport {
            path,
            format: s.layout.format.name().to_owned(),
            encoding: s.encoding.name().to_owned(),
            gzip: s.gzip,
            bytes: s.bytes,
            sha256: s.sha256.clone(),
            ..FileReport::default()
        }
    }

    /// Total events of all domains.
    pub fn events(&self) -> u64 {
        self.events_by_domain.values().sum()
    }
}

/// A file that was not loaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedFile {
    /// The path as given.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Sums over all files of a load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Files loaded.
    pub files: u64,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows accepted.
    pub rows_accepted: u64,
    /// Rows quarantined.
    pub rows_rejected: u64,
    /// Quarantined rows by reason code.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Events with a code not in the loaded lists.
    pub unknown_codes: u64,
    /// Accepted rows with at least one unknown code.
    pub rows_with_unknown_codes: u64,
    /// Events by domain.
    pub events_by_domain: BTreeMap<String, u64>,
    /// All events.
    pub events: u64,
    /// Persons written (distinct, after merging facts from all files).
    pub persons: u64,
    /// Residence periods.
    pub residences: u64,
    /// Identity number changes applied.
    pub id_changes: u64,
    /// Imputed dates.
    pub imputed_dates: u64,
    /// Rows with a guessed century.
    pub century_guessed: u64,
    /// Bytes read (files as stored, compressed or not).
    pub bytes: u64,
}

impl Totals {
    pub(crate) fn add(&mut self, f: &FileReport) {
        self.files += 1;
        self.rows_read += f.rows_read;
        self.rows_accepted += f.rows_accepted;
        self.rows_rejected += f.rows_rejected;
        for (k, v) in &f.rejected_by_reason {
            *self.rejected_by_reason.entry(k.clone()).or_insert(0) += v;
        }
        self.unknown_codes += f.unknown_codes;
        self.rows_with_unknown_codes += f.rows_with_unknown_codes;
        for (k, v) in &f.events_by_domain {
            *self.events_by_domain.entry(k.clone()).or_insert(0) += v;
            self.events += v;
        }
        self.residences += f.residences;
        self.id_changes += f.id_changes;
        self.imputed_dates += f.imputed_dates;
        self.century_guessed += f.century_guessed;
        self.bytes += f.bytes;
    }
}

/// The report of one load. Serialised as JSON it is stored with the
/// snapshot; `Display` gives the human-readable form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// The snapshot this load created; `None` when nothing new was loaded
    /// (and in the copy stored with the snapshot, which is written before
    /// the id is known).
    pub snapshot: Option<String>,
    /// Fingerprint of the key the pseudonyms were made with.
    pub key_fingerprint: String,
    /// Every loaded file, in path order.
    pub files: Vec<FileReport>,
    /// Files not loaded (already in the store, or given twice).
    pub skipped: Vec<SkippedFile>,
    /// Remarks (files left out on purpose, ...).
    pub notes: Vec<String>,
    /// Sums over the loaded files.
    pub totals: Totals,
    /// Distinct persons in this load (after id changes), over all sources
    /// except id change files.
    pub patients_seen: u64,
    /// How many persons were found in 1, 2, 3, ... different sources
    /// (source = format: population register, inpatient register, primary
    /// care, ...; the regional files of one format count as one source).
    pub patients_by_source_count: BTreeMap<u32, u64>,
    /// Wall-clock seconds of the whole load.
    pub elapsed_seconds: f64,
    /// Rows read per second over the whole load.
    pub rows_per_second: f64,
    /// For a quarantine retry (`halsohub ingest retry-quarantine`): which
    /// quarantined lines were read again. Its totals say how many were
    /// accepted now and how many are quarantined again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySummary>,
}

impl LoadReport {
    /// Whether this load added a snapshot.
    pub fn committed(&self) -> bool {
        self.snapshot.is_some()
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.snapshot {
            Some(s) => writeln!(f, "Load report — snapshot {s}")?,
            None => writeln!(f, "Load report — nothing new to load, no snapshot created")?,
        }
        let t = &self.totals;
        writeln!(
            f,
            "{} file(s), {} rows read, {} accepted, {} rejected, {} events, {:.1} s ({} rows/s)",
            t.files,
            thousands(t.rows_read),
            thousands(t.rows_accepted),
            thousands(t.rows_rejected),
            thousands(t.events),
            self.elapsed_seconds,
            thousands(self.rows_per_second.round() as u64),
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<44} {:<18} {:<12} {:>11} {:>11} {:>9} {:>8}",
            "file", "format", "encoding", "rows", "accepted", "rejected", "unknown"
        )?;
        for r in &self.files {
            let mut path = r.path.clone();
            if path.chars().count() > 44 {
                let tail: String = path
                    .chars()
                    .rev()
                    .take(43)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                path = format!("…{tail}");
            }
            writeln!(
                f,
                "{:<44} {:<18} {:<12} {:>11} {:>11} {:>9} {:>8}",
                path,
                r.format,
                format!("{}{}", r.encoding, if r.gzip { "+gz" } else { "" }),
                thousands(r.rows_read),
                thousands(r.rows_accepted),
                thousands(r.rows_rejected),
                thousands(r.unknown_codes),
            )?;
        }
        if !t.rejected_by_reason.is_empty() {
            writeln!(f)?;
            writeln!(f, "Rejected rows by reason (details in the quarantine):")?;
            for (k, v) in &t.rejected_by_reason {
                writeln!(f, "  {k:<44} {:>11}", thousands(*v))?;
            }
        }
        writeln!(f)?;
        writeln!(f, "Events by domain:")?;
        for (k, v) in &t.events_by_domain {
            writeln!(f, "  {k:<44} {:>11}", thousands(*v))?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "Persons: {} seen, {} with population facts, {} residence periods, {} id changes",
            thousands(self.patients_seen),
            thousands(t.persons),
            thousands(t.residences),
            thousands(t.id_changes),
        )?;
        let linked: Vec<String> = self
            .patients_by_source_count
            .iter()
            .map(|(k, v)| format!("{k}: {}", thousands(*v)))
            .collect();
        writeln!(f, "Persons by number of sources: {}", linked.join(", "))?;
        writeln!(
            f,
            "Unknown codes kept: {} (in {} rows); imputed dates: {}; guessed centuries: {}",
            thousands(t.unknown_codes),
            thousands(t.rows_with_unknown_codes),
            thousands(t.imputed_dates),
            thousands(t.century_guessed),
        )?;
        if let Some(r) = &self.retry {
            writeln!(
                f,
                "Quarantine retry ({}): {} quarantined row(s) read again: {} now accepted, {} quarantined again",
                r.reasons.join(", "),
                thousands(r.retried()),
                thousands(t.rows_accepted),
                thousands(t.rows_rejected),
            )?;
            for p in &r.not_given {
                writeln!(f, "Not given, its rows stay quarantined: {p}")?;
            }
        }
        for s in &self.skipped {
            writeln!(f, "Skipped {}: {}", s.path, s.reason)?;
        }
        for n in &self.notes {
            writeln!(f, "Note: {n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1 000");
        assert_eq!(thousands(12_345_678), "12 345 678");
    }

    #[test]
    fn json_round_trip_and_display() {
        let mut r = LoadReport::default();
        r.patients_by_source_count.insert(2, 5);
        r.totals
            .rejected_by_reason
            .insert("duplicate_row".into(), 3);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["patients_by_source_count"]["2"], 5);
        let back: LoadReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
        let text = r.to_string();
        assert!(text.contains("nothing new"));
        assert!(text.contains("duplicate_row"));
    }
}

/// What a retry re-read, stored in its load report (`retry`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrySummary {
    /// The quarantine reasons retried.
    pub reasons: Vec<String>,
    /// The lines re-read, by source file (as the store recorded it).
    pub lines: BTreeMap<String, Vec<u64>>,
    /// Source files with lines waiting for a retry that were not given
    /// (their lines stay quarantined).
    pub not_given: Vec<String>,
}

impl RetrySummary {
    /// Lines re-read.
    pub fn retried(&self) -> u64 {
        self.lines.values().map(|l| l.len() as u64).sum()
    }
}
