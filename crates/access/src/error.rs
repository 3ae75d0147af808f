//! Typed errors. No message ever echoes a personal identity number: field
//! problems describe what is wrong, not the offending text.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::role::Action;
use crate::status::CaseStatus;

/// One problem with one field of a command or application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldIssue {
    /// The field's path, e.g. `title`, `datasets[2].variables`,
    /// `attachments[0].media_type`.
    pub field: String,
    /// Why it is refused, in words for the user.
    pub problem: String,
}

impl FieldIssue {
    /// An issue for `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for FieldIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// Why a command or query was refused. The HTTP layer maps
/// [`AccessError::Forbidden`] to 403, [`AccessError::IllegalTransition`] to
/// 409, [`AccessError::Invalid`] to 422 and [`AccessError::NoSuchCase`] to 404.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AccessError {
    /// The principal may not perform this action (on this case).
    #[error("not allowed to {action}: {reason}")]
    Forbidden {
        /// What was attempted.
        action: Action,
        /// Why it is refused (which role or organisation is missing).
        reason: String,
    },
    /// The command is not allowed in the case's current state.
    #[error("cannot {action} while the case is {status}: {reason}")]
    IllegalTransition {
        /// What was attempted.
        action: Action,
        /// The case's state at the time.
        status: CaseStatus,
        /// Why, and what would be needed instead.
        reason: String,
    },
    /// The command's content is invalid; every problem found is listed.
    #[error("invalid input: {}", join_issues(.issues))]
    Invalid {
        /// Each refused field with its reason.
        issues: Vec<FieldIssue>,
    },
    /// A command other than `create` was given for a case with no events.
    #[error("the case does not exist")]
    NoSuchCase,
}

impl AccessError {
    /// An [`AccessError::Invalid`] with one issue.
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            issues: vec![FieldIssue::new(field, problem)],
        }
    }
}

fn join_issues(issues: &[FieldIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A purpose, legal basis or form name that is not one of the known values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {kind} {given:?}; expected one of: {expected}")]
pub struct UnknownValue {
    /// What was being parsed ("purpose", ...).
    pub kind: &'static str,
    /// The text given (a short code name; never free text).
    pub given: String,
    /// The accepted names, comma-separated.
    pub expected: String,
}
