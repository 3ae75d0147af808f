//! OMOP CDM 5.4 tables (CSV or Parquet) with the official lower-case table
//! and column names in the official column order (from `halsohub-omop`).
//!
//! There is no licensed OMOP vocabulary in the hub, so every halsohub code
//! gets a locally minted concept (id ≥ 2 000 000 000, derived from
//! vocabulary and code) written to `concept`, in both the `*_concept_id`
//! and the `*_source_concept_id` column; `*_source_value` carries the code
//! itself and `vocabulary` lists the vocabularies used. Fixed concepts the
//! CDM prescribes (gender, visit, type, operator, condition status, CDM
//! version) are the standard OMOP ids.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{Datelike, NaiveDate};
use halsohub_codes::System;
use halsohub_omop::concept::{
    condition_status, drug_type_of_domain, gender_of_sex, operator_of_comparator, visit_of_setting,
};
use halsohub_omop::{CdmVersion, Column, ColumnType, Table, VOCABULARIES, omop_domain};
use halsohub_store::Domain;
use halsohub_store::columns::days_from_date;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};

use crate::data::{Ev, PersonOut, Strings, encounter_links};
use crate::error::{ExportError, io, write_err};
use crate::{FileSummary, Summary};

/// The CDM version written.
pub const CDM_VERSION: CdmVersion = CdmVersion::V5_4;
/// `cdm_source.cdm_version_concept_id` of CDM v5.4.
pub const CDM_V54_CONCEPT: i64 = 756_265;
/// First locally minted concept id (the OMOP convention for local concepts).
pub const LOCAL_CONCEPT_BASE: i64 = 2_000_000_000;
const LOCAL_CONCEPT_SPAN: i64 = i32::MAX as i64 - LOCAL_CONCEPT_BASE + 1;
/// Type concept `EHR` (records from FHIR or OMOP sources).
pub const TYPE_EHR: i64 = 32_817;
/// Type concept `Registry` (records from Swedish registers).
pub const TYPE_REGISTRY: i64 = 32_879;

/// The tables written, in file order.
pub const TABLES: [Table; 14] = [
    Table::Person,
    Table::ObservationPeriod,
    Table::VisitOccurrence,
    Table::ConditionOccurrence,
    Table::DrugExposure,
    Table::ProcedureOccurrence,
    Table::Measurement,
    Table::Observation,
    Table::Death,
    Table::Location,
    Table::CareSite,
    Table::Concept,
    Table::Vocabulary,
    Table::CdmSource,
];

/// The type concept of an event by its source kind.
fn type_concept(source: &str) -> i64 {
    if source.starts_with("fhir") || source.starts_with("omop") {
        TYPE_EHR
    } else {
        TYPE_REGISTRY
    }
}

/// The OMOP vocabulary of a halsohub system: a local (non-Athena)
/// vocabulary where `halsohub-omop` has one (`ICD10SE`, `NPU`, `KVA`),
/// else its Athena vocabulary, else the system id itself when it reads
/// back as the same system, else `HH` and a digest of the system id.
pub fn vocabulary_of(system: &str) -> String {
    if let Some(r) = VOCABULARIES
        .iter()
        .find(|r| r.system == system && !r.athena)
    {
        return r.vocabulary_id.to_owned();
    }
    if let Some(v) = halsohub_omop::vocabulary_for_system(system) {
        return v.to_owned();
    }
    let back = halsohub_omop::system_for_vocabulary(system);
    if system.len() <= 20 && back.as_deref() == Some(system) {
        return system.to_owned();
    }
    let digest = Sha256::digest(system.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("HH{hex}")
}

/// The locally minted concept id of (vocabulary, code) before collisions
/// are resolved: 2 000 000 000 plus a digest, below 2³¹.
pub fn local_concept_id(vocabulary: &str, code: &str) -> i64 {
    let mut h = Sha256::new();
    h.update(vocabulary.as_bytes());
    h.update([0u8]);
    h.update(code.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    for (o, x) in b.iter_mut().zip(d.iter()) {
        *o = *x;
    }
    LOCAL_CONCEPT_BASE + (u64::from_be_bytes(b) % LOCAL_CONCEPT_SPAN as u64) as i64
}

/// A value of one cell.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Int(i64),
    Float(f64),
    Date(NaiveDate),
    Str(String),
}

fn str_val(s: &str) -> Val {
    Val::Str(s.to_owned())
}

fn opt_str(s: Option<&str>) -> Val {
    s.filter(|s| !s.is_empty()).map_or(Val::Null, str_val)
}

enum Builder {
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
    Str(StringBuilder),
}

enum Sink {
    Csv(arrow::csv::Writer<BufWriter<File>>),
    Parquet(ArrowWriter<File>),
}

const BATCH_ROWS: usize = 64 * 1024;

/// One table being written.
struct TableOut {
    table: Table,
    cols: &'static [Column],
    schema: SchemaRef,
    builders: Vec<Builder>,
    row: Vec<Val>,
    pending: usize,
    rows: u64,
    path: PathBuf,
    sink: Option<Sink>,
}

fn arrow_type(k: ColumnType) -> DataType {
    match k {
        ColumnType::Integer => DataType::Int32,
        ColumnType::BigInt => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Date => DataType::Date32,
        ColumnType::DateTime => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::Varchar(_) => DataType::Utf8,
    }
}

fn builder(k: ColumnType) -> Builder {
    match k {
        ColumnType::Integer => Builder::I32(Int32Builder::new()),
        ColumnType::BigInt => Builder::I64(Int64Builder::new()),
        ColumnType::Float => Builder::F64(Float64Builder::new()),
        ColumnType::Date => Builder::Date(Date32Builder::new()),
        ColumnType::DateTime => Builder::Ts(TimestampMicrosecondBuilder::new()),
        ColumnType::Varchar(_) => Builder::Str(StringBuilder::new()),
    }
}

/// Required columns left empty when the hub does not know the value
/// rather than written with an invented one: `year_of_birth` of a person
/// without a known birth date (docs/export.md).
fn unknown_allowed(column: &str) -> bool {
    column == "year_of_birth"
}

/// `s` cut to at most `n` characters.
fn cut(s: &str, n: u32) -> &str {
    match s.char_indices().nth(n as usize) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

impl TableOut {
    fn new(dir: &Path, table: Table, parquet: bool) -> Result<TableOut, ExportError> {
        let cols = table
            .columns(CDM_VERSION)
            .ok_or_else(|| ExportError::Invalid {
                what: "omop",
                message: format!("no CDM {CDM_VERSION} column list for table {table}"),
            })?;
        let schema: SchemaRef = Arc::new(Schema::new(
            cols.iter()
                .map(|c| {
                    Field::new(
                        c.name,
                        arrow_type(c.kind),
                        !c.required || unknown_allowed(c.name),
                    )
                })
                .collect::<Vec<_>>(),
        ));
        let ext = if parquet { "parquet" } else { "csv" };
        let path = dir.join(format!("{}.{ext}", table.name()));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io(&path))?;
        let sink = if parquet {
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::default()))
                .build();
            Sink::Parquet(
                ArrowWriter::try_new(f, schema.clone(), Some(props))
                    .map_err(|e| write_err(&path, e))?,
            )
        } else {
            Sink::Csv(
                arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(BufWriter::with_capacity(1 << 20, f)),
            )
        };
        Ok(TableOut {
            table,
            cols,
            schema,
            builders: cols.iter().map(|c| builder(c.kind)).collect(),
            row: vec![Val::Null; cols.len()],
            pending: 0,
            rows: 0,
            path,
            sink: Some(sink),
        })
    }

    fn set(&mut self, name: &str, v: Val) -> Result<(), ExportError> {
        let i = self
            .cols
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| {
                write_err(
                    &self.path,
                    format!("table {} has no column `{name}`", self.table),
                )
            })?;
        if let Some(slot) = self.row.get_mut(i) {
            *slot = v;
        }
        Ok(())
    }

    /// Appends the row set so far (unset columns null) and starts a new one.
    fn end_row(&mut self) -> Result<(), ExportError> {
        for ((c, b), v) in self.cols.iter().zip(&mut self.builders).zip(&mut self.row) {
            let v = std::mem::replace(v, Val::Null);
            if c.required && v == Val::Null && !unknown_allowed(c.name) {
                return Err(write_err(
                    &self.path,
                    format!("required column `{}` has no value", c.name),
                ));
            }
            let bad = |what: &str| {
                write_err(
                    &self.path,
                    format!("column `{}`: {what} does not fit its type", c.name),
                )
            };
            match (b, v) {
                (Builder::I32(b), Val::Int(x)) => {
                    b.append_value(i32::try_from(x).map_err(|_| bad(&x.to_string()))?)
                }
                (Builder::I32(b), Val::Null) => b.append_null(),
                (Builder::I64(b), Val::Int(x)) => b.append_value(x),
                (Builder::I64(b), Val::Null) => b.append_null(),
                (Builder::F64(b), Val::Float(x)) => b.append_value(x),
                (Builder::F64(b), Val::Int(x)) => b.append_value(x as f64),
                (Builder::F64(b), Val::Null) => b.append_null(),
                (Builder::Date(b), Val::Date(d)) => b.append_value(days_from_date(d)),
                (Builder::Date(b), Val::Null) => b.append_null(),
                (Builder::Ts(b), Val::Date(d)) => {
                    b.append_value(i64::from(days_from_date(d)) * 86_400_000_000)
                }
                (Builder::Ts(b), Val::Null) => b.append_null(),
                (Builder::Str(b), Val::Str(s)) => match c.kind {
                    ColumnType::Varchar(Some(n)) => b.append_value(cut(&s, n)),
                    _ => b.append_value(&s),
                },
                (Builder::Str(b), Val::Int(x)) => b.append_value(x.to_string()),
                (Builder::Str(b), Val::Null) => b.append_null(),
                (_, other) => return Err(bad(&format!("{other:?}"))),
            }
        }
        self.pending += 1;
        self.rows += 1;
        if self.pending >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        let cols: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::I32(b) => Arc::new(b.finish()),
                    Builder::I64(b) => Arc::new(b.finish()),
                    Builder::F64(b) => Arc::new(b.finish()),
                    Builder::Date(b) => Arc::new(b.finish()),
                    Builder::Ts(b) => Arc::new(b.finish()),
                    Builder::Str(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), cols)
            .map_err(|e| write_err(&self.path, e))?;
        self.pending = 0;
        match self.sink.as_mut() {
            Some(Sink::Csv(w)) => w.write(&batch).map_err(|e| write_err(&self.path, e)),
            Some(Sink::Parquet(w)) => w.write(&batch).map_err(|e| write_err(&self.path, e)),
            None => Ok(()),
        }
    }

    fn finish(mut self) -> Result<FileSummary, ExportError> {
        if self.pending > 0 || self.rows == 0 {
            // An empty table still gets its header (CSV) / schema (Parquet).
            self.flush()?;
        }
        match self.sink.take() {
            Some(Sink::Csv(w)) => {
                let f = w
                    .into_inner()
                    .into_inner()
                    .map_err(|e| io(&self.path)(e.into_error()))?;
                f.sync_all().map_err(io(&self.path))?;
            }
            Some(Sink::Parquet(w)) => {
                let f = w.into_inner().map_err(|e| write_err(&self.path, e))?;
                f.sync_all().map_err(io(&self.path))?;
            }
            None => {}
        }
        Ok(FileSummary {
            file: self
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            table: self.table.name().to_owned(),
            rows: self.rows,
        })
    }
}

/// A locally minted concept.
struct LocalConcept {
    id: i64,
    name: String,
    domain_id: &'static str,
    vocabulary_id: String,
    class_id: String,
    code: String,
}

/// The concepts and vocabularies an export uses.
#[derive(Default)]
struct Concepts {
    by_code: HashMap<(u32, u32), i64>,
    taken: HashSet<i64>,
    local: Vec<LocalConcept>,
    /// vocabulary id → halsohub system id.
    vocabularies: BTreeMap<String, String>,
    /// Fixed (standard OMOP) concepts used, with their concept table row
    /// where the export knows it.
    fixed: BTreeMap<i64, Option<(&'static str, &'static str, &'static str, &'static str)>>,
    registry: Option<halsohub_codes::CodeRegistry>,
}

fn class_of(system: &str, code: &str) -> String {
    match system {
        s if System::parse(s).is_some_and(|s| s.is_icd10()) => "ICD10 code".to_owned(),
        "atc" => match code.len() {
            1 => "ATC 1st",
            3 => "ATC 2nd",
            4 => "ATC 3rd",
            5 => "ATC 4th",
            _ => "ATC 5th",
        }
        .to_owned(),
        "kva" => "KVA code".to_owned(),
        "npu" | "loinc" => "Lab Test".to_owned(),
        "snomedct" => "Clinical Finding".to_owned(),
        _ => "Undefined".to_owned(),
    }
}

impl Concepts {
    fn fixed(&mut self, id: i64) -> i64 {
        let row = match id {
            8507 => Some(("MALE", "Gender", "Gender", "M")),
            8532 => Some(("FEMALE", "Gender", "Gender", "F")),
            9201 => Some(("Inpatient Visit", "Visit", "Visit", "IP")),
            9202 => Some(("Outpatient Visit", "Visit", "Visit", "OP")),
            581_477 => Some(("Office Visit", "Visit", "Visit", "OV")),
            _ => None,
        };
        if id != 0 {
            self.fixed.entry(id).or_insert(row);
        }
        id
    }

    /// The local concept of (system, code) for an event of `domain`.
    fn local(&mut self, strings: &Strings, system: u32, code: u32, domain: Domain) -> i64 {
        if let Some(&id) = self.by_code.get(&(system, code)) {
            return id;
        }
        let sys = strings.get(system);
        let c = strings.get(code);
        let vocabulary = vocabulary_of(sys);
        let mut id = local_concept_id(&vocabulary, c);
        while self.taken.contains(&id) {
            id = if id >= i64::from(i32::MAX) {
                LOCAL_CONCEPT_BASE
            } else {
                id + 1
            };
        }
        self.taken.insert(id);
        let registry = self
            .registry
            .get_or_insert_with(halsohub_codes::CodeRegistry::builtin);
        let title = System::parse(sys)
            .and_then(|s| registry.lookup(&s, c).map(|e| e.title().to_owned()))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| format!("{sys} {c}"));
        self.local.push(LocalConcept {
            id,
            name: title,
            domain_id: omop_domain(domain).unwrap_or("Observation"),
            vocabulary_id: vocabulary.clone(),
            class_id: class_of(sys, c),
            code: c.to_owned(),
        });
        self.vocabularies
            .entry(vocabulary)
            .or_insert_with(|| sys.to_owned());
        self.by_code.insert((system, code), id);
        id
    }
}

/// The OMOP writer of one export.
pub(crate) struct OmopWriter {
    tables: BTreeMap<Table, TableOut>,
    dir: PathBuf,
    parquet: bool,
    concepts: Concepts,
    next_id: BTreeMap<Table, i64>,
    /// (region, municipality) → location id.
    locations: BTreeMap<(String, Option<String>), i64>,
    /// provider code → (care site id, location id).
    care_sites: BTreeMap<String, (i64, Option<i64>)>,
    /// The date the snapshot was taken: where an observation period of a
    /// person still resident ends.
    as_of: NaiveDate,
}

fn date_ok(d: Option<NaiveDate>) -> Val {
    d.map_or(Val::Null, Val::Date)
}

impl OmopWriter {
    /// A writer into `dir`; `as_of` is the snapshot's date (the end of the
    /// observation period of a person still resident in Sweden).
    pub fn new(dir: &Path, parquet: bool, as_of: NaiveDate) -> Result<OmopWriter, ExportError> {
        let mut tables = BTreeMap::new();
        for t in TABLES {
            if !matches!(
                t,
                Table::Location | Table::CareSite | Table::Concept | Table::Vocabulary
            ) {
                tables.insert(t, TableOut::new(dir, t, parquet)?);
            }
        }
        Ok(OmopWriter {
            tables,
            dir: dir.to_path_buf(),
            parquet,
            concepts: Concepts::default(),
            next_id: BTreeMap::new(),
            locations: BTreeMap::new(),
            care_sites: BTreeMap::new(),
            as_of,
        })
    }

    fn id(&mut self, t: Table) -> i64 {
        let n = self.next_id.entry(t).or_insert(0);
        *n += 1;
        *n
    }

    fn table(&mut self, t: Table) -> Result<&mut TableOut, ExportError> {
        self.tables.get_mut(&t).ok_or_else(|| ExportError::Invalid {
            what: "omop",
            message: format!("table {t} is not open"),
        })
    }

    fn location(&mut self, region: &str, municipality: Option<&str>) -> i64 {
        let key = (region.to_owned(), municipality.map(str::to_owned));
        let next = self.locations.len() as i64 + 1;
        *self.locations.entry(key).or_insert(next)
    }

    fn care_site(&mut self, provider: &str, region: Option<&str>) -> i64 {
        if let Some((id, _)) = self.care_sites.get(provider) {
            return *id;
        }
        let loc = region.map(|r| self.location(r, None));
        let id = self.care_sites.len() as i64 + 1;
        self.care_sites.insert(provider.to_owned(), (id, loc));
        id
    }

    pub fn write_person(
        &mut self,
        index: u32,
        p: &PersonOut,
        events: &[Ev],
        strings: &Strings,
    ) -> Result<(), ExportError> {
        let person_id = i64::from(index) + 1;
        let gender = self.concepts.fixed(gender_of_sex(p.sex));
        let location = p
            .residences
            .last()
            .map(|r| (r.region.clone(), r.municipality.clone()))
            .map(|(r, m)| self.location(&r, m.as_deref()));
        let t = self.table(Table::Person)?;
        t.set("person_id", Val::Int(person_id))?;
        t.set("gender_concept_id", Val::Int(gender))?;
        t.set(
            "year_of_birth",
            p.birth.map_or(Val::Null, |b| Val::Int(i64::from(b.year()))),
        )?;
        t.set(
            "month_of_birth",
            p.birth
                .map_or(Val::Null, |b| Val::Int(i64::from(b.month()))),
        )?;
        t.set(
            "day_of_birth",
            p.birth.map_or(Val::Null, |b| Val::Int(i64::from(b.day()))),
        )?;
        t.set("birth_datetime", date_ok(p.birth))?;
        t.set("race_concept_id", Val::Int(0))?;
        t.set("ethnicity_concept_id", Val::Int(0))?;
        t.set("location_id", location.map_or(Val::Null, Val::Int))?;
        t.set("person_source_value", Val::Str(p.hex()))?;
        let sex = p.sex.map(|c| c.to_string());
        t.set("gender_source_value", opt_str(sex.as_deref()))?;
        t.set("gender_source_concept_id", Val::Int(0))?;
        t.set("race_source_concept_id", Val::Int(0))?;
        t.set("ethnicity_source_concept_id", Val::Int(0))?;
        t.end_row()?;

        // Observation period: from the first event or residence to the
        // last event, death, or end of residence (a residence still open
        // ends at the snapshot's date, or the death): the time the person
        // is in the population register's population. The OMOP reader
        // takes it as the span of the residence in person.location_id.
        let residence_end = |r: &crate::data::Residence| match r.to {
            // Exclusive in the store, inclusive in the CDM.
            Some(to) => to.pred_opt().unwrap_or(to).max(r.from),
            None => p.death.unwrap_or(self.as_of).max(r.from),
        };
        let first = events
            .iter()
            .map(|e| e.start)
            .chain(p.residences.iter().map(|r| r.from))
            .min();
        let last = events
            .iter()
            .map(|e| e.end.unwrap_or(e.start).max(e.start))
            .chain(p.death)
            .chain(p.residences.iter().map(residence_end))
            .max();
        if let (Some(f), Some(l)) = (first.or(p.death), last) {
            let t = self.table(Table::ObservationPeriod)?;
            t.set("observation_period_id", Val::Int(person_id))?;
            t.set("person_id", Val::Int(person_id))?;
            t.set("observation_period_start_date", Val::Date(f))?;
            t.set("observation_period_end_date", Val::Date(l.max(f)))?;
            t.set("period_type_concept_id", Val::Int(TYPE_REGISTRY))?;
            t.end_row()?;
        }

        let links = encounter_links(events);
        // Visit ids first: events of a day sort before its encounter.
        let mut visit_ids: Vec<Option<i64>> = Vec::with_capacity(events.len());
        for e in events {
            let id = (e.domain == Domain::Encounter).then(|| self.id(Table::VisitOccurrence));
            visit_ids.push(id);
        }
        let mut death: Option<(NaiveDate, Option<&Ev>)> = p.death.map(|d| (d, None));
        for (i, e) in events.iter().enumerate() {
            let visit = links
                .get(i)
                .copied()
                .flatten()
                .and_then(|j| visit_ids.get(j).copied().flatten());
            let visit_val = visit.map_or(Val::Null, Val::Int);
            // A coded value (lab result or observation) as a local concept.
            let value_concept = match (e.value_system, e.value_code) {
                (Some(vs), Some(vc)) => Some(self.concepts.local(strings, vs, vc, e.domain)),
                _ => None,
            };
            let source = strings.get(e.source);
            let type_id = type_concept(source);
            let code_str = strings.get(e.code);
            let unit = e.unit.map(|u| strings.get(u)).filter(|u| !u.is_empty());
            match e.domain {
                Domain::Encounter => {
                    let Some(id) = visit_ids.get(i).copied().flatten() else {
                        continue;
                    };
                    let concept = e
                        .setting
                        .map_or(0, |s| self.concepts.fixed(visit_of_setting(s)));
                    let care_site = e.provider.map(|pr| {
                        self.care_site(strings.get(pr), e.provider_region.map(|r| strings.get(r)))
                    });
                    let t = self.table(Table::VisitOccurrence)?;
                    t.set("visit_occurrence_id", Val::Int(id))?;
                    t.set("person_id", Val::Int(person_id))?;
                    t.set("visit_concept_id", Val::Int(concept))?;
                    t.set("visit_start_date", Val::Date(e.start))?;
                    t.set(
                        "visit_end_date",
                        Val::Date(e.end.unwrap_or(e.start).max(e.start)),
                    )?;
                    t.set("visit_type_concept_id", Val::Int(type_id))?;
                    t.set("care_site_id", care_site.map_or(Val::Null, Val::Int))?;
                    t.set("visit_source_value", opt_str(e.setting.map(|s| s.as_str())))?;
                    t.end_row()?;
                }
                Domain::Diagnosis => {
                    let c = self.concepts.local(strings, e.system, e.code, e.domain);
                    let id = self.id(Table::ConditionOccurrence);
                    let t = self.table(Table::ConditionOccurrence)?;
                    t.set("condition_occurrence_id", Val::Int(id))?;
                    t.set("person_id", Val::Int(person_id))?;
                    t.set("condition_concept_id", Val::Int(c))?;
                    t.set("condition_start_date", Val::Date(e.start))?;
                    t.set("condition_end_date", date_ok(e.end))?;
                    t.set("condition_type_concept_id", Val::Int(type_id))?;
                    t.set(
                        "condition_status_concept_id",
                        match e.primary {
                            Some(true) => Val::Int(condition_status::PRIMARY_DIAGNOSIS),
                            Some(false) => Val::Int(condition_status::SECONDARY_DIAGNOSIS),
                            None => Val::Null,
                        },
                    )?;
                    t.set("visit_occurrence_id", visit_val)?;
                    t.set("condition_source_value", str_val(code_str))?;
                    t.set("condition_source_concept_id", Val::Int(c))?;
                    t.end_row()?;
                }
                Domain::DispensedDrug | Domain::AdministeredDrug | Domain::PrescribedDrug => {
                    let c = self.concepts.local(strings, e.system, e.code, e.domain);
                    let id = self.id(Table::DrugExposure);
                    let t = self.table(Table::DrugExposure)?;
                    t.set("drug_exposure_id", Val::Int(id))?;
                    t.set("person_id", Val::Int(person_id))?;
                    t.set("drug_concept_id", Val::Int(c))?;
                    t.set("drug_exposure_start_date", Val::Date(e.start))?;
                    t.set(
                        "drug_exposure_end_date",
                        Val::Date(e.end.unwrap_or(e.start).max(e.start)),
                    )?;
                    t.set("verbatim_end_date", date_ok(e.end))?;
                    t.set(
                        "drug_type_concept_id",
                        Val::Int(drug_type_of_domain(e.domain).unwrap_or(0)),
                    )?;
                    t.set("quantity", e.quantity.map_or(Val::Null, Val::Float))?;
                    t.set("visit_occurrence_id", visit_val)?;
                    t.set("drug_source_value", str_val(code_str))?;
                    t.set("drug_source_concept_id", Val::Int(c))?;
                    t.set("dose_unit_source_value", opt_str(unit))?;
                    t.end_row()?;
                }
                Domain::Procedure => {
                    let c = self.concepts.local(strings, e.system, e.code, e.domain);
                    let id = self.id(Table::ProcedureOccurrence);
                    let t = self.table(Table::ProcedureOccurrence)?;
                    t.set("procedure_occurrence_id", Val::Int(id))?;
                    t.set("person_id", Val::Int(person_id))?;
                    t.set("procedure_concept_id", Val::Int(c))?;
                    t.set("procedure_date", Val::Date(e.start))?;
                    t.set("procedure_end_date", date_ok(e.end))?;
                    t.set("procedure_type_concept_id", Val::Int(type_id))?;
                    t.set("visit_occurrence_id", visit_val)?;
                    t.set("procedure_source_value", str_val(code_str))?;
                    t.set("procedure_source_concept_id", Val::Int(c))?;
                    t.end_row()?;
                }
                Domain::LabResult => {
                    let c = self.concepts.local(strings, e.system, e.code, e.domain);
                    let id = self.id(Table::Measurement);
                    let t = self.table(Table::Measurement)?;
                    t.set("measurement_id", Val::Int(id))?;
                    t.set("person_id", Val::Int(person_id))?;
                    t.set("measurement_concept_id", Val::Int(c))?;
                    t.set("measurement_date", Val::Date(e.start))?;
                    t.set("measurement_type_concept_id", Val::Int(type_id))?;
                    t.set(
                        "operator_concept_id",
                        e.comparator
                            .map_or(Val::Null, |x| Val::Int(operator_of_comparator(x))),
                    )?;
                    t.set("value_as_number", e.value.map_or(Val::Null, Val::Float))?;
                    t.set(
                        "value_as_concept_id",
                        value_concept.map_or(Val::Null, Val::Int),
                    )?;
                    t.set("visit_occurrence_id", visit_val)?;
                    t.set("measurement_source_value", str_val(code_str))?;
                    t.set("measurement_source_concept_id", Val::Int(c))?;
                    t.set("unit_source_value", opt_str(unit))?;
                    let shown = e.value.map(|v| match e.comparator {
                        Some(x) => format!("{}{v}", x.as_str()),
                        None => v.to_string(),
                    });
                    t.set("value_source_value", opt_str(shown.as_deref()))?;
                    t.end_row()?;
                }
                Domain::Observation => {
                    let c = self.concepts.local(strings, e.system, e.code, e.domain);
                    let id = self.id(Table::Observation);
                    let t = self.table(Table::Observation)?;
                    t.set("observation_id", Val::Int(id))?;
                    t.set("person_id", Val::Int(person_id))?;
                    t.set("observation_concept_id", Val::Int(c))?;
                    t.set("observation_date", Val::Date(e.start))?;
                    t.set("observation_type_concept_id", Val::Int(type_id))?;
                    t.set("value_as_number", e.value.map_or(Val::Null, Val::Float))?;
                    t.set(
                        "value_as_string",
                        opt_str(e.value_text.map(|v| strings.get(v))),
                    )?;
                    t.set(
                        "value_as_concept_id",
                        value_concept.map_or(Val::Null, Val::Int),
                    )?;
                    t.set("visit_occurrence_id", visit_val)?;
                    t.set("observation_source_value", str_val(code_str))?;
                    t.set("observation_source_concept_id", Val::Int(c))?;
                    t.set("unit_source_value", opt_str(unit))?;
                    t.end_row()?;
                }
                Domain::Death => {
                    // One death row per person: the date, and the
                    // underlying cause (primary, else the first cause).
                    let better = match death {
                        None => true,
                        Some((_, None)) => !code_str.is_empty(),
                        Some((_, Some(prev))) => {
                            prev.primary != Some(true) && e.primary == Some(true)
                        }
                    };
                    if better {
                        let date = death.map_or(e.start, |(d, _)| d);
                        death = Some((date, (!code_str.is_empty()).then_some(e)));
                    }
                }
            }
        }
        if let Some((date, cause)) = death {
            let cause_id = cause.map(|e| {
                self.concepts
                    .local(strings, e.system, e.code, Domain::Death)
            });
            let t = self.table(Table::Death)?;
            t.set("person_id", Val::Int(person_id))?;
            t.set("death_date", Val::Date(date))?;
            t.set(
                "death_type_concept_id",
                Val::Int(cause.map_or(TYPE_REGISTRY, |e| type_concept(strings.get(e.source)))),
            )?;
            t.set("cause_concept_id", cause_id.map_or(Val::Null, Val::Int))?;
            t.set(
                "cause_source_value",
                opt_str(cause.map(|e| strings.get(e.code))),
            )?;
            t.set(
                "cause_source_concept_id",
                cause_id.map_or(Val::Null, Val::Int),
            )?;
            t.end_row()?;
        }
        Ok(())
    }

    pub fn finish_all(mut self, summary: &Summary) -> Result<Vec<FileSummary>, ExportError> {
        // Small tables, now that every row is known.
        let mut loc = TableOut::new(&self.dir, Table::Location, self.parquet)?;
        for ((region, municipality), id) in &self.locations {
            loc.set("location_id", Val::Int(*id))?;
            loc.set("state", str_val(region))?;
            loc.set("county", opt_str(municipality.as_deref()))?;
            let sv = match municipality {
                Some(m) => format!("{region}/{m}"),
                None => region.clone(),
            };
            loc.set("location_source_value", Val::Str(sv))?;
            loc.set("country_source_value", str_val("SE"))?;
            loc.end_row()?;
        }
        let mut cs = TableOut::new(&self.dir, Table::CareSite, self.parquet)?;
        for (provider, (id, location)) in &self.care_sites {
            cs.set("care_site_id", Val::Int(*id))?;
            cs.set("care_site_name", str_val(provider))?;
            cs.set("location_id", location.map_or(Val::Null, Val::Int))?;
            cs.set("care_site_source_value", str_val(provider))?;
            cs.end_row()?;
        }
        let valid_start = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let valid_end = NaiveDate::from_ymd_opt(2099, 12, 31).unwrap_or_default();
        let mut concept = TableOut::new(&self.dir, Table::Concept, self.parquet)?;
        for (id, row) in &self.concepts.fixed {
            let Some((name, domain, vocabulary, code)) = row else {
                continue;
            };
            concept.set("concept_id", Val::Int(*id))?;
            concept.set("concept_name", str_val(name))?;
            concept.set("domain_id", str_val(domain))?;
            concept.set("vocabulary_id", str_val(vocabulary))?;
            concept.set("concept_class_id", str_val(domain))?;
            concept.set("standard_concept", str_val("S"))?;
            concept.set("concept_code", str_val(code))?;
            concept.set("valid_start_date", Val::Date(valid_start))?;
            concept.set("valid_end_date", Val::Date(valid_end))?;
            concept.end_row()?;
        }
        self.concepts.local.sort_by_key(|c| c.id);
        for c in &self.concepts.local {
            concept.set("concept_id", Val::Int(c.id))?;
            concept.set("concept_name", str_val(&c.name))?;
            concept.set("domain_id", str_val(c.domain_id))?;
            concept.set("vocabulary_id", str_val(&c.vocabulary_id))?;
            concept.set("concept_class_id", str_val(&c.class_id))?;
            concept.set("concept_code", str_val(&c.code))?;
            concept.set("valid_start_date", Val::Date(valid_start))?;
            concept.set("valid_end_date", Val::Date(valid_end))?;
            concept.end_row()?;
        }
        let mut voc = TableOut::new(&self.dir, Table::Vocabulary, self.parquet)?;
        for (id, system) in &self.concepts.vocabularies {
            let name = System::parse(system).map_or(system.clone(), |s| s.name().to_owned());
            voc.set("vocabulary_id", str_val(id))?;
            voc.set(
                "vocabulary_name",
                Val::Str(format!("{name} (halsohub system `{system}`)")),
            )?;
            voc.set("vocabulary_reference", str_val(system))?;
            voc.set(
                "vocabulary_version",
                Val::Str(format!("halsohub snapshot {}", summary.snapshot)),
            )?;
            voc.set("vocabulary_concept_id", Val::Int(0))?;
            voc.end_row()?;
        }
        let today = summary.created.date_naive();
        let t = self.table(Table::CdmSource)?;
        t.set(
            "cdm_source_name",
            Val::Str(format!("halsohub export for project {}", summary.project)),
        )?;
        t.set("cdm_source_abbreviation", str_val("halsohub"))?;
        t.set("cdm_holder", str_val("halsohub health-data hub"))?;
        t.set(
            "source_description",
            Val::Str(format!(
                "Snapshot {} of a halsohub store, {} persons under project pseudonyms (person_source_value); codes as locally minted concepts (ids from 2000000000), no Athena vocabulary.{}",
                summary.snapshot,
                summary.persons,
                summary.basis.as_ref().map(|b| format!(" Scope: {b}.")).unwrap_or_default()
            )),
        )?;
        t.set("source_documentation_reference", str_val("docs/export.md"))?;
        t.set(
            "cdm_etl_reference",
            Val::Str(format!("halsohub-export {}", env!("CARGO_PKG_VERSION"))),
        )?;
        t.set("source_release_date", Val::Date(today))?;
        t.set("cdm_release_date", Val::Date(today))?;
        t.set("cdm_version", str_val("v5.4"))?;
        t.set("cdm_version_concept_id", Val::Int(CDM_V54_CONCEPT))?;
        t.set("vocabulary_version", str_val("halsohub local"))?;
        t.end_row()?;
        let mut files = Vec::new();
        let mut tables = std::mem::take(&mut self.tables);
        tables.insert(Table::Location, loc);
        tables.insert(Table::CareSite, cs);
        tables.insert(Table::Concept, concept);
        tables.insert(Table::Vocabulary, voc);
        for table in TABLES {
            if let Some(out) = tables.remove(&table) {
                files.push(out.finish()?);
            }
        }
        Ok(files)
    }
}

impl crate::Writer for OmopWriter {
    fn person(
        &mut self,
        index: u32,
        p: &PersonOut,
        events: &[Ev],
        strings: &Strings,
    ) -> Result<(), ExportError> {
        self.write_person(index, p, events, strings)
    }
    fn finish(
        self: Box<Self>,
        _strings: &Strings,
        summary: &Summary,
    ) -> Result<Vec<FileSummary>, ExportError> {
        (*self).finish_all(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_concepts_are_deterministic_and_in_range() {
        let a = local_concept_id("ICD10SE", "E119");
        assert_eq!(a, local_concept_id("ICD10SE", "E119"));
        assert_ne!(a, local_concept_id("ICD10SE", "E118"));
        assert_ne!(a, local_concept_id("ICD10", "E119"));
        for code in ["", "A", "Z999", "NPU27300"] {
            let id = local_concept_id("NPU", code);
            assert!((LOCAL_CONCEPT_BASE..=i64::from(i32::MAX)).contains(&id));
        }
    }

    #[test]
    fn vocabularies_read_back_as_their_system() {
        for s in [
            "icd10se", "atc", "kva", "npu", "loinc", "snomedct", "icd10cm",
        ] {
            let v = vocabulary_of(s);
            assert_eq!(
                halsohub_omop::system_for_vocabulary(&v).as_deref(),
                Some(s),
                "{s} → {v}"
            );
        }
        assert_eq!(vocabulary_of("icd10se"), "ICD10SE");
        let odd = vocabulary_of("http://example.org/codes");
        assert!(odd.starts_with("HH") && odd.len() <= 20, "{odd}");
    }

    #[test]
    fn every_table_has_its_columns_and_text_is_cut() {
        for t in TABLES {
            assert!(t.columns(CDM_VERSION).is_some(), "{t}");
        }
        assert_eq!(cut("åäö", 2), "åä");
        assert_eq!(cut("ab", 5), "ab");
    }
}
