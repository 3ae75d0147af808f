//! Pseudonymisation at the edge: identity numbers are parsed, turned into
//! pseudonyms and forgotten. A per-file cache keyed by the identity field's
//! bytes makes each distinct number cost one parse and one HMAC; the raw
//! text lives only in this in-memory cache and is dropped with it.

use std::collections::HashMap;

use halsohub_identity::{IdError, IdentityNumber, ParseOptions, Pseudonym, Pseudonymiser};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The most entries a cache holds before it starts over (bounded memory).
const CACHE_LIMIT: usize = 4_000_000;

/// Identity numbers replaced by newer ones, as pseudonyms: old → new.
#[derive(Debug, Default)]
pub(crate) struct Aliases {
    map: FastMap<Pseudonym, Pseudonym>,
}

/// Why an id change row could not be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AliasProblem {
    /// Old and new are the same person already (the change would close a
    /// loop).
    Cycle,
    /// The old number was already changed to a different number.
    Conflict,
}

impl Aliases {
    /// The current pseudonym of `p`, following changes (old → new → newer).
    pub(crate) fn resolve(&self, p: Pseudonym) -> Pseudonym {
        let mut cur = p;
        // Chains are acyclic by construction (`add` refuses cycles); the
        // bound is only a guard.
        for _ in 0..=self.map.len() {
            match self.map.get(&cur) {
                Some(next) => cur = *next,
                None => return cur,
            }
        }
        cur
    }

    /// Records that `old` is now `new`. Returns whether anything was added
    /// (a repeated identical change adds nothing).
    pub(crate) fn add(&mut self, old: Pseudonym, new: Pseudonym) -> Result<bool, AliasProblem> {
        if let Some(existing) = self.map.get(&old) {
            return if *existing == new {
                Ok(false)
            } else {
                Err(AliasProblem::Conflict)
            };
        }
        if self.resolve(new) == old || old == new {
            return Err(AliasProblem::Cycle);
        }
        self.map.insert(old, new);
        Ok(true)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// A parsed and pseudonymised identity field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolved {
    /// Pseudonym of the number as written.
    pub own: Pseudonym,
    /// Pseudonym of the person (after id changes).
    pub person: Pseudonym,
    /// The century of a bare 10-digit number was guessed.
    pub century_guessed: bool,
}

type Outcome = Result<Resolved, IdError>;

/// Per-file cache from identity text to pseudonym.
pub(crate) struct IdCache<'a> {
    pseudonymiser: &'a Pseudonymiser,
    options: &'a ParseOptions,
    aliases: &'a Aliases,
    map: FastMap<[u8; 16], Outcome>,
}

impl<'a> IdCache<'a> {
    pub(crate) fn new(
        pseudonymiser: &'a Pseudonymiser,
        options: &'a ParseOptions,
        aliases: &'a Aliases,
    ) -> Self {
        IdCache {
            pseudonymiser,
            options,
            aliases,
            map: FastMap::default(),
        }
    }

    fn compute(&self, text: &str) -> Outcome {
        let id = IdentityNumber::parse(text, self.options)?;
        let own = self.pseudonymiser.pseudonym(&id);
        Ok(Resolved {
            own,
            person: self.aliases.resolve(own),
            century_guessed: id.century_guessed(),
        })
    }

    /// The person of a source-scoped identifier (a FHIR identifier that is
    /// not a Swedish identity number): its pseudonym, after id changes.
    pub(crate) fn scoped(&self, scope: &str, value: &str) -> Pseudonym {
        self.aliases
            .resolve(self.pseudonymiser.source_scoped(scope, value))
    }

    /// Parses and pseudonymises `text` (already trimmed, non-empty).
    pub(crate) fn get(&mut self, text: &str) -> Outcome {
        let bytes = text.as_bytes();
        if bytes.len() > 15 {
            return self.compute(text);
        }
        let mut key = [0u8; 16];
        if let Some(dst) = key.get_mut(..bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        key[15] = bytes.len() as u8;
        if let Some(hit) = self.map.get(&key) {
            return hit.clone();
        }
        let outcome = self.compute(text);
        if self.map.len() >= CACHE_LIMIT {
            self.map.clear();
        }
        self.map.insert(key, outcome.clone());
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use halsohub_identity::{Form, HubKey, Personnummer};

    fn pnr(y: i32, serial: u16) -> Personnummer {
        Personnummer::from_parts(NaiveDate::from_ymd_opt(y, 3, 4).unwrap(), serial, false).unwrap()
    }

    #[test]
    fn every_written_form_gives_one_pseudonym() {
        let key = HubKey::from_bytes([7; 32]);
        let ps = Pseudonymiser::new(&key);
        let opts = ParseOptions::new(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        let aliases = Aliases::default();
        let mut cache = IdCache::new(&ps, &opts, &aliases);
        let p = pnr(1970, 123);
        let reference = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut seen = Vec::new();
        for form in Form::all(reference) {
            let r = cache.get(&p.format(form)).unwrap();
            seen.push(r.person);
            // A second lookup hits the cache and agrees.
            assert_eq!(cache.get(&p.format(form)).unwrap().person, r.person);
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]));
        assert!(cache.get("19700304-1230").is_err() || cache.get("19700304-1239").is_err());
    }

    #[test]
    fn aliases_follow_chains_and_refuse_cycles() {
        let a = Pseudonym::from_bytes([1; 16]);
        let b = Pseudonym::from_bytes([2; 16]);
        let c = Pseudonym::from_bytes([3; 16]);
        let mut al = Aliases::default();
        assert_eq!(al.add(a, b), Ok(true));
        assert_eq!(al.add(b, c), Ok(true));
        assert_eq!(al.add(a, b), Ok(false));
        assert_eq!(al.resolve(a), c);
        assert_eq!(al.resolve(c), c);
        assert_eq!(al.add(c, a), Err(AliasProblem::Cycle));
        assert_eq!(al.add(a, c), Err(AliasProblem::Conflict));
        assert_eq!(al.add(c, c), Err(AliasProblem::Cycle));
        assert_eq!(al.len(), 2);
    }
}
