//! HL7 FHIR R4 for halsohub: JSON resources to events, persons and
//! rejections. Pure: no files, no store, no keys.
//!
//! * [`stream::sniff`] tells a FHIR JSON file (a Bundle document or bulk
//!   NDJSON) from its first line; [`stream::read_document`] streams a
//!   Bundle's `entry` array one resource at a time (bounded memory) and
//!   [`stream::read_ndjson`] reads NDJSON line by line, turning a bad line
//!   into a rejection so the rest still loads.
//! * [`Mapper::map`] turns one resource into a [`Mapped`] record: a
//!   [`PatientRecord`] (sex, birth date, death, and the identity to
//!   pseudonymise: a Swedish personnummer/samordningsnummer by its OID, or
//!   a source-scoped identifier), a [`MedicationRecord`] (codes for
//!   references), or a [`ClinicalRecord`] (Encounter, Condition,
//!   Observation, Procedure, Medication{Request,Dispense,Administration,
//!   Statement}) holding halsohub [`Event`](halsohub_model::Event)s with a
//!   placeholder patient; or a [`Rejection`] with a reason code from
//!   [`reason`].
//! * [`Resolver`] resolves references (`Patient/x`, `urn:uuid:` full URLs,
//!   absolute URLs; contained `#id` medications are resolved by the mapper)
//!   within one Bundle or file, generic over the caller's patient handle,
//!   and through an [`External`] directory across files (a bulk export's
//!   Patient, Medication and Encounter files).
//!
//! Codes keep their system: URIs of halsohub's systems map onto them
//! (ICD-10 → `icd10se`, ICD-10-CM, ICD-10-GM → `icd10gm`, ATC incl. the
//! German BfArM edition, KVÅ, NPU, LOINC, SNOMED CT); any other system is
//! kept as its (lower-cased) URI with the code as written. [`uri`] is the
//! inverse for writers: the URI to write for a halsohub system so that it
//! reads back as the same system.

pub mod coding;
mod date;
pub mod reason;
mod resolve;
mod resource;
pub mod stream;
mod types;
pub mod uri;
mod version;

pub use coding::Code;
pub use reason::Rejection;
pub use resolve::{External, NoExternal, Parts, Resolution, Resolver};
pub use resource::{
    ClinicalRecord, Deceased, LAN_CODES, Mapped, Mapper, MedicationRecord, PATIENT_ID_SCOPE,
    PERSONNUMMER_OID, PatientIdentity, PatientRecord, ResidencePeriod, SAMORDNINGSNUMMER_OID,
    Subject, SwedishNumber,
};
