//! `halsohub ingest`: validate, pseudonymise, link and load source files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Args;
use halsohub_app::load::{LoadJob, LoadReport};

use crate::cmd::keys::KeyArg;
use crate::progress::{self, Bar, Unit};

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
    /// The state database opt-out delivery files are recorded in (only
    /// opened when the paths hold one).
    #[command(flatten)]
    pub db: crate::cmd::db::DatabaseArgs,
    /// Source files or directories (searched recursively; .gz is read):
    /// register extracts, FHIR R4 Bundles or bulk NDJSON, OMOP CDM 5.3/5.4
    /// folders of table files (PERSON.csv.gz, concept.csv, ...), and opt-out
    /// delivery files from the national e-service (recorded in the state
    /// database's opt-out register).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: IngestArgs, home: &Path) -> Result<()> {
    let job = LoadJob {
        store: args.store.clone(),
        key: args.key.path(home),
        paths: args.paths.clone(),
        reference: args
            .reference_date
            .unwrap_or_else(|| chrono::Utc::now().date_naive()),
        format: args.format.clone(),
    };
    let plan = halsohub_app::load::plan(&job)?;
    if plan.deliveries.is_empty() {
        let report = load(&job)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{report}");
        }
        return Ok(());
    }
    // The sources first: a first load creates the store, whose key the
    // deliveries are pseudonymised with.
    let report = if plan.has_sources {
        Some(load(&job)?)
    } else {
        None
    };
    let rt = crate::runtime()?;
    let db = rt
        .block_on(crate::cmd::db::open(&args.db, home))
        .context("opt-out deliveries are recorded in the state database")?;
    let deliveries = rt.block_on(halsohub_app::load::record_deliveries(
        &job,
        &plan,
        &db,
        &crate::cmd::count::os_user(),
        chrono::Utc::now(),
    ))?;
    if args.json {
        let out = serde_json::json!({ "load": report, "opt_out_deliveries": deliveries });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for d in &deliveries {
            print!("{}", render_delivery(d));
        }
        if let Some(report) = report {
            print!("{report}");
        }
    }
    Ok(())
}

/// One delivery's lines of the report.
fn render_delivery(d: &halsohub_app::optout::DeliveryReport) -> String {
    let mut out = format!(
        "opt-out delivery {}
",
        d.path.display()
    );
    match d.already_recorded_at {
        Some(at) => out.push_str(&format!(
            "  already recorded at {} (same content); nothing recorded now\n",
            at.format("%Y-%m-%d %H:%M UTC")
        )),
        None => out.push_str(&format!(
            "  {} records recorded, {} lines rejected\n",
            d.recorded,
            d.rejected.len()
        )),
    }
    for (line, reason) in &d.rejected {
        out.push_str(&format!("  line {line}: {reason}\n"));
    }
    out
}

/// Runs the load ([`halsohub_app::load::load`]: the store opened or
/// created for the key, which must lie outside it), drawing a progress
/// bar.
pub fn load(job: &LoadJob) -> Result<LoadReport> {
    let bar = Bar(progress::bar(0, "ingest", Unit::Bytes));
    let report = halsohub_app::load::load(job, &bar)?;
    bar.0.finish_and_clear();
    Ok(report)
}
