//! The OMOP CDM reader: one table file (CSV or TSV, plain or gzipped, or
//! Parquet) of a CDM 5.3/5.4 folder, with the table definitions of
//! `halsohub-omop`. Parquet columns are cast to text and their rows go
//! through the same row code as CSV records ([`TableRows`]).
//!
//! Tables depend on each other, so a folder is read in stages (see
//! `lib.rs`): `cdm_source` (it names the data holder, which scopes the
//! person pseudonyms), `location` and `care_site` first, then `concept`
//! and `person` (concept id → system and code; `person_id` → pseudonym,
//! and the person's `location_id` → a residence), then `visit_occurrence`
//! (visit id → care setting and provider, which its events take), then
//! every other table with those in hand. What a reference table offers the others is its [`Export`],
//! collected per folder into the load's [`Directory`]. A reference table
//! already in the store is read again for its export only (nothing is
//! written), so a later delivery of, say, a new `drug_exposure` file still
//! resolves its persons and concepts.

//!
//! By job:
//!
//! * detection of a table file lives with the other formats
//!   (`crate::format::omop`);
//! * [`folder`]: the reference data of a CDM folder ([`Export`],
//!   [`Directory`]) and the folder key;
//! * [`source`]: the table sources, CSV/TSV records and Parquet batches
//!   (cast to text), each row handed to [`rows::TableRows`];
//! * [`rows`]: the row loop shared by both sources (header match and notes,
//!   the columns each table needs, duplicate rows);
//! * [`fields`]: a data row's fields by column name, typed;
//! * [`mapping`]: one row of a table → events, persons, residences and
//!   what the table exports.

use std::io::Read;
use std::path::{Path, PathBuf};

use halsohub_omop::Table;

use super::{FastSet, FileCtx, Reader};
use crate::error::IngestError;

mod fields;
mod folder;
mod mapping;
mod rows;
mod source;

use source::{read_delimited, read_parquet};

pub(crate) use folder::{Directory, Export, folder_key};

/// The OMOP table reader.
pub(crate) struct OmopReader;

impl Reader for OmopReader {
    fn read(&self, input: &mut dyn Read, ctx: &mut FileCtx<'_>) -> Result<(), IngestError> {
        let Some(layout) = ctx.layout.omop.clone() else {
            return Err(IngestError::NotOmop {
                path: ctx.display.clone().into(),
                reason: "not detected as an OMOP table".to_owned(),
            });
        };
        let table = layout.table;
        if let Some(reason) = not_read(table) {
            return Err(IngestError::NotOmop {
                path: ctx.display.clone().into(),
                reason: format!(
                    "halsohub does not read the {table} table ({reason}); in a CDM folder it is skipped with a note"
                ),
            });
        }
        if layout.parquet {
            // Parquet needs seeking: the file is opened again by its path;
            // `input` is then read to its end only for the hash the caller
            // compares with the first pass.
            read_parquet(table, ctx)?;
            std::io::copy(input, &mut std::io::sink())
                .map(|_| ())
                .map_err(|e| IngestError::io(Path::new(&ctx.display), e))
        } else {
            read_delimited(&layout, input, ctx)
        }
    }
}

/// Why halsohub does not read a table, or `None` for the tables it reads.
pub(crate) fn not_read(table: Table) -> Option<&'static str> {
    Some(match table {
        Table::Person
        | Table::ObservationPeriod
        | Table::VisitOccurrence
        | Table::ConditionOccurrence
        | Table::DrugExposure
        | Table::ProcedureOccurrence
        | Table::Measurement
        | Table::Observation
        | Table::Death
        | Table::Concept
        | Table::CdmSource
        | Table::Location
        | Table::CareSite => return None,
        Table::ConditionEra | Table::DrugEra | Table::DoseEra => {
            "derived from the occurrence and exposure tables; reading it would count the same events twice"
        }
        Table::Vocabulary
        | Table::Domain
        | Table::ConceptClass
        | Table::ConceptRelationship
        | Table::Relationship
        | Table::ConceptSynonym
        | Table::ConceptAncestor
        | Table::SourceToConceptMap
        | Table::DrugStrength => {
            "vocabulary table: codes are resolved from the concept table alone, hierarchies come from halsohub's own code systems"
        }
        Table::VisitDetail => "detail of visit_occurrence, which is read",
        Table::DeviceExposure => "halsohub has no device domain",
        Table::Specimen => "halsohub has no specimen domain",
        Table::Note | Table::NoteNlp => "free text, which may identify persons",
        Table::Provider => {
            "health-system table: individual clinicians have no place in the event model (the provider of an event is its visit's care site)"
        }
        Table::PayerPlanPeriod | Table::Cost => "economics table, not used by halsohub",
        Table::FactRelationship | Table::Metadata | Table::Episode | Table::EpisodeEvent => {
            "not used by halsohub"
        }
        Table::Cohort
        | Table::CohortDefinition
        | Table::CohortAttribute
        | Table::AttributeDefinition => "results table (derived cohorts), not source data",
    })
}

/// Drops the files of CDM tables halsohub does not read from a folder that
/// holds tables it reads, with a note each. A lone file of such a table
/// stays (and is refused when read). With a forced format other than
/// `omop` nothing is dropped.
pub(crate) fn skip_unread(
    files: Vec<PathBuf>,
    notes: &mut Vec<String>,
    forced: Option<crate::Format>,
) -> Vec<PathBuf> {
    if forced.is_some_and(|f| f != crate::Format::Omop) {
        return files;
    }
    let table_of = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(Table::from_file_name)
    };
    let cdm_folders: FastSet<PathBuf> = files
        .iter()
        .filter(|p| table_of(p).is_some_and(|t| not_read(t).is_none()))
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    files
        .into_iter()
        .filter(|p| {
            let Some(t) = table_of(p) else { return true };
            let Some(reason) = not_read(t) else {
                return true;
            };
            if p.parent().is_some_and(|d| cdm_folders.contains(d)) {
                notes.push(format!(
                    "{}: skipped (OMOP table {t} is not read: {reason})",
                    p.display()
                ));
                false
            } else {
                true
            }
        })
        .collect()
}

/// Which stage of a load reads the table: 0 `cdm_source`, `location` and
/// `care_site`; 1 `concept` and `person` (a person's location is a
/// residence); 2 `visit_occurrence` (its persons known; its visits give
/// their events a setting and provider); [`EVENT_STAGE`] the rest. The
/// tables of the stages before it are the reference tables, whose
/// [`Export`] the later stages see.
pub(crate) fn stage(table: Table) -> u8 {
    match table {
        Table::CdmSource | Table::Location | Table::CareSite => 0,
        Table::Concept | Table::Person => 1,
        Table::VisitOccurrence => 2,
        _ => EVENT_STAGE,
    }
}

/// The stage of the tables no other table needs.
pub(crate) const EVENT_STAGE: u8 = 3;

/// Unused-column summary for tests and docs: the needed columns per table.
#[cfg(test)]
pub(crate) fn needed_columns() -> std::collections::BTreeMap<&'static str, &'static [&'static str]>
{
    Table::ALL
        .into_iter()
        .filter(|t| not_read(*t).is_none())
        .map(|t| (t.name(), rows::needed(t)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::fields::{parse_date, parse_int};
    use super::mapping::looks_swedish;

    use super::*;
    use crate::format::omop::{OmopLayout, detect};
    use halsohub_omop::CdmVersion;

    #[test]
    fn integers_dates_and_shapes() {
        assert_eq!(parse_int("10204.0"), Some(10204));
        assert_eq!(parse_int(" 7 "), Some(7));
        assert_eq!(parse_int("1.5"), None);
        assert_eq!(parse_int("1."), None);
        assert_eq!(parse_int("x"), None);
        assert!(parse_date("2015-10-02 00:00:00").is_ok());
        assert!(parse_date("2015-02-30").is_err());
        assert!(looks_swedish("19121212-1212"));
        assert!(looks_swedish("191212121212"));
        assert!(looks_swedish("121212+1212"));
        assert!(!looks_swedish("001f4a87-70d0-435c-a4b9-1425f6928d33"));
        assert!(!looks_swedish("12345"));
        assert_eq!(
            halsohub_omop::header::normalise_name("PERSON_ID"),
            "person_id"
        );
    }

    #[test]
    fn every_read_table_needs_columns_it_defines() {
        for (name, cols) in needed_columns() {
            let t = Table::from_name(name).unwrap_or(Table::Cost);
            assert!(!cols.is_empty(), "{name}");
            for c in cols {
                let in_any = CdmVersion::ALL.iter().any(|v| t.column(*v, c).is_some());
                assert!(in_any, "{name}.{c}");
            }
        }
    }

    #[test]
    fn detection_by_name_and_header() {
        let p = Path::new("/x/PERSON.csv.gz");
        let l = detect(p, b"PERSON_ID,GENDER_CONCEPT_ID,YEAR_OF_BIRTH", false);
        assert!(matches!(
            l,
            Some(Ok(OmopLayout {
                table: Table::Person,
                delimiter: b',',
                parquet: false,
            }))
        ));
        let l = detect(
            Path::new("concept.csv"),
            b"concept_id\tconcept_name\tvocabulary_id",
            false,
        );
        assert!(matches!(
            l,
            Some(Ok(OmopLayout {
                delimiter: b'\t',
                ..
            }))
        ));
        assert!(detect(Path::new("person.csv"), b"PERSONNR;KON", false).is_none());
        assert!(detect(Path::new("lab.tsv"), b"a,b", false).is_none());
        assert!(matches!(
            detect(Path::new("lab.tsv"), b"a,b", true),
            Some(Err(_))
        ));
        assert!(matches!(
            detect(Path::new("person.csv"), b"a,b", true),
            Some(Ok(_))
        ));
    }

    #[test]
    fn unread_tables_in_a_cdm_folder_are_skipped() {
        let files = vec![
            PathBuf::from("/d/PERSON.csv.gz"),
            PathBuf::from("/d/CONDITION_ERA.csv.gz"),
            PathBuf::from("/d/notes.txt"),
            PathBuf::from("/e/drug_era.csv"),
        ];
        let mut notes = Vec::new();
        let kept = skip_unread(files, &mut notes, None);
        assert_eq!(kept.len(), 3);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("condition_era"), "{notes:?}");
    }
}
