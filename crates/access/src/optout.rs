//! Citizens' opt-out from secondary use (EHDS Art. 71): the one place that
//! decides who is excluded, for what, at which instant.
//!
//! An opt-out register is a list of [`OptOutRecord`]s per person: an
//! opt-out or its withdrawal, for one purpose of [`Purpose`] or for
//! [`OptOutScope::All`], effective from a moment, recorded at a moment.
//! Records are never changed; a withdrawal is its own record. What a
//! register says at an instant `t` is decided by [`standing`]:
//!
//! * only records **recorded** at or before `t` count (what the hub knew
//!   then), and only those **effective** at or before `t`;
//! * per scope (all, or one purpose) the latest effective record wins (ties
//!   by the order recorded); an opt-out makes the scope out, a withdrawal in;
//! * a person is excluded **for a purpose** when their `all` scope or that
//!   purpose's scope is out ([`Standing::excludes`]), and **for counts**
//!   when any scope is out ([`Standing::any`]): feasibility counts, the
//!   public statistics and the catalogue remove everyone opted out of
//!   anything, one set, so that purpose-specific masks cannot be differenced
//!   against each other.
//!
//! A permit's extracts use the register as it stood at the permit's
//! decision ([`freeze_instant`]), so a data set does not change under a
//! project between refreshes; a later opt-out applies at the next refresh.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::application::Purpose;
use crate::error::UnknownValue;

/// What an opt-out covers: every purpose, or one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OptOutScope {
    /// Every purpose of secondary use (the default).
    All,
    /// One purpose.
    Purpose(Purpose),
}

impl OptOutScope {
    /// `all` or the purpose's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            OptOutScope::All => "all",
            OptOutScope::Purpose(p) => p.as_str(),
        }
    }
}

impl fmt::Display for OptOutScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OptOutScope {
    type Err = UnknownValue;
    /// `all` (or empty) or a purpose's wire name.
    fn from_str(s: &str) -> Result<OptOutScope, UnknownValue> {
        let s = s.trim();
        if s.is_empty() || s == "all" {
            return Ok(OptOutScope::All);
        }
        s.parse::<Purpose>().map(OptOutScope::Purpose)
    }
}

impl Serialize for OptOutScope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for OptOutScope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OptOutScope, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for OptOutScope {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut values = vec!["all".to_string()];
        values.extend(Purpose::ALL.iter().map(|p| p.as_str().to_string()));
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(values))
            .description(Some(
                "`all` (every purpose of secondary use) or one purpose of the application form",
            ))
            .into()
    }
}

impl utoipa::ToSchema for OptOutScope {}

/// An opt-out or its withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OptOutAction {
    /// The person opts out.
    OptOut,
    /// The person withdraws an earlier opt-out.
    Withdrawal,
}

impl OptOutAction {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            OptOutAction::OptOut => "opt_out",
            OptOutAction::Withdrawal => "withdrawal",
        }
    }

    /// Reads the wire name (also the Swedish e-service's `avanmalan` /
    /// `atertagande`).
    pub fn parse(s: &str) -> Option<OptOutAction> {
        match s.trim().to_ascii_lowercase().as_str() {
            "opt_out" | "optout" | "opt-out" | "avanmalan" | "avanmälan" => {
                Some(OptOutAction::OptOut)
            }
            "withdrawal" | "withdraw" | "atertagande" | "återtagande" => {
                Some(OptOutAction::Withdrawal)
            }
            _ => None,
        }
    }
}

/// One record of a person's opt-out register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptOutRecord {
    /// What it covers.
    pub scope: OptOutScope,
    /// Opt-out or withdrawal.
    pub action: OptOutAction,
    /// From when it applies.
    pub effective_at: DateTime<Utc>,
    /// When the hub recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The register's order of recording (ties of `effective_at`).
    pub sequence: i64,
}

/// What one person's register says at an instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    /// Every purpose is out.
    pub all: bool,
    /// The purposes that are out on their own (beside `all`).
    pub purposes: Vec<Purpose>,
}

impl Standing {
    /// Whether anything is out: the rule for counts, statistics and the
    /// catalogue.
    pub fn any(&self) -> bool {
        self.all || !self.purposes.is_empty()
    }

    /// Whether the person is out for `purpose`: the rule for a permit's
    /// extracts.
    pub fn excludes(&self, purpose: Purpose) -> bool {
        self.all || self.purposes.contains(&purpose)
    }
}

/// What `records` (one person's, in any order) say at instant `at`.
pub fn standing(records: &[OptOutRecord], at: DateTime<Utc>) -> Standing {
    let mut latest: std::collections::BTreeMap<OptOutScope, (DateTime<Utc>, i64, OptOutAction)> =
        std::collections::BTreeMap::new();
    for r in records {
        if r.recorded_at > at || r.effective_at > at {
            continue;
        }
        let key = (r.effective_at, r.sequence, r.action);
        match latest.get(&r.scope) {
            Some(&(e, s, _)) if (e, s) >= (r.effective_at, r.sequence) => {}
            _ => {
                latest.insert(r.scope, key);
            }
        }
    }
    let mut out = Standing::default();
    for (scope, (_, _, action)) in latest {
        if action != OptOutAction::OptOut {
            continue;
        }
        match scope {
            OptOutScope::All => out.all = true,
            OptOutScope::Purpose(p) => out.purposes.push(p),
        }
    }
    out
}

/// The first instant after `at` at which a record of `records` that is
/// already recorded becomes effective, if any: until then, what the
/// register says does not change without a new record.
pub fn next_change(records: &[OptOutRecord], at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    records
        .iter()
        .filter(|r| r.recorded_at <= at && r.effective_at > at)
        .map(|r| r.effective_at)
        .min()
}

/// The instant a permit's extracts read the register at: the permit's
/// issue (its decision), or `refreshed_at` when the data steward has
/// refreshed the extract since.
pub fn freeze_instant(
    issued_at: DateTime<Utc>,
    refreshed_at: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    refreshed_at.map_or(issued_at, |r| r.max(issued_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn rec(
        scope: OptOutScope,
        action: OptOutAction,
        eff: &str,
        rec_at: &str,
        seq: i64,
    ) -> OptOutRecord {
        OptOutRecord {
            scope,
            action,
            effective_at: t(eff),
            recorded_at: t(rec_at),
            sequence: seq,
        }
    }

    #[test]
    fn scopes_read_all_and_purposes_and_refuse_others() {
        assert_eq!("".parse::<OptOutScope>().unwrap(), OptOutScope::All);
        assert_eq!("all".parse::<OptOutScope>().unwrap(), OptOutScope::All);
        assert_eq!(
            "scientific_research".parse::<OptOutScope>().unwrap(),
            OptOutScope::Purpose(Purpose::ScientificResearch)
        );
        let e = "marketing".parse::<OptOutScope>().unwrap_err().to_string();
        assert!(
            e.contains("marketing") && e.contains("public_health"),
            "{e}"
        );
        assert_eq!(OptOutAction::parse("Avanmälan"), Some(OptOutAction::OptOut));
        assert_eq!(
            OptOutAction::parse("withdrawal"),
            Some(OptOutAction::Withdrawal)
        );
        assert_eq!(OptOutAction::parse("maybe"), None);
    }

    #[test]
    fn the_latest_effective_record_per_scope_decides() {
        use OptOutAction::*;
        let research = OptOutScope::Purpose(Purpose::ScientificResearch);
        let r = [
            rec(
                OptOutScope::All,
                OptOut,
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00Z",
                1,
            ),
            rec(
                OptOutScope::All,
                Withdrawal,
                "2026-03-01T00:00:00Z",
                "2026-02-15T00:00:00Z",
                2,
            ),
            rec(
                research,
                OptOut,
                "2026-02-01T00:00:00Z",
                "2026-02-01T00:00:00Z",
                3,
            ),
        ];
        assert!(!standing(&r, t("2025-12-31T00:00:00Z")).any());
        let jan = standing(&r, t("2026-01-15T00:00:00Z"));
        assert!(jan.all && jan.excludes(Purpose::Education));
        let feb = standing(&r, t("2026-02-20T00:00:00Z"));
        assert!(feb.all && feb.purposes == vec![Purpose::ScientificResearch]);
        // The withdrawal of `all` leaves the research opt-out standing.
        let mar = standing(&r, t("2026-03-02T00:00:00Z"));
        assert!(!mar.all && mar.any());
        assert!(mar.excludes(Purpose::ScientificResearch) && !mar.excludes(Purpose::Education));
        // The withdrawal was recorded on 15 February: before that, the
        // hub did not know of it.
        assert_eq!(next_change(&r, t("2026-02-10T00:00:00Z")), None);
        assert_eq!(
            next_change(&r, t("2026-02-20T00:00:00Z")),
            Some(t("2026-03-01T00:00:00Z"))
        );
    }

    #[test]
    fn records_not_yet_recorded_do_not_count_even_when_backdated() {
        use OptOutAction::*;
        let r = [rec(
            OptOutScope::All,
            OptOut,
            "2026-01-01T00:00:00Z",
            "2026-06-01T00:00:00Z",
            1,
        )];
        // A permit decided in March froze the register without it.
        assert!(!standing(&r, t("2026-03-01T00:00:00Z")).any());
        assert!(standing(&r, t("2026-06-01T00:00:00Z")).any());
    }

    #[test]
    fn equal_effective_times_are_ordered_by_recording() {
        use OptOutAction::*;
        let at = "2026-01-01T00:00:00Z";
        let r = [
            rec(OptOutScope::All, Withdrawal, at, at, 2),
            rec(OptOutScope::All, OptOut, at, at, 1),
        ];
        assert!(!standing(&r, t(at)).any());
        let r = [
            rec(OptOutScope::All, OptOut, at, at, 3),
            rec(OptOutScope::All, Withdrawal, at, at, 2),
        ];
        assert!(standing(&r, t(at)).any());
    }

    #[test]
    fn a_refresh_moves_the_freeze_forward_never_back() {
        let issued = t("2026-02-01T00:00:00Z");
        assert_eq!(freeze_instant(issued, None), issued);
        assert_eq!(
            freeze_instant(issued, Some(t("2026-05-01T00:00:00Z"))),
            t("2026-05-01T00:00:00Z")
        );
        assert_eq!(
            freeze_instant(issued, Some(t("2026-01-01T00:00:00Z"))),
            issued
        );
    }
}
