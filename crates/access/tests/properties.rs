//! Property tests: random command sequences never panic, only make the
//! documented transitions and always fold back to the same state; the
//! calendar agrees with brute force and with Knuth's Easter algorithm.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use common::*;
use halsohub_access::calendar::*;
use halsohub_access::*;
use proptest::prelude::*;

fn any_command(i: u8) -> Command {
    match i % 22 {
        0 => Command::Create {
            case_id: case_id(),
            content: content(),
        },
        1 => Command::UpdateDraft { content: content() },
        2 => Command::Submit,
        3 => Command::StartCompletenessCheck,
        4 => Command::ReturnIncomplete {
            missing: vec![FieldIssue::new("summary", "too short")],
        },
        5 => Command::AcceptComplete,
        6 => Command::RequestInformation {
            questions: "Why?".into(),
        },
        7 => Command::ProvideInformation {
            answer: "Because.".into(),
            attachments: vec![],
        },
        8 => Command::RecordLegalReview {
            findings: vec!["ok".into()],
            recommendation: Recommendation::Approve,
        },
        9 => Command::RecordTechnicalReview {
            findings: vec!["ok".into()],
            recommendation: Recommendation::ApproveWithConditions,
        },
        10 => Command::Approve {
            reasons: "Fine.".into(),
        },
        11 => Command::Reject {
            reasons: "No.".into(),
        },
        12 => Command::IssuePermit {
            permit_id: permit_id(),
            terms: PermitTerms {
                valid_from: date(2020, 1, 1),
                valid_until: date(2030, 1, 1),
                ..terms()
            },
        },
        13 => Command::RecordDelivery {
            note: "delivered".into(),
        },
        14 => Command::Publish,
        15 => Command::Close {
            reason: "Done.".into(),
        },
        16 => Command::Withdraw {
            reason: "Stop.".into(),
        },
        17 => Command::RequestAmendment {
            amendment: Amendment {
                members: Some(vec![user("anna")]),
                period: None,
                datasets: None,
                valid_until: None,
                reason: "Fewer members.".into(),
            },
        },
        18 => Command::RevokePermit {
            reason: "Breach.".into(),
        },
        19 => Command::Reject { reasons: "".into() },
        20 => Command::UpdateDraft {
            content: ApplicationContent::draft(org(OTHER_ORG), "x"),
        },
        _ => Command::ReturnIncomplete { missing: vec![] },
    }
}

/// A command that moves a case in `status` forward (so random runs reach
/// deep states), chosen among candidates by `pick`.
fn progress(status: CaseStatus, pick: u8) -> u8 {
    use CaseStatus as S;
    let candidates: &[u8] = match status {
        S::New => &[0],
        S::Draft | S::Incomplete => &[2, 1],
        S::Submitted => &[3],
        S::CompletenessCheck => &[5, 5, 4],
        S::UnderReview | S::AmendmentUnderReview => &[8, 9, 10, 11, 6],
        S::WaitingForApplicant => &[7],
        S::Approved => &[12, 14],
        S::PermitIssued | S::DataDelivered => &[13, 17, 14, 18, 15],
        _ => &[16],
    };
    candidates[usize::from(pick) % candidates.len()]
}

/// The documented transitions (crate docs of `case`): which statuses a
/// command may start from, and where it may lead.
fn allowed(action: Action, from: CaseStatus, to: CaseStatus) -> bool {
    use CaseStatus as S;
    let pre_decision = [
        S::Draft,
        S::Submitted,
        S::CompletenessCheck,
        S::Incomplete,
        S::UnderReview,
        S::WaitingForApplicant,
    ];
    match action {
        Action::CreateApplication => from == S::New && to == S::Draft,
        Action::UpdateDraft => matches!(from, S::Draft | S::Incomplete) && to == from,
        // A resubmission after the applicant's deadline closes the case
        // as incomplete.
        Action::Submit => {
            (matches!(from, S::Draft | S::Incomplete) && to == S::Submitted)
                || (from == S::Incomplete && to == S::Closed)
        }
        Action::StartCompletenessCheck => from == S::Submitted && to == S::CompletenessCheck,
        Action::ReturnIncomplete => from == S::CompletenessCheck && to == S::Incomplete,
        Action::AcceptComplete => from == S::CompletenessCheck && to == S::UnderReview,
        Action::RequestInformation => {
            matches!(from, S::UnderReview | S::AmendmentUnderReview) && to == S::WaitingForApplicant
        }
        Action::ProvideInformation => {
            from == S::WaitingForApplicant && matches!(to, S::UnderReview | S::AmendmentUnderReview)
        }
        Action::RecordLegalReview | Action::RecordTechnicalReview => {
            matches!(from, S::UnderReview | S::AmendmentUnderReview) && to == from
        }
        Action::Approve => {
            (from == S::UnderReview && to == S::Approved)
                || (from == S::AmendmentUnderReview
                    && matches!(to, S::PermitIssued | S::DataDelivered))
        }
        Action::Reject => {
            (from == S::UnderReview && to == S::Rejected)
                || (from == S::AmendmentUnderReview
                    && matches!(to, S::PermitIssued | S::DataDelivered))
        }
        Action::IssuePermit => from == S::Approved && to == S::PermitIssued,
        Action::RecordDelivery => {
            matches!(from, S::PermitIssued | S::DataDelivered) && to == S::DataDelivered
        }
        Action::Publish => to == from,
        Action::Close => {
            matches!(
                from,
                S::Rejected | S::PermitIssued | S::DataDelivered | S::Incomplete
            ) && to == S::Closed
        }
        Action::Withdraw => pre_decision.contains(&from) && to == S::Withdrawn,
        Action::RequestAmendment => {
            matches!(from, S::PermitIssued | S::DataDelivered) && to == S::AmendmentUnderReview
        }
        Action::RevokePermit => {
            matches!(
                from,
                S::PermitIssued | S::DataDelivered | S::AmendmentUnderReview
            ) && to == S::Revoked
        }
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_follow_the_transition_table(
        steps in proptest::collection::vec((any::<u8>(), 0usize..24, 0i64..(24 * 20)), 0..100)
    ) {
        // cmd_i < 64: any command; otherwise one that moves the case
        // forward. role_i < 8: any role; otherwise the command's first
        // allowed role.
        let mut c = Case::new();
        let mut t = at("2026-01-05T08:00:00Z");
        for (cmd_i, role_i, gap) in steps {
            t += Duration::hours(gap);
            let cmd = if cmd_i < 64 {
                any_command(cmd_i)
            } else {
                any_command(progress(c.state.status, cmd_i))
            };
            let role = match Role::ALL.get(role_i) {
                Some(r) => *r,
                None => cmd.action().allowed_roles()[0],
            };
            let from = c.state.status;
            let version = c.state.version;
            match c.try_run(role, cmd.clone(), &t.to_rfc3339()) {
                Ok(events) => {
                    prop_assert_eq!(events.len(), 1);
                    prop_assert!(
                        allowed(cmd.action(), from, c.state.status),
                        "{} took {} to {}", cmd.action(), from, c.state.status
                    );
                    prop_assert!(cmd.action().allowed_roles().contains(&role));
                    prop_assert_eq!(c.state.version, version + 1);
                }
                Err(e) => {
                    prop_assert_eq!(c.state.version, version);
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
        prop_assert_eq!(CaseState::from_events(&c.events), c.state.clone());
        prop_assert_eq!(c.state.version as usize, c.events.len());
        // Clocks, register, lead times and notifications never panic.
        let now = t + Duration::days(3);
        let _ = case_clocks(&c.state, &ClockConfig::default(), now);
        let _ = deadline_notifications(&c.state, &ClockConfig::default(), now);
        let _ = register_entry(&c.state);
        let _ = lead_times([&c.state]);
        let _ = notifications_for_events(&CaseState::default(), &c.events);
    }

    #[test]
    fn working_day_arithmetic_agrees_with_brute_force(
        start in 0i64..(365 * 30), n in 0u32..80, span in -1200i64..1200
    ) {
        let d = date(2010, 1, 1) + Duration::days(start);
        let e = add_working_days(d, n);
        prop_assert_eq!(working_days_between(d, e), i64::from(n));
        if n > 0 {
            prop_assert!(is_working_day(e));
        }
        // Brute force: count working days in (d, d + span].
        let to = d + Duration::days(span);
        let (lo, hi, sign) = if to >= d { (d, to, 1) } else { (to, d, -1) };
        let mut count = 0;
        let mut x = lo;
        while x < hi {
            x += Duration::days(1);
            if x.weekday() != Weekday::Sat && x.weekday() != Weekday::Sun && !is_holiday(x) {
                count += 1;
            }
        }
        prop_assert_eq!(working_days_between(d, to), sign * count);
        prop_assert_eq!(working_days_between(lo, hi), working_days_between_naive(lo, hi));
        let next = next_working_day_on_or_after(d);
        prop_assert!(is_working_day(next) && next >= d);
        prop_assert!(working_days_between(d, next) <= 1);
    }

    #[test]
    fn is_holiday_agrees_with_the_holiday_list(start in 0i64..(365 * 200)) {
        let d = date(1900, 1, 1) + Duration::days(start);
        let listed = swedish_holidays(d.year()).iter().any(|(h, _)| *h == d);
        prop_assert_eq!(is_holiday(d), listed);
    }

    #[test]
    fn permit_activity_matches_its_instants(
        from in 0i64..3000, len in 0i64..800, probe in -2000i64..(3800 * 24 * 60)
    ) {
        let valid_from = date(2024, 1, 1) + Duration::days(from);
        let p = Permit {
            id: permit_id(),
            case_id: case_id(),
            organisation: org(APPLICANT_ORG),
            project_title: "t".into(),
            terms: PermitTerms {
                valid_from,
                valid_until: valid_from + Duration::days(len),
                ..terms()
            },
            issued_at: at("2024-01-01T00:00:00Z"),
            version: 1,
            revoked: None,
        };
        let now = at("2024-01-01T00:00:00Z") + Duration::minutes(probe);
        prop_assert_eq!(p.is_active(now), p.starts_at() <= now && now < p.expires_at());
    }

    #[test]
    fn identity_numbers_are_refused_in_ids_and_text(
        day in 0i64..(365 * 120), serial in 0u32..1000, coordination in any::<bool>(),
        form in 0u8..4, prefix in "[a-z ]{0,10}"
    ) {
        let born = date(1900, 1, 1) + Duration::days(day);
        let dd = born.day() + if coordination { 60 } else { 0 };
        let nine = format!("{:02}{:02}{:02}{:03}", born.year() % 100, born.month(), dd, serial);
        let digits: Vec<u32> = nine.chars().map(|c| c.to_digit(10).unwrap()).collect();
        let sum: u32 = digits
            .iter()
            .enumerate()
            .map(|(i, d)| { let v = d * if i % 2 == 0 { 2 } else { 1 }; if v > 9 { v - 9 } else { v } })
            .sum();
        let check = (10 - sum % 10) % 10;
        let ten = format!("{nine}{check}");
        let century = born.year() / 100;
        let written = match form {
            0 => ten.clone(),
            1 => format!("{}-{}", &ten[..6], &ten[6..]),
            2 => format!("{century}{ten}"),
            _ => format!("{century}{}-{}", &ten[..6], &ten[6..]),
        };
        prop_assert!(UserId::new(written.clone()).is_err());
        let mut c = content();
        c.summary = format!("{prefix}{written} more text");
        let mut case = Case::new();
        let err = case
            .try_run(Role::Applicant, Command::Create { case_id: case_id(), content: c }, "2026-01-01T00:00:00Z")
            .unwrap_err();
        prop_assert!(!err.to_string().contains(&ten[6..]));
    }

    #[test]
    fn easter_matches_knuth(year in 1583i32..4100) {
        prop_assert_eq!(easter_sunday(year), Some(knuth_easter(year)));
    }

    #[test]
    fn holidays_fall_where_the_law_puts_them(year in 1900i32..2200) {
        let h = swedish_holidays(year);
        prop_assert_eq!(h.len(), 16);
        for (d, name) in h {
            match name {
                "Midsommarafton" => prop_assert!(d.weekday() == Weekday::Fri && d.month() == 6 && (19..=25).contains(&d.day())),
                "Midsommardagen" => prop_assert!(d.weekday() == Weekday::Sat && d.month() == 6 && (20..=26).contains(&d.day())),
                "Alla helgons dag" => prop_assert!(d.weekday() == Weekday::Sat && ((d.month() == 10 && d.day() == 31) || (d.month() == 11 && d.day() <= 6))),
                "Påskdagen" | "Pingstdagen" => prop_assert_eq!(d.weekday(), Weekday::Sun),
                "Kristi himmelsfärdsdag" => prop_assert_eq!(d.weekday(), Weekday::Thu),
                "Långfredagen" => prop_assert_eq!(d.weekday(), Weekday::Fri),
                "Annandag påsk" => prop_assert_eq!(d.weekday(), Weekday::Mon),
                _ => {}
            }
        }
    }
}

/// Knuth, TAOCP vol. 1, §1.3.2 exercise 14 (Gregorian Easter).
fn knuth_easter(y: i32) -> NaiveDate {
    let g = y % 19 + 1;
    let c = y / 100 + 1;
    let x = 3 * c / 4 - 12;
    let z = (8 * c + 5) / 25 - 5;
    let d = 5 * y / 4 - x - 10;
    let mut e = (11 * g + 20 + z - x).rem_euclid(30);
    if (e == 25 && g > 11) || e == 24 {
        e += 1;
    }
    let mut n = 44 - e;
    if n < 21 {
        n += 30;
    }
    n = n + 7 - (d + n).rem_euclid(7);
    if n > 31 {
        NaiveDate::from_ymd_opt(y, 4, (n - 31) as u32).unwrap()
    } else {
        NaiveDate::from_ymd_opt(y, 3, n as u32).unwrap()
    }
}
