#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use chrono::NaiveDate;
use halsohub_identity::Pseudonym;
use halsohub_store::{Domain, Event, Person, Residence, SourceFile, Store};

pub const FP: &str = "fp-test-key";

pub fn pseudo(n: u32) -> Pseudonym {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&n.to_be_bytes());
    b[15] = 0xab;
    Pseudonym::from_bytes(b)
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn event(p: u32, code: &str, day: u32) -> Event {
    Event {
        patient: pseudo(p),
        domain: Domain::Diagnosis,
        system: "icd10se".into(),
        code: code.into(),
        code_known: true,
        start: date(2020, 1, 1) + chrono::Days::new(u64::from(day)),
        end: None,
        value: None,
        comparator: None,
        unit: None,
        value_system: None,
        value_code: None,
        value_text: None,
        quantity: None,
        setting: Some(halsohub_store::Setting::Inpatient),
        primary: Some(true),
        provider: Some("SU".into()),
        provider_region: Some("14".into()),
        source: "par_inpatient".into(),
    }
}

pub fn person(p: u32, sex: char) -> Person {
    Person {
        patient: pseudo(p),
        sex: Some(sex),
        birth_date: Some(date(1950, 1, 1)),
        death_date: None,
    }
}

pub fn residence(p: u32, region: &str, from: NaiveDate) -> Residence {
    Residence {
        patient: pseudo(p),
        region: region.into(),
        municipality: None,
        from,
        to: None,
    }
}

pub fn source(name: &str) -> SourceFile {
    use sha2::Digest;
    SourceFile {
        path: format!("/data/{name}"),
        sha256: hex::encode(sha2::Sha256::digest(name.as_bytes())),
        format: "par_inpatient".into(),
    }
}

/// Commits one load with these events under one source.
pub fn load(store: &Store, src: &str, events: &[Event]) -> halsohub_store::SnapshotId {
    let mut w = store.begin_load().unwrap();
    w.add_source(source(src)).unwrap();
    w.write_events(events).unwrap();
    w.commit(serde_json::json!({ "source": src, "rows": events.len() }))
        .unwrap()
}

/// Events sorted canonically for comparison.
pub fn sorted(mut v: Vec<Event>) -> Vec<Event> {
    v.sort_by(|a, b| {
        (a.patient, a.start, &a.code, &a.source, a.domain)
            .cmp(&(b.patient, b.start, &b.code, &b.source, b.domain))
            .then(format!("{a:?}").cmp(&format!("{b:?}")))
    });
    v
}
