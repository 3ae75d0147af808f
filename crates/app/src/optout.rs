//! The opt-out register as a service: recording opt-outs (a delivery file
//! read at `halsohub ingest`, or a citizen through the API), reading a
//! citizen's own standing and history, and the exclusion sets every exit
//! removes.
//!
//! Who is excluded for what is `halsohub_access::optout`'s rule
//! ([`standing`]); this module only reads the register from `state`,
//! groups it by person and asks that rule:
//!
//! * [`excluded_for_counts`]: everyone opted out of any purpose at an
//!   instant — feasibility counts (every channel) remove this one set,
//!   from the moment an opt-out is recorded, without a new load
//!   ([`CountExclusions`] keeps it per engine and rebuilds it when the
//!   register's version changes or a recorded opt-out takes effect);
//! * [`excluded_for_purpose`]: everyone opted out of a permit's purpose
//!   (or of all) as the register stood at the permit's freeze instant
//!   ([`halsohub_access::optout::freeze_instant`]) — extracts remove it.
//!
//! Identity numbers are pseudonymised by the caller's [`Pseudonymiser`] on
//! arrival ([`Citizen::from_number`]) and never stored or logged.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use halsohub_access::Purpose;
use halsohub_access::optout::{OptOutRecord, next_change, standing};
use halsohub_cohort::{Engine, Exclusion};
use halsohub_identity::{IdentityNumber, ParseOptions, Pseudonym, Pseudonymiser};
use halsohub_state::optouts::{DeliveryOutcome, NewDelivery, NewOptOut, StoredOptOut};
use halsohub_state::{Db, StateError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use halsohub_access::optout::{OptOutAction, OptOutScope, Standing};
pub use halsohub_state::optouts::{StoredDelivery, StoredExtract};

/// Why an opt-out could not be recorded or read.
#[derive(Debug, thiserror::Error)]
pub enum OptOutError {
    /// A request field is wrong.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The delivery file cannot be read (named, with the line).
    #[error(transparent)]
    File(#[from] halsohub_ingest::IngestError),
    /// The caller is not a citizen logged in with an identity number.
    #[error(
        "this is for citizens: log in with an identity provider that gives your identity number"
    )]
    NotACitizen,
    /// The state database failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// The identity number an OIDC token carried (its `Debug` withholds it).
pub use halsohub_state::oidc::IdentityClaim;

/// The citizens' side of the register, for the API: turns a logged-in
/// citizen's identity number into their pseudonym under the hub key.
#[derive(Clone)]
pub struct Citizens {
    pseudonymiser: Pseudonymiser,
}

impl std::fmt::Debug for Citizens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Citizens")
            .field("key", &self.pseudonymiser.key_fingerprint())
            .finish()
    }
}

impl Citizens {
    /// Under the hub key in `key` (the store's).
    ///
    /// # Errors
    /// [`crate::hub::HubError`] when the key is missing or unreadable.
    pub fn open(key: &Path) -> Result<Citizens, crate::hub::HubError> {
        Ok(Citizens::new(Pseudonymiser::new(&crate::hub::load_key(
            key,
        )?)))
    }

    /// With `pseudonymiser` (the hub key's).
    pub fn new(pseudonymiser: Pseudonymiser) -> Citizens {
        Citizens { pseudonymiser }
    }

    /// The citizen whose token carried `claim`.
    ///
    /// # Errors
    /// [`OptOutError::NotACitizen`] without one; [`OptOutError::Invalid`]
    /// for a number that does not parse.
    pub fn citizen(
        &self,
        claim: Option<&IdentityClaim>,
        now: DateTime<Utc>,
    ) -> Result<Citizen, OptOutError> {
        let claim = claim.ok_or(OptOutError::NotACitizen)?;
        Citizen::from_number(claim.expose(), &self.pseudonymiser, now)
    }
}

/// A citizen, known only by their hub pseudonym.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Citizen(Pseudonym);

impl Citizen {
    /// The citizen whose identity number is `number` (any written form),
    /// pseudonymised at once; the number is not kept.
    ///
    /// # Errors
    /// [`OptOutError::Invalid`] saying what is wrong with the number
    /// (never echoing it).
    pub fn from_number(
        number: &str,
        pseudonymiser: &Pseudonymiser,
        now: DateTime<Utc>,
    ) -> Result<Citizen, OptOutError> {
        let options = ParseOptions::new(halsohub_access::calendar::swedish_date(now));
        let id = IdentityNumber::parse(number, &options).map_err(|e| OptOutError::Invalid {
            field: "identity number",
            message: e.to_string(),
        })?;
        Ok(Citizen(pseudonymiser.pseudonym(&id)))
    }

    /// The hub pseudonym.
    pub fn pseudonym(&self) -> Pseudonym {
        self.0
    }
}

/// A citizen's change, as the API receives it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOutRequest {
    /// Opt out, or withdraw an earlier opt-out.
    pub action: OptOutAction,
    /// `all` (the default) or one purpose.
    #[serde(default = "all")]
    pub scope: OptOutScope,
}

fn all() -> OptOutScope {
    OptOutScope::All
}

/// One record of a citizen's history, as shown to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OptOutEntry {
    /// The register's order of recording.
    pub id: i64,
    /// What it covers.
    pub scope: OptOutScope,
    /// Opt-out or withdrawal.
    pub action: OptOutAction,
    /// From when it applies.
    pub effective_at: DateTime<Utc>,
    /// When the hub recorded it.
    pub recorded_at: DateTime<Utc>,
    /// `api` (the citizen's own) or `file` (the national e-service).
    pub channel: String,
}

/// A citizen's standing and history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OptOutStatus {
    /// Opted out of every purpose now.
    pub all: bool,
    /// Purposes opted out of on their own now.
    pub purposes: Vec<String>,
    /// Counts and new extracts leave the citizen out now (any opt-out).
    pub excluded_from_counts: bool,
    /// Every record, oldest first.
    pub history: Vec<OptOutEntry>,
}

/// A permit whose extract held a citizen's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UsedBy {
    /// The permit, when the extract was made under one.
    pub permit_id: Option<String>,
    /// The project title (the permit's, else the project name).
    pub project: String,
    /// The holder organisation, when known.
    pub holder: Option<String>,
    /// The purpose, when known.
    pub purpose: Option<String>,
    /// When the permit was decided (issued), when known.
    pub decided_at: Option<DateTime<Utc>>,
    /// When the extract was made.
    pub extracted_at: DateTime<Utc>,
    /// The permit's entry in the public register.
    pub register_entry: Option<String>,
}

fn record_of(r: &StoredOptOut) -> OptOutRecord {
    // A scope or action this release cannot read (from a newer one) is
    // read as the widest opt-out: never as nothing.
    let scope = r.scope.parse().unwrap_or_else(|_| {
        tracing::warn!(
            id = r.id,
            "an opt-out record with an unknown scope counts as all"
        );
        OptOutScope::All
    });
    let action = OptOutAction::parse(&r.action).unwrap_or(OptOutAction::OptOut);
    OptOutRecord {
        scope,
        action,
        effective_at: r.effective_at,
        recorded_at: r.recorded_at,
        sequence: r.id,
    }
}

/// Records per person.
fn by_person(records: &[StoredOptOut]) -> HashMap<Pseudonym, Vec<OptOutRecord>> {
    let mut out: HashMap<Pseudonym, Vec<OptOutRecord>> = HashMap::new();
    for r in records {
        match r.pseudonym.parse::<Pseudonym>() {
            Ok(p) => out.entry(p).or_default().push(record_of(r)),
            Err(_) => tracing::warn!(id = r.id, "an opt-out record without a usable pseudonym"),
        }
    }
    out
}

/// The audit entry recording one opt-out change.
fn change_entry(
    r: &NewOptOut,
    channel: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> halsohub_state::audit::NewAuditEntry {
    crate::audit::entry(
        halsohub_audit::EntryKind::OptOutChange,
        now,
        actor,
        &r.pseudonym,
        serde_json::json!({
            "scope": r.scope,
            "action": r.action,
            "effective_at": r.effective_at,
            "channel": channel,
            "reference": r.reference,
        }),
    )
}

/// Everyone opted out of any purpose at `at`, and the next instant at
/// which an already recorded record takes effect.
///
/// # Errors
/// [`StateError`].
pub async fn excluded_for_counts(
    db: &Db,
    at: DateTime<Utc>,
) -> Result<(HashSet<Pseudonym>, Option<DateTime<Utc>>), StateError> {
    let records = db.optout_records().await?;
    let mut out = HashSet::new();
    let mut next: Option<DateTime<Utc>> = None;
    for (p, rs) in by_person(&records) {
        if standing(&rs, at).any() {
            out.insert(p);
        }
        if let Some(n) = next_change(&rs, at) {
            next = Some(next.map_or(n, |m| m.min(n)));
        }
    }
    Ok((out, next))
}

/// Everyone excluded for `purpose` (opted out of it or of all) as the
/// register stood at `at`.
///
/// # Errors
/// [`StateError`].
pub async fn excluded_for_purpose(
    db: &Db,
    purpose: Purpose,
    at: DateTime<Utc>,
) -> Result<HashSet<Pseudonym>, StateError> {
    let records = db.optout_records().await?;
    Ok(by_person(&records)
        .into_iter()
        .filter(|(_, rs)| standing(rs, at).excludes(purpose))
        .map(|(p, _)| p)
        .collect())
}

#[derive(Debug)]
struct Cached {
    version: i64,
    built_at: DateTime<Utc>,
    next_change: Option<DateTime<Utc>>,
    exclusion: Arc<Exclusion>,
    persons: usize,
}

/// The count exclusion of one engine, kept between queries: rebuilt when
/// the register's version (its last record) changes, when a recorded
/// record takes effect, or when asked about an earlier instant. Shared by
/// clones.
#[derive(Debug, Clone, Default)]
pub struct CountExclusions {
    cached: Arc<Mutex<Option<Cached>>>,
}

impl CountExclusions {
    /// The engine's exclusion at `now`: everyone opted out of anything.
    ///
    /// # Errors
    /// [`StateError`].
    pub async fn at(
        &self,
        db: &Db,
        engine: &Engine,
        now: DateTime<Utc>,
    ) -> Result<Arc<Exclusion>, StateError> {
        let version = db.optout_version().await?;
        if let Ok(guard) = self.cached.lock()
            && let Some(c) = guard.as_ref()
            && c.version == version
            && c.built_at <= now
            && c.next_change.is_none_or(|n| now < n)
        {
            return Ok(c.exclusion.clone());
        }
        let (persons, next) = excluded_for_counts(db, now).await?;
        let exclusion = Arc::new(engine.exclusion(persons.iter()));
        tracing::debug!(
            version,
            persons = persons.len(),
            "count exclusion rebuilt from the opt-out register"
        );
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Some(Cached {
                version,
                built_at: now,
                next_change: next,
                exclusion: exclusion.clone(),
                persons: persons.len(),
            });
        }
        Ok(exclusion)
    }

    /// Persons in the last exclusion built (for tests and status).
    pub fn persons(&self) -> Option<usize> {
        self.cached
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|c| c.persons))
    }
}

/// A citizen's standing and history at `now`.
///
/// # Errors
/// [`StateError`].
pub async fn status(
    db: &Db,
    citizen: Citizen,
    now: DateTime<Utc>,
) -> Result<OptOutStatus, StateError> {
    let stored = db.optout_history(&citizen.0.to_string()).await?;
    let records: Vec<OptOutRecord> = stored.iter().map(record_of).collect();
    let s = standing(&records, now);
    Ok(OptOutStatus {
        all: s.all,
        purposes: s.purposes.iter().map(|p| p.as_str().to_string()).collect(),
        excluded_from_counts: s.any(),
        history: stored
            .iter()
            .zip(&records)
            .map(|(r, rec)| OptOutEntry {
                id: r.id,
                scope: rec.scope,
                action: rec.action,
                effective_at: r.effective_at,
                recorded_at: r.recorded_at,
                channel: r.channel.clone(),
            })
            .collect(),
    })
}

/// Records a citizen's own change at `now`, effective at once, and returns
/// their standing after it.
///
/// # Errors
/// [`StateError`].
pub async fn record(
    db: &Db,
    citizen: Citizen,
    request: &OptOutRequest,
    now: DateTime<Utc>,
) -> Result<OptOutStatus, StateError> {
    let record = NewOptOut {
        pseudonym: citizen.0.to_string(),
        scope: request.scope.as_str().to_string(),
        action: request.action.as_str().to_string(),
        effective_at: now,
        reference: "api".to_string(),
    };
    let audit = change_entry(&record, "api", "citizen", now);
    db.record_optouts(&[record], "api", "citizen", now, &[audit])
        .await?;
    tracing::info!(
        action = request.action.as_str(),
        scope = request.scope.as_str(),
        "opt-out register changed by a citizen"
    );
    status(db, citizen, now).await
}

/// What became of one delivery file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    /// The file.
    pub path: PathBuf,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Records stored now (0 when the file was recorded before).
    pub recorded: u64,
    /// Lines rejected, with their reason code.
    pub rejected: Vec<(u64, String)>,
    /// When the same file was recorded before, if it was.
    pub already_recorded_at: Option<DateTime<Utc>>,
}

/// Reads the delivery file at `path` (pseudonymising each number as it is
/// read) and records it and its records in one transaction, unless the
/// same file was recorded before.
///
/// # Errors
/// [`OptOutError::File`] naming the file (nothing recorded);
/// [`OptOutError::State`].
pub async fn record_delivery(
    db: &Db,
    path: &Path,
    pseudonymiser: &Pseudonymiser,
    options: &ParseOptions,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<DeliveryReport, OptOutError> {
    let d = halsohub_ingest::optout::read_optout_delivery(path, pseudonymiser, options)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let records: Vec<NewOptOut> = d
        .records
        .iter()
        .map(|r| NewOptOut {
            pseudonym: r.pseudonym.to_string(),
            scope: r.scope.as_str().to_string(),
            action: r.action.as_str().to_string(),
            effective_at: r.effective_at,
            reference: format!("{file_name}:{}", r.line),
        })
        .collect();
    let rejected: Vec<(u64, String)> = d
        .rejected
        .iter()
        .map(|(l, r)| (*l, (*r).to_string()))
        .collect();
    let delivery = NewDelivery {
        sha256: d.sha256.clone(),
        file_name,
        actor: actor.to_string(),
        rejections: rejected.clone(),
    };
    let audit: Vec<_> = records
        .iter()
        .map(|r| change_entry(r, "file", actor, now))
        .collect();
    let outcome = db
        .record_optout_delivery(&delivery, &records, now, &audit)
        .await?;
    let (recorded, already) = match outcome {
        DeliveryOutcome::Recorded { records, .. } => (records, None),
        DeliveryOutcome::AlreadyRecorded { at, .. } => (0, Some(at)),
    };
    tracing::info!(
        file = %path.display(),
        recorded,
        rejected = rejected.len(),
        already = already.is_some(),
        "opt-out delivery read"
    );
    Ok(DeliveryReport {
        path: path.to_path_buf(),
        sha256: d.sha256,
        recorded,
        rejected,
        already_recorded_at: already,
    })
}

/// The delivery files recorded, newest first.
///
/// # Errors
/// [`StateError`].
pub async fn deliveries(db: &Db) -> Result<Vec<StoredDelivery>, StateError> {
    db.optout_deliveries().await
}

/// The permits (and other extracts) whose extracts held `citizen`'s data,
/// oldest first, with the permit's title, holder, purpose and decision
/// from the permits table when the extract was made under one. Nothing
/// about anyone else leaves: the extracts' members are searched for this
/// one pseudonym.
///
/// # Errors
/// [`StateError`].
pub async fn used_by(db: &Db, citizen: Citizen) -> Result<Vec<UsedBy>, StateError> {
    let extracts = db.extracts_with(*citizen.0.as_bytes()).await?;
    let mut out = Vec::with_capacity(extracts.len());
    for e in extracts {
        let permit = match &e.permit_id {
            Some(id) => match db.permit(id).await {
                Ok(p) => Some(p),
                Err(StateError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        let doc = permit.as_ref().map(|p| &p.document);
        let text = |k: &str| {
            doc.and_then(|d| d.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        out.push(UsedBy {
            permit_id: e.permit_id.clone(),
            project: text("project_title").unwrap_or_else(|| e.project.clone()),
            holder: text("organisation"),
            purpose: e.purpose.clone(),
            decided_at: doc
                .and_then(|d| d.get("issued_at"))
                .and_then(|v| serde_json::from_value(v.clone()).ok()),
            extracted_at: e.at,
            register_entry: e
                .permit_id
                .as_ref()
                .map(|id| format!("/api/v1/public/register#{id}")),
        });
    }
    Ok(out)
}
