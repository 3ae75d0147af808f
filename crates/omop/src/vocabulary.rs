//! OMOP `vocabulary_id` ↔ halsohub code-system id (`halsohub_codes::System::id`).
//!
//! halsohub's own systems map onto their OMOP vocabularies (`ICD10CM` →
//! `icd10cm`, `SNOMED` → `snomedct`, ...). WHO ICD-10 (`ICD10`) is read as
//! `icd10se`, as FHIR's `http://hl7.org/fhir/sid/icd-10` is: halsohub
//! treats WHO ICD-10 and ICD-10-SE as one system. Every other vocabulary
//! keeps its own system id: the vocabulary id lower-cased, with runs of
//! characters other than letters and digits replaced by `_` (`RxNorm` →
//! `rxnorm`, `RxNorm Extension` → `rxnorm_extension`, `dm+d` → `dm_d`).
//!
//! The other direction ([`vocabulary_for_system`]) also accepts the system
//! URIs FHIR data is stored under when halsohub has no system of its own
//! (`http://www.nlm.nih.gov/research/umls/rxnorm` → `RxNorm`).

use std::borrow::Cow;
use std::sync::LazyLock;

use halsohub_codes::{OTHER_SYSTEMS, other_by_uri};

/// The system id of an OMOP concept id that could not be resolved to a
/// vocabulary and code: the code is the concept id (`omop` + `4166590`).
pub const OMOP_CONCEPT_SYSTEM: &str = "omop";

/// One row of the mapping table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VocabularyMapping {
    /// The OMOP `vocabulary_id` as Athena writes it.
    pub vocabulary_id: &'static str,
    /// The halsohub system id.
    pub system: &'static str,
    /// Whether the vocabulary is distributed by OHDSI Athena (false for
    /// the Swedish systems, which an export must declare as local
    /// vocabularies).
    pub athena: bool,
}

const fn m(vocabulary_id: &'static str, system: &'static str) -> VocabularyMapping {
    VocabularyMapping {
        vocabulary_id,
        system,
        athena: true,
    }
}

const fn local(vocabulary_id: &'static str, system: &'static str) -> VocabularyMapping {
    VocabularyMapping {
        vocabulary_id,
        system,
        athena: false,
    }
}

/// halsohub's own systems (`halsohub_codes::System::KNOWN`) and their
/// vocabularies. The first row for a system is the one
/// [`vocabulary_for_system`] returns.
const OWN: &[VocabularyMapping] = &[
    m("ICD10", "icd10se"),
    local("ICD10SE", "icd10se"),
    m("ICD10CM", "icd10cm"),
    m("ICD10GM", "icd10gm"),
    m("ATC", "atc"),
    m("SNOMED", "snomedct"),
    m("LOINC", "loinc"),
    local("NPU", "npu"),
    local("KVA", "kva"),
];

/// The explicit mappings: halsohub's own systems, then the terminologies
/// it knows by name only (`halsohub_codes::OTHER_SYSTEMS`, the list the
/// FHIR reader shares). The first row for a system is the one
/// [`vocabulary_for_system`] returns.
pub static VOCABULARIES: LazyLock<Vec<VocabularyMapping>> = LazyLock::new(|| {
    OWN.iter()
        .copied()
        .chain(OTHER_SYSTEMS.iter().map(|o| m(o.vocabulary, o.id)))
        .collect()
});

/// The generic system id of a vocabulary without an explicit mapping.
fn generic(vocabulary_id: &str) -> String {
    let mut out = String::with_capacity(vocabulary_id.len());
    let mut gap = false;
    for ch in vocabulary_id.trim().chars() {
        if ch.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(ch.to_ascii_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// The halsohub system id for an OMOP `vocabulary_id` (case-insensitive):
/// `ICD10CM` → `icd10cm`, `SNOMED` → `snomedct`, `RxNorm` → `rxnorm`.
/// `None` for an empty id or `None` (OMOP's "no vocabulary").
pub fn system_for_vocabulary(vocabulary_id: &str) -> Option<Cow<'static, str>> {
    let v = vocabulary_id.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("none") {
        return None;
    }
    if let Some(row) = VOCABULARIES
        .iter()
        .find(|r| r.vocabulary_id.eq_ignore_ascii_case(v))
    {
        return Some(Cow::Borrowed(row.system));
    }
    let g = generic(v);
    (!g.is_empty()).then_some(Cow::Owned(g))
}

/// The OMOP `vocabulary_id` for a halsohub system id: an explicit mapping
/// (`icd10se` → `ICD10`, `snomedct` → `SNOMED`), a FHIR system URI kept as
/// the system (`http://www.nlm.nih.gov/research/umls/rxnorm` → `RxNorm`),
/// or a system id that [`system_for_vocabulary`] gives for one of the
/// mapped vocabularies. `None` for anything else (including
/// [`OMOP_CONCEPT_SYSTEM`], whose codes are concept ids already).
pub fn vocabulary_for_system(system: &str) -> Option<&'static str> {
    let s = system.trim();
    if let Some(row) = VOCABULARIES.iter().find(|r| r.system == s) {
        return Some(row.vocabulary_id);
    }
    other_by_uri(s).map(|o| o.vocabulary)
}

/// The mapping row for a vocabulary id (case-insensitive).
pub fn mapping(vocabulary_id: &str) -> Option<&'static VocabularyMapping> {
    let v = vocabulary_id.trim();
    VOCABULARIES
        .iter()
        .find(|r| r.vocabulary_id.eq_ignore_ascii_case(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halsohub_systems_map_both_ways() {
        for (voc, sys) in [
            ("ICD10CM", "icd10cm"),
            ("icd10cm", "icd10cm"),
            ("ICD10", "icd10se"),
            ("ICD10SE", "icd10se"),
            ("ATC", "atc"),
            ("SNOMED", "snomedct"),
            ("LOINC", "loinc"),
            ("RxNorm", "rxnorm"),
            ("RxNorm Extension", "rxnorm_extension"),
            ("NDC", "ndc"),
            ("CVX", "cvx"),
            ("Some Local Vocab", "some_local_vocab"),
        ] {
            assert_eq!(system_for_vocabulary(voc).as_deref(), Some(sys), "{voc}");
        }
        assert_eq!(system_for_vocabulary("None"), None);
        assert_eq!(system_for_vocabulary(" "), None);
        assert_eq!(vocabulary_for_system("icd10se"), Some("ICD10"));
        assert_eq!(vocabulary_for_system("snomedct"), Some("SNOMED"));
        assert_eq!(vocabulary_for_system("npu"), Some("NPU"));
        assert_eq!(
            vocabulary_for_system("http://www.nlm.nih.gov/research/umls/rxnorm"),
            Some("RxNorm")
        );
        assert_eq!(vocabulary_for_system("omop"), None);
        assert_eq!(vocabulary_for_system("local_thing"), None);
        assert!(mapping("NPU").is_some_and(|m| !m.athena));
    }

    #[test]
    fn every_mapped_system_round_trips() {
        for row in VOCABULARIES.iter() {
            let sys = system_for_vocabulary(row.vocabulary_id);
            assert_eq!(sys.as_deref(), Some(row.system));
            let back = vocabulary_for_system(row.system);
            assert!(back.is_some());
            assert_eq!(
                system_for_vocabulary(back.unwrap_or_default()).as_deref(),
                Some(row.system)
            );
        }
    }
}
