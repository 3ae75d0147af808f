//! Units: written variants to UCUM, and per-analyte canonical units with
//! conversions.

use crate::decimal::Decimal;
use crate::error::UnitError;
use crate::normalise::normalise;
use crate::system::System;

/// Written unit variants (after [`unit_key`]) and their UCUM form.
const UNITS: &[(&str, &str)] = &[
    ("mmol/l", "mmol/L"),
    ("mmol/mol", "mmol/mol"),
    ("mol/mol", "mol/mol"),
    ("umol/mol", "umol/mol"),
    ("umol/l", "umol/L"),
    ("nmol/l", "nmol/L"),
    ("pmol/l", "pmol/L"),
    ("mol/l", "mol/L"),
    ("mg/dl", "mg/dL"),
    ("mg/l", "mg/L"),
    ("mg/ml", "mg/mL"),
    ("g/l", "g/L"),
    ("g/dl", "g/dL"),
    ("ug/dl", "ug/dL"),
    ("ng/dl", "ng/dL"),
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

/// A conversion by a factor other than a power of ten, to an analyte's
/// canonical unit: `canonical = (value + offset) × num / den`, then rounded
/// to the analyte's reporting precision ([`Analyte::precision`] decimals,
/// halves away from zero), in exact decimal arithmetic. Units related to
/// [`Conversion::unit`] by a power of ten (`mg/L` to `mg/dL`) are scaled
/// to it exactly first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion {
    /// The UCUM unit converted from.
    pub unit: &'static str,
    /// Added before multiplying: `(mantissa, exponent)`, i.e.
    /// `mantissa × 10^exponent`.
    pub offset: (i64, i32),
    /// Multiplier numerator.
    pub num: i64,
    /// Multiplier denominator.
    pub den: i64,
}

const fn ratio(unit: &'static str, num: i64, den: i64) -> Conversion {
    Conversion {
        unit,
        offset: (0, 0),
        num,
        den,
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
    /// Decimals the canonical unit is reported with: a value converted by a
    /// factor other than a power of ten is rounded to this.
    pub precision: u8,
    /// Units reached by factors other than powers of ten, with those
    /// factors. Units related to the canonical unit by a power of ten
    /// (same dimension, other SI prefix) need no entry.
    pub conversions: &'static [Conversion],
    /// NPU codes (normalised).
    pub npu: &'static [&'static str],
    /// LOINC codes (normalised).
    pub loinc: &'static [&'static str],
}

/// IFCC mmol/mol = 10.929 × (DCCT % − 2.15) (the IFCC–NGSP master equation).
const HBA1C_FROM_PERCENT: Conversion = Conversion {
    unit: "%",
    offset: (-215, -2),
    num: 10929,
    den: 1000,
};

/// The analytes the hub knows, with their lab codes.
pub static ANALYTES: &[Analyte] = &[
    Analyte {
        id: "hba1c",
        name: "HbA1c",
        canonical_unit: "mmol/mol",
        precision: 0,
        conversions: &[HBA1C_FROM_PERCENT],
        npu: &["NPU27300"],
        loinc: &["4548-4", "59261-8", "17856-6"],
    },
    Analyte {
        id: "creatinine",
        name: "Kreatinin",
        canonical_unit: "umol/L",
        precision: 0,
        // 1 mg/dL = 88.42 µmol/L (molar mass 113.12 g/mol).
        conversions: &[ratio("mg/dL", 8842, 100)],
        npu: &["NPU18016"],
        loinc: &["2160-0", "14682-9"],
    },
    Analyte {
        id: "egfr",
        name: "eGFR (relativ)",
        canonical_unit: "mL/min/{1.73_m2}",
        precision: 0,
        conversions: &[],
        npu: &["SWE05406"],
        loinc: &["62238-1", "33914-3"],
    },
    Analyte {
        id: "ldl",
        name: "LDL-kolesterol",
        canonical_unit: "mmol/L",
        precision: 1,
        // 1 mmol/L = 38.67 mg/dL.
        conversions: &[ratio("mg/dL", 100, 3867)],
        npu: &["NPU01568"],
        loinc: &["13457-7", "18262-6", "2089-1"],
    },
    Analyte {
        id: "cholesterol",
        name: "Kolesterol",
        canonical_unit: "mmol/L",
        precision: 1,
        conversions: &[ratio("mg/dL", 100, 3867)],
        npu: &["NPU01566"],
        loinc: &["2093-3"],
    },
    Analyte {
        id: "hdl",
        name: "HDL-kolesterol",
        canonical_unit: "mmol/L",
        precision: 2,
        conversions: &[ratio("mg/dL", 100, 3867)],
        npu: &["NPU01567"],
        loinc: &["2085-9"],
    },
    Analyte {
        id: "glucose",
        name: "Glukos",
        canonical_unit: "mmol/L",
        precision: 1,
        // 1 mmol/L = 18.016 mg/dL.
        conversions: &[ratio("mg/dL", 1000, 18016)],
        npu: &["NPU02192"],
        loinc: &["2345-7", "15074-8"],
    },
    Analyte {
        id: "ntprobnp",
        name: "NT-proBNP",
        canonical_unit: "ng/L",
        precision: 0,
        // pg/mL and µg/L are powers of ten of ng/L. 1 pmol/L = 8.457 ng/L.
        conversions: &[ratio("pmol/L", 8457, 1000)],
        npu: &["NPU21571"],
        loinc: &["33762-6"],
    },
    Analyte {
        id: "potassium",
        name: "Kalium",
        canonical_unit: "mmol/L",
        precision: 1,
        // Monovalent: 1 meq/L = 1 mmol/L.
        conversions: &[ratio("meq/L", 1, 1)],
        npu: &["NPU03230"],
        loinc: &["2823-3"],
    },
    Analyte {
        id: "sodium",
        name: "Natrium",
        canonical_unit: "mmol/L",
        precision: 0,
        conversions: &[ratio("meq/L", 1, 1)],
        npu: &["NPU03429"],
        loinc: &["2951-2"],
    },
    Analyte {
        id: "haemoglobin",
        name: "Hemoglobin",
        canonical_unit: "g/L",
        precision: 0,
        // g/dL is a power of ten of g/L. 1 mmol/L (Fe) = 16.114 g/L.
        conversions: &[ratio("mmol/L", 16114, 1000)],
        npu: &["NPU28309"],
        loinc: &["718-7"],
    },
    Analyte {
        id: "psa",
        name: "PSA",
        canonical_unit: "ug/L",
        precision: 2,
        // ng/mL and ng/L are powers of ten of µg/L.
        conversions: &[],
        npu: &["NPU08669"],
        loinc: &["2857-1"],
    },
    Analyte {
        id: "crp",
        name: "CRP",
        canonical_unit: "mg/L",
        precision: 0,
        // mg/dL and g/L are powers of ten of mg/L.
        conversions: &[],
        npu: &["NPU19748"],
        loinc: &["1988-5"],
    },
];

/// A base unit and the power of ten of its prefix (`mmol` = (`mol`, −3)).
type Term<'a> = (&'a str, i32);

/// A UCUM unit as `prefix power × base` over `prefix power × base`
/// (`mmol/L` = 10^-3 mol / 10^0 L); `None` for units outside that shape
/// (`%`, `mL/min/{1.73_m2}`, `mm[Hg]`), which only equal themselves.
fn dimension(ucum: &str) -> Option<(Term<'_>, Term<'_>)> {
    fn term(t: &str) -> Option<Term<'_>> {
        if t.is_empty() {
            return Some(("", 0));
        }
        // Counts: 10*9, 10*12.
        if let Some(p) = t.strip_prefix("10*") {
            return Some(("1", p.parse().ok()?));
        }
        const BASES: [&str; 7] = ["mol", "kat", "[IU]", "eq", "g", "L", "U"];
        for base in BASES {
            if let Some(prefix) = t.strip_suffix(base) {
                let p = match prefix {
                    "" => 0,
                    "k" => 3,
                    "d" => -1,
                    "c" => -2,
                    "m" => -3,
                    "u" => -6,
                    "n" => -9,
                    "p" => -12,
                    "f" => -15,
                    _ => continue,
                };
                return Some((base, p));
            }
        }
        None
    }
    let (num, den) = ucum.split_once('/').unwrap_or((ucum, ""));
    if den.contains('/') || num.is_empty() {
        return None;
    }
    Some((term(num)?, term(den)?))
}

/// The power of ten `k` with `1 from = 10^k to`, when both UCUM units
/// measure the same dimension (`umol/L` to `mmol/L`: −3; `mmol/mol` to
/// `mol/mol`: −3; `10*9/L` to `10*12/L`: −3).
pub fn power_of_ten(from: &str, to: &str) -> Option<i32> {
    if from == to {
        return Some(0);
    }
    let ((fnb, fnp), (fdb, fdp)) = dimension(from)?;
    let ((tnb, tnp), (tdb, tdp)) = dimension(to)?;
    if fnb != tnb || fdb != tdb {
        return None;
    }
    Some((fnp - fdp) - (tnp - tdp))
}

fn decimal_or_err(value: f64) -> Result<Decimal, UnitError> {
    Decimal::from_f64(value).ok_or(UnitError::NotFinite)
}

fn out_of_range(d: Option<Decimal>) -> Result<Decimal, UnitError> {
    d.ok_or(UnitError::NotFinite)
}

/// Converts `value` from one written unit to another (any spelling
/// [`normalise_unit`] reads), by the hub's one rule, used alike when a lab
/// result is stored and when a query threshold is compared with it:
///
/// * the same unit: the value as it is;
/// * units of one dimension (another SI prefix, `mg/dL` ↔ `g/L`): exact
///   decimal scaling by the power of ten, no rounding;
/// * otherwise, with `analyte` given, through its [`Conversion`] to its
///   canonical unit: convert, then round to the analyte's reporting
///   precision (exact decimal arithmetic); either side may differ from the
///   conversion's or canonical unit by a power of ten, scaled exactly;
/// * anything else is an error.
pub fn convert(
    value: f64,
    from: &str,
    to: &str,
    analyte: Option<&Analyte>,
) -> Result<f64, UnitError> {
    if !value.is_finite() {
        return Err(UnitError::NotFinite);
    }
    let from = normalise_unit(from)?;
    let to = normalise_unit(to)?;
    if from == to {
        return Ok(value);
    }
    if let Some(k) = power_of_ten(from, to) {
        return Ok(out_of_range(decimal_or_err(value)?.scale10(k))?.to_f64());
    }
    let incompatible = |a: &Analyte| UnitError::Incompatible {
        analyte: a.id,
        unit: from.to_owned(),
        canonical: a.canonical_unit,
    };
    let Some(a) = analyte else {
        return Err(UnitError::NotConvertible {
            from: from.to_owned(),
            to: to.to_owned(),
        });
    };
    // `to` must be the canonical unit or a power of ten of it.
    let Some(k_out) = power_of_ten(a.canonical_unit, to) else {
        return Err(UnitError::Incompatible {
            analyte: a.id,
            unit: to.to_owned(),
            canonical: a.canonical_unit,
        });
    };
    let (c, k_in) = a
        .conversions
        .iter()
        .find_map(|c| power_of_ten(from, c.unit).map(|k| (c, k)))
        .ok_or_else(|| incompatible(a))?;
    let v = out_of_range(decimal_or_err(value)?.scale10(k_in))?;
    let v = out_of_range(v.checked_add(Decimal::new(i128::from(c.offset.0), c.offset.1)))?;
    let canonical =
        out_of_range(v.mul_ratio_rounded(i128::from(c.num), i128::from(c.den), a.precision))?;
    Ok(out_of_range(canonical.scale10(k_out))?.to_f64())
}

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
    /// canonical unit, by [`convert`]'s rule.
    pub fn to_canonical(&self, value: f64, unit: &str) -> Result<f64, UnitError> {
        convert(value, unit, self.canonical_unit, Some(self))
    }

    /// Whether values in `unit` (any written variant) can be converted to
    /// the canonical unit.
    pub fn accepts(&self, unit: &str) -> bool {
        normalise_unit(unit).is_ok_and(|u| {
            power_of_ten(u, self.canonical_unit).is_some()
                || self
                    .conversions
                    .iter()
                    .any(|c| power_of_ten(u, c.unit).is_some())
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
        // 6.5 % DCCT is 48 mmol/mol IFCC: 10.929 × 4.35 = 47.54… → 48.
        assert_eq!(hba1c.to_canonical(6.5, "%").unwrap(), 48.0);
        assert_eq!(hba1c.to_canonical(6.5, "% (DCCT)").unwrap(), 48.0);
        let (v, u) = to_canonical(&System::Loinc, "2160-0", 1.0, "mg/dl").unwrap();
        assert_eq!((v, u), (88.0, "umol/L"));
        let (v, _) = to_canonical(&System::Npu, "npu01568", 100.0, "mg/dL").unwrap();
        assert_eq!(v, 2.6);
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

    #[test]
    fn powers_of_ten_convert_exactly_without_an_analyte() {
        assert_eq!(convert(72.0, "umol/L", "mmol/L", None).unwrap(), 0.072);
        assert_eq!(convert(0.072, "mmol/l", "µmol/L", None).unwrap(), 72.0);
        assert_eq!(convert(5.0, "mg/dL", "g/L", None).unwrap(), 0.05);
        assert_eq!(convert(48.0, "mmol/mol", "mol/mol", None).unwrap(), 0.048);
        assert_eq!(
            convert(48.0, "mmol/mol", "umol/mol", None).unwrap(),
            48000.0
        );
        assert_eq!(convert(7.5, "10^9/L", "10*12/L", None).unwrap(), 0.0075);
        assert_eq!(convert(1.0, "mg/mL", "g/L", None).unwrap(), 1.0);
        assert!(matches!(
            convert(1.0, "mmol/L", "g/L", None),
            Err(UnitError::NotConvertible { .. })
        ));
        assert!(matches!(
            convert(1.0, "mmol/mol", "%", None),
            Err(UnitError::NotConvertible { .. })
        ));
        assert!(matches!(
            convert(1.0, "furlongs", "g/L", None),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert_eq!(power_of_ten("umol/L", "mmol/L"), Some(-3));
        assert_eq!(power_of_ten("%", "mmol/mol"), None);
        assert_eq!(
            power_of_ten("mL/min/{1.73_m2}", "mL/min/{1.73_m2}"),
            Some(0)
        );
    }

    #[test]
    fn ingest_accepts_every_unit_that_converts() {
        let psa = analyte("psa").unwrap();
        assert_eq!(psa.to_canonical(3100.0, "ng/L").unwrap(), 3.1);
        assert_eq!(psa.to_canonical(3.1, "ng/mL").unwrap(), 3.1);
        let crp = analyte("crp").unwrap();
        assert_eq!(crp.to_canonical(0.012, "g/L").unwrap(), 12.0);
        assert_eq!(crp.to_canonical(1.2, "mg/dL").unwrap(), 12.0);
        let bnp = analyte("ntprobnp").unwrap();
        assert_eq!(bnp.to_canonical(0.45, "µg/L").unwrap(), 450.0);
        assert_eq!(bnp.to_canonical(450.0, "pg/mL").unwrap(), 450.0);
        // 10 pmol/L × 8.457 = 84.57 → 85 ng/L.
        assert_eq!(bnp.to_canonical(10.0, "pmol/L").unwrap(), 85.0);
        let krea = analyte("creatinine").unwrap();
        assert_eq!(krea.to_canonical(0.072, "mmol/L").unwrap(), 72.0);
        // mg/L is mg/dL scaled: 8 mg/L = 0.8 mg/dL = 70.736 → 71 µmol/L.
        assert_eq!(krea.to_canonical(8.0, "mg/L").unwrap(), 71.0);
        assert!(krea.accepts("mg/L") && krea.accepts("mmol/l") && !krea.accepts("%"));
        let hb = analyte("haemoglobin").unwrap();
        assert_eq!(hb.to_canonical(13.5, "g/dL").unwrap(), 135.0);
        for a in ANALYTES {
            assert!(a.accepts(a.canonical_unit), "{}", a.id);
            for c in a.conversions {
                assert!(a.accepts(c.unit), "{}", a.id);
                assert_ne!(c.den, 0, "{}", a.id);
            }
        }
    }
}
