//! Generates a synthetic set: `cargo run --release --example synth -- N OUT [SEED]`.
//! Used to measure generation speed.

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let patients: u64 = args.next().ok_or("usage: synth N OUT [SEED]")?.parse()?;
    let out = PathBuf::from(args.next().ok_or("usage: synth N OUT [SEED]")?);
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let config = halsohub_synth::Config {
        patients,
        seed,
        ..halsohub_synth::Config::default()
    };
    let t = Instant::now();
    let summary = halsohub_synth::generate(&config, &out, &|_| {})?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{} persons, {} rows ({:.1} per person), {} defects in {:.2} s",
        summary.population.persons,
        summary.rows_total,
        summary.rows_total as f64 / summary.population.persons.max(1) as f64,
        summary.defects_total.total(),
        secs
    );
    Ok(())
}
