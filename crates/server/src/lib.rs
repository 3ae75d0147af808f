//! halsohub's HTTP API (axum): everything under `/api/v1/`.
//!
//! * Authentication: `Authorization: Bearer <token>` with an API token
//!   (`halsohub token create`), a web-session token or an OpenID Connect JWT
//!   ([`auth::Caller`]).
//! * Authorisation: every endpoint calls a service of the application
//!   layer ([`halsohub_app`]), which asks the access domain; this crate
//!   depends on no domain or persistence crate and only translates
//!   between HTTP and those calls.
//! * Errors: RFC 9457 `application/problem+json` ([`problem::Problem`]).
//! * OpenAPI 3.1 at `GET /api/v1/openapi.json`, generated from the same
//!   route definitions that build the router (utoipa).
//!
//! * Feasibility counts (`POST /api/v1/feasibility`), the store's snapshots
//!   and code search: the service and the one function that decides (roles,
//!   validation, quota, evaluation, disclosure control, query log) are
//!   [`halsohub_app::feasibility`], shared with `halsohub count`; the
//!   handlers translate, and answer 503 when started without a store.
//!
//! * Applications, permits, the queue and the public register: the
//!   handlers in `routes/cases.rs` and `routes/public.rs` call the case
//!   service ([`halsohub_app::cases::CaseService`]), which loads, decides,
//!   persists and notifies; they only translate HTTP.
//!
//! * Deadlines: the case service's sweep closes applications whose
//!   completion deadline has passed and queues "deadline near" and
//!   "overdue" notifications in the outbox (each once);
//!   [`sweep_periodically`] runs it on an interval beside the server.
//!
//! * Citizens (`/api/v1/me/opt-out`, `/api/v1/me/permits`): their own
//!   opt-out standing, changes and the permits that used their data,
//!   through [`halsohub_app::optout`]; an OIDC token's identity-number
//!   claim is pseudonymised on arrival.
//!
//! * The audit log (`/api/v1/audit/…`): the signed checkpoint, tiles as
//!   static files and consistency proofs for anyone; entries with their
//!   salts and inclusion proofs for auditors ([`halsohub_app::audit`]).
//!
//! The router is composed of per-area routers, so another crate can add its
//! own area with [`router_with`] and have it documented.

pub mod auth;
pub mod problem;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use halsohub_app::accounts::ThrottlePolicy;
use halsohub_app::audit::AuditLog;
use halsohub_app::auth::{AccessConfig, OidcVerifier};
use halsohub_app::codes::CodeRegistry;
use halsohub_app::db::Db;
use halsohub_app::feasibility::Feasibility;
use halsohub_app::optout::Citizens;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

/// The default maximum lifetime of an API token, days (also what tokens
/// created before lifetimes were limited were clamped to on upgrade).
pub const DEFAULT_MAX_TOKEN_DAYS: i64 = halsohub_app::accounts::DEFAULT_MAX_TOKEN_DAYS;

/// Limits and policy of a running server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The access domain's configuration (clocks, attachment policy).
    pub access: AccessConfig,
    /// Largest request body, bytes (every route but attachment uploads);
    /// a larger one is refused with a 413 problem stating it.
    pub max_json_bytes: usize,
    /// Largest attachment upload, bytes.
    pub max_attachment_bytes: usize,
    /// When password log-ins for a username are refused (kept in the state
    /// database, shared by every server process).
    pub login_throttle: ThrottlePolicy,
    /// The longest any API token may live, counted from its creation: new
    /// tokens are clamped to it and older ones stop working once past it.
    /// `None`: no maximum (tokens are still clamped to the credential that
    /// created them).
    pub max_token_lifetime: Option<chrono::Duration>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            access: AccessConfig::default(),
            max_json_bytes: 1024 * 1024,
            max_attachment_bytes: 20 * 1024 * 1024,
            login_throttle: Default::default(),
            max_token_lifetime: Some(chrono::Duration::days(DEFAULT_MAX_TOKEN_DAYS)),
        }
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The state database.
    pub db: Db,
    /// Limits and policy.
    pub config: Arc<ServerConfig>,
    /// OpenID Connect verifier, when an issuer is configured.
    pub oidc: Option<Arc<OidcVerifier>>,
    /// The clock every decision is dated by (real time unless a test or a
    /// replay sets another).
    pub clock: Clock,
    /// The feasibility service, when the server was started with a store.
    pub feasibility: Option<Arc<Feasibility>>,
    /// Code lists for code search (the built-in lists by default).
    pub codes: Arc<CodeRegistry>,
    /// Recognises citizens (their identity number under the hub key) for
    /// the `/api/v1/me/…` endpoints; `None` without a key.
    pub citizens: Option<Arc<Citizens>>,
    /// The audit log's tree (checkpoint, tiles, proofs); `None` without a
    /// signing key.
    pub audit: Option<Arc<AuditLog>>,
    /// The dataset catalogue, when the server was started with one.
    pub catalogue: Option<Arc<halsohub_app::catalogue::Built>>,
}

/// A source of "now".
pub type Clock = Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>;

impl AppState {
    /// State over `db` with default configuration and no OIDC.
    pub fn new(db: Db) -> AppState {
        AppState {
            db,
            config: Arc::new(ServerConfig::default()),
            oidc: None,
            clock: Arc::new(chrono::Utc::now),
            feasibility: None,
            codes: Arc::new(CodeRegistry::builtin()),
            citizens: None,
            audit: None,
            catalogue: None,
        }
    }

    /// The same state with the feasibility service.
    pub fn with_feasibility(mut self, f: Feasibility) -> AppState {
        self.feasibility = Some(Arc::new(f));
        self
    }

    /// The same state with the dataset catalogue.
    pub fn with_catalogue(mut self, built: halsohub_app::catalogue::Built) -> AppState {
        self.catalogue = Some(Arc::new(built));
        self
    }

    /// Now, by this state's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        (self.clock)()
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("db", &self.db)
            .field("config", &self.config)
            .field("oidc", &self.oidc.is_some())
            .field("feasibility", &self.feasibility)
            .finish_non_exhaustive()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "halsohub API",
        description = "One door in to Swedish health data: feasibility counts, access process, permits, public register.",
        version = "1"
    ),
    modifiers(&BearerScheme)
)]
struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The documented routes of this crate's areas (accounts, applications,
/// queue and permits, public register, feasibility), not yet bound to state.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::accounts::router())
        .merge(routes::cases::router())
        .merge(routes::public::router())
        .merge(routes::feasibility::router())
        .merge(routes::optout::router())
        .merge(routes::audit::router())
        .merge(routes::catalogue::router())
}

/// The whole API over `state`.
pub fn router(state: AppState) -> Router {
    router_with(state, OpenApiRouter::new())
}

/// The whole API plus another crate's documented routes (`extra`), all
/// included in the OpenAPI document.
pub fn router_with(state: AppState, extra: OpenApiRouter<AppState>) -> Router {
    // Every request body is read under this limit; attachment uploads
    // read theirs under their own (`max_attachment_bytes`).
    let max_body = state.config.max_json_bytes;
    let (router, openapi) = api_routes().merge(extra).split_for_parts();
    let doc = Arc::new(openapi);
    router
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::map_response(
            move |resp: axum::response::Response| problem::ensure_problem_within(resp, max_body),
        ))
        .layer(TraceLayer::new_for_http())
}

/// The OpenAPI document for the given extra routes (for tests and export).
pub fn openapi(extra: OpenApiRouter<AppState>) -> utoipa::openapi::OpenApi {
    api_routes().merge(extra).split_for_parts().1
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(?addr, "halsohub API listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The deadline sweep at `now`: closes applications whose completion
/// deadline has passed and queues deadline reminders (each once); the job
/// is [`CaseService::sweep_deadlines`](halsohub_app::cases::CaseService::sweep_deadlines),
/// kept here for callers of the server crate.
pub async fn sweep_deadlines(
    db: &Db,
    config: &AccessConfig,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<halsohub_app::cases::SweepReport, halsohub_app::cases::CaseError> {
    halsohub_app::cases::CaseService::new(db, config)
        .sweep_deadlines(now)
        .await
}

/// Runs the deadline sweep at once and then every `every` until `stop`
/// completes (a sweep in progress is finished first). Failures are logged
/// and retried at the next tick; they never stop the loop.
pub async fn sweep_periodically(
    state: AppState,
    every: std::time::Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    let every = every.max(std::time::Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            biased;
            () = &mut stop => break,
            _ = tick.tick() => {
                match sweep_deadlines(&state.db, &state.config.access, state.now()).await {
                    Ok(r) => tracing::info!(closed = r.closed.len(), queued = r.reminders, "deadline sweep done"),
                    Err(e) => tracing::error!(error = %e, "deadline sweep failed; retrying at the next tick"),
                }
            }
        }
    }
    tracing::info!("deadline sweeps stopped");
}
