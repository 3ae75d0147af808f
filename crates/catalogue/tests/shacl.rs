//! The catalogue's Turtle validated with a real SHACL validator (pySHACL)
//! against the published DCAT-AP 3.0.0 shapes (mandatory and class
//! ranges) and the HealthDCAT-AP Release 5 shapes for non-public datasets,
//! read from `shared/data/dcat-shapes` (see its SOURCE.md). The
//! recommended DCAT-AP shapes are loaded too; their warnings are reported,
//! not failed on. The controlled-vocabulary shapes are left out: they need
//! the EU vocabularies, which are not provided.
//!
//! Needs a Python with pySHACL (`HALSOHUB_TEST_PYTHON`, set up by
//! `scripts/test` from `scripts/requirements-test.txt`) and the shapes
//! (`$HALSOHUB_SHARED_DATA/dcat-shapes`, else the `shared/data` beside the
//! repository); without either the tests print a notice and pass.

#![allow(clippy::unwrap_used)] // test helpers: a failure is the test failing

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use halsohub_catalogue::{RdfSyntax, dataset_triples, page_triples, serialise};
use oxrdf::{NamedNode, Term, Triple};

const SHAPES: [&str; 4] = [
    "dcat-ap-3.0.0-shapes.ttl",
    "dcat-ap-3.0.0-range.ttl",
    "healthdcat-ap-r5-shapes.ttl",
    "dcat-ap-3.0.0-shapes_recommended.ttl",
];

struct Validator {
    python: String,
    shapes: Vec<PathBuf>,
}

fn validator() -> Option<Validator> {
    let Ok(python) = std::env::var("HALSOHUB_TEST_PYTHON") else {
        eprintln!(
            "NOTICE: HALSOHUB_TEST_PYTHON not set; SHACL validation skipped (run scripts/test)"
        );
        return None;
    };
    let has_pyshacl = Command::new(&python)
        .args(["-c", "import pyshacl"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_pyshacl {
        eprintln!("NOTICE: {python} has no pyshacl; SHACL validation skipped (run scripts/test)");
        return None;
    }
    let root = std::env::var("HALSOHUB_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let dir = root.join("dcat-shapes");
    let shapes: Vec<PathBuf> = SHAPES.iter().map(|f| dir.join(f)).collect();
    if let Some(missing) = shapes.iter().find(|p| !p.is_file()) {
        eprintln!(
            "NOTICE: {} not found; SHACL validation skipped (set HALSOHUB_SHARED_DATA)",
            missing.display()
        );
        return None;
    }
    Some(Validator { python, shapes })
}

#[derive(Debug, serde::Deserialize)]
struct Violation {
    focus: String,
    path: String,
    message: String,
}

#[derive(Debug, serde::Deserialize)]
struct Outcome {
    conforms: bool,
    violations: Vec<Violation>,
    warnings: usize,
}

impl Validator {
    /// Validate each triple set; one pySHACL run for all.
    fn validate(&self, sets: &[Vec<Triple>]) -> Vec<Outcome> {
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (i, set) in sets.iter().enumerate() {
            let path = dir.path().join(format!("catalogue-{i}.ttl"));
            std::fs::write(&path, serialise(set, RdfSyntax::Turtle).unwrap()).unwrap();
            files.push(path.display().to_string());
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shacl/validate.py");
        let out = Command::new(&self.python)
            .arg(script)
            .arg(files.join(","))
            .args(&self.shapes)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pySHACL failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let outcomes: Vec<Outcome> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(outcomes.len(), sets.len());
        outcomes
    }
}

const PAR: &str = "https://halsohub.example.se/api/v1/catalogue/datasets/par-inpatient";

fn without(triples: &[Triple], subject: &str, predicate: &str) -> Vec<Triple> {
    let kept: Vec<Triple> = triples
        .iter()
        .filter(|t| {
            !(t.subject.to_string() == format!("<{subject}>") && t.predicate.as_str() == predicate)
        })
        .cloned()
        .collect();
    assert!(
        kept.len() < triples.len(),
        "nothing to remove: {subject} {predicate}"
    );
    kept
}

#[test]
fn the_catalogue_conforms_to_dcat_ap_and_healthdcat_ap() {
    let Some(v) = validator() else { return };
    let c = common::catalogue(2);
    let sets = vec![
        page_triples(&c, 1).unwrap(),
        page_triples(&c, 2).unwrap(),
        dataset_triples(&c, "par-inpatient").unwrap().unwrap(),
    ];
    for (i, o) in v.validate(&sets).iter().enumerate() {
        assert!(
            o.conforms && o.violations.is_empty(),
            "document {i}: {:#?}",
            o.violations
        );
        eprintln!(
            "document {i}: conforms, {} recommended-shape warnings",
            o.warnings
        );
    }
}

#[test]
fn removing_a_mandatory_property_fails_validation() {
    let Some(v) = validator() else { return };
    let full = page_triples(&common::catalogue(50), 1).unwrap();
    let dcat = "http://www.w3.org/ns/dcat#";
    let dct = "http://purl.org/dc/terms/";
    let health = "http://healthdataportal.eu/ns/health#";
    let mandatory: Vec<(String, String)> = [
        format!("{dct}accessRights"),
        "http://data.europa.eu/r5r/applicableLegislation".to_string(),
        format!("{dcat}distribution"),
        format!("{dct}identifier"),
        format!("{dcat}contactPoint"),
        format!("{dcat}theme"),
        format!("{health}healthCategory"),
        format!("{dcat}keyword"),
        format!("{dct}type"),
        format!("{dct}provenance"),
        format!("{health}hdab"),
        format!("{dct}description"),
        format!("{dct}title"),
    ]
    .into_iter()
    .map(|p| (PAR.to_string(), p))
    .chain([
        // Nested: the distribution's access URL and legislation, the
        // publisher's contact point, the catalogue's legislation.
        (format!("{PAR}#distribution"), format!("{dcat}accessURL")),
        (
            format!("{PAR}#distribution"),
            "http://data.europa.eu/r5r/applicableLegislation".into(),
        ),
        (format!("{PAR}#publisher"), format!("{dcat}contactPoint")),
        (
            "https://halsohub.example.se/api/v1/catalogue".into(),
            "http://data.europa.eu/r5r/applicableLegislation".into(),
        ),
    ])
    .collect();
    let mut sets: Vec<Vec<Triple>> = mandatory
        .iter()
        .map(|(s, p)| without(&full, s, p))
        .collect();
    // Access rights other than NON_PUBLIC break the HealthDCAT-AP profile.
    let public =
        NamedNode::new("http://publications.europa.eu/resource/authority/access-right/PUBLIC")
            .unwrap();
    sets.push(
        full.iter()
            .map(|t| {
                if t.predicate.as_str() == format!("{dct}accessRights")
                    && t.subject.to_string() == format!("<{PAR}>")
                {
                    Triple::new(
                        t.subject.clone(),
                        t.predicate.clone(),
                        Term::from(public.clone()),
                    )
                } else {
                    t.clone()
                }
            })
            .collect(),
    );
    let outcomes = v.validate(&sets);
    for (i, o) in outcomes.iter().enumerate() {
        let what = mandatory.get(i).map_or_else(
            || "dct:accessRights = PUBLIC".to_string(),
            |(s, p)| format!("{s} without {p}"),
        );
        assert!(!o.conforms, "{what}: still conforms");
        eprintln!(
            "{what}: {} violation(s), e.g. {:?} on {} ({})",
            o.violations.len(),
            o.violations[0].path,
            o.violations[0].focus,
            o.violations[0].message
        );
        if let Some((_, p)) = mandatory.get(i)
            && !p.ends_with("applicableLegislation")
            && !p.ends_with("contactPoint")
        {
            assert!(
                o.violations.iter().any(|x| &x.path == p),
                "{what}: no violation on the removed property: {:#?}",
                o.violations
            );
        }
    }
}
