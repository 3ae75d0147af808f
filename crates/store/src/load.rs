//! Writing a load: staging, identity ids, alias resolution, commit.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow::array::RecordBatch;
use halsohub_identity::Pseudonym;
use parquet::arrow::ArrowWriter;

use crate::fsutil::{self, io};
use crate::manifest::{self, DateRange, FORMAT_VERSION, Manifest, ManifestSource, Segment};
use crate::model::{Alias, Domain, Event, Person, Residence};
use crate::tables::{self, EVENTS, QUARANTINE};
use crate::{
    CURRENT, QuarantineRecord, SNAPSHOTS, SnapshotId, SourceFile, Store, StoreError, StoredPerson,
    StoredResidence, TMP, date_from_days, days_from_date, failpoint,
};

/// Rows per event segment file (a few row groups each).
const SEGMENT_ROWS: u64 = 8 << 20;
/// Batches queued for the background Parquet writer.
const QUEUE: usize = 4;

type SinkResult = Result<Vec<(String, u64)>, StoreError>;

/// Background thread that encodes event batches into segment files.
struct Sink {
    tx: SyncSender<RecordBatch>,
    handle: JoinHandle<SinkResult>,
}

fn run_sink(dir: PathBuf, rx: Receiver<RecordBatch>) -> SinkResult {
    let mut done = Vec::new();
    let mut cur: Option<(String, PathBuf, ArrowWriter<File>, u64)> = None;
    for batch in rx {
        if cur.is_none() {
            let name = format!("part-{:05}.parquet", done.len());
            let path = dir.join(&name);
            let w = tables::create_writer(&path, &EVENTS)?;
            cur = Some((name, path, w, 0));
        }
        let Some((name, path, w, rows)) = cur.as_mut() else {
            continue;
        };
        w.write(&batch).map_err(|e| tables::parquet_err(path, e))?;
        *rows += batch.num_rows() as u64;
        if *rows >= SEGMENT_ROWS {
            let rows = *rows;
            let name = name.clone();
            if let Some((_, path, w, _)) = cur.take() {
                tables::close_writer(&path, w)?;
            }
            done.push((name, rows));
        }
    }
    if let Some((name, path, w, rows)) = cur.take() {
        tables::close_writer(&path, w)?;
        done.push((name, rows));
    }
    Ok(done)
}

/// Collects one load's data in a staging area. `Send`, so ingest may move it
/// between threads; wrap it in a mutex or feed it through a channel to write
/// from several threads.
///
/// Events are converted to Arrow in the calling thread and encoded to
/// Parquet in a background thread, so memory stays bounded by a few batches.
/// Persons, residences and aliases are kept in memory until commit (they are
/// small). Dropping the writer without committing removes the staging.
pub struct LoadWriter {
    root: PathBuf,
    fingerprint: String,
    _lock: File,
    staging: PathBuf,
    parent: Option<Manifest>,
    ids: HashMap<Pseudonym, u32>,
    pseudonyms: Vec<Pseudonym>,
    prev_canonical: Vec<u32>,
    prev_persons: Vec<StoredPerson>,
    prev_residences: Vec<StoredResidence>,
    /// First and last event day of this load's events, per person id.
    first: Vec<i32>,
    last: Vec<i32>,
    counts: Vec<(Domain, String, u64)>,
    events: u64,
    sources: Vec<SourceFile>,
    persons: Vec<(u32, Person)>,
    residences: Vec<(u32, Residence)>,
    alias_map: HashMap<Pseudonym, Pseudonym>,
    quarantine: Option<ArrowWriter<File>>,
    quarantined: u64,
    sink: Option<Sink>,
    id_buf: Vec<u32>,
    finished: bool,
}

impl Store {
    /// Begin a load. Nothing is visible to readers until
    /// [`LoadWriter::commit`]; dropping the writer (or a crash) leaves the
    /// current snapshot as it was. Only one load runs at a time
    /// ([`StoreError::Busy`] otherwise); leftovers of crashed loads are
    /// removed first.
    pub fn begin_load(&self) -> Result<LoadWriter, StoreError> {
        let lock = self.try_lock()?.ok_or_else(|| StoreError::Busy {
            path: self.root.join(crate::LOCK),
        })?;
        self.clean()?;
        let parent = match self.current()? {
            Some(id) => Some(self.read_manifest(&id)?),
            None => None,
        };
        let mut w = LoadWriter {
            root: self.root.clone(),
            fingerprint: self.meta.key_fingerprint.clone(),
            _lock: lock,
            staging: self
                .root
                .join(TMP)
                .join(uuid::Uuid::new_v4().simple().to_string()),
            parent: None,
            ids: HashMap::new(),
            pseudonyms: Vec::new(),
            prev_canonical: Vec::new(),
            prev_persons: Vec::new(),
            prev_residences: Vec::new(),
            first: Vec::new(),
            last: Vec::new(),
            counts: Vec::new(),
            events: 0,
            sources: Vec::new(),
            persons: Vec::new(),
            residences: Vec::new(),
            alias_map: HashMap::new(),
            quarantine: None,
            quarantined: 0,
            sink: None,
            id_buf: Vec::new(),
            finished: false,
        };
        if let Some(m) = &parent {
            let dir = self.snapshot_dir(&m.id);
            let (pseudonyms, canonical) = tables::read_identities(&dir.join("identities.parquet"))?;
            w.ids.reserve(pseudonyms.len());
            for (i, p) in pseudonyms.iter().enumerate() {
                w.ids.insert(*p, i as u32);
            }
            w.first = vec![i32::MAX; pseudonyms.len()];
            w.last = vec![i32::MIN; pseudonyms.len()];
            w.pseudonyms = pseudonyms;
            w.prev_canonical = canonical;
            w.prev_persons = tables::read_persons(&dir.join("persons.parquet"))?;
            w.prev_residences = tables::read_residences(&dir.join("residences.parquet"))?;
            for (old, new) in tables::read_aliases(&dir.join("aliases.parquet"))? {
                w.intern(old)?;
                w.intern(new)?;
                w.alias_map.insert(old, new);
            }
        }
        w.parent = parent;
        let events_dir = w.staging.join("events");
        fs::create_dir_all(&events_dir).map_err(io(&events_dir))?;
        let (tx, rx) = sync_channel(QUEUE);
        let handle = std::thread::Builder::new()
            .name("store-events".into())
            .spawn(move || run_sink(events_dir, rx))
            .map_err(io(&w.staging))?;
        w.sink = Some(Sink { tx, handle });
        tracing::debug!(staging = %w.staging.display(), "load started");
        Ok(w)
    }
}

impl LoadWriter {
    fn intern(&mut self, p: Pseudonym) -> Result<u32, StoreError> {
        if let Some(&id) = self.ids.get(&p) {
            return Ok(id);
        }
        let id = u32::try_from(self.pseudonyms.len())
            .ok()
            .filter(|&id| id < u32::MAX)
            .ok_or_else(|| StoreError::Corrupt {
                path: self.root.clone(),
                message: "more than 4 294 967 294 pseudonyms: person ids exhausted".into(),
            })?;
        self.ids.insert(p, id);
        self.pseudonyms.push(p);
        self.first.push(i32::MAX);
        self.last.push(i32::MIN);
        Ok(id)
    }

    fn sink_failed(&mut self) -> StoreError {
        match self.sink.take() {
            Some(s) => {
                drop(s.tx);
                match s.handle.join() {
                    Ok(Err(e)) => e,
                    Ok(Ok(_)) | Err(_) => StoreError::Corrupt {
                        path: self.staging.clone(),
                        message: "the event writer thread stopped unexpectedly".into(),
                    },
                }
            }
            None => StoreError::Corrupt {
                path: self.staging.clone(),
                message: "the event writer has already failed".into(),
            },
        }
    }

    /// Records a source file read by this load. Refuses
    /// ([`StoreError::DuplicateSource`]) a file whose content is already in
    /// the store or already added to this load.
    pub fn add_source(&mut self, source: SourceFile) -> Result<(), StoreError> {
        let dup = self
            .parent
            .as_ref()
            .is_some_and(|m| m.has_source(&source.sha256))
            || self
                .sources
                .iter()
                .any(|s| s.sha256.eq_ignore_ascii_case(&source.sha256));
        if dup {
            return Err(StoreError::DuplicateSource {
                path: self.root.clone(),
                source_path: source.path,
                sha256: source.sha256,
            });
        }
        self.sources.push(source);
        Ok(())
    }

    /// Appends events. They are encoded to Parquet in the background.
    pub fn write_events(&mut self, events: &[Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut ids = std::mem::take(&mut self.id_buf);
        ids.clear();
        for e in events {
            let id = self.intern(e.patient)?;
            ids.push(id);
            let start = days_from_date(e.start);
            let end = e.end.map_or(start, |d| days_from_date(d).max(start));
            let i = id as usize;
            if let (Some(f), Some(l)) = (self.first.get_mut(i), self.last.get_mut(i)) {
                *f = (*f).min(start);
                *l = (*l).max(end);
            }
            match self
                .counts
                .iter_mut()
                .find(|(d, s, _)| *d == e.domain && *s == e.source)
            {
                Some((_, _, n)) => *n += 1,
                None => self.counts.push((e.domain, e.source.clone(), 1)),
            }
        }
        let batch =
            tables::events_batch(events, &ids).map_err(|e| tables::arrow_err(&self.staging, e));
        self.id_buf = ids;
        let batch = batch?;
        let sent = match &self.sink {
            Some(s) => s.tx.send(batch).is_ok(),
            None => false,
        };
        if !sent {
            return Err(self.sink_failed());
        }
        self.events += events.len() as u64;
        Ok(())
    }

    /// Records population-register data. Later records replace earlier
    /// values field by field when the new value is present.
    pub fn write_persons(&mut self, persons: &[Person]) -> Result<(), StoreError> {
        for p in persons {
            let id = self.intern(p.patient)?;
            self.persons.push((id, p.clone()));
        }
        Ok(())
    }

    /// Records residence periods. A period with the same person and start as
    /// an earlier one replaces it; the rest accumulate.
    pub fn write_residences(&mut self, residences: &[Residence]) -> Result<(), StoreError> {
        for r in residences {
            let id = self.intern(r.patient)?;
            self.residences.push((id, r.clone()));
        }
        Ok(())
    }

    /// Records aliases (old → new pseudonym). Refuses an alias that points an
    /// old pseudonym at a second, different successor, or that closes a
    /// cycle; repeating a known alias is harmless.
    pub fn write_aliases(&mut self, aliases: &[Alias]) -> Result<(), StoreError> {
        for a in aliases {
            if let Some(existing) = self.alias_map.get(&a.old) {
                if *existing == a.new {
                    continue;
                }
                return Err(StoreError::Alias {
                    path: self.root.clone(),
                    message: format!(
                        "pseudonym {} already points to {}, now to {}: one identity cannot have two successors",
                        a.old, existing, a.new
                    ),
                });
            }
            // Walk the chain from `new`; reaching `old` would close a cycle.
            let mut cur = a.new;
            let mut steps = 0usize;
            loop {
                if cur == a.old {
                    return Err(StoreError::Alias {
                        path: self.root.clone(),
                        message: format!(
                            "alias {} -> {} closes a cycle of changed identities",
                            a.old, a.new
                        ),
                    });
                }
                match self.alias_map.get(&cur) {
                    Some(next) if steps <= self.alias_map.len() => {
                        cur = *next;
                        steps += 1;
                    }
                    _ => break,
                }
            }
            self.intern(a.old)?;
            self.intern(a.new)?;
            self.alias_map.insert(a.old, a.new);
        }
        Ok(())
    }

    /// Appends quarantined rows (stored as `quarantine.parquet` with the
    /// snapshot).
    pub fn write_quarantine(&mut self, rows: &[QuarantineRecord]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let path = self.staging.join("quarantine.parquet");
        let batch = tables::quarantine_batch(rows).map_err(|e| tables::arrow_err(&path, e))?;
        if self.quarantine.is_none() {
            self.quarantine = Some(tables::create_writer(&path, &QUARANTINE)?);
        }
        if let Some(w) = self.quarantine.as_mut() {
            w.write(&batch).map_err(|e| tables::parquet_err(&path, e))?;
        }
        self.quarantined += rows.len() as u64;
        Ok(())
    }

    /// Publish the load as a new snapshot, atomically. `report` is the load
    /// report (JSON), stored with the snapshot.
    pub fn commit(mut self, report: serde_json::Value) -> Result<SnapshotId, StoreError> {
        let result = self.commit_inner(report);
        if result.is_ok() {
            self.finished = true;
        }
        result
    }

    fn commit_inner(&mut self, report: serde_json::Value) -> Result<SnapshotId, StoreError> {
        // Defence in depth: the sources must still be new.
        if let Some(m) = &self.parent
            && let Some(s) = self.sources.iter().find(|s| m.has_source(&s.sha256))
        {
            return Err(StoreError::DuplicateSource {
                path: self.root.clone(),
                source_path: s.path.clone(),
                sha256: s.sha256.clone(),
            });
        }
        let number = self
            .parent
            .as_ref()
            .map_or(Some(0), |m| m.id.number())
            .and_then(|n| n.checked_add(1))
            .ok_or_else(|| StoreError::Corrupt {
                path: self.root.join(CURRENT),
                message: "current snapshot id is not well-formed".into(),
            })?;
        let id = SnapshotId::from_number(number);

        // 1. Finish the event segments and the quarantine.
        let sink = self.sink.take().ok_or_else(|| StoreError::Corrupt {
            path: self.staging.clone(),
            message: "the event writer has already failed".into(),
        })?;
        drop(sink.tx);
        let written = sink.handle.join().map_err(|_| StoreError::Corrupt {
            path: self.staging.clone(),
            message: "the event writer thread panicked".into(),
        })??;
        let q_path = self.staging.join("quarantine.parquet");
        match self.quarantine.take() {
            Some(w) => tables::close_writer(&q_path, w)?,
            None => tables::write_table(
                &q_path,
                &tables::quarantine_batch(&[]).map_err(|e| tables::arrow_err(&q_path, e))?,
            )?,
        }

        // 2. Resolve identities to canonical persons.
        let canonical = self.resolve()?;
        let n = self.pseudonyms.len();
        let mut root_of = vec![u32::MAX; n];
        for (i, p) in self.pseudonyms.iter().enumerate() {
            if !self.alias_map.contains_key(p) {
                let r = canonical[i] as usize;
                if let Some(slot) = root_of.get_mut(r) {
                    *slot = i as u32;
                }
            }
        }
        for (i, &c) in canonical.iter().enumerate() {
            if c as usize == i && root_of.get(i).is_none_or(|&r| r == u32::MAX) {
                return Err(StoreError::Alias {
                    path: self.root.clone(),
                    message: format!(
                        "the aliases of pseudonym {} form a cycle",
                        self.pseudonyms[i]
                    ),
                });
            }
        }
        let root_pseudonym = |c: u32| -> Pseudonym {
            let r = root_of[c as usize] as usize;
            self.pseudonyms[r]
        };

        // 3. Persons, merged field by field.
        #[derive(Clone, Copy)]
        struct Acc {
            sex: Option<char>,
            birth: Option<chrono::NaiveDate>,
            death: Option<chrono::NaiveDate>,
            first: i32,
            last: i32,
        }
        let mut acc = vec![
            Acc {
                sex: None,
                birth: None,
                death: None,
                first: i32::MAX,
                last: i32::MIN,
            };
            n
        ];
        for ((&c, &first), &last) in canonical.iter().zip(&self.first).zip(&self.last).take(n) {
            let c = c as usize;
            acc[c].first = acc[c].first.min(first);
            acc[c].last = acc[c].last.max(last);
        }
        fn apply(a: &mut Acc, p: &Person) {
            if p.sex.is_some() {
                a.sex = p.sex;
            }
            if p.birth_date.is_some() {
                a.birth = p.birth_date;
            }
            if p.death_date.is_some() {
                a.death = p.death_date;
            }
        }
        let prev_persons = std::mem::take(&mut self.prev_persons);
        for pass_root in [false, true] {
            for sp in &prev_persons {
                let c =
                    *canonical
                        .get(sp.person_id as usize)
                        .ok_or_else(|| StoreError::Corrupt {
                            path: self.root.clone(),
                            message: format!(
                                "persons table names unknown person id {}",
                                sp.person_id
                            ),
                        })? as usize;
                let is_root = root_pseudonym(c as u32) == sp.person.patient;
                if is_root != pass_root {
                    continue;
                }
                apply(&mut acc[c], &sp.person);
            }
        }
        for sp in &prev_persons {
            let c = canonical[sp.person_id as usize] as usize;
            if let Some(f) = sp.first_event {
                acc[c].first = acc[c].first.min(days_from_date(f));
            }
            if let Some(l) = sp.last_event {
                acc[c].last = acc[c].last.max(days_from_date(l));
            }
        }
        for (id, p) in &self.persons {
            apply(&mut acc[canonical[*id as usize] as usize], p);
        }
        let mut persons = Vec::new();
        let mut patients = 0u64;
        let (mut first_all, mut last_all) = (i32::MAX, i32::MIN);
        for (i, a) in acc.iter().enumerate() {
            if canonical[i] as usize != i {
                continue;
            }
            let has_events = a.first != i32::MAX;
            if has_events {
                patients += 1;
                first_all = first_all.min(a.first);
                last_all = last_all.max(a.last);
            }
            persons.push(StoredPerson {
                person_id: i as u32,
                person: Person {
                    patient: root_pseudonym(i as u32),
                    sex: a.sex,
                    birth_date: a.birth,
                    death_date: a.death,
                },
                first_event: if has_events {
                    date_from_days(a.first)
                } else {
                    None
                },
                last_event: if has_events {
                    date_from_days(a.last)
                } else {
                    None
                },
            });
        }

        // 4. Residences: previous plus new, by (person, from); later wins.
        let mut res: Vec<(u32, i32, usize, Residence)> = Vec::new();
        let prev_res = std::mem::take(&mut self.prev_residences);
        let mut seq = 0usize;
        for r in prev_res {
            let c = *canonical
                .get(r.person_id as usize)
                .ok_or_else(|| StoreError::Corrupt {
                    path: self.root.clone(),
                    message: format!("residences table names unknown person id {}", r.person_id),
                })?;
            res.push((c, days_from_date(r.residence.from), seq, r.residence));
            seq += 1;
        }
        for (id, r) in std::mem::take(&mut self.residences) {
            let c = canonical[id as usize];
            res.push((c, days_from_date(r.from), seq, r));
            seq += 1;
        }
        res.sort_by_key(|(c, from, seq, _)| (*c, *from, *seq));
        let mut residences: Vec<StoredResidence> = Vec::with_capacity(res.len());
        let mut last_key = None;
        for (c, from, _, mut r) in res {
            r.patient = root_pseudonym(c);
            let row = StoredResidence {
                person_id: c,
                residence: r,
            };
            if last_key == Some((c, from)) {
                if let Some(slot) = residences.last_mut() {
                    *slot = row;
                }
            } else {
                residences.push(row);
                last_key = Some((c, from));
            }
        }

        // 5. Write the tables.
        let st = self.staging.clone();
        let p = st.join("persons.parquet");
        tables::write_table(
            &p,
            &tables::persons_batch(&persons).map_err(|e| tables::arrow_err(&p, e))?,
        )?;
        let p = st.join("residences.parquet");
        tables::write_table(
            &p,
            &tables::residences_batch(&residences).map_err(|e| tables::arrow_err(&p, e))?,
        )?;
        let mut aliases: Vec<(Pseudonym, Pseudonym)> =
            self.alias_map.iter().map(|(o, n)| (*o, *n)).collect();
        aliases.sort();
        let p = st.join("aliases.parquet");
        tables::write_table(
            &p,
            &tables::aliases_batch(&aliases).map_err(|e| tables::arrow_err(&p, e))?,
        )?;
        let p = st.join("identities.parquet");
        tables::write_table(
            &p,
            &tables::identities_batch(&self.pseudonyms, &canonical)
                .map_err(|e| tables::arrow_err(&p, e))?,
        )?;

        // 6. Manifest and load report.
        let parent = self.parent.take();
        let mut rows: BTreeMap<Domain, BTreeMap<String, u64>> =
            parent.as_ref().map(|m| m.rows.clone()).unwrap_or_default();
        for (d, s, k) in &self.counts {
            *rows.entry(*d).or_default().entry(s.clone()).or_default() += k;
        }
        let mut sources = parent
            .as_ref()
            .map(|m| m.sources.clone())
            .unwrap_or_default();
        sources.extend(self.sources.iter().map(|s| ManifestSource {
            file: s.clone(),
            snapshot: id.clone(),
        }));
        let mut segments = parent
            .as_ref()
            .map(|m| m.segments.clone())
            .unwrap_or_default();
        segments.extend(written.iter().map(|(name, rows)| Segment {
            path: format!("{SNAPSHOTS}/{id}/events/{name}"),
            rows: *rows,
            snapshot: id.clone(),
        }));
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            id: id.clone(),
            parent: parent.as_ref().map(|m| m.id.clone()),
            created: chrono::Utc::now(),
            key_fingerprint: self.fingerprint.clone(),
            sources,
            events: parent.as_ref().map_or(0, |m| m.events) + self.events,
            segments,
            rows,
            persons: persons.len() as u64,
            patients,
            identities: n as u64,
            merged_identities: canonical
                .iter()
                .enumerate()
                .filter(|(i, c)| **c as usize != *i)
                .count() as u64,
            residences: residences.len() as u64,
            aliases: aliases.len() as u64,
            quarantined: self.quarantined,
            date_range: match (date_from_days(first_all), date_from_days(last_all)) {
                (Some(first), Some(last)) if first_all <= last_all => {
                    Some(DateRange { first, last })
                }
                _ => None,
            },
        };
        let p = st.join("load_report.json");
        fsutil::write_new_synced(&p, &manifest::to_json(&p, &report)?)?;
        let p = st.join("manifest.json");
        fsutil::write_new_synced(&p, &manifest::to_json(&p, &manifest)?)?;
        fsutil::fsync_dir(&st.join("events"))?;
        fsutil::fsync_dir(&st)?;

        // 7. Publish: rename the staging into place, then switch CURRENT.
        failpoint("before_rename");
        let snaps = self.root.join(SNAPSHOTS);
        let target = snaps.join(&id.0);
        if target.exists() {
            return Err(StoreError::Corrupt {
                path: target,
                message: "a snapshot directory with the next id already exists".into(),
            });
        }
        fs::rename(&st, &target).map_err(io(&target))?;
        fsutil::fsync_dir(&snaps)?;
        failpoint("after_rename");
        fsutil::write_atomic(&self.root.join(CURRENT), format!("{id}\n").as_bytes())?;
        tracing::info!(
            snapshot = %id,
            events = self.events,
            sources = self.sources.len(),
            quarantined = self.quarantined,
            "snapshot committed"
        );
        Ok(id)
    }

    /// Canonical person id of every person id: the smallest id among the
    /// pseudonyms linked by aliases (union-find).
    fn resolve(&self) -> Result<Vec<u32>, StoreError> {
        let n = self.pseudonyms.len();
        let mut parent: Vec<u32> = (0..n as u32).collect();
        fn find(parent: &mut [u32], mut x: u32) -> u32 {
            while parent[x as usize] != x {
                let up = parent[parent[x as usize] as usize];
                parent[x as usize] = up;
                x = up;
            }
            x
        }
        fn union(parent: &mut [u32], a: u32, b: u32) {
            let (ra, rb) = (find(parent, a), find(parent, b));
            if ra < rb {
                parent[rb as usize] = ra;
            } else if rb < ra {
                parent[ra as usize] = rb;
            }
        }
        for (i, &c) in self.prev_canonical.iter().enumerate() {
            if c as usize >= n {
                return Err(StoreError::Corrupt {
                    path: self.root.clone(),
                    message: format!("identities table names unknown canonical id {c}"),
                });
            }
            union(&mut parent, i as u32, c);
        }
        for (old, new) in &self.alias_map {
            if let (Some(&a), Some(&b)) = (self.ids.get(old), self.ids.get(new)) {
                union(&mut parent, a, b);
            }
        }
        Ok((0..n as u32).map(|i| find(&mut parent, i)).collect())
    }
}

impl Drop for LoadWriter {
    fn drop(&mut self) {
        if let Some(s) = self.sink.take() {
            drop(s.tx);
            let _ = s.handle.join();
        }
        self.quarantine.take();
        if !self.finished {
            if let Err(e) = fsutil::remove_all(&self.staging) {
                tracing::warn!(error = %e, "could not remove the staging of an abandoned load");
            } else {
                tracing::info!("load abandoned; store unchanged");
            }
        }
    }
}
