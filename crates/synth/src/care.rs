//! The care that follows from a person's diseases and from everyday
//! illness: visits, admissions, dispensed and administered drugs, lab tests
//! and procedures, as structured events clipped to the observation window.

use std::cell::RefCell;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::life::{Codes, Day, Disease, Life, YEAR, normal, uniform};
use crate::tables::*;

/// Where a specialist episode takes place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Site {
    /// The person's local county hospital.
    Local,
    /// The region's university hospital (or its main hospital).
    Tertiary,
    /// A private specialist provider.
    Private,
}

/// A primary-care visit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PcVisit {
    pub day: Day,
    pub codes: Codes,
}

/// A patient-register episode: inpatient when `out` is set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Episode {
    pub day: Day,
    pub out: Option<Day>,
    pub codes: Codes,
    pub ops: Codes,
    pub mvo: &'static str,
    pub site: Site,
}

/// A pharmacy dispensing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dispense {
    pub day: Day,
    pub atc: Atc,
    pub variant: u8,
    pub packages: u8,
    pub prescribed: Day,
}

/// Ward kinds for administered drugs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ward {
    Oncology,
    Nephrology,
    Rheumatology,
    Urology,
}

impl Ward {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Ward::Oncology => "ONKDAG",
            Ward::Nephrology => "NJURMOTT",
            Ward::Rheumatology => "REUMMOTT",
            Ward::Urology => "UROMOTT",
        }
    }
}

/// A hospital-administered drug.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Admin {
    pub day: Day,
    pub atc: Atc,
    /// Dose in tenths of `unit`.
    pub dose10: u32,
    pub unit: &'static str,
    pub ward: Ward,
}

/// A lab result.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lab {
    pub day: Day,
    pub minute: u16,
    pub analyte: Analyte,
    pub value: f64,
}

/// A person's care events, reused between persons.
#[derive(Debug, Default)]
pub(crate) struct Events {
    pub pc: Vec<PcVisit>,
    pub par: Vec<Episode>,
    pub disp: Vec<Dispense>,
    pub adm: Vec<Admin>,
    pub lab: Vec<Lab>,
}

impl Events {
    pub(crate) fn clear(&mut self) {
        self.pc.clear();
        self.par.clear();
        self.disp.clear();
        self.adm.clear();
        self.lab.clear();
    }

    /// Sorts every list by day (stable, so generation order breaks ties).
    pub(crate) fn sort(&mut self) {
        self.pc.sort_by_key(|e| e.day);
        self.par.sort_by_key(|e| e.day);
        self.disp.sort_by_key(|e| e.day);
        self.adm.sort_by_key(|e| e.day);
        self.lab.sort_by_key(|e| (e.day, e.minute));
    }
}

/// Date from which a drug is on the Swedish market (days), to keep
/// prescribing history plausible.
fn available_from(atc: Atc) -> Day {
    let ymd =
        |y: i32| crate::life::day_of(chrono::NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or_default());
    match atc {
        DAPAGLIFLOZIN => ymd(2013),
        SEMAGLUTIDE => ymd(2018),
        SACUBITRIL_VALSARTAN => ymd(2016),
        APIXABAN | RIVAROXABAN => ymd(2012),
        ENZALUTAMIDE => ymd(2014),
        _ => 0,
    }
}

struct Ctx<'a> {
    rng: RefCell<&'a mut ChaCha8Rng>,
    ev: &'a mut Events,
    life: &'a Life,
    lo: Day,
    hi: Day,
}

/// Moves a Saturday or Sunday to the following Monday.
fn weekday(d: Day) -> Day {
    match (d - 1).rem_euclid(7) {
        5 => d + 2,
        6 => d + 1,
        _ => d,
    }
}

impl Ctx<'_> {
    fn u(&self) -> f64 {
        uniform(&mut self.rng.borrow_mut())
    }
    fn n(&self) -> f64 {
        normal(&mut self.rng.borrow_mut())
    }
    fn pick(&self, n: u32) -> u32 {
        self.rng.borrow_mut().random_range(0..n)
    }
    fn within(&self, d: Day) -> bool {
        d >= self.lo && d <= self.hi
    }
    fn range(&self, lo: Day, hi: Day) -> Day {
        if hi <= lo {
            lo
        } else {
            self.rng.borrow_mut().random_range(lo..=hi)
        }
    }

    fn pc(&mut self, day: Day, codes: &[&'static str]) {
        let day = weekday(day);
        if self.within(day) {
            self.ev.pc.push(PcVisit {
                day,
                codes: Codes::of(codes),
            });
        }
    }

    fn outpatient(
        &mut self,
        day: Day,
        codes: &[&'static str],
        ops: &[&'static str],
        mvo: &'static str,
        site: Site,
    ) {
        let day = weekday(day);
        if self.within(day) {
            self.ev.par.push(Episode {
                day,
                out: None,
                codes: Codes::of(codes),
                ops: Codes::of(ops),
                mvo,
                site,
            });
        }
    }

    fn inpatient(
        &mut self,
        day: Day,
        los: Day,
        codes: &[&'static str],
        ops: &[&'static str],
        mvo: &'static str,
        site: Site,
    ) {
        if self.within(day) {
            let out = (day + los.max(0)).min(self.hi);
            self.ev.par.push(Episode {
                day,
                out: Some(out),
                codes: Codes::of(codes),
                ops: Codes::of(ops),
                mvo,
                site,
            });
        }
    }

    fn lab(&mut self, day: Day, analyte: Analyte, value: f64) {
        let day = weekday(day);
        if self.within(day) && value.is_finite() {
            let minute = self.pick(9 * 60) as u16 + 7 * 60;
            self.ev.lab.push(Lab {
                day,
                minute,
                analyte,
                value: value.max(0.0),
            });
        }
    }

    /// Repeated dispensings of `atc` from `from` to `to` about every
    /// `interval` days; prescriptions renewed yearly.
    fn dispense(&mut self, atc: Atc, from: Day, to: Day, interval: f64) {
        let from = from.max(available_from(atc));
        let to = to.min(self.hi);
        if from > to {
            return;
        }
        let variant = (self.life.salt % 3) as u8;
        // skip ahead to shortly before the window
        let mut day = from;
        if day < self.lo - 400 {
            let k = ((self.lo - 400 - day) as f64 / interval).floor() as Day;
            day += (k as f64 * interval) as Day;
        }
        while day <= to {
            if day >= self.lo {
                let prescribed = from + ((day - from) / 365) * 365;
                let r = self.u();
                let packages = if r < 0.8 {
                    1
                } else if r < 0.95 {
                    2
                } else {
                    3
                };
                self.ev.disp.push(Dispense {
                    day,
                    atc,
                    variant,
                    packages,
                    prescribed,
                });
            }
            let gap = interval * (0.85 + 0.45 * self.u());
            day += gap.max(7.0) as Day;
        }
    }

    /// A single dispensing (e.g. an antibiotic course).
    fn dispense_once(&mut self, atc: Atc, day: Day) {
        if self.within(day) {
            self.ev.disp.push(Dispense {
                day,
                atc,
                variant: 0,
                packages: 1,
                prescribed: day,
            });
        }
    }

    fn admin(&mut self, day: Day, atc: Atc, dose: f64, unit: &'static str, ward: Ward) {
        let day = weekday(day);
        if self.within(day) {
            self.ev.adm.push(Admin {
                day,
                atc,
                dose10: (dose * 10.0).round().max(1.0) as u32,
                unit,
                ward,
            });
        }
    }

    /// Regular follow-up days from `from` to the end of the window.
    fn schedule(&mut self, from: Day, interval: f64) -> Vec<Day> {
        let mut out = Vec::new();
        let mut d = from;
        if d < self.lo - 400 {
            let k = ((self.lo - 400 - d) as f64 / interval).floor() as Day;
            d += (k as f64 * interval) as Day;
        }
        while d <= self.hi {
            if d >= self.lo {
                out.push(d);
            }
            d += (interval * (0.8 + 0.4 * self.u())).max(7.0) as Day;
        }
        out
    }

    fn age(&self, d: Day) -> f64 {
        self.life.age_at(d)
    }

    // --- person-level lab baselines -------------------------------------

    /// eGFR from age (healthy decline), person offset and CKD course.
    fn egfr(&mut self, d: Day, offset: f64) -> f64 {
        let age = self.age(d);
        let mut e = 118.0 - 0.85 * age.max(18.0) + offset;
        if let Some(o) = self.life.onset[Disease::ChronicKidneyDisease as usize]
            && o <= d
        {
            let yrs = f64::from(d - o) / YEAR;
            let rate = if self.life.has(Disease::Type2Diabetes, d) {
                3.5
            } else {
                2.2
            };
            e = (52.0 + offset * 0.3 - rate * yrs).min(e);
        }
        (e + 3.0 * self.n()).max(4.0)
    }

    fn creatinine_from_egfr(&self, egfr: f64, d: Day) -> f64 {
        // inverse of CKD-EPI 2009 (upper branch), µmol/L
        let age = self.age(d).max(18.0);
        let (k, a) = if self.life.male {
            (0.9, 141.0)
        } else {
            (0.7, 144.0)
        };
        let scr_mg = k * (egfr / (a * 0.993f64.powf(age))).powf(-1.0 / 1.209);
        scr_mg * 88.4
    }

    fn kidney_panel(&mut self, d: Day, offset: f64) {
        let e = self.egfr(d, offset);
        let c = self.creatinine_from_egfr(e, d);
        self.lab(d, Analyte::Creatinine, c);
        if self.age(d) >= 18.0 {
            self.lab(d, Analyte::Egfr, e);
        }
    }

    fn ldl(&mut self, d: Day, base: f64) {
        let on_statin = self.life.has(Disease::Type2Diabetes, d)
            || self.life.has(Disease::Stroke, d)
            || self.life.has(Disease::ChronicKidneyDisease, d);
        let v = if on_statin { base * 0.6 } else { base } + 0.25 * self.n();
        self.lab(d, Analyte::Ldl, v.max(0.6));
    }

    fn hb(&mut self, d: Day, drop: f64) {
        let base = if self.life.male { 150.0 } else { 135.0 };
        let v = base - drop + 8.0 * self.n();
        self.lab(d, Analyte::Haemoglobin, v.max(60.0));
    }
}

/// Generates all care events for `life` into `ev` (cleared first).
pub(crate) fn generate(rng: &mut ChaCha8Rng, life: &Life, ev: &mut Events) {
    ev.clear();
    if life.obs_end < life.obs_start {
        return;
    }
    let mut c = Ctx {
        rng: RefCell::new(rng),
        ev,
        life,
        lo: life.obs_start,
        hi: life.obs_end,
    };
    let egfr_offset = 8.0 * c.n();
    let ldl_base = (3.2 + 0.8 * c.n()).max(1.2);
    for (i, onset) in life.onset.iter().enumerate() {
        let Some(o) = *onset else { continue };
        let Some(&d) = crate::life::DISEASES.get(i) else {
            continue;
        };
        match d {
            Disease::Type2Diabetes => diabetes(&mut c, o, egfr_offset, ldl_base),
            Disease::Hypertension => hypertension(&mut c, o, egfr_offset),
            Disease::HeartFailure => heart_failure(&mut c, o, egfr_offset),
            Disease::AtrialFibrillation => atrial_fibrillation(&mut c, o),
            Disease::Stroke => stroke(&mut c, o, ldl_base),
            Disease::Copd => copd(&mut c, o),
            Disease::Asthma => asthma(&mut c, o),
            Disease::ChronicKidneyDisease => ckd(&mut c, o, egfr_offset),
            Disease::Depression => depression(&mut c, o),
            Disease::RheumatoidArthritis => rheumatoid(&mut c, o),
            Disease::BreastCancer => breast(&mut c, o),
            Disease::ProstateCancer => prostate(&mut c, o),
            Disease::ColorectalCancer => colorectal(&mut c, o),
        }
    }
    background(&mut c, egfr_offset, ldl_base);
    c.ev.sort();
}

fn diabetes(c: &mut Ctx, o: Day, egfr_off: f64, ldl_base: f64) {
    let incident = o >= c.lo;
    let h0 = 62.0 + 9.0 * c.n();
    if incident {
        c.pc(o, &[ICD_T2D]);
        c.lab(o, Analyte::HbA1c, h0.max(49.0));
        c.kidney_panel(o, egfr_off);
    }
    let start = o + c.range(3, 20);
    c.dispense(METFORMIN, start, c.hi, 95.0);
    if c.age(o) >= 40.0 && c.u() < 0.7 {
        let s = o + c.range(30, 200);
        let y2014 =
            crate::life::day_of(chrono::NaiveDate::from_ymd_opt(2014, 1, 1).unwrap_or_default());
        let statin = if s < y2014 { SIMVASTATIN } else { ATORVASTATIN };
        c.dispense(statin, s, c.hi, 95.0);
    }
    // second line after some years
    let second = o + (YEAR * (2.0 + 5.0 * c.u())) as Day;
    let second_line = c.u() < 0.45;
    if second_line {
        let atc = if c.u() < 0.55 {
            DAPAGLIFLOZIN
        } else if second
            > crate::life::day_of(chrono::NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default())
        {
            SEMAGLUTIDE
        } else {
            LIRAGLUTIDE
        };
        c.dispense(atc, second, c.hi, 92.0);
    }
    if c.u() < 0.15 {
        let ins = o + (YEAR * (5.0 + 6.0 * c.u())) as Day;
        c.dispense(GLARGINE, ins, c.hi, 75.0);
    }
    let drift = 0.4 + 0.8 * c.u();
    for d in c.schedule(o + 180, 182.0) {
        let yrs = f64::from(d - o) / YEAR;
        let mut h = 49.0 + drift * yrs.min(12.0) + 5.0 * c.n();
        if second_line && d > second {
            h -= 6.0;
        }
        let has_ckd = c.life.has(Disease::ChronicKidneyDisease, d);
        let code = if has_ckd { ICD_T2D_KIDNEY } else { ICD_T2D };
        if c.life.has(Disease::Hypertension, d) {
            c.pc(d, &[code, ICD_HT]);
        } else {
            c.pc(d, &[code]);
        }
        c.lab(d, Analyte::HbA1c, h.max(38.0));
        if c.u() < 0.5 {
            c.kidney_panel(d, egfr_off);
            c.ldl(d, ldl_base);
        }
    }
    if c.u() < 0.15 {
        let d = o + c.range(100, 2000);
        c.outpatient(d, &[ICD_T2D], &[], MVO_MEDICINE, Site::Local);
    }
}

fn hypertension(c: &mut Ctx, o: Day, egfr_off: f64) {
    if o >= c.lo {
        c.pc(o, &[ICD_HT]);
        c.kidney_panel(o, egfr_off);
        c.lab(o, Analyte::Potassium, 4.1 + 0.3 * c.n());
    }
    let first = match c.pick(4) {
        0 => RAMIPRIL,
        1 => CANDESARTAN,
        2 => AMLODIPINE,
        _ => HCTZ,
    };
    if c.u() < 0.85 {
        c.dispense(first, o + c.range(0, 30), c.hi, 95.0);
        if c.u() < 0.4 {
            let second = if first == AMLODIPINE {
                CANDESARTAN
            } else {
                AMLODIPINE
            };
            let s = o + (YEAR * (1.0 + 3.0 * c.u())) as Day;
            c.dispense(second, s, c.hi, 95.0);
        }
    }
    for d in c.schedule(o + 365, 380.0) {
        if c.life.has(Disease::Type2Diabetes, d) {
            continue; // followed up at the diabetes visits
        }
        c.pc(d, &[ICD_HT]);
        if c.u() < 0.7 {
            c.kidney_panel(d, egfr_off);
            c.lab(d, Analyte::Potassium, 4.1 + 0.3 * c.n());
        }
    }
}

fn heart_failure(c: &mut Ctx, o: Day, egfr_off: f64) {
    let code = if c.u() < 0.3 { ICD_HF_LEFT } else { ICD_HF };
    if o >= c.lo {
        let mut codes = vec![code];
        if c.life.has(Disease::Hypertension, o) {
            codes.push(ICD_HT);
        }
        if c.life.has(Disease::AtrialFibrillation, o) {
            codes.push(ICD_AF);
        }
        if c.u() < 0.6 {
            let los = c.range(3, 9);
            c.inpatient(o, los, &codes, &[], MVO_MEDICINE, Site::Local);
        } else {
            c.outpatient(o, &codes, &[], MVO_CARDIOLOGY, Site::Local);
        }
        c.lab(o, Analyte::NtProBnp, (7.4 + 0.8 * c.n()).exp());
        c.kidney_panel(o, egfr_off);
        c.lab(o, Analyte::Potassium, 4.2 + 0.4 * c.n());
    }
    let bb = if c.u() < 0.5 { BISOPROLOL } else { METOPROLOL };
    c.dispense(bb, o + c.range(1, 14), c.hi, 92.0);
    let arni_day =
        crate::life::day_of(chrono::NaiveDate::from_ymd_opt(2017, 1, 1).unwrap_or_default());
    if c.u() < 0.3 && c.hi > arni_day {
        c.dispense(
            SACUBITRIL_VALSARTAN,
            o.max(arni_day) + c.range(0, 200),
            c.hi,
            92.0,
        );
    } else {
        c.dispense(RAMIPRIL, o + c.range(1, 14), c.hi, 92.0);
    }
    if c.u() < 0.7 {
        c.dispense(FUROSEMIDE, o + c.range(0, 7), c.hi, 90.0);
    }
    if c.u() < 0.5 {
        c.dispense(SPIRONOLACTONE, o + c.range(30, 300), c.hi, 95.0);
    }
    let sglt2 =
        crate::life::day_of(chrono::NaiveDate::from_ymd_opt(2021, 6, 1).unwrap_or_default());
    if c.u() < 0.4 && c.hi > sglt2 && !c.life.has(Disease::Type2Diabetes, c.hi) {
        c.dispense(DAPAGLIFLOZIN, o.max(sglt2) + c.range(0, 300), c.hi, 92.0);
    }
    for d in c.schedule(o + 120, 240.0) {
        c.outpatient(d, &[code], &[], MVO_CARDIOLOGY, Site::Local);
        let v = (7.0 + 0.9 * c.n()).exp();
        c.lab(d, Analyte::NtProBnp, v);
        c.kidney_panel(d, egfr_off);
        if c.u() < 0.14 {
            let los = c.range(3, 10);
            c.inpatient(
                d + c.range(10, 120),
                los,
                &[code],
                &[],
                MVO_MEDICINE,
                Site::Local,
            );
        }
    }
}

fn atrial_fibrillation(c: &mut Ctx, o: Day) {
    if o >= c.lo {
        let ops: &[&'static str] = if c.u() < 0.2 {
            &[KVA_CARDIOVERSION]
        } else {
            &[]
        };
        if c.u() < 0.3 {
            let los = c.range(1, 4);
            c.inpatient(o, los, &[ICD_AF], ops, MVO_CARDIOLOGY, Site::Local);
        } else {
            c.outpatient(o, &[ICD_AF], ops, MVO_CARDIOLOGY, Site::Local);
        }
        c.hb(o, 0.0);
    }
    let start = o + c.range(1, 21);
    let doac_day =
        crate::life::day_of(chrono::NaiveDate::from_ymd_opt(2014, 1, 1).unwrap_or_default());
    if c.age(o) >= 65.0 || c.u() < 0.4 {
        let doac = if c.u() < 0.7 { APIXABAN } else { RIVAROXABAN };
        if start < doac_day {
            let switch = doac_day + c.range(0, 1500);
            if c.u() < 0.5 {
                c.dispense(WARFARIN, start, c.hi, 90.0);
            } else {
                c.dispense(WARFARIN, start, switch, 90.0);
                c.dispense(doac, switch, c.hi, 92.0);
            }
        } else {
            c.dispense(doac, start, c.hi, 92.0);
        }
    }
    if c.u() < 0.6 && !c.life.has(Disease::HeartFailure, c.hi) {
        c.dispense(METOPROLOL, start, c.hi, 95.0);
    }
    for d in c.schedule(o + 365, 400.0) {
        if c.u() < 0.6 {
            c.pc(d, &[ICD_AF]);
        } else {
            c.outpatient(d, &[ICD_AF], &[], MVO_CARDIOLOGY, Site::Local);
        }
        c.hb(d, 0.0);
    }
}

fn stroke(c: &mut Ctx, o: Day, ldl_base: f64) {
    let code = c.life.stroke_code;
    if o >= c.lo {
        let ops: &[&'static str] = &[];
        let mut codes = vec![code];
        if c.life.has(Disease::AtrialFibrillation, o) {
            codes.push(ICD_AF);
        }
        if c.life.has(Disease::Hypertension, o) {
            codes.push(ICD_HT);
        }
        let los = c.range(4, 21);
        c.inpatient(o, los, &codes, ops, MVO_NEUROLOGY, Site::Local);
        c.hb(o, 0.0);
        c.lab(o, Analyte::Crp, (1.0 + 1.0 * c.n()).exp());
        c.ldl(o, ldl_base);
    }
    if code != ICD_STROKE_HEM {
        if !c.life.has(Disease::AtrialFibrillation, o) {
            let atc = if c.u() < 0.7 { CLOPIDOGREL } else { ASA };
            c.dispense(atc, o + c.range(3, 20), c.hi, 95.0);
        }
        c.dispense(ATORVASTATIN, o + c.range(3, 20), c.hi, 95.0);
    }
    c.outpatient(
        o + c.range(80, 110),
        &[ICD_STROKE_SEQ],
        &[],
        MVO_NEUROLOGY,
        Site::Local,
    );
    for d in c.schedule(o + 365, 400.0) {
        c.pc(d, &[ICD_STROKE_SEQ]);
    }
}

fn copd(c: &mut Ctx, o: Day) {
    if o >= c.lo {
        c.pc(o, &[ICD_COPD]);
    }
    c.dispense(TIOTROPIUM, o + c.range(0, 30), c.hi, 95.0);
    if c.u() < 0.5 {
        c.dispense(SALMETEROL_FLUTICASONE, o + c.range(100, 900), c.hi, 95.0);
    }
    c.dispense(SALBUTAMOL, o + c.range(0, 30), c.hi, 200.0);
    for d in c.schedule(o + 365, 380.0) {
        c.pc(d, &[ICD_COPD]);
    }
    // exacerbations about every other year
    for d in c.schedule(o + c.range(60, 700), 650.0) {
        if c.u() < 0.2 && c.age(d) > 60.0 {
            let los = c.range(3, 8);
            c.inpatient(
                d,
                los,
                &[ICD_COPD_EXAC, ICD_PNEUMONIA],
                &[],
                MVO_LUNG,
                Site::Local,
            );
            c.lab(d, Analyte::Crp, (4.0 + 0.6 * c.n()).exp());
        } else {
            c.pc(d, &[ICD_COPD_EXAC]);
            c.dispense_once(PREDNISOLONE, d);
            c.dispense_once(DOXYCYCLINE, d);
        }
    }
}

fn asthma(c: &mut Ctx, o: Day) {
    if o >= c.lo {
        c.pc(o, &[ICD_ASTHMA]);
    }
    // many outgrow childhood asthma
    let end = if c.age(o) < 12.0 && c.u() < 0.5 {
        c.life.birth + (YEAR * (12.0 + 6.0 * c.u())) as Day
    } else {
        c.hi
    };
    c.dispense(SALBUTAMOL, o + c.range(0, 14), end, 240.0);
    if c.u() < 0.5 {
        let atc = if c.age(o) < 18.0 {
            BUDESONIDE_INH
        } else {
            FORMOTEROL_BUDESONIDE
        };
        c.dispense(atc, o + c.range(0, 60), end, 130.0);
    }
    for d in c.schedule(o + 500, 800.0) {
        if d <= end {
            c.pc(d, &[ICD_ASTHMA]);
        }
    }
}

fn ckd(c: &mut Ctx, o: Day, egfr_off: f64) {
    let stage = |e: f64| {
        if e < 15.0 {
            ICD_CKD5
        } else if e < 30.0 {
            ICD_CKD4
        } else {
            ICD_CKD3
        }
    };
    if o >= c.lo {
        c.pc(o, &[ICD_CKD3]);
    }
    if !c.life.has(Disease::Hypertension, o) && !c.life.has(Disease::HeartFailure, o) {
        c.dispense(RAMIPRIL, o + c.range(10, 60), c.hi, 95.0);
    }
    let sglt2 =
        crate::life::day_of(chrono::NaiveDate::from_ymd_opt(2021, 9, 1).unwrap_or_default());
    if c.u() < 0.35 && c.hi > sglt2 && !c.life.has(Disease::Type2Diabetes, c.hi) {
        c.dispense(DAPAGLIFLOZIN, o.max(sglt2) + c.range(0, 300), c.hi, 92.0);
    }
    let mut last_iron: Option<Day> = None;
    let mut dialysis = false;
    for d in c.schedule(o + 90, 182.0) {
        let e = c.egfr(d, egfr_off);
        let cr = c.creatinine_from_egfr(e, d);
        c.lab(d, Analyte::Creatinine, cr);
        c.lab(d, Analyte::Egfr, e);
        c.lab(
            d,
            Analyte::Potassium,
            4.3 + 0.015 * (60.0 - e).max(0.0) + 0.35 * c.n(),
        );
        let drop = if e < 30.0 { 18.0 } else { 6.0 };
        c.hb(d, drop);
        let code = stage(e);
        if e < 30.0 {
            c.outpatient(
                d,
                &[code, ICD_ANAEMIA_CKD],
                &[],
                MVO_NEPHROLOGY,
                Site::Tertiary,
            );
            if last_iron.is_none_or(|l| d - l > 170) {
                c.admin(
                    d,
                    IRON_PARENTERAL,
                    if c.u() < 0.5 { 500.0 } else { 1000.0 },
                    "mg",
                    Ward::Nephrology,
                );
                last_iron = Some(d);
            }
            if c.u() < 0.5 {
                c.admin(d + 14, EPOETIN, 4000.0, "IE", Ward::Nephrology);
            }
        } else {
            c.pc(d, &[code]);
        }
        if e < 10.0 && !dialysis {
            dialysis = true;
            // monthly dialysis sessions summarised as outpatient episodes
            let mut t = d;
            while t <= c.hi && t < d + 1200 {
                c.outpatient(
                    t,
                    &[ICD_CKD5],
                    &[KVA_HEMODIALYSIS],
                    MVO_NEPHROLOGY,
                    Site::Tertiary,
                );
                t += 30;
            }
        }
    }
}

fn depression(c: &mut Ctx, o: Day) {
    let episode = |c: &mut Ctx, start: Day, code: &'static str| {
        let code = if code == ICD_DEPR && c.u() < 0.4 {
            ICD_DEPR_MOD
        } else {
            code
        };
        c.pc(start, &[code]);
        let atc = match c.pick(5) {
            0 | 1 => SERTRALINE,
            2 | 3 => ESCITALOPRAM,
            _ => MIRTAZAPINE,
        };
        let len = (YEAR * (0.5 + 1.5 * c.u())) as Day;
        c.dispense(atc, start + c.range(0, 14), start + len, 92.0);
        c.pc(start + c.range(28, 60), &[code]);
        if c.u() < 0.2 {
            c.outpatient(
                start + c.range(30, 120),
                &[code],
                &[],
                MVO_PSYCHIATRY,
                Site::Local,
            );
        }
    };
    episode(c, o, ICD_DEPR);
    if c.u() < 0.35 {
        let again = o + (YEAR * (1.5 + 4.0 * c.u())) as Day;
        episode(c, again, ICD_DEPR_REC);
    }
}

fn rheumatoid(c: &mut Ctx, o: Day) {
    if o >= c.lo {
        c.outpatient(o, &[ICD_RA], &[], MVO_RHEUMATOLOGY, Site::Local);
        c.lab(o, Analyte::Crp, (3.0 + 0.7 * c.n()).exp());
    }
    c.dispense(METHOTREXATE, o + c.range(7, 30), c.hi, 90.0);
    let biologic = c.u() < 0.25;
    let bio_start = o + c.range(180, 900);
    if biologic {
        let mut d = bio_start;
        while d <= c.hi {
            c.admin(
                d,
                INFLIXIMAB,
                5.0 * (65.0 + 12.0 * c.n()).max(45.0),
                "mg",
                Ward::Rheumatology,
            );
            d += 56;
        }
    }
    for d in c.schedule(o + 180, 365.0) {
        c.outpatient(d, &[ICD_RA], &[], MVO_RHEUMATOLOGY, Site::Local);
        c.lab(d, Analyte::Crp, (1.5 + 0.9 * c.n()).exp());
        c.hb(d, 5.0);
    }
}

fn chemo_cycles(c: &mut Ctx, start: Day, every: Day, n: u32, drugs: &[(Atc, f64, &'static str)]) {
    let bsa = 1.7 + 0.2 * c.n();
    for k in 0..n {
        let d = start + every * k as Day;
        for &(atc, per_m2, unit) in drugs {
            c.admin(
                d,
                atc,
                (per_m2 * bsa * 10.0).round() / 10.0,
                unit,
                Ward::Oncology,
            );
        }
    }
}

fn breast(c: &mut Ctx, o: Day) {
    let course = c.life.cancers[0];
    let code = course.code;
    c.outpatient(o, &[code], &[], MVO_SURGERY, Site::Local);
    let surgery = o + c.range(14, 35);
    if !course.metastatic {
        let op = if c.u() < 0.7 {
            KVA_PARTIAL_MASTECTOMY
        } else {
            KVA_MASTECTOMY
        };
        let los = c.range(1, 3);
        c.inpatient(surgery, los, &[code], &[op], MVO_SURGERY, Site::Local);
    }
    let chemo_start = surgery + c.range(21, 42);
    if course.flag_b || course.metastatic {
        chemo_cycles(
            c,
            chemo_start,
            21,
            3,
            &[(EPIRUBICIN, 90.0, "mg"), (CYCLOPHOSPHAMIDE, 600.0, "mg")],
        );
        chemo_cycles(c, chemo_start + 63, 7, 12, &[(PACLITAXEL, 80.0, "mg")]);
        for k in 0..4 {
            let d = chemo_start + 42 * k;
            c.outpatient(
                d,
                &[code],
                &[KVA_CHEMOTHERAPY_IV],
                MVO_ONCOLOGY,
                Site::Tertiary,
            );
            c.hb(d, 15.0);
        }
    }
    if course.flag_a {
        let weight: f64 = 70.0 + 12.0 * c.n();
        let mut d = chemo_start;
        for k in 0..17 {
            let mg_per_kg = if k == 0 { 8.0 } else { 6.0 };
            c.admin(
                d,
                TRASTUZUMAB,
                (mg_per_kg * weight.max(45.0)).round(),
                "mg",
                Ward::Oncology,
            );
            d += 21;
        }
    }
    if !course.metastatic && c.u() < 0.75 {
        let atc = if c.age(o) < 50.0 {
            TAMOXIFEN
        } else if c.u() < 0.7 {
            LETROZOLE
        } else {
            ANASTROZOLE
        };
        let start = surgery + c.range(60, 200);
        c.dispense(atc, start, start + (5.0 * YEAR) as Day, 92.0);
    }
    if course.metastatic {
        c.outpatient(
            o + c.range(200, 500),
            &[code, ICD_BONE_MET],
            &[],
            MVO_ONCOLOGY,
            Site::Tertiary,
        );
        let mut d = o + 120;
        while d <= c.hi && d < o + 1500 {
            c.admin(d, ZOLEDRONIC, 4.0, "mg", Ward::Oncology);
            d += 84;
        }
    }
    for d in c.schedule(o + 365, 365.0) {
        if d < o + (5.0 * YEAR) as Day {
            c.outpatient(d, &[code], &[], MVO_SURGERY, Site::Local);
        }
    }
}

fn prostate(c: &mut Ctx, o: Day) {
    let course = c.life.cancers[1];
    let code = course.code;
    let psa0 = (2.3 + 0.8 * c.n()).exp().max(4.0);
    c.lab(o - c.range(20, 60), Analyte::Psa, psa0);
    c.outpatient(o, &[code], &[], MVO_UROLOGY, Site::Local);
    if course.flag_b {
        let d = o + c.range(40, 100);
        let los = c.range(1, 3);
        c.inpatient(
            d,
            los,
            &[code],
            &[KVA_PROSTATECTOMY],
            MVO_UROLOGY,
            Site::Tertiary,
        );
    }
    if course.flag_a {
        c.dispense(BICALUTAMIDE, o + c.range(7, 30), o + 60, 30.0);
        let mut d = o + c.range(14, 40);
        while d <= c.hi {
            c.admin(d, LEUPRORELIN, 22.5, "mg", Ward::Urology);
            d += c.range(84, 95);
        }
        if course.metastatic && c.u() < 0.5 {
            c.dispense(ENZALUTAMIDE, o + c.range(300, 900), c.hi, 30.0);
        }
    }
    let mut level = psa0;
    for d in c.schedule(o + 120, 182.0) {
        let yrs = f64::from(d - o) / YEAR;
        let v = if course.flag_b {
            0.05 * (0.5 * c.n()).exp()
        } else if course.flag_a {
            0.4 * (0.6 * yrs).exp() * (0.3 * c.n()).exp()
        } else {
            level *= 1.0 + 0.08 * c.u();
            level * (0.15 * c.n()).exp()
        };
        c.lab(d, Analyte::Psa, v);
        c.outpatient(d, &[code], &[], MVO_UROLOGY, Site::Local);
    }
}

fn colorectal(c: &mut Ctx, o: Day) {
    let course = c.life.cancers[2];
    let code = course.code;
    c.hb(o - c.range(14, 40), 22.0);
    c.outpatient(o, &[code], &[KVA_COLONOSCOPY], MVO_SURGERY, Site::Local);
    let op = match code {
        ICD_RECTUM => KVA_ANTERIOR_RESECTION,
        ICD_COLON_SIG => KVA_SIGMOID_RESECTION,
        _ => KVA_RIGHT_HEMICOLECTOMY,
    };
    let surgery = o + c.range(20, 45);
    let los = c.range(4, 11);
    let mut codes = vec![code];
    if course.metastatic {
        codes.push(ICD_LIVER_MET);
    }
    c.inpatient(surgery, los, &codes, &[op], MVO_SURGERY, Site::Local);
    c.lab(surgery, Analyte::Crp, (3.5 + 0.8 * c.n()).exp());
    let chemo = surgery + c.range(28, 56);
    if course.flag_a {
        chemo_cycles(c, chemo, 21, 8, &[(OXALIPLATIN, 130.0, "mg")]);
        for k in 0..8 {
            let d = chemo + 21 * k;
            c.dispense_once(CAPECITABINE, d);
        }
    }
    if course.metastatic {
        chemo_cycles(
            c,
            chemo,
            14,
            12,
            &[(FLUOROURACIL, 2400.0, "mg"), (OXALIPLATIN, 85.0, "mg")],
        );
        let weight: f64 = (72.0 + 12.0 * c.n()).max(45.0);
        let mut d = chemo;
        for _ in 0..12 {
            c.admin(d, BEVACIZUMAB, (5.0 * weight).round(), "mg", Ward::Oncology);
            d += 14;
        }
    }
    for d in c.schedule(o + 180, 182.0) {
        if d < o + (5.0 * YEAR) as Day {
            c.outpatient(d, &[code], &[], MVO_SURGERY, Site::Local);
            c.hb(d, 4.0);
            c.lab(d, Analyte::Crp, (1.0 + 0.8 * c.n()).exp());
        }
    }
}

/// Everyday care: infections, pain, check-ups, fractures, myocardial
/// infarction and pneumonia in the elderly, routine blood tests.
fn background(c: &mut Ctx, egfr_off: f64, ldl_base: f64) {
    let mut y = c.lo;
    while y <= c.hi {
        let age = c.age(y);
        let rate = match age {
            a if a < 5.0 => 1.6,
            a if a < 18.0 => 0.6,
            a if a < 45.0 => 0.55,
            a if a < 65.0 => 0.8,
            a if a < 80.0 => 1.1,
            _ => 1.5,
        };
        let span = (c.hi - y + 1).min(365);
        let expected = rate * f64::from(span) / 365.0;
        // Poisson by inversion (small means)
        let mut k = 0;
        let mut p = (-expected).exp();
        let mut cum = p;
        let u = c.u();
        while u > cum && k < 12 {
            k += 1;
            p *= expected / f64::from(k);
            cum += p;
        }
        for _ in 0..k {
            let d = y + c.range(0, span - 1);
            let a = c.age(d);
            let total: u32 = REASONS
                .iter()
                .filter(|r| a >= r.min_age && a <= r.max_age)
                .map(|r| r.weight)
                .sum();
            let mut draw = c.pick(total.max(1));
            let mut chosen = None;
            for r in REASONS.iter().filter(|r| a >= r.min_age && a <= r.max_age) {
                if draw < r.weight {
                    chosen = Some(r);
                    break;
                }
                draw -= r.weight;
            }
            let Some(r) = chosen else { continue };
            c.pc(d, &[r.code]);
            if let Some(atc) = r.antibiotic
                && c.u() < 0.6
            {
                c.dispense_once(atc, weekday(d));
            }
            if r.crp && c.u() < 0.35 {
                let v = (2.2 + 1.2 * c.n()).exp();
                c.lab(d, Analyte::Crp, v);
            }
            if r.code == "M54.5" && c.u() < 0.3 {
                c.dispense_once(PARACETAMOL, weekday(d));
            }
            if a >= 40.0 && c.u() < 0.15 {
                c.hb(d, 0.0);
                c.kidney_panel(d, egfr_off);
                c.ldl(d, ldl_base);
            }
        }
        // acute hospital care
        let dt = f64::from(span) / 365.0;
        let mi_rate = if age < 40.0 {
            0.0
        } else {
            0.0001 * ((age - 40.0) / 9.0).exp2()
        } * if c.life.male { 1.5 } else { 0.7 };
        if c.u() < mi_rate * dt {
            let d = y + c.range(0, span - 1);
            let pci = c.u() < 0.6;
            let ops: &[&'static str] = if pci { &[KVA_PCI] } else { &[] };
            let los = c.range(2, 7);
            c.inpatient(d, los, &[ICD_MI], ops, MVO_CARDIOLOGY, Site::Tertiary);
            c.lab(d, Analyte::Ldl, ldl_base + 0.3 * c.n());
            c.dispense(TICAGRELOR, d + los, d + 365, 90.0);
            c.dispense(ATORVASTATIN, d + los, c.hi, 95.0);
            c.dispense(METOPROLOL, d + los, c.hi, 95.0);
        }
        let hip_rate = if age < 60.0 {
            0.0
        } else {
            0.0004 * ((age - 60.0) / 6.0).exp2()
        } * if c.life.male { 0.5 } else { 1.0 };
        if c.u() < hip_rate.min(0.08) * dt {
            let d = y + c.range(0, span - 1);
            let los = c.range(5, 12);
            c.inpatient(
                d,
                los,
                &[ICD_HIP_FRACTURE],
                &[KVA_HIP_ARTHROPLASTY],
                MVO_ORTHOPAEDICS,
                Site::Local,
            );
            c.hb(d, 12.0);
        }
        let wrist = if (5.0..16.0).contains(&age) {
            0.004
        } else if age > 50.0 && !c.life.male {
            0.006
        } else {
            0.0015
        };
        if c.u() < wrist * dt {
            let d = y + c.range(0, span - 1);
            c.outpatient(d, &[ICD_WRIST_FRACTURE], &[], MVO_ORTHOPAEDICS, Site::Local);
        }
        let pneu = if age < 70.0 {
            0.001
        } else {
            0.003 * ((age - 70.0) / 8.0).exp2()
        };
        if c.u() < pneu.min(0.1) * dt {
            let d = y + c.range(0, span - 1);
            let los = c.range(2, 9);
            c.inpatient(d, los, &[ICD_PNEUMONIA], &[], MVO_MEDICINE, Site::Local);
            c.lab(d, Analyte::Crp, (4.5 + 0.5 * c.n()).exp());
        }
        if age >= 30.0 && c.u() < 0.008 * dt {
            let d = y + c.range(0, span - 1);
            let site = if c.u() < 0.15 {
                Site::Private
            } else {
                Site::Local
            };
            c.outpatient(d, &[ICD_CHEST_PAIN], &[], MVO_CARDIOLOGY, site);
            c.hb(d, 0.0);
        }
        // a PSA test now and then in older men
        if c.life.male
            && age > 50.0
            && c.u() < 0.08 * dt
            && !c.life.has(Disease::ProstateCancer, y + span)
        {
            let d = y + c.range(0, span - 1);
            let v = (-0.3 + 0.025 * (age - 50.0) + 0.6 * c.n()).exp();
            c.lab(d, Analyte::Psa, v.min(3.9));
        }
        y += span;
    }
}
