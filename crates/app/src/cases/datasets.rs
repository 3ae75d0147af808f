//! The datasets applications may name, decided here for every edge that
//! builds the case service:
//!
//! 1. when the hub serves a catalogue (`halsohub serve --catalogue-dir`),
//!    the catalogue's published (approved) dataset ids;
//! 2. otherwise an operator-given list: `--datasets a,b,c` or
//!    `--datasets-file FILE` (not both, and neither beside a catalogue);
//! 3. otherwise [`halsohub_access::DEFAULT_DATASETS`].
//!
//! The file is either one name per line (blank lines and lines starting
//! with `#` are skipped, spaces around a name are trimmed) or a JSON array
//! of strings (when its first non-blank character is `[`). Each name must
//! be a valid dataset name ([`AccessConfig::dataset_name_problem`]), no
//! name may be listed twice, and the file must name at least one. Every
//! error names the file and the line (or the list's entry).

use std::path::{Path, PathBuf};

use halsohub_access::AccessConfig;
use halsohub_catalogue::Catalogue;

/// Why a datasets file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DatasetsError {
    /// The file cannot be read.
    #[error("cannot read the datasets file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line (or JSON entry) of the file is not a dataset name.
    #[error("datasets file {}, line {line}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// The file names no dataset.
    #[error(
        "datasets file {}: names no dataset; list one name per line (or a JSON array of names), or leave out --datasets-file for the default list",
        path.display()
    )]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// An entry of the comma-separated `--datasets` list is not a dataset
    /// name.
    #[error("--datasets, entry {entry} ({name:?}): {problem}")]
    InvalidListEntry {
        /// The entry, from 1.
        entry: usize,
        /// The entry as given (trimmed).
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// Both `--datasets` and `--datasets-file` were given.
    #[error("give the datasets either as --datasets or as --datasets-file, not both")]
    TwoLists,
    /// An operator list was given beside a catalogue, whose published
    /// datasets are the list.
    #[error(
        "the hub serves a catalogue, so applications may name its published datasets ({}); leave out --datasets/--datasets-file",
        ids.join(", ")
    )]
    ListBesideCatalogue {
        /// The catalogue's dataset ids.
        ids: Vec<String>,
    },
    /// The catalogue publishes no dataset, so no application could name one.
    #[error(
        "the catalogue publishes no dataset, so no application could name one; approve a description (halsohub catalogue approve) or serve without --catalogue-dir"
    )]
    EmptyCatalogue,
    /// A catalogue dataset id is not usable as a dataset name.
    #[error("the catalogue dataset {id:?} cannot be named by applications: {problem}")]
    CatalogueId {
        /// The id.
        id: String,
        /// What is wrong.
        problem: String,
    },
}

/// Where the datasets applications may name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetsSource {
    /// The catalogue's published datasets.
    Catalogue,
    /// The operator's `--datasets` or `--datasets-file`.
    Operator,
    /// The built-in list ([`halsohub_access::DEFAULT_DATASETS`]).
    Default,
}

/// The operator's dataset list: `list` (comma-separated, as given to
/// `--datasets`) or the file at `file` (`--datasets-file`); `None` when
/// neither is given. Both at once is an error.
pub fn operator_datasets(
    list: Option<&str>,
    file: Option<&Path>,
) -> Result<Option<Vec<String>>, DatasetsError> {
    match (list, file) {
        (Some(_), Some(_)) => Err(DatasetsError::TwoLists),
        (Some(list), None) => parse_list(list).map(Some),
        (None, Some(path)) => read_datasets(path).map(Some),
        (None, None) => Ok(None),
    }
}

/// The names in a comma-separated list (`a, b,c`): each trimmed, valid,
/// listed once; at least one.
pub fn parse_list(list: &str) -> Result<Vec<String>, DatasetsError> {
    let mut out: Vec<String> = Vec::new();
    for (i, raw) in list.split(',').enumerate() {
        let name = raw.trim();
        let invalid = |problem: String| DatasetsError::InvalidListEntry {
            entry: i + 1,
            name: name.to_string(),
            problem,
        };
        if let Some(problem) = AccessConfig::dataset_name_problem(name) {
            return Err(invalid(problem));
        }
        if let Some(first) = out.iter().position(|n| n == name) {
            return Err(invalid(format!(
                "the dataset {name} is listed twice (first as entry {})",
                first + 1
            )));
        }
        out.push(name.to_string());
    }
    Ok(out)
}

/// The ids of the datasets `catalogue` publishes, in its order.
pub fn catalogue_datasets(catalogue: &Catalogue) -> Vec<String> {
    catalogue
        .entries()
        .iter()
        .map(|e| e.id().to_string())
        .collect()
}

/// The access configuration the case service decides under: the defaults,
/// with the datasets applications may name taken from the hub's
/// `catalogue` when it has one, else from the `operator`'s list (see
/// [`operator_datasets`]), else the built-in list. A list beside a
/// catalogue, or a catalogue that publishes nothing, is an error (the
/// operator's intent is unclear; nothing would be accepted).
pub fn access_config_for(
    catalogue: Option<&Catalogue>,
    operator: Option<Vec<String>>,
) -> Result<(AccessConfig, DatasetsSource), DatasetsError> {
    let mut config = AccessConfig::default();
    let source = match (catalogue, operator) {
        (Some(c), Some(_)) => {
            return Err(DatasetsError::ListBesideCatalogue {
                ids: catalogue_datasets(c),
            });
        }
        (Some(c), None) => {
            let ids = catalogue_datasets(c);
            if ids.is_empty() {
                return Err(DatasetsError::EmptyCatalogue);
            }
            if let Some((id, problem)) = ids
                .iter()
                .find_map(|id| AccessConfig::dataset_name_problem(id).map(|p| (id.clone(), p)))
            {
                return Err(DatasetsError::CatalogueId { id, problem });
            }
            config.datasets = ids;
            DatasetsSource::Catalogue
        }
        (None, Some(list)) => {
            config.datasets = list;
            DatasetsSource::Operator
        }
        (None, None) => DatasetsSource::Default,
    };
    tracing::info!(
        ?source,
        datasets = config.datasets.len(),
        "datasets applications may name"
    );
    Ok((config, source))
}

/// The access configuration without a catalogue: the defaults, with the
/// datasets of `datasets_file` when one is given.
pub fn access_config(datasets_file: Option<&Path>) -> Result<AccessConfig, DatasetsError> {
    access_config_for(None, operator_datasets(None, datasets_file)?).map(|(c, _)| c)
}

/// The dataset names in the file at `path`, in its order.
pub fn read_datasets(path: &Path) -> Result<Vec<String>, DatasetsError> {
    let text = std::fs::read_to_string(path).map_err(|source| DatasetsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_datasets(path, &text)
}

/// The dataset names in `text`, the content of the file at `path` (named
/// in errors).
pub fn parse_datasets(path: &Path, text: &str) -> Result<Vec<String>, DatasetsError> {
    let invalid = |line: usize, problem: String| DatasetsError::Invalid {
        path: path.to_path_buf(),
        line,
        problem,
    };
    // (line, name), in the file's order.
    let entries: Vec<(usize, String)> = if text.trim_start().starts_with('[') {
        let names: Vec<String> = serde_json::from_str(text).map_err(|e| {
            invalid(
                e.line().max(1),
                format!("not a JSON array of dataset names: {e}"),
            )
        })?;
        json_lines(text, names)
    } else {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
            .map(|(n, l)| (n, l.to_string()))
            .collect()
    };
    let mut out: Vec<(usize, String)> = Vec::with_capacity(entries.len());
    for (line, name) in entries {
        if let Some(problem) = AccessConfig::dataset_name_problem(&name) {
            return Err(invalid(line, problem));
        }
        if let Some((first, _)) = out.iter().find(|(_, n)| *n == name) {
            return Err(invalid(
                line,
                format!("the dataset {name} is listed twice (first on line {first})"),
            ));
        }
        out.push((line, name));
    }
    if out.is_empty() {
        return Err(DatasetsError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(out.into_iter().map(|(_, n)| n).collect())
}

/// The line each name of a JSON array stands on: found by looking for the
/// name's JSON text after the previous one (the first line of the array
/// when written with other escapes).
fn json_lines(text: &str, names: Vec<String>) -> Vec<(usize, String)> {
    let start = text.find('[').unwrap_or(0);
    let line_at = |pos: usize| text[..pos].matches('\n').count() + 1;
    let mut cursor = start;
    names
        .into_iter()
        .map(|name| {
            let encoded = serde_json::to_string(&name).unwrap_or_default();
            match text.get(cursor..).and_then(|rest| rest.find(&encoded)) {
                Some(at) => {
                    let pos = cursor + at;
                    cursor = pos + encoded.len();
                    (line_at(pos), name)
                }
                None => (line_at(start), name),
            }
        })
        .collect()
}
