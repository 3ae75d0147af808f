//! API tokens and web sessions.
//!
//! Both are random 256-bit secrets, handed to the caller once as a
//! [`Secret`] and stored only as their SHA-256 hash: a leaked database does
//! not leak working credentials. Tokens carry a prefix (`hh_` for API tokens,
//! `hs_` for sessions) so that they are recognisable in a secret scanner.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;
use zeroize::Zeroizing;

use crate::accounts::User;
use crate::db::{from_ms, from_ms_opt, new_id, to_ms};
use crate::{Db, StateError};
use sqlx::AssertSqlSafe;

/// Prefix of API tokens.
pub const API_TOKEN_PREFIX: &str = "hh_";
/// Prefix of web-session tokens.
pub const SESSION_PREFIX: &str = "hs_";

/// A secret shown once. Its `Debug` output is redacted and its memory is
/// wiped on drop.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// The secret's text, to show to its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

fn new_secret(prefix: &str) -> Secret {
    let bytes: [u8; 32] = rand::random();
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Secret(Zeroizing::new(format!("{prefix}{body}")))
}

/// The SHA-256 of a secret, hex: what is stored and looked up.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The default longest lifetime of an API token, days. Tokens created
/// before lifetimes were limited (without expiry, or expiring later) were
/// clamped to their creation plus this on upgrade (migration
/// `20261207000002_token_lifetimes`).
pub const DEFAULT_MAX_TOKEN_DAYS: i64 = 365;

/// When a new API token expires: the earliest of what was asked for, the
/// end of the credential (token or session) that creates it, and `now` plus
/// the administrator's maximum lifetime. `None` only when none of the three
/// sets an end. A token therefore never outlives the credential that
/// created it, nor the maximum.
pub fn clamp_token_expiry(
    requested: Option<DateTime<Utc>>,
    creator_expires: Option<DateTime<Utc>>,
    max_lifetime: Option<chrono::Duration>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let cap = max_lifetime.and_then(|m| now.checked_add_signed(m));
    [requested, creator_expires, cap]
        .into_iter()
        .flatten()
        .min()
}

/// An API token's record (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiToken {
    /// Identifier (used to revoke it).
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// A name chosen by the owner.
    pub name: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expires, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last successful use.
    pub last_used_at: Option<DateTime<Utc>>,
}

fn token_from_row(row: &AnyRow) -> Result<ApiToken, StateError> {
    let e = || StateError::db("reading an API token");
    Ok(ApiToken {
        id: row.try_get("id").map_err(e())?,
        user_id: row.try_get("user_id").map_err(e())?,
        name: row.try_get("name").map_err(e())?,
        created_at: from_ms(row.try_get("created_at").map_err(e())?)?,
        expires_at: from_ms_opt(row.try_get("expires_at").map_err(e())?)?,
        revoked_at: from_ms_opt(row.try_get("revoked_at").map_err(e())?)?,
        last_used_at: from_ms_opt(row.try_get("last_used_at").map_err(e())?)?,
    })
}

const TOKEN_COLUMNS: &str = "id, user_id, name, created_at, expires_at, revoked_at, last_used_at";

/// A web session's record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebSession {
    /// Identifier.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expires.
    pub expires_at: DateTime<Utc>,
}

impl ApiToken {
    /// When the token stops working: its expiry, or earlier when
    /// `max_lifetime` counted from its creation ends first.
    pub fn effective_expiry(
        &self,
        max_lifetime: Option<chrono::Duration>,
    ) -> Option<DateTime<Utc>> {
        let cap = max_lifetime.and_then(|m| self.created_at.checked_add_signed(m));
        [self.expires_at, cap].into_iter().flatten().min()
    }
}

impl Db {
    /// Creates an API token for a user. The secret is returned once and
    /// stored only as a hash. `expires_at`, when given, must be in the future.
    pub async fn create_api_token(
        &self,
        user_id: &str,
        name: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(ApiToken, Secret), StateError> {
        if name.trim().is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Err(StateError::invalid(
                "token name",
                "must be 1–100 characters without control characters",
            ));
        }
        let now = Utc::now();
        if expires_at.is_some_and(|t| t <= now) {
            return Err(StateError::invalid("expiry", "must be in the future"));
        }
        let user = self.user(user_id).await?;
        if user.disabled_at.is_some() {
            return Err(StateError::invalid("user", "the account is disabled"));
        }
        let secret = new_secret(API_TOKEN_PREFIX);
        let token = ApiToken {
            id: new_id(),
            user_id: user_id.to_string(),
            name: name.trim().to_string(),
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&token.id)
        .bind(&token.user_id)
        .bind(&token.name)
        .bind(hash_secret(secret.expose()))
        .bind(to_ms(now))
        .bind(expires_at.map(to_ms))
        .execute(&self.pool)
        .await
        .map_err(StateError::db("creating an API token"))?;
        tracing::info!(token_id = %token.id, user_id, "API token created");
        Ok((token, secret))
    }

    /// A user's tokens, newest first.
    pub async fn list_api_tokens(&self, user_id: &str) -> Result<Vec<ApiToken>, StateError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id"
        )))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("listing API tokens"))?;
        rows.iter().map(token_from_row).collect()
    }

    /// One token's record.
    pub async fn api_token(&self, token_id: &str) -> Result<ApiToken, StateError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1"
        )))
        .bind(token_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("reading an API token"))?
        .ok_or_else(|| StateError::NotFound {
            what: "API token",
            id: token_id.to_string(),
        })?;
        token_from_row(&row)
    }

    /// Revokes a token (idempotent: revoking a revoked token keeps the first
    /// revocation time).
    pub async fn revoke_api_token(&self, token_id: &str) -> Result<ApiToken, StateError> {
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(to_ms(Utc::now()))
            .bind(token_id)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("revoking an API token"))?;
        let token = self.api_token(token_id).await?;
        tracing::info!(token_id, "API token revoked");
        Ok(token)
    }

    /// The enabled user an API token belongs to, when the token is known,
    /// not revoked and not expired; records its use. `None` otherwise.
    pub async fn authenticate_api_token(
        &self,
        secret: &str,
    ) -> Result<Option<(User, ApiToken)>, StateError> {
        self.authenticate_api_token_within(secret, None).await
    }

    /// As [`Db::authenticate_api_token`], and also `None` once the token is
    /// older than `max_lifetime` (the administrator's maximum, which applies
    /// to every token whatever its own expiry).
    pub async fn authenticate_api_token_within(
        &self,
        secret: &str,
        max_lifetime: Option<chrono::Duration>,
    ) -> Result<Option<(User, ApiToken)>, StateError> {
        if !secret.starts_with(API_TOKEN_PREFIX) {
            return Ok(None);
        }
        let now = Utc::now();
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"
        )))
        .bind(hash_secret(secret))
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("looking up an API token"))?;
        let Some(row) = row else { return Ok(None) };
        let token = token_from_row(&row)?;
        if token.revoked_at.is_some()
            || token
                .effective_expiry(max_lifetime)
                .is_some_and(|t| t <= now)
        {
            return Ok(None);
        }
        let user = self.user(&token.user_id).await?;
        if user.disabled_at.is_some() {
            return Ok(None);
        }
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(to_ms(now))
            .bind(&token.id)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("recording an API token's use"))?;
        Ok(Some((user, token)))
    }

    /// Starts a web session for a user, valid for `ttl`.
    pub async fn create_session(
        &self,
        user_id: &str,
        ttl: chrono::Duration,
    ) -> Result<(WebSession, Secret), StateError> {
        if ttl <= chrono::Duration::zero() {
            return Err(StateError::invalid("session lifetime", "must be positive"));
        }
        self.user(user_id).await?;
        let now = Utc::now();
        let secret = new_secret(SESSION_PREFIX);
        let session = WebSession {
            id: new_id(),
            user_id: user_id.to_string(),
            created_at: now,
            expires_at: now + ttl,
        };
        sqlx::query(
            "INSERT INTO web_sessions (id, user_id, session_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&session.id)
        .bind(&session.user_id)
        .bind(hash_secret(secret.expose()))
        .bind(to_ms(now))
        .bind(to_ms(session.expires_at))
        .execute(&self.pool)
        .await
        .map_err(StateError::db("creating a session"))?;
        Ok((session, secret))
    }

    /// The enabled user a live session belongs to; `None` when the session
    /// is unknown, ended or expired.
    pub async fn authenticate_session(&self, secret: &str) -> Result<Option<User>, StateError> {
        Ok(self
            .authenticate_session_record(secret)
            .await?
            .map(|(user, _)| user))
    }

    /// As [`Db::authenticate_session`], with the session's record (its
    /// expiry bounds the tokens created through it).
    pub async fn authenticate_session_record(
        &self,
        secret: &str,
    ) -> Result<Option<(User, WebSession)>, StateError> {
        if !secret.starts_with(SESSION_PREFIX) {
            return Ok(None);
        }
        let now = to_ms(Utc::now());
        let row = sqlx::query(
            "SELECT id, user_id, created_at, expires_at FROM web_sessions \
             WHERE session_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(hash_secret(secret))
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("looking up a session"))?;
        let Some(row) = row else { return Ok(None) };
        let id: String = row
            .try_get(0)
            .map_err(StateError::db("reading a session"))?;
        let user_id: String = row
            .try_get(1)
            .map_err(StateError::db("reading a session"))?;
        let created_at: i64 = row
            .try_get(2)
            .map_err(StateError::db("reading a session"))?;
        let expires_at: i64 = row
            .try_get(3)
            .map_err(StateError::db("reading a session"))?;
        let user = self.user(&user_id).await?;
        if user.disabled_at.is_some() {
            return Ok(None);
        }
        let session = WebSession {
            id: id.clone(),
            user_id,
            created_at: from_ms(created_at)?,
            expires_at: from_ms(expires_at)?,
        };
        sqlx::query("UPDATE web_sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&id)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("recording a session's use"))?;
        Ok(Some((user, session)))
    }

    /// Ends a session (log out). Unknown secrets are ignored.
    pub async fn end_session(&self, secret: &str) -> Result<(), StateError> {
        sqlx::query(
            "UPDATE web_sessions SET revoked_at = $1 WHERE session_hash = $2 AND revoked_at IS NULL",
        )
        .bind(to_ms(Utc::now()))
        .bind(hash_secret(secret))
        .execute(&self.pool)
        .await
        .map_err(StateError::db("ending a session"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_prefixed_and_redacted() {
        let a = new_secret(API_TOKEN_PREFIX);
        let b = new_secret(API_TOKEN_PREFIX);
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with("hh_"));
        assert_eq!(a.expose().len(), 3 + 43);
        assert_eq!(format!("{a:?}"), "Secret(***)");
        assert_eq!(hash_secret(a.expose()).len(), 64);
        assert_ne!(hash_secret(a.expose()), hash_secret(b.expose()));
    }

    #[test]
    fn token_expiry_is_the_earliest_bound() {
        let now = Utc::now();
        let day = chrono::Duration::days(1);
        // Nothing bounds it: never expires.
        assert_eq!(clamp_token_expiry(None, None, None, now), None);
        // A creator that expires tomorrow caps a request for a year and an
        // unbounded request alike.
        let tomorrow = Some(now + day);
        assert_eq!(
            clamp_token_expiry(Some(now + day * 365), tomorrow, None, now),
            tomorrow
        );
        assert_eq!(clamp_token_expiry(None, tomorrow, None, now), tomorrow);
        // A shorter request stands.
        assert_eq!(
            clamp_token_expiry(Some(now + day / 2), tomorrow, None, now),
            Some(now + day / 2)
        );
        // The administrator's maximum caps everything.
        assert_eq!(
            clamp_token_expiry(None, None, Some(day * 30), now),
            Some(now + day * 30)
        );
        assert_eq!(
            clamp_token_expiry(
                Some(now + day * 90),
                Some(now + day * 60),
                Some(day * 30),
                now
            ),
            Some(now + day * 30)
        );
        // Effective expiry of a stored token: its own, or creation + max.
        let t = ApiToken {
            id: "t".into(),
            user_id: "u".into(),
            name: "n".into(),
            created_at: now - day * 10,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        };
        assert_eq!(t.effective_expiry(None), None);
        assert_eq!(t.effective_expiry(Some(day * 5)), Some(now - day * 5));
    }
}
