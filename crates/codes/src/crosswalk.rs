//! Concept harmonisation: the NPU ↔ LOINC crosswalk of the lab analytes
//! halsohub knows (`data/crosswalk_npu_loinc.tsv`, sources in
//! `data/crosswalk_npu_loinc.md`), and the qualitative warning for a query
//! that names an analyte in one code system (or part of its codes) where
//! the store holds the other system too; [`icd10`], the ICD-10-SE ↔
//! ICD-10-CM / ICD-10-GM crosswalk of the diagnoses the built-in lists
//! cover, with the same kind of warning for diagnoses.
//!
//! The warning is computed from the query's codes and the code systems a
//! store holds (static metadata of the snapshot), never from a count, so
//! it carries no number past disclosure control.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use crate::system::System;
use crate::units::{self, Analyte};

pub mod icd10;

/// How a target code relates to a source code (FHIR R4
/// `ConceptMapEquivalence`, read from source to target: NPU to LOINC,
/// ICD-10-SE to ICD-10-CM or ICD-10-GM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Equivalence {
    /// Same analyte, specimen and kind of quantity.
    Equivalent,
    /// Same analyte, another kind of quantity (converted by the analyte's
    /// rule) or another specimen.
    RelatedTo,
    /// The LOINC code is more specific (names a method or formula).
    Narrower,
    /// The LOINC code is more general.
    Wider,
    /// The target system has no counterpart (ICD-10 crosswalk only).
    Unmatched,
}

impl Equivalence {
    /// The ConceptMap code: `equivalent`, `relatedto`, `narrower`, `wider`,
    /// `unmatched`.
    pub fn id(self) -> &'static str {
        match self {
            Equivalence::Equivalent => "equivalent",
            Equivalence::RelatedTo => "relatedto",
            Equivalence::Narrower => "narrower",
            Equivalence::Wider => "wider",
            Equivalence::Unmatched => "unmatched",
        }
    }

    /// The word a warning puts in brackets after a code.
    fn label(self) -> &'static str {
        match self {
            Equivalence::RelatedTo => "related",
            other => other.id(),
        }
    }

    fn parse(s: &str) -> Option<Equivalence> {
        match s {
            "equivalent" => Some(Equivalence::Equivalent),
            "relatedto" => Some(Equivalence::RelatedTo),
            "narrower" => Some(Equivalence::Narrower),
            "wider" => Some(Equivalence::Wider),
            "unmatched" => Some(Equivalence::Unmatched),
            _ => None,
        }
    }
}

/// One row of the crosswalk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// The analyte id ([`units::analyte`]).
    pub analyte: &'static str,
    /// The NPU code (normalised).
    pub npu: &'static str,
    /// The LOINC code (normalised).
    pub loinc: &'static str,
    /// How the LOINC code relates to the NPU code.
    pub equivalence: Equivalence,
    /// Why (the parts compared).
    pub basis: &'static str,
}

const CROSSWALK: &str = include_str!("../data/crosswalk_npu_loinc.tsv");

static MAPPINGS: LazyLock<Vec<Mapping>> = LazyLock::new(|| parse(CROSSWALK));

/// Reads the crosswalk file; a row that does not read is left out (the
/// built-in file is tested to read whole).
fn parse(text: &'static str) -> Vec<Mapping> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some(Mapping {
                analyte: f.next()?,
                npu: f.next()?,
                loinc: f.next()?,
                equivalence: Equivalence::parse(f.next()?)?,
                basis: f.next()?,
            })
        })
        .collect()
}

/// Every row of the NPU ↔ LOINC crosswalk.
pub fn npu_loinc() -> &'static [Mapping] {
    &MAPPINGS
}

/// The codes of `analyte` in the crosswalk, each once: its NPU codes, then
/// its LOINC codes with their relation to the NPU code.
fn codes_of(analyte: &str) -> Vec<(System, &'static str, Option<Equivalence>)> {
    let mut out: Vec<(System, &'static str, Option<Equivalence>)> = Vec::new();
    for m in npu_loinc().iter().filter(|m| m.analyte == analyte) {
        if !out.iter().any(|(s, c, _)| *s == System::Npu && *c == m.npu) {
            out.push((System::Npu, m.npu, None));
        }
    }
    for m in npu_loinc().iter().filter(|m| m.analyte == analyte) {
        if !out
            .iter()
            .any(|(s, c, _)| *s == System::Loinc && *c == m.loinc)
        {
            out.push((System::Loinc, m.loinc, Some(m.equivalence)));
        }
    }
    out
}

/// Warnings for a query whose criteria name lab codes (`criteria`: per
/// criterion, the exact codes it names, lists expanded, as system and
/// normalised code) when the store holds codes of `held` systems:
///
/// * a criterion that names an analyte in one system only, where the store
///   holds the other system of the crosswalk too, gets a warning naming the
///   other system's codes of that analyte;
/// * a criterion that names it in both systems but leaves out some of its
///   codes gets a warning naming those.
///
/// `list_for(analyte id)` gives a named list covering all of the analyte's
/// codes, which the warning recommends. Warnings are qualitative: they
/// name codes, systems and lists, never a count. Each appears once.
pub fn harmonisation_warnings(
    criteria: &[Vec<(System, String)>],
    held: &BTreeSet<System>,
    list_for: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for named in criteria {
        let mut analytes: Vec<&'static Analyte> = Vec::new();
        for (s, c) in named {
            if let Some(a) = units::analyte_for(s, c)
                && !analytes.iter().any(|x| x.id == a.id)
            {
                analytes.push(a);
            }
        }
        for a in analytes {
            let of_a: Vec<&(System, String)> = named
                .iter()
                .filter(|(s, c)| units::analyte_for(s, c).is_some_and(|x| x.id == a.id))
                .collect();
            let systems: BTreeSet<&System> = of_a.iter().map(|(s, _)| s).collect();
            let missing: Vec<(System, &str, Option<Equivalence>)> = codes_of(a.id)
                .into_iter()
                .filter(|(s, _, _)| held.contains(s))
                .filter(|(s, c, _)| !of_a.iter().any(|(ns, nc)| ns == s && nc == c))
                .filter(|(s, _, _)| systems.len() > 1 || !systems.contains(s))
                .collect();
            if missing.is_empty() {
                continue;
            }
            let w = warning(a, &of_a, &systems, &missing, list_for(a.id));
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

fn label(s: &System, c: &str) -> String {
    match s {
        System::Npu => c.to_owned(),
        _ => format!("{} {c}", s.name()),
    }
}

fn warning(
    a: &Analyte,
    named: &[&(System, String)],
    systems: &BTreeSet<&System>,
    missing: &[(System, &str, Option<Equivalence>)],
    list: Option<String>,
) -> String {
    let named_text = named
        .iter()
        .map(|(s, c)| label(s, c))
        .collect::<Vec<_>>()
        .join(", ");
    let missing_text = missing
        .iter()
        .map(|(s, c, e)| match e {
            Some(e) => format!("{} ({})", label(s, c), e.label()),
            None => label(s, c),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let other: BTreeSet<&str> = missing.iter().map(|(s, _, _)| s.name()).collect();
    let other = other.into_iter().collect::<Vec<_>>().join(" and ");
    let head = if systems.len() == 1 {
        let only = systems.iter().next().map_or("", |s| s.name());
        format!(
            "{}: the query names it in {only} only ({named_text}), but this snapshot also holds {other} codes from other sources; not counted: {missing_text}.",
            a.name
        )
    } else {
        format!(
            "{}: the query names {named_text} but not {missing_text}, which this snapshot's sources may use.",
            a.name
        )
    };
    match list {
        Some(l) => format!("{head} Use the list `{l}`, which covers both systems."),
        None => format!("{head} Name those codes too."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crosswalk_reads_whole_and_matches_the_analytes() {
        let rows = CROSSWALK
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .count();
        assert_eq!(npu_loinc().len(), rows);
        for m in npu_loinc() {
            let a = units::analyte(m.analyte).unwrap();
            assert_eq!(crate::normalise(&System::Npu, m.npu).unwrap(), m.npu);
            assert_eq!(crate::normalise(&System::Loinc, m.loinc).unwrap(), m.loinc);
            assert!(a.npu.contains(&m.npu), "{} {}", a.id, m.npu);
            assert!(a.loinc.contains(&m.loinc), "{} {}", a.id, m.loinc);
            assert!(!m.basis.is_empty());
        }
        // Every code of every analyte is in the crosswalk: one set of codes.
        for a in units::ANALYTES {
            for c in a.npu {
                assert!(npu_loinc().iter().any(|m| m.npu == *c), "{c}");
            }
            for c in a.loinc {
                assert!(npu_loinc().iter().any(|m| m.loinc == *c), "{c}");
            }
        }
    }

    fn held(s: &[System]) -> BTreeSet<System> {
        s.iter().cloned().collect()
    }

    fn list(id: &str) -> Option<String> {
        (id == "hba1c").then(|| "hba1c".to_owned())
    }

    #[test]
    fn one_system_where_the_store_holds_both_is_warned() {
        let q = vec![vec![(System::Npu, "NPU27300".to_owned())]];
        let w = harmonisation_warnings(&q, &held(&[System::Npu, System::Loinc]), &list);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("LOINC 59261-8 (equivalent)"), "{}", w[0]);
        assert!(w[0].contains("`hba1c`"), "{}", w[0]);
        // Qualitative: no count, only codes.
        assert!(
            !w[0]
                .split_whitespace()
                .any(|t| t.chars().all(|c| c.is_ascii_digit()))
        );
        // The store holds NPU only: nothing to warn of.
        assert!(harmonisation_warnings(&q, &held(&[System::Npu]), &list).is_empty());
        // LOINC only, the other way round.
        let q = vec![vec![(System::Loinc, "4548-4".to_owned())]];
        let w = harmonisation_warnings(&q, &held(&[System::Npu, System::Loinc]), &list);
        assert!(
            w[0].contains("NPU27300") && w[0].contains("in LOINC only"),
            "{w:?}"
        );
    }

    #[test]
    fn mixed_systems_with_gaps_are_warned_and_complete_sets_are_not() {
        let both = held(&[System::Npu, System::Loinc]);
        let q = vec![vec![
            (System::Npu, "NPU27300".to_owned()),
            (System::Loinc, "4548-4".to_owned()),
        ]];
        let w = harmonisation_warnings(&q, &both, &list);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("but not LOINC 59261-8"), "{}", w[0]);
        let all: Vec<(System, String)> = codes_of("hba1c")
            .into_iter()
            .map(|(s, c, _)| (s, c.to_owned()))
            .collect();
        assert!(harmonisation_warnings(&[all], &both, &list).is_empty());
        // Codes of no analyte (diagnoses) never warn.
        let dx = vec![vec![(System::Icd10Se, "E11".to_owned())]];
        assert!(harmonisation_warnings(&dx, &both, &list).is_empty());
        // Without a covering list the warning says to name the codes.
        let q = vec![vec![(System::Npu, "NPU19748".to_owned())]];
        let w = harmonisation_warnings(&q, &both, &list);
        assert!(w[0].contains("Name those codes too"), "{w:?}");
    }
}
