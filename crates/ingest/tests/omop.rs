//! OMOP CDM ingest on small hand-written folders: every kind of bad row
//! gets its own reason, values, units and codes are mapped as documented,
//! persons with a Swedish identity number link with register data, and a
//! later delivery of one more table resolves its persons and concepts from
//! the folder's tables already in the store.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use halsohub_ingest::{Format, IngestError, IngestOptions};
use halsohub_store::{Comparator, Domain, Event, Setting, Store};

const CDM_SOURCE: &str = "cdm_source_name,cdm_source_abbreviation,cdm_holder,source_description,source_documentation_reference,cdm_etl_reference,source_release_date,cdm_release_date,cdm_version,cdm_version_concept_id,vocabulary_version
Region Test EHR,RTE,Region Test,,,,2025-01-01,2025-01-02,5.4,756265,v5.0
";

const CONCEPT: &str = "concept_id,concept_name,domain_id,vocabulary_id,concept_class_id,standard_concept,concept_code,valid_start_date,valid_end_date,invalid_reason
1,Type 2 diabetes mellitus without complications,Condition,ICD10CM,4-char billing code,,E11.9,2007-01-01,2099-12-31,
2,\"Diabetes mellitus type 2, finding\",Condition,SNOMED,Clinical Finding,S,44054006,2002-01-31,2099-12-31,
3,Hemoglobin A1c,Measurement,LOINC,Lab Test,S,4548-4,1970-01-01,2099-12-31,
4,percent,Unit,UCUM,Unit,S,%,1970-01-01,2099-12-31,
5,millimole per mole,Unit,UCUM,Unit,S,mmol/mol,1970-01-01,2099-12-31,
6,Broken SNOMED code,Condition,SNOMED,Clinical Finding,S,123,1970-01-01,2099-12-31,
7,metformin,Drug,RxNorm,Ingredient,S,6809,1970-01-01,2099-12-31,
8,Positive,Meas Value,SNOMED,Qualifier Value,S,10828004,1970-01-01,2099-12-31,
1,Duplicate,Condition,ICD10CM,4-char billing code,,E11.9,2007-01-01,2099-12-31,
0,No matching concept,Metadata,None,Undefined,,No matching concept,1970-01-01,2099-12-31,
";

/// Person 1 has a personnummer (links with register data); 2 a local
/// UUID; 3 a personnummer with a bad check digit; 4 an impossible birth
/// month; the second row of person 1 repeats its id.
const PERSON: &str = "PERSON_ID,GENDER_CONCEPT_ID,YEAR_OF_BIRTH,MONTH_OF_BIRTH,DAY_OF_BIRTH,BIRTH_DATETIME,RACE_CONCEPT_ID,ETHNICITY_CONCEPT_ID,LOCATION_ID,PROVIDER_ID,CARE_SITE_ID,PERSON_SOURCE_VALUE,GENDER_SOURCE_VALUE,GENDER_SOURCE_CONCEPT_ID,RACE_SOURCE_VALUE,RACE_SOURCE_CONCEPT_ID,ETHNICITY_SOURCE_VALUE,ETHNICITY_SOURCE_CONCEPT_ID
1,8507,1912,12,12,,0,0,,,,19121212-1212,M,0,,0,,0
2,8532,1960,,,,0,0,,,,5c0e6a3e-1f2b-4a59-9c1d-0d6f2b7c9a11,F,0,,0,,0
3,8532,1970,1,1,,0,0,,,,19121212-1213,F,0,,0,,0
4,8507,1980,13,1,,0,0,,,,,M,0,,0,,0
1,8532,1912,12,12,,0,0,,,,19121212-1212,M,0,,0,,0
";

const CONDITION: &str = "condition_occurrence_id,person_id,condition_concept_id,condition_start_date,condition_start_datetime,condition_end_date,condition_end_datetime,condition_type_concept_id,condition_status_concept_id,stop_reason,provider_id,visit_occurrence_id,visit_detail_id,condition_source_value,condition_source_concept_id,condition_status_source_value
10,1,2,2020-03-01,,,,32817,32902,,,,,E11.9,1,
11,99,2,2020-03-01,,,,32817,0,,,,,E11.9,1,
12,3,2,2020-03-01,,,,32817,0,,,,,E11.9,1,
13,2,2,2020-02-30,,,,32817,0,,,,,E11.9,1,
14,2,0,2020-03-01,,,,32817,0,,,,,X99,0,
15,2,999999,2020-03-01,,,,32817,0,,,,,,0,
16,2,2,2020-03-05,,2020-03-01,,32817,0,,,,,,0,
17,2,2,2020-03-01
10,1,2,2020-03-01,,,,32817,32902,,,,,E11.9,1,
18,2,6,2021-01-01,,,,32817,0,,,,,123,6,
";

/// Has an extra, non-CDM column `lab_comment`.
const MEASUREMENT: &str = "measurement_id,person_id,measurement_concept_id,measurement_date,measurement_datetime,measurement_time,measurement_type_concept_id,operator_concept_id,value_as_number,value_as_concept_id,unit_concept_id,range_low,range_high,provider_id,visit_occurrence_id,visit_detail_id,measurement_source_value,measurement_source_concept_id,unit_source_value,unit_source_concept_id,value_source_value,measurement_event_id,meas_event_field_concept_id,lab_comment
20,1,3,2020-03-02,,,32817,,48,,5,,,,,,,3,,,,,,ok
21,1,3,2020-04-02,,,32817,,6.5,,4,,,,,,,3,%,,,,,ok
22,1,3,2020-05-02,,,32817,,48,,0,,,,,,,3,,,,,,no unit
23,1,3,2020-06-02,,,32817,,48,,0,,,,,,,3,kg,,,,,wrong unit
24,1,3,2020-07-02,,,32817,12345,48,,5,,,,,,,3,,,,,,odd operator
25,1,3,2020-08-02,,,32817,4171756,5,,5,,,,,,,3,,,,,,below
26,2,3,2020-08-02,,,32817,,,8,,,,,,,,3,,,,,,coded
27,2,3,2020-08-03,,,32817,,abc,,5,,,,,,,3,,,,,,not a number
";

const OBSERVATION: &str = "observation_id,person_id,observation_concept_id,observation_date,observation_datetime,observation_type_concept_id,value_as_number,value_as_string,value_as_concept_id,qualifier_concept_id,unit_concept_id,provider_id,visit_occurrence_id,visit_detail_id,observation_source_value,observation_source_concept_id,unit_source_value,qualifier_source_value,value_source_value,observation_event_id,obs_event_field_concept_id
30,2,2,2021-05-01,,32817,,daily smoker,0,0,0,,,,,0,,,,,
";

/// Lacks `procedure_date`, which halsohub needs.
const PROCEDURE: &str =
    "procedure_occurrence_id,person_id,procedure_concept_id,procedure_type_concept_id
40,1,2,32817
41,2,2,32817
";

const VISIT: &str = "visit_occurrence_id,person_id,visit_concept_id,visit_start_date,visit_start_datetime,visit_end_date,visit_end_datetime,visit_type_concept_id,provider_id,care_site_id,visit_source_value,visit_source_concept_id,admitted_from_concept_id,admitted_from_source_value,discharged_to_concept_id,discharged_to_source_value,preceding_visit_occurrence_id
50,1,9201,2020-03-01,,2020-03-04,,32817,,,,0,0,,0,,
51,2,9203,2020-03-01,,2020-03-01,,32817,,,,0,0,,0,,
";

const DEATH: &str = "person_id,death_date,death_datetime,death_type_concept_id,cause_concept_id,cause_source_value,cause_source_concept_id
2,2022-01-10,,32817,0,E11.9,1
2,2022-01-11,,32817,0,E11.9,1
";

const DRUG: &str = "drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_start_datetime,drug_exposure_end_date,drug_exposure_end_datetime,verbatim_end_date,drug_type_concept_id,stop_reason,refills,quantity,days_supply,sig,route_concept_id,lot_number,provider_id,visit_occurrence_id,visit_detail_id,drug_source_value,drug_source_concept_id,route_source_value,dose_unit_source_value
60,1,7,2020-03-10,,2020-04-10,,,38000175,,,100,30,,0,,,,,,0,,
61,2,7,2020-03-10,,2020-04-10,,,38000177,,,,,,0,,,,,,0,,
62,2,7,2020-03-10,,2020-03-10,,,32818,,,,,,0,,,,,,0,,
";

fn folder(root: &Path) -> PathBuf {
    let d = root.join("cdm");
    write(&d, "cdm_source.csv", CDM_SOURCE.as_bytes());
    write(&d, "concept.csv", CONCEPT.as_bytes());
    write(&d, "PERSON.csv", PERSON.as_bytes());
    write(&d, "condition_occurrence.csv", CONDITION.as_bytes());
    write(&d, "measurement.csv", MEASUREMENT.as_bytes());
    write(&d, "observation.csv", OBSERVATION.as_bytes());
    write(&d, "procedure_occurrence.csv", PROCEDURE.as_bytes());
    write(&d, "visit_occurrence.csv", VISIT.as_bytes());
    write(&d, "death.csv", DEATH.as_bytes());
    write(&d, "drug_era.csv", b"drug_era_id,person_id\n1,1\n");
    d
}

/// Quarantine reasons by (file, line).
fn quarantine(store: &Path) -> BTreeMap<(String, u64), (String, String)> {
    let s = Store::open(store).unwrap();
    let snap = s.snapshot(None).unwrap();
    snap.quarantine()
        .unwrap()
        .into_iter()
        .map(|q| {
            let file = q.source_file.rsplit('/').next().unwrap().to_owned();
            ((file, q.line), (q.reason, q.detail))
        })
        .collect()
}

#[test]
fn every_bad_row_has_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let cdm = folder(tmp.path());
    let store = tmp.path().join("store");
    let r = load(&store, &[cdm], &options(reference())).unwrap();
    let q = quarantine(&store);
    let reason = |file: &str, line: u64| q.get(&(file.to_owned(), line)).map(|x| x.0.as_str());

    // concept: a SNOMED code with a wrong check digit, a repeated id.
    assert_eq!(reason("concept.csv", 7), Some("omop.invalid_code"));
    assert_eq!(reason("concept.csv", 10), Some("omop.duplicate_id"));
    // person: bad check digit in person_source_value, month 13, repeat.
    assert_eq!(
        reason("PERSON.csv", 4),
        Some("invalid_identity.bad_check_digit")
    );
    assert_eq!(reason("PERSON.csv", 5), Some("omop.invalid_date"));
    assert_eq!(reason("PERSON.csv", 6), Some("omop.duplicate_id"));
    // condition_occurrence.
    assert_eq!(reason("condition_occurrence.csv", 2), None);
    assert_eq!(
        reason("condition_occurrence.csv", 3),
        Some("omop.unknown_person")
    );
    assert_eq!(
        reason("condition_occurrence.csv", 4),
        Some("omop.person_rejected")
    );
    assert_eq!(
        reason("condition_occurrence.csv", 5),
        Some("omop.invalid_date")
    );
    assert_eq!(
        reason("condition_occurrence.csv", 6),
        Some("omop.missing_concept")
    );
    assert_eq!(reason("condition_occurrence.csv", 7), None); // omop:999999, flagged
    assert_eq!(
        reason("condition_occurrence.csv", 8),
        Some("omop.period_ends_before_start")
    );
    assert_eq!(
        reason("condition_occurrence.csv", 9),
        Some("wrong_column_count")
    );
    assert_eq!(
        reason("condition_occurrence.csv", 10),
        Some("duplicate_row")
    );
    // Concept 6 was rejected in the concept table: the row keeps it as
    // omop:6, flagged.
    assert_eq!(reason("condition_occurrence.csv", 11), None);
    // measurement.
    assert_eq!(
        reason("measurement.csv", 4),
        Some("omop.value_without_unit")
    );
    assert_eq!(reason("measurement.csv", 5), Some("omop.incompatible_unit"));
    assert_eq!(reason("measurement.csv", 6), Some("omop.unknown_operator"));
    assert_eq!(reason("measurement.csv", 9), Some("omop.invalid_number"));
    // procedure_occurrence lacks procedure_date: every row says so.
    for line in [2, 3] {
        let (why, detail) = &q[&("procedure_occurrence.csv".to_owned(), line)];
        assert_eq!(why, "omop.missing_column");
        assert!(detail.starts_with("procedure_date:"), "{detail}");
    }
    // death: a second row for the person.
    assert_eq!(reason("death.csv", 3), Some("omop.duplicate_id"));
    assert_eq!(q.len(), 19, "{q:#?}");
    assert_eq!(r.totals.rows_rejected, 19);
    assert_eq!(r.totals.rows_accepted + 19, r.totals.rows_read);
    // Nothing in the quarantine echoes the identity numbers.
    for (_, detail) in q.values() {
        assert!(!detail.contains("121212"), "{detail}");
    }

    // Notes: the unread table, the extra column, the lacking columns.
    let notes = r.notes.join("\n");
    assert!(notes.contains("drug_era.csv: skipped"), "{notes}");
    assert!(notes.contains("lab_comment"), "{notes}");

    let ev = common::events(&store);
    let find = |domain: Domain, system: &str, code: &str| -> Vec<&Event> {
        ev.iter()
            .map(|(_, e)| e)
            .filter(|e| e.domain == domain && e.system == system && e.code == code)
            .collect()
    };
    // The ICD-10-CM source code and the SNOMED CT standard code.
    assert_eq!(find(Domain::Diagnosis, "icd10cm", "E119").len(), 1);
    let d = find(Domain::Diagnosis, "snomedct", "44054006");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].primary, Some(true));
    let unknown = find(Domain::Diagnosis, "omop", "999999");
    assert_eq!(unknown.len(), 1);
    assert!(!unknown[0].code_known);
    assert_eq!(find(Domain::Diagnosis, "omop", "6").len(), 1);
    // HbA1c: mmol/mol kept, % converted, "<" kept; a coded value.
    let mut a1c: Vec<(Option<f64>, Option<&str>, Option<&str>)> =
        find(Domain::LabResult, "loinc", "4548-4")
            .iter()
            .map(|e| {
                (
                    e.value.map(|v| v.round()),
                    e.unit.as_deref(),
                    e.comparator.map(Comparator::as_str),
                )
            })
            .collect();
    a1c.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(
        a1c,
        vec![
            (None, None, None),
            (Some(5.0), Some("mmol/mol"), Some("<")),
            (Some(48.0), Some("mmol/mol"), None),
            (Some(48.0), Some("mmol/mol"), None),
        ]
    );
    let coded = find(Domain::LabResult, "loinc", "4548-4")
        .into_iter()
        .find(|e| e.value.is_none())
        .unwrap();
    assert_eq!(
        (coded.value_system.as_deref(), coded.value_code.as_deref()),
        (Some("snomedct"), Some("10828004"))
    );
    // Observation with a text value.
    let o = find(Domain::Observation, "snomedct", "44054006");
    assert_eq!(o[0].value_text.as_deref(), Some("daily smoker"));
    // Visits: setting from the visit concept.
    let mut settings: Vec<Option<Setting>> = ev
        .iter()
        .filter(|(_, e)| e.domain == Domain::Encounter)
        .map(|(_, e)| e.setting)
        .collect();
    settings.sort();
    assert_eq!(
        settings,
        vec![Some(Setting::Inpatient), Some(Setting::Outpatient)]
    );
    // Death: an event with the cause, and the person's death date.
    let death = find(Domain::Death, "icd10cm", "E119");
    assert_eq!(death.len(), 1);
    let s = Store::open(&store).unwrap();
    let persons = s.snapshot(None).unwrap().persons().unwrap();
    assert_eq!(persons.len(), 2);
    assert!(
        persons
            .iter()
            .any(|p| p.person.death_date.is_some() && p.person.sex == Some('F'))
    );
}

#[test]
fn a_personnummer_links_with_register_data_and_never_reaches_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let cdm = folder(tmp.path());
    let reg = write(
        &tmp.path().join("reg"),
        "dors.txt",
        b"PERSONNR;DODSDATUM;ULORSAK;MORSAK\r\n19121212-1212;20230101;I219;\r\n",
    );
    let store = tmp.path().join("store");
    let r = load(&store, &[cdm, reg], &options(reference())).unwrap();
    // OMOP persons 1 and 2; the register's person is OMOP person 1.
    assert_eq!(r.patients_seen, 2);
    assert_eq!(r.patients_by_source_count.get(&2), Some(&1));
    for entry in common::files_below(&store) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for raw in [
            "19121212-1212",
            "191212121212",
            "121212-1212",
            "19121212-1213",
        ] {
            assert!(!text.contains(raw), "{} holds {raw}", entry.display());
        }
    }
}

#[test]
fn a_later_table_resolves_persons_and_concepts_from_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let cdm = folder(tmp.path());
    let store = tmp.path().join("store");
    load(&store, std::slice::from_ref(&cdm), &options(reference())).unwrap();
    // A new delivery adds drug_exposure to the same folder.
    write(&cdm, "drug_exposure.csv", DRUG.as_bytes());
    let r = load(&store, std::slice::from_ref(&cdm), &options(reference())).unwrap();
    assert_eq!(r.totals.files, 1, "{:#?}", r.files);
    assert_eq!(
        r.totals.rows_rejected, 0,
        "{:?}",
        r.totals.rejected_by_reason
    );
    assert_eq!(r.totals.events_by_domain["dispensed_drug"], 1);
    assert_eq!(r.totals.events_by_domain["prescribed_drug"], 1);
    assert_eq!(r.totals.events_by_domain["administered_drug"], 1);
    let dispensed = common::events(&store)
        .into_iter()
        .find(|(_, e)| e.domain == Domain::DispensedDrug)
        .unwrap();
    assert_eq!(dispensed.1.quantity, Some(100.0));
    // And again: nothing new.
    let again = load(&store, std::slice::from_ref(&cdm), &options(reference())).unwrap();
    assert!(again.snapshot.is_none());
}

#[test]
fn forced_format_and_lone_files() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let forced = IngestOptions {
        format: Some(Format::Omop),
        ..options(reference())
    };
    // A file whose name names no CDM table.
    let odd = write(
        tmp.path(),
        "odd/persons_2024.csv",
        b"person_id,year_of_birth\n1,1950\n",
    );
    let err = load(&store, &[odd], &forced).unwrap_err();
    assert!(matches!(err, IngestError::NotOmop { .. }), "{err}");
    assert!(err.to_string().contains("persons_2024.csv"), "{err}");
    // A lone table halsohub does not read.
    let era = write(
        tmp.path(),
        "era/condition_era.csv",
        b"condition_era_id,person_id,condition_concept_id\n1,1,2\n",
    );
    let err = load(&store, &[era], &options(reference())).unwrap_err();
    assert!(err.to_string().contains("condition_era"), "{err}");
    // A lone person table with three columns, forced: read.
    let p = write(
        tmp.path(),
        "solo/person.csv",
        b"person_id,gender_concept_id,year_of_birth\n7,8532,1950\n",
    );
    let r = load(&store, &[p], &forced).unwrap();
    assert_eq!((r.totals.rows_accepted, r.totals.persons), (1, 1));
    assert_eq!(Format::parse("OMOP").unwrap(), Format::Omop);
}

#[test]
fn garbage_never_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let cdm = folder(tmp.path());
    let store = tmp.path().join("store");
    // Quotes, control bytes, invalid UTF-8, very wide rows, huge numbers.
    let junk: &[u8] = b"condition_occurrence_id,person_id,condition_concept_id,condition_start_date\n\"1,2,3\n\xff\xfe,1,2,2020-01-01\n9,1,99999999999999999999,2020-01-01\n9,1,-5,2020-01-01\n,,,\n1,1,2,2020-01-01,,,,,,,,,,,,,,,,,\n\"unterminated,1,2,2020-01-01\n";
    write(&cdm, "condition_occurrence.csv", junk);
    let r = load(&store, &[cdm], &options(reference())).unwrap();
    assert_eq!(
        r.totals.rows_accepted + r.totals.rows_rejected,
        r.totals.rows_read
    );
}

/// Events take the setting and provider of their visit (primary care from
/// `visit_source_value`, as halsohub's export writes it); a person's
/// location, when a Swedish län, is their residence over each observation
/// period.
#[test]
fn events_take_their_visits_setting_and_locations_give_residences() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("cdm");
    write(&d, "cdm_source.csv", CDM_SOURCE.as_bytes());
    write(&d, "concept.csv", CONCEPT.as_bytes());
    write(
        &d,
        "location.csv",
        b"location_id,state,county,country_source_value\n1,01,0180,SE\n2,MA,Suffolk,US\n3,14,,\n",
    );
    write(
        &d,
        "care_site.csv",
        b"care_site_id,care_site_name,location_id,care_site_source_value\n7,Vardcentral A,1,SE2321000016-A\n8,Clinic,2,\n",
    );
    write(
        &d,
        "person.csv",
        b"person_id,gender_concept_id,year_of_birth,location_id,person_source_value\n1,8507,1960,1,p1\n2,8532,1970,2,p2\n3,8532,1980,,p3\n",
    );
    write(
        &d,
        "observation_period.csv",
        b"observation_period_id,person_id,observation_period_start_date,observation_period_end_date,period_type_concept_id\n1,1,2019-01-01,2021-12-31,32879\n2,2,2019-01-01,2021-12-31,32879\n3,3,2019-01-01,2021-12-31,32879\n",
    );
    write(
        &d,
        "visit_occurrence.csv",
        b"visit_occurrence_id,person_id,visit_concept_id,visit_start_date,visit_end_date,visit_type_concept_id,care_site_id,visit_source_value\n\
50,1,581477,2020-03-01,2020-03-01,32817,7,primary_care\n\
51,2,9201,2020-03-01,2020-03-02,32817,8,b2a6f7d3-bed4\n\
52,3,581477,2020-03-01,2020-03-01,32817,,\n",
    );
    write(
        &d,
        "condition_occurrence.csv",
        b"condition_occurrence_id,person_id,condition_concept_id,condition_start_date,condition_type_concept_id,visit_occurrence_id,condition_source_concept_id\n\
1,1,2,2020-03-01,32817,50,1\n\
2,2,2,2020-03-01,32817,51,1\n\
3,1,2,2020-03-02,32817,51,1\n\
4,3,2,2020-03-01,32817,52,1\n\
5,3,2,2020-03-05,32817,,1\n\
6,3,2,2020-03-06,32817,999,1\n",
    );
    let store = tmp.path().join("store");
    let r = load(&store, std::slice::from_ref(&d), &options(reference())).unwrap();
    // Only the concept table's two bad rows (a repeated id, a bad SNOMED
    // code) are rejected.
    let rejected: Vec<(&str, u64)> = r
        .files
        .iter()
        .filter(|f| f.rows_rejected > 0)
        .map(|f| (f.path.rsplit('/').next().unwrap(), f.rows_rejected))
        .collect();
    assert_eq!(rejected, [("concept.csv", 2)]);
    assert_eq!(r.totals.residences, 1);
    // Two codes per condition row (source ICD10CM, standard SNOMED).
    type Seen = (String, Option<Setting>, Option<String>, Option<String>);
    let mut got: Vec<Seen> = common::events(&store)
        .into_iter()
        .filter(|(_, e)| e.system == "icd10cm")
        .map(|(_, e)| {
            (
                e.start.to_string(),
                e.setting,
                e.provider.clone(),
                e.provider_region.clone(),
            )
        })
        .collect();
    got.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    let p = Some("SE2321000016-A".to_owned());
    let want = vec![
        // Person 1 at its primary-care visit; person 2 inpatient at a care
        // site outside Sweden (named by care_site_name, no region).
        (
            "2020-03-01".to_owned(),
            Some(Setting::Inpatient),
            Some("Clinic".to_owned()),
            None,
        ),
        (
            "2020-03-01".to_owned(),
            Some(Setting::Outpatient),
            None,
            None,
        ),
        (
            "2020-03-01".to_owned(),
            Some(Setting::PrimaryCare),
            p,
            Some("01".to_owned()),
        ),
        // Person 1's row names person 2's visit; person 3: no visit, an
        // unknown visit.
        ("2020-03-02".to_owned(), None, None, None),
        ("2020-03-05".to_owned(), None, None, None),
        ("2020-03-06".to_owned(), None, None, None),
    ];
    let mut want = want;
    want.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    assert_eq!(got, want);
    let encounters = common::events(&store)
        .into_iter()
        .filter(|(_, e)| e.domain == Domain::Encounter && e.setting == Some(Setting::PrimaryCare))
        .count();
    assert_eq!(encounters, 1);

    // Residences: person 1 in 01 (kommun 0180) over its observation
    // period; person 2 lives in the US (no residence), person 3 has no
    // location.
    let res = Store::open(&store)
        .unwrap()
        .snapshot(None)
        .unwrap()
        .residences()
        .unwrap();
    assert_eq!(res.len(), 1, "{res:?}");
    let r0 = &res[0].residence;
    assert_eq!(r0.region, "01");
    assert_eq!(r0.municipality.as_deref(), Some("0180"));
    assert_eq!(r0.from.to_string(), "2019-01-01");
    assert_eq!(r0.to.map(|t| t.to_string()).as_deref(), Some("2022-01-01"));
}
