//! One module per command group.

pub mod auth;
pub mod cases;
pub mod count;
pub mod demo;
pub mod export;
pub mod ingest;
pub mod keys;
pub mod lists;
pub mod staff;
pub mod store;
pub mod synth;
