//! The demo accounts of `halsohub demo`: one user per role, each with a
//! fresh API token.

use std::path::Path;

use anyhow::Result;
use halsohub_access::Role;
use halsohub_state::accounts::NewUser;

use crate::cmd::db::{DatabaseArgs, open};

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
}
