//! OMOP CDM for halsohub, pure (no files, store or keys): what the CDM's
//! tables are and how its vocabularies and domains map onto halsohub's.
//! Used by ingest (reading CDM 5.3 and 5.4 deliveries) and by the OMOP CDM
//! 5.4 export.
//!
//! * [`cdm`] — [`Table`] (every CDM table; [`Table::from_file_name`]
//!   recognises `PERSON.csv.gz`, `person.parquet`, ...), [`CdmVersion`],
//!   and per version the official lower-case [`Column`]s in order with the
//!   CDM's required flag and [`ColumnType`] ([`Table::columns`]).
//! * [`header`] — [`HeaderMatch`]: a file's header against a table,
//!   case-insensitive, any order; the best-matching version, extra and
//!   missing required columns.
//! * [`vocabulary`] — OMOP `vocabulary_id` ↔ halsohub system id
//!   ([`system_for_vocabulary`], [`vocabulary_for_system`]): `ICD10CM` ↔
//!   `icd10cm`, `ICD10` ↔ `icd10se`, `ATC` ↔ `atc`, `SNOMED` ↔
//!   `snomedct`, `LOINC` ↔ `loinc`; others keep their own id (`rxnorm`,
//!   `ndc`, `cvx`, ...). An unresolved concept id is carried as system
//!   [`OMOP_CONCEPT_SYSTEM`] (`omop`) with the id as code.
//! * [`concept`] — the concept table model ([`Concept`],
//!   [`ConceptTable`]) and the fixed concepts halsohub interprets without a
//!   vocabulary: gender, visit → care setting, drug record type →
//!   dispensed / administered / prescribed, measurement operators,
//!   condition status.
//! * [`domain`] — OMOP domains and tables ↔ halsohub [`halsohub_model::Domain`].

pub mod cdm;
pub mod concept;
pub mod domain;
pub mod header;
pub mod vocabulary;

pub use cdm::{CdmVersion, Column, ColumnType, Table};
pub use concept::{Concept, ConceptId, ConceptTable, Standard, SystemCode};
pub use domain::{domain_for_omop, domain_for_table, omop_domain, table_for_domain};
pub use header::HeaderMatch;
pub use vocabulary::{
    OMOP_CONCEPT_SYSTEM, VOCABULARIES, VocabularyMapping, system_for_vocabulary,
    vocabulary_for_system,
};
