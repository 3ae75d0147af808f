//! Detection of OMOP CDM table files: by file name, confirmed by the CSV
//! header or the Parquet schema (the table definitions of `halsohub-omop`).

use std::path::Path;

use halsohub_omop::{CdmVersion, HeaderMatch, Table};

use crate::error::IngestError;
use crate::parquet_input::open_parquet;

/// How an OMOP table file is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OmopLayout {
    pub table: Table,
    /// `,` (quoted CSV) or tab (unquoted, as Athena's vocabulary files).
    pub delimiter: u8,
    /// A Parquet file (the `PAR1` magic), not delimited text.
    pub parquet: bool,
}

/// Recognises an OMOP table file: its name names a CDM table
/// (`PERSON.csv.gz`, ...) and its header (`,` or tab separated) confirms it
/// (see [`HeaderMatch::confirms`]); `forced` (`--format omop`) needs only
/// the name. `None` when it is not one (and not forced).
pub(crate) fn detect(
    path: &Path,
    header: &[u8],
    forced: bool,
) -> Option<Result<OmopLayout, IngestError>> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(table) = Table::from_file_name(name) else {
        return forced.then(|| {
            Err(IngestError::NotOmop {
                path: path.to_path_buf(),
                reason: "the file name names no CDM table (person.csv, CONDITION_OCCURRENCE.csv.gz, concept.tsv, drug_exposure.csv, ...)".to_owned(),
            })
        });
    };
    let delimiter = if header.contains(&b'\t') && !header.contains(&b',') {
        b'\t'
    } else {
        b','
    };
    let text = String::from_utf8_lossy(header);
    let names: Vec<&str> = text.split(delimiter as char).collect();
    let m = HeaderMatch::new(table, &names);
    let by_name_only =
        table.columns(CdmVersion::V5_4).is_none() && table.columns(CdmVersion::V5_3).is_none();
    if forced || m.confirms() || by_name_only {
        Some(Ok(OmopLayout {
            table,
            delimiter,
            parquet: false,
        }))
    } else {
        None
    }
}

/// Recognises a Parquet file (the `PAR1` magic) as an OMOP table: its name
/// names a CDM table (`person.parquet`, ...) and its schema's column names
/// confirm it as a CSV header would; `forced` needs only the name. Only
/// OMOP tables are read from Parquet, so anything else is an error naming
/// the file. Reads the file's footer (a damaged file fails here).
pub(crate) fn detect_parquet(path: &Path, forced: bool) -> Result<OmopLayout, IngestError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(table) = Table::from_file_name(name) else {
        return Err(IngestError::NotOmop {
            path: path.to_path_buf(),
            reason: "a Parquet file is read only as an OMOP CDM table, and the file name names none (person.parquet, CONDITION_OCCURRENCE.parquet, ...)".to_owned(),
        });
    };
    let names = parquet_columns(path)?;
    let m = HeaderMatch::new(table, &names);
    let by_name_only =
        table.columns(CdmVersion::V5_4).is_none() && table.columns(CdmVersion::V5_3).is_none();
    if forced || m.confirms() || by_name_only {
        Ok(OmopLayout {
            table,
            delimiter: b',',
            parquet: true,
        })
    } else {
        let shown: Vec<String> = names
            .iter()
            .take(8)
            .map(|n| crate::scrub::scrub(n, 40))
            .collect();
        Err(IngestError::NotOmop {
            path: path.to_path_buf(),
            reason: format!(
                "its Parquet columns ({}) do not confirm the CDM {table} table; --format omop reads it by its name",
                shown.join(", ")
            ),
        })
    }
}

/// The column names of a Parquet file's schema (checks its footer too).
pub(crate) fn parquet_columns(path: &Path) -> Result<Vec<String>, IngestError> {
    let builder = open_parquet(path, path)?;
    Ok(builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}
