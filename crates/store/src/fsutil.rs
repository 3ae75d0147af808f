//! Small file-system helpers: errors that name the path, fsync of files and
//! directories, and atomic replacement of small files.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::StoreError;

/// Maps an I/O error to [`StoreError::Io`] naming `path`.
pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Flushes a directory's entries (new names, renames) to disk.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    let f = File::open(dir).map_err(io(dir))?;
    f.sync_all().map_err(io(dir))
}

/// Writes a new file (refusing to overwrite) and flushes it to disk.
pub(crate) fn write_new_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Replaces `path` atomically: write `path.tmp`, fsync, rename, fsync the
/// directory. A crash leaves either the old or the new content.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    {
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    crate::failpoint("after_current_tmp");
    fs::rename(&tmp, path).map_err(io(path))?;
    fsync_dir(dir)
}

/// Reads a whole small file.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, StoreError> {
    fs::read(path).map_err(io(path))
}

/// Removes a file or directory tree if it exists.
pub(crate) fn remove_all(path: &Path) -> Result<(), StoreError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(io(path)),
        Ok(_) => fs::remove_file(path).map_err(io(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}
