//! `halsohub store export`: a pseudonymised copy of one snapshot.

use std::fs::{self, File};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use serde::{Deserialize, Serialize};

use crate::columns::{Columns, EventColumn};
use crate::fsutil::{self, io};
use crate::tables;
use crate::{Snapshot, SnapshotId, StoreError};

/// File format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Parquet,
    Csv,
}

impl ExportFormat {
    fn ext(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "parquet",
            ExportFormat::Csv => "csv",
        }
    }
}

/// What an export wrote (also saved as `export.json` in the export).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportSummary {
    pub snapshot: SnapshotId,
    pub format: ExportFormat,
    pub dir: PathBuf,
    /// File name and row count of each table.
    pub files: Vec<(String, u64)>,
}

enum Sink {
    Parquet(ArrowWriter<File>),
    Csv(arrow::csv::Writer<File>),
}

struct Table {
    path: PathBuf,
    sink: Sink,
    rows: u64,
}

impl Table {
    fn new(path: PathBuf, format: ExportFormat, schema: &SchemaRef) -> Result<Table, StoreError> {
        let sink = match format {
            ExportFormat::Parquet => Sink::Parquet(tables::create_writer(&path, schema)?),
            ExportFormat::Csv => {
                let f = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(io(&path))?;
                Sink::Csv(arrow::csv::WriterBuilder::new().with_header(true).build(f))
            }
        };
        Ok(Table {
            path,
            sink,
            rows: 0,
        })
    }

    fn write(&mut self, b: &RecordBatch) -> Result<(), StoreError> {
        match &mut self.sink {
            Sink::Parquet(w) => w.write(b).map_err(|e| tables::parquet_err(&self.path, e))?,
            Sink::Csv(w) => w.write(b).map_err(|e| tables::arrow_err(&self.path, e))?,
        }
        self.rows += b.num_rows() as u64;
        Ok(())
    }

    fn finish(self) -> Result<(String, u64), StoreError> {
        match self.sink {
            Sink::Parquet(w) => tables::close_writer(&self.path, w)?,
            Sink::Csv(w) => w.into_inner().sync_all().map_err(io(&self.path))?,
        }
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok((name, self.rows))
    }
}

/// `path` made absolute and free of `.`/`..`/symlinks as far as it exists
/// (the part that does not exist yet is appended as written), so two paths
/// can be compared: is an output directory inside the store?
pub fn resolve_path(path: &Path) -> std::io::Result<PathBuf> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut existing = abs.clone();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return Ok(out);
        }
        let Some(name) = existing.file_name().map(|n| n.to_os_string()) else {
            return Ok(abs);
        };
        if !existing.pop() {
            return Ok(abs);
        }
        rest.push(name);
    }
}

fn resolve(path: &Path) -> Result<PathBuf, StoreError> {
    resolve_path(path).map_err(io(path))
}

/// Writes a pseudonymised copy of `snapshot` into `out_dir`: `events`,
/// `persons` and `residences` tables with the canonical pseudonym (32 hex
/// digits) in place of the store's internal person ids, plus
/// `export.json`. Refuses a non-empty `out_dir` and any place inside the
/// store; writes into a temporary sibling directory and renames it into
/// place, so a failed export leaves nothing behind.
pub fn export(
    snapshot: &Snapshot,
    format: ExportFormat,
    out_dir: &Path,
) -> Result<ExportSummary, StoreError> {
    let target = resolve(out_dir)?;
    let store_root = resolve(
        snapshot
            .dir()
            .parent()
            .and_then(Path::parent)
            .unwrap_or(snapshot.dir()),
    )?;
    if target.starts_with(&store_root) {
        return Err(StoreError::Target {
            path: out_dir.to_path_buf(),
            message: "refusing to export into the store itself".into(),
        });
    }
    if target
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(StoreError::Target {
            path: out_dir.to_path_buf(),
            message: "cannot resolve the export directory".into(),
        });
    }
    if target.exists() {
        let mut entries = fs::read_dir(&target).map_err(io(out_dir))?;
        if entries.next().is_some() {
            return Err(StoreError::Target {
                path: out_dir.to_path_buf(),
                message:
                    "export directory is not empty; refusing to mix an export with other files"
                        .into(),
            });
        }
    }
    let parent = target.parent().ok_or_else(|| StoreError::Target {
        path: out_dir.to_path_buf(),
        message: "export directory has no parent".into(),
    })?;
    fs::create_dir_all(parent).map_err(io(parent))?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp-{}", uuid::Uuid::new_v4().simple()));
    fs::create_dir(&tmp).map_err(io(&tmp))?;
    let result = write_export(snapshot, format, &tmp);
    let files = match result {
        Ok(files) => files,
        Err(e) => {
            let _ = fsutil::remove_all(&tmp);
            return Err(e);
        }
    };
    let summary = ExportSummary {
        snapshot: snapshot.id().clone(),
        format,
        dir: target.clone(),
        files,
    };
    let meta = tmp.join("export.json");
    fsutil::write_new_synced(&meta, &crate::manifest::to_json(&meta, &summary)?)?;
    fsutil::fsync_dir(&tmp)?;
    if let Err(e) = fs::rename(&tmp, &target) {
        let _ = fsutil::remove_all(&tmp);
        return Err(io(out_dir)(e));
    }
    fsutil::fsync_dir(parent)?;
    tracing::info!(snapshot = %snapshot.id(), dir = %target.display(), "export written");
    Ok(summary)
}

fn drop_person_id(
    b: &RecordBatch,
    prepend: Option<ArrayRef>,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let schema = b.schema();
    let mut fields = Vec::new();
    let mut cols = Vec::new();
    if let Some(p) = prepend {
        fields.push(Field::new("pseudonym", DataType::Utf8, false));
        cols.push(p);
    }
    for (f, c) in schema.fields().iter().zip(b.columns()) {
        if f.name() != "person_id" {
            fields.push(f.as_ref().clone());
            cols.push(c.clone());
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
}

fn write_export(
    snapshot: &Snapshot,
    format: ExportFormat,
    dir: &Path,
) -> Result<Vec<(String, u64)>, StoreError> {
    let ext = format.ext();
    let mut files = Vec::new();

    // Persons and residences already carry the canonical pseudonym.
    let persons = snapshot.persons()?;
    let mut hex: Vec<Option<[u8; 32]>> = vec![None; snapshot.manifest().identities as usize];
    for p in &persons {
        if let Some(slot) = hex.get_mut(p.person_id as usize) {
            *slot = Some(p.person.patient.to_hex_bytes());
        }
    }
    for table in ["persons", "residences"] {
        let src = snapshot.dir().join(format!("{table}.parquet"));
        let path = dir.join(format!("{table}.{ext}"));
        let mut out: Option<Table> = None;
        for b in tables::open_reader(&src, None)? {
            let b = b.map_err(|e| tables::arrow_err(&src, e))?;
            let b = drop_person_id(&b, None).map_err(|e| tables::arrow_err(&src, e))?;
            if out.is_none() {
                out = Some(Table::new(path.clone(), format, &b.schema())?);
            }
            if let Some(t) = out.as_mut() {
                t.write(&b)?;
            }
        }
        let t = match out {
            Some(t) => t,
            None => {
                let schema: SchemaRef = if table == "persons" {
                    tables::PERSONS.clone()
                } else {
                    tables::RESIDENCES.clone()
                };
                let empty = drop_person_id(&RecordBatch::new_empty(schema), None)
                    .map_err(|e| tables::arrow_err(&src, e))?;
                let mut t = Table::new(path.clone(), format, &empty.schema())?;
                t.write(&empty)?;
                t
            }
        };
        files.push(t.finish()?);
    }

    // Events: canonical person id → canonical pseudonym.
    let path = dir.join(format!("events.{ext}"));
    let empty = RecordBatch::new_empty(tables::EVENTS.clone());
    let template = drop_person_id(
        &empty,
        Some(Arc::new(arrow::array::StringArray::from(
            Vec::<String>::new(),
        ))),
    )
    .map_err(|e| tables::arrow_err(&path, e))?;
    let mut t = Table::new(path.clone(), format, &template.schema())?;
    let mut batches = snapshot.events_batches()?;
    while let Some(b) = batches.next_batch()? {
        let seg = batches.current_path();
        let ids = Columns::new(&b, &seg).int64(EventColumn::PersonId)?;
        let mut p = StringBuilder::with_capacity(ids.len(), ids.len() * 32);
        for v in ids.values().iter() {
            let h = usize::try_from(*v)
                .ok()
                .and_then(|i| hex.get(i).copied().flatten())
                .ok_or_else(|| StoreError::Corrupt {
                    path: seg.clone(),
                    message: format!("person_id {v} has no person"),
                })?;
            p.append_value(std::str::from_utf8(&h).unwrap_or_default());
        }
        let out = drop_person_id(&b, Some(Arc::new(p.finish())))
            .map_err(|e| tables::arrow_err(&seg, e))?;
        t.write(&out)?;
    }
    if t.rows == 0 {
        t.write(&template)?;
    }
    files.push(t.finish()?);
    Ok(files)
}
