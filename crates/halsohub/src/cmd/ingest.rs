//! `halsohub ingest`: validate, pseudonymise, link and load source files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Args;
use halsohub_app::hub::Hub;
use halsohub_identity::ParseOptions;
use halsohub_ingest::{Format, IngestOptions, LoadReport, Progress};
use indicatif::ProgressBar;

use crate::cmd::keys::KeyArg;
use crate::progress::{self, Unit};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Store directory (created on the first load).
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    #[command(flatten)]
    pub key: KeyArg,
    /// Date the extracts were taken. Decides the century of 10-digit
    /// identity numbers and rejects birth dates after it. Defaults to today;
    /// pass the extract date whenever it is known.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub reference_date: Option<NaiveDate>,
    /// Read every file as this format instead of detecting it from its
    /// header or content (population, id_changes, par_inpatient,
    /// par_outpatient, primary_care, prescribed_drugs, administered_drugs,
    /// lab, cause_of_death, fhir, omop).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Print the load report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Source files or directories (searched recursively; .gz is read):
    /// register extracts, FHIR R4 Bundles or bulk NDJSON, OMOP CDM 5.3/5.4
    /// folders of table files (PERSON.csv.gz, concept.csv, ...).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: IngestArgs, home: &Path) -> Result<()> {
    let key_path = args.key.path(home);
    let format = args
        .format
        .as_deref()
        .map(Format::parse)
        .transpose()
        .context("--format")?;
    let reference = args
        .reference_date
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let report = load(&args.store, &key_path, &args.paths, reference, format)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

/// Opens (or creates) the store with the key's fingerprint — the key file
/// must lie outside it — and loads `paths` into it, drawing a progress bar.
pub fn load(
    store_dir: &Path,
    key_path: &Path,
    paths: &[PathBuf],
    reference: NaiveDate,
    format: Option<Format>,
) -> Result<LoadReport> {
    let hub = Hub::open_for_load(store_dir, key_path)?;
    let options = IngestOptions {
        format,
        identity: ParseOptions::new(reference),
        ..IngestOptions::default()
    };
    let bar = BarProgress(progress::bar(0, "ingest", Unit::Bytes));
    let report = hub.ingest(paths, &options, &bar)?;
    bar.0.finish_and_clear();
    Ok(report)
}

struct BarProgress(ProgressBar);

impl Progress for BarProgress {
    fn start(&self, total_bytes: u64) {
        self.0.set_length(total_bytes);
    }
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}
