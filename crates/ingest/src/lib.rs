//! Ingest: the only way data enters a halsohub store.
//!
//! [`ingest`] reads source files (the Swedish register formats of
//! `docs/formats.md`: the register formats, FHIR and OMOP CDM tables; one
//! [`Format`] per file, detected from its content or forced), and for every row either produces validated, normalised,
//! pseudonymised records for the store (events, persons, residences, id
//! changes) or a quarantine record with a reason code, the file and line,
//! and a detail naming the field. Raw identity numbers stop here: they are
//! parsed, turned into keyed pseudonyms and forgotten (a per-file cache
//! holds them in memory only); details and error messages are scrubbed of
//! anything that looks like one.
//!
//! A load runs in phases:
//!
//! 1. every file is read once (in parallel) to hash it (SHA-256 of its
//!    bytes), decompress gzip (by magic bytes), decide its encoding (valid
//!    UTF-8, else Windows-1252) and detect its format: every file-level
//!    problem (unreadable, empty, unknown format, truncated gzip) aborts the
//!    load here, before anything is written;
//! 2. files already in the store (same SHA-256) are skipped; if nothing is
//!    left, nothing is committed;
//! 3. id change files are read first, so that every later row of a person
//!    whose number changed gets the pseudonym of the newest number;
//! 4. FHIR NDJSON files that start with a Patient or Medication (a bulk
//!    export's `Patient.ndjson`, `Medication.ndjson`) are read next, then
//!    those that start with an Encounter (`Encounter.ndjson`, referring to
//!    the Patients), so that the other FHIR files can refer to their
//!    resources (an event's care setting comes from its Encounter);
//!    then OMOP CDM reference tables per folder: `cdm_source` first, then
//!    `concept` and `person` (those already in the store are read again
//!    for this context only, writing nothing);
//! 5. the other files are streamed in parallel (rayon), rows batched to the
//!    store's [`LoadWriter`](halsohub_store::LoadWriter);
//! 6. persons, aliases and sources are written and the load is committed as
//!    one snapshot together with its [`LoadReport`] (JSON).
//!
//! Any file-level error in phases 3–5 also aborts the load; the writer is
//! dropped uncommitted and the store is unchanged.

mod coding;
mod error;
mod format;
mod input;
pub mod optout;
mod parquet_input;
mod pseudo;
mod readers;
pub mod reject;
mod report;
mod retry;
mod scrub;
mod text;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use halsohub_identity::{ParseOptions, Pseudonym, Pseudonymiser};
use halsohub_store::{Alias, Person, QuarantineRecord, SourceFile, Store};
use rayon::prelude::*;

pub use error::IngestError;
pub use format::Format;
pub use input::Encoding;
pub use report::{FileReport, LoadReport, RetrySummary, SkippedFile, Totals};
pub use retry::{UNIT_REASONS, open_unit_quarantine, retry_unit_quarantine};

use coding::Coder;
use input::{RawState, Sniffed};
use pseudo::{AliasProblem, Aliases, IdCache};
use readers::{FastMap, FastSet, FileCtx, Sink, merge_person, reader_for};

/// Receives progress of a load, in bytes. The total counts every file
/// twice (a checking pass and a loading pass). Implementations must be
/// cheap; the CLI maps this onto a progress bar.
pub trait Progress: Sync {
    /// Called once, before reading starts.
    fn start(&self, total_bytes: u64) {
        let _ = total_bytes;
    }
    /// Called as bytes are read (in steps of about 1 MiB).
    fn advance(&self, bytes: u64) {
        let _ = bytes;
    }
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// How to load.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Read every file as this format instead of detecting it.
    pub format: Option<Format>,
    /// How identity numbers are read: the reference date for the century of
    /// 10-digit forms (use the extract date when known) and the
    /// reservnummer schemes.
    pub identity: ParseOptions,
    /// Records per batch handed to the store writer.
    pub batch_rows: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            format: None,
            identity: ParseOptions::default(),
            batch_rows: 64 * 1024,
        }
    }
}

/// What reading one file gave, before it is merged into the load.
struct FileOutcome {
    report: FileReport,
    patients: FastSet<Pseudonym>,
    persons: FastMap<Pseudonym, Person>,
    aliases: Vec<(u64, Pseudonym, Pseudonym)>,
    fhir_export: Option<readers::fhir::Directory>,
    omop_export: Option<readers::omop::Export>,
    notes: Vec<String>,
}

fn display(path: &std::path::Path) -> String {
    scrub::scrub(&path.display().to_string(), 400)
}

/// What every file of one load is read with (the parts that do not change
/// between the load's phases).
struct Load<'a> {
    /// For a quarantine retry: which lines of which files to read again.
    retry: Option<&'a retry::Plan>,
    pseudonymiser: &'a Pseudonymiser,
    options: &'a IngestOptions,
    coder: &'a Coder,
    writer: &'a Mutex<halsohub_store::LoadWriter>,
    cancel: &'a AtomicBool,
    progress: &'a dyn Progress,
}

/// Reads one file: `aliases` as known so far, the shared FHIR resources and
/// OMOP reference tables of earlier phases; `discard` reads a file only
/// for what it tells other files (nothing of it is written).
fn read_file(
    load: &Load<'_>,
    s: &Sniffed,
    aliases: &Aliases,
    (directory, omop): (&readers::fhir::Directory, &readers::omop::Directory),
    discard: bool,
) -> Result<FileOutcome, IngestError> {
    let Load {
        retry,
        pseudonymiser,
        options,
        coder,
        writer,
        cancel,
        progress,
    } = *load;
    let started = Instant::now();
    let ids = IdCache::new(pseudonymiser, &options.identity, aliases);
    let mut sink = Sink::new(writer, cancel, options.batch_rows);
    if discard {
        sink = sink.discarding();
    }
    // A retry names the file as the store recorded it (so its quarantine
    // rows match the earlier ones) and reads only the lines it retries.
    let only = retry.and_then(|p| p.file(&s.sha256));
    let shown = only.map_or_else(|| display(&s.path), |(path, _)| path.to_owned());
    let mut ctx = FileCtx::new(s, shown, ids, coder, sink, directory, omop);
    ctx.only_lines = only.map(|(_, lines)| lines);
    let mut state = RawState::new();
    {
        let mut rows = input::open_rows(s, &mut state, progress)?;
        reader_for(s.layout.format).read(&mut rows, &mut ctx)?;
        rows.inner
            .drain()
            .map_err(|e| input::read_error(&s.path, s.gzip, e))?;
    }
    ctx.sink.flush()?;
    let (sha, _) = state.finish();
    if sha != s.sha256 {
        return Err(IngestError::Changed {
            path: s.path.clone(),
        });
    }
    let mut report = ctx.report;
    report.patients = ctx.patients.len() as u64;
    report.seconds = started.elapsed().as_secs_f64();
    tracing::debug!(
        file = %report.path,
        format = %report.format,
        rows = report.rows_read,
        rejected = report.rows_rejected,
        seconds = report.seconds,
        "file read"
    );
    Ok(FileOutcome {
        report,
        patients: ctx.patients,
        persons: ctx.persons,
        aliases: ctx.aliases,
        fhir_export: ctx.fhir_export,
        omop_export: ctx.omop_export,
        notes: ctx.notes,
    })
}

/// Loads `paths` into `store` as one new snapshot.
///
/// A directory stands for every file below it (synthetic data's
/// `manifest.json` is skipped with a note). Files whose SHA-256 the store
/// already holds, or that appear twice, are skipped; when nothing new is
/// left, nothing is committed and the report's `snapshot` is `None`.
/// `pseudonymiser` must use the key the store was created with, and that
/// key's file must lie outside the store: both are checked here, before
/// anything is read ([`Store::check_key`]), so no caller can skip them.
///
/// Returns the report of the load (also stored with the snapshot), or the
/// first file-level error, in which case the store is unchanged.
pub fn ingest(
    store: &Store,
    pseudonymiser: &Pseudonymiser,
    paths: &[PathBuf],
    options: &IngestOptions,
    progress: &dyn Progress,
) -> Result<LoadReport, IngestError> {
    load_files(store, pseudonymiser, paths, options, progress, None)
}

/// [`ingest`], or with `retry` a quarantine retry ([`retry_unit_quarantine`]):
/// only the plan's lines of files already in the store are read, and no
/// source is added.
fn load_files(
    store: &Store,
    pseudonymiser: &Pseudonymiser,
    paths: &[PathBuf],
    options: &IngestOptions,
    progress: &dyn Progress,
    retry: Option<&retry::Plan>,
) -> Result<LoadReport, IngestError> {
    store.check_key(pseudonymiser.key_fingerprint(), pseudonymiser.key_file())?;
    let started = Instant::now();
    let (files, mut notes) = input::collect_files(paths)?;
    let files = readers::omop::skip_unread(files, &mut notes, options.format);
    // Opt-out deliveries belong in the state database, not the store: the
    // caller records them (`optout::read_optout_delivery`).
    let (deliveries, files): (Vec<PathBuf>, Vec<PathBuf>) = files
        .into_iter()
        .partition(|f| optout::is_optout_delivery(f));
    let only_deliveries = !deliveries.is_empty() && files.is_empty();
    for d in deliveries {
        notes.push(format!(
            "{}: an opt-out delivery; recorded in the opt-out register, not the store",
            display(&d)
        ));
    }
    if only_deliveries {
        return Err(IngestError::NoInput {
            reason: "the given paths hold only opt-out deliveries".to_owned(),
        });
    }
    let total: u64 = files
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    progress.start(total.saturating_mul(2));

    // Phase 1: check every file.
    let sniffed: Vec<Sniffed> = files
        .par_iter()
        .map(|p| input::sniff(p, options.format, progress))
        .collect::<Result<_, _>>()?;

    // Phase 2: skip what is already loaded.
    let mut report = LoadReport {
        key_fingerprint: pseudonymiser.key_fingerprint().to_owned(),
        notes,
        ..LoadReport::default()
    };
    let mut seen: FastMap<String, String> = FastMap::default();
    let mut todo: Vec<Sniffed> = Vec::new();
    // OMOP reference tables already in the store: read again for their
    // folder's context only (a new table of the folder needs them).
    let mut context_only: Vec<Sniffed> = Vec::new();
    for s in sniffed {
        let path = display(&s.path);
        if let Some(what) = s.layout.fhir_log {
            report.skipped.push(SkippedFile {
                path,
                sha256: s.sha256,
                reason: format!("{what}; not loaded"),
            });
        } else if let Some(plan) = retry {
            if plan.file(&s.sha256).is_none() {
                let reason = if store.has_source(&s.sha256)? {
                    "no row of this file waits in the quarantine for a unit retry"
                } else {
                    "not a source of this store: a retry reads only files already loaded"
                };
                report.skipped.push(SkippedFile {
                    path,
                    sha256: s.sha256,
                    reason: reason.to_owned(),
                });
            } else if let Some(first) = seen.get(&s.sha256) {
                report.skipped.push(SkippedFile {
                    path,
                    sha256: s.sha256.clone(),
                    reason: format!("same content as {first} in this load"),
                });
            } else {
                seen.insert(s.sha256.clone(), path);
                todo.push(s);
            }
        } else if store.has_source(&s.sha256)? {
            if s.layout
                .omop
                .as_ref()
                .is_some_and(|o| readers::omop::stage(o.table) < readers::omop::EVENT_STAGE)
            {
                context_only.push(s.clone());
            }
            report.skipped.push(SkippedFile {
                path,
                sha256: s.sha256,
                reason: "already loaded (same SHA-256 in the current snapshot)".to_owned(),
            });
        } else if let Some(first) = seen.get(&s.sha256) {
            report.skipped.push(SkippedFile {
                path,
                sha256: s.sha256.clone(),
                reason: format!("same content as {first} in this load"),
            });
        } else {
            seen.insert(s.sha256.clone(), path);
            todo.push(s);
        }
    }
    report.retry = retry.map(|p| p.summary(&todo));
    if todo.is_empty() {
        report.elapsed_seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }

    let coder = Coder::builtin();
    let writer = Mutex::new(store.begin_load()?);
    let cancel = AtomicBool::new(false);

    let empty_omop = readers::omop::Directory::default();
    let load = Load {
        retry,
        pseudonymiser,
        options,
        coder: &coder,
        writer: &writer,
        cancel: &cancel,
        progress,
    };

    // Phase 3: id change files, in order.
    let mut aliases = Aliases::default();
    let mut outcomes: Vec<(usize, FileOutcome)> = Vec::new();
    let mut alias_rows: Vec<Alias> = Vec::new();
    for (i, s) in todo.iter().enumerate() {
        if s.layout.format != Format::IdChanges {
            continue;
        }
        let mut out = read_file(
            &load,
            s,
            &aliases,
            (&readers::fhir::Directory::default(), &empty_omop),
            false,
        )?;
        let mut rejected = Vec::new();
        for &(line, old, new) in &out.aliases {
            match aliases.add(old, new) {
                Ok(true) => {
                    out.report.id_changes += 1;
                    alias_rows.push(Alias { old, new });
                }
                Ok(false) => {}
                Err(problem) => {
                    let detail = match problem {
                        AliasProblem::Cycle => {
                            "NYTT_PERSONNR: the new number already leads back to the old one"
                        }
                        AliasProblem::Conflict => {
                            "GAMMALT_PERSONNR: this number was already changed to another number"
                        }
                    };
                    out.report.rows_accepted = out.report.rows_accepted.saturating_sub(1);
                    out.report.rows_rejected += 1;
                    *out.report
                        .rejected_by_reason
                        .entry(reject::CONFLICTING_ID_CHANGE.to_owned())
                        .or_insert(0) += 1;
                    rejected.push(QuarantineRecord {
                        source_file: out.report.path.clone(),
                        line,
                        reason: reject::CONFLICTING_ID_CHANGE.to_owned(),
                        detail: detail.to_owned(),
                        identity: Some(new.to_string()),
                    });
                }
            }
        }
        if !rejected.is_empty() {
            writer
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .write_quarantine(&rejected)?;
        }
        outcomes.push((i, out));
    }

    // Phase 3b: FHIR files other files may refer to, per stage, each in
    // parallel: a bulk export's Patient and Medication NDJSON, then its
    // Encounter NDJSON (whose subjects are in the first stage's files).
    let mut directory = readers::fhir::Directory::default();
    for stage in [0u8, 1] {
        let shared: Vec<(usize, Result<FileOutcome, IngestError>)> = (0..todo.len())
            .filter(|&i| {
                todo.get(i)
                    .is_some_and(|s| s.layout.fhir_shared == Some(stage))
            })
            .collect::<Vec<_>>()
            .par_iter()
            .filter_map(|&i| todo.get(i).map(|s| (i, s)))
            .map(|(i, s)| {
                let r = read_file(&load, s, &aliases, (&directory, &empty_omop), false);
                (i, r)
            })
            .collect();
        let mut found = readers::fhir::Directory::default();
        for (i, r) in shared {
            let mut o = r?;
            if let Some(d) = o.fhir_export.take() {
                found.merge(d);
            }
            outcomes.push((i, o));
        }
        directory.merge(found);
    }

    // Phase 3c: OMOP reference tables, per stage: cdm_source (the data
    // holder, which scopes person pseudonyms), location and care_site;
    // then concept and person; then visit_occurrence (its visits give
    // their events a setting). Those already in the store are read for
    // their context only.
    let omop_stage = |s: &Sniffed| {
        s.layout
            .omop
            .as_ref()
            .map(|o| readers::omop::stage(o.table))
    };
    let mut omop = readers::omop::Directory::default();
    for stage in 0..readers::omop::EVENT_STAGE {
        let jobs: Vec<(Option<usize>, &Sniffed)> = todo
            .iter()
            .enumerate()
            .filter(|(_, s)| omop_stage(s) == Some(stage))
            .map(|(i, s)| (Some(i), s))
            .chain(
                context_only
                    .iter()
                    .filter(|s| omop_stage(s) == Some(stage))
                    .map(|s| (None, s)),
            )
            .collect();
        let results: Vec<(Option<usize>, &Sniffed, Result<FileOutcome, IngestError>)> = jobs
            .par_iter()
            .map(|&(i, s)| {
                let r = read_file(&load, s, &aliases, (&directory, &omop), i.is_none());
                (i, s, r)
            })
            .collect();
        for (i, s, r) in results {
            let mut o = r?;
            if let Some(e) = o.omop_export.take() {
                omop.add(readers::omop::folder_key(&s.path), e);
            }
            if let Some(i) = i {
                outcomes.push((i, o));
            }
        }
    }

    // Phase 4: everything else, in parallel, largest files first.
    let mut order: Vec<usize> = (0..todo.len())
        .filter(|&i| {
            todo.get(i).is_some_and(|s| {
                s.layout.format != Format::IdChanges
                    && s.layout.fhir_shared.is_none()
                    && omop_stage(s).is_none_or(|st| st >= readers::omop::EVENT_STAGE)
            })
        })
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(todo.get(i).map_or(0, |s| s.bytes)));
    let results: Vec<(usize, Result<FileOutcome, IngestError>)> = order
        .par_iter()
        .filter_map(|&i| todo.get(i).map(|s| (i, s)))
        .map(|(i, s)| {
            let r = read_file(&load, s, &aliases, (&directory, &omop), false);
            if r.is_err() {
                cancel.store(true, Ordering::Relaxed);
            }
            (i, r)
        })
        .collect();
    let mut first_error: Option<IngestError> = None;
    for (i, r) in results {
        match r {
            Ok(o) => outcomes.push((i, o)),
            Err(e) => {
                let better = matches!(first_error, None | Some(IngestError::Cancelled));
                if better {
                    first_error = Some(e);
                }
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    outcomes.sort_by_key(|(i, _)| *i);

    // Phase 5: merge, write persons, aliases and sources, commit.
    let mut persons: FastMap<Pseudonym, Person> = FastMap::default();
    let mut sources: FastMap<Pseudonym, u16> = FastMap::default();
    for (i, o) in &mut outcomes {
        let bit = todo.get(*i).map_or(0, |s| s.layout.format.bit());
        for p in o.patients.drain() {
            *sources.entry(p).or_insert(0) |= bit;
        }
        for (_, p) in o.persons.drain() {
            merge_person(&mut persons, p);
        }
    }
    for (_, o) in &mut outcomes {
        report.notes.append(&mut o.notes);
    }
    for (_, o) in &outcomes {
        report.totals.add(&o.report);
        report.files.push(o.report.clone());
    }
    report.totals.persons = persons.len() as u64;
    report.patients_seen = sources.len() as u64;
    for bits in sources.values() {
        *report
            .patients_by_source_count
            .entry(bits.count_ones())
            .or_insert(0) += 1;
    }
    drop(sources);

    let mut w = writer.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut person_rows: Vec<Person> = persons.into_values().collect();
    person_rows.sort_by_key(|p| p.patient);
    for chunk in person_rows.chunks(options.batch_rows.max(1)) {
        w.write_persons(chunk)?;
    }
    for chunk in alias_rows.chunks(options.batch_rows.max(1)) {
        w.write_aliases(chunk)?;
    }
    // A retry re-reads sources the store already holds.
    for s in todo.iter().filter(|_| retry.is_none()) {
        w.add_source(SourceFile {
            path: display(&s.path),
            sha256: s.sha256.clone(),
            format: s.layout.format.name().to_owned(),
        })?;
    }
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    report.rows_per_second = if report.elapsed_seconds > 0.0 {
        report.totals.rows_read as f64 / report.elapsed_seconds
    } else {
        0.0
    };
    let json = serde_json::to_value(&report).map_err(|e| IngestError::Read {
        path: PathBuf::from("<load report>"),
        line: 0,
        message: e.to_string(),
    })?;
    let id = w.commit(json)?;
    report.snapshot = Some(id.0);
    report.elapsed_seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        snapshot = report.snapshot.as_deref().unwrap_or(""),
        files = report.totals.files,
        rows = report.totals.rows_read,
        rejected = report.totals.rows_rejected,
        seconds = report.elapsed_seconds,
        "load committed"
    );
    Ok(report)
}
