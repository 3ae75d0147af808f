//! The hub key for `halsohub keys` and `halsohub demo`: create one, or
//! read one's fingerprint. Loading it for a store is [`crate::hub`]'s job.

use std::path::Path;

use halsohub_identity::HubKey;

use crate::hub::{HubError, load_key};

/// A key file and its fingerprint (safe to show; the key never is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's fingerprint.
    pub fingerprint: String,
    /// True when this call created the file.
    pub created: bool,
}

/// Creates a new hub key file at `path` (mode 0600); refuses to overwrite
/// one.
///
/// # Errors
/// [`HubError::Key`] naming the file.
pub fn create(path: &Path) -> Result<KeyInfo, HubError> {
    let key = HubKey::init(path).map_err(|error| HubError::Key {
        path: path.to_path_buf(),
        error,
    })?;
    Ok(KeyInfo {
        fingerprint: key.fingerprint(),
        created: true,
    })
}

/// The key at `path`, created when there is none (the demo).
///
/// # Errors
/// [`HubError::Key`] naming the file.
pub fn ensure(path: &Path) -> Result<KeyInfo, HubError> {
    if path.exists() {
        fingerprint(path).map(|fingerprint| KeyInfo {
            fingerprint,
            created: false,
        })
    } else {
        create(path)
    }
}

/// The fingerprint of the key at `path`.
///
/// # Errors
/// [`HubError::NoKey`] (saying how to create one) or [`HubError::Key`].
pub fn fingerprint(path: &Path) -> Result<String, HubError> {
    Ok(load_key(path)?.fingerprint())
}

/// Writes `bytes` to a new file at `path` readable by its owner only
/// (mode 0600), durably; never overwrites, and leaves nothing behind on
/// failure. For every secret key file of the hub.
///
/// # Errors
/// Why, naming the file.
pub fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!(
                "{} exists already; a key is never overwritten",
                path.display()
            )
        } else {
            format!("creating {}: {e}", path.display())
        }
    })?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(format!("writing {}: {e}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_and_its_fingerprint_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.key");
        let made = ensure(&path).unwrap();
        assert!(made.created);
        let again = ensure(&path).unwrap();
        assert!(!again.created);
        assert_eq!(made.fingerprint, again.fingerprint);
        assert_eq!(fingerprint(&path).unwrap(), made.fingerprint);
        assert!(matches!(create(&path), Err(HubError::Key { .. })));
        let missing = fingerprint(&dir.path().join("none.key")).unwrap_err();
        assert!(missing.to_string().contains("keys init"), "{missing}");
    }
}
