//! The data holder's description of a dataset, read from a metadata file
//! (YAML or JSON), and the checks it must pass before it can be approved.
//!
//! Every error names the file and the field path (`$.publisher.contact.email`)
//! and says why. Syntax and type errors stop at the first; the content
//! checks ([`DatasetDescription::issues`]) report every problem at once.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use halsohub_codes::System;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::vocab::{AccessRights, DatasetType, Frequency, HealthCategory, Theme};

/// The longest identifier a dataset may have.
pub const MAX_ID_LEN: usize = 64;

/// A text in Swedish and English (both required).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bilingual {
    /// Swedish.
    pub sv: String,
    /// English.
    pub en: String,
}

/// Keywords in Swedish and English.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Keywords {
    /// Swedish keywords.
    #[serde(default)]
    pub sv: Vec<String>,
    /// English keywords.
    #[serde(default)]
    pub en: Vec<String>,
}

/// Who answers questions about the dataset: a name and an e-mail address
/// or a web page (at least one of the two).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPoint {
    /// A function or a person, e.g. `Registerservice`.
    pub name: String,
    /// E-mail address (without `mailto:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A contact web page (`https://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The organisation that holds and publishes the dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Publisher {
    /// The organisation's name, e.g. `Socialstyrelsen`.
    pub name: String,
    /// The organisation's web site, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// Where to ask about the dataset.
    pub contact: ContactPoint,
}

/// How long the data are kept: from `start`, until `end` (at least one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// First day the data are kept from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<NaiveDate>,
    /// Last day the data are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<NaiveDate>,
}

/// The holder's description of one dataset. Field names are the metadata
/// file's keys (`docs/catalogue.md`); unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetDescription {
    /// Stable identifier, part of the dataset's URI: lower-case letters,
    /// digits and `-`, starting with a letter, at most [`MAX_ID_LEN`].
    pub id: String,
    /// Title.
    pub title: Bilingual,
    /// What the dataset holds.
    pub description: Bilingual,
    /// Holder and contact point.
    pub publisher: Publisher,
    /// Applicable legislation: ELI IRIs (at least one).
    pub legislation: Vec<String>,
    /// Legal basis for the processing (IRIs, e.g. of the DPV GDPR terms).
    #[serde(default)]
    pub legal_basis: Vec<String>,
    /// Purposes the data serve (IRIs, e.g. `https://w3id.org/dpv#ScientificResearch`).
    #[serde(default)]
    pub purpose: Vec<String>,
    /// Access rights.
    #[serde(default)]
    pub access_rights: AccessRights,
    /// EU data themes (at least one).
    pub themes: Vec<Theme>,
    /// EHDS categories of electronic health data (at least one).
    pub health_categories: Vec<HealthCategory>,
    /// Keywords (at least one in total).
    pub keywords: Keywords,
    /// What kind of data collection this is.
    #[serde(rename = "type")]
    pub dataset_type: DatasetType,
    /// Code systems the holder uses (halsohub ids, aliases or URIs:
    /// `icd10se`, `atc`, `http://loinc.org`, …).
    #[serde(default)]
    pub code_systems: Vec<String>,
    /// Where the data come from and how they are collected.
    pub provenance: Bilingual,
    /// How often new data arrive.
    pub update_frequency: Frequency,
    /// How long the data are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// The dataset's page in the national metadata tool RUT
    /// (`https://www.registerforskning.se/…`), where one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rut: Option<String>,
    /// The hub sources it covers: the `source` names the store records
    /// (e.g. `par_inpatient`); at least one.
    pub sources: Vec<String>,
}

/// One problem in a description: where (a JSON path) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Issue {
    /// JSON path of the field, e.g. `$.publisher.contact.email`.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

fn join_issues(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(Issue::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a metadata file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DescriptionError {
    /// The file could not be read.
    #[error("cannot read metadata file {}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML / JSON, or a field has the wrong type.
    #[error("metadata file {}: {path}: {message}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// JSON path of the field (`$` for the whole file).
        path: String,
        /// The parser's message.
        message: String,
    },
    /// The content breaks the rules (every problem listed).
    #[error("metadata file {}: {}", file.display(), join_issues(issues))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Every problem found.
        issues: Vec<Issue>,
    },
}

/// The metadata file's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// JSON.
    Json,
    /// YAML (also accepts JSON).
    Yaml,
}

impl FileFormat {
    /// JSON for `*.json`, YAML otherwise.
    #[must_use]
    pub fn from_path(path: &Path) -> FileFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => FileFormat::Json,
            _ => FileFormat::Yaml,
        }
    }
}

/// Render a serde path as a JSON path (`$.a.b[0]`).
pub(crate) fn json_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::from("$");
    for seg in path.iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => {
                out.push('.');
                out.push_str(key);
            }
            serde_path_to_error::Segment::Enum { variant } => {
                out.push('.');
                out.push_str(variant);
            }
            serde_path_to_error::Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

/// Parse a value of type `T` from a metadata text, naming `file` and the
/// field path in errors.
pub(crate) fn parse_text<T: for<'de> Deserialize<'de>>(
    text: &str,
    format: FileFormat,
    file: &Path,
) -> Result<T, DescriptionError> {
    let syntax = |path: String, message: String| DescriptionError::Syntax {
        file: file.to_path_buf(),
        path,
        message,
    };
    match format {
        FileFormat::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let v: T = serde_path_to_error::deserialize(&mut de)
                .map_err(|e| syntax(json_path(e.path()), e.inner().to_string()))?;
            de.end().map_err(|e| syntax("$".into(), e.to_string()))?;
            Ok(v)
        }
        FileFormat::Yaml => {
            let value: serde_json::Value =
                serde_yaml_ng::from_str(text).map_err(|e| syntax("$".into(), e.to_string()))?;
            serde_path_to_error::deserialize(&value)
                .map_err(|e| syntax(json_path(e.path()), e.inner().to_string()))
        }
    }
}

impl DatasetDescription {
    /// Read and check a metadata file (YAML, or JSON for `*.json`).
    ///
    /// # Errors
    /// [`DescriptionError`] naming the file, the field path and the reason.
    pub fn read(path: &Path) -> Result<DatasetDescription, DescriptionError> {
        let text = std::fs::read_to_string(path).map_err(|source| DescriptionError::Io {
            file: path.to_path_buf(),
            source,
        })?;
        DatasetDescription::parse(&text, FileFormat::from_path(path), path)
    }

    /// Parse and check a metadata text; `file` names it in errors.
    ///
    /// # Errors
    /// [`DescriptionError::Syntax`] or [`DescriptionError::Invalid`].
    pub fn parse(
        text: &str,
        format: FileFormat,
        file: &Path,
    ) -> Result<DatasetDescription, DescriptionError> {
        let d: DatasetDescription = parse_text(text, format, file)?;
        let issues = d.issues();
        if issues.is_empty() {
            Ok(d)
        } else {
            Err(DescriptionError::Invalid {
                file: file.to_path_buf(),
                issues,
            })
        }
    }

    /// Every content problem: empty texts, a malformed identifier, e-mail
    /// or IRI, missing required lists, an unknown code system shape.
    #[must_use]
    pub fn issues(&self) -> Vec<Issue> {
        let mut out = Vec::new();
        let mut bad = |path: &str, reason: String| {
            out.push(Issue {
                path: path.to_string(),
                reason,
            });
        };
        if let Some(reason) = id_problem(&self.id) {
            bad("$.id", reason);
        }
        for (path, text) in [
            ("$.title.sv", &self.title.sv),
            ("$.title.en", &self.title.en),
            ("$.description.sv", &self.description.sv),
            ("$.description.en", &self.description.en),
            ("$.provenance.sv", &self.provenance.sv),
            ("$.provenance.en", &self.provenance.en),
            ("$.publisher.name", &self.publisher.name),
            ("$.publisher.contact.name", &self.publisher.contact.name),
        ] {
            if let Some(reason) = text_problem(text) {
                bad(path, reason);
            }
        }
        if let Some(home) = &self.publisher.homepage
            && let Some(reason) = web_iri_problem(home)
        {
            bad("$.publisher.homepage", reason);
        }
        let contact = &self.publisher.contact;
        if contact.email.is_none() && contact.url.is_none() {
            bad(
                "$.publisher.contact",
                "give an email or a url (or both) so the contact can be reached".into(),
            );
        }
        if let Some(email) = &contact.email
            && let Some(reason) = email_problem(email)
        {
            bad("$.publisher.contact.email", reason);
        }
        if let Some(url) = &contact.url
            && let Some(reason) = web_iri_problem(url)
        {
            bad("$.publisher.contact.url", reason);
        }
        if self.legislation.is_empty() {
            bad(
                "$.legislation",
                "name at least one applicable law (an ELI IRI, e.g. http://data.europa.eu/eli/reg/2025/327/oj)".into(),
            );
        }
        for (field, list) in [
            ("legislation", &self.legislation),
            ("legal_basis", &self.legal_basis),
            ("purpose", &self.purpose),
        ] {
            for (i, iri) in list.iter().enumerate() {
                if let Some(reason) = iri_problem(iri) {
                    bad(&format!("$.{field}[{i}]"), reason);
                }
            }
        }
        if self.themes.is_empty() {
            bad(
                "$.themes",
                "name at least one data theme (e.g. HEAL)".into(),
            );
        }
        if self.health_categories.is_empty() {
            bad(
                "$.health_categories",
                "name at least one health data category (e.g. ehr)".into(),
            );
        }
        let keywords = self.keywords.sv.iter().chain(&self.keywords.en).count();
        if keywords == 0 {
            bad("$.keywords", "give at least one keyword".into());
        }
        for (lang, list) in [("sv", &self.keywords.sv), ("en", &self.keywords.en)] {
            for (i, k) in list.iter().enumerate() {
                if let Some(reason) = text_problem(k) {
                    bad(&format!("$.keywords.{lang}[{i}]"), reason);
                }
            }
        }
        for (i, s) in self.code_systems.iter().enumerate() {
            if System::parse(s).is_none() {
                bad(
                    &format!("$.code_systems[{i}]"),
                    "empty code system name".into(),
                );
            }
        }
        if let Some(r) = &self.retention {
            match (r.start, r.end) {
                (None, None) => bad(
                    "$.retention",
                    "give a start or an end date (or leave retention out)".into(),
                ),
                (Some(s), Some(e)) if e < s => bad(
                    "$.retention.end",
                    format!("ends ({e}) before it starts ({s})"),
                ),
                _ => {}
            }
        }
        if let Some(rut) = &self.rut
            && let Some(reason) = web_iri_problem(rut)
        {
            bad("$.rut", reason);
        }
        if self.sources.is_empty() {
            bad(
                "$.sources",
                "name at least one hub source (the store's source name, e.g. par_inpatient)".into(),
            );
        }
        let mut seen = BTreeSet::new();
        for (i, s) in self.sources.iter().enumerate() {
            if let Some(reason) = source_problem(s) {
                bad(&format!("$.sources[{i}]"), reason);
            } else if !seen.insert(s.as_str()) {
                bad(&format!("$.sources[{i}]"), format!("{s} is listed twice"));
            }
        }
        out
    }
}

/// Why `id` cannot be a dataset identifier, if it cannot.
#[must_use]
pub fn id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("empty identifier".into());
    }
    if id.len() > MAX_ID_LEN {
        return Some(format!("longer than {MAX_ID_LEN} characters"));
    }
    if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("must start with a lower-case letter a-z".into());
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "{c:?} is not allowed: use lower-case letters a-z, digits and '-'"
        ));
    }
    if id.ends_with('-') || id.contains("--") {
        return Some("'-' must separate words (not end the id or repeat)".into());
    }
    None
}

fn text_problem(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        Some("empty text".into())
    } else if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        Some("contains a control character".into())
    } else {
        None
    }
}

fn source_problem(s: &str) -> Option<String> {
    if s.is_empty() {
        Some("empty source name".into())
    } else if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    {
        Some(format!(
            "{s:?} is not a source name (letters, digits, '_', '-', '.')"
        ))
    } else {
        None
    }
}

fn iri_problem(iri: &str) -> Option<String> {
    match oxrdf::NamedNode::new(iri) {
        Ok(_) => None,
        Err(e) => Some(format!("{iri:?} is not an absolute IRI: {e}")),
    }
}

fn web_iri_problem(iri: &str) -> Option<String> {
    if let Some(p) = iri_problem(iri) {
        return Some(p);
    }
    if iri.starts_with("https://") || iri.starts_with("http://") {
        None
    } else {
        Some(format!(
            "{iri:?} is not a web address (http:// or https://)"
        ))
    }
}

fn email_problem(email: &str) -> Option<String> {
    let ok = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.contains(char::is_whitespace)
                && !domain.contains('@')
                && iri_problem(&format!("mailto:{email}")).is_none()
        }
        None => false,
    };
    if ok {
        None
    } else {
        Some(format!("{email:?} is not an e-mail address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const EXAMPLE: &str = include_str!("../tests/data/par-inpatient.yaml");

    fn parse(text: &str) -> Result<DatasetDescription, DescriptionError> {
        DatasetDescription::parse(text, FileFormat::Yaml, Path::new("par.yaml"))
    }

    #[test]
    fn the_example_file_reads() {
        let d = parse(EXAMPLE).unwrap();
        assert_eq!(d.id, "par-inpatient");
        assert_eq!(d.sources, vec!["par_inpatient".to_string()]);
        assert_eq!(d.dataset_type, DatasetType::Register);
        assert!(d.rut.as_deref().unwrap().contains("registerforskning.se"));
    }

    #[test]
    fn a_type_error_names_file_and_field_path() {
        let text = EXAMPLE.replace("update_frequency: annual", "update_frequency: hourly");
        let e = parse(&text).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("par.yaml"), "{msg}");
        assert!(msg.contains("$.update_frequency"), "{msg}");
        assert!(msg.contains("hourly"), "{msg}");
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_path() {
        let text = EXAMPLE.replace(
            "  name: Registerservice",
            "  name: Registerservice\n    phone: 123",
        );
        let e = parse(&text).unwrap_err();
        match e {
            DescriptionError::Syntax { path, message, .. } => {
                assert_eq!(path, "$.publisher.contact.phone");
                assert!(message.contains("phone"), "{message}");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn every_content_problem_is_reported_at_once() {
        let text = EXAMPLE
            .replace("id: par-inpatient", "id: PAR inpatient")
            .replace("registerservice@socialstyrelsen.se", "not-an-address")
            .replace("  - par_inpatient", "  - par inpatient");
        let e = parse(&text).unwrap_err();
        let DescriptionError::Invalid { issues, file } = e else {
            panic!("expected Invalid");
        };
        assert_eq!(file, Path::new("par.yaml"));
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            vec!["$.id", "$.publisher.contact.email", "$.sources[0]"],
            "{issues:?}"
        );
    }

    #[test]
    fn json_reads_like_yaml() {
        let d = parse(EXAMPLE).unwrap();
        let json = serde_json::to_string(&d).unwrap();
        let back =
            DatasetDescription::parse(&json, FileFormat::Json, Path::new("par.json")).unwrap();
        assert_eq!(back, d);
        let e = DatasetDescription::parse("{\"id\": 3}", FileFormat::Json, Path::new("x.json"))
            .unwrap_err();
        assert!(e.to_string().contains("$.id"), "{e}");
    }

    #[test]
    fn ids() {
        assert_eq!(id_problem("par-inpatient"), None);
        assert_eq!(id_problem("lab-region-7"), None);
        assert!(id_problem("").is_some());
        assert!(id_problem("7lab").is_some());
        assert!(id_problem("lab--x").is_some());
        assert!(id_problem("lab-").is_some());
        assert!(id_problem("lab/x").is_some());
        assert!(id_problem(&"a".repeat(65)).is_some());
    }

    #[test]
    fn retention_must_be_ordered_and_given() {
        let text = EXAMPLE.replace(
            "  start: 1987-01-01",
            "  start: 2050-01-01\n  end: 2040-12-31",
        );
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("$.retention.end"), "{e}");
    }

    #[test]
    fn missing_io_names_the_file() {
        let e = DatasetDescription::read(Path::new("/nonexistent/dir/x.yaml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/dir/x.yaml"), "{e}");
    }
}
