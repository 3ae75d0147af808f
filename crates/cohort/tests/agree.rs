//! Property test: on random small stores and random queries, the fast
//! engine and the reference evaluator give identical results (or the same
//! error).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may unwrap

use std::collections::BTreeSet;

use chrono::NaiveDate;
use halsohub_cohort::reference::{self, Data};
use halsohub_cohort::*;
use halsohub_identity::Pseudonym;
use halsohub_store::{Comparator, Domain, Event, Person, Residence, Setting};
use proptest::prelude::*;

fn pid(i: u8) -> Pseudonym {
    Pseudonym::from_bytes([i.wrapping_mul(37); 16])
}

fn day(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days(n)
}

const DIAG: [&str; 7] = ["E10", "E110", "E119", "E14", "I50", "I509", "J45"];
const DRUG: [&str; 4] = ["A10BA02", "A10AB01", "B01AC04", "C07AB02"];
const LAB: [&str; 2] = ["NPU27300", "NPU04998"];
const UNITS: [&str; 4] = ["mmol/mol", "mmol/L", "umol/L", "%"];
const PROVIDERS: [&str; 3] = ["P1", "P2", "P3"];
const REGIONS: [&str; 3] = ["01", "03", "14"];
const SOURCES: [&str; 3] = ["par", "lab", "pc"];

fn setting() -> impl Strategy<Value = Option<Setting>> {
    prop_oneof![
        Just(None),
        Just(Some(Setting::Inpatient)),
        Just(Some(Setting::Outpatient)),
        Just(Some(Setting::PrimaryCare)),
    ]
}

fn event(patients: u8) -> impl Strategy<Value = Event> {
    (
        0..patients,
        0usize..3,
        0usize..7,
        0i64..60,
        setting(),
        proptest::option::of(0usize..3),
        proptest::option::of(0usize..3),
        0usize..3,
        (proptest::option::of(0u32..120), 0usize..6, 0usize..5),
    )
        .prop_map(
            |(p, dom, code, d, setting, prov, reg, src, (value, cmp, unit))| {
                let (domain, system, code) = match dom {
                    0 => (Domain::Diagnosis, "icd10se", DIAG[code]),
                    1 => (Domain::DispensedDrug, "atc", DRUG[code % DRUG.len()]),
                    _ => (Domain::LabResult, "npu", LAB[code % LAB.len()]),
                };
                let lab = domain == Domain::LabResult;
                Event {
                    patient: pid(p),
                    domain,
                    system: system.into(),
                    code: code.into(),
                    code_known: true,
                    start: day(d),
                    end: None,
                    value: if lab { value.map(f64::from) } else { None },
                    comparator: if lab {
                        [
                            None,
                            None,
                            Some(Comparator::Lt),
                            Some(Comparator::Gt),
                            Some(Comparator::Le),
                            Some(Comparator::Ge),
                        ][cmp]
                    } else {
                        None
                    },
                    unit: if lab {
                        UNITS.get(unit).map(|u| u.to_string())
                    } else {
                        None
                    },
                    value_system: None,
                    value_code: None,
                    value_text: None,
                    quantity: None,
                    setting,
                    primary: None,
                    provider: prov.map(|i| PROVIDERS[i].to_string()),
                    provider_region: reg.map(|i| REGIONS[i].to_string()),
                    source: SOURCES[src].into(),
                }
            },
        )
}

fn person(p: u8) -> impl Strategy<Value = Person> {
    (
        prop_oneof![Just(None), Just(Some('F')), Just(Some('M'))],
        proptest::option::of(-30000i64..40),
        proptest::option::of(0i64..80),
    )
        .prop_map(move |(sex, birth, death)| Person {
            patient: pid(p),
            sex,
            birth_date: birth.map(day),
            death_date: death.map(day),
        })
}

fn residence(patients: u8) -> impl Strategy<Value = Residence> {
    (
        0..patients,
        0usize..3,
        -40i64..50,
        proptest::option::of(1i64..60),
    )
        .prop_map(|(p, r, from, len)| Residence {
            patient: pid(p),
            region: REGIONS[r].into(),
            municipality: None,
            from: day(from),
            to: len.map(|l| day(from + l)),
        })
}

#[derive(Debug, Clone)]
struct Store {
    events: Vec<Event>,
    persons: Vec<Person>,
    residences: Vec<Residence>,
    excluded: Vec<u8>,
}

fn store() -> impl Strategy<Value = Store> {
    (2u8..14).prop_flat_map(|n| {
        (
            proptest::collection::vec(event(n), 0..60),
            proptest::collection::vec(any::<bool>(), n as usize),
            proptest::collection::vec(residence(n), 0..16),
            proptest::collection::vec(0..n, 0..3),
        )
            .prop_flat_map(move |(events, has_person, residences, excluded)| {
                let persons: Vec<_> = has_person
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| **h)
                    .map(|(i, _)| person(i as u8).boxed())
                    .collect();
                (Just(events), persons, Just(residences), Just(excluded)).prop_map(
                    |(events, persons, residences, excluded)| Store {
                        events,
                        persons,
                        residences,
                        excluded,
                    },
                )
            })
    })
}

fn code_sets(dom: usize) -> impl Strategy<Value = Option<Vec<CodeSet>>> {
    let set = (0usize..7, any::<bool>(), 0usize..4).prop_map(move |(c, desc, kind)| match dom {
        0 => {
            if kind == 0 {
                CodeSet::codes("icd10se", &["E10-E14"], true)
            } else if kind == 1 {
                CodeSet {
                    system: None,
                    codes: None,
                    descendants: false,
                    list: Some("hf".into()),
                }
            } else {
                let code = ["E10", "E11", "E119", "I50", "J45", "e11.9", "I509"][c];
                CodeSet::codes("icd10se", &[code], desc)
            }
        }
        1 => {
            let code = ["A10", "A10B", "A10BA02", "B01AC04", "C07", "A10A", "B"][c];
            CodeSet::codes("atc", &[code], desc || code.len() < 7)
        }
        _ => CodeSet::codes("npu", &[LAB[c % 2]], false),
    });
    proptest::option::of(proptest::collection::vec(set, 1..3))
}

fn window() -> impl Strategy<Value = Window> {
    (
        proptest::option::of(-40i32..10),
        proptest::option::of(-10i32..40),
    )
        .prop_map(|(a, b)| {
            let (a, b) = match (a, b) {
                (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
                x => x,
            };
            Window { days: [a, b] }
        })
}

fn event_criterion(with_window: bool) -> impl Strategy<Value = EventCriterion> {
    (0usize..3)
        .prop_flat_map(move |dom| {
            (
                Just(dom),
                code_sets(dom),
                proptest::option::of((0u32..100, 0usize..4, 0usize..4)),
                proptest::option::of((
                    proptest::option::of(0i64..60),
                    proptest::option::of(0i64..60),
                )),
                proptest::option::of(proptest::sample::subsequence(
                    vec![
                        Setting::Inpatient,
                        Setting::Outpatient,
                        Setting::PrimaryCare,
                    ],
                    1..3,
                )),
                proptest::option::of(proptest::sample::subsequence(PROVIDERS.to_vec(), 1..3)),
                proptest::option::of(proptest::sample::subsequence(REGIONS.to_vec(), 1..3)),
                (
                    proptest::option::of(proptest::sample::subsequence(SOURCES.to_vec(), 1..3)),
                    prop_oneof![
                        Just(Occurrence::Any),
                        Just(Occurrence::First),
                        Just(Occurrence::Last)
                    ],
                    1u32..4,
                    if with_window {
                        proptest::option::of(window()).boxed()
                    } else {
                        Just(None).boxed()
                    },
                ),
            )
        })
        .prop_map(
            |(
                dom,
                codes,
                value,
                date,
                setting,
                provider,
                region,
                (source, occ, at_least, within),
            )| {
                let domain = [Domain::Diagnosis, Domain::DispensedDrug, Domain::LabResult][dom];
                let mut e = EventCriterion::new(domain);
                e.codes = codes;
                if domain == Domain::LabResult {
                    e.value = value.map(|(t, kind, unit)| {
                        let t = f64::from(t);
                        let mut v = ValueFilter {
                            gt: None,
                            gte: None,
                            lt: None,
                            lte: None,
                            unit: UNITS[unit].into(),
                        };
                        match kind {
                            0 => v.gt = Some(t),
                            1 => v.gte = Some(t),
                            2 => v.lt = Some(t),
                            _ => {
                                v.gte = Some(t);
                                v.lte = Some(t + 30.0);
                            }
                        }
                        v
                    });
                }
                e.date = date.map(|(a, b)| {
                    let (a, b) = match (a, b) {
                        (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
                        x => x,
                    };
                    DateRange {
                        from: a.map(day),
                        to: b.map(day),
                    }
                });
                e.setting = setting;
                e.provider = provider.map(|v| v.iter().map(|s| s.to_string()).collect());
                e.provider_region = region.map(|v| v.iter().map(|s| s.to_string()).collect());
                e.source = source.map(|v| v.iter().map(|s| s.to_string()).collect());
                e.occurrence = occ;
                e.at_least = if occ == Occurrence::Any { at_least } else { 1 };
                e.within = within;
                e
            },
        )
}

fn at(with_index: bool) -> BoxedStrategy<At> {
    if with_index {
        prop_oneof![Just(At::Index), (0i64..70).prop_map(|d| At::Date(day(d)))].boxed()
    } else {
        (0i64..70).prop_map(|d| At::Date(day(d))).boxed()
    }
}

fn person_criterion(with_index: bool) -> impl Strategy<Value = PersonCriterion> {
    prop_oneof![
        prop_oneof![Just(Sex::F), Just(Sex::M)].prop_map(PersonCriterion::Sex),
        (
            proptest::option::of(0u32..60),
            proptest::option::of(0u32..90),
            at(with_index)
        )
            .prop_map(|(a, b, at)| {
                let (min, max) = match (a, b) {
                    (None, None) => (Some(18), None),
                    (Some(a), Some(b)) if a > b => (Some(b), Some(a)),
                    x => x,
                };
                PersonCriterion::Age(AgeRange { min, max, at })
            }),
        (1930i32..2021).prop_map(|y| PersonCriterion::BirthYear(YearRange {
            from: Some(y),
            to: Some(y + 20)
        })),
        (
            proptest::sample::subsequence(REGIONS.to_vec(), 1..3),
            at(with_index)
        )
            .prop_map(|(r, at)| {
                PersonCriterion::Region(RegionFilter {
                    regions: r.iter().map(|s| s.to_string()).collect(),
                    at,
                })
            }),
        at(with_index).prop_map(|at| PersonCriterion::Alive(AliveFilter { at })),
    ]
}

fn criterion(with_index: bool) -> impl Strategy<Value = Criterion> {
    let leaf = prop_oneof![
        3 => event_criterion(with_index).prop_map(Criterion::Event),
        1 => person_criterion(with_index).prop_map(Criterion::Person),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..3).prop_map(Criterion::And),
            proptest::collection::vec(inner.clone(), 1..3).prop_map(Criterion::Or),
            inner.prop_map(|c| Criterion::Not(Box::new(c))),
        ]
    })
}

fn steps(with_index: bool) -> impl Strategy<Value = Vec<Step>> {
    proptest::collection::vec(
        (criterion(with_index), any::<bool>()).prop_map(|(c, inc)| Step {
            label: None,
            include: if inc { Some(c.clone()) } else { None },
            exclude: if inc { None } else { Some(c) },
        }),
        0..3,
    )
}

fn output(with_index: bool) -> impl Strategy<Value = Output> {
    let dims = if with_index {
        vec![
            Dimension::Sex,
            Dimension::AgeBand,
            Dimension::Region,
            Dimension::Provider,
            Dimension::CalendarYear,
        ]
    } else {
        vec![Dimension::Sex, Dimension::AgeBand, Dimension::Region]
    };
    prop_oneof![
        Just(Output::Count {}),
        Just(Output::Funnel {}),
        (
            proptest::sample::subsequence(dims, 1..3),
            proptest::option::of(at(with_index)),
            any::<bool>()
        )
            .prop_map(move |(by, at, custom)| Output::Strata {
                by,
                age_bands: custom.then(|| vec![0, 18, 40, 65]),
                at: if with_index {
                    at
                } else {
                    Some(at.unwrap_or(At::Date(day(30))))
                },
            }),
        steps(with_index)
            .prop_filter("non-empty", |s| !s.is_empty())
            .prop_map(|numerator| Output::Proportion { numerator }),
        (
            event_criterion(false),
            any::<bool>(),
            0i64..30,
            20i64..70,
            proptest::option::of(prop_oneof![
                Just(Dimension::Sex),
                Just(Dimension::AgeBand),
                Just(Dimension::Region),
                Just(Dimension::Provider)
            ]),
        )
            .prop_map(|(mut e, monthly, from, to, by)| {
                e.occurrence = Occurrence::Any;
                e.at_least = 1;
                e.date = None;
                Output::TimeSeries {
                    event: e,
                    interval: if monthly {
                        Interval::Month
                    } else {
                        Interval::Year
                    },
                    from: day(from),
                    to: day(to),
                    by,
                    age_bands: None,
                }
            }),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    any::<bool>().prop_flat_map(|with_index| {
        let index = if with_index {
            (
                event_criterion(false),
                prop_oneof![
                    Just(Occurrence::First),
                    Just(Occurrence::Last),
                    Just(Occurrence::Any)
                ],
            )
                .prop_map(|(mut e, occ)| {
                    e.occurrence = Occurrence::Any;
                    e.at_least = 1;
                    Some(IndexDef {
                        event: e,
                        occurrence: occ,
                    })
                })
                .boxed()
        } else {
            Just(None).boxed()
        };
        (index, steps(with_index), output(with_index)).prop_map(|(index, criteria, output)| Query {
            version: 1,
            index,
            criteria,
            output,
        })
    })
}

fn lists() -> CodeLists {
    let mut l = CodeLists::new();
    l.insert("hf", vec![CodeSet::codes("icd10se", &["I50"], true)]);
    l
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn engine_agrees_with_reference(s in store(), q in query()) {
        let lists = lists();
        let data = Data { events: &s.events, persons: &s.persons, residences: &s.residences };
        let excluded: BTreeSet<Pseudonym> = s.excluded.iter().map(|i| pid(*i)).collect();
        let expected = reference::evaluate(&q, &lists, data, &excluded);
        let mut engine = Engine::build("s000001", &s.events, &s.persons, &s.residences);
        let got = engine.evaluate(&q, &lists, &engine.exclusion(excluded.iter()));
        prop_assert_eq!(got, expected, "query: {}", serde_json::to_string(&q).unwrap());
        // With person tags: the same numbers, and the fingerprint of the
        // persons behind every number agrees with the reference's sets.
        let tagger = halsohub_disclosure::PersonTagger::new(b"agree").unwrap();
        engine.set_person_tags(&tagger);
        let got = engine.evaluate_printed(&q, &lists, &engine.exclusion(excluded.iter()));
        let expected = reference::evaluate_printed(&q, &lists, data, &excluded, &tagger);
        prop_assert_eq!(&got, &expected, "query: {}", serde_json::to_string(&q).unwrap());
        // Scanned in pieces on every core (tiny pieces, so small stores
        // split): the same numbers and fingerprints.
        engine.set_parallel_chunk_rows(3);
        let split = engine.evaluate_printed(&q, &lists, &engine.exclusion(excluded.iter()));
        prop_assert_eq!(split, expected, "split query: {}", serde_json::to_string(&q).unwrap());
    }

    #[test]
    fn canonical_form_is_a_fixed_point_and_keeps_meaning(s in store(), q in query()) {
        let lists = lists();
        prop_assume!(validate(&q, &lists).is_ok());
        let c = canonicalise(&q);
        prop_assert_eq!(canonicalise(&c), c.clone());
        prop_assert_eq!(query_hash(&c), query_hash(&q));
        // The canonical query means the same: same numbers (funnel labels aside).
        let data = Data { events: &s.events, persons: &s.persons, residences: &s.residences };
        let none = BTreeSet::new();
        let a = reference::evaluate(&q, &lists, data, &none);
        let b = reference::evaluate(&c, &lists, data, &none);
        let strip = |r: Result<OutputResult, EvalError>| match r {
            Ok(OutputResult::Funnel { steps }) => Ok(OutputResult::Funnel {
                steps: steps.into_iter().map(|mut s| { s.label = String::new(); s }).collect(),
            }),
            Ok(OutputResult::Strata { mut cells, dimensions, total }) if dimensions.len() == 2 && dimensions[0] > dimensions[1] => {
                for c in &mut cells { c.key.reverse(); }
                cells.sort();
                Ok(OutputResult::Strata { cells, dimensions: dimensions.into_iter().rev().collect(), total })
            }
            other => other,
        };
        prop_assert_eq!(strip(a), strip(b));
    }
}

/// Writes a random store into a real store directory, builds the engine
/// from its Parquet and compares with the reference evaluator over the
/// records read back from the same snapshot.
fn snapshot_of(s: &Store, dir: &std::path::Path) -> halsohub_store::Snapshot {
    let store = halsohub_store::Store::open_for_load(dir, "fp-test").unwrap();
    let mut w = store.begin_load().unwrap();
    w.add_source(halsohub_store::SourceFile {
        path: "/data/random".into(),
        sha256: "00".repeat(32),
        format: "par_inpatient".into(),
    })
    .unwrap();
    w.write_events(&s.events).unwrap();
    w.write_persons(&s.persons).unwrap();
    w.write_residences(&s.residences).unwrap();
    w.commit(serde_json::json!({})).unwrap();
    store.snapshot(None).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn engine_from_snapshot_agrees_with_reference(s in store(), q in query()) {
        let lists = lists();
        let tmp = tempfile::tempdir().unwrap();
        let snap = snapshot_of(&s, &tmp.path().join("store"));
        let engine = Engine::from_snapshot(&snap).unwrap();
        let events: Vec<Event> = snap.events().unwrap().into_iter().map(|(_, e)| e).collect();
        // A persons row without sex, birth or death date is not "in the
        // population register" (see Engine::from_snapshot).
        let (persons, ghosts): (Vec<Person>, Vec<Person>) = snap
            .persons()
            .unwrap()
            .into_iter()
            .map(|p| p.person)
            .partition(|p| p.sex.is_some() || p.birth_date.is_some() || p.death_date.is_some());
        let residences: Vec<Residence> =
            snap.residences().unwrap().into_iter().map(|r| r.residence).collect();
        prop_assert_eq!(engine.event_count(), events.len());
        let data = Data { events: &events, persons: &persons, residences: &residences };
        let excluded: BTreeSet<Pseudonym> = s.excluded.iter().map(|i| pid(*i)).collect();
        let expected = reference::evaluate(&q, &lists, data, &excluded);
        // Such a person with neither events nor residences is a patient of
        // the engine (a known person) but invisible to the reference, which
        // knows patients only through records: leave them out of both.
        let mut engine_excluded = excluded.clone();
        for g in &ghosts {
            let seen = events.iter().any(|e| e.patient == g.patient)
                || residences.iter().any(|r| r.patient == g.patient);
            if !seen {
                engine_excluded.insert(g.patient);
            }
        }
        let got = engine.evaluate(&q, &lists, &engine.exclusion(engine_excluded.iter()));
        prop_assert_eq!(got, expected, "query: {}", serde_json::to_string(&q).unwrap());
    }
}
