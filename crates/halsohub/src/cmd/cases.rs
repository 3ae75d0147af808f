//! `halsohub cases …`: case work for operators, straight from the state
//! database (no server needed).
//!
//! * `queue`: the work queue (cases with a running clock) ordered by
//!   deadline, with working days used and left and whether overdue.
//! * `show ID`: one case's state, clocks, permit and full history.
//! * `sweep`: queue deadline reminders in the outbox (for cron; `serve`
//!   also sweeps on an interval). Each reminder is queued once.
//!
//! Current state is always folded from the stored events by the access
//! crate, the same way the API does it. Output is a table for people, or
//! JSON with `--json`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use halsohub_access::{AccessConfig, CaseEvent, CaseState, case_clocks, queue};
use halsohub_state::Db;
use halsohub_state::cases::CaseFilter;
use serde_json::{Value, json};

use crate::cmd::staff::{DatabaseArgs, open};

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
    /// Queue deadline reminders ("deadline near", "overdue") in the outbox;
    /// each reminder is queued once however often this runs.
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
            let v = queue_json(&db, &config, now).await?;
            if out.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_queue(&v);
            }
        }
        CasesCmd::Show { id, out } => {
            let db = open(&out.db, home).await?;
            let v = show_json(&db, &config, &id, now).await?;
            if out.json {
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_case(&v);
            }
        }
        CasesCmd::Sweep { db } => {
            let db = open(&db, home).await?;
            let n = halsohub_server::sweep_deadlines(&db, &config, now)
                .await
                .context("the deadline sweep failed")?;
            println!("queued {n} new deadline reminder(s)");
        }
    }
    Ok(())
}

/// A case's events, parsed, and the state folded from them.
async fn load(db: &Db, id: &str) -> Result<(CaseState, Vec<CaseEvent>)> {
    let stored = db.case_events(id).await?;
    let mut events = Vec::with_capacity(stored.len());
    for s in stored {
        let e: CaseEvent = serde_json::from_value(s.payload)
            .with_context(|| format!("case {id}: stored event {} cannot be read", s.seq))?;
        events.push(e);
    }
    Ok((CaseState::from_events(&events), events))
}

fn title(s: &CaseState) -> String {
    s.content
        .as_ref()
        .map(|c| c.title.clone())
        .unwrap_or_default()
}

async fn queue_json(db: &Db, config: &AccessConfig, now: DateTime<Utc>) -> Result<Value> {
    let mut states = Vec::new();
    for c in db.list_cases(&CaseFilter::default()).await? {
        states.push(load(db, &c.case_id).await?.0);
    }
    let entries = queue(states.iter(), &config.clocks, now);
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| {
            let t = states
                .iter()
                .find(|s| s.id == Some(e.case_id))
                .map(title)
                .unwrap_or_default();
            json!({
                "case_id": e.case_id,
                "status": e.status,
                "title": t,
                "clock": e.clock.kind.as_str(),
                "deadline": e.clock.deadline,
                "days_used": e.clock.days_used,
                "days_left": e.clock.days_left,
                "overdue": e.clock.overdue,
                "stopped": e.clock.stopped,
            })
        })
        .collect();
    Ok(json!({ "as_of": now, "queue": rows }))
}

async fn show_json(db: &Db, config: &AccessConfig, id: &str, now: DateTime<Utc>) -> Result<Value> {
    let (state, events) = load(db, id).await?;
    if events.is_empty() {
        bail!("no case with id {id:?} (see `halsohub cases queue`)");
    }
    let permit = state.permit.as_ref().map(|p| {
        json!({
            "id": p.id,
            "status": p.status(now),
            "active": p.is_active(now),
            "valid_from": p.starts_at(),
            "expires_at": p.expires_at(),
        })
    });
    let history: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({
                "seq": i + 1,
                "at": e.at,
                "actor": e.actor,
                "role": e.role,
                "change": e.change.name(),
                "why": e.why(),
            })
        })
        .collect();
    Ok(json!({
        "case_id": id,
        "status": state.status,
        "title": title(&state),
        "organisation": state.organisation(),
        "version": state.version,
        "clocks": case_clocks(&state, &config.clocks, now),
        "permit": permit,
        "history": history,
    }))
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
    println!("organisation {}", text(&v["organisation"]));
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
            text(&e["actor"]),
            text(&e["role"]),
        );
    }
}
