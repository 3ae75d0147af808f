//! Row mapping of the Swedish register formats (`docs/formats.md`).
//!
//! Each function validates one row completely before it produces anything,
//! so a row is either accepted whole or rejected whole.

use chrono::NaiveDate;
use halsohub_identity::Pseudonym;
use halsohub_store::{Domain, Event, Person, Residence, Setting};

use super::{Row, RowOut};
use halsohub_codes::System;

use crate::coding::Coder;
use crate::format::Format;
use crate::pseudo::IdCache;
use crate::reject::{self, Reject};
use crate::text;

/// The 21 län codes.
pub(crate) const LAN_CODES: [&str; 21] = [
    "01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13", "14", "17", "18", "19", "20",
    "21", "22", "23", "24", "25",
];

/// Maps one row of `format` into `out`.
pub(crate) fn map_row(
    format: Format,
    row: &Row<'_>,
    ids: &mut IdCache<'_>,
    coder: &Coder,
    holder_region: Option<&str>,
    out: &mut RowOut,
) -> Result<(), Reject> {
    let mut m = Mapper {
        row,
        ids,
        coder,
        out,
        source: format.name(),
    };
    match format {
        Format::Population => m.population(),
        Format::IdChanges => m.id_change(),
        Format::ParInpatient => m.patient_register(true),
        Format::ParOutpatient => m.patient_register(false),
        Format::PrescribedDrugs => m.prescribed(),
        Format::CauseOfDeath => m.cause_of_death(),
        Format::PrimaryCare => m.primary_care(holder_region),
        Format::AdministeredDrugs => m.administered(holder_region),
        Format::Lab => m.lab(holder_region),
        // FHIR files have their own reader and never reach this mapping.
        Format::Fhir | Format::Omop => Err(Reject::new(
            reject::WRONG_COLUMN_COUNT,
            "row",
            "a FHIR or OMOP file read as a register file",
        )),
    }
}

struct Mapper<'m, 'r, 'c> {
    row: &'m Row<'r>,
    ids: &'m mut IdCache<'c>,
    coder: &'m Coder,
    out: &'m mut RowOut,
    source: &'static str,
}

/// A validated code, before it becomes an event.
struct Code {
    sys: System,
    code: String,
    known: bool,
}

impl Mapper<'_, '_, '_> {
    fn name(&self, k: usize) -> &'static str {
        self.row.name(k)
    }

    /// The person of column `k` (after id changes); remembered for the
    /// quarantine if a later field fails.
    fn person(&mut self, k: usize) -> Result<Pseudonym, Reject> {
        let text = self.row.required(k)?;
        let r = self
            .ids
            .get(&text)
            .map_err(|e| Reject::identity(self.name(k), &e))?;
        self.out.patient = Some(r.person);
        self.out.century_guessed |= r.century_guessed;
        Ok(r.person)
    }

    fn date(&self, k: usize) -> Result<NaiveDate, Reject> {
        let t = self.row.required(k)?;
        text::parse_date(&t).map_err(|e| Reject::value(self.name(k), e, &t))
    }

    fn opt_date(&self, k: usize) -> Result<Option<NaiveDate>, Reject> {
        match self.row.optional(k) {
            None => Ok(None),
            Some(t) => text::parse_date(&t)
                .map(Some)
                .map_err(|e| Reject::value(self.name(k), e, &t)),
        }
    }

    fn code_value(&self, k: usize, sys: &System, raw: &str) -> Result<Code, Reject> {
        match self.coder.code_in(sys, raw) {
            Ok((code, known)) => Ok(Code {
                sys: sys.clone(),
                code,
                known,
            }),
            Err(why) => Err(Reject::with_value(
                reject::INVALID_CODE,
                self.name(k),
                why,
                raw,
            )),
        }
    }

    fn code(&self, k: usize, sys: &System) -> Result<Code, Reject> {
        let t = self.row.required(k)?;
        self.code_value(k, sys, &t)
    }

    fn codes(&self, k: usize, sys: &System) -> Result<Vec<Code>, Reject> {
        match self.row.optional(k) {
            None => Ok(Vec::new()),
            Some(t) => text::codes(&t)
                .map(|c| self.code_value(k, sys, c))
                .collect(),
        }
    }

    fn quantity(&self, k: usize) -> Result<f64, Reject> {
        let t = self.row.required(k)?;
        text::parse_quantity(&t).map_err(|e| Reject::value(self.name(k), e, &t))
    }

    /// An event of the row with the common fields filled in.
    fn event(
        &mut self,
        patient: Pseudonym,
        domain: Domain,
        code: Option<Code>,
        start: NaiveDate,
    ) -> Event {
        let (system, code, known) = match code {
            Some(c) => {
                if !c.known {
                    self.out.unknown.push(format!("{}:{}", c.sys.id(), c.code));
                }
                (c.sys.id().to_owned(), c.code, c.known)
            }
            None => (String::new(), String::new(), true),
        };
        Event::new(patient, domain, (system, code, known), start, self.source)
    }

    fn push(&mut self, e: Event) {
        self.out.events.push(e);
    }

    /// Sets setting and provider on every event of the row.
    fn stamp(&mut self, setting: Option<Setting>, provider: Option<&str>, region: Option<&str>) {
        for e in &mut self.out.events {
            e.setting = setting;
            e.provider = provider.map(str::to_owned);
            e.provider_region = region.map(str::to_owned);
        }
    }

    /// A hospital code: five digits, the first two a län code.
    fn hospital(&self, k: usize) -> Result<(String, String), Reject> {
        let t = self.row.required(k)?;
        if !text::is_digits(&t, 5) {
            return Err(Reject::with_value(
                reject::UNPARSEABLE_VALUE,
                self.name(k),
                "expected a five-digit hospital code",
                &t,
            ));
        }
        let region = t.get(..2).unwrap_or_default().to_owned();
        if !LAN_CODES.contains(&region.as_str()) {
            return Err(Reject::with_value(
                reject::INVALID_CODE,
                self.name(k),
                "the first two digits are not a län code",
                &t,
            ));
        }
        Ok((t.into_owned(), region))
    }

    // PERSONNR;INDATUM;UTDATUM;HDIA;DIAGNOS;OP;SJUKHUS;MVO
    // PERSONNR;INDATUM;HDIA;DIAGNOS;OP;SJUKHUS;MVO
    fn patient_register(&mut self, inpatient: bool) -> Result<(), Reject> {
        let shift = usize::from(inpatient);
        let (c_in, c_hdia, c_diag, c_op, c_sjh, c_mvo) =
            (1, 2 + shift, 3 + shift, 4 + shift, 5 + shift, 6 + shift);
        let patient = self.person(0)?;
        let start = self.date(c_in)?;
        let end = if inpatient {
            let end = self.date(2)?;
            if end < start {
                return Err(Reject::new(
                    reject::IMPOSSIBLE_DATE,
                    self.name(2),
                    "discharge date is before the admission date",
                ));
            }
            Some(end)
        } else {
            None
        };
        let main = self.code(c_hdia, &System::Icd10Se)?;
        let all = self.codes(c_diag, &System::Icd10Se)?;
        let procedures = self.codes(c_op, &System::Kva)?;
        let (hospital, region) = self.hospital(c_sjh)?;
        if let Some(mvo) = self.row.optional(c_mvo)
            && !text::is_digits(&mvo, 3)
        {
            return Err(Reject::with_value(
                reject::UNPARSEABLE_VALUE,
                self.name(c_mvo),
                "expected a three-digit specialty code",
                &mvo,
            ));
        }
        let main_code = main.code.clone();
        let e = self.event(patient, Domain::Encounter, None, start);
        self.push(Event { end, ..e });
        let e = self.event(patient, Domain::Diagnosis, Some(main), start);
        self.push(Event {
            primary: Some(true),
            ..e
        });
        let mut main_skipped = false;
        for d in all {
            if !main_skipped && d.code == main_code {
                main_skipped = true; // DIAGNOS repeats the main diagnosis first
                continue;
            }
            let e = self.event(patient, Domain::Diagnosis, Some(d), start);
            self.push(Event {
                primary: Some(false),
                ..e
            });
        }
        for p in procedures {
            let e = self.event(patient, Domain::Procedure, Some(p), start);
            self.push(e);
        }
        let setting = if inpatient {
            Setting::Inpatient
        } else {
            Setting::Outpatient
        };
        self.stamp(Some(setting), Some(&hospital), Some(&region));
        Ok(())
    }

    // personnummer,besoksdatum,diagnoskoder,vardenhet
    fn primary_care(&mut self, region: Option<&str>) -> Result<(), Reject> {
        let patient = self.person(0)?;
        let start = self.date(1)?;
        let diagnoses = self.codes(2, &System::Icd10Se)?;
        let unit = self.row.required(3)?.into_owned();
        let e = self.event(patient, Domain::Encounter, None, start);
        self.push(e);
        for (i, d) in diagnoses.into_iter().enumerate() {
            let e = self.event(patient, Domain::Diagnosis, Some(d), start);
            self.push(Event {
                primary: Some(i == 0),
                ..e
            });
        }
        self.stamp(Some(Setting::PrimaryCare), Some(&unit), region);
        Ok(())
    }

    // PERSONNR;EDATUM;ATC;VARUNR;ANTAL;FDATUM
    fn prescribed(&mut self) -> Result<(), Reject> {
        let patient = self.person(0)?;
        let dispensed = self.date(1)?;
        let atc = self.code(2, &System::Atc)?;
        if let Some(nr) = self.row.optional(3)
            && !text::is_digits(&nr, 6)
        {
            return Err(Reject::with_value(
                reject::UNPARSEABLE_VALUE,
                self.name(3),
                "expected a six-digit product number",
                &nr,
            ));
        }
        let packages = self.quantity(4)?;
        if let Some(prescribed) = self.opt_date(5)?
            && prescribed > dispensed
        {
            return Err(Reject::new(
                reject::IMPOSSIBLE_DATE,
                self.name(5),
                "prescribing date is after the dispensing date",
            ));
        }
        let e = self.event(patient, Domain::DispensedDrug, Some(atc), dispensed);
        self.push(Event {
            quantity: Some(packages),
            ..e
        });
        Ok(())
    }

    // personnummer;administreringsdatum;atc;dos;enhet;avdelning
    fn administered(&mut self, region: Option<&str>) -> Result<(), Reject> {
        let patient = self.person(0)?;
        let date = self.date(1)?;
        let atc = self.code(2, &System::Atc)?;
        let dose = self.quantity(3)?;
        let unit = self.coder.dose_unit(&self.row.required(4)?);
        let ward = self.row.optional(5).map(|w| w.into_owned());
        let e = self.event(patient, Domain::AdministeredDrug, Some(atc), date);
        self.push(Event {
            quantity: Some(dose),
            unit: Some(unit),
            value_system: None,
            value_code: None,
            value_text: None,
            ..e
        });
        self.stamp(None, ward.as_deref(), region);
        Ok(())
    }

    // personnummer provtagningstid analyskod kodsystem resultat enhet referensintervall
    fn lab(&mut self, region: Option<&str>) -> Result<(), Reject> {
        let patient = self.person(0)?;
        let t = self.row.required(1)?;
        let date = text::parse_date_time(&t).map_err(|e| Reject::value(self.name(1), e, &t))?;
        let sys_text = self.row.required(3)?;
        // The lab file's `kodsystem`: NPU or LOINC, by halsohub-codes'
        // reading of system names (`NPU`, `loinc`, `http://loinc.org`).
        let sys = lab_system(&sys_text).ok_or_else(|| {
            Reject::with_value(
                reject::INVALID_CODE,
                self.name(3),
                "unknown code system (expected NPU or LOINC)",
                &sys_text,
            )
        })?;
        let code = self.code(2, &sys)?;
        let result = self.row.required(4)?;
        let (comparator, value) =
            text::parse_lab_value(&result).map_err(|e| Reject::value(self.name(4), e, &result))?;
        let written_unit = self.row.optional(5);
        let (value, unit) = self
            .coder
            .lab(&sys, &code.code, value, written_unit.as_deref())
            .map_err(|why| {
                Reject::with_value(
                    reject::INCOMPATIBLE_UNIT,
                    self.name(5),
                    why,
                    written_unit.as_deref().unwrap_or(""),
                )
            })?;
        let e = self.event(patient, Domain::LabResult, Some(code), date);
        self.push(Event {
            value: Some(value),
            comparator,
            unit,
            value_system: None,
            value_code: None,
            value_text: None,
            ..e
        });
        self.stamp(None, None, region);
        Ok(())
    }

    // PERSONNR;DODSDATUM;ULORSAK;MORSAK
    fn cause_of_death(&mut self) -> Result<(), Reject> {
        let patient = self.person(0)?;
        let t = self.row.required(1)?;
        let (date, imputed) =
            text::parse_partial_date(&t).map_err(|e| Reject::value(self.name(1), e, &t))?;
        let underlying = self.code(2, &System::Icd10Se)?;
        let contributing = self.codes(3, &System::Icd10Se)?;
        self.out.imputed_date = imputed;
        let e = self.event(patient, Domain::Death, Some(underlying), date);
        self.push(Event {
            primary: Some(true),
            ..e
        });
        for c in contributing {
            let e = self.event(patient, Domain::Death, Some(c), date);
            self.push(Event {
                primary: Some(false),
                ..e
            });
        }
        self.out.person = Some(Person {
            patient,
            sex: None,
            birth_date: None,
            death_date: Some(date),
        });
        Ok(())
    }

    // PERSONNR;KON;FODELSEDATUM;LAN;KOMMUN;FRAN_DATUM;TILL_DATUM;INVANDRING_DATUM;UTVANDRING_DATUM
    fn population(&mut self) -> Result<(), Reject> {
        let patient = self.person(0)?;
        let kon = self.row.required(1)?;
        let sex = match &*kon {
            "1" => 'M',
            "2" => 'F',
            other => {
                return Err(Reject::with_value(
                    reject::UNPARSEABLE_VALUE,
                    self.name(1),
                    "expected 1 (man) or 2 (woman)",
                    other,
                ));
            }
        };
        let birth = self.date(2)?;
        let lan = self.row.required(3)?;
        if !LAN_CODES.contains(&&*lan) {
            return Err(Reject::with_value(
                reject::INVALID_CODE,
                self.name(3),
                "not a län code",
                &lan,
            ));
        }
        let kommun = self.row.optional(4);
        if let Some(k) = &kommun
            && !text::is_digits(k, 4)
        {
            return Err(Reject::with_value(
                reject::UNPARSEABLE_VALUE,
                self.name(4),
                "expected a four-digit kommun code",
                k,
            ));
        }
        let from = self.date(5)?;
        let to = self.opt_date(6)?;
        if let Some(to) = to
            && to < from
        {
            return Err(Reject::new(
                reject::IMPOSSIBLE_DATE,
                self.name(6),
                "the period ends before it starts",
            ));
        }
        self.opt_date(7)?;
        self.opt_date(8)?;
        self.out.person = Some(Person {
            patient,
            sex: Some(sex),
            birth_date: Some(birth),
            death_date: None,
        });
        self.out.residences.push(Residence {
            patient,
            region: lan.into_owned(),
            municipality: kommun.map(|k| k.into_owned()),
            from,
            to: to.and_then(|t| t.succ_opt()),
        });
        Ok(())
    }

    // GAMMALT_PERSONNR;NYTT_PERSONNR;ANDRINGSDATUM
    fn id_change(&mut self) -> Result<(), Reject> {
        let old = self.row.required(0)?;
        let old = self
            .ids
            .get(&old)
            .map_err(|e| Reject::identity(self.name(0), &e))?
            .own;
        let new = self.row.required(1)?;
        let new = self
            .ids
            .get(&new)
            .map_err(|e| Reject::identity(self.name(1), &e))?
            .own;
        self.out.patient = Some(new);
        self.date(2)?;
        self.out.alias = Some((old, new));
        Ok(())
    }
}

/// The code system of a lab file's `kodsystem` column, if it is one a lab
/// file may carry (NPU, LOINC).
fn lab_system(text: &str) -> Option<System> {
    System::parse(text).filter(|s| matches!(s, System::Npu | System::Loinc))
}
