//! Behaviour of the store through its public API.
#![allow(clippy::unwrap_used, clippy::expect_used)] // outside #[test] fns: helpers and the crash child

mod common;

use common::*;
use halsohub_store::{
    Alias, Domain, Event, ExportFormat, QuarantineRecord, SnapshotId, Store, StoreError, export,
};
use proptest::prelude::*;

fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_for_load(&dir.path().join("store"), FP).unwrap();
    (dir, store)
}

fn strip(v: Vec<(u32, Event)>) -> Vec<Event> {
    v.into_iter().map(|(_, e)| e).collect()
}

#[test]
fn empty_store_has_no_snapshot() {
    let (_d, store) = new_store();
    assert_eq!(store.current().unwrap(), None);
    assert!(!store.has_source("00").unwrap());
    let err = store.snapshot(None).unwrap_err();
    assert!(matches!(err, StoreError::NoSnapshot { .. }), "{err}");
    let info = store.info().unwrap();
    assert!(info.snapshots.is_empty());
    assert!(info.to_string().contains("nothing loaded"));
}

#[test]
fn load_commit_read_back() {
    let (_d, store) = new_store();
    let events = vec![event(1, "E119", 0), event(2, "I10", 5), event(1, "I10", 9)];
    let id = load(&store, "a.csv", &events);
    assert_eq!(id, SnapshotId("s000001".into()));
    assert_eq!(store.current().unwrap(), Some(id.clone()));
    let snap = store.snapshot(None).unwrap();
    assert_eq!(sorted(strip(snap.events().unwrap())), sorted(events));
    let m = snap.manifest();
    assert_eq!(m.events, 3);
    assert_eq!(m.patients, 2);
    assert_eq!(m.rows[&Domain::Diagnosis]["par_inpatient"], 3);
    let r = m.date_range.unwrap();
    assert_eq!((r.first, r.last), (date(2020, 1, 1), date(2020, 1, 10)));
    assert!(store.has_source(&source("a.csv").sha256).unwrap());
    assert_eq!(snap.load_report().unwrap()["rows"], 3);
    // Batches carry dense person ids that the persons table maps.
    let persons = snap.persons().unwrap();
    assert_eq!(persons.len(), 2);
    let batches: Vec<_> = snap
        .events_batches()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 3);
    assert_eq!(batches[0].schema().field(0).name(), "person_id");
}

#[test]
fn persons_merge_field_by_field_and_residences_accumulate() {
    let (_d, store) = new_store();
    let mut w = store.begin_load().unwrap();
    w.add_source(source("pop1")).unwrap();
    w.write_persons(&[person(1, 'F')]).unwrap();
    w.write_residences(&[residence(1, "01", date(2000, 1, 1))])
        .unwrap();
    w.commit(serde_json::json!({})).unwrap();

    let mut w = store.begin_load().unwrap();
    w.add_source(source("pop2")).unwrap();
    let mut p = person(1, 'F');
    p.sex = None;
    p.death_date = Some(date(2021, 5, 5));
    w.write_persons(&[p]).unwrap();
    let mut moved = residence(1, "01", date(2000, 1, 1));
    moved.to = Some(date(2010, 1, 1));
    w.write_residences(&[moved.clone(), residence(1, "14", date(2010, 1, 1))])
        .unwrap();
    w.commit(serde_json::json!({})).unwrap();

    let snap = store.snapshot(None).unwrap();
    let persons = snap.persons().unwrap();
    assert_eq!(persons.len(), 1);
    assert_eq!(persons[0].person.sex, Some('F'));
    assert_eq!(persons[0].person.birth_date, Some(date(1950, 1, 1)));
    assert_eq!(persons[0].person.death_date, Some(date(2021, 5, 5)));
    let res: Vec<_> = snap
        .residences()
        .unwrap()
        .into_iter()
        .map(|r| r.residence)
        .collect();
    assert_eq!(res, vec![moved, residence(1, "14", date(2010, 1, 1))]);
}

#[test]
fn snapshot_isolation() {
    let (_d, store) = new_store();
    let first = vec![event(1, "E119", 0)];
    load(&store, "a", &first);
    let held = store.snapshot(None).unwrap();
    let second = vec![event(2, "I10", 3), event(1, "J44", 4)];
    load(&store, "b", &second);
    // The held snapshot still reads exactly what it had.
    assert_eq!(held.id().0, "s000001");
    assert_eq!(strip(held.events().unwrap()), first);
    assert_eq!(held.persons().unwrap().len(), 1);
    // The new one has both loads, the first segment shared not copied.
    let now = store.snapshot(None).unwrap();
    assert_eq!(now.id().0, "s000002");
    let mut all = first.clone();
    all.extend(second);
    assert_eq!(sorted(strip(now.events().unwrap())), sorted(all));
    assert_eq!(now.manifest().segments.len(), 2);
    assert_eq!(now.manifest().segments[0], held.manifest().segments[0]);
    // Person ids are stable across snapshots.
    let id1 = |s: &halsohub_store::Snapshot| {
        s.persons()
            .unwrap()
            .into_iter()
            .find(|p| p.person.patient == pseudo(1))
            .unwrap()
            .person_id
    };
    assert_eq!(id1(&held), id1(&now));
    // Older snapshots stay addressable.
    let again = store.snapshot(Some(&SnapshotId("s000001".into()))).unwrap();
    assert_eq!(again.manifest().events, 1);
    assert!(store.snapshot(Some(&SnapshotId("s000009".into()))).is_err());
    assert!(store.snapshot(Some(&SnapshotId("../x".into()))).is_err());
    assert_eq!(store.snapshots().unwrap().len(), 2);
    assert_eq!(now.load_reports().unwrap().len(), 2);
}

#[test]
fn key_mismatch_is_refused() {
    let (d, _store) = new_store();
    let err = Store::open_for_load(&d.path().join("store"), "other")
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::KeyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("store.json"));
    // Reading needs no key.
    assert!(Store::open(&d.path().join("store")).is_ok());
}

#[test]
fn a_key_inside_the_store_or_of_another_store_is_refused() {
    let (d, _store) = new_store();
    let dir = d.path().join("store");
    let store = Store::open(&dir).unwrap();
    store
        .check_key(FP, Some(&d.path().join("hub.key")))
        .unwrap();
    store.check_key(FP, None).unwrap();
    let inside = dir.join("keys").join("hub.key");
    let err = store.check_key(FP, Some(&inside)).unwrap_err();
    assert!(matches!(err, StoreError::KeyInsideStore { .. }), "{err}");
    assert!(err.to_string().contains("inside the store"), "{err}");
    // a relative path and a symlink cannot hide it
    #[cfg(unix)]
    {
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        std::fs::create_dir_all(dir.join("keys")).unwrap();
        std::fs::write(&inside, "x").unwrap();
        let err = halsohub_store::refuse_key_inside(&dir, &link.join("keys").join("hub.key"));
        assert!(matches!(err, Err(StoreError::KeyInsideStore { .. })));
    }
    let err = store.check_key("other", None).unwrap_err();
    assert!(
        err.to_string().contains("is not the key of the store"),
        "{err}"
    );
}

#[test]
fn refuses_foreign_non_empty_directory() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("notes.txt"), "x").unwrap();
    let err = Store::open_for_load(d.path(), FP).err().unwrap();
    assert!(err.to_string().contains("no store.json"), "{err}");
    assert!(Store::open(d.path()).is_err());
}

#[test]
fn duplicate_source_is_refused() {
    let (_d, store) = new_store();
    load(&store, "a.csv", &[event(1, "E119", 0)]);
    let mut w = store.begin_load().unwrap();
    let err = w.add_source(source("a.csv")).unwrap_err();
    assert!(matches!(err, StoreError::DuplicateSource { .. }), "{err}");
    w.add_source(source("b.csv")).unwrap();
    let err = w.add_source(source("b.csv")).unwrap_err();
    assert!(matches!(err, StoreError::DuplicateSource { .. }), "{err}");
    drop(w);
    assert_eq!(store.snapshot(None).unwrap().manifest().events, 1);
}

#[test]
fn one_load_at_a_time() {
    let (_d, store) = new_store();
    let w = store.begin_load().unwrap();
    let err = store.begin_load().err().unwrap();
    assert!(matches!(err, StoreError::Busy { .. }), "{err}");
    drop(w);
    assert!(store.begin_load().is_ok());
}

#[test]
fn abandoned_load_changes_nothing() {
    let (_d, store) = new_store();
    load(&store, "a", &[event(1, "E119", 0)]);
    let mut w = store.begin_load().unwrap();
    w.add_source(source("b")).unwrap();
    w.write_events(&[event(2, "I10", 1)]).unwrap();
    drop(w);
    assert_eq!(store.current().unwrap().unwrap().0, "s000001");
    assert!(!store.has_source(&source("b").sha256).unwrap());
    let tmp = store.root().join("tmp");
    assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0);
    assert_eq!(load(&store, "b", &[event(2, "I10", 1)]).0, "s000002");
}

#[test]
fn alias_chains_link_earlier_events() {
    let (_d, store) = new_store();
    // Load 1: events under the oldest pseudonym 1.
    load(&store, "a", &[event(1, "E119", 0), event(9, "I10", 0)]);
    let before = store.snapshot(None).unwrap();
    let pid1 = before
        .persons()
        .unwrap()
        .iter()
        .find(|p| p.person.patient == pseudo(1))
        .unwrap()
        .person_id;
    // Load 2: a change file 1 -> 2 -> 3, and events under 2 and 3.
    let mut w = store.begin_load().unwrap();
    w.add_source(source("b")).unwrap();
    w.write_events(&[event(2, "I50", 1), event(3, "J44", 2)])
        .unwrap();
    w.write_aliases(&[
        Alias {
            old: pseudo(2),
            new: pseudo(3),
        },
        Alias {
            old: pseudo(1),
            new: pseudo(2),
        },
    ])
    .unwrap();
    w.write_persons(&[person(3, 'M')]).unwrap();
    w.commit(serde_json::json!({})).unwrap();

    let snap = store.snapshot(None).unwrap();
    let persons = snap.persons().unwrap();
    assert_eq!(persons.len(), 2);
    let p = persons
        .iter()
        .find(|p| p.person.patient == pseudo(3))
        .unwrap();
    assert_eq!(p.person_id, pid1, "the merged person keeps the earliest id");
    assert_eq!(p.person.sex, Some('M'));
    assert_eq!(p.first_event, Some(date(2020, 1, 1)));
    assert_eq!(p.last_event, Some(date(2020, 1, 3)));
    let ev = snap.events().unwrap();
    let on_p: Vec<_> = ev.iter().filter(|(id, _)| *id == pid1).collect();
    assert_eq!(on_p.len(), 3);
    assert!(on_p.iter().all(|(_, e)| e.patient == pseudo(3)));
    assert_eq!(snap.manifest().patients, 2);
    assert_eq!(snap.manifest().merged_identities, 2);
    assert_eq!(snap.aliases().unwrap().len(), 2);
    // The earlier snapshot still shows three separate persons' view.
    assert_eq!(before.events().unwrap().len(), 2);

    // Load 3: a new event under the oldest pseudonym still lands on the person.
    load(&store, "c", &[event(1, "Z00", 3)]);
    let snap = store.snapshot(None).unwrap();
    let ev = snap.events().unwrap();
    assert_eq!(ev.iter().filter(|(id, _)| *id == pid1).count(), 4);
}

#[test]
fn alias_cycles_and_conflicts_are_refused() {
    let (_d, store) = new_store();
    let mut w = store.begin_load().unwrap();
    w.write_aliases(&[Alias {
        old: pseudo(1),
        new: pseudo(2),
    }])
    .unwrap();
    w.write_aliases(&[Alias {
        old: pseudo(1),
        new: pseudo(2),
    }])
    .unwrap(); // repeat: fine
    let err = w
        .write_aliases(&[Alias {
            old: pseudo(2),
            new: pseudo(1),
        }])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Alias { .. }) && err.to_string().contains("cycle"),
        "{err}"
    );
    let err = w
        .write_aliases(&[Alias {
            old: pseudo(1),
            new: pseudo(5),
        }])
        .unwrap_err();
    assert!(err.to_string().contains("two successors"), "{err}");
    let err = w
        .write_aliases(&[Alias {
            old: pseudo(7),
            new: pseudo(7),
        }])
        .unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
    w.write_aliases(&[Alias {
        old: pseudo(2),
        new: pseudo(3),
    }])
    .unwrap();
    w.commit(serde_json::json!({})).unwrap();
    // A cycle across snapshots is refused too.
    let mut w = store.begin_load().unwrap();
    let err = w
        .write_aliases(&[Alias {
            old: pseudo(3),
            new: pseudo(1),
        }])
        .unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
}

#[test]
fn quarantine_is_stored_with_the_snapshot() {
    let (_d, store) = new_store();
    let mut w = store.begin_load().unwrap();
    let q = QuarantineRecord {
        source_file: "a.csv".into(),
        line: 7,
        reason: "bad_check_digit".into(),
        detail: "field `id`: check digit does not match".into(),
        identity: None,
    };
    w.write_quarantine(std::slice::from_ref(&q)).unwrap();
    w.commit(serde_json::json!({"rejected": 1})).unwrap();
    let snap = store.snapshot(None).unwrap();
    assert_eq!(snap.quarantine().unwrap(), vec![q]);
    assert_eq!(snap.manifest().quarantined, 1);
    let info = store.info().unwrap();
    assert_eq!(info.load_reports.len(), 1);
    assert!(info.to_string().contains("rejected: 1"));
}

#[test]
fn info_counts_rows_per_domain_and_source() {
    let (_d, store) = new_store();
    let mut lab = event(1, "NPU27300", 2);
    lab.domain = Domain::LabResult;
    lab.source = "lab".into();
    lab.value = Some(48.0);
    load(&store, "a", &[event(1, "E119", 0), lab]);
    load(&store, "b", &[event(2, "I10", 0)]);
    let info = store.info().unwrap();
    assert_eq!(info.events, 3);
    assert_eq!(info.patients, 2);
    assert_eq!(info.rows[&Domain::Diagnosis]["par_inpatient"], 2);
    assert_eq!(info.rows[&Domain::LabResult]["lab"], 1);
    assert_eq!(info.snapshots.len(), 2);
    assert_eq!(info.snapshots[1].new_events, 1);
    let text = info.to_string();
    assert!(
        text.contains("lab_result") && text.contains("s000002"),
        "{text}"
    );
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["rows"]["lab_result"]["lab"], 1);
}

#[test]
fn corrupt_manifest_names_the_file() {
    let (_d, store) = new_store();
    load(&store, "a", &[event(1, "E119", 0)]);
    let path = store.root().join("snapshots/s000001/manifest.json");
    std::fs::write(&path, b"{ not json").unwrap();
    let err = store.snapshot(None).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("s000001/manifest.json"), "{err}");
    assert!(store.has_source("x").is_err());
    assert!(store.info().is_err());
}

#[test]
fn corrupt_segment_names_the_file() {
    let (_d, store) = new_store();
    load(&store, "a", &[event(1, "E119", 0)]);
    let path = store
        .root()
        .join("snapshots/s000001/events/part-00000.parquet");
    std::fs::write(&path, b"PAR1 garbage").unwrap();
    let snap = store.snapshot(None).unwrap();
    let err = snap.events().unwrap_err();
    assert!(err.to_string().contains("part-00000.parquet"), "{err}");
}

fn read_parquet(path: &std::path::Path) -> Vec<arrow::array::RecordBatch> {
    let f = std::fs::File::open(path).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn export_parquet_and_csv() {
    let (d, store) = new_store();
    load(&store, "a", &[event(1, "E119", 0), event(2, "I10", 1)]);
    let mut w = store.begin_load().unwrap();
    w.write_aliases(&[Alias {
        old: pseudo(1),
        new: pseudo(3),
    }])
    .unwrap();
    w.write_persons(&[person(3, 'F')]).unwrap();
    w.write_residences(&[residence(3, "01", date(2001, 1, 1))])
        .unwrap();
    w.commit(serde_json::json!({})).unwrap();
    let snap = store.snapshot(None).unwrap();

    let out = d.path().join("export");
    let summary = export(&snap, ExportFormat::Parquet, &out).unwrap();
    assert_eq!(summary.files.len(), 3);
    let events = read_parquet(&out.join("events.parquet"));
    let b = &events[0];
    assert_eq!(b.num_rows(), 2);
    assert!(
        b.schema().index_of("person_id").is_err(),
        "no internal ids in exports"
    );
    let p = arrow::compute::cast(
        b.column_by_name("pseudonym").unwrap(),
        &arrow::datatypes::DataType::Utf8,
    )
    .unwrap();
    let p = p
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .unwrap();
    let mut got: Vec<String> = p.iter().map(|s| s.unwrap().to_string()).collect();
    got.sort();
    let mut want = vec![pseudo(3).to_string(), pseudo(2).to_string()];
    want.sort();
    assert_eq!(got, want, "events carry the canonical pseudonym");
    let persons = read_parquet(&out.join("persons.parquet"));
    assert_eq!(persons.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
    assert_eq!(
        read_parquet(&out.join("residences.parquet"))[0].num_rows(),
        1
    );
    assert!(out.join("export.json").exists());

    // CSV too, with pseudonyms and ISO dates.
    let out_csv = d.path().join("csv");
    export(&snap, ExportFormat::Csv, &out_csv).unwrap();
    let text = std::fs::read_to_string(out_csv.join("events.csv")).unwrap();
    assert!(text.starts_with("pseudonym,domain,system,code"), "{text}");
    assert!(
        text.contains(&pseudo(3).to_string()) && text.contains("2020-01-01"),
        "{text}"
    );

    // Refusals: non-empty target, target inside the store.
    let err = export(&snap, ExportFormat::Csv, &out_csv).unwrap_err();
    assert!(matches!(err, StoreError::Target { .. }), "{err}");
    let err = export(&snap, ExportFormat::Csv, &store.root().join("x")).unwrap_err();
    assert!(err.to_string().contains("into the store"), "{err}");
    // An existing empty directory is fine.
    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    export(&snap, ExportFormat::Parquet, &empty).unwrap();
    // No temporaries left beside the exports.
    let left: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn arb_event() -> impl Strategy<Value = Event> {
    use halsohub_store::{Comparator, Setting};
    let domain = prop::sample::select(Domain::ALL.to_vec());
    let opt_str = || prop::option::of("[A-Za-z0-9 åäö]{0,6}");
    (
        (
            0u32..6,
            domain,
            "[a-z0-9]{0,8}",
            "[A-Z0-9.]{0,7}",
            any::<bool>(),
        ),
        (
            -40_000i64..60_000,
            prop::option::of(0u64..400),
            prop::option::of(-1e9f64..1e9),
        ),
        (
            prop::option::of(prop::sample::select(vec![
                Comparator::Lt,
                Comparator::Le,
                Comparator::Gt,
                Comparator::Ge,
            ])),
            opt_str(),
            prop::option::of(0f64..1000.0),
            prop::option::of(prop::sample::select(vec![
                Setting::Inpatient,
                Setting::Outpatient,
                Setting::PrimaryCare,
            ])),
            prop::option::of(any::<bool>()),
        ),
        (opt_str(), prop::option::of("[0-9]{2}"), "[a-z_]{1,12}"),
        (
            prop::option::of("[a-z]{1,8}"),
            prop::option::of("[A-Z0-9]{1,9}"),
            opt_str(),
        ),
    )
        .prop_map(
            |(
                (p, domain, system, code, known),
                (start, len, value),
                (cmp, unit, qty, setting, primary),
                (provider, region, source),
                (value_system, value_code, value_text),
            )| {
                let start = date(1970, 1, 1) + chrono::TimeDelta::days(start);
                Event {
                    patient: pseudo(p),
                    domain,
                    system,
                    code,
                    code_known: known,
                    start,
                    end: len.map(|l| start + chrono::Days::new(l)),
                    value,
                    comparator: cmp,
                    unit,
                    value_system,
                    value_code,
                    value_text,
                    quantity: qty,
                    setting,
                    primary,
                    provider,
                    provider_region: region,
                    source,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// What is written is what is read, across two loads.
    #[test]
    fn events_round_trip(a in prop::collection::vec(arb_event(), 0..40), b in prop::collection::vec(arb_event(), 0..40)) {
        let (_d, store) = new_store();
        load(&store, "a", &a);
        load(&store, "b", &b);
        let snap = store.snapshot(None).unwrap();
        let mut all = a.clone();
        all.extend(b.iter().cloned());
        prop_assert_eq!(sorted(strip(snap.events().unwrap())), sorted(all.clone()));
        prop_assert_eq!(snap.manifest().events, all.len() as u64);
        // Every event's person id maps to its pseudonym in the persons table.
        let persons = snap.persons().unwrap();
        for (id, e) in snap.events().unwrap() {
            let p = persons.iter().find(|p| p.person_id == id).unwrap();
            prop_assert_eq!(p.person.patient, e.patient);
        }
        let patients: std::collections::BTreeSet<_> = all.iter().map(|e| e.patient).collect();
        prop_assert_eq!(snap.manifest().patients, patients.len() as u64);
    }
}
