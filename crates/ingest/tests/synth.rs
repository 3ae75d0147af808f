//! A small synthetic population through the synth crate: the load report
//! agrees with synth's manifest (the ground truth of defects), a second load
//! adds nothing, and no identity number of the input appears anywhere in
//! the store.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;
use halsohub_store::Store;
use halsohub_synth::{Config, Summary, generate};

fn synth(dir: &Path, patients: u64, defect_rate: f64) -> Summary {
    let config = Config {
        patients,
        seed: 7,
        defect_rate,
        ..Config::default()
    };
    generate(&config, dir, &|_| {}).unwrap()
}

/// Every identity field of every input row, as the 10 digits after the
/// century (`YYMMDDNNNC`), which every written form contains.
fn input_ids(dir: &Path) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for entry in common::files_below(dir) {
        if entry.ends_with("manifest.json") {
            continue;
        }
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines().skip(1) {
            for field in line.split([';', ',', '\t']).take(2) {
                let digits: String = field.chars().filter(|c| c.is_ascii_digit()).collect();
                if digits.len() == 12 {
                    ids.insert(digits[2..].to_string());
                } else if digits.len() == 10 {
                    ids.insert(digits);
                }
            }
        }
    }
    ids
}

/// Text with separators dropped, so `YYMMDD-NNNC` is found as well.
fn digits_only_runs(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '-' | '+' | ' '))
        .collect()
}

#[test]
fn synthetic_population_loads_as_the_manifest_says() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("synth");
    let store_dir = tmp.path().join("store");
    let summary = synth(&src, 150, 0.05);
    let opts = options(summary.extract_date);
    let report = load(&store_dir, std::slice::from_ref(&src), &opts).unwrap();
    assert!(report.committed());
    assert!(report.notes.iter().any(|n| n.contains("manifest.json")));

    // Per file: rows, rejections by kind, unknown codes.
    let mut checked = 0;
    for (path, fs) in &summary.files {
        let Some(fr) = report
            .files
            .iter()
            .find(|f| f.path.ends_with(path.as_str()))
        else {
            assert_eq!(fs.rows, 0, "{path} missing from the report");
            continue;
        };
        checked += 1;
        let by = |k: &str| fr.rejected_by_reason.get(k).copied().unwrap_or(0);
        assert_eq!(fr.format, fs.format, "{path}");
        assert_eq!(fr.rows_read, fs.rows, "{path}: rows");
        assert_eq!(
            by("invalid_identity.bad_check_digit"),
            fs.defects.bad_check_digit,
            "{path}: bad check digits\n{fr:#?}"
        );
        assert_eq!(
            by("impossible_date"),
            fs.defects.impossible_date,
            "{path}: impossible dates\n{fr:#?}"
        );
        assert_eq!(
            by("missing_field"),
            fs.defects.missing_field,
            "{path}: missing fields\n{fr:#?}"
        );
        assert_eq!(
            by("duplicate_row"),
            fs.defects.exact_duplicate,
            "{path}: duplicates\n{fr:#?}"
        );
        assert_eq!(
            by("unparseable_value"),
            fs.defects.unparseable_value,
            "{path}: unparseable\n{fr:#?}"
        );
        assert_eq!(
            fr.rows_rejected,
            fs.defects.rejected(),
            "{path}: rejected\n{fr:#?}"
        );
        assert_eq!(
            fr.rows_with_unknown_codes, fs.defects.unknown_code,
            "{path}: unknown codes\n{fr:#?}"
        );
        assert_eq!(fr.rows_accepted + fr.rows_rejected, fr.rows_read);
        // An all-ASCII Windows-1252 file is also valid UTF-8 and read as such.
        if fs.encoding == "utf-8" {
            assert_eq!(fr.encoding, "utf-8", "{path}");
        }
    }
    assert!(checked >= 9, "only {checked} files compared");
    assert_eq!(report.totals.rows_read, summary.rows_total);
    assert_eq!(report.totals.id_changes, summary.population.id_changes);
    // Death dates with an unknown day or month are imputed, except on rows
    // rejected for another defect.
    let unknown =
        summary.population.death_dates_unknown_day + summary.population.death_dates_unknown_month;
    let dors_rejected: u64 = report
        .files
        .iter()
        .filter(|f| f.format == "cause_of_death")
        .map(|f| f.rows_rejected)
        .sum();
    assert!(report.totals.imputed_dates <= unknown);
    assert!(report.totals.imputed_dates + dors_rejected >= unknown);
    // Persons of the population register are seen (a few rows are defective).
    assert!(report.patients_seen >= summary.population.persons * 9 / 10);
    let linked: u64 = report
        .patients_by_source_count
        .iter()
        .filter(|(k, _)| **k >= 2)
        .map(|(_, v)| v)
        .sum();
    let histogram: u64 = report.patients_by_source_count.values().sum();
    assert_eq!(histogram, report.patients_seen);
    assert!(linked > 0, "{report}");

    // The second load of the same directory adds nothing.
    let snap_before = current(&store_dir);
    let again = load(&store_dir, std::slice::from_ref(&src), &opts).unwrap();
    assert!(!again.committed());
    // (Header-only files of regions without rows share one content, so the
    // first load already skipped all but one of them.)
    assert_eq!(
        again.skipped.len(),
        report.files.len() + report.skipped.len()
    );
    assert_eq!(current(&store_dir), snap_before);

    // No identity number of the input anywhere in the store: raw bytes of
    // every file, and the decoded quarantine, events, persons and reports.
    let ids = input_ids(&src);
    assert!(ids.len() as u64 >= summary.population.persons);
    let mut haystack = String::new();
    for f in common::files_below(&store_dir) {
        haystack.push_str(&String::from_utf8_lossy(&std::fs::read(&f).unwrap()));
        haystack.push('\n');
    }
    let snap = Store::open(&store_dir).unwrap().snapshot(None).unwrap();
    for q in snap.quarantine().unwrap() {
        haystack.push_str(&format!(
            "{} {} {} {}\n",
            q.source_file, q.line, q.reason, q.detail
        ));
    }
    for (_, e) in snap.events().unwrap() {
        haystack.push_str(&format!("{e:?}\n"));
    }
    for p in snap.persons().unwrap() {
        haystack.push_str(&format!("{p:?}\n"));
    }
    haystack.push_str(&snap.load_report().unwrap().to_string());
    haystack.push_str(&report.to_string());
    let flat = digits_only_runs(&haystack);
    for id in &ids {
        assert!(
            !flat.contains(id.as_str()),
            "an input identity number was found in the store"
        );
    }
    // The quarantine holds rows of every defect kind that rejects.
    let q = snap.quarantine().unwrap();
    assert_eq!(q.len() as u64, report.totals.rows_rejected);
}
