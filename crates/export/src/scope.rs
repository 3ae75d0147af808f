//! What leaves the hub: the patients, the period and the data categories
//! of an export, and who must be left out.
//!
//! A [`Scope`] is what a data permit states (cohort, period, data
//! categories) plus the opt-out set; the secure workspace builds one from a
//! permit, the data steward's CLI from its flags.

use std::collections::{BTreeSet, HashSet};

use chrono::NaiveDate;
use halsohub_cohort::{CodeLists, Engine, Query};
use halsohub_identity::Pseudonym;
use halsohub_store::Domain;

use crate::error::ExportError;

/// Which patients an export holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patients {
    /// Every person of the snapshot.
    All,
    /// These persons (hub pseudonyms, canonical or not: an alias counts as
    /// its person), e.g. a cohort's members ([`cohort_members`]).
    Only(BTreeSet<Pseudonym>),
}

/// An inclusive date range on events' start dates; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Period {
    /// Refuses a period that ends before it starts.
    pub fn new(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<Period, ExportError> {
        if let (Some(f), Some(t)) = (from, to)
            && t < f
        {
            return Err(ExportError::Invalid {
                what: "period",
                message: format!("ends ({t}) before it starts ({f})"),
            });
        }
        Ok(Period { from, to })
    }

    /// True when `d` lies in the period.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from.is_none_or(|f| d >= f) && self.to.is_none_or(|t| d <= t)
    }
}

/// The scope of one export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub patients: Patients,
    /// Only events starting in this period (and a death date in it).
    pub period: Period,
    /// Only these data categories; `None` for all. `Domain::Death`
    /// covers the date and causes of death.
    pub domains: Option<BTreeSet<Domain>>,
    /// Persons never exported, whatever else says (opt-outs), as hub
    /// pseudonyms (an alias counts as its person).
    pub exclude: HashSet<Pseudonym>,
    /// What the scope came from (a cohort query's hash, a permit id), for
    /// the export's manifest; free text, no personal data.
    pub basis: Option<String>,
}

impl Default for Scope {
    fn default() -> Self {
        Scope::all()
    }
}

impl Scope {
    /// Everything: all persons, all dates, all categories.
    pub fn all() -> Scope {
        Scope {
            patients: Patients::All,
            period: Period::default(),
            domains: None,
            exclude: HashSet::new(),
            basis: None,
        }
    }

    /// True when events of `domain` may be exported.
    pub fn has_domain(&self, d: Domain) -> bool {
        self.domains.as_ref().is_none_or(|s| s.contains(&d))
    }
}

/// The members of a cohort: the persons meeting every criterion of `query`
/// on the snapshot `engine` was built from (`Engine::from_snapshot`, as
/// `halsohub count` counts them), without the `exclude`d ones.
pub fn cohort_members(
    engine: &Engine,
    query: &Query,
    lists: &CodeLists,
    exclude: &HashSet<Pseudonym>,
) -> Result<BTreeSet<Pseudonym>, ExportError> {
    let exclusion = engine.exclusion(exclude.iter());
    let members = engine.cohort(query, lists, &exclusion)?;
    Ok(members.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn periods_are_inclusive_and_checked() {
        let p = Period::new(Some(d("2020-01-01")), Some(d("2020-12-31"))).unwrap_or_default();
        assert!(p.contains(d("2020-01-01")));
        assert!(p.contains(d("2020-12-31")));
        assert!(!p.contains(d("2021-01-01")));
        assert!(!p.contains(d("2019-12-31")));
        assert!(Period::default().contains(d("1900-01-01")));
        assert!(Period::new(Some(d("2021-01-01")), Some(d("2020-01-01"))).is_err());
    }

    #[test]
    fn domains_filter() {
        let mut s = Scope::all();
        assert!(s.has_domain(Domain::Death));
        s.domains = Some([Domain::Diagnosis].into_iter().collect());
        assert!(s.has_domain(Domain::Diagnosis));
        assert!(!s.has_domain(Domain::Death));
    }
}
