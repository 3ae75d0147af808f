//! Roles, principals and actions: who a caller is and what can be asked.
//! The rules that combine them are in the `policy` module
//! ([`authorize`](crate::authorize)).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{OrgId, UserId};

/// A role a user holds in an organisation.
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
pub enum Role {
    /// Researcher or analyst applying for data on behalf of their organisation.
    Applicant,
    /// Hub staff: completeness check, requests for information, permits,
    /// publication, closing.
    CaseOfficer,
    /// Hub staff: legal pre-review.
    LegalReviewer,
    /// Hub staff: technical feasibility review and data delivery.
    DataSteward,
    /// Hub staff: approves or rejects, revokes permits.
    DecisionMaker,
    /// Checks outputs leaving the secure workspace against the permit.
    OutputChecker,
    /// Reads everything, changes nothing.
    Auditor,
    /// Manages users, organisations and grants; no case work.
    Administrator,
}

impl Role {
    /// Every role, in a fixed order (for tables and tests).
    pub const ALL: [Role; 8] = [
        Role::Applicant,
        Role::CaseOfficer,
        Role::LegalReviewer,
        Role::DataSteward,
        Role::DecisionMaker,
        Role::OutputChecker,
        Role::Auditor,
        Role::Administrator,
    ];

    /// The role's wire name (`case_officer`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Applicant => "applicant",
            Role::CaseOfficer => "case_officer",
            Role::LegalReviewer => "legal_reviewer",
            Role::DataSteward => "data_steward",
            Role::DecisionMaker => "decision_maker",
            Role::OutputChecker => "output_checker",
            Role::Auditor => "auditor",
            Role::Administrator => "administrator",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this is a hub staff role doing case work.
    pub fn is_case_staff(self) -> bool {
        matches!(
            self,
            Role::CaseOfficer | Role::LegalReviewer | Role::DataSteward | Role::DecisionMaker
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is asking: a user and the roles they hold in each organisation.
/// The platform builds it from the session, API token or OIDC claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The user, or `None` for an anonymous (not logged-in) caller.
    pub user_id: Option<UserId>,
    /// Roles per organisation.
    pub roles: BTreeMap<OrgId, BTreeSet<Role>>,
}

impl Principal {
    /// A caller who is not logged in: may read only public figures.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// A logged-in user with no roles yet.
    pub fn user(user_id: UserId) -> Self {
        Self {
            user_id: Some(user_id),
            roles: BTreeMap::new(),
        }
    }

    /// Adds `role` in `org` (builder style).
    pub fn with_role(mut self, org: OrgId, role: Role) -> Self {
        self.roles.entry(org).or_default().insert(role);
        self
    }

    /// Whether the user holds `role` in any organisation.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.values().any(|rs| rs.contains(&role))
    }

    /// Whether the user holds `role` in `org`.
    pub fn has_role_in(&self, org: &OrgId, role: Role) -> bool {
        self.roles.get(org).is_some_and(|rs| rs.contains(&role))
    }
}

/// Everything that can be asked of the access domain: one action per
/// [`Command`](crate::Command) and one per query the platform serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    // --- commands on cases ---
    /// [`Command::Create`](crate::Command::Create)
    CreateApplication,
    /// [`Command::UpdateDraft`](crate::Command::UpdateDraft)
    UpdateDraft,
    /// [`Command::Submit`](crate::Command::Submit)
    Submit,
    /// [`Command::StartCompletenessCheck`](crate::Command::StartCompletenessCheck)
    StartCompletenessCheck,
    /// [`Command::ReturnIncomplete`](crate::Command::ReturnIncomplete)
    ReturnIncomplete,
    /// [`Command::AcceptComplete`](crate::Command::AcceptComplete)
    AcceptComplete,
    /// [`Command::RequestInformation`](crate::Command::RequestInformation)
    RequestInformation,
    /// [`Command::ProvideInformation`](crate::Command::ProvideInformation)
    ProvideInformation,
    /// [`Command::RecordLegalReview`](crate::Command::RecordLegalReview)
    RecordLegalReview,
    /// [`Command::RecordTechnicalReview`](crate::Command::RecordTechnicalReview)
    RecordTechnicalReview,
    /// [`Command::Approve`](crate::Command::Approve)
    Approve,
    /// [`Command::Reject`](crate::Command::Reject)
    Reject,
    /// [`Command::IssuePermit`](crate::Command::IssuePermit)
    IssuePermit,
    /// [`Command::RecordDelivery`](crate::Command::RecordDelivery)
    RecordDelivery,
    /// [`Command::Publish`](crate::Command::Publish)
    Publish,
    /// [`Command::Close`](crate::Command::Close)
    Close,
    /// [`Command::Withdraw`](crate::Command::Withdraw)
    Withdraw,
    /// [`Command::RequestAmendment`](crate::Command::RequestAmendment)
    RequestAmendment,
    /// [`Command::RevokePermit`](crate::Command::RevokePermit)
    RevokePermit,
    /// [`Command::ExtendCompletion`](crate::Command::ExtendCompletion)
    ExtendCompletion,
    /// [`Command::ExtendDecisionPeriod`](crate::Command::ExtendDecisionPeriod)
    ExtendDecisionPeriod,
    /// [`Command::Assign`](crate::Command::Assign)
    Assign,
    /// [`Command::InviteMember`](crate::Command::InviteMember)
    InviteMember,
    /// [`Command::AnswerInvitation`](crate::Command::AnswerInvitation):
    /// no role; only the invited user, while their invitation is pending.
    AnswerInvitation,
    // --- queries ---
    /// Read one case: content, state, clock.
    ViewCase,
    /// Read a case's full event history.
    ViewHistory,
    /// Read a permit (also used by the secure workspace and output checks).
    ViewPermit,
    /// List cases (applicants see their organisations' cases only).
    ListCases,
    /// The staff work queue ordered by deadline.
    ViewWorkQueue,
    /// Read the audit log.
    ViewAuditLog,
    /// Manage users, organisations, grants and other users' tokens.
    ManageUsers,
    /// The public register, lead times and public queue (no login needed).
    ViewPublicRegister,
}

impl Action {
    /// Every action, in a fixed order (for tables and tests).
    pub const ALL: [Action; 32] = [
        Action::CreateApplication,
        Action::UpdateDraft,
        Action::Submit,
        Action::StartCompletenessCheck,
        Action::ReturnIncomplete,
        Action::AcceptComplete,
        Action::RequestInformation,
        Action::ProvideInformation,
        Action::RecordLegalReview,
        Action::RecordTechnicalReview,
        Action::Approve,
        Action::Reject,
        Action::IssuePermit,
        Action::RecordDelivery,
        Action::Publish,
        Action::Close,
        Action::Withdraw,
        Action::RequestAmendment,
        Action::RevokePermit,
        Action::ExtendCompletion,
        Action::ExtendDecisionPeriod,
        Action::Assign,
        Action::InviteMember,
        Action::AnswerInvitation,
        Action::ViewCase,
        Action::ViewHistory,
        Action::ViewPermit,
        Action::ListCases,
        Action::ViewWorkQueue,
        Action::ViewAuditLog,
        Action::ManageUsers,
        Action::ViewPublicRegister,
    ];

    /// The roles that may perform this action at all (before the
    /// organisation and conflict-of-interest checks). Empty for
    /// [`Action::ViewPublicRegister`], which needs none.
    pub fn allowed_roles(self) -> &'static [Role] {
        use Action as A;
        use Role as R;
        match self {
            A::CreateApplication
            | A::UpdateDraft
            | A::Submit
            | A::ProvideInformation
            | A::Withdraw
            | A::RequestAmendment => &[R::Applicant],
            A::StartCompletenessCheck
            | A::ReturnIncomplete
            | A::AcceptComplete
            | A::IssuePermit
            | A::Publish
            | A::Close
            | A::ExtendCompletion => &[R::CaseOfficer],
            A::ExtendDecisionPeriod => &[R::CaseOfficer, R::DecisionMaker],
            A::InviteMember => &[R::Applicant, R::CaseOfficer],
            // The invitation, not a role, decides (see `authorize`).
            A::AnswerInvitation => &[],
            A::Assign => &[
                R::CaseOfficer,
                R::LegalReviewer,
                R::DataSteward,
                R::DecisionMaker,
            ],
            A::RequestInformation => &[R::CaseOfficer, R::LegalReviewer, R::DataSteward],
            A::RecordLegalReview => &[R::LegalReviewer],
            A::RecordTechnicalReview | A::RecordDelivery => &[R::DataSteward],
            A::Approve | A::Reject | A::RevokePermit => &[R::DecisionMaker],
            A::ViewCase | A::ViewHistory | A::ListCases => &[
                R::Applicant,
                R::CaseOfficer,
                R::LegalReviewer,
                R::DataSteward,
                R::DecisionMaker,
                R::Auditor,
            ],
            A::ViewPermit => &[
                R::Applicant,
                R::CaseOfficer,
                R::LegalReviewer,
                R::DataSteward,
                R::DecisionMaker,
                R::OutputChecker,
                R::Auditor,
            ],
            A::ViewWorkQueue => &[
                R::CaseOfficer,
                R::LegalReviewer,
                R::DataSteward,
                R::DecisionMaker,
                R::Auditor,
            ],
            A::ViewAuditLog => &[R::Auditor],
            A::ManageUsers => &[R::Administrator],
            A::ViewPublicRegister => &[],
        }
    }

    /// Whether the action changes a case (as opposed to reading).
    pub fn is_command(self) -> bool {
        !matches!(
            self,
            Action::ViewCase
                | Action::ViewHistory
                | Action::ViewPermit
                | Action::ListCases
                | Action::ViewWorkQueue
                | Action::ViewAuditLog
                | Action::ManageUsers
                | Action::ViewPublicRegister
        )
    }

    /// The action's wire name (`create_application`, ...).
    pub fn as_str(self) -> &'static str {
        use Action as A;
        match self {
            A::CreateApplication => "create_application",
            A::UpdateDraft => "update_draft",
            A::Submit => "submit",
            A::StartCompletenessCheck => "start_completeness_check",
            A::ReturnIncomplete => "return_incomplete",
            A::AcceptComplete => "accept_complete",
            A::RequestInformation => "request_information",
            A::ProvideInformation => "provide_information",
            A::RecordLegalReview => "record_legal_review",
            A::RecordTechnicalReview => "record_technical_review",
            A::Approve => "approve",
            A::Reject => "reject",
            A::IssuePermit => "issue_permit",
            A::RecordDelivery => "record_delivery",
            A::Publish => "publish",
            A::Close => "close",
            A::Withdraw => "withdraw",
            A::RequestAmendment => "request_amendment",
            A::RevokePermit => "revoke_permit",
            A::ExtendCompletion => "extend_completion",
            A::ExtendDecisionPeriod => "extend_decision_period",
            A::Assign => "assign",
            A::InviteMember => "invite_member",
            A::AnswerInvitation => "answer_invitation",
            A::ViewCase => "view_case",
            A::ViewHistory => "view_history",
            A::ViewPermit => "view_permit",
            A::ListCases => "list_cases",
            A::ViewWorkQueue => "view_work_queue",
            A::ViewAuditLog => "view_audit_log",
            A::ManageUsers => "manage_users",
            A::ViewPublicRegister => "view_public_register",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Roles that may run feasibility queries, list the store's snapshots and
/// search codes: applicants (researchers) and the hub's case staff (case
/// officer, legal reviewer, data steward, decision maker). Output
/// checkers, auditors and administrators may not (separation of duties);
/// users without a role may not.
pub const QUERY_ROLES: [Role; 5] = [
    Role::Applicant,
    Role::CaseOfficer,
    Role::LegalReviewer,
    Role::DataSteward,
    Role::DecisionMaker,
];

/// Whether `principal` may use the feasibility service: it holds one of
/// [`QUERY_ROLES`] in any organisation.
pub fn may_query(principal: &Principal) -> bool {
    QUERY_ROLES.iter().any(|r| principal.has_role(*r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applicants_and_case_staff_may_query_others_may_not() {
        let org = || OrgId::new("o").expect("a valid id");
        for role in Role::ALL {
            let p = Principal::anonymous().with_role(org(), role);
            let expected = role == Role::Applicant || role.is_case_staff();
            assert_eq!(may_query(&p), expected, "{role}");
        }
        assert!(!may_query(&Principal::anonymous()));
        let mixed = Principal::anonymous()
            .with_role(org(), Role::Auditor)
            .with_role(org(), Role::DataSteward);
        assert!(
            may_query(&mixed),
            "one query role in any organisation is enough"
        );
    }
}
