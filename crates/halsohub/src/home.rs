//! Where halsohub keeps its files when the user does not say: the hub home.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// The hub home: `--home`, else `$HALSOHUB_HOME`, else
/// `$XDG_DATA_HOME/halsohub`, else `$HOME/.local/share/halsohub`.
pub fn resolve(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    if let Some(p) = env_path("HALSOHUB_HOME") {
        return Ok(p);
    }
    if let Some(p) = env_path("XDG_DATA_HOME") {
        return Ok(p.join("halsohub"));
    }
    let home = env_path("HOME").context(
        "cannot find a hub home: set HALSOHUB_HOME (or HOME / XDG_DATA_HOME), or pass --home",
    )?;
    Ok(home.join(".local").join("share").join("halsohub"))
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The default key file under a hub home.
pub fn default_key(home: &std::path::Path) -> PathBuf {
    home.join("hub.key")
}
