//! FHIR `date`, `dateTime` and `instant` values to calendar dates.

use chrono::NaiveDate;

/// Earliest and latest year accepted.
const MIN_YEAR: i32 = 1800;
const MAX_YEAR: i32 = 2100;

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')))
}

/// The calendar date of a FHIR date/dateTime as written (the local date of
/// the source; a time zone offset does not move it), and whether part of it
/// was imputed: a year alone becomes 1 July, a year and month the 15th (the
/// same rule as the register readers).
pub(crate) fn parse(s: &str) -> Result<(NaiveDate, bool), &'static str> {
    const SHAPE: &str = "expected YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.s][Z|+hh:mm]";
    let b = s.as_bytes();
    let y = b.get(0..4).and_then(num).ok_or(SHAPE)? as i32;
    if !(MIN_YEAR..=MAX_YEAR).contains(&y) {
        return Err("year out of range 1800-2100");
    }
    let (m, d, imputed, rest) = match b.len() {
        4 => (7, 1, true, &[][..]),
        7 => {
            if b.get(4) != Some(&b'-') {
                return Err(SHAPE);
            }
            let m = b.get(5..7).and_then(num).ok_or(SHAPE)?;
            (m, 15, true, &[][..])
        }
        n if n >= 10 => {
            if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
                return Err(SHAPE);
            }
            let m = b.get(5..7).and_then(num).ok_or(SHAPE)?;
            let d = b.get(8..10).and_then(num).ok_or(SHAPE)?;
            (m, d, false, b.get(10..).unwrap_or_default())
        }
        _ => return Err(SHAPE),
    };
    if !rest.is_empty() && !valid_time(rest) {
        return Err(SHAPE);
    }
    if !(1..=12).contains(&m) {
        return Err("month out of range");
    }
    let date = NaiveDate::from_ymd_opt(y, m, d).ok_or("day out of range for the month")?;
    Ok((date, imputed))
}

/// `Thh:mm[:ss[.fff]][Z|(+|-)hh:mm]`.
fn valid_time(t: &[u8]) -> bool {
    let Some(t) = t.strip_prefix(b"T") else {
        return false;
    };
    let two = |b: Option<&[u8]>, max: u32| b.and_then(num).is_some_and(|v| v <= max);
    if !(two(t.get(0..2), 24) && t.get(2) == Some(&b':') && two(t.get(3..5), 59)) {
        return false;
    }
    let mut rest = t.get(5..).unwrap_or_default();
    if let Some(r) = rest.strip_prefix(b":") {
        if !two(r.get(0..2), 60) {
            return false;
        }
        rest = r.get(2..).unwrap_or_default();
        if let Some(r) = rest.strip_prefix(b".") {
            let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return false;
            }
            rest = r.get(n..).unwrap_or_default();
        }
    }
    match rest {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            two(Some(&[*h1, *h2]), 14) && two(Some(&[*m1, *m2]), 59)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn shapes() {
        assert_eq!(parse("2020"), Ok((d(2020, 7, 1), true)));
        assert_eq!(parse("2020-02"), Ok((d(2020, 2, 15), true)));
        assert_eq!(parse("2020-02-29"), Ok((d(2020, 2, 29), false)));
        assert_eq!(
            parse("2020-02-29T23:10:00+01:00"),
            Ok((d(2020, 2, 29), false))
        );
        assert_eq!(
            parse("2020-02-29T23:10:00.123Z"),
            Ok((d(2020, 2, 29), false))
        );
        assert_eq!(parse("2020-02-29T23:10Z"), Ok((d(2020, 2, 29), false)));
        for bad in [
            "",
            "20",
            "2021-02-29",
            "2020-13",
            "2020/01/01",
            "2020-01-01T",
            "2020-01-01 10:00",
            "2020-01-01T25:00:00Z",
            "1700-01-01",
            "2020-01-01T10:00:00+0100",
            "2020-1-1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = parse(&s);
        }

        #[test]
        fn full_dates_round_trip(days in 0i64..100_000) {
            let date = d(1800, 1, 1) + chrono::Duration::days(days);
            if date.year_ce().1 <= 2100 {
                let text = date.format("%Y-%m-%dT12:00:00+02:00").to_string();
                proptest::prop_assert_eq!(parse(&text), Ok((date, false)));
            }
        }
    }
}
