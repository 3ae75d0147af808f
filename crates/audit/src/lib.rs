//! The verifiable audit log: an append-only, tamper-evident record of
//! every sensitive action, as a Merkle tree (RFC 6962 / RFC 9162) stored in
//! the C2SP tlog-tiles layout and published through signed C2SP
//! checkpoints that witnesses can cosign.
//!
//! Pure domain crate: no database, no HTTP. It holds
//!
//! * [`hash`] and [`merkle`]: leaf and node hashing, tree heads, inclusion
//!   and consistency proofs (generated from any [`merkle::HashSource`],
//!   verified from hashes alone);
//! * [`entry`]: the audit entry and its salted commitment — the leaves are
//!   `SHA-256(salt ‖ canonical entry)`, so public tiles reveal nothing and
//!   an auditor given an entry and its salt can check its inclusion;
//! * [`tile`]: tile paths, atomic writes and reads of a log directory;
//! * [`note`] and [`checkpoint`]: signed notes (Ed25519 log signatures,
//!   timestamped Ed25519 witness cosignatures), verifier and signer keys,
//!   checkpoints;
//! * [`log`]: the [`Appender`], crash-safe;
//! * [`verify()`]: verification from tiles and checkpoints alone, naming the
//!   first bad index on tampering;
//! * [`witness`]: a second party's cosigning.
//!
//! Not yet wired into the application: see `docs/audit.md`.

pub mod checkpoint;
pub mod entry;
pub mod hash;
pub mod log;
pub mod merkle;
pub mod note;
pub mod tile;
pub mod verify;
pub mod witness;

pub use checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
pub use entry::{AuditEntry, Commitment, EntryKind, Salt, SaltError};
pub use hash::Hash;
pub use log::{Appended, Appender, LogError, consistency_proof, inclusion_proof, read_checkpoint};
pub use merkle::ProofError;
pub use note::{KeyRole, Note, NoteError, NoteSigner, VerifierKey};
pub use tile::TileError;
pub use verify::{Coverage, Finding, NamedEntry, Report, Trust, VerifyError, verify};
pub use witness::{Witness, WitnessError};
