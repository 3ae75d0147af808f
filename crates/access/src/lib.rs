//! The access process's domain: who may do what, applications as
//! event-sourced cases, statutory clocks on the Swedish working-day
//! calendar, data permits, the public register and lead-time figures.
//!
//! This crate **decides and does no I/O**: no database, no HTTP, no clock
//! reads — the caller passes `now`. The platform (`state`, `server`) stores
//! events and serves the API on top of it.
//!
//! # How the platform uses it
//!
//! **Commands** (every change to a case):
//!
//! 1. Load the case's events and fold them: [`CaseState::from_events`]
//!    (`CaseState::default()` for a new case). Its
//!    [`version`](CaseState::version) is the event count.
//! 2. Build the [`Principal`] (user id and roles per organisation) from the
//!    session, token or OIDC claims, and deserialize the [`Command`] from the
//!    request body (JSON tagged by `"type"`, e.g.
//!    `{"type":"reject","reasons":"…"}`); for `create` and `issue_permit`
//!    the platform fills in the [`CaseId`] / [`PermitId`] it allocated.
//! 3. `decide_with(&config, &state, &command, &principal, now)` returns the
//!    [`CaseEvent`]s to append, or an [`AccessError`]: `Forbidden` → 403,
//!    `NoSuchCase` → 404, `IllegalTransition` → 409, `Invalid` (with every
//!    [`FieldIssue`]) → 422.
//! 4. Append the events only if the stored stream still has `state.version`
//!    events (optimistic concurrency; the loser retries or gets a conflict),
//!    in one transaction with the outbox rows from
//!    [`notifications_for_events`].
//!
//! **Queries**: call [`authorize`] with the query's [`Action`] and
//! [`Target`] (e.g. `Action::ViewCase`, `Target::Case(&state)`); filter case
//! lists with [`may_see_case`]. Public endpoints ([`register`],
//! [`lead_times`], [`current_queue`]) need no principal
//! ([`Action::ViewPublicRegister`] is open to [`Principal::anonymous`]).
//!
//! **Clocks**: [`case_clocks`] / [`case_clock`] give deadline, days used,
//! days left and overdue per case; [`CaseSummary::of`] gives one list line
//! per case (title, state, clock, permit); [`queue`] orders cases by
//! deadline, [`publication_queue`] the decisions awaiting publication;
//! [`deadline_notifications`] says which reminders are due (run daily).
//!
//! **Permits**: [`CaseState::permit`] holds the permit in force;
//! [`Permit::is_active`] and [`Permit::authorises`] answer the secure
//! workspace's questions, so expiry and revocation end access at once.
//!
//! **Calendar**: [`calendar`] has the computed Swedish holidays and
//! working-day arithmetic.
//!
//! Identifiers ([`UserId`], [`OrgId`]) and every free-text field refuse
//! anything shaped like a personal identity number, and no error echoes
//! one.
//!
//! # Example
//!
//! ```
//! use halsohub_access::*;
//!
//! let karolinska = OrgId::new("karolinska").unwrap();
//! let anna = Principal::user(UserId::new("anna").unwrap())
//!     .with_role(karolinska.clone(), Role::Applicant);
//! let officer = Principal::user(UserId::new("olle").unwrap())
//!     .with_role(OrgId::new("hub").unwrap(), Role::CaseOfficer);
//! let now = "2026-01-12T09:00:00Z".parse().unwrap();
//!
//! let mut state = CaseState::default();
//! let create = Command::Create {
//!     case_id: CaseId::new(2026, 1).unwrap(),
//!     content: ApplicationContent::draft(karolinska, "Heart failure study"),
//! };
//! for e in decide(&state, &create, &anna, now).unwrap() {
//!     state.apply(&e);
//! }
//! assert_eq!(state.status, CaseStatus::Draft);
//! assert_eq!(state.version, 1);
//!
//! // A case officer may not submit the applicant's draft ...
//! let err = decide(&state, &Command::Submit, &officer, now).unwrap_err();
//! assert!(matches!(err, AccessError::Forbidden { .. }));
//! // ... and the applicant may not submit it before it is complete.
//! let err = decide(&state, &Command::Submit, &anna, now).unwrap_err();
//! assert!(matches!(err, AccessError::Invalid { .. }));
//!
//! // Commands come from JSON request bodies, events go to JSON columns.
//! let cmd: Command = serde_json::from_str(r#"{"type":"withdraw","reason":"Plans changed"}"#).unwrap();
//! let events = decide(&state, &cmd, &anna, now).unwrap();
//! let json = serde_json::to_value(&events[0]).unwrap();
//! assert_eq!(json["change"]["type"], "withdrawn");
//! assert_eq!(json["role"], "applicant");
//! ```

pub mod calendar;

// Modules, lowest layer first; each imports only modules listed above
// it (no import loops):
// ids, status → role → error → text → permit → application → clock →
// policy → case → stored, deadlines → notify, leadtime, register, summary.
pub mod stored;

mod application;
mod case;
mod clock;
mod deadlines;
mod error;
mod ids;
mod leadtime;
mod notify;
pub mod optout;
mod permit;
mod policy;
mod register;
mod role;
mod status;
mod summary;
mod text;

pub use application::{
    Amendment, ApplicationContent, Attachment, AttachmentPolicy, DatasetRequest, LegalBasis,
    Period, Purpose, RequestedForm, media_type_essence, member_issues, sniff_media_type,
};
pub use case::{
    AccessConfig, AmendmentRecord, CaseEvent, CaseState, Change, Command, DEFAULT_DATASETS,
    Decision, HUB_ACTOR, Invitation, Outcome, PendingAmendment, Recommendation, Review, decide,
    decide_with, execute, overdue_events, validity_issues,
};
pub use clock::{
    ClockConfig, ClockKind, ClockStatus, Pause, applicant_deadline, completion_deadline,
    decision_deadline,
};
pub use deadlines::{QueueEntry, case_clock, case_clocks, queue};
pub use error::{AccessError, FieldIssue, UnknownValue};
pub use ids::{CaseId, IdParseError, MAX_NAME_ID_LEN, OrgId, PermitId, UserId};
pub use leadtime::{
    LeadTimeFigure, QueueFigure, Stage, StageDuration, current_queue, lead_time_figures,
    lead_times, median, percentile_nearest_rank, stage_durations,
};
pub use notify::{
    Notification, NotificationKind, Recipient, deadline_notifications, notifications_for_events,
};
pub use permit::{Permit, PermitStatus, PermitTerms, Pseudonymisation, Revocation};
pub use policy::{CaseParties, Target, authorize, may_see_case};
pub use register::{
    PublicAmendment, PublicPermit, RegisterEntry, publication_queue, register, register_entry,
};
pub use role::{Action, Principal, QUERY_ROLES, Role, may_query};
pub use status::{CaseStatus, InvitationStatus};
pub use summary::{Assignment, CaseFilter, CaseSummary, ClockFilter, waiting_for, work_queue};
pub use text::{MAX_TEXT_CHARS, MAX_TITLE_CHARS, forbidden_char, is_bidi_control, strip_controls};
