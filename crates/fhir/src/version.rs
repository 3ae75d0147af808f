//! Recognising resources written for another FHIR version (STU3, R5).
//!
//! FHIR resources do not carry their version, so the tell-tale shapes are
//! checked: resource types that only exist in STU3 or R5, and elements
//! whose name or type changed in R4.

use serde_json::Value;

/// Resource types of STU3 that R4 removed or renamed.
const STU3_ONLY: [&str; 12] = [
    "BodySite",
    "DataElement",
    "DeviceComponent",
    "EligibilityRequest",
    "EligibilityResponse",
    "ExpansionProfile",
    "ImagingManifest",
    "ProcedureRequest",
    "ProcessRequest",
    "ProcessResponse",
    "ReferralRequest",
    "Sequence",
];

/// Resource types new in R5 (a selection of the common ones).
const R5_ONLY: [&str; 10] = [
    "ActorDefinition",
    "ArtifactAssessment",
    "ConditionDefinition",
    "FormularyItem",
    "GenomicStudy",
    "ImagingSelection",
    "InventoryItem",
    "InventoryReport",
    "Requirements",
    "Transport",
];

/// Why `r` (of type `rt`) looks like another FHIR version, if it does.
pub(crate) fn other_version(rt: &str, r: &Value) -> Option<String> {
    if STU3_ONLY.contains(&rt) {
        return Some(format!("{rt} is an STU3 resource type (not in R4)"));
    }
    if R5_ONLY.contains(&rt) {
        return Some(format!("{rt} is an R5 resource type (not in R4)"));
    }
    let is_str = |k: &str| r.get(k).is_some_and(Value::is_string);
    match rt {
        "Condition" if is_str("clinicalStatus") || is_str("verificationStatus") => Some(
            "Condition.clinicalStatus/verificationStatus is a plain code: STU3 (R4 uses CodeableConcept)"
                .to_owned(),
        ),
        "Condition" if r.get("assertedDate").is_some() => {
            Some("Condition.assertedDate is STU3 (R4: recordedDate)".to_owned())
        }
        // R4 renamed `context` to `encounter` in these four (it is still
        // `context` in MedicationAdministration/Dispense/Statement).
        "Condition" | "Observation" | "Procedure" | "MedicationRequest"
            if r.get("context").is_some() =>
        {
            Some(format!("{rt}.context is STU3 (R4: encounter)"))
        }
        "MedicationStatement" if r.get("taken").is_some() => {
            Some("MedicationStatement.taken is STU3".to_owned())
        }
        "Encounter" if r.get("class").is_some_and(Value::is_array) => {
            Some("Encounter.class is a list: R5".to_owned())
        }
        "MedicationRequest" | "MedicationStatement" | "MedicationDispense"
        | "MedicationAdministration"
            if r.get("medication").is_some() =>
        {
            Some(format!("{rt}.medication (CodeableReference) is R5"))
        }
        "Patient" if r.get("animal").is_some() => Some("Patient.animal is STU3".to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stu3_and_r5_shapes() {
        assert!(other_version("ProcedureRequest", &json!({})).is_some());
        assert!(other_version("Condition", &json!({"clinicalStatus": "active"})).is_some());
        assert!(
            other_version(
                "Observation",
                &json!({"context": {"reference": "Encounter/1"}})
            )
            .is_some()
        );
        assert!(other_version("Encounter", &json!({"class": [{"coding": []}]})).is_some());
        assert!(
            other_version(
                "Condition",
                &json!({"clinicalStatus": {"coding": [{"code": "active"}]}})
            )
            .is_none()
        );
        assert!(other_version("Encounter", &json!({"class": {"code": "AMB"}})).is_none());
    }
}
