//! What the engine holds codes of: the code systems a query on this
//! snapshot may name beyond the built-in ones.

use std::collections::BTreeSet;

use super::Engine;

impl Engine {
    /// The code systems of the snapshot's events (`icd10se`, `icd10cm`, a
    /// FHIR system URI, ...), each once, sorted. Events without a code
    /// (an encounter with no type) have no system and are left out.
    pub fn systems(&self) -> BTreeSet<&str> {
        self.codes
            .iter()
            .map(|c| c.system.as_str())
            .filter(|s| !s.is_empty())
            .collect()
    }
}
