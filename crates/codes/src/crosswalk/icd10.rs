//! The ICD-10-SE ↔ ICD-10-CM / ICD-10-GM crosswalk where the editions
//! coincide (`data/crosswalk_icd10.tsv`, sources and licences in
//! `data/crosswalk_icd10.md`): the WHO ICD-10 categories, and a few
//! 4-character subcategories, of the diagnoses the built-in named lists
//! cover, each row relating an ICD-10-SE code with its descendants to a
//! code of the other edition with its descendants, with an
//! [`Equivalence`] and the basis of the judgement.
//!
//! [`diagnosis_warnings`] is the qualitative warning for a query that names
//! such a diagnosis in one edition (ICD-10-SE, ICD-10-CM or ICD-10-GM)
//! while the snapshot holds another edition too and the query does not
//! name the counterparts there. It is computed from the query's code
//! patterns and the code systems the snapshot holds, never from a count.

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

/// A counterpart a criterion leaves out: the edition, the code (with its
/// descendants) and how it relates to the code the criterion names.
struct Gap {
    system: System,
    code: String,
    equivalence: Equivalence,
}

/// The relation read the other way (ICD-10-CM to ICD-10-SE).
fn invert(e: Equivalence) -> Equivalence {
    match e {
        Equivalence::Wider => Equivalence::Narrower,
        Equivalence::Narrower => Equivalence::Wider,
        other => other,
    }
}

/// The relation of `a` then `b` (ICD-10-CM to ICD-10-SE to ICD-10-GM):
/// an equivalent step keeps the other; two steps the same way keep their
/// direction; anything else is only related.
fn compose(a: Equivalence, b: Equivalence) -> Equivalence {
    match (a, b) {
        (Equivalence::Equivalent, x) | (x, Equivalence::Equivalent) => x,
        (x, y) if x == y => x,
        _ => Equivalence::RelatedTo,
    }
}

/// Warnings for a query whose criteria name diagnoses (`criteria`: per
/// criterion, the ICD-10 patterns it names in any edition, lists expanded)
/// when the snapshot holds codes of `held` systems, in every direction of
/// the crosswalk:
///
/// * each ICD-10-SE pattern of a concept in the crosswalk, where the
///   snapshot holds ICD-10-CM or ICD-10-GM codes too and the criterion
///   does not cover the counterpart codes in those editions, gets a
///   warning naming them (with the row's equivalence), and naming the
///   editions that have no counterpart;
/// * each ICD-10-CM or ICD-10-GM pattern that is (or lies within) the
///   counterpart of a crosswalk row, where the snapshot holds ICD-10-SE or
///   the other foreign edition and the criterion does not cover the row's
///   ICD-10-SE code or its counterpart in the other edition, gets the same
///   kind of warning (the relation read from the named code: ICD-10-CM
///   `E11` is wider than ICD-10-SE `E11`, so ICD-10-SE `E11` is
///   `narrower`; through ICD-10-SE to the other edition, two relations of
///   the same direction keep it and mixed ones are `related`).
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
    let mut out: Vec<String> = Vec::new();
    for named in criteria {
        for (system, pattern) in named {
            let found = if *system == System::Icd10Se {
                se_gaps(named, pattern, held)
            } else if TARGETS.contains(system) {
                foreign_gaps(named, system, pattern, held)
            } else {
                None
            };
            let Some(found) = found else {
                continue;
            };
            let w = warning(system, pattern, &found, list_for);
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

/// What a warning about one named pattern is made of.
struct Found<'a> {
    /// Counterparts left out.
    missing: Vec<Gap>,
    /// Editions without a counterpart of an ICD-10-SE code: (edition,
    /// ICD-10-SE code).
    none: Vec<(System, String)>,
    /// The crosswalk rows the pattern touches.
    touched: Vec<&'a Icd10Mapping>,
    /// What the named pattern covers, in its own edition, for the list.
    own: Vec<String>,
}

/// Does the criterion cover `code` of `system` (with its descendants)?
/// `above`: the named code lies below the crosswalk row, so naming codes
/// within the counterpart at all counts as covering it (the rows do not
/// say which).
fn covered(named: &[(System, Pattern)], system: &System, code: &str, above: bool) -> bool {
    named
        .iter()
        .any(|(s, p)| s == system && (p.covers(code) || (above && within(p, code))))
}

/// The gaps of an ICD-10-SE pattern: its counterparts in the foreign
/// editions the snapshot holds.
fn se_gaps<'a>(
    named: &[(System, Pattern)],
    pattern: &Pattern,
    held: &BTreeSet<System>,
) -> Option<Found<'a>> {
    let rows = icd10_crosswalk();
    let mut found = Found {
        missing: Vec::new(),
        none: Vec::new(),
        touched: Vec::new(),
        own: Vec::new(),
    };
    for target in TARGETS.iter().filter(|t| held.contains(*t)) {
        for r in rows_for(rows, pattern, target) {
            found.touched.push(r);
            match &r.target {
                Some(code) => {
                    // A row above the query's level (SE E11.9 judged by
                    // E11) counts as covered when the criterion names
                    // codes within the counterpart at all (GM E11.9).
                    let above = match pattern {
                        Pattern::Exact(c) | Pattern::Prefix(c) => c.len() > r.se.len(),
                        Pattern::Block(..) => false,
                    };
                    if !covered(named, target, code, above) {
                        found.missing.push(Gap {
                            system: target.clone(),
                            code: code.clone(),
                            equivalence: r.equivalence,
                        });
                    }
                }
                None => {
                    if !named.iter().any(|(s, _)| s == target) {
                        found.none.push((target.clone(), r.se.clone()));
                    }
                }
            }
        }
    }
    if found.missing.is_empty() && found.none.is_empty() {
        return None;
    }
    match pattern {
        Pattern::Exact(c) | Pattern::Prefix(c) => found.own.push(c.clone()),
        Pattern::Block(..) => {
            for r in &found.touched {
                if !found.own.contains(&r.se) {
                    found.own.push(r.se.clone());
                }
            }
        }
    }
    Some(found)
}

/// The rows of `source` (ICD-10-CM or ICD-10-GM) whose counterpart a
/// pattern of that edition touches: every row whose counterpart it
/// covers; failing that, for a code, the rows of the most specific
/// counterpart it lies within (`above`).
fn foreign_rows<'a>(
    rows: &'a [Icd10Mapping],
    pattern: &Pattern,
    source: &System,
) -> (Vec<&'a Icd10Mapping>, bool) {
    let of_source = || {
        rows.iter()
            .filter(move |r| r.system == *source)
            .filter_map(|r| Some((r, r.target.as_deref()?)))
    };
    let inside: Vec<(&Icd10Mapping, &str)> =
        of_source().filter(|(_, t)| pattern.covers(t)).collect();
    if !inside.is_empty() {
        return (same_code_first(inside), false);
    }
    let (Pattern::Exact(c) | Pattern::Prefix(c)) = pattern else {
        return (Vec::new(), false);
    };
    let containing: Vec<(&Icd10Mapping, &str)> =
        of_source().filter(|(_, t)| c.starts_with(t)).collect();
    let longest = containing.iter().map(|(_, t)| t.len()).max().unwrap_or(0);
    let rows = containing
        .into_iter()
        .filter(|(_, t)| t.len() == longest)
        .collect();
    (same_code_first(rows), true)
}

/// Of rows sharing a counterpart, the one whose ICD-10-SE code is that
/// same code where there is one: ICD-10-CM `E11` is the counterpart of
/// ICD-10-SE `E11` and, wider, of `E14` (diabetes not specified as type 1
/// or 2); read back, ICD-10-CM `E11` is ICD-10-SE `E11` (the crosswalk
/// says the rest from the ICD-10-SE side).
fn same_code_first<'a>(rows: Vec<(&'a Icd10Mapping, &str)>) -> Vec<&'a Icd10Mapping> {
    rows.iter()
        .filter(|(r, t)| r.se == *t || !rows.iter().any(|(x, u)| u == t && x.se == *u))
        .map(|(r, _)| *r)
        .collect()
}

/// The gaps of an ICD-10-CM or ICD-10-GM pattern: the ICD-10-SE codes of
/// the rows it touches and their counterparts in the other foreign
/// edition, where the snapshot holds them.
fn foreign_gaps<'a>(
    named: &[(System, Pattern)],
    source: &System,
    pattern: &Pattern,
    held: &BTreeSet<System>,
) -> Option<Found<'a>> {
    let rows = icd10_crosswalk();
    let (touched, above) = foreign_rows(rows, pattern, source);
    let mut found = Found {
        missing: Vec::new(),
        none: Vec::new(),
        touched: Vec::new(),
        own: Vec::new(),
    };
    let others: Vec<&System> = TARGETS
        .iter()
        .filter(|t| *t != source && held.contains(*t))
        .collect();
    for r in touched {
        found.touched.push(r);
        let back = invert(r.equivalence);
        if held.contains(&System::Icd10Se) && !covered(named, &System::Icd10Se, &r.se, above) {
            found.missing.push(Gap {
                system: System::Icd10Se,
                code: r.se.clone(),
                equivalence: back,
            });
        }
        for other in &others {
            for x in rows.iter().filter(|x| x.system == **other && x.se == r.se) {
                match &x.target {
                    Some(code) => {
                        if !covered(named, other, code, above) {
                            found.missing.push(Gap {
                                system: (*other).clone(),
                                code: code.clone(),
                                equivalence: compose(back, x.equivalence),
                            });
                        }
                    }
                    None => {
                        if !named.iter().any(|(s, _)| s == *other) {
                            found.none.push(((*other).clone(), x.se.clone()));
                        }
                    }
                }
            }
        }
    }
    // A code within another left-out code of its edition (each with its
    // descendants) is said by that one.
    let all: Vec<(System, String)> = found
        .missing
        .iter()
        .map(|g| (g.system.clone(), g.code.clone()))
        .collect();
    found.missing.retain(|g| {
        !all.iter()
            .any(|(s, c)| *s == g.system && *c != g.code && g.code.starts_with(c.as_str()))
    });
    if found.missing.is_empty() && found.none.is_empty() {
        return None;
    }
    match pattern {
        Pattern::Exact(c) | Pattern::Prefix(c) => found.own.push(c.clone()),
        Pattern::Block(..) => {
            for t in found.touched.iter().filter_map(|r| r.target.as_ref()) {
                if !found.own.contains(t) {
                    found.own.push(t.clone());
                }
            }
        }
    }
    Some(found)
}

/// Does `p` name codes within `code` (with its descendants)?
fn within(p: &Pattern, code: &str) -> bool {
    match p {
        Pattern::Exact(c) | Pattern::Prefix(c) => c.starts_with(code),
        Pattern::Block(..) => p.covers(code),
    }
}

fn pattern_label(system: &System, p: &Pattern) -> String {
    match p {
        Pattern::Exact(c) => display_code(system, c),
        Pattern::Prefix(c) => format!("{} (with descendants)", display_code(system, c)),
        Pattern::Block(a, b) => format!("{a}-{b}"),
    }
}

fn warning(
    source: &System,
    pattern: &Pattern,
    found: &Found<'_>,
    list_for: &CoveringList<'_>,
) -> String {
    // The list must cover what the query names in its edition and the
    // counterparts it leaves out.
    let mut cover: Vec<(System, String)> = found
        .own
        .iter()
        .map(|c| (source.clone(), c.clone()))
        .collect();
    for g in &found.missing {
        if !cover.iter().any(|(s, c)| *s == g.system && *c == g.code) {
            cover.push((g.system.clone(), g.code.clone()));
        }
    }
    let mut preferred: Vec<&str> = Vec::new();
    for r in &found.touched {
        if !preferred.contains(&r.concept) {
            preferred.push(r.concept);
        }
    }
    let list = list_for(&cover, &preferred);
    let mut editions: Vec<&str> = Vec::new();
    for s in found
        .missing
        .iter()
        .map(|g| &g.system)
        .chain(found.none.iter().map(|(s, _)| s))
    {
        if !editions.contains(&s.name()) {
            editions.push(s.name());
        }
    }
    let editions = editions.join(" and ");
    let mut head = format!(
        "{} {}: this snapshot also holds {editions} codes from other sources",
        source.name(),
        pattern_label(source, pattern)
    );
    if !found.missing.is_empty() {
        let mut seen: Vec<(&System, &str)> = Vec::new();
        let codes = found
            .missing
            .iter()
            .filter_map(|g| {
                if seen.contains(&(&g.system, g.code.as_str())) {
                    return None;
                }
                seen.push((&g.system, g.code.as_str()));
                Some(format!(
                    "{} {} ({})",
                    g.system.name(),
                    display_code(&g.system, &g.code),
                    g.equivalence.label()
                ))
            })
            .collect::<Vec<_>>()
            .join(", ");
        head.push_str(&format!(
            ", and the query does not name their counterparts; not counted (each with its descendants): {codes}"
        ));
    }
    head.push('.');
    let mut said: Vec<&(System, String)> = Vec::new();
    for n in &found.none {
        if said.contains(&n) {
            continue;
        }
        said.push(n);
        head.push_str(&format!(
            " {} has no counterpart of ICD-10-SE {}.",
            n.0.name(),
            display_code(&System::Icd10Se, &n.1)
        ));
    }
    match list {
        Some(l) => format!(
            "{head} Use the list `{l}`, which covers {} and {editions}.",
            source.name()
        ),
        None if found.missing.is_empty() => head,
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
        // Codes of systems outside the crosswalk never warn here.
        assert!(diagnosis_warnings(&q(&[(System::Atc, "A10", true)]), &se_cm, &lists).is_empty());
    }

    #[test]
    fn a_foreign_code_where_the_snapshot_holds_se_or_the_other_edition_is_warned() {
        let all = held(&[System::Icd10Se, System::Icd10Cm, System::Icd10Gm]);
        let se_cm = held(&[System::Icd10Se, System::Icd10Cm]);
        // ICD-10-CM I48: ICD-10-SE I48 (and GM I48) are its counterparts.
        let w = diagnosis_warnings(&q(&[(System::Icd10Cm, "I48", true)]), &se_cm, &lists);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(
            w[0],
            "ICD-10-CM I48 (with descendants): this snapshot also holds ICD-10-SE codes from \
             other sources, and the query does not name their counterparts; not counted (each \
             with its descendants): ICD-10-SE I48 (equivalent). Use the list \
             `atrial_fibrillation`, which covers ICD-10-CM and ICD-10-SE."
        );
        no_count(&w[0]);
        let w = diagnosis_warnings(&q(&[(System::Icd10Cm, "I48", true)]), &all, &lists);
        assert!(
            w[0].contains("ICD-10-SE I48 (equivalent), ICD-10-GM I48 (equivalent)"),
            "{w:?}"
        );
        // ICD-10-CM E11 is wider than ICD-10-SE E11 (so SE E11 is
        // narrower); read back it is SE E11, not also E14 (whose row says
        // CM E11 from the SE side); the subcategory rows are said by E11.
        let w = diagnosis_warnings(&q(&[(System::Icd10Cm, "E11", true)]), &all, &lists);
        assert_eq!(w.len(), 1, "{w:?}");
        for part in [
            "ICD-10-CM E11 (with descendants): this snapshot also holds ICD-10-SE and ICD-10-GM codes",
            "not counted (each with its descendants): ICD-10-SE E11 (narrower), ICD-10-GM E11 (narrower).",
            "Use the list `diabetes`, which covers ICD-10-CM and ICD-10-SE and ICD-10-GM.",
        ] {
            assert!(w[0].contains(part), "{part}: {}", w[0]);
        }
        assert!(!w[0].contains("E11.2") && !w[0].contains("E14"), "{}", w[0]);
        // ICD-10-CM I63.9 is the counterpart of SE I63.9 and of SE I64:
        // read back, SE I63.9 only.
        let w = diagnosis_warnings(&q(&[(System::Icd10Cm, "I63.9", false)]), &se_cm, &lists);
        assert!(w[0].contains("ICD-10-SE I63.9 (narrower)."), "{w:?}");
        assert!(!w[0].contains("I64"), "{w:?}");
        // A code below every row is judged by the nearest counterpart
        // above it (CM I48.91 by I48.9); naming SE codes within I48.9
        // covers it.
        let w = diagnosis_warnings(&q(&[(System::Icd10Cm, "I48.91", false)]), &se_cm, &lists);
        assert!(w[0].starts_with("ICD-10-CM I48.91:"), "{w:?}");
        assert!(w[0].contains("ICD-10-SE I48.9 (equivalent)."), "{w:?}");
        let below = q(&[
            (System::Icd10Cm, "I48.91", false),
            (System::Icd10Se, "I48.9", false),
        ]);
        // (ICD-10-SE I48.9 is still warned: CM I48.91 is only part of
        // its counterpart CM I48.9.)
        let w = diagnosis_warnings(&below, &se_cm, &lists);
        assert!(
            w.len() == 1 && w[0].starts_with("ICD-10-SE I48.9:"),
            "{w:?}"
        );
        // ICD-10-GM E12: ICD-10-CM has no counterpart (and SE is not held).
        let gm_cm = held(&[System::Icd10Gm, System::Icd10Cm]);
        let w = diagnosis_warnings(&q(&[(System::Icd10Gm, "E10-E14", true)]), &gm_cm, &lists);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("ICD-10-GM E10-E14: this snapshot also holds ICD-10-CM codes"),
            "{w:?}"
        );
        assert!(w[0].contains("ICD-10-CM E10 (equivalent)"), "{w:?}");
        assert!(
            w[0].contains("ICD-10-CM has no counterpart of ICD-10-SE E12."),
            "{w:?}"
        );
        assert!(
            !w[0].contains("(each with its descendants): ICD-10-SE"),
            "{w:?}"
        );
        // Every counterpart named, or the snapshot holds only the named
        // edition: nothing.
        let full = q(&[
            (System::Icd10Cm, "I48", true),
            (System::Icd10Se, "I48", true),
            (System::Icd10Gm, "I48", true),
        ]);
        assert!(diagnosis_warnings(&full, &all, &lists).is_empty());
        let cm = held(&[System::Icd10Cm]);
        assert!(diagnosis_warnings(&q(&[(System::Icd10Cm, "I48", true)]), &cm, &lists).is_empty());
        // A CM code outside the crosswalk: nothing.
        assert!(diagnosis_warnings(&q(&[(System::Icd10Cm, "J18", true)]), &all, &lists).is_empty());
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
