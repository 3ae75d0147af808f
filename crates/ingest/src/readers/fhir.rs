//! The FHIR reader: a Bundle document (streamed entry by entry) or bulk
//! NDJSON (line by line), mapped by `halsohub-fhir`, pseudonymised here.
//!
//! References are resolved within the file: a resource whose patient or
//! medication has not been seen yet is held back (as its small mapped
//! record, not its JSON) until the end of the file, then resolved or
//! rejected as `fhir.missing_reference`. At most [`MAX_DEFERRED`] records
//! wait; beyond that a record is resolved at once. What a file does not
//! hold is looked up, at the end, in the [`Directory`] of the load's shared
//! files: NDJSON files that start with a Patient or Medication (a bulk
//! export's `Patient.ndjson`, `Medication.ndjson`) are read before the
//! others and share their Patients and Medications; then NDJSON files that
//! start with an Encounter (`Encounter.ndjson`), which share their
//! Encounters' care settings, so a Condition in `Condition.ndjson` gets
//! the setting of its encounter.
//!
//! A Patient's home addresses in Sweden with a län code in
//! `Address.state` become residence periods (see `halsohub-fhir`).

use std::io::{BufReader, Read};

use halsohub_fhir::stream::{self, Entry, Shape, StreamError};
use halsohub_fhir::{
    ClinicalRecord, Code, Deceased, External, Mapped, Mapper, PatientIdentity, Rejection,
    Resolution, Resolver, Subject, reason,
};
use halsohub_identity::Pseudonym;
use halsohub_store::{Domain, Event, Person, Residence, Setting};
use serde_json::Value;

use super::{FileCtx, Reader};
use crate::error::IngestError;
use crate::reject::Reject;

/// Longest NDJSON line read (one resource).
const MAX_NDJSON_LINE: usize = 64 << 20;
/// Most records waiting for a forward reference.
const MAX_DEFERRED: usize = 100_000;
/// Deepest Bundle-in-Bundle read.
const MAX_DEPTH: u8 = 2;

pub(crate) struct FhirReader;

/// Patients, Medications and Encounters by reference key, shared from the
/// files read first (a bulk export's `Patient.ndjson`, `Medication.ndjson`
/// and `Encounter.ndjson`). Encounters are held as their care setting
/// only, a few dozen bytes per key.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    patients: super::FastMap<String, Option<Pseudonym>>,
    medications: super::FastMap<String, Vec<Code>>,
    encounters: super::FastMap<String, Option<Setting>>,
}

impl Directory {
    /// Adds what another directory holds (the first file wins a key).
    pub(crate) fn merge(&mut self, other: Directory) {
        for (k, v) in other.patients {
            self.patients.entry(k).or_insert(v);
        }
        for (k, v) in other.medications {
            self.medications.entry(k).or_insert(v);
        }
        for (k, v) in other.encounters {
            self.encounters.entry(k).or_insert(v);
        }
    }
}

impl External<Pseudonym> for Directory {
    fn patient(&self, key: &str) -> Option<Option<Pseudonym>> {
        self.patients.get(key).copied()
    }
    fn medication(&self, key: &str) -> Option<Vec<Code>> {
        self.medications.get(key).cloned()
    }
    fn encounter(&self, key: &str) -> Option<Option<Setting>> {
        self.encounters.get(key).copied()
    }
}

struct State {
    resolver: Resolver<Pseudonym>,
    deferred: Vec<(u64, ClinicalRecord)>,
}

fn to_reject(r: Rejection) -> Reject {
    Reject {
        reason: r.reason,
        detail: crate::scrub::scrub(&r.detail, 300),
    }
}

impl Reader for FhirReader {
    fn read(&self, input: &mut dyn Read, ctx: &mut FileCtx<'_>) -> Result<(), IngestError> {
        let shape = ctx.layout.fhir.unwrap_or(Shape::Document);
        let mapper = ctx.coder.fhir();
        let mut st = State {
            resolver: Resolver::new(),
            deferred: Vec::new(),
        };
        let rdr = BufReader::with_capacity(256 * 1024, input);
        let display = ctx.display.clone();
        let result = match shape {
            Shape::Document => {
                stream::read_document(rdr, |entry| handle_entry(ctx, mapper, &mut st, entry, 0))
                    .map(|_| ())
            }
            Shape::Ndjson => {
                stream::read_ndjson(rdr, MAX_NDJSON_LINE, |line, parsed| match parsed {
                    Ok(v) => handle(ctx, mapper, &mut st, line, None, &v, 0),
                    Err(r) => {
                        ctx.report.rows_read += 1;
                        ctx.reject(line, to_reject(r), None)
                    }
                })
                .map(|_| ())
            }
        };
        match result {
            Ok(()) => {}
            Err(StreamError::Callback(e)) => return Err(e),
            Err(StreamError::Json {
                line,
                column,
                message,
            }) => {
                return Err(IngestError::Read {
                    path: display.into(),
                    line,
                    message: format!(
                        "not well-formed JSON (column {column}): {}; a JSON document cannot be read past this point",
                        crate::scrub::scrub(&message, 200)
                    ),
                });
            }
            Err(StreamError::Io(e)) => {
                return Err(IngestError::Read {
                    path: display.into(),
                    line: 0,
                    message: e.to_string(),
                });
            }
        }
        for (line, rec) in std::mem::take(&mut st.deferred) {
            settle(ctx, &st.resolver, line, rec, true)?;
        }
        if ctx.layout.fhir_shared.is_some() {
            let parts = st.resolver.into_parts();
            ctx.fhir_export = Some(Directory {
                patients: parts.patients.into_iter().collect(),
                medications: parts.medications.into_iter().collect(),
                encounters: parts.encounters.into_iter().collect(),
            });
        }
        Ok(())
    }
}

fn handle_entry(
    ctx: &mut FileCtx<'_>,
    mapper: &Mapper,
    st: &mut State,
    entry: Entry,
    depth: u8,
) -> Result<(), IngestError> {
    match entry.resource {
        Some(v) => handle(
            ctx,
            mapper,
            st,
            entry.line,
            entry.full_url.as_deref(),
            &v,
            depth,
        ),
        None => {
            ctx.report.rows_read += 1;
            let r = Rejection::new(
                reason::ENTRY_WITHOUT_RESOURCE,
                "Bundle.entry",
                "the entry has no resource (e.g. a DELETE request)",
            );
            ctx.reject(entry.line, to_reject(r), None)
        }
    }
}

/// The pseudonym of a patient identity, or the rejection of an invalid
/// Swedish number.
fn pseudonym_of(
    ctx: &mut FileCtx<'_>,
    identity: &PatientIdentity,
) -> Result<(Pseudonym, bool), Reject> {
    match identity {
        PatientIdentity::Swedish(n) => ctx
            .ids
            .get(n.expose())
            .map(|r| (r.person, r.century_guessed))
            .map_err(|e| Reject::identity("Patient.identifier", &e)),
        PatientIdentity::Scoped { scope, value } => Ok((ctx.ids.scoped(scope, value), false)),
    }
}

fn handle(
    ctx: &mut FileCtx<'_>,
    mapper: &Mapper,
    st: &mut State,
    line: u64,
    full_url: Option<&str>,
    v: &Value,
    depth: u8,
) -> Result<(), IngestError> {
    let mapped = mapper.map(v);
    if !matches!(mapped, Ok(Mapped::Bundle)) {
        ctx.report.rows_read += 1;
    }
    match mapped {
        Err(r) => {
            if v.get("resourceType").and_then(Value::as_str) == Some("Patient") {
                let id = v.get("id").and_then(Value::as_str);
                st.resolver.add_patient(full_url, id, None);
            }
            // Name the patient in the quarantine when the subject is known
            // already (the data holder can then find the record).
            let who = v
                .get("subject")
                .or_else(|| v.get("patient"))
                .and_then(|s| s.get("reference"))
                .and_then(Value::as_str)
                .and_then(|r| st.resolver.patient(r, ctx.fhir_directory));
            ctx.reject(line, to_reject(r), who)
        }
        Ok(Mapped::Bundle) => {
            if depth >= MAX_DEPTH {
                ctx.report.rows_read += 1;
                let r = Rejection::new(
                    reason::NESTED_BUNDLE,
                    "Bundle",
                    "a Bundle nested deeper than two levels",
                );
                return ctx.reject(line, to_reject(r), None);
            }
            for entry in stream::bundle_entries(v, line) {
                handle_entry(ctx, mapper, st, entry, depth + 1)?;
            }
            Ok(())
        }
        Ok(Mapped::Patient(p)) => {
            let (patient, guessed) = match pseudonym_of(ctx, &p.identity) {
                Ok(x) => x,
                Err(r) => {
                    st.resolver.add_patient(full_url, p.id.as_deref(), None);
                    return ctx.reject(line, r, None);
                }
            };
            st.resolver
                .add_patient(full_url, p.id.as_deref(), Some(patient));
            ctx.row.clear();
            ctx.row.patient = Some(patient);
            ctx.row.century_guessed = guessed;
            ctx.row.imputed_date = p.imputed_dates > 0;
            let death_date = match p.deceased {
                Deceased::On(d) => Some(d),
                Deceased::No | Deceased::UnknownDate => None,
            };
            ctx.row.person = Some(Person {
                patient,
                sex: p.sex,
                birth_date: p.birth_date,
                death_date,
            });
            if let Some(d) = death_date {
                ctx.row
                    .events
                    .push(Event::uncoded(patient, Domain::Death, d, "fhir_patient"));
            }
            ctx.row
                .residences
                .extend(p.residences.into_iter().map(|r| Residence {
                    patient,
                    region: r.region,
                    municipality: r.municipality,
                    from: r.from,
                    to: r.to,
                }));
            ctx.accept(line)
        }
        Ok(Mapped::Medication(m)) => {
            st.resolver
                .add_medication(full_url, m.id.as_deref(), &m.codes);
            ctx.row.clear();
            ctx.accept(line)
        }
        Ok(Mapped::Clinical(rec)) => {
            if rec.resource_type == "Encounter" {
                st.resolver
                    .add_encounter(full_url, rec.id.as_deref(), rec.setting);
            }
            let pending = matches!(resolve(ctx, &st.resolver, &rec, false), Resolution::Pending);
            if pending && st.deferred.len() < MAX_DEFERRED {
                st.deferred.push((line, rec));
                Ok(())
            } else {
                settle(ctx, &st.resolver, line, rec, true)
            }
        }
    }
}

fn resolve(
    ctx: &mut FileCtx<'_>,
    resolver: &Resolver<Pseudonym>,
    rec: &ClinicalRecord,
    last: bool,
) -> Resolution<Pseudonym> {
    let external = ctx.fhir_directory;
    let by_identity = || match &rec.subject {
        Subject::Identity(id) => pseudonym_of(ctx, id).ok().map(|(p, _)| p),
        Subject::Reference(_) => None,
    };
    resolver.resolve_with(rec, by_identity, external, last)
}

/// Resolves `rec` and stores its events, or rejects it.
fn settle(
    ctx: &mut FileCtx<'_>,
    resolver: &Resolver<Pseudonym>,
    line: u64,
    rec: ClinicalRecord,
    last: bool,
) -> Result<(), IngestError> {
    match resolve(ctx, resolver, &rec, last) {
        Resolution::Ready {
            patient,
            medication,
            setting,
        } => {
            let imputed = rec.imputed_dates > 0;
            let (events, unknown) = rec.finish(patient, medication.as_deref(), setting);
            ctx.row.clear();
            ctx.row.patient = Some(patient);
            ctx.row.events = events;
            ctx.row.unknown = unknown;
            ctx.row.imputed_date = imputed;
            ctx.accept(line)
        }
        Resolution::Rejected(r) => ctx.reject(line, to_reject(r), None),
        Resolution::Pending => {
            let r = Rejection::new(
                reason::MISSING_REFERENCE,
                rec.resource_type,
                "a reference could not be resolved",
            );
            ctx.reject(line, to_reject(r), None)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lan_codes_agree_with_the_register_reader() {
        assert_eq!(
            halsohub_fhir::LAN_CODES,
            crate::readers::register::LAN_CODES
        );
    }
}
