//! The application layer of halsohub: the one place where the edges (the
//! `halsohub` binary, the HTTP server in `halsohub-server`, and later the
//! portal) meet the domain and persistence crates.
//!
//! An edge parses its input, calls one service here, and renders the
//! result; it holds no orchestration of its own. Services:
//!
//! * opening a hub (key outside the store, fingerprint check, snapshot,
//!   engine, code lists), once for every command and for the server;
//! * the feasibility service (validation, quota, evaluation, disclosure
//!   control, query log), for `POST /api/v1/feasibility` and
//!   `halsohub count` alike;
//! * the quarantine service (re-evaluating rows quarantined under an
//!   older unit rule), for `halsohub quarantine retry`;
//! * the case service (load, fold, decide, persist, notify, ids from the
//!   database, deadline sweep), for the case routes and `halsohub cases`;
//! * the verifiable audit log (`audit`): entries made with what they
//!   record, the tree sequenced from the database into tiles and signed
//!   checkpoints, proofs, the backfill of the earlier logs, key files;
//! * the opt-out register (`optout`): delivery files and citizens'
//!   changes recorded, a citizen's standing, history and the permits that
//!   used their data, and the exclusion sets counts and extracts remove;
//! * the state database (`db`), accounts, roles, tokens and sessions
//!   (`accounts`), authentication of API callers (`auth`), the query log
//!   (`query_log`) and code search (`codes`);
//! * the dataset catalogue (`catalogue`): descriptions and approvals from
//!   a directory, facts counted through the feasibility service, quality
//!   from the load reports and the snapshot's events, for `halsohub
//!   catalogue` and `GET /api/v1/catalogue`;
//! * the hub key (`keys`), synthetic demo data (`synth`), loading
//!   (`load`), a store's summary and table copy (`stores`) and the
//!   project export (`export`).
//!
//! The edges depend on this crate and on no domain or persistence crate
//! (`tests/dependency_rule.rs` holds them to it); the types they must
//! name are re-exported by the service that hands them out.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod cases;
pub mod catalogue;
pub mod clocks;
pub mod codes;
pub mod db;
pub mod export;
pub mod feasibility;
pub mod hub;
pub mod idempotency;
pub mod keys;
pub mod load;
pub mod optout;
pub mod quarantine;
pub mod query;
pub mod query_log;
pub mod stores;
pub mod synth;
