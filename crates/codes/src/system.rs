//! Code systems and their stable ids.

use std::fmt;

/// A code system. Every system has a stable id ([`System::id`]) used in
/// storage, the API and file headers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum System {
    /// ICD-10-SE, the Swedish edition of ICD-10 (`icd10se`).
    Icd10Se,
    /// ICD-10-CM, the US clinical modification (`icd10cm`); same
    /// normalisation and hierarchy as ICD-10-SE, codes up to 7 characters.
    Icd10Cm,
    /// ICD-10-GM, the German modification (`icd10gm`); normalised like
    /// ICD-10-CM (codes up to 7 characters, the `!` marker dropped too).
    Icd10Gm,
    /// Anatomical Therapeutic Chemical classification (`atc`).
    Atc,
    /// KVÅ, Klassifikation av vårdåtgärder (`kva`).
    Kva,
    /// NPU laboratory codes, incl. Danish `DNK` and Swedish `SWE` codes (`npu`).
    Npu,
    /// LOINC (`loinc`).
    Loinc,
    /// SNOMED CT concept ids (`snomedct`).
    SnomedCt,
    /// Any other system, carried as its id (lower-cased, trimmed).
    Other(String),
}

impl System {
    /// The systems with built-in rules: the one list ingest, queries and
    /// exports share (a query may always name these; ingest stores their
    /// codes normalised; exports write them under [`System::fhir_uri`]).
    pub const KNOWN: [System; 8] = [
        System::Icd10Se,
        System::Icd10Cm,
        System::Icd10Gm,
        System::Atc,
        System::Kva,
        System::Npu,
        System::Loinc,
        System::SnomedCt,
    ];

    /// [`System::KNOWN`] as a `'static` slice.
    pub fn known() -> &'static [System] {
        static KNOWN: [System; 8] = System::KNOWN;
        &KNOWN
    }

    /// The stable id: `icd10se`, `icd10cm`, `icd10gm`, `atc`, `kva`, `npu`, `loinc`,
    /// `snomedct`, or the id of an `Other` system.
    pub fn id(&self) -> &str {
        match self {
            System::Icd10Se => "icd10se",
            System::Icd10Cm => "icd10cm",
            System::Icd10Gm => "icd10gm",
            System::Atc => "atc",
            System::Kva => "kva",
            System::Npu => "npu",
            System::Loinc => "loinc",
            System::SnomedCt => "snomedct",
            System::Other(id) => id,
        }
    }

    /// A human name, e.g. `ICD-10-SE`.
    pub fn name(&self) -> &str {
        match self {
            System::Icd10Se => "ICD-10-SE",
            System::Icd10Cm => "ICD-10-CM",
            System::Icd10Gm => "ICD-10-GM",
            System::Atc => "ATC",
            System::Kva => "KVÅ",
            System::Npu => "NPU",
            System::Loinc => "LOINC",
            System::SnomedCt => "SNOMED CT",
            System::Other(id) => id,
        }
    }

    /// The FHIR `Coding.system` URI exports write, where one exists: the
    /// canonical URI of ICD-10, ICD-10-CM, ATC, LOINC and SNOMED CT,
    /// BfArM's URI for ICD-10-GM, Socialstyrelsen's OID for KVÅ, the NPU
    /// URI. [`System::parse`] reads each back as this system.
    pub fn fhir_uri(&self) -> Option<&'static str> {
        match self {
            System::Icd10Se => Some("http://hl7.org/fhir/sid/icd-10"),
            System::Icd10Cm => Some("http://hl7.org/fhir/sid/icd-10-cm"),
            System::Icd10Gm => Some("http://fhir.de/CodeSystem/bfarm/icd-10-gm"),
            System::Atc => Some("http://www.whocc.no/atc"),
            System::Kva => Some("urn:oid:1.2.752.116.1.3.2.1.4"),
            System::Npu => Some("http://npu-terminology.org"),
            System::Loinc => Some("http://loinc.org"),
            System::SnomedCt => Some("http://snomed.info/sct"),
            System::Other(_) => None,
        }
    }

    /// Whether this is an ICD-10 edition (shared normalisation and
    /// hierarchy: chapters, blocks, categories).
    pub fn is_icd10(&self) -> bool {
        matches!(self, System::Icd10Se | System::Icd10Cm | System::Icd10Gm)
    }

    /// Whether codes of this system have a hierarchy that a code set's
    /// `descendants` can use (ICD-10 editions, ATC, KVÅ).
    pub fn is_hierarchical(&self) -> bool {
        self.is_icd10() || matches!(self, System::Atc | System::Kva)
    }

    /// Whether this is one of the [`System::KNOWN`] systems with rules.
    pub fn is_known(&self) -> bool {
        !matches!(self, System::Other(_))
    }

    /// The stable id of the system `text` names (an id, alias or URI, as
    /// [`System::parse`] reads it), or `None` for empty text.
    pub fn canonical_id(text: &str) -> Option<String> {
        System::parse(text).map(|s| s.id().to_owned())
    }

    /// Reads a system id, a common alias (`ICD-10`, `icd10-se`, `KVÅ`,
    /// `SNOMED`, ...) or a FHIR/OMOP-style URI (`http://loinc.org`,
    /// `http://snomed.info/sct`, `http://hl7.org/fhir/sid/icd-10`,
    /// `http://www.whocc.no/atc`). Anything else becomes
    /// [`System::Other`] with the trimmed, lower-cased text. Only empty text
    /// is refused.
    pub fn parse(text: &str) -> Option<System> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        let lower = t.to_lowercase();
        let key = lower.trim_end_matches('/');
        let known = match key {
            "icd10se"
            | "icd-10-se"
            | "icd10-se"
            | "icd-10se"
            | "icd10"
            | "icd-10"
            | "icd"
            | "http://hl7.org/fhir/sid/icd-10"
            | "http://hl7.org/fhir/sid/icd-10-se"
            | "urn:oid:2.16.840.1.113883.6.3"
            | "urn:oid:1.2.752.116.1.1.1.1.3" => Some(System::Icd10Se),
            "icd10cm"
            | "icd-10-cm"
            | "icd10-cm"
            | "http://hl7.org/fhir/sid/icd-10-cm"
            | "urn:oid:2.16.840.1.113883.6.90" => Some(System::Icd10Cm),
            "icd10gm"
            | "icd-10-gm"
            | "icd10-gm"
            | "http://fhir.de/codesystem/bfarm/icd-10-gm"
            | "http://fhir.de/codesystem/dimdi/icd-10-gm" => Some(System::Icd10Gm),
            "atc"
            | "http://www.whocc.no/atc"
            | "https://www.whocc.no/atc"
            | "urn:oid:2.16.840.1.113883.6.73"
            | "http://fhir.de/codesystem/bfarm/atc"
            | "http://fhir.de/codesystem/dimdi/atc" => Some(System::Atc),
            "kva" | "kvå" | "kvaa" | "kvå-kod" | "urn:oid:1.2.752.116.1.3.2.1.4" => {
                Some(System::Kva)
            }
            "npu" | "http://npu-terminology.org" | "urn:oid:1.2.208.176.2.1" => Some(System::Npu),
            "loinc"
            | "http://loinc.org"
            | "https://loinc.org"
            | "urn:oid:2.16.840.1.113883.6.1" => Some(System::Loinc),
            "snomedct"
            | "snomed"
            | "snomed-ct"
            | "snomed ct"
            | "sct"
            | "http://snomed.info/sct"
            | "urn:oid:2.16.840.1.113883.6.96" => Some(System::SnomedCt),
            _ => None,
        };
        Some(known.unwrap_or(System::Other(lower)))
    }
}

impl fmt::Display for System {
    /// Writes the stable id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl serde::Serialize for System {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> serde::Deserialize<'de> for System {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        System::parse(&s).ok_or_else(|| serde::de::Error::custom("empty code system"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for s in System::KNOWN {
            assert_eq!(System::parse(s.id()), Some(s.clone()));
            if let Some(uri) = s.fhir_uri() {
                assert_eq!(System::parse(uri), Some(s.clone()));
            }
        }
    }

    #[test]
    fn aliases() {
        assert_eq!(System::parse(" ICD-10 "), Some(System::Icd10Se));
        assert_eq!(System::parse("KVÅ"), Some(System::Kva));
        assert_eq!(System::parse("http://loinc.org/"), Some(System::Loinc));
        assert_eq!(System::parse("SNOMED"), Some(System::SnomedCt));
        assert_eq!(
            System::parse("http://fhir.de/CodeSystem/dimdi/icd-10-gm"),
            Some(System::Icd10Gm)
        );
        assert_eq!(System::canonical_id("ICD-10"), Some("icd10se".into()));
        assert!(System::Icd10Gm.is_hierarchical() && !System::Npu.is_hierarchical());
        assert_eq!(
            System::parse("Local-Lab"),
            Some(System::Other("local-lab".into()))
        );
        assert_eq!(System::parse("  "), None);
    }

    #[test]
    fn serde_as_id() {
        let j = serde_json::to_string(&System::Atc).unwrap();
        assert_eq!(j, "\"atc\"");
        assert_eq!(serde_json::from_str::<System>(&j).unwrap(), System::Atc);
    }
}
