//! The clocks running on a case at a moment, and the staff queue ordered by
//! deadline. The clock rules themselves (deadlines, stopped days, working
//! days used and left) are in the `clock` module; this one reads a case's
//! state to find which clocks run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{add_working_days, swedish_date};
use crate::case::CaseState;
use crate::clock::{ClockConfig, ClockKind, ClockStatus, decision_clock, reading};
use crate::ids::CaseId;
use crate::status::CaseStatus;

/// Every clock running on the case at `now` (usually one; a decided but
/// unpublished case under amendment review has two), most urgent first.
pub fn case_clocks(state: &CaseState, cfg: &ClockConfig, now: DateTime<Utc>) -> Vec<ClockStatus> {
    let today = swedish_date(now);
    let mut out = Vec::new();
    let waiting = state.status == CaseStatus::WaitingForApplicant;
    let effective = if waiting {
        state.resume_status.unwrap_or(CaseStatus::UnderReview)
    } else {
        state.status
    };
    match effective {
        CaseStatus::Submitted | CaseStatus::CompletenessCheck => {
            if let Some(s) = state.last_submitted_at {
                let start = swedish_date(s);
                out.push(reading(
                    ClockKind::CompletenessCheck,
                    start,
                    add_working_days(start, cfg.completeness_working_days),
                    today,
                    &[],
                    false,
                ));
            }
        }
        CaseStatus::Incomplete => {
            if let (Some(r), Some(deadline)) = (state.returned_at, state.completion_deadline(cfg)) {
                let start = swedish_date(r);
                out.push(reading(
                    ClockKind::ApplicantCompletion,
                    start,
                    deadline,
                    today,
                    &[],
                    false,
                ));
            }
        }
        CaseStatus::UnderReview => {
            if let Some(c) = state.completed_at {
                out.push(decision_clock(
                    cfg,
                    ClockKind::Decision,
                    c,
                    &state.pauses,
                    state.decision_extended_months,
                    today,
                    waiting,
                ));
            }
        }
        CaseStatus::AmendmentUnderReview => {
            if let Some(p) = &state.pending_amendment {
                out.push(decision_clock(
                    cfg,
                    ClockKind::AmendmentDecision,
                    p.requested_at,
                    &state.pauses,
                    state.decision_extended_months,
                    today,
                    waiting,
                ));
            }
        }
        _ => {}
    }
    if let Some(d) = &state.decision
        && state.published_at.is_none()
    {
        let start = swedish_date(d.at);
        let deadline = add_working_days(start, cfg.publication_working_days);
        out.push(reading(
            ClockKind::Publication,
            start,
            deadline,
            today,
            &[],
            false,
        ));
    }
    out.sort_by_key(|c| c.deadline);
    out
}

/// The most urgent running clock of the case, if any.
pub fn case_clock(state: &CaseState, cfg: &ClockConfig, now: DateTime<Utc>) -> Option<ClockStatus> {
    case_clocks(state, cfg, now).into_iter().next()
}

/// One line of the staff queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueEntry {
    /// The case.
    pub case_id: CaseId,
    /// Its state.
    pub status: CaseStatus,
    /// Its most urgent clock.
    pub clock: ClockStatus,
}

/// The staff work queue: every case with a running clock, ordered by
/// deadline (earliest first; ties by case id). Cases without a running
/// clock (drafts, closed cases, ...) are left out.
pub fn queue<'a>(
    cases: impl IntoIterator<Item = &'a CaseState>,
    cfg: &ClockConfig,
    now: DateTime<Utc>,
) -> Vec<QueueEntry> {
    let mut out: Vec<QueueEntry> = cases
        .into_iter()
        .filter_map(|s| {
            let id = s.id?;
            let clock = case_clock(s, cfg, now)?;
            Some(QueueEntry {
                case_id: id,
                status: s.status,
                clock,
            })
        })
        .collect();
    sort_by_deadline(&mut out);
    out
}

/// Orders queue entries by deadline, earliest first; ties by case id.
pub(crate) fn sort_by_deadline(entries: &mut [QueueEntry]) {
    entries.sort_by(|a, b| {
        a.clock
            .deadline
            .cmp(&b.clock.deadline)
            .then(a.case_id.cmp(&b.case_id))
    });
}
