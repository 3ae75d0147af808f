//! OMOP CDM tables delivered as Parquet: typed columns (integers, floats,
//! dates, timestamps, nulls) give the same events as the same tables as
//! CSV; a Parquet row's quarantine line is its 1-based row number; a
//! damaged file is a file-level error naming it, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, StringArray};
use arrow::array::{RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use chrono::{NaiveDate, NaiveDateTime};
use common::*;
use halsohub_ingest::{Format, IngestError, IngestOptions};
use halsohub_store::Store;
use parquet::arrow::ArrowWriter;

const CONCEPT: &str = "concept_id,concept_name,domain_id,vocabulary_id,concept_class_id,standard_concept,concept_code,valid_start_date,valid_end_date,invalid_reason
1,Type 2 diabetes mellitus without complications,Condition,ICD10CM,4-char billing code,,E11.9,2007-01-01,2099-12-31,
2,Diabetes mellitus type 2,Condition,SNOMED,Clinical Finding,S,44054006,2002-01-31,2099-12-31,
3,Hemoglobin A1c,Measurement,LOINC,Lab Test,S,4548-4,1970-01-01,2099-12-31,
4,percent,Unit,UCUM,Unit,S,%,1970-01-01,2099-12-31,
5,millimole per mole,Unit,UCUM,Unit,S,mmol/mol,1970-01-01,2099-12-31,
7,metformin,Drug,RxNorm,Ingredient,S,6809,1970-01-01,2099-12-31,
";

/// Person 1 has a personnummer; 2 a local id; 3 only a birth datetime.
const PERSON: &str = "PERSON_ID,GENDER_CONCEPT_ID,YEAR_OF_BIRTH,MONTH_OF_BIRTH,DAY_OF_BIRTH,BIRTH_DATETIME,RACE_CONCEPT_ID,ETHNICITY_CONCEPT_ID,PERSON_SOURCE_VALUE
1,8507,1912,12,12,,0,0,19121212-1212
2,8532,1960,,,,0,0,local-2
3,8532,1970,,,1970-05-06 10:30:00,0,0,
";

/// Row 3 names an unknown person, row 4 repeats row 1, row 5 has only a
/// start datetime, row 6 ends before it starts.
const CONDITION: &str = "condition_occurrence_id,person_id,condition_concept_id,condition_start_date,condition_start_datetime,condition_end_date,condition_type_concept_id,condition_status_concept_id,condition_source_value,condition_source_concept_id
10,1,2,2020-03-01,,2020-03-09,32817,32902,E11.9,1
11,2,2,2020-04-01,,,32817,0,E11.9,1
12,99,2,2020-03-01,,,32817,0,E11.9,1
10,1,2,2020-03-01,,2020-03-09,32817,32902,E11.9,1
13,3,2,,2021-06-07 08:00:00,,32817,0,,0
14,2,2,2020-03-05,,2020-03-01,32817,0,,0
";

const MEASUREMENT: &str = "measurement_id,person_id,measurement_concept_id,measurement_date,measurement_type_concept_id,operator_concept_id,value_as_number,value_as_concept_id,unit_concept_id,measurement_source_concept_id,unit_source_value,lab_comment
20,1,3,2020-03-02,32817,,48,,5,3,,ok
21,1,3,2020-04-02,32817,,6.5,,4,3,%,ok
22,2,3,2020-05-02,32817,4171756,5,,5,3,,below
";

const DRUG: &str = "drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_end_date,drug_type_concept_id,quantity,days_supply,drug_source_concept_id
60,1,7,2020-03-10,2020-04-10,38000175,100,30,0
61,2,7,2020-03-10,,38000177,,,0
";

/// The Arrow type a test column is written as.
fn type_of(column: &str) -> DataType {
    let c = column.to_ascii_lowercase();
    if c.ends_with("_datetime") {
        DataType::Timestamp(TimeUnit::Microsecond, None)
    } else if c.ends_with("_date") {
        DataType::Date32
    } else if matches!(c.as_str(), "value_as_number" | "quantity") {
        DataType::Float64
    } else if (c.ends_with("_id")
        && !matches!(
            c.as_str(),
            "vocabulary_id" | "domain_id" | "concept_class_id"
        ))
        || matches!(
            c.as_str(),
            "year_of_birth" | "month_of_birth" | "day_of_birth" | "days_supply"
        )
    {
        DataType::Int64
    } else {
        DataType::Utf8
    }
}

/// The (unquoted) CSV table `csv` as a Parquet file with typed columns,
/// empty fields null, written in row groups of two rows (3,000 for a
/// large table).
fn parquet_of(csv: &str) -> Vec<u8> {
    let mut lines = csv.lines();
    let names: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let col: Vec<Option<&str>> = rows
            .iter()
            .map(|r| r.get(i).copied().filter(|t| !t.is_empty()))
            .collect();
        let t = type_of(name);
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let array: ArrayRef = match &t {
            DataType::Int64 => Arc::new(Int64Array::from_iter(
                col.iter().map(|v| v.map(|v| v.parse::<i64>().unwrap())),
            )),
            DataType::Float64 => Arc::new(Float64Array::from_iter(
                col.iter().map(|v| v.map(|v| v.parse::<f64>().unwrap())),
            )),
            DataType::Date32 => Arc::new(Date32Array::from_iter(col.iter().map(|v| {
                v.map(|v| {
                    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").unwrap();
                    (d - epoch).num_days() as i32
                })
            }))),
            DataType::Timestamp(..) => {
                Arc::new(TimestampMicrosecondArray::from_iter(col.iter().map(|v| {
                    v.map(|v| {
                        NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S")
                            .unwrap()
                            .and_utc()
                            .timestamp_micros()
                    })
                })))
            }
            _ => Arc::new(StringArray::from_iter(col.iter().copied())),
        };
        fields.push(Field::new(*name, t, true));
        arrays.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(if csv.len() > 100_000 { 3_000 } else { 2 }))
        .build();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

const TABLES: [(&str, &str); 5] = [
    ("concept", CONCEPT),
    ("PERSON", PERSON),
    ("condition_occurrence", CONDITION),
    ("measurement", MEASUREMENT),
    ("drug_exposure", DRUG),
];

/// A CDM folder `root/cdm` with every table as CSV, or as Parquet (the
/// concept table too when `concept_parquet`).
fn folder(root: &Path, parquet: bool, concept_parquet: bool) -> PathBuf {
    let d = root.join("cdm");
    for (name, csv) in TABLES {
        if parquet && (name != "concept" || concept_parquet) {
            write(&d, &format!("{name}.parquet"), &parquet_of(csv));
        } else {
            write(&d, &format!("{name}.csv"), csv.as_bytes());
        }
    }
    d
}

/// Events of the store's snapshot, as sorted debug strings.
fn events(store: &Path) -> Vec<String> {
    let mut ev: Vec<String> = Store::open(store)
        .unwrap()
        .snapshot(None)
        .unwrap()
        .events()
        .unwrap()
        .into_iter()
        .map(|(_, e)| format!("{e:?}"))
        .collect();
    ev.sort();
    ev
}

/// Quarantine reasons by (file, line).
fn quarantine(store: &Path) -> BTreeMap<(String, u64), String> {
    let s = Store::open(store).unwrap();
    s.snapshot(None)
        .unwrap()
        .quarantine()
        .unwrap()
        .into_iter()
        .map(|q| {
            let file = q.source_file.rsplit('/').next().unwrap().to_owned();
            ((file, q.line), q.reason)
        })
        .collect()
}

fn load_folder(root: &Path, parquet: bool, concept_parquet: bool) -> (PathBuf, Vec<String>) {
    let cdm = folder(root, parquet, concept_parquet);
    let store = root.join("store");
    let r = load(&store, &[cdm], &options(reference())).unwrap();
    for f in &r.files {
        assert_eq!(f.format, "omop", "{}", f.path);
    }
    (store, r.notes)
}

#[test]
fn parquet_tables_give_the_same_events_as_csv() {
    let csv_tmp = tempfile::tempdir().unwrap();
    let (csv_store, _) = load_folder(csv_tmp.path(), false, false);
    let expected = events(&csv_store);
    assert!(expected.len() >= 10, "{expected:#?}");
    let csv_q = quarantine(&csv_store);

    for concept_parquet in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let (store, notes) = load_folder(tmp.path(), true, concept_parquet);
        assert_eq!(
            events(&store),
            expected,
            "concept as Parquet: {concept_parquet}"
        );
        // The same rows are rejected, each at its row number (CSV: its
        // line, one more for the header).
        let q = quarantine(&store);
        assert_eq!(q.len(), csv_q.len(), "{q:#?}");
        for ((file, line), reason) in &csv_q {
            let pq = file.replace(".csv", ".parquet");
            let (file, line) = if q.contains_key(&(pq.clone(), line - 1)) {
                (pq, line - 1)
            } else {
                (file.clone(), *line)
            };
            assert_eq!(q.get(&(file.clone(), line)), Some(reason), "{file}:{line}");
        }
        assert_eq!(
            q.get(&("condition_occurrence.parquet".to_owned(), 3))
                .map(String::as_str),
            Some("omop.unknown_person")
        );
        assert_eq!(
            q.get(&("condition_occurrence.parquet".to_owned(), 4))
                .map(String::as_str),
            Some("duplicate_row")
        );
        // Columns are matched as a CSV header is (the extra one noted).
        let notes = notes.join("\n");
        assert!(
            notes.contains(
                "measurement.parquet: columns not in the CDM measurement table ignored: lab_comment"
            ),
            "{notes}"
        );
        // Loading the same files again adds nothing (the hash of both
        // passes agrees).
        let again = load(&store, &[tmp.path().join("cdm")], &options(reference())).unwrap();
        assert!(again.snapshot.is_none());
    }
}

#[test]
fn parquet_is_recognised_by_magic_and_name() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("one");
    // A Parquet file whose name names no CDM table.
    let p = write(&d, "people.parquet", &parquet_of(PERSON));
    let err = load(&tmp.path().join("s1"), &[p], &options(reference())).unwrap_err();
    assert!(matches!(err, IngestError::NotOmop { .. }), "{err}");
    assert!(err.to_string().contains("people.parquet"), "{err}");
    // Columns that do not confirm the table: refused, unless forced.
    let p = write(&d, "person.parquet", &parquet_of("a,b\n1,2\n"));
    let err = load(
        &tmp.path().join("s2"),
        std::slice::from_ref(&p),
        &options(reference()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("do not confirm"), "{err}");
    let forced = IngestOptions {
        format: Some(Format::Omop),
        ..options(reference())
    };
    let r = load(&tmp.path().join("s3"), std::slice::from_ref(&p), &forced).unwrap();
    assert_eq!(r.totals.rows_rejected, 1);
    let q = quarantine(&tmp.path().join("s3"));
    assert_eq!(
        q.get(&("person.parquet".to_owned(), 1)).map(String::as_str),
        Some("omop.missing_column")
    );
    // Another forced format is refused, naming the file.
    let lab = IngestOptions {
        format: Some(Format::Lab),
        ..options(reference())
    };
    let err = load(&tmp.path().join("s4"), &[p], &lab).unwrap_err();
    assert!(err.to_string().contains("person.parquet"), "{err}");
    // A file named .parquet holding CSV is read as CSV.
    let p = write(&d, "concept.parquet", CONCEPT.as_bytes());
    let r = load(&tmp.path().join("s5"), &[p], &options(reference())).unwrap();
    assert_eq!(r.totals.rows_accepted, 6);
}

#[test]
fn damaged_parquet_is_a_file_error_naming_the_file() {
    let good = parquet_of(CONDITION);
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good.get(..good.len() / 2).unwrap().to_vec()),
        ("footer cut", good.get(..good.len() - 3).unwrap().to_vec()),
        ("magic only", b"PAR1".to_vec()),
        (
            "garbage",
            [b"PAR1".as_slice(), &[0xAB; 300], b"PAR1"].concat(),
        ),
        (
            "bad footer length",
            [
                b"PAR1".as_slice(),
                &[0u8; 16],
                &u32::MAX.to_le_bytes(),
                b"PAR1",
            ]
            .concat(),
        ),
    ];
    for (what, bytes) in cases {
        let d = tmp.path().join(what.replace(' ', "_"));
        write(&d, "person.csv", PERSON.as_bytes());
        write(&d, "condition_occurrence.parquet", &bytes);
        let store = tmp.path().join(format!("store_{}", what.replace(' ', "_")));
        let err = load(&store, std::slice::from_ref(&d), &options(reference())).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("condition_occurrence.parquet"),
            "{what}: {msg}"
        );
        assert!(msg.contains("Parquet"), "{what}: {msg}");
        assert!(current(&store).is_none(), "{what}: nothing is published");
        eprintln!("{what}: {msg}");
    }
    // Bytes flipped inside the data pages (footer intact): an error naming
    // the file or rows read, never a panic.
    for at in [8usize, good.len() / 3, good.len() / 2] {
        let mut bad = good.clone();
        let end = (at + 24).min(good.len().saturating_sub(8));
        for b in bad.get_mut(at..end).unwrap_or_default() {
            *b ^= 0x5A;
        }
        let d = tmp.path().join(format!("flipped_{at}"));
        write(&d, "person.csv", PERSON.as_bytes());
        write(&d, "condition_occurrence.parquet", &bad);
        match load(
            &tmp.path().join(format!("store_{at}")),
            std::slice::from_ref(&d),
            &options(reference()),
        ) {
            Ok(_) => {}
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.contains("condition_occurrence.parquet"), "{msg}");
                eprintln!("flipped at {at}: {msg}");
            }
        }
    }
}

#[test]
fn row_numbers_run_on_over_batches_and_row_groups() {
    // 20,000 rows: several record batches; every row a distinct condition
    // of person 2, row 17,001 about an unknown person.
    let mut csv = String::from(
        "condition_occurrence_id,person_id,condition_concept_id,condition_start_date\n",
    );
    for i in 1..=20_000u32 {
        let person = if i == 17_001 { 99 } else { 2 };
        csv.push_str(&format!("{i},{person},2,2020-03-01\n"));
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("cdm");
    write(&d, "concept.csv", CONCEPT.as_bytes());
    write(&d, "person.csv", PERSON.as_bytes());
    write(&d, "condition_occurrence.parquet", &parquet_of(&csv));
    let store = tmp.path().join("store");
    let r = load(&store, &[d], &options(reference())).unwrap();
    assert_eq!(r.totals.rows_rejected, 1);
    let q = quarantine(&store);
    assert_eq!(
        q.get(&("condition_occurrence.parquet".to_owned(), 17_001))
            .map(String::as_str),
        Some("omop.unknown_person"),
        "{q:?}"
    );
}
