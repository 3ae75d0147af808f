//! Shared fixtures: one user per role, a complete application, and a driver
//! that takes a case through the workflow to a wanted state.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, Utc};
use halsohub_access::*;

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn org(s: &str) -> OrgId {
    OrgId::new(s).unwrap()
}

pub fn user(s: &str) -> UserId {
    UserId::new(s).unwrap()
}

pub const APPLICANT_ORG: &str = "karolinska";
pub const OTHER_ORG: &str = "lund-university";
pub const HUB: &str = "halsohub";

/// The principal holding exactly `role`: the applicant in the applicant
/// organisation, staff in the hub.
pub fn principal(role: Role) -> Principal {
    let (name, o) = match role {
        Role::Applicant => ("anna", APPLICANT_ORG),
        Role::CaseOfficer => ("olle-officer", HUB),
        Role::LegalReviewer => ("lisa-legal", HUB),
        Role::DataSteward => ("david-steward", HUB),
        Role::DecisionMaker => ("dora-decider", HUB),
        Role::OutputChecker => ("otto-checker", HUB),
        Role::Auditor => ("aud-auditor", HUB),
        Role::Administrator => ("adam-admin", HUB),
    };
    Principal::user(user(name)).with_role(org(o), role)
}

/// An applicant of another organisation.
pub fn foreign_applicant() -> Principal {
    Principal::user(user("fredrik")).with_role(org(OTHER_ORG), Role::Applicant)
}

pub fn attachment(name: &str) -> Attachment {
    Attachment {
        name: name.into(),
        media_type: "application/pdf".into(),
        size: 12_345,
        sha256: "0123456789abcdef".repeat(4),
    }
}

pub fn content() -> ApplicationContent {
    ApplicationContent {
        title: "Heart failure after myocardial infarction in Stockholm".into(),
        summary: "A register study of heart failure incidence.".into(),
        purpose: Some(Purpose::ScientificResearch),
        legal_basis: Some(LegalBasis::PublicTask),
        ethics_reference: Some("Dnr 2025-01234-01".into()),
        organisation: org(APPLICANT_ORG),
        members: vec![user("anna"), user("bertil")],
        datasets: vec![DatasetRequest {
            dataset: "patient_register_inpatient".into(),
            variables: vec!["admission_date".into(), "main_diagnosis".into()],
        }],
        cohort: Some(serde_json::json!({"criteria": [{"diagnosis": "I21"}]})),
        period: Some(Period {
            from: date(2015, 1, 1),
            until: date(2024, 12, 31),
        }),
        form: Some(RequestedForm::PseudonymisedWorkspace),
        attachments: vec![attachment("protocol.pdf")],
    }
}

pub fn terms() -> PermitTerms {
    PermitTerms {
        data_categories: vec!["diagnoses".into()],
        sources: vec!["patient_register".into()],
        pseudonymisation: Pseudonymisation::ProjectPseudonyms,
        authorised_users: vec![user("anna"), user("bertil")],
        valid_from: date(2026, 6, 1),
        valid_until: date(2027, 5, 31),
        environment: "secure-workspace".into(),
        tools: vec!["R".into(), "SQL".into()],
        conditions: vec!["Results pass output checking before release.".into()],
    }
}

pub fn case_id() -> CaseId {
    CaseId::new(2026, 45).unwrap()
}

pub fn permit_id() -> PermitId {
    PermitId::new(2026, 123).unwrap()
}

/// A case with its events, driven step by step.
#[derive(Clone)]
pub struct Case {
    pub state: CaseState,
    pub events: Vec<CaseEvent>,
}

impl Case {
    pub fn new() -> Self {
        Self {
            state: CaseState::default(),
            events: Vec::new(),
        }
    }

    pub fn try_run(
        &mut self,
        role: Role,
        cmd: Command,
        now: &str,
    ) -> Result<Vec<CaseEvent>, AccessError> {
        self.try_run_as(&principal(role), cmd, now)
    }

    pub fn try_run_as(
        &mut self,
        p: &Principal,
        cmd: Command,
        now: &str,
    ) -> Result<Vec<CaseEvent>, AccessError> {
        let evs = decide(&self.state, &cmd, p, at(now))?;
        for e in &evs {
            self.state.apply(e);
        }
        self.events.extend(evs.iter().cloned());
        Ok(evs)
    }

    pub fn run(&mut self, role: Role, cmd: Command, now: &str) -> &mut Self {
        if let Err(e) = self.try_run(role, cmd.clone(), now) {
            panic!("{cmd:?} as {role} at {now} refused: {e}");
        }
        self
    }
}

/// The commands of a straight path from nothing to data delivered; each
/// with its role and time.
pub fn happy_path() -> Vec<(Role, Command, &'static str)> {
    vec![
        (
            Role::Applicant,
            Command::Create {
                case_id: case_id(),
                content: content(),
            },
            "2026-01-12T09:00:00Z",
        ),
        (Role::Applicant, Command::Submit, "2026-01-13T09:00:00Z"),
        (
            Role::CaseOfficer,
            Command::StartCompletenessCheck,
            "2026-01-14T09:00:00Z",
        ),
        (
            Role::CaseOfficer,
            Command::AcceptComplete,
            "2026-01-15T09:00:00Z",
        ),
        (
            Role::LegalReviewer,
            Command::RecordLegalReview {
                findings: vec!["Legal basis and ethics approval in order.".into()],
                recommendation: Recommendation::Approve,
            },
            "2026-02-02T09:00:00Z",
        ),
        (
            Role::DataSteward,
            Command::RecordTechnicalReview {
                findings: vec!["All variables available 2015-2024.".into()],
                recommendation: Recommendation::Approve,
            },
            "2026-02-03T09:00:00Z",
        ),
        (
            Role::DecisionMaker,
            Command::Approve {
                reasons: "Purpose within Art. 53(1)(e); data minimised.".into(),
            },
            "2026-03-02T09:00:00Z",
        ),
        (
            Role::CaseOfficer,
            Command::IssuePermit {
                permit_id: permit_id(),
                terms: terms(),
            },
            "2026-03-05T09:00:00Z",
        ),
        (
            Role::DataSteward,
            Command::RecordDelivery {
                note: "snapshot 7 delivered to the workspace".into(),
            },
            "2026-06-02T09:00:00Z",
        ),
    ]
}

/// A case taken along the happy path for its first `steps` commands.
pub fn case_after(steps: usize) -> Case {
    let mut c = Case::new();
    for (role, cmd, now) in happy_path().into_iter().take(steps) {
        c.run(role, cmd, now);
    }
    c
}
