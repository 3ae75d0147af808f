//! The catalogue as HealthDCAT-AP RDF: a `dcat:Catalog` page with its
//! `dcat:Dataset`s (or one dataset alone), serialised as Turtle or
//! JSON-LD with oxrdfio.
//!
//! Every node is an IRI: the catalogue and dataset URIs under the
//! configured base URL, and fragments of them for the nodes a dataset owns
//! (`…/datasets/par-inpatient#publisher`), so the output is the same for
//! the same catalogue, and harvesters can merge pages. Controlled values
//! carry their type and label in the output (`skos:Concept` with
//! `skos:prefLabel`, `dct:RightsStatement`, `dct:Frequency`, …), so the
//! DCAT-AP class-range shapes hold without the EU vocabularies loaded.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use halsohub_codes::System;
use halsohub_disclosure::ProtectedValue;
use oxrdf::{Literal, NamedNode, Triple};
use oxrdfio::{JsonLdProfileSet, RdfFormat, RdfSerializer};

use crate::catalogue::{Catalogue, CatalogueConfig, CatalogueError, Entry, PageInfo};
use crate::description::{Bilingual, ContactPoint, DatasetDescription};
use crate::facts::ComputedFacts;
use crate::quality::{Dimension, Metric, QualityReport};
use crate::vocab::{ACCESS_RIGHT, DATA_THEME, FREQUENCY};

/// Namespaces used, with the prefixes the Turtle output declares.
pub const PREFIXES: [(&str, &str); 16] = [
    ("dcat", "http://www.w3.org/ns/dcat#"),
    ("dct", "http://purl.org/dc/terms/"),
    ("dcatap", "http://data.europa.eu/r5r/"),
    ("healthdcatap", "http://healthdataportal.eu/ns/health#"),
    ("dqv", "http://www.w3.org/ns/dqv#"),
    ("dpv", "https://w3id.org/dpv#"),
    ("foaf", "http://xmlns.com/foaf/0.1/"),
    ("vcard", "http://www.w3.org/2006/vcard/ns#"),
    ("skos", "http://www.w3.org/2004/02/skos/core#"),
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("hydra", "http://www.w3.org/ns/hydra/core#"),
    ("eli", "http://data.europa.eu/eli/ontology#"),
    ("prov", "http://www.w3.org/ns/prov#"),
    ("adms", "http://www.w3.org/ns/adms#"),
];

const DCAT: &str = "http://www.w3.org/ns/dcat#";
const DCT: &str = "http://purl.org/dc/terms/";
const DCATAP: &str = "http://data.europa.eu/r5r/";
const HEALTH: &str = "http://healthdataportal.eu/ns/health#";
const DQV: &str = "http://www.w3.org/ns/dqv#";
const DPV: &str = "https://w3id.org/dpv#";
const FOAF: &str = "http://xmlns.com/foaf/0.1/";
const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
const SKOS: &str = "http://www.w3.org/2004/02/skos/core#";
const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";
const XSD: &str = "http://www.w3.org/2001/XMLSchema#";
const HYDRA: &str = "http://www.w3.org/ns/hydra/core#";
const ELI: &str = "http://data.europa.eu/eli/ontology#";
const PROV: &str = "http://www.w3.org/ns/prov#";
const COUNTRY_SWE: &str = "http://publications.europa.eu/resource/authority/country/SWE";
const AVAILABILITY_SCHEME: &str =
    "http://publications.europa.eu/resource/authority/planned-availability";
const AVAILABILITY_STABLE: &str =
    "http://publications.europa.eu/resource/authority/planned-availability/STABLE";
const LANGUAGE: &str = "http://publications.europa.eu/resource/authority/language/";

/// The RDF syntaxes the catalogue is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdfSyntax {
    /// Turtle (`text/turtle`).
    Turtle,
    /// JSON-LD (`application/ld+json`).
    JsonLd,
}

impl RdfSyntax {
    /// The media type.
    #[must_use]
    pub fn media_type(self) -> &'static str {
        match self {
            RdfSyntax::Turtle => "text/turtle",
            RdfSyntax::JsonLd => "application/ld+json",
        }
    }

    /// `turtle`/`ttl` or `jsonld`/`json-ld`.
    #[must_use]
    pub fn parse(name: &str) -> Option<RdfSyntax> {
        match name.to_ascii_lowercase().as_str() {
            "turtle" | "ttl" | "text/turtle" => Some(RdfSyntax::Turtle),
            "jsonld" | "json-ld" | "application/ld+json" => Some(RdfSyntax::JsonLd),
            _ => None,
        }
    }
}

/// Why RDF could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RdfError {
    /// A value does not make an IRI.
    #[error("{what}: {iri:?} is not an IRI ({reason})")]
    Iri {
        /// Where the value came from.
        what: String,
        /// The value.
        iri: String,
        /// Why not.
        reason: String,
    },
    /// The serialiser failed.
    #[error("cannot serialise the catalogue: {0}")]
    Serialise(#[from] std::io::Error),
    /// The page does not exist.
    #[error(transparent)]
    Page(#[from] CatalogueError),
}

/// Percent-encode everything but unreserved characters, for fragments.
fn frag(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Collects triples subject by subject, in order.
struct Builder {
    triples: Vec<Triple>,
}

fn iri(what: &str, s: impl Into<String>) -> Result<NamedNode, RdfError> {
    let s = s.into();
    NamedNode::new(s.clone()).map_err(|e| RdfError::Iri {
        what: what.to_string(),
        iri: s,
        reason: e.to_string(),
    })
}

/// A term of a fixed vocabulary (always a valid IRI).
fn t(ns: &str, local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{ns}{local}"))
}

fn lang(text: &str, tag: &str) -> Literal {
    // "sv" and "en" are valid tags.
    Literal::new_language_tagged_literal_unchecked(text, tag)
}

fn typed(value: impl Into<String>, xsd: &str) -> Literal {
    Literal::new_typed_literal(value, t(XSD, xsd))
}

fn date(d: NaiveDate) -> Literal {
    typed(d.format("%Y-%m-%d").to_string(), "date")
}

fn date_time(d: DateTime<Utc>) -> Literal {
    typed(d.to_rfc3339_opts(SecondsFormat::Secs, true), "dateTime")
}

impl Builder {
    fn add(&mut self, s: &NamedNode, p: NamedNode, o: impl Into<oxrdf::Term>) {
        self.triples.push(Triple::new(s.clone(), p, o.into()));
    }

    fn a(&mut self, s: &NamedNode, ns: &str, class: &str) {
        self.add(s, t(RDF, "type"), t(ns, class));
    }

    fn bilingual(&mut self, s: &NamedNode, p: NamedNode, text: &Bilingual) {
        self.add(s, p.clone(), lang(&text.sv, "sv"));
        self.add(s, p, lang(&text.en, "en"));
    }

    /// A labelled concept of a scheme.
    fn concept(&mut self, c: &NamedNode, scheme: &str, label: &str) -> Result<(), RdfError> {
        self.a(c, SKOS, "Concept");
        self.add(c, t(SKOS, "prefLabel"), lang(label, "en"));
        self.add(c, t(SKOS, "inScheme"), iri("concept scheme", scheme)?);
        Ok(())
    }

    fn contact(&mut self, node: &NamedNode, c: &ContactPoint) -> Result<(), RdfError> {
        self.a(node, VCARD, "Kind");
        self.add(node, t(VCARD, "fn"), Literal::new_simple_literal(&c.name));
        if let Some(email) = &c.email {
            self.add(
                node,
                t(VCARD, "hasEmail"),
                iri("contact email", format!("mailto:{email}"))?,
            );
        }
        if let Some(url) = &c.url {
            self.add(node, t(VCARD, "hasURL"), iri("contact url", url.as_str())?);
        }
        Ok(())
    }

    fn count(&mut self, s: &NamedNode, p: NamedNode, v: Option<&ProtectedValue>) {
        // Only a shown, released value is published; a suppressed one is
        // left out rather than written as a number it is not.
        if let Some(n) = v
            .filter(|v| !v.is_suppressed())
            .and_then(ProtectedValue::value)
        {
            self.add(s, p, typed(n.to_string(), "nonNegativeInteger"));
        }
    }
}

fn legislation(b: &mut Builder, s: &NamedNode, laws: &[String]) -> Result<(), RdfError> {
    for l in laws {
        let law = iri("applicable legislation", l.as_str())?;
        b.add(s, t(DCATAP, "applicableLegislation"), law.clone());
        b.a(&law, ELI, "LegalResource");
    }
    Ok(())
}

fn hdab(b: &mut Builder, config: &CatalogueConfig) -> Result<NamedNode, RdfError> {
    let cat = config.catalogue_uri();
    let agent = iri("hdab", format!("{cat}#hdab"))?;
    let contact = iri("hdab", format!("{cat}#hdab-contact"))?;
    b.a(&agent, FOAF, "Agent");
    b.add(
        &agent,
        t(FOAF, "name"),
        Literal::new_simple_literal(&config.hdab.name),
    );
    b.add(&agent, t(DCAT, "contactPoint"), contact.clone());
    b.contact(&contact, &config.hdab.contact)?;
    Ok(agent)
}

/// The code system's IRI: its FHIR URI when halsohub knows one, the value
/// itself when it is an absolute IRI, else a concept of the hub's scheme.
fn coding_system(config: &CatalogueConfig, id: &str) -> Result<(NamedNode, String), RdfError> {
    let system = System::parse(id);
    let label = system
        .as_ref()
        .map_or_else(|| id.to_string(), |s| s.name().to_string());
    if let Some(uri) = system.as_ref().and_then(System::fhir_uri) {
        return Ok((iri("code system", uri)?, label));
    }
    if id.contains(':')
        && let Ok(n) = NamedNode::new(id)
    {
        return Ok((n, label));
    }
    let own = format!("{}/{}", config.vocab_uri("coding-system"), frag(id));
    Ok((iri("code system", own)?, label))
}

fn dataset(
    b: &mut Builder,
    config: &CatalogueConfig,
    entry: &Entry,
) -> Result<NamedNode, RdfError> {
    let d: &DatasetDescription = entry.approved.description();
    let uri = config.dataset_uri(&d.id);
    let ds = iri("dataset", uri.as_str())?;
    let node = |name: &str| iri("dataset", format!("{uri}#{name}"));

    b.a(&ds, DCAT, "Dataset");
    b.add(
        &ds,
        t(DCT, "identifier"),
        Literal::new_simple_literal(&d.id),
    );
    b.bilingual(&ds, t(DCT, "title"), &d.title);
    b.bilingual(&ds, t(DCT, "description"), &d.description);
    b.add(
        &ds,
        t(DCT, "issued"),
        date_time(entry.approved.approval().at),
    );

    // Access rights and legislation.
    let rights = iri(
        "access rights",
        format!("{ACCESS_RIGHT}{}", d.access_rights.code()),
    )?;
    b.add(&ds, t(DCT, "accessRights"), rights.clone());
    legislation(b, &ds, &d.legislation)?;
    for l in &d.legal_basis {
        b.add(
            &ds,
            t(DPV, "hasLegalBasis"),
            iri("legal basis", l.as_str())?,
        );
    }
    for p in &d.purpose {
        b.add(&ds, t(DPV, "hasPurpose"), iri("purpose", p.as_str())?);
    }

    // Publisher, contact point, the HDAB.
    let publisher = node("publisher")?;
    let contact = node("contact")?;
    b.add(&ds, t(DCT, "publisher"), publisher.clone());
    b.add(&ds, t(DCAT, "contactPoint"), contact.clone());
    let hdab_node = iri("hdab", format!("{}#hdab", config.catalogue_uri()))?;
    b.add(&ds, t(HEALTH, "hdab"), hdab_node);

    // Themes, categories, keywords, type.
    for th in &d.themes {
        b.add(
            &ds,
            t(DCAT, "theme"),
            iri("theme", format!("{DATA_THEME}{}", th.code()))?,
        );
    }
    for c in &d.health_categories {
        let scheme = config.vocab_uri("health-category");
        b.add(
            &ds,
            t(HEALTH, "healthCategory"),
            iri("health category", format!("{scheme}/{}", c.code()))?,
        );
    }
    for k in &d.keywords.sv {
        b.add(&ds, t(DCAT, "keyword"), lang(k, "sv"));
    }
    for k in &d.keywords.en {
        b.add(&ds, t(DCAT, "keyword"), lang(k, "en"));
    }
    let type_scheme = config.vocab_uri("dataset-type");
    let dtype = iri(
        "dataset type",
        format!("{type_scheme}/{}", d.dataset_type.code()),
    )?;
    b.add(&ds, t(DCT, "type"), dtype.clone());

    // Provenance, frequency, retention, RUT.
    let provenance = node("provenance")?;
    b.add(&ds, t(DCT, "provenance"), provenance.clone());
    let freq = iri(
        "frequency",
        format!("{FREQUENCY}{}", d.update_frequency.code()),
    )?;
    b.add(&ds, t(DCT, "accrualPeriodicity"), freq.clone());
    let retention = match &d.retention {
        Some(r) => {
            let n = node("retention")?;
            b.add(&ds, t(HEALTH, "retentionPeriod"), n.clone());
            Some((n, *r))
        }
        None => None,
    };
    let rut = match &d.rut {
        Some(r) => {
            let n = iri("rut", r.as_str())?;
            b.add(&ds, t(FOAF, "page"), n.clone());
            Some(n)
        }
        None => None,
    };

    // Distribution: access is by application for a permit.
    let dist = node("distribution")?;
    b.add(&ds, t(DCAT, "distribution"), dist.clone());

    // Coding systems: the holder's and the computed ones (RDF has one
    // property for both; the JSON keeps them apart).
    let mut systems: Vec<String> = d.code_systems.clone();
    let facts: Option<&ComputedFacts> = entry.facts.as_ref();
    if let Some(f) = facts {
        systems.extend(f.code_systems().iter().cloned());
    }
    let mut system_nodes: Vec<(NamedNode, String)> = Vec::new();
    for s in &systems {
        let (n, label) = coding_system(config, s)?;
        if !system_nodes.iter().any(|(m, _)| *m == n) {
            system_nodes.push((n, label));
        }
    }
    for (n, _) in &system_nodes {
        b.add(&ds, t(HEALTH, "hasCodingSystem"), n.clone());
    }

    // Computed facts.
    let mut code_nodes = Vec::new();
    let mut coverage = None;
    if let Some(f) = facts {
        b.count(&ds, t(HEALTH, "numberOfRecords"), f.records());
        b.count(&ds, t(HEALTH, "numberOfUniqueIndividuals"), f.persons());
        if let Some(r) = f.age_range() {
            b.add(
                &ds,
                t(HEALTH, "minTypicalAge"),
                typed(r.min.to_string(), "nonNegativeInteger"),
            );
            if let Some(max) = r.max {
                b.add(
                    &ds,
                    t(HEALTH, "maxTypicalAge"),
                    typed(max.to_string(), "nonNegativeInteger"),
                );
            }
        }
        if !f.regions().is_empty() {
            let codes: Vec<&str> = f.regions().iter().map(|r| r.code.as_str()).collect();
            b.add(
                &ds,
                t(HEALTH, "populationCoverage"),
                lang(
                    &format!(
                        "Persons with recorded events in {} Swedish region(s) (län codes {})",
                        codes.len(),
                        codes.join(", ")
                    ),
                    "en",
                ),
            );
        }
        if let Some(c) = f.time_coverage() {
            let n = node("temporal")?;
            b.add(&ds, t(DCT, "temporal"), n.clone());
            coverage = Some((n, c));
        }
        for c in f.frequent_codes() {
            let (system, _) = coding_system(config, &c.system)?;
            let n = node(&format!("code-{}-{}", frag(&c.system), frag(&c.code)))?;
            b.add(&ds, t(HEALTH, "hasCodeValues"), n.clone());
            code_nodes.push((n, system, c.code.clone()));
        }
    }
    let country = iri("spatial", COUNTRY_SWE)?;
    b.add(&ds, t(DCT, "spatial"), country.clone());

    // Quality measurements.
    let mut measurements = Vec::new();
    for report in &entry.quality {
        for m in &report.metrics {
            let n = node(&format!(
                "quality-{}-{}-{}",
                frag(&report.source),
                frag(&report.load),
                frag(&m.id)
            ))?;
            b.add(&ds, t(DQV, "hasQualityMeasurement"), n.clone());
            measurements.push((n, report, m));
        }
    }

    // The nodes the dataset points to.
    b.a(&publisher, FOAF, "Agent");
    b.add(
        &publisher,
        t(FOAF, "name"),
        Literal::new_simple_literal(&d.publisher.name),
    );
    b.add(&publisher, t(DCAT, "contactPoint"), contact.clone());
    if let Some(home) = &d.publisher.homepage {
        let h = iri("publisher homepage", home.as_str())?;
        b.add(&publisher, t(FOAF, "homepage"), h.clone());
        b.a(&h, FOAF, "Document");
    }
    b.contact(&contact, &d.publisher.contact)?;
    hdab(b, config)?;

    b.a(&rights, DCT, "RightsStatement");
    b.add(
        &rights,
        t(RDFS, "label"),
        lang(d.access_rights.label(), "en"),
    );
    for th in &d.themes {
        let n = iri("theme", format!("{DATA_THEME}{}", th.code()))?;
        b.concept(&n, DATA_THEME.trim_end_matches('/'), th.label())?;
    }
    for c in &d.health_categories {
        let scheme = config.vocab_uri("health-category");
        let n = iri("health category", format!("{scheme}/{}", c.code()))?;
        b.concept(&n, &scheme, c.label())?;
    }
    b.concept(&dtype, &type_scheme, d.dataset_type.label())?;
    b.a(&provenance, DCT, "ProvenanceStatement");
    b.bilingual(&provenance, t(RDFS, "label"), &d.provenance);
    b.a(&freq, DCT, "Frequency");
    b.add(
        &freq,
        t(RDFS, "label"),
        lang(d.update_frequency.label(), "en"),
    );
    if let Some((n, r)) = retention {
        b.a(&n, DCT, "PeriodOfTime");
        if let Some(s) = r.start {
            b.add(&n, t(DCAT, "startDate"), date(s));
        }
        if let Some(e) = r.end {
            b.add(&n, t(DCAT, "endDate"), date(e));
        }
    }
    if let Some(n) = rut {
        b.a(&n, FOAF, "Document");
        b.add(
            &n,
            t(RDFS, "label"),
            lang("Registerforskning.se (RUT) metadata entry", "en"),
        );
    }
    b.a(&dist, DCAT, "Distribution");
    b.add(
        &dist,
        t(DCT, "title"),
        lang(
            "Access through a data permit from the health data access body",
            "en",
        ),
    );
    b.add(
        &dist,
        t(DCT, "description"),
        lang(
            "Apply to the health data access body for a data permit; permitted data are made available in its secure processing environment, never downloaded.",
            "en",
        ),
    );
    b.add(
        &dist,
        t(DCAT, "accessURL"),
        iri("access url", config.access_url())?,
    );
    let stable = iri("availability", AVAILABILITY_STABLE)?;
    b.add(&dist, t(DCATAP, "availability"), stable.clone());
    b.concept(&stable, AVAILABILITY_SCHEME, "stable")?;
    legislation(b, &dist, &config.legislation)?;
    for (n, label) in &system_nodes {
        b.add(n, t(RDFS, "label"), lang(label, "en"));
    }
    for (n, system, code) in code_nodes {
        b.add(&n, t(SKOS, "notation"), Literal::new_simple_literal(&code));
        b.add(
            &n,
            t(DCT, "identifier"),
            typed(format!("{}#{}", system.as_str(), frag(&code)), "anyURI"),
        );
        b.add(&n, t(SKOS, "inScheme"), system);
    }
    if let Some((n, c)) = coverage {
        b.a(&n, DCT, "PeriodOfTime");
        b.add(&n, t(DCAT, "startDate"), date(c.start));
        b.add(&n, t(DCAT, "endDate"), date(c.end));
    }
    b.a(&country, DCT, "Location");
    for (n, report, m) in measurements {
        measurement(b, config, &ds, &n, report, m)?;
    }
    Ok(ds)
}

fn measurement(
    b: &mut Builder,
    config: &CatalogueConfig,
    ds: &NamedNode,
    n: &NamedNode,
    report: &QualityReport,
    m: &Metric,
) -> Result<(), RdfError> {
    let metric = iri(
        "metric",
        format!("{}/{}", config.vocab_uri("quality-metric"), frag(&m.id)),
    )?;
    let dim = dimension(config, m.dimension)?;
    b.a(n, DQV, "QualityMeasurement");
    b.add(n, t(DQV, "computedOn"), ds.clone());
    b.add(n, t(DQV, "isMeasurementOf"), metric.clone());
    b.add(n, t(DQV, "value"), typed(format!("{}", m.value), "double"));
    b.add(n, t(PROV, "generatedAtTime"), date_time(report.loaded_at));
    b.add(
        n,
        t(RDFS, "comment"),
        lang(
            &format!(
                "Source {}, load {}: {} {}",
                report.source,
                report.load,
                if m.passed { "Passed." } else { "Failed." },
                m.explanation
            ),
            "en",
        ),
    );
    b.a(&metric, DQV, "Metric");
    b.add(&metric, t(DQV, "inDimension"), dim.clone());
    b.add(&metric, t(DQV, "expectedDataType"), t(XSD, "double"));
    b.add(&metric, t(SKOS, "prefLabel"), lang(&m.id, "en"));
    b.a(&dim, DQV, "Dimension");
    b.add(&dim, t(SKOS, "prefLabel"), lang(m.dimension.name(), "en"));
    Ok(())
}

fn dimension(config: &CatalogueConfig, d: Dimension) -> Result<NamedNode, RdfError> {
    iri(
        "dimension",
        format!("{}/{}", config.vocab_uri("quality-dimension"), d.name()),
    )
}

fn catalog_node(
    b: &mut Builder,
    catalogue: &Catalogue,
    datasets: &[NamedNode],
) -> Result<NamedNode, RdfError> {
    let config = catalogue.config();
    let cat = iri("catalogue", config.catalogue_uri())?;
    b.a(&cat, DCAT, "Catalog");
    b.bilingual(&cat, t(DCT, "title"), &config.title);
    b.bilingual(&cat, t(DCT, "description"), &config.description);
    b.add(
        &cat,
        t(DCT, "publisher"),
        iri("hdab", format!("{}#hdab", config.catalogue_uri()))?,
    );
    b.add(&cat, t(DCT, "modified"), date_time(catalogue.modified()));
    legislation(b, &cat, &config.legislation)?;
    for code in ["SWE", "ENG"] {
        let l = iri("language", format!("{LANGUAGE}{code}"))?;
        b.add(&cat, t(DCT, "language"), l.clone());
        b.a(&l, DCT, "LinguisticSystem");
    }
    let home = iri("homepage", config.base_url.as_str())?;
    b.add(&cat, t(FOAF, "homepage"), home.clone());
    b.a(&home, FOAF, "Document");
    let country = iri("spatial", COUNTRY_SWE)?;
    b.add(&cat, t(DCT, "spatial"), country.clone());
    b.a(&country, DCT, "Location");
    let themes = iri("theme taxonomy", DATA_THEME.trim_end_matches('/'))?;
    b.add(&cat, t(DCAT, "themeTaxonomy"), themes.clone());
    b.a(&themes, SKOS, "ConceptScheme");
    b.add(&themes, t(DCT, "title"), lang("Data theme", "en"));
    for d in datasets {
        b.add(&cat, t(DCAT, "dataset"), d.clone());
    }
    hdab(b, config)?;
    Ok(cat)
}

fn paging(b: &mut Builder, config: &CatalogueConfig, info: &PageInfo) -> Result<(), RdfError> {
    let page = iri("page", config.page_uri(info.page))?;
    b.a(&page, HYDRA, "PagedCollection");
    b.add(
        &page,
        t(HYDRA, "totalItems"),
        typed(info.total.to_string(), "nonNegativeInteger"),
    );
    b.add(
        &page,
        t(HYDRA, "itemsPerPage"),
        typed(info.page_size.to_string(), "nonNegativeInteger"),
    );
    b.add(
        &page,
        t(HYDRA, "firstPage"),
        iri("page", config.page_uri(1))?,
    );
    b.add(
        &page,
        t(HYDRA, "lastPage"),
        iri("page", config.page_uri(info.pages))?,
    );
    if info.page > 1 {
        b.add(
            &page,
            t(HYDRA, "previousPage"),
            iri("page", config.page_uri(info.page - 1))?,
        );
    }
    if info.page < info.pages {
        b.add(
            &page,
            t(HYDRA, "nextPage"),
            iri("page", config.page_uri(info.page + 1))?,
        );
    }
    Ok(())
}

/// The triples of catalogue page `page` (1-based): the `dcat:Catalog`
/// with the page's datasets, the datasets, and the Hydra paging node.
///
/// # Errors
/// [`RdfError`] for a page that does not exist or a value that is not an
/// IRI.
pub fn page_triples(catalogue: &Catalogue, page: usize) -> Result<Vec<Triple>, RdfError> {
    let (entries, info) = catalogue.page(page)?;
    let mut b = Builder {
        triples: Vec::new(),
    };
    let mut body = Builder {
        triples: Vec::new(),
    };
    let mut datasets = Vec::new();
    for e in entries {
        datasets.push(dataset(&mut body, catalogue.config(), e)?);
    }
    catalog_node(&mut b, catalogue, &datasets)?;
    paging(&mut b, catalogue.config(), &info)?;
    b.triples.extend(body.triples);
    Ok(dedup(b.triples))
}

/// The triples of one dataset, or `None` when it is not published.
///
/// # Errors
/// [`RdfError`] for a value that is not an IRI.
pub fn dataset_triples(catalogue: &Catalogue, id: &str) -> Result<Option<Vec<Triple>>, RdfError> {
    let Some(e) = catalogue.entry(id) else {
        return Ok(None);
    };
    let mut b = Builder {
        triples: Vec::new(),
    };
    dataset(&mut b, catalogue.config(), e)?;
    Ok(Some(dedup(b.triples)))
}

/// Drop repeated triples, keeping the first of each (order otherwise kept,
/// so subjects stay grouped).
fn dedup(triples: Vec<Triple>) -> Vec<Triple> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(triples.len());
    for tr in triples {
        if seen.insert(tr.clone()) {
            out.push(tr);
        }
    }
    out
}

/// Serialise triples as Turtle (with the [`PREFIXES`]) or JSON-LD.
///
/// # Errors
/// [`RdfError::Serialise`].
pub fn serialise(triples: &[Triple], syntax: RdfSyntax) -> Result<Vec<u8>, RdfError> {
    let mut ser = match syntax {
        RdfSyntax::Turtle => RdfSerializer::from_format(RdfFormat::Turtle),
        RdfSyntax::JsonLd => RdfSerializer::from_format(RdfFormat::JsonLd {
            profile: JsonLdProfileSet::empty(),
        }),
    };
    for (p, ns) in PREFIXES {
        ser = ser.with_prefix(p, ns).map_err(|e| RdfError::Iri {
            what: "prefix".into(),
            iri: ns.into(),
            reason: e.to_string(),
        })?;
    }
    let mut w = ser.for_writer(Vec::new());
    for tr in triples {
        w.serialize_triple(tr)?;
    }
    let out = w.finish()?;
    Ok(match syntax {
        RdfSyntax::Turtle => sort_prefix_lines(out),
        RdfSyntax::JsonLd => out,
    })
}

/// The Turtle serialiser writes the `@prefix` lines first, in hash order;
/// sort them so the same catalogue always gives the same bytes.
fn sort_prefix_lines(turtle: Vec<u8>) -> Vec<u8> {
    let mut prefixes: Vec<&[u8]> = Vec::new();
    let mut rest = turtle.as_slice();
    while rest.starts_with(b"@prefix ") {
        let end = rest
            .iter()
            .position(|&c| c == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let (line, tail) = rest.split_at(end);
        prefixes.push(line);
        rest = tail;
    }
    prefixes.sort_unstable();
    let mut out = Vec::with_capacity(turtle.len());
    for p in prefixes {
        out.extend_from_slice(p);
    }
    out.extend_from_slice(rest);
    out
}
