//! Errors of the disclosure crate. None of them echoes a protected count.

/// What went wrong when configuring or applying disclosure control.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DisclosureError {
    /// A profile field has an unusable value.
    #[error("invalid disclosure profile: field `{field}` {reason}")]
    InvalidProfile {
        /// The field, e.g. `rounding` or `noise.epsilon`.
        field: &'static str,
        /// Why it is unusable.
        reason: String,
    },
    /// The profile adds noise but the release context has an empty hub secret.
    #[error("the profile adds noise but the hub secret is empty")]
    EmptySecret,
    /// A stored set fingerprint has the wrong length.
    #[error("a stored set fingerprint has {len} bytes, expected {expected}")]
    BadSetPrint {
        /// Bytes found.
        len: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// A table's rows have different lengths.
    #[error("table row {row} has {found} cells, row 0 has {expected}")]
    RaggedTable {
        /// Index of the offending row.
        row: usize,
        /// Cells in row 0.
        expected: usize,
        /// Cells in this row.
        found: usize,
    },
    /// A table has no cells.
    #[error("table has no cells")]
    EmptyTable,
    /// A table is larger than disclosure control accepts.
    #[error("table has {cells} cells, more than the maximum {max}")]
    TableTooLarge {
        /// Cells in the table.
        cells: usize,
        /// The maximum.
        max: usize,
    },
    /// A proportion's numerator exceeds its denominator.
    #[error("proportion numerator is larger than its denominator")]
    NumeratorAboveDenominator,
}
