//! Personnummer and samordningsnummer: construction, parsing, written forms.

use std::fmt;

use chrono::{Datelike, NaiveDate};

use crate::error::{DateProblem, IdError};

/// Computes the Luhn check digit over ASCII digits (for a personnummer: the
/// nine digits `YYMMDDNNN`, with day + 60 for a samordningsnummer).
///
/// Returns `None` if `digits` holds anything but ASCII digits.
///
/// ```
/// assert_eq!(halsohub_identity::luhn_check_digit(b"811218987"), Some(6));
/// ```
pub fn luhn_check_digit(digits: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    // The rightmost payload digit gets weight 2, then alternating 1, 2, ...
    for (i, &c) in digits.iter().rev().enumerate() {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = u32::from(c - b'0');
        let v = if i % 2 == 0 { d * 2 } else { d };
        sum += if v > 9 { v - 9 } else { v };
    }
    // (10 - sum mod 10) mod 10, always < 10.
    Some(((10 - sum % 10) % 10) as u8)
}

/// The written form of a personnummer.
///
/// The 10-digit separated form needs a reference date: from the calendar year
/// a person turns 100 the separator is `+` instead of `-` (Skatteverket's
/// rule), which is what lets a reader recover the century.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// `YYMMDDNNNC` — ambiguous century; readers must guess.
    Ten,
    /// `YYMMDD-NNNC`, or `YYMMDD+NNNC` from the year the person turns 100
    /// counted at `reference`.
    TenSeparated {
        /// The date at which the number is written.
        reference: NaiveDate,
    },
    /// `YYYYMMDDNNNC` — the canonical form.
    Twelve,
    /// `YYYYMMDD-NNNC`.
    TwelveSeparated,
}

impl Form {
    /// Every written form, the separated 10-digit one written at `reference`.
    pub fn all(reference: NaiveDate) -> [Form; 4] {
        [
            Form::Ten,
            Form::TenSeparated { reference },
            Form::Twelve,
            Form::TwelveSeparated,
        ]
    }
}

/// A valid personnummer or samordningsnummer (coordination number).
///
/// Holds the real birth date; a samordningsnummer is written with day + 60.
/// `Debug` is redacted: the number is only ever written on purpose, through
/// [`Personnummer::format`] or [`Personnummer::canonical_bytes`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Personnummer {
    birth_date: NaiveDate,
    serial: u16,
    coordination: bool,
}

impl fmt::Debug for Personnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Personnummer")
            .field("coordination", &self.coordination)
            .finish_non_exhaustive()
    }
}

impl Personnummer {
    /// Builds a number from its parts and computes its check digit.
    ///
    /// `serial` is the three-digit birth number (`NNN`, 0..=999; its last
    /// digit is odd for men and even for women by convention);
    /// `coordination` makes it a samordningsnummer (day + 60).
    pub fn from_parts(
        birth_date: NaiveDate,
        serial: u16,
        coordination: bool,
    ) -> Result<Self, IdError> {
        if serial > 999 {
            return Err(IdError::SerialOutOfRange);
        }
        if !(1000..=9999).contains(&birth_date.year()) {
            return Err(IdError::ImpossibleDate(DateProblem::Year));
        }
        Ok(Personnummer {
            birth_date,
            serial,
            coordination,
        })
    }

    /// The birth date (the real day, also for a samordningsnummer).
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The three-digit birth number `NNN`.
    pub fn serial(&self) -> u16 {
        self.serial
    }

    /// Whether this is a samordningsnummer (day + 60).
    pub fn is_coordination(&self) -> bool {
        self.coordination
    }

    /// The Luhn check digit `C`.
    pub fn check_digit(&self) -> u8 {
        let b = self.canonical_bytes();
        // The nine digits after the century; always ASCII digits.
        b.get(2..11).and_then(luhn_check_digit).unwrap_or(0)
    }

    /// The canonical 12-digit form `YYYYMMDDNNNC` as ASCII bytes, without
    /// allocating (day + 60 for a samordningsnummer).
    pub fn canonical_bytes(&self) -> [u8; 12] {
        let mut out = [b'0'; 12];
        let year = self.birth_date.year().clamp(0, 9999) as u32;
        let day = self.birth_date.day() + if self.coordination { 60 } else { 0 };
        put(&mut out[0..4], year);
        put(&mut out[4..6], self.birth_date.month());
        put(&mut out[6..8], day);
        put(&mut out[8..11], u32::from(self.serial));
        let check = out.get(2..11).and_then(luhn_check_digit).unwrap_or(0);
        out[11] = b'0' + check;
        out
    }

    /// The canonical 12-digit form `YYYYMMDDNNNC`.
    pub fn canonical(&self) -> String {
        self.format(Form::Twelve)
    }

    /// Writes the number in the given form.
    pub fn format(&self, form: Form) -> String {
        let mut s = String::with_capacity(13);
        // Writing to a String cannot fail.
        let _ = self.write(form, &mut s);
        s
    }

    /// Writes the number in the given form to `out` (no allocation).
    pub fn write<W: fmt::Write>(&self, form: Form, out: &mut W) -> fmt::Result {
        let b = self.canonical_bytes();
        // All bytes are ASCII digits, so this is valid UTF-8.
        let s = std::str::from_utf8(&b).map_err(|_| fmt::Error)?;
        let (century, date, tail) = (&s[0..2], &s[2..8], &s[8..12]);
        match form {
            Form::Ten => {
                out.write_str(date)?;
                out.write_str(tail)
            }
            Form::TenSeparated { reference } => {
                out.write_str(date)?;
                out.write_char(if self.is_centenarian_at(reference) {
                    '+'
                } else {
                    '-'
                })?;
                out.write_str(tail)
            }
            Form::Twelve => {
                out.write_str(century)?;
                out.write_str(date)?;
                out.write_str(tail)
            }
            Form::TwelveSeparated => {
                out.write_str(century)?;
                out.write_str(date)?;
                out.write_char('-')?;
                out.write_str(tail)
            }
        }
    }

    /// Whether the 10-digit separated form written at `reference` uses `+`:
    /// from the calendar year in which the person turns 100.
    pub fn is_centenarian_at(&self, reference: NaiveDate) -> bool {
        reference.year() - self.birth_date.year() >= 100
    }

    /// Parses a personnummer or samordningsnummer in any written form.
    ///
    /// Returns the number and whether its century had to be guessed (a bare
    /// 10-digit form). See [`crate::IdentityNumber::parse`] for the rules.
    pub fn parse(text: &str, reference: NaiveDate) -> Result<(Self, bool), IdError> {
        parse_personnummer(text.trim(), reference)
    }
}

/// Writes `value` as zero-padded decimal digits filling `out`.
fn put(out: &mut [u8], mut value: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn num(d: &[u8]) -> u32 {
    d.iter().fold(0, |acc, &c| acc * 10 + u32::from(c - b'0'))
}

/// The longest text worth scanning: 12 digits, one separator, some slack.
const MAX_CHARS: usize = 32;

pub(crate) fn parse_personnummer(
    t: &str,
    reference: NaiveDate,
) -> Result<(Personnummer, bool), IdError> {
    if t.is_empty() {
        return Err(IdError::Empty);
    }
    let mut digits = [0u8; 12];
    let mut n = 0usize;
    let mut total_digits = 0usize;
    // (digits before it, the separator, 1-based char position)
    let mut sep: Option<(usize, char, usize)> = None;
    for (i, c) in t.chars().enumerate() {
        let position = i + 1;
        if position > MAX_CHARS {
            return Err(IdError::WrongLength {
                digits: total_digits.max(13),
            });
        }
        match c {
            '0'..='9' => {
                if let Some(slot) = digits.get_mut(n) {
                    *slot = c as u8;
                    n += 1;
                }
                total_digits += 1;
            }
            '-' | '+' => {
                if sep.is_some() {
                    return Err(IdError::MisplacedSeparator { position });
                }
                sep = Some((total_digits, c, position));
            }
            other => {
                return Err(IdError::BadCharacter {
                    position,
                    found: other,
                });
            }
        }
    }
    if total_digits != 10 && total_digits != 12 {
        return Err(IdError::WrongLength {
            digits: total_digits,
        });
    }
    if let Some((before, _, position)) = sep
        && before != total_digits - 4
    {
        return Err(IdError::MisplacedSeparator { position });
    }
    let d = &digits[..total_digits];
    let (payload, explicit_year) = if total_digits == 12 {
        (&d[2..], Some(num(&d[0..4]) as i32))
    } else {
        (d, None)
    };
    // payload = YYMMDDNNNC
    let yy = num(&payload[0..2]) as i32;
    let month = num(&payload[2..4]);
    let written_day = num(&payload[4..6]);
    let serial = num(&payload[6..9]) as u16;
    let (day, coordination) = if written_day > 60 {
        (written_day - 60, true)
    } else {
        (written_day, false)
    };

    let ref_year = reference.year();
    // The latest year <= ref_year ending in yy.
    let recent = ref_year - (ref_year - yy).rem_euclid(100);
    let (year, guessed) = match (explicit_year, sep.map(|s| s.1)) {
        (Some(y), _) => (y, false),
        (None, Some('+')) => (recent - 100, false),
        (None, Some(_)) => (recent, false),
        (None, None) => (recent, true),
    };

    let month_ok = (1..=12).contains(&month);
    if !month_ok {
        return Err(IdError::ImpossibleDate(DateProblem::Month));
    }
    let birth_date = match make_date(year, month, day) {
        Ok(date) => date,
        // A guessed century may be what makes 29 February impossible.
        Err(DateProblem::NotLeapYear) if guessed => {
            make_date(year - 100, month, day).map_err(IdError::ImpossibleDate)?
        }
        Err(p) => return Err(IdError::ImpossibleDate(p)),
    };
    let birth_date = if birth_date > reference {
        if guessed {
            // A bare number whose date in the recent century is still to
            // come must belong to the century before.
            make_date(year - 100, month, day).map_err(IdError::ImpossibleDate)?
        } else {
            return Err(IdError::BirthDateAfterReference);
        }
    } else {
        birth_date
    };

    let check = luhn_check_digit(&payload[0..9]).ok_or(IdError::BadCheckDigit)?;
    if payload[9] != b'0' + check {
        return Err(IdError::BadCheckDigit);
    }
    let pn = Personnummer::from_parts(birth_date, serial, coordination)?;
    Ok((pn, guessed))
}

fn make_date(year: i32, month: u32, day: u32) -> Result<NaiveDate, DateProblem> {
    if !(1..=12).contains(&month) {
        return Err(DateProblem::Month);
    }
    if let Some(d) = NaiveDate::from_ymd_opt(year, month, day) {
        return Ok(d);
    }
    if month == 2 && day == 29 {
        Err(DateProblem::NotLeapYear)
    } else {
        Err(DateProblem::Day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn luhn_known_values() {
        // Skatteverket's example 811218-9876.
        assert_eq!(luhn_check_digit(b"811218987"), Some(6));
        assert_eq!(luhn_check_digit(b"000000000"), Some(0));
        assert_eq!(luhn_check_digit(b"12a"), None);
        // The generic Luhn example 7992739871 -> 3.
        assert_eq!(luhn_check_digit(b"7992739871"), Some(3));
    }

    #[test]
    fn from_parts_and_forms() {
        let p = Personnummer::from_parts(date(1981, 12, 18), 987, false).unwrap();
        assert_eq!(p.check_digit(), 6);
        let r = date(2026, 1, 1);
        assert_eq!(p.format(Form::Ten), "8112189876");
        assert_eq!(p.format(Form::TenSeparated { reference: r }), "811218-9876");
        assert_eq!(p.format(Form::Twelve), "198112189876");
        assert_eq!(p.format(Form::TwelveSeparated), "19811218-9876");
        assert_eq!(p.canonical(), "198112189876");
    }

    #[test]
    fn plus_from_the_year_of_the_hundredth_birthday() {
        let p = Personnummer::from_parts(date(1926, 12, 31), 12, false).unwrap();
        let before = Form::TenSeparated {
            reference: date(2025, 12, 31),
        };
        let during = Form::TenSeparated {
            reference: date(2026, 1, 1),
        };
        assert!(p.format(before).contains('-'));
        assert!(p.format(during).contains('+'));
    }

    #[test]
    fn coordination_adds_sixty() {
        let p = Personnummer::from_parts(date(1990, 5, 3), 123, true).unwrap();
        assert_eq!(&p.format(Form::Twelve)[..8], "19900563");
        let (q, guessed) = Personnummer::parse(&p.format(Form::Twelve), date(2026, 1, 1)).unwrap();
        assert!(!guessed);
        assert_eq!(q, p);
        assert!(q.is_coordination());
    }

    #[test]
    fn serial_range() {
        assert_eq!(
            Personnummer::from_parts(date(1990, 1, 1), 1000, false),
            Err(IdError::SerialOutOfRange)
        );
    }

    #[test]
    fn parse_forms() {
        let r = date(2026, 6, 1);
        let want = Personnummer::from_parts(date(1981, 12, 18), 987, false).unwrap();
        for t in [
            "811218-9876",
            "8112189876",
            "198112189876",
            "19811218-9876",
            "  19811218-9876\t",
        ] {
            let (p, _) = Personnummer::parse(t, r).unwrap();
            assert_eq!(p, want, "{t}");
        }
        assert!(Personnummer::parse("8112189876", r).unwrap().1);
        assert!(!Personnummer::parse("811218-9876", r).unwrap().1);
        let (old, _) = Personnummer::parse("811218+9876", r).unwrap();
        assert_eq!(old.birth_date(), date(1881, 12, 18));
    }

    #[test]
    fn parse_errors() {
        let r = date(2026, 6, 1);
        let p = |t| Personnummer::parse(t, r).unwrap_err();
        assert_eq!(p(""), IdError::Empty);
        assert_eq!(p("   "), IdError::Empty);
        assert_eq!(p("811218-987"), IdError::WrongLength { digits: 9 });
        assert_eq!(
            p("81121x-9876"),
            IdError::BadCharacter {
                position: 6,
                found: 'x'
            }
        );
        assert_eq!(
            p("8112-189876"),
            IdError::MisplacedSeparator { position: 5 }
        );
        assert_eq!(
            p("811218--9876"),
            IdError::MisplacedSeparator { position: 8 }
        );
        assert_eq!(p("811218-9875"), IdError::BadCheckDigit);
        assert_eq!(
            p("811318-9876"),
            IdError::ImpossibleDate(DateProblem::Month)
        );
        assert_eq!(p("811232-9876"), IdError::ImpossibleDate(DateProblem::Day));
        assert_eq!(
            p("19000229-0000"),
            IdError::ImpossibleDate(DateProblem::NotLeapYear)
        );
        assert_eq!(p("20301218-9876"), IdError::BirthDateAfterReference);
        // Never echoes digits.
        for e in [p("811218-9875"), p("811318-9876"), p("811218-987")] {
            let msg = e.to_string();
            assert!(!msg.contains("8112"), "{msg}");
        }
    }

    #[test]
    fn leap_years_follow_the_century() {
        let r = date(2026, 6, 1);
        let p = Personnummer::from_parts(date(2000, 2, 29), 1, false).unwrap();
        let (q, _) = Personnummer::parse(&p.format(Form::Ten), r).unwrap();
        assert_eq!(q, p);
        let p = Personnummer::from_parts(date(1904, 2, 29), 1, false).unwrap();
        let t = p.format(Form::TenSeparated { reference: r });
        assert!(t.contains('+'));
        assert_eq!(Personnummer::parse(&t, r).unwrap().0, p);
    }

    #[test]
    fn bare_future_date_goes_back_a_century() {
        let r = date(2026, 6, 1);
        let p = Personnummer::from_parts(date(1926, 12, 1), 1, false).unwrap();
        let (q, guessed) = Personnummer::parse(&p.format(Form::Ten), r).unwrap();
        assert!(guessed);
        assert_eq!(q, p);
    }

    #[test]
    fn debug_is_redacted() {
        let p = Personnummer::from_parts(date(1981, 12, 18), 987, false).unwrap();
        let s = format!("{p:?}");
        assert!(!s.contains("1981") && !s.contains("987"), "{s}");
    }
}
