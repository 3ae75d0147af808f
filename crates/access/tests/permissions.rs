//! Who may do what: every command × every role, with the case in a state
//! where the command is otherwise legal, so that a refusal can only come
//! from the permission check. The expected roles are written out here,
//! independently of the crate's own table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use Role::*;
use common::*;
use halsohub_access::*;

struct Row {
    action: Action,
    setup: fn() -> Case,
    command: fn() -> Command,
    now: &'static str,
    allowed: &'static [Role],
}

fn waiting() -> Case {
    let mut c = case_after(4);
    c.run(
        LegalReviewer,
        Command::RequestInformation {
            questions: "Why these variables?".into(),
        },
        "2026-01-20T09:00:00Z",
    );
    c
}

fn amendment() -> Amendment {
    Amendment {
        members: None,
        period: None,
        datasets: None,
        valid_until: Some(date(2027, 12, 31)),
        reason: "More time needed.".into(),
    }
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            action: Action::CreateApplication,
            setup: Case::new,
            command: || Command::Create {
                case_id: case_id(),
                content: content(),
            },
            now: "2026-01-12T09:00:00Z",
            allowed: &[Applicant],
        },
        Row {
            action: Action::UpdateDraft,
            setup: || case_after(1),
            command: || Command::UpdateDraft { content: content() },
            now: "2026-01-12T10:00:00Z",
            allowed: &[Applicant],
        },
        Row {
            action: Action::Submit,
            setup: || case_after(1),
            command: || Command::Submit,
            now: "2026-01-12T10:00:00Z",
            allowed: &[Applicant],
        },
        Row {
            action: Action::StartCompletenessCheck,
            setup: || case_after(2),
            command: || Command::StartCompletenessCheck,
            now: "2026-01-14T09:00:00Z",
            allowed: &[CaseOfficer],
        },
        Row {
            action: Action::ReturnIncomplete,
            setup: || case_after(3),
            command: || Command::ReturnIncomplete {
                missing: vec![FieldIssue::new("summary", "too short")],
            },
            now: "2026-01-15T09:00:00Z",
            allowed: &[CaseOfficer],
        },
        Row {
            action: Action::AcceptComplete,
            setup: || case_after(3),
            command: || Command::AcceptComplete,
            now: "2026-01-15T09:00:00Z",
            allowed: &[CaseOfficer],
        },
        Row {
            action: Action::RequestInformation,
            setup: || case_after(4),
            command: || Command::RequestInformation {
                questions: "Please clarify.".into(),
            },
            now: "2026-01-20T09:00:00Z",
            allowed: &[CaseOfficer, LegalReviewer, DataSteward],
        },
        Row {
            action: Action::ProvideInformation,
            setup: waiting,
            command: || Command::ProvideInformation {
                answer: "Because.".into(),
                attachments: vec![],
            },
            now: "2026-01-22T09:00:00Z",
            allowed: &[Applicant],
        },
        Row {
            action: Action::RecordLegalReview,
            setup: || case_after(4),
            command: || Command::RecordLegalReview {
                findings: vec!["No remarks.".into()],
                recommendation: Recommendation::Approve,
            },
            now: "2026-01-20T09:00:00Z",
            allowed: &[LegalReviewer],
        },
        Row {
            action: Action::RecordTechnicalReview,
            setup: || case_after(4),
            command: || Command::RecordTechnicalReview {
                findings: vec!["No remarks.".into()],
                recommendation: Recommendation::Approve,
            },
            now: "2026-01-20T09:00:00Z",
            allowed: &[DataSteward],
        },
        Row {
            action: Action::Approve,
            setup: || case_after(6),
            command: || Command::Approve {
                reasons: "Well founded.".into(),
            },
            now: "2026-02-10T09:00:00Z",
            allowed: &[DecisionMaker],
        },
        Row {
            action: Action::Reject,
            setup: || case_after(6),
            command: || Command::Reject {
                reasons: "Not within Art. 53.".into(),
            },
            now: "2026-02-10T09:00:00Z",
            allowed: &[DecisionMaker],
        },
        Row {
            action: Action::IssuePermit,
            setup: || case_after(7),
            command: || Command::IssuePermit {
                permit_id: permit_id(),
                terms: terms(),
            },
            now: "2026-03-05T09:00:00Z",
            allowed: &[CaseOfficer],
        },
        Row {
            action: Action::RecordDelivery,
            setup: || case_after(8),
            command: || Command::RecordDelivery {
                note: "snapshot 7".into(),
            },
            now: "2026-06-02T09:00:00Z",
            allowed: &[DataSteward],
        },
        Row {
            action: Action::Publish,
            setup: || case_after(7),
            command: || Command::Publish,
            now: "2026-03-05T09:00:00Z",
            allowed: &[CaseOfficer],
        },
        Row {
            action: Action::Close,
            setup: || case_after(9),
            command: || Command::Close {
                reason: "Project finished.".into(),
            },
            now: "2026-07-01T09:00:00Z",
            allowed: &[CaseOfficer],
        },
        Row {
            action: Action::Withdraw,
            setup: || case_after(4),
            command: || Command::Withdraw {
                reason: "Changed plans.".into(),
            },
            now: "2026-01-20T09:00:00Z",
            allowed: &[Applicant],
        },
        Row {
            action: Action::RequestAmendment,
            setup: || case_after(9),
            command: || Command::RequestAmendment {
                amendment: amendment(),
            },
            now: "2026-07-01T09:00:00Z",
            allowed: &[Applicant],
        },
        Row {
            action: Action::RevokePermit,
            setup: || case_after(9),
            command: || Command::RevokePermit {
                reason: "Breach of conditions.".into(),
            },
            now: "2026-07-01T09:00:00Z",
            allowed: &[DecisionMaker],
        },
        Row {
            action: Action::ExtendCompletion,
            setup: returned,
            command: || Command::ExtendCompletion {
                until: date(2026, 3, 31),
                reasons: "The ethics board meets late.".into(),
            },
            now: "2026-01-20T09:00:00Z",
            allowed: &[CaseOfficer],
        },
        Row {
            action: Action::ExtendDecisionPeriod,
            setup: || case_after(4),
            command: || Command::ExtendDecisionPeriod {
                months: 1,
                reasons: "Complex linkage.".into(),
            },
            now: "2026-01-20T09:00:00Z",
            allowed: &[CaseOfficer, DecisionMaker],
        },
        Row {
            action: Action::Assign,
            setup: || case_after(4),
            // Assigning someone else: case officers only (others may
            // take a case themselves).
            command: || Command::Assign {
                assignee: Some(user("olle-officer")),
            },
            now: "2026-01-20T09:00:00Z",
            allowed: &[CaseOfficer],
        },
        Row {
            action: Action::InviteMember,
            setup: || case_after(4),
            command: || Command::InviteMember {
                user: user("bertil"),
            },
            now: "2026-01-20T09:00:00Z",
            allowed: &[Applicant, CaseOfficer],
        },
        Row {
            action: Action::AnswerInvitation,
            setup: || {
                let mut c = case_after(4);
                c.run(
                    Applicant,
                    Command::InviteMember {
                        user: user("bertil"),
                    },
                    "2026-01-20T08:00:00Z",
                );
                c
            },
            command: || Command::AnswerInvitation { accept: true },
            now: "2026-01-20T09:00:00Z",
            // No role answers it: only the invited user (bertil), whatever
            // roles they hold.
            allowed: &[],
        },
    ]
}

fn returned() -> Case {
    let mut c = case_after(3);
    c.run(
        CaseOfficer,
        Command::ReturnIncomplete {
            missing: vec![FieldIssue::new("summary", "too short")],
        },
        "2026-01-15T09:00:00Z",
    );
    c
}

#[test]
fn every_command_is_in_the_table() {
    let covered: BTreeSet<Action> = rows().iter().map(|r| r.action).collect();
    let commands: BTreeSet<Action> = Action::ALL.into_iter().filter(|a| a.is_command()).collect();
    assert_eq!(covered, commands);
    for r in rows() {
        assert_eq!((r.command)().action(), r.action);
    }
}

#[test]
fn each_role_is_refused_exactly_what_it_may_not_do() {
    for row in rows() {
        for role in Role::ALL {
            let mut case = (row.setup)();
            let before = case.state.clone();
            let result = case.try_run(role, (row.command)(), row.now);
            if row.allowed.contains(&role) {
                let events = result.unwrap_or_else(|e| panic!("{} as {role}: {e}", row.action));
                assert_eq!(events[0].role, role);
            } else {
                match result {
                    Err(AccessError::Forbidden { action, .. }) => assert_eq!(action, row.action),
                    other => panic!(
                        "{} as {role}: expected Forbidden, got {other:?}",
                        row.action
                    ),
                }
                assert_eq!(case.state, before);
            }
        }
    }
}

#[test]
fn anonymous_callers_and_other_organisations_are_refused_every_command() {
    for row in rows() {
        let mut case = (row.setup)();
        let r = case.try_run_as(&Principal::anonymous(), (row.command)(), row.now);
        assert!(
            matches!(r, Err(AccessError::Forbidden { .. })),
            "{}",
            row.action
        );
        if row.allowed.contains(&Applicant) {
            let mut case = (row.setup)();
            let r = case.try_run_as(&foreign_applicant(), (row.command)(), row.now);
            assert!(
                matches!(r, Err(AccessError::Forbidden { .. })),
                "{} by another organisation: {r:?}",
                row.action
            );
        }
    }
}

#[test]
fn staff_may_not_act_on_their_own_application() {
    // Bertil is a member of the application and also a decision maker.
    let bertil = Principal::user(user("bertil"))
        .with_role(org(APPLICANT_ORG), Applicant)
        .with_role(org(HUB), DecisionMaker);
    let mut case = case_after(6);
    let err = case
        .try_run_as(
            &bertil,
            Command::Approve {
                reasons: "Looks good to me.".into(),
            },
            "2026-02-10T09:00:00Z",
        )
        .unwrap_err();
    assert!(err.to_string().contains("conflict of interest"), "{err}");
    // He may still read it, as a member.
    assert!(authorize(&bertil, Action::ViewCase, Target::Case(&case.state)).is_ok());
}

#[test]
fn queries_per_role() {
    let case = case_after(9);
    let state = &case.state;
    // (action, target is the case?, roles allowed)
    let table: &[(Action, bool, &[Role])] = &[
        (
            Action::ViewCase,
            true,
            &[
                Applicant,
                CaseOfficer,
                LegalReviewer,
                DataSteward,
                DecisionMaker,
                Auditor,
            ],
        ),
        (
            Action::ViewHistory,
            true,
            &[
                Applicant,
                CaseOfficer,
                LegalReviewer,
                DataSteward,
                DecisionMaker,
                Auditor,
            ],
        ),
        (
            Action::ViewPermit,
            true,
            &[
                Applicant,
                CaseOfficer,
                LegalReviewer,
                DataSteward,
                DecisionMaker,
                OutputChecker,
                Auditor,
            ],
        ),
        (
            Action::ListCases,
            false,
            &[
                Applicant,
                CaseOfficer,
                LegalReviewer,
                DataSteward,
                DecisionMaker,
                Auditor,
            ],
        ),
        (
            Action::ViewWorkQueue,
            false,
            &[
                CaseOfficer,
                LegalReviewer,
                DataSteward,
                DecisionMaker,
                Auditor,
            ],
        ),
        (Action::ViewAuditLog, false, &[Auditor]),
        (Action::ManageUsers, false, &[Administrator]),
        (Action::ViewPublicRegister, false, &Role::ALL),
    ];
    let queries: BTreeSet<Action> = Action::ALL
        .into_iter()
        .filter(|a| !a.is_command())
        .collect();
    assert_eq!(queries, table.iter().map(|(a, _, _)| *a).collect());
    for (action, on_case, allowed) in table {
        for role in Role::ALL {
            let target = if *on_case {
                Target::Case(state)
            } else {
                Target::Hub
            };
            let r = authorize(&principal(role), *action, target);
            assert_eq!(
                r.is_ok(),
                allowed.contains(&role),
                "{action} as {role}: {r:?}"
            );
        }
        // Other organisations' applicants never see the case.
        if *on_case {
            assert!(authorize(&foreign_applicant(), *action, Target::Case(state)).is_err());
        }
    }
    assert!(
        authorize(
            &Principal::anonymous(),
            Action::ViewPublicRegister,
            Target::Hub
        )
        .is_ok()
    );
    assert!(
        authorize(
            &Principal::anonymous(),
            Action::ViewCase,
            Target::Case(state)
        )
        .is_err()
    );
    assert!(may_see_case(&principal(Auditor), state));
    assert!(!may_see_case(&foreign_applicant(), state));
    assert!(!may_see_case(&principal(Administrator), state));
}
