//! Query files, as `halsohub count` and `halsohub export --cohort` read
//! them: JSON (by the extension `.json`, or content starting with `{`) or
//! YAML (`.yaml`, `.yml`, anything else). Only the syntax is read here;
//! the meaning (code systems the snapshot holds, named lists) is checked by
//! `halsohub_cohort::parse_value` once the engine is built.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Why a query file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum QueryFileError {
    /// The file cannot be read.
    #[error("reading query file {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not valid JSON or YAML.
    #[error("query file {}: not valid {format}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// `JSON` or `YAML`.
        format: &'static str,
        /// The parser's message (line and column).
        message: String,
    },
}

/// Reads the query file at `path` as a JSON value.
///
/// # Errors
/// [`QueryFileError`] naming the file.
pub fn read_query_file(path: &Path) -> Result<Value, QueryFileError> {
    let text = std::fs::read_to_string(path).map_err(|error| QueryFileError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse_query_text(path, &text)
}

/// Parses `text`, the content of the query file `path`.
///
/// # Errors
/// [`QueryFileError::Syntax`].
pub fn parse_query_text(path: &Path, text: &str) -> Result<Value, QueryFileError> {
    let syntax = |format, message: String| QueryFileError::Syntax {
        path: path.to_path_buf(),
        format,
        message,
    };
    if is_json(path, text) {
        serde_json::from_str(text).map_err(|e| syntax("JSON", e.to_string()))
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| syntax("YAML", e.to_string()))
    }
}

fn is_json(path: &Path, text: &str) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("json") => true,
        Some("yaml" | "yml") => false,
        _ => text.trim_start().starts_with('{'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_query(path: &str, text: &str) -> Result<halsohub_cohort::Query, String> {
        let lists = halsohub_cohort::CodeLists::new();
        let v = parse_query_text(Path::new(path), text).map_err(|e| e.to_string())?;
        halsohub_cohort::parse_value(&v, &lists).map_err(|e| e.to_string())
    }

    #[test]
    fn yaml_and_json_by_extension_and_content() {
        let json = r#"{"version": 1, "output": {"type": "count"}}"#;
        let yaml = "version: 1\noutput:\n  type: count\n";
        let a = parse_query("q.json", json).unwrap();
        let b = parse_query("q.yaml", yaml).unwrap();
        let c = parse_query("q.txt", json).unwrap();
        let d = parse_query("q", yaml).unwrap();
        assert_eq!(a, b);
        assert_eq!(c, d);
        let err =
            parse_query("q.json", r#"{"version": 1, "output": {"type": "cnt"}}"#).unwrap_err();
        assert!(err.contains("$.output"), "{err}");
        let err = parse_query("q.json", "{ nope").unwrap_err();
        assert!(
            err.contains("q.json") && err.contains("not valid JSON"),
            "{err}"
        );
        let err = read_query_file(Path::new("/no/such/q.json")).unwrap_err();
        assert!(err.to_string().contains("/no/such/q.json"), "{err}");
    }
}
