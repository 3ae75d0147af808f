//! Exact decimal arithmetic for unit conversion.
//!
//! Lab values are decimal numbers as written (`0.072`, `72`), held as `f64`.
//! Multiplying an `f64` by `0.001` is not exact (72 × 0.001 =
//! 0.07200000000000001), so a threshold written in another unit could miss
//! a result lying exactly on it. Here a value is taken as the shortest
//! decimal that reads back as the same `f64` (what Rust prints), scaled or
//! multiplied exactly in integers, and read back as the nearest `f64`. A
//! value written as `0.072` and one computed as 72 µmol/L in mmol/L are
//! then the same `f64`.

use std::cmp::Ordering;
use std::fmt;

/// A finite decimal number `mantissa × 10^exponent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    mantissa: i128,
    exponent: i32,
}

/// Exponents beyond this are refused (far outside any measured value;
/// keeps every intermediate product within `i128`).
const MAX_EXPONENT: i32 = 60;

impl Decimal {
    /// `mantissa × 10^exponent`.
    pub const fn new(mantissa: i128, exponent: i32) -> Decimal {
        Decimal { mantissa, exponent }
    }

    /// The shortest decimal that reads back as `v`; `None` for NaN and
    /// infinities.
    pub fn from_f64(v: f64) -> Option<Decimal> {
        if !v.is_finite() {
            return None;
        }
        // `{:e}` prints the shortest round-trip digits: `7.2e-2`.
        Decimal::parse(&format!("{v:e}"))
    }

    /// Parses `-12.5`, `0.072`, `7.2e-2`, `1E3`. No grouping, no comma.
    pub fn parse(text: &str) -> Option<Decimal> {
        let t = text.trim();
        let (body, exp) = match t.find(['e', 'E']) {
            Some(i) => (t.get(..i)?, t.get(i + 1..)?.parse::<i32>().ok()?),
            None => (t, 0),
        };
        let (negative, digits) = match body.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, body.strip_prefix('+').unwrap_or(body)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Leading zeros carry nothing; more than 36 significant digits
        // are more than any f64 holds.
        let all: String = int.chars().chain(frac.chars()).collect();
        let significant = all.trim_start_matches('0');
        if significant.len() > 36 {
            return None;
        }
        let mut mantissa: i128 = if significant.is_empty() {
            0
        } else {
            significant.parse().ok()?
        };
        if negative {
            mantissa = -mantissa;
        }
        let frac_len = i32::try_from(frac.len()).ok()?;
        let exponent = exp.checked_sub(frac_len)?;
        Decimal { mantissa, exponent }.checked()
    }

    /// Trailing zeros removed, exponent within range; `None` when out of
    /// range.
    fn checked(self) -> Option<Decimal> {
        let mut d = self;
        if d.mantissa == 0 {
            return Some(Decimal::new(0, 0));
        }
        while d.mantissa % 10 == 0 {
            d.mantissa /= 10;
            d.exponent = d.exponent.checked_add(1)?;
        }
        (d.exponent.abs() <= MAX_EXPONENT).then_some(d)
    }

    /// The nearest `f64`.
    pub fn to_f64(self) -> f64 {
        // Rust's float parser rounds correctly.
        format!("{}e{}", self.mantissa, self.exponent)
            .parse()
            .unwrap_or(f64::NAN)
    }

    /// This value times `10^k`, exactly.
    pub fn scale10(self, k: i32) -> Option<Decimal> {
        Decimal {
            mantissa: self.mantissa,
            exponent: self.exponent.checked_add(k)?,
        }
        .checked()
    }

    /// The sum, exactly.
    pub fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let e = self.exponent.min(other.exponent);
        let a = self
            .mantissa
            .checked_mul(pow10(self.exponent.checked_sub(e)?)?)?;
        let b = other
            .mantissa
            .checked_mul(pow10(other.exponent.checked_sub(e)?)?)?;
        Decimal {
            mantissa: a.checked_add(b)?,
            exponent: e,
        }
        .checked()
    }

    /// `self × num / den`, rounded to `decimals` decimal places, halves
    /// away from zero. `None` when `den` is zero or out of range.
    pub fn mul_ratio_rounded(self, num: i128, den: i128, decimals: u8) -> Option<Decimal> {
        if den == 0 {
            return None;
        }
        let p = i32::from(decimals);
        // value = m × 10^e × num / den; rounded q = round(m × num × 10^(e+p) / den).
        let shift = self.exponent.checked_add(p)?;
        let mut n = self.mantissa.checked_mul(num)?;
        let mut d = den;
        if shift >= 0 {
            n = n.checked_mul(pow10(shift)?)?;
        } else {
            d = d.checked_mul(pow10(shift.checked_neg()?)?)?;
        }
        Decimal {
            mantissa: div_round_half_away(n, d)?,
            exponent: -p,
        }
        .checked()
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Decimal) -> Option<Ordering> {
        let e = self.exponent.min(other.exponent);
        let a = self.mantissa.checked_mul(pow10(self.exponent - e)?)?;
        let b = other.mantissa.checked_mul(pow10(other.exponent - e)?)?;
        Some(a.cmp(&b))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}e{}", self.mantissa, self.exponent)
    }
}

fn pow10(k: i32) -> Option<i128> {
    10i128.checked_pow(u32::try_from(k).ok()?)
}

/// `n / d` rounded to the nearest integer, halves away from zero.
fn div_round_half_away(n: i128, d: i128) -> Option<i128> {
    let q = n.checked_div(d)?;
    let r = n.checked_rem(d)?;
    if r == 0 {
        return Some(q);
    }
    let twice = r.checked_abs()?.checked_mul(2)?;
    if twice >= d.checked_abs()? {
        let away = if (n < 0) != (d < 0) { -1 } else { 1 };
        q.checked_add(away)
    } else {
        Some(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints_back() {
        assert_eq!(d("0.072"), Decimal::new(72, -3));
        assert_eq!(d("72"), Decimal::new(72, 0));
        assert_eq!(d("7200"), Decimal::new(72, 2));
        assert_eq!(d("-1.50"), Decimal::new(-15, -1));
        assert_eq!(d("7.2e-2"), Decimal::new(72, -3));
        assert_eq!(d("0"), Decimal::new(0, 0));
        assert_eq!(d(".5"), Decimal::new(5, -1));
        for bad in ["", "-", ".", "1.2.3", "1,5", "e3", "1e", "abc", "1e999"] {
            assert_eq!(Decimal::parse(bad), None, "{bad}");
        }
        assert_eq!(Decimal::from_f64(0.072), Some(d("0.072")));
        assert_eq!(Decimal::from_f64(f64::NAN), None);
        assert_eq!(d("0.072").to_f64(), 0.072);
    }

    #[test]
    fn scaling_by_powers_of_ten_is_exact() {
        // The defect: 72 × 0.001 in binary floating point.
        assert_ne!(72.0 * 0.001, 0.072);
        let v = Decimal::from_f64(72.0).unwrap().scale10(-3).unwrap();
        assert_eq!(v.to_f64(), 0.072);
        assert_eq!(
            Decimal::from_f64(0.072)
                .unwrap()
                .scale10(3)
                .unwrap()
                .to_f64(),
            72.0
        );
    }

    #[test]
    fn ratios_round_half_away_from_zero() {
        // 0.8 mg/dL creatinine × 88.42 = 70.736 → 71 µmol/L.
        let v = d("0.8").mul_ratio_rounded(8842, 100, 0).unwrap();
        assert_eq!(v.to_f64(), 71.0);
        // Exact halves go away from zero, both signs.
        assert_eq!(d("2.5").mul_ratio_rounded(1, 1, 0).unwrap().to_f64(), 3.0);
        assert_eq!(d("-2.5").mul_ratio_rounded(1, 1, 0).unwrap().to_f64(), -3.0);
        // 100 mg/dL LDL / 38.67 = 2.5860…, one decimal → 2.6 mmol/L.
        assert_eq!(
            d("100").mul_ratio_rounded(100, 3867, 1).unwrap().to_f64(),
            2.6
        );
        assert_eq!(d("1").mul_ratio_rounded(1, 0, 0), None);
        assert!(d("1.5") > d("1.49") && d("-1") < d("0"));
        assert_eq!(d("0.1").checked_add(d("0.2")).unwrap(), d("0.3"));
    }
}
