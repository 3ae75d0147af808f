//! `verify` from tiles and checkpoints alone: an untouched log passes; each
//! kind of tampering (change, delete, reorder, insert) of entry bundles,
//! tiles or database entries fails and names the first bad index; forged,
//! forked and inconsistent checkpoints fail; witness cosignatures verify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

use common::{ORIGIN, TestLog, build, log_key, trust, witness_key};
use halsohub_audit::hash::{leaf_hash, sha256};
use halsohub_audit::{
    Checkpoint, Coverage, KeyRole, NoteSigner, SignedCheckpoint, VerifyError, Witness, verify,
};

/// 600 entries: tiles 0 and 1 full, tile 2 partial (88), with older
/// partials of tile 2 kept for older checkpoints (at 550 and 580).
fn log600() -> TestLog {
    build(&[3, 100, 197, 250, 30, 20])
}

fn first_bad(result: Result<halsohub_audit::Report, VerifyError>) -> u64 {
    match result {
        Err(e) => e
            .first_bad_index()
            .unwrap_or_else(|| panic!("not a tampering error: {e}")),
        Ok(r) => panic!("verification passed: {r:?}"),
    }
}

#[test]
fn an_untouched_log_verifies_with_every_entry_and_checkpoint() {
    let log = log600();
    assert!(log.path().join("tile/0/002.p/68").exists());
    assert!(!log.path().join("tile/0/001.p").exists());
    let report = log.verify_all().unwrap();
    assert_eq!(report.size, 600);
    assert_eq!(report.entries, 600);
    assert_eq!(report.checkpoints, 7);
    // Tiles alone, with the current checkpoint only.
    let current = halsohub_audit::read_checkpoint(log.path()).unwrap();
    assert_eq!(&current, log.checkpoints.last().unwrap());
    verify(log.path(), &[current], &trust(), &[], Coverage::Some).unwrap();
}

// --- Tampering with the entry bundles (the published commitments) ---

#[test]
fn a_changed_entry_in_a_bundle_names_its_index() {
    for index in [0u64, 300, 520] {
        let log = log600();
        let rel = match index / 256 {
            0 => "tile/entries/000",
            1 => "tile/entries/001",
            _ => "tile/entries/002.p/88",
        };
        let mut entries = log.read_bundle(rel);
        entries[(index % 256) as usize][0] ^= 0x40;
        log.write_bundle(rel, &entries);
        assert_eq!(first_bad(log.verify_all()), index, "changed {index}");
    }
}

#[test]
fn a_deleted_entry_in_a_bundle_names_its_index() {
    let log = log600();
    let mut entries = log.read_bundle("tile/entries/001");
    entries.remove(44);
    log.write_bundle("tile/entries/001", &entries);
    assert_eq!(first_bad(log.verify_all()), 256 + 44);

    let log = log600();
    let mut entries = log.read_bundle("tile/entries/002.p/88");
    entries.remove(8);
    log.write_bundle("tile/entries/002.p/88", &entries);
    assert_eq!(first_bad(log.verify_all()), 520);
}

#[test]
fn reordered_entries_in_a_bundle_name_the_first() {
    let log = log600();
    let mut entries = log.read_bundle("tile/entries/000");
    entries.swap(17, 200);
    log.write_bundle("tile/entries/000", &entries);
    assert_eq!(first_bad(log.verify_all()), 17);
}

#[test]
fn an_inserted_entry_in_a_bundle_names_its_index() {
    let log = log600();
    let mut entries = log.read_bundle("tile/entries/002.p/88");
    entries.insert(30, sha256(&[b"forged"]).0.to_vec());
    log.write_bundle("tile/entries/002.p/88", &entries);
    assert_eq!(first_bad(log.verify_all()), 512 + 30);
}

// --- Tampering with the tiles ---

#[test]
fn a_changed_leaf_hash_in_a_tile_names_its_index() {
    let log = log600();
    let mut hashes = log.read_tile("tile/0/001");
    hashes[5][31] ^= 1;
    log.write_tile("tile/0/001", &hashes);
    assert_eq!(first_bad(log.verify_all()), 261);
}

#[test]
fn a_deleted_tile_names_its_first_index() {
    let log = log600();
    fs::remove_file(log.path().join("tile/0/001")).unwrap();
    assert_eq!(first_bad(log.verify_all()), 256);
    let log = log600();
    fs::remove_file(log.path().join("tile/entries/000")).unwrap();
    assert_eq!(first_bad(log.verify_all()), 0);
}

#[test]
fn a_truncated_tile_names_the_first_missing_index() {
    let log = log600();
    let path = log.path().join("tile/0/002.p/88");
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..40 * 32]).unwrap();
    assert_eq!(first_bad(log.verify_all()), 512 + 40);
}

#[test]
fn a_changed_older_partial_tile_names_its_index() {
    let log = log600();
    let mut hashes = log.read_tile("tile/0/002.p/38");
    hashes[20][0] ^= 1;
    log.write_tile("tile/0/002.p/38", &hashes);
    assert_eq!(first_bad(log.verify_all()), 532);
}

#[test]
fn a_changed_level_1_tile_names_the_range_of_its_hash() {
    let log = log600();
    let mut hashes = log.read_tile("tile/1/000.p/2");
    hashes[1][3] ^= 1;
    log.write_tile("tile/1/000.p/2", &hashes);
    let err = log.verify_all().unwrap_err();
    let VerifyError::Tampered { first, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!((first.index, first.range_end), (256, Some(512)), "{err}");
}

/// Someone rewrites an entry and its leaf hash consistently (bundle and
/// level-0 tile agree): only the hashes above and the signed roots show
/// it. The finding is the smallest range the evidence isolates, and it
/// holds the changed index.
#[test]
fn a_consistent_rewrite_of_bundle_and_tile_is_caught_by_the_roots() {
    let log = log600();
    let forged = sha256(&[b"forged"]).0.to_vec();
    let mut entries = log.read_bundle("tile/entries/002.p/88");
    entries[70] = forged.clone();
    log.write_bundle("tile/entries/002.p/88", &entries);
    let mut hashes = log.read_tile("tile/0/002.p/88");
    hashes[70] = leaf_hash(&forged).0.to_vec();
    log.write_tile("tile/0/002.p/88", &hashes);
    let err = log.verify_all().unwrap_err();
    let VerifyError::Tampered { first, .. } = &err else {
        panic!("{err}");
    };
    // 582 was appended in the last batch (580..600).
    assert_eq!((first.index, first.range_end), (580, Some(600)), "{err}");

    // In a full tile, the level-1 tile catches it.
    let log = log600();
    let mut entries = log.read_bundle("tile/entries/001");
    entries[9] = forged.clone();
    log.write_bundle("tile/entries/001", &entries);
    let mut hashes = log.read_tile("tile/0/001");
    hashes[9] = leaf_hash(&forged).0.to_vec();
    log.write_tile("tile/0/001", &hashes);
    let err = log.verify_all().unwrap_err();
    let VerifyError::Tampered { first, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!((first.index, first.range_end), (256, Some(512)), "{err}");
}

// --- Tampering with the database (entries and salts) ---

#[test]
fn a_changed_database_entry_names_its_index() {
    let log = log600();
    let mut entries = log.entries.clone();
    entries[412].entry.actor = "someone else".to_owned();
    assert_eq!(first_bad(log.verify_entries(&entries)), 412);
    let mut entries = log.entries.clone();
    entries[3].salt = halsohub_audit::Salt([0; 32]);
    assert_eq!(first_bad(log.verify_entries(&entries)), 3);
}

#[test]
fn a_deleted_database_entry_names_its_index() {
    let log = log600();
    // Deleted, the others keeping their indices.
    let mut entries = log.entries.clone();
    entries.remove(150);
    assert_eq!(first_bad(log.verify_entries(&entries)), 150);
    // Deleted, the rows renumbered.
    let mut entries = log.entries.clone();
    entries.remove(150);
    for (i, e) in entries.iter_mut().enumerate() {
        e.index = i as u64;
    }
    assert_eq!(first_bad(log.verify_entries(&entries)), 150);
    // The last one deleted.
    let mut entries = log.entries.clone();
    entries.pop();
    assert_eq!(first_bad(log.verify_entries(&entries)), 599);
}

#[test]
fn reordered_database_entries_name_the_first() {
    let log = log600();
    let mut entries = log.entries.clone();
    let (a, b) = (entries[77].entry.clone(), entries[78].entry.clone());
    entries[77].entry = b;
    entries[78].entry = a;
    assert_eq!(first_bad(log.verify_entries(&entries)), 77);
}

#[test]
fn an_inserted_database_entry_names_its_index() {
    let log = log600();
    let mut entries = log.entries.clone();
    let mut forged = entries[10].clone();
    forged.entry.subject = "forged".to_owned();
    entries.insert(10, forged);
    for (i, e) in entries.iter_mut().enumerate() {
        e.index = i as u64;
    }
    assert_eq!(first_bad(log.verify_entries(&entries)), 10);
    // Two rows claiming one index.
    let mut entries = log.entries.clone();
    let mut twin = entries[10].clone();
    twin.entry.subject = "twin".to_owned();
    entries.push(twin);
    assert_eq!(first_bad(log.verify_entries(&entries)), 10);
}

#[test]
fn a_named_entry_alone_is_checked_for_inclusion() {
    let log = log600();
    let one = vec![log.entries[599].clone()];
    let report = verify(log.path(), &log.checkpoints, &trust(), &one, Coverage::Some).unwrap();
    assert_eq!(report.entries, 1);
    let mut beyond = log.entries[599].clone();
    beyond.index = 600;
    let err = verify(
        log.path(),
        &log.checkpoints,
        &trust(),
        &[beyond],
        Coverage::Some,
    )
    .unwrap_err();
    assert_eq!(err.first_bad_index(), Some(600));
}

// --- Checkpoints ---

#[test]
fn a_forged_checkpoint_fails_its_signature() {
    let log = log600();
    let mut checkpoints = log.checkpoints.clone();
    let last = checkpoints.pop().unwrap();
    checkpoints.push(last.replacen("\n600\n", "\n599\n", 1));
    let err = verify(log.path(), &checkpoints, &trust(), &[], Coverage::Some).unwrap_err();
    assert!(
        matches!(err, VerifyError::Checkpoint { which: 6, .. }),
        "{err}"
    );

    let stranger = NoteSigner::from_seed(ORIGIN, KeyRole::Log, &[99; 32]).unwrap();
    let forged = Checkpoint {
        origin: ORIGIN.to_owned(),
        size: 600,
        root: sha256(&[b"x"]),
    }
    .sign(&stranger)
    .unwrap()
    .to_text();
    let err = verify(log.path(), &[forged], &trust(), &[], Coverage::Some).unwrap_err();
    assert!(
        matches!(err, VerifyError::Checkpoint { which: 0, .. }),
        "{err}"
    );
    assert!(verify(log.path(), &[], &trust(), &[], Coverage::Some).is_err());
}

#[test]
fn two_roots_for_one_size_are_a_fork() {
    let log = log600();
    let mut checkpoints = log.checkpoints.clone();
    let fork = Checkpoint {
        origin: ORIGIN.to_owned(),
        size: 300,
        root: sha256(&[b"another history"]),
    }
    .sign(&log_key())
    .unwrap();
    checkpoints.push(fork.to_text());
    let err = verify(log.path(), &checkpoints, &trust(), &[], Coverage::Some).unwrap_err();
    assert!(matches!(err, VerifyError::Fork { size: 300 }), "{err}");
}

/// A checkpoint the log signed for another history (at a size no other
/// checkpoint has): the tiles do not hash to it, and the range runs from
/// the previous good checkpoint.
#[test]
fn a_checkpoint_of_another_history_is_found() {
    let log = log600();
    let other = build(&[450]);
    let mut checkpoints = log.checkpoints.clone();
    checkpoints.push(other.checkpoints[1].clone());
    let err = verify(log.path(), &checkpoints, &trust(), &[], Coverage::Some).unwrap_err();
    let VerifyError::Tampered { first, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!((first.index, first.range_end), (300, Some(450)), "{err}");
}

// --- Witnesses ---

#[test]
fn a_witness_cosigns_consistent_checkpoints_and_verifiers_require_it() {
    let log = log600();
    let mut witness = Witness::new(
        witness_key(),
        vec![log_key().verifier().clone()],
        ORIGIN,
        None,
    )
    .unwrap();
    let mut cosigned = Vec::new();
    for (i, text) in log.checkpoints.iter().enumerate() {
        let signed = witness
            .cosign_from_tiles(log.path(), text, 1_765_000_000 + i as u64)
            .unwrap();
        cosigned.push(signed.to_text());
    }
    assert_eq!(witness.last().unwrap().size, 600);
    let mut strict = trust();
    strict.min_witnesses = 1;
    let report = verify(log.path(), &cosigned, &strict, &log.entries, Coverage::All).unwrap();
    assert_eq!(
        report.witnesses,
        vec![("region.example.se/witness".to_owned(), 1_765_000_006)]
    );
    // Without the cosignatures the strict verifier refuses.
    let err = verify(log.path(), &log.checkpoints, &strict, &[], Coverage::Some).unwrap_err();
    assert!(matches!(err, VerifyError::TooFewWitnesses { .. }), "{err}");
    // A cosignature that does not verify fails the whole checkpoint.
    let bad = cosigned[6].replace("region.example.se/witness ", "region.example.se/witness A");
    assert!(
        SignedCheckpoint::parse(&bad).is_err()
            || verify(log.path(), &[bad], &strict, &[], Coverage::Some).is_err()
    );
}

#[test]
fn a_witness_refuses_a_fork_and_a_rollback() {
    let log = log600();
    let mut witness = Witness::new(
        witness_key(),
        vec![log_key().verifier().clone()],
        ORIGIN,
        None,
    )
    .unwrap();
    witness
        .cosign_from_tiles(log.path(), &log.checkpoints[3], 1)
        .unwrap();
    // Another history signed by the same key, larger than what was seen.
    let other = build(&[700]);
    let err = witness
        .cosign_from_tiles(other.path(), &other.checkpoints[1], 2)
        .unwrap_err();
    assert!(
        matches!(err, halsohub_audit::WitnessError::Inconsistent { .. }),
        "{err}"
    );
    // An older checkpoint.
    let err = witness
        .cosign_from_tiles(log.path(), &log.checkpoints[1], 3)
        .unwrap_err();
    assert!(
        matches!(err, halsohub_audit::WitnessError::Rollback { .. }),
        "{err}"
    );
    // A log key cannot act as a witness key.
    assert!(Witness::new(log_key(), vec![], ORIGIN, None).is_err());
    // The witness still follows the real log.
    witness
        .cosign_from_tiles(log.path(), &log.checkpoints[6], 4)
        .unwrap();
}
