//! The output section of an evaluation: counts, ratios, strata, series and
//! funnels over the cohort.

use std::collections::{BTreeMap, HashMap};

use std::cell::RefCell;

use chrono::Datelike;
use halsohub_disclosure::SetPrint;

use super::eval::Eval;
use super::{NO_DATE, NO_YMD, age_years, day_number, from_day_number, ymd};
use crate::codeset::age_band_label;
use crate::query::{At, Dimension, EventCriterion, Output, Step};
use crate::reference::{period_label, periods};
use crate::result::{Cell, EvalError, FunnelStep, MAX_CELLS, OutputResult, SeriesPoint};
use crate::validate::age_bands_of;

impl Eval<'_> {
    /// The output and, with person tags, the fingerprint of every number
    /// (see [`crate::QueryResult::prints`]).
    pub(super) fn run(mut self) -> Result<(OutputResult, Vec<SetPrint>), EvalError> {
        let out = self.outputs()?;
        let prints = self
            .prints
            .take()
            .map(RefCell::into_inner)
            .unwrap_or_default();
        Ok((out, prints))
    }

    /// True when `cohort` records a print per funnel step.
    pub(super) fn steps_printed(&self) -> bool {
        matches!(self.q.output, Output::Funnel {})
    }

    fn push_print(&self, p: Option<SetPrint>) {
        if let (Some(p), Some(out)) = (p, &self.prints) {
            out.borrow_mut().push(p);
        }
    }

    fn outputs(&mut self) -> Result<OutputResult, EvalError> {
        self.cands = self.candidates();
        let all: Vec<&Step> = self.q.criteria.iter().collect();
        let mut funnel = Vec::new();
        match &self.q.output {
            Output::Count {} => {
                let (c, _) = self.cohort(&all, &mut funnel);
                self.push_print(self.e.print_of(&c));
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
                self.push_print(self.e.print_of(&num));
                self.push_print(self.e.print_of(&den));
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
                let mut cell_prints: HashMap<[u32; 2], SetPrint> = HashMap::new();
                let printing = self.prints.is_some();
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
                    if printing {
                        cell_prints.entry(key).or_default().insert(self.e.tag(p));
                    }
                }
                if cells.len() > MAX_CELLS {
                    return Err(EvalError::TooManyCells {
                        cells: cells.len(),
                        limit: MAX_CELLS,
                    });
                }
                let mut keyed: Vec<(Cell, [u32; 2])> = cells
                    .into_iter()
                    .map(|(k, count)| {
                        (
                            Cell {
                                key: k
                                    .iter()
                                    .zip(by)
                                    .map(|(v, d)| self.dim_label(*d, *v, &bands))
                                    .collect(),
                                count,
                            },
                            k,
                        )
                    })
                    .collect();
                keyed.sort();
                for (_, k) in &keyed {
                    self.push_print(printing.then(|| cell_prints.remove(k).unwrap_or_default()));
                }
                let out: Vec<Cell> = keyed.into_iter().map(|(c, _)| c).collect();
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
                let printing = self.prints.is_some();
                let mut keyed: HashMap<(String, Option<u32>), u64> = HashMap::new();
                let mut keyed_prints: HashMap<(String, Option<u32>), SetPrint> = HashMap::new();
                for (p, d) in &first {
                    let Some(day) = from_day_number(*d) else {
                        continue;
                    };
                    let key = by
                        .map(|dim| self.dim_value(dim, *p, Some(*d), Some(*d), &providers, &bands));
                    let k = (period_label(day, *interval), key);
                    if printing {
                        keyed_prints
                            .entry(k.clone())
                            .or_default()
                            .insert(self.e.tag(*p));
                    }
                    *keyed.entry(k).or_default() += 1;
                }
                let mut point_prints: BTreeMap<(String, Option<String>), SetPrint> =
                    BTreeMap::new();
                for ((period, key), n) in keyed {
                    let label = match (by, key) {
                        (Some(dim), Some(v)) => Some(self.dim_label(*dim, v, &bands)),
                        _ => None,
                    };
                    if let Some(pr) = keyed_prints.remove(&(period.clone(), key)) {
                        let e = point_prints
                            .entry((period.clone(), label.clone()))
                            .or_default();
                        *e = e.add(&pr);
                    }
                    *counts.entry((period, label)).or_default() += n;
                }
                if counts.len() > MAX_CELLS {
                    return Err(EvalError::TooManyCells {
                        cells: counts.len(),
                        limit: MAX_CELLS,
                    });
                }
                for k in counts.keys() {
                    self.push_print(printing.then(|| point_prints.remove(k).unwrap_or_default()));
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
