//! The row loop shared by the CSV and Parquet sources ([`TableRows`]: the
//! header's match and notes, duplicate rows, the table mapping) and one data
//! row's fields by official column name ([`Row`]).

use std::borrow::Cow;

use chrono::NaiveDate;
use csv::ByteRecord;
use halsohub_omop::{CdmVersion, HeaderMatch, Table};

use super::super::{FastMap, FastSet, FileCtx};
use super::folder::{Directory, Export, folder_key, folder_scope};
use super::mapping::{Mapper, source_name};
use super::needed;
use crate::error::IngestError;
use crate::input::Encoding;
use crate::reject::{self, Reject, omop as why};
use crate::text::{self, ValueError};

/// One data row: fields by official column name, decoded and trimmed.
pub(super) struct Row<'r> {
    pub(super) record: &'r ByteRecord,
    pub(super) header: &'r HeaderMatch,
    pub(super) encoding: Encoding,
}

pub(super) fn decode(raw: &[u8], encoding: Encoding) -> Cow<'_, str> {
    let s: Cow<'_, str> = match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(raw),
        Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0,
    };
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
    }
}

/// An integer as CDM exports write one (`123`, also `123.0`).
pub(super) fn parse_int(t: &str) -> Option<i64> {
    let t = t.trim();
    let int = match t.split_once('.') {
        Some((i, f)) if !f.is_empty() && f.bytes().all(|b| b == b'0') => i,
        Some(_) => return None,
        None => t,
    };
    int.parse::<i64>().ok()
}

/// A CDM date (`YYYY-MM-DD`, `YYYYMMDD`); a time after it is ignored.
pub(super) fn parse_date(t: &str) -> Result<NaiveDate, ValueError> {
    let d = t.split([' ', 'T']).next().unwrap_or(t);
    text::parse_date(d)
}

impl<'r> Row<'r> {
    /// The trimmed text of `column`, `None` when absent or empty.
    pub(super) fn get(&self, column: &str) -> Option<Cow<'r, str>> {
        let i = self.header.position(column)?;
        let raw = self.record.get(i)?;
        let t = decode(raw, self.encoding);
        (!t.is_empty()).then_some(t)
    }

    pub(super) fn required(&self, column: &str) -> Result<Cow<'r, str>, Reject> {
        self.get(column)
            .ok_or_else(|| Reject::new(why::MISSING_VALUE, column, "required value is empty"))
    }

    pub(super) fn int(&self, column: &str) -> Result<Option<i64>, Reject> {
        match self.get(column) {
            None => Ok(None),
            Some(t) => parse_int(&t).map(Some).ok_or_else(|| {
                Reject::with_value(why::INVALID_NUMBER, column, "expected an integer", &t)
            }),
        }
    }

    pub(super) fn required_int(&self, column: &str) -> Result<i64, Reject> {
        self.int(column)?
            .ok_or_else(|| Reject::new(why::MISSING_VALUE, column, "required value is empty"))
    }

    /// A concept id column: 0 when empty.
    pub(super) fn concept(&self, column: &str) -> Result<i64, Reject> {
        Ok(self.int(column)?.unwrap_or(0))
    }

    pub(super) fn number(&self, column: &str) -> Result<Option<f64>, Reject> {
        match self.get(column) {
            None => Ok(None),
            Some(t) => t
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Some)
                .ok_or_else(|| {
                    Reject::with_value(why::INVALID_NUMBER, column, "expected a number", &t)
                }),
        }
    }

    pub(super) fn date_of(&self, column: &str, t: &str) -> Result<NaiveDate, Reject> {
        parse_date(t).map_err(|e| {
            let what = match e {
                ValueError::Shape(_) => "expected a date YYYY-MM-DD",
                ValueError::Impossible(w) => w,
            };
            Reject::with_value(why::INVALID_DATE, column, what, t)
        })
    }

    /// `<x>_date`, else the date of `<x>_datetime`; required.
    pub(super) fn date(&self, column: &str, datetime: &str) -> Result<NaiveDate, Reject> {
        match self.get(column) {
            Some(t) => self.date_of(column, &t),
            None => match self.get(datetime) {
                Some(t) => self.date_of(datetime, &t),
                None => Err(Reject::new(
                    why::MISSING_VALUE,
                    column,
                    "required value is empty",
                )),
            },
        }
    }

    pub(super) fn opt_date(
        &self,
        column: &str,
        datetime: &str,
    ) -> Result<Option<NaiveDate>, Reject> {
        match (self.get(column), self.get(datetime)) {
            (Some(t), _) => self.date_of(column, &t).map(Some),
            (None, Some(t)) => self.date_of(datetime, &t).map(Some),
            (None, None) => Ok(None),
        }
    }
}

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
