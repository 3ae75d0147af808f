//! The mapper on hand-written resources, and on arbitrary JSON (never a
//! panic, always a record or a reason code from the list).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

use halsohub_fhir::{Mapped, Mapper, PatientIdentity, Subject, reason};
use proptest::prelude::*;
use serde_json::{Value, json};

#[test]
fn condition_in_icd10gm_and_snomed_gives_two_codes() {
    let m = Mapper::new();
    let r = json!({"resourceType": "Condition", "subject": {"reference": "Patient/1"},
        "onsetPeriod": {"start": "2019-03"},
        "code": {"coding": [
            {"system": "http://fhir.de/CodeSystem/bfarm/icd-10-gm", "code": "C34.1"},
            {"system": "http://snomed.info/sct", "code": "254637007"}]}});
    let Mapped::Clinical(c) = m.map(&r).unwrap() else {
        panic!("not clinical")
    };
    assert_eq!(c.subject, Subject::Reference("Patient/1".into()));
    assert_eq!(c.imputed_dates, 1);
    let codes: Vec<(&str, &str)> = c
        .events
        .iter()
        .map(|e| (e.system.as_str(), e.code.as_str()))
        .collect();
    assert_eq!(codes, vec![("icd10gm", "C341"), ("snomedct", "254637007")]);
    assert!(c.events.iter().all(|e| e.start.to_string() == "2019-03-15"));
}

#[test]
fn encounter_setting_from_the_care_setting_extension_before_the_class() {
    let m = Mapper::new();
    let enc = |class: &str, ext: Option<&str>| {
        let mut r = json!({"resourceType": "Encounter", "subject": {"reference": "Patient/1"},
            "period": {"start": "2020-01-01"},
            "class": {"system": halsohub_fhir::uri::ACT_CODE, "code": class}});
        if let Some(v) = ext {
            r["extension"] =
                json!([{"url": halsohub_fhir::uri::CARE_SETTING_EXTENSION, "valueCode": v}]);
        }
        let Mapped::Clinical(c) = m.map(&r).unwrap() else {
            panic!("not clinical")
        };
        assert_eq!(c.events[0].setting, c.setting);
        c.setting
    };
    use halsohub_model::Setting;
    assert_eq!(enc("AMB", None), Some(Setting::Outpatient));
    assert_eq!(enc("AMB", Some("primary_care")), Some(Setting::PrimaryCare));
    assert_eq!(enc("AMB", Some("inpatient")), Some(Setting::Inpatient));
    assert_eq!(enc("IMP", Some("bogus")), Some(Setting::Inpatient));
    assert_eq!(enc("XYZ", None), None);
}

#[test]
fn swedish_home_addresses_with_a_lan_code_are_residences() {
    let m = Mapper::new();
    let r = json!({"resourceType": "Patient", "id": "x", "birthDate": "1980-02-03",
    "address": [
        {"use": "home", "type": "physical", "state": "14", "district": "1480",
         "country": "SE", "period": {"start": "2001-05-06", "end": "2003-12-31"}},
        // No start: from birth.
        {"state": "01", "district": "Solna", "country": "Sverige"},
        {"use": "home", "state": "14", "country": "US"},
        {"use": "work", "state": "14"},
        {"use": "home", "state": "99"},
        {"use": "home", "state": "14", "period": {"start": "not a date"}},
        "not an object",
    ]});
    let Mapped::Patient(p) = m.map(&r).unwrap() else {
        panic!("not a patient")
    };
    let d = |y, mo, dd| chrono::NaiveDate::from_ymd_opt(y, mo, dd).unwrap();
    let got: Vec<_> = p
        .residences
        .iter()
        .map(|r| (r.region.as_str(), r.municipality.as_deref(), r.from, r.to))
        .collect();
    assert_eq!(
        got,
        vec![
            ("14", Some("1480"), d(2001, 5, 6), Some(d(2004, 1, 1))),
            ("01", None, d(1980, 2, 3), None),
        ]
    );
}

#[test]
fn patient_identity_prefers_swedish_numbers_and_redacts_them() {
    let m = Mapper::new();
    let r = json!({"resourceType": "Patient", "id": "x", "identifier": [
        {"system": "https://mrn.example", "value": "42"},
        {"system": "urn:oid:1.2.752.129.2.1.3.3", "value": "19701263-2391"}]});
    let Mapped::Patient(p) = m.map(&r).unwrap() else {
        panic!("not a patient")
    };
    let PatientIdentity::Swedish(n) = &p.identity else {
        panic!("not Swedish")
    };
    assert_eq!(n.expose(), "19701263-2391");
    assert!(!format!("{p:?}").contains("2391"));
    let other = json!({"resourceType": "Patient", "identifier": [{"system": "https://mrn.example", "value": "42"}]});
    let Mapped::Patient(p) = m.map(&other).unwrap() else {
        panic!()
    };
    assert_eq!(
        p.identity,
        PatientIdentity::Scoped {
            scope: "https://mrn.example".into(),
            value: "42".into()
        }
    );
    let none = json!({"resourceType": "Patient"});
    assert_eq!(m.map(&none).unwrap_err().reason, reason::MISSING_IDENTITY);
}

#[test]
fn comparators_units_and_values() {
    let m = Mapper::new();
    let obs = |q: Value| {
        json!({"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/1"},
            "effectiveDateTime": "2020-01-01",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
            "valueQuantity": q})
    };
    let Mapped::Clinical(c) = m
        .map(&obs(
            json!({"value": 5, "comparator": "<", "unit": "mmol/L"}),
        ))
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(c.events[0].value, Some(5.0));
    assert_eq!(c.events[0].comparator.map(|c| c.as_str()), Some("<"));
    for (q, why) in [
        (json!({"value": 5}), reason::VALUE_WITHOUT_UNIT),
        (json!({"value": "5", "unit": "g"}), reason::INVALID_VALUE),
        (json!({"unit": "g"}), reason::INVALID_VALUE),
        (
            json!({"value": 5, "unit": "g", "comparator": "ad"}),
            reason::INVALID_VALUE,
        ),
    ] {
        assert_eq!(m.map(&obs(q)).unwrap_err().reason, why);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|i| json!(i)),
        "[a-zA-Z0-9:/#.\\-]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("2020-01-01"),
            Just("2020"),
            Just("Patient/1"),
            Just("http://loinc.org"),
            Just("http://snomed.info/sct"),
            Just("urn:oid:1.2.752.129.2.1.3.1"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("subject".to_owned()),
                    Just("reference".to_owned()),
                    Just("code".to_owned()),
                    Just("coding".to_owned()),
                    Just("system".to_owned()),
                    Just("value".to_owned()),
                    Just("valueQuantity".to_owned()),
                    Just("effectiveDateTime".to_owned()),
                    Just("onsetDateTime".to_owned()),
                    Just("identifier".to_owned()),
                    Just("component".to_owned()),
                    Just("medicationReference".to_owned()),
                    Just("contained".to_owned()),
                    "[a-z]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_resource_maps_or_is_rejected_with_a_known_reason(
        rt in prop_oneof![
            Just("Patient"), Just("Condition"), Just("Observation"), Just("Encounter"),
            Just("Procedure"), Just("MedicationRequest"), Just("MedicationAdministration"),
            Just("Medication"), Just("Claim"), Just("Foo"), Just("ProcedureRequest")
        ],
        body in arb_json(),
    ) {
        let mut r = match body {
            Value::Object(m) => Value::Object(m),
            other => json!({"x": other}),
        };
        r["resourceType"] = Value::String(rt.to_owned());
        match Mapper::new().map(&r) {
            Ok(_) => {}
            Err(e) => prop_assert!(reason::ALL.contains(&e.reason), "{}", e.reason),
        }
    }
}

fn clinical(r: &Value) -> halsohub_fhir::ClinicalRecord {
    match Mapper::new().map(r) {
        Ok(Mapped::Clinical(c)) => c,
        other => panic!("not clinical: {other:?}"),
    }
}

#[test]
fn coded_string_and_boolean_values_are_kept() {
    let obs = |category: &str, value: (&str, Value)| {
        let mut o = json!({"resourceType": "Observation", "status": "final",
            "subject": {"reference": "Patient/1"}, "effectiveDateTime": "2021-06-01",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2"}]}});
        o[value.0] = value.1;
        o
    };
    // Smoking status: a social-history observation with a SNOMED CT answer.
    let c = clinical(&obs(
        "social-history",
        (
            "valueCodeableConcept",
            json!({"coding": [{"system": "http://snomed.info/sct", "code": "8517006"}], "text": "Ex-smoker"}),
        ),
    ));
    let e = &c.events[0];
    assert_eq!(e.domain.as_str(), "observation");
    assert_eq!(
        (e.value_system.as_deref(), e.value_code.as_deref()),
        (Some("snomedct"), Some("8517006"))
    );
    assert_eq!(e.value, None);
    // A lab result with a coded answer (a culture: positive) stays a lab result.
    let c = clinical(&obs(
        "laboratory",
        (
            "valueCodeableConcept",
            json!({"coding": [{"system": "http://snomed.info/sct", "code": "10828004"}]}),
        ),
    ));
    assert_eq!(c.events[0].domain.as_str(), "lab_result");
    assert_eq!(c.events[0].value_code.as_deref(), Some("10828004"));
    // A concept with only a text keeps the text.
    let c = clinical(&obs(
        "survey",
        ("valueCodeableConcept", json!({"text": "Weekly"})),
    ));
    assert_eq!(c.events[0].value_text.as_deref(), Some("Weekly"));
    assert_eq!(c.events[0].value_code, None);
    let c = clinical(&obs("exam", ("valueString", json!("clear lungs"))));
    assert_eq!(c.events[0].value_text.as_deref(), Some("clear lungs"));
    let long = "x".repeat(1000);
    let c = clinical(&obs("exam", ("valueString", json!(long))));
    assert_eq!(c.events[0].value_text.as_ref().map(String::len), Some(200));
    let c = clinical(&obs("vital-signs", ("valueBoolean", json!(false))));
    assert_eq!(c.events[0].domain.as_str(), "lab_result");
    assert_eq!(c.events[0].value_text.as_deref(), Some("false"));
    for (key, bad) in [("valueBoolean", json!("yes")), ("valueString", json!(3))] {
        let err = Mapper::new().map(&obs("exam", (key, bad))).unwrap_err();
        assert_eq!(err.reason, reason::INVALID_VALUE, "{key}");
        assert!(err.detail.contains(key), "{err:?}");
    }
}

#[test]
fn requests_and_statements_are_prescriptions_not_dispensings() {
    let med = |rt: &str, date: (&str, &str)| {
        let mut r = json!({"resourceType": rt, "status": "active",
            "subject": {"reference": "Patient/1"},
            "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "A10BA02"}]}});
        r[date.0] = json!(date.1);
        r
    };
    let domain = |r: Value| clinical(&r).events[0].domain.as_str();
    assert_eq!(
        domain(med("MedicationRequest", ("authoredOn", "2020-02-02"))),
        "prescribed_drug"
    );
    assert_eq!(
        domain(med(
            "MedicationStatement",
            ("effectiveDateTime", "2020-02-02")
        )),
        "prescribed_drug"
    );
    let mut d = med("MedicationDispense", ("whenHandedOver", "2020-02-02"));
    d["status"] = json!("completed");
    assert_eq!(domain(d), "dispensed_drug");
    let mut a = med(
        "MedicationAdministration",
        ("effectiveDateTime", "2020-02-02"),
    );
    a["status"] = json!("completed");
    assert_eq!(domain(a), "administered_drug");
}
