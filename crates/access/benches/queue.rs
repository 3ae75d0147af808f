//! Throughput of the read side over many cases: folding events, the staff
//! queue (clock arithmetic on the working-day calendar) and lead-time
//! figures. `cargo bench -p halsohub-access --bench queue`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use halsohub_access::*;

fn principal(name: &str, org: &str, role: Role) -> Principal {
    Principal::user(UserId::new(name).unwrap()).with_role(OrgId::new(org).unwrap(), role)
}

/// `n` cases at various stages, as event streams.
fn streams(n: u32) -> Vec<Vec<CaseEvent>> {
    let applicant = principal("anna", "karolinska", Role::Applicant);
    let officer = principal("olle", "hub", Role::CaseOfficer);
    let legal = principal("lisa", "hub", Role::LegalReviewer);
    let steward = principal("david", "hub", Role::DataSteward);
    let decider = principal("dora", "hub", Role::DecisionMaker);
    let base: DateTime<Utc> = "2024-01-01T09:00:00Z".parse().unwrap();
    let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
    (1..=n)
        .map(|i| {
            let mut content = ApplicationContent::draft(OrgId::new("karolinska").unwrap(), "Study");
            content.summary = "Summary.".into();
            content.purpose = Some(Purpose::PublicHealth);
            content.legal_basis = Some(LegalBasis::PublicTask);
            content.members = vec![UserId::new("anna").unwrap()];
            content.datasets = vec![DatasetRequest {
                dataset: "patient_register".into(),
                variables: vec!["diagnosis".into()],
            }];
            content.cohort = Some(serde_json::json!({}));
            content.period = Some(Period {
                from: d(2015, 1, 1),
                until: d(2020, 1, 1),
            });
            content.form = Some(RequestedForm::PseudonymisedWorkspace);
            let mut t = base + Duration::hours(i64::from(i) * 7);
            let mut state = CaseState::default();
            let mut events = Vec::new();
            let steps: Vec<(&Principal, Command)> = vec![
                (
                    &applicant,
                    Command::Create {
                        case_id: CaseId::new(2024, i).unwrap(),
                        content,
                    },
                ),
                (&applicant, Command::Submit),
                (&officer, Command::StartCompletenessCheck),
                (&officer, Command::AcceptComplete),
                (
                    &legal,
                    Command::RecordLegalReview {
                        findings: vec!["ok".into()],
                        recommendation: Recommendation::Approve,
                    },
                ),
                (
                    &steward,
                    Command::RecordTechnicalReview {
                        findings: vec!["ok".into()],
                        recommendation: Recommendation::Approve,
                    },
                ),
                (
                    &decider,
                    Command::Approve {
                        reasons: "ok".into(),
                    },
                ),
                (
                    &officer,
                    Command::IssuePermit {
                        permit_id: PermitId::new(2024, i).unwrap(),
                        terms: PermitTerms {
                            data_categories: vec!["diagnoses".into()],
                            sources: vec!["patient_register".into()],
                            pseudonymisation: Pseudonymisation::ProjectPseudonyms,
                            authorised_users: vec![UserId::new("anna").unwrap()],
                            valid_from: d(2024, 1, 1),
                            valid_until: d(2030, 1, 1),
                            environment: "secure-workspace".into(),
                            tools: vec![],
                            conditions: vec![],
                        },
                    },
                ),
                (
                    &steward,
                    Command::RecordDelivery {
                        note: "done".into(),
                    },
                ),
            ];
            // Stop at a stage depending on i, so the queue has all kinds.
            let stop = 3 + (i as usize % 7);
            for (p, cmd) in steps.into_iter().take(stop) {
                t += Duration::days(i64::from(i % 23) + 1);
                for e in decide(&state, &cmd, p, t).unwrap() {
                    state.apply(&e);
                    events.push(e);
                }
            }
            events
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let streams = streams(2_000);
    let states: Vec<CaseState> = streams.iter().map(CaseState::from_events).collect();
    let now: DateTime<Utc> = "2026-06-15T09:00:00Z".parse().unwrap();
    let cfg = ClockConfig::default();
    c.bench_function("fold 2000 cases", |b| {
        b.iter(|| streams.iter().map(CaseState::from_events).count())
    });
    c.bench_function("queue 2000 cases", |b| {
        b.iter(|| queue(black_box(&states), &cfg, now).len())
    });
    c.bench_function("lead_times 2000 cases", |b| {
        b.iter(|| lead_times(black_box(&states)).len())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
