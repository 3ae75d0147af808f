//! The demo accounts of `halsohub demo`: one user per role, each with a
//! fresh API token ([`halsohub_app::accounts::demo_accounts`]), printed
//! with how each logs in.

use std::path::Path;

use anyhow::Result;
use halsohub_app::accounts::DemoLogin;

use crate::cmd::db::{DatabaseArgs, open};

/// Creates (or reuses) the demo users, gives each a fresh token and
/// prints the logins.
pub async fn demo_users(db: &DatabaseArgs, home: &Path) -> Result<Vec<DemoLogin>> {
    let db = open(db, home).await?;
    let out = halsohub_app::accounts::demo_accounts(&db).await?;
    println!("Demo accounts (send the token as 'Authorization: Bearer <token>'):");
    for l in &out {
        println!("  {:<15} {:<22} {}", l.role.as_str(), l.username, l.token);
    }
    Ok(out)
}
