//! `halsohub store info|export|snapshots`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use halsohub_app::stores::{self, TableFormat};

#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Summarise a store: snapshots, rows per domain and code system,
    /// patients, date range, load reports.
    Info(InfoArgs),
    /// Export a snapshot's tables (events, persons, residences) as Parquet
    /// or CSV, with canonical pseudonyms as person keys.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct StoreArg {
    /// Store directory.
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    pub format: Format,
    /// Output directory (must not exist or be empty; never inside the store).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Snapshot to export (e.g. s000002); defaults to the current one.
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Parquet,
    Csv,
}

pub fn run(cmd: StoreCmd) -> Result<()> {
    match cmd {
        StoreCmd::Info(args) => {
            let info = stores::info(&args.store.store)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                print!("{info}");
            }
        }
        StoreCmd::Export(args) => {
            let format = match args.format {
                Format::Parquet => TableFormat::Parquet,
                Format::Csv => TableFormat::Csv,
            };
            let summary = stores::export_tables(
                &args.store.store,
                args.snapshot.as_deref(),
                format,
                &args.out,
            )?;
            println!(
                "exported snapshot {} to {}",
                summary.snapshot,
                summary.dir.display()
            );
            for (file, rows) in &summary.files {
                println!("  {file}: {rows} rows");
            }
        }
    }
    Ok(())
}
