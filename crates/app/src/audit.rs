//! The verifiable audit log as a service: entries recorded with what they
//! record, the tree kept in tiles and signed checkpoints, proofs for
//! auditors, and the backfill of the logs kept before it existed.
//!
//! * **Recording.** Every sensitive write makes its audit entry here
//!   ([`entry`]: a fresh salt and the commitment `SHA-256(salt ‖ canonical
//!   entry)`, `halsohub_audit`) and hands it to `state`, which stores it in
//!   the same transaction as the write, under the next leaf index. So an
//!   answer's index is known when it is returned, and nothing is recorded
//!   without its entry or the other way round. What is recorded today:
//!   feasibility answers and refusals (`query_log/<id>`), case events
//!   (`<case>/<seq>`), opt-out changes (the person's pseudonym) and
//!   extractions (the permit or project).
//! * **Sequencing.** The tree is appended from the database in index order
//!   ([`AuditLog::sequence`]), each entry's commitment recomputed from its
//!   fields and salt first (a row changed in the database is refused,
//!   naming its index), many entries per append (group commit: an append
//!   costs a few fsyncs whatever its size), then a new signed checkpoint.
//!   `halsohub serve` runs it on an interval; `halsohub audit sequence`
//!   once.
//! * **Backfill.** On opening the state database ([`crate::db::open`]),
//!   query-log rows and case events written before the audit log existed
//!   are brought into it once, oldest first ([`backfill`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use halsohub_audit::{
    Appender, AuditEntry, Hash, KeyRole, LogError, NoteSigner, Salt, SignedCheckpoint, VerifierKey,
};
use halsohub_state::audit::{NewAuditEntry, StoredAuditEntry, Unaudited};
use halsohub_state::{Db, StateError};
use serde::Serialize;
use utoipa::ToSchema;

pub use halsohub_audit::{
    Coverage, EntryKind, NamedEntry, Report as VerifyReport, Trust, VerifyError, Witness,
    WitnessError, verify,
};

/// Entries read from the database per append.
const BATCH: u32 = 4096;

/// Why the audit log failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log directory or its files.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A key file.
    #[error("{path}: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A stored entry does not match its commitment or its place.
    #[error("audit entry {index} in the database: {what}")]
    Tampered {
        /// The entry's index.
        index: u64,
        /// What is wrong.
        what: String,
    },
    /// The caller may not read entries (auditors only).
    #[error("audit entries are for auditors")]
    Forbidden,
    /// No entry at that index (yet).
    #[error("no audit entry {0}")]
    NoEntry(u64),
    /// A request that cannot be answered (e.g. a proof between sizes the
    /// log does not have).
    #[error("{0}")]
    Invalid(String),
    /// The state database failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// A new entry of `kind` with a fresh salt and its commitment.
pub fn entry(
    kind: EntryKind,
    at: DateTime<Utc>,
    actor: &str,
    subject: &str,
    payload: serde_json::Value,
) -> NewAuditEntry {
    with_salt(
        &AuditEntry::new(kind, at, actor, subject, payload),
        &fresh_salt(),
    )
}

/// A fresh random salt. The system's random source does not fail on the
/// platforms the hub runs on; if it ever did, the salt is derived from the
/// time, the process and a counter (an error is logged): unguessable
/// enough to hide the entry, and the commitment still binds it.
pub(crate) fn fresh_salt() -> Salt {
    match Salt::generate() {
        Ok(s) => s,
        Err(e) => {
            use sha2::Digest;
            static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            tracing::error!(error = %e, "no random salt from the system; deriving one");
            let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut h = sha2::Sha256::new();
            h.update(Utc::now().timestamp_nanos_opt().unwrap_or(0).to_le_bytes());
            h.update(std::process::id().to_le_bytes());
            h.update(n.to_le_bytes());
            Salt(h.finalize().into())
        }
    }
}

/// The stored form of `e` under `salt`.
pub(crate) fn with_salt(e: &AuditEntry, salt: &Salt) -> NewAuditEntry {
    NewAuditEntry {
        kind: e.kind.as_str().to_string(),
        at: e.at,
        actor: e.actor.clone(),
        subject: e.subject.clone(),
        payload: e.payload.to_string(),
        salt: salt.0,
        commitment: e.commitment(salt).0.0,
    }
}

/// A stored entry read back as the audit crate's entry and salt.
///
/// # Errors
/// [`AuditError::Tampered`] when a field cannot be read.
pub fn named(stored: &StoredAuditEntry) -> Result<NamedEntry, AuditError> {
    let bad = |what: &str| AuditError::Tampered {
        index: stored.index,
        what: what.to_string(),
    };
    let kind = EntryKind::parse(&stored.kind).ok_or_else(|| bad("unknown kind"))?;
    let payload: serde_json::Value =
        serde_json::from_str(&stored.payload).map_err(|_| bad("the payload is not JSON"))?;
    let salt = Salt::from_slice(&stored.salt).map_err(|_| bad("the salt is not 32 bytes"))?;
    Ok(NamedEntry {
        index: stored.index,
        entry: AuditEntry::new(kind, stored.at, &stored.actor, &stored.subject, payload),
        salt,
    })
}

/// The entry recording a query-log row `id` (answered or refused).
pub(crate) fn query_log_entry(
    log: &halsohub_state::query_log::NewQueryLogEntry,
    id: i64,
    salt: &Salt,
) -> NewAuditEntry {
    // The query log's own row id names it; the entry holds no numbers.
    let (outcome, reason) = log.outcome.parts();
    with_salt(
        &AuditEntry::new(
            EntryKind::FeasibilityAnswer,
            log.at,
            &log.user_id,
            format!("query_log/{id}"),
            serde_json::json!({
                "channel": log.channel,
                "query_hash": log.query_hash,
                "snapshot": log.snapshot,
                "output_kind": log.output_kind,
                "profile": log.profile,
                "exact": log.exact,
                "outcome": outcome,
                "reason": reason,
            }),
        ),
        salt,
    )
}

/// The entries recording case events `events`, appended after version
/// `before` of `case_id`.
pub(crate) fn case_entries(
    case_id: &str,
    before: u64,
    events: &[halsohub_state::cases::NewEvent],
) -> Vec<NewAuditEntry> {
    (before + 1..)
        .zip(events)
        .map(|(seq, e)| {
            entry(
                EntryKind::CaseEvent,
                e.at,
                &e.actor,
                &format!("{case_id}/{seq}"),
                serde_json::json!({ "type": e.event_type }),
            )
        })
        .collect()
}

/// Brings the query-log rows and case events written before the audit
/// log existed into it, once, oldest first; returns how many.
///
/// # Errors
/// [`AuditError`].
pub async fn backfill(db: &Db) -> Result<u64, AuditError> {
    let n = db
        .audit_backfill(|u| {
            let e = match u {
                Unaudited::QueryLog {
                    id,
                    at,
                    user_id,
                    channel,
                    query_hash,
                    outcome,
                    reason,
                } => AuditEntry::new(
                    EntryKind::FeasibilityAnswer,
                    *at,
                    user_id,
                    format!("query_log/{id}"),
                    serde_json::json!({
                        "channel": channel, "query_hash": query_hash,
                        "outcome": outcome, "reason": reason, "backfilled": true,
                    }),
                ),
                Unaudited::CaseEvent {
                    case_id,
                    seq,
                    event_type,
                    actor,
                    at,
                } => AuditEntry::new(
                    EntryKind::CaseEvent,
                    *at,
                    actor,
                    format!("{case_id}/{seq}"),
                    serde_json::json!({ "type": event_type, "backfilled": true }),
                ),
            };
            with_salt(&e, &fresh_salt())
        })
        .await?;
    if n > 0 {
        tracing::info!(
            entries = n,
            "brought the earlier query log and case events into the audit log"
        );
    }
    Ok(n)
}

/// The checkpoint signing key in `path` (`PRIVATE+KEY+…`, mode 0600).
///
/// # Errors
/// [`AuditError::Key`] naming the file.
pub fn load_signer(path: &Path) -> Result<NoteSigner, AuditError> {
    let key_err = |message: String| AuditError::Key {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        key_err(format!(
            "cannot read the audit signing key ({e}); create it with `halsohub keys audit`"
        ))
    })?;
    NoteSigner::parse_skey(&text).map_err(|e| key_err(e.to_string()))
}

/// Creates a new signing key (`role`: the hub's log, or a witness) named
/// `name` in `path` (mode 0600, never overwritten) and its public verifier
/// key beside it (`<path>.pub`); returns the verifier key.
///
/// # Errors
/// [`AuditError::Key`] naming the file.
pub fn create_key(path: &Path, name: &str, witness: bool) -> Result<VerifierKey, AuditError> {
    let key_err = |message: String| AuditError::Key {
        path: path.to_path_buf(),
        message,
    };
    let role = if witness {
        KeyRole::Witness
    } else {
        KeyRole::Log
    };
    let signer = NoteSigner::generate(name, role).map_err(|e| key_err(e.to_string()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| key_err(e.to_string()))?;
    }
    crate::keys::write_secret(path, signer.to_skey().as_bytes()).map_err(key_err)?;
    let public = public_path(path);
    std::fs::write(&public, format!("{}\n", signer.verifier()))
        .map_err(|e| key_err(format!("writing {}: {e}", public.display())))?;
    Ok(signer.verifier().clone())
}

/// Where the public key of the signing key at `key` is written.
pub fn public_path(key: &Path) -> PathBuf {
    let mut p = key.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// An entry as an auditor reads it, with what proves it is in the log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryProof {
    /// Its leaf index.
    pub index: u64,
    /// `feasibility_answer`, `case_event`, `opt_out_change`, `extraction`, …
    pub kind: String,
    /// When (UTC, microseconds).
    pub at: DateTime<Utc>,
    /// Who acted.
    pub actor: String,
    /// What it was done to.
    pub subject: String,
    /// The details.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// The salt (hex): with the fields above it gives the commitment.
    pub salt: String,
    /// The commitment (base64), the leaf's content.
    pub commitment: String,
    /// The tree size the proof is for (the current checkpoint's), or
    /// `null` while the entry waits to be sequenced.
    pub tree_size: Option<u64>,
    /// The inclusion proof (base64 hashes, RFC 9162), empty while waiting.
    pub inclusion_proof: Vec<String>,
    /// The signed checkpoint the proof is against.
    pub checkpoint: Option<String>,
}

/// What one sequencing pass did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sequenced {
    /// Entries appended to the tree now.
    pub appended: u64,
    /// The tree's size after it.
    pub size: u64,
}

/// The log's tree in a directory, appended from the database.
#[derive(Clone)]
pub struct AuditLog {
    db: Db,
    dir: PathBuf,
    appender: Arc<Mutex<Appender>>,
    /// Held for a whole [`AuditLog::sequence`]: two passes at once would
    /// both read the entries beyond the same tree size and append them
    /// twice.
    sequencing: Arc<tokio::sync::Mutex<()>>,
    verifier: VerifierKey,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("dir", &self.dir)
            .field("key", &self.verifier.to_string())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AuditLog {
    /// Opens the log in `dir` (created, with the key's name as its origin,
    /// when it holds no checkpoint) for appending with the key in
    /// `key_file`.
    ///
    /// # Errors
    /// [`AuditError`] naming the key file or the log directory.
    pub fn open(db: Db, dir: &Path, key_file: &Path) -> Result<AuditLog, AuditError> {
        let signer = load_signer(key_file)?;
        let verifier = signer.verifier().clone();
        let appender = if dir.join("checkpoint").exists() {
            Appender::open(dir, signer)?
        } else {
            let origin = signer.name().to_string();
            Appender::create(dir, &origin, signer)?
        };
        Ok(AuditLog {
            db,
            dir: dir.to_path_buf(),
            appender: Arc::new(Mutex::new(appender)),
            sequencing: Arc::new(tokio::sync::Mutex::new(())),
            verifier,
        })
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log's public key (verifier key text).
    pub fn public_key(&self) -> String {
        self.verifier.to_string()
    }

    /// The current signed checkpoint's text.
    pub fn checkpoint(&self) -> String {
        lock(&self.appender).checkpoint().to_text()
    }

    /// The tree's size.
    pub fn size(&self) -> u64 {
        lock(&self.appender).size()
    }

    /// Appends every entry of the database the tree lacks, in index order,
    /// a batch at a time, each commitment checked against its entry and
    /// salt first; publishes a new checkpoint per batch.
    ///
    /// # Errors
    /// [`AuditError::Tampered`] naming the first entry that does not match
    /// (nothing of its batch is appended); [`AuditError`].
    pub async fn sequence(&self) -> Result<Sequenced, AuditError> {
        let _one_at_a_time = self.sequencing.lock().await;
        let mut appended = 0u64;
        loop {
            let size = self.size();
            let rows = self.db.audit_entries(size, BATCH).await?;
            if rows.is_empty() {
                return Ok(Sequenced { appended, size });
            }
            let mut commitments = Vec::with_capacity(rows.len());
            for (expected, row) in (size..).zip(&rows) {
                if row.index != expected {
                    return Err(AuditError::Tampered {
                        index: expected,
                        what: format!("missing (the next stored entry is {})", row.index),
                    });
                }
                let named = named(row)?;
                let c = named.entry.commitment(&named.salt);
                if c.0.0.as_slice() != row.commitment.as_slice() {
                    return Err(AuditError::Tampered {
                        index: row.index,
                        what: "its fields and salt do not give its commitment".into(),
                    });
                }
                commitments.push(c);
            }
            let appender = self.appender.clone();
            let n = commitments.len() as u64;
            tokio::task::spawn_blocking(move || lock(&appender).append(&commitments))
                .await
                .map_err(|e| AuditError::Invalid(format!("the append task failed: {e}")))??;
            appended += n;
        }
    }

    /// Entry `index` with its salt and its inclusion proof against the
    /// current checkpoint (none while it waits to be sequenced).
    ///
    /// # Errors
    /// [`AuditError::NoEntry`]; [`AuditError`].
    pub async fn proof(&self, index: u64) -> Result<EntryProof, AuditError> {
        let row = self
            .db
            .audit_entry(index)
            .await?
            .ok_or(AuditError::NoEntry(index))?;
        let named = named(&row)?;
        let (size, proof, checkpoint) = {
            let a = lock(&self.appender);
            let size = a.size();
            if index < size {
                let proof = a.inclusion_proof(index, size)?;
                (Some(size), proof, Some(a.checkpoint().to_text()))
            } else {
                (None, Vec::new(), None)
            }
        };
        Ok(EntryProof {
            index,
            kind: row.kind.clone(),
            at: named.entry.at,
            actor: row.actor.clone(),
            subject: row.subject.clone(),
            payload: named.entry.payload.clone(),
            salt: hex::encode(&row.salt),
            commitment: Hash(named.entry.commitment(&named.salt).0.0).to_base64(),
            tree_size: size,
            inclusion_proof: proof.iter().map(Hash::to_base64).collect(),
            checkpoint,
        })
    }

    /// Entry `index` with its proof, for `principal`: auditors only (the
    /// entries name users, queries and pseudonyms; the public files do
    /// not).
    ///
    /// # Errors
    /// [`AuditError::Forbidden`]; as [`AuditLog::proof`].
    pub async fn proof_for(
        &self,
        principal: &halsohub_access::Principal,
        index: u64,
    ) -> Result<EntryProof, AuditError> {
        if !principal.has_role(halsohub_access::Role::Auditor) {
            return Err(AuditError::Forbidden);
        }
        self.proof(index).await
    }

    /// A consistency proof between tree sizes `first` and `second`.
    ///
    /// # Errors
    /// [`AuditError::Invalid`] for sizes the log does not have.
    pub fn consistency(&self, first: u64, second: u64) -> Result<Vec<String>, AuditError> {
        let a = lock(&self.appender);
        if first > second || second > a.size() {
            return Err(AuditError::Invalid(format!(
                "a consistency proof needs 0 <= first <= second <= {} (the tree's size)",
                a.size()
            )));
        }
        Ok(a.consistency_proof(first, second)?
            .iter()
            .map(Hash::to_base64)
            .collect())
    }

    /// A file of the log directory (`tile/…`, `checkpoint`) to serve as a
    /// static file; `None` for anything else or a path that leaves it.
    pub fn file(&self, rel: &str) -> Option<Vec<u8>> {
        let ok = rel == "checkpoint"
            || (rel.starts_with("tile/")
                && rel
                    .split('/')
                    .all(|p| !p.is_empty() && p != ".." && p != "." && !p.starts_with(".tmp"))
                && rel
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/._".contains(&b)));
        if !ok {
            return None;
        }
        std::fs::read(self.dir.join(rel)).ok()
    }

    /// Runs [`AuditLog::sequence`] every `every` until `stop` resolves.
    pub async fn run_sequencer(
        self,
        every: std::time::Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tick.tick() => {
                    match self.sequence().await {
                        Ok(s) if s.appended > 0 => tracing::debug!(appended = s.appended, size = s.size, "audit log sequenced"),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "sequencing the audit log failed"),
                    }
                }
            }
        }
    }
}

/// Parses a signed checkpoint (for the witness and `verify`).
///
/// # Errors
/// The checkpoint's error, as text.
pub fn parse_checkpoint(text: &str) -> Result<SignedCheckpoint, String> {
    SignedCheckpoint::parse(text).map_err(|e| e.to_string())
}

/// What `halsohub audit verify` is asked to check.
#[derive(Debug, Clone, Default)]
pub struct VerifyRequest {
    /// The log directory (tiles and its current `checkpoint`).
    pub log: PathBuf,
    /// The log's public key file(s) (verifier key text).
    pub log_keys: Vec<PathBuf>,
    /// Checkpoint files to check (oldest first), e.g. ones witnesses
    /// cosigned; none: the log's current checkpoint.
    pub checkpoints: Vec<PathBuf>,
    /// Witnesses' public key files.
    pub witness_keys: Vec<PathBuf>,
    /// Cosignatures by trusted witnesses each checkpoint needs.
    pub min_witnesses: usize,
    /// A file of entries (JSON lines: index, kind, at, actor, subject,
    /// payload, salt — as `halsohub audit entries` writes them).
    pub entries: Option<PathBuf>,
    /// The entries file holds every entry: every index needs one.
    pub all: bool,
}

/// Why a verification could not be run, or failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    /// An input file is unreadable or malformed.
    #[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Input {
        /// The file.
        path: PathBuf,
        /// The line, when one is wrong.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// The log does not verify.
    #[error(transparent)]
    Failed(#[from] VerifyError),
}

fn read_text(path: &Path) -> Result<String, VerifyFailure> {
    std::fs::read_to_string(path).map_err(|e| VerifyFailure::Input {
        path: path.to_path_buf(),
        line: None,
        message: e.to_string(),
    })
}

fn read_key(path: &Path) -> Result<VerifierKey, VerifyFailure> {
    VerifierKey::parse(&read_text(path)?).map_err(|e| VerifyFailure::Input {
        path: path.to_path_buf(),
        line: None,
        message: e.to_string(),
    })
}

/// One line of an entries file.
#[derive(Debug, serde::Deserialize)]
struct EntryLine {
    index: u64,
    kind: String,
    at: DateTime<Utc>,
    actor: String,
    subject: String,
    payload: serde_json::Value,
    salt: String,
}

/// Reads an entries file (JSON lines).
fn read_entries(path: &Path) -> Result<Vec<NamedEntry>, VerifyFailure> {
    let text = read_text(path)?;
    let bad = |line: usize, message: String| VerifyFailure::Input {
        path: path.to_path_buf(),
        line: Some(line),
        message,
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let e: EntryLine = serde_json::from_str(line).map_err(|e| bad(i + 1, e.to_string()))?;
        let kind = EntryKind::parse(&e.kind)
            .ok_or_else(|| bad(i + 1, format!("unknown entry kind {:?}", e.kind)))?;
        let salt = hex::decode(&e.salt)
            .ok()
            .and_then(|b| Salt::from_slice(&b).ok())
            .ok_or_else(|| bad(i + 1, "salt: 64 hexadecimal digits expected".into()))?;
        out.push(NamedEntry {
            index: e.index,
            entry: AuditEntry::new(kind, e.at, &e.actor, &e.subject, e.payload),
            salt,
        });
    }
    Ok(out)
}

/// Verifies a log from its files, checkpoints and trusted keys alone (no
/// database): signatures, forks, tiles against bundles, roots,
/// consistency between checkpoints, and the named entries' inclusion.
///
/// # Errors
/// [`VerifyFailure::Failed`] names the first bad index on tampering.
pub fn verify_files(req: &VerifyRequest) -> Result<VerifyReport, VerifyFailure> {
    let mut keys = Vec::new();
    for k in req.log_keys.iter().chain(&req.witness_keys) {
        keys.push(read_key(k)?);
    }
    let origin = keys.first().map(|k| k.name().to_string());
    let mut checkpoints = Vec::new();
    for c in &req.checkpoints {
        checkpoints.push(read_text(c)?);
    }
    if checkpoints.is_empty() {
        checkpoints.push(read_text(&req.log.join("checkpoint"))?);
    }
    let entries = match &req.entries {
        Some(p) => read_entries(p)?,
        None => Vec::new(),
    };
    let trust = Trust {
        keys,
        origin,
        min_witnesses: req.min_witnesses,
    };
    let coverage = if req.all {
        Coverage::All
    } else {
        Coverage::Some
    };
    Ok(verify(&req.log, &checkpoints, &trust, &entries, coverage)?)
}

/// A witness's cosignature of the log's current checkpoint: checks it is
/// signed by the log's key and consistent (from the tiles) with the last
/// checkpoint this witness cosigned (kept in `state`, created on first
/// use), records it there and returns the cosigned checkpoint's text.
///
/// # Errors
/// [`AuditError`] naming what failed (a rollback or an inconsistent tree is
/// refused).
pub fn witness_cosign(
    log: &Path,
    log_key: &Path,
    witness_key: &Path,
    state: &Path,
    now: DateTime<Utc>,
) -> Result<String, AuditError> {
    let invalid = |what: String| AuditError::Invalid(what);
    let log_key = std::fs::read_to_string(log_key)
        .map_err(|e| invalid(format!("{}: {e}", log_key.display())))
        .and_then(|t| {
            VerifierKey::parse(&t).map_err(|e| invalid(format!("{}: {e}", log_key.display())))
        })?;
    let signer = load_signer(witness_key)?;
    let last = match std::fs::read_to_string(state) {
        Ok(t) => Some(
            parse_checkpoint(&t)
                .map_err(|e| invalid(format!("{}: {e}", state.display())))?
                .checkpoint,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(invalid(format!("{}: {e}", state.display()))),
    };
    let origin = log_key.name().to_string();
    let mut w = Witness::new(signer, vec![log_key], &origin, last)
        .map_err(|e| invalid(format!("{}: {e}", witness_key.display())))?;
    let text = halsohub_audit::read_checkpoint(log)?;
    let timestamp = u64::try_from(now.timestamp()).unwrap_or(0);
    let signed = w
        .cosign_from_tiles(log, &text, timestamp)
        .map_err(|e| invalid(format!("not cosigned: {e}")))?;
    let out = signed.to_text();
    // The witness's memory, replaced atomically.
    let tmp = state.with_extension("tmp");
    std::fs::write(&tmp, &out)
        .and_then(|()| std::fs::rename(&tmp, state))
        .map_err(|e| invalid(format!("{}: {e}", state.display())))?;
    Ok(out)
}

/// Entries `from..to` (at most `limit`) as JSON lines for `halsohub audit
/// verify --entries`, with their salts: for auditors only.
///
/// # Errors
/// [`AuditError`].
pub async fn export_entries(db: &Db, from: u64, limit: u32) -> Result<String, AuditError> {
    let mut out = String::new();
    for row in db.audit_entries(from, limit).await? {
        let n = named(&row)?;
        let line = serde_json::json!({
            "index": row.index,
            "kind": row.kind,
            "at": n.entry.at,
            "actor": row.actor,
            "subject": row.subject,
            "payload": n.entry.payload,
            "salt": hex::encode(&row.salt),
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    Ok(out)
}
