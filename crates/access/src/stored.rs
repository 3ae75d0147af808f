//! The stored form of case events and case projections, versioned apart
//! from the API's JSON.
//!
//! The API may change how it shows a case; what is stored must stay
//! readable for as long as the database lives. So the platform never stores
//! `serde_json::to_value(&event)` directly: it stores what
//! [`encode_event`] returns, an envelope that names its format version,
//! and reads rows back with [`decode_event`], which knows every format ever
//! written:
//!
//! * **format 0** (releases before this codec): the bare event,
//!   `{"at": …, "actor": …, "role": …, "change": {"type": …, …}}`;
//! * **format 1**: `{"v": 1, "event": <the format 0 object>}`.
//!
//! A later format that changes an event's shape adds its own stored
//! structs here and a conversion from the older formats; the pinned
//! examples in this module's tests and in `tests/stored.rs` fail when a
//! change to the domain types would silently change what format 1 means.
//!
//! Projections (the folded [`CaseState`] the database keeps beside the
//! events, so listing does not fold every case) carry the version of the
//! fold that produced them ([`FOLD_VERSION`]); a projection from another
//! fold, or from a release before projections were versioned, is not
//! trusted: [`decode_projection`] returns `None` and the caller folds the
//! events again (and may store the result).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::case::{CaseEvent, CaseState};

/// The format [`encode_event`] writes.
pub const EVENT_FORMAT: u64 = 1;

/// The version of [`CaseState::apply`]'s fold. Raise it whenever folding
/// the same events gives a different state, so stored projections made by
/// the old fold are rebuilt.
pub const FOLD_VERSION: u64 = 3;

/// A stored event or projection that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoredError {
    /// Written by a newer release in a format this one does not know.
    #[error(
        "stored format v{found} is newer than this release reads (up to v{})",
        EVENT_FORMAT
    )]
    UnknownFormat {
        /// The format found.
        found: u64,
    },
    /// Not an event of the format it claims.
    #[error("stored event (format v{format}) does not parse: {reason}")]
    Malformed {
        /// The format it claimed (0: bare event).
        format: u64,
        /// The parser's complaint.
        reason: String,
    },
    /// The value could not be written as JSON.
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was encoded.
        what: &'static str,
        /// Why not.
        reason: String,
    },
}

/// Format 1 of a stored event.
#[derive(Serialize, Deserialize)]
struct EventV1 {
    v: u64,
    event: CaseEvent,
}

/// A stored projection.
#[derive(Serialize, Deserialize)]
struct ProjectionV1 {
    v: u64,
    state: CaseState,
}

/// The stored form of `event` (format [`EVENT_FORMAT`]).
pub fn encode_event(event: &CaseEvent) -> Result<Value, StoredError> {
    serde_json::to_value(EventV1 {
        v: EVENT_FORMAT,
        event: event.clone(),
    })
    .map_err(|e| StoredError::Encode {
        what: "a case event",
        reason: e.to_string(),
    })
}

/// Reads a stored event of any format this release knows.
pub fn decode_event(stored: &Value) -> Result<CaseEvent, StoredError> {
    let malformed = |format: u64| {
        move |e: serde_json::Error| StoredError::Malformed {
            format,
            reason: e.to_string(),
        }
    };
    match stored.get("v") {
        None => CaseEvent::deserialize(stored).map_err(malformed(0)),
        Some(v) => match v.as_u64() {
            Some(1) => EventV1::deserialize(stored)
                .map(|e| e.event)
                .map_err(malformed(1)),
            Some(found) => Err(StoredError::UnknownFormat { found }),
            None => Err(StoredError::Malformed {
                format: 0,
                reason: format!("the format tag \"v\" is {v}, not a number"),
            }),
        },
    }
}

/// The stored form of a case's folded state, tagged with [`FOLD_VERSION`].
pub fn encode_projection(state: &CaseState) -> Result<Value, StoredError> {
    serde_json::to_value(ProjectionV1 {
        v: FOLD_VERSION,
        state: state.clone(),
    })
    .map_err(|e| StoredError::Encode {
        what: "a case projection",
        reason: e.to_string(),
    })
}

/// The state in a stored projection, if this release's fold wrote it;
/// `None` (fold the events again) for a projection of another fold, one
/// written before projections were versioned, or one that does not parse.
pub fn decode_projection(stored: &Value) -> Option<CaseState> {
    if stored.get("v").and_then(Value::as_u64) != Some(FOLD_VERSION) {
        return None;
    }
    ProjectionV1::deserialize(stored).ok().map(|p| p.state)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn bare() -> Value {
        json!({
            "at": "2026-01-12T09:00:00Z",
            "actor": "anna",
            "role": "applicant",
            "change": {"type": "withdrawn", "reason": "Plans changed"}
        })
    }

    #[test]
    fn reads_format_0_and_writes_format_1() {
        let event = decode_event(&bare()).unwrap();
        assert_eq!(event.change.name(), "withdrawn");
        let stored = encode_event(&event).unwrap();
        assert_eq!(stored, json!({"v": 1, "event": bare()}));
        assert_eq!(decode_event(&stored).unwrap(), event);
    }

    #[test]
    fn refuses_unknown_and_malformed_formats() {
        assert_eq!(
            decode_event(&json!({"v": 9, "event": bare()})),
            Err(StoredError::UnknownFormat { found: 9 })
        );
        assert!(matches!(
            decode_event(&json!({"v": "1"})),
            Err(StoredError::Malformed { .. })
        ));
        assert!(matches!(
            decode_event(&json!({"v": 1, "event": {"at": 3}})),
            Err(StoredError::Malformed { format: 1, .. })
        ));
        assert!(matches!(
            decode_event(&json!([1, 2])),
            Err(StoredError::Malformed { format: 0, .. })
        ));
    }

    #[test]
    fn projections_of_another_fold_are_not_trusted() {
        let state = CaseState::from_events(&[decode_event(&bare()).unwrap()]);
        let stored = encode_projection(&state).unwrap();
        assert_eq!(decode_projection(&stored), Some(state.clone()));
        // Written by a release before projections were versioned.
        assert_eq!(
            decode_projection(&serde_json::to_value(&state).unwrap()),
            None
        );
        assert_eq!(decode_projection(&json!({"v": 0, "state": {}})), None);
        assert_eq!(decode_projection(&json!({"v": 1, "state": 3})), None);
    }
}
