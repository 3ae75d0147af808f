//! Units: written variants to UCUM, and per-analyte canonical units with
//! conversions.

use crate::error::UnitError;
use crate::normalise::normalise;
use crate::system::System;

/// Written unit variants (after [`unit_key`]) and their UCUM form.
const UNITS: &[(&str, &str)] = &[
    ("mmol/l", "mmol/L"),
    ("mmol/mol", "mmol/mol"),
    ("umol/l", "umol/L"),
    ("nmol/l", "nmol/L"),
    ("pmol/l", "pmol/L"),
    ("mol/l", "mol/L"),
    ("mg/dl", "mg/dL"),
    ("mg/l", "mg/L"),
    ("mg/ml", "mg/mL"),
    ("g/l", "g/L"),
    ("g/dl", "g/dL"),
    ("ug/l", "ug/L"),
    ("mikrog/l", "ug/L"),
    ("ng/l", "ng/L"),
    ("ng/ml", "ng/mL"),
    ("pg/ml", "pg/mL"),
    ("ug/ml", "ug/mL"),
    ("meq/l", "meq/L"),
    ("%", "%"),
    ("procent", "%"),
    ("ml/min/1.73m2", "mL/min/{1.73_m2}"),
    ("ml/min/1.73m^2", "mL/min/{1.73_m2}"),
    ("ml/min/{1.73_m2}", "mL/min/{1.73_m2}"),
    ("ml/min/1.73_m2", "mL/min/{1.73_m2}"),
    ("ml/min", "mL/min"),
    ("u/l", "U/L"),
    ("e/l", "U/L"),
    ("ie/l", "[IU]/L"),
    ("iu/l", "[IU]/L"),
    ("[iu]/l", "[IU]/L"),
    ("ukat/l", "ukat/L"),
    ("10^9/l", "10*9/L"),
    ("10*9/l", "10*9/L"),
    ("x10^9/l", "10*9/L"),
    ("x10e9/l", "10*9/L"),
    ("e9/l", "10*9/L"),
    ("10^12/l", "10*12/L"),
    ("10*12/l", "10*12/L"),
    ("x10^12/l", "10*12/L"),
    ("e12/l", "10*12/L"),
    ("fl", "fL"),
    ("kg", "kg"),
    ("g", "g"),
    ("cm", "cm"),
    ("kg/m2", "kg/m2"),
    ("mmhg", "mm[Hg]"),
    ("mm[hg]", "mm[Hg]"),
    ("/min", "/min"),
    ("slag/min", "/min"),
    ("mm/h", "mm/h"),
    ("s", "s"),
    ("inr", "{INR}"),
    ("{inr}", "{INR}"),
    ("1", "1"),
];

/// The lookup key of a written unit: trimmed, micro signs to `u`, decimal
/// comma to point, superscript two to `2`, spaces removed, lower case.
fn unit_key(raw: &str) -> String {
    raw.trim()
        .chars()
        .filter_map(|c| match c {
            'µ' | 'μ' => Some('u'),
            ',' => Some('.'),
            '²' => Some('2'),
            c if c.is_whitespace() => None,
            c => Some(c),
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Normalises a written unit to UCUM: `mmol/l` → `mmol/L`; `µmol/l`,
/// `μmol/L`, `umol/L` → `umol/L`; `mg/dl` → `mg/dL`; `mL/min/1,73 m²` →
/// `mL/min/{1.73_m2}`; `%` stays `%`. Unknown units are an error (the
/// caller decides whether to keep the value).
pub fn normalise_unit(raw: &str) -> Result<&'static str, UnitError> {
    let key = unit_key(raw);
    // "% (DCCT)", "mmol/mol (IFCC)": drop a trailing parenthesised method.
    let key = match key.find('(') {
        Some(i) if i > 0 && key.ends_with(')') => key.get(..i).unwrap_or(&key).to_owned(),
        _ => key,
    };
    UNITS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .ok_or_else(|| UnitError::UnknownUnit {
            unit: raw.trim().chars().take(40).collect(),
        })
}

/// A linear conversion to an analyte's canonical unit:
/// `canonical = value * scale + offset`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conversion {
    /// The UCUM unit converted from.
    pub unit: &'static str,
    /// Multiplier.
    pub scale: f64,
    /// Added after multiplying.
    pub offset: f64,
}

const fn factor(unit: &'static str, scale: f64) -> Conversion {
    Conversion {
        unit,
        scale,
        offset: 0.0,
    }
}

/// A measured quantity with a canonical unit and the lab codes that measure
/// it.
#[derive(Debug, Clone, PartialEq)]
pub struct Analyte {
    /// Stable id, e.g. `hba1c`.
    pub id: &'static str,
    /// Swedish display name.
    pub name: &'static str,
    /// The canonical UCUM unit values are stored in.
    pub canonical_unit: &'static str,
    /// Other units it is reported in, with conversions to the canonical one.
    pub conversions: &'static [Conversion],
    /// NPU codes (normalised).
    pub npu: &'static [&'static str],
    /// LOINC codes (normalised).
    pub loinc: &'static [&'static str],
}

/// IFCC mmol/mol = 10.929 × (DCCT % − 2.15) (the IFCC–NGSP master equation).
const HBA1C_FROM_PERCENT: Conversion = Conversion {
    unit: "%",
    scale: 10.929,
    offset: -10.929 * 2.15,
};

/// The analytes the hub knows, with their lab codes.
pub static ANALYTES: &[Analyte] = &[
    Analyte {
        id: "hba1c",
        name: "HbA1c",
        canonical_unit: "mmol/mol",
        conversions: &[HBA1C_FROM_PERCENT],
        npu: &["NPU27300"],
        loinc: &["4548-4", "59261-8"],
    },
    Analyte {
        id: "creatinine",
        name: "Kreatinin",
        canonical_unit: "umol/L",
        conversions: &[factor("mg/dL", 88.42), factor("mmol/L", 1000.0)],
        npu: &["NPU18016"],
        loinc: &["2160-0", "14682-9"],
    },
    Analyte {
        id: "egfr",
        name: "eGFR (relativ)",
        canonical_unit: "mL/min/{1.73_m2}",
        conversions: &[],
        npu: &["SWE05406"],
        loinc: &["62238-1", "33914-3"],
    },
    Analyte {
        id: "ldl",
        name: "LDL-kolesterol",
        canonical_unit: "mmol/L",
        conversions: &[factor("mg/dL", 1.0 / 38.67)],
        npu: &["NPU01568"],
        loinc: &["13457-7", "18262-6", "2089-1"],
    },
    Analyte {
        id: "cholesterol",
        name: "Kolesterol",
        canonical_unit: "mmol/L",
        conversions: &[factor("mg/dL", 1.0 / 38.67)],
        npu: &["NPU01566"],
        loinc: &["2093-3"],
    },
    Analyte {
        id: "hdl",
        name: "HDL-kolesterol",
        canonical_unit: "mmol/L",
        conversions: &[factor("mg/dL", 1.0 / 38.67)],
        npu: &["NPU01567"],
        loinc: &["2085-9"],
    },
    Analyte {
        id: "glucose",
        name: "Glukos",
        canonical_unit: "mmol/L",
        conversions: &[factor("mg/dL", 1.0 / 18.016)],
        npu: &["NPU02192"],
        loinc: &["2345-7", "15074-8"],
    },
    Analyte {
        id: "ntprobnp",
        name: "NT-proBNP",
        canonical_unit: "ng/L",
        conversions: &[factor("pg/mL", 1.0), factor("pmol/L", 8.457)],
        npu: &["NPU21571"],
        loinc: &["33762-6"],
    },
    Analyte {
        id: "potassium",
        name: "Kalium",
        canonical_unit: "mmol/L",
        conversions: &[factor("meq/L", 1.0)],
        npu: &["NPU03230"],
        loinc: &["2823-3"],
    },
    Analyte {
        id: "sodium",
        name: "Natrium",
        canonical_unit: "mmol/L",
        conversions: &[factor("meq/L", 1.0)],
        npu: &["NPU03429"],
        loinc: &["2951-2"],
    },
    Analyte {
        id: "haemoglobin",
        name: "Hemoglobin",
        canonical_unit: "g/L",
        conversions: &[factor("g/dL", 10.0), factor("mmol/L", 16.114)],
        npu: &["NPU28309"],
        loinc: &["718-7"],
    },
    Analyte {
        id: "psa",
        name: "PSA",
        canonical_unit: "ug/L",
        conversions: &[factor("ng/mL", 1.0)],
        npu: &["NPU08669"],
        loinc: &["2857-1"],
    },
    Analyte {
        id: "crp",
        name: "CRP",
        canonical_unit: "mg/L",
        conversions: &[factor("mg/dL", 10.0)],
        npu: &["NPU19748"],
        loinc: &["1988-5"],
    },
];

/// The analyte measured by a lab code (NPU or LOINC, any written variant).
pub fn analyte_for(system: &System, code: &str) -> Option<&'static Analyte> {
    let code = normalise(system, code).ok()?;
    ANALYTES.iter().find(|a| match system {
        System::Npu => a.npu.contains(&code.as_str()),
        System::Loinc => a.loinc.contains(&code.as_str()),
        _ => false,
    })
}

/// The analyte with the given id (`hba1c`, `creatinine`, ...).
pub fn analyte(id: &str) -> Option<&'static Analyte> {
    ANALYTES.iter().find(|a| a.id == id)
}

impl Analyte {
    /// Converts `value` written in `unit` (any written variant) to the
    /// canonical unit.
    pub fn to_canonical(&self, value: f64, unit: &str) -> Result<f64, UnitError> {
        if !value.is_finite() {
            return Err(UnitError::NotFinite);
        }
        let unit = normalise_unit(unit)?;
        if unit == self.canonical_unit {
            return Ok(value);
        }
        let c = self.conversion(unit)?;
        Ok(value * c.scale + c.offset)
    }

    /// Converts a canonical value to `unit` (e.g. HbA1c mmol/mol → %).
    pub fn from_canonical(&self, value: f64, unit: &str) -> Result<f64, UnitError> {
        if !value.is_finite() {
            return Err(UnitError::NotFinite);
        }
        let unit = normalise_unit(unit)?;
        if unit == self.canonical_unit {
            return Ok(value);
        }
        let c = self.conversion(unit)?;
        Ok((value - c.offset) / c.scale)
    }

    fn conversion(&self, unit: &'static str) -> Result<&Conversion, UnitError> {
        self.conversions
            .iter()
            .find(|c| c.unit == unit)
            .ok_or_else(|| UnitError::Incompatible {
                analyte: self.id,
                unit: unit.to_owned(),
                canonical: self.canonical_unit,
            })
    }
}

/// Converts a lab value to its analyte's canonical unit, returning the value
/// and that unit.
pub fn to_canonical(
    system: &System,
    code: &str,
    value: f64,
    unit: &str,
) -> Result<(f64, &'static str), UnitError> {
    let a = analyte_for(system, code).ok_or_else(|| UnitError::UnknownAnalyte {
        system: system.id().to_owned(),
        code: code.trim().chars().take(40).collect(),
    })?;
    Ok((a.to_canonical(value, unit)?, a.canonical_unit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_variants() {
        for (raw, want) in [
            ("mmol/l", "mmol/L"),
            ("µmol/l", "umol/L"),
            ("μmol/L", "umol/L"),
            ("umol/L", "umol/L"),
            ("mg/dl", "mg/dL"),
            ("ng/l", "ng/L"),
            ("g/l", "g/L"),
            ("mL/min/1.73m2", "mL/min/{1.73_m2}"),
            ("ml/min/1,73 m²", "mL/min/{1.73_m2}"),
            ("%", "%"),
            ("% (DCCT)", "%"),
            ("mmol/mol (IFCC)", "mmol/mol"),
            (" x10^9/L ", "10*9/L"),
        ] {
            assert_eq!(normalise_unit(raw).unwrap(), want, "{raw}");
        }
        assert!(matches!(
            normalise_unit("furlongs"),
            Err(UnitError::UnknownUnit { .. })
        ));
    }

    #[test]
    fn every_canonical_unit_is_its_own_normal_form() {
        for (_, v) in UNITS {
            assert_eq!(normalise_unit(v).unwrap(), *v);
        }
        for a in ANALYTES {
            assert_eq!(normalise_unit(a.canonical_unit).unwrap(), a.canonical_unit);
            for c in a.conversions {
                assert_eq!(normalise_unit(c.unit).unwrap(), c.unit, "{}", a.id);
            }
        }
    }

    #[test]
    fn conversions() {
        let hba1c = analyte("hba1c").unwrap();
        // 6.5 % DCCT is 48 mmol/mol IFCC.
        let v = hba1c.to_canonical(6.5, "%").unwrap();
        assert!((v - 47.5).abs() < 0.6, "{v}");
        let back = hba1c.from_canonical(v, "%").unwrap();
        assert!((back - 6.5).abs() < 1e-9);
        let (v, u) = to_canonical(&System::Loinc, "2160-0", 1.0, "mg/dl").unwrap();
        assert_eq!(u, "umol/L");
        assert!((v - 88.42).abs() < 1e-9);
        let (v, _) = to_canonical(&System::Npu, "npu01568", 100.0, "mg/dL").unwrap();
        assert!((v - 2.586).abs() < 0.01);
        let e = to_canonical(&System::Npu, "NPU27300", 5.0, "mg/dL").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unit mg/dL cannot be converted to mmol/mol for hba1c"
        );
        assert!(matches!(
            to_canonical(&System::Npu, "NPU99999", 1.0, "g/L"),
            Err(UnitError::UnknownAnalyte { .. })
        ));
        assert_eq!(hba1c.to_canonical(f64::NAN, "%"), Err(UnitError::NotFinite));
    }
}
