//! Code systems for halsohub: which system a code belongs to, how its
//! written variants normalise, where it sits in its hierarchy, what it is
//! called, and which units its lab values come in.
//!
//! * [`System`] — ICD-10-SE, ICD-10-CM, ATC, KVÅ, NPU, LOINC, SNOMED CT and
//!   any other system carried as id + code; [`System::parse`] accepts ids,
//!   aliases and FHIR URIs.
//! * [`normalise`] — one canonical form per code (`e11.9` → `E119`), with
//!   shape and check-digit validation and typed [`CodeError`]s.
//! * [`hierarchy`] — ICD-10 chapters, blocks, categories; ATC levels; and
//!   [`hierarchy::is_within`] for code sets ("E11.9 is within E10-E14").
//! * [`Pattern`] — one written code of a code set (`E10-E14` with
//!   descendants, `A10B`, `NPU27300`) read by its system's rules into what
//!   it matches; the cohort engine's code sets are resolved by it.
//! * [`CodeRegistry`] — code lists with titles: built-in lists
//!   (`data/*.tsv`) and loaders for CSV/TSV and the ICD-10-CM file; codes
//!   not in a list are reported as such ([`Lookup`]), never dropped.
//! * [`crosswalk`] — the NPU ↔ LOINC crosswalk of the lab analytes (cited
//!   data, equivalence per row) and the qualitative warning for a query
//!   that names an analyte in one system where the store holds both;
//!   [`crosswalk::icd10`], the ICD-10-SE ↔ ICD-10-CM / ICD-10-GM crosswalk
//!   where the editions coincide, with the same warning for diagnoses.
//! * [`OTHER_SYSTEMS`] — the terminologies halsohub knows by name only
//!   (RxNorm, NDC, CVX, ICD-9-CM, ...): system id ↔ FHIR URI ↔ OMOP
//!   vocabulary id, the one list FHIR and OMOP read.
//! * [`units`] — written units to UCUM and the one conversion rule
//!   ([`units::convert`]): powers of ten as exact decimal scaling, other
//!   factors per analyte, converted then rounded to its reporting precision.

pub mod crosswalk;
mod decimal;
mod error;
pub mod hierarchy;
mod normalise;
mod other;
mod pattern;
pub mod plausible;
mod registry;
mod system;
pub mod units;

pub use decimal::Decimal;
pub use error::{CodeError, CodeProblem, LoadError, UnitError};
pub use normalise::{
    display_code, loinc_check_digit, normalise, verhoeff_check_digit, verhoeff_valid,
};
pub use other::{OTHER_SYSTEMS, OtherSystem, other_by_id, other_by_uri};
pub use pattern::{Pattern, PatternError};
pub use registry::{CodeRegistry, Entry, Lookup};
pub use system::System;
