//! The reference evaluator: deliberately simple and obviously correct.
//!
//! Straight loops over in-memory records, one patient at a time, following
//! the definitions in `docs/query-language.md` word for word. It is slow and
//! is meant to be: the fast [`crate::Engine`] is tested against it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use halsohub_identity::Pseudonym;
use halsohub_store::{Event, Person, Residence};

use halsohub_disclosure::{PersonTagger, SetPrint};

use crate::codeset::{
    CodeLists, Matcher, age_band_label, age_on, analyte_of, lab_matches, resolve,
};
use crate::query::{
    At, Criterion, Dimension, EventCriterion, Interval, Occurrence, Output, PersonCriterion, Query,
    Sex, Step,
};
use crate::result::{Cell, EvalError, FunnelStep, MAX_CELLS, OutputResult, SeriesPoint};
use crate::validate::{age_bands_of, validate};

/// The data the reference evaluator reads.
#[derive(Debug, Clone, Copy)]
pub struct Data<'a> {
    pub events: &'a [Event],
    pub persons: &'a [Person],
    pub residences: &'a [Residence],
}

/// Evaluate `q` over `data`, leaving out the patients in `exclude`.
pub fn evaluate(
    q: &Query,
    lists: &CodeLists,
    data: Data<'_>,
    exclude: &BTreeSet<Pseudonym>,
) -> Result<OutputResult, EvalError> {
    validate(q, lists)?;
    let r = Reference::new(q, lists, data, exclude, None);
    r.run().map(|(o, _)| o)
}

/// As [`evaluate`], with the [`SetPrint`] of the persons behind every number
/// the engine reports ([`crate::QueryResult::prints`], in the same order):
/// the cohort; each funnel step; numerator then denominator; each stratum
/// cell; each series point.
pub fn evaluate_printed(
    q: &Query,
    lists: &CodeLists,
    data: Data<'_>,
    exclude: &BTreeSet<Pseudonym>,
    tagger: &PersonTagger,
) -> Result<(OutputResult, Vec<SetPrint>), EvalError> {
    validate(q, lists)?;
    let r = Reference::new(q, lists, data, exclude, Some(tagger));
    r.run()
}

struct Reference<'a> {
    q: &'a Query,
    lists: &'a CodeLists,
    patients: BTreeSet<Pseudonym>,
    persons: BTreeMap<Pseudonym, &'a Person>,
    events: BTreeMap<Pseudonym, Vec<&'a Event>>,
    residences: BTreeMap<Pseudonym, Vec<&'a Residence>>,
    tagger: Option<&'a PersonTagger>,
}

impl<'a> Reference<'a> {
    fn new(
        q: &'a Query,
        lists: &'a CodeLists,
        data: Data<'a>,
        exclude: &BTreeSet<Pseudonym>,
        tagger: Option<&'a PersonTagger>,
    ) -> Reference<'a> {
        let mut patients = BTreeSet::new();
        let mut persons = BTreeMap::new();
        let mut events: BTreeMap<Pseudonym, Vec<&Event>> = BTreeMap::new();
        let mut residences: BTreeMap<Pseudonym, Vec<&Residence>> = BTreeMap::new();
        for p in data.persons {
            patients.insert(p.patient);
            persons.insert(p.patient, p);
        }
        for e in data.events {
            patients.insert(e.patient);
            events.entry(e.patient).or_default().push(e);
        }
        for r in data.residences {
            patients.insert(r.patient);
            residences.entry(r.patient).or_default().push(r);
        }
        for x in exclude {
            patients.remove(x);
        }
        Reference {
            q,
            lists,
            patients,
            persons,
            events,
            residences,
            tagger,
        }
    }

    /// The print of a set of persons (empty without a tagger).
    fn print<'x>(&self, persons: impl IntoIterator<Item = &'x Pseudonym>) -> SetPrint {
        match self.tagger {
            Some(t) => SetPrint::of(persons.into_iter().map(|p| t.tag(p.as_bytes()))),
            None => SetPrint::empty(),
        }
    }

    fn events_of(&self, p: &Pseudonym) -> &[&'a Event] {
        self.events.get(p).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Step (1) of an event criterion: events of `p` with the domain, a
    /// matching code and passing every attribute filter.
    fn attribute_matches(&self, p: &Pseudonym, e: &EventCriterion) -> Vec<&'a Event> {
        let matcher: Option<Matcher> = e.codes.as_ref().map(|c| resolve(c, self.lists));
        let analyte = e.codes.as_deref().and_then(|c| analyte_of(c, self.lists));
        let mut out = Vec::new();
        for ev in self.events_of(p) {
            if ev.domain != e.domain {
                continue;
            }
            if let Some(m) = &matcher
                && !m.matches(&ev.system, &ev.code)
            {
                continue;
            }
            if let Some(v) = &e.value
                && !lab_matches(ev.value, ev.comparator, ev.unit.as_deref(), v, analyte)
            {
                continue;
            }
            if let Some(s) = &e.setting
                && !ev.setting.is_some_and(|x| s.contains(&x))
            {
                continue;
            }
            if let Some(list) = &e.provider
                && !ev.provider.as_ref().is_some_and(|x| list.contains(x))
            {
                continue;
            }
            if let Some(list) = &e.provider_region
                && !ev
                    .provider_region
                    .as_ref()
                    .is_some_and(|x| list.contains(x))
            {
                continue;
            }
            if let Some(list) = &e.source
                && !list.contains(&ev.source)
            {
                continue;
            }
            out.push(*ev);
        }
        out
    }

    /// Steps (1)–(3): attribute matches, occurrence selection, date range.
    fn dated_matches(&self, p: &Pseudonym, e: &EventCriterion) -> Vec<&'a Event> {
        let mut m = self.attribute_matches(p, e);
        let pick = match e.occurrence {
            Occurrence::Any => None,
            Occurrence::First => m.iter().map(|ev| ev.start).min(),
            Occurrence::Last => m.iter().map(|ev| ev.start).max(),
        };
        if let Some(day) = pick {
            m.retain(|ev| ev.start == day);
        }
        if let Some(r) = &e.date {
            m.retain(|ev| {
                r.from.is_none_or(|f| ev.start >= f) && r.to.is_none_or(|t| ev.start <= t)
            });
        }
        m
    }

    fn event_holds(&self, p: &Pseudonym, e: &EventCriterion, index: Option<NaiveDate>) -> bool {
        let mut m = self.dated_matches(p, e);
        if let Some(w) = &e.within {
            let Some(ix) = index else {
                return false;
            };
            m.retain(|ev| {
                let days = (ev.start - ix).num_days();
                w.days[0].is_none_or(|lo| days >= i64::from(lo))
                    && w.days[1].is_none_or(|hi| days <= i64::from(hi))
            });
        }
        let days: BTreeSet<NaiveDate> = m.iter().map(|ev| ev.start).collect();
        days.len() >= e.at_least as usize
    }

    fn date_of(at: At, index: Option<NaiveDate>) -> Option<NaiveDate> {
        match at {
            At::Date(d) => Some(d),
            At::Index => index,
        }
    }

    fn region_on(&self, p: &Pseudonym, day: NaiveDate) -> Option<String> {
        let mut best: Option<&Residence> = None;
        for r in self.residences.get(p).map(Vec::as_slice).unwrap_or(&[]) {
            let covers = r.from <= day && r.to.is_none_or(|t| day < t);
            if !covers {
                continue;
            }
            best = match best {
                None => Some(r),
                Some(b) if r.from > b.from || (r.from == b.from && r.region < b.region) => Some(r),
                keep => keep,
            };
        }
        best.map(|r| r.region.clone())
    }

    fn person_holds(&self, p: &Pseudonym, c: &PersonCriterion, index: Option<NaiveDate>) -> bool {
        let person = self.persons.get(p);
        match c {
            PersonCriterion::Sex(s) => {
                let want = match s {
                    Sex::F => 'F',
                    Sex::M => 'M',
                };
                person.is_some_and(|x| x.sex == Some(want))
            }
            PersonCriterion::Age(a) => {
                let (Some(day), Some(birth)) = (
                    Self::date_of(a.at, index),
                    person.and_then(|x| x.birth_date),
                ) else {
                    return false;
                };
                match age_on(birth, day) {
                    Some(age) => a.min.is_none_or(|m| age >= m) && a.max.is_none_or(|m| age <= m),
                    None => false,
                }
            }
            PersonCriterion::BirthYear(y) => match person.and_then(|x| x.birth_date) {
                Some(b) => {
                    y.from.is_none_or(|f| b.year() >= f) && y.to.is_none_or(|t| b.year() <= t)
                }
                None => false,
            },
            PersonCriterion::Region(r) => match Self::date_of(r.at, index) {
                Some(day) => self
                    .region_on(p, day)
                    .is_some_and(|reg| r.regions.contains(&reg)),
                None => false,
            },
            PersonCriterion::Alive(a) => {
                let (Some(day), Some(person)) = (Self::date_of(a.at, index), person) else {
                    return false;
                };
                person.birth_date.is_none_or(|b| b <= day)
                    && person.death_date.is_none_or(|d| d > day)
            }
        }
    }

    fn holds(&self, p: &Pseudonym, c: &Criterion, index: Option<NaiveDate>) -> bool {
        match c {
            Criterion::Event(e) => self.event_holds(p, e, index),
            Criterion::Person(pc) => self.person_holds(p, pc, index),
            Criterion::And(cs) => cs.iter().all(|c| self.holds(p, c, index)),
            Criterion::Or(cs) => cs.iter().any(|c| self.holds(p, c, index)),
            Criterion::Not(c) => !self.holds(p, c, index),
        }
    }

    /// The dates at which `p` can be evaluated: `[None]` without an index,
    /// else the patient's index dates (ascending; none when they have no
    /// index event).
    fn candidates(&self, p: &Pseudonym) -> Vec<Option<NaiveDate>> {
        match &self.q.index {
            None => vec![None],
            Some(ix) => {
                let mut e = ix.event.clone();
                e.occurrence = ix.occurrence;
                let days: BTreeSet<NaiveDate> = self
                    .dated_matches(p, &e)
                    .iter()
                    .map(|ev| ev.start)
                    .collect();
                days.into_iter().map(Some).collect()
            }
        }
    }

    /// The earliest candidate at which every step holds, if any.
    fn qualifying(&self, p: &Pseudonym, steps: &[&Step]) -> Option<Option<NaiveDate>> {
        self.candidates(p).into_iter().find(|ix| {
            steps
                .iter()
                .all(|s| s.as_criterion().is_some_and(|c| self.holds(p, &c, *ix)))
        })
    }

    fn cohort(&self, steps: &[&Step]) -> BTreeMap<Pseudonym, Option<NaiveDate>> {
        let mut out = BTreeMap::new();
        for p in &self.patients {
            if let Some(ix) = self.qualifying(p, steps) {
                out.insert(*p, ix);
            }
        }
        out
    }

    fn min_provider_on(&self, p: &Pseudonym, e: &EventCriterion, day: NaiveDate) -> Option<String> {
        self.attribute_matches(p, e)
            .iter()
            .filter(|ev| ev.start == day)
            .filter_map(|ev| ev.provider.clone())
            .min()
    }

    fn sex_label(&self, p: &Pseudonym) -> String {
        match self.persons.get(p).and_then(|x| x.sex) {
            Some('F') => "F".into(),
            Some('M') => "M".into(),
            _ => "unknown".into(),
        }
    }

    fn age_label(&self, p: &Pseudonym, day: Option<NaiveDate>, bands: &[u32]) -> String {
        let birth = self.persons.get(p).and_then(|x| x.birth_date);
        match (birth, day) {
            (Some(b), Some(d)) => match age_on(b, d) {
                Some(a) => age_band_label(a, bands),
                None => "unknown".into(),
            },
            _ => "unknown".into(),
        }
    }

    fn run(&self) -> Result<(OutputResult, Vec<SetPrint>), EvalError> {
        let all: Vec<&Step> = self.q.criteria.iter().collect();
        let mut prints = Vec::new();
        let out = self.run_into(&all, &mut prints)?;
        if self.tagger.is_none() {
            prints.clear();
        }
        Ok((out, prints))
    }

    fn run_into(
        &self,
        all: &[&Step],
        prints: &mut Vec<SetPrint>,
    ) -> Result<OutputResult, EvalError> {
        let all = all.to_vec();
        match &self.q.output {
            Output::Count {} => {
                let c = self.cohort(&all);
                prints.push(self.print(c.keys()));
                Ok(OutputResult::Count {
                    count: c.len() as u64,
                })
            }
            Output::Funnel {} => {
                let mut steps = Vec::new();
                if self.q.index.is_some() {
                    let c = self.cohort(&[]);
                    prints.push(self.print(c.keys()));
                    steps.push(FunnelStep {
                        label: "index".into(),
                        kind: "index".into(),
                        count: c.len() as u64,
                    });
                }
                for (i, s) in self.q.criteria.iter().enumerate() {
                    let c = self.cohort(&all[..=i]);
                    prints.push(self.print(c.keys()));
                    steps.push(FunnelStep {
                        label: s.label.clone().unwrap_or_else(|| format!("step {}", i + 1)),
                        kind: if s.include.is_some() {
                            "include"
                        } else {
                            "exclude"
                        }
                        .into(),
                        count: c.len() as u64,
                    });
                }
                Ok(OutputResult::Funnel { steps })
            }
            Output::Proportion { numerator } => {
                let mut num: Vec<&Step> = all.clone();
                num.extend(numerator.iter());
                let (n, d) = (self.cohort(&num), self.cohort(&all));
                prints.push(self.print(n.keys()));
                prints.push(self.print(d.keys()));
                Ok(OutputResult::Proportion {
                    numerator: n.len() as u64,
                    denominator: d.len() as u64,
                })
            }
            Output::Strata { by, at, .. } => {
                let bands = age_bands_of(&self.q.output);
                let cohort = self.cohort(&all);
                let mut cells: BTreeMap<Vec<String>, Vec<Pseudonym>> = BTreeMap::new();
                for (p, ix) in &cohort {
                    let when = match at {
                        Some(At::Date(d)) => Some(*d),
                        _ => *ix,
                    };
                    let mut key = Vec::new();
                    for d in by {
                        key.push(match d {
                            Dimension::Sex => self.sex_label(p),
                            Dimension::AgeBand => self.age_label(p, when, &bands),
                            Dimension::Region => when
                                .and_then(|w| self.region_on(p, w))
                                .unwrap_or_else(|| "unknown".into()),
                            Dimension::Provider => match (&self.q.index, ix) {
                                (Some(def), Some(day)) => self.min_provider_on(p, &def.event, *day),
                                _ => None,
                            }
                            .unwrap_or_else(|| "unknown".into()),
                            Dimension::CalendarYear => ix
                                .map(|d| d.year().to_string())
                                .unwrap_or_else(|| "unknown".into()),
                        });
                    }
                    cells.entry(key).or_default().push(*p);
                }
                if cells.len() > MAX_CELLS {
                    return Err(EvalError::TooManyCells {
                        cells: cells.len(),
                        limit: MAX_CELLS,
                    });
                }
                prints.extend(cells.values().map(|ps| self.print(ps)));
                Ok(OutputResult::Strata {
                    dimensions: by.clone(),
                    cells: cells
                        .into_iter()
                        .map(|(key, ps)| Cell {
                            key,
                            count: ps.len() as u64,
                        })
                        .collect(),
                    total: cohort.len() as u64,
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
                let bands = age_bands_of(&self.q.output);
                let cohort = self.cohort(&all);
                let mut counts: BTreeMap<(String, Option<String>), Vec<Pseudonym>> =
                    BTreeMap::new();
                if by.is_none() {
                    for period in periods(*from, *to, *interval) {
                        counts.insert((period, None), Vec::new());
                    }
                }
                let mut total = 0;
                for p in cohort.keys() {
                    let Some(first) = self
                        .attribute_matches(p, event)
                        .iter()
                        .map(|e| e.start)
                        .min()
                    else {
                        continue;
                    };
                    if first < *from || first > *to {
                        continue;
                    }
                    total += 1;
                    let key = by.map(|d| match d {
                        Dimension::Sex => self.sex_label(p),
                        Dimension::AgeBand => self.age_label(p, Some(first), &bands),
                        Dimension::Region => {
                            self.region_on(p, first).unwrap_or_else(|| "unknown".into())
                        }
                        Dimension::Provider => self
                            .min_provider_on(p, event, first)
                            .unwrap_or_else(|| "unknown".into()),
                        Dimension::CalendarYear => first.year().to_string(),
                    });
                    counts
                        .entry((period_label(first, *interval), key))
                        .or_default()
                        .push(*p);
                }
                if counts.len() > MAX_CELLS {
                    return Err(EvalError::TooManyCells {
                        cells: counts.len(),
                        limit: MAX_CELLS,
                    });
                }
                prints.extend(counts.values().map(|ps| self.print(ps)));
                Ok(OutputResult::TimeSeries {
                    interval: *interval,
                    by: *by,
                    points: counts
                        .into_iter()
                        .map(|((period, key), ps)| SeriesPoint {
                            period,
                            key,
                            count: ps.len() as u64,
                        })
                        .collect(),
                    total,
                })
            }
        }
    }
}

/// Label of the period containing `d`: `2024-03` or `2024`.
pub fn period_label(d: NaiveDate, interval: Interval) -> String {
    match interval {
        Interval::Month => format!("{:04}-{:02}", d.year(), d.month()),
        Interval::Year => format!("{:04}", d.year()),
    }
}

/// Labels of every period from `from` to `to` (inclusive), in order.
pub fn periods(from: NaiveDate, to: NaiveDate, interval: Interval) -> Vec<String> {
    let mut out = Vec::new();
    let (mut y, mut m) = (from.year(), from.month());
    loop {
        let label = match interval {
            Interval::Month => format!("{y:04}-{m:02}"),
            Interval::Year => format!("{y:04}"),
        };
        out.push(label);
        match interval {
            Interval::Month => {
                if (y, m) >= (to.year(), to.month()) {
                    break;
                }
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
            Interval::Year => {
                if y >= to.year() {
                    break;
                }
                y += 1;
            }
        }
    }
    out
}
