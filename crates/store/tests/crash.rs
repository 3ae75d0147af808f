//! A load killed at any point leaves the previous snapshot current, intact
//! and readable. The test re-runs its own binary as a child process that
//! starts a load and aborts (a real `abort()`, no unwinding, no destructors)
//! mid-write or at a chosen point of the commit.
#![allow(clippy::unwrap_used, clippy::expect_used)] // outside #[test] fns: helpers and the crash child

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use common::*;
use halsohub_store::Store;

const CHILD_DIR: &str = "HALSOHUB_STORE_TEST_CHILD_DIR";
const CHILD_MODE: &str = "HALSOHUB_STORE_TEST_CHILD_MODE";

fn child(dir: &str, mode: &str) {
    let store = Store::open_for_load(std::path::Path::new(dir), FP).unwrap();
    let mut w = store.begin_load().unwrap();
    w.add_source(source(&format!("crash-{mode}"))).unwrap();
    w.write_persons(&[person(1, 'M'), person(500, 'F')])
        .unwrap();
    for chunk in 0..20u32 {
        let events: Vec<_> = (0..1000u32)
            .map(|i| event(i % 700, "I10", chunk + i % 30))
            .collect();
        w.write_events(&events).unwrap();
    }
    if mode == "mid_write" {
        std::process::abort();
    }
    // The library aborts at the failpoint named by HALSOHUB_STORE_FAILPOINT.
    w.commit(serde_json::json!({})).unwrap();
}

#[test]
fn kill_mid_load() {
    if let (Ok(dir), Ok(mode)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_MODE)) {
        child(&dir, &mode);
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("store");
    let store = Store::open_for_load(&root, FP).unwrap();
    let first = vec![event(1, "E119", 0), event(2, "I10", 1)];
    load(&store, "first", &first);

    let exe = std::env::current_exe().unwrap();
    for mode in [
        "mid_write",
        "before_rename",
        "after_rename",
        "after_current_tmp",
    ] {
        let status = Command::new(&exe)
            .args([
                "--exact",
                "kill_mid_load",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, &root)
            .env(CHILD_MODE, mode)
            .env("HALSOHUB_STORE_FAILPOINT", mode)
            .status()
            .unwrap();
        assert!(!status.success(), "{mode}: child should have died");
        assert_eq!(
            status.signal(),
            Some(6),
            "{mode}: child should have aborted"
        );
        // A reader sees the previous snapshot, whole.
        let reader = Store::open(&root).unwrap();
        assert_eq!(reader.current().unwrap().unwrap().0, "s000001", "{mode}");
        let snap = reader.snapshot(None).unwrap();
        assert_eq!(
            sorted(snap.events().unwrap().into_iter().map(|(_, e)| e).collect()),
            sorted(first.clone())
        );
        assert!(
            !reader
                .has_source(&source(&format!("crash-{mode}")).sha256)
                .unwrap()
        );
        // Opening for a load cleans the leftovers.
        let store = Store::open_for_load(&root, FP).unwrap();
        assert_eq!(
            std::fs::read_dir(root.join("tmp")).unwrap().count(),
            0,
            "{mode}"
        );
        assert!(!root.join("snapshots/s000002").exists(), "{mode}");
        assert!(!root.join("CURRENT.tmp").exists(), "{mode}");
        assert_eq!(store.snapshots().unwrap().len(), 1);
    }
    // And the store takes the next load normally.
    let store = Store::open_for_load(&root, FP).unwrap();
    assert_eq!(load(&store, "second", &[event(3, "J44", 2)]).0, "s000002");
    assert_eq!(store.snapshot(None).unwrap().manifest().events, 3);
}
