//! The case service: every use of an application (case) by the HTTP API
//! and by `halsohub cases`, in one place.
//!
//! A command runs as: **load** the case's stored events and **fold** them
//! ([`CaseState::from_events`]); **decide** ([`decide_with`]: permission,
//! transition, content — pure, in `access`); **apply** the events to get the
//! new state; **persist** the events, the new projection, any attachment,
//! the permit row and the notifications in one transaction that holds only
//! if nobody appended first (optimistic concurrency), together with the
//! idempotency record that lets a retried request get the first answer.
//!
//! Case and permit numbers come from counters in the state database
//! ([`Sequence`]), never from counting rows, and are taken only after the
//! command has been decided once with a placeholder, so a refused command
//! uses no number.
//!
//! Reads that need only the current state (a case, the list, the queue,
//! permits, the register, lead times, the deadline sweep) use the folded
//! projection the database keeps beside the events: one query for all
//! cases. A projection written by another fold (or by a release before
//! projections were versioned) is rebuilt from the events and stored again
//! ([`halsohub_access::stored`]).

pub mod api;
pub mod datasets;
mod rows;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Utc};
use halsohub_access::stored::{self, StoredError};
use halsohub_access::{
    AccessConfig, AccessError, Action, Assignment, Attachment as DomainAttachment, CaseEvent,
    CaseFilter as SummaryFilter, CaseId, CaseState, CaseStatus, CaseSummary, Change, ClockFilter,
    Command, FieldIssue, HUB_ACTOR, OrgId, PermitId, Principal, QueueEntry, Role, Target, UserId,
    authorize, case_clocks, current_queue, deadline_notifications, decide_with, lead_times,
    may_see_case, member_issues, notifications_for_events, overdue_events, queue, register,
    sniff_media_type, strip_controls, work_queue,
};
use halsohub_cohort::CodeLists;
use halsohub_state::attachments::{Attachment, NewAttachment};
use halsohub_state::cases::{CaseFilter, CaseRecord, CaseWrite, IdempotencyRecord, NewEvent};
use halsohub_state::permits::PermitRow;
use halsohub_state::sequences::Sequence;
use halsohub_state::{Db, StateError};
use serde_json::Value;

use self::api::{
    AttachmentList, CaseList, CaseView, CommandRequest, CommandResult, History, HistoryItem,
    LeadTimes, ListQuery, Names, PermitView, PublicQueue, Register, RegisterRow, WorkQueue,
};

/// Why a case operation failed. The HTTP API maps [`CaseError::Access`]
/// as the access crate says (403, 404, 409, 422), [`CaseError::State`] as
/// the state crate's errors, and the rest as their names say.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// Refused by the access domain (permission, transition, content).
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The state database failed or refused (conflict, idempotency
    /// mismatch, too large, not found, …).
    #[error(transparent)]
    State(#[from] StateError),
    /// There is no case with this id.
    #[error("no application {0}")]
    NotFound(String),
    /// The request itself is malformed (e.g. an unknown command).
    #[error("{0}")]
    BadRequest(String),
    /// The caller based the command on another version of the case.
    #[error(
        "the case is at version {current}, not {expected}: someone changed it; reload and retry"
    )]
    VersionMismatch {
        /// The version the caller named.
        expected: u64,
        /// The case's version now.
        current: u64,
    },
    /// A stored event cannot be read.
    #[error("case {case_id}: stored event {seq} cannot be read: {source}")]
    Corrupt {
        /// The case.
        case_id: String,
        /// The event's position.
        seq: i64,
        /// Why.
        #[source]
        source: StoredError,
    },
    /// The hub could not build an identifier or encode a value.
    #[error("{0}")]
    Internal(String),
}

impl From<StoredError> for CaseError {
    fn from(e: StoredError) -> Self {
        CaseError::Internal(e.to_string())
    }
}

/// Who runs a command: the user (for the stored rows) and their roles (for
/// the access decision).
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The user's id in the state database.
    pub user_id: &'a str,
    /// The user's roles.
    pub principal: &'a Principal,
}

/// A request that carries an idempotency key: replaying the same key with
/// the same request returns the first answer instead of running again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// The caller's key.
    pub key: String,
    /// The request's hash ([`halsohub_state::cases::request_hash`]).
    pub request_hash: String,
    /// The status the first answer is sent with (stored for replays).
    pub status: u16,
}

/// The answer to a command that may be a replay.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply<T> {
    /// The command ran now.
    Done(T),
    /// The idempotency key was used before for this request: the first
    /// answer, as sent then.
    Replayed {
        /// Its status.
        status: u16,
        /// Its body.
        body: Value,
    },
}

/// One line of the operator's queue (`halsohub cases queue`).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueLine {
    /// The queue entry (case, status, most urgent clock).
    pub entry: QueueEntry,
    /// The application's title.
    pub title: String,
}

/// What one deadline sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// The cases closed as incomplete because their completion deadline
    /// had passed.
    pub closed: Vec<String>,
    /// Deadline reminders newly queued in the outbox.
    pub reminders: usize,
}

/// A case with its whole history, for operators (`halsohub cases show`).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseDetail {
    /// The current state.
    pub state: CaseState,
    /// Every event, in order.
    pub events: Vec<CaseEvent>,
    /// Names for the people and organisation named by id.
    pub names: Names,
}

/// A stored attachment's content with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentContent {
    /// Metadata (media type, SHA-256, file name, …).
    pub meta: Attachment,
    /// The bytes, checked against the SHA-256.
    pub bytes: Vec<u8>,
}

/// An attachment upload.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// File name.
    pub name: &'a str,
    /// Declared media type.
    pub media_type: &'a str,
    /// The bytes.
    pub bytes: &'a [u8],
    /// The SHA-256 the uploader expects, if sent.
    pub expected_sha256: Option<&'a str>,
    /// Largest accepted size.
    pub max_bytes: u64,
}

/// The case service over a state database, under an access configuration.
#[derive(Debug, Clone, Copy)]
pub struct CaseService<'a> {
    db: &'a Db,
    config: &'a AccessConfig,
    lists: Option<&'a CodeLists>,
}

/// `If-Match` on a command: the version (from the case's `ETag`) the
/// caller based it on, or `*` (any version of an existing case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`.
    Any,
    /// A version.
    Version(u64),
}

impl IfMatch {
    /// Parses an `If-Match` value: `*`, an entity tag as sent in `ETag`
    /// (`"7"`), or the bare version (`7`). `None` when it is none of these.
    pub fn parse(value: &str) -> Option<IfMatch> {
        let v = value.trim();
        if v == "*" {
            return Some(IfMatch::Any);
        }
        v.trim_matches('"').parse().ok().map(IfMatch::Version)
    }
}

/// A 422 naming one field and its problem.
pub fn invalid(field: &str, problem: &str) -> CaseError {
    CaseError::Access(AccessError::invalid(field.to_string(), problem.to_string()))
}

/// The entity tag of a case at `version` (`"7"`).
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

const DEFAULT_PER_PAGE: u32 = 50;
const MAX_PER_PAGE: u32 = 200;

impl<'a> CaseService<'a> {
    /// The service over `db`.
    pub fn new(db: &'a Db, config: &'a AccessConfig) -> Self {
        Self {
            db,
            config,
            lists: None,
        }
    }

    /// The service, checking cohort definitions against these named code
    /// lists (the feasibility service's); without, queries naming a list
    /// are refused as unknown.
    pub fn with_code_lists(mut self, lists: &'a CodeLists) -> Self {
        self.lists = Some(lists);
        self
    }

    /// Creates a draft application with a case number from the database.
    pub async fn create(
        &self,
        actor: Actor<'_>,
        content: halsohub_access::ApplicationContent,
        idem: Option<Idempotency>,
        now: DateTime<Utc>,
    ) -> Result<Reply<CommandResult>, CaseError> {
        if let Some(reply) = self.replay(actor, idem.as_ref()).await? {
            return Ok(reply);
        }
        let year = year_of(now)?;
        // Decide once with a placeholder number, so a refused draft uses
        // no number from the sequence; every content problem is reported
        // at once, attachments (which cannot exist yet) included.
        let placeholder = CaseId::new(year, 1).map_err(|e| CaseError::Internal(e.to_string()))?;
        let mut issues = match decide_with(
            self.config,
            &CaseState::default(),
            &Command::Create {
                case_id: placeholder,
                content: content.clone(),
            },
            actor.principal,
            now,
        ) {
            Ok(_) => Vec::new(),
            Err(AccessError::Invalid { issues }) => issues,
            Err(e) => return Err(e.into()),
        };
        issues.extend(content.attachments.iter().enumerate().map(|(i, _)| {
            FieldIssue::new(
                format!("attachments[{i}]"),
                "no such file was uploaded to this application; create the draft, then upload",
            )
        }));
        if !issues.is_empty() {
            return Err(AccessError::Invalid { issues }.into());
        }
        // A number is never handed out twice; it can still be taken when a
        // row was written without the sequence (by hand): take the next.
        for _ in 0..5 {
            let serial = self.db.next_id(Sequence::Case).await?;
            let case_id =
                CaseId::new(year, serial).map_err(|e| CaseError::Internal(e.to_string()))?;
            let command = Command::Create {
                case_id,
                content: content.clone(),
            };
            let id = case_id.to_string();
            match self
                .execute(
                    actor,
                    &id,
                    CaseState::default(),
                    command,
                    None,
                    idem.clone(),
                    now,
                )
                .await
            {
                Err(CaseError::State(StateError::Conflict { .. })) => {
                    tracing::warn!(case_id = %id, "case number already taken; taking the next");
                }
                other => return other.map(Reply::Done),
            }
        }
        Err(CaseError::Internal(
            "five case numbers in a row were taken already: the case sequence is behind the cases table".into(),
        ))
    }

    /// Runs a workflow command on a case. `if_match` is the version the
    /// caller saw, when it sent one.
    pub async fn run_command(
        &self,
        actor: Actor<'_>,
        case_id: &str,
        request: CommandRequest,
        if_match: Option<IfMatch>,
        idem: Option<Idempotency>,
        now: DateTime<Utc>,
    ) -> Result<Reply<CommandResult>, CaseError> {
        if let Some(reply) = self.replay(actor, idem.as_ref()).await? {
            return Ok(reply);
        }
        let (current, _) = self.load_existing(case_id).await?;
        if let Some(IfMatch::Version(expected)) = if_match
            && expected != current.version
        {
            return Err(CaseError::VersionMismatch {
                expected,
                current: current.version,
            });
        }
        if request.command == "create" {
            return Err(CaseError::BadRequest(
                "create an application with POST /api/v1/applications".into(),
            ));
        }
        let allocate_permit =
            request.command == "issue_permit" && !request.fields.contains_key("permit_id");
        // Decided first with a placeholder permit number, so a refused
        // command uses no number from the sequence.
        let placeholder = if allocate_permit {
            Some(PermitId::new(year_of(now)?, 1).map_err(|e| CaseError::Internal(e.to_string()))?)
        } else {
            None
        };
        let mut command = parse_command(&request, placeholder)?;
        self.check(actor, case_id, &current, &command, now).await?;
        if allocate_permit && let Command::IssuePermit { permit_id, .. } = &mut command {
            let serial = self.db.next_id(Sequence::Permit).await?;
            *permit_id = PermitId::new(year_of(now)?, serial)
                .map_err(|e| CaseError::Internal(e.to_string()))?;
        }
        self.execute(actor, case_id, current, command, None, idem, now)
            .await
            .map(Reply::Done)
    }

    /// Uploads an attachment to a draft: stores the bytes and adds the
    /// attachment to the draft's content, in one write.
    pub async fn upload_attachment(
        &self,
        actor: Actor<'_>,
        case_id: &str,
        upload: Upload<'_>,
        now: DateTime<Utc>,
    ) -> Result<Attachment, CaseError> {
        let (current, _) = self.load_existing(case_id).await?;
        let size = upload.bytes.len() as u64;
        if size > upload.max_bytes {
            return Err(StateError::TooLarge {
                size,
                limit: upload.max_bytes,
            }
            .into());
        }
        let essence = sniff_media_type(upload.media_type, upload.bytes)
            .map_err(|problem| CaseError::Access(AccessError::invalid("media_type", problem)))?;
        if !self
            .config
            .attachments
            .allowed_media_types
            .contains(&essence)
        {
            return Err(AccessError::invalid(
                "media_type",
                format!(
                    "type not allowed; allowed types: {}",
                    self.config.attachments.allowed_media_types.join(", ")
                ),
            )
            .into());
        }
        let new = NewAttachment::new(
            case_id,
            upload.name,
            &essence,
            upload.bytes.to_vec(),
            actor.user_id,
            upload.max_bytes,
            upload.expected_sha256,
        )?;
        let meta = new.meta().clone();
        let Some(mut content) = current.content.clone() else {
            return Err(CaseError::NotFound(case_id.to_string()));
        };
        if current.status == CaseStatus::WaitingForApplicant {
            // The hub asked for information: the document is stored now
            // and sent with the answer (`provide_information` names it).
            authorize(
                actor.principal,
                Action::ProvideInformation,
                Target::Case(&current),
            )?;
            let stored = self.db.list_attachments(case_id).await?.len();
            if stored >= self.config.attachments.max_count {
                return Err(AccessError::invalid(
                    "attachments",
                    format!(
                        "the application has {} attachments already, the most allowed",
                        self.config.attachments.max_count
                    ),
                )
                .into());
            }
            self.db.add_attachment(&new).await?;
            return Ok(meta);
        }
        content.attachments.push(DomainAttachment {
            name: meta.filename.clone(),
            media_type: meta.media_type.clone(),
            size: meta.size_bytes,
            sha256: meta.sha256.clone(),
        });
        self.execute(
            actor,
            case_id,
            current,
            Command::UpdateDraft { content },
            Some(new),
            None,
            now,
        )
        .await?;
        Ok(meta)
    }

    /// Deletes an attachment from a draft (or an application returned as
    /// incomplete): removes it from the content and the stored files.
    pub async fn delete_attachment(
        &self,
        actor: Actor<'_>,
        case_id: &str,
        attachment_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), CaseError> {
        let (current, _) = self.load_existing(case_id).await?;
        authorize(actor.principal, Action::UpdateDraft, Target::Case(&current))?;
        let stored = self.db.list_attachments(case_id).await?;
        let Some(meta) = stored.iter().find(|a| a.id == attachment_id) else {
            return Err(StateError::NotFound {
                what: "attachment",
                id: attachment_id.to_string(),
            }
            .into());
        };
        let Some(mut content) = current.content.clone() else {
            return Err(CaseError::NotFound(case_id.to_string()));
        };
        // Another stored file with the same bytes keeps its entry.
        let twins = stored
            .iter()
            .filter(|a| a.sha256 == meta.sha256 && a.id != meta.id)
            .count();
        if twins == 0 {
            content.attachments.retain(|a| a.sha256 != meta.sha256);
        }
        self.execute(
            actor,
            case_id,
            current,
            Command::UpdateDraft { content },
            None,
            None,
            now,
        )
        .await?;
        self.db.delete_attachment(case_id, attachment_id).await?;
        Ok(())
    }

    /// One case with its clocks, if the caller may see it.
    pub async fn view(
        &self,
        principal: &Principal,
        case_id: &str,
        now: DateTime<Utc>,
    ) -> Result<CaseView, CaseError> {
        let state = self.state(case_id).await?;
        authorize(principal, Action::ViewCase, Target::Case(&state))?;
        let mut view = self.case_view(state, now);
        view.names = self.names_of_case(&view.case).await?;
        Ok(view)
    }

    /// The cases the caller may see, oldest first, as summaries: filtered
    /// by state, assignment, waiting role and clock, one page at a time.
    pub async fn list(
        &self,
        principal: &Principal,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<CaseList, CaseError> {
        let filter = summary_filter(query)?;
        let (page, per_page) = paging(query)?;
        let all: Vec<CaseSummary> = self
            .all_states()
            .await?
            .iter()
            .filter(|s| may_see_case(principal, *s))
            .filter_map(|s| CaseSummary::of(s, &self.config.clocks, now))
            .filter(|s| filter.matches(s, principal, self.config.clocks.warn_working_days))
            .collect();
        let total = all.len();
        let applications = page_of(all, page, per_page);
        let names = self.names_of_summaries(&applications).await?;
        Ok(CaseList {
            applications,
            total,
            page,
            per_page,
            names,
        })
    }

    /// A case's full history, if the caller may see it.
    pub async fn history(
        &self,
        principal: &Principal,
        case_id: &str,
    ) -> Result<History, CaseError> {
        let (state, events) = self.load_existing(case_id).await?;
        authorize(principal, Action::ViewHistory, Target::Case(&state))?;
        let events: Vec<HistoryItem> = events
            .into_iter()
            .zip(1..)
            .map(|(event, seq)| HistoryItem {
                seq,
                why: event.why(),
                event,
            })
            .collect();
        let mut users: BTreeSet<String> = BTreeSet::new();
        for item in &events {
            users.insert(item.event.actor.to_string());
            if let Change::Assigned {
                assignee: Some(a), ..
            } = &item.event.change
            {
                users.insert(a.to_string());
            }
        }
        let orgs: BTreeSet<String> = state
            .organisation()
            .map(ToString::to_string)
            .into_iter()
            .collect();
        Ok(History {
            case_id: case_id.to_string(),
            events,
            names: self.names(&users, &orgs).await?,
        })
    }

    /// A case's attachments (metadata), if the caller may see the case.
    pub async fn attachments(
        &self,
        principal: &Principal,
        case_id: &str,
    ) -> Result<AttachmentList, CaseError> {
        let state = self.state(case_id).await?;
        authorize(principal, Action::ViewCase, Target::Case(&state))?;
        Ok(AttachmentList {
            attachments: self.db.list_attachments(case_id).await?,
        })
    }

    /// One attachment's content, if the caller may see the case.
    pub async fn attachment(
        &self,
        principal: &Principal,
        case_id: &str,
        attachment_id: &str,
    ) -> Result<AttachmentContent, CaseError> {
        let state = self.state(case_id).await?;
        authorize(principal, Action::ViewCase, Target::Case(&state))?;
        let (meta, bytes) = self.db.attachment(case_id, attachment_id).await?;
        Ok(AttachmentContent { meta, bytes })
    }

    /// The work queue, for staff and auditors: every submitted case
    /// waiting for someone, filtered and paged, earliest deadline first.
    pub async fn work_queue(
        &self,
        principal: &Principal,
        query: &ListQuery,
        now: DateTime<Utc>,
    ) -> Result<WorkQueue, CaseError> {
        authorize(principal, Action::ViewWorkQueue, Target::Hub)?;
        let filter = summary_filter(query)?;
        let (page, per_page) = paging(query)?;
        let all = self.all_states().await?;
        let visible = all.iter().filter(|s| may_see_case(principal, *s));
        let items = work_queue(visible, &self.config.clocks, now, principal, &filter);
        let total = items.len();
        let queue = page_of(items, page, per_page);
        let names = self.names_of_summaries(&queue).await?;
        Ok(WorkQueue {
            queue,
            total,
            page,
            per_page,
            names,
        })
    }

    /// A permit and whether it is in force, if the caller may see it.
    pub async fn permit(
        &self,
        principal: &Principal,
        permit_id: &str,
        now: DateTime<Utc>,
    ) -> Result<PermitView, CaseError> {
        let row = self.db.permit(permit_id).await?;
        let state = self.state(&row.case_id).await?;
        state.authorize_permit_read(principal)?;
        let permit = state.permit.ok_or_else(|| StateError::NotFound {
            what: "permit",
            id: permit_id.to_string(),
        })?;
        Ok(PermitView {
            status: permit.status(now),
            active: permit.is_active(now),
            permit,
        })
    }

    /// The public register (no login).
    pub async fn register(&self) -> Result<Register, CaseError> {
        let all = self.all_states().await?;
        let entries = register(all.iter());
        let orgs: BTreeSet<String> = entries.iter().map(|e| e.organisation.to_string()).collect();
        let names = self.names(&BTreeSet::new(), &orgs).await?;
        Ok(Register { entries, names })
    }

    /// The public register as CSV rows: one plain value per column, the
    /// organisation by name, control and bidi characters removed.
    pub async fn register_rows(&self) -> Result<Vec<RegisterRow>, CaseError> {
        let Register { entries, names } = self.register().await?;
        let text = |s: &str| strip_controls(s);
        Ok(entries
            .iter()
            .map(|e| {
                let p = e.permit.as_ref();
                let org = e.organisation.to_string();
                RegisterRow {
                    case_id: e.case_id.to_string(),
                    organisation: text(names.get(&org).unwrap_or(&org)),
                    project_title: text(&e.project_title),
                    purpose: e
                        .purpose
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_default(),
                    form: e.form.map(|f| f.as_str().to_string()).unwrap_or_default(),
                    status: e.status.as_str().to_string(),
                    submitted_on: opt(e.submitted_on),
                    completed_on: opt(e.completed_on),
                    decided_on: e.decided_on.to_string(),
                    outcome: wire(&e.outcome),
                    reasons: text(&e.reasons),
                    published_on: e.published_on.to_string(),
                    permit_id: p.map(|p| p.id.to_string()).unwrap_or_default(),
                    permit_version: p.map(|p| p.version.to_string()).unwrap_or_default(),
                    permit_valid_from: opt(p.map(|p| p.valid_from)),
                    permit_valid_until: opt(p.map(|p| p.valid_until)),
                    data_categories: p
                        .map(|p| text(&p.data_categories.join("; ")))
                        .unwrap_or_default(),
                    sources: p.map(|p| text(&p.sources.join("; "))).unwrap_or_default(),
                    pseudonymisation: p.map(|p| wire(&p.pseudonymisation)).unwrap_or_default(),
                    environment: p.map(|p| text(&p.environment)).unwrap_or_default(),
                    revoked_on: opt(p.and_then(|p| p.revoked_on)),
                    amendments: e.amendments.len().to_string(),
                }
            })
            .collect())
    }

    /// Public lead-time figures (no login).
    pub async fn lead_times(&self) -> Result<LeadTimes, CaseError> {
        let all = self.all_states().await?;
        Ok(LeadTimes {
            figures: lead_times(all.iter()),
        })
    }

    /// The public queue figure (no login).
    pub async fn public_queue(&self) -> Result<PublicQueue, CaseError> {
        let all = self.all_states().await?;
        Ok(PublicQueue {
            queue: current_queue(all.iter()),
        })
    }

    /// The work queue with titles, for the operator at the console (no
    /// principal: whoever can open the state database sees everything).
    pub async fn operator_queue(&self, now: DateTime<Utc>) -> Result<Vec<QueueLine>, CaseError> {
        let all = self.all_states().await?;
        Ok(queue(all.iter(), &self.config.clocks, now)
            .into_iter()
            .map(|entry| {
                let title = all
                    .iter()
                    .find(|s| s.id == Some(entry.case_id))
                    .and_then(|s| s.content.as_ref())
                    .map(|c| c.title.clone())
                    .unwrap_or_default();
                QueueLine { entry, title }
            })
            .collect())
    }

    /// A case and its history, for the operator at the console.
    pub async fn detail(&self, case_id: &str) -> Result<CaseDetail, CaseError> {
        let (state, events) = self.load_existing(case_id).await?;
        let mut names = self.names_of_case(&state).await?;
        let actors: BTreeSet<String> = events.iter().map(|e| e.actor.to_string()).collect();
        names.extend(self.names(&actors, &BTreeSet::new()).await?);
        Ok(CaseDetail {
            state,
            events,
            names,
        })
    }

    /// The deadline sweep at `now`, over every case: first what the rules
    /// do when a deadline passes with nobody acting
    /// ([`halsohub_access::overdue_events`]: an application returned as
    /// incomplete whose completion deadline has passed is closed as
    /// incomplete, with the deadline in the reason, and its applicants are
    /// notified), then the reminders ("deadline near", "overdue") due on
    /// the cases as they are after that.
    ///
    /// Safe to run as often as wanted, from several places at once: a case
    /// is closed once (a closed case has nothing due, and a write races
    /// with any other change through the case's version — the loser leaves
    /// the case to the next sweep), and each reminder's dedupe key names
    /// the case, clock and deadline, so the outbox queues it once.
    pub async fn sweep_deadlines(&self, now: DateTime<Utc>) -> Result<SweepReport, CaseError> {
        let mut report = SweepReport::default();
        for mut state in self.all_states().await? {
            let events = overdue_events(self.config, &state, now);
            if let (false, Some(id)) = (events.is_empty(), state.id) {
                let case_id = id.to_string();
                match self
                    .persist(HUB_ACTOR, &case_id, state.clone(), events, None, None, now)
                    .await
                {
                    Ok(result) => {
                        tracing::info!(
                            case_id,
                            "completion deadline passed: case closed as incomplete"
                        );
                        report.closed.push(case_id);
                        state = result.case;
                    }
                    Err(CaseError::State(StateError::Conflict { .. })) => {
                        tracing::info!(
                            case_id,
                            "case changed during the sweep; left to the next one"
                        );
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            let notes = deadline_notifications(&state, &self.config.clocks, now);
            for row in rows::notifications(&notes) {
                if self.db.notify(&row).await? {
                    report.reminders += 1;
                }
            }
        }
        Ok(report)
    }

    /// Every case's current state, oldest first: the stored projections,
    /// with any written by another fold rebuilt from the events.
    pub async fn all_states(&self) -> Result<Vec<CaseState>, CaseError> {
        let records = self.db.list_cases(&CaseFilter::default()).await?;
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            out.push(self.state_of(record).await?);
        }
        Ok(out)
    }

    /// One case's current state (its projection).
    pub async fn state(&self, case_id: &str) -> Result<CaseState, CaseError> {
        let record = match self.db.case(case_id).await {
            Ok(r) => r,
            Err(StateError::NotFound { .. }) => {
                return Err(CaseError::NotFound(case_id.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        self.state_of(record).await
    }

    async fn state_of(&self, record: CaseRecord) -> Result<CaseState, CaseError> {
        if let Some(state) = stored::decode_projection(&record.projection)
            && i64::try_from(state.version).ok() == Some(record.version)
        {
            return Ok(state);
        }
        // Written by another fold (or an older release): fold the events
        // and store the result, unless the case changed meanwhile.
        let (state, _) = self.load(&record.case_id).await?;
        let projection = stored::encode_projection(&state)?;
        let version = i64::try_from(state.version)
            .map_err(|_| CaseError::Internal("case version out of range".into()))?;
        let refreshed = self
            .db
            .refresh_projection(&record.case_id, version, &projection)
            .await?;
        tracing::debug!(case_id = %record.case_id, refreshed, "case projection rebuilt from its events");
        Ok(state)
    }

    /// A case's stored events, decoded, and the state folded from them
    /// (`CaseState::default()` and no events for an unknown case).
    pub async fn load(&self, case_id: &str) -> Result<(CaseState, Vec<CaseEvent>), CaseError> {
        let stored = self.db.case_events(case_id).await?;
        let mut events = Vec::with_capacity(stored.len());
        for s in stored {
            let event = stored::decode_event(&s.payload).map_err(|source| {
                tracing::error!(case_id, seq = s.seq, error = %source, "stored event does not parse");
                CaseError::Corrupt {
                    case_id: case_id.to_string(),
                    seq: s.seq,
                    source,
                }
            })?;
            events.push(event);
        }
        Ok((CaseState::from_events(&events), events))
    }

    async fn load_existing(&self, case_id: &str) -> Result<(CaseState, Vec<CaseEvent>), CaseError> {
        let (state, events) = self.load(case_id).await?;
        if events.is_empty() {
            return Err(CaseError::NotFound(case_id.to_string()));
        }
        Ok((state, events))
    }

    fn case_view(&self, case: CaseState, now: DateTime<Utc>) -> CaseView {
        CaseView {
            clocks: case_clocks(&case, &self.config.clocks, now),
            case,
            names: Names::new(),
        }
    }

    /// Display names for user and organisation ids (an id that names
    /// nobody any more is left out: the reader sees the id).
    async fn names(
        &self,
        users: &BTreeSet<String>,
        orgs: &BTreeSet<String>,
    ) -> Result<Names, CaseError> {
        let mut out = Names::new();
        for u in users {
            match self.db.user(u).await {
                Ok(user) => {
                    let name = if user.display_name.trim().is_empty() {
                        user.username
                    } else {
                        user.display_name
                    };
                    out.insert(u.clone(), strip_controls(&name));
                }
                Err(StateError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        for o in orgs {
            match self.db.organisation(o).await {
                Ok(org) => {
                    out.insert(o.clone(), strip_controls(&org.name));
                }
                Err(StateError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    async fn names_of_case(&self, s: &CaseState) -> Result<Names, CaseError> {
        let mut users: BTreeSet<String> = BTreeSet::new();
        users.extend(s.applicants().iter().map(ToString::to_string));
        for r in s.legal_reviews.iter().chain(&s.technical_reviews) {
            users.insert(r.by.to_string());
        }
        for r in s.legal_review.iter().chain(&s.technical_review) {
            users.insert(r.by.to_string());
        }
        if let Some(d) = &s.decision {
            users.insert(d.by.to_string());
        }
        if let Some(a) = &s.assignee {
            users.insert(a.to_string());
        }
        if let Some(a) = &s.information_requested_by {
            users.insert(a.to_string());
        }
        for i in &s.invitations {
            users.insert(i.user.to_string());
            users.insert(i.invited_by.to_string());
        }
        if let Some(p) = &s.permit {
            users.extend(p.terms.authorised_users.iter().map(ToString::to_string));
        }
        let orgs: BTreeSet<String> = s
            .organisation()
            .map(ToString::to_string)
            .into_iter()
            .collect();
        self.names(&users, &orgs).await
    }

    async fn names_of_summaries(&self, items: &[CaseSummary]) -> Result<Names, CaseError> {
        let users: BTreeSet<String> = items
            .iter()
            .filter_map(|s| s.assignee.as_ref().map(ToString::to_string))
            .collect();
        let orgs: BTreeSet<String> = items.iter().map(|s| s.organisation.to_string()).collect();
        self.names(&users, &orgs).await
    }

    /// Decides `command` on `current` (pure) and runs the checks that need
    /// the database, reporting every problem of both at once: when the
    /// domain refuses only the content (422), the database checks still
    /// run and their problems join its list, so one answer names every
    /// field to fix (one entry per field and problem). A refusal of
    /// another kind (403, 404, 409) comes alone, before any database check.
    async fn check(
        &self,
        actor: Actor<'_>,
        case_id: &str,
        current: &CaseState,
        command: &Command,
        now: DateTime<Utc>,
    ) -> Result<(), CaseError> {
        let (mut issues, submitting) =
            match decide_with(self.config, current, command, actor.principal, now) {
                Ok(events) => (
                    Vec::new(),
                    events.iter().any(|e| matches!(e.change, Change::Submitted)),
                ),
                // Content refused: a submission that was not closed late.
                Err(AccessError::Invalid { issues }) => (issues, true),
                Err(e) => return Err(e.into()),
            };
        for issue in self
            .database_issues(case_id, current, command, submitting)
            .await?
        {
            if !issues.contains(&issue) {
                issues.push(issue);
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(AccessError::Invalid { issues }.into())
        }
    }

    /// The checks of a command that need the database: people named must
    /// be users of the applying organisation, attachments named must have
    /// been uploaded to the case with the same checksum, and a submitted
    /// cohort must be a valid feasibility query (`submitting`: the command
    /// submits the application). One issue per field and problem.
    async fn database_issues(
        &self,
        case_id: &str,
        current: &CaseState,
        command: &Command,
        submitting: bool,
    ) -> Result<Vec<FieldIssue>, CaseError> {
        let Some(org) = current.organisation().cloned() else {
            return Ok(Vec::new());
        };
        let mut issues = Vec::new();
        match command {
            Command::Submit if submitting => {
                if let Some(c) = &current.content {
                    issues.extend(
                        self.member_problems("members", &c.members, &org, current)
                            .await?,
                    );
                    issues.extend(
                        self.attachment_problems(case_id, "attachments", &c.attachments)
                            .await?,
                    );
                    if let Some(cohort) = &c.cohort {
                        let empty = CodeLists::new();
                        let lists = self.lists.unwrap_or(&empty);
                        if let Err(e) = halsohub_cohort::parse_value(cohort, lists) {
                            issues.push(FieldIssue::new(
                                format!("cohort{}", e.path.trim_start_matches('$')),
                                format!("is not a valid feasibility query: {}", e.message),
                            ));
                        }
                    }
                }
            }
            Command::UpdateDraft { content } => {
                issues.extend(
                    self.attachment_problems(case_id, "content.attachments", &content.attachments)
                        .await?,
                );
            }
            Command::ProvideInformation { attachments, .. } => {
                issues.extend(
                    self.attachment_problems(case_id, "attachments", attachments)
                        .await?,
                );
            }
            Command::IssuePermit { terms, .. } => {
                issues.extend(
                    self.member_problems(
                        "terms.authorised_users",
                        &terms.authorised_users,
                        &org,
                        current,
                    )
                    .await?,
                );
            }
            Command::RequestAmendment { amendment } => {
                if let Some(m) = &amendment.members {
                    issues.extend(
                        self.member_problems("amendment.members", m, &org, current)
                            .await?,
                    );
                }
            }
            Command::InviteMember { user } => {
                // A user of the hub, from outside the applying organisation
                // (its own users are named directly).
                match self.db.user(user.as_str()).await {
                    Ok(u) if u.disabled_at.is_none() => {
                        let in_org = self
                            .db
                            .memberships(&u.id)
                            .await?
                            .iter()
                            .any(|m| m.organisation_id == org.as_str());
                        if in_org {
                            issues.push(FieldIssue::new(
                                "user",
                                format!(
                                    "is a user of the applying organisation {org}; name them as a member directly, no invitation is needed"
                                ),
                            ));
                        }
                    }
                    Ok(_) | Err(StateError::NotFound { .. }) => {
                        issues.push(FieldIssue::new("user", "is not a user of this hub"));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Command::Assign { assignee: Some(a) } => {
                let staff = self
                    .db
                    .memberships(a.as_str())
                    .await
                    .map(|ms| {
                        ms.iter()
                            .any(|m| Role::parse(&m.role).is_some_and(Role::is_case_staff))
                    })
                    .or_else(|e| match e {
                        StateError::NotFound { .. } => Ok(false),
                        e => Err(e),
                    })?;
                if !staff {
                    issues.push(FieldIssue::new(
                        "assignee",
                        "is not a staff member (case officer, legal reviewer, data steward or decision maker)",
                    ));
                }
            }
            _ => {}
        }
        Ok(issues)
    }

    async fn member_problems(
        &self,
        field: &str,
        members: &[UserId],
        org: &OrgId,
        current: &CaseState,
    ) -> Result<Vec<FieldIssue>, CaseError> {
        let mut orgs: BTreeMap<UserId, Option<Vec<OrgId>>> = BTreeMap::new();
        for m in members {
            if orgs.contains_key(m) {
                continue;
            }
            let found = match self.db.user(m.as_str()).await {
                Ok(u) if u.disabled_at.is_none() => Some(
                    self.db
                        .memberships(&u.id)
                        .await?
                        .iter()
                        .filter_map(|ms| OrgId::new(&ms.organisation_id).ok())
                        .collect(),
                ),
                Ok(_) | Err(StateError::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            };
            orgs.insert(m.clone(), found);
        }
        let accepted = current.accepted_invitees();
        Ok(member_issues(field, members, org, &accepted, |u| {
            orgs.get(u).cloned().flatten()
        }))
    }

    async fn attachment_problems(
        &self,
        case_id: &str,
        field: &str,
        referenced: &[DomainAttachment],
    ) -> Result<Vec<FieldIssue>, CaseError> {
        if referenced.is_empty() {
            return Ok(Vec::new());
        }
        let stored = self.db.list_attachments(case_id).await?;
        Ok(referenced
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                !stored
                    .iter()
                    .any(|s| s.sha256 == a.sha256 && s.size_bytes == a.size)
            })
            .map(|(i, _)| {
                FieldIssue::new(
                    format!("{field}[{i}]"),
                    "no file with this SHA-256 and size was uploaded to this application; upload it first",
                )
            })
            .collect())
    }

    async fn replay(
        &self,
        actor: Actor<'_>,
        idem: Option<&Idempotency>,
    ) -> Result<Option<Reply<CommandResult>>, CaseError> {
        let Some(idem) = idem else { return Ok(None) };
        Ok(self
            .db
            .idempotent_response(actor.user_id, &idem.key, &idem.request_hash)
            .await?
            .map(|stored| Reply::Replayed {
                status: stored.status,
                body: stored.response,
            }))
    }

    /// Decides `command` on `before`, and stores the events, projection,
    /// permit row, attachment, notifications and idempotency record in one
    /// transaction.
    #[allow(clippy::too_many_arguments)]
    async fn execute(
        &self,
        actor: Actor<'_>,
        case_id: &str,
        before: CaseState,
        command: Command,
        attachment: Option<NewAttachment>,
        idem: Option<Idempotency>,
        now: DateTime<Utc>,
    ) -> Result<CommandResult, CaseError> {
        let events = decide_with(self.config, &before, &command, actor.principal, now)?;
        let result = self
            .persist(
                actor.user_id,
                case_id,
                before,
                events,
                attachment,
                idem,
                now,
            )
            .await?;
        tracing::info!(case_id, user = %actor.user_id, "case command applied");
        Ok(result)
    }

    /// Stores `events` decided on `before` — the events, the projection,
    /// permit row, attachment, notifications and idempotency record — in
    /// one transaction that holds only if the case is still at
    /// `before.version`.
    #[allow(clippy::too_many_arguments)]
    async fn persist(
        &self,
        user_id: &str,
        case_id: &str,
        before: CaseState,
        events: Vec<CaseEvent>,
        attachment: Option<NewAttachment>,
        idem: Option<Idempotency>,
        now: DateTime<Utc>,
    ) -> Result<CommandResult, CaseError> {
        let mut after = before.clone();
        for e in &events {
            after.apply(e);
        }
        let notifications = rows::notifications(&notifications_for_events(&before, &events));
        let permits: Vec<PermitRow> = match (rows::permit(&before)?, rows::permit(&after)?) {
            (b, Some(a)) if b.as_ref() != Some(&a) => vec![a],
            _ => vec![],
        };
        let result = CommandResult {
            clocks: case_clocks(&after, &self.config.clocks, now),
            case: after,
            events,
        };
        let organisation = result
            .case
            .organisation()
            .map(ToString::to_string)
            .unwrap_or_default();
        let new_events = result
            .events
            .iter()
            .map(|e| {
                Ok(NewEvent {
                    event_type: e.change.name().to_string(),
                    payload: stored::encode_event(e)?,
                    actor: e.actor.to_string(),
                    at: e.at,
                })
            })
            .collect::<Result<Vec<_>, StoredError>>()?;
        let idempotency = match idem {
            Some(i) => Some(IdempotencyRecord {
                user_id: user_id.to_string(),
                key: i.key,
                request_hash: i.request_hash,
                status: i.status,
                response: serde_json::to_value(&result)
                    .map_err(|e| CaseError::Internal(format!("cannot encode a response: {e}")))?,
            }),
            None => None,
        };
        let audit = crate::audit::case_entries(case_id, before.version, &new_events);
        let write = CaseWrite {
            case_id: case_id.to_string(),
            expected_version: i64::try_from(before.version)
                .map_err(|_| CaseError::Internal("case version out of range".into()))?,
            organisation_id: organisation,
            created_by: user_id.to_string(),
            events: new_events,
            status: result.case.status.as_str().to_string(),
            projection: stored::encode_projection(&result.case)?,
            attachments: attachment.into_iter().collect(),
            permits,
            notifications,
            idempotency,
            audit,
        };
        self.db.write_case(write).await?;
        Ok(result)
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// A domain enum's wire name (its JSON string).
fn wire<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The summary filter a list query asks for; a value that names nothing
/// is refused (422, one entry per parameter).
fn summary_filter(q: &ListQuery) -> Result<SummaryFilter, CaseError> {
    let mut issues = Vec::new();
    let mut filter = SummaryFilter::default();
    if let Some(st) = &q.status {
        for name in st.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match serde_json::from_value::<CaseStatus>(Value::String(name.to_string())) {
                Ok(s) => filter.statuses.push(s),
                Err(_) => issues.push(FieldIssue::new(
                    "status",
                    "is not a case state (draft, submitted, completeness_check, incomplete, under_review, waiting_for_applicant, approved, rejected, permit_issued, data_delivered, amendment_under_review, closed, withdrawn, revoked)",
                )),
            }
        }
    }
    match q.assigned.as_deref() {
        None | Some("any") => {}
        Some("mine") => filter.assigned = Assignment::Mine,
        Some("unassigned") => filter.assigned = Assignment::Unassigned,
        Some(_) => issues.push(FieldIssue::new(
            "assigned",
            "must be mine, unassigned or any",
        )),
    }
    if let Some(r) = &q.role {
        match Role::parse(r) {
            Some(r) => filter.role = Some(r),
            None => issues.push(FieldIssue::new("role", "is not a role")),
        }
    }
    if let Some(c) = &q.clock {
        match serde_json::from_value::<ClockFilter>(Value::String(c.clone())) {
            Ok(c) => filter.clock = Some(c),
            Err(_) => issues.push(FieldIssue::new(
                "clock",
                "must be overdue, near, running, stopped or none",
            )),
        }
    }
    if issues.is_empty() {
        Ok(filter)
    } else {
        Err(AccessError::Invalid { issues }.into())
    }
}

fn paging(q: &ListQuery) -> Result<(u32, u32), CaseError> {
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(DEFAULT_PER_PAGE);
    let mut issues = Vec::new();
    if page == 0 {
        issues.push(FieldIssue::new("page", "pages count from 1"));
    }
    if per_page == 0 || per_page > MAX_PER_PAGE {
        issues.push(FieldIssue::new(
            "per_page",
            format!("must be between 1 and {MAX_PER_PAGE}"),
        ));
    }
    if issues.is_empty() {
        Ok((page, per_page))
    } else {
        Err(AccessError::Invalid { issues }.into())
    }
}

fn page_of<T>(items: Vec<T>, page: u32, per_page: u32) -> Vec<T> {
    let skip = usize::try_from(page.saturating_sub(1))
        .unwrap_or(usize::MAX)
        .saturating_mul(usize::try_from(per_page).unwrap_or(usize::MAX));
    items
        .into_iter()
        .skip(skip)
        .take(usize::try_from(per_page).unwrap_or(usize::MAX))
        .collect()
}

fn year_of(now: DateTime<Utc>) -> Result<u16, CaseError> {
    u16::try_from(now.year()).map_err(|_| CaseError::Internal(format!("year {}", now.year())))
}

/// The typed command from a request, with the permit id to use when the
/// request leaves it out.
fn parse_command(
    request: &CommandRequest,
    permit_id: Option<PermitId>,
) -> Result<Command, CaseError> {
    let mut object: serde_json::Map<String, Value> = request.fields.clone().into_iter().collect();
    object.insert("type".into(), Value::String(request.command.clone()));
    if let Some(p) = permit_id {
        object.insert("permit_id".into(), Value::String(p.to_string()));
    }
    let command: Command = serde_path_to_error::deserialize(Value::Object(object.clone()))
        .map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." {
                "type".to_string()
            } else {
                path
            };
            CaseError::Access(AccessError::Invalid {
                issues: vec![FieldIssue::new(field, e.inner().to_string())],
            })
        })?;
    // serde ignores fields beside a command that has none (`submit`,
    // `publish`, …): compare with what the command holds.
    let parsed = serde_json::to_value(&command)
        .map_err(|e| CaseError::Internal(format!("cannot encode a command: {e}")))?;
    let unknown: Vec<FieldIssue> = object
        .keys()
        .filter(|k| parsed.get(k.as_str()).is_none())
        .map(|k| {
            FieldIssue::new(
                k.clone(),
                format!("unknown field: `{}` takes no field `{k}`", request.command),
            )
        })
        .collect();
    if unknown.is_empty() {
        Ok(command)
    } else {
        Err(AccessError::Invalid { issues: unknown }.into())
    }
}
