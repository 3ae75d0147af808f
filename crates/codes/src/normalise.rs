//! Normalisation of written code variants to one canonical form per system.

use crate::error::{CodeError, CodeProblem};
use crate::system::System;

/// The longest text worth looking at; real codes are far shorter.
const MAX_LEN: usize = 64;

/// Normalises a code as written in a source to the system's canonical form,
/// validating its shape (and check digit, where the system has one).
///
/// | system | accepted | canonical |
/// |---|---|---|
/// | ICD-10-SE/-CM/-GM | `E11.9`, `e119`, ` E11.9 `, `G63.2*`, `E11.4†` | `E119` (no dot, upper case; `*`/`†`/`+` markers dropped) |
/// | ATC | `a10ba02`, `A10 BA 02` (any of the 5 levels) | `A10BA02` |
/// | KVÅ | `fng05`, `DT016` | `FNG05` (3 letters + 2 digits, or 2 letters + 3 digits) |
/// | NPU | `npu27300`, `NPU 27300`, `27300`, `SWE05406`, `DNK35302` | `NPU27300` |
/// | LOINC | `4548-4`, `04548-4` | `4548-4` (mod-10 check digit validated) |
/// | SNOMED CT | ` 44054006 ` | `44054006` (Verhoeff check digit, concept partition) |
/// | other | anything without control characters | trimmed text |
///
/// The result is a fixed point: normalising it again returns it unchanged.
pub fn normalise(system: &System, raw: &str) -> Result<String, CodeError> {
    let t = raw.trim();
    let err = |problem| CodeError::new(system, raw, problem);
    if t.is_empty() {
        return Err(err(CodeProblem::Empty));
    }
    if t.chars().count() > MAX_LEN {
        return Err(err(CodeProblem::Shape("a code of at most 64 characters")));
    }
    match system {
        System::Icd10Se => icd10(t, 6).map_err(err),
        System::Icd10Cm => icd10(t, 7).map_err(err),
        // ICD-10-GM adds the `!` marker (secondary code).
        System::Icd10Gm => icd10(t.trim_end_matches('!'), 7).map_err(err),
        System::Atc => atc(t).map_err(err),
        System::Kva => kva(t).map_err(err),
        System::Npu => npu(t).map_err(err),
        System::Loinc => loinc(t).map_err(err),
        System::SnomedCt => snomed(t).map_err(err),
        System::Other(_) => {
            if let Some((i, c)) = t.chars().enumerate().find(|(_, c)| c.is_control()) {
                return Err(err(CodeProblem::BadCharacter {
                    position: i + 1,
                    found: c,
                }));
            }
            Ok(t.to_owned())
        }
    }
}

/// Upper-cases ASCII letters, drops the characters in `drop`, and refuses
/// anything else that is not an ASCII letter or digit.
fn compact(t: &str, drop: &[char]) -> Result<String, CodeProblem> {
    let mut out = String::with_capacity(t.len());
    for (i, c) in t.chars().enumerate() {
        if drop.contains(&c) {
            continue;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else {
            return Err(CodeProblem::BadCharacter {
                position: i + 1,
                found: c,
            });
        }
    }
    Ok(out)
}

fn icd10(t: &str, max_len: usize) -> Result<String, CodeProblem> {
    // Dagger/asterisk markers of the dual classification.
    let t = t.trim_end_matches(['*', '†', '+']).trim_end();
    // A dot may only stand after the category (3 characters), once.
    let mut seen = 0usize;
    let mut dotted = false;
    for (i, c) in t.chars().enumerate() {
        if c == '.' {
            if dotted || seen != 3 {
                return Err(CodeProblem::BadCharacter {
                    position: i + 1,
                    found: '.',
                });
            }
            dotted = true;
        } else if c != ' ' {
            seen += 1;
        }
    }
    let code = compact(t, &['.', ' '])?;
    let b = code.as_bytes();
    let shape_ok = b.len() >= 3
        && b.len() <= max_len
        && b.first().is_some_and(u8::is_ascii_uppercase)
        // ICD-10-CM has categories like C7A, M1A, Z3A and QA0.
        && b.get(1).is_some_and(|c| c.is_ascii_digit() || max_len > 6)
        && b.get(2).is_some_and(|c| c.is_ascii_digit() || max_len > 6);
    if !shape_ok {
        return Err(CodeProblem::Shape(if max_len > 6 {
            "a letter and 2 to 6 letters or digits (e.g. S72.001A)"
        } else {
            "a letter, two digits and up to 3 more characters (e.g. E11.9)"
        }));
    }
    Ok(code)
}

/// The 14 anatomical main groups of ATC.
pub(crate) const ATC_GROUPS: &[u8] = b"ABCDGHJLMNPRSV";

fn atc(t: &str) -> Result<String, CodeProblem> {
    let code = compact(t, &[' '])?;
    let b = code.as_bytes();
    let letter = |i: usize| b.get(i).is_some_and(u8::is_ascii_uppercase);
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let shape_ok = match b.len() {
        1 => letter(0),
        3 => letter(0) && digit(1) && digit(2),
        4 => letter(0) && digit(1) && digit(2) && letter(3),
        5 => letter(0) && digit(1) && digit(2) && letter(3) && letter(4),
        7 => letter(0) && digit(1) && digit(2) && letter(3) && letter(4) && digit(5) && digit(6),
        _ => false,
    };
    if !shape_ok {
        return Err(CodeProblem::Shape(
            "an ATC code of level 1-5: A, A10, A10B, A10BA or A10BA02",
        ));
    }
    if !b.first().is_some_and(|c| ATC_GROUPS.contains(c)) {
        return Err(CodeProblem::AtcGroup);
    }
    Ok(code)
}

fn kva(t: &str) -> Result<String, CodeProblem> {
    let code = compact(t, &[' '])?;
    let b = code.as_bytes();
    let letters = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    let ok = b.len() == 5
        && (letters == 3 || letters == 2)
        && b.iter().skip(letters).all(u8::is_ascii_digit);
    if !ok {
        return Err(CodeProblem::Shape(
            "3 letters and 2 digits (e.g. FNG05) or 2 letters and 3 digits (e.g. DT016)",
        ));
    }
    Ok(code)
}

fn npu(t: &str) -> Result<String, CodeProblem> {
    let mut code = compact(t, &[' ', '-'])?;
    if code.len() == 5 && code.bytes().all(|c| c.is_ascii_digit()) {
        code.insert_str(0, "NPU");
    }
    let ok = code.len() == 8
        && ["NPU", "DNK", "SWE"].iter().any(|p| code.starts_with(p))
        && code.bytes().skip(3).all(|c| c.is_ascii_digit());
    if !ok {
        return Err(CodeProblem::Shape(
            "NPU, DNK or SWE and 5 digits (e.g. NPU27300)",
        ));
    }
    Ok(code)
}

/// The mod-10 (Luhn) check digit LOINC uses, over ASCII digits.
pub fn loinc_check_digit(number: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in number.bytes().rev().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = u32::from(c - b'0');
        let v = if i % 2 == 0 { d * 2 } else { d };
        sum += v / 10 + v % 10;
    }
    Some(((10 - sum % 10) % 10) as u8)
}

fn loinc(t: &str) -> Result<String, CodeProblem> {
    const SHAPE: &str = "1-7 digits, a hyphen and a check digit (e.g. 4548-4)";
    if let Some((i, c)) = t
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_digit() && *c != '-')
    {
        return Err(CodeProblem::BadCharacter {
            position: i + 1,
            found: c,
        });
    }
    let (number, check) = t.split_once('-').ok_or(CodeProblem::Shape(SHAPE))?;
    let number = number.trim_start_matches('0');
    if number.is_empty() || number.len() > 7 || check.len() != 1 || check.contains('-') {
        return Err(CodeProblem::Shape(SHAPE));
    }
    let want = loinc_check_digit(number).ok_or(CodeProblem::Shape(SHAPE))?;
    if check.as_bytes().first() != Some(&(b'0' + want)) {
        return Err(CodeProblem::CheckDigit);
    }
    Ok(format!("{number}-{check}"))
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];
const VERHOEFF_INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

fn verhoeff_fold(digits: &str, offset: usize) -> Option<u8> {
    let mut c = 0u8;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let p = VERHOEFF_P[(i + offset) % 8][usize::from(b - b'0')];
        c = VERHOEFF_D[usize::from(c)][usize::from(p)];
    }
    Some(c)
}

/// The Verhoeff check digit SNOMED CT appends to `payload` (ASCII digits).
pub fn verhoeff_check_digit(payload: &str) -> Option<u8> {
    verhoeff_fold(payload, 1).map(|c| VERHOEFF_INV[usize::from(c)])
}

/// Whether `digits` (payload and check digit) passes the Verhoeff check.
pub fn verhoeff_valid(digits: &str) -> bool {
    !digits.is_empty() && verhoeff_fold(digits, 0) == Some(0)
}

fn snomed(t: &str) -> Result<String, CodeProblem> {
    const SHAPE: &str = "an SCTID of 6-18 digits without leading zero";
    if let Some((i, c)) = t.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(CodeProblem::BadCharacter {
            position: i + 1,
            found: c,
        });
    }
    if !(6..=18).contains(&t.len()) || t.starts_with('0') {
        return Err(CodeProblem::Shape(SHAPE));
    }
    if !verhoeff_valid(t) {
        return Err(CodeProblem::CheckDigit);
    }
    let partition = t.get(t.len() - 3..t.len() - 1);
    if !matches!(partition, Some("00" | "10")) {
        return Err(CodeProblem::NotAConcept);
    }
    Ok(t.to_owned())
}

/// The usual display form of a canonical code: ICD-10 with its dot after the
/// category (`E119` → `E11.9`); other systems unchanged.
pub fn display_code(system: &System, code: &str) -> String {
    if system.is_icd10() && code.len() > 3 && code.is_char_boundary(3) {
        let (cat, rest) = code.split_at(3);
        format!("{cat}.{rest}")
    } else {
        code.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &System, raw: &str) -> Result<String, CodeProblem> {
        normalise(s, raw).map_err(|e| e.problem)
    }

    #[test]
    fn icd10_variants() {
        for raw in ["E11.9", "E119", "e11.9", " E11.9 ", "E11.9*", "e 11.9"] {
            assert_eq!(n(&System::Icd10Se, raw).unwrap(), "E119", "{raw}");
        }
        assert_eq!(n(&System::Icd10Se, "I10").unwrap(), "I10");
        assert_eq!(n(&System::Icd10Se, "E11.").unwrap(), "E11");
        assert!(matches!(
            n(&System::Icd10Se, "E1.19"),
            Err(CodeProblem::BadCharacter { position: 3, .. })
        ));
        assert!(matches!(
            n(&System::Icd10Se, "E11.9.1"),
            Err(CodeProblem::BadCharacter { position: 6, .. })
        ));
        assert!(matches!(
            n(&System::Icd10Se, "11E"),
            Err(CodeProblem::Shape(_))
        ));
        assert!(matches!(
            n(&System::Icd10Se, "E1"),
            Err(CodeProblem::Shape(_))
        ));
        assert!(matches!(
            n(&System::Icd10Se, "S72.001A"),
            Err(CodeProblem::Shape(_))
        ));
        assert_eq!(n(&System::Icd10Cm, "S72.001A").unwrap(), "S72001A");
        assert_eq!(n(&System::Icd10Cm, "C7A.0").unwrap(), "C7A0");
        assert_eq!(n(&System::Icd10Se, ""), Err(CodeProblem::Empty));
    }

    #[test]
    fn atc_levels() {
        for (raw, want) in [
            ("a", "A"),
            ("A10", "A10"),
            ("a10b", "A10B"),
            ("A10BA", "A10BA"),
            (" a10ba02 ", "A10BA02"),
            ("A10 BA02", "A10BA02"),
        ] {
            assert_eq!(n(&System::Atc, raw).unwrap(), want);
        }
        assert!(matches!(
            n(&System::Atc, "A10BA2"),
            Err(CodeProblem::Shape(_))
        ));
        assert_eq!(n(&System::Atc, "E10BA02"), Err(CodeProblem::AtcGroup));
    }

    #[test]
    fn kva_npu() {
        assert_eq!(n(&System::Kva, "fng05").unwrap(), "FNG05");
        assert_eq!(n(&System::Kva, "DT016").unwrap(), "DT016");
        assert!(n(&System::Kva, "F0G05").is_err());
        assert!(n(&System::Kva, "FNG5").is_err());
        assert_eq!(n(&System::Npu, "npu27300").unwrap(), "NPU27300");
        assert_eq!(n(&System::Npu, "NPU 27300").unwrap(), "NPU27300");
        assert_eq!(n(&System::Npu, "27300").unwrap(), "NPU27300");
        assert_eq!(n(&System::Npu, "swe05406").unwrap(), "SWE05406");
        assert!(n(&System::Npu, "XYZ27300").is_err());
    }

    #[test]
    fn loinc_check() {
        assert_eq!(n(&System::Loinc, "4548-4").unwrap(), "4548-4");
        assert_eq!(n(&System::Loinc, "04548-4").unwrap(), "4548-4");
        assert_eq!(n(&System::Loinc, "2160-0").unwrap(), "2160-0");
        assert_eq!(n(&System::Loinc, "4548-3"), Err(CodeProblem::CheckDigit));
        assert!(matches!(
            n(&System::Loinc, "45484"),
            Err(CodeProblem::Shape(_))
        ));
        assert!(matches!(
            n(&System::Loinc, "LP4548-4"),
            Err(CodeProblem::BadCharacter { position: 1, .. })
        ));
    }

    #[test]
    fn snomed_verhoeff() {
        for id in ["44054006", "73211009", "38341003", "195967001", "13645005"] {
            assert_eq!(n(&System::SnomedCt, id).unwrap(), id);
        }
        assert_eq!(verhoeff_check_digit("4405400"), Some(6));
        assert_eq!(
            n(&System::SnomedCt, "44054007"),
            Err(CodeProblem::CheckDigit)
        );
        assert!(matches!(
            n(&System::SnomedCt, "04054006"),
            Err(CodeProblem::Shape(_))
        ));
        // A description id (partition 01) is not a concept.
        let payload = "12345601";
        let d = verhoeff_check_digit(payload).unwrap();
        assert_eq!(
            n(&System::SnomedCt, &format!("{payload}{d}")),
            Err(CodeProblem::NotAConcept)
        );
    }

    #[test]
    fn other_systems_keep_text() {
        let s = System::Other("local".into());
        assert_eq!(n(&s, " Ab-1 ").unwrap(), "Ab-1");
        assert!(n(&s, "a\u{7}b").is_err());
    }

    #[test]
    fn errors_name_system_and_code() {
        let e = normalise(&System::Loinc, "4548-3").unwrap_err();
        assert_eq!(e.to_string(), "LOINC code \"4548-3\": wrong check digit");
    }

    #[test]
    fn display_form() {
        assert_eq!(display_code(&System::Icd10Se, "E119"), "E11.9");
        assert_eq!(display_code(&System::Icd10Se, "I10"), "I10");
        assert_eq!(display_code(&System::Atc, "A10BA02"), "A10BA02");
    }
}
