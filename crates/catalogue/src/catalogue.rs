//! The catalogue: the hub's configuration (base URL, title, the health
//! data access body), its published entries, dataset URIs and pages.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::approval::Approved;
use crate::description::{
    Bilingual, ContactPoint, DescriptionError, FileFormat, Issue, parse_text,
};
use crate::facts::ComputedFacts;
use crate::quality::QualityReport;

/// The EHDS regulation, (EU) 2025/327, as an ELI IRI.
pub const EHDS_ELI: &str = "http://data.europa.eu/eli/reg/2025/327/oj";

/// The most datasets one page may hold.
pub const MAX_PAGE_SIZE: usize = 500;

/// The health data access body that publishes the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hdab {
    /// Its name.
    pub name: String,
    /// Where to reach it.
    pub contact: ContactPoint,
}

fn default_legislation() -> Vec<String> {
    vec![EHDS_ELI.to_string()]
}

fn default_page_size() -> usize {
    50
}

/// How the hub publishes its catalogue (a YAML or JSON file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogueConfig {
    /// The hub's public base URL (`https://halsohub.example.se`); dataset
    /// URIs are `{base_url}/api/v1/catalogue/datasets/{id}`.
    pub base_url: String,
    /// The catalogue's title.
    pub title: Bilingual,
    /// What the catalogue is.
    pub description: Bilingual,
    /// The health data access body (publisher of the catalogue, and the
    /// HDAB of every dataset).
    pub hdab: Hdab,
    /// Legislation that applies to the catalogue and its distributions
    /// (ELI IRIs); the EHDS regulation by default.
    #[serde(default = "default_legislation")]
    pub legislation: Vec<String>,
    /// Datasets per page when harvesting (1–500).
    #[serde(default = "default_page_size")]
    pub page_size: usize,
}

/// Why a catalogue cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The configuration is wrong.
    #[error("catalogue configuration: {}", issues.iter().map(Issue::to_string).collect::<Vec<_>>().join("; "))]
    Config {
        /// Every problem.
        issues: Vec<Issue>,
    },
    /// The configuration file could not be read.
    #[error(transparent)]
    File(#[from] DescriptionError),
    /// Two entries have one identifier.
    #[error("two published descriptions have the identifier {0}")]
    DuplicateId(String),
    /// No such page.
    #[error("page {page} does not exist (the catalogue has {pages} pages)")]
    NoSuchPage {
        /// Asked for.
        page: usize,
        /// Pages there are.
        pages: usize,
    },
}

impl CatalogueConfig {
    /// Read and check a configuration file (YAML, or JSON for `*.json`).
    ///
    /// # Errors
    /// [`CatalogueError`] naming the file, field and reason.
    pub fn read(path: &Path) -> Result<CatalogueConfig, CatalogueError> {
        let text = std::fs::read_to_string(path).map_err(|source| DescriptionError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        let c: CatalogueConfig = parse_text(&text, FileFormat::from_path(path), path)?;
        let issues = c.issues();
        if issues.is_empty() {
            Ok(c)
        } else {
            Err(DescriptionError::Invalid {
                file: path.to_path_buf(),
                issues,
            }
            .into())
        }
    }

    /// Every problem with the configuration.
    #[must_use]
    pub fn issues(&self) -> Vec<Issue> {
        let mut out = Vec::new();
        let mut bad = |path: &str, reason: String| {
            out.push(Issue {
                path: path.into(),
                reason,
            })
        };
        let b = &self.base_url;
        if !(b.starts_with("https://") || b.starts_with("http://"))
            || oxrdf::NamedNode::new(b.as_str()).is_err()
            || b.contains(['?', '#'])
        {
            bad(
                "$.base_url",
                format!("{b:?} is not a base URL (http(s)://host[/path], no query or fragment)"),
            );
        } else if b.ends_with('/') {
            bad("$.base_url", "leave out the trailing '/'".into());
        }
        for (p, t) in [
            ("$.title.sv", &self.title.sv),
            ("$.title.en", &self.title.en),
            ("$.description.sv", &self.description.sv),
            ("$.description.en", &self.description.en),
            ("$.hdab.name", &self.hdab.name),
            ("$.hdab.contact.name", &self.hdab.contact.name),
        ] {
            if t.trim().is_empty() {
                bad(p, "empty text".into());
            }
        }
        if self.hdab.contact.email.is_none() && self.hdab.contact.url.is_none() {
            bad("$.hdab.contact", "give an email or a url".into());
        }
        if self.legislation.is_empty() {
            bad("$.legislation", "name at least one law (ELI IRI)".into());
        }
        for (i, l) in self.legislation.iter().enumerate() {
            if oxrdf::NamedNode::new(l.as_str()).is_err() {
                bad(
                    &format!("$.legislation[{i}]"),
                    format!("{l:?} is not an IRI"),
                );
            }
        }
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            bad(
                "$.page_size",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            );
        }
        out
    }

    /// The catalogue's URI (and the harvesting endpoint).
    #[must_use]
    pub fn catalogue_uri(&self) -> String {
        format!("{}/api/v1/catalogue", self.base_url)
    }

    /// A dataset's stable, dereferenceable URI.
    #[must_use]
    pub fn dataset_uri(&self, id: &str) -> String {
        format!("{}/api/v1/catalogue/datasets/{id}", self.base_url)
    }

    /// Where access to the data is asked for: the application endpoint.
    #[must_use]
    pub fn access_url(&self) -> String {
        format!("{}/api/v1/applications", self.base_url)
    }

    /// The hub's own concept schemes (`{base}/catalogue/vocab/{scheme}`).
    #[must_use]
    pub fn vocab_uri(&self, scheme: &str) -> String {
        format!("{}/catalogue/vocab/{scheme}", self.base_url)
    }

    /// A page of the catalogue (1-based).
    #[must_use]
    pub fn page_uri(&self, page: usize) -> String {
        format!("{}?page={page}", self.catalogue_uri())
    }
}

/// One published dataset: the approved description, and what the hub
/// computed for it (kept apart).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Entry {
    /// The holder's approved description.
    pub approved: Approved,
    /// Facts computed from the current snapshot, if computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facts: Option<ComputedFacts>,
    /// Quality per covered source and load, newest load last.
    pub quality: Vec<QualityReport>,
}

impl Entry {
    /// The dataset's identifier.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.approved.description().id
    }
}

/// The published catalogue: a configuration and its entries by id.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Catalogue {
    config: CatalogueConfig,
    entries: Vec<Entry>,
    modified: DateTime<Utc>,
}

/// The datasets on one page, and where the others are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PageInfo {
    /// This page (1-based).
    pub page: usize,
    /// Pages in all (at least 1).
    pub pages: usize,
    /// Datasets per page.
    pub page_size: usize,
    /// Datasets in all.
    pub total: usize,
}

impl Catalogue {
    /// Build a catalogue; entries are ordered by identifier.
    ///
    /// # Errors
    /// [`CatalogueError::Config`] or [`CatalogueError::DuplicateId`].
    pub fn new(
        config: CatalogueConfig,
        mut entries: Vec<Entry>,
        modified: DateTime<Utc>,
    ) -> Result<Catalogue, CatalogueError> {
        let issues = config.issues();
        if !issues.is_empty() {
            return Err(CatalogueError::Config { issues });
        }
        entries.sort_by(|a, b| a.id().cmp(b.id()));
        let mut seen = BTreeSet::new();
        for e in &entries {
            if !seen.insert(e.id()) {
                return Err(CatalogueError::DuplicateId(e.id().to_string()));
            }
        }
        Ok(Catalogue {
            config,
            entries,
            modified,
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &CatalogueConfig {
        &self.config
    }

    /// Every entry, by identifier.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// When the catalogue last changed.
    #[must_use]
    pub fn modified(&self) -> DateTime<Utc> {
        self.modified
    }

    /// The entry with this identifier.
    #[must_use]
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.id().cmp(id))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// Number of pages (at least 1, also when empty).
    #[must_use]
    pub fn pages(&self) -> usize {
        self.entries.len().div_ceil(self.config.page_size).max(1)
    }

    /// The entries on page `page` (1-based) and the paging facts.
    ///
    /// # Errors
    /// [`CatalogueError::NoSuchPage`].
    pub fn page(&self, page: usize) -> Result<(&[Entry], PageInfo), CatalogueError> {
        let pages = self.pages();
        if page == 0 || page > pages {
            return Err(CatalogueError::NoSuchPage { page, pages });
        }
        let size = self.config.page_size;
        let start = (page - 1) * size;
        let end = (start + size).min(self.entries.len());
        let slice = self.entries.get(start..end).unwrap_or(&[]);
        Ok((
            slice,
            PageInfo {
                page,
                pages,
                page_size: size,
                total: self.entries.len(),
            },
        ))
    }
}
