//! The catalogue service: the data holders' descriptions from a directory,
//! their approvals, and what the hub computes for each published dataset
//! from the serving snapshot — released facts and quality per source and
//! load — put together into a [`Catalogue`] (`halsohub-catalogue`).
//!
//! **Person counts go through the feasibility service.** Every person
//! count (per dataset, per region, per age band, per frequent code) is a
//! feasibility query asked with [`ask`] as the hub's own requester
//! ([`CATALOGUE_USER`], a data steward of the hub): the same parsing,
//! evaluation, protection under the service's profile, the same
//! differencing guard and its shared history, and a query-log row per
//! query. The service used is the serving one with two rationing rules
//! left out, because they ration users and the catalogue is not one: the
//! per-user quota and the per-user privacy budget. The service's profile is
//! never exact (`Feasibility::with_profile` refuses it).
//!
//! Record counts are protected with a disclosure [`Protector`] under the
//! same profile and noise secret. Quality is measured from the load
//! reports (conformance, with the quarantine's reasons), and from the
//! events each load wrote (completeness, plausibility, timeliness), read
//! through `halsohub_store::columns`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use arrow::array::{Array, Float64Array};
use chrono::{DateTime, NaiveDate, Utc};
use halsohub_access::{OrgId, Principal, Role};
use halsohub_codes::plausible::PlausibleRange;
use halsohub_disclosure::{Protector, Release};
use halsohub_state::Db;
use halsohub_store::columns::{Columns, EventColumn, date_from_days};
use halsohub_store::{Snapshot, StoreError};

use crate::feasibility::{
    Feasibility, FeasibilityError, ProtectedOutput, QueryInput, QuotaPolicy, Requester, ask,
};
use crate::hub::{Hub, HubError};

pub use halsohub_catalogue::quality::{
    LoadObservation, PlausibilityObservation, VariableObservation,
};
pub use halsohub_catalogue::{
    AgeBand, Approval, ApprovalError, Approved, Catalogue, CatalogueConfig, CatalogueError,
    ComputedFacts, DatasetDescription, DescriptionError, Entry, FactsInput, FrequentCode,
    ProtectedValue, QualityReport, RdfError, RdfSyntax, Thresholds, VariableKind, assess,
    dataset_triples, page_triples, serialise,
};

/// The user id the catalogue's feasibility queries are asked and logged
/// under.
pub const CATALOGUE_USER: &str = "hub:catalogue";

/// The organisation of [`CATALOGUE_USER`]'s role.
pub const CATALOGUE_ORG: &str = "hub";

/// How many of a dataset's most frequent codes (by records) are counted.
pub const CODES_ASKED: usize = 10;

/// The age bands the catalogue counts persons in (10 years, `90+`).
pub const AGE_BANDS: [u32; 10] = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90];

/// The ending of an approval file beside its description
/// (`par-inpatient.yaml` → `par-inpatient.approval.json`).
pub const APPROVAL_SUFFIX: &str = ".approval.json";

/// Why the catalogue could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueServiceError {
    /// The descriptions directory could not be read.
    #[error("catalogue directory {}: {source}", dir.display())]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A description, approval or configuration file is wrong.
    #[error(transparent)]
    Description(#[from] DescriptionError),
    /// The catalogue cannot be assembled.
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    /// An approval could not be written.
    #[error("cannot write approval {}: {source}", file.display())]
    Write {
        /// The approval file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The approval does not cover the description.
    #[error(transparent)]
    Approval(#[from] ApprovalError),
    /// The snapshot could not be read.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The feasibility service did not answer the catalogue's query.
    #[error("the feasibility service refused the catalogue's query for {dataset}: {error}")]
    Feasibility {
        /// The dataset.
        dataset: String,
        /// Why.
        #[source]
        error: FeasibilityError,
    },
    /// The hub could not be opened.
    #[error(transparent)]
    Hub(#[from] HubError),
    /// Something that should not happen.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Where a description stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ApprovalState {
    /// Approved as it is now: published.
    Approved(Approval),
    /// Never approved: not published.
    Unapproved,
    /// Approved once, changed since: not published until approved again.
    Stale(ApprovalError),
}

/// A description file of the catalogue directory.
#[derive(Debug, Clone)]
pub struct DescriptionFile {
    /// The file.
    pub path: PathBuf,
    /// Its description.
    pub description: DatasetDescription,
    /// Whether it is published.
    pub state: ApprovalState,
}

/// The approval file that belongs to a description file.
#[must_use]
pub fn approval_path(description: &Path) -> PathBuf {
    let stem = description
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    description.with_file_name(format!("{stem}{APPROVAL_SUFFIX}"))
}

fn is_description(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    !name.starts_with('.')
        && !name.ends_with(APPROVAL_SUFFIX)
        && (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json"))
}

/// Read one description file and its approval state.
///
/// # Errors
/// The description or its approval file is unreadable or invalid.
pub fn read_description(path: &Path) -> Result<DescriptionFile, CatalogueServiceError> {
    let description = DatasetDescription::read(path)?;
    let approval = approval_path(path);
    let state = if approval.exists() {
        let a = Approval::read(&approval)?;
        match a.check(&description) {
            Ok(()) => ApprovalState::Approved(a),
            Err(e) => ApprovalState::Stale(e),
        }
    } else {
        ApprovalState::Unapproved
    };
    Ok(DescriptionFile {
        path: path.to_path_buf(),
        description,
        state,
    })
}

/// The description files of `dir` (`*.yaml`, `*.yml`, `*.json`, not the
/// approvals), by file name.
///
/// # Errors
/// The directory cannot be read.
pub fn description_paths(dir: &Path) -> Result<Vec<PathBuf>, CatalogueServiceError> {
    let io = |source| CatalogueServiceError::Dir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    paths.retain(|p| p.is_file() && is_description(p));
    paths.sort();
    Ok(paths)
}

/// A description file as read: its path, and the description with its
/// approval state or why it could not be read.
pub type ReadDescription = (PathBuf, Result<DescriptionFile, CatalogueServiceError>);

/// Every description file of `dir` with its approval state, each read on
/// its own (a bad file is its own error, the others still read).
///
/// # Errors
/// The directory cannot be read.
pub fn read_dir(dir: &Path) -> Result<Vec<ReadDescription>, CatalogueServiceError> {
    Ok(description_paths(dir)?
        .into_iter()
        .map(|p| {
            let r = read_description(&p);
            (p, r)
        })
        .collect())
}

/// Approve the description in `file` as `by` at `now`: the approval is
/// written beside it (`<stem>.approval.json`, replaced atomically).
///
/// # Errors
/// The description is invalid, `by` is blank, or the file cannot be written.
pub fn approve(
    file: &Path,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Approval, CatalogueServiceError> {
    let description = DatasetDescription::read(file)?;
    let approval = Approval::new(&description, by, now)?;
    let target = approval_path(file);
    let write = |source| CatalogueServiceError::Write {
        file: target.clone(),
        source,
    };
    let text = serde_json::to_string_pretty(&approval)
        .map_err(|e| CatalogueServiceError::Internal(e.to_string()))?;
    let tmp = target.with_extension("json.tmp");
    std::fs::write(&tmp, format!("{text}\n")).map_err(write)?;
    std::fs::rename(&tmp, &target).map_err(write)?;
    tracing::info!(dataset = %description.id, by = %approval.by, "description approved");
    Ok(approval)
}

/// What one pass over a snapshot's events found for one source in the
/// events one load wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadStats {
    /// Events.
    pub records: u64,
    /// Rows with a value, per optional column.
    pub present: BTreeMap<&'static str, u64>,
    /// Events dated after the person's death.
    pub after_death: u64,
    /// Events dated before the person's birth.
    pub before_birth: u64,
    /// Events checked against a death or birth date.
    pub checked_life: u64,
    /// Events dated when the person would have been more than
    /// [`MAX_AGE_YEARS`] years old.
    pub over_max_age: u64,
    /// Lab values of a known analyte (checked against its plausible range).
    pub checked_values: u64,
    /// Lab values outside their analyte's plausible range
    /// ([`halsohub_codes::plausible`]).
    pub implausible_values: u64,
    /// Days from event to load → events.
    pub lag_days: BTreeMap<i64, u64>,
}

/// What one pass over a snapshot's events found for one source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceStats {
    /// Events.
    pub records: u64,
    /// Earliest and latest event date.
    pub dates: Option<(NaiveDate, NaiveDate)>,
    /// Domains present.
    pub domains: BTreeSet<String>,
    /// Code systems present.
    pub systems: BTreeSet<String>,
    /// Events per (domain, system, code).
    pub codes: BTreeMap<(String, String, String), u64>,
    /// Per load (snapshot id) that wrote events of the source.
    pub loads: BTreeMap<String, LoadStats>,
}

/// The optional columns whose completeness is measured, with their kinds.
const OPTIONAL: [(EventColumn, VariableKind); 6] = [
    (EventColumn::EndDate, VariableKind::Date),
    (EventColumn::Value, VariableKind::Number),
    (EventColumn::Unit, VariableKind::Code),
    (EventColumn::Setting, VariableKind::Code),
    (EventColumn::Provider, VariableKind::Text),
    (EventColumn::ProviderRegion, VariableKind::Code),
];

/// The oldest age at an event that is plausible: an event dated later is
/// counted by the `age_over_max` check.
pub const MAX_AGE_YEARS: u32 = 120;

/// The plausible range of the analyte measured by `code` in `system`.
fn analyte_range(system: &str, code: &str) -> Option<&'static PlausibleRange> {
    let system = halsohub_codes::System::parse(system)?;
    let analyte = halsohub_codes::units::analyte_for(&system, code)?;
    halsohub_codes::plausible::plausible_range(analyte.id)
}

/// One pass over the snapshot's events: per source, records, dates,
/// domains, systems, codes, and per load the variables present, the
/// life-event checks and the lag to the load.
///
/// # Errors
/// The snapshot's files cannot be read.
pub fn scan(
    snapshot: &Snapshot,
    loaded_at: &BTreeMap<String, DateTime<Utc>>,
) -> Result<BTreeMap<String, SourceStats>, StoreError> {
    let mut life: Vec<(Option<NaiveDate>, Option<NaiveDate>)> = Vec::new();
    for p in snapshot.persons()? {
        let i = p.person_id as usize;
        if life.len() <= i {
            life.resize(i + 1, (None, None));
        }
        if let Some(slot) = life.get_mut(i) {
            *slot = (p.person.birth_date, p.person.death_date);
        }
    }
    let segment_load: BTreeMap<PathBuf, String> = snapshot
        .manifest()
        .segments
        .iter()
        .map(|s| (snapshot.store_root().join(&s.path), s.snapshot.0.clone()))
        .collect();
    let mut columns = vec![
        EventColumn::PersonId,
        EventColumn::Domain,
        EventColumn::System,
        EventColumn::Code,
        EventColumn::StartDate,
        EventColumn::Source,
    ];
    columns.extend(OPTIONAL.iter().map(|(c, _)| *c));
    let mut batches = snapshot.event_columns(&columns)?;
    let mut out: BTreeMap<String, SourceStats> = BTreeMap::new();
    while let Some(batch) = batches.next_batch()? {
        let path = batches.current_path();
        let load = segment_load.get(&path).cloned().unwrap_or_default();
        let at = loaded_at.get(&load).map(DateTime::date_naive);
        let c = Columns::new(&batch, &path);
        let person = c.int64(EventColumn::PersonId)?;
        let domain = c.text(EventColumn::Domain)?;
        let system = c.text(EventColumn::System)?;
        let code = c.text(EventColumn::Code)?;
        let start = c.date32(EventColumn::StartDate)?;
        let source = c.text(EventColumn::Source)?;
        let value = c.opt_typed::<Float64Array>(EventColumn::Value.name())?;
        // Plausible range per (system, code) dictionary key pair, once per
        // batch.
        let mut ranges: HashMap<(usize, usize), Option<&PlausibleRange>> = HashMap::new();
        let optional: Vec<(&'static str, Option<std::sync::Arc<dyn Array>>)> = OPTIONAL
            .iter()
            .map(|(col, _)| {
                let name = col.name();
                (name, batch.column_by_name(name).cloned())
            })
            .collect();
        for row in 0..c.rows() {
            let Some(src) = source.get(row) else { continue };
            let s = out.entry(src.to_string()).or_default();
            s.records += 1;
            let day = date_from_days(start.value(row));
            if let Some(d) = day {
                s.dates = Some(match s.dates {
                    None => (d, d),
                    Some((a, b)) => (a.min(d), b.max(d)),
                });
            }
            let dom = domain.get(row).unwrap_or_default();
            let sys = system.get(row).unwrap_or_default();
            if !s.domains.contains(dom) {
                s.domains.insert(dom.to_string());
            }
            if !s.systems.contains(sys) {
                s.systems.insert(sys.to_string());
            }
            *s.codes
                .entry((
                    dom.to_string(),
                    sys.to_string(),
                    code.get(row).unwrap_or_default().to_string(),
                ))
                .or_insert(0) += 1;
            let l = s.loads.entry(load.clone()).or_default();
            l.records += 1;
            if let Some(v) = value.filter(|v| v.is_valid(row)).map(|v| v.value(row))
                && let (Some(sk), Some(ck)) = (system.key(row), code.key(row))
            {
                let range = *ranges
                    .entry((sk, ck))
                    .or_insert_with(|| analyte_range(sys, code.get(row).unwrap_or_default()));
                if let Some(r) = range {
                    l.checked_values += 1;
                    if !r.contains(v) {
                        l.implausible_values += 1;
                    }
                }
            }
            for (name, array) in &optional {
                if array.as_ref().is_some_and(|a| a.is_valid(row)) {
                    *l.present.entry(*name).or_insert(0) += 1;
                }
            }
            let (birth, death) = usize::try_from(person.value(row))
                .ok()
                .and_then(|i| life.get(i))
                .copied()
                .unwrap_or((None, None));
            if let Some(d) = day {
                if birth.is_some() || death.is_some() {
                    l.checked_life += 1;
                }
                if birth.is_some_and(|b| d < b) {
                    l.before_birth += 1;
                }
                if birth.is_some_and(|b| d.years_since(b).is_some_and(|y| y > MAX_AGE_YEARS)) {
                    l.over_max_age += 1;
                }
                if death.is_some_and(|x| d > x) {
                    l.after_death += 1;
                }
                if let Some(at) = at {
                    *l.lag_days.entry((at - d).num_days()).or_insert(0) += 1;
                }
            }
        }
    }
    Ok(out)
}

fn median(hist: &BTreeMap<i64, u64>) -> Option<f64> {
    let n: u64 = hist.values().sum();
    if n == 0 {
        return None;
    }
    let mid = n.div_ceil(2);
    let mut seen = 0;
    for (days, k) in hist {
        seen += k;
        if seen >= mid {
            return Some(*days as f64);
        }
    }
    None
}

/// A source's rows in one load, from that load's report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportRows {
    /// Rows read.
    pub read: u64,
    /// Rows accepted.
    pub accepted: u64,
    /// Rows quarantined per reason.
    pub rejected: BTreeMap<String, u64>,
    /// Accepted rows with a code not in the loaded lists.
    pub unknown_codes: u64,
}

/// Rows per source (file format) in a stored load report.
#[must_use]
pub fn report_rows(report: &serde_json::Value) -> BTreeMap<String, ReportRows> {
    let mut out: BTreeMap<String, ReportRows> = BTreeMap::new();
    let files = report
        .get("files")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    for f in files {
        let Some(format) = f.get("format").and_then(serde_json::Value::as_str) else {
            continue;
        };
        let n = |k: &str| f.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let r = out.entry(format.to_string()).or_default();
        r.read += n("rows_read");
        r.accepted += n("rows_accepted");
        r.unknown_codes += n("rows_with_unknown_codes");
        if let Some(reasons) = f
            .get("rejected_by_reason")
            .and_then(serde_json::Value::as_object)
        {
            for (reason, k) in reasons {
                *r.rejected.entry(reason.clone()).or_insert(0) += k.as_u64().unwrap_or(0);
            }
        }
    }
    out
}

/// The quality observation of `source` in `load`, from its report rows
/// and the events the load wrote.
#[must_use]
pub fn observation(
    source: &str,
    load: &str,
    loaded_at: DateTime<Utc>,
    rows: &ReportRows,
    stats: Option<&LoadStats>,
) -> LoadObservation {
    let empty = LoadStats::default();
    let stats = stats.unwrap_or(&empty);
    let variables = OPTIONAL
        .iter()
        .filter_map(|(col, _)| {
            // A column the source never fills is not its variable.
            let present = *stats.present.get(col.name())?;
            Some(VariableObservation {
                name: col.name().to_string(),
                present,
                total: stats.records,
            })
        })
        .collect();
    let mut plausibility = Vec::new();
    if stats.checked_life > 0 {
        plausibility.push(PlausibilityObservation {
            check: "event_after_death".into(),
            description: "events dated after the person's death".into(),
            checked: stats.checked_life,
            failed: stats.after_death,
        });
        plausibility.push(PlausibilityObservation {
            check: "event_before_birth".into(),
            description: "events dated before the person's birth".into(),
            checked: stats.checked_life,
            failed: stats.before_birth,
        });
        plausibility.push(PlausibilityObservation {
            check: "age_over_max".into(),
            description: format!(
                "events dated when the person would have been over {MAX_AGE_YEARS} years old"
            ),
            checked: stats.checked_life,
            failed: stats.over_max_age,
        });
    }
    if stats.checked_values > 0 {
        plausibility.push(PlausibilityObservation {
            check: "value_out_of_range".into(),
            description: "lab values outside their analyte's physiologically plausible range"
                .into(),
            checked: stats.checked_values,
            failed: stats.implausible_values,
        });
    }
    LoadObservation {
        source: source.to_string(),
        load: load.to_string(),
        loaded_at,
        rows_read: rows.read,
        rows_accepted: rows.accepted,
        quarantined: rows.rejected.clone(),
        rows_with_unknown_codes: rows.unknown_codes,
        variables,
        plausibility,
        median_lag_days: median(&stats.lag_days),
    }
}

/// The hub's own requester for catalogue queries.
fn requester() -> Result<Requester, CatalogueServiceError> {
    let org =
        OrgId::new(CATALOGUE_ORG).map_err(|e| CatalogueServiceError::Internal(e.to_string()))?;
    Ok(Requester::Api {
        user_id: CATALOGUE_USER.to_string(),
        token_id: None,
        principal: Principal::anonymous().with_role(org, Role::DataSteward),
    })
}

/// The serving service without the per-user rationing (quota, budget):
/// same engine, code lists, profile, noise secret and guard.
fn service(f: &Feasibility) -> Result<Feasibility, CatalogueServiceError> {
    f.clone()
        .with_quota(QuotaPolicy {
            per_minute: u32::MAX,
            per_week: u32::MAX,
        })
        .with_budget(None)
        .map_err(|e| CatalogueServiceError::Internal(e.to_string()))
}

/// A released number of an answer, as the disclosure crate's value (the
/// answer's `Number` is that value's serialized form).
fn released(n: &crate::feasibility::Number) -> Result<ProtectedValue, CatalogueServiceError> {
    serde_json::to_value(n)
        .and_then(serde_json::from_value)
        .map_err(|e| CatalogueServiceError::Internal(format!("released number: {e}")))
}

fn any_event(domains: &BTreeSet<String>, sources: &[String]) -> serde_json::Value {
    let events: Vec<serde_json::Value> = domains
        .iter()
        .map(|d| serde_json::json!({"event": {"domain": d, "source": sources}}))
        .collect();
    if events.len() == 1 {
        events.into_iter().next().unwrap_or_default()
    } else {
        serde_json::json!({ "or": events })
    }
}

async fn ask_output(
    f: &Feasibility,
    db: &Db,
    who: &Requester,
    dataset: &str,
    query: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<ProtectedOutput, CatalogueServiceError> {
    ask(f, db, who, QueryInput::Value(query), now)
        .await
        .map(|a| a.answer.output)
        .map_err(|error| CatalogueServiceError::Feasibility {
            dataset: dataset.to_string(),
            error,
        })
}

fn band_of(key: &str) -> Option<AgeBand> {
    if let Some(from) = key.strip_suffix('+') {
        return Some(AgeBand {
            from: from.parse().ok()?,
            to: None,
        });
    }
    let (a, b) = key.split_once('-')?;
    Some(AgeBand {
        from: a.parse().ok()?,
        to: Some(b.parse().ok()?),
    })
}

/// The computed facts of one dataset: persons with any event of its
/// sources (one feasibility query), by region and by age band at their
/// first event of the sources' main domain (one query each), records
/// (protected), dates, code systems, the most frequent codes (one query
/// each) and the variables.
///
/// # Errors
/// The feasibility service refuses, or a number cannot be released.
#[allow(clippy::too_many_arguments)]
pub async fn facts(
    f: &Feasibility,
    db: &Db,
    noise_secret: &[u8],
    description: &DatasetDescription,
    stats: &BTreeMap<String, SourceStats>,
    now: DateTime<Utc>,
) -> Result<ComputedFacts, CatalogueServiceError> {
    let f = service(f)?;
    let who = requester()?;
    let id = description.id.as_str();
    let mut domains = BTreeSet::new();
    let mut merged = SourceStats::default();
    for s in &description.sources {
        let Some(st) = stats.get(s) else { continue };
        domains.extend(st.domains.iter().cloned());
        merged.records += st.records;
        merged.dates = match (merged.dates, st.dates) {
            (None, d) | (d, None) => d,
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
        };
        merged.systems.extend(st.systems.iter().cloned());
        for (k, n) in &st.codes {
            *merged.codes.entry(k.clone()).or_insert(0) += n;
        }
        for (load, l) in &st.loads {
            let m = merged.loads.entry(load.clone()).or_default();
            m.records += l.records;
            for (k, n) in &l.present {
                *m.present.entry(*k).or_insert(0) += n;
            }
        }
    }
    let mut input = FactsInput {
        snapshot: f.snapshot().to_string(),
        code_systems: merged.systems.iter().cloned().collect(),
        dates: merged.dates,
        ..FactsInput::default()
    };
    if domains.is_empty() {
        // No events of these sources in the snapshot: nothing to count.
        return Ok(ComputedFacts::new(input));
    }
    let profile = f.profile().clone();
    let protector = Protector::new(
        &profile,
        &Release {
            secret: noise_secret,
        },
    )
    .map_err(|e| CatalogueServiceError::Internal(e.to_string()))?;
    input.records = Some(protector.count(merged.records));

    let population = any_event(&domains, &description.sources);
    let count = serde_json::json!({
        "version": 1,
        "criteria": [{"label": id, "include": population}],
        "output": {"type": "count"}
    });
    if let ProtectedOutput::Count { count } = ask_output(&f, db, &who, id, &count, now).await? {
        input.persons = Some(released(&count)?);
    }

    // Region and age at each person's first event of the sources' main
    // domain (the one with most records): one query per dimension, since
    // a one-way table keeps more cells shown than the cross of the two,
    // whose margins secondary suppression hides.
    let mut per_domain: BTreeMap<&str, u64> = BTreeMap::new();
    for ((domain, _, _), n) in &merged.codes {
        *per_domain.entry(domain.as_str()).or_insert(0) += n;
    }
    let main = per_domain
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(d, _)| (*d).to_string())
        .unwrap_or_default();
    for dimension in ["region", "age_band"] {
        let query = serde_json::json!({
            "version": 1,
            "index": {"event": {"domain": main, "source": description.sources},
                      "occurrence": "first"},
            "output": {"type": "strata", "by": [dimension], "age_bands": AGE_BANDS,
                       "at": "index"}
        });
        let ProtectedOutput::Strata { cells, .. } =
            ask_output(&f, db, &who, id, &query, now).await?
        else {
            return Err(CatalogueServiceError::Internal(
                "a strata query answered with another output".into(),
            ));
        };
        for c in &cells {
            let Some(key) = c.key.first() else { continue };
            match dimension {
                "region" if key != "unknown" => {
                    input.regions.push((key.clone(), released(&c.count)?));
                }
                "age_band" => {
                    if let Some(b) = band_of(key) {
                        input.age_bands.push((b, released(&c.count)?));
                    }
                }
                _ => {}
            }
        }
    }

    // Events without a code (an encounter has none) are no code to count.
    let mut top: Vec<(&(String, String, String), &u64)> = merged
        .codes
        .iter()
        .filter(|((_, system, code), _)| !system.is_empty() && !code.is_empty())
        .collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    for ((domain, system, code), _) in top.into_iter().take(CODES_ASKED) {
        let query = serde_json::json!({
            "version": 1,
            "criteria": [{"include": {"event": {
                "domain": domain,
                "codes": [{"system": system, "codes": [code]}],
                "source": description.sources,
            }}}],
            "output": {"type": "count"}
        });
        // A code the query language cannot name (an unresolved local
        // code) is skipped, not an error of the catalogue.
        match ask_output(&f, db, &who, id, &query, now).await {
            Ok(ProtectedOutput::Count { count }) => input.codes.push(FrequentCode {
                system: system.clone(),
                code: code.clone(),
                persons: released(&count)?,
            }),
            Ok(_) => {}
            Err(CatalogueServiceError::Feasibility {
                error: FeasibilityError::BadQuery { path, message },
                ..
            }) => {
                tracing::debug!(dataset = id, %system, %code, %path, %message, "frequent code not countable");
            }
            Err(e) => return Err(e),
        }
    }

    let total: u64 = merged.loads.values().map(|l| l.records).sum();
    input
        .variables
        .push(("code".into(), VariableKind::Code, total, total));
    input
        .variables
        .push(("start_date".into(), VariableKind::Date, total, total));
    for (col, kind) in OPTIONAL {
        let present: u64 = merged
            .loads
            .values()
            .filter_map(|l| l.present.get(col.name()))
            .sum();
        if present > 0 {
            input
                .variables
                .push((col.name().to_string(), kind, present, total));
        }
    }
    Ok(ComputedFacts::new(input))
}

/// Quality per covered source and load (oldest load first): conformance
/// from each load's report, the rest from the events the load wrote.
#[must_use]
pub fn quality(
    description: &DatasetDescription,
    reports: &[(String, DateTime<Utc>, serde_json::Value)],
    stats: &BTreeMap<String, SourceStats>,
    thresholds: &Thresholds,
) -> Vec<QualityReport> {
    let mut out = Vec::new();
    for (load, at, report) in reports {
        let rows = report_rows(report);
        for source in &description.sources {
            let Some(r) = rows.get(source) else { continue };
            let l = stats.get(source).and_then(|s| s.loads.get(load));
            out.push(assess(&observation(source, load, *at, r, l), thresholds));
        }
    }
    out
}

/// What the data stewards see besides the public catalogue.
#[derive(Debug, Clone)]
pub struct Built {
    /// The public catalogue (quality without defect counts).
    pub catalogue: Catalogue,
    /// Quality per dataset with the defect counts (stewards and holders only).
    pub detailed: BTreeMap<String, Vec<QualityReport>>,
    /// Descriptions not published, with why.
    pub unpublished: Vec<(PathBuf, String)>,
}

/// Build the catalogue from the descriptions in `dir` over the serving
/// snapshot: approved descriptions only, each with its computed facts and
/// quality.
///
/// # Errors
/// [`CatalogueServiceError`] for unreadable files, store errors or a
/// refused feasibility query.
#[allow(clippy::too_many_arguments)]
pub async fn build(
    f: &Feasibility,
    db: &Db,
    noise_secret: &[u8],
    snapshot: &Snapshot,
    config: CatalogueConfig,
    dir: &Path,
    thresholds: &Thresholds,
    now: DateTime<Utc>,
) -> Result<Built, CatalogueServiceError> {
    let files = read_dir(dir)?;
    // When each load was committed: its snapshot's creation time.
    let created: BTreeMap<String, DateTime<Utc>> =
        halsohub_store::Store::open(snapshot.store_root())?
            .snapshots()?
            .into_iter()
            .map(|m| (m.id.0, m.created))
            .collect();
    let mut loaded_at: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut reports = Vec::new();
    for (id, report) in snapshot.load_reports()? {
        let at = created
            .get(&id.0)
            .copied()
            .unwrap_or(snapshot.manifest().created);
        loaded_at.insert(id.0.clone(), at);
        reports.push((id.0, at, report));
    }
    let snap = snapshot.clone();
    let stats = tokio::task::spawn_blocking(move || scan(&snap, &loaded_at))
        .await
        .map_err(|e| CatalogueServiceError::Internal(format!("scan task failed: {e}")))??;
    let mut entries = Vec::new();
    let mut detailed = BTreeMap::new();
    let mut unpublished = Vec::new();
    for (path, file) in files {
        let file = match file {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "description not published");
                unpublished.push((path, e.to_string()));
                continue;
            }
        };
        let approval = match file.state {
            ApprovalState::Approved(a) => a,
            ApprovalState::Unapproved => {
                unpublished.push((file.path, "not approved".to_string()));
                continue;
            }
            ApprovalState::Stale(e) => {
                unpublished.push((file.path, e.to_string()));
                continue;
            }
        };
        let d = file.description;
        let facts = facts(f, db, noise_secret, &d, &stats, now).await?;
        let q = quality(&d, &reports, &stats, thresholds);
        let public = q.iter().map(QualityReport::public).collect();
        detailed.insert(d.id.clone(), q);
        entries.push(Entry {
            approved: Approved::new(d, approval)?,
            facts: Some(facts),
            quality: public,
        });
    }
    Ok(Built {
        catalogue: Catalogue::new(config, entries, now)?,
        detailed,
        unpublished,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_files_sit_beside_their_description() {
        assert_eq!(
            approval_path(Path::new("/c/par-inpatient.yaml")),
            Path::new("/c/par-inpatient.approval.json")
        );
        assert!(is_description(Path::new("/c/par.yaml")));
        assert!(is_description(Path::new("/c/omop.json")));
        assert!(!is_description(Path::new("/c/par.approval.json")));
        assert!(!is_description(Path::new("/c/notes.txt")));
        assert!(!is_description(Path::new("/c/.hidden.yaml")));
    }

    #[test]
    fn the_demo_catalogue_is_valid_and_approved() {
        let dir = tempfile::tempdir().unwrap();
        let cat = dir.path().join("catalogue");
        let config = dir.path().join("catalogue.yaml");
        let now = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 1, 9, 0, 0).unwrap();
        let n = write_demo(&cat, &config, "http://127.0.0.1:8080", "demo", now).unwrap();
        assert_eq!(n, DEMO_DESCRIPTIONS.len());
        let files = read_dir(&cat).unwrap();
        assert_eq!(files.len(), DEMO_DESCRIPTIONS.len());
        for (path, f) in files {
            let f = f.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                matches!(f.state, ApprovalState::Approved(_)),
                "{}",
                path.display()
            );
        }
        let c = CatalogueConfig::read(&config).unwrap();
        assert_eq!(
            c.dataset_uri("lab"),
            "http://127.0.0.1:8080/api/v1/catalogue/datasets/lab"
        );
        // Run again: kept, not re-approved.
        let before = std::fs::read_to_string(cat.join("lab.approval.json")).unwrap();
        write_demo(&cat, &config, "http://127.0.0.1:8080", "someone-else", now).unwrap();
        assert_eq!(
            std::fs::read_to_string(cat.join("lab.approval.json")).unwrap(),
            before
        );
    }

    #[test]
    fn content_negotiation() {
        use Representation::{Json, Rdf};
        assert_eq!(negotiate(None), Json);
        assert_eq!(negotiate(Some("text/turtle")), Rdf(RdfSyntax::Turtle));
        assert_eq!(
            negotiate(Some("application/ld+json")),
            Rdf(RdfSyntax::JsonLd)
        );
        assert_eq!(negotiate(Some("text/html, */*;q=0.1")), Json);
        assert_eq!(
            negotiate(Some("application/json;q=0.5, text/turtle;q=0.9")),
            Rdf(RdfSyntax::Turtle)
        );
        assert_eq!(negotiate(Some("text/turtle;q=0, application/json")), Json);
    }

    #[test]
    fn only_data_stewards_see_findings() {
        let org = OrgId::new("o").unwrap();
        for role in Role::ALL {
            let p = Principal::anonymous().with_role(org.clone(), role);
            assert_eq!(may_see_findings(&p), role == Role::DataSteward, "{role}");
        }
    }

    #[test]
    fn age_band_keys_read_back() {
        assert_eq!(
            band_of("0-9"),
            Some(AgeBand {
                from: 0,
                to: Some(9)
            })
        );
        assert_eq!(band_of("90+"), Some(AgeBand { from: 90, to: None }));
        assert_eq!(band_of("unknown"), None);
    }

    #[test]
    fn median_of_a_histogram() {
        let h: BTreeMap<i64, u64> = [(1, 1), (5, 1), (30, 3)].into_iter().collect();
        assert_eq!(median(&h), Some(30.0));
        let h: BTreeMap<i64, u64> = [(1, 2), (5, 1)].into_iter().collect();
        assert_eq!(median(&h), Some(1.0));
        assert_eq!(median(&BTreeMap::new()), None);
    }

    #[test]
    fn report_rows_sum_per_format() {
        let report = serde_json::json!({"files": [
            {"format": "lab", "rows_read": 10, "rows_accepted": 8,
             "rejected_by_reason": {"unit_unknown": 2}},
            {"format": "lab", "rows_read": 5, "rows_accepted": 5, "rejected_by_reason": {}},
            {"format": "par_inpatient", "rows_read": 3, "rows_accepted": 3}
        ]});
        let rows = report_rows(&report);
        assert_eq!(rows["lab"].read, 15);
        assert_eq!(rows["lab"].accepted, 13);
        assert_eq!(rows["lab"].rejected["unit_unknown"], 2);
        assert_eq!(rows["par_inpatient"].read, 3);
    }
}

/// One `halsohub catalogue export`: where the hub, the descriptions and
/// the configuration are.
#[derive(Debug, Clone)]
pub struct LocalCatalogue {
    /// The store directory.
    pub store: PathBuf,
    /// The hub key file.
    pub key: PathBuf,
    /// Snapshot to describe; the current one when `None`.
    pub snapshot: Option<String>,
    /// Extra code list files for the feasibility service.
    pub code_lists: Vec<PathBuf>,
    /// The descriptions directory.
    pub dir: PathBuf,
    /// The catalogue configuration file.
    pub config: PathBuf,
    /// A thresholds file; the defaults when `None`.
    pub thresholds: Option<PathBuf>,
}

/// The whole of `halsohub catalogue export`: read the configuration and
/// thresholds, open the hub (key checked against the store), build the
/// feasibility service over the snapshot and [`build`] the catalogue.
///
/// # Errors
/// [`CatalogueServiceError`] naming the file, store or query that failed.
pub async fn build_local(
    db: &Db,
    request: &LocalCatalogue,
    now: DateTime<Utc>,
) -> Result<Built, CatalogueServiceError> {
    let hub = Hub::open(&request.store, &request.key)?;
    let service = hub.feasibility(request.snapshot.as_deref(), &request.code_lists)?;
    build_for_service(&service, db, request, now).await
}

/// The catalogue over the snapshot a running feasibility service serves
/// (`halsohub serve`): the configuration and thresholds read, the hub
/// opened for its noise secret (key checked against the store), and
/// [`build`] with that service.
///
/// # Errors
/// [`CatalogueServiceError`] naming the file, store or query that failed.
pub async fn build_for_service(
    service: &Feasibility,
    db: &Db,
    request: &LocalCatalogue,
    now: DateTime<Utc>,
) -> Result<Built, CatalogueServiceError> {
    let config = CatalogueConfig::read(&request.config)?;
    let thresholds = match &request.thresholds {
        Some(p) => Thresholds::read(p)?,
        None => Thresholds::default(),
    };
    let hub = Hub::open(&request.store, &request.key)?;
    let snapshot = hub.snapshot(Some(service.snapshot()))?;
    build(
        service,
        db,
        &hub.noise_secret(),
        &snapshot,
        config,
        &request.dir,
        &thresholds,
        now,
    )
    .await
}

/// How a catalogue response is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// halsohub JSON (`application/json`).
    Json,
    /// HealthDCAT-AP RDF.
    Rdf(RdfSyntax),
}

/// The representation an `Accept` header asks for: Turtle for
/// `text/turtle`, JSON-LD for `application/ld+json`, otherwise JSON; of
/// several, the one with the highest `q` (the first on a tie).
#[must_use]
pub fn negotiate(accept: Option<&str>) -> Representation {
    let Some(accept) = accept else {
        return Representation::Json;
    };
    let mut best: Option<(f32, Representation)> = None;
    for part in accept.split(',') {
        let mut params = part.split(';');
        let media = params
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let q = params
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let r = match media.as_str() {
            "text/turtle" => Representation::Rdf(RdfSyntax::Turtle),
            "application/ld+json" => Representation::Rdf(RdfSyntax::JsonLd),
            "application/json" | "*/*" | "application/*" => Representation::Json,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, r));
        }
    }
    best.map_or(Representation::Json, |(_, r)| r)
}

/// One page of the catalogue as halsohub JSON.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CataloguePage {
    /// The catalogue's URI.
    pub catalogue: String,
    /// Title.
    pub title: halsohub_catalogue::Bilingual,
    /// Which page, of how many.
    pub page: halsohub_catalogue::PageInfo,
    /// The next page's URL, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The previous page's URL, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// The published datasets on this page, with their URIs.
    pub datasets: Vec<DatasetView>,
}

/// One published dataset as halsohub JSON.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DatasetView {
    /// The dataset's stable URI.
    pub uri: String,
    /// The holder's description, its approval, the computed facts and the
    /// public quality metrics.
    #[serde(flatten)]
    pub entry: Entry,
}

fn view(c: &Catalogue, e: &Entry) -> DatasetView {
    DatasetView {
        uri: c.config().dataset_uri(e.id()),
        entry: e.clone(),
    }
}

/// Page `page` of the catalogue as JSON.
///
/// # Errors
/// [`CatalogueError::NoSuchPage`].
pub fn page_json(c: &Catalogue, page: usize) -> Result<CataloguePage, CatalogueError> {
    let (entries, info) = c.page(page)?;
    let config = c.config();
    Ok(CataloguePage {
        catalogue: config.catalogue_uri(),
        title: config.title.clone(),
        next: (info.page < info.pages).then(|| config.page_uri(info.page + 1)),
        previous: (info.page > 1).then(|| config.page_uri(info.page - 1)),
        page: info,
        datasets: entries.iter().map(|e| view(c, e)).collect(),
    })
}

/// One published dataset as JSON, `None` when it is not published.
#[must_use]
pub fn dataset_json(c: &Catalogue, id: &str) -> Option<DatasetView> {
    c.entry(id).map(|e| view(c, e))
}

/// Whether `principal` may see the defect counts behind the quality
/// metrics: the data stewards.
#[must_use]
pub fn may_see_findings(principal: &Principal) -> bool {
    principal.has_role(Role::DataSteward)
}

/// Why detailed quality is not shown.
#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    /// The caller is not a data steward.
    #[error("detailed quality findings are for data stewards")]
    Forbidden,
    /// No such published dataset.
    #[error("no published dataset {0}")]
    NotFound(String),
}

/// A dataset's quality reports with their defect counts, for a caller who
/// may see them.
///
/// # Errors
/// [`FindingsError`].
pub fn findings<'a>(
    built: &'a Built,
    id: &str,
    principal: &Principal,
) -> Result<&'a [QualityReport], FindingsError> {
    if !may_see_findings(principal) {
        return Err(FindingsError::Forbidden);
    }
    built
        .detailed
        .get(id)
        .map(Vec::as_slice)
        .ok_or_else(|| FindingsError::NotFound(id.to_string()))
}

/// Page `page` of the catalogue as HealthDCAT-AP in `syntax`.
///
/// # Errors
/// [`RdfError`]: no such page, or a value that makes no IRI.
pub fn page_rdf(c: &Catalogue, page: usize, syntax: RdfSyntax) -> Result<Vec<u8>, RdfError> {
    serialise(&page_triples(c, page)?, syntax)
}

/// One published dataset as HealthDCAT-AP in `syntax`; `None` when it is
/// not published.
///
/// # Errors
/// [`RdfError`] for a value that makes no IRI.
pub fn dataset_rdf(
    c: &Catalogue,
    id: &str,
    syntax: RdfSyntax,
) -> Result<Option<Vec<u8>>, RdfError> {
    dataset_triples(c, id)?
        .map(|t| serialise(&t, syntax))
        .transpose()
}

/// The demonstration descriptions of the synthetic sources (one per
/// source `halsohub synth` writes), as file name and text.
pub const DEMO_DESCRIPTIONS: [(&str, &str); 8] = [
    (
        "population.yaml",
        include_str!("../data/demo-catalogue/population.yaml"),
    ),
    (
        "par-inpatient.yaml",
        include_str!("../data/demo-catalogue/par-inpatient.yaml"),
    ),
    (
        "par-outpatient.yaml",
        include_str!("../data/demo-catalogue/par-outpatient.yaml"),
    ),
    (
        "prescribed-drugs.yaml",
        include_str!("../data/demo-catalogue/prescribed-drugs.yaml"),
    ),
    (
        "cause-of-death.yaml",
        include_str!("../data/demo-catalogue/cause-of-death.yaml"),
    ),
    (
        "primary-care.yaml",
        include_str!("../data/demo-catalogue/primary-care.yaml"),
    ),
    (
        "administered-drugs.yaml",
        include_str!("../data/demo-catalogue/administered-drugs.yaml"),
    ),
    ("lab.yaml", include_str!("../data/demo-catalogue/lab.yaml")),
];

/// The demo's catalogue: the demonstration descriptions written into
/// `dir` (a file already there is kept), each approved by `by` unless an
/// approval covers it already, and a configuration for `base_url` written
/// to `config`. Returns how many descriptions are published.
///
/// # Errors
/// A file cannot be written or a description is invalid.
pub fn write_demo(
    dir: &Path,
    config: &Path,
    base_url: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<usize, CatalogueServiceError> {
    let write = |file: &Path, text: &str| {
        std::fs::write(file, text).map_err(|source| CatalogueServiceError::Write {
            file: file.to_path_buf(),
            source,
        })
    };
    std::fs::create_dir_all(dir).map_err(|source| CatalogueServiceError::Dir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut published = 0;
    for (name, text) in DEMO_DESCRIPTIONS {
        let file = dir.join(name);
        if !file.exists() {
            write(&file, text)?;
        }
        if !matches!(read_description(&file)?.state, ApprovalState::Approved(_)) {
            approve(&file, by, now)?;
        }
        published += 1;
    }
    let text = format!(
        "# The demo's catalogue configuration (docs/catalogue.md).\n\
         base_url: {base_url}\n\
         title:\n  sv: Halsohubbens datamängdskatalog (demo)\n  en: The health-data hub's dataset catalogue (demo)\n\
         description:\n  sv: Syntetiska demonstrationsdata, inga verkliga personer.\n  en: Synthetic demonstration data, no real persons.\n\
         hdab:\n  name: halsohub demo (health data access body)\n  contact:\n    name: Demo\n    url: {base_url}/api/v1/\n"
    );
    write(config, &text)?;
    Ok(published)
}
