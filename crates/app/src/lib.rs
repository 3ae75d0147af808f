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
//!   database, deadline sweep), for the case routes and `halsohub cases`.

pub mod cases;
pub mod feasibility;
pub mod hub;
pub mod quarantine;
pub mod query;
