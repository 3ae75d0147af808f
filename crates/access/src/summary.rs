//! One line per case for staff and applicant case lists.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::application::{Purpose, RequestedForm};
use crate::calendar::swedish_date;
use crate::case::CaseState;
use crate::clock::{ClockConfig, ClockStatus};
use crate::deadlines::case_clock;
use crate::ids::{CaseId, OrgId, PermitId};
use crate::permit::PermitStatus;
use crate::status::CaseStatus;

/// A case as shown in a list (no members, no free text beyond the title).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        })
    }
}
