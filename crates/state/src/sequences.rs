//! Identifier sequences: the next serial number of a kind of identifier
//! (cases, permits), taken from a counter in the database so concurrent
//! writers (threads or server processes) never get the same number and a
//! number is never reused, even if the write it was taken for fails.

use sqlx::Row;

use crate::{Db, StateError};

/// A kind of identifier with its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequence {
    /// Case (application) serials, `HH-A-YYYY-NNNNNN`.
    Case,
    /// Permit serials, `HH-P-YYYY-NNNNNN`.
    Permit,
}

impl Sequence {
    /// The counter's name in `id_sequences`.
    pub fn name(self) -> &'static str {
        match self {
            Sequence::Case => "case",
            Sequence::Permit => "permit",
        }
    }
}

impl Db {
    /// Advances the counter and returns its new value (1 for the first
    /// identifier; on a database migrated from an earlier release, one
    /// more than the highest serial it held).
    pub async fn next_id(&self, sequence: Sequence) -> Result<u32, StateError> {
        let row = sqlx::query(
            "INSERT INTO id_sequences (name, last_value) VALUES ($1, 1) \
             ON CONFLICT (name) DO UPDATE SET last_value = id_sequences.last_value + 1 \
             RETURNING last_value",
        )
        .bind(sequence.name())
        .fetch_one(&self.pool)
        .await
        .map_err(StateError::db("advancing an identifier sequence"))?;
        let value: i64 = row
            .try_get(0)
            .map_err(StateError::db("reading an identifier sequence"))?;
        u32::try_from(value).map_err(|_| StateError::Corrupt {
            what: "identifier sequence",
            reason: format!("{} reached {value}", sequence.name()),
        })
    }
}
