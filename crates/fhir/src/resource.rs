//! One FHIR R4 resource (a JSON object) to halsohub records or a rejection.

use chrono::NaiveDate;
use halsohub_codes::{CodeRegistry, UnitError, units};
use halsohub_identity::Pseudonym;
use halsohub_model::{Comparator, Domain, Event, Setting};
use serde_json::Value;

use crate::coding::{self, Code};
use crate::date;
use crate::reason::{self, Rejection};
use crate::types;

/// The identifier system of Swedish personnummer.
pub const PERSONNUMMER_OID: &str = "urn:oid:1.2.752.129.2.1.3.1";
/// The identifier system of Swedish samordningsnummer.
pub const SAMORDNINGSNUMMER_OID: &str = "urn:oid:1.2.752.129.2.1.3.3";
/// Scope of the source-scoped pseudonym of a Patient known only by its
/// resource id.
pub const PATIENT_ID_SCOPE: &str = "fhir:Patient";

/// A Swedish identity number as written in a FHIR identifier. `Debug` is
/// redacted; the text is only for the pseudonymiser.
#[derive(Clone, PartialEq, Eq)]
pub struct SwedishNumber(String);

impl SwedishNumber {
    /// The number as written (hand it to the pseudonymiser, nowhere else).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SwedishNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SwedishNumber(<redacted>)")
    }
}

/// Who a Patient is, for pseudonymisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientIdentity {
    /// A personnummer or samordningsnummer identifier (by its OID): to be
    /// pseudonymised exactly like register data, so it links with it.
    Swedish(SwedishNumber),
    /// Any other identifier (`scope` = its system URI) or, without any
    /// identifier, the resource id (`scope` = [`PATIENT_ID_SCOPE`]): a
    /// source-scoped pseudonym.
    Scoped {
        /// Identifier system (or [`PATIENT_ID_SCOPE`]).
        scope: String,
        /// Identifier value (or resource id).
        value: String,
    },
}

/// Whether and when a Patient died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deceased {
    /// Not deceased, or not said.
    No,
    /// `deceasedBoolean: true`: dead, date unknown.
    UnknownDate,
    /// `deceasedDateTime`.
    On(NaiveDate),
}

/// What a Patient resource says.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientRecord {
    /// The resource id.
    pub id: Option<String>,
    pub identity: PatientIdentity,
    /// `F` or `M` (`female`/`male`); `other`/`unknown` give `None`.
    pub sex: Option<char>,
    pub birth_date: Option<NaiveDate>,
    pub deceased: Deceased,
    /// Periods of residence in a Swedish region, from `Patient.address`
    /// (see [`Mapper::map`]'s rules: a home address in Sweden whose
    /// `state` is a län code).
    pub residences: Vec<ResidencePeriod>,
    /// Dates with an unknown month or day that were imputed.
    pub imputed_dates: u32,
}

/// A period of residence read from a `Patient.address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidencePeriod {
    /// Län code, two digits (`Address.state`).
    pub region: String,
    /// Kommun code, four digits (`Address.district`), when given as one.
    pub municipality: Option<String>,
    /// `Address.period.start` (else the birth date).
    pub from: NaiveDate,
    /// Exclusive end: the day after `Address.period.end` (FHIR periods
    /// are inclusive); `None` while still living there.
    pub to: Option<NaiveDate>,
}

/// The two-digit Swedish län codes (current counties), as the population
/// register writes them.
pub const LAN_CODES: [&str; 21] = [
    "01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13", "14", "17", "18", "19", "20",
    "21", "22", "23", "24", "25",
];

/// A Medication resource: the codes other resources refer to.
#[derive(Debug, Clone, PartialEq)]
pub struct MedicationRecord {
    pub id: Option<String>,
    /// `Medication.code`, else the ingredients' codes.
    pub codes: Vec<Code>,
}

/// A reference to the patient a clinical resource is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A literal reference (`Patient/123`, `urn:uuid:...`, an absolute URL).
    Reference(String),
    /// A logical reference by identifier (no reference string).
    Identity(PatientIdentity),
}

/// A clinical resource (Encounter, Condition, Observation, Procedure,
/// Medication*): its events without the patient, and what must be resolved
/// before they can be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ClinicalRecord {
    /// The resource type (`Condition`, ...).
    pub resource_type: &'static str,
    pub id: Option<String>,
    pub subject: Subject,
    /// `encounter` (or `context`) reference, used for the care setting.
    pub encounter: Option<String>,
    /// A `medicationReference` still to be resolved; when set, `events`
    /// holds one template event whose code is filled in per medication code.
    pub medication: Option<String>,
    /// The events, with a placeholder patient.
    pub events: Vec<Event>,
    /// For an Encounter: its care setting (from `class`).
    pub setting: Option<Setting>,
    pub imputed_dates: u32,
}

impl ClinicalRecord {
    /// The finished events for `patient`: medication codes applied to the
    /// template, the encounter's setting filled in where the resource had
    /// none. Unknown codes are returned as `system:code` labels.
    pub fn finish(
        self,
        patient: Pseudonym,
        medication: Option<&[Code]>,
        setting: Option<Setting>,
    ) -> (Vec<Event>, Vec<String>) {
        let mut unknown = Vec::new();
        let mut out = Vec::new();
        match (self.medication.is_some(), medication) {
            (true, Some(codes)) => {
                for template in &self.events {
                    for c in codes {
                        let mut e = template.clone();
                        e.system = c.system.clone();
                        e.code = c.code.clone();
                        e.code_known = c.known;
                        out.push(e);
                    }
                }
            }
            _ => out = self.events,
        }
        for e in &mut out {
            e.patient = patient;
            if e.setting.is_none() {
                e.setting = setting;
            }
            if !e.code_known && !e.code.is_empty() {
                unknown.push(format!("{}:{}", e.system, e.code));
            }
        }
        (out, unknown)
    }
}

/// What one resource gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    Patient(PatientRecord),
    Medication(MedicationRecord),
    Clinical(ClinicalRecord),
    /// A Bundle met as a resource (nested, or an NDJSON line): the caller
    /// reads its entries.
    Bundle,
}

/// Maps FHIR R4 resources. Holds the code lists used to flag unknown codes.
pub struct Mapper {
    registry: CodeRegistry,
}

impl Default for Mapper {
    fn default() -> Self {
        Mapper::new()
    }
}

impl std::fmt::Debug for Mapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mapper")
    }
}

fn s<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

fn placeholder() -> Pseudonym {
    Pseudonym::from_bytes([0; 16])
}

/// A date element, optionally a sub-element (`effectivePeriod.start`).
type DateAt<'a> = (&'a str, Option<&'a str>);

/// Dates read from a resource, counting imputations.
struct Dates {
    imputed: u32,
}

impl Dates {
    fn at(&mut self, v: Option<&Value>, element: &str) -> Result<Option<NaiveDate>, Rejection> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(t)) => match date::parse(t) {
                Ok((d, imputed)) => {
                    if imputed {
                        self.imputed += 1;
                    }
                    Ok(Some(d))
                }
                Err(why) => Err(Rejection::new(
                    reason::INVALID_DATE,
                    element,
                    format!("{why}: {:?}", t.chars().take(40).collect::<String>()),
                )),
            },
            Some(_) => Err(Rejection::new(
                reason::INVALID_DATE,
                element,
                "not a string",
            )),
        }
    }

    /// The first present of several candidate elements.
    fn first(
        &mut self,
        r: &Value,
        rt: &str,
        candidates: &[(&str, Option<&str>)],
    ) -> Result<Option<NaiveDate>, Rejection> {
        for (key, sub) in candidates {
            let v = match sub {
                None => r.get(*key),
                Some(sub) => r.get(*key).and_then(|p| p.get(*sub)),
            };
            if v.is_some() {
                let element = match sub {
                    None => format!("{rt}.{key}"),
                    Some(sub) => format!("{rt}.{key}.{sub}"),
                };
                if let Some(d) = self.at(v, &element)? {
                    return Ok(Some(d));
                }
            }
        }
        Ok(None)
    }
}

fn status_excluded(r: &Value, rt: &str, excluded: &[&str]) -> Result<(), Rejection> {
    if let Some(st) = s(r, "status")
        && excluded.contains(&st)
    {
        return Err(Rejection::new(
            reason::EXCLUDED_STATUS,
            &format!("{rt}.status"),
            format!("{st:?}: the resource records something that did not happen"),
        ));
    }
    Ok(())
}

/// A residence period from one `Patient.address`, when the address can be
/// trusted to name a Swedish region: a home (or unspecified use) physical
/// (or both, or unspecified type) address whose `country` is Sweden or
/// absent and whose `state` is a two-digit län code. `district` is read as
/// the kommun code when it is four digits. The period runs from
/// `period.start` (else the birth date) to the day after `period.end`.
/// Anything else (a foreign or postal address, a state name, an unreadable
/// or reversed period) gives no residence; the Patient is still read.
fn residence_of(
    a: &Value,
    birth_date: Option<NaiveDate>,
    dates: &mut Dates,
) -> Option<ResidencePeriod> {
    if !matches!(s(a, "use"), None | Some("home")) {
        return None;
    }
    if !matches!(s(a, "type"), None | Some("physical" | "both")) {
        return None;
    }
    if let Some(country) = a.get("country") {
        let c = country.as_str()?.trim().to_ascii_lowercase();
        if !matches!(c.as_str(), "se" | "swe" | "sweden" | "sverige") {
            return None;
        }
    }
    let region = s(a, "state")?.trim();
    if !LAN_CODES.contains(&region) {
        return None;
    }
    let municipality = s(a, "district")
        .map(str::trim)
        .filter(|d| d.len() == 4 && d.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned);
    let period = a.get("period");
    let mut at = |k: &str| {
        dates
            .at(period.and_then(|p| p.get(k)), "Patient.address.period")
            .ok()
    };
    let start = at("start")?;
    let end = at("end")?;
    let from = start.or(birth_date)?;
    if end.is_some_and(|e| e < from) {
        return None;
    }
    Some(ResidencePeriod {
        region: region.to_owned(),
        municipality,
        from,
        to: end.map(|e| e.succ_opt().unwrap_or(e)),
    })
}

/// Care setting from an Encounter's halsohub care-setting extension
/// ([`uri::CARE_SETTING_EXTENSION`](crate::uri::CARE_SETTING_EXTENSION)),
/// which says primary care where `Encounter.class` cannot.
fn setting_of_extension(r: &Value) -> Option<Setting> {
    r.get("extension")
        .and_then(Value::as_array)?
        .iter()
        .filter(|e| s(e, "url") == Some(crate::uri::CARE_SETTING_EXTENSION))
        .find_map(|e| s(e, "valueCode").and_then(Setting::parse))
}

/// Care setting from `Encounter.class` (v3 ActCode).
pub(crate) fn setting_of_class(code: &str) -> Option<Setting> {
    match code {
        "IMP" | "ACUTE" | "NONAC" | "SS" | "OBSENC" => Some(Setting::Inpatient),
        "AMB" | "EMER" | "FLD" | "HH" | "VR" | "PRENC" => Some(Setting::Outpatient),
        _ => None,
    }
}

/// A reference string's resource type, when it has the `Type/id` shape.
fn reference_type(reference: &str) -> Option<&str> {
    if reference.starts_with("urn:") || reference.starts_with('#') {
        return None;
    }
    let path = reference.split('?').next().unwrap_or(reference);
    let mut parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if let Some(i) = parts.iter().position(|p| *p == "_history") {
        parts.truncate(i);
    }
    if reference.contains('?') {
        // Conditional reference: `Patient?identifier=...`.
        return path.rsplit('/').next();
    }
    match parts.as_slice() {
        [.., t, _] => Some(*t),
        _ => None,
    }
}

impl Mapper {
    /// A mapper with halsohub's built-in code lists.
    pub fn new() -> Self {
        Mapper {
            registry: CodeRegistry::builtin(),
        }
    }

    /// A mapper with the given code lists.
    pub fn with_registry(registry: CodeRegistry) -> Self {
        Mapper { registry }
    }

    /// Maps one resource. Resource types halsohub does not read, resources
    /// of other FHIR versions and invalid resources are rejections.
    pub fn map(&self, r: &Value) -> Result<Mapped, Rejection> {
        let Some(obj) = r.as_object() else {
            return Err(Rejection::new(
                reason::INVALID_JSON,
                "resource",
                "not a JSON object",
            ));
        };
        let Some(rt) = obj.get("resourceType").and_then(Value::as_str) else {
            return Err(Rejection::new(
                reason::MISSING_RESOURCE_TYPE,
                "resourceType",
                "missing or not a string",
            ));
        };
        if let Some(why) = crate::version::other_version(rt, r) {
            return Err(Rejection::new(reason::UNSUPPORTED_VERSION, rt, why));
        }
        let Some(rt) = types::r4(rt) else {
            return Err(Rejection::new(
                reason::UNKNOWN_RESOURCE_TYPE,
                "resourceType",
                format!(
                    "{:?} is not a FHIR R4 resource type",
                    rt.chars().take(40).collect::<String>()
                ),
            ));
        };
        match rt {
            "Bundle" => Ok(Mapped::Bundle),
            "Patient" => self.patient(r).map(Mapped::Patient),
            "Medication" => {
                let codes = self.medication_codes(r)?;
                Ok(Mapped::Medication(MedicationRecord {
                    id: s(r, "id").map(str::to_owned),
                    codes,
                }))
            }
            "Encounter"
            | "Condition"
            | "Observation"
            | "Procedure"
            | "MedicationRequest"
            | "MedicationDispense"
            | "MedicationAdministration"
            | "MedicationStatement" => self.clinical(rt, r).map(Mapped::Clinical),
            other => Err(Rejection::new(
                reason::UNSUPPORTED_RESOURCE_TYPE,
                "resourceType",
                format!("{other} resources are not read by halsohub (see docs/formats.md)"),
            )),
        }
    }

    fn patient(&self, r: &Value) -> Result<PatientRecord, Rejection> {
        let mut dates = Dates { imputed: 0 };
        let id = s(r, "id").map(str::to_owned);
        let identity = identity_of(r.get("identifier"), id.as_deref())?;
        let sex = match s(r, "gender") {
            Some("female") => Some('F'),
            Some("male") => Some('M'),
            _ => None,
        };
        let birth_date = dates.at(r.get("birthDate"), "Patient.birthDate")?;
        let deceased = match (r.get("deceasedDateTime"), r.get("deceasedBoolean")) {
            (Some(v), _) => match dates.at(Some(v), "Patient.deceasedDateTime")? {
                Some(d) => Deceased::On(d),
                None => Deceased::No,
            },
            (None, Some(Value::Bool(true))) => Deceased::UnknownDate,
            _ => Deceased::No,
        };
        if let (Some(b), Deceased::On(d)) = (birth_date, deceased)
            && d < b
        {
            return Err(Rejection::new(
                reason::PERIOD_ENDS_BEFORE_START,
                "Patient.deceasedDateTime",
                "death before birth",
            ));
        }
        let residences = r
            .get("address")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|a| residence_of(a, birth_date, &mut dates))
            .collect();
        Ok(PatientRecord {
            id,
            identity,
            sex,
            birth_date,
            deceased,
            residences,
            imputed_dates: dates.imputed,
        })
    }

    fn medication_codes(&self, m: &Value) -> Result<Vec<Code>, Rejection> {
        match coding::codes(&self.registry, m.get("code"), "Medication.code") {
            Ok(c) => Ok(c),
            Err(first) => {
                let mut out: Vec<Code> = Vec::new();
                for ing in m
                    .get("ingredient")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                {
                    if let Ok(cs) = coding::codes(
                        &self.registry,
                        ing.get("itemCodeableConcept"),
                        "Medication.ingredient.itemCodeableConcept",
                    ) {
                        for c in cs {
                            if !out.contains(&c) {
                                out.push(c);
                            }
                        }
                    }
                }
                if out.is_empty() { Err(first) } else { Ok(out) }
            }
        }
    }

    fn event(&self, domain: Domain, code: Option<&Code>, start: NaiveDate, source: &str) -> Event {
        let (system, code, known) = match code {
            Some(c) => (c.system.clone(), c.code.clone(), c.known),
            None => (String::new(), String::new(), true),
        };
        Event::new(placeholder(), domain, (system, code, known), start, source)
    }

    fn clinical(&self, rt: &'static str, r: &Value) -> Result<ClinicalRecord, Rejection> {
        let mut dates = Dates { imputed: 0 };
        let source = types::source_name(rt);
        let subject_el = if r.get("subject").is_some() {
            "subject"
        } else {
            "patient"
        };
        let subject = match r.get(subject_el) {
            Some(v) => match (s(v, "reference"), v.get("identifier")) {
                (Some(reference), _) => {
                    if let Some(t) = reference_type(reference)
                        && t != "Patient"
                    {
                        return Err(Rejection::new(
                            reason::SUBJECT_NOT_PATIENT,
                            &format!("{rt}.{subject_el}"),
                            format!(
                                "refers to a {:?}, not a Patient",
                                t.chars().take(40).collect::<String>()
                            ),
                        ));
                    }
                    Subject::Reference(reference.to_owned())
                }
                (None, Some(ident)) => {
                    Subject::Identity(identity_of(Some(&Value::Array(vec![ident.clone()])), None)?)
                }
                (None, None) => {
                    return Err(Rejection::new(
                        reason::MISSING_SUBJECT,
                        &format!("{rt}.{subject_el}"),
                        "neither reference nor identifier",
                    ));
                }
            },
            None => {
                return Err(Rejection::new(
                    reason::MISSING_SUBJECT,
                    &format!("{rt}.subject"),
                    "the resource does not say which patient it is about",
                ));
            }
        };
        let encounter = r
            .get("encounter")
            .or_else(|| r.get("context"))
            .and_then(|e| s(e, "reference"))
            .map(str::to_owned);
        let mut rec = ClinicalRecord {
            resource_type: rt,
            id: s(r, "id").map(str::to_owned),
            subject,
            encounter,
            medication: None,
            events: Vec::new(),
            setting: None,
            imputed_dates: 0,
        };
        let missing_date =
            |what: &str| Rejection::new(reason::MISSING_DATE, rt, format!("no date ({what})"));
        match rt {
            "Encounter" => {
                status_excluded(r, rt, &["cancelled", "entered-in-error"])?;
                let start = dates
                    .at(
                        r.get("period").and_then(|p| p.get("start")),
                        "Encounter.period.start",
                    )?
                    .ok_or_else(|| missing_date("period.start"))?;
                let end = dates.at(
                    r.get("period").and_then(|p| p.get("end")),
                    "Encounter.period.end",
                )?;
                check_period(start, end, "Encounter.period")?;
                let setting = setting_of_extension(r).or_else(|| {
                    r.get("class")
                        .and_then(|c| s(c, "code"))
                        .and_then(setting_of_class)
                });
                let codes = r
                    .get("type")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(|t| coding::codes(&self.registry, Some(t), "Encounter.type").ok())
                    .unwrap_or_default();
                let mut e = self.event(Domain::Encounter, codes.first(), start, source);
                e.end = end;
                e.setting = setting;
                rec.setting = setting;
                rec.events.push(e);
            }
            "Condition" => {
                if let Some(vs) = r.get("verificationStatus") {
                    let code = vs
                        .get("coding")
                        .and_then(Value::as_array)
                        .and_then(|a| a.iter().find_map(|c| s(c, "code")));
                    if let Some(c @ ("entered-in-error" | "refuted")) = code {
                        return Err(Rejection::new(
                            reason::EXCLUDED_STATUS,
                            "Condition.verificationStatus",
                            format!("{c:?}: the diagnosis does not hold"),
                        ));
                    }
                }
                let codes = coding::codes(&self.registry, r.get("code"), "Condition.code")?;
                let start = dates
                    .first(
                        r,
                        rt,
                        &[
                            ("onsetDateTime", None),
                            ("onsetPeriod", Some("start")),
                            ("recordedDate", None),
                        ],
                    )?
                    .ok_or_else(|| {
                        missing_date("onsetDateTime, onsetPeriod.start or recordedDate")
                    })?;
                let end = dates.first(
                    r,
                    rt,
                    &[
                        ("abatementDateTime", None),
                        ("abatementPeriod", Some("end")),
                    ],
                )?;
                let end = end.filter(|e| *e >= start);
                for c in &codes {
                    let mut e = self.event(Domain::Diagnosis, Some(c), start, source);
                    e.end = end;
                    rec.events.push(e);
                }
            }
            "Procedure" => {
                status_excluded(r, rt, &["not-done", "entered-in-error"])?;
                let codes = coding::codes(&self.registry, r.get("code"), "Procedure.code")?;
                let start = dates
                    .first(
                        r,
                        rt,
                        &[
                            ("performedDateTime", None),
                            ("performedPeriod", Some("start")),
                        ],
                    )?
                    .ok_or_else(|| missing_date("performedDateTime or performedPeriod.start"))?;
                let end = dates.at(
                    r.get("performedPeriod").and_then(|p| p.get("end")),
                    "Procedure.performedPeriod.end",
                )?;
                check_period(start, end, "Procedure.performedPeriod")?;
                for c in &codes {
                    let mut e = self.event(Domain::Procedure, Some(c), start, source);
                    e.end = end;
                    rec.events.push(e);
                }
            }
            "Observation" => {
                status_excluded(r, rt, &["cancelled", "entered-in-error"])?;
                let start = dates
                    .first(
                        r,
                        rt,
                        &[
                            ("effectiveDateTime", None),
                            ("effectivePeriod", Some("start")),
                            ("effectiveInstant", None),
                            ("issued", None),
                        ],
                    )?
                    .ok_or_else(|| missing_date("effective[x] or issued"))?;
                let components = r
                    .get("component")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let has_value = r
                    .as_object()
                    .is_some_and(|o| o.keys().any(|k| k.starts_with("value")));
                let domain = observation_domain(r);
                if has_value || components.is_empty() {
                    let codes = coding::codes(&self.registry, r.get("code"), "Observation.code")?;
                    self.observation_events(
                        r,
                        "Observation",
                        domain,
                        &codes,
                        (start, source),
                        &mut rec.events,
                    )?;
                }
                for (i, comp) in components.iter().enumerate() {
                    let el = format!("Observation.component[{i}]");
                    let codes =
                        coding::codes(&self.registry, comp.get("code"), &format!("{el}.code"))?;
                    self.observation_events(
                        comp,
                        &el,
                        domain,
                        &codes,
                        (start, source),
                        &mut rec.events,
                    )?;
                }
            }
            "MedicationRequest"
            | "MedicationDispense"
            | "MedicationAdministration"
            | "MedicationStatement" => {
                let (excluded, dates_at, domain): (&[&str], &[DateAt], Domain) = match rt {
                    "MedicationRequest" => (
                        &["cancelled", "entered-in-error", "draft"],
                        &[("authoredOn", None)],
                        Domain::PrescribedDrug,
                    ),
                    "MedicationDispense" => (
                        &[
                            "cancelled",
                            "entered-in-error",
                            "declined",
                            "stopped",
                            "preparation",
                        ],
                        &[("whenHandedOver", None), ("whenPrepared", None)],
                        Domain::DispensedDrug,
                    ),
                    "MedicationAdministration" => (
                        &["not-done", "entered-in-error"],
                        &[
                            ("effectiveDateTime", None),
                            ("effectivePeriod", Some("start")),
                        ],
                        Domain::AdministeredDrug,
                    ),
                    _ => (
                        &["not-taken", "entered-in-error"],
                        &[
                            ("effectiveDateTime", None),
                            ("effectivePeriod", Some("start")),
                            ("dateAsserted", None),
                        ],
                        Domain::PrescribedDrug,
                    ),
                };
                status_excluded(r, rt, excluded)?;
                let start = dates.first(r, rt, dates_at)?.ok_or_else(|| {
                    missing_date(
                        &dates_at
                            .iter()
                            .map(|(k, s)| match s {
                                Some(s) => format!("{k}.{s}"),
                                None => (*k).to_owned(),
                            })
                            .collect::<Vec<_>>()
                            .join(" or "),
                    )
                })?;
                let end = if r.get("effectivePeriod").is_some() {
                    let end = dates.at(
                        r.get("effectivePeriod").and_then(|p| p.get("end")),
                        &format!("{rt}.effectivePeriod.end"),
                    )?;
                    check_period(start, end, &format!("{rt}.effectivePeriod"))?;
                    end
                } else {
                    None
                };
                let qty = match rt {
                    "MedicationRequest" => r.get("dispenseRequest").and_then(|d| d.get("quantity")),
                    "MedicationDispense" => r.get("quantity"),
                    "MedicationAdministration" => r.get("dosage").and_then(|d| d.get("dose")),
                    _ => None,
                };
                let (quantity, unit) = match qty {
                    Some(q) => (
                        q.get("value").and_then(Value::as_f64),
                        s(q, "code").or_else(|| s(q, "unit")).map(unit_text),
                    ),
                    None => (None, None),
                };
                let mut template = self.event(domain, None, start, source);
                template.end = end;
                template.quantity = quantity;
                template.unit = unit;
                if let Some(cc) = r.get("medicationCodeableConcept") {
                    let codes = coding::codes(
                        &self.registry,
                        Some(cc),
                        &format!("{rt}.medicationCodeableConcept"),
                    )?;
                    for c in &codes {
                        let mut e = template.clone();
                        e.system = c.system.clone();
                        e.code = c.code.clone();
                        e.code_known = c.known;
                        rec.events.push(e);
                    }
                } else if let Some(reference) =
                    r.get("medicationReference").and_then(|m| s(m, "reference"))
                {
                    if let Some(local) = reference.strip_prefix('#') {
                        let contained = r
                            .get("contained")
                            .and_then(Value::as_array)
                            .and_then(|a| {
                                a.iter().find(|c| {
                                    s(c, "id") == Some(local)
                                        && s(c, "resourceType") == Some("Medication")
                                })
                            })
                            .ok_or_else(|| {
                                Rejection::new(
                                    reason::MISSING_REFERENCE,
                                    &format!("{rt}.medicationReference"),
                                    format!(
                                        "no contained Medication with id {:?}",
                                        local.chars().take(40).collect::<String>()
                                    ),
                                )
                            })?;
                        let codes = self.medication_codes(contained)?;
                        for c in &codes {
                            let mut e = template.clone();
                            e.system = c.system.clone();
                            e.code = c.code.clone();
                            e.code_known = c.known;
                            rec.events.push(e);
                        }
                    } else {
                        rec.medication = Some(reference.to_owned());
                        rec.events.push(template);
                    }
                } else {
                    return Err(Rejection::new(
                        reason::MISSING_MEDICATION,
                        rt,
                        "neither medicationCodeableConcept nor medicationReference",
                    ));
                }
            }
            _ => {}
        }
        rec.imputed_dates = dates.imputed;
        Ok(rec)
    }

    /// The events of one Observation (or component): one per code, with the
    /// value (a Quantity needs a unit; values are converted to the
    /// analyte's canonical unit where the hub knows the analyte; a coded
    /// value keeps its system and code, a string or boolean its text).
    fn observation_events(
        &self,
        o: &Value,
        element: &str,
        domain: Domain,
        codes: &[Code],
        (start, source): (NaiveDate, &str),
        out: &mut Vec<Event>,
    ) -> Result<(), Rejection> {
        let mut coded: Option<Code> = None;
        let mut text: Option<String> = None;
        if let Some(cc) = o.get("valueCodeableConcept") {
            let el = format!("{element}.valueCodeableConcept");
            match coding::codes(&self.registry, Some(cc), &el) {
                Ok(c) => coded = c.into_iter().next(),
                // A value concept with no usable coding (text only, or codes
                // that fail their system's check) keeps its text, if any:
                // the observation itself (its code and date) still stands.
                Err(_) => text = s(cc, "text").map(|t| t.chars().take(MAX_VALUE_TEXT).collect()),
            }
        } else if let Some(v) = o.get("valueString") {
            let t = v.as_str().ok_or_else(|| {
                Rejection::new(
                    reason::INVALID_VALUE,
                    &format!("{element}.valueString"),
                    "not a string",
                )
            })?;
            text = Some(t.chars().take(MAX_VALUE_TEXT).collect());
        } else if let Some(v) = o.get("valueBoolean") {
            let b = v.as_bool().ok_or_else(|| {
                Rejection::new(
                    reason::INVALID_VALUE,
                    &format!("{element}.valueBoolean"),
                    "not true or false",
                )
            })?;
            text = Some(b.to_string());
        }
        let mut value: Option<(f64, Option<Comparator>, Option<String>)> = None;
        if let Some(q) = o.get("valueQuantity") {
            let el = format!("{element}.valueQuantity");
            let v = match q.get("value") {
                Some(Value::Number(n)) => n.as_f64().ok_or_else(|| {
                    Rejection::new(
                        reason::INVALID_VALUE,
                        &format!("{el}.value"),
                        "not a finite number",
                    )
                })?,
                Some(_) => {
                    return Err(Rejection::new(
                        reason::INVALID_VALUE,
                        &format!("{el}.value"),
                        "not a number",
                    ));
                }
                None => {
                    return Err(Rejection::new(
                        reason::INVALID_VALUE,
                        &format!("{el}.value"),
                        "a Quantity without a value",
                    ));
                }
            };
            let comparator = match s(q, "comparator") {
                None => None,
                Some(c) => Some(Comparator::parse(c).ok_or_else(|| {
                    Rejection::new(
                        reason::INVALID_VALUE,
                        &format!("{el}.comparator"),
                        format!(
                            "{:?} is not one of <, <=, >=, >",
                            c.chars().take(8).collect::<String>()
                        ),
                    )
                })?),
            };
            let ucum = s(q, "system")
                .is_some_and(|u| u.trim_end_matches('/') == "http://unitsofmeasure.org");
            let unit = if ucum {
                s(q, "code").or_else(|| s(q, "unit"))
            } else {
                s(q, "unit").or_else(|| s(q, "code"))
            };
            let Some(unit) = unit.filter(|u| !u.trim().is_empty()) else {
                return Err(Rejection::new(
                    reason::VALUE_WITHOUT_UNIT,
                    &format!("{el}.unit"),
                    "a measured value needs a unit (write \"1\" for a unitless one)",
                ));
            };
            value = Some((v, comparator, Some(unit.to_owned())));
        } else if let Some(Value::Number(n)) = o.get("valueInteger")
            && let Some(v) = n.as_f64()
        {
            value = Some((v, None, None));
        }
        for c in codes {
            let mut e = self.event(domain, Some(c), start, source);
            if let Some(v) = &coded {
                e.value_system = Some(v.system.clone());
                e.value_code = Some(v.code.clone());
            }
            e.value_text.clone_from(&text);
            if let Some((v, comparator, unit)) = &value {
                e.comparator = *comparator;
                match unit {
                    Some(u) => {
                        let (v, u) = self.lab_unit(c, *v, u, element)?;
                        e.value = Some(v);
                        e.unit = Some(u);
                    }
                    None => e.value = Some(*v),
                }
            }
            out.push(e);
        }
        Ok(())
    }

    fn lab_unit(
        &self,
        c: &Code,
        v: f64,
        unit: &str,
        element: &str,
    ) -> Result<(f64, String), Rejection> {
        match units::to_canonical(&c.system(), &c.code, v, unit) {
            Ok((v, u)) => Ok((v, u.to_owned())),
            Err(UnitError::UnknownAnalyte { .. }) => Ok((v, unit_text(unit))),
            Err(e) => Err(Rejection::new(
                reason::INCOMPATIBLE_UNIT,
                &format!("{element}.valueQuantity"),
                e,
            )),
        }
    }
}

/// Longest `valueString` kept (characters); free text is not what the hub
/// is for, and a long one is cut rather than rejected.
const MAX_VALUE_TEXT: usize = 200;

/// Observation categories whose observations are not lab results: they
/// become [`Domain::Observation`] events (history, status, answers).
const OBSERVATION_CATEGORIES: [&str; 4] = ["social-history", "survey", "exam", "activity"];

/// The domain of an Observation from its `category` codes
/// (`http://terminology.hl7.org/CodeSystem/observation-category`): social
/// history, survey, exam and activity are observations; laboratory, vital
/// signs and anything else (or no category) are lab results.
fn observation_domain(r: &Value) -> Domain {
    let categories = r
        .get("category")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let codes = categories
        .iter()
        .filter_map(|c| c.get("coding").and_then(Value::as_array))
        .flatten()
        .filter_map(|c| s(c, "code"));
    let mut observation = false;
    for code in codes {
        if code == "laboratory" {
            return Domain::LabResult;
        }
        observation |= OBSERVATION_CATEGORIES.contains(&code);
    }
    if observation {
        Domain::Observation
    } else {
        Domain::LabResult
    }
}

/// A unit in its UCUM spelling when the hub knows it, else as written.
fn unit_text(raw: &str) -> String {
    match units::normalise_unit(raw) {
        Ok(u) => u.to_owned(),
        Err(_) => raw.trim().to_owned(),
    }
}

fn check_period(start: NaiveDate, end: Option<NaiveDate>, element: &str) -> Result<(), Rejection> {
    match end {
        Some(e) if e < start => Err(Rejection::new(
            reason::PERIOD_ENDS_BEFORE_START,
            element,
            "end is before start",
        )),
        _ => Ok(()),
    }
}

/// The identity of a Patient from its identifiers: a Swedish personnummer
/// or samordningsnummer first, else the first other identifier with system
/// and value, else the resource id.
pub(crate) fn identity_of(
    identifiers: Option<&Value>,
    id: Option<&str>,
) -> Result<PatientIdentity, Rejection> {
    let list = identifiers
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let usable = |i: &&Value| s(i, "use") != Some("old");
    for i in list.iter().filter(usable) {
        if let (Some(sys), Some(value)) = (s(i, "system"), s(i, "value"))
            && (sys.trim() == PERSONNUMMER_OID || sys.trim() == SAMORDNINGSNUMMER_OID)
        {
            return Ok(PatientIdentity::Swedish(SwedishNumber(
                value.trim().to_owned(),
            )));
        }
    }
    for i in list.iter().filter(usable) {
        if let (Some(sys), Some(value)) = (s(i, "system"), s(i, "value"))
            && !sys.trim().is_empty()
            && !value.trim().is_empty()
        {
            return Ok(PatientIdentity::Scoped {
                scope: sys.trim().to_owned(),
                value: value.trim().to_owned(),
            });
        }
    }
    match id {
        Some(id) if !id.trim().is_empty() => Ok(PatientIdentity::Scoped {
            scope: PATIENT_ID_SCOPE.to_owned(),
            value: id.trim().to_owned(),
        }),
        _ => Err(Rejection::new(
            reason::MISSING_IDENTITY,
            "Patient.identifier",
            "no identifier with system and value, and no id",
        )),
    }
}
