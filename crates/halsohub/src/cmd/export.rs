//! `halsohub export`: a cohort's or a permit's data under project
//! pseudonyms, as OMOP CDM 5.4 (CSV or Parquet) or FHIR R4 bulk NDJSON.
//! For the data steward; the job (scope, key check, cohort members,
//! writing) is [`halsohub_app::export`]; this only parses, resolves the
//! key path, draws the progress bar and reports.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use halsohub_app::export::{
    DEFAULT_EVENTS_PER_PASS, ExportFormat as Format, ExportJob, ExtractFor,
};

use crate::cmd::keys::KeyArg;
use crate::progress::{self, Bar, Unit};

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
    #[arg(long, value_name = "N", default_value_t = DEFAULT_EVENTS_PER_PASS)]
    pub events_per_pass: usize,
    /// The permit the extract is made under (e.g. HH-P-2026-000001): it
    /// must be active; everyone opted out of its purpose (or of all) as the
    /// register stood at its decision is left out. Without it, everyone
    /// opted out of anything now is left out. Either way the extract is
    /// recorded, so citizens can see which permits used their data.
    #[arg(long, value_name = "PERMIT_ID")]
    pub permit: Option<String>,
    /// Read the opt-out register as it stands now (the extract's refresh)
    /// instead of as it stood at the permit's decision.
    #[arg(long, requires = "permit")]
    pub refresh_opt_outs: bool,
    /// The state database: opt-out register, permits, record of extracts.
    #[command(flatten)]
    pub db: crate::cmd::db::DatabaseArgs,
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

pub fn run(args: ExportArgs, home: &Path) -> Result<()> {
    let format = match args.format {
        ExportFormat::OmopCsv => Format::OmopCsv,
        ExportFormat::OmopParquet => Format::OmopParquet,
        ExportFormat::FhirNdjson => Format::FhirNdjson,
    };
    let job = ExportJob {
        store: args.store.clone(),
        key: args.key.path(home),
        format,
        project: args.project.clone(),
        cohort: args.cohort.clone(),
        from: args.from,
        to: args.to,
        domains: args.domains.clone(),
        exclude: args.exclude.clone(),
        snapshot: args.snapshot.clone(),
        out: args.out.clone(),
        events_per_pass: args.events_per_pass,
        code_lists: args.lists.files.clone(),
        register_exclusions: Default::default(),
    };
    let whose = ExtractFor {
        permit: args.permit.clone(),
        refresh_opt_outs: args.refresh_opt_outs,
        actor: crate::cmd::count::os_user(),
    };
    let rt = crate::runtime()?;
    let db = rt
        .block_on(crate::cmd::db::open(&args.db, home))
        .context("the opt-out register and the record of extracts are in the state database")?;
    let bar = Bar(progress::bar(0, "export", Unit::Items));
    let extracted = rt.block_on(halsohub_app::export::run_for_permit(
        job,
        &whose,
        &db,
        chrono::Utc::now(),
        &bar,
    ))?;
    bar.0.finish_and_clear();
    let summary = extracted.summary;
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
    println!(
        "  opt-out register read as of {} ({} persons opted out); recorded as extract {}",
        extracted.frozen_at.format("%Y-%m-%d %H:%M UTC"),
        extracted.opted_out,
        extracted.extract_id
    );
    for f in &summary.files {
        println!("  {:<32} {:>12}", f.file, f.rows);
    }
    println!(
        "persons carry project pseudonyms only; keep the export within the permit's processing environment"
    );
    Ok(())
}
