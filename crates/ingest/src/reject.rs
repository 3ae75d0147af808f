//! Row-level rejections: the reason codes of the quarantine.
//!
//! A reason code is one of the constants below; an invalid identity number
//! carries a sub-kind after a dot (`invalid_identity.bad_check_digit`), so
//! filtering on the prefix finds them all. The detail names the field and
//! says what is wrong; it never holds an identity number (values echoed in
//! it are shortened and scrubbed).

use halsohub_identity::IdError;

use crate::scrub::scrub;
use crate::text::ValueError;

/// A required field is empty.
pub const MISSING_FIELD: &str = "missing_field";
/// A date that is not a calendar date, or a period that ends before it
/// starts.
pub const IMPOSSIBLE_DATE: &str = "impossible_date";
/// A code whose shape is not valid for its system.
pub const INVALID_CODE: &str = "invalid_code";
/// A value that cannot be read (number, date shape, enumerated value).
pub const UNPARSEABLE_VALUE: &str = "unparseable_value";
/// An exact repeat of an earlier line of the same file.
pub const DUPLICATE_ROW: &str = "duplicate_row";
/// A row with more or fewer fields than the header.
pub const WRONG_COLUMN_COUNT: &str = "wrong_column_count";
/// A lab unit that cannot be converted to the analyte's canonical unit.
pub const INCOMPATIBLE_UNIT: &str = "incompatible_unit";
/// An id change that contradicts an earlier one (loop or second target).
pub const CONFLICTING_ID_CHANGE: &str = "conflicting_id_change";
/// A population-register residence period that starts on the same day as
/// an earlier one of the same person in the same file but says a different
/// region, municipality or end: which one holds cannot be decided, so the
/// earlier line stands and this one is quarantined.
pub const CONFLICTING_RESIDENCE: &str = "conflicting_residence";
/// Prefix of the invalid-identity reasons.
pub const INVALID_IDENTITY: &str = "invalid_identity";

/// A row that goes to the quarantine.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reject {
    /// Reason code.
    pub reason: &'static str,
    /// Human-readable detail, naming the field.
    pub detail: String,
}

impl Reject {
    pub(crate) fn new(reason: &'static str, field: &str, what: impl std::fmt::Display) -> Self {
        Reject {
            reason,
            detail: format!("{field}: {what}"),
        }
    }

    /// A rejection that echoes (a scrubbed, shortened) `value`.
    pub(crate) fn with_value(
        reason: &'static str,
        field: &str,
        what: impl std::fmt::Display,
        value: &str,
    ) -> Self {
        Reject {
            reason,
            detail: format!("{field}: {what}: {:?}", scrub(value, 40)),
        }
    }

    pub(crate) fn missing(field: &str) -> Self {
        Reject::new(MISSING_FIELD, field, "required value is empty")
    }

    pub(crate) fn value(field: &str, e: ValueError, value: &str) -> Self {
        match e {
            ValueError::Shape(what) => Reject::with_value(UNPARSEABLE_VALUE, field, what, value),
            ValueError::Impossible(what) => Reject::with_value(IMPOSSIBLE_DATE, field, what, value),
        }
    }

    /// An identity number that did not parse. The message of `IdError`
    /// never contains the number.
    pub(crate) fn identity(field: &str, e: &IdError) -> Self {
        Reject {
            reason: identity_reason(e),
            detail: format!("{field}: {e}"),
        }
    }
}

/// `invalid_identity.<sub-kind>` for an identity error.
pub(crate) fn identity_reason(e: &IdError) -> &'static str {
    match e {
        IdError::Empty => MISSING_FIELD,
        IdError::WrongLength { .. } => "invalid_identity.wrong_length",
        IdError::BadCharacter { .. } => "invalid_identity.bad_character",
        IdError::MisplacedSeparator { .. } => "invalid_identity.misplaced_separator",
        IdError::ImpossibleDate(_) => "invalid_identity.impossible_date",
        IdError::BirthDateAfterReference => "invalid_identity.birth_date_after_reference",
        IdError::BadCheckDigit => "invalid_identity.bad_check_digit",
        _ => "invalid_identity.other",
    }
}

/// Reason codes of OMOP CDM rows (`omop.*`; see `docs/formats.md`).
pub mod omop {
    /// The file lacks a column halsohub needs to read the row.
    pub const MISSING_COLUMN: &str = "omop.missing_column";
    /// A value halsohub needs is empty.
    pub const MISSING_VALUE: &str = "omop.missing_value";
    /// An id, concept id or number that is not a number.
    pub const INVALID_NUMBER: &str = "omop.invalid_number";
    /// Not a date, or an impossible one.
    pub const INVALID_DATE: &str = "omop.invalid_date";
    /// An end date before the start date (death before birth).
    pub const PERIOD_ENDS_BEFORE_START: &str = "omop.period_ends_before_start";
    /// A `person_id` that the folder's person table does not hold.
    pub const UNKNOWN_PERSON: &str = "omop.unknown_person";
    /// About a person whose person row was rejected.
    pub const PERSON_REJECTED: &str = "omop.person_rejected";
    /// A `person_id` (person, death) or `concept_id` (concept) seen
    /// earlier in the file.
    pub const DUPLICATE_ID: &str = "omop.duplicate_id";
    /// Neither the concept id nor the source concept id names a concept
    /// (both 0 or empty).
    pub const MISSING_CONCEPT: &str = "omop.missing_concept";
    /// A concept-table code whose shape or check digit is wrong for its
    /// system.
    pub const INVALID_CODE: &str = "omop.invalid_code";
    /// A numeric value without a unit, for an analyte whose values need
    /// one.
    pub const VALUE_WITHOUT_UNIT: &str = "omop.value_without_unit";
    /// A unit that cannot be converted to the analyte's canonical unit.
    pub const INCOMPATIBLE_UNIT: &str = "omop.incompatible_unit";
    /// An `operator_concept_id` that is not one of <, <=, =, >=, >.
    pub const UNKNOWN_OPERATOR: &str = "omop.unknown_operator";
}
