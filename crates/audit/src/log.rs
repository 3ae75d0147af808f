//! The appender: adds commitments to a log directory, writes the tiles and
//! entry bundles they complete or extend, and publishes a new signed
//! checkpoint.
//!
//! Crash safety. An append writes every new file atomically (temporary
//! file, fsync, rename, fsync of the directory): entry bundles first, then
//! tiles level by level, and last the checkpoint, which is the commit point.
//! What the checkpoint covers was durable before it was written; whatever
//! an interrupted append wrote beyond it is not acknowledged. Opening a log
//! therefore (1) removes temporary files, (2) removes every tile and bundle
//! beyond the checkpoint's size, (3) checks the tiles the checkpoint depends
//! on (the right edge of each level and the last full tile of each level)
//! against the checkpoint's root and the entry bundles, and if any is
//! missing or damaged rebuilds every tile from the entry bundles and checks
//! again. Tiles are only ever extended: a published file is never rewritten
//! with other bytes, except to repair one whose bytes are damaged.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;
use tracing::{info, warn};

use crate::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use crate::entry::Commitment;
use crate::hash::{HASH_SIZE, Hash, empty_root};
use crate::merkle::{self, HashSource, ProofError};
use crate::note::NoteSigner;
use crate::tile::{
    MAX_TILE_LEVEL, TILE_HEIGHT, TILE_WIDTH, TileDir, TileError, TileId, TileKind, TileReader,
    encode_bundle, encode_hashes, hashes_at_level, io_err, tile_in_tree, tile_root, tiles_for,
};

/// The file holding the current signed checkpoint.
pub const CHECKPOINT_FILE: &str = "checkpoint";
/// The lock file that keeps a second appender out.
pub const LOCK_FILE: &str = ".lock";

/// Why the log could not be opened or appended to.
#[derive(Debug, Error)]
pub enum LogError {
    #[error(transparent)]
    Tile(#[from] TileError),
    #[error("the checkpoint of {dir}: {source}")]
    Checkpoint {
        dir: PathBuf,
        #[source]
        source: CheckpointError,
    },
    #[error("{0} already holds a log (a checkpoint file)")]
    AlreadyExists(PathBuf),
    #[error("{0} holds no log (no checkpoint file)")]
    NotALog(PathBuf),
    #[error("another process is appending to the log in {0}")]
    Locked(PathBuf),
    #[error("the log would exceed 2^64 entries")]
    TooLarge,
    #[error("the log in {dir} cannot be recovered: {why}")]
    Unrecoverable { dir: PathBuf, why: String },
    #[error("an earlier append failed; reopen the log to recover it")]
    Poisoned,
    #[error("simulated crash")]
    #[cfg(test)]
    Crashed,
}

/// An open log directory that this process appends to (it holds the lock).
#[derive(Debug)]
pub struct Appender {
    dir: TileDir,
    signer: NoteSigner,
    size: u64,
    /// `edge[L]`: the hashes of the partial tile at level L (fewer than 256).
    edge: Vec<Vec<Hash>>,
    /// The entries of the partial entry bundle.
    bundle: Vec<Commitment>,
    checkpoint: SignedCheckpoint,
    poisoned: bool,
    _lock: File,
    #[cfg(test)]
    crash_before_file: Option<usize>,
}

/// What an append did.
#[derive(Debug, Clone)]
pub struct Appended {
    /// Index of the first appended entry; the rest follow in order.
    pub first_index: u64,
    /// The new checkpoint, covering the appended entries.
    pub checkpoint: SignedCheckpoint,
}

fn lock(root: &Path) -> Result<File, LogError> {
    let path = root.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| LogError::Tile(io_err(&path)(e)))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(LogError::Locked(root.to_owned())),
        Err(fs::TryLockError::Error(e)) => Err(LogError::Tile(io_err(&path)(e))),
    }
}

/// Reads the current checkpoint file of a log directory.
pub fn read_checkpoint(root: &Path) -> Result<String, LogError> {
    let path = root.join(CHECKPOINT_FILE);
    match fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| LogError::Checkpoint {
            dir: root.to_owned(),
            source: CheckpointError::Malformed("the checkpoint file is not UTF-8"),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(LogError::NotALog(root.to_owned())),
        Err(e) => Err(LogError::Tile(io_err(&path)(e))),
    }
}

/// The tree's right edge in memory: serves exactly the complete subtrees a
/// tree head needs.
struct EdgeSource<'a> {
    edge: &'a [Vec<Hash>],
    size: u64,
}

impl HashSource for EdgeSource<'_> {
    type Error = ProofError;

    fn node(&mut self, level: u8, index: u64) -> Result<Hash, ProofError> {
        let missing = ProofError::NoSuchNode { level, index };
        let tile_level = level / TILE_HEIGHT;
        let within = level % TILE_HEIGHT;
        let first = index
            .checked_shl(u32::from(within))
            .ok_or(missing.clone())?;
        let start = hashes_at_level(self.size, tile_level) / TILE_WIDTH * TILE_WIDTH;
        let offset = first.checked_sub(start).ok_or(missing.clone())? as usize;
        self.edge
            .get(usize::from(tile_level))
            .and_then(|hashes| hashes.get(offset..offset + (1usize << within)))
            .map(tile_root)
            .ok_or(missing)
    }
}

fn edge_root(edge: &[Vec<Hash>], size: u64) -> Result<Hash, ProofError> {
    merkle::root(&mut EdgeSource { edge, size }, size)
}

impl Appender {
    /// Creates a new, empty log in `root` (created if missing) under the
    /// origin `origin`, signed by `signer`, and publishes its checkpoint of
    /// size 0.
    pub fn create(root: &Path, origin: &str, signer: NoteSigner) -> Result<Appender, LogError> {
        fs::create_dir_all(root).map_err(|e| LogError::Tile(io_err(root)(e)))?;
        let lock = lock(root)?;
        if root.join(CHECKPOINT_FILE).exists() {
            return Err(LogError::AlreadyExists(root.to_owned()));
        }
        let checkpoint = Checkpoint {
            origin: origin.to_owned(),
            size: 0,
            root: empty_root(),
        }
        .sign(&signer)
        .map_err(|source| LogError::Checkpoint {
            dir: root.to_owned(),
            source,
        })?;
        let dir = TileDir::new(root);
        // Files a log that never published a checkpoint left behind.
        dir.remove_temporaries()?;
        remove_beyond(&dir, 0)?;
        dir.write_atomic(CHECKPOINT_FILE, checkpoint.to_text().as_bytes(), false)?;
        info!(dir = %root.display(), origin, "created audit log");
        Ok(Appender {
            dir,
            signer,
            size: 0,
            edge: Vec::new(),
            bundle: Vec::new(),
            checkpoint,
            poisoned: false,
            _lock: lock,
            #[cfg(test)]
            crash_before_file: None,
        })
    }

    /// Opens the log in `root` for appending, recovering from an
    /// interrupted append. The checkpoint must be signed by `signer`.
    pub fn open(root: &Path, signer: NoteSigner) -> Result<Appender, LogError> {
        let lock = lock(root)?;
        let text = read_checkpoint(root)?;
        let (checkpoint, _) =
            SignedCheckpoint::open(&text, std::slice::from_ref(signer.verifier()), None).map_err(
                |source| LogError::Checkpoint {
                    dir: root.to_owned(),
                    source,
                },
            )?;
        let dir = TileDir::new(root);
        let size = checkpoint.checkpoint.size;
        let removed = dir.remove_temporaries()?;
        if removed > 0 {
            warn!(dir = %root.display(), removed, "removed temporary files of an interrupted append");
        }
        remove_beyond(&dir, size)?;
        let (edge, bundle) = match check(&dir, &checkpoint.checkpoint) {
            Ok(state) => state,
            Err(problem) => {
                warn!(dir = %root.display(), %problem, "audit log tiles damaged; rebuilding them from the entry bundles");
                rebuild(&dir, size).map_err(|e| LogError::Unrecoverable {
                    dir: root.to_owned(),
                    why: format!("{problem}; rebuilding the tiles failed: {e}"),
                })?;
                check(&dir, &checkpoint.checkpoint).map_err(|e| LogError::Unrecoverable {
                    dir: root.to_owned(),
                    why: format!("the tiles rebuilt from the entry bundles still disagree: {e}"),
                })?
            }
        };
        remove_partials_of_last_full_tiles(&dir, size);
        Ok(Appender {
            dir,
            signer,
            size,
            edge,
            bundle,
            checkpoint,
            poisoned: false,
            _lock: lock,
            #[cfg(test)]
            crash_before_file: None,
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn root(&self) -> &Path {
        self.dir.root()
    }

    /// The current signed checkpoint.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// Appends commitments in order and publishes a checkpoint covering
    /// them. When this returns `Ok`, the entries are durable; when it
    /// returns an error, none of them is acknowledged and the appender
    /// must be reopened.
    pub fn append(&mut self, commitments: &[Commitment]) -> Result<Appended, LogError> {
        if self.poisoned {
            return Err(LogError::Poisoned);
        }
        if commitments.is_empty() {
            return Ok(Appended {
                first_index: self.size,
                checkpoint: self.checkpoint.clone(),
            });
        }
        let first_index = self.size;
        let new_size = u64::try_from(commitments.len())
            .ok()
            .and_then(|n| self.size.checked_add(n))
            .ok_or(LogError::TooLarge)?;
        let mut edge = self.edge.clone();
        let mut bundle = self.bundle.clone();
        let mut files: Vec<(TileId, Vec<u8>)> = Vec::new();
        for (cur, c) in (self.size..).zip(commitments) {
            bundle.push(*c);
            if bundle.len() as u64 == TILE_WIDTH {
                let id = TileId {
                    kind: TileKind::Entries,
                    index: cur / TILE_WIDTH,
                    width: TILE_WIDTH as u16,
                };
                files.push((id, encode_bundle(bundle.iter().map(|c| &c.0.0[..]))));
                bundle.clear();
            }
            let mut hash = c.leaf_hash();
            let mut level = 0u8;
            loop {
                let l = usize::from(level);
                if edge.len() <= l {
                    edge.push(Vec::new());
                }
                edge[l].push(hash);
                if (edge[l].len() as u64) < TILE_WIDTH {
                    break;
                }
                let id = TileId {
                    kind: TileKind::Hashes(level),
                    index: hashes_at_level(cur, level) / TILE_WIDTH,
                    width: TILE_WIDTH as u16,
                };
                files.push((id, encode_hashes(&edge[l])));
                hash = tile_root(&edge[l]);
                edge[l].clear();
                level += 1;
            }
        }
        let completed: Vec<TileId> = files.iter().map(|(id, _)| *id).collect();
        if !bundle.is_empty() {
            let id = TileId {
                kind: TileKind::Entries,
                index: new_size / TILE_WIDTH,
                width: bundle.len() as u16,
            };
            files.push((id, encode_bundle(bundle.iter().map(|c| &c.0.0[..]))));
        }
        for (l, hashes) in edge.iter().enumerate() {
            if hashes.is_empty() {
                continue;
            }
            let level = l as u8;
            let id = TileId {
                kind: TileKind::Hashes(level),
                index: hashes_at_level(new_size, level) / TILE_WIDTH,
                width: hashes.len() as u16,
            };
            files.push((id, encode_hashes(hashes)));
        }
        // Entry bundles first, then tiles from level 0 up.
        files.sort_by_key(|(id, _)| (id.kind, id.index));

        let root = edge_root(&edge, new_size).map_err(TileError::from)?;
        let checkpoint = Checkpoint {
            origin: self.checkpoint.checkpoint.origin.clone(),
            size: new_size,
            root,
        }
        .sign(&self.signer)
        .map_err(|source| LogError::Checkpoint {
            dir: self.dir.root().to_owned(),
            source,
        })?;

        self.poisoned = true;
        for (i, (id, bytes)) in files.iter().enumerate() {
            #[cfg(test)]
            if self.crash_before_file == Some(i) {
                // A torn write: half the file, under its final name.
                let path = self.dir.path_of(id);
                if let Some(parent) = path.parent() {
                    let _ = fs::create_dir_all(parent);
                }
                let _ = fs::write(&path, &bytes[..bytes.len() / 2]);
                return Err(LogError::Crashed);
            }
            let _ = i;
            self.dir.write_atomic(&id.path(), bytes, false)?;
        }
        #[cfg(test)]
        if self.crash_before_file == Some(files.len()) {
            return Err(LogError::Crashed);
        }
        self.dir
            .write_atomic(CHECKPOINT_FILE, checkpoint.to_text().as_bytes(), true)?;

        self.size = new_size;
        self.edge = edge;
        self.bundle = bundle;
        self.checkpoint = checkpoint.clone();
        self.poisoned = false;

        // Partial files of tiles now full are no longer needed.
        for id in completed {
            let partials = format!("{}.p", id.path());
            if let Err(e) = self.dir.remove(&partials) {
                warn!(error = %e, "could not remove the partial files of a full tile");
            }
        }
        Ok(Appended {
            first_index,
            checkpoint,
        })
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries
    /// (at most the current size).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        if size > self.size {
            return Err(TileError::from(ProofError::IndexOutOfRange {
                index: size,
                size: self.size,
            })
            .into());
        }
        inclusion_proof(self.dir.root(), index, size)
    }

    /// The consistency proof between the trees of `first` and `second`
    /// entries (at most the current size).
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LogError> {
        if second > self.size {
            return Err(TileError::from(ProofError::SizesOutOfOrder {
                first: second,
                second: self.size,
            })
            .into());
        }
        consistency_proof(self.dir.root(), first, second)
    }

    #[cfg(test)]
    pub(crate) fn crash_before_file(&mut self, n: Option<usize>) {
        self.crash_before_file = n;
    }
}

/// Removes the partial files of each level's last full tile, which an
/// append interrupted after its checkpoint may have left (best effort: they
/// are prefixes of the full tile and harmless).
fn remove_partials_of_last_full_tiles(dir: &TileDir, size: u64) {
    let kinds = std::iter::once(TileKind::Entries).chain((0..MAX_TILE_LEVEL).map(TileKind::Hashes));
    for kind in kinds {
        let level = match kind {
            TileKind::Hashes(l) => l,
            TileKind::Entries => 0,
        };
        let full = hashes_at_level(size, level) / TILE_WIDTH;
        if full == 0 {
            continue;
        }
        let id = TileId {
            kind,
            index: full - 1,
            width: TILE_WIDTH as u16,
        };
        if let Err(e) = dir.remove(&format!("{}.p", id.path())) {
            warn!(error = %e, "could not remove the partial files of a full tile");
        }
    }
}

/// The inclusion proof of entry `index` in the tree of the first `size`
/// entries of the log in `root`, from its tiles (read-only: for the API
/// while another process appends). `size` must be a checkpoint's size.
pub fn inclusion_proof(root: &Path, index: u64, size: u64) -> Result<Vec<Hash>, LogError> {
    let dir = TileDir::new(root);
    Ok(merkle::inclusion_proof(
        &mut TileReader::new(&dir, size),
        index,
        size,
    )?)
}

/// The consistency proof between the trees of the first `first` and
/// `second` entries of the log in `root`, from its tiles (read-only).
pub fn consistency_proof(root: &Path, first: u64, second: u64) -> Result<Vec<Hash>, LogError> {
    let dir = TileDir::new(root);
    Ok(merkle::consistency_proof(
        &mut TileReader::new(&dir, second),
        first,
        second,
    )?)
}

/// Removes every tile and bundle file beyond a tree of `size` entries.
fn remove_beyond(dir: &TileDir, size: u64) -> Result<(), LogError> {
    let kinds = std::iter::once(TileKind::Entries).chain((0..MAX_TILE_LEVEL).map(TileKind::Hashes));
    for kind in kinds {
        let level = match kind {
            TileKind::Hashes(l) => l,
            TileKind::Entries => 0,
        };
        let count = hashes_at_level(size, level);
        let edge = count / TILE_WIDTH;
        let width = count % TILE_WIDTH;
        let full = |n: u64| TileId {
            kind,
            index: n,
            width: TILE_WIDTH as u16,
        };
        // The edge tile: its full file and wider partials are beyond.
        let edge_path = full(edge).path();
        if width == 0 {
            dir.remove(&edge_path)?;
            dir.remove(&format!("{edge_path}.p"))?;
        } else {
            dir.remove(&edge_path)?;
            for w in dir.partial_widths(kind, edge)? {
                if u64::from(w) > width {
                    dir.remove(
                        &TileId {
                            kind,
                            index: edge,
                            width: w,
                        }
                        .path(),
                    )?;
                }
            }
        }
        // Tiles after the edge: written in index order, so they are
        // contiguous.
        let mut n = edge + 1;
        loop {
            let path = full(n).path();
            let partial = format!("{path}.p");
            if !dir.root().join(&path).exists() && !dir.root().join(&partial).exists() {
                break;
            }
            dir.remove(&path)?;
            dir.remove(&partial)?;
            n += 1;
        }
    }
    Ok(())
}

/// Checks the tiles the checkpoint depends on and returns the right edge
/// (each level's partial tile) and the partial entry bundle.
fn check(
    dir: &TileDir,
    checkpoint: &Checkpoint,
) -> Result<(Vec<Vec<Hash>>, Vec<Commitment>), TileError> {
    let size = checkpoint.size;
    let mut edge = Vec::new();
    for level in 0..MAX_TILE_LEVEL {
        let count = hashes_at_level(size, level);
        if count == 0 {
            break;
        }
        let hashes = match tile_in_tree(TileKind::Hashes(level), count / TILE_WIDTH, size) {
            Some(id) => dir.read_hashes(&id)?,
            None => Vec::new(),
        };
        edge.push(hashes);
        // The last full tile of this level hashes to its entry above.
        if count >= TILE_WIDTH {
            let last = count / TILE_WIDTH - 1;
            let id = TileId {
                kind: TileKind::Hashes(level),
                index: last,
                width: TILE_WIDTH as u16,
            };
            let hashes = dir.read_hashes(&id)?;
            let above = tile_in_tree(TileKind::Hashes(level + 1), last / TILE_WIDTH, size)
                .map(|id| dir.read_hashes(&id))
                .transpose()?
                .unwrap_or_default();
            let at = (last % TILE_WIDTH) as usize;
            if above.get(at) != Some(&tile_root(&hashes)) {
                return Err(TileError::Damaged {
                    what: id.describe(),
                    index: id.leaf_index(0),
                    why: "the full tile does not hash to its entry in the level above",
                });
            }
            if level == 0 {
                check_bundle(dir, &id, &hashes)?;
            }
        }
    }
    let bundle = match tile_in_tree(TileKind::Entries, size / TILE_WIDTH, size) {
        Some(id) => {
            let entries = dir.read_entries(&id)?;
            let hashes = edge.first().cloned().unwrap_or_default();
            check_bundle(
                dir,
                &TileId {
                    kind: TileKind::Hashes(0),
                    ..id
                },
                &hashes,
            )?;
            entries
                .iter()
                .map(|e| Hash::from_slice(e).map(Commitment))
                .collect::<Option<Vec<_>>>()
                .ok_or(TileError::Damaged {
                    what: id.describe(),
                    index: id.leaf_index(0),
                    why: "an entry is not a 32-byte commitment",
                })?
        }
        None => Vec::new(),
    };
    let root = edge_root(&edge, size)?;
    if root != checkpoint.root {
        return Err(TileError::Damaged {
            what: "the right edge of the tree".to_owned(),
            index: size.saturating_sub(1) / TILE_WIDTH * TILE_WIDTH,
            why: "the tiles do not hash to the checkpoint's root",
        });
    }
    Ok((edge, bundle))
}

/// Checks that the entry bundle of level-0 tile `id` hashes to `hashes`.
fn check_bundle(dir: &TileDir, id: &TileId, hashes: &[Hash]) -> Result<(), TileError> {
    let bundle_id = TileId {
        kind: TileKind::Entries,
        ..*id
    };
    let entries = dir.read_entries(&bundle_id)?;
    for (i, (entry, hash)) in entries.iter().zip(hashes).enumerate() {
        if crate::hash::leaf_hash(entry) != *hash {
            return Err(TileError::Damaged {
                what: id.describe(),
                index: id.leaf_index(i as u64),
                why: "the leaf hash does not match the entry bundle",
            });
        }
    }
    if entries.len() != hashes.len() {
        return Err(TileError::Damaged {
            what: id.describe(),
            index: id.leaf_index(entries.len().min(hashes.len()) as u64),
            why: "the tile and its entry bundle differ in width",
        });
    }
    Ok(())
}

/// Rewrites every tile of a tree of `size` entries from the entry bundles,
/// replacing files whose bytes differ (and wider partials' narrower
/// versions).
fn rebuild(dir: &TileDir, size: u64) -> Result<(), TileError> {
    let mut below: Vec<Hash> = Vec::new();
    for id in tiles_for(TileKind::Entries, size) {
        let entries = dir.read_entries(&id)?;
        let hashes: Vec<Hash> = entries.iter().map(|e| crate::hash::leaf_hash(e)).collect();
        let tile = TileId {
            kind: TileKind::Hashes(0),
            ..id
        };
        repair(dir, &tile, &hashes)?;
        if u64::from(id.width) == TILE_WIDTH {
            below.push(tile_root(&hashes));
        }
    }
    for level in 1..MAX_TILE_LEVEL {
        if below.is_empty() {
            break;
        }
        let mut next = Vec::new();
        for id in tiles_for(TileKind::Hashes(level), size) {
            let start = (id.index * TILE_WIDTH) as usize;
            let hashes = below
                .get(start..start + usize::from(id.width))
                .ok_or(TileError::Damaged {
                    what: id.describe(),
                    index: id.leaf_index(0),
                    why: "fewer full tiles below than the tree size needs",
                })?
                .to_vec();
            repair(dir, &id, &hashes)?;
            if u64::from(id.width) == TILE_WIDTH {
                next.push(tile_root(&hashes));
            }
        }
        below = next;
    }
    Ok(())
}

/// Writes `hashes` as tile `id` unless the file already holds them, and
/// repairs narrower partial versions of it.
fn repair(dir: &TileDir, id: &TileId, hashes: &[Hash]) -> Result<(), TileError> {
    let bytes = encode_hashes(hashes);
    let path = dir.path_of(id);
    if dir.read_file(&path)?.as_deref() != Some(&bytes[..]) {
        warn!(tile = %id.path(), "rewriting damaged or missing tile from the entry bundles");
        dir.write_atomic(&id.path(), &bytes, true)?;
    }
    for w in dir.partial_widths(id.kind, id.index)? {
        if w < id.width {
            let narrower = TileId { width: w, ..*id };
            let want = &bytes[..usize::from(w) * HASH_SIZE];
            if dir.read_file(&dir.path_of(&narrower))?.as_deref() != Some(want) {
                warn!(tile = %narrower.path(), "rewriting damaged partial tile");
                dir.write_atomic(&narrower.path(), want, true)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::sha256;
    use crate::merkle::MemoryTree;
    use crate::note::KeyRole;

    fn signer() -> NoteSigner {
        NoteSigner::from_seed("example.org/audit", KeyRole::Log, &[3; 32]).unwrap()
    }

    fn commitments(from: u64, n: u64) -> Vec<Commitment> {
        (from..from + n)
            .map(|i| Commitment(sha256(&[&i.to_be_bytes()])))
            .collect()
    }

    fn reference_root(n: u64) -> Hash {
        MemoryTree::from_leaf_hashes(commitments(0, n).iter().map(Commitment::leaf_hash))
            .root_at(n)
            .unwrap()
    }

    #[test]
    fn appends_publish_checkpoints_with_the_reference_root() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = Appender::create(tmp.path(), "example.org/audit", signer()).unwrap();
        let mut size = 0;
        for batch in [1u64, 2, 253, 1, 300, 65_536 - 557, 700] {
            let appended = log.append(&commitments(size, batch)).unwrap();
            assert_eq!(appended.first_index, size);
            size += batch;
            assert_eq!(appended.checkpoint.checkpoint.size, size);
            assert_eq!(
                appended.checkpoint.checkpoint.root,
                reference_root(size),
                "size {size}"
            );
        }
        // A level-2 tile exists now (65,536 leaves and more).
        assert!(tmp.path().join("tile/2/000.p/1").exists());
        assert!(tmp.path().join("tile/0/000").exists());
        assert!(!tmp.path().join("tile/0/000.p").exists());
        drop(log);
        let log = Appender::open(tmp.path(), signer()).unwrap();
        assert_eq!(log.size(), size);
        assert_eq!(log.checkpoint().checkpoint.root, reference_root(size));
    }

    #[test]
    fn creating_over_leftovers_of_an_unpublished_log_starts_clean() {
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("tile/0/000.p")).unwrap();
        fs::write(tmp.path().join("tile/0/000.p/3"), [9u8; 96]).unwrap();
        fs::create_dir_all(tmp.path().join("tile/entries")).unwrap();
        fs::write(tmp.path().join("tile/entries/.tmp-x"), b"half").unwrap();
        let mut log = Appender::create(tmp.path(), "o", signer()).unwrap();
        assert!(!tmp.path().join("tile/0/000.p").exists());
        assert!(!tmp.path().join("tile/entries/.tmp-x").exists());
        let appended = log.append(&commitments(0, 3)).unwrap();
        assert_eq!(appended.checkpoint.checkpoint.root, reference_root(3));
        assert!(matches!(
            Appender::create(tmp.path(), "o", signer()),
            Err(LogError::Locked(_))
        ));
        drop(log);
        assert!(matches!(
            Appender::create(tmp.path(), "o", signer()),
            Err(LogError::AlreadyExists(_))
        ));
    }

    #[test]
    fn a_second_appender_is_locked_out() {
        let tmp = tempfile::tempdir().unwrap();
        let _log = Appender::create(tmp.path(), "o", signer()).unwrap();
        assert!(matches!(
            Appender::open(tmp.path(), signer()),
            Err(LogError::Locked(_))
        ));
    }

    #[test]
    fn a_log_signed_by_another_key_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        drop(Appender::create(tmp.path(), "o", signer()).unwrap());
        let other = NoteSigner::from_seed("example.org/audit", KeyRole::Log, &[4; 32]).unwrap();
        assert!(matches!(
            Appender::open(tmp.path(), other),
            Err(LogError::Checkpoint { .. })
        ));
    }

    fn copy_dir(from: &Path, to: &Path) {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                fs::copy(entry.path(), target).unwrap();
            }
        }
    }

    /// Kill the appender before each file of an append (leaving that file
    /// torn under its final name), then reopen: the log is the one of the
    /// last checkpoint, and appending again gives the reference tree.
    #[test]
    fn a_crash_at_any_point_of_an_append_recovers_to_the_last_checkpoint() {
        for (before, batch) in [(250u64, 300u64), (255, 1), (0, 513), (65_530, 10)] {
            let template = tempfile::tempdir().unwrap();
            let mut log = Appender::create(template.path(), "o", signer()).unwrap();
            log.append(&commitments(0, before)).unwrap();
            drop(log);
            for crash_at in 0..40 {
                let tmp = tempfile::tempdir().unwrap();
                copy_dir(template.path(), tmp.path());
                let mut log = Appender::open(tmp.path(), signer()).unwrap();
                log.crash_before_file(Some(crash_at));
                let result = log.append(&commitments(before, batch));
                let crashed = matches!(result, Err(LogError::Crashed));
                drop(log);
                let mut log = Appender::open(tmp.path(), signer()).unwrap();
                let expected = if crashed { before } else { before + batch };
                assert_eq!(log.size(), expected, "crash before file {crash_at}");
                assert_eq!(log.checkpoint().checkpoint.root, reference_root(expected));
                let rest = before + batch + 5 - expected;
                let appended = log.append(&commitments(expected, rest)).unwrap();
                assert_eq!(
                    appended.checkpoint.checkpoint.root,
                    reference_root(before + batch + 5)
                );
                if !crashed {
                    break;
                }
            }
        }
    }

    #[test]
    fn a_torn_tile_inside_the_checkpoint_is_rebuilt_from_the_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = Appender::create(tmp.path(), "o", signer()).unwrap();
        log.append(&commitments(0, 600)).unwrap();
        drop(log);
        // The partial level-0 tile (88 hashes) and the full tile 1 lose
        // their tails, as if the file system had not kept them.
        for rel in ["tile/0/002.p/88", "tile/0/001"] {
            let path = tmp.path().join(rel);
            let bytes = fs::read(&path).unwrap();
            fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
        }
        let mut log = Appender::open(tmp.path(), signer()).unwrap();
        assert_eq!(log.size(), 600);
        let appended = log.append(&commitments(600, 10)).unwrap();
        assert_eq!(appended.checkpoint.checkpoint.root, reference_root(610));
        assert_eq!(fs::read(tmp.path().join("tile/0/001")).unwrap().len(), 8192);
    }

    /// A crash after the checkpoint but before the partial files of a
    /// newly full tile were removed: opening removes them.
    #[test]
    fn leftover_partials_of_a_full_tile_are_removed_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = Appender::create(tmp.path(), "o", signer()).unwrap();
        log.append(&commitments(0, 250)).unwrap();
        log.append(&commitments(250, 10)).unwrap();
        drop(log);
        let full = fs::read(tmp.path().join("tile/0/000")).unwrap();
        fs::create_dir_all(tmp.path().join("tile/0/000.p")).unwrap();
        fs::write(tmp.path().join("tile/0/000.p/250"), &full[..250 * 32]).unwrap();
        let log = Appender::open(tmp.path(), signer()).unwrap();
        assert_eq!(log.size(), 260);
        assert!(!tmp.path().join("tile/0/000.p").exists());
    }

    #[test]
    fn a_damaged_entry_bundle_is_unrecoverable_and_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = Appender::create(tmp.path(), "o", signer()).unwrap();
        log.append(&commitments(0, 10)).unwrap();
        drop(log);
        let path = tmp.path().join("tile/entries/000.p/10");
        let mut bytes = fs::read(&path).unwrap();
        bytes[5] ^= 1;
        fs::write(&path, bytes).unwrap();
        let err = Appender::open(tmp.path(), signer()).unwrap_err();
        assert!(matches!(err, LogError::Unrecoverable { .. }), "{err}");
    }

    #[test]
    fn proofs_from_the_tiles_match_the_reference() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = Appender::create(tmp.path(), "o", signer()).unwrap();
        log.append(&commitments(0, 1000)).unwrap();
        let mut reference =
            MemoryTree::from_leaf_hashes(commitments(0, 1000).iter().map(Commitment::leaf_hash));
        for (index, size) in [(0u64, 1u64), (5, 300), (999, 1000), (256, 257), (511, 768)] {
            assert_eq!(
                log.inclusion_proof(index, size).unwrap(),
                merkle::inclusion_proof(&mut reference, index, size).unwrap()
            );
        }
        for (a, b) in [(1u64, 1000u64), (256, 512), (300, 999), (0, 10), (7, 7)] {
            assert_eq!(
                log.consistency_proof(a, b).unwrap(),
                merkle::consistency_proof(&mut reference, a, b).unwrap()
            );
        }
        assert!(log.inclusion_proof(0, 1001).is_err());
        // Read-only, while the appender holds the lock.
        assert_eq!(
            inclusion_proof(tmp.path(), 17, 999).unwrap(),
            merkle::inclusion_proof(&mut reference, 17, 999).unwrap()
        );
        assert_eq!(
            consistency_proof(tmp.path(), 17, 999).unwrap(),
            merkle::consistency_proof(&mut reference, 17, 999).unwrap()
        );
        assert!(inclusion_proof(tmp.path(), 0, 5000).is_err());
    }
}
