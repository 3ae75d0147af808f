//! A witness: a second party (a region, say) that cosigns the log's
//! checkpoints after checking that each is signed by the log and consistent
//! with the last one it cosigned, so that the log cannot show different
//! histories to different people without one of them being a fork a
//! witness would refuse.

use std::path::Path;

use thiserror::Error;

use crate::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use crate::hash::Hash;
use crate::merkle::{self, ProofError};
use crate::note::{KeyRole, NoteSigner, VerifierKey};
use crate::tile::{TileDir, TileError, TileReader};

/// Why a witness refused to cosign.
#[derive(Debug, Error)]
pub enum WitnessError {
    #[error("the witness key must be a cosignature key (type 0x04)")]
    NotAWitnessKey,
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("the checkpoint of size {new} is older than the one already cosigned ({old})")]
    Rollback { old: u64, new: u64 },
    #[error(
        "the checkpoint of size {new} is not consistent with the one cosigned at size {old}: {source}"
    )]
    Inconsistent {
        old: u64,
        new: u64,
        #[source]
        source: ProofError,
    },
    #[error("making the consistency proof from the tiles: {0}")]
    Tiles(#[from] TileError),
}

/// A witness: its cosigning key, the log keys it trusts, the log's origin
/// and the last checkpoint it cosigned (its state, kept by the caller).
#[derive(Debug)]
pub struct Witness {
    signer: NoteSigner,
    log_keys: Vec<VerifierKey>,
    origin: String,
    last: Option<Checkpoint>,
}

impl Witness {
    /// A witness for the log `origin` signed by `log_keys`; `last` is the
    /// checkpoint it cosigned before, if any.
    pub fn new(
        signer: NoteSigner,
        log_keys: Vec<VerifierKey>,
        origin: &str,
        last: Option<Checkpoint>,
    ) -> Result<Witness, WitnessError> {
        if signer.verifier().role() != KeyRole::Witness {
            return Err(WitnessError::NotAWitnessKey);
        }
        Ok(Witness {
            signer,
            log_keys,
            origin: origin.to_owned(),
            last,
        })
    }

    /// The last checkpoint cosigned (to be stored by the caller).
    pub fn last(&self) -> Option<&Checkpoint> {
        self.last.as_ref()
    }

    /// Cosigns the signed checkpoint `text` given a consistency proof from
    /// the last cosigned checkpoint, and returns it with the cosignature
    /// added. `timestamp` is the current POSIX time.
    pub fn cosign(
        &mut self,
        text: &str,
        proof: &[Hash],
        timestamp: u64,
    ) -> Result<SignedCheckpoint, WitnessError> {
        let (mut signed, _) = SignedCheckpoint::open(text, &self.log_keys, Some(&self.origin))?;
        let new = &signed.checkpoint;
        if let Some(old) = &self.last {
            if new.size < old.size {
                return Err(WitnessError::Rollback {
                    old: old.size,
                    new: new.size,
                });
            }
            // Every tree extends the empty tree.
            if old.size > 0 {
                merkle::verify_consistency(old.size, new.size, &old.root, &new.root, proof)
                    .map_err(|source| WitnessError::Inconsistent {
                        old: old.size,
                        new: new.size,
                        source,
                    })?;
            }
        }
        signed.cosign(&self.signer, timestamp)?;
        self.last = Some(signed.checkpoint.clone());
        Ok(signed)
    }

    /// [`Witness::cosign`] with the consistency proof made from a copy of
    /// the log's tiles (fetched from its static files); the proof is checked
    /// against the two signed roots, so the tiles need not be trusted.
    pub fn cosign_from_tiles(
        &mut self,
        tiles: &Path,
        text: &str,
        timestamp: u64,
    ) -> Result<SignedCheckpoint, WitnessError> {
        let signed = SignedCheckpoint::parse(text)?;
        let proof = match &self.last {
            Some(old) if old.size <= signed.checkpoint.size => {
                let dir = TileDir::new(tiles);
                let mut reader = TileReader::new(&dir, signed.checkpoint.size);
                merkle::consistency_proof(&mut reader, old.size, signed.checkpoint.size)?
            }
            _ => Vec::new(),
        };
        self.cosign(text, &proof, timestamp)
    }
}
