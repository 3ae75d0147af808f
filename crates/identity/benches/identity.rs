//! Parse and pseudonym throughput: `cargo bench -p halsohub-identity`.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use halsohub_identity::{Form, HubKey, IdentityNumber, ParseOptions, Personnummer, Pseudonymiser};

fn bench(c: &mut Criterion) {
    let reference = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let opts = ParseOptions::new(reference);
    let ps = Pseudonymiser::new(&HubKey::from_bytes([7; 32]));
    let texts: Vec<String> = (0..1000u32)
        .map(|i| {
            let d =
                NaiveDate::from_ymd_opt(1930 + (i % 90) as i32, 1 + i % 12, 1 + i % 28).unwrap();
            Personnummer::from_parts(d, (i % 1000) as u16, false)
                .unwrap()
                .format(Form::TenSeparated { reference })
        })
        .collect();
    let ids: Vec<IdentityNumber> = texts
        .iter()
        .map(|t| IdentityNumber::parse(t, &opts).unwrap())
        .collect();

    c.bench_function("parse YYMMDD-NNNC", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % texts.len();
            black_box(IdentityNumber::parse(black_box(&texts[i]), &opts).unwrap())
        })
    });
    c.bench_function("pseudonym", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % ids.len();
            black_box(ps.pseudonym(black_box(&ids[i])))
        })
    });
    c.bench_function("project pseudonym", |b| {
        let p = ps.pseudonym(&ids[0]);
        b.iter(|| black_box(ps.project_pseudonym(black_box("proj-2026-001"), black_box(&p))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
