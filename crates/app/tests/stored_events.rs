//! The stored form of every case-event type, pinned.
//!
//! `tests/golden/case_events/<type>.json` holds, per event type (the
//! `change.type` tag), one event exactly as `access::stored::encode_event`
//! writes it under the format-1 envelope (`{"v": 1, "event": …}`). A serde
//! change in the domain types (a renamed field or variant, a changed
//! representation) changes what format 1 means and would leave rows in
//! existing databases unreadable; these tests fail first.
//!
//! Adding an event type is adding its file: the list of types is read
//! from the `Change` enum itself (serde's own variant list), and a type
//! without a golden file fails the test, naming it. A golden file is never
//! rewritten to make a test pass: a change that breaks one needs a new
//! stored format in `access::stored` that reads the old one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use halsohub_access::stored::{EVENT_FORMAT, decode_event, encode_event};
use halsohub_access::{CaseEvent, Change};
use serde_json::Value;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/case_events")
}

/// Every event type the domain has, by its stored tag: serde refuses an
/// unknown tag by listing the variants it knows.
fn event_types() -> BTreeSet<String> {
    let err = serde_json::from_value::<Change>(serde_json::json!({"type": "\u{1}"}))
        .expect_err("no event type is named U+0001");
    let text = err.to_string();
    let list = text
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("serde's refusal names the variants: {text}"))
        .1;
    let types: BTreeSet<String> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    assert!(types.len() >= 19, "{text}");
    types
}

/// The golden files: (type from the file name, stored JSON).
fn goldens() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(golden_dir()).expect("the golden directory exists") {
        let path = entry.expect("a directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a UTF-8 file name")
            .to_string();
        let text = std::fs::read_to_string(&path).expect("readable");
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        out.push((name, value));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_case_event_type_has_a_golden_file() {
    let types = event_types();
    let files: BTreeSet<String> = goldens().into_iter().map(|(n, _)| n).collect();
    let missing: Vec<&String> = types.difference(&files).collect();
    assert!(
        missing.is_empty(),
        "case event types without a golden stored form in {}: {missing:?} — add <type>.json \
         holding one event as access::stored::encode_event writes it",
        golden_dir().display()
    );
    let unknown: Vec<&String> = files.difference(&types).collect();
    assert!(
        unknown.is_empty(),
        "golden files for types the domain no longer has: {unknown:?} — stored rows of a removed \
         type must still read (a new stored format converts them)"
    );
}

#[test]
fn each_golden_event_reads_as_its_type_and_is_written_back_unchanged() {
    for (name, stored) in goldens() {
        assert_eq!(
            stored["v"], EVENT_FORMAT,
            "{name}: not under the v{EVENT_FORMAT} envelope"
        );
        let event: CaseEvent =
            decode_event(&stored).unwrap_or_else(|e| panic!("{name}.json no longer reads: {e}"));
        assert_eq!(event.change.name(), name, "{name}.json holds another type");
        let again = encode_event(&event).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            again, stored,
            "{name}: the stored form of this event type changed; keep the golden file and add a \
             stored format instead"
        );
    }
}

#[test]
fn each_golden_event_reads_the_same_as_the_bare_format_0() {
    for (name, stored) in goldens() {
        let v1 = decode_event(&stored).unwrap_or_else(|e| panic!("{name}: {e}"));
        let v0 = decode_event(&stored["event"]).unwrap_or_else(|e| panic!("{name} (v0): {e}"));
        assert_eq!(v0, v1, "{name}");
    }
}
