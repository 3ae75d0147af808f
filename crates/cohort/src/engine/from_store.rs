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

use arrow::array::Array;

use halsohub_store::columns::{Columns, EPOCH_FROM_CE, EventColumn as E, TextColumn};
use halsohub_store::{Comparator, Domain, Setting, Snapshot, StoreError};

use super::{Engine, EngineBuilder};

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

/// The event columns the engine reads (a projection: `code_known`,
/// `end_date`, `quantity`, `is_primary` and the value codes are not decoded).
const COLUMNS: [E; 12] = [
    E::PersonId,
    E::Domain,
    E::System,
    E::Code,
    E::StartDate,
    E::Value,
    E::Comparator,
    E::Unit,
    E::Setting,
    E::Provider,
    E::ProviderRegion,
    E::Source,
];

/// The mapped id of row `i` (`u32::MAX` when null or out of range).
#[inline]
fn id_at(t: &TextColumn, map: &[u32], i: usize) -> u32 {
    t.mapped_or(map, i, u32::MAX)
}

/// A per-key map with null dictionary values as `u32::MAX`.
fn flat(map: Vec<Option<u32>>) -> Vec<u32> {
    map.into_iter().map(|x| x.unwrap_or(u32::MAX)).collect()
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
        let mut batches = snapshot.event_columns(&COLUMNS)?;
        while let Some(batch) = batches.next_batch()? {
            let path = batches.current_path();
            add_batch(&mut b, &Columns::new(&batch, &path), &by_person_id)?;
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
    c: &Columns<'_>,
    by_person_id: &[u32],
) -> Result<(), EngineLoadError> {
    let path = c.path();
    let ids = c.int64(E::PersonId)?;
    let starts = c.date32(E::StartDate)?;
    let values = c.float64(E::Value)?;
    let domain = c.text(E::Domain)?;
    let system = c.text(E::System)?;
    let code = c.text(E::Code)?;
    let comparator = c.text(E::Comparator)?;
    let unit = c.text(E::Unit)?;
    let setting = c.text(E::Setting)?;
    let provider = c.text(E::Provider)?;
    let pregion = c.text(E::ProviderRegion)?;
    let source = c.text(E::Source)?;

    // Each distinct value of a batch is mapped once; rows go through
    // their dictionary keys.
    let domain_map = flat(domain.try_map(|s| {
        Domain::parse(s)
            .map(|d| d as u32)
            .ok_or_else(|| corrupt(path, format!("unknown domain `{s}`")))
    })?);
    let setting_map = flat(setting.map(|s| match Setting::parse(s) {
        Some(Setting::Inpatient) => 0,
        Some(Setting::Outpatient) => 1,
        Some(Setting::PrimaryCare) => 2,
        None => u32::MAX,
    }));
    let cmp_map = flat(comparator.map(|s| match Comparator::parse(s) {
        Some(Comparator::Lt) => 0,
        Some(Comparator::Le) => 1,
        Some(Comparator::Gt) => 2,
        Some(Comparator::Ge) => 3,
        None => u32::MAX,
    }));
    let unit_map = flat(unit.map(|s| b.unit_id(s)));
    let provider_map = flat(provider.map(|s| b.provider_id(s)));
    let pregion_map = flat(pregion.map(|s| b.region_id(s)));
    let source_map = flat(source.map(|s| b.source_id(s)));
    let system_values = system.values();
    let code_values = code.values();
    // Cache per code dictionary key: (domain id, system key, engine code id).
    let mut code_cache: Vec<(u32, usize, u32)> = vec![(u32::MAX, usize::MAX, 0); code_values.len()];
    let domains = Domain::ALL;

    for i in 0..c.rows() {
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
        let sys_key = system
            .key(i)
            .ok_or_else(|| corrupt(path, format!("row {i}: bad system key")))?;
        let code_key = code
            .key(i)
            .ok_or_else(|| corrupt(path, format!("row {i}: bad code key")))?;
        let code_id = match code_cache.get(code_key).copied() {
            Some((d, s, id)) if d == dom_id && s == sys_key => id,
            _ => {
                let id = b.code_id(
                    dom,
                    system_values.value(sys_key),
                    code_values.value(code_key),
                );
                if let Some(slot) = code_cache.get_mut(code_key) {
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
