//! Organisations, users, passwords and memberships (roles per organisation).

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::db::{from_ms, from_ms_opt, new_id, to_ms};
use crate::error::is_unique_violation;
use crate::{Db, StateError};
use sqlx::AssertSqlSafe;
use zeroize::Zeroizing;

/// An organisation: applicant organisations and the hub itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Organisation {
    /// Identifier.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A user account (password hash never leaves this module).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    /// Identifier.
    pub id: String,
    /// Unique login name.
    pub username: String,
    /// Name for display.
    pub display_name: String,
    /// Email for notifications.
    pub email: Option<String>,
    /// Subject (`sub`) of the user at the OpenID Connect issuer, if linked.
    pub oidc_subject: Option<String>,
    /// Whether the account can log in with a password.
    pub has_password: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was disabled, if it was.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// One role a user holds in one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Membership {
    /// Organisation identifier.
    pub organisation_id: String,
    /// Organisation name.
    pub organisation_name: String,
    /// Canonical role name (see the access crate).
    pub role: String,
}

/// What is needed to create a user.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Unique login name: 1–64 characters from a–z, 0–9, `.`, `_`, `-`, `@`.
    pub username: String,
    /// Name for display (defaults to the username when empty).
    pub display_name: String,
    /// Email for notifications.
    pub email: Option<String>,
    /// Initial password, if the user logs in with one (hashed with argon2).
    pub password: Option<String>,
    /// OpenID Connect subject, if the user logs in through an identity provider.
    pub oidc_subject: Option<String>,
}

fn check_username(name: &str) -> Result<(), StateError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@')
        });
    if ok {
        Ok(())
    } else {
        Err(StateError::invalid(
            "username",
            "use 1–64 characters from a–z, 0–9, '.', '_', '-' and '@'",
        ))
    }
}

fn check_name(field: &'static str, name: &str) -> Result<(), StateError> {
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(StateError::invalid(
            field,
            "must be 1–200 characters without control characters",
        ));
    }
    Ok(())
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, StateError> {
    if password.chars().count() < 8 {
        return Err(StateError::invalid(
            "password",
            "must be at least 8 characters",
        ));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StateError::PasswordHash(e.to_string()))
}

/// Whether `password` matches a stored PHC hash.
fn verify_hash(password: &str, stored: &str) -> Result<bool, StateError> {
    let parsed = PasswordHash::new(stored).map_err(|e| StateError::Corrupt {
        what: "password hash",
        reason: e.to_string(),
    })?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// [`hash_password`] on tokio's blocking pool: argon2 spends tens of
/// milliseconds of CPU by design, which must not stall the async workers
/// that serve other requests.
async fn hash_password_blocking(password: &str) -> Result<String, StateError> {
    let password = Zeroizing::new(password.to_string());
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| StateError::PasswordHash(format!("the hashing task failed: {e}")))?
}

/// [`verify_hash`] on tokio's blocking pool (see [`hash_password_blocking`]).
async fn verify_hash_blocking(password: &str, stored: String) -> Result<bool, StateError> {
    let password = Zeroizing::new(password.to_string());
    tokio::task::spawn_blocking(move || verify_hash(&password, &stored))
        .await
        .map_err(|e| StateError::PasswordHash(format!("the verification task failed: {e}")))?
}

fn user_from_row(row: &AnyRow) -> Result<User, StateError> {
    let get = StateError::db("reading a user");
    let password_hash: Option<String> = row.try_get("password_hash").map_err(get)?;
    Ok(User {
        id: row
            .try_get("id")
            .map_err(StateError::db("reading a user"))?,
        username: row
            .try_get("username")
            .map_err(StateError::db("reading a user"))?,
        display_name: row
            .try_get("display_name")
            .map_err(StateError::db("reading a user"))?,
        email: row
            .try_get("email")
            .map_err(StateError::db("reading a user"))?,
        oidc_subject: row
            .try_get("oidc_subject")
            .map_err(StateError::db("reading a user"))?,
        has_password: password_hash.is_some(),
        created_at: from_ms(
            row.try_get("created_at")
                .map_err(StateError::db("reading a user"))?,
        )?,
        disabled_at: from_ms_opt(
            row.try_get("disabled_at")
                .map_err(StateError::db("reading a user"))?,
        )?,
    })
}

const USER_COLUMNS: &str =
    "id, username, display_name, email, password_hash, oidc_subject, created_at, disabled_at";

impl Db {
    /// Creates an organisation; its name must be new.
    pub async fn create_organisation(&self, name: &str) -> Result<Organisation, StateError> {
        check_name("organisation name", name)?;
        let org = Organisation {
            id: new_id(),
            name: name.trim().to_string(),
            created_at: Utc::now(),
        };
        sqlx::query("INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&org.id)
            .bind(&org.name)
            .bind(to_ms(org.created_at))
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StateError::AlreadyExists {
                        what: "organisation",
                        id: org.name.clone(),
                    }
                } else {
                    StateError::Db {
                        doing: "creating an organisation",
                        source: e,
                    }
                }
            })?;
        Ok(org)
    }

    /// The organisation with this name, creating it if it does not exist.
    pub async fn ensure_organisation(&self, name: &str) -> Result<Organisation, StateError> {
        match self.organisation_by_name(name).await {
            Ok(o) => Ok(o),
            Err(StateError::NotFound { .. }) => match self.create_organisation(name).await {
                Err(StateError::AlreadyExists { .. }) => self.organisation_by_name(name).await,
                other => other,
            },
            Err(e) => Err(e),
        }
    }

    /// The organisation with this name.
    pub async fn organisation_by_name(&self, name: &str) -> Result<Organisation, StateError> {
        self.organisation_where("name", name.trim()).await
    }

    /// The organisation with this identifier.
    pub async fn organisation(&self, id: &str) -> Result<Organisation, StateError> {
        self.organisation_where("id", id).await
    }

    async fn organisation_where(&self, col: &str, val: &str) -> Result<Organisation, StateError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, name, created_at FROM organisations WHERE {col} = $1"
        )))
        .bind(val)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("reading an organisation"))?
        .ok_or_else(|| StateError::NotFound {
            what: "organisation",
            id: val.to_string(),
        })?;
        Ok(Organisation {
            id: row
                .try_get("id")
                .map_err(StateError::db("reading an organisation"))?,
            name: row
                .try_get("name")
                .map_err(StateError::db("reading an organisation"))?,
            created_at: from_ms(
                row.try_get("created_at")
                    .map_err(StateError::db("reading an organisation"))?,
            )?,
        })
    }

    /// All organisations by name.
    pub async fn list_organisations(&self) -> Result<Vec<Organisation>, StateError> {
        let rows = sqlx::query("SELECT id, name, created_at FROM organisations ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("listing organisations"))?;
        rows.iter()
            .map(|row| {
                Ok(Organisation {
                    id: row
                        .try_get("id")
                        .map_err(StateError::db("reading an organisation"))?,
                    name: row
                        .try_get("name")
                        .map_err(StateError::db("reading an organisation"))?,
                    created_at: from_ms(
                        row.try_get("created_at")
                            .map_err(StateError::db("reading an organisation"))?,
                    )?,
                })
            })
            .collect()
    }

    /// Creates a user. The username must be new and well-formed; a password,
    /// when given, must have at least 8 characters.
    pub async fn create_user(&self, new: NewUser) -> Result<User, StateError> {
        check_username(&new.username)?;
        let display_name = if new.display_name.trim().is_empty() {
            new.username.clone()
        } else {
            new.display_name.trim().to_string()
        };
        check_name("display name", &display_name)?;
        let password_hash = match &new.password {
            Some(p) => Some(hash_password_blocking(p).await?),
            None => None,
        };
        let now = Utc::now();
        let user = User {
            id: new_id(),
            username: new.username.clone(),
            display_name,
            email: new.email.clone(),
            oidc_subject: new.oidc_subject.clone(),
            has_password: password_hash.is_some(),
            created_at: now,
            disabled_at: None,
        };
        sqlx::query(
            "INSERT INTO users (id, username, display_name, email, password_hash, oidc_subject, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(&user.email)
        .bind(&password_hash)
        .bind(&user.oidc_subject)
        .bind(to_ms(now))
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StateError::AlreadyExists {
                    what: "user",
                    id: user.username.clone(),
                }
            } else {
                StateError::Db {
                    doing: "creating a user",
                    source: e,
                }
            }
        })?;
        Ok(user)
    }

    /// The user with this username.
    pub async fn user_by_username(&self, username: &str) -> Result<User, StateError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        )))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("reading a user"))?
        .ok_or_else(|| StateError::NotFound {
            what: "user",
            id: username.to_string(),
        })?;
        user_from_row(&row)
    }

    /// The user with this identifier.
    pub async fn user(&self, id: &str) -> Result<User, StateError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("reading a user"))?
        .ok_or_else(|| StateError::NotFound {
            what: "user",
            id: id.to_string(),
        })?;
        user_from_row(&row)
    }

    /// The user linked to this OpenID Connect subject, if any.
    pub async fn user_by_oidc_subject(&self, subject: &str) -> Result<Option<User>, StateError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE oidc_subject = $1"
        )))
        .bind(subject)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("reading a user"))?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// All users by username.
    pub async fn list_users(&self) -> Result<Vec<User>, StateError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("listing users"))?;
        rows.iter().map(user_from_row).collect()
    }

    /// Sets (or replaces) a user's password.
    pub async fn set_password(&self, user_id: &str, password: &str) -> Result<(), StateError> {
        let hash = hash_password_blocking(password).await?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("setting a password"))?;
        if done.rows_affected() == 0 {
            return Err(StateError::NotFound {
                what: "user",
                id: user_id.to_string(),
            });
        }
        Ok(())
    }

    /// Disables a user: tokens and sessions stop working at once.
    pub async fn disable_user(&self, user_id: &str) -> Result<(), StateError> {
        let done =
            sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
                .bind(to_ms(Utc::now()))
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(StateError::db("disabling a user"))?;
        if done.rows_affected() == 0 {
            self.user(user_id).await?;
        }
        Ok(())
    }

    /// Checks a username and password. Returns the user when they match and
    /// the account is enabled; `None` otherwise (without saying which part
    /// was wrong).
    pub async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, StateError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        )))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(StateError::db("reading a user"))?;
        let Some(row) = row else {
            // Spend about the same time as a real check so timing does not
            // reveal which usernames exist.
            let _ = hash_password_blocking("not-a-real-password-at-all").await;
            return Ok(None);
        };
        let stored: Option<String> = row
            .try_get("password_hash")
            .map_err(StateError::db("reading a user"))?;
        let user = user_from_row(&row)?;
        let Some(hash) = stored else {
            return Ok(None);
        };
        if verify_hash_blocking(password, hash).await? && user.disabled_at.is_none() {
            Ok(Some(user))
        } else {
            Ok(None)
        }
    }

    /// Grants `role` in an organisation to a user (idempotent).
    pub async fn grant_role(
        &self,
        user_id: &str,
        organisation_id: &str,
        role: &str,
    ) -> Result<(), StateError> {
        if role.is_empty() || role.len() > 64 {
            return Err(StateError::invalid("role", "must be a role name"));
        }
        self.user(user_id).await?;
        self.organisation(organisation_id).await?;
        let res = sqlx::query(
            "INSERT INTO memberships (user_id, organisation_id, role, granted_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(user_id)
        .bind(organisation_id)
        .bind(role)
        .bind(to_ms(Utc::now()))
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Ok(()),
            Err(e) => Err(StateError::Db {
                doing: "granting a role",
                source: e,
            }),
        }
    }

    /// Revokes `role` in an organisation from a user. Returns whether the
    /// user held it.
    pub async fn revoke_role(
        &self,
        user_id: &str,
        organisation_id: &str,
        role: &str,
    ) -> Result<bool, StateError> {
        let done = sqlx::query(
            "DELETE FROM memberships WHERE user_id = $1 AND organisation_id = $2 AND role = $3",
        )
        .bind(user_id)
        .bind(organisation_id)
        .bind(role)
        .execute(&self.pool)
        .await
        .map_err(StateError::db("revoking a role"))?;
        Ok(done.rows_affected() > 0)
    }

    /// Every role a user holds, per organisation, sorted.
    pub async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>, StateError> {
        let rows = sqlx::query(
            "SELECT m.organisation_id, o.name, m.role FROM memberships m \
             JOIN organisations o ON o.id = m.organisation_id \
             WHERE m.user_id = $1 ORDER BY o.name, m.role",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("listing memberships"))?;
        rows.iter()
            .map(|r| {
                Ok(Membership {
                    organisation_id: r
                        .try_get(0)
                        .map_err(StateError::db("reading a membership"))?,
                    organisation_name: r
                        .try_get(1)
                        .map_err(StateError::db("reading a membership"))?,
                    role: r
                        .try_get(2)
                        .map_err(StateError::db("reading a membership"))?,
                })
            })
            .collect()
    }

    /// Users holding `role` anywhere (for notifications to staff).
    pub async fn users_with_role(&self, role: &str) -> Result<Vec<User>, StateError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE disabled_at IS NULL AND id IN \
             (SELECT user_id FROM memberships WHERE role = $1) ORDER BY username"
        )))
        .bind(role)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("listing users by role"))?;
        rows.iter().map(user_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_checked() {
        assert!(check_username("anna.berg@uu.se").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("Anna").is_err());
        assert!(check_username("a b").is_err());
        assert!(check_username(&"a".repeat(65)).is_err());
    }

    #[test]
    fn password_hashes_verify_and_differ() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_hash("correct horse", &a).unwrap());
        assert!(!verify_hash("wrong horse", &a).unwrap());
        assert!(hash_password("short").is_err());
    }
}
