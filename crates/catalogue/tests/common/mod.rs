//! A realistic catalogue for the integration tests: three datasets (the
//! patient register's inpatient part, a region's lab system, an OMOP CDM
//! from a research network) with approvals, released facts and quality.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is the test failing

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use halsohub_catalogue::quality::{PlausibilityObservation, VariableObservation};
use halsohub_catalogue::{
    AgeBand, Approval, Approved, Catalogue, CatalogueConfig, ComputedFacts, DatasetDescription,
    Entry, FactsInput, FileFormat, FrequentCode, LoadObservation, ProtectedValue, Thresholds,
    VariableKind, assess,
};
use halsohub_disclosure::{Profile, Protector, Release};

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

pub fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

/// A count as the feasibility service releases it (threshold 5, rounded
/// to 5, noise keyed by the count here since the test has no persons).
pub fn released(n: u64) -> ProtectedValue {
    let profile = Profile::feasibility();
    let p = Protector::new(
        &profile,
        &Release {
            secret: b"catalogue-tests",
        },
    )
    .unwrap();
    p.count(n)
}

pub fn config() -> CatalogueConfig {
    CatalogueConfig::read(&data("catalogue.yaml")).unwrap()
}

fn approved(file: &str) -> Approved {
    let d = DatasetDescription::read(&data(file)).unwrap();
    let a = Approval::new(&d, "steward", at(2026, 11, 30)).unwrap();
    Approved::new(d, a).unwrap()
}

fn band(from: u32, to: Option<u32>) -> AgeBand {
    AgeBand { from, to }
}

fn facts(
    snapshot: &str,
    persons: u64,
    systems: &[&str],
    codes: &[(&str, &str, u64)],
) -> ComputedFacts {
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    ComputedFacts::new(FactsInput {
        snapshot: snapshot.into(),
        records: Some(released(persons * 7)),
        persons: Some(released(persons)),
        dates: Some((d(2016, 1, 4), d(2025, 12, 19))),
        regions: vec![
            ("01".into(), released(persons / 2)),
            ("12".into(), released(persons / 3)),
            ("25".into(), released(3)),
        ],
        age_bands: (0..9)
            .map(|i| (band(i * 10, Some(i * 10 + 9)), released(persons / 10)))
            .chain([(band(90, None), released(2))])
            .collect(),
        code_systems: systems.iter().map(|s| s.to_string()).collect(),
        codes: codes
            .iter()
            .map(|(s, c, n)| FrequentCode {
                system: s.to_string(),
                code: c.to_string(),
                persons: released(*n),
            })
            .collect(),
        variables: vec![
            ("code".into(), VariableKind::Code, 1000, 1000),
            ("start_date".into(), VariableKind::Date, 1000, 1000),
            ("provider".into(), VariableKind::Text, 930, 1000),
        ],
    })
}

pub fn observation(
    source: &str,
    read: u64,
    accepted: u64,
    reasons: &[(&str, u64)],
) -> LoadObservation {
    LoadObservation {
        source: source.into(),
        load: "20261201T100000Z-3".into(),
        loaded_at: at(2026, 12, 1),
        rows_read: read,
        rows_accepted: accepted,
        quarantined: reasons.iter().map(|(r, n)| (r.to_string(), *n)).collect(),
        rows_with_unknown_codes: 0,
        variables: vec![
            VariableObservation {
                name: "code".into(),
                present: accepted,
                total: accepted,
            },
            VariableObservation {
                name: "provider".into(),
                present: accepted * 93 / 100,
                total: accepted,
            },
        ],
        plausibility: vec![PlausibilityObservation {
            check: "event_after_death".into(),
            description: "events dated after the person's death".into(),
            checked: accepted,
            failed: 1,
        }],
        median_lag_days: Some(41.0),
    }
}

/// The example catalogue; `page_size` overrides the configuration's.
pub fn catalogue(page_size: usize) -> Catalogue {
    let mut config = config();
    config.page_size = page_size;
    let t = Thresholds::default();
    let entries = vec![
        Entry {
            approved: approved("par-inpatient.yaml"),
            facts: Some(facts(
                "20261201T100000Z-3",
                48_210,
                &["icd10se", "kva"],
                &[
                    ("icd10se", "I10", 9_870),
                    ("icd10se", "E11.9", 4_120),
                    ("kva", "DT016", 2),
                ],
            )),
            quality: vec![assess(
                &observation("par_inpatient", 120_000, 119_880, &[("code_invalid", 120)]),
                &t,
            )],
        },
        Entry {
            approved: approved("lab-region-uppsala.yaml"),
            facts: Some(facts(
                "20261201T100000Z-3",
                21_400,
                &["npu", "loinc"],
                &[("npu", "NPU19748", 8_200), ("loinc", "2160-0", 3_020)],
            )),
            quality: vec![assess(
                &observation(
                    "lab_region_03",
                    300_000,
                    270_000,
                    &[("unit_unknown", 21_000), ("value_unparseable", 9_000)],
                ),
                &t,
            )],
        },
        Entry {
            approved: approved("omop-gibleed.json"),
            facts: None,
            quality: Vec::new(),
        },
    ];
    Catalogue::new(config, entries, at(2026, 12, 1)).unwrap()
}

/// Read a description text in a given format (for tests that edit one).
pub fn parse(text: &str, format: FileFormat) -> DatasetDescription {
    DatasetDescription::parse(text, format, Path::new("edited")).unwrap()
}
