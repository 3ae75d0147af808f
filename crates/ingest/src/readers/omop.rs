//! The OMOP CDM reader: one table file (CSV or TSV, plain or gzipped, or
//! Parquet) of a CDM 5.3/5.4 folder, with the table definitions of
//! `halsohub-omop`. Parquet columns are cast to text and their rows go
//! through the same row code as CSV records ([`TableRows`]).
//!
//! Tables depend on each other, so a folder is read in stages (see
//! `lib.rs`): `cdm_source` (it names the data holder, which scopes the
//! person pseudonyms), `location` and `care_site` first, then `concept`
//! and `person` (concept id → system and code; `person_id` → pseudonym,
//! and the person's `location_id` → a residence), then `visit_occurrence`
//! (visit id → care setting and provider, which its events take), then
//! every other table with those in hand. What a reference table offers the others is its [`Export`],
//! collected per folder into the load's [`Directory`]. A reference table
//! already in the store is read again for its export only (nothing is
//! written), so a later delivery of, say, a new `drug_exposure` file still
//! resolves its persons and concepts.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::DataType;
use chrono::NaiveDate;
use csv::ByteRecord;
use halsohub_codes::{System, UnitError, units};
use halsohub_identity::Pseudonym;
use halsohub_omop::concept::{
    comparator_of_operator, drug_domain, primary_of_condition_status, setting_of_visit_row,
    sex_of_gender,
};
use halsohub_omop::{CdmVersion, HeaderMatch, OMOP_CONCEPT_SYSTEM, Table, system_for_vocabulary};
use halsohub_store::{Comparator, Domain, Event, Person, Residence, Setting};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::register::LAN_CODES;
use super::{FastMap, FastSet, FileCtx, Reader};
use crate::error::IngestError;
use crate::input::Encoding;
use crate::reject::{self, Reject, omop as why};
use crate::text::{self, MAX_YEAR, MIN_YEAR, ValueError};

/// How an OMOP table file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OmopLayout {
    pub table: Table,
    /// `,` (quoted CSV) or tab (unquoted, as Athena's vocabulary files).
    pub delimiter: u8,
    /// A Parquet file (the `PAR1` magic), not delimited text.
    pub parquet: bool,
}

/// Why halsohub does not read a table, or `None` for the tables it reads.
pub(crate) fn not_read(table: Table) -> Option<&'static str> {
    Some(match table {
        Table::Person
        | Table::ObservationPeriod
        | Table::VisitOccurrence
        | Table::ConditionOccurrence
        | Table::DrugExposure
        | Table::ProcedureOccurrence
        | Table::Measurement
        | Table::Observation
        | Table::Death
        | Table::Concept
        | Table::CdmSource
        | Table::Location
        | Table::CareSite => return None,
        Table::ConditionEra | Table::DrugEra | Table::DoseEra => {
            "derived from the occurrence and exposure tables; reading it would count the same events twice"
        }
        Table::Vocabulary
        | Table::Domain
        | Table::ConceptClass
        | Table::ConceptRelationship
        | Table::Relationship
        | Table::ConceptSynonym
        | Table::ConceptAncestor
        | Table::SourceToConceptMap
        | Table::DrugStrength => {
            "vocabulary table: codes are resolved from the concept table alone, hierarchies come from halsohub's own code systems"
        }
        Table::VisitDetail => "detail of visit_occurrence, which is read",
        Table::DeviceExposure => "halsohub has no device domain",
        Table::Specimen => "halsohub has no specimen domain",
        Table::Note | Table::NoteNlp => "free text, which may identify persons",
        Table::Provider => {
            "health-system table: individual clinicians have no place in the event model (the provider of an event is its visit's care site)"
        }
        Table::PayerPlanPeriod | Table::Cost => "economics table, not used by halsohub",
        Table::FactRelationship | Table::Metadata | Table::Episode | Table::EpisodeEvent => {
            "not used by halsohub"
        }
        Table::Cohort
        | Table::CohortDefinition
        | Table::CohortAttribute
        | Table::AttributeDefinition => "results table (derived cohorts), not source data",
    })
}

/// Drops the files of CDM tables halsohub does not read from a folder that
/// holds tables it reads, with a note each. A lone file of such a table
/// stays (and is refused when read). With a forced format other than
/// `omop` nothing is dropped.
pub(crate) fn skip_unread(
    files: Vec<PathBuf>,
    notes: &mut Vec<String>,
    forced: Option<crate::Format>,
) -> Vec<PathBuf> {
    if forced.is_some_and(|f| f != crate::Format::Omop) {
        return files;
    }
    let table_of = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(Table::from_file_name)
    };
    let cdm_folders: FastSet<PathBuf> = files
        .iter()
        .filter(|p| table_of(p).is_some_and(|t| not_read(t).is_none()))
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    files
        .into_iter()
        .filter(|p| {
            let Some(t) = table_of(p) else { return true };
            let Some(reason) = not_read(t) else {
                return true;
            };
            if p.parent().is_some_and(|d| cdm_folders.contains(d)) {
                notes.push(format!(
                    "{}: skipped (OMOP table {t} is not read: {reason})",
                    p.display()
                ));
                false
            } else {
                true
            }
        })
        .collect()
}

/// The folder key of a table file: its directory, canonical when possible.
pub(crate) fn folder_key(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// Which stage of a load reads the table: 0 `cdm_source`, `location` and
/// `care_site`; 1 `concept` and `person` (a person's location is a
/// residence); 2 `visit_occurrence` (its persons known; its visits give
/// their events a setting and provider); [`EVENT_STAGE`] the rest. The
/// tables of the stages before it are the reference tables, whose
/// [`Export`] the later stages see.
pub(crate) fn stage(table: Table) -> u8 {
    match table {
        Table::CdmSource | Table::Location | Table::CareSite => 0,
        Table::Concept | Table::Person => 1,
        Table::VisitOccurrence => 2,
        _ => EVENT_STAGE,
    }
}

/// The stage of the tables no other table needs.
pub(crate) const EVENT_STAGE: u8 = 3;

/// Recognises an OMOP table file: its name names a CDM table
/// (`PERSON.csv.gz`, ...) and its header (`,` or tab separated) confirms it
/// (see [`HeaderMatch::confirms`]); `forced` (`--format omop`) needs only
/// the name. `None` when it is not one (and not forced).
pub(crate) fn detect(
    path: &Path,
    header: &[u8],
    forced: bool,
) -> Option<Result<OmopLayout, IngestError>> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(table) = Table::from_file_name(name) else {
        return forced.then(|| {
            Err(IngestError::NotOmop {
                path: path.to_path_buf(),
                reason: "the file name names no CDM table (person.csv, CONDITION_OCCURRENCE.csv.gz, concept.tsv, drug_exposure.csv, ...)".to_owned(),
            })
        });
    };
    let delimiter = if header.contains(&b'\t') && !header.contains(&b',') {
        b'\t'
    } else {
        b','
    };
    let text = String::from_utf8_lossy(header);
    let names: Vec<&str> = text.split(delimiter as char).collect();
    let m = HeaderMatch::new(table, &names);
    let by_name_only =
        table.columns(CdmVersion::V5_4).is_none() && table.columns(CdmVersion::V5_3).is_none();
    if forced || m.confirms() || by_name_only {
        Some(Ok(OmopLayout {
            table,
            delimiter,
            parquet: false,
        }))
    } else {
        None
    }
}

/// Recognises a Parquet file (the `PAR1` magic) as an OMOP table: its name
/// names a CDM table (`person.parquet`, ...) and its schema's column names
/// confirm it as a CSV header would; `forced` needs only the name. Only
/// OMOP tables are read from Parquet, so anything else is an error naming
/// the file. Reads the file's footer (a damaged file fails here).
pub(crate) fn detect_parquet(path: &Path, forced: bool) -> Result<OmopLayout, IngestError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(table) = Table::from_file_name(name) else {
        return Err(IngestError::NotOmop {
            path: path.to_path_buf(),
            reason: "a Parquet file is read only as an OMOP CDM table, and the file name names none (person.parquet, CONDITION_OCCURRENCE.parquet, ...)".to_owned(),
        });
    };
    let names = parquet_columns(path)?;
    let m = HeaderMatch::new(table, &names);
    let by_name_only =
        table.columns(CdmVersion::V5_4).is_none() && table.columns(CdmVersion::V5_3).is_none();
    if forced || m.confirms() || by_name_only {
        Ok(OmopLayout {
            table,
            delimiter: b',',
            parquet: true,
        })
    } else {
        let shown: Vec<String> = names
            .iter()
            .take(8)
            .map(|n| crate::scrub::scrub(n, 40))
            .collect();
        Err(IngestError::NotOmop {
            path: path.to_path_buf(),
            reason: format!(
                "its Parquet columns ({}) do not confirm the CDM {table} table; --format omop reads it by its name",
                shown.join(", ")
            ),
        })
    }
}

/// A concept as the readers use it: halsohub system, normalised code, and
/// whether the code is in a loaded code list.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    system: Arc<str>,
    code: Box<str>,
    known: bool,
}

/// A Swedish region of a `location` row: the län code (`state`) and the
/// kommun code (`county`) when it lies in that län.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    region: Box<str>,
    municipality: Option<Box<str>>,
}

/// A `care_site` row: the provider code (`care_site_source_value`, else
/// `care_site_name`) and its `location_id`.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    provider: Option<Box<str>>,
    location: Option<i64>,
}

/// A `visit_occurrence` row as its events see it.
#[derive(Debug, Clone)]
pub(crate) struct Visit {
    person: i64,
    setting: Option<Setting>,
    care_site: Option<i64>,
}

/// What an event takes from its visit: setting, provider, provider region.
type VisitContext = (Option<Setting>, Option<String>, Option<String>);

/// What a reference table offers its folder's other tables.
#[derive(Debug)]
pub(crate) enum Export {
    /// `cdm_source`: the pseudonym scope of the data holder.
    Source(String),
    /// `concept`: concept id → code.
    Concepts(FastMap<i64, Resolved>),
    /// `person`: person id → pseudonym (`None`: the person row was
    /// rejected), and person id → the Swedish region of its `location_id`.
    Persons(FastMap<i64, Option<Pseudonym>>, FastMap<i64, Place>),
    /// `location`: location id → Swedish region (other locations are left
    /// out).
    Locations(FastMap<i64, Place>),
    /// `care_site`: care site id → provider and location.
    CareSites(FastMap<i64, Site>),
    /// `visit_occurrence`: visit id → person, setting, care site (visits
    /// with neither setting nor care site are left out).
    Visits(FastMap<i64, Visit>),
}

/// The reference data of one CDM folder.
#[derive(Debug, Default)]
pub(crate) struct Folder {
    scope: Option<String>,
    concepts: Option<FastMap<i64, Resolved>>,
    persons: Option<FastMap<i64, Option<Pseudonym>>>,
    /// person id → the Swedish region of the person's location.
    places: FastMap<i64, Place>,
    locations: FastMap<i64, Place>,
    care_sites: FastMap<i64, Site>,
    visits: FastMap<i64, Visit>,
}

/// Adds the entries of `new` whose keys `known` does not hold (the first
/// file's row wins).
fn merge_first<V>(known: &mut FastMap<i64, V>, new: FastMap<i64, V>) {
    if known.is_empty() {
        *known = new;
        return;
    }
    for (k, v) in new {
        known.entry(k).or_insert(v);
    }
}

impl Folder {
    /// The Swedish region of a location id.
    fn place(&self, location: Option<i64>) -> Option<&Place> {
        location.and_then(|l| self.locations.get(&l))
    }

    /// The provider code of a care site and the region of its location.
    fn site(&self, care_site: Option<i64>) -> (Option<String>, Option<String>) {
        let Some(site) = care_site.and_then(|c| self.care_sites.get(&c)) else {
            return (None, None);
        };
        (
            site.provider.as_deref().map(str::to_owned),
            self.place(site.location).map(|p| p.region.to_string()),
        )
    }
}

/// The reference data of every CDM folder of a load.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    folders: FastMap<PathBuf, Folder>,
}

impl Directory {
    /// Adds the export of a table in `folder`.
    pub(crate) fn add(&mut self, folder: PathBuf, export: Export) {
        let f = self.folders.entry(folder).or_default();
        match export {
            Export::Source(s) => {
                f.scope.get_or_insert(s);
            }
            Export::Concepts(c) => match &mut f.concepts {
                Some(known) => {
                    for (k, v) in c {
                        known.entry(k).or_insert(v);
                    }
                }
                None => f.concepts = Some(c),
            },
            Export::Persons(p, places) => {
                match &mut f.persons {
                    Some(known) => {
                        for (k, v) in p {
                            known.entry(k).or_insert(v);
                        }
                    }
                    None => f.persons = Some(p),
                }
                merge_first(&mut f.places, places);
            }
            Export::Locations(l) => merge_first(&mut f.locations, l),
            Export::CareSites(c) => merge_first(&mut f.care_sites, c),
            Export::Visits(v) => merge_first(&mut f.visits, v),
        }
    }

    fn folder(&self, key: &Path) -> Option<&Folder> {
        self.folders.get(key)
    }
}

/// The pseudonym scope of a folder without a `cdm_source` table.
fn folder_scope(key: &Path) -> String {
    let name = key
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    format!("omop-folder:{name}")
}

/// The scope of a data holder named by its `cdm_source` row.
fn source_scope(holder: &str, name: &str) -> String {
    format!(
        "omop:{}/{}",
        holder.trim().to_lowercase(),
        name.trim().to_lowercase()
    )
}

/// The OMOP table reader.
pub(crate) struct OmopReader;

/// One data row: fields by official column name, decoded and trimmed.
struct Row<'r> {
    record: &'r ByteRecord,
    header: &'r HeaderMatch,
    encoding: Encoding,
}

fn decode(raw: &[u8], encoding: Encoding) -> Cow<'_, str> {
    let s: Cow<'_, str> = match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(raw),
        Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0,
    };
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
    }
}

/// An integer as CDM exports write one (`123`, also `123.0`).
fn parse_int(t: &str) -> Option<i64> {
    let t = t.trim();
    let int = match t.split_once('.') {
        Some((i, f)) if !f.is_empty() && f.bytes().all(|b| b == b'0') => i,
        Some(_) => return None,
        None => t,
    };
    int.parse::<i64>().ok()
}

/// A CDM date (`YYYY-MM-DD`, `YYYYMMDD`); a time after it is ignored.
fn parse_date(t: &str) -> Result<NaiveDate, ValueError> {
    let d = t.split([' ', 'T']).next().unwrap_or(t);
    text::parse_date(d)
}

impl<'r> Row<'r> {
    /// The trimmed text of `column`, `None` when absent or empty.
    fn get(&self, column: &str) -> Option<Cow<'r, str>> {
        let i = self.header.position(column)?;
        let raw = self.record.get(i)?;
        let t = decode(raw, self.encoding);
        (!t.is_empty()).then_some(t)
    }

    fn required(&self, column: &str) -> Result<Cow<'r, str>, Reject> {
        self.get(column)
            .ok_or_else(|| Reject::new(why::MISSING_VALUE, column, "required value is empty"))
    }

    fn int(&self, column: &str) -> Result<Option<i64>, Reject> {
        match self.get(column) {
            None => Ok(None),
            Some(t) => parse_int(&t).map(Some).ok_or_else(|| {
                Reject::with_value(why::INVALID_NUMBER, column, "expected an integer", &t)
            }),
        }
    }

    fn required_int(&self, column: &str) -> Result<i64, Reject> {
        self.int(column)?
            .ok_or_else(|| Reject::new(why::MISSING_VALUE, column, "required value is empty"))
    }

    /// A concept id column: 0 when empty.
    fn concept(&self, column: &str) -> Result<i64, Reject> {
        Ok(self.int(column)?.unwrap_or(0))
    }

    fn number(&self, column: &str) -> Result<Option<f64>, Reject> {
        match self.get(column) {
            None => Ok(None),
            Some(t) => t
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Some)
                .ok_or_else(|| {
                    Reject::with_value(why::INVALID_NUMBER, column, "expected a number", &t)
                }),
        }
    }

    fn date_of(&self, column: &str, t: &str) -> Result<NaiveDate, Reject> {
        parse_date(t).map_err(|e| {
            let what = match e {
                ValueError::Shape(_) => "expected a date YYYY-MM-DD",
                ValueError::Impossible(w) => w,
            };
            Reject::with_value(why::INVALID_DATE, column, what, t)
        })
    }

    /// `<x>_date`, else the date of `<x>_datetime`; required.
    fn date(&self, column: &str, datetime: &str) -> Result<NaiveDate, Reject> {
        match self.get(column) {
            Some(t) => self.date_of(column, &t),
            None => match self.get(datetime) {
                Some(t) => self.date_of(datetime, &t),
                None => Err(Reject::new(
                    why::MISSING_VALUE,
                    column,
                    "required value is empty",
                )),
            },
        }
    }

    fn opt_date(&self, column: &str, datetime: &str) -> Result<Option<NaiveDate>, Reject> {
        match (self.get(column), self.get(datetime)) {
            (Some(t), _) => self.date_of(column, &t).map(Some),
            (None, Some(t)) => self.date_of(datetime, &t).map(Some),
            (None, None) => Ok(None),
        }
    }
}

/// Columns halsohub needs from each table it reads (a file without one of
/// them rejects every row as `omop.missing_column`).
fn needed(table: Table) -> &'static [&'static str] {
    match table {
        Table::CdmSource => &["cdm_source_name"],
        Table::Concept => &["concept_id", "vocabulary_id", "concept_code"],
        Table::Person => &["person_id", "year_of_birth"],
        Table::ObservationPeriod => &[
            "person_id",
            "observation_period_start_date",
            "observation_period_end_date",
        ],
        Table::VisitOccurrence => &["person_id", "visit_concept_id", "visit_start_date"],
        Table::ConditionOccurrence => {
            &["person_id", "condition_concept_id", "condition_start_date"]
        }
        Table::DrugExposure => &["person_id", "drug_concept_id", "drug_exposure_start_date"],
        Table::ProcedureOccurrence => &["person_id", "procedure_concept_id", "procedure_date"],
        Table::Measurement => &["person_id", "measurement_concept_id", "measurement_date"],
        Table::Observation => &["person_id", "observation_concept_id", "observation_date"],
        Table::Death => &["person_id", "death_date"],
        Table::Location => &["location_id"],
        Table::CareSite => &["care_site_id"],
        _ => &[],
    }
}

/// A code of an event, before it becomes one.
struct Code {
    system: Arc<str>,
    code: String,
    known: bool,
}

/// Per-file state of the table mapping.
struct Mapper<'f> {
    table: Table,
    folder: Option<&'f Folder>,
    scope: String,
    source: &'static str,
    /// Primary keys (or death persons) seen in this file.
    seen: FastSet<i64>,
    /// Rows whose primary key an earlier row of the file already had.
    reused_keys: u64,
    /// What this file exports (reference tables).
    concepts: FastMap<i64, Resolved>,
    persons: FastMap<i64, Option<Pseudonym>>,
    places: FastMap<i64, Place>,
    locations: FastMap<i64, Place>,
    care_sites: FastMap<i64, Site>,
    visits: FastMap<i64, Visit>,
    source_scope: Option<String>,
    systems: FastMap<String, Arc<str>>,
}

impl Reader for OmopReader {
    fn read(&self, input: &mut dyn Read, ctx: &mut FileCtx<'_>) -> Result<(), IngestError> {
        let Some(layout) = ctx.layout.omop.clone() else {
            return Err(IngestError::NotOmop {
                path: ctx.display.clone().into(),
                reason: "not detected as an OMOP table".to_owned(),
            });
        };
        let table = layout.table;
        if let Some(reason) = not_read(table) {
            return Err(IngestError::NotOmop {
                path: ctx.display.clone().into(),
                reason: format!(
                    "halsohub does not read the {table} table ({reason}); in a CDM folder it is skipped with a note"
                ),
            });
        }
        if layout.parquet {
            // Parquet needs seeking: the file is opened again by its path;
            // `input` is then read to its end only for the hash the caller
            // compares with the first pass.
            read_parquet(table, ctx)?;
            std::io::copy(input, &mut std::io::sink())
                .map(|_| ())
                .map_err(|e| IngestError::io(Path::new(&ctx.display), e))
        } else {
            read_delimited(&layout, input, ctx)
        }
    }
}

/// Reads a CSV/TSV table: the header record, then one [`TableRows::row`]
/// per record (its line number is the record's first line).
fn read_delimited(
    layout: &OmopLayout,
    input: &mut dyn Read,
    ctx: &mut FileCtx<'_>,
) -> Result<(), IngestError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(layout.delimiter)
        .quoting(layout.delimiter == b',')
        .buffer_capacity(256 * 1024)
        .from_reader(input);
    let mut record = ByteRecord::new();
    let display = ctx.display.clone();
    let csv_error = |e: csv::Error, line: u64| -> IngestError {
        let line = e.position().map_or(line, csv::Position::line);
        match e.into_kind() {
            csv::ErrorKind::Io(io) => super::read_error(&display, line, io),
            other => IngestError::Read {
                path: display.clone().into(),
                line,
                message: format!("not readable as CSV: {other:?}"),
            },
        }
    };
    match rdr.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => {
            return Err(IngestError::Read {
                path: ctx.display.clone().into(),
                line: 1,
                message: "the header line is missing".to_owned(),
            });
        }
        Err(e) => return Err(csv_error(e, 1)),
    }
    let names: Vec<String> = record
        .iter()
        .map(|f| decode(f, ctx.encoding).into_owned())
        .collect();
    let omop = ctx.omop;
    let mut rows = TableRows::new(layout.table, &names, layout.delimiter, omop, ctx);
    let mut last_line = 1u64;
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(e, last_line + 1)),
        }
        let line = record.position().map_or(last_line + 1, csv::Position::line);
        last_line = line;
        if record.len() == 1
            && record
                .get(0)
                .is_some_and(|f| f.iter().all(u8::is_ascii_whitespace))
        {
            continue; // a blank line
        }
        rows.row(line, &record, ctx)?;
    }
    rows.finish(ctx);
    Ok(())
}

/// Rows per Parquet record batch (bounded memory).
const PARQUET_BATCH: usize = 8 * 1024;

/// A Parquet file that cannot be decoded: a file-level error naming it.
fn parquet_damaged(path: &Path, what: impl std::fmt::Display) -> IngestError {
    IngestError::NotOmop {
        path: path.to_path_buf(),
        reason: format!("Parquet data is damaged or truncated: {what}"),
    }
}

/// Runs a call into the Parquet decoder, which is not hardened against
/// every malformed input: a panic in it becomes `Err` (a file-level error)
/// instead of taking the load down.
fn guarded<T, E: std::fmt::Display>(f: impl FnOnce() -> Result<T, E>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the Parquet decoder failed on it".to_owned()),
    }
}

/// Opens a Parquet file by path (the reader seeks to the footer) and reads
/// its metadata and schema.
fn open_parquet(
    path: &Path,
    display: &Path,
) -> Result<ParquetRecordBatchReaderBuilder<std::fs::File>, IngestError> {
    let file = std::fs::File::open(path).map_err(|e| IngestError::io(display, e))?;
    guarded(|| ParquetRecordBatchReaderBuilder::try_new(file))
        .map_err(|m| parquet_damaged(display, m))
}

/// The column names of a Parquet file's schema (checks its footer too).
pub(crate) fn parquet_columns(path: &Path) -> Result<Vec<String>, IngestError> {
    let builder = open_parquet(path, path)?;
    Ok(builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

/// Reads a Parquet table batch by batch: every column cast to text (nulls
/// empty), each row through [`TableRows::row`] with its 1-based row number
/// as its line.
fn read_parquet(table: Table, ctx: &mut FileCtx<'_>) -> Result<(), IngestError> {
    let display = PathBuf::from(&ctx.display);
    let builder = open_parquet(ctx.path, &display)?;
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut reader = guarded(|| builder.with_batch_size(PARQUET_BATCH).build())
        .map_err(|m| parquet_damaged(&display, m))?;
    let omop = ctx.omop;
    let mut rows = TableRows::new(table, &names, b',', omop, ctx);
    let mut record = ByteRecord::new();
    let mut line = 0u64;
    loop {
        let batch = match guarded(|| reader.next().transpose()) {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(m) => {
                return Err(parquet_damaged(
                    &display,
                    format_args!("reading from row {}: {m}", line + 1),
                ));
            }
        };
        let texts = batch
            .columns()
            .iter()
            .zip(&names)
            .map(|(c, name)| {
                arrow::compute::cast(c, &DataType::Utf8).map_err(|e| IngestError::NotOmop {
                    path: display.clone(),
                    reason: format!(
                        "Parquet column {} of type {} cannot be read as text: {e}",
                        crate::scrub::scrub(name, 40),
                        c.data_type()
                    ),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let texts: Vec<&StringArray> = texts
            .iter()
            .map(|a| {
                a.as_string_opt::<i32>()
                    .ok_or_else(|| parquet_damaged(&display, "a column cast to text is not text"))
            })
            .collect::<Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            line += 1;
            record.clear();
            for a in &texts {
                if r < a.len() && a.is_valid(r) {
                    record.push_field(a.value(r).as_bytes());
                } else {
                    record.push_field(b"");
                }
            }
            rows.row(line, &record, ctx)?;
        }
    }
    rows.finish(ctx);
    Ok(())
}

/// The row loop shared by CSV and Parquet: the header's match and notes,
/// the table mapping, duplicate rows; one call per data row.
struct TableRows<'f> {
    header: HeaderMatch,
    /// Columns halsohub needs that the header lacks.
    missing: Vec<&'static str>,
    delimiter: u8,
    mapper: Mapper<'f>,
    rows_seen: FastSet<u64>,
    joined: Vec<u8>,
}

impl<'f> TableRows<'f> {
    /// Matches the header `names` (the CSV header line, or the Parquet
    /// schema's fields) and notes its extra, lacking and repeated columns.
    fn new(
        table: Table,
        names: &[String],
        delimiter: u8,
        omop: &'f Directory,
        ctx: &mut FileCtx<'_>,
    ) -> Self {
        let header = HeaderMatch::new(table, names);
        let missing: Vec<&'static str> = needed(table)
            .iter()
            .copied()
            .filter(|c| header.position(c).is_none())
            .collect();
        if !header.extra.is_empty() {
            let extra: Vec<String> = header
                .extra
                .iter()
                .map(|e| crate::scrub::scrub(e, 40))
                .collect();
            ctx.notes.push(format!(
                "{}: columns not in the CDM {table} table ignored: {}",
                ctx.display,
                extra.join(", ")
            ));
        }
        let lacking: Vec<&str> = header
            .missing_required
            .iter()
            .copied()
            .filter(|c| !missing.contains(c))
            .collect();
        if !lacking.is_empty() {
            ctx.notes.push(format!(
                "{}: CDM {} requires column(s) the file lacks (not needed by halsohub): {}",
                ctx.display,
                header.version.map_or("", CdmVersion::as_str),
                lacking.join(", ")
            ));
        }
        if !header.duplicates.is_empty() {
            ctx.notes.push(format!(
                "{}: column(s) named twice, the first is read: {}",
                ctx.display,
                header.duplicates.join(", ")
            ));
        }
        let key = folder_key(ctx.path);
        let folder = omop.folder(&key);
        let scope = folder
            .and_then(|f| f.scope.clone())
            .unwrap_or_else(|| folder_scope(&key));
        TableRows {
            header,
            missing,
            delimiter,
            mapper: Mapper {
                table,
                folder,
                scope,
                source: source_name(table),
                seen: FastSet::default(),
                reused_keys: 0,
                concepts: FastMap::default(),
                persons: FastMap::default(),
                places: FastMap::default(),
                locations: FastMap::default(),
                care_sites: FastMap::default(),
                visits: FastMap::default(),
                source_scope: None,
                systems: FastMap::default(),
            },
            rows_seen: FastSet::default(),
            joined: Vec::with_capacity(256),
        }
    }

    /// One data row (`line`: its CSV line, or its Parquet row number).
    fn row(
        &mut self,
        line: u64,
        record: &ByteRecord,
        ctx: &mut FileCtx<'_>,
    ) -> Result<(), IngestError> {
        let table = self.mapper.table;
        ctx.report.rows_read += 1;
        if record.len() != self.header.width {
            let r = Reject::new(
                reject::WRONG_COLUMN_COUNT,
                "row",
                format!(
                    "expected {} fields separated by {:?} (as the header), found {}",
                    self.header.width,
                    self.delimiter as char,
                    record.len()
                ),
            );
            return ctx.reject(line, r, None);
        }
        self.joined.clear();
        for f in record.iter() {
            self.joined.extend_from_slice(f);
            self.joined.push(0x1f);
        }
        if !self
            .rows_seen
            .insert(twox_hash::XxHash3_64::oneshot(&self.joined))
        {
            let r = Reject::new(
                reject::DUPLICATE_ROW,
                "row",
                "exact duplicate of an earlier row of this file",
            );
            return ctx.reject(line, r, None);
        }
        if let Some(col) = self.missing.first() {
            let r = Reject::new(
                why::MISSING_COLUMN,
                col,
                format!("the file has no such column (the {table} table needs it)"),
            );
            return ctx.reject(line, r, None);
        }
        let row = Row {
            record,
            header: &self.header,
            encoding: ctx.encoding,
        };
        ctx.row.clear();
        match self.mapper.map(&row, ctx) {
            Ok(()) => ctx.accept(line),
            Err(r) => {
                let who = ctx.row.patient;
                ctx.reject(line, r, who)
            }
        }
    }

    /// After the last row: the note on reused keys and the export of a
    /// reference table.
    fn finish(mut self, ctx: &mut FileCtx<'_>) {
        let m = &mut self.mapper;
        let table = m.table;
        if m.reused_keys > 0 {
            ctx.notes.push(format!(
                "{}: {} row(s) reuse the {} of an earlier row with other content; the CDM key is not unique, but halsohub does not use it, so the rows are kept",
                ctx.display,
                m.reused_keys,
                table.primary_key().unwrap_or("id"),
            ));
        }
        ctx.omop_export = match table {
            Table::CdmSource => m.source_scope.take().map(Export::Source),
            Table::Concept => Some(Export::Concepts(std::mem::take(&mut m.concepts))),
            Table::Person => Some(Export::Persons(
                std::mem::take(&mut m.persons),
                std::mem::take(&mut m.places),
            )),
            Table::Location => Some(Export::Locations(std::mem::take(&mut m.locations))),
            Table::CareSite => Some(Export::CareSites(std::mem::take(&mut m.care_sites))),
            Table::VisitOccurrence => Some(Export::Visits(std::mem::take(&mut m.visits))),
            _ => None,
        };
    }
}

/// `Event::source` of a table's events.
fn source_name(table: Table) -> &'static str {
    match table {
        Table::VisitOccurrence => "omop_visit_occurrence",
        Table::ConditionOccurrence => "omop_condition_occurrence",
        Table::DrugExposure => "omop_drug_exposure",
        Table::ProcedureOccurrence => "omop_procedure_occurrence",
        Table::Measurement => "omop_measurement",
        Table::Observation => "omop_observation",
        Table::Death => "omop_death",
        Table::Person => "omop_person",
        _ => "omop",
    }
}

/// Whether text is shaped like a Swedish identity number (10 or 12 digits,
/// optionally with `-` or `+` before the last four).
fn looks_swedish(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits != 10 && digits != 12 {
        return false;
    }
    match b.len() - digits {
        0 => true,
        1 => b.len() >= 5 && matches!(b.get(b.len() - 5), Some(b'-' | b'+')),
        _ => false,
    }
}

fn event(
    patient: Pseudonym,
    domain: Domain,
    code: Option<&Code>,
    start: NaiveDate,
    source: &str,
) -> Event {
    let (system, code, known) = match code {
        Some(c) => (c.system.to_string(), c.code.clone(), c.known),
        None => (String::new(), String::new(), true),
    };
    Event::new(patient, domain, (system, code, known), start, source)
}

impl Mapper<'_> {
    fn system(&mut self, id: &str) -> Arc<str> {
        if let Some(s) = self.systems.get(id) {
            return s.clone();
        }
        let s: Arc<str> = Arc::from(id);
        self.systems.insert(id.to_owned(), s.clone());
        s
    }

    fn map(&mut self, row: &Row<'_>, ctx: &mut FileCtx<'_>) -> Result<(), Reject> {
        match self.table {
            Table::CdmSource => self.cdm_source(row),
            Table::Concept => self.concept(row, ctx),
            Table::Person => self.person(row, ctx),
            Table::ObservationPeriod => self.observation_period(row, ctx),
            Table::VisitOccurrence => self.visit(row, ctx),
            Table::ConditionOccurrence => self.clinical(row, ctx),
            Table::DrugExposure => self.clinical(row, ctx),
            Table::ProcedureOccurrence => self.clinical(row, ctx),
            Table::Measurement => self.clinical(row, ctx),
            Table::Observation => self.clinical(row, ctx),
            Table::Death => self.death(row, ctx),
            Table::Location => self.location(row),
            Table::CareSite => self.care_site(row),
            _ => Ok(()),
        }
    }

    /// Checks the primary key of an event table: it must be an integer
    /// when present; a repeat (with other content: exact repeats are
    /// `duplicate_row`) is counted, not rejected, since halsohub does not
    /// link by event ids (Eunomia numbers drug exposures from medications
    /// and from immunizations separately, so ids collide).
    fn key(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let Some(pk) = self.table.primary_key() else {
            return Ok(());
        };
        if let Some(id) = row.int(pk)?
            && !self.seen.insert(id)
        {
            self.reused_keys += 1;
        }
        Ok(())
    }

    /// The person of the row's `person_id`.
    fn patient(&self, row: &Row<'_>, ctx: &mut FileCtx<'_>) -> Result<Pseudonym, Reject> {
        let id = row.required_int("person_id")?;
        let persons = self.folder.and_then(|f| f.persons.as_ref());
        let Some(persons) = persons else {
            return Err(Reject::new(
                why::UNKNOWN_PERSON,
                "person_id",
                "the folder has no person table to look the person up in",
            ));
        };
        match persons.get(&id) {
            Some(Some(p)) => {
                ctx.row.patient = Some(*p);
                Ok(*p)
            }
            Some(None) => Err(Reject::new(
                why::PERSON_REJECTED,
                "person_id",
                "the person's row in the person table was rejected",
            )),
            None => Err(Reject::new(
                why::UNKNOWN_PERSON,
                "person_id",
                format!("{id} is not in the person table"),
            )),
        }
    }

    fn cdm_source(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let name = row.required("cdm_source_name")?;
        if self.source_scope.is_some() {
            return Err(Reject::new(
                why::DUPLICATE_ID,
                "row",
                "cdm_source holds one row; the first names the data holder",
            ));
        }
        let holder = row.get("cdm_holder").unwrap_or_default();
        self.source_scope = Some(source_scope(&holder, &name));
        Ok(())
    }

    fn concept(&mut self, row: &Row<'_>, ctx: &FileCtx<'_>) -> Result<(), Reject> {
        let id = row.required_int("concept_id")?;
        if !self.seen.insert(id) {
            return Err(Reject::new(
                why::DUPLICATE_ID,
                "concept_id",
                "the same id as an earlier row of this file",
            ));
        }
        let vocabulary = row.required("vocabulary_id")?;
        let code = row.required("concept_code")?;
        let Some(system_id) = system_for_vocabulary(&vocabulary) else {
            // Vocabulary "None" (concept 0, "No matching concept").
            return Ok(());
        };
        let (code, known) = normalise(ctx, &system_id, &code)
            .map_err(|w| Reject::with_value(why::INVALID_CODE, "concept_code", w, &code))?;
        let system = self.system(&system_id);
        self.concepts.insert(
            id,
            Resolved {
                system,
                code: code.into_boxed_str(),
                known,
            },
        );
        Ok(())
    }

    fn person(&mut self, row: &Row<'_>, ctx: &mut FileCtx<'_>) -> Result<(), Reject> {
        let id = row.required_int("person_id")?;
        if !self.seen.insert(id) {
            return Err(Reject::new(
                why::DUPLICATE_ID,
                "person_id",
                "the same person_id as an earlier row of this file",
            ));
        }
        // A rejected person row makes the person's events
        // `omop.person_rejected`; replaced below when it is accepted.
        self.persons.insert(id, None);
        let source_value = row.get("person_source_value");
        let (patient, guessed) = match source_value.as_deref() {
            Some(t) if looks_swedish(t) => {
                let r = ctx
                    .ids
                    .get(t)
                    .map_err(|e| Reject::identity("person_source_value", &e))?;
                (r.person, r.century_guessed)
            }
            _ => (ctx.ids.scoped(&self.scope, &id.to_string()), false),
        };
        ctx.row.patient = Some(patient);
        ctx.row.century_guessed = guessed;
        let sex = sex_of_gender(row.concept("gender_concept_id")?);
        let birth = match row.get("birth_datetime") {
            Some(t) => Some(row.date_of("birth_datetime", &t)?),
            // The CDM requires a year of birth, but a holder that does not
            // know it (and a halsohub export of such a person) leaves it
            // empty: the person and their events are kept, birth unknown.
            None if row.get("year_of_birth").is_none() => None,
            None => {
                let year = row.required_int("year_of_birth")?;
                let month = row.int("month_of_birth")?;
                let day = row.int("day_of_birth")?;
                let (m, d) = match (month, day) {
                    (None, _) => (7, 1),
                    (Some(m), None) => (m, 15),
                    (Some(m), Some(d)) => (m, d),
                };
                ctx.row.imputed_date = month.is_none() || day.is_none();
                let ok = (i64::from(MIN_YEAR)..=i64::from(MAX_YEAR)).contains(&year)
                    && (1..=12).contains(&m)
                    && (1..=31).contains(&d);
                let date = ok
                    .then(|| NaiveDate::from_ymd_opt(year as i32, m as u32, d as u32))
                    .flatten();
                Some(date.ok_or_else(|| {
                    Reject::new(
                        why::INVALID_DATE,
                        "year_of_birth",
                        format!("{year}-{m:02}-{d:02} (year, month_of_birth, day_of_birth) is not a date"),
                    )
                })?)
            }
        };
        // The person's location, when a Swedish region: their residence
        // over each of their observation periods (read later).
        let location = row.int("location_id")?;
        if let Some(place) = self.folder.and_then(|f| f.place(location)) {
            self.places.insert(id, place.clone());
        }
        ctx.row.person = Some(Person {
            patient,
            sex,
            birth_date: birth,
            death_date: None,
        });
        self.persons.insert(id, Some(patient));
        Ok(())
    }

    /// An `observation_period` row: validated; for a person whose
    /// location is a Swedish region, the residence in that region over the
    /// period (the CDM holds one location per person, not its history).
    fn observation_period(&mut self, row: &Row<'_>, ctx: &mut FileCtx<'_>) -> Result<(), Reject> {
        self.key(row)?;
        let patient = self.patient(row, ctx)?;
        let start = row.date(
            "observation_period_start_date",
            "observation_period_start_date",
        )?;
        let end = row.date("observation_period_end_date", "observation_period_end_date")?;
        ends_after(start, Some(end), "observation_period_end_date")?;
        let place = self
            .folder
            .zip(row.int("person_id")?)
            .and_then(|(f, id)| f.places.get(&id));
        if let Some(place) = place {
            ctx.row.residences.push(Residence {
                patient,
                region: place.region.to_string(),
                municipality: place.municipality.as_deref().map(str::to_owned),
                from: start,
                // Residence ends are exclusive, period ends inclusive.
                to: end.succ_opt(),
            });
        }
        Ok(())
    }

    /// A `location` row: a Swedish region when `state` (else `county`) is
    /// a län code and the country, if given, is Sweden; other locations
    /// are accepted and left out.
    fn location(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let id = row.required_int("location_id")?;
        if !self.seen.insert(id) {
            return Err(Reject::new(
                why::DUPLICATE_ID,
                "location_id",
                "the same id as an earlier row of this file",
            ));
        }
        let sweden = row.get("country_source_value").is_none_or(|c| {
            ["se", "swe", "sweden", "sverige"].contains(&c.to_lowercase().as_str())
        });
        if !sweden {
            return Ok(());
        }
        let is_lan = |t: &Cow<'_, str>| LAN_CODES.contains(&t.as_ref());
        let (region, municipality) = match row.get("state").filter(is_lan) {
            Some(r) => (r, row.get("county")),
            None => match row.get("county").filter(is_lan) {
                Some(r) => (r, None),
                None => return Ok(()),
            },
        };
        let municipality = municipality
            .filter(|m| text::is_digits(m, 4) && m.starts_with(region.as_ref()))
            .map(|m| m.as_ref().into());
        self.locations.insert(
            id,
            Place {
                region: region.as_ref().into(),
                municipality,
            },
        );
        Ok(())
    }

    /// A `care_site` row: its provider code and location.
    fn care_site(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let id = row.required_int("care_site_id")?;
        if !self.seen.insert(id) {
            return Err(Reject::new(
                why::DUPLICATE_ID,
                "care_site_id",
                "the same id as an earlier row of this file",
            ));
        }
        let provider = row
            .get("care_site_source_value")
            .or_else(|| row.get("care_site_name"))
            .map(|p| p.as_ref().into());
        let location = row.int("location_id")?;
        self.care_sites.insert(id, Site { provider, location });
        Ok(())
    }

    /// The setting and provider (with its region) an event takes from its
    /// `visit_occurrence_id`: the folder's visit of the same person.
    fn visit_of(&self, row: &Row<'_>) -> Result<VisitContext, Reject> {
        let none = (None, None, None);
        let Some(id) = row.int("visit_occurrence_id")? else {
            return Ok(none);
        };
        let (Some(folder), Some(person)) = (self.folder, row.int("person_id")?) else {
            return Ok(none);
        };
        let Some(v) = folder.visits.get(&id).filter(|v| v.person == person) else {
            return Ok(none);
        };
        let (provider, region) = folder.site(v.care_site);
        Ok((v.setting, provider, region))
    }

    fn visit(&mut self, row: &Row<'_>, ctx: &mut FileCtx<'_>) -> Result<(), Reject> {
        self.key(row)?;
        let patient = self.patient(row, ctx)?;
        let start = row.date("visit_start_date", "visit_start_datetime")?;
        let end = row.opt_date("visit_end_date", "visit_end_datetime")?;
        ends_after(start, end, "visit_end_date")?;
        let setting = setting_of_visit_row(
            row.concept("visit_concept_id")?,
            row.get("visit_source_value").as_deref(),
        );
        let care_site = row.int("care_site_id")?;
        let (provider, region) = self.folder.map_or((None, None), |f| f.site(care_site));
        let mut e = event(patient, Domain::Encounter, None, start, self.source);
        e.end = end;
        e.setting = setting;
        e.provider = provider;
        e.provider_region = region;
        ctx.row.events.push(e);
        if let Some(id) = row.int("visit_occurrence_id")?
            && (setting.is_some() || care_site.is_some())
        {
            let person = row.required_int("person_id")?;
            self.visits.entry(id).or_insert(Visit {
                person,
                setting,
                care_site,
            });
        }
        Ok(())
    }

    /// The codes of a row: the source concept first (it carries the
    /// original code, e.g. ICD10CM K92.2), then the standard concept (e.g.
    /// SNOMED 192671), each once.
    fn codes(
        &self,
        row: &Row<'_>,
        concept: &str,
        source: &str,
        ctx: &mut FileCtx<'_>,
    ) -> Result<Vec<Code>, Reject> {
        let ids = [row.concept(source)?, row.concept(concept)?];
        let mut out: Vec<Code> = Vec::with_capacity(2);
        for id in ids {
            let Some(c) = self.resolve(id) else { continue };
            if out.iter().any(|o| o.system == c.system && o.code == c.code) {
                continue;
            }
            if !c.known {
                ctx.row.unknown.push(format!("{}:{}", c.system, c.code));
            }
            out.push(c);
        }
        if out.is_empty() {
            return Err(Reject::new(
                why::MISSING_CONCEPT,
                concept,
                format!(
                    "{concept} and {source} are 0 or empty (no concept); a source value alone has no code system"
                ),
            ));
        }
        Ok(out)
    }

    /// A concept id as a code: resolved through the folder's concept
    /// table, else `omop` + the id (flagged unknown). `None` for 0.
    fn resolve(&self, id: i64) -> Option<Code> {
        if id == 0 {
            return None;
        }
        match self
            .folder
            .and_then(|f| f.concepts.as_ref())
            .and_then(|c| c.get(&id))
        {
            Some(r) => Some(Code {
                system: r.system.clone(),
                code: r.code.to_string(),
                known: r.known,
            }),
            None => Some(Code {
                system: Arc::from(OMOP_CONCEPT_SYSTEM),
                code: id.to_string(),
                known: false,
            }),
        }
    }

    fn clinical(&mut self, row: &Row<'_>, ctx: &mut FileCtx<'_>) -> Result<(), Reject> {
        self.key(row)?;
        let patient = self.patient(row, ctx)?;
        let (prefix, date, datetime, end_cols) = match self.table {
            Table::ConditionOccurrence => (
                "condition",
                "condition_start_date",
                "condition_start_datetime",
                Some(("condition_end_date", "condition_end_datetime")),
            ),
            Table::DrugExposure => (
                "drug",
                "drug_exposure_start_date",
                "drug_exposure_start_datetime",
                Some(("drug_exposure_end_date", "drug_exposure_end_datetime")),
            ),
            Table::ProcedureOccurrence => (
                "procedure",
                "procedure_date",
                "procedure_datetime",
                Some(("procedure_end_date", "procedure_end_datetime")),
            ),
            Table::Measurement => (
                "measurement",
                "measurement_date",
                "measurement_datetime",
                None,
            ),
            _ => (
                "observation",
                "observation_date",
                "observation_datetime",
                None,
            ),
        };
        let start = row.date(date, datetime)?;
        let end = match end_cols {
            Some((d, dt)) => {
                let end = row.opt_date(d, dt)?;
                ends_after(start, end, d)?;
                end
            }
            None => None,
        };
        let concept_col = format!("{prefix}_concept_id");
        let source_col = format!("{prefix}_source_concept_id");
        let codes = self.codes(row, &concept_col, &source_col, ctx)?;
        let (setting, provider, provider_region) = self.visit_of(row)?;
        let mut domain = match self.table {
            Table::ConditionOccurrence => Domain::Diagnosis,
            Table::ProcedureOccurrence => Domain::Procedure,
            Table::Measurement => Domain::LabResult,
            Table::Observation => Domain::Observation,
            _ => Domain::PrescribedDrug,
        };
        let mut primary = None;
        let mut quantity = None;
        match self.table {
            Table::ConditionOccurrence => {
                primary = primary_of_condition_status(row.concept("condition_status_concept_id")?);
            }
            Table::DrugExposure => {
                domain = drug_domain(row.concept("drug_type_concept_id")?).0;
                quantity = row.number("quantity")?.filter(|q| *q > 0.0);
            }
            _ => {}
        }
        let valued = matches!(self.table, Table::Measurement | Table::Observation);
        let mut value = None;
        let mut comparator: Option<Comparator> = None;
        let mut unit: Option<String> = None;
        let mut value_code: Option<Code> = None;
        let mut value_text: Option<String> = None;
        if valued {
            value = row.number("value_as_number")?;
            if self.table == Table::Measurement {
                let op = row.concept("operator_concept_id")?;
                comparator = comparator_of_operator(op).ok_or_else(|| {
                    Reject::new(
                        why::UNKNOWN_OPERATOR,
                        "operator_concept_id",
                        format!("{op} is not one of the operator concepts <, <=, =, >=, >"),
                    )
                })?;
            }
            if value.is_some() {
                unit = self.unit(row)?;
            }
            value_code = self.resolve(row.concept("value_as_concept_id")?);
            value_text = row.get("value_as_string").map(|t| t.into_owned());
        }
        for c in &codes {
            let mut e = event(patient, domain, Some(c), start, self.source);
            e.end = end;
            e.primary = primary;
            e.quantity = quantity;
            e.setting = setting;
            e.provider.clone_from(&provider);
            e.provider_region.clone_from(&provider_region);
            if let Some(v) = value {
                let (v, u) = convert(c, v, unit.as_deref())?;
                e.value = Some(v);
                e.unit = u;
                e.comparator = comparator;
            }
            if let Some(vc) = &value_code {
                e.value_system = Some(vc.system.to_string());
                e.value_code = Some(vc.code.clone());
            }
            e.value_text.clone_from(&value_text);
            ctx.row.events.push(e);
        }
        Ok(())
    }

    /// The written unit of a value: the unit concept's code (UCUM), else
    /// `unit_source_value`.
    fn unit(&self, row: &Row<'_>) -> Result<Option<String>, Reject> {
        let id = row.concept("unit_concept_id")?;
        if let Some(c) = self.resolve(id)
            && &*c.system != OMOP_CONCEPT_SYSTEM
        {
            return Ok(Some(c.code));
        }
        Ok(row.get("unit_source_value").map(|u| u.into_owned()))
    }

    fn death(&mut self, row: &Row<'_>, ctx: &mut FileCtx<'_>) -> Result<(), Reject> {
        let patient = self.patient(row, ctx)?;
        let id = row.required_int("person_id")?;
        let date = row.date("death_date", "death_datetime")?;
        if !self.seen.insert(id) {
            return Err(Reject::new(
                why::DUPLICATE_ID,
                "person_id",
                "a second death row for the person",
            ));
        }
        let mut codes = Vec::new();
        for col in ["cause_source_concept_id", "cause_concept_id"] {
            if let Some(c) = self.resolve(row.concept(col)?)
                && !codes
                    .iter()
                    .any(|o: &Code| o.system == c.system && o.code == c.code)
            {
                if !c.known {
                    ctx.row.unknown.push(format!("{}:{}", c.system, c.code));
                }
                codes.push(c);
            }
        }
        if codes.is_empty() {
            ctx.row
                .events
                .push(event(patient, Domain::Death, None, date, self.source));
        }
        for c in &codes {
            let mut e = event(patient, Domain::Death, Some(c), date, self.source);
            e.primary = Some(true);
            ctx.row.events.push(e);
        }
        ctx.row.person = Some(Person {
            patient,
            sex: None,
            birth_date: None,
            death_date: Some(date),
        });
        Ok(())
    }
}

fn ends_after(start: NaiveDate, end: Option<NaiveDate>, column: &str) -> Result<(), Reject> {
    match end {
        Some(e) if e < start => Err(Reject::new(
            why::PERIOD_ENDS_BEFORE_START,
            column,
            "ends before the start date",
        )),
        _ => Ok(()),
    }
}

/// A concept code normalised for its halsohub system.
fn normalise(ctx: &FileCtx<'_>, system_id: &str, raw: &str) -> Result<(String, bool), String> {
    if system_id == "icd10gm" {
        // ICD-10-GM: ICD-10 normalisation, the `!` marker dropped (as for
        // FHIR); there is no ICD-10-GM code list.
        let t = raw.trim().trim_end_matches('!');
        return ctx
            .coder
            .code_in(&System::Icd10Se, t)
            .map(|(c, _)| (c, false))
            .map_err(|w| w.replace("ICD-10-SE", "ICD-10-GM"));
    }
    let system = System::parse(system_id).unwrap_or(System::Other(system_id.to_owned()));
    ctx.coder.code_in(&system, raw)
}

/// The value of an event in its analyte's canonical unit (halsohub's lab
/// analytes), else in the written unit (UCUM spelling when known). A known
/// analyte needs a unit.
fn convert(code: &Code, value: f64, unit: Option<&str>) -> Result<(f64, Option<String>), Reject> {
    let system = System::parse(&code.system).unwrap_or(System::Other(code.system.to_string()));
    let Some(unit) = unit else {
        if let Some(a) = units::analyte_for(&system, &code.code) {
            return Err(Reject::new(
                why::VALUE_WITHOUT_UNIT,
                "unit_concept_id",
                format!(
                    "a value of {} needs a unit (unit_concept_id and unit_source_value are empty)",
                    a.id
                ),
            ));
        }
        return Ok((value, None));
    };
    match units::to_canonical(&system, &code.code, value, unit) {
        Ok((v, u)) => Ok((v, Some(u.to_owned()))),
        Err(UnitError::UnknownAnalyte { .. }) => Ok((
            value,
            Some(
                units::normalise_unit(unit)
                    .map(str::to_owned)
                    .unwrap_or_else(|_| unit.trim().to_owned()),
            ),
        )),
        Err(e) => Err(Reject::with_value(
            why::INCOMPATIBLE_UNIT,
            "unit_concept_id",
            e,
            unit,
        )),
    }
}

/// Unused-column summary for tests and docs: the needed columns per table.
#[cfg(test)]
pub(crate) fn needed_columns() -> std::collections::BTreeMap<&'static str, &'static [&'static str]>
{
    Table::ALL
        .into_iter()
        .filter(|t| not_read(*t).is_none())
        .map(|t| (t.name(), needed(t)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_dates_and_shapes() {
        assert_eq!(parse_int("10204.0"), Some(10204));
        assert_eq!(parse_int(" 7 "), Some(7));
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_int("1."), None);
        assert_eq!(parse_int("x"), None);
        assert!(parse_date("2015-10-02 00:00:00").is_ok());
        assert!(parse_date("2015-02-30").is_err());
        assert!(looks_swedish("19121212-1212"));
        assert!(looks_swedish("191212121212"));
        assert!(looks_swedish("121212+1212"));
        assert!(!looks_swedish("001f4a87-70d0-435c-a4b9-1425f6928d33"));
        assert!(!looks_swedish("12345"));
        assert_eq!(
            halsohub_omop::header::normalise_name("PERSON_ID"),
            "person_id"
        );
    }

    #[test]
    fn every_read_table_needs_columns_it_defines() {
        for (name, cols) in needed_columns() {
            let t = Table::from_name(name).unwrap_or(Table::Cost);
            assert!(!cols.is_empty(), "{name}");
            for c in cols {
                let in_any = CdmVersion::ALL.iter().any(|v| t.column(*v, c).is_some());
                assert!(in_any, "{name}.{c}");
            }
        }
    }

    #[test]
    fn detection_by_name_and_header() {
        let p = Path::new("/x/PERSON.csv.gz");
        let l = detect(p, b"PERSON_ID,GENDER_CONCEPT_ID,YEAR_OF_BIRTH", false);
        assert!(matches!(
            l,
            Some(Ok(OmopLayout {
                table: Table::Person,
                delimiter: b',',
                parquet: false,
            }))
        ));
        let l = detect(
            Path::new("concept.csv"),
            b"concept_id\tconcept_name\tvocabulary_id",
            false,
        );
        assert!(matches!(
            l,
            Some(Ok(OmopLayout {
                delimiter: b'\t',
                ..
            }))
        ));
        assert!(detect(Path::new("person.csv"), b"PERSONNR;KON", false).is_none());
        assert!(detect(Path::new("lab.tsv"), b"a,b", false).is_none());
        assert!(matches!(
            detect(Path::new("lab.tsv"), b"a,b", true),
            Some(Err(_))
        ));
        assert!(matches!(
            detect(Path::new("person.csv"), b"a,b", true),
            Some(Ok(_))
        ));
    }

    #[test]
    fn unread_tables_in_a_cdm_folder_are_skipped() {
        let files = vec![
            PathBuf::from("/d/PERSON.csv.gz"),
            PathBuf::from("/d/CONDITION_ERA.csv.gz"),
            PathBuf::from("/d/notes.txt"),
            PathBuf::from("/e/drug_era.csv"),
        ];
        let mut notes = Vec::new();
        let kept = skip_unread(files, &mut notes, None);
        assert_eq!(kept.len(), 3);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("condition_era"), "{notes:?}");
    }
}
