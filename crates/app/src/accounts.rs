//! Accounts, roles, API tokens and web sessions: the one implementation
//! behind `halsohub user|token` and the API's `/me`, `/tokens` and
//! `/sessions`. `state` persists, `access` says who may do what (an
//! administrator's right to revoke anyone's token is
//! `access::authorize(ManageUsers)`); the edges parse and render.

use crate::audit::EntryKind;
use chrono::{DateTime, Duration, Utc};
use halsohub_access::{Action, Target, authorize};
use halsohub_state::accounts::NewUser;

pub use halsohub_access::{Principal, Role};
pub use halsohub_state::accounts::User;
pub use halsohub_state::login_throttle::{ThrottlePolicy, Throttled};
pub use halsohub_state::tokens::{
    ApiToken, DEFAULT_MAX_TOKEN_DAYS, SESSION_PREFIX, Secret, WebSession,
};

use crate::db::{Db, StateError};

/// How long a web session lasts, hours.
pub const SESSION_HOURS: i64 = 8;

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A role name is not one of the access domain's roles.
    #[error("unknown role {name:?}; expected one of: {}", Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "))]
    UnknownRole {
        /// The name given.
        name: String,
    },
    /// The user does not hold the role to revoke.
    #[error("{username} does not hold {role} in {organisation}")]
    NotHeld {
        /// The user.
        username: String,
        /// The role.
        role: Role,
        /// The organisation.
        organisation: String,
    },
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A value is out of range.
    #[error("{0}")]
    Invalid(&'static str),
    /// A required value is missing.
    #[error("{0}")]
    Missing(&'static str),
    /// Log out was asked with a credential that is not a session.
    #[error(
        "log out ends a session; this request used another kind of credential (revoke API tokens with DELETE /api/v1/tokens/{{id}})"
    )]
    NotASession,
    /// Not found (or not visible to the caller).
    #[error("API token not found: {0}")]
    NoSuchToken(String),
    /// The state database failed or refused.
    #[error(transparent)]
    State(#[from] StateError),
}

/// A role by its name.
///
/// # Errors
/// [`AccountError::UnknownRole`] listing the known roles.
pub fn parse_role(name: &str) -> Result<Role, AccountError> {
    Role::parse(name).ok_or_else(|| AccountError::UnknownRole {
        name: name.to_string(),
    })
}

/// A new account, with optional roles in one organisation.
#[derive(Debug, Clone, Default)]
pub struct NewAccount {
    /// Login name.
    pub username: String,
    /// Name for display (default: the login name).
    pub display_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Password (hashed by `state`).
    pub password: Option<String>,
    /// OpenID Connect subject.
    pub oidc_subject: Option<String>,
    /// Organisation for `roles` (created if new).
    pub organisation: Option<String>,
    /// Role names to grant in `organisation`.
    pub roles: Vec<String>,
}

impl std::fmt::Debug for LoginOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoginOutcome::Started(s) => f
                .debug_struct("Started")
                .field("session", &s.session)
                .finish_non_exhaustive(),
            LoginOutcome::Throttled(t) => f.debug_tuple("Throttled").field(t).finish(),
            LoginOutcome::Refused => f.write_str("Refused"),
        }
    }
}

/// Creates a user and grants the roles (all role names are checked before
/// anything is written).
///
/// # Errors
/// [`AccountError`]: an unknown role, a taken or malformed username.
pub async fn add_user(db: &Db, new: NewAccount, actor: &str) -> Result<User, AccountError> {
    let roles: Vec<Role> = new
        .roles
        .iter()
        .map(|r| parse_role(r))
        .collect::<Result<_, _>>()?;
    let user = create_recorded(
        db,
        NewUser {
            username: new.username,
            display_name: new.display_name.unwrap_or_default(),
            email: new.email,
            password: new.password,
            oidc_subject: new.oidc_subject,
        },
        actor,
    )
    .await?;
    if let Some(org) = new.organisation {
        let o = db.ensure_organisation(&org).await?;
        for r in roles {
            grant_recorded(db, &user.id, &o.id, r, actor).await?;
        }
    }
    Ok(user)
}

/// Creates a user and records it in the audit log.
async fn create_recorded(db: &Db, new: NewUser, actor: &str) -> Result<User, AccountError> {
    let user = db.create_user(new).await?;
    record(
        db,
        EntryKind::AccountChange,
        actor,
        &user.id,
        serde_json::json!({"change": "created", "username": user.username}),
    )
    .await?;
    Ok(user)
}

/// Grants a role and records it in the audit log.
async fn grant_recorded(
    db: &Db,
    user_id: &str,
    organisation_id: &str,
    role: Role,
    actor: &str,
) -> Result<(), AccountError> {
    db.grant_role(user_id, organisation_id, role.as_str())
        .await?;
    record(
        db,
        EntryKind::RoleChange,
        actor,
        user_id,
        serde_json::json!({"change": "granted", "role": role.as_str(), "organisation": organisation_id}),
    )
    .await
}

/// A user with their roles as `role@organisation`.
#[derive(Debug, Clone)]
pub struct UserLine {
    /// The account.
    pub user: User,
    /// `role@organisation`, by organisation and role.
    pub roles: Vec<String>,
}

/// Every user with their roles.
///
/// # Errors
/// [`AccountError::State`].
pub async fn list_users(db: &Db) -> Result<Vec<UserLine>, AccountError> {
    let mut out = Vec::new();
    for user in db.list_users().await? {
        let roles = db
            .memberships(&user.id)
            .await?
            .into_iter()
            .map(|m| format!("{}@{}", m.role, m.organisation_name))
            .collect();
        out.push(UserLine { user, roles });
    }
    Ok(out)
}

/// Grants `role` in `organisation` (created if new) to `username`;
/// returns the role and the organisation's name.
///
/// # Errors
/// [`AccountError`]: unknown role or user.
pub async fn grant(
    db: &Db,
    username: &str,
    organisation: &str,
    role: &str,
    actor: &str,
) -> Result<(Role, String), AccountError> {
    let r = parse_role(role)?;
    let u = db.user_by_username(username).await?;
    let o = db.ensure_organisation(organisation).await?;
    grant_recorded(db, &u.id, &o.id, r, actor).await?;
    Ok((r, o.name))
}

/// Revokes `role` in `organisation` from `username`; returns the role and
/// the organisation's name.
///
/// # Errors
/// [`AccountError::NotHeld`] when the user does not hold it, or unknown
/// role, user or organisation.
pub async fn revoke(
    db: &Db,
    username: &str,
    organisation: &str,
    role: &str,
    actor: &str,
) -> Result<(Role, String), AccountError> {
    let r = parse_role(role)?;
    let u = db.user_by_username(username).await?;
    let o = db.organisation_by_name(organisation).await?;
    if db.revoke_role(&u.id, &o.id, r.as_str()).await? {
        record(
            db,
            EntryKind::RoleChange,
            actor,
            &u.id,
            serde_json::json!({"change": "revoked", "role": r.as_str(), "organisation": o.id}),
        )
        .await?;
        Ok((r, o.name))
    } else {
        Err(AccountError::NotHeld {
            username: username.to_string(),
            role: r,
            organisation: o.name,
        })
    }
}

/// A new API token and its secret (shown once).
#[derive(Debug)]
pub struct IssuedToken {
    /// The token's record.
    pub token: ApiToken,
    /// The secret to send as bearer token.
    pub secret: Secret,
}

/// Issues an API token to `user_id`, expiring after `expires_in_days`
/// (at least 1) but never after the credential that asks for it
/// (`creator_expires`) nor the maximum lifetime
/// ([`clamp_token_expiry`](halsohub_state::tokens::clamp_token_expiry)).
///
/// # Errors
/// [`AccountError::Invalid`] for 0 days; [`AccountError::State`].
pub async fn issue_token(
    db: &Db,
    user_id: &str,
    name: &str,
    expires_in_days: Option<u32>,
    creator_expires: Option<DateTime<Utc>>,
    max_lifetime: Option<Duration>,
    now: DateTime<Utc>,
) -> Result<IssuedToken, AccountError> {
    issue(
        db,
        user_id,
        name,
        expires_in_days,
        creator_expires,
        max_lifetime,
        now,
        None,
    )
    .await
}

/// [`issue_token`], recorded as done by `actor` (default: the user).
#[allow(clippy::too_many_arguments)]
async fn issue(
    db: &Db,
    user_id: &str,
    name: &str,
    expires_in_days: Option<u32>,
    creator_expires: Option<DateTime<Utc>>,
    max_lifetime: Option<Duration>,
    now: DateTime<Utc>,
    actor: Option<&str>,
) -> Result<IssuedToken, AccountError> {
    if user_id.starts_with("oidc:") {
        return Err(AccountError::Forbidden(
            "callers from the identity provider without a local account cannot create API tokens",
        ));
    }
    let requested = match expires_in_days {
        Some(0) => return Err(AccountError::Invalid("expires_in_days must be at least 1")),
        Some(d) => Some(now + Duration::days(i64::from(d))),
        None => None,
    };
    let expires =
        halsohub_state::tokens::clamp_token_expiry(requested, creator_expires, max_lifetime, now);
    let (token, secret) = db.create_api_token(user_id, name, expires).await?;
    record(
        db,
        EntryKind::TokenChange,
        actor.unwrap_or(user_id),
        user_id,
        serde_json::json!({"change": "issued", "token_id": token.id, "name": token.name, "expires_at": token.expires_at}),
    )
    .await?;
    Ok(IssuedToken { token, secret })
}

/// Issues an API token to the user with login `username` (the operator's
/// `halsohub token create`).
///
/// # Errors
/// As [`issue_token`], and an unknown user.
pub async fn issue_token_for(
    db: &Db,
    username: &str,
    name: &str,
    expires_in_days: Option<u32>,
    max_lifetime: Option<Duration>,
    now: DateTime<Utc>,
    actor: &str,
) -> Result<IssuedToken, AccountError> {
    let u = db.user_by_username(username).await?;
    issue(
        db,
        &u.id,
        name,
        expires_in_days,
        None,
        max_lifetime,
        now,
        Some(actor),
    )
    .await
}

/// The API tokens of `user_id` (never their secrets).
///
/// # Errors
/// [`AccountError::State`].
pub async fn tokens_of(db: &Db, user_id: &str) -> Result<Vec<ApiToken>, AccountError> {
    Ok(db.list_api_tokens(user_id).await?)
}

/// Revokes token `id` (the operator's `halsohub token revoke`).
///
/// # Errors
/// [`AccountError::State`] (not found included).
pub async fn revoke_token(db: &Db, id: &str, actor: &str) -> Result<ApiToken, AccountError> {
    let t = db.revoke_api_token(id).await?;
    record_revocation(db, &t, actor).await?;
    Ok(t)
}

async fn record_revocation(db: &Db, t: &ApiToken, actor: &str) -> Result<(), AccountError> {
    record(
        db,
        EntryKind::TokenChange,
        actor,
        &t.user_id,
        serde_json::json!({"change": "revoked", "token_id": t.id}),
    )
    .await
}

/// Records an account, role or token change in the audit log, right after
/// the change (its own transaction).
async fn record(
    db: &Db,
    kind: EntryKind,
    actor: &str,
    subject: &str,
    payload: serde_json::Value,
) -> Result<(), AccountError> {
    db.append_audit(&[crate::audit::entry(
        kind,
        Utc::now(),
        actor,
        subject,
        payload,
    )])
    .await?;
    Ok(())
}

/// Revokes token `id` for an API caller: their own, or anyone's for an
/// administrator; someone else's token is "not found" to others.
///
/// # Errors
/// [`AccountError::NoSuchToken`], [`AccountError::State`].
pub async fn revoke_token_as(
    db: &Db,
    principal: &Principal,
    user_id: &str,
    id: &str,
) -> Result<ApiToken, AccountError> {
    let token = match db.api_token(id).await {
        Ok(t) => t,
        Err(StateError::NotFound { .. }) => return Err(AccountError::NoSuchToken(id.to_string())),
        Err(e) => return Err(e.into()),
    };
    let admin = authorize(principal, Action::ManageUsers, Target::Hub).is_ok();
    if token.user_id != user_id && !admin {
        // Do not reveal that someone else's token exists.
        return Err(AccountError::NoSuchToken(id.to_string()));
    }
    let t = db.revoke_api_token(id).await?;
    record_revocation(db, &t, user_id).await?;
    Ok(t)
}

/// A web session just started.
pub struct NewSession {
    /// The session.
    pub session: WebSession,
    /// Who logged in.
    pub user: User,
    /// The session token (shown once).
    pub secret: Secret,
}

/// The result of a password log-in.
pub enum LoginOutcome {
    /// A session started.
    Started(Box<NewSession>),
    /// Too many failures for this username: refused before the password
    /// was checked.
    Throttled(Throttled),
    /// Unknown username or wrong password (not said which).
    Refused,
}

/// Password log-in: the attempt is recorded under the throttle (in the
/// state database, so the limit holds across processes) before the
/// password is checked; a success clears the username's failures and
/// starts a session of [`SESSION_HOURS`].
///
/// # Errors
/// [`AccountError::Missing`] for an empty username or password;
/// [`AccountError::State`].
pub async fn log_in(
    db: &Db,
    username: &str,
    password: &str,
    policy: ThrottlePolicy,
    now: DateTime<Utc>,
) -> Result<LoginOutcome, AccountError> {
    let username = username.trim().to_lowercase();
    if username.is_empty() || password.is_empty() {
        return Err(AccountError::Missing("username and password are required"));
    }
    // Usernames longer than any account's cannot match one: not counted
    // (bounds what the throttle table can be made to hold).
    let counted = username.len() <= 64;
    if counted && let Err(t) = db.begin_login_attempt(&username, now, policy).await? {
        tracing::warn!(username, "log-in refused: too many failures");
        return Ok(LoginOutcome::Throttled(t));
    }
    let Some(user) = db.verify_password(&username, password).await? else {
        // The attempt stays recorded as a failure.
        tracing::info!(username, "log-in failed");
        return Ok(LoginOutcome::Refused);
    };
    if counted {
        db.login_succeeded(&username).await?;
    }
    let (session, secret) = db
        .create_session(&user.id, Duration::hours(SESSION_HOURS))
        .await?;
    tracing::info!(
        user_id = user.id,
        session_id = session.id,
        "session started"
    );
    Ok(LoginOutcome::Started(Box::new(NewSession {
        session,
        user,
        secret,
    })))
}

/// Ends the web session whose token is `token`.
///
/// # Errors
/// [`AccountError::NotASession`] for any other credential.
pub async fn log_out(db: &Db, token: &str) -> Result<(), AccountError> {
    if !token.starts_with(SESSION_PREFIX) {
        return Err(AccountError::NotASession);
    }
    Ok(db.end_session(token).await?)
}

/// One demo account.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    /// Its role.
    pub role: Role,
    /// Its login name.
    pub username: String,
    /// A fresh API token for it.
    pub token: String,
}

/// Who the demo's account changes are recorded as made by.
const DEMO_ACTOR: &str = "halsohub:demo";

/// Creates (or reuses) one demo user per role — the applicant in "Demo
/// University", staff in "Hälsohubben" — and gives each a fresh API token.
///
/// # Errors
/// [`AccountError::State`].
pub async fn demo_accounts(db: &Db) -> Result<Vec<DemoLogin>, AccountError> {
    let uni = db.ensure_organisation("Demo University").await?;
    let hub = db.ensure_organisation("Hälsohubben").await?;
    let mut out = Vec::new();
    for r in Role::ALL {
        let username = format!("demo-{}", r.as_str().replace('_', "-"));
        let user = match db.user_by_username(&username).await {
            Ok(u) => u,
            Err(StateError::NotFound { .. }) => {
                create_recorded(
                    db,
                    NewUser {
                        username: username.clone(),
                        display_name: format!("Demo {}", r.as_str().replace('_', " ")),
                        ..NewUser::default()
                    },
                    DEMO_ACTOR,
                )
                .await?
            }
            Err(e) => return Err(e.into()),
        };
        let org = if r == Role::Applicant { &uni } else { &hub };
        grant_recorded(db, &user.id, &org.id, r, DEMO_ACTOR).await?;
        let (token, secret) = db.create_api_token(&user.id, "demo", None).await?;
        record(
            db,
            EntryKind::TokenChange,
            DEMO_ACTOR,
            &user.id,
            serde_json::json!({"change": "issued", "token_id": token.id, "name": "demo", "role": r.as_str(), "organisation": org.id}),
        )
        .await?;
        out.push(DemoLogin {
            role: r,
            username,
            token: secret.expose().to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::open(None, dir.path()).await.unwrap();
        (dir, db)
    }

    #[test]
    fn roles_are_checked() {
        assert_eq!(parse_role("case_officer").unwrap(), Role::CaseOfficer);
        let err = parse_role("boss").unwrap_err().to_string();
        assert!(err.contains("applicant"), "{err}");
    }

    #[tokio::test]
    async fn users_roles_and_tokens_round_trip() {
        let (_dir, db) = db().await;
        let bad = add_user(
            &db,
            NewAccount {
                username: "anna".into(),
                organisation: Some("KI".into()),
                roles: vec!["boss".into()],
                ..NewAccount::default()
            },
            "os:test",
        )
        .await;
        assert!(matches!(bad, Err(AccountError::UnknownRole { .. })));
        assert!(db.list_users().await.unwrap().is_empty(), "nothing written");
        add_user(
            &db,
            NewAccount {
                username: "anna".into(),
                organisation: Some("KI".into()),
                roles: vec!["applicant".into()],
                ..NewAccount::default()
            },
            "os:test",
        )
        .await
        .unwrap();
        grant(&db, "anna", "KI", "auditor", "os:test")
            .await
            .unwrap();
        let lines = list_users(&db).await.unwrap();
        assert_eq!(lines[0].roles, ["applicant@KI", "auditor@KI"]);
        revoke(&db, "anna", "KI", "auditor", "os:test")
            .await
            .unwrap();
        let again = revoke(&db, "anna", "KI", "auditor", "os:test")
            .await
            .unwrap_err();
        assert!(again.to_string().contains("does not hold"), "{again}");

        let now = Utc::now();
        let zero = issue_token_for(&db, "anna", "t", Some(0), None, now, "os:test").await;
        assert!(matches!(zero, Err(AccountError::Invalid(_))));
        let t = issue_token_for(
            &db,
            "anna",
            "t",
            Some(400),
            Some(Duration::days(30)),
            now,
            "os:test",
        )
        .await
        .unwrap();
        assert_eq!(t.token.expires_at, Some(now + Duration::days(30)));
        let other = Principal::user(halsohub_access::UserId::new("someone".to_string()).unwrap());
        let hidden = revoke_token_as(&db, &other, "someone", &t.token.id).await;
        assert!(matches!(hidden, Err(AccountError::NoSuchToken(_))));
        let owner = &lines[0].user.id;
        let revoked = revoke_token_as(&db, &other, owner, &t.token.id)
            .await
            .unwrap();
        assert!(revoked.revoked_at.is_some());
        // Every change is in the audit log, by whom it was made.
        let kinds: Vec<(String, String)> = db
            .audit_entries(0, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.actor))
            .collect();
        let expected: Vec<(String, String)> = [
            ("account_change", "os:test"),
            ("role_change", "os:test"),
            ("role_change", "os:test"),
            ("role_change", "os:test"),
            ("token_change", "os:test"),
            ("token_change", owner.as_str()),
        ]
        .iter()
        .map(|(k, a)| (k.to_string(), a.to_string()))
        .collect();
        assert_eq!(kinds, expected);
    }

    #[tokio::test]
    async fn demo_accounts_get_one_account_per_role_and_work_twice() {
        let (_dir, db) = db().await;
        let first = demo_accounts(&db).await.unwrap();
        assert_eq!(first.len(), Role::ALL.len());
        let again = demo_accounts(&db).await.unwrap();
        assert_ne!(first[0].token, again[0].token);
        let (user, _) = db
            .authenticate_api_token(&again[0].token)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.username, "demo-applicant");
        assert_eq!(db.list_users().await.unwrap().len(), Role::ALL.len());
    }

    #[tokio::test]
    async fn log_in_throttles_and_log_out_needs_a_session() {
        let (_dir, db) = db().await;
        add_user(
            &db,
            NewAccount {
                username: "bo".into(),
                password: Some("rätt lösenord".into()),
                ..NewAccount::default()
            },
            "os:test",
        )
        .await
        .unwrap();
        let policy = ThrottlePolicy::default();
        let now = Utc::now();
        for _ in 0..policy.max_failures {
            let o = log_in(&db, "bo", "fel", policy, now).await.unwrap();
            assert!(matches!(o, LoginOutcome::Refused), "{o:?}");
        }
        let o = log_in(&db, "Bo", "rätt lösenord", policy, now)
            .await
            .unwrap();
        assert!(matches!(o, LoginOutcome::Throttled(_)), "{o:?}");
        let later = now + policy.window + Duration::seconds(1);
        let LoginOutcome::Started(started) = log_in(&db, "bo", "rätt lösenord", policy, later)
            .await
            .unwrap()
        else {
            panic!("the log-in after the window must start a session");
        };
        assert!(matches!(
            log_out(&db, "hh_not_a_session").await,
            Err(AccountError::NotASession)
        ));
        let secret = &started.secret;
        log_out(&db, secret.expose()).await.unwrap();
        assert!(
            db.authenticate_session_record(secret.expose())
                .await
                .unwrap()
                .is_none()
        );
    }
}
