//! Reference resolution inside one Bundle or file.
//!
//! Resources are registered under every key a reference may use: the
//! entry's `fullUrl` (`urn:uuid:...` or an absolute URL) and `Type/id`.
//! A reference is looked up as written, then by its `Type/id` tail (an
//! absolute URL, a `_history` version). The resolver is generic over the
//! patient handle `P` (the caller's pseudonym), so this crate never sees a
//! pseudonymiser.

use std::collections::HashMap;

use halsohub_model::Setting;

use crate::coding::Code;
use crate::reason::{self, Rejection};
use crate::resource::{ClinicalRecord, Subject};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// What resolving a clinical record's references gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution<P> {
    /// Everything needed is known.
    Ready {
        patient: P,
        /// The referenced Medication's codes, when the record has a
        /// medication reference.
        medication: Option<Vec<Code>>,
        /// The referenced Encounter's setting, when known.
        setting: Option<Setting>,
    },
    /// A reference points at nothing seen yet: try again later (at the end
    /// of the Bundle or file, with `last = true`).
    Pending,
    /// The record cannot be stored.
    Rejected(Rejection),
}

/// Resources known outside the current file (e.g. the Patient,
/// Medication and Encounter files of a bulk export, read first), consulted
/// when a reference is not found in the file. Keys as in [`Resolver`].
pub trait External<P> {
    /// The patient under `key`: `Some(None)` when it was rejected.
    fn patient(&self, key: &str) -> Option<Option<P>>;
    /// The medication codes under `key`.
    fn medication(&self, key: &str) -> Option<Vec<Code>>;
    /// The care setting of the Encounter under `key`: `Some(None)` when
    /// the Encounter is known but says no setting. None by default.
    fn encounter(&self, _key: &str) -> Option<Option<Setting>> {
        None
    }
}

/// Everything a [`Resolver`] registered, by key, for sharing with later
/// files ([`Resolver::into_parts`]).
#[derive(Debug)]
pub struct Parts<P> {
    /// `None`: the Patient was rejected.
    pub patients: Vec<(String, Option<P>)>,
    pub medications: Vec<(String, Vec<Code>)>,
    /// Encounters and their care setting.
    pub encounters: Vec<(String, Option<Setting>)>,
}

/// No resources outside the file.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoExternal;

impl<P> External<P> for NoExternal {
    fn patient(&self, _: &str) -> Option<Option<P>> {
        None
    }
    fn medication(&self, _: &str) -> Option<Vec<Code>> {
        None
    }
}

/// Known resources of one Bundle or file.
#[derive(Debug)]
pub struct Resolver<P> {
    /// `None`: the Patient was rejected.
    patients: FastMap<String, Option<P>>,
    medications: FastMap<String, Vec<Code>>,
    encounters: FastMap<String, Option<Setting>>,
}

impl<P> Default for Resolver<P> {
    fn default() -> Self {
        Resolver {
            patients: FastMap::default(),
            medications: FastMap::default(),
            encounters: FastMap::default(),
        }
    }
}

/// The keys a resource is known by.
fn keys(full_url: Option<&str>, resource_type: &str, id: Option<&str>) -> Vec<String> {
    let mut k = Vec::with_capacity(2);
    if let Some(u) = full_url.filter(|u| !u.is_empty()) {
        k.push(u.to_owned());
    }
    if let Some(id) = id.filter(|i| !i.is_empty()) {
        let t = format!("{resource_type}/{id}");
        if !k.contains(&t) {
            k.push(t);
        }
    }
    k
}

/// `Type/id` of a literal reference (absolute URL or with `_history`).
fn tail(reference: &str) -> Option<String> {
    if reference.starts_with("urn:") || reference.contains('?') {
        return None;
    }
    let mut parts: Vec<&str> = reference.trim_end_matches('/').split('/').collect();
    if let Some(i) = parts.iter().position(|p| *p == "_history") {
        parts.truncate(i);
    }
    match parts.as_slice() {
        [.., t, id] => Some(format!("{t}/{id}")),
        _ => None,
    }
}

impl<P: Copy> Resolver<P> {
    /// An empty resolver.
    pub fn new() -> Self {
        Resolver::default()
    }

    fn find<'m, V>(map: &'m FastMap<String, V>, reference: &str) -> Option<&'m V> {
        map.get(reference)
            .or_else(|| tail(reference).and_then(|t| map.get(&t)))
    }

    /// Registers a Patient (`None` when it was rejected).
    pub fn add_patient(&mut self, full_url: Option<&str>, id: Option<&str>, patient: Option<P>) {
        for k in keys(full_url, "Patient", id) {
            self.patients.insert(k, patient);
        }
    }

    /// Registers a Medication's codes.
    pub fn add_medication(&mut self, full_url: Option<&str>, id: Option<&str>, codes: &[Code]) {
        for k in keys(full_url, "Medication", id) {
            self.medications.insert(k, codes.to_vec());
        }
    }

    /// Registers an Encounter's setting.
    pub fn add_encounter(
        &mut self,
        full_url: Option<&str>,
        id: Option<&str>,
        setting: Option<Setting>,
    ) {
        for k in keys(full_url, "Encounter", id) {
            self.encounters.insert(k, setting);
        }
    }

    /// The patient a reference points at, when known (in the file or in
    /// `external`) and not rejected. For the quarantine's identity column.
    pub fn patient(&self, reference: &str, external: &dyn External<P>) -> Option<P> {
        Self::find(&self.patients, reference)
            .copied()
            .or_else(|| {
                external
                    .patient(reference)
                    .or_else(|| tail(reference).and_then(|t| external.patient(&t)))
            })
            .flatten()
    }

    /// Number of Patients registered (under any key).
    pub fn patient_keys(&self) -> usize {
        self.patients.len()
    }

    /// Everything registered, for sharing with later files: patients,
    /// medications and encounters by key.
    pub fn into_parts(self) -> Parts<P> {
        Parts {
            patients: self.patients.into_iter().collect(),
            medications: self.medications.into_iter().collect(),
            encounters: self.encounters.into_iter().collect(),
        }
    }

    /// Resolves `rec`'s subject (through `identity` when it is given by
    /// identifier), medication and encounter. With `last`, a reference to
    /// something not seen is a rejection instead of `Pending`.
    pub fn resolve(
        &self,
        rec: &ClinicalRecord,
        identity: impl FnOnce() -> Option<P>,
        last: bool,
    ) -> Resolution<P> {
        self.resolve_with(rec, identity, &NoExternal, last)
    }

    /// [`Resolver::resolve`], looking up what the file does not hold (yet)
    /// in `external`; a resource of the file itself wins when both hold
    /// the key.
    pub fn resolve_with(
        &self,
        rec: &ClinicalRecord,
        identity: impl FnOnce() -> Option<P>,
        external: &dyn External<P>,
        last: bool,
    ) -> Resolution<P> {
        let ext_patient = |r: &str| {
            external
                .patient(r)
                .or_else(|| tail(r).and_then(|t| external.patient(&t)))
        };
        let ext_medication = |r: &str| {
            external
                .medication(r)
                .or_else(|| tail(r).and_then(|t| external.medication(&t)))
        };
        let subject_el = format!("{}.subject", rec.resource_type);
        let missing = |el: &str, r: &str| {
            let what = if r.contains('?') {
                "conditional reference: no resource in this Bundle matches it"
            } else {
                "refers to a resource that is neither in this Bundle/file nor contained"
            };
            Resolution::Rejected(Rejection::new(
                reason::MISSING_REFERENCE,
                el,
                format!("{what}: {:?}", r.chars().take(80).collect::<String>()),
            ))
        };
        let patient = match &rec.subject {
            Subject::Identity(_) => match identity() {
                Some(p) => p,
                None => {
                    return Resolution::Rejected(Rejection::new(
                        reason::SUBJECT_REJECTED,
                        &subject_el,
                        "the subject's identifier is not a valid identity",
                    ));
                }
            },
            Subject::Reference(r) => match Self::find(&self.patients, r)
                .copied()
                .or_else(|| ext_patient(r))
            {
                Some(Some(p)) => p,
                Some(None) => {
                    return Resolution::Rejected(Rejection::new(
                        reason::SUBJECT_REJECTED,
                        &subject_el,
                        "the Patient it refers to was rejected",
                    ));
                }
                None if last => return missing(&subject_el, r),
                None => return Resolution::Pending,
            },
        };
        let medication = match &rec.medication {
            None => None,
            Some(r) => match Self::find(&self.medications, r)
                .cloned()
                .or_else(|| ext_medication(r))
            {
                Some(c) => Some(c),
                None if last => {
                    return missing(&format!("{}.medicationReference", rec.resource_type), r);
                }
                None => return Resolution::Pending,
            },
        };
        let ext_encounter = |r: &str| {
            external
                .encounter(r)
                .or_else(|| tail(r).and_then(|t| external.encounter(&t)))
        };
        let setting = rec
            .encounter
            .as_deref()
            .and_then(|r| {
                Self::find(&self.encounters, r)
                    .copied()
                    .or_else(|| ext_encounter(r))
            })
            .flatten();
        Resolution::Ready {
            patient,
            medication,
            setting,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails() {
        assert_eq!(tail("Patient/1").as_deref(), Some("Patient/1"));
        assert_eq!(
            tail("https://x.org/fhir/Patient/1/_history/3").as_deref(),
            Some("Patient/1")
        );
        assert_eq!(tail("urn:uuid:abc"), None);
        assert_eq!(tail("Patient?identifier=a|b"), None);
        assert_eq!(tail("x"), None);
    }
}
