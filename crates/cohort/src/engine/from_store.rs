//! Building the [`Engine`] straight from a store snapshot's Parquet.
//!
//! Reads only the event columns the engine uses (no `code_known`,
//! `end_date`, `quantity`, `is_primary`), batch by batch. String columns are
//! dictionary-encoded in the segments, so each batch's dictionary is
//! interned once and rows are mapped through small id tables: no string is
//! allocated per event. Persons and residences come from the snapshot's
//! small tables; events carry canonical person ids (merged identities
//! resolved by the store).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, DictionaryArray, Float64Array, Int64Array, RecordBatch,
};
use arrow::datatypes::{DataType, Int32Type};
use halsohub_store::{Comparator, Domain, Setting, Snapshot, StoreError};

use crate::engine::{Engine, EngineBuilder};

/// Days between 0001-01-01 (CE day 1) and 1970-01-01 (Arrow `Date32` zero).
const EPOCH_FROM_CE: i32 = 719_163;

/// Why an engine could not be built from a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum EngineLoadError {
    /// Reading the snapshot failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The snapshot's files hold something the engine cannot use.
    #[error("{path}: {message}")]
    Corrupt { path: PathBuf, message: String },
}

fn corrupt(path: &Path, message: impl Into<String>) -> EngineLoadError {
    EngineLoadError::Corrupt {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The event columns the engine reads.
const COLUMNS: [&str; 12] = [
    "person_id",
    "domain",
    "system",
    "code",
    "start_date",
    "value",
    "comparator",
    "unit",
    "setting",
    "provider",
    "provider_region",
    "source",
];

fn column<'b>(
    b: &'b RecordBatch,
    name: &str,
    path: &Path,
) -> Result<&'b ArrayRef, EngineLoadError> {
    b.column_by_name(name)
        .ok_or_else(|| corrupt(path, format!("column `{name}` is missing")))
}

/// A string column as a dictionary array (segments write dictionaries; a
/// plain string column is converted once per batch).
fn dict_column(
    b: &RecordBatch,
    name: &str,
    path: &Path,
) -> Result<DictionaryArray<Int32Type>, EngineLoadError> {
    let col = column(b, name, path)?;
    let want = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let arr: ArrayRef = if col.data_type() == &want {
        Arc::clone(col)
    } else {
        arrow::compute::cast(col, &want).map_err(|e| {
            corrupt(
                path,
                format!("column `{name}` ({}) is not text: {e}", col.data_type()),
            )
        })?
    };
    arr.as_dictionary_opt::<Int32Type>()
        .cloned()
        .ok_or_else(|| corrupt(path, format!("column `{name}` is not a text dictionary")))
}

/// Maps every dictionary value through `f` (null values → `u32::MAX`).
fn map_values(
    d: &DictionaryArray<Int32Type>,
    name: &str,
    path: &Path,
    mut f: impl FnMut(&str) -> Result<u32, EngineLoadError>,
) -> Result<Vec<u32>, EngineLoadError> {
    let values = d
        .values()
        .as_string_opt::<i32>()
        .ok_or_else(|| corrupt(path, format!("column `{name}` does not hold text")))?;
    let mut out = Vec::with_capacity(values.len());
    for i in 0..values.len() {
        if values.is_null(i) {
            out.push(u32::MAX);
        } else {
            out.push(f(values.value(i))?);
        }
    }
    Ok(out)
}

/// The mapped id of row `i` (`u32::MAX` when null or out of range).
fn id_at(d: &DictionaryArray<Int32Type>, map: &[u32], i: usize) -> u32 {
    if d.is_null(i) {
        return u32::MAX;
    }
    let k = d.keys().value(i);
    usize::try_from(k)
        .ok()
        .and_then(|k| map.get(k))
        .copied()
        .unwrap_or(u32::MAX)
}

fn setting_of(id: u32) -> Option<Setting> {
    match id {
        0 => Some(Setting::Inpatient),
        1 => Some(Setting::Outpatient),
        2 => Some(Setting::PrimaryCare),
        _ => None,
    }
}

fn comparator_of(id: u32) -> Option<Comparator> {
    match id {
        0 => Some(Comparator::Lt),
        1 => Some(Comparator::Le),
        2 => Some(Comparator::Gt),
        3 => Some(Comparator::Ge),
        _ => None,
    }
}

impl Engine {
    /// Build the engine from a store snapshot, reading its Parquet directly
    /// (see the module docs of `from_store`). The engine answers for
    /// `snapshot.id()`.
    ///
    /// Every canonical person of the snapshot is a patient (also one with
    /// neither events nor population facts); a person counts as *in the
    /// population register* (for `alive`) when the persons table holds a
    /// sex, birth date or death date for them.
    ///
    /// # Errors
    /// [`EngineLoadError::Store`] when a file cannot be read,
    /// [`EngineLoadError::Corrupt`] when a column is missing or of the
    /// wrong type, an event names a person the persons table does not know,
    /// or a domain is unknown.
    pub fn from_snapshot(snapshot: &Snapshot) -> Result<Engine, EngineLoadError> {
        let started = std::time::Instant::now();
        let dir = snapshot.dir().to_path_buf();
        let mut b = EngineBuilder::new();

        // Persons: dense builder ids, in pseudonym order (so the final
        // remap is the identity).
        let mut persons = snapshot.persons()?;
        persons.sort_by_key(|x| x.person.patient);
        let max_id = persons
            .iter()
            .map(|p| p.person_id)
            .max()
            .map_or(0, |m| m as usize + 1);
        let mut by_person_id = vec![u32::MAX; max_id];
        let persons_path = dir.join("persons.parquet");
        for sp in &persons {
            let id = b.patient_id(sp.person.patient);
            let slot = by_person_id
                .get_mut(sp.person_id as usize)
                .ok_or_else(|| corrupt(&persons_path, "person id out of range"))?;
            *slot = id;
            let p = &sp.person;
            let in_register = p.sex.is_some() || p.birth_date.is_some() || p.death_date.is_some();
            b.push_person(id, in_register, p.sex, p.birth_date, p.death_date);
        }
        drop(persons);

        let res_path = dir.join("residences.parquet");
        for r in snapshot.residences()? {
            let p = by_person_id
                .get(r.person_id as usize)
                .copied()
                .filter(|x| *x != u32::MAX)
                .ok_or_else(|| {
                    corrupt(
                        &res_path,
                        format!("person id {} is not in the persons table", r.person_id),
                    )
                })?;
            let res = &r.residence;
            let region = b.region_id(&res.region);
            let to = res
                .to
                .map_or(i32::MAX, |d| chrono::Datelike::num_days_from_ce(&d));
            b.push_residence(p, chrono::Datelike::num_days_from_ce(&res.from), to, region);
        }

        let total: u64 = snapshot.manifest().segments.iter().map(|s| s.rows).sum();
        b.reserve_events(usize::try_from(total).unwrap_or(0));
        let mut batches = snapshot.events_batches_with(Some(&COLUMNS))?;
        while let Some(batch) = batches.next_batch()? {
            let path = batches.current_path();
            add_batch(&mut b, &batch, &path, &by_person_id)?;
        }
        let engine = b.finish(&snapshot.id().0);
        tracing::info!(
            snapshot = %snapshot.id(),
            events = engine.event_count(),
            patients = engine.patient_count(),
            resident_bytes = engine.resident_bytes(),
            ms = started.elapsed().as_millis() as u64,
            "built cohort engine from snapshot"
        );
        Ok(engine)
    }
}

fn add_batch(
    b: &mut EngineBuilder,
    batch: &RecordBatch,
    path: &Path,
    by_person_id: &[u32],
) -> Result<(), EngineLoadError> {
    let ids = column(batch, "person_id", path)?
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| corrupt(path, "column `person_id` is not Int64"))?;
    let starts = column(batch, "start_date", path)?
        .as_any()
        .downcast_ref::<Date32Array>()
        .ok_or_else(|| corrupt(path, "column `start_date` is not a date"))?;
    let values = column(batch, "value", path)?
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| corrupt(path, "column `value` is not Float64"))?;
    let domain = dict_column(batch, "domain", path)?;
    let system = dict_column(batch, "system", path)?;
    let code = dict_column(batch, "code", path)?;
    let comparator = dict_column(batch, "comparator", path)?;
    let unit = dict_column(batch, "unit", path)?;
    let setting = dict_column(batch, "setting", path)?;
    let provider = dict_column(batch, "provider", path)?;
    let pregion = dict_column(batch, "provider_region", path)?;
    let source = dict_column(batch, "source", path)?;

    let domain_map = map_values(&domain, "domain", path, |s| {
        Domain::parse(s)
            .map(|d| d as u32)
            .ok_or_else(|| corrupt(path, format!("unknown domain `{s}`")))
    })?;
    let setting_map = map_values(&setting, "setting", path, |s| {
        Ok(match Setting::parse(s) {
            Some(Setting::Inpatient) => 0,
            Some(Setting::Outpatient) => 1,
            Some(Setting::PrimaryCare) => 2,
            None => u32::MAX,
        })
    })?;
    let cmp_map = map_values(&comparator, "comparator", path, |s| {
        Ok(match Comparator::parse(s) {
            Some(Comparator::Lt) => 0,
            Some(Comparator::Le) => 1,
            Some(Comparator::Gt) => 2,
            Some(Comparator::Ge) => 3,
            None => u32::MAX,
        })
    })?;
    let unit_map = map_values(&unit, "unit", path, |s| Ok(b.unit_id(s)))?;
    let provider_map = map_values(&provider, "provider", path, |s| Ok(b.provider_id(s)))?;
    let pregion_map = map_values(&pregion, "provider_region", path, |s| Ok(b.region_id(s)))?;
    let source_map = map_values(&source, "source", path, |s| Ok(b.source_id(s)))?;
    let system_values = system
        .values()
        .as_string_opt::<i32>()
        .ok_or_else(|| corrupt(path, "column `system` does not hold text"))?
        .clone();
    let code_values = code
        .values()
        .as_string_opt::<i32>()
        .ok_or_else(|| corrupt(path, "column `code` does not hold text"))?
        .clone();
    // Cache per code dictionary key: (domain id, system key, engine code id).
    let mut code_cache: Vec<(u32, i32, u32)> = vec![(u32::MAX, -1, 0); code_values.len()];
    let domains = Domain::ALL;

    for i in 0..batch.num_rows() {
        let pid = ids.value(i);
        let patient = usize::try_from(pid)
            .ok()
            .and_then(|x| by_person_id.get(x))
            .copied()
            .filter(|x| *x != u32::MAX)
            .ok_or_else(|| {
                corrupt(
                    path,
                    format!("row {i}: person id {pid} is not in the persons table"),
                )
            })?;
        let dom_id = id_at(&domain, &domain_map, i);
        let dom = domains
            .get(dom_id as usize)
            .copied()
            .ok_or_else(|| corrupt(path, format!("row {i}: no domain")))?;
        if system.is_null(i) || code.is_null(i) {
            return Err(corrupt(path, format!("row {i}: no code system or code")));
        }
        let sys_key = system.keys().value(i);
        let code_key = code.keys().value(i);
        let cached = usize::try_from(code_key)
            .ok()
            .and_then(|k| code_cache.get(k))
            .copied();
        let code_id = match cached {
            Some((d, s, id)) if d == dom_id && s == sys_key => id,
            _ => {
                let sys = usize::try_from(sys_key)
                    .ok()
                    .filter(|k| *k < system_values.len())
                    .map(|k| system_values.value(k))
                    .ok_or_else(|| corrupt(path, format!("row {i}: bad system key")))?;
                let c = usize::try_from(code_key)
                    .ok()
                    .filter(|k| *k < code_values.len())
                    .map(|k| code_values.value(k))
                    .ok_or_else(|| corrupt(path, format!("row {i}: bad code key")))?;
                let id = b.code_id(dom, sys, c);
                if let Some(slot) = usize::try_from(code_key)
                    .ok()
                    .and_then(|k| code_cache.get_mut(k))
                {
                    *slot = (dom_id, sys_key, id);
                }
                id
            }
        };
        if starts.is_null(i) {
            return Err(corrupt(path, format!("row {i}: no start date")));
        }
        let day = starts.value(i).saturating_add(EPOCH_FROM_CE);
        let lab = (dom == Domain::LabResult).then(|| {
            let v = if values.is_null(i) {
                f64::NAN
            } else {
                values.value(i)
            };
            (
                v,
                comparator_of(id_at(&comparator, &cmp_map, i)),
                id_at(&unit, &unit_map, i),
            )
        });
        b.push_row(
            code_id,
            patient,
            day,
            setting_of(id_at(&setting, &setting_map, i)),
            id_at(&provider, &provider_map, i),
            id_at(&pregion, &pregion_map, i),
            id_at(&source, &source_map, i),
            lab,
        );
    }
    Ok(())
}
