//! Lead times and the public queue, computed from cases (folds of events).
//!
//! A stage's duration is the number of calendar days between the Swedish
//! dates of its start and end events (stopped-clock days included: this is
//! the wait the applicant experienced). Figures are grouped by the month in
//! which the stage *ended*:
//!
//! | stage | from | to |
//! |---|---|---|
//! | `completeness` | first submission | accepted as complete |
//! | `review` | accepted as complete | decision |
//! | `permit` | approval | permit issued |
//! | `delivery` | permit issued | first delivery |
//! | `overall` | first submission | decision |
//! | `to_data` | first submission | first delivery |
//!
//! The median of an even number of values is the mean of the two middle
//! ones; the 90th percentile is the nearest-rank value (the smallest value
//! with at least 90 % of the values at or below it).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::swedish_date;
use crate::case::{CaseState, Outcome};
use crate::ids::CaseId;
use crate::status::CaseStatus;

/// A stage of the process.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// First submission → accepted as complete.
    Completeness,
    /// Accepted as complete → decision.
    Review,
    /// Approval → permit issued.
    Permit,
    /// Permit issued → first delivery.
    Delivery,
    /// First submission → decision.
    Overall,
    /// First submission → first delivery.
    ToData,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 6] = [
        Stage::Completeness,
        Stage::Review,
        Stage::Permit,
        Stage::Delivery,
        Stage::Overall,
        Stage::ToData,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Completeness => "completeness",
            Stage::Review => "review",
            Stage::Permit => "permit",
            Stage::Delivery => "delivery",
            Stage::Overall => "overall",
            Stage::ToData => "to_data",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One case's time in one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StageDuration {
    /// The case.
    pub case_id: CaseId,
    /// The stage.
    pub stage: Stage,
    /// Started (Swedish date).
    pub started_on: NaiveDate,
    /// Ended (Swedish date).
    pub ended_on: NaiveDate,
    /// Calendar days from start to end (never negative).
    pub days: i64,
    /// Whether the decision period was extended (review and overall
    /// stages; EHDS Art. 68).
    #[serde(default)]
    pub extended: bool,
}

/// The stages a case has completed, with their durations.
pub fn stage_durations(state: &CaseState) -> Vec<StageDuration> {
    let Some(case_id) = state.id else {
        return Vec::new();
    };
    let span = |stage: Stage, a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| {
        let (a, b) = (swedish_date(a?), swedish_date(b?));
        Some(StageDuration {
            case_id,
            stage,
            started_on: a,
            ended_on: b,
            days: (b - a).num_days().max(0),
            extended: matches!(stage, Stage::Review | Stage::Overall)
                && state.decision_extended_months > 0,
        })
    };
    let decided = state.decision.as_ref().map(|d| d.at);
    let approved = state
        .decision
        .as_ref()
        .filter(|d| d.outcome == Outcome::Approved)
        .map(|d| d.at);
    let issued = state.permit.as_ref().map(|p| p.issued_at);
    [
        span(
            Stage::Completeness,
            state.first_submitted_at,
            state.completed_at,
        ),
        span(Stage::Review, state.completed_at, decided),
        span(Stage::Permit, approved, issued),
        span(Stage::Delivery, issued, state.first_delivered_at),
        span(Stage::Overall, state.first_submitted_at, decided),
        span(
            Stage::ToData,
            state.first_submitted_at,
            state.first_delivered_at,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Lead-time figures for one stage in one month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LeadTimeFigure {
    /// The month the stage ended, `YYYY-MM`.
    pub month: String,
    /// The stage.
    pub stage: Stage,
    /// How many cases ended the stage that month.
    pub cases: usize,
    /// Median days.
    pub median_days: f64,
    /// 90th percentile days (nearest rank).
    pub p90_days: i64,
    /// How many of the cases had their decision period extended.
    #[serde(default)]
    pub extended_cases: usize,
}

/// The median of `values` (mean of the two middle values for an even
/// count); `None` when empty.
pub fn median(values: &[i64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        return None;
    }
    let hi = *v.get(n / 2)?;
    if n % 2 == 1 {
        Some(hi as f64)
    } else {
        let lo = *v.get(n / 2 - 1)?;
        Some((lo as f64 + hi as f64) / 2.0)
    }
}

/// The nearest-rank `p`th percentile (0 < p ≤ 100) of `values`: the value
/// at rank ⌈p/100 · n⌉ in ascending order; `None` when empty.
pub fn percentile_nearest_rank(values: &[i64], p: u32) -> Option<i64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        return None;
    }
    let p = p.clamp(1, 100) as usize;
    let rank = (p * n).div_ceil(100).max(1);
    v.get(rank - 1).copied()
}

/// Lead-time figures per month and stage, from durations, ordered by
/// month then stage.
pub fn lead_time_figures(durations: &[StageDuration]) -> Vec<LeadTimeFigure> {
    // (year, month) and stage → (durations in days, extended cases)
    type Group = ((i32, u32), Stage);
    let mut groups: BTreeMap<Group, (Vec<i64>, usize)> = BTreeMap::new();
    for d in durations {
        let g = groups
            .entry(((d.ended_on.year(), d.ended_on.month()), d.stage))
            .or_default();
        g.0.push(d.days);
        g.1 += usize::from(d.extended);
    }
    groups
        .into_iter()
        .filter_map(|(((y, m), stage), (days, extended))| {
            Some(LeadTimeFigure {
                month: format!("{y:04}-{m:02}"),
                stage,
                cases: days.len(),
                median_days: median(&days)?,
                p90_days: percentile_nearest_rank(&days, 90)?,
                extended_cases: extended,
            })
        })
        .collect()
}

/// Lead-time figures per month and stage over the cases whose decision
/// is published: figures describe only what the public register shows.
pub fn lead_times<'a>(cases: impl IntoIterator<Item = &'a CaseState>) -> Vec<LeadTimeFigure> {
    let durations: Vec<StageDuration> = cases
        .into_iter()
        .filter(|s| s.published_at.is_some())
        .flat_map(stage_durations)
        .collect();
    lead_time_figures(&durations)
}

/// The public queue: "now handling applications completed on date D".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueFigure {
    /// The completion date of the oldest complete application still
    /// waiting for a decision (under review or waiting for the applicant).
    pub now_handling_completed_on: Option<NaiveDate>,
    /// The submission date of the oldest application waiting for (or in)
    /// its completeness check.
    pub now_checking_submitted_on: Option<NaiveDate>,
    /// Applications submitted or in completeness check.
    pub awaiting_completeness_check: usize,
    /// Applications under review (hub's turn).
    pub under_review: usize,
    /// Applications where the hub waits for the applicant.
    pub waiting_for_applicant: usize,
    /// Decided applications not yet published.
    pub awaiting_publication: usize,
}

/// The current public queue over `cases`.
pub fn current_queue<'a>(cases: impl IntoIterator<Item = &'a CaseState>) -> QueueFigure {
    let mut q = QueueFigure {
        now_handling_completed_on: None,
        now_checking_submitted_on: None,
        awaiting_completeness_check: 0,
        under_review: 0,
        waiting_for_applicant: 0,
        awaiting_publication: 0,
    };
    let min = |cur: Option<NaiveDate>, new: Option<NaiveDate>| match (cur, new) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    for s in cases {
        match s.status {
            CaseStatus::Submitted | CaseStatus::CompletenessCheck => {
                q.awaiting_completeness_check += 1;
                q.now_checking_submitted_on = min(
                    q.now_checking_submitted_on,
                    s.last_submitted_at.map(swedish_date),
                );
            }
            CaseStatus::UnderReview | CaseStatus::WaitingForApplicant if s.decision.is_none() => {
                if s.status == CaseStatus::UnderReview {
                    q.under_review += 1;
                } else {
                    q.waiting_for_applicant += 1;
                }
                q.now_handling_completed_on = min(
                    q.now_handling_completed_on,
                    s.completed_at.map(swedish_date),
                );
            }
            _ => {}
        }
        if s.decision.is_some() && s.published_at.is_none() && s.status != CaseStatus::Withdrawn {
            q.awaiting_publication += 1;
        }
    }
    q
}
