//! The feasibility service: one function, [`answer`], decides everything
//! about a feasibility query — who may ask, validation, the per-user quota,
//! evaluation on the cohort engine, disclosure control, and the query log —
//! so the HTTP handler only translates.
//!
//! Rules it keeps:
//! * Only [`may_query`] roles ask: applicants (researchers) and the hub's
//!   case staff (case officer, legal reviewer, data steward, decision
//!   maker). Output checkers, auditors and administrators may not
//!   (separation of duties); users without a role may not.
//! * Exact numbers never leave: every number passes a [`Protector`] with a
//!   profile that is not exact ([`Feasibility::with_profile`] refuses an
//!   exact one).
//! * Every query is logged — answered or refused — before the answer is
//!   returned; when the log cannot be written, no numbers are returned.
//! * Only valid queries count against the quota; invalid ones are refused
//!   (and logged) without evaluation.
//! * Strata and split time series are released over a complete grid of
//!   keys (zero cells included), so that an absent cell cannot reveal a
//!   zero: every sex, age band, region and provider the engine knows, every
//!   year of the served snapshot, and `unknown`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use halsohub_access::{Principal, Role};
use halsohub_cohort::{
    CodeLists, Dimension, Engine, EvalError, Exclusion, Interval, Output, OutputResult, Query,
    QueryError,
};
use halsohub_disclosure::{
    DisclosureError, Precision, Profile, ProtectedValue, Protector, QuotaExceeded, QuotaPolicy,
    QuotaWindow, Release,
};
use halsohub_state::query_log::{NewQueryLogEntry, QueryOutcome};
use halsohub_state::{Db, StateError};
use serde::Serialize;
use utoipa::ToSchema;

/// Roles that may run feasibility queries, list snapshots and search codes.
pub const QUERY_ROLES: [Role; 5] = [
    Role::Applicant,
    Role::CaseOfficer,
    Role::LegalReviewer,
    Role::DataSteward,
    Role::DecisionMaker,
];

/// Whether `p` may use the feasibility service (any organisation).
pub fn may_query(p: &Principal) -> bool {
    QUERY_ROLES.iter().any(|r| p.has_role(*r))
}

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

/// The feasibility service over one snapshot: the engine, the code lists
/// queries may name, the disclosure profile, the hub's noise secret and the
/// quota policy. Shared by all requests.
pub struct Feasibility {
    engine: Arc<Engine>,
    lists: Arc<CodeLists>,
    profile: Profile,
    noise_secret: Vec<u8>,
    quota: QuotaPolicy,
    snapshots: Vec<SnapshotInfo>,
}

impl std::fmt::Debug for Feasibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feasibility")
            .field("snapshot", &self.engine.snapshot())
            .field("profile", &self.profile)
            .field("noise_secret", &"<redacted>")
            .field("quota", &self.quota)
            .finish_non_exhaustive()
    }
}

impl Feasibility {
    /// The service over `engine` with the default profile (`feasibility`:
    /// "<5", rounding to 5), the default quota and no named code lists.
    /// `noise_secret` keys deterministic noise (derive it from the hub key;
    /// it is only read by profiles that add noise).
    pub fn new(engine: Engine, noise_secret: Vec<u8>) -> Feasibility {
        let snapshot = engine.snapshot().to_string();
        Feasibility {
            engine: Arc::new(engine),
            lists: Arc::new(CodeLists::new()),
            profile: Profile::feasibility(),
            noise_secret,
            quota: QuotaPolicy::default(),
            snapshots: vec![SnapshotInfo {
                id: snapshot.clone(),
                created: DateTime::<Utc>::UNIX_EPOCH,
                parent: None,
                first_event: None,
                last_event: None,
                domains: Vec::new(),
                serving: true,
            }],
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
                query_hash: "check",
                snapshot_id: "check",
            },
        )?;
        self.profile = profile;
        Ok(self)
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
}

/// Who asks.
#[derive(Debug, Clone)]
pub struct Requester {
    /// User id.
    pub user_id: String,
    /// API token used, if any.
    pub token_id: Option<String>,
    /// Roles.
    pub principal: Principal,
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
    /// The state database failed (the query was not answered).
    #[error(transparent)]
    State(#[from] StateError),
    /// Something that should not happen.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The profile as released with every answer.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProfileInfo {
    /// Profile name.
    pub name: String,
    /// Counts below this are shown as `"<threshold"` / `"suppressed"`.
    pub threshold: u64,
    /// Shown counts are multiples of this.
    pub rounding: u64,
    /// Laplace noise ε, when noise is added.
    pub noise_epsilon: Option<f64>,
}

impl From<&Profile> for ProfileInfo {
    fn from(p: &Profile) -> ProfileInfo {
        ProfileInfo {
            name: p.name().to_string(),
            threshold: p.threshold(),
            rounding: p.rounding(),
            noise_epsilon: p.noise().map(|n| n.epsilon),
        }
    }
}

/// How precise a released number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NumberPrecision {
    /// The true count (never over the API).
    Exact,
    /// Rounded to a multiple of `rounded_to`.
    Rounded,
    /// Noise added, then rounded.
    Noisy,
    /// Withheld.
    Suppressed,
}

/// One released number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Number {
    /// What to show: `"1235"`, `"<5"` or `"suppressed"`.
    pub display: String,
    /// The shown value; absent when suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<u64>,
    /// How precise `value` is.
    pub precision: NumberPrecision,
    /// Rounding base, when rounded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounded_to: Option<u64>,
    /// For a small count: it is below this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub below: Option<u64>,
}

impl From<&ProtectedValue> for Number {
    fn from(v: &ProtectedValue) -> Number {
        Number {
            display: v.display().to_string(),
            value: v.value(),
            precision: match v.precision() {
                Precision::Exact => NumberPrecision::Exact,
                Precision::Rounded => NumberPrecision::Rounded,
                Precision::Noisy => NumberPrecision::Noisy,
                Precision::Suppressed => NumberPrecision::Suppressed,
            },
            rounded_to: v.rounded_to(),
            below: v.below(),
        }
    }
}

/// One funnel step.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FunnelStepOut {
    /// The step's label.
    pub label: String,
    /// `index`, `include` or `exclude`.
    pub kind: String,
    /// Patients remaining after the step.
    pub count: Number,
}

/// One stratum (one key per dimension).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StratumOut {
    /// One value per dimension (`unknown` when missing).
    pub key: Vec<String>,
    /// Patients.
    pub count: Number,
}

/// A margin of a two-way result: all patients with one value of one
/// dimension.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MarginOut {
    /// The dimension (`period` for a time series' periods).
    pub dimension: String,
    /// Its value.
    pub key: String,
    /// Patients.
    pub count: Number,
}

/// One period of a time series (optionally split).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PointOut {
    /// `2024-03` or `2024`.
    pub period: String,
    /// The split's value, when split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Patients newly meeting the event in the period.
    pub count: Number,
}

/// The protected numbers of one output.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProtectedOutput {
    /// Unique patients in the cohort.
    Count {
        /// Patients.
        count: Number,
    },
    /// Patients remaining after each step.
    Funnel {
        /// Steps in order.
        steps: Vec<FunnelStepOut>,
    },
    /// Patients per stratum over the complete grid of keys.
    Strata {
        /// Dimensions (one or two).
        dimensions: Vec<String>,
        /// Every stratum, zero cells included.
        cells: Vec<StratumOut>,
        /// With two dimensions: the totals per value of each.
        margins: Vec<MarginOut>,
        /// The cohort.
        total: Number,
    },
    /// Numerator within denominator.
    Proportion {
        /// Numerator patients.
        numerator: Number,
        /// Denominator patients.
        denominator: Number,
        /// Percentage from the shown numbers; absent when withheld.
        #[serde(skip_serializing_if = "Option::is_none")]
        percent: Option<f64>,
        /// `"42.5%"` or `"withheld"`.
        percent_display: String,
    },
    /// Patients newly meeting an event per period.
    TimeSeries {
        /// `month` or `year`.
        interval: String,
        /// The split dimension, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        /// Every period (and split value), zero cells included.
        points: Vec<PointOut>,
        /// With a split: totals per period and per split value.
        margins: Vec<MarginOut>,
        /// Patients in any period.
        total: Number,
    },
}

impl ProtectedOutput {
    /// Every released number with its kind (`count`, `step`, `cell`, ...).
    fn numbers(&self) -> Vec<(&'static str, &Number)> {
        let mut out: Vec<(&'static str, &Number)> = Vec::new();
        match self {
            ProtectedOutput::Count { count } => out.push(("count", count)),
            ProtectedOutput::Funnel { steps } => {
                out.extend(steps.iter().map(|s| ("step", &s.count)));
            }
            ProtectedOutput::Strata {
                cells,
                margins,
                total,
                ..
            } => {
                out.extend(cells.iter().map(|c| ("cell", &c.count)));
                out.extend(margins.iter().map(|m| ("margin", &m.count)));
                out.push(("total", total));
            }
            ProtectedOutput::Proportion {
                numerator,
                denominator,
                ..
            } => {
                out.push(("numerator", numerator));
                out.push(("denominator", denominator));
            }
            ProtectedOutput::TimeSeries {
                points,
                margins,
                total,
                ..
            } => {
                out.extend(points.iter().map(|p| ("period", &p.count)));
                out.extend(margins.iter().map(|m| ("margin", &m.count)));
                out.push(("total", total));
            }
        }
        out
    }
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
    /// This query's entry in the query log.
    pub log_id: i64,
}

fn output_kind(o: &Output) -> &'static str {
    match o {
        Output::Count {} => "count",
        Output::Funnel {} => "funnel",
        Output::Strata { .. } => "strata",
        Output::Proportion { .. } => "proportion",
        Output::TimeSeries { .. } => "time_series",
    }
}

/// Answers one feasibility query (the request body as received) for `who`
/// at `now`: role check, parse and validate, quota, evaluate, protect, log.
/// Refusals are logged too; the log row is written before anything is
/// returned.
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
    let mut log = NewQueryLogEntry {
        at: now,
        user_id: who.user_id.clone(),
        token_id: who.token_id.clone(),
        channel: "api".into(),
        query_hash: None,
        snapshot: Some(f.snapshot().to_string()),
        output_kind: None,
        profile: Some(f.profile.name().to_string()),
        protections: serde_json::Value::Null,
        exact: false,
        outcome: QueryOutcome::Ok,
    };
    let refuse = |mut log: NewQueryLogEntry, e: FeasibilityError| async move {
        log.outcome = QueryOutcome::Refused {
            reason: e.to_string(),
        };
        db.append_query_log(&log).await?;
        Err(e)
    };

    if !may_query(&who.principal) {
        return refuse(log, FeasibilityError::Forbidden).await;
    }
    let query = match parse(body, &f.lists) {
        Ok(q) => q,
        Err(e) => return refuse(log, e).await,
    };
    log.query_hash = Some(halsohub_cohort::query_hash(&query));
    log.output_kind = Some(output_kind(&query.output).to_string());

    let policy = f.quota;
    let admitted = db
        .admit_query(&who.user_id, now, QuotaWindow::Week.length(), |history| {
            policy.check(history, now)
        })
        .await?;
    if let Err(e) = admitted {
        return refuse(log, FeasibilityError::Quota(e)).await;
    }

    // The engine is CPU-bound: evaluate off the async workers.
    let engine = f.engine.clone();
    let lists = f.lists.clone();
    let q = query.clone();
    let result = tokio::task::spawn_blocking(move || engine.run(&q, &lists, &Exclusion::default()))
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

    let release = Release {
        secret: &f.noise_secret,
        query_hash: &result.query_hash,
        snapshot_id: &result.snapshot,
    };
    let protector = Protector::new(&f.profile, &release)
        .map_err(|e| FeasibilityError::Internal(e.to_string()))?;
    let output = match protect(f, &protector, &query, &result.output) {
        Ok(o) => o,
        Err(e) => return refuse(log, e).await,
    };
    log.protections = protections(&f.profile, &output);
    let log_id = db.append_query_log(&log).await?;
    Ok(FeasibilityAnswer {
        snapshot: result.snapshot,
        query_hash: result.query_hash,
        profile: ProfileInfo::from(&f.profile),
        output,
        log_id,
    })
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

/// What the log records about the protections: the profile and, per kind
/// of number, the precisions released.
fn protections(profile: &Profile, output: &ProtectedOutput) -> serde_json::Value {
    let mut precision: BTreeMap<&str, BTreeSet<NumberPrecision>> = BTreeMap::new();
    for (kind, n) in output.numbers() {
        precision.entry(kind).or_default().insert(n.precision);
    }
    serde_json::json!({
        "profile": ProfileInfo::from(profile),
        "precision": precision,
    })
}

fn table_error(e: DisclosureError) -> FeasibilityError {
    match e {
        DisclosureError::TableTooLarge { cells, max } => FeasibilityError::BadQuery {
            path: "$.output.by".into(),
            message: format!(
                "the strata would have {cells} cells, more than the {max} that can be protected; use fewer or coarser dimensions"
            ),
        },
        other => FeasibilityError::Internal(other.to_string()),
    }
}

/// The complete, ordered key set of a dimension: every value it can take
/// in the served snapshot, whatever the cohort — so an absent cell cannot
/// reveal a zero. The same key sets as `halsohub count`, so the CLI and the
/// API protect the same tables. Keys the engine produced beyond them are
/// kept (defensive).
fn universe(
    f: &Feasibility,
    dim: Dimension,
    observed: &BTreeSet<String>,
    bands: &[u32],
) -> Vec<String> {
    let mut keys: Vec<String> = match dim {
        Dimension::Sex => vec!["F".into(), "M".into()],
        Dimension::AgeBand => {
            let mut v: Vec<String> = Vec::new();
            for b in bands {
                let l = halsohub_cohort::codeset::age_band_label(*b, bands);
                if !v.contains(&l) {
                    v.push(l);
                }
            }
            v
        }
        Dimension::Region => f.engine.region_names().to_vec(),
        Dimension::Provider => f.engine.provider_names().to_vec(),
        Dimension::CalendarYear => {
            let served = f.snapshots.iter().find(|s| s.serving);
            match served.and_then(|s| s.first_event.zip(s.last_event)) {
                Some((first, last)) => (first.year()..=last.year())
                    .map(|y| y.to_string())
                    .collect(),
                None => {
                    // no snapshot dates known: the observed years, filled
                    let years: Vec<i32> = observed.iter().filter_map(|k| k.parse().ok()).collect();
                    match (years.iter().min(), years.iter().max()) {
                        (Some(lo), Some(hi)) => (*lo..=*hi).map(|y| y.to_string()).collect(),
                        _ => Vec::new(),
                    }
                }
            }
        }
    };
    keys.push("unknown".into());
    for k in observed {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys
}

fn protect(
    f: &Feasibility,
    p: &Protector<'_>,
    query: &Query,
    result: &OutputResult,
) -> Result<ProtectedOutput, FeasibilityError> {
    let bands = halsohub_cohort::validate::age_bands_of(&query.output);
    match result {
        OutputResult::Count { count } => Ok(ProtectedOutput::Count {
            count: Number::from(&p.count(*count)),
        }),
        OutputResult::Funnel { steps } => {
            let counts: Vec<u64> = steps.iter().map(|s| s.count).collect();
            let shown = p.funnel(&counts);
            Ok(ProtectedOutput::Funnel {
                steps: steps
                    .iter()
                    .zip(&shown)
                    .map(|(s, v)| FunnelStepOut {
                        label: s.label.clone(),
                        kind: s.kind.clone(),
                        count: Number::from(v),
                    })
                    .collect(),
            })
        }
        OutputResult::Proportion {
            numerator,
            denominator,
        } => {
            let pp = p
                .proportion(*numerator, *denominator)
                .map_err(|e| FeasibilityError::Internal(e.to_string()))?;
            Ok(ProtectedOutput::Proportion {
                numerator: Number::from(&pp.numerator),
                denominator: Number::from(&pp.denominator),
                percent: pp.percent,
                percent_display: pp.percent_display,
            })
        }
        OutputResult::Strata {
            dimensions, cells, ..
        } => {
            let names: Vec<String> = dimensions.iter().map(|d| d.as_str().to_string()).collect();
            match dimensions.as_slice() {
                [d] => {
                    let observed: BTreeSet<String> = cells
                        .iter()
                        .filter_map(|c| c.key.first().cloned())
                        .collect();
                    let keys = universe(f, *d, &observed, &bands);
                    let counts: BTreeMap<&str, u64> = cells
                        .iter()
                        .filter_map(|c| c.key.first().map(|k| (k.as_str(), c.count)))
                        .collect();
                    let values: Vec<u64> = keys
                        .iter()
                        .map(|k| counts.get(k.as_str()).copied().unwrap_or(0))
                        .collect();
                    let s = p.strata(&values).map_err(table_error)?;
                    Ok(ProtectedOutput::Strata {
                        dimensions: names,
                        cells: keys
                            .iter()
                            .zip(&s.cells)
                            .map(|(k, v)| StratumOut {
                                key: vec![k.clone()],
                                count: Number::from(v),
                            })
                            .collect(),
                        margins: Vec::new(),
                        total: Number::from(&s.total),
                    })
                }
                [d1, d2] => {
                    let rows_seen: BTreeSet<String> = cells
                        .iter()
                        .filter_map(|c| c.key.first().cloned())
                        .collect();
                    let cols_seen: BTreeSet<String> =
                        cells.iter().filter_map(|c| c.key.get(1).cloned()).collect();
                    let rows = universe(f, *d1, &rows_seen, &bands);
                    let cols = universe(f, *d2, &cols_seen, &bands);
                    let counts: BTreeMap<(&str, &str), u64> = cells
                        .iter()
                        .filter_map(|c| match c.key.as_slice() {
                            [a, b] => Some(((a.as_str(), b.as_str()), c.count)),
                            _ => None,
                        })
                        .collect();
                    let t = two_way(p, &rows, &cols, &counts)?;
                    let mut out_cells = Vec::new();
                    for (r, rk) in rows.iter().enumerate() {
                        for (c, ck) in cols.iter().enumerate() {
                            if let Some(v) = t.cells.get(r).and_then(|row| row.get(c)) {
                                out_cells.push(StratumOut {
                                    key: vec![rk.clone(), ck.clone()],
                                    count: Number::from(v),
                                });
                            }
                        }
                    }
                    let mut margins = Vec::new();
                    for (k, v) in rows.iter().zip(&t.row_totals) {
                        margins.push(MarginOut {
                            dimension: d1.as_str().to_string(),
                            key: k.clone(),
                            count: Number::from(v),
                        });
                    }
                    for (k, v) in cols.iter().zip(&t.column_totals) {
                        margins.push(MarginOut {
                            dimension: d2.as_str().to_string(),
                            key: k.clone(),
                            count: Number::from(v),
                        });
                    }
                    Ok(ProtectedOutput::Strata {
                        dimensions: names,
                        cells: out_cells,
                        margins,
                        total: Number::from(&t.total),
                    })
                }
                _ => Err(FeasibilityError::BadQuery {
                    path: "$.output.by".into(),
                    message: "give one dimension or two".into(),
                }),
            }
        }
        OutputResult::TimeSeries {
            interval,
            by,
            points,
            ..
        } => {
            let Output::TimeSeries { from, to, .. } = &query.output else {
                return Err(FeasibilityError::Internal(
                    "time-series result for another output".into(),
                ));
            };
            let periods = halsohub_cohort::reference::periods(*from, *to, *interval);
            let interval_name = match interval {
                Interval::Month => "month",
                Interval::Year => "year",
            };
            match by {
                None => {
                    let counts: BTreeMap<&str, u64> = points
                        .iter()
                        .map(|pt| (pt.period.as_str(), pt.count))
                        .collect();
                    let values: Vec<u64> = periods
                        .iter()
                        .map(|k| counts.get(k.as_str()).copied().unwrap_or(0))
                        .collect();
                    let s = p.time_series(&values).map_err(table_error)?;
                    Ok(ProtectedOutput::TimeSeries {
                        interval: interval_name.into(),
                        by: None,
                        points: periods
                            .iter()
                            .zip(&s.cells)
                            .map(|(k, v)| PointOut {
                                period: k.clone(),
                                key: None,
                                count: Number::from(v),
                            })
                            .collect(),
                        margins: Vec::new(),
                        total: Number::from(&s.total),
                    })
                }
                Some(d) => {
                    let seen: BTreeSet<String> =
                        points.iter().filter_map(|pt| pt.key.clone()).collect();
                    let cols = universe(f, *d, &seen, &bands);
                    let counts: BTreeMap<(&str, &str), u64> = points
                        .iter()
                        .filter_map(|pt| {
                            pt.key
                                .as_deref()
                                .map(|k| ((pt.period.as_str(), k), pt.count))
                        })
                        .collect();
                    let t = two_way(p, &periods, &cols, &counts)?;
                    let mut out = Vec::new();
                    for (r, period) in periods.iter().enumerate() {
                        for (c, k) in cols.iter().enumerate() {
                            if let Some(v) = t.cells.get(r).and_then(|row| row.get(c)) {
                                out.push(PointOut {
                                    period: period.clone(),
                                    key: Some(k.clone()),
                                    count: Number::from(v),
                                });
                            }
                        }
                    }
                    let mut margins = Vec::new();
                    for (k, v) in periods.iter().zip(&t.row_totals) {
                        margins.push(MarginOut {
                            dimension: "period".into(),
                            key: k.clone(),
                            count: Number::from(v),
                        });
                    }
                    for (k, v) in cols.iter().zip(&t.column_totals) {
                        margins.push(MarginOut {
                            dimension: d.as_str().to_string(),
                            key: k.clone(),
                            count: Number::from(v),
                        });
                    }
                    Ok(ProtectedOutput::TimeSeries {
                        interval: interval_name.into(),
                        by: Some(d.as_str().to_string()),
                        points: out,
                        margins,
                        total: Number::from(&t.total),
                    })
                }
            }
        }
    }
}

fn two_way(
    p: &Protector<'_>,
    rows: &[String],
    cols: &[String],
    counts: &BTreeMap<(&str, &str), u64>,
) -> Result<halsohub_disclosure::ProtectedTable, FeasibilityError> {
    let size = rows.len().saturating_mul(cols.len());
    if size > halsohub_disclosure::MAX_TABLE_CELLS {
        return Err(table_error(DisclosureError::TableTooLarge {
            cells: size,
            max: halsohub_disclosure::MAX_TABLE_CELLS,
        }));
    }
    let grid: Vec<Vec<u64>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| counts.get(&(r.as_str(), c.as_str())).copied().unwrap_or(0))
                .collect()
        })
        .collect();
    p.table(&grid).map_err(table_error)
}
