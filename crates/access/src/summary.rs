//! One line per case for staff and applicant case lists.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::application::{Purpose, RequestedForm};
use crate::calendar::swedish_date;
use crate::case::CaseState;
use crate::clock::{ClockConfig, ClockStatus};
use crate::deadlines::case_clock;
use crate::ids::{CaseId, OrgId, PermitId, UserId};
use crate::permit::PermitStatus;
use crate::role::{Principal, Role};
use crate::status::CaseStatus;

/// A case as shown in a list (no members, no free text beyond the title).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseSummary {
    /// The case.
    pub case_id: CaseId,
    /// Project title.
    pub title: String,
    /// Applying organisation.
    pub organisation: OrgId,
    /// Purpose.
    pub purpose: Option<Purpose>,
    /// Requested form.
    pub form: Option<RequestedForm>,
    /// State.
    pub status: CaseStatus,
    /// Event count (the version to send back with the next command).
    pub version: u64,
    /// First submitted (Swedish date).
    pub submitted_on: Option<NaiveDate>,
    /// Accepted as complete (Swedish date).
    pub completed_on: Option<NaiveDate>,
    /// Both reviews recorded, waiting for a decision.
    pub ready_for_decision: bool,
    /// The most urgent running clock.
    pub clock: Option<ClockStatus>,
    /// The permit and its standing now.
    pub permit: Option<(PermitId, PermitStatus)>,
    /// Published in the public register.
    pub published: bool,
    /// Who must act next (empty: nobody; the case rests or is final).
    pub waiting_for: Vec<Role>,
    /// The staff member the case is assigned to.
    pub assignee: Option<UserId>,
}

impl CaseSummary {
    /// The summary of `state` at `now`; `None` before the case exists.
    pub fn of(state: &CaseState, cfg: &ClockConfig, now: DateTime<Utc>) -> Option<Self> {
        let content = state.content.as_ref()?;
        Some(Self {
            case_id: state.id?,
            title: content.title.clone(),
            organisation: content.organisation.clone(),
            purpose: content.purpose,
            form: content.form,
            status: state.status,
            version: state.version,
            submitted_on: state.first_submitted_at.map(swedish_date),
            completed_on: state.completed_at.map(swedish_date),
            ready_for_decision: state.ready_for_decision(),
            clock: case_clock(state, cfg, now),
            permit: state.permit.as_ref().map(|p| (p.id, p.status(now))),
            published: state.published_at.is_some(),
            waiting_for: waiting_for(state),
            assignee: state.assignee.clone(),
        })
    }
}

/// Who must act next on the case: the applicant (completing, answering),
/// the case officer (completeness check, permit, publication), the
/// reviewers whose review of the round is missing, the decision maker once
/// both reviews are in, the data steward (delivery). Empty for drafts
/// (the applicants' own work, not waiting for anyone) and for cases that
/// rest or are final with nothing left to publish.
pub fn waiting_for(state: &CaseState) -> Vec<Role> {
    let mut out = Vec::new();
    match state.status {
        CaseStatus::Submitted | CaseStatus::CompletenessCheck | CaseStatus::Approved => {
            out.push(Role::CaseOfficer);
        }
        CaseStatus::Incomplete | CaseStatus::WaitingForApplicant => out.push(Role::Applicant),
        CaseStatus::UnderReview | CaseStatus::AmendmentUnderReview => {
            if state.legal_review.is_none() {
                out.push(Role::LegalReviewer);
            }
            if state.technical_review.is_none() {
                out.push(Role::DataSteward);
            }
            if out.is_empty() {
                out.push(Role::DecisionMaker);
            }
        }
        CaseStatus::PermitIssued if state.first_delivered_at.is_none() => {
            out.push(Role::DataSteward);
        }
        _ => {}
    }
    if state.decision.is_some() && state.published_at.is_none() && !out.contains(&Role::CaseOfficer)
    {
        out.push(Role::CaseOfficer);
    }
    out
}

/// Which cases by assignment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// Assigned or not.
    #[default]
    Any,
    /// Assigned to the caller.
    Mine,
    /// Assigned to nobody.
    Unassigned,
}

/// Which clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockFilter {
    /// The most urgent clock is past its deadline.
    Overdue,
    /// At most the warning margin of working days left (not overdue).
    Near,
    /// A clock runs (not stopped).
    Running,
    /// The clock is stopped (waiting for the applicant).
    Stopped,
    /// No clock runs.
    None,
}

/// A filter over case summaries (the queue and case lists).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseFilter {
    /// Only cases waiting for this role.
    pub role: Option<Role>,
    /// By assignment.
    pub assigned: Assignment,
    /// Only these states (empty: all).
    pub statuses: Vec<CaseStatus>,
    /// By clock.
    pub clock: Option<ClockFilter>,
}

impl CaseFilter {
    /// Whether `s` passes, for `principal` (whose id "mine" means), given
    /// the warning margin in working days.
    pub fn matches(&self, s: &CaseSummary, principal: &Principal, warn_days: u32) -> bool {
        if let Some(r) = self.role
            && !s.waiting_for.contains(&r)
        {
            return false;
        }
        let assigned_ok = match self.assigned {
            Assignment::Any => true,
            Assignment::Mine => {
                s.assignee.is_some() && s.assignee.as_ref() == principal.user_id.as_ref()
            }
            Assignment::Unassigned => s.assignee.is_none(),
        };
        if !assigned_ok {
            return false;
        }
        if !self.statuses.is_empty() && !self.statuses.contains(&s.status) {
            return false;
        }
        match (self.clock, &s.clock) {
            (None, _) => true,
            (Some(ClockFilter::None), c) => c.is_none(),
            (Some(_), None) => false,
            (Some(ClockFilter::Overdue), Some(c)) => c.overdue,
            (Some(ClockFilter::Near), Some(c)) => {
                !c.overdue && !c.stopped && c.days_left <= i64::from(warn_days)
            }
            (Some(ClockFilter::Running), Some(c)) => !c.stopped,
            (Some(ClockFilter::Stopped), Some(c)) => c.stopped,
        }
    }
}

/// The work queue: a summary of every case waiting for someone (see
/// [`waiting_for`]) that passes `filter`, most urgent deadline first
/// (cases without a running clock last, oldest submission first).
pub fn work_queue<'a>(
    cases: impl IntoIterator<Item = &'a CaseState>,
    cfg: &ClockConfig,
    now: DateTime<Utc>,
    principal: &Principal,
    filter: &CaseFilter,
) -> Vec<CaseSummary> {
    let mut out: Vec<CaseSummary> = cases
        .into_iter()
        .filter_map(|s| CaseSummary::of(s, cfg, now))
        .filter(|s| !s.waiting_for.is_empty())
        .filter(|s| filter.matches(s, principal, cfg.warn_working_days))
        .collect();
    out.sort_by(|a, b| {
        let key = |s: &CaseSummary| {
            (
                s.clock.as_ref().map_or(NaiveDate::MAX, |c| c.deadline),
                s.submitted_on,
                s.case_id,
            )
        };
        key(a).cmp(&key(b))
    });
    out
}
