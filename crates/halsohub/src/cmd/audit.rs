//! `halsohub audit …`: the verifiable audit log — sequence the database's
//! entries into the tree, show the checkpoint, export entries for an
//! auditor, verify a log from its files alone, and cosign as a witness.
//! The work is [`halsohub_app::audit`]'s; this parses and prints.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use halsohub_app::audit::{self, AuditLog, VerifyRequest};

use crate::cmd::db::DatabaseArgs;

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Append the database's entries the tree lacks and publish a new
    /// signed checkpoint (the server does this on an interval).
    Sequence(LogArgs),
    /// Print the log's current signed checkpoint.
    Checkpoint(LogDir),
    /// Print entries with their salts as JSON lines (for an auditor, and
    /// for `verify --entries`).
    Entries(EntriesArgs),
    /// Check a log from its files, checkpoints and public keys alone: no
    /// database. Fails naming the first bad index on tampering.
    Verify(VerifyArgs),
    /// As a second party: cosign the log's current checkpoint after
    /// checking it against the last one this witness cosigned.
    Witness(WitnessArgs),
}

#[derive(Debug, Args)]
pub struct LogDir {
    /// The log directory (tiles and checkpoint). Default: audit/ under the
    /// hub home.
    #[arg(long, value_name = "DIR")]
    pub log: Option<PathBuf>,
}

impl LogDir {
    pub fn path(&self, home: &Path) -> PathBuf {
        self.log.clone().unwrap_or_else(|| home.join("audit"))
    }
}

#[derive(Debug, Args)]
pub struct LogArgs {
    #[command(flatten)]
    pub log: LogDir,
    /// The checkpoint signing key (`halsohub keys audit`). Default:
    /// audit.key under the hub home.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct EntriesArgs {
    /// First index.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// At most this many.
    #[arg(long, default_value_t = 10_000)]
    pub limit: u32,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub log: LogDir,
    /// The log's public key file (`audit.key.pub`).
    #[arg(long, value_name = "FILE", required = true)]
    pub log_key: Vec<PathBuf>,
    /// Checkpoints to check (oldest first), e.g. ones witnesses cosigned;
    /// default: the log's current checkpoint.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Vec<PathBuf>,
    /// Witnesses' public key files.
    #[arg(long, value_name = "FILE")]
    pub witness_key: Vec<PathBuf>,
    /// Cosignatures by trusted witnesses each checkpoint needs.
    #[arg(long, default_value_t = 0)]
    pub min_witnesses: usize,
    /// Entries to prove included (JSON lines from `halsohub audit entries`).
    #[arg(long, value_name = "FILE")]
    pub entries: Option<PathBuf>,
    /// The entries file holds every entry: every index needs one.
    #[arg(long, requires = "entries")]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct WitnessArgs {
    #[command(flatten)]
    pub log: LogDir,
    /// The log's public key file.
    #[arg(long, value_name = "FILE")]
    pub log_key: PathBuf,
    /// This witness's key (`halsohub keys witness`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Where this witness keeps the last checkpoint it cosigned.
    #[arg(long, value_name = "FILE")]
    pub state: PathBuf,
    /// Also write the cosigned checkpoint here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub async fn run(cmd: AuditCmd, home: &Path) -> Result<()> {
    match cmd {
        AuditCmd::Sequence(a) => {
            let db = crate::cmd::db::open(&a.db, home).await?;
            let key = a
                .key
                .unwrap_or_else(|| crate::cmd::keys::default_audit_key(home));
            let log = AuditLog::open(db, &a.log.path(home), &key)?;
            let s = log.sequence().await?;
            println!("appended {} entries; the tree holds {}", s.appended, s.size);
            print!("{}", log.checkpoint());
        }
        AuditCmd::Checkpoint(d) => {
            let dir = d.path(home);
            let text = std::fs::read_to_string(dir.join("checkpoint"))
                .with_context(|| format!("no audit log checkpoint in {}", dir.display()))?;
            print!("{text}");
        }
        AuditCmd::Entries(a) => {
            let db = crate::cmd::db::open(&a.db, home).await?;
            print!("{}", audit::export_entries(&db, a.from, a.limit).await?);
        }
        AuditCmd::Verify(a) => {
            let req = VerifyRequest {
                log: a.log.path(home),
                log_keys: a.log_key,
                checkpoints: a.checkpoint,
                witness_keys: a.witness_key,
                min_witnesses: a.min_witnesses,
                entries: a.entries,
                all: a.all,
            };
            let report = audit::verify_files(&req)?;
            println!(
                "ok: the log of {} entries (root {}) verifies: {} checkpoint(s), {} entr(y/ies) proven included",
                report.size,
                report.root.to_base64(),
                report.checkpoints,
                report.entries
            );
            for (name, n) in &report.witnesses {
                println!("  cosigned by {name} ({n} checkpoint(s))");
            }
        }
        AuditCmd::Witness(a) => {
            let text = audit::witness_cosign(
                &a.log.path(home),
                &a.log_key,
                &a.key,
                &a.state,
                chrono::Utc::now(),
            )?;
            if let Some(out) = &a.out {
                std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
            }
            print!("{text}");
        }
    }
    Ok(())
}
