//! Conformance on third-party FHIR R4 data (`/work/shared/data`, see each
//! set's SOURCE.md): every set is ingested completely into a real store,
//! the load report's numbers are asserted, every rejection is explained
//! below, and the number of patients per condition code is compared with a
//! count computed straight from the JSON (a plain `serde_json::Value` walk).
//!
//! The sets live outside the repository; when they are missing the tests
//! print a skip notice (set `HALSOHUB_SHARED_DATA` to point elsewhere).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use common::*;
use halsohub_ingest::LoadReport;
use halsohub_store::{Domain, Store};
use serde_json::Value;

fn data_dir(set: &str) -> Option<PathBuf> {
    shared_data(set)
}

/// Every Bundle of a set as JSON values (whole files: fine for tests).
fn bundles(dir: &Path) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".json") || n.ends_with(".json.gz")
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let mut bytes = Vec::new();
            let f = std::fs::File::open(p).unwrap();
            if p.extension().is_some_and(|e| e == "gz") {
                flate2::read::MultiGzDecoder::new(f)
                    .read_to_end(&mut bytes)
                    .unwrap();
            } else {
                std::io::BufReader::new(f).read_to_end(&mut bytes).unwrap();
            }
            serde_json::from_slice(&bytes).unwrap()
        })
        .collect()
}

fn resources(bundle: &Value) -> impl Iterator<Item = &Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
}

/// The resource types halsohub reads.
const READ: [&str; 10] = [
    "Patient",
    "Medication",
    "Encounter",
    "Condition",
    "Observation",
    "Procedure",
    "MedicationRequest",
    "MedicationDispense",
    "MedicationAdministration",
    "MedicationStatement",
];

/// Counts straight from the JSON.
#[derive(Default, Debug)]
struct Expected {
    entries: u64,
    patients: u64,
    unsupported: u64,
    /// ICD-10 (or SNOMED) code without dot → patients (by their first
    /// identifier, which is how the hub links a non-Swedish patient).
    patients_by_code: BTreeMap<String, BTreeSet<String>>,
}

/// `system|value` of the Patient's first identifier (the documented
/// linkage key of a Patient without a Swedish identity number).
fn patient_key(p: &Value) -> String {
    let i = &p["identifier"][0];
    format!(
        "{}|{}",
        i["system"].as_str().unwrap(),
        i["value"].as_str().unwrap()
    )
}

/// Walks the bundles: patients with a condition coded in `system`
/// (dots removed), counting only Conditions the hub can place in time
/// (onsetDateTime, onsetPeriod.start or recordedDate present) and that are
/// not refuted / entered in error.
fn expected(bundles: &[Value], system: &str) -> Expected {
    let mut x = Expected::default();
    for b in bundles {
        // Patients of this bundle by `Patient/id` and fullUrl.
        let mut keys: BTreeMap<String, String> = BTreeMap::new();
        for e in b["entry"].as_array().unwrap() {
            let r = &e["resource"];
            if r["resourceType"] == "Patient" {
                let k = patient_key(r);
                keys.insert(format!("Patient/{}", r["id"].as_str().unwrap()), k.clone());
                if let Some(u) = e["fullUrl"].as_str() {
                    keys.insert(u.to_owned(), k);
                }
            }
        }
        for r in resources(b) {
            x.entries += 1;
            let rt = r["resourceType"].as_str().unwrap();
            if rt == "Patient" {
                x.patients += 1;
            }
            if !READ.contains(&rt) {
                x.unsupported += 1;
            }
            if rt != "Condition" {
                continue;
            }
            let dated = r.get("onsetDateTime").is_some()
                || r["onsetPeriod"].get("start").is_some()
                || r.get("recordedDate").is_some();
            let vs = r["verificationStatus"]["coding"][0]["code"].as_str();
            if !dated || matches!(vs, Some("refuted" | "entered-in-error")) {
                continue;
            }
            let subject = keys[r["subject"]["reference"].as_str().unwrap()].clone();
            for c in r["code"]["coding"].as_array().into_iter().flatten() {
                if c["system"] == system {
                    let code = c["code"].as_str().unwrap().replace('.', "");
                    x.patients_by_code
                        .entry(code)
                        .or_default()
                        .insert(subject.clone());
                }
            }
        }
    }
    x
}

/// Patients per diagnosis code of `system` in the store.
fn stored_patients_by_code(dir: &Path, system: &str) -> BTreeMap<String, BTreeSet<u32>> {
    let store = Store::open(dir).unwrap();
    let snap = store.snapshot(None).unwrap();
    let mut out: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    for (person, e) in snap.events().unwrap() {
        if e.domain == Domain::Diagnosis && e.system == system {
            out.entry(e.code).or_default().insert(person);
        }
    }
    out
}

fn rejected(r: &LoadReport) -> BTreeMap<&str, u64> {
    r.totals
        .rejected_by_reason
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect()
}

fn counts(x: &BTreeMap<String, BTreeSet<String>>) -> BTreeMap<String, usize> {
    x.iter().map(|(k, v)| (k.clone(), v.len())).collect()
}

fn stored_counts(x: &BTreeMap<String, BTreeSet<u32>>) -> BTreeMap<String, usize> {
    x.iter().map(|(k, v)| (k.clone(), v.len())).collect()
}

#[test]
fn mii_kds_testdata_loads_with_every_rejection_explained() {
    let Some(set) = data_dir("fhir-mii-kds-testdata") else {
        return;
    };
    let json = bundles(&set);
    let x = expected(&json, "http://fhir.de/CodeSystem/bfarm/icd-10-gm");
    let dir = tempfile::tempdir().unwrap();
    let r = load(
        dir.path(),
        std::slice::from_ref(&set),
        &options(reference()),
    )
    .unwrap();
    let t = &r.totals;

    // 22 Bundle files (SOURCE.md is skipped with a note).
    assert_eq!(t.files, 22);
    assert!(
        r.notes.iter().any(|n| n.contains("SOURCE.md")),
        "{:?}",
        r.notes
    );
    // Every entry of every Bundle is one record: accepted or rejected.
    assert_eq!(x.entries, 726);
    assert_eq!(t.rows_read, x.entries);
    assert_eq!(t.rows_accepted + t.rows_rejected, t.rows_read);
    // One person per Patient resource (31), every one with a distinct
    // first identifier.
    assert_eq!(x.patients, 31);
    assert_eq!(t.persons, x.patients);
    assert_eq!(r.patients_seen, x.patients);

    let why = rejected(&r);
    // Resource types halsohub does not read (Organization, Device,
    // Specimen, ServiceRequest, List, ...): counted straight from the JSON.
    assert_eq!(why["fhir.unsupported_resource_type"], x.unsupported);
    // 34 resources give no date to place them in time:
    //  - 29 Observations without effective[x] or issued (the source gives
    //    them no date): 25 of the molecular tumour board (mtb-1: genetic
    //    variants, ploidy, TMB, MSI, HER2/PD-L1 stains, implications), 2 in
    //    seltene-1 (creatine kinase, a genetic variant), 1 in bildgebung-1
    //    ("Size Tumor"), 1 in onkologie-1 (residual tumour);
    //  - 3 Conditions without onset or recordedDate (C34.1 in bildgebung-1,
    //    C18.7 and C34.1 in molgen-1);
    //  - 2 MedicationRequests without authoredOn.
    assert_eq!(why["fhir.missing_date"], 34);
    // 5 resources without a usable code: 4 Procedures with no `code` at all
    // (only a category) and 1 Condition coded by text only ("Biobank-relevante
    // Diagnose", biobank-1).
    assert_eq!(why["fhir.missing_code"], 5);
    // 1 Observation (icu-1) with LOINC "0827-3" "Dynamic lung compliance":
    // the check digit does not fit; the real LOINC code is 60827-3 (the
    // source lost the leading "6").
    assert_eq!(why["fhir.invalid_code"], 1);
    // 1 Observation: PSA (LOINC 2857-1) valueQuantity {"value": 12.5} with
    // no unit at all, so the value cannot be interpreted.
    assert_eq!(why["fhir.value_without_unit"], 1);
    // Records of things that did not happen: 3 MedicationRequests with
    // status "draft", 1 "cancelled", 1 MedicationStatement and 1
    // MedicationAdministration "entered-in-error".
    assert_eq!(why["fhir.excluded_status"], 6);
    assert_eq!(
        why.values().sum::<u64>(),
        t.rows_rejected,
        "every reason is asserted above: {why:?}"
    );
    assert_eq!(why.len(), 6, "{why:?}");

    // Patients per ICD-10-GM code: store vs the JSON walk.
    let stored = stored_patients_by_code(dir.path(), "icd10gm");
    assert!(!x.patients_by_code.is_empty());
    assert_eq!(stored_counts(&stored), counts(&x.patients_by_code));

    // Loading the same files again adds nothing.
    let again = load(
        dir.path(),
        std::slice::from_ref(&set),
        &options(reference()),
    )
    .unwrap();
    assert!(again.snapshot.is_none());
    assert_eq!(again.skipped.len(), 22);
}

#[test]
fn synthea_blaze_loads_with_every_rejection_explained() {
    let Some(set) = data_dir("fhir-synthea-blaze") else {
        return;
    };
    let json = bundles(&set);
    let x = expected(&json, "http://snomed.info/sct");
    let dir = tempfile::tempdir().unwrap();
    let r = load(
        dir.path(),
        std::slice::from_ref(&set),
        &options(reference()),
    )
    .unwrap();
    let t = &r.totals;

    // 120 patient Bundles + the hospital and practitioner batch Bundles,
    // all gzip.
    assert_eq!(t.files, 122);
    assert!(r.files.iter().all(|f| f.gzip && f.format == "fhir"));
    assert_eq!(x.entries, 92_114);
    assert_eq!(t.rows_read, x.entries);
    assert_eq!(t.rows_accepted + t.rows_rejected, t.rows_read);
    assert_eq!(x.patients, 120);
    assert_eq!(t.persons, 120);
    assert_eq!(r.patients_seen, 120);
    // 20 of the 120 are deceased (deceasedDateTime): one death event each.
    assert_eq!(t.events_by_domain["death"], 20);
    // Every Condition (1,597), Encounter (4,769), Procedure (3,608),
    // MedicationRequest (5,087, prescriptions: not dispensings) and
    // MedicationAdministration (326) is stored: one event each (one code
    // each in Synthea).
    assert_eq!(t.events_by_domain["diagnosis"], 1_597);
    assert_eq!(t.events_by_domain["encounter"], 4_769);
    assert_eq!(t.events_by_domain["procedure"], 3_608);
    assert_eq!(t.events_by_domain["prescribed_drug"], 5_087);
    assert!(!t.events_by_domain.contains_key("dispensed_drug"));
    assert_eq!(t.events_by_domain["administered_drug"], 326);

    let why = rejected(&r);
    // Claim, ExplanationOfBenefit, DiagnosticReport, DocumentReference,
    // Immunization, CarePlan, CareTeam, SupplyDelivery, ... and the
    // Organization/Location/Practitioner(Role) batch Bundles: not read.
    assert_eq!(why["fhir.unsupported_resource_type"], x.unsupported);
    // 537 eGFR Observations (LOINC 33914-3, "per 1.73 m²") whose
    // valueQuantity is in "mL/min": Synthea writes the wrong unit for
    // about half of them; a per-1.73 m² analyte cannot be read from an
    // absolute clearance, so they are quarantined instead of mixed in.
    assert_eq!(why["fhir.incompatible_unit"], 537);
    // 3 Observations whose components carry made-up LOINC codes
    // "99999-10"/"99999-11" (opioid use disorder criteria): not LOINC
    // codes (the check digit is one digit).
    assert_eq!(why["fhir.invalid_code"], 3);
    // 2 "Mean blood pressure" (LOINC 8478-0) Observations whose
    // valueQuantity has system UCUM but neither unit nor code.
    assert_eq!(why["fhir.value_without_unit"], 2);
    assert_eq!(why.values().sum::<u64>(), t.rows_rejected, "{why:?}");
    assert_eq!(why.len(), 4, "{why:?}");

    // Coded answers are kept: Synthea's tobacco smoking status (LOINC
    // 72166-2, category social-history) answers in SNOMED CT (never smoked,
    // ex-smoker, ...): an observation with its coded value.
    let snapshot = Store::open(dir.path()).unwrap().snapshot(None).unwrap();
    let smoking: Vec<_> = snapshot
        .events()
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e.system == "loinc" && e.code == "72166-2")
        .collect();
    assert!(smoking.len() > 100, "{}", smoking.len());
    assert!(smoking.iter().all(|e| {
        e.domain == Domain::Observation
            && e.value_system.as_deref() == Some("snomedct")
            && e.value_code.is_some()
    }));

    // Patients per SNOMED CT condition code: store vs the JSON walk.
    let stored = stored_patients_by_code(dir.path(), "snomedct");
    assert!(x.patients_by_code.len() > 50);
    assert_eq!(stored_counts(&stored), counts(&x.patients_by_code));
}
