//! Matching a table file's header against a CDM table definition.
//!
//! Column names are compared case-insensitively (Eunomia and many database
//! exports write them UPPER-CASE) with surrounding whitespace and quotes
//! ignored, in any order. The version is the one whose columns the header
//! matches best (5.4 on a tie).

use crate::cdm::{CdmVersion, Table};

/// How a header lines up with a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMatch {
    /// The table.
    pub table: Table,
    /// The CDM version whose columns the header matches best, `None` when
    /// this crate does not define the table's columns.
    pub version: Option<CdmVersion>,
    /// `(official column name, position in the header)` for every column
    /// of the table (in any version) that the header holds.
    found: Vec<(&'static str, usize)>,
    /// Header names that are not columns of the table in any version, as
    /// written (trimmed).
    pub extra: Vec<String>,
    /// Columns that `version` requires and the header lacks.
    pub missing_required: Vec<&'static str>,
    /// Header names that appear more than once (lower-cased).
    pub duplicates: Vec<String>,
    /// Number of names in the header.
    pub width: usize,
}

/// A header name as compared: trimmed, unquoted, lower-case.
pub fn normalise_name(raw: &str) -> String {
    let t = raw.trim().trim_start_matches('\u{feff}');
    let t = t
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(t);
    t.trim().to_ascii_lowercase()
}

impl HeaderMatch {
    /// Matches `names` (the header's fields, as written) against `table`.
    pub fn new<S: AsRef<str>>(table: Table, names: &[S]) -> HeaderMatch {
        let lower: Vec<String> = names.iter().map(|n| normalise_name(n.as_ref())).collect();
        let mut duplicates: Vec<String> = Vec::new();
        for (i, n) in lower.iter().enumerate() {
            if lower.get(..i).is_some_and(|before| before.contains(n)) && !duplicates.contains(n) {
                duplicates.push(n.clone());
            }
        }
        let position = |col: &str| lower.iter().position(|n| n == col);

        // Best version: most columns present, then fewest of its columns
        // absent; 5.4 wins a tie.
        let mut version = None;
        let mut best = (0usize, usize::MAX);
        for v in CdmVersion::ALL {
            if let Some(cols) = table.columns(v) {
                let hits = cols.iter().filter(|c| position(c.name).is_some()).count();
                let absent = cols.len() - hits;
                let better = hits > best.0 || (hits == best.0 && absent <= best.1);
                if version.is_none() || better {
                    version = Some(v);
                    best = (hits, absent);
                }
            }
        }

        let mut found: Vec<(&'static str, usize)> = Vec::new();
        for v in CdmVersion::ALL {
            for c in table.columns(v).unwrap_or_default() {
                if found.iter().any(|(n, _)| *n == c.name) {
                    continue;
                }
                if let Some(i) = position(c.name) {
                    found.push((c.name, i));
                }
            }
        }
        let extra = if version.is_some() {
            names
                .iter()
                .zip(&lower)
                .filter(|(_, l)| !found.iter().any(|(n, _)| n == l))
                .map(|(raw, _)| raw.as_ref().trim().to_owned())
                .collect()
        } else {
            Vec::new()
        };
        let missing_required = version
            .and_then(|v| table.columns(v))
            .unwrap_or_default()
            .iter()
            .filter(|c| c.required && position(c.name).is_none())
            .map(|c| c.name)
            .collect();
        HeaderMatch {
            table,
            version,
            found,
            extra,
            missing_required,
            duplicates,
            width: names.len(),
        }
    }

    /// The header position of `column` (official name, case-insensitive).
    pub fn position(&self, column: &str) -> Option<usize> {
        let c = column.trim();
        self.found
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(c))
            .map(|&(_, i)| i)
    }

    /// Number of the table's columns the header holds.
    pub fn matched(&self) -> usize {
        self.found.len()
    }

    /// Whether the header plausibly belongs to the table: at least two of
    /// its columns (or its only column), and more known names than
    /// unknown ones. Always false for a table without column definitions.
    pub fn confirms(&self) -> bool {
        let Some(v) = self.version else {
            return false;
        };
        let total = self.table.columns(v).map_or(0, <[_]>::len);
        let needed = total.min(2);
        self.found.len() >= needed && self.found.len() > self.extra.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EUNOMIA_PROCEDURE: &str = "PROCEDURE_OCCURRENCE_ID,PERSON_ID,PROCEDURE_CONCEPT_ID,PROCEDURE_DATE,PROCEDURE_DATETIME,PROCEDURE_TYPE_CONCEPT_ID,MODIFIER_CONCEPT_ID,QUANTITY,PROVIDER_ID,VISIT_OCCURRENCE_ID,VISIT_DETAIL_ID,PROCEDURE_SOURCE_VALUE,PROCEDURE_SOURCE_CONCEPT_ID,MODIFIER_SOURCE_VALUE";

    #[test]
    fn upper_case_5_3_header() {
        let names: Vec<&str> = EUNOMIA_PROCEDURE.split(',').collect();
        let m = HeaderMatch::new(Table::ProcedureOccurrence, &names);
        assert_eq!(m.version, Some(CdmVersion::V5_3));
        assert!(m.extra.is_empty() && m.missing_required.is_empty());
        assert_eq!(m.position("procedure_date"), Some(3));
        assert_eq!(m.position("procedure_end_date"), None);
        assert!(m.confirms());
    }

    #[test]
    fn missing_extra_and_duplicate_columns() {
        let m = HeaderMatch::new(
            Table::Person,
            &[
                "person_id",
                "YEAR_OF_BIRTH",
                "favourite_colour",
                "person_id",
            ],
        );
        assert_eq!(m.extra, vec!["favourite_colour".to_owned()]);
        assert_eq!(m.duplicates, vec!["person_id".to_owned()]);
        assert!(m.missing_required.contains(&"gender_concept_id"));
        assert_eq!(m.position("person_id"), Some(0));
        assert!(m.confirms());
        assert!(!HeaderMatch::new(Table::Person, &["a", "b", "person_id"]).confirms());
        assert!(!HeaderMatch::new(Table::Cost, &["cost_id"]).confirms());
    }

    #[test]
    fn version_follows_the_columns() {
        let cols = Table::VisitOccurrence
            .columns(CdmVersion::V5_4)
            .unwrap_or_default();
        let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
        let m = HeaderMatch::new(Table::VisitOccurrence, &names);
        assert_eq!(m.version, Some(CdmVersion::V5_4));
        assert!(m.extra.is_empty());
        assert_eq!(normalise_name(" \"Person_ID\" "), "person_id");
    }

    proptest! {
        /// Any permutation and any casing of a version's columns finds
        /// every column where a plain linear search finds it.
        #[test]
        fn positions_agree_with_a_linear_search(
            seed in proptest::collection::vec(any::<u32>(), 30),
            upper in proptest::collection::vec(any::<bool>(), 30),
            table_ix in 0usize..Table::ALL.len(),
        ) {
            let table = Table::ALL[table_ix];
            let Some(cols) = table.columns(CdmVersion::V5_4) else { return Ok(()) };
            let mut names: Vec<String> = cols.iter().enumerate().map(|(i, c)| {
                if upper.get(i).copied().unwrap_or(false) { c.name.to_uppercase() } else { c.name.to_owned() }
            }).collect();
            let mut keyed: Vec<(u32, String)> = names.drain(..).enumerate()
                .map(|(i, n)| (seed.get(i).copied().unwrap_or(0), n)).collect();
            keyed.sort();
            let names: Vec<String> = keyed.into_iter().map(|(_, n)| n).collect();
            let m = HeaderMatch::new(table, &names);
            prop_assert!(m.missing_required.is_empty());
            prop_assert!(m.extra.is_empty());
            for c in cols {
                let reference = names.iter().position(|n| n.to_lowercase() == c.name);
                prop_assert_eq!(m.position(c.name), reference);
                prop_assert_eq!(m.position(&c.name.to_uppercase()), reference);
            }
        }
    }
}
