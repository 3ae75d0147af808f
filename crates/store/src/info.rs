//! `halsohub store info`: a summary of a store, as JSON and as text.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::manifest::DateRange;
use crate::model::Domain;
use crate::{SnapshotId, SourceFile, Store, StoreError};

/// One snapshot in [`StoreInfo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotSummary {
    pub id: SnapshotId,
    pub parent: Option<SnapshotId>,
    pub created: DateTime<Utc>,
    /// Source files loaded by this snapshot's own load.
    pub sources: Vec<SourceFile>,
    /// Events added by this snapshot's load.
    pub new_events: u64,
    /// Events in the snapshot (cumulative).
    pub events: u64,
    pub patients: u64,
    /// Rows quarantined by this snapshot's load.
    pub quarantined: u64,
}

/// Summary of a store: its snapshots and, for the current snapshot, rows per
/// domain and source, patients, date range and every load report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreInfo {
    pub store: String,
    pub key_fingerprint: String,
    pub created: DateTime<Utc>,
    pub current: Option<SnapshotId>,
    pub snapshots: Vec<SnapshotSummary>,
    /// Event rows per domain and source kind in the current snapshot.
    pub rows: BTreeMap<Domain, BTreeMap<String, u64>>,
    pub events: u64,
    /// Canonical persons with at least one event.
    pub patients: u64,
    /// Canonical persons known (with or without events).
    pub persons: u64,
    pub residences: u64,
    pub aliases: u64,
    pub date_range: Option<DateRange>,
    /// Load reports of the current snapshot and its ancestors, oldest first.
    pub load_reports: Vec<LoadReportEntry>,
}

/// The load report of one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReportEntry {
    pub snapshot: SnapshotId,
    pub report: serde_json::Value,
}

pub(crate) fn info(store: &Store) -> Result<StoreInfo, StoreError> {
    let manifests = store.snapshots()?;
    let mut snapshots = Vec::with_capacity(manifests.len());
    let mut prev_events = 0;
    for m in &manifests {
        snapshots.push(SnapshotSummary {
            id: m.id.clone(),
            parent: m.parent.clone(),
            created: m.created,
            sources: m
                .sources
                .iter()
                .filter(|s| s.snapshot == m.id)
                .map(|s| s.file.clone())
                .collect(),
            new_events: m.events.saturating_sub(prev_events),
            events: m.events,
            patients: m.patients,
            quarantined: m.quarantined,
        });
        prev_events = m.events;
    }
    let current = manifests.last();
    let load_reports = match current {
        Some(m) => store
            .snapshot(Some(&m.id))?
            .load_reports()?
            .into_iter()
            .map(|(snapshot, report)| LoadReportEntry { snapshot, report })
            .collect(),
        None => Vec::new(),
    };
    Ok(StoreInfo {
        store: store.root().display().to_string(),
        key_fingerprint: store.key_fingerprint().to_string(),
        created: store.meta().created,
        current: current.map(|m| m.id.clone()),
        snapshots,
        rows: current.map(|m| m.rows.clone()).unwrap_or_default(),
        events: current.map_or(0, |m| m.events),
        patients: current.map_or(0, |m| m.patients),
        persons: current.map_or(0, |m| m.persons),
        residences: current.map_or(0, |m| m.residences),
        aliases: current.map_or(0, |m| m.aliases),
        date_range: current.and_then(|m| m.date_range),
        load_reports,
    })
}

impl fmt::Display for StoreInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "store      {}", self.store)?;
        writeln!(f, "key        {}", self.key_fingerprint)?;
        writeln!(
            f,
            "created    {}",
            self.created.format("%Y-%m-%d %H:%M:%S UTC")
        )?;
        let Some(current) = &self.current else {
            return writeln!(f, "snapshots  none (nothing loaded yet)");
        };
        writeln!(f, "current    {current}")?;
        writeln!(f)?;
        writeln!(f, "snapshots")?;
        writeln!(
            f,
            "  {:<9} {:<20} {:>8} {:>14} {:>14} {:>12}",
            "id", "created (UTC)", "sources", "new events", "events", "quarantined"
        )?;
        for s in &self.snapshots {
            writeln!(
                f,
                "  {:<9} {:<20} {:>8} {:>14} {:>14} {:>12}",
                s.id.0,
                s.created.format("%Y-%m-%d %H:%M:%S").to_string(),
                s.sources.len(),
                s.new_events,
                s.events,
                s.quarantined
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "patients   {} with events, {} persons known",
            self.patients, self.persons
        )?;
        writeln!(f, "residences {}", self.residences)?;
        writeln!(f, "aliases    {}", self.aliases)?;
        match &self.date_range {
            Some(r) => writeln!(f, "dates      {} .. {}", r.first, r.last)?,
            None => writeln!(f, "dates      -")?,
        }
        writeln!(f, "events     {}", self.events)?;
        writeln!(f)?;
        writeln!(f, "rows per domain and source")?;
        for (domain, sources) in &self.rows {
            let total: u64 = sources.values().sum();
            writeln!(f, "  {:<18} {:>14}", domain.as_str(), total)?;
            for (source, n) in sources {
                writeln!(f, "    {source:<16} {n:>14}")?;
            }
        }
        writeln!(f)?;
        writeln!(f, "load reports (JSON: --json)")?;
        for r in &self.load_reports {
            let files = self
                .snapshots
                .iter()
                .find(|s| s.id == r.snapshot)
                .map_or(0, |s| s.sources.len());
            writeln!(f, "  {}: {} file(s)", r.snapshot, files)?;
            if let Some(obj) = r.report.as_object() {
                for (k, v) in obj {
                    if v.is_number() || v.is_string() || v.is_boolean() {
                        writeln!(f, "    {k}: {v}")?;
                    }
                }
            }
        }
        Ok(())
    }
}
