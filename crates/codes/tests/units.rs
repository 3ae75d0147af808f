//! Unit conversion, property-tested over decimal strings: a threshold
//! written in any unit of the stored unit's dimension selects exactly the
//! stored values that the same threshold written in the stored unit
//! selects, boundaries included, and both agree with exact decimal
//! comparison.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use halsohub_codes::Decimal;
use halsohub_codes::units::{analyte, convert};
use proptest::prelude::*;

/// `mantissa × 10^exponent` as a plain decimal string (`0.072`, `7200`).
fn dec_str(mantissa: i64, exponent: i32) -> String {
    let neg = mantissa < 0;
    let digits = mantissa.unsigned_abs().to_string();
    let body = if exponent >= 0 {
        format!("{digits}{}", "0".repeat(exponent as usize))
    } else {
        let point = -exponent as usize;
        if digits.len() > point {
            let (i, f) = digits.split_at(digits.len() - point);
            format!("{i}.{f}")
        } else {
            format!("0.{}{digits}", "0".repeat(point - digits.len()))
        }
    };
    if neg { format!("-{body}") } else { body }
}

/// Units of one dimension with their power of ten relative to the first.
const FAMILIES: &[&[(&str, i32)]] = &[
    &[
        ("umol/L", 0),
        ("mmol/L", 3),
        ("mol/L", 6),
        ("nmol/L", -3),
        ("µmol/l", 0),
    ],
    &[
        ("mg/L", 0),
        ("g/L", 3),
        ("mg/dL", 1),
        ("ug/L", -3),
        ("ng/mL", -3),
    ],
    &[("ng/L", 0), ("ug/L", 3), ("pg/mL", 0), ("ng/mL", 3)],
    &[("mmol/mol", 0), ("mol/mol", 3), ("umol/mol", -3)],
    &[("10*9/L", 0), ("10^12/L", 3), ("x10e9/l", 0)],
];

fn selects(op: usize, v: f64, t: f64) -> bool {
    match op {
        0 => v <= t,
        1 => v < t,
        2 => v >= t,
        _ => v > t,
    }
}

fn exact(op: usize, v: Decimal, t: Decimal) -> bool {
    match op {
        0 => v <= t,
        1 => v < t,
        2 => v >= t,
        _ => v > t,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn both_spellings_of_a_threshold_select_the_same_values(
        family in 0..FAMILIES.len(),
        stored_i in 0usize..5,
        written_i in 0usize..5,
        // Stored values in the stored unit, up to 3 decimals.
        values in prop::collection::vec((-5_000_000i64..5_000_000, 0i32..4), 1..20),
        // The threshold in the stored unit, possibly equal to a value.
        threshold in (-5_000_000i64..5_000_000, 0i32..4),
        on_a_value in any::<bool>(),
        op in 0usize..4,
    ) {
        let fam = FAMILIES[family];
        let (stored, sp) = fam[stored_i % fam.len()];
        let (written, wp) = fam[written_i % fam.len()];
        let (tm, ts) = if on_a_value { values[0] } else { threshold };
        // The threshold as written in the stored unit, and the same
        // quantity written in the other unit (shifted decimal string).
        let in_stored = dec_str(tm, -ts);
        let in_written = dec_str(tm, -ts + sp - wp);
        let t_stored = convert(in_stored.parse().unwrap(), stored, stored, None).unwrap();
        let t_written = convert(in_written.parse().unwrap(), written, stored, None).unwrap();
        // The conversion is exact: the same f64.
        prop_assert_eq!(t_stored, t_written, "{} {} vs {} {}", in_stored, stored, in_written, written);
        let t_exact = Decimal::parse(&in_stored).unwrap();
        for &(m, s) in &values {
            let text = dec_str(m, -s);
            let v: f64 = text.parse().unwrap();
            let a = selects(op, v, t_stored);
            let b = selects(op, v, t_written);
            prop_assert_eq!(a, b);
            // And both agree with exact decimal comparison.
            prop_assert_eq!(a, exact(op, Decimal::parse(&text).unwrap(), t_exact), "{} op{} {}", text, op, in_stored);
        }
    }

    #[test]
    fn other_factors_round_once_to_the_reporting_precision(
        // Creatinine written in mg/dL with up to 2 decimals.
        m in 0i64..100_000,
        s in 0i32..3,
    ) {
        let krea = analyte("creatinine").unwrap();
        let text = dec_str(m, -s);
        let v: f64 = text.parse().unwrap();
        let stored = krea.to_canonical(v, "mg/dL").unwrap();
        // Reference: exact decimal × 88.42, rounded half away from zero to
        // whole µmol/L.
        let want = Decimal::parse(&text).unwrap().mul_ratio_rounded(8842, 100, 0).unwrap();
        prop_assert_eq!(stored, want.to_f64());
        // mg/L is mg/dL by a power of ten: the same stored value.
        let in_mg_l = dec_str(m, -s + 1);
        prop_assert_eq!(krea.to_canonical(in_mg_l.parse().unwrap(), "mg/L").unwrap(), stored);
        // A query threshold in mg/dL converts by the same rule, so a value
        // ingested from that very threshold lies exactly on it.
        prop_assert_eq!(convert(v, "mg/dl", "umol/L", Some(krea)).unwrap(), stored);
    }
}

#[test]
fn decimal_strings_render_as_written() {
    assert_eq!(dec_str(72, -3), "0.072");
    assert_eq!(dec_str(72, 2), "7200");
    assert_eq!(dec_str(-5, -1), "-0.5");
    assert_eq!(dec_str(123, -1), "12.3");
}
