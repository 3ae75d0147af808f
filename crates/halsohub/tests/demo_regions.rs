//! The demo's example query (`halsohub demo` writes it to
//! `demo/example-query.json`): every region's count is within a factor of
//! two of what its share of the residents predicts. Two large regions
//! deliver HbA1c as LOINC and the others as NPU; a query naming one system
//! only would find almost no one in those two, which this test catches.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::Hub;
use serde_json::Value;

/// Region → exact count of a strata-by-region result (persons without a
/// residence on the date, `unknown`, left out).
fn by_region(out: &Value) -> BTreeMap<String, f64> {
    out["result"]["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["key"][0] != "unknown")
        .map(|c| {
            (
                c["key"][0].as_str().unwrap().to_owned(),
                c["count"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn demo_example_counts_follow_the_regions_resident_shares() {
    let hub = Hub::new();
    hub.ok(&["demo", "--patients", "20000", "--no-serve"]);
    let demo = hub.home().join("demo");
    let store = demo.join("store");
    let store = store.to_str().unwrap();
    let example = demo.join("example-query.json");
    let text = std::fs::read_to_string(&example).unwrap();
    assert!(
        text.contains(r#"{"list": "hba1c"}"#),
        "the demo uses the list:\n{text}"
    );

    let counts = by_region(&hub.json(&[
        "count",
        "--store",
        store,
        example.to_str().unwrap(),
        "--exact",
        "--json",
    ]));
    let residents_q = hub.path("residents.json");
    std::fs::write(
        &residents_q,
        r#"{"version": 1,
            "criteria": [{"include": {"person": {"alive": {"at": "2024-01-01"}}}}],
            "output": {"type": "strata", "by": ["region"], "at": "2024-01-01"}}"#,
    )
    .unwrap();
    let residents = by_region(&hub.json(&[
        "count",
        "--store",
        store,
        residents_q.to_str().unwrap(),
        "--exact",
        "--json",
    ]));

    let total: f64 = counts.values().sum();
    let all_residents: f64 = residents.values().sum();
    assert!(total > 200.0, "the example finds patients: {counts:?}");
    let mut checked = Vec::new();
    for (region, n) in &residents {
        let expected = total * n / all_residents;
        // Below ~20 expected patients chance alone moves a count by more
        // than a factor of two; such small regions are not judged.
        if expected < 20.0 {
            continue;
        }
        let got = counts.get(region).copied().unwrap_or(0.0);
        assert!(
            got >= expected / 2.0 && got <= expected * 2.0,
            "region {region}: {got} patients where its share of residents predicts {expected:.0}\ncounts {counts:?}\nresidents {residents:?}"
        );
        checked.push(region.clone());
    }
    // Skåne (12) and Västra Götaland (14), the LOINC regions, are judged.
    assert!(
        checked.contains(&"12".to_owned()) && checked.contains(&"14".to_owned()),
        "{checked:?}"
    );
}
