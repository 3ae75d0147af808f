//! C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures (type
//! 0x01) and Ed25519 checkpoint cosignatures (type 0x04,
//! c2sp.org/tlog-cosignature), verifier keys (`name+hex(id)+base64(type ‖
//! key)`) and signer keys in the same form behind `PRIVATE+KEY+`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use rand::TryRng;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::hash::sha256;

/// Signature type of plain Ed25519 note signatures.
pub const TYPE_ED25519: u8 = 0x01;
/// Signature type of timestamped Ed25519 checkpoint cosignatures.
pub const TYPE_COSIGNATURE: u8 = 0x04;

/// The most signatures a note may carry (the specification asks for at
/// least 16 to be accepted).
pub const MAX_SIGNATURES: usize = 100;
/// The largest note accepted, in bytes.
pub const MAX_NOTE_BYTES: usize = 1 << 20;

/// Why a note, key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoteError {
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    #[error("the signature by {name} ({id:08x}) does not verify")]
    BadSignature { name: String, id: u32 },
    #[error("no signature by a trusted log key (trusted: {trusted})")]
    NoTrustedSignature { trusted: String },
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
}

/// A key name: non-empty, no Unicode white space, no `+`.
fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::MalformedKey(
            "a key name must be non-empty, without spaces or '+'",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(NoteError::MalformedKey(
            "a key name must not hold control characters",
        ));
    }
    Ok(())
}

/// The key id of the signed-note specification:
/// `SHA-256(name ‖ "\n" ‖ type ‖ public key)[:4]`, big-endian.
pub fn key_id(name: &str, kind: u8, public_key: &[u8]) -> u32 {
    let h = sha256(&[name.as_bytes(), b"\n", &[kind], public_key]);
    u32::from_be_bytes([h.0[0], h.0[1], h.0[2], h.0[3]])
}

/// What a key signs: the log's checkpoints, or a witness's cosignatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// Plain Ed25519 note signatures (type 0x01): the log's key.
    Log,
    /// Timestamped cosignatures (type 0x04): a witness's key.
    Witness,
}

impl KeyRole {
    fn type_byte(self) -> u8 {
        match self {
            KeyRole::Log => TYPE_ED25519,
            KeyRole::Witness => TYPE_COSIGNATURE,
        }
    }

    fn from_type_byte(b: u8) -> Option<KeyRole> {
        match b {
            TYPE_ED25519 => Some(KeyRole::Log),
            TYPE_COSIGNATURE => Some(KeyRole::Witness),
            _ => None,
        }
    }
}

/// A public key that verifies note signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    role: KeyRole,
    key: VerifyingKey,
}

impl VerifierKey {
    pub fn new(name: &str, role: KeyRole, key: VerifyingKey) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(VerifierKey {
            name: name.to_owned(),
            id: key_id(name, role.type_byte(), key.as_bytes()),
            role,
            key,
        })
    }

    /// Reads `name+hex(id)+base64(type ‖ key)`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let text = text.trim();
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::MalformedKey("a verifier key is name+id+key"));
        };
        check_name(name)?;
        if id.len() != 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NoteError::MalformedKey("the key id is 8 hex digits"));
        }
        let id = u32::from_str_radix(id, 16)
            .map_err(|_| NoteError::MalformedKey("the key id is 8 hex digits"))?;
        let bytes = STANDARD
            .decode(key)
            .map_err(|_| NoteError::MalformedKey("the key is not base64"))?;
        let (&kind, public) = bytes
            .split_first()
            .ok_or(NoteError::MalformedKey("the key is empty"))?;
        let role = KeyRole::from_type_byte(kind).ok_or(NoteError::MalformedKey(
            "unsupported key type (only Ed25519 0x01 and cosignature 0x04)",
        ))?;
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| NoteError::MalformedKey("an Ed25519 public key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::MalformedKey("not an Ed25519 public key"))?;
        let vkey = VerifierKey::new(name, role, key)?;
        if vkey.id != id {
            return Err(NoteError::MalformedKey(
                "the key id does not match name and key",
            ));
        }
        Ok(vkey)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn role(&self) -> KeyRole {
        self.role
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = vec![self.role.type_byte()];
        bytes.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.id,
            STANDARD.encode(bytes)
        )
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

/// A private key that signs notes: the log's (plain Ed25519) or a
/// witness's (cosignatures). Never printed; [`NoteSigner::to_skey`] is the
/// only way out.
pub struct NoteSigner {
    name: String,
    role: KeyRole,
    key: SigningKey,
    verifier: VerifierKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A fresh key from the operating system's random number generator.
    pub fn generate(name: &str, role: KeyRole) -> Result<Self, NoteError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::SysRng
            .try_fill_bytes(seed.as_mut())
            .map_err(|e| NoteError::Random(e.to_string()))?;
        NoteSigner::from_seed(name, role, &seed)
    }

    /// A key from its 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, role: KeyRole, seed: &[u8; 32]) -> Result<Self, NoteError> {
        let key = SigningKey::from_bytes(seed);
        let verifier = VerifierKey::new(name, role, key.verifying_key())?;
        Ok(NoteSigner {
            name: name.to_owned(),
            role,
            key,
            verifier,
        })
    }

    /// Reads `PRIVATE+KEY+name+hex(id)+base64(type ‖ seed)`.
    pub fn parse_skey(text: &str) -> Result<Self, NoteError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::MalformedKey(
                "a signer key starts with PRIVATE+KEY+",
            ))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::MalformedKey(
                "a signer key is PRIVATE+KEY+name+id+key",
            ));
        };
        let id = u32::from_str_radix(id, 16)
            .map_err(|_| NoteError::MalformedKey("the key id is 8 hex digits"))?;
        let bytes = Zeroizing::new(
            STANDARD
                .decode(key)
                .map_err(|_| NoteError::MalformedKey("the key is not base64"))?,
        );
        let (&kind, seed) = bytes
            .split_first()
            .ok_or(NoteError::MalformedKey("the key is empty"))?;
        let role = KeyRole::from_type_byte(kind).ok_or(NoteError::MalformedKey(
            "unsupported key type (only Ed25519 0x01 and cosignature 0x04)",
        ))?;
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            seed.try_into()
                .map_err(|_| NoteError::MalformedKey("an Ed25519 seed is 32 bytes"))?,
        );
        let signer = NoteSigner::from_seed(name, role, &seed)?;
        if signer.verifier.id != id {
            return Err(NoteError::MalformedKey(
                "the key id does not match name and key",
            ));
        }
        Ok(signer)
    }

    /// The key in `PRIVATE+KEY+name+hex(id)+base64(type ‖ seed)` form.
    pub fn to_skey(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new(vec![self.role.type_byte()]);
        bytes.extend_from_slice(self.key.as_bytes());
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.verifier.id,
            STANDARD.encode(bytes.as_slice())
        ))
    }

    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs `note` (which must be a well-formed note text) and appends the
    /// signature line. A log key signs the text; a witness key signs
    /// `cosignature/v1\ntime <timestamp>\n` ‖ text.
    pub fn sign(&self, note: &mut Note, timestamp: u64) -> Result<(), NoteError> {
        let bytes = match self.role {
            KeyRole::Log => self.key.sign(note.text.as_bytes()).to_bytes().to_vec(),
            KeyRole::Witness => {
                if timestamp > i64::MAX as u64 {
                    return Err(NoteError::Malformed(
                        "a cosignature time must not exceed 2^63-1",
                    ));
                }
                let message = cosigned_message(&note.text, timestamp);
                let mut out = timestamp.to_be_bytes().to_vec();
                out.extend_from_slice(&self.key.sign(message.as_bytes()).to_bytes());
                out
            }
        };
        if note.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::Malformed("too many signatures"));
        }
        note.signatures
            .retain(|s| !(s.name == self.name && s.id == self.verifier.id));
        note.signatures.push(NoteSignature {
            name: self.name.clone(),
            id: self.verifier.id,
            bytes,
        });
        Ok(())
    }
}

fn cosigned_message(text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{text}")
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub id: u32,
    /// The signature bytes after the key id.
    pub bytes: Vec<u8>,
}

/// A signed note: its text (ending in a newline) and its signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// What verifying a note found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Names of the trusted log keys whose signatures verified.
    pub log_keys: Vec<String>,
    /// Names and times of the trusted witnesses whose cosignatures verified.
    pub witnesses: Vec<(String, u64)>,
}

impl Note {
    /// An unsigned note over `text`, which must be non-empty, end in a
    /// newline, not end in a blank line, and hold no control characters but
    /// newlines.
    pub fn new(text: &str) -> Result<Note, NoteError> {
        check_text(text)?;
        Ok(Note {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Reads a signed note.
    pub fn parse(input: &str) -> Result<Note, NoteError> {
        if input.len() > MAX_NOTE_BYTES {
            return Err(NoteError::Malformed("the note is too large"));
        }
        if input.chars().any(|c| c.is_control() && c != '\n') {
            return Err(NoteError::Malformed(
                "control characters other than newline",
            ));
        }
        // The text ends at the last blank line.
        let split = input
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let text = &input[..split + 1];
        let sigs = &input[split + 2..];
        check_text(text)?;
        if !sigs.ends_with('\n') {
            return Err(NoteError::Malformed(
                "the last signature line does not end in a newline",
            ));
        }
        let mut signatures = Vec::new();
        for line in sigs[..sigs.len() - 1].split('\n') {
            if signatures.len() >= MAX_SIGNATURES {
                return Err(NoteError::Malformed("too many signatures"));
            }
            let rest = line.strip_prefix("\u{2014} ").ok_or(NoteError::Malformed(
                "a signature line starts with an em dash and a space",
            ))?;
            let (name, sig) = rest.split_once(' ').ok_or(NoteError::Malformed(
                "a signature line is name, space, signature",
            ))?;
            check_name(name)
                .map_err(|_| NoteError::Malformed("a signature's key name is malformed"))?;
            let bytes = STANDARD
                .decode(sig)
                .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
            if bytes.len() < 5 {
                return Err(NoteError::Malformed("a signature is shorter than 5 bytes"));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                id: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
                bytes: bytes[4..].to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(NoteError::Malformed(
                "a signed note has at least one signature",
            ));
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Verifies the note against trusted keys: every signature by a known
    /// key (same name and id) must verify, unknown ones are ignored, and at
    /// least one trusted log key must have signed.
    pub fn verify(&self, trusted: &[VerifierKey]) -> Result<Verified, NoteError> {
        let mut verified = Verified {
            log_keys: Vec::new(),
            witnesses: Vec::new(),
        };
        for sig in &self.signatures {
            let Some(key) = trusted
                .iter()
                .find(|k| k.name == sig.name && k.id == sig.id)
            else {
                continue;
            };
            let bad = || NoteError::BadSignature {
                name: sig.name.clone(),
                id: sig.id,
            };
            match key.role {
                KeyRole::Log => {
                    let s = Signature::from_slice(&sig.bytes).map_err(|_| bad())?;
                    key.key
                        .verify(self.text.as_bytes(), &s)
                        .map_err(|_| bad())?;
                    verified.log_keys.push(sig.name.clone());
                }
                KeyRole::Witness => {
                    if sig.bytes.len() != 8 + 64 {
                        return Err(bad());
                    }
                    let (ts, s) = sig.bytes.split_at(8);
                    let mut ts_bytes = [0u8; 8];
                    ts_bytes.copy_from_slice(ts);
                    let timestamp = u64::from_be_bytes(ts_bytes);
                    if timestamp > i64::MAX as u64 {
                        return Err(bad());
                    }
                    let s = Signature::from_slice(s).map_err(|_| bad())?;
                    key.key
                        .verify(cosigned_message(&self.text, timestamp).as_bytes(), &s)
                        .map_err(|_| bad())?;
                    verified.witnesses.push((sig.name.clone(), timestamp));
                }
            }
        }
        if verified.log_keys.is_empty() {
            let trusted = trusted
                .iter()
                .filter(|k| k.role == KeyRole::Log)
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(NoteError::NoTrustedSignature { trusted });
        }
        Ok(verified)
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for sig in &self.signatures {
            let mut bytes = sig.id.to_be_bytes().to_vec();
            bytes.extend_from_slice(&sig.bytes);
            writeln!(f, "\u{2014} {} {}", sig.name, STANDARD.encode(bytes))?;
        }
        Ok(())
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(NoteError::Malformed("the note text must end in a newline"));
    }
    if text.ends_with("\n\n") || text == "\n" {
        return Err(NoteError::Malformed(
            "the note text must not end in a blank line",
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed(
            "control characters other than newline",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vectors of the signed-note specification (c2sp.org/signed-note)
    // and of golang.org/x/mod/sumdb/note; origin and licences in
    // tests/data/SOURCE.md.
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    const GO_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const GO_SIGNED: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn the_specification_example_verifies() {
        let key = VerifierKey::parse(SPEC_VKEY).unwrap();
        assert_eq!(key.to_string(), SPEC_VKEY);
        let note = Note::parse(SPEC_NOTE).unwrap();
        assert_eq!(note.text(), "This is an example message.\n");
        let v = note.verify(&[key]).unwrap();
        assert_eq!(v.log_keys, vec!["example.com/foo".to_owned()]);
        assert_eq!(note.to_string(), SPEC_NOTE);
    }

    #[test]
    fn signing_matches_the_go_vector() {
        let signer = NoteSigner::parse_skey(GO_SKEY).unwrap();
        assert_eq!(signer.verifier().to_string(), GO_VKEY);
        assert_eq!(signer.to_skey().as_str(), GO_SKEY);
        let mut note = Note::new(GO_TEXT).unwrap();
        signer.sign(&mut note, 0).unwrap();
        assert_eq!(note.to_string(), GO_SIGNED);
        let key = VerifierKey::parse(GO_VKEY).unwrap();
        Note::parse(GO_SIGNED).unwrap().verify(&[key]).unwrap();
    }

    #[test]
    fn a_changed_text_or_signature_fails_and_unknown_keys_are_ignored() {
        let key = VerifierKey::parse(GO_VKEY).unwrap();
        let changed = GO_SIGNED.replace("cryptography", "cryptographY");
        assert!(matches!(
            Note::parse(&changed)
                .unwrap()
                .verify(std::slice::from_ref(&key)),
            Err(NoteError::BadSignature { .. })
        ));
        let other = VerifierKey::parse(SPEC_VKEY).unwrap();
        assert!(matches!(
            Note::parse(GO_SIGNED).unwrap().verify(&[other]),
            Err(NoteError::NoTrustedSignature { .. })
        ));
    }

    #[test]
    fn a_witness_cosignature_verifies_beside_the_log_signature() {
        let log = NoteSigner::parse_skey(GO_SKEY).unwrap();
        let witness =
            NoteSigner::from_seed("witness.example/w1", KeyRole::Witness, &[9; 32]).unwrap();
        let mut note = Note::new(GO_TEXT).unwrap();
        log.sign(&mut note, 0).unwrap();
        witness.sign(&mut note, 1_700_000_000).unwrap();
        let text = note.to_string();
        let parsed = Note::parse(&text).unwrap();
        let wkey = VerifierKey::parse(&witness.verifier().to_string()).unwrap();
        assert_eq!(wkey.role(), KeyRole::Witness);
        let v = parsed
            .verify(&[log.verifier().clone(), wkey.clone()])
            .unwrap();
        assert_eq!(
            v.witnesses,
            vec![("witness.example/w1".to_owned(), 1_700_000_000)]
        );
        // A witness key alone is not enough: a log key must sign.
        assert!(parsed.verify(std::slice::from_ref(&wkey)).is_err());
        // The cosignature covers its time.
        let mut tampered = parsed.clone();
        tampered.signatures[1].bytes[7] ^= 1;
        assert!(matches!(
            tampered.verify(&[log.verifier().clone(), wkey]),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn malformed_notes_and_keys_are_errors() {
        for bad in [
            "",
            "text\n",
            "text\n\n",
            "text\n\n\u{2014} name\n",
            "text\n\n\u{2014} name AAAA\n",
            "text\n\n- name AAAAAAAA\n",
            "text\n\n\u{2014} na+me AAAAAAAA\n",
            "te\u{7}xt\n\n\u{2014} name AAAAAAAA\n",
            "text\n\n\u{2014} name AAAAAAAA",
        ] {
            assert!(Note::parse(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "",
            "name",
            "name+00000000",
            "name+zz+AQ==",
            "name+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "example.com/foo+530d903a+BekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
            "example.com/foo+530d903a+AekyeRrm",
        ] {
            assert!(VerifierKey::parse(bad).is_err(), "{bad:?}");
        }
        assert!(NoteSigner::parse_skey(GO_VKEY).is_err());
    }
}
