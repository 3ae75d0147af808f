//! The one list of terminologies halsohub knows by name but has no rules
//! for (no normalisation, hierarchy or code list: RxNorm, NDC, CVX, ICD-9-CM,
//! ...): each with its halsohub system id, its OMOP `vocabulary_id` and the
//! FHIR system URIs it is written under. The FHIR reader and writer
//! (`halsohub-fhir`) and the OMOP vocabulary mapping (`halsohub-omop`) both
//! read it, so that one drug from a FHIR record and an OMOP table carries
//! one system. Queries cannot name these systems' hierarchies; their codes
//! are kept as written (normalised as any other system's).

/// One terminology without halsohub rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtherSystem {
    /// The halsohub system id (`Event::system`): the OMOP vocabulary id
    /// lower-cased, runs of other characters as `_` (`rxnorm`, `dm_d`).
    pub id: &'static str,
    /// The OMOP `vocabulary_id` as OHDSI Athena writes it (`RxNorm`).
    pub vocabulary: &'static str,
    /// FHIR `Coding.system` URIs, lower-cased, without a trailing `/`; the
    /// first is the canonical one a writer uses.
    pub uris: &'static [&'static str],
    /// Whether the FHIR reader stores codings under these URIs as
    /// [`id`](Self::id) (RxNorm, NDC, CVX, ICD-9-CM). For the others it
    /// keeps the lower-cased URI, as it always has (stores hold them so),
    /// and the OMOP mapping reads that URI back as the vocabulary.
    pub fhir_as_id: bool,
}

const fn o(
    id: &'static str,
    vocabulary: &'static str,
    uris: &'static [&'static str],
    fhir_as_id: bool,
) -> OtherSystem {
    OtherSystem {
        id,
        vocabulary,
        uris,
        fhir_as_id,
    }
}

/// Every terminology halsohub knows by name only.
pub static OTHER_SYSTEMS: &[OtherSystem] = &[
    o(
        "rxnorm",
        "RxNorm",
        &["http://www.nlm.nih.gov/research/umls/rxnorm"],
        true,
    ),
    o("rxnorm_extension", "RxNorm Extension", &[], false),
    o("ndc", "NDC", &["http://hl7.org/fhir/sid/ndc"], true),
    o("cvx", "CVX", &["http://hl7.org/fhir/sid/cvx"], true),
    o("cpt4", "CPT4", &["http://www.ama-assn.org/go/cpt"], false),
    o("hcpcs", "HCPCS", &[], false),
    o(
        "icd9cm",
        "ICD9CM",
        &["http://hl7.org/fhir/sid/icd-9-cm"],
        true,
    ),
    o("icd9proc", "ICD9Proc", &[], false),
    o("icd10pcs", "ICD10PCS", &[], false),
    o("icdo3", "ICDO3", &[], false),
    o("opcs4", "OPCS4", &[], false),
    o(
        "ops",
        "OPS",
        &[
            "http://fhir.de/codesystem/bfarm/ops",
            "http://fhir.de/codesystem/dimdi/ops",
        ],
        false,
    ),
    o("ucum", "UCUM", &["http://unitsofmeasure.org"], false),
    o("dm_d", "dm+d", &[], false),
    o("edqm", "EDQM", &["http://standardterms.edqm.eu"], false),
    o("read", "Read", &[], false),
    o("mesh", "MeSH", &[], false),
    o("gender", "Gender", &[], false),
    o("race", "Race", &[], false),
    o("ethnicity", "Ethnicity", &[], false),
    o("visit", "Visit", &[], false),
    o("type_concept", "Type Concept", &[], false),
    o("cancer_modifier", "Cancer Modifier", &[], false),
];

/// The terminology with this halsohub system id.
pub fn other_by_id(id: &str) -> Option<&'static OtherSystem> {
    OTHER_SYSTEMS.iter().find(|s| s.id == id)
}

/// The terminology a FHIR system URI names (case-insensitive, a trailing
/// `/` ignored).
pub fn other_by_uri(uri: &str) -> Option<&'static OtherSystem> {
    let lower = uri.trim().to_ascii_lowercase();
    let key = lower.trim_end_matches('/');
    OTHER_SYSTEMS.iter().find(|s| s.uris.contains(&key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::System;

    #[test]
    fn ids_uris_and_vocabularies_are_unique_and_not_halsohub_systems() {
        let mut ids: Vec<&str> = OTHER_SYSTEMS.iter().map(|s| s.id).collect();
        let mut vocabularies: Vec<String> = OTHER_SYSTEMS
            .iter()
            .map(|s| s.vocabulary.to_ascii_lowercase())
            .collect();
        let mut uris: Vec<&str> = OTHER_SYSTEMS.iter().flat_map(|s| s.uris.to_vec()).collect();
        for v in [&mut ids, &mut uris] {
            let n = v.len();
            v.sort();
            v.dedup();
            assert_eq!(v.len(), n);
        }
        let n = vocabularies.len();
        vocabularies.sort();
        vocabularies.dedup();
        assert_eq!(vocabularies.len(), n);
        for s in OTHER_SYSTEMS {
            // Neither the id nor a URI is one of halsohub's own systems.
            assert!(!System::parse(s.id).is_some_and(|x| x.is_known()), "{s:?}");
            for u in s.uris {
                assert_eq!(*u, u.to_ascii_lowercase());
                assert!(!System::parse(u).is_some_and(|x| x.is_known()), "{s:?}");
                assert_eq!(other_by_uri(&format!("{}/", u.to_uppercase())), Some(s));
            }
            assert_eq!(other_by_id(s.id), Some(s));
            // A terminology FHIR reads as its id has a URI to write.
            assert!(!s.fhir_as_id || !s.uris.is_empty(), "{s:?}");
        }
        assert_eq!(other_by_uri("http://example.org/drugs"), None);
    }
}
