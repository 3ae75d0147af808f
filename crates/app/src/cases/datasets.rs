//! The datasets applications may name, from a file the operator keeps
//! (`halsohub serve --datasets-file FILE`) until the hub's catalogue
//! exists: the access configuration the case service decides under.
//!
//! The file is either one name per line (blank lines and lines starting
//! with `#` are skipped, spaces around a name are trimmed) or a JSON array
//! of strings (when its first non-blank character is `[`). Each name must
//! be a valid dataset name ([`AccessConfig::dataset_name_problem`]), no
//! name may be listed twice, and the file must name at least one. Every
//! error names the file and the line.

use std::path::{Path, PathBuf};

use halsohub_access::AccessConfig;

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
}

/// The access configuration `halsohub serve` runs the case service under:
/// the defaults, with the datasets of `datasets_file` when one is given.
pub fn access_config(datasets_file: Option<&Path>) -> Result<AccessConfig, DatasetsError> {
    let mut config = AccessConfig::default();
    if let Some(path) = datasets_file {
        config.datasets = read_datasets(path)?;
        tracing::info!(file = %path.display(), datasets = config.datasets.len(), "dataset list read");
    }
    Ok(config)
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
