//! Reading one snapshot.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch};
use halsohub_identity::Pseudonym;
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;

use crate::columns::{Columns, EventColumn};
use crate::manifest::{self, Manifest};
use crate::model::{Alias, Event};
use crate::tables;
use crate::{QuarantineRecord, SNAPSHOTS, SnapshotId, StoreError, StoredPerson, StoredResidence};

/// One committed, immutable snapshot. Holding it keeps reading exactly this
/// snapshot, whatever loads commit meanwhile.
#[derive(Debug, Clone)]
pub struct Snapshot {
    root: PathBuf,
    dir: PathBuf,
    manifest: Manifest,
}

impl Snapshot {
    pub(crate) fn new(root: PathBuf, dir: PathBuf, manifest: Manifest) -> Snapshot {
        Snapshot {
            root,
            dir,
            manifest,
        }
    }

    pub fn id(&self) -> &SnapshotId {
        &self.manifest.id
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The directory of the store this snapshot belongs to.
    pub fn store_root(&self) -> &Path {
        &self.root
    }

    /// The snapshot's directory (`STORE/snapshots/<id>`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Absolute paths of the event segments, in order.
    pub fn segment_paths(&self) -> Result<Vec<PathBuf>, StoreError> {
        self.manifest
            .segments
            .iter()
            .map(|s| {
                let rel = Path::new(&s.path);
                let safe = rel.components().all(|c| matches!(c, Component::Normal(_)));
                if !safe {
                    return Err(StoreError::Corrupt {
                        path: self.dir.join("manifest.json"),
                        message: format!("segment path `{}` leaves the store", s.path),
                    });
                }
                Ok(self.root.join(rel))
            })
            .collect()
    }

    /// All events as Arrow record batches with canonical `person_id`s, in the
    /// schema of the segments (see the crate docs); columns a segment was
    /// written without (nullable ones added later) come back as nulls.
    pub fn events_batches(&self) -> Result<EventBatches, StoreError> {
        self.batches(None)
    }

    /// The events' `columns` only (a projection: nothing else is decoded),
    /// with canonical `person_id`s; read them with
    /// [`Columns`](crate::columns::Columns). A nullable column a segment
    /// was written without is absent from its batches (the `opt_` getters
    /// give `None`).
    pub fn event_columns(&self, columns: &[EventColumn]) -> Result<EventBatches, StoreError> {
        self.batches(Some(columns))
    }

    fn batches(&self, columns: Option<&[EventColumn]>) -> Result<EventBatches, StoreError> {
        let remap = if self.manifest.merged_identities > 0
            && columns.is_none_or(|c| c.contains(&EventColumn::PersonId))
        {
            Some(Arc::new(tables::read_canonical(
                &self.dir.join("identities.parquet"),
            )?))
        } else {
            None
        };
        Ok(EventBatches {
            segments: self.segment_paths()?.into_iter().rev().collect(),
            columns: columns.map(<[EventColumn]>::to_vec),
            current: None,
            remap,
        })
    }

    /// All events decoded into [`Event`]s under their canonical pseudonym,
    /// with the canonical person id. Convenient for small snapshots and
    /// tests; large readers use [`Snapshot::events_batches`].
    pub fn events(&self) -> Result<Vec<(u32, Event)>, StoreError> {
        let persons = self.persons()?;
        let mut by_id = vec![None; self.manifest.identities as usize];
        for p in &persons {
            if let Some(slot) = by_id.get_mut(p.person_id as usize) {
                *slot = Some(p.person.patient);
            }
        }
        let lookup = |id: u32| -> Option<Pseudonym> { by_id.get(id as usize).copied().flatten() };
        let mut out = Vec::new();
        let mut batches = self.events_batches()?;
        while let Some(b) = batches.next_batch()? {
            let path = batches.current_path();
            out.extend(tables::events_from_batch(&b, &path, &lookup)?);
        }
        Ok(out)
    }

    /// Canonical persons, by person id.
    pub fn persons(&self) -> Result<Vec<StoredPerson>, StoreError> {
        tables::read_persons(&self.dir.join("persons.parquet"))
    }

    /// Residence periods with canonical person ids.
    pub fn residences(&self) -> Result<Vec<StoredResidence>, StoreError> {
        tables::read_residences(&self.dir.join("residences.parquet"))
    }

    /// All aliases known to the snapshot.
    pub fn aliases(&self) -> Result<Vec<Alias>, StoreError> {
        Ok(tables::read_aliases(&self.dir.join("aliases.parquet"))?
            .into_iter()
            .map(|(old, new)| Alias { old, new })
            .collect())
    }

    /// Every pseudonym with its person id (the index) and canonical person id.
    pub fn identities(&self) -> Result<Vec<(Pseudonym, u32)>, StoreError> {
        let (p, c) = tables::read_identities(&self.dir.join("identities.parquet"))?;
        Ok(p.into_iter().zip(c).collect())
    }

    /// Rows quarantined by this snapshot's own load.
    pub fn quarantine(&self) -> Result<Vec<QuarantineRecord>, StoreError> {
        tables::read_quarantine(&self.dir.join("quarantine.parquet"))
    }

    /// The load report of this snapshot's own load.
    pub fn load_report(&self) -> Result<serde_json::Value, StoreError> {
        manifest::read_json(&self.dir.join("load_report.json"))
    }

    /// Load reports of this snapshot and all its ancestors, oldest first.
    pub fn load_reports(&self) -> Result<Vec<(SnapshotId, serde_json::Value)>, StoreError> {
        let mut out = vec![(self.manifest.id.clone(), self.load_report()?)];
        let mut next = self.manifest.parent.clone();
        while let Some(id) = next {
            if id.number().is_none() || out.len() > 1_000_000 {
                return Err(StoreError::Corrupt {
                    path: self.dir.join("manifest.json"),
                    message: format!("bad parent chain at `{id}`"),
                });
            }
            let dir = self.root.join(SNAPSHOTS).join(&id.0);
            let m: Manifest = manifest::read_json(&dir.join("manifest.json"))?;
            out.push((
                id.clone(),
                manifest::read_json(&dir.join("load_report.json"))?,
            ));
            next = m.parent;
        }
        out.reverse();
        Ok(out)
    }
}

/// Iterator over a snapshot's event batches, segment by segment.
pub struct EventBatches {
    /// Remaining segments, last first.
    segments: Vec<PathBuf>,
    columns: Option<Vec<EventColumn>>,
    current: Option<(PathBuf, ParquetRecordBatchReader)>,
    remap: Option<Arc<Vec<u32>>>,
}

impl EventBatches {
    /// The segment the last batch came from.
    pub fn current_path(&self) -> PathBuf {
        self.current
            .as_ref()
            .map(|(p, _)| p.clone())
            .unwrap_or_default()
    }

    /// The next batch, or `None` at the end.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, StoreError> {
        loop {
            if let Some((path, reader)) = self.current.as_mut() {
                match reader.next() {
                    Some(Ok(b)) => {
                        let b = if self.columns.is_none() {
                            tables::conform(b, &tables::EVENTS, path)?
                        } else {
                            b
                        };
                        return self.remap(b).map(Some);
                    }
                    Some(Err(e)) => return Err(tables::arrow_err(path, e)),
                    None => {}
                }
            }
            let Some(next) = self.segments.pop() else {
                self.current = None;
                return Ok(None);
            };
            let reader = match &self.columns {
                Some(cols) => tables::open_events(&next, cols)?,
                None => tables::open_reader(&next, None)?,
            };
            self.current = Some((next, reader));
        }
    }

    fn remap(&self, b: RecordBatch) -> Result<RecordBatch, StoreError> {
        let Some(remap) = &self.remap else {
            return Ok(b);
        };
        let path = self.current_path();
        let Some(idx) = b.schema().index_of("person_id").ok() else {
            return Ok(b);
        };
        let ids = Columns::new(&b, &path).int64(EventColumn::PersonId)?;
        let mut out = Vec::with_capacity(ids.len());
        for v in ids.values().iter() {
            let c = usize::try_from(*v)
                .ok()
                .and_then(|i| remap.get(i))
                .ok_or_else(|| StoreError::Corrupt {
                    path: path.clone(),
                    message: format!("person_id {v} is not in the identities table"),
                })?;
            out.push(i64::from(*c));
        }
        let mut cols: Vec<ArrayRef> = b.columns().to_vec();
        if let Some(slot) = cols.get_mut(idx) {
            *slot = Arc::new(Int64Array::from(out));
        }
        RecordBatch::try_new(b.schema(), cols).map_err(|e| tables::arrow_err(&path, e))
    }
}

impl Iterator for EventBatches {
    type Item = Result<RecordBatch, StoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().transpose()
    }
}
