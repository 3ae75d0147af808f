//! Authentication settings of `halsohub serve` and `halsohub token create`
//! beyond the OIDC issuer itself: the CA bundle and key refresh for an
//! `https` JWKS, and the longest lifetime of an API token.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use halsohub_app::accounts::DEFAULT_MAX_TOKEN_DAYS;
use halsohub_app::auth::RefreshPolicy;

/// OIDC transport and key refresh (`halsohub serve`).
#[derive(Debug, Clone, Args)]
pub struct OidcTlsArgs {
    /// PEM file of CA certificates: an `https` JWKS URL is then trusted
    /// only if its certificate chains to one of them (default: the
    /// system's roots).
    #[arg(long, env = "HALSOHUB_OIDC_CA_BUNDLE", value_name = "FILE")]
    pub oidc_ca_bundle: Option<PathBuf>,
    /// Fetch the issuer's keys again when they are older than this many
    /// seconds (0: only when a token names an unknown key id).
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    pub oidc_refresh_secs: u64,
    /// Least seconds between two fetches caused by tokens naming unknown
    /// key ids.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub oidc_refetch_gap_secs: u64,
}

impl Default for OidcTlsArgs {
    fn default() -> OidcTlsArgs {
        OidcTlsArgs {
            oidc_ca_bundle: None,
            oidc_refresh_secs: 3600,
            oidc_refetch_gap_secs: 30,
        }
    }
}

impl OidcTlsArgs {
    /// The refresh policy these flags describe.
    pub fn refresh(&self) -> RefreshPolicy {
        RefreshPolicy {
            interval: (self.oidc_refresh_secs > 0)
                .then(|| Duration::from_secs(self.oidc_refresh_secs)),
            min_gap: Duration::from_secs(self.oidc_refetch_gap_secs),
        }
    }
}

/// The administrator's maximum API-token lifetime.
#[derive(Debug, Clone, Copy, Args)]
pub struct TokenLifetimeArgs {
    /// Longest lifetime of any API token, in days from its creation; it
    /// also ends older tokens once they are past it (0: no maximum).
    #[arg(long, env = "HALSOHUB_MAX_TOKEN_DAYS", default_value_t = DEFAULT_MAX_TOKEN_DAYS as u32, value_name = "DAYS")]
    pub max_token_days: u32,
}

impl Default for TokenLifetimeArgs {
    fn default() -> TokenLifetimeArgs {
        TokenLifetimeArgs {
            max_token_days: DEFAULT_MAX_TOKEN_DAYS as u32,
        }
    }
}

impl TokenLifetimeArgs {
    /// The maximum as a duration; `None` for no maximum.
    pub fn max(&self) -> Option<chrono::Duration> {
        (self.max_token_days > 0).then(|| chrono::Duration::days(i64::from(self.max_token_days)))
    }
}
