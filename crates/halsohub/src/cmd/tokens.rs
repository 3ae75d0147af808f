//! `halsohub token create|revoke`: API tokens. A new token is printed
//! once, on stdout, for the person who asked for it.

use std::path::Path;

use anyhow::Result;
use clap::Subcommand;
use halsohub_app::accounts;

use crate::cmd::db::{DatabaseArgs, open};

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

/// Runs `halsohub token …`.
pub async fn run(cmd: TokenCmd, home: &Path) -> Result<()> {
    match cmd {
        TokenCmd::Create {
            username,
            name,
            expires_in_days,
            lifetime,
            db,
        } => {
            let db = open(&db, home).await?;
            let issued = accounts::issue_token_for(
                &db,
                &username,
                &name,
                expires_in_days,
                lifetime.max(),
                chrono::Utc::now(),
                &crate::cmd::count::os_user(),
            )
            .await?;
            eprintln!(
                "token {} for {username} (shown once; store it safely):",
                issued.token.id
            );
            println!("{}", issued.secret.expose());
        }
        TokenCmd::Revoke { token_id, db } => {
            let db = open(&db, home).await?;
            let t = accounts::revoke_token(&db, &token_id, &crate::cmd::count::os_user()).await?;
            println!("revoked token {} ({})", t.id, t.name);
        }
    }
    Ok(())
}
