//! `halsohub count`: answer one feasibility query over a store snapshot.
//!
//! Without `--exact` every number passes through the disclosure crate's
//! default feasibility profile; `--exact` is for the local data steward.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use chrono::Datelike;
use clap::Args;
use halsohub_cohort::codeset::age_band_label;
use halsohub_cohort::reference::periods;
use halsohub_cohort::validate::age_bands_of;
use halsohub_cohort::{
    CodeLists, Dimension, Engine, Exclusion, Output, OutputResult, Query, QueryResult, parse_json,
    parse_yaml,
};
use halsohub_disclosure::{Profile, ProtectedValue, Protector, Release};
use halsohub_identity::Pseudonymiser;
use halsohub_store::{Snapshot, SnapshotId, Store};
use serde_json::{Value, json};

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
}

const EXACT_NOTICE: &str = "EXACT numbers, unprotected: for the local data steward only; do not pass them on to anyone without a permit";

pub fn run(args: CountArgs, home: &Path) -> Result<()> {
    let text = std::fs::read_to_string(&args.query)
        .with_context(|| format!("reading query file {}", args.query.display()))?;
    let lists = CodeLists::new();
    let query = parse_query(&args.query, &text, &lists)
        .with_context(|| format!("query file {}", args.query.display()))?;

    // The key is needed for protected output (noise is keyed by it); load
    // it before the (possibly long) engine build so a missing key fails fast.
    let noise_secret = if args.exact {
        None
    } else {
        Some(noise_secret(&args.key.path(home))?)
    };

    let store = Store::open(&args.store)
        .with_context(|| format!("opening store {}", args.store.display()))?;
    let id = args.snapshot.clone().map(SnapshotId);
    let snapshot = store.snapshot(id.as_ref()).context("opening snapshot")?;
    let engine = Engine::from_snapshot(&snapshot)
        .with_context(|| format!("reading snapshot {}", snapshot.id()))?;
    let result = engine
        .run(&query, &lists, &Exclusion::default())
        .with_context(|| format!("query file {}", args.query.display()))?;

    let out = match &noise_secret {
        None => exact_json(&result),
        Some(secret) => protected_json(&result, &query, &engine, &snapshot, secret)?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", render_text(&out));
    }
    Ok(())
}

/// JSON or YAML by extension, else by content.
fn parse_query(path: &Path, text: &str, lists: &CodeLists) -> Result<Query> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let q = match ext.as_deref() {
        Some("json") => parse_json(text, lists),
        Some("yaml" | "yml") => parse_yaml(text, lists),
        _ if text.trim_start().starts_with('{') => parse_json(text, lists),
        _ => parse_yaml(text, lists),
    };
    Ok(q?)
}

/// A secret for deterministic noise, derived from the hub key (a keyed
/// hash in its own domain; the key itself is never used directly).
fn noise_secret(key_path: &Path) -> Result<Vec<u8>> {
    let key = crate::cmd::keys::load(key_path)?;
    let p = Pseudonymiser::new(&key).source_scoped("halsohub/disclosure-noise", "v1");
    Ok(p.to_hex_bytes().to_vec())
}

fn exact_json(r: &QueryResult) -> Value {
    json!({
        "snapshot": r.snapshot,
        "query_hash": r.query_hash,
        "protection": { "profile": "exact", "notice": EXACT_NOTICE },
        "result": r.output,
    })
}

/// Every value a dimension can take, in display order (so that a stratum
/// is listed whether or not anyone is in it: an absent key would tell 0
/// from 1..4).
fn dimension_domain(
    d: Dimension,
    output: &Output,
    engine: &Engine,
    snapshot: &Snapshot,
    seen: &[String],
) -> Vec<String> {
    let mut v: Vec<String> = match d {
        Dimension::Sex => vec!["F".into(), "M".into()],
        Dimension::AgeBand => {
            let bands = age_bands_of(output);
            let mut labels: Vec<String> = Vec::new();
            for lo in std::iter::once(0).chain(bands.iter().copied()) {
                let l = age_band_label(lo, &bands);
                if !labels.contains(&l) {
                    labels.push(l);
                }
            }
            labels
        }
        Dimension::Region => engine.region_names().to_vec(),
        Dimension::Provider => engine.provider_names().to_vec(),
        Dimension::CalendarYear => match snapshot.manifest().date_range {
            Some(r) => (r.first.year()..=r.last.year())
                .map(|y| y.to_string())
                .collect(),
            None => Vec::new(),
        },
    };
    v.push("unknown".into());
    // Anything the engine produced beyond the known domain (defensive).
    for s in seen {
        if !v.contains(s) {
            v.push(s.clone());
        }
    }
    v
}

fn pv(v: &ProtectedValue) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn protected_json(
    r: &QueryResult,
    q: &Query,
    engine: &Engine,
    snapshot: &Snapshot,
    secret: &[u8],
) -> Result<Value> {
    let profile = Profile::feasibility();
    let release = Release {
        secret,
        query_hash: &r.query_hash,
        snapshot_id: &r.snapshot,
    };
    let p = Protector::new(&profile, &release).context("preparing disclosure control")?;
    let result = match &r.output {
        OutputResult::Count { count } => json!({ "type": "count", "count": pv(&p.count(*count)) }),
        OutputResult::Funnel { steps } => {
            let counts: Vec<u64> = steps.iter().map(|s| s.count).collect();
            let shown = p.funnel(&counts);
            let steps: Vec<Value> = steps
                .iter()
                .zip(&shown)
                .map(|(s, v)| json!({ "label": s.label, "kind": s.kind, "count": pv(v) }))
                .collect();
            json!({ "type": "funnel", "steps": steps })
        }
        OutputResult::Proportion {
            numerator,
            denominator,
        } => {
            let pp = p
                .proportion(*numerator, *denominator)
                .context("protecting the proportion")?;
            json!({
                "type": "proportion",
                "numerator": pv(&pp.numerator),
                "denominator": pv(&pp.denominator),
                "percent": pp.percent_display,
            })
        }
        OutputResult::Strata {
            dimensions, cells, ..
        } => {
            let seen = |i: usize| -> Vec<String> {
                cells.iter().filter_map(|c| c.key.get(i).cloned()).collect()
            };
            let counts: BTreeMap<&[String], u64> =
                cells.iter().map(|c| (c.key.as_slice(), c.count)).collect();
            match dimensions.as_slice() {
                [d] => {
                    let dom = dimension_domain(*d, &q.output, engine, snapshot, &seen(0));
                    let values: Vec<u64> = dom
                        .iter()
                        .map(|k| counts.get(std::slice::from_ref(k)).copied().unwrap_or(0))
                        .collect();
                    let s = p.strata(&values).context("protecting the strata")?;
                    let cells: Vec<Value> = dom
                        .iter()
                        .zip(&s.cells)
                        .map(|(k, v)| json!({ "key": [k], "count": pv(v) }))
                        .collect();
                    json!({ "type": "strata", "dimensions": dimensions, "cells": cells, "total": pv(&s.total) })
                }
                [a, b] => {
                    let rows = dimension_domain(*a, &q.output, engine, snapshot, &seen(0));
                    let cols = dimension_domain(*b, &q.output, engine, snapshot, &seen(1));
                    let grid: Vec<Vec<u64>> = rows
                        .iter()
                        .map(|r| {
                            cols.iter()
                                .map(|c| {
                                    let key = [r.clone(), c.clone()];
                                    counts.get(&key[..]).copied().unwrap_or(0)
                                })
                                .collect()
                        })
                        .collect();
                    let t = p.table(&grid).context("protecting the table")?;
                    let mut out_cells = Vec::new();
                    for (ri, r) in rows.iter().enumerate() {
                        for (ci, c) in cols.iter().enumerate() {
                            if let Some(v) = t.cells.get(ri).and_then(|row| row.get(ci)) {
                                out_cells.push(json!({ "key": [r, c], "count": pv(v) }));
                            }
                        }
                    }
                    let margin = |keys: &[String], vals: &[ProtectedValue]| -> Vec<Value> {
                        keys.iter()
                            .zip(vals)
                            .map(|(k, v)| json!({ "key": k, "count": pv(v) }))
                            .collect()
                    };
                    json!({
                        "type": "strata",
                        "dimensions": dimensions,
                        "cells": out_cells,
                        "row_totals": margin(&rows, &t.row_totals),
                        "column_totals": margin(&cols, &t.column_totals),
                        "total": pv(&t.total),
                    })
                }
                _ => bail!("$.output.by: one or two dimensions are supported"),
            }
        }
        OutputResult::TimeSeries {
            interval,
            by,
            points,
            ..
        } => {
            let Output::TimeSeries { from, to, .. } = &q.output else {
                bail!("internal: time-series result for another output");
            };
            let period_list = periods(*from, *to, *interval);
            match by {
                None => {
                    let counts: BTreeMap<&str, u64> = points
                        .iter()
                        .map(|s| (s.period.as_str(), s.count))
                        .collect();
                    let values: Vec<u64> = period_list
                        .iter()
                        .map(|k| counts.get(k.as_str()).copied().unwrap_or(0))
                        .collect();
                    let s = p
                        .time_series(&values)
                        .context("protecting the time series")?;
                    let pts: Vec<Value> = period_list
                        .iter()
                        .zip(&s.cells)
                        .map(|(k, v)| json!({ "period": k, "count": pv(v) }))
                        .collect();
                    json!({ "type": "time_series", "interval": interval, "points": pts, "total": pv(&s.total) })
                }
                Some(d) => {
                    let seen: Vec<String> = points.iter().filter_map(|s| s.key.clone()).collect();
                    let keys = dimension_domain(*d, &q.output, engine, snapshot, &seen);
                    let counts: BTreeMap<(&str, &str), u64> = points
                        .iter()
                        .map(|s| {
                            (
                                (s.period.as_str(), s.key.as_deref().unwrap_or("unknown")),
                                s.count,
                            )
                        })
                        .collect();
                    let grid: Vec<Vec<u64>> = period_list
                        .iter()
                        .map(|per| {
                            keys.iter()
                                .map(|k| {
                                    counts
                                        .get(&(per.as_str(), k.as_str()))
                                        .copied()
                                        .unwrap_or(0)
                                })
                                .collect()
                        })
                        .collect();
                    let t = p.table(&grid).context("protecting the time series")?;
                    let mut pts = Vec::new();
                    for (ri, per) in period_list.iter().enumerate() {
                        for (ci, k) in keys.iter().enumerate() {
                            if let Some(v) = t.cells.get(ri).and_then(|row| row.get(ci)) {
                                pts.push(json!({ "period": per, "key": k, "count": pv(v) }));
                            }
                        }
                    }
                    let period_totals: Vec<Value> = period_list
                        .iter()
                        .zip(&t.row_totals)
                        .map(|(k, v)| json!({ "period": k, "count": pv(v) }))
                        .collect();
                    json!({
                        "type": "time_series",
                        "interval": interval,
                        "by": d,
                        "points": pts,
                        "period_totals": period_totals,
                        "total": pv(&t.total),
                    })
                }
            }
        }
    };
    Ok(json!({
        "snapshot": r.snapshot,
        "query_hash": r.query_hash,
        "protection": {
            "profile": profile.name(),
            "notice": "counts below 5 are shown as \"<5\" (0 included), others rounded to the nearest 5; suppressed strata read \"suppressed\"",
        },
        "result": result,
    }))
}

/// A number for the text output: exact numbers as they are, protected ones
/// by their display and precision.
fn num(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::Object(o) => {
            let display = o.get("display").and_then(Value::as_str).unwrap_or("?");
            let precision = o.get("precision").and_then(Value::as_str).unwrap_or("");
            match precision {
                "rounded" | "noisy" => {
                    let to = o.get("rounded_to").and_then(Value::as_u64);
                    match to {
                        Some(t) => format!("{display}  ({precision} to {t})"),
                        None => format!("{display}  ({precision})"),
                    }
                }
                "" | "suppressed" => display.to_string(),
                other => format!("{display}  ({other})"),
            }
        }
        other => other.to_string(),
    }
}

fn key_text(v: &Value) -> String {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(" × "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render_text(out: &Value) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let prot = out.get("protection").cloned().unwrap_or(Value::Null);
    let _ = writeln!(s, "snapshot    {}", str_of(out, "snapshot"));
    let _ = writeln!(s, "query hash  {}", str_of(out, "query_hash"));
    let _ = writeln!(s, "protection  {}", str_of(&prot, "profile"));
    let _ = writeln!(s, "            {}", str_of(&prot, "notice"));
    let r = out.get("result").cloned().unwrap_or(Value::Null);
    let empty = Vec::new();
    let arr = |k: &str| r.get(k).and_then(Value::as_array).unwrap_or(&empty).clone();
    match r.get("type").and_then(Value::as_str).unwrap_or("") {
        "count" => {
            let _ = writeln!(s, "patients    {}", num(&r["count"]));
        }
        "funnel" => {
            let _ = writeln!(s, "funnel");
            for step in arr("steps") {
                let _ = writeln!(
                    s,
                    "  {:<8} {:<40} {}",
                    str_of(&step, "kind"),
                    str_of(&step, "label"),
                    num(&step["count"])
                );
            }
        }
        "proportion" => {
            let _ = writeln!(s, "numerator   {}", num(&r["numerator"]));
            let _ = writeln!(s, "denominator {}", num(&r["denominator"]));
            if let Some(p) = r.get("percent").and_then(Value::as_str) {
                let _ = writeln!(s, "percent     {p}");
            } else {
                let n = r["numerator"].as_u64().unwrap_or(0);
                let d = r["denominator"].as_u64().unwrap_or(0);
                if d > 0 {
                    let _ = writeln!(s, "percent     {:.1}%", n as f64 * 100.0 / d as f64);
                }
            }
        }
        "strata" => {
            let dims = r.get("dimensions").map(key_text).unwrap_or_default();
            let _ = writeln!(s, "strata by {dims}");
            for c in arr("cells") {
                let _ = writeln!(s, "  {:<40} {}", key_text(&c["key"]), num(&c["count"]));
            }
            for (name, k) in [
                ("row total", "row_totals"),
                ("column total", "column_totals"),
            ] {
                for c in arr(k) {
                    let _ = writeln!(
                        s,
                        "  {:<40} {}",
                        format!("{name} {}", key_text(&c["key"])),
                        num(&c["count"])
                    );
                }
            }
            let _ = writeln!(s, "  {:<40} {}", "total", num(&r["total"]));
        }
        "time_series" => {
            let _ = writeln!(s, "new patients per {}", str_of(&r, "interval"));
            for p in arr("points") {
                let key = p
                    .get("key")
                    .map(|k| format!(" {}", key_text(k)))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "  {:<40} {}",
                    format!("{}{key}", str_of(&p, "period")),
                    num(&p["count"])
                );
            }
            let _ = writeln!(s, "  {:<40} {}", "total", num(&r["total"]));
        }
        _ => {
            let _ = writeln!(
                s,
                "{}",
                serde_json::to_string_pretty(&r).unwrap_or_default()
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_by_extension_and_content() {
        let lists = CodeLists::new();
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
