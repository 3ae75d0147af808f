//! `halsohub count`: answer one feasibility query over a store snapshot.
//!
//! This only parses arguments, calls the feasibility service
//! ([`halsohub_app::feasibility::count_local`], the same service as the
//! HTTP API: the hub opened with the key checked against the store, the
//! query log, disclosure control) and renders the answer. Without
//! `--exact` every number is protected by the default feasibility
//! profile; `--exact` is for the local data steward. Every run — answered
//! or refused — is in the state database's query log (channel `cli`, the
//! OS user as who) before anything is printed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::Utc;
use clap::Args;
use halsohub_app::feasibility::{
    Answered, LocalCount, Number, NumberPrecision, ProtectedOutput, Requester, count_local,
};
use serde_json::json;

use crate::cmd::db::DatabaseArgs;
use crate::cmd::keys::KeyArg;

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
    let db = rt
        .block_on(crate::cmd::db::open(&args.db, home))
        .context("the query log in the state database records every count")?;
    let request = LocalCount {
        store: args.store.clone(),
        key: args.key.path(home),
        snapshot: args.snapshot.clone(),
        code_lists: args.lists.files.clone(),
        query: args.query.clone(),
        who: Requester::Cli {
            user_id: os_user(),
            exact: args.exact,
        },
    };
    let answered = rt.block_on(count_local(&db, request, Utc::now()))?;
    print!("{}", render(&answered, args.json)?);
    Ok(())
}

/// The answer as printed: text, or JSON with `--json` (for `--exact
/// --json` the engine's own result, non-empty strata only).
fn render(answered: &Answered, as_json: bool) -> Result<String> {
    let a = &answered.answer;
    let notice = if answered.exact.is_some() {
        EXACT_NOTICE
    } else {
        PROTECTED_NOTICE
    };
    if as_json {
        let result = match &answered.exact {
            Some(exact) => serde_json::to_value(exact)?,
            None => serde_json::to_value(&a.output)?,
        };
        let out = json!({
            "snapshot": a.snapshot,
            "query_hash": a.query_hash,
            "protection": { "profile": a.profile.name, "notice": notice },
            "result": result,
            "warnings": a.warnings,
        });
        Ok(format!("{}\n", serde_json::to_string_pretty(&out)?))
    } else {
        let mut text = render_text(
            &a.snapshot,
            &a.query_hash,
            &a.profile.name,
            notice,
            &a.output,
        );
        for w in &a.warnings {
            text.push_str(&format!("warning: {w}\n"));
        }
        Ok(text)
    }
}

/// Who runs the command: the OS login name as `os:<name>` (from `USER`,
/// `LOGNAME` or `USERNAME`; else, on Unix, the process's user id looked up
/// in `/etc/passwd`, or `os:uid<n>`).
pub(crate) fn os_user() -> String {
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
}
