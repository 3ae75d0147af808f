//! Parsing of the field values that register files carry: dates, numbers
//! with decimal commas, lab values with comparators.

use chrono::NaiveDate;
use halsohub_store::Comparator;

/// Earliest and latest year accepted in any date field.
pub(crate) const MIN_YEAR: i32 = 1870;
pub(crate) const MAX_YEAR: i32 = 2100;

/// Why a value could not be read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ValueError {
    /// The text does not have the expected shape.
    Shape(&'static str),
    /// A date-shaped value that is not a calendar date (or out of range).
    Impossible(&'static str),
}

fn digits<const N: usize>(b: &[u8]) -> Option<u32> {
    if b.len() != N || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// Splits `YYYYMMDD` or `YYYY-MM-DD` into (year, month, day).
fn date_parts(s: &str) -> Result<(i32, u32, u32), ValueError> {
    const SHAPE: ValueError = ValueError::Shape("expected a date YYYYMMDD or YYYY-MM-DD");
    let b = s.as_bytes();
    let (y, m, d) = match b.len() {
        8 => (b.get(0..4), b.get(4..6), b.get(6..8)),
        10 if b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-') => {
            (b.get(0..4), b.get(5..7), b.get(8..10))
        }
        _ => return Err(SHAPE),
    };
    let (Some(y), Some(m), Some(d)) = (
        y.and_then(digits::<4>),
        m.and_then(digits::<2>),
        d.and_then(digits::<2>),
    ) else {
        return Err(SHAPE);
    };
    Ok((y as i32, m, d))
}

fn checked_date(y: i32, m: u32, d: u32) -> Result<NaiveDate, ValueError> {
    if !(MIN_YEAR..=MAX_YEAR).contains(&y) {
        return Err(ValueError::Impossible("year out of range"));
    }
    if !(1..=12).contains(&m) {
        return Err(ValueError::Impossible("month out of range"));
    }
    NaiveDate::from_ymd_opt(y, m, d).ok_or(ValueError::Impossible("day out of range for the month"))
}

/// A date written `YYYYMMDD` or `YYYY-MM-DD`.
pub(crate) fn parse_date(s: &str) -> Result<NaiveDate, ValueError> {
    let (y, m, d) = date_parts(s)?;
    checked_date(y, m, d)
}

/// A date whose day or month may be `00` (unknown), as the cause-of-death
/// register writes them. Returns the date and whether it was imputed:
/// an unknown month gives 1 July of the year (the middle of the year), an
/// unknown day the 15th of the month (the middle of the month).
pub(crate) fn parse_partial_date(s: &str) -> Result<(NaiveDate, bool), ValueError> {
    let (y, m, d) = date_parts(s)?;
    match (m, d) {
        (0, _) => checked_date(y, 7, 1).map(|x| (x, true)),
        (_, 0) => checked_date(y, m, 15).map(|x| (x, true)),
        _ => checked_date(y, m, d).map(|x| (x, false)),
    }
}

/// A timestamp `YYYY-MM-DD HH:MM` (or `YYYY-MM-DDTHH:MM`, optional `:SS`),
/// or a bare date; returns the date.
pub(crate) fn parse_date_time(s: &str) -> Result<NaiveDate, ValueError> {
    const SHAPE: ValueError = ValueError::Shape("expected a time YYYY-MM-DD HH:MM");
    let (date, time) = match s.find([' ', 'T']) {
        Some(i) => (s.get(..i).unwrap_or(""), s.get(i + 1..).unwrap_or("")),
        None => (s, ""),
    };
    let date = parse_date(date)?;
    if !time.is_empty() {
        let b = time.trim().as_bytes();
        let ok_shape = (b.len() == 5 || b.len() == 8) && b.get(2) == Some(&b':');
        let h = b.get(0..2).and_then(digits::<2>);
        let m = b.get(3..5).and_then(digits::<2>);
        let sec = if b.len() == 8 {
            if b.get(5) != Some(&b':') {
                return Err(SHAPE);
            }
            b.get(6..8).and_then(digits::<2>)
        } else {
            Some(0)
        };
        match (ok_shape, h, m, sec) {
            (true, Some(h), Some(m), Some(sec)) => {
                if h > 23 || m > 59 || sec > 59 {
                    return Err(ValueError::Impossible("time of day out of range"));
                }
            }
            _ => return Err(SHAPE),
        }
    }
    Ok(date)
}

/// A decimal number with `.` or `,` as decimal separator, optional leading
/// `-`. No exponents, no thousands separators, no `inf`/`NaN`.
pub(crate) fn parse_number(s: &str) -> Result<f64, ValueError> {
    const SHAPE: ValueError = ValueError::Shape("expected a number like 12 or 6,5");
    let b = s.as_bytes();
    let body = b.strip_prefix(b"-").unwrap_or(b);
    let mut seen_sep = false;
    let mut digits_before = 0;
    let mut digits_after = 0;
    for &c in body {
        match c {
            b'0'..=b'9' if seen_sep => digits_after += 1,
            b'0'..=b'9' => digits_before += 1,
            b'.' | b',' if !seen_sep => seen_sep = true,
            _ => return Err(SHAPE),
        }
    }
    if digits_before == 0 || (seen_sep && digits_after == 0) || digits_before > 15 {
        return Err(SHAPE);
    }
    let normalised = s.replace(',', ".");
    normalised.parse::<f64>().map_err(|_| SHAPE)
}

/// A non-negative quantity (packages, dose).
pub(crate) fn parse_quantity(s: &str) -> Result<f64, ValueError> {
    let v = parse_number(s)?;
    if v < 0.0 {
        return Err(ValueError::Shape("a quantity cannot be negative"));
    }
    Ok(v)
}

/// A lab result: optional comparator (`<`, `<=`, `>`, `>=`, `≤`, `≥`), then
/// a number.
pub(crate) fn parse_lab_value(s: &str) -> Result<(Option<Comparator>, f64), ValueError> {
    let s = s.trim();
    let (cmp, rest) = if let Some(r) = s.strip_prefix("<=").or_else(|| s.strip_prefix('≤')) {
        (Some(Comparator::Le), r)
    } else if let Some(r) = s.strip_prefix(">=").or_else(|| s.strip_prefix('≥')) {
        (Some(Comparator::Ge), r)
    } else if let Some(r) = s.strip_prefix('<') {
        (Some(Comparator::Lt), r)
    } else if let Some(r) = s.strip_prefix('>') {
        (Some(Comparator::Gt), r)
    } else {
        (None, s)
    };
    let v = parse_number(rest.trim_start()).map_err(|_| {
        ValueError::Shape("expected a number, optionally after <, <=, > or >= (like <5 or 6,5)")
    })?;
    Ok((cmp, v))
}

/// Whether `code` is written as exactly `n` ASCII digits.
pub(crate) fn is_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// Splits a multi-valued code field at whitespace.
pub(crate) fn codes(s: &str) -> impl Iterator<Item = &str> {
    s.split_ascii_whitespace()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("20240229"), Ok(d(2024, 2, 29)));
        assert_eq!(parse_date("2024-02-29"), Ok(d(2024, 2, 29)));
        assert!(matches!(
            parse_date("20230229"),
            Err(ValueError::Impossible(_))
        ));
        assert!(matches!(
            parse_date("20231301"),
            Err(ValueError::Impossible(_))
        ));
        assert!(matches!(
            parse_date("00010101"),
            Err(ValueError::Impossible(_))
        ));
        for bad in [
            "",
            "2024-0229",
            "2024022",
            "abcdefgh",
            "2024/02/29",
            "٢٠٢٤٠٢٢٩",
        ] {
            assert!(
                matches!(parse_date(bad), Err(ValueError::Shape(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn partial_dates_are_imputed() {
        assert_eq!(parse_partial_date("20230000"), Ok((d(2023, 7, 1), true)));
        assert_eq!(parse_partial_date("20230200"), Ok((d(2023, 2, 15), true)));
        assert_eq!(parse_partial_date("20230005"), Ok((d(2023, 7, 1), true)));
        assert_eq!(parse_partial_date("20230205"), Ok((d(2023, 2, 5), false)));
        assert!(parse_partial_date("20231300").is_err());
    }

    #[test]
    fn date_times() {
        assert_eq!(parse_date_time("2023-04-05 08:30"), Ok(d(2023, 4, 5)));
        assert_eq!(parse_date_time("2023-04-05T08:30:10"), Ok(d(2023, 4, 5)));
        assert_eq!(parse_date_time("2023-04-05"), Ok(d(2023, 4, 5)));
        assert!(matches!(
            parse_date_time("2023-04-05 25:30"),
            Err(ValueError::Impossible(_))
        ));
        assert!(matches!(
            parse_date_time("2023-04-05 8:30"),
            Err(ValueError::Shape(_))
        ));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("6,5"), Ok(6.5));
        assert_eq!(parse_number("6.5"), Ok(6.5));
        assert_eq!(parse_number("-2"), Ok(-2.0));
        for bad in [
            "", "-", "6,", ",5", "1e5", "inf", "NaN", "1,000.5", "1 000", "+3",
        ] {
            assert!(parse_number(bad).is_err(), "{bad}");
        }
        assert!(parse_quantity("-1").is_err());
        assert_eq!(parse_lab_value("<5"), Ok((Some(Comparator::Lt), 5.0)));
        assert_eq!(parse_lab_value(">= 90"), Ok((Some(Comparator::Ge), 90.0)));
        assert_eq!(parse_lab_value("≤0,1"), Ok((Some(Comparator::Le), 0.1)));
        assert_eq!(parse_lab_value("48"), Ok((None, 48.0)));
        assert!(parse_lab_value("<").is_err());
        assert!(parse_lab_value("positiv").is_err());
    }

    proptest! {
        #[test]
        fn numbers_agree_with_std(int in 0u64..1_000_000_000, frac in proptest::option::of(0u32..100_000), comma in any::<bool>()) {
            let text = match frac {
                Some(f) => format!("{int}{}{f}", if comma { ',' } else { '.' }),
                None => int.to_string(),
            };
            let expected: f64 = text.replace(',', ".").parse().unwrap();
            prop_assert_eq!(parse_number(&text), Ok(expected));
        }

        #[test]
        fn dates_agree_with_chrono(days in 0i64..80_000, dash in any::<bool>()) {
            let date = d(1880, 1, 1) + chrono::Duration::days(days);
            let text = if dash { date.format("%Y-%m-%d").to_string() } else { date.format("%Y%m%d").to_string() };
            prop_assert_eq!(parse_date(&text), Ok(date));
        }

        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            let _ = parse_date(&s);
            let _ = parse_partial_date(&s);
            let _ = parse_date_time(&s);
            let _ = parse_number(&s);
            let _ = parse_lab_value(&s);
        }
    }
}
