//! Opening a Parquet input file: the decoder is guarded (a panic in it
//! becomes a file-level error) and a damaged file is an error naming it.
//! Used by format detection (the schema's column names) and by the OMOP
//! reader (the batches).

use std::path::Path;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::IngestError;

/// Rows per Parquet record batch (bounded memory).
pub(crate) const PARQUET_BATCH: usize = 8 * 1024;

/// A Parquet file that cannot be decoded: a file-level error naming it.
pub(crate) fn parquet_damaged(path: &Path, what: impl std::fmt::Display) -> IngestError {
    IngestError::NotOmop {
        path: path.to_path_buf(),
        reason: format!("Parquet data is damaged or truncated: {what}"),
    }
}

/// Runs a call into the Parquet decoder, which is not hardened against
/// every malformed input: a panic in it becomes `Err` (a file-level error)
/// instead of taking the load down.
pub(crate) fn guarded<T, E: std::fmt::Display>(
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the Parquet decoder failed on it".to_owned()),
    }
}

/// Opens a Parquet file by path (the reader seeks to the footer) and reads
/// its metadata and schema.
pub(crate) fn open_parquet(
    path: &Path,
    display: &Path,
) -> Result<ParquetRecordBatchReaderBuilder<std::fs::File>, IngestError> {
    let file = std::fs::File::open(path).map_err(|e| IngestError::io(display, e))?;
    guarded(|| ParquetRecordBatchReaderBuilder::try_new(file))
        .map_err(|m| parquet_damaged(display, m))
}
