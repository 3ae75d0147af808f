//! Applications as event-sourced cases: [`Command`] → [`decide_with`] →
//! [`CaseEvent`]s → [`CaseState::apply`].
//!
//! # States and transitions
//!
//! | command (role) | from | to |
//! |---|---|---|
//! | `create` (applicant of the organisation) | — | draft |
//! | `update_draft` (applicant) | draft, incomplete | same |
//! | `submit` (applicant) | draft, incomplete | submitted |
//! | `start_completeness_check` (case officer) | submitted | completeness_check |
//! | `return_incomplete` (case officer, with the list of what is missing) | completeness_check | incomplete (applicant clock starts) |
//! | `accept_complete` (case officer) | completeness_check | under_review (decision clock starts) |
//! | `request_information` (case officer, legal reviewer, data steward) | under_review, amendment_under_review | waiting_for_applicant (clock stops) |
//! | `provide_information` (applicant) | waiting_for_applicant | the state before (clock restarts) |
//! | `record_legal_review` (legal reviewer, findings) | under_review, amendment_under_review | same |
//! | `record_technical_review` (data steward, findings) | under_review, amendment_under_review | same |
//! | `approve` / `reject` (decision maker, reasons; both reviews required) | under_review | approved / rejected |
//! | `approve` / `reject` on an amendment | amendment_under_review | the state before, permit amended or unchanged |
//! | `issue_permit` (case officer) | approved | permit_issued |
//! | `record_delivery` (data steward; permit must be active) | permit_issued, data_delivered | data_delivered |
//! | `request_amendment` (applicant; members, period, variables, validity) | permit_issued, data_delivered | amendment_under_review (new review round) |
//! | `revoke_permit` (decision maker, reason) | permit_issued, data_delivered, amendment_under_review | revoked |
//! | `publish` (case officer) | any state after a decision (also closed or revoked), once | same |
//! | `close` (case officer, reason) | rejected, permit_issued, data_delivered; incomplete once the applicant's deadline has passed | closed |
//! | `submit` after the applicant's completion deadline (applicant) | incomplete | closed (as incomplete, with the deadline as reason) |
//! | `extend_completion` (case officer, new last day, reasons) | incomplete | same (applicant's deadline moves) |
//! | `extend_decision_period` (case officer or decision maker, months, reasons; at most 3 months in total, EHDS Art. 68) | under_review, waiting_for_applicant, amendment_under_review | same (decision deadline moves) |
//! | `assign` (case staff: themselves; case officers: anyone) | any submitted, not final | same |
//! | `withdraw` (applicant, reason) | any state before a decision | withdrawn |
//!
//! Closed, withdrawn and revoked are final (only `publish` still applies).
//! Anything else is refused with
//! [`AccessError::IllegalTransition`] and a reason.

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::application::{
    Amendment, ApplicationContent, Attachment, AttachmentPolicy, RequestedForm,
};
use crate::calendar::swedish_date;
use crate::clock::{ClockConfig, Pause, completion_deadline, decision_deadline};
use crate::error::{AccessError, FieldIssue};
use crate::ids::{CaseId, OrgId, PermitId, UserId};
use crate::permit::{Permit, PermitTerms, Pseudonymisation, Revocation};
use crate::policy::{CaseParties, Target, authorize};
use crate::role::{Action, Principal, Role};
use crate::status::{CaseStatus, InvitationStatus};
use crate::text::{MAX_TEXT_CHARS, check_line, check_required_text};

/// A reviewer's overall recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recommendation {
    /// No obstacles found.
    Approve,
    /// Approvable if the stated conditions are attached.
    ApproveWithConditions,
    /// Should be rejected.
    Reject,
}

/// An invitation of a hub user from outside the applying organisation to
/// join an application (and so be named in its permit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invitation {
    /// The invited user.
    pub user: UserId,
    /// Who invited them (the applicant or a case officer).
    pub invited_by: UserId,
    /// When invited (the latest invitation, if sent again).
    pub invited_at: DateTime<Utc>,
    /// Where it stands.
    pub status: InvitationStatus,
    /// When answered (`None` while pending).
    pub answered_at: Option<DateTime<Utc>>,
}

/// A legal pre-review or technical feasibility review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Review {
    /// The reviewer.
    pub by: UserId,
    /// When recorded.
    pub at: DateTime<Utc>,
    /// Findings, one per item (at least one; "No remarks" is a finding).
    pub findings: Vec<String>,
    /// The recommendation.
    pub recommendation: Recommendation,
}

/// Approved or rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Approved.
    Approved,
    /// Rejected.
    Rejected,
}

/// A decision with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    /// Approved or rejected.
    pub outcome: Outcome,
    /// The reasons (public in the register).
    pub reasons: String,
    /// The decision maker.
    pub by: UserId,
    /// When decided.
    pub at: DateTime<Utc>,
}

/// An amendment under review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PendingAmendment {
    /// What is asked for.
    pub amendment: Amendment,
    /// When requested (the amendment's decision clock starts here).
    pub requested_at: DateTime<Utc>,
    /// The state to return to once decided.
    pub resume: CaseStatus,
}

/// A decided amendment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AmendmentRecord {
    /// What was asked for.
    pub amendment: Amendment,
    /// When requested.
    pub requested_at: DateTime<Utc>,
    /// The decision on it.
    pub decision: Decision,
}

/// A command on a case. Deserialises from JSON tagged by `"type"`, e.g.
/// `{"type": "approve", "reasons": "…"}`, so the HTTP layer can pass request
/// bodies straight through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// Create a draft. The platform allocates `case_id` from its sequence.
    Create {
        /// The new case's identifier.
        case_id: CaseId,
        /// The initial content (may be incomplete).
        content: ApplicationContent,
    },
    /// Replace the draft's content (organisation cannot change).
    UpdateDraft {
        /// The new content.
        content: ApplicationContent,
    },
    /// Submit the application (all required fields filled in).
    Submit,
    /// Start the completeness check.
    StartCompletenessCheck,
    /// Return the application as incomplete.
    ReturnIncomplete {
        /// What is missing (at least one item).
        missing: Vec<FieldIssue>,
    },
    /// Accept the application as complete; the decision clock starts.
    AcceptComplete,
    /// Ask the applicant for information; the clock stops.
    RequestInformation {
        /// The questions.
        questions: String,
    },
    /// The applicant's answer; the clock restarts.
    ProvideInformation {
        /// The answer.
        answer: String,
        /// Supplementary attachments (metadata), added to the application.
        #[serde(default)]
        attachments: Vec<Attachment>,
    },
    /// Record the legal pre-review.
    RecordLegalReview {
        /// Findings (at least one).
        findings: Vec<String>,
        /// Recommendation.
        recommendation: Recommendation,
    },
    /// Record the technical feasibility review.
    RecordTechnicalReview {
        /// Findings (at least one).
        findings: Vec<String>,
        /// Recommendation.
        recommendation: Recommendation,
    },
    /// Approve (the application, or a pending amendment).
    Approve {
        /// Reasons (required).
        reasons: String,
    },
    /// Reject (the application, or a pending amendment).
    Reject {
        /// Reasons (required).
        reasons: String,
    },
    /// Issue the permit for an approved application. The platform allocates
    /// `permit_id` from its sequence.
    IssuePermit {
        /// The new permit's identifier.
        permit_id: PermitId,
        /// Its terms.
        terms: PermitTerms,
    },
    /// Record a delivery of data (or statistics) under the active permit.
    RecordDelivery {
        /// What was delivered (dataset versions, snapshot id, ...).
        note: String,
    },
    /// Publish the case's decision (and permit) in the public register.
    Publish,
    /// Close the case.
    Close {
        /// Why.
        reason: String,
    },
    /// Withdraw the application.
    Withdraw {
        /// Why.
        reason: String,
    },
    /// Ask to amend the permit (a new review round).
    RequestAmendment {
        /// The changes.
        amendment: Amendment,
    },
    /// Revoke the permit; access ends at once.
    RevokePermit {
        /// Why (public in the register).
        reason: String,
    },
    /// Give the applicant more time to complete an incomplete application.
    ExtendCompletion {
        /// The new last day (Swedish date), after the current deadline.
        until: NaiveDate,
        /// Why (required).
        reasons: String,
    },
    /// Extend the decision period (EHDS Art. 68: by at most three months
    /// in total, with reasons given to the applicant).
    ExtendDecisionPeriod {
        /// Months to add (1 up to what is left of the maximum).
        months: u32,
        /// Why (required).
        reasons: String,
    },
    /// Assign the case to a staff member, or leave it unassigned (`null`).
    Assign {
        /// The staff member, or `None` to unassign.
        assignee: Option<UserId>,
    },
    /// Invite a hub user from outside the applying organisation to join
    /// the application (the applicant or a case officer). Once they accept,
    /// they may be named as a member and in the permit.
    InviteMember {
        /// The user invited.
        user: UserId,
    },
    /// The invited user's answer to their pending invitation (only they
    /// may give it).
    AnswerInvitation {
        /// `true` to accept, `false` to decline.
        accept: bool,
    },
}

impl Command {
    /// The [`Action`] this command needs permission for.
    pub fn action(&self) -> Action {
        match self {
            Command::Create { .. } => Action::CreateApplication,
            Command::UpdateDraft { .. } => Action::UpdateDraft,
            Command::Submit => Action::Submit,
            Command::StartCompletenessCheck => Action::StartCompletenessCheck,
            Command::ReturnIncomplete { .. } => Action::ReturnIncomplete,
            Command::AcceptComplete => Action::AcceptComplete,
            Command::RequestInformation { .. } => Action::RequestInformation,
            Command::ProvideInformation { .. } => Action::ProvideInformation,
            Command::RecordLegalReview { .. } => Action::RecordLegalReview,
            Command::RecordTechnicalReview { .. } => Action::RecordTechnicalReview,
            Command::Approve { .. } => Action::Approve,
            Command::Reject { .. } => Action::Reject,
            Command::IssuePermit { .. } => Action::IssuePermit,
            Command::RecordDelivery { .. } => Action::RecordDelivery,
            Command::Publish => Action::Publish,
            Command::Close { .. } => Action::Close,
            Command::Withdraw { .. } => Action::Withdraw,
            Command::RequestAmendment { .. } => Action::RequestAmendment,
            Command::RevokePermit { .. } => Action::RevokePermit,
            Command::ExtendCompletion { .. } => Action::ExtendCompletion,
            Command::ExtendDecisionPeriod { .. } => Action::ExtendDecisionPeriod,
            Command::Assign { .. } => Action::Assign,
            Command::InviteMember { .. } => Action::InviteMember,
            Command::AnswerInvitation { .. } => Action::AnswerInvitation,
        }
    }
}

/// What happened. Each variant carries the "what" and, where there is one,
/// the "why" (see [`CaseEvent::why`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// A draft was created.
    Created {
        /// The case.
        case_id: CaseId,
        /// Initial content.
        content: ApplicationContent,
    },
    /// The draft's content was replaced.
    DraftUpdated {
        /// New content.
        content: ApplicationContent,
    },
    /// Submitted (or resubmitted after being incomplete).
    Submitted,
    /// Completeness check started.
    CompletenessCheckStarted,
    /// Returned as incomplete.
    ReturnedIncomplete {
        /// What is missing.
        missing: Vec<FieldIssue>,
    },
    /// Accepted as complete.
    AcceptedComplete,
    /// Information requested from the applicant.
    InformationRequested {
        /// The questions.
        questions: String,
    },
    /// The applicant answered.
    InformationProvided {
        /// The answer.
        answer: String,
        /// Attachments added.
        attachments: Vec<Attachment>,
    },
    /// Legal pre-review recorded.
    LegalReviewRecorded {
        /// Findings.
        findings: Vec<String>,
        /// Recommendation.
        recommendation: Recommendation,
    },
    /// Technical review recorded.
    TechnicalReviewRecorded {
        /// Findings.
        findings: Vec<String>,
        /// Recommendation.
        recommendation: Recommendation,
    },
    /// The application was decided.
    Decided {
        /// Approved or rejected.
        outcome: Outcome,
        /// Reasons.
        reasons: String,
    },
    /// A permit was issued.
    PermitIssued {
        /// The permit as issued.
        permit: Permit,
    },
    /// Data was delivered.
    DataDelivered {
        /// What.
        note: String,
    },
    /// Published in the public register.
    Published,
    /// Closed.
    Closed {
        /// Why.
        reason: String,
    },
    /// Withdrawn.
    Withdrawn {
        /// Why.
        reason: String,
    },
    /// An amendment was requested.
    AmendmentRequested {
        /// The changes.
        amendment: Amendment,
    },
    /// An amendment was decided; when approved, `permit` is the amended
    /// permit now in force.
    AmendmentDecided {
        /// Approved or rejected.
        outcome: Outcome,
        /// Reasons.
        reasons: String,
        /// The amended permit (approved only).
        permit: Option<Permit>,
    },
    /// The permit was revoked.
    PermitRevoked {
        /// Why.
        reason: String,
    },
    /// Closed as incomplete: the applicant's completion deadline passed.
    ClosedIncomplete {
        /// The deadline that passed.
        deadline: NaiveDate,
        /// The reason, as shown to the applicant.
        reason: String,
    },
    /// The applicant was given more time to complete the application.
    CompletionExtended {
        /// The new last day.
        until: NaiveDate,
        /// Why.
        reasons: String,
    },
    /// The decision period was extended.
    DecisionPeriodExtended {
        /// Months added by this extension.
        months: u32,
        /// The new deadline (as computed when extended).
        deadline: NaiveDate,
        /// Why.
        reasons: String,
    },
    /// The case was assigned (or unassigned).
    Assigned {
        /// The staff member, or `None`.
        assignee: Option<UserId>,
    },
    /// A user from outside the applying organisation was invited to join
    /// the application.
    MemberInvited {
        /// The user invited.
        user: UserId,
    },
    /// The invited user (the event's actor) answered their invitation.
    InvitationAnswered {
        /// Accepted (`true`) or declined (`false`).
        accepted: bool,
    },
}

impl Change {
    /// The change's wire name (`created`, `decided`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Change::Created { .. } => "created",
            Change::DraftUpdated { .. } => "draft_updated",
            Change::Submitted => "submitted",
            Change::CompletenessCheckStarted => "completeness_check_started",
            Change::ReturnedIncomplete { .. } => "returned_incomplete",
            Change::AcceptedComplete => "accepted_complete",
            Change::InformationRequested { .. } => "information_requested",
            Change::InformationProvided { .. } => "information_provided",
            Change::LegalReviewRecorded { .. } => "legal_review_recorded",
            Change::TechnicalReviewRecorded { .. } => "technical_review_recorded",
            Change::Decided { .. } => "decided",
            Change::PermitIssued { .. } => "permit_issued",
            Change::DataDelivered { .. } => "data_delivered",
            Change::Published => "published",
            Change::Closed { .. } => "closed",
            Change::Withdrawn { .. } => "withdrawn",
            Change::AmendmentRequested { .. } => "amendment_requested",
            Change::AmendmentDecided { .. } => "amendment_decided",
            Change::PermitRevoked { .. } => "permit_revoked",
            Change::ClosedIncomplete { .. } => "closed_incomplete",
            Change::CompletionExtended { .. } => "completion_extended",
            Change::DecisionPeriodExtended { .. } => "decision_period_extended",
            Change::Assigned { .. } => "assigned",
            Change::MemberInvited { .. } => "member_invited",
            Change::InvitationAnswered { .. } => "invitation_answered",
        }
    }
}

/// One event in a case's history: who, in which role, when, what (and why).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseEvent {
    /// When it happened (the `now` given to [`decide_with`]).
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor: UserId,
    /// The role they acted in.
    pub role: Role,
    /// What happened.
    pub change: Change,
}

impl CaseEvent {
    /// The reason or explanation the event carries, if any: decision
    /// reasons, review findings, missing items, questions, answers,
    /// withdrawal/closing/revocation reasons, the amendment's reason.
    pub fn why(&self) -> Option<String> {
        match &self.change {
            Change::ReturnedIncomplete { missing } => Some(
                missing
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            Change::InformationRequested { questions } => Some(questions.clone()),
            Change::InformationProvided { answer, .. } => Some(answer.clone()),
            Change::LegalReviewRecorded { findings, .. }
            | Change::TechnicalReviewRecorded { findings, .. } => Some(findings.join("; ")),
            Change::Decided { reasons, .. } | Change::AmendmentDecided { reasons, .. } => {
                Some(reasons.clone())
            }
            Change::DataDelivered { note } => Some(note.clone()),
            Change::Closed { reason }
            | Change::Withdrawn { reason }
            | Change::PermitRevoked { reason } => Some(reason.clone()),
            Change::AmendmentRequested { amendment } => Some(amendment.reason.clone()),
            Change::ClosedIncomplete { reason, .. } => Some(reason.clone()),
            Change::CompletionExtended { reasons, .. }
            | Change::DecisionPeriodExtended { reasons, .. } => Some(reasons.clone()),
            _ => None,
        }
    }
}

/// A case's current state: a fold of its events ([`CaseState::apply`]).
/// `CaseState::default()` is the state before any event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseState {
    /// The case id (`None` before `created`).
    pub id: Option<CaseId>,
    /// Number of events applied — the store's optimistic-concurrency
    /// version: append the events [`decide_with`] returns only if the stored
    /// stream still has exactly this many events.
    pub version: u64,
    /// Where the case stands.
    pub status: CaseStatus,
    /// The application content (`None` before `created`).
    pub content: Option<ApplicationContent>,
    /// The applicant who created it.
    pub created_by: Option<UserId>,
    /// When created.
    pub created_at: Option<DateTime<Utc>>,
    /// First submission.
    pub first_submitted_at: Option<DateTime<Utc>>,
    /// Latest submission.
    pub last_submitted_at: Option<DateTime<Utc>>,
    /// When last returned as incomplete (the applicant's clock start).
    pub returned_at: Option<DateTime<Utc>>,
    /// What was missing when last returned as incomplete.
    pub missing: Vec<FieldIssue>,
    /// When accepted as complete (the decision clock's start).
    pub completed_at: Option<DateTime<Utc>>,
    /// Stop-the-clock periods, in order; the last may be open.
    pub pauses: Vec<Pause>,
    /// The state to return to when the applicant answers.
    pub resume_status: Option<CaseStatus>,
    /// The current round's legal pre-review.
    pub legal_review: Option<Review>,
    /// The current round's technical review.
    pub technical_review: Option<Review>,
    /// The decision on the application.
    pub decision: Option<Decision>,
    /// The permit, once issued (amended in place, revoked in place).
    pub permit: Option<Permit>,
    /// First delivery.
    pub first_delivered_at: Option<DateTime<Utc>>,
    /// Latest delivery.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When published in the public register.
    pub published_at: Option<DateTime<Utc>>,
    /// An amendment under review.
    pub pending_amendment: Option<PendingAmendment>,
    /// Decided amendments.
    pub amendments: Vec<AmendmentRecord>,
    /// When the case reached a final state.
    pub ended_at: Option<DateTime<Utc>>,
    /// When the latest event happened; a command dated earlier is refused.
    pub last_event_at: Option<DateTime<Utc>>,
    /// The last day a case officer granted the applicant to complete the
    /// application (later than the statutory deadline), this round.
    #[serde(default)]
    pub completion_extended_until: Option<NaiveDate>,
    /// Months the running decision clock was extended by.
    #[serde(default)]
    pub decision_extended_months: u32,
    /// The staff member the case is assigned to.
    #[serde(default)]
    pub assignee: Option<UserId>,
    /// Every legal review of the current round, one per reviewer (a
    /// reviewer's new review replaces their own earlier one).
    #[serde(default)]
    pub legal_reviews: Vec<Review>,
    /// Every technical review of the current round, one per reviewer.
    #[serde(default)]
    pub technical_reviews: Vec<Review>,
    /// Who asked the open (or last) request for information: the answer
    /// goes to them.
    #[serde(default)]
    pub information_requested_by: Option<UserId>,
    /// Invitations of users from outside the applying organisation, one
    /// per user (the latest), in the order first invited.
    #[serde(default)]
    pub invitations: Vec<Invitation>,
}

impl Default for CaseState {
    fn default() -> Self {
        Self {
            id: None,
            version: 0,
            status: CaseStatus::New,
            content: None,
            created_by: None,
            created_at: None,
            first_submitted_at: None,
            last_submitted_at: None,
            returned_at: None,
            missing: Vec::new(),
            completed_at: None,
            pauses: Vec::new(),
            resume_status: None,
            legal_review: None,
            technical_review: None,
            decision: None,
            permit: None,
            first_delivered_at: None,
            delivered_at: None,
            published_at: None,
            pending_amendment: None,
            amendments: Vec::new(),
            ended_at: None,
            last_event_at: None,
            completion_extended_until: None,
            decision_extended_months: 0,
            assignee: None,
            legal_reviews: Vec::new(),
            technical_reviews: Vec::new(),
            information_requested_by: None,
            invitations: Vec::new(),
        }
    }
}

impl CaseState {
    /// The state after `events`, in order.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a CaseEvent>) -> Self {
        let mut s = Self::default();
        for e in events {
            s.apply(e);
        }
        s
    }

    /// Applies one event. Never fails: events are facts already decided;
    /// `version` counts every event applied.
    pub fn apply(&mut self, e: &CaseEvent) {
        self.version += 1;
        let at = e.at;
        self.last_event_at = Some(self.last_event_at.map_or(at, |l| l.max(at)));
        match &e.change {
            Change::Created { case_id, content } => {
                self.id = Some(*case_id);
                self.content = Some(content.clone());
                self.created_by = Some(e.actor.clone());
                self.created_at = Some(at);
                self.status = CaseStatus::Draft;
            }
            Change::DraftUpdated { content } => {
                self.content = Some(content.clone());
            }
            Change::Submitted => {
                if self.first_submitted_at.is_none() {
                    self.first_submitted_at = Some(at);
                }
                self.last_submitted_at = Some(at);
                self.status = CaseStatus::Submitted;
            }
            Change::CompletenessCheckStarted => self.status = CaseStatus::CompletenessCheck,
            Change::ReturnedIncomplete { missing } => {
                self.missing = missing.clone();
                self.returned_at = Some(at);
                self.completion_extended_until = None;
                self.status = CaseStatus::Incomplete;
            }
            Change::AcceptedComplete => {
                self.completed_at = Some(at);
                self.missing.clear();
                self.status = CaseStatus::UnderReview;
            }
            Change::InformationRequested { .. } => {
                self.pauses.push(Pause {
                    from: at,
                    until: None,
                });
                self.resume_status = Some(self.status);
                self.information_requested_by = Some(e.actor.clone());
                self.status = CaseStatus::WaitingForApplicant;
            }
            Change::InformationProvided { attachments, .. } => {
                if let Some(p) = self.pauses.last_mut()
                    && p.until.is_none()
                {
                    p.until = Some(at);
                }
                if let Some(c) = self.content.as_mut() {
                    c.attachments.extend(attachments.iter().cloned());
                }
                self.status = self.resume_status.take().unwrap_or(CaseStatus::UnderReview);
            }
            Change::LegalReviewRecorded {
                findings,
                recommendation,
            } => {
                let review = Review {
                    by: e.actor.clone(),
                    at,
                    findings: findings.clone(),
                    recommendation: *recommendation,
                };
                keep_per_reviewer(&mut self.legal_reviews, &review);
                self.legal_review = Some(review);
            }
            Change::TechnicalReviewRecorded {
                findings,
                recommendation,
            } => {
                let review = Review {
                    by: e.actor.clone(),
                    at,
                    findings: findings.clone(),
                    recommendation: *recommendation,
                };
                keep_per_reviewer(&mut self.technical_reviews, &review);
                self.technical_review = Some(review);
            }
            Change::Decided { outcome, reasons } => {
                self.decision = Some(Decision {
                    outcome: *outcome,
                    reasons: reasons.clone(),
                    by: e.actor.clone(),
                    at,
                });
                self.status = match outcome {
                    Outcome::Approved => CaseStatus::Approved,
                    Outcome::Rejected => CaseStatus::Rejected,
                };
            }
            Change::PermitIssued { permit } => {
                self.permit = Some(permit.clone());
                self.status = CaseStatus::PermitIssued;
            }
            Change::DataDelivered { .. } => {
                self.first_delivered_at.get_or_insert(at);
                self.delivered_at = Some(at);
                self.status = CaseStatus::DataDelivered;
            }
            Change::Published => self.published_at = Some(at),
            Change::Closed { .. } => {
                self.status = CaseStatus::Closed;
                self.ended_at = Some(at);
            }
            Change::Withdrawn { .. } => {
                self.status = CaseStatus::Withdrawn;
                self.ended_at = Some(at);
            }
            Change::AmendmentRequested { amendment } => {
                self.pending_amendment = Some(PendingAmendment {
                    amendment: amendment.clone(),
                    requested_at: at,
                    resume: self.status,
                });
                self.legal_review = None;
                self.technical_review = None;
                self.legal_reviews.clear();
                self.technical_reviews.clear();
                self.decision_extended_months = 0;
                self.status = CaseStatus::AmendmentUnderReview;
            }
            Change::AmendmentDecided {
                outcome,
                reasons,
                permit,
            } => {
                if let Some(p) = self.pending_amendment.take() {
                    if *outcome == Outcome::Approved
                        && let Some(c) = self.content.as_mut()
                    {
                        p.amendment.apply_to(c);
                    }
                    self.status = p.resume;
                    self.amendments.push(AmendmentRecord {
                        amendment: p.amendment,
                        requested_at: p.requested_at,
                        decision: Decision {
                            outcome: *outcome,
                            reasons: reasons.clone(),
                            by: e.actor.clone(),
                            at,
                        },
                    });
                }
                if let Some(p) = permit {
                    self.permit = Some(p.clone());
                }
            }
            Change::PermitRevoked { reason } => {
                if let Some(p) = self.permit.as_mut() {
                    p.revoked = Some(Revocation {
                        at,
                        reason: reason.clone(),
                    });
                }
                self.pending_amendment = None;
                self.status = CaseStatus::Revoked;
                self.ended_at = Some(at);
            }
            Change::ClosedIncomplete { .. } => {
                self.status = CaseStatus::Closed;
                self.ended_at = Some(at);
            }
            Change::CompletionExtended { until, .. } => {
                self.completion_extended_until = Some(*until);
            }
            Change::DecisionPeriodExtended { months, .. } => {
                self.decision_extended_months =
                    self.decision_extended_months.saturating_add(*months);
            }
            Change::Assigned { assignee } => self.assignee = assignee.clone(),
            Change::MemberInvited { user } => {
                let invitation = Invitation {
                    user: user.clone(),
                    invited_by: e.actor.clone(),
                    invited_at: at,
                    status: InvitationStatus::Pending,
                    answered_at: None,
                };
                match self.invitations.iter_mut().find(|i| i.user == *user) {
                    Some(existing) => *existing = invitation,
                    None => self.invitations.push(invitation),
                }
            }
            Change::InvitationAnswered { accepted } => {
                if let Some(i) = self
                    .invitations
                    .iter_mut()
                    .find(|i| i.user == e.actor && i.status == InvitationStatus::Pending)
                {
                    i.status = if *accepted {
                        InvitationStatus::Accepted
                    } else {
                        InvitationStatus::Declined
                    };
                    i.answered_at = Some(at);
                }
            }
        }
    }

    /// The invitation of `user`, if any.
    pub fn invitation(&self, user: &UserId) -> Option<&Invitation> {
        self.invitations.iter().find(|i| i.user == *user)
    }

    /// The users who accepted an invitation to this application: they may
    /// be named as members and in the permit although they are not users
    /// of the applying organisation.
    pub fn accepted_invitees(&self) -> Vec<UserId> {
        self.invitations
            .iter()
            .filter(|i| i.status == InvitationStatus::Accepted)
            .map(|i| i.user.clone())
            .collect()
    }

    /// The applicant's completion deadline while the case is (or was last)
    /// incomplete, with any extension granted.
    pub fn completion_deadline(&self, cfg: &ClockConfig) -> Option<NaiveDate> {
        self.returned_at
            .map(|r| completion_deadline(cfg, r, self.completion_extended_until))
    }

    /// Whether `principal` may read the case's permit: anyone
    /// [`authorize`] lets read permits of this case, and every authorised
    /// user of the permit (a member reads their own permit whatever roles
    /// they hold).
    pub fn authorize_permit_read(&self, principal: &Principal) -> Result<(), AccessError> {
        if let (Some(user), Some(permit)) = (principal.user_id.as_ref(), self.permit.as_ref())
            && permit.terms.authorised_users.contains(user)
        {
            return Ok(());
        }
        authorize(principal, Action::ViewPermit, Target::Case(self)).map(|_| ())
    }

    /// Whether the case was ever submitted: drafts that never were are
    /// the applicants' own and invisible to staff.
    pub fn was_submitted(&self) -> bool {
        self.first_submitted_at.is_some()
    }

    /// The applying organisation.
    pub fn organisation(&self) -> Option<&OrgId> {
        self.content.as_ref().map(|c| &c.organisation)
    }

    /// The users the application names: its creator and its members.
    pub fn applicants(&self) -> Vec<UserId> {
        let mut v: Vec<UserId> = self.created_by.iter().cloned().collect();
        if let Some(c) = &self.content {
            for m in &c.members {
                if !v.contains(m) {
                    v.push(m.clone());
                }
            }
        }
        v
    }

    /// Whether `user` created the application or is one of its members.
    pub fn involves(&self, user: &UserId) -> bool {
        self.created_by.as_ref() == Some(user)
            || self
                .content
                .as_ref()
                .is_some_and(|c| c.members.contains(user))
    }

    /// Whether both reviews of the current round are recorded, so a
    /// decision can be made.
    pub fn ready_for_decision(&self) -> bool {
        matches!(
            self.status,
            CaseStatus::UnderReview | CaseStatus::AmendmentUnderReview
        ) && self.legal_review.is_some()
            && self.technical_review.is_some()
    }
}

/// Keeps one review per reviewer: a reviewer's new review replaces their
/// own earlier one; another reviewer's is added beside it.
fn keep_per_reviewer(reviews: &mut Vec<Review>, review: &Review) {
    match reviews.iter_mut().find(|r| r.by == review.by) {
        Some(r) => *r = review.clone(),
        None => reviews.push(review.clone()),
    }
}

impl CaseParties for CaseState {
    fn organisation(&self) -> Option<&OrgId> {
        CaseState::organisation(self)
    }

    fn invitation(&self, user: &UserId) -> Option<InvitationStatus> {
        CaseState::invitation(self, user).map(|i| i.status)
    }

    fn submitted(&self) -> bool {
        self.was_submitted()
    }

    fn involves(&self, user: &UserId) -> bool {
        CaseState::involves(self, user)
    }
}

/// Limits and deadlines the domain enforces; `AccessConfig::default()` holds
/// the EHDS defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessConfig {
    /// Statutory clocks.
    pub clocks: ClockConfig,
    /// Attachment limits.
    pub attachments: AttachmentPolicy,
    /// The datasets applications may request, by catalogue name, until the
    /// hub's catalogue exists ([`DEFAULT_DATASETS`] by default). Empty:
    /// any name is accepted.
    pub datasets: Vec<String>,
    /// Longest validity of a permit, in months from its first day
    /// (default 120 = 10 years, the EHDS Art. 68 maximum).
    pub max_permit_months: u32,
}

/// The datasets an application may name by default: the national health
/// registers the hub is modelled on.
pub const DEFAULT_DATASETS: &[&str] = &[
    "patient_register_inpatient",
    "patient_register_outpatient",
    "prescribed_drug_register",
    "cause_of_death_register",
    "cancer_register",
    "medical_birth_register",
    "primary_care",
    "laboratory_results",
];

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            clocks: ClockConfig::default(),
            attachments: AttachmentPolicy::default(),
            datasets: DEFAULT_DATASETS.iter().map(|d| (*d).to_string()).collect(),
            max_permit_months: 120,
        }
    }
}

impl AccessConfig {
    /// What is wrong with `name` as an entry of [`AccessConfig::datasets`]
    /// (the rules of a dataset name in an application: not blank, one line
    /// of at most 200 characters, no control or bidi characters, no
    /// surrounding spaces, nothing shaped like a personal identity number),
    /// or `None` when it is a valid name.
    pub fn dataset_name_problem(name: &str) -> Option<String> {
        if name.trim().is_empty() {
            return Some("a dataset name may not be blank".into());
        }
        if name.trim() != name {
            return Some("a dataset name may not begin or end with spaces".into());
        }
        let mut issues = Vec::new();
        check_line(&mut issues, "dataset", name, 200);
        issues
            .into_iter()
            .next()
            .map(|i| format!("the dataset name {}", i.problem))
    }

    /// Problems with the requested datasets: names not in
    /// [`AccessConfig::datasets`].
    pub fn dataset_issues(&self, content: &ApplicationContent) -> Vec<FieldIssue> {
        if self.datasets.is_empty() {
            return Vec::new();
        }
        content
            .datasets
            .iter()
            .enumerate()
            .filter(|(_, d)| !self.datasets.iter().any(|k| k == d.dataset.trim()))
            .map(|(i, _)| {
                FieldIssue::new(
                    format!("datasets[{i}].dataset"),
                    format!(
                        "is not a dataset of this hub; known datasets: {}",
                        self.datasets.join(", ")
                    ),
                )
            })
            .collect()
    }
}

/// The user id the hub records as the actor of what it does by itself
/// when a deadline passes ([`overdue_events`]); never a person's id
/// (account ids are UUIDs), and named in the case history as such.
pub const HUB_ACTOR: &str = "halsohub:deadline-sweep";

/// The closing of an application whose completion deadline passed, with
/// the deadline in the reason (the same event whether the applicant's late
/// submission or the deadline sweep finds it).
fn closed_incomplete(deadline: NaiveDate) -> Change {
    Change::ClosedIncomplete {
        deadline,
        reason: format!(
            "closed as incomplete: the application was not completed by the deadline {deadline} and no more time was granted"
        ),
    }
}

/// What the passing of time does to the case at `now`, by the rules, with
/// nobody acting: an application returned as incomplete whose completion
/// deadline (with any extension granted) has passed is closed as
/// incomplete (`closed_incomplete`, the deadline in the reason), recorded
/// as done by [`HUB_ACTOR`] in the case officer's role. Empty when nothing
/// is due — in particular once the case is closed, so applying the result
/// and asking again gives nothing (the sweep is idempotent). Pure.
pub fn overdue_events(
    config: &AccessConfig,
    state: &CaseState,
    now: DateTime<Utc>,
) -> Vec<CaseEvent> {
    if state.status != CaseStatus::Incomplete || state.last_event_at.is_some_and(|last| now < last)
    {
        return Vec::new();
    }
    let Some(deadline) = state.completion_deadline(&config.clocks) else {
        return Vec::new();
    };
    if swedish_date(now) <= deadline {
        return Vec::new();
    }
    let Ok(actor) = UserId::new(HUB_ACTOR) else {
        return Vec::new();
    };
    vec![CaseEvent {
        at: now,
        actor,
        role: Role::CaseOfficer,
        change: closed_incomplete(deadline),
    }]
}

/// [`decide_with`] under [`AccessConfig::default()`].
pub fn decide(
    state: &CaseState,
    command: &Command,
    principal: &Principal,
    now: DateTime<Utc>,
) -> Result<Vec<CaseEvent>, AccessError> {
    decide_with(&AccessConfig::default(), state, command, principal, now)
}

/// Decides `command` on the case in `state`, by `principal`, at `now`:
/// checks permission ([`authorize`]), the transition and the input, and
/// returns the events to append (in order) — or why not. Pure: nothing is
/// changed; the store appends the events if the stream's version still
/// equals `state.version` and then folds them with [`CaseState::apply`].
pub fn decide_with(
    config: &AccessConfig,
    state: &CaseState,
    command: &Command,
    principal: &Principal,
    now: DateTime<Utc>,
) -> Result<Vec<CaseEvent>, AccessError> {
    let action = command.action();
    let illegal = |reason: &str| AccessError::IllegalTransition {
        action,
        status: state.status,
        reason: reason.to_string(),
    };

    // Existence first, then permission, then transition, then content.
    let role = match command {
        Command::Create { content, .. } => {
            if state.status != CaseStatus::New {
                return Err(illegal("the case already exists"));
            }
            authorize(
                principal,
                action,
                Target::Organisation(&content.organisation),
            )?
        }
        _ => {
            if state.status == CaseStatus::New {
                return Err(AccessError::NoSuchCase);
            }
            authorize(principal, action, Target::Case(state))?
        }
    };
    let (Some(role), Some(actor)) = (role, principal.user_id.clone()) else {
        return Err(AccessError::Forbidden {
            action,
            reason: "you are not logged in".into(),
        });
    };
    // Publishing changes nothing in the case, and the duty to publish a
    // decision survives closing or revocation.
    if state.status.is_final() && !matches!(command, Command::Publish) {
        return Err(illegal("the case is final; nothing can change it any more"));
    }
    if state.last_event_at.is_some_and(|last| now < last) {
        return Err(AccessError::invalid(
            "now",
            "the command is dated before the case's latest event (clock skew?)",
        ));
    }
    let status = state.status;
    let in_states = |allowed: &[CaseStatus], reason: &str| {
        if allowed.contains(&status) {
            Ok(())
        } else {
            Err(illegal(reason))
        }
    };
    let fail_if = |issues: Vec<FieldIssue>| {
        if issues.is_empty() {
            Ok(())
        } else {
            Err(AccessError::Invalid { issues })
        }
    };

    let change = match command {
        Command::Create { case_id, content } => {
            if role != Role::Applicant {
                return Err(AccessError::Forbidden {
                    action,
                    reason: "only applicants of the organisation may create applications".into(),
                });
            }
            fail_if(content.check_draft(&config.attachments))?;
            Change::Created {
                case_id: *case_id,
                content: content.clone(),
            }
        }
        Command::UpdateDraft { content } => {
            in_states(
                &[CaseStatus::Draft, CaseStatus::Incomplete],
                "only a draft or an application returned as incomplete can be edited",
            )?;
            if status == CaseStatus::Incomplete
                && let Some(deadline) = state.completion_deadline(&config.clocks)
                && swedish_date(now) > deadline
            {
                return Err(illegal(&format!(
                    "the completion deadline {deadline} has passed; ask a case officer for more time"
                )));
            }
            if state.organisation() != Some(&content.organisation) {
                return Err(AccessError::invalid(
                    "organisation",
                    "the applying organisation cannot be changed",
                ));
            }
            fail_if(content.check_draft(&config.attachments))?;
            Change::DraftUpdated {
                content: content.clone(),
            }
        }
        Command::Submit => {
            in_states(
                &[CaseStatus::Draft, CaseStatus::Incomplete],
                "only a draft or an application returned as incomplete can be submitted",
            )?;
            match state.completion_deadline(&config.clocks) {
                Some(deadline)
                    if status == CaseStatus::Incomplete && swedish_date(now) > deadline =>
                {
                    closed_incomplete(deadline)
                }
                _ => {
                    if let Some(c) = &state.content {
                        let mut issues = c.check_draft(&config.attachments);
                        issues.extend(c.missing());
                        issues.extend(config.dataset_issues(c));
                        fail_if(issues)?;
                    }
                    Change::Submitted
                }
            }
        }
        Command::StartCompletenessCheck => {
            in_states(
                &[CaseStatus::Submitted],
                "the completeness check starts on a submitted application",
            )?;
            Change::CompletenessCheckStarted
        }
        Command::ReturnIncomplete { missing } => {
            in_states(
                &[CaseStatus::CompletenessCheck],
                "start the completeness check first",
            )?;
            let mut issues = Vec::new();
            if missing.is_empty() {
                issues.push(FieldIssue::new(
                    "missing",
                    "list at least one thing that is missing",
                ));
            }
            for (i, m) in missing.iter().enumerate() {
                check_required_text(&mut issues, &format!("missing[{i}].field"), &m.field, 200);
                check_required_text(
                    &mut issues,
                    &format!("missing[{i}].problem"),
                    &m.problem,
                    MAX_TEXT_CHARS,
                );
            }
            fail_if(issues)?;
            Change::ReturnedIncomplete {
                missing: missing.clone(),
            }
        }
        Command::AcceptComplete => {
            in_states(
                &[CaseStatus::CompletenessCheck],
                "start the completeness check first",
            )?;
            Change::AcceptedComplete
        }
        Command::RequestInformation { questions } => {
            in_states(
                &[CaseStatus::UnderReview, CaseStatus::AmendmentUnderReview],
                "information can be requested only during review (use return_incomplete during the completeness check)",
            )?;
            let mut issues = Vec::new();
            check_required_text(&mut issues, "questions", questions, MAX_TEXT_CHARS);
            fail_if(issues)?;
            Change::InformationRequested {
                questions: questions.clone(),
            }
        }
        Command::ProvideInformation {
            answer,
            attachments,
        } => {
            in_states(
                &[CaseStatus::WaitingForApplicant],
                "no information has been requested",
            )?;
            let mut issues = Vec::new();
            check_required_text(&mut issues, "answer", answer, MAX_TEXT_CHARS);
            let existing = state.content.as_ref().map_or(0, |c| c.attachments.len());
            if existing + attachments.len() > config.attachments.max_count {
                issues.push(FieldIssue::new(
                    "attachments",
                    format!(
                        "the application would have more than {} attachments",
                        config.attachments.max_count
                    ),
                ));
            }
            for (i, a) in attachments.iter().enumerate() {
                issues.extend(config.attachments.check(&format!("attachments[{i}]"), a));
            }
            fail_if(issues)?;
            Change::InformationProvided {
                answer: answer.clone(),
                attachments: attachments.clone(),
            }
        }
        Command::RecordLegalReview {
            findings,
            recommendation,
        }
        | Command::RecordTechnicalReview {
            findings,
            recommendation,
        } => {
            in_states(
                &[CaseStatus::UnderReview, CaseStatus::AmendmentUnderReview],
                "reviews are recorded while the application (or an amendment) is under review",
            )?;
            fail_if(check_findings(findings))?;
            if matches!(command, Command::RecordLegalReview { .. }) {
                Change::LegalReviewRecorded {
                    findings: findings.clone(),
                    recommendation: *recommendation,
                }
            } else {
                Change::TechnicalReviewRecorded {
                    findings: findings.clone(),
                    recommendation: *recommendation,
                }
            }
        }
        Command::Approve { reasons } | Command::Reject { reasons } => {
            in_states(
                &[CaseStatus::UnderReview, CaseStatus::AmendmentUnderReview],
                "only an application or amendment under review can be decided",
            )?;
            let mut missing_reviews = Vec::new();
            if state.legal_review.is_none() {
                missing_reviews.push("the legal pre-review");
            }
            if state.technical_review.is_none() {
                missing_reviews.push("the technical review");
            }
            if !missing_reviews.is_empty() {
                return Err(illegal(&format!(
                    "{} must be recorded before a decision",
                    missing_reviews.join(" and ")
                )));
            }
            let mut issues = Vec::new();
            check_required_text(&mut issues, "reasons", reasons, MAX_TEXT_CHARS);
            fail_if(issues)?;
            let outcome = if matches!(command, Command::Approve { .. }) {
                Outcome::Approved
            } else {
                Outcome::Rejected
            };
            if status == CaseStatus::AmendmentUnderReview {
                let permit = match (outcome, &state.pending_amendment, &state.permit) {
                    (Outcome::Approved, Some(p), Some(permit)) => {
                        Some(p.amendment.apply_to_permit(permit))
                    }
                    _ => None,
                };
                Change::AmendmentDecided {
                    outcome,
                    reasons: reasons.clone(),
                    permit,
                }
            } else {
                Change::Decided {
                    outcome,
                    reasons: reasons.clone(),
                }
            }
        }
        Command::IssuePermit { permit_id, terms } => {
            in_states(
                &[CaseStatus::Approved],
                "a permit is issued only for an approved application",
            )?;
            let Some(content) = &state.content else {
                return Err(AccessError::NoSuchCase);
            };
            let Some(case_id) = state.id else {
                return Err(AccessError::NoSuchCase);
            };
            let mut issues = terms.check(&state.applicants());
            issues.extend(validity_issues(
                config,
                state.decision.as_ref().map(|d| swedish_date(d.at)),
                terms.valid_from,
                terms.valid_until,
            ));
            if content.form == Some(RequestedForm::AnonymisedStatistics)
                && terms.pseudonymisation != Pseudonymisation::Anonymised
            {
                issues.push(FieldIssue::new(
                    "pseudonymisation",
                    "the application asked for anonymised statistics only",
                ));
            }
            fail_if(issues)?;
            Change::PermitIssued {
                permit: Permit {
                    id: *permit_id,
                    case_id,
                    organisation: content.organisation.clone(),
                    project_title: content.title.clone(),
                    terms: terms.clone(),
                    issued_at: now,
                    version: 1,
                    revoked: None,
                },
            }
        }
        Command::RecordDelivery { note } => {
            in_states(
                &[CaseStatus::PermitIssued, CaseStatus::DataDelivered],
                "data is delivered only under an issued permit",
            )?;
            if !state.permit.as_ref().is_some_and(|p| p.is_active(now)) {
                return Err(illegal(
                    "the permit is not in force today (not yet valid, expired or revoked)",
                ));
            }
            let mut issues = Vec::new();
            check_required_text(&mut issues, "note", note, MAX_TEXT_CHARS);
            fail_if(issues)?;
            Change::DataDelivered { note: note.clone() }
        }
        Command::Publish => {
            if state.decision.is_none() {
                return Err(illegal("only decided applications are published"));
            }
            if state.published_at.is_some() {
                return Err(illegal("already published"));
            }
            Change::Published
        }
        Command::Close { reason } => {
            let closable = match status {
                CaseStatus::Rejected | CaseStatus::PermitIssued | CaseStatus::DataDelivered => true,
                CaseStatus::Incomplete => state
                    .completion_deadline(&config.clocks)
                    .is_some_and(|d| swedish_date(now) > d),
                _ => false,
            };
            if !closable {
                return Err(illegal(if status == CaseStatus::Incomplete {
                    "an incomplete application can be closed only after the applicant's deadline has passed"
                } else {
                    "only rejected cases, cases with a permit, or incomplete cases past the applicant's deadline can be closed"
                }));
            }
            let mut issues = Vec::new();
            check_required_text(&mut issues, "reason", reason, MAX_TEXT_CHARS);
            fail_if(issues)?;
            Change::Closed {
                reason: reason.clone(),
            }
        }
        Command::Withdraw { reason } => {
            in_states(
                &[
                    CaseStatus::Draft,
                    CaseStatus::Submitted,
                    CaseStatus::CompletenessCheck,
                    CaseStatus::Incomplete,
                    CaseStatus::UnderReview,
                    CaseStatus::WaitingForApplicant,
                ],
                "an application can be withdrawn only before it is decided",
            )?;
            let mut issues = Vec::new();
            check_required_text(&mut issues, "reason", reason, MAX_TEXT_CHARS);
            fail_if(issues)?;
            Change::Withdrawn {
                reason: reason.clone(),
            }
        }
        Command::RequestAmendment { amendment } => {
            in_states(
                &[CaseStatus::PermitIssued, CaseStatus::DataDelivered],
                "only an issued permit can be amended",
            )?;
            let Some(permit) = &state.permit else {
                return Err(illegal("there is no permit to amend"));
            };
            let mut issues = amendment.check(permit);
            if let Some(until) = amendment.valid_until {
                issues.extend(validity_issues(
                    config,
                    None,
                    permit.terms.valid_from,
                    until,
                ));
            }
            fail_if(issues)?;
            Change::AmendmentRequested {
                amendment: amendment.clone(),
            }
        }
        Command::RevokePermit { reason } => {
            in_states(
                &[
                    CaseStatus::PermitIssued,
                    CaseStatus::DataDelivered,
                    CaseStatus::AmendmentUnderReview,
                ],
                "only an issued permit can be revoked",
            )?;
            let mut issues = Vec::new();
            check_required_text(&mut issues, "reason", reason, MAX_TEXT_CHARS);
            fail_if(issues)?;
            Change::PermitRevoked {
                reason: reason.clone(),
            }
        }
        Command::ExtendCompletion { until, reasons } => {
            in_states(
                &[CaseStatus::Incomplete],
                "more time to complete is granted only on an application returned as incomplete",
            )?;
            let mut issues = Vec::new();
            check_required_text(&mut issues, "reasons", reasons, MAX_TEXT_CHARS);
            let current = state.completion_deadline(&config.clocks);
            if current.is_some_and(|d| *until <= d) {
                issues.push(FieldIssue::new(
                    "until",
                    format!(
                        "must be after the current deadline {}",
                        current.map(|d| d.to_string()).unwrap_or_default()
                    ),
                ));
            } else if *until <= swedish_date(now) {
                issues.push(FieldIssue::new("until", "must be a day after today"));
            }
            fail_if(issues)?;
            Change::CompletionExtended {
                until: *until,
                reasons: reasons.clone(),
            }
        }
        Command::ExtendDecisionPeriod { months, reasons } => {
            let clock_state = if status == CaseStatus::WaitingForApplicant {
                state.resume_status.unwrap_or(CaseStatus::UnderReview)
            } else {
                status
            };
            if !matches!(
                clock_state,
                CaseStatus::UnderReview | CaseStatus::AmendmentUnderReview
            ) {
                return Err(illegal(
                    "the decision period is extended only while an application or amendment is under review",
                ));
            }
            let start = if clock_state == CaseStatus::AmendmentUnderReview {
                state.pending_amendment.as_ref().map(|p| p.requested_at)
            } else {
                state.completed_at
            };
            let Some(start) = start else {
                return Err(illegal("no decision clock is running"));
            };
            let today = swedish_date(now);
            let current = decision_deadline(
                &config.clocks,
                start,
                &state.pauses,
                state.decision_extended_months,
                today,
            );
            if today > current {
                return Err(illegal(&format!(
                    "the decision deadline {current} has passed; a period can only be extended before it ends"
                )));
            }
            let left = config
                .clocks
                .max_decision_extension_months
                .saturating_sub(state.decision_extended_months);
            let mut issues = Vec::new();
            check_required_text(&mut issues, "reasons", reasons, MAX_TEXT_CHARS);
            if *months == 0 || *months > left {
                issues.push(FieldIssue::new(
                    "months",
                    format!(
                        "must be between 1 and {left}: the decision period may be extended by at most {} months in total (EHDS Art. 68), {} used",
                        config.clocks.max_decision_extension_months, state.decision_extended_months
                    ),
                ));
            }
            fail_if(issues)?;
            let deadline = decision_deadline(
                &config.clocks,
                start,
                &state.pauses,
                state.decision_extended_months.saturating_add(*months),
                today,
            );
            Change::DecisionPeriodExtended {
                months: *months,
                deadline,
                reasons: reasons.clone(),
            }
        }
        Command::Assign { assignee } => {
            if !state.was_submitted() {
                return Err(illegal("only submitted applications are assigned"));
            }
            if let Some(a) = assignee {
                if role != Role::CaseOfficer && a != &actor {
                    return Err(AccessError::Forbidden {
                        action,
                        reason: "only case officers assign cases to others; take a case by assigning it to yourself".into(),
                    });
                }
                if state.involves(a) {
                    return Err(AccessError::invalid(
                        "assignee",
                        "conflict of interest: the assignee is the applicant or a member of this application",
                    ));
                }
            } else if role != Role::CaseOfficer && state.assignee.as_ref() != Some(&actor) {
                return Err(AccessError::Forbidden {
                    action,
                    reason: "only case officers unassign others".into(),
                });
            }
            if state.assignee == *assignee {
                return Err(illegal("the case is already assigned so"));
            }
            Change::Assigned {
                assignee: assignee.clone(),
            }
        }
        Command::InviteMember { user } => {
            if state.permit.is_some() {
                return Err(illegal(
                    "the permit is issued; name new members with request_amendment (invite them first, before it is issued)",
                ));
            }
            if state.created_by.as_ref() == Some(user) {
                return Err(AccessError::invalid(
                    "user",
                    "is the applicant, already part of the application",
                ));
            }
            match state.invitation(user).map(|i| i.status) {
                Some(InvitationStatus::Pending) => {
                    return Err(illegal(
                        "this user's invitation is still waiting for an answer",
                    ));
                }
                Some(InvitationStatus::Accepted) => {
                    return Err(illegal("this user has already accepted an invitation"));
                }
                Some(InvitationStatus::Declined) | None => {}
            }
            Change::MemberInvited { user: user.clone() }
        }
        Command::AnswerInvitation { accept } => Change::InvitationAnswered { accepted: *accept },
    };
    tracing::debug!(
        case = ?state.id.map(|c| c.to_string()),
        action = action.as_str(),
        change = change.name(),
        "command accepted"
    );
    Ok(vec![CaseEvent {
        at: now,
        actor,
        role,
        change,
    }])
}

/// Problems with a permit's validity: it may not start before the day of
/// the decision (`decided_on`, when known) and may last at most
/// [`AccessConfig::max_permit_months`] from its first day.
pub fn validity_issues(
    config: &AccessConfig,
    decided_on: Option<NaiveDate>,
    valid_from: NaiveDate,
    valid_until: NaiveDate,
) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    if let Some(d) = decided_on
        && valid_from < d
    {
        issues.push(FieldIssue::new(
            "valid_from",
            format!("is before the decision ({d}); a permit cannot start before it was granted"),
        ));
    }
    let limit = valid_from
        .checked_add_months(Months::new(config.max_permit_months))
        .and_then(|d| d.pred_opt());
    match limit {
        Some(last) if valid_until > last => issues.push(FieldIssue::new(
            "valid_until",
            format!(
                "is after {last}: a permit lasts at most {} months from its first day (EHDS Art. 68: at most 10 years)",
                config.max_permit_months
            ),
        )),
        None => issues.push(FieldIssue::new("valid_from", "is out of range")),
        _ => {}
    }
    issues
}

fn check_findings(findings: &[String]) -> Vec<FieldIssue> {
    let mut issues = Vec::new();
    if findings.is_empty() {
        issues.push(FieldIssue::new(
            "findings",
            "at least one finding is required (\"No remarks\" is a finding)",
        ));
    }
    if findings.len() > 200 {
        issues.push(FieldIssue::new("findings", "more than 200 findings"));
    }
    for (i, f) in findings.iter().enumerate() {
        check_required_text(&mut issues, &format!("findings[{i}]"), f, MAX_TEXT_CHARS);
    }
    issues
}

/// Decides and applies in one step — convenient for tests and replays:
/// returns the new state and the events.
pub fn execute(
    config: &AccessConfig,
    state: &CaseState,
    command: &Command,
    principal: &Principal,
    now: DateTime<Utc>,
) -> Result<(CaseState, Vec<CaseEvent>), AccessError> {
    let events = decide_with(config, state, command, principal, now)?;
    let mut next = state.clone();
    for e in &events {
        next.apply(e);
    }
    Ok((next, events))
}
