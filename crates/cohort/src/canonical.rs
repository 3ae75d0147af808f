//! Canonical form and hash of a query.
//!
//! Two queries that mean the same thing, written differently, get the same
//! hash: labels are dropped (they name, they do not select); codes are
//! normalised (`e11.9` → `E119`), sorted and deduplicated; filter lists are
//! sorted and deduplicated; AND/OR are flattened (`and(a, and(b, c))` =
//! `and(a, b, c)`), their children sorted and deduplicated, and a single
//! child stands for itself; `not(not(x))` = `x`; defaults are written out;
//! numbers are written in one format (`7`, `7.0` and `7e0` are the same);
//! steps are sorted except for a funnel, where their order is the answer.
//! The hash is the SHA-256 (lower-case hex) of the canonical JSON.

use sha2::{Digest, Sha256};

use crate::codeset::{canonical_code, system_id};
use crate::query::{
    At, Criterion, DEFAULT_AGE_BANDS, EventCriterion, Output, PersonCriterion, Query, Step,
};

/// The canonical form of `q` (assumed valid).
pub fn canonicalise(q: &Query) -> Query {
    let keep_order = matches!(q.output, Output::Funnel {});
    let has_index = q.index.is_some();
    Query {
        version: q.version,
        index: q.index.as_ref().map(|ix| crate::query::IndexDef {
            event: event(&ix.event),
            occurrence: ix.occurrence,
        }),
        criteria: steps(&q.criteria, keep_order),
        output: match &q.output {
            Output::Count {} => Output::Count {},
            Output::Funnel {} => Output::Funnel {},
            Output::Strata { by, age_bands, at } => {
                let mut by = by.clone();
                by.sort();
                by.dedup();
                Output::Strata {
                    by,
                    age_bands: Some(
                        age_bands
                            .clone()
                            .unwrap_or_else(|| DEFAULT_AGE_BANDS.to_vec()),
                    ),
                    at: at.or(if has_index { Some(At::Index) } else { None }),
                }
            }
            Output::Proportion { numerator } => Output::Proportion {
                numerator: steps(numerator, false),
            },
            Output::TimeSeries {
                event: e,
                interval,
                from,
                to,
                by,
                age_bands,
            } => Output::TimeSeries {
                event: event(e),
                interval: *interval,
                from: *from,
                to: *to,
                by: *by,
                age_bands: Some(
                    age_bands
                        .clone()
                        .unwrap_or_else(|| DEFAULT_AGE_BANDS.to_vec()),
                ),
            },
        },
    }
}

/// The canonical JSON text of `q`.
pub fn canonical_json(q: &Query) -> String {
    to_json(&canonicalise(q))
}

/// SHA-256 (hex) of the canonical JSON of `q`.
pub fn query_hash(q: &Query) -> String {
    hex::encode(Sha256::digest(canonical_json(q).as_bytes()))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serialising these plain data types cannot fail (string keys only, and
    // non-finite numbers are rejected by validation and written as null).
    serde_json::to_string(v).unwrap_or_default()
}

fn steps(s: &[Step], keep_order: bool) -> Vec<Step> {
    let mut out: Vec<Step> = s
        .iter()
        .map(|st| Step {
            label: None,
            include: st.include.as_ref().map(criterion),
            exclude: st.exclude.as_ref().map(criterion),
        })
        .collect();
    if !keep_order {
        let mut keyed: Vec<(String, Step)> = out.into_iter().map(|s| (to_json(&s), s)).collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.dedup_by(|a, b| a.0 == b.0);
        out = keyed.into_iter().map(|(_, s)| s).collect();
    }
    out
}

fn criterion(c: &Criterion) -> Criterion {
    match c {
        Criterion::Event(e) => Criterion::Event(event(e)),
        Criterion::Person(p) => Criterion::Person(person(p)),
        Criterion::Not(inner) => match criterion(inner) {
            Criterion::Not(x) => *x,
            other => Criterion::Not(Box::new(other)),
        },
        Criterion::And(cs) | Criterion::Or(cs) => {
            let is_and = matches!(c, Criterion::And(_));
            let mut flat = Vec::new();
            for child in cs {
                match (criterion(child), is_and) {
                    (Criterion::And(gs), true) | (Criterion::Or(gs), false) => flat.extend(gs),
                    (other, _) => flat.push(other),
                }
            }
            let mut keyed: Vec<(String, Criterion)> =
                flat.into_iter().map(|c| (to_json(&c), c)).collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            keyed.dedup_by(|a, b| a.0 == b.0);
            let mut children: Vec<Criterion> = keyed.into_iter().map(|(_, c)| c).collect();
            if children.len() == 1
                && let Some(only) = children.pop()
            {
                return only;
            }
            if is_and {
                Criterion::And(children)
            } else {
                Criterion::Or(children)
            }
        }
    }
}

fn sorted<T: Ord + Clone>(v: &Option<Vec<T>>) -> Option<Vec<T>> {
    v.as_ref().map(|v| {
        let mut v = v.clone();
        v.sort();
        v.dedup();
        v
    })
}

fn num(x: Option<f64>) -> Option<f64> {
    // -0.0 and 0.0 mean the same.
    x.map(|x| x + 0.0)
}

fn event(e: &EventCriterion) -> EventCriterion {
    let codes = e.codes.as_ref().map(|sets| {
        let mut sets: Vec<_> = sets
            .iter()
            .map(|s| {
                let mut s = s.clone();
                let system = s.system.clone().unwrap_or_default();
                if let Some(cs) = &mut s.codes {
                    for c in cs.iter_mut() {
                        *c = canonical_code(&system, c, s.descendants);
                    }
                    cs.sort();
                    cs.dedup();
                }
                if let Some(id) = s.system.as_deref().and_then(system_id) {
                    s.system = Some(id);
                }
                s
            })
            .collect();
        sets.sort();
        sets.dedup();
        sets
    });
    EventCriterion {
        domain: e.domain,
        codes,
        value: e.value.as_ref().map(|v| crate::query::ValueFilter {
            gt: num(v.gt),
            gte: num(v.gte),
            lt: num(v.lt),
            lte: num(v.lte),
            // One spelling per unit (`mmol/l`, `mmol/L` → `mmol/L`).
            unit: halsohub_codes::units::normalise_unit(&v.unit)
                .map(str::to_string)
                .unwrap_or_else(|_| v.unit.trim().to_string()),
        }),
        date: e.date.filter(|d| d.from.is_some() || d.to.is_some()),
        setting: sorted(&e.setting),
        provider: sorted(&e.provider),
        provider_region: sorted(&e.provider_region),
        source: sorted(&e.source),
        occurrence: e.occurrence,
        at_least: e.at_least,
        within: e.within,
    }
}

fn person(p: &PersonCriterion) -> PersonCriterion {
    match p {
        PersonCriterion::Region(r) => {
            let mut regions = r.regions.clone();
            regions.sort();
            regions.dedup();
            PersonCriterion::Region(crate::query::RegionFilter { regions, at: r.at })
        }
        other => other.clone(),
    }
}
