//! A secure processing workspace: read-only SQL over a directory of Parquet
//! tables, on Apache DataFusion embedded (the only crate that depends on it).
//!
//! A workspace directory holds `tables/` (one Parquet file per table; the
//! file stem is the table's name) and `results/` (the named result tables a
//! member saved, and `results/manifest.json` listing each with its SQL,
//! author, time and row count). [`Workspace::open`] registers exactly those
//! tables in one catalog and schema: no other catalogs, no
//! `information_schema`, no table functions, no file or URL tables.
//!
//! Every statement goes through the same checks before it runs
//! ([`guard`]): one statement, SELECT / WITH / EXPLAIN only, reading only the
//! workspace's tables by their bare names — checked on the parsed statement
//! and again on DataFusion's logical plan. Each statement then runs in its own
//! DataFusion runtime with a memory pool of [`Limits::memory_bytes`] (no
//! spilling to disk: the data never leaves the workspace, even as temporary
//! files) and a deadline of [`Limits::time`]; a [`Cancel`] handle stops it
//! early. DataFusion's cooperative scheduling (the `EnsureCooperative`
//! optimizer rule and the tokio coop budget) makes CPU-bound operators yield,
//! so a deadline or a cancellation is observed mid-plan, not after it.
//!
//! No SQL text makes this crate panic: parser, planner and executor errors
//! come back as [`WorkspaceError`].

mod error;
mod guard;
mod names;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::{DateTime, Utc};
use datafusion::common::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::DFParserBuilder;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

pub use error::WorkspaceError;
pub use names::{MAX_NAME_LEN, check_name};

/// The catalog and schema the workspace's tables live in (DataFusion's
/// defaults; the only ones that exist).
const CATALOG: &str = "datafusion";
const SCHEMA: &str = "public";
/// Deepest nesting the SQL parser accepts before refusing a statement.
const PARSER_RECURSION_LIMIT: usize = 64;

/// Per-statement limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The statement's DataFusion memory pool, in bytes (default 2 GiB).
    pub memory_bytes: usize,
    /// Wall-clock time from parsing to the last row (default 60 s).
    pub time: Duration,
    /// Rows [`Workspace::query`] returns at most; the rest is counted as
    /// truncated (a saved result table keeps every row). Default 10 000.
    pub max_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 2 * 1024 * 1024 * 1024,
            time: Duration::from_secs(60),
            max_rows: 10_000,
        }
    }
}

/// Stops a running statement: [`Cancel::cancel`] from any task or thread;
/// the statement returns [`WorkspaceError::Cancelled`] and writes nothing.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<CancelInner>);

#[derive(Debug, Default)]
struct CancelInner {
    cancelled: AtomicBool,
    notify: Notify,
}

impl Cancel {
    pub fn new() -> Self {
        Cancel::default()
    }

    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    async fn cancelled(&self) {
        loop {
            // Created before the flag is read, so a cancel between the two
            // still wakes it.
            let notified = self.0.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// What a query returned.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    pub schema: SchemaRef,
    /// At most [`Limits::max_rows`] rows.
    pub batches: Vec<RecordBatch>,
    /// Rows in `batches`.
    pub rows: usize,
    /// True when the statement produced more than `max_rows` rows.
    pub truncated: bool,
}

impl QueryOutput {
    /// The rows as a text table.
    pub fn to_text(&self) -> Result<String, WorkspaceError> {
        arrow::util::pretty::pretty_format_batches(&self.batches)
            .map(|t| t.to_string())
            .map_err(|e| WorkspaceError::Execution {
                message: e.to_string(),
            })
    }
}

/// One saved result table, as listed in `results/manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultTable {
    pub name: String,
    pub sql: String,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub rows: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    results: Vec<ResultTable>,
}

/// A table a member can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    pub name: String,
    /// True for a saved result table, false for one of the extract's.
    pub is_result: bool,
    pub path: PathBuf,
}

/// An open workspace. Cheap to share (`&self` everywhere); statements may run
/// concurrently, each under its own limits; saving results is serialised.
pub struct Workspace {
    dir: PathBuf,
    limits: Limits,
    ctx: SessionContext,
    tables: BTreeMap<String, TableInfo>,
    /// The tables' names plus the results saved since opening.
    names: std::sync::RwLock<BTreeSet<String>>,
    save_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("dir", &self.dir)
            .field("limits", &self.limits)
            .field("tables", &self.tables.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Workspace {
    /// The tables folder inside a workspace directory.
    pub fn tables_dir(dir: &Path) -> PathBuf {
        dir.join("tables")
    }

    /// The results folder inside a workspace directory.
    pub fn results_dir(dir: &Path) -> PathBuf {
        dir.join("results")
    }

    /// Opens the workspace in `dir`: registers each `tables/NAME.parquet` as
    /// table `NAME` and each result in `results/manifest.json` under its
    /// name. A file in `tables/` that is not a valid `NAME.parquet` is an
    /// error naming it (nothing is silently skipped).
    pub async fn open(dir: &Path, limits: Limits) -> Result<Workspace, WorkspaceError> {
        let tables_dir = Self::tables_dir(dir);
        if !tables_dir.is_dir() {
            return Err(WorkspaceError::NotAWorkspace { path: dir.into() });
        }
        let dir = fs::canonicalize(dir).map_err(|e| WorkspaceError::io(dir, e))?;
        let tables_dir = Self::tables_dir(&dir);
        let mut tables = BTreeMap::new();
        let entries = fs::read_dir(&tables_dir).map_err(|e| WorkspaceError::io(&tables_dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| WorkspaceError::io(&tables_dir, e))?;
            let path = entry.path();
            let name = table_name_of(&path)?;
            tables.insert(
                name.clone(),
                TableInfo {
                    name,
                    is_result: false,
                    path,
                },
            );
        }
        let results_dir = Self::results_dir(&dir);
        for result in read_manifest(&results_dir)?.results {
            check_name(&result.name).map_err(|reason| WorkspaceError::Manifest {
                path: manifest_path(&results_dir),
                message: format!("result {:?}: {reason}", result.name),
            })?;
            if tables.contains_key(&result.name) {
                return Err(WorkspaceError::Manifest {
                    path: manifest_path(&results_dir),
                    message: format!("result {:?} has a table's name", result.name),
                });
            }
            let path = results_dir.join(format!("{}.parquet", result.name));
            tables.insert(
                result.name.clone(),
                TableInfo {
                    name: result.name,
                    is_result: true,
                    path,
                },
            );
        }

        let ctx = SessionContext::new_with_state(session_builder(&Limits::default())?.build());
        for table in tables.values() {
            register(&ctx, table).await?;
        }
        let names = tables.keys().cloned().collect();
        tracing::debug!(dir = %dir.display(), tables = tables.len(), "workspace opened");
        Ok(Workspace {
            dir,
            limits,
            ctx,
            tables,
            names: std::sync::RwLock::new(names),
            save_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The extract's tables and the saved results, by name.
    pub fn tables(&self) -> Result<Vec<TableInfo>, WorkspaceError> {
        let mut all: Vec<TableInfo> = self.tables.values().cloned().collect();
        let results_dir = Self::results_dir(&self.dir);
        for result in read_manifest(&results_dir)?.results {
            if !self.tables.contains_key(&result.name) {
                all.push(TableInfo {
                    path: results_dir.join(format!("{}.parquet", result.name)),
                    name: result.name,
                    is_result: true,
                });
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// The saved result tables, oldest first.
    pub fn results(&self) -> Result<Vec<ResultTable>, WorkspaceError> {
        Ok(read_manifest(&Self::results_dir(&self.dir))?.results)
    }

    /// Runs one read-only statement and returns its first
    /// [`Limits::max_rows`] rows.
    pub async fn query(&self, sql: &str, cancel: &Cancel) -> Result<QueryOutput, WorkspaceError> {
        let max_rows = self.limits.max_rows;
        self.limited(cancel, async {
            let mut stream = self.plan_and_execute(sql).await?;
            let schema = stream.schema();
            let mut batches = Vec::new();
            let mut rows = 0usize;
            let mut truncated = false;
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(|e| self.execution_error(e))?;
                let room = max_rows - rows;
                if batch.num_rows() > room {
                    truncated = true;
                    if room > 0 {
                        batches.push(batch.slice(0, room));
                        rows += room;
                    }
                    break;
                }
                rows += batch.num_rows();
                batches.push(batch);
            }
            Ok(QueryOutput {
                schema,
                batches,
                rows,
                truncated,
            })
        })
        .await
    }

    /// Runs one read-only statement and keeps all its rows as the result
    /// table `name` (`results/NAME.parquet`, listed in the manifest with the
    /// SQL, `author` and the time). The name must pass [`check_name`] and be
    /// free. The file appears only once complete; on any error nothing is
    /// left behind.
    pub async fn save(
        &self,
        name: &str,
        sql: &str,
        author: &str,
        cancel: &Cancel,
    ) -> Result<ResultTable, WorkspaceError> {
        check_name(name).map_err(|reason| WorkspaceError::InvalidResultName {
            name: name.into(),
            reason,
        })?;
        let _guard = self.save_lock.lock().await;
        if self.table_names().contains(name) {
            return Err(WorkspaceError::NameTaken { name: name.into() });
        }
        let results_dir = Self::results_dir(&self.dir);
        fs::create_dir_all(&results_dir).map_err(|e| WorkspaceError::io(&results_dir, e))?;
        let path = results_dir.join(format!("{name}.parquet"));
        let partial = results_dir.join(format!(".{name}.parquet.partial"));
        let written = self
            .limited(cancel, async {
                let mut stream = self.plan_and_execute(sql).await?;
                let file =
                    fs::File::create(&partial).map_err(|e| WorkspaceError::io(&partial, e))?;
                let mut writer = parquet::arrow::ArrowWriter::try_new(file, stream.schema(), None)
                    .map_err(|e| parquet_error(&partial, e))?;
                let mut rows = 0u64;
                while let Some(batch) = stream.next().await {
                    let batch = batch.map_err(|e| self.execution_error(e))?;
                    rows += batch.num_rows() as u64;
                    writer
                        .write(&batch)
                        .map_err(|e| parquet_error(&partial, e))?;
                }
                writer.close().map_err(|e| parquet_error(&partial, e))?;
                Ok(rows)
            })
            .await;
        let rows = match written {
            Ok(rows) => rows,
            Err(e) => {
                remove_if_present(&partial);
                return Err(e);
            }
        };
        let entry = ResultTable {
            name: name.into(),
            sql: sql.into(),
            author: author.into(),
            created_at: Utc::now(),
            rows,
        };
        let mut manifest = match read_manifest(&results_dir) {
            Ok(m) => m,
            Err(e) => {
                remove_if_present(&partial);
                return Err(e);
            }
        };
        manifest.results.push(entry.clone());
        if let Err(e) = fs::rename(&partial, &path) {
            remove_if_present(&partial);
            return Err(WorkspaceError::io(&path, e));
        }
        if let Err(e) = write_manifest(&results_dir, &manifest) {
            remove_if_present(&path);
            return Err(e);
        }
        let info = TableInfo {
            name: name.into(),
            is_result: true,
            path,
        };
        register(&self.ctx, &info).await?;
        if let Ok(mut names) = self.names.write() {
            names.insert(name.into());
        }
        tracing::info!(result = name, rows, "workspace result saved");
        Ok(entry)
    }

    fn table_names(&self) -> BTreeSet<String> {
        match self.names.read() {
            Ok(names) => names.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Runs `work` under the time limit and the cancel handle.
    async fn limited<T>(
        &self,
        cancel: &Cancel,
        work: impl Future<Output = Result<T, WorkspaceError>>,
    ) -> Result<T, WorkspaceError> {
        let limit = self.limits.time;
        tokio::select! {
            result = work => result,
            () = cancel.cancelled() => Err(WorkspaceError::Cancelled),
            () = tokio::time::sleep(limit) => Err(WorkspaceError::TimeLimit { limit }),
        }
    }

    /// Parses, checks, plans, checks the plan, and starts execution in a
    /// session with this statement's own memory pool.
    async fn plan_and_execute(
        &self,
        sql: &str,
    ) -> Result<datafusion::execution::SendableRecordBatchStream, WorkspaceError> {
        let names = self.table_names();
        let statement = parse_one(sql)?;
        guard::check_statement(&statement, &names)?;

        let state = SessionStateBuilder::new_from_existing(self.ctx.state())
            .with_runtime_env(runtime(&self.limits)?)
            .build();
        let plan = state
            .statement_to_plan(statement)
            .await
            .map_err(|e| self.plan_error(e, &names))?;
        guard::check_plan(&plan, &names, CATALOG, SCHEMA)?;
        let ctx = SessionContext::new_with_state(state);
        let frame = ctx
            .execute_logical_plan(plan)
            .await
            .map_err(|e| self.plan_error(e, &names))?;
        frame
            .execute_stream()
            .await
            .map_err(|e| self.execution_error(e))
    }

    fn plan_error(&self, e: DataFusionError, names: &BTreeSet<String>) -> WorkspaceError {
        match e.find_root() {
            DataFusionError::ResourcesExhausted(_) => self.execution_error(e),
            DataFusionError::SQL(..) => WorkspaceError::Syntax {
                message: e.to_string(),
            },
            _ => {
                let message = e.to_string();
                if message.contains("not found") && message.contains("table") {
                    tracing::debug!(%message, "planner did not find a table");
                    return WorkspaceError::Plan {
                        message: format!(
                            "{message} (this workspace has: {})",
                            names.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    };
                }
                WorkspaceError::Plan { message }
            }
        }
    }

    fn execution_error(&self, e: DataFusionError) -> WorkspaceError {
        let message = e.to_string();
        let exhausted = matches!(e.find_root(), DataFusionError::ResourcesExhausted(_))
            || message.contains("Resources exhausted");
        if exhausted {
            WorkspaceError::MemoryLimit {
                limit_bytes: self.limits.memory_bytes,
                message,
            }
        } else {
            WorkspaceError::Execution { message }
        }
    }
}

/// Parses `sql` into exactly one statement.
fn parse_one(sql: &str) -> Result<datafusion::sql::parser::Statement, WorkspaceError> {
    let dialect = GenericDialect {};
    let mut parser = DFParserBuilder::new(sql)
        .with_dialect(&dialect)
        .with_recursion_limit(PARSER_RECURSION_LIMIT)
        .build()
        .map_err(|e| WorkspaceError::Syntax {
            message: e.to_string(),
        })?;
    let mut statements = parser
        .parse_statements()
        .map_err(|e| WorkspaceError::Syntax {
            message: e.to_string(),
        })?;
    match statements.len() {
        0 => Err(WorkspaceError::Empty),
        1 => statements.pop_front().ok_or(WorkspaceError::Empty),
        count => Err(WorkspaceError::MultipleStatements { count }),
    }
}

/// The session every statement starts from: the default catalog and schema
/// only, no `information_schema`, the scalar, aggregate and window functions,
/// and no table functions or table factories (so no `CREATE EXTERNAL TABLE`
/// target and no `FROM read_parquet(...)`-style access to files).
fn session_builder(limits: &Limits) -> Result<SessionStateBuilder, WorkspaceError> {
    let config = SessionConfig::new()
        .with_information_schema(false)
        .with_create_default_catalog_and_schema(true)
        .with_default_catalog_and_schema(CATALOG, SCHEMA);
    Ok(SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime(limits)?)
        .with_default_features()
        .with_table_functions(HashMap::new())
        .with_table_factories(HashMap::new()))
}

/// A runtime with its own memory pool of `limits.memory_bytes` and no disk
/// manager (nothing spills to temporary files).
fn runtime(
    limits: &Limits,
) -> Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>, WorkspaceError> {
    RuntimeEnvBuilder::new()
        .with_memory_limit(limits.memory_bytes, 1.0)
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()
        .map_err(|e| WorkspaceError::Execution {
            message: format!("cannot set up the statement's runtime: {e}"),
        })
}

async fn register(ctx: &SessionContext, table: &TableInfo) -> Result<(), WorkspaceError> {
    let Some(path) = table.path.to_str() else {
        return Err(WorkspaceError::BadTableFile {
            path: table.path.clone(),
            reason: "the path is not valid UTF-8".into(),
        });
    };
    ctx.register_parquet(table.name.as_str(), path, ParquetReadOptions::default())
        .await
        .map_err(|e| WorkspaceError::BadTableFile {
            path: table.path.clone(),
            reason: e.to_string(),
        })
}

/// `tables/NAME.parquet` → `NAME`, or why not.
fn table_name_of(path: &Path) -> Result<String, WorkspaceError> {
    let bad = |reason: String| WorkspaceError::BadTableFile {
        path: path.into(),
        reason,
    };
    if !path.is_file() {
        return Err(bad("not a regular file".into()));
    }
    let file = path
        .file_name()
        .and_then(|f| f.to_str())
        .ok_or_else(|| bad("the file name is not valid UTF-8".into()))?;
    let stem = file
        .strip_suffix(".parquet")
        .ok_or_else(|| bad("a table file must be NAME.parquet".into()))?;
    check_name(stem).map_err(|reason| bad(format!("table name {stem:?}: {reason}")))?;
    Ok(stem.to_string())
}

fn manifest_path(results_dir: &Path) -> PathBuf {
    results_dir.join("manifest.json")
}

fn read_manifest(results_dir: &Path) -> Result<Manifest, WorkspaceError> {
    let path = manifest_path(results_dir);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| WorkspaceError::Manifest {
            path,
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(WorkspaceError::io(path, e)),
    }
}

/// Writes the manifest to a temporary file and renames it into place.
fn write_manifest(results_dir: &Path, manifest: &Manifest) -> Result<(), WorkspaceError> {
    let path = manifest_path(results_dir);
    let tmp = results_dir.join(".manifest.json.partial");
    let bytes = serde_json::to_vec_pretty(manifest).map_err(|e| WorkspaceError::Manifest {
        path: path.clone(),
        message: e.to_string(),
    })?;
    fs::write(&tmp, bytes).map_err(|e| WorkspaceError::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| {
        remove_if_present(&tmp);
        WorkspaceError::io(&path, e)
    })
}

fn remove_if_present(path: &Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "could not remove a partial file");
    }
}

fn parquet_error(path: &Path, e: parquet::errors::ParquetError) -> WorkspaceError {
    WorkspaceError::Execution {
        message: format!("writing {}: {e}", path.display()),
    }
}
