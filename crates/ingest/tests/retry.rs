//! `retry_unit_quarantine`: rows quarantined for their unit under an older
//! rule are read again by today's rules and loaded as a new snapshot; the
//! rest stay quarantined; nothing is read twice.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

use std::path::Path;

use chrono::NaiveDate;
use common::*;
use halsohub_identity::{Form, Personnummer, Pseudonymiser};
use halsohub_ingest::{NoProgress, open_unit_quarantine, retry_unit_quarantine};
use halsohub_store::{Domain, QuarantineRecord, SourceFile, Store};
use sha2::Digest;

fn quarantined(store: &Path) -> Vec<(u64, String)> {
    let mut q: Vec<(u64, String)> = Store::open(store)
        .unwrap()
        .snapshot(None)
        .unwrap()
        .quarantine()
        .unwrap()
        .into_iter()
        .map(|q| (q.line, q.reason))
        .collect();
    q.sort();
    q
}

#[test]
fn unit_quarantine_is_retried_into_a_new_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Personnummer::from_parts(NaiveDate::from_ymd_opt(1950, 3, 4).unwrap(), 123, false)
        .unwrap()
        .format(Form::Twelve);
    // Line 2: PSA in ng/L, which converts (an older rule refused it).
    // Line 3: CRP in mmol/L, which never converts. Line 4: accepted at once.
    let content = format!(
        "personnummer\tprovtagningstid\tanalyskod\tkodsystem\tresultat\tenhet\treferensintervall\n\
         {a}\t2023-02-01 08:30\tNPU08669\tNPU\t3500\tng/L\t\n\
         {a}\t2023-02-01 08:30\tNPU19748\tNPU\t5\tmmol/L\t\n\
         {a}\t2023-02-01 08:30\tNPU27300\tNPU\t52\tmmol/mol\t\n"
    );
    let f = write(tmp.path(), "region_12/lab.tsv", content.as_bytes());
    let store_dir = tmp.path().join("store");
    let key = key();

    // The delivery as loaded under the old rule: line 4 an event, lines 2
    // and 3 quarantined as incompatible_unit. (Written through the store's
    // own load API, as the old ingest did.)
    {
        let store = Store::open_for_load(&store_dir, &key.fingerprint()).unwrap();
        let mut w = store.begin_load().unwrap();
        let shown = f.display().to_string();
        w.add_source(SourceFile {
            path: shown.clone(),
            sha256: hex::encode(sha2::Sha256::digest(content.as_bytes())),
            format: "lab".to_owned(),
        })
        .unwrap();
        let rec = |line| QuarantineRecord {
            source_file: shown.clone(),
            line,
            reason: "incompatible_unit".to_owned(),
            detail: "enhet: unit cannot be converted (old rule)".to_owned(),
            identity: None,
        };
        w.write_quarantine(&[rec(2), rec(3)]).unwrap();
        w.commit(serde_json::json!({})).unwrap();
    }
    let store = Store::open_for_load(&store_dir, &key.fingerprint()).unwrap();
    let open = open_unit_quarantine(&store).unwrap();
    assert_eq!(open.values().next().unwrap().len(), 2, "{open:?}");

    // A file that is not a source of the store is not read.
    let other = write(
        tmp.path(),
        "other/lab.tsv",
        content.replace("3500", "3600").as_bytes(),
    );
    let ps = Pseudonymiser::new(&key);
    let r = retry_unit_quarantine(
        &store,
        &ps,
        &[f.clone(), other],
        &options(reference()),
        &NoProgress,
    )
    .unwrap();
    assert!(r.committed(), "{r}");
    assert_eq!(r.totals.rows_read, 2, "only the two waiting lines: {r}");
    assert_eq!(r.totals.rows_accepted, 1);
    assert_eq!(
        r.totals.rejected_by_reason.get("incompatible_unit"),
        Some(&1)
    );
    let retry = r.retry.as_ref().unwrap();
    assert_eq!(retry.retried(), 2);
    assert_eq!(r.skipped.len(), 1);
    assert!(r.skipped[0].reason.contains("not a source"), "{r}");
    let text = r.to_string();
    assert!(
        text.contains("2 quarantined row(s) read again: 1 now accepted, 1 quarantined again"),
        "{text}"
    );

    // The PSA value is now an event, in the canonical unit (µg/L).
    let ev = events(&store_dir);
    let psa: Vec<_> = ev.iter().filter(|(_, e)| e.code == "NPU08669").collect();
    assert_eq!(psa.len(), 1);
    assert_eq!(psa[0].1.domain, Domain::LabResult);
    assert_eq!(psa[0].1.value, Some(3.5));
    assert_eq!(psa[0].1.unit.as_deref(), Some("ug/L"));
    // The CRP row is quarantined again, same line.
    assert_eq!(
        quarantined(&store_dir),
        vec![(3, "incompatible_unit".to_owned())]
    );

    // Only line 3 waits now; a second retry reads it alone, and adds no
    // second PSA event.
    let open = open_unit_quarantine(&store).unwrap();
    assert_eq!(
        open.values()
            .next()
            .unwrap()
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![3]
    );
    let r2 = retry_unit_quarantine(&store, &ps, &[f], &options(reference()), &NoProgress).unwrap();
    assert_eq!(r2.totals.rows_read, 1, "{r2}");
    assert_eq!(r2.totals.rows_accepted, 0);
    let psa = events(&store_dir)
        .into_iter()
        .filter(|(_, e)| e.code == "NPU08669")
        .count();
    assert_eq!(psa, 1);
}

#[test]
fn nothing_waiting_commits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let f = write(
        tmp.path(),
        "dors.txt",
        b"PERSONNR;DODSDATUM;ULORSAK;MORSAK\r\n195003041234;20240101;I10;\r\n",
    );
    let store_dir = tmp.path().join("store");
    load(&store_dir, std::slice::from_ref(&f), &options(reference())).unwrap();
    let before = current(&store_dir);
    let key = key();
    let store = Store::open_for_load(&store_dir, &key.fingerprint()).unwrap();
    let r = retry_unit_quarantine(
        &store,
        &Pseudonymiser::new(&key),
        &[f],
        &options(reference()),
        &NoProgress,
    )
    .unwrap();
    assert!(!r.committed());
    assert_eq!(current(&store_dir), before);
}
