//! One set of code systems: the systems a query may always name (cohort),
//! the systems ingest reads from FHIR and OMOP sources, and the systems the
//! FHIR and OMOP exports write are halsohub-codes' `System::KNOWN`, and
//! each comes back as itself through export and ingest.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::BTreeSet;

use halsohub_codes::System;
use halsohub_cohort::CodeLists;
use halsohub_fhir::{Mapped, Mapper};
use halsohub_omop::{VOCABULARIES, system_for_vocabulary, vocabulary_for_system};
use serde_json::json;

fn example(system: &System) -> &'static str {
    match system {
        System::Icd10Se | System::Icd10Cm => "E11.9",
        System::Icd10Gm => "E11.90!",
        System::Atc => "A10BA02",
        System::Kva => "FNG05",
        System::Npu => "NPU27300",
        System::Loinc => "4548-4",
        System::SnomedCt => "44054006",
        System::Other(_) => "x",
    }
}

#[test]
fn ingest_queries_and_exports_know_the_same_systems() {
    let codes: BTreeSet<String> = System::known().iter().map(|s| s.id().to_owned()).collect();
    assert_eq!(codes.len(), System::KNOWN.len());

    // Queries: the systems a query may name without any data.
    let query: BTreeSet<String> = CodeLists::new()
        .systems()
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(query, codes, "queries");

    // OMOP: the vocabularies ingest reads and exports write.
    let omop: BTreeSet<String> = VOCABULARIES
        .iter()
        .filter_map(|r| System::parse(r.system).filter(System::is_known))
        .map(|s| s.id().to_owned())
        .collect();
    assert_eq!(omop, codes, "OMOP vocabularies");

    let mapper = Mapper::new();
    for system in System::known() {
        let id = system.id();
        // OMOP export → OMOP ingest.
        let vocabulary = vocabulary_for_system(id).expect(id);
        assert_eq!(system_for_vocabulary(vocabulary).as_deref(), Some(id));
        // FHIR export → FHIR ingest: the URI the export writes is read
        // back as the same system, the code normalised by its rules.
        let uri = halsohub_fhir::uri::system_uri(id);
        let med = json!({"resourceType": "Medication",
                         "code": {"coding": [{"system": uri, "code": example(system)}]}});
        let Ok(Mapped::Medication(m)) = mapper.map(&med) else {
            panic!("{id}: the medication was not read");
        };
        assert_eq!(m.codes.len(), 1, "{id}");
        assert_eq!(m.codes[0].system, id, "{id} written as {uri}");
        assert_eq!(
            m.codes[0].code,
            halsohub_codes::normalise(system, example(system)).unwrap()
        );
        // Queries accept the id, and the URI ingest reads it under.
        assert!(CodeLists::new().knows_system(id));
        assert!(CodeLists::new().knows_system(uri), "{uri}");
    }
}
