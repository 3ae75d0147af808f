//! Bearer authentication: an API token (`hh_…`), a web session (`hs_…`) or
//! an OpenID Connect JWT becomes a [`Caller`] with roles per organisation.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use halsohub_access::{OrgId, Principal, Role, UserId};
use halsohub_state::accounts::User;
use halsohub_state::oidc::OidcVerifier;

use crate::AppState;
use crate::problem::Problem;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account (for OIDC callers without a local account, a synthetic
    /// one whose id is `oidc:<subject>`).
    pub user: User,
    /// The caller as the access crate sees it.
    pub principal: Principal,
    /// The API token the caller authenticated with, if any.
    pub token_id: Option<String>,
    /// When the credential this request came with stops working (API token
    /// or web session), if it does: tokens created with it end no later.
    pub credential_expires: Option<chrono::DateTime<chrono::Utc>>,
}

impl Caller {
    /// The caller's user id for the domain.
    pub fn user_id(&self) -> Result<UserId, Problem> {
        UserId::new(self.user.id.clone())
            .map_err(|e| Problem::bad_request(format!("unusable user id: {e}")))
    }
}

/// Builds the principal from stored memberships; unknown role names are
/// skipped (and logged).
pub(crate) fn principal_for(
    user_id: &str,
    memberships: impl IntoIterator<Item = (String, String)>,
) -> Result<Principal, Problem> {
    let uid = UserId::new(user_id.to_string())
        .map_err(|e| Problem::bad_request(format!("unusable user id: {e}")))?;
    let mut p = Principal::user(uid);
    for (org, role) in memberships {
        match (OrgId::new(org), Role::parse(&role)) {
            (Ok(org), Some(role)) => p = p.with_role(org, role),
            _ => tracing::warn!(role, "skipping an unusable membership"),
        }
    }
    Ok(p)
}

fn bearer(parts: &Parts) -> Result<Option<&str>, Problem> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| Problem::unauthorized("the Authorization header is not valid text"))?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .ok_or_else(|| Problem::unauthorized("use 'Authorization: Bearer <token>'"))?;
    Ok(Some(token.trim()))
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Caller>, Problem> {
    let Some(token) = bearer(parts)? else {
        return Ok(None);
    };
    let db = &state.db;
    let max_lifetime = state.config.max_token_lifetime;
    if let Some((user, api_token)) = db
        .authenticate_api_token_within(token, max_lifetime)
        .await?
    {
        let mut caller = caller_for(state, user).await?;
        caller.credential_expires = api_token.effective_expiry(max_lifetime);
        caller.token_id = Some(api_token.id);
        return Ok(Some(caller));
    }
    if let Some((user, session)) = db.authenticate_session_record(token).await? {
        let mut caller = caller_for(state, user).await?;
        caller.credential_expires = Some(session.expires_at);
        return Ok(Some(caller));
    }
    if let Some(verifier) = &state.oidc
        && OidcVerifier::looks_like_jwt(token)
    {
        let id = verifier
            .verify(token)
            .await
            .map_err(|e| Problem::unauthorized(e.to_string()))?;
        let user = match db.user_by_oidc_subject(&id.subject).await? {
            Some(u) if u.disabled_at.is_some() => {
                return Err(Problem::unauthorized("the account is disabled"));
            }
            Some(u) => u,
            None => User {
                id: format!("oidc:{}", id.subject),
                username: id.subject.clone(),
                display_name: id.name.clone().unwrap_or_else(|| id.subject.clone()),
                email: id.email.clone(),
                oidc_subject: Some(id.subject.clone()),
                has_password: false,
                created_at: chrono::Utc::now(),
                disabled_at: None,
            },
        };
        // Roles come from the token's claim; organisations are named.
        let mut pairs = Vec::new();
        for (org_name, role) in id.roles {
            match db.organisation_by_name(&org_name).await {
                Ok(org) => pairs.push((org.id, role)),
                Err(halsohub_state::StateError::NotFound { .. }) => {
                    tracing::warn!(org = org_name, "OIDC role for an unknown organisation")
                }
                Err(e) => return Err(e.into()),
            }
        }
        let principal = principal_for(&user.id, pairs)?;
        return Ok(Some(Caller {
            user,
            principal,
            token_id: None,
            credential_expires: None,
        }));
    }
    Err(Problem::unauthorized(
        "the bearer token is unknown, expired or revoked",
    ))
}

async fn caller_for(state: &AppState, user: User) -> Result<Caller, Problem> {
    let memberships = state.db.memberships(&user.id).await?;
    let principal = principal_for(
        &user.id,
        memberships.into_iter().map(|m| (m.organisation_id, m.role)),
    )?;
    Ok(Caller {
        user,
        principal,
        token_id: None,
        credential_expires: None,
    })
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        authenticate(parts, state).await?.ok_or_else(|| {
            Problem::unauthorized("this endpoint needs 'Authorization: Bearer <token>'")
        })
    }
}
