//! End to end through the real binary: `halsohub ingest` on an OMOP CDM
//! folder (the OHDSI Eunomia GiBleed set in `shared/data`, skipped with a
//! notice when absent), detected by content without `--format`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

use std::path::PathBuf;

use common::*;

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

fn eunomia() -> Option<PathBuf> {
    common::shared_data("omop-eunomia-gibleed")
}

#[test]
fn ingest_reads_an_omop_folder() {
    let Some(set) = eunomia() else { return };
    let hub = Hub::new();
    hub.ok(&["keys", "init"]);
    let store = hub.path("store");
    let report = hub.json(&["ingest", "--store", s(&store), "--json", s(&set)]);
    let t = &report["totals"];
    // 13 tables read: the 11 with rows or clinical content, and the
    // header-only LOCATION and CARE_SITE (read for regions and providers).
    assert_eq!(t["files"], 13, "{report:#}");
    assert_eq!(t["rows_read"], 225_495);
    assert_eq!(t["rows_rejected"], 2_649);
    assert_eq!(t["rejected_by_reason"]["omop.unknown_person"], 2_649);
    assert_eq!(t["persons"], 2_694);
    assert_eq!(t["events_by_domain"]["diagnosis"], 65_838);
    assert!(report["snapshot"].is_string());
    assert!(
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["format"] == "omop")
    );

    // The text report names the format; a second load adds nothing.
    let again = hub.ok(&["ingest", "--store", s(&store), s(&set)]);
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("already loaded") || text.contains("nothing"),
        "{text}"
    );

    // --format omop on a file that is no CDM table says why.
    let odd = hub.path("odd.csv");
    std::fs::write(&odd, "person_id,year_of_birth\n1,1950\n").unwrap();
    let err = hub.fails(&["ingest", "--store", s(&store), "--format", "omop", s(&odd)]);
    assert!(
        err.contains("odd.csv") && err.contains("CDM table"),
        "{err}"
    );
}
