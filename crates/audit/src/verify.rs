//! Verification of a log from its tiles and checkpoints alone (no
//! database): every checkpoint's signatures, that the tiles and entry
//! bundles agree with each other and hash to every checkpoint's root, that
//! consecutive checkpoints are consistent, and that named entries (entry,
//! salt, index — from the access-controlled database) are included.
//!
//! Tampering with entry bundles, tiles or named entries (a changed,
//! deleted, reordered or inserted entry) fails with
//! [`VerifyError::Tampered`], which names the first bad index: exactly when
//! two independent records disagree at one index (an entry bundle and its
//! level-0 tile, a named entry and its logged commitment), otherwise as the
//! first index of the smallest range the evidence isolates (a rewrite of a
//! bundle and its tile together shows only in the hashes above them and in
//! the checkpoints' roots).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use thiserror::Error;

use crate::checkpoint::{CheckpointError, SignedCheckpoint};
use crate::entry::{AuditEntry, Salt};
use crate::hash::{HASH_SIZE, Hash, leaf_hash};
use crate::merkle;
use crate::note::VerifierKey;
use crate::tile::{
    MAX_TILE_LEVEL, TILE_WIDTH, TileDir, TileError, TileId, TileKind, TileReader, parse_bundle,
    tile_root, tiles_for,
};

/// The keys a verifier trusts and what it requires of checkpoints.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Log keys (signed-note type 0x01) and witness keys (cosignature type
    /// 0x04).
    pub keys: Vec<VerifierKey>,
    /// The log's origin; when `None`, all checkpoints must share the first
    /// one's.
    pub origin: Option<String>,
    /// Cosignatures by distinct trusted witnesses every checkpoint must
    /// carry.
    pub min_witnesses: usize,
}

/// An entry the verifier was given, with its salt and claimed index.
#[derive(Debug, Clone)]
pub struct NamedEntry {
    pub index: u64,
    pub entry: AuditEntry,
    pub salt: Salt,
}

/// What the named entries claim to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Coverage {
    /// Some entries; each must be included at its index.
    #[default]
    Some,
    /// Every entry of the log up to the largest checkpoint: additionally,
    /// every index must be named exactly once.
    All,
}

/// One piece of evidence of tampering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The first bad index (exact), or the first index of the range the
    /// evidence isolates.
    pub index: u64,
    /// When the evidence isolates a range: its end (exclusive).
    pub range_end: Option<u64>,
    pub what: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.range_end {
            None => write!(f, "index {}: {}", self.index, self.what),
            Some(end) => write!(
                f,
                "index {} (somewhere in {}..{}): {}",
                self.index, self.index, end, self.what
            ),
        }
    }
}

/// Why verification failed.
#[derive(Debug, Error)]
pub enum VerifyError {
    #[error("no checkpoint to verify against")]
    NoCheckpoint,
    #[error("checkpoint {which} (in the order given): {source}")]
    Checkpoint {
        which: usize,
        #[source]
        source: CheckpointError,
    },
    #[error("checkpoint {which} is for log {found:?}, the others for {expected:?}")]
    MixedOrigins {
        which: usize,
        expected: String,
        found: String,
    },
    #[error(
        "checkpoint {which} carries {found} cosignatures by trusted witnesses, {required} required"
    )]
    TooFewWitnesses {
        which: usize,
        found: usize,
        required: usize,
    },
    #[error("two checkpoints of size {size} have different roots: the log forked")]
    Fork { size: u64 },
    #[error("the log was tampered with: first bad {first}{}", more_text(.findings.len()))]
    Tampered {
        first: Finding,
        /// Every finding, first bad index first.
        findings: Vec<Finding>,
    },
    #[error("reading the log: {0}")]
    Read(TileError),
}

fn more_text(n: usize) -> String {
    if n > 1 {
        format!(" ({} findings in all)", n)
    } else {
        String::new()
    }
}

impl VerifyError {
    /// The first bad index, when the failure is tampering.
    pub fn first_bad_index(&self) -> Option<u64> {
        match self {
            VerifyError::Tampered { first, .. } => Some(first.index),
            _ => None,
        }
    }
}

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The largest checkpoint's size and root.
    pub size: u64,
    pub root: Hash,
    /// Distinct checkpoints verified.
    pub checkpoints: usize,
    /// Named entries found included.
    pub entries: usize,
    /// Witness names that cosigned the largest checkpoint, with their times.
    pub witnesses: Vec<(String, u64)>,
}

fn exact(index: u64, what: impl Into<String>) -> Finding {
    Finding {
        index,
        range_end: None,
        what: what.into(),
    }
}

fn range(index: u64, end: u64, what: impl Into<String>) -> Finding {
    Finding {
        index,
        range_end: Some(end),
        what: what.into(),
    }
}

/// A tile error as evidence (a missing or damaged file), or a read error.
fn finding_or_read(e: TileError) -> Result<Finding, VerifyError> {
    match e.index() {
        Some(index) => Ok(exact(index, e.to_string())),
        None => Err(VerifyError::Read(e)),
    }
}

/// Verifies the log in `dir` against `checkpoints` (signed checkpoint
/// texts, e.g. the current `checkpoint` file and older ones kept by an
/// auditor or a witness) and the named entries.
pub fn verify(
    dir: &Path,
    checkpoints: &[String],
    trust: &Trust,
    entries: &[NamedEntry],
    coverage: Coverage,
) -> Result<Report, VerifyError> {
    if checkpoints.is_empty() {
        return Err(VerifyError::NoCheckpoint);
    }
    // 1. Signatures, origins, witnesses.
    let mut by_size: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut origin = trust.origin.clone();
    let mut newest_witnesses = Vec::new();
    let mut newest = 0u64;
    for (which, text) in checkpoints.iter().enumerate() {
        let (signed, verified) = SignedCheckpoint::open(text, &trust.keys, trust.origin.as_deref())
            .map_err(|source| VerifyError::Checkpoint { which, source })?;
        let c = signed.checkpoint;
        match &origin {
            Some(o) if *o != c.origin => {
                return Err(VerifyError::MixedOrigins {
                    which,
                    expected: o.clone(),
                    found: c.origin,
                });
            }
            Some(_) => {}
            None => origin = Some(c.origin.clone()),
        }
        let mut witnesses: Vec<&str> = verified.witnesses.iter().map(|(n, _)| n.as_str()).collect();
        witnesses.sort_unstable();
        witnesses.dedup();
        if witnesses.len() < trust.min_witnesses {
            return Err(VerifyError::TooFewWitnesses {
                which,
                found: witnesses.len(),
                required: trust.min_witnesses,
            });
        }
        if let Some(root) = by_size.get(&c.size) {
            if *root != c.root {
                return Err(VerifyError::Fork { size: c.size });
            }
        } else {
            by_size.insert(c.size, c.root);
        }
        if c.size >= newest {
            newest = c.size;
            newest_witnesses = verified.witnesses;
        }
    }
    let size = newest;
    let dir = TileDir::new(dir);
    let mut findings = Vec::new();

    // 2. The tiles agree with each other and with the entry bundles.
    let structure_ok = check_structure(&dir, size, &mut findings)?;

    // 3. The tiles hash to every checkpoint's root; consecutive checkpoints
    //    are consistent.
    let mut reader = TileReader::new(&dir, size);
    if structure_ok {
        let mut previous: Option<(u64, Hash)> = None;
        for (&s, root) in &by_size {
            let computed = match merkle::root(&mut reader, s) {
                Ok(r) => r,
                Err(e) => {
                    findings.push(finding_or_read(e)?);
                    break;
                }
            };
            let from = previous.map_or(0, |(p, _)| p);
            if computed != *root {
                findings.push(range(
                    from,
                    s,
                    format!("the tiles do not hash to the root of the checkpoint of size {s}"),
                ));
                break;
            }
            if let Some((p, proot)) = previous.filter(|&(p, _)| p > 0) {
                let proof = match merkle::consistency_proof(&mut reader, p, s) {
                    Ok(proof) => proof,
                    Err(e) => {
                        findings.push(finding_or_read(e)?);
                        break;
                    }
                };
                if merkle::verify_consistency(p, s, &proot, root, &proof).is_err() {
                    findings.push(range(
                        p,
                        s,
                        format!("the checkpoints of sizes {p} and {s} are not consistent"),
                    ));
                    break;
                }
            }
            previous = Some((s, *root));
        }
    }

    // 4. Named entries.
    let root = by_size.get(&size).copied().unwrap_or_default();
    // Inclusion proofs only mean something once the tiles hash to the roots.
    let proofs_ok = structure_ok && findings.is_empty();
    let named = check_entries(
        &dir,
        &mut reader,
        size,
        root,
        proofs_ok,
        entries,
        coverage,
        &mut findings,
    )?;

    if findings.is_empty() {
        return Ok(Report {
            size,
            root,
            checkpoints: by_size.len(),
            entries: named,
            witnesses: newest_witnesses,
        });
    }
    findings.sort_by_key(|f| (f.index, f.range_end.is_some()));
    Err(VerifyError::Tampered {
        first: findings[0].clone(),
        findings,
    })
}

/// A tile or bundle file read leniently, so that a deletion or insertion
/// shows where it happened rather than as a wrong length: the items the
/// file holds (hashes, or entries up to the first malformed one) and, if
/// its length is not that of the width its name gives, the first position
/// where it goes wrong.
struct Lenient {
    items: Vec<Vec<u8>>,
    bad_length_at: Option<usize>,
}

fn read_lenient(dir: &TileDir, id: &TileId) -> Result<Result<Lenient, Finding>, VerifyError> {
    let Some((bytes, file_width)) = dir.read_tile_file(id).map_err(VerifyError::Read)? else {
        return Ok(Err(exact(
            id.leaf_index(0),
            format!("{} is missing", id.describe()),
        )));
    };
    let file_width = usize::from(file_width);
    let items: Vec<Vec<u8>> = match id.kind {
        TileKind::Hashes(_) => bytes.chunks_exact(HASH_SIZE).map(<[u8]>::to_vec).collect(),
        TileKind::Entries => {
            let mut items = Vec::new();
            let mut rest = &bytes[..];
            while rest.len() >= 2 {
                let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let Some(item) = rest.get(2..2 + len) else {
                    break;
                };
                items.push(item.to_vec());
                rest = &rest[2 + len..];
            }
            items
        }
    };
    let whole = match id.kind {
        TileKind::Hashes(_) => bytes.len() == file_width * HASH_SIZE,
        TileKind::Entries => {
            items.len() == file_width
                && items.iter().map(|i| i.len() + 2).sum::<usize>() == bytes.len()
        }
    };
    let bad_length_at = (!whole).then(|| items.len().min(file_width));
    Ok(Ok(Lenient {
        items,
        bad_length_at,
    }))
}

/// Compares a tile (or bundle) read leniently with what it must hold;
/// returns the first disagreement.
fn compare(
    id: &TileId,
    read: &Lenient,
    expected: &[Vec<u8>],
    what: &str,
    as_range: bool,
) -> Option<Finding> {
    let finding = |i: usize, what: String| {
        let index = id.leaf_index(i as u64);
        if as_range {
            range(index, id.leaf_index(i as u64 + 1), what)
        } else {
            exact(index, what)
        }
    };
    let width = usize::from(id.width);
    for i in 0..width {
        match (read.items.get(i), expected.get(i)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(_), Some(_)) => return Some(finding(i, what.to_owned())),
            (None, _) => {
                return Some(finding(
                    i,
                    format!("{} ends before this index", id.describe()),
                ));
            }
            (Some(_), None) => break,
        }
    }
    read.bad_length_at.map(|at| {
        finding(
            at.min(width),
            format!("{} does not hold exactly its width", id.describe()),
        )
    })
}

/// Checks every entry bundle against its level-0 tile and every tile above
/// against the tiles below it, for a tree of `size` entries. Stops at the
/// first disagreement (everything above it would disagree too). Returns
/// whether all agreed.
fn check_structure(
    dir: &TileDir,
    size: u64,
    findings: &mut Vec<Finding>,
) -> Result<bool, VerifyError> {
    let mut below: Vec<Hash> = Vec::new();
    for id in tiles_for(TileKind::Entries, size) {
        let tile_id = TileId {
            kind: TileKind::Hashes(0),
            ..id
        };
        let bundle = match read_lenient(dir, &id)? {
            Ok(b) => b,
            Err(f) => {
                findings.push(f);
                return Ok(false);
            }
        };
        let tile = match read_lenient(dir, &tile_id)? {
            Ok(t) => t,
            Err(f) => {
                findings.push(f);
                return Ok(false);
            }
        };
        // The level-0 tile must hold the leaf hashes of the bundle's
        // entries, and each entry must be a 32-byte commitment.
        if let Some(i) = bundle
            .items
            .iter()
            .take(usize::from(id.width))
            .position(|e| e.len() != HASH_SIZE)
        {
            findings.push(exact(
                id.leaf_index(i as u64),
                "the entry bundle holds something other than a 32-byte commitment",
            ));
            return Ok(false);
        }
        let leaf_hashes: Vec<Vec<u8>> = bundle
            .items
            .iter()
            .map(|e| leaf_hash(e).0.to_vec())
            .collect();
        let mismatch = compare(
            &tile_id,
            &tile,
            &leaf_hashes,
            "the entry bundle and the level-0 tile disagree (an entry changed, deleted, reordered or inserted)",
            false,
        )
        .or_else(|| {
            // Both may be cut short the same way.
            compare(&id, &bundle, &bundle.items, "", false)
        });
        if let Some(f) = mismatch {
            findings.push(f);
            return Ok(false);
        }
        let hashes: Vec<Hash> = tile
            .items
            .iter()
            .take(usize::from(id.width))
            .filter_map(|h| Hash::from_slice(h))
            .collect();
        let bundle_bytes = crate::tile::encode_bundle(
            bundle
                .items
                .iter()
                .take(usize::from(id.width))
                .map(Vec::as_slice),
        );
        if let Some(f) = check_partials(dir, &id, &bundle_bytes)? {
            findings.push(f);
            return Ok(false);
        }
        if let Some(f) = check_partials(dir, &tile_id, &crate::tile::encode_hashes(&hashes))? {
            findings.push(f);
            return Ok(false);
        }
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
            let expected: Vec<Hash> = below
                .get(start..start + usize::from(id.width))
                .unwrap_or_default()
                .to_vec();
            let stored = match read_lenient(dir, &id)? {
                Ok(t) => t,
                Err(f) => {
                    findings.push(f);
                    return Ok(false);
                }
            };
            let expected_bytes: Vec<Vec<u8>> = expected.iter().map(|h| h.0.to_vec()).collect();
            if let Some(f) = compare(
                &id,
                &stored,
                &expected_bytes,
                &format!("a level-{level} tile hash does not match the tiles below it"),
                true,
            ) {
                findings.push(f);
                return Ok(false);
            }
            if let Some(f) = check_partials(dir, &id, &crate::tile::encode_hashes(&expected))? {
                findings.push(f);
                return Ok(false);
            }
            if u64::from(id.width) == TILE_WIDTH {
                next.push(tile_root(&expected));
            }
        }
        below = next;
    }
    Ok(true)
}

/// Older partial versions of a tile (kept for older checkpoints) must be
/// prefixes of it.
fn check_partials(
    dir: &TileDir,
    id: &TileId,
    canonical: &[u8],
) -> Result<Option<Finding>, VerifyError> {
    let widths = dir
        .partial_widths(id.kind, id.index)
        .map_err(VerifyError::Read)?;
    for w in widths {
        if w >= id.width {
            continue;
        }
        let partial = TileId { width: w, ..*id };
        let Some(bytes) = dir
            .read_file(&dir.path_of(&partial))
            .map_err(VerifyError::Read)?
        else {
            continue;
        };
        let want = match id.kind {
            TileKind::Entries => {
                let entries = parse_bundle(canonical).unwrap_or_default();
                crate::tile::encode_bundle(entries.into_iter().take(usize::from(w)))
            }
            TileKind::Hashes(_) => canonical[..usize::from(w) * HASH_SIZE].to_vec(),
        };
        if bytes != want {
            let per = match id.kind {
                TileKind::Entries => HASH_SIZE + 2,
                TileKind::Hashes(_) => HASH_SIZE,
            };
            let at = bytes
                .iter()
                .zip(&want)
                .position(|(a, b)| a != b)
                .unwrap_or(bytes.len().min(want.len()))
                / per;
            return Ok(Some(exact(
                partial.leaf_index(at as u64),
                format!(
                    "the older partial {} differs from the tile",
                    partial.describe()
                ),
            )));
        }
    }
    Ok(None)
}

#[allow(clippy::too_many_arguments)]
fn check_entries(
    dir: &TileDir,
    reader: &mut TileReader<'_>,
    size: u64,
    root: Hash,
    proofs_ok: bool,
    entries: &[NamedEntry],
    coverage: Coverage,
    findings: &mut Vec<Finding>,
) -> Result<usize, VerifyError> {
    let mut bundles: HashMap<u64, Vec<Vec<u8>>> = HashMap::new();
    let mut sorted: Vec<&NamedEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.index);
    let mut checked = 0;
    if coverage == Coverage::All {
        let mut expected = 0u64;
        let mut problem = None;
        for e in &sorted {
            if e.index < expected {
                problem = Some(exact(e.index, "two entries were given for this index"));
                break;
            }
            if e.index > expected {
                problem = Some(exact(expected, "no entry was given for this index"));
                break;
            }
            expected += 1;
        }
        if problem.is_none() && expected < size {
            problem = Some(exact(expected, "no entry was given for this index"));
        }
        findings.extend(problem);
    }
    for named in sorted {
        let index = named.index;
        if index >= size {
            findings.push(exact(
                index,
                format!("the entry is beyond the log's {size} entries"),
            ));
            break;
        }
        let commitment = named.entry.commitment(&named.salt);
        let n = index / TILE_WIDTH;
        if let std::collections::hash_map::Entry::Vacant(v) = bundles.entry(n) {
            let id = crate::tile::tile_in_tree(TileKind::Entries, n, size).ok_or(
                VerifyError::Read(TileError::Missing {
                    what: format!("entry bundle {n}"),
                    first_index: n * TILE_WIDTH,
                }),
            )?;
            match dir.read_entries(&id) {
                Ok(e) => {
                    v.insert(e);
                }
                Err(e) => {
                    findings.push(finding_or_read(e)?);
                    break;
                }
            }
        }
        let logged = bundles
            .get(&n)
            .and_then(|b| b.get((index % TILE_WIDTH) as usize));
        if logged.map(Vec::as_slice) != Some(&commitment.0.0[..]) {
            findings.push(exact(
                index,
                "the entry and its salt do not match the commitment logged at this index (changed, deleted, reordered or inserted)",
            ));
            break;
        }
        if proofs_ok {
            let proof = match merkle::inclusion_proof(reader, index, size) {
                Ok(p) => p,
                Err(e) => {
                    findings.push(finding_or_read(e)?);
                    break;
                }
            };
            if merkle::verify_inclusion(&commitment.leaf_hash(), index, size, &proof, &root)
                .is_err()
            {
                findings.push(exact(
                    index,
                    "the entry's inclusion proof does not lead to the checkpoint's root",
                ));
                break;
            }
        }
        checked += 1;
    }
    Ok(checked)
}
