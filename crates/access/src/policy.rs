//! The permission check used for every command and query.
//!
//! The rules, in one place ([`authorize`]):
//!
//! * **Applicant** roles are held *per organisation*: an applicant may
//!   create applications for, and act on and read the cases of, only the
//!   organisations where they hold the applicant role.
//! * **Staff** roles (case officer, legal reviewer, data steward, decision
//!   maker) are hub-wide: the platform grants them in the hub's own
//!   organisation, and they apply to every case — except that a staff member
//!   may not act on a case they created or are a member of (conflict of
//!   interest); they may still read it.
//! * **Auditor** reads everything (cases, histories, permits, queues, lead
//!   times, the audit log) and changes nothing.
//! * **Output checker** reads permits (to check outputs against them) and
//!   nothing else of the case process.
//! * **Administrator** manages users, organisations and role grants, and
//!   does no case work (separation of duties).
//! * The public register, lead-time figures and public queue need no role:
//!   [`Principal::anonymous`] may read them.

use std::fmt;

use crate::error::AccessError;
use crate::ids::{OrgId, UserId};
use crate::role::{Action, Principal, Role};
use crate::status::InvitationStatus;

/// What [`authorize`] needs to know about a case: who applies for it.
/// [`CaseState`](crate::CaseState) implements it; the policy asks nothing
/// else of a case.
pub trait CaseParties: fmt::Debug {
    /// The applying organisation (`None` before the case exists).
    fn organisation(&self) -> Option<&OrgId>;
    /// Whether `user` created the application or is one of its members.
    fn involves(&self, user: &UserId) -> bool;
    /// Where `user`'s invitation to join the application stands, if they
    /// were invited.
    fn invitation(&self, _user: &UserId) -> Option<InvitationStatus> {
        None
    }
    /// Whether the application was ever submitted: before that it is the
    /// applicants' own draft, invisible to staff and auditors.
    fn submitted(&self) -> bool {
        true
    }
}

/// What an action is aimed at, for [`authorize`].
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// Nothing specific: hub-wide queries (work queue, audit log, user
    /// management, public register) and listing cases (the platform then
    /// filters the list with [`may_see_case`]).
    Hub,
    /// A new application for this organisation ([`Action::CreateApplication`]).
    Organisation(&'a OrgId),
    /// An existing case.
    Case(&'a dyn CaseParties),
}

/// The permission check for every command and query: returns the role under
/// which `principal` may perform `action` on `target` (`None` for public
/// actions, which need no role), or [`AccessError::Forbidden`] saying why
/// not. See the module docs for the
/// rules. [`decide`](crate::decide) calls it for every command; the platform
/// calls it for every query.
pub fn authorize(
    principal: &Principal,
    action: Action,
    target: Target<'_>,
) -> Result<Option<Role>, AccessError> {
    let forbid = |reason: String| AccessError::Forbidden { action, reason };
    // Invited users: only they answer their invitation (whatever roles
    // they hold), and they read the application they are invited to while
    // the invitation is pending or accepted.
    if let Target::Case(case) = target {
        let invitation = principal.user_id.as_ref().and_then(|u| case.invitation(u));
        match (action, invitation) {
            (Action::AnswerInvitation, Some(InvitationStatus::Pending)) => {
                return Ok(Some(Role::Applicant));
            }
            (Action::ViewCase, Some(InvitationStatus::Pending | InvitationStatus::Accepted)) => {
                return Ok(Some(Role::Applicant));
            }
            _ => {}
        }
    }
    if action == Action::AnswerInvitation {
        return Err(forbid(
            "only the invited user answers an invitation, once, while it is pending".into(),
        ));
    }
    let allowed = action.allowed_roles();
    if allowed.is_empty() {
        return Ok(None);
    }
    let Some(user) = principal.user_id.as_ref() else {
        return Err(forbid("you are not logged in".into()));
    };
    let held: Vec<Role> = allowed
        .iter()
        .copied()
        .filter(|r| principal.has_role(*r))
        .collect();
    if held.is_empty() {
        let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
        return Err(forbid(format!(
            "this needs one of the roles: {}",
            names.join(", ")
        )));
    }
    match target {
        Target::Hub => {
            // Applicants list only their own cases; the platform filters.
            Ok(held.first().copied())
        }
        Target::Organisation(org) => {
            if held.contains(&Role::Applicant) && principal.has_role_in(org, Role::Applicant) {
                Ok(Some(Role::Applicant))
            } else if let Some(staff) = held.iter().find(|r| **r != Role::Applicant) {
                Ok(Some(*staff))
            } else {
                Err(forbid(format!(
                    "you hold the applicant role only for other organisations than {org}"
                )))
            }
        }
        Target::Case(case) => {
            let org = case.organisation();
            let mut refusal = None;
            for role in held {
                match role {
                    Role::Applicant => match org {
                        Some(o) if principal.has_role_in(o, Role::Applicant) => {
                            return Ok(Some(Role::Applicant));
                        }
                        _ => {
                            refusal = Some(
                                "applicants may act only on their own organisation's cases".into(),
                            );
                        }
                    },
                    _ if !case.submitted() => {
                        refusal = Some(
                            "this application is a draft that was never submitted; only its applicants see it"
                                .into(),
                        );
                    }
                    r if r.is_case_staff() => {
                        if action.is_command() && case.involves(user) {
                            refusal = Some(
                                "conflict of interest: you are the applicant or a member of this application"
                                    .into(),
                            );
                        } else {
                            return Ok(Some(r));
                        }
                    }
                    r => return Ok(Some(r)),
                }
            }
            Err(forbid(refusal.unwrap_or_else(|| "not permitted".into())))
        }
    }
}

/// Whether `principal` may see `case` in a listing (the filter behind
/// [`Action::ListCases`]): staff and auditors see all cases, applicants
/// their organisations' cases.
pub fn may_see_case(principal: &Principal, case: &dyn CaseParties) -> bool {
    authorize(principal, Action::ViewCase, Target::Case(case)).is_ok()
}
