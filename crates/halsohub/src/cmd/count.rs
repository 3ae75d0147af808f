//! `halsohub count`: answer one feasibility query over a store snapshot.
//!
//! Without `--exact` every number passes through the disclosure crate's
//! default feasibility profile, by the same code as the HTTP API
//! (`halsohub_feasibility::protect`); `--exact` is for the local data
//! steward. Every run — answered or refused — is appended to the state
//! database's query log (channel `cli`, the OS user as who) before anything
//! is printed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Args;
use halsohub_cohort::{Engine, Exclusion, parse_value};
use halsohub_disclosure::Profile;
use halsohub_feasibility::{
    KeyGrid, Number, NumberPrecision, ProtectedOutput, output_kind, protect, protections,
};
use halsohub_state::Db;
use halsohub_state::query_log::{NewQueryLogEntry, QueryOutcome};
use halsohub_store::{SnapshotId, Store};
use serde_json::{Value, json};

use crate::cmd::keys::KeyArg;
use crate::cmd::staff::{DatabaseArgs, database_url};

#[derive(Debug, Args)]
pub struct CountArgs {
    /// Store directory.
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    #[command(flatten)]
    pub key: KeyArg,
    /// Print exact numbers, unprotected. For the local data steward only:
    /// never pass them on to anyone without a permit.
    #[arg(long)]
    pub exact: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Snapshot to count in (e.g. s000002); defaults to the current one.
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,
    /// The query: JSON (`.json`) or YAML (`.yaml`, `.yml`); other names are
    /// read as JSON when they start with `{`, else as YAML.
    #[arg(value_name = "QUERY_FILE")]
    pub query: PathBuf,
    /// The state database whose query log records the run.
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub lists: crate::cmd::lists::CodeListArgs,
}

const EXACT_NOTICE: &str = "EXACT numbers, unprotected: for the local data steward only; do not pass them on to anyone without a permit";

const PROTECTED_NOTICE: &str = "counts below 5 are shown as \"<5\" (0 included), others rounded to the nearest 5; suppressed strata read \"suppressed\"";

pub fn run(args: CountArgs, home: &Path) -> Result<()> {
    let rt = crate::runtime()?;
    let url = database_url(&args.db, home)?;
    let db = rt
        .block_on(Db::connect(&url))
        .context("cannot open the state database (its query log records every count)")?;
    let profile = if args.exact {
        Profile::exact()
    } else {
        Profile::feasibility()
    };
    let mut log = NewQueryLogEntry {
        at: Utc::now(),
        user_id: os_user(),
        token_id: None,
        channel: "cli".into(),
        query_hash: None,
        snapshot: args.snapshot.clone(),
        output_kind: None,
        profile: Some(profile.name().to_string()),
        protections: Value::Null,
        exact: args.exact,
        outcome: QueryOutcome::Ok,
    };
    match answer(&args, home, &profile, &mut log) {
        Ok(text) => {
            rt.block_on(db.append_query_log(&log))
                .context("cannot write the query log; no numbers are printed")?;
            print!("{text}");
            Ok(())
        }
        Err(e) => {
            log.outcome = QueryOutcome::Refused {
                reason: format!("{e:#}"),
            };
            if let Err(le) = rt.block_on(db.append_query_log(&log)) {
                return Err(e.context(format!("and the query log could not be written: {le}")));
            }
            Err(e)
        }
    }
}

/// Who runs the command: the OS login name as `os:<name>` (from `USER`,
/// `LOGNAME` or `USERNAME`; else, on Unix, the process's user id looked up
/// in `/etc/passwd`, or `os:uid<n>`).
fn os_user() -> String {
    let from_env = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()));
    let name = from_env.or_else(unix_user);
    format!("os:{}", name.as_deref().unwrap_or("unknown"))
}

#[cfg(unix)]
fn unix_user() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    });
    Some(name.unwrap_or_else(|| format!("uid{uid}")))
}

#[cfg(not(unix))]
fn unix_user() -> Option<String> {
    None
}

/// Evaluates and protects the query; fills `log` with what it learns and
/// returns the text to print.
fn answer(
    args: &CountArgs,
    home: &Path,
    profile: &Profile,
    log: &mut NewQueryLogEntry,
) -> Result<String> {
    let text = std::fs::read_to_string(&args.query)
        .with_context(|| format!("reading query file {}", args.query.display()))?;
    // Fail fast on a malformed file; the meaning (code systems the snapshot
    // holds, named lists) is checked once the engine is built.
    let value = parse_syntax(&args.query, &text)
        .with_context(|| format!("query file {}", args.query.display()))?;

    // The key is needed for protected output (noise is keyed by it); load
    // it before the (possibly long) engine build so a missing key fails fast.
    let noise_secret = if args.exact {
        None
    } else {
        let key = crate::cmd::keys::load(&args.key.path(home))?;
        Some(halsohub_feasibility::noise_secret(&key))
    };

    let store = Store::open(&args.store)
        .with_context(|| format!("opening store {}", args.store.display()))?;
    let id = args.snapshot.clone().map(SnapshotId);
    let snapshot = store.snapshot(id.as_ref()).context("opening snapshot")?;
    log.snapshot = Some(snapshot.id().to_string());
    let mut engine = Engine::from_snapshot(&snapshot)
        .with_context(|| format!("reading snapshot {}", snapshot.id()))?;
    // Person tags under the noise secret, as the server gives them: noise is
    // keyed by the persons behind each number, so both release the same.
    if let Some(secret) = &noise_secret {
        let tagger = halsohub_disclosure::PersonTagger::new(secret)
            .context("the noise secret cannot key person tags")?;
        engine.set_person_tags(&tagger);
    }
    let lists = crate::cmd::lists::load(&args.lists, &engine)?;
    let query = parse_value(&value, &lists)
        .with_context(|| format!("query file {}", args.query.display()))?;
    log.query_hash = Some(halsohub_cohort::query_hash(&query));
    log.output_kind = Some(output_kind(&query.output).to_string());
    let result = engine
        .run(&query, &lists, &Exclusion::default())
        .with_context(|| format!("query file {}", args.query.display()))?;

    let (output, notice) = match &noise_secret {
        None => (ProtectedOutput::exact(&result.output), EXACT_NOTICE),
        Some(secret) => {
            let dates = snapshot.manifest().date_range.map(|r| (r.first, r.last));
            let grid = KeyGrid::new(&engine, dates);
            let out = protect(&query, &result, &grid, profile, secret)
                .with_context(|| format!("query file {}", args.query.display()))?;
            (out, PROTECTED_NOTICE)
        }
    };
    log.protections = protections(profile, &output);
    let protection = json!({ "profile": profile.name(), "notice": notice });
    if args.json {
        // --exact --json: the engine's own result (non-empty strata only)
        let result_json = match &noise_secret {
            None => serde_json::to_value(&result.output)?,
            Some(_) => serde_json::to_value(&output)?,
        };
        let out = json!({
            "snapshot": result.snapshot,
            "query_hash": result.query_hash,
            "protection": protection,
            "result": result_json,
        });
        Ok(format!("{}\n", serde_json::to_string_pretty(&out)?))
    } else {
        Ok(render_text(
            &result.snapshot,
            &result.query_hash,
            profile.name(),
            notice,
            &output,
        ))
    }
}

/// The query file as a JSON value: read as JSON (by extension `.json`, or
/// content starting with `{`) or as YAML. Its meaning (code systems, named
/// lists) is checked later by [`halsohub_cohort::parse_value`], once the
/// engine is built; the text is parsed only here.
pub(crate) fn parse_syntax(path: &Path, text: &str) -> Result<Value> {
    if is_json(path, text) {
        serde_json::from_str(text).context("not valid JSON")
    } else {
        serde_yaml_ng::from_str(text).context("not valid YAML")
    }
}

fn is_json(path: &Path, text: &str) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("json") => true,
        Some("yaml" | "yml") => false,
        _ => text.trim_start().starts_with('{'),
    }
}

/// JSON or YAML by extension, else by content, checked for meaning.
#[cfg(test)]
fn parse_query(
    path: &Path,
    text: &str,
    lists: &halsohub_cohort::CodeLists,
) -> Result<halsohub_cohort::Query> {
    Ok(parse_value(&parse_syntax(path, text)?, lists)?)
}

/// A number for the text output: exact numbers as they are, protected ones
/// by their display and precision.
fn num(n: &Number) -> String {
    match (n.precision, n.rounded_to) {
        (NumberPrecision::Exact | NumberPrecision::Suppressed, _) => n.display.clone(),
        (NumberPrecision::Rounded, Some(t)) => format!("{}  (rounded to {t})", n.display),
        (NumberPrecision::Noisy, Some(t)) => format!("{}  (noisy, rounded to {t})", n.display),
        (NumberPrecision::Rounded, None) => format!("{}  (rounded)", n.display),
        (NumberPrecision::Noisy, None) => format!("{}  (noisy)", n.display),
    }
}

fn render_text(
    snapshot: &str,
    query_hash: &str,
    profile: &str,
    notice: &str,
    out: &ProtectedOutput,
) -> String {
    use std::fmt::Write;
    // a header, then one labelled number per line
    let mut lines: Vec<(String, &Number)> = Vec::new();
    let header = match out {
        ProtectedOutput::Count { count } => format!("patients    {}", num(count)),
        ProtectedOutput::Funnel { steps } => {
            for st in steps {
                lines.push((format!("{:<8} {:<40}", st.kind, st.label), &st.count));
            }
            "funnel".to_string()
        }
        ProtectedOutput::Proportion {
            numerator,
            denominator,
            percent_display,
            ..
        } => format!(
            "numerator   {}\ndenominator {}\npercent     {percent_display}",
            num(numerator),
            num(denominator)
        ),
        ProtectedOutput::Strata {
            dimensions,
            cells,
            margins,
            total,
        } => {
            lines.extend(cells.iter().map(|c| (c.key.join(" × "), &c.count)));
            lines.extend(
                margins
                    .iter()
                    .map(|m| (format!("total {} {}", m.dimension, m.key), &m.count)),
            );
            lines.push(("total".to_string(), total));
            format!("strata by {}", dimensions.join(" × "))
        }
        ProtectedOutput::TimeSeries {
            interval,
            points,
            margins,
            total,
            ..
        } => {
            lines.extend(points.iter().map(|p| {
                let label = match &p.key {
                    Some(k) => format!("{} {k}", p.period),
                    None => p.period.clone(),
                };
                (label, &p.count)
            }));
            lines.extend(
                margins
                    .iter()
                    .map(|m| (format!("total {} {}", m.dimension, m.key), &m.count)),
            );
            lines.push(("total".to_string(), total));
            format!("new patients per {interval}")
        }
    };
    let mut s = String::new();
    let _ = writeln!(s, "snapshot    {snapshot}");
    let _ = writeln!(s, "query hash  {query_hash}");
    let _ = writeln!(s, "protection  {profile}");
    let _ = writeln!(s, "            {notice}");
    let _ = writeln!(s, "{header}");
    for (label, n) in lines {
        let _ = writeln!(s, "  {label:<40} {}", num(n));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_os_user_is_found_without_the_environment() {
        let name = unix_user().unwrap();
        assert!(!name.is_empty() && !name.contains(':'), "{name}");
        assert!(os_user().starts_with("os:"));
    }

    #[test]
    fn yaml_and_json_by_extension_and_content() {
        let lists = halsohub_cohort::CodeLists::new();
        let json = r#"{"version": 1, "output": {"type": "count"}}"#;
        let yaml = "version: 1\noutput:\n  type: count\n";
        let a = parse_query(Path::new("q.json"), json, &lists).unwrap();
        let b = parse_query(Path::new("q.yaml"), yaml, &lists).unwrap();
        let c = parse_query(Path::new("q.txt"), json, &lists).unwrap();
        let d = parse_query(Path::new("q"), yaml, &lists).unwrap();
        assert_eq!(a, b);
        assert_eq!(c, d);
        let err = parse_query(
            Path::new("q.json"),
            r#"{"version": 1, "output": {"type": "cnt"}}"#,
            &lists,
        )
        .unwrap_err();
        assert!(err.to_string().contains("$.output"), "{err}");
    }
}
