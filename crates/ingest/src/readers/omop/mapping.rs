//! Row mapping: one row of a CDM table becomes events, a person, a
//! residence, or an entry of what the table exports to its folder.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::NaiveDate;
use halsohub_codes::{System, UnitError, units};
use halsohub_identity::Pseudonym;
use halsohub_omop::concept::{
    comparator_of_operator, drug_domain, primary_of_condition_status, setting_of_visit_row,
    sex_of_gender,
};
use halsohub_omop::{OMOP_CONCEPT_SYSTEM, Table, system_for_vocabulary};
use halsohub_store::{Comparator, Domain, Event, Person, Residence};

use super::super::register::LAN_CODES;
use super::super::{FastMap, FastSet, FileCtx};
use super::fields::Row;
use super::folder::{Folder, Place, Resolved, Site, Visit, VisitContext, source_scope};
use crate::reject::{Reject, omop as why};
use crate::text::{self, MAX_YEAR, MIN_YEAR};

/// A code of an event, before it becomes one.
pub(super) struct Code {
    pub(super) system: Arc<str>,
    pub(super) code: String,
    pub(super) known: bool,
}

/// Per-file state of the table mapping.
pub(super) struct Mapper<'f> {
    pub(super) table: Table,
    pub(super) folder: Option<&'f Folder>,
    pub(super) scope: String,
    pub(super) source: &'static str,
    /// Primary keys (or death persons) seen in this file.
    pub(super) seen: FastSet<i64>,
    /// Rows whose primary key an earlier row of the file already had.
    pub(super) reused_keys: u64,
    /// What this file exports (reference tables).
    pub(super) concepts: FastMap<i64, Resolved>,
    pub(super) persons: FastMap<i64, Option<Pseudonym>>,
    pub(super) places: FastMap<i64, Place>,
    pub(super) locations: FastMap<i64, Place>,
    pub(super) care_sites: FastMap<i64, Site>,
    pub(super) visits: FastMap<i64, Visit>,
    pub(super) source_scope: Option<String>,
    pub(super) systems: FastMap<String, Arc<str>>,
}

/// `Event::source` of a table's events.
pub(super) fn source_name(table: Table) -> &'static str {
    match table {
        Table::VisitOccurrence => "omop_visit_occurrence",
        Table::ConditionOccurrence => "omop_condition_occurrence",
        Table::DrugExposure => "omop_drug_exposure",
        Table::ProcedureOccurrence => "omop_procedure_occurrence",
        Table::Measurement => "omop_measurement",
        Table::Observation => "omop_observation",
        Table::Death => "omop_death",
        Table::Person => "omop_person",
        _ => "omop",
    }
}

/// Whether text is shaped like a Swedish identity number (10 or 12 digits,
/// optionally with `-` or `+` before the last four).
pub(super) fn looks_swedish(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits != 10 && digits != 12 {
        return false;
    }
    match b.len() - digits {
        0 => true,
        1 => b.len() >= 5 && matches!(b.get(b.len() - 5), Some(b'-' | b'+')),
        _ => false,
    }
}

pub(super) fn event(
    patient: Pseudonym,
    domain: Domain,
    code: Option<&Code>,
    start: NaiveDate,
    source: &str,
) -> Event {
    let (system, code, known) = match code {
        Some(c) => (c.system.to_string(), c.code.clone(), c.known),
        None => (String::new(), String::new(), true),
    };
    Event::new(patient, domain, (system, code, known), start, source)
}

impl Mapper<'_> {
    pub(super) fn system(&mut self, id: &str) -> Arc<str> {
        if let Some(s) = self.systems.get(id) {
            return s.clone();
        }
        let s: Arc<str> = Arc::from(id);
        self.systems.insert(id.to_owned(), s.clone());
        s
    }

    pub(super) fn map(&mut self, row: &Row<'_>, ctx: &mut FileCtx<'_>) -> Result<(), Reject> {
        match self.table {
            Table::CdmSource => self.cdm_source(row),
            Table::Concept => self.concept(row, ctx),
            Table::Person => self.person(row, ctx),
            Table::ObservationPeriod => self.observation_period(row, ctx),
            Table::VisitOccurrence => self.visit(row, ctx),
            Table::ConditionOccurrence => self.clinical(row, ctx),
            Table::DrugExposure => self.clinical(row, ctx),
            Table::ProcedureOccurrence => self.clinical(row, ctx),
            Table::Measurement => self.clinical(row, ctx),
            Table::Observation => self.clinical(row, ctx),
            Table::Death => self.death(row, ctx),
            Table::Location => self.location(row),
            Table::CareSite => self.care_site(row),
            _ => Ok(()),
        }
    }

    /// Checks the primary key of an event table: it must be an integer
    /// when present; a repeat (with other content: exact repeats are
    /// `duplicate_row`) is counted, not rejected, since halsohub does not
    /// link by event ids (Eunomia numbers drug exposures from medications
    /// and from immunizations separately, so ids collide).
    pub(super) fn key(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let Some(pk) = self.table.primary_key() else {
            return Ok(());
        };
        if let Some(id) = row.int(pk)?
            && !self.seen.insert(id)
        {
            self.reused_keys += 1;
        }
        Ok(())
    }

    /// The person of the row's `person_id`.
    pub(super) fn patient(
        &self,
        row: &Row<'_>,
        ctx: &mut FileCtx<'_>,
    ) -> Result<Pseudonym, Reject> {
        let id = row.required_int("person_id")?;
        let persons = self.folder.and_then(|f| f.persons.as_ref());
        let Some(persons) = persons else {
            return Err(Reject::new(
                why::UNKNOWN_PERSON,
                "person_id",
                "the folder has no person table to look the person up in",
            ));
        };
        match persons.get(&id) {
            Some(Some(p)) => {
                ctx.row.patient = Some(*p);
                Ok(*p)
            }
            Some(None) => Err(Reject::new(
                why::PERSON_REJECTED,
                "person_id",
                "the person's row in the person table was rejected",
            )),
            None => Err(Reject::new(
                why::UNKNOWN_PERSON,
                "person_id",
                format!("{id} is not in the person table"),
            )),
        }
    }

    pub(super) fn cdm_source(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let name = row.required("cdm_source_name")?;
        if self.source_scope.is_some() {
            return Err(Reject::new(
                why::DUPLICATE_ID,
                "row",
                "cdm_source holds one row; the first names the data holder",
            ));
        }
        let holder = row.get("cdm_holder").unwrap_or_default();
        self.source_scope = Some(source_scope(&holder, &name));
        Ok(())
    }

    pub(super) fn concept(&mut self, row: &Row<'_>, ctx: &FileCtx<'_>) -> Result<(), Reject> {
        let id = row.required_int("concept_id")?;
        if !self.seen.insert(id) {
            return Err(Reject::new(
                why::DUPLICATE_ID,
                "concept_id",
                "the same id as an earlier row of this file",
            ));
        }
        let vocabulary = row.required("vocabulary_id")?;
        let code = row.required("concept_code")?;
        let Some(system_id) = system_for_vocabulary(&vocabulary) else {
            // Vocabulary "None" (concept 0, "No matching concept").
            return Ok(());
        };
        let (code, known) = normalise(ctx, &system_id, &code)
            .map_err(|w| Reject::with_value(why::INVALID_CODE, "concept_code", w, &code))?;
        let system = self.system(&system_id);
        self.concepts.insert(
            id,
            Resolved {
                system,
                code: code.into_boxed_str(),
                known,
            },
        );
        Ok(())
    }

    pub(super) fn person(&mut self, row: &Row<'_>, ctx: &mut FileCtx<'_>) -> Result<(), Reject> {
        let id = row.required_int("person_id")?;
        if !self.seen.insert(id) {
            return Err(Reject::new(
                why::DUPLICATE_ID,
                "person_id",
                "the same person_id as an earlier row of this file",
            ));
        }
        // A rejected person row makes the person's events
        // `omop.person_rejected`; replaced below when it is accepted.
        self.persons.insert(id, None);
        let source_value = row.get("person_source_value");
        let (patient, guessed) = match source_value.as_deref() {
            Some(t) if looks_swedish(t) => {
                let r = ctx
                    .ids
                    .get(t)
                    .map_err(|e| Reject::identity("person_source_value", &e))?;
                (r.person, r.century_guessed)
            }
            _ => (ctx.ids.scoped(&self.scope, &id.to_string()), false),
        };
        ctx.row.patient = Some(patient);
        ctx.row.century_guessed = guessed;
        let sex = sex_of_gender(row.concept("gender_concept_id")?);
        let birth = match row.get("birth_datetime") {
            Some(t) => Some(row.date_of("birth_datetime", &t)?),
            // The CDM requires a year of birth, but a holder that does not
            // know it (and a halsohub export of such a person) leaves it
            // empty: the person and their events are kept, birth unknown.
            None if row.get("year_of_birth").is_none() => None,
            None => {
                let year = row.required_int("year_of_birth")?;
                let month = row.int("month_of_birth")?;
                let day = row.int("day_of_birth")?;
                let (m, d) = match (month, day) {
                    (None, _) => (7, 1),
                    (Some(m), None) => (m, 15),
                    (Some(m), Some(d)) => (m, d),
                };
                ctx.row.imputed_date = month.is_none() || day.is_none();
                let ok = (i64::from(MIN_YEAR)..=i64::from(MAX_YEAR)).contains(&year)
                    && (1..=12).contains(&m)
                    && (1..=31).contains(&d);
                let date = ok
                    .then(|| NaiveDate::from_ymd_opt(year as i32, m as u32, d as u32))
                    .flatten();
                Some(date.ok_or_else(|| {
                    Reject::new(
                        why::INVALID_DATE,
                        "year_of_birth",
                        format!("{year}-{m:02}-{d:02} (year, month_of_birth, day_of_birth) is not a date"),
                    )
                })?)
            }
        };
        // The person's location, when a Swedish region: their residence
        // over each of their observation periods (read later).
        let location = row.int("location_id")?;
        if let Some(place) = self.folder.and_then(|f| f.place(location)) {
            self.places.insert(id, place.clone());
        }
        ctx.row.person = Some(Person {
            patient,
            sex,
            birth_date: birth,
            death_date: None,
        });
        self.persons.insert(id, Some(patient));
        Ok(())
    }

    /// An `observation_period` row: validated; for a person whose
    /// location is a Swedish region, the residence in that region over the
    /// period (the CDM holds one location per person, not its history).
    pub(super) fn observation_period(
        &mut self,
        row: &Row<'_>,
        ctx: &mut FileCtx<'_>,
    ) -> Result<(), Reject> {
        self.key(row)?;
        let patient = self.patient(row, ctx)?;
        let start = row.date(
            "observation_period_start_date",
            "observation_period_start_date",
        )?;
        let end = row.date("observation_period_end_date", "observation_period_end_date")?;
        ends_after(start, Some(end), "observation_period_end_date")?;
        let place = self
            .folder
            .zip(row.int("person_id")?)
            .and_then(|(f, id)| f.places.get(&id));
        if let Some(place) = place {
            ctx.row.residences.push(Residence {
                patient,
                region: place.region.to_string(),
                municipality: place.municipality.as_deref().map(str::to_owned),
                from: start,
                // Residence ends are exclusive, period ends inclusive.
                to: end.succ_opt(),
            });
        }
        Ok(())
    }

    /// A `location` row: a Swedish region when `state` (else `county`) is
    /// a län code and the country, if given, is Sweden; other locations
    /// are accepted and left out.
    pub(super) fn location(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let id = row.required_int("location_id")?;
        if !self.seen.insert(id) {
            return Err(Reject::new(
                why::DUPLICATE_ID,
                "location_id",
                "the same id as an earlier row of this file",
            ));
        }
        let sweden = row.get("country_source_value").is_none_or(|c| {
            ["se", "swe", "sweden", "sverige"].contains(&c.to_lowercase().as_str())
        });
        if !sweden {
            return Ok(());
        }
        let is_lan = |t: &Cow<'_, str>| LAN_CODES.contains(&t.as_ref());
        let (region, municipality) = match row.get("state").filter(is_lan) {
            Some(r) => (r, row.get("county")),
            None => match row.get("county").filter(is_lan) {
                Some(r) => (r, None),
                None => return Ok(()),
            },
        };
        let municipality = municipality
            .filter(|m| text::is_digits(m, 4) && m.starts_with(region.as_ref()))
            .map(|m| m.as_ref().into());
        self.locations.insert(
            id,
            Place {
                region: region.as_ref().into(),
                municipality,
            },
        );
        Ok(())
    }

    /// A `care_site` row: its provider code and location.
    pub(super) fn care_site(&mut self, row: &Row<'_>) -> Result<(), Reject> {
        let id = row.required_int("care_site_id")?;
        if !self.seen.insert(id) {
            return Err(Reject::new(
                why::DUPLICATE_ID,
                "care_site_id",
                "the same id as an earlier row of this file",
            ));
        }
        let provider = row
            .get("care_site_source_value")
            .or_else(|| row.get("care_site_name"))
            .map(|p| p.as_ref().into());
        let location = row.int("location_id")?;
        self.care_sites.insert(id, Site { provider, location });
        Ok(())
    }

    /// The setting and provider (with its region) an event takes from its
    /// `visit_occurrence_id`: the folder's visit of the same person.
    pub(super) fn visit_of(&self, row: &Row<'_>) -> Result<VisitContext, Reject> {
        let none = (None, None, None);
        let Some(id) = row.int("visit_occurrence_id")? else {
            return Ok(none);
        };
        let (Some(folder), Some(person)) = (self.folder, row.int("person_id")?) else {
            return Ok(none);
        };
        let Some(v) = folder.visits.get(&id).filter(|v| v.person == person) else {
            return Ok(none);
        };
        let (provider, region) = folder.site(v.care_site);
        Ok((v.setting, provider, region))
    }

    pub(super) fn visit(&mut self, row: &Row<'_>, ctx: &mut FileCtx<'_>) -> Result<(), Reject> {
        self.key(row)?;
        let patient = self.patient(row, ctx)?;
        let start = row.date("visit_start_date", "visit_start_datetime")?;
        let end = row.opt_date("visit_end_date", "visit_end_datetime")?;
        ends_after(start, end, "visit_end_date")?;
        let setting = setting_of_visit_row(
            row.concept("visit_concept_id")?,
            row.get("visit_source_value").as_deref(),
        );
        let care_site = row.int("care_site_id")?;
        let (provider, region) = self.folder.map_or((None, None), |f| f.site(care_site));
        let mut e = event(patient, Domain::Encounter, None, start, self.source);
        e.end = end;
        e.setting = setting;
        e.provider = provider;
        e.provider_region = region;
        ctx.row.events.push(e);
        if let Some(id) = row.int("visit_occurrence_id")?
            && (setting.is_some() || care_site.is_some())
        {
            let person = row.required_int("person_id")?;
            self.visits.entry(id).or_insert(Visit {
                person,
                setting,
                care_site,
            });
        }
        Ok(())
    }

    /// The codes of a row: the source concept first (it carries the
    /// original code, e.g. ICD10CM K92.2), then the standard concept (e.g.
    /// SNOMED 192671), each once.
    pub(super) fn codes(
        &self,
        row: &Row<'_>,
        concept: &str,
        source: &str,
        ctx: &mut FileCtx<'_>,
    ) -> Result<Vec<Code>, Reject> {
        let ids = [row.concept(source)?, row.concept(concept)?];
        let mut out: Vec<Code> = Vec::with_capacity(2);
        for id in ids {
            let Some(c) = self.resolve(id) else { continue };
            if out.iter().any(|o| o.system == c.system && o.code == c.code) {
                continue;
            }
            if !c.known {
                ctx.row.unknown.push(format!("{}:{}", c.system, c.code));
            }
            out.push(c);
        }
        if out.is_empty() {
            return Err(Reject::new(
                why::MISSING_CONCEPT,
                concept,
                format!(
                    "{concept} and {source} are 0 or empty (no concept); a source value alone has no code system"
                ),
            ));
        }
        Ok(out)
    }

    /// A concept id as a code: resolved through the folder's concept
    /// table, else `omop` + the id (flagged unknown). `None` for 0.
    pub(super) fn resolve(&self, id: i64) -> Option<Code> {
        if id == 0 {
            return None;
        }
        match self
            .folder
            .and_then(|f| f.concepts.as_ref())
            .and_then(|c| c.get(&id))
        {
            Some(r) => Some(Code {
                system: r.system.clone(),
                code: r.code.to_string(),
                known: r.known,
            }),
            None => Some(Code {
                system: Arc::from(OMOP_CONCEPT_SYSTEM),
                code: id.to_string(),
                known: false,
            }),
        }
    }

    pub(super) fn clinical(&mut self, row: &Row<'_>, ctx: &mut FileCtx<'_>) -> Result<(), Reject> {
        self.key(row)?;
        let patient = self.patient(row, ctx)?;
        let (prefix, date, datetime, end_cols) = match self.table {
            Table::ConditionOccurrence => (
                "condition",
                "condition_start_date",
                "condition_start_datetime",
                Some(("condition_end_date", "condition_end_datetime")),
            ),
            Table::DrugExposure => (
                "drug",
                "drug_exposure_start_date",
                "drug_exposure_start_datetime",
                Some(("drug_exposure_end_date", "drug_exposure_end_datetime")),
            ),
            Table::ProcedureOccurrence => (
                "procedure",
                "procedure_date",
                "procedure_datetime",
                Some(("procedure_end_date", "procedure_end_datetime")),
            ),
            Table::Measurement => (
                "measurement",
                "measurement_date",
                "measurement_datetime",
                None,
            ),
            _ => (
                "observation",
                "observation_date",
                "observation_datetime",
                None,
            ),
        };
        let start = row.date(date, datetime)?;
        let end = match end_cols {
            Some((d, dt)) => {
                let end = row.opt_date(d, dt)?;
                ends_after(start, end, d)?;
                end
            }
            None => None,
        };
        let concept_col = format!("{prefix}_concept_id");
        let source_col = format!("{prefix}_source_concept_id");
        let codes = self.codes(row, &concept_col, &source_col, ctx)?;
        let (setting, provider, provider_region) = self.visit_of(row)?;
        let mut domain = match self.table {
            Table::ConditionOccurrence => Domain::Diagnosis,
            Table::ProcedureOccurrence => Domain::Procedure,
            Table::Measurement => Domain::LabResult,
            Table::Observation => Domain::Observation,
            _ => Domain::PrescribedDrug,
        };
        let mut primary = None;
        let mut quantity = None;
        match self.table {
            Table::ConditionOccurrence => {
                primary = primary_of_condition_status(row.concept("condition_status_concept_id")?);
            }
            Table::DrugExposure => {
                domain = drug_domain(row.concept("drug_type_concept_id")?).0;
                quantity = row.number("quantity")?.filter(|q| *q > 0.0);
            }
            _ => {}
        }
        let valued = matches!(self.table, Table::Measurement | Table::Observation);
        let mut value = None;
        let mut comparator: Option<Comparator> = None;
        let mut unit: Option<String> = None;
        let mut value_code: Option<Code> = None;
        let mut value_text: Option<String> = None;
        if valued {
            value = row.number("value_as_number")?;
            if self.table == Table::Measurement {
                let op = row.concept("operator_concept_id")?;
                comparator = comparator_of_operator(op).ok_or_else(|| {
                    Reject::new(
                        why::UNKNOWN_OPERATOR,
                        "operator_concept_id",
                        format!("{op} is not one of the operator concepts <, <=, =, >=, >"),
                    )
                })?;
            }
            if value.is_some() {
                unit = self.unit(row)?;
            }
            value_code = self.resolve(row.concept("value_as_concept_id")?);
            value_text = row.get("value_as_string").map(|t| t.into_owned());
        }
        for c in &codes {
            let mut e = event(patient, domain, Some(c), start, self.source);
            e.end = end;
            e.primary = primary;
            e.quantity = quantity;
            e.setting = setting;
            e.provider.clone_from(&provider);
            e.provider_region.clone_from(&provider_region);
            if let Some(v) = value {
                let (v, u) = convert(c, v, unit.as_deref())?;
                e.value = Some(v);
                e.unit = u;
                e.comparator = comparator;
            }
            if let Some(vc) = &value_code {
                e.value_system = Some(vc.system.to_string());
                e.value_code = Some(vc.code.clone());
            }
            e.value_text.clone_from(&value_text);
            ctx.row.events.push(e);
        }
        Ok(())
    }

    /// The written unit of a value: the unit concept's code (UCUM), else
    /// `unit_source_value`.
    pub(super) fn unit(&self, row: &Row<'_>) -> Result<Option<String>, Reject> {
        let id = row.concept("unit_concept_id")?;
        if let Some(c) = self.resolve(id)
            && &*c.system != OMOP_CONCEPT_SYSTEM
        {
            return Ok(Some(c.code));
        }
        Ok(row.get("unit_source_value").map(|u| u.into_owned()))
    }

    pub(super) fn death(&mut self, row: &Row<'_>, ctx: &mut FileCtx<'_>) -> Result<(), Reject> {
        let patient = self.patient(row, ctx)?;
        let id = row.required_int("person_id")?;
        let date = row.date("death_date", "death_datetime")?;
        if !self.seen.insert(id) {
            return Err(Reject::new(
                why::DUPLICATE_ID,
                "person_id",
                "a second death row for the person",
            ));
        }
        let mut codes = Vec::new();
        for col in ["cause_source_concept_id", "cause_concept_id"] {
            if let Some(c) = self.resolve(row.concept(col)?)
                && !codes
                    .iter()
                    .any(|o: &Code| o.system == c.system && o.code == c.code)
            {
                if !c.known {
                    ctx.row.unknown.push(format!("{}:{}", c.system, c.code));
                }
                codes.push(c);
            }
        }
        if codes.is_empty() {
            ctx.row
                .events
                .push(event(patient, Domain::Death, None, date, self.source));
        }
        for c in &codes {
            let mut e = event(patient, Domain::Death, Some(c), date, self.source);
            e.primary = Some(true);
            ctx.row.events.push(e);
        }
        ctx.row.person = Some(Person {
            patient,
            sex: None,
            birth_date: None,
            death_date: Some(date),
        });
        Ok(())
    }
}

pub(super) fn ends_after(
    start: NaiveDate,
    end: Option<NaiveDate>,
    column: &str,
) -> Result<(), Reject> {
    match end {
        Some(e) if e < start => Err(Reject::new(
            why::PERIOD_ENDS_BEFORE_START,
            column,
            "ends before the start date",
        )),
        _ => Ok(()),
    }
}

/// A concept code normalised for its halsohub system.
pub(super) fn normalise(
    ctx: &FileCtx<'_>,
    system_id: &str,
    raw: &str,
) -> Result<(String, bool), String> {
    let system = System::parse(system_id).unwrap_or(System::Other(system_id.to_owned()));
    ctx.coder.code_in(&system, raw)
}

/// The value of an event in its analyte's canonical unit (halsohub's lab
/// analytes), else in the written unit (UCUM spelling when known). A known
/// analyte needs a unit.
pub(super) fn convert(
    code: &Code,
    value: f64,
    unit: Option<&str>,
) -> Result<(f64, Option<String>), Reject> {
    let system = System::parse(&code.system).unwrap_or(System::Other(code.system.to_string()));
    let Some(unit) = unit else {
        if let Some(a) = units::analyte_for(&system, &code.code) {
            return Err(Reject::new(
                why::VALUE_WITHOUT_UNIT,
                "unit_concept_id",
                format!(
                    "a value of {} needs a unit (unit_concept_id and unit_source_value are empty)",
                    a.id
                ),
            ));
        }
        return Ok((value, None));
    };
    match units::to_canonical(&system, &code.code, value, unit) {
        Ok((v, u)) => Ok((v, Some(u.to_owned()))),
        Err(UnitError::UnknownAnalyte { .. }) => Ok((
            value,
            Some(
                units::normalise_unit(unit)
                    .map(str::to_owned)
                    .unwrap_or_else(|_| unit.trim().to_owned()),
            ),
        )),
        Err(e) => Err(Reject::with_value(
            why::INCOMPATIBLE_UNIT,
            "unit_concept_id",
            e,
            unit,
        )),
    }
}
