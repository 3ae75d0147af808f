//! Statutory clocks on dates spanning Easter, midsummer and Christmas, and
//! a stop-the-clock period. Expected dates are worked out by hand in the
//! comments (2026: Easter Sunday 5 Apr, Good Friday 3 Apr, Easter Monday
//! 6 Apr, 1 May a Friday, Ascension 14 May, Midsummer Eve Fri 19 Jun).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use halsohub_access::*;

/// A case accepted as complete at `completed` (earlier steps the days
/// before).
fn complete_at(serial: u32, completed: &str) -> Case {
    let mut c = Case::new();
    c.run(
        Role::Applicant,
        Command::Create {
            case_id: CaseId::new(2026, serial).unwrap(),
            content: content(),
        },
        "2026-01-05T09:00:00Z",
    )
    .run(Role::Applicant, Command::Submit, "2026-01-05T10:00:00Z")
    .run(
        Role::CaseOfficer,
        Command::StartCompletenessCheck,
        "2026-01-05T11:00:00Z",
    )
    .run(Role::CaseOfficer, Command::AcceptComplete, completed);
    c
}

fn clock(c: &Case, now: &str) -> ClockStatus {
    case_clock(&c.state, &ClockConfig::default(), at(now)).unwrap()
}

#[test]
fn decision_deadline_over_easter_and_midsummer() {
    // Complete Fri 20 Mar 2026. 3 months → Sat 20 Jun 2026 (Midsummer
    // Day); Sun 21 Jun is off too → deadline Mon 22 Jun 2026.
    let c = complete_at(1, "2026-03-20T09:00:00Z");
    let k = clock(&c, "2026-04-07T10:00:00Z");
    assert_eq!(k.kind, ClockKind::Decision);
    assert_eq!(k.started_on, date(2026, 3, 20));
    assert_eq!(k.deadline, date(2026, 6, 22));
    // Used by Tue 7 Apr: 23–27 Mar (5), 30 Mar–2 Apr (4), [3 Apr Good
    // Friday, 4–5 weekend, 6 Apr Easter Monday off], 7 Apr (1) = 10.
    assert_eq!(k.days_used, 10);
    // Left from 7 Apr to 22 Jun: April 8–10 (3), 13–17 (5), 20–24 (5),
    // 27–30 (4) = 17; May 4–8 (5), 11–15 without 14 Ascension (4), 18–22
    // (5), 25–29 (5) = 19 [1 May off]; June 1–5 (5), 8–12 (5), 15–18 (4,
    // 19 Midsummer Eve off), 22 (1) = 15. Total 51.
    assert_eq!(k.days_left, 51);
    assert!(!k.overdue && !k.stopped);

    // On the deadline itself: 0 left, not overdue; the next day overdue.
    let k = clock(&c, "2026-06-22T15:00:00Z");
    assert_eq!((k.days_left, k.overdue), (0, false));
    let k = clock(&c, "2026-06-23T08:00:00Z");
    assert_eq!((k.days_left, k.overdue), (-1, true));
}

#[test]
fn stop_the_clock_moves_the_deadline() {
    let mut c = complete_at(2, "2026-03-20T09:00:00Z");
    // Information requested Thu 2 Apr.
    c.run(
        Role::CaseOfficer,
        Command::RequestInformation {
            questions: "Which ICD-10 codes exactly?".into(),
        },
        "2026-04-02T09:00:00Z",
    );
    // While waiting, on Wed 8 Apr: stopped 6 days (3–8 Apr), deadline
    // 20 Jun + 6 = Fri 26 Jun (a working day); used stays at 9
    // (23–27 Mar, 30 Mar–2 Apr).
    let k = clock(&c, "2026-04-08T09:00:00Z");
    assert!(k.stopped);
    assert_eq!(k.stopped_days, 6);
    assert_eq!(k.deadline, date(2026, 6, 26));
    assert_eq!(k.days_used, 9);
    // No reminders while the clock is stopped.
    assert!(
        deadline_notifications(
            &c.state,
            &ClockConfig::default(),
            at("2026-06-25T09:00:00Z")
        )
        .is_empty()
    );

    // Answered Mon 13 Apr: stopped 3–13 Apr = 11 days; deadline 20 Jun +
    // 11 = Wed 1 Jul 2026.
    c.run(
        Role::Applicant,
        Command::ProvideInformation {
            answer: "I21 and I22.".into(),
            attachments: vec![],
        },
        "2026-04-13T09:00:00Z",
    );
    let k = clock(&c, "2026-04-14T09:00:00Z");
    assert!(!k.stopped);
    assert_eq!(k.stopped_days, 11);
    assert_eq!(k.deadline, date(2026, 7, 1));
    // Used by Tue 14 Apr: 9 before the stop + 14 Apr = 10 (13 Apr, the
    // answer day, belongs to the stop).
    assert_eq!(k.days_used, 10);
}

#[test]
fn applicant_deadline_over_midsummer() {
    let mut c = Case::new();
    c.run(
        Role::Applicant,
        Command::Create {
            case_id: CaseId::new(2026, 3).unwrap(),
            content: content(),
        },
        "2026-05-20T09:00:00Z",
    )
    .run(Role::Applicant, Command::Submit, "2026-05-20T10:00:00Z")
    .run(
        Role::CaseOfficer,
        Command::StartCompletenessCheck,
        "2026-05-21T09:00:00Z",
    )
    .run(
        Role::CaseOfficer,
        Command::ReturnIncomplete {
            missing: vec![FieldIssue::new("attachments", "protocol missing")],
        },
        "2026-05-22T09:00:00Z",
    );
    // Returned Fri 22 May; + 28 days = Fri 19 Jun, Midsummer Eve; Sat 20
    // (Midsummer Day), Sun 21 off → deadline Mon 22 Jun.
    let k = clock(&c, "2026-06-01T09:00:00Z");
    assert_eq!(k.kind, ClockKind::ApplicantCompletion);
    assert_eq!(k.deadline, date(2026, 6, 22));
    // Used by Mon 1 Jun: 25–29 May (5) + 1 Jun (1) = 6.
    assert_eq!(k.days_used, 6);
    // Left: 2–5 Jun (4), 8–12 (5), 15–18 (4), 22 (1) = 14.
    assert_eq!(k.days_left, 14);
}

#[test]
fn publication_deadline_over_christmas() {
    let mut c = complete_at(4, "2026-10-01T09:00:00Z");
    c.run(
        Role::LegalReviewer,
        Command::RecordLegalReview {
            findings: vec!["No remarks.".into()],
            recommendation: Recommendation::Approve,
        },
        "2026-11-02T09:00:00Z",
    )
    .run(
        Role::DataSteward,
        Command::RecordTechnicalReview {
            findings: vec!["Feasible.".into()],
            recommendation: Recommendation::Reject,
        },
        "2026-11-03T09:00:00Z",
    )
    .run(
        Role::DecisionMaker,
        Command::Reject {
            reasons: "Data cannot be minimised enough.".into(),
        },
        "2026-12-04T09:00:00Z",
    );
    // Decided Fri 4 Dec 2026. 30 working days: 7–11 Dec (5), 14–18 (10),
    // 21–23 (13) [24 eve, 25, 26 off], 28–30 (16) [31 eve, 1 Jan off],
    // 4–5 Jan (18) [6 Jan Epiphany off], 7–8 Jan (20), 11–15 (25), 18–22
    // (30) → Fri 22 Jan 2027.
    let k = clock(&c, "2026-12-28T09:00:00Z");
    assert_eq!(k.kind, ClockKind::Publication);
    assert_eq!(k.deadline, date(2027, 1, 22));
    // Used by Mon 28 Dec: 7–11 (5), 14–18 (5), 21–23 (3), 28 (1) = 14.
    assert_eq!(k.days_used, 14);
    assert_eq!(k.days_left, 16);
    let undecided = complete_at(7, "2026-10-02T09:00:00Z");
    let pq = publication_queue(
        [&undecided.state, &c.state],
        &ClockConfig::default(),
        at("2026-12-28T09:00:00Z"),
    );
    assert_eq!(pq.len(), 1);
    assert_eq!(pq[0].clock.deadline, date(2027, 1, 22));
    c.run(Role::CaseOfficer, Command::Publish, "2027-01-05T09:00:00Z");
    assert!(
        case_clock(
            &c.state,
            &ClockConfig::default(),
            at("2027-01-06T09:00:00Z")
        )
        .is_none()
    );
}

#[test]
fn configurable_periods() {
    let cfg = ClockConfig {
        decision_months: 2,
        ..ClockConfig::default()
    };
    let c = complete_at(5, "2026-03-20T09:00:00Z");
    // 20 Mar + 2 months = Wed 20 May 2026, a working day.
    let k = case_clock(&c.state, &cfg, at("2026-04-01T09:00:00Z")).unwrap();
    assert_eq!(k.deadline, date(2026, 5, 20));
}

#[test]
fn queue_orders_by_deadline() {
    let a = complete_at(10, "2026-03-20T09:00:00Z"); // deadline 22 Jun
    let b = complete_at(11, "2026-02-10T09:00:00Z"); // 11 May
    let mut d = complete_at(12, "2026-03-02T09:00:00Z"); // 2 Jun
    d.run(
        Role::Applicant,
        Command::Withdraw {
            reason: "No longer needed.".into(),
        },
        "2026-03-03T09:00:00Z",
    );
    let draft = case_after(1);
    let cases = [a.state, b.state, d.state, draft.state];
    let q = queue(&cases, &ClockConfig::default(), at("2026-04-01T09:00:00Z"));
    let ids: Vec<String> = q.iter().map(|e| e.case_id.to_string()).collect();
    // 10 Feb + 3 months = Sun 10 May → Mon 11 May.
    assert_eq!(q[0].clock.deadline, date(2026, 5, 11));
    assert_eq!(ids, ["HH-A-2026-000011", "HH-A-2026-000010"]);
    let s = CaseSummary::of(
        &cases[0],
        &ClockConfig::default(),
        at("2026-04-01T09:00:00Z"),
    )
    .unwrap();
    assert_eq!(s.clock.unwrap().deadline, date(2026, 6, 22));
    assert_eq!(
        (s.status, s.version, s.published),
        (CaseStatus::UnderReview, 4, false)
    );
    assert!(
        CaseSummary::of(
            &CaseState::default(),
            &ClockConfig::default(),
            at("2026-04-01T09:00:00Z")
        )
        .is_none()
    );
}

#[test]
fn deadline_reminders() {
    let c = complete_at(6, "2026-03-20T09:00:00Z"); // deadline Mon 22 Jun
    let cfg = ClockConfig::default();
    // Days left count the working days after today up to the deadline.
    // Fri 12 Jun: 15–18 Jun (4) + 22 Jun (1) = 5 left → near.
    let n = deadline_notifications(&c.state, &cfg, at("2026-06-12T06:00:00Z"));
    assert_eq!(n.len(), 1);
    assert!(matches!(
        n[0].kind,
        NotificationKind::DeadlineNear { days_left: 5, .. }
    ));
    assert!(n[0].to.contains(&Recipient::Role(Role::DecisionMaker)));
    // Thu 11 Jun: 12 Jun + 5 = 6 left → nothing yet.
    assert!(deadline_notifications(&c.state, &cfg, at("2026-06-11T06:00:00Z")).is_empty());
    // The same reminder twice has the same key (outbox de-duplicates).
    let again = deadline_notifications(&c.state, &cfg, at("2026-06-16T06:00:00Z"));
    assert_eq!(again[0].key, n[0].key);
    let late = deadline_notifications(&c.state, &cfg, at("2026-06-23T06:00:00Z"));
    assert!(matches!(late[0].kind, NotificationKind::Overdue { .. }));
}
