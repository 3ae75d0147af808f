//! Error types.

use std::path::PathBuf;

use crate::system::System;

/// What is wrong with a code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeProblem {
    /// Nothing but whitespace.
    Empty,
    /// The code does not have the system's shape; says what was expected.
    Shape(&'static str),
    /// A character that the system never uses, at a 1-based position.
    BadCharacter {
        /// 1-based character position in the trimmed text.
        position: usize,
        /// The character.
        found: char,
    },
    /// The check digit (LOINC mod 10, SNOMED CT Verhoeff) does not match.
    CheckDigit,
    /// An ATC code whose first letter is not one of the 14 anatomical groups.
    AtcGroup,
    /// A SNOMED CT id whose partition is not that of a concept.
    NotAConcept,
    /// An ICD-10 hierarchy node that is neither chapter, block nor code.
    Node(&'static str),
}

impl std::fmt::Display for CodeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodeProblem::Empty => f.write_str("empty code"),
            CodeProblem::Shape(expected) => write!(f, "expected {expected}"),
            CodeProblem::BadCharacter { position, found } => {
                write!(f, "invalid character {found:?} at position {position}")
            }
            CodeProblem::CheckDigit => f.write_str("wrong check digit"),
            CodeProblem::AtcGroup => f.write_str(
                "first letter is not an ATC anatomical main group (A B C D G H J L M N P R S V)",
            ),
            CodeProblem::NotAConcept => {
                f.write_str("not a concept id (partition digits must be 00 or 10)")
            }
            CodeProblem::Node(expected) => write!(f, "expected {expected}"),
        }
    }
}

/// A code that could not be normalised, naming the system, the code (as
/// written, shortened to 40 characters) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} code {code:?}: {problem}", system.name())]
pub struct CodeError {
    /// The system the code was read as.
    pub system: System,
    /// The code as written (trimmed, at most 40 characters).
    pub code: String,
    /// What is wrong.
    pub problem: CodeProblem,
}

impl CodeError {
    pub(crate) fn new(system: &System, raw: &str, problem: CodeProblem) -> Self {
        CodeError {
            system: system.clone(),
            code: raw.trim().chars().take(40).collect(),
            problem,
        }
    }
}

/// A code list file that could not be loaded. Nothing of the file is added
/// to the registry when this is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read (or decompressed).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A line could not be parsed as CSV/TSV.
    #[error("{path}:{line}: {reason}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A required column is missing from the header.
    #[error("{path}: header has no {column:?} column")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column name.
        column: &'static str,
    },
    /// A field is empty that must not be.
    #[error("{path}:{line}: field {field:?} is empty")]
    EmptyField {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The field name.
        field: &'static str,
    },
    /// A code is not valid in the system it is loaded as.
    #[error("{path}:{line}: field \"code\": {source}")]
    BadCode {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// The code error.
        #[source]
        source: CodeError,
    },
}

/// A unit or value that cannot be normalised or converted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum UnitError {
    /// The unit is not one the hub knows.
    #[error("unknown unit {unit:?}")]
    UnknownUnit {
        /// The unit as written (at most 40 characters).
        unit: String,
    },
    /// The unit is known but cannot express this analyte.
    #[error("unit {unit} cannot be converted to {canonical} for {analyte}")]
    Incompatible {
        /// The analyte id.
        analyte: &'static str,
        /// The (normalised) unit given.
        unit: String,
        /// The analyte's canonical unit.
        canonical: &'static str,
    },
    /// Two units of different dimensions, with no analyte to convert by.
    #[error("unit {from} cannot be converted to {to}: they measure different things")]
    NotConvertible {
        /// The (normalised) unit converted from.
        from: String,
        /// The (normalised) unit converted to.
        to: String,
    },
    /// No analyte is known for the lab code.
    #[error("no analyte known for {system} code {code:?}")]
    UnknownAnalyte {
        /// The system id.
        system: String,
        /// The code.
        code: String,
    },
    /// The value is NaN or infinite.
    #[error("value is not a finite number")]
    NotFinite,
}
