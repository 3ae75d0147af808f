//! Loads files into a store and prints the load report; for measuring.
//!
//! ```text
//! cargo run --release -p halsohub-ingest --example load -- STORE REFERENCE_DATE PATH...
//! ```
//!
//! Uses a fixed test key (never for real data).

use std::path::PathBuf;
use std::time::Instant;

use halsohub_identity::{HubKey, ParseOptions, Pseudonymiser};
use halsohub_ingest::{IngestOptions, NoProgress, ingest};
use halsohub_store::Store;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(store_dir), Some(reference)) = (args.next(), args.next()) else {
        return Err("usage: load STORE YYYY-MM-DD PATH...".into());
    };
    let paths: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let reference = chrono::NaiveDate::parse_from_str(&reference, "%Y-%m-%d")?;
    let key = HubKey::from_bytes([42; 32]);
    let ps = Pseudonymiser::new(&key);
    let store = Store::open_for_load(std::path::Path::new(&store_dir), &key.fingerprint())?;
    let options = IngestOptions {
        identity: ParseOptions::new(reference),
        ..IngestOptions::default()
    };
    let started = Instant::now();
    let report = ingest(&store, &ps, &paths, &options, &NoProgress)?;
    println!("{report}");
    println!("wall clock: {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
