//! `halsohub catalogue show | approve | export`: the data steward's side of
//! the dataset catalogue. The work is `halsohub_app::catalogue`'s (reading
//! descriptions and approvals, counting through the feasibility service,
//! quality, HealthDCAT-AP); this file parses and prints.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::{Args, Subcommand, ValueEnum};
use halsohub_app::catalogue::{
    self, ApprovalState, LocalCatalogue, RdfSyntax, dataset_triples, page_triples, serialise,
};

use crate::cmd::db::DatabaseArgs;
use crate::cmd::keys::KeyArg;

#[derive(Debug, Subcommand)]
pub enum CatalogueCmd {
    /// List the description files of a catalogue directory and whether each
    /// is published (approved as it is now), unapproved or changed since
    /// its approval.
    Show(ShowArgs),
    /// Approve a description file: records who and when, and the digest of
    /// the description, in `<name>.approval.json` beside it.
    Approve(ApproveArgs),
    /// Build the catalogue over a store snapshot (approved descriptions,
    /// released facts, quality) and print it as Turtle, JSON-LD or JSON.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The catalogue directory (description files and their approvals).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// Who approves; defaults to the OS user (`os:<login>`).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// The description file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Output formats of `catalogue export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// HealthDCAT-AP as Turtle.
    Turtle,
    /// HealthDCAT-AP as JSON-LD.
    Jsonld,
    /// The catalogue as halsohub JSON (descriptions, approvals, facts,
    /// public quality).
    Json,
    /// The quality reports with their defect counts (data stewards only).
    Quality,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Store directory.
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    #[command(flatten)]
    pub key: KeyArg,
    /// Snapshot to describe (e.g. s000002); defaults to the current one.
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,
    /// The catalogue directory (description files and their approvals).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The catalogue configuration (base URL, HDAB, page size).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Quality thresholds (YAML or JSON); defaults as in docs/catalogue.md.
    #[arg(long, value_name = "FILE")]
    pub thresholds: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "turtle")]
    pub format: ExportFormat,
    /// Harvesting page (1-based) for turtle and jsonld.
    #[arg(long, default_value_t = 1)]
    pub page: usize,
    /// Print one dataset only (turtle and jsonld).
    #[arg(long, value_name = "ID")]
    pub dataset: Option<String>,
    /// The state database whose query log records the catalogue's counts.
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub lists: crate::cmd::lists::CodeListArgs,
}

pub fn run(cmd: CatalogueCmd, home: &Path) -> Result<()> {
    match cmd {
        CatalogueCmd::Show(a) => show(&a.dir),
        CatalogueCmd::Approve(a) => {
            let by = a.by.unwrap_or_else(crate::cmd::count::os_user);
            let approval = catalogue::approve(&a.file, &by, Utc::now())?;
            println!(
                "Approved {} ({}) as {} at {}; digest {}",
                approval.dataset,
                a.file.display(),
                approval.by,
                approval.at.to_rfc3339(),
                approval.digest
            );
            Ok(())
        }
        CatalogueCmd::Export(a) => export(a, home),
    }
}

fn show(dir: &Path) -> Result<()> {
    let files = catalogue::read_dir(dir)?;
    if files.is_empty() {
        println!("No description files in {}.", dir.display());
    }
    for (path, file) in files {
        let name = path.display();
        match file {
            Ok(f) => match f.state {
                ApprovalState::Approved(a) => println!(
                    "published   {:<28} {name} (approved by {} at {})",
                    f.description.id,
                    a.by,
                    a.at.to_rfc3339()
                ),
                ApprovalState::Unapproved => {
                    println!("unapproved  {:<28} {name}", f.description.id);
                }
                ApprovalState::Stale(e) => {
                    println!("changed     {:<28} {name}: {e}", f.description.id);
                }
            },
            Err(e) => println!("invalid     {:<28} {e}", "-"),
        }
    }
    Ok(())
}

fn export(a: ExportArgs, home: &Path) -> Result<()> {
    let rt = crate::runtime()?;
    let db = rt
        .block_on(crate::cmd::db::open(&a.db, home))
        .context("the query log in the state database records the catalogue's counts")?;
    let request = LocalCatalogue {
        store: a.store.clone(),
        key: a.key.path(home),
        snapshot: a.snapshot.clone(),
        code_lists: a.lists.files.clone(),
        dir: a.dir.clone(),
        config: a.config.clone(),
        thresholds: a.thresholds.clone(),
    };
    let built = rt.block_on(catalogue::build_local(&db, &request, Utc::now()))?;
    for (path, why) in &built.unpublished {
        eprintln!("not published: {}: {why}", path.display());
    }
    let syntax = match a.format {
        ExportFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&built.catalogue)?);
            return Ok(());
        }
        ExportFormat::Quality => {
            println!("{}", serde_json::to_string_pretty(&built.detailed)?);
            return Ok(());
        }
        ExportFormat::Turtle => RdfSyntax::Turtle,
        ExportFormat::Jsonld => RdfSyntax::JsonLd,
    };
    let triples = match &a.dataset {
        Some(id) => match dataset_triples(&built.catalogue, id)? {
            Some(t) => t,
            None => bail!("no published dataset {id} in the catalogue"),
        },
        None => page_triples(&built.catalogue, a.page)?,
    };
    let bytes = serialise(&triples, syntax)?;
    print!("{}", String::from_utf8_lossy(&bytes));
    Ok(())
}
