//! The concept model (the vocabulary's `concept` table) and the few
//! well-known concept ids halsohub interprets without a vocabulary:
//! gender, visit kinds, drug record types, measurement operators and
//! condition status.

use std::borrow::Cow;
use std::collections::HashMap;

use halsohub_model::{Comparator, Domain, Setting};

use crate::vocabulary::{OMOP_CONCEPT_SYSTEM, system_for_vocabulary};

/// An OMOP concept id (`concept.concept_id`; 0 means "no matching
/// concept").
pub type ConceptId = i64;

/// `concept.standard_concept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Standard {
    /// `S`: a standard concept.
    Standard,
    /// `C`: a classification concept.
    Classification,
    /// Empty: a non-standard (source) concept.
    NonStandard,
}

impl Standard {
    /// Reads `S`, `C` or empty (anything else is non-standard).
    pub fn parse(text: &str) -> Standard {
        match text.trim() {
            "S" | "s" => Standard::Standard,
            "C" | "c" => Standard::Classification,
            _ => Standard::NonStandard,
        }
    }

    /// `S`, `C` or the empty string, as the CDM writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Standard::Standard => "S",
            Standard::Classification => "C",
            Standard::NonStandard => "",
        }
    }
}

/// One row of the concept table, as halsohub keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concept {
    pub concept_id: ConceptId,
    /// `concept_name` (may be left empty by a caller that keeps no titles).
    pub name: String,
    /// `domain_id` (`Condition`, `Drug`, `Measurement`, ...).
    pub domain_id: String,
    /// `vocabulary_id` (`ICD10CM`, `SNOMED`, ...).
    pub vocabulary_id: String,
    /// `concept_class_id`.
    pub concept_class_id: String,
    pub standard: Standard,
    /// `concept_code`: the code in its vocabulary (`K92.2`, `192671`).
    pub code: String,
    /// `invalid_reason` is set (`D` deleted, `U` upgraded).
    pub invalid: bool,
}

impl Concept {
    /// The halsohub system id of the concept's vocabulary (see
    /// [`system_for_vocabulary`]), or `None` for vocabulary `None`.
    pub fn system(&self) -> Option<Cow<'static, str>> {
        system_for_vocabulary(&self.vocabulary_id)
    }
}

/// The concept table: concept id → concept.
#[derive(Debug, Clone, Default)]
pub struct ConceptTable {
    map: HashMap<ConceptId, Concept, foldhash::fast::RandomState>,
}

impl ConceptTable {
    /// An empty table.
    pub fn new() -> Self {
        ConceptTable::default()
    }

    /// Adds a concept; returns false (and keeps the first) when its id is
    /// already present.
    pub fn insert(&mut self, concept: Concept) -> bool {
        match self.map.entry(concept.concept_id) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(concept);
                true
            }
        }
    }

    /// The concept with this id.
    pub fn get(&self, id: ConceptId) -> Option<&Concept> {
        self.map.get(&id)
    }

    pub fn contains(&self, id: ConceptId) -> bool {
        self.map.contains_key(&id)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Adds every concept of `other` whose id is not present yet.
    pub fn merge(&mut self, other: ConceptTable) {
        for (id, c) in other.map {
            self.map.entry(id).or_insert(c);
        }
    }

    /// All concepts (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = &Concept> {
        self.map.values()
    }
}

/// Gender concepts (`person.gender_concept_id`).
pub mod gender {
    use super::ConceptId;
    pub const MALE: ConceptId = 8507;
    pub const FEMALE: ConceptId = 8532;
    pub const UNKNOWN: ConceptId = 8551;
    pub const OTHER: ConceptId = 8521;
    pub const AMBIGUOUS: ConceptId = 8570;
}

/// halsohub's sex (`F`/`M`) of a gender concept; `None` for unknown,
/// other, ambiguous and 0.
pub fn sex_of_gender(id: ConceptId) -> Option<char> {
    match id {
        gender::MALE => Some('M'),
        gender::FEMALE => Some('F'),
        _ => None,
    }
}

/// The gender concept for halsohub's sex (`F`, `M`); 0 otherwise.
pub fn gender_of_sex(sex: Option<char>) -> ConceptId {
    match sex {
        Some('M') => gender::MALE,
        Some('F') => gender::FEMALE,
        _ => 0,
    }
}

/// Visit concepts (`visit_occurrence.visit_concept_id`) and place-of-service
/// concepts.
pub mod visit {
    use super::ConceptId;
    pub const INPATIENT: ConceptId = 9201;
    pub const OUTPATIENT: ConceptId = 9202;
    pub const EMERGENCY_ROOM: ConceptId = 9203;
    pub const EMERGENCY_ROOM_AND_INPATIENT: ConceptId = 262;
    pub const NON_HOSPITAL_INSTITUTION: ConceptId = 42898160;
    pub const OFFICE: ConceptId = 581477;
    pub const HOME: ConceptId = 581476;
    pub const TELEHEALTH: ConceptId = 5083;
    pub const AMBULATORY_CLINIC: ConceptId = 38004207;
    pub const PHARMACY: ConceptId = 581458;
    pub const LABORATORY: ConceptId = 32036;
    pub const INPATIENT_HOSPITAL: ConceptId = 8717;
    pub const OUTPATIENT_HOSPITAL: ConceptId = 8756;
    pub const EMERGENCY_ROOM_HOSPITAL: ConceptId = 8870;
}

/// halsohub's care setting of a visit concept: inpatient stays (9201, 262,
/// 42898160, 8717) → inpatient; outpatient, emergency-room, office, home,
/// telehealth and ambulatory-clinic visits → outpatient (emergency rooms
/// are outpatient care in Swedish statistics, as FHIR's `EMER` is read);
/// pharmacy and laboratory visits and unknown concepts → `None`.
pub fn setting_of_visit(id: ConceptId) -> Option<Setting> {
    use visit::*;
    match id {
        INPATIENT
        | EMERGENCY_ROOM_AND_INPATIENT
        | NON_HOSPITAL_INSTITUTION
        | INPATIENT_HOSPITAL => Some(Setting::Inpatient),
        OUTPATIENT
        | EMERGENCY_ROOM
        | OFFICE
        | HOME
        | TELEHEALTH
        | AMBULATORY_CLINIC
        | OUTPATIENT_HOSPITAL
        | EMERGENCY_ROOM_HOSPITAL => Some(Setting::Outpatient),
        _ => None,
    }
}

/// halsohub's care setting of a visit: `visit_source_value` when it names
/// one of halsohub's settings exactly (`inpatient`, `outpatient`,
/// `primary_care`, as halsohub's export writes it: the visit concept
/// cannot say primary care), else the setting of the visit concept
/// ([`setting_of_visit`]).
pub fn setting_of_visit_row(concept: ConceptId, source_value: Option<&str>) -> Option<Setting> {
    source_value
        .and_then(|v| Setting::parse(v.trim()))
        .or_else(|| setting_of_visit(concept))
}

/// The visit concept for a halsohub setting (for an export): inpatient →
/// 9201, outpatient → 9202, primary care → 581477 (office visit, which
/// alone reads back as outpatient: the export writes the exact setting in
/// `visit_source_value`, see [`setting_of_visit_row`]).
pub fn visit_of_setting(setting: Setting) -> ConceptId {
    match setting {
        Setting::Inpatient => visit::INPATIENT,
        Setting::Outpatient => visit::OUTPATIENT,
        Setting::PrimaryCare => visit::OFFICE,
    }
}

/// Drug record type concepts (`drug_exposure.drug_type_concept_id`): the
/// CDM 5.3 "Drug Type" vocabulary and the CDM 5.4 "Type Concept" ones.
pub mod drug_type {
    use super::ConceptId;
    pub const PRESCRIPTION_DISPENSED_IN_PHARMACY: ConceptId = 38000175;
    pub const PRESCRIPTION_DISPENSED_MAIL_ORDER: ConceptId = 38000176;
    pub const PRESCRIPTION_WRITTEN: ConceptId = 38000177;
    pub const MEDICATION_LIST_ENTRY: ConceptId = 38000178;
    pub const PHYSICIAN_ADMINISTERED_PROCEDURE: ConceptId = 38000179;
    pub const INPATIENT_ADMINISTRATION: ConceptId = 38000180;
    pub const PHYSICIAN_ADMINISTERED_EHR_ORDER: ConceptId = 581373;
    pub const DISPENSED_IN_OUTPATIENT_OFFICE: ConceptId = 581452;
    pub const PHYSICIAN_ADMINISTERED_PROBLEM_LIST: ConceptId = 43542356;
    pub const PHYSICIAN_ADMINISTERED_REFERRAL: ConceptId = 43542357;
    pub const PHYSICIAN_ADMINISTERED_OBSERVATION: ConceptId = 43542358;
    pub const PATIENT_SELF_REPORTED: ConceptId = 44787730;
    pub const EHR_ADMINISTRATION_RECORD: ConceptId = 32818;
    pub const EHR_DISPENSING_RECORD: ConceptId = 32825;
    pub const EHR_ORDER: ConceptId = 32833;
    pub const EHR_PRESCRIPTION: ConceptId = 32838;
    pub const PATIENT_SELF_REPORT: ConceptId = 32865;
    pub const PHARMACY_CLAIM: ConceptId = 32869;
}

/// The halsohub drug domain of a drug record type, and whether the type
/// was recognised:
/// * dispensed (pharmacy, mail order, EHR dispensing record, pharmacy
///   claim) → `DispensedDrug`;
/// * administered (inpatient administration, physician administered,
///   EHR administration record, dispensed *in the outpatient office* —
///   given by the care provider at the visit, e.g. vaccines) →
///   `AdministeredDrug`;
/// * prescribed (prescription written, EHR order or prescription,
///   medication list, patient self-report) → `PrescribedDrug`;
/// * anything else → `PrescribedDrug`, the weakest claim, with `false`.
pub fn drug_domain(type_concept: ConceptId) -> (Domain, bool) {
    use drug_type::*;
    match type_concept {
        PRESCRIPTION_DISPENSED_IN_PHARMACY
        | PRESCRIPTION_DISPENSED_MAIL_ORDER
        | EHR_DISPENSING_RECORD
        | PHARMACY_CLAIM => (Domain::DispensedDrug, true),
        PHYSICIAN_ADMINISTERED_PROCEDURE
        | INPATIENT_ADMINISTRATION
        | PHYSICIAN_ADMINISTERED_EHR_ORDER
        | DISPENSED_IN_OUTPATIENT_OFFICE
        | PHYSICIAN_ADMINISTERED_PROBLEM_LIST
        | PHYSICIAN_ADMINISTERED_REFERRAL
        | PHYSICIAN_ADMINISTERED_OBSERVATION
        | EHR_ADMINISTRATION_RECORD => (Domain::AdministeredDrug, true),
        PRESCRIPTION_WRITTEN
        | MEDICATION_LIST_ENTRY
        | PATIENT_SELF_REPORTED
        | EHR_ORDER
        | EHR_PRESCRIPTION
        | PATIENT_SELF_REPORT => (Domain::PrescribedDrug, true),
        _ => (Domain::PrescribedDrug, false),
    }
}

/// The CDM 5.4 drug type concept for a halsohub drug domain (for an
/// export): dispensed → 32825, administered → 32818, prescribed → 32838.
pub fn drug_type_of_domain(domain: Domain) -> Option<ConceptId> {
    match domain {
        Domain::DispensedDrug => Some(drug_type::EHR_DISPENSING_RECORD),
        Domain::AdministeredDrug => Some(drug_type::EHR_ADMINISTRATION_RECORD),
        Domain::PrescribedDrug => Some(drug_type::EHR_PRESCRIPTION),
        _ => None,
    }
}

/// Measurement value operators (`measurement.operator_concept_id`).
pub mod operator {
    use super::ConceptId;
    pub const LT: ConceptId = 4171756;
    pub const LE: ConceptId = 4171754;
    pub const EQ: ConceptId = 4172703;
    pub const GE: ConceptId = 4171755;
    pub const GT: ConceptId = 4172704;
}

/// The comparator of an operator concept: `Some(None)` for `=` (and 0,
/// no operator), `None` for a concept that is not an operator.
pub fn comparator_of_operator(id: ConceptId) -> Option<Option<Comparator>> {
    match id {
        0 | operator::EQ => Some(None),
        operator::LT => Some(Some(Comparator::Lt)),
        operator::LE => Some(Some(Comparator::Le)),
        operator::GE => Some(Some(Comparator::Ge)),
        operator::GT => Some(Some(Comparator::Gt)),
        _ => None,
    }
}

/// The operator concept of a comparator (for an export).
pub fn operator_of_comparator(c: Comparator) -> ConceptId {
    match c {
        Comparator::Lt => operator::LT,
        Comparator::Le => operator::LE,
        Comparator::Ge => operator::GE,
        Comparator::Gt => operator::GT,
    }
}

/// Condition status concepts (`condition_occurrence.condition_status_concept_id`).
pub mod condition_status {
    use super::ConceptId;
    pub const PRIMARY_DIAGNOSIS: ConceptId = 32902;
    pub const SECONDARY_DIAGNOSIS: ConceptId = 32908;
}

/// halsohub's main-diagnosis flag of a condition status: primary →
/// `Some(true)`, secondary → `Some(false)`, others → `None`.
pub fn primary_of_condition_status(id: ConceptId) -> Option<bool> {
    match id {
        condition_status::PRIMARY_DIAGNOSIS => Some(true),
        condition_status::SECONDARY_DIAGNOSIS => Some(false),
        _ => None,
    }
}

/// A concept resolved to halsohub's terms: system id and code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemCode {
    pub system: Cow<'static, str>,
    pub code: String,
    /// False when the concept id was not in the concept table (the system
    /// is then [`OMOP_CONCEPT_SYSTEM`] and the code the concept id).
    pub resolved: bool,
}

impl ConceptTable {
    /// The system and code of a non-zero concept id: the concept's
    /// vocabulary and code when the table holds it (and its vocabulary is
    /// not `None`), else `omop` + the concept id, unresolved. `None` for 0
    /// (no matching concept) and for concepts of vocabulary `None`.
    pub fn system_code(&self, id: ConceptId) -> Option<SystemCode> {
        if id == 0 {
            return None;
        }
        match self.get(id) {
            Some(c) => {
                let system = c.system()?;
                Some(SystemCode {
                    system,
                    code: c.code.clone(),
                    resolved: true,
                })
            }
            None => Some(SystemCode {
                system: Cow::Borrowed(OMOP_CONCEPT_SYSTEM),
                code: id.to_string(),
                resolved: false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concept(id: ConceptId, voc: &str, code: &str) -> Concept {
        Concept {
            concept_id: id,
            name: String::new(),
            domain_id: "Condition".to_owned(),
            vocabulary_id: voc.to_owned(),
            concept_class_id: String::new(),
            standard: Standard::NonStandard,
            code: code.to_owned(),
            invalid: false,
        }
    }

    #[test]
    fn concepts_resolve_to_systems() {
        let mut t = ConceptTable::new();
        assert!(t.insert(concept(35208414, "ICD10CM", "K92.2")));
        assert!(!t.insert(concept(35208414, "SNOMED", "1")));
        t.insert(concept(0, "None", "No matching concept"));
        let k = t.system_code(35208414);
        assert_eq!(
            k,
            Some(SystemCode {
                system: Cow::Borrowed("icd10cm"),
                code: "K92.2".to_owned(),
                resolved: true
            })
        );
        assert_eq!(t.system_code(0), None);
        let u = t.system_code(4166590);
        assert!(
            u.as_ref()
                .is_some_and(|u| !u.resolved && u.system == "omop" && u.code == "4166590")
        );
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn fixed_concepts() {
        assert_eq!(sex_of_gender(8532), Some('F'));
        assert_eq!(sex_of_gender(8551), None);
        assert_eq!(gender_of_sex(Some('M')), 8507);
        assert_eq!(setting_of_visit(9201), Some(Setting::Inpatient));
        assert_eq!(setting_of_visit(9203), Some(Setting::Outpatient));
        assert_eq!(setting_of_visit(0), None);
        assert_eq!(
            setting_of_visit_row(581477, Some("primary_care")),
            Some(Setting::PrimaryCare)
        );
        assert_eq!(
            setting_of_visit_row(9201, Some("b2a6f7d3-bed4")),
            Some(Setting::Inpatient)
        );
        assert_eq!(
            setting_of_visit_row(581477, None),
            Some(Setting::Outpatient)
        );
        assert_eq!(setting_of_visit_row(0, Some("Primary_Care")), None);
        for s in [
            Setting::Inpatient,
            Setting::Outpatient,
            Setting::PrimaryCare,
        ] {
            assert_eq!(
                setting_of_visit_row(visit_of_setting(s), Some(s.as_str())),
                Some(s)
            );
        }
        assert_eq!(drug_domain(38000177), (Domain::PrescribedDrug, true));
        assert_eq!(drug_domain(38000175), (Domain::DispensedDrug, true));
        assert_eq!(drug_domain(581452), (Domain::AdministeredDrug, true));
        assert_eq!(drug_domain(0), (Domain::PrescribedDrug, false));
        for d in [
            Domain::DispensedDrug,
            Domain::AdministeredDrug,
            Domain::PrescribedDrug,
        ] {
            let t = drug_type_of_domain(d).unwrap_or(0);
            assert_eq!(drug_domain(t), (d, true));
        }
        for c in [
            Comparator::Lt,
            Comparator::Le,
            Comparator::Ge,
            Comparator::Gt,
        ] {
            assert_eq!(
                comparator_of_operator(operator_of_comparator(c)),
                Some(Some(c))
            );
        }
        assert_eq!(comparator_of_operator(4172703), Some(None));
        assert_eq!(comparator_of_operator(12), None);
        assert_eq!(primary_of_condition_status(32902), Some(true));
    }
}
