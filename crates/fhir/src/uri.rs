//! The other direction of [`coding`](crate::coding): the FHIR system URI to
//! write for a halsohub code system, chosen so that this crate's reader maps
//! it back onto the same system, and the `Encounter.class` code for a care
//! setting. Used by exports (`halsohub-export`).

use halsohub_codes::{System, other_by_id};
use halsohub_model::Setting;

/// UCUM, the system of `Quantity.system` for units.
pub const UCUM: &str = "http://unitsofmeasure.org";

/// HL7 v3 ActCode, the system of `Encounter.class`.
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/// Extension on Encounter: the halsohub care setting (`inpatient`,
/// `outpatient`, `primary_care`, as `valueCode`), which `Encounter.class`
/// cannot say fully (v3 ActCode has no primary-care class). The reader
/// takes the setting from it before the class.
pub const CARE_SETTING_EXTENSION: &str = "urn:halsohub:fhir:StructureDefinition:care-setting";

/// The `Coding.system` URI for a halsohub system id (`Event::system`):
/// the canonical URI of ICD-10, ATC, LOINC and SNOMED CT, Socialstyrelsen's
/// OID for KVÅ, the NPU URI, BfArM's URI for ICD-10-GM; any other system id
/// is written as it is (the reader keeps unknown systems as their
/// lower-cased URI, so it comes back unchanged).
pub fn system_uri(system: &str) -> &str {
    // A terminology the reader stores under a short id
    // (`halsohub_codes::OTHER_SYSTEMS`): its canonical URI.
    if let Some(uri) = other_by_id(system)
        .filter(|o| o.fhir_as_id)
        .and_then(|o| o.uris.first())
    {
        return uri;
    }
    // halsohub-codes owns the URI of each of its systems.
    System::parse(system)
        .and_then(|s| s.fhir_uri())
        .unwrap_or(system)
}

/// The `Encounter.class` code (v3 ActCode) for a care setting: `IMP`
/// (inpatient encounter) for inpatient care, `AMB` (ambulatory) for
/// outpatient and primary care — ActCode has no code for primary care, so
/// from the class alone the reader reads both as outpatient care; writers
/// add [`CARE_SETTING_EXTENSION`] to say which.
pub fn class_code(setting: Setting) -> &'static str {
    match setting {
        Setting::Inpatient => "IMP",
        Setting::Outpatient | Setting::PrimaryCare => "AMB",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coding::target;
    use crate::resource::setting_of_class;

    #[test]
    fn every_system_comes_back_as_itself() {
        let mut ids: Vec<String> = System::KNOWN.iter().map(|s| s.id().to_owned()).collect();
        ids.extend(["rxnorm", "ndc", "cvx", "icd9cm"].map(str::to_owned));
        ids.push("http://example.org/local-drugs".to_owned());
        ids.push("urn:oid:1.2.3.4".to_owned());
        for id in ids {
            let uri = system_uri(&id);
            assert_eq!(target(uri).id(), id, "{id} written as {uri}");
        }
        assert_eq!(system_uri("icd10se"), "http://hl7.org/fhir/sid/icd-10");
        assert_eq!(system_uri("kva"), "urn:oid:1.2.752.116.1.3.2.1.4");
    }

    #[test]
    fn classes_come_back_as_their_setting() {
        assert_eq!(
            setting_of_class(class_code(Setting::Inpatient)),
            Some(Setting::Inpatient)
        );
        assert_eq!(
            setting_of_class(class_code(Setting::Outpatient)),
            Some(Setting::Outpatient)
        );
        assert_eq!(
            setting_of_class(class_code(Setting::PrimaryCare)),
            Some(Setting::Outpatient)
        );
    }
}
