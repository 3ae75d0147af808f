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
    /// The systems with built-in rules.
    pub const KNOWN: [System; 7] = [
        System::Icd10Se,
        System::Icd10Cm,
        System::Atc,
        System::Kva,
        System::Npu,
        System::Loinc,
        System::SnomedCt,
    ];

    /// The stable id: `icd10se`, `icd10cm`, `atc`, `kva`, `npu`, `loinc`,
    /// `snomedct`, or the id of an `Other` system.
    pub fn id(&self) -> &str {
        match self {
            System::Icd10Se => "icd10se",
            System::Icd10Cm => "icd10cm",
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
            System::Atc => "ATC",
            System::Kva => "KVÅ",
            System::Npu => "NPU",
            System::Loinc => "LOINC",
            System::SnomedCt => "SNOMED CT",
            System::Other(id) => id,
        }
    }

    /// The canonical FHIR system URI, where one exists.
    pub fn fhir_uri(&self) -> Option<&'static str> {
        match self {
            System::Icd10Se => Some("http://hl7.org/fhir/sid/icd-10"),
            System::Icd10Cm => Some("http://hl7.org/fhir/sid/icd-10-cm"),
            System::Atc => Some("http://www.whocc.no/atc"),
            System::Loinc => Some("http://loinc.org"),
            System::SnomedCt => Some("http://snomed.info/sct"),
            System::Kva | System::Npu | System::Other(_) => None,
        }
    }

    /// Whether this is an ICD-10 flavour (shared normalisation and hierarchy).
    pub fn is_icd10(&self) -> bool {
        matches!(self, System::Icd10Se | System::Icd10Cm)
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
            | "urn:oid:2.16.840.1.113883.6.3" => Some(System::Icd10Se),
            "icd10cm"
            | "icd-10-cm"
            | "icd10-cm"
            | "http://hl7.org/fhir/sid/icd-10-cm"
            | "urn:oid:2.16.840.1.113883.6.90" => Some(System::Icd10Cm),
            "atc"
            | "http://www.whocc.no/atc"
            | "https://www.whocc.no/atc"
            | "urn:oid:2.16.840.1.113883.6.73" => Some(System::Atc),
            "kva" | "kvå" | "kvaa" | "kvå-kod" => Some(System::Kva),
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
