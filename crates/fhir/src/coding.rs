//! FHIR code system URIs to halsohub's code systems, and the choice of
//! codes from a CodeableConcept.

use halsohub_codes::{CodeRegistry, Lookup, System, normalise, other_by_uri};
use serde_json::Value;

use crate::reason::{self, Rejection};

/// Where a FHIR system URI lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// One of halsohub's systems with rules (`halsohub_codes::System`:
    /// ICD-10-SE/-CM/-GM, ATC, KVÅ, NPU, LOINC, SNOMED CT).
    Known(System),
    /// Anything else: kept as the (lower-cased) URI.
    Other(String),
}

impl Target {
    /// The halsohub system id (`Event::system`).
    #[cfg(test)]
    pub(crate) fn id(&self) -> &str {
        match self {
            Target::Known(s) => s.id(),
            Target::Other(s) => s,
        }
    }

    /// Order of preference when a concept has several codings; `None` for
    /// systems without halsohub rules.
    fn rank(&self) -> Option<u8> {
        match self {
            Target::Known(System::Icd10Se) => Some(0),
            Target::Known(System::Icd10Cm) => Some(1),
            Target::Known(System::Icd10Gm) => Some(2),
            Target::Known(System::Atc) => Some(3),
            Target::Known(System::Kva) => Some(4),
            Target::Known(System::Npu) => Some(5),
            Target::Known(System::Loinc) => Some(6),
            Target::Known(System::SnomedCt) => Some(7),
            Target::Known(System::Other(_)) | Target::Other(_) => None,
        }
    }
}

/// Maps a FHIR `Coding.system` URI.
pub(crate) fn target(uri: &str) -> Target {
    let key = uri.trim().trim_end_matches('/').to_ascii_lowercase();
    // Terminologies halsohub names by a short id, the same id an OMOP
    // source's vocabulary gets (`halsohub_codes::OTHER_SYSTEMS`), so that
    // one drug from a FHIR record and an OMOP table carries one system.
    if let Some(o) = other_by_uri(&key).filter(|o| o.fhir_as_id) {
        return Target::Other(o.id.to_owned());
    }
    match System::parse(&key) {
        Some(System::Other(s)) => Target::Other(s),
        None => Target::Other("unknown".to_owned()),
        Some(s) => Target::Known(s),
    }
}

/// One code chosen from a concept, ready for an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// halsohub system id (`icd10se`, `atc`, `snomedct`, `icd10gm`, or the
    /// lower-cased system URI of any other system).
    pub system: String,
    /// Normalised code.
    pub code: String,
    /// In a loaded code list.
    pub known: bool,
}

impl Code {
    /// `system:code`, for the load report's unknown-code examples.
    pub fn label(&self) -> String {
        format!("{}:{}", self.system, self.code)
    }

    /// The halsohub [`System`] of this code.
    pub fn system(&self) -> System {
        System::parse(&self.system).unwrap_or(System::Other(self.system.clone()))
    }
}

/// Normalises one coding's code for its target system.
pub(crate) fn code_for(
    registry: &CodeRegistry,
    target: &Target,
    raw: &str,
) -> Result<Code, String> {
    match target {
        Target::Known(sys) => match registry.resolve(sys, raw) {
            Ok(Lookup::Known(e)) => Ok(Code {
                code: e.code().to_owned(),
                system: sys.id().to_owned(),
                known: true,
            }),
            Ok(Lookup::NotInList(c) | Lookup::NoList(c)) => Ok(Code {
                code: c,
                system: sys.id().to_owned(),
                known: false,
            }),
            Err(e) => Err(format!("not a valid {} code ({})", sys.name(), e.problem)),
        },
        Target::Other(uri) => normalise(&System::Other("x".to_owned()), raw)
            .map(|code| Code {
                code,
                system: uri.clone(),
                known: false,
            })
            .map_err(|e| format!("not a usable code ({})", e.problem)),
    }
}

/// The codes of a CodeableConcept (or of a single Coding, when `cc` is
/// one): every valid coding of a system with halsohub rules (ICD-10
/// variants, ATC, KVÅ, NPU, LOINC, SNOMED CT), without repeats, best
/// first; when there is none, the first valid coding of any other system.
pub(crate) fn codes(
    registry: &CodeRegistry,
    cc: Option<&Value>,
    element: &str,
) -> Result<Vec<Code>, Rejection> {
    let Some(cc) = cc else {
        return Err(Rejection::new(reason::MISSING_CODE, element, "no code"));
    };
    let single;
    let codings: &[Value] = match cc.get("coding") {
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(Rejection::new(
                reason::INVALID_CODE,
                element,
                "coding is not an array",
            ));
        }
        None if cc.get("system").is_some() || cc.get("code").is_some() => {
            single = [cc.clone()];
            &single
        }
        None => &[],
    };
    let mut ranked: Vec<(u8, Code)> = Vec::new();
    let mut other: Option<Code> = None;
    let mut invalid: Option<String> = None;
    for c in codings {
        let (Some(system), Some(code)) = (
            c.get("system").and_then(Value::as_str),
            c.get("code").and_then(Value::as_str),
        ) else {
            continue;
        };
        let t = target(system);
        let rank = t.rank();
        match code_for(registry, &t, code) {
            Ok(code) => match rank {
                Some(r) => {
                    if !ranked.iter().any(|(_, k)| *k == code) {
                        ranked.push((r, code));
                    }
                }
                None => {
                    if other.is_none() {
                        other = Some(code);
                    }
                }
            },
            Err(why) => {
                if invalid.is_none() {
                    invalid = Some(why);
                }
            }
        }
    }
    if !ranked.is_empty() {
        ranked.sort_by_key(|(r, _)| *r);
        return Ok(ranked.into_iter().map(|(_, c)| c).collect());
    }
    if let Some(o) = other {
        return Ok(vec![o]);
    }
    match invalid {
        Some(why) => Err(Rejection::new(reason::INVALID_CODE, element, why)),
        None => Err(Rejection::new(
            reason::MISSING_CODE,
            element,
            "no coding with both system and code (text only)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uris_map_to_halsohub_systems() {
        assert_eq!(target("http://snomed.info/sct").id(), "snomedct");
        assert_eq!(target("http://loinc.org").id(), "loinc");
        assert_eq!(target("http://hl7.org/fhir/sid/icd-10").id(), "icd10se");
        assert_eq!(target("http://hl7.org/fhir/sid/icd-10-cm").id(), "icd10cm");
        assert_eq!(
            target("http://fhir.de/CodeSystem/bfarm/icd-10-gm").id(),
            "icd10gm"
        );
        assert_eq!(target("http://fhir.de/CodeSystem/bfarm/atc").id(), "atc");
        assert_eq!(target("http://www.whocc.no/atc").id(), "atc");
        assert_eq!(target("urn:oid:1.2.752.116.1.3.2.1.4").id(), "kva");
        assert_eq!(target("http://npu-terminology.org").id(), "npu");
        // Named like OMOP's vocabularies; other systems keep their URI.
        assert_eq!(
            target("http://www.nlm.nih.gov/research/umls/rxnorm").id(),
            "rxnorm"
        );
        assert_eq!(target("http://hl7.org/fhir/sid/cvx").id(), "cvx");
        assert_eq!(
            target("http://example.org/Drugs/").id(),
            "http://example.org/drugs"
        );
    }

    #[test]
    fn known_systems_win_and_repeat_once() {
        let r = CodeRegistry::builtin();
        let cc = json!({"coding": [
            {"system": "http://fhir.de/CodeSystem/bfarm/alpha-id", "code": "I97525"},
            {"system": "http://snomed.info/sct", "code": "44054006"},
            {"system": "http://fhir.de/CodeSystem/bfarm/icd-10-gm", "code": "E11.90"},
            {"system": "http://fhir.de/CodeSystem/bfarm/icd-10-gm", "code": "e1190"}
        ]});
        let c = codes(&r, Some(&cc), "Condition.code").unwrap();
        let labels: Vec<String> = c.iter().map(Code::label).collect();
        assert_eq!(labels, vec!["icd10gm:E1190", "snomedct:44054006"]);
        let other = json!({"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "313782"}]});
        assert_eq!(codes(&r, Some(&other), "x").unwrap().len(), 1);
        let text = json!({"text": "sugar"});
        assert_eq!(
            codes(&r, Some(&text), "x").unwrap_err().reason,
            reason::MISSING_CODE
        );
        let bad = json!({"coding": [{"system": "http://loinc.org", "code": "4548-5"}]});
        assert_eq!(
            codes(&r, Some(&bad), "x").unwrap_err().reason,
            reason::INVALID_CODE
        );
    }
}
