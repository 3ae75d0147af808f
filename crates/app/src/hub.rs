//! Opening a hub: the hub key (kept outside the store), the store, the
//! check that the two belong together, a snapshot, the cohort engine and
//! the named code lists. Every command that reads or writes a store
//! (`ingest`, `count`, `export`, `serve`) opens it here, so the rules are
//! kept in one place:
//!
//! * the key file is loaded with a message saying how to create one;
//! * the key must lie outside the store and be the store's key
//!   ([`Store::check_key`], the one definition of the rule, which
//!   `halsohub_ingest::ingest` calls again for every load);
//! * the engine is built from one snapshot and the code lists a query may
//!   name are the built-in ones, the snapshot's code systems and the
//!   operator's list files.

use std::path::{Path, PathBuf};

use halsohub_cohort::{CodeLists, Engine, EngineLoadError, ListError};
use halsohub_identity::{HubKey, KeyError, Pseudonymiser};
use halsohub_ingest::{IngestError, IngestOptions, LoadReport, Progress};
use halsohub_store::{Snapshot, SnapshotId, Store, StoreError};

/// Why a hub could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// There is no key file.
    #[error("no hub key at {}: create one with `halsohub keys init --key {}`", path.display(), path.display())]
    NoKey {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The key file exists but cannot be used.
    #[error("loading hub key {}: {error}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        error: KeyError,
    },
    /// The store cannot be opened, or the key is not its key or lies
    /// inside it.
    #[error("store {}: {error}", path.display())]
    Store {
        /// The store directory.
        path: PathBuf,
        /// Why.
        error: StoreError,
    },
    /// The cohort engine cannot be built from the snapshot.
    #[error("reading snapshot {snapshot}: {error}")]
    Engine {
        /// The snapshot.
        snapshot: String,
        /// Why.
        error: EngineLoadError,
    },
    /// A code list file cannot be read.
    #[error("reading code list file {}: {error}", path.display())]
    ListFile {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A code list file is not valid.
    #[error("code list file {}: {error}", path.display())]
    Lists {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: ListError,
    },
    /// A load failed (the store is unchanged).
    #[error("loading into store {}: {error}", path.display())]
    Ingest {
        /// The store directory.
        path: PathBuf,
        /// Why.
        error: IngestError,
    },
}

/// Loads the hub key at `path`, saying how to create one when it is
/// missing.
///
/// # Errors
/// [`HubError::NoKey`] or [`HubError::Key`].
pub fn load_key(path: &Path) -> Result<HubKey, HubError> {
    if !path.exists() {
        return Err(HubError::NoKey {
            path: path.to_path_buf(),
        });
    }
    HubKey::load(path).map_err(|error| HubError::Key {
        path: path.to_path_buf(),
        error,
    })
}

/// An opened hub: its key and its store, checked to belong together.
pub struct Hub {
    key: HubKey,
    store: Store,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("key", &self.key)
            .field("store", &self.store.root())
            .finish()
    }
}

impl Hub {
    /// Opens the existing store at `store_dir` with the key file
    /// `key_file`: the key is loaded first (a missing key fails before any
    /// work), then the store, then the key is checked against it.
    ///
    /// # Errors
    /// [`HubError`] naming the key file or store and why.
    pub fn open(store_dir: &Path, key_file: &Path) -> Result<Hub, HubError> {
        let key = load_key(key_file)?;
        let store = Store::open(store_dir).map_err(store_error(store_dir))?;
        store
            .check_key(&key.fingerprint(), key.file())
            .map_err(store_error(store_dir))?;
        Ok(Hub { key, store })
    }

    /// Opens the store at `store_dir` for a load, creating it (with the
    /// key's fingerprint) on the first one. The key file must lie outside
    /// it, which is checked before anything is created.
    ///
    /// # Errors
    /// [`HubError`] naming the key file or store and why.
    pub fn open_for_load(store_dir: &Path, key_file: &Path) -> Result<Hub, HubError> {
        halsohub_store::refuse_key_inside(store_dir, key_file).map_err(store_error(store_dir))?;
        let key = load_key(key_file)?;
        let store =
            Store::open_for_load(store_dir, &key.fingerprint()).map_err(store_error(store_dir))?;
        Ok(Hub { key, store })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The key's pseudonymiser (hub pseudonyms and project pseudonyms).
    pub fn pseudonymiser(&self) -> Pseudonymiser {
        Pseudonymiser::new(&self.key)
    }

    /// The key that keys deterministic noise
    /// ([`halsohub_feasibility::noise_secret`]).
    pub fn noise_secret(&self) -> Vec<u8> {
        halsohub_feasibility::noise_secret(&self.key)
    }

    /// The snapshot `id` (e.g. `s000002`), or the current one.
    ///
    /// # Errors
    /// [`HubError::Store`] when there is no such snapshot.
    pub fn snapshot(&self, id: Option<&str>) -> Result<Snapshot, HubError> {
        let id = id.map(|s| SnapshotId(s.to_string()));
        self.store
            .snapshot(id.as_ref())
            .map_err(store_error(self.store.root()))
    }

    /// Loads `paths` into the store as one new snapshot
    /// ([`halsohub_ingest::ingest`], which checks the key again).
    ///
    /// # Errors
    /// [`HubError::Ingest`]: the first file-level error; the store is
    /// unchanged.
    pub fn ingest(
        &self,
        paths: &[PathBuf],
        options: &IngestOptions,
        progress: &dyn Progress,
    ) -> Result<LoadReport, HubError> {
        halsohub_ingest::ingest(&self.store, &self.pseudonymiser(), paths, options, progress)
            .map_err(|error| HubError::Ingest {
                path: self.store.root().to_path_buf(),
                error,
            })
    }
}

fn store_error(dir: &Path) -> impl Fn(StoreError) -> HubError + '_ {
    move |error| HubError::Store {
        path: dir.to_path_buf(),
        error,
    }
}

/// The cohort engine over `snapshot`.
///
/// # Errors
/// [`HubError::Engine`] when the snapshot's files cannot be read.
pub fn engine(snapshot: &Snapshot) -> Result<Engine, HubError> {
    let started = std::time::Instant::now();
    let engine = Engine::from_snapshot(snapshot).map_err(|error| HubError::Engine {
        snapshot: snapshot.id().to_string(),
        error,
    })?;
    tracing::info!(
        snapshot = engine.snapshot(),
        patients = engine.patient_count(),
        events = engine.event_count(),
        seconds = started.elapsed().as_secs_f64(),
        "cohort engine built"
    );
    Ok(engine)
}

/// The named code lists a query may use over `engine`: the built-in lists
/// and code systems, the systems the snapshot holds codes of, then each
/// file's lists (JSON, or YAML by `.yaml`/`.yml`; a list of the same name
/// replaces an earlier one).
///
/// # Errors
/// [`HubError::ListFile`] or [`HubError::Lists`], naming the file.
pub fn code_lists(engine: &Engine, files: &[PathBuf]) -> Result<CodeLists, HubError> {
    let mut lists = CodeLists::builtin();
    lists.add_systems(engine.systems());
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|error| HubError::ListFile {
            path: file.clone(),
            error,
        })?;
        let yaml = file
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        let loaded = if yaml {
            lists.load_yaml(&text)
        } else {
            lists.load_json(&text)
        }
        .map_err(|error| HubError::Lists {
            path: file.clone(),
            error,
        })?;
        tracing::info!(
            file = %file.display(),
            lists = loaded.names.len(),
            replaced = ?loaded.replaced,
            "code lists loaded"
        );
    }
    Ok(lists)
}
