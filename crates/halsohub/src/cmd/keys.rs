//! `halsohub keys init|fingerprint|audit|witness`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};
use halsohub_app::keys;

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Create a new hub key file (mode 0600). Refuses to overwrite one.
    Init(KeyArg),
    /// Print the fingerprint of a key (safe to share; the key is not shown).
    Fingerprint(KeyArg),
    /// Create the audit log's checkpoint signing key (Ed25519, mode 0600)
    /// and its public key beside it (`<file>.pub`).
    Audit(SigningKeyArgs),
    /// Create a witness's cosigning key (for a second party, e.g. a
    /// region, that cosigns the hub's checkpoints).
    Witness(SigningKeyArgs),
}

#[derive(Debug, Args)]
pub struct SigningKeyArgs {
    /// The key's name: the log's origin (audit) or the witness's name,
    /// e.g. `hub.example.se/audit`; no spaces or '+'.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Key file. Defaults to audit.key (audit) or witness.key (witness)
    /// under the hub home.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct KeyArg {
    /// Key file. Defaults to hub.key under the hub home. Keep it apart from
    /// every store: whoever holds it can re-identify pseudonyms.
    #[arg(long, env = "HALSOHUB_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
}

impl KeyArg {
    /// The key path: `--key`, `$HALSOHUB_KEY`, else `hub.key` in the home.
    pub fn path(&self, home: &Path) -> PathBuf {
        self.key
            .clone()
            .unwrap_or_else(|| crate::home::default_key(home))
    }
}

/// The audit signing key's default place.
pub fn default_audit_key(home: &Path) -> PathBuf {
    home.join("audit.key")
}

fn signing_key(a: SigningKeyArgs, home: &Path, witness: bool) -> Result<()> {
    let (default_name, default_file) = if witness {
        ("halsohub-witness", "witness.key")
    } else {
        ("halsohub/audit", "audit.key")
    };
    let path = a.out.unwrap_or_else(|| home.join(default_file));
    let name = a.name.as_deref().unwrap_or(default_name);
    let public = halsohub_app::audit::create_key(&path, name, witness)?;
    println!(
        "created {} {}",
        if witness {
            "witness key"
        } else {
            "audit signing key"
        },
        path.display()
    );
    println!("public key {public}");
    println!(
        "written to {}; give it to whoever verifies{}",
        halsohub_app::audit::public_path(&path).display(),
        if witness { " cosignatures" } else { " the log" }
    );
    Ok(())
}

pub fn run(cmd: KeysCmd, home: &Path) -> Result<()> {
    match cmd {
        KeysCmd::Init(arg) => {
            let path = arg.path(home);
            let key = keys::create(&path)?;
            println!("created hub key {}", path.display());
            println!("fingerprint {}", key.fingerprint);
            println!(
                "keep this file apart from the data and back it up: losing it breaks linkage of future loads"
            );
        }
        KeysCmd::Fingerprint(arg) => {
            println!("{}", keys::fingerprint(&arg.path(home))?);
        }
        KeysCmd::Audit(a) => signing_key(a, home, false)?,
        KeysCmd::Witness(a) => signing_key(a, home, true)?,
    }
    Ok(())
}
