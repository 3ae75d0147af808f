//! One person's life over the period: entry (resident, born, immigrated),
//! residences and moves, diseases with onsets that follow age, sex and risk
//! factors, emigration and death with a cause that follows the disease
//! burden.

use chrono::{Datelike, NaiveDate};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1, StandardNormal};

use crate::geo::{Geography, N_REGIONS, REGIONS, pick_cum};
use crate::tables::*;

/// A day as chrono's days from the common era (day 1 = 0001-01-01, a Monday).
pub(crate) type Day = i32;

pub(crate) fn day_of(d: NaiveDate) -> Day {
    d.num_days_from_ce()
}

pub(crate) fn date_of(d: Day) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(d).unwrap_or(NaiveDate::MIN)
}

/// Days per year, for age arithmetic.
pub(crate) const YEAR: f64 = 365.25;

/// The generation period in days.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Period {
    pub start: Day,
    pub end: Day,
    pub years: f64,
}

impl Period {
    pub(crate) fn new(start: NaiveDate, end: NaiveDate) -> Self {
        let (s, e) = (day_of(start), day_of(end));
        Period {
            start: s,
            end: e,
            years: f64::from(e - s + 1) / YEAR,
        }
    }
}

/// How a person enters the population.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Entry {
    /// Resident on the first day of the period.
    Resident,
    /// Born during the period.
    Born,
    /// Immigrated during the period, on this day.
    Immigrated(Day),
}

/// What stage 1 decides: enough to assign identity numbers.
#[derive(Debug, Clone)]
pub(crate) struct Skeleton {
    pub male: bool,
    pub birth: NaiveDate,
    pub entry: Entry,
    /// Has a samordningsnummer before the personnummer.
    pub coord: bool,
    pub pref: u16,
    pub coord_pref: u16,
}

/// Population of Sweden 2012 by five-year age band, thousands.
const PYRAMID: [u32; 21] = [
    570, 530, 490, 580, 650, 610, 590, 630, 670, 660, 590, 600, 640, 600, 430, 330, 250, 170, 70,
    18, 2,
];

/// Share of women by five-year band.
fn female_share(age: f64) -> f64 {
    match age {
        a if a < 50.0 => 0.49,
        a if a < 70.0 => 0.50,
        a if a < 80.0 => 0.53,
        a if a < 90.0 => 0.60,
        _ => 0.72,
    }
}

pub(crate) fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    rng.random::<f64>()
}

pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    StandardNormal.sample(rng)
}

fn exp1(rng: &mut ChaCha8Rng) -> f64 {
    Exp1.sample(rng)
}

fn days_in(rng: &mut ChaCha8Rng, lo: Day, hi: Day) -> Day {
    if hi <= lo {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}

/// Stage 1: who the person is (sex, birth date, entry).
pub(crate) fn skeleton(rng: &mut ChaCha8Rng, p: &Period) -> Skeleton {
    let births = 0.0115 * p.years;
    let immigrants = 0.0025 * p.years;
    let total = 1.0 + births + immigrants;
    let u = uniform(rng) * total;
    let (entry, birth_day, age_for_sex) = if u < 1.0 {
        // resident at start: age from the pyramid
        let sum: u32 = PYRAMID.iter().sum();
        let draw = rng.random_range(0..sum);
        let mut acc = 0;
        let mut band = 0usize;
        for (i, w) in PYRAMID.iter().enumerate() {
            acc += w;
            if draw < acc {
                band = i;
                break;
            }
        }
        let age_days = (band as f64 * 5.0 + uniform(rng) * 5.0) * YEAR;
        (Entry::Resident, p.start - age_days as Day, age_days / YEAR)
    } else if u < 1.0 + births {
        let b = days_in(rng, p.start, p.end);
        (Entry::Born, b, 0.0)
    } else {
        let imm = days_in(rng, p.start, p.end);
        let r = uniform(rng);
        let age = if r < 0.25 {
            uniform(rng) * 18.0
        } else if r < 0.85 {
            18.0 + uniform(rng) * 22.0
        } else {
            40.0 + uniform(rng) * 30.0
        };
        let b = imm - (age * YEAR) as Day;
        (Entry::Immigrated(imm), b, age)
    };
    let male = uniform(rng) >= female_share(age_for_sex);
    let coord = matches!(entry, Entry::Immigrated(_)) && uniform(rng) < 0.5;
    Skeleton {
        male,
        birth: date_of(birth_day),
        entry,
        coord,
        pref: rng.random_range(0..500),
        coord_pref: rng.random_range(0..500),
    }
}

/// The diseases the generator models.
#[allow(clippy::enum_variant_names)] // the diseases' own names
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disease {
    Hypertension = 0,
    Type2Diabetes,
    Asthma,
    Depression,
    RheumatoidArthritis,
    Copd,
    AtrialFibrillation,
    ChronicKidneyDisease,
    HeartFailure,
    Stroke,
    BreastCancer,
    ProstateCancer,
    ColorectalCancer,
}

pub(crate) const N_DISEASES: usize = 13;

pub(crate) const DISEASES: [Disease; N_DISEASES] = [
    Disease::Hypertension,
    Disease::Type2Diabetes,
    Disease::Asthma,
    Disease::Depression,
    Disease::RheumatoidArthritis,
    Disease::Copd,
    Disease::AtrialFibrillation,
    Disease::ChronicKidneyDisease,
    Disease::HeartFailure,
    Disease::Stroke,
    Disease::BreastCancer,
    Disease::ProstateCancer,
    Disease::ColorectalCancer,
];

impl Disease {
    /// Stable name used in the manifest.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Disease::Hypertension => "hypertension",
            Disease::Type2Diabetes => "type_2_diabetes",
            Disease::Asthma => "asthma",
            Disease::Depression => "depression",
            Disease::RheumatoidArthritis => "rheumatoid_arthritis",
            Disease::Copd => "copd",
            Disease::AtrialFibrillation => "atrial_fibrillation",
            Disease::ChronicKidneyDisease => "chronic_kidney_disease",
            Disease::HeartFailure => "heart_failure",
            Disease::Stroke => "stroke",
            Disease::BreastCancer => "breast_cancer",
            Disease::ProstateCancer => "prostate_cancer",
            Disease::ColorectalCancer => "colorectal_cancer",
        }
    }

    /// Annual incidence at `age` (piecewise by age band), before risk
    /// factors.
    fn incidence(self, age: f64, male: bool) -> f64 {
        let band = |table: &[(f64, f64)]| -> f64 {
            let mut r = 0.0;
            for &(a, v) in table {
                if age >= a {
                    r = v;
                }
            }
            r
        };
        match self {
            Disease::Hypertension => {
                band(&[
                    (25.0, 0.001),
                    (30.0, 0.003),
                    (40.0, 0.009),
                    (50.0, 0.017),
                    (60.0, 0.027),
                    (70.0, 0.032),
                ]) * if male { 1.1 } else { 0.95 }
            }
            Disease::Type2Diabetes => {
                band(&[
                    (20.0, 0.0002),
                    (30.0, 0.0006),
                    (40.0, 0.0018),
                    (50.0, 0.0035),
                    (60.0, 0.0052),
                    (70.0, 0.006),
                    (80.0, 0.005),
                ]) * if male { 1.3 } else { 0.8 }
            }
            Disease::Asthma => band(&[
                (0.0, 0.0015),
                (1.0, 0.007),
                (10.0, 0.004),
                (20.0, 0.0015),
                (60.0, 0.001),
            ]),
            Disease::Depression => {
                band(&[
                    (13.0, 0.004),
                    (16.0, 0.009),
                    (25.0, 0.006),
                    (45.0, 0.0045),
                    (65.0, 0.003),
                ]) * if male { 0.65 } else { 1.25 }
            }
            Disease::RheumatoidArthritis => {
                band(&[
                    (25.0, 0.0002),
                    (45.0, 0.0004),
                    (60.0, 0.0005),
                    (80.0, 0.0003),
                ]) * if male { 0.5 } else { 1.4 }
            }
            Disease::Copd => band(&[
                (40.0, 0.0003),
                (50.0, 0.0008),
                (60.0, 0.0014),
                (70.0, 0.0018),
                (80.0, 0.0015),
            ]),
            Disease::AtrialFibrillation => {
                band(&[
                    (40.0, 0.0003),
                    (50.0, 0.001),
                    (60.0, 0.0035),
                    (70.0, 0.009),
                    (80.0, 0.017),
                ]) * if male { 1.3 } else { 0.8 }
            }
            Disease::ChronicKidneyDisease => band(&[
                (40.0, 0.0002),
                (55.0, 0.0006),
                (65.0, 0.0015),
                (75.0, 0.004),
                (85.0, 0.007),
            ]),
            Disease::HeartFailure => {
                band(&[
                    (45.0, 0.0002),
                    (55.0, 0.0006),
                    (65.0, 0.0018),
                    (75.0, 0.005),
                    (85.0, 0.011),
                ]) * if male { 1.2 } else { 0.85 }
            }
            Disease::Stroke => band(&[
                (30.0, 0.0001),
                (45.0, 0.0005),
                (55.0, 0.0012),
                (65.0, 0.0028),
                (75.0, 0.0065),
                (85.0, 0.012),
            ]),
            Disease::BreastCancer => {
                if male {
                    0.0
                } else {
                    band(&[
                        (30.0, 0.0002),
                        (40.0, 0.0013),
                        (50.0, 0.0025),
                        (70.0, 0.0028),
                        (80.0, 0.0025),
                    ])
                }
            }
            Disease::ProstateCancer => {
                if male {
                    band(&[
                        (45.0, 0.0003),
                        (55.0, 0.002),
                        (65.0, 0.006),
                        (75.0, 0.008),
                        (85.0, 0.007),
                    ])
                } else {
                    0.0
                }
            }
            Disease::ColorectalCancer => {
                band(&[
                    (40.0, 0.0001),
                    (50.0, 0.0004),
                    (60.0, 0.001),
                    (70.0, 0.0021),
                    (80.0, 0.003),
                ]) * if male { 1.15 } else { 0.9 }
            }
        }
    }

    /// Minimum age at which the incidence is non-zero (walk start).
    fn min_age(self) -> f64 {
        match self {
            Disease::Asthma => 0.0,
            Disease::Depression => 13.0,
            Disease::Hypertension | Disease::Type2Diabetes | Disease::RheumatoidArthritis => 20.0,
            Disease::Stroke | Disease::BreastCancer => 30.0,
            _ => 40.0,
        }
    }
}

/// A period of residence in one region and kommun.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Residence {
    pub from: Day,
    /// Last day of residence; `None` while still resident at the end.
    pub to: Option<Day>,
    pub region: u8,
    pub kommun: u8,
}

/// How a death date is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeathPrecision {
    Exact,
    UnknownDay,
    UnknownMonth,
}

#[derive(Debug, Clone)]
pub(crate) struct Death {
    pub day: Day,
    pub underlying: &'static str,
    pub contributing: Codes,
    pub precision: DeathPrecision,
}

/// Up to four codes, no allocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Codes {
    n: u8,
    c: [&'static str; 4],
}

impl Codes {
    pub(crate) fn of(list: &[&'static str]) -> Self {
        let mut c = Codes::default();
        for x in list {
            c.push(x);
        }
        c
    }
    pub(crate) fn push(&mut self, code: &'static str) {
        if usize::from(self.n) < self.c.len() && !self.as_slice().contains(&code) {
            self.c[usize::from(self.n)] = code;
            self.n += 1;
        }
    }
    pub(crate) fn as_slice(&self) -> &[&'static str] {
        self.c.get(..usize::from(self.n)).unwrap_or(&[])
    }
    pub(crate) fn first(&self) -> Option<&'static str> {
        self.as_slice().first().copied()
    }
}

/// Cancer course decided at diagnosis.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CancerCourse {
    pub metastatic: bool,
    /// Breast: HER2 positive. Prostate: androgen deprivation. Colorectal:
    /// adjuvant chemotherapy.
    pub flag_a: bool,
    /// Breast: chemotherapy. Prostate: prostatectomy. Colorectal: unused.
    pub flag_b: bool,
    pub code: &'static str,
}

/// Everything decided about a person apart from their care events.
#[derive(Debug, Clone)]
pub(crate) struct Life {
    pub male: bool,
    pub birth: Day,
    pub entry: Entry,
    pub immigration: Option<Day>,
    pub emigration: Option<Day>,
    pub death: Option<Death>,
    pub residences: Vec<Residence>,
    pub obs_start: Day,
    pub obs_end: Day,
    pub onset: [Option<Day>; N_DISEASES],
    pub smoker: bool,
    pub metabolic: f64,
    pub cancers: [CancerCourse; 3],
    pub stroke_code: &'static str,
    /// Random per-person number for stable choices (listed care unit,
    /// local hospital).
    pub salt: u32,
}

impl Life {
    pub(crate) fn age_at(&self, day: Day) -> f64 {
        f64::from(day - self.birth) / YEAR
    }

    /// The onset day of `d` when it is on or before `day`.
    pub(crate) fn has(&self, d: Disease, day: Day) -> bool {
        matches!(self.onset[d as usize], Some(o) if o <= day)
    }

    pub(crate) fn region_at(&self, day: Day) -> u8 {
        let mut r = self.residences.first().map(|r| r.region).unwrap_or(0);
        for res in &self.residences {
            if res.from <= day {
                r = res.region;
            }
        }
        r
    }
}

fn pick_region(rng: &mut ChaCha8Rng, geo: &Geography) -> u8 {
    let total = geo.region_cum.last().copied().unwrap_or(1);
    pick_cum(&geo.region_cum, rng.random_range(0..total)) as u8
}

fn pick_kommun(rng: &mut ChaCha8Rng, geo: &Geography, region: u8) -> u8 {
    let cum = geo
        .regions
        .get(usize::from(region))
        .map(|r| r.kommun_cum.as_slice())
        .unwrap_or(&[]);
    let total = cum.last().copied().unwrap_or(1);
    pick_cum(cum, rng.random_range(0..total)) as u8
}

/// Gompertz-style background mortality per year.
fn base_mortality(age: f64, male: bool) -> f64 {
    let h = if age < 1.0 {
        0.0025
    } else if age < 30.0 {
        0.0004
    } else {
        (-11.65 + 0.104 * age).exp().max(0.0006)
    };
    h * if male { 1.3 } else { 0.8 }
}

fn hazard_ratio(d: Disease) -> f64 {
    match d {
        Disease::Hypertension => 1.1,
        Disease::Type2Diabetes => 1.5,
        Disease::Asthma => 1.05,
        Disease::Depression => 1.3,
        Disease::RheumatoidArthritis => 1.3,
        Disease::Copd => 2.0,
        Disease::AtrialFibrillation => 1.4,
        Disease::ChronicKidneyDisease => 2.0,
        Disease::HeartFailure => 3.0,
        Disease::Stroke => 1.8,
        Disease::BreastCancer | Disease::ProstateCancer | Disease::ColorectalCancer => 1.0,
    }
}

/// Whether a disease is written as the underlying cause when it carries
/// the death; the others only contribute.
fn can_be_underlying(d: Disease) -> bool {
    !matches!(
        d,
        Disease::Asthma | Disease::Depression | Disease::RheumatoidArthritis
    )
}

fn underlying_code(d: Disease, life: &Life) -> &'static str {
    match d {
        Disease::Hypertension => ICD_HT,
        Disease::Type2Diabetes => ICD_T2D,
        Disease::Asthma => ICD_ASTHMA,
        Disease::Depression => ICD_DEPR,
        Disease::RheumatoidArthritis => ICD_RA,
        Disease::Copd => ICD_COPD,
        Disease::AtrialFibrillation => ICD_AF,
        Disease::ChronicKidneyDisease => ICD_CKD5,
        Disease::HeartFailure => ICD_HF,
        Disease::Stroke => life.stroke_code,
        Disease::BreastCancer => life.cancers[0].code,
        Disease::ProstateCancer => life.cancers[1].code,
        Disease::ColorectalCancer => life.cancers[2].code,
    }
}

fn cancer_slot(d: Disease) -> Option<usize> {
    match d {
        Disease::BreastCancer => Some(0),
        Disease::ProstateCancer => Some(1),
        Disease::ColorectalCancer => Some(2),
        _ => None,
    }
}

/// Excess yearly mortality of a cancer `years` after diagnosis.
fn cancer_excess(c: &CancerCourse, d: Disease, years: f64) -> f64 {
    if years > 10.0 {
        return 0.0;
    }
    match d {
        Disease::BreastCancer => {
            if c.metastatic {
                0.35
            } else {
                0.015
            }
        }
        Disease::ProstateCancer => {
            if c.metastatic {
                0.3
            } else if c.flag_a {
                0.06
            } else {
                0.01
            }
        }
        Disease::ColorectalCancer => {
            if c.metastatic {
                0.5
            } else {
                0.04
            }
        }
        _ => 0.0,
    }
}

/// Stage 3a: the person's life given their skeleton.
pub(crate) fn simulate(rng: &mut ChaCha8Rng, sk: &Skeleton, p: &Period, geo: &Geography) -> Life {
    let birth = day_of(sk.birth);
    let salt = rng.random::<u32>();
    // Entry into the observed population.
    let (obs_start, immigration) = match sk.entry {
        Entry::Resident => {
            // About 15 % of residents were born abroad and immigrated earlier.
            let imm = if uniform(rng) < 0.15 {
                let lo = birth + 30;
                let hi = p.start - 30;
                (hi > lo).then(|| days_in(rng, lo, hi))
            } else {
                None
            };
            (p.start, imm)
        }
        Entry::Born => (birth, None),
        Entry::Immigrated(d) => (d, Some(d)),
    };
    // Emigration: a couple of per cent leave during the period.
    let emigration = if uniform(rng) < 0.02 && p.end - obs_start > 120 {
        Some(days_in(rng, obs_start + 60, p.end))
    } else {
        None
    };
    let limit = emigration.unwrap_or(p.end);

    let smoker = {
        let by = sk.birth.year();
        let share = if by < 1960 {
            0.3
        } else if by < 1980 {
            0.2
        } else {
            0.1
        };
        uniform(rng) < share
    };
    let metabolic = (0.5 * normal(rng)).exp();

    let mut life = Life {
        male: sk.male,
        birth,
        entry: sk.entry,
        immigration,
        emigration,
        death: None,
        residences: Vec::new(),
        obs_start,
        obs_end: limit,
        onset: [None; N_DISEASES],
        smoker,
        metabolic,
        cancers: [CancerCourse::default(); 3],
        stroke_code: ICD_STROKE_INF,
        salt,
    };

    // Disease onsets: walk the person's ages with a cumulative hazard.
    let max_age = life.age_at(limit);
    for d in DISEASES {
        let target = exp1(rng);
        let mut cum = 0.0;
        let mut age = d.min_age();
        while age < max_age {
            let rate = d.incidence(age, sk.male) * risk(&life, d, birth + (age * YEAR) as Day);
            let step = (max_age - age).min(1.0);
            if rate > 0.0 && cum + rate * step >= target {
                let at = age + (target - cum) / rate;
                life.onset[d as usize] = Some(birth + (at * YEAR) as Day);
                break;
            }
            cum += rate * step;
            age += 1.0;
        }
    }
    // Old cancers (more than five years before the window) are cured and
    // leave no trace; cancer course decided at diagnosis.
    for d in [
        Disease::BreastCancer,
        Disease::ProstateCancer,
        Disease::ColorectalCancer,
    ] {
        if let Some(o) = life.onset[d as usize] {
            if o < obs_start - (5.0 * YEAR) as Day {
                life.onset[d as usize] = None;
                continue;
            }
            let age = life.age_at(o);
            let slot = cancer_slot(d).unwrap_or(0);
            let c = &mut life.cancers[slot];
            match d {
                Disease::BreastCancer => {
                    c.metastatic = uniform(rng) < 0.06;
                    c.flag_a = uniform(rng) < 0.15;
                    c.flag_b = age < 70.0 && uniform(rng) < 0.45;
                    c.code = if uniform(rng) < 0.4 {
                        ICD_BREAST_UOQ
                    } else {
                        ICD_BREAST
                    };
                }
                Disease::ProstateCancer => {
                    c.metastatic = uniform(rng) < 0.08;
                    c.flag_a = c.metastatic || (age > 75.0 && uniform(rng) < 0.35);
                    c.flag_b = !c.flag_a && age < 72.0 && uniform(rng) < 0.4;
                    c.code = ICD_PROSTATE;
                }
                _ => {
                    c.metastatic = uniform(rng) < 0.2;
                    c.flag_a = !c.metastatic && age < 80.0 && uniform(rng) < 0.45;
                    let r = uniform(rng);
                    c.code = if r < 0.35 {
                        ICD_RECTUM
                    } else if r < 0.65 {
                        ICD_COLON_SIG
                    } else {
                        ICD_COLON_ASC
                    };
                }
            }
        }
    }
    {
        let r = uniform(rng);
        life.stroke_code = if r < 0.8 {
            ICD_STROKE_INF
        } else if r < 0.93 {
            ICD_STROKE_HEM
        } else {
            ICD_STROKE_UNS
        };
    }

    // Death: yearly steps through the window with the disease burden.
    let mut death: Option<(Day, Option<Disease>)> = None;
    // acute case fatality of a stroke in the window
    if let Some(o) = life.onset[Disease::Stroke as usize]
        && o >= obs_start
        && o <= limit
    {
        let cf = if life.age_at(o) > 75.0 { 0.18 } else { 0.08 };
        if uniform(rng) < cf {
            death = Some((
                (o + rng.random_range(1..=30)).min(limit),
                Some(Disease::Stroke),
            ));
        }
    }
    let mut t = obs_start;
    while t <= limit {
        let step_end = (t + 365).min(limit + 1);
        let age = life.age_at(t);
        let base = base_mortality(age, sk.male);
        let mut hr = 1.0;
        let mut excess = 0.0;
        for d in DISEASES {
            if life.has(d, t) {
                hr *= hazard_ratio(d);
                if let (Some(slot), Some(o)) = (cancer_slot(d), life.onset[d as usize]) {
                    excess += cancer_excess(&life.cancers[slot], d, f64::from(t - o) / YEAR);
                }
            }
        }
        let h = base * hr + excess;
        let dt = f64::from(step_end - t) / YEAR;
        if uniform(rng) < 1.0 - (-h * dt).exp() {
            let day = days_in(rng, t, step_end - 1);
            // cause: background or one of the active diseases, by share of
            // the hazard
            let u = uniform(rng) * h;
            let mut acc = base;
            let mut cause = None;
            if u >= acc {
                let ln_hr: f64 = DISEASES
                    .iter()
                    .filter(|&&d| life.has(d, t))
                    .map(|&d| hazard_ratio(d).ln())
                    .sum();
                for d in DISEASES {
                    if !life.has(d, t) {
                        continue;
                    }
                    let part =
                        if let (Some(slot), Some(o)) = (cancer_slot(d), life.onset[d as usize]) {
                            cancer_excess(&life.cancers[slot], d, f64::from(t - o) / YEAR)
                        } else if ln_hr > 0.0 {
                            base * (hr - 1.0) * hazard_ratio(d).ln() / ln_hr
                        } else {
                            0.0
                        };
                    acc += part;
                    if u < acc {
                        cause = can_be_underlying(d).then_some(d);
                        break;
                    }
                }
            }
            if death.is_none_or(|(d0, _)| day < d0) {
                death = Some((day, cause));
            }
            break;
        }
        t = step_end;
    }
    if let Some((day, cause)) = death {
        let underlying = match cause {
            Some(d) => underlying_code(d, &life),
            None => {
                let old = life.age_at(day) >= 70.0;
                let total: u32 = BACKGROUND_DEATH
                    .iter()
                    .map(|&(_, y, o)| if old { o } else { y })
                    .sum();
                let mut draw = rng.random_range(0..total.max(1));
                let mut code = "R99";
                for &(c, y, o) in &BACKGROUND_DEATH {
                    let w = if old { o } else { y };
                    if draw < w {
                        code = c;
                        break;
                    }
                    draw -= w;
                }
                code
            }
        };
        let mut contributing = Codes::default();
        for d in DISEASES {
            if life.has(d, day) && Some(d) != cause && contributing.as_slice().len() < 3 {
                contributing.push(underlying_code(d, &life));
            }
        }
        if life.age_at(day) > 75.0 && uniform(rng) < 0.2 && underlying != ICD_PNEUMONIA {
            contributing.push(ICD_PNEUMONIA);
        }
        let r = uniform(rng);
        let precision = if r < 0.002 {
            DeathPrecision::UnknownMonth
        } else if r < 0.01 {
            DeathPrecision::UnknownDay
        } else {
            DeathPrecision::Exact
        };
        life.death = Some(Death {
            day,
            underlying,
            contributing,
            precision,
        });
        life.obs_end = day;
        life.emigration = None;
    }
    // Diseases starting after the end of observation never happen.
    for o in life.onset.iter_mut() {
        if matches!(*o, Some(d) if d > life.obs_end) {
            *o = None;
        }
    }

    // Residences: the first from some day before the window, then moves.
    let region = pick_region(rng, geo);
    let first_from = match sk.entry {
        Entry::Resident => match immigration {
            Some(imm) => days_in(rng, imm, p.start),
            None => days_in(rng, birth.max(p.start - (20.0 * YEAR) as Day), p.start),
        },
        Entry::Born => birth,
        Entry::Immigrated(d) => d,
    };
    let mut res = vec![Residence {
        from: first_from,
        to: None,
        region,
        kommun: pick_kommun(rng, geo, region),
    }];
    let moves = {
        let u = uniform(rng);
        if u < 0.006 {
            2
        } else if u < 0.05 {
            1
        } else {
            0
        }
    };
    if life.obs_end - life.obs_start > 60 {
        let mut days: Vec<Day> = (0..moves)
            .map(|_| days_in(rng, life.obs_start + 30, life.obs_end - 1))
            .collect();
        days.sort_unstable();
        days.dedup();
        for d in days {
            let current = res.last().map(|r| r.region).unwrap_or(0);
            let mut next = pick_region(rng, geo);
            if next == current {
                next = ((usize::from(current) + 1 + (salt as usize % (N_REGIONS - 1))) % N_REGIONS)
                    as u8;
            }
            if let Some(last) = res.last_mut() {
                last.to = Some(d - 1);
            }
            res.push(Residence {
                from: d,
                to: None,
                region: next,
                kommun: pick_kommun(rng, geo, next),
            });
        }
    }
    if let Some(last) = res.last_mut() {
        if let Some(d) = &life.death {
            last.to = Some(d.day);
        } else if let Some(e) = life.emigration {
            last.to = Some(e);
        }
    }
    life.residences = res;
    debug_assert!(REGIONS.len() == N_REGIONS);
    life
}

/// Risk multiplier for disease `d` at `day` from the person's other
/// diseases and latent factors.
fn risk(life: &Life, d: Disease, day: Day) -> f64 {
    let has = |x: Disease| life.has(x, day);
    let mut m = 1.0;
    match d {
        Disease::Type2Diabetes => m *= life.metabolic,
        Disease::Hypertension => m *= life.metabolic.sqrt(),
        Disease::HeartFailure => {
            if has(Disease::Hypertension) {
                m *= 1.8;
            }
            if has(Disease::Type2Diabetes) {
                m *= 1.8;
            }
            if has(Disease::AtrialFibrillation) {
                m *= 1.5;
            }
        }
        Disease::AtrialFibrillation if has(Disease::Hypertension) => m *= 1.4,
        Disease::Stroke => {
            if has(Disease::AtrialFibrillation) {
                m *= 2.0;
            }
            if has(Disease::Hypertension) {
                m *= 1.4;
            }
            if has(Disease::Type2Diabetes) {
                m *= 1.4;
            }
            if life.smoker {
                m *= 1.4;
            }
        }
        Disease::Copd => {
            if life.smoker {
                m *= 5.0;
            } else {
                m *= 0.35;
            }
        }
        Disease::ChronicKidneyDisease => {
            if has(Disease::Type2Diabetes) {
                m *= 3.0;
            }
            if has(Disease::Hypertension) {
                m *= 1.6;
            }
            if has(Disease::HeartFailure) {
                m *= 1.5;
            }
        }
        Disease::ColorectalCancer if has(Disease::Type2Diabetes) => m *= 1.2,
        _ => {}
    }
    m
}
