//! Building an [`Engine`]: records are fed in any order (one at a time, or
//! column-wise from the store by `from_store`), then [`EngineBuilder::finish`]
//! sorts and indexes them.

use std::collections::HashMap;

use chrono::NaiveDate;
use halsohub_identity::Pseudonym;
use halsohub_store::{Comparator, Domain, Event, Person, Residence, Setting};

use super::{CodeKey, Context, Engine, NO_DATE, NO_YMD, cmp_code, day_number, setting_code, ymd};

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
            tags: Vec::new(),
            chunk_rows: super::PARALLEL_CHUNK_ROWS,
        }
    }
}

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
}
