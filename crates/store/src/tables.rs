//! Arrow schemas of the store's Parquet tables and conversions between the
//! model types and Arrow record batches.

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Date32Array, Date32Builder, Float64Array,
    Float64Builder, Int64Array, Int64Builder, RecordBatch, StringArray, StringBuilder,
    StringDictionaryBuilder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, SchemaRef};
use chrono::NaiveDate;
use halsohub_identity::Pseudonym;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::columns::{Columns, EventColumn as E, date_from_days, days_from_date};
use crate::fsutil::io;
use crate::model::{Comparator, Domain, Event, Person, Residence, Setting};
use crate::{QuarantineRecord, StoreError, StoredPerson, StoredResidence};

/// Rows per Parquet row group.
pub(crate) const ROW_GROUP_ROWS: usize = 1 << 20;

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// Schema of event segments (and of [`crate::Snapshot::events_batches`]).
pub(crate) static EVENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("domain", dict(), false),
        Field::new("system", dict(), false),
        Field::new("code", dict(), false),
        Field::new("code_known", DataType::Boolean, false),
        Field::new("start_date", DataType::Date32, false),
        Field::new("end_date", DataType::Date32, true),
        Field::new("value", DataType::Float64, true),
        Field::new("comparator", dict(), true),
        Field::new("unit", dict(), true),
        Field::new("value_system", dict(), true),
        Field::new("value_code", dict(), true),
        Field::new("value_text", DataType::Utf8, true),
        Field::new("quantity", DataType::Float64, true),
        Field::new("setting", dict(), true),
        Field::new("is_primary", DataType::Boolean, true),
        Field::new("provider", dict(), true),
        Field::new("provider_region", dict(), true),
        Field::new("source", dict(), false),
    ]))
});

pub(crate) static PERSONS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("pseudonym", DataType::Utf8, false),
        Field::new("sex", DataType::Utf8, true),
        Field::new("birth_date", DataType::Date32, true),
        Field::new("death_date", DataType::Date32, true),
        Field::new("first_event_date", DataType::Date32, true),
        Field::new("last_event_date", DataType::Date32, true),
    ]))
});

pub(crate) static IDENTITIES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("pseudonym", DataType::Utf8, false),
        Field::new("canonical_person_id", DataType::Int64, false),
    ]))
});

pub(crate) static RESIDENCES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Int64, false),
        Field::new("pseudonym", DataType::Utf8, false),
        Field::new("region", DataType::Utf8, false),
        Field::new("municipality", DataType::Utf8, true),
        Field::new("from_date", DataType::Date32, false),
        Field::new("to_date", DataType::Date32, true),
    ]))
});

pub(crate) static ALIASES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("old_pseudonym", DataType::Utf8, false),
        Field::new("new_pseudonym", DataType::Utf8, false),
    ]))
});

pub(crate) static QUARANTINE: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("source_file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, false),
        Field::new("identity", DataType::Utf8, true),
    ]))
});

pub(crate) fn writer_props() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build()
}

pub(crate) fn parquet_err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

pub(crate) fn arrow_err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Parquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Creates a Parquet file for `schema`.
pub(crate) fn create_writer(
    path: &Path,
    schema: &SchemaRef,
) -> Result<ArrowWriter<File>, StoreError> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io(path))?;
    ArrowWriter::try_new(f, schema.clone(), Some(writer_props())).map_err(|e| parquet_err(path, e))
}

/// Finishes a Parquet file and flushes it to disk.
pub(crate) fn close_writer(path: &Path, w: ArrowWriter<File>) -> Result<(), StoreError> {
    let f = w.into_inner().map_err(|e| parquet_err(path, e))?;
    f.sync_all().map_err(io(path))
}

/// Writes one whole table.
pub(crate) fn write_table(path: &Path, batch: &RecordBatch) -> Result<(), StoreError> {
    let mut w = create_writer(path, &batch.schema())?;
    w.write(batch).map_err(|e| parquet_err(path, e))?;
    close_writer(path, w)
}

/// Reads all batches of a Parquet file, optionally only some columns.
pub(crate) fn read_table(
    path: &Path,
    columns: Option<&[&str]>,
) -> Result<Vec<RecordBatch>, StoreError> {
    open_reader(path, columns)?
        .map(|b| b.map_err(|e| arrow_err(path, e)))
        .collect()
}

pub(crate) fn open_reader(
    path: &Path,
    columns: Option<&[&str]>,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, StoreError> {
    open_projected(path, columns, |_| false)
}

/// Opens an event segment reading only `columns`; a nullable column the
/// segment lacks (written before the column existed) is left out of the
/// batches, a required one is an error.
pub(crate) fn open_events(
    path: &Path,
    columns: &[E],
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, StoreError> {
    let names: Vec<&str> = columns.iter().map(|c| c.name()).collect();
    open_projected(path, Some(&names), |n| {
        columns.iter().any(|c| c.name() == n && c.nullable())
    })
}

/// Opens a Parquet file, optionally projected to `columns`; a column the
/// file lacks is an error unless `may_lack` says otherwise.
fn open_projected(
    path: &Path,
    columns: Option<&[&str]>,
    may_lack: impl Fn(&str) -> bool,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, StoreError> {
    let f = File::open(path).map_err(io(path))?;
    let mut b = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| parquet_err(path, e))?;
    if let Some(cols) = columns {
        let descr = b.parquet_schema();
        let mut present = Vec::with_capacity(cols.len());
        for c in cols {
            if descr.columns().iter().any(|d| d.name() == *c) {
                present.push(*c);
            } else if !may_lack(c) {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    message: format!("column `{c}` is missing"),
                });
            }
        }
        let mask = parquet::arrow::ProjectionMask::columns(descr, present);
        b = b.with_projection(mask);
    }
    b.with_batch_size(64 * 1024)
        .build()
        .map_err(|e| parquet_err(path, e))
}

// ---------------------------------------------------------------- columns

fn corrupt(path: &Path, message: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        message,
    }
}

/// `batch` with every column of `schema`: columns it lacks (nullable ones
/// added to the schema later) are filled with nulls, in schema order.
pub(crate) fn conform(
    batch: RecordBatch,
    schema: &SchemaRef,
    path: &Path,
) -> Result<RecordBatch, StoreError> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch);
    }
    let mut cols = Vec::with_capacity(schema.fields().len());
    for f in schema.fields() {
        match batch.column_by_name(f.name()) {
            Some(c) => cols.push(c.clone()),
            None if f.is_nullable() => cols.push(arrow::array::new_null_array(
                f.data_type(),
                batch.num_rows(),
            )),
            None => return Err(corrupt(path, format!("column `{}` is missing", f.name()))),
        }
    }
    RecordBatch::try_new(schema.clone(), cols).map_err(|e| arrow_err(path, e))
}

fn opt_str(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

fn opt_date(
    a: &Date32Array,
    i: usize,
    path: &Path,
    name: &str,
) -> Result<Option<NaiveDate>, StoreError> {
    if a.is_null(i) {
        return Ok(None);
    }
    date_from_days(a.value(i))
        .map(Some)
        .ok_or_else(|| corrupt(path, format!("column `{name}`: date out of range")))
}

fn date(a: &Date32Array, i: usize, path: &Path, name: &str) -> Result<NaiveDate, StoreError> {
    opt_date(a, i, path, name)?
        .ok_or_else(|| corrupt(path, format!("column `{name}`: missing value")))
}

fn id(a: &Int64Array, i: usize, path: &Path, name: &str) -> Result<u32, StoreError> {
    u32::try_from(a.value(i))
        .map_err(|_| corrupt(path, format!("column `{name}`: id out of range")))
}

fn pseudonym(s: &str, path: &Path, name: &str) -> Result<Pseudonym, StoreError> {
    s.parse().map_err(|_| {
        corrupt(
            path,
            format!("column `{name}`: not a 32-hex-digit pseudonym"),
        )
    })
}

fn opt_f64(a: &Float64Array, i: usize) -> Option<f64> {
    a.is_valid(i).then(|| a.value(i))
}

fn opt_bool(a: &BooleanArray, i: usize) -> Option<bool> {
    a.is_valid(i).then(|| a.value(i))
}

fn hex(p: &Pseudonym) -> [u8; 32] {
    p.to_hex_bytes()
}

fn hex_str(buf: &[u8; 32]) -> &str {
    std::str::from_utf8(buf).unwrap_or_default()
}

// ---------------------------------------------------------------- events

/// Builds an event batch; `ids[i]` is the person id of `events[i]`.
pub(crate) fn events_batch(
    events: &[Event],
    ids: &[u32],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let n = events.len();
    let mut person_id = Int64Builder::with_capacity(n);
    let mut domain = StringDictionaryBuilder::<Int32Type>::new();
    let mut system = StringDictionaryBuilder::<Int32Type>::new();
    let mut code = StringDictionaryBuilder::<Int32Type>::new();
    let mut code_known = BooleanBuilder::with_capacity(n);
    let mut start = Date32Builder::with_capacity(n);
    let mut end = Date32Builder::with_capacity(n);
    let mut value = Float64Builder::with_capacity(n);
    let mut comparator = StringDictionaryBuilder::<Int32Type>::new();
    let mut unit = StringDictionaryBuilder::<Int32Type>::new();
    let mut value_system = StringDictionaryBuilder::<Int32Type>::new();
    let mut value_code = StringDictionaryBuilder::<Int32Type>::new();
    let mut value_text = StringBuilder::new();
    let mut quantity = Float64Builder::with_capacity(n);
    let mut setting = StringDictionaryBuilder::<Int32Type>::new();
    let mut primary = BooleanBuilder::with_capacity(n);
    let mut provider = StringDictionaryBuilder::<Int32Type>::new();
    let mut provider_region = StringDictionaryBuilder::<Int32Type>::new();
    let mut source = StringDictionaryBuilder::<Int32Type>::new();
    for (e, &pid) in events.iter().zip(ids) {
        person_id.append_value(i64::from(pid));
        domain.append_value(e.domain.as_str());
        system.append_value(&e.system);
        code.append_value(&e.code);
        code_known.append_value(e.code_known);
        start.append_value(days_from_date(e.start));
        end.append_option(e.end.map(days_from_date));
        value.append_option(e.value);
        comparator.append_option(e.comparator.map(Comparator::as_str));
        unit.append_option(e.unit.as_deref());
        value_system.append_option(e.value_system.as_deref());
        value_code.append_option(e.value_code.as_deref());
        value_text.append_option(e.value_text.as_deref());
        quantity.append_option(e.quantity);
        setting.append_option(e.setting.map(Setting::as_str));
        primary.append_option(e.primary);
        provider.append_option(e.provider.as_deref());
        provider_region.append_option(e.provider_region.as_deref());
        source.append_value(&e.source);
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(person_id.finish()),
        Arc::new(domain.finish()),
        Arc::new(system.finish()),
        Arc::new(code.finish()),
        Arc::new(code_known.finish()),
        Arc::new(start.finish()),
        Arc::new(end.finish()),
        Arc::new(value.finish()),
        Arc::new(comparator.finish()),
        Arc::new(unit.finish()),
        Arc::new(value_system.finish()),
        Arc::new(value_code.finish()),
        Arc::new(value_text.finish()),
        Arc::new(quantity.finish()),
        Arc::new(setting.finish()),
        Arc::new(primary.finish()),
        Arc::new(provider.finish()),
        Arc::new(provider_region.finish()),
        Arc::new(source.finish()),
    ];
    RecordBatch::try_new(EVENTS.clone(), cols)
}

/// Decodes an event batch; `patient(person_id)` gives the pseudonym.
pub(crate) fn events_from_batch(
    b: &RecordBatch,
    path: &Path,
    patient: &dyn Fn(u32) -> Option<Pseudonym>,
) -> Result<Vec<(u32, Event)>, StoreError> {
    let c = Columns::new(b, path);
    let person_id = c.int64(E::PersonId)?;
    let domain = c.text(E::Domain)?;
    let system = c.text(E::System)?;
    let code = c.text(E::Code)?;
    let code_known = c.boolean(E::CodeKnown)?;
    let start = c.date32(E::StartDate)?;
    let end = c.date32(E::EndDate)?;
    let value = c.float64(E::Value)?;
    let comparator = c.text(E::Comparator)?;
    let unit = c.text(E::Unit)?;
    // Added after the first release: segments written before lack them.
    let value_system = c.opt_text(E::ValueSystem)?;
    let value_code = c.opt_text(E::ValueCode)?;
    let value_text = c.opt_text(E::ValueText)?;
    let quantity = c.float64(E::Quantity)?;
    let setting = c.text(E::Setting)?;
    let primary = c.boolean(E::IsPrimary)?;
    let provider = c.text(E::Provider)?;
    let provider_region = c.text(E::ProviderRegion)?;
    let source = c.text(E::Source)?;
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let pid = id(person_id, i, path, "person_id")?;
        let patient = patient(pid).ok_or_else(|| {
            corrupt(
                path,
                format!("person_id {pid} is not in the identities table"),
            )
        })?;
        let dom = domain.get(i).unwrap_or_default();
        let e = Event {
            patient,
            domain: Domain::parse(dom)
                .ok_or_else(|| corrupt(path, format!("column `domain`: unknown value `{dom}`")))?,
            system: system.get(i).unwrap_or_default().to_string(),
            code: code.get(i).unwrap_or_default().to_string(),
            code_known: code_known.value(i),
            start: date(start, i, path, "start_date")?,
            end: opt_date(end, i, path, "end_date")?,
            value: opt_f64(value, i),
            comparator: match comparator.get(i) {
                None => None,
                Some(s) => Some(Comparator::parse(s).ok_or_else(|| {
                    corrupt(path, format!("column `comparator`: unknown value `{s}`"))
                })?),
            },
            unit: unit.get(i).map(str::to_string),
            value_system: value_system
                .as_ref()
                .and_then(|a| a.get(i))
                .map(str::to_string),
            value_code: value_code
                .as_ref()
                .and_then(|a| a.get(i))
                .map(str::to_string),
            value_text: value_text
                .as_ref()
                .and_then(|a| a.get(i))
                .map(str::to_string),
            quantity: opt_f64(quantity, i),
            setting: match setting.get(i) {
                None => None,
                Some(s) => Some(Setting::parse(s).ok_or_else(|| {
                    corrupt(path, format!("column `setting`: unknown value `{s}`"))
                })?),
            },
            primary: opt_bool(primary, i),
            provider: provider.get(i).map(str::to_string),
            provider_region: provider_region.get(i).map(str::to_string),
            source: source.get(i).unwrap_or_default().to_string(),
        };
        out.push((pid, e));
    }
    Ok(out)
}

// ---------------------------------------------------------------- persons

pub(crate) fn persons_batch(
    rows: &[StoredPerson],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let n = rows.len();
    let mut person_id = Int64Builder::with_capacity(n);
    let mut pseudo = StringBuilder::with_capacity(n, n * 32);
    let mut sex = StringBuilder::new();
    let mut birth = Date32Builder::with_capacity(n);
    let mut death = Date32Builder::with_capacity(n);
    let mut first = Date32Builder::with_capacity(n);
    let mut last = Date32Builder::with_capacity(n);
    for r in rows {
        person_id.append_value(i64::from(r.person_id));
        pseudo.append_value(hex_str(&hex(&r.person.patient)));
        let mut buf = [0u8; 4];
        match r.person.sex {
            Some(c) => sex.append_value(c.encode_utf8(&mut buf)),
            None => sex.append_null(),
        }
        birth.append_option(r.person.birth_date.map(days_from_date));
        death.append_option(r.person.death_date.map(days_from_date));
        first.append_option(r.first_event.map(days_from_date));
        last.append_option(r.last_event.map(days_from_date));
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(person_id.finish()),
        Arc::new(pseudo.finish()),
        Arc::new(sex.finish()),
        Arc::new(birth.finish()),
        Arc::new(death.finish()),
        Arc::new(first.finish()),
        Arc::new(last.finish()),
    ];
    RecordBatch::try_new(PERSONS.clone(), cols)
}

pub(crate) fn read_persons(path: &Path) -> Result<Vec<StoredPerson>, StoreError> {
    let mut out = Vec::new();
    for b in read_table(path, None)? {
        let c = Columns::new(&b, path);
        let person_id = c.int64("person_id")?;
        let pseudo = c.string("pseudonym")?;
        let sex = c.string("sex")?;
        let birth = c.date32("birth_date")?;
        let death = c.date32("death_date")?;
        let first = c.date32("first_event_date")?;
        let last = c.date32("last_event_date")?;
        for i in 0..b.num_rows() {
            out.push(StoredPerson {
                person_id: id(person_id, i, path, "person_id")?,
                person: Person {
                    patient: pseudonym(pseudo.value(i), path, "pseudonym")?,
                    sex: opt_str(sex, i).and_then(|s| s.chars().next()),
                    birth_date: opt_date(birth, i, path, "birth_date")?,
                    death_date: opt_date(death, i, path, "death_date")?,
                },
                first_event: opt_date(first, i, path, "first_event_date")?,
                last_event: opt_date(last, i, path, "last_event_date")?,
            });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- identities

pub(crate) fn identities_batch(
    pseudonyms: &[Pseudonym],
    canonical: &[u32],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let n = pseudonyms.len();
    let mut person_id = Int64Builder::with_capacity(n);
    let mut pseudo = StringBuilder::with_capacity(n, n * 32);
    let mut canon = Int64Builder::with_capacity(n);
    for (i, (p, c)) in pseudonyms.iter().zip(canonical).enumerate() {
        person_id.append_value(i as i64);
        pseudo.append_value(hex_str(&hex(p)));
        canon.append_value(i64::from(*c));
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(person_id.finish()),
        Arc::new(pseudo.finish()),
        Arc::new(canon.finish()),
    ];
    RecordBatch::try_new(IDENTITIES.clone(), cols)
}

/// Reads the identities table: pseudonym and canonical id per person id
/// (row `i` is person id `i`).
pub(crate) fn read_identities(path: &Path) -> Result<(Vec<Pseudonym>, Vec<u32>), StoreError> {
    let mut pseudonyms = Vec::new();
    let mut canonical = Vec::new();
    for b in read_table(path, None)? {
        let c = Columns::new(&b, path);
        let person_id = c.int64("person_id")?;
        let pseudo = c.string("pseudonym")?;
        let canon = c.int64("canonical_person_id")?;
        for i in 0..b.num_rows() {
            let pid = id(person_id, i, path, "person_id")?;
            if pid as usize != pseudonyms.len() {
                return Err(corrupt(
                    path,
                    format!("person ids are not dense: found {pid}"),
                ));
            }
            pseudonyms.push(pseudonym(pseudo.value(i), path, "pseudonym")?);
            canonical.push(id(canon, i, path, "canonical_person_id")?);
        }
    }
    if canonical.iter().any(|&c| c as usize >= canonical.len()) {
        return Err(corrupt(
            path,
            "a canonical_person_id is not a known person id".into(),
        ));
    }
    Ok((pseudonyms, canonical))
}

/// Reads only the canonical id column of the identities table.
pub(crate) fn read_canonical(path: &Path) -> Result<Vec<u32>, StoreError> {
    let mut canonical = Vec::new();
    for b in read_table(path, Some(&["canonical_person_id"]))? {
        let c = Columns::new(&b, path);
        let canon = c.int64("canonical_person_id")?;
        for i in 0..b.num_rows() {
            canonical.push(id(canon, i, path, "canonical_person_id")?);
        }
    }
    Ok(canonical)
}

// ---------------------------------------------------------------- residences

pub(crate) fn residences_batch(
    rows: &[StoredResidence],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let n = rows.len();
    let mut person_id = Int64Builder::with_capacity(n);
    let mut pseudo = StringBuilder::with_capacity(n, n * 32);
    let mut region = StringBuilder::new();
    let mut municipality = StringBuilder::new();
    let mut from = Date32Builder::with_capacity(n);
    let mut to = Date32Builder::with_capacity(n);
    for r in rows {
        person_id.append_value(i64::from(r.person_id));
        pseudo.append_value(hex_str(&hex(&r.residence.patient)));
        region.append_value(&r.residence.region);
        municipality.append_option(r.residence.municipality.as_deref());
        from.append_value(days_from_date(r.residence.from));
        to.append_option(r.residence.to.map(days_from_date));
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(person_id.finish()),
        Arc::new(pseudo.finish()),
        Arc::new(region.finish()),
        Arc::new(municipality.finish()),
        Arc::new(from.finish()),
        Arc::new(to.finish()),
    ];
    RecordBatch::try_new(RESIDENCES.clone(), cols)
}

pub(crate) fn read_residences(path: &Path) -> Result<Vec<StoredResidence>, StoreError> {
    let mut out = Vec::new();
    for b in read_table(path, None)? {
        let c = Columns::new(&b, path);
        let person_id = c.int64("person_id")?;
        let pseudo = c.string("pseudonym")?;
        let region = c.string("region")?;
        let municipality = c.string("municipality")?;
        let from = c.date32("from_date")?;
        let to = c.date32("to_date")?;
        for i in 0..b.num_rows() {
            out.push(StoredResidence {
                person_id: id(person_id, i, path, "person_id")?,
                residence: Residence {
                    patient: pseudonym(pseudo.value(i), path, "pseudonym")?,
                    region: region.value(i).to_string(),
                    municipality: opt_str(municipality, i).map(str::to_string),
                    from: date(from, i, path, "from_date")?,
                    to: opt_date(to, i, path, "to_date")?,
                },
            });
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- aliases

pub(crate) fn aliases_batch(
    rows: &[(Pseudonym, Pseudonym)],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut old = StringBuilder::new();
    let mut new = StringBuilder::new();
    for (o, n) in rows {
        old.append_value(hex_str(&hex(o)));
        new.append_value(hex_str(&hex(n)));
    }
    let cols: Vec<ArrayRef> = vec![Arc::new(old.finish()), Arc::new(new.finish())];
    RecordBatch::try_new(ALIASES.clone(), cols)
}

pub(crate) fn read_aliases(path: &Path) -> Result<Vec<(Pseudonym, Pseudonym)>, StoreError> {
    let mut out = Vec::new();
    for b in read_table(path, None)? {
        let c = Columns::new(&b, path);
        let old = c.string("old_pseudonym")?;
        let new = c.string("new_pseudonym")?;
        for i in 0..b.num_rows() {
            out.push((
                pseudonym(old.value(i), path, "old_pseudonym")?,
                pseudonym(new.value(i), path, "new_pseudonym")?,
            ));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- quarantine

pub(crate) fn quarantine_batch(
    rows: &[QuarantineRecord],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let n = rows.len();
    let mut source = StringBuilder::new();
    let mut line = Int64Builder::with_capacity(n);
    let mut reason = StringBuilder::new();
    let mut detail = StringBuilder::new();
    let mut identity = StringBuilder::new();
    for r in rows {
        source.append_value(&r.source_file);
        line.append_value(i64::try_from(r.line).unwrap_or(i64::MAX));
        reason.append_value(&r.reason);
        detail.append_value(&r.detail);
        identity.append_option(r.identity.as_deref());
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(source.finish()),
        Arc::new(line.finish()),
        Arc::new(reason.finish()),
        Arc::new(detail.finish()),
        Arc::new(identity.finish()),
    ];
    RecordBatch::try_new(QUARANTINE.clone(), cols)
}

pub(crate) fn read_quarantine(path: &Path) -> Result<Vec<QuarantineRecord>, StoreError> {
    let mut out = Vec::new();
    for b in read_table(path, None)? {
        let c = Columns::new(&b, path);
        let source = c.string("source_file")?;
        let line = c.int64("line")?;
        let reason = c.string("reason")?;
        let detail = c.string("detail")?;
        let identity = c.string("identity")?;
        for i in 0..b.num_rows() {
            out.push(QuarantineRecord {
                source_file: source.value(i).to_string(),
                line: u64::try_from(line.value(i)).unwrap_or(0),
                reason: reason.value(i).to_string(),
                detail: detail.value(i).to_string(),
                identity: opt_str(identity, i).map(str::to_string),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment written before `value_system`, `value_code` and
    /// `value_text` existed still reads: the columns come back as nulls.
    #[test]
    fn segments_without_the_value_columns_read_as_nulls() {
        let e = Event {
            patient: Pseudonym::from_bytes([7; 16]),
            domain: Domain::LabResult,
            system: "npu".into(),
            code: "NPU27300".into(),
            code_known: true,
            start: NaiveDate::from_ymd_opt(2024, 5, 1).unwrap_or_default(),
            end: None,
            value: Some(54.0),
            comparator: None,
            unit: Some("mmol/mol".into()),
            value_system: Some("snomedct".into()),
            value_code: Some("260385009".into()),
            value_text: Some("x".into()),
            quantity: None,
            setting: None,
            primary: None,
            provider: None,
            provider_region: None,
            source: "lab".into(),
        };
        let full = events_batch(std::slice::from_ref(&e), &[0]).unwrap();
        let keep: Vec<usize> = full
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.name().starts_with("value_"))
            .map(|(i, _)| i)
            .collect();
        let old = full.project(&keep).unwrap();
        let path = Path::new("old.parquet");
        let conformed = conform(old.clone(), &EVENTS, path).unwrap();
        assert_eq!(conformed.schema(), EVENTS.clone());
        let patient = |_| Some(e.patient);
        for b in [&old, &conformed] {
            let (_, back) = events_from_batch(b, path, &patient).unwrap().remove(0);
            assert_eq!(back.value_code, None);
            assert_eq!(back.value_text, None);
            assert_eq!(back.value, Some(54.0));
        }
        let (_, back) = events_from_batch(&full, path, &patient).unwrap().remove(0);
        assert_eq!(back, e);
        // A required column cannot be made up.
        let no_code: Vec<usize> = (0..old.num_columns())
            .filter(|&i| old.schema().field(i).name() != "code")
            .collect();
        let err = conform(old.project(&no_code).unwrap(), &EVENTS, path).unwrap_err();
        assert!(err.to_string().contains("`code` is missing"), "{err}");
    }
}
