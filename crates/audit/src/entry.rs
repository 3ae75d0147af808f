//! Audit entries and their salted commitments.
//!
//! The log's leaves are not the entries but commitments to them:
//! `SHA-256(salt ‖ canonical entry bytes)` with a fresh 32-byte random salt
//! per entry. The public tiles and checkpoints therefore reveal nothing about
//! an entry (not even two equal entries look equal), while anyone given an
//! entry and its salt can recompute the commitment and check its inclusion.

use std::fmt;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rand::TryRng;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zeroize::Zeroize;

use crate::hash::{HASH_SIZE, Hash, sha256};

/// The first bytes of an entry's canonical form; a new form gets a new tag.
const CANONICAL_TAG: &[u8] = b"halsohub-audit-entry/v1\n";

/// What kind of sensitive action an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryKind {
    /// A feasibility answer (from the query log), refusals included.
    FeasibilityAnswer,
    /// An event of an access-application case, decisions included.
    CaseEvent,
    /// A project extraction (export) under a permit.
    Extraction,
    /// A secure-workspace materialisation.
    WorkspaceMaterialisation,
    /// A statement run in a secure workspace.
    WorkspaceStatement,
    /// A release out of a secure workspace.
    WorkspaceRelease,
    /// An opt-out recorded or withdrawn.
    OptOutChange,
    /// A user account created, changed or removed.
    AccountChange,
    /// A role granted or revoked.
    RoleChange,
    /// An API token issued or revoked.
    TokenChange,
    /// A use of the hub key.
    HubKeyUse,
}

impl EntryKind {
    pub const ALL: [EntryKind; 11] = [
        EntryKind::FeasibilityAnswer,
        EntryKind::CaseEvent,
        EntryKind::Extraction,
        EntryKind::WorkspaceMaterialisation,
        EntryKind::WorkspaceStatement,
        EntryKind::WorkspaceRelease,
        EntryKind::OptOutChange,
        EntryKind::AccountChange,
        EntryKind::RoleChange,
        EntryKind::TokenChange,
        EntryKind::HubKeyUse,
    ];

    /// The stable name, as committed to in the canonical form.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::FeasibilityAnswer => "feasibility_answer",
            EntryKind::CaseEvent => "case_event",
            EntryKind::Extraction => "extraction",
            EntryKind::WorkspaceMaterialisation => "workspace_materialisation",
            EntryKind::WorkspaceStatement => "workspace_statement",
            EntryKind::WorkspaceRelease => "workspace_release",
            EntryKind::OptOutChange => "opt_out_change",
            EntryKind::AccountChange => "account_change",
            EntryKind::RoleChange => "role_change",
            EntryKind::TokenChange => "token_change",
            EntryKind::HubKeyUse => "hub_key_use",
        }
    }

    pub fn parse(name: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit entry: what happened, when, by whom, to what, with details.
///
/// `at` is kept at microsecond precision (the precision the state
/// databases store), so an entry read back from the database commits to the
/// same bytes as the one appended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub kind: EntryKind,
    pub at: DateTime<Utc>,
    /// Who acted: a user id, `cli:<os user>`, or `system`.
    pub actor: String,
    /// What it was done to: a case number, a permit, a query hash, ….
    pub subject: String,
    /// The details, as JSON.
    pub payload: serde_json::Value,
}

impl AuditEntry {
    /// An entry, its time truncated to microseconds.
    pub fn new(
        kind: EntryKind,
        at: DateTime<Utc>,
        actor: impl Into<String>,
        subject: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        AuditEntry {
            kind,
            at: at.trunc_subsecs(6),
            actor: actor.into(),
            subject: subject.into(),
            payload,
        }
    }

    /// The canonical bytes the commitment is over: a version tag, then kind,
    /// time (RFC 3339, UTC, microseconds), actor, subject and payload
    /// (canonical JSON: object keys sorted by their UTF-8 bytes, no
    /// whitespace), each as a big-endian u64 length followed by its UTF-8.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let at = self
            .at
            .trunc_subsecs(6)
            .to_rfc3339_opts(SecondsFormat::Micros, true);
        let mut payload = String::new();
        canonical_json(&self.payload, &mut payload);
        let mut out = Vec::with_capacity(
            CANONICAL_TAG.len()
                + 5 * 8
                + self.actor.len()
                + self.subject.len()
                + payload.len()
                + 64,
        );
        out.extend_from_slice(CANONICAL_TAG);
        for field in [
            self.kind.as_str(),
            at.as_str(),
            self.actor.as_str(),
            self.subject.as_str(),
            payload.as_str(),
        ] {
            out.extend_from_slice(&(field.len() as u64).to_be_bytes());
            out.extend_from_slice(field.as_bytes());
        }
        out
    }

    /// The leaf data for this entry under `salt`.
    pub fn commitment(&self, salt: &Salt) -> Commitment {
        Commitment(sha256(&[&salt.0, &self.canonical_bytes()]))
    }
}

/// Canonical JSON: objects with keys sorted by UTF-8 bytes, no whitespace,
/// strings and numbers as serde_json writes them.
fn canonical_json(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            out.push_str(&value.to_string());
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    canonical_json(v, out);
                }
            }
            out.push('}');
        }
    }
}

/// Why a salt could not be made or read.
#[derive(Debug, Error)]
pub enum SaltError {
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("a salt is 32 bytes, got {0}")]
    Length(usize),
}

/// The 32-byte random salt of one entry. Kept with the entry in the
/// access-controlled database, never published.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt(pub [u8; HASH_SIZE]);

impl Salt {
    /// A fresh salt from the operating system's random number generator.
    pub fn generate() -> Result<Salt, SaltError> {
        let mut bytes = [0u8; HASH_SIZE];
        rand::rngs::SysRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| SaltError::Random(e.to_string()))?;
        Ok(Salt(bytes))
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Salt, SaltError> {
        <[u8; HASH_SIZE]>::try_from(bytes)
            .map(Salt)
            .map_err(|_| SaltError::Length(bytes.len()))
    }
}

impl Drop for Salt {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Salt(…)")
    }
}

/// The leaf data of one entry: SHA-256(salt ‖ canonical entry bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Commitment(pub Hash);

impl Commitment {
    /// The RFC 6962 leaf hash of this commitment.
    pub fn leaf_hash(&self) -> Hash {
        crate::hash::leaf_hash(&self.0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn entry(payload: serde_json::Value) -> AuditEntry {
        AuditEntry::new(
            EntryKind::FeasibilityAnswer,
            Utc.with_ymd_and_hms(2026, 12, 7, 18, 0, 0).unwrap(),
            "user:42",
            "query:abc",
            payload,
        )
    }

    #[test]
    fn key_order_does_not_change_the_commitment() {
        let salt = Salt([7; 32]);
        let a = entry(json!({"b": 1, "a": [true, null, "x"], "c": {"z": 1, "y": 2}}));
        let b: serde_json::Value =
            serde_json::from_str(r#"{"c":{"y":2,"z":1},"a":[true,null,"x"],"b":1}"#).unwrap();
        assert_eq!(a.commitment(&salt), entry(b).commitment(&salt));
        let mut s = String::new();
        canonical_json(&a.payload, &mut s);
        assert_eq!(s, r#"{"a":[true,null,"x"],"b":1,"c":{"y":2,"z":1}}"#);
    }

    #[test]
    fn every_field_and_the_salt_change_the_commitment() {
        let salt = Salt([7; 32]);
        let base = entry(json!({"n": 1}));
        let c = base.commitment(&salt);
        assert_ne!(c, base.commitment(&Salt([8; 32])));
        let mut e = base.clone();
        e.kind = EntryKind::CaseEvent;
        assert_ne!(c, e.commitment(&salt));
        let mut e = base.clone();
        e.actor.push('x');
        assert_ne!(c, e.commitment(&salt));
        let mut e = base.clone();
        e.subject.push('x');
        assert_ne!(c, e.commitment(&salt));
        let mut e = base.clone();
        e.payload = json!({"n": 2});
        assert_ne!(c, e.commitment(&salt));
        let mut e = base.clone();
        e.at += chrono::Duration::microseconds(1);
        assert_ne!(c, e.commitment(&salt));
        // Fields are length-prefixed: moving a character between actor and
        // subject changes the bytes.
        let moved = AuditEntry::new(base.kind, base.at, "user:4", "2query:abc", json!({"n": 1}));
        assert_ne!(c, moved.commitment(&salt));
    }

    #[test]
    fn time_is_committed_at_microseconds() {
        let at = Utc.timestamp_opt(1_800_000_000, 123_456_789).unwrap();
        let e = AuditEntry::new(EntryKind::HubKeyUse, at, "a", "s", json!(null));
        assert_eq!(e.at.timestamp_subsec_nanos(), 123_456_000);
        let text = String::from_utf8_lossy(&e.canonical_bytes()).into_owned();
        assert!(text.contains("2027-01-15T08:00:00.123456Z"), "{text}");
    }

    #[test]
    fn kinds_round_trip_through_their_names_and_serde() {
        for kind in EntryKind::ALL {
            assert_eq!(EntryKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
        }
        assert_eq!(EntryKind::parse("nope"), None);
    }

    #[test]
    fn salts_are_random_and_hidden_in_debug() {
        let a = Salt::generate().unwrap();
        let b = Salt::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "Salt(…)");
        assert!(Salt::from_slice(&[0; 31]).is_err());
    }
}
