//! Code patterns: one written code of a code set (a query's, a named
//! list's) read by its system's rules into what it matches. The one place
//! that decides what `descendants` means per system and what an ICD-10
//! block is; the cohort engine matches stored (normalised) codes with it.

use std::fmt;

use crate::error::CodeError;
use crate::hierarchy::{self, Icd10Node};
use crate::normalise::normalise;
use crate::system::System;

/// One resolved code pattern within a system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// Exactly this (normalised) code.
    Exact(String),
    /// This code and every descendant (every code starting with it).
    Prefix(String),
    /// An ICD-10 block `first-last`: codes whose three-character category
    /// is in `first..=last`.
    Block(String, String),
}

/// Why a written code cannot be used as a pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The code does not have its system's shape or check digit.
    #[error("{0}")]
    Code(#[from] CodeError),
    /// `descendants` on a system without a hierarchy here.
    #[error("{system} has no hierarchy here; list its codes explicitly (descendants: false)")]
    NoHierarchy {
        /// The system id.
        system: String,
    },
    /// An ICD-10 block without `descendants`.
    #[error("the block {code:?} is a range of categories; set \"descendants\": true")]
    BlockNeedsDescendants {
        /// The code as written.
        code: String,
    },
    /// An ICD-10 chapter (not a pattern here).
    #[error("{code:?} is an ICD-10 chapter; write its block of categories instead (e.g. E00-E90)")]
    Chapter {
        /// The code as written.
        code: String,
    },
    /// A KVÅ group that is not a prefix of any code shape.
    #[error(
        "{code:?} is not a KVÅ code or group: 1 to 5 letters and digits starting with a letter (FN, FNG, FNG05)"
    )]
    KvaGroup {
        /// The code as written (shortened).
        code: String,
    },
}

fn shorten(code: &str) -> String {
    code.trim().chars().take(40).collect()
}

impl Pattern {
    /// Reads `code` of `system` as a pattern. Without `descendants` the
    /// code is normalised and checked exactly as ingest stores it (a code
    /// no event can carry is an error); with it, an ICD-10 code or block
    /// (`E10-E14`), an ATC code of any level or a KVÅ group matches its
    /// descendants, and any other system is refused.
    pub fn parse(system: &System, code: &str, descendants: bool) -> Result<Pattern, PatternError> {
        let t = code.trim();
        let dashed = t.contains(['-', '–', '—']);
        if system.is_icd10() && dashed {
            if !descendants {
                return Err(PatternError::BlockNeedsDescendants {
                    code: shorten(code),
                });
            }
            return match Icd10Node::parse(system, t)? {
                Icd10Node::Block { first, last } => Ok(Pattern::Block(first, last)),
                Icd10Node::Chapter(_) => Err(PatternError::Chapter {
                    code: shorten(code),
                }),
                Icd10Node::Code(c) => Ok(Pattern::Prefix(c)),
            };
        }
        if !descendants {
            return Ok(Pattern::Exact(normalise(system, code)?));
        }
        if !system.is_hierarchical() {
            return Err(PatternError::NoHierarchy {
                system: system.id().to_owned(),
            });
        }
        if *system == System::Kva {
            let c: String = t
                .chars()
                .filter(|c| *c != ' ')
                .map(|c| c.to_ascii_uppercase())
                .collect();
            let ok = (1..=5).contains(&c.len())
                && c.starts_with(|ch: char| ch.is_ascii_uppercase())
                && c.chars().all(|ch| ch.is_ascii_alphanumeric());
            if !ok {
                return Err(PatternError::KvaGroup {
                    code: shorten(code),
                });
            }
            return Ok(Pattern::Prefix(c));
        }
        Ok(Pattern::Prefix(normalise(system, code)?))
    }

    /// Does the normalised `code` match?
    pub fn matches(&self, code: &str) -> bool {
        match self {
            Pattern::Exact(c) => code == c,
            Pattern::Prefix(p) => code.starts_with(p.as_str()),
            Pattern::Block(first, last) => {
                hierarchy::category(code).is_some_and(|c| first.as_str() <= c && c <= last.as_str())
            }
        }
    }
}

impl Pattern {
    /// Does this pattern match the normalised `code` and every code below
    /// it? A prefix covers the codes it starts, a block the codes of its
    /// categories, an exact code only itself (a leaf, or a code named
    /// without its descendants).
    pub fn covers(&self, code: &str) -> bool {
        match self {
            Pattern::Exact(c) => code == c,
            Pattern::Prefix(p) => code.starts_with(p.as_str()),
            Pattern::Block(..) => self.matches(code),
        }
    }
}

impl fmt::Display for Pattern {
    /// The canonical text: the code, the prefix, or `first-last`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Exact(c) | Pattern::Prefix(c) => f.write_str(c),
            Pattern::Block(a, b) => write!(f, "{a}-{b}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &System, c: &str, d: bool) -> Result<Pattern, PatternError> {
        Pattern::parse(s, c, d)
    }

    #[test]
    fn covers_means_the_code_and_all_below_it() {
        let se = System::Icd10Se;
        let e11 = p(&se, "E11", true).unwrap();
        assert!(e11.covers("E11") && e11.covers("E119") && !e11.covers("E1"));
        let e119 = p(&se, "E11.9", false).unwrap();
        assert!(e119.covers("E119") && !e119.covers("E11"));
        let block = p(&System::Icd10Cm, "E08-E13", true).unwrap();
        assert!(block.covers("E11") && block.covers("E119") && !block.covers("E14"));
    }

    #[test]
    fn icd10_blocks_and_codes_in_every_edition() {
        for s in [System::Icd10Se, System::Icd10Cm, System::Icd10Gm] {
            let b = p(&s, "e10–E14", true).unwrap();
            assert_eq!(b, Pattern::Block("E10".into(), "E14".into()));
            assert!(b.matches("E119") && b.matches("E14") && !b.matches("E15"));
            assert!(!b.matches("E0"));
            assert!(p(&s, "E14-E10", true).is_err());
            assert!(matches!(
                p(&s, "E10-E14", false),
                Err(PatternError::BlockNeedsDescendants { .. })
            ));
            assert_eq!(
                p(&s, " e11.9 ", false).unwrap(),
                Pattern::Exact("E119".into())
            );
            assert!(p(&s, "K92.2", true).unwrap().matches("K922"));
            assert!(p(&s, "11", false).is_err());
        }
        assert!(matches!(
            p(&System::Icd10Gm, "E11.90!", false),
            Ok(Pattern::Exact(c)) if c == "E1190"
        ));
    }

    #[test]
    fn hierarchies_per_system() {
        assert!(p(&System::Atc, "A10B", true).unwrap().matches("A10BA02"));
        assert!(
            !p(&System::Atc, "A10BA02", false)
                .unwrap()
                .matches("A10BA03")
        );
        assert!(p(&System::Atc, "A1", false).is_err());
        assert!(p(&System::Kva, "fn", true).unwrap().matches("FNG05"));
        assert!(p(&System::Kva, "1F", true).is_err());
        assert!(matches!(
            p(&System::Npu, "NPU27300", true),
            Err(PatternError::NoHierarchy { .. })
        ));
        assert!(p(&System::Loinc, "4548-5", false).is_err());
        assert_eq!(
            p(&System::Loinc, "04548-4", false).unwrap().to_string(),
            "4548-4"
        );
        let other = System::Other("rxnorm".into());
        assert_eq!(
            p(&other, " ab.c ", false).unwrap(),
            Pattern::Exact("ab.c".into())
        );
        assert!(p(&other, "1", true).is_err());
    }
}
