//! The public register: published decisions with reasons, and permits —
//! organisation and project title only, never personal data (no members,
//! authorised users, summaries, reviewers or decision makers).
//!
//! A case enters the register when a case officer publishes it
//! ([`Command::Publish`](crate::Command::Publish)) after the decision; the
//! 30-working-day publication deadline runs from the decision
//! ([`ClockKind::Publication`](crate::ClockKind::Publication)). Published
//! entries then follow the case: a later permit, amendment or revocation is
//! shown as it is now.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::application::{Purpose, RequestedForm};
use chrono::{DateTime, Utc};

use crate::calendar::swedish_date;
use crate::case::{CaseState, Outcome};
use crate::clock::{ClockConfig, ClockKind};
use crate::deadlines::{QueueEntry, case_clocks, sort_by_deadline};
use crate::ids::{CaseId, OrgId, PermitId};
use crate::permit::Pseudonymisation;
use crate::status::CaseStatus;

/// One published case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegisterEntry {
    /// The case.
    pub case_id: CaseId,
    /// The applying organisation.
    pub organisation: OrgId,
    /// The project title.
    pub project_title: String,
    /// The purpose.
    pub purpose: Option<Purpose>,
    /// The requested form.
    pub form: Option<RequestedForm>,
    /// The case's current state.
    pub status: CaseStatus,
    /// First submitted (Swedish date).
    pub submitted_on: Option<NaiveDate>,
    /// Accepted as complete.
    pub completed_on: Option<NaiveDate>,
    /// Decided.
    pub decided_on: NaiveDate,
    /// Approved or rejected.
    pub outcome: Outcome,
    /// The decision's reasons.
    pub reasons: String,
    /// Published.
    pub published_on: NaiveDate,
    /// The permit, if one was issued.
    pub permit: Option<PublicPermit>,
    /// Decided amendments: date, outcome, reasons.
    pub amendments: Vec<PublicAmendment>,
}

/// A permit as shown in the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicPermit {
    /// Its identifier.
    pub id: PermitId,
    /// Version (1 + approved amendments).
    pub version: u32,
    /// Issued (Swedish date).
    pub issued_on: NaiveDate,
    /// Valid from.
    pub valid_from: NaiveDate,
    /// Valid until (inclusive).
    pub valid_until: NaiveDate,
    /// Data categories.
    pub data_categories: Vec<String>,
    /// Sources.
    pub sources: Vec<String>,
    /// De-identification.
    pub pseudonymisation: Pseudonymisation,
    /// Processing environment.
    pub environment: String,
    /// Tools.
    pub tools: Vec<String>,
    /// Conditions.
    pub conditions: Vec<String>,
    /// Revoked on, if revoked.
    pub revoked_on: Option<NaiveDate>,
    /// Why revoked.
    pub revocation_reason: Option<String>,
}

/// A decided amendment as shown in the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicAmendment {
    /// Decided on.
    pub decided_on: NaiveDate,
    /// Approved or rejected.
    pub outcome: Outcome,
    /// Reasons.
    pub reasons: String,
}

/// The register entry of one case, or `None` while it is unpublished.
pub fn register_entry(state: &CaseState) -> Option<RegisterEntry> {
    let published = state.published_at?;
    let decision = state.decision.as_ref()?;
    let content = state.content.as_ref()?;
    Some(RegisterEntry {
        case_id: state.id?,
        organisation: content.organisation.clone(),
        project_title: content.title.clone(),
        purpose: content.purpose,
        form: content.form,
        status: state.status,
        submitted_on: state.first_submitted_at.map(swedish_date),
        completed_on: state.completed_at.map(swedish_date),
        decided_on: swedish_date(decision.at),
        outcome: decision.outcome,
        reasons: decision.reasons.clone(),
        published_on: swedish_date(published),
        permit: state.permit.as_ref().map(|p| PublicPermit {
            id: p.id,
            version: p.version,
            issued_on: swedish_date(p.issued_at),
            valid_from: p.terms.valid_from,
            valid_until: p.terms.valid_until,
            data_categories: p.terms.data_categories.clone(),
            sources: p.terms.sources.clone(),
            pseudonymisation: p.terms.pseudonymisation,
            environment: p.terms.environment.clone(),
            tools: p.terms.tools.clone(),
            conditions: p.terms.conditions.clone(),
            revoked_on: p.revoked.as_ref().map(|r| swedish_date(r.at)),
            revocation_reason: p.revoked.as_ref().map(|r| r.reason.clone()),
        }),
        amendments: state
            .amendments
            .iter()
            .map(|a| PublicAmendment {
                decided_on: swedish_date(a.decision.at),
                outcome: a.decision.outcome,
                reasons: a.decision.reasons.clone(),
            })
            .collect(),
    })
}

/// The public register: every published case, most recently published
/// first (ties by case id).
pub fn register<'a>(cases: impl IntoIterator<Item = &'a CaseState>) -> Vec<RegisterEntry> {
    let mut out: Vec<RegisterEntry> = cases.into_iter().filter_map(register_entry).collect();
    out.sort_by(|a, b| {
        b.published_on
            .cmp(&a.published_on)
            .then(a.case_id.cmp(&b.case_id))
    });
    out
}

/// Decided cases not yet published, with their publication clocks, ordered
/// by publication deadline (earliest first; ties by case id).
pub fn publication_queue<'a>(
    cases: impl IntoIterator<Item = &'a CaseState>,
    cfg: &ClockConfig,
    now: DateTime<Utc>,
) -> Vec<QueueEntry> {
    let mut out: Vec<QueueEntry> = cases
        .into_iter()
        .filter_map(|s| {
            let clock = case_clocks(s, cfg, now)
                .into_iter()
                .find(|c| c.kind == ClockKind::Publication)?;
            Some(QueueEntry {
                case_id: s.id?,
                status: s.status,
                clock,
            })
        })
        .collect();
    sort_by_deadline(&mut out);
    out
}
