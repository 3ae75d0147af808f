//! The fast engine: columnar, code-sorted events and per-patient arrays,
//! evaluated with roaring bitmaps. See the crate documentation for the
//! design.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use halsohub_identity::Pseudonym;
use halsohub_store::{Comparator, Domain, Event, Person, Residence, Setting};
use roaring::RoaringBitmap;

use crate::codeset::{CodeLists, age_band_label, conversion_factor, lab_matches_factor, resolve};
use crate::query::{
    At, Criterion, Dimension, EventCriterion, Occurrence, Output, PersonCriterion, Query, Sex, Step,
};
use crate::reference::{period_label, periods};
use crate::result::{Cell, EvalError, FunnelStep, MAX_CELLS, OutputResult, SeriesPoint};
use crate::validate::{age_bands_of, validate};

mod members;
mod vocabulary;

const NO_DATE: i32 = i32::MAX;

/// A date packed as `year << 9 | month << 5 | day` (month and day in the
/// low 9 bits): integer order is date order, the year is `v >> 9`, and whole
/// years of age are the year difference less one when the birthday (low 9
/// bits) has not come yet ([`age_years`]). Every `NaiveDate` fits (chrono's
/// years lie within ±262 143).
fn ymd(d: NaiveDate) -> i32 {
    d.year()
        .checked_mul(512)
        .map_or(NO_YMD, |y| y | (d.month() << 5 | d.day()) as i32)
}

/// Unknown packed date (below every real one).
const NO_YMD: i32 = i32::MIN;

/// The year of a packed date.
fn ymd_year(v: i32) -> i32 {
    v >> 9
}

/// Whole years from packed `birth` to packed `on` (`None` when either is
/// unknown or `on` is before `birth`); equals [`crate::codeset::age_on`].
fn age_years(birth: i32, on: i32) -> Option<u32> {
    if birth == NO_YMD || on == NO_YMD || on < birth {
        return None;
    }
    let years = ymd_year(on) - ymd_year(birth) - i32::from((on & 511) < (birth & 511));
    u32::try_from(years).ok()
}

fn day_number(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

fn from_day_number(n: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(n)
}

/// Interns strings to dense ids; ids are renumbered in sorted order at
/// build time so that "smallest id" means "smallest string".
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(s.to_string(), id);
        self.names.push(s.to_string());
        id
    }

    /// Sorted names and the old id → new id map.
    fn sorted(self) -> (Vec<String>, Vec<u32>) {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_by(|a, b| self.names[*a as usize].cmp(&self.names[*b as usize]));
        let mut remap = vec![0u32; self.names.len()];
        for (new, old) in order.iter().enumerate() {
            remap[*old as usize] = new as u32;
        }
        let mut names = self.names;
        let sorted = order
            .iter()
            .map(|o| std::mem::take(&mut names[*o as usize]))
            .collect();
        (sorted, remap)
    }
}

/// Collects records and builds an [`Engine`]. Feed events, persons and
/// residences in any order (e.g. batch by batch from the store), then call
/// [`EngineBuilder::finish`].
#[derive(Default)]
pub struct EngineBuilder {
    patients: HashMap<Pseudonym, u32>,
    patient_list: Vec<Pseudonym>,
    codes: HashMap<(Domain, String, String), u32>,
    code_list: Vec<(Domain, String, String)>,
    providers: Interner,
    regions: Interner,
    sources: Interner,
    units: Interner,
    ev_code: Vec<u32>,
    ev_patient: Vec<u32>,
    ev_date: Vec<i32>,
    /// Interned event contexts (builder ids), see [`Context`].
    contexts: HashMap<Context, u32>,
    context_list: Vec<Context>,
    /// The last context looked up and its id (rows of one source row share
    /// theirs).
    last_context: Option<(Context, u32)>,
    ev_context: Vec<u32>,
    ev_value: Vec<f64>,
    ev_cmp: Vec<u8>,
    ev_unit: Vec<u32>,
    persons: Vec<(u32, u8, Option<NaiveDate>, Option<NaiveDate>)>,
    residences: Vec<(u32, i32, i32, u32)>,
}

fn setting_code(s: Option<Setting>) -> u8 {
    match s {
        None => 0,
        Some(Setting::Inpatient) => 1,
        Some(Setting::Outpatient) => 2,
        Some(Setting::PrimaryCare) => 3,
    }
}

fn cmp_code(c: Option<Comparator>) -> u8 {
    match c {
        None => 0,
        Some(Comparator::Lt) => 1,
        Some(Comparator::Le) => 2,
        Some(Comparator::Gt) => 3,
        Some(Comparator::Ge) => 4,
    }
}

fn cmp_of(c: u8) -> Option<Comparator> {
    match c {
        1 => Some(Comparator::Lt),
        2 => Some(Comparator::Le),
        3 => Some(Comparator::Gt),
        4 => Some(Comparator::Ge),
        _ => None,
    }
}

impl EngineBuilder {
    /// An empty builder.
    pub fn new() -> EngineBuilder {
        EngineBuilder::default()
    }

    fn patient(&mut self, p: Pseudonym) -> u32 {
        if let Some(id) = self.patients.get(&p) {
            return *id;
        }
        let id = self.patient_list.len() as u32;
        self.patients.insert(p, id);
        self.patient_list.push(p);
        id
    }

    /// Add one event.
    pub fn add_event(&mut self, e: &Event) {
        let p = self.patient(e.patient);
        let key = (e.domain, e.system.clone(), e.code.clone());
        let code = match self.codes.get(&key) {
            Some(id) => *id,
            None => {
                let id = self.code_list.len() as u32;
                self.codes.insert(key.clone(), id);
                self.code_list.push(key);
                id
            }
        };
        self.ev_code.push(code);
        self.ev_patient.push(p);
        self.ev_date.push(day_number(e.start));
        let provider = e
            .provider
            .as_deref()
            .map_or(u32::MAX, |s| self.providers.id(s));
        let pregion = e
            .provider_region
            .as_deref()
            .map_or(u32::MAX, |s| self.regions.id(s));
        let source = self.sources.id(&e.source);
        let ctx = self.context_id(Context {
            provider,
            pregion,
            source,
            setting: setting_code(e.setting),
        });
        self.ev_context.push(ctx);
        if e.domain == Domain::LabResult {
            self.ev_value.push(e.value.unwrap_or(f64::NAN));
            self.ev_cmp.push(cmp_code(e.comparator));
            let unit = e.unit.as_deref().map_or(u32::MAX, |s| self.units.id(s));
            self.ev_unit.push(unit);
        } else {
            self.ev_value.push(f64::NAN);
            self.ev_cmp.push(0);
            self.ev_unit.push(u32::MAX);
        }
    }

    /// Add one person (a later record for the same patient replaces an
    /// earlier one).
    pub fn add_person(&mut self, person: &Person) {
        let p = self.patient(person.patient);
        let sex = match person.sex {
            Some('F') => 2,
            Some('M') => 3,
            _ => 1,
        };
        self.persons
            .push((p, sex, person.birth_date, person.death_date));
    }

    /// Add one residence period.
    pub fn add_residence(&mut self, r: &Residence) {
        let p = self.patient(r.patient);
        let region = self.regions.id(&r.region);
        let to = r.to.map_or(NO_DATE, day_number);
        self.residences.push((p, day_number(r.from), to, region));
    }

    // ---- column-wise feeding, for `Engine::from_snapshot` ----

    /// Dense builder id of a patient (registered on first sight).
    pub(crate) fn patient_id(&mut self, p: Pseudonym) -> u32 {
        self.patient(p)
    }

    /// Id of a (domain, system, code) key; strings are copied on first
    /// sight only.
    pub(crate) fn code_id(&mut self, domain: Domain, system: &str, code: &str) -> u32 {
        let key = (domain, system.to_string(), code.to_string());
        if let Some(id) = self.codes.get(&key) {
            return *id;
        }
        let id = self.code_list.len() as u32;
        self.codes.insert(key.clone(), id);
        self.code_list.push(key);
        id
    }

    pub(crate) fn provider_id(&mut self, s: &str) -> u32 {
        self.providers.id(s)
    }

    pub(crate) fn region_id(&mut self, s: &str) -> u32 {
        self.regions.id(s)
    }

    pub(crate) fn source_id(&mut self, s: &str) -> u32 {
        self.sources.id(s)
    }

    pub(crate) fn unit_id(&mut self, s: &str) -> u32 {
        self.units.id(s)
    }

    /// Id of an event context (builder ids inside).
    fn context_id(&mut self, c: Context) -> u32 {
        if let Some((last, id)) = self.last_context
            && last == c
        {
            return id;
        }
        let id = match self.contexts.get(&c) {
            Some(id) => *id,
            None => {
                let id = self.context_list.len() as u32;
                self.contexts.insert(c, id);
                self.context_list.push(c);
                id
            }
        };
        self.last_context = Some((c, id));
        id
    }

    /// Reserve room for `n` more events.
    pub(crate) fn reserve_events(&mut self, n: usize) {
        self.ev_code.reserve(n);
        self.ev_patient.reserve(n);
        self.ev_date.reserve(n);
        self.ev_context.reserve(n);
        self.ev_value.reserve(n);
        self.ev_cmp.reserve(n);
        self.ev_unit.reserve(n);
    }

    /// One event row from already interned ids (`u32::MAX` = absent); `day`
    /// is days from CE; `lab` tells whether value / comparator / unit apply.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_row(
        &mut self,
        code: u32,
        patient: u32,
        day: i32,
        setting: Option<Setting>,
        provider: u32,
        pregion: u32,
        source: u32,
        lab: Option<(f64, Option<Comparator>, u32)>,
    ) {
        self.ev_code.push(code);
        self.ev_patient.push(patient);
        self.ev_date.push(day);
        let ctx = self.context_id(Context {
            provider,
            pregion,
            source,
            setting: setting_code(setting),
        });
        self.ev_context.push(ctx);
        match lab {
            Some((v, c, u)) => {
                self.ev_value.push(v);
                self.ev_cmp.push(cmp_code(c));
                self.ev_unit.push(u);
            }
            None => {
                self.ev_value.push(f64::NAN);
                self.ev_cmp.push(0);
                self.ev_unit.push(u32::MAX);
            }
        }
    }

    /// A person by builder patient id. `in_register` false records no
    /// population facts (the patient is known from events only).
    pub(crate) fn push_person(
        &mut self,
        patient: u32,
        in_register: bool,
        sex: Option<char>,
        birth: Option<NaiveDate>,
        death: Option<NaiveDate>,
    ) {
        let code = match (in_register, sex) {
            (false, _) => 0,
            (true, Some('F')) => 2,
            (true, Some('M')) => 3,
            (true, _) => 1,
        };
        self.persons.push((patient, code, birth, death));
    }

    /// A residence period by builder patient id and interned region.
    pub(crate) fn push_residence(&mut self, patient: u32, from: i32, to: i32, region: u32) {
        self.residences.push((patient, from, to, region));
    }

    /// Sort and index everything; `snapshot` names the data.
    pub fn finish(self, snapshot: &str) -> Engine {
        let EngineBuilder {
            patient_list,
            code_list,
            providers,
            regions,
            sources,
            units,
            ev_code,
            ev_patient,
            ev_date,
            context_list,
            ev_context,
            ev_value,
            ev_cmp,
            ev_unit,
            persons,
            residences,
            ..
        } = self;
        // Dense patient ids in pseudonym order.
        let mut order: Vec<u32> = (0..patient_list.len() as u32).collect();
        order.sort_by(|a, b| patient_list[*a as usize].cmp(&patient_list[*b as usize]));
        let mut premap = vec![0u32; patient_list.len()];
        for (new, old) in order.iter().enumerate() {
            premap[*old as usize] = new as u32;
        }
        let patients: Vec<Pseudonym> = order.iter().map(|o| patient_list[*o as usize]).collect();
        let n = patients.len();

        // Codes in (domain, system, code) order.
        let mut corder: Vec<u32> = (0..code_list.len() as u32).collect();
        corder.sort_by(|a, b| code_list[*a as usize].cmp(&code_list[*b as usize]));
        let mut cremap = vec![0u32; code_list.len()];
        for (new, old) in corder.iter().enumerate() {
            cremap[*old as usize] = new as u32;
        }
        let codes: Vec<CodeKey> = corder
            .iter()
            .map(|o| {
                let (d, s, c) = &code_list[*o as usize];
                CodeKey {
                    domain: *d,
                    system: s.clone(),
                    code: c.clone(),
                }
            })
            .collect();
        let (providers, prov_remap) = providers.sorted();
        let (regions, reg_remap) = regions.sorted();
        let (sources, src_remap) = sources.sorted();
        let (units, unit_remap) = units.sorted();

        // Sort event rows by (code, patient, date): a counting sort into
        // code buckets, then each bucket sorted by a packed (patient, date)
        // key. Ties keep no particular order; nothing depends on it.
        let rows = ev_code.len();
        let mut code_off = vec![0u32; codes.len() + 1];
        for &c in &ev_code {
            code_off[cremap[c as usize] as usize + 1] += 1;
        }
        for c in 0..codes.len() {
            code_off[c + 1] += code_off[c];
        }
        let mut perm: Vec<u32> = vec![0; rows];
        {
            let mut next: Vec<u32> = code_off.clone();
            for (i, &c) in ev_code.iter().enumerate() {
                let slot = &mut next[cremap[c as usize] as usize];
                perm[*slot as usize] = i as u32;
                *slot += 1;
            }
        }
        drop(ev_code);
        {
            let mut keyed: Vec<(u64, u32)> = Vec::new();
            for c in 0..codes.len() {
                let (a, b) = (code_off[c] as usize, code_off[c + 1] as usize);
                let bucket = &mut perm[a..b];
                keyed.clear();
                keyed.extend(bucket.iter().map(|&i| {
                    let p = u64::from(premap[ev_patient[i as usize] as usize]);
                    let d = u64::from((ev_date[i as usize] as u32) ^ 0x8000_0000);
                    ((p << 32) | d, i)
                }));
                keyed.sort_unstable();
                for (slot, (_, i)) in bucket.iter_mut().zip(&keyed) {
                    *slot = *i;
                }
            }
        }
        let map = |remap: &[u32], id: u32| -> u32 {
            if id == u32::MAX {
                u32::MAX
            } else {
                remap[id as usize]
            }
        };
        let patient_col: Vec<u32> = perm
            .iter()
            .map(|&i| premap[ev_patient[i as usize] as usize])
            .collect();
        drop(ev_patient);
        let date_col: Vec<i32> = perm.iter().map(|&i| ev_date[i as usize]).collect();
        drop(ev_date);
        // Contexts with final provider / region / source ids, in sorted
        // order (distinct builder contexts stay distinct: the remaps are
        // one-to-one).
        let remapped: Vec<Context> = context_list
            .iter()
            .map(|c| Context {
                provider: map(&prov_remap, c.provider),
                pregion: map(&reg_remap, c.pregion),
                source: map(&src_remap, c.source),
                setting: c.setting,
            })
            .collect();
        let mut xorder: Vec<u32> = (0..remapped.len() as u32).collect();
        xorder.sort_by_key(|x| remapped[*x as usize]);
        let mut xremap = vec![0u32; remapped.len()];
        for (new, old) in xorder.iter().enumerate() {
            xremap[*old as usize] = new as u32;
        }
        let contexts: Vec<Context> = xorder.iter().map(|x| remapped[*x as usize]).collect();
        drop(remapped);
        let context_col: Vec<u32> = perm
            .iter()
            .map(|&i| xremap[ev_context[i as usize] as usize])
            .collect();
        drop(ev_context);
        // Lab rows are contiguous: the lab domain's codes are adjacent.
        let first_lab = codes.partition_point(|c| c.domain < Domain::LabResult);
        let end_lab = codes.partition_point(|c| c.domain <= Domain::LabResult);
        let lab_lo = code_off.get(first_lab).map_or(rows, |x| *x as usize);
        let lab_hi = code_off
            .get(end_lab)
            .map_or(rows, |x| *x as usize)
            .max(lab_lo);
        let lab_rows = perm.get(lab_lo..lab_hi).unwrap_or(&[]);
        let lab_value: Vec<f64> = lab_rows.iter().map(|&i| ev_value[i as usize]).collect();
        let lab_cmp: Vec<u8> = lab_rows.iter().map(|&i| ev_cmp[i as usize]).collect();
        let lab_unit: Vec<u16> = lab_rows
            .iter()
            .map(|&i| u16::try_from(map(&unit_remap, ev_unit[i as usize])).unwrap_or(u16::MAX))
            .collect();

        // Persons: later records replace earlier ones.
        let mut sex = vec![0u8; n];
        let mut birth_ymd = vec![NO_YMD; n];
        let mut death_ymd = vec![NO_YMD; n];
        for (p, s, b, d) in persons {
            let p = premap[p as usize] as usize;
            sex[p] = s;
            birth_ymd[p] = b.map_or(NO_YMD, ymd);
            death_ymd[p] = d.map_or(NO_YMD, ymd);
        }
        // Residences grouped per patient.
        let mut res: Vec<(u32, i32, i32, u16)> = residences
            .into_iter()
            .map(|(p, f, t, r)| {
                (
                    premap[p as usize],
                    f,
                    t,
                    u16::try_from(reg_remap[r as usize]).unwrap_or(u16::MAX),
                )
            })
            .collect();
        res.sort_unstable();
        let mut res_off = vec![0u32; n + 1];
        for r in &res {
            res_off[r.0 as usize + 1] += 1;
        }
        for i in 0..n {
            res_off[i + 1] += res_off[i];
        }
        Engine {
            snapshot: snapshot.to_string(),
            patients,
            sex,
            birth_ymd,
            death_ymd,
            res_off,
            res_from: res.iter().map(|r| r.1).collect(),
            res_to: res.iter().map(|r| r.2).collect(),
            res_region: res.iter().map(|r| r.3).collect(),
            regions,
            codes,
            code_off,
            ev_patient: patient_col,
            ev_date: date_col,
            ev_context: context_col,
            contexts,
            providers,
            sources,
            lab_lo,
            lab_value,
            lab_cmp,
            lab_unit,
            units,
        }
    }
}

/// Everything about an event besides its code, patient, day and lab value:
/// provider, provider region, source and care setting. Events share few
/// distinct contexts (a provider has one region and a few sources and
/// settings), so each event holds one context id and the engine one table.
/// Ids are interned strings (`u32::MAX` = absent); `setting` is
/// [`setting_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Context {
    provider: u32,
    pregion: u32,
    source: u32,
    setting: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct CodeKey {
    domain: Domain,
    system: String,
    code: String,
}

/// The fast cohort engine over one snapshot. Build it with
/// [`EngineBuilder`] (or [`Engine::build`]); it is immutable afterwards and
/// may be shared between threads.
pub struct Engine {
    snapshot: String,
    /// Dense patient id → pseudonym, in pseudonym order.
    patients: Vec<Pseudonym>,
    /// 0 no person record, 1 unknown sex, 2 F, 3 M.
    sex: Vec<u8>,
    /// Birth and death dates packed by [`ymd`] ([`NO_YMD`] when unknown):
    /// order is date order and whole years of age are [`age_years`].
    birth_ymd: Vec<i32>,
    death_ymd: Vec<i32>,
    res_off: Vec<u32>,
    res_from: Vec<i32>,
    res_to: Vec<i32>,
    res_region: Vec<u16>,
    /// Region names (residence and provider regions share ids).
    regions: Vec<String>,
    codes: Vec<CodeKey>,
    code_off: Vec<u32>,
    ev_patient: Vec<u32>,
    ev_date: Vec<i32>,
    /// Context id of each event: an index into `contexts`.
    ev_context: Vec<u32>,
    /// Distinct event contexts (final provider / region / source ids).
    contexts: Vec<Context>,
    providers: Vec<String>,
    sources: Vec<String>,
    lab_lo: usize,
    lab_value: Vec<f64>,
    lab_cmp: Vec<u8>,
    lab_unit: Vec<u16>,
    units: Vec<String>,
}

/// Per-patient sorted distinct dates of one event criterion.
struct PatientDates {
    pats: Vec<u32>,
    off: Vec<u32>,
    dates: Vec<i32>,
}

impl PatientDates {
    fn of(&self, i: usize) -> &[i32] {
        let lo = self.off.get(i).copied().unwrap_or(0) as usize;
        let hi = self.off.get(i + 1).copied().unwrap_or(0) as usize;
        self.dates.get(lo..hi).unwrap_or(&[])
    }
}

/// Row filter of an event criterion, precomputed against the dictionaries.
struct RowFilter<'q> {
    ranges: Vec<(usize, usize)>,
    /// Per context id: does it pass the setting, provider, provider region
    /// and source filters? `None` when the criterion has none of them.
    contexts: Option<Vec<bool>>,
    value: Option<(&'q crate::query::ValueFilter, Vec<Option<f64>>)>,
    from: i32,
    to: i32,
}

/// Candidate index dates (patient, date), sorted.
struct Candidates {
    pat: Vec<u32>,
    date: Vec<i32>,
}

/// Patients to leave out of every count (opt-outs), as dense ids of one
/// engine. Build with [`Engine::exclusion`].
#[derive(Debug, Clone, Default)]
pub struct Exclusion(RoaringBitmap);

impl Engine {
    /// Build an engine from in-memory records.
    pub fn build(
        snapshot: &str,
        events: &[Event],
        persons: &[Person],
        residences: &[Residence],
    ) -> Engine {
        let mut b = EngineBuilder::new();
        for e in events {
            b.add_event(e);
        }
        for p in persons {
            b.add_person(p);
        }
        for r in residences {
            b.add_residence(r);
        }
        b.finish(snapshot)
    }

    /// The snapshot this engine answers for.
    pub fn snapshot(&self) -> &str {
        &self.snapshot
    }

    /// Number of patients known (persons, events or residences).
    pub fn patient_count(&self) -> usize {
        self.patients.len()
    }

    /// Region names known to the engine (residence and provider regions),
    /// sorted: every value a `region` stratum can take besides `unknown`.
    pub fn region_names(&self) -> &[String] {
        &self.regions
    }

    /// Provider names known to the engine, sorted: every value a `provider`
    /// stratum can take besides `unknown`.
    pub fn provider_names(&self) -> &[String] {
        &self.providers
    }

    /// Number of stored events.
    pub fn event_count(&self) -> usize {
        self.ev_patient.len()
    }

    /// Bytes the engine holds: the struct itself and the heap memory
    /// reserved by every array (capacity, not length), strings and
    /// dictionaries included. Allocator bookkeeping is not counted.
    pub fn resident_bytes(&self) -> usize {
        use std::mem::size_of;
        fn heap<T>(v: &Vec<T>) -> usize {
            v.capacity() * size_of::<T>()
        }
        fn names(v: &Vec<String>) -> usize {
            heap(v) + v.iter().map(String::capacity).sum::<usize>()
        }
        // Every field, so that a new one cannot be forgotten here.
        let Engine {
            snapshot,
            patients,
            sex,
            birth_ymd,
            death_ymd,
            res_off,
            res_from,
            res_to,
            res_region,
            regions,
            codes,
            code_off,
            ev_patient,
            ev_date,
            ev_context,
            contexts,
            providers,
            sources,
            lab_lo: _,
            lab_value,
            lab_cmp,
            lab_unit,
            units,
        } = self;
        size_of::<Engine>()
            + snapshot.capacity()
            + heap(patients)
            + heap(sex)
            + heap(birth_ymd)
            + heap(death_ymd)
            + heap(res_off)
            + heap(res_from)
            + heap(res_to)
            + heap(res_region)
            + names(regions)
            + heap(codes)
            + codes
                .iter()
                .map(|c| c.system.capacity() + c.code.capacity())
                .sum::<usize>()
            + heap(code_off)
            + heap(ev_patient)
            + heap(ev_date)
            + heap(ev_context)
            + heap(contexts)
            + names(providers)
            + names(sources)
            + heap(lab_value)
            + heap(lab_cmp)
            + heap(lab_unit)
            + names(units)
    }

    /// The dense-id set of the given pseudonyms (unknown ones are ignored).
    pub fn exclusion<'p>(&self, pseudonyms: impl IntoIterator<Item = &'p Pseudonym>) -> Exclusion {
        let mut b = RoaringBitmap::new();
        for p in pseudonyms {
            if let Ok(i) = self.patients.binary_search(p) {
                b.insert(i as u32);
            }
        }
        Exclusion(b)
    }

    /// Evaluate a query and name the result by snapshot and canonical query
    /// hash.
    pub fn run(
        &self,
        q: &Query,
        lists: &CodeLists,
        exclude: &Exclusion,
    ) -> Result<crate::result::QueryResult, EvalError> {
        let output = self.evaluate(q, lists, exclude)?;
        Ok(crate::result::QueryResult {
            snapshot: self.snapshot.clone(),
            query_hash: crate::canonical::query_hash(q),
            output,
        })
    }

    /// Evaluate a query, leaving out `exclude`. Exact numbers.
    pub fn evaluate(
        &self,
        q: &Query,
        lists: &CodeLists,
        exclude: &Exclusion,
    ) -> Result<OutputResult, EvalError> {
        validate(q, lists)?;
        let mut universe = RoaringBitmap::new();
        universe.insert_range(0..self.patients.len() as u32);
        universe -= &exclude.0;
        let ev = Eval {
            e: self,
            q,
            lists,
            universe,
            cands: None,
        };
        ev.run()
    }

    fn date_at(&self, i: usize) -> i32 {
        self.ev_date.get(i).copied().unwrap_or(NO_DATE)
    }

    /// Provider id of row `i` (`u32::MAX` = none).
    fn provider_at(&self, i: usize) -> u32 {
        self.ev_context
            .get(i)
            .and_then(|c| self.contexts.get(*c as usize))
            .map_or(u32::MAX, |c| c.provider)
    }

    fn row_filter<'q>(&self, e: &'q EventCriterion, lists: &CodeLists) -> RowFilter<'q> {
        let lo = self.codes.partition_point(|c| c.domain < e.domain);
        let hi = self.codes.partition_point(|c| c.domain <= e.domain);
        let matcher = e.codes.as_ref().map(|c| resolve(c, lists));
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for c in lo..hi {
            let Some(key) = self.codes.get(c) else {
                continue;
            };
            if let Some(m) = &matcher
                && !m.matches(&key.system, &key.code)
            {
                continue;
            }
            let a = self.code_off.get(c).copied().unwrap_or(0) as usize;
            let b = self.code_off.get(c + 1).copied().unwrap_or(0) as usize;
            if a == b {
                continue;
            }
            // One range per code: rows are sorted by patient within a code
            // only, so adjacent codes are not merged.
            ranges.push((a, b));
        }
        let allowed = |names: &[String], wanted: &Option<Vec<String>>| {
            wanted
                .as_ref()
                .map(|w| names.iter().map(|n| w.contains(n)).collect::<Vec<bool>>())
        };
        let setting_mask = e
            .setting
            .as_ref()
            .map(|s| s.iter().fold(0u8, |m, x| m | (1 << setting_code(Some(*x)))));
        let providers = allowed(&self.providers, &e.provider);
        let pregions = allowed(&self.regions, &e.provider_region);
        let sources = allowed(&self.sources, &e.source);
        let any = setting_mask.is_some()
            || providers.is_some()
            || pregions.is_some()
            || sources.is_some();
        // An absent value (`u32::MAX`) passes no list.
        let ok = |allowed: &Option<Vec<bool>>, id: u32| match allowed {
            None => true,
            Some(a) => a.get(id as usize).copied().unwrap_or(false),
        };
        let contexts = any.then(|| {
            self.contexts
                .iter()
                .map(|c| {
                    setting_mask.is_none_or(|m| c.setting != 0 && m & (1 << c.setting) != 0)
                        && ok(&providers, c.provider)
                        && ok(&pregions, c.pregion)
                        && ok(&sources, c.source)
                })
                .collect()
        });
        RowFilter {
            ranges,
            contexts,
            value: e.value.as_ref().map(|v| {
                let factors = self
                    .units
                    .iter()
                    .map(|u| conversion_factor(u, &v.unit))
                    .collect();
                (v, factors)
            }),
            from: e.date.and_then(|d| d.from).map_or(i32::MIN, day_number),
            to: e.date.and_then(|d| d.to).map_or(i32::MAX, day_number),
        }
    }

    /// Does row `i` pass the attribute filters (not the date range)?
    fn row_ok(&self, f: &RowFilter<'_>, i: usize) -> bool {
        if let Some(ok) = &f.contexts {
            let c = self.ev_context.get(i).copied().unwrap_or(u32::MAX);
            if !ok.get(c as usize).copied().unwrap_or(false) {
                return false;
            }
        }
        if let Some((v, factors)) = &f.value {
            let Some(j) = i.checked_sub(self.lab_lo) else {
                return false;
            };
            let value = self.lab_value.get(j).copied().filter(|x| !x.is_nan());
            let cmp = cmp_of(self.lab_cmp.get(j).copied().unwrap_or(0));
            let factor = self
                .lab_unit
                .get(j)
                .and_then(|u| factors.get(usize::from(*u)))
                .copied()
                .flatten();
            let has_unit = self.lab_unit.get(j).is_some_and(|u| *u != u16::MAX);
            if !has_unit || !lab_matches_factor(value, cmp, factor, v) {
                return false;
            }
        }
        true
    }

    /// Steps (1)–(3) of an event criterion: per patient, the sorted distinct
    /// dates of matching events after occurrence selection and date range.
    fn patient_dates(
        &self,
        e: &EventCriterion,
        occ: Occurrence,
        lists: &CodeLists,
    ) -> PatientDates {
        let f = self.row_filter(e, lists);
        let mut keys: Vec<u64> = Vec::new();
        for &(a, b) in &f.ranges {
            for i in a..b {
                if self.row_ok(&f, i) {
                    let p = u64::from(self.ev_patient.get(i).copied().unwrap_or(0));
                    let d = u64::from((self.date_at(i) as u32) ^ 0x8000_0000);
                    keys.push((p << 32) | d);
                }
            }
        }
        if f.ranges.len() > 1 {
            keys.sort_unstable();
        }
        keys.dedup();
        let mut pd = PatientDates {
            pats: Vec::new(),
            off: vec![0],
            dates: Vec::new(),
        };
        let mut i = 0;
        while i < keys.len() {
            let p = (keys[i] >> 32) as u32;
            let mut j = i;
            while j < keys.len() && (keys[j] >> 32) as u32 == p {
                j += 1;
            }
            let day = |k: u64| ((k as u32) ^ 0x8000_0000) as i32;
            let group = &keys[i..j];
            let chosen: &[u64] = match occ {
                Occurrence::Any => group,
                Occurrence::First => &group[..1],
                Occurrence::Last => &group[group.len() - 1..],
            };
            let before = pd.dates.len();
            for k in chosen {
                let d = day(*k);
                if d >= f.from && d <= f.to {
                    pd.dates.push(d);
                }
            }
            if pd.dates.len() > before {
                pd.pats.push(p);
                pd.off.push(pd.dates.len() as u32);
            }
            i = j;
        }
        pd
    }

    fn region_on(&self, p: u32, day: i32) -> Option<u16> {
        let lo = self.res_off.get(p as usize).copied().unwrap_or(0) as usize;
        let hi = self.res_off.get(p as usize + 1).copied().unwrap_or(0) as usize;
        let mut best: Option<(i32, u16)> = None;
        for i in lo..hi {
            let (Some(&f), Some(&t), Some(&r)) = (
                self.res_from.get(i),
                self.res_to.get(i),
                self.res_region.get(i),
            ) else {
                continue;
            };
            if f <= day && day < t {
                best = match best {
                    Some((bf, br)) if bf > f || (bf == f && br <= r) => Some((bf, br)),
                    _ => Some((f, r)),
                };
            }
        }
        best.map(|b| b.1)
    }

    fn person_at(&self, p: u32, c: &PersonCriterion, day: Option<i32>) -> bool {
        let pi = p as usize;
        let sex = self.sex.get(pi).copied().unwrap_or(0);
        let birth = self.birth_ymd.get(pi).copied().unwrap_or(NO_YMD);
        let date = day.and_then(from_day_number).map(ymd);
        match c {
            PersonCriterion::Sex(s) => sex == if *s == Sex::F { 2 } else { 3 },
            PersonCriterion::Age(a) => date.and_then(|d| age_years(birth, d)).is_some_and(|age| {
                a.min.is_none_or(|m| age >= m) && a.max.is_none_or(|m| age <= m)
            }),
            PersonCriterion::BirthYear(y) => {
                birth != NO_YMD
                    && y.from.is_none_or(|f| ymd_year(birth) >= f)
                    && y.to.is_none_or(|t| ymd_year(birth) <= t)
            }
            PersonCriterion::Region(r) => day
                .and_then(|d| self.region_on(p, d))
                .and_then(|id| self.regions.get(usize::from(id)))
                .is_some_and(|name| r.regions.contains(name)),
            PersonCriterion::Alive(_) => {
                let Some(d) = date else { return false };
                let death = self.death_ymd.get(pi).copied().unwrap_or(NO_YMD);
                sex != 0 && (birth == NO_YMD || birth <= d) && (death == NO_YMD || death > d)
            }
        }
    }
}

fn at_of(c: &PersonCriterion) -> Option<At> {
    match c {
        PersonCriterion::Age(a) => Some(a.at),
        PersonCriterion::Region(r) => Some(r.at),
        PersonCriterion::Alive(a) => Some(a.at),
        PersonCriterion::Sex(_) | PersonCriterion::BirthYear(_) => None,
    }
}

fn depends_on_index(c: &Criterion) -> bool {
    match c {
        Criterion::Event(e) => e.within.is_some(),
        Criterion::Person(p) => at_of(p) == Some(At::Index),
        Criterion::And(cs) | Criterion::Or(cs) => cs.iter().any(depends_on_index),
        Criterion::Not(c) => depends_on_index(c),
    }
}

struct Eval<'a> {
    e: &'a Engine,
    q: &'a Query,
    lists: &'a CodeLists,
    universe: RoaringBitmap,
    cands: Option<Candidates>,
}

fn bitmap_from_sorted(v: impl IntoIterator<Item = u32>) -> RoaringBitmap {
    let mut b = RoaringBitmap::new();
    // Values come in ascending order; `push` appends cheaply and ignores
    // nothing (it returns false on out-of-order input, which we never give).
    for x in v {
        if b.try_push(x).is_err() {
            b.insert(x);
        }
    }
    b
}

impl Eval<'_> {
    /// Patients meeting a criterion that does not depend on the index.
    fn static_set(&self, c: &Criterion) -> RoaringBitmap {
        match c {
            Criterion::Event(ec) => self.static_event(ec),
            Criterion::Person(pc) => {
                let day = match at_of(pc) {
                    Some(At::Date(d)) => Some(d),
                    _ => None,
                };
                self.static_person(pc, day)
            }
            Criterion::And(cs) => {
                let mut it = cs.iter();
                let mut acc = match it.next() {
                    Some(c) => self.static_set(c),
                    None => self.universe.clone(),
                };
                for c in it {
                    if acc.is_empty() {
                        break;
                    }
                    acc &= self.static_set(c);
                }
                acc
            }
            Criterion::Or(cs) => {
                let mut acc = RoaringBitmap::new();
                for c in cs {
                    acc |= self.static_set(c);
                }
                acc
            }
            Criterion::Not(c) => &self.universe - self.static_set(c),
        }
    }

    /// Patients meeting a person criterion on a fixed date (or none), by
    /// straight scans over the per-patient arrays.
    fn static_person(&self, pc: &PersonCriterion, day: Option<NaiveDate>) -> RoaringBitmap {
        let e = self.e;
        let n = e.patients.len() as u32;
        let on = day.map(ymd).filter(|x| *x != NO_YMD);
        let scan = |f: &dyn Fn(usize) -> bool| {
            RoaringBitmap::from_sorted_iter((0..n).filter(|p| f(*p as usize))).unwrap_or_default()
        };
        let birth = |p: usize| e.birth_ymd.get(p).copied().unwrap_or(NO_YMD);
        let set = match pc {
            PersonCriterion::Sex(s) => {
                let want = if *s == Sex::F { 2 } else { 3 };
                scan(&|p| e.sex.get(p) == Some(&want))
            }
            PersonCriterion::Age(a) => {
                let Some(on) = on else {
                    return RoaringBitmap::new();
                };
                let (min, max) = (a.min, a.max);
                scan(&|p| {
                    age_years(birth(p), on).is_some_and(|age| {
                        min.is_none_or(|m| age >= m) && max.is_none_or(|m| age <= m)
                    })
                })
            }
            PersonCriterion::BirthYear(y) => scan(&|p| {
                let b = birth(p);
                b != NO_YMD
                    && y.from.is_none_or(|f| ymd_year(b) >= f)
                    && y.to.is_none_or(|t| ymd_year(b) <= t)
            }),
            PersonCriterion::Alive(_) => {
                let Some(on) = on else {
                    return RoaringBitmap::new();
                };
                scan(&|p| {
                    let b = birth(p);
                    let d = e.death_ymd.get(p).copied().unwrap_or(NO_YMD);
                    e.sex.get(p).is_some_and(|s| *s != 0)
                        && (b == NO_YMD || b <= on)
                        && (d == NO_YMD || d > on)
                })
            }
            PersonCriterion::Region(_) => {
                let day = day.map(day_number);
                scan(&|p| e.person_at(p as u32, pc, day))
            }
        };
        set & &self.universe
    }

    fn static_event(&self, ec: &EventCriterion) -> RoaringBitmap {
        if ec.occurrence == Occurrence::Any && ec.at_least == 1 {
            // Fast path: patients of passing rows, range by range (rows in a
            // code range are sorted by patient).
            let f = self.e.row_filter(ec, self.lists);
            let mut acc = RoaringBitmap::new();
            for &(a, b) in &f.ranges {
                let mut last = u32::MAX;
                let mut part = RoaringBitmap::new();
                for i in a..b {
                    let p = self.e.ev_patient.get(i).copied().unwrap_or(0);
                    if p == last {
                        continue;
                    }
                    let d = self.e.date_at(i);
                    if d >= f.from && d <= f.to && self.e.row_ok(&f, i) {
                        if part.try_push(p).is_err() {
                            part.insert(p);
                        }
                        last = p;
                    }
                }
                acc |= part;
            }
            return acc & &self.universe;
        }
        let pd = self.e.patient_dates(ec, ec.occurrence, self.lists);
        let need = ec.at_least as usize;
        let it = pd
            .pats
            .iter()
            .enumerate()
            .filter(|(i, _)| pd.of(*i).len() >= need)
            .map(|(_, p)| *p);
        bitmap_from_sorted(it) & &self.universe
    }

    /// Candidates (by position) meeting a criterion.
    fn cand_set(&self, c: &Criterion, cands: &Candidates) -> RoaringBitmap {
        if !depends_on_index(c) {
            let s = self.static_set(c);
            return bitmap_from_sorted(
                (0..cands.pat.len() as u32)
                    .filter(|i| cands.pat.get(*i as usize).is_some_and(|p| s.contains(*p))),
            );
        }
        let all = || {
            let mut b = RoaringBitmap::new();
            b.insert_range(0..cands.pat.len() as u32);
            b
        };
        match c {
            Criterion::Event(ec) => self.window_event(ec, cands),
            Criterion::Person(pc) => bitmap_from_sorted((0..cands.pat.len()).filter_map(|i| {
                let p = *cands.pat.get(i)?;
                let d = *cands.date.get(i)?;
                self.e.person_at(p, pc, Some(d)).then_some(i as u32)
            })),
            Criterion::And(cs) => {
                let mut acc = all();
                for c in cs {
                    if acc.is_empty() {
                        break;
                    }
                    acc &= self.cand_set(c, cands);
                }
                acc
            }
            Criterion::Or(cs) => {
                let mut acc = RoaringBitmap::new();
                for c in cs {
                    acc |= self.cand_set(c, cands);
                }
                acc
            }
            Criterion::Not(c) => all() - self.cand_set(c, cands),
        }
    }

    fn window_event(&self, ec: &EventCriterion, cands: &Candidates) -> RoaringBitmap {
        let pd = self.e.patient_dates(ec, ec.occurrence, self.lists);
        let (lo, hi) = match &ec.within {
            Some(w) => (w.days[0], w.days[1]),
            None => (None, None),
        };
        let need = ec.at_least as usize;
        let mut out = RoaringBitmap::new();
        let mut j = 0usize;
        for (i, (&p, &d)) in cands.pat.iter().zip(&cands.date).enumerate() {
            while j < pd.pats.len() && pd.pats.get(j).is_some_and(|x| *x < p) {
                j += 1;
            }
            if pd.pats.get(j) != Some(&p) {
                continue;
            }
            let dates = pd.of(j);
            let a = lo.map_or(0, |lo| {
                dates.partition_point(|x| i64::from(*x) < i64::from(d) + i64::from(lo))
            });
            let b = hi.map_or(dates.len(), |hi| {
                dates.partition_point(|x| i64::from(*x) <= i64::from(d) + i64::from(hi))
            });
            if b.saturating_sub(a) >= need {
                out.insert(i as u32);
            }
        }
        out
    }

    fn candidates(&self) -> Option<Candidates> {
        let ix = self.q.index.as_ref()?;
        let pd = self.e.patient_dates(&ix.event, ix.occurrence, self.lists);
        let mut c = Candidates {
            pat: Vec::new(),
            date: Vec::new(),
        };
        for (i, p) in pd.pats.iter().enumerate() {
            if !self.universe.contains(*p) {
                continue;
            }
            for d in pd.of(i) {
                c.pat.push(*p);
                c.date.push(*d);
            }
        }
        Some(c)
    }

    /// Patients (with their reference index date) meeting all `steps`; the
    /// funnel counts after each step when `funnel` is set.
    /// The second value lists (patient, index day) sorted by patient (empty
    /// without an index).
    fn cohort(&self, steps: &[&Step], funnel: &mut Vec<u64>) -> (RoaringBitmap, Vec<(u32, i32)>) {
        match &self.cands {
            None => {
                let mut running = self.universe.clone();
                for s in steps {
                    if let Some(c) = s.as_criterion() {
                        running &= self.static_set(&c);
                    }
                    funnel.push(running.len());
                }
                (running, Vec::new())
            }
            Some(cands) => {
                let mut running = RoaringBitmap::new();
                running.insert_range(0..cands.pat.len() as u32);
                let distinct = |r: &RoaringBitmap| {
                    let mut n = 0u64;
                    let mut last = u32::MAX;
                    for i in r {
                        let p = cands.pat.get(i as usize).copied().unwrap_or(0);
                        if p != last {
                            n += 1;
                            last = p;
                        }
                    }
                    n
                };
                funnel.push(distinct(&running));
                for s in steps {
                    if let Some(c) = s.as_criterion() {
                        running &= self.cand_set(&c, cands);
                    }
                    funnel.push(distinct(&running));
                }
                let mut pats = RoaringBitmap::new();
                let mut first = Vec::new();
                for i in &running {
                    let (Some(&p), Some(&d)) =
                        (cands.pat.get(i as usize), cands.date.get(i as usize))
                    else {
                        continue;
                    };
                    if pats.try_push(p).is_ok() {
                        first.push((p, d));
                    }
                }
                (pats, first)
            }
        }
    }

    fn run(mut self) -> Result<OutputResult, EvalError> {
        self.cands = self.candidates();
        let all: Vec<&Step> = self.q.criteria.iter().collect();
        let mut funnel = Vec::new();
        match &self.q.output {
            Output::Count {} => {
                let (c, _) = self.cohort(&all, &mut funnel);
                Ok(OutputResult::Count { count: c.len() })
            }
            Output::Funnel {} => {
                self.cohort(&all, &mut funnel);
                let mut steps = Vec::new();
                let mut counts = funnel.into_iter();
                if self.q.index.is_some() {
                    steps.push(FunnelStep {
                        label: "index".into(),
                        kind: "index".into(),
                        count: counts.next().unwrap_or(0),
                    });
                }
                for (i, s) in self.q.criteria.iter().enumerate() {
                    steps.push(FunnelStep {
                        label: s.label.clone().unwrap_or_else(|| format!("step {}", i + 1)),
                        kind: if s.include.is_some() {
                            "include"
                        } else {
                            "exclude"
                        }
                        .into(),
                        count: counts.next().unwrap_or(0),
                    });
                }
                Ok(OutputResult::Funnel { steps })
            }
            Output::Proportion { numerator } => {
                let (den, _) = self.cohort(&all, &mut funnel);
                let mut num_steps = all.clone();
                num_steps.extend(numerator.iter());
                let (num, _) = self.cohort(&num_steps, &mut funnel);
                Ok(OutputResult::Proportion {
                    numerator: num.len(),
                    denominator: den.len(),
                })
            }
            Output::Strata { by, at, .. } => {
                let (cohort, index_pairs) = self.cohort(&all, &mut funnel);
                let fixed = match at {
                    Some(At::Date(d)) => Some(day_number(*d)),
                    _ => None,
                };
                let providers = if by.contains(&Dimension::Provider) {
                    match &self.q.index {
                        Some(ix) => {
                            let index_day: HashMap<u32, i32> =
                                index_pairs.iter().copied().collect();
                            self.min_provider_on(&ix.event, &index_day)
                        }
                        None => HashMap::new(),
                    }
                } else {
                    HashMap::new()
                };
                let bands = age_bands_of(&self.q.output);
                let mut cells: HashMap<[u32; 2], u64> = HashMap::new();
                let mut j = 0usize;
                for p in &cohort {
                    while index_pairs.get(j).is_some_and(|x| x.0 < p) {
                        j += 1;
                    }
                    let ix = index_pairs.get(j).filter(|x| x.0 == p).map(|x| x.1);
                    let when = fixed.or(ix);
                    let mut key = [u32::MAX; 2];
                    for (slot, d) in key.iter_mut().zip(by) {
                        *slot = self.dim_value(*d, p, when, ix, &providers, &bands);
                    }
                    *cells.entry(key).or_default() += 1;
                }
                if cells.len() > MAX_CELLS {
                    return Err(EvalError::TooManyCells {
                        cells: cells.len(),
                        limit: MAX_CELLS,
                    });
                }
                let mut out: Vec<Cell> = cells
                    .into_iter()
                    .map(|(k, count)| Cell {
                        key: k
                            .iter()
                            .zip(by)
                            .map(|(v, d)| self.dim_label(*d, *v, &bands))
                            .collect(),
                        count,
                    })
                    .collect();
                out.sort();
                Ok(OutputResult::Strata {
                    dimensions: by.clone(),
                    cells: out,
                    total: cohort.len(),
                })
            }
            Output::TimeSeries {
                event,
                interval,
                from,
                to,
                by,
                ..
            } => {
                let (cohort, _) = self.cohort(&all, &mut funnel);
                let f = self.e.row_filter(event, self.lists);
                // First passing day per patient: rows of a code range are
                // sorted by (patient, day), so the first passing row of a
                // patient in a range is that range's earliest.
                let mut earliest: Vec<i32> = vec![NO_DATE; self.e.patients.len()];
                for &(a, b) in &f.ranges {
                    let mut done = u32::MAX;
                    for i in a..b {
                        let p = self.e.ev_patient.get(i).copied().unwrap_or(0);
                        if p == done || !self.e.row_ok(&f, i) {
                            continue;
                        }
                        done = p;
                        let d = self.e.date_at(i);
                        if let Some(x) = earliest.get_mut(p as usize)
                            && d < *x
                        {
                            *x = d;
                        }
                    }
                }
                let (lo, hi) = (day_number(*from), day_number(*to));
                let first: HashMap<u32, i32> = cohort
                    .iter()
                    .filter_map(|p| {
                        let d = earliest.get(p as usize).copied()?;
                        (d != NO_DATE && d >= lo && d <= hi).then_some((p, d))
                    })
                    .collect();
                let providers = if *by == Some(Dimension::Provider) {
                    self.min_provider_on(event, &first)
                } else {
                    HashMap::new()
                };
                let bands = age_bands_of(&self.q.output);
                let mut counts: BTreeMap<(String, Option<String>), u64> = BTreeMap::new();
                if by.is_none() {
                    for period in periods(*from, *to, *interval) {
                        counts.insert((period, None), 0);
                    }
                }
                let mut keyed: HashMap<(String, Option<u32>), u64> = HashMap::new();
                for (p, d) in &first {
                    let Some(day) = from_day_number(*d) else {
                        continue;
                    };
                    let key = by
                        .map(|dim| self.dim_value(dim, *p, Some(*d), Some(*d), &providers, &bands));
                    *keyed
                        .entry((period_label(day, *interval), key))
                        .or_default() += 1;
                }
                for ((period, key), n) in keyed {
                    let label = match (by, key) {
                        (Some(dim), Some(v)) => Some(self.dim_label(*dim, v, &bands)),
                        _ => None,
                    };
                    *counts.entry((period, label)).or_default() += n;
                }
                if counts.len() > MAX_CELLS {
                    return Err(EvalError::TooManyCells {
                        cells: counts.len(),
                        limit: MAX_CELLS,
                    });
                }
                Ok(OutputResult::TimeSeries {
                    interval: *interval,
                    by: *by,
                    points: counts
                        .into_iter()
                        .map(|((period, key), count)| SeriesPoint { period, key, count })
                        .collect(),
                    total: first.len() as u64,
                })
            }
        }
    }

    /// For each patient in `days`, the smallest provider id among rows of
    /// `ec` (attribute-matching) on that patient's day.
    fn min_provider_on(&self, ec: &EventCriterion, days: &HashMap<u32, i32>) -> HashMap<u32, u32> {
        let f = self.e.row_filter(ec, self.lists);
        let mut out: HashMap<u32, u32> = HashMap::new();
        for &(a, b) in &f.ranges {
            for i in a..b {
                let p = self.e.ev_patient.get(i).copied().unwrap_or(0);
                let Some(&day) = days.get(&p) else { continue };
                let prov = self.e.provider_at(i);
                if prov == u32::MAX || self.e.date_at(i) != day || !self.e.row_ok(&f, i) {
                    continue;
                }
                out.entry(p)
                    .and_modify(|x| *x = (*x).min(prov))
                    .or_insert(prov);
            }
        }
        out
    }

    /// A dimension's value for patient `p` as an id (`u32::MAX` = unknown).
    fn dim_value(
        &self,
        d: Dimension,
        p: u32,
        when: Option<i32>,
        index_day: Option<i32>,
        providers: &HashMap<u32, u32>,
        bands: &[u32],
    ) -> u32 {
        const UNKNOWN: u32 = u32::MAX;
        match d {
            Dimension::Sex => match self.e.sex.get(p as usize) {
                Some(2) => 0,
                Some(3) => 1,
                _ => UNKNOWN,
            },
            Dimension::AgeBand => {
                let birth = self.e.birth_ymd.get(p as usize).copied().unwrap_or(NO_YMD);
                when.and_then(from_day_number)
                    .and_then(|w| age_years(birth, ymd(w)))
                    .map_or(UNKNOWN, |a| bands.partition_point(|x| *x <= a) as u32)
            }
            Dimension::Region => when
                .and_then(|w| self.e.region_on(p, w))
                .map_or(UNKNOWN, u32::from),
            Dimension::Provider => providers.get(&p).copied().unwrap_or(UNKNOWN),
            Dimension::CalendarYear => index_day
                .and_then(from_day_number)
                .map_or(UNKNOWN, |d| d.year() as u32),
        }
    }

    fn dim_label(&self, d: Dimension, v: u32, bands: &[u32]) -> String {
        if v == u32::MAX {
            return "unknown".into();
        }
        let name = |names: &[String]| {
            names
                .get(v as usize)
                .cloned()
                .unwrap_or_else(|| "unknown".into())
        };
        match d {
            Dimension::Sex => if v == 0 { "F" } else { "M" }.into(),
            Dimension::AgeBand => {
                let lo = (v as usize)
                    .checked_sub(1)
                    .and_then(|i| bands.get(i))
                    .copied()
                    .unwrap_or(0);
                age_band_label(lo, bands)
            }
            Dimension::Region => name(&self.e.regions),
            Dimension::Provider => name(&self.e.providers),
            Dimension::CalendarYear => (v as i32).to_string(),
        }
    }
}

#[cfg(test)]
mod ymd_tests {
    use super::*;
    use crate::codeset::age_on;
    use proptest::prelude::*;

    fn check(birth: NaiveDate, on: NaiveDate) -> Result<(), TestCaseError> {
        let (b, o) = (ymd(birth), ymd(on));
        prop_assert_ne!(b, NO_YMD);
        prop_assert_eq!(age_years(b, o), age_on(birth, on));
        prop_assert_eq!(ymd_year(b), birth.year());
        prop_assert_eq!(b.cmp(&o), birth.cmp(&on));
        Ok(())
    }

    proptest! {
        /// Whole years from packed dates equal `age_on` (leap days, month
        /// ends, birthdays and `on` before birth included); packed order is
        /// date order and the year is exact.
        #[test]
        fn packed_age_equals_age_on(b in -40_000i64..40_000, gap in -800i64..40_000) {
            let base = NaiveDate::from_ymd_opt(1960, 2, 29).unwrap();
            let birth = base + chrono::Duration::days(b);
            let on = birth + chrono::Duration::days(gap);
            check(birth, on)?;
        }

        /// The same over chrono's whole date range.
        #[test]
        fn packed_dates_cover_every_date(
            b in NaiveDate::MIN.num_days_from_ce()..=NaiveDate::MAX.num_days_from_ce(),
            o in NaiveDate::MIN.num_days_from_ce()..=NaiveDate::MAX.num_days_from_ce(),
        ) {
            let (birth, on) = (from_day_number(b).unwrap(), from_day_number(o).unwrap());
            check(birth, on)?;
        }
    }
}
