//! The dataset catalogue (issue 16): what the hub holds, how good it is,
//! published in HealthDCAT-AP.
//!
//! A pure domain crate: no HTTP, no database, no store. Its only I/O is
//! reading the metadata, approval and configuration files it is given.
//!
//! * [`DatasetDescription`] — the data holder's text about one dataset
//!   (title and description in Swedish and English, publisher and contact
//!   point, legislation, legal basis, purpose, access rights, themes,
//!   health categories, keywords, type, code systems, provenance, update
//!   frequency, retention, the RUT link, the hub sources it covers), read
//!   from a YAML or JSON file with errors that name the file, the field
//!   path and the reason.
//! * [`Approval`] — who approved which version (SHA-256 of the
//!   description) and when; [`Approved`] pairs a description with an
//!   approval that covers it, the only thing the catalogue publishes.
//! * [`ComputedFacts`] — what the hub computes from a snapshot, kept apart
//!   from the holder's text, built from **released** numbers
//!   ([`halsohub_disclosure::ProtectedValue`]) with the catalogue's release
//!   rules on top (suppressed regions, bands and codes left out, ages in
//!   bands, dates in whole months).
//! * [`quality`] — Kahn-framework metrics (conformance, completeness,
//!   plausibility, timeliness) per source and load, each with value,
//!   threshold, pass / fail and explanation; thresholds configurable; the
//!   defect counts only in the non-public view.
//! * [`Catalogue`] and [`rdf`] — the catalogue under a configured base URL
//!   (stable dataset URIs `{base}/api/v1/catalogue/datasets/{id}`), paged
//!   for harvesting (Hydra `PagedCollection`), as HealthDCAT-AP RDF in
//!   Turtle or JSON-LD (oxrdf / oxrdfio). `tests/shacl.rs` validates the
//!   output with pySHACL against the DCAT-AP 3 and HealthDCAT-AP shapes.
//!
//! See `docs/catalogue.md` for the file formats and the output.

pub mod approval;
pub mod catalogue;
pub mod description;
pub mod facts;
pub mod quality;
pub mod rdf;
pub mod vocab;

pub use approval::{Approval, ApprovalError, Approved, digest};
pub use catalogue::{
    Catalogue, CatalogueConfig, CatalogueError, EHDS_ELI, Entry, Hdab, MAX_PAGE_SIZE, PageInfo,
};
pub use description::{
    Bilingual, ContactPoint, DatasetDescription, DescriptionError, FileFormat, Issue, Keywords,
    Publisher, Retention,
};
pub use facts::{
    AgeBand, AgeRange, ComputedFacts, FactsInput, FrequentCode, Region, TimeCoverage, Variable,
    VariableKind,
};
pub use halsohub_disclosure::ProtectedValue;
pub use quality::{LoadObservation, Metric, QualityReport, Thresholds, assess};
pub use rdf::{RdfError, RdfSyntax, dataset_triples, page_triples, serialise};
pub use vocab::{AccessRights, DatasetType, Frequency, HealthCategory, Theme};
