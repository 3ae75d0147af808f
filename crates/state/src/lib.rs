//! halsohub's state database: everything the hub remembers about people and
//! cases, as opposed to the health data in the store.
//!
//! One [`Db`] handle works on either backend, chosen by URL:
//! `sqlite://path?mode=rwc` (the embedded default, WAL journal) or
//! `postgres://…` (production). Migrations are embedded per backend and run
//! on [`Db::connect`].
//!
//! What it keeps:
//! * organisations, users (argon2 password hashes), memberships with roles
//!   per organisation ([`accounts`]);
//! * API tokens and web sessions: random secrets shown once, stored only as
//!   SHA-256 hashes, with expiry, revocation and last use ([`tokens`]);
//! * case events, append-only with optimistic concurrency on
//!   `(case, sequence)`, a per-case projection written in the same
//!   transaction, and idempotency keys so a replayed command returns the
//!   first result ([`cases`]);
//! * identifier sequences: case and permit serials from a counter in the
//!   database, continuing after the highest serial of an older database
//!   ([`sequences`]);
//! * attachments with SHA-256 checksums and a size limit ([`attachments`]);
//! * the permits projection ([`permits`]) and the notification outbox
//!   ([`outbox`]);
//! * OpenID Connect bearer-token verification against a JWKS ([`oidc`]);
//! * the feasibility query log, append-only (no update or delete in the
//!   API; triggers refuse them in the schema) ([`query_log`]);
//! * admitted queries per user for sliding-window quotas, admitted under a
//!   per-user row lock so several server processes share one limit
//!   ([`Db::admit_query`]);
//! * the password log-in throttle, likewise shared by every process
//!   ([`login_throttle`]);
//! * the citizens' opt-out register (append-only records, delivery files
//!   recorded once by content hash) and the extracts made, with the
//!   persons each held ([`optouts`]);
//! * the verifiable audit log's entries with their salts and commitments,
//!   one row per leaf index taken in the writing transaction, written with
//!   what they record ([`audit`]);
//! * privacy-budget charges per user and period, and the differencing
//!   guard's anchors (fingerprints of released person sets) ([`privacy`]).
//!
//! This crate persists; it does not decide. Whether a command on a case is
//! allowed is the access crate's business. Roles are stored as their
//! canonical names (strings) so the schema does not depend on the domain
//! crate's enum. Times are stored as Unix milliseconds (UTC).

pub mod accounts;
pub mod attachments;
pub mod audit;
pub mod cases;
mod db;
mod error;
pub mod login_throttle;
pub mod oidc;
pub mod optouts;
pub mod outbox;
pub mod permits;
pub mod privacy;
pub mod query_log;
mod quota;
pub mod sequences;
pub mod tokens;

pub use db::{Backend, ConnectOptions, Db};
pub use error::StateError;
