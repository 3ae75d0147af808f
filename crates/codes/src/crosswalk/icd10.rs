//! The ICD-10-SE ↔ ICD-10-CM / ICD-10-GM crosswalk where the editions
//! coincide (`data/crosswalk_icd10.tsv`, sources and licences in
//! `data/crosswalk_icd10.md`): the WHO ICD-10 categories, and a few
//! 4-character subcategories, of the diagnoses the built-in named lists
//! cover, each row relating an ICD-10-SE code with its descendants to a
//! code of the other edition with its descendants, with an
//! [`Equivalence`] and the basis of the judgement.
//!
//! [`diagnosis_warnings`] is the qualitative warning for a query that names
//! such an ICD-10-SE diagnosis while the snapshot holds ICD-10-CM or
//! ICD-10-GM codes too and the query does not name their counterparts. It
//! is computed from the query's code patterns and the code systems the
//! snapshot holds, never from a count.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use super::Equivalence;
use crate::normalise::{display_code, normalise};
use crate::pattern::Pattern;
use crate::system::System;

/// One row of the ICD-10 crosswalk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icd10Mapping {
    /// The built-in named list of the concept (`type2_diabetes`, ...).
    pub concept: &'static str,
    /// The ICD-10-SE code (normalised: `E119`); with its descendants.
    pub se: String,
    /// The target edition: ICD-10-CM or ICD-10-GM.
    pub system: System,
    /// The target code (normalised), with its descendants; `None` when the
    /// target edition has no counterpart ([`Equivalence::Unmatched`]).
    pub target: Option<String>,
    /// How the target relates to the ICD-10-SE code.
    pub equivalence: Equivalence,
    /// The CDC title of an ICD-10-CM target, verbatim (checked against the
    /// CDC file by a test); `None` for ICD-10-GM (BfArM titles are not
    /// copied).
    pub target_title: Option<&'static str>,
    /// The sources of the row: keys defined in `data/crosswalk_icd10.md`
    /// (`WHO`, `SE`, `CDC`, `CDC-IX`, `BFARM`).
    pub sources: Vec<&'static str>,
    /// Why (what was compared).
    pub basis: &'static str,
}

const CROSSWALK: &str = include_str!("../../data/crosswalk_icd10.tsv");

static MAPPINGS: LazyLock<Vec<Icd10Mapping>> = LazyLock::new(|| parse(CROSSWALK));

fn rows(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
}

fn dash(s: &str) -> Option<&str> {
    (s != "-" && !s.is_empty()).then_some(s)
}

/// Reads the crosswalk file; a row that does not read is left out (the
/// built-in file is tested to read whole).
fn parse(text: &'static str) -> Vec<Icd10Mapping> {
    rows(text)
        .filter_map(|l| {
            let mut f = l.split('\t');
            let concept = f.next()?;
            let se = normalise(&System::Icd10Se, f.next()?).ok()?;
            let system = System::parse(f.next()?).filter(|s| s.is_icd10())?;
            let target = match dash(f.next()?) {
                Some(t) => Some(normalise(&system, t).ok()?),
                None => None,
            };
            let equivalence = Equivalence::parse(f.next()?)?;
            if target.is_none() != (equivalence == Equivalence::Unmatched) {
                return None;
            }
            let target_title = dash(f.next()?);
            let sources = f.next()?.split(';').map(str::trim).collect();
            let basis = f.next()?;
            Some(Icd10Mapping {
                concept,
                se,
                system,
                target,
                equivalence,
                target_title,
                sources,
                basis,
            })
        })
        .collect()
}

/// Every row of the ICD-10 crosswalk.
pub fn icd10_crosswalk() -> &'static [Icd10Mapping] {
    &MAPPINGS
}

/// The editions the crosswalk maps ICD-10-SE to.
const TARGETS: [System; 2] = [System::Icd10Cm, System::Icd10Gm];

/// The rows of `target` an ICD-10-SE pattern touches: for a code (with or
/// without descendants), the most specific row whose ICD-10-SE code it lies
/// in, preferring a row with a counterpart over a more specific row
/// without one (`E11.7` → the row of `E11`); for a block, the row of each
/// of its categories.
fn rows_for<'a>(
    rows: &'a [Icd10Mapping],
    pattern: &Pattern,
    target: &System,
) -> Vec<&'a Icd10Mapping> {
    let of_target = rows.iter().filter(|r| r.system == *target);
    match pattern {
        Pattern::Exact(c) | Pattern::Prefix(c) => {
            let mut chain: Vec<&Icd10Mapping> =
                of_target.filter(|r| c.starts_with(r.se.as_str())).collect();
            chain.sort_by_key(|r| std::cmp::Reverse(r.se.len()));
            chain
                .iter()
                .find(|r| r.target.is_some())
                .or(chain.first())
                .map(|r| vec![*r])
                .unwrap_or_default()
        }
        Pattern::Block(..) => of_target
            .filter(|r| r.se.len() == 3 && pattern.matches(&r.se))
            .collect(),
    }
}

/// Finds a named list that covers every code of its first argument (system
/// and normalised code, each with its descendants), trying the names of its
/// second first.
pub type CoveringList<'a> = dyn Fn(&[(System, String)], &[&str]) -> Option<String> + 'a;

/// Warnings for a query whose criteria name diagnoses (`criteria`: per
/// criterion, the ICD-10 patterns it names in any edition, lists expanded)
/// when the snapshot holds codes of `held` systems: each ICD-10-SE pattern
/// of a concept in the crosswalk, where the snapshot holds ICD-10-CM or
/// ICD-10-GM codes too and the criterion does not cover the counterpart
/// codes in those editions, gets a warning naming them (with the row's
/// equivalence), and naming the editions that have no counterpart.
///
/// `list_for(codes, preferred)` gives a named list that covers every code
/// of `codes` (system and normalised code, each with its descendants),
/// trying the `preferred` names (the rows' concepts) first; the warning
/// recommends it. Warnings are qualitative: they name codes, editions and
/// lists, never a count. Each appears once.
pub fn diagnosis_warnings(
    criteria: &[Vec<(System, Pattern)>],
    held: &BTreeSet<System>,
    list_for: &CoveringList<'_>,
) -> Vec<String> {
    let rows = icd10_crosswalk();
    let targets: Vec<&System> = TARGETS.iter().filter(|t| held.contains(*t)).collect();
    let mut out: Vec<String> = Vec::new();
    if targets.is_empty() {
        return out;
    }
    for named in criteria {
        for (_, pattern) in named.iter().filter(|(s, _)| *s == System::Icd10Se) {
            let mut missing: Vec<&Icd10Mapping> = Vec::new();
            let mut none: Vec<&Icd10Mapping> = Vec::new();
            let mut touched: Vec<&Icd10Mapping> = Vec::new();
            for target in &targets {
                for r in rows_for(rows, pattern, target) {
                    touched.push(r);
                    match &r.target {
                        Some(code) => {
                            // A row above the query's level (SE E11.9 judged
                            // by E11) counts as covered when the criterion
                            // names codes within the counterpart at all
                            // (GM E11.9): the rows do not say which.
                            let above = match pattern {
                                Pattern::Exact(c) | Pattern::Prefix(c) => c.len() > r.se.len(),
                                Pattern::Block(..) => false,
                            };
                            let covered = named.iter().any(|(s, p)| {
                                s == *target && (p.covers(code) || (above && within(p, code)))
                            });
                            if !covered {
                                missing.push(r);
                            }
                        }
                        None => {
                            if !named.iter().any(|(s, _)| s == *target) {
                                none.push(r);
                            }
                        }
                    }
                }
            }
            if missing.is_empty() && none.is_empty() {
                continue;
            }
            // The list must cover what the query names in ICD-10-SE and
            // the counterparts it leaves out.
            let mut cover: Vec<(System, String)> = Vec::new();
            match pattern {
                Pattern::Exact(c) | Pattern::Prefix(c) => cover.push((System::Icd10Se, c.clone())),
                Pattern::Block(..) => {
                    for r in &touched {
                        if !cover.iter().any(|(_, c)| *c == r.se) {
                            cover.push((System::Icd10Se, r.se.clone()));
                        }
                    }
                }
            }
            for r in &missing {
                if let Some(t) = &r.target
                    && !cover.iter().any(|(s, c)| *s == r.system && c == t)
                {
                    cover.push((r.system.clone(), t.clone()));
                }
            }
            let mut preferred: Vec<&str> = Vec::new();
            for r in &touched {
                if !preferred.contains(&r.concept) {
                    preferred.push(r.concept);
                }
            }
            let w = warning(pattern, &missing, &none, list_for(&cover, &preferred));
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

/// Does `p` name codes within `code` (with its descendants)?
fn within(p: &Pattern, code: &str) -> bool {
    match p {
        Pattern::Exact(c) | Pattern::Prefix(c) => c.starts_with(code),
        Pattern::Block(..) => p.covers(code),
    }
}

fn pattern_label(p: &Pattern) -> String {
    match p {
        Pattern::Exact(c) => display_code(&System::Icd10Se, c),
        Pattern::Prefix(c) => format!("{} (with descendants)", display_code(&System::Icd10Se, c)),
        Pattern::Block(a, b) => format!("{a}-{b}"),
    }
}

fn warning(
    pattern: &Pattern,
    missing: &[&Icd10Mapping],
    none: &[&Icd10Mapping],
    list: Option<String>,
) -> String {
    let mut editions: Vec<&str> = Vec::new();
    for r in missing.iter().chain(none) {
        if !editions.contains(&r.system.name()) {
            editions.push(r.system.name());
        }
    }
    let editions = editions.join(" and ");
    let mut head = format!(
        "ICD-10-SE {}: this snapshot also holds {editions} codes from other sources",
        pattern_label(pattern)
    );
    if !missing.is_empty() {
        let mut seen: Vec<(&System, &str)> = Vec::new();
        let codes = missing
            .iter()
            .filter_map(|r| {
                let t = r.target.as_deref()?;
                if seen.contains(&(&r.system, t)) {
                    return None;
                }
                seen.push((&r.system, t));
                Some(format!(
                    "{} {} ({})",
                    r.system.name(),
                    display_code(&r.system, t),
                    r.equivalence.label()
                ))
            })
            .collect::<Vec<_>>()
            .join(", ");
        head.push_str(&format!(
            ", and the query does not name their counterparts; not counted (each with its descendants): {codes}"
        ));
    }
    head.push('.');
    for r in none {
        head.push_str(&format!(
            " {} has no counterpart of ICD-10-SE {}.",
            r.system.name(),
            display_code(&System::Icd10Se, &r.se)
        ));
    }
    match list {
        Some(l) => format!("{head} Use the list `{l}`, which covers ICD-10-SE and {editions}."),
        None if missing.is_empty() => head,
        None => format!("{head} Name those codes too."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::CodeRegistry;

    #[test]
    fn the_crosswalk_reads_whole() {
        assert_eq!(icd10_crosswalk().len(), rows(CROSSWALK).count());
        let reg = CodeRegistry::try_builtin().unwrap();
        for r in icd10_crosswalk() {
            assert!(!r.basis.is_empty() && !r.concept.is_empty(), "{r:?}");
            assert!(r.se.len() >= 3, "{r:?}");
            for s in &r.sources {
                assert!(["WHO", "SE", "CDC", "CDC-IX", "BFARM"].contains(s), "{r:?}");
            }
            // A row citing ICD-10-SE names a code of halsohub's ICD-10-SE
            // list; every row is in a WHO block.
            if r.sources.contains(&"SE") {
                assert!(reg.is_known(&System::Icd10Se, &r.se), "{r:?}");
            }
            assert!(crate::hierarchy::block_of(&r.se).is_some(), "{r:?}");
            match r.system {
                System::Icd10Cm => {
                    assert!(r.sources.contains(&"CDC"), "{r:?}");
                    assert_eq!(r.target.is_some(), r.target_title.is_some(), "{r:?}");
                }
                System::Icd10Gm => {
                    assert!(r.sources.contains(&"BFARM"), "{r:?}");
                    assert!(r.target_title.is_none(), "{r:?}");
                }
                _ => panic!("{r:?}"),
            }
        }
        // One row per ICD-10-SE code and edition.
        let mut keys: Vec<(&str, &System)> = icd10_crosswalk()
            .iter()
            .map(|r| (r.se.as_str(), &r.system))
            .collect();
        keys.sort();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n);
        // Every ICD-10-SE category has a row per edition.
        for r in icd10_crosswalk().iter().filter(|r| r.se.len() == 3) {
            for t in TARGETS {
                assert!(
                    icd10_crosswalk()
                        .iter()
                        .any(|x| x.se == r.se && x.system == t),
                    "{} {t}",
                    r.se
                );
            }
        }
    }

    fn held(s: &[System]) -> BTreeSet<System> {
        s.iter().cloned().collect()
    }

    fn q(codes: &[(System, &str, bool)]) -> Vec<Vec<(System, Pattern)>> {
        vec![
            codes
                .iter()
                .map(|(s, c, d)| (s.clone(), Pattern::parse(s, c, *d).unwrap()))
                .collect(),
        ]
    }

    fn lists(codes: &[(System, String)], preferred: &[&str]) -> Option<String> {
        // A stand-in for the cohort's lists: `diabetes` covers E10-E14 in
        // ICD-10-SE and ICD-10-GM and E08-E13 in ICD-10-CM; the preferred
        // names exist only for atrial fibrillation.
        let af = codes.iter().all(|(_, c)| c.starts_with("I48"));
        if af && preferred.contains(&"atrial_fibrillation") {
            return Some("atrial_fibrillation".into());
        }
        let dm = codes.iter().all(|(s, c)| match s {
            System::Icd10Cm => ("E08".."E14").contains(&c.get(..3).unwrap_or("")),
            _ => ("E10".."E15").contains(&c.get(..3).unwrap_or("")),
        });
        dm.then(|| "diabetes".into())
    }

    fn no_count(w: &str) {
        assert!(
            !w.split_whitespace()
                .any(|t| t.chars().all(|c| c.is_ascii_digit())),
            "{w}"
        );
    }

    #[test]
    fn an_se_code_where_the_snapshot_holds_cm_is_warned() {
        let se_cm = held(&[System::Icd10Se, System::Icd10Cm]);
        let w = diagnosis_warnings(&q(&[(System::Icd10Se, "I48", true)]), &se_cm, &lists);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("ICD-10-SE I48 (with descendants)"),
            "{}",
            w[0]
        );
        assert!(w[0].contains("ICD-10-CM I48 (equivalent)"), "{}", w[0]);
        assert!(!w[0].contains("ICD-10-GM"), "{}", w[0]);
        assert!(w[0].contains("`atrial_fibrillation`"), "{}", w[0]);
        no_count(&w[0]);
        // A subcategory: the most specific row (SE I48.2 permanent AF is
        // CM I48.21).
        let w = diagnosis_warnings(&q(&[(System::Icd10Se, "I48.2", false)]), &se_cm, &lists);
        assert!(w[0].contains("ICD-10-CM I48.21 (equivalent)"), "{w:?}");
        // Below the rows: the row above (E11.7 has no CM counterpart, so
        // E11's row).
        let w = diagnosis_warnings(&q(&[(System::Icd10Se, "E11.7", true)]), &se_cm, &lists);
        assert!(w[0].contains("ICD-10-CM E11 (wider)"), "{w:?}");
        // No ICD-10-CM or GM in the snapshot, or no crosswalk row: nothing.
        let se = held(&[System::Icd10Se]);
        assert!(diagnosis_warnings(&q(&[(System::Icd10Se, "I48", true)]), &se, &lists).is_empty());
        assert!(
            diagnosis_warnings(&q(&[(System::Icd10Se, "J18", true)]), &se_cm, &lists).is_empty()
        );
        // Codes of other systems never warn here.
        assert!(
            diagnosis_warnings(&q(&[(System::Icd10Cm, "I48", true)]), &se_cm, &lists).is_empty()
        );
    }

    #[test]
    fn covered_counterparts_are_not_warned_and_blocks_name_every_category() {
        let all = held(&[System::Icd10Se, System::Icd10Cm, System::Icd10Gm]);
        let full = q(&[
            (System::Icd10Se, "E10-E14", true),
            (System::Icd10Cm, "E08-E13", true),
            (System::Icd10Gm, "E10-E14", true),
        ]);
        assert!(diagnosis_warnings(&full, &all, &lists).is_empty());
        let w = diagnosis_warnings(&q(&[(System::Icd10Se, "E10-E14", true)]), &all, &lists);
        assert_eq!(w.len(), 1, "{w:?}");
        let w = &w[0];
        for part in [
            "ICD-10-SE E10-E14: this snapshot also holds ICD-10-CM and ICD-10-GM codes",
            "ICD-10-CM E10 (equivalent), ICD-10-CM E11 (wider), ICD-10-CM E13 (narrower)",
            "ICD-10-GM E10 (equivalent)",
            "ICD-10-GM E14 (equivalent)",
            "ICD-10-CM has no counterpart of ICD-10-SE E12.",
            "Use the list `diabetes`, which covers ICD-10-SE and ICD-10-CM and ICD-10-GM.",
        ] {
            assert!(w.contains(part), "{part}: {w}");
        }
        // E14 maps to CM E11 too: named once.
        assert_eq!(w.matches("ICD-10-CM E11 ").count(), 1, "{w}");
        no_count(w);
        // GM covered, CM only partly (E11.9 exactly): CM E11 is named, GM
        // is not.
        let part = q(&[
            (System::Icd10Se, "E11", true),
            (System::Icd10Cm, "E11.9", false),
            (System::Icd10Gm, "E11", true),
        ]);
        let w = diagnosis_warnings(&part, &all, &lists);
        assert!(
            w[0].contains("ICD-10-CM E11 (wider)") && !w[0].contains("GM"),
            "{w:?}"
        );
        // Below the rows (SE E11.9 judged by GM's E11 row): naming GM codes
        // within E11 is enough.
        let below = q(&[
            (System::Icd10Se, "E11.9", false),
            (System::Icd10Cm, "E11.9", false),
            (System::Icd10Gm, "E11.9", true),
        ]);
        assert!(diagnosis_warnings(&below, &all, &lists).is_empty());
        // A stroke not specified as haemorrhage or infarction is CM I63.9;
        // without a covering list the warning says to name the codes.
        let w = diagnosis_warnings(&q(&[(System::Icd10Se, "I64", true)]), &all, &lists);
        assert!(
            w[0].contains("ICD-10-CM I63.9 (wider), ICD-10-GM I64 (equivalent)"),
            "{w:?}"
        );
        assert!(w[0].ends_with("Name those codes too."), "{w:?}");
    }
}
