//! Statutory clocks (DESIGN.md §10) and the staff queue ordered by deadline.
//!
//! Three clocks, with the EHDS defaults in [`ClockConfig::default`]:
//!
//! * **Applicant completion** — from the day an application is returned as
//!   incomplete, the applicant has 4 weeks (28 calendar days) to complete it.
//! * **Decision** — from the day an application is accepted as complete (or
//!   an amendment requested), 3 calendar months to decide. While the hub
//!   waits for the applicant (`request_information` → `provide_information`)
//!   the clock is stopped: the deadline moves by the number of calendar days
//!   stopped, and those days do not count as used.
//! * **Completeness check** — from the day an application is submitted,
//!   10 working days (configurable) for the hub to check that it is
//!   complete; new submissions are in the staff queue from day one.
//! * **Decision extension** — the decision period may be extended once or
//!   more by at most 3 months in total, with reasons (EHDS, Regulation (EU)
//!   2025/327, Art. 68: three months from a complete application,
//!   extendable by three further months where necessary, the applicant
//!   being told why).
//! * **Publication** — from the day of the decision, 30 working days to
//!   publish it in the public register.
//!
//! Every deadline that falls on a non-working day moves to the next working
//! day (lag (1930:173)). "Days used" and "days left" count Swedish working
//! days ([`crate::calendar`]); a day's date is its Swedish local date.
//!
//! Stop-the-clock periods: an information request on date *a* answered on
//! date *b* stops the clock for the dates after *a* up to and including *b*
//! (*b − a* calendar days).

use chrono::{DateTime, Duration, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{next_working_day_on_or_after, swedish_date, working_days_between};

/// Deadline settings. Defaults are the EHDS ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClockConfig {
    /// Calendar days the applicant has to complete an incomplete
    /// application (default 28 = 4 weeks).
    pub completion_days: u32,
    /// Calendar months from complete application to decision (default 3).
    pub decision_months: u32,
    /// Working days from decision to publication (default 30).
    pub publication_working_days: u32,
    /// A deadline is "near" (notification) when at most this many working
    /// days are left (default 5).
    pub warn_working_days: u32,
    /// Working days from submission to the end of the completeness check
    /// (default 10).
    pub completeness_working_days: u32,
    /// Most months the decision period may be extended by, in total
    /// (default 3, EHDS Art. 68).
    pub max_decision_extension_months: u32,
}

impl Default for ClockConfig {
    fn default() -> Self {
        Self {
            completion_days: 28,
            decision_months: 3,
            publication_working_days: 30,
            warn_working_days: 5,
            completeness_working_days: 10,
            max_decision_extension_months: 3,
        }
    }
}

/// Which clock.
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
pub enum ClockKind {
    /// The hub checking a submitted application for completeness.
    CompletenessCheck,
    /// The applicant completing an incomplete application.
    ApplicantCompletion,
    /// The hub deciding a complete application.
    Decision,
    /// The hub deciding an amendment of a permit.
    AmendmentDecision,
    /// The hub publishing a decision.
    Publication,
}

impl ClockKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::CompletenessCheck => "completeness_check",
            ClockKind::ApplicantCompletion => "applicant_completion",
            ClockKind::Decision => "decision",
            ClockKind::AmendmentDecision => "amendment_decision",
            ClockKind::Publication => "publication",
        }
    }
}

/// A running clock's reading at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClockStatus {
    /// Which clock.
    pub kind: ClockKind,
    /// The day it started (Swedish date).
    pub started_on: NaiveDate,
    /// The last day to act (a working day; moves while stopped).
    pub deadline: NaiveDate,
    /// Working days after the start day up to and including today, not
    /// counting stopped days.
    pub days_used: i64,
    /// Working days after today up to and including the deadline (0 on the
    /// deadline day); negative when overdue (−1 the first working day after).
    pub days_left: i64,
    /// Whether today is past the deadline.
    pub overdue: bool,
    /// Whether the clock is stopped now (waiting for the applicant).
    pub stopped: bool,
    /// Calendar days stopped so far.
    pub stopped_days: i64,
    /// Months the deadline was extended by (decision clocks; 0 otherwise).
    #[serde(default)]
    pub extended_months: u32,
}

/// A stop-the-clock period: the hub waiting for the applicant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pause {
    /// When the information was requested.
    pub from: DateTime<Utc>,
    /// When the applicant answered (`None` while still waiting).
    pub until: Option<DateTime<Utc>>,
}

/// The applicant's deadline for completing an application returned as
/// incomplete at `returned_at`.
pub fn applicant_deadline(cfg: &ClockConfig, returned_at: DateTime<Utc>) -> NaiveDate {
    let start = swedish_date(returned_at);
    next_working_day_on_or_after(add_days(start, i64::from(cfg.completion_days)))
}

fn add_days(d: NaiveDate, n: i64) -> NaiveDate {
    d.checked_add_signed(Duration::days(n)).unwrap_or(d)
}

/// Stopped date ranges `(from, until]` of the pauses that began at or after
/// `since`, an open pause running to `today`.
fn stopped_ranges(
    pauses: &[Pause],
    since: DateTime<Utc>,
    today: NaiveDate,
) -> Vec<(NaiveDate, NaiveDate)> {
    pauses
        .iter()
        .filter(|p| p.from >= since)
        .map(|p| {
            let a = swedish_date(p.from);
            let b = p.until.map_or(today, swedish_date).max(a);
            (a, b)
        })
        .collect()
}

/// Working days in `(start, today]` outside the stopped ranges (which do
/// not overlap: a new request waits for the previous answer).
fn used_working_days(start: NaiveDate, today: NaiveDate, ranges: &[(NaiveDate, NaiveDate)]) -> i64 {
    if today <= start {
        return 0;
    }
    let mut n = working_days_between(start, today);
    for (a, b) in ranges {
        let (lo, hi) = ((*a).max(start), (*b).min(today));
        if lo < hi {
            n -= working_days_between(lo, hi);
        }
    }
    n.max(0)
}

pub(crate) fn reading(
    kind: ClockKind,
    start: NaiveDate,
    deadline: NaiveDate,
    today: NaiveDate,
    ranges: &[(NaiveDate, NaiveDate)],
    stopped: bool,
) -> ClockStatus {
    let stopped_days: i64 = ranges
        .iter()
        .map(|(a, b)| (*b - *a).num_days().max(0))
        .sum();
    ClockStatus {
        kind,
        started_on: start,
        deadline,
        days_used: used_working_days(start, today, ranges),
        days_left: working_days_between(today, deadline),
        overdue: today > deadline,
        stopped,
        stopped_days,
        extended_months: 0,
    }
}

/// The decision deadline for a clock started at `start_at`, extended by
/// `extended_months`, moved by every day stopped up to `today`.
pub fn decision_deadline(
    cfg: &ClockConfig,
    start_at: DateTime<Utc>,
    pauses: &[Pause],
    extended_months: u32,
    today: NaiveDate,
) -> NaiveDate {
    let start = swedish_date(start_at);
    let ranges = stopped_ranges(pauses, start_at, today);
    let stopped_days: i64 = ranges
        .iter()
        .map(|(a, b)| (*b - *a).num_days().max(0))
        .sum();
    let nominal = start
        .checked_add_months(Months::new(
            cfg.decision_months.saturating_add(extended_months),
        ))
        .unwrap_or(start);
    next_working_day_on_or_after(add_days(nominal, stopped_days))
}

/// The applicant's completion deadline: [`applicant_deadline`], or the
/// later day a case officer granted.
pub fn completion_deadline(
    cfg: &ClockConfig,
    returned_at: DateTime<Utc>,
    extended_until: Option<NaiveDate>,
) -> NaiveDate {
    let base = applicant_deadline(cfg, returned_at);
    extended_until.map_or(base, |u| u.max(base))
}

/// The decision clock started at `start_at`, given the case's pauses and
/// the months it was extended by.
pub(crate) fn decision_clock(
    cfg: &ClockConfig,
    kind: ClockKind,
    start_at: DateTime<Utc>,
    pauses: &[Pause],
    extended_months: u32,
    today: NaiveDate,
    stopped: bool,
) -> ClockStatus {
    let start = swedish_date(start_at);
    let ranges = stopped_ranges(pauses, start_at, today);
    let deadline = decision_deadline(cfg, start_at, pauses, extended_months, today);
    let mut r = reading(kind, start, deadline, today, &ranges, stopped);
    r.extended_months = extended_months;
    r
}
