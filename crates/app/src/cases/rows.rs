//! Rows the case service stores beside the events: outbox notifications
//! and the permits projection.

use halsohub_access::{CaseState, Notification, NotificationKind, Recipient};
use halsohub_state::outbox::NewNotification;
use halsohub_state::permits::PermitRow;

use super::CaseError;

/// One outbox row per recipient of each notification; the dedupe key
/// names the notification and the recipient, so each is queued once.
pub(crate) fn notifications(notes: &[Notification]) -> Vec<NewNotification> {
    let mut out = Vec::new();
    for n in notes {
        let body = serde_json::to_string(&n.kind).unwrap_or_default();
        for to in &n.to {
            let recipients: Vec<String> = match to {
                Recipient::Users(us) => us.iter().map(|u| format!("user:{u}")).collect(),
                Recipient::Role(r) => vec![format!("role:{r}")],
            };
            for r in recipients {
                out.push(NewNotification {
                    dedupe_key: format!("{}|{r}", n.key),
                    recipient: r,
                    case_id: Some(n.case_id.to_string()),
                    kind: kind_name(&n.kind).to_string(),
                    subject: n.subject.clone(),
                    body: body.clone(),
                });
            }
        }
    }
    out
}

fn kind_name(k: &NotificationKind) -> &'static str {
    match k {
        NotificationKind::StatusChanged { .. } => "status_changed",
        NotificationKind::ReadyForDecision => "ready_for_decision",
        NotificationKind::DeadlineNear { .. } => "deadline_near",
        NotificationKind::Overdue { .. } => "overdue",
        NotificationKind::Invited { .. } => "invited",
        NotificationKind::InvitationAnswered { .. } => "invitation_answered",
    }
}

/// The permits-table row of the case's permit, if it has one.
pub(crate) fn permit(state: &CaseState) -> Result<Option<PermitRow>, CaseError> {
    let Some(p) = state.permit.as_ref() else {
        return Ok(None);
    };
    let document = serde_json::to_value(p)
        .map_err(|e| CaseError::Internal(format!("cannot encode a permit: {e}")))?;
    Ok(Some(PermitRow {
        permit_id: p.id.to_string(),
        case_id: p.case_id.to_string(),
        valid_from: p.starts_at(),
        expires_at: p.expires_at(),
        revoked_at: p.revoked.as_ref().map(|r| r.at),
        document,
    }))
}
