//! Lead-time figures equal a naive recomputation from the raw events; the
//! public queue and register; notifications on state changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use common::*;
use halsohub_access::calendar::swedish_date;
use halsohub_access::*;
use proptest::prelude::*;

/// How far one generated case gets, with gaps in hours between steps.
#[derive(Debug, Clone)]
struct Plan {
    start_hours: i64,
    incomplete_round: Option<i64>,
    gaps: Vec<i64>,
    approve: bool,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        0i64..(24 * 400),
        // Within the 4 weeks the applicant has: a later resubmission
        // closes the case as incomplete.
        proptest::option::of(1i64..(24 * 25)),
        proptest::collection::vec(1i64..(24 * 60), 0..7),
        any::<bool>(),
    )
        .prop_map(|(start_hours, incomplete_round, gaps, approve)| Plan {
            start_hours,
            incomplete_round,
            gaps,
            approve,
        })
}

/// Terms valid from the day of issue for nine years (no later delivery
/// falls outside them; a permit may not start before its decision).
fn wide_terms(issued: DateTime<Utc>) -> PermitTerms {
    let from = swedish_date(issued);
    PermitTerms {
        valid_from: from,
        valid_until: from + Duration::days(9 * 365),
        ..terms()
    }
}

/// Runs a plan through the real `decide`; returns the events.
fn run_plan(serial: u32, p: &Plan) -> Vec<CaseEvent> {
    let base: DateTime<Utc> = at("2025-01-01T00:00:00Z");
    let mut t = base + Duration::hours(p.start_hours);
    let mut c = Case::new();
    let step = |c: &mut Case, role: Role, cmd: Command, t: DateTime<Utc>| {
        c.run(role, cmd, &t.to_rfc3339());
    };
    step(
        &mut c,
        Role::Applicant,
        Command::Create {
            case_id: CaseId::new(2025, serial).unwrap(),
            content: content(),
        },
        t,
    );
    t += Duration::hours(1);
    step(&mut c, Role::Applicant, Command::Submit, t);
    t += Duration::hours(1);
    step(
        &mut c,
        Role::CaseOfficer,
        Command::StartCompletenessCheck,
        t,
    );
    if let Some(h) = p.incomplete_round {
        t += Duration::hours(1);
        step(
            &mut c,
            Role::CaseOfficer,
            Command::ReturnIncomplete {
                missing: vec![FieldIssue::new("summary", "too short")],
            },
            t,
        );
        t += Duration::hours(h);
        step(&mut c, Role::Applicant, Command::Submit, t);
        t += Duration::hours(1);
        step(
            &mut c,
            Role::CaseOfficer,
            Command::StartCompletenessCheck,
            t,
        );
    }
    let mut gaps = p.gaps.iter();
    let Some(g) = gaps.next() else {
        return c.events;
    };
    t += Duration::hours(*g);
    step(&mut c, Role::CaseOfficer, Command::AcceptComplete, t);
    let Some(g) = gaps.next() else {
        return c.events;
    };
    t += Duration::hours(*g);
    step(
        &mut c,
        Role::LegalReviewer,
        Command::RecordLegalReview {
            findings: vec!["No remarks.".into()],
            recommendation: Recommendation::Approve,
        },
        t,
    );
    step(
        &mut c,
        Role::DataSteward,
        Command::RecordTechnicalReview {
            findings: vec!["No remarks.".into()],
            recommendation: Recommendation::Approve,
        },
        t,
    );
    let Some(g) = gaps.next() else {
        return c.events;
    };
    t += Duration::hours(*g);
    let reasons = "Reasons given.".to_string();
    // Lead times count published decisions only: publish at once.
    if p.approve {
        step(&mut c, Role::DecisionMaker, Command::Approve { reasons }, t);
        step(&mut c, Role::CaseOfficer, Command::Publish, t);
    } else {
        step(&mut c, Role::DecisionMaker, Command::Reject { reasons }, t);
        step(&mut c, Role::CaseOfficer, Command::Publish, t);
        return c.events;
    }
    let Some(g) = gaps.next() else {
        return c.events;
    };
    t += Duration::hours(*g);
    step(
        &mut c,
        Role::CaseOfficer,
        Command::IssuePermit {
            permit_id: PermitId::new(2025, serial).unwrap(),
            terms: wide_terms(t),
        },
        t,
    );
    for g in gaps {
        t += Duration::hours(*g);
        step(
            &mut c,
            Role::DataSteward,
            Command::RecordDelivery {
                note: "delivery".into(),
            },
            t,
        );
    }
    c.events
}

/// Naive: scan raw events for the stage boundaries.
fn naive_durations(events: &[CaseEvent]) -> Vec<(Stage, NaiveDate, i64)> {
    let first = |name: &str| {
        events
            .iter()
            .find(|e| e.change.name() == name)
            .map(|e| swedish_date(e.at))
    };
    let approved = events
        .iter()
        .find(|e| {
            matches!(
                e.change,
                Change::Decided {
                    outcome: Outcome::Approved,
                    ..
                }
            )
        })
        .map(|e| swedish_date(e.at));
    let sub = first("submitted");
    let comp = first("accepted_complete");
    let dec = first("decided");
    let perm = first("permit_issued");
    let deliv = first("data_delivered");
    let mut out = Vec::new();
    for (stage, a, b) in [
        (Stage::Completeness, sub, comp),
        (Stage::Review, comp, dec),
        (Stage::Permit, approved, perm),
        (Stage::Delivery, perm, deliv),
        (Stage::Overall, sub, dec),
        (Stage::ToData, sub, deliv),
    ] {
        if let (Some(a), Some(b)) = (a, b) {
            out.push((stage, b, (b - a).num_days()));
        }
    }
    out
}

/// Naive aggregation: per (month, stage), the median and the nearest-rank
/// 90th percentile found by counting rather than indexing.
fn naive_figures(all: &[(Stage, NaiveDate, i64)]) -> Vec<(String, Stage, usize, f64, i64)> {
    let keys: BTreeSet<((i32, u32), Stage)> = all
        .iter()
        .map(|(s, d, _)| ((d.year(), d.month()), *s))
        .collect();
    keys.into_iter()
        .map(|((y, m), stage)| {
            let vals: Vec<i64> = all
                .iter()
                .filter(|(s, d, _)| *s == stage && d.year() == y && d.month() == m)
                .map(|(_, _, v)| *v)
                .collect();
            let n = vals.len() as i64;
            let at_or_below = |v: i64| vals.iter().filter(|x| **x <= v).count() as i64;
            let smallest = |pred: &dyn Fn(i64) -> bool| {
                vals.iter().copied().filter(|v| pred(*v)).min().unwrap()
            };
            let lo = smallest(&|v| at_or_below(v) * 2 >= n);
            let hi = smallest(&|v| at_or_below(v) * 2 > n);
            let p90 = smallest(&|v| at_or_below(v) * 10 >= 9 * n);
            (
                format!("{y:04}-{m:02}"),
                stage,
                vals.len(),
                (lo as f64 + hi as f64) / 2.0,
                p90,
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn lead_times_equal_naive_recomputation(plans in proptest::collection::vec(plan(), 1..12)) {
        let streams: Vec<Vec<CaseEvent>> = plans
            .iter()
            .enumerate()
            .map(|(i, p)| run_plan(i as u32 + 1, p))
            .collect();
        let states: Vec<CaseState> = streams.iter().map(CaseState::from_events).collect();
        let fast = lead_times(&states);
        let naive_all: Vec<_> = streams
            .iter()
            .filter(|s| s.iter().any(|e| e.change.name() == "published"))
            .flat_map(|s| naive_durations(s))
            .collect();
        let naive = naive_figures(&naive_all);
        let fast_rows: Vec<_> = fast
            .iter()
            .map(|f| (f.month.clone(), f.stage, f.cases, f.median_days, f.p90_days))
            .collect();
        prop_assert_eq!(fast_rows, naive);
    }
}

#[test]
fn percentile_and_median_by_hand() {
    // 1..=10: median (5+6)/2 = 5.5; p90 rank ceil(9) = 9th value = 9.
    let v: Vec<i64> = (1..=10).collect();
    assert_eq!(median(&v), Some(5.5));
    assert_eq!(percentile_nearest_rank(&v, 90), Some(9));
    // 11 values: rank ceil(9.9) = 10th.
    let v: Vec<i64> = (1..=11).rev().collect();
    assert_eq!(median(&v), Some(6.0));
    assert_eq!(percentile_nearest_rank(&v, 90), Some(10));
    assert_eq!(median(&[]), None);
    assert_eq!(percentile_nearest_rank(&[7], 90), Some(7));
}

#[test]
fn lead_times_by_hand() {
    // Case A: submitted 13 Jan, complete 15 Jan (2 days), decided 2 Mar
    // (46 days), permit 5 Mar (3), delivered 2 Jun (89); overall 48;
    // to data 140.
    let a = case_after(9);
    let d: Vec<(Stage, i64, String)> = stage_durations(&a.state)
        .into_iter()
        .map(|s| (s.stage, s.days, s.ended_on.format("%Y-%m").to_string()))
        .collect();
    assert_eq!(
        d,
        vec![
            (Stage::Completeness, 2, "2026-01".into()),
            (Stage::Review, 46, "2026-03".into()),
            (Stage::Permit, 3, "2026-03".into()),
            (Stage::Delivery, 89, "2026-06".into()),
            (Stage::Overall, 48, "2026-03".into()),
            (Stage::ToData, 140, "2026-06".into()),
        ]
    );
}

#[test]
fn public_queue_says_what_is_being_handled() {
    let under_review = case_after(4); // completed 15 Jan
    let submitted = case_after(2); // submitted 13 Jan
    let mut waiting = Case::new();
    waiting
        .run(
            Role::Applicant,
            Command::Create {
                case_id: CaseId::new(2026, 9).unwrap(),
                content: content(),
            },
            "2026-01-05T09:00:00Z",
        )
        .run(Role::Applicant, Command::Submit, "2026-01-05T10:00:00Z")
        .run(
            Role::CaseOfficer,
            Command::StartCompletenessCheck,
            "2026-01-06T09:00:00Z",
        )
        .run(
            Role::CaseOfficer,
            Command::AcceptComplete,
            "2026-01-10T09:00:00Z",
        )
        .run(
            Role::CaseOfficer,
            Command::RequestInformation {
                questions: "?".into(),
            },
            "2026-01-11T09:00:00Z",
        );
    let decided = case_after(7);
    let q = current_queue([
        &under_review.state,
        &submitted.state,
        &waiting.state,
        &decided.state,
    ]);
    assert_eq!(q.now_handling_completed_on, Some(date(2026, 1, 10)));
    assert_eq!(q.now_checking_submitted_on, Some(date(2026, 1, 13)));
    assert_eq!(q.awaiting_completeness_check, 1);
    assert_eq!(q.under_review, 1);
    assert_eq!(q.waiting_for_applicant, 1);
    assert_eq!(q.awaiting_publication, 1);
}

#[test]
fn register_shows_decision_but_no_personal_data() {
    let mut c = case_after(9);
    assert!(register_entry(&c.state).is_none(), "unpublished");
    c.run(Role::CaseOfficer, Command::Publish, "2026-06-03T09:00:00Z");
    let entries = register([&c.state, &case_after(4).state]);
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.outcome, Outcome::Approved);
    assert_eq!(e.reasons, "Purpose within Art. 53(1)(e); data minimised.");
    assert_eq!(e.organisation, org(APPLICANT_ORG));
    assert_eq!(e.permit.as_ref().unwrap().id, permit_id());
    let json = serde_json::to_string(&entries).unwrap();
    for personal in [
        "anna",
        "bertil",
        "olle-officer",
        "lisa-legal",
        "david-steward",
        "dora-decider",
        "register study",
        "Dnr",
        "protocol.pdf",
    ] {
        assert!(!json.contains(personal), "{personal} leaked: {json}");
    }
}

#[test]
fn state_changes_notify_the_next_actor_and_the_applicant() {
    let before = case_after(1);
    let mut after = before.clone();
    let evs = after
        .try_run(Role::Applicant, Command::Submit, "2026-01-13T09:00:00Z")
        .unwrap();
    let n = notifications_for_events(&before.state, &evs);
    assert_eq!(n.len(), 1);
    // The submitter is not told about their own action; bertil is.
    assert_eq!(
        n[0].to,
        vec![
            Recipient::Users(vec![user("bertil")]),
            Recipient::Role(Role::CaseOfficer)
        ]
    );
    assert!(n[0].subject.contains("HH-A-2026-000045"));

    // The second review makes the case ready for decision.
    let before = case_after(5);
    let mut after = before.clone();
    let (role, cmd, now) = happy_path().remove(5);
    let evs = after.try_run(role, cmd, now).unwrap();
    let n = notifications_for_events(&before.state, &evs);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].kind, NotificationKind::ReadyForDecision);
    assert_eq!(n[0].to, vec![Recipient::Role(Role::DecisionMaker)]);

    // Editing a draft changes no state: no notification.
    let before = case_after(1);
    let mut after = before.clone();
    let evs = after
        .try_run(
            Role::Applicant,
            Command::UpdateDraft { content: content() },
            "2026-01-12T10:00:00Z",
        )
        .unwrap();
    assert!(notifications_for_events(&before.state, &evs).is_empty());
}
