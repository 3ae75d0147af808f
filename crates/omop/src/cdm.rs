//! OMOP CDM table definitions: table names, and for the tables halsohub
//! reads or writes, their columns (official lower-case names, in the
//! official order) with the CDM's required flag and data type, per CDM
//! version (5.3 and 5.4).
//!
//! Column lists follow the OHDSI field-level specifications
//! (`OMOP_CDMv5.3_Field_Level.csv`, `OMOP_CDMv5.4_Field_Level.csv`).
//! "Required" is the CDM's `isRequired` (NOT NULL in the DDL), not what a
//! particular reader needs.

use std::fmt;

/// A CDM version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CdmVersion {
    /// CDM v5.3 (and 5.3.1).
    V5_3,
    /// CDM v5.4.
    V5_4,
}

impl CdmVersion {
    /// Both versions, oldest first.
    pub const ALL: [CdmVersion; 2] = [CdmVersion::V5_3, CdmVersion::V5_4];

    /// `5.3` or `5.4`.
    pub fn as_str(self) -> &'static str {
        match self {
            CdmVersion::V5_3 => "5.3",
            CdmVersion::V5_4 => "5.4",
        }
    }

    /// Reads a version as `cdm_source.cdm_version` writes it (`v5.3.1`,
    /// `5.4`, `CDM v5.4.0`, ...).
    pub fn parse(text: &str) -> Option<CdmVersion> {
        let t = text.trim().to_ascii_lowercase();
        let t = t.trim_start_matches("cdm").trim().trim_start_matches('v');
        if t == "5.3" || t.starts_with("5.3.") {
            Some(CdmVersion::V5_3)
        } else if t == "5.4" || t.starts_with("5.4.") {
            Some(CdmVersion::V5_4)
        } else {
            None
        }
    }
}

impl fmt::Display for CdmVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CDM data type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// `integer` (ids and concept ids; 32-bit in the DDL, read as 64-bit).
    Integer,
    /// `bigint`.
    BigInt,
    /// `float` (a double).
    Float,
    /// `date` (`YYYY-MM-DD`).
    Date,
    /// `datetime` (`YYYY-MM-DD HH:MM:SS`).
    DateTime,
    /// `varchar(n)`; `None` for `varchar(MAX)`.
    Varchar(Option<u32>),
}

impl ColumnType {
    /// The type as the CDM specification writes it (`integer`,
    /// `varchar(50)`, `varchar(MAX)`).
    pub fn sql(self) -> String {
        match self {
            ColumnType::Integer => "integer".to_owned(),
            ColumnType::BigInt => "bigint".to_owned(),
            ColumnType::Float => "float".to_owned(),
            ColumnType::Date => "date".to_owned(),
            ColumnType::DateTime => "datetime".to_owned(),
            ColumnType::Varchar(Some(n)) => format!("varchar({n})"),
            ColumnType::Varchar(None) => "varchar(MAX)".to_owned(),
        }
    }
}

/// One column of a CDM table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Column {
    /// Official lower-case name.
    pub name: &'static str,
    /// The CDM's `isRequired` (NOT NULL).
    pub required: bool,
    /// The CDM data type.
    pub kind: ColumnType,
}

const fn req(name: &'static str, kind: ColumnType) -> Column {
    Column {
        name,
        required: true,
        kind,
    }
}

const fn opt(name: &'static str, kind: ColumnType) -> Column {
    Column {
        name,
        required: false,
        kind,
    }
}

use ColumnType::{Date, DateTime, Float, Integer};
const fn v(n: u32) -> ColumnType {
    ColumnType::Varchar(Some(n))
}
const MAX: ColumnType = ColumnType::Varchar(None);

/// A CDM table (clinical, health system, economics, derived, metadata,
/// vocabulary and results tables of 5.3 and 5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Person,
    ObservationPeriod,
    VisitOccurrence,
    VisitDetail,
    ConditionOccurrence,
    DrugExposure,
    ProcedureOccurrence,
    DeviceExposure,
    Measurement,
    Observation,
    Death,
    Note,
    NoteNlp,
    Specimen,
    FactRelationship,
    Location,
    CareSite,
    Provider,
    PayerPlanPeriod,
    Cost,
    DrugEra,
    DoseEra,
    ConditionEra,
    Episode,
    EpisodeEvent,
    Metadata,
    CdmSource,
    Concept,
    Vocabulary,
    Domain,
    ConceptClass,
    ConceptRelationship,
    Relationship,
    ConceptSynonym,
    ConceptAncestor,
    SourceToConceptMap,
    DrugStrength,
    Cohort,
    CohortDefinition,
    CohortAttribute,
    AttributeDefinition,
}

impl Table {
    /// Every table, in the order of the CDM documentation.
    pub const ALL: [Table; 41] = [
        Table::Person,
        Table::ObservationPeriod,
        Table::VisitOccurrence,
        Table::VisitDetail,
        Table::ConditionOccurrence,
        Table::DrugExposure,
        Table::ProcedureOccurrence,
        Table::DeviceExposure,
        Table::Measurement,
        Table::Observation,
        Table::Death,
        Table::Note,
        Table::NoteNlp,
        Table::Specimen,
        Table::FactRelationship,
        Table::Location,
        Table::CareSite,
        Table::Provider,
        Table::PayerPlanPeriod,
        Table::Cost,
        Table::DrugEra,
        Table::DoseEra,
        Table::ConditionEra,
        Table::Episode,
        Table::EpisodeEvent,
        Table::Metadata,
        Table::CdmSource,
        Table::Concept,
        Table::Vocabulary,
        Table::Domain,
        Table::ConceptClass,
        Table::ConceptRelationship,
        Table::Relationship,
        Table::ConceptSynonym,
        Table::ConceptAncestor,
        Table::SourceToConceptMap,
        Table::DrugStrength,
        Table::Cohort,
        Table::CohortDefinition,
        Table::CohortAttribute,
        Table::AttributeDefinition,
    ];

    /// The official lower-case table name (`condition_occurrence`).
    pub fn name(self) -> &'static str {
        match self {
            Table::Person => "person",
            Table::ObservationPeriod => "observation_period",
            Table::VisitOccurrence => "visit_occurrence",
            Table::VisitDetail => "visit_detail",
            Table::ConditionOccurrence => "condition_occurrence",
            Table::DrugExposure => "drug_exposure",
            Table::ProcedureOccurrence => "procedure_occurrence",
            Table::DeviceExposure => "device_exposure",
            Table::Measurement => "measurement",
            Table::Observation => "observation",
            Table::Death => "death",
            Table::Note => "note",
            Table::NoteNlp => "note_nlp",
            Table::Specimen => "specimen",
            Table::FactRelationship => "fact_relationship",
            Table::Location => "location",
            Table::CareSite => "care_site",
            Table::Provider => "provider",
            Table::PayerPlanPeriod => "payer_plan_period",
            Table::Cost => "cost",
            Table::DrugEra => "drug_era",
            Table::DoseEra => "dose_era",
            Table::ConditionEra => "condition_era",
            Table::Episode => "episode",
            Table::EpisodeEvent => "episode_event",
            Table::Metadata => "metadata",
            Table::CdmSource => "cdm_source",
            Table::Concept => "concept",
            Table::Vocabulary => "vocabulary",
            Table::Domain => "domain",
            Table::ConceptClass => "concept_class",
            Table::ConceptRelationship => "concept_relationship",
            Table::Relationship => "relationship",
            Table::ConceptSynonym => "concept_synonym",
            Table::ConceptAncestor => "concept_ancestor",
            Table::SourceToConceptMap => "source_to_concept_map",
            Table::DrugStrength => "drug_strength",
            Table::Cohort => "cohort",
            Table::CohortDefinition => "cohort_definition",
            Table::CohortAttribute => "cohort_attribute",
            Table::AttributeDefinition => "attribute_definition",
        }
    }

    /// The table with this name (case-insensitive, surrounding whitespace
    /// ignored).
    pub fn from_name(name: &str) -> Option<Table> {
        let n = name.trim();
        Table::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(n))
    }

    /// The table a file holds, from its file name: the table name in any
    /// case, followed by `.csv`, `.tsv`, `.txt` or `.parquet`, optionally
    /// `.gz` (`PERSON.csv.gz`, `person.csv`, `Concept.parquet`). Other
    /// names give `None`.
    pub fn from_file_name(file_name: &str) -> Option<Table> {
        let lower = file_name.trim().to_ascii_lowercase();
        let stem = lower.strip_suffix(".gz").unwrap_or(&lower);
        let stem = [".csv", ".tsv", ".txt", ".parquet"]
            .iter()
            .find_map(|ext| stem.strip_suffix(ext))?;
        Table::from_name(stem)
    }

    /// Whether the table exists in `version`.
    pub fn in_version(self, version: CdmVersion) -> bool {
        match self {
            Table::Episode | Table::EpisodeEvent => version == CdmVersion::V5_4,
            Table::CohortAttribute | Table::AttributeDefinition => version == CdmVersion::V5_3,
            _ => true,
        }
    }

    /// Whether this is one of the standardized vocabulary tables.
    pub fn is_vocabulary(self) -> bool {
        matches!(
            self,
            Table::Concept
                | Table::Vocabulary
                | Table::Domain
                | Table::ConceptClass
                | Table::ConceptRelationship
                | Table::Relationship
                | Table::ConceptSynonym
                | Table::ConceptAncestor
                | Table::SourceToConceptMap
                | Table::DrugStrength
        )
    }

    /// The columns of the table in `version`, in the official order, or
    /// `None` when the table does not exist in that version or this crate
    /// does not define its columns (the note, specimen, cost, payer,
    /// episode, fact-relationship and cohort tables).
    pub fn columns(self, version: CdmVersion) -> Option<&'static [Column]> {
        use CdmVersion::{V5_3, V5_4};
        let cols: &'static [Column] = match (self, version) {
            (Table::Person, _) => PERSON,
            (Table::ObservationPeriod, _) => OBSERVATION_PERIOD,
            (Table::VisitOccurrence, V5_3) => VISIT_OCCURRENCE_53,
            (Table::VisitOccurrence, V5_4) => VISIT_OCCURRENCE_54,
            (Table::VisitDetail, V5_3) => VISIT_DETAIL_53,
            (Table::VisitDetail, V5_4) => VISIT_DETAIL_54,
            (Table::ConditionOccurrence, V5_3) => CONDITION_OCCURRENCE_53,
            (Table::ConditionOccurrence, V5_4) => CONDITION_OCCURRENCE_54,
            (Table::DrugExposure, _) => DRUG_EXPOSURE,
            (Table::ProcedureOccurrence, V5_3) => PROCEDURE_OCCURRENCE_53,
            (Table::ProcedureOccurrence, V5_4) => PROCEDURE_OCCURRENCE_54,
            (Table::DeviceExposure, V5_3) => DEVICE_EXPOSURE_53,
            (Table::DeviceExposure, V5_4) => DEVICE_EXPOSURE_54,
            (Table::Measurement, V5_3) => MEASUREMENT_53,
            (Table::Measurement, V5_4) => MEASUREMENT_54,
            (Table::Observation, V5_3) => OBSERVATION_53,
            (Table::Observation, V5_4) => OBSERVATION_54,
            (Table::Death, _) => DEATH,
            (Table::Location, V5_3) => LOCATION_53,
            (Table::Location, V5_4) => LOCATION_54,
            (Table::CareSite, _) => CARE_SITE,
            (Table::Provider, _) => PROVIDER,
            (Table::DrugEra, _) => DRUG_ERA,
            (Table::DoseEra, _) => DOSE_ERA,
            (Table::ConditionEra, _) => CONDITION_ERA,
            (Table::Metadata, V5_3) => METADATA_53,
            (Table::Metadata, V5_4) => METADATA_54,
            (Table::CdmSource, V5_3) => CDM_SOURCE_53,
            (Table::CdmSource, V5_4) => CDM_SOURCE_54,
            (Table::Concept, _) => CONCEPT,
            (Table::Vocabulary, V5_3) => VOCABULARY_53,
            (Table::Vocabulary, V5_4) => VOCABULARY_54,
            (Table::Domain, _) => DOMAIN,
            (Table::ConceptClass, _) => CONCEPT_CLASS,
            (Table::ConceptRelationship, _) => CONCEPT_RELATIONSHIP,
            (Table::Relationship, _) => RELATIONSHIP,
            (Table::ConceptSynonym, _) => CONCEPT_SYNONYM,
            (Table::ConceptAncestor, _) => CONCEPT_ANCESTOR,
            (Table::SourceToConceptMap, _) => SOURCE_TO_CONCEPT_MAP,
            (Table::DrugStrength, _) => DRUG_STRENGTH,
            _ => return None,
        };
        Some(cols)
    }

    /// The column called `name` (case-insensitive) in `version`.
    pub fn column(self, version: CdmVersion, name: &str) -> Option<&'static Column> {
        self.columns(version)?
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name.trim()))
    }

    /// The primary key column (`condition_occurrence_id`), for the tables
    /// that have a single-column one (death and the vocabulary link tables
    /// have none).
    pub fn primary_key(self) -> Option<&'static str> {
        match self {
            Table::Person => Some("person_id"),
            Table::ObservationPeriod => Some("observation_period_id"),
            Table::VisitOccurrence => Some("visit_occurrence_id"),
            Table::VisitDetail => Some("visit_detail_id"),
            Table::ConditionOccurrence => Some("condition_occurrence_id"),
            Table::DrugExposure => Some("drug_exposure_id"),
            Table::ProcedureOccurrence => Some("procedure_occurrence_id"),
            Table::DeviceExposure => Some("device_exposure_id"),
            Table::Measurement => Some("measurement_id"),
            Table::Observation => Some("observation_id"),
            Table::Note => Some("note_id"),
            Table::NoteNlp => Some("note_nlp_id"),
            Table::Specimen => Some("specimen_id"),
            Table::Location => Some("location_id"),
            Table::CareSite => Some("care_site_id"),
            Table::Provider => Some("provider_id"),
            Table::PayerPlanPeriod => Some("payer_plan_period_id"),
            Table::Cost => Some("cost_id"),
            Table::DrugEra => Some("drug_era_id"),
            Table::DoseEra => Some("dose_era_id"),
            Table::ConditionEra => Some("condition_era_id"),
            Table::Episode => Some("episode_id"),
            Table::Concept => Some("concept_id"),
            Table::Vocabulary => Some("vocabulary_id"),
            Table::Domain => Some("domain_id"),
            Table::ConceptClass => Some("concept_class_id"),
            Table::Relationship => Some("relationship_id"),
            Table::CohortDefinition => Some("cohort_definition_id"),
            Table::AttributeDefinition => Some("attribute_definition_id"),
            _ => None,
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

static PERSON: &[Column] = &[
    req("person_id", Integer),
    req("gender_concept_id", Integer),
    req("year_of_birth", Integer),
    opt("month_of_birth", Integer),
    opt("day_of_birth", Integer),
    opt("birth_datetime", DateTime),
    req("race_concept_id", Integer),
    req("ethnicity_concept_id", Integer),
    opt("location_id", Integer),
    opt("provider_id", Integer),
    opt("care_site_id", Integer),
    opt("person_source_value", v(50)),
    opt("gender_source_value", v(50)),
    opt("gender_source_concept_id", Integer),
    opt("race_source_value", v(50)),
    opt("race_source_concept_id", Integer),
    opt("ethnicity_source_value", v(50)),
    opt("ethnicity_source_concept_id", Integer),
];

static OBSERVATION_PERIOD: &[Column] = &[
    req("observation_period_id", Integer),
    req("person_id", Integer),
    req("observation_period_start_date", Date),
    req("observation_period_end_date", Date),
    req("period_type_concept_id", Integer),
];

static VISIT_OCCURRENCE_54: &[Column] = &[
    req("visit_occurrence_id", Integer),
    req("person_id", Integer),
    req("visit_concept_id", Integer),
    req("visit_start_date", Date),
    opt("visit_start_datetime", DateTime),
    req("visit_end_date", Date),
    opt("visit_end_datetime", DateTime),
    req("visit_type_concept_id", Integer),
    opt("provider_id", Integer),
    opt("care_site_id", Integer),
    opt("visit_source_value", v(50)),
    opt("visit_source_concept_id", Integer),
    opt("admitted_from_concept_id", Integer),
    opt("admitted_from_source_value", v(50)),
    opt("discharged_to_concept_id", Integer),
    opt("discharged_to_source_value", v(50)),
    opt("preceding_visit_occurrence_id", Integer),
];

static VISIT_OCCURRENCE_53: &[Column] = &[
    req("visit_occurrence_id", Integer),
    req("person_id", Integer),
    req("visit_concept_id", Integer),
    req("visit_start_date", Date),
    opt("visit_start_datetime", DateTime),
    req("visit_end_date", Date),
    opt("visit_end_datetime", DateTime),
    req("visit_type_concept_id", Integer),
    opt("provider_id", Integer),
    opt("care_site_id", Integer),
    opt("visit_source_value", v(50)),
    opt("visit_source_concept_id", Integer),
    opt("admitting_source_concept_id", Integer),
    opt("admitting_source_value", v(50)),
    opt("discharge_to_concept_id", Integer),
    opt("discharge_to_source_value", v(50)),
    opt("preceding_visit_occurrence_id", Integer),
];

static VISIT_DETAIL_54: &[Column] = &[
    req("visit_detail_id", Integer),
    req("person_id", Integer),
    req("visit_detail_concept_id", Integer),
    req("visit_detail_start_date", Date),
    opt("visit_detail_start_datetime", DateTime),
    req("visit_detail_end_date", Date),
    opt("visit_detail_end_datetime", DateTime),
    req("visit_detail_type_concept_id", Integer),
    opt("provider_id", Integer),
    opt("care_site_id", Integer),
    opt("visit_detail_source_value", v(50)),
    opt("visit_detail_source_concept_id", Integer),
    opt("admitted_from_concept_id", Integer),
    opt("admitted_from_source_value", v(50)),
    opt("discharged_to_source_value", v(50)),
    opt("discharged_to_concept_id", Integer),
    opt("preceding_visit_detail_id", Integer),
    opt("parent_visit_detail_id", Integer),
    req("visit_occurrence_id", Integer),
];

static VISIT_DETAIL_53: &[Column] = &[
    req("visit_detail_id", Integer),
    req("person_id", Integer),
    req("visit_detail_concept_id", Integer),
    req("visit_detail_start_date", Date),
    opt("visit_detail_start_datetime", DateTime),
    req("visit_detail_end_date", Date),
    opt("visit_detail_end_datetime", DateTime),
    req("visit_detail_type_concept_id", Integer),
    opt("provider_id", Integer),
    opt("care_site_id", Integer),
    opt("visit_detail_source_value", v(50)),
    opt("visit_detail_source_concept_id", Integer),
    opt("admitting_source_value", v(50)),
    opt("admitting_source_concept_id", Integer),
    opt("discharge_to_source_value", v(50)),
    opt("discharge_to_concept_id", Integer),
    opt("preceding_visit_detail_id", Integer),
    opt("visit_detail_parent_id", Integer),
    req("visit_occurrence_id", Integer),
];

static CONDITION_OCCURRENCE_54: &[Column] = &[
    req("condition_occurrence_id", Integer),
    req("person_id", Integer),
    req("condition_concept_id", Integer),
    req("condition_start_date", Date),
    opt("condition_start_datetime", DateTime),
    opt("condition_end_date", Date),
    opt("condition_end_datetime", DateTime),
    req("condition_type_concept_id", Integer),
    opt("condition_status_concept_id", Integer),
    opt("stop_reason", v(20)),
    opt("provider_id", Integer),
    opt("visit_occurrence_id", Integer),
    opt("visit_detail_id", Integer),
    opt("condition_source_value", v(50)),
    opt("condition_source_concept_id", Integer),
    opt("condition_status_source_value", v(50)),
];

static CONDITION_OCCURRENCE_53: &[Column] = &[
    req("condition_occurrence_id", Integer),
    req("person_id", Integer),
    req("condition_concept_id", Integer),
    req("condition_start_date", Date),
    opt("condition_start_datetime", DateTime),
    opt("condition_end_date", Date),
    opt("condition_end_datetime", DateTime),
    req("condition_type_concept_id", Integer),
    opt("stop_reason", v(20)),
    opt("provider_id", Integer),
    opt("visit_occurrence_id", Integer),
    opt("visit_detail_id", Integer),
    opt("condition_source_value", v(50)),
    opt("condition_source_concept_id", Integer),
    opt("condition_status_source_value", v(50)),
    opt("condition_status_concept_id", Integer),
];

static DRUG_EXPOSURE: &[Column] = &[
    req("drug_exposure_id", Integer),
    req("person_id", Integer),
    req("drug_concept_id", Integer),
    req("drug_exposure_start_date", Date),
    opt("drug_exposure_start_datetime", DateTime),
    req("drug_exposure_end_date", Date),
    opt("drug_exposure_end_datetime", DateTime),
    opt("verbatim_end_date", Date),
    req("drug_type_concept_id", Integer),
    opt("stop_reason", v(20)),
    opt("refills", Integer),
    opt("quantity", Float),
    opt("days_supply", Integer),
    opt("sig", MAX),
    opt("route_concept_id", Integer),
    opt("lot_number", v(50)),
    opt("provider_id", Integer),
    opt("visit_occurrence_id", Integer),
    opt("visit_detail_id", Integer),
    opt("drug_source_value", v(50)),
    opt("drug_source_concept_id", Integer),
    opt("route_source_value", v(50)),
    opt("dose_unit_source_value", v(50)),
];

static PROCEDURE_OCCURRENCE_54: &[Column] = &[
    req("procedure_occurrence_id", Integer),
    req("person_id", Integer),
    req("procedure_concept_id", Integer),
    req("procedure_date", Date),
    opt("procedure_datetime", DateTime),
    opt("procedure_end_date", Date),
    opt("procedure_end_datetime", DateTime),
    req("procedure_type_concept_id", Integer),
    opt("modifier_concept_id", Integer),
    opt("quantity", Integer),
    opt("provider_id", Integer),
    opt("visit_occurrence_id", Integer),
    opt("visit_detail_id", Integer),
    opt("procedure_source_value", v(50)),
    opt("procedure_source_concept_id", Integer),
    opt("modifier_source_value", v(50)),
];

static PROCEDURE_OCCURRENCE_53: &[Column] = &[
    req("procedure_occurrence_id", Integer),
    req("person_id", Integer),
    req("procedure_concept_id", Integer),
    req("procedure_date", Date),
    opt("procedure_datetime", DateTime),
    req("procedure_type_concept_id", Integer),
    opt("modifier_concept_id", Integer),
    opt("quantity", Integer),
    opt("provider_id", Integer),
    opt("visit_occurrence_id", Integer),
    opt("visit_detail_id", Integer),
    opt("procedure_source_value", v(50)),
    opt("procedure_source_concept_id", Integer),
    opt("modifier_source_value", v(50)),
];

static DEVICE_EXPOSURE_54: &[Column] = &[
    req("device_exposure_id", Integer),
    req("person_id", Integer),
    req("device_concept_id", Integer),
    req("device_exposure_start_date", Date),
    opt("device_exposure_start_datetime", DateTime),
    opt("device_exposure_end_date", Date),
    opt("device_exposure_end_datetime", DateTime),
    req("device_type_concept_id", Integer),
    opt("unique_device_id", v(255)),
    opt("production_id", v(255)),
    opt("quantity", Integer),
    opt("provider_id", Integer),
    opt("visit_occurrence_id", Integer),
    opt("visit_detail_id", Integer),
    opt("device_source_value", v(50)),
    opt("device_source_concept_id", Integer),
    opt("unit_concept_id", Integer),
    opt("unit_source_value", v(50)),
    opt("unit_source_concept_id", Integer),
];

static DEVICE_EXPOSURE_53: &[Column] = &[
    req("device_exposure_id", Integer),
    req("person_id", Integer),
    req("device_concept_id", Integer),
    req("device_exposure_start_date", Date),
    opt("device_exposure_start_datetime", DateTime),
    opt("device_exposure_end_date", Date),
    opt("device_exposure_end_datetime", DateTime),
    req("device_type_concept_id", Integer),
    opt("unique_device_id", v(50)),
    opt("quantity", Integer),
    opt("provider_id", Integer),
    opt("visit_occurrence_id", Integer),
    opt("visit_detail_id", Integer),
    opt("device_source_value", v(50)),
    opt("device_source_concept_id", Integer),
];

static MEASUREMENT_54: &[Column] = &[
    req("measurement_id", Integer),
    req("person_id", Integer),
    req("measurement_concept_id", Integer),
    req("measurement_date", Date),
    opt("measurement_datetime", DateTime),
    opt("measurement_time", v(10)),
    req("measurement_type_concept_id", Integer),
    opt("operator_concept_id", Integer),
    opt("value_as_number", Float),
    opt("value_as_concept_id", Integer),
    opt("unit_concept_id", Integer),
    opt("range_low", Float),
    opt("range_high", Float),
    opt("provider_id", Integer),
    opt("visit_occurrence_id", Integer),
    opt("visit_detail_id", Integer),
    opt("measurement_source_value", v(50)),
    opt("measurement_source_concept_id", Integer),
    opt("unit_source_value", v(50)),
    opt("unit_source_concept_id", Integer),
    opt("value_source_value", v(50)),
    opt("measurement_event_id", Integer),
    opt("meas_event_field_concept_id", Integer),
];

static MEASUREMENT_53: &[Column] = &[
    req("measurement_id", Integer),
    req("person_id", Integer),
    req("measurement_concept_id", Integer),
    req("measurement_date", Date),
    opt("measurement_datetime", DateTime),
    opt("measurement_time", v(10)),
    req("measurement_type_concept_id", Integer),
    opt("operator_concept_id", Integer),
    opt("value_as_number", Float),
    opt("value_as_concept_id", Integer),
    opt("unit_concept_id", Integer),
    opt("range_low", Float),
    opt("range_high", Float),
    opt("provider_id", Integer),
    opt("visit_occurrence_id", Integer),
    opt("visit_detail_id", Integer),
    opt("measurement_source_value", v(50)),
    opt("measurement_source_concept_id", Integer),
    opt("unit_source_value", v(50)),
    opt("value_source_value", v(50)),
];

static OBSERVATION_54: &[Column] = &[
    req("observation_id", Integer),
    req("person_id", Integer),
    req("observation_concept_id", Integer),
    req("observation_date", Date),
    opt("observation_datetime", DateTime),
    req("observation_type_concept_id", Integer),
    opt("value_as_number", Float),
    opt("value_as_string", v(60)),
    opt("value_as_concept_id", Integer),
    opt("qualifier_concept_id", Integer),
    opt("unit_concept_id", Integer),
    opt("provider_id", Integer),
    opt("visit_occurrence_id", Integer),
    opt("visit_detail_id", Integer),
    opt("observation_source_value", v(50)),
    opt("observation_source_concept_id", Integer),
    opt("unit_source_value", v(50)),
    opt("qualifier_source_value", v(50)),
    opt("value_source_value", v(50)),
    opt("observation_event_id", Integer),
    opt("obs_event_field_concept_id", Integer),
];

static OBSERVATION_53: &[Column] = &[
    req("observation_id", Integer),
    req("person_id", Integer),
    req("observation_concept_id", Integer),
    req("observation_date", Date),
    opt("observation_datetime", DateTime),
    req("observation_type_concept_id", Integer),
    opt("value_as_number", Float),
    opt("value_as_string", v(60)),
    opt("value_as_concept_id", Integer),
    opt("qualifier_concept_id", Integer),
    opt("unit_concept_id", Integer),
    opt("provider_id", Integer),
    opt("visit_occurrence_id", Integer),
    opt("visit_detail_id", Integer),
    opt("observation_source_value", v(50)),
    opt("observation_source_concept_id", Integer),
    opt("unit_source_value", v(50)),
    opt("qualifier_source_value", v(50)),
];

static DEATH: &[Column] = &[
    req("person_id", Integer),
    req("death_date", Date),
    opt("death_datetime", DateTime),
    opt("death_type_concept_id", Integer),
    opt("cause_concept_id", Integer),
    opt("cause_source_value", v(50)),
    opt("cause_source_concept_id", Integer),
];

static LOCATION_54: &[Column] = &[
    req("location_id", Integer),
    opt("address_1", v(50)),
    opt("address_2", v(50)),
    opt("city", v(50)),
    opt("state", v(2)),
    opt("zip", v(9)),
    opt("county", v(20)),
    opt("location_source_value", v(50)),
    opt("country_concept_id", Integer),
    opt("country_source_value", v(80)),
    opt("latitude", Float),
    opt("longitude", Float),
];

static LOCATION_53: &[Column] = &[
    req("location_id", Integer),
    opt("address_1", v(50)),
    opt("address_2", v(50)),
    opt("city", v(50)),
    opt("state", v(2)),
    opt("zip", v(9)),
    opt("county", v(20)),
    opt("location_source_value", v(50)),
];

static CARE_SITE: &[Column] = &[
    req("care_site_id", Integer),
    opt("care_site_name", v(255)),
    opt("place_of_service_concept_id", Integer),
    opt("location_id", Integer),
    opt("care_site_source_value", v(50)),
    opt("place_of_service_source_value", v(50)),
];

static PROVIDER: &[Column] = &[
    req("provider_id", Integer),
    opt("provider_name", v(255)),
    opt("npi", v(20)),
    opt("dea", v(20)),
    opt("specialty_concept_id", Integer),
    opt("care_site_id", Integer),
    opt("year_of_birth", Integer),
    opt("gender_concept_id", Integer),
    opt("provider_source_value", v(50)),
    opt("specialty_source_value", v(50)),
    opt("specialty_source_concept_id", Integer),
    opt("gender_source_value", v(50)),
    opt("gender_source_concept_id", Integer),
];

static DRUG_ERA: &[Column] = &[
    req("drug_era_id", Integer),
    req("person_id", Integer),
    req("drug_concept_id", Integer),
    req("drug_era_start_date", Date),
    req("drug_era_end_date", Date),
    opt("drug_exposure_count", Integer),
    opt("gap_days", Integer),
];

static DOSE_ERA: &[Column] = &[
    req("dose_era_id", Integer),
    req("person_id", Integer),
    req("drug_concept_id", Integer),
    req("unit_concept_id", Integer),
    req("dose_value", Float),
    req("dose_era_start_date", Date),
    req("dose_era_end_date", Date),
];

static CONDITION_ERA: &[Column] = &[
    req("condition_era_id", Integer),
    req("person_id", Integer),
    req("condition_concept_id", Integer),
    req("condition_era_start_date", Date),
    req("condition_era_end_date", Date),
    opt("condition_occurrence_count", Integer),
];

static METADATA_54: &[Column] = &[
    req("metadata_id", Integer),
    req("metadata_concept_id", Integer),
    req("metadata_type_concept_id", Integer),
    req("name", v(250)),
    opt("value_as_string", v(250)),
    opt("value_as_concept_id", Integer),
    opt("value_as_number", Float),
    opt("metadata_date", Date),
    opt("metadata_datetime", DateTime),
];

static METADATA_53: &[Column] = &[
    req("metadata_concept_id", Integer),
    req("metadata_type_concept_id", Integer),
    req("name", v(250)),
    opt("value_as_string", MAX),
    opt("value_as_concept_id", Integer),
    opt("metadata_date", Date),
    opt("metadata_datetime", DateTime),
];

static CDM_SOURCE_54: &[Column] = &[
    req("cdm_source_name", v(255)),
    req("cdm_source_abbreviation", v(25)),
    req("cdm_holder", v(255)),
    opt("source_description", MAX),
    opt("source_documentation_reference", v(255)),
    opt("cdm_etl_reference", v(255)),
    req("source_release_date", Date),
    req("cdm_release_date", Date),
    opt("cdm_version", v(10)),
    req("cdm_version_concept_id", Integer),
    req("vocabulary_version", v(20)),
];

static CDM_SOURCE_53: &[Column] = &[
    req("cdm_source_name", v(255)),
    opt("cdm_source_abbreviation", v(25)),
    opt("cdm_holder", v(255)),
    opt("source_description", MAX),
    opt("source_documentation_reference", v(255)),
    opt("cdm_etl_reference", v(255)),
    opt("source_release_date", Date),
    opt("cdm_release_date", Date),
    opt("cdm_version", v(10)),
    opt("vocabulary_version", v(20)),
];

static CONCEPT: &[Column] = &[
    req("concept_id", Integer),
    req("concept_name", v(255)),
    req("domain_id", v(20)),
    req("vocabulary_id", v(20)),
    req("concept_class_id", v(20)),
    opt("standard_concept", v(1)),
    req("concept_code", v(50)),
    req("valid_start_date", Date),
    req("valid_end_date", Date),
    opt("invalid_reason", v(1)),
];

static VOCABULARY_54: &[Column] = &[
    req("vocabulary_id", v(20)),
    req("vocabulary_name", v(255)),
    opt("vocabulary_reference", v(255)),
    opt("vocabulary_version", v(255)),
    req("vocabulary_concept_id", Integer),
];

static VOCABULARY_53: &[Column] = &[
    req("vocabulary_id", v(20)),
    req("vocabulary_name", v(255)),
    req("vocabulary_reference", v(255)),
    opt("vocabulary_version", v(255)),
    req("vocabulary_concept_id", Integer),
];

static DOMAIN: &[Column] = &[
    req("domain_id", v(20)),
    req("domain_name", v(255)),
    req("domain_concept_id", Integer),
];

static CONCEPT_CLASS: &[Column] = &[
    req("concept_class_id", v(20)),
    req("concept_class_name", v(255)),
    req("concept_class_concept_id", Integer),
];

static CONCEPT_RELATIONSHIP: &[Column] = &[
    req("concept_id_1", Integer),
    req("concept_id_2", Integer),
    req("relationship_id", v(20)),
    req("valid_start_date", Date),
    req("valid_end_date", Date),
    opt("invalid_reason", v(1)),
];

static RELATIONSHIP: &[Column] = &[
    req("relationship_id", v(20)),
    req("relationship_name", v(255)),
    req("is_hierarchical", v(1)),
    req("defines_ancestry", v(1)),
    req("reverse_relationship_id", v(20)),
    req("relationship_concept_id", Integer),
];

static CONCEPT_SYNONYM: &[Column] = &[
    req("concept_id", Integer),
    req("concept_synonym_name", v(1000)),
    req("language_concept_id", Integer),
];

static CONCEPT_ANCESTOR: &[Column] = &[
    req("ancestor_concept_id", Integer),
    req("descendant_concept_id", Integer),
    req("min_levels_of_separation", Integer),
    req("max_levels_of_separation", Integer),
];

static SOURCE_TO_CONCEPT_MAP: &[Column] = &[
    req("source_code", v(50)),
    req("source_concept_id", Integer),
    req("source_vocabulary_id", v(20)),
    opt("source_code_description", v(255)),
    req("target_concept_id", Integer),
    opt("target_vocabulary_id", v(20)),
    req("valid_start_date", Date),
    req("valid_end_date", Date),
    opt("invalid_reason", v(1)),
];

static DRUG_STRENGTH: &[Column] = &[
    req("drug_concept_id", Integer),
    req("ingredient_concept_id", Integer),
    opt("amount_value", Float),
    opt("amount_unit_concept_id", Integer),
    opt("numerator_value", Float),
    opt("numerator_unit_concept_id", Integer),
    opt("denominator_value", Float),
    opt("denominator_unit_concept_id", Integer),
    opt("box_size", Integer),
    req("valid_start_date", Date),
    req("valid_end_date", Date),
    opt("invalid_reason", v(1)),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_files_are_recognised() {
        for t in Table::ALL {
            assert_eq!(Table::from_name(t.name()), Some(t));
            assert_eq!(Table::from_name(&t.name().to_uppercase()), Some(t));
        }
        assert_eq!(Table::from_file_name("PERSON.csv.gz"), Some(Table::Person));
        assert_eq!(
            Table::from_file_name("condition_occurrence.csv"),
            Some(Table::ConditionOccurrence)
        );
        assert_eq!(
            Table::from_file_name("Concept.parquet"),
            Some(Table::Concept)
        );
        assert_eq!(Table::from_file_name("person"), None);
        assert_eq!(Table::from_file_name("persons.csv"), None);
        assert_eq!(Table::from_file_name("lab.tsv"), None);
    }

    #[test]
    fn definitions_are_consistent() {
        for t in Table::ALL {
            for v in CdmVersion::ALL {
                let Some(cols) = t.columns(v) else { continue };
                assert!(t.in_version(v), "{t} {v}");
                let mut names: Vec<_> = cols.iter().map(|c| c.name).collect();
                assert!(names.iter().all(|n| *n == n.to_ascii_lowercase()));
                names.sort_unstable();
                names.dedup();
                assert_eq!(names.len(), cols.len(), "duplicate column in {t} {v}");
                if let Some(pk) = t.primary_key() {
                    let c = t.column(v, pk);
                    assert!(c.is_some_and(|c| c.required), "{t} {v} {pk}");
                }
            }
        }
        // The 5.4 tables the export writes are all defined.
        for t in [
            Table::Person,
            Table::ObservationPeriod,
            Table::VisitOccurrence,
            Table::ConditionOccurrence,
            Table::DrugExposure,
            Table::Measurement,
            Table::ProcedureOccurrence,
            Table::Observation,
            Table::Death,
            Table::Concept,
            Table::Vocabulary,
            Table::CdmSource,
        ] {
            assert!(t.columns(CdmVersion::V5_4).is_some(), "{t}");
        }
        assert_eq!(
            Table::ProcedureOccurrence.column(CdmVersion::V5_3, "procedure_end_date"),
            None
        );
        assert_eq!(
            Table::Measurement
                .column(CdmVersion::V5_4, "VALUE_AS_NUMBER")
                .map(|c| c.kind),
            Some(ColumnType::Float)
        );
        assert_eq!(ColumnType::Varchar(None).sql(), "varchar(MAX)");
    }

    #[test]
    fn versions_parse() {
        assert_eq!(CdmVersion::parse("v5.3.1"), Some(CdmVersion::V5_3));
        assert_eq!(CdmVersion::parse("5.4"), Some(CdmVersion::V5_4));
        assert_eq!(CdmVersion::parse("CDM v5.4.0"), Some(CdmVersion::V5_4));
        assert_eq!(CdmVersion::parse("6.0"), None);
        assert_eq!(CdmVersion::parse("5.30"), None);
    }
}
