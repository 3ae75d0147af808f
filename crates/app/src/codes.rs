//! Code search for the API (`GET /api/v1/codes/{system}`): a code
//! system's list searched by code prefix or title words. The registry is
//! the built-in lists of `halsohub-codes` unless the server is given
//! another.

use serde::Serialize;
use utoipa::ToSchema;

pub use halsohub_codes::CodeRegistry;
use halsohub_codes::System;

/// Default number of results.
pub const DEFAULT_LIMIT: usize = 20;
/// Most results one search returns.
pub const MAX_LIMIT: usize = 200;

/// One code found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CodeHit {
    /// The normalised code (as queries may use it).
    pub code: String,
    /// The code as usually written (`E11.9`).
    pub display: String,
    /// Its title.
    pub title: String,
}

/// Codes found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CodeSearch {
    /// The system's id.
    pub system: String,
    /// The search text.
    pub q: String,
    /// Code-prefix matches first, then title matches.
    pub results: Vec<CodeHit>,
}

/// Why a search was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeSearchError {
    /// The system name is empty.
    #[error("the code system in the path is empty")]
    NoSystem,
    /// No list is loaded for the system.
    #[error("no code list for system {system:?}; lists are loaded for: {}", known.join(", "))]
    UnknownSystem {
        /// The system asked for.
        system: String,
        /// The systems with lists.
        known: Vec<String>,
    },
    /// No search text.
    #[error(
        "query parameter q: give a code prefix or words of a title, e.g. ?q=E11 or ?q=diabetes"
    )]
    NoQuery,
    /// The limit is out of range.
    #[error("query parameter limit: must be within 1..={MAX_LIMIT}")]
    BadLimit,
}

/// Searches `system`'s list for `q` (a code prefix or title words), at
/// most `limit` results (default [`DEFAULT_LIMIT`]).
///
/// # Errors
/// [`CodeSearchError`] naming the parameter at fault.
pub fn search(
    registry: &CodeRegistry,
    system: &str,
    q: Option<&str>,
    limit: Option<usize>,
) -> Result<CodeSearch, CodeSearchError> {
    let sys = System::parse(system).ok_or(CodeSearchError::NoSystem)?;
    if registry.len(&sys) == 0 {
        return Err(CodeSearchError::UnknownSystem {
            system: system.to_string(),
            known: registry
                .systems()
                .iter()
                .map(|s| s.id().to_string())
                .collect(),
        });
    }
    let q = q.unwrap_or_default();
    if q.trim().is_empty() {
        return Err(CodeSearchError::NoQuery);
    }
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(CodeSearchError::BadLimit);
    }
    let results = registry
        .search(&sys, q, limit)
        .into_iter()
        .map(|e| CodeHit {
            code: e.code().to_string(),
            display: halsohub_codes::display_code(e.system(), e.code()),
            title: e.title().to_string(),
        })
        .collect();
    Ok(CodeSearch {
        system: sys.id().to_string(),
        q: q.to_string(),
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_by_prefix_and_refuses_bad_parameters() {
        let r = CodeRegistry::builtin();
        let found = search(&r, "icd10se", Some("e11"), None).unwrap();
        assert_eq!(found.system, "icd10se");
        assert!(!found.results.is_empty());
        assert!(found.results.iter().all(|h| h.code.starts_with("E11")));
        assert_eq!(
            search(&r, "", Some("x"), None).unwrap_err(),
            CodeSearchError::NoSystem
        );
        assert!(matches!(
            search(&r, "nosuch", Some("x"), None),
            Err(CodeSearchError::UnknownSystem { .. })
        ));
        assert_eq!(
            search(&r, "icd10se", Some(" "), None).unwrap_err(),
            CodeSearchError::NoQuery
        );
        assert_eq!(
            search(&r, "icd10se", Some("E11"), Some(0)).unwrap_err(),
            CodeSearchError::BadLimit
        );
    }
}
