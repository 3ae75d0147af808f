//! Code lists with titles: built-in lists and loaders for external files.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{CodeError, LoadError};
use crate::normalise::normalise;
use crate::system::System;

/// One code in a code list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    system: System,
    code: String,
    title: String,
    title_lower: String,
}

impl Entry {
    /// The system.
    pub fn system(&self) -> &System {
        &self.system
    }
    /// The normalised code.
    pub fn code(&self) -> &str {
        &self.code
    }
    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }
}

/// How a code compares with the loaded lists. Codes that are not found are
/// not errors: the caller keeps them and flags them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// In the list for its system.
    Known(&'a Entry),
    /// Valid, but not in the (loaded) list for its system; carries the
    /// normalised code.
    NotInList(String),
    /// Valid, and no list is loaded for the system; carries the normalised
    /// code.
    NoList(String),
}

impl Lookup<'_> {
    /// The normalised code.
    pub fn code(&self) -> &str {
        match self {
            Lookup::Known(e) => e.code(),
            Lookup::NotInList(c) | Lookup::NoList(c) => c,
        }
    }
}

/// Code lists per system, keyed by normalised code.
#[derive(Debug, Clone, Default)]
pub struct CodeRegistry {
    lists: HashMap<System, BTreeMap<String, Entry>>,
}

/// The built-in lists, `code<TAB>title` per line, with written codes.
const BUILTIN: &[(System, &str, &str)] = &[
    (
        System::Icd10Se,
        "data/icd10se.tsv",
        include_str!("../data/icd10se.tsv"),
    ),
    (System::Atc, "data/atc.tsv", include_str!("../data/atc.tsv")),
    (System::Kva, "data/kva.tsv", include_str!("../data/kva.tsv")),
    (System::Npu, "data/npu.tsv", include_str!("../data/npu.tsv")),
    (
        System::Loinc,
        "data/loinc.tsv",
        include_str!("../data/loinc.tsv"),
    ),
    (
        System::SnomedCt,
        "data/snomedct.tsv",
        include_str!("../data/snomedct.tsv"),
    ),
];

impl CodeRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in lists (`crates/codes/data/*.tsv`): the ICD-10-SE, ATC,
    /// KVÅ, NPU, LOINC and SNOMED CT codes the synthetic population uses,
    /// with (mostly Swedish) titles.
    pub fn builtin() -> Self {
        // The built-in files are checked by the tests; a bad line there is a
        // build defect, so it is skipped here rather than failing at runtime.
        let mut reg = CodeRegistry::new();
        let _ = reg.load_builtin();
        reg
    }

    /// Loads the built-in lists, failing on the first bad line.
    pub fn try_builtin() -> Result<Self, LoadError> {
        let mut reg = CodeRegistry::new();
        reg.load_builtin()?;
        Ok(reg)
    }

    fn load_builtin(&mut self) -> Result<(), LoadError> {
        let mut first_err = None;
        for (system, name, text) in BUILTIN {
            if let Err(e) = self.load_reader(system.clone(), Path::new(name), text.as_bytes()) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Loads a code list file into `system`'s list and returns how many
    /// codes it held. Formats, detected from the content:
    ///
    /// * gzip-compressed or plain;
    /// * `code<TAB>title` (TSV, no quoting) or `code,title` (CSV, quoted
    ///   fields), with or without a header line;
    /// * a CSV with a header naming `code` and `title` columns (other
    ///   columns ignored) — e.g. the ICD-10-CM file in `shared/data`, whose
    ///   `chapter` and `block` rows (by its `kind` column) are skipped since
    ///   they are hierarchy nodes, not codes.
    ///
    /// Every code is normalised for `system`; an invalid code fails the
    /// whole file with its line number and nothing is added. Codes already
    /// in the list get the new title.
    pub fn load_file(&mut self, system: System, path: &Path) -> Result<usize, LoadError> {
        let file = std::fs::File::open(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.load_reader(system, path, file)
    }

    /// Like [`load_file`](Self::load_file), from any reader; `path` names the
    /// source in errors.
    pub fn load_reader(
        &mut self,
        system: System,
        path: &Path,
        reader: impl Read,
    ) -> Result<usize, LoadError> {
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut buf = BufReader::new(reader);
        let is_gzip = buf.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
        let mut text = String::new();
        let read = if is_gzip {
            flate2::read::MultiGzDecoder::new(buf).read_to_string(&mut text)
        } else {
            buf.read_to_string(&mut text)
        };
        read.map_err(io)?;
        let entries = parse_list(&system, path, &text)?;
        let n = entries.len();
        let list = self.lists.entry(system).or_default();
        for e in entries {
            list.insert(e.code.clone(), e);
        }
        Ok(n)
    }

    /// Adds or replaces one entry (the code is normalised).
    pub fn insert(&mut self, system: System, code: &str, title: &str) -> Result<(), CodeError> {
        let code = normalise(&system, code)?;
        let entry = make_entry(&system, code.clone(), title);
        self.lists.entry(system).or_default().insert(code, entry);
        Ok(())
    }

    /// The entry for a code (written in any accepted variant).
    pub fn lookup(&self, system: &System, code: &str) -> Option<&Entry> {
        let list = self.lists.get(system)?;
        let code = normalise(system, code).ok()?;
        list.get(&code)
    }

    /// Whether the code is in the list for its system.
    pub fn is_known(&self, system: &System, code: &str) -> bool {
        self.lookup(system, code).is_some()
    }

    /// Normalises a code and reports whether the lists know it.
    pub fn resolve(&self, system: &System, raw: &str) -> Result<Lookup<'_>, CodeError> {
        let code = normalise(system, raw)?;
        Ok(match self.lists.get(system) {
            None => Lookup::NoList(code),
            Some(list) => match list.get(&code) {
                Some(e) => Lookup::Known(e),
                None => Lookup::NotInList(code),
            },
        })
    }

    /// The systems with a list loaded.
    pub fn systems(&self) -> Vec<&System> {
        let mut v: Vec<&System> = self.lists.keys().collect();
        v.sort();
        v
    }

    /// How many codes the list for `system` holds.
    pub fn len(&self, system: &System) -> usize {
        self.lists.get(system).map_or(0, BTreeMap::len)
    }

    /// Whether no list holds any code.
    pub fn is_empty(&self) -> bool {
        self.lists.values().all(BTreeMap::is_empty)
    }

    /// Every entry of a system, in code order.
    pub fn entries(&self, system: &System) -> impl Iterator<Item = &Entry> {
        self.lists.get(system).into_iter().flat_map(|l| l.values())
    }

    /// Finds up to `limit` entries whose code starts with `query` (written
    /// in any variant, case-insensitive) or whose title contains it
    /// (case-insensitive). Code matches come first, then title matches, each
    /// in code order.
    pub fn search(&self, system: &System, query: &str, limit: usize) -> Vec<&Entry> {
        let q = query.trim();
        let Some(list) = self.lists.get(system) else {
            return Vec::new();
        };
        if q.is_empty() || limit == 0 {
            return Vec::new();
        }
        let prefix = code_prefix(system, q);
        let mut out: Vec<&Entry> = Vec::new();
        if !prefix.is_empty() {
            out.extend(
                list.range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, e)| e)
                    .take(limit),
            );
        }
        if out.len() < limit {
            let needle = q.to_lowercase();
            let rest: Vec<&Entry> = list
                .values()
                .filter(|e| e.title_lower.contains(&needle))
                .filter(|e| prefix.is_empty() || !e.code.starts_with(&prefix))
                .take(limit - out.len())
                .collect();
            out.extend(rest);
        }
        out
    }
}

/// The query turned into a code prefix: the system's normalisation applied
/// loosely (upper case; ICD-10 dots and spaces removed).
fn code_prefix(system: &System, q: &str) -> String {
    match system {
        System::Other(_) => q.to_owned(),
        s if s.is_icd10() => q
            .chars()
            .filter(|c| !matches!(c, '.' | ' '))
            .flat_map(char::to_uppercase)
            .collect(),
        _ => q
            .chars()
            .filter(|c| *c != ' ')
            .flat_map(char::to_uppercase)
            .collect(),
    }
}

fn make_entry(system: &System, code: String, title: &str) -> Entry {
    let title = title.trim().to_owned();
    Entry {
        system: system.clone(),
        title_lower: title.to_lowercase(),
        code,
        title,
    }
}

/// The column positions of a list with a header.
struct Columns {
    code: usize,
    title: usize,
    kind: Option<usize>,
}

fn parse_list(system: &System, path: &Path, text: &str) -> Result<Vec<Entry>, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().next().unwrap_or("");
    let tab = first.contains('\t');
    let mut builder = csv::ReaderBuilder::new();
    builder
        .has_headers(false)
        .flexible(true)
        .delimiter(if tab { b'\t' } else { b',' })
        .quoting(!tab);
    let mut rdr = builder.from_reader(text.as_bytes());
    let mut out = Vec::new();
    let mut columns: Option<Columns> = None;
    let syntax = |line: u64, reason: String| LoadError::Syntax {
        path: path.to_path_buf(),
        line,
        reason,
    };
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(i as u64 + 1, csv::Position::line);
            syntax(line, e.to_string())
        })?;
        let line = rec.position().map_or(i as u64 + 1, csv::Position::line);
        if i == 0 {
            let names: Vec<String> = rec.iter().map(|f| f.trim().to_lowercase()).collect();
            let pos = |n: &str| names.iter().position(|x| x == n);
            if let Some(code) = pos("code") {
                let title = pos("title").ok_or_else(|| LoadError::MissingColumn {
                    path: path.to_path_buf(),
                    column: "title",
                })?;
                columns = Some(Columns {
                    code,
                    title,
                    kind: pos("kind"),
                });
                continue;
            }
        }
        let (ci, ti, ki) = match &columns {
            Some(c) => (c.code, c.title, c.kind),
            None => (0, 1, None),
        };
        if rec.iter().all(|f| f.trim().is_empty()) || rec.get(0).is_some_and(|f| f.starts_with('#'))
        {
            continue;
        }
        if let Some(kind) = ki.and_then(|k| rec.get(k))
            && matches!(kind.trim(), "chapter" | "block")
        {
            continue;
        }
        let raw = rec.get(ci).unwrap_or("");
        if raw.trim().is_empty() {
            return Err(LoadError::EmptyField {
                path: path.to_path_buf(),
                line,
                field: "code",
            });
        }
        let title = rec.get(ti).unwrap_or("");
        if title.trim().is_empty() {
            return Err(LoadError::EmptyField {
                path: path.to_path_buf(),
                line,
                field: "title",
            });
        }
        let code = normalise(system, raw).map_err(|source| LoadError::BadCode {
            path: PathBuf::from(path),
            line,
            source,
        })?;
        out.push(make_entry(system, code, title));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lists_are_valid() {
        let reg = CodeRegistry::try_builtin().unwrap();
        for s in [
            System::Icd10Se,
            System::Atc,
            System::Kva,
            System::Npu,
            System::Loinc,
            System::SnomedCt,
        ] {
            assert!(reg.len(&s) > 0, "{s}");
        }
        assert_eq!(
            reg.lookup(&System::Icd10Se, "e11.9").unwrap().code(),
            "E119"
        );
        assert!(reg.is_known(&System::Atc, "A10BA02"));
        assert!(reg.is_known(&System::Npu, "npu27300"));
        assert!(reg.is_known(&System::Loinc, "4548-4"));
    }

    #[test]
    fn csv_and_tsv_with_and_without_header() {
        let mut reg = CodeRegistry::new();
        let n = reg
            .load_reader(
                System::Icd10Se,
                Path::new("a.csv"),
                "code,title\nE11.9,\"Typ 2-diabetes, utan komplikationer\"\n\nI10,Hypertoni\n"
                    .as_bytes(),
            )
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            reg.lookup(&System::Icd10Se, "E119").unwrap().title(),
            "Typ 2-diabetes, utan komplikationer"
        );
        let n = reg
            .load_reader(
                System::Kva,
                Path::new("b.tsv"),
                "FNG05\tPCI \"med\" stent\n# comment\nDT016\tCytostatika\n".as_bytes(),
            )
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            reg.lookup(&System::Kva, "fng05").unwrap().title(),
            "PCI \"med\" stent"
        );
    }

    #[test]
    fn bad_line_fails_whole_file() {
        let mut reg = CodeRegistry::new();
        let e = reg
            .load_reader(
                System::Loinc,
                Path::new("labs.csv"),
                "4548-4,HbA1c\n4548-3,Bad\n".as_bytes(),
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "labs.csv:2: field \"code\": LOINC code \"4548-3\": wrong check digit"
        );
        assert_eq!(reg.len(&System::Loinc), 0);
        let e = reg
            .load_reader(System::Loinc, Path::new("x.csv"), "4548-4,\n".as_bytes())
            .unwrap_err();
        assert!(
            e.to_string().contains("x.csv:1: field \"title\" is empty"),
            "{e}"
        );
        let e = reg
            .load_reader(System::Loinc, Path::new("h.csv"), "code,name\n".as_bytes())
            .unwrap_err();
        assert!(matches!(
            e,
            LoadError::MissingColumn {
                column: "title",
                ..
            }
        ));
    }

    #[test]
    fn search_and_resolve() {
        let reg = CodeRegistry::builtin();
        let hits = reg.search(&System::Icd10Se, "e11.", 3);
        assert_eq!(hits.len(), 3);
        assert!(hits.iter().all(|e| e.code().starts_with("E11")));
        let hits = reg.search(&System::Icd10Se, "DIABETES", 100);
        assert!(hits.iter().any(|e| e.code() == "E119"));
        assert!(hits.iter().any(|e| e.code() == "E10"));
        assert!(reg.search(&System::Icd10Se, "", 10).is_empty());
        assert!(matches!(
            reg.resolve(&System::Icd10Se, "E11.9").unwrap(),
            Lookup::Known(_)
        ));
        assert_eq!(
            reg.resolve(&System::Icd10Se, "Q99.9").unwrap(),
            Lookup::NotInList("Q999".into())
        );
        assert_eq!(
            reg.resolve(&System::Icd10Cm, "Q99.9").unwrap(),
            Lookup::NoList("Q999".into())
        );
        assert!(reg.resolve(&System::Icd10Se, "Q9").is_err());
    }
}
