//! The library refuses a load whose key file lies inside the store, or
//! whose key is not the store's, before anything is read: a caller of
//! `ingest` cannot skip the checks (they used to stand in the binary).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use halsohub_identity::{HubKey, Pseudonymiser};
use halsohub_ingest::{IngestError, IngestOptions, NoProgress, ingest};
use halsohub_store::{Store, StoreError};

const POPULATION: &str = "PERSONNR;KON;FODELSEDATUM;LAN;KOMMUN;FRAN_DATUM;TILL_DATUM;INVANDRING_DATUM;UTVANDRING_DATUM\n";

#[test]
fn a_key_inside_the_store_or_another_stores_key_is_refused_by_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let outside = HubKey::init(&dir.path().join("hub.key")).unwrap();
    // the store is opened with the inside key's fingerprint, so only its
    // place can refuse it
    let inside = HubKey::init(&dir.path().join("staging").join("hub.key")).unwrap();
    std::fs::create_dir_all(&store_dir).unwrap();
    let store = Store::open_for_load(&store_dir, &outside.fingerprint()).unwrap();
    let moved = store_dir.join("keys").join("hub.key");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(dir.path().join("staging").join("hub.key"), &moved).unwrap();
    let inside_loaded = HubKey::load(&moved).unwrap();
    assert_eq!(inside_loaded.fingerprint(), inside.fingerprint());
    let data = dir.path().join("population.csv");
    std::fs::write(&data, POPULATION).unwrap();
    let opts = IngestOptions::default();

    let err = ingest(
        &store,
        &Pseudonymiser::new(&inside_loaded),
        std::slice::from_ref(&data),
        &opts,
        &NoProgress,
    )
    .unwrap_err();
    assert!(
        matches!(err, IngestError::Store(StoreError::KeyInsideStore { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("inside the store"), "{err}");

    // a key outside the store that is not the store's
    let other = HubKey::init(&dir.path().join("other.key")).unwrap();
    let err = ingest(
        &store,
        &Pseudonymiser::new(&other),
        std::slice::from_ref(&data),
        &opts,
        &NoProgress,
    )
    .unwrap_err();
    assert!(
        matches!(err, IngestError::Store(StoreError::KeyMismatch { .. })),
        "{err}"
    );
    assert!(store.snapshots().unwrap().is_empty(), "nothing was loaded");

    // the store's own key, kept outside it, loads
    let report = ingest(
        &store,
        &Pseudonymiser::new(&outside),
        &[data],
        &opts,
        &NoProgress,
    )
    .unwrap();
    assert_eq!(report.key_fingerprint, outside.fingerprint());
}
