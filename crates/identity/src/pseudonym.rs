//! Keyed pseudonyms.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::key::HubKey;
use crate::number::IdentityNumber;
use crate::personnummer::Personnummer;

type HmacSha256 = Hmac<Sha256>;

const PERSON_DOMAIN: &[u8] = b"halsohub/person/v1\0";
const RESERV_DOMAIN: &[u8] = b"halsohub/reserv/v1\0";
const SOURCE_DOMAIN: &[u8] = b"halsohub/source/v1\0";
const PROJECT_DOMAIN: &[u8] = b"halsohub/project/v1\0";

/// A 128-bit pseudonym: HMAC-SHA256 under the hub key, truncated.
///
/// Written as 32 lower-case hex digits (`Display`, `FromStr`, serde).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym([u8; 16]);

impl Pseudonym {
    /// Wraps 16 raw bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Pseudonym(bytes)
    }

    /// The 16 raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The 32 lower-case hex digits as ASCII bytes, without allocating.
    pub fn to_hex_bytes(&self) -> [u8; 32] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (pair, b) in out.chunks_exact_mut(2).zip(self.0) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0x0f)];
        }
        out
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex_bytes();
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pseudonym({self})")
    }
}

/// A pseudonym string that is not 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pseudonym must be 32 hexadecimal digits")]
pub struct PseudonymParseError;

impl FromStr for Pseudonym {
    type Err = PseudonymParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut b = [0u8; 16];
        if s.len() != 32 {
            return Err(PseudonymParseError);
        }
        hex::decode_to_slice(s, &mut b).map_err(|_| PseudonymParseError)?;
        Ok(Pseudonym(b))
    }
}

impl serde::Serialize for Pseudonym {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex = self.to_hex_bytes();
        s.serialize_str(std::str::from_utf8(&hex).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> serde::Deserialize<'de> for Pseudonym {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Pseudonym;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("32 hexadecimal digits")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Pseudonym, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Turns identity numbers into pseudonyms under a hub key.
///
/// The keyed HMAC state is computed once, so each pseudonym costs two
/// SHA-256 compressions and no allocation. The same number gives the same
/// pseudonym from every source (so journeys link); different keys give
/// unrelated pseudonyms. Inputs are domain-separated, so a personnummer, a
/// reservnummer and a source-scoped id never collide by construction.
#[derive(Clone)]
pub struct Pseudonymiser {
    keyed: HmacSha256,
    fingerprint: String,
    key_file: Option<std::path::PathBuf>,
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pseudonymiser")
            .field("key_fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

fn truncate(mac: HmacSha256) -> Pseudonym {
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; 16];
    for (o, b) in out.iter_mut().zip(full.iter()) {
        *o = *b;
    }
    Pseudonym(out)
}

/// Feeds `bytes` prefixed with its length, so concatenations are unambiguous.
fn update_framed(mac: &mut HmacSha256, bytes: &[u8]) {
    mac.update(&(bytes.len() as u64).to_le_bytes());
    mac.update(bytes);
}

impl Pseudonymiser {
    /// A pseudonymiser under `key`.
    pub fn new(key: &HubKey) -> Self {
        let keyed = <HmacSha256 as KeyInit>::new_from_slice(key.secret().as_slice())
            // HMAC accepts keys of any length; 32 bytes is always fine.
            .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
        Pseudonymiser {
            keyed,
            fingerprint: key.fingerprint(),
            key_file: key.file().map(std::path::Path::to_path_buf),
        }
    }

    /// The fingerprint of the key in use.
    pub fn key_fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The file the key in use came from ([`HubKey::file`]).
    pub fn key_file(&self) -> Option<&std::path::Path> {
        self.key_file.as_deref()
    }

    /// The pseudonym of a personnummer, samordningsnummer or reservnummer.
    pub fn pseudonym(&self, id: &IdentityNumber) -> Pseudonym {
        if let Some(p) = id.as_personnummer() {
            return self.personnummer(p);
        }
        let mut mac = self.keyed.clone();
        mac.update(RESERV_DOMAIN);
        if let Some(r) = id.as_reservnummer() {
            update_framed(&mut mac, r.scheme().as_bytes());
            update_framed(&mut mac, r.value().as_bytes());
        }
        truncate(mac)
    }

    /// The pseudonym of a personnummer or samordningsnummer (over its
    /// canonical 12-digit form).
    pub fn personnummer(&self, p: &Personnummer) -> Pseudonym {
        let mut mac = self.keyed.clone();
        mac.update(PERSON_DOMAIN);
        mac.update(&p.canonical_bytes());
        truncate(mac)
    }

    /// The pseudonym of a person known only by a source's own identifier
    /// (e.g. a FHIR Patient id or OMOP person_id). Scoped to `source`: the
    /// same `local_id` from two sources gives two pseudonyms.
    pub fn source_scoped(&self, source: &str, local_id: &str) -> Pseudonym {
        let mut mac = self.keyed.clone();
        mac.update(SOURCE_DOMAIN);
        update_framed(&mut mac, source.as_bytes());
        update_framed(&mut mac, local_id.as_bytes());
        truncate(mac)
    }

    /// A project-specific pseudonym for a hub pseudonym. Different projects
    /// get unrelated pseudonyms for the same person, so their data cannot be
    /// joined without the hub key.
    pub fn project_pseudonym(&self, project: &str, p: &Pseudonym) -> Pseudonym {
        let mut mac = self.keyed.clone();
        mac.update(PROJECT_DOMAIN);
        update_framed(&mut mac, project.as_bytes());
        mac.update(p.as_bytes());
        truncate(mac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::ParseOptions;
    use chrono::NaiveDate;

    fn ps() -> Pseudonymiser {
        Pseudonymiser::new(&HubKey::from_bytes([1u8; 32]))
    }

    #[test]
    fn hex_round_trip_and_serde() {
        let p = Pseudonym::from_bytes([0xab; 16]);
        assert_eq!(p.to_string(), "ab".repeat(16));
        assert_eq!(p.to_string().parse::<Pseudonym>().unwrap(), p);
        assert_eq!(
            "AB".repeat(16).parse::<Pseudonym>().unwrap(),
            p,
            "upper case accepted"
        );
        assert!("ab".parse::<Pseudonym>().is_err());
        assert!("zz".repeat(16).parse::<Pseudonym>().is_err());
        let j = serde_json::to_string(&p).unwrap();
        assert_eq!(j, format!("\"{}\"", "ab".repeat(16)));
        assert_eq!(serde_json::from_str::<Pseudonym>(&j).unwrap(), p);
    }

    #[test]
    fn known_answer() {
        // HMAC-SHA256(key = 32 x 0x01, "halsohub/person/v1\0" || "198112189876")
        // truncated to 16 bytes; pins the construction so it never changes
        // silently (which would break linkage with existing stores).
        let o = ParseOptions::new(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        let id = IdentityNumber::parse("811218-9876", &o).unwrap();
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&[1u8; 32]).unwrap();
        mac.update(b"halsohub/person/v1\x00");
        mac.update(b"198112189876");
        let full = mac.finalize().into_bytes();
        assert_eq!(ps().pseudonym(&id).as_bytes()[..], full[..16]);
    }

    #[test]
    fn forms_agree_and_domains_separate() {
        let o = ParseOptions::new(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        let a = IdentityNumber::parse("811218-9876", &o).unwrap();
        let b = IdentityNumber::parse("198112189876", &o).unwrap();
        let s = ps();
        assert_eq!(s.pseudonym(&a), s.pseudonym(&b));
        assert_ne!(s.pseudonym(&a), s.source_scoped("x", "198112189876"));
        assert_ne!(s.source_scoped("ab", "c"), s.source_scoped("a", "bc"));
        let p = s.pseudonym(&a);
        assert_ne!(s.project_pseudonym("p1", &p), s.project_pseudonym("p2", &p));
        assert_eq!(s.project_pseudonym("p1", &p), s.project_pseudonym("p1", &p));
        let other = Pseudonymiser::new(&HubKey::from_bytes([2u8; 32]));
        assert_ne!(other.pseudonym(&a), p);
    }
}
