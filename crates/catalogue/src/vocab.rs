//! The controlled values a description may use, and the IRIs they stand
//! for in the RDF output.
//!
//! Access rights, data themes and update frequencies are the EU
//! Publications Office's authority tables (the ones DCAT-AP names). For
//! health data categories and dataset types HealthDCAT-AP has no published
//! vocabulary yet (its shapes only ask for an IRI), so they are concepts of
//! the hub's own scheme under the catalogue's base URL
//! (`{base}/catalogue/vocab/health-category/EHR`), each labelled with the
//! EHDS category it stands for.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The EU authority table of access rights.
pub const ACCESS_RIGHT: &str = "http://publications.europa.eu/resource/authority/access-right/";
/// The EU authority table of data themes.
pub const DATA_THEME: &str = "http://publications.europa.eu/resource/authority/data-theme/";
/// The EU authority table of frequencies.
pub const FREQUENCY: &str = "http://publications.europa.eu/resource/authority/frequency/";

/// Who may access the data (`dct:accessRights`). Health data held by the
/// hub are personal data: `non_public`, reached through a data permit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessRights {
    /// Only with a permit (the default; HealthDCAT-AP's profile for
    /// personal health data requires it).
    #[default]
    NonPublic,
    /// Under conditions short of a permit.
    Restricted,
    /// Open to anyone.
    Public,
}

impl AccessRights {
    /// The authority table's code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            AccessRights::NonPublic => "NON_PUBLIC",
            AccessRights::Restricted => "RESTRICTED",
            AccessRights::Public => "PUBLIC",
        }
    }

    /// English label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            AccessRights::NonPublic => "non-public",
            AccessRights::Restricted => "restricted",
            AccessRights::Public => "public",
        }
    }
}

/// An EU data theme (`dcat:theme`), written as its code (`HEAL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub enum Theme {
    /// Agriculture, fisheries, forestry and food.
    #[serde(rename = "AGRI")]
    Agri,
    /// Economy and finance.
    #[serde(rename = "ECON")]
    Econ,
    /// Education, culture and sport.
    #[serde(rename = "EDUC")]
    Educ,
    /// Environment.
    #[serde(rename = "ENVI")]
    Envi,
    /// Government and public sector.
    #[serde(rename = "GOVE")]
    Gove,
    /// Health.
    #[serde(rename = "HEAL")]
    Heal,
    /// Population and society.
    #[serde(rename = "SOCI")]
    Soci,
    /// Regions and cities.
    #[serde(rename = "REGI")]
    Regi,
    /// Science and technology.
    #[serde(rename = "TECH")]
    Tech,
}

impl Theme {
    /// The authority table's code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Theme::Agri => "AGRI",
            Theme::Econ => "ECON",
            Theme::Educ => "EDUC",
            Theme::Envi => "ENVI",
            Theme::Gove => "GOVE",
            Theme::Heal => "HEAL",
            Theme::Soci => "SOCI",
            Theme::Regi => "REGI",
            Theme::Tech => "TECH",
        }
    }

    /// English label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Theme::Agri => "Agriculture, fisheries, forestry and food",
            Theme::Econ => "Economy and finance",
            Theme::Educ => "Education, culture and sport",
            Theme::Envi => "Environment",
            Theme::Gove => "Government and public sector",
            Theme::Heal => "Health",
            Theme::Soci => "Population and society",
            Theme::Regi => "Regions and cities",
            Theme::Tech => "Science and technology",
        }
    }
}

/// How often new data arrive (`dct:accrualPeriodicity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// Continuously updated.
    Continuous,
    /// Daily.
    Daily,
    /// Weekly.
    Weekly,
    /// Monthly.
    Monthly,
    /// Quarterly.
    Quarterly,
    /// Twice a year.
    Semiannual,
    /// Once a year.
    Annual,
    /// At irregular intervals.
    Irregular,
    /// Not known.
    Unknown,
}

impl Frequency {
    /// The authority table's code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Frequency::Continuous => "CONT",
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
            Frequency::Quarterly => "QUARTERLY",
            Frequency::Semiannual => "ANNUAL_2",
            Frequency::Annual => "ANNUAL",
            Frequency::Irregular => "IRREG",
            Frequency::Unknown => "UNKNOWN",
        }
    }

    /// English label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Frequency::Continuous => "continuous",
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
            Frequency::Quarterly => "quarterly",
            Frequency::Semiannual => "semiannual",
            Frequency::Annual => "annual",
            Frequency::Irregular => "irregular",
            Frequency::Unknown => "unknown",
        }
    }
}

/// A category of electronic health data for secondary use, as EHDS
/// (Regulation (EU) 2025/327) Article 51(1) lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthCategory {
    /// (a) Data from electronic health records.
    Ehr,
    /// (b) Data on factors impacting health (socio-economic, environmental,
    /// behavioural).
    Determinants,
    /// (c) Aggregated data on healthcare needs, resources and financing.
    HealthcareResources,
    /// (d) Pathogen data.
    Pathogen,
    /// (e) Healthcare-related administrative data, including dispensations,
    /// claims and reimbursements.
    Administrative,
    /// (f) Human genetic, epigenomic and genomic data.
    Genetic,
    /// (g) Other human molecular data (proteomic, transcriptomic, …).
    Molecular,
    /// (h) Person-generated data (medical devices, wellness apps).
    PersonGenerated,
    /// (i) Data on health professionals involved in treatment.
    Professionals,
    /// (j) Population-based health data registries (public health).
    PopulationRegistry,
    /// (k) Medical registries and mortality registries.
    MedicalRegistry,
    /// (l) Clinical trials, studies and investigations.
    ClinicalTrial,
    /// (m) Other health data from medical devices.
    MedicalDevice,
    /// (n) Cohorts, questionnaires and surveys.
    CohortSurvey,
    /// (o) Biobanks and associated databases.
    Biobank,
}

impl HealthCategory {
    /// The code in the hub's scheme (`EHR`, `MEDICAL_REGISTRY`, …).
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            HealthCategory::Ehr => "EHR",
            HealthCategory::Determinants => "DETERMINANTS",
            HealthCategory::HealthcareResources => "HEALTHCARE_RESOURCES",
            HealthCategory::Pathogen => "PATHOGEN",
            HealthCategory::Administrative => "ADMINISTRATIVE",
            HealthCategory::Genetic => "GENETIC",
            HealthCategory::Molecular => "MOLECULAR",
            HealthCategory::PersonGenerated => "PERSON_GENERATED",
            HealthCategory::Professionals => "PROFESSIONALS",
            HealthCategory::PopulationRegistry => "POPULATION_REGISTRY",
            HealthCategory::MedicalRegistry => "MEDICAL_REGISTRY",
            HealthCategory::ClinicalTrial => "CLINICAL_TRIAL",
            HealthCategory::MedicalDevice => "MEDICAL_DEVICE",
            HealthCategory::CohortSurvey => "COHORT_SURVEY",
            HealthCategory::Biobank => "BIOBANK",
        }
    }

    /// English label, citing the EHDS article.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            HealthCategory::Ehr => "Electronic health record data (EHDS Art. 51(1)(a))",
            HealthCategory::Determinants => "Data on factors impacting health (EHDS Art. 51(1)(b))",
            HealthCategory::HealthcareResources => {
                "Aggregated data on healthcare needs, resources and financing (EHDS Art. 51(1)(c))"
            }
            HealthCategory::Pathogen => "Pathogen data (EHDS Art. 51(1)(d))",
            HealthCategory::Administrative => {
                "Healthcare-related administrative data (EHDS Art. 51(1)(e))"
            }
            HealthCategory::Genetic => "Human genetic and genomic data (EHDS Art. 51(1)(f))",
            HealthCategory::Molecular => "Other human molecular data (EHDS Art. 51(1)(g))",
            HealthCategory::PersonGenerated => "Person-generated health data (EHDS Art. 51(1)(h))",
            HealthCategory::Professionals => "Data on health professionals (EHDS Art. 51(1)(i))",
            HealthCategory::PopulationRegistry => {
                "Population-based health data registries (EHDS Art. 51(1)(j))"
            }
            HealthCategory::MedicalRegistry => {
                "Medical registries and mortality registries (EHDS Art. 51(1)(k))"
            }
            HealthCategory::ClinicalTrial => "Clinical trials and studies (EHDS Art. 51(1)(l))",
            HealthCategory::MedicalDevice => {
                "Health data from medical devices (EHDS Art. 51(1)(m))"
            }
            HealthCategory::CohortSurvey => {
                "Cohorts, questionnaires and surveys (EHDS Art. 51(1)(n))"
            }
            HealthCategory::Biobank => "Biobanks and associated databases (EHDS Art. 51(1)(o))",
        }
    }
}

/// What kind of data collection a dataset is (`dct:type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatasetType {
    /// A national health-data register (patient, drug, cause-of-death register).
    Register,
    /// A national quality register.
    QualityRegister,
    /// An extract of a care provider's record system (also FHIR).
    RecordExtract,
    /// A laboratory system's results.
    Laboratory,
    /// A research network's common data model (OMOP CDM).
    CommonDataModel,
    /// The population register (who lives where).
    Population,
    /// Synthetic data (demonstration and testing).
    Synthetic,
}

impl DatasetType {
    /// The code in the hub's scheme.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            DatasetType::Register => "REGISTER",
            DatasetType::QualityRegister => "QUALITY_REGISTER",
            DatasetType::RecordExtract => "RECORD_EXTRACT",
            DatasetType::Laboratory => "LABORATORY",
            DatasetType::CommonDataModel => "COMMON_DATA_MODEL",
            DatasetType::Population => "POPULATION",
            DatasetType::Synthetic => "SYNTHETIC",
        }
    }

    /// English label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            DatasetType::Register => "National health-data register",
            DatasetType::QualityRegister => "National quality register",
            DatasetType::RecordExtract => "Extract from a care provider's record system",
            DatasetType::Laboratory => "Laboratory results",
            DatasetType::CommonDataModel => "Common data model of a research network",
            DatasetType::Population => "Population register",
            DatasetType::Synthetic => "Synthetic data",
        }
    }
}
