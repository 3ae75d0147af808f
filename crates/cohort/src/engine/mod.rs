//! The fast engine: columnar, code-sorted events and per-patient arrays,
//! evaluated with roaring bitmaps. See the crate documentation for the
//! design.
//!
//! * [`build`]: [`EngineBuilder`] (records in any order → sorted, indexed
//!   columns) and [`Engine::build`] from in-memory records;
//! * [`from_store`]: [`Engine::from_snapshot`], the builder fed column-wise
//!   from a store snapshot's Parquet;
//! * [`rows`]: row-level access over the sorted columns (an event
//!   criterion's row filter, per-patient dates, person facts on a day);
//! * [`eval`]: criteria as roaring bitmaps, index candidates, the cohort,
//!   [`Engine::evaluate`] / [`Engine::run`] / [`Engine::cohort`];
//! * [`output`]: the output section (counts, ratios, strata, series,
//!   funnels) of an evaluation.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use halsohub_disclosure::{PersonTag, PersonTagger, SetPrint};
use halsohub_identity::Pseudonym;
use halsohub_store::{Comparator, Domain, Setting};
use roaring::RoaringBitmap;

mod build;
mod eval;
pub(crate) mod from_store;
mod output;
mod rows;

pub use build::EngineBuilder;
pub use from_store::EngineLoadError;

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

/// Rows per piece when an event criterion's rows are scanned on every core
/// (criteria with fewer rows are scanned on one).
pub(super) const PARALLEL_CHUNK_ROWS: usize = 1 << 19;

fn cmp_of(c: u8) -> Option<Comparator> {
    match c {
        1 => Some(Comparator::Lt),
        2 => Some(Comparator::Le),
        3 => Some(Comparator::Gt),
        4 => Some(Comparator::Ge),
        _ => None,
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
    /// Secret person tags (key part) by dense id, empty until
    /// [`Engine::set_person_tags`]: what the set fingerprints of results
    /// ([`crate::QueryResult::prints`]) are made of.
    tags: Vec<u64>,
    /// Rows per piece when a criterion is scanned on every core
    /// ([`PARALLEL_CHUNK_ROWS`]; smaller in tests, to exercise the split).
    chunk_rows: usize,
}

/// Patients to leave out of every count (opt-outs), as dense ids of one
/// engine. Build with [`Engine::exclusion`].
#[derive(Debug, Clone, Default)]
pub struct Exclusion(RoaringBitmap);

impl Engine {
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
            tags,
            chunk_rows: _,
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
            + heap(tags)
    }

    /// Gives every patient its secret tag under `tagger` (HMAC of the
    /// pseudonym), so that results carry the fingerprint of the persons
    /// behind each number. One HMAC per patient.
    pub fn set_person_tags(&mut self, tagger: &PersonTagger) {
        self.tags = self
            .patients
            .iter()
            .map(|p| tagger.tag(p.as_bytes()).key)
            .collect();
    }

    /// Scans criteria with more than `rows` rows in pieces of about that
    /// many rows on every core (default [`PARALLEL_CHUNK_ROWS`]); for tests
    /// that exercise the split on small data.
    #[doc(hidden)]
    pub fn set_parallel_chunk_rows(&mut self, rows: usize) {
        self.chunk_rows = rows.max(1);
    }

    /// The tag of dense patient `p` (only with tags set).
    fn tag(&self, p: u32) -> PersonTag {
        PersonTag {
            key: self.tags.get(p as usize).copied().unwrap_or(0),
        }
    }

    /// The fingerprint of a set of dense ids, `None` without tags.
    fn print_of(&self, set: &RoaringBitmap) -> Option<SetPrint> {
        if self.tags.is_empty() {
            return None;
        }
        Some(SetPrint::of(set.iter().map(|p| self.tag(p))))
    }

    /// The code systems of the snapshot's events (`icd10se`, `icd10cm`, a
    /// FHIR system URI, ...), each once, sorted. Events without a code
    /// (an encounter with no type) have no system and are left out.
    pub fn systems(&self) -> BTreeSet<&str> {
        self.codes
            .iter()
            .map(|c| c.system.as_str())
            .filter(|s| !s.is_empty())
            .collect()
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
