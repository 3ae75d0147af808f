//! Identity numbers for synthetic persons: unique assignment of serial
//! numbers and the written forms each data holder uses.

use chrono::{Datelike, NaiveDate};

use crate::SynthError;
use crate::geo::IdStyle;

/// Serial slots per sex and birth date (serial = 2 * slot + sex bit).
const SLOTS: usize = 500;
/// Key space: two-digit year, month, day, sex, slot. Keyed on the two-digit year
/// so that no two persons share a 10-digit form either.
const KEYS: usize = 100 * 12 * 31 * SLOTS * 2;

/// Which serial numbers are taken, for personnummer and samordningsnummer.
pub(crate) struct IdSpace {
    taken: [Vec<u64>; 2],
}

impl IdSpace {
    pub(crate) fn new() -> Self {
        IdSpace {
            taken: [vec![0u64; KEYS / 64 + 1], vec![0u64; KEYS / 64 + 1]],
        }
    }

    /// Claims a free serial for a person born on `birth`, starting at the
    /// preferred slot and probing upwards. The serial's last digit is odd
    /// for men and even for women.
    pub(crate) fn claim(
        &mut self,
        coordination: bool,
        birth: NaiveDate,
        male: bool,
        preferred: u16,
    ) -> Result<u16, SynthError> {
        let yy = birth.year().rem_euclid(100) as usize;
        let base = (((yy * 12 + birth.month0() as usize) * 31 + birth.day0() as usize) * 2
            + usize::from(male))
            * SLOTS;
        let bits = &mut self.taken[usize::from(coordination)];
        let start = usize::from(preferred) % SLOTS;
        for probe in 0..SLOTS {
            let slot = (start + probe) % SLOTS;
            let serial = 2 * slot + usize::from(male);
            // serials 000 and 001 are not used
            if serial < 2 {
                continue;
            }
            let key = base + slot;
            let (w, b) = (key / 64, key % 64);
            if let Some(word) = bits.get_mut(w)
                && *word & (1u64 << b) == 0
            {
                *word |= 1u64 << b;
                return Ok(serial as u16);
            }
        }
        Err(SynthError::IdentitySpaceExhausted { birth })
    }
}

/// The written forms of one identity number, computed once per person.
#[derive(Debug, Clone, Default)]
pub(crate) struct IdForms {
    /// `YYYYMMDDNNNC`
    pub twelve: [u8; 12],
    /// `+` when the person turns 100 in or before the extract year, else `-`.
    pub ten_sep: u8,
}

impl IdForms {
    /// Builds the forms through the identity crate's `Personnummer`.
    pub(crate) fn new(
        birth: NaiveDate,
        serial: u16,
        coordination: bool,
        extract: NaiveDate,
    ) -> Result<Self, SynthError> {
        let pnr = halsohub_identity::Personnummer::from_parts(birth, serial, coordination)
            .map_err(|_| SynthError::Identity { birth })?;
        let twelve = pnr.canonical_bytes();
        let ten_sep = if pnr.is_centenarian_at(extract) {
            b'+'
        } else {
            b'-'
        };
        Ok(IdForms { twelve, ten_sep })
    }

    /// Writes the number in `style`; with `bad_check` the check digit is
    /// replaced by a wrong one (`bad_check` in 1..=9 is added mod 10).
    pub(crate) fn write(&self, out: &mut Vec<u8>, style: IdStyle, bad_check: u8) {
        let t = &self.twelve;
        let start = out.len();
        match style {
            IdStyle::Twelve => out.extend_from_slice(t),
            IdStyle::TwelveDash => {
                out.extend_from_slice(&t[..8]);
                out.push(b'-');
                out.extend_from_slice(&t[8..]);
            }
            IdStyle::TenDash => {
                out.extend_from_slice(&t[2..8]);
                out.push(self.ten_sep);
                out.extend_from_slice(&t[8..]);
            }
            IdStyle::Ten => out.extend_from_slice(&t[2..]),
        }
        if bad_check != 0
            && out.len() > start
            && let Some(last) = out.last_mut()
        {
            *last = b'0' + (last.wrapping_sub(b'0') + bad_check) % 10;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use halsohub_identity::{Form, Personnummer};
    use proptest::prelude::*;

    proptest! {
        /// The byte-slicing writer agrees with the identity crate's
        /// `format` in every form, and a bad check digit never parses.
        #[test]
        fn forms_match_the_identity_crate(
            day in 0i64..(200 * 365),
            serial in 2u16..1000,
            coord in any::<bool>(),
            bad in 1u8..10,
        ) {
            let birth = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Days::new(day as u64);
            let extract = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
            prop_assume!(birth <= extract);
            let f = IdForms::new(birth, serial, coord, extract).unwrap();
            let p = Personnummer::from_parts(birth, serial, coord).unwrap();
            for (style, form) in [
                (IdStyle::Twelve, Form::Twelve),
                (IdStyle::TwelveDash, Form::TwelveSeparated),
                (IdStyle::TenDash, Form::TenSeparated { reference: extract }),
                (IdStyle::Ten, Form::Ten),
            ] {
                let mut b = Vec::new();
                f.write(&mut b, style, 0);
                prop_assert_eq!(String::from_utf8(b).unwrap(), p.format(form));
                let mut b = Vec::new();
                f.write(&mut b, style, bad);
                let text = String::from_utf8(b).unwrap();
                let opts = halsohub_identity::ParseOptions::new(extract);
                prop_assert!(halsohub_identity::IdentityNumber::parse(&text, &opts).is_err());
            }
        }
    }

    #[test]
    fn claimed_serials_are_unique_and_carry_the_sex() {
        let mut space = IdSpace::new();
        let birth = NaiveDate::from_ymd_opt(1950, 6, 15).unwrap();
        let mut seen = std::collections::HashSet::new();
        for i in 0..498u16 {
            let s = space.claim(false, birth, true, i % 7).unwrap();
            assert_eq!(s % 2, 1);
            assert!(seen.insert(s));
        }
        // the same two-digit year a century later shares the space
        let later = NaiveDate::from_ymd_opt(2050, 6, 15).unwrap();
        let s = space.claim(false, later, true, 0).unwrap();
        assert!(seen.insert(s));
        assert!(matches!(
            space.claim(false, birth, true, 0),
            Err(SynthError::IdentitySpaceExhausted { .. })
        ));
        // women and samordningsnummer are separate
        assert_eq!(space.claim(false, birth, false, 3).unwrap() % 2, 0);
        assert!(space.claim(true, birth, true, 3).is_ok());
    }
}
