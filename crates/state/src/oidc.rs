//! OpenID Connect bearer tokens: JWTs signed by a configured issuer,
//! verified against its JSON Web Key Set, with roles read from a configured
//! claim.
//!
//! Role claim entries are strings, either `role@organisation` or a bare
//! `role`, which then applies in the organisation named by the
//! organisation claim (default `org`). The claim may be nested, written as
//! a dotted path (`realm_access.roles`).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

/// Where the issuer's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS JSON file.
    File(PathBuf),
    /// A JWKS URL (`http://`; put a TLS-terminating proxy or a file in
    /// front of an `https://` issuer until TLS support is enabled).
    Url(String),
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
    /// The token is not acceptable.
    #[error("bearer token rejected: {0}")]
    Rejected(String),
}

/// Verifies bearer JWTs against a loaded key set.
#[derive(Debug, Clone)]
pub struct OidcVerifier {
    config: OidcConfig,
    keys: JwkSet,
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

impl OidcVerifier {
    /// Loads the key set named by the configuration.
    pub async fn load(config: OidcConfig) -> Result<OidcVerifier, OidcError> {
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
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| err(e.to_string()))?;
                let resp = client.get(u).send().await.map_err(|e| err(e.to_string()))?;
                if !resp.status().is_success() {
                    return Err(err(format!("HTTP status {}", resp.status())));
                }
                let text = resp.text().await.map_err(|e| err(e.to_string()))?;
                (u.clone(), text)
            }
        };
        OidcVerifier::from_jwks_json(config, &text).map_err(|reason| OidcError::Jwks {
            source_desc: desc,
            reason,
        })
    }

    /// A verifier over a key set given as JSON text.
    pub fn from_jwks_json(config: OidcConfig, jwks: &str) -> Result<OidcVerifier, String> {
        let keys: JwkSet =
            serde_json::from_str(jwks).map_err(|e| format!("not a JWKS document: {e}"))?;
        if keys.keys.is_empty() {
            return Err("the key set has no keys".into());
        }
        Ok(OidcVerifier { config, keys })
    }

    /// Whether a bearer credential looks like a JWT (three dot-separated
    /// parts) rather than an API token.
    pub fn looks_like_jwt(token: &str) -> bool {
        token.split('.').count() == 3 && !token.starts_with(crate::tokens::API_TOKEN_PREFIX)
    }

    /// Verifies signature, issuer, audience, expiry and not-before, and
    /// reads the subject and roles.
    pub fn verify(&self, token: &str) -> Result<OidcIdentity, OidcError> {
        let rejected = |m: String| OidcError::Rejected(m);
        let header = decode_header(token).map_err(|e| rejected(format!("malformed JWT: {e}")))?;
        if !ALLOWED.contains(&header.alg) {
            return Err(rejected(format!(
                "signature algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let jwk = match &header.kid {
            Some(kid) => self.keys.find(kid).ok_or_else(|| {
                rejected(format!("no key with id {kid:?} in the issuer's key set"))
            })?,
            None if self.keys.keys.len() == 1 => self
                .keys
                .keys
                .first()
                .ok_or_else(|| rejected("the issuer's key set is empty".into()))?,
            None => return Err(rejected("the token names no key id (kid)".into())),
        };
        let key = DecodingKey::from_jwk(jwk)
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
        })
    }
}
