//! Reading a snapshot for an export: the persons in scope under their
//! project pseudonyms (in project-pseudonym order), and their events, read
//! segment by segment in passes over ranges of persons so that at most
//! about `events_per_pass` events are held at a time.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, Date32Array, Float64Array};
use chrono::NaiveDate;
use halsohub_identity::{Pseudonym, Pseudonymiser};
use halsohub_store::columns::{Columns, EventColumn as E, TextColumn, date_from_days};
use halsohub_store::{Comparator, Domain, Setting, Snapshot};

use crate::error::{ExportError, corrupt};
use crate::scope::{Patients, Scope};

/// The event columns an export reads (all but `code_known`).
const COLUMNS: [E; 18] = [
    E::PersonId,
    E::Domain,
    E::System,
    E::Code,
    E::StartDate,
    E::EndDate,
    E::Value,
    E::Comparator,
    E::Unit,
    E::ValueSystem,
    E::ValueCode,
    E::ValueText,
    E::Quantity,
    E::Setting,
    E::IsPrimary,
    E::Provider,
    E::ProviderRegion,
    E::Source,
];

/// One residence period.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Residence {
    pub region: String,
    pub municipality: Option<String>,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
}

/// A person in scope.
#[derive(Debug, Clone)]
pub(crate) struct PersonOut {
    /// Canonical person id in the store.
    pub store_id: u32,
    /// The project pseudonym: the only identity written.
    pub project: Pseudonym,
    /// The hub pseudonym (never written; the hub records who an extract
    /// held).
    pub hub: Pseudonym,
    pub sex: Option<char>,
    pub birth: Option<NaiveDate>,
    /// Death date (only when death is in scope and in the period).
    pub death: Option<NaiveDate>,
    pub residences: Vec<Residence>,
}

impl PersonOut {
    /// The project pseudonym as 32 hex digits.
    pub fn hex(&self) -> String {
        self.project.to_string()
    }
}

/// The persons in scope, sorted by project pseudonym; position `i` is
/// OMOP `person_id` `i + 1`.
pub(crate) struct People {
    pub persons: Vec<PersonOut>,
    /// Store canonical person id → position in `persons` ([`NONE`] when
    /// out of scope).
    by_store_id: Vec<u32>,
    /// Persons asked for that the snapshot does not know.
    pub unknown: u64,
    /// Persons left out as excluded (opt-outs).
    pub excluded: u64,
}

const NONE: u32 = u32::MAX;

impl People {
    pub fn read(
        snapshot: &Snapshot,
        scope: &Scope,
        project: &str,
        pseudonymiser: &Pseudonymiser,
    ) -> Result<People, ExportError> {
        let dir = snapshot.dir().to_path_buf();
        let identities = snapshot.identities()?;
        let canonical: HashMap<Pseudonym, u32> = identities.iter().copied().collect();
        let n_ids = identities.len();
        drop(identities);
        let mut wanted = vec![matches!(scope.patients, Patients::All); n_ids];
        let mut unknown = 0u64;
        if let Patients::Only(set) = &scope.patients {
            for p in set {
                match canonical.get(p).and_then(|c| wanted.get_mut(*c as usize)) {
                    Some(slot) => *slot = true,
                    None => unknown += 1,
                }
            }
        }
        let mut excluded = 0u64;
        for p in &scope.exclude {
            if let Some(slot) = canonical.get(p).and_then(|c| wanted.get_mut(*c as usize))
                && *slot
            {
                *slot = false;
                excluded += 1;
            }
        }
        drop(canonical);
        let death_ok = scope.has_domain(Domain::Death);
        let mut persons: Vec<PersonOut> = Vec::new();
        for sp in snapshot.persons()? {
            if !wanted.get(sp.person_id as usize).copied().unwrap_or(false) {
                continue;
            }
            let death = sp
                .person
                .death_date
                .filter(|d| death_ok && scope.period.contains(*d));
            persons.push(PersonOut {
                store_id: sp.person_id,
                project: pseudonymiser.project_pseudonym(project, &sp.person.patient),
                hub: sp.person.patient,
                sex: sp.person.sex,
                birth: sp.person.birth_date,
                death,
                residences: Vec::new(),
            });
        }
        persons.sort_by_key(|p| p.project);
        let mut by_store_id = vec![NONE; n_ids];
        for (i, p) in persons.iter().enumerate() {
            let slot = by_store_id.get_mut(p.store_id as usize).ok_or_else(|| {
                corrupt(
                    &dir.join("persons.parquet"),
                    format!("person_id {} is not in the identities table", p.store_id),
                )
            })?;
            *slot = u32::try_from(i).unwrap_or(NONE);
        }
        for r in snapshot.residences()? {
            let Some(&i) = by_store_id.get(r.person_id as usize) else {
                continue;
            };
            if let Some(p) = persons.get_mut(i as usize) {
                p.residences.push(Residence {
                    region: r.residence.region,
                    municipality: r.residence.municipality,
                    from: r.residence.from,
                    to: r.residence.to,
                });
            }
        }
        for p in &mut persons {
            p.residences.sort_by_key(|r| r.from);
        }
        Ok(People {
            persons,
            by_store_id,
            unknown,
            excluded,
        })
    }

    fn index_of(&self, store_id: i64) -> Option<u32> {
        usize::try_from(store_id)
            .ok()
            .and_then(|i| self.by_store_id.get(i))
            .copied()
            .filter(|&i| i != NONE)
    }
}

/// Interned strings of one export.
#[derive(Debug, Default)]
pub(crate) struct Strings {
    map: HashMap<Arc<str>, u32>,
    list: Vec<Arc<str>>,
}

impl Strings {
    pub fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        let a: Arc<str> = Arc::from(s);
        self.list.push(Arc::clone(&a));
        self.map.insert(a, i);
        i
    }

    pub fn get(&self, id: u32) -> &str {
        self.list.get(id as usize).map(|s| &**s).unwrap_or("")
    }
}

/// One event of a person in scope (strings interned in [`Strings`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ev {
    /// Position of the person in [`People::persons`].
    pub person: u32,
    pub domain: Domain,
    pub system: u32,
    pub code: u32,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub value: Option<f64>,
    pub comparator: Option<Comparator>,
    pub unit: Option<u32>,
    pub value_system: Option<u32>,
    pub value_code: Option<u32>,
    pub value_text: Option<u32>,
    pub quantity: Option<f64>,
    pub setting: Option<Setting>,
    pub primary: Option<bool>,
    pub provider: Option<u32>,
    pub provider_region: Option<u32>,
    pub source: u32,
}

/// Per-row values of a text column, each distinct value mapped once per
/// batch.
struct DictMap<T> {
    column: Option<TextColumn>,
    /// Per dictionary value: the mapped value, or why it cannot be mapped
    /// (an error only when a row uses it: dictionaries may hold values no
    /// row refers to).
    values: Vec<Option<Result<Option<T>, String>>>,
    name: E,
}

impl<T: Copy> DictMap<T> {
    /// An absent (nullable) column maps every row to `None`.
    fn new(
        c: &Columns<'_>,
        name: E,
        map: impl FnMut(&str) -> Result<Option<T>, String>,
    ) -> Result<DictMap<T>, ExportError> {
        let column = c.opt_text(name)?;
        let values = column.as_ref().map(|t| t.map(map)).unwrap_or_default();
        Ok(DictMap {
            column,
            values,
            name,
        })
    }

    /// The value of `row`; an error names the column and the value.
    fn get(&self, row: usize, path: &Path) -> Result<Option<T>, ExportError> {
        let Some(column) = self.column.as_ref() else {
            return Ok(None);
        };
        if column.is_null(row) {
            return Ok(None);
        }
        match column.key(row).and_then(|k| self.values.get(k)) {
            Some(Some(Ok(v))) => Ok(*v),
            Some(None) => Ok(None),
            Some(Some(Err(why))) => Err(corrupt(path, format!("column `{}`: {why}", self.name))),
            None => Err(corrupt(
                path,
                format!("column `{}`: dictionary key out of range", self.name),
            )),
        }
    }
}

fn opt<T: Array + 'static, V>(a: Option<&T>, i: usize, get: impl Fn(&T, usize) -> V) -> Option<V> {
    a.filter(|a| a.is_valid(i)).map(|a| get(a, i))
}

/// What a pass over the events skipped.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Skipped {
    /// Events of persons in scope outside the period or the categories.
    pub out_of_scope: u64,
}

/// Reads the events of persons `lo..hi` (positions in `people`) that the
/// scope allows, sorted by person, start date, domain, system and code.
pub(crate) fn read_events(
    snapshot: &Snapshot,
    people: &People,
    scope: &Scope,
    lo: u32,
    hi: u32,
    strings: &mut Strings,
    skipped: &mut Skipped,
) -> Result<Vec<Ev>, ExportError> {
    let mut out = Vec::new();
    let mut batches = snapshot.event_columns(&COLUMNS)?;
    while let Some(batch) = batches.next_batch()? {
        let path = batches.current_path();
        let b = Columns::new(&batch, &path);
        let pid = b.int64(E::PersonId)?;
        // Rows of this pass first: most batches of a multi-pass export
        // hold few of them, so nothing else is decoded for the others.
        let rows: Vec<(usize, u32)> = (0..b.rows())
            .filter_map(|i| {
                people
                    .index_of(pid.value(i))
                    .filter(|p| *p >= lo && *p < hi)
                    .map(|p| (i, p))
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let domain = DictMap::new(&b, E::Domain, |s| {
            Domain::parse(s)
                .map(Some)
                .ok_or_else(|| format!("unknown domain `{s}`"))
        })?;
        // An empty setting or comparator is an absent one.
        let setting = DictMap::new(&b, E::Setting, |s| match s {
            "" => Ok(None),
            _ => Setting::parse(s)
                .map(Some)
                .ok_or_else(|| format!("unknown setting `{s}`")),
        })?;
        let comparator = DictMap::new(&b, E::Comparator, |s| match s {
            "" => Ok(None),
            _ => Comparator::parse(s)
                .map(Some)
                .ok_or_else(|| format!("unknown comparator `{s}`")),
        })?;
        let mut text = |name: E| DictMap::new(&b, name, |s| Ok(Some(strings.id(s))));
        let system = text(E::System)?;
        let code = text(E::Code)?;
        let unit = text(E::Unit)?;
        let value_system = text(E::ValueSystem)?;
        let value_code = text(E::ValueCode)?;
        let value_text = text(E::ValueText)?;
        let provider = text(E::Provider)?;
        let provider_region = text(E::ProviderRegion)?;
        let source = text(E::Source)?;
        let start = b.date32(E::StartDate)?;
        let end = b.opt_typed::<Date32Array>(E::EndDate)?;
        let value = b.opt_typed::<Float64Array>(E::Value)?;
        let quantity = b.opt_typed::<Float64Array>(E::Quantity)?;
        let primary = b.opt_typed::<BooleanArray>(E::IsPrimary)?;
        for (i, person) in rows {
            let Some(d) = domain.get(i, &path)? else {
                return Err(corrupt(&path, format!("row {i}: no domain")));
            };
            let s = start
                .is_valid(i)
                .then(|| date_from_days(start.value(i)))
                .flatten()
                .ok_or_else(|| corrupt(&path, format!("row {i}: no valid start_date")))?;
            if !scope.has_domain(d) || !scope.period.contains(s) {
                skipped.out_of_scope += 1;
                continue;
            }
            out.push(Ev {
                person,
                domain: d,
                system: system.get(i, &path)?.unwrap_or(0),
                code: code.get(i, &path)?.unwrap_or(0),
                start: s,
                end: opt(end, i, |a, i| a.value(i)).and_then(date_from_days),
                value: opt(value, i, |a, i| a.value(i)).filter(|v| v.is_finite()),
                comparator: comparator.get(i, &path)?,
                unit: unit.get(i, &path)?,
                value_system: value_system.get(i, &path)?,
                value_code: value_code.get(i, &path)?,
                value_text: value_text.get(i, &path)?,
                quantity: opt(quantity, i, |a, i| a.value(i)).filter(|v| v.is_finite()),
                setting: setting.get(i, &path)?,
                primary: opt(primary, i, |a, i| a.value(i)),
                provider: provider.get(i, &path)?,
                provider_region: provider_region.get(i, &path)?,
                source: source.get(i, &path)?.unwrap_or(0),
            });
        }
    }
    out.sort_by(|a, b| {
        (a.person, a.start, a.domain)
            .cmp(&(b.person, b.start, b.domain))
            .then_with(|| strings.get(a.system).cmp(strings.get(b.system)))
            .then_with(|| strings.get(a.code).cmp(strings.get(b.code)))
    });
    Ok(out)
}

/// Splits persons `0..n` into passes of about `per_pass` events, given the
/// snapshot's events per person on average.
pub(crate) fn passes(n: usize, events: u64, persons: u64, per_pass: usize) -> Vec<(u32, u32)> {
    let n32 = u32::try_from(n).unwrap_or(u32::MAX);
    let per_person = if persons == 0 {
        1.0
    } else {
        (events as f64 / persons as f64).max(1.0)
    };
    let step = ((per_pass.max(1) as f64 / per_person).floor() as u32).max(1);
    let mut out = Vec::new();
    let mut lo = 0u32;
    while lo < n32 {
        let hi = lo.saturating_add(step).min(n32);
        out.push((lo, hi));
        lo = hi;
    }
    if out.is_empty() {
        out.push((0, 0));
    }
    out
}

/// For each event, the position (in `events`) of the encounter it belongs
/// to: the first encounter of the person with the same start date, care
/// setting, provider and source (register rows give an encounter and its
/// diagnoses and procedures exactly these), else with the same date and
/// setting. Encounters map to themselves; events without a setting, and
/// those no encounter matches, to `None`.
pub(crate) fn encounter_links(events: &[Ev]) -> Vec<Option<usize>> {
    // Events are sorted by start date, so the encounters are too.
    let encounters: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.domain == Domain::Encounter)
        .map(|(i, _)| i)
        .collect();
    let start_of = |j: usize| events.get(j).map(|e| e.start);
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            if e.domain == Domain::Encounter {
                return Some(i);
            }
            e.setting?;
            let lo = encounters.partition_point(|&j| start_of(j) < Some(e.start));
            let hi = encounters.partition_point(|&j| start_of(j) <= Some(e.start));
            let same_day = encounters.get(lo..hi).unwrap_or(&[]);
            let matches = |j: &&usize, strict: bool| {
                events.get(**j).is_some_and(|c| {
                    c.setting == e.setting
                        && (!strict || (c.provider == e.provider && c.source == e.source))
                })
            };
            same_day
                .iter()
                .find(|j| matches(j, true))
                .or_else(|| same_day.iter().find(|j| matches(j, false)))
                .copied()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_cover_everyone_once() {
        assert_eq!(passes(10, 100, 10, 1000), vec![(0, 10)]);
        assert_eq!(
            passes(10, 100, 10, 30),
            vec![(0, 3), (3, 6), (6, 9), (9, 10)]
        );
        assert_eq!(passes(0, 0, 0, 10), vec![(0, 0)]);
        assert_eq!(passes(3, 10_000, 3, 1), vec![(0, 1), (1, 2), (2, 3)]);
    }
}
