//! `halsohub quarantine pending | retry`: the rows waiting in the
//! quarantine for a rule that changed, and their re-evaluation. The work is
//! `halsohub_app::quarantine`'s; this file parses and prints.

use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use halsohub_app::hub::Hub;

use crate::cmd::keys::KeyArg;
use crate::progress::{self, Unit};

#[derive(Debug, Subcommand)]
pub enum QuarantineCmd {
    /// List the source files whose rows wait for a unit retry (rows
    /// quarantined as incompatible_unit and not retried since).
    Pending(PendingArgs),
    /// Re-read the rows quarantined for their unit by today's rules and
    /// load those accepted now as a new snapshot; the rest are quarantined
    /// again. Give the delivery again: only files already in the store are
    /// read, and of them only the waiting lines.
    Retry(RetryArgs),
}

#[derive(Debug, Args)]
pub struct PendingArgs {
    /// Store directory.
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    #[command(flatten)]
    pub key: KeyArg,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Store directory.
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    #[command(flatten)]
    pub key: KeyArg,
    /// The extract date, as given to `halsohub ingest` for the delivery.
    /// Defaults to today.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub reference_date: Option<NaiveDate>,
    /// Print the load report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The delivery's files or directories, as loaded before.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

pub fn run(cmd: QuarantineCmd, home: &Path) -> Result<()> {
    match cmd {
        QuarantineCmd::Pending(a) => {
            let hub = Hub::open(&a.store, &a.key.path(home))?;
            let waiting = halsohub_app::quarantine::waiting(&hub)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&waiting)?);
            } else if waiting.is_empty() {
                println!("No quarantined rows wait for a unit retry.");
            } else {
                println!(
                    "Rows quarantined for their unit, waiting for `halsohub quarantine retry`:"
                );
                for (file, lines) in &waiting {
                    println!("  {lines:>9}  {file}");
                }
            }
        }
        QuarantineCmd::Retry(a) => {
            let hub = Hub::open_for_load(&a.store, &a.key.path(home))?;
            let reference = a
                .reference_date
                .unwrap_or_else(|| chrono::Utc::now().date_naive());
            let bar = progress::Bar(progress::bar(0, "retry", Unit::Bytes));
            let report = halsohub_app::quarantine::retry_units(&hub, &a.paths, reference, &bar)?;
            bar.0.finish_and_clear();
            if a.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
        }
    }
    Ok(())
}
