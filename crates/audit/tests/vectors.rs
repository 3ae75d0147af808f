//! The published RFC 6962 test vectors of transparency-dev/merkle (see
//! `data/SOURCE.md`): leaf and node hashes, roots, and every inclusion and
//! consistency probe (valid ones must verify, invalid ones must not), and
//! our generated proofs equal the valid probes' proofs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use halsohub_audit::Hash;
use halsohub_audit::hash::leaf_hash;
use halsohub_audit::merkle::{self, HashSource, MemoryTree};
use serde_json::Value;

fn vectors() -> Value {
    let text = include_str!("data/rfc6962_vectors.json");
    serde_json::from_str(text).expect("the vendored vectors are JSON")
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hash_hex(v: &Value) -> Hash {
    Hash::from_slice(&hex(v.as_str().expect("string"))).expect("32 bytes")
}

/// A base64 root or proof hash. Some probes hold roots that are not 32
/// bytes, which the Go verifier compares as opaque bytes; those stand in as
/// a SHA-256 of their bytes (equal values stay equal, and none can verify a
/// proof).
fn b64(v: &Value) -> Option<Hash> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str()?)
        .ok()?;
    Some(
        Hash::from_slice(&bytes)
            .unwrap_or_else(|| halsohub_audit::hash::sha256(&[b"not a 32-byte value: ", &bytes])),
    )
}

/// A leaf hash must be 32 bytes; anything else cannot be passed at all.
fn leaf(v: &Value) -> Option<Hash> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str()?)
        .ok()?;
    Hash::from_slice(&bytes)
}

/// A probe's hash list.
fn proof(v: &Value) -> Option<Vec<Hash>> {
    match v {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(b64).collect(),
        _ => None,
    }
}

fn tree(v: &Value) -> MemoryTree {
    let leaves: Vec<Vec<u8>> = v["leaf_inputs_hex"]
        .as_array()
        .expect("leaves")
        .iter()
        .map(|l| hex(l.as_str().expect("hex")))
        .collect();
    MemoryTree::from_leaf_hashes(leaves.iter().map(|l| leaf_hash(l)))
}

#[test]
fn leaf_node_and_root_hashes_match() {
    let v = vectors();
    let mut t = tree(&v);
    for (level, hashes) in v["node_hashes_hex"]
        .as_array()
        .expect("levels")
        .iter()
        .enumerate()
    {
        for (index, h) in hashes.as_array().expect("level").iter().enumerate() {
            assert_eq!(
                t.node(level as u8, index as u64).unwrap(),
                hash_hex(h),
                "node {level}/{index}"
            );
        }
    }
    for (size, h) in v["root_hashes_hex"]
        .as_array()
        .expect("roots")
        .iter()
        .enumerate()
    {
        assert_eq!(
            t.root_at(size as u64).unwrap(),
            hash_hex(h),
            "root of size {size}"
        );
    }
}

#[test]
fn every_inclusion_probe_verifies_exactly_when_it_should() {
    let v = vectors();
    let mut t = tree(&v);
    let roots: Vec<Hash> = v["root_hashes_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash_hex)
        .collect();
    let probes = v["inclusion"].as_array().expect("probes");
    assert!(probes.len() > 90);
    let mut generated = 0;
    for p in probes {
        let file = p["file"].as_str().unwrap_or("?");
        let want_err = p["wantErr"].as_bool().expect("wantErr");
        let index = p["leafIdx"].as_u64().expect("leafIdx");
        let size = p["treeSize"].as_u64().expect("treeSize");
        let result = match (leaf(&p["leafHash"]), b64(&p["root"]), proof(&p["proof"])) {
            (Some(leaf), Some(root), Some(path)) => {
                merkle::verify_inclusion(&leaf, index, size, &path, &root)
            }
            _ => Err(merkle::ProofError::RootMismatch),
        };
        assert_eq!(result.is_err(), want_err, "{file}: {result:?}");
        // Valid probes over the vectors' tree: our proof is theirs.
        if !want_err && size <= 8 && b64(&p["root"]) == Some(roots[size as usize]) {
            let ours = merkle::inclusion_proof(&mut t, index, size).unwrap();
            assert_eq!(Some(ours), proof(&p["proof"]), "{file}");
            generated += 1;
        }
    }
    assert!(generated >= 5, "only {generated} probes compared");
}

#[test]
fn every_consistency_probe_verifies_exactly_when_it_should() {
    let v = vectors();
    let mut t = tree(&v);
    let roots: Vec<Hash> = v["root_hashes_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(hash_hex)
        .collect();
    let probes = v["consistency"].as_array().expect("probes");
    assert!(probes.len() > 90);
    let mut generated = 0;
    for p in probes {
        let file = p["file"].as_str().unwrap_or("?");
        let want_err = p["wantErr"].as_bool().expect("wantErr");
        let size1 = p["size1"].as_u64().expect("size1");
        let size2 = p["size2"].as_u64().expect("size2");
        let result = match (b64(&p["root1"]), b64(&p["root2"]), proof(&p["proof"])) {
            (Some(r1), Some(r2), Some(path)) => {
                merkle::verify_consistency(size1, size2, &r1, &r2, &path)
            }
            _ => Err(merkle::ProofError::RootMismatch),
        };
        assert_eq!(result.is_err(), want_err, "{file}: {result:?}");
        if !want_err
            && size2 <= 8
            && b64(&p["root1"]) == Some(roots[size1 as usize])
            && b64(&p["root2"]) == Some(roots[size2 as usize])
        {
            let ours = merkle::consistency_proof(&mut t, size1, size2).unwrap();
            assert_eq!(Some(ours), proof(&p["proof"]), "{file}");
            generated += 1;
        }
    }
    assert!(generated >= 5, "only {generated} probes compared");
}
