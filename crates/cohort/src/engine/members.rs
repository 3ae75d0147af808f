//! The members of a query's cohort, for exports and project views: the
//! same evaluation as a count, returning who instead of how many.

use halsohub_identity::Pseudonym;

use super::{Engine, Eval, Exclusion};
use crate::codeset::CodeLists;
use crate::query::{Query, Step};
use crate::result::EvalError;
use crate::validate::validate;

impl Engine {
    /// The patients meeting every criterion of `q` (its cohort; the output
    /// section is ignored), leaving out `exclude`: the canonical pseudonyms,
    /// sorted. A patient is in the cohort exactly when `evaluate` with a
    /// count output would count them.
    pub fn cohort(
        &self,
        q: &Query,
        lists: &CodeLists,
        exclude: &Exclusion,
    ) -> Result<Vec<Pseudonym>, EvalError> {
        validate(q, lists)?;
        let mut universe = roaring::RoaringBitmap::new();
        universe.insert_range(0..self.patients.len() as u32);
        universe -= &exclude.0;
        let mut ev = Eval {
            e: self,
            q,
            lists,
            universe,
            cands: None,
        };
        ev.cands = ev.candidates();
        let steps: Vec<&Step> = q.criteria.iter().collect();
        let (members, _) = ev.cohort(&steps, &mut Vec::new());
        Ok(members
            .iter()
            .filter_map(|i| self.patients.get(i as usize).copied())
            .collect())
    }
}
