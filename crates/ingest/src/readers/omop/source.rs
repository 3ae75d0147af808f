//! The table sources: a CSV/TSV file's records, or a Parquet file's
//! batches with every column cast to text, each row handed to
//! [`TableRows::row`].

use std::io::Read;
use std::path::PathBuf;

use arrow::array::{Array, AsArray, StringArray};
use arrow::datatypes::DataType;
use csv::ByteRecord;
use halsohub_omop::Table;

use super::super::FileCtx;
use super::fields::decode;
use super::rows::TableRows;
use crate::error::IngestError;
use crate::format::omop::OmopLayout;
use crate::parquet_input::{PARQUET_BATCH, guarded, open_parquet, parquet_damaged};

/// Reads a CSV/TSV table: the header record, then one [`TableRows::row`]
/// per record (its line number is the record's first line).
pub(super) fn read_delimited(
    layout: &OmopLayout,
    input: &mut dyn Read,
    ctx: &mut FileCtx<'_>,
) -> Result<(), IngestError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(layout.delimiter)
        .quoting(layout.delimiter == b',')
        .buffer_capacity(256 * 1024)
        .from_reader(input);
    let mut record = ByteRecord::new();
    let display = ctx.display.clone();
    let csv_error = |e: csv::Error, line: u64| -> IngestError {
        let line = e.position().map_or(line, csv::Position::line);
        match e.into_kind() {
            csv::ErrorKind::Io(io) => super::super::read_error(&display, line, io),
            other => IngestError::Read {
                path: display.clone().into(),
                line,
                message: format!("not readable as CSV: {other:?}"),
            },
        }
    };
    match rdr.read_byte_record(&mut record) {
        Ok(true) => {}
        Ok(false) => {
            return Err(IngestError::Read {
                path: ctx.display.clone().into(),
                line: 1,
                message: "the header line is missing".to_owned(),
            });
        }
        Err(e) => return Err(csv_error(e, 1)),
    }
    let names: Vec<String> = record
        .iter()
        .map(|f| decode(f, ctx.encoding).into_owned())
        .collect();
    let omop = ctx.omop;
    let mut rows = TableRows::new(layout.table, &names, layout.delimiter, omop, ctx);
    let mut last_line = 1u64;
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(e, last_line + 1)),
        }
        let line = record.position().map_or(last_line + 1, csv::Position::line);
        last_line = line;
        if record.len() == 1
            && record
                .get(0)
                .is_some_and(|f| f.iter().all(u8::is_ascii_whitespace))
        {
            continue; // a blank line
        }
        rows.row(line, &record, ctx)?;
    }
    rows.finish(ctx);
    Ok(())
}

/// Reads a Parquet table batch by batch: every column cast to text (nulls
/// empty), each row through [`TableRows::row`] with its 1-based row number
/// as its line.
pub(super) fn read_parquet(table: Table, ctx: &mut FileCtx<'_>) -> Result<(), IngestError> {
    let display = PathBuf::from(&ctx.display);
    let builder = open_parquet(ctx.path, &display)?;
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut reader = guarded(|| builder.with_batch_size(PARQUET_BATCH).build())
        .map_err(|m| parquet_damaged(&display, m))?;
    let omop = ctx.omop;
    let mut rows = TableRows::new(table, &names, b',', omop, ctx);
    let mut record = ByteRecord::new();
    let mut line = 0u64;
    loop {
        let batch = match guarded(|| reader.next().transpose()) {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(m) => {
                return Err(parquet_damaged(
                    &display,
                    format_args!("reading from row {}: {m}", line + 1),
                ));
            }
        };
        let texts = batch
            .columns()
            .iter()
            .zip(&names)
            .map(|(c, name)| {
                arrow::compute::cast(c, &DataType::Utf8).map_err(|e| IngestError::NotOmop {
                    path: display.clone(),
                    reason: format!(
                        "Parquet column {} of type {} cannot be read as text: {e}",
                        crate::scrub::scrub(name, 40),
                        c.data_type()
                    ),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let texts: Vec<&StringArray> = texts
            .iter()
            .map(|a| {
                a.as_string_opt::<i32>()
                    .ok_or_else(|| parquet_damaged(&display, "a column cast to text is not text"))
            })
            .collect::<Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            line += 1;
            record.clear();
            for a in &texts {
                if r < a.len() && a.is_valid(r) {
                    record.push_field(a.value(r).as_bytes());
                } else {
                    record.push_field(b"");
                }
            }
            rows.row(line, &record, ctx)?;
        }
    }
    rows.finish(ctx);
    Ok(())
}
