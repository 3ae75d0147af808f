//! Writing a person's rows into the per-chunk buffers of every file, in the
//! register formats of `docs/formats.md`, with defects injected and counted.

use chrono::Datelike;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::care::{Events, Site};
use crate::geo::{DiagStyle, Geography, IdStyle, N_REGIONS, REGIONS, UnitStyle};
use crate::ids::IdForms;
use crate::life::{
    DISEASES, Day, DeathPrecision, Disease, Entry, Life, N_DISEASES, date_of, uniform,
};
use crate::manifest::{DefectCounts, DefectKind};
use crate::tables::{self, Analyte};

/// Index of the national files.
pub(crate) const POPULATION: usize = 0;
pub(crate) const ID_CHANGES: usize = 1;
pub(crate) const PAR_INPATIENT: usize = 2;
pub(crate) const PAR_OUTPATIENT: usize = 3;
pub(crate) const LMED: usize = 4;
pub(crate) const DORS: usize = 5;
const NATIONAL: usize = 6;
/// Number of files in a set.
pub(crate) const N_FILES: usize = NATIONAL + 3 * N_REGIONS;

pub(crate) fn primary_care(region: usize) -> usize {
    NATIONAL + 3 * region
}
pub(crate) fn administered(region: usize) -> usize {
    NATIONAL + 3 * region + 1
}
pub(crate) fn lab(region: usize) -> usize {
    NATIONAL + 3 * region + 2
}

/// Static description of one output file.
#[derive(Debug, Clone)]
pub(crate) struct FileSpec {
    pub path: String,
    pub format: &'static str,
    pub header: &'static str,
    /// Windows-1252 with CRLF (national) or UTF-8 with LF (regional).
    pub national: bool,
    pub bom: bool,
}

/// The files of a set, indexed as the constants above.
pub(crate) fn file_specs() -> Vec<FileSpec> {
    let nat = |path: &str, format, header| FileSpec {
        path: path.to_string(),
        format,
        header,
        national: true,
        bom: false,
    };
    let mut v = vec![
        nat(
            "population/folkbokforing.txt",
            "population",
            "PERSONNR;KON;FODELSEDATUM;LAN;KOMMUN;FRAN_DATUM;TILL_DATUM;INVANDRING_DATUM;UTVANDRING_DATUM",
        ),
        nat(
            "population/personnummerbyten.txt",
            "id_changes",
            "GAMMALT_PERSONNR;NYTT_PERSONNR;ANDRINGSDATUM",
        ),
        nat(
            "socialstyrelsen/par_sluten.txt",
            "par_inpatient",
            "PERSONNR;INDATUM;UTDATUM;HDIA;DIAGNOS;OP;SJUKHUS;MVO",
        ),
        nat(
            "socialstyrelsen/par_oppen.txt",
            "par_outpatient",
            "PERSONNR;INDATUM;HDIA;DIAGNOS;OP;SJUKHUS;MVO",
        ),
        nat(
            "socialstyrelsen/lmed.txt",
            "prescribed_drugs",
            "PERSONNR;EDATUM;ATC;VARUNR;ANTAL;FDATUM",
        ),
        nat(
            "socialstyrelsen/dors.txt",
            "cause_of_death",
            "PERSONNR;DODSDATUM;ULORSAK;MORSAK",
        ),
    ];
    for r in &REGIONS {
        let reg = |file: &str, format, header| FileSpec {
            path: format!("region_{}/{}", r.lan, file),
            format,
            header,
            national: false,
            bom: r.bom,
        };
        v.push(reg(
            "primarvard.csv",
            "primary_care",
            "personnummer,besoksdatum,diagnoskoder,vardenhet",
        ));
        v.push(reg(
            "rekvisition.csv",
            "administered_drugs",
            "personnummer;administreringsdatum;atc;dos;enhet;avdelning",
        ));
        v.push(reg(
            "lab.tsv",
            "lab",
            "personnummer\tprovtagningstid\tanalyskod\tkodsystem\tresultat\tenhet\treferensintervall",
        ));
    }
    v
}

/// Which defect kinds apply to a file.
pub(crate) fn defect_kinds(file: usize) -> &'static [DefectKind] {
    use DefectKind::*;
    match file {
        POPULATION => &[BadCheckDigit, ImpossibleDate, MissingField, ExactDuplicate],
        ID_CHANGES => &[],
        PAR_INPATIENT | PAR_OUTPATIENT | DORS => &[
            BadCheckDigit,
            UnknownCode,
            ImpossibleDate,
            MissingField,
            ExactDuplicate,
        ],
        LMED => &[
            BadCheckDigit,
            UnknownCode,
            ImpossibleDate,
            MissingField,
            ExactDuplicate,
            UnparseableValue,
        ],
        f if (f - NATIONAL).is_multiple_of(3) => &[
            BadCheckDigit,
            UnknownCode,
            ImpossibleDate,
            MissingField,
            ExactDuplicate,
        ],
        _ => &[
            BadCheckDigit,
            UnknownCode,
            ImpossibleDate,
            MissingField,
            ExactDuplicate,
            UnparseableValue,
        ],
    }
}

/// Counters of one chunk (or of the whole run, after merging).
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    pub persons: u64,
    pub men: u64,
    pub women: u64,
    pub resident_at_start: u64,
    pub born_in_period: u64,
    pub immigrated_in_period: u64,
    pub immigrated_before_period: u64,
    pub emigrated: u64,
    pub deaths: u64,
    pub deaths_unknown_day: u64,
    pub deaths_unknown_month: u64,
    pub id_changes: u64,
    pub moves: u64,
    pub centenarians_at_extract: u64,
    pub disease_persons: [u64; N_DISEASES],
    pub causes: std::collections::BTreeMap<&'static str, u64>,
    pub rows: Vec<u64>,
    pub defects: Vec<DefectCounts>,
}

impl Stats {
    pub(crate) fn new() -> Self {
        Stats {
            rows: vec![0; N_FILES],
            defects: vec![DefectCounts::default(); N_FILES],
            ..Stats::default()
        }
    }

    pub(crate) fn merge(&mut self, o: &Stats) {
        self.persons += o.persons;
        self.men += o.men;
        self.women += o.women;
        self.resident_at_start += o.resident_at_start;
        self.born_in_period += o.born_in_period;
        self.immigrated_in_period += o.immigrated_in_period;
        self.immigrated_before_period += o.immigrated_before_period;
        self.emigrated += o.emigrated;
        self.deaths += o.deaths;
        self.deaths_unknown_day += o.deaths_unknown_day;
        self.deaths_unknown_month += o.deaths_unknown_month;
        self.id_changes += o.id_changes;
        self.moves += o.moves;
        self.centenarians_at_extract += o.centenarians_at_extract;
        for (a, b) in self
            .disease_persons
            .iter_mut()
            .zip(o.disease_persons.iter())
        {
            *a += b;
        }
        for (k, v) in &o.causes {
            *self.causes.entry(k).or_default() += v;
        }
        for (a, b) in self.rows.iter_mut().zip(o.rows.iter()) {
            *a += b;
        }
        for (a, b) in self.defects.iter_mut().zip(o.defects.iter()) {
            a.add(b);
        }
    }
}

/// The output of one chunk: one buffer per file, plus its counters.
pub(crate) struct ChunkOut {
    pub bufs: Vec<Vec<u8>>,
    pub stats: Stats,
}

impl ChunkOut {
    pub(crate) fn new() -> Self {
        ChunkOut {
            bufs: (0..N_FILES).map(|_| Vec::new()).collect(),
            stats: Stats::new(),
        }
    }
}

// --- small formatting helpers -------------------------------------------

fn push_num(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        if let Some(slot) = tmp.get_mut(i) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    buf.extend_from_slice(tmp.get(i..).unwrap_or(&[]));
}

fn push_fixed(buf: &mut Vec<u8>, n: u32, width: usize) {
    let mut tmp = [b'0'; 8];
    let mut v = n;
    let w = width.min(tmp.len());
    for i in (0..w).rev() {
        if let Some(slot) = tmp.get_mut(i) {
            *slot = b'0' + (v % 10) as u8;
        }
        v /= 10;
    }
    buf.extend_from_slice(tmp.get(..w).unwrap_or(&[]));
}

/// Writes a non-negative decimal with `decimals` digits and the given
/// decimal separator.
fn push_decimal(buf: &mut Vec<u8>, value: f64, decimals: u32, sep: u8) {
    let scale = 10u64.pow(decimals);
    let v = (value.max(0.0) * scale as f64).round() as u64;
    push_num(buf, v / scale);
    if decimals > 0 {
        buf.push(sep);
        let frac = (v % scale) as u32;
        push_fixed(buf, frac, decimals as usize);
    }
}

#[derive(Clone, Copy)]
enum DateFmt {
    Compact,
    Iso,
}

fn push_ymd(buf: &mut Vec<u8>, y: i32, m: u32, d: u32, f: DateFmt) {
    push_fixed(buf, y.max(0) as u32, 4);
    if matches!(f, DateFmt::Iso) {
        buf.push(b'-');
    }
    push_fixed(buf, m, 2);
    if matches!(f, DateFmt::Iso) {
        buf.push(b'-');
    }
    push_fixed(buf, d, 2);
}

fn push_date(buf: &mut Vec<u8>, day: Day, f: DateFmt) {
    let d = date_of(day);
    push_ymd(buf, d.year(), d.month(), d.day(), f);
}

/// A date field that may carry a defect.
fn push_date_field(
    buf: &mut Vec<u8>,
    day: Day,
    f: DateFmt,
    defect: Option<DefectKind>,
    rng: &mut ChaCha8Rng,
) {
    match defect {
        Some(DefectKind::MissingField) => {}
        Some(DefectKind::ImpossibleDate) => {
            let y = date_of(day).year();
            let (m, d) = match rng.random_range(0..4) {
                0 => (2, 30),
                1 => (2, 31),
                2 => (4, 31),
                _ => (13, 1),
            };
            push_ymd(buf, y, m, d, f);
        }
        _ => push_date(buf, day, f),
    }
}

/// Writes an ICD-10 code (stored dotted, e.g. `E11.9`) in a style.
fn push_icd(buf: &mut Vec<u8>, code: &str, style: DiagStyle) {
    for &b in code.as_bytes() {
        match (style, b) {
            (DiagStyle::Compact, b'.') => {}
            (DiagStyle::LowerDotted, b) => buf.push(b.to_ascii_lowercase()),
            (_, b) => buf.push(b),
        }
    }
}

fn push_codes(buf: &mut Vec<u8>, codes: &[&str], style: DiagStyle) {
    for (i, c) in codes.iter().enumerate() {
        if i > 0 {
            buf.push(b' ');
        }
        push_icd(buf, c, style);
    }
}

fn pick<'a>(rng: &mut ChaCha8Rng, list: &[&'a str]) -> &'a str {
    if list.is_empty() {
        return "";
    }
    list.get(rng.random_range(0..list.len()))
        .copied()
        .unwrap_or("")
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Writes one person's rows into the chunk's buffers.
pub(crate) struct PersonWriter<'a> {
    pub out: &'a mut ChunkOut,
    pub rng: &'a mut ChaCha8Rng,
    pub defect_rate: f64,
    pub geo: &'a Geography,
    /// Hashes of this person's lines per file, to avoid accidental exact
    /// duplicates (only deliberate ones are written).
    pub seen: &'a mut Vec<(u16, u64)>,
}

impl PersonWriter<'_> {
    /// Writes one logical row to `file` through `build`, maybe with a defect.
    fn row<F>(&mut self, file: usize, build: F)
    where
        F: FnOnce(&mut Vec<u8>, Option<DefectKind>, &mut ChaCha8Rng),
    {
        let kinds = defect_kinds(file);
        let defect = if self.defect_rate > 0.0
            && !kinds.is_empty()
            && uniform(self.rng) < self.defect_rate
        {
            kinds.get(self.rng.random_range(0..kinds.len())).copied()
        } else {
            None
        };
        let national = file < NATIONAL;
        let Some(buf) = self.out.bufs.get_mut(file) else {
            return;
        };
        let start = buf.len();
        let field_defect = defect.filter(|k| *k != DefectKind::ExactDuplicate);
        build(buf, field_defect, self.rng);
        let h = fnv(buf.get(start..).unwrap_or(&[]));
        let key = (file as u16, h);
        if self.seen.contains(&key) {
            buf.truncate(start);
            return;
        }
        self.seen.push(key);
        if national {
            buf.extend_from_slice(b"\r\n");
        } else {
            buf.push(b'\n');
        }
        if let Some(r) = self.out.stats.rows.get_mut(file) {
            *r += 1;
        }
        if let Some(k) = defect {
            if k == DefectKind::ExactDuplicate {
                let line = buf.get(start..).map(<[u8]>::to_vec).unwrap_or_default();
                buf.extend_from_slice(&line);
                if let Some(r) = self.out.stats.rows.get_mut(file) {
                    *r += 1;
                }
            }
            if let Some(d) = self.out.stats.defects.get_mut(file) {
                d.count(k);
            }
        }
    }

    /// Writes every row of a person.
    pub(crate) fn person(
        &mut self,
        life: &Life,
        ids: &IdForms,
        old: Option<(&IdForms, Day)>,
        ev: &Events,
    ) {
        self.seen.clear();
        let st = &mut self.out.stats;
        st.persons += 1;
        if life.male {
            st.men += 1;
        } else {
            st.women += 1;
        }
        match life.entry {
            Entry::Resident => st.resident_at_start += 1,
            Entry::Born => st.born_in_period += 1,
            Entry::Immigrated(_) => st.immigrated_in_period += 1,
        }
        if matches!(life.entry, Entry::Resident) && life.immigration.is_some() {
            st.immigrated_before_period += 1;
        }
        if life.emigration.is_some() {
            st.emigrated += 1;
        }
        if ids.ten_sep == b'+' {
            st.centenarians_at_extract += 1;
        }
        st.moves += life.residences.len().saturating_sub(1) as u64;
        for (i, d) in DISEASES.iter().enumerate() {
            if life.onset[*d as usize].is_some()
                && let Some(c) = st.disease_persons.get_mut(i)
            {
                *c += 1;
            }
        }
        let id_for = |day: Day| -> &IdForms {
            match old {
                Some((o, change)) if day < change => o,
                _ => ids,
            }
        };

        // population register
        for res in &life.residences {
            let lan = REGIONS
                .get(usize::from(res.region))
                .map(|r| r.lan)
                .unwrap_or("00");
            let kommun = REGIONS
                .get(usize::from(res.region))
                .and_then(|r| r.kommuner.get(usize::from(res.kommun)))
                .map(|k| k.0)
                .unwrap_or("0000");
            let male = life.male;
            let birth = life.birth;
            let imm = life.immigration;
            let emi = life.emigration;
            self.row(POPULATION, |b, d, rng| {
                ids.write(b, IdStyle::Twelve, bad(d, rng));
                b.extend_from_slice(if male { b";1;" } else { b";2;" });
                push_date(b, birth, DateFmt::Compact);
                b.push(b';');
                b.extend_from_slice(lan.as_bytes());
                b.push(b';');
                b.extend_from_slice(kommun.as_bytes());
                b.push(b';');
                push_date_field(b, res.from, DateFmt::Compact, d, rng);
                b.push(b';');
                if let Some(t) = res.to {
                    push_date(b, t, DateFmt::Compact);
                }
                b.push(b';');
                if let Some(t) = imm {
                    push_date(b, t, DateFmt::Compact);
                }
                b.push(b';');
                if let Some(t) = emi {
                    push_date(b, t, DateFmt::Compact);
                }
            });
        }
        if let Some((o, change)) = old {
            self.out.stats.id_changes += 1;
            self.row(ID_CHANGES, |b, _, _| {
                o.write(b, IdStyle::Twelve, 0);
                b.push(b';');
                ids.write(b, IdStyle::Twelve, 0);
                b.push(b';');
                push_date(b, change, DateFmt::Compact);
            });
        }

        // patient register
        for e in &ev.par {
            let region = usize::from(life.region_at(e.day));
            let hosp = self.hospital(region, e.site, life.salt);
            let idf = id_for(e.day);
            let file = if e.out.is_some() {
                PAR_INPATIENT
            } else {
                PAR_OUTPATIENT
            };
            self.row(file, |b, d, rng| {
                idf.write(b, IdStyle::Twelve, bad(d, rng));
                b.push(b';');
                push_date_field(b, e.day, DateFmt::Compact, d, rng);
                b.push(b';');
                if let Some(out) = e.out {
                    push_date(b, out, DateFmt::Compact);
                    b.push(b';');
                }
                let unknown =
                    (d == Some(DefectKind::UnknownCode)).then(|| pick(rng, &tables::UNKNOWN_ICD));
                let main = unknown.or(e.codes.first()).unwrap_or("");
                push_icd(b, main, DiagStyle::Compact);
                b.push(b';');
                push_icd(b, main, DiagStyle::Compact);
                for c in e.codes.as_slice().iter().skip(1) {
                    b.push(b' ');
                    push_icd(b, c, DiagStyle::Compact);
                }
                b.push(b';');
                for (i, c) in e.ops.as_slice().iter().enumerate() {
                    if i > 0 {
                        b.push(b' ');
                    }
                    b.extend_from_slice(c.as_bytes());
                }
                b.push(b';');
                b.extend_from_slice(&hosp);
                b.push(b';');
                b.extend_from_slice(e.mvo.as_bytes());
            });
        }

        // prescribed drug register
        for e in &ev.disp {
            let idf = id_for(e.day);
            self.row(LMED, |b, d, rng| {
                idf.write(b, IdStyle::Twelve, bad(d, rng));
                b.push(b';');
                push_date_field(b, e.day, DateFmt::Compact, d, rng);
                b.push(b';');
                if d == Some(DefectKind::UnknownCode) {
                    b.extend_from_slice(pick(rng, &tables::UNKNOWN_ATC).as_bytes());
                } else {
                    b.extend_from_slice(e.atc.as_bytes());
                }
                b.push(b';');
                push_fixed(b, tables::product_number(e.atc, e.variant), 6);
                b.push(b';');
                if d == Some(DefectKind::UnparseableValue) {
                    b.extend_from_slice(pick(rng, &["x2", "1..0", "??", "två"]).as_bytes());
                } else {
                    push_num(b, u64::from(e.packages));
                }
                b.push(b';');
                push_date(b, e.prescribed.min(e.day), DateFmt::Compact);
            });
        }

        // cause of death register
        if let Some(death) = &life.death {
            let st = &mut self.out.stats;
            st.deaths += 1;
            *st.causes.entry(death.underlying).or_default() += 1;
            match death.precision {
                DeathPrecision::UnknownDay => st.deaths_unknown_day += 1,
                DeathPrecision::UnknownMonth => st.deaths_unknown_month += 1,
                DeathPrecision::Exact => {}
            }
            let idf = id_for(death.day);
            self.row(DORS, |b, d, rng| {
                idf.write(b, IdStyle::Twelve, bad(d, rng));
                b.push(b';');
                match (d, death.precision) {
                    (Some(DefectKind::MissingField | DefectKind::ImpossibleDate), _)
                    | (_, DeathPrecision::Exact) => {
                        push_date_field(b, death.day, DateFmt::Compact, d, rng);
                    }
                    (_, DeathPrecision::UnknownDay) => {
                        let dd = date_of(death.day);
                        push_ymd(b, dd.year(), dd.month(), 0, DateFmt::Compact);
                    }
                    (_, DeathPrecision::UnknownMonth) => {
                        push_ymd(b, date_of(death.day).year(), 0, 0, DateFmt::Compact);
                    }
                }
                b.push(b';');
                let u = if d == Some(DefectKind::UnknownCode) {
                    pick(rng, &tables::UNKNOWN_ICD)
                } else {
                    death.underlying
                };
                push_icd(b, u, DiagStyle::Compact);
                b.push(b';');
                push_codes(b, death.contributing.as_slice(), DiagStyle::Compact);
            });
        }

        // regional primary care
        for e in &ev.pc {
            let region = usize::from(life.region_at(e.day));
            let Some(def) = REGIONS.get(region) else {
                continue;
            };
            let unit = self
                .geo
                .regions
                .get(region)
                .and_then(|r| {
                    r.care_units.get(
                        (life.salt as usize).wrapping_add(region * 7919)
                            % r.care_units.len().max(1),
                    )
                })
                .map(|u| u.code.as_str())
                .unwrap_or("");
            let coded = uniform(self.rng) < def.coding;
            let idf = id_for(e.day);
            let fmt = if def.iso_dates {
                DateFmt::Iso
            } else {
                DateFmt::Compact
            };
            self.row(primary_care(region), |b, d, rng| {
                idf.write(b, def.id_style, bad(d, rng));
                b.push(b',');
                push_date_field(b, e.day, fmt, d, rng);
                b.push(b',');
                if d == Some(DefectKind::UnknownCode) {
                    push_icd(b, pick(rng, &tables::UNKNOWN_ICD), def.diag_style);
                } else if coded {
                    push_codes(b, e.codes.as_slice(), def.diag_style);
                }
                b.push(b',');
                b.extend_from_slice(unit.as_bytes());
            });
        }

        // regional hospital-administered drugs
        for e in &ev.adm {
            let region = usize::from(life.region_at(e.day));
            let Some(def) = REGIONS.get(region) else {
                continue;
            };
            let idf = id_for(e.day);
            let fmt = if def.iso_dates {
                DateFmt::Iso
            } else {
                DateFmt::Compact
            };
            self.row(administered(region), |b, d, rng| {
                idf.write(b, def.id_style, bad(d, rng));
                b.push(b';');
                push_date_field(b, e.day, fmt, d, rng);
                b.push(b';');
                if d == Some(DefectKind::UnknownCode) {
                    b.extend_from_slice(pick(rng, &tables::UNKNOWN_ATC).as_bytes());
                } else {
                    b.extend_from_slice(e.atc.as_bytes());
                }
                b.push(b';');
                if d == Some(DefectKind::UnparseableValue) {
                    b.extend_from_slice(
                        pick(rng, &["ca 50", "1,2,5", "--", "se ordination"]).as_bytes(),
                    );
                } else {
                    push_num(b, u64::from(e.dose10 / 10));
                    if e.dose10 % 10 != 0 {
                        b.push(b',');
                        push_num(b, u64::from(e.dose10 % 10));
                    }
                }
                b.push(b';');
                b.extend_from_slice(e.unit.as_bytes());
                b.push(b';');
                b.extend_from_slice(def.lan.as_bytes());
                b.push(b'-');
                b.extend_from_slice(e.ward.code().as_bytes());
            });
        }

        // regional lab
        for e in &ev.lab {
            let region = usize::from(life.region_at(e.day));
            let Some(def) = REGIONS.get(region) else {
                continue;
            };
            let idf = id_for(e.day);
            let male = life.male;
            self.row(lab(region), |b, d, rng| {
                idf.write(b, def.id_style, bad(d, rng));
                b.push(b'\t');
                push_date_field(b, e.day, DateFmt::Iso, d, rng);
                if d != Some(DefectKind::MissingField) {
                    b.push(b' ');
                    push_fixed(b, u32::from(e.minute / 60), 2);
                    b.push(b':');
                    push_fixed(b, u32::from(e.minute % 60), 2);
                }
                b.push(b'\t');
                let unknown = d == Some(DefectKind::UnknownCode);
                if def.loinc {
                    let c = if unknown {
                        pick(rng, &tables::UNKNOWN_LOINC)
                    } else {
                        e.analyte.loinc()
                    };
                    b.extend_from_slice(c.as_bytes());
                    b.extend_from_slice(b"\tLOINC\t");
                } else {
                    let c = if unknown {
                        pick(rng, &tables::UNKNOWN_NPU)
                    } else {
                        e.analyte.npu()
                    };
                    b.extend_from_slice(c.as_bytes());
                    b.extend_from_slice(b"\tNPU\t");
                }
                if d == Some(DefectKind::UnparseableValue) {
                    b.extend_from_slice(pick(rng, &["1,2,3", "##", "#VÄRDEFEL!", "--"]).as_bytes());
                } else {
                    push_lab_value(b, e.analyte, e.value);
                }
                b.push(b'\t');
                let units = e.analyte.units();
                let unit = match def.unit_style {
                    UnitStyle::Ucum => units[0],
                    UnitStyle::Lower => units[1],
                    UnitStyle::Greek => units[2],
                };
                b.extend_from_slice(unit.as_bytes());
                b.push(b'\t');
                b.extend_from_slice(e.analyte.reference(male).as_bytes());
            });
        }
    }

    fn hospital(&self, region: usize, site: Site, salt: u32) -> [u8; 5] {
        let Some(r) = self.geo.regions.get(region) else {
            return *b"00000";
        };
        let public: Vec<&crate::geo::Hospital> =
            r.hospitals.iter().filter(|h| !h.private).collect();
        let choice = match site {
            Site::Tertiary => r
                .hospitals
                .iter()
                .find(|h| h.university)
                .or(public.first().copied()),
            Site::Private => r.hospitals.iter().find(|h| h.private),
            Site::Local => {
                let county: Vec<&&crate::geo::Hospital> =
                    public.iter().filter(|h| !h.university).collect();
                if county.is_empty() {
                    public.first().copied()
                } else {
                    county.get(salt as usize % county.len()).map(|h| **h)
                }
            }
        };
        choice.map(|h| h.code).unwrap_or(*b"00000")
    }
}

/// The check-digit offset for a bad-check-digit defect (1..=9), else 0.
fn bad(d: Option<DefectKind>, rng: &mut ChaCha8Rng) -> u8 {
    if d == Some(DefectKind::BadCheckDigit) {
        rng.random_range(1..=9)
    } else {
        0
    }
}

fn push_lab_value(b: &mut Vec<u8>, a: Analyte, v: f64) {
    if let Some((limit, text)) = a.lower_limit()
        && v < limit
    {
        b.extend_from_slice(text.as_bytes());
        return;
    }
    if let Some((limit, text)) = a.upper_limit()
        && v > limit
    {
        b.extend_from_slice(text.as_bytes());
        return;
    }
    push_decimal(b, v, a.decimals(), b',');
}

/// Names of the diseases, in manifest order.
pub(crate) fn disease_names() -> [&'static str; N_DISEASES] {
    DISEASES.map(Disease::name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_cheaply_and_correctly() {
        let mut b = Vec::new();
        push_num(&mut b, 0);
        b.push(b' ');
        push_num(&mut b, 1234567);
        b.push(b' ');
        push_decimal(&mut b, 6.45, 1, b',');
        b.push(b' ');
        push_decimal(&mut b, 0.05, 2, b',');
        b.push(b' ');
        push_fixed(&mut b, 7, 3);
        assert_eq!(String::from_utf8(b).unwrap(), "0 1234567 6,5 0,05 007");
    }

    #[test]
    fn icd_styles() {
        let mut b = Vec::new();
        push_icd(&mut b, "E11.9", DiagStyle::Compact);
        b.push(b' ');
        push_icd(&mut b, "E11.9", DiagStyle::LowerDotted);
        b.push(b' ');
        push_icd(&mut b, "E11.9", DiagStyle::Dotted);
        assert_eq!(String::from_utf8(b).unwrap(), "E119 e11.9 E11.9");
    }

    #[test]
    fn every_file_has_a_spec_and_kinds() {
        let specs = file_specs();
        assert_eq!(specs.len(), N_FILES);
        for i in 0..N_FILES {
            let _ = defect_kinds(i);
        }
        assert_eq!(specs[lab(20)].path, "region_25/lab.tsv");
        assert_eq!(specs[administered(0)].format, "administered_drugs");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The hand-written number formatting agrees with `format!`.
        #[test]
        fn numbers_match_std_formatting(n in any::<u64>(), v in 0.0f64..1.0e7, dec in 0u32..3) {
            let mut b = Vec::new();
            push_num(&mut b, n);
            prop_assert_eq!(String::from_utf8(b).unwrap(), n.to_string());
            let mut b = Vec::new();
            push_decimal(&mut b, v, dec, b',');
            let scale = 10u64.pow(dec);
            let scaled = (v * scale as f64).round() as u64;
            let want = if dec == 0 {
                scaled.to_string()
            } else {
                format!("{},{:0w$}", scaled / scale, scaled % scale, w = dec as usize)
            };
            prop_assert_eq!(String::from_utf8(b).unwrap(), want);
        }

        /// Fast date formatting agrees with chrono's.
        #[test]
        fn dates_match_chrono(day in 700_000i32..760_000) {
            let d = date_of(day);
            let mut b = Vec::new();
            push_date(&mut b, day, DateFmt::Compact);
            b.push(b' ');
            push_date(&mut b, day, DateFmt::Iso);
            prop_assert_eq!(
                String::from_utf8(b).unwrap(),
                format!("{} {}", d.format("%Y%m%d"), d.format("%Y-%m-%d"))
            );
        }
    }
}
