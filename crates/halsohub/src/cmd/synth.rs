//! `halsohub synth`: generate a synthetic population as register files.

use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use clap::Args;
use halsohub_app::synth::{SynthConfig, SynthSummary};

use crate::progress::{self, Unit};

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Number of persons (everyone resident at some time in the period).
    #[arg(long, default_value_t = 10_000)]
    pub patients: u64,
    /// Seed: the same seed and options give byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory (created; must not already hold a generated set).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// First day of the period.
    #[arg(long, default_value = "2012-01-01", value_name = "YYYY-MM-DD")]
    pub start: NaiveDate,
    /// Last day of the period, also the extract date.
    #[arg(long, default_value = "2025-12-31", value_name = "YYYY-MM-DD")]
    pub end: NaiveDate,
    /// Share of rows made deliberately defective, between 0 and 1.
    #[arg(long, default_value_t = 0.002)]
    pub defect_rate: f64,
    /// Print the summary (manifest.json) as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

impl SynthArgs {
    /// The generator configuration these arguments describe.
    pub fn config(&self) -> SynthConfig {
        SynthConfig {
            patients: self.patients,
            seed: self.seed,
            start: self.start,
            end: self.end,
            defect_rate: self.defect_rate,
            ..SynthConfig::default()
        }
    }
}

pub fn run(args: SynthArgs) -> Result<()> {
    let summary = generate(&args.config(), &args.out)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary, &args.out);
    }
    Ok(())
}

/// Generates with a progress bar over persons.
pub fn generate(config: &SynthConfig, out: &std::path::Path) -> Result<SynthSummary> {
    let bar = progress::bar(config.patients, "synth", Unit::Items);
    let summary = halsohub_app::synth::generate(config, out, &|done| bar.set_position(done))?;
    bar.finish_and_clear();
    Ok(summary)
}

pub fn print_summary(summary: &SynthSummary, out: &std::path::Path) {
    println!(
        "generated {} persons, {} rows in {} files into {} (extract date {})",
        summary.population.persons,
        summary.rows_total,
        summary.files.len(),
        out.display(),
        summary.extract_date
    );
    println!(
        "defective rows on purpose: {} (see manifest.json)",
        summary.defects_total.total()
    );
}
