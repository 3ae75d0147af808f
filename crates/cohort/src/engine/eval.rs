//! Evaluation: every criterion becomes a roaring bitmap of patients (or of
//! index candidates), and the cohort is their intersection. The output
//! section is computed in `output`.

use chrono::NaiveDate;
use halsohub_disclosure::SetPrint;
use halsohub_identity::Pseudonym;
use roaring::RoaringBitmap;

use rayon::prelude::*;

use super::{Engine, Exclusion, NO_YMD, age_years, day_number, ymd, ymd_year};
use crate::codeset::CodeLists;
use crate::query::{At, Criterion, EventCriterion, Occurrence, PersonCriterion, Query, Sex, Step};
use crate::result::{EvalError, OutputResult};
use crate::validate::validate;

pub(super) struct Candidates {
    pub(super) pat: Vec<u32>,
    pub(super) date: Vec<i32>,
}

impl Engine {
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
        let (output, prints) = self.evaluate_printed(q, lists, exclude)?;
        Ok(crate::result::QueryResult {
            snapshot: self.snapshot.clone(),
            query_hash: crate::canonical::query_hash(q),
            output,
            prints,
        })
    }

    /// As [`Engine::evaluate`], with the fingerprint of the persons behind
    /// every number (see [`crate::QueryResult::prints`]; empty without
    /// person tags).
    pub fn evaluate_printed(
        &self,
        q: &Query,
        lists: &CodeLists,
        exclude: &Exclusion,
    ) -> Result<(OutputResult, Vec<SetPrint>), EvalError> {
        validate(q, lists)?;
        let mut universe = RoaringBitmap::new();
        universe.insert_range(0..self.patients.len() as u32);
        universe -= &exclude.0;
        let printing = !self.tags.is_empty();
        let ev = Eval {
            e: self,
            q,
            lists,
            universe,
            cands: None,
            prints: printing.then(|| std::cell::RefCell::new(Vec::new())),
        };
        ev.run()
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
            prints: None,
        };
        ev.run().map(|(o, _)| o)
    }

    /// The patients meeting every criterion of `q` (its cohort; the output
    /// section is ignored), leaving out `exclude`: the canonical pseudonyms,
    /// sorted. A patient is in the cohort exactly when `evaluate` with a
    /// count output would count them.
    pub fn cohort(
        &self,
        q: &Query,
        lists: &CodeLists,
        exclude: &Exclusion,
    ) -> Result<Vec<Pseudonym>, EvalError> {
        validate(q, lists)?;
        let mut universe = roaring::RoaringBitmap::new();
        universe.insert_range(0..self.patients.len() as u32);
        universe -= &exclude.0;
        let mut ev = Eval {
            e: self,
            q,
            lists,
            universe,
            cands: None,
            prints: None,
        };
        ev.cands = ev.candidates();
        let steps: Vec<&Step> = q.criteria.iter().collect();
        let (members, _) = ev.cohort(&steps, &mut Vec::new());
        Ok(members
            .iter()
            .filter_map(|i| self.patients.get(i as usize).copied())
            .collect())
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

pub(super) struct Eval<'a> {
    pub(super) e: &'a Engine,
    pub(super) q: &'a Query,
    pub(super) lists: &'a CodeLists,
    pub(super) universe: RoaringBitmap,
    pub(super) cands: Option<Candidates>,
    /// Fingerprints of the numbers, in result order (only with person
    /// tags); funnel steps are pushed by `cohort` when `steps` is set.
    pub(super) prints: Option<std::cell::RefCell<Vec<SetPrint>>>,
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
            // Fast path: patients of passing rows (rows in a code range are
            // sorted by patient). Large criteria are split into chunks at
            // patient boundaries and scanned on every core; the union of
            // the chunks' patients does not depend on the split.
            let f = self.e.row_filter(ec, self.lists);
            let chunks = self.e.chunks(&f.ranges, self.e.chunk_rows);
            let part = |&(a, b): &(usize, usize)| {
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
                part
            };
            let acc = if chunks.len() > 1 {
                chunks
                    .par_iter()
                    .map(part)
                    .reduce(RoaringBitmap::new, |a, b| a | b)
            } else {
                chunks
                    .iter()
                    .map(part)
                    .fold(RoaringBitmap::new(), |a, b| a | b)
            };
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

    pub(super) fn candidates(&self) -> Option<Candidates> {
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
    pub(super) fn cohort(
        &self,
        steps: &[&Step],
        funnel: &mut Vec<u64>,
    ) -> (RoaringBitmap, Vec<(u32, i32)>) {
        match &self.cands {
            None => {
                let mut running = self.universe.clone();
                for s in steps {
                    if let Some(c) = s.as_criterion() {
                        running &= self.static_set(&c);
                    }
                    funnel.push(running.len());
                    if let (Some(p), Some(out)) = (self.e.print_of(&running), &self.prints)
                        && self.steps_printed()
                    {
                        out.borrow_mut().push(p);
                    }
                }
                (running, Vec::new())
            }
            Some(cands) => {
                let mut running = RoaringBitmap::new();
                running.insert_range(0..cands.pat.len() as u32);
                let printing = self.prints.is_some() && self.steps_printed();
                let distinct = |r: &RoaringBitmap| {
                    let mut n = 0u64;
                    let mut last = u32::MAX;
                    let mut print = printing.then(SetPrint::empty);
                    for i in r {
                        let p = cands.pat.get(i as usize).copied().unwrap_or(0);
                        if p != last {
                            n += 1;
                            last = p;
                            if let Some(pr) = print.as_mut() {
                                pr.insert(self.e.tag(p));
                            }
                        }
                    }
                    if let (Some(pr), Some(out)) = (print, &self.prints) {
                        out.borrow_mut().push(pr);
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
}
