//! The export directory: refused when it is not empty or lies inside the
//! store; written as a hidden staging directory beside it and renamed into
//! place at the end, so a failed export leaves nothing half-written.

use std::fs::{self, File};
use std::path::{Component, Path, PathBuf};

use crate::error::{ExportError, io};

/// A staging directory that is removed unless [`Staging::commit`] renames
/// it into place.
pub(crate) struct Staging {
    tmp: PathBuf,
    target: PathBuf,
    given: PathBuf,
    done: bool,
}

fn target_err(path: &Path, message: &str) -> ExportError {
    ExportError::Target {
        path: path.to_path_buf(),
        message: message.to_owned(),
    }
}

/// `path` made absolute and free of `.`/`..`/symlinks as far as it exists.
fn resolve(path: &Path) -> Result<PathBuf, ExportError> {
    halsohub_store::resolve_path(path).map_err(io(path))
}

fn fsync_dir(dir: &Path) -> Result<(), ExportError> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir))
}

impl Staging {
    /// Checks `out` (must not exist or be empty; not inside `store_root`)
    /// and creates the staging directory beside it.
    pub fn new(out: &Path, store_root: &Path) -> Result<Staging, ExportError> {
        let target = resolve(out)?;
        if target
            .components()
            .any(|c| matches!(c, Component::ParentDir))
        {
            return Err(target_err(out, "cannot resolve the export directory"));
        }
        let store = resolve(store_root)?;
        if target.starts_with(&store) {
            return Err(target_err(
                out,
                "refusing to export into the store itself: exports leave the store",
            ));
        }
        if target.exists() {
            if !target.is_dir() {
                return Err(target_err(out, "exists and is not a directory"));
            }
            let mut entries = fs::read_dir(&target).map_err(io(out))?;
            if entries.next().is_some() {
                return Err(target_err(
                    out,
                    "export directory is not empty; refusing to mix an export with other files",
                ));
            }
        }
        let parent = target
            .parent()
            .ok_or_else(|| target_err(out, "export directory has no parent"))?;
        fs::create_dir_all(parent).map_err(io(parent))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent.join(format!(".{name}.tmp-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir(&tmp).map_err(io(&tmp))?;
        Ok(Staging {
            tmp,
            target,
            given: out.to_path_buf(),
            done: false,
        })
    }

    /// Where to write the files.
    pub fn dir(&self) -> &Path {
        &self.tmp
    }

    /// The final directory.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes the staging directory and renames it into place.
    pub fn commit(mut self) -> Result<PathBuf, ExportError> {
        fsync_dir(&self.tmp)?;
        if self.target.exists() {
            // Created empty by someone meanwhile, or given empty: replace it
            // only while it is still empty.
            fs::remove_dir(&self.target).map_err(|e| {
                if e.kind() == std::io::ErrorKind::DirectoryNotEmpty {
                    target_err(&self.given, "export directory was filled while exporting")
                } else {
                    io(&self.given)(e)
                }
            })?;
        }
        fs::rename(&self.tmp, &self.target).map_err(io(&self.given))?;
        if let Some(parent) = self.target.parent() {
            fsync_dir(parent)?;
        }
        self.done = true;
        Ok(self.target.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_empty_and_store_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = dir.path().join("store");
        fs::create_dir_all(&store).unwrap_or_default();
        let inside = Staging::new(&store.join("x"), &store);
        assert!(matches!(inside, Err(ExportError::Target { .. })));
        let full = dir.path().join("full");
        fs::create_dir_all(&full).unwrap_or_default();
        fs::write(full.join("a"), b"x").unwrap_or_default();
        assert!(matches!(
            Staging::new(&full, &store),
            Err(ExportError::Target { .. })
        ));

        // Dropped without commit: nothing left.
        let out = dir.path().join("out");
        let s = Staging::new(&out, &store).unwrap_or_else(|e| panic!("{e}"));
        fs::write(s.dir().join("f"), b"x").unwrap_or_default();
        drop(s);
        assert!(!out.exists());
        let left: Vec<_> = fs::read_dir(dir.path())
            .map(|r| r.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(left.len(), 2, "{left:?}");

        // Committed: in place; an empty existing directory is fine.
        fs::create_dir_all(&out).unwrap_or_default();
        let s = Staging::new(&out, &store).unwrap_or_else(|e| panic!("{e}"));
        fs::write(s.dir().join("f"), b"x").unwrap_or_default();
        let done = s.commit().unwrap_or_else(|e| panic!("{e}"));
        assert!(done.join("f").exists());
    }
}
