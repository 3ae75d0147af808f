//! The C2SP tlog-tiles layout (c2sp.org/tlog-tiles) on a directory: tiles
//! of 256 hashes at `tile/<L>/<N>`, partial tiles at `tile/<L>/<N>.p/<W>`,
//! entry bundles at `tile/entries/<N>[.p/<W>]`; `<N>` in 3-digit path
//! elements, all but the last prefixed with `x` (1234067 →
//! `x001/x234/067`). Files are written atomically (temporary file, fsync,
//! rename, fsync of the directory) and never rewritten with other bytes.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use thiserror::Error;

use crate::hash::{HASH_SIZE, Hash, node_hash};
use crate::merkle::{HashSource, ProofError};

/// Hashes in a full tile; a tile is a subtree of height 8.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels per tile level.
pub const TILE_HEIGHT: u8 = 8;
/// Tile levels that can exist for a 64-bit tree size.
pub const MAX_TILE_LEVEL: u8 = 8;
/// Prefix of temporary files; never a published name.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Why a tile could not be read or written.
#[derive(Debug, Error)]
pub enum TileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{what} is missing (leaves from index {first_index})")]
    Missing { what: String, first_index: u64 },
    #[error("{what} is damaged at index {index}: {why}")]
    Damaged {
        what: String,
        index: u64,
        why: &'static str,
    },
    #[error("{path} already holds different bytes; published tiles are never rewritten")]
    Conflict { path: PathBuf },
    #[error(transparent)]
    Proof(#[from] ProofError),
}

impl TileError {
    /// The first leaf index the error concerns, if it concerns one.
    pub fn index(&self) -> Option<u64> {
        match self {
            TileError::Missing { first_index, .. } => Some(*first_index),
            TileError::Damaged { index, .. } => Some(*index),
            _ => None,
        }
    }
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> TileError + '_ {
    move |source| TileError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What a tile file holds: Merkle hashes at a tile level, or entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Hashes at tree height `8·level`.
    Hashes(u8),
    /// The entry bundle: the leaf data of level 0, each prefixed by its
    /// big-endian u16 length.
    Entries,
}

/// One tile: kind, index within its level and width (1..=256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    pub kind: TileKind,
    pub index: u64,
    pub width: u16,
}

/// `<N>` in 3-digit elements, all but the last prefixed with `x`.
pub fn index_path(n: u64) -> String {
    let mut groups = Vec::new();
    let mut rest = n;
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    let mut out = String::new();
    for (i, g) in groups.iter().rev().enumerate() {
        if i + 1 < groups.len() {
            out.push_str(&format!("x{g:03}/"));
        } else {
            out.push_str(&format!("{g:03}"));
        }
    }
    out
}

impl TileId {
    /// The path under the log directory, e.g. `tile/0/x001/x234/067.p/5`.
    pub fn path(&self) -> String {
        let level = match self.kind {
            TileKind::Hashes(l) => l.to_string(),
            TileKind::Entries => "entries".to_owned(),
        };
        let mut p = format!("tile/{level}/{}", index_path(self.index));
        if u64::from(self.width) < TILE_WIDTH {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }

    /// Leaves per hash of this tile's level (256^level).
    fn leaves_per_hash(&self) -> Option<u64> {
        match self.kind {
            TileKind::Hashes(l) => 1u64.checked_shl(u32::from(l) * u32::from(TILE_HEIGHT)),
            TileKind::Entries => Some(1),
        }
    }

    /// The first leaf index under hash `i` of this tile (saturating).
    pub fn leaf_index(&self, i: u64) -> u64 {
        let per = self.leaves_per_hash().unwrap_or(u64::MAX);
        self.index
            .saturating_mul(TILE_WIDTH)
            .saturating_add(i)
            .saturating_mul(per)
    }

    pub fn describe(&self) -> String {
        match self.kind {
            TileKind::Hashes(l) => format!("level {l} tile {} (width {})", self.index, self.width),
            TileKind::Entries => format!("entry bundle {} (width {})", self.index, self.width),
        }
    }
}

/// Hashes at tile level `level` in a tree of `size` leaves:
/// `floor(size / 256^level)`.
pub fn hashes_at_level(size: u64, level: u8) -> u64 {
    let shift = u32::from(level) * u32::from(TILE_HEIGHT);
    size.checked_shr(shift).unwrap_or(0)
}

/// The tiles of one level (or the entry bundles, with level 0) for a tree
/// of `size` leaves, in index order: full tiles, then a partial one.
pub fn tiles_for(kind: TileKind, size: u64) -> impl Iterator<Item = TileId> {
    let level = match kind {
        TileKind::Hashes(l) => l,
        TileKind::Entries => 0,
    };
    let count = hashes_at_level(size, level);
    let full = count / TILE_WIDTH;
    let partial = (count % TILE_WIDTH) as u16;
    (0..full)
        .map(move |index| TileId {
            kind,
            index,
            width: TILE_WIDTH as u16,
        })
        .chain((partial > 0).then_some(TileId {
            kind,
            index: full,
            width: partial,
        }))
}

/// The tile of `kind` with index `n` as it is in a tree of `size` leaves
/// (`None` if the tree has no such tile).
pub fn tile_in_tree(kind: TileKind, n: u64, size: u64) -> Option<TileId> {
    let level = match kind {
        TileKind::Hashes(l) => l,
        TileKind::Entries => 0,
    };
    let count = hashes_at_level(size, level);
    let start = n.checked_mul(TILE_WIDTH)?;
    if start >= count {
        return None;
    }
    let width = (count - start).min(TILE_WIDTH) as u16;
    Some(TileId {
        kind,
        index: n,
        width,
    })
}

/// Splits an entry bundle into its entries.
pub fn parse_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>, usize> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.len() < 2 {
            return Err(out.len());
        }
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if rest.len() < 2 + len {
            return Err(out.len());
        }
        out.push(&rest[2..2 + len]);
        rest = &rest[2 + len..];
    }
    Ok(out)
}

/// Joins entries into a bundle. The log's entries are 32-byte commitments;
/// an entry longer than 65,535 bytes cannot be in a bundle and is cut to
/// that length (no caller passes one).
pub(crate) fn encode_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let len = u16::try_from(e.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&e[..usize::from(len)]);
    }
    out
}

/// Hashes to bytes.
pub fn encode_hashes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

/// The Merkle hash of a full tile's 256 hashes (the tile's subtree root).
pub fn tile_root(hashes: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => node_hash(l, r),
                [one] => *one,
                _ => Hash::default(),
            })
            .collect();
    }
    level.first().copied().unwrap_or_default()
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A log directory: `checkpoint` and `tile/…`.
#[derive(Debug, Clone)]
pub struct TileDir {
    root: PathBuf,
}

impl TileDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        TileDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path_of(&self, id: &TileId) -> PathBuf {
        self.root.join(id.path())
    }

    /// The bytes of a file under the log directory, `None` if it does not
    /// exist.
    pub fn read_file(&self, path: &Path) -> Result<Option<Vec<u8>>, TileError> {
        match fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(path)(e)),
        }
    }

    /// The widths of the partial files of tile `n` of `kind` that exist.
    pub fn partial_widths(&self, kind: TileKind, n: u64) -> Result<Vec<u16>, TileError> {
        let full = TileId {
            kind,
            index: n,
            width: TILE_WIDTH as u16,
        };
        let dir = PathBuf::from(format!("{}.p", self.path_of(&full).display()));
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut widths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err(&dir))?;
            let name = entry.file_name();
            if let Some(w) = name
                .to_str()
                .filter(|s| !s.starts_with('0'))
                .and_then(|s| s.parse::<u16>().ok())
                .filter(|&w| w >= 1 && u64::from(w) < TILE_WIDTH)
            {
                widths.push(w);
            }
        }
        widths.sort_unstable();
        Ok(widths)
    }

    /// Reads tile `id` or, if that file is missing, a wider version of it
    /// (the full tile, or a wider partial) and returns the file's bytes and
    /// the width its name gives. `None` when no version exists.
    pub fn read_tile_file(&self, id: &TileId) -> Result<Option<(Vec<u8>, u16)>, TileError> {
        if let Some(bytes) = self.read_file(&self.path_of(id))? {
            return Ok(Some((bytes, id.width)));
        }
        let full = TileId {
            width: TILE_WIDTH as u16,
            ..*id
        };
        if id.width < full.width
            && let Some(bytes) = self.read_file(&self.path_of(&full))?
        {
            return Ok(Some((bytes, full.width)));
        }
        for w in self.partial_widths(id.kind, id.index)? {
            if w > id.width {
                let wider = TileId { width: w, ..*id };
                if let Some(bytes) = self.read_file(&self.path_of(&wider))? {
                    return Ok(Some((bytes, w)));
                }
            }
        }
        Ok(None)
    }

    /// The first `id.width` hashes of hash tile `id`, checked for length.
    pub fn read_hashes(&self, id: &TileId) -> Result<Vec<Hash>, TileError> {
        let Some((bytes, file_width)) = self.read_tile_file(id)? else {
            return Err(TileError::Missing {
                what: id.describe(),
                first_index: id.leaf_index(0),
            });
        };
        let expected = usize::from(file_width) * HASH_SIZE;
        if bytes.len() < expected || bytes.len() % HASH_SIZE != 0 {
            let at = (bytes.len() / HASH_SIZE) as u64;
            return Err(TileError::Damaged {
                what: id.describe(),
                index: id.leaf_index(at.min(u64::from(id.width))),
                why: "the file is shorter than its width",
            });
        }
        if bytes.len() > expected {
            return Err(TileError::Damaged {
                what: id.describe(),
                index: id.leaf_index(u64::from(file_width)),
                why: "the file holds more hashes than its width",
            });
        }
        Ok(bytes[..usize::from(id.width) * HASH_SIZE]
            .chunks_exact(HASH_SIZE)
            .filter_map(Hash::from_slice)
            .collect())
    }

    /// The first `id.width` entries of entry bundle `id`, checked.
    pub fn read_entries(&self, id: &TileId) -> Result<Vec<Vec<u8>>, TileError> {
        let Some((bytes, file_width)) = self.read_tile_file(id)? else {
            return Err(TileError::Missing {
                what: id.describe(),
                first_index: id.leaf_index(0),
            });
        };
        let entries = parse_bundle(&bytes).map_err(|at| TileError::Damaged {
            what: id.describe(),
            index: id.leaf_index(at as u64),
            why: "the bundle ends inside an entry",
        })?;
        let file_width = usize::from(file_width);
        if entries.len() < file_width {
            return Err(TileError::Damaged {
                what: id.describe(),
                index: id.leaf_index(entries.len() as u64),
                why: "the bundle holds fewer entries than its width",
            });
        }
        if entries.len() > file_width {
            return Err(TileError::Damaged {
                what: id.describe(),
                index: id.leaf_index(file_width as u64),
                why: "the bundle holds more entries than its width",
            });
        }
        Ok(entries
            .into_iter()
            .take(usize::from(id.width))
            .map(<[u8]>::to_vec)
            .collect())
    }

    /// Writes `bytes` at `relative` atomically and durably. A file already
    /// there with the same bytes is kept; with other bytes it is an error
    /// unless `replace` (used only to repair a damaged file).
    pub fn write_atomic(
        &self,
        relative: &str,
        bytes: &[u8],
        replace: bool,
    ) -> Result<(), TileError> {
        let path = self.root.join(relative);
        if !replace && let Some(existing) = self.read_file(&path)? {
            if existing == bytes {
                return Ok(());
            }
            return Err(TileError::Conflict { path });
        }
        let parent = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        create_dirs_durably(&parent)?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent.join(format!(
            "{TEMP_PREFIX}{name}-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
            f.write_all(bytes).map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
            fs::rename(&tmp, &path).map_err(io_err(&path))?;
            sync_dir(&parent)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Removes a file or directory tree if present.
    pub fn remove(&self, relative: &str) -> Result<(), TileError> {
        let path = self.root.join(relative);
        let result = match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&path),
            Ok(_) => fs::remove_file(&path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => Err(e),
        };
        result.map_err(io_err(&path))?;
        if let Some(parent) = path.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }

    /// Removes the temporary files an interrupted write left anywhere under
    /// `tile/`. Returns how many.
    pub fn remove_temporaries(&self) -> Result<usize, TileError> {
        let mut removed = 0;
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&dir)(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io_err(&dir))?;
                let path = entry.path();
                let file_type = entry.file_type().map_err(io_err(&path))?;
                if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    if file_type.is_dir() {
                        fs::remove_dir_all(&path).map_err(io_err(&path))?;
                    } else {
                        fs::remove_file(&path).map_err(io_err(&path))?;
                    }
                    removed += 1;
                } else if file_type.is_dir() && (dir != self.root || entry.file_name() == "tile") {
                    stack.push(path);
                }
            }
        }
        Ok(removed)
    }
}

/// Creates `dir` and missing parents, and fsyncs each new directory's
/// parent so the new entries survive a crash.
fn create_dirs_durably(dir: &Path) -> Result<(), TileError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.is_dir() {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    for d in missing.iter().rev() {
        if let Some(parent) = d.parent() {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// fsync of a directory, so renames and new entries in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), TileError> {
    let d = File::open(dir).map_err(io_err(dir))?;
    d.sync_all().map_err(io_err(dir))
}

/// The tree of the first `size` leaves, read from a log directory's tiles.
/// Tiles are read once and kept; a smaller tree is read from the prefix of
/// a larger tree's tiles (their hashes are those of complete subtrees, the
/// same in every tree that holds them).
#[derive(Debug)]
pub struct TileReader<'a> {
    dir: &'a TileDir,
    size: u64,
    cache: HashMap<(u8, u64), Vec<Hash>>,
}

impl<'a> TileReader<'a> {
    pub fn new(dir: &'a TileDir, size: u64) -> Self {
        TileReader {
            dir,
            size,
            cache: HashMap::new(),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    fn tile(&mut self, level: u8, n: u64) -> Result<&Vec<Hash>, TileError> {
        let key = (level, n);
        if !self.cache.contains_key(&key) {
            let id = tile_in_tree(TileKind::Hashes(level), n, self.size).ok_or(
                ProofError::NoSuchNode {
                    level: level.saturating_mul(TILE_HEIGHT),
                    index: n,
                },
            )?;
            let hashes = self.dir.read_hashes(&id)?;
            self.cache.insert(key, hashes);
        }
        self.cache
            .get(&key)
            .ok_or(TileError::Proof(ProofError::NoSuchNode { level, index: n }))
    }
}

impl HashSource for TileReader<'_> {
    type Error = TileError;

    fn node(&mut self, level: u8, index: u64) -> Result<Hash, TileError> {
        let no_node = || TileError::Proof(ProofError::NoSuchNode { level, index });
        // The node must be a complete subtree of this tree.
        let end = index
            .checked_add(1)
            .and_then(|i| i.checked_mul(1u64.checked_shl(u32::from(level))?))
            .ok_or_else(no_node)?;
        if end > self.size {
            return Err(no_node());
        }
        let tile_level = level / TILE_HEIGHT;
        let within = level % TILE_HEIGHT;
        let first = index << within;
        let count = 1usize << within;
        let n = first / TILE_WIDTH;
        let offset = (first % TILE_WIDTH) as usize;
        let tile = self.tile(tile_level, n)?;
        let hashes = tile.get(offset..offset + count).ok_or_else(no_node)?;
        Ok(tile_root(hashes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_the_specification() {
        assert_eq!(index_path(0), "000");
        assert_eq!(index_path(5), "005");
        assert_eq!(index_path(999), "999");
        assert_eq!(index_path(1000), "x001/000");
        assert_eq!(index_path(1_234_067), "x001/x234/067");
        assert_eq!(index_path(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
        let t = TileId {
            kind: TileKind::Hashes(1),
            index: 1_234_067,
            width: 5,
        };
        assert_eq!(t.path(), "tile/1/x001/x234/067.p/5");
        let e = TileId {
            kind: TileKind::Entries,
            index: 2,
            width: 256,
        };
        assert_eq!(e.path(), "tile/entries/002");
    }

    #[test]
    fn the_specification_example_of_70000_leaves() {
        // 273 full level-0 tiles and one of width 112, one full level-1 tile
        // and one of width 17, one level-2 tile of width 1.
        let l0: Vec<_> = tiles_for(TileKind::Hashes(0), 70_000).collect();
        assert_eq!(l0.len(), 274);
        assert_eq!(l0[273].width, 112);
        let l1: Vec<_> = tiles_for(TileKind::Hashes(1), 70_000).collect();
        assert_eq!(
            l1.iter().map(|t| t.width).collect::<Vec<_>>(),
            vec![256, 17]
        );
        let l2: Vec<_> = tiles_for(TileKind::Hashes(2), 70_000).collect();
        assert_eq!(l2.iter().map(|t| t.width).collect::<Vec<_>>(), vec![1]);
        assert_eq!(tiles_for(TileKind::Hashes(3), 70_000).count(), 0);
        // A tree of 256: one full level-0 tile and a level-1 tile of width 1.
        assert_eq!(tiles_for(TileKind::Hashes(0), 256).count(), 1);
        let l1: Vec<_> = tiles_for(TileKind::Hashes(1), 256).collect();
        assert_eq!(l1[0].width, 1);
        assert_eq!(hashes_at_level(u64::MAX, 8), 0);
        assert_eq!(hashes_at_level(u64::MAX, 7), 255);
    }

    #[test]
    fn bundles_round_trip_and_truncation_is_found() {
        let a = [1u8; 32];
        let b = [2u8; 3];
        let bytes = encode_bundle([&a[..], &b[..]]);
        assert_eq!(parse_bundle(&bytes).unwrap(), vec![&a[..], &b[..]]);
        assert_eq!(parse_bundle(&bytes[..bytes.len() - 1]), Err(1));
        assert_eq!(parse_bundle(&bytes[..1]), Err(0));
    }

    #[test]
    fn atomic_writes_keep_equal_bytes_and_refuse_other_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = TileDir::new(tmp.path());
        dir.write_atomic("tile/0/000.p/1", b"abc", false).unwrap();
        dir.write_atomic("tile/0/000.p/1", b"abc", false).unwrap();
        assert!(matches!(
            dir.write_atomic("tile/0/000.p/1", b"abd", false),
            Err(TileError::Conflict { .. })
        ));
        dir.write_atomic("tile/0/000.p/1", b"abd", true).unwrap();
        assert_eq!(fs::read(tmp.path().join("tile/0/000.p/1")).unwrap(), b"abd");
        fs::write(tmp.path().join("tile/0/.tmp-x"), b"half").unwrap();
        assert_eq!(dir.remove_temporaries().unwrap(), 1);
        assert_eq!(dir.partial_widths(TileKind::Hashes(0), 0).unwrap(), vec![1]);
    }
}
