//! Property tests: normalisation, check digits, hierarchy.
#![allow(clippy::unwrap_used)]

use halsohub_codes::hierarchy::{Icd10Node, atc_ancestors, blocks, chapters, is_within};
use halsohub_codes::units::normalise_unit;
use halsohub_codes::{
    CodeProblem, CodeRegistry, System, loinc_check_digit, normalise, verhoeff_check_digit,
};
use proptest::prelude::*;

fn any_system() -> impl Strategy<Value = System> {
    prop_oneof![
        Just(System::Icd10Se),
        Just(System::Icd10Cm),
        Just(System::Atc),
        Just(System::Kva),
        Just(System::Npu),
        Just(System::Loinc),
        Just(System::SnomedCt),
        Just(System::Other("local".into())),
    ]
}

/// A canonical ICD-10-SE code: letter, two digits, up to three more.
fn icd10_code() -> impl Strategy<Value = String> {
    "[A-Z][0-9]{2}[0-9A-Z]{0,3}"
}

/// A canonical ATC code of any level.
fn atc_code() -> impl Strategy<Value = String> {
    (
        prop::sample::select(b"ABCDGHJLMNPRSV".to_vec()),
        "[0-9]{2}",
        "[A-Z]",
        "[A-Z]",
        "[0-9]{2}",
        1usize..=5,
    )
        .prop_map(|(g, l2, l3, l4, l5, level)| {
            let full = format!("{}{l2}{l3}{l4}{l5}", g as char);
            let len = [1, 3, 4, 5, 7][level - 1];
            full[..len].to_owned()
        })
}

fn loinc_code() -> impl Strategy<Value = String> {
    "[1-9][0-9]{0,6}".prop_map(|n| {
        let c = loinc_check_digit(&n).unwrap();
        format!("{n}-{c}")
    })
}

fn snomed_code() -> impl Strategy<Value = String> {
    ("[1-9][0-9]{2,13}", prop::sample::select(vec!["00", "10"])).prop_map(|(item, part)| {
        let payload = format!("{item}{part}");
        let c = verhoeff_check_digit(&payload).unwrap();
        format!("{payload}{c}")
    })
}

/// Replaces the digit at `pos` with another digit.
fn change_digit(s: &str, pos: usize, delta: u8) -> String {
    let mut b = s.as_bytes().to_vec();
    b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
    String::from_utf8(b).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn normalisation_is_idempotent(system in any_system(), raw in "[ a-zA-Z0-9.*+-]{0,12}") {
        if let Ok(n) = normalise(&system, &raw) {
            prop_assert_eq!(normalise(&system, &n).unwrap(), n);
        }
    }

    #[test]
    fn normalisation_never_panics(system in any_system(), raw in "\\PC{0,80}") {
        let _ = normalise(&system, &raw);
    }

    #[test]
    fn icd10_variants_agree(code in icd10_code(), lower in any::<bool>(), pad in any::<bool>(), marker in any::<bool>()) {
        let mut written = if code.len() > 3 {
            format!("{}.{}", &code[..3], &code[3..])
        } else {
            code.clone()
        };
        if lower { written = written.to_lowercase(); }
        if marker { written.push('*'); }
        if pad { written = format!("  {written}\t"); }
        prop_assert_eq!(normalise(&System::Icd10Se, &written).unwrap(), code.clone());
        prop_assert_eq!(normalise(&System::Icd10Se, &code).unwrap(), code);
    }

    #[test]
    fn atc_variants_agree(code in atc_code(), lower in any::<bool>(), space in any::<bool>()) {
        let mut written = if lower { code.to_lowercase() } else { code.clone() };
        if space && written.len() > 3 { written.insert(3, ' '); }
        prop_assert_eq!(normalise(&System::Atc, &written).unwrap(), code);
    }

    #[test]
    fn loinc_single_digit_changes_are_caught(code in loinc_code(), pos in 0usize..8, delta in 1u8..=9) {
        prop_assert_eq!(normalise(&System::Loinc, &code).unwrap(), code.clone());
        prop_assert_eq!(normalise(&System::Loinc, &format!("0{code}")).unwrap(), code.clone());
        let digits: Vec<usize> = code.bytes().enumerate().filter(|(_, b)| b.is_ascii_digit()).map(|(i, _)| i).collect();
        let at = digits[pos % digits.len()];
        let changed = change_digit(&code, at, delta);
        // A change of the leading digit to 0 changes the number's length;
        // either way the result must not be accepted as a different code.
        let got = normalise(&System::Loinc, &changed);
        prop_assert!(got.is_err(), "{} -> {} accepted", code, changed);
    }

    #[test]
    fn snomed_single_digit_changes_are_caught(code in snomed_code(), pos in 0usize..18, delta in 1u8..=9) {
        prop_assert_eq!(normalise(&System::SnomedCt, &code).unwrap(), code.clone());
        let at = pos % code.len();
        let changed = change_digit(&code, at, delta);
        let got = normalise(&System::SnomedCt, &changed);
        prop_assert!(got.is_err(), "{} -> {} accepted", code, changed);
        if at == 0 || changed.starts_with('0') {
            // A leading zero is a shape error, anything else a check digit.
        } else if let Err(e) = got {
            prop_assert_eq!(e.problem, CodeProblem::CheckDigit);
        }
    }

    #[test]
    fn snomed_adjacent_transpositions_are_caught(code in snomed_code(), pos in 0usize..17) {
        let at = pos % (code.len() - 1);
        let mut b = code.clone().into_bytes();
        prop_assume!(b[at] != b[at + 1]);
        b.swap(at, at + 1);
        let swapped = String::from_utf8(b).unwrap();
        prop_assert!(normalise(&System::SnomedCt, &swapped).is_err());
    }

    #[test]
    fn icd10_within_matches_prefix_reference(code in icd10_code(), cut in 3usize..=6) {
        let anc = &code[..cut.min(code.len())];
        prop_assert!(is_within(&System::Icd10Se, &code, anc).unwrap());
        // A sibling prefix is never an ancestor.
        let other = format!("{}{}", &anc[..anc.len() - 1], if anc.ends_with('0') { '1' } else { '0' });
        prop_assert_eq!(
            is_within(&System::Icd10Se, &code, &other).unwrap(),
            code.starts_with(&other)
        );
    }

    #[test]
    fn icd10_block_matches_range_reference(code in icd10_code(), a in "[A-Z][0-9]{2}", b in "[A-Z][0-9]{2}") {
        let (first, last) = if a <= b { (a, b) } else { (b, a) };
        // Reference: enumerate every category from first to last explicitly.
        let mut cats = Vec::new();
        for letter in first.as_bytes()[0]..=last.as_bytes()[0] {
            for n in 0..100u32 {
                let c = format!("{}{n:02}", letter as char);
                if c >= first && c <= last { cats.push(c); }
            }
        }
        let want = cats.iter().any(|c| code.starts_with(c.as_str()));
        let got = is_within(&System::Icd10Se, &code, &format!("{first}-{last}")).unwrap();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn atc_within_matches_reference(code in atc_code(), anc in atc_code()) {
        let want = anc == code || atc_ancestors(&code).contains(&anc.as_str());
        prop_assert_eq!(is_within(&System::Atc, &code, &anc).unwrap(), want);
        prop_assert_eq!(is_within(&System::Atc, &code, &anc).unwrap(), code.starts_with(&anc));
    }

    #[test]
    fn unit_normalisation_is_idempotent(raw in "[ a-zA-Zµμ/%0-9.,^²*{}_()\\[\\]-]{0,16}") {
        if let Ok(u) = normalise_unit(&raw) {
            prop_assert_eq!(normalise_unit(u).unwrap(), u);
        }
    }
}

/// Chapters and blocks, checked for every built-in ICD-10-SE code against
/// the published ranges read as plain string comparisons.
#[test]
fn builtin_codes_sit_in_their_published_chapter_and_block() {
    let reg = CodeRegistry::builtin();
    for e in reg.entries(&System::Icd10Se) {
        let cat = &e.code()[..3];
        for ch in chapters() {
            let want = ch.first <= cat && cat <= ch.last;
            assert_eq!(
                Icd10Node::Chapter(ch.number).contains(e.code()),
                want,
                "{} in chapter {}",
                e.code(),
                ch.roman
            );
        }
        let in_blocks: Vec<_> = blocks()
            .iter()
            .filter(|b| b.first.as_str() <= cat && cat <= b.last.as_str())
            .collect();
        assert_eq!(
            in_blocks.len(),
            1,
            "{} in {} blocks",
            e.code(),
            in_blocks.len()
        );
        assert!(in_blocks[0].contains(e.code()));
    }
}

/// Every lab code the unit table names is in the built-in lists.
#[test]
fn analyte_codes_are_listed() {
    let reg = CodeRegistry::builtin();
    for a in halsohub_codes::units::ANALYTES {
        for c in a.npu {
            assert!(reg.is_known(&System::Npu, c), "{c}");
        }
        for c in a.loinc {
            assert!(reg.is_known(&System::Loinc, c), "{c}");
        }
    }
}
