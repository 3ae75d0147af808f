//! The workflow end to end: a scripted case from draft to permit, delivery,
//! amendment and expiry; withdrawal; revocation; refusals of illegal
//! transitions and invalid input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use halsohub_access::*;

fn status_after(c: &Case) -> CaseStatus {
    c.state.status
}

#[test]
fn scripted_case_from_draft_to_expiry() {
    let mut c = Case::new();
    let path = happy_path();
    let expected = [
        CaseStatus::Draft,
        CaseStatus::Submitted,
        CaseStatus::CompletenessCheck,
        CaseStatus::UnderReview,
        CaseStatus::UnderReview,
        CaseStatus::UnderReview,
        CaseStatus::Approved,
        CaseStatus::PermitIssued,
        CaseStatus::DataDelivered,
    ];
    for ((role, cmd, now), want) in path.into_iter().zip(expected) {
        c.run(role, cmd, now);
        assert_eq!(status_after(&c), want);
    }
    assert_eq!(c.state.version, 9);
    // State is a fold over the events.
    assert_eq!(CaseState::from_events(&c.events), c.state);
    // Every event says who, in which role, when.
    assert_eq!(c.events[0].actor, user("anna"));
    assert_eq!(c.events[0].role, Role::Applicant);
    assert_eq!(c.events[6].role, Role::DecisionMaker);
    assert_eq!(
        c.events[6].why().as_deref(),
        Some("Purpose within Art. 53(1)(e); data minimised.")
    );

    let permit = c.state.permit.clone().unwrap();
    assert_eq!(permit.id.to_string(), "HH-P-2026-000123");
    assert_eq!(permit.case_id, case_id());
    // Valid 2026-06-01 ..= 2027-05-31 (Swedish dates).
    assert!(!permit.is_active(at("2026-05-31T12:00:00Z")));
    // 22:30 UTC on 31 May is 00:30 on 1 June in Stockholm (CEST).
    assert!(permit.is_active(at("2026-05-31T22:30:00Z")));
    assert!(permit.authorises(&user("bertil"), at("2026-09-01T12:00:00Z")));
    assert!(!permit.authorises(&user("olle-officer"), at("2026-09-01T12:00:00Z")));
    assert!(permit.is_active(at("2027-05-31T21:00:00Z")));
    assert_eq!(
        permit.status(at("2027-05-31T22:30:00Z")),
        PermitStatus::Expired
    );

    // Expiry ends access: no delivery under an expired permit.
    let err = c
        .try_run(
            Role::DataSteward,
            Command::RecordDelivery {
                note: "late".into(),
            },
            "2027-06-02T09:00:00Z",
        )
        .unwrap_err();
    assert!(
        matches!(err, AccessError::IllegalTransition { .. }),
        "{err}"
    );

    // Publication and closing.
    // A command dated before the latest event is refused.
    let err = c
        .try_run(Role::CaseOfficer, Command::Publish, "2026-03-10T09:00:00Z")
        .unwrap_err();
    assert!(matches!(err, AccessError::Invalid { .. }), "{err}");
    c.run(Role::CaseOfficer, Command::Publish, "2026-06-03T09:00:00Z");
    assert!(
        c.try_run(Role::CaseOfficer, Command::Publish, "2026-06-04T09:00:00Z")
            .is_err()
    );
    c.run(
        Role::CaseOfficer,
        Command::Close {
            reason: "Project finished and permit expired.".into(),
        },
        "2027-06-10T09:00:00Z",
    );
    assert_eq!(c.state.status, CaseStatus::Closed);
    let err = c
        .try_run(
            Role::Applicant,
            Command::RequestAmendment {
                amendment: Amendment {
                    members: None,
                    period: None,
                    datasets: None,
                    valid_until: Some(date(2028, 1, 1)),
                    reason: "more time".into(),
                },
            },
            "2027-06-11T09:00:00Z",
        )
        .unwrap_err();
    assert!(err.to_string().contains("final"), "{err}");
}

#[test]
fn incomplete_round_trip_and_stop_the_clock() {
    let mut c = case_after(3); // completeness check
    let err = c
        .try_run(
            Role::CaseOfficer,
            Command::ReturnIncomplete { missing: vec![] },
            "2026-01-16T09:00:00Z",
        )
        .unwrap_err();
    assert!(matches!(err, AccessError::Invalid { .. }));
    c.run(
        Role::CaseOfficer,
        Command::ReturnIncomplete {
            missing: vec![FieldIssue::new(
                "attachments",
                "the study protocol is missing",
            )],
        },
        "2026-01-16T09:00:00Z",
    );
    assert_eq!(c.state.status, CaseStatus::Incomplete);
    assert_eq!(c.state.missing.len(), 1);
    let mut new = content();
    new.attachments.push(attachment("study-protocol.pdf"));
    c.run(
        Role::Applicant,
        Command::UpdateDraft { content: new },
        "2026-01-20T09:00:00Z",
    )
    .run(Role::Applicant, Command::Submit, "2026-01-20T10:00:00Z")
    .run(
        Role::CaseOfficer,
        Command::StartCompletenessCheck,
        "2026-01-21T09:00:00Z",
    )
    .run(
        Role::CaseOfficer,
        Command::AcceptComplete,
        "2026-01-21T10:00:00Z",
    );
    assert_eq!(c.state.first_submitted_at, Some(at("2026-01-13T09:00:00Z")));
    assert_eq!(c.state.last_submitted_at, Some(at("2026-01-20T10:00:00Z")));

    c.run(
        Role::LegalReviewer,
        Command::RequestInformation {
            questions: "Please explain the data minimisation.".into(),
        },
        "2026-02-02T09:00:00Z",
    );
    assert_eq!(c.state.status, CaseStatus::WaitingForApplicant);
    // Staff cannot review while waiting for the applicant.
    assert!(
        c.try_run(
            Role::DataSteward,
            Command::RecordTechnicalReview {
                findings: vec!["ok".into()],
                recommendation: Recommendation::Approve
            },
            "2026-02-03T09:00:00Z"
        )
        .is_err()
    );
    c.run(
        Role::Applicant,
        Command::ProvideInformation {
            answer: "Only two variables are requested.".into(),
            attachments: vec![attachment("answer.pdf")],
        },
        "2026-02-09T09:00:00Z",
    );
    assert_eq!(c.state.status, CaseStatus::UnderReview);
    assert_eq!(c.state.pauses.len(), 1);
    assert_eq!(c.state.content.as_ref().unwrap().attachments.len(), 3);
}

#[test]
fn decisions_need_both_reviews_and_reasons() {
    let mut c = case_after(5); // legal review recorded only
    let err = c
        .try_run(
            Role::DecisionMaker,
            Command::Approve {
                reasons: "fine".into(),
            },
            "2026-02-10T09:00:00Z",
        )
        .unwrap_err();
    assert!(err.to_string().contains("technical review"), "{err}");
    let mut c = case_after(6);
    for reasons in ["", "   "] {
        let err = c
            .try_run(
                Role::DecisionMaker,
                Command::Reject {
                    reasons: reasons.into(),
                },
                "2026-02-10T09:00:00Z",
            )
            .unwrap_err();
        match err {
            AccessError::Invalid { issues } => assert_eq!(issues[0].field, "reasons"),
            other => panic!("{other}"),
        }
    }
    c.run(
        Role::DecisionMaker,
        Command::Reject {
            reasons: "The purpose is not covered by Art. 53.".into(),
        },
        "2026-02-10T09:00:00Z",
    );
    assert_eq!(c.state.status, CaseStatus::Rejected);
    // No permit for a rejected application.
    let err = c
        .try_run(
            Role::CaseOfficer,
            Command::IssuePermit {
                permit_id: permit_id(),
                terms: terms(),
            },
            "2026-02-11T09:00:00Z",
        )
        .unwrap_err();
    assert!(matches!(
        err,
        AccessError::IllegalTransition {
            status: CaseStatus::Rejected,
            ..
        }
    ));
    // Closed before publication: the decision can still be published.
    c.run(
        Role::CaseOfficer,
        Command::Close {
            reason: "Rejected; nothing more to do.".into(),
        },
        "2026-02-12T09:00:00Z",
    );
    c.run(Role::CaseOfficer, Command::Publish, "2026-02-13T09:00:00Z");
    assert_eq!(c.state.status, CaseStatus::Closed);
    assert!(register_entry(&c.state).is_some());
}

#[test]
fn submission_validation_lists_every_missing_field() {
    let mut c = Case::new();
    c.run(
        Role::Applicant,
        Command::Create {
            case_id: case_id(),
            content: ApplicationContent::draft(org(APPLICANT_ORG), "Draft"),
        },
        "2026-01-12T09:00:00Z",
    );
    let err = c
        .try_run(Role::Applicant, Command::Submit, "2026-01-12T10:00:00Z")
        .unwrap_err();
    let AccessError::Invalid { issues } = err else {
        panic!("expected invalid");
    };
    let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
    for f in [
        "summary",
        "purpose",
        "legal_basis",
        "datasets",
        "cohort",
        "period",
        "form",
    ] {
        assert!(fields.contains(&f), "{f} not in {fields:?}");
    }
    // Commands on a case that does not exist.
    let mut empty = Case::new();
    assert_eq!(
        empty.try_run(Role::Applicant, Command::Submit, "2026-01-12T10:00:00Z"),
        Err(AccessError::NoSuchCase)
    );
    // Creating twice.
    let err = c
        .try_run(
            Role::Applicant,
            Command::Create {
                case_id: case_id(),
                content: content(),
            },
            "2026-01-12T10:00:00Z",
        )
        .unwrap_err();
    assert!(matches!(err, AccessError::IllegalTransition { .. }));
}

#[test]
fn bad_input_is_refused_without_echoing_identity_numbers() {
    let mut bad = content();
    bad.summary = "Patient 19811218-9876 is the index case.".into();
    bad.attachments.push(Attachment {
        name: "virus.exe".into(),
        media_type: "application/x-msdownload".into(),
        size: 1 << 40,
        sha256: "nothex".into(),
    });
    bad.period = Some(Period {
        from: date(2025, 1, 1),
        until: date(2020, 1, 1),
    });
    let mut c = Case::new();
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
    let text = err.to_string();
    assert!(!text.contains("9876"), "{text}");
    let AccessError::Invalid { issues } = err else {
        panic!()
    };
    let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
    for f in [
        "summary",
        "period",
        "attachments[1].media_type",
        "attachments[1].size",
        "attachments[1].sha256",
    ] {
        assert!(fields.contains(&f), "{f} not in {fields:?}");
    }
    assert_eq!(c.state.version, 0, "nothing half-applied");

    // Unknown purposes do not even parse.
    let json = serde_json::json!({
        "type": "create",
        "case_id": "HH-A-2026-000001",
        "content": {"title": "x", "organisation": "karolinska", "purpose": "marketing"}
    });
    assert!(serde_json::from_value::<Command>(json).is_err());
    // Misspelt fields are refused rather than silently dropped.
    let json = serde_json::json!({
        "type": "create",
        "case_id": "HH-A-2026-000001",
        "content": {"title": "x", "organisation": "karolinska", "purpse": "education"}
    });
    let err = serde_json::from_value::<Command>(json).unwrap_err();
    assert!(err.to_string().contains("purpse"), "{err}");
}

#[test]
fn withdrawal_before_decision_only() {
    let mut c = case_after(4);
    c.run(
        Role::Applicant,
        Command::Withdraw {
            reason: "Funding ended.".into(),
        },
        "2026-01-20T09:00:00Z",
    );
    assert_eq!(c.state.status, CaseStatus::Withdrawn);
    assert!(c.state.status.is_final());

    let mut c = case_after(7);
    let err = c
        .try_run(
            Role::Applicant,
            Command::Withdraw { reason: "x".into() },
            "2026-03-03T09:00:00Z",
        )
        .unwrap_err();
    assert!(matches!(err, AccessError::IllegalTransition { .. }));
}

#[test]
fn amendment_is_a_new_review_and_revocation_ends_access() {
    let mut c = case_after(9);
    let amendment = Amendment {
        members: Some(vec![user("anna"), user("bertil"), user("cecilia")]),
        period: None,
        datasets: None,
        valid_until: Some(date(2027, 12, 31)),
        reason: "A new PhD student joins; analysis needs six more months.".into(),
    };
    c.run(
        Role::Applicant,
        Command::RequestAmendment {
            amendment: amendment.clone(),
        },
        "2026-09-01T09:00:00Z",
    );
    assert_eq!(c.state.status, CaseStatus::AmendmentUnderReview);
    assert!(c.state.legal_review.is_none(), "new review round");
    // The permit stays in force during review.
    assert!(
        c.state
            .permit
            .as_ref()
            .unwrap()
            .is_active(at("2026-09-02T09:00:00Z"))
    );
    assert!(
        c.try_run(
            Role::DecisionMaker,
            Command::Approve {
                reasons: "ok".into()
            },
            "2026-09-02T09:00:00Z"
        )
        .is_err()
    );
    c.run(
        Role::LegalReviewer,
        Command::RecordLegalReview {
            findings: vec!["No objection.".into()],
            recommendation: Recommendation::Approve,
        },
        "2026-09-03T09:00:00Z",
    )
    .run(
        Role::DataSteward,
        Command::RecordTechnicalReview {
            findings: vec!["No change to data.".into()],
            recommendation: Recommendation::Approve,
        },
        "2026-09-04T09:00:00Z",
    )
    .run(
        Role::DecisionMaker,
        Command::Approve {
            reasons: "Member added; extension justified.".into(),
        },
        "2026-09-07T09:00:00Z",
    );
    assert_eq!(c.state.status, CaseStatus::DataDelivered);
    let p = c.state.permit.clone().unwrap();
    assert_eq!(p.version, 2);
    assert_eq!(p.terms.valid_until, date(2027, 12, 31));
    assert!(p.authorises(&user("cecilia"), at("2027-09-01T09:00:00Z")));
    assert_eq!(c.state.amendments.len(), 1);
    // The original decision stays the application's decision.
    assert_eq!(
        c.state.decision.as_ref().unwrap().outcome,
        Outcome::Approved
    );
    assert_eq!(
        c.state.content.as_ref().unwrap().members.len(),
        3,
        "members amended"
    );

    c.run(
        Role::DecisionMaker,
        Command::RevokePermit {
            reason: "Conditions breached.".into(),
        },
        "2026-10-01T09:00:00Z",
    );
    assert_eq!(c.state.status, CaseStatus::Revoked);
    let p = c.state.permit.clone().unwrap();
    assert!(!p.is_active(at("2026-10-02T09:00:00Z")));
    assert!(
        p.is_active(at("2026-09-30T09:00:00Z")),
        "revocation is not retroactive"
    );
    assert_eq!(p.status(at("2026-10-02T09:00:00Z")), PermitStatus::Revoked);
    assert!(
        c.try_run(
            Role::DataSteward,
            Command::RecordDelivery { note: "x".into() },
            "2026-10-02T09:00:00Z"
        )
        .is_err()
    );
}

#[test]
fn permit_terms_are_checked() {
    let mut c = case_after(7);
    let mut t = terms();
    t.authorised_users.push(user("mallory"));
    t.valid_until = date(2026, 1, 1);
    t.sources.clear();
    let err = c
        .try_run(
            Role::CaseOfficer,
            Command::IssuePermit {
                permit_id: permit_id(),
                terms: t,
            },
            "2026-03-05T09:00:00Z",
        )
        .unwrap_err();
    let AccessError::Invalid { issues } = err else {
        panic!()
    };
    let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
    assert!(fields.contains(&"authorised_users[2]"), "{fields:?}");
    assert!(fields.contains(&"valid_until"));
    assert!(fields.contains(&"sources"));
}

#[test]
fn closing_an_incomplete_case_waits_for_the_applicant_deadline() {
    let mut c = case_after(3);
    // Returned Fri 16 Jan 2026; + 28 days = Fri 13 Feb 2026 (a working day),
    // so the applicant's deadline is 13 Feb and closing is possible from
    // 14 Feb.
    c.run(
        Role::CaseOfficer,
        Command::ReturnIncomplete {
            missing: vec![FieldIssue::new("summary", "too short")],
        },
        "2026-01-16T09:00:00Z",
    );
    assert_eq!(
        applicant_deadline(&ClockConfig::default(), at("2026-01-16T09:00:00Z")),
        date(2026, 2, 13)
    );
    let close = Command::Close {
        reason: "Not completed within four weeks.".into(),
    };
    assert!(
        c.try_run(Role::CaseOfficer, close.clone(), "2026-02-13T15:00:00Z")
            .is_err()
    );
    c.run(Role::CaseOfficer, close, "2026-02-16T09:00:00Z");
    assert_eq!(c.state.status, CaseStatus::Closed);
}

#[test]
fn commands_and_events_round_trip_as_json() {
    let c = case_after(9);
    let json = serde_json::to_string(&c.events).unwrap();
    let back: Vec<CaseEvent> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c.events);
    let cmd: Command = serde_json::from_str(r#"{"type":"reject","reasons":"no"}"#).unwrap();
    assert_eq!(
        cmd,
        Command::Reject {
            reasons: "no".into()
        }
    );
}
