//! Data permits: what a holder may use, by whom, where, and until when.
//!
//! A permit lives inside its case ([`CaseState::permit`](crate::CaseState));
//! later consumers (the secure workspace, output checks) ask the permit
//! service — the platform calling [`Permit::is_active`] /
//! [`Permit::authorises`] on the current state — never a copy, so expiry
//! and revocation end access at once.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{swedish_date, swedish_midnight};
use crate::error::FieldIssue;
use crate::ids::{CaseId, OrgId, PermitId, UserId};
use crate::text::{MAX_TEXT_CHARS, check_line, check_required_text};

/// How the data is de-identified for the permit holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pseudonymisation {
    /// Project pseudonyms, keyed separately per project so that two projects
    /// cannot join their data (DESIGN.md §6).
    ProjectPseudonyms,
    /// Anonymised statistics only; no record-level data.
    Anonymised,
}

/// The terms a case officer sets when issuing a permit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermitTerms {
    /// Data categories (e.g. `diagnoses`, `dispensed_drugs`).
    pub data_categories: Vec<String>,
    /// Data sources / holders (e.g. `patient_register`).
    pub sources: Vec<String>,
    /// De-identification.
    pub pseudonymisation: Pseudonymisation,
    /// Users who may work with the data; must be members of the application.
    pub authorised_users: Vec<UserId>,
    /// First day of validity (Swedish date).
    pub valid_from: NaiveDate,
    /// Last day of validity (Swedish date, inclusive).
    pub valid_until: NaiveDate,
    /// The processing environment (e.g. `secure-workspace`).
    pub environment: String,
    /// Tools available there (e.g. `R`, `Python`, `SQL`).
    pub tools: Vec<String>,
    /// Further conditions attached to the permit.
    pub conditions: Vec<String>,
}

impl PermitTerms {
    /// Checks the terms; `members` are the users the application names
    /// (members and its creator).
    pub fn check(&self, members: &[UserId]) -> Vec<FieldIssue> {
        let mut issues = Vec::new();
        if self.data_categories.is_empty() {
            issues.push(FieldIssue::new(
                "data_categories",
                "at least one is required",
            ));
        }
        if self.sources.is_empty() {
            issues.push(FieldIssue::new("sources", "at least one is required"));
        }
        for (field, list) in [
            ("data_categories", &self.data_categories),
            ("sources", &self.sources),
            ("tools", &self.tools),
        ] {
            for (i, v) in list.iter().enumerate() {
                check_required_text(&mut issues, &format!("{field}[{i}]"), v, 200);
            }
        }
        for (i, c) in self.conditions.iter().enumerate() {
            check_required_text(&mut issues, &format!("conditions[{i}]"), c, MAX_TEXT_CHARS);
        }
        if self.pseudonymisation == Pseudonymisation::ProjectPseudonyms
            && self.authorised_users.is_empty()
        {
            issues.push(FieldIssue::new(
                "authorised_users",
                "at least one user is required for pseudonymised data",
            ));
        }
        for (i, u) in self.authorised_users.iter().enumerate() {
            if !members.contains(u) {
                issues.push(FieldIssue::new(
                    format!("authorised_users[{i}]"),
                    "is not a member of the application",
                ));
            }
        }
        if self.valid_from > self.valid_until {
            issues.push(FieldIssue::new("valid_until", "is before valid_from"));
        }
        check_line(&mut issues, "environment", &self.environment, 200);
        if self.environment.trim().is_empty() {
            issues.push(FieldIssue::new("environment", "is required"));
        }
        issues
    }
}

/// A revocation: when and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Revocation {
    /// When it was revoked.
    pub at: DateTime<Utc>,
    /// Why (public in the register).
    pub reason: String,
}

/// A data permit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Permit {
    /// The permit's identifier, printed on every later output.
    pub id: PermitId,
    /// The case it was issued in.
    pub case_id: CaseId,
    /// The holder organisation.
    pub organisation: OrgId,
    /// The project title.
    pub project_title: String,
    /// The terms in force (updated by approved amendments).
    pub terms: PermitTerms,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// 1 when issued, +1 per approved amendment.
    pub version: u32,
    /// Set when revoked; a revoked permit never becomes active again.
    pub revoked: Option<Revocation>,
}

/// A permit's standing at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PermitStatus {
    /// Before `valid_from`.
    NotYetValid,
    /// In force.
    Active,
    /// After `valid_until`.
    Expired,
    /// Revoked.
    Revoked,
}

impl Permit {
    /// The permit's standing at `now` (dates compared in Swedish time).
    pub fn status(&self, now: DateTime<Utc>) -> PermitStatus {
        if self.revoked.as_ref().is_some_and(|r| r.at <= now) {
            return PermitStatus::Revoked;
        }
        let today = swedish_date(now);
        if today < self.terms.valid_from {
            PermitStatus::NotYetValid
        } else if today > self.terms.valid_until {
            PermitStatus::Expired
        } else {
            PermitStatus::Active
        }
    }

    /// Whether the permit is in force at `now`: not revoked, and `now`'s
    /// Swedish date within `valid_from..=valid_until`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.status(now) == PermitStatus::Active
    }

    /// The first instant of validity: Swedish midnight starting
    /// `valid_from`. For projections that store instants.
    pub fn starts_at(&self) -> DateTime<Utc> {
        swedish_midnight(self.terms.valid_from)
    }

    /// The first instant after validity: Swedish midnight ending
    /// `valid_until`. [`Permit::is_active`] is exactly
    /// `starts_at() <= now < expires_at()` and not revoked at `now`.
    pub fn expires_at(&self) -> DateTime<Utc> {
        match self.terms.valid_until.succ_opt() {
            Some(next) => swedish_midnight(next),
            None => swedish_midnight(self.terms.valid_until),
        }
    }

    /// Whether `user` may work with the data at `now`: the permit is active
    /// and the user is among its authorised users.
    pub fn authorises(&self, user: &UserId, now: DateTime<Utc>) -> bool {
        self.is_active(now) && self.terms.authorised_users.contains(user)
    }
}
