//! The hub's secret key: creation, loading, fingerprint.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rand::TryRng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::error::KeyError;

/// The first word of a key file; the line is `halsohub-key v1 <64 hex>`.
const MAGIC: &str = "halsohub-key";
const VERSION: &str = "v1";
const FINGERPRINT_DOMAIN: &[u8] = b"halsohub/key-fingerprint/v1\0";

/// The hub's 32-byte secret for pseudonyms.
///
/// Zeroized on drop; `Debug` shows only the fingerprint and there is no
/// `Display`. Keep the key file apart from any store.
pub struct HubKey {
    secret: Zeroizing<[u8; 32]>,
    /// The file it was loaded from or written to (none for generated keys).
    file: Option<PathBuf>,
}

impl std::fmt::Debug for HubKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubKey")
            .field("fingerprint", &self.fingerprint())
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl HubKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, KeyError> {
        let mut secret = Zeroizing::new([0u8; 32]);
        rand::rngs::SysRng
            .try_fill_bytes(secret.as_mut())
            .map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(HubKey { secret, file: None })
    }

    /// A key with the given bytes — for tests and reproducible benchmarks;
    /// real hubs use [`HubKey::init`] / [`HubKey::load`].
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let key = HubKey {
            secret: Zeroizing::new(bytes),
            file: None,
        };
        bytes.zeroize();
        key
    }

    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// The key file this key was loaded from ([`HubKey::load`]) or written
    /// to ([`HubKey::init`]); `None` for keys made in memory. Loads use it
    /// to refuse a key kept inside the store it protects.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// A short public identifier of the key: the first 16 hex digits of
    /// SHA-256 over a domain tag and the key. Safe to store (a store records
    /// the fingerprint of the key it was built with) and to print.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(FINGERPRINT_DOMAIN);
        h.update(self.secret.as_slice());
        let digest = h.finalize();
        hex::encode(digest.get(..8).unwrap_or_default())
    }

    /// Creates a new key and writes it to `path` with mode 0600, creating
    /// parent directories (mode 0700). Refuses to overwrite an existing file.
    pub fn init(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        if path.exists() {
            return Err(KeyError::AlreadyExists {
                path: path.to_path_buf(),
            });
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let mut b = fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(parent).map_err(|source| KeyError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let mut key = HubKey::generate()?;
        key.file = Some(path.to_path_buf());
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut file = opts.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::AlreadyExists {
                    path: path.to_path_buf(),
                }
            } else {
                io(e)
            }
        })?;
        let line = Zeroizing::new(format!(
            "{MAGIC} {VERSION} {}\n",
            hex::encode(key.secret.as_slice())
        ));
        let written = file
            .write_all(line.as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            drop(file);
            // Leave nothing half-written behind.
            let _ = fs::remove_file(path);
            return Err(io(e));
        }
        Ok(key)
    }

    /// Loads the key from `path`. On Unix, refuses a file that group or
    /// others can read or write.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let mut file = fs::File::open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                KeyError::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                KeyError::Io {
                    path: path.to_path_buf(),
                    source: e,
                }
            }
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = file.metadata().map_err(|source| KeyError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(KeyError::Permissions {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        let format = |reason| KeyError::Format {
            path: path.to_path_buf(),
            reason,
        };
        let mut text = Zeroizing::new(String::new());
        (&mut file)
            .take(4096)
            .read_to_string(&mut text)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    format("not UTF-8 text")
                } else {
                    KeyError::Io {
                        path: path.to_path_buf(),
                        source: e,
                    }
                }
            })?;
        let mut words = text.split_whitespace();
        if words.next() != Some(MAGIC) {
            return Err(format("missing the 'halsohub-key' header"));
        }
        if words.next() != Some(VERSION) {
            return Err(format("unsupported key file version (expected v1)"));
        }
        let hex_key = words
            .next()
            .ok_or_else(|| format("no key after the header"))?;
        if words.next().is_some() {
            return Err(format("unexpected text after the key"));
        }
        let mut secret = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(hex_key, secret.as_mut())
            .map_err(|_| format("the key is not 64 hexadecimal digits"))?;
        Ok(HubKey {
            secret,
            file: Some(path.to_path_buf()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_then_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a").join("b").join("hub.key");
        let k = HubKey::init(&path).unwrap();
        let l = HubKey::load(&path).unwrap();
        assert_eq!(k.secret(), l.secret());
        assert_eq!(k.fingerprint(), l.fingerprint());
        assert_eq!(k.file(), Some(path.as_path()));
        assert_eq!(l.file(), Some(path.as_path()));
        assert_eq!(HubKey::from_bytes([7; 32]).file(), None);
        assert_eq!(k.fingerprint().len(), 16);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(matches!(
            HubKey::init(&path),
            Err(KeyError::AlreadyExists { .. })
        ));
        // Still the same key after the refused init.
        assert_eq!(HubKey::load(&path).unwrap().fingerprint(), k.fingerprint());
    }

    #[test]
    fn keys_differ() {
        let a = HubKey::generate().unwrap();
        let b = HubKey::generate().unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[cfg(unix)]
    #[test]
    fn refuses_readable_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.key");
        HubKey::init(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = HubKey::load(&path).unwrap_err();
        assert!(matches!(e, KeyError::Permissions { mode: 0o644, .. }));
        assert!(e.to_string().contains("chmod 600"));
    }

    #[test]
    fn bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hub.key");
        assert!(matches!(
            HubKey::load(&path),
            Err(KeyError::NotFound { .. })
        ));
        for (content, needle) in [
            ("", "header"),
            ("halsohub-key v2 00", "version"),
            ("halsohub-key v1", "no key"),
            ("halsohub-key v1 abcd", "64 hexadecimal"),
        ] {
            let _ = fs::remove_file(&path);
            let mut o = fs::OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            o.open(&path)
                .unwrap()
                .write_all(content.as_bytes())
                .unwrap();
            let e = HubKey::load(&path).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn debug_shows_only_fingerprint() {
        let k = HubKey::from_bytes([7u8; 32]);
        let s = format!("{k:?}");
        assert!(s.contains(&k.fingerprint()));
        assert!(!s.contains("0707"));
    }
}
