//! Staff commands: `halsohub user …`, `halsohub token …`, `halsohub serve`
//! (with `--store`, the feasibility API), and the demo accounts. Wired into
//! `main.rs`.
//!
//! Secrets (passwords) are read from stdin, a file or an environment
//! variable, never from the command line, and never logged. API tokens are
//! printed once, on stdout, for the person who asked for them.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use halsohub_access::Role;
use halsohub_disclosure::{Profile, QuotaPolicy};
use halsohub_server::feasibility::{Feasibility, SnapshotInfo};
use halsohub_server::{AppState, router};
use halsohub_state::Db;
use halsohub_state::accounts::NewUser;
use halsohub_state::oidc::{JwksSource, OidcConfig, OidcVerifier};

/// Where the state database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// State database URL: `sqlite://PATH?mode=rwc` or `postgres://…`.
    /// Default: SQLite file `state.db` under the hub home.
    #[arg(long, env = "HALSOHUB_DATABASE", value_name = "URL")]
    pub database: Option<String>,
}

/// Where a secret comes from.
#[derive(Debug, Clone, Args)]
pub struct SecretArgs {
    /// Read the password from the first line of stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// Read the password from the first line of a file.
    #[arg(long, value_name = "FILE", conflicts_with = "password_stdin")]
    pub password_file: Option<PathBuf>,
    /// Read the password from an environment variable.
    #[arg(long, value_name = "VAR", conflicts_with_all = ["password_stdin", "password_file"])]
    pub password_env: Option<String>,
}

/// `halsohub user …`
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create a user, optionally with a password and roles in an organisation.
    Add {
        /// Login name (a–z, 0–9, . _ - @).
        username: String,
        /// Name for display.
        #[arg(long)]
        display_name: Option<String>,
        /// Email for notifications.
        #[arg(long)]
        email: Option<String>,
        /// Organisation for --role (created if new).
        #[arg(long, requires = "role")]
        org: Option<String>,
        /// Role(s) to grant in --org: applicant, case_officer,
        /// legal_reviewer, data_steward, decision_maker, output_checker,
        /// auditor, administrator.
        #[arg(long, requires = "org")]
        role: Vec<String>,
        /// Link to this OpenID Connect subject.
        #[arg(long)]
        oidc_subject: Option<String>,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List users with their roles.
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Grant a role in an organisation (created if new).
    Grant {
        /// Login name.
        username: String,
        /// Organisation name.
        #[arg(long)]
        org: String,
        /// Role name.
        role: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Revoke a role in an organisation.
    Revoke {
        /// Login name.
        username: String,
        /// Organisation name.
        #[arg(long)]
        org: String,
        /// Role name.
        role: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

/// `halsohub token …`
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create an API token for a user; the token is printed once.
    Create {
        /// Login name of the owner.
        username: String,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until it expires (default: the maximum lifetime).
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
        #[command(flatten)]
        lifetime: crate::cmd::auth::TokenLifetimeArgs,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Revoke an API token by its id.
    Revoke {
        /// Token id (from `token create` or `GET /api/v1/tokens`).
        token_id: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

/// `halsohub serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// OpenID Connect issuer (`iss`) to accept bearer JWTs from.
    #[arg(long, value_name = "URL", requires = "oidc_jwks")]
    pub oidc_issuer: Option<String>,
    /// The issuer's JWKS: an `https://` (or loopback `http://`) URL or a
    /// file path.
    #[arg(long, value_name = "URL|FILE", requires = "oidc_issuer")]
    pub oidc_jwks: Option<String>,
    /// Expected audience (`aud`).
    #[arg(long)]
    pub oidc_audience: Option<String>,
    /// Claim holding roles (dotted path), entries `role` or `role@organisation`.
    #[arg(long, default_value = "roles")]
    pub oidc_roles_claim: String,
    /// Claim naming the organisation for bare roles.
    #[arg(long, default_value = "org")]
    pub oidc_org_claim: String,
    #[command(flatten)]
    pub oidc_tls: crate::cmd::auth::OidcTlsArgs,
    #[command(flatten)]
    pub token_lifetime: crate::cmd::auth::TokenLifetimeArgs,
    /// Store to answer feasibility queries from (its current snapshot).
    /// Without it, the feasibility endpoints answer 503.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Hub key (keys the deterministic noise of noisy profiles).
    #[command(flatten)]
    pub key: crate::cmd::keys::KeyArg,
    /// Disclosure profile for feasibility answers: feasibility (<5, round
    /// to 5), noisy (plus Laplace noise ε 0.5) or strict (<10, round to 10,
    /// noise). Exact counts are never served over HTTP.
    #[arg(long, default_value = "feasibility", value_name = "NAME")]
    pub profile: String,
    /// Feasibility queries per user per sliding minute.
    #[arg(long, default_value_t = QuotaPolicy::default().per_minute, value_name = "N")]
    pub quota_per_minute: u32,
    /// Feasibility queries per user per sliding week.
    #[arg(long, default_value_t = QuotaPolicy::default().per_week, value_name = "N")]
    pub quota_per_week: u32,
    /// How often to queue deadline reminders in the outbox (also once at
    /// start-up): e.g. `30s`, `15m`, `1h`, `1d`; `off` disables (then run
    /// `halsohub cases sweep` from cron).
    #[arg(long, default_value = "15m", value_name = "DURATION", value_parser = parse_interval)]
    pub sweep_interval: Interval,
    #[command(flatten)]
    pub lists: crate::cmd::lists::CodeListArgs,
}

/// A sweep interval; `None` when sweeping is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(pub Option<std::time::Duration>);

/// Parses `30s`, `15m`, `1h`, `1d` (or `off`).
pub fn parse_interval(text: &str) -> std::result::Result<Interval, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(Interval(None));
    }
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{t:?} has no unit; write e.g. 30s, 15m, 1h or 1d (or off)"))?;
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{t:?} does not start with a whole number; write e.g. 15m"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => return Err(format!("unknown unit {other:?} in {t:?}; use s, m, h or d")),
    };
    let total = n
        .checked_mul(secs)
        .filter(|&s| (1..=366 * 86_400).contains(&s))
        .ok_or_else(|| format!("{t:?} must be between 1s and 366d"))?;
    Ok(Interval(Some(std::time::Duration::from_secs(total))))
}

impl ServeArgs {
    /// Defaults for a local server on `listen` over `store` (the demo).
    pub fn local(listen: SocketAddr, db: DatabaseArgs, store: PathBuf) -> ServeArgs {
        ServeArgs {
            listen,
            db,
            oidc_issuer: None,
            oidc_jwks: None,
            oidc_audience: None,
            oidc_roles_claim: "roles".into(),
            oidc_org_claim: "org".into(),
            oidc_tls: Default::default(),
            token_lifetime: Default::default(),
            store: Some(store),
            key: crate::cmd::keys::KeyArg { key: None },
            profile: "feasibility".into(),
            quota_per_minute: QuotaPolicy::default().per_minute,
            quota_per_week: QuotaPolicy::default().per_week,
            sweep_interval: Interval(Some(std::time::Duration::from_secs(15 * 60))),
            lists: crate::cmd::lists::CodeListArgs::default(),
        }
    }
}

/// Builds the feasibility service over the store's current snapshot:
/// opens the store, checks the key belongs to it, builds the cohort engine
/// and applies the profile and quota.
fn feasibility_service(
    store_dir: &Path,
    key_path: &Path,
    profile: &str,
    quota: QuotaPolicy,
    lists: &crate::cmd::lists::CodeListArgs,
) -> Result<Feasibility> {
    let profile = Profile::builtin(profile)
        .filter(|p| !p.is_exact())
        .with_context(|| {
            format!("unknown disclosure profile {profile:?} for the API; use feasibility, noisy or strict")
        })?;
    let key = crate::cmd::keys::load(key_path)?;
    let store = halsohub_store::Store::open(store_dir)
        .with_context(|| format!("cannot open the store {}", store_dir.display()))?;
    if store.key_fingerprint() != key.fingerprint() {
        bail!(
            "the hub key {} (fingerprint {}) is not the key of the store {} (fingerprint {}); pass the store's key with --key or HALSOHUB_KEY",
            key_path.display(),
            key.fingerprint(),
            store_dir.display(),
            store.key_fingerprint()
        );
    }
    let snapshot = store
        .snapshot(None)
        .with_context(|| format!("the store {} has no snapshot to serve", store_dir.display()))?;
    let started = std::time::Instant::now();
    let engine = halsohub_cohort::Engine::from_snapshot(&snapshot).with_context(|| {
        format!(
            "cannot build the cohort engine from {}",
            store_dir.display()
        )
    })?;
    eprintln!(
        "cohort engine: snapshot {}, {} patients, {} events, built in {:.1} s",
        engine.snapshot(),
        engine.patient_count(),
        engine.event_count(),
        started.elapsed().as_secs_f64()
    );
    let lists = crate::cmd::lists::load(lists, &engine)?;
    let serving = engine.snapshot().to_string();
    let snapshots = store
        .snapshots()
        .context("cannot list the store's snapshots")?
        .iter()
        .map(|m| SnapshotInfo::from_manifest(m, &serving))
        .collect();
    // the same noise secret as `halsohub count`: the same noisy numbers
    let secret = halsohub_feasibility::noise_secret(&key);
    Ok(Feasibility::new(engine, secret)
        .with_profile(profile)?
        .with_quota(quota)
        .with_code_lists(lists)
        .with_snapshots(snapshots))
}

/// The database URL: the explicit one, else `state.db` under the hub home.
pub fn database_url(args: &DatabaseArgs, home: &Path) -> Result<String> {
    if let Some(u) = &args.database {
        return Ok(u.clone());
    }
    std::fs::create_dir_all(home)
        .with_context(|| format!("cannot create the hub home {}", home.display()))?;
    Ok(format!(
        "sqlite://{}?mode=rwc",
        home.join("state.db").display()
    ))
}

pub(crate) async fn open(args: &DatabaseArgs, home: &Path) -> Result<Db> {
    let url = database_url(args, home)?;
    Db::connect(&url)
        .await
        .context("cannot open the state database")
}

fn read_secret(s: &SecretArgs) -> Result<Option<String>> {
    let first_line = |text: &str| text.lines().next().unwrap_or("").to_string();
    if s.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        return Ok(Some(first_line(&line)));
    }
    if let Some(p) = &s.password_file {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read the password file {}", p.display()))?;
        return Ok(Some(first_line(&text)));
    }
    if let Some(var) = &s.password_env {
        let v =
            std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?;
        return Ok(Some(v));
    }
    Ok(None)
}

fn role(name: &str) -> Result<Role> {
    Role::parse(name).with_context(|| {
        let all: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role {name:?}; expected one of: {}", all.join(", "))
    })
}

/// Runs `halsohub user …`.
pub async fn run_user(cmd: UserCmd, home: &Path) -> Result<()> {
    match cmd {
        UserCmd::Add {
            username,
            display_name,
            email,
            org,
            role: roles,
            oidc_subject,
            secret,
            db,
        } => {
            let roles: Vec<Role> = roles.iter().map(|r| role(r)).collect::<Result<_>>()?;
            let password = read_secret(&secret)?;
            let db = open(&db, home).await?;
            let user = db
                .create_user(NewUser {
                    username,
                    display_name: display_name.unwrap_or_default(),
                    email,
                    password,
                    oidc_subject,
                })
                .await?;
            if let Some(org) = org {
                let o = db.ensure_organisation(&org).await?;
                for r in roles {
                    db.grant_role(&user.id, &o.id, r.as_str()).await?;
                }
            }
            println!("created user {} (id {})", user.username, user.id);
        }
        UserCmd::List { db } => {
            let db = open(&db, home).await?;
            for u in db.list_users().await? {
                let roles: Vec<String> = db
                    .memberships(&u.id)
                    .await?
                    .into_iter()
                    .map(|m| format!("{}@{}", m.role, m.organisation_name))
                    .collect();
                let state = if u.disabled_at.is_some() {
                    " (disabled)"
                } else {
                    ""
                };
                println!(
                    "{}\t{}\t{}{}",
                    u.username,
                    u.display_name,
                    roles.join(","),
                    state
                );
            }
        }
        UserCmd::Grant {
            username,
            org,
            role: r,
            db,
        } => {
            let r = role(&r)?;
            let db = open(&db, home).await?;
            let u = db.user_by_username(&username).await?;
            let o = db.ensure_organisation(&org).await?;
            db.grant_role(&u.id, &o.id, r.as_str()).await?;
            println!("granted {r} in {} to {username}", o.name);
        }
        UserCmd::Revoke {
            username,
            org,
            role: r,
            db,
        } => {
            let r = role(&r)?;
            let db = open(&db, home).await?;
            let u = db.user_by_username(&username).await?;
            let o = db.organisation_by_name(&org).await?;
            if db.revoke_role(&u.id, &o.id, r.as_str()).await? {
                println!("revoked {r} in {} from {username}", o.name);
            } else {
                bail!("{username} does not hold {r} in {}", o.name);
            }
        }
    }
    Ok(())
}

/// Runs `halsohub token …`.
pub async fn run_token(cmd: TokenCmd, home: &Path) -> Result<()> {
    match cmd {
        TokenCmd::Create {
            username,
            name,
            expires_in_days,
            lifetime,
            db,
        } => {
            let db = open(&db, home).await?;
            let u = db.user_by_username(&username).await?;
            let now = chrono::Utc::now();
            let expires = halsohub_state::tokens::clamp_token_expiry(
                expires_in_days.map(|d| now + chrono::Duration::days(i64::from(d))),
                None,
                lifetime.max(),
                now,
            );
            let (token, secret) = db.create_api_token(&u.id, &name, expires).await?;
            eprintln!(
                "token {} for {username} (shown once; store it safely):",
                token.id
            );
            println!("{}", secret.expose());
        }
        TokenCmd::Revoke { token_id, db } => {
            let db = open(&db, home).await?;
            let t = db.revoke_api_token(&token_id).await?;
            println!("revoked token {} ({})", t.id, t.name);
        }
    }
    Ok(())
}

/// Runs `halsohub serve` until Ctrl-C.
pub async fn run_serve(args: ServeArgs, home: &Path) -> Result<()> {
    let db = open(&args.db, home).await?;
    let mut state = AppState::new(db);
    state.config = Arc::new(halsohub_server::ServerConfig {
        max_token_lifetime: args.token_lifetime.max(),
        ..halsohub_server::ServerConfig::default()
    });
    if let Some(store) = args.store.clone() {
        let key_path = args.key.path(home);
        let profile = args.profile.clone();
        let quota = QuotaPolicy {
            per_minute: args.quota_per_minute,
            per_week: args.quota_per_week,
        };
        let lists = args.lists.clone();
        // Building the engine reads the whole snapshot: off the async workers.
        let service = tokio::task::spawn_blocking(move || {
            feasibility_service(&store, &key_path, &profile, quota, &lists)
        })
        .await
        .context("the engine build task failed")??;
        state = state.with_feasibility(service);
    } else {
        eprintln!("no --store given: the feasibility endpoints will answer 503");
    }
    if let (Some(issuer), Some(jwks)) = (args.oidc_issuer, args.oidc_jwks) {
        let source = if jwks.starts_with("http://") || jwks.starts_with("https://") {
            JwksSource::Url(jwks)
        } else {
            JwksSource::File(PathBuf::from(jwks))
        };
        let verifier = OidcVerifier::load(OidcConfig {
            issuer,
            audience: args.oidc_audience,
            jwks: source,
            roles_claim: args.oidc_roles_claim,
            organisation_claim: args.oidc_org_claim,
            ca_bundle: args.oidc_tls.oidc_ca_bundle.clone(),
            refresh: args.oidc_tls.refresh(),
        })
        .await?;
        state.oidc = Some(Arc::new(verifier));
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    eprintln!(
        "halsohub API on http://{}/api/v1/ (Ctrl-C or SIGTERM stops)",
        args.listen
    );
    // One shutdown signal (Ctrl-C or SIGTERM) stops both the server
    // (gracefully, finishing requests) and the deadline sweeper.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sweeper = args.sweep_interval.0.map(|every| {
        let mut rx = stop_rx.clone();
        tokio::spawn(halsohub_server::sweep_periodically(
            state.clone(),
            every,
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            },
        ))
    });
    let mut rx = stop_rx;
    let server = halsohub_server::serve(listener, router(state), async move {
        let _ = rx.wait_for(|stop| *stop).await;
    });
    tokio::spawn(async move {
        shutdown_signal().await;
        eprintln!("shutting down");
        let _ = stop_tx.send(true);
    });
    server.await.context("the API server failed")?;
    if let Some(task) = sweeper {
        let _ = task.await;
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
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

/// Creates (or reuses) one demo user per role — the applicant in "Demo
/// University", staff in "Hälsohubben" — gives each a fresh API token, and
/// prints how each logs in. Returns the logins.
pub async fn demo_users(db: &DatabaseArgs, home: &Path) -> Result<Vec<DemoLogin>> {
    let db = open(db, home).await?;
    let uni = db.ensure_organisation("Demo University").await?;
    let hub = db.ensure_organisation("Hälsohubben").await?;
    let mut out = Vec::new();
    for r in Role::ALL {
        let username = format!("demo-{}", r.as_str().replace('_', "-"));
        let user = match db.user_by_username(&username).await {
            Ok(u) => u,
            Err(halsohub_state::StateError::NotFound { .. }) => {
                db.create_user(NewUser {
                    username: username.clone(),
                    display_name: format!("Demo {}", r.as_str().replace('_', " ")),
                    ..NewUser::default()
                })
                .await?
            }
            Err(e) => return Err(e.into()),
        };
        let org = if r == Role::Applicant { &uni } else { &hub };
        db.grant_role(&user.id, &org.id, r.as_str()).await?;
        let (_, secret) = db.create_api_token(&user.id, "demo", None).await?;
        out.push(DemoLogin {
            role: r,
            username,
            token: secret.expose().to_string(),
        });
    }
    println!("Demo accounts (send the token as 'Authorization: Bearer <token>'):");
    for l in &out {
        println!("  {:<15} {:<22} {}", l.role.as_str(), l.username, l.token);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_defaults_to_sqlite_under_the_home() {
        let dir = tempfile::tempdir().unwrap();
        let url = database_url(&DatabaseArgs { database: None }, dir.path()).unwrap();
        assert_eq!(
            url,
            format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("state.db").display()
            )
        );
        let explicit = DatabaseArgs {
            database: Some("postgres://x@127.0.0.1/db".into()),
        };
        assert_eq!(
            database_url(&explicit, dir.path()).unwrap(),
            "postgres://x@127.0.0.1/db"
        );
    }

    #[test]
    fn sweep_intervals_parse_with_units_and_refuse_nonsense() {
        use std::time::Duration;
        assert_eq!(
            parse_interval("15m"),
            Ok(Interval(Some(Duration::from_secs(900))))
        );
        assert_eq!(
            parse_interval("30s"),
            Ok(Interval(Some(Duration::from_secs(30))))
        );
        assert_eq!(
            parse_interval("2h"),
            Ok(Interval(Some(Duration::from_secs(7200))))
        );
        assert_eq!(
            parse_interval("1d"),
            Ok(Interval(Some(Duration::from_secs(86_400))))
        );
        assert_eq!(parse_interval("off"), Ok(Interval(None)));
        for bad in [
            "",
            "15",
            "m",
            "0s",
            "15x",
            "-1m",
            "400d",
            "99999999999999999999d",
        ] {
            let err = parse_interval(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
    }

    #[test]
    fn roles_are_checked() {
        assert_eq!(role("case_officer").unwrap(), Role::CaseOfficer);
        let err = role("boss").unwrap_err().to_string();
        assert!(err.contains("applicant"), "{err}");
    }

    #[tokio::test]
    async fn demo_users_get_one_account_per_role_and_work_twice() {
        let dir = tempfile::tempdir().unwrap();
        let args = DatabaseArgs { database: None };
        let first = demo_users(&args, dir.path()).await.unwrap();
        assert_eq!(first.len(), Role::ALL.len());
        let again = demo_users(&args, dir.path()).await.unwrap();
        assert_ne!(first[0].token, again[0].token);
        let db = open(&args, dir.path()).await.unwrap();
        let (user, _) = db
            .authenticate_api_token(&again[0].token)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.username, "demo-applicant");
        assert_eq!(db.list_users().await.unwrap().len(), Role::ALL.len());
    }

    #[test]
    fn secrets_come_from_files_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "hemligt lösenord\nrest").unwrap();
        let s = SecretArgs {
            password_stdin: false,
            password_file: Some(f),
            password_env: None,
        };
        assert_eq!(
            read_secret(&s).unwrap().as_deref(),
            Some("hemligt lösenord")
        );
        let none = SecretArgs {
            password_stdin: false,
            password_file: None,
            password_env: Some("HALSOHUB_SURELY_UNSET_VAR".into()),
        };
        assert!(read_secret(&none).is_err());
    }
}
