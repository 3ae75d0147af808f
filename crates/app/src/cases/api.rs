//! The case area's request and response bodies, as the HTTP API sends them
//! (and as idempotent replays store them). Each has a utoipa schema, so the
//! OpenAPI document names every field of every case request and response,
//! down to the values owned by the access domain (a case's state, events,
//! permits, clocks, reviews, register entries), whose schemas the access
//! crate derives.
//!
//! This JSON is the API's, not the database's: stored events go through
//! [`halsohub_access::stored`], which is versioned on its own.

use halsohub_access::{
    ApplicationContent, CaseEvent, CaseState, CaseSummary, ClockStatus, Command, LeadTimeFigure,
    Permit, PermitStatus, QueueFigure, RegisterEntry,
};
use halsohub_state::attachments::Attachment;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::ToSchema;

/// `POST /api/v1/applications`: the draft's content (title, summary,
/// organisation, purpose, legal basis, form, datasets, period, members, …;
/// see `docs/access.md`). It may be incomplete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = ApplicationContent)]
pub struct NewApplication(pub ApplicationContent);

/// `POST /api/v1/applications/{id}/commands`: one workflow command, tagged
/// by `type`, with that command's fields beside it, e.g.
/// `{"type": "reject", "reasons": "…"}`. `issue_permit` may leave out
/// `permit_id`: the hub allocates it. Its OpenAPI schema is the access
/// domain's `Command` (one object per command) with exactly that
/// difference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandRequest {
    /// The command: `submit`, `start_completeness_check`,
    /// `return_incomplete`, `accept_complete`, `request_information`,
    /// `provide_information`, `record_legal_review`,
    /// `record_technical_review`, `approve`, `reject`, `issue_permit`,
    /// `record_delivery`, `publish`, `close`, `withdraw`,
    /// `request_amendment`, `revoke_permit`, `update_draft`,
    /// `extend_completion`, `extend_decision_period`, `assign`,
    /// `invite_member` or `answer_invitation`.
    #[serde(rename = "type")]
    pub command: String,
    /// The command's own fields (`reasons`, `missing`, `terms`, …).
    #[serde(flatten)]
    pub fields: BTreeMap<String, Value>,
}

impl utoipa::PartialSchema for CommandRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::Schema;
        let mut schema = <Command as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::OneOf(one)) = &mut schema {
            for item in &mut one.items {
                if let RefOr::T(Schema::Object(o)) = item
                    && o.properties.get("type").is_some_and(|t| {
                        matches!(t, RefOr::T(Schema::Object(t))
                            if t.enum_values.as_deref() == Some(&[Value::from("issue_permit")][..]))
                    })
                {
                    o.required.retain(|r| r != "permit_id");
                }
            }
        }
        schema
    }
}

impl ToSchema for CommandRequest {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <Command as ToSchema>::schemas(schemas);
    }
}

/// A case with its running clocks (`GET /api/v1/applications/{id}`, and
/// each line of the list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseView {
    /// The case's current state (folded from its events).
    pub case: CaseState,
    /// The clocks running on it, most urgent first.
    pub clocks: Vec<ClockStatus>,
    /// Names for the people and organisations the case names by id
    /// (creator, members, reviewers, decision maker, assignee,
    /// organisation): id → display name.
    #[serde(default)]
    pub names: Names,
}

/// Display names by id, for people and organisations (ids stay in the
/// data; a reader looks the name up here).
pub type Names = BTreeMap<String, String>;

/// Query of `GET /applications` and `GET /queue`: filters and paging.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only cases in these states, comma-separated (e.g.
    /// `submitted,under_review`).
    pub status: Option<String>,
    /// `mine` (assigned to me), `unassigned`, or `any` (default).
    pub assigned: Option<String>,
    /// Only cases waiting for this role (e.g. `case_officer`, `applicant`).
    pub role: Option<String>,
    /// `overdue`, `near`, `running`, `stopped` or `none`.
    pub clock: Option<String>,
    /// Page, from 1 (default 1).
    pub page: Option<u32>,
    /// Items per page, 1–200 (default 50).
    pub per_page: Option<u32>,
}

/// The applications the caller may see: one summary per case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CaseList {
    /// One summary per case on this page, oldest first.
    pub applications: Vec<CaseSummary>,
    /// Cases matching the filter, on all pages.
    pub total: usize,
    /// This page (from 1).
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
    /// Names for the organisations and assignees named by id.
    pub names: Names,
}

/// What a command (or creating a draft) did: the new state, the events it
/// appended and the clocks now running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CommandResult {
    /// The case after the command.
    pub case: CaseState,
    /// The events appended, in order.
    pub events: Vec<CaseEvent>,
    /// The clocks running after the command.
    pub clocks: Vec<ClockStatus>,
}

/// One event of a case's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryItem {
    /// Position in the history, from 1.
    pub seq: u64,
    /// Who, in which role, when, and what changed.
    pub event: CaseEvent,
    /// The reason or explanation the event carries, if any.
    pub why: Option<String>,
}

/// A case's full history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct History {
    /// The case.
    pub case_id: String,
    /// Its events in order.
    pub events: Vec<HistoryItem>,
    /// Names for the actors and the organisation, by id.
    #[serde(default)]
    pub names: Names,
}

/// An attachment's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AttachmentUploaded {
    /// Id, file name, media type, size, SHA-256, uploader, time.
    pub attachment: Attachment,
}

/// A case's attachments (metadata only).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AttachmentList {
    /// Oldest first.
    pub attachments: Vec<Attachment>,
}

/// The work queue: every case waiting for someone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkQueue {
    /// Case summaries on this page, earliest deadline first (cases without
    /// a running clock last).
    pub queue: Vec<CaseSummary>,
    /// Cases matching the filter, on all pages.
    pub total: usize,
    /// This page (from 1).
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
    /// Names for the organisations and assignees named by id.
    pub names: Names,
}

/// A permit and whether it is in force now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PermitView {
    /// The permit document.
    pub permit: Permit,
    /// Pending, active, expired or revoked.
    pub status: PermitStatus,
    /// Whether it allows access now.
    pub active: bool,
}

/// The public register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Register {
    /// Published decisions with reasons, and their permits.
    pub entries: Vec<RegisterEntry>,
    /// Organisation names by id.
    #[serde(default)]
    pub names: Names,
}

/// One line of the register's CSV: one plain value per column (lists
/// joined with `; `), the organisation by name, control and bidi
/// characters removed from text. The columns come in the order of
/// [`RegisterRow::COLUMNS`] (the order `docs/access.md` lists them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegisterRow {
    /// Case id.
    pub case_id: String,
    /// Organisation name.
    pub organisation: String,
    /// Project title.
    pub project_title: String,
    /// Purpose.
    pub purpose: String,
    /// Requested form.
    pub form: String,
    /// Case state.
    pub status: String,
    /// First submitted.
    pub submitted_on: String,
    /// Accepted as complete.
    pub completed_on: String,
    /// Decided.
    pub decided_on: String,
    /// Approved or rejected.
    pub outcome: String,
    /// Reasons.
    pub reasons: String,
    /// Published.
    pub published_on: String,
    /// Permit id.
    pub permit_id: String,
    /// Permit version.
    pub permit_version: String,
    /// Permit valid from.
    pub permit_valid_from: String,
    /// Permit valid until.
    pub permit_valid_until: String,
    /// Data categories, `; `-separated.
    pub data_categories: String,
    /// Sources, `; `-separated.
    pub sources: String,
    /// Pseudonymisation.
    pub pseudonymisation: String,
    /// Environment.
    pub environment: String,
    /// Permit revoked on.
    pub revoked_on: String,
    /// Decided amendments.
    pub amendments: String,
}

impl RegisterRow {
    /// The CSV's columns, in order: the fields' JSON names as
    /// `docs/access.md` lists them.
    pub const COLUMNS: [&'static str; 22] = [
        "case_id",
        "organisation",
        "project_title",
        "purpose",
        "form",
        "status",
        "submitted_on",
        "completed_on",
        "decided_on",
        "outcome",
        "reasons",
        "published_on",
        "permit_id",
        "permit_version",
        "permit_valid_from",
        "permit_valid_until",
        "data_categories",
        "sources",
        "pseudonymisation",
        "environment",
        "revoked_on",
        "amendments",
    ];
}

/// The lead-time CSV's columns, in order: a figure's JSON names as
/// `docs/access.md` lists them.
pub const LEAD_TIME_COLUMNS: [&str; 6] = [
    "month",
    "stage",
    "cases",
    "median_days",
    "p90_days",
    "extended_cases",
];

/// Public lead-time figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeadTimes {
    /// Median and 90th percentile per stage and month.
    pub figures: Vec<LeadTimeFigure>,
}

/// The public queue figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PublicQueue {
    /// "Now handling applications completed on date D".
    pub queue: QueueFigure,
}
