//! The feasibility service: one function, [`ask`], decides everything
//! about a feasibility query for every channel — who may ask, validation,
//! the per-user quota, evaluation on the cohort engine, disclosure
//! control, and the query log — so `POST /api/v1/feasibility` and
//! `halsohub count` only translate. [`count_local`] is the whole of
//! `halsohub count`: it opens the hub ([`crate::hub`]) and asks.
//!
//! Rules it keeps:
//! * Over the API ([`Requester::Api`]) only [`may_query`] roles ask
//!   (a rule of `halsohub_access`), and the quota applies. At the command
//!   line ([`Requester::Cli`]) the local operator, who holds the store's
//!   files anyway, is neither role-checked nor rationed, and only there
//!   may exact numbers be asked for (the data steward's `--exact`).
//! * Exact numbers never leave over the API: the service's profile is
//!   never exact ([`Feasibility::with_profile`] refuses one).
//! * Every query is logged — answered or refused, with its channel —
//!   before the answer is returned; when the log cannot be written, no
//!   numbers are returned.
//! * Only valid queries count against the quota; invalid ones are refused
//!   (and logged) without evaluation.
//! * Strata and split time series are released over a complete grid of
//!   keys (zero cells included), so that an absent cell cannot reveal a
//!   zero: every sex, age band, region and provider the engine knows, every
//!   year of the served snapshot, and `unknown`. Protection itself is
//!   [`halsohub_feasibility::protect`], the pure domain code.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use halsohub_access::{Principal, may_query};
use halsohub_cohort::{CodeLists, Engine, EvalError, OutputResult, Query, QueryError};
use halsohub_disclosure::{
    Anchor, BudgetExceeded, DisclosureError, GuardSession, PersonTagger, Profile, Protector,
    QuotaExceeded, QuotaWindow, Release, SetPrint,
};
use halsohub_feasibility::{
    KeyGrid, ProtectError, output_kind, protect, protect_guarded, protections, release_cost,
};
use halsohub_state::privacy::StoredAnchor;
use halsohub_state::query_log::{NewQueryLogEntry, QueryOutcome};
use halsohub_state::{Db, StateError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::hub::{Hub, HubError};
use crate::optout::CountExclusions;
use crate::query::{QueryFileError, read_query_file};

/// The per-user quota, privacy-budget and differencing-guard policies the
/// service applies to API requests (rules of `halsohub_disclosure`,
/// re-exported for the edges that configure them).
pub use halsohub_disclosure::{BudgetPolicy, GuardPolicy, QuotaPolicy};

/// The released shape of an answer's numbers (owned by the pure
/// `halsohub-feasibility` crate).
pub use halsohub_feasibility::{
    FunnelStepOut, MarginOut, Number, NumberPrecision, PointOut, ProfileInfo, ProtectedOutput,
    StratumOut,
};

/// Why the service is misconfigured.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The profile would release exact numbers.
    #[error(
        "the disclosure profile {0:?} releases exact numbers; exact counts are only for `halsohub count --exact`"
    )]
    ExactProfile(String),
    /// The profile cannot be applied (e.g. noise without a secret).
    #[error("the disclosure profile cannot be used: {0}")]
    Profile(#[from] DisclosureError),
    /// No built-in profile of that name may be served.
    #[error("unknown disclosure profile {0:?} for the API; use feasibility, noisy or strict")]
    UnknownProfile(String),
}

/// The built-in profile `name` for the API: `feasibility`, `noisy` or
/// `strict` (never `exact`).
///
/// # Errors
/// [`SetupError::UnknownProfile`] for any other name.
pub fn api_profile(name: &str) -> Result<Profile, SetupError> {
    Profile::builtin(name)
        .filter(|p| !p.is_exact())
        .ok_or_else(|| SetupError::UnknownProfile(name.to_string()))
}

/// A snapshot as listed by `GET /api/v1/snapshots`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SnapshotInfo {
    /// Snapshot id.
    pub id: String,
    /// When it was committed.
    pub created: DateTime<Utc>,
    /// The snapshot it was built on.
    pub parent: Option<String>,
    /// First event date held.
    pub first_event: Option<NaiveDate>,
    /// Last event date held.
    pub last_event: Option<NaiveDate>,
    /// Event domains with data.
    pub domains: Vec<String>,
    /// True for the snapshot this server answers queries from.
    pub serving: bool,
}

impl SnapshotInfo {
    /// From a store manifest; `serving` names the engine's snapshot.
    pub fn from_manifest(m: &halsohub_store::Manifest, serving: &str) -> SnapshotInfo {
        SnapshotInfo {
            id: m.id.0.clone(),
            created: m.created,
            parent: m.parent.as_ref().map(|p| p.0.clone()),
            first_event: m.date_range.map(|r| r.first),
            last_event: m.date_range.map(|r| r.last),
            domains: m
                .rows_per_domain()
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .filter_map(|(d, _)| {
                    serde_json::to_value(d)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                })
                .collect(),
            serving: m.id.0 == serving,
        }
    }
}

/// The feasibility side of a [`Hub`]: kept here so that `hub` needs
/// nothing of this module (no import loop).
impl Hub {
    /// The store's snapshots as listed by the API, `serving` marked.
    ///
    /// # Errors
    /// [`HubError::Store`] when a manifest cannot be read.
    pub fn snapshot_list(&self, serving: &str) -> Result<Vec<SnapshotInfo>, HubError> {
        Ok(self
            .store()
            .snapshots()
            .map_err(|error| HubError::Store {
                path: self.store().root().to_path_buf(),
                error,
            })?
            .iter()
            .map(|m| SnapshotInfo::from_manifest(m, serving))
            .collect())
    }

    /// The feasibility service over snapshot `id` (default: the current
    /// one): the engine built from it, the code lists (built-in, the
    /// snapshot's systems, then `list_files`), the store's snapshots, and
    /// the noise secret from this hub's key; default profile and quota.
    /// Building reads the whole snapshot: call it off async workers.
    ///
    /// # Errors
    /// [`HubError`] when the snapshot, the engine or a list file fails.
    pub fn feasibility(
        &self,
        id: Option<&str>,
        list_files: &[PathBuf],
    ) -> Result<Feasibility, HubError> {
        let snapshot = self.snapshot(id)?;
        let engine = crate::hub::engine(&snapshot)?;
        let lists = crate::hub::code_lists(&engine, list_files)?;
        let snapshots = self.snapshot_list(engine.snapshot())?;
        Ok(Feasibility::new(engine, self.noise_secret())
            .with_code_lists(lists)
            .with_snapshots(snapshots))
    }
}

/// The feasibility service over one snapshot: the engine, the code lists
/// queries may name, the disclosure profile, the hub's noise secret and the
/// quota policy. Shared by all requests; a clone shares the engine and
/// the lists.
#[derive(Clone)]
pub struct Feasibility {
    engine: Arc<Engine>,
    lists: Arc<CodeLists>,
    profile: Profile,
    noise_secret: Vec<u8>,
    quota: QuotaPolicy,
    budget: Option<BudgetPolicy>,
    guard: Option<GuardPolicy>,
    snapshots: Vec<SnapshotInfo>,
    optouts: CountExclusions,
}

impl std::fmt::Debug for Feasibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feasibility")
            .field("snapshot", &self.engine.snapshot())
            .field("profile", &self.profile)
            .field("noise_secret", &"<redacted>")
            .field("quota", &self.quota)
            .field("budget", &self.budget)
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl Feasibility {
    /// The service over `engine` with the default profile (`feasibility`:
    /// "<5", rounding to 5), the default quota and the built-in named code
    /// lists (over the engine's code systems).
    /// `noise_secret` keys deterministic noise (derive it from the hub key;
    /// it is only read by profiles that add noise).
    ///
    /// Every person gets a secret tag under `noise_secret` (so noise is
    /// keyed by the persons behind each number), and the default privacy
    /// budget and differencing guard are on for API callers.
    pub fn new(mut engine: Engine, noise_secret: Vec<u8>) -> Feasibility {
        if let Ok(tagger) = PersonTagger::new(&noise_secret) {
            engine.set_person_tags(&tagger);
        }
        // Without a secret there are no tags, so nothing to guard by.
        let guard = (!noise_secret.is_empty()).then(GuardPolicy::default);
        let snapshot = engine.snapshot().to_string();
        let mut lists = CodeLists::builtin();
        lists.add_systems(engine.systems());
        Feasibility {
            engine: Arc::new(engine),
            lists: Arc::new(lists),
            profile: Profile::feasibility(),
            noise_secret,
            quota: QuotaPolicy::default(),
            budget: Some(BudgetPolicy::default()),
            guard,
            snapshots: vec![SnapshotInfo {
                id: snapshot.clone(),
                created: DateTime::<Utc>::UNIX_EPOCH,
                parent: None,
                first_event: None,
                last_event: None,
                domains: Vec::new(),
                serving: true,
            }],
            optouts: CountExclusions::default(),
        }
    }

    /// Uses `profile` for every release.
    ///
    /// # Errors
    /// [`SetupError::ExactProfile`] for a profile without protection, and
    /// [`SetupError::Profile`] when it adds noise and the secret is empty.
    pub fn with_profile(mut self, profile: Profile) -> Result<Feasibility, SetupError> {
        if profile.is_exact() {
            return Err(SetupError::ExactProfile(profile.name().to_string()));
        }
        Protector::new(
            &profile,
            &Release {
                secret: &self.noise_secret,
            },
        )?;
        self.profile = profile;
        Ok(self)
    }

    /// The privacy budget per API user (`None`: off — only for trusted
    /// audiences).
    ///
    /// # Errors
    /// [`SetupError::Profile`] for an invalid policy.
    pub fn with_budget(mut self, budget: Option<BudgetPolicy>) -> Result<Feasibility, SetupError> {
        if let Some(b) = &budget {
            b.validate()?;
        }
        self.budget = budget;
        Ok(self)
    }

    /// The differencing guard for API answers (`None`: off — only for
    /// trusted audiences).
    ///
    /// # Errors
    /// [`SetupError::Profile`] for an invalid policy, or a guard without
    /// a secret.
    pub fn with_guard(mut self, guard: Option<GuardPolicy>) -> Result<Feasibility, SetupError> {
        if let Some(g) = &guard {
            GuardSession::new(*g, &self.noise_secret, Vec::new())?;
        }
        self.guard = guard;
        Ok(self)
    }

    /// The budget policy, when on.
    pub fn budget(&self) -> Option<BudgetPolicy> {
        self.budget
    }

    /// Uses `quota` per user.
    pub fn with_quota(mut self, quota: QuotaPolicy) -> Feasibility {
        self.quota = quota;
        self
    }

    /// Named code lists queries may use (`{"list": "name"}`).
    pub fn with_code_lists(mut self, lists: CodeLists) -> Feasibility {
        self.lists = Arc::new(lists);
        self
    }

    /// The store's snapshots, for `GET /api/v1/snapshots`.
    pub fn with_snapshots(mut self, snapshots: Vec<SnapshotInfo>) -> Feasibility {
        self.snapshots = snapshots;
        self
    }

    /// The snapshot queries are answered from.
    pub fn snapshot(&self) -> &str {
        self.engine.snapshot()
    }

    /// The profile applied.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The quota policy.
    pub fn quota(&self) -> QuotaPolicy {
        self.quota
    }

    /// The store's snapshots.
    pub fn snapshots(&self) -> &[SnapshotInfo] {
        &self.snapshots
    }

    /// The named code lists and code systems queries may use.
    pub fn code_lists(&self) -> &CodeLists {
        &self.lists
    }

    /// The opt-out exclusion every count removes (kept between queries).
    pub fn opt_outs(&self) -> &CountExclusions {
        &self.optouts
    }

    /// The cohort engine queries run on.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// Who asks, and through which channel.
#[derive(Debug, Clone)]
pub enum Requester {
    /// An authenticated caller of the HTTP API: roles are checked, the
    /// quota applies, numbers are protected by the service's profile.
    Api {
        /// User id.
        user_id: String,
        /// API token used, if any.
        token_id: Option<String>,
        /// Roles.
        principal: Principal,
    },
    /// The local operator at the command line (`os:<login name>`), who
    /// holds the store's files already: no role check and no quota;
    /// `exact` asks for unprotected numbers (the data steward's
    /// `--exact`), else the service's profile applies.
    Cli {
        /// `os:<login name>`.
        user_id: String,
        /// Release exact numbers.
        exact: bool,
    },
}

impl Requester {
    fn user_id(&self) -> &str {
        match self {
            Requester::Api { user_id, .. } | Requester::Cli { user_id, .. } => user_id,
        }
    }

    /// The channel as written to the query log: `api` or `cli`.
    pub fn channel(&self) -> &'static str {
        match self {
            Requester::Api { .. } => "api",
            Requester::Cli { .. } => "cli",
        }
    }

    fn exact(&self) -> bool {
        matches!(self, Requester::Cli { exact: true, .. })
    }
}

/// Why a query got no numbers.
#[derive(Debug, thiserror::Error)]
pub enum FeasibilityError {
    /// The caller's roles do not allow feasibility queries.
    #[error(
        "feasibility queries are for applicants and case staff (case officer, legal reviewer, data steward, decision maker)"
    )]
    Forbidden,
    /// The query is malformed or invalid, at `path`.
    #[error("{path}: {message}")]
    BadQuery {
        /// JSON path of the problem.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The caller's quota is used up.
    #[error(transparent)]
    Quota(QuotaExceeded),
    /// The caller's privacy budget cannot pay for the query.
    #[error(transparent)]
    Budget(BudgetExceeded),
    /// The state database failed (the query was not answered).
    #[error(transparent)]
    State(#[from] StateError),
    /// Something that should not happen.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An answer: protected numbers named by snapshot, query hash and profile.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FeasibilityAnswer {
    /// The snapshot the numbers come from.
    pub snapshot: String,
    /// SHA-256 of the canonical query (equal for equivalent queries).
    pub query_hash: String,
    /// The disclosure profile applied.
    pub profile: ProfileInfo,
    /// The protected numbers.
    pub output: ProtectedOutput,
    /// The caller's privacy budget after this answer (absent when off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetInfo>,
    /// This query's entry in the query log.
    pub log_id: i64,
    /// This answer's entry in the verifiable audit log (its leaf index;
    /// `GET /api/v1/audit/entries/{index}` proves it, for auditors).
    pub audit_index: u64,
    /// Qualitative warnings about the query (a lab analyte named in one
    /// code system where the snapshot also holds another, an ICD-10-SE
    /// diagnosis whose ICD-10-CM/GM counterparts the snapshot holds but the
    /// query does not name; see `docs/query-language.md`). They hold no
    /// numbers.
    pub warnings: Vec<String>,
}

/// A user's privacy budget: numbers they may still be shown this period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct BudgetInfo {
    /// Numbers per period.
    pub limit: u64,
    /// Numbers left.
    pub remaining: u64,
    /// When the budget renews.
    pub renews_at: DateTime<Utc>,
}

impl From<halsohub_disclosure::BudgetStatus> for BudgetInfo {
    fn from(s: halsohub_disclosure::BudgetStatus) -> Self {
        BudgetInfo {
            limit: s.limit,
            remaining: s.remaining,
            renews_at: s.renews_at,
        }
    }
}

/// `user_id`'s budget as it stands at `now` (for `GET /api/v1/me`).
///
/// # Errors
/// When the state database fails.
pub async fn budget_of(
    f: &Feasibility,
    db: &Db,
    user_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<BudgetInfo>, StateError> {
    let Some(policy) = f.budget else {
        return Ok(None);
    };
    let spent = db.budget_spent(user_id, policy.period(now).0).await?;
    Ok(Some(policy.status(spent, now).into()))
}

/// An answer and, for an exact request, the engine's own result (non-empty
/// strata only), which the command line prints as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Answered {
    /// The released answer.
    pub answer: FeasibilityAnswer,
    /// The unprotected result, for [`Requester::Cli`] with `exact` only.
    pub exact: Option<OutputResult>,
}

/// A query as received.
#[derive(Debug, Clone, Copy)]
pub enum QueryInput<'a> {
    /// A request body: JSON text (the API).
    Json(&'a [u8]),
    /// A query already read as a JSON value (a JSON or YAML query file,
    /// [`read_query_file`]); its meaning is checked here.
    Value(&'a serde_json::Value),
}

/// Answers one feasibility query (the request body as received) from an
/// API caller at `now`; see [`ask`].
///
/// # Errors
/// [`FeasibilityError`] saying why no numbers are returned.
pub async fn answer(
    f: &Feasibility,
    db: &Db,
    who: &Requester,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<FeasibilityAnswer, FeasibilityError> {
    Ok(ask(f, db, who, QueryInput::Json(body), now).await?.answer)
}

/// The query log row of a query from `who` on `snapshot` under `profile`,
/// before anything is known of the query.
fn log_entry(
    who: &Requester,
    snapshot: Option<String>,
    profile: &str,
    now: DateTime<Utc>,
) -> NewQueryLogEntry {
    let token_id = match who {
        Requester::Api { token_id, .. } => token_id.clone(),
        Requester::Cli { .. } => None,
    };
    NewQueryLogEntry {
        at: now,
        user_id: who.user_id().to_string(),
        token_id,
        channel: who.channel().into(),
        query_hash: None,
        snapshot,
        output_kind: None,
        profile: Some(profile.to_string()),
        protections: serde_json::Value::Null,
        exact: who.exact(),
        outcome: QueryOutcome::Ok,
    }
}

/// Appends `log` to the query log and its entry to the audit log, in one
/// transaction: the row's id and the entry's index.
async fn append_log(db: &Db, log: &NewQueryLogEntry) -> Result<(i64, u64), StateError> {
    let salt = crate::audit::fresh_salt();
    db.append_query_log_audited(log, |id| crate::audit::query_log_entry(log, id, &salt))
        .await
}

/// Appends `log` as refused with `reason`.
async fn log_refusal(
    db: &Db,
    mut log: NewQueryLogEntry,
    reason: String,
) -> Result<(i64, u64), StateError> {
    log.outcome = QueryOutcome::Refused { reason };
    append_log(db, &log).await
}

/// Answers one feasibility query from `who` at `now`: role check (API),
/// parse and validate, quota (API), evaluate, protect (by the service's
/// profile, or exactly for an exact command-line request), log. Refusals
/// are logged too; the log row is written before anything is returned.
///
/// # Errors
/// [`FeasibilityError`] saying why no numbers are returned.
pub async fn ask(
    f: &Feasibility,
    db: &Db,
    who: &Requester,
    input: QueryInput<'_>,
    now: DateTime<Utc>,
) -> Result<Answered, FeasibilityError> {
    let exact_profile;
    let profile = if who.exact() {
        exact_profile = Profile::exact();
        &exact_profile
    } else {
        &f.profile
    };
    let mut log = log_entry(who, Some(f.snapshot().to_string()), profile.name(), now);
    let refuse = |log: NewQueryLogEntry, e: FeasibilityError| async move {
        log_refusal(db, log, e.to_string()).await?;
        Err(e)
    };

    if let Requester::Api { principal, .. } = who
        && !may_query(principal)
    {
        return refuse(log, FeasibilityError::Forbidden).await;
    }
    let parsed = match input {
        QueryInput::Json(body) => parse(body, &f.lists),
        QueryInput::Value(v) => halsohub_cohort::parse_value(v, &f.lists).map_err(bad_query),
    };
    let query = match parsed {
        Ok(q) => q,
        Err(e) => return refuse(log, e).await,
    };
    log.query_hash = Some(halsohub_cohort::query_hash(&query));
    log.output_kind = Some(output_kind(&query.output).to_string());
    let warnings =
        halsohub_cohort::codeset::harmonisation_warnings(&query, &f.lists, f.engine.systems());

    if let Requester::Api { user_id, .. } = who {
        let policy = f.quota;
        let admitted = db
            .admit_query(user_id, now, QuotaWindow::Week.length(), |history| {
                policy.check(history, now)
            })
            .await?;
        if let Err(e) = admitted {
            return refuse(log, FeasibilityError::Quota(e)).await;
        }
    }

    let served = f.snapshots.iter().find(|s| s.serving);
    let grid = KeyGrid::new(
        &f.engine,
        served.and_then(|s| s.first_event.zip(s.last_event)),
    );
    // The budget (API callers) is charged from the query's shape, before
    // evaluation; an exact repeat (same hash, same snapshot) in the period
    // is free.
    let budget = match (who, f.budget) {
        (Requester::Api { user_id, .. }, Some(policy)) => {
            let cost = release_cost(&query, &grid);
            let key = format!(
                "{}@{}",
                log.query_hash.as_deref().unwrap_or(""),
                f.snapshot()
            );
            let charged = db
                .charge_budget(user_id, policy.period(now).0, &key, now, |l| {
                    if l.repeat {
                        Ok((0, policy.status(l.spent, now)))
                    } else {
                        policy.charge(l.spent, cost, now).map(|s| (cost, s))
                    }
                })
                .await?;
            match charged {
                Ok(status) => Some(BudgetInfo::from(status)),
                Err(e) => return refuse(log, FeasibilityError::Budget(e)).await,
            }
        }
        _ => None,
    };

    // Everyone opted out of anything is left out of every count, from the
    // moment the register records it.
    let excluded = f.optouts.at(db, &f.engine, now).await?;
    // The engine is CPU-bound: evaluate off the async workers.
    let engine = f.engine.clone();
    let lists = f.lists.clone();
    let q = query.clone();
    let result = tokio::task::spawn_blocking(move || engine.run(&q, &lists, &excluded))
        .await
        .map_err(|e| FeasibilityError::Internal(format!("evaluation task failed: {e}")))?;
    let result = match result {
        Ok(r) => r,
        Err(EvalError::TooManyCells { cells, limit }) => {
            let e = FeasibilityError::BadQuery {
                path: "$.output".into(),
                message: format!(
                    "{cells} cells exceed the limit of {limit}; use fewer or coarser dimensions"
                ),
            };
            return refuse(log, e).await;
        }
        Err(EvalError::Invalid(e)) => return refuse(log, bad_query(e)).await,
    };

    let output = if who.exact() {
        ProtectedOutput::exact(&result.output)
    } else {
        let protected = match (who, f.guard) {
            (Requester::Api { user_id, .. }, Some(policy)) => {
                guarded(f, db, user_id, policy, &query, &result, &grid, now).await?
            }
            _ => protect(&query, &result, &grid, profile, &f.noise_secret),
        };
        match protected {
            Ok(o) => o,
            Err(ProtectError::Query { path, message }) => {
                return refuse(log, FeasibilityError::BadQuery { path, message }).await;
            }
            Err(e) => return refuse(log, FeasibilityError::Internal(e.to_string())).await,
        }
    };
    log.protections = protections(profile, &output);
    let (log_id, audit_index) = append_log(db, &log).await?;
    Ok(Answered {
        answer: FeasibilityAnswer {
            snapshot: result.snapshot,
            query_hash: result.query_hash,
            profile: ProfileInfo::from(profile),
            output,
            budget,
            log_id,
            audit_index,
            warnings,
        },
        exact: who.exact().then_some(result.output),
    })
}

/// Protection under the differencing guard: a dry run learns the sizes of
/// the sets released, the anchors of those sizes are loaded (every user's
/// when the guard is shared), the numbers are decided, and the new anchors
/// are stored (under the asking user) before the answer is returned.
#[allow(clippy::too_many_arguments)]
async fn guarded(
    f: &Feasibility,
    db: &Db,
    user_id: &str,
    policy: GuardPolicy,
    query: &Query,
    result: &halsohub_cohort::QueryResult,
    grid: &KeyGrid<'_>,
    now: DateTime<Utc>,
) -> Result<Result<ProtectedOutput, ProtectError>, FeasibilityError> {
    let session = |anchors: Vec<Anchor>| {
        GuardSession::new(policy, &f.noise_secret, anchors)
            .map_err(|e| FeasibilityError::Internal(format!("differencing guard: {e}")))
    };
    let dry = session(Vec::new())?;
    let ranges = match protect_guarded(query, result, grid, &f.profile, &f.noise_secret, Some(dry))
    {
        Ok((_, Some(d))) => d.size_ranges(),
        Ok((_, None)) => Vec::new(),
        Err(e) => return Ok(Err(e)),
    };
    let scope = (!policy.shared).then_some(user_id);
    let anchors: Vec<Anchor> = db
        .anchors_in(scope, &ranges)
        .await?
        .into_iter()
        .filter_map(|s| {
            Some(Anchor {
                print: SetPrint::from_bytes(&s.print).ok()?,
                value: s.value,
                suppressed: s.suppressed,
            })
        })
        .collect();
    let live = session(anchors)?;
    match protect_guarded(query, result, grid, &f.profile, &f.noise_secret, Some(live)) {
        Ok((out, g)) => {
            let new: Vec<StoredAnchor> = g
                .map(|g| g.new_anchors())
                .unwrap_or_default()
                .into_iter()
                .map(|a| StoredAnchor {
                    persons: a.print.count(),
                    tag_sum: a.print.sum(),
                    print: a.print.to_bytes(),
                    value: a.value,
                    suppressed: a.suppressed,
                })
                .collect();
            db.store_anchors(user_id, &new, now).await?;
            Ok(Ok(out))
        }
        Err(e) => Ok(Err(e)),
    }
}

fn bad_query(e: QueryError) -> FeasibilityError {
    FeasibilityError::BadQuery {
        path: e.path,
        message: e.message,
    }
}

fn parse(body: &[u8], lists: &CodeLists) -> Result<Query, FeasibilityError> {
    let text = std::str::from_utf8(body).map_err(|e| FeasibilityError::BadQuery {
        path: "$".into(),
        message: format!("the body is not UTF-8 text: {e}"),
    })?;
    if text.trim().is_empty() {
        return Err(FeasibilityError::BadQuery {
            path: "$".into(),
            message: "the body is empty; send the query as JSON (see docs/query-language.md)"
                .into(),
        });
    }
    halsohub_cohort::parse_json(text, lists).map_err(bad_query)
}

/// One `halsohub count`: where the hub is and what to ask.
#[derive(Debug, Clone)]
pub struct LocalCount {
    /// The store directory.
    pub store: PathBuf,
    /// The hub key file (must be the store's, outside it).
    pub key: PathBuf,
    /// The snapshot to count in; the current one when `None`.
    pub snapshot: Option<String>,
    /// Code list files beside the built-in lists.
    pub code_lists: Vec<PathBuf>,
    /// The query file (JSON or YAML).
    pub query: PathBuf,
    /// Who runs it (`os:<login name>`) and whether exact numbers are
    /// asked for.
    pub who: Requester,
}

/// Why `halsohub count` printed no numbers.
#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// The query file cannot be read or is not JSON / YAML.
    #[error(transparent)]
    QueryFile(#[from] QueryFileError),
    /// The hub cannot be opened (key, store, snapshot, engine, lists).
    #[error(transparent)]
    Hub(#[from] HubError),
    /// The service refused the query or failed.
    #[error("query file {}: {error}", file.display())]
    Query {
        /// The query file.
        file: PathBuf,
        /// Why.
        error: FeasibilityError,
    },
    /// The refusal could not be logged either.
    #[error("{error}; and the query log could not be written: {log}")]
    Unlogged {
        /// Why no numbers.
        error: Box<CountError>,
        /// Why the log failed.
        log: StateError,
    },
}

/// `halsohub count`: reads the query file (a syntax error fails before the
/// engine is built), opens the hub with the key checked against the store
/// ([`Hub::open`]), builds the service over the snapshot and [`ask`]s it
/// with the default profile. Every run — answered or refused at any step —
/// is in the query log before this returns.
///
/// # Errors
/// [`CountError`] saying why no numbers are printed.
pub async fn count_local(
    db: &Db,
    req: LocalCount,
    now: DateTime<Utc>,
) -> Result<Answered, CountError> {
    let profile = if req.who.exact() {
        Profile::exact()
    } else {
        Profile::feasibility()
    };
    let opened = async {
        let value = read_query_file(&req.query)?;
        let (store, key, snapshot, lists) = (
            req.store.clone(),
            req.key.clone(),
            req.snapshot.clone(),
            req.code_lists.clone(),
        );
        // Building the engine reads the whole snapshot: off the async workers.
        let service = tokio::task::spawn_blocking(move || {
            Hub::open(&store, &key)?.feasibility(snapshot.as_deref(), &lists)
        })
        .await
        .map_err(|e| CountError::Query {
            file: req.query.clone(),
            error: FeasibilityError::Internal(format!("engine build task failed: {e}")),
        })??;
        Ok::<_, CountError>((value, service))
    };
    let (value, service) = match opened.await {
        Ok(v) => v,
        Err(error) => {
            let log = log_entry(&req.who, req.snapshot.clone(), profile.name(), now);
            return match log_refusal(db, log, error.to_string()).await {
                Ok(_) => Err(error),
                Err(log) => Err(CountError::Unlogged {
                    error: Box::new(error),
                    log,
                }),
            };
        }
    };
    ask(&service, db, &req.who, QueryInput::Value(&value), now)
        .await
        .map_err(|error| CountError::Query {
            file: req.query.clone(),
            error,
        })
}
