//! One module per command group.

pub mod audit;
pub mod auth;
pub mod cases;
pub mod catalogue;
pub mod count;
pub mod db;
pub mod demo;
pub mod demo_accounts;
pub mod export;
pub mod ingest;
pub mod keys;
pub mod lists;
pub mod privacy;
pub mod quarantine;
pub mod serve;
pub mod store;
pub mod synth;
pub mod tokens;
pub mod users;
