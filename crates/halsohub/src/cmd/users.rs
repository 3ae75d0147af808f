//! `halsohub user add|list|grant|revoke`: accounts and their roles in the
//! state database.
//!
//! Passwords are read from stdin, a file or an environment variable, never
//! from the command line, and never logged.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use halsohub_app::accounts::{self, NewAccount};

use crate::cmd::db::{DatabaseArgs, open};

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
    Grant(RoleArgs),
    /// Revoke a role in an organisation.
    Revoke(RoleArgs),
}

/// One role of one user in one organisation.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// Login name.
    username: String,
    /// Organisation name.
    #[arg(long)]
    org: String,
    /// Role name.
    role: String,
    #[command(flatten)]
    db: DatabaseArgs,
}

/// Grants (or revokes) the role named in `a`, recorded as done by the
/// operating-system user; the role and the organisation's name.
async fn change_role(a: &RoleArgs, home: &Path, grant: bool) -> Result<(accounts::Role, String)> {
    let db = open(&a.db, home).await?;
    let actor = crate::cmd::count::os_user();
    Ok(if grant {
        accounts::grant(&db, &a.username, &a.org, &a.role, &actor).await?
    } else {
        accounts::revoke(&db, &a.username, &a.org, &a.role, &actor).await?
    })
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

/// Runs `halsohub user …`: parses, calls [`halsohub_app::accounts`],
/// prints.
pub async fn run(cmd: UserCmd, home: &Path) -> Result<()> {
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
            let password = read_secret(&secret)?;
            let db = open(&db, home).await?;
            let new = NewAccount {
                username,
                display_name,
                email,
                password,
                oidc_subject,
                organisation: org,
                roles,
            };
            let user = accounts::add_user(&db, new, &crate::cmd::count::os_user()).await?;
            println!("created user {} (id {})", user.username, user.id);
        }
        UserCmd::List { db } => {
            let db = open(&db, home).await?;
            for line in accounts::list_users(&db).await? {
                let u = &line.user;
                let state = if u.disabled_at.is_some() {
                    " (disabled)"
                } else {
                    ""
                };
                println!(
                    "{}\t{}\t{}{}",
                    u.username,
                    u.display_name,
                    line.roles.join(","),
                    state
                );
            }
        }
        UserCmd::Grant(a) => {
            let (r, org) = change_role(&a, home, true).await?;
            println!("granted {r} in {org} to {}", a.username);
        }
        UserCmd::Revoke(a) => {
            let (r, org) = change_role(&a, home, false).await?;
            println!("revoked {r} in {org} from {}", a.username);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
