//! Where a case stands: the states of the application workflow (see the
//! transition table in the `case` module).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a case stands.
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
pub enum CaseStatus {
    /// No events yet.
    New,
    /// Being written by the applicant.
    Draft,
    /// Submitted, waiting for the completeness check.
    Submitted,
    /// A case officer is checking completeness.
    CompletenessCheck,
    /// Returned to the applicant with a list of what is missing.
    Incomplete,
    /// Complete; legal pre-review and technical review under way.
    UnderReview,
    /// The hub asked the applicant for information; the clock is stopped.
    WaitingForApplicant,
    /// Approved; permit not yet issued.
    Approved,
    /// Rejected.
    Rejected,
    /// Permit issued.
    PermitIssued,
    /// Data delivered to the secure workspace (or statistics delivered).
    DataDelivered,
    /// An amendment of the permit is under review.
    AmendmentUnderReview,
    /// Closed (final).
    Closed,
    /// Withdrawn by the applicant (final).
    Withdrawn,
    /// Permit revoked (final).
    Revoked,
}

impl CaseStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::New => "new",
            CaseStatus::Draft => "draft",
            CaseStatus::Submitted => "submitted",
            CaseStatus::CompletenessCheck => "completeness_check",
            CaseStatus::Incomplete => "incomplete",
            CaseStatus::UnderReview => "under_review",
            CaseStatus::WaitingForApplicant => "waiting_for_applicant",
            CaseStatus::Approved => "approved",
            CaseStatus::Rejected => "rejected",
            CaseStatus::PermitIssued => "permit_issued",
            CaseStatus::DataDelivered => "data_delivered",
            CaseStatus::AmendmentUnderReview => "amendment_under_review",
            CaseStatus::Closed => "closed",
            CaseStatus::Withdrawn => "withdrawn",
            CaseStatus::Revoked => "revoked",
        }
    }

    /// Whether no command can change the case any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            CaseStatus::Closed | CaseStatus::Withdrawn | CaseStatus::Revoked
        )
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an invitation to join an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// Sent, not yet answered: the user may not be named in a permit yet.
    Pending,
    /// Accepted: the user may be named as a member and in the permit.
    Accepted,
    /// Declined: the user may not be named (a new invitation may be sent).
    Declined,
}
