//! Hand-written FHIR R4 files: what each resource becomes, reference
//! resolution, Swedish identity linkage with register data, and the
//! bad-input cases, each with its reason code.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

use std::io::Write;

use chrono::NaiveDate;
use common::*;
use halsohub_identity::{Form, Personnummer};
use halsohub_ingest::{Format, IngestError, IngestOptions};
use halsohub_store::{Comparator, Domain, Event, Setting, Store};
use serde_json::json;

fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, dd).unwrap()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// (line, reason) of every quarantined record, sorted.
fn quarantine(dir: &std::path::Path) -> Vec<(u64, String)> {
    let mut q: Vec<(u64, String)> = Store::open(dir)
        .unwrap()
        .snapshot(None)
        .unwrap()
        .quarantine()
        .unwrap()
        .into_iter()
        .map(|q| (q.line, q.reason))
        .collect();
    q.sort();
    q
}

const PNR_OID: &str = "urn:oid:1.2.752.129.2.1.3.1";

#[test]
fn personnummer_links_with_register_data_and_never_reaches_the_store() {
    let a = Personnummer::from_parts(d(1950, 3, 4), 123, false).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let dors = write(
        src.path(),
        "dors.txt",
        format!(
            "PERSONNR;DODSDATUM;ULORSAK;MORSAK\n{};20240301;I509;\n",
            a.format(Form::Twelve)
        )
        .as_bytes(),
    );
    let bundle = json!({
        "resourceType": "Bundle", "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "id": "p1",
                "identifier": [
                    {"system": "https://hospital.example/mrn", "value": "MRN-1"},
                    {"system": PNR_OID, "value": a.format(Form::TenSeparated { reference: reference() })}
                ],
                "gender": "male", "birthDate": "1950-03-04"}},
            {"resource": {"resourceType": "Condition", "subject": {"reference": "urn:uuid:p1"},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"}]},
                "onsetDateTime": "2020-05-06T10:00:00+02:00"}}
        ]
    });
    let fhir = write(src.path(), "bundle.json", bundle.to_string().as_bytes());
    let r = load(dir.path(), &[dors, fhir], &options(reference())).unwrap();
    assert_eq!(r.totals.rows_rejected, 0, "{r}");
    // One person, seen in two sources.
    assert_eq!(r.patients_seen, 1);
    assert_eq!(r.patients_by_source_count.get(&2), Some(&1));
    let ev = common::events(dir.path());
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|(p, _)| *p == ev[0].0));
    let diag = ev
        .iter()
        .find(|(_, e)| e.source == "fhir_condition")
        .unwrap();
    assert_eq!(
        (diag.1.system.as_str(), diag.1.code.as_str()),
        ("icd10se", "E119")
    );
    assert_eq!(diag.1.start, d(2020, 5, 6));
    // No written form of the number anywhere in the store.
    let forms: Vec<String> = Form::all(reference())
        .iter()
        .map(|f| a.format(*f))
        .collect();
    for entry in common::files_below(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        for f in &forms {
            assert!(
                !bytes.windows(f.len()).any(|w| w == f.as_bytes()),
                "{} holds the number",
                entry.display()
            );
        }
    }
}

#[test]
fn bundle_references_resolve_forward_contained_and_by_url() {
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            // Before its Patient and its Medication: resolved at the end.
            {"fullUrl": "urn:uuid:mr", "resource": {"resourceType": "MedicationRequest", "status": "active",
                "subject": {"reference": "urn:uuid:p"}, "authoredOn": "2021-01-02",
                "medicationReference": {"reference": "urn:uuid:med"},
                "dispenseRequest": {"quantity": {"value": 2, "unit": "pack"}}},
             "request": {"method": "POST", "url": "MedicationRequest"}},
            {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "id": "x",
                "identifier": [{"system": "https://hospital.example/mrn", "value": "7"}],
                "gender": "female", "birthDate": "1980", "deceasedDateTime": "2023-04-05"}},
            {"fullUrl": "urn:uuid:med", "resource": {"resourceType": "Medication",
                "code": {"coding": [{"system": "http://www.whocc.no/atc", "code": "A10BA02"},
                                    {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "860975"}]}}},
            {"fullUrl": "https://fhir.example/Encounter/e1", "resource": {"resourceType": "Encounter", "id": "e1",
                "status": "finished", "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
                "subject": {"reference": "Patient/x"}, "period": {"start": "2021-01-01", "end": "2021-01-03"}}},
            {"resource": {"resourceType": "Condition", "subject": {"reference": "https://fhir.example/Patient/x"},
                "encounter": {"reference": "Encounter/e1"}, "recordedDate": "2021-01-01",
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]}}},
            {"resource": {"resourceType": "MedicationAdministration", "status": "completed",
                "contained": [{"resourceType": "Medication", "id": "m",
                    "code": {"coding": [{"system": "http://fhir.de/CodeSystem/bfarm/atc", "code": "B01AB01"}]}}],
                "medicationReference": {"reference": "#m"}, "subject": {"reference": "Patient/x"},
                "effectiveDateTime": "2021-01-02T08:00:00Z",
                "dosage": {"dose": {"value": 5000, "unit": "IE"}}}},
            {"resource": {"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/x"},
                "effectiveDateTime": "2021-01-02",
                "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
                "component": [
                    {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                     "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
                    {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                     "valueQuantity": {"value": 80, "comparator": "<", "unit": "mm[Hg]"}}
                ]}},
            {"resource": {"resourceType": "Procedure", "status": "completed", "subject": {"reference": "Patient/x"},
                "performedPeriod": {"start": "2021-01-02", "end": "2021-01-02"},
                "code": {"coding": [{"system": "urn:oid:1.2.752.116.1.3.2.1.4", "code": "fng05"}]}}}
        ]
    });
    let src = tempfile::tempdir().unwrap();
    let f = write(
        src.path(),
        "b.json",
        serde_json::to_string_pretty(&bundle).unwrap().as_bytes(),
    );
    let dir = tempfile::tempdir().unwrap();
    let r = load(dir.path(), &[f], &options(reference())).unwrap();
    assert_eq!(r.totals.rows_read, 8);
    assert_eq!(r.totals.rows_rejected, 0, "{r}");
    assert_eq!(r.totals.imputed_dates, 1); // birthDate "1980"
    let ev = common::events(dir.path());
    assert!(ev.iter().all(|(p, _)| *p == ev[0].0), "one patient");
    let find = |source: &str| -> Vec<&Event> {
        ev.iter()
            .map(|(_, e)| e)
            .filter(|e| e.source == source)
            .collect()
    };
    // The medication's ATC code (the RxNorm coding is dropped: a known
    // system wins).
    let mr = find("fhir_medication_request");
    assert_eq!(mr.len(), 1);
    assert_eq!(
        (mr[0].domain, mr[0].system.as_str(), mr[0].code.as_str()),
        (Domain::PrescribedDrug, "atc", "A10BA02")
    );
    assert_eq!(mr[0].quantity, Some(2.0));
    let ma = find("fhir_medication_administration");
    assert_eq!(
        (ma[0].domain, ma[0].code.as_str(), ma[0].quantity),
        (Domain::AdministeredDrug, "B01AB01", Some(5000.0))
    );
    let cond = find("fhir_condition");
    assert_eq!(cond[0].setting, Some(Setting::Inpatient));
    let enc = find("fhir_encounter");
    assert_eq!(
        (enc[0].start, enc[0].end),
        (d(2021, 1, 1), Some(d(2021, 1, 3)))
    );
    let obs = find("fhir_observation");
    assert_eq!(obs.len(), 2, "two components, no value on the panel itself");
    let dia = obs.iter().find(|e| e.code == "8462-4").unwrap();
    assert_eq!(
        (dia.value, dia.comparator),
        (Some(80.0), Some(Comparator::Lt))
    );
    assert_eq!(find("fhir_procedure")[0].system, "kva");
    assert_eq!(find("fhir_procedure")[0].code, "FNG05");
    let death = find("fhir_patient");
    assert_eq!(
        (death[0].domain, death[0].start),
        (Domain::Death, d(2023, 4, 5))
    );
    let persons = Store::open(dir.path())
        .unwrap()
        .snapshot(None)
        .unwrap()
        .persons()
        .unwrap();
    assert_eq!(persons.len(), 1);
}

#[test]
fn ndjson_bad_lines_are_quarantined_with_their_reasons_and_the_rest_loads() {
    let bad_pnr = "19500304-1231"; // wrong check digit
    let lines = [
        // 1: a patient
        json!({"resourceType": "Patient", "id": "1", "gender": "female"}).to_string(),
        // 2: not JSON
        "{\"resourceType\": \"Condition\", ".to_owned(),
        // 3: fine
        json!({"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "onsetDateTime": "2020-01-01",
               "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}}).to_string(),
        // 4: STU3 shape
        json!({"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "clinicalStatus": "active",
               "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]}}).to_string(),
        // 5: a patient that is not in the file
        json!({"resourceType": "Condition", "subject": {"reference": "Patient/2"}, "onsetDateTime": "2020-01-01",
               "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]}}).to_string(),
        // 6: a value without unit
        json!({"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/1"},
               "effectiveDateTime": "2020-01-01", "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
               "valueQuantity": {"value": 5.5}}).to_string(),
        // 7: an invalid date
        json!({"resourceType": "Procedure", "status": "completed", "subject": {"reference": "Patient/1"},
               "performedDateTime": "2020-02-30", "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]}}).to_string(),
        // 8: not a resource type
        json!({"resourceType": "Foo", "id": "x"}).to_string(),
        // 9: no subject
        json!({"resourceType": "Condition", "onsetDateTime": "2020-01-01",
               "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]}}).to_string(),
        // 10: a patient with an invalid personnummer
        json!({"resourceType": "Patient", "id": "3", "identifier": [{"system": PNR_OID, "value": bad_pnr}]}).to_string(),
        // 11: about the rejected patient
        json!({"resourceType": "Condition", "subject": {"reference": "Patient/3"}, "onsetDateTime": "2020-01-01",
               "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]}}).to_string(),
        // 12: subject is a Group
        json!({"resourceType": "Observation", "subject": {"reference": "Group/1"}, "effectiveDateTime": "2020",
               "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}}).to_string(),
        // 13: a resource type halsohub does not read
        json!({"resourceType": "Claim", "id": "c"}).to_string(),
        // 14: a lab value in a unit that does not fit the analyte (HbA1c in kg)
        json!({"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/1"},
               "effectiveDateTime": "2020-01-01", "code": {"coding": [{"system": "http://npu-terminology.org", "code": "NPU27300"}]},
               "valueQuantity": {"value": 52, "unit": "kg"}}).to_string(),
        // 15: a Condition recorded in error
        json!({"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "onsetDateTime": "2020-01-01",
               "verificationStatus": {"coding": [{"code": "entered-in-error"}]},
               "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]}}).to_string(),
    ];
    let text = lines.join("\n") + "\n";
    let src = tempfile::tempdir().unwrap();
    let f = write(src.path(), "Condition.ndjson.gz", &gz(text.as_bytes()));
    let dir = tempfile::tempdir().unwrap();
    let r = load(dir.path(), &[f], &options(reference())).unwrap();
    assert_eq!(r.files[0].format, "fhir");
    assert_eq!(r.totals.rows_read, 15);
    assert_eq!(r.totals.rows_accepted, 2, "{r}");
    let q = quarantine(dir.path());
    let expect: Vec<(u64, String)> = [
        (2, "fhir.invalid_json"),
        (4, "fhir.unsupported_version"),
        (5, "fhir.missing_reference"),
        (6, "fhir.value_without_unit"),
        (7, "fhir.invalid_date"),
        (8, "fhir.unknown_resource_type"),
        (9, "fhir.missing_subject"),
        (10, "invalid_identity.bad_check_digit"),
        (11, "fhir.subject_rejected"),
        (12, "fhir.subject_not_patient"),
        (13, "fhir.unsupported_resource_type"),
        (14, "fhir.incompatible_unit"),
        (15, "fhir.excluded_status"),
    ]
    .into_iter()
    .map(|(l, r)| (l, r.to_owned()))
    .collect();
    assert_eq!(q, expect);
    // A rejected resource about a known patient names the patient's
    // pseudonym (line 6: the value without unit, about Patient/1).
    let records = Store::open(dir.path())
        .unwrap()
        .snapshot(None)
        .unwrap()
        .quarantine()
        .unwrap();
    let by_line = |l: u64| records.iter().find(|q| q.line == l).unwrap();
    assert!(by_line(6).identity.is_some());
    assert!(by_line(2).identity.is_none());
    // The quarantine never holds the number.
    let details: Vec<String> = Store::open(dir.path())
        .unwrap()
        .snapshot(None)
        .unwrap()
        .quarantine()
        .unwrap()
        .into_iter()
        .map(|q| q.detail)
        .collect();
    assert!(
        details
            .iter()
            .all(|d| !d.contains("1231") && !d.contains("19500304")),
        "{details:?}"
    );
}

#[test]
fn forced_format_and_file_level_errors() {
    let src = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let reg = write(src.path(), "x.txt", b"PERSONNR;DODSDATUM;ULORSAK;MORSAK\n");
    let opts = IngestOptions {
        format: Some(Format::Fhir),
        ..options(reference())
    };
    assert!(matches!(
        load(dir.path(), &[reg], &opts),
        Err(IngestError::NotFhir { .. })
    ));
    // A Bundle document that breaks off: a file-level error naming the line.
    let broken = write(src.path(), "b.json", b"{\n\"resourceType\": \"Bundle\",\n\"entry\": [\n{\"resource\": {\"resourceType\": \"Patient\"}},\n{\"resou");
    let err = load(dir.path(), &[broken], &options(reference())).unwrap_err();
    assert!(err.to_string().contains("line 5"), "{err}");
    assert!(
        Store::open(dir.path())
            .unwrap()
            .current()
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_large_bundle_streams() {
    // 20,000 Observations in one Bundle on a single line (no line ends at
    // all): read entry by entry, not as one value, and no line limit.
    let mut s = String::from(
        r#"{"resourceType":"Bundle","type":"searchset","entry":[{"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":"p"}}"#,
    );
    for i in 0..20_000 {
        s.push_str(&format!(
            r#",{{"resource":{{"resourceType":"Observation","status":"final","subject":{{"reference":"urn:uuid:p"}},"effectiveDateTime":"2020-01-01","code":{{"coding":[{{"system":"http://loinc.org","code":"2345-7"}}]}},"valueQuantity":{{"value":{i},"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"}}}},"search":{{"mode":"match"}}}}"#
        ));
    }
    s.push_str("]}");
    assert!(s.len() > 4 << 20);
    let src = tempfile::tempdir().unwrap();
    let f = write(src.path(), "big.json", s.as_bytes());
    let dir = tempfile::tempdir().unwrap();
    let r = load(dir.path(), &[f], &options(reference())).unwrap();
    assert_eq!(r.totals.rows_read, 20_001);
    assert_eq!(r.totals.rows_rejected, 0, "{r}");
    assert_eq!(r.totals.events_by_domain["lab_result"], 20_000);
}

#[test]
fn bulk_export_files_refer_to_each_other() {
    // A FHIR Bulk Data export: one NDJSON file per resource type. The
    // Patient and Medication files are read first; the others resolve
    // their references against them.
    let a = Personnummer::from_parts(d(1970, 1, 2), 345, false).unwrap();
    let src = tempfile::tempdir().unwrap();
    let patients = [
        json!({"resourceType": "Patient", "id": "a",
               "identifier": [{"system": PNR_OID, "value": a.format(Form::Twelve)}]}),
        json!({"resourceType": "Patient", "id": "b",
               "identifier": [{"system": "https://hospital.example/mrn", "value": "B"}]}),
    ];
    let conditions = [
        json!({"resourceType": "Condition", "subject": {"reference": "Patient/a"}, "onsetDateTime": "2020-01-01",
               "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}}),
        json!({"resourceType": "Condition", "subject": {"reference": "Patient/b"}, "onsetDateTime": "2020-01-01",
               "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}}),
        json!({"resourceType": "Condition", "subject": {"reference": "Patient/zzz"}, "onsetDateTime": "2020-01-01",
               "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}}),
    ];
    let meds = [json!({"resourceType": "Medication", "id": "m1",
        "code": {"coding": [{"system": "http://www.whocc.no/atc", "code": "C09AA05"}]}})];
    let requests = [
        json!({"resourceType": "MedicationRequest", "status": "active", "authoredOn": "2020-01-02",
        "subject": {"reference": "Patient/a"}, "medicationReference": {"reference": "Medication/m1"}}),
    ];
    let nd = |v: &[serde_json::Value]| v.iter().map(|x| x.to_string() + "\n").collect::<String>();
    let files = vec![
        write(src.path(), "Condition.ndjson", nd(&conditions).as_bytes()),
        write(
            src.path(),
            "MedicationRequest.ndjson",
            nd(&requests).as_bytes(),
        ),
        write(src.path(), "Patient.ndjson", nd(&patients).as_bytes()),
        write(src.path(), "Medication.ndjson", nd(&meds).as_bytes()),
        // The logs written beside the data: a bulk-data client's event log
        // and the server's OperationOutcome file. Recognised, not read.
        write(
            src.path(),
            "log.ndjson",
            nd(&[
                json!({"eventId": "kickoff", "eventDetail": {"exportUrl": "https://fhir.example/$export"},
                       "exportId": "e1", "timestamp": "2026-01-01T00:00:00Z"}),
                json!({"eventId": "export_complete", "eventDetail": {"duration": 12},
                       "exportId": "e1", "timestamp": "2026-01-01T00:00:12Z"}),
            ])
            .as_bytes(),
        ),
        write(
            src.path(),
            "error/OperationOutcome.ndjson",
            nd(&[json!({"resourceType": "OperationOutcome",
                        "issue": [{"severity": "warning", "code": "processing",
                                   "diagnostics": "2 resources could not be exported"}]})])
            .as_bytes(),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let r = load(dir.path(), &files, &options(reference())).unwrap();
    let logs: Vec<_> = r
        .skipped
        .iter()
        .map(|s| {
            (
                s.path.rsplit('/').next().unwrap_or("").to_owned(),
                s.reason.clone(),
            )
        })
        .collect();
    assert_eq!(logs.len(), 2, "{r}");
    assert!(
        logs.iter()
            .any(|(p, why)| p == "log.ndjson" && why.contains("bulk-data client"))
    );
    assert!(
        logs.iter()
            .any(|(p, why)| p == "OperationOutcome.ndjson" && why.contains("OperationOutcome log"))
    );
    assert_eq!(r.totals.rows_read, 7);
    assert_eq!(r.totals.rows_rejected, 1, "{r}");
    assert_eq!(
        quarantine(dir.path()),
        vec![(3, "fhir.missing_reference".to_owned())]
    );
    let ev = common::events(dir.path());
    let drug = ev
        .iter()
        .find(|(_, e)| e.domain == Domain::PrescribedDrug)
        .unwrap();
    assert_eq!(drug.1.code, "C09AA05");
    let diag_a = ev
        .iter()
        .find(|(p, e)| e.domain == Domain::Diagnosis && *p == drug.0);
    assert!(
        diag_a.is_some(),
        "the condition and the drug are one person's"
    );
    assert_eq!(r.patients_seen, 2);
}

#[test]
fn bulk_export_encounters_give_settings_and_addresses_give_residences() {
    // Encounter.ndjson is read after Patient.ndjson and before the other
    // files: a Condition in another file gets its encounter's setting —
    // from the care-setting extension first (primary care, which v3
    // ActCode cannot say), else from the class.
    let src = tempfile::tempdir().unwrap();
    let patients = [json!({"resourceType": "Patient", "id": "a",
    "identifier": [{"system": "https://hospital.example/mrn", "value": "A"}],
    "birthDate": "1960-05-05",
    "address": [
        // Two periods in Sweden (inclusive ends): residences.
        {"use": "home", "type": "physical", "district": "0180", "state": "01", "country": "SE",
         "period": {"start": "2000-01-01", "end": "2009-12-31"}},
        {"use": "home", "state": "12", "period": {"start": "2010-01-01"}},
        // Not residences: abroad, a state name, postal, old, no län.
        {"use": "home", "state": "01", "country": "NO", "period": {"start": "1990-01-01"}},
        {"use": "home", "state": "Stockholm", "country": "SE"},
        {"use": "home", "type": "postal", "state": "03", "country": "SE"},
        {"use": "old", "state": "03", "country": "SE"},
        {"use": "home", "state": "01", "period": {"start": "2001-01-01", "end": "2000-01-01"}},
        {"use": "home", "city": "Uppsala", "country": "SE"},
    ]})];
    let setting_ext = |s: &str| json!([{"url": "urn:halsohub:fhir:StructureDefinition:care-setting", "valueCode": s}]);
    let encounters = [
        json!({"resourceType": "Encounter", "id": "e1", "status": "finished",
               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
               "extension": setting_ext("primary_care"),
               "subject": {"reference": "Patient/a"}, "period": {"start": "2020-01-01"}}),
        json!({"resourceType": "Encounter", "id": "e2", "status": "finished",
               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
               "subject": {"reference": "Patient/a"}, "period": {"start": "2020-02-01"}}),
        json!({"resourceType": "Encounter", "id": "e3", "status": "finished",
               "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
               "extension": setting_ext("nonsense"),
               "subject": {"reference": "Patient/a"}, "period": {"start": "2020-03-01"}}),
    ];
    let condition = |enc: &str, day: &str| {
        json!({"resourceType": "Condition", "subject": {"reference": "Patient/a"},
               "encounter": {"reference": enc}, "onsetDateTime": day,
               "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "J45"}]}})
    };
    let conditions = [
        condition("Encounter/e1", "2020-01-01"),
        condition("https://fhir.example/Encounter/e2/_history/1", "2020-02-01"),
        condition("Encounter/e3", "2020-03-01"),
        condition("Encounter/unknown", "2020-04-01"),
    ];
    let nd = |v: &[serde_json::Value]| v.iter().map(|x| x.to_string() + "\n").collect::<String>();
    let files = vec![
        write(src.path(), "Condition.ndjson", nd(&conditions).as_bytes()),
        write(src.path(), "Encounter.ndjson", nd(&encounters).as_bytes()),
        write(src.path(), "Patient.ndjson", nd(&patients).as_bytes()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let r = load(dir.path(), &files, &options(reference())).unwrap();
    assert_eq!(r.totals.rows_rejected, 0, "{r}");
    let ev = common::events(dir.path());
    let setting_on = |domain: Domain, day: NaiveDate| {
        ev.iter()
            .find(|(_, e)| e.domain == domain && e.start == day)
            .map(|(_, e)| e.setting)
            .unwrap()
    };
    for domain in [Domain::Encounter, Domain::Diagnosis] {
        assert_eq!(
            setting_on(domain, d(2020, 1, 1)),
            Some(Setting::PrimaryCare)
        );
        assert_eq!(setting_on(domain, d(2020, 2, 1)), Some(Setting::Inpatient));
        // An extension value that is no setting: the class decides.
        assert_eq!(setting_on(domain, d(2020, 3, 1)), Some(Setting::Outpatient));
    }
    assert_eq!(setting_on(Domain::Diagnosis, d(2020, 4, 1)), None);

    let mut res: Vec<_> = Store::open(dir.path())
        .unwrap()
        .snapshot(None)
        .unwrap()
        .residences()
        .unwrap()
        .into_iter()
        .map(|r| {
            let r = r.residence;
            (r.region, r.municipality, r.from, r.to)
        })
        .collect();
    res.sort();
    assert_eq!(
        res,
        vec![
            (
                "01".to_owned(),
                Some("0180".to_owned()),
                d(2000, 1, 1),
                Some(d(2010, 1, 1))
            ),
            ("12".to_owned(), None, d(2010, 1, 1), None),
        ]
    );
    assert_eq!(r.totals.residences, 2, "{r}");
}
