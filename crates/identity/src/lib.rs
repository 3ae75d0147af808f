//! Identity numbers and pseudonyms — the ingest edge of halsohub.
//!
//! * [`IdentityNumber::parse`] reads a personnummer, samordningsnummer or
//!   reservnummer in any written form, resolving the century against a
//!   reference date ([`ParseOptions`]) and validating date and check digit.
//! * [`Personnummer::from_parts`] builds a number (check digit computed) and
//!   [`Personnummer::format`] writes it in any [`Form`] — for the synthetic
//!   generator and for tests.
//! * [`HubKey`] is the hub's secret, kept in a 0600 key file apart from any
//!   store; [`Pseudonymiser`] turns identities into [`Pseudonym`]s with
//!   HMAC-SHA256 under it, and derives project pseudonyms that cannot be
//!   joined across projects.
//!
//! Raw numbers never leave through this crate by accident: `Debug` on every
//! identity type is redacted, there is no `Display`, and no [`IdError`] or
//! [`KeyError`] message contains the number or the key.

mod error;
mod key;
mod number;
mod personnummer;
mod pseudonym;

pub use error::{DateProblem, IdError, KeyError};
pub use key::HubKey;
pub use number::{IdKind, IdentityNumber, ParseOptions, ReservScheme, Reservnummer};
pub use personnummer::{Form, Personnummer, luhn_check_digit};
pub use pseudonym::{Pseudonym, PseudonymParseError, Pseudonymiser};
