//! Property tests for identity numbers and pseudonyms.
#![allow(clippy::unwrap_used)]

use chrono::{Datelike, Days, NaiveDate};
use halsohub_identity::{
    Form, HubKey, IdError, IdKind, IdentityNumber, ParseOptions, Personnummer, Pseudonymiser,
    luhn_check_digit,
};
use proptest::prelude::*;

fn reference() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 15).unwrap()
}

/// Any birth date from 1870 up to the reference date.
fn birth_date() -> impl Strategy<Value = NaiveDate> {
    let start = NaiveDate::from_ymd_opt(1870, 1, 1).unwrap();
    let span = (reference() - start).num_days() as u64;
    (0..=span).prop_map(move |d| start.checked_add_days(Days::new(d)).unwrap())
}

fn number() -> impl Strategy<Value = Personnummer> {
    (birth_date(), 0u16..=999, any::<bool>())
        .prop_map(|(d, s, c)| Personnummer::from_parts(d, s, c).unwrap())
}

/// The textbook Luhn algorithm over a string, as a reference.
fn luhn_reference(s: &str) -> u8 {
    let mut sum = 0;
    for (i, ch) in s.chars().rev().enumerate() {
        let mut d = ch.to_digit(10).unwrap();
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d = d / 10 + d % 10;
            }
        }
        sum += d;
    }
    ((10 - sum % 10) % 10) as u8
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn luhn_matches_reference(s in "[0-9]{1,20}") {
        prop_assert_eq!(luhn_check_digit(s.as_bytes()), Some(luhn_reference(&s)));
    }

    #[test]
    fn every_form_round_trips(p in number()) {
        let opts = ParseOptions::new(reference());
        for form in Form::all(reference()) {
            let text = p.format(form);
            let id = IdentityNumber::parse(&text, &opts).unwrap();
            let q = *id.as_personnummer().unwrap();
            let want_kind = if p.is_coordination() {
                IdKind::Samordningsnummer
            } else {
                IdKind::Personnummer
            };
            prop_assert_eq!(id.kind(), want_kind);
            if form == Form::Ten {
                prop_assert!(id.century_guessed());
                // The guess is the most recent century that puts the date
                // on or before the reference date.
                prop_assert_eq!(q.serial(), p.serial());
                prop_assert_eq!(q.is_coordination(), p.is_coordination());
                prop_assert_eq!((q.birth_date().month(), q.birth_date().day()),
                    (p.birth_date().month(), p.birth_date().day()));
                prop_assert_eq!((q.birth_date().year() - p.birth_date().year()).rem_euclid(100), 0);
                prop_assert!(q.birth_date() <= reference());
                prop_assert!(q.birth_date().year() > reference().year() - 101);
                if reference().year() - p.birth_date().year() < 99 {
                    prop_assert_eq!(q, p);
                }
            } else {
                prop_assert!(!id.century_guessed());
                prop_assert_eq!(q, p);
            }
            // Lower/upper case and whitespace do not matter.
            let padded = format!(" \t{text} \n");
            prop_assert_eq!(IdentityNumber::parse(&padded, &opts).unwrap(), id);
        }
    }

    #[test]
    fn single_digit_changes_are_caught(p in number(), pos in 0usize..12, delta in 1u8..=9) {
        let opts = ParseOptions::new(reference()).with_reserv_schemes(vec![]);
        let mut b = p.canonical_bytes();
        b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
        let text = String::from_utf8(b.to_vec()).unwrap();
        match IdentityNumber::parse(&text, &opts) {
            Err(e) => {
                // Never echoes the number.
                let msg = e.to_string();
                prop_assert!(!msg.contains(&text[2..8]), "{}", msg);
                prop_assert!(!msg.contains(&text[8..12]), "{}", msg);
            }
            Ok(id) => {
                // The check digit covers YYMMDDNNN; only the century digits
                // are outside it, and changing them gives another valid
                // birth date in a different century.
                prop_assert!(pos < 2, "change at {} not caught", pos);
                let q = id.as_personnummer().unwrap();
                prop_assert_ne!(q.birth_date().year(), p.birth_date().year());
                prop_assert_eq!(q.birth_date().year() % 100, p.birth_date().year() % 100);
                prop_assert_eq!(q.serial(), p.serial());
            }
        }
    }

    #[test]
    fn ten_digit_changes_are_all_caught(p in number(), pos in 0usize..10, delta in 1u8..=9) {
        let opts = ParseOptions::new(reference()).with_reserv_schemes(vec![]);
        let text = p.format(Form::TenSeparated { reference: reference() });
        let mut b = text.into_bytes();
        let i = if pos < 6 { pos } else { pos + 1 };
        b[i] = b'0' + (b[i] - b'0' + delta) % 10;
        let changed = String::from_utf8(b).unwrap();
        prop_assert!(IdentityNumber::parse(&changed, &opts).is_err());
    }

    #[test]
    fn parser_never_panics(s in "\\PC{0,40}") {
        let _ = IdentityNumber::parse(&s, &ParseOptions::new(reference()));
    }

    #[test]
    fn parser_never_panics_on_near_misses(s in "[0-9+\\- ]{0,16}") {
        let _ = IdentityNumber::parse(&s, &ParseOptions::new(reference()));
    }

    #[test]
    fn pseudonyms_stable_and_distinct(a in number(), b in number(), k1 in any::<[u8; 32]>(), k2 in any::<[u8; 32]>()) {
        let s1 = Pseudonymiser::new(&HubKey::from_bytes(k1));
        let s1_again = Pseudonymiser::new(&HubKey::from_bytes(k1));
        let id_a = IdentityNumber::from(a);
        prop_assert_eq!(s1.pseudonym(&id_a), s1_again.pseudonym(&id_a));
        if a != b {
            prop_assert_ne!(s1.pseudonym(&id_a), s1.pseudonym(&IdentityNumber::from(b)));
        }
        if k1 != k2 {
            let s2 = Pseudonymiser::new(&HubKey::from_bytes(k2));
            prop_assert_ne!(s1.pseudonym(&id_a), s2.pseudonym(&id_a));
            prop_assert_ne!(s1.key_fingerprint(), s2.key_fingerprint());
        }
    }
}

#[test]
fn reservnummer_never_links_to_a_personnummer() {
    // A Skåne-style reservnummer built on the same date as a personnummer
    // gets its own namespace and pseudonym.
    let opts = ParseOptions::new(reference());
    let p = IdentityNumber::parse("19811218-9876", &opts).unwrap();
    let r = IdentityNumber::parse("19811218-K876", &opts).unwrap();
    assert!(matches!(r.kind(), IdKind::Reservnummer { .. }));
    assert_ne!(p.canonical(), r.canonical());
    let s = Pseudonymiser::new(&HubKey::from_bytes([9; 32]));
    assert_ne!(s.pseudonym(&p), s.pseudonym(&r));
}

#[test]
fn errors_name_what_is_wrong() {
    let opts = ParseOptions::new(reference());
    let e = IdentityNumber::parse("811218-9875", &opts).unwrap_err();
    assert_eq!(e, IdError::BadCheckDigit);
    assert_eq!(e.to_string(), "identity number has a wrong check digit");
}
