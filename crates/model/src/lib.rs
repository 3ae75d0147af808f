//! The records that ingest hands to the store, and that the store hands back.
//!
//! This is the contract between `halsohub-ingest` (producer) and
//! `halsohub-store` (persistence) and, later, the cohort engine (consumer).
//! Plain types, no Arrow or Parquet: the pure mappers (`halsohub-fhir`,
//! `halsohub-omop`) use them without compiling the store, and
//! `halsohub-store` re-exports them (`halsohub_store::model`,
//! `halsohub_store::Event`, ...).
//! Every identity here is a [`Pseudonym`]: raw identity numbers never reach
//! these types.

use chrono::NaiveDate;
use halsohub_identity::Pseudonym;
use serde::{Deserialize, Serialize};

/// What kind of care event a row is. One value per event; a register row with
/// a main diagnosis, three secondary diagnoses and two procedures becomes one
/// `Encounter`, four `Diagnosis` and two `Procedure` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    Diagnosis,
    DispensedDrug,
    AdministeredDrug,
    LabResult,
    Procedure,
    Encounter,
    Death,
    /// A drug prescribed, ordered or reported as taken (FHIR
    /// MedicationRequest and MedicationStatement, OMOP drug_exposure of a
    /// prescription type): not evidence that it was dispensed.
    PrescribedDrug,
    /// A clinical observation that is neither a lab result nor a diagnosis
    /// (OMOP `observation`: history, status, survey answers), with a numeric,
    /// coded or text value.
    Observation,
}

impl Domain {
    pub const ALL: [Domain; 9] = [
        Domain::Diagnosis,
        Domain::DispensedDrug,
        Domain::AdministeredDrug,
        Domain::LabResult,
        Domain::Procedure,
        Domain::Encounter,
        Domain::Death,
        Domain::PrescribedDrug,
        Domain::Observation,
    ];

    /// Stable lower-case name, as written in Parquet and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Diagnosis => "diagnosis",
            Domain::DispensedDrug => "dispensed_drug",
            Domain::AdministeredDrug => "administered_drug",
            Domain::LabResult => "lab_result",
            Domain::Procedure => "procedure",
            Domain::Encounter => "encounter",
            Domain::Death => "death",
            Domain::PrescribedDrug => "prescribed_drug",
            Domain::Observation => "observation",
        }
    }

    pub fn parse(s: &str) -> Option<Domain> {
        Domain::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// Care setting of the encounter an event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Setting {
    /// Slutenvård.
    Inpatient,
    /// Specialiserad öppenvård.
    Outpatient,
    /// Primärvård.
    PrimaryCare,
}

impl Setting {
    pub fn as_str(self) -> &'static str {
        match self {
            Setting::Inpatient => "inpatient",
            Setting::Outpatient => "outpatient",
            Setting::PrimaryCare => "primary_care",
        }
    }

    pub fn parse(s: &str) -> Option<Setting> {
        [
            Setting::Inpatient,
            Setting::Outpatient,
            Setting::PrimaryCare,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// Comparator written before a lab value (`<5`, `>90`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Comparator {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Comparator {
    pub fn as_str(self) -> &'static str {
        match self {
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    pub fn parse(s: &str) -> Option<Comparator> {
        match s {
            "<" => Some(Comparator::Lt),
            "<=" => Some(Comparator::Le),
            ">" => Some(Comparator::Gt),
            ">=" => Some(Comparator::Ge),
            _ => None,
        }
    }
}

/// One event of one patient's journey, already validated, normalised and
/// pseudonymised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub patient: Pseudonym,
    pub domain: Domain,
    /// Code system id as in `halsohub_codes::System::id()` (`icd10se`, `atc`,
    /// `kva`, `npu`, `loinc`, `snomedct`, ...). Empty for an encounter without
    /// a code.
    pub system: String,
    /// Normalised code (`E119`, `A10BA02`, `NPU27300`).
    pub code: String,
    /// False when the code was not found in a loaded code list (kept, flagged).
    pub code_known: bool,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    /// Numeric value of a lab result, in `unit` (already normalised).
    pub value: Option<f64>,
    pub comparator: Option<Comparator>,
    pub unit: Option<String>,
    /// Code system of a coded value (an Observation's
    /// `valueCodeableConcept`, OMOP `value_as_concept_id`), as `system`.
    pub value_system: Option<String>,
    /// A coded value's code (`260385009`), with `value_system`.
    pub value_code: Option<String>,
    /// A text or boolean value as written (`valueString`, `valueBoolean` as
    /// `true`/`false`, OMOP `value_as_string`).
    pub value_text: Option<String>,
    /// Number of packages (dispensed) or dose (administered).
    pub quantity: Option<f64>,
    pub setting: Option<Setting>,
    /// True for a main diagnosis (huvuddiagnos), false for a secondary one.
    pub primary: Option<bool>,
    /// Care provider / unit code as the source writes it.
    pub provider: Option<String>,
    /// Region (län code, two digits) of the provider.
    pub provider_region: Option<String>,
    /// Source kind (`par_inpatient`, `lab`, ...) that delivered the event.
    pub source: String,
}

impl Event {
    /// An event of `domain` on `start` with the given code (`system` and
    /// `code` empty for an uncoded one), and nothing else set: no end,
    /// value, quantity, setting, provider or region.
    pub fn new(
        patient: Pseudonym,
        domain: Domain,
        (system, code, code_known): (String, String, bool),
        start: NaiveDate,
        source: &str,
    ) -> Event {
        Event {
            patient,
            domain,
            system,
            code,
            code_known,
            start,
            end: None,
            value: None,
            comparator: None,
            unit: None,
            value_system: None,
            value_code: None,
            value_text: None,
            quantity: None,
            setting: None,
            primary: None,
            provider: None,
            provider_region: None,
            source: source.to_owned(),
        }
    }

    /// An uncoded event (`system` and `code` empty), e.g. a death.
    pub fn uncoded(patient: Pseudonym, domain: Domain, start: NaiveDate, source: &str) -> Event {
        Event::new(
            patient,
            domain,
            (String::new(), String::new(), true),
            start,
            source,
        )
    }
}

/// What the population register says about a person. Later loads replace
/// earlier values field by field when the new value is present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub patient: Pseudonym,
    /// `F` or `M` (authoritative from the population register).
    pub sex: Option<char>,
    pub birth_date: Option<NaiveDate>,
    pub death_date: Option<NaiveDate>,
}

/// One period of residence in a region (and municipality).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Residence {
    pub patient: Pseudonym,
    /// Län code, two digits (`01` Stockholm ... `25` Norrbotten).
    pub region: String,
    /// Kommun code, four digits.
    pub municipality: Option<String>,
    pub from: NaiveDate,
    /// Exclusive end; `None` while still living there.
    pub to: Option<NaiveDate>,
}

/// `old` is the same person as `new`: the pseudonym of a replaced identity
/// number (from a change file) points at the pseudonym of its successor. The
/// store resolves chains so every person has one canonical pseudonym.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    pub old: Pseudonym,
    pub new: Pseudonym,
}
