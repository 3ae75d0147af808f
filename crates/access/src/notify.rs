//! Which notifications a change or a clock should produce, as pure
//! functions. The platform writes them to its outbox (keyed by
//! [`Notification::key`], so inserting the same notification twice is a
//! no-op) and an e-mail relay sends them.
//!
//! * After appending events, call [`notifications_for_events`] with the
//!   state *before* and the events appended.
//! * Periodically (e.g. daily), call [`deadline_notifications`] for each
//!   open case.
//!
//! Subjects and bodies name the case id and states only — never personal
//! data or free text from the case.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::case::{CaseEvent, CaseState, Change};
use crate::clock::{ClockConfig, ClockKind};
use crate::deadlines::case_clocks;
use crate::ids::{CaseId, UserId};
use crate::role::Role;
use crate::status::CaseStatus;

/// Who should receive a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", content = "value")]
pub enum Recipient {
    /// These users (the applicant and the application's members).
    Users(Vec<UserId>),
    /// Everyone holding this staff role.
    Role(Role),
}

/// Why a notification is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NotificationKind {
    /// The case changed state.
    StatusChanged {
        /// Before.
        from: CaseStatus,
        /// After.
        to: CaseStatus,
    },
    /// Both reviews are in: the case is ready for a decision.
    ReadyForDecision,
    /// A deadline is near.
    DeadlineNear {
        /// Which clock.
        clock: ClockKind,
        /// The deadline.
        deadline: NaiveDate,
        /// Working days left.
        days_left: i64,
    },
    /// A deadline has passed.
    Overdue {
        /// Which clock.
        clock: ClockKind,
        /// The deadline.
        deadline: NaiveDate,
    },
    /// The recipient was invited to join the application (they answer
    /// with `answer_invitation`).
    Invited {
        /// Who invited them.
        by: UserId,
    },
    /// An invited user answered.
    InvitationAnswered {
        /// The invited user.
        user: UserId,
        /// Accepted or declined.
        accepted: bool,
    },
}

/// One notification for the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Idempotency key: the same key means the same notification.
    pub key: String,
    /// The case.
    pub case_id: CaseId,
    /// Recipients.
    pub to: Vec<Recipient>,
    /// Why.
    pub kind: NotificationKind,
    /// A one-line subject (no personal data).
    pub subject: String,
}

/// The staff role that acts next in `status`, if any.
fn next_actor(status: CaseStatus) -> Option<Role> {
    match status {
        CaseStatus::Submitted | CaseStatus::CompletenessCheck | CaseStatus::Approved => {
            Some(Role::CaseOfficer)
        }
        CaseStatus::PermitIssued => Some(Role::DataSteward),
        // The officer's queue changes; access must be withdrawn.
        CaseStatus::Withdrawn => Some(Role::CaseOfficer),
        CaseStatus::Revoked => Some(Role::DataSteward),
        _ => None,
    }
}

/// Whether the applicant should hear about a move into `status`.
fn applicant_cares(status: CaseStatus) -> bool {
    !matches!(
        status,
        CaseStatus::New | CaseStatus::Draft | CaseStatus::CompletenessCheck
    )
}

/// The notifications that appending `events` to the case in `before`
/// should produce: one per state change (to the applicant's users and to
/// the staff role that acts next; a case entering review goes to legal
/// reviewers and data stewards), and one to decision makers when the
/// second review of a round is recorded.
pub fn notifications_for_events(before: &CaseState, events: &[CaseEvent]) -> Vec<Notification> {
    let mut out = Vec::new();
    let mut state = before.clone();
    for e in events {
        let from = state.status;
        let was_ready = state.ready_for_decision();
        state.apply(e);
        let Some(case_id) = state.id else {
            continue;
        };
        let to = state.status;
        if from != to && !matches!(e.change, Change::Created { .. }) {
            let mut recipients = Vec::new();
            if applicant_cares(to) {
                let users: Vec<UserId> = state
                    .applicants()
                    .into_iter()
                    .filter(|u| *u != e.actor)
                    .collect();
                if !users.is_empty() {
                    recipients.push(Recipient::Users(users));
                }
            }
            match to {
                CaseStatus::UnderReview | CaseStatus::AmendmentUnderReview
                    if from != CaseStatus::WaitingForApplicant =>
                {
                    recipients.push(Recipient::Role(Role::LegalReviewer));
                    recipients.push(Recipient::Role(Role::DataSteward));
                }
                // The applicant answered: to whoever asked.
                CaseStatus::UnderReview | CaseStatus::AmendmentUnderReview => {
                    match &state.information_requested_by {
                        Some(asker) => recipients.push(Recipient::Users(vec![asker.clone()])),
                        None => recipients.push(Recipient::Role(Role::CaseOfficer)),
                    }
                }
                s => {
                    if let Some(r) = next_actor(s) {
                        recipients.push(Recipient::Role(r));
                    }
                }
            }
            if !recipients.is_empty() {
                out.push(Notification {
                    key: format!("{case_id}:v{}:status:{}", state.version, to.as_str()),
                    case_id,
                    to: recipients,
                    kind: NotificationKind::StatusChanged { from, to },
                    subject: format!("Case {case_id}: {} → {}", from.as_str(), to.as_str()),
                });
            }
        }
        match &e.change {
            Change::MemberInvited { user } => out.push(Notification {
                key: format!("{case_id}:v{}:invited", state.version),
                case_id,
                to: vec![Recipient::Users(vec![user.clone()])],
                kind: NotificationKind::Invited {
                    by: e.actor.clone(),
                },
                subject: format!(
                    "Case {case_id}: you are invited to join the application; accept or decline it"
                ),
            }),
            Change::InvitationAnswered { accepted } => {
                let mut users: Vec<UserId> = state.applicants();
                if let Some(i) = state.invitation(&e.actor)
                    && !users.contains(&i.invited_by)
                {
                    users.push(i.invited_by.clone());
                }
                users.retain(|u| *u != e.actor);
                if !users.is_empty() {
                    out.push(Notification {
                        key: format!("{case_id}:v{}:invitation_answered", state.version),
                        case_id,
                        to: vec![Recipient::Users(users)],
                        kind: NotificationKind::InvitationAnswered {
                            user: e.actor.clone(),
                            accepted: *accepted,
                        },
                        subject: format!(
                            "Case {case_id}: {} {} the invitation",
                            e.actor,
                            if *accepted { "accepted" } else { "declined" }
                        ),
                    });
                }
            }
            _ => {}
        }
        if !was_ready && state.ready_for_decision() {
            out.push(Notification {
                key: format!("{case_id}:v{}:ready_for_decision", state.version),
                case_id,
                to: vec![Recipient::Role(Role::DecisionMaker)],
                kind: NotificationKind::ReadyForDecision,
                subject: format!("Case {case_id}: reviews recorded, ready for decision"),
            });
        }
    }
    out
}

/// Deadline notifications for the case at `now`: "deadline near" when at
/// most `cfg.warn_working_days` working days are left, "overdue" once past.
/// Keys include the deadline, so each is produced once per deadline; a
/// stopped clock produces none.
pub fn deadline_notifications(
    state: &CaseState,
    cfg: &ClockConfig,
    now: DateTime<Utc>,
) -> Vec<Notification> {
    let Some(case_id) = state.id else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in case_clocks(state, cfg, now) {
        if c.stopped {
            continue;
        }
        let to = match c.kind {
            ClockKind::ApplicantCompletion => vec![
                Recipient::Users(state.applicants()),
                Recipient::Role(Role::CaseOfficer),
            ],
            ClockKind::Decision | ClockKind::AmendmentDecision => vec![
                Recipient::Role(Role::CaseOfficer),
                Recipient::Role(Role::DecisionMaker),
            ],
            ClockKind::Publication | ClockKind::CompletenessCheck => {
                vec![Recipient::Role(Role::CaseOfficer)]
            }
        };
        if c.overdue {
            out.push(Notification {
                key: format!("{case_id}:overdue:{}:{}", c.kind.as_str(), c.deadline),
                case_id,
                to,
                kind: NotificationKind::Overdue {
                    clock: c.kind,
                    deadline: c.deadline,
                },
                subject: format!(
                    "Case {case_id}: {} deadline {} has passed",
                    c.kind.as_str(),
                    c.deadline
                ),
            });
        } else if c.days_left <= i64::from(cfg.warn_working_days) {
            out.push(Notification {
                key: format!("{case_id}:near:{}:{}", c.kind.as_str(), c.deadline),
                case_id,
                to,
                kind: NotificationKind::DeadlineNear {
                    clock: c.kind,
                    deadline: c.deadline,
                    days_left: c.days_left,
                },
                subject: format!(
                    "Case {case_id}: {} deadline {} in {} working days",
                    c.kind.as_str(),
                    c.deadline,
                    c.days_left
                ),
            });
        }
    }
    out
}
