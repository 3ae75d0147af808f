//! The row loop shared by the CSV and Parquet sources ([`TableRows`]: the
//! header's match and notes, the columns each table needs, duplicate rows,
//! then the table mapping).

use csv::ByteRecord;
use halsohub_omop::{CdmVersion, HeaderMatch, Table};

use super::super::{FastMap, FastSet, FileCtx};
use super::fields::Row;
use super::folder::{Directory, Export, folder_key, folder_scope};
use super::mapping::{Mapper, source_name};
use crate::error::IngestError;
use crate::reject::{self, Reject, omop as why};

/// The row loop shared by CSV and Parquet: the header's match and notes,
/// the table mapping, duplicate rows; one call per data row.
pub(super) struct TableRows<'f> {
    pub(super) header: HeaderMatch,
    /// Columns halsohub needs that the header lacks.
    pub(super) missing: Vec<&'static str>,
    pub(super) delimiter: u8,
    pub(super) mapper: Mapper<'f>,
    pub(super) rows_seen: FastSet<u64>,
    pub(super) joined: Vec<u8>,
}

impl<'f> TableRows<'f> {
    /// Matches the header `names` (the CSV header line, or the Parquet
    /// schema's fields) and notes its extra, lacking and repeated columns.
    pub(super) fn new(
        table: Table,
        names: &[String],
        delimiter: u8,
        omop: &'f Directory,
        ctx: &mut FileCtx<'_>,
    ) -> Self {
        let header = HeaderMatch::new(table, names);
        let missing: Vec<&'static str> = needed(table)
            .iter()
            .copied()
            .filter(|c| header.position(c).is_none())
            .collect();
        if !header.extra.is_empty() {
            let extra: Vec<String> = header
                .extra
                .iter()
                .map(|e| crate::scrub::scrub(e, 40))
                .collect();
            ctx.notes.push(format!(
                "{}: columns not in the CDM {table} table ignored: {}",
                ctx.display,
                extra.join(", ")
            ));
        }
        let lacking: Vec<&str> = header
            .missing_required
            .iter()
            .copied()
            .filter(|c| !missing.contains(c))
            .collect();
        if !lacking.is_empty() {
            ctx.notes.push(format!(
                "{}: CDM {} requires column(s) the file lacks (not needed by halsohub): {}",
                ctx.display,
                header.version.map_or("", CdmVersion::as_str),
                lacking.join(", ")
            ));
        }
        if !header.duplicates.is_empty() {
            ctx.notes.push(format!(
                "{}: column(s) named twice, the first is read: {}",
                ctx.display,
                header.duplicates.join(", ")
            ));
        }
        let key = folder_key(ctx.path);
        let folder = omop.folder(&key);
        let scope = folder
            .and_then(|f| f.scope.clone())
            .unwrap_or_else(|| folder_scope(&key));
        TableRows {
            header,
            missing,
            delimiter,
            mapper: Mapper {
                table,
                folder,
                scope,
                source: source_name(table),
                seen: FastSet::default(),
                reused_keys: 0,
                concepts: FastMap::default(),
                persons: FastMap::default(),
                places: FastMap::default(),
                locations: FastMap::default(),
                care_sites: FastMap::default(),
                visits: FastMap::default(),
                source_scope: None,
                systems: FastMap::default(),
            },
            rows_seen: FastSet::default(),
            joined: Vec::with_capacity(256),
        }
    }

    /// One data row (`line`: its CSV line, or its Parquet row number).
    pub(super) fn row(
        &mut self,
        line: u64,
        record: &ByteRecord,
        ctx: &mut FileCtx<'_>,
    ) -> Result<(), IngestError> {
        let table = self.mapper.table;
        ctx.report.rows_read += 1;
        if record.len() != self.header.width {
            let r = Reject::new(
                reject::WRONG_COLUMN_COUNT,
                "row",
                format!(
                    "expected {} fields separated by {:?} (as the header), found {}",
                    self.header.width,
                    self.delimiter as char,
                    record.len()
                ),
            );
            return ctx.reject(line, r, None);
        }
        self.joined.clear();
        for f in record.iter() {
            self.joined.extend_from_slice(f);
            self.joined.push(0x1f);
        }
        if !self
            .rows_seen
            .insert(twox_hash::XxHash3_64::oneshot(&self.joined))
        {
            let r = Reject::new(
                reject::DUPLICATE_ROW,
                "row",
                "exact duplicate of an earlier row of this file",
            );
            return ctx.reject(line, r, None);
        }
        if let Some(col) = self.missing.first() {
            let r = Reject::new(
                why::MISSING_COLUMN,
                col,
                format!("the file has no such column (the {table} table needs it)"),
            );
            return ctx.reject(line, r, None);
        }
        let row = Row {
            record,
            header: &self.header,
            encoding: ctx.encoding,
        };
        ctx.row.clear();
        match self.mapper.map(&row, ctx) {
            Ok(()) => ctx.accept(line),
            Err(r) => {
                let who = ctx.row.patient;
                ctx.reject(line, r, who)
            }
        }
    }

    /// After the last row: the note on reused keys and the export of a
    /// reference table.
    pub(super) fn finish(mut self, ctx: &mut FileCtx<'_>) {
        let m = &mut self.mapper;
        let table = m.table;
        if m.reused_keys > 0 {
            ctx.notes.push(format!(
                "{}: {} row(s) reuse the {} of an earlier row with other content; the CDM key is not unique, but halsohub does not use it, so the rows are kept",
                ctx.display,
                m.reused_keys,
                table.primary_key().unwrap_or("id"),
            ));
        }
        ctx.omop_export = match table {
            Table::CdmSource => m.source_scope.take().map(Export::Source),
            Table::Concept => Some(Export::Concepts(std::mem::take(&mut m.concepts))),
            Table::Person => Some(Export::Persons(
                std::mem::take(&mut m.persons),
                std::mem::take(&mut m.places),
            )),
            Table::Location => Some(Export::Locations(std::mem::take(&mut m.locations))),
            Table::CareSite => Some(Export::CareSites(std::mem::take(&mut m.care_sites))),
            Table::VisitOccurrence => Some(Export::Visits(std::mem::take(&mut m.visits))),
            _ => None,
        };
    }
}

/// Columns halsohub needs from each table it reads (a file without one of
/// them rejects every row as `omop.missing_column`).
pub(super) fn needed(table: Table) -> &'static [&'static str] {
    match table {
        Table::CdmSource => &["cdm_source_name"],
        Table::Concept => &["concept_id", "vocabulary_id", "concept_code"],
        Table::Person => &["person_id", "year_of_birth"],
        Table::ObservationPeriod => &[
            "person_id",
            "observation_period_start_date",
            "observation_period_end_date",
        ],
        Table::VisitOccurrence => &["person_id", "visit_concept_id", "visit_start_date"],
        Table::ConditionOccurrence => {
            &["person_id", "condition_concept_id", "condition_start_date"]
        }
        Table::DrugExposure => &["person_id", "drug_concept_id", "drug_exposure_start_date"],
        Table::ProcedureOccurrence => &["person_id", "procedure_concept_id", "procedure_date"],
        Table::Measurement => &["person_id", "measurement_concept_id", "measurement_date"],
        Table::Observation => &["person_id", "observation_concept_id", "observation_date"],
        Table::Death => &["person_id", "death_date"],
        Table::Location => &["location_id"],
        Table::CareSite => &["care_site_id"],
        _ => &[],
    }
}
