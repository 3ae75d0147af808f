//! Property tests against a deliberately simple reference: the recursive
//! definitions of RFC 6962 §2.1 (MTH, PATH, PROOF/SUBPROOF) over a slice of
//! leaf data, written straight from the text. The fast paths — the
//! in-memory tree, the tiles an appender writes, the RFC 9162 verifiers —
//! must agree with it at random sizes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use halsohub_audit::hash::{Hash, empty_root, leaf_hash, node_hash, sha256};
use halsohub_audit::merkle::{self, MemoryTree};
use halsohub_audit::tile::{TileDir, TileReader};
use halsohub_audit::{Appender, Commitment, KeyRole, NoteSigner};
use proptest::prelude::*;

mod reference {
    use super::*;

    /// The largest power of two smaller than n.
    fn k(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// MTH(D[n]).
    pub fn mth(d: &[Vec<u8>]) -> Hash {
        match d.len() {
            0 => empty_root(),
            1 => leaf_hash(&d[0]),
            n => {
                let k = k(n);
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    /// PATH(m, D[n]).
    pub fn path(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
        let n = d.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = k(n);
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    /// PROOF(m, D[n]) = SUBPROOF(m, D[n], true).
    pub fn proof(m: usize, d: &[Vec<u8>]) -> Vec<Hash> {
        if m == 0 {
            return Vec::new();
        }
        subproof(m, d, true)
    }

    fn subproof(m: usize, d: &[Vec<u8>], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(d)] };
        }
        let k = k(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }
}

fn leaves(n: usize, seed: u64) -> Vec<Vec<u8>> {
    (0..n as u64)
        .map(|i| sha256(&[&seed.to_be_bytes(), &i.to_be_bytes()]).0.to_vec())
        .collect()
}

fn memory(d: &[Vec<u8>]) -> MemoryTree {
    MemoryTree::from_leaf_hashes(d.iter().map(|l| leaf_hash(l)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn roots_match_the_reference(n in 0usize..700, seed in any::<u64>(), cut in any::<prop::sample::Index>()) {
        let d = leaves(n, seed);
        let mut t = memory(&d);
        prop_assert_eq!(t.root_at(n as u64).unwrap(), reference::mth(&d));
        let m = cut.index(n + 1);
        prop_assert_eq!(t.root_at(m as u64).unwrap(), reference::mth(&d[..m]));
    }

    #[test]
    fn inclusion_proofs_match_the_reference_and_verify(
        n in 1usize..700,
        seed in any::<u64>(),
        at in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
    ) {
        let d = leaves(n, seed);
        let mut t = memory(&d);
        let m = at.index(n);
        let proof = merkle::inclusion_proof(&mut t, m as u64, n as u64).unwrap();
        prop_assert_eq!(&proof, &reference::path(m, &d));
        let root = reference::mth(&d);
        let leaf = leaf_hash(&d[m]);
        prop_assert!(merkle::verify_inclusion(&leaf, m as u64, n as u64, &proof, &root).is_ok());
        // Any changed hash, another index or a shorter proof fails.
        if !proof.is_empty() {
            let mut bad = proof.clone();
            bad[flip.index(proof.len())].0[0] ^= 1;
            prop_assert!(merkle::verify_inclusion(&leaf, m as u64, n as u64, &bad, &root).is_err());
            prop_assert!(merkle::verify_inclusion(&leaf, m as u64, n as u64, &proof[1..], &root).is_err());
            let other = (m + 1) % n;
            prop_assert!(merkle::verify_inclusion(&leaf, other as u64, n as u64, &proof, &root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_match_the_reference_and_verify(
        n in 1usize..700,
        seed in any::<u64>(),
        at in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
    ) {
        let d = leaves(n, seed);
        let mut t = memory(&d);
        let m = at.index(n) + 1;
        let proof = merkle::consistency_proof(&mut t, m as u64, n as u64).unwrap();
        prop_assert_eq!(&proof, &reference::proof(m, &d));
        let (r1, r2) = (reference::mth(&d[..m]), reference::mth(&d));
        prop_assert!(merkle::verify_consistency(m as u64, n as u64, &r1, &r2, &proof).is_ok());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            bad[flip.index(proof.len())].0[31] ^= 0x80;
            prop_assert!(merkle::verify_consistency(m as u64, n as u64, &r1, &r2, &bad).is_err());
        }
        // A different first tree of the same size is not consistent.
        if m < n {
            let other = reference::mth(&leaves(m, seed ^ 1));
            prop_assert!(merkle::verify_consistency(m as u64, n as u64, &other, &r2, &proof).is_err());
        }
    }
}

proptest! {
    // Each case writes a log with fsyncs: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// The tiles an appender writes, in random batches, give the
    /// reference's roots and proofs at every checkpoint and random sizes.
    #[test]
    fn tiles_written_in_random_batches_match_the_reference(
        batches in prop::collection::vec(1usize..300, 1..6),
        seed in any::<u64>(),
        picks in prop::collection::vec(any::<(prop::sample::Index, prop::sample::Index)>(), 4),
    ) {
        let total: usize = batches.iter().sum();
        let d = leaves(total, seed);
        let tmp = tempfile::tempdir().unwrap();
        let signer = NoteSigner::from_seed("example.org/p", KeyRole::Log, &[5; 32]).unwrap();
        let mut log = Appender::create(tmp.path(), "example.org/p", signer).unwrap();
        let mut size = 0;
        for b in &batches {
            let commitments: Vec<Commitment> = d[size..size + b]
                .iter()
                .map(|l| Commitment(Hash::from_slice(l).unwrap()))
                .collect();
            let appended = log.append(&commitments).unwrap();
            size += b;
            prop_assert_eq!(appended.checkpoint.checkpoint.root, reference::mth(&d[..size]));
        }
        let dir = TileDir::new(tmp.path());
        for (a, b) in picks {
            let n = b.index(total) + 1;
            let m = a.index(n);
            let mut reader = TileReader::new(&dir, total as u64);
            prop_assert_eq!(merkle::root(&mut reader, n as u64).unwrap(), reference::mth(&d[..n]));
            prop_assert_eq!(
                merkle::inclusion_proof(&mut reader, m as u64, n as u64).unwrap(),
                reference::path(m, &d[..n])
            );
            prop_assert_eq!(
                merkle::consistency_proof(&mut reader, m as u64, n as u64).unwrap(),
                reference::proof(m, &d[..n])
            );
            prop_assert_eq!(log.inclusion_proof(m as u64, n as u64).unwrap(), reference::path(m, &d[..n]));
        }
    }
}
