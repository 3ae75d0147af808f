//! `halsohub keys init|fingerprint`.

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
    }
    Ok(())
}
