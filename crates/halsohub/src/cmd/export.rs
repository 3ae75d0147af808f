//! `halsohub export`: a cohort's or a permit's data under project
//! pseudonyms, as OMOP CDM 5.4 (CSV or Parquet) or FHIR R4 bulk NDJSON.
//! For the data steward; the library (`halsohub-export`) decides what
//! leaves, this only parses, resolves paths and the key, and reports.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use halsohub_app::hub::{Hub, code_lists, engine};
use halsohub_app::query::read_query_file;
use halsohub_export::{Format, Patients, Period, Progress, Request, Scope};
use halsohub_identity::Pseudonym;
use halsohub_store::Domain;
use indicatif::ProgressBar;

use crate::cmd::keys::KeyArg;
use crate::progress::{self, Unit};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Store directory.
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    #[command(flatten)]
    pub key: KeyArg,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The project (permit) the data is for: persons get pseudonyms
    /// specific to this name, unlinkable to other projects' exports.
    #[arg(long, value_name = "NAME")]
    pub project: String,
    /// Only the members of this cohort: a query file (JSON or YAML, as for
    /// `halsohub count`); its criteria select the persons, its output part
    /// is ignored. Default: every person.
    #[arg(long, value_name = "QUERY_FILE")]
    pub cohort: Option<PathBuf>,
    /// Only events starting on or after this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub from: Option<NaiveDate>,
    /// Only events starting on or before this date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub to: Option<NaiveDate>,
    /// Only these data categories (comma-separated domains: diagnosis,
    /// dispensed_drug, administered_drug, prescribed_drug, lab_result,
    /// observation, procedure, encounter, death). Default: all.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub domains: Option<Vec<String>>,
    /// Persons never to export (opt-outs): a file of hub pseudonyms, one
    /// per line (32 hex digits; `#` comments and blank lines ignored).
    #[arg(long, value_name = "FILE")]
    pub exclude: Option<PathBuf>,
    /// Snapshot to export (e.g. s000002); defaults to the current one.
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,
    /// Output directory: must not exist or be empty, and not lie inside the
    /// store. Written beside it and renamed into place when complete.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Events held in memory at a time (the export reads the store in as
    /// many passes as it needs).
    #[arg(long, value_name = "N", default_value_t = halsohub_export::DEFAULT_EVENTS_PER_PASS)]
    pub events_per_pass: usize,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lists: crate::cmd::lists::CodeListArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// OMOP CDM 5.4 tables as CSV files.
    OmopCsv,
    /// OMOP CDM 5.4 tables as Parquet files.
    OmopParquet,
    /// FHIR R4 bulk NDJSON, one file per resource type.
    FhirNdjson,
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, persons: u64) {
        self.0.set_length(persons);
    }
    fn advance(&self, persons: u64) {
        self.0.inc(persons);
    }
}

pub fn run(args: ExportArgs, home: &Path) -> Result<()> {
    let format = match args.format {
        ExportFormat::OmopCsv => Format::OmopCsv,
        ExportFormat::OmopParquet => Format::OmopParquet,
        ExportFormat::FhirNdjson => Format::FhirNdjson,
    };
    let domains = match &args.domains {
        None => None,
        Some(list) => Some(parse_domains(list)?),
    };
    let period = Period::new(args.from, args.to).context("--from/--to")?;
    let exclude = match &args.exclude {
        None => HashSet::new(),
        Some(p) => read_pseudonyms(p)?,
    };
    let query = match &args.cohort {
        None => None,
        Some(p) => Some((p, read_query_file(p)?)),
    };
    // The key first (a missing key fails before the long work), checked
    // against the store.
    let hub = Hub::open(&args.store, &args.key.path(home))?;
    let snapshot = hub.snapshot(args.snapshot.as_deref())?;
    let (patients, basis) = match &query {
        None => (Patients::All, None),
        Some((path, value)) => {
            let engine = engine(&snapshot)?;
            let lists = code_lists(&engine, &args.lists.files)?;
            let q = &halsohub_cohort::parse_value(value, &lists)
                .with_context(|| format!("cohort query {}", path.display()))?;
            let members = halsohub_export::cohort_members(&engine, q, &lists, &exclude)
                .with_context(|| format!("evaluating cohort {}", path.display()))?;
            (
                Patients::Only(members),
                Some(format!("cohort query {}", halsohub_cohort::query_hash(q))),
            )
        }
    };
    let scope = Scope {
        patients,
        period,
        domains,
        exclude,
        basis,
    };
    let req = Request {
        snapshot: &snapshot,
        scope,
        project: args.project.clone(),
        format,
        out: args.out.clone(),
        events_per_pass: args.events_per_pass,
    };
    let bar = Bar(progress::bar(0, "export", Unit::Items));
    let summary = halsohub_export::export(&req, &hub.pseudonymiser(), &bar)
        .with_context(|| format!("exporting to {}", args.out.display()))?;
    bar.0.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    println!(
        "exported snapshot {} for project {:?} as {} to {}",
        summary.snapshot,
        summary.project,
        summary.format.as_str(),
        summary.dir.display()
    );
    println!(
        "  {} persons, {} events ({} left out by period or categories; {} persons excluded)",
        summary.persons, summary.events, summary.events_out_of_scope, summary.excluded_persons
    );
    for f in &summary.files {
        println!("  {:<32} {:>12}", f.file, f.rows);
    }
    println!(
        "persons carry project pseudonyms only; keep the export within the permit's processing environment"
    );
    Ok(())
}

fn parse_domains(list: &[String]) -> Result<BTreeSet<Domain>> {
    let mut out = BTreeSet::new();
    for d in list {
        let d = d.trim();
        if d.is_empty() {
            continue;
        }
        match Domain::parse(d) {
            Some(x) => {
                out.insert(x);
            }
            None => bail!(
                "--domains: unknown domain {d:?}; known: {}",
                Domain::ALL.map(Domain::as_str).join(", ")
            ),
        }
    }
    if out.is_empty() {
        bail!("--domains: the list is empty");
    }
    Ok(out)
}

fn read_pseudonyms(path: &Path) -> Result<HashSet<Pseudonym>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading exclusion file {}", path.display()))?;
    let mut out = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let p: Pseudonym = line.parse().map_err(|_| {
            anyhow::anyhow!(
                "{}:{}: not a hub pseudonym (32 hexadecimal digits)",
                path.display(),
                i + 1
            )
        })?;
        out.insert(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_parse_and_unknown_ones_are_named() {
        let d = parse_domains(&["diagnosis".into(), " lab_result".into()]).unwrap();
        assert_eq!(d.len(), 2);
        let e = parse_domains(&["diagnoses".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("diagnoses") && e.contains("lab_result"), "{e}");
        assert!(parse_domains(&[String::new()]).is_err());
    }

    #[test]
    fn exclusion_files_name_the_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("optout.txt");
        std::fs::write(
            &p,
            "# opt-outs\n0123456789abcdef0123456789abcdef\n\nnot-hex\n",
        )
        .unwrap();
        let e = read_pseudonyms(&p).unwrap_err().to_string();
        assert!(e.contains(":4:"), "{e}");
        std::fs::write(&p, "0123456789abcdef0123456789abcdef # x\n").unwrap();
        assert_eq!(read_pseudonyms(&p).unwrap().len(), 1);
    }
}
