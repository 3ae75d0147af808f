//! Who is calling the API: a bearer token — an API token (`hh_…`), a web
//! session (`hs_…`) or an OpenID Connect JWT — becomes an
//! [`Authenticated`] caller with the access domain's [`Principal`] (roles
//! per organisation). The server's `auth` layer only reads the header and
//! calls [`authenticate`].

use chrono::{DateTime, Utc};
use halsohub_access::OrgId;

pub use halsohub_access::{AccessConfig, AccessError, UserId, may_query};
pub use halsohub_state::oidc::{JwksSource, OidcConfig, OidcVerifier, RefreshPolicy};

use crate::accounts::{Principal, Role, User};
use crate::db::{Db, StateError};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The account (for OIDC callers without a local account, a synthetic
    /// one whose id is `oidc:<subject>`).
    pub user: User,
    /// The caller as the access domain sees it.
    pub principal: Principal,
    /// The API token the caller authenticated with, if any.
    pub token_id: Option<String>,
    /// When the credential stops working (API token or web session), if
    /// it does: tokens created with it end no later.
    pub credential_expires: Option<DateTime<Utc>>,
    /// A citizen's identity number from an OIDC token's configured claim
    /// (for the citizens' endpoints only; withheld from `Debug`).
    pub identity_number: Option<halsohub_state::oidc::IdentityClaim>,
}

/// Why a bearer token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown, expired, revoked or invalid credentials (or a disabled
    /// account).
    #[error("{0}")]
    Unauthorized(String),
    /// A stored user id the access domain cannot use.
    #[error("unusable user id: {0}")]
    BadUserId(String),
    /// The state database failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Where the issuer's keys are: a URL (`http://`, `https://`) or a file.
pub fn jwks_source(text: &str) -> JwksSource {
    if text.starts_with("http://") || text.starts_with("https://") {
        JwksSource::Url(text.to_string())
    } else {
        JwksSource::File(std::path::PathBuf::from(text))
    }
}

/// The principal of `user_id` with `(organisation id, role name)`
/// memberships; unknown role names are skipped (and logged).
///
/// # Errors
/// [`AuthError::BadUserId`].
pub fn principal_for(
    user_id: &str,
    memberships: impl IntoIterator<Item = (String, String)>,
) -> Result<Principal, AuthError> {
    let uid = UserId::new(user_id.to_string()).map_err(|e| AuthError::BadUserId(e.to_string()))?;
    let mut p = Principal::user(uid);
    for (org, role) in memberships {
        match (OrgId::new(org), Role::parse(&role)) {
            (Ok(org), Some(role)) => p = p.with_role(org, role),
            _ => tracing::warn!(role, "skipping an unusable membership"),
        }
    }
    Ok(p)
}

/// The caller behind bearer `token`: an API token (within
/// `max_token_lifetime` of its creation), a web session, or — when
/// `oidc` is configured — a JWT from the issuer (roles from its claim,
/// organisations by name).
///
/// # Errors
/// [`AuthError::Unauthorized`] saying why; [`AuthError::State`].
pub async fn authenticate(
    db: &Db,
    oidc: Option<&OidcVerifier>,
    token: &str,
    max_token_lifetime: Option<chrono::Duration>,
) -> Result<Authenticated, AuthError> {
    if let Some((user, api_token)) = db
        .authenticate_api_token_within(token, max_token_lifetime)
        .await?
    {
        let mut caller = with_memberships(db, user).await?;
        caller.credential_expires = api_token.effective_expiry(max_token_lifetime);
        caller.token_id = Some(api_token.id);
        return Ok(caller);
    }
    if let Some((user, session)) = db.authenticate_session_record(token).await? {
        let mut caller = with_memberships(db, user).await?;
        caller.credential_expires = Some(session.expires_at);
        return Ok(caller);
    }
    if let Some(verifier) = oidc
        && OidcVerifier::looks_like_jwt(token)
    {
        let id = verifier
            .verify(token)
            .await
            .map_err(|e| AuthError::Unauthorized(e.to_string()))?;
        let user = match db.user_by_oidc_subject(&id.subject).await? {
            Some(u) if u.disabled_at.is_some() => {
                return Err(AuthError::Unauthorized("the account is disabled".into()));
            }
            Some(u) => u,
            None => User {
                id: format!("oidc:{}", id.subject),
                username: id.subject.clone(),
                display_name: id.name.clone().unwrap_or_else(|| id.subject.clone()),
                email: id.email.clone(),
                oidc_subject: Some(id.subject.clone()),
                has_password: false,
                created_at: Utc::now(),
                disabled_at: None,
            },
        };
        // Roles come from the token's claim; organisations are named.
        let mut pairs = Vec::new();
        for (org_name, role) in id.roles {
            match db.organisation_by_name(&org_name).await {
                Ok(org) => pairs.push((org.id, role)),
                Err(StateError::NotFound { .. }) => {
                    tracing::warn!(org = org_name, "OIDC role for an unknown organisation")
                }
                Err(e) => return Err(e.into()),
            }
        }
        let principal = principal_for(&user.id, pairs)?;
        return Ok(Authenticated {
            user,
            principal,
            token_id: None,
            credential_expires: None,
            identity_number: id.identity_number,
        });
    }
    Err(AuthError::Unauthorized(
        "the bearer token is unknown, expired or revoked".into(),
    ))
}

async fn with_memberships(db: &Db, user: User) -> Result<Authenticated, AuthError> {
    let memberships = db.memberships(&user.id).await?;
    let principal = principal_for(
        &user.id,
        memberships.into_iter().map(|m| (m.organisation_id, m.role)),
    )?;
    Ok(Authenticated {
        user,
        principal,
        token_id: None,
        credential_expires: None,
        identity_number: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_sources_are_urls_or_files() {
        assert!(matches!(
            jwks_source("https://idp/jwks"),
            JwksSource::Url(_)
        ));
        assert!(matches!(
            jwks_source("http://127.0.0.1/jwks"),
            JwksSource::Url(_)
        ));
        assert!(matches!(jwks_source("/etc/jwks.json"), JwksSource::File(_)));
    }

    #[test]
    fn unknown_roles_are_skipped() {
        let p = principal_for(
            "u1",
            [
                ("o1".to_string(), "auditor".to_string()),
                ("o1".to_string(), "boss".to_string()),
            ],
        )
        .unwrap();
        assert!(p.has_role(Role::Auditor));
        assert_eq!(p.roles.values().map(|r| r.len()).sum::<usize>(), 1);
    }

    #[tokio::test]
    async fn tokens_and_sessions_authenticate_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::open(None, dir.path()).await.unwrap();
        let logins = crate::accounts::demo_accounts(&db).await.unwrap();
        let a = authenticate(&db, None, &logins[0].token, None)
            .await
            .unwrap();
        assert_eq!(a.user.username, logins[0].username);
        assert!(a.token_id.is_some());
        assert!(a.principal.has_role(logins[0].role));
        let err = authenticate(&db, None, "hh_nonsense", None)
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::Unauthorized(_)), "{err}");
    }
}
