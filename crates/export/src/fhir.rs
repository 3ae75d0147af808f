//! FHIR R4 bulk NDJSON: one file per resource type, one resource per line,
//! the way a FHIR Bulk Data `$export` writes them, plus `manifest.json` in
//! the shape of the bulk export's completion response.
//!
//! Codes carry the system URIs halsohub's FHIR reader maps back onto the
//! same code systems ([`halsohub_fhir::uri`]); units are UCUM; patients are
//! identified only by their project pseudonym.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use halsohub_codes::{CodeRegistry, System};
use halsohub_fhir::uri::{ACT_CODE, UCUM, class_code, system_uri};
use halsohub_store::{Domain, Setting};
use serde_json::{Map, Value, json};

use crate::data::{Ev, PersonOut, Strings, encounter_links};
use crate::error::{ExportError, io};

/// Base of the identifier system of project pseudonyms: the project's name
/// (percent-encoded) follows, so identifiers of two projects never share a
/// system.
pub const PROJECT_IDENTIFIER_SYSTEM: &str = "urn:halsohub:project-pseudonym:";
/// Extension on Encounter: the halsohub care setting (`inpatient`,
/// `outpatient`, `primary_care`), which `Encounter.class` cannot say fully;
/// the FHIR reader takes the setting from it before the class.
pub use halsohub_fhir::uri::CARE_SETTING_EXTENSION;
/// Extension on Encounter: the region (län code) of the care provider.
pub const PROVIDER_REGION_EXTENSION: &str = "urn:halsohub:fhir:StructureDefinition:provider-region";
/// Extension on every clinical resource: the halsohub source kind that
/// delivered the event (`par_inpatient`, `lab`, ...).
pub const SOURCE_EXTENSION: &str = "urn:halsohub:fhir:StructureDefinition:source";
/// Identifier system of care provider (unit) codes as the sources write them.
pub const PROVIDER_SYSTEM: &str = "urn:halsohub:provider";
/// LOINC code of a cause of death (written as an Observation with the
/// cause as its coded value).
const CAUSE_OF_DEATH_LOINC: &str = "69453-9";

/// The identifier system of `project`'s pseudonyms.
pub fn project_identifier_system(project: &str) -> String {
    let mut out = String::from(PROJECT_IDENTIFIER_SYSTEM);
    for b in project.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The resource types written, in file order.
pub const RESOURCE_TYPES: [&str; 8] = [
    "Patient",
    "Encounter",
    "Condition",
    "Observation",
    "Procedure",
    "MedicationDispense",
    "MedicationAdministration",
    "MedicationRequest",
];

struct Out {
    path: PathBuf,
    w: BufWriter<File>,
    count: u64,
}

/// The NDJSON files of one export, opened when their first resource comes.
pub(crate) struct FhirWriter {
    dir: PathBuf,
    files: BTreeMap<&'static str, Out>,
    registry: CodeRegistry,
    id_system: String,
    line: Vec<u8>,
}

fn date(d: chrono::NaiveDate) -> Value {
    Value::String(d.format("%Y-%m-%d").to_string())
}

impl FhirWriter {
    pub fn new(dir: &Path, project: &str) -> FhirWriter {
        FhirWriter {
            dir: dir.to_path_buf(),
            files: BTreeMap::new(),
            registry: CodeRegistry::builtin(),
            id_system: project_identifier_system(project),
            line: Vec::with_capacity(1024),
        }
    }

    fn write(&mut self, rt: &'static str, v: &Value) -> Result<(), ExportError> {
        if !self.files.contains_key(rt) {
            let path = self.dir.join(format!("{rt}.ndjson"));
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(io(&path))?;
            self.files.insert(
                rt,
                Out {
                    path,
                    w: BufWriter::with_capacity(1 << 20, f),
                    count: 0,
                },
            );
        }
        let Some(out) = self.files.get_mut(rt) else {
            return Ok(());
        };
        self.line.clear();
        serde_json::to_writer(&mut self.line, v).map_err(|e| ExportError::Write {
            path: out.path.clone(),
            message: e.to_string(),
        })?;
        self.line.push(b'\n');
        out.w.write_all(&self.line).map_err(io(&out.path))?;
        out.count += 1;
        Ok(())
    }

    fn coding(&self, strings: &Strings, system: u32, code: u32) -> Value {
        let sys = strings.get(system);
        let code = strings.get(code);
        let mut c = Map::new();
        c.insert("system".into(), Value::String(system_uri(sys).to_owned()));
        c.insert("code".into(), Value::String(code.to_owned()));
        if let Some(sys) = System::parse(sys)
            && let Some(e) = self.registry.lookup(&sys, code)
            && !e.title().is_empty()
        {
            c.insert("display".into(), Value::String(e.title().to_owned()));
        }
        json!({ "coding": [Value::Object(c)] })
    }

    /// Writes one person: the Patient and one resource per event.
    pub fn person(
        &mut self,
        p: &PersonOut,
        events: &[Ev],
        strings: &Strings,
    ) -> Result<(), ExportError> {
        let pid = p.hex();
        let subject = json!({ "reference": format!("Patient/{pid}") });
        self.write("Patient", &self.patient(p, &pid))?;
        let links = encounter_links(events);
        let ids: Vec<String> = (0..events.len()).map(|i| format!("{pid}-{i}")).collect();
        for (i, e) in events.iter().enumerate() {
            let id = ids.get(i).cloned().unwrap_or_default();
            let encounter = links
                .get(i)
                .copied()
                .flatten()
                .filter(|&j| j != i)
                .and_then(|j| ids.get(j))
                .map(|eid| json!({ "reference": format!("Encounter/{eid}") }));
            let source = json!({
                "url": SOURCE_EXTENSION,
                "valueString": strings.get(e.source),
            });
            let (rt, mut r) = match e.domain {
                Domain::Encounter => ("Encounter", self.encounter(e, strings)),
                Domain::Diagnosis => ("Condition", self.condition(e, strings)),
                Domain::LabResult => ("Observation", self.observation(e, strings, true)),
                Domain::Observation => ("Observation", self.observation(e, strings, false)),
                Domain::Procedure => ("Procedure", self.procedure(e, strings)),
                Domain::DispensedDrug => ("MedicationDispense", self.dispense(e, strings)),
                Domain::AdministeredDrug => {
                    ("MedicationAdministration", self.administration(e, strings))
                }
                Domain::PrescribedDrug => ("MedicationRequest", self.request(e, strings)),
                Domain::Death => match self.cause_of_death(e, strings) {
                    Some(r) => ("Observation", r),
                    // The date of death is Patient.deceasedDateTime.
                    None => continue,
                },
            };
            if let Some(o) = r.as_object_mut() {
                o.insert("resourceType".into(), Value::String(rt.into()));
                o.insert("id".into(), Value::String(id));
                match o.get_mut("extension").and_then(Value::as_array_mut) {
                    Some(ext) => ext.push(source),
                    None => {
                        o.insert("extension".into(), Value::Array(vec![source]));
                    }
                }
                o.insert("subject".into(), subject.clone());
                if let Some(enc) = encounter {
                    let key = if rt == "MedicationAdministration" {
                        "context"
                    } else {
                        "encounter"
                    };
                    o.insert(key.into(), enc);
                }
            }
            self.write(rt, &r)?;
        }
        Ok(())
    }

    fn patient(&self, p: &PersonOut, pid: &str) -> Value {
        let mut r = Map::new();
        r.insert("resourceType".into(), json!("Patient"));
        r.insert("id".into(), json!(pid));
        r.insert(
            "identifier".into(),
            json!([{ "use": "official", "system": self.id_system, "value": pid }]),
        );
        let gender = match p.sex {
            Some('F') => "female",
            Some('M') => "male",
            _ => "unknown",
        };
        r.insert("gender".into(), json!(gender));
        if let Some(b) = p.birth {
            r.insert("birthDate".into(), date(b));
        }
        if let Some(d) = p.death {
            r.insert("deceasedDateTime".into(), date(d));
        }
        // One home address per residence period: `state` the län code (the
        // sub-unit of the country), `district` the kommun code, `country`
        // ISO 3166 `SE`. halsohub's FHIR reader trusts exactly this shape
        // (a Swedish home address whose state is a län code) and reads it
        // back as the residence.
        if !p.residences.is_empty() {
            let addresses: Vec<Value> = p
                .residences
                .iter()
                .map(|res| {
                    let mut a = Map::new();
                    a.insert("use".into(), json!("home"));
                    a.insert("type".into(), json!("physical"));
                    if let Some(m) = &res.municipality {
                        a.insert("district".into(), json!(m));
                    }
                    a.insert("state".into(), json!(res.region));
                    a.insert("country".into(), json!("SE"));
                    let mut period = Map::new();
                    period.insert("start".into(), date(res.from));
                    if let Some(to) = res.to {
                        // Residences end exclusive; FHIR periods inclusive.
                        let last = to.pred_opt().unwrap_or(to);
                        period.insert("end".into(), date(last));
                    }
                    a.insert("period".into(), Value::Object(period));
                    Value::Object(a)
                })
                .collect();
            r.insert("address".into(), Value::Array(addresses));
        }
        Value::Object(r)
    }

    fn encounter(&self, e: &Ev, strings: &Strings) -> Value {
        let mut r = Map::new();
        r.insert("status".into(), json!("finished"));
        let setting = e.setting;
        let class = setting.map_or("AMB", class_code);
        r.insert("class".into(), json!({ "system": ACT_CODE, "code": class }));
        if !strings.get(e.code).is_empty() {
            r.insert(
                "type".into(),
                json!([self.coding(strings, e.system, e.code)]),
            );
        }
        let mut period = Map::new();
        period.insert("start".into(), date(e.start));
        if let Some(end) = e.end {
            period.insert("end".into(), date(end));
        }
        r.insert("period".into(), Value::Object(period));
        if let Some(p) = e.provider {
            r.insert(
                "serviceProvider".into(),
                json!({ "identifier": { "system": PROVIDER_SYSTEM, "value": strings.get(p) } }),
            );
        }
        let mut ext = Vec::new();
        if let Some(s) = setting {
            ext.push(json!({ "url": CARE_SETTING_EXTENSION, "valueCode": setting_str(s) }));
        }
        if let Some(reg) = e.provider_region {
            ext.push(json!({ "url": PROVIDER_REGION_EXTENSION, "valueString": strings.get(reg) }));
        }
        if !ext.is_empty() {
            r.insert("extension".into(), Value::Array(ext));
        }
        Value::Object(r)
    }

    fn condition(&self, e: &Ev, strings: &Strings) -> Value {
        let mut r = Map::new();
        r.insert(
            "category".into(),
            json!([{ "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                "code": "encounter-diagnosis" }] }]),
        );
        r.insert("code".into(), self.coding(strings, e.system, e.code));
        r.insert("onsetDateTime".into(), date(e.start));
        if let Some(end) = e.end {
            r.insert("abatementDateTime".into(), date(end));
        }
        if let Some(primary) = e.primary {
            // Main (huvuddiagnos) or secondary diagnosis, as FHIR's
            // diagnosis-role codes have no such pair.
            r.insert(
                "note".into(),
                json!([{ "text": if primary { "main diagnosis" } else { "secondary diagnosis" } }]),
            );
        }
        Value::Object(r)
    }

    fn observation(&self, e: &Ev, strings: &Strings, lab: bool) -> Value {
        let mut r = Map::new();
        r.insert("status".into(), json!("final"));
        let category = if lab { "laboratory" } else { "exam" };
        r.insert(
            "category".into(),
            json!([{ "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": category }] }]),
        );
        r.insert("code".into(), self.coding(strings, e.system, e.code));
        r.insert("effectiveDateTime".into(), date(e.start));
        if let Some(v) = e.value {
            match e.unit.map(|u| strings.get(u)).filter(|u| !u.is_empty()) {
                Some(unit) => {
                    let mut q = Map::new();
                    q.insert("value".into(), number(v));
                    if let Some(c) = e.comparator {
                        q.insert("comparator".into(), json!(c.as_str()));
                    }
                    q.insert("unit".into(), json!(unit));
                    q.insert("system".into(), json!(UCUM));
                    q.insert("code".into(), json!(unit));
                    r.insert("valueQuantity".into(), Value::Object(q));
                }
                None if e.comparator.is_none() && v.fract() == 0.0 && v.abs() < 2.0e9 => {
                    r.insert("valueInteger".into(), json!(v as i64));
                }
                None => {
                    let mut q = Map::new();
                    q.insert("value".into(), number(v));
                    if let Some(c) = e.comparator {
                        q.insert("comparator".into(), json!(c.as_str()));
                    }
                    q.insert("unit".into(), json!("1"));
                    q.insert("system".into(), json!(UCUM));
                    q.insert("code".into(), json!("1"));
                    r.insert("valueQuantity".into(), Value::Object(q));
                }
            }
        } else if let (Some(vs), Some(vc)) = (e.value_system, e.value_code) {
            r.insert("valueCodeableConcept".into(), self.coding(strings, vs, vc));
        } else if let Some(t) = e.value_text {
            match strings.get(t) {
                "true" => r.insert("valueBoolean".into(), json!(true)),
                "false" => r.insert("valueBoolean".into(), json!(false)),
                text => r.insert("valueString".into(), json!(text)),
            };
        }
        Value::Object(r)
    }

    fn cause_of_death(&self, e: &Ev, strings: &Strings) -> Option<Value> {
        if strings.get(e.code).is_empty() {
            return None;
        }
        let mut r = Map::new();
        r.insert("status".into(), json!("final"));
        r.insert(
            "code".into(),
            json!({ "coding": [{ "system": "http://loinc.org", "code": CAUSE_OF_DEATH_LOINC,
                "display": "Cause of death" }] }),
        );
        r.insert("effectiveDateTime".into(), date(e.start));
        r.insert(
            "valueCodeableConcept".into(),
            self.coding(strings, e.system, e.code),
        );
        if let Some(primary) = e.primary {
            r.insert(
                "note".into(),
                json!([{ "text": if primary { "underlying cause" } else { "contributing cause" } }]),
            );
        }
        Some(Value::Object(r))
    }

    fn procedure(&self, e: &Ev, strings: &Strings) -> Value {
        let mut r = Map::new();
        r.insert("status".into(), json!("completed"));
        r.insert("code".into(), self.coding(strings, e.system, e.code));
        match e.end {
            Some(end) => r.insert(
                "performedPeriod".into(),
                json!({ "start": date(e.start), "end": date(end) }),
            ),
            None => r.insert("performedDateTime".into(), date(e.start)),
        };
        Value::Object(r)
    }

    fn quantity(&self, e: &Ev, strings: &Strings) -> Option<Value> {
        let v = e.quantity?;
        let mut q = Map::new();
        q.insert("value".into(), number(v));
        if let Some(u) = e.unit.map(|u| strings.get(u)).filter(|u| !u.is_empty()) {
            q.insert("unit".into(), json!(u));
            q.insert("system".into(), json!(UCUM));
            q.insert("code".into(), json!(u));
        }
        Some(Value::Object(q))
    }

    fn dispense(&self, e: &Ev, strings: &Strings) -> Value {
        let mut r = Map::new();
        r.insert("status".into(), json!("completed"));
        r.insert(
            "medicationCodeableConcept".into(),
            self.coding(strings, e.system, e.code),
        );
        if let Some(q) = self.quantity(e, strings) {
            r.insert("quantity".into(), q);
        }
        r.insert("whenHandedOver".into(), date(e.start));
        Value::Object(r)
    }

    fn administration(&self, e: &Ev, strings: &Strings) -> Value {
        let mut r = Map::new();
        r.insert("status".into(), json!("completed"));
        r.insert(
            "medicationCodeableConcept".into(),
            self.coding(strings, e.system, e.code),
        );
        match e.end {
            Some(end) => r.insert(
                "effectivePeriod".into(),
                json!({ "start": date(e.start), "end": date(end) }),
            ),
            None => r.insert("effectiveDateTime".into(), date(e.start)),
        };
        if let Some(q) = self.quantity(e, strings) {
            r.insert("dosage".into(), json!({ "dose": q }));
        }
        Value::Object(r)
    }

    fn request(&self, e: &Ev, strings: &Strings) -> Value {
        let mut r = Map::new();
        r.insert("status".into(), json!("completed"));
        r.insert("intent".into(), json!("order"));
        r.insert(
            "medicationCodeableConcept".into(),
            self.coding(strings, e.system, e.code),
        );
        r.insert("authoredOn".into(), date(e.start));
        if let Some(q) = self.quantity(e, strings) {
            r.insert("dispenseRequest".into(), json!({ "quantity": q }));
        }
        Value::Object(r)
    }

    /// Flushes and syncs every file; returns (resource type, file name,
    /// resources) in file order.
    pub fn finish(self) -> Result<Vec<(String, String, u64)>, ExportError> {
        let mut out = Vec::new();
        let mut files = self.files;
        for rt in RESOURCE_TYPES {
            let Some(f) = files.remove(rt) else {
                continue;
            };
            let file = f.w.into_inner().map_err(|e| io(&f.path)(e.into_error()))?;
            file.sync_all().map_err(io(&f.path))?;
            out.push((rt.to_owned(), format!("{rt}.ndjson"), f.count));
        }
        Ok(out)
    }
}

fn setting_str(s: Setting) -> &'static str {
    s.as_str()
}

/// A JSON number; integers without a fraction.
fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}
