//! Property test: random byte and line mutations of a valid register file
//! never panic; a load either fails with a file-level error (and leaves the
//! store as it was) or accounts for every row it read.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

use chrono::NaiveDate;
use common::*;
use halsohub_identity::{Form, Personnummer};
use proptest::prelude::*;

fn valid_file() -> Vec<u8> {
    let mut s = String::from("PERSONNR;INDATUM;UTDATUM;HDIA;DIAGNOS;OP;SJUKHUS;MVO\r\n");
    for i in 0..12u16 {
        let birth = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap()
            + chrono::Duration::days(i64::from(i) * 97);
        let p = Personnummer::from_parts(birth, 100 + i, i % 5 == 0).unwrap();
        let form = match i % 3 {
            0 => Form::Twelve,
            1 => Form::TwelveSeparated,
            _ => Form::TenSeparated {
                reference: reference(),
            },
        };
        s.push_str(&format!(
            "{};2023010{};2023011{};E11.9;E119 I10;FNG05;12001;101\r\n",
            p.format(form),
            i % 9 + 1,
            i % 9 + 1
        ));
    }
    s.into_bytes()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, byte: u8 },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, len: usize },
    DropLine(usize),
    RepeatLine(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..12)
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        any::<usize>().prop_map(Mutation::DropLine),
        any::<usize>().prop_map(Mutation::RepeatLine),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(data: &mut Vec<u8>, m: &Mutation) {
    if data.is_empty() {
        return;
    }
    match m {
        Mutation::Flip { at, byte } => {
            let i = at % data.len();
            data[i] = *byte;
        }
        Mutation::Insert { at, bytes } => {
            let i = at % (data.len() + 1);
            data.splice(i..i, bytes.iter().copied());
        }
        Mutation::Delete { at, len } => {
            let i = at % data.len();
            let end = (i + len).min(data.len());
            data.drain(i..end);
        }
        Mutation::DropLine(n) | Mutation::RepeatLine(n) => {
            let mut lines: Vec<Vec<u8>> = data
                .split_inclusive(|&b| b == b'\n')
                .map(<[u8]>::to_vec)
                .collect();
            let i = n % lines.len();
            if matches!(m, Mutation::DropLine(_)) {
                lines.remove(i);
            } else {
                let l = lines[i].clone();
                lines.insert(i, l);
            }
            *data = lines.concat();
        }
        Mutation::Truncate(n) => {
            let keep = n % data.len();
            data.truncate(keep);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn mutated_files_never_panic(muts in proptest::collection::vec(mutation(), 1..6), gzip in any::<bool>()) {
        let tmp = tempfile::tempdir().unwrap();
        let mut data = valid_file();
        for m in &muts {
            apply(&mut data, m);
        }
        let bytes = if gzip {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&data).unwrap();
            let mut z = e.finish().unwrap();
            // Also damage the compressed stream sometimes.
            if let Some(Mutation::Flip { at, byte }) = muts.first() {
                let i = at % z.len();
                z[i] = *byte;
            }
            z
        } else {
            data
        };
        let f = write(tmp.path(), "par_sluten.txt", &bytes);
        let store_dir = tmp.path().join("store");
        match load(&store_dir, &[f], &options(reference())) {
            Ok(r) => {
                prop_assert_eq!(r.totals.rows_read, r.totals.rows_accepted + r.totals.rows_rejected);
                prop_assert!(r.committed());
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.contains("par_sluten.txt"), "{}", msg);
                prop_assert_eq!(current(&store_dir), None);
            }
        }
    }
}
