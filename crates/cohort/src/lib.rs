//! Feasibility counts (antalsberäkning): the query model, a deliberately
//! simple reference evaluator, and the fast cohort engine.
//!
//! * [`query`]: the versioned query model (JSON canonical, YAML accepted),
//!   documented with examples in `docs/query-language.md`.
//! * [`parse_json`] / [`parse_yaml`] / [`parse_value`] / [`validate`]: every
//!   error is a [`QueryError`] naming the JSON path
//!   (`$.criteria[2].include.event.within.days`) and why.
//! * [`canonicalise`] / [`canonical_json`] / [`query_hash`]: two queries that
//!   mean the same thing get the same SHA-256.
//! * [`reference::evaluate`]: straight loops over `Vec<Event>`, persons and
//!   residences; obviously correct, slow.
//! * [`Engine`]: the fast engine. [`Engine::run`] wraps a result with the
//!   snapshot and query hash ([`QueryResult`]).
//!
//! Numbers are exact; the caller protects them (`halsohub-disclosure`).
//!
//! # Engine design
//!
//! Built from the snapshot's records alone (so always rebuildable):
//! [`Engine::from_snapshot`] reads the store's Parquet directly (only the
//! columns it needs; dictionary strings interned once per batch, no string
//! per event); [`EngineBuilder`] / [`Engine::build`] take in-memory records.
//!
//! * **Dense patient ids** `0..n` in pseudonym order; per-patient arrays for
//!   the pseudonym (for opt-outs), sex, birth and death dates, and
//!   residences (CSR: offsets + from / to / region columns).
//! * **Events sorted by (domain, system, code, patient, date)** (a counting
//!   sort into code buckets, then each bucket by patient and day) in
//!   columns: patient `u32`, day number `i32` and context `u32` — 12 bytes
//!   per event. A context is one distinct (provider, provider region,
//!   source, care setting) combination; events share few of them, so the
//!   engine keeps one small table and a criterion's setting / provider /
//!   region / source filters become one precomputed pass-or-fail flag per
//!   context (one lookup per row). A dictionary of the
//!   distinct (domain, system, code) keys holds each key's row range, so a
//!   code, an ICD-10 category or block, or an ATC level is a set of
//!   contiguous ranges found by scanning the (small) dictionary; within a
//!   range rows are sorted by patient, then date (a per-patient timeline).
//!   Lab rows are one contiguous block (the lab domain's codes are
//!   adjacent), with value `f64`, comparator `u8` and unit `u16` in their own
//!   columns (11 bytes more per lab event only). Strings (providers,
//!   regions, sources, units) are interned with ids in sorted order.
//! * **Evaluation with roaring bitmaps.** A criterion that does not depend on
//!   the index is a bitmap of patients: an event criterion with no
//!   occurrence / count rule is a union of per-range patient runs (one pass
//!   over the matching rows); AND / OR / NOT are bitmap operations (NOT
//!   against the population minus excluded patients). With an index, the
//!   index events give sorted **candidates** (patient, index day); every
//!   criterion becomes a bitmap over candidate positions (static bitmaps are
//!   lifted, windows are answered by binary search in each patient's sorted
//!   distinct days, ages and residences at the index day per candidate); a
//!   patient is in the cohort when one of their candidates survives.
//! * **Person criteria on a fixed date** are straight scans over per-patient
//!   arrays (birth and death dates kept only as packed integers
//!   `year << 9 | month << 5 | day`: order is date order, and whole years of
//!   age are a year difference less one before the birthday).
//! * **Opt-outs**: [`Engine::exclusion`] turns pseudonyms into a bitmap that
//!   is removed from the population before anything is counted.
//!
//! Property tests (`tests/agree.rs`) require the engine and the reference
//! evaluator to agree on random small stores and random queries.

pub mod canonical;
pub mod codeset;
pub mod engine;
pub mod lists;
pub mod query;
pub mod reference;
pub mod result;
pub mod validate;

pub use canonical::{canonical_json, canonicalise, query_hash};
pub use codeset::{CodeLists, NamedList};
pub use engine::{Engine, EngineBuilder, EngineLoadError, Exclusion};
pub use lists::{ListError, Loaded};
pub use query::*;
pub use result::*;
pub use validate::{QueryError, QueryErrorKind, parse_json, parse_value, parse_yaml, validate};
