//! Named code list files: the hub's built-in lists and lists a data
//! steward loads (`halsohub count|serve --code-lists FILE`).
//!
//! A list file is JSON (or YAML of the same shape):
//!
//! ```json
//! {"version": 1,
//!  "lists": {
//!    "heart_failure": {
//!      "title": "Heart failure (ICD-10 I50)",
//!      "codes": [{"system": "icd10se", "codes": ["I50"], "descendants": true}]}}}
//! ```
//!
//! Each list's `codes` are code sets exactly as in a query, checked by the
//! same rules (known systems, valid codes, blocks only in ICD-10), except
//! that a list cannot name another list. Every error names the file's JSON
//! path (`$.lists.heart_failure.codes[0].codes[1]`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::codeset::CodeLists;
use crate::query::CodeSet;
use crate::validate::{QueryError, QueryErrorKind, code_sets};

/// The version of the list file format this build reads.
pub const LIST_FILE_VERSION: u32 = 1;

/// Longest list name.
pub const MAX_LIST_NAME: usize = 64;

const BUILTIN: &str = include_str!("../data/code_lists.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFile {
    version: u32,
    lists: BTreeMap<String, ListDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListDef {
    #[serde(default)]
    title: String,
    codes: Vec<CodeSet>,
}

/// A problem with a list file, at a JSON path (the same shape as a query
/// error).
pub type ListError = QueryError;

fn error(kind: QueryErrorKind, path: String, message: impl Into<String>) -> ListError {
    QueryError {
        kind,
        path,
        message: message.into(),
    }
}

impl CodeLists {
    /// The hub's built-in lists (`crates/cohort/data/code_lists.json`):
    /// common chronic diseases in every ICD-10 edition and SNOMED CT, drug
    /// classes in ATC, and lab analytes in NPU and LOINC.
    pub fn builtin() -> CodeLists {
        let mut lists = CodeLists::new();
        // The built-in file is tested (`builtin_lists_load`); should it ever
        // fail, the hub runs with no built-in lists rather than not at all.
        if let Err(e) = lists.load_json(BUILTIN) {
            tracing::error!(error = %e, "built-in code lists do not load");
        }
        // One list per lab analyte, from halsohub-codes' crosswalk, where
        // the file has none.
        lists.add_analyte_lists();
        lists
    }

    /// Add the lists of a JSON list file; returns the names added, and
    /// which of them replaced a list of the same name. Nothing is added
    /// when any list is invalid.
    pub fn load_json(&mut self, text: &str) -> Result<Loaded, ListError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let file: ListFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            error(
                QueryErrorKind::Syntax,
                path_of(e.path()),
                e.inner().to_string(),
            )
        })?;
        de.end()
            .map_err(|e| error(QueryErrorKind::Syntax, "$".into(), e.to_string()))?;
        self.add_file(file)
    }

    /// Add the lists of a YAML list file (same shape as JSON).
    pub fn load_yaml(&mut self, text: &str) -> Result<Loaded, ListError> {
        let value: serde_json::Value = serde_yaml_ng::from_str(text)
            .map_err(|e| error(QueryErrorKind::Syntax, "$".into(), e.to_string()))?;
        let file: ListFile = serde_path_to_error::deserialize(&value).map_err(|e| {
            error(
                QueryErrorKind::Syntax,
                path_of(e.path()),
                e.inner().to_string(),
            )
        })?;
        self.add_file(file)
    }

    fn add_file(&mut self, file: ListFile) -> Result<Loaded, ListError> {
        if file.version != LIST_FILE_VERSION {
            return Err(error(
                QueryErrorKind::Invalid,
                "$.version".into(),
                format!(
                    "unsupported list file version {}; this hub reads version {LIST_FILE_VERSION}",
                    file.version
                ),
            ));
        }
        // Lists may not refer to lists: check against a vocabulary with the
        // same systems and no lists.
        let mut no_lists = CodeLists::new();
        no_lists.add_systems(self.systems());
        for (name, def) in &file.lists {
            let p = format!("$.lists.{name}");
            check_name(name).map_err(|m| error(QueryErrorKind::Invalid, p.clone(), m))?;
            if def.codes.is_empty() {
                return Err(error(
                    QueryErrorKind::Invalid,
                    format!("{p}.codes"),
                    "a list needs at least one code set",
                ));
            }
            if let Some(i) = def.codes.iter().position(|s| s.list.is_some()) {
                return Err(error(
                    QueryErrorKind::Invalid,
                    format!("{p}.codes[{i}].list"),
                    "a list cannot name another list; write its codes out",
                ));
            }
            code_sets(&def.codes, &format!("{p}.codes"), &no_lists)?;
        }
        let mut loaded = Loaded::default();
        for (name, def) in file.lists {
            if self.insert_titled(&name, &def.title, def.codes) {
                loaded.replaced.push(name.clone());
            }
            loaded.names.push(name);
        }
        Ok(loaded)
    }
}

/// What a list file added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Every list of the file, by name.
    pub names: Vec<String>,
    /// Those that replaced a list already loaded (a built-in one, say).
    pub replaced: Vec<String>,
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_LIST_NAME {
        return Err(format!("a list name has 1 to {MAX_LIST_NAME} characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!(
            "list name {:?} may hold only a-z, 0-9 and _",
            name.chars().take(MAX_LIST_NAME).collect::<String>()
        ));
    }
    Ok(())
}

fn path_of(p: &serde_path_to_error::Path) -> String {
    let s = p.to_string();
    if s == "." || s.is_empty() {
        "$".into()
    } else {
        format!("$.{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lists_load() {
        let mut lists = CodeLists::new();
        let loaded = lists.load_json(BUILTIN).unwrap();
        assert!(loaded.names.len() >= 15, "{loaded:?}");
        assert!(loaded.replaced.is_empty());
        let b = CodeLists::builtin();
        for name in ["type2_diabetes", "heart_failure", "statins", "hba1c"] {
            assert!(b.get(name).is_some_and(|s| !s.is_empty()), "{name}");
        }
        assert!(b.iter().all(|(_, l)| !l.title.is_empty()));
    }

    /// Every row of the ICD-10 crosswalk is covered by the built-in list
    /// its `concept` names: the ICD-10-SE code and its counterpart, each
    /// with its descendants.
    #[test]
    fn builtin_lists_cover_the_icd10_crosswalk() {
        use halsohub_codes::System;
        use halsohub_codes::crosswalk::icd10::icd10_crosswalk;
        let b = CodeLists::builtin();
        for r in icd10_crosswalk() {
            let mut codes = vec![(System::Icd10Se, r.se.clone())];
            if let Some(t) = &r.target {
                codes.push((r.system.clone(), t.clone()));
            }
            assert_eq!(
                b.covering_codes(&codes, &[r.concept]).as_deref(),
                Some(r.concept),
                "{r:?}"
            );
        }
        // ICD-10-CM's own categories of the concepts are in the lists too.
        for (list, code) in [
            ("diabetes", "E08"),
            ("diabetes", "E09"),
            ("hypertension", "I16"),
            ("hypertension", "I1A"),
        ] {
            assert_eq!(
                b.covering_codes(&[(System::Icd10Cm, code.into())], &[list])
                    .as_deref(),
                Some(list)
            );
        }
    }

    #[test]
    fn a_list_file_adds_and_replaces() {
        let mut lists = CodeLists::builtin();
        let loaded = lists
            .load_yaml(
                "version: 1\nlists:\n  heart_failure:\n    title: HF, main codes\n    codes:\n      - {system: icd10se, codes: [I50.0, I501]}\n  my_list:\n    codes: [{system: kva, codes: [FNG05]}]\n",
            )
            .unwrap();
        assert_eq!(loaded.names, vec!["heart_failure", "my_list"]);
        assert_eq!(loaded.replaced, vec!["heart_failure"]);
        assert_eq!(lists.get("heart_failure").map(<[_]>::len), Some(1));
    }

    #[test]
    fn bad_list_files_name_the_path() {
        let cases = [
            ("{", "$"),
            (r#"{"version": 2, "lists": {}}"#, "$.version"),
            (
                r#"{"version": 1, "lists": {"a": {"codes": []}}}"#,
                "$.lists.a.codes",
            ),
            (
                r#"{"version": 1, "lists": {"A b": {"codes": [{"system": "atc", "codes": ["A10"]}]}}}"#,
                "$.lists.A b",
            ),
            (
                r#"{"version": 1, "lists": {"a": {"codes": [{"list": "b"}]}}}"#,
                "$.lists.a.codes[0].list",
            ),
            (
                r#"{"version": 1, "lists": {"a": {"codes": [{"system": "icd10es", "codes": ["E11"]}]}}}"#,
                "$.lists.a.codes[0].system",
            ),
            (
                r#"{"version": 1, "lists": {"a": {"codes": [{"system": "atc", "codes": ["A10", "11"]}]}}}"#,
                "$.lists.a.codes[0].codes[1]",
            ),
            (
                r#"{"version": 1, "lists": {"a": {"codes": [{"system": "atc", "codes": ["A10"]}], "colour": 1}}}"#,
                "$.lists.a",
            ),
        ];
        for (text, path) in cases {
            let mut lists = CodeLists::new();
            let e = lists.load_json(text).unwrap_err();
            assert!(e.path.starts_with(path), "{text}: {e}");
            assert!(lists.iter().next().is_none(), "{text}: nothing is added");
        }
    }
}
