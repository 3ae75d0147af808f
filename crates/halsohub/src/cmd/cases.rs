//! `halsohub cases …`: case work for operators, straight from the state
//! database (no server needed).
//!
//! * `queue`: the work queue (cases with a running clock) ordered by
//!   deadline, with working days used and left and whether overdue.
//! * `show ID`: one case's state, clocks, permit and full history.
//! * `sweep`: close applications whose completion deadline has passed
//!   (as incomplete, the deadline in the reason) and queue deadline
//!   reminders in the outbox (for cron; `serve` also sweeps on an
//!   interval). Each case is closed once, each reminder queued once.
//!
//! Each subcommand calls one function of the case service
//! ([`halsohub_app::cases::CaseService`]), the same one the API uses, and
//! renders its answer: a table for people, or JSON with `--json`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use halsohub_app::auth::AccessConfig;
use halsohub_app::cases::{CaseDetail, CaseError, CaseService, QueueLine};
use halsohub_app::clocks::case_clocks;
use serde_json::{Value, json};

use crate::cmd::db::{DatabaseArgs, open};

/// `halsohub cases …`
#[derive(Debug, Subcommand)]
pub enum CasesCmd {
    /// The work queue: cases with a running clock, earliest deadline first.
    Queue(OutputArgs),
    /// One case: state, clocks, permit and history.
    Show {
        /// Case id (as in the queue or the API).
        id: String,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Close applications whose completion deadline has passed and queue
    /// deadline reminders ("deadline near", "overdue") in the outbox; each
    /// case is closed and each reminder queued once however often this runs.
    Sweep {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

/// Database and output format.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub db: DatabaseArgs,
}

/// Runs `halsohub cases …`.
pub async fn run(cmd: CasesCmd, home: &Path) -> Result<()> {
    let config = AccessConfig::default();
    let now = Utc::now();
    match cmd {
        CasesCmd::Queue(out) => {
            let db = open(&out.db, home).await?;
            let lines = CaseService::new(&db, &config)
                .operator_queue(now)
                .await
                .context("cannot read the cases")?;
            let v = queue_json(&lines, now);
            if out.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_queue(&v);
            }
        }
        CasesCmd::Show { id, out } => {
            let db = open(&out.db, home).await?;
            let detail = match CaseService::new(&db, &config).detail(&id).await {
                Err(CaseError::NotFound(_)) => {
                    bail!("no case with id {id:?} (see `halsohub cases queue`)")
                }
                other => other.with_context(|| format!("cannot read case {id}"))?,
            };
            let v = show_json(&config, &id, &detail, now);
            if out.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_case(&v);
            }
        }
        CasesCmd::Sweep { db } => {
            let db = open(&db, home).await?;
            let report = CaseService::new(&db, &config)
                .sweep_deadlines(now)
                .await
                .context("the deadline sweep failed")?;
            println!(
                "queued {} new deadline reminder(s); closed {} case(s) as incomplete",
                report.reminders,
                report.closed.len()
            );
            for id in &report.closed {
                println!("closed {id} as incomplete: its completion deadline has passed");
            }
        }
    }
    Ok(())
}

fn queue_json(lines: &[QueueLine], now: DateTime<Utc>) -> Value {
    let rows: Vec<Value> = lines
        .iter()
        .map(|l| {
            let e = &l.entry;
            json!({
                "case_id": e.case_id,
                "status": e.status,
                "title": l.title,
                "clock": e.clock.kind.as_str(),
                "deadline": e.clock.deadline,
                "days_used": e.clock.days_used,
                "days_left": e.clock.days_left,
                "overdue": e.clock.overdue,
                "stopped": e.clock.stopped,
            })
        })
        .collect();
    json!({ "as_of": now, "queue": rows })
}

fn show_json(config: &AccessConfig, id: &str, detail: &CaseDetail, now: DateTime<Utc>) -> Value {
    let state = &detail.state;
    let permit = state.permit.as_ref().map(|p| {
        json!({
            "id": p.id,
            "status": p.status(now),
            "active": p.is_active(now),
            "valid_from": p.starts_at(),
            "expires_at": p.expires_at(),
        })
    });
    let name = |id: &str| detail.names.get(id).cloned();
    let history: Vec<Value> = detail
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({
                "seq": i + 1,
                "at": e.at,
                "actor": e.actor,
                "actor_name": name(e.actor.as_str()),
                "role": e.role,
                "change": e.change.name(),
                "why": e.why(),
            })
        })
        .collect();
    let title = state
        .content
        .as_ref()
        .map(|c| c.title.clone())
        .unwrap_or_default();
    json!({
        "case_id": id,
        "status": state.status,
        "title": title,
        "organisation": state.organisation(),
        "organisation_name": state.organisation().and_then(|o| name(o.as_str())),
        "assignee": state.assignee,
        "assignee_name": state.assignee.as_ref().and_then(|a| name(a.as_str())),
        "version": state.version,
        "clocks": case_clocks(state, &config.clocks, now),
        "permit": permit,
        "history": history,
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_queue(v: &Value) {
    let rows = v["queue"].as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("the queue is empty (no case has a running clock)");
        return;
    }
    println!(
        "{:<18} {:<22} {:<20} {:<10} {:>5} {:>5}  {:<8} TITLE",
        "CASE", "STATUS", "CLOCK", "DEADLINE", "USED", "LEFT", "OVERDUE"
    );
    for r in rows {
        let overdue = if r["overdue"] == true {
            "OVERDUE"
        } else if r["stopped"] == true {
            "stopped"
        } else {
            "-"
        };
        println!(
            "{:<18} {:<22} {:<20} {:<10} {:>5} {:>5}  {:<8} {}",
            text(&r["case_id"]),
            text(&r["status"]),
            text(&r["clock"]),
            text(&r["deadline"]),
            text(&r["days_used"]),
            text(&r["days_left"]),
            overdue,
            text(&r["title"]),
        );
    }
}

fn print_case(v: &Value) {
    println!("case         {}", text(&v["case_id"]));
    println!("title        {}", text(&v["title"]));
    println!("status       {}", text(&v["status"]));
    let named = |name: &Value, id: &Value| match name {
        Value::String(n) => format!("{n} ({})", text(id)),
        _ => text(id),
    };
    println!(
        "organisation {}",
        named(&v["organisation_name"], &v["organisation"])
    );
    if !v["assignee"].is_null() {
        println!(
            "assigned to  {}",
            named(&v["assignee_name"], &v["assignee"])
        );
    }
    println!("version      {}", text(&v["version"]));
    for c in v["clocks"].as_array().into_iter().flatten() {
        let state = if c["stopped"] == true {
            " (stopped: waiting for the applicant)"
        } else if c["overdue"] == true {
            " OVERDUE"
        } else {
            ""
        };
        println!(
            "clock        {}: started {}, deadline {}, {} working days used, {} left{state}",
            text(&c["kind"]),
            text(&c["started_on"]),
            text(&c["deadline"]),
            text(&c["days_used"]),
            text(&c["days_left"]),
        );
    }
    if let Some(p) = v["permit"].as_object() {
        println!(
            "permit       {} ({}), valid {} – {}",
            text(&p["id"]),
            text(&p["status"]),
            text(&p["valid_from"]),
            text(&p["expires_at"]),
        );
    }
    println!("history:");
    for e in v["history"].as_array().into_iter().flatten() {
        let why = match &e["why"] {
            Value::String(s) => format!(" — {s}"),
            _ => String::new(),
        };
        println!(
            "  {:>3}  {}  {:<28} by {} as {}{why}",
            text(&e["seq"]),
            text(&e["at"]),
            text(&e["change"]),
            named(&e["actor_name"], &e["actor"]),
            text(&e["role"]),
        );
    }
}
