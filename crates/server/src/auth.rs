//! Bearer authentication: an API token (`hh_…`), a web session (`hs_…`) or
//! an OpenID Connect JWT becomes a [`Caller`] with roles per organisation.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use halsohub_app::accounts::{Principal, User};
use halsohub_app::auth::{AuthError, Authenticated, UserId, authenticate};

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
    /// A citizen's identity number from an OIDC token (withheld from
    /// `Debug`; the citizens' endpoints pseudonymise it at once).
    pub identity_number: Option<halsohub_app::optout::IdentityClaim>,
}

impl Caller {
    /// The caller's user id for the domain.
    pub fn user_id(&self) -> Result<UserId, Problem> {
        UserId::new(self.user.id.clone())
            .map_err(|e| Problem::bad_request(format!("unusable user id: {e}")))
    }
}

impl From<Authenticated> for Caller {
    fn from(a: Authenticated) -> Caller {
        Caller {
            user: a.user,
            principal: a.principal,
            token_id: a.token_id,
            credential_expires: a.credential_expires,
            identity_number: a.identity_number,
        }
    }
}

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Problem {
        match e {
            AuthError::Unauthorized(m) => Problem::unauthorized(m),
            e @ AuthError::BadUserId(_) => Problem::bad_request(e.to_string()),
            AuthError::State(s) => s.into(),
        }
    }
}

/// The bearer token of the request, if it has one.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<Option<&str>, Problem> {
    let Some(value) = headers.get(AUTHORIZATION) else {
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

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let token = bearer(&parts.headers)?.ok_or_else(|| {
            Problem::unauthorized("this endpoint needs 'Authorization: Bearer <token>'")
        })?;
        let caller = authenticate(
            &state.db,
            state.oidc.as_deref(),
            token,
            state.config.max_token_lifetime,
        )
        .await?;
        Ok(caller.into())
    }
}
