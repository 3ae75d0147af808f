//! Limits and checks on free text (titles, reasons, findings, answers):
//! a length limit, no personal identity numbers, and no control or
//! bidirectional-override characters (which hide or reorder text when a
//! person reads it: NUL, escape sequences, U+202E and the like).

use crate::error::FieldIssue;
use crate::ids::looks_like_identity_number;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 300;
/// Longest free-text field (summary, reasons, findings, answers), in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;

/// Whether `c` is a bidirectional embedding, override or isolate
/// (U+202A–U+202E, U+2066–U+2069) or a directional mark (U+200E, U+200F,
/// U+061C): characters that make text read differently from what it holds.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The first character of `text` that free text may not hold: a control
/// character other than line feed, carriage return and tab (which only
/// multi-line fields may hold: `multi_line`), or a bidi control.
pub fn forbidden_char(text: &str, multi_line: bool) -> Option<char> {
    text.chars().find(|&c| {
        is_bidi_control(c) || (c.is_control() && !(multi_line && matches!(c, '\n' | '\r' | '\t')))
    })
}

/// `text` with control and bidi characters removed (line breaks and tabs
/// become spaces): for figures and exports read by people, such as the
/// public register's CSV.
pub fn strip_controls(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            if matches!(c, '\n' | '\r' | '\t') {
                Some(' ')
            } else if c.is_control() || is_bidi_control(c) {
                None
            } else {
                Some(c)
            }
        })
        .collect()
}

/// Checks a single-line text field (titles, names, references): as
/// [`check_text`], and no line breaks either.
pub(crate) fn check_line(issues: &mut Vec<FieldIssue>, field: &str, text: &str, max_chars: usize) {
    if let Some(c) = forbidden_char(text, false) {
        issues.push(FieldIssue::new(
            field,
            format!(
                "holds the control or text-direction character U+{:04X}; remove it",
                u32::from(c)
            ),
        ));
    } else {
        check_text(issues, field, text, max_chars);
    }
}

/// Checks a free-text field: length limit, no identity numbers, no control
/// characters other than line breaks and tabs, no bidi controls.
pub(crate) fn check_text(issues: &mut Vec<FieldIssue>, field: &str, text: &str, max_chars: usize) {
    if let Some(c) = forbidden_char(text, true) {
        issues.push(FieldIssue::new(
            field,
            format!(
                "holds the control or text-direction character U+{:04X}; remove it",
                u32::from(c)
            ),
        ));
    } else if text.chars().count() > max_chars {
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
