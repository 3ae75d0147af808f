//! Limits and checks on free text (titles, reasons, findings, answers):
//! a length limit, and no personal identity numbers.

use crate::error::FieldIssue;
use crate::ids::looks_like_identity_number;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Longest free-text field (summary, reasons, findings, answers), in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;

/// Checks a free-text field: length limit and no identity numbers.
pub(crate) fn check_text(issues: &mut Vec<FieldIssue>, field: &str, text: &str, max_chars: usize) {
    if text.chars().count() > max_chars {
        issues.push(FieldIssue::new(
            field,
            format!("is longer than {max_chars} characters"),
        ));
    } else if looks_like_identity_number(text) {
        issues.push(FieldIssue::new(
            field,
            "contains what looks like a personal identity number; remove it",
        ));
    }
}

/// Checks a required free-text field (reasons, findings, answers).
pub(crate) fn check_required_text(
    issues: &mut Vec<FieldIssue>,
    field: &str,
    text: &str,
    max_chars: usize,
) {
    if text.trim().is_empty() {
        issues.push(FieldIssue::new(field, "is required and may not be blank"));
    } else {
        check_text(issues, field, text, max_chars);
    }
}
