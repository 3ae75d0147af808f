//! The seam to `halsohub-codes`: code normalisation, the known-code flag and
//! lab unit normalisation, in the few shapes the readers need.

use halsohub_codes::{CodeRegistry, Lookup, System, UnitError, units};

/// Normalises codes and lab units against the built-in code lists.
pub(crate) struct Coder {
    registry: CodeRegistry,
    /// The FHIR mapper (its own code lists), built on first use.
    fhir: std::sync::OnceLock<halsohub_fhir::Mapper>,
}

impl Coder {
    pub(crate) fn builtin() -> Self {
        Coder {
            registry: CodeRegistry::builtin(),
            fhir: std::sync::OnceLock::new(),
        }
    }

    /// The FHIR resource mapper.
    pub(crate) fn fhir(&self) -> &halsohub_fhir::Mapper {
        self.fhir.get_or_init(halsohub_fhir::Mapper::new)
    }

    /// The normalised code of any system and whether it is in a loaded
    /// list, or what is wrong with its shape (without echoing the code).
    pub(crate) fn code_in(&self, system: &System, raw: &str) -> Result<(String, bool), String> {
        match self.registry.resolve(system, raw) {
            Ok(Lookup::Known(e)) => Ok((e.code().to_owned(), true)),
            Ok(Lookup::NotInList(c) | Lookup::NoList(c)) => Ok((c, false)),
            Err(e) => Err(format!(
                "not a valid {} code ({})",
                system.name(),
                e.problem
            )),
        }
    }

    /// The value in the analyte's canonical unit, and that unit. For a lab
    /// code whose analyte the hub does not know, the value is kept in the
    /// written unit (normalised to UCUM when possible). A known analyte in a
    /// unit that cannot be converted is an error.
    pub(crate) fn lab(
        &self,
        sys: &System,
        code: &str,
        value: f64,
        unit: Option<&str>,
    ) -> Result<(f64, Option<String>), String> {
        let Some(unit) = unit else {
            return Ok((value, None));
        };
        match units::to_canonical(sys, code, value, unit) {
            Ok((v, canonical)) => Ok((v, Some(canonical.to_owned()))),
            Err(UnitError::UnknownAnalyte { .. }) => Ok((value, Some(self.dose_unit(unit)))),
            Err(e) => Err(e.to_string()),
        }
    }

    /// A unit in its UCUM spelling when known (`ml` → `mL`), else as
    /// written.
    pub(crate) fn dose_unit(&self, raw: &str) -> String {
        match units::normalise_unit(raw) {
            Ok(u) => u.to_owned(),
            Err(_) => raw.trim().to_owned(),
        }
    }
}
