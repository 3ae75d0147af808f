//! The catalogue's RDF: it reads back, is deterministic, carries the
//! HealthDCAT-AP properties, pages for harvesting and publishes only
//! released numbers.

#![allow(clippy::unwrap_used)] // test helpers: a failure is the test failing

mod common;

use std::collections::BTreeSet;

use halsohub_catalogue::{RdfSyntax, dataset_triples, page_triples, serialise};
use oxrdf::{Graph, NamedNodeRef, Term, Triple};
use oxrdfio::{RdfFormat, RdfParser};

const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const H: &str = "http://healthdataportal.eu/ns/health#";
const HYDRA: &str = "http://www.w3.org/ns/hydra/core#";

fn graph(triples: &[Triple]) -> Graph {
    let mut g = Graph::new();
    for t in triples {
        g.insert(t);
    }
    g
}

fn parse(bytes: &[u8], format: RdfFormat) -> Graph {
    let mut g = Graph::new();
    for q in RdfParser::from_format(format).for_slice(bytes) {
        let q = q.unwrap();
        g.insert(&Triple::new(q.subject, q.predicate, q.object));
    }
    g
}

fn objects(g: &Graph, s: &str, p: &str) -> Vec<Term> {
    g.objects_for_subject_predicate(NamedNodeRef::new(s).unwrap(), NamedNodeRef::new(p).unwrap())
        .map(|t| t.into_owned())
        .collect()
}

fn dataset(id: &str) -> String {
    format!("https://halsohub.example.se/api/v1/catalogue/datasets/{id}")
}

#[test]
fn turtle_and_json_ld_read_back_to_the_same_graph() {
    let triples = page_triples(&common::catalogue(50), 1).unwrap();
    let expected = graph(&triples);
    let ttl = serialise(&triples, RdfSyntax::Turtle).unwrap();
    let text = String::from_utf8(ttl.clone()).unwrap();
    assert!(text.starts_with("@prefix"), "{}", &text[..200]);
    assert!(text.contains("dcat:Dataset"));
    assert_eq!(parse(&ttl, RdfFormat::Turtle), expected);
    let jsonld = serialise(&triples, RdfSyntax::JsonLd).unwrap();
    serde_json::from_slice::<serde_json::Value>(&jsonld).unwrap();
    let back = parse(
        &jsonld,
        RdfFormat::JsonLd {
            profile: oxrdfio::JsonLdProfileSet::empty(),
        },
    );
    assert_eq!(back, expected);
}

#[test]
fn the_output_is_the_same_for_the_same_catalogue() {
    let a = serialise(
        &page_triples(&common::catalogue(50), 1).unwrap(),
        RdfSyntax::Turtle,
    )
    .unwrap();
    let b = serialise(
        &page_triples(&common::catalogue(50), 1).unwrap(),
        RdfSyntax::Turtle,
    )
    .unwrap();
    assert_eq!(a, b);
}

#[test]
fn every_dataset_has_the_healthdcat_ap_properties() {
    let g = graph(&page_triples(&common::catalogue(50), 1).unwrap());
    for id in ["par-inpatient", "lab-region-uppsala", "omop-gibleed"] {
        let ds = dataset(id);
        for (p, min) in [
            (format!("{DCT}accessRights"), 1),
            ("http://data.europa.eu/r5r/applicableLegislation".into(), 1),
            (format!("{DCAT}distribution"), 1),
            (format!("{DCT}identifier"), 1),
            (format!("{DCAT}contactPoint"), 1),
            (format!("{DCAT}theme"), 1),
            (format!("{H}healthCategory"), 1),
            (format!("{DCAT}keyword"), 1),
            (format!("{DCT}type"), 1),
            (format!("{DCT}provenance"), 1),
            (format!("{H}hdab"), 1),
            (format!("{DCT}title"), 2),
            (format!("{DCT}description"), 2),
            (format!("{H}hasCodingSystem"), 2),
        ] {
            assert!(objects(&g, &ds, &p).len() >= min, "{id}: {p}");
        }
        // SHACL only bounds dct:publisher from above; the catalogue
        // always names exactly one.
        assert_eq!(
            objects(&g, &ds, &format!("{DCT}publisher")).len(),
            1,
            "{id}"
        );
        let dist = &objects(&g, &ds, &format!("{DCAT}distribution"))[0];
        let Term::NamedNode(dist) = dist else {
            panic!("distribution is an IRI")
        };
        assert_eq!(
            objects(&g, dist.as_str(), &format!("{DCAT}accessURL")),
            vec![Term::NamedNode(
                oxrdf::NamedNode::new("https://halsohub.example.se/api/v1/applications").unwrap()
            )]
        );
    }
    let rut = objects(
        &g,
        &dataset("par-inpatient"),
        "http://xmlns.com/foaf/0.1/page",
    );
    assert_eq!(rut.len(), 1);
    assert!(rut[0].to_string().contains("registerforskning.se"));
    // Computed facts only where computed.
    assert_eq!(
        objects(
            &g,
            &dataset("omop-gibleed"),
            &format!("{H}numberOfUniqueIndividuals")
        )
        .len(),
        0
    );
    assert_eq!(
        objects(
            &g,
            &dataset("par-inpatient"),
            &format!("{H}numberOfUniqueIndividuals")
        )
        .len(),
        1
    );
    assert!(
        !objects(
            &g,
            &dataset("lab-region-uppsala"),
            "http://www.w3.org/ns/dqv#hasQualityMeasurement"
        )
        .is_empty()
    );
}

#[test]
fn only_released_numbers_are_published() {
    let g = graph(&page_triples(&common::catalogue(50), 1).unwrap());
    let mut seen = 0;
    for p in ["numberOfRecords", "numberOfUniqueIndividuals"] {
        for id in ["par-inpatient", "lab-region-uppsala"] {
            for o in objects(&g, &dataset(id), &format!("{H}{p}")) {
                let Term::Literal(l) = o else {
                    panic!("{p} is a literal")
                };
                let n: u64 = l.value().parse().unwrap();
                assert!(
                    n >= 5 && n.is_multiple_of(5),
                    "{id} {p} = {n} is not a released count"
                );
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 4);
    let par = dataset("par-inpatient");
    // The code held by 2 persons and the region with 3 are left out.
    let codes: BTreeSet<String> = objects(&g, &par, &format!("{H}hasCodeValues"))
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(codes.len(), 2, "{codes:?}");
    assert!(codes.iter().all(|c| !c.contains("DT016")), "{codes:?}");
    let coverage = objects(&g, &par, &format!("{H}populationCoverage"));
    assert!(coverage[0].to_string().contains("01, 12"), "{coverage:?}");
    assert!(!coverage[0].to_string().contains("25"), "{coverage:?}");
    // Ages in bands: the open top band has a suppressed count, so the
    // range ends with the 80-89 band; no exact minimum or maximum age.
    let lit = |p: &str| objects(&g, &par, &format!("{H}{p}"))[0].to_string();
    assert!(
        lit("minTypicalAge").starts_with("\"0\""),
        "{}",
        lit("minTypicalAge")
    );
    assert!(
        lit("maxTypicalAge").starts_with("\"89\""),
        "{}",
        lit("maxTypicalAge")
    );
}

#[test]
fn pages_link_to_each_other_and_cover_every_dataset_once() {
    let c = common::catalogue(1);
    assert_eq!(c.pages(), 3);
    let mut all = BTreeSet::new();
    for page in 1..=3 {
        let g = graph(&page_triples(&c, page).unwrap());
        let uri = format!("https://halsohub.example.se/api/v1/catalogue?page={page}");
        let datasets = objects(
            &g,
            "https://halsohub.example.se/api/v1/catalogue",
            &format!("{DCAT}dataset"),
        );
        assert_eq!(datasets.len(), 1);
        all.extend(datasets.iter().map(|d| d.to_string()));
        assert_eq!(
            objects(&g, &uri, &format!("{HYDRA}nextPage")).len(),
            usize::from(page < 3)
        );
        assert_eq!(
            objects(&g, &uri, &format!("{HYDRA}previousPage")).len(),
            usize::from(page > 1)
        );
        let total = objects(&g, &uri, &format!("{HYDRA}totalItems"));
        assert!(total[0].to_string().starts_with("\"3\""));
    }
    assert_eq!(all.len(), 3);
    assert!(page_triples(&c, 4).is_err());
    assert!(page_triples(&c, 0).is_err());
}

#[test]
fn a_dataset_is_served_alone_under_its_stable_uri() {
    let c = common::catalogue(50);
    let triples = dataset_triples(&c, "lab-region-uppsala").unwrap().unwrap();
    let g = graph(&triples);
    let ds = dataset("lab-region-uppsala");
    assert_eq!(
        objects(&g, &ds, &format!("{DCT}identifier"))[0].to_string(),
        "\"lab-region-uppsala\""
    );
    // Every subject is the dataset or one of its own nodes, the HDAB, or a
    // vocabulary term; nothing from the other datasets.
    for t in &triples {
        assert!(!t.subject.to_string().contains("par-inpatient"), "{t}");
    }
    assert!(dataset_triples(&c, "no-such-dataset").unwrap().is_none());
}

/// Writes the example catalogue's Turtle to `$HALSOHUB_CATALOGUE_DUMP`
/// when set (for looking at it by hand); otherwise checks it is non-empty.
#[test]
fn example_turtle() {
    let ttl = serialise(
        &page_triples(&common::catalogue(50), 1).unwrap(),
        RdfSyntax::Turtle,
    )
    .unwrap();
    assert!(ttl.len() > 1000);
    if let Ok(path) = std::env::var("HALSOHUB_CATALOGUE_DUMP") {
        std::fs::write(path, &ttl).unwrap();
    }
}
