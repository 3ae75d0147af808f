//! C2SP checkpoints (c2sp.org/tlog-checkpoint): the note text
//! `<origin>\n<tree size>\n<base64 root hash>\n`, signed as a note.

use thiserror::Error;

use crate::hash::Hash;
use crate::note::{Note, NoteError, NoteSigner, Verified, VerifierKey};

/// Why a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Note(#[from] NoteError),
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    #[error("the checkpoint is for log {found:?}, expected {expected:?}")]
    WrongOrigin { expected: String, found: String },
}

/// A tree head: the log's origin, the tree size and the root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The note text.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        )
    }

    /// Reads a note text: origin, size (decimal, no leading zeroes), root;
    /// extension lines are allowed and ignored (this log writes none).
    pub fn from_text(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::Malformed("the text must end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        let size = lines
            .next()
            .ok_or(CheckpointError::Malformed("no tree size line"))?;
        let root = lines
            .next()
            .ok_or(CheckpointError::Malformed("no root hash line"))?;
        if lines.any(str::is_empty) {
            return Err(CheckpointError::Malformed("an extension line is empty"));
        }
        if origin.is_empty() {
            return Err(CheckpointError::Malformed("the origin is empty"));
        }
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(CheckpointError::Malformed(
                "the tree size is not a decimal number without leading zeroes",
            ));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| CheckpointError::Malformed("the tree size does not fit 64 bits"))?;
        let root = Hash::from_base64(root).ok_or(CheckpointError::Malformed(
            "the root hash is not base64 of 32 bytes",
        ))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// Signs the checkpoint with the log's key.
    pub fn sign(&self, log: &NoteSigner) -> Result<SignedCheckpoint, CheckpointError> {
        let mut note = Note::new(&self.to_text())?;
        log.sign(&mut note, 0)?;
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            note,
        })
    }
}

/// A checkpoint with its signed note (the log's signature, and any
/// witnesses' cosignatures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: Note,
}

impl SignedCheckpoint {
    /// Reads a signed checkpoint without checking its signatures.
    pub fn parse(text: &str) -> Result<SignedCheckpoint, CheckpointError> {
        let note = Note::parse(text)?;
        let checkpoint = Checkpoint::from_text(note.text())?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// Reads a signed checkpoint and verifies it: a trusted log key signed
    /// it, every signature by a trusted key verifies, and (when given) the
    /// origin is the expected one.
    pub fn open(
        text: &str,
        trusted: &[VerifierKey],
        origin: Option<&str>,
    ) -> Result<(SignedCheckpoint, Verified), CheckpointError> {
        let signed = SignedCheckpoint::parse(text)?;
        let verified = signed.note.verify(trusted)?;
        if let Some(expected) = origin
            && expected != signed.checkpoint.origin
        {
            return Err(CheckpointError::WrongOrigin {
                expected: expected.to_owned(),
                found: signed.checkpoint.origin.clone(),
            });
        }
        Ok((signed, verified))
    }

    /// Adds a witness's cosignature (the caller has checked the checkpoint
    /// is consistent with what the witness saw before; see
    /// [`crate::witness`]).
    pub fn cosign(&mut self, witness: &NoteSigner, timestamp: u64) -> Result<(), CheckpointError> {
        witness.sign(&mut self.note, timestamp)?;
        Ok(())
    }

    /// The signed note as text.
    pub fn to_text(&self) -> String {
        self.note.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::empty_root;
    use crate::note::KeyRole;

    #[test]
    fn round_trip_and_specification_example() {
        let spec =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let c = Checkpoint::from_text(spec).unwrap();
        assert_eq!(c.origin, "example.com/behind-the-sofa");
        assert_eq!(c.size, 20_852_163);
        assert_eq!(c.to_text(), spec);
        let signer = NoteSigner::from_seed("example.com/log", KeyRole::Log, &[1; 32]).unwrap();
        let signed = c.sign(&signer).unwrap();
        let (opened, _) = SignedCheckpoint::open(
            &signed.to_text(),
            &[signer.verifier().clone()],
            Some("example.com/behind-the-sofa"),
        )
        .unwrap();
        assert_eq!(opened.checkpoint, c);
        assert!(matches!(
            SignedCheckpoint::open(&signed.to_text(), &[signer.verifier().clone()], Some("x")),
            Err(CheckpointError::WrongOrigin { .. })
        ));
    }

    #[test]
    fn malformed_texts_are_errors() {
        let root = empty_root().to_base64();
        for bad in [
            String::new(),
            "o\n1\n".to_owned(),
            format!("\n1\n{root}\n"),
            format!("o\n01\n{root}\n"),
            format!("o\n-1\n{root}\n"),
            format!("o\n18446744073709551616\n{root}\n"),
            format!("o\n1\n{root}"),
            "o\n1\nAAAA\n".to_owned(),
            format!("o\n1\n{root}\n\n"),
        ] {
            assert!(Checkpoint::from_text(&bad).is_err(), "{bad:?}");
        }
        assert!(Checkpoint::from_text(&format!("o\n0\n{root}\next\n")).is_ok());
    }
}
