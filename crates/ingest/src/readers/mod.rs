//! One reader per source format, behind one seam.
//!
//! A [`Reader`] turns the decoded byte stream of one file into accepted
//! rows (events, persons, residences, id changes) and rejected rows
//! (quarantine), through a [`FileCtx`] that holds the pseudonym cache, the
//! batches for the store and the file's counters. The register formats
//! share the delimited-text engine [`Delimited`] and differ only in their
//! row mapping (`register.rs`); FHIR has its own reader (`fhir.rs`) over
//! `halsohub-fhir`; OMOP CDM tables have theirs (`omop.rs`) over
//! `halsohub-omop`.

pub(crate) mod fhir;
pub(crate) mod omop;
pub(crate) mod register;

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::NaiveDate;
use csv::ByteRecord;
use halsohub_identity::Pseudonym;
use halsohub_store::{Event, LoadWriter, Person, QuarantineRecord, Residence};

use crate::coding::Coder;
use crate::error::IngestError;
use crate::format::{Format, Layout};
use crate::input::{Encoding, LineTooLong, Sniffed};
use crate::pseudo::IdCache;
use crate::reject::{self, Reject};
use crate::report::FileReport;

pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// At most this many distinct unknown codes are listed per file.
const UNKNOWN_EXAMPLES: usize = 20;

/// Reads one file of one format family.
pub(crate) trait Reader: Sync {
    /// Reads every row of `input` (the decoded stream after any byte-order
    /// mark) into `ctx`. Row problems go to the quarantine; only
    /// file-level problems are errors.
    fn read(&self, input: &mut dyn Read, ctx: &mut FileCtx<'_>) -> Result<(), IngestError>;
}

/// The reader for a format.
pub(crate) fn reader_for(format: Format) -> &'static dyn Reader {
    match format {
        Format::Population
        | Format::IdChanges
        | Format::ParInpatient
        | Format::ParOutpatient
        | Format::PrescribedDrugs
        | Format::CauseOfDeath
        | Format::PrimaryCare
        | Format::AdministeredDrugs
        | Format::Lab => &Delimited,
        Format::Fhir => &fhir::FhirReader,
        Format::Omop => &omop::OmopReader,
    }
}

/// Batches records for the store writer, shared between the file workers.
pub(crate) struct Sink<'a> {
    writer: &'a Mutex<LoadWriter>,
    cancel: &'a AtomicBool,
    batch: usize,
    /// Read for context only (an OMOP reference table already in the
    /// store): nothing reaches the writer.
    discard: bool,
    events: Vec<Event>,
    quarantine: Vec<QuarantineRecord>,
    residences: Vec<Residence>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(writer: &'a Mutex<LoadWriter>, cancel: &'a AtomicBool, batch: usize) -> Self {
        Sink {
            writer,
            cancel,
            batch: batch.max(1),
            discard: false,
            events: Vec::with_capacity(batch.max(1)),
            quarantine: Vec::new(),
            residences: Vec::new(),
        }
    }

    /// A sink that drops everything (see `discard`).
    pub(crate) fn discarding(mut self) -> Self {
        self.discard = true;
        self
    }

    fn full(&self) -> bool {
        self.events.len() >= self.batch
            || self.quarantine.len() >= self.batch
            || self.residences.len() >= self.batch
    }

    /// Hands everything batched to the store writer.
    pub(crate) fn flush(&mut self) -> Result<(), IngestError> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(IngestError::Cancelled);
        }
        if self.events.is_empty() && self.quarantine.is_empty() && self.residences.is_empty() {
            return Ok(());
        }
        if self.discard {
            self.events.clear();
            self.quarantine.clear();
            self.residences.clear();
            return Ok(());
        }
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if !self.events.is_empty() {
            w.write_events(&self.events)?;
            self.events.clear();
        }
        if !self.quarantine.is_empty() {
            w.write_quarantine(&self.quarantine)?;
            self.quarantine.clear();
        }
        if !self.residences.is_empty() {
            w.write_residences(&self.residences)?;
            self.residences.clear();
        }
        Ok(())
    }
}

/// Everything a reader needs while reading one file.
pub(crate) struct FileCtx<'a> {
    pub format: Format,
    /// Display path, as recorded in the quarantine.
    pub display: String,
    /// The file's path (OMOP tables find their folder's context by it).
    pub path: &'a std::path::Path,
    pub encoding: Encoding,
    pub layout: &'a Layout,
    pub ids: IdCache<'a>,
    pub coder: &'a Coder,
    /// Län of the data holder when the file sits in a `region_NN` folder.
    pub holder_region: Option<String>,
    pub sink: Sink<'a>,
    pub report: FileReport,
    /// Persons seen in this file (after id changes).
    pub patients: FastSet<Pseudonym>,
    /// Person facts (population register, death dates), merged later.
    pub persons: FastMap<Pseudonym, Person>,
    /// Id changes read (line, old, new), applied after the file.
    pub aliases: Vec<(u64, Pseudonym, Pseudonym)>,
    pub row: RowOut,
    /// FHIR Patients and Medications of the load's shared files (read
    /// first), for references this file does not resolve itself.
    pub fhir_directory: &'a fhir::Directory,
    /// What a shared FHIR file offers the later files.
    pub fhir_export: Option<fhir::Directory>,
    /// The OMOP folders' reference data (source, concepts, persons).
    pub omop: &'a omop::Directory,
    /// What an OMOP reference table offers the folder's other tables.
    pub omop_export: Option<omop::Export>,
    /// Notes for the load report (e.g. extra or missing OMOP columns).
    pub notes: Vec<String>,
    /// The residence periods accepted from this file by (person, start):
    /// their line, region, municipality and end.
    pub(crate) residence_starts: FastMap<(Pseudonym, NaiveDate), ResidenceSeen>,
    /// For a quarantine retry: the only lines to read (others are passed
    /// over, not counted).
    pub(crate) only_lines: Option<&'a std::collections::BTreeSet<u64>>,
}

/// An accepted residence period, as [`FileCtx::check_residence_starts`]
/// compares a later one with the same start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResidenceSeen {
    line: u64,
    region: String,
    municipality: Option<String>,
    to: Option<NaiveDate>,
}

/// What one accepted row produced; reused between rows.
#[derive(Default)]
pub(crate) struct RowOut {
    pub patient: Option<Pseudonym>,
    pub events: Vec<Event>,
    pub person: Option<Person>,
    pub residences: Vec<Residence>,
    pub alias: Option<(Pseudonym, Pseudonym)>,
    pub imputed_date: bool,
    pub century_guessed: bool,
    pub unknown: Vec<String>,
}

impl RowOut {
    pub(crate) fn clear(&mut self) {
        self.patient = None;
        self.events.clear();
        self.person = None;
        self.residences.clear();
        self.alias = None;
        self.imputed_date = false;
        self.century_guessed = false;
        self.unknown.clear();
    }
}

impl<'a> FileCtx<'a> {
    pub(crate) fn new(
        sniffed: &'a Sniffed,
        display: String,
        ids: IdCache<'a>,
        coder: &'a Coder,
        sink: Sink<'a>,
        fhir_directory: &'a fhir::Directory,
        omop: &'a omop::Directory,
    ) -> Self {
        FileCtx {
            format: sniffed.layout.format,
            display: display.clone(),
            path: &sniffed.path,
            encoding: sniffed.encoding,
            layout: &sniffed.layout,
            ids,
            coder,
            holder_region: holder_region(&sniffed.path),
            sink,
            report: FileReport::new(display, sniffed),
            patients: FastSet::default(),
            persons: FastMap::default(),
            aliases: Vec::new(),
            row: RowOut::default(),
            fhir_directory,
            fhir_export: None,
            omop,
            omop_export: None,
            notes: Vec::new(),
            residence_starts: FastMap::default(),
            only_lines: None,
        }
    }

    /// Refuses the row in `self.row` when one of its residence periods
    /// starts on the same day as an earlier period of the same person in
    /// this file but differs (region, municipality or end): the store keeps
    /// one period per person and start, so one of them would silently
    /// vanish. The earlier line stands (file order decides); an identical
    /// repeat is harmless. Otherwise remembers the row's periods.
    pub(crate) fn check_residence_starts(&mut self, line: u64) -> Result<(), Reject> {
        for r in &self.row.residences {
            let seen = ResidenceSeen {
                line,
                region: r.region.clone(),
                municipality: r.municipality.clone(),
                to: r.to,
            };
            if let Some(first) = self.residence_starts.get(&(r.patient, r.from))
                && (first.region != seen.region
                    || first.municipality != seen.municipality
                    || first.to != seen.to)
            {
                return Err(Reject::new(
                    reject::CONFLICTING_RESIDENCE,
                    "FRAN_DATUM",
                    format!(
                        "line {} already gives this person a residence period starting on {} \
                         (län {}), this line says län {}{}; one person cannot have two periods \
                         with one start, so line {} stands and this line is quarantined",
                        first.line,
                        r.from,
                        first.region,
                        seen.region,
                        if first.region == seen.region {
                            " with another municipality or end"
                        } else {
                            ""
                        },
                        first.line
                    ),
                ));
            }
        }
        for r in &self.row.residences {
            self.residence_starts
                .entry((r.patient, r.from))
                .or_insert_with(|| ResidenceSeen {
                    line,
                    region: r.region.clone(),
                    municipality: r.municipality.clone(),
                    to: r.to,
                });
        }
        Ok(())
    }

    /// Counts a rejected row and sends it to the quarantine.
    pub(crate) fn reject(
        &mut self,
        line: u64,
        r: Reject,
        identity: Option<Pseudonym>,
    ) -> Result<(), IngestError> {
        self.report.rows_rejected += 1;
        *self
            .report
            .rejected_by_reason
            .entry(r.reason.to_owned())
            .or_insert(0) += 1;
        self.sink.quarantine.push(QuarantineRecord {
            source_file: self.display.clone(),
            line,
            reason: r.reason.to_owned(),
            detail: r.detail,
            identity: identity.map(|p| p.to_string()),
        });
        if self.sink.full() {
            self.sink.flush()?;
        }
        Ok(())
    }

    /// Takes the accepted row in `self.row` into the batches and counters.
    fn accept(&mut self, line: u64) -> Result<(), IngestError> {
        let row = &mut self.row;
        self.report.rows_accepted += 1;
        if let Some(p) = row.patient
            && self.format != Format::IdChanges
        {
            self.patients.insert(p);
        }
        if row.imputed_date {
            self.report.imputed_dates += 1;
        }
        if row.century_guessed {
            self.report.century_guessed += 1;
        }
        if !row.unknown.is_empty() {
            self.report.rows_with_unknown_codes += 1;
            for code in row.unknown.drain(..) {
                self.report.unknown_codes += 1;
                let n = self.report.unknown_code_examples.len();
                if let Some(c) = self.report.unknown_code_examples.get_mut(&code) {
                    *c += 1;
                } else if n < UNKNOWN_EXAMPLES {
                    self.report.unknown_code_examples.insert(code, 1);
                }
            }
        }
        for e in row.events.drain(..) {
            *self
                .report
                .events_by_domain
                .entry(e.domain.as_str().to_owned())
                .or_insert(0) += 1;
            self.sink.events.push(e);
        }
        if let Some(p) = row.person.take() {
            self.report.persons += 1;
            merge_person(&mut self.persons, p);
        }
        for r in row.residences.drain(..) {
            self.report.residences += 1;
            self.sink.residences.push(r);
        }
        if let Some((old, new)) = row.alias.take() {
            self.aliases.push((line, old, new));
        }
        if self.sink.full() {
            self.sink.flush()?;
        }
        Ok(())
    }
}

/// Adds `p`'s facts to the map: a field already known is kept (the first
/// source wins), a missing one is filled in.
pub(crate) fn merge_person(map: &mut FastMap<Pseudonym, Person>, p: Person) {
    match map.get_mut(&p.patient) {
        Some(known) => {
            known.sex = known.sex.or(p.sex);
            known.birth_date = known.birth_date.or(p.birth_date);
            known.death_date = known.death_date.or(p.death_date);
        }
        None => {
            map.insert(p.patient, p);
        }
    }
}

/// `NN` when the file lies in a folder named `region_NN`.
fn holder_region(path: &std::path::Path) -> Option<String> {
    path.ancestors().skip(1).find_map(|dir| {
        let name = dir.file_name()?.to_str()?;
        let nn = name.strip_prefix("region_")?;
        crate::text::is_digits(nn, 2).then(|| nn.to_owned())
    })
}

/// One data row as the mapping sees it: fields by the spec's column
/// position, decoded and trimmed.
pub(crate) struct Row<'r> {
    record: &'r ByteRecord,
    layout: &'r Layout,
    encoding: Encoding,
}

impl<'r> Row<'r> {
    pub(crate) fn new(record: &'r ByteRecord, layout: &'r Layout, encoding: Encoding) -> Self {
        Row {
            record,
            layout,
            encoding,
        }
    }

    /// Name of the spec's column `k`.
    pub(crate) fn name(&self, k: usize) -> &'static str {
        self.layout
            .format
            .spec()
            .columns
            .get(k)
            .copied()
            .unwrap_or("?")
    }

    /// The trimmed text of column `k` (empty when absent).
    pub(crate) fn text(&self, k: usize) -> Cow<'r, str> {
        let raw = self
            .layout
            .index
            .get(k)
            .and_then(|&i| self.record.get(i))
            .unwrap_or_default();
        let decoded: Cow<'r, str> = match self.encoding {
            Encoding::Utf8 => String::from_utf8_lossy(raw),
            Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0,
        };
        match decoded {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
            Cow::Owned(s) => {
                let t = s.trim();
                if t.len() == s.len() {
                    Cow::Owned(s)
                } else {
                    Cow::Owned(t.to_owned())
                }
            }
        }
    }

    /// Column `k`, which must not be empty.
    pub(crate) fn required(&self, k: usize) -> Result<Cow<'r, str>, Reject> {
        let t = self.text(k);
        if t.is_empty() {
            Err(Reject::missing(self.name(k)))
        } else {
            Ok(t)
        }
    }

    /// Column `k`, `None` when empty.
    pub(crate) fn optional(&self, k: usize) -> Option<Cow<'r, str>> {
        let t = self.text(k);
        (!t.is_empty()).then_some(t)
    }
}

/// The delimited-text engine shared by the register formats.
pub(crate) struct Delimited;

impl Reader for Delimited {
    fn read(&self, input: &mut dyn Read, ctx: &mut FileCtx<'_>) -> Result<(), IngestError> {
        // Register files are never quoted, so one line is one row: lines
        // are split here (exact line numbers, blank lines skipped) into
        // csv byte records.
        let spec = ctx.format.spec();
        let mut rdr = std::io::BufReader::with_capacity(256 * 1024, input);
        let mut buf: Vec<u8> = Vec::with_capacity(1024);
        let mut record = ByteRecord::new();
        let mut seen: FastSet<u64> = FastSet::default();
        let mut joined: Vec<u8> = Vec::with_capacity(256);
        let mut header = true;
        let layout = ctx.layout;
        let mut line: u64 = 0;
        loop {
            buf.clear();
            match rdr.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(read_error(&ctx.display, line + 1, e)),
            }
            line += 1;
            let mut text: &[u8] = &buf;
            if let Some(t) = text.strip_suffix(b"\n") {
                text = t;
            }
            if let Some(t) = text.strip_suffix(b"\r") {
                text = t;
            }
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if header {
                header = false;
                continue;
            }
            if ctx.only_lines.is_some_and(|only| !only.contains(&line)) {
                continue;
            }
            record.clear();
            for field in text.split(|&b| b == spec.delimiter) {
                record.push_field(field);
            }
            ctx.report.rows_read += 1;
            if record.len() != layout.width {
                let r = Reject::new(
                    reject::WRONG_COLUMN_COUNT,
                    "row",
                    format!(
                        "expected {} fields separated by {:?}, found {}",
                        layout.width,
                        spec.delimiter as char,
                        record.len()
                    ),
                );
                ctx.reject(line, r, None)?;
                continue;
            }
            joined.clear();
            for (i, field) in record.iter().enumerate() {
                if i > 0 {
                    joined.push(spec.delimiter);
                }
                joined.extend_from_slice(field);
            }
            if !seen.insert(twox_hash::XxHash3_64::oneshot(&joined)) {
                let r = Reject::new(
                    reject::DUPLICATE_ROW,
                    "row",
                    "exact duplicate of an earlier line of this file",
                );
                // The identity is worth keeping for the data holder.
                let row = Row::new(&record, layout, ctx.encoding);
                let who = row
                    .optional(0)
                    .and_then(|t| ctx.ids.get(&t).ok())
                    .map(|r| r.person);
                ctx.reject(line, r, who)?;
                continue;
            }
            ctx.row.clear();
            let row = Row::new(&record, layout, ctx.encoding);
            let mut out = std::mem::take(&mut ctx.row);
            let result = register::map_row(
                ctx.format,
                &row,
                &mut ctx.ids,
                ctx.coder,
                ctx.holder_region.as_deref(),
                &mut out,
            );
            ctx.row = out;
            match result.and_then(|()| ctx.check_residence_starts(line)) {
                Ok(()) => ctx.accept(line)?,
                Err(r) => {
                    let who = ctx.row.patient;
                    ctx.reject(line, r, who)?;
                }
            }
        }
        if header {
            // Not even the header line came back: the file changed.
            return Err(IngestError::Read {
                path: ctx.display.clone().into(),
                line: 1,
                message: "the header line is missing".to_owned(),
            });
        }
        Ok(())
    }
}

pub(crate) fn read_error(display: &str, line: u64, e: std::io::Error) -> IngestError {
    if let Some(t) = e.get_ref().and_then(|x| x.downcast_ref::<LineTooLong>()) {
        return IngestError::Read {
            path: display.into(),
            line: t.line,
            message: t.to_string(),
        };
    }
    IngestError::Read {
        path: display.into(),
        line,
        message: e.to_string(),
    }
}
