//! End to end through the real binary: `halsohub export` of a synthetic
//! store as FHIR R4 bulk NDJSON and OMOP CDM 5.4, for all patients and for
//! a cohort. Promises checked: no hub pseudonym and no raw identity number
//! in any exported file; project pseudonyms differ between projects;
//! export → ingest into a fresh store → the same exact counts for a set of
//! benchmark queries; the OMOP export opens in DuckDB with the official
//! CDM 5.4 table and column names.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failure is the test failing

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use common::Hub;
use serde_json::Value;

const EXTRACT: &str = "2025-12-31";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn bench_query(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bench/queries")
        .join(name)
}

/// A hub with a key and a store of `patients` synthetic patients.
fn hub_with_store(patients: u32) -> Hub {
    let hub = Hub::new();
    hub.ok(&["keys", "init"]);
    let data = hub.path("data");
    hub.ok(&[
        "synth",
        "--patients",
        &patients.to_string(),
        "--seed",
        "11",
        "--out",
        s(&data),
    ]);
    ingest(&hub, &hub.path("store"), &data);
    hub
}

fn ingest(hub: &Hub, store: &Path, input: &Path) -> Value {
    hub.json(&[
        "ingest",
        "--store",
        s(store),
        "--reference-date",
        EXTRACT,
        "--json",
        s(input),
    ])
}

fn export(hub: &Hub, format: &str, project: &str, out: &Path, extra: &[&str]) -> Value {
    let store = hub.path("store");
    let mut args = vec![
        "export",
        "--store",
        s(&store),
        "--format",
        format,
        "--project",
        project,
        "--out",
        s(out),
        "--json",
    ];
    args.extend_from_slice(extra);
    hub.json(&args)
}

/// The exact result of a query on a store.
fn count(hub: &Hub, store: &Path, query: &Path) -> Value {
    let out = hub.json(&["count", "--store", s(store), "--exact", "--json", s(query)]);
    out["result"].clone()
}

/// The hub pseudonyms of the store (from `store export`, which writes
/// them as person keys).
fn hub_pseudonyms(hub: &Hub) -> HashSet<String> {
    let out = hub.path("hub-export");
    if !out.exists() {
        hub.ok(&[
            "store",
            "export",
            "--store",
            s(&hub.path("store")),
            "--format",
            "csv",
            "--out",
            s(&out),
        ]);
    }
    let text = std::fs::read_to_string(out.join("persons.csv")).unwrap();
    let set: HashSet<String> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .map(str::to_string)
        .collect();
    assert!(set.len() > 100, "{} hub pseudonyms", set.len());
    set
}

/// 32-hex-digit words of `text`.
fn hex_words(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_ascii_hexdigit())
        .filter(|w| w.len() == 32)
        .map(str::to_string)
        .collect()
}

fn assert_no_identity(hub: &Hub, dir: &Path) {
    let text = common::all_text(dir);
    let ids = common::raw_ids(&hub.path("data"));
    assert!(ids.len() > 100);
    let leaks = common::leaked_ids(&text, &ids);
    assert!(
        leaks.is_empty(),
        "{} raw ids in {}",
        leaks.len(),
        dir.display()
    );
    let hub_ps = hub_pseudonyms(hub);
    let words = hex_words(&text);
    let shared: Vec<_> = words.intersection(&hub_ps).collect();
    assert!(
        shared.is_empty(),
        "{} hub pseudonyms in {}",
        shared.len(),
        dir.display()
    );
}

/// The project pseudonyms of a FHIR export (Patient ids).
fn patient_ids(dir: &Path) -> HashSet<String> {
    std::fs::read_to_string(dir.join("Patient.ndjson"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["id"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Benchmark queries whose every criterion survives a FHIR round trip
/// (codes, dates, values and units, person sex, birth and death, care
/// setting, region of residence): single code, ICD-10 block, ATC level,
/// lab threshold, unit conversion, boolean mix with sex, care setting with
/// primary care (q07: events take their Encounter's setting across files,
/// primary care from the care-setting extension), temporal window,
/// exclusion before index, funnel, strata by sex and age band, strata by
/// region of residence on a date (q12: `Patient.address` state = län code
/// and period), proportion, time series (by sex), alive and age on a date.
const FHIR_QUERIES: [&str; 16] = [
    "q01_single_code.json",
    "q02_icd_block.json",
    "q03_atc_level.json",
    "q04_lab_threshold.json",
    "q05_lab_unit_conversion.json",
    "q06_boolean_mix.json",
    "q07_at_least_setting.json",
    "q08_temporal_window.json",
    "q09_exclusion_before_index.json",
    "q10_funnel.json",
    "q11_strata_sex_age.json",
    "q12_strata_region.json",
    "q13_proportion.json",
    "q14_time_series_year.json",
    "q15_time_series_month_by_sex.json",
    "q16_alive_age_on_date.json",
];

fn assert_round_trip(hub: &Hub, fresh: &Path, queries: &[&str]) {
    let store = hub.path("store");
    for q in queries {
        let path = bench_query(q);
        let before = count(hub, &store, &path);
        let after = count(hub, fresh, &path);
        assert_eq!(before, after, "{q}: counts differ after the round trip");
    }
}

#[test]
fn fhir_export_round_trips_and_holds_only_project_pseudonyms() {
    let hub = hub_with_store(1200);
    let a = hub.path("fhir-a");
    let summary = export(&hub, "fhir-ndjson", "proj-a", &a, &[]);
    assert!(summary["persons"].as_u64().unwrap() >= 1200, "{summary}");
    for rt in [
        "Patient",
        "Encounter",
        "Condition",
        "Observation",
        "Procedure",
    ] {
        assert!(a.join(format!("{rt}.ndjson")).exists(), "{rt}.ndjson");
    }
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["output"].as_array().unwrap().len() >= 5);
    assert_eq!(manifest["requiresAccessToken"], Value::Bool(false));

    // (a) no hub pseudonym, no raw identity number.
    assert_no_identity(&hub, &a);

    // (b) another project: unrelated pseudonyms.
    let b = hub.path("fhir-b");
    export(&hub, "fhir-ndjson", "proj-b", &b, &[]);
    let (pa, pb) = (patient_ids(&a), patient_ids(&b));
    assert_eq!(pa.len(), pb.len());
    assert!(pa.is_disjoint(&pb), "two projects share pseudonyms");

    // (c) round trip: every resource is read back, counts are equal.
    let fresh = hub.path("fresh");
    let report = ingest(&hub, &fresh, &a);
    assert_eq!(
        report["totals"]["rows_rejected"], 0,
        "resources quarantined on re-ingest: {}",
        report["totals"]["rejected_by_reason"]
    );
    assert_round_trip(&hub, &fresh, &FHIR_QUERIES);

    // A target that is not empty is refused and left alone.
    let err = hub.fails(&[
        "export",
        "--store",
        s(&hub.path("store")),
        "--format",
        "fhir-ndjson",
        "--project",
        "proj-a",
        "--out",
        s(&a),
    ]);
    assert!(err.contains("not empty"), "{err}");
}

#[test]
fn cohort_export_holds_exactly_the_cohort() {
    let hub = hub_with_store(1200);
    let store = hub.path("store");
    let cohort = bench_query("q02_icd_block.json");
    let members = count(&hub, &store, &cohort)["count"].as_u64().unwrap();
    assert!(members > 20, "cohort of {members}");
    let out = hub.path("cohort");
    let summary = export(
        &hub,
        "fhir-ndjson",
        "proj-c",
        &out,
        &["--cohort", s(&cohort)],
    );
    assert_eq!(summary["persons"].as_u64().unwrap(), members, "{summary}");
    assert_eq!(patient_ids(&out).len() as u64, members);
    assert_no_identity(&hub, &out);
    let fresh = hub.path("fresh");
    ingest(&hub, &fresh, &out);
    // Everyone in the re-ingested store is in the cohort, and queries
    // within the cohort count the same.
    assert_eq!(
        count(&hub, &fresh, &cohort)["count"].as_u64().unwrap(),
        members
    );
    assert_round_trip(
        &hub,
        &fresh,
        &[
            "q02_icd_block.json",
            "q08_temporal_window.json",
            "q13_proportion.json",
        ],
    );

    // A period and categories narrow what leaves.
    let narrow = hub.path("narrow");
    let summary = export(
        &hub,
        "fhir-ndjson",
        "proj-c",
        &narrow,
        &[
            "--cohort",
            s(&cohort),
            "--from",
            "2020-01-01",
            "--to",
            "2022-12-31",
            "--domains",
            "diagnosis,lab_result",
        ],
    );
    assert!(summary["events_out_of_scope"].as_u64().unwrap() > 0);
    assert!(!narrow.join("MedicationDispense.ndjson").exists());
    for line in std::fs::read_to_string(narrow.join("Condition.ndjson"))
        .unwrap()
        .lines()
    {
        let v: Value = serde_json::from_str(line).unwrap();
        let d = v["onsetDateTime"].as_str().unwrap();
        assert!(("2020-01-01"..="2022-12-31").contains(&d), "{d}");
    }
}

#[test]
fn bad_requests_get_clear_errors_and_leave_nothing() {
    let hub = hub_with_store(300);
    let store = hub.path("store");
    let out = hub.path("out");
    let base = |extra: &[&str]| {
        let mut a = vec![
            "export",
            "--store",
            s(&store),
            "--format",
            "fhir-ndjson",
            "--project",
            "p",
            "--out",
            s(&out),
        ];
        a.extend_from_slice(extra);
        hub.fails(&a)
    };
    let err = base(&["--domains", "diagnoses"]);
    assert!(err.contains("diagnoses"), "{err}");
    let err = base(&["--from", "2022-01-01", "--to", "2021-01-01"]);
    assert!(err.contains("before"), "{err}");
    let bad = hub.path("bad.json");
    std::fs::write(&bad, r#"{"version": 1, "criteria": [{"include": {"event": {"domain": "nope"}}}], "output": {"type": "count"}}"#).unwrap();
    let err = base(&["--cohort", s(&bad)]);
    assert!(err.contains("bad.json"), "{err}");
    let err = hub.fails(&[
        "export",
        "--store",
        s(&store),
        "--format",
        "fhir-ndjson",
        "--project",
        "p",
        "--out",
        s(&store.join("inside")),
    ]);
    assert!(err.contains("store"), "{err}");
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(hub.dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
}

/// Benchmark queries whose every criterion survives an OMOP round trip
/// exactly: the 14 of the FHIR list before it took q07 and q12 (FHIR
/// carries every residence; `FHIR_QUERIES` changes independently), plus
/// care setting with primary care (q07: events take their visit's setting,
/// primary care from `visit_source_value`). Region of residence on a date
/// (q12) is checked apart ([`assert_region_round_trip`]): CDM 5.4 holds
/// one location per person, so a person who moved to another län after
/// the date comes back in the later one.
const OMOP_QUERIES: [&str; 15] = [
    "q01_single_code.json",
    "q02_icd_block.json",
    "q03_atc_level.json",
    "q04_lab_threshold.json",
    "q05_lab_unit_conversion.json",
    "q06_boolean_mix.json",
    "q07_at_least_setting.json",
    "q08_temporal_window.json",
    "q09_exclusion_before_index.json",
    "q10_funnel.json",
    "q11_strata_sex_age.json",
    "q13_proportion.json",
    "q14_time_series_year.json",
    "q15_time_series_month_by_sex.json",
    "q16_alive_age_on_date.json",
];

/// The region strata of an OMOP round trip (q12, on 2024-01-01): every
/// person counted in the same cell except those who moved to another län
/// after the date (each moves one count from one cell to another), whom
/// the export carries with their latest region (one location per person
/// in the CDM), over the time they lived in Sweden (observation period).
fn assert_region_round_trip(hub: &Hub, fresh: &Path) {
    let q = "q12_strata_region.json";
    let at = "2024-01-01";
    let path = bench_query(q);
    let before = count(hub, &hub.path("store"), &path);
    let after = count(hub, fresh, &path);
    assert_eq!(before["total"], after["total"], "{q}: totals differ");
    let cells = |v: &Value| -> std::collections::BTreeMap<String, i64> {
        v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["key"][0].as_str().unwrap().to_string(),
                    c["count"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let (b, a) = (cells(&before), cells(&after));
    let keys: HashSet<&String> = b.keys().chain(a.keys()).collect();
    let moved: i64 = keys
        .iter()
        .map(|k| (b.get(*k).unwrap_or(&0) - a.get(*k).unwrap_or(&0)).abs())
        .sum::<i64>()
        / 2;
    // Persons of the store whose latest residence started after the date,
    // in another region than the one they lived in on it.
    hub_pseudonyms(hub);
    let text = std::fs::read_to_string(hub.path("hub-export").join("residences.csv")).unwrap();
    let mut by_person: std::collections::BTreeMap<&str, Vec<Vec<&str>>> = Default::default();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        by_person.entry(f[0]).or_default().push(f);
    }
    for rs in by_person.values_mut() {
        rs.sort_by_key(|r| r[3]);
    }
    let movers = by_person
        .values()
        .filter(|rs| {
            let last = rs.last().unwrap();
            let on = rs
                .iter()
                .rev()
                .find(|r| r[3] <= at && (r[4].is_empty() || r[4] >= at));
            last[3] > at && on.is_some_and(|r| r[1] != last[1])
        })
        .count() as i64;
    assert!(
        moved <= movers,
        "{q}: {moved} persons in other cells after the round trip, {movers} moved after {at}: {before} vs {after}"
    );
}

#[test]
fn omop_export_loads_in_duckdb_with_cdm_names_and_round_trips() {
    let hub = hub_with_store(1200);
    let csv = hub.path("omop-csv");
    let summary = export(&hub, "omop-csv", "proj-o", &csv, &[]);
    assert!(summary["persons"].as_u64().unwrap() >= 1200, "{summary}");
    assert_no_identity(&hub, &csv);
    let parquet = hub.path("omop-parquet");
    let psummary = export(&hub, "omop-parquet", "proj-o", &parquet, &[]);
    assert_no_identity(&hub, &parquet);
    let rows = |v: &Value| -> Vec<(String, u64)> {
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["table"].as_str().unwrap().to_string(),
                    f["rows"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(rows(&summary), rows(&psummary));

    // person_source_value holds the project pseudonym; another project's
    // differ.
    let sources = |dir: &Path| -> HashSet<String> {
        let text = std::fs::read_to_string(dir.join("person.csv")).unwrap();
        hex_words(&text)
    };
    let other = hub.path("omop-other");
    export(&hub, "omop-csv", "proj-p", &other, &[]);
    let (a, b) = (sources(&csv), sources(&other));
    assert_eq!(a.len() as u64, summary["persons"].as_u64().unwrap());
    assert!(a.is_disjoint(&b));

    // DuckDB reads every table under its official CDM 5.4 name with the
    // official columns in order, and the row counts of the summary.
    if let Some(python) = common::duckdb_python() {
        for (dir, read) in [(&csv, "read_csv"), (&parquet, "read_parquet")] {
            let mut script = String::from("import duckdb\ncon = duckdb.connect()\n");
            for f in summary["files"].as_array().unwrap() {
                let table = f["table"].as_str().unwrap();
                let ext = if read == "read_csv" { "csv" } else { "parquet" };
                let path = dir.join(format!("{table}.{ext}"));
                let opts = if read == "read_csv" {
                    ", header=true"
                } else {
                    ""
                };
                script.push_str(&format!(
                    "con.execute(\"create table {table} as select * from {read}('{}'{opts})\")\n\
                     cols = [r[0] for r in con.execute(\"select column_name from information_schema.columns where table_name = '{table}' order by ordinal_position\").fetchall()]\n\
                     n = con.execute(\"select count(*) from {table}\").fetchone()[0]\n\
                     print('{table}', n, ','.join(cols))\n",
                    s(&path)
                ));
            }
            let printed = common::duckdb(&python, &script);
            let lines: Vec<&str> = printed.lines().collect();
            assert_eq!(lines.len(), summary["files"].as_array().unwrap().len());
            for (line, f) in lines.iter().zip(summary["files"].as_array().unwrap()) {
                let mut parts = line.split(' ');
                let table = parts.next().unwrap();
                let rows: u64 = parts.next().unwrap().parse().unwrap();
                let cols = parts.next().unwrap_or("");
                assert_eq!(table, f["table"].as_str().unwrap());
                assert_eq!(rows, f["rows"].as_u64().unwrap(), "{table} rows ({read})");
                let official: Vec<&str> = halsohub_omop::Table::from_name(table)
                    .and_then(|t| t.columns(halsohub_omop::CdmVersion::V5_4))
                    .unwrap()
                    .iter()
                    .map(|c| c.name)
                    .collect();
                assert_eq!(cols, official.join(","), "{table} columns ({read})");
            }
        }
    }

    // Round trip through the OMOP reader, every person (those without a
    // known year of birth too: the export leaves year_of_birth empty and
    // the reader keeps them with birth unknown).
    let fresh = hub.path("fresh-omop");
    let report = ingest(&hub, &fresh, &csv);
    assert_eq!(
        report["totals"]["rows_rejected"], 0,
        "rows quarantined on re-ingest: {}",
        report["totals"]["rejected_by_reason"]
    );
    assert_round_trip(&hub, &fresh, &OMOP_QUERIES);
    assert_region_round_trip(&hub, &fresh);
}
