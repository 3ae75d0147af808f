//! OpenID Connect bearer tokens: JWTs signed by a configured issuer,
//! verified against its JSON Web Key Set, with roles read from a configured
//! claim.
//!
//! Role claim entries are strings, either `role@organisation` or a bare
//! `role`, which then applies in the organisation named by the
//! organisation claim (default `org`). The claim may be nested, written as
//! a dotted path (`realm_access.roles`).
//!
//! Keys come from a file or a URL. An `https` URL is fetched with rustls
//! (ring provider; no system OpenSSL), trusting the system's roots or,
//! when a CA bundle is configured, only that bundle. The key set is
//! fetched again by a [`RefreshPolicy`]: when it is older than the
//! interval, and when a token names a key id the set lacks (the issuer may
//! have rotated its keys), the latter at most once per minimum gap. A
//! failed refetch keeps the keys there are.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

/// Where the issuer's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS JSON file (re-read on refresh).
    File(PathBuf),
    /// A JWKS URL, `https://` (verified against the system's roots or the
    /// configured CA bundle) or `http://` (only sensible on loopback).
    Url(String),
}

/// When the key set is fetched again after start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Refetch when the keys are older than this, on the next token that
    /// needs them (`None`: only on an unknown key id).
    pub interval: Option<Duration>,
    /// A token naming a key id that is not in the set triggers a refetch
    /// (the issuer may have rotated its keys), at most once per this gap,
    /// so that tokens with made-up key ids cannot make the hub hammer the
    /// issuer.
    pub min_gap: Duration,
}

impl Default for RefreshPolicy {
    /// Every hour; unknown key ids at most every 30 seconds.
    fn default() -> RefreshPolicy {
        RefreshPolicy {
            interval: Some(Duration::from_secs(3600)),
            min_gap: Duration::from_secs(30),
        }
    }
}

/// How to verify bearer JWTs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`, if checked.
    pub audience: Option<String>,
    /// Where the keys are.
    pub jwks: JwksSource,
    /// Dotted path of the claim holding role entries (e.g. `roles`).
    pub roles_claim: String,
    /// Claim naming the organisation for bare role entries.
    pub organisation_claim: String,
    /// Claim holding a citizen's Swedish identity number (e.g.
    /// `personal_identity_number`), read for the citizens' endpoints;
    /// `None`: tokens carry no citizen identity.
    pub identity_number_claim: Option<String>,
    /// A PEM file of CA certificates: when set, an `https` JWKS URL is
    /// trusted only if its certificate chains to one of these (instead of
    /// the system's roots).
    pub ca_bundle: Option<PathBuf>,
    /// When to fetch the keys again.
    pub refresh: RefreshPolicy,
}

impl OidcConfig {
    /// A configuration with the default claims (`roles`, `org`), no
    /// audience check, the system's roots and the default refresh policy.
    pub fn new(issuer: impl Into<String>, jwks: JwksSource) -> OidcConfig {
        OidcConfig {
            issuer: issuer.into(),
            audience: None,
            jwks,
            roles_claim: "roles".into(),
            organisation_claim: "org".into(),
            identity_number_claim: None,
            ca_bundle: None,
            refresh: RefreshPolicy::default(),
        }
    }
}

/// A verified caller from the identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcIdentity {
    /// `sub`.
    pub subject: String,
    /// `name` or `preferred_username`, if present.
    pub name: Option<String>,
    /// `email`, if present.
    pub email: Option<String>,
    /// `(organisation, role)` pairs from the roles claim, as written.
    pub roles: Vec<(String, String)>,
    /// The citizen's identity number from the configured claim, if any:
    /// to be pseudonymised at once, never stored or logged.
    pub identity_number: Option<IdentityClaim>,
}

/// An identity number as a token's claim carries it. Its `Debug` withholds
/// it; read it with [`IdentityClaim::expose`] only to pseudonymise it.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityClaim(String);

impl IdentityClaim {
    /// Wraps a claim's text.
    pub fn new(text: impl Into<String>) -> IdentityClaim {
        IdentityClaim(text.into())
    }

    /// The number as written in the token.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for IdentityClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdentityClaim(<withheld>)")
    }
}

/// Why a bearer JWT was not accepted. Messages never include the token.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The key set could not be read.
    #[error("cannot load the identity provider's keys from {source_desc}: {reason}")]
    Jwks {
        /// File path or URL.
        source_desc: String,
        /// Why.
        reason: String,
    },
    /// The TLS client could not be set up (e.g. an unreadable CA bundle).
    #[error("cannot set up the HTTPS client for the identity provider: {0}")]
    Client(String),
    /// The token is not acceptable.
    #[error("bearer token rejected: {0}")]
    Rejected(String),
}

/// When the keys were last fetched and last tried.
#[derive(Debug)]
struct FetchTimes {
    /// Last successful fetch.
    fetched: Instant,
    /// Last attempt, successful or not.
    attempted: Instant,
}

/// Verifies bearer JWTs against the issuer's key set, refetching it by the
/// configured [`RefreshPolicy`]. Share it behind an `Arc`.
#[derive(Debug)]
pub struct OidcVerifier {
    config: OidcConfig,
    /// The HTTPS client (for URL sources).
    client: Option<reqwest::Client>,
    keys: RwLock<Arc<JwkSet>>,
    /// Held while fetching, so concurrent requests fetch once.
    times: tokio::sync::Mutex<FetchTimes>,
    /// How many times the key set was fetched (start-up included).
    fetches: std::sync::atomic::AtomicU64,
}

const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The HTTP client for a configuration: rustls with the ring provider,
/// trusting only the CA bundle when one is configured.
fn http_client(config: &OidcConfig) -> Result<Option<reqwest::Client>, OidcError> {
    if !matches!(config.jwks, JwksSource::Url(_)) {
        return Ok(None);
    }
    // reqwest is built without a default crypto provider: install ring's
    // for the process (an error only means one is installed already).
    // rustls marks ring's provider deprecated because it lacks
    // post-quantum key exchange; that protects confidentiality against
    // later decryption, and a JWKS is public: what matters here is the
    // server's authentication, which ring's classical signatures give.
    // ring keeps the build free of aws-lc's C toolchain.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .https_only(false);
    if let Some(path) = &config.ca_bundle {
        let pem = std::fs::read(path).map_err(|e| {
            OidcError::Client(format!("cannot read the CA bundle {}: {e}", path.display()))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            OidcError::Client(format!("the CA bundle {} is not PEM: {e}", path.display()))
        })?;
        if certs.is_empty() {
            return Err(OidcError::Client(format!(
                "the CA bundle {} holds no certificate",
                path.display()
            )));
        }
        builder = builder.tls_certs_only(certs);
    }
    builder
        .build()
        .map(Some)
        .map_err(|e| OidcError::Client(e.to_string()))
}

fn parse_jwks(text: &str) -> Result<JwkSet, String> {
    let keys: JwkSet =
        serde_json::from_str(text).map_err(|e| format!("not a JWKS document: {e}"))?;
    if keys.keys.is_empty() {
        return Err("the key set has no keys".into());
    }
    Ok(keys)
}

impl OidcVerifier {
    /// Loads the key set named by the configuration.
    pub async fn load(config: OidcConfig) -> Result<OidcVerifier, OidcError> {
        if let JwksSource::Url(u) = &config.jwks
            && !u.starts_with("https://")
            && !u.starts_with("http://127.")
            && !u.starts_with("http://localhost")
            && !u.starts_with("http://[::1]")
        {
            tracing::warn!(
                url = u.as_str(),
                "the JWKS URL is not https: keys travel unprotected"
            );
        }
        let client = http_client(&config)?;
        let keys = fetch(&config, client.as_ref()).await?;
        Ok(OidcVerifier::with_keys(config, client, keys, 1))
    }

    /// A verifier over a key set given as JSON text (refreshes, if any,
    /// come from the configured source).
    pub fn from_jwks_json(config: OidcConfig, jwks: &str) -> Result<OidcVerifier, String> {
        let keys = parse_jwks(jwks)?;
        let client = http_client(&config).map_err(|e| e.to_string())?;
        Ok(OidcVerifier::with_keys(config, client, keys, 0))
    }

    /// A verifier holding `keys`, fetched just now (`fetches` times).
    fn with_keys(
        config: OidcConfig,
        client: Option<reqwest::Client>,
        keys: JwkSet,
        fetches: u64,
    ) -> OidcVerifier {
        let now = Instant::now();
        OidcVerifier {
            config,
            client,
            keys: RwLock::new(Arc::new(keys)),
            times: tokio::sync::Mutex::new(FetchTimes {
                fetched: now,
                attempted: now,
            }),
            fetches: std::sync::atomic::AtomicU64::new(fetches),
        }
    }

    /// How many times the key set has been fetched or read (start-up
    /// included).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn current_keys(&self) -> Arc<JwkSet> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Fetches the key set again when `due` says so (checked under the
    /// fetch lock, so concurrent callers fetch once). A failed fetch keeps
    /// the keys there are and is logged.
    async fn refresh_if(&self, due: impl Fn(&FetchTimes, Instant) -> bool) {
        let mut times = self.times.lock().await;
        let now = Instant::now();
        if !due(&times, now) {
            return;
        }
        times.attempted = now;
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match fetch(&self.config, self.client.as_ref()).await {
            Ok(keys) => {
                times.fetched = Instant::now();
                match self.keys.write() {
                    Ok(mut k) => *k = Arc::new(keys),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
                }
                tracing::info!("identity provider keys refreshed");
            }
            Err(e) => {
                tracing::warn!(error = %e, "refreshing the identity provider's keys failed; keeping the keys there are");
            }
        }
    }

    /// The key a token names, refetching the set when it is older than the
    /// refresh interval, or when the key id is unknown (rate-limited).
    async fn key_for(&self, kid: Option<&str>) -> Result<Jwk, OidcError> {
        let policy = self.config.refresh;
        if let Some(interval) = policy.interval {
            let stale = self
                .times
                .try_lock()
                .map(|t| t.fetched.elapsed() >= interval)
                .unwrap_or(true);
            if stale {
                // After a failed fetch, try again no sooner than the
                // shorter of the interval and the gap.
                let retry = interval.min(policy.min_gap);
                self.refresh_if(|t, now| {
                    now.duration_since(t.fetched) >= interval
                        && now.duration_since(t.attempted) >= retry
                })
                .await;
            }
        }
        let find = |keys: &JwkSet| -> Option<Jwk> {
            match kid {
                Some(kid) => keys.find(kid).cloned(),
                None if keys.keys.len() == 1 => keys.keys.first().cloned(),
                None => None,
            }
        };
        if let Some(k) = find(&self.current_keys()) {
            return Ok(k);
        }
        let Some(kid) = kid else {
            return Err(OidcError::Rejected(
                "the token names no key id (kid)".into(),
            ));
        };
        // Perhaps the issuer rotated its keys: fetch again, at most once
        // per min_gap however many tokens name unknown keys.
        self.refresh_if(|t, now| now.duration_since(t.attempted) >= policy.min_gap)
            .await;
        find(&self.current_keys()).ok_or_else(|| {
            OidcError::Rejected(format!("no key with id {kid:?} in the issuer's key set"))
        })
    }

    /// Whether a bearer credential looks like a JWT (three dot-separated
    /// parts) rather than an API token.
    pub fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3 && !token.starts_with(crate::tokens::API_TOKEN_PREFIX)
    }

    /// Verifies signature, issuer, audience, expiry and not-before, and
    /// reads the subject and roles. May refetch the key set (see
    /// [`RefreshPolicy`]).
    pub async fn verify(&self, token: &str) -> Result<OidcIdentity, OidcError> {
        let rejected = |m: String| OidcError::Rejected(m);
        let header = decode_header(token).map_err(|e| rejected(format!("malformed JWT: {e}")))?;
        if !ALLOWED.contains(&header.alg) {
            return Err(rejected(format!(
                "signature algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let jwk = self.key_for(header.kid.as_deref()).await?;
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| rejected(format!("the issuer's key cannot be used: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[self.config.issuer.as_str()]);
        match &self.config.audience {
            Some(aud) => validation.set_audience(&[aud.as_str()]),
            None => validation.validate_aud = false,
        }
        validation.validate_nbf = true;
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data = decode::<serde_json::Value>(token, &key, &validation)
            .map_err(|e| rejected(format!("{e}")))?;
        let claims = data.claims;
        let subject = claims
            .get("sub")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| rejected("the token has no subject (sub)".into()))?
            .to_string();
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let default_org = text(&self.config.organisation_claim);
        let mut roles = Vec::new();
        let mut seen = HashSet::new();
        let mut node = Some(&claims);
        for part in self.config.roles_claim.split('.') {
            node = node.and_then(|n| n.get(part));
        }
        if let Some(list) = node.and_then(|n| n.as_array()) {
            for entry in list.iter().filter_map(|v| v.as_str()) {
                let pair = match entry.split_once('@') {
                    Some((role, org)) => Some((org.to_string(), role.to_string())),
                    None => default_org.clone().map(|org| (org, entry.to_string())),
                };
                if let Some(pair) = pair
                    && seen.insert(pair.clone())
                {
                    roles.push(pair);
                }
            }
        }
        Ok(OidcIdentity {
            subject,
            name: text("name").or_else(|| text("preferred_username")),
            email: text("email"),
            roles,
            identity_number: self
                .config
                .identity_number_claim
                .as_deref()
                .and_then(text)
                .filter(|n| !n.trim().is_empty())
                .map(IdentityClaim),
        })
    }
}

/// Reads the key set from its source.
async fn fetch(config: &OidcConfig, client: Option<&reqwest::Client>) -> Result<JwkSet, OidcError> {
    let (desc, text) = match &config.jwks {
        JwksSource::File(p) => {
            let desc = p.display().to_string();
            let text = tokio::fs::read_to_string(p)
                .await
                .map_err(|e| OidcError::Jwks {
                    source_desc: desc.clone(),
                    reason: e.to_string(),
                })?;
            (desc, text)
        }
        JwksSource::Url(u) => {
            let err = |reason: String| OidcError::Jwks {
                source_desc: u.clone(),
                reason,
            };
            let client = client.ok_or_else(|| err("no HTTP client".into()))?;
            let resp = client.get(u).send().await.map_err(|e| {
                // The innermost cause says why (e.g. an unknown issuer).
                let mut reason = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    reason = format!("{reason}: {s}");
                    source = s.source();
                }
                err(reason)
            })?;
            if !resp.status().is_success() {
                return Err(err(format!("HTTP status {}", resp.status())));
            }
            let text = resp.text().await.map_err(|e| err(e.to_string()))?;
            (u.clone(), text)
        }
    };
    parse_jwks(&text).map_err(|reason| OidcError::Jwks {
        source_desc: desc,
        reason,
    })
}
