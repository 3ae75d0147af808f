//! The ground truth of a generated set, written to `OUT/manifest.json`.
//! Holds counts only: no identity numbers.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The kinds of deliberately defective rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectKind {
    /// The identity number's check digit is wrong.
    BadCheckDigit,
    /// A well-formed code that exists in no code list (the row is otherwise
    /// valid and should be kept with the code flagged).
    UnknownCode,
    /// The row's main date does not exist (e.g. `20150230`, month 13).
    ImpossibleDate,
    /// The row's main date field is empty.
    MissingField,
    /// The same line written twice; counted once, on the second line.
    ExactDuplicate,
    /// A numeric field (packages, dose, lab result) that is not a number.
    UnparseableValue,
}

impl DefectKind {
    /// Every kind, in manifest order.
    pub const ALL: [DefectKind; 6] = [
        DefectKind::BadCheckDigit,
        DefectKind::UnknownCode,
        DefectKind::ImpossibleDate,
        DefectKind::MissingField,
        DefectKind::ExactDuplicate,
        DefectKind::UnparseableValue,
    ];
}

/// Defective rows by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefectCounts {
    /// Rows with a wrong check digit in the identity number.
    pub bad_check_digit: u64,
    /// Rows with a deliberately unknown code.
    pub unknown_code: u64,
    /// Rows whose main date is impossible.
    pub impossible_date: u64,
    /// Rows whose main date is empty.
    pub missing_field: u64,
    /// Extra copies of a line.
    pub exact_duplicate: u64,
    /// Rows with an unparseable numeric value.
    pub unparseable_value: u64,
}

impl DefectCounts {
    /// Count of one kind.
    pub fn get(&self, kind: DefectKind) -> u64 {
        match kind {
            DefectKind::BadCheckDigit => self.bad_check_digit,
            DefectKind::UnknownCode => self.unknown_code,
            DefectKind::ImpossibleDate => self.impossible_date,
            DefectKind::MissingField => self.missing_field,
            DefectKind::ExactDuplicate => self.exact_duplicate,
            DefectKind::UnparseableValue => self.unparseable_value,
        }
    }

    /// Adds one row of `kind`.
    pub(crate) fn count(&mut self, kind: DefectKind) {
        match kind {
            DefectKind::BadCheckDigit => self.bad_check_digit += 1,
            DefectKind::UnknownCode => self.unknown_code += 1,
            DefectKind::ImpossibleDate => self.impossible_date += 1,
            DefectKind::MissingField => self.missing_field += 1,
            DefectKind::ExactDuplicate => self.exact_duplicate += 1,
            DefectKind::UnparseableValue => self.unparseable_value += 1,
        }
    }

    pub(crate) fn add(&mut self, o: &DefectCounts) {
        self.bad_check_digit += o.bad_check_digit;
        self.unknown_code += o.unknown_code;
        self.impossible_date += o.impossible_date;
        self.missing_field += o.missing_field;
        self.exact_duplicate += o.exact_duplicate;
        self.unparseable_value += o.unparseable_value;
    }

    /// All defective rows.
    pub fn total(&self) -> u64 {
        DefectKind::ALL.iter().map(|k| self.get(*k)).sum()
    }

    /// Rows that a strict reader rejects: every defect except unknown
    /// codes, which are kept and flagged.
    pub fn rejected(&self) -> u64 {
        self.total() - self.unknown_code
    }
}

/// The configuration a set was generated with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigSummary {
    /// Number of persons.
    pub patients: u64,
    /// Seed.
    pub seed: u64,
    /// First day of the period.
    pub start: NaiveDate,
    /// Last day of the period (also the extract date).
    pub end: NaiveDate,
    /// Share of defective rows.
    pub defect_rate: f64,
    /// Persons per chunk (part of what makes the output reproducible).
    pub chunk_size: u32,
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileSummary {
    /// Format name as in `docs/formats.md` (`par_inpatient`, `lab`, ...).
    pub format: String,
    /// Two-digit län code for regional files.
    pub region: Option<String>,
    /// `windows-1252` or `utf-8`.
    pub encoding: String,
    /// Starts with a UTF-8 byte-order mark.
    pub bom: bool,
    /// Data lines written (header excluded, duplicates included).
    pub rows: u64,
    /// Defective rows by kind.
    pub defects: DefectCounts,
}

/// Ground-truth population counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PopulationSummary {
    /// Persons generated (all appear in the population register, apart
    /// from rows removed by defects).
    pub persons: u64,
    /// Men.
    pub men: u64,
    /// Women.
    pub women: u64,
    /// Resident on the first day of the period.
    pub resident_at_start: u64,
    /// Born during the period.
    pub born_in_period: u64,
    /// Immigrated during the period.
    pub immigrated_in_period: u64,
    /// Residents at start who had immigrated earlier.
    pub immigrated_before_period: u64,
    /// Emigrated during the period.
    pub emigrated: u64,
    /// Died during the period (rows in the cause-of-death register).
    pub deaths: u64,
    /// Death dates written with an unknown day (`YYYYMM00`).
    pub death_dates_unknown_day: u64,
    /// Death dates written with unknown month and day (`YYYY0000`).
    pub death_dates_unknown_month: u64,
    /// Samordningsnummer replaced by a personnummer (rows of the change file).
    pub id_changes: u64,
    /// Moves between regions.
    pub moves: u64,
    /// Persons aged 100 or more in the extract year (`+` in 10-digit forms).
    pub centenarians_at_extract: u64,
}

/// The manifest of a generated set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Generator name and version.
    pub generator: String,
    /// The configuration.
    pub config: ConfigSummary,
    /// Date at which the extracts were taken (10-digit forms use `+` for
    /// persons who turn 100 in or before its year).
    pub extract_date: NaiveDate,
    /// Per file (path relative to the output directory).
    pub files: BTreeMap<String, FileSummary>,
    /// Population counts.
    pub population: PopulationSummary,
    /// Persons with each disease at some time in the period.
    pub diseases: BTreeMap<String, u64>,
    /// Deaths by underlying cause (ICD-10-SE, dotted).
    pub causes_of_death: BTreeMap<String, u64>,
    /// All data rows written.
    pub rows_total: u64,
    /// All defects by kind.
    pub defects_total: DefectCounts,
}
