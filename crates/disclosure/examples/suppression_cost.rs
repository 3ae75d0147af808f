//! Measures how long secondary suppression takes for tables of growing size
//! (median of several runs). Run with:
//! `cargo run --release -p halsohub-disclosure --example suppression_cost`
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use halsohub_disclosure::{Profile, Protector, Release};

fn main() {
    let release = Release { secret: b"k" };
    for profile in [Profile::rounded(), Profile::noisy()] {
        let p = Protector::new(&profile, &release).unwrap();
        for (rows, cols) in [(2, 20), (21, 20), (50, 50), (290, 20), (100, 100)] {
            // a mix of small and large counts, deterministic
            let mut x = 12345u64;
            let cells: Vec<Vec<u64>> = (0..rows)
                .map(|_| {
                    (0..cols)
                        .map(|_| {
                            x = x
                                .wrapping_mul(6364136223846793005)
                                .wrapping_add(1442695040888963407);
                            let r = x >> 33;
                            if r.is_multiple_of(4) { r % 5 } else { r % 200 }
                        })
                        .collect()
                })
                .collect();
            let mut times = Vec::new();
            let mut suppressed = 0;
            for _ in 0..5 {
                let t = Instant::now();
                let out = p.table(&cells).unwrap();
                times.push(t.elapsed());
                suppressed = out
                    .cells
                    .iter()
                    .flatten()
                    .filter(|v| v.is_suppressed())
                    .count();
            }
            times.sort();
            println!(
                "{:12} {rows:>4}x{cols:<4} median {:>10.3?}  suppressed {suppressed}/{}",
                profile.name(),
                times[2],
                rows * cols
            );
        }
    }
}
