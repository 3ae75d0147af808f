//! The `halsohub` binary: wires the library crates into CLI subcommands.
//!
//! It holds no domain logic: it parses arguments, resolves the hub home, key
//! and store paths, maps library progress callbacks onto progress bars, and
//! prints results. Every subcommand lives in its own module under `cmd/`.

mod cmd;
mod home;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// halsohub — one door in to Swedish health data.
#[derive(Debug, Parser)]
#[command(name = "halsohub", version, about, long_about = None)]
struct Cli {
    /// Hub home directory (key, state database, demo data). Defaults to
    /// $HALSOHUB_HOME, else $XDG_DATA_HOME/halsohub, else
    /// ~/.local/share/halsohub.
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or inspect the hub key that pseudonyms are derived from.
    #[command(subcommand)]
    Keys(cmd::keys::KeysCmd),
    /// Generate a deterministic synthetic Swedish population as register files.
    Synth(cmd::synth::SynthArgs),
    /// Validate, pseudonymise, link and load source files into a store.
    Ingest(cmd::ingest::IngestArgs),
    /// Rows waiting in the quarantine for a rule that changed, and their
    /// re-evaluation into a new snapshot.
    #[command(subcommand)]
    Quarantine(cmd::quarantine::QuarantineCmd),
    /// Answer a feasibility query (count, funnel, strata, proportion, time
    /// series) over a store snapshot, protected unless --exact.
    Count(cmd::count::CountArgs),
    /// Inspect or export a store.
    #[command(subcommand)]
    Store(cmd::store::StoreCmd),
    /// Export a cohort's or a permit's data under project pseudonyms: OMOP
    /// CDM 5.4 (CSV or Parquet) or FHIR R4 bulk NDJSON.
    Export(cmd::export::ExportArgs),
    /// Manage staff and applicant accounts in the state database.
    #[command(subcommand)]
    User(cmd::users::UserCmd),
    /// Create or revoke API tokens.
    #[command(subcommand)]
    Token(cmd::tokens::TokenCmd),
    /// Case work from the state database: the work queue, one case, the
    /// deadline-reminder sweep.
    #[command(subcommand)]
    Cases(cmd::cases::CasesCmd),
    /// The verifiable audit log: sequence, checkpoint, entries, verify,
    /// witness.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCmd),
    /// The dataset catalogue: list and approve holders' descriptions, and
    /// export the catalogue (HealthDCAT-AP Turtle or JSON-LD, or JSON).
    #[command(subcommand)]
    Catalogue(cmd::catalogue::CatalogueCmd),
    /// Run the HTTP API (access process, public register, lead times).
    Serve(Box<cmd::serve::ServeArgs>),
    /// Run the whole pipeline on a synthetic population: key, data, store,
    /// demo accounts.
    Demo(cmd::demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = home::resolve(cli.home.clone()).and_then(|home| match cli.command {
        Command::Keys(c) => cmd::keys::run(c, &home),
        Command::Synth(a) => cmd::synth::run(a),
        Command::Ingest(a) => cmd::ingest::run(a, &home),
        Command::Quarantine(c) => cmd::quarantine::run(c, &home),
        Command::Count(a) => cmd::count::run(a, &home),
        Command::Store(c) => cmd::store::run(c),
        Command::Export(a) => cmd::export::run(a, &home),
        Command::User(c) => runtime()?.block_on(cmd::users::run(c, &home)),
        Command::Token(c) => runtime()?.block_on(cmd::tokens::run(c, &home)),
        Command::Cases(c) => runtime()?.block_on(cmd::cases::run(c, &home)),
        Command::Audit(c) => runtime()?.block_on(cmd::audit::run(c, &home)),
        Command::Catalogue(c) => cmd::catalogue::run(c, &home),
        Command::Serve(a) => runtime()?.block_on(cmd::serve::run(*a, &home)),
        Command::Demo(a) => cmd::demo::run(a, &home),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The async runtime for commands that talk to the state database or serve
/// HTTP.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Logs go to stderr, coloured only when stderr is a terminal and
/// `NO_COLOR` is unset: a log file or a pipe gets plain text.
fn init_logging(verbose: u8) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}
