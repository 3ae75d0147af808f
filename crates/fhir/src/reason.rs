//! Reason codes of rejected FHIR resources (the quarantine's `reason`).
//!
//! Every code starts with `fhir.` so a filter on the prefix finds them all.
//! Invalid Swedish identity numbers are rejected by the caller with the
//! register readers' `invalid_identity.*` codes, so they read the same
//! whatever the source format.

/// An NDJSON line that is not a JSON object.
pub const INVALID_JSON: &str = "fhir.invalid_json";
/// An NDJSON line longer than the line limit.
pub const LINE_TOO_LONG: &str = "fhir.line_too_long";
/// A JSON object without a `resourceType` string.
pub const MISSING_RESOURCE_TYPE: &str = "fhir.missing_resource_type";
/// A `resourceType` that is not a FHIR R4 resource type.
pub const UNKNOWN_RESOURCE_TYPE: &str = "fhir.unknown_resource_type";
/// A valid R4 resource type that halsohub does not read (Claim, Organization, ...).
pub const UNSUPPORTED_RESOURCE_TYPE: &str = "fhir.unsupported_resource_type";
/// A resource in the shape of another FHIR version (STU3, R5).
pub const UNSUPPORTED_VERSION: &str = "fhir.unsupported_version";
/// A Bundle entry without a resource (e.g. a DELETE request).
pub const ENTRY_WITHOUT_RESOURCE: &str = "fhir.entry_without_resource";
/// A clinical resource without `subject` (or `patient`) reference.
pub const MISSING_SUBJECT: &str = "fhir.missing_subject";
/// A subject that is not a Patient (Group, Device, Location, ...).
pub const SUBJECT_NOT_PATIENT: &str = "fhir.subject_not_patient";
/// A reference to a resource that is neither in the Bundle/file nor contained.
pub const MISSING_REFERENCE: &str = "fhir.missing_reference";
/// A reference to a Patient that was itself rejected.
pub const SUBJECT_REJECTED: &str = "fhir.subject_rejected";
/// A Patient with neither a Swedish identity number, another identifier nor an id.
pub const MISSING_IDENTITY: &str = "fhir.missing_identity";
/// A date or dateTime that is not a valid FHIR date.
pub const INVALID_DATE: &str = "fhir.invalid_date";
/// A clinical resource without any date to place it in time.
pub const MISSING_DATE: &str = "fhir.missing_date";
/// A period that ends before it starts.
pub const PERIOD_ENDS_BEFORE_START: &str = "fhir.period_ends_before_start";
/// A CodeableConcept without any coding that has both system and code.
pub const MISSING_CODE: &str = "fhir.missing_code";
/// A code whose shape is not valid for its (known) system.
pub const INVALID_CODE: &str = "fhir.invalid_code";
/// A Quantity value without a unit (where a unit is required).
pub const VALUE_WITHOUT_UNIT: &str = "fhir.value_without_unit";
/// A value that cannot be read (not a number, unknown comparator, ...).
pub const INVALID_VALUE: &str = "fhir.invalid_value";
/// A unit that cannot be converted to the analyte's canonical unit.
pub const INCOMPATIBLE_UNIT: &str = "fhir.incompatible_unit";
/// A resource whose status says it did not happen or is an error
/// (`entered-in-error`, `not-done`, `refuted`, `cancelled`, ...).
pub const EXCLUDED_STATUS: &str = "fhir.excluded_status";
/// A medication resource without any medication (no code, no resolvable
/// reference).
pub const MISSING_MEDICATION: &str = "fhir.missing_medication";
/// A Bundle nested inside a Bundle entry or NDJSON line deeper than allowed.
pub const NESTED_BUNDLE: &str = "fhir.nested_bundle";

/// Every reason code, for documentation and tests.
pub const ALL: [&str; 23] = [
    INVALID_JSON,
    LINE_TOO_LONG,
    MISSING_RESOURCE_TYPE,
    UNKNOWN_RESOURCE_TYPE,
    UNSUPPORTED_RESOURCE_TYPE,
    UNSUPPORTED_VERSION,
    ENTRY_WITHOUT_RESOURCE,
    MISSING_SUBJECT,
    SUBJECT_NOT_PATIENT,
    MISSING_REFERENCE,
    SUBJECT_REJECTED,
    MISSING_IDENTITY,
    INVALID_DATE,
    MISSING_DATE,
    PERIOD_ENDS_BEFORE_START,
    MISSING_CODE,
    INVALID_CODE,
    VALUE_WITHOUT_UNIT,
    INVALID_VALUE,
    INCOMPATIBLE_UNIT,
    EXCLUDED_STATUS,
    MISSING_MEDICATION,
    NESTED_BUNDLE,
];

/// A resource that goes to the quarantine: a reason code and a detail that
/// names the element (`Observation.valueQuantity.unit`) and what is wrong.
/// Details never hold an identifier value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// One of the constants of this module.
    pub reason: &'static str,
    /// Human-readable detail.
    pub detail: String,
}

impl Rejection {
    /// A rejection for `reason` at `element`.
    pub fn new(reason: &'static str, element: &str, what: impl std::fmt::Display) -> Self {
        Rejection {
            reason,
            detail: format!("{element}: {what}"),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.reason, self.detail)
    }
}
