//! The source formats ingest understands, and how a file's header selects one.

use serde::{Deserialize, Serialize};

use crate::error::IngestError;

pub(crate) mod omop;

/// A source format (see `docs/formats.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Population register (folkbokföring): persons and residences.
    Population,
    /// Population register change file: old → new identity number.
    IdChanges,
    /// National patient register, inpatient care.
    ParInpatient,
    /// National patient register, specialised outpatient care.
    ParOutpatient,
    /// Prescribed drug register (dispensings).
    PrescribedDrugs,
    /// Cause-of-death register.
    CauseOfDeath,
    /// A region's primary care visits.
    PrimaryCare,
    /// A region's hospital-administered drugs (rekvisitionsläkemedel).
    AdministeredDrugs,
    /// A region's lab results.
    Lab,
    /// HL7 FHIR R4 JSON: a Bundle (or single resource) document, or bulk
    /// NDJSON; plain or gzipped.
    Fhir,
    /// An OMOP CDM 5.3/5.4 table file (`PERSON.csv.gz`, `concept.tsv`,
    /// `person.parquet`, ...): the table comes from the file name,
    /// confirmed by the header (a Parquet file's schema).
    Omop,
}

/// Static description of a delimited register format.
pub(crate) struct Spec {
    pub delimiter: u8,
    /// Column names in canonical order, upper- or lower-case as the spec
    /// writes them (matching is case-insensitive).
    pub columns: &'static [&'static str],
}

impl Format {
    /// Every format, in the order they are listed.
    pub const ALL: [Format; 11] = [
        Format::Population,
        Format::IdChanges,
        Format::ParInpatient,
        Format::ParOutpatient,
        Format::PrescribedDrugs,
        Format::CauseOfDeath,
        Format::PrimaryCare,
        Format::AdministeredDrugs,
        Format::Lab,
        Format::Fhir,
        Format::Omop,
    ];

    /// The delimited register formats, in the order they are tried.
    pub(crate) const DELIMITED: [Format; 9] = [
        Format::Population,
        Format::IdChanges,
        Format::ParInpatient,
        Format::ParOutpatient,
        Format::PrescribedDrugs,
        Format::CauseOfDeath,
        Format::PrimaryCare,
        Format::AdministeredDrugs,
        Format::Lab,
    ];

    /// The stable name (`par_inpatient`, ...), as used by `--format`, in the
    /// load report and in `Event::source`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Population => "population",
            Format::IdChanges => "id_changes",
            Format::ParInpatient => "par_inpatient",
            Format::ParOutpatient => "par_outpatient",
            Format::PrescribedDrugs => "prescribed_drugs",
            Format::CauseOfDeath => "cause_of_death",
            Format::PrimaryCare => "primary_care",
            Format::AdministeredDrugs => "administered_drugs",
            Format::Lab => "lab",
            Format::Fhir => "fhir",
            Format::Omop => "omop",
        }
    }

    /// The format with this name (case-insensitive, `-` accepted for `_`).
    pub fn parse(name: &str) -> Result<Format, IngestError> {
        let wanted = name.trim().to_ascii_lowercase().replace('-', "_");
        Format::ALL
            .into_iter()
            .find(|f| f.name() == wanted)
            .ok_or_else(|| IngestError::UnknownFormatName {
                name: crate::scrub::scrub(name, 40),
                known: known_names(),
            })
    }

    pub(crate) fn spec(self) -> &'static Spec {
        match self {
            Format::Population => &POPULATION,
            Format::IdChanges => &ID_CHANGES,
            Format::ParInpatient => &PAR_INPATIENT,
            Format::ParOutpatient => &PAR_OUTPATIENT,
            Format::PrescribedDrugs => &PRESCRIBED,
            Format::CauseOfDeath => &CAUSE_OF_DEATH,
            Format::PrimaryCare => &PRIMARY_CARE,
            Format::AdministeredDrugs => &ADMINISTERED,
            Format::Lab => &LAB,
            Format::Fhir | Format::Omop => &FHIR,
        }
    }

    /// Bit of this format in a set of sources.
    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

pub(crate) fn known_names() -> String {
    Format::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

static POPULATION: Spec = Spec {
    delimiter: b';',
    columns: &[
        "PERSONNR",
        "KON",
        "FODELSEDATUM",
        "LAN",
        "KOMMUN",
        "FRAN_DATUM",
        "TILL_DATUM",
        "INVANDRING_DATUM",
        "UTVANDRING_DATUM",
    ],
};
static ID_CHANGES: Spec = Spec {
    delimiter: b';',
    columns: &["GAMMALT_PERSONNR", "NYTT_PERSONNR", "ANDRINGSDATUM"],
};
static PAR_INPATIENT: Spec = Spec {
    delimiter: b';',
    columns: &[
        "PERSONNR", "INDATUM", "UTDATUM", "HDIA", "DIAGNOS", "OP", "SJUKHUS", "MVO",
    ],
};
static PAR_OUTPATIENT: Spec = Spec {
    delimiter: b';',
    columns: &[
        "PERSONNR", "INDATUM", "HDIA", "DIAGNOS", "OP", "SJUKHUS", "MVO",
    ],
};
static PRESCRIBED: Spec = Spec {
    delimiter: b';',
    columns: &["PERSONNR", "EDATUM", "ATC", "VARUNR", "ANTAL", "FDATUM"],
};
static CAUSE_OF_DEATH: Spec = Spec {
    delimiter: b';',
    columns: &["PERSONNR", "DODSDATUM", "ULORSAK", "MORSAK"],
};
static PRIMARY_CARE: Spec = Spec {
    delimiter: b',',
    columns: &["personnummer", "besoksdatum", "diagnoskoder", "vardenhet"],
};
static ADMINISTERED: Spec = Spec {
    delimiter: b';',
    columns: &[
        "personnummer",
        "administreringsdatum",
        "atc",
        "dos",
        "enhet",
        "avdelning",
    ],
};
static LAB: Spec = Spec {
    delimiter: b'\t',
    columns: &[
        "personnummer",
        "provtagningstid",
        "analyskod",
        "kodsystem",
        "resultat",
        "enhet",
        "referensintervall",
    ],
};

/// FHIR (and OMOP, which has its own table definitions in
/// `halsohub-omop`) are not register files; their spec has no columns and
/// is never matched against a register header.
static FHIR: Spec = Spec {
    delimiter: b'\n',
    columns: &[],
};

/// A format chosen for a file, with the position of each of its columns in
/// the file's header.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub format: Format,
    /// `index[k]` is the header position of the spec's column `k`.
    pub index: Vec<usize>,
    /// Number of columns in the header (every row must have as many).
    pub width: usize,
    /// For FHIR: whether the file is one JSON document or NDJSON.
    pub fhir: Option<halsohub_fhir::stream::Shape>,
    /// For FHIR NDJSON whose first resource is one other files refer to,
    /// the stage in which it is read before them: 0 for a Patient or
    /// Medication (a bulk export's `Patient.ndjson`, `Medication.ndjson`),
    /// 1 for an Encounter (`Encounter.ndjson`, whose subjects are in the
    /// stage-0 files). `None`: read with everything else.
    pub fhir_shared: Option<u8>,
    /// For FHIR NDJSON that is a bulk export's log rather than data (the
    /// server's OperationOutcome file, a bulk-data client's `log.ndjson`):
    /// what it is. Such a file is skipped with this note, not read.
    pub fhir_log: Option<&'static str>,
    /// For OMOP: the table and the delimiter, or Parquet.
    pub omop: Option<omop::OmopLayout>,
}

fn normalise_name(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).trim().to_ascii_lowercase()
}

fn split(header: &[u8], delimiter: u8) -> Vec<String> {
    header
        .split(|&b| b == delimiter)
        .map(normalise_name)
        .collect()
}

/// Positions of `format`'s columns in `names`, or the missing columns.
fn layout_for(format: Format, names: &[String]) -> Result<Layout, Vec<&'static str>> {
    let spec = format.spec();
    let mut index = Vec::with_capacity(spec.columns.len());
    let mut missing = Vec::new();
    for col in spec.columns {
        let lc = col.to_ascii_lowercase();
        match names.iter().position(|n| *n == lc) {
            Some(i) => index.push(i),
            None => missing.push(*col),
        }
    }
    if missing.is_empty() {
        Ok(Layout {
            format,
            index,
            width: names.len(),
            fhir: None,
            fhir_shared: None,
            fhir_log: None,
            omop: None,
        })
    } else {
        Err(missing)
    }
}

/// Choose the format for a header line (without its line end). A format
/// matches when the header, split at the format's delimiter, holds all its
/// columns (any order, case-insensitive, extra columns ignored); of several
/// matches the one with the most columns wins (inpatient over outpatient).
/// `forced` skips detection but still maps the columns.
pub(crate) fn detect(
    path: &std::path::Path,
    header: &[u8],
    forced: Option<Format>,
) -> Result<Layout, IngestError> {
    let json = halsohub_fhir::stream::sniff(header);
    if forced == Some(Format::Fhir) || (forced.is_none() && json.is_some()) {
        let Some(shape) = json else {
            return Err(IngestError::NotFhir {
                path: path.to_path_buf(),
            });
        };
        let first = halsohub_fhir::stream::first_resource_type(header);
        let fhir_shared = match (shape, first.as_deref()) {
            (halsohub_fhir::stream::Shape::Ndjson, Some("Patient" | "Medication")) => Some(0),
            (halsohub_fhir::stream::Shape::Ndjson, Some("Encounter")) => Some(1),
            _ => None,
        };
        return Ok(Layout {
            format: Format::Fhir,
            index: Vec::new(),
            width: 0,
            fhir: Some(shape),
            fhir_shared,
            fhir_log: match shape {
                halsohub_fhir::stream::Shape::Ndjson => {
                    halsohub_fhir::stream::bulk_export_log(header)
                }
                _ => None,
            },
            omop: None,
        });
    }
    if forced.is_none() || forced == Some(Format::Omop) {
        let detected = omop::detect(path, header, forced == Some(Format::Omop));
        if let Some(r) = detected {
            let omop = r?;
            return Ok(Layout {
                format: Format::Omop,
                index: Vec::new(),
                width: 0,
                fhir: None,
                fhir_shared: None,
                fhir_log: None,
                omop: Some(omop),
            });
        }
    }
    if let Some(format) = forced {
        let names = split(header, format.spec().delimiter);
        return layout_for(format, &names).map_err(|missing| IngestError::FormatMismatch {
            path: path.to_path_buf(),
            format: format.name(),
            missing: missing.join(", "),
        });
    }
    let mut best: Option<Layout> = None;
    for format in Format::DELIMITED {
        let names = split(header, format.spec().delimiter);
        if let Ok(layout) = layout_for(format, &names) {
            let better = best
                .as_ref()
                .is_none_or(|b| b.format.spec().columns.len() < format.spec().columns.len());
            if better {
                best = Some(layout);
            }
        }
    }
    best.ok_or_else(|| IngestError::UnknownFormat {
        path: path.to_path_buf(),
        header: crate::scrub::scrub(&String::from_utf8_lossy(header), 120),
        known: known_names(),
    })
}

/// Choose the format of a Parquet file (the `PAR1` magic): only OMOP CDM
/// tables are read from Parquet.
pub(crate) fn detect_parquet(
    path: &std::path::Path,
    forced: Option<Format>,
) -> Result<Layout, IngestError> {
    if let Some(f) = forced.filter(|f| *f != Format::Omop) {
        return Err(IngestError::Read {
            path: path.to_path_buf(),
            line: 1,
            message: format!(
                "Parquet data (the PAR1 magic) cannot be read as {f}: only OMOP CDM tables are read from Parquet"
            ),
        });
    }
    let omop = omop::detect_parquet(path, forced.is_some())?;
    Ok(Layout {
        format: Format::Omop,
        index: Vec::new(),
        width: 0,
        fhir: None,
        fhir_shared: None,
        fhir_log: None,
        omop: Some(omop),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_spec_header_detects_itself() {
        for f in Format::DELIMITED {
            let spec = f.spec();
            let header = spec.columns.join(&(spec.delimiter as char).to_string());
            let l = detect(Path::new("x"), header.as_bytes(), None).unwrap();
            assert_eq!(l.format, f, "{header}");
            assert_eq!(l.index, (0..spec.columns.len()).collect::<Vec<_>>());
            assert_eq!(Format::parse(f.name()).unwrap(), f);
        }
    }

    #[test]
    fn case_whitespace_and_order_do_not_matter() {
        let l = detect(Path::new("x"), b" ddodsdatum;x".as_slice(), None);
        assert!(l.is_err());
        let l = detect(
            Path::new("x"),
            b"dodsdatum ; personnr;MORSAK;ulorsak ",
            None,
        )
        .unwrap();
        assert_eq!(l.format, Format::CauseOfDeath);
        assert_eq!(l.index, vec![1, 0, 3, 2]);
    }

    #[test]
    fn unknown_header_names_the_file_without_ids() {
        let err = detect(Path::new("a/b.txt"), b"191212121212;foo;bar", None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("a/b.txt"), "{msg}");
        assert!(msg.contains("foo;bar"), "{msg}");
        assert!(!msg.contains("191212121212"), "{msg}");
    }

    #[test]
    fn json_is_fhir() {
        use halsohub_fhir::stream::Shape;
        let l = detect(Path::new("b.json"), b"{", None).unwrap();
        assert_eq!((l.format, l.fhir), (Format::Fhir, Some(Shape::Document)));
        let l = detect(
            Path::new("p.ndjson"),
            br#"{"resourceType":"Patient","id":"1"}"#,
            None,
        )
        .unwrap();
        assert_eq!((l.format, l.fhir), (Format::Fhir, Some(Shape::Ndjson)));
        assert!(detect(Path::new("x"), b"PERSONNR;KON", Some(Format::Fhir)).is_err());
        assert_eq!(Format::parse("FHIR").unwrap(), Format::Fhir);
    }

    #[test]
    fn forced_format_reports_missing_columns() {
        let err = detect(
            Path::new("f"),
            b"PERSONNR;EDATUM;ATC",
            Some(Format::PrescribedDrugs),
        )
        .unwrap_err();
        assert!(err.to_string().contains("VARUNR, ANTAL, FDATUM"), "{err}");
        assert!(Format::parse("nope").is_err());
        assert_eq!(
            Format::parse("PAR-Inpatient").unwrap(),
            Format::ParInpatient
        );
    }
}
