//! `IdentityNumber`: any identity a data holder may deliver, parsed.

use std::fmt;
use std::sync::Arc;

use chrono::NaiveDate;
use regex::Regex;

use crate::error::IdError;
use crate::personnummer::{Personnummer, parse_personnummer};

/// A configured reservnummer format: a name (the namespace of its numbers)
/// and a pattern.
///
/// The pattern is a [`regex`] matched against the *compact* form of the
/// input — trimmed, upper-cased, with spaces, `-` and `+` removed — and is
/// anchored at both ends automatically.
#[derive(Clone)]
pub struct ReservScheme {
    name: Arc<str>,
    pattern: Regex,
}

impl fmt::Debug for ReservScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReservScheme")
            .field("name", &self.name)
            .field("pattern", &self.pattern.as_str())
            .finish()
    }
}

impl ReservScheme {
    /// A scheme named `name` (ASCII letters, digits, `_` and `-`) with a
    /// regex `pattern` over the compact form.
    pub fn new(name: &str, pattern: &str) -> Result<Self, IdError> {
        let bad = |reason: &str| IdError::BadReservScheme {
            name: name.to_owned(),
            reason: reason.to_owned(),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad(
                "name must be non-empty ASCII letters, digits, '_' or '-'",
            ));
        }
        let pattern = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| bad(&format!("invalid pattern: {e}")))?;
        Ok(ReservScheme {
            name: Arc::from(name),
            pattern,
        })
    }

    /// The scheme's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The built-in schemes:
    ///
    /// * `stockholm` — Region Stockholm: 12 digits beginning with `99`
    ///   (`99` + century + year of issue + six digits), e.g. `991999123456`.
    /// * `skane` — Region Skåne style, also common elsewhere: a date
    ///   (`YYMMDD` or `YYYYMMDD`) followed by four characters of which at
    ///   least one is a letter, e.g. `19800101-K123`.
    ///
    /// Regions differ; configure others with [`ReservScheme::new`].
    pub fn defaults() -> Vec<ReservScheme> {
        const FOUR_WITH_LETTER: &str =
            "(?:[A-Z][0-9A-Z]{3}|[0-9][A-Z][0-9A-Z]{2}|[0-9]{2}[A-Z][0-9A-Z]|[0-9]{3}[A-Z])";
        let mut out = Vec::new();
        for (name, pattern) in [
            ("stockholm", "99[0-9]{10}".to_owned()),
            (
                "skane",
                format!("(?:[0-9]{{6}}|[0-9]{{8}}){FOUR_WITH_LETTER}"),
            ),
        ] {
            // The built-in patterns are constant and valid.
            if let Ok(s) = ReservScheme::new(name, &pattern) {
                out.push(s);
            }
        }
        out
    }
}

/// How to read identity numbers.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// The date the numbers were written (e.g. the extract date). Decides
    /// the century of 10-digit forms and rejects birth dates after it.
    pub reference_date: NaiveDate,
    /// Reservnummer formats tried, in order, when the text is not a valid
    /// personnummer or samordningsnummer.
    pub reserv_schemes: Vec<ReservScheme>,
}

impl ParseOptions {
    /// Options with the given reference date and the default reservnummer
    /// schemes ([`ReservScheme::defaults`]).
    pub fn new(reference_date: NaiveDate) -> Self {
        ParseOptions {
            reference_date,
            reserv_schemes: ReservScheme::defaults(),
        }
    }

    /// Replaces the reservnummer schemes.
    pub fn with_reserv_schemes(mut self, schemes: Vec<ReservScheme>) -> Self {
        self.reserv_schemes = schemes;
        self
    }
}

impl Default for ParseOptions {
    /// Today's date (UTC) and the default reservnummer schemes.
    fn default() -> Self {
        ParseOptions::new(chrono::Utc::now().date_naive())
    }
}

/// A temporary number given by a care provider, namespaced by its scheme.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reservnummer {
    scheme: Arc<str>,
    value: Box<str>,
}

impl fmt::Debug for Reservnummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservnummer")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl Reservnummer {
    /// The scheme it matched.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The compact form (upper case, separators removed).
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// What kind of identity number this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind<'a> {
    /// A personnummer from the population register.
    Personnummer,
    /// A samordningsnummer (coordination number, day + 60).
    Samordningsnummer,
    /// A care provider's temporary number, with its scheme name.
    Reservnummer {
        /// The scheme name.
        scheme: &'a str,
    },
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Repr {
    Person(Personnummer),
    Reserv(Reservnummer),
}

/// A parsed personnummer, samordningsnummer or reservnummer.
///
/// Equality and hashing follow the identity (not how it was written).
/// `Debug` is redacted and there is no `Display`: write the number only on
/// purpose via [`IdentityNumber::canonical`].
#[derive(Clone)]
pub struct IdentityNumber {
    repr: Repr,
    century_guessed: bool,
}

impl PartialEq for IdentityNumber {
    fn eq(&self, other: &Self) -> bool {
        self.repr == other.repr
    }
}
impl Eq for IdentityNumber {}
impl std::hash::Hash for IdentityNumber {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.repr.hash(state);
    }
}

impl fmt::Debug for IdentityNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityNumber")
            .field("kind", &self.kind())
            .field("century_guessed", &self.century_guessed)
            .finish_non_exhaustive()
    }
}

impl From<Personnummer> for IdentityNumber {
    fn from(p: Personnummer) -> Self {
        IdentityNumber {
            repr: Repr::Person(p),
            century_guessed: false,
        }
    }
}

impl IdentityNumber {
    /// Parses an identity number in any written form.
    ///
    /// Surrounding whitespace is ignored. Accepted:
    /// `YYMMDD-NNNC` (aged under 100 in the reference year), `YYMMDD+NNNC`
    /// (the calendar year of the 100th birthday or later), `YYMMDDNNNC`
    /// (read as `-`, and as the century before if that date would lie after
    /// the reference date; [`century_guessed`](Self::century_guessed) is
    /// set), `YYYYMMDDNNNC` and `YYYYMMDD-NNNC`. The date must exist (leap
    /// years included; day + 60 marks a samordningsnummer), must not lie
    /// after the reference date, and the Luhn check digit must match.
    ///
    /// Text that is not a valid personnummer is then tried against the
    /// reservnummer schemes; if none matches, the personnummer error is
    /// returned.
    pub fn parse(text: &str, options: &ParseOptions) -> Result<Self, IdError> {
        let t = text.trim();
        match parse_personnummer(t, options.reference_date) {
            Ok((p, century_guessed)) => Ok(IdentityNumber {
                repr: Repr::Person(p),
                century_guessed,
            }),
            Err(e) => {
                if options.reserv_schemes.is_empty() || t.is_empty() || t.len() > 64 {
                    return Err(e);
                }
                let compact: String = t
                    .chars()
                    .filter(|c| !matches!(c, '-' | '+') && !c.is_whitespace())
                    .flat_map(char::to_uppercase)
                    .collect();
                for scheme in &options.reserv_schemes {
                    if scheme.pattern.is_match(&compact) {
                        return Ok(IdentityNumber {
                            repr: Repr::Reserv(Reservnummer {
                                scheme: scheme.name.clone(),
                                value: compact.into_boxed_str(),
                            }),
                            century_guessed: false,
                        });
                    }
                }
                Err(e)
            }
        }
    }

    /// The kind of number.
    pub fn kind(&self) -> IdKind<'_> {
        match &self.repr {
            Repr::Person(p) if p.is_coordination() => IdKind::Samordningsnummer,
            Repr::Person(_) => IdKind::Personnummer,
            Repr::Reserv(r) => IdKind::Reservnummer { scheme: &r.scheme },
        }
    }

    /// Whether the century had to be guessed (a bare 10-digit form).
    pub fn century_guessed(&self) -> bool {
        self.century_guessed
    }

    /// The birth date, for a personnummer or samordningsnummer.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        self.as_personnummer().map(Personnummer::birth_date)
    }

    /// The personnummer or samordningsnummer, if this is one.
    pub fn as_personnummer(&self) -> Option<&Personnummer> {
        match &self.repr {
            Repr::Person(p) => Some(p),
            Repr::Reserv(_) => None,
        }
    }

    /// The reservnummer, if this is one.
    pub fn as_reservnummer(&self) -> Option<&Reservnummer> {
        match &self.repr {
            Repr::Person(_) => None,
            Repr::Reserv(r) => Some(r),
        }
    }

    /// The canonical form: `YYYYMMDDNNNC` for a personnummer or
    /// samordningsnummer, `reserv:<scheme>:<compact>` for a reservnummer (so
    /// it can never equal a personnummer).
    pub fn canonical(&self) -> String {
        match &self.repr {
            Repr::Person(p) => p.canonical(),
            Repr::Reserv(r) => format!("reserv:{}:{}", r.scheme, r.value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ParseOptions {
        ParseOptions::new(NaiveDate::from_ymd_opt(2026, 6, 1).unwrap())
    }

    #[test]
    fn kinds() {
        let o = opts();
        let p = IdentityNumber::parse("19811218-9876", &o).unwrap();
        assert_eq!(p.kind(), IdKind::Personnummer);
        let pn = Personnummer::from_parts(NaiveDate::from_ymd_opt(1990, 5, 3).unwrap(), 123, true)
            .unwrap();
        let s = IdentityNumber::parse(&pn.canonical(), &o).unwrap();
        assert_eq!(s.kind(), IdKind::Samordningsnummer);
        let r = IdentityNumber::parse("991999123456", &o).unwrap();
        assert_eq!(
            r.kind(),
            IdKind::Reservnummer {
                scheme: "stockholm"
            }
        );
        assert_eq!(r.canonical(), "reserv:stockholm:991999123456");
        let k = IdentityNumber::parse(" 19800101-k123 ", &o).unwrap();
        assert_eq!(k.kind(), IdKind::Reservnummer { scheme: "skane" });
        assert_eq!(k.canonical(), "reserv:skane:19800101K123");
        assert_eq!(k.birth_date(), None);
    }

    #[test]
    fn unmatched_text_keeps_the_personnummer_error() {
        let o = opts();
        assert_eq!(
            IdentityNumber::parse("811218-9875", &o),
            Err(IdError::BadCheckDigit)
        );
        assert!(matches!(
            IdentityNumber::parse("hello", &o),
            Err(IdError::BadCharacter { position: 1, .. })
        ));
        let none = opts().with_reserv_schemes(vec![]);
        assert!(IdentityNumber::parse("991999123456", &none).is_err());
    }

    #[test]
    fn custom_scheme() {
        let s = ReservScheme::new("vgr", "R[0-9]{6}").unwrap();
        let o = opts().with_reserv_schemes(vec![s]);
        let r = IdentityNumber::parse("r-123456", &o).unwrap();
        assert_eq!(r.canonical(), "reserv:vgr:R123456");
        assert!(ReservScheme::new("a:b", "x").is_err());
        assert!(ReservScheme::new("ok", "(").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let o = opts();
        let p = IdentityNumber::parse("19811218-9876", &o).unwrap();
        let r = IdentityNumber::parse("991999123456", &o).unwrap();
        for s in [format!("{p:?}"), format!("{r:?}")] {
            assert!(!s.contains("1981") && !s.contains("9912"), "{s}");
        }
    }
}
