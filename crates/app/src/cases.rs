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
mod rows;

use chrono::{DateTime, Datelike, Utc};
use halsohub_access::stored::{self, StoredError};
use halsohub_access::{
    AccessConfig, AccessError, Action, Attachment as DomainAttachment, CaseEvent, CaseId,
    CaseState, Command, PermitId, Principal, QueueEntry, Target, authorize, case_clocks,
    current_queue, deadline_notifications, decide_with, lead_times, may_see_case,
    notifications_for_events, queue, register,
};
use halsohub_state::attachments::{Attachment, NewAttachment};
use halsohub_state::cases::{CaseFilter, CaseRecord, CaseWrite, IdempotencyRecord, NewEvent};
use halsohub_state::permits::PermitRow;
use halsohub_state::sequences::Sequence;
use halsohub_state::{Db, StateError};
use serde_json::Value;

use self::api::{
    AttachmentList, CaseList, CaseView, CommandRequest, CommandResult, History, HistoryItem,
    LeadTimes, PermitView, PublicQueue, Register, WorkQueue,
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

/// A case with its whole history, for operators (`halsohub cases show`).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseDetail {
    /// The current state.
    pub state: CaseState,
    /// Every event, in order.
    pub events: Vec<CaseEvent>,
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
}

impl<'a> CaseService<'a> {
    /// The service over `db`.
    pub fn new(db: &'a Db, config: &'a AccessConfig) -> Self {
        Self { db, config }
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
        // no number from the sequence.
        let placeholder = CaseId::new(year, 1).map_err(|e| CaseError::Internal(e.to_string()))?;
        decide_with(
            self.config,
            &CaseState::default(),
            &Command::Create {
                case_id: placeholder,
                content: content.clone(),
            },
            actor.principal,
            now,
        )?;
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
        if_match: Option<u64>,
        idem: Option<Idempotency>,
        now: DateTime<Utc>,
    ) -> Result<Reply<CommandResult>, CaseError> {
        if let Some(reply) = self.replay(actor, idem.as_ref()).await? {
            return Ok(reply);
        }
        let (current, _) = self.load_existing(case_id).await?;
        if let Some(expected) = if_match
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
        let mut command = if allocate_permit {
            // Decide once with a placeholder, so a refused command uses no
            // permit number.
            let placeholder =
                PermitId::new(year_of(now)?, 1).map_err(|e| CaseError::Internal(e.to_string()))?;
            let command = parse_command(&request, Some(placeholder))?;
            decide_with(self.config, &current, &command, actor.principal, now)?;
            command
        } else {
            parse_command(&request, None)?
        };
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
        let new = NewAttachment::new(
            case_id,
            upload.name,
            upload.media_type,
            upload.bytes.to_vec(),
            actor.user_id,
            upload.max_bytes,
            upload.expected_sha256,
        )?;
        let meta = new.meta().clone();
        let Some(mut content) = current.content.clone() else {
            return Err(CaseError::NotFound(case_id.to_string()));
        };
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

    /// One case with its clocks, if the caller may see it.
    pub async fn view(
        &self,
        principal: &Principal,
        case_id: &str,
        now: DateTime<Utc>,
    ) -> Result<CaseView, CaseError> {
        let state = self.state(case_id).await?;
        authorize(principal, Action::ViewCase, Target::Case(&state))?;
        Ok(self.case_view(state, now))
    }

    /// The cases the caller may see, oldest first.
    pub async fn list(
        &self,
        principal: &Principal,
        now: DateTime<Utc>,
    ) -> Result<CaseList, CaseError> {
        let applications = self
            .all_states()
            .await?
            .into_iter()
            .filter(|s| may_see_case(principal, s))
            .map(|s| self.case_view(s, now))
            .collect();
        Ok(CaseList { applications })
    }

    /// A case's full history, if the caller may see it.
    pub async fn history(
        &self,
        principal: &Principal,
        case_id: &str,
    ) -> Result<History, CaseError> {
        let (state, events) = self.load_existing(case_id).await?;
        authorize(principal, Action::ViewHistory, Target::Case(&state))?;
        let events = events
            .into_iter()
            .zip(1..)
            .map(|(event, seq)| HistoryItem {
                seq,
                why: event.why(),
                event,
            })
            .collect();
        Ok(History {
            case_id: case_id.to_string(),
            events,
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

    /// The staff work queue, for staff and auditors.
    pub async fn work_queue(
        &self,
        principal: &Principal,
        now: DateTime<Utc>,
    ) -> Result<WorkQueue, CaseError> {
        authorize(principal, Action::ViewWorkQueue, Target::Hub)?;
        let all = self.all_states().await?;
        Ok(WorkQueue {
            queue: queue(all.iter(), &self.config.clocks, now),
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
        authorize(principal, Action::ViewPermit, Target::Case(&state))?;
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
        Ok(Register {
            entries: register(all.iter()),
        })
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
        Ok(CaseDetail { state, events })
    }

    /// Queues deadline reminders ("deadline near", "overdue") for every
    /// case at `now`. Safe to run as often as wanted: each reminder's
    /// dedupe key names the case, clock and deadline, and the outbox
    /// ignores a key it has seen, so each warning is queued once. Returns
    /// how many were newly queued.
    pub async fn sweep_deadlines(&self, now: DateTime<Utc>) -> Result<usize, CaseError> {
        let mut n = 0;
        for state in self.all_states().await? {
            let notes = deadline_notifications(&state, &self.config.clocks, now);
            for row in rows::notifications(&notes) {
                if self.db.notify(&row).await? {
                    n += 1;
                }
            }
        }
        Ok(n)
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
        }
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
                user_id: actor.user_id.to_string(),
                key: i.key,
                request_hash: i.request_hash,
                status: i.status,
                response: serde_json::to_value(&result)
                    .map_err(|e| CaseError::Internal(format!("cannot encode a response: {e}")))?,
            }),
            None => None,
        };
        let write = CaseWrite {
            case_id: case_id.to_string(),
            expected_version: i64::try_from(before.version)
                .map_err(|_| CaseError::Internal("case version out of range".into()))?,
            organisation_id: organisation,
            created_by: actor.user_id.to_string(),
            events: new_events,
            status: result.case.status.as_str().to_string(),
            projection: stored::encode_projection(&result.case)?,
            attachments: attachment.into_iter().collect(),
            permits,
            notifications,
            idempotency,
        };
        self.db.write_case(write).await?;
        tracing::info!(case_id, user = %actor.user_id, "case command applied");
        Ok(result)
    }
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
    serde_path_to_error::deserialize(Value::Object(object)).map_err(|e| {
        CaseError::BadRequest(format!("invalid command at {}: {}", e.path(), e.inner()))
    })
}
