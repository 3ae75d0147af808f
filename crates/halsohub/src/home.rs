//! Where halsohub keeps its files when the user does not say: the hub home.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The hub home: `--home`, else `$HALSOHUB_HOME`, else
/// `$XDG_DATA_HOME/halsohub`, else `$HOME/.local/share/halsohub`. Empty
/// variables count as unset.
pub fn resolve(explicit: Option<PathBuf>) -> Result<PathBuf> {
    resolve_from(explicit, |name| std::env::var_os(name))
}

fn resolve_from(
    explicit: Option<PathBuf>,
    get: impl Fn(&str) -> Option<OsString>,
) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    let var = |name: &str| get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = var("HALSOHUB_HOME") {
        return Ok(p);
    }
    if let Some(p) = var("XDG_DATA_HOME") {
        return Ok(p.join("halsohub"));
    }
    let home = var("HOME").context(
        "cannot find a hub home: set HALSOHUB_HOME (or HOME / XDG_DATA_HOME), or pass --home",
    )?;
    Ok(home.join(".local").join("share").join("halsohub"))
}

/// The default key file under a hub home.
pub fn default_key(home: &Path) -> PathBuf {
    home.join("hub.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn home_resolution_order() {
        let all = env(&[
            ("HALSOHUB_HOME", "/h"),
            ("XDG_DATA_HOME", "/x"),
            ("HOME", "/u"),
        ]);
        assert_eq!(
            resolve_from(Some("/e".into()), &all).unwrap(),
            PathBuf::from("/e")
        );
        assert_eq!(resolve_from(None, &all).unwrap(), PathBuf::from("/h"));
        let xdg = env(&[
            ("HALSOHUB_HOME", ""),
            ("XDG_DATA_HOME", "/x"),
            ("HOME", "/u"),
        ]);
        assert_eq!(
            resolve_from(None, xdg).unwrap(),
            PathBuf::from("/x/halsohub")
        );
        let home = env(&[("HOME", "/u")]);
        assert_eq!(
            resolve_from(None, home).unwrap(),
            PathBuf::from("/u/.local/share/halsohub")
        );
        let err = resolve_from(None, env(&[])).unwrap_err().to_string();
        assert!(err.contains("HALSOHUB_HOME"), "{err}");
        assert_eq!(default_key(Path::new("/h")), PathBuf::from("/h/hub.key"));
    }
}
