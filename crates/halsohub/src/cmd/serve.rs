//! `halsohub serve`: the HTTP API, with (given `--store`) the feasibility
//! service over the store's current snapshot, and the deadline sweeper
//! beside it. The hub is opened by `halsohub_app::hub` (key checked
//! against the store), the service is `halsohub_app::feasibility`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use halsohub_app::auth::{OidcConfig, OidcVerifier, jwks_source};
use halsohub_app::feasibility::{Feasibility, QuotaPolicy, api_profile};
use halsohub_app::hub::Hub;
use halsohub_server::{AppState, router};

use crate::cmd::db::{DatabaseArgs, open};

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
    /// Claim holding a citizen's Swedish identity number (for the
    /// citizens' opt-out endpoints); pseudonymised on arrival, never
    /// stored.
    #[arg(long, default_value = "personal_identity_number")]
    pub oidc_identity_number_claim: String,
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
    /// Disclosure profile for feasibility answers: feasibility (noise keyed
    /// by the persons behind each number, ε 0.5, <5, round to 5), rounded
    /// (<5, round to 5, no noise: trusted audiences only), noisy or strict
    /// (<10, round to 10, noise). Exact counts are never served over HTTP.
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
    pub privacy: crate::cmd::privacy::PrivacyArgs,
    #[command(flatten)]
    pub lists: crate::cmd::lists::CodeListArgs,
    /// The datasets applications may name when the hub has no catalogue,
    /// comma-separated (with a catalogue, its published datasets are the
    /// list). Without it or --datasets-file, the built-in list of national
    /// registers.
    #[arg(long, value_name = "NAME,...", conflicts_with_all = ["datasets_file", "catalogue_dir"])]
    pub datasets: Option<String>,
    /// As --datasets, from a file: one name per line (`#` comments and
    /// blank lines skipped) or a JSON array of names.
    #[arg(long, value_name = "FILE", conflicts_with = "catalogue_dir")]
    pub datasets_file: Option<PathBuf>,
    /// The audit log directory (tiles and signed checkpoints, servable as
    /// static files). Default: audit/ under the hub home.
    #[arg(long, value_name = "DIR")]
    pub audit_log: Option<PathBuf>,
    /// The checkpoint signing key (`halsohub keys audit`). Default:
    /// audit.key under the hub home. Without it the entries are still
    /// recorded in the database, but not put into the tree.
    #[arg(long, value_name = "FILE")]
    pub audit_key: Option<PathBuf>,
    /// How often new audit entries are appended to the tree and a new
    /// checkpoint is signed (group commit); `off` to leave it to `halsohub
    /// audit sequence`.
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = parse_interval)]
    pub audit_interval: Interval,
    /// Serve the dataset catalogue from this directory of holders'
    /// descriptions and approvals (`docs/catalogue.md`); needs `--store`
    /// and `--catalogue-config`.
    #[arg(long, value_name = "DIR", requires_all = ["store", "catalogue_config"])]
    pub catalogue_dir: Option<PathBuf>,
    /// The catalogue configuration (base URL, HDAB, page size).
    #[arg(long, value_name = "FILE", requires = "catalogue_dir")]
    pub catalogue_config: Option<PathBuf>,
    /// Quality thresholds for the catalogue (YAML or JSON).
    #[arg(long, value_name = "FILE", requires = "catalogue_dir")]
    pub catalogue_thresholds: Option<PathBuf>,
}

/// A sweep interval; `None` when sweeping is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(pub Option<Duration>);

/// The longest sweep interval accepted.
const MAX_INTERVAL: Duration = Duration::from_secs(366 * 86_400);

/// Parses a duration as `humantime` writes them (`30s`, `15m`, `1h`,
/// `1d`, `1h 30m`), between 1 s and 366 days, or `off`.
pub fn parse_interval(text: &str) -> std::result::Result<Interval, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(Interval(None));
    }
    let d = humantime::parse_duration(t)
        .map_err(|e| format!("{t:?}: {e}; write e.g. 30s, 15m, 1h or 1d (or off)"))?;
    if d < Duration::from_secs(1) || d > MAX_INTERVAL {
        return Err(format!("{t:?} must be between 1s and 366d"));
    }
    Ok(Interval(Some(d)))
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
            oidc_identity_number_claim: "personal_identity_number".into(),
            oidc_tls: Default::default(),
            token_lifetime: Default::default(),
            store: Some(store),
            key: crate::cmd::keys::KeyArg { key: None },
            profile: "feasibility".into(),
            quota_per_minute: QuotaPolicy::default().per_minute,
            quota_per_week: QuotaPolicy::default().per_week,
            sweep_interval: Interval(Some(Duration::from_secs(15 * 60))),
            privacy: Default::default(),
            lists: crate::cmd::lists::CodeListArgs::default(),
            datasets: None,
            datasets_file: None,
            audit_log: None,
            audit_key: None,
            audit_interval: Interval(Some(Duration::from_secs(1))),
            catalogue_dir: None,
            catalogue_config: None,
            catalogue_thresholds: None,
        }
    }
}

/// The feasibility service over `store`'s current snapshot, built off the
/// async workers (it reads the whole snapshot).
async fn feasibility(args: &ServeArgs, store: PathBuf, home: &Path) -> Result<Feasibility> {
    let profile = api_profile(&args.profile)?;
    let quota = QuotaPolicy {
        per_minute: args.quota_per_minute,
        per_week: args.quota_per_week,
    };
    let key = args.key.path(home);
    let lists = args.lists.files.clone();
    let privacy = args.privacy.clone();
    let started = std::time::Instant::now();
    let service = tokio::task::spawn_blocking(move || -> Result<Feasibility> {
        let service = Hub::open(&store, &key)?
            .feasibility(None, &lists)?
            .with_profile(profile)?
            .with_quota(quota);
        Ok(privacy.apply(service)?)
    })
    .await
    .context("the engine build task failed")??;
    let engine = service.engine();
    eprintln!(
        "cohort engine: snapshot {}, {} patients, {} events, built in {:.1} s",
        engine.snapshot(),
        engine.patient_count(),
        engine.event_count(),
        started.elapsed().as_secs_f64()
    );
    Ok(service)
}

/// Runs `halsohub serve` until Ctrl-C.
pub async fn run(args: ServeArgs, home: &Path) -> Result<()> {
    // The operator's dataset list first: a bad list or file stops here,
    // before anything is opened. The access configuration is decided once
    // the catalogue (if any) is built.
    let operator_datasets = halsohub_app::cases::datasets::operator_datasets(
        args.datasets.as_deref(),
        args.datasets_file.as_deref(),
    )?;
    let db = open(&args.db, home).await?;
    let mut state = AppState::new(db);
    if let Some(store) = args.store.clone() {
        state = state.with_feasibility(feasibility(&args, store.clone(), home).await?);
        state.citizens = Some(Arc::new(halsohub_app::optout::Citizens::open(
            &args.key.path(home),
        )?));
        if let (Some(dir), Some(config), Some(service)) = (
            args.catalogue_dir.clone(),
            args.catalogue_config.clone(),
            state.feasibility.clone(),
        ) {
            let request = halsohub_app::catalogue::LocalCatalogue {
                store,
                key: args.key.path(home),
                snapshot: None,
                code_lists: args.lists.files.clone(),
                dir,
                config,
                thresholds: args.catalogue_thresholds.clone(),
            };
            let built = halsohub_app::catalogue::build_for_service(
                &service,
                &state.db,
                &request,
                chrono::Utc::now(),
            )
            .await?;
            eprintln!(
                "catalogue: {} published dataset(s), {} description(s) not published",
                built.catalogue.entries().len(),
                built.unpublished.len()
            );
            for (path, why) in &built.unpublished {
                eprintln!("  not published: {}: {why}", path.display());
            }
            state = state.with_catalogue(built);
        }
    } else {
        eprintln!("no --store given: the feasibility endpoints will answer 503");
    }
    let (access, source) = halsohub_app::cases::datasets::access_config_for(
        state.catalogue.as_ref().map(|b| &b.catalogue),
        operator_datasets,
    )?;
    eprintln!(
        "applications may name {} dataset(s) ({source:?}): {}",
        access.datasets.len(),
        access.datasets.join(", ")
    );
    state.config = Arc::new(halsohub_server::ServerConfig {
        access,
        max_token_lifetime: args.token_lifetime.max(),
        ..halsohub_server::ServerConfig::default()
    });
    if let (Some(issuer), Some(jwks)) = (args.oidc_issuer, args.oidc_jwks) {
        let verifier = OidcVerifier::load(OidcConfig {
            issuer,
            audience: args.oidc_audience,
            jwks: jwks_source(&jwks),
            roles_claim: args.oidc_roles_claim,
            organisation_claim: args.oidc_org_claim,
            identity_number_claim: Some(args.oidc_identity_number_claim),
            ca_bundle: args.oidc_tls.oidc_ca_bundle.clone(),
            refresh: args.oidc_tls.refresh(),
        })
        .await?;
        state.oidc = Some(Arc::new(verifier));
    }
    let audit_key = args
        .audit_key
        .clone()
        .unwrap_or_else(|| crate::cmd::keys::default_audit_key(home));
    if audit_key.exists() {
        let dir = args.audit_log.clone().unwrap_or_else(|| home.join("audit"));
        let log = halsohub_app::audit::AuditLog::open(state.db.clone(), &dir, &audit_key)?;
        let s = log.sequence().await?;
        eprintln!(
            "audit log {}: {} entries, public key {}",
            dir.display(),
            s.size,
            log.public_key()
        );
        state.audit = Some(Arc::new(log));
    } else {
        eprintln!(
            "no audit signing key at {}: audit entries are recorded in the database but not put into the tree (create one with `halsohub keys audit`)",
            audit_key.display()
        );
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
    let audit_log_for_exit = state.audit.clone();
    let sequencer = match (&state.audit, args.audit_interval.0) {
        (Some(log), Some(every)) => {
            let mut rx = stop_rx.clone();
            let log = log.as_ref().clone();
            Some(tokio::spawn(log.run_sequencer(every, async move {
                let _ = rx.wait_for(|stop| *stop).await;
            })))
        }
        _ => None,
    };
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
    if let Some(task) = sequencer {
        let _ = task.await;
    }
    // Whatever the last interval left: into the tree before exiting.
    if let Some(log) = &audit_log_for_exit
        && let Err(e) = log.sequence().await
    {
        eprintln!("sequencing the audit log at exit failed: {e}");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_intervals_parse_with_units_and_refuse_nonsense() {
        let every = |s| Ok(Interval(Some(Duration::from_secs(s))));
        assert_eq!(parse_interval("15m"), every(900));
        assert_eq!(parse_interval("30s"), every(30));
        assert_eq!(parse_interval("2h"), every(7200));
        assert_eq!(parse_interval("1d"), every(86_400));
        assert_eq!(parse_interval(" 1h 30m "), every(5400));
        assert_eq!(parse_interval("366d"), every(366 * 86_400));
        assert_eq!(parse_interval("off"), Ok(Interval(None)));
        assert_eq!(parse_interval("OFF"), Ok(Interval(None)));
        for bad in [
            "",
            "15",
            "m",
            "0s",
            "500ms",
            "15x",
            "-1m",
            "367d",
            "99999999999999999999d",
        ] {
            let err = parse_interval(bad).unwrap_err();
            assert!(err.contains(bad.trim()), "{bad}: {err}");
        }
    }
}
