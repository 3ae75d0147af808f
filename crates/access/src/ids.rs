//! Identifiers: users, organisations, cases and permits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An identifier that does not have its required shape.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} {problem}")]
pub struct IdParseError {
    /// Which identifier ("user id", "permit id", ...).
    pub kind: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Longest accepted user or organisation identifier, in bytes.
pub const MAX_NAME_ID_LEN: usize = 255;

fn check_name_id(kind: &'static str, s: &str) -> Result<(), IdParseError> {
    if s.is_empty() {
        return Err(IdParseError {
            kind,
            problem: "is empty",
        });
    }
    if s.len() > MAX_NAME_ID_LEN {
        return Err(IdParseError {
            kind,
            problem: "is longer than 255 bytes",
        });
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | ':' | '|' | '+'))
    {
        return Err(IdParseError {
            kind,
            problem: "may hold only ASCII letters, digits and - _ . @ : | +",
        });
    }
    if looks_like_identity_number(s) {
        return Err(IdParseError {
            kind,
            problem: "looks like a personal identity number, which must never be used as an identifier",
        });
    }
    Ok(())
}

/// Whether `s` contains a 10- or 12-digit run (optionally with `-`/`+` before
/// the last four digits) whose last digit is a valid Luhn check digit — the
/// shape of a personnummer or samordningsnummer. Used to keep identity
/// numbers out of identifiers and free text (DESIGN.md §4.1).
pub(crate) fn looks_like_identity_number(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            continue;
        }
        // Collect a digit run allowing one separator.
        let start = i;
        let mut digits: Vec<u8> = Vec::with_capacity(12);
        let mut sep_seen = false;
        let mut j = i;
        while let Some(&b) = bytes.get(j) {
            if b.is_ascii_digit() {
                digits.push(b - b'0');
            } else if (b == b'-' || b == b'+')
                && !sep_seen
                && (digits.len() == 6 || digits.len() == 8)
                && bytes.get(j + 1).is_some_and(u8::is_ascii_digit)
            {
                sep_seen = true;
            } else {
                break;
            }
            j += 1;
        }
        let tail = match digits.len() {
            10 => Some(digits.as_slice()),
            12 if matches!(digits.get(..2), Some([1, 8] | [1, 9] | [2, 0])) => digits.get(2..),
            _ => None,
        };
        if let Some(tail) = tail
            && plausible_birth_date(tail)
            && luhn_valid(tail)
        {
            return true;
        }
        i = j.max(start + 1);
    }
    false
}

/// Whether YYMMDD in the first six of ten digits is a plausible date of a
/// personnummer (day 01–31) or samordningsnummer (day 61–91). Keeps
/// organisation numbers (month digits ≥ 20) from being mistaken for one.
fn plausible_birth_date(ten: &[u8]) -> bool {
    let (Some(m1), Some(m2), Some(d1), Some(d2)) = (ten.get(2), ten.get(3), ten.get(4), ten.get(5))
    else {
        return false;
    };
    let month = m1 * 10 + m2;
    let day = d1 * 10 + d2;
    (1..=12).contains(&month) && ((1..=31).contains(&day) || (61..=91).contains(&day))
}

/// Luhn check over ten digits (the last being the check digit).
fn luhn_valid(ten: &[u8]) -> bool {
    let Some((&check, payload)) = ten.split_last() else {
        return false;
    };
    let mut sum = 0u32;
    for (i, &d) in payload.iter().enumerate() {
        let mut v = u32::from(d) * if i % 2 == 0 { 2 } else { 1 };
        if v > 9 {
            v -= 9;
        }
        sum += v;
    }
    (10 - sum % 10) % 10 == u32::from(check)
}

macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps an identifier: 1–255 bytes of ASCII letters,
            /// digits and `- _ . @ : | +` (UUIDs, login names, OIDC
            /// subjects), and not shaped like a personal identity number.
            pub fn new(s: impl Into<String>) -> Result<Self, IdParseError> {
                let s = s.into();
                check_name_id($kind, &s)?;
                Ok(Self(s))
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdParseError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(concat!(
                        "A ", $kind, ": 1–255 ASCII letters, digits and - _ . @ : | + (never a personal identity number)"
                    )))
                    .min_length(Some(1))
                    .max_length(Some(MAX_NAME_ID_LEN))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

name_id!(
    /// A user account's stable identifier, chosen by the platform (for
    /// example a UUID or a login name). Never a personal identity number.
    UserId,
    "user id"
);
name_id!(
    /// An organisation's stable identifier (for example `karolinska` or an
    /// organisation number's opaque key). Never a personal identity number.
    OrgId,
    "organisation id"
);

macro_rules! serial_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name {
            year: u16,
            serial: u32,
        }

        impl $name {
            /// Builds the identifier for `year` (1000–9999) and `serial`
            /// (1–999 999), as allocated by the platform's sequence.
            pub fn new(year: u16, serial: u32) -> Result<Self, IdParseError> {
                if !(1000..=9999).contains(&year) {
                    return Err(IdParseError { kind: $kind, problem: "year must have four digits" });
                }
                if !(1..=999_999).contains(&serial) {
                    return Err(IdParseError { kind: $kind, problem: "serial must be between 1 and 999999" });
                }
                Ok(Self { year, serial })
            }

            /// The year part.
            pub fn year(&self) -> u16 {
                self.year
            }

            /// The serial part.
            pub fn serial(&self) -> u32 {
                self.serial
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}-{:06}"), self.year, self.serial)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let bad = IdParseError {
                    kind: $kind,
                    problem: concat!("must look like ", $prefix, "YYYY-NNNNNN"),
                };
                let rest = s.strip_prefix($prefix).ok_or(bad.clone())?;
                let (y, n) = rest.split_once('-').ok_or(bad.clone())?;
                if y.len() != 4 || n.len() != 6 || !y.bytes().chain(n.bytes()).all(|b| b.is_ascii_digit()) {
                    return Err(bad);
                }
                let year: u16 = y.parse().map_err(|_| bad.clone())?;
                let serial: u32 = n.parse().map_err(|_| bad)?;
                Self::new(year, serial)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdParseError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(concat!("A ", $kind, ", `", $prefix, "YYYY-NNNNNN`")))
                    .pattern(Some(concat!("^", $prefix, "[0-9]{4}-[0-9]{6}$")))
                    .examples([concat!($prefix, "2026-000001")])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

serial_id!(
    /// A case (application) identifier, `HH-A-2026-000045`. The platform
    /// allocates the serial; the format is public and stable.
    CaseId,
    "HH-A-",
    "case id"
);
serial_id!(
    /// A data permit identifier, `HH-P-2026-000123`, printed on every later
    /// output made under the permit.
    PermitId,
    "HH-P-",
    "permit id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_ids_round_trip() {
        let id = PermitId::new(2026, 123).unwrap();
        assert_eq!(id.to_string(), "HH-P-2026-000123");
        assert_eq!("HH-P-2026-000123".parse::<PermitId>().unwrap(), id);
        assert!("HH-A-2026-000123".parse::<PermitId>().is_err());
        assert!("HH-P-2026-000000".parse::<PermitId>().is_err());
        assert!("HH-P-26-000001".parse::<PermitId>().is_err());
        assert!("HH-P-2026-00001x".parse::<PermitId>().is_err());
        let c: CaseId = serde_json::from_str("\"HH-A-2025-000001\"").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"HH-A-2025-000001\"");
    }

    #[test]
    fn name_ids_refuse_identity_numbers_without_echoing_them() {
        // 811218-9876 is the Skatteverket textbook example number.
        let err = UserId::new("811218-9876").unwrap_err();
        assert!(!err.to_string().contains("9876"));
        assert!(UserId::new("198112189876").is_err());
        assert!(UserId::new("anna.svensson@ki").is_ok());
        assert!(UserId::new("").is_err());
        assert!(OrgId::new("region stockholm").is_err());
        // Wrong check digit: not an identity number.
        assert!(UserId::new("8112189875").is_ok());
    }

    #[test]
    fn detects_numbers_inside_text() {
        assert!(looks_like_identity_number("patient 19811218-9876 had"));
        assert!(looks_like_identity_number("x811218+9876"));
        assert!(!looks_like_identity_number("about 12345 patients in 2026"));
        // Samordningsnummer (day + 60).
        assert!(looks_like_identity_number("811278-9873"));
        // Karolinska Institutet's organisation number passes Luhn but is
        // not a date: not flagged.
        assert!(!looks_like_identity_number(
            "Karolinska Institutet 202100-2932"
        ));
        assert!(!looks_like_identity_number("Dnr 2025-01234-01"));
    }
}
