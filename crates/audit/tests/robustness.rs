//! No input makes verification or parsing panic: random bytes as
//! checkpoints, notes, keys and tiles; and every random corruption of a
//! real log's files is caught.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::PathBuf;

use common::{build, trust};
use halsohub_audit::{Checkpoint, Coverage, Note, SignedCheckpoint, VerifierKey, verify};
use proptest::prelude::*;

fn files(root: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("tile")];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), text in "\\PC{0,300}") {
        let lossy = String::from_utf8_lossy(&bytes).into_owned();
        for input in [lossy.as_str(), text.as_str()] {
            let _ = Note::parse(input);
            let _ = Checkpoint::from_text(input);
            let _ = SignedCheckpoint::parse(input);
            let _ = VerifierKey::parse(input);
            let _ = halsohub_audit::NoteSigner::parse_skey(input);
        }
    }

    #[test]
    fn structured_garbage_checkpoints_never_panic(
        size in any::<u64>(),
        name in "[a-z./]{1,20}",
        sig in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        use base64::Engine as _;
        let root = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let sig = base64::engine::general_purpose::STANDARD.encode(&sig);
        let text = format!("{name}\n{size}\n{root}\n\n\u{2014} {name} {sig}\n");
        let dir = tempfile::tempdir().unwrap();
        let result = verify(dir.path(), &[text], &trust(), &[], Coverage::Some);
        prop_assert!(result.is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Flip, cut or extend any file of a real log: verification fails
    /// (every byte of every tile and bundle is checked) and does not panic.
    #[test]
    fn every_corruption_of_a_log_file_is_caught(
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        how in 0u8..3,
        byte in 1u8..=255,
    ) {
        let log = build(&[5, 300, 40]);
        let all = files(log.path());
        let path = &all[pick.index(all.len())];
        let mut bytes = fs::read(path).unwrap();
        match how {
            0 => {
                let i = at.index(bytes.len());
                bytes[i] ^= byte;
            }
            1 => bytes.truncate(at.index(bytes.len())),
            _ => bytes.push(byte),
        }
        fs::write(path, &bytes).unwrap();
        let result = log.verify_all();
        prop_assert!(result.is_err(), "{} corrupted ({how}) and still verified", path.display());
    }

    /// Random files at random tile paths, random bytes in them: no panic.
    #[test]
    fn random_tile_files_never_panic(
        level in prop::sample::select(vec!["0", "1", "2", "entries"]),
        index in 0u64..3,
        width in prop::option::of(1u16..256),
        content in prop::collection::vec(any::<u8>(), 0..9000),
    ) {
        let log = build(&[3, 300]);
        let mut rel = format!("tile/{level}/{index:03}");
        if let Some(w) = width {
            rel.push_str(&format!(".p/{w}"));
        }
        let path = log.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        if !path.is_dir() {
            fs::write(&path, &content).unwrap();
        }
        let _ = log.verify_all();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A checkpoint the log really signed, of any size (up to 2^64 - 1):
    /// verification answers (it fails, the tiles are missing) without
    /// panicking or trying to read a tile per index.
    #[test]
    fn a_signed_checkpoint_of_any_size_is_answered(size in any::<u64>()) {
        let log = build(&[3, 300]);
        let root = halsohub_audit::hash::sha256(&[&size.to_be_bytes()]);
        let text = Checkpoint { origin: common::ORIGIN.to_owned(), size, root }
            .sign(&common::log_key())
            .unwrap()
            .to_text();
        let mut checkpoints = log.checkpoints.clone();
        checkpoints.push(text);
        let result = verify(log.path(), &checkpoints, &trust(), &log.entries, Coverage::Some);
        if size == 303 {
            let fork = matches!(result, Err(halsohub_audit::VerifyError::Fork { size: 303 }));
            prop_assert!(fork, "not a fork: {:?}", result);
        } else {
            prop_assert!(result.is_err());
        }
    }
}
