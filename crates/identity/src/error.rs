//! Error types. No variant ever carries the identity number or its digits.

use std::path::PathBuf;

/// What is wrong with the date part of an identity number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateProblem {
    /// The month is 00 or above 12.
    Month,
    /// The day is 00 or beyond the last day of the month.
    Day,
    /// 29 February in a year that is not a leap year.
    NotLeapYear,
    /// The year cannot be written with four digits (only from `from_parts`).
    Year,
}

impl std::fmt::Display for DateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DateProblem::Month => "month out of range",
            DateProblem::Day => "day out of range for the month",
            DateProblem::NotLeapYear => "29 February in a year that is not a leap year",
            DateProblem::Year => "year outside 1000..=9999",
        })
    }
}

/// Why an identity number was rejected.
///
/// The messages say what is wrong and where (1-based character positions in
/// the trimmed text) but never repeat the number or any of its digits, so an
/// `IdError` is safe to log and to write to a quarantine file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Nothing but whitespace.
    #[error("identity number is empty")]
    Empty,
    /// Not 10 or 12 digits.
    #[error("identity number has {digits} digits, expected 10 or 12")]
    WrongLength {
        /// How many digits were found (capped at 99).
        digits: usize,
    },
    /// A character that is neither a digit nor a separator.
    #[error("identity number has an invalid character {found:?} at position {position}")]
    BadCharacter {
        /// 1-based character position in the trimmed text.
        position: usize,
        /// The offending character (never a digit).
        found: char,
    },
    /// A `-`/`+` anywhere but before the last four digits, or more than one.
    #[error("identity number has a misplaced separator at position {position}")]
    MisplacedSeparator {
        /// 1-based character position in the trimmed text.
        position: usize,
    },
    /// The date part is not a calendar date.
    #[error("identity number has an impossible date: {0}")]
    ImpossibleDate(DateProblem),
    /// The date lies after the reference date used for parsing.
    #[error("identity number has a birth date after the reference date")]
    BirthDateAfterReference,
    /// The Luhn check digit does not match.
    #[error("identity number has a wrong check digit")]
    BadCheckDigit,
    /// `Personnummer::from_parts` was given a serial above 999.
    #[error("serial number must be 0..=999")]
    SerialOutOfRange,
    /// A reservnummer scheme could not be built.
    #[error("reservnummer scheme {name:?}: {reason}")]
    BadReservScheme {
        /// The scheme name as configured.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Errors creating, loading or using a hub key file.
///
/// Never contains key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// `init` found a file already at the path.
    #[error("key file {path} already exists; refusing to overwrite it")]
    AlreadyExists {
        /// The key file.
        path: PathBuf,
    },
    /// The key file is missing.
    #[error("key file {path} does not exist (create one with `halsohub keys init`)")]
    NotFound {
        /// The key file.
        path: PathBuf,
    },
    /// The key file can be read by group or others.
    #[error(
        "key file {path} is readable by group or others (mode {mode:o}); run `chmod 600` on it"
    )]
    Permissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file does not hold a valid key line.
    #[error("key file {path} is not a halsohub key file: {reason}")]
    Format {
        /// The key file.
        path: PathBuf,
        /// What is wrong (never includes file content).
        reason: &'static str,
    },
    /// Reading or writing failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The key file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The operating system's random number generator failed.
    #[error("operating system random number generator failed: {0}")]
    Random(String),
}
