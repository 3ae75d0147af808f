//! The Swedish working-day calendar, computed (no tables to keep up to date).
//!
//! Non-working days are Saturdays, Sundays, the public holidays of the Act on
//! public holidays (lag (1989:253) om allmänna helgdagar) and the eves that
//! are non-working by Swedish practice and treated as Sundays by the Act on
//! the computation of statutory time (lag (1930:173)): Midsummer Eve,
//! Christmas Eve and New Year's Eve.
//!
//! Holidays: New Year's Day (1 Jan), Epiphany (6 Jan), Good Friday, Easter
//! Sunday and Monday (Easter by the Gregorian computus), 1 May, Ascension Day
//! (Easter + 39), Whitsunday (Easter + 49), National Day (6 Jun), Midsummer
//! Day (the Saturday 20–26 Jun), All Saints' Day (the Saturday 31 Oct–6 Nov),
//! Christmas Day and Boxing Day. Half-days (Maundy Thursday, Walpurgis
//! Night, Epiphany Eve, All Saints' Eve) are working days.
//!
//! Dates are Swedish local dates: [`swedish_date`] converts an instant using
//! Central European (Summer) Time.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};

/// Easter Sunday of `year` (Gregorian; anonymous computus). `None` only for
/// years chrono cannot represent.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// The Swedish public holidays and non-working eves of `year`, with their
/// Swedish names, in date order.
pub fn swedish_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let ymd = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d);
    // The first `weekday` on or after month/day.
    let first_on_or_after = |m: u32, d: u32, wd: Weekday| {
        ymd(m, d).map(|start| {
            let ahead =
                (7 + wd.num_days_from_monday() - start.weekday().num_days_from_monday()) % 7;
            start + Duration::days(i64::from(ahead))
        })
    };
    let easter = easter_sunday(year);
    let from_easter = |days: i64| easter.map(|e| e + Duration::days(days));
    let candidates: [(Option<NaiveDate>, &'static str); 16] = [
        (ymd(1, 1), "Nyårsdagen"),
        (ymd(1, 6), "Trettondedag jul"),
        (from_easter(-2), "Långfredagen"),
        (from_easter(0), "Påskdagen"),
        (from_easter(1), "Annandag påsk"),
        (ymd(5, 1), "Första maj"),
        (from_easter(39), "Kristi himmelsfärdsdag"),
        (from_easter(49), "Pingstdagen"),
        (ymd(6, 6), "Sveriges nationaldag"),
        (first_on_or_after(6, 19, Weekday::Fri), "Midsommarafton"),
        (first_on_or_after(6, 20, Weekday::Sat), "Midsommardagen"),
        (first_on_or_after(10, 31, Weekday::Sat), "Alla helgons dag"),
        (ymd(12, 24), "Julafton"),
        (ymd(12, 25), "Juldagen"),
        (ymd(12, 26), "Annandag jul"),
        (ymd(12, 31), "Nyårsafton"),
    ];
    let mut out: Vec<(NaiveDate, &'static str)> = candidates
        .into_iter()
        .filter_map(|(d, n)| d.map(|d| (d, n)))
        .collect();
    out.sort_by_key(|(d, _)| *d);
    out
}

/// Whether `date` is a public holiday or non-working eve (weekends aside).
/// Computed directly, without building the year's list (it agrees with
/// [`swedish_holidays`]; a property test checks it).
pub fn is_holiday(date: NaiveDate) -> bool {
    let (m, d) = (date.month(), date.day());
    match (m, d) {
        (1, 1) | (1, 6) | (5, 1) | (6, 6) | (12, 24) | (12, 25) | (12, 26) | (12, 31) => {
            return true;
        }
        _ => {}
    }
    let wd = date.weekday();
    // Midsummer Eve: the Friday 19–25 June; Midsummer Day: the Saturday
    // 20–26 June; All Saints' Day: the Saturday 31 October–6 November.
    if m == 6
        && ((wd == Weekday::Fri && (19..=25).contains(&d))
            || (wd == Weekday::Sat && (20..=26).contains(&d)))
    {
        return true;
    }
    if wd == Weekday::Sat && ((m == 10 && d == 31) || (m == 11 && d <= 6)) {
        return true;
    }
    // Moving feasts: only between 20 March and 14 June.
    if (3..=6).contains(&m)
        && let Some(easter) = easter_sunday(date.year())
    {
        let offset = (date - easter).num_days();
        return matches!(offset, -2 | 0 | 1 | 39 | 49);
    }
    false
}

/// Whether `date` is a Swedish working day: Monday–Friday and not a holiday
/// or non-working eve.
pub fn is_working_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_holiday(date)
}

/// `date` itself if it is a working day, else the next working day — how a
/// statutory deadline that falls on a non-working day moves (lag (1930:173)).
pub fn next_working_day_on_or_after(date: NaiveDate) -> NaiveDate {
    let mut d = date;
    // At most ~5 consecutive non-working days occur (Christmas); bound the
    // loop anyway so no input can make it spin.
    for _ in 0..30 {
        if is_working_day(d) {
            return d;
        }
        match d.succ_opt() {
            Some(n) => d = n,
            None => return d,
        }
    }
    d
}

/// The date `n` working days after `date` (`date` itself not counted):
/// `add_working_days(Friday, 1)` is the next working Monday. Saturates at
/// the end of chrono's date range.
pub fn add_working_days(date: NaiveDate, n: u32) -> NaiveDate {
    let mut d = date;
    let mut left = n;
    while left > 0 {
        match d.succ_opt() {
            Some(next) => d = next,
            None => return d,
        }
        if is_working_day(d) {
            left -= 1;
        }
    }
    d
}

/// The number of working days in `(from, to]` — the working days that pass
/// going from `from` to `to`; negative (the count in `(to, from]`) when `to`
/// is before `from`. Counts whole weeks arithmetically and subtracts the
/// holidays that fall on weekdays, so long spans cost per year, not per day.
pub fn working_days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    if to < from {
        return -working_days_between(to, from);
    }
    let days = (to - from).num_days();
    let mut count = days / 7 * 5;
    // The remaining 0–6 days after the whole weeks.
    let mut d = from + Duration::days(days / 7 * 7);
    while d < to {
        match d.succ_opt() {
            Some(n) => d = n,
            None => break,
        }
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            count += 1;
        }
    }
    let mut holidays: Vec<NaiveDate> = (from.year()..=to.year())
        .flat_map(swedish_holidays)
        .map(|(h, _)| h)
        .filter(|h| *h > from && *h <= to && !matches!(h.weekday(), Weekday::Sat | Weekday::Sun))
        .collect();
    // Two holidays can share a date (Ascension on 1 May).
    holidays.sort_unstable();
    holidays.dedup();
    count - holidays.len() as i64
}

/// Reference implementation of [`working_days_between`] for `from <= to`:
/// walks day by day.
#[doc(hidden)]
pub fn working_days_between_naive(from: NaiveDate, to: NaiveDate) -> i64 {
    let mut count = 0i64;
    let mut d = from;
    while d < to {
        match d.succ_opt() {
            Some(n) => d = n,
            None => break,
        }
        if is_working_day(d) {
            count += 1;
        }
    }
    count
}

/// The Swedish local date of an instant (CET, UTC+1; CEST, UTC+2, from
/// 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of
/// October, the EU rule).
pub fn swedish_date(at: DateTime<Utc>) -> NaiveDate {
    (at + Duration::hours(swedish_offset_hours(at))).date_naive()
}

/// The UTC offset in hours of Swedish local time at `at` (1 or 2).
fn swedish_offset_hours(at: DateTime<Utc>) -> i64 {
    let year = at.year();
    match (
        last_sunday_0100_utc(year, 3),
        last_sunday_0100_utc(year, 10),
    ) {
        (Some(s), Some(e)) if at >= s && at < e => 2,
        _ => 1,
    }
}

/// The instant Swedish local midnight begins `date` (DST changes happen at
/// 02:00/03:00 local time, never at midnight).
pub fn swedish_midnight(date: NaiveDate) -> DateTime<Utc> {
    let naive = date.and_time(chrono::NaiveTime::MIN).and_utc();
    for offset in [2, 1] {
        let candidate = naive - Duration::hours(offset);
        if swedish_offset_hours(candidate) == offset {
            return candidate;
        }
    }
    naive - Duration::hours(1)
}

fn last_sunday_0100_utc(year: i32, month: u32) -> Option<DateTime<Utc>> {
    let last = NaiveDate::from_ymd_opt(year, month + 1, 1)?.pred_opt()?;
    let back = last.weekday().num_days_from_sunday();
    let sunday = last - Duration::days(i64::from(back));
    Some(sunday.and_hms_opt(1, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn easter_known_years() {
        // Published Easter Sundays.
        for (y, m, day) in [
            (2000, 4, 23),
            (2008, 3, 23),
            (2011, 4, 24),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
        ] {
            assert_eq!(easter_sunday(y), Some(d(y, m, day)), "{y}");
        }
    }

    #[test]
    fn holidays_2026() {
        let h: Vec<NaiveDate> = swedish_holidays(2026).into_iter().map(|(d, _)| d).collect();
        // Easter 5 Apr 2026: Good Friday 3 Apr, Easter Monday 6 Apr,
        // Ascension 5 Apr + 39 = 14 May, Whitsun 5 Apr + 49 = 24 May.
        // Midsummer Eve Fri 19 Jun, Midsummer Day Sat 20 Jun.
        // All Saints' Day: Sat 31 Oct 2026.
        for x in [
            d(2026, 1, 1),
            d(2026, 1, 6),
            d(2026, 4, 3),
            d(2026, 4, 5),
            d(2026, 4, 6),
            d(2026, 5, 1),
            d(2026, 5, 14),
            d(2026, 5, 24),
            d(2026, 6, 6),
            d(2026, 6, 19),
            d(2026, 6, 20),
            d(2026, 10, 31),
            d(2026, 12, 24),
            d(2026, 12, 25),
            d(2026, 12, 26),
            d(2026, 12, 31),
        ] {
            assert!(h.contains(&x), "{x} missing");
        }
        assert_eq!(h.len(), 16);
        // 2025: Midsummer Eve Fri 20 Jun; All Saints' Sat 1 Nov.
        assert!(is_holiday(d(2025, 6, 20)));
        assert!(is_holiday(d(2025, 11, 1)));
        assert!(!is_holiday(d(2025, 10, 31)));
        // Maundy Thursday is a working day.
        assert!(is_working_day(d(2026, 4, 2)));
    }

    #[test]
    fn working_day_arithmetic_over_easter_and_christmas() {
        // Thu 2 Apr 2026 + 1 working day: Fri 3 (Good Friday), Sat, Sun,
        // Mon 6 (Easter Monday) are off → Tue 7 Apr.
        assert_eq!(add_working_days(d(2026, 4, 2), 1), d(2026, 4, 7));
        assert_eq!(working_days_between(d(2026, 4, 2), d(2026, 4, 7)), 1);
        // Wed 23 Dec 2026 + 1: Thu 24 (eve), Fri 25, Sat 26, Sun 27 off →
        // Mon 28 Dec. + 4 more: Tue 29, Wed 30, (Thu 31 eve, Fri 1 Jan,
        // Sat, Sun off), Mon 4 Jan, Tue 5 Jan 2027; one more skips Wed 6 Jan
        // (Epiphany) → Thu 7 Jan.
        assert_eq!(add_working_days(d(2026, 12, 23), 1), d(2026, 12, 28));
        assert_eq!(add_working_days(d(2026, 12, 23), 5), d(2027, 1, 5));
        assert_eq!(add_working_days(d(2026, 12, 23), 6), d(2027, 1, 7));
        assert_eq!(working_days_between(d(2026, 12, 23), d(2027, 1, 7)), 6);
        assert_eq!(working_days_between(d(2027, 1, 7), d(2026, 12, 23)), -6);
        assert_eq!(next_working_day_on_or_after(d(2026, 6, 19)), d(2026, 6, 22));
    }

    #[test]
    fn swedish_date_follows_dst() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // Winter: 23:30 UTC is 00:30 the next day in Stockholm.
        assert_eq!(swedish_date(at("2026-01-14T23:30:00Z")), d(2026, 1, 15));
        assert_eq!(swedish_date(at("2026-01-14T22:30:00Z")), d(2026, 1, 14));
        // Summer: 22:30 UTC is 00:30 next day.
        assert_eq!(swedish_date(at("2026-06-14T22:30:00Z")), d(2026, 6, 15));
        assert_eq!(swedish_date(at("2026-06-14T21:30:00Z")), d(2026, 6, 14));
        assert_eq!(swedish_midnight(d(2026, 6, 1)), at("2026-05-31T22:00:00Z"));
        assert_eq!(swedish_midnight(d(2026, 1, 1)), at("2025-12-31T23:00:00Z"));
        // 29 Mar 2026 is the DST Sunday: midnight is still CET.
        assert_eq!(swedish_midnight(d(2026, 3, 29)), at("2026-03-28T23:00:00Z"));
        assert_eq!(swedish_midnight(d(2026, 3, 30)), at("2026-03-29T22:00:00Z"));
        assert_eq!(
            swedish_midnight(d(2026, 10, 25)),
            at("2026-10-24T22:00:00Z")
        );
        assert_eq!(
            swedish_midnight(d(2026, 10, 26)),
            at("2026-10-25T23:00:00Z")
        );
    }
}
