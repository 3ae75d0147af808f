//! The rules issue 12 added to the domain, each replayed as the defect was
//! found: deadlines enforced (late completion, completeness clock, decision
//! extension), permits validated, text and unknown fields refused,
//! attachments sniffed, work visible (queue, drafts, reviews per reviewer,
//! answers routed), lead times from published decisions only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use halsohub_access::*;
use proptest::prelude::*;

/// A case returned as incomplete on Monday 2 March 2026.
fn incomplete_case() -> Case {
    let mut c = Case::new();
    for (role, cmd, now) in happy_path().into_iter().take(3) {
        c.run(role, cmd, now);
    }
    c.run(
        Role::CaseOfficer,
        Command::ReturnIncomplete {
            missing: vec![FieldIssue::new("ethics_reference", "for another study")],
        },
        "2026-03-02T09:00:00Z",
    );
    c
}

#[test]
fn a_late_completion_closes_the_case_as_incomplete_with_the_reason() {
    let mut c = incomplete_case();
    // 28 days after 2 March is 30 March (a Monday): the last day.
    let deadline = c
        .state
        .completion_deadline(&ClockConfig::default())
        .unwrap();
    assert_eq!(deadline, date(2026, 3, 30));
    let events = c
        .try_run(Role::Applicant, Command::Submit, "2026-03-31T09:00:00Z")
        .unwrap();
    assert_eq!(c.state.status, CaseStatus::Closed);
    assert!(matches!(
        &events[0].change,
        Change::ClosedIncomplete { deadline: d, .. } if *d == date(2026, 3, 30)
    ));
    let why = events[0].why().unwrap();
    assert!(
        why.contains("2026-03-30") && why.contains("incomplete"),
        "{why}"
    );
    // Editing past the deadline is refused: nothing to complete any more.
    let mut c = incomplete_case();
    let err = c
        .try_run(
            Role::Applicant,
            Command::UpdateDraft { content: content() },
            "2026-03-31T09:00:00Z",
        )
        .unwrap_err();
    assert!(
        matches!(err, AccessError::IllegalTransition { .. }),
        "{err}"
    );
    // On the deadline day the submission still counts.
    let mut c = incomplete_case();
    c.run(Role::Applicant, Command::Submit, "2026-03-30T15:00:00Z");
    assert_eq!(c.state.status, CaseStatus::Submitted);
}

#[test]
fn the_deadline_closes_an_incomplete_case_without_anyone_acting() {
    let config = AccessConfig::default();
    let c = incomplete_case();
    // Up to and including the deadline day nothing is due.
    assert!(overdue_events(&config, &c.state, at("2026-03-30T21:00:00Z")).is_empty());
    // The day after, the case is closed as incomplete by the hub, with the
    // deadline in the reason — the same event a late submission gives.
    let events = overdue_events(&config, &c.state, at("2026-03-31T09:00:00Z"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor.as_str(), HUB_ACTOR);
    assert_eq!(events[0].role, Role::CaseOfficer);
    assert!(matches!(
        &events[0].change,
        Change::ClosedIncomplete { deadline: d, .. } if *d == date(2026, 3, 30)
    ));
    assert!(events[0].why().unwrap().contains("2026-03-30"));
    let mut state = c.state.clone();
    for e in &events {
        state.apply(e);
    }
    assert_eq!(state.status, CaseStatus::Closed);
    // Asked again, nothing more: closing is done once.
    assert!(overdue_events(&config, &state, at("2026-04-30T09:00:00Z")).is_empty());

    // More time granted moves the day the sweep closes it.
    let mut c = incomplete_case();
    c.run(
        Role::CaseOfficer,
        Command::ExtendCompletion {
            until: date(2026, 4, 20),
            reasons: "The ethics board meets on 14 April.".into(),
        },
        "2026-03-25T09:00:00Z",
    );
    assert!(overdue_events(&config, &c.state, at("2026-04-20T09:00:00Z")).is_empty());
    assert_eq!(
        overdue_events(&config, &c.state, at("2026-04-21T09:00:00Z")).len(),
        1
    );
    // Cases in other states are left alone: a submitted case, one waiting
    // for the applicant's answer (its decision clock is stopped), a draft.
    let mut waiting = case_after(4);
    waiting.run(
        Role::LegalReviewer,
        Command::RequestInformation {
            questions: "Which legal basis applies?".into(),
        },
        "2026-01-20T09:00:00Z",
    );
    assert_eq!(waiting.state.status, CaseStatus::WaitingForApplicant);
    for c in [case_after(1), case_after(2), case_after(6), waiting] {
        assert!(
            overdue_events(&config, &c.state, at("2027-12-31T09:00:00Z")).is_empty(),
            "{:?}",
            c.state.status
        );
    }
}

#[test]
fn a_case_officer_grants_more_time_with_reasons() {
    let mut c = incomplete_case();
    let ext = |until, reasons: &str| Command::ExtendCompletion {
        until,
        reasons: reasons.into(),
    };
    // Reasons are mandatory, the new day must be later than the deadline.
    let err = c
        .try_run(
            Role::CaseOfficer,
            ext(date(2026, 4, 20), " "),
            "2026-03-25T09:00:00Z",
        )
        .unwrap_err();
    assert!(err.to_string().contains("reasons"), "{err}");
    let err = c
        .try_run(
            Role::CaseOfficer,
            ext(date(2026, 3, 27), "Ethics board meets late"),
            "2026-03-25T09:00:00Z",
        )
        .unwrap_err();
    assert!(err.to_string().contains("until"), "{err}");
    // Applicants may not extend their own deadline.
    assert!(matches!(
        c.try_run(
            Role::Applicant,
            ext(date(2026, 4, 20), "please"),
            "2026-03-25T09:00:00Z"
        ),
        Err(AccessError::Forbidden { .. })
    ));
    // Even after the deadline, until the applicant submits.
    c.run(
        Role::CaseOfficer,
        ext(date(2026, 4, 20), "The ethics board meets on 14 April."),
        "2026-03-31T08:00:00Z",
    );
    let clock = case_clock(
        &c.state,
        &ClockConfig::default(),
        at("2026-04-01T09:00:00Z"),
    )
    .unwrap();
    assert_eq!(clock.kind, ClockKind::ApplicantCompletion);
    assert_eq!(clock.deadline, date(2026, 4, 20));
    assert!(!clock.overdue);
    c.run(Role::Applicant, Command::Submit, "2026-04-15T09:00:00Z");
    assert_eq!(c.state.status, CaseStatus::Submitted);
}

#[test]
fn a_new_submission_has_a_completeness_clock_and_is_in_the_queue() {
    let mut c = Case::new();
    for (role, cmd, now) in happy_path().into_iter().take(2) {
        c.run(role, cmd, now);
    }
    let cfg = ClockConfig::default();
    // Submitted Tuesday 13 January 2026: 10 working days → 27 January.
    let clock = case_clock(&c.state, &cfg, at("2026-01-14T09:00:00Z")).unwrap();
    assert_eq!(clock.kind, ClockKind::CompletenessCheck);
    assert_eq!(clock.deadline, date(2026, 1, 27));
    let q = queue([&c.state], &cfg, at("2026-01-14T09:00:00Z"));
    assert_eq!(q.len(), 1, "the old queue left new submissions out");
    let officer = principal(Role::CaseOfficer);
    let items = work_queue(
        [&c.state],
        &cfg,
        at("2026-01-14T09:00:00Z"),
        &officer,
        &CaseFilter::default(),
    );
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].waiting_for, vec![Role::CaseOfficer]);
    // Configurable.
    let short = ClockConfig {
        completeness_working_days: 2,
        ..ClockConfig::default()
    };
    let late = case_clock(&c.state, &short, at("2026-01-20T09:00:00Z")).unwrap();
    assert!(late.overdue);
    let overdue = CaseFilter {
        clock: Some(ClockFilter::Overdue),
        ..CaseFilter::default()
    };
    assert_eq!(
        work_queue(
            [&c.state],
            &short,
            at("2026-01-20T09:00:00Z"),
            &officer,
            &overdue
        )
        .len(),
        1
    );
    assert!(
        work_queue(
            [&c.state],
            &cfg,
            at("2026-01-20T09:00:00Z"),
            &officer,
            &overdue
        )
        .is_empty()
    );
}

/// A case under review since Thursday 15 January 2026.
fn under_review() -> Case {
    let mut c = Case::new();
    for (role, cmd, now) in happy_path().into_iter().take(4) {
        c.run(role, cmd, now);
    }
    c
}

#[test]
fn the_decision_period_extends_by_at_most_three_months_with_reasons() {
    let mut c = under_review();
    let cfg = ClockConfig::default();
    let before = case_clock(&c.state, &cfg, at("2026-02-01T09:00:00Z")).unwrap();
    assert_eq!(before.deadline, date(2026, 4, 15));
    let ext = |months, reasons: &str| Command::ExtendDecisionPeriod {
        months,
        reasons: reasons.into(),
    };
    let err = c
        .try_run(Role::DecisionMaker, ext(2, ""), "2026-02-01T09:00:00Z")
        .unwrap_err();
    assert!(err.to_string().contains("reasons"), "{err}");
    let err = c
        .try_run(
            Role::DecisionMaker,
            ext(4, "Complex linkage"),
            "2026-02-01T09:00:00Z",
        )
        .unwrap_err();
    assert!(err.to_string().contains("months"), "{err}");
    assert!(matches!(
        c.try_run(Role::Applicant, ext(1, "x"), "2026-02-01T09:00:00Z"),
        Err(AccessError::Forbidden { .. })
    ));
    let events = c
        .try_run(
            Role::DecisionMaker,
            ext(
                2,
                "Linkage of four registers needs the data holders' review.",
            ),
            "2026-02-02T09:00:00Z",
        )
        .unwrap();
    assert!(matches!(
        events[0].change,
        Change::DecisionPeriodExtended { months: 2, deadline, .. } if deadline == date(2026, 6, 15)
    ));
    let after = case_clock(&c.state, &cfg, at("2026-02-03T09:00:00Z")).unwrap();
    assert_eq!(after.deadline, date(2026, 6, 15));
    assert_eq!(after.extended_months, 2);
    // One month is left of the legal maximum.
    let err = c
        .try_run(Role::CaseOfficer, ext(2, "more"), "2026-02-03T09:00:00Z")
        .unwrap_err();
    assert!(err.to_string().contains("between 1 and 1"), "{err}");
    c.run(
        Role::CaseOfficer,
        ext(1, "Holder delayed."),
        "2026-02-03T10:00:00Z",
    );
    assert_eq!(c.state.decision_extended_months, 3);
    // Lead times say the case was extended, once published.
    c.run(
        Role::LegalReviewer,
        Command::RecordLegalReview {
            findings: vec!["ok".into()],
            recommendation: Recommendation::Approve,
        },
        "2026-02-04T09:00:00Z",
    );
    c.run(
        Role::DataSteward,
        Command::RecordTechnicalReview {
            findings: vec!["ok".into()],
            recommendation: Recommendation::Approve,
        },
        "2026-02-04T10:00:00Z",
    );
    c.run(
        Role::DecisionMaker,
        Command::Approve {
            reasons: "In order.".into(),
        },
        "2026-05-04T09:00:00Z",
    );
    assert!(lead_times([&c.state]).is_empty(), "not published yet");
    c.run(Role::CaseOfficer, Command::Publish, "2026-05-05T09:00:00Z");
    let figures = lead_times([&c.state]);
    let review = figures.iter().find(|f| f.stage == Stage::Review).unwrap();
    assert_eq!(review.extended_cases, 1);
}

fn approved() -> Case {
    let mut c = Case::new();
    for (role, cmd, now) in happy_path().into_iter().take(7) {
        c.run(role, cmd, now);
    }
    c
}

#[test]
fn a_permit_cannot_start_before_the_decision_or_outlive_the_maximum() {
    let issue = |from, until| Command::IssuePermit {
        permit_id: permit_id(),
        terms: PermitTerms {
            valid_from: from,
            valid_until: until,
            ..terms()
        },
    };
    // Decided 2 March 2026.
    let err = approved()
        .try_run(
            Role::CaseOfficer,
            issue(date(2026, 1, 1), date(2027, 1, 1)),
            "2026-03-03T09:00:00Z",
        )
        .unwrap_err();
    assert!(err.to_string().contains("valid_from"), "{err}");
    let err = approved()
        .try_run(
            Role::CaseOfficer,
            issue(date(2026, 6, 1), date(2099, 12, 31)),
            "2026-03-03T09:00:00Z",
        )
        .unwrap_err();
    assert!(err.to_string().contains("valid_until"), "{err}");
    // Ten years exactly is allowed; one day more is not.
    approved().run(
        Role::CaseOfficer,
        issue(date(2026, 6, 1), date(2036, 5, 31)),
        "2026-03-03T09:00:00Z",
    );
    assert!(
        approved()
            .try_run(
                Role::CaseOfficer,
                issue(date(2026, 6, 1), date(2036, 6, 1)),
                "2026-03-03T09:00:00Z"
            )
            .is_err()
    );
    // The decision day itself is a valid first day.
    approved().run(
        Role::CaseOfficer,
        issue(date(2026, 3, 2), date(2027, 3, 1)),
        "2026-03-03T09:00:00Z",
    );
}

#[test]
fn members_must_be_users_of_the_applying_organisation() {
    let o = org(APPLICANT_ORG);
    let members = vec![user("anna"), user("stranger"), user("ghost")];
    let orgs_of = |u: &UserId| match u.as_str() {
        "anna" => Some(vec![org(APPLICANT_ORG)]),
        "stranger" => Some(vec![org(OTHER_ORG)]),
        _ => None,
    };
    let issues = member_issues("members", &members, &o, &[], orgs_of);
    assert_eq!(issues.len(), 2);
    assert_eq!(issues[0].field, "members[1]");
    assert!(issues[0].problem.contains("applying organisation"));
    assert!(issues[0].problem.contains("invitation"));
    assert_eq!(issues[1].field, "members[2]");
    assert!(issues[1].problem.contains("not a user"));
    // A stranger who accepted an invitation may be named; an invitation
    // does not make an unknown id a user.
    let issues = member_issues(
        "members",
        &members,
        &o,
        &[user("stranger"), user("ghost")],
        orgs_of,
    );
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].field, "members[2]");
}

#[test]
fn every_member_reads_their_permit() {
    let mut c = approved();
    c.run(
        Role::CaseOfficer,
        Command::IssuePermit {
            permit_id: permit_id(),
            terms: terms(),
        },
        "2026-03-03T09:00:00Z",
    );
    // Bertil is a member without the applicant role anywhere.
    let bertil = Principal::user(user("bertil"));
    assert!(c.state.authorize_permit_read(&bertil).is_ok());
    let stranger = Principal::user(user("fredrik"));
    assert!(c.state.authorize_permit_read(&stranger).is_err());
}

#[test]
fn submit_checks_datasets_against_the_configured_list() {
    let mut c = Case::new();
    let mut bad = content();
    bad.datasets[0].dataset = "does_not_exist".into();
    c.run(
        Role::Applicant,
        Command::Create {
            case_id: case_id(),
            content: bad,
        },
        "2026-01-12T09:00:00Z",
    );
    let err = c
        .try_run(Role::Applicant, Command::Submit, "2026-01-13T09:00:00Z")
        .unwrap_err();
    let AccessError::Invalid { issues } = err else {
        panic!("{err}")
    };
    assert_eq!(issues[0].field, "datasets[0].dataset");
    assert!(issues[0].problem.contains("patient_register_inpatient"));
}

#[test]
fn control_and_bidi_characters_are_refused_in_text() {
    for title in ["Heart\u{0}failure", "Heart \u{202E}eruliaf", "Two\nlines"] {
        let mut c = Case::new();
        let mut bad = content();
        bad.title = title.into();
        let err = c
            .try_run(
                Role::Applicant,
                Command::Create {
                    case_id: case_id(),
                    content: bad,
                },
                "2026-01-12T09:00:00Z",
            )
            .unwrap_err();
        assert!(err.to_string().contains("title"), "{title:?}: {err}");
    }
    // Multi-line text keeps its line breaks.
    let mut ok = content();
    ok.summary = "First line.\nSecond line.".into();
    Case::new().run(
        Role::Applicant,
        Command::Create {
            case_id: case_id(),
            content: ok,
        },
        "2026-01-12T09:00:00Z",
    );
    assert_eq!(strip_controls("a\u{0}b\u{202E}c\nd"), "abc d");
}

#[test]
fn unknown_fields_are_refused_at_command_level() {
    let r: Result<Command, _> =
        serde_json::from_str(r#"{"type":"withdraw","reason":"x","extra":1}"#);
    assert!(r.is_err());
    // (Commands without fields, such as `submit`, are checked by the case
    // service, which compares the request with the parsed command.)
    let r: Result<Command, _> = serde_json::from_str(r#"{"type":"submit"}"#);
    assert!(r.is_ok());
}

#[test]
fn content_is_sniffed_against_the_declared_media_type() {
    assert!(sniff_media_type("application/pdf", b"%PDF-1.7\n...").is_ok());
    assert!(sniff_media_type("application/pdf", b"MZ\x90\x00 executable").is_err());
    assert_eq!(
        sniff_media_type("text/plain; charset=utf-8", "Hej på dig\n".as_bytes()).unwrap(),
        "text/plain"
    );
    assert!(sniff_media_type("text/plain; charset=latin1", b"abc").is_err());
    assert!(sniff_media_type("text/csv", b"a,b\n1,\x00").is_err());
    assert!(sniff_media_type("image/png", b"\x89PNG\r\n\x1a\n....").is_ok());
    assert!(sniff_media_type("image/jpeg", b"\x89PNG\r\n\x1a\n").is_err());
    assert!(
        sniff_media_type(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            b"PK\x03\x04rest"
        )
        .is_ok()
    );
    let mut odt = b"PK\x03\x04".to_vec();
    odt.resize(30, 0);
    odt.extend_from_slice(b"mimetypeapplication/vnd.oasis.opendocument.text");
    assert!(sniff_media_type("application/vnd.oasis.opendocument.text", &odt).is_ok());
    assert!(sniff_media_type("application/vnd.oasis.opendocument.spreadsheet", &odt).is_err());
    assert!(sniff_media_type("not a type", b"x").is_err());
}

#[test]
fn drafts_are_invisible_to_staff_until_submitted() {
    let mut c = Case::new();
    c.run(
        Role::Applicant,
        Command::Create {
            case_id: case_id(),
            content: content(),
        },
        "2026-01-12T09:00:00Z",
    );
    for role in [Role::CaseOfficer, Role::Auditor, Role::DecisionMaker] {
        assert!(!may_see_case(&principal(role), &c.state), "{role}");
    }
    assert!(may_see_case(&principal(Role::Applicant), &c.state));
    c.run(Role::Applicant, Command::Submit, "2026-01-13T09:00:00Z");
    assert!(may_see_case(&principal(Role::CaseOfficer), &c.state));
}

#[test]
fn reviews_are_kept_per_reviewer_and_answers_go_to_whoever_asked() {
    let mut c = under_review();
    let second_lawyer =
        Principal::user(user("lars-legal")).with_role(org(HUB), Role::LegalReviewer);
    c.run(
        Role::LegalReviewer,
        Command::RecordLegalReview {
            findings: vec!["First view.".into()],
            recommendation: Recommendation::Approve,
        },
        "2026-01-20T09:00:00Z",
    );
    c.try_run_as(
        &second_lawyer,
        Command::RecordLegalReview {
            findings: vec!["Second view.".into()],
            recommendation: Recommendation::Reject,
        },
        "2026-01-21T09:00:00Z",
    )
    .unwrap();
    assert_eq!(c.state.legal_reviews.len(), 2);
    assert_eq!(c.state.legal_reviews[0].by, user("lisa-legal"));
    assert_eq!(c.state.legal_reviews[1].by, user("lars-legal"));
    // A reviewer's second review replaces their own.
    c.run(
        Role::LegalReviewer,
        Command::RecordLegalReview {
            findings: vec!["Revised view.".into()],
            recommendation: Recommendation::Approve,
        },
        "2026-01-22T09:00:00Z",
    );
    assert_eq!(c.state.legal_reviews.len(), 2);
    assert_eq!(
        c.state.legal_reviews[0].findings,
        vec!["Revised view.".to_string()]
    );

    // The data steward asks; the answer goes to the data steward only.
    c.run(
        Role::DataSteward,
        Command::RequestInformation {
            questions: "Which years?".into(),
        },
        "2026-01-23T09:00:00Z",
    );
    let before = c.state.clone();
    let events = c
        .try_run(
            Role::Applicant,
            Command::ProvideInformation {
                answer: "2015-2024.".into(),
                attachments: vec![],
            },
            "2026-01-26T09:00:00Z",
        )
        .unwrap();
    let notes = notifications_for_events(&before, &events);
    let staff: Vec<&Recipient> = notes
        .iter()
        .flat_map(|n| &n.to)
        .filter(|r| !matches!(r, Recipient::Users(u) if u.contains(&user("bertil"))))
        .collect();
    assert_eq!(staff, vec![&Recipient::Users(vec![user("david-steward")])]);
}

#[test]
fn assignment_and_the_mine_filter() {
    let mut c = under_review();
    let cfg = ClockConfig::default();
    let lawyer = principal(Role::LegalReviewer);
    // A reviewer may take a case, not give it to someone else.
    assert!(matches!(
        c.try_run(
            Role::LegalReviewer,
            Command::Assign {
                assignee: Some(user("olle-officer"))
            },
            "2026-01-16T09:00:00Z"
        ),
        Err(AccessError::Forbidden { .. })
    ));
    c.run(
        Role::LegalReviewer,
        Command::Assign {
            assignee: Some(user("lisa-legal")),
        },
        "2026-01-16T09:00:00Z",
    );
    // Not to an applicant of the case (conflict of interest).
    assert!(
        c.try_run(
            Role::CaseOfficer,
            Command::Assign {
                assignee: Some(user("bertil"))
            },
            "2026-01-16T10:00:00Z"
        )
        .is_err()
    );
    let mine = CaseFilter {
        assigned: Assignment::Mine,
        ..CaseFilter::default()
    };
    let now = at("2026-01-17T09:00:00Z");
    assert_eq!(work_queue([&c.state], &cfg, now, &lawyer, &mine).len(), 1);
    assert!(work_queue([&c.state], &cfg, now, &principal(Role::CaseOfficer), &mine).is_empty());
    let unassigned = CaseFilter {
        assigned: Assignment::Unassigned,
        ..CaseFilter::default()
    };
    assert!(work_queue([&c.state], &cfg, now, &lawyer, &unassigned).is_empty());
    let by_role = CaseFilter {
        role: Some(Role::DecisionMaker),
        ..CaseFilter::default()
    };
    assert!(work_queue([&c.state], &cfg, now, &lawyer, &by_role).is_empty());
}

proptest! {
    /// Whatever the extensions asked, the decision deadline never moves
    /// more than the legal maximum past the statutory one, and every
    /// accepted extension needs reasons.
    #[test]
    fn extensions_never_pass_the_legal_maximum(months in proptest::collection::vec(0u32..6, 1..6)) {
        let mut c = under_review();
        let cfg = ClockConfig::default();
        let base = case_clock(&c.state, &cfg, at("2026-01-20T09:00:00Z")).unwrap().deadline;
        for (i, m) in months.iter().enumerate() {
            let now = format!("2026-01-{:02}T09:00:00Z", 20 + i);
            let _ = c.try_run(Role::DecisionMaker, Command::ExtendDecisionPeriod {
                months: *m,
                reasons: "Complex".into(),
            }, &now);
        }
        prop_assert!(c.state.decision_extended_months <= 3);
        let clock = case_clock(&c.state, &cfg, at("2026-01-30T09:00:00Z")).unwrap();
        let limit = next_working_day(base.checked_add_months(chrono::Months::new(3)).unwrap());
        prop_assert!(clock.deadline <= limit, "{} > {}", clock.deadline, limit);
    }

    /// A permit's validity window is accepted exactly when it starts on or
    /// after the decision and ends within the maximum.
    #[test]
    fn validity_rule(from_off in -30i64..30, len_days in 0i64..4000) {
        let cfg = AccessConfig::default();
        let decided = date(2026, 3, 2);
        let from = decided + chrono::Duration::days(from_off);
        let until = from + chrono::Duration::days(len_days);
        let issues = validity_issues(&cfg, Some(decided), from, until);
        let last = from.checked_add_months(chrono::Months::new(120)).unwrap().pred_opt().unwrap();
        let expected_ok = from >= decided && until <= last;
        prop_assert_eq!(issues.is_empty(), expected_ok);
    }

    /// Stripping leaves no control or bidi character, and text without
    /// them passes the check untouched.
    #[test]
    fn stripped_text_is_clean(s in "\\PC*[\u{0}\u{1b}\u{202E}\u{2066}]?\\PC*") {
        let clean = strip_controls(&s);
        prop_assert!(forbidden_char(&clean, false).is_none());
    }
}

fn next_working_day(d: chrono::NaiveDate) -> chrono::NaiveDate {
    calendar::next_working_day_on_or_after(d)
}

#[test]
fn an_invited_user_answers_their_invitation_once_and_reads_the_application() {
    let mut c = case_after(4);
    let bertil = Principal::user(user("bertil"));
    // Before an invitation, bertil neither reads the case nor answers.
    assert!(authorize(&bertil, Action::ViewCase, Target::Case(&c.state)).is_err());
    let r = c.try_run_as(
        &bertil,
        Command::AnswerInvitation { accept: true },
        "2026-01-20T09:00:00Z",
    );
    assert!(matches!(r, Err(AccessError::Forbidden { .. })), "{r:?}");

    c.run(
        Role::Applicant,
        Command::InviteMember {
            user: user("bertil"),
        },
        "2026-01-20T09:00:00Z",
    );
    let i = c.state.invitation(&user("bertil")).unwrap();
    assert_eq!(i.status, InvitationStatus::Pending);
    assert_eq!(i.invited_by, user("anna"));
    // Invited again while pending: refused.
    let r = c.try_run(
        Role::CaseOfficer,
        Command::InviteMember {
            user: user("bertil"),
        },
        "2026-01-20T10:00:00Z",
    );
    assert!(
        matches!(r, Err(AccessError::IllegalTransition { .. })),
        "{r:?}"
    );
    // The invitee reads the application; someone else still does not
    // answer for them.
    assert!(authorize(&bertil, Action::ViewCase, Target::Case(&c.state)).is_ok());
    let r = c.try_run(
        Role::Applicant,
        Command::AnswerInvitation { accept: true },
        "2026-01-20T10:00:00Z",
    );
    assert!(matches!(r, Err(AccessError::Forbidden { .. })), "{r:?}");
    // Bertil declines; a new invitation may then be sent, and accepted.
    c.try_run_as(
        &bertil,
        Command::AnswerInvitation { accept: false },
        "2026-01-20T11:00:00Z",
    )
    .unwrap();
    assert_eq!(c.events.last().unwrap().role, Role::Applicant);
    assert!(c.state.accepted_invitees().is_empty());
    assert!(authorize(&bertil, Action::ViewCase, Target::Case(&c.state)).is_err());
    c.run(
        Role::CaseOfficer,
        Command::InviteMember {
            user: user("bertil"),
        },
        "2026-01-21T09:00:00Z",
    );
    c.try_run_as(
        &bertil,
        Command::AnswerInvitation { accept: true },
        "2026-01-21T10:00:00Z",
    )
    .unwrap();
    assert_eq!(c.state.accepted_invitees(), vec![user("bertil")]);
    // Answered: not again.
    let r = c.try_run_as(
        &bertil,
        Command::AnswerInvitation { accept: false },
        "2026-01-21T11:00:00Z",
    );
    assert!(matches!(r, Err(AccessError::Forbidden { .. })), "{r:?}");
    assert_eq!(CaseState::from_events(&c.events), c.state);
}
